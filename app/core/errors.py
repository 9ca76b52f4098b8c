"""One error hierarchy and RFC 9457 problem+json rendering for every error path."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from asgi_correlation_id import correlation_id

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
    414: "URI Too Long",
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
        withheld: DomainError | None = None,
        error_count: int | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        if slug is not None:
            self.slug = slug
        if status is not None:
            self.status = status
        self.errors = list(errors or [])
        self.error_count = error_count
        self.extra = dict(extra or {})
        self._withheld = withheld

    def withheld(self) -> DomainError:
        """The same refusal as answered to a caller who may not see the case's data (a
        machine client; a bare duty's holder): a problem that quotes a stored value of the case
        (the child's date of birth, when it opened or closed) gives its withheld form, which
        names the rule and the bound without the value (attack pass 16, A16-10)."""
        return self._withheld or self

    @property
    def title(self) -> str:
        """The problem title: the one title of this error's status."""
        return status_title(self.status)

    def problem(self) -> dict[str, Any]:
        """The RFC 9457 body of this error (``instance``: see :func:`occurrence`)."""
        return problem_body(self.status, self.slug, self.detail, errors=self.errors,
                            extra=self.extra, error_count=self.error_count)


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


def occurrence() -> str:
    """A problem's ``instance`` (RFC 9457 §3.1.5: a URI reference identifying the occurrence):
    ``urn:uuid:`` of the request's id, the ``X-Request-ID`` of the answer and the
    ``request_id`` of every log line of the request. Never the request's path: a path holds
    what the client chose (a name, a script tag, a calendar feed's token), and an answer
    carries no request value back (attack pass 9, N8)."""
    request_id = correlation_id.get()
    try:
        return f"urn:uuid:{uuid.UUID(request_id or '')}"
    except ValueError:
        return f"urn:uuid:{uuid.uuid4()}"


def problem_body(
    status: int,
    slug: str,
    detail: str | None = None,
    *,
    errors: Sequence[dict[str, Any]] | None = None,
    extra: dict[str, Any] | None = None,
    error_count: int | None = None,
) -> dict[str, Any]:
    """Build a problem+json document: ``type``, the status's one ``title``, ``status``,
    ``detail``, ``instance`` (:func:`occurrence`), and ``errors``/extra members when given.
    ``errors`` holds at most :data:`MAX_PROBLEM_ERRORS` entries; when more were found
    (``error_count``, else the length of ``errors``), the extension member ``error_count``
    says how many (attack 24a, A24a-7/A24a-2)."""
    title = status_title(status)
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + slug,
        "title": title,
        "status": status,
        "detail": detail or title,
        "instance": occurrence(),
    }
    if errors:
        found = max(error_count or 0, len(errors))
        body["errors"] = list(errors[:MAX_PROBLEM_ERRORS])
        if found > len(body["errors"]):
            body["error_count"] = found
    if extra:
        body.update(extra)
    return body


# At most this many ``errors`` in one problem (the first found); ``error_count`` then says how
# many there were. A body of 20,000 unknown keys was answered 20,000 errors (1.7 MB) built in
# quadratic time (attack 24a, A24a-7); a query string of 30,000 unknown parameters 5.3 MB
# (A24a-2).
MAX_PROBLEM_ERRORS = 50


class ErrorCap:
    """A problem's ``errors`` as they are found: the first :data:`MAX_PROBLEM_ERRORS` built
    (``add`` calls ``make`` only for those), every one counted (``count``)."""

    def __init__(self, limit: int = MAX_PROBLEM_ERRORS) -> None:
        self.items: list[dict[str, Any]] = []
        self.count = 0
        self.limit = limit

    @property
    def full(self) -> bool:
        """Whether no more entries are kept (later ones are only counted)."""
        return len(self.items) >= self.limit

    def add(self, make: Callable[[], dict[str, Any]]) -> None:
        """Count one error; build and keep it (``make()``) while there is room."""
        self.count += 1
        if not self.full:
            self.items.append(make())

    def keep(self, entry: dict[str, Any]) -> None:
        """Count one error already built; keep it while there is room."""
        self.count += 1
        if not self.full:
            self.items.append(entry)

    def skip(self, n: int) -> None:
        """Count ``n`` more errors without building them."""
        self.count += n


# The first part of an error's ``loc``: where in the request the error is.
LOCATIONS = frozenset({"body", "query", "path", "header", "cookie"})
_MISSING = object()


KeyPositions = dict[int, dict[Any, int]]


def _key_positions(node: Mapping[Any, Any]) -> dict[Any, int]:
    """Each key of ``node`` by its position (1-based): one pass over the object."""
    return {key: position for position, key in enumerate(node, 1)}


def _ordinal_key(node: Any, part: Any, positions: KeyPositions | None = None) -> str:
    """Which key of the object ``node`` the unnamed ``part`` is ("key 2 of this object"), by
    position, never by its text. ``positions`` (one per problem being built) keeps each
    object's key positions once found, so that naming many keys of one object is one pass
    over it, not one scan per key (attack 24a, A24a-7: 20,000 unknown keys took 10 s)."""
    if isinstance(node, Mapping) and part in node:
        if positions is None:
            positions = {}
        found = positions.get(id(node))
        if found is None:
            found = positions[id(node)] = _key_positions(node)
        return f"key {found[part]} of this object"
    return "a key of this object"


def safe_loc(
    parts: Sequence[Any], names: frozenset[str] | set[str], document: Any = _MISSING,
    positions: KeyPositions | None = None,
) -> tuple[str, str]:
    """An error's ``loc`` as it may be answered, and a note for its ``msg`` ("" or "(key 2 of
    this object)"). Parts the contract names (``names``: its fields and parameters), list
    indexes and the location word are kept; the loc stops before the first other part (an
    unknown key, a free-form object's key, a pydantic union tag), which the note describes by
    its position in ``document`` (the parsed body), never by its text (attack pass 9, N8)."""
    kept: list[str] = []
    node = document
    for i, part in enumerate(parts):
        if isinstance(part, int) and not isinstance(part, bool):
            kept.append(str(part))
            node = node[part] if isinstance(node, list) and -len(node) <= part < len(node) \
                else _MISSING
            continue
        text = str(part)
        if (i == 0 and text in LOCATIONS) or (i > 0 and text in names):
            kept.append(text)
            if i > 0:
                node = node.get(text, _MISSING) if isinstance(node, Mapping) else _MISSING
            continue
        where = _ordinal_key(node, part, positions) if i > 0 else "an unknown location"
        note = f"(at {where})" if i == len(parts) - 1 else f"(inside {where})"
        return ".".join(kept) or "body", note
    return ".".join(kept), ""


def _strings(value: Any, depth: int = 0) -> Iterable[str]:
    """The strings (keys and values) of a parsed JSON value, a few levels deep."""
    if isinstance(value, str):
        yield value
    elif depth < 4 and isinstance(value, Mapping):
        for key, item in value.items():
            yield str(key)
            yield from _strings(item, depth + 1)
    elif depth < 4 and isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item, depth + 1)


# pydantic messages that quote a piece of the value ("found `x` at 1"): answered without it.
_QUOTING_TYPES = {"uuid_parsing": "Input should be a valid UUID"}


def safe_msg(error: Mapping[str, Any]) -> str:
    """A pydantic error's ``msg``, unless it quotes the value it refused (a ``value_error``
    of a validator naming it, a UUID's offending character): then the error type's words."""
    msg = str(error.get("msg", "invalid"))
    kind = str(error.get("type", ""))
    if kind in _QUOTING_TYPES:
        return _QUOTING_TYPES[kind]
    # What the schema says (``ctx``: the expected values, a pattern, a bound) may be quoted;
    # what remains must not hold the input ("hig" is in "Input should be 'high' or 'low'").
    said = msg
    for value in (error.get("ctx") or {}).values():
        said = said.replace(str(value), "")
    if any(len(s) >= 3 and s in said for s in _strings(error.get("input"))):
        return f"invalid value ({kind.replace('_', ' ') or 'refused'})"
    return msg


def validation_items(
    errors: Sequence[Any], prefix: Sequence[str], names: frozenset[str] | set[str],
    document: Any = _MISSING,
) -> list[dict[str, str]]:
    """422 ``errors`` entries (``loc``, ``msg``) from pydantic's ``ValidationError.errors()``,
    each ``loc`` under ``prefix`` (``("body", "details")``) and ``document`` the value
    validated: named as far as ``names`` (the fields the schema knows) go, an unknown key by
    its position (:func:`safe_loc`); the message never quotes the value sent (personal data),
    nor the model's name or the library's documentation link (docs/integrating.md: no error
    carries a request value)."""
    items = []
    known = {*names, *prefix[1:]}
    nested = _nest(prefix, document)
    positions: KeyPositions = {}
    for e in errors[:MAX_PROBLEM_ERRORS]:
        loc, note = safe_loc([*prefix, *e.get("loc", ())], known, nested, positions)
        msg = safe_msg(e)
        items.append({"loc": loc, "msg": f"{msg} {note}" if note else msg})
    return items


def _nest(prefix: Sequence[str], document: Any) -> Any:
    """``document`` placed at ``prefix`` (``{"details": document}`` under ``body``), so that
    :func:`safe_loc` walks the full loc from its location word."""
    if document is _MISSING:
        return _MISSING
    for name in reversed(prefix[1:]):
        document = {name: document}
    return document


def schema_names(schema: Any) -> frozenset[str]:
    """Every field and parameter name a JSON Schema or OpenAPI document declares (the keys of
    each ``properties``, the ``name`` of each parameter): the names an error may quote."""
    found: set[str] = set()
    pending = [schema]
    while pending:
        node = pending.pop()
        if isinstance(node, Mapping):
            properties = node.get("properties")
            if isinstance(properties, Mapping):
                found.update(str(k) for k in properties)
            if isinstance(node.get("name"), str) and "in" in node:
                found.add(node["name"])
            pending.extend(node.values())
        elif isinstance(node, list):
            pending.extend(node)
    return frozenset(found)


def contract_names(app: Any) -> frozenset[str]:
    """The field and parameter names of a FastAPI app's OpenAPI document (cached on the app):
    what a 422's ``loc`` may name. Gathered one top-level route (an included router) at a time
    when the app can document its routes apart (``app.state.openapi_of``: app.main.openapi_of):
    the same names, without building and keeping the whole document in a serving process."""
    names: frozenset[str] | None = getattr(app.state, "contract_names", None)
    if names is None:
        part = getattr(app.state, "openapi_of", None)
        if part is None:
            names = schema_names(app.openapi())
        else:
            names = frozenset().union(*(schema_names(part([route])) for route in app.routes))
        app.state.contract_names = names
    return names
