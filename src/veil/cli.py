"""The ``veil`` command line."""

from __future__ import annotations

import io
import json
import statistics
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import click

from veil.batch import Failure, Skipped, collect, plan_outputs, run, stop_on_signals
from veil.errors import PolicyError, VeilError
from veil.eval.cli import eval_group
from veil.images import write_atomic
from veil.journal import (
    Entry,
    Journal,
    JournalError,
    ReportFile,
    policy_fingerprint,
    resume_plan,
    sha256_file,
)
from veil.policy import Policy
from veil.pseudo.canonical import all_canonicals
from veil.pseudo.engine import (
    ENTITIES,
    Pseudonymizer,
    check_text,
    default_detector,
    protected,
)
from veil.pseudo.vault import Vault
from veil.report import Report
from veil.review.cli import review
from veil.server.cli import audit, serve
from veil.summary import Done, write_summary


def _load_policy(path: Path | None) -> Policy:
    try:
        return Policy.load(path) if path else Policy()
    except PolicyError as exc:
        raise click.UsageError(str(exc)) from None


def _fail_line(failure: Failure) -> None:
    click.echo(f"veil: FAILED {failure.src}: {failure.reason}", err=True)


def _skip_lines(skipped: Sequence[Skipped]) -> None:
    for item in skipped:
        click.echo(f"veil: skipped {item.src}: {item.reason}", err=True)


def _run(tasks: Sequence[tuple[Path, Path | None]], policy: Policy,
         workers: int | None, session: str | None = None,
         stop: threading.Event | None = None, address: str | None = None,
         engine: str = "local") -> Iterator[Report | Failure]:
    """Results of ``batch.run`` (or of the Ray engine); a setup error (a missing model,
    Ray missing or unreachable) ends the command."""
    try:
        if engine == "ray":
            from veil.ray_engine import run_ray

            yield from run_ray(tasks, policy, workers, session, stop, address)
        else:
            yield from run(tasks, policy, workers, session, stop)
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
              help="Write one JSON line per image: regions hidden, metadata removed, time "
              "and time per stage.")
@click.option("--workers", type=click.IntRange(1, 256), default=None,
              help="Processes to run in parallel (default: one per core).")
@click.option("--session", help="Vault session whose pseudonyms the replace operator writes "
              "(the ones `veil pseudonymize --session` gives the prompt).")
@click.option("--summary", "summary_path", type=click.Path(path_type=Path),
              help="Write an HTML summary of the run: regions per kind, failures, slowest "
              "files, thumbnails of some outputs.")
@click.option("--summary-originals", is_flag=True, help="Put thumbnails of the originals "
              "beside the outputs in the summary (they show what was hidden).")
@click.option("--engine", type=click.Choice(["local", "ray"]), default="local",
              show_default=True, help="local: a process pool on this machine; ray: a Ray "
              "cluster through Ray Data (pip install 'veil[ray]'), paths shared by all nodes.")
@click.option("--address", help="With --engine ray: the cluster's address (e.g. "
              "ray://head:10001); without it a local Ray instance is started.")
@click.option("--force", is_flag=True, help="Redo every input, also those the output folder's "
              "journal lists as written from the same input bytes with the same policy.")
def redact(inputs: Sequence[str], out_dir: Path, policy_path: Path | None,
           report_path: Path | None, workers: int | None, session: str | None,
           engine: str, address: str | None, force: bool, summary_path: Path | None,
           summary_originals: bool) -> None:
    """Hide faces, personal text, plates, codes and metadata in images and documents:
    INPUTS are files, globs or folders. An interrupted run resumes when run again (see
    --force)."""
    if address is not None and engine != "ray":
        raise click.UsageError("--address needs --engine ray")
    policy = _load_policy(policy_path)
    found = collect(inputs)
    planned, refused = plan_outputs(found.jobs, out_dir)
    failures = found.failures + refused
    for failure in failures:
        _fail_line(failure)
    _skip_lines(found.skipped)
    start = time.perf_counter()
    reports: list[Report] = []
    try:
        report_file = ReportFile(report_path)
        for failure in failures:
            report_file.write({"file": failure.src, "error": failure.reason})
        for item in found.skipped:
            report_file.write({"file": item.src, "skipped": item.reason})
        if not planned:  # nothing to write: no journal either (--out may be an input folder)
            report_file.close()
            _summary(reports, failures, found.skipped, 0.0)
            sys.exit(1)
        journal = Journal(out_dir)
    except JournalError as exc:
        raise click.ClickException(str(exc)) from None
    with journal, report_file, stop_on_signals(_stopping) as stop:
        fingerprint = policy_fingerprint(policy, session)
        resumed, todo = resume_plan(journal, planned, fingerprint, force)
        for report in resumed:
            report_file.write({**report.to_dict(), "resumed": True})
        by_src = {str(p.src): p for p in todo}
        tasks = [(p.src, p.dst) for p in todo]
        results = _run(tasks, policy, workers, session, stop.event, address, engine)
        for result in _progress(results, len(tasks)):
            if isinstance(result, Failure):
                failures.append(result)
                _fail_line(result)
                report_file.write({"file": result.src, "error": result.reason})
                continue
            pending = by_src[str(result.file)]
            journal.record(Entry(pending.rel, pending.input_sha256, fingerprint,
                                 sha256_file(pending.dst), result, str(pending.src.resolve())))
            reports.append(result)
            report_file.write(result.to_dict())
    seconds = time.perf_counter() - start
    _summary(reports, failures, found.skipped, seconds, resumed)
    if summary_path is not None:
        outputs = {str(job.src): dst for job, dst in planned}
        done = [Done(r, outputs[str(r.file)], True) for r in resumed]
        done += [Done(r, outputs[str(r.file)]) for r in reports]
        write_summary(summary_path, done, failures, seconds, summary_originals, policy.limits)
    if stop.signum is not None:
        click.echo(f"veil: interrupted; {len(reports) + len(resumed)} of {len(planned)} "
                   "file(s) finished, run the same command again to resume", err=True)
        sys.exit(128 + stop.signum)
    if failures or not (reports or resumed):
        sys.exit(1)


def _stopping() -> None:
    click.echo("\nveil: stopping after the files in progress (signal again to stop at once)",
               err=True)


def _summary(reports: list[Report], failures: list[Failure], skipped: list[Skipped],
             seconds: float, resumed: Sequence[Report] = ()) -> None:
    kinds: Counter[str] = Counter()
    for report in [*reports, *resumed]:
        kinds.update(report.counts())
    hidden = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())) or "nothing"
    rate = ""
    if reports:
        median = statistics.median(r.ms for r in reports) / 1000
        rate = f"; {median:.2f} s/file median, {seconds:.1f} s in all with models loading"
    left = f", {len(skipped)} skipped" if skipped else ""
    earlier = f", {len(resumed)} finished earlier (resumed)" if resumed else ""
    click.echo(f"veil: {len(reports)} file(s) done{earlier}, {len(failures)} failed{left}; "
               f"hidden: {hidden}{rate}", err=True)
    if not reports and not failures and not resumed:
        click.echo("veil: no input files found that Veil handles", err=True)


@main.command()
@click.argument("inputs", nargs=-1, required=True)
@click.option("--policy", "policy_path", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="One JSON line per image on stdout.")
@click.option("--workers", type=click.IntRange(1, 256), default=None,
              help="Processes to run in parallel (default: one per core).")
def scan(inputs: Sequence[str], policy_path: Path | None, as_json: bool,
         workers: int | None) -> None:
    """Show what would be hidden in INPUTS; nothing is written."""
    policy = _load_policy(policy_path)
    found = collect(inputs)
    failures = found.failures
    for failure in failures:
        _fail_line(failure)
    _skip_lines(found.skipped)
    reports = 0
    for result in _run([(job.src, None) for job in found.jobs], policy, workers):
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
            click.echo("veil: no input files found that Veil handles", err=True)
        sys.exit(1)


# --- text ------------------------------------------------------------------------------

_vault_option = click.option(
    "--vault", "vault_path", metavar="PATH|URL",
    help="Vault: a SQLite file (default: $VEIL_VAULT_PATH or ~/.local/share/veil/vault.db), "
         "postgresql://... or memory:; key from $VEIL_VAULT_KEY, $VEIL_VAULT_KEY_FILE, "
         "$VEIL_VAULT_KEY_PROVIDER or the key file beside a SQLite vault.")


def _open_vault(path: str | None) -> Vault:
    try:
        return Vault(path)
    except VeilError as exc:
        raise click.ClickException(str(exc)) from None


def _read_stdin_text() -> str:
    data = sys.stdin.buffer.read()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise click.ClickException(
            f"input is not valid UTF-8 text (byte {exc.start}); nothing was written") from None


@main.command("scan-text")
@click.option("--jsonl", "paths", nargs=2, required=True, metavar="IN OUT",
              help="IN: one JSON object a line with a field 'text' (- for stdin); OUT: the "
                   "same lines with 'findings' added (- for stdout).")
@click.option("--policy", "policy_path", type=click.Path(path_type=Path))
def scan_text_command(paths: tuple[str, str], policy_path: Path | None) -> None:
    """Find personal data in texts: start, end, entity and score of each finding."""
    policy = _load_policy(policy_path)
    src, dst = paths
    try:
        raw = sys.stdin.buffer.read() if src == "-" else Path(src).read_bytes()
        lines = raw.decode("utf-8").splitlines()
    except OSError as exc:
        raise click.ClickException(f"cannot read {src}: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise click.ClickException(f"{src} is not valid UTF-8 (byte {exc.start})") from None
    records, bad = parse_text_lines(lines, policy)
    for number, reason in bad.items():
        click.echo(f"veil: FAILED line {number}: {reason}", err=True)
    texts = [str(record["text"]) for record in records.values()]
    findings = default_detector(policy).scan_many(texts)
    out: list[str] = []
    found = iter(findings)
    for number in range(1, len(lines) + 1):
        if number in bad:
            out.append(json.dumps({"line": number, "error": bad[number]}))
        elif number in records:
            spans = protected(next(found), policy)
            record = {**records[number], "findings": [
                {"start": s.start, "end": s.end, "entity": s.entity, "score": round(s.score, 3),
                 "source": s.source}
                for s in spans]}
            out.append(json.dumps(record, ensure_ascii=False))
    body = "".join(line + "\n" for line in out)
    if dst == "-":
        click.echo(body, nl=False)
    else:
        write_atomic(Path(dst), body.encode("utf-8"))
    click.echo(f"veil: {len(records)} text(s) scanned, {len(bad)} failed", err=True)
    if bad:
        sys.exit(1)


def parse_text_lines(lines: list[str], policy: Policy
                     ) -> tuple[dict[int, dict[str, object]], dict[int, str]]:
    """JSON objects with a string 'text', by line number; reasons for the lines that are not.
    Blank lines are skipped."""
    records: dict[int, dict[str, object]] = {}
    bad: dict[int, str] = {}
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            bad[number] = f"not valid JSON ({exc.msg})"
            continue
        if not isinstance(record, dict) or not isinstance(record.get("text"), str):
            bad[number] = "expected an object with a string field 'text'"
            continue
        try:
            check_text(record["text"], policy)
        except VeilError as exc:
            bad[number] = str(exc)
            continue
        records[number] = record
    return records, bad


@main.command("pseudonymize")
@click.option("--session", required=True, help="Conversation id: pseudonyms are consistent "
                                               "within it and unrelated across sessions.")
@click.option("--style", type=click.Choice(["token", "surrogate"]), default="token",
              show_default=True, help="<PERSON_1> tokens, or realistic fake values.")
@click.option("--policy", "policy_path", type=click.Path(path_type=Path))
@_vault_option
def pseudonymize_command(session: str, style: str, policy_path: Path | None,
                         vault_path: str | None) -> None:
    """Replace personal data read on stdin by pseudonyms; write the result to stdout."""
    policy = _load_policy(policy_path)
    text = _read_stdin_text()
    with _open_vault(vault_path) as vault:
        try:
            result = Pseudonymizer(vault, style=style,  # type: ignore[arg-type]
                                   policy=policy).pseudonymize(text, session)
        except VeilError as exc:
            raise click.ClickException(str(exc)) from None
    sys.stdout.write(result.text)
    counts = ", ".join(f"{n} {k}" for k, n in sorted(result.counts().items())) or "nothing"
    click.echo(f"veil: replaced {counts}", err=True)


@main.command("restore")
@click.option("--session", required=True)
@_vault_option
def restore_command(session: str, vault_path: str | None) -> None:
    """Put the session's originals back into text read on stdin (streamed to stdout)."""
    with _open_vault(vault_path) as vault:
        try:
            stream = Pseudonymizer(vault).stream(session)
        except VeilError as exc:
            raise click.ClickException(str(exc)) from None
    reader = io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8", errors="strict")
    try:
        for chunk in iter(lambda: reader.read(4096), ""):
            sys.stdout.write(stream.feed(chunk))
            sys.stdout.flush()
    except UnicodeDecodeError:
        raise click.ClickException("input is not valid UTF-8 text") from None
    sys.stdout.write(stream.flush())


@main.group("vault")
def vault_group() -> None:
    """Manage the pseudonym vault."""


@vault_group.command("forget")
@click.option("--value", required=True, help="The personal value to erase everywhere.")
@_vault_option
def vault_forget(value: str, vault_path: str | None) -> None:
    """Erase every mapping of a value, in every session (right to erasure)."""
    with _open_vault(vault_path) as vault:
        try:
            erased = vault.forget(all_canonicals(value, tuple(ENTITIES)))
        except VeilError as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(f"veil: erased {erased} mapping(s)", err=True)


@vault_group.command("purge")
@_vault_option
def vault_purge(vault_path: str | None) -> None:
    """Delete the mappings of expired sessions."""
    with _open_vault(vault_path) as vault:
        click.echo(f"veil: purged {vault.purge_expired()} mapping(s)", err=True)


@vault_group.command("rotate-key")
@_vault_option
@click.option("--new-key-file", type=click.Path(path_type=Path, dir_okay=False),
              help="Re-wrap every data key under the key in this file (created, 0600, when "
                   "missing); the current key stops opening the vault.")
@click.option("--new-key-provider", metavar="MODULE:FACTORY",
              help="Re-wrap every data key under this key provider's key instead.")
def vault_rotate_key(vault_path: str | None, new_key_file: Path | None,
                     new_key_provider: str | None) -> None:
    """Rotate keys without downtime. Alone: a new data key for new values (older values keep
    theirs). With a new key: every data key re-wrapped under it; running gateways keep
    working, restart them with the new key when convenient. Nothing is re-encrypted."""
    from veil.pseudo.keys import load_provider, read_key_file, resolve_provider

    if new_key_file and new_key_provider:
        raise click.UsageError("give --new-key-file or --new-key-provider, not both")
    with _open_vault(vault_path) as vault:
        try:
            new = (load_provider(new_key_provider) if new_key_provider else
                   resolve_provider(key=read_key_file(new_key_file, create=True))
                   if new_key_file else None)
            done = vault.rotate_key(new)
        except VeilError as exc:
            raise click.ClickException(str(exc)) from None
    if new is None:
        click.echo(f"veil: new values are sealed with data key {done.generation}", err=True)
    else:
        click.echo(f"veil: {done.rewrapped} data key(s) re-wrapped under {done.key_id}; give "
                   "the gateways the new key before they next start", err=True)


main.add_command(serve)
main.add_command(audit)
main.add_command(eval_group)
main.add_command(review)
