"""What ``veil serve`` adds: latency over calling the model directly, and throughput.

Starts a fast upstream double (a minimal asyncio HTTP server in its own process, answering
every chat completion at once with a fixed answer holding two pseudonyms) and the gateway
(``veil serve`` in its own process, vault and audit log in a temporary folder), then:

1. latency, sequential requests alternating direct and through the gateway: added p50 and
   p99 for a short text prompt with personal data (a name and an email), one without, and
   a request with one 1-megapixel JPEG photo; beside it the image pipeline's own time
   (decode, redact, encode, in this process);
2. throughput: 32 concurrent clients sending the text prompt for ``--seconds``; requests
   per second, latency under load and errors;
3. parallel images: wall time of one request with the 1-megapixel photo, then of 8 such
   requests sent at once, against the target ``8 at once <= 1.5 x (one x 8 / cores)``
   (the image workers, ``server.image_workers``, share the cores).

Usage: ``.venv/bin/python benchmarks/proxy.py [--seconds 60] [--requests 300]
[--image-requests 15] [--vault-dir DIR] [--image-workers N] [--images-only]``
(``--vault-dir /dev/shm`` shows the cost of the vault's disk syncs; ``--images-only`` runs
part 3 alone). Prints the figures; exit status 1 if any request failed.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from model_double import serve, start  # noqa: E402
from processes import free_port, wait_ready  # noqa: E402

KEY = "sk-bench-key"
PERSONAL = ("Please draft a short reply to Jane Roe (jane.roe@example.org) confirming the "
            "appointment and thanking her for the documents.")
PLAIN = "Please draft a short reply confirming the appointment and thanking for the documents."
ANSWER = json.dumps({
    "id": "chatcmpl-bench", "object": "chat.completion", "created": 0, "model": "bench",
    "choices": [{"index": 0, "finish_reason": "stop", "message": {
        "role": "assistant",
        "content": "Dear <PERSON_1>, thank you; I confirm by mail to <EMAIL_ADDRESS_1>."}}],
}).encode()
MODELS = json.dumps({"object": "list", "data": [{"id": "bench", "object": "model"}]}).encode()


def fixed_answer(path: str, request: bytes) -> bytes:
    """The upstream double's answer: the model list, or at once the same chat completion."""
    return MODELS if path.endswith("/models") else ANSWER


# --- measuring ------------------------------------------------------------------------------

def photo() -> bytes:
    """The astronaut portrait scaled to 1155x866 (1.0 megapixel), as a JPEG."""
    from skimage import data

    buf = io.BytesIO()
    Image.fromarray(data.astronaut()).resize((1155, 866), Image.Resampling.LANCZOS).save(
        buf, "JPEG", quality=90)
    return buf.getvalue()


def body(text: str, image: bytes | None = None, model: str = "bench") -> dict[str, object]:
    content: list[dict[str, object]] = [{"type": "text", "text": text}]
    if image is not None:
        url = "data:image/jpeg;base64," + base64.b64encode(image).decode()
        content.append({"type": "image_url", "image_url": {"url": url}})
    return {"model": model, "messages": [{"role": "user", "content": content}]}


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def paired(client: httpx.Client, direct: str, proxy: str, payload: dict[str, object], n: int,
           errors: list[str]) -> tuple[list[float], list[float]]:
    """n alternating requests to the upstream and through the gateway; seconds each."""
    headers = {"Authorization": f"Bearer {KEY}"}
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(n):
        for target, sink in ((direct, times[0]), (proxy, times[1])):
            start = time.perf_counter()
            r = client.post(f"{target}/chat/completions", json=payload, headers=headers)
            sink.append(time.perf_counter() - start)
            if r.status_code != 200:
                errors.append(f"HTTP {r.status_code}")
    return times


def pipeline_ms(image: bytes, n: int) -> list[float]:
    """The image pipeline's own time in this process: decode, redact, encode."""
    from veil.images import decode_image, encode_image
    from veil.pipeline import Redactor

    redactor = Redactor()
    redactor.warm_up()
    out = []
    for _ in range(n + 1):
        start = time.perf_counter()
        picture = decode_image(image, redactor.policy.limits)
        hidden, _ = redactor.redact(picture)
        encode_image(hidden, redactor.policy.jpeg_quality)
        out.append((time.perf_counter() - start) * 1000)
    return out[1:]


async def load(proxy: str, seconds: float, clients: int, errors: list[str]
               ) -> tuple[int, list[float]]:
    payload = body(PERSONAL)
    headers = {"Authorization": f"Bearer {KEY}"}
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:
        async def worker() -> None:
            while time.perf_counter() < deadline:
                start = time.perf_counter()
                try:
                    r = await client.post(f"{proxy}/chat/completions", json=payload,
                                          headers=headers)
                    if r.status_code != 200:
                        errors.append(f"HTTP {r.status_code}")
                except httpx.HTTPError as exc:
                    errors.append(type(exc).__name__)
                latencies.append(time.perf_counter() - start)

        await asyncio.gather(*(worker() for _ in range(clients)))
    return len(latencies), latencies


async def concurrent_images(proxy: str, image: bytes, n: int, errors: list[str]) -> float:
    """Wall seconds for ``n`` requests with ``image`` sent at once."""
    payload = body(PERSONAL, image, model="parallel")
    headers = {"Authorization": f"Bearer {KEY}"}
    async with httpx.AsyncClient(timeout=600) as client:
        async def one() -> None:
            r = await client.post(f"{proxy}/chat/completions", json=payload, headers=headers)
            if r.status_code != 200:
                errors.append(f"HTTP {r.status_code}")

        start = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(n)))
        return time.perf_counter() - start


def parallel_images(proxy: str, image: bytes, workers: int, errors: list[str]) -> None:
    """One photo request, then 8 at once; the ratio to the target (<= 1.5)."""
    cores = os.cpu_count() or 1
    asyncio.run(concurrent_images(proxy, image, workers, errors))  # every worker warm
    one = min(asyncio.run(concurrent_images(proxy, image, 1, errors)) for _ in range(2))
    eight = asyncio.run(concurrent_images(proxy, image, 8, errors))
    ideal = one * 8 / cores
    print(f"images in parallel ({workers} workers, {cores} cores): 1 request {one:.2f} s, "
          f"8 at once {eight:.2f} s ({8 / eight:.2f} images/s); 8 at once / (1 x 8 / cores) "
          f"= {eight / ideal:.2f} (target <= 1.50)")


def report(label: str, direct: list[float], proxied: list[float]) -> None:
    d50, d99 = pct(direct, 50) * 1000, pct(direct, 99) * 1000
    p50, p99 = pct(proxied, 50) * 1000, pct(proxied, 99) * 1000
    print(f"{label:<28} direct p50 {d50:7.2f} p99 {d99:7.2f} | gateway p50 {p50:7.2f} "
          f"p99 {p99:7.2f} | added p50 {p50 - d50:7.2f} p99 {p99 - d99:7.2f} ms")


def breakdown(audit: Path) -> None:
    """From the gateway's audit log: its time protecting (detection, vault, images) and
    the rest of its own time (HTTP, JSON, audit), medians per case."""
    by_model: dict[str, list[dict[str, float]]] = {}
    for line in audit.read_text().splitlines():
        record = json.loads(line)
        by_model.setdefault(record["model"], []).append(record["ms"])
    for model in ("personal", "plain", "photo"):
        ms = by_model.get(model, [])
        if ms:
            protect = statistics.median(m["protect"] for m in ms)
            rest = statistics.median(m["total"] - m["protect"] - m["upstream"] for m in ms)
            print(f"  inside the gateway, {model:<8}: protect p50 {protect:7.2f} ms, "
                  f"other own work p50 {rest:5.2f} ms")


def latency_and_load(args: argparse.Namespace, direct: str, proxy: str, image: bytes,
                     work: Path, errors: list[str]) -> None:
    """Parts 1 and 2: added latency per case, then throughput under load."""
    with httpx.Client(timeout=120) as client:
        paired(client, direct, proxy, body(PERSONAL), 20, errors)  # warm-up
        cases: list[tuple[str, Callable[[], tuple[list[float], list[float]]]]] = [
            ("text, name + email", lambda: paired(
                client, direct, proxy, body(PERSONAL, model="personal"), args.requests,
                errors)),
            ("text, no personal data", lambda: paired(
                client, direct, proxy, body(PLAIN, model="plain"), args.requests, errors)),
            ("text + 1 MP photo", lambda: paired(
                client, direct, proxy, body(PERSONAL, image, model="photo"),
                args.image_requests, errors)),
        ]
        results = {label: run() for label, run in cases}
    for label, (d, p) in results.items():
        report(label, d, p)
    breakdown(work / "audit.jsonl")
    own = pipeline_ms(image, args.image_requests)
    d, p = results["text + 1 MP photo"]
    added = (pct(p, 50) - pct(d, 50)) * 1000
    print(f"image pipeline alone (decode+redact+encode): p50 {statistics.median(own):.1f} "
          f"ms; gateway's added p50 is {added / statistics.median(own):.2f}x of it "
          "(target <= 1.10)")
    count, latencies = asyncio.run(load(proxy, args.seconds, args.clients, errors))
    print(f"load: {args.clients} clients x {args.seconds:.0f} s, text with name + email: "
          f"{count / args.seconds:.1f} requests/s, p50 {pct(latencies, 50) * 1000:.1f} ms, "
          f"p99 {pct(latencies, 99) * 1000:.1f} ms, errors {len(errors)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the load test")
    parser.add_argument("--requests", type=int, default=300, help="text latency samples")
    parser.add_argument("--image-requests", type=int, default=15, help="image samples")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--vault-dir", type=Path, default=None,
                        help="folder for the vault and audit log (default: a temp folder)")
    parser.add_argument("--image-workers", type=int, default=None,
                        help="server.image_workers (default: one per core)")
    parser.add_argument("--images-only", action="store_true",
                        help="measure only the parallel images (part 3)")
    parser.add_argument("--serve-upstream", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_upstream:
        serve(fixed_answer)
        return
    work = Path(tempfile.mkdtemp(prefix="veil-bench-", dir=args.vault_dir))
    policy = work / "policy.yaml"
    policy.write_text("roles: {agent: {restore: [text]}}\n"
                      f"keys: [{{name: bench, sha256: {hashlib.sha256(KEY.encode()).hexdigest()},"
                      " role: agent}]\n")
    workers = args.image_workers or os.cpu_count() or 1
    if args.image_workers:
        policy.write_text(policy.read_text() + f"server: {{image_workers: {workers}}}\n")
    upstream, direct = start(__file__, "--serve-upstream")
    port = free_port()
    gateway = subprocess.Popen(
        [str(ROOT / ".venv" / "bin" / "veil"), "serve", "--upstream", direct, "--policy",
         str(policy), "--port", str(port), "--vault", str(work / "vault.db"),
         "--audit-log", str(work / "audit.jsonl"), "--log-level", "warning"],
        env={**os.environ, "VEIL_UPSTREAM_API_KEY": "sk-upstream"})
    proxy = f"http://127.0.0.1:{port}/v1"
    errors: list[str] = []
    try:
        wait_ready(f"http://127.0.0.1:{port}", gateway, timeout=180)
        print(f"machine: {os.cpu_count()} cores, {sys.platform}, load average "
              f"{os.getloadavg()[0]:.1f}; vault and audit in {work}")
        image = photo()
        if not args.images_only:
            latency_and_load(args, direct, proxy, image, work, errors)
        parallel_images(proxy, image, workers, errors)
    finally:
        gateway.terminate()
        upstream.terminate()
        gateway.wait(30)
        upstream.wait(30)
        shutil.rmtree(work, ignore_errors=True)
    if errors:
        print(f"errors: {sorted(set(errors))}")
        sys.exit(1)


if __name__ == "__main__":
    main()
