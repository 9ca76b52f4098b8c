"""Exception handlers and guard middleware that turn every error into problem+json."""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm.exc import StaleDataError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.errors import PROBLEM_MEDIA_TYPE, DomainError, problem_body

log = structlog.get_logger("yjrisk.errors")

_SLUGS = {
    400: "bad-request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    406: "not-acceptable",
    409: "conflict",
    412: "precondition-failed",
    413: "payload-too-large",
    415: "unsupported-media-type",
    422: "validation-error",
    428: "precondition-required",
    503: "unavailable",
    500: "internal-error",
}


def problem_response(
    status: int, detail: str | None = None, *, instance: str, slug: str | None = None,
    **kw: Any,
) -> JSONResponse:
    """A problem+json response for a bare status code; ``instance`` is the request's path."""
    body = problem_body(status, slug or _SLUGS.get(status, "error"), detail, instance=instance,
                        **kw)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE)


def _loc(loc: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in loc)


def _validation_errors(exc: RequestValidationError) -> list[dict[str, str]]:
    errors = []
    for err in exc.errors():
        msg = str(err.get("msg", "invalid"))
        errors.append({"loc": _loc(tuple(err.get("loc", ()))), "msg": msg})
    return errors


async def _on_domain_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
    return JSONResponse(
        exc.problem(request.url.path),
        status_code=exc.status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=headers,
    )


async def _on_validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    if any(e.get("type") == "json_invalid" for e in exc.errors()):
        return problem_response(
            400, "The request body is not valid JSON.", slug="malformed-json",
            instance=request.url.path,
        )
    return problem_response(
        422,
        "The request does not match the expected shape; see errors.",
        instance=request.url.path,
        errors=_validation_errors(exc),
    )


async def _on_http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else None
    response = problem_response(exc.status_code, detail, instance=request.url.path)
    if exc.headers:
        response.headers.update(exc.headers)
    return response


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled_error", path=request.url.path, error_type=type(exc).__name__)
    return problem_response(500, "An unexpected error occurred; it has been logged.",
                            instance=request.url.path)


async def _on_stale(request: Request, exc: Exception) -> JSONResponse:
    return problem_response(
        412, "The resource was changed by someone else; fetch it again and retry.",
        instance=request.url.path,
    )


async def _on_integrity(request: Request, exc: Exception) -> JSONResponse:
    log.info("integrity_conflict", path=request.url.path)
    return problem_response(
        409, "The write conflicts with an existing record.", instance=request.url.path
    )


async def _on_operational(request: Request, exc: Exception) -> JSONResponse:
    log.warning("database_unavailable", path=request.url.path, error_type=type(exc).__name__)
    response = problem_response(
        503, "The database is busy or unavailable; retry shortly.", slug="unavailable",
        instance=request.url.path,
    )
    response.headers["Retry-After"] = "1"
    return response


class ProblemError(BaseModel):
    """One field-level error of a 422 problem."""

    loc: str
    msg: str


class Problem(BaseModel):
    """An RFC 9457 problem document (``application/problem+json``)."""

    type: str
    title: str
    status: int
    detail: str
    instance: str
    errors: list[ProblemError] | None = None


_DESCRIPTIONS = {
    400: "Malformed JSON, or a missing Idempotency-Key on a feed",
    401: "No valid bearer token",
    403: "The token's role may not do this",
    404: "Unknown, or not yours to see (another service's ids are 404 too)",
    409: "Conflicts with the current state (duplicate, illegal transition, panel approval)",
    413: "Request body too large",
    415: "Body is not application/json",
    422: "Refused by validation or by a policy rule (the problem names the rule)",
}


def problem_responses(*extra: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` documenting the problem+json errors of an API route."""
    codes = sorted({*_DESCRIPTIONS, *extra})
    return {
        code: {
            "description": _DESCRIPTIONS.get(code, HTTPStatus(code).phrase),
            "content": {PROBLEM_MEDIA_TYPE: {
                "schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for code in codes
    }


def install_problem_handlers(app: FastAPI) -> None:
    """Register the handlers so no error leaves the service as anything but problem+json."""
    app.add_exception_handler(DomainError, _on_domain_error)
    app.add_exception_handler(StaleDataError, _on_stale)
    app.add_exception_handler(IntegrityError, _on_integrity)
    app.add_exception_handler(OperationalError, _on_operational)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    app.add_exception_handler(Exception, _on_unexpected)


class RequestGuardMiddleware:
    """Refuses oversized bodies (413) and non-JSON write bodies (415) before any handler runs."""

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check headers, then count streamed bytes."""
        if scope["type"] != "http" or scope["method"] not in {"POST", "PUT", "PATCH"}:
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        length = headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_body_bytes):
            await self._reject(scope, send, 413, "The request body is too large.")
            return
        ctype = headers.get("content-type", "").split(";")[0].strip().lower()
        has_body = length not in (None, "0") or "transfer-encoding" in headers
        if has_body and not (ctype == "application/json" or ctype.endswith("+json")):
            await self._reject(scope, send, 415, "Send the body as application/json.")
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    raise _BodyTooLarge
            return message

        try:
            await self.app(scope, limited_receive, send)
        except _BodyTooLarge:
            await self._reject(scope, send, 413, "The request body is too large.")

    @staticmethod
    async def _reject(scope: Scope, send: Send, status: int, detail: str) -> None:
        body = problem_body(status, _SLUGS[status], detail, instance=scope.get("path", "/"))
        payload = json.dumps(body).encode()
        await send({
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", PROBLEM_MEDIA_TYPE.encode()),
                (b"content-length", str(len(payload)).encode()),
            ],
        })
        await send({"type": "http.response.body", "body": payload})


class _BodyTooLarge(Exception):
    pass
