"""Images through the gateway: what the model receives (faces hidden, text unreadable,
metadata gone), remote image URLs fetched under the SSRF guard, and fail-closed errors."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import io
import json
import os
import signal
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from conftest import FACE_BOX, exif_with_personal_data
from upstream_double import UpstreamDouble, run_app
from veil.detect.ocr import read_lines
from veil.pipeline import Redactor, default_detectors
from veil.policy import Policy
from veil.regions import Region
from veil.server.app import Gateway, create_app
from veil.server.auth import hash_key
from veil.server.images import (
    ImageJob,
    ImagePool,
    ImageTimeoutError,
    Redacted,
    RedactorFactory,
)
from veil.server.settings import Settings

pytestmark = pytest.mark.slow  # real servers, processes and models

KEY, TEXT_ONLY_KEY = "sk-test-images", "sk-test-text-only"
EMAIL = "jane.roe@example.org"


def policy() -> Policy:
    return Policy.from_dict({
        "roles": {"viewer": {"restore": ["*"]}, "text_only": {"images": False}},
        "keys": [{"name": "viewer", "sha256": hash_key(KEY), "role": "viewer"},
                 {"name": "text-only", "sha256": hash_key(TEXT_ONLY_KEY), "role": "text_only"}],
        "server": {"fetch_allow_networks": ["127.0.0.1/32"], "max_images": 3,
                   "fetch_max_bytes": 2_000_000, "fetch_max_redirects": 2,
                   "image_workers": 2},
    })


@pytest.fixture(scope="module")
def double() -> Iterator[UpstreamDouble]:
    with UpstreamDouble() as d:
        yield d


@pytest.fixture(scope="module")
def gateway(double: UpstreamDouble, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("gateway")
    settings = Settings(upstream=double.url, policy=policy(), vault_path=tmp / "vault.db",
                        audit_path=tmp / "audit.jsonl")
    with run_app(create_app(settings)) as url:
        yield url


@pytest.fixture
def client(gateway: str, double: UpstreamDouble) -> Iterator[httpx.Client]:
    double.reset()
    with httpx.Client(base_url=gateway, timeout=60) as c:
        yield c


def encode(pixels: np.ndarray, fmt: str = "PNG", **options: Any) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, fmt, **options)
    return buf.getvalue()


def data_url(data: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


def send(client: httpx.Client, *urls: str, key: str = KEY, text: str = "Describe this."
         ) -> httpx.Response:
    parts: list[dict[str, Any]] = [{"type": "text", "text": text}]
    parts += [{"type": "image_url", "image_url": {"url": u}} for u in urls]
    return client.post("/v1/chat/completions", headers={"Authorization": f"Bearer {key}"},
                       json={"model": "m", "messages": [{"role": "user", "content": parts}]})


def forwarded_images(double: UpstreamDouble) -> list[Image.Image]:
    images = []
    for body in double.chats:
        for message in body["messages"]:
            for part in message["content"] if isinstance(message["content"], list) else []:
                if part["type"] == "image_url":
                    url = part["image_url"]["url"]
                    assert url.startswith("data:image/")
                    raw = base64.b64decode(url.split(",", 1)[1])
                    images.append(Image.open(io.BytesIO(raw)))
    return images


def face_hidden(image: Image.Image) -> bool:
    """The middle of the astronaut's face is filled black."""
    x1, y1, x2, y2 = FACE_BOX
    inner = np.asarray(image.convert("RGB"))[y1 + 15 : y2 - 15, x1 + 15 : x2 - 15]
    return bool((inner.max(axis=2) < 10).mean() > 0.97)


def error_code(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    return str(response.json()["error"]["code"])


# --- what the model receives -------------------------------------------------------------

def test_face_is_hidden_in_the_forwarded_image(client: httpx.Client, double: UpstreamDouble,
                                               astronaut: np.ndarray) -> None:
    r = send(client, data_url(encode(astronaut)))
    assert r.status_code == 200, r.text
    (image,) = forwarded_images(double)
    assert image.format == "PNG" and image.size == (512, 512)
    assert face_hidden(image)
    out = np.asarray(image.convert("RGB"))
    assert np.array_equal(out[400:, :100], astronaut[400:, :100])  # the rest untouched


def test_metadata_is_dropped_and_orientation_applied(client: httpx.Client,
                                                     double: UpstreamDouble,
                                                     astronaut: np.ndarray) -> None:
    exif = exif_with_personal_data()
    exif[0x0112] = 6  # stored sideways: a viewer rotates it 90 degrees clockwise
    small = np.ascontiguousarray(astronaut[::2, ::2][:, :200])
    data = encode(small, "JPEG", quality=90, exif=exif, comment=b"owner: Jane Roe")
    assert send(client, data_url(data, "image/jpeg")).status_code == 200
    (image,) = forwarded_images(double)
    assert image.format == "JPEG" and image.size == (256, 200)  # upright
    assert not image.getexif() and "comment" not in image.info


def test_text_in_an_image_is_unreadable_once_forwarded(client: httpx.Client,
                                                       double: UpstreamDouble) -> None:
    page = Image.new("RGB", (900, 220), "white")
    draw = ImageDraw.Draw(page)
    font = ImageFont.load_default(40)
    draw.text((30, 40), f"Contact: {EMAIL}", fill="black", font=font)
    draw.text((30, 130), "Card 4111 1111 1111 1111", fill="black", font=font)
    pixels = np.asarray(page)
    before = " ".join(line.text for line in read_lines(pixels))
    assert EMAIL in before and "4111" in before  # legible to the OCR before the gateway
    assert send(client, data_url(encode(pixels))).status_code == 200
    (image,) = forwarded_images(double)
    after = " ".join(line.text for line in read_lines(np.asarray(image.convert("RGB"))))
    assert EMAIL not in after and "jane.roe" not in after and "4111" not in after
    assert EMAIL not in json.dumps(double.chats)


# --- remote image URLs -------------------------------------------------------------------

def test_a_remote_image_is_fetched_redacted_and_forwarded_as_data(
        client: httpx.Client, double: UpstreamDouble, astronaut: np.ndarray) -> None:
    double.files["/img/astronaut.png"] = (encode(astronaut), "image/png")
    double.redirects["/go"] = "/img/astronaut.png"
    r = send(client, f"http://localhost:{double.port}/go")  # resolved once, then pinned
    assert r.status_code == 200, r.text
    gets = [x for x in double.received if x.method == "GET"]
    assert [g.path for g in gets] == ["/go", "/img/astronaut.png"]
    assert gets[0].headers["Host"] == f"localhost:{double.port}"
    assert "Authorization" not in gets[0].headers
    (image,) = forwarded_images(double)
    assert face_hidden(image)
    assert "localhost" not in json.dumps(double.chats)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.2:{port}/img.png",  # loopback outside the allowed 127.0.0.1/32
        "http://10.0.0.7/img.png",
        "http://192.168.1.1/img.png",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]:{port}/img.png",
        "http://[::ffff:10.0.0.1]/img.png",
        "http://2130706434:{port}/img.png",  # 127.0.0.2 written as a number
        "http://0.0.0.0:{port}/img.png",
        "http://224.0.0.1/img.png",
        "http://100.100.100.200/img.png",
    ],
)
def test_non_public_addresses_are_refused(client: httpx.Client, double: UpstreamDouble,
                                          url: str) -> None:
    r = send(client, url.format(port=double.port))
    assert error_code(r, 400) == "url_not_allowed"
    assert "127.0.0" not in r.json()["error"]["message"]  # the URL is not repeated
    assert double.received == []


def test_redirects_are_checked_again_and_limited(client: httpx.Client,
                                                 double: UpstreamDouble) -> None:
    double.redirects["/to-loopback"] = f"http://127.0.0.2:{double.port}/img.png"
    double.redirects["/to-metadata"] = "http://169.254.169.254/latest/meta-data/"
    for path in ("/to-loopback", "/to-metadata"):
        assert error_code(send(client, f"{double.base}{path}"), 400) == "url_not_allowed"
    double.redirects.update({"/r1": "/r2", "/r2": "/r3", "/r3": "/r4", "/r4": "/img.png"})
    r = send(client, f"{double.base}/r1")
    assert error_code(r, 400) == "image_fetch_failed" and "redirects" in r.text
    assert not double.chats


@pytest.mark.parametrize(
    ("path", "content", "ctype", "status", "code"),
    [
        ("/page.html", b"<html>hi</html>", "text/html", 400, "invalid_image"),
        ("/big.png", b"\x89PNG" + bytes(2_100_000), "image/png", 413, "image_too_large"),
        ("/fake.png", b"not an image at all", "image/png", 400, "invalid_image"),
        ("/missing.png", None, "", 400, "image_fetch_failed"),
    ],
)
def test_fetched_content_is_checked(client: httpx.Client, double: UpstreamDouble, path: str,
                                    content: bytes | None, ctype: str, status: int,
                                    code: str) -> None:
    if content is not None:
        double.files[path] = (content, ctype)
    assert error_code(send(client, f"{double.base}{path}"), status) == code
    assert not double.chats


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("file:///etc/passwd", "invalid_image_url"),
        ("ftp://example.org/a.png", "invalid_image_url"),
        ("http://user:secret@127.0.0.1/a.png", "invalid_image_url"),
        ("data:image/png,rawbytes", "invalid_image_url"),
        ("data:image/png;base64,@@@@", "invalid_image_url"),
        ("data:text/plain;base64,aGVsbG8=", "invalid_image"),
        (f"data:image/png;base64,{base64.b64encode(b'not a png').decode()}", "invalid_image"),
    ],
)
def test_bad_image_urls_are_refused(client: httpx.Client, double: UpstreamDouble, url: str,
                                    code: str) -> None:
    assert error_code(send(client, url), 400) == code
    assert double.received == []


def test_image_count_and_role_permission(client: httpx.Client, double: UpstreamDouble) -> None:
    tiny = data_url(encode(np.zeros((8, 8, 3), np.uint8)))
    assert error_code(send(client, tiny, tiny, tiny, tiny), 400) == "too_many_images"
    assert error_code(send(client, tiny, key=TEXT_ONLY_KEY), 403) == "images_not_allowed"
    assert send(client, key=TEXT_ONLY_KEY).status_code == 200
    assert len(double.chats) == 1


class Broken:
    name = "broken"
    kinds = ("face",)

    def detect(self, image: np.ndarray) -> list[Region]:
        if image.shape[0] > 64:  # warm-up passes, real images fail
            raise RuntimeError("model crashed")
        return []


def broken_redactor(policy: Policy) -> Redactor:
    """Built in each image worker (a spawned process imports this module)."""
    return Redactor(policy, detectors=[Broken()])


def test_a_failing_detector_blocks_the_request(tmp_path: Path, double: UpstreamDouble,
                                               astronaut: np.ndarray) -> None:
    double.reset()
    settings = Settings(upstream=double.url, policy=policy(), vault_path=tmp_path / "v.db",
                        audit_path=tmp_path / "a.jsonl")
    with run_app(create_app(settings, redactor=broken_redactor)) as url, \
            httpx.Client(base_url=url, timeout=30) as client:
        r = send(client, data_url(encode(astronaut)))
        assert error_code(r, 500) == "detector_failed"
        assert "not sent" in r.json()["error"]["message"]
    assert double.received == []


# --- the image workers: parallel, within a time budget, surviving a crash -----------------

def test_concurrent_requests_are_all_redacted(client: httpx.Client, double: UpstreamDouble,
                                              astronaut: np.ndarray) -> None:
    photo = data_url(encode(astronaut))
    page = Image.new("RGB", (900, 120), "white")
    ImageDraw.Draw(page).text((30, 40), f"Contact: {EMAIL}", fill="black",
                              font=ImageFont.load_default(40))
    requests = [(photo,), (photo, photo), (data_url(encode(np.asarray(page))),), (photo,)]
    with ThreadPoolExecutor(len(requests)) as threads:
        answers = list(threads.map(lambda urls: send(client, *urls), requests))
    assert [a.status_code for a in answers] == [200] * len(requests), answers[0].text
    images = forwarded_images(double)
    assert len(images) == 5
    photos = [i for i in images if i.size == (512, 512)]
    assert len(photos) == 4 and all(face_hidden(i) for i in photos)
    (text,) = [i for i in images if i.size == (900, 120)]
    assert "jane.roe" not in " ".join(
        line.text for line in read_lines(np.asarray(text.convert("RGB"))))


FACES_ONLY = {"text": {"enabled": False}, "plate": {"enabled": False},
              "code": {"enabled": False}}  # the real face model alone: workers warm fast


def faces_policy(image_seconds: float = 300.0) -> Policy:
    return Policy.from_dict({
        "kinds": FACES_ONLY, "limits": {"image_seconds": image_seconds},
        "roles": {"viewer": {"restore": ["*"]}},
        "keys": [{"name": "viewer", "sha256": hash_key(KEY), "role": "viewer"}],
        "server": {"image_workers": 2},
    })


@contextlib.contextmanager
def faces_gateway(double: UpstreamDouble, tmp: Path, policy: Policy,
                  redactor: RedactorFactory = Redactor) -> Iterator[tuple[httpx.Client, Gateway]]:
    double.reset()
    settings = Settings(upstream=double.url, policy=policy, vault_path=tmp / "v.db",
                        audit_path=tmp / "a.jsonl")
    app = create_app(settings, redactor=redactor)
    with run_app(app) as url, httpx.Client(base_url=url, timeout=60) as client:
        yield client, app.state.gateway


def test_an_image_over_its_time_budget_blocks_the_request(
        tmp_path: Path, double: UpstreamDouble, astronaut: np.ndarray) -> None:
    with faces_gateway(double, tmp_path, faces_policy(image_seconds=0.001)) as (client, _):
        r = send(client, data_url(encode(astronaut)))
        assert error_code(r, 422) == "image_timeout"
        assert "not sent" in r.json()["error"]["message"]
        assert send(client).status_code == 200  # a request without images goes through
    assert len(double.received) == 1 and not forwarded_images(double)
    audit = [json.loads(line) for line in (tmp_path / "a.jsonl").read_text().splitlines()]
    assert [(a["status"], a["error"]) for a in audit] == [(422, "image_timeout"), (200, None)]


CRASH_SIZE = (40, 30)


class Crash:
    """Kills its own worker process on a 40x30 image."""

    name = "crash"
    kinds = ("face",)

    def detect(self, image: np.ndarray) -> list[Region]:
        if image.shape[:2] == CRASH_SIZE[::-1]:
            os.kill(os.getpid(), signal.SIGKILL)
        return []


def crashing_redactor(policy: Policy) -> Redactor:
    return Redactor(policy, detectors=[*default_detectors(policy), Crash()])


def wait_reaped(pid: int) -> None:
    deadline = time.monotonic() + 30
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.05)


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc to see a worker end")
def test_a_worker_that_dies_fails_its_request_and_the_gateway_keeps_serving(
        tmp_path: Path, double: UpstreamDouble, astronaut: np.ndarray) -> None:
    photo = data_url(encode(astronaut))
    with faces_gateway(double, tmp_path, faces_policy(), crashing_redactor) as (client, gw):
        first = gw.images.pids
        assert len(first) == 2
        crash = data_url(encode(np.zeros((CRASH_SIZE[1], CRASH_SIZE[0], 3), np.uint8)))
        r = send(client, crash)
        assert error_code(r, 500) == "detector_failed"
        assert "not sent" in r.json()["error"]["message"]
        assert double.received == []
        assert send(client, photo).status_code == 200  # new workers
        second = gw.images.pids
        assert len(second) == 2 and not second & first
        victim = next(iter(second))  # a worker killed while idle: no image was in it
        os.kill(victim, signal.SIGKILL)
        wait_reaped(victim)
        assert send(client, photo).status_code == 200
    images = forwarded_images(double)
    assert len(images) == 2 and all(face_hidden(i) for i in images)


class Sleepy:
    """Sleeps without a stage boundary on a 33 px wide image (a worker stuck in a model)."""

    name = "sleepy"
    kinds = ("face",)

    def detect(self, image: np.ndarray) -> list[Region]:
        if image.shape[1] == 33:
            time.sleep(120)
        return []


def sleepy_redactor(policy: Policy) -> Redactor:
    return Redactor(policy, detectors=[Sleepy()])


def test_a_stuck_worker_is_given_up_after_the_budget_and_replaced() -> None:
    policy = Policy.from_dict({"limits": {"image_seconds": 0.5}})
    pool = ImagePool(policy, {"r": policy}, 1, sleepy_redactor)
    stuck = ImageJob(encode(np.zeros((20, 33, 3), np.uint8)), "r")
    fine = ImageJob(encode(np.zeros((20, 32, 3), np.uint8)), "r")

    async def run() -> tuple[set[int], set[int]]:
        await pool.start()
        first = pool.pids
        try:
            with pytest.raises(ImageTimeoutError):
                await pool.redact(stuck)
            result = await pool.redact(fine)
            assert isinstance(result, Redacted) and result.mime == "image/png"
            return first, pool.pids
        finally:
            await pool.close()

    first, second = asyncio.run(run())
    assert len(second) == 1 and not first & second
    wait_reaped(next(iter(first)))
    assert not Path(f"/proc/{next(iter(first))}").exists()  # the stuck worker was stopped


def test_replace_writes_the_prompts_pseudonym_over_text_in_an_image(
        tmp_path: Path, double: UpstreamDouble) -> None:
    policy = Policy.from_dict({
        "kinds": {"text": {"operator": "replace"}, "face": {"enabled": False},
                  "plate": {"enabled": False}, "code": {"enabled": False}},
        "roles": {"viewer": {"restore": ["*"]}},
        "keys": [{"name": "viewer", "sha256": hash_key(KEY), "role": "viewer"}],
        "server": {"image_workers": 1},
    })
    page = Image.new("RGB", (900, 120), "white")
    ImageDraw.Draw(page).text((30, 40), f"Contact: {EMAIL}", fill="black",
                              font=ImageFont.load_default(40))
    with faces_gateway(double, tmp_path, policy) as (client, _):
        r = send(client, data_url(encode(np.asarray(page))), text=f"Who is {EMAIL}?")
        assert r.status_code == 200, r.text
        assert r.json()["choices"][0]["message"]["content"] == f"Who is {EMAIL}?"
    (body,) = double.chats
    assert body["messages"][0]["content"][0]["text"] == "Who is <EMAIL_ADDRESS_1>?"
    (image,) = forwarded_images(double)
    read = " ".join(line.text for line in read_lines(np.asarray(image.convert("RGB"))))
    assert "jane.roe" not in read and "EMAIL_ADDRESS_1" in read.replace(" ", "")
    (record,) = [json.loads(line) for line in (tmp_path / "a.jsonl").read_text().splitlines()]
    assert record["operators"]["replace"] == 1 and record["restorable"] == 1
