"""HTTP as clients and monitors expect it: HEAD on every GET route, OPTIONS with the right
``Allow``, and a uvicorn protocol that times out clients too slow to send their headers."""

from __future__ import annotations

import asyncio
from typing import Any

import h11
from starlette.routing import Match
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
