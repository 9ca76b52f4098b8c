"""Staff absences and what they change: the in-week deadlines of the absent worker's open steps.

Wokingham "Internal and External Controls": an incident known "on a Friday or the last day before
a prolonged absence (for example, the last working day before annual leave)" is recorded and
reported "before the end of the working week". Whenever the worker's absences change (recorded,
moved, shortened, cancelled) each of their open in-week steps is counted again from its own act
against the absences as they now stand: brought forward to the last working day before a
prolonged absence, or put back when none cuts the week short any more, whether the step was
raised before the absence was recorded or while it was (attack pass 11, A11-6). A deadline
already passed at the change stays (:func:`app.domain.policy.redate`). Leave starting or ending
as days pass changes nothing here: the deadline depends on the absences after the day the step
counts from, not on today.

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
from datetime import UTC, datetime

import sqlalchemy as sa
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
from app.domain.cases_table import Case
from app.domain.common import iso_utc, utcnow
from app.domain.services import Service
from app.domain.steps import Step, StepStatus
from app.workflows.calendar import london_date
from app.workflows.deadlines import in_week_deadline, prolonged_absences
from app.workflows.packs import Pack
from app.workflows.types import StepIntent

IN_WEEK = "+1wd-in-week"
BROUGHT_FORWARD = policy.BROUGHT_FORWARD
PUT_BACK = "Put back: no prolonged absence cuts the week short by"


async def record_staff_absence(
    session: AsyncSession, principal: Principal, staff_id: str, body: AbsenceCreate,
    ctx: policy.PolicyContext,
) -> tuple[StaffAbsence, list[Step]]:
    """Record the absence (managers; 403 otherwise) and bring forward the worker's open in-week
    steps it cuts short, then settle their stand-in steps; the steps moved (audited, one
    transaction)."""
    absence = await record_absence(session, principal, staff_id, body)
    return absence, await _settle(session, principal, ctx, absence,
                                  f"absence {absence.id} recorded")


async def change_staff_absence(
    session: AsyncSession, principal: Principal, staff_id: str, absence_id: uuid.UUID,
    body: AbsenceChange, if_match: str | None, ctx: policy.PolicyContext,
) -> tuple[StaffAbsence, list[Step]]:
    """Move, shorten or extend a recorded absence (back early, leave changed), then settle the
    worker's stand-in steps: what stood in for leave that no longer covers them comes back,
    what the new dates cover stands in (Somerset 3.1); one transaction."""
    absence, before = await change_absence(session, principal, staff_id, absence_id, body,
                                           if_match)
    return absence, await _settle(session, principal, ctx, absence, (
        f"absence {absence.id} changed"))


async def cancel_staff_absence(
    session: AsyncSession, principal: Principal, staff_id: str, absence_id: uuid.UUID,
    if_match: str | None, ctx: policy.PolicyContext,
) -> list[Step]:
    """Cancel a recorded absence, then put back the in-week deadlines it cut short (W4) and give
    back the steps that stood in for it (Somerset 3.1); one transaction. The steps moved."""
    absence = await cancel_absence(session, principal, staff_id, absence_id, if_match)
    return await _settle(session, principal, ctx, absence, (
        f"absence {absence.id} cancelled"))


async def _settle(
    session: AsyncSession, principal: Principal, ctx: policy.PolicyContext,
    absence: StaffAbsence, why: str,
) -> list[Step]:
    """After an absence was recorded, changed or cancelled: the worker's open in-week steps are
    counted again from their own acts against their absences as they now are (brought forward,
    or put back when no absence cuts the week short any more, whichever was recorded first), and
    their stand-in steps follow the absences too; audited, in the write's transaction."""
    service = await session.get(Service, absence.service_id)
    assert service is not None
    in_week = await _in_week_steps(session, service, absence.staff_id)
    for step in in_week:
        await session.refresh(step)
    moved = await follow_absences(session, principal, ctx, in_week, why=why,
                                  absence_id=absence.id)
    moved += await stand_ins.settle_staff(session, principal, None, ctx, service,
                                          absence.staff_id, why=why)
    await session.flush()
    return moved


async def follow_absences(
    session: AsyncSession, principal: Principal, ctx: policy.PolicyContext, steps: list[Step],
    *, why: str, absence_id: uuid.UUID | None = None, at: datetime | None = None,
) -> list[Step]:
    """Re-date each open in-week step of ``steps`` (Wokingham W4) by its worker's absences as
    they now stand (:func:`_follow_absences`), each re-date audited (``step.redate``) in the
    caller's transaction, the steps' cases locked by the caller; the steps that moved. Called
    when an absence is recorded, changed or cancelled, and when a step moves to another worker
    (the case's holder changed: attack pass 11, A11-18, the deadline is the worker's).
    ``at``: the act's time (a reassignment's ``occurred_at``, back-filled or not), against
    which a deadline "already passed" is judged; an absence's change is an act of now (attack
    32c, ATTACK32C-11: a back-filled reassignment before the deadline was judged on today)."""
    moved = []
    for step in steps:
        if step.status != StepStatus.open or step.deadline_form != IN_WEEK:
            continue
        if await _follow_absences(session, ctx, step, why, at=at or utcnow()):
            change: dict[str, str | None] = {
                "code": step.code, "due_at": iso_utc(step.due_at) if step.due_at else None}
            if absence_id is not None:
                change["absence_id"] = str(absence_id)
            await record_audit(
                session, principal, "step.redate", "step", step.id,
                service_id=step.service_id, case_id=step.case_id, reason=why, change=change)
            moved.append(step)
    return moved


async def _in_week_steps(session: AsyncSession, service: Service, staff_id: str) -> list[Step]:
    """The worker's open dated in-week steps, every case this write may touch (theirs, and
    those where they hold a role a step stands in from) locked first, in case-id order: one
    lock order, as any other write that locks several cases."""
    # Theirs, and those of cases they hold that stood in for their leave (with the line
    # manager: the deadline is still the case holder's; attack 24b, A24b-14).
    rows = await session.exec(select(Step).join(Case, col(Case.id) == col(Step.case_id)).where(
        Step.service_id == service.id,
        sa.or_(col(Step.assignee_id) == staff_id, col(Case.case_holder_id) == staff_id),
        Step.status == StepStatus.open, Step.deadline_form == IN_WEEK,
        col(Step.due_at).is_not(None)).order_by(col(Step.case_id)))
    in_week = list(rows.all())
    for case_id in sorted({s.case_id for s in in_week}
                          | set(await stand_ins.staff_cases(session, service.id, staff_id))):
        await lock_case(session, case_id)
    return in_week


async def _follow_absences(
    session: AsyncSession, ctx: policy.PolicyContext, step: Step, why: str, *, at: datetime
) -> bool:
    """Re-date one in-week step by its worker's absences as they now stand, counted again from
    its own act (the moment it became known) as the engine counts it when the step is raised:
    the pack's prolonged absences (``prolonged_absence_working_days``), the next working day
    capped at the week's end and at the last working day before such an absence. Sooner or
    later, whichever was recorded first, the step raised before the leave or during it (attack
    pass 11, A11-6: one raised while the leave was recorded kept the early date after it was
    cancelled). Through :func:`app.domain.policy.redate`: a deadline passed before this change
    stays (judged at ``at``, the act's time), with a note. Whether the step moved (or its note
    changed)."""
    counted = _counted_from(step)
    if counted is None or step.due_at is None or step.assignee_id is None:
        return False
    service = await session.get(Service, step.service_id)
    assert service is not None
    pack = ctx.pack_for(service, at=step.raised_at)
    worker = await _worker(session, pack, step)
    if worker is None:
        return False
    absences = prolonged_absences(
        await absences_of(session, step.service_id, worker, london_date(counted)),
        pack.prolonged_absence_working_days, ctx.calendar)
    counted = await _resumed(session, step, counted, ctx)
    due = in_week_deadline(absences, counted.astimezone(UTC), ctx.calendar).due_at
    if due is None or due == step.due_at:
        return False
    word = (f"{BROUGHT_FORWARD} {worker}'s absence" if due < step.due_at
            else f"{PUT_BACK} {worker}'s absences as they now stand")
    stale = [line for line in (step.note or "").splitlines()
             if line.startswith((BROUGHT_FORWARD, PUT_BACK))]
    intent = StepIntent(
        action="update_due", rule_id=step.rule_id, code=step.code, title=step.title,
        actor=step.actor, subject_id=step.subject_id, due_at=due, urgent=step.urgent,
        awaiting_panel_date=False, policy_pack=step.policy_pack, policy_ref=step.policy_ref,
        deadline_form=IN_WEEK, note=f"{word} ({why}).")
    before = (step.due_at, step.note)
    policy.redate(step, intent, at=at, calendar=ctx.calendar, pack=pack, stale=stale)
    session.add(step)
    return (step.due_at, step.note) != before


async def _worker(session: AsyncSession, pack: Pack, step: Step) -> str | None:
    """Whose absences an in-week step's deadline is counted against: its assignee, or the
    case's holder when the step stood in from them to the line manager during their leave (the
    deadline stays the case holder's: "the last day before a prolonged absence"; A24b-14)."""
    frm = policy.stood_in_from(pack, step)
    if frm is None:
        return step.assignee_id
    return (await session.exec(select(getattr(Case, policy.ACTOR_FIELDS[frm])).where(
        col(Case.id) == step.case_id))).first()


async def _resumed(session: AsyncSession, step: Step, counted: datetime,
                   ctx: policy.PolicyContext) -> datetime:
    """Where a reinstated step's in-week deadline counts from: its act's moment moved on by the
    working days of each closure of the case after it that moved the step's deadline on (its
    clock stood still while the case was closed, A23b-9; a step overdue at the closure kept its
    date, and is still due before the reopening). Counted again from its act alone, a leave
    recorded or cancelled after the reopening put it back to its pre-closure date, a month
    overdue (attack 24b, A24b-10)."""
    periods = (await session.exec(select(Case.closed_periods).where(
        col(Case.id) == step.case_id))).first() or []
    assert step.due_at is not None
    due = step.due_at if step.due_at.tzinfo else step.due_at.replace(tzinfo=UTC)
    for start, end in periods:
        if not end:
            continue
        closed, reopened = datetime.fromisoformat(start), datetime.fromisoformat(end)
        if closed >= counted and due > reopened:
            counted = policy.moved_on_working_days(
                counted, policy.closed_working_days(closed, reopened, ctx.calendar),
                ctx.calendar)
    return counted


def _counted_from(step: Step) -> datetime | None:
    for reason in step.reasons or ():
        value = reason.get("counted_from") or reason.get("at")
        if value:
            return datetime.fromisoformat(str(value))
    return None
