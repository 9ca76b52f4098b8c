"""Value types the policy engine takes and returns (frozen, no I/O, aware datetimes, UUID ids)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Literal
from uuid import UUID

Level = Literal["low", "medium", "high", "very_high"]
Domain = Literal["rosh", "swb", "lor"]
IntentAction = Literal["create", "keep", "supersede", "update_due", "drop_reason"]

LEVELS: tuple[str, ...] = ("low", "medium", "high", "very_high")
DOMAINS: tuple[str, ...] = ("rosh", "swb", "lor")
LEVEL_RANK: Mapping[str, int] = {level: rank for rank, level in enumerate(LEVELS)}

TRIGGERS: tuple[str, ...] = (
    "case_opened",
    "assessment_created",
    "judgement_recorded",
    "case_changed",
    "assessment_submitted",
    "assessment_countersigned",
    "assessment_returned",
    "case_event",
    "referral_created",
    "referral_transition",
    "panel_item_added",
    "panel_decision",
    "panel_scheduled",
    "step_completed",
)


# The event data each trigger carries: the keys app/domain puts in a ``WorkflowEvent``'s ``data``
# (judgements.judgement_event_data, events_table.event_data, referrals, assessments, panels,
# agenda, next_steps, cases, feeds, events, replay). A condition atom that reads a key no trigger
# of its rule carries can never be met: ``pack check`` says so from this table (attack 17,
# A17-12). tests/workflows/test_pack_check.py ties it to the builders and to the preview's models.
_JUDGEMENT_DATA = frozenset({
    "domain", "level", "impact", "likelihood", "setting", "rationale", "victims",
    "via_panel_decision", "record_id", "assessment_pending", "assessment_completed_at",
    "assessment_type", "assessment_unnamed", "transfer_pending", "transfer_date", "replay",
    "answers_rating_review", "assessment_id"})
_ASSESSMENT_DATA = frozenset({
    "type", "stage", "assessment_id", "scores", "answers_review_request"})
_REFERRAL_DATA = frozenset({"kind", "source", "from_feed"})
EVENT_DATA: Mapping[str, frozenset[str]] = {
    "case_opened": frozenset(),
    "assessment_created": frozenset({"type", "stage", "assessment_id"}),
    "judgement_recorded": _JUDGEMENT_DATA,
    "case_changed": frozenset({"changes", "replay", "custody_event"}),
    "assessment_submitted": _ASSESSMENT_DATA,
    "assessment_countersigned": _ASSESSMENT_DATA | {
        f"completes_{domain}_{what}" for domain in DOMAINS
        for what in ("rating", "own_rating", "panel_rating")},
    "assessment_returned": _ASSESSMENT_DATA,
    "case_event": frozenset({
        "type", "event_id", "may_raise_to_high", "transfer_date", "details", "known_at",
        "incoming_ratings", "release_address_other_area", "custody_move_recorded",
        "notifiable_offence", "offence_not_notifiable"}),
    "referral_created": _REFERRAL_DATA,
    "referral_transition": frozenset({"kind", "action", "to_status", "undone_records"}),
    "panel_item_added": frozenset({"panel_id", "panel_kind", "panel_chair_id", "scheduled_for"}),
    "panel_decision": frozenset({
        "rosh_level", "swb_level", "actions", "review_date", "mappa_level", "panel_kind",
        "panel_chair_id", "attendees"}),
    "panel_scheduled": frozenset({"panel_id", "kind", "change", "void_due_at"}),
    "step_completed": frozenset({
        "code", "rule_id", "step_id", "record_id", "due_at", "completed_by_role", "actor",
        "reasons", "status", "waived", "act_kind"}),
}

# What each decided action of a ``panel_decision`` (its data's ``actions``) carries for the step a
# ``for_each = "actions"`` line makes of it (engine ``_Plan._instances``): only such a line reads
# them (``due-date`` counts from the action's ``due_date``; ``pack check``, A26a-2).
ACTION_DATA: frozenset[str] = frozenset({"subject_id", "description", "owner_id", "due_date"})

# Event data a trigger's acts carry only in one case, and the condition atom that says so: a
# judgement carries ``transfer_date`` only while a transfer out is pending (``transfer_pending``,
# app.domain.judgements), a case event only for a transfer in or out (app.domain.events
# ``TYPE_FIELDS``; tests/workflows/test_pack_check.py ties the two). A data-bound deadline on
# such a line must test it, or the step is undated for every other act (``pack check``, A26a-2).
GUARDED_DATA: Mapping[tuple[str, str], tuple[str, frozenset[str]]] = {
    ("judgement_recorded", "transfer_date"): ("event_flag", frozenset({"transfer_pending"})),
    ("case_event", "transfer_date"): ("event_type_in", frozenset({"transfer_in", "transfer_out"})),
}


@dataclass(frozen=True)
class OpenStep:
    """A step that is open on the case, as the engine needs to see it."""

    id: UUID
    code: str
    rule_id: str
    subject_id: UUID
    due_at: datetime | None
    awaiting_panel_date: bool
    deadline_form: str | None
    actor: str
    # Every reason the step is open for: ``{rule, pack, ref, trigger, record: {type, id}, at}``.
    reasons: tuple[Mapping[str, Any], ...] = ()


@dataclass(frozen=True)
class CaseSnapshot:
    """The engine's read-only view of a case before the event."""

    case_id: UUID
    intervention: str
    statutory: bool
    csc_status: str
    weapon_related: bool = False
    mappa_category: int | None = None
    mappa_level: int | None = None
    expected_release_date: date | None = None
    in_custody: bool = False
    volunteer_attached: bool = False
    ratings: Mapping[str, str | None] = field(default_factory=dict)
    # The ratings the child arrived with from another service (the latest transfer in's
    # ``incoming_ratings``), by domain: counted by ``incoming_rating_pending_in`` while this
    # service has not rated that domain itself (Somerset 13.3; attack 28b, ATK28B-11).
    # With ``incoming_at`` (the arrival's instant), those still standing at the snapshot's
    # moment: a domain the service judged after the arrival is answered and left out, a
    # judgement dated before it answers nothing (attack 30a, A30a-13; fix32a). Without it (a
    # scenario's case, a case stored before), a domain the service rates is answered.
    incoming_ratings: Mapping[str, str | None] = field(default_factory=dict)
    incoming_at: datetime | None = None
    # The assessment types of which the case has a countersigned (complete) assessment
    # (``countersigned_assessment_in``; Wokingham W3, attack 28b, ATK28B-9).
    countersigned_types: frozenset[str] = frozenset()
    on_register: bool = False
    closed_at: datetime | None = None
    # The periods the case was closed before a reopening: (closure, reopening), aware UTC.
    closed_periods: tuple[tuple[datetime, datetime], ...] = ()
    open_steps: tuple[OpenStep, ...] = ()
    # The judgement id of each current rating (``rating:<domain>`` step subjects).
    rating_ids: Mapping[str, str | None] = field(default_factory=dict)
    # The case is on a panel's agenda with no decision yet (a panel is booked for it).
    on_panel_agenda: bool = False
    # The panels whose agenda the case is on, undecided: its ``next-panel`` steps are due at
    # the one of these that comes first at or after their act (Somerset 6.2 "before the initial
    # panel": the panel it is actually on, not whichever is next; attack pass 11, A11-13).
    agenda_panel_ids: frozenset[UUID] = frozenset()
    # Those agenda items (undecided, not withdrawn), each with its own panel's id: a
    # ``next-panel`` step whose subject is one of them (Somerset S48, 7.1.1 "The case holder
    # will attend MARP to discuss the case") is due at that item's sitting, not at whichever
    # of the case's panels comes first (ATTACK37-7: the attendance for a later MARP's item was
    # due at an earlier MARP the case was also on).
    agenda_item_panels: Mapping[UUID, UUID] = field(default_factory=dict)
    # The panels that have decided the case (its agenda item there decided), with the
    # decision's instant: a ``next-panel`` step asked at or after that instant is not due at
    # that sitting (it has heard the case; "by the next MARP", Somerset 7.1.9, 3.2.3: the next
    # one; fix37a, ATTACK36-1).
    decided_panels: Mapping[UUID, datetime] = field(default_factory=dict)
    # The panels whose agenda the case was taken off undecided (withdrawn, or deferred at the
    # sitting) and is not on again: none of its ``next-panel`` steps is due at one of them; they
    # take the next sitting of the kind, or wait for one, as when a sitting is cancelled
    # (ATTACK36-3: S8's views and S10's MAPPA level stayed due at the sitting the case had left).
    left_panel_ids: frozenset[UUID] = frozenset()
    # A panel referral of the case stands (made, not withdrawn or declined) that no panel has
    # decided on yet: the referral is made (Somerset 3.2.3, Wokingham's High-Risk Panel request).
    panel_referred: bool = False
    # The kinds of the case's referrals sent by the event's instant (their ``sent_at``, that
    # instant included: fix40c) and standing (sent, received or accepted; not withdrawn or
    # declined): the form has gone to the receiver (Somerset 8.3.3 "Referral to MAPPA 2 is
    # achieved by sending a 'MAPPA A' Referral form"; ``referral_sent_in``).
    referrals_sent: frozenset[str] = frozenset()
    # The case holder's absences (London dates, inclusive) from the event's day on: an absence
    # ends their working week early for ``+1wd-in-week``.
    case_holder_absences: tuple[tuple[date, date], ...] = ()
    # The pack's typed case facts and the latest assessment scores, by name.
    facts: Mapping[str, Any] = field(default_factory=dict)
    scores: Mapping[str, int] = field(default_factory=dict)
    date_of_birth: date | None = None

    def closure_in_force(self, at: datetime) -> datetime | None:
        """The closure the case was under at the instant ``at``: the current one when ``at`` is
        at or after its ``closed_at``, or the start of a closed period (before a reopening) that
        ``at`` falls inside; None when the case was open then. Judged by the act's time,
        whatever the order acts were typed in (attack 24b, A24b-3, A24b-7). A closure is in
        force from its own instant (supervision has ended then: Somerset 12's "following the
        end of supervision"; a change of the case's fields is in force at its instant, as
        ``case_fields_at`` reads it), a reopening from its own: the period is ``[closed,
        reopened)``. An act dated at a closure was judged on the open case when typed before the
        closure and on the closed one after it (A25-2); a closure or reopening is therefore
        dated after every act already recorded (``acts.require_after_latest_act``)."""
        if self.closed_at is not None and at >= self.closed_at:
            return self.closed_at
        for start, end in self.closed_periods:
            if start <= at < end:
                return start
        return None


WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


@dataclass(frozen=True)
class Cadence:
    """When a panel kind meets, as its pack states it (``weekly on Thursday``): on
    ``weekday`` (0 Monday .. 6 Sunday) every ``every_weeks`` weeks, counted from ``anchor``
    (a London date on that weekday; needed when the interval is longer than a week)."""

    weekday: int
    every_weeks: int = 1
    anchor: date | None = None
    text: str = field(default="", compare=False)

    def next_meeting(self, after: date) -> date:
        """The first meeting day strictly after the London date ``after`` (a panel sitting on
        the day of the act has set its agenda). Bank holidays are the caller's (deadlines)."""
        day = after + timedelta(days=1 + (self.weekday - after.weekday() - 1) % 7)
        if self.every_weeks > 1 and self.anchor is not None:
            behind = ((day - self.anchor).days // 7) % self.every_weeks
            if behind:
                day += timedelta(weeks=self.every_weeks - behind)
        return day


@dataclass(frozen=True)
class ScheduledPanel:
    """A panel meeting on the service's calendar, of one of its pack's panel kinds."""

    id: UUID
    kind: str
    scheduled_for: datetime


@dataclass(frozen=True)
class WorkflowEvent:
    """Something that happened, with the data its trigger carries."""

    trigger: str
    occurred_at: datetime
    subject_id: UUID
    actor_role: str
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StepIntent:
    """What the database side should do with one step: create, keep, supersede or re-date it."""

    action: IntentAction
    rule_id: str
    code: str
    title: str
    actor: str
    subject_id: UUID
    due_at: datetime | None
    urgent: bool
    awaiting_panel_date: bool
    policy_pack: str
    policy_ref: str
    deadline_form: str | None = None
    policy_version: str | None = None
    recurrence: str | None = None
    note: str | None = None
    assignee_id: str | None = None
    step_id: UUID | None = None
    # Why this step is asked for (create), or the further reasons an open one now also carries
    # (keep / update_due): ``{rule, pack, ref, trigger, record: {type, id}, at}``. For
    # ``drop_reason``: the reasons about the record that no longer count.
    reasons: tuple[Mapping[str, Any], ...] = ()


@dataclass(frozen=True)
class Violation:
    """A write the policy refuses: 422, or 409 for M6 (panel approval required)."""

    rule_id: str
    status: int
    type_slug: str
    title: str
    detail: str
    errors: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Evaluation:
    """Everything the engine derived from one event; nothing is applied when violations exist."""

    violations: tuple[Violation, ...]
    intents: tuple[StepIntent, ...]
    matrix_level: str | None
    ratings_after: Mapping[str, str | None]
    on_register_after: bool
    register_change: Literal["registered", "deregistered"] | None
    contact_level: str | None
    acknowledgements: tuple[str, ...] = ()
