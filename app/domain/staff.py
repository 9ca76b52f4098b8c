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
from app.workflows.deadlines import in_week_due

IN_WEEK = "+1wd-in-week"


async def record_staff_absence(
    session: AsyncSession, principal: Principal, staff_id: str, body: AbsenceCreate,
    ctx: policy.PolicyContext,
) -> tuple[StaffAbsence, list[Step]]:
    """Record the absence (managers; 403 otherwise) and bring forward the worker's open in-week
    steps it cuts short; the re-dated steps (audited, one transaction)."""
    absence = await record_absence(session, principal, staff_id, body)
    rows = await session.exec(select(Step).where(
        Step.service_id == absence.service_id, Step.assignee_id == staff_id,
        Step.status == StepStatus.open, Step.deadline_form == IN_WEEK,
        col(Step.due_at).is_not(None)).order_by(col(Step.case_id)))
    moved = []
    for step in rows.all():
        await lock_case(session, step.case_id)
        await session.refresh(step)
        if step.status == StepStatus.open and await _bring_forward(session, ctx, step, absence):
            await record_audit(
                session, principal, "step.redate", "step", step.id,
                service_id=step.service_id, case_id=step.case_id,
                change={"code": step.code, "due_at": iso_utc(step.due_at) if step.due_at
                        else None, "absence_id": str(absence.id)})
            moved.append(step)
    service = await session.get(Service, absence.service_id)
    assert service is not None
    moved += await stand_ins.settle_staff(
        session, principal, None, ctx, service, staff_id,
        why=f"absence {absence.id} recorded, {absence.starts_on.isoformat()} to "
            f"{absence.ends_on.isoformat()}")
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
        f"absence {absence.id} changed from {before[0].isoformat()} to {before[1].isoformat()}"
        f" to {absence.starts_on.isoformat()} to {absence.ends_on.isoformat()}"))


async def cancel_staff_absence(
    session: AsyncSession, principal: Principal, staff_id: str, absence_id: uuid.UUID,
    ctx: policy.PolicyContext,
) -> list[Step]:
    """Cancel a recorded absence, then give back the steps that stood in for it (Somerset
    3.1); one transaction. The steps moved."""
    absence = await cancel_absence(session, principal, staff_id, absence_id)
    return await _settle(session, principal, ctx, absence, (
        f"absence {absence.id} ({absence.starts_on.isoformat()} to "
        f"{absence.ends_on.isoformat()}) cancelled"))


async def _settle(
    session: AsyncSession, principal: Principal, ctx: policy.PolicyContext,
    absence: StaffAbsence, why: str,
) -> list[Step]:
    service = await session.get(Service, absence.service_id)
    assert service is not None
    moved = await stand_ins.settle_staff(session, principal, None, ctx, service,
                                         absence.staff_id, why=why)
    await session.flush()
    return moved


async def _bring_forward(
    session: AsyncSession, ctx: policy.PolicyContext, step: Step, absence: StaffAbsence
) -> bool:
    """Re-date one in-week step to the last working day before the absence, if sooner."""
    counted = _counted_from(step)
    if counted is None or step.due_at is None:
        return False
    day = london_date(counted)
    absences = await absences_of(session, absence.service_id, absence.staff_id, day)
    due = end_of_day(in_week_due(day, ctx.calendar, absences))
    if due >= step.due_at:
        return False
    step.due_at = due
    step.overdue_at = policy.overdue_at_for(due, step.urgent, ctx.calendar)
    step.note = "\n".join(x for x in (step.note, (
        f"Brought forward to the last working day before {absence.staff_id}'s absence from "
        f"{absence.starts_on.isoformat()}.")) if x)
    session.add(step)
    return True


def _counted_from(step: Step) -> datetime | None:
    for reason in step.reasons or ():
        value = reason.get("counted_from") or reason.get("at")
        if value:
            return datetime.fromisoformat(str(value))
    return None
