"""``veil redact --engine ray``: the same redaction on a Ray cluster, through Ray Data.

Each Ray actor loads the models once (a ``Redactor``, warmed up) and redacts the files it
is given with ``batch.process``, exactly as a local worker does; inputs and outputs are
paths every node can reach (a shared file system). The driver keeps the journal and the
report as the local engine does: ``run_ray`` yields the same ``Report | Failure`` results.
Ray is an optional extra: ``pip install 'veil[ray]'``.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from veil.batch import Failure, process
from veil.errors import VeilError
from veil.pipeline import Redactor
from veil.policy import Policy
from veil.report import Report, report_from_dict

LOCAL_OBJECT_STORE = 256 * 1024 * 1024
"""Object store of a local instance: results are small JSON lines, pictures stay on disk."""


class RayUnavailableError(VeilError):
    """Ray is not installed, or the cluster cannot be reached."""


class RedactActor:
    """One Ray Data actor: models loaded once, then one file per call."""

    def __init__(self, policy: Policy, session: str | None, threads: int) -> None:
        os.environ["VEIL_THREADS"] = str(threads)
        self.redactor = Redactor(policy)
        self.redactor.warm_up()
        self.session = session

    def __call__(self, batch: dict[str, Any]) -> dict[str, list[str]]:
        results = []
        for src, dst in zip(batch["src"], batch["dst"], strict=True):
            out = Path(str(dst)) if str(dst) else None  # "": only scan
            results.append(_encode(process(self.redactor, Path(str(src)), out, self.session)))
        return {"result": results}


def _encode(result: Report | Failure) -> str:
    if isinstance(result, Failure):
        return json.dumps({"failure": {"src": result.src, "reason": result.reason}})
    return json.dumps({"report": result.to_dict()})


def _decode(line: str) -> Report | Failure:
    data = json.loads(line)
    if "failure" in data:
        return Failure(str(data["failure"]["src"]), str(data["failure"]["reason"]))
    return report_from_dict(data["report"])


def run_ray(tasks: Sequence[tuple[Path, Path | None]], policy: Policy, workers: int | None = None,
            session: str | None = None, stop: threading.Event | None = None,
            address: str | None = None) -> Iterator[Report | Failure]:
    """Redact (src, dst) pairs on Ray, yielding results as they arrive. Without ``address``
    a local Ray instance is started (and stopped at the end). ``workers``: actors (default
    one per CPU of the cluster). Once ``stop`` is set no more results are taken; files
    already being redacted are left to their actors (outputs are still temp + rename)."""
    try:
        import ray
        import ray.data
    except ImportError:
        raise RayUnavailableError("--engine ray needs Ray: pip install 'veil[ray]'") from None
    if not tasks:
        return
    started = not ray.is_initialized()
    if started:
        try:
            ray.init(address=address, include_dashboard=False, log_to_driver=False,
                     logging_level=logging.WARNING, configure_logging=False,
                     object_store_memory=None if address else LOCAL_OBJECT_STORE)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise RayUnavailableError(f"cannot reach the Ray cluster ({type(exc).__name__})"
                                      ) from None
    try:
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = False
        logging.getLogger("ray.data").setLevel(logging.WARNING)
        resources: dict[str, float] = ray.cluster_resources()  # type: ignore[no-untyped-call]
        cpus = max(1, int(resources.get("CPU", 1)))
        size = max(1, min(workers or cpus, len(tasks)))
        threads = max(1, cpus // size)
        items = [{"src": str(src), "dst": "" if dst is None else str(dst)}
                 for src, dst in tasks]
        dataset = ray.data.from_items(items, override_num_blocks=len(items)).map_batches(
            RedactActor, fn_constructor_args=(policy, session, threads), batch_size=1,
            compute=ray.data.ActorPoolStrategy(size=size), num_cpus=cpus / size)
        for row in dataset.iter_rows():
            yield _decode(str(row["result"]))
            if stop is not None and stop.is_set():
                return
    finally:
        if started:
            ray.shutdown()
