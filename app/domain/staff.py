"""Staff absences and what they change: the in-week deadlines of the absent worker's open steps.

Wokingham "Internal and External Controls": an incident known "on a Friday or the last day before
a prolonged absence (for example, the last working day before annual leave)" is recorded and
reported "before the end of the working week". An absence recorded after such a step was raised
brings its deadline forward to the worker's last working day before the absence (never later).

Somerset 3.1: "If the line manager is unavailable, the duty manager will undertake these
functions": an absence recorded for a line manager while one of their open steps whose rule line
names a stand-in (``stand_in``) is still to be done (the absence falls between today and its due
day; today, for an undated step) gives the step to the stand-in role, as if the absence had been
known when it was made (:func:`app.domain.policy.stand_in_if_away`). An absence moved, shortened
or cancelled gives back what stood in for it, and leave starting or ending as days pass is kept
true by :mod:`app.domain.stand_ins`.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.core.security import Principal
from app.domain import policy, stand_ins
from app.domain.absences import (
    AbsenceChange,
    AbsenceCreate,
    StaffAbsence,
    absences_of,
    cancel_absence,
    change_absence,
    record_absence,
)
from app.domain.access import lock_case
from app.domain.audit import record_audit
from app.domain.common import iso_utc
from app.domain.services import Service
from app.domain.steps import Step, StepStatus
from app.workflows.calendar import end_of_day, london_date
from app.workflows.deadlines import in_week_due, prolonged_absences

IN_WEEK = "+1wd-in-week"
BROUGHT_FORWARD = "Brought forward to the last working day before"


async def record_staff_absence(
    session: AsyncSession, principal: Principal, staff_id: str, body: AbsenceCreate,
    ctx: policy.PolicyContext,
) -> tuple[StaffAbsence, list[Step]]:
    """Record the absence (managers; 403 otherwise) and bring forward the worker's open in-week
    steps it cuts short; the re-dated steps (audited, one transaction)."""
    absence = await record_absence(session, principal, staff_id, body)
    service = await session.get(Service, absence.service_id)
    assert service is not None
    in_week = await _in_week_steps(session, service, staff_id)
    moved = []
    for step in in_week:
        await session.refresh(step)
        if step.status == StepStatus.open and await _bring_forward(session, ctx, step, absence):
            await record_audit(
                session, principal, "step.redate", "step", step.id,
                service_id=step.service_id, case_id=step.case_id,
                change={"code": step.code, "due_at": iso_utc(step.due_at) if step.due_at
                        else None, "absence_id": str(absence.id)})
            moved.append(step)
    moved += await stand_ins.settle_staff(
        session, principal, None, ctx, service, staff_id,
        why=f"absence {absence.id} recorded")
    await session.flush()
    return absence, moved


async def change_staff_absence(
    session: AsyncSession, principal: Principal, staff_id: str, absence_id: uuid.UUID,
    body: AbsenceChange, ctx: policy.PolicyContext,
) -> tuple[StaffAbsence, list[Step]]:
    """Move, shorten or extend a recorded absence (back early, leave changed), then settle the
    worker's stand-in steps: what stood in for leave that no longer covers them comes back,
    what the new dates cover stands in (Somerset 3.1); one transaction."""
    absence, before = await change_absence(session, principal, staff_id, absence_id, body)
    return absence, await _settle(session, principal, ctx, absence, (
        f"absence {absence.id} changed"))


async def cancel_staff_absence(
    session: AsyncSession, principal: Principal, staff_id: str, absence_id: uuid.UUID,
    ctx: policy.PolicyContext,
) -> list[Step]:
    """Cancel a recorded absence, then give back the steps that stood in for it (Somerset
    3.1); one transaction. The steps moved."""
    absence = await cancel_absence(session, principal, staff_id, absence_id)
    return await _settle(session, principal, ctx, absence, (
        f"absence {absence.id} cancelled"))


async def _settle(
    session: AsyncSession, principal: Principal, ctx: policy.PolicyContext,
    absence: StaffAbsence, why: str,
) -> list[Step]:
    """After an absence changed or was cancelled: the worker's in-week deadlines follow their
    absences as they now are (brought forward, or put back when the absence that brought them
    forward no longer cuts the week short), and so do their stand-in steps."""
    service = await session.get(Service, absence.service_id)
    assert service is not None
    in_week = await _in_week_steps(session, service, absence.staff_id)
    moved = []
    for step in in_week:
        await session.refresh(step)
        if step.status == StepStatus.open and await _follow_absences(session, ctx, step, why):
            await record_audit(
                session, principal, "step.redate", "step", step.id,
                service_id=step.service_id, case_id=step.case_id, reason=why,
                change={"code": step.code, "due_at": iso_utc(step.due_at) if step.due_at
                        else None, "absence_id": str(absence.id)})
            moved.append(step)
    moved += await stand_ins.settle_staff(session, principal, None, ctx, service,
                                          absence.staff_id, why=why)
    await session.flush()
    return moved


async def _in_week_steps(session: AsyncSession, service: Service, staff_id: str) -> list[Step]:
    """The worker's open dated in-week steps, every case this write may touch (theirs, and
    those where they hold a role a step stands in from) locked first, in case-id order: one
    lock order, as any other write that locks several cases."""
    rows = await session.exec(select(Step).where(
        Step.service_id == service.id, Step.assignee_id == staff_id,
        Step.status == StepStatus.open, Step.deadline_form == IN_WEEK,
        col(Step.due_at).is_not(None)).order_by(col(Step.case_id)))
    in_week = list(rows.all())
    for case_id in sorted({s.case_id for s in in_week}
                          | set(await stand_ins.staff_cases(session, service.id, staff_id))):
        await lock_case(session, case_id)
    return in_week


async def _follow_absences(
    session: AsyncSession, ctx: policy.PolicyContext, step: Step, why: str
) -> bool:
    """Re-date one in-week step by the worker's absences as they now are: sooner when one cuts
    its week short, later (never past the week's own end) when the absence that brought it
    forward was shortened, moved or cancelled; whether it moved."""
    counted = _counted_from(step)
    if counted is None or step.due_at is None or step.assignee_id is None:
        return False
    day = london_date(counted)
    absences = await absences_of(session, step.service_id, step.assignee_id, day)
    due = end_of_day(in_week_due(day, ctx.calendar, absences))
    brought_forward = BROUGHT_FORWARD in (step.note or "")
    if due == step.due_at or (due > step.due_at and not brought_forward):
        return False
    word = "Brought forward" if due < step.due_at else "Put back"
    step.due_at = due
    step.overdue_at = policy.overdue_at_for(due, step.urgent, ctx.calendar)
    step.note = "\n".join(x for x in (step.note, f"{word}: {why}.") if x)
    session.add(step)
    return True


async def _bring_forward(
    session: AsyncSession, ctx: policy.PolicyContext, step: Step, absence: StaffAbsence
) -> bool:
    """Re-date one in-week step to the last working day before the absence, if sooner."""
    counted = _counted_from(step)
    if counted is None or step.due_at is None:
        return False
    day = london_date(counted)
    service = await session.get(Service, absence.service_id)
    assert service is not None
    pack = ctx.pack_for(service, at=step.raised_at)
    absences = prolonged_absences(
        await absences_of(session, absence.service_id, absence.staff_id, day),
        pack.prolonged_absence_working_days, ctx.calendar)
    due = end_of_day(in_week_due(day, ctx.calendar, absences))
    if due >= step.due_at:
        return False
    step.due_at = due
    step.overdue_at = policy.overdue_at_for(due, step.urgent, ctx.calendar)
    step.note = "\n".join(x for x in (step.note, (
        f"{BROUGHT_FORWARD} {absence.staff_id}'s absence from "
        f"{absence.starts_on.isoformat()}.")) if x)
    session.add(step)
    return True


def _counted_from(step: Step) -> datetime | None:
    for reason in step.reasons or ():
        value = reason.get("counted_from") or reason.get("at")
        if value:
            return datetime.fromisoformat(str(value))
    return None
