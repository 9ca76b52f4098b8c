"""HTTP as clients and monitors expect it: HEAD on every GET route, OPTIONS with the right
``Allow``, and a uvicorn protocol that times out clients too slow to send their headers."""

from __future__ import annotations

import asyncio
from typing import Any

import h11
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

PROBED_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def allowed_methods(router: Any, path: str) -> list[str]:
    """The methods the app answers on ``path`` (HEAD with GET, OPTIONS always); [] if none."""
    allowed = []
    for method in PROBED_METHODS:
        scope = {"type": "http", "path": path, "method": method, "root_path": ""}
        if any(route.matches(scope)[0] == Match.FULL for route in router.routes):
            allowed.append(method)
    if "GET" in allowed:
        allowed.insert(allowed.index("GET") + 1, "HEAD")
    return [*allowed, "OPTIONS"] if allowed else []


class HttpMethodsMiddleware:
    """``HEAD`` is the matching ``GET`` without its body (RFC 9110 §9.3.2); ``OPTIONS`` (not
    a CORS preflight, which the CORS middleware answers) is 204 with ``Allow``."""

    def __init__(self, app: ASGIApp, router: Any) -> None:
        self.app = app
        self.router = router

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Rewrite HEAD to GET and drop the body; answer OPTIONS from the routing table."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["method"] not in {"HEAD", "OPTIONS"}:
            await self.app(scope, receive, self._allow_on_405(scope, send))
            return
        if scope["method"] == "OPTIONS":
            await self._options(scope, send)
            return

        async def without_body(message: Message) -> None:
            if message["type"] == "http.response.body":
                message = {**message, "body": b""}
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, without_body)

    def _allow_on_405(self, scope: Scope, send: Send) -> Send:
        """A 405 lists every method of the resource in ``Allow`` (RFC 9110 §15.5.6), not only
        those of the first route the router matched on the path."""

        async def send_with_allow(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 405:
                allowed = allowed_methods(self.router, scope["path"])
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"allow"]
                message = {**message, "headers": [*headers,
                                                  (b"allow", ", ".join(allowed).encode())]}
            await send(message)

        return send_with_allow

    async def _options(self, scope: Scope, send: Send) -> None:
        allowed = allowed_methods(self.router, scope["path"])
        status = 204 if allowed else 404
        headers = [(b"allow", ", ".join(allowed).encode())] if allowed else []
        await send({"type": "http.response.start", "status": status,
                    "headers": [*headers, (b"content-length", b"0")]})
        await send({"type": "http.response.body", "body": b""})


class HeaderTimeoutH11Protocol(H11Protocol):
    """uvicorn's h11 protocol plus a header-read timeout: a client that connects, or starts a
    request, and has not finished its request line and headers within ``header_timeout``
    seconds is disconnected (slowloris). uvicorn's own keep-alive timeout still closes idle
    connections between requests."""

    header_timeout: float = 10.0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """Start the header clock as soon as the client connects."""
        super().connection_made(transport)
        self._header_timer: asyncio.TimerHandle | None = None
        self._arm_header_timer()

    def data_received(self, data: bytes) -> None:
        """Keep the clock running until h11 has a whole request head."""
        if self.conn.their_state is h11.IDLE and self._header_timer is None:
            self._arm_header_timer()
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:
            self._disarm_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        """Stop the clock."""
        self._disarm_header_timer()
        super().connection_lost(exc)

    def _arm_header_timer(self) -> None:
        self._header_timer = self.loop.call_later(self.header_timeout, self._header_timed_out)

    def _disarm_header_timer(self) -> None:
        timer = getattr(self, "_header_timer", None)
        if timer is not None:
            timer.cancel()
        self._header_timer = None

    def _header_timed_out(self) -> None:
        self._header_timer = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self.transport.close()


class SettingsH11Protocol(HeaderTimeoutH11Protocol):
    """The header-timeout protocol with ``YJ_HTTP_HEADER_TIMEOUT_SECONDS`` read in the process
    that serves (a module-level class, so ``uvicorn --workers N`` can hand it to its worker
    processes by name)."""

    @property  # type: ignore[override]
    def header_timeout(self) -> float:  # type: ignore[override]
        """The configured header-read timeout, in seconds."""
        from app.core.config import get_settings

        return get_settings().http_header_timeout_seconds


def protocol_with_header_timeout(seconds: float) -> type[HeaderTimeoutH11Protocol]:
    """A :class:`HeaderTimeoutH11Protocol` with the configured header timeout."""
    return type("ConfiguredH11Protocol", (HeaderTimeoutH11Protocol,),
                {"header_timeout": seconds})
