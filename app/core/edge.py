"""The one middleware every HTTP request passes through, as a single pure-ASGI layer.

It was seven layers (asgi-correlation-id, the unhandled-error guard, the access log, HEAD and
OPTIONS, the docs pages' headers, the request guard, prometheus-fastapi-instrumentator), each
with its own coroutine and send wrapper per request; the instrumentator also matched every
path against the routing table a second time. Together they were about half of what
``/healthz`` cost. Here, in the order a request meets them:

0. **Header size**: a request target (path and query string) over ``max_header_bytes`` is
   414 problem+json, "URI Too Long"; header fields (names and values) and the target together
   over it are 431 problem+json, "Request Header Fields Too Large", before anything reads them
   (attack 24a, A24a-2: the target was not counted); (attack 23,
   A23a-3: a head too large for uvicorn's h11 buffer was its 400 text/plain; the server's
   bound on a head still arriving is now larger than this limit under ``yjrisk serve``, and
   its own refusal a problem too: :class:`app.core.http.HeaderTimeoutHttpToolsProtocol`).
1. **Request id**: a new UUID for every request, made here, never taken from the client
   (a client-chosen id could repeat another request's and muddle the access log of reads:
   attack pass 16, A16-9); set in ``asgi_correlation_id.correlation_id`` for the logs, the
   access log of reads and problems' ``instance``, put in the request's ``X-Request-ID``
   header for the app, and sent on every answer. A client's own ``X-Request-ID``, if it is a
   UUID (32 hex digits, or hyphenated), is kept only as ``client_request_id`` on the request's
   log line (in the plain 32-digit form), so a client's logs can be joined to ours.
2. **HEAD / OPTIONS** (RFC 9110): HEAD runs the matching GET and drops the body; OPTIONS is
   answered 204 with ``Allow`` from the routing table (404 if no route has the path); a 405
   lists every method of the resource in ``Allow``.
3. **Request guard**, on POST, PUT and PATCH, before any handler runs: a ``/v1/`` write
   without a ``Bearer`` token is 401 (a stranger learns nothing about bodies); a declared
   ``Content-Length`` over ``max_body_bytes`` is 413, a body that is not JSON is 415, and a
   streamed (chunked) body is counted and cut off with 413 once over the limit.
4. **Unhandled errors**: an exception that escaped the app's handlers is answered (503 with
   ``Retry-After`` for a database fault, else 500) as problem+json, unless the answer had
   started, and logged with frames and type names only (never its message).
5. **Docs pages**: ``/docs`` and ``/redoc`` get :data:`app.core.docs_pages.DOCS_PAGE_HEADERS`.
6. **Access log**: one line per request: method, route template (never the path itself),
   status and duration.
7. **Metrics**: :func:`app.core.metrics.record` with the route template the router matched.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from typing import Any
from uuid import uuid4

import structlog
from asgi_correlation_id import correlation_id
from asgi_correlation_id.extensions.sentry import get_sentry_extension
from asgi_correlation_id.middleware import is_valid_uuid4
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core import metrics
from app.core.docs_pages import DOCS_PAGE_HEADERS
from app.core.errors import PROBLEM_MEDIA_TYPE, problem_body
from app.core.http import allowed_methods
from app.core.logging import route_template, safe_traceback
from app.core.problems import (
    SLUGS,
    database_unavailable,
    problem_response,
    unavailable_response,
)

REQUEST_ID_HEADER = b"x-request-id"
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH"})
LOGGED_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE"})
DOCS_PAGES = frozenset({"/docs", "/redoc"})
_DOCS_HEADERS = [(k.lower().encode("latin-1"), v.encode("latin-1"))
                 for k, v in DOCS_PAGE_HEADERS.items()]
_DOCS_HEADER_NAMES = frozenset(name for name, _ in _DOCS_HEADERS)
# The request headers this layer reads (names are lower case in ASGI).
_READ = frozenset({REQUEST_ID_HEADER, b"authorization", b"content-length", b"content-type",
                   b"transfer-encoding"})

_PLAIN_ID = re.compile(r"[0-9a-fA-F]{32}|[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}")


# The ASGI scope key under which a refusal the headers already show (413, 415) waits for the
# route's role gate; read by app.routers.gates.GatedRoute.
BODY_REFUSAL_KEY = "yjrisk.body_refusal"


class _BodyTooLarge(StarletteHTTPException):
    """A streamed body went over the limit (an HTTPException passes through FastAPI's body
    reading untouched; any other exception there becomes a 400)."""


def _bearer_shaped(authorization: str) -> bool:
    """Whether an Authorization header has the ``Bearer <token>`` shape (RFC 6750 §2.1)."""
    scheme, _, token = authorization.partition(" ")
    return scheme.lower() == "bearer" and bool(token.strip())


def _content_length(headers: Any) -> int:
    """A response's ``Content-Length`` (0 without one), for the size metric."""
    for name, value in headers:
        if name.lower() == b"content-length":
            return int(value) if value.isdigit() else 0
    return 0


class EdgeMiddleware:
    """See the module's docstring; ``router`` answers OPTIONS and 405s' ``Allow``."""

    def __init__(self, app: ASGIApp, router: Any, max_body_bytes: int,
                 max_header_bytes: int = 16 * 1024) -> None:
        self.app = app
        self.router = router
        self.max_body_bytes = max_body_bytes
        self.max_header_bytes = max_header_bytes
        self.sentry = get_sentry_extension()
        # Per app, after create_app configured logging (structlog caches a logger's level on
        # first use).
        self.access_log = structlog.get_logger("yjrisk.access")
        self.error_log = structlog.get_logger("yjrisk.errors")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run one request through the seven steps."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        found: dict[bytes, bytes] = {}
        header_bytes = 0
        for name, value in scope["headers"]:
            header_bytes += len(name) + len(value) + 4  # ": " and CRLF, as sent
            name = name.lower()
            if name in _READ and name not in found:
                found[name] = value
        request_id, client_request_id = self._request_id(scope, found.get(REQUEST_ID_HEADER))
        method: str = scope["method"]
        path: str = scope.get("path", "/")
        inner = {**scope, "method": "GET"} if method == "HEAD" else scope
        status = 0
        response_bytes = 0

        async def answer(message: Message) -> None:
            nonlocal status, response_bytes
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", ()))
                if status == 405:
                    headers = [(k, v) for k, v in headers if k.lower() != b"allow"]
                    headers.append((b"allow", ", ".join(allowed_methods(self.router, path))
                                    .encode()))
                if path in DOCS_PAGES:
                    headers = [(k, v) for k, v in headers if k.lower() not in _DOCS_HEADER_NAMES]
                    headers += _DOCS_HEADERS
                headers.append((REQUEST_ID_HEADER, request_id))
                message["headers"] = headers
                response_bytes = _content_length(headers)
            elif method == "HEAD" and message["type"] == "http.response.body":
                message = {**message, "body": b""}
            await send(message)

        # The request target (path and query string, as sent) counts too: a 120 KB query
        # string was parsed into 30,000 parameters, each its own error (attack 24a, A24a-2).
        query = scope.get("query_string") or b""
        raw_path = (scope.get("raw_path") or path.encode()).partition(b"?")[0]
        target_bytes = len(raw_path) + (len(query) + 1 if query else 0)
        try:
            if target_bytes > self.max_header_bytes:
                # Before anything reads it (the route, the query): step 0.
                await _reject(inner, answer, 414, (
                    f"The request target (path and query string) is too long: at most "
                    f"{self.max_header_bytes} bytes are accepted."))
            elif header_bytes + target_bytes > self.max_header_bytes:
                # Before anything reads them (the token, the body's headers): step 0.
                await _reject(inner, answer, 431, (
                    f"The request's head is too large: at most {self.max_header_bytes} bytes "
                    f"of request target, header names and values are accepted."))
            elif method == "OPTIONS":
                await self._options(path, answer)
            elif method in WRITE_METHODS:
                await self._guarded(inner, receive, answer, found, lambda: status != 0)
            else:
                await self.app(inner, receive, answer)
        except Exception as exc:  # noqa: BLE001 - answered, logged without its message
            unavailable = database_unavailable(exc)
            self.error_log.log(logging.WARNING if unavailable else logging.ERROR,
                               "database_unavailable" if unavailable else "unhandled_error",
                               route=route_template(inner), error_type=type(exc).__name__,
                               exception=None if unavailable else safe_traceback(exc))
            if not status:  # else the answer is on its way; nothing more can be said on it
                response = unavailable_response() if unavailable else problem_response(
                    500, "An unexpected error occurred; it has been logged.")
                await response(inner, receive, answer)
        finally:
            seconds = time.perf_counter() - start
            extra = {"client_request_id": client_request_id} if client_request_id else {}
            self.access_log.info(
                "request", method=method if method in LOGGED_METHODS else "<other>",
                path=route_template(inner), status=status or 500,
                duration_ms=round(seconds * 1000, 2), **extra)
            handler = self._handler(inner, status)
            if handler not in metrics.NOT_RECORDED:
                length = found.get(b"content-length", b"0")
                metrics.record(method, status or 500, handler,
                               int(length) if length.isdigit() else 0, response_bytes, seconds)

    def _request_id(self, scope: Scope, given: bytes | None) -> tuple[bytes, str | None]:
        """The request's own id (see step 1), set for the logs and in the request's header;
        and the client's id in plain form, if it sent a UUID (else None)."""
        text = given.decode("latin-1") if given else ""
        # Only an id in one of the two plain forms is kept (``uuid.UUID`` also reads braces,
        # a ``urn:uuid:`` prefix and stray hyphens), and only as 32 hex digits: the log line
        # carries nothing else a client wrote.
        client_id = (uuid.UUID(text).hex
                     if _PLAIN_ID.fullmatch(text) and is_valid_uuid4(text) else None)
        request_id = uuid4().hex
        scope["headers"] = [*((k, v) for k, v in scope["headers"]
                              if k.lower() != REQUEST_ID_HEADER),
                            (REQUEST_ID_HEADER, request_id.encode())]
        correlation_id.set(request_id)
        self.sentry(request_id)
        return request_id.encode("latin-1"), client_id

    async def _options(self, path: str, send: Send) -> None:
        allowed = allowed_methods(self.router, path)
        headers = [(b"allow", ", ".join(allowed).encode())] if allowed else []
        await send({"type": "http.response.start", "status": 204 if allowed else 404,
                    "headers": [*headers, (b"content-length", b"0")]})
        await send({"type": "http.response.body", "body": b""})

    async def _guarded(self, scope: Scope, receive: Receive, send: Send,
                       found: dict[bytes, bytes], started: Any) -> None:
        """Step 3: refuse what the headers already show, then count the streamed body."""
        authorization = found.get(b"authorization", b"").decode("latin-1")
        if scope.get("path", "").startswith("/v1/") and not _bearer_shaped(authorization):
            # Every /v1 write needs a bearer token: say so before judging the body. The token
            # itself, and the role, are checked by the route's dependencies, also before the
            # body is validated.
            await _reject(scope, send, 401, "A bearer token is required.",
                          [(b"www-authenticate", b"Bearer")])
            return
        raw_length = found.get(b"content-length")
        length = raw_length.decode("latin-1") if raw_length is not None else None
        ctype = found.get(b"content-type", b"").decode("latin-1").split(";")[0].strip().lower()
        has_body = length not in (None, "0") or b"transfer-encoding" in found
        refusal: tuple[int, str] | None = None
        if length is not None and (not length.isdigit() or int(length) > self.max_body_bytes):
            refusal = (413, "The request body is too large.")
        elif has_body and not (ctype == "application/json" or ctype.endswith("+json")):
            refusal = (415, "Send the body as application/json.")
        if refusal is not None:
            # What the headers show is answered before any byte of the body is read, but after
            # the route's role gate (app.routers.gates.GatedRoute raises it once the caller may
            # call the route): a role that may never call a route gets 403 whatever the body.
            scope[BODY_REFUSAL_KEY] = refusal
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            if refusal is not None:
                raise _BodyTooLarge(*refusal)
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    raise _BodyTooLarge(413, "The request body is too large.")
            return message

        try:
            await self.app(scope, limited_receive, send)
        except _BodyTooLarge as exc:
            if not started():
                await _reject(scope, send, exc.status_code, str(exc.detail))

    def _handler(self, scope: Scope, status: int) -> str:
        """The metrics' ``handler``: the matched route's template, else ``none`` (a plain
        Starlette route, such as ``/openapi.json``, leaves no route in the scope: found by
        path)."""
        route = scope.get("route")
        if route is not None:
            return str(getattr(route, "path", metrics.UNMATCHED))
        if status in (0, 404):
            return metrics.UNMATCHED
        for candidate in self.router.routes:
            if isinstance(candidate, Route) and candidate.matches(scope)[0] == Match.FULL:
                return str(candidate.path)
        return metrics.UNMATCHED


async def _reject(scope: Scope, send: Send, status: int, detail: str,
                  extra_headers: list[tuple[bytes, bytes]] | None = None) -> None:
    body = problem_body(status, SLUGS[status], detail)
    payload = json.dumps(body).encode()
    await send({
        "type": "http.response.start",
        "status": status,
        "headers": [
            (b"content-type", PROBLEM_MEDIA_TYPE.encode()),
            (b"content-length", str(len(payload)).encode()),
            *(extra_headers or []),
        ],
    })
    await send({"type": "http.response.body", "body": payload})
