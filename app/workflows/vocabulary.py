"""The words a pack may use: the contract's core vocabulary, and the pack's own on top of it.

The core is what ``shared/spec/api-v1.md`` fixes for every service (event types, referral kinds,
interventions, roles...). A pack adds its own event types, referral kinds (with the acts that
close their steps), panel kinds (chair role, cadence, invitees, attendance), typed case facts and
assessment scores; the service validates every write against the union, and
``GET /v1/policy-packs/{id}`` publishes it so integrators can build forms.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date
from functools import lru_cache
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    field_validator,
    model_validator,
)

from app.workflows.calendar import iso_date
from app.workflows.suggest import near_words
from app.workflows.types import DOMAINS, LEVELS, TRIGGERS, WEEKDAYS, Cadence

# --- the contract's core (api-v1.md) ---------------------------------------------------------

CORE_EVENT_TYPES: tuple[str, ...] = (
    "change_of_circumstances", "new_incident", "exploitation_concern", "trafficking_concern",
    "risk_to_staff", "charged", "death", "custody_entry", "custody_release", "transfer_in",
    "transfer_out", "partner_action_not_secured",
)
# The case's fields a core event type moves (app.domain.events: the case follows the latest
# move by date): the event's own after-state in the engine, so that a line's ``holds`` and its
# ``after.`` atoms read the child where the event leaves them, at the event's own moment, in
# whatever order the acts are typed (Somerset S32/S33 14.2/14.2.1 and S43 14.3.1 "while in
# custody", judged for a custody entry typed after a later judgement; attack 32c, ATTACK32C-5).
EVENT_MOVES: dict[str, dict[str, Any]] = {
    "custody_entry": {"in_custody": True},
    "custody_release": {"in_custody": False},
}
# The contract's scale for the likelihood of re-offending (policy-rules Vocabulary: "`lor`
# (likelihood of re-offending: low/medium/high only)"; the national AssetPlus scale, Wokingham
# "The LoR can be low, medium, or high"): a judgement of LoR at very high is refused by the
# engine itself (422 ``invalid-level`` at ``body.level``, rule ``LOR_SCALE``) under every pack,
# after the pack's own checks (the bundled packs' M7 answers first with its own reference), so
# a pack that does not copy M7 stores no level outside the scale (attack 28b, ATK28B-15).
LOR_SCALE_RULE = "LOR_SCALE"
LOR_SCALE_REFUSED: tuple[str, str] = ("lor", "very_high")
# The domains a transfer in's ``incoming_ratings`` carry (the contract's ``IncomingRatings``,
# app.domain.events; a test keeps the two alike): an incoming LoR is never sent.
INCOMING_DOMAINS: tuple[str, ...] = ("rosh", "swb")
CORE_REFERRAL_KINDS: tuple[str, ...] = (
    "panel", "mappa_h", "mappa_a", "emrac", "marf", "nrm", "child_protection", "serious_incident",
)
INTERVENTIONS: tuple[str, ...] = (
    "prevention", "community_resolution", "youth_caution", "youth_conditional_caution",
    "court_order", "bail", "remand", "pre_sentence_report", "targeted",
)
CSC_STATUSES: tuple[str, ...] = ("none", "cin", "cic", "cp")
ASSESSMENT_TYPES: tuple[str, ...] = (
    "asset_plus", "mini_asset", "fact_finding", "lead_professional",
)
ASSESSMENT_STAGES: tuple[str, ...] = ("start", "review", "closure", "transfer")
REFERRAL_ACTIONS: tuple[str, ...] = (
    "submit", "quality-assure", "send", "accept", "decline", "withdraw",
)
REFERRAL_STATUSES: tuple[str, ...] = (
    "draft", "submitted", "quality_assured", "sent", "received", "accepted", "declined",
    "withdrawn",
)
# Staff roles a token may carry (app/core/security.py STAFF_ROLES; a test keeps them equal).
# The code of the step the escalation worker raises over an overdue step (app.domain.escalation),
# and every step code the service itself raises or treats specially: the engine's, not a pack's.
# A pack line (or a check's acknowledgement) creating one of them is a load error (attack 26a,
# A26a-1: a pack's own duty coded ``escalate_overdue_step`` ran as an escalation of nothing,
# unwaivable and never escalated itself). ``app.domain.steps`` takes the constant from here.
ESCALATION_CODE = "escalate_overdue_step"
ENGINE_STEP_CODES: frozenset[str] = frozenset({ESCALATION_CODE})
STAFF_ROLES: tuple[str, ...] = ("case_holder", "line_manager", "duty_manager", "chair",
                                "panel_admin")
# The order of the roles an overdue step climbs (attack 32b, ATTACK32B-3): the contract's
# (policy-rules.md "Actors") case holder, their line manager, the duty manager who stands in
# for the line manager, and the chair (the service's senior managers, "who chair panels and
# take escalations"), the top: only the top escalates to itself. The panel administrator
# manages no one: ranked with the case holder, so their overdue step goes to a manager.
ROLE_RANK: dict[str, int] = {"case_holder": 0, "panel_admin": 0, "line_manager": 1,
                             "duty_manager": 2, "chair": 3}
TOP_ROLE = "chair"
# Who is above each role, as the bundled packs say (the suggestion ``pack check`` makes).
ROLE_ABOVE: dict[str, str] = {"case_holder": "line_manager", "panel_admin": "chair",
                              "line_manager": "duty_manager", "duty_manager": "chair",
                              "chair": "chair"}
# Who may be asked to do a step: a staff role, or the owner a panel named for an action.
ACTORS: tuple[str, ...] = (*STAFF_ROLES, "action_owner")
# Roles an event can be recorded under (staff, machine feeds, the system itself).
ACTING_ROLES: tuple[str, ...] = (*STAFF_ROLES, "feed", "system")
IMPACTS: tuple[str, ...] = ("slight", "minor", "medium", "major", "critical")
LIKELIHOODS: tuple[str, ...] = ("unlikely", "possible", "likely", "very_likely",
                                "almost_certain")
# Event data keys a rule may test with ``event_flag``.
EVENT_FLAGS: tuple[str, ...] = (
    "may_raise_to_high", "release_address_other_area", "from_feed", "assessment_pending",
    # A ``charged`` event whose ``notifiable_offence`` is false (unsaid: notifiable): not a
    # serious incident for Somerset S23 and Wokingham W24's CSPPI lines (attack pass 19, A19-20).
    "offence_not_notifiable",
    "assessment_unnamed", "completes_rosh_rating", "completes_swb_rating",
    "completes_lor_rating",
    # Of a countersignature, the rating it completes (in force at its date) was judged with
    # this assessment (``own``), or is a panel's classification recorded without one
    # (``panel``): Wokingham W9 (attack 35b, ATTACK35B-5).
    "completes_rosh_own_rating", "completes_swb_own_rating", "completes_lor_own_rating",
    "completes_rosh_panel_rating", "completes_swb_panel_rating", "completes_lor_panel_rating",
    # The assessment whose submission did a step of ``[closures]`` ``assessment_submit_review``
    # (the Review Stage that step asked for): on its submission, its return and its resubmission.
    "answers_review_request",
    # A judgement recorded while a transfer out is pending (its date not yet past): the event
    # also carries that ``transfer_date`` for ``before-transfer`` (Somerset S26, 13.4.3).
    "transfer_pending",
    # The case change (``in_custody``) that follows a ``custody_entry``/``custody_release`` event:
    # the event's own lines have asked for its steps; a custody change made on the case itself
    # (``PATCH in_custody``) has no event, and the same lines ask for them on the change
    # (attack pass 14, A14-21).
    "custody_event",
    # A ``custody_entry``/``custody_release`` event reporting a move the case already records:
    # ``in_custody`` is already where the event would put it, by a recorded move (``PATCH
    # in_custody`` or an earlier custody event). The lines the move asked for were asked then;
    # a release on a case never recorded in custody is a real release (attack pass 15, A15-1).
    "custody_move_recorded",
    # A judgement that answers an open review of its domain's rating (a ``rating_replaced``
    # closure: Wokingham's floor review, M3/M4): the starting judgement under the new fact, as
    # the first in the domain is (attack pass 17, A17-16).
    "answers_rating_review",
)
# Case fields a ``case_changed`` event can report, with the values each may take (None: any).
CASE_FIELDS: dict[str, tuple[Any, ...] | None] = {
    "csc_status": CSC_STATUSES,
    "intervention": INTERVENTIONS,
    "mappa_category": (1, 2, 3),
    "mappa_level": (1, 2, 3),
    "statutory": (True, False),
    "weapon_related": (True, False),
    "in_custody": (True, False),
    "volunteer_attached": (True, False),
    "expected_release_date": None,
}
# Acts (besides a referral's own lifecycle) that close open steps, named in ``[closures]``.
CLOSING_ACTS: tuple[str, ...] = (
    "assessment_submit", "assessment_countersign", "assessment_countersign_endorses",
    "referral_quality_assure", "referral_views",
    "panel_decision", "panel_decision_then", "panel_decision_mappa",
    "panel_decision_overtakes", "panel_decision_misses", "panel_decision_presenter",
    "panel_item_added", "rating_replaced", "assessment_submit_review",
)
# The closing acts that make a step moot or are one way among others of doing it, rather than
# being the act the step asks for: a panel sitting overtakes a referral still open (superseded,
# not done), and a countersignature endorses a rationale the line manager may also acknowledge
# directly. Every other closing act (and a referral kind's ``closes``) is the only way to do
# the steps it closes (``Pack.done_only_by``), unless the pack lists the code in ``completable``.
# A panel sitting on the case without a step owed before it done (``panel_decision_misses``:
# Somerset 6.2's views "sought before the initial panel") does not do it either: it was missed.
NOT_DOING_ACTS: tuple[str, ...] = ("panel_decision_overtakes", "panel_decision_misses",
                                   "assessment_countersign_endorses")
# The closing acts that are a panel's decision, recorded at or after its sitting: a step only
# these do (``Pack.done_at_sitting``) is late only after the end of the London day it is due on
# (Somerset 3.2.4 "the MAPPA level will be identified and agreed via these processes": the
# MARP's decision at its 1 pm sitting is on time; attack pass 19, A19-1).
SITTING_ACTS: tuple[str, ...] = ("panel_decision", "panel_decision_mappa", "panel_decision_then",
                                 "panel_decision_presenter")

Name = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]
# An event type's id: what a client sends as ``type``, so no longer than the API accepts
# (app.domain.events.EventTypeLabel, 32 characters): a longer one could never be recorded (fid11).
EventTypeId = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=32)]
Code = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]
Text = Annotated[str, Field(min_length=1, max_length=300)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EventType(_Strict):
    """A case event type the pack adds to the core, or how it treats a core one."""

    id: EventTypeId
    title: Text
    # May be recorded on a closed case (Somerset S23: a charge or death after closure).
    after_closure: bool = False
    # The open steps of these codes can no longer be done once this event is recorded (a
    # child's death ends the work with the child): superseded, with ``ends_reason``, audited,
    # in the event's own transaction. Steps the policy asks for after the event stay open.
    ends_steps: tuple[Code, ...] = ()
    ends_reason: Text | None = None
    # As ``ends_steps``, for codes the event itself also asks for: only the open steps about
    # other acts are ended (Wokingham W21's report of a risk to staff at a death, whose own W5
    # report has the same code; attack 20, A20-18).
    ends_earlier_steps: tuple[Code, ...] = ()
    # A later event of this type replaces the arrangements an earlier one made (a second
    # transfer out: the transfer now planned is that one): the open steps raised about an
    # earlier event of the type, dated at or before this one, are superseded, audited, in the
    # event's transaction (attack pass 15, A15-2).
    replaces_earlier: bool = False
    # Nothing about the living child can happen after this event (a death): an act dated after
    # it is refused, 409 ``after-final-event`` naming the event and its date (attack pass 19,
    # A19-17): a judgement, an assessment started, a panel agenda item or decision, a case
    # event of a type not in ``later_event_types``, a referral of a kind not in
    # ``later_referral_kinds`` (made or moved on), a change of the child's circumstances
    # (social care status, MAPPA, custody, release date, facts). What the policy still asks
    # after it is not an act about the living child and stays open: completing or waiving
    # steps (the manager informed, the notification), closing the case, recording management
    # oversight, finishing assessments already on file, withdrawing agenda items and referrals.
    final: bool = False
    # A closure dated on or after this event's ``transfer_date`` (the child has gone to the
    # receiving service: Somerset 13.4) sets these open ``not_waivable`` steps aside with the
    # other steps, instead of refusing the closure (409 ``mandatory-steps-open``): this
    # service's own panel duties, which the receiving service's arrangements now answer
    # (attack pass 19, A19-21). ``survives_closure`` duties still survive.
    closure_sets_aside: tuple[Code, ...] = ()
    later_event_types: tuple[Name, ...] = ()
    later_referral_kinds: tuple[Name, ...] = ()
    # What happens to a child at most once (a death): a second report of it on the case, from
    # another channel, in other words or at another time, is the first reported again (200 with
    # the first event, audited, no new step), never a second one; each raised its own
    # notifications to the manager and the serious incident notification (attack pass 18,
    # A18-4).
    once_per_case: bool = False
    # The event is about the setting holding the child in custody (Somerset 14.3.1, a doubt
    # about the secure setting's responses): refused (422 ``not-in-custody``) unless the child
    # is recorded in custody at the event's ``occurred_at`` (as the case's fields stood then),
    # so a doubt recorded before the custody entry is not accepted and left raising nothing; the
    # same facts ask the same whatever the typing order (attack 24b, A24b-5).
    requires_in_custody: bool = False


# A child dies once, and nothing about the living child follows: ``death`` is a core event type
# every service accepts, and its meaning is the core's too. A pack that does not declare it gets
# :func:`core_death` (attack 28b, ATK28B-14: the example pack recorded a death, then asked for a
# child protection referral, a panel referral and a mental health assessment of the dead
# child); a pack that declares it may say more (which steps it ends, what it still accepts), but
# not that it is other than final and once per case (``pack check``: an error).
DEATH = "death"
# What a pack declaring ``death`` leaves unsaid is the core's (what it ends is its own to say).
DEATH_CORE_FIELDS: tuple[str, ...] = ("final", "once_per_case", "after_closure",
                                      "later_referral_kinds", "ends_reason")
DEATH_ENDS_REASON = "the child has died: this work with the child can no longer be done"


def core_death(step_codes: Iterable[str], kept: Iterable[str] = ()) -> EventType:
    """The core's ``death`` for a pack that does not declare one: final (nothing about the
    living child after it: 409 ``after-final-event``), once per case, recordable after
    closure, the serious incident notification (the core ``serious_incident`` referral kind)
    still accepted after it; it ends every open step about earlier acts (``ends_earlier_steps``:
    each code the pack's lines create, bar ``kept``: what the notification closes and what a
    line asks for on the death itself), while the steps the death itself asks for stay open."""
    keep = frozenset(kept)
    return EventType(
        id=DEATH, title="The child died", after_closure=True, final=True, once_per_case=True,
        later_referral_kinds=("serious_incident",), ends_reason=DEATH_ENDS_REASON,
        ends_earlier_steps=tuple(c for c in dict.fromkeys(step_codes) if c not in keep))


class ReferralKind(_Strict):
    """A referral kind: how it is made, which steps making it closes, the gates it passes."""

    id: Name
    title: Text | None = None
    made_by: Literal["submit", "send"] = "send"
    closes: tuple[Code, ...] = ()
    # Wokingham "Referrals into MAPPA": a manager quality-assures the form before it is sent.
    quality_assurance: bool = False
    # Somerset 6.2: the child's and parent/carer's views are sought before the panel.
    requires_views: bool = False
    # The referral asks a panel to hear the case (it can be put on a panel's agenda).
    to_panel: bool = False
    # May be made on a closed case (a serious incident notification, CSPPI).
    after_closure: bool = False
    # Who may make it (create, submit, send, withdraw) besides the case holder and the managers
    # (app.domain.access.referral_roles): a step a referral of this kind closes may be owned by
    # a senior manager (Somerset 12: "The operational or YJT manager will be responsible for
    # completing and submitting the notification to the YJB"; 8.3 the immediate MAPPA referral
    # the operational/YJT manager makes). Empty: the holder and the managers only.
    also_made_by: tuple[Literal["chair"], ...] = ()
    # Steps done before the referral is made (Wokingham W14, Contextual Safeguarding: "After
    # the tool has been completed, it must be emailed to triage"): making it (``made_by``)
    # while one raised by then is not yet done at the act's time is 409 ``steps-first``.
    after_steps: tuple[Code, ...] = ()
    # Delivered by an automated feed (``POST /v1/feeds/{source}/referrals``), the referral
    # records that it was made (Wokingham: the EMRAC triage's message shows the tool was
    # completed and emailed to triage): the delivery is the act ``made_by`` is for a person, and
    # closes ``after_steps`` first, then ``closes``, at its ``received_at`` (attack 34b,
    # ATTACK34B-2). False: a message to the service, not its act (a MAPPA H from MAPPA).
    feed_makes: bool = False


# A cadence that states a fixed day: "weekly on Thursday", "fortnightly on Tuesday from
# 2027-01-05", "every 3 weeks on Monday from 2027-01-04". Any other words ("ad hoc, within one
# week of a request") describe a panel with no fixed day.
# ASCII: ``\d`` and ``\s`` of other scripts are not the pack's grammar (attack 26a, A26a-3).
_FIXED_DAY = re.compile(r"\s*(weekly|fortnightly|every\b)", re.IGNORECASE | re.ASCII)
_SCHEDULE = re.compile(
    r"\s*(?:(?P<weekly>weekly)|(?P<fortnightly>fortnightly)|every\s+(?:(?P<n>\d+)\s+)?weeks?)"
    r"\s+on\s+(?P<day>[a-z]+)\s*(?:\s+from\s+(?P<anchor>\d{4}-\d{2}-\d{2}))?\s*",
    re.IGNORECASE | re.ASCII)


@lru_cache(maxsize=64)
def parse_cadence(text: str | None) -> Cadence | None:
    """The typed cadence of a panel kind's words: None for words that state no fixed day;
    ValueError (with a did-you-mean for a weekday) for a fixed-day cadence that does not
    parse. An interval longer than a week needs its first meeting (``from YYYY-MM-DD``)."""
    if text is None or not _FIXED_DAY.match(text):
        return None
    found = _SCHEDULE.fullmatch(text)
    if found is None:
        raise ValueError(f"cadence {text!r}: write 'weekly on <weekday>' or 'every <n> weeks "
                         "on <weekday> from <YYYY-MM-DD>'")
    day = found["day"].lower()
    day = day[:-1] if day.endswith("s") and day[:-1] in WEEKDAYS else day  # "on Thursdays"
    if day not in WEEKDAYS:
        raise ValueError(f"cadence {text!r}: unknown weekday {found['day']!r}"
                         f"{suggest(day, WEEKDAYS)}")
    every = 2 if found["fortnightly"] else int(found["n"] or 1)
    anchor = date.fromisoformat(found["anchor"]) if found["anchor"] else None
    if every < 1 or every > 52:
        raise ValueError(f"cadence {text!r}: every 1 to 52 weeks")
    if every > 1 and anchor is None:
        raise ValueError(f"cadence {text!r}: say which week it starts ('from <YYYY-MM-DD>', "
                         f"a {day.title()})")
    if anchor is not None and anchor.weekday() != WEEKDAYS.index(day):
        raise ValueError(f"cadence {text!r}: {anchor.isoformat()} is not a {day.title()}")
    return Cadence(weekday=WEEKDAYS.index(day), every_weeks=every, anchor=anchor, text=text)


class PanelKind(_Strict):
    """A panel the service holds: who chairs, how often, who is invited, who must attend.

    ``cadence`` is the pack's words; when they state a fixed day (``weekly on Thursday``) they
    are parsed at load into :attr:`meets`, which dates a ``next-panel`` step before any panel
    is booked."""

    id: Name
    title: Text
    chair_role: Literal["chair", "line_manager", "duty_manager"] = "chair"
    cadence: Text | None = None
    invitees: tuple[Name, ...] = ()
    required_attendance: tuple[Name, ...] = ()
    # Somerset 7.1.5: the manager presenting a case does not chair its decision.
    presenter_may_chair: bool = True

    @field_validator("cadence")
    @classmethod
    def _cadence_parses(cls, value: str | None) -> str | None:
        """A fixed-day cadence that does not parse fails the load (its own field, so ``pack
        check`` names it and still checks the rest of the panel kind)."""
        parse_cadence(value)
        return value

    @model_validator(mode="after")
    def _attendance_invited(self) -> PanelKind:
        missing = [a for a in self.required_attendance if a not in self.invitees]
        if missing:
            raise ValueError(f"required_attendance {missing} must also be invitees")
        return self

    @property
    def meets(self) -> Cadence | None:
        """The fixed day the panel meets on (None: no fixed day stated)."""
        return parse_cadence(self.cadence)


class Fact(_Strict):
    """A typed case fact, stored per case and set through ``PATCH /v1/cases/{id}`` ``facts``."""

    id: Name
    title: Text
    type: Literal["boolean", "enum", "integer", "date", "list"]
    values: tuple[Name, ...] = ()
    # Strict: TOML's 1.0 or true is not a whole number (attack 35a, ATTACK35A-10).
    min: StrictInt | None = None
    max: StrictInt | None = None

    @model_validator(mode="after")
    def _shape(self) -> Fact:
        if self.type in ("enum", "list") and not self.values:
            raise ValueError(f"a {self.type} fact needs 'values'")
        if self.type not in ("enum", "list") and self.values:
            raise ValueError(f"a {self.type} fact takes no 'values'")
        if (self.min is not None or self.max is not None) and self.type != "integer":
            raise ValueError("'min'/'max' apply to integer facts only")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError("'min' is above 'max'")
        return self

    def parse(self, value: Any) -> Any:
        """The stored form of a value (ValueError naming the allowed values when it is wrong)."""
        if value is None:
            return None
        if self.type == "boolean":
            if not isinstance(value, bool):
                raise ValueError("must be true or false")
            return value
        if self.type == "integer":
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError("must be a whole number")
            if (self.min is not None and value < self.min) or (
                    self.max is not None and value > self.max):
                raise ValueError(f"must be between {self.min} and {self.max}")
            return value
        if self.type == "date":  # as every date of the contract (attack pass 28a, ATK28A-1)
            try:
                return iso_date(value).isoformat()
            except ValueError:
                raise ValueError("must be an ISO date (YYYY-MM-DD)") from None
        if self.type == "enum":
            if value not in self.values:
                raise ValueError(f"must be one of {', '.join(self.values)}")
            return value
        if not isinstance(value, list) or any(v not in self.values for v in value):
            raise ValueError(f"must be a list of {', '.join(self.values)}")
        return sorted(set(value), key=self.values.index)


class Score(_Strict):
    """A named assessment score with its range (e.g. an Asset+ section rated 0-4)."""

    id: Name
    title: Text
    min: StrictInt = 0  # strict as Fact's (ATTACK35A-10)
    max: StrictInt

    @model_validator(mode="after")
    def _range(self) -> Score:
        if self.min > self.max:
            raise ValueError("'min' is above 'max'")
        return self

    def parse(self, value: Any) -> int:
        """A valid score (ValueError giving the range)."""
        if isinstance(value, bool) or not isinstance(value, int) or not (
                self.min <= value <= self.max):
            raise ValueError(f"must be a whole number from {self.min} to {self.max}")
        return value


class Escalation(_Strict):
    """Who takes an overdue step's escalation, by the overdue step's actor."""

    default: Name = "line_manager"
    to: dict[Name, Name] = Field(default_factory=dict)

    def target(self, actor: str) -> str:
        """The role that takes the escalation of a step owed by ``actor``."""
        return self.to.get(actor, self.default)


# The policies' own words for a role (the seeds' and the packs' comments) -> the role: a pack
# owner writes the policy's word ("case manager"), and the did-you-mean offers the role meant.
ROLE_SYNONYMS: dict[str, str] = {
    "case_manager": "case_holder", "case_worker": "case_holder", "caseworker": "case_holder",
    "yot_worker": "case_holder", "yjt_worker": "case_holder", "yos_worker": "case_holder",
    "practitioner": "case_holder",
    "team_leader": "line_manager",
    "operational_manager": "chair", "yjt_manager": "chair", "yot_manager": "chair",
    "panel_chair": "chair",
    # Wokingham: "chaired by the Team Manager"; the Service Manager is above them. Somerset 9:
    # "the YJT Strategic Manager and the Operations Manager"; 1.8 "a senior manager" (ATK28B-13)
    "team_manager": "chair", "service_manager": "chair", "strategic_manager": "chair",
    "operations_manager": "chair", "senior_manager": "chair", "head_of_service": "chair",
}


def suggest(value: str, allowed: Iterable[str]) -> str:
    """`` (did you mean x?)`` for a near miss among ``allowed`` (:func:`app.workflows.suggest.
    near_words`, the one did-you-mean), else ``""``; a policy's word for a role
    (``ROLE_SYNONYMS``: "case manager") offers the role it means."""
    near = near_words(value, allowed, ROLE_SYNONYMS)
    return f" (did you mean {' or '.join(repr(n) for n in near)}?)" if near else ""


CORE = {
    "triggers": TRIGGERS, "levels": LEVELS, "domains": DOMAINS, "interventions": INTERVENTIONS,
    "csc_statuses": CSC_STATUSES, "assessment_types": ASSESSMENT_TYPES,
    "assessment_stages": ASSESSMENT_STAGES, "referral_actions": REFERRAL_ACTIONS,
    "referral_statuses": REFERRAL_STATUSES, "roles": STAFF_ROLES, "actors": ACTORS,
}
