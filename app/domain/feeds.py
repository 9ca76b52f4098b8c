"""Automated referral feeds (EMRAC, MAPPA) with Idempotency-Key (IETF httpapi draft).

Race safety comes from a unique constraint, not a read-then-write: each delivery inserts its
key with ``INSERT ... ON CONFLICT DO NOTHING`` inside the same transaction that creates the
referral. A concurrent delivery of the same key blocks on the unique index until the first one
commits (PostgreSQL), or on the database write lock (SQLite), and then finds the stored answer
and replays it. Keys expire after ``YJ_IDEMPOTENCY_KEY_TTL_HOURS`` (72 hours by default).
"""

from __future__ import annotations

import enum
import hashlib
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, StringConstraints, ValidationError
from pydantic import Field as PField
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Field, SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.core.errors import (
    Conflict,
    DomainError,
    NotFound,
    Unprocessable,
    schema_names,
    validation_items,
)
from app.core.security import Principal
from app.domain import policy
from app.domain.access import load_case, require_machine_scope, service_of, withheld_from
from app.domain.cases import ExternalRef
from app.domain.cases_table import Case, mark_changed
from app.domain.common import (
    JSONType,
    MappaNumber,
    PlausibleDate,
    UtcDatetime,
    new_id,
    peek_now,
    require_mappa_category,
    resolve_occurred_at,
    utcnow,
)
from app.domain.history import fields_changed_after, note_case_act
from app.domain.referrals import (
    Referral,
    ReferralCreate,
    ReferralKind,
    ReferralStatus,
    create_referral_for_case,
    referral_out,
)
from app.domain.timing import require_release_within_case, require_within_case
from app.domain.write_context import WriteContext

MAX_KEY_LENGTH = 255
MAPPA_SOURCE = "feed:mappa"
# What a MAPPA message may set on the case (:class:`MappaUpdate`).
MAPPA_FEED_FIELDS = ("mappa_category", "mappa_level", "expected_release_date")


class FeedSource(enum.StrEnum):
    """The automated feeds."""

    emrac = "emrac"
    mappa = "mappa"


KINDS_BY_SOURCE = {
    FeedSource.emrac: frozenset({ReferralKind.emrac, ReferralKind.nrm}),
    FeedSource.mappa: frozenset({ReferralKind.mappa_h, ReferralKind.mappa_a}),
}


class IdempotencyRecord(SQLModel, table=True):
    """One Idempotency-Key per service and feed, with the request's digest and stored answer."""

    __tablename__ = "idempotency_key"
    __table_args__ = (
        sa.UniqueConstraint("service_id", "source", "key", name="uq_idempotency_key_scope"),
    )

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    service_id: uuid.UUID = Field(foreign_key="service.id")
    source: str = Field(max_length=32)
    key: str = Field(max_length=MAX_KEY_LENGTH)
    request_digest: str = Field(max_length=64)
    response_status: int | None = None
    response_body: dict[str, Any] | None = Field(default=None, sa_type=JSONType)
    resource_id: uuid.UUID | None = None
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime = Field(index=True)


class FeedReferral(BaseModel):
    """Body of ``POST /v1/feeds/{source}/referrals``."""

    model_config = ConfigDict(extra="forbid")
    case_external_ref: ExternalRef
    kind: ReferralKind
    received_at: UtcDatetime = PField(description=(
        "when the feed received it; up to 5 minutes ahead of the service's clock is recorded "
        "as the moment the service records it, more is 422"))
    details: dict[str, Any] = PField(default_factory=dict)


class MappaUpdate(BaseModel):
    """What a MAPPA feed message may set on the case (inside ``details``)."""

    model_config = ConfigDict(extra="ignore")
    mappa_category: MappaNumber | None = None
    mappa_level: MappaNumber | None = None
    expected_release_date: PlausibleDate | None = None


IdempotencyKey = Annotated[str, StringConstraints(min_length=1, max_length=MAX_KEY_LENGTH)]


class FeedAnswer(BaseModel):
    """What the feed endpoint answers: status and body (first delivery or replay)."""

    status: int
    body: dict[str, Any]
    replayed: bool


def request_digest(source: str, body: FeedReferral) -> str:
    """SHA-256 of the canonical request, to tell a replay from a reuse of the key."""
    canonical = json.dumps({"source": source, **body.model_dump(mode="json")},
                           sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _insert_key(dialect: str, values: dict[str, Any]) -> Any:
    module = postgresql if dialect == "postgresql" else sqlite
    return (module.insert(IdempotencyRecord).values(**values)
            .on_conflict_do_nothing(index_elements=["service_id", "source", "key"])
            .returning(IdempotencyRecord.id))  # type: ignore[arg-type]


async def _claim_key(
    session: AsyncSession, service_id: uuid.UUID, source: str, key: str, digest: str,
    ttl: timedelta,
) -> uuid.UUID | None:
    """Insert the key; None when another delivery already holds it. (Dated by the clock, not
    the write's instant: that is taken once the delivery holds the case, A23a-1.)"""
    now = peek_now()
    dialect = session.get_bind().dialect.name
    values = {"id": new_id(), "service_id": service_id, "source": source, "key": key,
              "request_digest": digest, "created_at": now, "expires_at": now + ttl}
    conn = await session.connection()
    claimed = (await conn.execute(_insert_key(dialect, values))).scalar_one_or_none()
    if claimed is not None:
        return claimed  # type: ignore[no-any-return]
    # An expired key may be reused: remove it (only if still expired) and claim again.
    removed = await conn.execute(
        sa.delete(IdempotencyRecord).where(
            IdempotencyRecord.service_id == service_id, IdempotencyRecord.source == source,  # type: ignore[arg-type]
            IdempotencyRecord.key == key, IdempotencyRecord.expires_at < now,  # type: ignore[arg-type]
        )
    )
    if removed.rowcount:  # type: ignore[attr-defined]
        return (await conn.execute(_insert_key(dialect, values))).scalar_one_or_none()  # type: ignore[no-any-return]
    return None


async def _replay(
    session: AsyncSession, principal: Principal, service_id: uuid.UUID, source: str, key: str,
    digest: str,
) -> FeedAnswer:
    record = (await session.exec(select(IdempotencyRecord).where(
        IdempotencyRecord.service_id == service_id, IdempotencyRecord.source == source,
        IdempotencyRecord.key == key,
    ))).first()
    if record is None or record.response_body is None:
        raise Conflict("A delivery with this Idempotency-Key is still being processed; retry.",
                       slug="idempotency-key-in-flight")
    if record.request_digest != digest:
        raise Unprocessable(
            "This Idempotency-Key was already used with a different request body.",
            slug="idempotency-key-reused",
        )
    return FeedAnswer(status=200, body=await _as_now(session, principal, record),
                      replayed=True)


async def _as_now(session: AsyncSession, principal: Principal,
                  record: IdempotencyRecord) -> dict[str, Any]:
    """The stored answer as the case's access stands now: the case restricted since the first
    delivery is answered the referral alone, ``next_steps: []``, as a new delivery would be
    (README, machine clients; attack pass 16, A16-14)."""
    body = dict(record.response_body or {})
    if not body.get("next_steps") or record.resource_id is None:
        return body
    case = (await session.exec(select(Case).join(Referral, col(Referral.case_id) == Case.id)
                               .where(col(Referral.id) == record.resource_id))).first()
    if case is None or withheld_from(principal, case):
        body["next_steps"] = []
    return body


async def _find_case(session: AsyncSession, service_id: uuid.UUID, ref: ExternalRef) -> Case:
    case_id = (await session.exec(select(Case.id).where(
        Case.service_id == service_id, Case.external_system == ref.system,
        Case.external_id == ref.id,
    ))).first()
    case = await load_case(session, case_id) if case_id is not None else None
    if case is None:
        # Not the reference itself: it may be a name or a date of birth (attack pass 8, N8).
        raise NotFound("No case of this service has that external reference.")
    return case


async def receive(
    session: AsyncSession,
    principal: Principal,
    source: FeedSource,
    key: str | None,
    body: FeedReferral,
    ctx: policy.PolicyContext,
    ttl: timedelta,
) -> FeedAnswer:
    """Take one feed delivery: first time 201 with the referral, replays 200 with the same."""
    if not key:
        raise DomainError("Send an Idempotency-Key header with every feed delivery.",
                          slug="idempotency-key-required")
    if len(key) > MAX_KEY_LENGTH:
        raise DomainError("The Idempotency-Key is too long (255 characters at most).",
                          slug="idempotency-key-invalid")
    if body.kind not in KINDS_BY_SOURCE[source]:
        raise Unprocessable(
            f"The {source} feed cannot send {body.kind} referrals.",
            errors=[{"loc": "body.kind",
                     "msg": f"one of {sorted(k.value for k in KINDS_BY_SOURCE[source])}"}],
        )
    require_machine_scope(principal, f"feed:{source.value}")  # the route's gate checked it too
    service = await service_of(session, principal)
    digest = request_digest(source.value, body)
    claimed = await _claim_key(session, service.id, source.value, key, digest, ttl)
    if claimed is None:
        return await _replay(session, principal, service.id, source.value, key, digest)
    case = await _find_case(session, service.id, body.case_external_ref)
    # Deadlines count from received_at: it may not predate the child or the case (nor be in
    # the future), whatever the feed sends.
    received_at = resolve_occurred_at(body.received_at, field="received_at")
    require_within_case(case, received_at, "received_at")
    wctx = WriteContext(session=session, policy=ctx, service=service, case=case,
                        principal=principal, role="feed", occurred_at=received_at)
    result = None
    if source == FeedSource.mappa:
        result = await _apply_mappa_update(wctx, body=body)
    referral, created = await create_referral_for_case(
        wctx,
        body=ReferralCreate(kind=body.kind.value, details=body.details,
                            occurred_at=body.received_at),
        source=f"feed:{source.value}", status=ReferralStatus.received,
        time_field="received_at",
    )
    result = created if result is None else result.merge(created)
    # A restricted case's steps are not the feed's to see (A9-19): the referral alone.
    steps = [] if withheld_from(principal, case) else result.next_steps
    answer = {"data": referral_out(referral, ctx.pack_now(service)).model_dump(mode="json"),
              "next_steps": [s.model_dump(mode="json") for s in steps]}
    record = await session.get(IdempotencyRecord, claimed)
    assert record is not None
    record.response_status, record.response_body, record.resource_id = 201, answer, referral.id
    session.add(record)
    await session.flush()
    return FeedAnswer(status=201, body=answer, replayed=False)


async def _apply_mappa_update(
    wctx: WriteContext, *, body: FeedReferral
) -> policy.PolicyResult | None:
    """A MAPPA feed's category, level or release date: a case change at ``received_at``,
    for each field the case has not had set since (:func:`_set_later`). Messages are retried
    and can arrive out of order: a message received earlier than one already applied is kept
    as its referral but does not roll the case back, nor raise what its stale values would
    (attack pass 16, A16-18: an older level 3 delivered late asked for a MAPPA A referral)."""
    case = wctx.case
    try:
        update = MappaUpdate.model_validate(body.details)
    except ValidationError as exc:
        found = exc.errors(include_url=False)
        raise Unprocessable(
            "details carries an invalid MAPPA category, level or date.",
            errors=validation_items(
                found, ("body", "details"),
                schema_names(MappaUpdate.model_json_schema()), body.details),
            error_count=len(found)) from exc
    require_release_within_case(update.expected_release_date, case.opened_at,
                                "details.expected_release_date")
    sent = {field: new for field in MAPPA_FEED_FIELDS
            if (new := getattr(update, field)) is not None and getattr(case, field) != new}
    later = await _set_later(wctx, set(sent), since=wctx.occurred_at) if sent else set()
    changes: dict[str, list[Any]] = {}
    for field, new in sent.items():
        if field not in later:
            changes[field] = [getattr(case, field), new]
            setattr(case, field, new)
    if not changes:
        return None
    require_mappa_category(case.mappa_category, case.mappa_level, "body.details.mappa_level")
    case.updated_at = utcnow()
    mark_changed(case, wctx.occurred_at)  # a later closure may not predate it
    note_case_act(wctx.session, case.id, wctx.occurred_at)
    wctx.session.add(case)
    await wctx.session.flush()
    result = await policy.run(wctx, event=wctx.event("case_changed", {"changes": changes}))
    await wctx.audit("case.update", entity_type="case", entity_id=case.id,
                     change={k: str(v[1]) for k, v in changes.items()})
    await policy.announce_case_fields(wctx, changes)
    return result


async def _set_later(wctx: WriteContext, fields: set[str], *, since: datetime) -> set[str]:
    """The ``fields`` the case has had set by something dated after ``since``: a MAPPA message
    received after it (its referral keeps the details and ``received_at``), or a change by
    anyone else (staff, the case management system, a panel) whose act is dated after it
    (:func:`~app.domain.history.fields_changed_after`, as a panel decision's 409 reads it: a
    panel that sat before the message, typed up after it arrived, set the older level)."""
    session, case = wctx.session, wctx.case
    feed = (await session.exec(select(Referral.details, Referral.created_by, Referral.occurred_at)
                               .where(col(Referral.case_id) == case.id,
                                      col(Referral.source) == MAPPA_SOURCE))).all()
    later = {f for details, _, at in feed if _aware(at) > since for f in fields
             if isinstance(details, dict) and details.get(f) is not None}
    # The feed's own changes are dated by their messages (above).
    senders = {sub for _, sub, _ in feed}
    return later | await fields_changed_after(session, case.id, fields, since, besides=senders)


def _aware(moment: datetime) -> datetime:
    """SQLite may give a naive UTC instant back from a bare column select; PostgreSQL aware."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


async def purge_expired_keys(session: AsyncSession, now: datetime | None = None) -> int:
    """Delete expired Idempotency-Keys (run by the worker)."""
    conn = await session.connection()
    result = await conn.execute(
        sa.delete(IdempotencyRecord).where(IdempotencyRecord.expires_at < (now or utcnow()))  # type: ignore[arg-type]
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
