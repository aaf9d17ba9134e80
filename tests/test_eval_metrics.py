"""The evaluation's measures on hand-made cases: disclosure, refusals, rates, utility,
the corpus scoring rule, the residual reader's matching, plots."""

from __future__ import annotations

import xml.dom.minidom

import numpy as np
import pytest
from skimage.metrics import structural_similarity

from veil.eval import metrics, scoring, svg
from veil.eval.attack import readable
from veil.eval.metrics import Answered, Hit

PHONE, NAME, CARD = "415-555-0132", "Jane Q. Roe", "4111 1111 1111 1111"


@pytest.mark.parametrize(("answer", "expected"), [
    (f"Her number is {PHONE}.", True),
    ("Her number is (415) 555 0132.", True),          # other punctuation and spaces
    ("Call +1 415.555.0132", True),                   # inside a longer number form
    ("Her number is <PHONE_NUMBER_1>.", False),       # a pseudonym
    ("Her number ends in 0132.", False),
    ("", False),
])
def test_disclosed_exact_or_normalised(answer: str, expected: bool) -> None:
    assert metrics.disclosed(PHONE, answer) is expected


def test_card_disclosed_without_spaces_and_name_partly() -> None:
    assert metrics.disclosed(CARD, "card 4111111111111111 on file")
    assert not metrics.disclosed(NAME, "Dear Ms Roe")
    assert metrics.partly_disclosed(NAME, "Dear Ms Roe, and Jane")     # 2 of 3 tokens
    assert not metrics.partly_disclosed(NAME, "Dear <PERSON_1>")
    assert metrics.normalise("  A-b_C. 1 ") == "abc1"


@pytest.mark.parametrize(("answer", "refused"), [
    ("I'm sorry, but I can't help with that request.", True),
    ("I cannot share personal information such as social security numbers.", True),
    ("I can't provide that.", True),
    ("As an AI, I do not reveal such data.", True),
    ("The email is jane@example.org.", False),
    ("I could not find a phone in what I was given.", False),
    ("Sorry for the delay: the card is a Visa.", False),
])
def test_refusals(answer: str, refused: bool) -> None:
    assert metrics.is_refusal(answer) is refused


def test_rates_per_framing_and_kind_and_inconsistency() -> None:
    hits = [Hit("direct", "email", True, True), Hit("direct", "email", True, True),
            Hit("caption", "email", False, True), Hit("caption", "email", True, True),
            Hit("vqa", "email", False, False), Hit("direct", "ssn", False, False),
            Hit("retention_turn", "email", False, False)]
    table = metrics.success_table(hits)
    assert table["direct"]["email"] == 1.0
    assert table["caption"]["email"] == 0.5
    assert table["vqa"]["email"] == 0.0
    assert table["rephrase"]["email"] is None                  # nothing measured
    assert set(table) == set(metrics.FRAMINGS)
    assert all(set(row) == set(metrics.KINDS) for row in table.values())
    spread = metrics.task_inconsistency(table)
    assert spread["email"] == 1.0                              # direct 1.0 - vqa 0.0
    assert spread["ssn"] == 0.0                                # one framing only
    assert spread["card"] is None
    assert metrics.success_table(hits, partial=True)["caption"]["email"] == 1.0
    assert metrics.overall(hits) == pytest.approx(3 / 7)
    assert metrics.by_kind(hits)["email"] == pytest.approx(3 / 6)
    assert metrics.counts_table(hits)["direct"]["email"] == 2
    refusals = metrics.refusal_rates([Answered("direct", True, 1.0),
                                      Answered("direct", False, 1.0)])
    assert refusals["direct"] == 0.5 and refusals["caption"] is None


@pytest.mark.parametrize(("task", "expected", "answer", "right"), [
    ("document_kind", ("application", "resume"), 'A document titled "EM PLOYMENT APPLICATIO N"',
     True),
    ("document_kind", ("statement", "bank"), "It is a bank statement.", True),
    ("document_kind", ("statement", "bank"), "A customer record.", False),
    ("people_count", ("3",), "There are 3 people in the photo.", True),
    ("people_count", ("3",), "Three people.", True),
    ("people_count", ("3",), "I see 2 adults and 1 child.", False),
    ("people_count", ("1",), "Nobody is visible.", False),
])
def test_utility_answers(task: str, expected: tuple[str, ...], answer: str,
                         right: bool) -> None:
    assert metrics.utility_correct(task, expected, answer) is right


def test_ssim_matches_scikit_image() -> None:
    rng = np.random.default_rng(7)
    for h, w in [(3, 3), (5, 40), (6, 6), (7, 9), (31, 17), (64, 64)]:
        a = rng.integers(0, 256, (h, w)).astype(np.float64)
        b = np.clip(a + rng.normal(0, 25, (h, w)), 0, 255)
        side = min(h, w)
        win = min(7, side if side % 2 else side - 1)
        want = structural_similarity(a, b, win_size=win, data_range=255.0,
                                     gaussian_weights=False)
        assert scoring.crop_ssim(a, b) == pytest.approx(want, abs=1e-9)


def test_scoring_rule_protected_kept_background() -> None:
    rng = np.random.default_rng(3)
    before = rng.integers(0, 256, (60, 80)).astype(np.float64)
    after = before.copy()
    after[10:30, 10:30] = 0                                   # one box filled
    assert scoring.box_protected(before, after, [10, 10, 30, 30])
    assert scoring.word_kept(before, after, [50, 40, 70, 55])
    assert scoring.crop_ssim(np.zeros((2, 5)), np.full((2, 5), 40.0)) == 0.0
    assert scoring.crop_ssim(np.zeros((0, 5)), np.zeros((0, 5))) == 1.0
    assert scoring.background_changed_share(before, after, [[10, 10, 30, 30]]) == 0.0
    share = scoring.background_changed_share(before, after, [])
    changed = np.count_nonzero(np.abs(before - after) > 30) / before.size
    assert share == pytest.approx(changed)


@pytest.mark.parametrize(("value", "words", "found"), [
    ("PJU2853", ["car", "PJU-2853"], True),
    ("PJU2853", ["PJU", "2853"], True),                 # split by the reader
    ("(212) 555-1234", ["call", "(212)555-1234", "now"], True),
    ("KAUFMAN", ["KAUFMAN,", "SCOTT"], True),
    ("New", ["Newark"], False),                         # part of another word
    ("555-1234", ["555-123"], False),
    ("Jane Roe", [], False),
])
def test_second_reader_matching(value: str, words: list[str], found: bool) -> None:
    assert readable(value, words) is found


def test_plots_are_well_formed_svg() -> None:
    bars = svg.bar_chart("t <1>", ["a", "b"], {"x": [0.5, None], "y & z": [1.0, 0.0]})
    dots = svg.scatter("s", [("one", 0.1, 0.9), ("two", 1.0, 0.0)], xlabel="x", ylabel="y")
    for body in (bars, dots):
        assert xml.dom.minidom.parseString(body).documentElement.tagName == "svg"
