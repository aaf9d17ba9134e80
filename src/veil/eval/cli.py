"""``veil eval residual`` and ``veil eval vlm``; registered on the main command group."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import click

from veil.errors import PolicyError, VeilError
from veil.eval.metrics import FRAMINGS, KINDS
from veil.policy import Policy


def _policy(path: Path | None) -> Policy | None:
    try:
        return Policy.load(path) if path else None
    except PolicyError as exc:
        raise click.UsageError(str(exc)) from None


def _progress(label: str, done: int, total: int) -> None:
    step = max(1, total // 10)
    if done == total or done % step == 0:
        click.echo(f"veil eval: {label}: {done}/{total}", err=True)


@click.group("eval")
def eval_group() -> None:
    """Measure what Veil leaves readable, and what a model still discloses through it."""


@eval_group.command("vlm")
@click.option("--endpoint", help="OpenAI-compatible base URL (e.g. http://host:8000/v1); "
                                 "default: the built-in ocr-reader, served locally. The key, "
                                 "if any, comes from $VEIL_UPSTREAM_API_KEY.")
@click.option("--model", help="Model name to request (default with no endpoint: ocr-reader).")
@click.option("--through-veil", is_flag=True, help="Send the probes through the Veil gateway.")
@click.option("--compare", is_flag=True, help="Run without and through Veil, and compare.")
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path),
              help="Report folder: report.json, index.html, report.md, plots/.")
@click.option("--policy", "policy_path", type=click.Path(path_type=Path),
              help="Veil policy for the gateway (its roles and keys are replaced).")
@click.option("--limit", "documents", type=click.IntRange(1, 10_000), default=24,
              show_default=True, help="Documents to generate (each gives 67 probes with "
                                      "every kind).")
@click.option("--kinds", default=",".join(KINDS), show_default=True,
              help="Kinds of planted values to probe, comma separated.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--sweep-docs", "sweep_documents", type=click.IntRange(0, 10_000),
              help="Documents for the privacy-utility sweep over policy variants "
                   "(default: 4 with --compare, else 0 = no sweep).")
@click.option("--thumbnails", type=click.IntRange(0, 50), default=2, show_default=True,
              help="Documents shown before/after in the HTML page.")
@click.option("--timeout", type=float, default=300.0, show_default=True,
              help="Seconds to wait for one answer.")
def vlm(endpoint: str | None, model: str | None, through_veil: bool, compare: bool,
        out_dir: Path, policy_path: Path | None, documents: int, kinds: str, seed: int,
        sweep_documents: int | None, thumbnails: int, timeout: float) -> None:
    """Probe a vision-language model with planted fake values, with and without Veil."""
    from veil.eval import report as rep
    from veil.eval.vlm import Plan, evaluate

    chosen = tuple(k.strip() for k in kinds.split(",") if k.strip())
    unknown = sorted(set(chosen) - set(KINDS))
    if unknown or not chosen:
        raise click.UsageError(f"--kinds: choose from {', '.join(KINDS)}")
    if endpoint is not None and not model:
        raise click.UsageError("--model is required with --endpoint")
    runs = (("without_veil", "with_veil") if compare else
            ("with_veil",) if through_veil else ("without_veil",))
    plan = Plan(endpoint, model or "ocr-reader", runs, documents, chosen, seed,
                sweep_documents if sweep_documents is not None else (4 if compare else 0),
                thumbnails, _policy(policy_path), os.environ.get("VEIL_UPSTREAM_API_KEY"),
                timeout)
    try:
        with tempfile.TemporaryDirectory(prefix="veil-eval-") as work:
            report, pairs = evaluate(plan, Path(work), _progress)
    except VeilError as exc:
        raise click.ClickException(str(exc)) from None
    thumbs = [rep.Thumb(caption, _url(before), _url(after) if after else None)
              for caption, before, after in pairs]
    plots = rep.vlm_plots(report)
    rep.write_report(out_dir, report, rep.vlm_html(report, plots, thumbs), plots,
                     rep.vlm_markdown(report))
    for key in runs:
        run = report[key]
        worst = max((v for f in FRAMINGS for v in run["attack_success"][f].values()
                     if v is not None), default=None)
        click.echo(f"veil eval: {rep.RUN_LABELS[key]}: {rep.pct(run['overall_success'])} of "
                   f"planted values disclosed (worst framing x kind {rep.pct(worst)}), "
                   f"utility {rep.pct(run['utility_accuracy'])}, "
                   f"{rep.ms(run['ms_per_request'])} per request", err=True)
    click.echo(f"veil eval: report in {out_dir / 'index.html'}", err=True)


def _url(png: bytes) -> str:
    from veil.eval.report import data_url
    from veil.images import decode_image
    from veil.policy import Limits

    return data_url(decode_image(png, Limits()).display_rgb())


@eval_group.command("residual")
@click.option("--input", "input_dir", required=True,
              type=click.Path(path_type=Path, exists=True, file_okay=False),
              help="Folder of images (read recursively).")
@click.option("--manifest", "manifests", multiple=True,
              type=click.Path(path_type=Path, exists=True, dir_okay=False),
              help="Ground truth (manifest.jsonl, files relative to its folder); repeatable.")
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path),
              help="Report folder: report.json, index.html, plots/.")
@click.option("--policy", "policy_path", type=click.Path(path_type=Path))
@click.option("--reader", type=click.Choice(["auto", "tesseract", "rapidocr"]), default="auto",
              show_default=True, help="Second OCR: Tesseract if installed (auto), or rapidocr "
                                      "with other settings than Veil's.")
@click.option("--limit", type=click.IntRange(1), help="Only the first N images.")
@click.option("--thumbnails", type=click.IntRange(0, 50), default=4, show_default=True,
              help="Outputs shown in the HTML page.")
@click.option("--show-inputs", is_flag=True,
              help="Also show the inputs in the HTML page (they hold personal data).")
@click.option("--outputs", "outputs_dir", type=click.Path(path_type=Path),
              help="Also write Veil's outputs here.")
def residual(input_dir: Path, manifests: tuple[Path, ...], out_dir: Path,
             policy_path: Path | None, reader: str, limit: int | None, thumbnails: int,
             show_inputs: bool, outputs_dir: Path | None) -> None:
    """Run Veil on a folder, then try to read the hidden values and faces back."""
    from veil.batch import collect
    from veil.eval import report as rep
    from veil.eval.attack import second_reader
    from veil.eval.residual import ResidualAttack, manifest_records, run_residual, summarise
    from veil.images import Picture, write_atomic

    policy = _policy(policy_path) or Policy()
    jobs = collect([str(input_dir)]).jobs
    jobs = jobs[:limit] if limit else jobs
    if not jobs:
        raise click.UsageError(f"no images in {input_dir}")
    try:
        truth = manifest_records(list(manifests)) if manifests else None
        attack = ResidualAttack(policy, second_reader(reader))
    except (OSError, ValueError, RuntimeError, VeilError) as exc:
        raise click.ClickException(str(exc)) from None
    thumbs: list[rep.Thumb] = []

    def keep(name: str, before: Picture, after: Picture, data: bytes) -> None:
        if outputs_dir is not None:
            write_atomic(outputs_dir / name, data)
        if len(thumbs) < thumbnails:
            thumbs.append(rep.Thumb(name, rep.data_url(before.display_rgb()) if show_inputs
                                    else None, rep.data_url(after.display_rgb())))

    def progress(done: int, total: int) -> None:
        _progress("images", done, total)

    try:
        attack.redactor.warm_up()
        results, failures = run_residual([(j.src, str(j.rel)) for j in jobs], attack, truth,
                                         progress, keep)
    except VeilError as exc:
        raise click.ClickException(str(exc)) from None
    report = summarise(results, failures, attack.reader.name, truth is not None)
    report["description"] = (
        f"{len(jobs)} images from {input_dir.name}; known values from "
        f"{'the manifest' if truth is not None else 'what Veil found'} and what the text "
        f"detector finds in all the second reader reads; second reader "
        f"{attack.reader.name}; faces looked for with CenterFace from score "
        f"{report['face_threshold']}.")
    plots = rep.residual_plots(report)
    rep.write_report(out_dir, report, rep.residual_html(report, plots, thumbs), plots,
                     rep.residual_markdown(report))
    faces = report["faces"]
    click.echo(f"veil eval: {report['images']} image(s), {report['failed']} failed; "
               f"values read back {rep.pct(report['leak_rate'])} of those readable; faces "
               f"found again {faces['found_after']} of {faces['known']}; context kept "
               f"{rep.pct(report['context']['share_kept'])}; "
               f"{rep.ms(report['ms_per_image']['median'])} per image (median)", err=True)
    click.echo(f"veil eval: report in {out_dir / 'index.html'}", err=True)
    if failures:
        sys.exit(1)
