"""Dry runs of the engine: what a judgement or event would produce, writing nothing."""

from __future__ import annotations

import dataclasses
import json
import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    StringConstraints,
    ValidationError,
)
from sqlmodel.ext.asyncio.session import AsyncSession

from app.core.errors import (
    PROBLEM_BASE,
    Unprocessable,
    schema_names,
    status_title,
    validation_items,
)
from app.core.security import Principal
from app.domain import policy
from app.domain.access import MANAGERS, case_role_for, get_visible_case, require_open_case
from app.domain.acts import require_final_event_after_living_acts
from app.domain.assessments import check_belongs_to_case
from app.domain.assessments_table import AssessmentStage, AssessmentType
from app.domain.cases_table import Case, CscStatus, Intervention
from app.domain.common import (
    ActTime,
    KindLabel,
    PlausibleDate,
    StaffId,
    UtcDatetime,
    resolve_occurred_at,
)
from app.domain.derived_history import Rated
from app.domain.events import (
    CaseEventCreate,
    additions,
    check_event_type,
    event_details,
    known_at_of,
    same_event,
    with_additions,
)
from app.domain.events_table import CaseEvent, event_data
from app.domain.final_events import require_before_final_event
from app.domain.judgements import (
    JudgementCreate,
    evaluation_as_written,
    judgement_event_data,
)
from app.domain.judgements_table import Level
from app.domain.panels import (
    LATEST_AFTER_PANEL,
    PanelAction,
    action_dates_after,
    decision_date_errors,
    rating_errors,
    require_panel_may_hear,
)
from app.domain.referrals import ReferralStatus
from app.domain.services import Service
from app.domain.sitting_bounds import refuse_undoing_a_decided_sitting
from app.domain.timing import (
    a_year_after,
    not_after_error,
    require_release_within_case,
    require_transfer_date_within,
    require_within_case,
)
from app.domain.write_context import DryRunContext, event
from app.workflows.calendar import WorkingCalendar, london_date
from app.workflows.packs import Pack
from app.workflows.types import TRIGGERS, Evaluation, StepIntent, WorkflowEvent

Code = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")]
Role = Literal["case_holder", "line_manager", "duty_manager", "chair", "panel_admin", "admin",
               "feed"]
MappaLevel = Annotated[StrictInt, Field(ge=1, le=3)]
MappaCategory = Annotated[StrictInt, Field(ge=1, le=4)]


class _TriggerData(BaseModel):
    """What every preview trigger's ``data`` may carry: the event's subject."""

    model_config = ConfigDict(extra="forbid")
    subject_id: uuid.UUID | None = None


class CaseChanges(BaseModel):
    """``case_changed`` changes: each field as ``[before, after]``."""

    model_config = ConfigDict(extra="forbid")
    mappa_category: tuple[MappaCategory | None, MappaCategory | None] | None = None
    mappa_level: tuple[MappaLevel | None, MappaLevel | None] | None = None
    volunteer_attached: tuple[bool, bool] | None = None
    in_custody: tuple[bool, bool] | None = None
    weapon_related: tuple[bool, bool] | None = None
    statutory: tuple[bool, bool] | None = None
    csc_status: tuple[CscStatus, CscStatus] | None = None
    intervention: tuple[Intervention, Intervention] | None = None
    expected_release_date: tuple[PlausibleDate | None, PlausibleDate | None] | None = None


class CaseChangedData(_TriggerData):
    """``case_changed``."""

    changes: CaseChanges


class AssessmentData(_TriggerData):
    """``assessment_submitted`` / ``_countersigned`` / ``_returned``."""

    type: AssessmentType
    stage: AssessmentStage
    assessment_id: uuid.UUID | None = None


class CaseEventData(CaseEventCreate):
    """``case_event``: the write's own body (``POST /v1/cases/{id}/events``), read as strictly
    as the contract reads the write (attack 20, A20-1), with the preview's subject; its
    ``occurred_at`` is the preview's own (top level)."""

    model_config = ConfigDict(extra="forbid")
    subject_id: uuid.UUID | None = None


class ReferralCreatedData(_TriggerData):
    """``referral_created``."""

    kind: KindLabel
    source: Annotated[str, StringConstraints(max_length=32)] = "api"
    from_feed: bool = False


class ReferralTransitionData(_TriggerData):
    """``referral_transition``."""

    kind: KindLabel
    action: Literal["submit", "quality-assure", "send", "accept", "decline", "withdraw"]
    to_status: ReferralStatus


class PanelDecisionData(_TriggerData):
    """``panel_decision``."""

    rosh_level: Level | None = None
    swb_level: Level | None = None
    actions: Annotated[list[PanelAction], Field(max_length=50)] = Field(default_factory=list)
    review_date: PlausibleDate | None = None
    mappa_level: MappaLevel | None = None
    panel_kind: KindLabel


class PanelItemAddedData(_TriggerData):
    """``panel_item_added``."""

    panel_id: uuid.UUID
    panel_kind: KindLabel
    panel_chair_id: StaffId | None = None
    scheduled_for: UtcDatetime | None = None


class PanelScheduledData(_TriggerData):
    """``panel_scheduled``."""

    panel_id: uuid.UUID
    kind: KindLabel


class StepCompletedData(_TriggerData):
    """``step_completed``."""

    code: Code
    rule_id: Code
    step_id: uuid.UUID | None = None
    due_at: UtcDatetime | None = None
    completed_by_role: Role | None = None
    actor: Role | None = None
    # The occurrence was waived, not done: the next keeps its due date (a waiver is not a review).
    waived: bool = False


TRIGGER_DATA: dict[str, type[_TriggerData] | type[CaseEventData]] = {
    "case_opened": _TriggerData,
    "case_changed": CaseChangedData,
    "assessment_submitted": AssessmentData,
    "assessment_countersigned": AssessmentData,
    "assessment_returned": AssessmentData,
    "case_event": CaseEventData,
    "referral_created": ReferralCreatedData,
    "referral_transition": ReferralTransitionData,
    "panel_item_added": PanelItemAddedData,
    "panel_decision": PanelDecisionData,
    "panel_scheduled": PanelScheduledData,
    "step_completed": StepCompletedData,
}


class PreviewRequest(BaseModel):
    """Body of ``POST /v1/workflow/preview``: a case and a judgement (or another trigger)."""

    model_config = ConfigDict(extra="forbid")
    case_id: uuid.UUID
    judgement: JudgementCreate | None = None
    trigger: str | None = Field(default=None, max_length=64)
    data: dict[str, Any] = Field(default_factory=dict)
    occurred_at: ActTime = None


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
    policy: dict[str, str | None]
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
# The acts whose writes are dated only when their recorder held the case's role they act in
# (policy.require_held_role_then, ATTACK27-2): a case event, a referral made or moved on, an
# assessment's move, a step done; a judgement too.
HELD_ROLE_ACTS = frozenset({"case_event", "referral_created", "referral_transition",
                            "assessment_submitted", "assessment_countersigned",
                            "assessment_returned", "step_completed"})
PREVIEW_TRIGGERS = tuple(t for t in TRIGGERS if t != "judgement_recorded")


def trigger_data(
    body: PreviewRequest, case_id: uuid.UUID, occurred: datetime
) -> tuple[uuid.UUID, dict[str, Any]]:
    """The event's subject and its ``data``, validated by the trigger's model; 422 with errors
    (``body.data.<field>``) for an unknown trigger or data the trigger cannot carry. A case
    event is read by the write's own model and checks, strictly (:func:`_case_event_data`)."""
    model = TRIGGER_DATA.get(str(body.trigger))
    if model is None:
        raise Unprocessable(
            "Unknown trigger; preview a judgement with 'judgement'.",
            errors=[{"loc": "body.trigger", "msg": f"one of {list(PREVIEW_TRIGGERS)}"}],
        )
    try:
        data = model.model_validate_json(json.dumps(body.data), strict=True) \
            if model is CaseEventData else model.model_validate(body.data)
    except ValidationError as exc:
        found = exc.errors(include_url=False)
        errors = validation_items(found, ("body", "data"),
                                  schema_names(model.model_json_schema()), body.data)
        raise Unprocessable("The trigger's data does not match its shape; see errors.",
                            errors=errors, error_count=len(found)) from exc
    subject = data.subject_id
    if subject is None:
        subject = case_id if body.trigger in ("case_changed", "step_completed") else uuid.uuid4()
    if isinstance(data, CaseEventData):
        return subject, _case_event_data(data, case_id, subject, occurred)
    return subject, data.model_dump(mode="json", exclude={"subject_id"}, exclude_none=True)


def _case_event_data(data: CaseEventData, case_id: uuid.UUID, subject: uuid.UUID,
                     occurred: datetime) -> dict[str, Any]:
    """The engine's view of the event the write would record (:func:`event_data` of it, with
    the details and ``known_at`` the write would store: :func:`event_details`)."""
    if data.occurred_at is not None:
        raise Unprocessable("The preview's occurred_at is sent beside data, not in it.",
                            errors=[{"loc": "body.data.occurred_at",
                                     "msg": "send it as body.occurred_at"}])
    details = event_details(data, at="body.data")
    event = CaseEvent(id=subject, type=data.type, occurred_at=occurred,
                      known_at=known_at_of(data, occurred),
                      may_raise_to_high=data.may_raise_to_high,
                      transfer_date=data.transfer_date, details=details,
                      # never stored: who records it and where are not the engine's data
                      case_id=case_id, service_id=uuid.UUID(int=0), recorded_by="",
                      recorded_role="")
    return event_data(event)


def _check_dates(case: Case, data: dict[str, Any], occurred: datetime,
                 calendar: WorkingCalendar, trigger: str = "") -> None:
    """The bounds the write puts on the dates its deadlines hang on (A18-1..3), each named
    ``body.data.<field>``: an event's transfer date (:func:`require_transfer_date_within`), a
    changed release date (:func:`require_release_within_case`), a panel decision's review and
    action due dates (at most a year after the decision's London date: the preview knows no
    panel, and a panel sits before it decides); a panel item's sitting, which must be one that
    could hear the case (:func:`require_panel_may_hear`)."""
    transfer = data.get("transfer_date")
    if transfer is not None:
        require_transfer_date_within(
            case, transfer if isinstance(transfer, date) else date.fromisoformat(transfer),
            "data.transfer_date")
    if data.get("scheduled_for") is not None:  # a panel item: the panel could hear the case
        require_panel_may_hear(case, datetime.fromisoformat(data["scheduled_for"]),
                               "body.data.scheduled_for")
    release = (data.get("changes") or {}).get("expected_release_date")
    if release and release[1] is not None:
        require_release_within_case(date.fromisoformat(release[1]), case.opened_at,
                                    "data.changes.expected_release_date")
    latest = a_year_after(london_date(occurred))
    # A decision confirms a rating, as the decision itself requires (A23b-2).
    errors = rating_errors(data.get("rosh_level"), data.get("swb_level"), "body.data") \
        if trigger == "panel_decision" else []
    errors += action_dates_after(
        (date.fromisoformat(a["due_date"]) for a in data.get("actions") or ()), latest,
        "body.data")
    review = data.get("review_date")
    if review is not None and date.fromisoformat(review) > latest:
        errors.insert(0, not_after_error("body.data.review_date", LATEST_AFTER_PANEL, latest))
    # A review or action on no working day, as the decision refuses it (A19-15).
    errors += decision_date_errors(
        calendar, date.fromisoformat(review) if review is not None else None,
        [date.fromisoformat(a["due_date"]) for a in data.get("actions") or ()], "body.data")
    if errors:
        raise Unprocessable("The decision cannot be recorded as it stands; see errors.",
                            errors=errors)


async def _reported_again(session: AsyncSession, pack: Pack, case: Case, body: PreviewRequest,
                          data: dict[str, Any], occurred: datetime
                          ) -> tuple[CaseEvent, CaseEvent] | None:
    """The event already recorded the write would answer this case event as (a death reported
    again: :func:`same_event`), creating nothing but what it adds (attack 20, A20-10), and
    that event as the write would leave it (:func:`with_additions`, attack 22, A22-9)."""
    if body.trigger != "case_event":
        return None
    sent = CaseEventData.model_validate_json(json.dumps(body.data), strict=True)
    declared = next((e for e in pack.event_types if e.id == sent.type), None)
    once = declared is not None and declared.once_per_case
    same = await same_event(session, case, sent, occurred, data["details"], once=once)
    if same is None:
        return None
    return same, with_additions(same, additions(same, sent, data["details"]))


def _restated(ctx: policy.PolicyContext, service: Service, case: Case, open_steps: list[Any],
              wf: WorkflowEvent, panels: list[Any], extras: dict[str, Any],
              again: tuple[CaseEvent, CaseEvent]) -> Evaluation:
    """What the write does with an event already recorded, reported again (the event as
    recorded and as the report leaves it, ``again``): the steps of the lines the report newly
    asks for, and the open steps about it superseded of the lines it no longer asks for
    (:func:`app.domain.policy.run_restated`); nothing else (A20-10)."""
    first, now = again
    was_wf, now_wf = (dataclasses.replace(wf, subject_id=first.id, occurred_at=first.occurred_at,
                                          data=event_data(e)) for e in (first, now))
    was, ev = (policy.evaluate_for(ctx, service, case, open_steps, e, panels, **extras)
               for e in (was_wf, now_wf))
    new, dropped = policy.restatement(was, ev, open_steps, first.id)
    gone = tuple(StepIntent(
        action="supersede", rule_id=s.rule_id, code=s.code, title=s.title, actor=s.actor,
        subject_id=s.subject_id, due_at=s.due_at, urgent=s.urgent,
        awaiting_panel_date=s.awaiting_panel_date, policy_pack=s.policy_pack,
        policy_ref=s.policy_ref, policy_version=s.policy_version, step_id=s.id,
        note=policy.restated_reason(now_wf)) for s in dropped)
    return dataclasses.replace(ev, intents=gone + tuple(
        i for i in ev.intents if (i.rule_id, i.code) in new))


def _refuse_on_closed_case(pack: Pack, case: Case, trigger: str, data: dict[str, Any]) -> None:
    """409 ``case-closed`` for a case event the write refuses on a closed case (a type the
    pack does not act on after closure), as the write (A20-10's twin: the preview said valid)."""
    if trigger != "case_event":
        return
    check_event_type(pack, str(data["type"]))  # 422 for a type the service's pack lacks
    if not pack.event_type(str(data["type"])).after_closure:
        require_open_case(case, f"record a {data['type']} event")


async def _refuse_after_final_event(
    session: AsyncSession, pack: Pack, case: Case, occurred: datetime, trigger: str,
    data: dict[str, Any],
) -> None:
    """409 ``after-final-event`` for a trigger whose write refuses it after a recorded death
    (:mod:`app.domain.final_events`): an event of a type the pack does not still accept, a
    change of the child's circumstances, a referral made or moved on, a panel item or
    decision (attack 20, A20-10: the preview promised steps no write would create); and, as
    the write, 422 ``occurred-before-bound`` for a final event (a death) dated before the
    latest act about the living child (attack pass 28a, ATK28A-4)."""
    if trigger == "case_event":
        await require_before_final_event(session, pack, case, occurred,
                                         what=f"record a {data['type']} event",
                                         event_type=str(data["type"]))
        if pack.event_type(str(data["type"])).final:  # nor a death before the living acts
            await require_final_event_after_living_acts(session, case.id, occurred,
                                                        pack.event_type(str(data["type"])))
    elif trigger == "case_changed" and any(v is not None for v in data["changes"].values()):
        await require_before_final_event(session, pack, case, occurred,
                                         what="change the child's circumstances on the case")
    elif trigger == "referral_created" or (trigger == "referral_transition" and data[
            "action"] in ("submit", "quality-assure", "send")):
        await require_before_final_event(session, pack, case, occurred,
                                         what=f"make or move on a {data['kind']} referral",
                                         referral_kind=str(data["kind"]))
    elif trigger in ("panel_item_added", "panel_decision"):
        await require_before_final_event(session, pack, case, occurred,
                                         what="put the case before a panel")


async def _judgement_as_written(
    wctx: DryRunContext, judgement: JudgementCreate, wf: WorkflowEvent, open_steps: list[Any],
    panels: list[Any], extras: dict[str, Any],
) -> Evaluation:
    """A judgement as its write judges it: checked as at its own moment when it is dated before
    another act on file (the ratings and the steps open then: Somerset M6 is not failed by a
    review a later MARP booked, nor passed because a later decision closed the review,
    :func:`~app.domain.judgements.evaluation_as_written`), and, its checks passed, 409
    ``decided-after-judgement`` when in time order it would have taken the case off the agenda
    of a panel whose decision on it is on file (fix35a, ATTACK34A-1; fix36c). Its steps are
    today's case's answer."""
    then = await evaluation_as_written(wctx, body=judgement, wf_event=wf, open_steps=open_steps)
    ev = policy.evaluate_for(wctx.policy, wctx.service, wctx.case, open_steps, wf, panels,
                             checks=then is None, **extras)
    if then is not None and then.violations:
        return dataclasses.replace(ev, violations=then.violations, intents=())
    if not ev.violations and judgement.occurred_at is not None:
        await refuse_undoing_a_decided_sitting(wctx, pending=Rated(
            wctx.occurred_at, str(judgement.domain), str(judgement.level), uuid.uuid4()),
            field="judgement.occurred_at")
    return ev


async def preview(
    session: AsyncSession, principal: Principal, body: PreviewRequest, ctx: policy.PolicyContext
) -> PreviewOut:
    """Evaluate without writing (the caller's session is never flushed). What the write would
    refuse before its policy runs is refused here the same way: a judgement on a closed case is
    409 ``case-closed``, and an act dated before the child's birth or the case's opening (or,
    for a judgement, inside a period the case was closed) is 422 ``occurred-before-bound``
    (attack pass 11, A11-15: the preview said ``valid`` with steps for such a write)."""
    service, case = await get_visible_case(session, principal, body.case_id)
    role = case_role_for(principal, case, ("case_holder", *MANAGERS, "chair"), "preview")
    if (body.judgement is None) == (body.trigger is None):
        raise Unprocessable("Send either a judgement or a trigger.",
                            errors=[{"loc": "body", "msg": "judgement xor trigger"}])
    if body.judgement is not None and body.occurred_at is not None:
        # The preview's own time dates the judgement it previews (ATTACK36-4: it was ignored,
        # and the preview answered as of now where the dated write is refused).
        if body.judgement.occurred_at not in (None, body.occurred_at):
            raise Unprocessable(
                "The preview's occurred_at and its judgement's occurred_at differ: send one.",
                errors=[{"loc": "body.occurred_at",
                         "msg": "differs from body.judgement.occurred_at"}])
        body.judgement = body.judgement.model_copy(update={"occurred_at": body.occurred_at})
    if body.judgement is not None:
        require_open_case(case, "record a judgement")
        occurred = resolve_occurred_at(body.judgement.occurred_at)
        # Dated when its recorder held the role they record it in (ATTACK27-2), as the write.
        await policy.require_held_role_then(session, principal, case, role, occurred)
        require_within_case(case, occurred, "judgement.occurred_at")
        await require_before_final_event(session, ctx.pack_for(service, at=occurred), case,
                                         occurred, what="record a judgement",
                                         field="judgement.occurred_at")
        await check_belongs_to_case(session, case, body.judgement.assessment_id,
                                    "judgement.assessment_id", at=occurred,
                                    time_field="judgement.occurred_at")
        wf = event("judgement_recorded", occurred, case.id, principal,
                          judgement_event_data(body.judgement, False), role)
    else:
        occurred = resolve_occurred_at(body.occurred_at)
        # Every act's bounds; which acts reach past a closure depends on the act (the pack's).
        require_within_case(case, occurred, after_closure=True)
        if body.trigger in HELD_ROLE_ACTS:  # as their writes (ATTACK27-2)
            await policy.require_held_role_then(session, principal, case, role, occurred)
        subject, data = trigger_data(body, case.id, occurred)
        _check_dates(case, data, occurred, ctx.calendar, str(body.trigger))
        pack = ctx.pack_for(service, at=occurred)
        _refuse_on_closed_case(pack, case, str(body.trigger), data)
        again = await _reported_again(session, pack, case, body, data, occurred)
        if not again:
            await _refuse_after_final_event(session, pack, case, occurred, str(body.trigger),
                                            data)
        wf = event(str(body.trigger), occurred, subject, principal, data, role)
    open_steps = await policy.open_steps_of(session, case.id)
    panels = await policy.scheduled_panels(session, service)
    extras = await policy.snapshot_extras(session, case, occurred)
    if body.judgement is None and again:
        # The write answers the event first recorded and raises nothing again (A20-10) but
        # what the report adds asks (A22-9).
        ev = _restated(ctx, service, case, open_steps, wf, panels, extras, again)
    elif body.judgement is not None:
        ev = await _judgement_as_written(
            DryRunContext(session=session, policy=ctx, service=service, case=case,
                          principal=principal, role=role, occurred_at=occurred),
            body.judgement, wf, open_steps, panels, extras)
    else:
        ev = policy.evaluate_for(ctx, service, case, open_steps, wf, panels, **extras)
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
                           policy={"pack": i.policy_pack, "version": i.policy_version,
                                   "ref": i.policy_ref, "rule": i.rule_id},
                           subject_id=i.subject_id, step_id=i.step_id, note=i.note)
               for i in ev.intents],
        matrix_level=ev.matrix_level, ratings_after=dict(ev.ratings_after),
        on_register_after=ev.on_register_after, register_change=ev.register_change,
        contact_level=ev.contact_level,
    )
