"""Field-change history of cases and steps, so a case can be shown as it stood at any instant.

Every flush of a session made by :class:`RecordedSession` (the app's sessions) appends one
:class:`RecordChange` row per changed case or step, with the old and new value of each field,
the recording time (UTC, wall clock) and the staff id of the request. It runs inside the same
transaction as the change, whichever service made it, so no code path can forget it.
"""

from __future__ import annotations

import enum
import functools
import uuid
from datetime import UTC, date, datetime
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm.attributes import PASSIVE_NO_INITIALIZE
from sqlalchemy.orm.util import identity_key
from sqlmodel import Field, Session, SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.core.db import json_value
from app.domain.assessments_table import countersigned_types_at
from app.domain.cases_table import Case
from app.domain.common import JSONType, iso_utc, new_id, utcnow
from app.domain.steps import Step

# Bookkeeping columns whose change says nothing about the case.
UNTRACKED = frozenset({"id", "service_id", "version", "created_at", "updated_at", "changed_at"})
# Every column of a step that the API shows and a write may change (attack 30a, A30a-5: the
# actor and note were not kept, so ``as_of`` showed today's beside the assignee of then).
STEP_TRACKED = ("status", "due_at", "overdue_at", "assignee_id", "urgent", "awaiting_panel_date",
                "actor", "note", "reasons", "title", "rule_id", "policy_pack", "policy_version",
                "policy_ref", "raised_at", "deadline_form", "priority", "completed_at",
                "completed_by", "completion_note", "satisfied_by_type", "satisfied_by_id")


class RecordChange(SQLModel, table=True):
    """One recorded change of a case or a step: field -> [old, new] (JSON values)."""

    __tablename__ = "record_change"
    __table_args__ = (
        sa.Index("ix_record_change_case_recorded", "case_id", "recorded_at"),
        sa.Index("ix_record_change_entity", "entity_id", "recorded_at"),
    )

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    service_id: uuid.UUID
    case_id: uuid.UUID
    entity_type: str = Field(max_length=16)
    entity_id: uuid.UUID
    recorded_at: datetime = Field(default_factory=utcnow)
    actor_sub: str | None = Field(default=None, max_length=128)
    created: bool = False
    changes: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType)
    # When the act that changed the case's fields happened (migration 0023; attack pass 15,
    # A15-9): a change noted by :func:`note_case_act` (a PATCH, a CMS update, a MAPPA feed),
    # and a change derived from an act (ratings, register, contact level, priority: the act's
    # policy run or judgement notes it; ATTACK26B-2); null for rows recorded before it was kept.
    # A step's row: when the act that changed its status happened, for a step superseded by an
    # act (:func:`note_step_act`; ATK29-1); null otherwise (its completion has completed_at).
    occurred_at: datetime | None = None
    # The role under which the act that made the change acted (the engine event's
    # ``actor_role``: a ``PATCH``'s role, the CMS's or a feed's, the event's recorder's), noted
    # with the act's time (:func:`note_case_act`; migration 0040, fix42b). A change replayed
    # after an act dated before it, typed in after it, is judged under it
    # (app.domain.replay.replay_later_acts), whoever holds or manages the case now. Rows
    # recorded before 0040: inferred by the migration from who holds and manages the case then
    # (fix41a's inference, documented there); null where not known (a step's row, a change
    # with no act time).
    actor_role: str | None = Field(default=None, max_length=32)


def to_json(value: Any) -> Any:
    """A column value as JSON (enums by value, dates and times in ISO 8601)."""
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime):
        return iso_utc(value) if value.tzinfo is not None else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def _changes(obj: Any, fields: Any, created: bool) -> dict[str, list[Any]]:
    state = sa.inspect(obj)
    out: dict[str, list[Any]] = {}
    if not created:
        # Only an attribute set since the load can have changed: SQLAlchemy keeps its loaded
        # value in ``committed_state`` when it is first set (the rest have no history).
        touched = state.committed_state
        fields = [name for name in fields if name in touched]
    for name in fields:
        if created:
            value = getattr(obj, name, None)
            if value is not None:
                out[name] = [None, to_json(value)]
            continue
        hist = attribute_history(state, name)
        if not hist.has_changes():
            continue
        old = hist.deleted[0] if hist.deleted else None
        new = hist.added[0] if hist.added else None
        if to_json(old) != to_json(new):
            out[name] = [to_json(old), to_json(new)]
    return out


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


# session.info: case id -> the time of the act whose field changes this write records (a change
# of the case's fields dated at its ``occurred_at``), stamped on the case's history rows.
ACT_AT = "case_act_at"
# session.info: case id -> the role of the act :data:`ACT_AT` times (:func:`note_case_act`).
ACT_ROLE = "case_act_role"


def note_case_act(session: Any, case_id: uuid.UUID, at: datetime, *, role: str | None) -> None:
    """Stamp the case's field changes this write flushes from now on with the act's time
    ``at`` (aware UTC) and the role it acts under (``role``: the engine event's
    ``actor_role``, :attr:`RecordChange.actor_role`): :func:`app.domain.replay.case_fields_at`
    reads the case as it stood at an earlier act's date from them, and a replay judges a
    change under its own recorder's role (fix42b)."""
    sync = getattr(session, "sync_session", session)
    sync.info.setdefault(ACT_AT, {})[case_id] = at
    sync.info.setdefault(ACT_ROLE, {})[case_id] = role


def act_role(session: Any, case_id: uuid.UUID) -> str | None:
    """The role noted with the case's act in this write (:func:`note_case_act`), or None."""
    sync = getattr(session, "sync_session", session)
    return (sync.info.get(ACT_ROLE) or {}).get(case_id)


# session.info: step id -> the time of the act that supersedes it in this write, stamped on the
# step's history row of that status change (and only that one).
STEP_ACT_AT = "step_act_at"


def note_step_act(session: Any, step_id: uuid.UUID, at: datetime) -> None:
    """Stamp the step's next change of status this write flushes (its supersession) with the
    time ``at`` of the act that made it (aware UTC): the case timeline puts it there, not at
    when it was typed in (``recorded_at``), as it does a back-dated act's derived changes of
    the case's fields (ATK29-1). ``as_of`` still reads the recording time."""
    sync = getattr(session, "sync_session", session)
    sync.info.setdefault(STEP_ACT_AT, {})[step_id] = at
    sync.info.setdefault(STEP_ACT_KEPT, {})[step_id] = at


# session.info: step id -> the time noted by :func:`note_step_act`, kept after the flush that
# stamps it, for the step's outgoing event (``step.superseded``: the act's own time, ATTACK35A-5).
STEP_ACT_KEPT = "step_act_kept"


def step_act_at(session: Any, step_id: uuid.UUID) -> datetime | None:
    """The time of the act that superseded the step in this write (:func:`note_step_act`), or
    None when no act time was noted for it."""
    sync = getattr(session, "sync_session", session)
    return (sync.info.get(STEP_ACT_KEPT) or {}).get(step_id)


@functools.cache
@functools.cache
def _case_fields() -> tuple[str, ...]:
    return tuple(c.key for c in sa.inspect(Case).column_attrs if c.key not in UNTRACKED)


def actor_of(session: sa.orm.Session) -> str | None:
    """The staff id of the request the session belongs to (None outside a request)."""
    return getattr(session.info.get("request_state"), "principal_sub", None)


def change_row(obj: Any, created: bool, actor: str | None, now: datetime,
               acts: dict[Any, Any], step_acts: dict[Any, Any] | None = None,
               roles: dict[Any, Any] | None = None) -> dict[str, Any] | None:
    """The history row a flush records for ``obj`` (a new or changed case, a changed step),
    from its pending changes; None for anything else or no change. ``acts``: the session's
    :data:`ACT_AT` (when a case's change happened, by case id); ``step_acts``: its
    :data:`STEP_ACT_AT` (when a step's change of status happened, by step id: taken by the
    row that records that change); ``roles``: its :data:`ACT_ROLE` (the role of a case's
    act, by case id: a case's row only)."""
    if isinstance(obj, Case):
        fields: Any = _case_fields()
        case_id = obj.id
    elif isinstance(obj, Step) and not created:  # a new step is dated by created_at
        fields, case_id = STEP_TRACKED, obj.case_id
    else:
        return None
    if obj.id is None or case_id is None:
        return None
    changes = _changes(obj, fields, created)
    if not changes and not created:
        return None
    if isinstance(obj, Case):
        occurred = acts.get(case_id)
    else:
        occurred = step_acts.pop(obj.id, None) if step_acts and "status" in changes else None
        if "due_at" in changes and "status" not in changes and acts.get(case_id) is not None:
            # Re-dated by the act this write records (the case's act time, :func:`note_case_act`):
            # the timeline puts the re-date at that act's time, never before the step arose
            # (ATTACK35A-5: a panel decision's re-date was at its recording time).
            raised = obj.raised_at or obj.created_at
            occurred = acts[case_id] if raised is None else max(
                _aware(acts[case_id]), _aware(raised))
    return {
        "id": new_id(), "service_id": obj.service_id, "case_id": case_id,
        "entity_type": "case" if isinstance(obj, Case) else "step", "entity_id": obj.id,
        "recorded_at": now, "actor_sub": actor, "created": created, "changes": changes,
        "occurred_at": occurred,
        "actor_role": (roles or {}).get(case_id) if isinstance(obj, Case) else None,
    }


class RecordedSession(Session):
    """The app's session class: it records case and step field changes on every flush."""


_INSERT = sa.insert(RecordChange.__table__)  # type: ignore[attr-defined]
# session.info: while the audit seal flushes the write (app.domain.audit._seal), a list the
# flush's rows are put in instead of being inserted: the seal writes them in its own INSERT
# (one round trip fewer; the same transaction, before the commit). Nothing reads the history
# between that flush and the seal's INSERT.
COLLECT = "history_rows_for_seal"


# session.info: case id -> the names of the case's fields the write's flushes changed (what
# :func:`case_fields_changed` answers with those still pending).
CASE_FIELDS_CHANGED = "case_fields_changed"


def case_fields_changed(session: AsyncSession, case: Case) -> set[str]:
    """The case's own fields this unit of work has changed: those its flushes recorded in the
    field history and those still pending on the object (no statement sent)."""
    flushed = session.sync_session.info.get(CASE_FIELDS_CHANGED) or {}
    return set(flushed.get(case.id, ())) | set(_changes(case, _case_fields(), False))


@event.listens_for(RecordedSession, "before_flush")
def _record(session: Session, _ctx: Any, _instances: Any) -> None:
    """Write the flush's changes of cases and steps, before the flush itself, in its
    transaction (one INSERT, no ORM object per row: issue 15)."""
    actor = actor_of(session)
    acts = session.info.get(ACT_AT) or {}
    step_acts = session.info.get(STEP_ACT_AT)
    roles = session.info.get(ACT_ROLE)
    now = utcnow()
    rows: list[dict[str, Any]] = []
    for obj, created in [(o, True) for o in session.new] + [(o, False) for o in session.dirty]:
        row = change_row(obj, created, actor, now, acts, step_acts, roles)
        if row is not None:
            rows.append(row)
    if not rows:
        return
    changed = session.info.setdefault(CASE_FIELDS_CHANGED, {})
    for row in rows:
        if row["entity_type"] == "case" and not row["created"]:
            changed.setdefault(row["case_id"], set()).update(row["changes"])
    collect = session.info.get(COLLECT)
    if collect is not None:
        collect.extend(rows)
    else:
        session.connection().execute(_INSERT, rows)


# The records under a case whose writing changes what ``GET /v1/cases/{id}`` shows (its open
# steps) or that have no read of their own and answer the case's ETag (attack 20, A20-5).
CASE_SHOWN = frozenset({"step", "judgement", "case_event", "oversight_entry"})
# session.info: the cases whose version this transaction has moved already (once is enough).
BUMPED = "cases_bumped"


def _touched_cases(session: Any) -> set[uuid.UUID]:
    """The ids of the cases a pending record of :data:`CASE_SHOWN` is under."""
    found: set[uuid.UUID] = set()
    for obj in (*session.new, *session.dirty):
        table = getattr(obj, "__table__", None)
        if table is not None and table.name in CASE_SHOWN:
            case_id = getattr(obj, "case_id", None)
            if isinstance(case_id, uuid.UUID):
                found.add(case_id)
    return found


def has_changes(obj: Any) -> bool:
    """``Session.is_modified(obj, include_collections=False)`` for a persistent row of
    columns only: whether an attribute was set to another value than it was loaded with. Only
    the attributes with a recorded previous value (``committed_state``) are asked, not every
    mapped attribute (issue 15: ``is_modified`` asked the case's ~40)."""
    return state_has_changes(sa.inspect(obj))


def attribute_history(state: Any, key: str) -> Any:
    """``state.attrs[key].history`` (an ORM attribute's history since the load, loading
    nothing), asked of the attribute itself: ``InstanceState.attrs`` builds an
    ``AttributeState`` for every mapped attribute of the object on first use (the case's ~40,
    on every write: issue 15)."""
    return state.get_history(key, PASSIVE_NO_INITIALIZE)


def state_has_changes(state: Any) -> bool:
    """:func:`has_changes` of an object's ORM state."""
    return state.modified and any(attribute_history(state, key).has_changes()
                                  for key in state.committed_state)


def will_bump(session: Any, case: Case) -> bool:
    """Whether the next flush moves the case's version (its ETag): it has changes of its own,
    or a record it shows is pending and this transaction has not moved it yet."""
    if case in session.new:
        return False
    if has_changes(case):
        return True
    return (case.id not in session.info.get(BUMPED, set())
            and case.id in _touched_cases(session))


@event.listens_for(RecordedSession, "before_flush")
def _bump_cases(session: Session, _ctx: Any, _instances: Any) -> None:
    """A case's strong ETag (its version) moves whenever its representation does (RFC 9110
    §8.8.3; attack 20, A20-5): a write that adds or changes a step of the case, or records a
    judgement, event or oversight entry under it, moves the case's version once a transaction
    (``updated_at`` set: one UPDATE, none more when the case changes anyway), so a conditional
    POST under the case is exclusive. A case the write has not loaded (the steps an absence
    re-dates on the cases it locks, a chase the escalation pass retires: A20-5's gaps) moves
    by one Core UPDATE of their versions (:func:`_bump_unloaded`)."""
    bumped: set[uuid.UUID] = session.info.setdefault(BUMPED, set())
    for obj in session.new:
        if isinstance(obj, Case):  # made in this transaction with its steps: version 1
            bumped.add(obj.id)
    for obj in session.dirty:
        if isinstance(obj, Case) and has_changes(obj):
            bumped.add(obj.id)
    unloaded = set()
    for case_id in _touched_cases(session) - bumped:
        case = session.identity_map.get(identity_key(Case, case_id))
        if case is None:
            unloaded.add(case_id)
        elif case in session.new or case in session.deleted:
            continue
        else:
            case.updated_at = utcnow()
        bumped.add(case_id)
    if unloaded:
        session.connection().execute(_bump_unloaded(unloaded))


_CASES: Any = Case.__table__  # type: ignore[attr-defined]


def _bump_unloaded(case_ids: set[uuid.UUID]) -> Any:
    """The UPDATE moving the versions (ETags) of cases not loaded in the session by one, with
    their ``updated_at``: a case loaded later in the transaction reads the moved version."""
    return (sa.update(_CASES).where(_CASES.c.id.in_(sorted(case_ids)))
            .values(version=_CASES.c.version + 1, updated_at=utcnow()))


async def bump_case_versions(session: Any, case_ids: set[uuid.UUID]) -> None:
    """Move the version (the strong ETag, RFC 9110 §8.8.3) of each case in ``case_ids`` by
    one in the session's transaction, whatever the session's class: for a job outside the
    request path that changes a case's steps (the stand-in sweep, the escalation pass
    retiring a chase: attack 20, A20-5), under the case's lock, which the caller holds. A
    loaded case moves at the next flush (``updated_at`` set: the ORM's versioned UPDATE), any
    other by one Core UPDATE now. Marks them moved for :func:`_bump_cases` (once is
    enough)."""
    if not case_ids:
        return
    sync = session.sync_session
    bumped: set[uuid.UUID] = sync.info.setdefault(BUMPED, set())
    unloaded = set()
    for case_id in case_ids:
        case = sync.identity_map.get(identity_key(Case, case_id))
        if case is None:
            unloaded.add(case_id)
        elif case not in sync.new:
            case.updated_at = utcnow()
        bumped.add(case_id)
    if unloaded:
        await (await session.connection()).execute(_bump_unloaded(unloaded))


@event.listens_for(RecordedSession, "after_commit")
@event.listens_for(RecordedSession, "after_rollback")
def _bumped_ends(session: Session) -> None:
    session.info.pop(BUMPED, None)


# The case's fields the engine reads (app.domain.policy.snapshot) that an act may change.
AS_OF_FIELDS = ("intervention", "statutory", "csc_status", "weapon_related", "mappa_category",
                "mappa_level", "expected_release_date", "in_custody", "volunteer_attached",
                "facts")

# Fields the engine reads as they stood at an act's date but that no case change replays (no
# ``case_changed`` names them): the tools of the assessments countersigned by then (Wokingham
# W3: a judgement turning a domain high owes the review when the case has a countersigned
# Asset+; one typed in after a later countersignature found it already there, ATTACK35B-5).
MOMENT_FIELDS = ("countersigned_types",)


def _as_field(name: str, value: Any) -> Any:
    """A JSON value of the history as the case's field holds it."""
    if name == "countersigned_types":
        return frozenset(value or ())
    if name == "expected_release_date" and isinstance(value, str):
        return date.fromisoformat(value[:10])
    if name == "facts":
        return dict(value or {})
    return value


def as_field(name: str, value: Any) -> Any:
    """A JSON value of the field history as the case's field ``name`` holds it."""
    return _as_field(name, value)


def act_time() -> Any:
    """SQL: when a recorded change of a case's fields happened: its act's time
    (:func:`note_case_act`: a ``PATCH``'s or an upsert's ``occurred_at``, an event's, a MAPPA
    message's ``received_at``, a panel's sitting, the act a derived change followed), else when
    it was recorded (a row from before its act's time was kept)."""
    return sa.func.coalesce(col(RecordChange.occurred_at), col(RecordChange.recorded_at))


async def fields_changed_after(
    session: Any, case_id: uuid.UUID, fields: set[str] | frozenset[str], since: datetime, *,
    besides: set[str] | frozenset[str] = frozenset(),
    besides_at: tuple[datetime, frozenset[str]] | None = None,
) -> set[str]:
    """Those of ``fields`` that an act dated after ``since`` (:func:`act_time`) changed on the
    case (not its opening, which is no change), by anyone but ``besides`` (actor ids): the one
    reading of "set later" (a panel decision's level against a change after it sat, a MAPPA
    message's against a change after it was received, a custody event's move against a later
    one; left12c after attack 22: the feed compared recording times, so a panel that sat
    before the message, typed up after it, kept its older level)."""
    if not fields:
        return set()
    rows = (await session.exec(select(RecordChange.changes, RecordChange.actor_sub,
                                      act_time()).where(
        col(RecordChange.entity_type) == "case", col(RecordChange.entity_id) == case_id,
        col(RecordChange.created).is_(False), act_time() > since))).all()
    # ``besides_at``: (an instant, actor ids) whose changes at exactly that instant do not
    # count (a MAPPA message at a panel decision's instant, which comes before it).
    at, subs = besides_at if besides_at is not None else (None, frozenset())
    return {f for changes, actor, when in rows if actor not in besides
            and not (actor in subs and _aware(when) == at)
            for f in set(fields) & set(changes or ())}


async def first_change_after(session: Any, case_id: uuid.UUID, name: str,
                             since: datetime, known: list[ChangeAround] | None = None
                             ) -> datetime | None:
    """When the first change of the case's field ``name`` by an act dated after ``since``
    (:func:`act_time`) happened (not the case's opening, which is no change); None if none.
    ``known``: the case's changes around ``since`` as the caller read them with the case
    under its lock (:func:`changes_around_column`): no statement of its own."""
    if known is not None:
        rows = [(c.act_at, c.changes) for c in known if c.act_at > since]
    else:
        rows = list((await session.exec(select(act_time(), RecordChange.changes).where(
            col(RecordChange.entity_type) == "case", col(RecordChange.entity_id) == case_id,
            col(RecordChange.created).is_(False), act_time() > since)
            .order_by(act_time()))).all())
    found = next((at for at, changes in rows if name in (changes or {})), None)
    return None if found is None else found if found.tzinfo else found.replace(tzinfo=UTC)


class ChangeAround(NamedTuple):
    """A change of the case's fields (not its opening) read by :func:`changes_around_column`:
    its ``occurred_at`` (None: dated when recorded), its act's time (:func:`act_time`) and
    the changes."""

    occurred_at: datetime | None
    act_at: datetime
    changes: dict[str, Any]


@functools.cache
def changes_around_column() -> Any:
    """PostgreSQL: the case ``yj_case``'s field changes (not its opening) by an act dated
    after ``yj_act_at`` (:func:`act_time`) or with ``occurred_at`` at it, as one column of
    the case file's statement (:func:`app.domain.access.get_case_file_for_write`; issue 15: a
    dated ``PATCH``'s reads of the changes after it and of a custody change at its instant,
    a round trip fewer each), read after the case lock with the case's own snapshot: an array
    of ``(occurred_at, act time, changes as JSON text)`` rows (NULL for none);
    :func:`changes_around_of` makes it the ``known`` of :func:`first_change_after` and
    :func:`app.domain.events.require_no_custody_rival`, which keep the rows they read."""
    rc: Any = sa.alias(RecordChange.__table__, "yj_rc")  # type: ignore[attr-defined]
    at = sa.bindparam("yj_act_at", type_=rc.c.occurred_at.type)
    act = sa.func.coalesce(rc.c.occurred_at, rc.c.recorded_at)
    return (sa.select(sa.func.array_agg(
        sa.tuple_(rc.c.occurred_at, act, sa.cast(rc.c.changes, sa.Text())),
        type_=sa.types.NullType()))
        .where(rc.c.entity_type == "case",
               rc.c.entity_id == sa.bindparam("yj_case", type_=rc.c.entity_id.type),
               rc.c.created.is_(False), sa.or_(act > at, rc.c.occurred_at == at))
        .scalar_subquery().correlate(None).label("yj_changes_around"))


def changes_around_of(value: Any) -> list[ChangeAround]:
    """:func:`changes_around_column`'s value, in the order of their acts' times."""
    rows = [ChangeAround(occurred_at, act_at, json_value(changes) or {})
            for occurred_at, act_at, changes in value or ()]
    return sorted(rows, key=lambda c: c.act_at)


# The case's fields a MAPPA feed message asserts from its ``received_at`` (app.domain.feeds): a
# message delivered after later ones records its value at its own time, with the value the case
# held when it was recorded as the row's old (so that the record-time view, which rolls back
# through the olds, stays right: app.domain.case_history.case_as_of). For these fields the
# value at an instant is read forwards: that of the latest change at or before it, the
# opening's before any (ATK29-3).
ASSERTED_FIELDS = ("mappa_category", "mappa_level", "expected_release_date")
ASSERTED_FIELDS_SET = frozenset(ASSERTED_FIELDS)


class FieldChange(NamedTuple):
    """A recorded change of the case's fields at its act's time (:func:`act_time`, aware UTC);
    the opening (``created``) first; ``role``: its :attr:`RecordChange.actor_role`."""

    occurred_at: datetime
    created: bool
    actor: str | None
    changes: dict[str, list[Any]]
    recorded_at: datetime | None = None
    role: str | None = None


async def field_history(session: Any, case_id: uuid.UUID) -> list[FieldChange]:
    """The case's recorded changes of its fields, its opening first, then in act-time order
    (recording order on ties)."""
    table: Any = RecordChange.__table__  # type: ignore[attr-defined]
    conn = await session.connection()
    when = sa.func.coalesce(table.c.occurred_at, table.c.recorded_at)
    rows = (await conn.execute(
        sa.select(when, table.c.created, table.c.actor_sub, table.c.changes,
                  table.c.recorded_at, table.c.actor_role)
        .where(table.c.case_id == case_id, table.c.entity_type == "case",
               table.c.entity_id == case_id)
        .order_by(table.c.created.desc(), when, table.c.recorded_at, table.c.id))).all()
    return [FieldChange(_aware(at), bool(created), actor, dict(changes or {}), _aware(recorded),
                        role)
            for at, created, actor, changes, recorded, role in rows]


def asserted_at(history: list[FieldChange], name: str, at: datetime) -> tuple[bool, Any]:
    """Whether ``history`` holds ``name``'s value at ``at`` (an :data:`ASSERTED_FIELDS` one),
    and the value: the new value of its latest change at or before ``at`` (the opening's
    if none; a field not set at the opening was null then)."""
    found, value = False, None
    for change in history:
        if not change.created and change.occurred_at > at:
            break
        if name in change.changes:
            found, value = True, _as_field(name, change.changes[name][1])
        elif change.created:
            found = True
    return found, value


async def case_fields_at(session: Any, case: Case, at: datetime) -> dict[str, Any]:
    """The case's fields that changed by acts dated after ``at`` (and recorded with their act
    time: :func:`note_case_act`), as they stood at ``at``: a judgement or event dated before a
    volunteer was attached is judged on the case without one (attack pass 15, A15-9). Empty
    (and no query) when the case's latest change is not dated after ``at``."""
    changed = case.changed_at
    if changed is None:
        return {}
    if (changed.replace(tzinfo=UTC) if changed.tzinfo is None else changed) <= at:
        return {}
    table: Any = RecordChange.__table__  # type: ignore[attr-defined]
    conn = await session.connection()
    rows = (await conn.execute(
        sa.select(table.c.changes)
        .where(table.c.case_id == case.id, table.c.entity_type == "case",
               table.c.occurred_at.is_not(None), table.c.occurred_at > at)
        .order_by(table.c.occurred_at.desc(), table.c.recorded_at.desc(), table.c.id.desc())
    )).all()
    fields: dict[str, Any] = {}
    for (changes,) in rows:  # newest first: the oldest change after ``at`` says what it was
        for name, (old, _new) in (changes or {}).items():
            if name in AS_OF_FIELDS or name in MOMENT_FIELDS:
                fields[name] = _as_field(name, old)
    if "countersigned_types" in fields:
        # Of the assessments' own dates, not the history's rows: a countersignature typed in
        # after a later one of its tool recorded no change, and one of another tool recorded
        # every tool on file then as its new value (fix37d).
        fields["countersigned_types"] = await countersigned_types_at(session, case.id, at)
    asserted = ASSERTED_FIELDS_SET & fields.keys()
    if asserted:
        history = await field_history(session, case.id)
        for name in asserted:
            found, value = asserted_at(history, name, at)
            if found:
                fields[name] = value
    return fields


async def derived_before(session: Any, case: Case, at: datetime, *,
                         own: bool = False) -> dict[str, Any]:
    """The case's derived fields (``on_register``) as an act at ``at`` found them: the old
    value of the first change of each dated after ``at`` (``own``: at or after it, the act's
    own change undone: a judgement already recorded, judged again), from the field history at
    its act times; empty when none is (attack 30a, A30a-6: a panel decision typed in after a
    lowering dated after the sitting was judged on the register the lowering left)."""
    table: Any = RecordChange.__table__  # type: ignore[attr-defined]
    conn = await session.connection()
    when = table.c.occurred_at >= at if own else table.c.occurred_at > at
    rows = (await conn.execute(
        sa.select(table.c.changes)
        .where(table.c.case_id == case.id, table.c.entity_type == "case",
               table.c.occurred_at.is_not(None), when)
        .order_by(table.c.occurred_at.desc(), table.c.recorded_at.desc(), table.c.id.desc())
    )).all()
    fields: dict[str, Any] = {}
    for (changes,) in rows:  # newest first: the oldest change after ``at`` says it
        moved = (changes or {}).get("on_register")
        if moved is not None:
            fields["on_register"] = bool(moved[0])
    return fields


class TimedChange(NamedTuple):
    """A change of the case's fields recorded with its act's time (:func:`note_case_act`)."""

    occurred_at: datetime
    id: uuid.UUID
    changes: dict[str, list[Any]]


async def changes_after(session: Any, case: Case, since: datetime) -> list[TimedChange]:
    """The case's changes of the fields the engine reads dated after ``since``, in time order
    (recording order on ties), each as ``case_changed`` names them (``facts.<name>``); no
    query when the case's latest change is not dated after ``since``."""
    changed = case.changed_at
    if changed is None or (changed.replace(tzinfo=UTC) if changed.tzinfo is None
                           else changed) <= since:
        return []
    table: Any = RecordChange.__table__  # type: ignore[attr-defined]
    conn = await session.connection()
    rows = (await conn.execute(
        sa.select(table.c.occurred_at, table.c.id, table.c.changes)
        .where(table.c.case_id == case.id, table.c.entity_type == "case",
               table.c.occurred_at.is_not(None), table.c.occurred_at > since)
        .order_by(table.c.occurred_at, table.c.recorded_at, table.c.id))).all()
    timed = []
    history = (await field_history(session, case.id)
               if any(ASSERTED_FIELDS_SET & (c or {}).keys() for _, _, c in rows) else [])
    for at, change_id, changes in rows:
        at = at.replace(tzinfo=UTC) if at.tzinfo is None else at
        named: dict[str, list[Any]] = {}
        for name, (old, new) in (changes or {}).items():
            if name in ASSERTED_FIELDS_SET:
                # What it was just before, read forwards (:data:`ASSERTED_FIELDS`).
                before = value_before(history, name, at)
                if before != _as_field(name, new):
                    named[name] = [before, _as_field(name, new)]
            elif name == "facts":
                old, new = old or {}, new or {}
                named.update({f"facts.{k}": [old.get(k), new.get(k)]
                              for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)})
            elif name in AS_OF_FIELDS and old != new:
                # (old and new alike: a dated PATCH of in_custody that stated where the child
                # already was, kept for the custody moves typed in after it; no change.)
                named[name] = [_as_field(name, old), _as_field(name, new)]
        if named:
            timed.append(TimedChange(at, change_id, named))
    return timed


def value_before(history: list[FieldChange], name: str, at: datetime) -> Any:
    """``name``'s value just before ``at`` (an :data:`ASSERTED_FIELDS` one, read forwards:
    the new value of its latest change before ``at``, the opening's if none)."""
    value = None
    for change in history:
        if not change.created and change.occurred_at >= at:
            break
        if name in change.changes:
            value = _as_field(name, change.changes[name][1])
    return value


# A back-dated act's derived fields at its own time (attack 30a, A30a-1): history rows of this
# entity type (the case's id) that only the timeline reads, forwards, with the case's fields
# (a rating, the register, custody: the value of the latest change at or before an instant).
# Every other reader (as_of, the act-time readers above) reads ``case`` rows only, so these
# change nothing but the timeline's field changes.
DERIVED_ENTITY = "derived"
DERIVED_FIELDS = frozenset({"ratings", "on_register", "in_custody", "contact_level", "priority",
                            "incoming_ratings"})
# A case's own fields a dated ``PATCH`` records at its date only, a later change of the field
# being on file (ATTACK35A-18): rows of :data:`DERIVED_ENTITY` too, and read forwards on the
# timeline (in_custody is among :data:`DERIVED_FIELDS` already; the MAPPA fields and the
# release date are :data:`ASSERTED_FIELDS`).
OVERTAKEN_FIELDS = frozenset({"csc_status", "volunteer_attached", "weapon_related", "facts"})


async def timeline_history(session: Any, case_id: uuid.UUID) -> list[FieldChange]:
    """The case's changes of its fields, the opening first, then in act-time order (recording
    order on ties), with the derived values back-dated acts asserted at their times."""
    table: Any = RecordChange.__table__  # type: ignore[attr-defined]
    conn = await session.connection()
    when = sa.func.coalesce(table.c.occurred_at, table.c.recorded_at)
    rows = (await conn.execute(
        sa.select(when, table.c.created, table.c.actor_sub, table.c.changes)
        .where(table.c.case_id == case_id, table.c.entity_id == case_id,
               table.c.entity_type.in_(("case", DERIVED_ENTITY)))
        .order_by(table.c.created.desc(), when, table.c.recorded_at, derived_last(table),
                  table.c.id))).all()
    return [FieldChange(at.replace(tzinfo=UTC) if at.tzinfo is None else at, bool(created),
                        actor, dict(changes or {})) for at, created, actor, changes in rows]


def json_value_at(history: list[FieldChange], name: str, at: datetime, *,
                  strictly: bool = False) -> Any:
    """``name``'s JSON value at ``at`` read forwards (the new value of its latest change at,
    or with ``strictly`` before, ``at``; the opening's if none)."""
    value = None
    for change in history:
        if not change.created and (change.occurred_at >= at if strictly
                                   else change.occurred_at > at):
            break
        if name in change.changes:
            value = change.changes[name][1]
    return value


async def note_derived_at(session: Any, case: Case, at: datetime,
                          values: dict[str, Any], until: datetime | None = None) -> None:
    """A back-dated act's derived ``values`` (of :data:`DERIVED_FIELDS`) at its time ``at``,
    for the timeline: each recorded at ``at`` where the history read forwards says otherwise,
    and the value the history held after it put back at the next change of the case's derived
    fields after ``at`` (the later act the field followed; ``until``: that act's time, when
    it recorded no change of its own, e.g. a custody event typed in first), unless that
    change sets it. The
    row's old is the case's value at recording (record time: nothing is changed now)."""
    history = await timeline_history(session, case.id)
    later = [until] if until is not None else sorted(
        {c.occurred_at for c in history if not c.created and c.occurred_at > at
         and DERIVED_FIELDS & c.changes.keys()})
    rows: dict[datetime, dict[str, list[Any]]] = {}
    for name, value in values.items():
        value = to_json(value)
        if json_value_at(history, name, at) == value:
            continue
        current = to_json(getattr(case, name))
        rows.setdefault(at, {})[name] = [current, value]
        if later:
            following = later[0]
            sets = any(name in c.changes for c in history
                       if not c.created and c.occurred_at == following)
            held = json_value_at(history, name, following)
            if not sets and held != value:
                rows.setdefault(following, {})[name] = [current, held]
    note_derived_rows(session, case, rows)


def derived_last(table: Any) -> Any:
    """SQL: 1 for a ``derived`` row, else 0: of the rows one write records at one instant (one
    ``recorded_at``: its unit of work's), the restated value follows the case's own row, which
    the write recorded first (:func:`app.domain.derived_history.restate_derived`)."""
    return sa.case((table.c.entity_type == DERIVED_ENTITY, 1), else_=0)


def note_derived_rows(session: Any, case: Case,
                      rows: dict[datetime, dict[str, list[Any]]]) -> None:
    """Add one ``derived`` history row of the case per instant of ``rows`` (field -> [the
    case's value at recording, the value at that instant])."""
    sync = getattr(session, "sync_session", session)
    for when, changes in sorted(rows.items()):
        session.add(RecordChange(
            service_id=case.service_id, case_id=case.id, entity_type=DERIVED_ENTITY,
            entity_id=case.id, recorded_at=utcnow(), actor_sub=actor_of(sync), created=False,
            changes=changes, occurred_at=when, actor_role=act_role(sync, case.id)))
