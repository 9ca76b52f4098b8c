"""Issue 9 part 7: HTTP as clients and monitors expect it: HEAD on every GET route, OPTIONS with
the right Allow, CORS only for configured origins, a chunked body over the limit is 413, and
slow clients are timed out by the server."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import uvicorn
from asgi_lifespan import LifespanManager

from app.core.config import Settings
from app.core.http import httptools_protocol_with_header_timeout, protocol_with_header_timeout
from app.main import create_app
from tests.api.support import concrete_path
from tests.conftest import Tenant, free_port


def _concrete(path: str, tenant: Tenant, ids: dict[str, str]) -> str:
    return concrete_path(path, {"slug": tenant.slug, "pack_id": "somerset-yjt-2023", **ids})


async def _openapi(client: httpx.AsyncClient) -> dict[str, Any]:
    return (await client.get("/openapi.json")).json()["paths"]  # type: ignore[no-any-return]


async def test_head_answers_every_get_route(client: httpx.AsyncClient, somerset: Tenant) -> None:
    """Uptime monitors probe with HEAD: every GET route (and /healthz, /readyz, /metrics)
    answers HEAD with the GET's status and headers and no body."""
    case = (await somerset.open_case())["data"]
    auth = somerset.auth("duty_manager")
    paths = [p for p, ops in (await _openapi(client)).items() if "get" in ops]
    paths += ["/healthz", "/readyz", "/metrics", "/openapi.json"]
    for path in paths:
        url = _concrete(path, somerset, {"case_id": case["id"]})
        get = await client.get(url, headers=auth)
        head = await client.head(url, headers=auth)
        assert head.status_code == get.status_code, path
        assert head.content == b"", path
        assert head.headers.get("content-type") == get.headers.get("content-type"), path
    assert (await client.head("/healthz")).status_code == 200


async def test_head_is_authenticated_like_get(client: httpx.AsyncClient) -> None:
    """HEAD is no way around the token check."""
    assert (await client.head("/v1/cases")).status_code == 401


async def test_options_lists_the_allowed_methods(
    client: httpx.AsyncClient, somerset: Tenant
) -> None:
    """OPTIONS answers 204 with exactly the path's methods (+HEAD with GET, +OPTIONS)."""
    for path, ops in (await _openapi(client)).items():
        methods = {m.upper() for m in ops}
        if "GET" in methods:
            methods.add("HEAD")
        methods.add("OPTIONS")
        r = await client.options(_concrete(path, somerset, {}))
        assert r.status_code == 204, path
        assert {m.strip() for m in r.headers["allow"].split(",")} == methods, path
    assert (await client.options(f"/v1/nothing-here/{uuid.uuid4()}")).status_code == 404


async def test_405_lists_every_method_of_the_resource(
    client: httpx.AsyncClient, somerset: Tenant
) -> None:
    """RFC 9110 §15.5.6: a 405's ``Allow`` names the resource's methods, for every path (the
    router alone named only the first matching route's)."""
    for path, ops in (await _openapi(client)).items():
        methods = {m.upper() for m in ops}
        absent = sorted({"GET", "POST", "PUT", "PATCH", "DELETE"} - methods)
        if not absent:
            continue
        # A write without a bearer token is refused (401) at the edge, before routing: a
        # bearer-shaped one reaches the router, which answers 405 before any gate.
        bearer = {"Authorization": "Bearer x"} if absent[0] in ("POST", "PUT", "PATCH") else {}
        r = await client.request(absent[0], _concrete(path, somerset, {}), headers=bearer)
        assert r.status_code == 405, path
        expected = methods | {"OPTIONS"} | ({"HEAD"} if "GET" in methods else set())
        assert {m.strip() for m in r.headers["allow"].split(",")} == expected, path


async def test_cors_is_off_by_default(client: httpx.AsyncClient) -> None:
    """No YJ_CORS_ORIGINS: no browser origin is granted anything."""
    r = await client.options("/v1/cases", headers={
        "Origin": "https://evil.example", "Access-Control-Request-Method": "GET"})
    assert "access-control-allow-origin" not in r.headers
    r = await client.get("/healthz", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in r.headers


@pytest.fixture
async def cors_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The app with one configured browser origin."""
    app = create_app(settings.model_copy(update={"cors_origins": ["https://app.yj.example"]}))
    async with LifespanManager(app, startup_timeout=60, shutdown_timeout=60) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            yield c


async def test_cors_preflight_for_configured_origin_only(
    cors_client: httpx.AsyncClient, somerset: Tenant
) -> None:
    """A preflight from the configured origin may send Authorization and If-Match; another
    origin gets no grant; the actual response exposes ETag."""
    r = await cors_client.options("/v1/cases/x", headers={
        "Origin": "https://app.yj.example", "Access-Control-Request-Method": "PATCH",
        "Access-Control-Request-Headers": "authorization, if-match, content-type"})
    assert r.status_code == 200
    assert r.headers["access-control-allow-origin"] == "https://app.yj.example"
    assert "PATCH" in r.headers["access-control-allow-methods"]
    assert "if-match" in r.headers["access-control-allow-headers"].lower()
    assert "access-control-allow-credentials" not in r.headers
    r = await cors_client.options("/v1/cases", headers={
        "Origin": "https://evil.example", "Access-Control-Request-Method": "GET"})
    assert r.status_code == 400
    assert "access-control-allow-origin" not in r.headers
    assert r.headers["content-type"].startswith("application/problem+json")
    assert "origin" in r.headers["vary"].lower()
    problem = r.json()
    assert problem["type"].endswith("/cors-preflight-refused")
    assert problem["status"] == 400
    assert problem["instance"].startswith("urn:uuid:")  # the occurrence, not the path
    assert "origin" in problem["detail"]
    assert "evil.example" not in r.text
    r = await cors_client.options("/v1/cases", headers={
        "Origin": "https://app.yj.example", "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "x-evil-header"})
    assert r.status_code == 400
    assert "headers" in r.json()["detail"]
    assert "x-evil-header" not in r.text
    r = await cors_client.get("/v1/cases", headers={**somerset.auth("case_holder"),
                                                    "Origin": "https://app.yj.example"})
    assert r.status_code == 200
    assert r.headers["access-control-allow-origin"] == "https://app.yj.example"
    assert "etag" in r.headers["access-control-expose-headers"].lower()


async def test_chunked_body_over_limit_is_413(client: httpx.AsyncClient, somerset: Tenant
                                             ) -> None:
    """A body sent without Content-Length (chunked) that passes the limit: 413 problem."""
    limit = somerset.settings.max_body_bytes

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"child": {"given_name": "'
        for _ in range(limit // 4096 + 2):
            yield b"x" * 4096
        yield b'"}}'

    r = await client.post("/v1/cases", content=chunks(), headers={
        **somerset.auth("line_manager"), "Content-Type": "application/json"})
    assert r.status_code == 413, r.text
    assert r.headers["content-type"].startswith("application/problem+json")


# --- a live server: header timeout, keep-alive after errors ----------------------------------


# The protocols a live server is tried with: httptools, which ``yjrisk serve`` runs, and h11.
LIVE_PROTOCOLS = {"httptools": httptools_protocol_with_header_timeout,
                  "h11": protocol_with_header_timeout}


@pytest.fixture(params=sorted(LIVE_PROTOCOLS))
async def live_server(
    settings: Settings, request: pytest.FixtureRequest,
) -> AsyncIterator[tuple[str, int, Any]]:
    """The app under uvicorn on a free port, with a 0.5 s header timeout, served by each of
    the header-timeout protocols (app.core.http) in turn."""
    app = create_app(settings)
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None,
                            http=LIVE_PROTOCOLS[request.param](0.5), timeout_keep_alive=5,
                            lifespan="on")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    try:
        yield "127.0.0.1", port, app
    finally:
        server.should_exit = True
        await task


async def test_slow_header_client_is_disconnected(live_server: tuple[str, int, Any]) -> None:
    """Slowloris: a client that never finishes its request head is cut off after the header
    timeout (0.5 s here, 10 s by default) rather than holding a connection for ever."""
    host, port, _ = live_server
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
    await writer.drain()
    start = asyncio.get_running_loop().time()
    for _ in range(10):  # trickle a header byte every 0.1 s: each byte must not reset the clock
        await asyncio.sleep(0.1)
        if writer.is_closing():
            break
        try:
            writer.write(b"X")
            await writer.drain()
        except ConnectionError:
            break
    try:
        data = await asyncio.wait_for(reader.read(), timeout=3)
    except ConnectionError:
        data = b""  # the server closed while we were still trickling
    assert data == b""
    assert asyncio.get_running_loop().time() - start < 2.5
    writer.close()


async def test_idle_connection_gets_no_more_than_keep_alive(
    live_server: tuple[str, int, Any]
) -> None:
    """A connected client that sends nothing is disconnected by the header timeout."""
    host, port, _ = live_server
    reader, writer = await asyncio.open_connection(host, port)
    assert await asyncio.wait_for(reader.read(), timeout=3) == b""
    writer.close()


async def test_keep_alive_survives_an_unexpected_error(
    live_server: tuple[str, int, Any], caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A bug in a handler: 500 problem, the client's keep-alive connection stays usable, and
    the exception's message (which quotes request values) is in no log line."""
    host, port, app = live_server
    marker = "VALUE-FROM-REQUEST-" + uuid.uuid4().hex

    async def broken(q: str) -> None:
        raise ValueError(f"invalid literal: {q!r}")

    app.add_api_route("/__broken", broken, include_in_schema=False)
    async with httpx.AsyncClient(base_url=f"http://{host}:{port}") as c:
        r = await c.get("/__broken", params={"q": marker})
        assert r.status_code == 500
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.headers.get("connection", "keep-alive") != "close"
        r = await c.get("/healthz")
        assert r.status_code == 200
        assert c._transport._pool.connections.__len__() == 1  # type: ignore[attr-defined]
    assert marker not in caplog.text + capsys.readouterr().out


def test_serve_protocol_can_be_handed_to_worker_processes() -> None:
    """``yjrisk serve --workers N`` pickles uvicorn's config for each worker process: the
    protocol class must be importable by name, and read its timeout from the settings."""
    import pickle

    from app.core.config import get_settings
    from app.core.http import SettingsH11Protocol, SettingsHttpToolsProtocol

    for protocol in (SettingsHttpToolsProtocol, SettingsH11Protocol):
        assert pickle.loads(pickle.dumps(protocol)) is protocol
        assert protocol.__new__(protocol).header_timeout == \
            get_settings().http_header_timeout_seconds


def test_serve_runs_the_httptools_protocol(monkeypatch: pytest.MonkeyPatch) -> None:
    """``yjrisk serve`` serves with httptools (llhttp, in C) and its header timeout and head
    bound, on uvicorn's default loop (uvloop), not h11 (issue 15: h11, pure Python, cost
    about 75 us more CPU a request)."""
    from app.core import serve
    from app.core.config import get_settings
    from app.core.http import SettingsHttpToolsProtocol

    seen: dict[str, Any] = {}
    monkeypatch.setattr("uvicorn.run", lambda *a, **kw: seen.update(kw))
    monkeypatch.setenv("YJ_ENV", "test")
    monkeypatch.setenv("YJ_JWT_SECRET", "x" * 40)
    get_settings.cache_clear()
    try:
        serve.main(["--port", "8999"])
    finally:
        get_settings.cache_clear()
    assert seen["http"] is SettingsHttpToolsProtocol
    assert seen.get("loop", "auto") == "auto"
    import uvloop  # noqa: F401 - installed (uvicorn[standard]), so "auto" picks it


async def _exchange(host: str, port: int, chunks: list[bytes], pause: float = 0.0) -> bytes:
    """Send ``chunks`` (``pause`` seconds apart) on one connection, stopping once the server
    answers; all it answers until it closes or is quiet for a second."""
    reader, writer = await asyncio.open_connection(host, port)
    received: list[bytes] = []

    async def read() -> None:
        while True:
            try:
                more = await asyncio.wait_for(reader.read(65536), timeout=1)
            except (TimeoutError, ConnectionError):
                return
            if not more:
                return
            received.append(more)

    reading = asyncio.create_task(read())
    try:
        for chunk in chunks:
            if received or reading.done():
                break
            writer.write(chunk)
            await writer.drain()
            if pause:
                await asyncio.sleep(pause)
    except ConnectionError:
        pass
    await reading
    writer.close()
    return b"".join(received)


async def test_a_head_trickled_in_small_chunks_past_the_bound_is_431(
    live_server: tuple[str, int, Any],
) -> None:
    """The bound on a head still arriving counts every chunk of it, however small the chunks
    (llhttp keeps no limit of its own): 20 KiB of one header sent 1 KiB at a time is 431
    problem+json once the head passes the server's bound (16 KiB here)."""
    host, port, _ = live_server
    chunks = [b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Padding: "] + [b"a" * 1024] * 20
    data = await _exchange(host, port, chunks, pause=0.005)
    assert data.startswith(b"HTTP/1.1 431 "), data[:200]
    assert b"application/problem+json" in data
    assert b"aaaa" not in data


async def test_a_body_sent_with_its_head_is_not_counted_as_head(
    live_server: tuple[str, int, Any], settings: Settings,
) -> None:
    """Only a request head is bounded by the server's head bound: a write whose body (larger
    than the bound) arrives in the same packets as its head reaches the app, and so does a
    second request pipelined behind it on the same connection."""
    host, port, _ = live_server
    body = b'{"pad": "' + b"a" * (20 * 1024) + b'"}'
    assert len(body) < settings.max_body_bytes
    head = (b"POST /v1/cases HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n")
    data = await _exchange(host, port, [head + body + b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"])
    # The app's own answer (401: no token), then /healthz's: no 431 from the server.
    assert data.startswith(b"HTTP/1.1 401 "), data[:200]
    assert data.count(b"HTTP/1.1 200 ") == 1, data[-300:]
    assert b" 431 " not in data
