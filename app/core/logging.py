"""Structured JSON logs with the request id; never tokens or personal data."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Mapping, MutableMapping
from typing import Any

import structlog
from asgi_correlation_id import correlation_id
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_REDACT = {"authorization", "token", "jwt", "password", "secret", "given_name", "family_name",
           "date_of_birth"}


def _add_request_id(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> Mapping[str, Any]:
    rid = correlation_id.get()
    if rid:
        event_dict.setdefault("request_id", rid)
    return event_dict


def _redact(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> Mapping[str, Any]:
    for key in list(event_dict):
        if key.lower() in _REDACT:
            event_dict[key] = "[redacted]"
    return event_dict


def configure_logging(level: str = "INFO", json_logs: bool = True) -> None:
    """Route stdlib and structlog output through one JSON renderer on stdout."""
    renderer = (
        structlog.processors.JSONRenderer() if json_logs else structlog.dev.ConsoleRenderer()
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _add_request_id,
            _redact,
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
        ),
        logger_factory=structlog.PrintLoggerFactory(sys.stdout),
        cache_logger_on_first_use=True,
    )
    logging.basicConfig(level=level.upper(), stream=sys.stdout, format="%(message)s", force=True)
    # uvicorn's access log prints query strings; ours prints the path only.
    logging.getLogger("uvicorn.access").disabled = True


def _loggable_path(path: str) -> str:
    """The path to log: a calendar feed's path is its credential, so it never is."""
    if path.startswith(CALENDAR_PREFIX):
        return CALENDAR_PREFIX + "{token}.ics"
    return path


CALENDAR_PREFIX = "/v1/calendar/"


class AccessLogMiddleware:
    """One log line per request: method, path (no query string), status, duration."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.log = structlog.get_logger("yjrisk.access")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Time the request and log it once it has been answered."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, capture)
        finally:
            self.log.info(
                "request",
                method=scope["method"],
                path=_loggable_path(scope["path"]),
                status=status,
                duration_ms=round((time.perf_counter() - start) * 1000, 2),
            )
