"""One error hierarchy and RFC 9457 problem+json rendering for every error path."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

PROBLEM_BASE = "https://yjrisk.example/problems/"
PROBLEM_MEDIA_TYPE = "application/problem+json"


class DomainError(Exception):
    """A refusal the client can act on; rendered as problem+json with ``status``."""

    status: int = 400
    slug: str = "bad-request"
    title: str = "Bad request"

    def __init__(
        self,
        detail: str,
        *,
        slug: str | None = None,
        title: str | None = None,
        status: int | None = None,
        errors: Sequence[dict[str, Any]] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        if slug is not None:
            self.slug = slug
        if title is not None:
            self.title = title
        if status is not None:
            self.status = status
        self.errors = list(errors or [])
        self.extra = dict(extra or {})

    def problem(self, instance: str | None = None) -> dict[str, Any]:
        """The RFC 9457 body of this error."""
        return problem_body(
            self.status, self.slug, self.title, self.detail, instance, self.errors, self.extra
        )


class NotAuthenticated(DomainError):
    """401: no usable credentials."""

    status, slug, title = 401, "unauthenticated", "Authentication required"


class Forbidden(DomainError):
    """403: authenticated but not allowed."""

    status, slug, title = 403, "forbidden", "Forbidden"


class NotFound(DomainError):
    """404: unknown, or not the caller's to know about."""

    status, slug, title = 404, "not-found", "Not found"


class Conflict(DomainError):
    """409: the request conflicts with the current state."""

    status, slug, title = 409, "conflict", "Conflict"


class PreconditionFailed(DomainError):
    """412: the If-Match ETag is stale."""

    status, slug, title = 412, "precondition-failed", "Precondition failed"


class PreconditionRequired(DomainError):
    """428: a conditional header is required."""

    status, slug, title = 428, "precondition-required", "Precondition required"


class ServiceUnavailable(DomainError):
    """503: a dependency (database, identity provider) is unavailable; retry after a while."""

    status, slug, title = 503, "unavailable", "Service unavailable"
    retry_after_seconds = 5


class Unprocessable(DomainError):
    """422: well-formed but refused by a rule."""

    status, slug, title = 422, "validation-error", "Unprocessable content"


def problem_body(
    status: int,
    slug: str,
    title: str,
    detail: str | None = None,
    instance: str | None = None,
    errors: Sequence[dict[str, Any]] | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Build a problem+json document."""
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + slug,
        "title": title,
        "status": status,
        "detail": detail or title,
    }
    if instance:
        body["instance"] = instance
    if errors:
        body["errors"] = list(errors)
    if extra:
        body.update(extra)
    return body
