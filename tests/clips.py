"""Video clips written with PyAV, for tests and benchmarks (``test_video.py``,
``benchmarks/video.py``): RGB frames in, a clip with a 440 Hz tone and tags out; and what
a check reads back from a clip (grey frames, audio packets, tags)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

import av
import numpy as np
from av.container import OutputContainer

MUXERS = {".mkv": "matroska", ".webm": "webm", ".avi": "avi", ".mov": "mov", ".mp4": "mp4"}


def write_clip(path: Path, frames: Iterable[np.ndarray], *, size: tuple[int, int], fps: int,
               tags: Mapping[str, str], codec: str = "libx264",
               options: Mapping[str, str] | None = None,
               audio: tuple[str, int] | None = ("aac", 44100), rotation: int = 0,
               attachment: tuple[str, str, bytes] | None = None) -> Path:
    """``frames`` (RGB, ``size`` wide and high) as a ``codec`` clip at ``fps`` (muxer by
    the file's suffix), with ``tags`` on the container, a mono tone as long as the video in
    ``audio`` (codec, sample rate), and if given a display ``rotation`` and an
    ``attachment`` (name, MIME type, data)."""
    with av.open(str(path), "w", format=MUXERS[path.suffix]) as out:
        out.metadata.update(tags)
        video = out.add_stream(codec, rate=fps, options=dict(options) if options else None)
        assert isinstance(video, av.VideoStream)
        video.width, video.height = size
        video.pix_fmt = "yuvj420p" if codec == "mjpeg" else "yuv420p"
        if rotation:
            video.set_display_rotation(rotation)
        sound = out.add_stream(audio[0], rate=audio[1]) if audio else None
        assert sound is None or isinstance(sound, av.AudioStream)
        if attachment:
            out.add_attachment(*attachment)
        count = 0
        for count, rgb in enumerate(frames, 1):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts = count - 1
            out.mux(video.encode(frame))
        out.mux(video.encode())
        if sound is not None and audio is not None:
            _tone(out, sound, audio[1], audio[1] * count // fps)
    return path


def _tone(out: OutputContainer, sound: av.AudioStream, rate: int, samples: int) -> None:
    """``samples`` of a 440 Hz sine at ``rate``, encoded on ``sound`` and muxed."""
    size = sound.codec_context.frame_size or 1024
    for start in range(0, samples, size):
        t = np.arange(start, start + size) / rate
        tone = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None, :]
        chunk = av.AudioFrame.from_ndarray(tone, format="fltp", layout="mono")
        chunk.sample_rate, chunk.pts = rate, start
        out.mux(sound.encode(chunk))
    out.mux(sound.encode())


def grey_frames(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as c:
        return [f.to_ndarray(format="gray").astype(np.float64) for f in c.decode(video=0)]


def audio_packets(path: Path) -> list[bytes]:
    with av.open(str(path)) as c:
        if not c.streams.audio:
            return []
        return [bytes(p) for p in c.demux(c.streams.audio[0]) if p.size]


def all_tags(path: Path) -> dict[str, str]:
    """The container's tags and its streams'."""
    with av.open(str(path)) as c:
        tags = dict(c.metadata)
        for s in c.streams:
            tags.update(s.metadata)
        return tags
