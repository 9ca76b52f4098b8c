"""Dry runs of the engine: what a judgement or event would produce, writing nothing."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlmodel.ext.asyncio.session import AsyncSession

from app.core.security import Principal
from app.domain import policy
from app.domain.access import MANAGERS, case_role_for, get_visible_case
from app.domain.common import UtcDatetime, resolve_occurred_at
from app.domain.judgements import JudgementCreate, judgement_event_data
from app.workflows.types import TRIGGERS


class PreviewRequest(BaseModel):
    """Body of ``POST /v1/workflow/preview``: a case and a judgement (or another trigger)."""

    model_config = ConfigDict(extra="forbid")
    case_id: uuid.UUID
    judgement: JudgementCreate | None = None
    trigger: str | None = Field(default=None, max_length=64)
    data: dict[str, Any] = Field(default_factory=dict)
    occurred_at: UtcDatetime | None = None


class PreviewStep(BaseModel):
    """A step the write would create, keep, supersede or reschedule."""

    action: Literal["create", "keep", "supersede", "update_due"]
    rule: str
    code: str
    title: str
    actor: str
    assignee_id: str | None
    due_at: datetime | None
    urgent: bool
    awaiting_panel_date: bool
    policy: dict[str, str]
    subject_id: uuid.UUID
    step_id: uuid.UUID | None
    note: str | None


class PreviewViolation(BaseModel):
    """A refusal the write would meet."""

    rule: str
    status: int
    type: str
    title: str
    detail: str
    errors: list[dict[str, str]]


class PreviewOut(BaseModel):
    """The engine's answer, as the write would get it."""

    valid: bool
    violations: list[PreviewViolation]
    steps: list[PreviewStep]
    matrix_level: str | None
    ratings_after: dict[str, str | None]
    on_register_after: bool
    register_change: str | None
    contact_level: str | None


# A judgement is previewed through ``judgement`` (validated like the write); the others by name.
PREVIEW_TRIGGERS = tuple(t for t in TRIGGERS if t != "judgement_recorded")


def _subject(body: PreviewRequest, case_id: uuid.UUID) -> uuid.UUID:
    """The event's subject: ``data.subject_id`` if given (a UUID), else the case or a new id."""
    from app.core.errors import Unprocessable

    if body.trigger not in PREVIEW_TRIGGERS:
        raise Unprocessable(
            f"Unknown trigger {body.trigger!r}; preview a judgement with 'judgement'.",
            errors=[{"loc": "body.trigger", "msg": f"one of {list(PREVIEW_TRIGGERS)}"}],
        )
    raw = body.data.get("subject_id")
    if raw is None:
        return case_id if body.trigger in ("case_changed", "step_completed") else uuid.uuid4()
    try:
        return uuid.UUID(str(raw))
    except ValueError as exc:
        raise Unprocessable("data.subject_id must be a UUID.",
                            errors=[{"loc": "body.data.subject_id", "msg": "not a UUID"}]) from exc


async def preview(
    session: AsyncSession, principal: Principal, body: PreviewRequest, ctx: policy.PolicyContext
) -> PreviewOut:
    """Evaluate without writing (the caller's session is never flushed)."""
    from app.core.errors import PROBLEM_BASE, Unprocessable, status_title

    service, case = await get_visible_case(session, principal, body.case_id)
    role = case_role_for(principal, case, ("case_holder", *MANAGERS, "chair"), "preview")
    if (body.judgement is None) == (body.trigger is None):
        raise Unprocessable("Send either a judgement or a trigger.",
                            errors=[{"loc": "body", "msg": "judgement xor trigger"}])
    if body.judgement is not None:
        occurred = resolve_occurred_at(body.judgement.occurred_at)
        wf = policy.event("judgement_recorded", occurred, case.id, principal,
                          judgement_event_data(body.judgement, False), role)
    else:
        occurred = resolve_occurred_at(body.occurred_at)
        wf = policy.event(str(body.trigger), occurred, _subject(body, case.id), principal,
                          body.data, role)
    open_steps = await policy.open_steps_of(session, case.id)
    panels = await policy.scheduled_panels(session, service)
    ev = policy.evaluate_for(ctx, service, case, open_steps, wf, panels)
    return PreviewOut(
        valid=not ev.violations,
        violations=[PreviewViolation(rule=v.rule_id, status=v.status,
                                     type=PROBLEM_BASE + v.type_slug,
                                     title=status_title(v.status),
                                     detail=v.detail,
                                     errors=[{"loc": a, "msg": b} for a, b in v.errors])
                    for v in ev.violations],
        steps=[PreviewStep(action=i.action, rule=i.rule_id, code=i.code, title=i.title,
                           actor=i.actor, assignee_id=policy.assignee_for(case, i),
                           due_at=i.due_at, urgent=i.urgent,
                           awaiting_panel_date=i.awaiting_panel_date,
                           policy={"pack": i.policy_pack, "ref": i.policy_ref},
                           subject_id=i.subject_id, step_id=i.step_id, note=i.note)
               for i in ev.intents],
        matrix_level=ev.matrix_level, ratings_after=dict(ev.ratings_after),
        on_register_after=ev.on_register_after, register_change=ev.register_change,
        contact_level=ev.contact_level,
    )
