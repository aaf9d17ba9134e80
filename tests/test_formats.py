"""File kinds: multi-page TIFFs and animated GIF/WebP protected frame by frame, files
recognised by their content, and files Veil does not handle accounted for."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageSequence

from conftest import FACE_BOX
from veil.batch import collect
from veil.errors import InputError
from veil.formats import kind_for
from veil.pipeline import Redactor
from veil.policy import Limits, Policy

SMALL = (256, 256)
FACE = tuple(v // 2 for v in FACE_BOX)  # the face in the portrait at half size


@pytest.fixture(scope="module")
def redactor() -> Redactor:
    return Redactor(Policy())


def _portrait(astronaut: np.ndarray, shift: int = 0) -> Image.Image:
    """The portrait at 256x256, moved ``shift`` px to the right over a grey field."""
    canvas = Image.new("RGB", SMALL, (120, 120, 120))
    canvas.paste(Image.fromarray(astronaut).resize(SMALL), (shift, 0))
    return canvas


def _changed(before: Image.Image, after: Image.Image, box: tuple[int, ...]) -> float:
    """Mean absolute change of the pixels inside ``box`` (0..255)."""
    a = np.asarray(before.convert("RGB").crop(box), np.float32)
    b = np.asarray(after.convert("RGB").crop(box), np.float32)
    return float(np.abs(a - b).mean())


def _shifted(box: tuple[int, ...], dx: int) -> tuple[int, ...]:
    return (box[0] + dx, box[1], box[2] + dx, box[3])


def test_multi_page_tiff_every_page_protected(tmp_path: Path, astronaut: np.ndarray,
                                              redactor: Redactor) -> None:
    blank = Image.new("L", (300, 200), 255)
    face = _portrait(astronaut)
    src, dst = tmp_path / "scan.tiff", tmp_path / "out" / "scan.tiff"
    blank.save(src, save_all=True, append_images=[face, face.copy()])
    report = redactor.redact_file(src, dst, None)
    with Image.open(dst) as out:
        pages = [frame.copy() for frame in ImageSequence.Iterator(out)]
    assert [p.size for p in pages] == [(300, 200), SMALL, SMALL]
    assert pages[0].mode == "L"
    assert _changed(blank, pages[0], (0, 0, 300, 200)) == 0  # nothing to hide there
    for page in pages[1:]:
        assert _changed(face, page, FACE) > 40
    assert report.pages == 3
    assert sorted({(a.kind, a.page) for a in report.actions}) == [("face", 1), ("face", 2)]


@pytest.mark.parametrize("fmt", ["GIF", "WEBP"])
def test_animation_keeps_frames_timing_and_loop(tmp_path: Path, astronaut: np.ndarray,
                                                redactor: Redactor, fmt: str) -> None:
    shifts = [0, 20, 40, 60]
    frames = [_portrait(astronaut, dx) for dx in shifts]
    src = tmp_path / f"clip.{fmt.lower()}"
    dst = tmp_path / "out" / src.name
    frames[0].save(src, format=fmt, save_all=True, append_images=frames[1:],
                   duration=[100, 120, 140, 160], loop=3)
    report = redactor.redact_file(src, dst, None)
    with Image.open(dst) as out:
        assert out.format == fmt
        assert getattr(out, "n_frames", 1) == 4
        assert out.info.get("loop") == 3
        got = []
        for frame in ImageSequence.Iterator(out):
            got.append((frame.convert("RGB"), frame.info.get("duration")))
    assert [d for _, d in got] == [100, 120, 140, 160]
    for (frame, _), before, dx in zip(got, frames, shifts, strict=True):
        assert frame.size == SMALL
        assert _changed(before, frame, _shifted(FACE, dx)) > 40
    assert report.pages == 4
    assert {a.page for a in report.actions if a.kind == "face"} == {0, 1, 2, 3}


def test_scan_reports_every_frame_and_writes_nothing(tmp_path: Path, astronaut: np.ndarray,
                                                     redactor: Redactor) -> None:
    src = tmp_path / "two.tiff"
    _portrait(astronaut).save(src, save_all=True, append_images=[_portrait(astronaut, 30)])
    before = sorted(tmp_path.iterdir())
    report = redactor.scan_file(src)
    assert report.pages == 2
    assert {a.page for a in report.actions} == {0, 1}
    assert sorted(tmp_path.iterdir()) == before


def test_frame_limits_refuse_before_any_work(tmp_path: Path) -> None:
    src = tmp_path / "many.gif"
    frames = [Image.new("RGB", (16, 16), (i, 0, 0)) for i in range(5)]
    frames[0].save(src, save_all=True, append_images=frames[1:])
    strict = Redactor(Policy(limits=Limits(max_frames=4)))
    with pytest.raises(InputError, match="5 frames, above the limit of 4"):
        strict.redact_file(src, tmp_path / "out.gif", None)
    assert not (tmp_path / "out.gif").exists()


def test_truncated_animation_is_refused_and_nothing_written(tmp_path: Path,
                                                           astronaut: np.ndarray) -> None:
    buf = io.BytesIO()
    frames = [_portrait(astronaut, dx) for dx in (0, 30, 60)]
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:])
    src = tmp_path / "cut.gif"
    src.write_bytes(buf.getvalue()[: len(buf.getvalue()) * 2 // 3])
    with pytest.raises(InputError):
        Redactor(Policy()).redact_file(src, tmp_path / "out" / "cut.gif", None)
    assert not (tmp_path / "out").exists()


def test_kind_by_content_when_the_suffix_says_nothing(tmp_path: Path) -> None:
    photo = tmp_path / "IMG_0001"
    Image.new("RGB", (8, 8)).save(photo, format="JPEG")
    (tmp_path / "notes.bin").write_bytes(b"\x00\x01 nothing known")
    kind = kind_for(photo)
    assert kind is not None and kind.name == "image"
    assert kind_for(tmp_path / "notes.bin") is None


def test_folder_lists_every_file_it_leaves_alone(tmp_path: Path) -> None:
    (tmp_path / "a.png").write_bytes(b"")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "notes.txt").write_text("x")
    (tmp_path / ".hidden.jpg").write_bytes(b"")
    found = collect([str(tmp_path)])
    assert [j.rel.as_posix() for j in found.jobs] == ["a.png"]
    reasons = {Path(s.src).name: s.reason for s in found.skipped}
    assert reasons[".hidden.jpg"] == "hidden file"
    assert reasons["notes.txt"].startswith("not a kind Veil handles (.txt;")
    assert not found.failures


def test_transparent_animation_stays_transparent(tmp_path: Path, astronaut: np.ndarray,
                                                 redactor: Redactor) -> None:
    frames = []
    for dx in (0, 40):
        canvas = Image.new("RGBA", SMALL, (0, 0, 0, 0))
        canvas.paste(Image.fromarray(astronaut).resize(SMALL), (dx, 0))
        frames.append(canvas)
    src, dst = tmp_path / "t.gif", tmp_path / "out" / "t.gif"
    frames[0].save(src, save_all=True, append_images=frames[1:], disposal=2, duration=50)
    redactor.redact_file(src, dst, None)
    with Image.open(dst) as out:
        second = [f.convert("RGBA") for f in ImageSequence.Iterator(out)][1]
    # the margin the second frame leaves empty shows nothing of the first frame
    assert int(np.asarray(second)[:, :40, 3].max()) == 0
    assert _changed(frames[1], second, _shifted(FACE, 40)) > 40
