"""HTTP as clients and monitors expect it: HEAD on every GET route, OPTIONS with the right
``Allow``, uvicorn protocols that time out clients too slow to send their headers and bound a
request head, and a router whose routes are only tried on paths one of them can match."""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

import h11
from fastapi import APIRouter
from fastapi import routing as fastapi_routing
from h11._connection import DEFAULT_MAX_INCOMPLETE_EVENT_SIZE
from starlette._utils import get_route_path
from starlette.routing import Match
from starlette.types import Scope
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from app.core.errors import PROBLEM_MEDIA_TYPE, problem_body, status_title

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


# A route's path pattern with its named groups made plain, so that many can share one regex.
_NAMED_GROUP = re.compile(r"\(\?P<[^>]+>")


def _scope_include_prefix(scope: Scope) -> str | None:
    """The path prefix the router being matched was included with ("" for none), as FastAPI
    (0.165) notes the included router in the scope; None if it does not (any more)."""
    included = fastapi_routing._get_scope_included_router(scope)
    context = getattr(included, "include_context", None)
    prefix = getattr(context, "prefix", None)
    return prefix if isinstance(prefix, str) else None


class PathFilteredRouter(APIRouter):
    """An ``APIRouter`` that says at once that it has no route for a path none of its routes'
    path patterns matches, before FastAPI tries its routes one by one.

    FastAPI (0.165) matches a request by asking each included router in turn, and each router
    tries every route it holds (then, once one matched, again inside that router): a judgement
    write tried 30-odd routes of the routers included before its own, some 400 us a request on
    this machine (issue 15). Here one regex, all of the router's route patterns as one
    alternation, answers ``Match.NONE`` for the routers that cannot have the path; every other
    request is matched by FastAPI exactly as before. So precedence (the first full match, else
    the first partial one, hence 405), path parameters, trailing-slash redirects (FastAPI asks
    with the other path, which the regex then judges) and 404 are unchanged: a path matched by
    no route pattern is matched by no route, whatever the method.

    The filter is only used when every route has a path pattern (no nested router or host)
    and the router was included without a prefix (the patterns are its routes' own); it is
    rebuilt when routes are added."""

    _path_filter: re.Pattern[str] | None = None
    _path_filter_routes: int = -1

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        """``Match.NONE`` for an HTTP path no route's pattern matches, else FastAPI's answer."""
        if scope["type"] == "http":
            paths = self._paths()
            if (paths is not None and paths.match(get_route_path(scope)) is None
                    and _scope_include_prefix(scope) == ""):
                return Match.NONE, {}
        return super().matches(scope)

    def _paths(self) -> re.Pattern[str] | None:
        """The alternation of the routes' path patterns (None when a route has none)."""
        if self._path_filter_routes != len(self.routes):
            patterns = [getattr(getattr(route, "path_regex", None), "pattern", None)
                        for route in self.routes]
            plain = [_NAMED_GROUP.sub("(?:", p) for p in patterns if isinstance(p, str)]
            self._path_filter = (re.compile("|".join(f"(?:{p})" for p in plain))
                                 if plain and len(plain) == len(patterns) else None)
            self._path_filter_routes = len(self.routes)
        return self._path_filter


class _HeaderClock:
    """The header-read clock both server protocols keep (slowloris): armed when a client
    connects or starts a request, disarmed when the head is whole or the connection is lost;
    when it runs out while the head is still awaited (``_waiting_for_head``), the connection
    is closed."""

    header_timeout: float = 10.0
    loop: asyncio.AbstractEventLoop
    transport: asyncio.Transport
    _header_timer: asyncio.TimerHandle | None

    def _waiting_for_head(self) -> bool:
        raise NotImplementedError

    def connection_lost(self, exc: Exception | None) -> None:
        """Stop the clock."""
        self._disarm_header_timer()
        super().connection_lost(exc)  # type: ignore[misc]

    def _arm_header_timer(self) -> None:
        self._header_timer = self.loop.call_later(self.header_timeout, self._header_timed_out)

    def _disarm_header_timer(self) -> None:
        timer = getattr(self, "_header_timer", None)
        if timer is not None:
            timer.cancel()
        self._header_timer = None

    def _header_timed_out(self) -> None:
        self._header_timer = None
        if self._waiting_for_head() and not self.transport.is_closing():
            self.transport.close()


class HeaderTimeoutH11Protocol(_HeaderClock, H11Protocol):
    """uvicorn's h11 protocol plus a header-read timeout: a client that connects, or starts a
    request, and has not finished its request line and headers within ``header_timeout``
    seconds is disconnected (slowloris). uvicorn's own keep-alive timeout still closes idle
    connections between requests. A request h11 refuses is answered as a problem
    (:meth:`send_400_response`), not uvicorn's ``text/plain`` 400."""

    header_timeout: float = 10.0

    def send_400_response(self, msg: str) -> None:
        """Answer a request h11 could not read (uvicorn calls this on any
        ``h11.RemoteProtocolError``, ``msg`` its fixed text) as RFC 9457 problem+json and
        close: 431 when the head still arriving outgrew h11's buffer
        (``h11_max_incomplete_event_size``; h11's hint for it, which uvicorn drops), else 400.
        Nothing the client sent is quoted (attack 23, A23a-3)."""
        limit = self.config.h11_max_incomplete_event_size or DEFAULT_MAX_INCOMPLETE_EVENT_SIZE
        if len(self.conn.trailing_data[0]) > limit:
            status, slug, detail = 431, "headers-too-large", (
                "The request's header fields are too large for this server.")
        else:
            status, slug, detail = 400, "bad-request", "The request is not valid HTTP/1.1."
        payload = json.dumps(problem_body(status, slug, detail)).encode()
        self.transport.write(self.conn.send(h11.Response(
            status_code=status, reason=status_title(status).encode(), headers=[
                (b"content-type", PROBLEM_MEDIA_TYPE.encode()),
                (b"content-length", str(len(payload)).encode()),
                (b"connection", b"close")])))
        self.transport.write(self.conn.send(h11.Data(data=payload)))
        self.transport.write(self.conn.send(h11.EndOfMessage()))
        self.transport.close()

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

    def _waiting_for_head(self) -> bool:
        return self.conn.their_state is h11.IDLE  # type: ignore[no-any-return]


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


def _problem_bytes(status: int, slug: str, detail: str) -> bytes:
    """A whole HTTP/1.1 answer: ``status`` as RFC 9457 problem+json, closing the connection."""
    payload = json.dumps(problem_body(status, slug, detail)).encode()
    return b"".join([
        f"HTTP/1.1 {status} {status_title(status)}\r\n".encode(),
        b"content-type: ", PROBLEM_MEDIA_TYPE.encode(), b"\r\n",
        b"content-length: ", str(len(payload)).encode(), b"\r\n",
        b"connection: close\r\n\r\n", payload])


class HeaderTimeoutHttpToolsProtocol(_HeaderClock, HttpToolsProtocol):
    """uvicorn's httptools protocol (llhttp, in C: about a fifth of the h11 protocol's CPU a
    request, issue 15) with what :class:`HeaderTimeoutH11Protocol` adds to h11's:

    - a header-read timeout: a client that connects, or starts a request, and has not finished
      its request line and headers within ``header_timeout`` seconds is disconnected
      (slowloris); uvicorn's keep-alive timeout still closes idle connections between requests;
    - a bound on a request head still arriving (llhttp has none): over
      ``h11_max_incomplete_event_size`` bytes (the option ``yjrisk serve`` sizes for h11's
      buffer, four times the service's own limit, so a head that reaches the service whole
      meets the service's 431 first) it is answered 431 problem+json and the connection
      closed (attack 23, A23a-3);
    - a request llhttp refuses answered 400 problem+json (:meth:`send_400_response`), not
      uvicorn's ``text/plain`` 400. Nothing the client sent is quoted.

    A chunk of received bytes counts towards the head only when the whole chunk belongs to it
    (the head was still arriving before and after the chunk, and no request ended within
    it), so a body or a pipelined request is never counted; llhttp holds at most the limit
    and two chunks of a head."""

    header_timeout: float = 10.0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """Start the header clock as soon as the client connects."""
        super().connection_made(transport)
        self._head_pending = True  # the bytes that come next belong to a request head
        self._head_bytes = 0
        self._ended = False  # a request ended within the chunk being parsed
        self._header_timer: asyncio.TimerHandle | None = None
        self._arm_header_timer()

    def data_received(self, data: bytes) -> None:
        """Keep the clock running, and count the head, until llhttp has a whole head."""
        pending = self._head_pending
        if pending and self._header_timer is None and self._between_requests():
            self._arm_header_timer()
        self._ended = False
        super().data_received(data)
        if self.transport.is_closing():
            return
        if not self._head_pending:
            self._disarm_header_timer()
        elif pending and not self._ended:
            self._head_bytes += len(data)
            if self._head_bytes > self._head_limit():
                self._refuse(431, "headers-too-large",
                             "The request's header fields are too large for this server.")

    def on_message_begin(self) -> None:
        """A request head starts."""
        super().on_message_begin()
        self._head_pending = True
        self._head_bytes = 0

    def on_headers_complete(self) -> None:
        """The head is whole: no more header clock or head count for this request."""
        self._head_pending = False
        self._head_bytes = 0
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        """The request is whole: the next bytes start another head."""
        super().on_message_complete()
        self._head_pending = True
        self._head_bytes = 0
        self._ended = True

    def send_400_response(self, msg: str) -> None:
        """Answer a request llhttp could not read (``msg`` uvicorn's fixed text, unused) as
        RFC 9457 problem+json and close."""
        self._refuse(400, "bad-request", "The request is not valid HTTP/1.1.")

    def _head_limit(self) -> int:
        return self.config.h11_max_incomplete_event_size or DEFAULT_MAX_INCOMPLETE_EVENT_SIZE

    def _between_requests(self) -> bool:
        """No request of this connection is being answered (as h11's ``IDLE``)."""
        return self.cycle is None or self.cycle.response_complete

    def _refuse(self, status: int, slug: str, detail: str) -> None:
        """Answer ``status`` as a problem and close; only close while another request of the
        connection is still being answered (its answer must not be interleaved)."""
        if self._between_requests():
            self.transport.write(_problem_bytes(status, slug, detail))
        self.transport.close()

    def _waiting_for_head(self) -> bool:
        return self._head_pending and self._between_requests()


class SettingsHttpToolsProtocol(HeaderTimeoutHttpToolsProtocol):
    """The httptools protocol that ``yjrisk serve`` runs, with
    ``YJ_HTTP_HEADER_TIMEOUT_SECONDS`` read in the process that serves (a module-level class,
    so ``uvicorn --workers N`` can hand it to its worker processes by name)."""

    @property  # type: ignore[override]
    def header_timeout(self) -> float:  # type: ignore[override]
        """The configured header-read timeout, in seconds."""
        from app.core.config import get_settings

        return get_settings().http_header_timeout_seconds


def httptools_protocol_with_header_timeout(
    seconds: float,
) -> type[HeaderTimeoutHttpToolsProtocol]:
    """A :class:`HeaderTimeoutHttpToolsProtocol` with the configured header timeout."""
    return type("ConfiguredHttpToolsProtocol", (HeaderTimeoutHttpToolsProtocol,),
                {"header_timeout": seconds})
