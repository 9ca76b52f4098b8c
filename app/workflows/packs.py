"""Policy packs: one TOML file per local policy, validated on load (see ``packs/README.md``).

A pack holds the step rules (trigger, condition, step, actor, deadline, policy paragraph, ``holds``,
recurrence), the write checks (M2-M7, S20), the ROSH matrix (M1), the register definition and the
contact-level table (W11). A new authority is a new file; the engine does not change.
"""

from __future__ import annotations

import copy
import functools
import json
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Any, Literal, get_args
from uuid import UUID

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from app.workflows.calendar import london_date
from app.workflows.conditions import Condition, ConditionError, Context, compile_condition
from app.workflows.deadlines import FORM_EVENT_KEYS, parse_form
from app.workflows.pack_check import Problem, check_pack
from app.workflows.types import DOMAINS, TRIGGERS, CaseSnapshot, Level, WorkflowEvent
from app.workflows.vocabulary import (
    ACTORS,
    ASSESSMENT_STAGES,
    ASSESSMENT_TYPES,
    CLOSING_ACTS,
    CORE,
    CORE_EVENT_TYPES,
    CORE_REFERRAL_KINDS,
    DEATH,
    DEATH_CORE_FIELDS,
    NOT_DOING_ACTS,
    SITTING_ACTS,
    Escalation,
    EventType,
    Fact,
    Name,
    PanelKind,
    ReferralKind,
    Score,
    core_death,
    suggest,
)

PACK_DIR = Path(__file__).parent / "packs"
# Triggers whose event subject is the case itself (the rest: the event/referral/item record).
CASE_SUBJECT_TRIGGERS = frozenset(
    {"case_opened", "judgement_recorded", "case_changed", "step_completed"}
)
ContactLevel = Literal["fortnightly", "weekly", "twice_weekly", "three_times_weekly"]


class PackError(Exception):
    """A pack file is missing, unreadable or malformed; the message names the file and field,
    and ``problems`` holds one :class:`Problem` per fault (``yjrisk pack check`` prints them)."""

    def __init__(self, message: str, problems: tuple[Problem, ...] = (),
                 raw: Mapping[str, Any] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or (Problem("error", "-", "-", message),)
        # The file's table when it parsed as TOML (``salvage`` checks the rest of it).
        self.raw = raw


class PackFileUnreadable(PackError):
    """The file is missing, not a file, or not UTF-8 text: a user error, not a pack fault."""


def _condition(raw: Any) -> Condition:
    if isinstance(raw, Condition):
        return raw
    try:
        return compile_condition(raw, "condition")
    except ConditionError as exc:
        # Raised as is: ``_describe`` makes one problem of each of its messages.
        raise ConditionError(str(exc), exc.messages) from None


def _holds_condition(raw: Any) -> Condition:
    if isinstance(raw, Condition):
        return raw
    try:
        return compile_condition(raw, "holds", after_only=True)
    except ConditionError as exc:
        # Raised as is: ``_describe`` makes one problem of each of its messages.
        raise ConditionError(str(exc), exc.messages) from None


def _form(raw: Any) -> str:
    if not isinstance(raw, str):
        raise ValueError(f"a deadline form must be a string, got a {type(raw).__name__}")
    parse_form(raw)
    return raw


def _triggers(raw: Any) -> tuple[str, ...]:
    values = (raw,) if isinstance(raw, str) else tuple(raw)
    unknown = [t for t in values if t not in TRIGGERS]
    if unknown:
        named = ", ".join(f"{t!r}{suggest(str(t), TRIGGERS)}" for t in unknown)
        raise ValueError(f"unknown trigger {named}; the triggers are {', '.join(TRIGGERS)}")
    if not values:
        raise ValueError(f"no trigger given; the triggers are {', '.join(TRIGGERS)}")
    return values


def _raw(condition: Condition) -> Any:
    return condition.raw


# Conditions serialize back to the table they were written as (GET /v1/policy-packs shows them).
When = Annotated[Condition, BeforeValidator(_condition), PlainSerializer(_raw)]
Holds = Annotated[Condition, BeforeValidator(_holds_condition), PlainSerializer(_raw)]
Form = Annotated[str, BeforeValidator(_form)]
Triggers = Annotated[tuple[str, ...], BeforeValidator(_triggers)]
RuleId = Annotated[str, Field(pattern=r"^[A-Z][A-Z0-9]{0,7}[a-z]?$", max_length=16)]
Code = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]
Actor = Annotated[str, Field(pattern=r"^[a-z][a-z_]*$", max_length=32)]
Ref = Annotated[str, Field(min_length=1, max_length=64)]
Title = Annotated[str, Field(min_length=1, max_length=300)]
Period = Annotated[str, Field(pattern=r"^[1-9][0-9]?[dwm]$")]


class _Strict(BaseModel):
    model_config = ConfigDict(
        extra="forbid", frozen=True, arbitrary_types_allowed=True, populate_by_name=True,
        serialize_by_alias=True,
    )


def _event_types_named(raw: Any) -> frozenset[str]:
    """The event types a condition names in the ``event_type_in`` atoms it can hold through
    (not under a ``not``)."""
    if isinstance(raw, list | tuple):
        return frozenset().union(*(_event_types_named(item) for item in raw))
    if not isinstance(raw, Mapping):
        return frozenset()
    named: frozenset[str] = frozenset()
    for key, value in raw.items():
        if key == "event_type_in":
            named |= frozenset([value] if isinstance(value, str) else value or ())
        elif key in ("all", "any"):
            named |= _event_types_named(value)
    return named


class ConditionalForm(_Strict):
    """One branch of a conditional deadline: the form to use when the condition holds."""

    when: When | None = None
    form: Form
    # Carried on the step when this branch applies: where no deadline can be computed, the step
    # says what is missing (e.g. "not recorded as in custody").
    note: str | None = Field(default=None, max_length=500)


class Rule(_Strict):
    """One pack line: on a trigger, when a condition holds, a step for an actor by a deadline."""

    id: RuleId
    trigger: Triggers
    when: When | None = None
    code: Code
    title: Title
    actor: Actor
    deadline: Form | tuple[ConditionalForm, ...]
    ref: Ref
    holds: Holds | None = None
    recurrence: Period | None = None
    note: str | None = Field(default=None, max_length=1000)
    for_each: Literal["actions"] | None = None
    # ``rating:<domain>``: the step is about the current rating of that domain (its judgement);
    # no current rating, no step (a floor review of a rating not yet made).
    subject: Literal["event", "case", "rating:rosh", "rating:swb", "rating:lor"] = "event"
    dedupe: Literal["subject", "case"] = "subject"
    supersedes_previous: bool = False
    refresh_due: bool = False
    refresh_only: bool = False
    # The event data key naming the step's assignee (``panel_chair_id``: the panel's own chair);
    # unset or empty: the case's holder or line manager by actor, else anyone in the role.
    assignee_from: Literal["panel_chair_id"] | None = None
    # Re-date only an open step that has no due date yet (one waiting for this act).
    refresh_undated_only: bool = False
    # The policy accepts a management oversight entry in place of this step (W6 "defensible
    # management oversight entry", S11 "add management oversight on CMS").
    satisfiable_by_oversight: bool = False
    # Whose clock: ``occurred`` (when it happened), ``known`` (when it became known to the
    # worker: the event's ``known_at``, Wokingham "becomes known to the PYJS worker"),
    # ``assessment_completed`` (when the assessment a judgement belongs to was completed: the
    # event's ``assessment_completed_at``, Wokingham W9 "within two working days of the
    # assessment being completed"; without that moment in the event, when it happened), or
    # ``raised`` (a ``refresh_only`` line re-dating an open step): from the act that raised
    # that step under this rule id (Wokingham W3: three months after the countersignature that
    # set the review, not after the judgement that made the child high); the line does nothing
    # to a step no line of its rule raised.
    counts_from: Literal["occurred", "known", "assessment_completed", "raised"] = "occurred"
    # Completing a step of this code also answers the reasons dated after the completion (W7:
    # the panel requested is held after them and hears them). Otherwise (the default) a step
    # completed at T leaves the reasons whose act is after T owed, as a new open step: a review
    # done on 29 December cannot evidence a change on 31 December.
    completion_covers_later: bool = False
    # Who does the step when the holder its actor names (the case's line manager) is unavailable:
    # on a recorded absence (``POST /v1/staff/{id}/absences``) on any day from now to the step's
    # due day (today, for an undated step), when the step is made or when the absence is
    # recorded later. The step then goes to this role, unassigned (Somerset 3.1 "If the line
    # manager is unavailable, the duty manager will undertake these functions").
    stand_in: Actor | None = None
    # Who else the policy names as doing the step, besides its actor (Wokingham "the case worker
    # or their line manager to request a High-Risk Panel"; Somerset 7.1.1 "If not available, the
    # line manager will present the case"): ``case_holder`` / ``line_manager`` mean the case's
    # own holder / line manager, another role any holder of it in the service. They may complete
    # it (``POST /v1/next-steps/{id}/complete``); the step stays addressed to its actor.
    also_done_by: tuple[Actor, ...] = ()
    # Who takes a share ``also_done_by`` gives the case's holder of a role (``case_holder`` /
    # ``line_manager``) while that holder is away (a recorded absence today): ``{ line_manager =
    # "duty_manager" }`` (Somerset 3.1 "If the line manager is unavailable, the duty manager will
    # undertake these functions"; attack pass 10, A10-17). Any holder of the role may then
    # complete the step as that share's holder could; the step stays addressed to its actor.
    also_stand_in: dict[Actor, Actor] = Field(default_factory=dict)
    # The assessment types that do this step (Somerset 2.1: an AssetPlus for a statutory child,
    # a Fact Finding document otherwise; Wokingham "will be assessed using Asset+"): an
    # assessment of another type closes no step this line made. Unset: any type.
    assessment_types: tuple[str, ...] | None = None
    # The assessment stages that do this step (Wokingham "Assessments must be completed at the
    # start of the intervention/Order": a closure or transfer stage is not the start's
    # assessment, A9-3). Unset: any stage.
    assessment_stages: tuple[str, ...] | None = None

    @field_validator("assessment_types", "assessment_stages")
    @classmethod
    def _known_assessment_words(cls, value: Any, info: ValidationInfo) -> Any:
        """Some of the contract's assessment types / stages, at least one."""
        if value is not None:
            allowed = {"assessment_types": ASSESSMENT_TYPES,
                       "assessment_stages": ASSESSMENT_STAGES}[str(info.field_name)]
            unknown = [t for t in value if t not in allowed]
            if unknown or not value:
                what = str(info.field_name).replace("_", " ")
                meant = "".join(suggest(str(t), allowed) for t in unknown[:1])
                raise ValueError(f"{what} must be some of {', '.join(allowed)}"
                                 f" (got {', '.join(unknown) or 'none'}){meant}")
        return value

    @field_validator("deadline")
    @classmethod
    def _fallback_last(cls, value: Any) -> Any:
        if isinstance(value, tuple):
            if not value:
                raise ValueError("a conditional deadline needs at least one branch")
            if value[-1].when is not None:
                raise ValueError("the last branch of a conditional deadline must have no 'when'")
        return value

    @model_validator(mode="after")
    def _for_each_needs_decision(self) -> Rule:
        if self.for_each and self.trigger != ("panel_decision",):
            raise ValueError("for_each = 'actions' only applies to the panel_decision trigger")
        if self.counts_from == "raised" and not self.refresh_only:
            raise ValueError("counts_from = 'raised' re-dates an open step: it needs "
                             "refresh_only = true")
        for share, stand in self.also_stand_in.items():
            if share not in self.also_done_by or share not in ("case_holder", "line_manager"):
                raise ValueError(
                    f"also_stand_in.{share}: a stand-in is for a share also_done_by gives the "
                    "case's holder or line manager (someone whose absence is recorded)")
            if stand == share:
                raise ValueError(f"also_stand_in.{share}: a role does not stand in for itself")
        return self

    @property
    def period(self) -> str | None:
        """The recurrence period (``1m``), from ``recurrence`` or an ``every Nm`` deadline."""
        if self.recurrence:
            return self.recurrence
        if isinstance(self.deadline, str):
            return parse_form(self.deadline).recurrence
        return None

    @property
    def case_fields_read(self) -> frozenset[str]:
        """The case fields this line's ``when`` reads (``conditions.case_fields_read``: parsed,
        under any nesting or negation; not what its title or note mentions)."""
        return frozenset() if self.when is None else self.when.case_fields

    @property
    def subject_kinds(self) -> frozenset[str]:
        """Whether this line's steps are about the case, an event record, or either."""
        if self.subject == "case":
            return frozenset({"case"})
        if self.subject.startswith("rating:"):
            return frozenset({"event"})
        return frozenset(
            "case" if t in CASE_SUBJECT_TRIGGERS else "event" for t in self.trigger
        )

    def form_for(self, ctx: Context) -> str:
        """The deadline form that applies in this context."""
        if isinstance(self.deadline, str):
            return self.deadline
        for branch in self.deadline:
            if branch.when is None or branch.when(ctx):
                return branch.form
        return "none"

    def branch_note(self, ctx: Context) -> str | None:
        """The note of the conditional deadline branch that applies, if it has one."""
        if isinstance(self.deadline, str):
            return None
        for branch in self.deadline:
            if branch.when is None or branch.when(ctx):
                return branch.note
        return None


class Acknowledge(_Strict):
    """The step a check creates when a deviation is accepted with a rationale."""

    code: Code
    title: Title
    actor: Actor
    deadline: Form = "none"
    note: str | None = None


class Check(_Strict):
    """A write check (M2-M7, S20): when the condition holds, a field is required or refused."""

    id: RuleId
    trigger: Triggers = ("judgement_recorded",)
    when: When
    requires: str | None = None
    status: Literal[409, 422] = 422
    type_slug: Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]*$")]
    title: Title
    detail: str
    ref: Ref
    loc: str | None = None
    acknowledge: Acknowledge | None = None
    _ack_rule: Rule | None = PrivateAttr(default=None)

    def model_post_init(self, context: Any) -> None:
        """Turn the acknowledgement into an ordinary rule line."""
        if self.acknowledge is not None:
            ack = self.acknowledge
            self._ack_rule = Rule(
                id=self.id, trigger=self.trigger, code=ack.code, title=ack.title,
                actor=ack.actor, deadline=ack.deadline, ref=self.ref, note=ack.note,
            )

    @property
    def ack_rule(self) -> Rule | None:
        """The acknowledgement step as a rule line, if the check has one."""
        return self._ack_rule

    @property
    def error_loc(self) -> str:
        """Where the missing field goes in a 422 ``errors`` entry."""
        return self.loc or f"body.{self.requires or 'level'}"


class Matrix(_Strict):
    """M1: the impact x likelihood matrix giving ROSH ``matrix_level``."""

    rule_id: RuleId = "M1"
    ref: Ref
    impacts: tuple[str, ...]
    likelihoods: tuple[str, ...]
    levels: dict[str, Level | dict[str, Level]]

    @model_validator(mode="after")
    def _complete(self) -> Matrix:
        missing = [i for i in self.impacts if i not in self.levels]
        extra = [i for i in self.levels if i not in self.impacts]
        if missing or extra:
            raise ValueError(f"matrix levels: missing impacts {missing}, unknown impacts {extra}")
        for impact, row in self.levels.items():
            if isinstance(row, dict) and set(row) != set(self.likelihoods):
                raise ValueError(
                    f"matrix levels.{impact}: must give a level for each of {self.likelihoods}"
                )
        return self

    def level(self, impact: str | None, likelihood: str | None) -> str | None:
        """The matrix level, or None when impact or likelihood is missing or unknown."""
        row = self.levels.get(impact or "")
        if row is None or likelihood not in self.likelihoods:
            return None
        return row if isinstance(row, str) else row[str(likelihood)]


class Register(_Strict):
    """Which cases are on the register (Somerset 9), evaluated on the case after each event."""

    rule_id: RuleId
    ref: Ref
    when: Holds
    deregistered_by: RuleId | None = None
    deregistered_ref: Ref | None = None


class Priority(_Strict):
    """Which cases are dealt with as a priority (Somerset 3.2.4: "'Very High' judgements will
    trigger the case being dealt with as a priority at all stages"), evaluated on the case
    after each act like the register: the case and its open steps carry ``priority``."""

    rule_id: RuleId
    ref: Ref
    when: Holds
    # The cases whose priority a manager may raise (Somerset 3.2.4 "The urgency of oversight by
    # the MARP will be agreed with a manager, (High/Very High cases) who will act to raise the
    # priority if necessary"), and the paragraph; a raised priority lapses when this stops
    # holding. None: no manager raises it (the marker follows ``when`` alone).
    raisable: Holds | None = None
    raise_ref: Ref | None = None


class ContactBand(_Strict):
    """One band of the contact table: the first band whose condition holds wins."""

    level: ContactLevel
    when: Holds


class ContactTable(_Strict):
    """W11: contact frequency from the ratings."""

    rule_id: RuleId
    ref: Ref
    # At least one band: a table of none sets no contact level and says nothing (ATK28B-1).
    bands: Annotated[tuple[ContactBand, ...], Field(min_length=1)]


class CaseClosure(_Strict):
    """What a case must have before it may be closed (Wokingham "Assessment Reviews": "all
    statutory Orders, bail and remand cases must have a closure Asset+ or, where relevant, a
    Transfer to Probation Asset+"): for a case of one of ``interventions``, a countersigned
    (complete) assessment of one of ``assessment_types`` at one of ``assessment_stages``, unless
    an event of one of ``unless_event_types`` is recorded (a child who has died is not
    assessed). Closing without it is 422 ``closure-assessment-required``."""

    rule_id: RuleId
    ref: Ref
    # Each at least one (ATK28B-1): no intervention, and the requirement applies to no case; no
    # assessment type or stage, and no assessment meets it, so every such closure is refused.
    interventions: Annotated[tuple[Name, ...], Field(min_length=1)]
    assessment_types: Annotated[tuple[Name, ...], Field(min_length=1)]
    assessment_stages: Annotated[tuple[Name, ...], Field(min_length=1)]
    unless_event_types: tuple[Name, ...] = ()
    detail: Annotated[str, Field(min_length=1, max_length=600)]


ClosingAct = Literal[
    "assessment_submit", "assessment_countersign", "assessment_countersign_endorses",
    "referral_quality_assure", "referral_views",
    "panel_decision", "panel_decision_then", "panel_decision_mappa",
    "panel_decision_overtakes", "panel_decision_misses", "panel_decision_presenter",
    "panel_item_added", "rating_replaced", "assessment_submit_review",
]
assert set(ClosingAct.__args__) == set(CLOSING_ACTS)  # type: ignore[attr-defined]


class Pack(_Strict):
    """A local policy as data: vocabulary, rules, checks, matrix, register and contact table."""

    id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]*$", max_length=64)]
    # A revised policy is a new version of the same pack id, in force from its date.
    version: Annotated[str, Field(pattern=r"^[0-9A-Za-z][0-9A-Za-z.-]*$", max_length=16)] = "1"
    effective_from: date | None = None
    title: str
    authority: str
    source: str
    panel_kind: str | None = None
    # The pack's own words on top of the contract's core (packs/README.md "Vocabulary").
    event_types: tuple[EventType, ...] = ()
    referral_kinds: tuple[ReferralKind, ...] = ()
    panel_kinds: tuple[PanelKind, ...] = ()
    facts: tuple[Fact, ...] = ()
    scores: tuple[Score, ...] = ()
    # Which acts close which open steps (besides a referral kind's own ``closes``).
    closures: dict[ClosingAct, tuple[Code, ...]] = Field(default_factory=dict)
    # Step codes no line or duty manager may waive: duties the policy mandates without
    # exception (a referral to the panel of a high case, a child protection referral, MAPPA
    # notifications): a manager's judgement that one is not needed is not the policy's.
    not_waivable: tuple[Code, ...] = ()
    # Step codes an act closes (``[closures]``, a referral kind's ``closes``) that may also be
    # completed by hand (``POST /v1/next-steps/{id}/complete``): the act is one record of the
    # duty, not the only one (Somerset 3.2.4: a child protection referral "already included").
    # Every other code such an act closes is done only by that act (``done_only_by``).
    completable: tuple[Code, ...] = ()
    # Step codes a closure of the case does not set aside: duties the policy reaches past the
    # end of supervision or the transfer (Somerset 12's CSPPI notification "up to 20 days
    # following the end of supervision"; 13.4.3's call to the receiving service "prior to the
    # transfer ... or ... as soon as possible thereafter"). Open at the closure, they stay open,
    # owed, escalated and completable on the closed case (attack pass 16, A16-6, A16-7). An
    # entry may name a rule id instead (``"S30"``): only the steps that rule raised survive,
    # where a code is shared by lines the policy ends differently (Somerset 13.4.1's transfer
    # documentation, owed past the transfer, and 14.2's for the secure estate, owed "before or
    # at the point of transfer" of a child the service still supervises; attack 32c,
    # ATTACK32C-5).
    survives_closure: tuple[Code | RuleId, ...] = ()
    # Step codes (not_waivable ones too) booked for a date after the case's closure that the
    # closure ends rather than blocks: a panel review booked for after the supervision ends
    # (Somerset 7.2.3 "the case will remain relevant to ongoing MARP oversight" while it is a
    # case of the service; Wokingham's High Risk Panel "when should the child be discussed
    # again"). Such a step due after the closure's ``closed_at`` and not yet overdue when the
    # closure is recorded lapses with the closure, its reason noted and audited
    # (``step.supersede`` with the reason), and a reopening reinstates it; one overdue then
    # still blocks the closure (409 ``mandatory-steps-open``: a closure launders no missed
    # review; attack 24b, A24b-4).
    closure_ends_booked: tuple[Code, ...] = ()
    # The fewest working days a recorded absence spans to end the worker's week early for
    # ``+1wd-in-week`` (Wokingham: "the last day before a prolonged absence (for example, the
    # last working day before annual leave)"); a shorter absence (an appointment, a training
    # day) does not. 1: every recorded absence does.
    prolonged_absence_working_days: int = Field(default=1, ge=1, le=60)
    escalation: Escalation = Field(default_factory=Escalation)
    matrix: Matrix | None = None
    register_def: Register | None = Field(default=None, alias="register")
    priority: Priority | None = None
    contact: ContactTable | None = None
    case_closure: CaseClosure | None = None
    options: dict[str, bool | int | str] = Field(default_factory=dict)
    checks: tuple[Check, ...] = ()
    rules: tuple[Rule, ...]
    _by_trigger: dict[str, tuple[Rule, ...]] = PrivateAttr(default_factory=dict)
    _by_id: dict[str, tuple[Rule, ...]] = PrivateAttr(default_factory=dict)
    _by_code: dict[str, tuple[Rule, ...]] = PrivateAttr(default_factory=dict)
    _warnings: tuple[Problem, ...] = PrivateAttr(default=())
    _case_wide: frozenset[str] = PrivateAttr(default=frozenset())
    _done_only_by: dict[str, tuple[str, ...]] = PrivateAttr(default_factory=dict)
    _done_at_sitting: frozenset[str] = PrivateAttr(default=frozenset())
    _event_keys: dict[str, frozenset[str]] = PrivateAttr(default_factory=dict)
    # The core event types whose meaning is the core's because the pack does not declare them
    # (``death``: vocabulary.core_death), in ``event_types`` with the declared ones.
    _core_event_types: frozenset[str] = PrivateAttr(default=frozenset())
    # The event types declared ``final`` (a death), the core's meaning included.
    _final_event_types: frozenset[str] = PrivateAttr(default=frozenset())
    # The engine's tables for this pack object (app.workflows.engine.prepare).
    _engine: Any = PrivateAttr(default=None)

    def model_post_init(self, context: Any) -> None:
        """Index the rule lines by trigger, id and step code (once, at load: the engine looks
        them up on every evaluation)."""
        lines = list(self.rules) + [c.ack_rule for c in self.checks if c.ack_rule is not None]
        for rule in self.rules:
            for trigger in rule.trigger:
                self._by_trigger[trigger] = (*self._by_trigger.get(trigger, ()), rule)
        for rule in lines:
            self._by_id[rule.id] = (*self._by_id.get(rule.id, ()), rule)
            self._by_code[rule.code] = (*self._by_code.get(rule.code, ()), rule)
        self._case_wide = frozenset(r.code for r in lines if r.dedupe == "case")
        acts: dict[str, list[str]] = {}
        for act, codes in self.closures.items():
            if act not in NOT_DOING_ACTS:
                for code in codes:
                    acts.setdefault(code, []).append(act)
        for kind in self.referral_kinds:
            for code in kind.closes:
                acts.setdefault(code, []).append(f"referral_{kind.made_by}:{kind.id}")
        self._done_only_by = {code: tuple(dict.fromkeys(found)) for code, found in acts.items()
                              if code not in self.completable}
        self._done_at_sitting = frozenset(
            code for code, found in self._done_only_by.items()
            if all(act in SITTING_ACTS for act in found))
        self._core_death()
        self._final_event_types = frozenset(e.id for e in self.event_types if e.final)

    def _core_death(self) -> None:
        """The core's meaning of ``death`` (ATK28B-14). Undeclared: :func:`core_death`, ending
        the steps of every code the pack's lines create but what the notification still
        accepted after it closes. Declared: what the pack leaves unsaid of ``final``,
        ``once_per_case``, ``after_closure``, ``later_referral_kinds`` and ``ends_reason`` is
        the core's (what it ends is the pack's to say; a ``final`` or ``once_per_case`` written
        false is a ``pack check`` error). Set before any reader sees the pack (the model is
        frozen to its readers, not to its loader)."""
        kept = {c for k in self.referral_kinds if k.id == "serious_incident" for c in k.closes}
        core = core_death(self._by_code, kept | self.asked_on_death())
        declared = next((e for e in self.event_types if e.id == DEATH), None)
        if declared is None:
            self.__dict__["event_types"] = (*self.event_types, core)
            self._core_event_types = frozenset({DEATH})
            return
        unsaid = {name: getattr(core, name) for name in DEATH_CORE_FIELDS
                  if name not in declared.model_fields_set}
        if unsaid:
            whole = declared.model_copy(update=unsaid)
            self.__dict__["event_types"] = tuple(whole if e is declared else e
                                                 for e in self.event_types)

    def asked_on_death(self) -> frozenset[str]:
        """The step codes a line of the pack raises on the death itself (a ``case_event``
        line whose ``when`` names ``death`` in an ``event_type_in`` it requires): work the
        death does not make impossible, since it asks for it, so the core's death does not end
        an earlier step of such a code either (attack 30b, ATTACK30B-6: the chair's YJB
        notification of an earlier charge, Somerset 12 "notification ... for any child who is
        charged with any notifiable offence or dies", is still owed after the death)."""
        return frozenset(rule.code for rule in self.rules
                         if "case_event" in rule.trigger and rule.when is not None
                         and DEATH in _event_types_named(rule.when.raw))

    def _index(self, name: str) -> Any:
        # Private attributes live in ``__pydantic_private__``; reading the slot directly skips
        # BaseModel.__getattr__, which the engine would otherwise pay on every lookup.
        return self.__pydantic_private__[name]  # type: ignore[index]

    def event_type_ids(self) -> tuple[str, ...]:
        """Every event type a case of this service may record: the core's and the pack's."""
        own = tuple(e.id for e in self.event_types if e.id not in CORE_EVENT_TYPES)
        return (*CORE_EVENT_TYPES, *own)

    def core_event_types(self) -> frozenset[str]:
        """The core event types in ``event_types`` with the core's meaning, which this pack does
        not declare (``death``: vocabulary.core_death)."""
        return self._index("_core_event_types")

    def event_type(self, event_type: str) -> EventType:
        """How this pack treats an event type (an undescribed core type: not after closure)."""
        for declared in self.event_types:
            if declared.id == event_type:
                return declared
        return EventType(id=event_type, title=event_type.replace("_", " "))

    def referral_kind_ids(self) -> tuple[str, ...]:
        """Every referral kind this service may make: the core's and the pack's."""
        own = tuple(k.id for k in self.referral_kinds if k.id not in CORE_REFERRAL_KINDS)
        return (*CORE_REFERRAL_KINDS, *own)

    def referral_kind(self, kind: str) -> ReferralKind:
        """How this pack treats a referral kind (a core kind it does not describe: closes nothing,
        made by sending, no gates)."""
        for declared in self.referral_kinds:
            if declared.id == kind:
                return declared
        return ReferralKind(id=kind)

    def panel_kind_ids(self) -> tuple[str, ...]:
        """Every panel kind this service holds."""
        ids = tuple(p.id for p in self.panel_kinds)
        if self.panel_kind and self.panel_kind not in ids:
            ids = (self.panel_kind, *ids)
        return ids

    def panel(self, kind: str) -> PanelKind:
        """How this pack runs a panel kind (an undescribed kind: chair role, nobody required)."""
        for declared in self.panel_kinds:
            if declared.id == kind:
                return declared
        return PanelKind(id=kind, title=kind.replace("_", " "))

    def fact(self, name: str) -> Fact | None:
        """A declared case fact by id."""
        return next((f for f in self.facts if f.id == name), None)

    def score(self, name: str) -> Score | None:
        """A declared assessment score by id."""
        return next((s for s in self.scores if s.id == name), None)

    def closes(self, act: str) -> tuple[str, ...]:
        """The step codes an act closes under this pack (``[closures]``)."""
        return self.closures.get(act, ())  # type: ignore[call-overload]

    def done_only_by(self, code: str) -> tuple[str, ...]:
        """The acts that alone do a step of this code (empty: it may be completed by hand):
        the ``[closures]`` acts naming it, bar those that make it moot or are one way among
        others (``NOT_DOING_ACTS``), and ``referral_<made_by>:<kind>`` for a referral kind
        whose ``closes`` names it; none for a code listed in ``completable``. The step is a
        record's duty (countersign *this* assessment, hold the panel): ticking it off by hand
        would say the act was done when the record shows it was not."""
        return self._index("_done_only_by").get(code, ())

    def done_at_sitting(self, code: str) -> bool:
        """Whether only a panel's decision does a step of this code (its :meth:`done_only_by`
        acts are all ``SITTING_ACTS``): the decision is recorded at or after the sitting, so
        the step is late only after the end of the London day it is due on, not from the
        sitting's first minute (Somerset S10 ``identify_mappa_level`` due at the MARP,
        Wokingham W8's panel held within the week; attack pass 19, A19-1)."""
        return code in self._index("_done_at_sitting")

    def step_codes(self) -> tuple[str, ...]:
        """Every step code a line of this pack creates."""
        return tuple(self._by_code)

    def vocabulary(self) -> dict[str, Any]:
        """The words a write to a service under this pack may use (core and the pack's own), as
        ``GET /v1/policy-packs/{id}`` publishes them for integrators' forms."""
        return {
            "event_types": list(self.event_type_ids()),
            "referral_kinds": [self.referral_kind(k).model_dump(mode="json")
                               for k in self.referral_kind_ids()],
            "panel_kinds": [self.panel(k).model_dump(mode="json") for k in self.panel_kind_ids()],
            "facts": [f.model_dump(mode="json") for f in self.facts],
            "scores": [s.model_dump(mode="json") for s in self.scores],
            **{name: list(words) for name, words in CORE.items()},
        }

    @property
    def final_event_types(self) -> frozenset[str]:
        """The event types this pack declares ``final`` (a death, the core's meaning when the
        pack does not declare it): nothing about the living child happens after one."""
        return self._index("_final_event_types")

    @property
    def warnings(self) -> tuple[Problem, ...]:
        """What the check on load found worth a warning (never an error: those refuse the pack)."""
        return self._warnings

    def option(self, name: str, default: bool | int | str | None = None) -> bool | int | str | None:
        """A service-side switch the pack sets in ``[options]`` (``default`` when unset)."""
        return self.options.get(name, default)

    def rule(self, rule_id: str) -> Rule:
        """The first line of a rule (KeyError if the pack has none)."""
        lines = self.lines(rule_id)
        if not lines:
            raise KeyError(f"pack {self.id} has no rule {rule_id}")
        return lines[0]

    def lines(self, rule_id: str) -> tuple[Rule, ...]:
        """Every line of a rule id (a rule may create several steps)."""
        return self._index("_by_id").get(rule_id, ())

    def rules_for(self, trigger: str) -> tuple[Rule, ...]:
        """The step lines listening to a trigger, in pack order."""
        return self._index("_by_trigger").get(trigger, ())

    def lines_for_code(self, code: str) -> tuple[Rule, ...]:
        """Every line (checks' acknowledgements included) that creates steps with this code."""
        return self._index("_by_code").get(code, ())

    def assessment_types_for(self, rule_id: str, code: str, title: str) -> tuple[str, ...] | None:
        """The assessment types that do a step this pack's rule made (its line: the rule's line
        for that code with that title, else its first line for that code); None: any type."""
        line = self._step_line(rule_id, code, title)
        return None if line is None else line.assessment_types

    def assessment_stages_for(self, rule_id: str, code: str, title: str
                              ) -> tuple[str, ...] | None:
        """The assessment stages that do a step this pack's rule made (its line, as for
        :meth:`assessment_types_for`); None: any stage."""
        line = self._step_line(rule_id, code, title)
        return None if line is None else line.assessment_stages

    def _step_line(self, rule_id: str, code: str, title: str) -> Rule | None:
        lines = [r for r in self.lines(rule_id) if r.code == code]
        return next((r for r in lines if r.title == title), lines[0] if lines else None)

    def case_wide(self, code: str) -> bool:
        """Whether a step code is one duty per case: any line for it says ``dedupe = "case"``,
        so every line asking for it adds its reason to the one open step."""
        return code in self._index("_case_wide")

    def reads_event_key(self, trigger: str, key: str) -> bool:
        """Whether evaluating ``trigger`` under this pack may read the event data's ``key``
        through a name the pack gives: an ``event_flag`` in a condition of one of its lines or
        checks, a check's ``requires``, a line's ``counts_from`` or ``assignee_from``, or a
        deadline form that counts from it (``before-transfer``: ``transfer_date``). A service
        may then leave out data it would read from the database only for such a line (the
        pending transfer of a judgement, Somerset S26): no line of the pack can tell."""
        keys = self._index("_event_keys").get(trigger)
        if keys is None:
            keys = self._index("_event_keys")[trigger] = _event_keys(
                [*self.rules_for(trigger), *(c.ack_rule for c in self.checks
                                             if trigger in c.trigger and c.ack_rule)],
                [c for c in self.checks if trigger in c.trigger])
        return key in keys

    def ending_events(self) -> dict[str, tuple[str, ...]]:
        """Event type -> the step codes its recording ends (``ends_steps``: a death ends the
        work with the child), for the event types that end any."""
        return {e.id: e.ends_steps for e in self.event_types if e.ends_steps}

    def earlier_ending_events(self) -> dict[str, tuple[str, ...]]:
        """Event type -> the step codes it ends of the acts before it (``ends_earlier_steps``:
        a death ends the reports of earlier events), for the event types that end any."""
        return {e.id: e.ends_earlier_steps for e in self.event_types if e.ends_earlier_steps}

    def survives_closure_of(self, code: str, rule_id: str | None) -> bool:
        """Whether a closure leaves a step of ``code`` raised by ``rule_id`` open:
        ``survives_closure`` names its code or its rule."""
        listed = self.survives_closure
        return code in listed or (rule_id is not None and rule_id in listed)

    def rule_ids(self) -> tuple[str, ...]:
        """Every rule id the pack implements (lines, checks, matrix, register, contact)."""
        ids = [r.id for r in self.rules] + [c.id for c in self.checks]
        ids += [x.rule_id for x in (self.matrix, self.register_def, self.priority,
                                    self.contact, self.case_closure) if x is not None]
        if self.register_def is not None and self.register_def.deregistered_by:
            ids.append(self.register_def.deregistered_by)
        return tuple(dict.fromkeys(ids))


_COUNTS_FROM_KEYS = {"known": "known_at", "assessment_completed": "assessment_completed_at"}


def _flags(raw: Any) -> set[str]:
    """The ``event_flag`` keys a raw condition tests, at any depth."""
    if isinstance(raw, Mapping):
        found = {str(v) for k, v in raw.items() if k == "event_flag"}
        return found.union(*(_flags(v) for v in raw.values()))
    if isinstance(raw, list | tuple):
        return set().union(*(_flags(v) for v in raw))
    return set()


def _event_keys(lines: list[Rule], checks: list[Check]) -> frozenset[str]:
    """The event data keys these lines and checks name (:meth:`Pack.reads_event_key`)."""
    keys: set[str] = set()
    for check in checks:
        keys |= _flags(check.when.raw)
        if check.requires:
            keys.add(check.requires)
    for line in lines:
        branches = (line.deadline,) if isinstance(line.deadline, str) else line.deadline
        conditions = [line.when, line.holds, *(b.when for b in branches if not isinstance(b, str))]
        for condition in conditions:
            if condition is not None:
                keys |= _flags(condition.raw)
        for form in (b if isinstance(b, str) else b.form for b in branches):
            if form in FORM_EVENT_KEYS:
                keys.add(FORM_EVENT_KEYS[form])
        if line.counts_from in _COUNTS_FROM_KEYS:
            keys.add(_COUNTS_FROM_KEYS[line.counts_from])
        if line.assignee_from:
            keys.add(line.assignee_from)
    return frozenset(keys)


def _describe(exc: ValidationError, raw: Mapping[str, Any]) -> tuple[Problem, ...]:
    found: dict[str, Problem] = {}
    for error in exc.errors():
        # Drop union-branch tags ("tuple[ConditionalForm, ...]"); report a field once.
        loc = [str(p) for p in error["loc"] if "[" not in str(p)]
        label = ".".join(loc) or "-"
        rule = rule_at(raw, loc)
        message = str(error["msg"]).removeprefix("Value error, ")
        if error["type"] == "string_pattern_mismatch":
            message = _pattern_words(error, loc)
        elif error["type"] == "int_type" and isinstance(error.get("input"), float | bool):
            message = _not_whole(error["input"])
        elif error["type"] in _TYPE_WORDS:
            message = _TYPE_WORDS[error["type"]].format(value=error.get("input"))
        elif error["type"] == "missing" and loc:
            message = f"'{loc[-1]}' is missing: this table needs {loc[-1]} = ..."
        elif error["type"] == "extra_forbidden" and loc:
            # "Extra inputs are not permitted" says nothing to a policy owner (A20-17a).
            keys = keys_at(loc[:-1])
            message = (f"unknown key '{loc[-1]}'{suggest(loc[-1], keys)}"
                       + (f"; the keys here are {', '.join(keys)}" if keys else ""))
        elif error["type"] == "literal_error" and isinstance(error.get("input"), str):
            expected = str(error.get("ctx", {}).get("expected", ""))
            message = (f"{error['input']!r} is not allowed: write {expected}"
                       f"{suggest(error['input'], _QUOTED.findall(expected))}")
        cause = error.get("ctx", {}).get("error")
        if isinstance(cause, ConditionError):
            # Several mistakes in one condition, or in one atom of it: one line each, at the
            # atom's own path (attack 19, A19-10; attack 20, A20-17a).
            for index, each in enumerate(cause.messages):
                field, said = condition_message(label, each)
                found[label if index == 0 else f"{label}#{index}"] = Problem(
                    "error", rule, field, said)
            continue
        if label not in found or found[label].message.endswith(_UNION_NOISE):
            found[label] = Problem("error", rule, label, message)
    noisy = [k for k, v in found.items() if v.message.endswith(_UNION_NOISE)]
    for label in noisy:
        if any(other != label and other.startswith(label) for other in found):
            del found[label]
    return tuple(found.values())


# The pack's tables that carry a rule id of their own (a problem in them names it).
_RULE_TABLES = ("matrix", "register", "priority", "contact", "case_closure")
_CONDITION_PATH = re.compile(r"(?:condition|holds)((?:[.\[][^:\s]*)?): (.*)", re.DOTALL)


# A value that does not match its pattern, in words (not the regular expression): what such a
# value is written as, with an example.
_PATTERN_WORDS: dict[str, str] = {
    r"^[A-Z][A-Z0-9]{0,7}[a-z]?$": "a rule id is a capital letter, then up to 7 capitals or "
                                   "digits, and at most one small letter at the end (S5, W14, "
                                   "S17a)",
    r"^[a-z][a-z0-9_]*$": "this is one word in small letters, digits and _ with no spaces, "
                          "starting with a letter (refer_to_panel)",
    r"^[a-z][a-z_]*$": "a role is one word in small letters and _ with no spaces",
    r"^[1-9][0-9]?[dwm]$": "a period is a number and d, w or m (1m, 2w, 10d)",
    r"^[a-z][a-z0-9-]*$": "this is one word in small letters, digits and - (review-date-required)",
    r"^[a-z0-9][a-z0-9-]*$": "a pack id is small letters, digits and - (exeter-yjs-2025)",
    r"^[0-9A-Za-z][0-9A-Za-z.-]*$": "a version is letters, digits, . and - (1.0, 2025-2)",
}


def _pattern_words(error: Any, loc: Sequence[str]) -> str:
    """A pattern mismatch said in words, with a did-you-mean for a role."""
    pattern = str(error.get("ctx", {}).get("pattern", ""))
    value = error.get("input")
    said = _PATTERN_WORDS.get(pattern, f"it must match {pattern}")
    hint = ""
    if loc and loc[-1] in ("actor", "stand_in", "chair_role") or pattern == r"^[a-z][a-z_]*$":
        hint = f"{suggest(str(value), ACTORS)}; the roles are {', '.join(ACTORS)}"
    return f"{value!r} is not written as it should be: {said}{hint}"


_QUOTED = re.compile(r"'([^']*)'")
# A value of the wrong type, in words (the pydantic message is a programmer's: "Input should be
# a valid integer, unable to parse string as an integer").
_TYPE_WORDS: dict[str, str] = {
    "int_parsing": "{value!r} is not a whole number: write a number without quotes (2)",
    "int_type": "{value!r} is not a whole number: write a number without quotes (2)",
    "string_type": "{value!r} should be text: write it in quotes (\"{value}\")",
    "bool_parsing": "{value!r} is not yes or no: write true or false, without quotes",
    "bool_type": "{value!r} is not yes or no: write true or false, without quotes",
}


def _not_whole(value: float | bool) -> str:
    """A whole number written as TOML's ``30.0`` or ``true`` (strict: lax validation took them
    as 30 and 1; attack 35a, ATTACK35A-10), in words."""
    if isinstance(value, bool):
        return f"{json.dumps(value)} is not a whole number: true and false are not numbers"
    write = f"write {int(value)}" if value.is_integer() else "write a whole number, without a point"
    return f"{value!r} is not a whole number: {write}"


def keys_at(loc: Sequence[str], top: Any = None) -> list[str]:
    """The keys a table at ``loc`` may have (its model's fields, by their TOML names), or []
    when the path does not lead to one: of the pack, or of the file whose model is ``top``
    (a scenario file)."""
    model: Any = top or Pack
    for part in loc:
        if part.isdigit():
            continue
        fields = {f.alias or name: f for name, f in model.model_fields.items()}
        field = fields.get(part)
        if field is None:
            return []
        inner = [a for a in _flat(field.annotation)
                 if isinstance(a, type) and issubclass(a, BaseModel)]
        if not inner:
            return []
        model = inner[0]
    return [f.alias or name for name, f in model.model_fields.items()]


def _flat(annotation: Any) -> list[Any]:
    return [annotation, *(a for arg in get_args(annotation) for a in _flat(arg))]


def rule_at(raw: Mapping[str, Any], loc: Sequence[Any]) -> str:
    """The rule id a field path of the file belongs to (``-``: none): a rule line's or check's
    ``id``, or the ``rule_id`` of ``[matrix]``, ``[register]``, ``[priority]``, ``[contact]``,
    ``[case_closure]``."""
    parts = [str(p) for p in loc]
    item: Any = None
    key = "id"
    if len(parts) > 1 and parts[0] in ("rules", "checks") and parts[1].isdigit():
        items = raw.get(parts[0]) or []
        index = int(parts[1])
        item = items[index] if isinstance(items, list) and index < len(items) else None
    elif parts and parts[0] in _RULE_TABLES:
        item, key = raw.get(parts[0]), "rule_id"
    if isinstance(item, Mapping) and isinstance(item.get(key), str):
        return str(item[key])
    return "-"


def condition_message(label: str, message: str) -> tuple[str, str]:
    """A condition's message (``condition.all[1].level_in: ...``) as the field path of the
    file (``rules.4.when.all.1.level_in``) and the words alone."""
    found = _CONDITION_PATH.fullmatch(message)
    if found is None:
        return label, message
    path = re.sub(r"\[(\d+)\]", r".\1", found[1])
    return f"{label}{path}", found[2]


def _summary(problems: tuple[Problem, ...]) -> str:
    return "; ".join(
        f"{p.field}{'' if p.rule == '-' else f' (rule {p.rule})'}: {p.message}" for p in problems
    )


# Messages from the union branch that does not match the input's shape (string vs list).
_UNION_NOISE = ("Input should be a valid tuple", "must be a string, got a list")


def not_utf8(exc: UnicodeDecodeError) -> str:
    """One line for a file that is not UTF-8 text: where the first bad byte is."""
    return f"byte 0x{exc.object[exc.start]:02x} at offset {exc.start} is not UTF-8"


# The one nesting limit of a pack or scenario file, as of a JSON body (MAX_JSON_DEPTH, attack
# 33): a value inside more than this many tables or lists is refused, at every depth, in one
# line naming where. The bundled packs nest at most 14 deep; a condition nested 200 deep made
# the compiled condition's source too deep for Python's parser and 2,000 deep exhausted the
# TOML reader's recursion: tracebacks, not errors (attack 35a, ATTACK35A-19).
MAX_TOML_DEPTH = 32
TOO_DEEP = (f"nested more than {MAX_TOML_DEPTH} tables or lists deep cannot be read; write it "
            "flatter")
# Where a value is a condition, how to write it flatter.
_FLATTER = " (all and any take a list of conditions)"
_CONDITION_KEYS = frozenset({"when", "holds", "unless", "condition"})


def too_deep_message(path: Sequence[str], thing: str) -> str:
    """What a value nested past :data:`MAX_TOML_DEPTH` is told, by its own name (``a list``,
    ``an inline table``, ``a table``): a condition's advice only where it is in one (attack
    35b, ATTACK35B-4: a deep ``values`` list was called a condition)."""
    hint = _FLATTER if _CONDITION_KEYS.intersection(path) else ""
    return f"{thing} {TOO_DEEP}{hint}"


def too_deep(raw: Any) -> list[str] | None:
    """The path of the first value of ``raw`` inside more than :data:`MAX_TOML_DEPTH` tables
    or lists (walked without recursion), or None."""
    stack: list[tuple[Any, list[str]]] = [(raw, [])]
    while stack:
        value, loc = stack.pop()
        items = value.items() if isinstance(value, Mapping) else (
            enumerate(value) if isinstance(value, list) else ())
        for key, item in items:
            if isinstance(item, Mapping | list):
                if len(loc) + 1 >= MAX_TOML_DEPTH:
                    return [*loc, str(key)]
                stack.append((item, [*loc, str(key)]))
    return None


def thing_at(raw: Any, loc: Sequence[str]) -> str:
    """What the value at ``loc`` (a path :func:`too_deep` answered) is: ``a table`` or ``a
    list``."""
    value = raw
    for part in loc:
        value = value[int(part)] if isinstance(value, list) else value[part]
    return "a list" if isinstance(value, list) else "a table"


@dataclass(frozen=True)
class TooDeep:
    """A TOML document nested past :data:`MAX_TOML_DEPTH`, found in its text before it is
    read: the line, the dotted path of the key holding it, and what it is."""

    line: int
    path: tuple[str, ...]
    thing: str
    # The rule line or table the value belongs to (``rule_at``'s answer; ``-``: none).
    rule: str = "-"

    @property
    def field(self) -> str:
        """The dotted path, ``-`` for none."""
        return ".".join(self.path) or "-"

    @property
    def message(self) -> str:
        """The words for it (:func:`too_deep_message`)."""
        return too_deep_message(self.path, self.thing)

    def __str__(self) -> str:
        return f"{self.field} (line {self.line}): {self.message}"


class _Scan:
    """A cursor over a TOML document's text that reads only what nesting needs (keys,
    brackets, strings, comments), without recursion: the TOML reader recurses once a level
    and gives up past about 300 (no place in its error), and a table header of 100,000
    dotted keys took it minutes (attack 35b, ATTACK35B-4)."""

    def __init__(self, text: str) -> None:
        self.text, self.i, self.line = text, 0, 1

    def peek(self, n: int = 1) -> str:
        return self.text[self.i:self.i + n]

    def advance(self) -> str:
        char = self.text[self.i]
        self.i += 1
        if char == "\n":
            self.line += 1
        return char

    def blank(self, newlines: bool) -> None:
        """Skip spaces, tabs and comments (and newlines, if asked)."""
        while self.i < len(self.text):
            char = self.text[self.i]
            if char in " \t\r" or (newlines and char == "\n"):
                self.advance()
            elif char == "#":
                while self.i < len(self.text) and self.text[self.i] != "\n":
                    self.i += 1
            else:
                return

    def string(self) -> str:
        """A quoted string at the cursor (basic, literal, multi-line), its raw text."""
        quote = self.text[self.i]
        triple = self.peek(3) == quote * 3
        close = quote * 3 if triple else quote
        self.i += 3 if triple else 1
        start = self.i
        while self.i < len(self.text) and self.peek(len(close)) != close:
            if self.text[self.i] == "\\" and quote == '"':
                self.advance()
            if self.i < len(self.text) and (triple or self.text[self.i] != "\n"):
                self.advance()
            elif not triple:
                break
        found = self.text[start:self.i]
        self.i += len(close) if self.peek(len(close)) == close else 0
        return found

    def key(self) -> list[str]:
        """A dotted key at the cursor, its parts."""
        parts: list[str] = []
        while self.i < len(self.text):
            self.blank(newlines=False)
            if self.peek() in ('"', "'"):
                parts.append(self.string())
            else:
                start = self.i
                while self.i < len(self.text) and (self.text[self.i].isalnum()
                                                   or self.text[self.i] in "_-"):
                    self.i += 1
                if self.i == start:
                    return parts
                parts.append(self.text[start:self.i])
            self.blank(newlines=False)
            if self.peek() != ".":
                return parts
            self.i += 1
        return parts

    def rest_of_line(self) -> None:
        while self.i < len(self.text) and self.text[self.i] != "\n":
            if self.text[self.i] in "\"'":
                self.string()
            else:
                self.i += 1


@functools.lru_cache(maxsize=64)
def nested_too_deep(text: str) -> TooDeep | None:
    """The first place a TOML document nests a table, list or inline table past
    :data:`MAX_TOML_DEPTH` (a table header's or dotted key's own parts, the lists and inline
    tables of a value and the keys inside them), read from the text before the TOML reader
    sees it, with the field path :func:`too_deep` gives (``rules.10.when.not...``: an array of
    tables' items and a list's values by index), its line and its rule; None when it does
    not (the reader then says what else is wrong). Remembered by text (a pure function of it,
    its answer immutable): a process that loads the same packs again (each app a test builds,
    ``yjrisk`` commands in one process) scans each text once; the scan is most of a pack's
    load."""
    scan, header, counts = _Scan(text), [], dict[str, int]()
    ids: dict[tuple[str, str], str] = {}
    while True:
        scan.blank(newlines=True)
        if scan.i >= len(text):
            return None
        line = scan.line
        if scan.peek() == "[":
            many = scan.peek(2) == "[["
            scan.i += 2 if many else 1
            header = _header_path(scan.key()[:MAX_TOML_DEPTH + 1], counts, array=many)
            if len(header) >= MAX_TOML_DEPTH:
                return _found(text, scan, ids, TooDeep(line, tuple(header[:MAX_TOML_DEPTH]),
                                                       "a table"))
            scan.rest_of_line()
            continue
        names = scan.key()
        path = [*header, *names[:MAX_TOML_DEPTH + 1]]
        if len(path) - 1 >= MAX_TOML_DEPTH:
            return _found(text, scan, ids, TooDeep(line, tuple(path[:MAX_TOML_DEPTH]),
                                                   "a table"))
        if scan.peek() != "=":
            scan.rest_of_line()  # not a key and value: the TOML reader says what it is
            continue
        scan.i += 1
        scan.blank(newlines=False)
        if names in (["id"], ["rule_id"]) and scan.peek() in ('"', "'"):
            ids[(".".join(header), names[0])] = scan.string()
        if (found := _value_too_deep(scan, path)) is not None:
            return _found(text, scan, ids, found)


def _header_path(parts: list[str], counts: dict[str, int], *, array: bool) -> list[str]:
    """A table header's field path, with the index of each array of tables it is under
    (``[rules.when]`` after the fifth ``[[rules]]`` is ``rules.4.when``); ``counts``: how many
    items each array of tables (by its path) has so far."""
    out: list[str] = []
    for i, part in enumerate(parts):
        out.append(part)
        key = ".".join(out)
        if i == len(parts) - 1 and array:
            counts[key] = counts.get(key, 0) + 1
        if key in counts:
            out.append(str(counts[key] - 1))
    return out


def _found(text: str, scan: _Scan, ids: Mapping[tuple[str, str], str],
           deep: TooDeep) -> TooDeep:
    """``deep`` with its rule: the ``id`` of the rule line or check it is in (or the
    ``rule_id`` of its table), written before it or after it in the same table."""
    parts = deep.path
    if len(parts) > 1 and parts[0] in ("rules", "checks") and parts[1].isdigit():
        table, key = f"{parts[0]}.{parts[1]}", "id"
    elif parts and parts[0] in _RULE_TABLES:
        table, key = parts[0], "rule_id"
    else:
        return deep
    rule = ids.get((table, key))
    if rule is None:  # written later in the same table: up to the next header
        rest = text[scan.i:]
        ahead = re.search(r"^\s*\[", rest, re.MULTILINE)
        said = re.search(rf"^\s*{key}\s*=\s*[\"']([^\"'\n]*)[\"']",
                         rest[:ahead.start() if ahead else len(rest)], re.MULTILINE)
        rule = said[1] if said else None
    return TooDeep(deep.line, deep.path, deep.thing, rule or "-")


def _value_too_deep(scan: _Scan, path: list[str]) -> TooDeep | None:
    """Read one value (to the end of its statement) at ``path``, refusing one whose lists,
    inline tables and the dotted keys inside them nest past :data:`MAX_TOML_DEPTH`."""
    text = scan.text
    # Each open list or inline table: its bracket, its path and (a list) its values so far.
    stack: list[tuple[str, list[str], list[int]]] = []
    following = path  # the path of a value opened next
    while scan.i < len(text):
        char = text[scan.i]
        if char in "\"'":
            scan.string()
        elif char == "#":
            scan.blank(newlines=False)
        elif char in "[{":
            if len(following) >= MAX_TOML_DEPTH:
                return TooDeep(scan.line, tuple(following[:MAX_TOML_DEPTH]),
                               "a list" if char == "[" else "an inline table")
            stack.append((char, following, [0]))
            scan.i += 1
            if char == "[":
                following = [*following, "0"]
            elif isinstance(found := _inline_key(scan, following), TooDeep):
                return found
            else:
                following = found
        elif char in "]}":
            if stack:
                stack.pop()
            scan.i += 1
        elif char == "," and stack:
            scan.i += 1
            bracket, at, count = stack[-1]
            count[0] += 1
            if bracket == "[":
                following = [*at, str(count[0])]
            elif isinstance(found := _inline_key(scan, at), TooDeep):
                return found
            else:
                following = found
        elif char == "\n" and not stack:
            return None
        else:
            scan.advance()
    return None


def _inline_key(scan: _Scan, table: list[str]) -> TooDeep | list[str]:
    """The path of an inline table's next value, its key read at the cursor, or TooDeep for
    a dotted key past :data:`MAX_TOML_DEPTH` (their tables took the TOML reader minutes at
    100,000 parts)."""
    line = scan.line
    path = [*table, *scan.key()[:MAX_TOML_DEPTH + 1]]
    if len(path) - 1 >= MAX_TOML_DEPTH:
        return TooDeep(line, tuple(path[:MAX_TOML_DEPTH]), "a table")
    return path


def read_toml(text: str) -> dict[str, Any]:
    """``tomllib.loads``, with a document nested past :data:`MAX_TOML_DEPTH` refused as a
    ``tomllib.TOMLDecodeError`` whose message names the place (the key's dotted path and the
    line, or the path of the value read) and the thing by its name: what every reader of a
    pack or scenario file catches."""
    if (deep := nested_too_deep(text)) is not None:
        raise tomllib.TOMLDecodeError(str(deep))
    try:
        raw = tomllib.loads(text)
    except RecursionError:  # not met past nested_too_deep: kept as a last guard
        raise tomllib.TOMLDecodeError(too_deep_message((), "a value")) from None
    if (loc := too_deep(raw)) is not None:
        message = too_deep_message(loc, thing_at(raw, loc))
        raise tomllib.TOMLDecodeError(f"{'.'.join(loc)}: {message}")
    return raw


def read_pack(path: Path, text: str | None = None) -> Pack:
    """Read and validate one pack file's shape (no vocabulary check); PackError names the file
    and the bad field. ``text``: the file's text when the caller has read it already."""
    path = Path(path)
    try:
        if text is None:
            text = path.read_text(encoding="utf-8")
        if (deep := nested_too_deep(text)) is not None:
            raise PackError(f"{path}: {deep}", (
                Problem("error", deep.rule, deep.field, deep.message, deep.line),))
        raw = tomllib.loads(text)
    except RecursionError:  # not met past nested_too_deep: kept as a last guard
        message = too_deep_message((), "a value")
        raise PackError(f"{path}: {message}", (Problem("error", "-", "-", message),)) from None
    except OSError as exc:
        raise PackFileUnreadable(f"{path}: cannot read pack file: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise PackFileUnreadable(f"{path}: not a text file: {not_utf8(exc)}") from None
    except tomllib.TOMLDecodeError as exc:
        # The line in the line slot of ``pack check``, not inside the message (A20-17a).
        at = re.search(r"\(at line (\d+), column (\d+)\)", str(exc))
        said = re.sub(r"\s*\(at line \d+, column (\d+)\)", r" (column \1)", str(exc))
        problem = Problem("error", "-", "-", f"not valid TOML: {said}",
                          int(at[1]) if at else None)
        raise PackError(f"{path}: not valid TOML: {exc}", (problem,)) from exc
    if (loc := too_deep(raw)) is not None:
        field, message = ".".join(loc), too_deep_message(loc, thing_at(raw, loc))
        # No ``raw``: the rest is not salvaged (its conditions would be walked as deep).
        raise PackError(f"{path}: {field}: {message}",
                        (Problem("error", rule_at(raw, loc), field, message),))
    named = _file_name_problems(path, raw)
    try:
        pack = Pack.model_validate(raw)
    except ValidationError as exc:
        problems = _describe(exc, raw) + named
        raise PackError(f"{path}: invalid pack: {_summary(problems)}", problems, raw) from None
    if named:
        raise PackError(f"{path}: id: {named[0].message}", named, raw)
    return pack


def _file_name_problems(path: Path, raw: Mapping[str, Any]) -> tuple[Problem, ...]:
    """The pack id must name the file (read from the table, so a pack whose shape is broken is
    told this too)."""
    pack_id, version = raw.get("id"), raw.get("version", "1")
    if not isinstance(pack_id, str) or path.stem in (pack_id, f"{pack_id}@{version}"):
        return ()
    message = (f"pack id {pack_id!r} must match the file name {path.stem!r} (or name the "
               f"file {pack_id}@{version}.toml)")
    return (Problem("error", "-", "id", message),)


# The list sections of a pack whose items ``salvage`` may set aside one by one.
_SECTIONS = ("rules", "checks", "panel_kinds", "event_types", "referral_kinds", "facts", "scores")
# Stand-ins for a broken required value, so the rest of its table is still checked: at the top
# of the pack, and in a section's item (a deadline "none" asks for nothing; every trigger, so
# no condition of the line is said to test data its trigger does not carry).
_TOP_STAND_INS: dict[str, Any] = {"id": "pack", "title": "-", "authority": "-", "source": "-"}
_ITEM_STAND_INS: dict[str, Any] = {"deadline": "none", "form": "none", "title": "-",
                                   "ref": "-", "detail": "-", "trigger": list(TRIGGERS)}
_SET_ASIDE = object()
_CODE_CONSEQUENCES = ("no rule creates step code", "unknown step code", "nothing can close step")


@dataclass(frozen=True)
class Salvaged:
    """A pack whose shape is broken, loaded with its broken values set aside (attack 19,
    A19-10): ``pack check`` checks the rest of it in the same run. ``set_aside``: the fields
    (original paths) taken out; ``words``: the ids and codes of whole items taken out (a
    problem naming one is a consequence, not a mistake of its own); ``index``: section ->
    original index of each item kept."""

    pack: Pack
    set_aside: frozenset[str]
    words: frozenset[str]
    index: Mapping[str, tuple[int, ...]]
    # The conditions set aside, as written: (field, table, rule id); their words are still
    # checked (``pack_check.check_condition_words``).
    conditions: tuple[tuple[str, Any, str], ...] = ()

    def original(self, field: str) -> str:
        """A field path of the salvaged pack as a path of the file (items set aside shift the
        indexes)."""
        head, _, rest = field.partition(".")
        number, dot, tail = rest.partition(".")
        if head in self.index and number.isdigit() and int(number) < len(self.index[head]):
            return f"{head}.{self.index[head][int(number)]}{dot}{tail}"
        return field

    def hides(self, problem: Problem) -> bool:
        """Whether a problem found in the salvaged pack follows from what was set aside."""
        field = self.original(problem.field)
        if any(field == f or field.startswith(f"{f}.") for f in self.set_aside) or any(
                f"'{word}'" in problem.message or f"'facts.{word}'" in problem.message
                for word in self.words):
            return True
        # A table missing because its key was misspelt and set aside (``[escalaton]``): what
        # is said of the missing table follows from the misspelling, said there already.
        if "." not in field and field not in self.pack.model_fields_set and any(
                "." not in f and suggest(f, [field]) for f in self.set_aside):
            return True
        # A rule set aside whole took its step code with it (the code it meant is not known):
        # what names a code no rule creates, or nothing can close, may be that rule's.
        rules_set_aside = any(re.fullmatch(r"rules\.\d+", f) for f in self.set_aside)
        return rules_set_aside and problem.message.startswith(_CODE_CONSEQUENCES)


def salvage(raw: Mapping[str, Any]) -> Salvaged | None:
    """The pack with every value its shape check refuses set aside (a broken optional value
    dropped, a broken required one given a stand-in, else its whole item dropped), or None when
    the pack as a whole is broken (a duplicate id, no rules)."""
    work = copy.deepcopy(dict(raw))
    set_aside: set[str] = set()
    words: set[str] = set()
    conditions: list[tuple[str, Any, str]] = []
    for _ in range(6):
        view, index = _kept(work)
        try:
            pack = Pack.model_validate(view)
        except ValidationError as exc:
            for error in exc.errors():
                loc = [p for p in error["loc"] if not (isinstance(p, str) and "[" in p)]
                if len(loc) > 1 and loc[0] in index and isinstance(loc[1], int):
                    loc[1] = index[str(loc[0])][loc[1]]
                if error["type"] == "missing" and len(loc) == 1 and loc[0] in _TOP_STAND_INS:
                    work[str(loc[0])] = _TOP_STAND_INS[str(loc[0])]
                    set_aside.add(str(loc[0]))
                    continue
                if error["type"] == "missing":
                    loc = loc[:-1]  # a required value taken out: take out its table
                elif loc[-1:] in (["when"], ["holds"]) and (
                        condition := _condition_at(work, loc)) is not None:
                    conditions.append(condition)
                if not _set_aside(work, loc, set_aside, words):
                    return None
            continue
        return Salvaged(pack, frozenset(set_aside), frozenset(words), index, tuple(conditions))
    return None


def _condition_at(work: Mapping[str, Any], loc: list[Any]) -> tuple[str, Any, str] | None:
    """A condition about to be set aside: its field, its table and its rule (or check) id;
    None when ``loc`` no longer leads to one (an error of the same pass replaced a table on
    its way: a deadline's list of forms refused as a whole by its string branch, then one
    form's emptied ``when`` by the list branch; ``pack check`` raised TypeError there)."""
    table: Any = work
    for part in loc:
        try:
            table = table[part]
        except (KeyError, IndexError, TypeError):
            return None
    return ".".join(map(str, loc)), table, rule_at(work, loc)


def _kept(work: dict[str, Any]) -> tuple[dict[str, Any], dict[str, tuple[int, ...]]]:
    """The table without the items set aside, and the original index of each item kept."""
    view, index = dict(work), {}
    for section in _SECTIONS:
        items = work.get(section)
        if isinstance(items, list):
            kept = [i for i, item in enumerate(items) if item is not _SET_ASIDE]
            view[section], index[section] = [items[i] for i in kept], tuple(kept)
    return view, index


def _set_aside(work: dict[str, Any], loc: list[Any], set_aside: set[str],
               words: set[str]) -> bool:
    """Take the value at ``loc`` out of ``work`` (False: it is the pack itself)."""
    if not loc:
        return False
    parent: Any = work
    for part in loc[:-1]:
        try:
            parent = parent[part]
        except (KeyError, IndexError, TypeError):
            return True  # already taken out with its table
    key, path = loc[-1], ".".join(map(str, loc))
    if isinstance(parent, list) and isinstance(key, int) and key < len(parent):
        if len(loc) == 2 and loc[0] in _SECTIONS:
            words.update(_names_in(parent[key]))
            parent[key] = _SET_ASIDE
        else:
            return _set_aside(work, loc[:-1], set_aside, words)
    elif isinstance(parent, dict) and key in parent:
        stand_ins = _TOP_STAND_INS if len(loc) == 1 else _ITEM_STAND_INS
        if key in stand_ins and parent[key] != stand_ins[key]:
            parent[key] = stand_ins[key]
        else:
            if len(loc) == 1:  # a whole table (a misspelt [[rules]]): what it names goes too
                words.update(_names_in(parent[key]))
            del parent[key]
    set_aside.add(path)
    return True


def _names_in(value: Any) -> set[str]:
    """The ids and step codes an item (or a list of items) set aside names."""
    items = value if isinstance(value, list) else [value]
    return {str(item[k]) for item in items if isinstance(item, Mapping)
            for k in ("id", "code") if isinstance(item.get(k), str)}


def load_pack(path: Path, source_text: str | None = None, *, text: str | None = None) -> Pack:
    """Read, validate and check one pack file (values against its vocabulary, and its refs
    against ``source_text`` when given); PackError lists every error, file, rule and field.
    ``text``: the file's text when the caller has read it already."""
    pack = read_pack(path, text)
    problems = check_pack(pack, source_text)
    errors = tuple(p for p in problems if p.severity == "error")
    if errors:
        raise PackError(f"{path}: invalid pack: {_summary(errors)}", errors)
    pack._warnings = tuple(problems)
    return pack


Versions = dict[str, tuple["Pack", ...]]


def _pack_files(folder: Path) -> list[tuple[Path, Pack]]:
    found = []
    for path in sorted(folder.glob("*.toml")):
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            found.append((path, load_pack(path)))  # raises PackFileUnreadable, saying why
            continue
        found.append((path, _loaded(str(path), text)))
    return found


@functools.lru_cache(maxsize=32)
def _loaded(path: str, text: str) -> Pack:
    """:func:`load_pack` of the file at ``path`` whose text is ``text``, remembered by both:
    a process that starts the app again (each app a test builds) reads, checks and compiles an
    unchanged file once. A Pack is frozen, and what the engine derives from it (its rule
    table, compiled conditions) depends on it alone, so apps may share it; a changed file is
    another key, and a file that fails is not remembered (it is read again, and fails again,
    with its own message)."""
    return load_pack(Path(path), text=text)


def version_problems(versions: Versions, found: list[tuple[Path, Pack]]
                     ) -> list[tuple[Path, str, str]]:
    """What is wrong with adding ``found`` to ``versions`` (the versions already loaded, by
    pack id), each ``(file, field, message)``: a version given twice, a version without
    ``effective_from`` among several, two versions in force from the same date. The service
    refuses to start on the first; ``yjrisk pack check`` reports every one (the same check)."""
    problems: list[tuple[Path, str, str]] = []
    merged_by_id = {pack_id: list(have) for pack_id, have in versions.items()}
    for path, pack in found:
        have = merged_by_id.setdefault(pack.id, [])
        if any(v.version == pack.version for v in have):
            problems.append((path, "version", f"{pack.id} version {pack.version!r} is loaded "
                             "twice; a revised policy needs a new version"))
            continue
        have.append(pack)
        if len(have) > 1 and any(v.effective_from is None for v in have):
            problems.append((path, "effective_from", f"{pack.id} has several versions, so "
                             "every version needs effective_from (the date it comes into force)"))
            continue
        same = [v for v in have[:-1] if v.effective_from == pack.effective_from]
        if same:
            problems.append((path, "effective_from", f"two versions of {pack.id} come into "
                             f"force on the same date ({pack.effective_from}: version "
                             f"{same[0].version!r} and version {pack.version!r}); give each "
                             "version its own effective_from"))
            continue
        # A later policy is a later version (attack 26a, A26a-6: 2.0 in force from 2025-06-01
        # and 1.0 from 2026-01-01 brought the older text back; 10.0 then 9.0).
        for other in have[:-1]:
            if other.effective_from is None or pack.effective_from is None:
                continue
            older, newer = sorted((other, pack), key=lambda v: v.effective_from or date.min)
            if version_key(older.version) >= version_key(newer.version):
                problems.append((path, "version", f"{pack.id} version {newer.version!r} comes "
                                 f"into force on {newer.effective_from}, after version "
                                 f"{older.version!r} ({older.effective_from}), but is not a "
                                 "later version: versions must increase with effective_from "
                                 "(compared as versions, part by part: 9.0 before 10.0)"))
                break
    return problems


def version_key(version: str) -> tuple[tuple[int, int, str], ...]:
    """A version as it compares: its parts between ``.`` and ``-``, a number as a number
    (``9.0`` before ``10.0``), a word after every number and by its letters (``1.0-rc``)."""
    return tuple((0, int(part), "") if re.fullmatch(r"[0-9]+", part) else (1, 0, part)
                 for part in re.split(r"[.-]", version))


def not_in_force_yet(versions: Sequence[Pack], today: date) -> Problem | None:
    """A warning when no version of a pack (its versions, oldest first) is in force on
    ``today`` (a Europe/London date): the service judges every act before the first version's
    date by that version all the same (``version_at``), a policy not yet in force (attack 26a,
    A26a-6: a sole version dated 2099 ran at once). None when one is in force."""
    first = versions[0] if versions else None
    if first is None or first.effective_from is None or first.effective_from <= today:
        return None
    return Problem("warning", "-", "effective_from", (
        f"no version of {first.id} is in force yet on {today.isoformat()}: the first, "
        f"{first.version!r}, comes into force on {first.effective_from.isoformat()}, and until "
        "then every act is judged by it all the same; check effective_from"))


def _add_versions(versions: Versions, found: list[tuple[Path, Pack]]) -> None:
    """Add packs to their pack id's versions, ordered by ``effective_from``; PackError on a
    version given twice or two versions in force from the same date (``version_problems``)."""
    problems = version_problems(versions, found)
    if problems:
        path, field, message = problems[0]
        raise PackError(f"{path}: {field}: {message}",
                        (Problem("error", "-", field, message),))
    for _, pack in found:
        merged = (*versions.get(pack.id, ()), pack)
        versions[pack.id] = tuple(sorted(merged, key=lambda v: v.effective_from or date.min))


def with_version(versions: Versions, path: Path, pack: Pack) -> tuple[Pack, ...]:
    """``pack``'s versions, oldest first, with ``pack`` (read from ``path``) added to the ones in
    ``versions`` by the service's own rules (``_add_versions``); PackError as at start-up."""
    merged: Versions = {pack.id: versions.get(pack.id, ())}
    _add_versions(merged, [(path, pack)])
    return merged[pack.id]


def load_versions(directory: Path | None = None, extra_dir: Path | None = None) -> Versions:
    """Every version of every pack: the bundled ones (or ``directory``) plus ``extra_dir``
    (``YJ_PACKS_DIR``), each checked, by pack id, oldest first; PackError on any problem."""
    folder = Path(directory) if directory is not None else PACK_DIR
    versions: Versions = {}
    _add_versions(versions, _pack_files(folder))
    if not versions:
        raise PackError(f"{folder}: no policy packs (*.toml) found")
    if extra_dir is not None:
        extra = Path(extra_dir)
        if not extra.is_dir():
            raise PackError(f"{extra}: YJ_PACKS_DIR is not a directory")
        _add_versions(versions, _pack_files(extra))
    return versions


def latest(versions: Versions) -> dict[str, Pack]:
    """The newest version of each pack (the one in force last), by pack id."""
    return {pack_id: found[-1] for pack_id, found in versions.items()}


def version_at(versions: tuple[Pack, ...], moment: datetime) -> Pack:
    """The version in force at ``moment``: the last whose ``effective_from`` (a Europe/London
    date) is on or before the moment's London date; before the first, the first."""
    return version_on(versions, london_date(moment))


def version_on(versions: Sequence[Pack], day: date) -> Pack:
    """The version in force on ``day`` (a Europe/London date): :func:`version_at`'s rule."""
    current = versions[0]
    for version in versions:
        if version.effective_from is None or version.effective_from <= day:
            current = version
    return current


def load_packs(directory: Path | None = None) -> dict[str, Pack]:
    """Every ``*.toml`` pack in a directory (default: the bundled packs), keyed by pack id
    (the newest version of each)."""
    return latest(load_versions(directory))


def load_all_packs(extra_dir: Path | None = None) -> dict[str, Pack]:
    """The bundled packs plus every pack in ``extra_dir`` (``YJ_PACKS_DIR``), each checked,
    the newest version of each; PackError on any invalid pack or a version given twice."""
    return latest(load_versions(None, extra_dir))


def matrix_level(pack: Pack, impact: str | None, likelihood: str | None) -> str | None:
    """M1: the pack's matrix level for a ROSH impact and likelihood (None if either is missing)."""
    return pack.matrix.level(impact, likelihood) if pack.matrix is not None else None


_NOBODY = UUID(int=0)
_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


def state_context(after: CaseSnapshot, event: WorkflowEvent | None = None) -> Context:
    """A context for after-only conditions (holds, register, contact) on a case state."""
    event = event or WorkflowEvent("state", _EPOCH, after.case_id, "system")
    return Context(event, after, after)


def is_raisable(pack: Pack, after: CaseSnapshot) -> bool:
    """Whether a manager may raise (and keep raised) the priority of the case state ``after``
    (the pack's ``[priority] raisable``; False without one)."""
    return (pack.priority is not None and pack.priority.raisable is not None
            and bool(pack.priority.raisable(state_context(after))))


def is_priority(pack: Pack, after: CaseSnapshot) -> bool:
    """Whether the pack's ``[priority]`` holds for the case state ``after`` (False without one:
    Wokingham sets none)."""
    return pack.priority is not None and bool(pack.priority.when(state_context(after)))


def contact_level(
    pack: Pack, ratings: Mapping[str, str | None], *, statutory: bool = True
) -> str | None:
    """W11: the contact frequency the pack sets for these ratings on a statutory case (or, with
    ``statutory=False``, another one) (None where it sets none)."""
    if pack.contact is None:
        return None
    case = CaseSnapshot(
        _NOBODY, "", statutory, "none", ratings={d: ratings.get(d) for d in DOMAINS}
    )
    return contact_level_for(pack, state_context(case))


def contact_level_for(pack: Pack, ctx: Context) -> str | None:
    """W11 on a prepared after-state context."""
    if pack.contact is None:
        return None
    for band in pack.contact.bands:
        if band.when(ctx):
            return band.level
    return None


def satisfies_assessment_step(
    pack: Pack, rule_id: str, code: str, title: str, assessment_type: str,
    stage: str | None = None,
) -> bool:
    """Whether an assessment of this type (and, when given, stage) does the step (rule, code,
    title) the pack made."""
    types = pack.assessment_types_for(rule_id, code, title)
    if types is not None and assessment_type not in types:
        return False
    stages = pack.assessment_stages_for(rule_id, code, title)
    return stage is None or stages is None or stage in stages
