"""Next steps: the mandated actions the policy engine derives, persisted with each write."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel
from sqlmodel import Field, SQLModel

from app.domain.common import enum_column, new_id, utcnow


class StepStatus(enum.StrEnum):
    """Lifecycle of a step."""

    open = "open"
    done = "done"
    superseded = "superseded"
    waived = "waived"


class Step(SQLModel, table=True):
    """One mandated next step: who must do what, by when, under which policy paragraph."""

    __tablename__ = "step"
    __table_args__ = (
        # Idempotency per case, code and subject, enforced by the database so that two
        # concurrent writes can never open the same step twice.
        sa.Index(
            "uq_step_open_case_code_subject",
            "case_id", "code", "subject_id",
            unique=True,
            sqlite_where=sa.text("status = 'open'"),
            postgresql_where=sa.text("status = 'open'"),
        ),
        sa.Index("ix_step_service_status_due", "service_id", "status", "due_at"),
        # The timeliness report reads a service's steps by due date, or by when they were
        # raised for steps without a timescale.
        sa.Index("ix_step_service_due", "service_id", "due_at"),
        sa.Index("ix_step_service_raised", "service_id", "raised_at"),
        # The queues and the escalation scan at national scale (migration 0005).
        sa.Index("ix_step_open_assignee_due", "assignee_id", "due_at",
                 sqlite_where=sa.text("status = 'open'"),
                 postgresql_where=sa.text("status = 'open'")),
        sa.Index("ix_step_open_unescalated_due", "due_at", "id",
                 sqlite_where=sa.text("status = 'open' AND escalated_at IS NULL"),
                 postgresql_where=sa.text("status = 'open' AND escalated_at IS NULL")),
    )

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    service_id: uuid.UUID = Field(foreign_key="service.id")
    case_id: uuid.UUID = Field(foreign_key="case.id", index=True)
    code: str = Field(max_length=64)
    rule_id: str = Field(max_length=16)
    title: str = Field(max_length=300)
    actor: str = Field(max_length=32)
    assignee_id: str | None = Field(default=None, max_length=128, index=True)
    due_at: datetime | None = Field(default=None)
    # When the step becomes late (due_at, but the end of that working day for "immediately");
    # null for steps recorded before migration 0009 outside "immediately" (then due_at counts).
    late_after: datetime | None = Field(default=None)
    urgent: bool = False
    awaiting_panel_date: bool = False
    deadline_form: str | None = Field(default=None, max_length=32)
    recurrence: str | None = Field(default=None, max_length=16)
    status: StepStatus = Field(
        default=StepStatus.open, sa_column=enum_column(StepStatus, server_default="open")
    )
    policy_pack: str = Field(max_length=64)
    policy_ref: str = Field(max_length=64)
    subject_id: uuid.UUID
    note: str | None = Field(default=None, max_length=2000)
    created_at: datetime = Field(default_factory=utcnow)
    # When the act that raised the step happened (its occurred_at; back-dated acts say so).
    raised_at: datetime = Field(default_factory=utcnow)
    completed_at: datetime | None = None
    completed_by: str | None = Field(default=None, max_length=128)
    completion_note: str | None = Field(default=None, max_length=4000)
    satisfied_by_type: str | None = Field(default=None, max_length=32)
    satisfied_by_id: uuid.UUID | None = None
    escalated_at: datetime | None = None


class PolicyRef(BaseModel):
    """Where in the written policy a step comes from."""

    pack: str
    ref: str
    rule: str


class StepOut(BaseModel):
    """A step as the API shows it (``api-v1.md``, "A step")."""

    id: uuid.UUID
    case_id: uuid.UUID
    code: str
    title: str
    actor: str
    assignee_id: str | None
    due_at: datetime | None
    urgent: bool
    awaiting_panel_date: bool
    status: str
    policy: PolicyRef
    subject_id: uuid.UUID
    note: str | None
    created_at: datetime
    completed_at: datetime | None
    completed_by: str | None = None
    completion_note: str | None = None
    satisfied_by: dict[str, Any] | None = None


def step_out(step: Step) -> StepOut:
    """Shape a step for the API."""
    satisfied = (
        {"type": step.satisfied_by_type, "id": str(step.satisfied_by_id)}
        if step.satisfied_by_type else None
    )
    return StepOut(
        id=step.id, case_id=step.case_id, code=step.code, title=step.title, actor=step.actor,
        assignee_id=step.assignee_id, due_at=step.due_at, urgent=step.urgent,
        awaiting_panel_date=step.awaiting_panel_date, status=str(step.status),
        policy=PolicyRef(pack=step.policy_pack, ref=step.policy_ref, rule=step.rule_id),
        subject_id=step.subject_id, note=step.note, created_at=step.created_at,
        completed_at=step.completed_at, completed_by=step.completed_by,
        completion_note=step.completion_note, satisfied_by=satisfied,
    )
