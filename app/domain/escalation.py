"""Overdue escalation: open steps past their due time get exactly one escalation step each.

A pass walks the overdue, not-yet-escalated steps service by service (in ``(service, due,
id)`` order, so a batch extends one audit chain, rarely two) and handles them in batches, one
transaction each. A batch locks its steps and their cases (``FOR UPDATE OF case, step SKIP
LOCKED`` on PostgreSQL, so several workers share the work without waiting on or repeating each
other; on SQLite the lock is a no-op and the database's write lock serialises workers) and the
other overdue steps of the cases it locked with them (a walk that skips a step because another
holds its case relies on the holder to escalate it), then, set-wise with no ORM object per
step: one multi-row
``INSERT ... ON CONFLICT DO NOTHING RETURNING`` creates the escalation steps (the unique
open-step index on (case, code, subject) is the last guard against a duplicate), one ``UPDATE``
stamps ``escalated_at``, one multi-row ``INSERT`` writes the outgoing events and, last, one
writes the audit entries already sealed into their service's hash chain under the chain's lock
(:func:`app.domain.audit.append_sealed`): all in the batch's transaction. On PostgreSQL
a pass runs two such walks at once in its process (:data:`WALKERS`), as two workers would.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import cache
from typing import Any

import sqlalchemy as sa
import structlog
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlalchemy.orm import aliased
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.core import clock
from app.core.config import get_settings
from app.core.loop import every
from app.core.security import Principal
from app.domain.absences import StaffAbsence
from app.domain.audit import append_sealed, audit_row, record_audit
from app.domain.cases_table import Case
from app.domain.common import iso_utc, new_id, utcnow
from app.domain.feeds import purge_expired_keys
from app.domain.history import bump_case_versions
from app.domain.outbox import OutboxEvent, emit
from app.domain.policy_lock import try_lock_policy_shared
from app.domain.steps import (
    ESCALATION_CODE,
    RESTRICTED_ACTION_ESCALATION,
    Step,
    StepStatus,
    owed_by,
)
from app.workflows.calendar import london_date, london_text
from app.workflows.packs import Pack, load_all_packs
from app.workflows.vocabulary import Escalation

WORKER = Principal(sub="system:escalation-worker", roles=frozenset({"system"}), service=None)
WORKER_ROLE = "system"
# Steps per transaction. The INSERTs are executemany (SQLAlchemy's insertmanyvalues pages them
# into multi-row statements within each database's bind-parameter limit), so any size works.
BATCH_SIZE = 1000
# Walks of one pass in one process on PostgreSQL (:func:`run_pass`): two keep a 2-core
# machine's database busy while the other walk builds its rows in Python.
WALKERS = 2
log = structlog.get_logger("yjrisk.escalation")

STEP = Step.__table__  # type: ignore[attr-defined]
CASE = Case.__table__  # type: ignore[attr-defined]
OUTBOX = OutboxEvent.__table__  # type: ignore[attr-defined]
ABSENCE = StaffAbsence.__table__  # type: ignore[attr-defined]
# The columns of an overdue step an escalation is made from.
_OVERDUE_COLUMNS = (
    STEP.c.id, STEP.c.service_id, STEP.c.case_id, STEP.c.code, STEP.c.rule_id, STEP.c.title,
    STEP.c.actor, STEP.c.assignee_id, STEP.c.due_at, STEP.c.policy_pack,
    STEP.c.policy_version, STEP.c.policy_ref, STEP.c.owner_role,
)
# Its case's line manager, access mode and priority (read with the step by both locking
# queries).
_CASE_COLUMNS = (CASE.c.line_manager_id, CASE.c.access_mode, CASE.c.priority)


# Who takes an overdue step's escalation is the pack's (``[escalation]``, e.g. Somerset: the
# line manager; the duty manager over a line manager; the senior managers who "take
# escalations", 3.3, over a chair's or the panel administrator's step). A step of a pack no
# longer loaded falls back to the line manager: an escalation is never dropped.
FALLBACK = Escalation()


@cache
def bundled_and_folder_packs() -> Mapping[str, Pack]:
    """The packs of this process's settings (bundled and ``YJ_PACKS_DIR``), loaded once."""
    return load_all_packs(get_settings().packs_dir)


def escalation_actor(overdue: Any, packs: Mapping[str, Pack]) -> str:
    """Who takes the escalation of an overdue step (anything with ``policy_pack`` and
    ``actor``: a :class:`Step` or a row of :func:`overdue_batch`), by the pack it was made
    under."""
    pack = packs.get(overdue.policy_pack)
    return (pack.escalation if pack is not None else FALLBACK).target(owed_by(overdue))


def escalation_row(
    overdue: Any, now: datetime, raised_at: datetime, packs: Mapping[str, Pack],
    absent: frozenset[tuple[uuid.UUID, str]] = frozenset(),
) -> dict[str, Any]:
    """The ``step`` row escalating one overdue step, a row of :func:`overdue_batch`: urgent,
    undated, for the pack's escalation actor (assigned to the case's line manager when that is
    the actor), traceable to the overdue step's policy ref. The columns it leaves out (the due
    time and deadline form, recurrence, completion, satisfaction, ``escalated_at``) have no
    default and are null: ~10 fewer bound values a row to process."""
    actor = escalation_actor(overdue, packs)
    away = ""
    if actor == "line_manager" and (overdue.service_id, overdue.line_manager_id) in absent:
        # The case's line manager is on recorded leave today: the chase goes where their own
        # duties escalate (Somerset 3.1, 4.6: "if their line manager is unavailable, the duty
        # manager"), not to an inbox nobody reads until they are back (attack pass 8, N3).
        pack = packs.get(overdue.policy_pack)
        actor = (pack.escalation if pack is not None else FALLBACK).target("line_manager")
        away = f" The line manager ({overdue.line_manager_id}) is on recorded leave."
    due = london_text(overdue.due_at) if overdue.due_at else "?"
    title = f"Escalate overdue step: {overdue.title}"[:300]
    if overdue.actor == "action_owner" and getattr(overdue, "access_mode", None) is not None:
        # The panel's free text stays on the case: the escalation reaches role holders the
        # restriction shuts out as a bare duty (attack pass 8: else nobody able to act;
        # an excluded list too, ATTACK30B-15).
        title = RESTRICTED_ACTION_ESCALATION
    return {
        "id": new_id(), "service_id": overdue.service_id, "case_id": overdue.case_id,
        "code": ESCALATION_CODE, "rule_id": overdue.rule_id,
        "title": title, "actor": actor,
        "assignee_id": overdue.line_manager_id if actor == "line_manager" else None,
        "urgent": True, "awaiting_panel_date": False,
        # A priority case's steps are priority "at all stages" (Somerset 3.2.4), the chase of
        # an overdue one included (attack 20, A20-7); cleared with the case's, as its others.
        "priority": bool(getattr(overdue, "priority", False)),
        "status": StepStatus.open, "policy_pack": overdue.policy_pack,
        "policy_version": overdue.policy_version, "policy_ref": overdue.policy_ref,
        "subject_id": overdue.id,
        "note": (f"{overdue.code} ({overdue.actor}, assignee {overdue.assignee_id or 'any'}) "
                 f"was due {due} and is still open.{away}"),
        "created_at": now, "raised_at": raised_at, "reasons": [],
    }


# PostgreSQL: the escalation rows go in as one array per column (``unnest``), encoded by
# asyncpg, instead of ~20 bound values a row that SQLAlchemy processes one by one; the columns
# every escalation shares are single values. Same rows, same ON CONFLICT DO NOTHING, the same
# RETURNING as the executemany SQLite keeps.
_PER_ROW = (("id", "uuid"), ("service_id", "uuid"), ("case_id", "uuid"), ("rule_id", "varchar"),
            ("title", "varchar"), ("actor", "varchar"), ("assignee_id", "varchar"),
            ("policy_pack", "varchar"), ("policy_version", "varchar"),
            ("policy_ref", "varchar"), ("subject_id", "uuid"), ("note", "varchar"),
            ("priority", "boolean"))
_SHARED = ("code", "urgent", "awaiting_panel_date", "status", "created_at", "raised_at",
           "reasons")
_UNNEST_INSERT = sa.text(
    f"INSERT INTO step ({', '.join(c for c, _ in _PER_ROW)}, {', '.join(_SHARED)}) "
    f"SELECT u.*, {', '.join(':' + c for c in _SHARED)} "
    f"FROM unnest({', '.join(f'CAST(:{c}s AS {t}[])' for c, t in _PER_ROW)}) "
    f"AS u({', '.join(c for c, _ in _PER_ROW)}) "
    "ON CONFLICT DO NOTHING RETURNING subject_id"
).bindparams(
    *(sa.bindparam(f"{c}s", type_=postgresql.ARRAY(STEP.c[c].type)) for c, _ in _PER_ROW),
    *(sa.bindparam(c, type_=STEP.c[c].type) for c in _SHARED),
)


def _unnest_params(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The parameters of :data:`_UNNEST_INSERT` for rows of :func:`escalation_row`."""
    params: dict[str, Any] = {f"{c}s": [row[c] for row in rows] for c, _ in _PER_ROW}
    params.update({c: rows[0][c] for c in _SHARED})
    return params


Position = tuple[uuid.UUID, datetime, uuid.UUID]


async def locked_now(session: AsyncSession) -> datetime:
    """The transaction's instant, taken once it may lock what it escalates or retires without
    waiting: SQLite's database write lock taken first (a no-op UPDATE; it waits for the writer
    in flight), PostgreSQL's row locks are ``SKIP LOCKED`` and never wait. A write that
    committed before is dated before, its chases after it (A23a-1)."""
    connection = await session.connection()
    if connection.dialect.name == "sqlite":
        await connection.execute(sa.update(CASE).where(CASE.c.id.is_(None))
                                 .values(id=CASE.c.id))
    return utcnow()


async def overdue_batch(
    session: AsyncSession,
    now: datetime | None,
    limit: int = BATCH_SIZE,
    service_id: uuid.UUID | None = None,
    after: Position | None = None,
) -> Sequence[Any]:
    """Lock up to ``limit`` open, overdue, unescalated steps that no other worker holds, in
    ``(service_id, due_at, id)`` order after ``after``: rows of the step's columns an
    escalation needs plus its case's ``line_manager_id``.

    The case rows are locked with their steps (``FOR UPDATE OF case, step SKIP LOCKED``): every
    write locks its case before it touches the case's steps, and an escalation step's foreign
    key needs a share lock on its case, so a pass that locked only steps would wait for a case
    whose writer waits for the pass's step: a deadlock, and PostgreSQL kills one of them (the
    practitioner's write or the whole batch). Taking the case in the same statement, and
    skipping a case a write holds (its steps wait for the next pass), keeps one lock order.
    SQLite has no row locks: the pass takes the database's write lock first (a no-op UPDATE),
    so it cannot read a step that a write then closes before the pass escalates it.
    ``now`` None: the transaction's instant, taken once that lock is held
    (:func:`locked_now`)."""
    connection = await session.connection()
    if connection.dialect.name == "sqlite":
        await connection.execute(sa.update(CASE).where(CASE.c.id.is_(None))
                                 .values(id=CASE.c.id))
    now = now or utcnow()
    query = (
        sa.select(*_OVERDUE_COLUMNS, *_CASE_COLUMNS)
        .select_from(STEP).join(CASE, CASE.c.id == STEP.c.case_id)
        .where(
            STEP.c.status == StepStatus.open,
            STEP.c.escalated_at.is_(None),
            # overdue_at: the due time, or for a step due "immediately" the end of that
            # working day (never earlier than due_at, so the due_at range keeps the index
            # usable); steps written without it fall back to their due time.
            STEP.c.due_at < now,
            sa.func.coalesce(STEP.c.overdue_at, STEP.c.due_at) < now,
            STEP.c.code != ESCALATION_CODE,
        )
    )
    if service_id is not None:
        query = query.where(STEP.c.service_id == service_id)
    if after is not None:
        key = (STEP.c.service_id, STEP.c.due_at, STEP.c.id)
        bound = (sa.bindparam(None, v, type_=c.type) for c, v in zip(key, after, strict=True))
        query = query.where(sa.tuple_(*key) > sa.tuple_(*bound))
    query = (query.order_by(STEP.c.service_id, STEP.c.due_at, STEP.c.id).limit(limit)
             .with_for_update(skip_locked=True, of=(CASE, STEP)))
    return (await connection.execute(query)).all()


async def overdue_siblings(
    session: AsyncSession, now: datetime, batch: Sequence[Any]
) -> Sequence[Any]:
    """The other open, overdue, unescalated steps of the cases a locked batch holds (rows as
    :func:`overdue_batch`'s), locked too: whoever holds a case escalates all of its overdue
    steps.

    Without them a step could miss its pass. :func:`overdue_batch` skips a step whose *case*
    another walk holds for one of the case's other steps (``SKIP LOCKED`` skips the joined row),
    and that walk's batch may end before the step, or have passed it already: seen on
    PostgreSQL under load, three racing passes escalated 11 of 12 overdue steps and left the
    12th to the next pass (a cron ``yjrisk tick`` runs two walks itself). The case is locked
    first (``OF case, step`` locks in that order), so a step of a case this batch holds is
    locked by no one else: the lock here never waits."""
    cases = {overdue.case_id for overdue in batch}
    if not cases:
        return []
    taken = [overdue.id for overdue in batch]
    query = (
        sa.select(*_OVERDUE_COLUMNS, *_CASE_COLUMNS)
        .select_from(STEP).join(CASE, CASE.c.id == STEP.c.case_id)
        .where(
            STEP.c.case_id.in_(cases), STEP.c.id.not_in(taken),
            STEP.c.status == StepStatus.open,
            STEP.c.escalated_at.is_(None),
            STEP.c.due_at < now,
            sa.func.coalesce(STEP.c.overdue_at, STEP.c.due_at) < now,
            STEP.c.code != ESCALATION_CODE,
        )
        .order_by(STEP.c.service_id, STEP.c.due_at, STEP.c.id)
        .with_for_update(skip_locked=True, of=STEP)
    )
    return (await (await session.connection()).execute(query)).all()


async def _absent_managers(
    connection: Any, batch: Sequence[Any], now: datetime
) -> frozenset[tuple[uuid.UUID, str]]:
    """(service, staff id) of the batch's cases' line managers on recorded leave on ``now``'s
    Europe/London date (one query a batch)."""
    managers = {overdue.line_manager_id for overdue in batch if overdue.line_manager_id}
    if not managers:
        return frozenset()
    today = london_date(now)
    rows = await connection.execute(
        sa.select(ABSENCE.c.service_id, ABSENCE.c.staff_id).where(
            ABSENCE.c.service_id.in_({overdue.service_id for overdue in batch}),
            ABSENCE.c.staff_id.in_(managers),
            ABSENCE.c.starts_on <= today, ABSENCE.c.ends_on >= today))
    return frozenset((row[0], row[1]) for row in rows.all())


async def escalate_batch(
    session: AsyncSession, batch: Sequence[Any], now: datetime,
    packs: Mapping[str, Pack] | None = None,
) -> int:
    """Escalate a locked batch of overdue steps (rows of :func:`overdue_batch`) and the other
    overdue steps of its cases (:func:`overdue_siblings`) set-wise, in the session's
    transaction; answer how many escalations were created.

    One multi-row ``INSERT ... ON CONFLICT DO NOTHING RETURNING`` creates the escalations (the
    unique open-step index drops any duplicate), one ``UPDATE`` stamps ``escalated_at`` on the
    whole batch, one multi-row ``INSERT`` writes the outgoing ``step.escalated`` events of the
    escalations actually created and, last (the audit chains' locks are then held to the
    commit), one writes their audit entries, sealed. The caller commits.
    """
    # Whose escalation it is reads the service's absences: held against a write changing them
    # (app.domain.policy_lock). The rows are already locked, so the lock is only tried: a
    # service whose state is being changed waits for the next pass, as a case a write holds.
    held = await try_lock_policy_shared(session, {overdue.service_id for overdue in batch})
    batch = [overdue for overdue in batch if overdue.service_id in held]
    if not batch:
        return 0
    packs = packs if packs is not None else bundled_and_folder_packs()
    batch = [*batch, *await overdue_siblings(session, now, batch)]
    raised_at = utcnow()
    connection = await session.connection()
    absent = await _absent_managers(connection, batch, now)
    rows = [escalation_row(overdue, now, raised_at, packs, absent) for overdue in batch]
    if connection.dialect.name == "postgresql":
        inserted = await connection.execute(_UNNEST_INSERT, _unnest_params(rows))
    else:
        inserted = await connection.execute(
            sqlite.insert(STEP).on_conflict_do_nothing().returning(STEP.c.subject_id), rows)
    created = {r[0] for r in inserted.all()}
    await connection.execute(
        sa.update(STEP).where(STEP.c.id.in_([overdue.id for overdue in batch]))
        .values(escalated_at=now))
    if not created:
        return 0
    # The chase is one more open step of its case: the case's ETag (its version) moves, as on
    # a write that adds a step (attack 20, A20-5). The cases are locked (``OF case, step``).
    await connection.execute(
        sa.update(CASE).where(CASE.c.id.in_(
            {overdue.case_id for overdue in batch if overdue.id in created}))
        .values(version=CASE.c.version + 1))
    events, entries = [], []
    emitted_at = utcnow()
    for overdue, row in zip(batch, rows, strict=True):
        if overdue.id not in created:
            continue
        entries.append(audit_row(
            WORKER, "step.escalate", "step", row["id"],
            service_id=overdue.service_id, case_id=overdue.case_id, role=WORKER_ROLE, at=now,
            change={"overdue_step_id": str(overdue.id), "code": overdue.code,
                    "due_at": iso_utc(overdue.due_at) if overdue.due_at else None,
                    "escalated_to": row["actor"]},
        ))
        events.append({
            "id": new_id(), "service_id": overdue.service_id, "type": "step.escalated",
            "entity_id": row["id"], "created_at": emitted_at, "dispatched_at": None,
            "payload": {"case_id": str(overdue.case_id), "overdue_step_id": str(overdue.id),
                        "code": overdue.code, "actor": row["actor"]},
        })
    await connection.execute(sa.insert(OUTBOX), events)
    # Last: the audit chains' locks are held from here to the commit.
    await append_sealed(session, entries)
    return len(created)


async def retire_stale(
    session: AsyncSession, now: datetime, service_id: uuid.UUID | None = None
) -> int:
    """Supersede open escalations whose overdue step has since been closed (flush only); each
    is audited and announced (``step.superseded``), as its escalation was, and its case's
    version (ETag) moves: its open steps changed (attack 20, A20-5). The chases and their
    cases are locked together (``FOR UPDATE OF step, case SKIP LOCKED`` on PostgreSQL: a case
    a write holds waits for the next pass, as in :func:`overdue_batch`)."""
    overdue = aliased(Step)
    query = (
        select(Step)
        .join(overdue, col(overdue.id) == col(Step.subject_id))
        .join(Case, col(Case.id) == col(Step.case_id))
        .where(Step.code == ESCALATION_CODE, Step.status == StepStatus.open,
               overdue.status != StepStatus.open)
    )
    if service_id is not None:
        query = query.where(Step.service_id == service_id)
    rows = await session.exec(query.with_for_update(skip_locked=True, of=(Step, Case)))
    stale = list(rows.all())
    await bump_case_versions(session, {step.case_id for step in stale})
    for step in stale:
        step.status = StepStatus.superseded
        step.completed_at = now
        step.note = f"{step.note}\nSuperseded: the overdue step was closed."
        session.add(step)
        await record_audit(
            session, WORKER, "step.supersede", "step", step.id, service_id=step.service_id,
            case_id=step.case_id, role=WORKER_ROLE, at=now,
            change={"code": step.code, "status": "superseded"},
        )
        await emit(session, "step.superseded", step.id, service_id=step.service_id,
                   payload={"case_id": str(step.case_id), "step_id": str(step.id),
                            "code": step.code})
    await session.flush()
    return len(stale)


async def run_pass(
    factory: async_sessionmaker[AsyncSession],
    now: datetime | None = None,
    *,
    service_id: uuid.UUID | None = None,
    batch_size: int = BATCH_SIZE,
    packs: Mapping[str, Pack] | None = None,
    walkers: int | None = None,
) -> int:
    """One pass: escalate every overdue step, a batch per transaction; answer how many.

    ``walkers`` walks (default :data:`WALKERS` on PostgreSQL, one on SQLite) share the work
    in this process, each with its own session and transactions, exactly as several workers
    do: each batch locks its steps ``SKIP LOCKED``, so a step is in one walk's batch only,
    and one walk's database work overlaps the other's Python (and the other's statements, on
    a second core). SQLite has one writer at a time: one walk.
    """
    # ``now`` given: the pass is run as of then (tests, a demo's clock). Else each transaction
    # takes its own instant once it holds its locks (:func:`locked_now`): a chase raised or
    # retired on a case a write held is dated after that write, as its audit entry and event
    # follow it (A23a-1; a pass's start time dated every batch before the writes it waited
    # for or came after).
    with clock.one_instant(own=True):
        async with factory() as session, session.begin():
            at = now or await locked_now(session)
            await retire_stale(session, at, service_id)
            if service_id is None:
                await purge_expired_keys(session, at)  # feed Idempotency-Keys past their TTL
            postgres = (await session.connection()).dialect.name == "postgresql"
    count = max(1, walkers if walkers is not None else WALKERS if postgres else 1)
    try:
        async with asyncio.TaskGroup() as group:  # one walk failing cancels the others
            walks = [group.create_task(_walk(factory, now, service_id, batch_size, packs))
                     for _ in range(count)]
    except BaseExceptionGroup as failed:  # the walk's own error, as one walk would raise it
        raise failed.exceptions[0] from None
    total = sum(walk.result() for walk in walks)
    if total:
        log.info("escalation.pass", escalated=total)
    return total


async def _walk(
    factory: async_sessionmaker[AsyncSession], now: datetime | None,
    service_id: uuid.UUID | None, batch_size: int, packs: Mapping[str, Pack] | None,
) -> int:
    """Escalate batches until one comes back short; answer how many escalations.

    The batches walk ``(service_id, due_at, id)`` forward from where the last one ended, so a
    walk reads each overdue step once; steps another walk or worker holds, or whose case it
    holds, are skipped (it escalates them with the case's other overdue steps,
    :func:`overdue_siblings`, or the next pass does if it rolled back; a case a practitioner's
    write holds waits for the next pass): a short batch means every step after this walk's
    place was either taken here or is someone else's.
    """
    total = 0
    after: Position | None = None
    while True:
        with clock.one_instant(own=True):
            async with factory() as session, session.begin():
                batch = await overdue_batch(session, now, batch_size, service_id, after)
                # The instant overdue_batch took once it held the write lock (unless given).
                total += await escalate_batch(session, batch, now or utcnow(), packs)
        if len(batch) < batch_size:
            return total
        last = batch[-1]
        after = (last.service_id, last.due_at, last.id)


async def run_forever(
    factory: async_sessionmaker[AsyncSession],
    interval_seconds: float,
    stop: asyncio.Event | None = None,
) -> None:
    """The worker loop: a pass every ``interval_seconds`` until ``stop`` is set."""
    await every(interval_seconds, lambda: run_pass(factory), stop or asyncio.Event(),
                "escalation.pass_failed")
