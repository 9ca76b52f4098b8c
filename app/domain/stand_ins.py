"""Stand-ins kept true over time (Somerset 3.1: "If the line manager is unavailable, the duty
manager will undertake these functions").

A step whose rule line names a stand-in (``stand_in``) is with the stand-in role exactly while
the holder its actor names (the case's line manager) is away on a day from today to its due day
(today alone, for an undated step): :func:`app.domain.policy.stand_in_if_away` moves it when it
is made or when leave is recorded; this module moves it on when that stops or starts being true
without a step being made:

- the case gets a new line manager (PATCH or PUT): steps that stood in go to the new one, unless
  they are away too; the old one's steps that move to a new one who is away stand in;
- an absence is shortened, moved or cancelled: the steps it stood in come back;
- the step's due day moves (a MARP booked, moved or cancelled, an earlier act recorded later,
  a case reopened): :func:`app.domain.policy.resettle_steps` in that write (attack 30a,
  A30a-3: the owner followed the order the leave and the move were typed in);
- time passes: leave recorded in advance starts (the line manager's open steps stand in) or
  ends (they come back). The state changes only at a Europe/London midnight, so a sweep per
  service and London day keeps it right: :func:`settle_today` runs it before a queue is read
  (once per process, service and day) and the worker's first pass of the day runs it
  (:func:`run_pass`).

An escalation owed to the line manager (over a case holder's late step) follows the same rule:
raised while they are away it goes where their own duties escalate (the duty managers, as the
escalation pass raises it), and it comes back when they are not; it moves when they go away.
An escalation of a stand-in step follows the step, both ways: over the duty manager standing in
(the senior managers) while the line manager is away, over the line manager (the duty managers)
once it is theirs again (attack pass 10, A10-11). Either way it is where the escalation pass
would raise it that day.

Every path decides by one function, :func:`app.domain.policy.resettle_step`, from the state
(the case's holders, the absences from today to the due day, who recorded what the step
checks, who held the case). Every move is made under the case's lock, after re-reading the
step, and is audited (``step.reassign``) and announced (``step.reassigned``) in the write's
transaction.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import date
from types import SimpleNamespace

import sqlalchemy as sa
import structlog
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlalchemy.orm import aliased
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.core import clock
from app.core.loop import every
from app.core.security import STAFF_ROLES, Principal
from app.domain import policy
from app.domain.absences import StaffAbsence
from app.domain.access import lock_case
from app.domain.cases_table import Case
from app.domain.common import peek_now, utcnow
from app.domain.history import bump_case_versions
from app.domain.services import Service
from app.domain.steps import ESCALATION_CODE, Step, StepStatus, owed_by
from app.workflows.calendar import london_date, london_text
from app.workflows.packs import Pack

SWEEPER = Principal(sub="system:stand-in", roles=frozenset({"system"}), service=None)
SWEEPER_ROLE = "system"
log = structlog.get_logger("yjrisk.stand_ins")

# The London day each service was last swept on, in this process (a sweep is idempotent: two
# processes that both sweep find the second one has nothing to do).
_swept: dict[uuid.UUID, date] = {}
_swept_by_slug: dict[str, date] = {}
# One sweep of a service at a time in this process: the first requests of a new day (and the
# worker's pass) wait for it instead of each sweeping the same cases at once, which on SQLite
# (one writer) made all but one answer 503 "database busy" (attack pass 13, A13-13).
# Keyed by the running loop too: an asyncio lock belongs to one event loop.
_sweeping: dict[tuple[int, uuid.UUID], asyncio.Lock] = {}


def _sweep_lock(service_id: uuid.UUID) -> asyncio.Lock:
    key = (id(asyncio.get_running_loop()), service_id)
    lock = _sweeping.get(key)
    if lock is None:
        lock = _sweeping[key] = asyncio.Lock()
    return lock


async def settle_case(
    session: AsyncSession, principal: Principal, role: str | None, ctx: policy.PolicyContext,
    service: Service, case: Case, *, today: date, why: str,
) -> list[Step]:
    """Bring the case's open stand-in steps in line with who is away ``today`` and who held
    the case (the caller holds the case's lock), each by :func:`app.domain.policy.
    resettle_step` (the one decision every path takes: attack 30a), then the escalations
    chasing them (:func:`_settle_escalation`). Each move is audited and announced; ``why``
    says what made the change (the audit's reason)."""
    moved = []
    escalations = []
    held = policy.HeldBy(session, case)
    for step in await policy.open_steps_of(session, case.id):
        if step.code == ESCALATION_CODE:
            escalations.append(step)  # after the steps they chase have moved
            continue
        pack = ctx.pack_for(service, at=step.raised_at)
        if await policy.resettle_step(session, principal, role, pack, case, step, held=held,
                                      today=today, why=why):
            moved.append(step)
    for step in escalations:
        if await _settle_escalation(session, principal, role, ctx, service, case, step,
                                    today=today, why=why):
            moved.append(step)
    if moved:
        # The case's open steps changed: its version (ETag) moves in this transaction, whatever
        # the session's class (attack 20, A20-5: the worker's sweep did not move it).
        await bump_case_versions(session, {case.id})
        await session.flush()
    return moved


async def _settle_escalation(
    session: AsyncSession, principal: Principal, role: str | None, ctx: policy.PolicyContext,
    service: Service, case: Case, step: Step, *, today: date, why: str,
) -> bool:
    """An open escalation goes where the escalation pass would raise it today, when leave is
    what put it elsewhere (whether it moved):

    - owed to the case's line manager (a case holder's late step, say): where the line
      manager's own duties escalate while they are away today (Somerset 3.1, 4.6: "if their
      line manager is unavailable, the duty manager"), back to them when they are not;
    - chasing a step that stands in for them (Somerset 3.1): with the step, over whoever holds
      it now: over the duty manager standing in (the senior managers) while the line manager
      is away, over the line manager (the duty managers) once the step is theirs again
      (attack pass 10, A10-11: it stayed with the senior managers after the leave).

    An escalation somewhere leave never puts it (moved by hand, say) stays there."""
    pack = ctx.packs.get(step.policy_pack)
    subject = await session.get(Step, step.subject_id)
    lm = case.line_manager_id
    if pack is None or subject is None or lm is None:
        return False
    # The holders the chased step may have as leave comes and goes: its actor now, and its
    # rule line's actor and stand-in when it is a stand-in step.
    actors = {subject.actor}
    chased_pack = ctx.pack_for(service, at=subject.raised_at)
    line = chased_pack.lines(subject.rule_id)
    actors |= {a for r in line if r.code == subject.code and r.stand_in
               for a in (r.actor, r.stand_in, policy.stand_in_beyond(pack, r)) if a}
    possible = {_escalated_to(pack, subject, actor, lm, away)
                for actor in actors for away in (False, True)}
    away = await policy.away_for(session, step, lm, today)
    to = _escalated_to(pack, subject, subject.actor, lm, away is not None)
    was = (step.actor, step.assignee_id)
    if was == to or was not in possible:
        return False
    step.actor, step.assignee_id = to
    # Each line names who the escalation is addressed to now, and why, from the state (attack
    # 35b, ATTACK35B-7: given back to lm-sam when a case holder's leave was cancelled, its last
    # line told the duty managers it was theirs, or said the line manager's leave had ended).
    now = f"this escalation is now addressed to {addressee(*to)}"
    chased = addressee(subject.actor, subject.assignee_id)
    if away is not None:
        step.note = policy.noted(step.note, (
            f"Stood in: the line manager ({lm}) is on recorded leave; {now}."))
        reason = f"{lm} is on recorded leave ({why})"
    elif policy.stood_in_from(chased_pack, subject) is not None:
        step.note = policy.noted(step.note, (
            f"Moved: the step it chases stands in with {chased}; {now}."))
        reason = f"the step it chases stands in with {chased}; its escalation to " \
                 f"{addressee(*to)}: {why}"
    elif to[0] == "line_manager":
        step.note = policy.noted(step.note, (
            f"Given back: the step it chases is with {chased} and the line manager ({lm}) is not "
            f"on recorded leave today; {now}."))
        reason = f"given back to the line manager ({lm}): {why}"
    else:
        step.note = policy.noted(step.note, (
            f"Given back: the line manager ({lm}) is not on recorded leave today and the step "
            f"it chases is with {chased}; {now}."))
        reason = (f"the step it chases is given back to the line manager ({lm}); its "
                  f"escalation to the {to[0].replace('_', ' ')}: {why}")
    await policy.announce_move(session, principal, role, step, (was[0], to[0]),
                               (was[1], to[1]), reason)
    return True


def addressee(actor: str, assignee: str | None) -> str:
    """Who a step is addressed to, in a note's words: ``the line manager (lm-sam)``, or ``any
    duty manager`` for a role's step no one is named to."""
    role = actor.replace("_", " ")
    return f"the {role} ({assignee})" if assignee else f"any {role}"


def _escalated_to(
    pack: Pack, subject: Step, actor: str, lm: str, lm_away: bool
) -> tuple[str, str | None]:
    """(actor, assignee) of the escalation the pass raises over ``subject`` held by ``actor``
    (:func:`app.domain.escalation.escalation_row`'s choice): the pack's escalation target of
    the role it is owed in, but over the line manager's duties when that is the line manager
    and they are away; named to the line manager when it is theirs."""
    owed = owed_by(SimpleNamespace(actor=actor, owner_role=subject.owner_role,
                                   assignee_id=subject.assignee_id, line_manager_id=lm))
    target = pack.escalation.target(owed)
    if target == "line_manager" and lm_away:
        target = pack.escalation.target("line_manager")
    return target, (lm if target == "line_manager" else None)


async def settle_staff(
    session: AsyncSession, principal: Principal, role: str | None, ctx: policy.PolicyContext,
    service: Service, staff_id: str, *, why: str,
) -> list[Step]:
    """:func:`settle_case` on every case of :func:`staff_cases` (their absence changed), each
    under its case's lock, in case order."""
    today = london_date(utcnow())
    moved = []
    for case_id in await staff_cases(session, service.id, staff_id):
        moved += await _settle_locked(session, principal, role, ctx, service, case_id,
                                      today=today, why=why)
    return moved


async def staff_cases(
    session: AsyncSession, service_id: uuid.UUID, staff_id: str
) -> list[uuid.UUID]:
    """The cases where ``staff_id`` holds a role a step may stand in from (line manager,
    case holder) and that have an open step, in case order (the order their locks are taken
    in). A closed case's only open steps are those that survive its closure (the pack's
    ``survives_closure``): they stand in as an open case's do (attack pass 16, A16-7)."""
    rows = await session.exec(
        select(Case.id).where(
            Case.service_id == service_id,
            sa.or_(col(Case.line_manager_id) == staff_id,
                   col(Case.case_holder_id) == staff_id),
            sa.exists().where(col(Step.case_id) == col(Case.id),
                              col(Step.status) == StepStatus.open))
        .order_by(col(Case.id)))
    return list(rows.all())


async def _settle_locked(
    session: AsyncSession, principal: Principal, role: str | None, ctx: policy.PolicyContext,
    service: Service, case_id: uuid.UUID, *, today: date, why: str,
) -> list[Step]:
    await lock_case(session, case_id)
    case = await session.get(Case, case_id, populate_existing=True)
    if case is None:
        return []
    return await settle_case(session, principal, role, ctx, service, case, today=today,
                             why=why)


async def cases_to_settle(
    session: AsyncSession, ctx: policy.PolicyContext, service: Service, today: date
) -> list[uuid.UUID]:
    """The service's cases that may have a stand-in step to move today: an open step of a code
    some version of the service's pack stands in, or an escalation that may be owed to the
    line manager, either named to someone with a recorded absence from today on (it may stand
    in) or unassigned on a case whose line manager is not away today (it may go back)."""
    versions = ctx.versions_of(service.policy_pack)
    codes = sorted({r.code for pack in versions for r in pack.rules if r.stand_in})
    # Escalations of steps whose role never escalates to the line manager stay where they are,
    # unless the step they chase is one that stands in (its escalation follows it: A10-11).
    never_lm = sorted(r for r in STAFF_ROLES
                      if all(p.escalation.target(r) != "line_manager" for p in versions))
    subject = aliased(Step)
    maybe_lm = sa.or_(col(Step.code) != ESCALATION_CODE, sa.exists().where(
        col(subject.id) == col(Step.subject_id),
        sa.or_(col(subject.actor).not_in(never_lm), col(subject.code).in_(codes))))
    assignee_away = sa.exists().where(
        col(StaffAbsence.service_id) == service.id,
        col(StaffAbsence.staff_id) == col(Step.assignee_id),
        col(StaffAbsence.ends_on) >= today)
    manager_away_today = sa.exists().where(
        col(StaffAbsence.service_id) == service.id,
        col(StaffAbsence.staff_id) == col(Case.line_manager_id),
        col(StaffAbsence.starts_on) <= today, col(StaffAbsence.ends_on) >= today)
    # A case holder's step that stood in to the case's line manager (named to them, A23b-5):
    # it may go back once the case holder's leave is over (attack 24b: it stayed with the line
    # manager when the leave ended with the days, not by a change to it).
    to_holders = sorted({r.code for pack in versions for r in pack.rules
                         if r.stand_in in policy.ACTOR_FIELDS and r.stand_in != r.actor})
    stood_in_to_holder = sa.or_(
        sa.and_(col(Step.code).in_(to_holders),
                col(Step.assignee_id) == col(Case.line_manager_id),
                col(Step.actor) == "line_manager"),
        # Gone on past the line manager to the duty managers: it comes back to them, or to the
        # case holder, as their leave ends (ATTACK30B-14).
        sa.and_(col(Step.code).in_(to_holders), col(Step.assignee_id).is_(None)))
    rows = await session.exec(
        select(Step.case_id).join(Case, col(Case.id) == col(Step.case_id)).where(
            Step.service_id == service.id, Step.status == StepStatus.open,
            col(Step.code).in_([*codes, ESCALATION_CODE]), maybe_lm,
            sa.or_(sa.and_(col(Step.assignee_id).is_(None), ~manager_away_today),
                   sa.and_(col(Step.assignee_id).is_not(None), assignee_away),
                   stood_in_to_holder))
        .distinct().order_by(col(Step.case_id)))
    return list(rows.all())


async def sweep_service(
    factory: async_sessionmaker[AsyncSession], ctx: policy.PolicyContext,
    service_id: uuid.UUID, today: date | None = None,
) -> int:
    """Settle every case of the service that may need it on ``today`` (London; default now),
    one transaction a case (its lock held only for its own steps); answer how many steps
    moved."""
    today = today or london_date(utcnow())
    async with factory() as session:
        service = await session.get(Service, service_id)
        if service is None or service.policy_pack not in ctx.packs:
            return 0
        case_ids = await cases_to_settle(session, ctx, service, today)
    moved = 0
    why = f"the recorded absences on {london_text(today)}"
    for case_id in case_ids:
        # One instant a case's transaction: its moves, history rows and audit agree (A20-11),
        # its own, taken under its case's lock, even when a request sweeps before it reads:
        # never the request's, which would then date the request's own write before the
        # locks it waits for (A30a-15).
        with clock.one_instant(own=True):
            moved += await _sweep_case(factory, ctx, service_id, case_id, today, why)
    if moved:
        log.info("stand_ins.swept", service_id=str(service_id), moved=moved)
    return moved


async def _sweep_case(
    factory: async_sessionmaker[AsyncSession], ctx: policy.PolicyContext,
    service_id: uuid.UUID, case_id: uuid.UUID, today: date, why: str,
) -> int:
    """Settle one case in its own transaction; how many steps moved."""
    async with factory() as session, session.begin():
        service = await session.get(Service, service_id)
        assert service is not None
        return len(await _settle_locked(session, SWEEPER, SWEEPER_ROLE, ctx, service,
                                        case_id, today=today, why=why))


async def settle_today(
    factory: async_sessionmaker[AsyncSession], ctx: policy.PolicyContext, service_slug: str
) -> None:
    """Sweep the service once per London day in this process, before its steps are read:
    the queue a worker lists is right from the first minute of the day on which leave starts
    or ends (no write marks that moment). A no-op (a dictionary look-up) once swept today.
    The day is read without taking the request's write instant (:func:`peek_now`): a write
    that then waits for another on its case is dated after it (A23a-1; attack 30a, A30a-15: a
    completion dated before the leave's cancellation it waited for, announced before the
    give-back committed ahead of it)."""
    today = london_date(peek_now())
    if _swept_by_slug.get(service_slug) == today:
        return
    async with factory() as session:
        row = (await session.exec(select(Service.id).where(Service.slug == service_slug))
               ).first()
    if row is None:
        return
    async with _sweep_lock(row):
        if _swept.get(row) != today:
            await sweep_service(factory, ctx, row, today)
            _swept[row] = today
    _swept_by_slug[service_slug] = today


async def run_pass(
    factory: async_sessionmaker[AsyncSession], ctx: policy.PolicyContext,
    service_id: uuid.UUID | None = None,
) -> int:
    """The worker's sweep: every service (or one) not yet swept today in this process; answer
    how many steps moved."""
    today = london_date(utcnow())
    async with factory() as session:
        query = select(Service.id)
        if service_id is not None:
            query = query.where(Service.id == service_id)
        ids = list((await session.exec(query.order_by(col(Service.id)))).all())
    moved = 0
    for sid in ids:
        async with _sweep_lock(sid):
            if _swept.get(sid) == today:
                continue  # already swept today (here, or before a queue was read)
            moved += await sweep_service(factory, ctx, sid, today)
            _swept[sid] = today
    return moved


async def run_forever(
    factory: async_sessionmaker[AsyncSession], ctx: policy.PolicyContext,
    interval_seconds: float, stop: asyncio.Event | None = None,
) -> None:
    """The worker's loop: a sweep every ``interval_seconds`` until ``stop`` is set (the first
    pass after a London midnight moves the day's stand-ins)."""
    await every(interval_seconds, lambda: run_pass(factory, ctx), stop or asyncio.Event(),
                "stand_ins.pass_failed")
