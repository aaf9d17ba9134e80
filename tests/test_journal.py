"""The journal that lets `veil redact` resume: what counts as finished, torn lines, locking."""

from pathlib import Path

import pytest

from veil.batch import Job
from veil.journal import (
    JOURNAL_NAME,
    Entry,
    Journal,
    JournalError,
    ReportFile,
    policy_fingerprint,
    resume_plan,
    sha256_file,
)
from veil.policy import Policy
from veil.report import Action, Report, report_from_dict

REPORT = Report(64, 48, (Action("face", (1, 2, 30, 40), 0.91, "fill", "centerface@1"),),
                ("exif.gps",), 12.5, "in/a.jpg", stages={"faces": 3.5})


def finish(journal: Journal, src: Path, out: Path, rel: str, fingerprint: str) -> None:
    """What `veil redact` does for one input: write the output, then journal it."""
    (out / rel).parent.mkdir(parents=True, exist_ok=True)
    (out / rel).write_bytes(b"redacted " + src.read_bytes())
    journal.record(Entry(rel, sha256_file(src), fingerprint, sha256_file(out / rel), REPORT))


@pytest.fixture
def inputs(tmp_path: Path) -> list[Job]:
    folder = tmp_path / "in"
    folder.mkdir()
    jobs = []
    for name in ("a.jpg", "b.png", "c.jpg"):
        (folder / name).write_bytes(name.encode() * 100)
        jobs.append(Job(folder / name, Path(name)))
    return jobs


def test_report_round_trips_through_a_journal_line() -> None:
    entry = Entry("sub/a.jpg", "1" * 64, "2" * 64, "3" * 64, REPORT, "/data/in/a.jpg")
    again = Entry.from_json(entry.to_json())
    assert again == entry
    assert report_from_dict(REPORT.to_dict()) == REPORT
    pages = Report(10, 10, (Action("face", (1, 1, 5, 5), 0.8, "blur", "x", page=2),),
                   pages=3, file="scan.tiff")
    assert report_from_dict(pages.to_dict()) == pages


def test_finished_files_are_skipped_and_changed_ones_redone(inputs: list[Job],
                                                           tmp_path: Path) -> None:
    out = tmp_path / "out"
    planned = [(job, out / job.rel) for job in inputs]
    fingerprint = policy_fingerprint(Policy())
    with Journal(out) as journal:
        resumed, todo = resume_plan(journal, planned, fingerprint)
        assert not resumed and [p.rel for p in todo] == ["a.jpg", "b.png", "c.jpg"]
        for job in inputs:
            finish(journal, job.src, out, job.rel.as_posix(), fingerprint)
    inputs[0].src.write_bytes(b"new content")       # input changed: redo
    (out / "b.png").write_bytes(b"tampered")         # output changed: redo
    with Journal(out) as journal:
        resumed, todo = resume_plan(journal, planned, fingerprint)
        assert [p.rel for p in todo] == ["a.jpg", "b.png"]
        assert [r.file for r in resumed] == [str(inputs[2].src)]
        assert resumed[0].actions == REPORT.actions
        _, todo = resume_plan(journal, planned, policy_fingerprint(Policy(), session="s1"))
        assert len(todo) == 3                        # another session: every file redone
        blur = Policy.from_dict({"operator": "blur"})
        _, todo = resume_plan(journal, planned, policy_fingerprint(blur))
        assert len(todo) == 3                        # another policy: every file redone
        resumed, todo = resume_plan(journal, planned, fingerprint, force=True)
        assert not resumed and len(todo) == 3
    (out / "c.jpg").unlink()                         # output gone: redo
    with Journal(out) as journal:
        assert len(resume_plan(journal, planned, fingerprint)[1]) == 3


def test_torn_last_line_is_dropped_and_reruns_are_compacted(inputs: list[Job],
                                                           tmp_path: Path) -> None:
    out = tmp_path / "out"
    fingerprint = policy_fingerprint(Policy())
    with Journal(out) as journal:
        for job in inputs[:2]:
            finish(journal, job.src, out, job.rel.as_posix(), fingerprint)
        finish(journal, inputs[0].src, out, "a.jpg", fingerprint)   # a rerun's line
    path = out / JOURNAL_NAME
    with path.open("ab") as fh:
        fh.write(b'{"rel": "c.jpg", "input_sha')                     # killed mid-append
    with Journal(out) as journal:
        assert sorted(journal.entries) == ["a.jpg", "b.png"]
    lines = path.read_text().splitlines()
    assert len(lines) == 2 and all(line.endswith("}") for line in lines)


def test_one_run_per_output_folder_and_stale_temp_files_go(tmp_path: Path) -> None:
    out = tmp_path / "out"
    (out / "sub").mkdir(parents=True)
    stale = out / "sub" / ".a.jpg.k3j4.veil-tmp"                    # left by a killed run
    stale.write_bytes(b"half")
    keep = out / "sub" / ".hidden-note"
    keep.write_bytes(b"not ours")
    with Journal(out):
        assert not stale.exists() and keep.exists()
        with pytest.raises(JournalError, match="another veil redact or veil review is using"):
            Journal(out)
    Journal(out).close()                                             # released on close


def test_report_file_lines_are_on_disk_as_each_file_ends(tmp_path: Path) -> None:
    path = tmp_path / "r" / "report.jsonl"
    with ReportFile(path) as report:
        report.write({"file": "a.jpg", "regions": []})
        assert path.read_text() == '{"file": "a.jpg", "regions": []}\n'
    with ReportFile(None) as nothing:
        nothing.write({"file": "b.jpg"})
