"""Automated referral feeds (EMRAC, MAPPA) with Idempotency-Key (IETF httpapi draft).

Race safety comes from a unique constraint, not a read-then-write: each delivery inserts its
key with ``INSERT ... ON CONFLICT DO NOTHING`` inside the same transaction that creates the
referral. A concurrent delivery of the same key blocks on the unique index until the first one
commits (PostgreSQL), or on the database write lock (SQLite), and then finds the stored answer
and replays it. Keys expire after ``YJ_IDEMPOTENCY_KEY_TTL_HOURS`` (72 hours by default).
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import json
import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
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
from app.domain.answered import answer_from_record
from app.domain.cases import ExternalRef
from app.domain.cases_table import Case, mark_changed
from app.domain.common import (
    JSONType,
    MappaNumber,
    PlausibleDate,
    UtcDatetime,
    iso_utc,
    new_id,
    peek_now,
    resolve_occurred_at,
    utcnow,
)
from app.domain.history import (
    FieldChange,
    RecordChange,
    TimedChange,
    actor_of,
    changes_after,
    field_history,
    note_case_act,
)
from app.domain.referrals import (
    Referral,
    ReferralCreate,
    ReferralKind,
    ReferralStatus,
    create_referral_for_case,
    referral_out,
)
from app.domain.replay import (
    before_instant,
    dated_before_a_rating,
    instant_changes,
    rating_history,
    ratings_after,
    ratings_at,
    replay_instant,
    replay_later_acts,
)
from app.domain.timing import require_release_within_case, require_within_case
from app.domain.write_context import WriteContext

MAX_KEY_LENGTH = 255
MAPPA_SOURCE = "feed:mappa"
# What a MAPPA message may set on the case (:class:`MappaUpdate`).
MAPPA_FEED_FIELDS = ("mappa_category", "mappa_level", "expected_release_date")
MAPPA_FIELDS_SET = frozenset(MAPPA_FEED_FIELDS)


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
    """A MAPPA feed message: the case's MAPPA category, level and release date over time are
    a function of the SET of the feed's messages, each at its ``received_at`` (ties: by what
    they set, :func:`_feed_messages`), whatever order they are delivered in (attack 29,
    ATK29-2/3/9). Messages are retried and can arrive out of order: each is kept as its
    referral, and the case's
    field history is folded again from all of them (:func:`refold`): a message delivered
    after later ones records its values at its own time, as far as the next change of each
    field (a later message's, or anyone's), and the case's current fields follow the latest
    change by act time: a staff, CMS or panel change dated after a message still wins over it
    (A16-18; left12c), and an older message never rolls the case back.

    A level needs a category: Somerset 8.2 and Wokingham's "MAPPA categories" ("To be
    eligible for referral under MAPPA, an individual must fall into one of 3 categories") make
    a level (Wokingham: "Eligible MAPPA children will be managed at Level 2 when ...") the
    management of an eligible child. A level received before the category became known (on
    file dated later: a message delivered before it, or a staff change) stands from when the
    category became known (ATK29-2). A level with no category at its ``received_at`` nor after
    it on file cannot stand at all: the message is refused 422 ``mappa-level-without-category``
    as ``PATCH`` refuses the same change, and nothing of it is stored (the key is not used up:
    delivered again once the category is on file, it is taken; ATTACK36-7, where it was stored
    201 and its level silently dropped).

    Then the duties are derived again from the earliest instant the history changed: each
    change of these fields from then on is evaluated at its own time on the case as it stood
    then (:func:`_evaluate_from`), and the other acts after it are replayed
    (:func:`~app.domain.replay.replay_later_acts`), so the same messages leave the same open
    steps in any delivery order."""
    case = wctx.case
    update = _mappa_update(body)
    require_release_within_case(update.expected_release_date, case.opened_at,
                                "details.expected_release_date")
    sent = {f: v for f in MAPPA_FEED_FIELDS if (v := getattr(update, f)) is not None}
    if not sent:
        return None
    session = wctx.session
    started = utcnow()
    before = {f: getattr(case, f) for f in MAPPA_FEED_FIELDS}
    # The usual delivery, dated after every change of the case's fields and making no
    # waiting level stand (it brings no first category): the case as it stands is its history
    # (no query).
    in_order = not _meets_a_change(case, wctx.occurred_at) and not (
        "mappa_category" in sent and case.mappa_category is None)
    if in_order:
        history = [FieldChange(datetime.min.replace(tzinfo=UTC), True, None,
                               {f: [None, _json(v)] for f, v in before.items()})]
        messages = [(wctx.occurred_at, sent)]
    else:
        history = await field_history(session, case.id)
    if "mappa_level" in sent and not category_from(wctx.occurred_at, sent, history):
        raise Unprocessable(
            "A MAPPA level needs a MAPPA category: the case has none at the message's "
            "received_at nor after it. Nothing of the message was stored; route it to a person, "
            "or deliver it again once the category is on file.",
            slug="mappa-level-without-category",
            errors=[{"loc": "body.details.mappa_level",
                     "msg": "send mappa_category with it, or first"}])
    if not in_order:
        messages = await _feed_messages(wctx, (wctx.occurred_at, sent))
    added = refold(messages, history, actor_of(session.sync_session))
    if not added:
        return None
    current = _now_standing(history, added, before)
    last = {f: max(t for t, g, _ in added if g == f) for _, f, _ in added}
    # The case's current fields: one flush per instant, each recorded at its act's time.
    for at in sorted({last[f] for f in current}):
        for f in [f for f in current if last[f] == at]:
            setattr(case, f, current[f])
        note_case_act(session, case.id, at, role=wctx.event_role)
        mark_changed(case, at)
        case.updated_at = utcnow()
        session.add(case)
        await session.flush()
    # What the history now holds before those instants, recorded with the value the case held
    # at recording as the old (history.ASSERTED_FIELDS).
    earlier: dict[datetime, dict[str, list[Any]]] = {}
    for at, f, value in added:
        if f not in current or at != last[f]:
            earlier.setdefault(at, {})[f] = [_json(before[f]), _json(value)]
    for at, changes in sorted(earlier.items()):
        session.add(RecordChange(
            service_id=case.service_id, case_id=case.id, entity_type="case",
            entity_id=case.id, recorded_at=utcnow(), actor_sub=actor_of(session.sync_session),
            created=False, changes=changes, occurred_at=at, actor_role=wctx.event_role))
    since = min(at for at, _, _ in added)
    mark_changed(case, max(at for at, _, _ in added))
    session.add(case)
    await session.flush()
    latest = {f: [before[f], v] for f, v in current.items()} if in_order else None
    result = await _evaluate_from(wctx, since=since, latest=latest, started=started)
    # The fields changed now, and what the history gained before them (field@instant).
    await wctx.audit("case.update", entity_type="case", entity_id=case.id, change={
        **{f: str(v) for f, v in current.items()},
        **{f"{f}@{iso_utc(at)}": str(v) for at, fields in earlier.items()
           for f, (_, v) in fields.items()}})
    # Announced as a staff PATCH is (A30a-9): every field whose record changed, now or before.
    await policy.announce_case_fields(wctx, {f for _, f, _ in added})
    return result


def category_from(at: datetime, sent: dict[str, Any],
                  history: Sequence[FieldChange]) -> bool:
    """Whether a level received at ``at`` has a MAPPA category to stand on: the message's own,
    the case's at ``at``, or one on file dated after it (then the level stands from it,
    :func:`refold`). Pure; ``history``: :func:`field_history` (or the case as it stands)."""
    if sent.get("mappa_category") is not None:
        return True
    line = _lines(history)["mappa_category"]
    held = None
    for when, value in line:
        if when > at:
            break
        held = value
    return held is not None or any(v is not None for when, v in line if when > at)


def _mappa_update(body: FeedReferral) -> MappaUpdate:
    """The message's MAPPA fields; 422 naming the invalid ones, and any sent as null: a
    message sets them, it does not clear them (a person does, by ``PATCH``), and a null was
    stored and ignored, the rest of the message applied (ATTACK36-7)."""
    cleared = sorted(f for f in MAPPA_FEED_FIELDS if f in body.details
                     and body.details[f] is None)
    if cleared:
        raise Unprocessable(
            "A MAPPA feed message sets the case's MAPPA category, level or release date; it "
            "cannot clear them (null). Nothing of the message was stored; route it to a person, "
            "who changes the case (PATCH).",
            slug="mappa-field-cleared-by-feed",
            errors=[{"loc": f"body.details.{f}", "msg": "may not be null: leave it out"}
                    for f in cleared])
    try:
        return MappaUpdate.model_validate(body.details)
    except ValidationError as exc:
        found = exc.errors(include_url=False)
        raise Unprocessable(
            "details carries an invalid MAPPA category, level or date.",
            errors=validation_items(
                found, ("body", "details"),
                schema_names(MappaUpdate.model_json_schema()), body.details),
            error_count=len(found)) from exc


Message = tuple[datetime, dict[str, Any]]


async def _feed_messages(wctx: WriteContext, new: Message | None) -> list[Message]:
    """The case's MAPPA feed messages with what each sets (:class:`MappaUpdate`), in
    ``received_at`` order, messages received at one instant by what they set (their canonical
    JSON): the order of delivery, which the referral's id follows, decided which of two
    disagreeing messages of one instant stood (attack 31a, ATTACK31A-4)."""
    rows = (await wctx.session.exec(
        select(Referral.occurred_at, Referral.details).where(
            col(Referral.case_id) == wctx.case.id, col(Referral.source) == MAPPA_SOURCE)
        .order_by(col(Referral.occurred_at), col(Referral.id)))).all()
    messages: list[Message] = []
    for at, details in rows:
        try:
            update = MappaUpdate.model_validate(details or {})
        except ValidationError:
            continue
        sent = {f: v for f in MAPPA_FEED_FIELDS if (v := getattr(update, f)) is not None}
        if sent:
            messages.append((_aware(at), sent))
    if new is not None:
        messages.append(new)
    messages.sort(key=lambda m: (m[0], json.dumps(m[1], sort_keys=True, default=str)))
    return messages


Assertion = tuple[datetime, str, Any]


def refold(messages: Sequence[Message], history: Sequence[FieldChange],
           feed_actor: str | None = None) -> list[Assertion]:
    """What the case's field history lacks of the feed's ``messages`` (in time order), as
    (instant, field, value) changes to record: each message's category and release date at its
    ``received_at`` where the history then holds another value; its level at its
    ``received_at``, or, while the child has no category yet, from when the category becomes
    known (unless a level dated later came by then: a later message's, or anyone's on file,
    ATTACK37-1). Pure; ``history``: :func:`field_history`; ``feed_actor``: who records the
    feed's changes (its rows at a category's instant are its own waiting levels)."""
    lines = _lines(history)
    added: list[Assertion] = []

    def state(f: str, at: datetime) -> Any:
        value = None
        for when, v in lines[f]:
            if when > at:
                break
            value = v
        return value

    def assert_(at: datetime, f: str, value: Any) -> None:
        if state(f, at) != value:
            added.append((at, f, value))
            lines[f].append((at, value))
            lines[f].sort(key=lambda e: e[0])  # stable: the new one last among its ties

    def others_at(f: str, at: datetime) -> bool:
        """Whether someone else (staff, a panel, the CMS) changed ``f`` at ``at``: the
        service's own acts of an instant come after the feed's messages of it
        (docs/integrating.md §7), so theirs stands there (ATTACK40-8: a message typed in after
        a panel's decision of its instant overwrote the panel's level)."""
        return any(change.occurred_at == at and change.actor != feed_actor
                   and f in change.changes for change in history if not change.created)

    for at, sent in messages:
        for f in ("mappa_category", "expected_release_date"):
            if f in sent and not others_at(f, at):
                assert_(at, f, sent[f])
    levels = [(at, sent["mappa_level"]) for at, sent in messages if "mappa_level" in sent]
    # The level changes on file by anyone else (staff, the CMS), at their own dates: those
    # strictly inside a waiting level's wait are no feed's (a feed level stands only where a
    # category does), those at the category's instant are the feed's if ``feed_actor`` made
    # them (ATTACK37-1: a staff level dated after a waiting message lost to it), and one at
    # the message's own instant stands over it (ATTACK40-8, :func:`others_at`); a staff level
    # dated before the category waited for it as a message does and is dated by its own date
    # (:func:`own_dates`; ATTACK40-7).
    dated = own_dates(history, feed_actor)
    theirs = [(dated.get(i, change.occurred_at), change.actor)
              for i, change in enumerate(history)
              if not change.created and "mappa_level" in change.changes]
    for i, (at, level) in enumerate(levels):
        starts = at if state("mappa_category", at) is not None else next(
            (when for when, v in lines["mappa_category"] if when > at and v is not None), None)
        if starts is None or any(at < other <= starts for other, _ in levels[i + 1:]) or any(
                at < when < starts or (when == starts and actor != feed_actor)
                for when, actor in theirs):
            continue  # no category yet, or a later-dated level (the feed's or anyone's) first
        assert_(starts, "mappa_level", level)
    return added


def own_dates(history: Sequence[FieldChange], feed_actor: str | None) -> dict[int, datetime]:
    """The own dates of the staff levels in ``history`` that waited for a category (index in
    ``history`` -> the ``PATCH``'s ``occurred_at``): such a level is recorded at the category's
    instant, with a row of the same write at its own date that changes nothing (its old the
    case's value when recorded, its new the level then), which dates it (:func:`wait_level`).
    The feed's rows (``feed_actor``) are dated by their messages."""
    found: dict[int, datetime] = {}
    for i, change in enumerate(history):
        if change.created or change.actor == feed_actor or "mappa_level" not in change.changes:
            continue
        own = [other.occurred_at for other in history
               if not other.created and other.actor == change.actor
               and other.recorded_at == change.recorded_at
               and other.occurred_at < change.occurred_at and "mappa_level" in other.changes]
        if own:
            found[i] = max(own)
    return found


async def wait_level(wctx: WriteContext, level: int) -> policy.PolicyResult | None:
    """A dated ``PATCH`` of the MAPPA level alone (``level`` at ``wctx.occurred_at``) for a
    child with no MAPPA category then and one on file after it: the level waits for the
    category as a feed message's does (README, Referral feeds; ATTACK40-7: the staff level
    took effect at its own date, before the child was eligible, and the monthly review W19
    counted from then; one dated after a waiting message was left as history when typed in
    after it). It stands from the category's date unless a level dated after it and by then
    (a message's, or anyone's) is on file: among the levels waiting for one category the
    latest-dated wins, whoever records it and in whatever order. The duties are derived again
    from the category's date (:func:`_evaluate_from`). None when the level does not wait (a
    category at its date, or none on file after it: the ``PATCH`` judges it as usual)."""
    session, case, at = wctx.session, wctx.case, wctx.occurred_at
    history = await field_history(session, case.id)
    lines = _lines(history)
    held = None
    for when, value in lines["mappa_category"]:
        if when > at:
            break
        held = value
    starts = next((when for when, v in lines["mappa_category"] if when > at and v is not None),
                  None)
    if held is not None or starts is None:
        return None
    subs = frozenset((await session.exec(select(Referral.created_by).where(
        col(Referral.case_id) == case.id, col(Referral.source) == MAPPA_SOURCE))).all())
    messages = [when for when, sent in await _feed_messages(wctx, None)
                if "mappa_level" in sent]
    dated = own_dates(history, None)
    rivals = [*messages, *(dated.get(i, change.occurred_at) for i, change in enumerate(history)
                           if not change.created and change.actor not in subs
                           and "mappa_level" in change.changes)]
    actor = actor_of(session.sync_session)
    now = started = utcnow()
    before = _json(case.mappa_level)
    then = None
    for when, value in lines["mappa_level"]:
        if when > at:
            break
        then = value
    stands = not any(at < when <= starts for when in rivals)
    if stands:
        later = any(not c.created and "mappa_level" in c.changes and c.occurred_at > starts
                    for c in history)
        if later:  # history at the category's date only: a level dated after it stands now
            session.add(RecordChange(
                service_id=case.service_id, case_id=case.id, entity_type="case",
                entity_id=case.id, recorded_at=now, actor_sub=actor, created=False,
                changes={"mappa_level": [before, level]}, occurred_at=starts,
                actor_role=wctx.event_role))
        else:
            case.mappa_level = level
            note_case_act(session, case.id, starts, role=wctx.event_role)
            mark_changed(case, starts)
            case.updated_at = now
            session.add(case)
            await session.flush()
            recorded = (await session.exec(select(RecordChange.recorded_at).where(
                col(RecordChange.entity_id) == case.id, col(RecordChange.entity_type) == "case")
                .order_by(col(RecordChange.recorded_at).desc()).limit(1))).first()
            now = now if recorded is None else recorded
    # The level's own date, changing nothing there (the level then, the case's now as old).
    session.add(RecordChange(
        service_id=case.service_id, case_id=case.id, entity_type="case", entity_id=case.id,
        recorded_at=now, actor_sub=actor, created=False,
        changes={"mappa_level": [before, then]}, occurred_at=at, actor_role=wctx.event_role))
    note_case_act(session, case.id, at, role=wctx.event_role)
    case.updated_at = utcnow()
    session.add(case)
    await session.flush()
    # A level that does not stand (a later-dated one waits for the same category) changes
    # no duty: history at its date only.
    result = await (_evaluate_from(wctx, since=starts, latest=None, started=started) if stands
                    else policy.current(session, case))
    await wctx.audit("case.update", entity_type="case", entity_id=case.id,
                     change={f"mappa_level@{iso_utc(at)}": str(level)} if not stands
                     else {f"mappa_level@{iso_utc(starts)}": str(level)})
    await policy.announce_case_fields(wctx, {"mappa_level"})
    return result


def _lines(history: Sequence[FieldChange]) -> dict[str, list[tuple[datetime, Any]]]:
    """Each MAPPA field's values over time in ``history`` (the opening's at the beginning)."""
    lines: dict[str, list[tuple[datetime, Any]]] = {f: [] for f in MAPPA_FEED_FIELDS}
    for change in history:
        for f in MAPPA_FEED_FIELDS:
            if f in change.changes:
                value = change.changes[f][1]
                if f == "expected_release_date" and isinstance(value, str):
                    value = date.fromisoformat(value[:10])
                at = datetime.min.replace(tzinfo=UTC) if change.created else change.occurred_at
                lines[f].append((at, value))
    return lines


def _now_standing(history: Sequence[FieldChange], added: Sequence[Assertion],
                  before: dict[str, Any]) -> dict[str, Any]:
    """The fields whose latest change by act time is now one of ``added``, with its value: the
    case's current fields change to them (a change of anyone's dated later still stands). A
    level does not stand on a case left with no category."""
    latest: dict[str, datetime] = {}
    for change in history:
        if not change.created:
            for f in MAPPA_FIELDS_SET & change.changes.keys():
                latest[f] = max(latest.get(f, change.occurred_at), change.occurred_at)
    current: dict[str, Any] = {}
    for at, f, value in sorted(added, key=lambda a: a[0]):
        if f not in latest or at >= latest[f]:
            current[f] = value
    if current.get("mappa_category", before["mappa_category"]) is None:
        current.pop("mappa_level", None)
    return {f: v for f, v in current.items() if v != before[f]}


def _json(value: Any) -> Any:
    """A field's value as the field history stores it."""
    return value.isoformat() if isinstance(value, date) else value


async def _evaluate_from(wctx: WriteContext, *, since: datetime,
                         latest: dict[str, list[Any]] | None,
                         started: datetime | None = None) -> policy.PolicyResult:
    """The duties of the case's MAPPA history from ``since`` on: each change of its MAPPA fields
    dated then or later, at its own time on the case as it stood then: what it ends or
    re-dates as in time order (:func:`~app.domain.policy.run` raising nothing), what it asks
    for as a back-filled act (:func:`~app.domain.policy.run_backfill`: raised if missing,
    re-dated sooner, raised at its time); then the other acts after ``since`` replayed.
    ``latest``: the change this delivery made, the case's latest (the usual delivery); run as
    any act in time order is (one :func:`~app.domain.policy.run`) unless it predates a
    rating."""
    case = wctx.case
    result: policy.PolicyResult | None = None
    if latest is not None and not dated_before_a_rating(case, since):
        result = await policy.run(wctx, event=wctx.event("case_changed", {"changes": latest}))
        changes: list[TimedChange] = []
    else:
        changes, overridden = _standing(
            [c for c in await changes_after(wctx.session, case,
                                            since - timedelta(microseconds=1))
             if MAPPA_FIELDS_SET & c.changes.keys()])
        if overridden and started is not None:
            result = await _never_stood(wctx, overridden, started)
    standing = {c.id: c.changes.keys() for c in changes}
    # The case's own acts of the message's instant typed in before it come after it
    # (app.domain.replay.SAME_INSTANT: feed messages first): the message is judged on the case
    # as they found it, and they are evaluated again after it (fix36d, ATTACK35A-9, -16).
    # (Not for a level that waited for the category of ``since``, received before it: it
    # stands from the category, after the acts of that instant; ATTACK40-7, where the waiting
    # level was judged on the case before the category and W16's notification lapsed.)
    own = await instant_changes(wctx, since, MAPPA_FIELDS_SET) if (
        latest is None and wctx.occurred_at == since) else []
    # Less what a later change of the instant replaced (:func:`_standing`).
    own = [c._replace(changes={f: v for f, v in c.changes.items()
                               if f in standing.get(c.id, c.changes.keys())})
           for c in own if c.id in standing or not MAPPA_FIELDS_SET & c.changes.keys()
           or not changes]
    theirs = {c.id for c in own}
    found = before_instant(own)
    history = await rating_history(wctx) if changes else []
    for change in changes:
        if change.id in theirs:
            continue
        if own and change.occurred_at > since:
            more = await replay_instant(wctx, own)
            if more is not None:
                result = more if result is None else result.merge(more)
            own = []
        at = dataclasses.replace(wctx, occurred_at=change.occurred_at)
        event = at.event("case_changed", {"changes": change.changes})
        fields = {f: v for f, v in found.items() if f not in change.changes} if (
            change.occurred_at == since) else None
        more = (await policy.run(at, event=event, creates=False, fields=fields)).merge(
            await policy.run_backfill(
                at, event=event, ratings=ratings_at(history, change.occurred_at),
                later=ratings_after(history, change.occurred_at), replayed=change.id,
                fields=fields))
        result = more if result is None else result.merge(more)
    more = await replay_instant(wctx, own)
    if more is not None:
        result = more if result is None else result.merge(more)
    replayed = await replay_later_acts(wctx, since=since, besides=MAPPA_FIELDS_SET)
    if replayed is not None:
        result = replayed if result is None else result.merge(replayed)
    if result is None:
        return await policy.current(wctx.session, case)
    return await answer_from_record(wctx, result=result)


def _standing(changes: Sequence[TimedChange]
              ) -> tuple[list[TimedChange], dict[datetime, set[str]]]:
    """``changes`` (in time order) without what stood at no instant: a MAPPA level that a
    later row of the same instant replaced (a level waiting for a category, replaced
    at the category's instant by one dated after it, ATTACK40-7; the service's own change of
    a message's instant, ATTACK40-8); and the instants where one was."""
    kept: list[TimedChange] = []
    overridden: dict[datetime, set[str]] = {}
    for i, change in enumerate(changes):
        later = {f for other in changes[i + 1:] if other.occurred_at == change.occurred_at
                 for f in other.changes}
        gone = {"mappa_level"} & later & change.changes.keys()
        if gone:
            overridden.setdefault(change.occurred_at, set()).update(gone)
        left = {f: v for f, v in change.changes.items() if f not in gone}
        if left:
            kept.append(change._replace(changes=left))
    return kept, overridden


async def _never_stood(wctx: WriteContext, overridden: dict[datetime, set[str]],
                       started: datetime) -> policy.PolicyResult:
    """The duties raised at each of ``instants`` by the case's changes of its fields, derived
    again there (:func:`_evaluate_from`): a value that a later row of the same instant replaced
    never stood, so what it raised was never owed (superseded at that instant: the timeline
    leaves it out): the steps raised there by the case's changes whose line reads a replaced
    field (Wokingham W17, W27 of a level 3 replaced by a later-dated level 1 at the category's
    instant; not W16, which the category of that instant asks for)."""
    # Only where the value that stood at the instant before this write (``started``) is not
    # the one standing now: what it raised the standing one may owe too.
    history = await field_history(wctx.session, wctx.case.id)
    instants: dict[datetime, set[str]] = {}
    for at, fields in overridden.items():
        rows = [c for c in history if not c.created and c.occurred_at == at]
        for f in fields:
            then = [c.changes[f][1] for c in rows if f in c.changes
                    and c.recorded_at is not None and c.recorded_at < started]
            now = [c.changes[f][1] for c in rows if f in c.changes]
            if then and now and then[-1] != now[-1]:
                instants.setdefault(at, set()).add(f)
    ended: list[Any] = []
    reads = {(r.id, r.code): r.case_fields_read for r in wctx.pack.rules}
    for step in await policy.open_steps_of(wctx.session, wctx.case.id):
        raised = policy.stored_utc(step.raised_at or step.created_at)
        reasons = step.reasons or []
        line = reads.get((step.rule_id, step.code), frozenset())
        if raised in instants and line & instants[raised] and reasons and all(
                r.get("trigger") == "case_changed" and _instant(r.get("at")) == raised
                for r in reasons):
            policy.end_need(wctx.session, step, at=raised,
                            why="Raised by a MAPPA value that a later one of its instant "
                                "replaced: never owed")
            wctx.session.add(step)
            ended.append(step)
    await wctx.session.flush()
    if ended:
        await policy.record_superseded(wctx, ended)
    return policy.PolicyResult(next_steps=[], superseded=ended)


def _instant(text: Any) -> datetime | None:
    """A reason's ``at`` (ISO 8601) as an aware instant; None if it has none."""
    if not isinstance(text, str):
        return None
    return _aware(datetime.fromisoformat(text.replace("Z", "+00:00")))


def _meets_a_change(case: Case, at: datetime) -> bool:
    """Whether a change of the case's fields is dated at or after ``at``: a message of the
    instant of an earlier one is ordered with it by what they set (:func:`_feed_messages`),
    not applied over it (attack 31a, ATTACK31A-4)."""
    return case.changed_at is not None and _aware(case.changed_at) >= at


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
