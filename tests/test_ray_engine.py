"""`veil redact --engine ray` (a local Ray instance started by the command) gives the same
outputs, reports and journal as the local engine, and resumes the same way."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from veil.journal import JOURNAL_NAME

pytestmark = pytest.mark.slow  # starts a Ray instance and model-loading actors

VEIL = Path(sys.executable).with_name("veil")
TIMING = {"ms", "stages"}


def redact(root: Path, out: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(VEIL), "redact", str(root / "in"), "--out", str(root / out), "--report",
         str(root / f"{out}.jsonl"), "--policy", str(root / "policy.yaml"), "--workers", "2",
         *extra], capture_output=True, text=True, timeout=900)


def lines(path: Path) -> list[dict[str, object]]:
    found = [json.loads(line) for line in path.read_text().splitlines()]
    return sorted(({k: v for k, v in line.items() if k not in TIMING} for line in found),
                  key=lambda line: str(line["file"]))


def test_ray_and_local_engines_agree(tmp_path: Path, astronaut: np.ndarray) -> None:
    (tmp_path / "in" / "deep").mkdir(parents=True)
    for i in range(4):
        img = np.ascontiguousarray(np.roll(astronaut, 40 * i, axis=1)[:, :: 1 - 2 * (i % 2)])
        Image.fromarray(img).save(tmp_path / "in" / ("deep" if i > 1 else "") / f"p{i}.png")
    (tmp_path / "in" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not a picture")
    (tmp_path / "policy.yaml").write_text(
        "kinds:\n  text: {enabled: false}\n  plate: {enabled: false}\n  code: {enabled: false}\n")
    local = redact(tmp_path, "local")
    ray = redact(tmp_path, "ray", "--engine", "ray")
    assert local.returncode == ray.returncode == 1, ray.stderr  # the broken file fails
    assert "4 file(s) done, 1 failed" in ray.stderr
    outputs = {p.relative_to(tmp_path / "local").as_posix(): p.read_bytes()
               for p in (tmp_path / "local").rglob("*.png")}
    assert len(outputs) == 4
    assert outputs == {p.relative_to(tmp_path / "ray").as_posix(): p.read_bytes()
                       for p in (tmp_path / "ray").rglob("*.png")}
    assert lines(tmp_path / "local.jsonl") == lines(tmp_path / "ray.jsonl")
    journals = [[{k: v for k, v in line.items() if k != "report"}
                 for line in map(json.loads, (tmp_path / out / JOURNAL_NAME).read_text()
                                 .splitlines())] for out in ("local", "ray")]
    assert sorted(journals[0], key=str) == sorted(journals[1], key=str)
    again = redact(tmp_path, "ray", "--engine", "ray")
    assert "0 file(s) done, 4 finished earlier (resumed), 1 failed" in again.stderr
