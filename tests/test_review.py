"""`veil review`: the page's API (who may see what, edits, audit) and the page itself in a
real Chromium driven by Playwright."""

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from processes import free_port
from veil.audit import verify
from veil.journal import (
    JOURNAL_NAME,
    Entry,
    Journal,
    JournalError,
    policy_fingerprint,
    sha256_file,
)
from veil.policy import Policy
from veil.report import Action, Report
from veil.review.app import AUDIT_NAME, Access, Review, Reviewer, create_app
from veil.server.auth import KeyStore, hash_key

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]
FACE = (160, 35, 290, 199)


@pytest.fixture
def run(tmp_path: Path, astronaut: np.ndarray) -> Path:
    """An output folder as `veil redact` leaves it, made by hand: the astronaut (PNG) with
    her face filled black, and its journal line."""
    src = tmp_path / "in" / "astronaut.png"
    src.parent.mkdir()
    Image.fromarray(astronaut).save(src)
    out = tmp_path / "out"
    out.mkdir()
    hidden = astronaut.copy()
    x1, y1, x2, y2 = FACE
    hidden[y1:y2, x1:x2] = 0
    Image.fromarray(hidden).save(out / "astronaut.png")
    report = Report(512, 512, (Action("face", FACE, 0.93, "fill", "centerface@1"),),
                    file=str(src))
    with Journal(out) as journal:
        journal.record(Entry("astronaut.png", sha256_file(src), policy_fingerprint(Policy()),
                             sha256_file(out / "astronaut.png"), report, str(src)))
    return out


def client(out: Path, access: Access) -> Iterator[TestClient]:
    review = Review(out, Policy())
    try:
        yield TestClient(create_app(review, access), base_url="http://127.0.0.1:8470")
    finally:
        review.close()


@pytest.fixture
def local(run: Path) -> Iterator[TestClient]:
    yield from client(run, Access(Reviewer("alice", originals=True)))


def pixels(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB")).astype(int)


def audit_records(out: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in (out / AUDIT_NAME).read_text().splitlines()]


def test_approving_edits_writes_the_output_from_the_original_and_audits(
        local: TestClient, run: Path, astronaut: np.ndarray) -> None:
    listing = local.get("/api/images").json()
    assert listing["reviewer"] == "alice" and listing["originals"] is True
    [image] = listing["images"]
    assert image["status"] == "pending" and image["regions"][0]["source"] == "centerface@1"
    # the face box grown by 10 px and pixelated; a new box filled; nothing else
    body = {"decision": "approved", "regions": [
        {"kind": "face", "box": [150, 25, 300, 209], "operator": "pixelate", "origin": 0},
        {"kind": "text", "box": [10, 400, 110, 480], "operator": "fill", "origin": None}]}
    answer = local.post("/api/decision/astronaut.png", json=body,
                        headers={"x-veil-review": "1"})
    assert answer.status_code == 200, answer.text
    out = pixels(run / "astronaut.png")
    assert (out[400:480, 10:110] == 0).all()
    face = out[25:209, 150:300]
    assert not (face == 0).all() and np.abs(face - astronaut[25:209, 150:300]).mean() > 10
    rest = np.ones((512, 512), bool)
    rest[25:209, 150:300] = rest[400:480, 10:110] = False
    assert (out[rest] == astronaut[rest]).all()          # untouched outside the regions
    [record] = audit_records(run)
    assert record["event"] == "review.approved" and record["who"] == "alice"
    assert record["removed"] == [] and record["added"] == [
        {"kind": "text", "box": [10, 400, 110, 480], "operator": "fill"}]
    assert record["changed"] == [{"kind": "face", "box": [150, 25, 300, 209],
                                  "was_box": list(FACE), "operator": "pixelate",
                                  "was_operator": "fill"}]
    assert record["output_sha256"] == sha256_file(run / "astronaut.png")
    assert verify(run / AUDIT_NAME).ok
    assert local.get("/api/images").json()["images"][0]["status"] == "approved"
    # the journal has the reviewed output, so a rerun of veil redact keeps it
    last = json.loads((run / JOURNAL_NAME).read_text().splitlines()[-1])
    assert last["output_sha256"] == record["output_sha256"]
    assert [r["operator"] for r in last["report"]["regions"]] == ["pixelate", "fill"]
    with pytest.raises(JournalError, match="veil review is using"):  # the page holds the folder
        Journal(run)


def test_reject_keeps_the_output_and_unchanged_approval_does_not_rewrite(
        local: TestClient, run: Path) -> None:
    before = (run / "astronaut.png").stat().st_mtime_ns
    same = {"decision": "approved", "regions": [
        {"kind": "face", "box": list(FACE), "operator": "fill", "origin": 0}]}
    assert local.post("/api/decision/astronaut.png", json=same,
                      headers={"x-veil-review": "1"}).status_code == 200
    assert (run / "astronaut.png").stat().st_mtime_ns == before
    reject = local.post("/api/decision/astronaut.png", json={"decision": "rejected"},
                        headers={"x-veil-review": "1"})
    assert reject.json()["status"] == "rejected"
    records = audit_records(run)
    assert [r["event"] for r in records] == ["review.approved", "review.rejected"]
    assert records[1]["removed"] == [{"kind": "face", "box": list(FACE)}]


def test_bad_requests_are_refused(local: TestClient) -> None:
    good = {"decision": "approved", "regions": []}
    assert local.post("/api/decision/astronaut.png", json=good).status_code == 403  # no header
    headers = {"x-veil-review": "1"}
    assert local.post("/api/decision/../../etc/passwd", json=good,
                      headers=headers).status_code == 404
    outside = {"decision": "approved", "regions": [
        {"kind": "face", "box": [600, 600, 700, 700], "operator": "fill"}]}
    assert local.post("/api/decision/astronaut.png", json=outside,
                      headers=headers).status_code == 422
    foreign = {"decision": "approved", "regions": [
        {"kind": "face", "box": [1, 1, 9, 9], "operator": "fill", "origin": 7}]}
    assert local.post("/api/decision/astronaut.png", json=foreign,
                      headers=headers).status_code == 422
    rebinding = local.get("/api/images", headers={"host": "evil.example"})
    assert rebinding.status_code == 403


def test_token_and_roles_decide_who_sees_originals(run: Path) -> None:
    tokens = client(run, Access(Reviewer("local", True), token="s3cret-token"))
    app = next(tokens)
    assert app.get("/api/images").status_code == 401
    assert app.get("/api/images?token=wrong").status_code == 401
    assert app.get("/api/images?token=s3cret-token").json()["reviewer"] == "local"
    tokens.close()
    policy = Policy.from_dict({
        "roles": {"lead": {"restore": ["*"]}, "clerk": {}},
        "keys": [{"name": "lea", "sha256": hash_key("lea-key"), "role": "lead"},
                 {"name": "carl", "sha256": hash_key("carl-key"), "role": "clerk"}]})
    keys = client(run, Access(Reviewer("local", True), keys=KeyStore(policy)))
    app = next(keys)
    lead = app.get("/api/images?token=lea-key").json()
    assert lead["reviewer"] == "lea" and lead["originals"] is True
    assert app.get("/api/picture/original/astronaut.png?token=lea-key").status_code == 200
    clerk = app.get("/api/images?token=carl-key").json()
    assert clerk["reviewer"] == "carl" and clerk["originals"] is False
    assert app.get("/api/picture/original/astronaut.png?token=carl-key").status_code == 403
    shown = app.get("/api/picture/output/astronaut.png?token=carl-key")
    assert shown.status_code == 200 and shown.headers["content-type"] == "image/jpeg"
    keys.close()


# --- the page in a real browser ----------------------------------------------------------


@pytest.mark.slow
def test_page_in_chromium_remove_draw_approve(run: Path, astronaut: np.ndarray) -> None:
    from playwright.sync_api import sync_playwright

    assert CHROMIUM.exists(), "scripts/install installs Debian's chromium"
    port = free_port()
    server = subprocess.Popen([str(Path(sys.executable).with_name("veil")), "review", str(run),
                               "--port", str(port), "--reviewer", "bea"],
                              stderr=subprocess.PIPE, text=True)
    try:
        url = f"http://127.0.0.1:{port}/"
        for _ in range(200):
            try:
                if httpx.get(url + "api/images").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
            page = browser.new_page(viewport={"width": 1400, "height": 800})
            page.goto(url)
            page.wait_for_selector("#canvas[data-ready='original:astronaut.png']")
            assert page.locator("#regions tr").count() == 1
            assert "centerface@1" in page.locator("#regions").inner_text()
            page.keyboard.press("x")                          # remove the selected region
            assert page.locator("#regions tr").count() == 0
            canvas = page.locator("#canvas").bounding_box()
            assert canvas is not None
            scale = canvas["width"] / 512
            page.mouse.move(canvas["x"] + 20 * scale, canvas["y"] + 300 * scale)
            page.mouse.down()
            page.mouse.move(canvas["x"] + 60 * scale, canvas["y"] + 340 * scale)
            page.mouse.move(canvas["x"] + 120 * scale, canvas["y"] + 380 * scale)
            page.mouse.up()
            assert page.locator("#regions tr").count() == 1
            page.keyboard.press("a")                          # approve
            page.wait_for_selector("#list .badge.approved")
            browser.close()
    finally:
        server.terminate()
        server.communicate(timeout=30)
    out = pixels(run / "astronaut.png")
    x1, y1, x2, y2 = FACE
    assert (out[y1:y2, x1:x2] == astronaut[y1:y2, x1:x2]).all()  # region removed: face back
    drawn = out[305:375, 25:115]
    assert (drawn == 0).all()                                  # the drawn box is filled
    [record] = audit_records(run)
    assert record["who"] == "bea" and record["event"] == "review.approved"
    assert record["removed"] == [{"kind": "face", "box": list(FACE)}]
    [added] = record["added"]
    box = added["box"]  # type: ignore[index]
    assert abs(box[0] - 20) <= 2 and abs(box[1] - 300) <= 2
    assert abs(box[2] - 120) <= 2 and abs(box[3] - 380) <= 2
