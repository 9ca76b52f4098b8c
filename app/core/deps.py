"""FastAPI dependencies: the unit of work and the verified principal (gates: routers.gates)."""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import aclosing, asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from asgi_correlation_id import correlation_id
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlmodel.ext.asyncio.session import AsyncSession

from app.core.config import Settings
from app.core.db import unit_of_work
from app.core.errors import (
    DomainError,
    ErrorCap,
    KeyPositions,
    NotAuthenticated,
    Unprocessable,
    contract_names,
    safe_loc,
)
from app.core.query_guard import refuse_unknown_query
from app.core.security import Principal, TokenVerifier
from app.workflows.suggest import near_words

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class ReadContext:
    """What the access log needs to know about a read request: the writer, the request id
    and the route ("GET /v1/cases/{case_id}")."""

    writer: Any
    request_id: str | None
    what: str


_bearer = HTTPBearer(auto_error=False, description=(
    "A JWT issued for yjrisk (see api-v1.md and docs/integrating.md): `sub`, `roles`, `service`, "
    "`exp`, `iss`, `aud`. A machine client (role `feed`) also carries `scope` (space-separated): "
    "`cms` for the case management system (open and upsert cases, record events), `feed:emrac` "
    "or `feed:mappa` for one referral feed (its own `POST /v1/feeds/{source}/referrals` only). "
    "A feed token without one of these is 403 on every route; a scope that does not cover the "
    "route is 403 `feed-scope` before the body is read. A restricted case is answered to a "
    "machine client as its ids only."))


_READS_ONLY = "yjrisk_reads_only"


def reads_only(endpoint: F) -> F:
    """Mark a route that answers a POST but only reads (the workflow preview): the cases it
    loads are noted in their access log as a GET's are (attack pass 16, A16-3)."""
    setattr(endpoint, _READS_ONLY, True)
    return endpoint


def _reads_only(route: Any) -> bool:
    return bool(getattr(getattr(route, "endpoint", None), _READS_ONLY, False))


async def _session(request: Request) -> AsyncIterator[AsyncSession]:
    # Closed here, in the request's own context, whatever the handler raises: an ``async for``
    # left by an exception leaves the unit of work suspended (not rolled back, its instant
    # still open in this context) until garbage collection schedules its ``aclose()`` in
    # another task; a later write in the same context took the refused write's instant.
    uow = unit_of_work(request.app.state.session_factory)
    async with aclosing(uow):
        async for session in uow:
            # Writes lock the case they touch (app.domain.access.lock_case) before reading it.
            session.info["write"] = request.method in {"POST", "PUT", "PATCH", "DELETE"}
            # Who made a change, for the field-change history (set once the token is verified).
            session.info["request_state"] = request.state
            # The request's own scope: what the route's If-Match dependency kept there
            # (app.domain.common.conditional_on).
            session.info["request_scope"] = request.scope
            writer = getattr(request.app.state, "access_log", None)
            route = request.scope.get("route")
            if writer is not None and (not session.info["write"] or _reads_only(route)):
                # Reads of a case record are noted in the access log (app.domain.access_log) by
                # the one function that loads a visible case.
                session.info["read_log"] = ReadContext(
                    writer=writer, request_id=correlation_id.get(),
                    what=f"{request.method} {getattr(route, 'path', request.url.path)}"[:64],
                )
            yield session


# scope="function": the commit runs before the response is sent, so a failed commit is an
# error answer, never a 2xx for a write that did not happen.
Session = Annotated[AsyncSession, Depends(_session, scope="function")]

# A gated route (app.routers.gates.GatedRoute) opens the request's unit of work itself, around
# FastAPI's handler (so still committed before the response is sent), and keeps it in the
# request's scope under this key; its handler runs :func:`_session_of_gated` for ``_session``
# (issue 15: FastAPI wraps a generator dependency in two context managers, an exit stack entry
# and an AnyIO cancel scope on every request).
SESSION_SCOPE_KEY = "yjrisk.session"
gated_session = asynccontextmanager(_session)


async def _session_of_gated(request: Request) -> AsyncSession:
    """The unit of work the gated route opened for this request."""
    return request.scope[SESSION_SCOPE_KEY]  # type: ignore[no-any-return]


_session.run_as = _session_of_gated  # type: ignore[attr-defined]


def settings_of(request: Request) -> Settings:
    """The app's settings."""
    return request.app.state.settings  # type: ignore[no-any-return]


_PRINCIPAL_KEY = "yjrisk.verified_principal"


async def verified_principal_of(request: Request) -> Principal:
    """The principal of the request's bearer token, verified once per request (cached on
    ``request.state``): 401 ``NotAuthenticated`` for a missing, malformed, forged, expired or
    oversized token. Route gates (:class:`app.routers.gates.GatedRoute`) call it before the
    body is read; the ``VerifiedPrincipal`` dependency then reuses the answer. The answer is
    kept in the request's own ASGI scope (``request.state`` may be a dict shared with the
    app's lifespan state under some servers and test transports)."""
    cached = request.scope.get(_PRINCIPAL_KEY)
    if isinstance(cached, Principal):
        return cached
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise NotAuthenticated("Send a bearer token in the Authorization header.")
    if len(token) > 8192:
        raise NotAuthenticated("The bearer token is too long.")
    verifier: TokenVerifier = request.app.state.verifier
    principal = await verifier.verify(token)
    request.state.principal_sub = principal.sub
    request.state.principal_service = principal.service  # the reader a cursor is bound to
    request.scope[_PRINCIPAL_KEY] = principal
    return principal


def principal_verified(request: Request) -> Principal | None:
    """The request's principal if its token has been verified (None before, or without one)."""
    cached = request.scope.get(_PRINCIPAL_KEY)
    return cached if isinstance(cached, Principal) else None


async def _verified_principal(
    request: Request,
    # Declared for the OpenAPI security scheme; the header is read by verified_principal_of.
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    return await verified_principal_of(request)


# What a gated route runs instead (app.routers.gates.GatedRoute has verified the token before
# its handler; the answer is in the request's scope): no bearer header parsed again, no
# security-scheme dependency to solve (issue 15). The OpenAPI document still shows the scheme.
_verified_principal.run_as = verified_principal_of  # type: ignore[attr-defined]

VerifiedPrincipal = Annotated[Principal, Depends(_verified_principal)]


async def _principal(request: Request, principal: VerifiedPrincipal) -> Principal:
    # Only once the caller is known and their role gate passed (route gates depend on the
    # verified principal alone): a stranger learns nothing about input rules (401, 403 first).
    await refuse_unknown_query(request)
    await reject_unstorable_input(request)
    return principal


async def _principal_of_gated(request: Request) -> Principal:
    """What a gated route runs for ``_principal``: the same checks in the same order, the
    verified principal read straight from the request's scope (the route's gate verified the
    token before its handler), not solved by FastAPI as a dependency of its own (issue 15:
    one level less of the dependency tree on every gated request)."""
    principal = await verified_principal_of(request)
    await refuse_unknown_query(request)
    await reject_unstorable_input(request)
    return principal


_principal.run_as = _principal_of_gated  # type: ignore[attr-defined]


async def refuse_too_deep_json(request: Request) -> None:
    """The answer to a body nested deeper than :data:`MAX_JSON_DEPTH` levels, given before
    FastAPI parses it (a gated route calls it once its gate has passed): the 400 FastAPI
    would give if the body is not JSON or not UTF-8 at its shallower levels, else the checks
    of :func:`_principal_of_gated` in their order, whose input check answers the depth (422
    at the first value too deep). The same answer at 33 levels as at 5,000, for arrays and
    objects (attack 33, ATTACK33-3); nothing for any other body."""
    raw = await request.body()
    within = within_json_depth(raw)
    if within is raw:
        return
    try:
        json.loads(within)
    except UnicodeDecodeError:
        raise DomainError(NOT_UTF8, slug="malformed-json") from None
    except ValueError:
        raise DomainError(NOT_JSON, slug="malformed-json") from None
    await _principal_of_gated(request)

CurrentPrincipal = Annotated[Principal, Depends(_principal)]


# The one nesting limit of a JSON body (every route, every depth; RFC 8259 §9 lets a reader
# set one): a value inside more than this many arrays or objects is refused, 422 at the first
# such value, whatever the depth (attack 33, ATTACK33-3: 33 to 998 levels were 422, 999 and
# deeper, where the standard library's parser gives up, 400).
MAX_JSON_DEPTH = 32
# At most this many members in one JSON object and items in one JSON array of a body, checked
# before the body meets its schema. Every list the contract takes is bounded far lower (50
# victims, actions or attendees, 200 staff in an access list, 64 webhook event types) and a
# free-form ``details`` holds at most 32 kB; but the schema validator reports every item and
# every unknown key first: 85,000 victims cost 4-7 s and 20,000 unknown keys 10-15 s of the
# event loop (attack 24a, A24a-7).
MAX_JSON_MEMBERS = 1000
MAX_JSON_ITEMS = 1000


# A JSON string (escapes included) or a bracket: what nesting depth is counted from.
_JSON_TOKEN = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}]')
# What an array or object at the limit holds instead of its content in within_json_depth.
_PLACEHOLDER = {ord("["): b"0", ord("{"): b'"":0'}
NOT_UTF8 = "The request body is not UTF-8 text: send JSON encoded as UTF-8 (RFC 8259, section 8.1)."
NOT_JSON = "The request body is not valid JSON."


def within_json_depth(raw: bytes) -> bytes:
    """``raw`` itself when nothing in it is nested deeper than :data:`MAX_JSON_DEPTH`
    levels; else a copy in which each non-empty array or object at the limit holds one
    placeholder member instead of its content (a body left open at that depth is cut there,
    so it stays unparseable). The copy parses at any depth (the standard library's parser
    raises RecursionError near 1,000 levels), and :func:`_unstorable` finds in it the same
    first value too deep, at the same place, as in the body sent (ATTACK33-3). Strings are
    skipped whole, so a bracket in text does not count."""
    if raw.count(b"[") + raw.count(b"{") <= MAX_JSON_DEPTH:
        return raw  # the common case, without a scan
    pieces: list[bytes] = []
    kept, depth, opened, kind = 0, 0, 0, 0
    for token in _JSON_TOKEN.finditer(raw):
        first = token.group()[0]
        if first == 0x22:  # a string
            continue
        if first in _PLACEHOLDER:
            depth += 1
            if depth == MAX_JSON_DEPTH + 1:
                opened, kind = token.end(), first
            continue
        if depth == MAX_JSON_DEPTH + 1 and raw[opened:token.start()].strip():
            pieces += [raw[kept:opened], _PLACEHOLDER[kind]]
            kept = token.start()
        depth -= 1
    if depth > MAX_JSON_DEPTH:
        return b"".join([*pieces, raw[kept:opened]])
    return b"".join([*pieces, raw[kept:]]) if pieces else raw


def _unstorable(
    value: Any, at: tuple[Any, ...], depth: int = 0
) -> tuple[tuple[Any, ...], str] | None:
    """The first value (its path under the body, reason) in parsed JSON that no record can
    hold, if any (an object or a list over :data:`MAX_JSON_MEMBERS`/:data:`MAX_JSON_ITEMS`
    among them, before anything walks its members); a key's own fault is reported at its
    object."""
    if depth > MAX_JSON_DEPTH:
        return at, f"nested deeper than {MAX_JSON_DEPTH} levels"
    if isinstance(value, str):
        if "\x00" in value:
            return at, "text must not contain U+0000"
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return at, "text must be valid Unicode (no lone surrogates)"
    elif isinstance(value, float) and not math.isfinite(value):
        return at, "numbers must be finite"
    elif isinstance(value, dict):
        if len(value) > MAX_JSON_MEMBERS:
            return at, f"an object may hold at most {MAX_JSON_MEMBERS} members"
        for key, item in value.items():
            if found := _unstorable(key, at, depth + 1):
                return found[0], f"a key: {found[1]}"
            if found := _unstorable(item, (*at, key), depth + 1):
                return found
    elif isinstance(value, list):
        if len(value) > MAX_JSON_ITEMS:
            return at, f"a list may hold at most {MAX_JSON_ITEMS} items"
        for index, item in enumerate(value):
            if found := _unstorable(item, (*at, index), depth + 1):
                return found
    return None


class _DuplicateKey(ValueError):
    pass


def _refuse_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise _DuplicateKey(key)
        seen[key] = value
    return seen


def _duplicate_key(raw: bytes, app: Any) -> tuple[str, str] | None:
    """(location, reason) when a JSON object in the body names one key twice, e.g.
    ``{"level": "very_high", "level": "low"}``: RFC 8259 §4 leaves the meaning to the reader
    (Python keeps the last, other readers the first), so a judgement whose level depends on who
    reads it is refused rather than guessed. The key is named if the contract names it (a
    field), else not (attack pass 9, N8); its values are never echoed."""
    try:
        json.loads(raw, object_pairs_hook=_refuse_duplicates)
    except _DuplicateKey as exc:
        key = str(exc.args[0])
        named = key in contract_names(app)
        return "body", (f"the key '{key}' appears more than once in one object" if named
                        else "a key appears more than once in one object")
    except (ValueError, RecursionError):
        return None  # not JSON at all: FastAPI has answered it already
    return None


# C0 control characters (U+0000 to U+001F) and DEL: never part of an id, a code or a query
# value; U+0000 cannot even be stored by PostgreSQL.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _control_in_url(request: Request) -> tuple[str, str] | None:
    """The first path or query parameter holding a control character, if any (location,
    reason); the value itself is never echoed."""
    params = [("path", k, str(v)) for k, v in request.path_params.items()]
    params += [("query", k, v) for k, v in request.query_params.multi_items()]
    for where, key, value in params:
        if _CONTROL.search(key + value):
            return (f"{where}.{key}" if key in contract_names(request.app) else where,
                    "must not contain control characters (U+0000 to U+001F, U+007F)")
    return None


async def reject_unstorable_input(request: Request) -> None:
    """422 for input the database cannot store or JSON cannot carry back: a control character
    in a path or query parameter, U+0000 or lone surrogates in body text, NaN/Infinity,
    nesting deeper than ``MAX_JSON_DEPTH`` (every authenticated request, checked right after
    the token)."""
    found = _control_in_url(request)
    body: Any = None
    body_present = False
    if found is None and (raw := await request.body()):
        within = within_json_depth(raw)
        try:  # parsed (and cached) by FastAPI already, unless nested too deep to parse
            body = await request.json() if within is raw else json.loads(within)
        except (ValueError, RecursionError):
            return  # not JSON: the route refuses it or does not read it
        body_present = True
        unstorable = _unstorable(body, ())
        if unstorable is not None:
            loc, note = safe_loc(["body", *unstorable[0]], contract_names(request.app), body)
            found = (loc, f"{unstorable[1]} {note}" if note else unstorable[1])
        else:
            found = _duplicate_key(await request.body(), request.app)
    if found:
        raise Unprocessable("The request holds a value that cannot be stored; see errors.",
                            errors=[{"loc": found[0], "msg": found[1]}])
    if body_present:
        check_body_against_contract(request, body)


_COMPONENT_REF = "#/components/schemas/"


def _referenced_components(schema: Any, components: dict[str, Any]) -> dict[str, Any]:
    """The component schemas ``schema`` refers to, directly or through one another."""
    found: dict[str, Any] = {}
    pending = [schema]
    while pending:
        node = pending.pop()
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith(_COMPONENT_REF):
                name = ref[len(_COMPONENT_REF):]
                if name not in found and name in components:
                    found[name] = components[name]
                    pending.append(components[name])
            pending.extend(node.values())
        elif isinstance(node, list):
            pending.extend(node)
    return found


def _body_schema(app: Any, method: str, route: Any) -> dict[str, Any] | None:
    """The JSON Schema of the JSON body of operation (``method``, ``route``) in the app's own
    OpenAPI documentation of that route alone (``app.state.openapi_of``: app.main.openapi_of;
    the whole document for another app), with only the component schemas it refers to; None
    if it takes none."""
    path = str(getattr(route, "path", None))
    part = getattr(app.state, "openapi_of", None)
    document = part([route]) if part is not None and route is not None else app.openapi()
    operation = document.get("paths", {}).get(path, {}).get(method.lower(), {})
    content = (operation.get("requestBody") or {}).get("content", {})
    schema = content.get("application/json", {}).get("schema")
    if schema is None:
        return None
    components = document.get("components", {}).get("schemas", {})
    return {**schema, "components": {"schemas": _referenced_components(schema, components)}}


def _body_validator(app: Any, method: str, route: Any) -> Any:
    """A JSON Schema validator of the JSON body of operation (``method``, the route's path
    template), or None if it takes none: built from :func:`_body_schema` on the operation's
    first request (only the component schemas that body refers to: all 120-odd components in
    each of 22 validators held 23 MB of the process; these hold under 4 MB together), then
    cached on ``app.state.body_validators``."""
    validators: dict[tuple[str, str], Any] | None = getattr(app.state, "body_validators", None)
    if validators is None:
        validators = app.state.body_validators = {}
    key = (method, str(getattr(route, "path", None)))
    if key not in validators:
        schema = _body_schema(app, method, route)
        if schema is not None:
            import jsonschema_rs  # loaded with the first body checked

            validators[key] = (jsonschema_rs.validator_for(schema), schema)
        else:
            validators[key] = None
    return validators[key]


def _schema_at(schema: Any, path: Sequence[Any]) -> Any:
    """The node of the contract's schema at ``path`` (a validation error's ``schema_path``,
    refs resolved), None when it is not there."""
    node = schema
    for part in path:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return None
    return node


# The contract's rules whose value says what to send (never the request's own value).
_SAID_RULES = {"pattern", "minLength", "maxLength", "minimum", "maximum", "exclusiveMinimum",
               "exclusiveMaximum", "minItems", "maxItems", "format", "type", "enum", "const"}


def _rule_said(schema: Any, schema_path: Sequence[Any], keyword: str) -> str:
    """' (keyword: value)' of the contract's rule that refused a value, so the message says
    what to send (a slug's pattern ``^[a-z0-9]...``; attack pass 30, ATTACK30B-9), else ""."""
    if keyword not in _SAID_RULES:
        return ""
    path = list(schema_path)
    value = _schema_at(schema, path[:path.index(keyword) + 1] if keyword in path else path)
    if value is None or isinstance(value, dict):
        return ""
    text = json.dumps(value, ensure_ascii=False)
    return f": {text}" if len(text) <= 200 else ""


def _keyword(schema_path: Sequence[Any]) -> str:
    """The JSON Schema keyword a validation error's ``schema_path`` ends at."""
    return next((str(p) for p in reversed(schema_path) if isinstance(p, str)
                 and not p.startswith(("$", "#"))), "schema")


def _non_null_branches(schema: Any, error: Any) -> list[list[Any]]:
    """The sub-errors of each branch of an ``anyOf``/``oneOf`` error but the ``{type: null}``
    one a nullable field adds."""
    return [list(subs) for subs in (getattr(error.kind, "context", None) or [])
            if not (len(subs) == 1 and _keyword(subs[0].schema_path) == "type"
                    and _schema_at(schema, list(subs[0].schema_path)) == "null")]


def _branch_said(schema: Any, error: Any) -> str:
    """For a value refused by a field that may also be null (``anyOf: [{...}, {type:
    null}]``), the rules of the one other branch it broke: "(or null): 'maximum': 3" (attack
    31a, ATTACK31A-2: a bad MAPPA level was told only "'anyOf'"); "" when there is not exactly
    one such branch. Built from the contract's rule values, never from the errors' messages
    (they quote the value sent)."""
    branches = _non_null_branches(schema, error)
    if len(branches) != 1 or not branches[0]:
        return ""
    rules = [f"'{_keyword(sub.schema_path)}'"
             f"{_rule_said(schema, sub.schema_path, _keyword(sub.schema_path))}"
             for sub in branches[0]]
    return f" (or null): {'; '.join(dict.fromkeys(rules))}"


def _object_branch(schema: Any, body: Any, error: Any) -> list[Any]:
    """The errors of the one non-null branch of a nullable object (``anyOf: [{type: object,
    ...}, {type: null}]``) when an object was sent to it, so that they are answered as the
    object's own ("Extra inputs are not permitted (...; did you mean 'note'?)", "Field
    required"), not as "'anyOf' (or null): 'additionalProperties'" (attack 32b, ATTACK32B-2:
    the bodies that may be omitted: referral actions, an assessment's submission, a step's
    completion). [] for anything else (a scalar sent to a nullable field keeps
    :func:`_branch_said`'s answer)."""
    instance = _schema_at(body, list(error.instance_path)) if error.instance_path else body
    if not isinstance(instance, dict):
        return []
    branches = _non_null_branches(schema, error)
    return branches[0] if len(branches) == 1 else []


# Body keys clients send for a field of another name (attack 33: a referral withdrawn with
# ``{"reason": ...}``, whose field is ``note``; too far apart for a fuzzy match): offered by
# the did-you-mean only where the object has that field.
BODY_KEY_SYNONYMS: dict[str, str] = {
    "reason": "note", "comment": "note", "comments": "note", "notes": "note",
    "rationale": "note", "explanation": "note", "message": "note",
}
# The words for "why" a client may send: where the object's own "why" field has another of
# them as its name or its ending (``rationale``, ``reason``, ``closure_reason``), that field is
# what it meant (attack 35a, ATTACK35A-11: ``reason`` on a judgement, ``note`` on a waiver
# got no hint; ``reason`` on a closure was offered ``reopen_reason``).
# A panel decision's ``minutes`` and an assessment's countersignature ``feedback`` are written
# "why" too (attack 35b, ATTACK35B-8).
_WHY_WORDS = frozenset({*BODY_KEY_SYNONYMS, "note", "why", "minutes", "feedback"})


def _why_fields(fields: Sequence[str]) -> list[str]:
    return [f for f in fields
            if f in _WHY_WORDS or any(f.endswith(f"_{w}") for w in _WHY_WORDS)]


def _by_siblings(candidates: list[str], sent: Mapping[str, Any]) -> list[str]:
    """Of several "why" fields (``closure_reason``, ``reopen_reason``), the ones whose act the
    object's other keys name: a field's first word shares its first four letters with a key
    sent with a value (``closure_reason`` with ``closed_at``), or, for a key sent as null
    (``closed_at: null``: a reopening), the others. All of them when that picks none or all."""
    def stem(word: str) -> str:
        return word.split("_", 1)[0][:4]

    given = {stem(k) for k, v in sent.items() if v is not None}
    cleared = {stem(k) for k, v in sent.items() if v is None}
    named = [c for c in candidates if stem(c) in given]
    if not named and cleared:
        named = [c for c in candidates if stem(c) not in cleared]
    return named if named and len(named) < len(candidates) else candidates


def _meant(name: str, schema: Any, schema_path: Sequence[Any], sent: Any = None) -> str:
    """'; did you mean 'x'?' for an unknown key close to a field of the object the error's
    ``schema_path`` (refs resolved, ending ``additionalProperties``) points at, by the one
    did-you-mean (:func:`app.workflows.suggest.near_words`, with :data:`BODY_KEY_SYNONYMS`;
    ``policy-pack`` for ``policy_pack``, ``reason`` for ``note``), else "". A "why" word
    (``reason``, ``comment``, ``note``...) sent where the object's "why" field has another name
    offers that field; of two (a closure's and a reopening's), the one the object's other
    keys (``sent``, the object as sent) name, else both. Only the contract's own field names
    are written, never the key sent (attack pass 9, N8; attack pass 30, ATTACK30B-9)."""
    node = _schema_at(schema, list(schema_path)[:-1])
    fields = list(node.get("properties", {})) if isinstance(node, dict) else []
    plain = name.strip().casefold()
    if plain in _WHY_WORDS and plain not in fields and (why := _why_fields(fields)):
        if len(why) > 1 and isinstance(sent, Mapping):
            why = _by_siblings(why, sent)
        return f"; did you mean {' or '.join(repr(w) for w in why[:2])}?"
    near = near_words(name, fields, BODY_KEY_SYNONYMS, most=1)
    return f"; did you mean {near[0]!r}?" if near else ""


def _enum_meant(schema: Any, error: Any, body: Any) -> str:
    """'; did you mean 'x'?' for a word the contract's ``enum`` refused (``hihg`` for
    ``high``), by the one did-you-mean; only the contract's word is written."""
    words = _schema_at(schema, list(error.schema_path))
    sent = _schema_at(body, list(error.instance_path)) if error.instance_path else body
    if not isinstance(words, list) or not isinstance(sent, str):
        return ""
    near = near_words(sent, [w for w in words if isinstance(w, str)], most=1)
    return f"; did you mean {near[0]!r}?" if near else ""


def check_body_against_contract(request: Request, body: Any) -> None:
    """422 unless the JSON body satisfies the operation's schema in the published contract.

    pydantic (which then parses the body) is lenient in ways JSON is not: it takes ``0`` for a
    date-time, ``"5"`` for an integer, ``1`` or ``"yes"`` for a boolean. The contract's JSON
    types are what clients are held to, so a body that violates them is refused here, before
    any of it is used. The errors name the place and the rule, never the value.
    """
    checker = _body_validator(request.app, request.method, request.scope.get("route"))
    if checker is None:
        return
    validator, schema = checker
    errors = ErrorCap()
    names = contract_names(request.app)
    positions: KeyPositions = {}

    def entry(parts: list[Any], msg: str, hint: Callable[[], str] = str
              ) -> Callable[[], dict[str, str]]:
        def make() -> dict[str, str]:
            loc, note = safe_loc(["body", *parts], names, body, positions)
            said = hint()
            if note and said:
                note = f"{note[:-1]}{said})"
            elif said:  # the loc names the key (a word of the contract's): only the hint
                note = f"({said.removeprefix('; ')})"
            return {"loc": loc, "msg": f"{msg} {note}" if note else msg}
        return make

    # Each error is counted, and built (its loc and message) only while ``errors`` has room
    # (attack 24a, A24a-7: 20,000 unknown keys were 20,000 entries, each locating its key by a
    # scan of the object: 10 s of the event loop and a 1.7 MB answer).
    def report(error: Any) -> None:
        keyword = _keyword(error.schema_path)
        at = list(error.instance_path)
        if keyword in ("anyOf", "oneOf") and (inner := _object_branch(schema, body, error)):
            for sub in inner:
                report(sub)
        elif keyword == "required":
            errors.add(entry([*at, error.kind.property], "Field required"))
        elif keyword == "additionalProperties":
            unexpected = list(error.kind.unexpected)
            room = max(errors.limit - len(errors.items), 0)
            for name in unexpected[:room]:
                errors.add(entry([*at, name], "Extra inputs are not permitted",
                                 functools.partial(_meant, str(name), schema,
                                                   error.schema_path, error.instance)))
            errors.skip(len(unexpected) - min(room, len(unexpected)))
        else:
            said = (_branch_said(schema, error) if keyword in ("anyOf", "oneOf") else
                    _rule_said(schema, error.schema_path, keyword))
            hint = functools.partial(_enum_meant, schema, error, body) if keyword == "enum" \
                else str
            errors.add(entry(at, f"does not satisfy the contract's '{keyword}'{said}", hint))

    for error in validator.iter_errors(body):
        report(error)
    if errors.count:
        raise Unprocessable("The request body does not match the API contract; see errors.",
                            errors=errors.items, error_count=errors.count)
