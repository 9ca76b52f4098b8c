"""Small shared pieces of the domain: ids, clocks, JSON columns, enum columns."""

from __future__ import annotations

import enum
import hashlib
import json
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any

import sqlalchemy as sa
from pydantic import AfterValidator, AwareDatetime, Field, StrictInt, StringConstraints
from sqlalchemy.dialects.postgresql import JSONB

from app.core import clock
from app.core.errors import PreconditionFailed, PreconditionRequired, Unprocessable
from app.core.identifiers import check_staff_id, visible_text
from app.workflows.calendar import IsoDate

JSONType = sa.JSON().with_variant(JSONB(), "postgresql")
FUTURE_TOLERANCE = timedelta(minutes=5)
# No record of this service is dated outside these; at the edges of Python's calendar (years 1
# and 9999) converting to UTC or to London time overflows.
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)


def _plausible_date(value: date) -> date:
    if not EARLIEST.date() <= value < LATEST.date():
        raise ValueError("must be between 1900-01-01 and 2199-12-31")
    return value


# A calendar date a request may carry (birth, release, review, transfer, action due dates,
# absences): an ISO date, ``YYYY-MM-DD`` only (``IsoDate``: attack pass 28a, ATK28A-1).
PlausibleDate = Annotated[IsoDate, AfterValidator(_plausible_date)]


MAX_DETAILS_CHARS = 32_000


def require_if_match(
    current: str, if_match: str | None, noun: str, *, act: str = "change"
) -> None:
    """The contract's optimistic concurrency for a conditional write (a PATCH or DELETE) of a
    single resource that carries an ETag (``act`` says which, in the problem): 428 without
    If-Match (or with ``*``, which would skip the lost-update check the header exists for),
    412 when no tag in it is ``current`` (the resource's strong ETag). RFC 9110 §13.1.1:
    If-Match compares strongly, so a weak tag (W/"1") never matches. The problem names the
    current ETag, never what was sent."""
    if if_match is None:
        raise PreconditionRequired(f"Send If-Match with the {noun}'s ETag to {act} it.")
    tags = [t.strip() for t in if_match.split(",")]
    if "*" in tags:
        raise PreconditionRequired(f"Send the {noun}'s ETag in If-Match, not '*'.")
    if current not in tags:
        raise PreconditionFailed(
            f"The {noun} has changed since you read it; fetch it again and retry.",
            extra={"current_etag": current})


def _stored(value: Any) -> Any:
    """A column value in one form whatever the driver gave (an enum member or its string, a
    JSON object in any key order, an aware datetime in any zone)."""
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True, default=str)
    return value if value is None or isinstance(value, (bool, int, str)) else str(value)


def state_etag(*records: Any) -> str:
    """The strong ETag of a resource that keeps no version number: a digest of the stored
    state of its rows (every column of each, in order; a panel's are the panel and its agenda
    items), so any write that changes a row changes it, whatever the route, and it does not
    depend on who reads nor on the clock (attack pass 16, A16-8)."""
    digest = hashlib.blake2b(digest_size=12)
    for record in records:
        mapper = sa.inspect(record).mapper
        values = [[a.key, _stored(getattr(record, a.key))] for a in mapper.column_attrs]
        digest.update(json.dumps([mapper.class_.__name__, values], default=str).encode())
    return f'"{digest.hexdigest()}"'


@dataclass(frozen=True)
class IfMatch:
    """A request's ``If-Match`` and the resource it is about (``kind`` and id, from the path)."""

    kind: str
    ident: str
    value: str


def matches(current: str, if_match: str) -> bool:
    """RFC 9110 §13.1.1: an If-Match of ``*`` holds for a resource that exists; a list of tags
    holds when one of them is ``current`` (strong comparison: a weak tag never matches)."""
    tags = [t.strip() for t in if_match.split(",")]
    return "*" in tags or current in tags


# Where a route's If-Match dependency keeps the request's If-Match (app.routers.conditional):
# in the request's ASGI scope, which the request's unit of work names in its session's info
# (``request_scope``, app.core.deps), so the dependency needs no session of its own (issue 15:
# FastAPI solved the session dependency again under it on every such write).
IF_MATCH_SCOPE_KEY = "yjrisk.if_match"


def conditional_on(session: Any, kind: str, ident: Any) -> IfMatch | None:
    """The request's If-Match when it is about this resource (the route's own, not a record
    the write reaches on the way), else None: set on the session (a case upsert's), or kept
    in the request's scope by the route's If-Match dependency."""
    found = session.info.get("if_match")
    if found is None:
        scope = session.info.get("request_scope")
        found = scope.get(IF_MATCH_SCOPE_KEY) if scope is not None else None
    if isinstance(found, IfMatch) and found.kind == kind and found.ident == str(ident):
        return found
    return None


def require_current(session: Any, kind: str, ident: Any, current: str, noun: str) -> None:
    """For a write whose If-Match (optional: a write without one goes ahead) is about this
    resource: 412 when it does not hold for ``current``, the resource's ETag as it stands
    under the write's lock. The problem names the current ETag, never what was sent."""
    found = conditional_on(session, kind, ident)
    if found is None:
        return
    session.info["if_match_checked"] = True
    if not matches(current, found.value):
        raise PreconditionFailed(
            f"The {noun} has changed since you read it; fetch it again and retry.",
            extra={"current_etag": current})


def require_unchanged(session: Any, kind: str, record: Any, noun: str) -> None:
    """:func:`require_current` for a one-row resource (its :func:`state_etag`, worked out only
    when the request's If-Match is about it)."""
    if conditional_on(session, kind, record.id) is not None:
        require_current(session, kind, record.id, state_etag(record), noun)


def check_details_size(details: dict[str, Any]) -> None:
    """422 for a free-form ``details`` object over 32 kB (as JSON)."""
    if len(json.dumps(details, default=str)) > MAX_DETAILS_CHARS:
        raise Unprocessable("details is too large (32 kB at most).",
                            errors=[{"loc": "body.details", "msg": "at most 32 kB"}])


def require_mappa_category(
    category: int | None, level: int | None, loc: str = "body.mappa_level"
) -> None:
    """422 ``mappa-level-without-category`` for a MAPPA level on a case with no MAPPA
    category (the MAPPA feed's message refused alike: app.domain.feeds)."""
    if level is not None and category is None:
        raise Unprocessable("A MAPPA level needs a MAPPA category.",
                            slug="mappa-level-without-category",
                            errors=[{"loc": loc, "msg": "set mappa_category first"}])


def iso_utc(moment: datetime) -> str:
    """An aware moment as RFC 3339 in UTC with ``Z`` (the one form of every time we answer)."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def stored_instant(value: Any) -> datetime | None:
    """An instant stored as ISO 8601 text in a JSON column (a step's ``reasons[].at``), or None
    for anything else (missing, not text, not a time, a time without its offset)."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def to_utc(moment: datetime) -> datetime:
    """An aware moment converted to UTC (a request's offset is not kept nor echoed).

    Raises ValueError (a 422 at the API edge) for a year outside 1900-2199, where converting
    could overflow; ``require_plausible`` checks the exact bounds later.
    """
    if not EARLIEST.year <= moment.year < LATEST.year:
        raise ValueError("outside 1900-01-01 to 2199-12-31")
    return moment.astimezone(UTC)


# Every time a request sends: RFC 3339 with an offset, converted to UTC on the way in, so every
# answer (echoed or read back) gives it in UTC with ``Z``.
UtcDatetime = Annotated[AwareDatetime, AfterValidator(to_utc)]

# When a write's act happened (``occurred_at``; an event's ``known_at``): default the write's
# instant; more than five minutes ahead of it is 422; up to five minutes ahead (a sender's clock
# running fast) is recorded at the write's instant (:func:`resolve_occurred_at`).
ActTime = Annotated[UtcDatetime | None, Field(description=(
    "When it happened (RFC 3339 with an offset); default: when the service records it. More "
    "than 5 minutes ahead of the service's clock is 422 (occurred-in-future); a time up to 5 "
    "minutes ahead is taken as clock skew and recorded as the moment the service records the "
    "act (an act cannot have happened after it was recorded)."))]

# A MAPPA category or level (1, 2 or 3) in a request: a JSON integer only. Lax parsing took
# ``true`` as category 1 (registered sexual offender, in MAPPA's terms) and ``"2"`` as 2
# (attack pass 8, N2): an upstream yes/no flag must not make a child category 1.
MappaNumber = Annotated[StrictInt, Field(ge=1, le=3)]


def utcnow() -> datetime:
    """The current time, aware, in UTC (on the demo calendar in dev: ``app.core.clock``); within
    a unit of work, its one instant (:func:`app.core.clock.one_instant`: all its dated rows
    agree, A20-11)."""
    return clock.write_now()


def peek_now() -> datetime:
    """The service's time now (as :func:`utcnow`) without taking the unit of work's instant:
    for a check a write makes before it holds the case's lock (a date in the future, a panel
    booked too far ahead). A write's own instant, what it dates its act and records by, is
    taken only once it holds the case, so that a write that waited for another on the case is
    dated after it (A23a-1)."""
    held = clock.held_instant()
    return held if held is not None else clock.now()


def new_id() -> uuid.UUID:
    """A fresh random id."""
    return uuid.uuid4()


def enum_column(enum_cls: type[enum.Enum], nullable: bool = False, **kw: Any) -> sa.Column[Any]:
    """A portable enum column: VARCHAR with a CHECK constraint, values stored as strings."""
    return sa.Column(
        sa.Enum(
            enum_cls,
            native_enum=False,
            length=32,
            create_constraint=True,
            values_callable=lambda e: [m.value for m in e],
            name=f"{enum_cls.__name__.lower()}",
            validate_strings=True,
        ),
        nullable=nullable,
        **kw,
    )


def resolve_occurred_at(
    value: datetime | None, now: datetime | None = None, field: str = "occurred_at"
) -> datetime:
    """Default ``occurred_at`` to now; refuse one more than five minutes in the future; record
    one within those five minutes (a sender's clock a little ahead) at ``now``.

    ``now`` is the write's instant (:func:`utcnow`, taken once the write holds the case's
    lock). An act cannot have happened after it was recorded: dated after the write's instant,
    it would stay dated after the acts of the writes that follow it, and a write sent without a
    date (dated at its own instant, before it) is not replayed before it, so the earlier-dated
    act's consequences would never be re-judged (fix24c). Recorded at the instant, no act on
    file is ever dated after a later write's instant: an undated act is always the last. Every
    write path that takes an act's date from a request comes here (``occurred_at``,
    ``received_at``, ``known_at``, ``opened_at``, ``closed_at``); dates that are legitimately
    ahead (a panel's ``scheduled_for``, a review date, a transfer date) do not."""
    now = now or utcnow()
    if value is None:
        return now
    if value.tzinfo is None:
        raise Unprocessable(
            f"{field} must carry a UTC offset.",
            errors=[{"loc": f"body.{field}", "msg": "timezone offset required"}],
        )
    if value - now > FUTURE_TOLERANCE:
        raise Unprocessable(
            f"{field} is in the future.",
            slug="occurred-in-future",
            errors=[{"loc": f"body.{field}", "msg": "more than 5 minutes in the future"}],
        )
    return require_plausible(min(value, now), field)


def require_plausible(value: datetime, field: str) -> datetime:
    """``value`` in UTC; 422 for an aware moment before 1900 or from 2200 on."""
    if not EARLIEST <= value < LATEST:
        raise Unprocessable(
            f"{field} must be between 1900 and 2199.",
            errors=[{"loc": f"body.{field}", "msg": "outside 1900-01-01 to 2199-12-31"}],
        )
    return value.astimezone(UTC)


def parse_declared(
    sent: Mapping[str, Any], declared: Callable[[str], Any], names: Iterable[str], *, loc: str,
    what: str,
) -> tuple[dict[str, Any], list[dict[str, str]]]:
    """Parse each sent value with the pack's declaration of its name (``declared(name)``: an
    object with ``parse``, or None); answer the parsed values and 422 ``errors`` entries
    (``{loc}.{name}``), an undeclared name's at ``loc``, by its place among the keys sent
    (never its text: attack pass 9, N8), listing the declared ``names``."""
    parsed: dict[str, Any] = {}
    errors: list[dict[str, str]] = []
    for position, (name, value) in enumerate(sent.items(), 1):
        declaration = declared(name)
        if declaration is None:
            allowed = ", ".join(names) or "none"
            errors.append({"loc": loc, "msg": f"key {position} of this object is not {what} "
                                              f"of this service's policy (allowed: {allowed})"})
            continue
        try:
            parsed[name] = declaration.parse(value)
        except ValueError as exc:
            errors.append({"loc": f"{loc}.{name}", "msg": str(exc)})
    return parsed, errors


# A staff member's id in a request body: 1-128 characters, no spaces around it, nothing
# invisible, stored in NFC (app.core.identifiers).
StaffId = Annotated[str, StringConstraints(min_length=1, max_length=128),
                    AfterValidator(check_staff_id)]
# Why an act was done (a closure or reopening, a waiver, a priority change): 1-2000 characters,
# spaces around dropped, something visible in it (app.core.identifiers.visible_text).
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000),
                   AfterValidator(visible_text)]
# A word a pack declares (a referral kind, a panel kind): its form only; the service checks it
# against the pack.
KindLabel = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$", max_length=32)]


def advisory_key(name: str) -> int:
    """A signed 64-bit PostgreSQL advisory lock key for ``name`` (the first 8 bytes of its
    SHA-256): the audit chain's lock, an external reference's, a person's acts of one kind."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)
