"""Structured JSON logs with the request id; never tokens or personal data."""

from __future__ import annotations

import logging
import sys
import traceback
from collections.abc import Mapping, MutableMapping
from typing import Any

import structlog
from asgi_correlation_id import correlation_id
from starlette.types import Scope

_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE"})
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


def safe_traceback(exc: BaseException) -> str:
    """A traceback with frames (file, line, function) and exception type names only: exception
    messages can quote request values (``invalid literal for int(): 'x'``) or stored rows, so
    they never reach a log line."""
    lines: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        frames = traceback.extract_tb(current.__traceback__)
        lines += [f"  {f.filename}:{f.lineno} in {f.name}" for f in frames]
        lines.append(f"{type(current).__module__}.{type(current).__qualname__}")
        current = current.__cause__ or current.__context__
        if current is not None:
            lines.append("caused by:")
    return "\n".join(lines)


def _safe_exc_info(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> Mapping[str, Any]:
    exc_info = event_dict.pop("exc_info", None)
    exc: BaseException | None = None
    if isinstance(exc_info, BaseException):
        exc = exc_info
    elif isinstance(exc_info, tuple):
        exc = exc_info[1]
    elif exc_info:
        exc = sys.exc_info()[1]
    if exc is not None:
        event_dict["exception"] = safe_traceback(exc)
    return event_dict


class SafeFormatter(logging.Formatter):
    """Stdlib log records (uvicorn, SQLAlchemy's pool) with exception messages left out."""

    def formatException(self, ei: Any) -> str:  # noqa: N802 - the stdlib's name
        """Frames and exception types only (see :func:`safe_traceback`)."""
        return safe_traceback(ei[1]) if ei and ei[1] is not None else ""


class _CurrentStdout:
    """``sys.stdout`` as it is at each write, not as it was when logging was configured: a
    structlog logger is cached on first use, and a module's logger first used while stdout was
    another stream (a test's capture, since closed) kept writing to it."""

    def write(self, text: str) -> int:
        return sys.stdout.write(text)

    def flush(self) -> None:
        sys.stdout.flush()


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
            _safe_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
        ),
        logger_factory=structlog.PrintLoggerFactory(_CurrentStdout()),  # type: ignore[arg-type]
        cache_logger_on_first_use=True,
    )
    logging.basicConfig(level=level.upper(), stream=sys.stdout, format="%(message)s", force=True)
    for handler in logging.getLogger().handlers:
        handler.setFormatter(SafeFormatter("%(message)s"))
    # uvicorn's access log prints query strings; ours prints the path only.
    logging.getLogger("uvicorn.access").disabled = True
    # httpx logs every request's full URL at INFO ("HTTP Request: POST <url>"): a webhook
    # subscriber's or identity provider's URL may carry a credential in its query, and the
    # lines are not JSON. Webhook deliveries are logged by app.domain.webhooks without the URL.
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)


def route_template(scope: Scope) -> str:
    """The matched route's template (``/v1/cases/{case_id}``), never the request's own path:
    ids, slugs, free text and credentials (a calendar feed's token) in a path are request
    values and stay out of the logs."""
    route = scope.get("route")
    path = getattr(route, "path_format", None) or getattr(route, "path", None)
    return str(path) if path else "<unmatched>"
