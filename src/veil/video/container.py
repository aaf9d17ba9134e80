"""Opening a video with PyAV (FFmpeg's libraries from its wheel) and setting up its copy.

The copy has the input's container, video codec family, resolution, frame rate, frame
times and display rotation; audio streams are copied packet for packet (not re-encoded).
Nothing else is carried over: no container or stream tags (GPS position, creation time,
device make, model and serial live there), no subtitle, data (GPS tracks, telemetry) or
attachment streams, no second video stream (cover art), no chapters.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import av.error
from av.audio.stream import AudioStream
from av.container import InputContainer, OutputContainer
from av.video.stream import VideoStream

from veil.errors import InputError

MUXERS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska",
          ".webm": "webm", ".avi": "avi"}


@dataclass(frozen=True, slots=True)
class Encoder:
    """The encoder and settings writing one codec family: visually lossless, fast."""

    name: str
    options: dict[str, str]
    quality_bit_rate: bool = False
    """The encoder has no constant-quality mode here: the input's bit rate is kept."""


ENCODERS: dict[str, Encoder] = {
    "h264": Encoder("libx264", {"crf": "18", "preset": "veryfast"}),
    "hevc": Encoder("libx265", {"crf": "20", "preset": "veryfast", "x265-params": "log-level=1"}),
    "vp8": Encoder("libvpx", {"crf": "6", "b": "8M", "deadline": "realtime", "cpu-used": "8"}),
    "vp9": Encoder("libvpx-vp9", {"crf": "24", "b": "0", "deadline": "realtime",
                                  "cpu-used": "8", "row-mt": "1"}),
    "av1": Encoder("libsvtav1", {"crf": "30", "preset": "10"}),
    "mpeg4": Encoder("mpeg4", {}, quality_bit_rate=True),
    "mjpeg": Encoder("mjpeg", {}, quality_bit_rate=True),
}
KEPT_TAGS = frozenset({"language"})
"""Stream tags copied to the output: none that can name a person, place, time or device."""
FORMAT_TAGS = frozenset({"major_brand", "minor_version", "compatible_brands", "encoder",
                         "handler_name", "vendor_id", "duration", "language"})
"""Tags the muxer writes anew from the file's structure: not reported as removed."""

_ROTATIONS = {0: 1, 90: 8, 180: 3, 270: 6}
"""Display rotation (degrees counter-clockwise) as the EXIF orientation that shows it."""


def orientation_of(rotation: float) -> int:
    """The EXIF orientation of a stream's display rotation (other angles: unrotated)."""
    return _ROTATIONS.get(round(rotation) % 360, 1)


@dataclass(frozen=True, slots=True)
class Probe:
    """What the input holds, as far as the copy needs it."""

    width: int
    height: int
    codec: str
    frames: int | None
    """Frame count the container declares (None if it does not)."""
    rate: Fraction | None
    time_base: Fraction
    seconds: float | None
    """Duration the container declares for the video, from its start (None if none)."""
    slack: float
    """How much earlier than ``seconds`` the decoded frames may end (seconds)."""
    dropped: tuple[str, ...]
    """What the copy leaves out: tag names and stream kinds, never their values."""


def open_input(path: Path) -> InputContainer:
    """Open a video file, or raise InputError with a clear reason."""
    try:
        container = av.open(str(path), "r", metadata_errors="ignore")
    except FileNotFoundError:
        raise InputError("no such file") from None
    except (av.error.InvalidDataError, av.error.EOFError):
        raise InputError("not a video, or a corrupt or truncated one") from None
    except av.error.FFmpegError as exc:
        raise InputError(f"cannot open video ({type(exc).__name__})") from None
    except OSError as exc:
        raise InputError(f"cannot read file: {exc.strerror or type(exc).__name__}") from None
    if not container.streams.video:
        container.close()
        raise InputError("no video stream in this file")
    return container


def main_video(container: InputContainer) -> VideoStream:
    """The video stream to protect: the first that is not an attached picture."""
    for stream in container.streams.video:
        if not stream.disposition & av.stream.Disposition.attached_pic:
            return stream
    raise InputError("no video stream in this file (only a cover picture)")


def probe(container: InputContainer, video: VideoStream, keep_audio: bool) -> Probe:
    """Describe the input and list what the copy drops."""
    ctx = video.codec_context
    if not ctx.width or not ctx.height:
        raise InputError("video stream has no frame size (corrupt header?)")
    dropped = [f"container tag {k}" for k in _personal(container.metadata)]
    for stream in container.streams:
        if stream is video or (stream.type == "audio" and keep_audio):
            dropped += [f"{stream.type} tag {k}" for k in _personal(stream.metadata)]
        else:
            dropped.append(f"{stream.type} stream")
    if container.chapters():
        dropped.append("chapters")
    frames = video.frames or None
    seconds = _video_seconds(video)
    slack = 2 / float(video.average_rate) if video.average_rate else TRUNCATION_SECONDS
    if seconds is None and container.duration:
        seconds, slack = container.duration / 1e6, TRUNCATION_SECONDS  # audio may be longer
    return Probe(ctx.width, ctx.height, ctx.name, frames, video.average_rate or video.guessed_rate,
                 video.time_base or Fraction(1, 90000), seconds, slack, tuple(dropped))


def _personal(tags: dict[str, str]) -> list[str]:
    """The names of the tags that are not mere file structure."""
    return sorted(k for k in tags if k.lower() not in FORMAT_TAGS)


TRUNCATION_SECONDS = 1.0
"""When a container declares no duration for the video stream but one for the file (which
its audio may exceed), a video ending this much earlier is taken as truncated."""


def check_complete(info: Probe, frames: int, end: float | None) -> None:
    """Raise InputError if fewer frames or less time were decoded than the file declares
    (a container may count one empty trailing packet as a frame)."""
    if info.frames is not None and frames < info.frames - 1:
        raise InputError(f"video is truncated or corrupt: {frames} of {info.frames} frames "
                         "could be decoded")
    if info.seconds is not None and end is not None:
        missing = info.seconds - end
        if missing > info.slack:
            raise InputError(f"video is truncated or corrupt: it ends {missing:.1f} s before "
                             "the duration its container declares")


def _video_seconds(video: VideoStream) -> float | None:
    """The video stream's declared duration: its own, or Matroska's DURATION tag."""
    if video.duration and video.time_base:
        return float(video.duration * video.time_base)
    tag = video.metadata.get("DURATION")
    if tag:
        try:
            hours, minutes, secs = tag.split(":")
            return int(hours) * 3600 + int(minutes) * 60 + float(secs)
        except ValueError:
            return None
    return None


def output_format(path: Path) -> str:
    """FFmpeg's muxer for the output's suffix (the input's, as names are kept)."""
    muxer = MUXERS.get(path.suffix.lower())
    if muxer is None:
        raise InputError(f"video container {path.suffix or '(none)'} is not supported "
                         f"(use {', '.join(sorted(MUXERS))})")
    return muxer


def encoder_for(codec: str) -> Encoder:
    encoder = ENCODERS.get(codec)
    if encoder is None:
        raise InputError(f"video codec {codec} cannot be written by Veil "
                         f"(supported: {', '.join(sorted(ENCODERS))})")
    return encoder


def open_output(path: Path, muxer: str, video: VideoStream, info: Probe,
                audio: list[AudioStream], rotation: float
                ) -> tuple[OutputContainer, VideoStream, dict[int, AudioStream]]:
    """Create the output container: a fresh video stream of the input's codec family and
    size and copies of the audio streams, with no tags but their language."""
    encoder = encoder_for(info.codec)
    try:
        out = av.open(str(path), "w", format=muxer)
    except av.error.FFmpegError as exc:
        raise InputError(f"cannot create the output video ({type(exc).__name__})") from None
    try:
        stream = out.add_stream(encoder.name, rate=info.rate, options=dict(encoder.options))
        assert isinstance(stream, VideoStream)
        stream.width, stream.height = info.width, info.height
        stream.pix_fmt = _pixel_format(encoder.name, video.codec_context.pix_fmt)
        stream.time_base = info.time_base
        stream.codec_context.time_base = info.time_base
        stream.thread_type = "AUTO"
        if encoder.quality_bit_rate:
            stream.bit_rate = max(video.bit_rate or 0, info.width * info.height * 8)
        sar = video.sample_aspect_ratio
        if sar:
            stream.sample_aspect_ratio = sar
        if rotation:
            stream.set_display_rotation(rotation)
        copies: dict[int, AudioStream] = {}
        for source in audio:
            copy = out.add_stream_from_template(source)
            copy.metadata.clear()
            for key in KEPT_TAGS & set(source.metadata):
                copy.metadata[key] = source.metadata[key]
            copies[source.index] = copy
        out.metadata.clear()
    except BaseException:
        out.close()
        raise
    return out, stream, copies


def _pixel_format(encoder: str, source: str | None) -> str:
    """The input's pixel format if the encoder takes it, else 4:2:0 (full range for JPEG)."""
    formats = [f.name for f in av.codec.Codec(encoder, "w").video_formats or []]
    if source in formats:
        return source
    for name in ("yuv420p", "yuvj420p"):
        if name in formats:
            return name
    return formats[0]
