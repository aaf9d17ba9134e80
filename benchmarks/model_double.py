"""A fast HTTP double of the model for the gateway benchmarks (``proxy.py``,
``replicas.py``): a minimal asyncio server in its own process, HTTP/1.1 keep-alive with
Content-Length bodies only (enough for httpx, and fast, so that the figures are the
gateway's). A benchmark runs itself with a hidden flag whose handler calls ``serve`` with
its answers, and ``start`` does that and reads the port the double prints."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Callable

Answer = Callable[[str, bytes], bytes]
"""The JSON body answering a request, from the request's path and body."""


class _Double(asyncio.Protocol):
    def __init__(self, answer: Answer) -> None:
        self.answer = answer

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport, self.buffer = transport, b""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while (end := self.buffer.find(b"\r\n\r\n")) >= 0:
            head = self.buffer[:end].decode("latin-1").split("\r\n")
            length = next((int(v) for k, _, v in (line.partition(":") for line in head[1:])
                           if k.strip().lower() == "content-length"), 0)
            if len(self.buffer) < end + 4 + length:
                return
            request = self.buffer[end + 4 : end + 4 + length]
            self.buffer = self.buffer[end + 4 + length :]
            body = self.answer(head[0].split(" ")[1], request)
            self.transport.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                 b"Content-Length: %d\r\n\r\n" % len(body) + body)


def serve(answer: Answer) -> None:
    """Answer every request with ``answer`` on a free loopback port, until stopped; the
    port is the first line printed."""
    async def main() -> None:
        server = await asyncio.get_running_loop().create_server(
            lambda: _Double(answer), "127.0.0.1", 0)
        print(server.sockets[0].getsockname()[1], flush=True)
        await server.serve_forever()

    asyncio.run(main())


def start(script: str, flag: str) -> tuple[subprocess.Popen[bytes], str]:
    """Run ``script`` with ``flag`` (its handler calls ``serve``): the process and the
    double's base URL (``http://127.0.0.1:PORT/v1``)."""
    process = subprocess.Popen([sys.executable, script, flag], stdout=subprocess.PIPE)
    assert process.stdout is not None
    return process, f"http://127.0.0.1:{int(process.stdout.readline())}/v1"
