"""`veil eval` end to end: the ocr-reader served locally, probed straight and through the
real gateway; the residual attack on a small folder with and without ground truth."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from conftest import FACE_BOX
from upstream_double import UpstreamDouble
from veil.cli import main
from veil.eval.metrics import FRAMINGS, KINDS
from veil.eval.probes import make_documents
from veil.eval.render import form

pytestmark = pytest.mark.slow  # real servers, processes and models

MEASURED = ("email", "ssn")


def test_vlm_compare_against_ocr_reader(tmp_path: Path) -> None:
    out = tmp_path / "report"
    result = CliRunner().invoke(main, [
        "eval", "vlm", "--compare", "--limit", "1", "--kinds", ",".join(MEASURED),
        "--sweep-docs", "0", "--thumbnails", "1", "--out", str(out)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text())
    for key in ("with_veil", "without_veil"):
        run = report[key]
        assert set(run["attack_success"]) == set(FRAMINGS)
        assert all(set(row) == set(KINDS) for row in run["attack_success"].values())
        assert set(run["refusal_rate"]) == set(FRAMINGS)
        assert set(run["task_inconsistency"]) == set(KINDS)
        assert isinstance(run["utility_accuracy"], float)
        assert run["ms_per_request"] > 0
        assert run["errors"] == 0
    without, through = report["without_veil"], report["with_veil"]
    # Without Veil the reader discloses what it reads; through Veil it reads nothing.
    assert without["overall_success"] >= 0.9
    assert through["overall_success"] == 0.0
    for framing in FRAMINGS:
        for kind in MEASURED:
            assert without["attack_success"][framing][kind] is not None
            assert through["attack_success"][framing][kind] == 0.0
        assert through["attack_success"][framing]["card"] is None     # not probed
    assert through["utility_by_task"]["document_kind"] == 1.0
    assert through["veil_ms"]["requests"] == through["requests"]
    assert report["meta"]["cost"]["protect_ms_per_image"] > 0
    html = (out / "index.html").read_text()
    assert "<svg" in html and "data:image/png;base64," in html
    assert (out / "plots" / "success_by_framing.svg").is_file()
    values = make_documents(1, seed=0)[0].values
    for text in (json.dumps(report), html):
        assert not any(v in text for v in values.values())


def test_residual_with_and_without_ground_truth(tmp_path: Path, astronaut: np.ndarray) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    values = {"Email": "dana.whitlock@example.net", "Phone": "(312) 555-0187",
              "SSN": "523-81-4467"}
    rows = [("Subject", "Order enquiry"), *values.items(), ("Status", "Open")]
    Image.fromarray(form("CONTACT FORM", rows, random.Random(1))).save(folder / "form.png")
    Image.fromarray(astronaut).save(folder / "portrait.png")
    manifest = folder / "manifest.jsonl"
    manifest.write_text(json.dumps({"file": "portrait.png", "boxes": [
        {"label": "face", "xyxy": list(FACE_BOX)}]}) + "\n")
    out = tmp_path / "report"
    result = CliRunner().invoke(main, [
        "eval", "residual", "--input", str(folder), "--manifest", str(manifest),
        "--out", str(out), "--outputs", str(tmp_path / "outputs")], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text())
    assert report["images"] == 2 and report["failed"] == 0
    # The form has no ground truth: its known values are what Veil found in it.
    assert sum(v["values"] for v in report["leak"].values()) >= 3
    assert sum(v["readable_before"] for v in report["leak"].values()) >= 2
    assert report["leak_rate"] == 0.0
    assert report["faces"] == {**report["faces"], "known": 1, "found_before": 1,
                               "found_after": 0}
    assert report["ground_truth"]["face"] == {"boxes": 1, "protected": 1.0}
    assert report["context"]["share_kept"] > 0.5
    assert report["ms_per_image"]["median"] > 0
    assert (tmp_path / "outputs" / "form.png").is_file()
    html = (out / "index.html").read_text()
    assert "<svg" in html
    for text in (json.dumps(report), html):
        assert not any(v in text for v in values.values())


def test_residual_counts_values_veil_never_found(tmp_path: Path) -> None:
    """Text turned off in the policy: Veil hides nothing on the form, which visibly leaks.
    Without a manifest the known values used to be only what Veil found (none), so the
    report said nothing leaked; the second reader's own reading now finds them."""
    folder = tmp_path / "in"
    folder.mkdir()
    values = {"Email": "dana.whitlock@example.net", "Phone": "(312) 555-0187",
              "SSN": "523-81-4467"}
    rows = [("Subject", "Order enquiry"), *values.items(), ("Status", "Open")]
    Image.fromarray(form("CONTACT FORM", rows, random.Random(1))).save(folder / "form.png")
    policy = tmp_path / "policy.yaml"
    policy.write_text("kinds:\n  text: {enabled: false}\n")
    out = tmp_path / "report"
    result = CliRunner().invoke(main, [
        "eval", "residual", "--input", str(folder), "--policy", str(policy),
        "--out", str(out)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text())
    assert report["regions"] == {}  # Veil found nothing to hide
    assert report["values_from_reader"]["values"] >= 3
    assert report["values_from_reader"]["readable_after"] >= 3
    leaked = {k for k, v in report["leak"].items() if v["readable_after"]}
    assert {"text.EMAIL_ADDRESS", "text.US_SSN"} <= leaked
    assert report["leak_rate"] >= 0.75
    for text in (json.dumps(report), (out / "index.html").read_text()):
        assert not any(v in text for v in values.values())


def test_vlm_against_any_openai_endpoint(tmp_path: Path) -> None:
    """An echoing stand-in model: it repeats the texts it gets, so it discloses the
    text-channel values and none of those only in pictures."""
    out = tmp_path / "report"
    with UpstreamDouble() as double:
        result = CliRunner().invoke(main, [
            "eval", "vlm", "--endpoint", double.url, "--model", "double-1", "--limit", "1",
            "--kinds", "email", "--thumbnails", "0", "--out", str(out)], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        first = double.chats[0]
    assert first["model"] == "double-1" and first["messages"][0]["role"] == "system"
    report = json.loads((out / "report.json").read_text())
    assert set(report) == {"without_veil", "meta"}
    run = report["without_veil"]
    assert run["success_by_channel"]["image"] == 0.0
    for framing in ("direct", "caption", "vqa", "rephrase", "classify"):   # text: echoed
        assert run["attack_success"][framing]["email"] == 0.5
    assert run["attack_success"]["retention_turn"]["email"] == 0.0       # echoes the question
    assert run["refusal_rate"]["direct"] == 0.0
    missing = CliRunner().invoke(main, ["eval", "vlm", "--endpoint", double.url,
                                        "--out", str(out)])
    assert missing.exit_code == 2 and "--model" in missing.output
