"""The seam between the domain and the pure policy engine.

Builds the engine's case snapshot from the database, runs the service's pack, refuses writes the
policy refuses, and applies the step intents (create / keep / supersede / update_due) inside the
caller's unit of work, so a record, its next steps, its audit entry and its outgoing event
commit together or not at all.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.core.errors import DomainError
from app.core.security import Principal
from app.domain.audit import record_audit
from app.domain.cases_table import Case, ContactLevel
from app.domain.panels_table import load_scheduled_panels
from app.domain.services import Service
from app.domain.steps import Step, StepOut, StepStatus, step_out
from app.workflows.calendar import WorkingCalendar
from app.workflows.deadlines import late_after
from app.workflows.engine import evaluate
from app.workflows.packs import Pack
from app.workflows.types import (
    CaseSnapshot,
    Evaluation,
    OpenStep,
    ScheduledPanel,
    StepIntent,
    WorkflowEvent,
)

ACTOR_FIELDS = {"case_holder": "case_holder_id", "line_manager": "line_manager_id"}


@dataclass
class PolicyContext:
    """What the engine needs besides the case: the loaded packs and the working calendar."""

    packs: Mapping[str, Pack]
    calendar: WorkingCalendar

    def pack_for(self, service: Service) -> Pack:
        """The pack the service runs under."""
        return self.packs[service.policy_pack]


@dataclass
class PolicyResult:
    """What a write did to the case's steps, and the steps now open (the ``next_steps``)."""

    next_steps: list[StepOut]
    created: list[Step] = field(default_factory=list)
    superseded: list[Step] = field(default_factory=list)
    evaluation: Evaluation | None = None

    def merge(self, later: PolicyResult) -> PolicyResult:
        """Combine two runs within one write; the later run's open steps win."""
        return PolicyResult(
            next_steps=later.next_steps,
            created=self.created + later.created,
            superseded=self.superseded + later.superseded,
            evaluation=later.evaluation or self.evaluation,
        )


class PolicyViolation(DomainError):
    """A write the policy refuses (422, or 409 for M6); names the rule."""


def event(
    trigger: str,
    occurred_at: datetime,
    subject_id: uuid.UUID,
    principal: Principal,
    data: Mapping[str, Any],
    role: str | None = None,
) -> WorkflowEvent:
    """Build an engine event for something that happened."""
    acting = role or next(iter(sorted(principal.roles)))
    return WorkflowEvent(
        trigger=trigger, occurred_at=occurred_at, subject_id=subject_id,
        actor_role=acting, data=dict(data),
    )


def snapshot(case: Case, open_steps: Sequence[Step]) -> CaseSnapshot:
    """The engine's view of a case: fields, current rating levels, register, open steps."""
    ratings = {d: (v or {}).get("level") for d, v in (case.ratings or {}).items()}
    return CaseSnapshot(
        case_id=case.id,
        intervention=str(case.intervention),
        statutory=case.statutory,
        csc_status=str(case.csc_status),
        weapon_related=case.weapon_related,
        mappa_category=case.mappa_category,
        mappa_level=case.mappa_level,
        expected_release_date=case.expected_release_date,
        in_custody=case.in_custody,
        volunteer_attached=case.volunteer_attached,
        ratings={d: ratings.get(d) for d in ("rosh", "swb", "lor")},
        on_register=case.on_register,
        closed_at=case.closed_at,
        facts=dict(case.facts or {}),
        scores=dict(case.scores or {}),
        date_of_birth=case.date_of_birth,
        open_steps=tuple(
            OpenStep(
                id=s.id, code=s.code, rule_id=s.rule_id, subject_id=s.subject_id,
                due_at=s.due_at, awaiting_panel_date=s.awaiting_panel_date,
                deadline_form=s.deadline_form, actor=s.actor,
            )
            for s in open_steps
        ),
    )


async def open_steps_of(session: AsyncSession, case_id: uuid.UUID) -> list[Step]:
    """The case's open steps, soonest due first (undated last)."""
    rows = await session.exec(
        select(Step)
        .where(Step.case_id == case_id, Step.status == StepStatus.open)
        .order_by(col(Step.due_at).is_(None), col(Step.due_at), col(Step.created_at))
    )
    return list(rows.all())


async def open_steps_out(session: AsyncSession, case_id: uuid.UUID) -> list[StepOut]:
    """The case's open steps, shaped for the API."""
    return [step_out(s) for s in await open_steps_of(session, case_id)]


async def open_steps_by_case(
    session: AsyncSession, case_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[StepOut]]:
    """Open steps of many cases in one query (lists and the register), soonest due first."""
    by_case: dict[uuid.UUID, list[StepOut]] = {case_id: [] for case_id in case_ids}
    if not case_ids:
        return by_case
    rows = await session.exec(
        select(Step)
        .where(col(Step.case_id).in_(case_ids), Step.status == StepStatus.open)
        .order_by(col(Step.due_at).is_(None), col(Step.due_at), col(Step.created_at))
    )
    for step in rows.all():
        by_case[step.case_id].append(step_out(step))
    return by_case


async def current(session: AsyncSession, case: Case) -> PolicyResult:
    """A result for a write that changed nothing the policy looks at."""
    return PolicyResult(next_steps=await open_steps_out(session, case.id))


async def scheduled_panels(session: AsyncSession, service: Service) -> list[ScheduledPanel]:
    """The service's scheduled panels, for ``next-panel`` deadlines."""
    return await load_scheduled_panels(session, service.id)


def evaluate_for(
    ctx: PolicyContext,
    service: Service,
    case: Case,
    open_steps: Sequence[Step],
    wf_event: WorkflowEvent,
    panels: Sequence[ScheduledPanel],
) -> Evaluation:
    """Run the engine (pure) for a case and event."""
    return evaluate(
        wf_event, snapshot(case, open_steps), ctx.pack_for(service), ctx.calendar, panels
    )


def validate_alone(
    ctx: PolicyContext, service: Service, case: Case, wf_event: WorkflowEvent, domain: str
) -> Evaluation:
    """Check a back-filled judgement on its own: as if its domain were unknown and the case off
    the register and without open steps; raise its violations, apply nothing."""
    current = snapshot(case, ())
    alone = replace(current, ratings={**current.ratings, domain: None}, on_register=False)
    evaluation = evaluate(wf_event, alone, ctx.pack_for(service), ctx.calendar, ())
    raise_violations(evaluation)
    return evaluation


def raise_violations(evaluation: Evaluation) -> None:
    """Turn the engine's refusals into one problem (the first violation leads)."""
    if not evaluation.violations:
        return
    first = evaluation.violations[0]
    errors = [{"loc": loc, "msg": msg} for v in evaluation.violations for loc, msg in v.errors]
    raise PolicyViolation(
        first.detail,
        slug=first.type_slug,
        title=first.title,
        status=first.status,
        errors=errors or None,
        extra={"rules": [v.rule_id for v in evaluation.violations]},
    )


async def run(
    session: AsyncSession,
    ctx: PolicyContext,
    service: Service,
    case: Case,
    principal: Principal,
    wf_event: WorkflowEvent,
    *,
    role: str | None = None,
) -> PolicyResult:
    """Evaluate the event and apply its intents in the current unit of work."""
    open_steps = await open_steps_of(session, case.id)
    panels = await scheduled_panels(session, service)
    evaluation = evaluate_for(ctx, service, case, open_steps, wf_event, panels)
    raise_violations(evaluation)
    apply_derived(case, evaluation)
    by_id = {s.id: s for s in open_steps}
    created: list[Step] = []
    superseded: list[Step] = []
    updated: list[Step] = []
    for intent in evaluation.intents:
        if intent.action == "create":
            created.append(_create_step(case, service, intent, principal, wf_event))
        elif intent.action == "supersede" and intent.step_id in by_id:
            step = by_id[intent.step_id]
            step.status = StepStatus.superseded
            step.note = _append(step.note, f"Superseded: {intent.note or 'condition ended'}")
            superseded.append(step)
        elif intent.action == "update_due" and intent.step_id in by_id:
            step = by_id[intent.step_id]
            step.due_at, step.awaiting_panel_date = intent.due_at, intent.awaiting_panel_date
            step.urgent = intent.urgent
            step.note = _append(step.note, intent.note) if intent.note else step.note
            updated.append(step)
    for step in created + updated:
        step.late_after = late_after(step.due_at, step.deadline_form, ctx.calendar)
    for step in created + superseded + updated:
        session.add(step)
    session.add(case)
    await session.flush()
    await _audit_steps(session, principal, service, case, created, superseded, role)
    return PolicyResult(
        next_steps=await open_steps_out(session, case.id),
        created=created, superseded=superseded, evaluation=evaluation,
    )


async def supersede_all_open(
    session: AsyncSession, service: Service, case: Case, principal: Principal, role: str,
    reason: str,
) -> PolicyResult:
    """Close every open step of the case as superseded (e.g. the case was closed)."""
    open_steps = await open_steps_of(session, case.id)
    for step in open_steps:
        step.status = StepStatus.superseded
        step.note = _append(step.note, f"Superseded: {reason}")
        session.add(step)
    await session.flush()
    await _audit_steps(session, principal, service, case, [], open_steps, role)
    return PolicyResult(next_steps=[], superseded=open_steps)


def apply_derived(case: Case, evaluation: Evaluation) -> None:
    """Copy what the engine derived (register, contact level) onto the case."""
    # A closed case is no longer managed here: off the register (Somerset 9) whatever it rated.
    case.on_register = evaluation.on_register_after and case.closed_at is None
    case.contact_level = (
        ContactLevel(evaluation.contact_level) if evaluation.contact_level else None
    )


def assignee_for(case: Case, intent: StepIntent) -> str | None:
    """The named assignee: explicit, else the case's holder or line manager by actor."""
    if intent.assignee_id:
        return intent.assignee_id
    attr = ACTOR_FIELDS.get(intent.actor)
    return getattr(case, attr) if attr else None


def _create_step(
    case: Case, service: Service, intent: StepIntent, principal: Principal,
    wf_event: WorkflowEvent,
) -> Step:
    assignee = assignee_for(case, intent)
    if assignee is None and intent.actor == wf_event.actor_role == "duty_manager":
        # S16: the duty manager who acted is the one who must advise the line manager.
        assignee = principal.sub
    return Step(
        service_id=service.id, case_id=case.id, code=intent.code, rule_id=intent.rule_id,
        title=intent.title, actor=intent.actor, assignee_id=assignee,
        due_at=intent.due_at, urgent=intent.urgent,
        awaiting_panel_date=intent.awaiting_panel_date, deadline_form=intent.deadline_form,
        recurrence=intent.recurrence, policy_pack=intent.policy_pack,
        policy_ref=intent.policy_ref, subject_id=intent.subject_id, note=intent.note,
        raised_at=wf_event.occurred_at,
    )


def _append(note: str | None, more: str) -> str:
    return f"{note}\n{more}" if note else more


async def _audit_steps(
    session: AsyncSession,
    principal: Principal,
    service: Service,
    case: Case,
    created: list[Step],
    superseded: list[Step],
    role: str | None,
) -> None:
    for step, action in [(s, "step.create") for s in created] + [
        (s, "step.supersede") for s in superseded
    ]:
        await record_audit(
            session, principal, action, "step", step.id, service_id=service.id,
            case_id=case.id, role=role,
            change={"code": step.code, "rule": step.rule_id, "status": str(step.status),
                    "due_at": step.due_at.isoformat() if step.due_at else None},
        )
