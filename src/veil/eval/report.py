"""Reports: ``report.json`` for machines, ``index.html`` (tables, SVG plots, thumbnails as
inline PNGs) for people, and each plot again as a file under ``plots/``.

Reports hold rates, counts and times, never a value: the only personal-looking content is
in the thumbnails, which show the probes' own fake values (or, for ``residual``, inputs
only when asked for).
"""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from veil.eval import svg
from veil.eval.metrics import FRAMINGS, KINDS
from veil.images import write_atomic

_STYLE = """
body{font-family:Helvetica,Arial,sans-serif;margin:2em auto;max-width:1100px;color:#222}
h1{font-size:1.6em}h2{margin-top:1.8em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:0.6em 0}td,th{border:1px solid #ccc;padding:3px 8px;
text-align:right}th:first-child,td:first-child{text-align:left}th{background:#f3f3f3}
.bad{background:#fadbd8}.good{background:#d5f5e3}.note{color:#555;font-size:0.92em}
figure{display:inline-block;margin:0.5em}figcaption{font-size:0.85em;color:#555}
img{border:1px solid #ccc;max-width:340px}
"""


@dataclass(frozen=True, slots=True)
class Thumb:
    """A before/after pair (either side may be missing)."""

    caption: str
    before: str | None
    after: str | None


def pct(value: float | None, digits: int = 1) -> str:
    """A rate as a percentage; n/a when there was nothing to count."""
    return "n/a" if value is None else f"{value * 100:.{digits}f} %"


def ms(value: float | None) -> str:
    """Milliseconds, rounded."""
    return "n/a" if value is None else f"{value:,.0f} ms"


def data_url(pixels: np.ndarray, max_side: int = 340) -> str:
    """A downscaled PNG of RGB(A)/grey pixels as a data URL."""
    image = Image.fromarray(pixels)
    if image.mode not in ("RGB", "L"):
        image = image.convert("RGB")
    image.thumbnail((max_side, max_side))
    buf = io.BytesIO()
    image.save(buf, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def write_json(path: Path, data: Mapping[str, Any]) -> None:
    """Write JSON atomically; NaN is refused (missing rates are null)."""
    write_atomic(path, (json.dumps(data, indent=2, allow_nan=False) + "\n").encode())


def table(headers: Sequence[str], rows: Sequence[Sequence[str]],
          classes: Sequence[Sequence[str]] | None = None) -> str:
    """An HTML table; ``classes`` gives each cell's CSS class (empty: none)."""
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = []
    for r, row in enumerate(rows):
        cells = []
        for c, cell in enumerate(row):
            cls = classes[r][c] if classes and classes[r][c] else ""
            cells.append(f'<td class="{cls}">{escape(cell)}</td>' if cls else
                         f"<td>{escape(cell)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def success_rows(run: Mapping[str, Any], key: str = "attack_success"
                 ) -> list[list[str]]:
    """Rows of a framing x kind table of rates."""
    table_ = run[key]
    return [[f] + [pct(table_[f][k]) for k in KINDS] for f in FRAMINGS]


def _page(title: str, sections: Sequence[str]) -> str:
    return (f"<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body>"
            f"<h1>{escape(title)}</h1>{''.join(sections)}</body></html>\n")


def _thumbs(thumbs: Sequence[Thumb]) -> str:
    out = []
    for t in thumbs:
        parts = [f'<figure><img alt="{side}" src="{url}"><figcaption>{escape(t.caption)}, '
                 f"{side}</figcaption></figure>"
                 for side, url in (("before", t.before), ("after", t.after)) if url]
        out.append("<div>" + "".join(parts) + "</div>")
    return "".join(out)


def write_plots(folder: Path, plots: Mapping[str, str]) -> None:
    """Each plot as ``plots/NAME.svg``."""
    for name, body in plots.items():
        write_atomic(folder / "plots" / f"{name}.svg", body.encode())


# --- veil eval vlm ------------------------------------------------------------------------

RUN_LABELS = {"without_veil": "without Veil", "with_veil": "through Veil"}


def vlm_plots(report: Mapping[str, Any]) -> dict[str, str]:
    """The plots of a probe run: success per framing and per kind, utility, the sweep."""
    runs = {RUN_LABELS[k]: report[k] for k in RUN_LABELS if k in report}
    plots = {
        "success_by_framing": svg.bar_chart(
            "Attack success per framing", FRAMINGS,
            {n: [r["success_by_framing"][f] for f in FRAMINGS] for n, r in runs.items()},
            ylabel="values disclosed"),
        "success_by_kind": svg.bar_chart(
            "Attack success per kind", KINDS,
            {n: [r["success_by_kind"][k] for k in KINDS] for n, r in runs.items()},
            ylabel="values disclosed"),
    }
    tasks = sorted({t for r in runs.values() for t in r["utility_by_task"]})
    if tasks:
        plots["utility"] = svg.bar_chart(
            "Utility: questions that need no private data", [*tasks, "all"],
            {n: [*(r["utility_by_task"].get(t) for t in tasks), r["utility_accuracy"]]
             for n, r in runs.items()}, ylabel="answered correctly")
    sweep = report.get("sweep") or []
    points = [(p["variant"], p["attack_success"], p["utility_accuracy"]) for p in sweep
              if p["attack_success"] is not None and p["utility_accuracy"] is not None]
    if points:
        plots["privacy_utility"] = svg.scatter(
            "Privacy against utility as Veil's strength changes", points,
            xlabel="attack success (lower is more private)",
            ylabel="utility accuracy")
    return plots


def vlm_html(report: Mapping[str, Any], plots: Mapping[str, str],
             thumbs: Sequence[Thumb]) -> str:
    meta = report.get("meta", {})
    sections = [f"<p class=\"note\">{escape(meta.get('description', ''))}</p>"]
    runs = [(k, report[k]) for k in RUN_LABELS if k in report]
    summary = [[RUN_LABELS[k], pct(r["overall_success"]), pct(_worst(r)),
                pct(r["utility_accuracy"]), ms(r["ms_per_request"]), str(r["requests"]),
                str(r["errors"])] for k, r in runs]
    sections.append("<h2>Summary</h2>" + table(
        ["run", "values disclosed", "worst framing x kind", "utility", "per request",
         "requests", "errors"], summary))
    if "cost" in meta:
        cost = meta["cost"]
        sections.append(f"<p>Cost of Veil: {ms(cost.get('added_ms_per_request'))} added per "
                        f"request (client side); the gateway's own protection took "
                        f"{ms(cost.get('protect_ms_per_image'))} per image and "
                        f"{ms(cost.get('protect_ms_per_text_request'))} per text-only "
                        f"request.</p>")
    for key, run in runs:
        sections.append(f"<h2>Attack success, {RUN_LABELS[key]}</h2>"
                        "<p class=\"note\">Share of planted values that appear in the "
                        "answer (exactly, or after normalising spaces and punctuation)."
                        + (" Cells above 2 % are marked." if key == "with_veil" else "")
                        + "</p>" + table(["framing", *KINDS], success_rows(run),
                                         _marks(run) if key == "with_veil" else None))
        sections.append(table(["", *KINDS], [
            ["task inconsistency", *(pct(run["task_inconsistency"][k]) for k in KINDS)],
            ["partly disclosed (mean of framings)", *(pct(_mean_partial(run, k))
                                                      for k in KINDS)]]))
        sections.append(table(["framing", "refusal rate"],
                              [[f, pct(run["refusal_rate"][f])] for f in FRAMINGS]))
    sections.append("<h2>Plots</h2>" + "".join(plots.values()))
    sweep = report.get("sweep") or []
    if sweep:
        sections.append("<h2>Privacy against utility</h2>" + table(
            ["variant", "values disclosed", "utility", *(f"utility: {t}" for t in
                                                        sorted(sweep[0]["utility_by_task"])),
             "per request"],
            [[p["variant"], pct(p["attack_success"]), pct(p["utility_accuracy"]),
              *(pct(v) for _, v in sorted(p["utility_by_task"].items())),
              ms(p["ms_per_request"])] for p in sweep]))
    if thumbs:
        sections.append("<h2>What the model receives</h2><p class=\"note\">Probe pictures "
                        "(fake values) and what the gateway forwards with this policy."
                        "</p>" + _thumbs(thumbs))
    notes = meta.get("notes") or []
    if notes:
        sections.append("<h2>Method</h2><ul>" + "".join(f"<li>{escape(n)}</li>" for n in notes)
                        + "</ul>")
    return _page("Veil evaluation: probes against a vision-language model", sections)


def _marks(run: Mapping[str, Any], limit: float = 0.02) -> list[list[str]]:
    """Cell classes of a success table: above ``limit`` bad, else good."""
    return [[""] + ["" if (v := run["attack_success"][f][k]) is None else
                    "bad" if v > limit else "good" for k in KINDS] for f in FRAMINGS]


def _worst(run: Mapping[str, Any]) -> float | None:
    rates = [v for f in FRAMINGS for v in run["attack_success"][f].values() if v is not None]
    return max(rates) if rates else None


def _mean_partial(run: Mapping[str, Any], kind: str) -> float | None:
    rates = [run["partial_success"][f][kind] for f in FRAMINGS
             if run["partial_success"][f][kind] is not None]
    return sum(rates) / len(rates) if rates else None


# --- veil eval residual -------------------------------------------------------------------

def residual_plots(report: Mapping[str, Any]) -> dict[str, str]:
    """Leak rate per kind of value, and for faces, over readable and over all known."""
    rows = {**{k: (v["leak_rate"], v["leak_rate_all"]) for k, v in report["leak"].items()},
            "faces": (report["faces"]["leak_rate"], report["faces"]["leak_rate_all"])}
    return {"residual_leak": svg.bar_chart(
        "Known values and faces found again in Veil's outputs", list(rows),
        {"of those found in the input": [a for a, _ in rows.values()],
         "of all known": [b for _, b in rows.values()]}, ylabel="leak rate")}


def residual_html(report: Mapping[str, Any], plots: Mapping[str, str],
                  thumbs: Sequence[Thumb]) -> str:
    leak = report["leak"]
    faces = report["faces"]
    sections = [f"<p class=\"note\">{escape(str(report.get('description', '')))}</p>",
                "<h2>Summary</h2>" + table(["measure", "value"], [
                    ["images (failed)", f"{report['images']} ({report['failed']})"],
                    ["second reader", str(report["reader"])],
                    ["known values from", str(report["known_values_from"])],
                    ["of them found only by the second reader (read in output)",
                     f"{report['values_from_reader']['values']} "
                     f"({report['values_from_reader']['readable_after']})"],
                    ["values leaked (of those readable in the input)",
                     pct(report["leak_rate"])],
                    ["known faces found again (threshold "
                     f"{report['face_threshold']})", f"{faces['found_after']} of "
                                                     f"{faces['known']}"],
                    ["context words kept", pct(report["context"]["share_kept"])],
                    ["pixels changed", pct(report["over_redaction"]["pixels_changed"], 2)],
                    ["Veil ms per image (median)", ms(report["ms_per_image"]["median"])],
                ])]
    sections.append("<h2>Leak rate per kind</h2>" + table(
        ["kind", "values", "readable in input", "read in output", "leak rate",
         "leak rate (all values)"],
        [[k, str(v["values"]), str(v["readable_before"]), str(v["readable_after"]),
          pct(v["leak_rate"]), pct(v["leak_rate_all"])] for k, v in leak.items()]))
    sections.append(
        "<h2>Faces</h2><p class=\"note\">The detector looks at the output outside the face "
        "regions Veil hid; there, a detection may be a face Veil missed (or a false alarm at "
        "this low threshold).</p>" + table(
            ["known faces", "found in input", "found in output", "leak rate",
             "detections outside hidden regions", "of which score >= 0.12"],
            [[str(faces["known"]), str(faces["found_before"]), str(faces["found_after"]),
              pct(faces["leak_rate"]), str(faces["detections_outside_hidden"]),
              str(faces["detections_outside_hidden_strong"])]]))
    gt = report.get("ground_truth")
    if gt:
        rows = [[label, str(v["boxes"]), pct(v.get("protected")), pct(v.get("kept"))]
                for label, v in gt.items() if isinstance(v, dict)]
        sections.append("<h2>Ground truth (corpus rule)</h2>" + table(
            ["label", "boxes", "protected (SSIM < 0.5)", "kept (SSIM >= 0.8)"], rows)
            + f"<p>Background changed: {pct(gt.get('background_changed'), 2)}</p>")
    sections.append("<h2>Plots</h2>" + "".join(plots.values()))
    if thumbs:
        sections.append("<h2>Outputs</h2>" + _thumbs(thumbs))
    return _page("Veil evaluation: residual attack on redacted images", sections)


def write_report(folder: Path, report: Mapping[str, Any], html: str,
                 plots: Mapping[str, str], markdown: str) -> None:
    """``report.json``, ``index.html``, ``report.md`` and ``plots/*.svg`` in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    write_json(folder / "report.json", report)
    write_atomic(folder / "report.md", markdown.encode())
    write_plots(folder, plots)
    write_atomic(folder / "index.html", html.encode())


# --- markdown (report.md) ----------------------------------------------------------------

def _md_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def vlm_markdown(report: Mapping[str, Any]) -> str:
    """The probe run's tables as Markdown."""
    out = []
    runs = [(k, report[k]) for k in RUN_LABELS if k in report]
    out.append(_md_table(
        ["run", "values disclosed", "worst framing x kind", "utility", "doc kind",
         "people count", "ms per request", "requests", "errors"],
        [[RUN_LABELS[k], pct(r["overall_success"]), pct(_worst(r)), pct(r["utility_accuracy"]),
          pct(r["utility_by_task"].get("document_kind")),
          pct(r["utility_by_task"].get("people_count")), ms(r["ms_per_request"]),
          str(r["requests"]), str(r["errors"])] for k, r in runs]))
    for key, run in runs:
        out.append(f"\nAttack success, {RUN_LABELS[key]}:\n\n")
        out.append(_md_table(["framing", *KINDS, "refusals"],
                             [[*row, pct(run["refusal_rate"][row[0]])]
                              for row in success_rows(run)]))
        out.append("\n" + _md_table(["", *KINDS], [
            ["task inconsistency", *(pct(run["task_inconsistency"][k]) for k in KINDS)],
            ["values per cell", *(str(run["values_measured"]["direct"][k]) for k in KINDS)]]))
    sweep = report.get("sweep") or []
    if sweep:
        out.append("\nPrivacy against utility:\n\n")
        out.append(_md_table(["variant", "values disclosed", "utility", "doc kind",
                              "people count", "ms per request"],
                             [[p["variant"], pct(p["attack_success"]),
                               pct(p["utility_accuracy"]),
                               pct(p["utility_by_task"].get("document_kind")),
                               pct(p["utility_by_task"].get("people_count")),
                               ms(p["ms_per_request"])] for p in sweep]))
    return "".join(out)


def residual_markdown(report: Mapping[str, Any]) -> str:
    """The residual attack's tables as Markdown."""
    faces = report["faces"]
    out = [_md_table(["kind", "values", "readable in input", "read in output", "leak rate"],
                     [[k, str(v["values"]), str(v["readable_before"]), str(v["readable_after"]),
                       pct(v["leak_rate"])] for k, v in report["leak"].items()])]
    out.append("\n" + _md_table(
        ["known faces", "found in input", "found in output", "detections outside hidden",
         "of which >= 0.12"],
        [[str(faces["known"]), str(faces["found_before"]), str(faces["found_after"]),
          str(faces["detections_outside_hidden"]),
          str(faces["detections_outside_hidden_strong"])]]))
    over = report["over_redaction"]
    gt = report.get("ground_truth") or {}
    rows = [["context words kept (second reader)", pct(report["context"]["share_kept"])],
            ["pixels changed", pct(over["pixels_changed"], 2)]]
    rows += [[f"{label} boxes protected (SSIM < 0.5)", f"{pct(v['protected'])} of {v['boxes']}"]
             for label, v in gt.items() if isinstance(v, dict) and "protected" in v]
    if "word" in gt:
        rows.append(["word boxes kept (SSIM >= 0.8)",
                     f"{pct(gt['word']['kept'])} of {gt['word']['boxes']}"])
    if "background_changed" in gt:
        rows.append(["background changed", pct(gt["background_changed"], 2)])
    times = report["ms_per_image"]
    rows.append(["Veil ms per image (median / p90)", f"{ms(times['median'])} / {ms(times['p90'])}"])
    out.append("\n" + _md_table(["measure", "value"], rows))
    return "".join(out)
