"""Videos: clips made here with PyAV (the test portrait's face moving across a background,
with a sine tone), redacted and checked frame by frame with the corpus rule."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from tests.conftest import FACE_BOX

from clips import all_tags, audio_packets, grey_frames, write_clip
from veil.errors import DetectorError, InputError
from veil.eval.scoring import PROTECTED_BELOW, crop_ssim
from veil.policy import Policy
from veil.regions import Region
from veil.video import VideoRedactor, redact_video
from veil.video.tracker import Tracker

W, H, FPS = 320, 240, 25
FACE_W, FACE_H = 84, 104
FACES_ONLY = Policy.from_dict({"kinds": {k: {"enabled": False} for k in ("text", "plate", "code")}})
TAGS = {"location": "+48.8577+002.2950/", "title": "Jane Roe at home",
        "creation_time": "2026-01-02T03:04:05Z"}
AUDIO = {"aac": 16000, "libopus": 48000, "libmp3lame": 44100}
"""Sample rate by audio codec."""


def face_at(i: int) -> tuple[int, int, int, int]:
    """Where the face lies on frame ``i`` (it moves 4 px right per frame)."""
    x, y = 10 + 4 * i, 60
    sx, sy = FACE_W / 210, FACE_H / 260
    x1, y1, x2, y2 = FACE_BOX
    return (x + round((x1 - 120) * sx), y + round(y1 * sy), x + round((x2 - 120) * sx),
            y + round(y2 * sy))


def make_clip(path: Path, portrait: np.ndarray, *, codec: str = "libx264", frames: int = 40,
              audio: str | None = "aac", rotation: int = 0, attachment: bool = False) -> Path:
    """A W x H clip: the portrait's head moving across a gradient, a 440 Hz tone, tags."""
    face = cv2.resize(portrait[0:260, 120:330], (FACE_W, FACE_H), interpolation=cv2.INTER_AREA)

    def pictures() -> Iterator[np.ndarray]:
        for i in range(frames):
            img = np.full((H, W, 3), 110, np.uint8)
            img[:, :, 1] = np.linspace(50, 210, W, dtype=np.uint8)[None, :]
            x = 10 + 4 * i
            img[60 : 60 + FACE_H, x : x + FACE_W] = face
            yield img

    return write_clip(path, pictures(), size=(W, H), fps=FPS, tags=TAGS, codec=codec,
                      audio=(audio, AUDIO[audio]) if audio else None, rotation=rotation,
                      attachment=("owner.txt", "text/plain", b"Jane Roe, 12 Elm Street")
                      if attachment else None)


@pytest.fixture(scope="module")
def faces_only() -> VideoRedactor:
    redactor = VideoRedactor(FACES_ONLY)
    redactor.warm_up()
    return redactor


@pytest.fixture(scope="module")
def portrait() -> np.ndarray:
    from skimage import data

    return np.ascontiguousarray(data.astronaut())


def assert_faces_hidden(src: Path, dst: Path, frames: int) -> None:
    before, after = grey_frames(src), grey_frames(dst)
    assert len(before) == len(after) == frames
    for i, (a, b) in enumerate(zip(before, after, strict=True)):
        x1, y1, x2, y2 = face_at(i)
        score = crop_ssim(a[y1:y2, x1:x2], b[y1:y2, x1:x2])
        assert score < PROTECTED_BELOW, f"face visible on frame {i} (SSIM {score:.2f})"


def test_mp4_every_frame_hidden_audio_kept_tags_dropped(
        tmp_path: Path, portrait: np.ndarray, faces_only: VideoRedactor) -> None:
    src = make_clip(tmp_path / "clip.mp4", portrait)
    dst = tmp_path / "out" / "clip.mp4"
    report = faces_only.redact_file(src, dst)
    assert_faces_hidden(src, dst, 40)
    with av.open(str(src)) as a, av.open(str(dst)) as b:
        va, vb = a.streams.video[0], b.streams.video[0]
        assert (vb.codec_context.name, vb.width, vb.height) == ("h264", W, H)
        assert vb.average_rate == va.average_rate == FPS
        assert vb.duration * vb.time_base == va.duration * va.time_base
        assert b.duration == a.duration
    assert audio_packets(dst) == audio_packets(src) != []
    left = all_tags(dst)
    assert not any(v in str(left) for v in TAGS.values())
    assert "container tag location" in report.metadata_removed
    assert "container tag title" in report.metadata_removed
    assert [t.kind for t in report.tracks] == ["face"]
    assert (report.tracks[0].first, report.tracks[0].last) == (0, 39)
    assert report.counts() == {"face": 1}
    assert not list(dst.parent.glob(".*veil-tmp"))


def test_scan_reports_tracks_without_writing(tmp_path: Path, portrait: np.ndarray,
                                             faces_only: VideoRedactor) -> None:
    src = make_clip(tmp_path / "clip.mp4", portrait, frames=20, audio=None)
    report = faces_only.scan_file(src)
    (track,) = report.tracks
    assert (track.first, track.last) == (0, 19)
    frames = [f for f, _ in track.boxes]
    assert frames == sorted(frames) and frames[0] == 0 and frames[-1] == 19
    for frame, box in track.boxes:  # each detection lies on the face of its frame
        fx1, fy1, fx2, fy2 = face_at(frame)
        cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
        assert fx1 < cx < fx2 and fy1 < cy < fy2
    assert "tracks" in report.to_dict()
    assert list(tmp_path.iterdir()) == [src]


@pytest.mark.slow
@pytest.mark.parametrize(("name", "codec", "audio", "expect"), [
    ("clip.mkv", "libx264", "libopus", "h264"),
    ("clip.webm", "libvpx-vp9", "libopus", "vp9"),
    ("clip.avi", "mpeg4", "libmp3lame", "mpeg4"),
    ("clip.mov", "mjpeg", "aac", "mjpeg"),
])
def test_containers_and_codecs_kept(tmp_path: Path, portrait: np.ndarray,
                                    faces_only: VideoRedactor, name: str, codec: str,
                                    audio: str, expect: str) -> None:
    src = make_clip(tmp_path / name, portrait, codec=codec, audio=audio, frames=30)
    dst = tmp_path / "out" / name
    faces_only.redact_file(src, dst)
    with av.open(str(src)) as a, av.open(str(dst)) as b:
        assert b.format.name == a.format.name
        assert b.streams.video[0].codec_context.name == expect
    assert audio_packets(dst) == audio_packets(src) != []
    assert_faces_hidden(src, dst, 30)


def test_rotation_kept_and_audio_dropped_on_request(tmp_path: Path,
                                                    portrait: np.ndarray) -> None:
    src = make_clip(tmp_path / "clip.mp4", portrait, frames=12, rotation=90)
    dst = tmp_path / "out.mp4"
    policy = FACES_ONLY.model_copy(update={"video": FACES_ONLY.video.model_copy(
        update={"keep_audio": False, "detect_every": 3})})
    redact_video(src, dst, policy)
    with av.open(str(dst)) as c:
        assert not c.streams.audio
        frame = next(c.decode(video=0))
        assert frame.rotation == 90
        assert (frame.width, frame.height) == (W, H)
    assert_faces_hidden(src, dst, 12)


def test_attachments_dropped(tmp_path: Path, portrait: np.ndarray,
                             faces_only: VideoRedactor) -> None:
    src = make_clip(tmp_path / "clip.mkv", portrait, frames=8, attachment=True)
    dst = tmp_path / "out" / "clip.mkv"
    report = faces_only.redact_file(src, dst)
    assert b"Jane Roe" in src.read_bytes()
    assert b"Jane Roe" not in dst.read_bytes()
    assert "attachment stream" in report.metadata_removed
    with av.open(str(dst)) as c:
        assert [s.type for s in c.streams] == ["video", "audio"]


def test_truncated_and_corrupt_videos_fail_with_no_output(
        tmp_path: Path, portrait: np.ndarray, faces_only: VideoRedactor) -> None:
    src = make_clip(tmp_path / "clip.mkv", portrait, frames=30)
    data = src.read_bytes()
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(data[: len(data) // 2])
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 40)
    out = tmp_path / "out"
    for bad in (cut, garbage):
        with pytest.raises(InputError) as err:
            faces_only.redact_file(bad, out / bad.name)
        assert "Jane" not in str(err.value)
    assert not out.exists() or list(out.iterdir()) == []


class FailsOnFrame:
    """Fault injection: the real face detector, failing on its ``n``-th call."""

    name = "centerface"
    kinds: tuple[str, ...] = ("face",)

    def __init__(self, n: int) -> None:
        from veil.detect.faces import CenterFace

        self.inner, self.calls, self.n = CenterFace(), 0, n

    def detect(self, image: np.ndarray) -> list[Region]:
        self.calls += 1
        if self.calls == self.n:
            raise RuntimeError("model crashed")
        return self.inner.detect(image)


def test_detector_failure_on_any_frame_writes_nothing(tmp_path: Path,
                                                      portrait: np.ndarray) -> None:
    src = make_clip(tmp_path / "clip.mp4", portrait, frames=20)
    dst = tmp_path / "out" / "clip.mp4"
    dst.parent.mkdir()
    dst.write_bytes(b"previous output")
    with pytest.raises(DetectorError):
        VideoRedactor(FACES_ONLY, detectors=[FailsOnFrame(4)]).redact_file(src, dst)
    assert dst.read_bytes() == b"previous output"  # nothing half-written, nothing replaced
    assert [p.name for p in dst.parent.iterdir()] == ["clip.mp4"]


def test_tracker_interpolates_and_holds() -> None:
    tracker = Tracker(hold=2)
    face = Region((10, 10, 30, 30), "face", 0.9, "test")
    tracker.update(0, ("face",), 4, [face])
    tracker.update(4, ("face",), 4, [Region((30, 10, 50, 30), "face", 0.9, "test")])  # fast
    tracker.update(8, ("face",), 4, [])
    tracker.update(12, ("face",), 4, [])
    boxes = {f: tracker.regions_at(f, 100, 100) for f in range(14)}
    (mid,) = boxes[2]  # half way, grown a little
    assert mid.box[0] <= 20 and mid.box[2] >= 40 and mid.box[2] - mid.box[0] <= 24
    assert all(len(boxes[f]) == 1 for f in range(10))  # held: next pass (8) - 1 + hold 2
    assert boxes[10] == [] and boxes[13] == []
    (track,) = tracker.finish()
    assert track.span(2) == (0, 9)


def test_tracker_keeps_two_faces_apart() -> None:
    tracker = Tracker(hold=0)
    a, b = (0, 0, 20, 20), (60, 0, 80, 20)
    for frame in range(0, 10, 2):
        shift = frame * 2
        tracker.update(frame, ("face",), 2, [
            Region((a[0] + shift, 0, a[2] + shift, 20), "face", 0.9, "t"),
            Region((b[0] - shift, 0, b[2] - shift, 20), "face", 0.9, "t")])
    tracks = tracker.finish()
    assert len(tracks) == 2
    assert [r.box[0] for _, r in tracks[0].keys] == [0, 4, 8, 12, 16]


@pytest.mark.slow
def test_cli_redacts_and_scans_videos_in_a_folder(tmp_path: Path, portrait: np.ndarray) -> None:
    """`veil redact` on a folder holding a video, an image and a broken video, as a user
    runs it (the installed command, one worker per core)."""
    import json
    import shutil
    import subprocess
    import sys

    from PIL import Image

    folder = tmp_path / "in"
    folder.mkdir()
    make_clip(folder / "clip.mp4", portrait, frames=20)
    Image.fromarray(portrait).save(folder / "portrait.png")
    (folder / "broken.mkv").write_bytes(b"\x1a\x45\xdf\xa3" + b"\x00" * 200)
    policy = tmp_path / "policy.yaml"
    policy.write_text("kinds: {text: {enabled: false}, plate: {enabled: false}, "
                      "code: {enabled: false}}\nvideo: {detect_every: 2}\n")
    command = shutil.which("veil", path=str(Path(sys.executable).parent))
    assert command is not None
    out = tmp_path / "out"
    done = subprocess.run([command, "redact", str(folder), "--out", str(out), "--policy",
                           str(policy), "--report", str(tmp_path / "report.jsonl")],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 1  # the broken video failed, the rest is done
    assert "broken.mkv" in done.stderr and "Traceback" not in done.stderr
    outputs = sorted(p.name for p in out.iterdir() if not p.name.startswith("."))  # journal
    assert outputs == ["clip.mp4", "portrait.png"]
    assert_faces_hidden(folder / "clip.mp4", out / "clip.mp4", 20)
    lines = [json.loads(x) for x in (tmp_path / "report.jsonl").read_text().splitlines()]
    (video,) = [x for x in lines if x["file"].endswith("clip.mp4")]
    assert video["pages"] == 20 and video["tracks"][0]["kind"] == "face"
    assert video["regions"][0]["page"] == 0
    scan = subprocess.run([command, "scan", str(folder / "clip.mp4"), "--json", "--policy",
                           str(policy)], capture_output=True, text=True, timeout=300)
    assert scan.returncode == 0, scan.stderr
    assert json.loads(scan.stdout)["tracks"][0]["first"] == 0


def test_a_synthetic_face_stays_the_same_along_its_track(tmp_path: Path,
                                                           portrait: np.ndarray) -> None:
    # no session: the frames of one video still share one synthetic identity per track
    # (a new face on every frame differed by about 30 grey levels between frames)
    policy = Policy.from_dict({"kinds": {"face": {"operator": "synthesize"},
                                         **{k: {"enabled": False}
                                            for k in ("text", "plate", "code")}}})
    src = make_clip(tmp_path / "clip.mp4", portrait, frames=12, audio=None)
    VideoRedactor(policy).redact_file(src, tmp_path / "out.mp4")
    frames = grey_frames(tmp_path / "out.mp4")

    def inner(i: int) -> np.ndarray:
        x1, y1, x2, y2 = face_at(i)
        w, h = x2 - x1, y2 - y1
        return frames[i][y1 + h // 4 : y2 - h // 4, x1 + w // 4 : x2 - w // 4]

    along = [np.abs(inner(a) - inner(b)).mean() for a, b in ((2, 6), (4, 8), (6, 10))]
    assert float(np.median(along)) < 15, along
