"""Overdue escalation: open steps past their due time get exactly one escalation step each.

A pass locks a batch of overdue, not-yet-escalated steps (``FOR UPDATE SKIP LOCKED`` on
PostgreSQL, so several workers share the work without waiting on or repeating each other; on
SQLite the lock is a no-op and one worker runs), creates one ``escalate_overdue_step`` per step,
stamps ``escalated_at`` and writes the audit entries and outgoing events in the same transaction:
set-wise, a few statements per batch rather than per step.
The unique open-step index on (case, code, subject) is the last guard against a duplicate.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Mapping
from datetime import datetime
from functools import cache

import sqlalchemy as sa
import structlog
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlalchemy.orm import aliased
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.core.config import get_settings
from app.core.security import Principal
from app.domain.audit import record_audit
from app.domain.cases_table import Case
from app.domain.common import iso_utc, utcnow
from app.domain.feeds import purge_expired_keys
from app.domain.outbox import emit
from app.domain.steps import Step, StepStatus
from app.workflows.packs import Pack, load_all_packs
from app.workflows.vocabulary import Escalation

ESCALATION_CODE = "escalate_overdue_step"
WORKER = Principal(sub="system:escalation-worker", roles=frozenset({"system"}), service=None)
WORKER_ROLE = "system"
BATCH_SIZE = 500  # rows per transaction; x 25 columns stays under SQLite's 32,766 variables
log = structlog.get_logger("yjrisk.escalation")


# Who takes an overdue step's escalation is the pack's (``[escalation]``, e.g. Somerset: the
# line manager; the duty manager over a line manager; the senior managers who "take
# escalations", 3.3, over a chair's or the panel administrator's step). A step of a pack no
# longer loaded falls back to the line manager: an escalation is never dropped.
FALLBACK = Escalation()


@cache
def bundled_and_folder_packs() -> Mapping[str, Pack]:
    """The packs of this process's settings (bundled and ``YJ_PACKS_DIR``), loaded once."""
    return load_all_packs(get_settings().packs_dir)


def escalation_actor(overdue: Step, packs: Mapping[str, Pack]) -> str:
    """Who takes the escalation of an overdue step, by the pack the step was made under."""
    pack = packs.get(overdue.policy_pack)
    return (pack.escalation if pack is not None else FALLBACK).target(overdue.actor)


def escalation_for(
    overdue: Step, case: Case, now: datetime, packs: Mapping[str, Pack] | None = None
) -> Step:
    """The escalation step for an overdue step (traceable to the overdue step's policy ref)."""
    actor = escalation_actor(overdue, packs if packs is not None else bundled_and_folder_packs())
    due = iso_utc(overdue.due_at) if overdue.due_at else "?"
    return Step(
        service_id=overdue.service_id, case_id=overdue.case_id, code=ESCALATION_CODE,
        rule_id=overdue.rule_id, title=f"Escalate overdue step: {overdue.title}"[:300],
        actor=actor, assignee_id=case.line_manager_id if actor == "line_manager" else None,
        due_at=None, urgent=True, policy_pack=overdue.policy_pack,
        policy_version=overdue.policy_version,
        policy_ref=overdue.policy_ref, subject_id=overdue.id,
        note=(f"{overdue.code} ({overdue.actor}, assignee {overdue.assignee_id or 'any'}) "
              f"was due {due} and is still open."),
        created_at=now,
    )


async def overdue_batch(
    session: AsyncSession,
    now: datetime,
    limit: int = BATCH_SIZE,
    service_id: uuid.UUID | None = None,
) -> list[Step]:
    """Lock up to ``limit`` open, overdue, unescalated steps that no other worker holds."""
    query = select(Step).where(
        Step.status == StepStatus.open,
        # overdue_at: the due time, or for a step due "immediately" the end of that working
        # day (never earlier than due_at, so the due_at range keeps the queue index usable);
        # steps written without it fall back to their due time.
        col(Step.due_at) < now,
        sa.func.coalesce(col(Step.overdue_at), col(Step.due_at)) < now,
        col(Step.escalated_at).is_(None),
        Step.code != ESCALATION_CODE,
    )
    if service_id is not None:
        query = query.where(Step.service_id == service_id)
    query = query.order_by(col(Step.due_at), col(Step.id)).limit(limit)
    rows = await session.exec(query.with_for_update(skip_locked=True))
    return list(rows.all())


async def escalate_batch(
    session: AsyncSession, batch: list[Step], now: datetime,
    packs: Mapping[str, Pack] | None = None,
) -> int:
    """Escalate a locked batch of overdue steps set-wise (flush only); answer how many.

    One query loads the batch's cases, one multi-row ``INSERT ... ON CONFLICT DO NOTHING
    RETURNING`` creates the escalations (the unique open-step index drops any duplicate), one
    ``UPDATE`` stamps ``escalated_at`` on the whole batch, and the audit entries and outgoing
    events of the escalations actually created are flushed together with them.
    """
    if not batch:
        return 0
    case_ids = {step.case_id for step in batch}
    cases = {c.id: c for c in (await session.exec(
        select(Case).where(col(Case.id).in_(case_ids)))).all()}
    escalations = {step.id: escalation_for(step, cases[step.case_id], now, packs)
                   for step in batch}
    bind = session.get_bind()
    dialect_insert = postgresql.insert if bind.dialect.name == "postgresql" else sqlite.insert
    columns = [c.name for c in Step.__table__.columns]  # type: ignore[attr-defined]
    rows = [{name: getattr(e, name) for name in columns} for e in escalations.values()]
    connection = await session.connection()
    inserted = await connection.execute(
        dialect_insert(Step).values(rows).on_conflict_do_nothing()
        .returning(col(Step.subject_id)))
    created = {row[0] for row in inserted}
    await connection.execute(
        sa.update(Step).where(col(Step.id).in_([step.id for step in batch]))
        .values(escalated_at=now))
    for overdue in batch:
        if overdue.id not in created:
            continue
        escalation = escalations[overdue.id]
        await record_audit(
            session, WORKER, "step.escalate", "step", escalation.id,
            service_id=overdue.service_id, case_id=overdue.case_id, role=WORKER_ROLE, at=now,
            change={"overdue_step_id": str(overdue.id), "code": overdue.code,
                    "due_at": iso_utc(overdue.due_at) if overdue.due_at else None,
                    "escalated_to": escalation.actor},
        )
        await emit(session, "step.escalated", escalation.id, service_id=overdue.service_id,
                   payload={"case_id": str(overdue.case_id), "overdue_step_id": str(overdue.id),
                            "code": overdue.code, "actor": escalation.actor})
    await session.flush()
    return len(created)


async def retire_stale(
    session: AsyncSession, now: datetime, service_id: uuid.UUID | None = None
) -> int:
    """Supersede open escalations whose overdue step has since been closed (flush only)."""
    overdue = aliased(Step)
    query = (
        select(Step)
        .join(overdue, col(overdue.id) == col(Step.subject_id))
        .where(Step.code == ESCALATION_CODE, Step.status == StepStatus.open,
               overdue.status != StepStatus.open)
    )
    if service_id is not None:
        query = query.where(Step.service_id == service_id)
    rows = await session.exec(query.with_for_update(skip_locked=True, of=Step))
    stale = list(rows.all())
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
    await session.flush()
    return len(stale)


async def run_pass(
    factory: async_sessionmaker[AsyncSession],
    now: datetime | None = None,
    *,
    service_id: uuid.UUID | None = None,
    batch_size: int = BATCH_SIZE,
    packs: Mapping[str, Pack] | None = None,
) -> int:
    """One pass: escalate every overdue step, a batch per transaction; answer how many."""
    now = now or utcnow()
    total = 0
    async with factory() as session, session.begin():
        await retire_stale(session, now, service_id)
        if service_id is None:
            await purge_expired_keys(session, now)  # feed Idempotency-Keys past their TTL
    while True:
        async with factory() as session, session.begin():
            batch = await overdue_batch(session, now, batch_size, service_id)
            total += await escalate_batch(session, batch, now, packs)
        if len(batch) < batch_size:
            break
    if total:
        log.info("escalation.pass", escalated=total)
    return total


async def run_forever(
    factory: async_sessionmaker[AsyncSession],
    interval_seconds: float,
    stop: asyncio.Event | None = None,
) -> None:
    """The worker loop: a pass every ``interval_seconds`` until ``stop`` is set."""
    stop = stop or asyncio.Event()
    while not stop.is_set():
        try:
            await run_pass(factory)
        except Exception:  # noqa: BLE001 - a failed pass is retried next interval
            log.exception("escalation.pass_failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval_seconds)
