"""Account names in technical text (paths, listings, prompts) are PERSON values."""

import pytest

from veil.text import TextDetector
from veil.text.recognizers.accounts import account_spans


@pytest.mark.parametrize(("text", "names"), [
    ("Open C:\\Users\\jkowalczyk\\Desktop\\cv.pdf", ["jkowalczyk"]),
    ("cat /home/mkowal/.bashrc and /Users/Jane Roe/notes.txt", ["mkowal", "Jane Roe"]),
    ("-rw-r--r--  1 jkowalczyk staff  4096 Mar  3 12:01 report.pdf", ["jkowalczyk"]),
    ("drwxr-x--- 2 drew devs 4.0K Jan 18 2014 photos", ["drew", "devs"]),
    # a listing whose mode column was cut off (a screenshot): two lines or more
    ("drew 2615 Jan 18 2014 pen.txt\ndrew 3257 Jan 18 2014 s760.txt", ["drew", "drew"]),
    ("mkowal@thinkpad:~$ ls -l", ["mkowal"]),
])
def test_account_names_are_found(text: str, names: list[str]) -> None:
    assert [text[s.start:s.end] for s in account_spans(text)] == names
    assert all(s.entity == "PERSON" and s.source == "account" for s in account_spans(text))


@pytest.mark.parametrize("text", [
    "drwxr-xr-x 2 root root 4096 Jan  1 00:00 etc",        # shared accounts
    "C:\\Users\\Public\\Documents and %USERPROFILE%",
    "Rent 1200 Jan 5 2024 paid\nFood 300 Jan 6 2024 paid",  # a ledger, not a listing
    "drew 2615 Jan 18 2014 a.txt",                          # one line alone
    "write to me@example.org: thanks",                      # an e-mail, not a prompt
])
def test_look_alikes_are_left_alone(text: str) -> None:
    assert account_spans(text) == []


def test_the_text_detector_runs_the_account_rules() -> None:
    text = "-rw-r--r-- 1 jkowalczyk staff 4096 Mar 3 12:01 report.pdf"
    assert any(text[s.start:s.end] == "jkowalczyk" for s in TextDetector().scan(text))
