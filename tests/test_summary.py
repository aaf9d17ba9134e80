"""The per-run HTML summary: counts, failures, slowest files, thumbnails."""

import re
from pathlib import Path

import numpy as np
from PIL import Image

from veil.batch import Failure
from veil.report import Action, Report
from veil.summary import THUMBS, Done, write_summary


def report(name: str, ms: float, kinds: list[str]) -> Report:
    actions = tuple(Action(k, (1, 1, 9, 9), 0.9, "fill", "test") for k in kinds)
    return Report(64, 48, actions, ms=ms, file=name, stages={"faces": ms * 0.7, "ocr": 1.0})


def test_summary_counts_failures_slowest_and_thumbnails(tmp_path: Path,
                                                       astronaut: np.ndarray) -> None:
    done = []
    for i in range(8):
        src, out = tmp_path / f"in{i}.png", tmp_path / f"out{i}.png"
        Image.fromarray(astronaut).save(src)
        Image.fromarray(astronaut // 2).save(out)
        kinds = ["face"] * (i % 3) + ["text.EMAIL_ADDRESS"] * (i == 5)
        done.append(Done(report(str(src), 100.0 * i, kinds), out, resumed=i == 7))
    failures = [Failure("bad.jpg", "corrupt or truncated image data (OSError)")]
    path = tmp_path / "summary.html"
    write_summary(path, done, failures, 12.5)
    page = path.read_text()
    assert "8 file(s) written (1 of them in an earlier run, resumed), 1 failed" in page
    assert "<tr><td>face</td><td>7</td><td>5</td></tr>" in page
    assert "<td>text.EMAIL_ADDRESS</td><td>1</td><td>1</td>" in page
    assert "bad.jpg</td><td>corrupt or truncated image data (OSError)" in page
    slowest = re.findall(r"<td>[^<]*in(\d)\.png</td><td>([\d.]+)</td>", page)
    assert [n for n, _ in slowest] == ["6", "5", "4", "3", "2", "1", "0"]  # resumed: not timed
    assert slowest[0][1] == "0.60"
    assert page.count("<img") == THUMBS and "before" not in page   # outputs only by default
    write_summary(path, done, failures, 12.5, originals=True)
    page = path.read_text()
    assert page.count("<img") == 2 * THUMBS and page.count("<figcaption>before") == THUMBS


def test_summary_of_a_run_with_nothing_done(tmp_path: Path) -> None:
    path = tmp_path / "s.html"
    write_summary(path, [], [Failure("x.jpg", "no such file or folder")], 0.1)
    page = path.read_text()
    assert "0 file(s) written" in page and "no such file or folder" in page
    assert "No file was processed in this run." in page
