"""The gateway's image workers: a process pool that redacts the images of every request in
parallel, each image within its time budget.

Each worker process builds its redactors once (one per role, sharing the models), with
``VEIL_THREADS`` set to cores // workers before the models load, and warms them before the
gateway is ready. Only small typed values cross the process boundary: the encoded image in,
the redacted encoded image and its ``Report`` out.

The vault stays in the gateway's process. When the ``replace`` operator writes over text
read in an image, the worker answers ``NamesNeeded`` with the values it read; the gateway
gets their session pseudonyms and sends the image again with the ``Name``s, so text in an
image gets the same pseudonym as in the prompt.

At most one image per worker is in flight, so an image starts as soon as it is sent and the
wait for its result is bounded by the budget (``limits.image_seconds``) plus
``MARGIN``: past it ``ImageTimeoutError`` is raised, and the pool is replaced (the stuck worker
is stopped once the other images of its pool are done). A worker that dies fails its image
(``DetectorError``) and the pool is rebuilt; an image sent to a pool already broken is sent
again to the new one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field, replace

import cv2

from veil.errors import DetectorError, VeilError
from veil.images import Picture, decode_image, encode_image, to_display
from veil.pipeline import Redactor
from veil.policy import Policy
from veil.pseudo.engine import Pseudonymizer
from veil.report import Report
from veil.timing import TimeBudgetError, stage, stages

log = logging.getLogger("veil.server")

MARGIN = 2.0
"""Seconds the gateway waits for a worker beyond the image's budget before it gives up."""

MIME = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp", "GIF": "image/gif"}

RedactorFactory = Callable[[Policy], Redactor]
"""Builds a worker's redactor from the policy; must be picklable (a module-level name)."""


class ImageTimeoutError(TimeBudgetError):
    """A worker did not answer within the image's budget plus ``MARGIN``."""


@dataclass(frozen=True, slots=True)
class Name:
    """A value read in an image and the session's pseudonym ``replace`` writes over it."""

    entity: str
    value: str = field(repr=False)
    pseudonym: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class ImageJob:
    """One encoded image to redact for a role, with the pseudonyms known for its text."""

    data: bytes = field(repr=False)
    role: str
    names: tuple[Name, ...] = ()


@dataclass(frozen=True, slots=True)
class Redacted:
    """The redacted image, upright and without metadata, encoded; what was done to it."""

    data: bytes = field(repr=False)
    mime: str
    report: Report


@dataclass(frozen=True, slots=True)
class NamesNeeded:
    """The image holds text ``replace`` writes over: (entity, value) pairs to name first."""

    values: tuple[tuple[str, str], ...] = field(repr=False)


# --- in the worker process ----------------------------------------------------------------

_redactors: dict[str, Redactor] = {}
_failure: str | None = None


def _start_worker(factory: RedactorFactory, policy: Policy, roles: Mapping[str, Policy],
                  threads: int) -> None:
    """Load and warm the models once (as ``veil.batch`` workers do), then one redactor per
    role over the same detectors. A failure is kept and reported by ``_ping``."""
    global _failure
    os.environ["VEIL_THREADS"] = str(threads)
    cv2.setNumThreads(threads)  # OpenCV's own pool would use every core in every worker
    try:
        base = factory(policy)
        base.warm_up()
        for name, role_policy in roles.items():
            _redactors[name] = Redactor(role_policy, detectors=base.detectors)
    except Exception as exc:
        _failure = (str(exc) if isinstance(exc, VeilError)
                    else f"image models failed to load ({type(exc).__name__})")


def _ping() -> int:
    if _failure is not None:
        raise DetectorError(_failure)
    return os.getpid()


def _run(job: ImageJob) -> Redacted | NamesNeeded:
    return redact_job(_redactors[job.role], job)


class _Names(Pseudonymizer):
    """The pseudonyms the gateway gave for one image; values without one are collected.
    No vault or text detector lives in a worker, so the base initialiser is not run."""

    def __init__(self, names: tuple[Name, ...]) -> None:
        self.known = {(n.entity, n.value): n.pseudonym for n in names}
        self.missing: dict[tuple[str, str], None] = {}

    def pseudonym_for(self, entity: str, value: str, session: str) -> str:
        pseudonym = self.known.get((entity, value))
        if pseudonym is None:
            self.missing[(entity, value)] = None
            return entity  # a placeholder: this image is not sent
        return pseudonym


def redact_job(redactor: Redactor, job: ImageJob) -> Redacted | NamesNeeded:
    """Decode, redact, turn upright and encode one image within the policy's time budget
    (raises InputError, DetectorError, TimeBudgetError)."""
    policy = redactor.policy
    names = _Names(job.names)
    redactor = Redactor(policy, detectors=redactor.detectors, pseudonymizer=names)
    with stages(policy.limits.image_seconds) as times:
        with stage("decode"):
            picture = decode_image(job.data, policy.limits)
        out, report = redactor.redact(picture, "gateway")
        if names.missing:
            return NamesNeeded(tuple(names.missing))
        with stage("encode"):
            upright = Picture(to_display(out.pixels, out.orientation), out.mode,
                              forward_format(out), 1, out.icc_profile, ())
            data = encode_image(upright, policy.jpeg_quality)
    return Redacted(data, MIME[upright.format], replace(report, stages={**times,
                                                                        **report.stages}))


def forward_format(picture: Picture) -> str:
    """A format every vision model reads: JPEG, PNG, WebP and GIF stay, others become PNG."""
    if picture.format in MIME:
        return picture.format
    return "JPEG" if picture.mode == "CMYK" else "PNG"


# --- in the gateway -------------------------------------------------------------------------

@dataclass(eq=False)
class _Pool:
    executor: ProcessPoolExecutor
    ready: asyncio.Task[None]
    pids: set[int] = field(default_factory=set)
    running: set[Future[Redacted | NamesNeeded]] = field(default_factory=set)


class ImagePool:
    """``workers`` processes redacting images; ``redact`` awaits one without blocking the
    event loop. ``roles``: the policy of each role (by name)."""

    def __init__(self, policy: Policy, roles: Mapping[str, Policy], workers: int,
                 factory: RedactorFactory = Redactor) -> None:
        self.workers = workers
        self.budget = policy.limits.image_seconds
        threads = max(1, (os.cpu_count() or 1) // workers)
        self._initargs = (factory, policy, dict(roles), threads)
        self._pool: _Pool | None = None
        self._slots: asyncio.Semaphore | None = None
        self._held: set[Future[Redacted | NamesNeeded]] = set()
        self._retiring: dict[asyncio.Task[None], ProcessPoolExecutor] = {}

    @property
    def pids(self) -> set[int]:
        """The process ids of the current workers (once warm)."""
        return set(self._pool.pids) if self._pool is not None else set()

    async def start(self) -> None:
        """Start the workers; returns once each has loaded its models (raises if not)."""
        self._slots = asyncio.Semaphore(self.workers)
        await self._current().ready

    async def redact(self, job: ImageJob) -> Redacted | NamesNeeded:
        """Redact one image in a worker. Raises ImageTimeoutError past the budget, DetectorError
        if its worker died, else what the worker raised."""
        if self._slots is None:
            raise DetectorError("image workers are not started; image blocked")
        await self._slots.acquire()
        try:
            pool, future = await self._submit(job)
        except BaseException:
            self._slots.release()
            raise
        try:
            return await asyncio.wait_for(asyncio.wrap_future(future), self.budget + MARGIN)
        except TimeoutError:
            self._retire(pool, future)
            raise ImageTimeoutError("image over its time budget (no answer from its worker); "
                               "image blocked") from None
        except BrokenProcessPool:
            self._drop(pool)
            self._current()  # warm new workers now, not on the next image
            raise DetectorError("an image worker stopped while redacting; image blocked "
                                "(the workers are restarted)") from None

    async def close(self) -> None:
        """Stop every worker (those still busy are killed)."""
        executors = list(self._retiring.values())
        for task in self._retiring:
            task.cancel()
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.ready.cancel()
            executors.append(pool.executor)
        for executor in executors:
            await asyncio.to_thread(_stop, executor, 5.0)

    # --- internals ------------------------------------------------------------------------

    async def _submit(self, job: ImageJob
                      ) -> tuple[_Pool, Future[Redacted | NamesNeeded]]:
        """Send ``job`` to a warm pool; a pool found broken before it ran is replaced once."""
        for attempt in (1, 2):
            pool = self._current()
            try:
                await asyncio.shield(pool.ready)
            except Exception as exc:
                self._drop(pool)
                reason = str(exc) if isinstance(exc, VeilError) else type(exc).__name__
                raise DetectorError(f"image workers cannot start ({reason}); image "
                                    "blocked") from None
            try:
                future = pool.executor.submit(_run, job)
            except (BrokenProcessPool, RuntimeError):
                self._drop(pool)
                if attempt == 2:
                    raise DetectorError("image workers are unavailable; image blocked") from None
                continue
            self._hold(pool, future)
            return pool, future
        raise AssertionError("unreachable")

    def _hold(self, pool: _Pool, future: Future[Redacted | NamesNeeded]) -> None:
        """The slot taken for ``future`` is freed when it ends, even if no one awaits it."""
        loop = asyncio.get_running_loop()
        pool.running.add(future)
        self._held.add(future)

        def done(_: Future[Redacted | NamesNeeded]) -> None:
            with contextlib.suppress(RuntimeError):  # the loop is closed: nothing to free
                loop.call_soon_threadsafe(self._free, pool, future)

        future.add_done_callback(done)

    def _free(self, pool: _Pool, future: Future[Redacted | NamesNeeded]) -> None:
        pool.running.discard(future)
        if future in self._held:
            self._held.discard(future)
            if self._slots is not None:
                self._slots.release()

    def _current(self) -> _Pool:
        if self._pool is None:
            context = multiprocessing.get_context("spawn")
            executor = ProcessPoolExecutor(self.workers, mp_context=context,
                                           initializer=_start_worker, initargs=self._initargs)
            pids: set[int] = set()
            ready = asyncio.create_task(self._warm(executor, pids))
            ready.add_done_callback(_log_failure)
            self._pool = _Pool(executor, ready, pids)
        return self._pool

    async def _warm(self, executor: ProcessPoolExecutor, pids: set[int]) -> None:
        """Ping until every worker has answered (each answers once its models are warm)."""
        while len(pids) < self.workers:
            futures = [asyncio.wrap_future(executor.submit(_ping)) for _ in range(self.workers)]
            pids.update(await asyncio.gather(*futures))
            if len(pids) < self.workers:
                await asyncio.sleep(0.1)

    def _drop(self, pool: _Pool) -> None:
        """A broken pool: later images go to a new one."""
        if self._pool is pool:
            self._pool = None
            log.error("veil gateway: image workers failed; starting new ones")
        pool.executor.shutdown(wait=False, cancel_futures=True)

    def _retire(self, pool: _Pool, stuck: Future[Redacted | NamesNeeded]) -> None:
        """A worker is stuck: later images go to a new pool; this one is stopped once its
        other images are done (each within its own budget)."""
        self._free(pool, stuck)
        if self._pool is pool:
            self._pool = None
            log.error("veil gateway: an image worker is over its time budget; "
                      "starting new workers")
            self._current()

        async def stop() -> None:
            others = [asyncio.wrap_future(f) for f in pool.running]
            if others:
                await asyncio.wait(others, timeout=self.budget + MARGIN)
            await asyncio.to_thread(_stop, pool.executor, 0.0)

        task = asyncio.create_task(stop())
        self._retiring[task] = pool.executor
        task.add_done_callback(lambda t: self._retiring.pop(t, None))


def _log_failure(ready: asyncio.Task[None]) -> None:
    """Log workers that could not start (also when no image is waiting for them)."""
    if not ready.cancelled() and (exc := ready.exception()) is not None:
        reason = str(exc) if isinstance(exc, VeilError) else type(exc).__name__
        log.error("veil gateway: image workers cannot start (%s)", reason)


def _stop(executor: ProcessPoolExecutor, grace: float) -> None:
    """Shut ``executor`` down; kill the workers still alive after ``grace`` seconds."""
    processes = list((executor._processes or {}).values())  # no public handle before 3.14
    executor.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        process.join(grace)
        if process.is_alive():
            process.kill()
            process.join(5.0)
