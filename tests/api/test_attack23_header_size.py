"""Attack 23, A23a-3: a request with a ~133 KB header was answered by uvicorn's own 400 with a
``text/plain`` body ("Invalid HTTP request received."), not an RFC 9457 problem: h11 refuses a
request head larger than its buffer limit (``h11_max_incomplete_event_size``, 16 KiB by default)
and uvicorn's h11 protocol answers every such refusal with that fixed 400.

Now the service's own limit (``YJ_MAX_HEADER_BYTES``, 16 KiB of header fields) answers 431
problem+json, "Request Header Fields Too Large", for a head h11 accepted; ``yjrisk serve`` gives
h11 a larger buffer (four times the limit), so a head that reaches the service whole meets the
service's limit first; and a head too large even for h11's buffer (or a request h11 cannot
read) is answered by the server's protocol as a problem too: 431 (400 for bad HTTP), never
uvicorn's text.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest

from app.core import serve
from tests.api.test_http_semantics import live_server  # noqa: F401 - the fixture


async def _raw(host: str, port: int, head: bytes) -> tuple[int, dict[str, str], Any]:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(head)
        await writer.drain()
    except ConnectionError:
        pass  # the server may answer and close before the head is all sent
    data = await asyncio.wait_for(reader.read(), timeout=5)
    writer.close()
    top, _, body = data.partition(b"\r\n\r\n")
    lines = top.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), {k.lower(): v for k, v in headers.items()}, \
        json.loads(body)


async def test_a_header_over_the_services_limit_is_431_problem(client: httpx.AsyncClient) -> None:
    r = await client.get("/healthz", headers={"X-Padding": "a" * 20 * 1024})
    assert r.status_code == 431, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["title"] == "Request Header Fields Too Large"
    assert r.json()["type"].endswith("/headers-too-large")
    assert "aaaa" not in r.text
    assert (await client.get("/healthz", headers={"X-Padding": "a" * 4096})).status_code == 200


@pytest.mark.parametrize(("head", "status"), [
    # Over h11's buffer (16 KiB in this server) and not yet ended: the server has read all
    # that was sent when it answers (a client still sending 133 KB may see the connection
    # reset before it reads the answer, as with any server that refuses a head early).
    (b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Padding: " + b"a" * 20 * 1024, 431),
    (b"GET /healthz HTTP/1.1\r\nHost: x\r\nbad header line\r\n\r\n", 400),
])
async def test_a_head_the_server_cannot_read_is_a_problem_not_uvicorns_text(
        live_server: tuple[str, int, Any], head: bytes, status: int,  # noqa: F811
) -> None:
    host, port, _ = live_server
    got, headers, body = await _raw(host, port, head)
    assert got == status
    assert headers["content-type"] == "application/problem+json"
    assert headers["connection"] == "close"
    assert body["status"] == status
    assert body["title"] == {431: "Request Header Fields Too Large", 400: "Bad Request"}[status]
    assert "aaaa" not in json.dumps(body)


def test_serve_gives_h11_a_buffer_larger_than_the_services_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: dict[str, Any] = {}
    monkeypatch.setattr("uvicorn.run", lambda *a, **kw: seen.update(kw))
    monkeypatch.setenv("YJ_ENV", "test")
    monkeypatch.setenv("YJ_JWT_SECRET", "x" * 40)
    from app.core.config import get_settings
    get_settings.cache_clear()
    try:
        serve.main(["--port", "8999"])
        assert seen["h11_max_incomplete_event_size"] == 4 * get_settings().max_header_bytes
    finally:
        get_settings.cache_clear()
