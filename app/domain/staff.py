"""Staff absences and what they change: the in-week deadlines of the absent worker's open steps.

Wokingham "Internal and External Controls": an incident known "on a Friday or the last day before
a prolonged absence (for example, the last working day before annual leave)" is recorded and
reported "before the end of the working week". An absence recorded after such a step was raised
brings its deadline forward to the worker's last working day before the absence (never later).

Somerset 3.1: "If the line manager is unavailable, the duty manager will undertake these
functions": an absence recorded for a line manager while one of their open steps whose rule line
names a stand-in (``stand_in``) is still to be done (the absence falls between today and its due
day; today, for an undated step) gives the step to the stand-in role, as if the absence had been
known when it was made (:func:`app.domain.policy.stand_in_if_away`).
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.core.security import Principal
from app.domain import policy
from app.domain.absences import AbsenceCreate, StaffAbsence, absences_of, record_absence
from app.domain.access import lock_case
from app.domain.audit import record_audit
from app.domain.common import iso_utc
from app.domain.outbox import emit
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
    moved += await _stand_in_for(session, principal, ctx, absence)
    await session.flush()
    return absence, moved


async def _stand_in_for(
    session: AsyncSession, principal: Principal, ctx: policy.PolicyContext,
    absence: StaffAbsence,
) -> list[Step]:
    """Give the absent worker's open steps that have a stand-in (Somerset 3.1) to that role,
    each audited (``step.reassign``) and announced (``step.reassigned``)."""
    service = await session.get(Service, absence.service_id)
    if service is None:
        return []
    rows = await session.exec(select(Step).where(
        Step.service_id == absence.service_id, Step.assignee_id == absence.staff_id,
        Step.status == StepStatus.open).order_by(col(Step.case_id), col(Step.id)))
    candidates = [s for s in rows.all()
                  if policy.stand_in_of(ctx.pack_for(service, at=s.raised_at), s)]
    moved = []
    for step in candidates:
        await lock_case(session, step.case_id)
        await session.refresh(step)
        if step.assignee_id != absence.staff_id:
            continue
        was = step.actor
        stood = await policy.stand_in_if_away(
            session, ctx.pack_for(service, at=step.raised_at), step)
        if stood is None:
            continue
        old, role, _ = stood
        session.add(step)
        reason = (f"{old} is away from {absence.starts_on.isoformat()} (absence {absence.id}); "
                  f"the {role} stands in")
        await record_audit(
            session, principal, "step.reassign", "step", step.id, service_id=step.service_id,
            case_id=step.case_id, reason=reason,
            change={"code": step.code, "actor": {"from": was, "to": role},
                    "assignee_id": {"from": old, "to": None}})
        await emit(session, "step.reassigned", step.id, service_id=step.service_id,
                   payload={"case_id": str(step.case_id), "step_id": str(step.id),
                            "code": step.code, "actor": role, "from": old, "to": None})
        moved.append(step)
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
