"""`veil redact` and `veil scan` as users run them."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner, Result
from PIL import Image

from veil.cli import main

pytestmark = pytest.mark.slow  # real servers, processes and models


def veil(*args: str | Path) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture
def tree(tmp_path: Path, photo_jpeg: Path, astronaut: np.ndarray) -> Path:
    """in/astronaut.jpg, in/sub/deeper/portrait.png, in/notes.txt."""
    root = photo_jpeg.parent
    deeper = root / "sub" / "deeper"
    deeper.mkdir(parents=True)
    Image.fromarray(astronaut).save(deeper / "portrait.png")
    (root / "notes.txt").write_text("not an image, skipped in folders")
    return root


def test_redact_folder_keeps_tree_names_sizes_and_formats(tree: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = veil("redact", tree, "--out", out, "--report", tmp_path / "report.jsonl")
    assert result.exit_code == 0, result.output
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert files == [".veil-journal.jsonl", "astronaut.jpg", "sub/deeper/portrait.png"]
    with Image.open(out / "astronaut.jpg") as jpg:
        assert (jpg.format, jpg.size) == ("JPEG", (512, 512))
        assert not jpg.getexif()
    with Image.open(out / "sub/deeper/portrait.png") as png:
        assert (png.format, png.size) == ("PNG", (512, 512))
    lines = [json.loads(x) for x in (tmp_path / "report.jsonl").read_text().splitlines()]
    skipped = [line for line in lines if "skipped" in line]
    done = [line for line in lines if "skipped" not in line]
    # every file is accounted for: the text file is listed as skipped, with the reason
    assert [(Path(x["file"]).name, x["skipped"].split(" (")[0]) for x in skipped] == [
        ("notes.txt", "not a kind Veil handles")]
    assert "1 skipped" in result.stderr and "notes.txt" in result.stderr
    assert len(done) == 2
    for line in done:
        assert [r["kind"] for r in line["regions"]] == ["face"]
        assert set(line) >= {"file", "regions", "ms", "metadata_removed"}
    assert "2 file(s) done, 0 failed, 1 skipped; hidden: 2 face" in result.stderr


def test_bad_inputs_fail_one_by_one_and_the_rest_complete(
    tree: Path, tmp_path: Path, photo_jpeg: Path
) -> None:
    (tree / "empty.jpg").write_bytes(b"")
    (tree / "text.png").write_text("hello")
    data = photo_jpeg.read_bytes()
    (tree / "truncated.jpg").write_bytes(data[: len(data) // 3])
    huge = tree / "bomb.png"
    Image.new("L", (12000, 12000)).save(huge)
    out = tmp_path / "out"
    result = veil("redact", tree, "--out", out, "--report", tmp_path / "r.jsonl")
    assert result.exit_code == 1
    failed = [line for line in result.stderr.splitlines() if line.startswith("veil: FAILED")]
    assert len(failed) == 4
    for name, reason in [("empty.jpg", "empty"), ("text.png", "not an image"),
                         ("truncated.jpg", "truncated"), ("bomb.png", "decompression bomb")]:
        assert any(name in line and reason in line for line in failed), (name, failed)
    written = sorted(p.name for p in out.rglob("*") if p.is_file())
    assert written == [".veil-journal.jsonl", "astronaut.jpg", "portrait.png"], \
        "bad inputs must not be written"
    report = [json.loads(x) for x in (tmp_path / "r.jsonl").read_text().splitlines()]
    assert sum("error" in line for line in report) == 4


def test_refuses_to_write_over_its_inputs(tree: Path) -> None:
    before = {p: p.read_bytes() for p in tree.rglob("*") if p.is_file()}
    result = veil("redact", tree, "--out", tree)
    assert result.exit_code == 1
    assert "refusing to write over an input" in result.stderr
    assert {p: p.read_bytes() for p in tree.rglob("*") if p.is_file()} == before


def test_globs_and_missing_inputs(tree: Path, tmp_path: Path) -> None:
    result = veil("redact", f"{tree}/**/*.png", tmp_path / "nope.jpg", "--out", tmp_path / "o")
    assert result.exit_code == 1
    assert "nope.jpg: no such file or folder" in result.stderr
    assert (tmp_path / "o" / "portrait.png").exists()


def test_same_output_name_from_two_folders_is_refused(tree: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    shutil.copy(tree / "astronaut.jpg", other / "astronaut.jpg")
    with Image.open(tree / "astronaut.jpg") as im:
        im.rotate(90).save(other / "x.jpg")
    result = veil("redact", tree / "astronaut.jpg", other / "astronaut.jpg", other / "x.jpg",
                  "--out", tmp_path / "o")
    assert result.exit_code == 1
    assert "already taken" in result.stderr


def test_scan_writes_nothing_and_prints_json(tree: Path, tmp_path: Path) -> None:
    before = sorted(tmp_path.rglob("*"))
    result = veil("scan", tree, "--json")
    assert result.exit_code == 0
    lines = [json.loads(x) for x in result.stdout.splitlines()]
    assert len(lines) == 2
    assert all(line["regions"][0]["kind"] == "face" for line in lines)
    assert sorted(tmp_path.rglob("*")) == before
    human = veil("scan", tree / "astronaut.jpg")
    assert "1 face" in human.stdout and "exif.gps" in human.stdout


def test_bad_policy_is_a_usage_error(tree: Path, tmp_path: Path) -> None:
    policy = tmp_path / "p.yaml"
    policy.write_text("operator: smudge\n")
    result = veil("redact", tree, "--out", tmp_path / "o", "--policy", policy)
    assert result.exit_code == 2
    assert "operator" in result.stderr
    assert not (tmp_path / "o").exists()


def test_policy_operator_reaches_the_output(tree: Path, tmp_path: Path) -> None:
    policy = tmp_path / "p.yaml"
    policy.write_text("kinds:\n  face: {operator: pixelate}\n")
    result = veil("redact", tree / "astronaut.jpg", "--out", tmp_path / "o",
                  "--policy", policy, "--report", tmp_path / "r.jsonl")
    assert result.exit_code == 0
    line = json.loads((tmp_path / "r.jsonl").read_text())
    assert line["regions"][0]["operator"] == "pixelate"


def test_no_images_found_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    result = veil("redact", tmp_path / "empty", "--out", tmp_path / "o")
    assert result.exit_code == 1
    assert "no input files found" in result.stderr


def test_installed_command_with_workers(tree: Path, tmp_path: Path) -> None:
    (tree / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really")
    exe = Path(sys.executable).parent / "veil"
    proc = subprocess.run(
        [str(exe), "redact", str(tree), "--out", str(tmp_path / "o"), "--workers", "2"],
        capture_output=True, text=True, timeout=300, env={**os.environ, "VEIL_THREADS": "1"},
        check=False,
    )
    assert proc.returncode == 1
    assert proc.stderr.count("veil: FAILED") == 1
    assert "2 file(s) done, 1 failed" in proc.stderr
    assert sorted(p.name for p in (tmp_path / "o").rglob("*.*")) == [
        ".veil-journal.jsonl", "astronaut.jpg", "portrait.png"]
