"""Many files: collect inputs (files, globs, folders), plan outputs, run a local pool."""

from __future__ import annotations

import contextlib
import glob
import multiprocessing
import os
import signal
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, replace
from pathlib import Path

from veil.errors import VeilError
from veil.formats import handled, kind_for, known_suffix
from veil.pipeline import Redactor
from veil.policy import Policy
from veil.report import Report


@dataclass(frozen=True, slots=True)
class Job:
    """One input file and where its output goes, relative to the output folder."""

    src: Path
    rel: Path


@dataclass(frozen=True, slots=True)
class Failure:
    """An input that could not be processed, with a reason free of personal data."""

    src: str
    reason: str


@dataclass(frozen=True, slots=True)
class Skipped:
    """A file found in a folder or by a pattern that Veil leaves alone, and why."""

    src: str
    reason: str


@dataclass(slots=True)
class Collected:
    """What the inputs expand to: files to process, inputs that failed, files skipped."""

    jobs: list[Job]
    failures: list[Failure]
    skipped: list[Skipped]


def collect(inputs: Sequence[str]) -> Collected:
    """Expand files, globs and folders (recursively) into jobs; list what cannot be read.

    Folders and patterns contribute files of a kind Veil handles (by suffix, else by their
    first bytes) and list the other files as skipped, so that every file is accounted for;
    files named explicitly are always tried.
    """
    jobs: list[Job] = []
    failures: list[Failure] = []
    skipped: list[Skipped] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            jobs.extend(_walk(path, failures, skipped))
        elif path.exists() or path.is_symlink():
            jobs.append(Job(path, Path(path.name)))
        elif glob.has_magic(item):
            matches = sorted(glob.glob(item, recursive=True))
            if not matches:
                failures.append(Failure(item, "no file matches this pattern"))
            for match in matches:
                m = Path(match)
                if m.is_dir():
                    jobs.extend(_walk(m, failures, skipped))
                elif _take(m, skipped):
                    jobs.append(Job(m, Path(m.name)))
        else:
            failures.append(Failure(item, "no such file or folder"))
    unique, failures = _dedupe(jobs, failures)
    return Collected(unique, failures, skipped)


def _take(path: Path, skipped: list[Skipped]) -> bool:
    """Whether a file found by a walk or a pattern is processed; if not, say why."""
    if path.name.startswith("."):
        skipped.append(Skipped(str(path), "hidden file"))
        return False
    if not known_suffix(path) and kind_for(path) is None:  # by content: DICOM's IM0001
        suffix = path.suffix.lower() or "no suffix"
        skipped.append(Skipped(str(path), f"not a kind Veil handles ({suffix}; it handles "
                                          f"{handled()})"))
        return False
    return True


def _walk(root: Path, failures: list[Failure], skipped: list[Skipped]) -> Iterator[Job]:
    def on_error(exc: OSError) -> None:
        failures.append(Failure(str(exc.filename or root), f"cannot read folder: {exc.strerror}"))

    for folder, dirs, files in os.walk(root, onerror=on_error):
        dirs.sort()
        for name in sorted(files):
            src = Path(folder) / name
            if _take(src, skipped):
                yield Job(src, src.relative_to(root))


def _dedupe(jobs: list[Job], failures: list[Failure]) -> tuple[list[Job], list[Failure]]:
    seen_src: set[Path] = set()
    seen_rel: dict[Path, Path] = {}
    unique: list[Job] = []
    for job in jobs:
        real = job.src.resolve()
        if real in seen_src:
            continue
        seen_src.add(real)
        if job.rel in seen_rel:
            failures.append(Failure(str(job.src), f"output name {job.rel} is already taken by "
                                                  f"{seen_rel[job.rel]}; rename one of them"))
            continue
        seen_rel[job.rel] = job.src
        unique.append(job)
    return unique, failures


def plan_outputs(jobs: list[Job], out_dir: Path) -> tuple[list[tuple[Job, Path]], list[Failure]]:
    """Pair each job with its output path; refuse any output that would overwrite an input."""
    inputs = {job.src.resolve() for job in jobs}
    planned: list[tuple[Job, Path]] = []
    failures: list[Failure] = []
    for job in jobs:
        dst = out_dir / job.rel
        if dst.resolve() in inputs:
            failures.append(Failure(str(job.src), "refusing to write over an input file"))
        else:
            planned.append((job, dst))
    return planned, failures


# --- running ---------------------------------------------------------------------------

_worker: Redactor | None = None


def _init_worker(policy: Policy, threads: int) -> None:
    global _worker
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the driver, which stops
    os.environ["VEIL_THREADS"] = str(threads)
    _worker = Redactor(policy)
    _worker.warm_up()


def _run_one(src: Path, dst: Path | None, session: str | None) -> Report | Failure:
    assert _worker is not None
    return process(_worker, src, dst, session)


def process(redactor: Redactor, src: Path, dst: Path | None,
            session: str | None = None) -> Report | Failure:
    """Redact ``src`` into ``dst`` (or only scan it when ``dst`` is None)."""
    try:
        report = (redactor.scan_file(src) if dst is None
                  else redactor.redact_file(src, dst, session))
    except VeilError as exc:
        return Failure(str(src), str(exc))
    except OSError as exc:
        return Failure(str(src), f"cannot write output: {exc.strerror or type(exc).__name__}")
    except MemoryError:
        return Failure(str(src), "out of memory while processing this image")
    except Exception as exc:  # unexpected: this input fails closed, the others go on
        return Failure(str(src), f"internal error ({type(exc).__name__}); image not written")
    return replace(report, file=str(src))


def run(
    tasks: Sequence[tuple[Path, Path | None]], policy: Policy, workers: int | None = 1,
    session: str | None = None, stop: threading.Event | None = None,
) -> Iterator[Report | Failure]:
    """Process (src, dst) pairs, yielding results as they finish. ``session`` names the
    vault session whose pseudonyms the ``replace`` operator writes. ``workers=None`` uses
    every core. Once ``stop`` is set no new input is started; the ones in progress finish
    and are yielded.

    Models are loaded before the first input, so a missing model raises a VeilError
    at once instead of failing every image.
    """
    if not tasks:
        return
    if workers is None:
        workers = os.cpu_count() or 1
    workers = min(workers, len(tasks))
    redactor = Redactor(policy)
    redactor.warm_up()
    if workers <= 1 or len(tasks) <= 1:
        for src, dst in tasks:
            if stop is not None and stop.is_set():
                return
            yield process(redactor, src, dst, session)
        return
    threads = max(1, (os.cpu_count() or 1) // workers)
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker,
                             initargs=(policy, threads)) as pool:
        queue = iter(tasks)
        futures: dict[Future[Report | Failure], Path] = {}
        pending: set[Future[Report | Failure]] = set()
        try:
            while True:
                # as many inputs in flight as workers: a stop leaves only those to finish,
                # and a million inputs are not a million futures
                while len(pending) < workers and not (stop is not None and stop.is_set()):
                    task = next(queue, None)
                    if task is None:
                        break
                    future = pool.submit(_run_one, task[0], task[1], session)
                    futures[future] = task[0]
                    pending.add(future)
                if not pending:
                    return
                done, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
                for future in done:
                    src = futures.pop(future)
                    try:
                        yield future.result()
                    except Exception as exc:  # a worker died: that input fails, others go on
                        yield Failure(str(src), f"worker failed ({type(exc).__name__})")
        finally:  # abandoned by the caller: what is not started yet is dropped
            for future in pending:
                future.cancel()


@dataclass(slots=True)
class Stop:
    """Set by SIGINT or SIGTERM: ``signum`` is the first signal received."""

    event: threading.Event
    signum: int | None = None


@contextlib.contextmanager
def stop_on_signals(announce: Callable[[], None] = lambda: None) -> Iterator[Stop]:
    """While inside, SIGINT and SIGTERM set the returned ``Stop`` (no new input starts,
    the ones in progress finish) and call ``announce``; a second signal ends the process
    at once (outputs are still never half-written)."""
    stop = Stop(threading.Event())

    def handler(signum: int, _frame: object) -> None:
        if stop.signum is None:
            stop.signum = signum
        stop.event.set()
        signal.signal(signum, signal.SIG_DFL)
        announce()

    wanted = (signal.SIGINT, signal.SIGTERM)
    old = {signum: signal.signal(signum, handler) for signum in wanted}
    try:
        yield stop
    finally:
        for signum, previous in old.items():
            signal.signal(signum, previous)
