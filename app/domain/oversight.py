"""Management oversight: managers' entries on a case (which may satisfy a step the policy lets
an oversight entry satisfy), and waiving a step with a reason."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

import sqlalchemy as sa
from pydantic import AfterValidator, BaseModel, ConfigDict, StringConstraints
from sqlmodel import Field, SQLModel, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.core.errors import Forbidden, NotFound, Unprocessable
from app.core.identifiers import visible_text
from app.core.security import Principal
from app.domain import paging, policy
from app.domain.access import (
    MANAGERS,
    case_role_for,
    get_visible_case,
    require_not_case_holder,
    require_open_case,
    require_roles,
    service_of,
)
from app.domain.cases_table import Case
from app.domain.common import (
    ActTime,
    Reason,
    new_id,
    require_unchanged,
    resolve_occurred_at,
    utcnow,
)
from app.domain.next_steps import (
    NO_SUCH_STEP,
    close_step,
    earlier_occurrence,
    missed_until,
    replan_occurrence,
    require_not_own_check,
    require_step_act_time,
)
from app.domain.outbox import emit
from app.domain.steps import ESCALATION_CODE, Step, StepStatus
from app.domain.timing import require_outside_closed_periods, require_within_case
from app.domain.transitions import reload
from app.domain.write_context import WriteContext
from app.workflows.packs import Pack

Note = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=8000),
                 AfterValidator(visible_text)]


class OversightEntry(SQLModel, table=True):
    """A manager's recorded oversight of a case (and the step it satisfied, if any)."""

    __tablename__ = "oversight_entry"
    __table_args__ = (sa.Index("ix_oversight_entry_case_occurred", "case_id", "occurred_at"),)

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    service_id: uuid.UUID = Field(foreign_key="service.id")
    case_id: uuid.UUID = Field(foreign_key="case.id")
    note: str = Field(sa_type=sa.Text)
    author_id: str = Field(max_length=128)
    author_role: str = Field(max_length=32)
    satisfies_step_id: uuid.UUID | None = Field(default=None, foreign_key="step.id")
    occurred_at: datetime
    created_at: datetime = Field(default_factory=utcnow)


class OversightCreate(BaseModel):
    """Body of ``POST /v1/cases/{id}/oversight``."""

    model_config = ConfigDict(extra="forbid")
    note: Note
    satisfies_step_id: uuid.UUID | None = None
    occurred_at: ActTime = None


class StepWaive(BaseModel):
    """Body of ``POST /v1/next-steps/{id}/waive``: why the step is not needed."""

    model_config = ConfigDict(extra="forbid")
    reason: Reason
    occurred_at: ActTime = None


class OversightOut(BaseModel):
    """An oversight entry as the API shows it."""

    id: uuid.UUID
    case_id: uuid.UUID
    note: str
    author_id: str
    author_role: str
    satisfies_step_id: uuid.UUID | None
    occurred_at: datetime
    created_at: datetime


def oversight_out(entry: OversightEntry) -> OversightOut:
    """Shape an oversight entry for the API."""
    return OversightOut.model_validate(entry, from_attributes=True)


# Steps the written policy lets a management oversight entry stand for, by pack and (rule,
# code). The packs carry no such field yet, so the list lives here, each with its paragraph:
# Wokingham "Assessment Reviews" (W6: review the Asset+ "or a defensible management oversight
# entry" saying why not); Somerset 4.5 (S11: "the line manager will add management oversight on
# CMS to evidence that the case has been discussed").
def oversight_may_satisfy(pack: Pack, step: Step) -> bool:
    """Whether the pack lets a management oversight entry stand for this step."""
    return any(line.code == step.code and line.satisfiable_by_oversight
               for line in pack.lines(step.rule_id))


async def _step_to_satisfy(
    session: AsyncSession, pack: Pack, case: Case, step_id: uuid.UUID, at: datetime | None
) -> tuple[Step, datetime | None]:
    """The step an oversight entry dated ``at`` stands for (open, or recorded missed after
    ``at``: then when, :func:`missed_until`)."""
    step = (await session.exec(
        select(Step).where(Step.id == step_id, Step.case_id == case.id)
    )).first()
    if step is None:
        raise Unprocessable(
            "The step named is not one of this case's.",
            errors=[{"loc": "body.satisfies_step_id", "msg": "not a step of this case"}],
        )
    # A step oversight can never answer is refused as such first, whatever the entry's date:
    # 409 ``step-missed`` would invite an earlier date for an act never accepted (ATTACK41-13).
    if not oversight_may_satisfy(pack, step):
        raise Unprocessable(
            f"The policy does not let an oversight entry stand for {step.code} "
            f"({step.policy_pack} {step.policy_ref}).",
            slug="not-satisfiable-by-oversight",
            errors=[{"loc": "body.satisfies_step_id",
                     "msg": "this step cannot be satisfied by an oversight entry"}],
        )
    return step, await missed_until(session, step, at, "satisfy")


async def record_oversight(
    session: AsyncSession,
    principal: Principal,
    case_id: uuid.UUID,
    body: OversightCreate,
    ctx: policy.PolicyContext,
) -> tuple[OversightEntry, policy.PolicyResult]:
    """Record a manager's oversight entry; close the step it stands for, if any."""
    require_roles(principal, MANAGERS, "record management oversight")
    service, case = await get_visible_case(session, principal, case_id)
    role = case_role_for(principal, case, MANAGERS, "record management oversight")
    # Oversight is a manager's check on the case holder's work (Somerset 4.5; A11-9).
    require_not_case_holder(principal, case, who_does_it=(
        "its management oversight is recorded by another manager (its line manager or a duty "
        "manager)."))
    # A closed case is no longer managed here (Somerset 9): oversight of it is 409, as any
    # other act on it (a judgement, an event), until it is reopened. An entry standing for a
    # step is the step's closing act, as a completion or waiver is: its step decides, as for
    # them (docs/integrating.md, ``step.missed``; attack 37, ATTACK37-8): one recorded missed
    # at the closure, reviewed before it and typed in after, is corrected; dated at the
    # closure or after, 409 ``step-missed`` with ``need_ended_at``; one the closure set aside
    # (superseded), the race's 409, as a completion of it.
    if body.satisfies_step_id is None:
        require_open_case(case, "record management oversight")
    occurred_at = resolve_occurred_at(body.occurred_at)
    require_within_case(case, occurred_at)
    await policy.require_held_role_then(session, principal, case, role, occurred_at)  # ATTACK27-2
    step = earlier = missed = None
    if body.satisfies_step_id is not None:
        pack = ctx.pack_for(service, at=occurred_at)
        step, missed = await _step_to_satisfy(session, pack, case, body.satisfies_step_id,
                                              body.occurred_at)
        # A monthly review dated before this occurrence arose, typed after a later-dated one
        # that did the occurrence open then: it does that occurrence and the chain is planned
        # again, as a step completion or panel decision does (attack 27, ATTACK27-3: Somerset
        # S11, Wokingham W30 by oversight; ATTACK26B-5).
        earlier = await earlier_occurrence(session, principal, step, case=case, pack=pack,
                                           occurred_at=occurred_at)
        if earlier is None:
            require_step_act_time(step, occurred_at)
            await require_not_own_check(session, principal, step, case=case, pack=pack)
    entry = OversightEntry(
        service_id=service.id, case_id=case.id, note=body.note, author_id=principal.sub,
        author_role=role, satisfies_step_id=earlier.id if earlier else body.satisfies_step_id,
        occurred_at=occurred_at,
    )
    session.add(entry)
    await session.flush()
    wctx = WriteContext(session=session, policy=ctx, service=service, case=case,
                        principal=principal, role=role, occurred_at=occurred_at)
    await wctx.audit("oversight.record", entity_type="oversight_entry", entity_id=entry.id,
                     change=body.model_dump(mode="json", exclude_none=True),
                     reason=body.note[:2000])
    await emit(session, "oversight.recorded", entry.id, service_id=service.id,
               payload={"case_id": str(case.id),
                        "satisfies_step_id": str(entry.satisfies_step_id)
                        if step else None})
    if step is None:
        return entry, await policy.current(session, case)
    if earlier is not None:
        later = (earlier.satisfied_by_type, earlier.satisfied_by_id)
        if await replan_occurrence(wctx, code=earlier.code, act=("oversight", entry.id),
                                   note=f"Satisfied by management oversight entry {entry.id}"):
            if later[0] == "oversight" and later[1] is not None:
                await _relink(session, later[1], earlier.code)
            return entry, await policy.current(session, case)
        require_step_act_time(step, occurred_at)  # not re-planned: refused as before
    result = await close_step(  # reviewed before its need ended, typed in after (ATTACK36-6)
        wctx, step=step, note=f"Satisfied by management oversight entry {entry.id}",
        satisfied_by=("oversight", entry.id), need_ended_at=missed,
    )
    return entry, result


async def _relink(session: AsyncSession, entry_id: uuid.UUID, code: str) -> None:
    """The later-dated oversight entry now does the occurrence after the one re-planned: its
    ``satisfies_step_id`` names that occurrence (the record says which review did which)."""
    entry = await session.get(OversightEntry, entry_id)
    following = (await session.exec(select(Step).where(
        Step.code == code, Step.satisfied_by_type == "oversight",
        Step.satisfied_by_id == entry_id))).first()
    if entry is not None and following is not None:
        entry.satisfies_step_id = following.id
        session.add(entry)
        await session.flush()


OVERSIGHT_ORDER = paging.Order(
    ((OversightEntry.occurred_at, "instant"), (OversightEntry.created_at, "instant"),
     (OversightEntry.id, "uuid")), descending=True)


async def list_oversight(
    session: AsyncSession, principal: Principal, case_id: uuid.UUID,
    page: paging.PageArgs,
) -> tuple[list[OversightEntry], str | None]:
    """A page of the case's oversight entries, newest first, and the next page's cursor."""
    _, case = await get_visible_case(session, principal, case_id)
    return await paging.keyset_page(
        session, select(OversightEntry).where(OversightEntry.case_id == case.id),
        OVERSIGHT_ORDER, page, {"list": "oversight", "case": str(case.id)})


# Duties a line or duty manager may not waive: a chair's (the senior managers' notifications,
# e.g. Somerset 12's CSPPI notification to the YJB) and the panel's (its administrator's record
# of the discussion, 7.1.4; its agreed actions: 7.1.7, obstacles to "the agreed plan" are raised
# with the manager, not set aside; the panel varies its own plan at its review). An escalation
# is never waived: it closes with the overdue step it escalates (done or waived by someone who
# may), so the manager whose step is late cannot silence it.
NOT_WAIVABLE_BY_MANAGERS = frozenset({"chair", "panel_admin", "action_owner"})


def require_may_waive(principal: Principal, step: Step, pack: Pack) -> None:
    """403 for a manager waiving a duty they owe themselves (the step is assigned to them: a
    line manager's own overdue review or its escalation, a duty manager's S16 advice; or it is
    addressed, unassigned, to a role they hold: a duty manager's stood-in discussion), one
    :data:`NOT_WAIVABLE_BY_MANAGERS` lists, or one the pack's ``not_waivable`` names (the
    policy mandates it without exception: Somerset 3.2.3's MARP referral of a high case):
    waiving records that a duty need not be done, which is someone else's judgement than the
    person who owes it (Somerset 4.5, 3.1: oversight is a manager's check on another's work)."""
    if step.assignee_id is not None and step.assignee_id == principal.sub:
        raise Forbidden("You may not waive a step assigned to you: another manager decides "
                        "(a duty manager over a line manager), or complete it.")
    if step.assignee_id is None and principal.has(step.actor):
        # Addressed to a role the waiver holds (a discussion that stood in from an absent line
        # manager to the duty managers, Somerset 3.1): their own duty, as if assigned to them
        # (attack pass 10, A10-29).
        raise Forbidden("You may not waive a step addressed to your own role: another manager "
                        "decides, or complete it.")
    if step.code == ESCALATION_CODE:
        raise Forbidden("An escalation is not waived: it closes when the overdue step it "
                        "escalates is done or waived.")
    if step.actor in NOT_WAIVABLE_BY_MANAGERS:
        raise Forbidden(f"A step for the {step.actor.replace('_', ' ')} may not be waived by "
                        "a line or duty manager.")
    if step.code in pack.not_waivable:
        raise Forbidden(f"{step.code.replace('_', ' ').capitalize()} is a duty the policy "
                        f"mandates ({step.policy_ref}): a line or duty manager may not waive it. "
                        "Do it, or record the act that answers it.")


async def waive_step(
    session: AsyncSession,
    principal: Principal,
    step_id: uuid.UUID,
    body: StepWaive,
    ctx: policy.PolicyContext,
) -> tuple[Step, policy.PolicyResult]:
    """A manager waives an open step with a reason (status ``waived``; reason in the audit)."""
    require_roles(principal, MANAGERS, "waive steps")
    service = await service_of(session, principal)
    step = (await session.exec(
        select(Step).where(Step.id == step_id, Step.service_id == service.id)
    )).first()
    if step is None:
        raise NotFound(NO_SUCH_STEP)
    _, case = await get_visible_case(session, principal, step.case_id, missing=NO_SUCH_STEP)
    role = case_role_for(principal, case, MANAGERS, "waive steps")
    await reload(session, step)  # the case is locked now: the step's state after any racer
    require_unchanged(session, "step", step, "step")  # If-Match: A16-8
    occurred_at = resolve_occurred_at(body.occurred_at)
    pack = ctx.pack_for(service, at=occurred_at)
    # A waiver this manager may never give is 403 whatever its date, before 409 ``step-missed``
    # (which would invite an earlier date for it: ATTACK41-13).
    require_may_waive(principal, step, pack)
    missed = await missed_until(session, step, body.occurred_at, "waive")
    await require_not_own_check(session, principal, step, case=case, pack=pack)
    require_step_act_time(step, occurred_at)
    require_outside_closed_periods(case, occurred_at)  # A9-7
    await policy.require_held_role_then(session, principal, case, role, occurred_at)
    wctx = WriteContext(session=session, policy=ctx, service=service, case=case,
                        principal=principal, role=role, occurred_at=occurred_at)
    result = await close_step(  # waived before its need ended, typed in after (ATTACK36-6)
        wctx, step=step, note=f"Waived: {body.reason}", status=StepStatus.waived,
        need_ended_at=missed)
    return step, result
