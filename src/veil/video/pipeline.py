"""Video in -> detections on some frames -> tracks -> every frame hidden -> video out.

Three threads share the work: one demuxes and decodes, the calling thread runs the
detectors (their models use every core while they run), one hides and encodes. They are
joined by short bounded queues, and frames wait for their tracks' final boxes in a buffer
of ``Tracker`` look-ahead frames, so memory depends on the frame size, not the video's
length. The output is written to a temporary file renamed at the end; on any error (a
detector failing on any frame, corrupt or truncated input) nothing is written.
"""

from __future__ import annotations

import contextlib
import os
import queue
import secrets
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import av
import av.error
import numpy as np
from av.audio.stream import AudioStream
from av.container import InputContainer, OutputContainer
from av.packet import Packet
from av.video.frame import VideoFrame
from av.video.stream import VideoStream

from veil.detect.base import Detector
from veil.errors import InputError, VeilError
from veil.images import Picture
from veil.pipeline import Redactor, default_detectors
from veil.policy import KindRule, Policy
from veil.regions import Region
from veil.report import Action, Report, TrackSummary
from veil.timing import StageTimes, stages
from veil.video import container as io
from veil.video.tracker import Track, Tracker

QUEUE_FRAMES = 8
"""Frames waiting between two threads, at most."""


@dataclass(frozen=True, slots=True)
class Progress:
    """How far a video is: frames done of ``total`` (None if unknown), speed, time left."""

    done: int
    total: int | None
    fps: float

    @property
    def seconds_left(self) -> float | None:
        if self.total is None or self.fps <= 0:
            return None
        return max(0.0, (self.total - self.done) / self.fps)


ProgressCallback = Callable[[Progress], None]


@dataclass(slots=True)
class _Group:
    """Detectors that run together every ``step`` frames."""

    scanner: Redactor
    kinds: tuple[str, ...]
    step: int


def video_policy(policy: Policy) -> Policy:
    """The policy as it applies to videos: personal text and codes only when the video
    settings ask for them (reading text on every key frame is slow)."""
    kinds = dict(policy.kinds)
    if not policy.video.text:
        kinds["text"] = KindRule(enabled=False)
        kinds = {k: v for k, v in kinds.items() if not k.startswith("text.")}
    if not policy.video.codes:
        kinds["code"] = KindRule(enabled=False)
    return policy.model_copy(update={"kinds": kinds})


class VideoRedactor:
    """Applies a policy to videos. Build one and reuse it: models load once per process."""

    def __init__(self, policy: Policy | None = None,
                 detectors: Sequence[Detector] | None = None,
                 redactor: Redactor | None = None) -> None:
        base = policy or (redactor.policy if redactor is not None else Policy())
        self.policy = video_policy(base)
        self.settings = self.policy.video
        found = list(detectors) if detectors is not None else default_detectors(self.policy)
        pseudonymizer = redactor.pseudonymizer if redactor is not None else None
        self.hider = Redactor(self.policy, [], pseudonymizer)
        every = [d for d in found if tuple(d.kinds) == ("face",)]
        keyed = [d for d in found if tuple(d.kinds) != ("face",)]
        self.groups = [
            _Group(Redactor(self.policy, group), _kinds(group), step)
            for group, step in ((every, self.settings.detect_every),
                                (keyed, self.settings.ocr_every)) if group
        ]
        self.lookahead = max((g.step - 1 + self.settings.hold for g in self.groups), default=0)

    def warm_up(self) -> None:
        for group in self.groups:
            group.scanner.warm_up()

    def redact_file(self, src: Path, dst: Path, session: str | None = None,
                    progress: ProgressCallback | None = None) -> Report:
        """Read ``src``, hide what the policy protects on every frame, write ``dst``
        (same container and codec family) atomically. Nothing is written on error."""
        dst.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=f".{dst.name}.", suffix=".veil-tmp", dir=dst.parent)
        os.close(fd)
        tmp = Path(name)
        try:
            report = self._run(src, (tmp, dst), session, progress)
            os.replace(tmp, dst)
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise
        return report

    def scan_file(self, src: Path, progress: ProgressCallback | None = None) -> Report:
        """What ``redact_file`` would hide, frame by frame, without writing anything."""
        return self._run(src, None, None, progress)

    # --- the run ---------------------------------------------------------------------

    def _run(self, src: Path, out: tuple[Path, Path] | None, session: str | None,
             progress: ProgressCallback | None) -> Report:
        start = time.perf_counter()
        with _opened(src) as container:
            video = io.main_video(container)
            keep_audio = self.settings.keep_audio and out is not None
            info = io.probe(container, video, keep_audio)
            if info.width * info.height > self.policy.limits.max_pixels:
                raise InputError(f"video is {info.width}x{info.height} pixels, above the "
                                 f"limit of {self.policy.limits.max_pixels}")
            audio = list(container.streams.audio) if keep_audio else []
            muxer = io.output_format(out[1]) if out is not None else None
            if out is not None:
                io.encoder_for(info.codec)
            video.thread_type = "AUTO"
            reader = _Reader(container, video.index, audio)
            writer = None
            if out is not None and muxer is not None:
                writer = _Writer(out[0], muxer, video, info, audio, self.hider, session)
            run = _Run(self, info, reader, writer, progress)
            try:
                times = run.main()
            finally:
                reader.stop()
                if writer is not None:
                    writer.stop()
        tracks = run.tracker.finish()
        frames = run.frames
        return self._report(info, tracks, frames, start, times)

    def _report(self, info: io.Probe, tracks: list[Track], frames: int, start: float,
                times: StageTimes) -> Report:
        hold = self.settings.hold
        summaries = []
        actions = []
        for track in tracks:
            first, last = track.span(hold, frames)
            summaries.append(TrackSummary(track.kind, first, last,
                                          tuple((f, r.box) for f, r in track.keys)))
            region = max((r for _, r in track.keys), key=lambda r: r.score)
            actions.append(Action(track.kind, track.keys[0][1].box, region.score,
                                  self.policy.operator_for(track.kind).name, region.source,
                                  page=track.first_key))
        return Report(info.width, info.height, tuple(actions), info.dropped,
                      (time.perf_counter() - start) * 1000, stages=dict(times),
                      pages=frames, tracks=tuple(summaries))


def _kinds(detectors: Sequence[Detector]) -> tuple[str, ...]:
    return tuple(k for d in detectors for k in d.kinds)


@contextlib.contextmanager
def _opened(src: Path) -> Iterator[InputContainer]:
    container = io.open_input(src)
    try:
        yield container
    finally:
        container.close()


# --- threads ---------------------------------------------------------------------------

@dataclass(slots=True)
class _Frame:
    index: int
    pixels: np.ndarray
    pts: int | None
    duration: int | None
    rotation: float
    regions: list[Region] = field(default_factory=list)


_END = object()


class _Stage(threading.Thread):
    """A worker thread whose failure is kept and handed to the main thread."""

    def __init__(self, name: str) -> None:
        super().__init__(name=name, daemon=True)
        self.error: BaseException | None = None
        self.halt = threading.Event()
        self.ms = 0.0

    def run(self) -> None:
        try:
            self.work()
        except BaseException as exc:
            self.error = exc
            self.halt.set()

    def work(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        self.halt.set()
        self.join(timeout=30)

    def put(self, q: queue.Queue[object], item: object) -> None:
        while not self.halt.is_set():
            try:
                q.put(item, timeout=0.1)
                return
            except queue.Full:
                continue
        raise _HaltedError


class _HaltedError(Exception):
    """Another stage failed or the run was stopped."""


class _Reader(_Stage):
    """Demuxes and decodes: RGB frames and audio packets, in file order."""

    def __init__(self, container: InputContainer, video: int, audio: list[AudioStream]) -> None:
        super().__init__("veil-video-decode")
        self.container, self.video, self.audio = container, video, audio
        self.end: float | None = None
        """Where the last decoded frame ends, in seconds from the video's start."""
        self.out: queue.Queue[object] = queue.Queue(QUEUE_FRAMES)
        self.start()

    def work(self) -> None:
        video = self.container.streams[self.video]
        first = video.start_time or 0
        index = 0
        try:
            for packet in self.container.demux(video, *self.audio):
                if packet.stream.index != self.video:
                    if packet.dts is not None:
                        self.put(self.out, packet)
                    continue
                t0 = time.perf_counter()
                decoded = packet.decode()
                frames = [(f, f.to_ndarray(format="rgb24")) for f in decoded
                          if isinstance(f, VideoFrame)]
                self.ms += (time.perf_counter() - t0) * 1000
                for frame, pixels in frames:
                    if frame.pts is not None and frame.time_base is not None:
                        length = frame.duration or 0
                        self.end = float((frame.pts + length - first) * frame.time_base)
                    self.put(self.out, _Frame(index, pixels, frame.pts, frame.duration,
                                              float(frame.rotation)))
                    index += 1
        except _HaltedError:
            return
        except (av.error.FFmpegError, EOFError, ValueError) as exc:
            self.error = InputError(f"corrupt or truncated video data near frame {index} "
                                    f"({type(exc).__name__})")
            self.halt.set()
            return
        self.put(self.out, _END)

    def items(self) -> Iterator[object]:
        while True:
            try:
                item = self.out.get(timeout=0.1)
            except queue.Empty:
                if self.error is not None:
                    raise self.error from None
                if not self.is_alive():
                    raise VeilError("video decoding stopped unexpectedly") from None
                continue
            if item is _END:
                return
            yield item


class _Writer(_Stage):
    """Hides each frame's regions, encodes, and muxes with the copied audio packets."""

    def __init__(self, path: Path, muxer: str, video: VideoStream, info: io.Probe,
                 audio: list[AudioStream], hider: Redactor, session: str | None) -> None:
        super().__init__("veil-video-encode")
        self.path, self.muxer, self.source, self.info = path, muxer, video, info
        self.audio, self.hider, self.session = audio, hider, session
        self.scope = secrets.token_hex(16)  # one synthetic face per track, also with no session
        self.inbox: queue.Queue[object] = queue.Queue(QUEUE_FRAMES)
        self.finished = False
        self.start()

    def work(self) -> None:
        out: OutputContainer | None = None
        early: list[Packet[AudioStream]] = []
        copies: dict[int, AudioStream] = {}
        try:
            while True:
                try:
                    item = self.inbox.get(timeout=0.1)
                except queue.Empty:
                    if self.halt.is_set():
                        return
                    continue
                if item is _END:
                    break
                if isinstance(item, Packet):
                    if out is None:  # audio before the first frame, whose rotation we need
                        early.append(item)
                        continue
                    item.stream = copies[item.stream_index]
                    out.mux(item)
                    continue
                assert isinstance(item, _Frame)
                if out is None:
                    out, stream, copies = self._open(item.rotation)
                    for packet in early:
                        packet.stream = copies[packet.stream_index]
                        out.mux(packet)
                    early.clear()
                t0 = time.perf_counter()
                pixels = item.pixels
                if item.regions:
                    picture = Picture(pixels, "RGB", "PNG")
                    pixels = self.hider.hide_regions(picture, item.regions, self.session,
                                                     self.scope).pixels
                frame = VideoFrame.from_ndarray(pixels, format="rgb24")
                frame.pts = item.pts if item.pts is not None else item.index
                frame.time_base = self.info.time_base
                out.mux(stream.encode(frame))
                self.ms += (time.perf_counter() - t0) * 1000
            if out is None:
                raise InputError("the video holds no frame")
            out.mux(stream.encode(None))
            out.close()
            out = None
            self.finished = True
        finally:
            if out is not None:
                with contextlib.suppress(Exception):
                    out.close()

    def _open(self, rotation: float
              ) -> tuple[OutputContainer, VideoStream, dict[int, AudioStream]]:
        return io.open_output(self.path, self.muxer, self.source, self.info, self.audio,
                              rotation)


class _Run:
    """The main thread's part: detectors, tracker, look-ahead buffer."""

    def __init__(self, owner: VideoRedactor, info: io.Probe, reader: _Reader,
                 writer: _Writer | None, progress: ProgressCallback | None) -> None:
        self.owner, self.info, self.reader, self.writer = owner, info, reader, writer
        self.progress = progress
        self.tracker = Tracker(owner.settings.hold)
        self.buffer: deque[_Frame] = deque()
        self.frames = 0
        self.done = 0
        self.started = time.perf_counter()
        self.last_report = 0.0
        rate, seconds = info.rate, info.seconds
        self.estimate = round(seconds * rate) if rate and seconds else None

    def main(self) -> StageTimes:
        times: StageTimes = {}
        pending: _Frame | None = None
        for item in self.reader.items():
            if isinstance(item, Packet):
                self._send(item)
                continue
            assert isinstance(item, _Frame)
            if pending is not None:
                self._detect(pending, last=False, times=times)
            pending = item
        if pending is None:
            raise InputError("the video holds no frame")
        self._detect(pending, last=True, times=times)
        self.frames = pending.index + 1
        io.check_complete(self.info, self.frames, self.reader.end)
        while self.buffer:
            self._emit(self.buffer.popleft())
        if self.writer is not None:
            self._send(_END)
            self.writer.join()
            if self.writer.error is not None:
                raise self._clean(self.writer.error)
            if not self.writer.finished:
                raise VeilError("video encoding stopped unexpectedly")
            times["encode"] = self.writer.ms
        times["decode"] = self.reader.ms
        self._tell(final=True)
        return times

    def _detect(self, frame: _Frame, last: bool, times: StageTimes) -> None:
        orientation = io.orientation_of(frame.rotation)
        picture = Picture(frame.pixels, "RGB", "PNG", orientation)
        for group in self.owner.groups:
            if frame.index % group.step == 0 or last:
                with stages(self.owner.policy.limits.image_seconds) as spent:
                    regions = group.scanner.scan(picture)
                for name, ms in spent.items():
                    times[name] = times.get(name, 0.0) + ms
                self.tracker.update(frame.index, group.kinds, group.step, regions)
        self.buffer.append(frame)
        while self.buffer and self.buffer[0].index <= frame.index - self.owner.lookahead:
            self._emit(self.buffer.popleft())

    def _emit(self, frame: _Frame) -> None:
        frame.regions = self.tracker.regions_at(frame.index, self.info.width, self.info.height)
        self.done = frame.index + 1
        if self.writer is not None:
            self._send(frame)
        self._tell()

    def _send(self, item: object) -> None:
        if self.writer is None:
            return
        while True:
            try:
                self.writer.inbox.put(item, timeout=0.1)
                return
            except queue.Full:
                if self.writer.error is not None or not self.writer.is_alive():
                    raise self._clean(self.writer.error) from None

    @staticmethod
    def _clean(error: BaseException | None) -> BaseException:
        if isinstance(error, VeilError | MemoryError):
            return error
        if isinstance(error, av.error.FFmpegError | OSError):
            return VeilError(f"cannot write the output video ({type(error).__name__})")
        return VeilError(f"video encoding failed ({type(error).__name__})")

    def _tell(self, final: bool = False) -> None:
        if self.progress is None:
            return
        now = time.perf_counter()
        if not final and now - self.last_report < 0.5:
            return
        self.last_report = now
        fps = self.done / max(1e-6, now - self.started)
        total = self.frames if final else self.info.frames or self.estimate
        self.progress(Progress(self.done, total, fps))


def redact_video(path_in: str | Path, path_out: str | Path, policy: Policy | None = None,
                 progress: ProgressCallback | None = None) -> Report:
    """Hide faces and plates (and what else the policy asks) on every frame of a video.

    The output keeps the container, codec family, resolution, frame rate, rotation and
    duration; audio is copied unchanged unless ``policy.video.keep_audio`` is false;
    subtitles, data streams and every tag are dropped. Raises a VeilError on bad input
    or a detector failure, writing nothing."""
    return VideoRedactor(policy).redact_file(Path(path_in), Path(path_out), progress=progress)
