"""Exception handlers that turn every error into problem+json (the edge middleware,
:mod:`app.core.edge`, answers what escapes them)."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as SATimeoutError
from sqlalchemy.orm.exc import StaleDataError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse

from app.core.deps import MAX_JSON_DEPTH, NOT_JSON, NOT_UTF8, principal_verified
from app.core.errors import (
    MAX_PROBLEM_ERRORS,
    PROBLEM_MEDIA_TYPE,
    DomainError,
    KeyPositions,
    ServiceUnavailable,
    contract_names,
    problem_body,
    safe_loc,
    safe_msg,
)
from app.core.logging import route_template, safe_traceback

RETRY_AFTER_SECONDS = 2

log = structlog.get_logger("yjrisk.errors")

SLUGS = {
    400: "bad-request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    406: "not-acceptable",
    409: "conflict",
    412: "precondition-failed",
    413: "payload-too-large",
    414: "uri-too-long",
    415: "unsupported-media-type",
    422: "validation-error",
    428: "precondition-required",
    431: "headers-too-large",
    503: "unavailable",
    500: "internal-error",
}


def problem_response(
    status: int, detail: str | None = None, *, slug: str | None = None, **kw: Any,
) -> JSONResponse:
    """A problem+json response for a bare status code (``instance``: the request's id)."""
    body = problem_body(status, slug or SLUGS.get(status, "error"), detail, **kw)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE)


def _validation_errors(request: Request, exc: RequestValidationError) -> list[dict[str, str]]:
    """The ``errors`` of a request FastAPI refused (the first :data:`MAX_PROBLEM_ERRORS`):
    each ``loc`` named as far as the contract names it, an unknown key by its position; no
    message quoting a value sent."""
    names = contract_names(request.app)
    document = {"body": exc.body, "query": dict(request.query_params)}
    errors = []
    positions: KeyPositions = {}
    for err in exc.errors()[:MAX_PROBLEM_ERRORS]:
        parts = tuple(err.get("loc", ()))
        loc, note = safe_loc(parts, names, document.get(str(parts[0])) if parts else None,
                             positions)
        msg = safe_msg(err)
        errors.append({"loc": loc, "msg": f"{msg} {note}" if note else msg})
    return errors


async def _on_domain_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    principal = principal_verified(request)
    if principal is not None and principal.is_machine:
        # A machine client (a referral feed, the CMS) is answered no stored case value: the
        # problem names the rule and its bound, not the child's date of birth (A16-10).
        exc = exc.withheld()
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
    if isinstance(exc, ServiceUnavailable):
        headers = {"Retry-After": str(exc.retry_after_seconds)}
    return JSONResponse(
        exc.problem(),
        status_code=exc.status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=headers,
    )


async def _on_validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    if any(e.get("type") == "json_invalid" for e in exc.errors()):
        return problem_response(
            400, NOT_JSON, slug="malformed-json")
    return problem_response(
        422,
        "The request does not match the expected shape; see errors.",
        errors=_validation_errors(request, exc),
        error_count=len(exc.errors()),
    )


def _unreadable_body(exc: StarletteHTTPException) -> JSONResponse | None:
    """The problem for a body FastAPI could not parse for a reason other than bad JSON syntax
    (its own answer is 400 "There was an error parsing the body", naming nothing): bytes that
    are not UTF-8 (RFC 8259 §8.1: JSON exchanged between systems is UTF-8; a CMS sending
    Latin-1 or Windows-1252 names), or JSON nested too deep for the parser (RecursionError:
    the depth limit's own 422, which a gated route gives before the parser runs, ATTACK33-3);
    None for any other HTTP error (attack 32b, ATTACK32B-6)."""
    cause = exc.__cause__
    if exc.status_code != 400 or cause is None:
        return None
    if isinstance(cause, UnicodeDecodeError):
        return problem_response(400, NOT_UTF8, slug="malformed-json")
    if isinstance(cause, RecursionError):
        return problem_response(
            422, "The request holds a value that cannot be stored; see errors.",
            errors=[{"loc": "body", "msg": f"nested deeper than {MAX_JSON_DEPTH} levels"}])
    return None


async def _on_http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if (unreadable := _unreadable_body(exc)) is not None:
        return unreadable
    detail = exc.detail if isinstance(exc.detail, str) else None
    response = problem_response(exc.status_code, detail)
    if exc.headers:
        response.headers.update(exc.headers)
    return response


# SQLSTATE classes that mean "the database is not there for us right now": connection
# exceptions (08), operator intervention (57: admin/crash shutdown 57P01/57P02, cannot connect
# now 57P03 while starting or in recovery, statement timeout 57014), insufficient resources
# (53: disk full, out of memory, too many connections 53300), an I/O error (58030), a lock
# wait cut short (55P03 lock_not_available), a session ended by the server's idle or
# transaction timeout (25P03, 25P04), a database that accepts no writes (25006
# read_only_sql_transaction: a standby after a failover, ``default_transaction_read_only``),
# and a transaction the database rolled back to break a deadlock or a serialisation conflict
# (40001 serialization_failure, 40P01 deadlock_detected; not retried in-process). Nothing of
# the request was stored, and the same request sent again will normally succeed once the
# database is back or writable, so the answer is 503 with Retry-After, not 500 (attack 18,
# A18-12). 40003 statement_completion_unknown is not among them: whether it was stored is
# not known, so "nothing was changed" would not be true.
_UNAVAILABLE_SQLSTATES = ("08", "57", "53", "58030", "55P03", "25006", "25P03", "25P04",
                          "40001", "40P01")
_UNAVAILABLE_NAMES = frozenset({
    "ConnectionDoesNotExistError", "ConnectionFailureError", "ConnectionRejectionError",
    "PostgresConnectionError", "TooManyConnectionsError", "QueryCanceledError",
    "CannotConnectNowError", "InterfaceError", "InternalClientError",
    "DeadlockDetectedError", "SerializationError", "ReadOnlySQLTransactionError",
    "AdminShutdownError", "CrashShutdownError", "DiskFullError", "OutOfMemoryError",
    "IdleInTransactionSessionTimeoutError", "TransactionTimeoutError",
})


def database_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` (or what caused it) means the database is unreachable, gone, frozen or
    out of connections, or refusing writes (read-only: a standby after a failover), rather than
    a bug: refused/reset/closed connections, pool exhaustion, connect/statement timeouts, a
    rolled-back deadlock victim (:data:`_UNAVAILABLE_SQLSTATES`). Those are answered 503 with
    Retry-After."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OperationalError | InterfaceError | SATimeoutError
                      | OSError | TimeoutError):
            return True
        if isinstance(current, DBAPIError) and current.connection_invalidated:
            return True
        sqlstate = str(getattr(current, "sqlstate", "") or "")
        if sqlstate and sqlstate.startswith(_UNAVAILABLE_SQLSTATES):
            return True
        if type(current).__name__ in _UNAVAILABLE_NAMES:
            return True
        orig = getattr(current, "orig", None)
        current = orig if isinstance(orig, BaseException) else (
            current.__cause__ or current.__context__)
    return False


def unavailable_response() -> JSONResponse:
    """503 problem with Retry-After: the database is unavailable; the request changed nothing."""
    response = problem_response(
        503, "The database is busy or unavailable; nothing was changed. Retry shortly.",
        slug="unavailable",
    )
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    if database_unavailable(exc):
        log.warning("database_unavailable", route=route_template(request.scope),
                    error_type=type(exc).__name__)
        return unavailable_response()
    log.error("unhandled_error", route=route_template(request.scope),
              error_type=type(exc).__name__, exception=safe_traceback(exc))
    return problem_response(500, "An unexpected error occurred; it has been logged.")


async def _on_stale(request: Request, exc: Exception) -> JSONResponse:
    return problem_response(
        412, "The resource was changed by someone else; fetch it again and retry.")


async def _on_integrity(request: Request, exc: Exception) -> JSONResponse:
    log.info("integrity_conflict", route=route_template(request.scope))
    return problem_response(409, "The write conflicts with an existing record.")


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
    instance: str = Field(description="`urn:uuid:` of the request's id (the answer's "
                                      "X-Request-ID): this occurrence, never the request path")
    errors: list[ProblemError] | None = Field(
        None, description=f"The field-level errors found, at most {MAX_PROBLEM_ERRORS} "
                          "(the first found)")
    error_count: int | None = Field(
        None, description=f"Only when more than {MAX_PROBLEM_ERRORS} errors were found (so "
                          "`errors` lists the first of them): how many there were")


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
    for db_error in (DBAPIError, SATimeoutError, OSError, TimeoutError):
        app.add_exception_handler(db_error, _on_unexpected)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    app.add_exception_handler(Exception, _on_unexpected)
