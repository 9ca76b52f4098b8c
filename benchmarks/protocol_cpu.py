"""CPU (or instructions) of uvicorn's HTTP protocol alone per request, in process (issue 15).

``write_cpu.py`` drives the app through httpx's ASGI transport, so the server's own parsing
and framing of a request are not in its figures. This feeds a judgement-shaped POST (a bearer
token, a JSON body) to a protocol instance on a fake transport, one request at a time on one
keep-alive connection, under uvloop, with a trivial ASGI app answering 201 with 6 KB and the
headers a write answers; and prints the CPU per request of each protocol named (median and
best of the rounds; ``--callgrind``: instructions, valgrind's callgrind, one round).

Protocols: ``h11``, ``httptools`` (uvicorn's own), ``yj-h11`` (app.core.http.SettingsH11Protocol)
and ``yj-httptools`` (app.core.http.SettingsHttpToolsProtocol, what ``yjrisk serve`` runs).

Usage: ``python benchmarks/protocol_cpu.py [--requests 3000] [--rounds 5] [--callgrind]
[NAME ...]``
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BODY = b'{"domain":"swb","level":"low"}'
REQUEST = (b"POST /v1/cases/0b9f5a0e-3c1e-4e0e-9d6c-1b2a3c4d5e6f/judgements HTTP/1.1\r\n"
           b"Host: 127.0.0.1:8000\r\nContent-Type: application/json\r\n"
           b"Authorization: Bearer " + b"x" * 400 + b"\r\n"
           b"Content-Length: " + str(len(BODY)).encode() + b"\r\n\r\n" + BODY)
ANSWER = b"x" * 6000


class _Transport:
    """Enough of an asyncio transport for uvicorn's protocols; what is written is dropped."""

    def __init__(self) -> None:
        self.written = 0
        self.closing = False

    def write(self, data: bytes) -> None:
        self.written += len(data)

    def get_extra_info(self, key: str, default: Any = None) -> Any:
        return {"sockname": ("127.0.0.1", 8000), "peername": ("127.0.0.1", 5555)}.get(
            key, default)

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        self.closing = True

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def set_write_buffer_limits(self, *args: Any, **kwargs: Any) -> None:
        pass


def _protocol(name: str) -> Any:
    from app.core import http

    return {"yj-h11": http.SettingsH11Protocol,
            "yj-httptools": http.SettingsHttpToolsProtocol}.get(name, name)


async def _run(name: str, requests: int, callgrind: bool) -> float:
    """CPU seconds per request of ``requests`` requests (after 200 to warm up)."""
    from uvicorn.config import Config
    from uvicorn.server import ServerState

    answered = asyncio.Event()

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "http.response.start", "status": 201, "headers": [
            (b"content-length", str(len(ANSWER)).encode()),
            (b"content-type", b"application/json"), (b"etag", b'"c-123-4"'),
            (b"x-request-id", b"0123456789abcdef0123456789abcdef")]})
        await send({"type": "http.response.body", "body": ANSWER})
        answered.set()

    config = Config(app=app, http=_protocol(name), log_config=None, lifespan="off",
                    access_log=False)
    config.load()
    protocol = config.http_protocol_class(config=config, server_state=ServerState(),
                                          app_state={})
    protocol.connection_made(_Transport())

    async def one() -> None:
        answered.clear()
        protocol.data_received(REQUEST)
        await answered.wait()
        await asyncio.sleep(0)

    for _ in range(200):
        await one()
    if callgrind:
        subprocess.run(["callgrind_control", "-i", "on", str(os.getpid())], check=True,
                       capture_output=True)
    start = time.process_time()
    for _ in range(requests):
        await one()
    seconds = time.process_time() - start
    if callgrind:
        subprocess.run(["callgrind_control", "-d", str(os.getpid())], check=True,
                       capture_output=True)
    protocol.connection_lost(None)
    return seconds / requests


def main() -> None:
    """Parse the options; measure each protocol named, alternating, and print."""
    parser = argparse.ArgumentParser()
    parser.add_argument("names", nargs="*", default=["yj-h11", "yj-httptools"])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--callgrind", action="store_true")
    parser.add_argument("--callgrind-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("YJ_ENV", "test")
    os.environ.setdefault("YJ_JWT_SECRET", "s" * 48)
    os.environ["YJ_ENV_FILE"] = ""
    import uvloop

    if args.callgrind_child:
        uvloop.run(_run(args.names[0], args.requests, True))
        return
    if args.callgrind:
        for name in args.names:
            with tempfile.TemporaryDirectory() as tmp:
                out = Path(tmp) / "cg.out"
                subprocess.run(["valgrind", "--tool=callgrind", "--instr-atstart=no",
                                f"--callgrind-out-file={out}", sys.executable, __file__,
                                "--callgrind-child", "--requests", str(args.requests), name],
                               check=True, capture_output=True)
                dump = sorted(Path(tmp).glob("cg.out.*"))[0]
                total = next(int(line.split()[1]) for line in dump.read_text().splitlines()
                             if line.startswith("summary:"))
            print(f"{name}: {total / args.requests:,.0f} instructions per request (callgrind)")
        return
    times: dict[str, list[float]] = {name: [] for name in args.names}
    for _ in range(args.rounds):
        for name in args.names:
            times[name].append(uvloop.run(_run(name, args.requests, False)) * 1e6)
    for name, found in times.items():
        print(f"{name}: {statistics.median(found):.1f} us CPU per request (median of "
              f"{len(found)}), best {min(found):.1f}")


if __name__ == "__main__":
    main()
