"""A real `veil redact` process stopped partway by a signal, then run again: it resumes."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from veil.journal import JOURNAL_NAME

pytestmark = pytest.mark.slow  # real processes and models

COUNT = 10
VEIL = Path(sys.executable).with_name("veil")


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory, astronaut: np.ndarray) -> Path:
    """COUNT photos (shifted, mirrored, resized astronauts; JPEG and PNG, in two folders)
    and a faces-only policy, so most of the time goes to the photos, not to loading models."""
    root = tmp_path_factory.mktemp("resume")
    for i in range(COUNT):
        img = np.roll(astronaut, 17 * i, axis=1)
        if i % 2:
            img = img[:, ::-1]
        img = cv2.resize(img, (320 + 16 * i, 320 + 16 * i), interpolation=cv2.INTER_AREA)
        suffix = "jpg" if i % 2 else "png"
        dst = root / "in" / ("deep" if i >= COUNT // 2 else "") / f"p{i:02d}.{suffix}"
        dst.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.ascontiguousarray(img)).save(dst)
    (root / "policy.yaml").write_text(
        "kinds:\n  text: {enabled: false}\n  plate: {enabled: false}\n  code: {enabled: false}\n")
    return root


def redact(folder: Path, out: str, *extra: str) -> list[str]:
    return [str(VEIL), "redact", str(folder / "in"), "--out", str(folder / out), "--report",
            str(folder / f"{out}.jsonl"), "--policy", str(folder / "policy.yaml"), *extra]


def journal_lines(out: Path) -> list[dict[str, object]]:
    path = out / JOURNAL_NAME
    text = path.read_text() if path.exists() else ""
    return [json.loads(line) for line in text.splitlines() if line.endswith("}")]


def outputs(out: Path) -> dict[str, bytes]:
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*"))
            if p.is_file() and p.name != JOURNAL_NAME}


def report_lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture(scope="module")
def uninterrupted(folder: Path) -> dict[str, bytes]:
    done = subprocess.run(redact(folder, "whole"), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return outputs(folder / "whole")


def interrupt(folder: Path, out: str, signum: int, after: int, workers: str) -> int:
    """Start a run, send ``signum`` once its journal lists ``after`` files; its exit code."""
    process = subprocess.Popen(redact(folder, out, "--workers", workers),
                               stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 240
    while len(journal_lines(folder / out)) < after:
        assert process.poll() is None, process.communicate()[1]
        assert time.monotonic() < deadline
        time.sleep(0.05)
    process.send_signal(signum)
    _, stderr = process.communicate(timeout=120)
    assert "run the same command again to resume" in stderr
    return process.returncode


@pytest.mark.parametrize(("signum", "workers"), [(signal.SIGINT, "1"), (signal.SIGTERM, "2")])
def test_interrupted_run_resumes_without_redoing_finished_files(
        folder: Path, uninterrupted: dict[str, bytes], signum: int, workers: str) -> None:
    out = f"out-{signum}"
    code = interrupt(folder, out, signum, after=3, workers=workers)
    assert code == 128 + signum
    first = journal_lines(folder / out)
    finished = {str(line["rel"]) for line in first}
    assert 3 <= len(finished) < COUNT
    # no half-written file: every output is one the journal lists (the ones in progress
    # finished and were journaled), no temporary file is left
    assert set(outputs(folder / out)) == finished
    kept = report_lines(folder / f"{out}.jsonl")    # the interrupted run's report is kept
    assert len(kept) == len(finished) and not any("error" in line for line in kept)
    mtimes = {rel: (folder / out / rel).stat().st_mtime_ns for rel in finished}

    again = subprocess.run(redact(folder, out, "--workers", workers), capture_output=True,
                           text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert f"{len(finished)} finished earlier (resumed)" in again.stderr
    report = report_lines(folder / f"{out}.jsonl")
    assert len(report) == COUNT                    # every file listed
    resumed = {Path(str(line["file"])).relative_to(folder / "in").as_posix()
               for line in report if line.get("resumed")}
    assert resumed == finished
    assert all(line["regions"] for line in report)  # resumed lines keep their regions
    second = journal_lines(folder / out)
    assert len(second) == COUNT                    # compacted: one line per output
    assert {str(line["rel"]) for line in second} == set(uninterrupted)
    for line in first:                             # finished files were not redone
        assert line in second
        assert (folder / out / str(line["rel"])).stat().st_mtime_ns == mtimes[str(line["rel"])]
    assert outputs(folder / out) == uninterrupted


def test_killed_run_leaves_no_half_written_file_and_force_redoes_all(
        folder: Path, uninterrupted: dict[str, bytes]) -> None:
    out = "out-kill"
    process = subprocess.Popen(redact(folder, out, "--workers", "1"),
                               stderr=subprocess.DEVNULL, start_new_session=True)
    while len(journal_lines(folder / out)) < 2:
        assert process.poll() is None
        time.sleep(0.02)
    os.killpg(process.pid, signal.SIGKILL)        # a crash: no chance to clean up
    process.wait(timeout=60)
    finished = {str(line["rel"]) for line in journal_lines(folder / out)}
    assert finished <= set(outputs(folder / out))
    again = subprocess.run(redact(folder, out), capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert outputs(folder / out) == uninterrupted  # no temporary file left either
    forced = subprocess.run(redact(folder, out, "--force", "--summary",
                                   str(folder / "summary.html")),
                            capture_output=True, text=True, timeout=300)
    assert forced.returncode == 0, forced.stderr
    assert "resumed" not in forced.stderr
    summary = (folder / "summary.html").read_text()
    assert f"{COUNT} file(s) written (0 of them in an earlier run" in summary
    assert f"<tr><td>face</td><td>{COUNT}</td><td>{COUNT}</td></tr>" in summary
    report = report_lines(folder / f"{out}.jsonl")
    assert len(report) == COUNT and not any(line.get("resumed") for line in report)
    assert outputs(folder / out) == uninterrupted
