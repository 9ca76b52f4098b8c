"""One error hierarchy and RFC 9457 problem+json rendering for every error path."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

PROBLEM_BASE = "https://yjrisk.example/problems/"
PROBLEM_MEDIA_TYPE = "application/problem+json"

# One title per status: the reason phrases of RFC 9110 section 15 (Python's ``HTTPStatus`` still
# says "Unprocessable Entity" and "Request Entity Too Large" before 3.13). The problem ``type``
# tells problems of one status apart; the title never does.
STATUS_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    406: "Not Acceptable",
    409: "Conflict",
    410: "Gone",
    412: "Precondition Failed",
    413: "Content Too Large",
    415: "Unsupported Media Type",
    422: "Unprocessable Content",
    428: "Precondition Required",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


def status_title(status: int) -> str:
    """The problem title of an HTTP status (RFC 9110 reason phrase; a class name if unlisted)."""
    from http import HTTPStatus

    if status in STATUS_TITLES:
        return STATUS_TITLES[status]
    if status in HTTPStatus._value2member_map_:
        return HTTPStatus(status).phrase
    return "Client Error" if 400 <= status < 500 else "Server Error"


class DomainError(Exception):
    """A refusal the client can act on; rendered as problem+json with ``status``."""

    status: int = 400
    slug: str = "bad-request"

    def __init__(
        self,
        detail: str,
        *,
        slug: str | None = None,
        status: int | None = None,
        errors: Sequence[dict[str, Any]] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        if slug is not None:
            self.slug = slug
        if status is not None:
            self.status = status
        self.errors = list(errors or [])
        self.extra = dict(extra or {})

    @property
    def title(self) -> str:
        """The problem title: the one title of this error's status."""
        return status_title(self.status)

    def problem(self, instance: str) -> dict[str, Any]:
        """The RFC 9457 body of this error; ``instance`` is the request's path."""
        return problem_body(
            self.status, self.slug, self.detail, instance=instance, errors=self.errors,
            extra=self.extra,
        )


class NotAuthenticated(DomainError):
    """401: no usable credentials."""

    status, slug = 401, "unauthenticated"


class Forbidden(DomainError):
    """403: authenticated but not allowed."""

    status, slug = 403, "forbidden"


class NotFound(DomainError):
    """404: unknown, or not the caller's to know about."""

    status, slug = 404, "not-found"


class Conflict(DomainError):
    """409: the request conflicts with the current state."""

    status, slug = 409, "conflict"


class PreconditionFailed(DomainError):
    """412: the If-Match ETag is stale."""

    status, slug = 412, "precondition-failed"


class PreconditionRequired(DomainError):
    """428: a conditional header is required."""

    status, slug = 428, "precondition-required"


class ServiceUnavailable(DomainError):
    """503: a dependency (database, identity provider) is unavailable; retry after a while."""

    status, slug, title = 503, "unavailable", "Service unavailable"
    retry_after_seconds = 5


class Unprocessable(DomainError):
    """422: well-formed but refused by a rule."""

    status, slug = 422, "validation-error"


def problem_body(
    status: int,
    slug: str,
    detail: str | None = None,
    *,
    instance: str,
    errors: Sequence[dict[str, Any]] | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Build a problem+json document: ``type``, the status's one ``title``, ``status``,
    ``detail``, ``instance`` (the request path), and ``errors``/extra members when given."""
    title = status_title(status)
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + slug,
        "title": title,
        "status": status,
        "detail": detail or title,
        # The request path as a URI reference: control characters stay percent-encoded.
        "instance": re.sub(r"[\x00-\x1f\x7f]", lambda m: f"%{ord(m.group()):02X}", instance),
    }
    if errors:
        body["errors"] = list(errors)
    if extra:
        body.update(extra)
    return body


def validation_items(errors: Sequence[Any], prefix: Sequence[str]) -> list[dict[str, str]]:
    """422 ``errors`` entries (``loc``, ``msg``) from pydantic's ``ValidationError.errors(
    include_input=False, include_url=False)``, each ``loc`` under ``prefix`` (``("body",
    "details")``): the message only, never the value sent (personal data), the model's name
    or the library's documentation link (docs/integrating.md: no error carries a request
    value)."""
    return [{"loc": ".".join([*prefix, *map(str, e.get("loc", ()))]),
             "msg": str(e.get("msg", "invalid"))} for e in errors]
