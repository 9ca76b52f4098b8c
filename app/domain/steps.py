"""Next steps: the mandated actions the policy engine derives, persisted with each write."""

from __future__ import annotations

import enum
import uuid
from collections import namedtuple
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, TypeAdapter
from sqlmodel import Field, SQLModel

from app.domain.common import JSONType, enum_column, new_id, utcnow
from app.workflows.calendar import end_of_day, london_date

# The code of the step the escalation worker raises over an overdue step: defined with the packs'
# vocabulary, where ``pack check`` reserves it (A26a-1); app/domain imports it from here.
from app.workflows.vocabulary import ESCALATION_CODE as ESCALATION_CODE

# The title of a panel action's escalation on a case an allow-list restricts: the action's own
# title is the panel's free text, which only those who may see the case read. Role holders the
# list leaves out then see the escalation as a bare duty (app.domain.next_steps._role_duties),
# so it reaches someone who may act even when no holder of its role is on the list.
RESTRICTED_ACTION_ESCALATION = ("Escalate overdue step: a panel action (its text is on the "
                                "restricted case; ask its line manager or case holder)")


def owed_by(overdue: Any) -> str:
    """The role whose duty the overdue step is: its actor, but a panel action
    (``action_owner``) is owed in the role its owner held at the decision (``owner_role``): a
    chair's action escalates as every chair's duty does (the pack's ``to.chair``: Somerset's
    senior managers who "take escalations", 3.3, as for the chair's CSPPI notification), never
    to the case's line manager, junior to the chair; one owned by the case's own line manager
    goes over them (Somerset 7.1.7: obstacles go to "their line manager or duty manager"),
    never back to them (also for actions recorded before ``owner_role`` was: the case's line
    manager now). ``overdue`` has ``line_manager_id`` when it is a row of
    :func:`app.domain.escalation.overdue_batch`."""
    if overdue.actor != "action_owner":
        return str(overdue.actor)
    role = getattr(overdue, "owner_role", None)
    if role in ("chair", "line_manager"):
        return str(role)
    if overdue.assignee_id is not None \
            and overdue.assignee_id == getattr(overdue, "line_manager_id", None):
        return "line_manager"
    return str(overdue.actor)


class StepStatus(enum.StrEnum):
    """Lifecycle of a step."""

    open = "open"
    done = "done"
    superseded = "superseded"
    waived = "waived"
    # Already late when the need for it ended (its rating lowered, the case closed, the child
    # died...): missed, not withdrawn by the policy; counted late in the timeliness report
    # (ATTACK34B-7, migration 0034).
    missed = "missed"


NOTE_MAX = 2000  # the column's length (Step.note)


def append_note(note: str | None, more: str) -> str:
    """``more`` on a new line after ``note``, within the column's length: the oldest lines give
    way (each was audited when written, so nothing is lost), marked with an ellipsis. A step
    re-dated again and again (a case put on one agenda after another, a panel moved) grew past
    the column, which PostgreSQL refuses (SQLite does not check)."""
    text = f"{note}\n{more}" if note else more
    if len(text) <= NOTE_MAX:
        return text
    return "\u2026" + text[-(NOTE_MAX - 1):]


def superseded_note(reason: str) -> str:
    """The note line of a supersession: ``Superseded: <reason>``, once, whether or not the
    reason (an engine intent's note) already carries the prefix (attack pass 19, A19-16: notes
    read "Superseded: Superseded: ...")."""
    return reason if reason.startswith("Superseded: ") else f"Superseded: {reason}"


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
        # The timeliness report reads a service's steps by due date (from the index alone on
        # PostgreSQL: it covers what the report counts, migration 0012), or by when they were
        # raised for steps without a timescale.
        sa.Index("ix_step_service_due", "service_id", "due_at",
                 postgresql_include=["status", "overdue_at", "completed_at", "raised_at",
                                     "policy_pack", "policy_version", "rule_id", "code",
                                     "case_id"]),
        sa.Index("ix_step_service_raised", "service_id", "raised_at"),
        # The queues (migration 0005) and the escalation pass (0012) at national scale.
        sa.Index("ix_step_open_assignee_due", "assignee_id", "due_at",
                 sqlite_where=sa.text("status = 'open'"),
                 postgresql_where=sa.text("status = 'open'")),
        # Dated steps only (0013): an escalation step is undated and never escalated itself.
        sa.Index("ix_step_open_unescalated_service_due", "service_id", "due_at", "id",
                 sqlite_where=sa.text(
                     "status = 'open' AND escalated_at IS NULL AND due_at IS NOT NULL"),
                 postgresql_where=sa.text(
                     "status = 'open' AND escalated_at IS NULL AND due_at IS NOT NULL")),
        sa.Index("ix_step_open_escalation_subject", "subject_id",
                 sqlite_where=sa.text("status = 'open' AND code = 'escalate_overdue_step'"),
                 postgresql_where=sa.text("status = 'open' AND code = 'escalate_overdue_step'")),
    )

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    service_id: uuid.UUID = Field(foreign_key="service.id")
    case_id: uuid.UUID = Field(foreign_key="case.id", index=True)
    code: str = Field(max_length=64)
    rule_id: str = Field(max_length=16)
    title: str = Field(max_length=300)
    actor: str = Field(max_length=32)
    assignee_id: str | None = Field(default=None, max_length=128, index=True)
    # A panel action's (``action_owner``) owner's role when the panel decided, where the
    # decision shows it: ``chair`` (the panel's recorded chair, or the chair recording the
    # decision), ``line_manager`` or ``case_holder`` (the case's, then). Its escalation goes
    # over that role, as for any step of that role (migration 0015; null: not known).
    owner_role: str | None = Field(default=None, max_length=32)
    due_at: datetime | None = Field(default=None)
    urgent: bool = False
    # The case is dealt with as a priority (the pack's ``[priority]``, Somerset 3.2.4): set on
    # the open steps and cleared as the case's ratings change; a closed step keeps the value it
    # had (migration 0025; attack pass 19, A19-2). Not ``urgent``: no deadline changes.
    priority: bool = Field(default=False, sa_column_kwargs={"server_default": sa.false()})
    awaiting_panel_date: bool = False
    deadline_form: str | None = Field(default=None, max_length=32)
    recurrence: str | None = Field(default=None, max_length=16)
    status: StepStatus = Field(
        default=StepStatus.open, sa_column=enum_column(StepStatus, server_default="open")
    )
    policy_pack: str = Field(max_length=64)
    # The pack version in force when the step was made (null: made before versions existed).
    policy_version: str | None = Field(default=None, max_length=16)
    policy_ref: str = Field(max_length=64)
    subject_id: uuid.UUID
    note: str | None = Field(default=None, max_length=NOTE_MAX)
    created_at: datetime = Field(default_factory=utcnow)
    # When the act that raised the step happened (its occurred_at; back-dated acts say so):
    # no completion or waiver may predate it.
    raised_at: datetime = Field(default_factory=utcnow)
    # When the step counts as overdue for escalation: its due time, except that a step due
    # "immediately" (urgent) is late only after the end of that working day (Europe/London).
    overdue_at: datetime | None = Field(default=None)
    completed_at: datetime | None = None
    completed_by: str | None = Field(default=None, max_length=128)
    completion_note: str | None = Field(default=None, max_length=4000)
    satisfied_by_type: str | None = Field(default=None, max_length=32)
    satisfied_by_id: uuid.UUID | None = None
    escalated_at: datetime | None = None
    # When the condition that required it stopped holding, for a step the engine superseded so
    # (the time of the act that ended it; migration 0024): an act dated before that, recorded
    # after it, that keeps the condition holding revives it (redate7's leftover).
    lapsed_at: datetime | None = None
    # Every reason the step is open for (one duty, one step): ``{rule, pack, ref, trigger,
    # record: {type, id}, at}``; the first is the one ``policy`` shows.
    reasons: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSONType)
    # The referral whose making (or sending) means the step was never raised: kept superseded
    # at the instant it arose, hidden from the record (fix41c), and not "the duty closed since"
    # once that referral is withdrawn or declined (fix42a). Stored when the referral hides it
    # (migration 0039, backfilled from the reason fix41c wrote in its note; no foreign key:
    # the id is a recorded fact about the step, read by the referral's id only). Null: not
    # hidden by a referral.
    hidden_by_referral_id: uuid.UUID | None = Field(default=None)


class PolicyRef(BaseModel):
    """Where in the written policy a step comes from."""

    pack: str
    version: str | None = None
    ref: str
    rule: str


class StepRecord(BaseModel):
    """The record that gave a step a reason (a judgement, event, assessment, referral...)."""

    type: str
    id: str


class StepReason(BaseModel):
    """One reason a step is open: the rule and paragraph, and the record that triggered it."""

    rule: str
    pack: str
    ref: str
    trigger: str | None = None
    record: StepRecord | None = None
    at: datetime | None = None


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
    priority: bool = Field(default=False, description=(
        "the case is dealt with as a priority (Somerset 3.2.4: ROSH or SWB very high); set "
        "and cleared on open steps as the ratings change; not `urgent`: deadlines unchanged"))
    awaiting_panel_date: bool
    status: str
    policy: PolicyRef
    subject_id: uuid.UUID
    note: str | None
    created_at: datetime
    raised_at: datetime | None = None
    overdue_at: datetime | None = None
    completed_at: datetime | None
    completed_by: str | None = None
    completion_note: str | None = None
    satisfied_by: dict[str, Any] | None = None
    reasons: list[StepReason] = []
    overdue: bool = False


def is_overdue(step: Step, now: datetime | None = None) -> bool:
    """Open and past its due time; a step due ``immediately`` (urgent, due at the event) is late
    only once the Europe/London day it fell due on has ended."""
    if step.status != StepStatus.open or step.due_at is None:
        return False
    moment = now or utcnow()
    if step.overdue_at is not None:  # the escalation rule (working days), set with due_at
        return step.overdue_at < moment
    due = step.due_at
    if step.deadline_form == "immediately":
        due = end_of_day(london_date(due))
    return due < moment


def reasons_of(step: Step) -> list[dict[str, Any]]:
    """The step's reasons; a step stored before reasons were kept shows its own rule."""
    if step.reasons:
        return list(step.reasons)
    return [{"rule": step.rule_id, "pack": step.policy_pack, "ref": step.policy_ref,
             "record": {"type": "subject", "id": str(step.subject_id)}}]


def step_fields(step: Any, now: datetime) -> dict[str, Any]:
    """A step's fields as the API shows them (``StepOut``'s input), from a :class:`Step` or a
    row of :data:`STEP_OUT_COLUMNS`; ``overdue`` as of ``now``."""
    return {
        "id": step.id, "case_id": step.case_id, "code": step.code, "title": step.title,
        "actor": step.actor, "assignee_id": step.assignee_id, "due_at": step.due_at,
        "urgent": step.urgent, "priority": step.priority,
        "awaiting_panel_date": step.awaiting_panel_date, "status": str(step.status),
        "policy": {"pack": step.policy_pack, "version": step.policy_version,
                   "ref": step.policy_ref, "rule": step.rule_id},
        "subject_id": step.subject_id, "note": step.note, "created_at": step.created_at,
        "raised_at": step.raised_at, "overdue_at": step.overdue_at or step.due_at,
        "completed_at": step.completed_at, "completed_by": step.completed_by,
        "completion_note": step.completion_note,
        "satisfied_by": ({"type": step.satisfied_by_type, "id": str(step.satisfied_by_id)}
                         if step.satisfied_by_type else None),
        "reasons": reasons_of(step), "overdue": is_overdue(step, now),
    }


def step_out(step: Step, now: datetime | None = None) -> StepOut:
    """Shape a step for the API (``overdue`` as of ``now``, default the wall clock)."""
    return StepOut.model_validate(step_fields(step, now or utcnow()))


# The columns :func:`step_fields` reads: a list of steps is read as plain rows of these (no
# ORM object per step) and shaped in one validator call (:func:`steps_out`). Each row is
# turned into a named tuple first: its fields read in C, where a ``Row``'s attributes cost
# a lookup each (about a third of shaping a page of steps).
_STEP_OUT_NAMES = (
    "id", "case_id", "code", "title", "actor", "assignee_id", "due_at", "urgent", "priority",
    "awaiting_panel_date", "status", "policy_pack", "policy_version", "policy_ref", "rule_id",
    "subject_id", "note", "created_at", "raised_at", "overdue_at", "completed_at",
    "completed_by", "completion_note", "satisfied_by_type", "satisfied_by_id", "reasons",
    "deadline_form",
)
# (The mapped attributes, not the table's columns: an ORM select autoflushes the session first.)
STEP_OUT_COLUMNS = tuple(getattr(Step, name) for name in _STEP_OUT_NAMES)
StepRow = namedtuple("StepRow", _STEP_OUT_NAMES)  # type: ignore[misc]
_STEPS_OUT: TypeAdapter[list[StepOut]] = TypeAdapter(list[StepOut])


def steps_out(rows: Iterable[Sequence[Any]], now: datetime | None = None) -> list[StepOut]:
    """Shape many steps, rows of :data:`STEP_OUT_COLUMNS` in that order, for the API in one
    validator call, ``overdue`` as of one ``now``."""
    moment = now or utcnow()
    make = StepRow._make
    return _STEPS_OUT.validate_python([step_fields(make(row), moment) for row in rows])


# The JSON of list pages (app.domain.page_json) shapes a step without a StepOut: the same fields
# in the same order, as the model would hold them.
_DATETIME: TypeAdapter[datetime] = TypeAdapter(datetime)
_REASON: TypeAdapter[StepReason] = TypeAdapter(StepReason)
# A reason's ``at`` is read as the model reads it, text by text. Not remembered across writes
# (issue 15, twenty-first session): a process-wide table of them (8,192 instants) took each
# write's own new instant, a long-lived object among the request's short-lived ones, which
# kept the allocator's arenas from being returned: ~2 MB of resident memory after 8,000
# writes (with the JSON reader's value strings, app.core.db.json_value) for 0.4% of a
# judgement write's instructions.


def _reason_at(at: str) -> datetime:
    """A reason's stored ``at`` as :class:`StepReason` reads it."""
    return _DATETIME.validate_python(at)


def _reason(reason: Any) -> Any:
    """A reason as ``StepReason`` shows it: its six fields in order (others left out), ``at``
    read as the model reads it; a reason of any other shape goes through the model."""
    if type(reason) is dict:
        rule, pack, ref = reason.get("rule"), reason.get("pack"), reason.get("ref")
        trigger, record, at = reason.get("trigger"), reason.get("record"), reason.get("at")
        if (type(rule) is str and type(pack) is str and type(ref) is str
                and (trigger is None or type(trigger) is str)
                and (at is None or type(at) is str)
                and (record is None or (type(record) is dict and type(record.get("type")) is str
                                        and type(record.get("id")) is str))):
            return {"rule": rule, "pack": pack, "ref": ref, "trigger": trigger,
                    "record": None if record is None
                    else {"type": record["type"], "id": record["id"]},
                    "at": None if at is None else _reason_at(at)}
    return _REASON.validate_python(reason)


def step_json(step: Any, now: datetime) -> dict[str, Any]:
    """A step as ``StepOut`` shows it (``overdue`` as of ``now``), from a :class:`Step` or a
    row of :data:`STEP_OUT_COLUMNS` (the fields :func:`step_fields` reads)."""
    due_at = step.due_at
    return {
        "id": str(step.id), "case_id": str(step.case_id), "code": step.code,
        "title": step.title, "actor": step.actor, "assignee_id": step.assignee_id,
        "due_at": due_at, "urgent": step.urgent, "priority": step.priority,
        "awaiting_panel_date": step.awaiting_panel_date,
        "status": str(step.status),
        "policy": {"pack": step.policy_pack, "version": step.policy_version,
                   "ref": step.policy_ref, "rule": step.rule_id},
        "subject_id": str(step.subject_id), "note": step.note, "created_at": step.created_at,
        "raised_at": step.raised_at, "overdue_at": step.overdue_at or due_at,
        "completed_at": step.completed_at, "completed_by": step.completed_by,
        "completion_note": step.completion_note,
        "satisfied_by": ({"type": step.satisfied_by_type, "id": str(step.satisfied_by_id)}
                         if step.satisfied_by_type else None),
        "reasons": [_reason(r) for r in reasons_of(step)],
        "overdue": is_overdue(step, now),
    }


def steps_json(steps: Iterable[Any], now: datetime) -> list[dict[str, Any]]:
    """:func:`step_json` of each step."""
    return [step_json(step, now) for step in steps]
