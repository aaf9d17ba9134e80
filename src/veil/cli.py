"""The ``veil`` command line."""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import click

from veil.batch import Failure, collect, plan_outputs, run
from veil.errors import PolicyError, VeilError
from veil.images import write_atomic
from veil.policy import Policy
from veil.report import Report


def _load_policy(path: Path | None) -> Policy:
    try:
        return Policy.load(path) if path else Policy()
    except PolicyError as exc:
        raise click.UsageError(str(exc)) from None


def _fail_line(failure: Failure) -> None:
    click.echo(f"veil: FAILED {failure.src}: {failure.reason}", err=True)


def _run(tasks: Sequence[tuple[Path, Path | None]], policy: Policy,
         workers: int) -> Iterator[Report | Failure]:
    """Results of ``batch.run``; a setup error (a missing model) ends the command."""
    try:
        yield from run(tasks, policy, workers)
    except VeilError as exc:
        raise click.ClickException(str(exc)) from None


def _progress(results: Iterable[Report | Failure], total: int) -> Iterable[Report | Failure]:
    """A progress bar on stderr for interactive runs of more than a few images."""
    if total < 3 or not sys.stderr.isatty():
        yield from results
        return
    with click.progressbar(length=total, label="images", file=sys.stderr,
                           show_pos=True) as bar:
        for result in results:
            bar.update(1)
            yield result


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="veil")
def main() -> None:
    """Veil: hide personal data in images and text before a model sees them."""


@main.command()
@click.argument("inputs", nargs=-1, required=True)
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path),
              help="Folder for the outputs (file names and sub-folders are kept).")
@click.option("--policy", "policy_path", type=click.Path(path_type=Path),
              help="YAML policy file (defaults: every kind hidden with a black fill).")
@click.option("--report", "report_path", type=click.Path(path_type=Path),
              help="Write one JSON line per image: regions hidden, metadata removed, time.")
@click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Processes to run in parallel.")
def redact(inputs: Sequence[str], out_dir: Path, policy_path: Path | None,
           report_path: Path | None, workers: int) -> None:
    """Hide faces and metadata in images: INPUTS are files, globs or folders."""
    policy = _load_policy(policy_path)
    jobs, failures = collect(inputs)
    planned, refused = plan_outputs(jobs, out_dir)
    failures += refused
    for failure in failures:
        _fail_line(failure)
    start = time.perf_counter()
    reports: list[Report] = []
    lines: list[dict[str, object]] = [{"file": f.src, "error": f.reason} for f in failures]
    tasks = [(job.src, dst) for job, dst in planned]
    for result in _progress(_run(tasks, policy, workers), len(tasks)):
        if isinstance(result, Failure):
            failures.append(result)
            _fail_line(result)
            lines.append({"file": result.src, "error": result.reason})
        else:
            reports.append(result)
            lines.append(result.to_dict())
    if report_path is not None:
        body = "".join(json.dumps(line, sort_keys=True) + "\n" for line in lines)
        write_atomic(report_path, body.encode())
    _summary(reports, failures, time.perf_counter() - start)
    if failures or not reports:
        sys.exit(1)


def _summary(reports: list[Report], failures: list[Failure], seconds: float) -> None:
    kinds: Counter[str] = Counter()
    for report in reports:
        kinds.update(report.counts())
    hidden = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())) or "nothing"
    rate = f", {seconds / len(reports):.2f} s/image" if reports else ""
    click.echo(f"veil: {len(reports)} image(s) done, {len(failures)} failed; hidden: {hidden}"
               f"{rate}", err=True)
    if not reports and not failures:
        click.echo("veil: no input images found", err=True)


@main.command()
@click.argument("inputs", nargs=-1, required=True)
@click.option("--policy", "policy_path", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="One JSON line per image on stdout.")
@click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True)
def scan(inputs: Sequence[str], policy_path: Path | None, as_json: bool, workers: int) -> None:
    """Show what would be hidden in INPUTS; nothing is written."""
    policy = _load_policy(policy_path)
    jobs, failures = collect(inputs)
    for failure in failures:
        _fail_line(failure)
    reports = 0
    for result in _run([(job.src, None) for job in jobs], policy, workers):
        if isinstance(result, Failure):
            failures.append(result)
            _fail_line(result)
            if as_json:
                click.echo(json.dumps({"file": result.src, "error": result.reason}))
            continue
        reports += 1
        if as_json:
            click.echo(json.dumps(result.to_dict(), sort_keys=True))
        else:
            counts = ", ".join(f"{n} {k}" for k, n in sorted(result.counts().items()))
            meta = ", ".join(result.metadata_removed)
            click.echo(f"{result.file}: {counts or 'no regions'}"
                       f"{'; metadata: ' + meta if meta else ''}")
    if failures or not reports:
        if not reports and not failures:
            click.echo("veil: no input images found", err=True)
        sys.exit(1)
