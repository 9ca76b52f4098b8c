"""Assessments (AssetPlus, mini-asset, fact finding, lead professional): draft, submit,
countersign or return, each run through the pack (S3, S4, S16, W2, W3)."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import replace
from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, StrictInt, StringConstraints
from pydantic import Field as PField
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.core.errors import Conflict, Forbidden, NotFound, Unprocessable
from app.core.identifiers import visible_text
from app.core.security import Principal
from app.domain import paging, policy
from app.domain.access import (
    MANAGERS,
    case_role_for,
    get_visible_case,
    is_write,
    require_not_case_holder,
    require_open_case,
    service_of,
)
from app.domain.assessments_table import (
    Assessment,
    AssessmentStage,
    AssessmentStatus,
    AssessmentType,
    FiledAct,
    assessment_acts,
    ratings_completed_by,
)
from app.domain.cases_table import Case, mark_changed
from app.domain.common import (
    ActTime,
    iso_utc,
    parse_declared,
    require_unchanged,
    resolve_occurred_at,
)
from app.domain.final_events import require_before_final_event
from app.domain.history import note_case_act
from app.domain.judgements_table import Judgement
from app.domain.next_steps import act_answers, close_step, reason_act, satisfy_open_steps
from app.domain.outbox import emit
from app.domain.replay import (
    dated_before_a_rating,
    rating_history,
    ratings_after,
    ratings_at,
    replay_later_acts,
)
from app.domain.services import Service
from app.domain.steps import Step, StepStatus
from app.domain.timing import (
    require_not_before,
    require_outside_closed_periods,
    require_within_case,
)
from app.domain.transitions import check_move, reload
from app.domain.write_context import WriteContext
from app.workflows.calendar import london_text
from app.workflows.packs import Pack, satisfies_assessment_step
from app.workflows.types import WorkflowEvent

Feedback = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=8000),
                     AfterValidator(visible_text)]

def satisfied_by(pack: Pack, action: str, stage: str | None = None) -> tuple[str, ...]:
    """The step codes an act closes, from the pack's ``[closures]`` (``assessment_submit``,
    ``assessment_countersign``, and ``assessment_submit_review`` for a review stage): e.g.
    Wokingham's assessment is "not complete until countersigned", Somerset's is done on
    submission, and a submitted Review Stage is the one 7.1.3 asks for after a MARP."""
    codes = pack.closes(f"assessment_{action}")
    if action == "submit" and stage == AssessmentStage.review:
        codes += tuple(c for c in pack.closes("assessment_submit_review") if c not in codes)
    return codes


def per_assessment_codes(pack: Pack) -> frozenset[str]:
    """The step codes that are duties about one assessment (raised by its submission or its
    return: countersign it, resubmit it): only an act on that assessment closes them."""
    return frozenset(r.code for trigger in ("assessment_submitted", "assessment_returned")
                     for r in pack.rules_for(trigger) if r.subject == "event")


def check_scores(pack: Pack, scores: dict[str, Any]) -> dict[str, int]:
    """The scores, each a score the pack declares within its range; 422 listing what is allowed."""
    _, errors = parse_declared(scores, pack.score, (s.id for s in pack.scores),
                               loc="body.scores", what="a score")
    if errors:
        raise Unprocessable("The assessment's scores do not match the service's policy.",
                            slug="invalid-scores", errors=errors)
    return dict(scores)


# Transitions as data: the action, the states it may start from, and the state it leads to.
TRANSITIONS: dict[str, tuple[tuple[AssessmentStatus, ...], AssessmentStatus]] = {
    "submit": ((AssessmentStatus.draft, AssessmentStatus.returned), AssessmentStatus.submitted),
    "countersign": ((AssessmentStatus.submitted,), AssessmentStatus.countersigned),
    "return": ((AssessmentStatus.submitted,), AssessmentStatus.returned),
}


class AssessmentCreate(BaseModel):
    """Body of ``POST /v1/cases/{id}/assessments`` (a draft)."""

    model_config = ConfigDict(extra="forbid")
    type: AssessmentType
    stage: AssessmentStage
    occurred_at: ActTime = None


class AssessmentSubmit(BaseModel):
    """Body of ``POST /v1/assessments/{id}/submit`` (optional)."""

    model_config = ConfigDict(extra="forbid")
    occurred_at: ActTime = None
    # Strict: 4.0 is not a score, as 30.0 is not an integer fact's value (Fact.parse; attack
    # 35a, ATTACK35A-10: the contract's JSON Schema "integer" admits 4.0, lax pydantic took it).
    scores: dict[Annotated[str, StringConstraints(max_length=32)], StrictInt] = PField(
        default_factory=dict, max_length=50,
        description="section scores the service's pack declares (GET /v1/policy-packs/{id}: "
                    "scores), each within its range")


class AssessmentFeedback(BaseModel):
    """Body of countersign and return: the manager's written feedback."""

    model_config = ConfigDict(extra="forbid")
    feedback: Feedback
    occurred_at: ActTime = None


class AssessmentOut(BaseModel):
    """An assessment as the API shows it."""

    id: uuid.UUID
    case_id: uuid.UUID
    type: AssessmentType
    stage: AssessmentStage
    status: AssessmentStatus
    author_id: str
    occurred_at: datetime
    submitted_at: datetime | None
    countersigned_at: datetime | None
    countersigned_by: str | None
    returned_at: datetime | None
    feedback: str | None
    history: list[dict[str, Any]]
    scores: dict[str, Any]
    created_at: datetime


def assessment_out(a: Assessment) -> AssessmentOut:
    """Shape an assessment for the API."""
    return AssessmentOut.model_validate(a, from_attributes=True)


async def create_assessment(
    session: AsyncSession,
    principal: Principal,
    case_id: uuid.UUID,
    body: AssessmentCreate,
    ctx: policy.PolicyContext,
) -> tuple[Assessment, policy.PolicyResult]:
    """Start a draft assessment on a case the caller holds; the pack may refuse the tool for
    the stage (Wokingham W3: a statutory case closes with an Asset+, 422)."""
    service, case = await get_visible_case(session, principal, case_id)
    require_open_case(case, "start an assessment")
    role = case_role_for(principal, case, ("case_holder",), "write assessments")
    occurred_at = resolve_occurred_at(body.occurred_at)
    await policy.require_held_role_then(session, principal, case, role, occurred_at)  # ATTACK27-2
    require_within_case(case, occurred_at)
    await require_before_final_event(session, ctx.pack_for(service, at=occurred_at), case,
                                     occurred_at, what="start an assessment")
    assessment = Assessment(
        service_id=service.id, case_id=case.id, type=body.type, stage=body.stage,
        author_id=principal.sub, occurred_at=occurred_at,
        history=[_entry("create", AssessmentStatus.draft, principal, role, occurred_at)],
    )
    session.add(assessment)
    await session.flush()
    wctx = WriteContext(session=session, policy=ctx, service=service, case=case,
                        principal=principal, role=role, occurred_at=occurred_at)
    await wctx.audit("assessment.create", entity_type="assessment", entity_id=assessment.id,
                     change=body.model_dump(mode="json", exclude_none=True))
    await emit(session, "assessment.created", assessment.id, service_id=service.id,
               payload={"case_id": str(case.id), "type": str(body.type),
                        "occurred_at": iso_utc(occurred_at)})
    result = await policy.run(wctx, event=wctx.event(
        "assessment_created", {"type": str(body.type), "stage": str(body.stage),
                               "assessment_id": str(assessment.id)},
        subject_id=assessment.id))
    return assessment, result


# What an unknown id answers, and so a record of a case the caller may not see (A26a-10).
NO_SUCH_ASSESSMENT = "No such assessment."


async def load_assessment(
    session: AsyncSession, principal: Principal, assessment_id: uuid.UUID
) -> tuple[Service, Case, Assessment]:
    """An assessment on a case the principal may see, in their service; 404 otherwise."""
    service = await service_of(session, principal)
    assessment = (await session.exec(
        select(Assessment).where(Assessment.id == assessment_id,
                                 Assessment.service_id == service.id)
    )).first()
    if assessment is None:
        raise NotFound(NO_SUCH_ASSESSMENT)
    _, case = await get_visible_case(session, principal, assessment.case_id,
                                     missing=NO_SUCH_ASSESSMENT)
    if is_write(session):
        await reload(session, assessment)  # the case is locked now: its state after any racer
        require_unchanged(session, "assessment", assessment, "assessment")  # If-Match: A16-8
        # Submitting, countersigning or returning raises steps: not on a closed case (409).
        require_open_case(case, "act on an assessment")
    return service, case, assessment


async def submit_assessment(
    session: AsyncSession,
    principal: Principal,
    assessment_id: uuid.UUID,
    body: AssessmentSubmit,
    ctx: policy.PolicyContext,
) -> tuple[Assessment, policy.PolicyResult]:
    """Submit a draft (or a returned assessment) for countersignature (S4, W2)."""
    service, case, assessment = await load_assessment(session, principal, assessment_id)
    role = case_role_for(principal, case, ("case_holder",), "submit assessments")
    occurred_at = resolve_occurred_at(body.occurred_at)
    require_outside_closed_periods(case, occurred_at)  # A9-7
    await policy.require_held_role_then(session, principal, case, role, occurred_at)  # ATTACK27-2
    scores = check_scores(ctx.pack_for(service, at=occurred_at), body.scores)
    _move(assessment, "submit", principal, role, occurred_at)
    assessment.submitted_at = occurred_at
    if scores:
        assessment.scores = scores
        case.scores = {**(case.scores or {}), **scores}  # the latest score of each name
        note_case_act(session, case.id, occurred_at, role=role)  # scored at the submission's date
        session.add(case)
    wctx = WriteContext(session=session, policy=ctx, service=service, case=case,
                        principal=principal, role=role, occurred_at=occurred_at)
    return assessment, await _after_act(
        wctx, assessment=assessment, action="submit",
        satisfies=satisfied_by(wctx.pack, "submit", assessment.stage),
        feedback=None,
    )


async def countersign_assessment(
    session: AsyncSession,
    principal: Principal,
    assessment_id: uuid.UUID,
    body: AssessmentFeedback,
    ctx: policy.PolicyContext,
) -> tuple[Assessment, policy.PolicyResult]:
    """Countersign a submitted assessment with feedback (S3, W3; S16 for a duty manager)."""
    assessment, wctx = await _manager_act(session, principal, assessment_id, body, ctx,
                                          "countersign")
    assessment.countersigned_at = wctx.occurred_at
    assessment.countersigned_by = principal.sub
    case = wctx.case
    if str(assessment.type) not in (case.countersigned_types or ()):
        # The case now has a countersigned assessment of this type (ATK28B-9), from the
        # countersignature's date: an act dated before it, typed in after it, finds none
        # (app.domain.history.case_fields_at; W3, ATTACK35B-5).
        note_case_act(session, case.id, wctx.occurred_at, role=wctx.event_role)
        mark_changed(case, wctx.occurred_at)
        case.countersigned_types = sorted({*(case.countersigned_types or ()),
                                           str(assessment.type)})
        session.add(case)
    return assessment, await _after_act(
        wctx, assessment=assessment, action="countersign",
        satisfies=satisfied_by(wctx.pack, "countersign"),
        feedback=body.feedback,
    )


async def return_assessment(
    session: AsyncSession,
    principal: Principal,
    assessment_id: uuid.UUID,
    body: AssessmentFeedback,
    ctx: policy.PolicyContext,
) -> tuple[Assessment, policy.PolicyResult]:
    """Send a submitted assessment back to its author for changes; it must be resubmitted."""
    assessment, wctx = await _manager_act(session, principal, assessment_id, body, ctx, "return")
    assessment.returned_at = wctx.occurred_at
    return assessment, await _after_act(
        wctx, assessment=assessment, action="return", satisfies=(), feedback=body.feedback)


async def _manager_act(
    session: AsyncSession, principal: Principal, assessment_id: uuid.UUID,
    body: AssessmentFeedback, ctx: policy.PolicyContext, action: str,
) -> tuple[Assessment, WriteContext]:
    """What a countersignature and a return share: the case's manager acts (never the author
    nor the case's holder), dated outside any closed period (A9-7); the status moves and the
    feedback is kept. The assessment and the write's context."""
    service, case, assessment = await load_assessment(session, principal, assessment_id)
    role = _manager_role(principal, case, assessment, action)
    occurred_at = resolve_occurred_at(body.occurred_at)
    require_outside_closed_periods(case, occurred_at)
    await policy.require_held_role_then(session, principal, case, role, occurred_at)  # ATTACK27-2
    _move(assessment, action, principal, role, occurred_at, body.feedback)
    assessment.feedback = body.feedback
    return assessment, WriteContext(session=session, policy=ctx, service=service, case=case,
                                    principal=principal, role=role, occurred_at=occurred_at)


def _manager_role(
    principal: Principal, case: Case, assessment: Assessment, what: str
) -> str:
    """The case's line manager or a duty manager, never the author nor the case's holder
    (403 otherwise), whatever roles the token carries: the countersignature is the manager's
    check on the case holder's work (Somerset 3.1, 5: "line-management confirmation ...
    through countersignature"; Wokingham: an assessment "is not complete until countersigned"
    by the line manager), so the holder of the case does not give it, even for an assessment a
    previous holder wrote (attack pass 13, A13-6)."""
    if assessment.author_id == principal.sub:
        raise Forbidden(f"The author of an assessment may not {what} it.",
                        slug="author-may-not-countersign")
    require_not_case_holder(principal, case, who_does_it=(
        "a manager's check on it is done by another member of staff (its line manager or a "
        "duty manager)."))
    return case_role_for(principal, case, MANAGERS, f"{what} assessments")


def _entry(
    action: str, to: AssessmentStatus, principal: Principal, role: str, at: datetime,
    feedback: str | None = None,
) -> dict[str, Any]:
    entry = {"action": action, "to": to.value, "by": principal.sub, "role": role,
             "at": iso_utc(at)}
    return {**entry, "feedback": feedback} if feedback else entry


def _move(
    assessment: Assessment, action: str, principal: Principal, role: str, at: datetime,
    feedback: str | None = None,
) -> None:
    allowed_from, to = TRANSITIONS[action]
    history = assessment.history or []
    check_move(
        what="assessment", action=action, current=str(assessment.status),
        allowed_from={s.value for s in allowed_from},
        previous=history[-2]["to"] if len(history) >= 2 else None,
        current_record=assessment_out(assessment).model_dump(mode="json"),
        illegal=Conflict(
            f"An assessment that is {assessment.status} cannot be {to}.",
            slug="illegal-assessment-transition",
            extra={"assessment_status": str(assessment.status),
                   "allowed_from": [s.value for s in allowed_from]},
        ),
    )
    require_not_before(at, assessment.occurred_at, "the assessment's occurred_at")
    if history:  # nor before the move it follows (submitted before it was countersigned)
        last = history[-1]
        require_not_before(at, datetime.fromisoformat(last["at"]),
                           f"the assessment's last move ({last['action']})")
    assessment.status = to
    # Reassigned, not appended, so the JSON column change is tracked.
    assessment.history = [*assessment.history, _entry(action, to, principal, role, at, feedback)]


async def _after_act(
    wctx: WriteContext,
    *,
    assessment: Assessment,
    action: str,
    satisfies: tuple[str, ...],
    feedback: str | None,
) -> policy.PolicyResult:
    """Close the steps the act satisfies, run the engine, audit and emit (one transaction)."""
    session, case = wctx.session, wctx.case
    session.add(assessment)
    await session.flush()
    act = ("assessment", assessment.id)
    note = f"Satisfied by {assessment.type} assessment {assessment.id}"
    # The assessment itself is its author's work, even when a countersignature completes it:
    # the case holder's steps it closes are credited to the author, the rest to whoever acted.
    pack = wctx.pack
    own = per_assessment_codes(pack)
    others = set((await session.exec(select(Assessment.id).where(
        Assessment.case_id == case.id, Assessment.id != assessment.id))).all())
    authors = tuple(c for c in satisfies
                    if any(r.actor == "case_holder" for r in pack.lines_for_code(c)))

    def of_its_type(step: Step) -> bool:
        # A step asking for a given tool (the pack's ``assessment_types``: Somerset 2.1's
        # AssetPlus, Wokingham's Asset+) is done only by an assessment of that tool, and one
        # asking for a given stage (``assessment_stages``: the start's assessment, not a
        # closure Asset+, A9-3) only by an assessment at that stage.
        return satisfies_assessment_step(pack, step.rule_id, step.code, step.title,
                                         str(assessment.type), str(assessment.stage))

    satisfied = await satisfy_open_steps(
        wctx, codes=authors, act=act, note=note, credited_to=assessment.author_id,
        own_subject=own, others=others, accepts=of_its_type,
    )
    mine = await satisfy_open_steps(
        wctx, codes=tuple(c for c in satisfies if c not in authors), act=act, note=note,
        own_subject=own, others=others, accepts=of_its_type,
    )
    if mine is not None:
        satisfied = mine if satisfied is None else satisfied.merge(mine)
    if action == "return":
        # Sent back, this assessment no longer awaits countersignature: its countersign step
        # is moot (superseded); the resubmit step the return raises is the open duty.
        moot = await satisfy_open_steps(
            wctx, codes=satisfied_by(pack, "countersign"), act=act,
            note=f"Returned to its author for changes ({assessment.type} assessment "
                 f"{assessment.id})", status=StepStatus.superseded, only_subject=True,
        )
        if moot is not None:
            satisfied = moot if satisfied is None else satisfied.merge(moot)
    if action == "countersign":
        endorsed = await endorse_judgements(wctx, assessment=assessment)
        if endorsed is not None:
            satisfied = endorsed if satisfied is None else satisfied.merge(endorsed)
    trigger = {"submit": "assessment_submitted", "countersign": "assessment_countersigned",
               "return": "assessment_returned"}[action]
    data: dict[str, Any] = {"type": str(assessment.type), "stage": str(assessment.stage),
                            "assessment_id": str(assessment.id),
                            "scores": dict(assessment.scores or {})}
    if await answers_review_request(wctx, assessment=assessment, action=action):
        data["answers_review_request"] = True
    event = wctx.event(trigger, data, subject_id=assessment.id)
    if action == "countersign":
        result = await _countersigned(wctx, event=event, assessment=assessment)
    else:
        result = await policy.run(wctx, event=event)
    result = await answer_from_file(wctx, result=result, besides=assessment.id)
    if satisfied is not None:
        result = satisfied.merge(result)
    await wctx.audit(
        f"assessment.{action}", entity_type="assessment", entity_id=assessment.id,
        change={"status": str(assessment.status), **({"feedback": feedback} if feedback else {})},
        reason=feedback,
    )
    await emit(session, f"assessment.{assessment.status}", assessment.id,
               service_id=wctx.service.id,
               payload={"case_id": str(case.id), "type": str(assessment.type),
                        "stage": str(assessment.stage),
                        "occurred_at": iso_utc(wctx.occurred_at)})
    await policy.announce_act_changes(wctx)
    return result


async def _countersigned(
    wctx: WriteContext, *, event: WorkflowEvent, assessment: Assessment
) -> policy.PolicyResult:
    """Run a countersignature (the assessment completed) through the pack as it happened, in
    every typing order (attack 35b, ATTACK35B-5): with the ratings it completes as they stood
    at its date (:func:`ratings_completed_by`); dated before a judgement already recorded,
    judged on the ratings of its moment, asking only what the history in time order still
    owes (as a case event is, A11-5); then the acts dated after it, evaluated again on the
    history it joins (:func:`~app.domain.replay.replay_later_acts`: a judgement of this
    assessment made after its countersignature counts from it, W9; the Asset+ on record when
    a later judgement turns a domain high, W3). Wokingham W9: "within two working days of the
    assessment being completed"; "An assessment (Asset+ or mini-asset) is not considered
    complete until it has been counter signed by a line manager"."""
    at = wctx.occurred_at
    event = replace(event, data={**event.data, **await ratings_completed_by(
        wctx.session, wctx.case.id, assessment, at)})
    if dated_before_a_rating(wctx.case, at):
        history = await rating_history(wctx)
        result = await policy.run_backfill(wctx, event=event, ratings=ratings_at(history, at),
                                           later=ratings_after(history, at))
    else:
        result = await policy.run(wctx, event=event)
    replayed = await replay_later_acts(wctx, since=at)
    return result if replayed is None else result.merge(replayed)


async def answer_from_file(
    wctx: WriteContext, *, result: policy.PolicyResult, besides: uuid.UUID | None = None
) -> policy.PolicyResult:
    """Close the steps this write created that an assessment act already on file answers:
    recorded earlier but dated no earlier than the step's raising and its earliest reason
    (:func:`~app.domain.next_steps.act_answers`), of the type the step asks for, closing it
    by the pack's ``[closures]`` (``assessment_submit``, ``assessment_submit_review`` for a
    review stage, ``assessment_countersign``). The step is done as that act did it: at its
    time, credited to whoever did it, ``satisfied_by`` the assessment, as it would have been
    had the acts been recorded in the order they happened (fid5, the mirror of N4: a MARP
    decision recorded late, dated 24 December, raised ``complete_review_stage`` beside the
    Review Stage of 29 December already on file). Duties about one assessment (countersign or
    resubmit *that* one) are raised by its own acts and left alone; ``besides``: the
    assessment whose act this write is (what it raises is not answered by itself)."""
    pack = wctx.pack
    own = per_assessment_codes(pack)
    closable = {c for action in ("submit", "submit_review", "countersign")
                for c in pack.closes(f"assessment_{action}")} - own
    created = [s for s in result.created if s.status == StepStatus.open and s.code in closable]
    if not created:
        return result  # no query for a write that raised nothing an assessment act does
    acts = [act for act in await assessment_acts(wctx.session, wctx.case.id)
            if act[2].id != besides]
    for step in created:
        found = next((act for act in acts if _act_answers(wctx, step, act)), None)
        if found is None:
            continue
        at, action, assessment, by = found
        # The assessment is its author's work, even when a countersignature completes it: a
        # case holder's step is credited to the author, the rest to whoever did the act.
        authors = action == "submit" or any(line.actor == "case_holder"
                                            for line in pack.lines_for_code(step.code))
        credited = assessment.author_id if authors else by
        closed = await close_step(
            replace(wctx, occurred_at=at), step=step, satisfied_by=("assessment", assessment.id),
            credited_to=credited,
            note=f"Satisfied by {assessment.type} assessment {assessment.id} ({action} at "
                 f"{london_text(at)}, recorded before the act that asks for it)")
        result = result.merge(closed)
        if action == "submit" and step.code in pack.closes("assessment_submit_review") \
                and await _as_the_review_stage(wctx, assessment=assessment):
            result = result.merge(await policy.current(wctx.session, wctx.case))
    return result


async def _as_the_review_stage(wctx: WriteContext, *, assessment: Assessment) -> bool:
    """A review stage found to be the one a request asked for (``assessment_submit_review``)
    only once the request was recorded: its open duties (its countersignature awaited) take
    the reasons its submission gives as that Review Stage (the event flagged
    ``answers_review_request``, as :func:`_after_act` flags it when the request is on file
    first), each step headed by the first of its reasons in the pack's line order, as the
    engine heads a step that several lines ask for at once (Somerset: countersigned under
    S18, 7.1.3, with S4 beside it; fid5's mirror of N4). Whether a step changed."""
    session, case = wctx.session, wctx.case
    at = assessment.submitted_at
    if assessment.status != AssessmentStatus.submitted or at is None:
        return False
    own = per_assessment_codes(wctx.pack)
    open_steps = await policy.open_steps_of(session, case.id)
    mine = {s.id: s for s in open_steps if s.subject_id == assessment.id and s.code in own}
    if not mine:
        return False
    changed = False
    then = replace(wctx, occurred_at=at)
    event = then.event("assessment_submitted", {
        "type": str(assessment.type), "stage": str(assessment.stage),
        "assessment_id": str(assessment.id), "scores": dict(assessment.scores or {}),
        "answers_review_request": True}, subject_id=assessment.id)
    panels, extras = await policy.snapshot_inputs(session, wctx.service, case, at)
    evaluation = policy.evaluate_for(wctx.policy, wctx.service, case, open_steps, event,
                                     panels, **extras)
    pack = then.pack
    for intent in evaluation.intents:
        step = mine.get(intent.step_id) if intent.step_id is not None else None
        if step is None or intent.action != "keep" or not intent.reasons:
            continue
        have = [dict(r) for r in step.reasons or ()]
        added = [dict(r) for r in intent.reasons if dict(r) not in have]
        if not added:
            continue
        lines = pack.lines_for_code(step.code)

        def order(reason: dict[str, Any], lines: tuple[Any, ...] = lines) -> int:
            return next((n for n, line in enumerate(lines) if line.id == reason.get("rule")
                         and reason.get("trigger") in line.trigger), len(lines))

        step.reasons = sorted(have + added, key=order)
        head = lines[order(step.reasons[0])] if order(step.reasons[0]) < len(lines) else None
        if head is not None:
            step.rule_id, step.policy_ref, step.title = head.id, head.ref, head.title
        session.add(step)
        await session.flush()
        await wctx.audit("step.reason", entity_type="step", entity_id=step.id,
                         change={"code": step.code, "action": "keep",
                                 "due_at": iso_utc(step.due_at) if step.due_at else None,
                                 "reasons": added},
                         reason=f"Assessment {assessment.id} is the Review Stage a step asked "
                                "for")
        changed = True
    return changed


def _act_answers(wctx: WriteContext, step: Step, act: FiledAct) -> bool:
    """Whether a filed assessment act does the step: the pack in force at the act says the act
    closes the step's code, the assessment is of the type the step asks for, and the act is
    dated no earlier than the step and its reasons, of another assessment than the one whose
    act raised it (a review a countersignature owes, raised again by its replay after a
    judgement dated before it, is not done by that countersignature; ATTACK35B-5)."""
    at, action, assessment, _ = act
    pack = wctx.policy.pack_for(wctx.service, at=at)
    if step.code not in satisfied_by(pack, action, assessment.stage):
        return False
    if any((r.get("record") or {}).get("type") == "assessment"
           and str((r.get("record") or {}).get("id")) == str(assessment.id)
           for r in step.reasons or ()):
        return False
    if not satisfies_assessment_step(pack, step.rule_id, step.code, step.title,
                                     str(assessment.type)):
        return False
    return act_answers(pack, step, at)


async def answers_review_request(
    wctx: WriteContext, *, assessment: Assessment, action: str
) -> bool:
    """Whether the assessment is the Review Stage a step asked for (``[closures]``
    ``assessment_submit_review``: Somerset 7.1.3's Review Stage incorporating the MARP actions):
    its submission did that step (not one dated before the step arose: N4). Its submission,
    its return and its resubmission say so (``answers_review_request``), so that its
    countersignature, and the resubmission a return asks for, are the Review Stage's, as on
    the first submission (fid5 N7: a returned Review Stage was resubmitted and countersigned
    as an ordinary assessment)."""
    requested = wctx.pack.closes("assessment_submit_review")
    # Only a review stage's submission closes those steps (:func:`satisfied_by`).
    if action not in ("submit", "return") or not requested \
            or assessment.stage != AssessmentStage.review:
        return False
    return (await wctx.session.exec(select(Step.id).where(
        Step.case_id == wctx.case.id, Step.status == StepStatus.done,
        col(Step.code).in_(requested), Step.satisfied_by_type == "assessment",
        Step.satisfied_by_id == assessment.id).limit(1))).first() is not None


# Which steps a countersignature endorses is the pack's (``[closures]``
# ``assessment_countersign_endorses``; Wokingham: "By signing off the assessment, the line manager
# will effectively endorse the judgement": the rationale acknowledgements, M2-M4).


async def endorse_judgements(
    wctx: WriteContext, *, assessment: Assessment, credited_to: str | None = None,
    pending: Collection[uuid.UUID] = (),
) -> policy.PolicyResult | None:
    """Close the acknowledgement steps whose every reason is a judgement recorded with this
    assessment (credited to the countersigning manager); where only some are, those reasons
    are taken off the step and it stays open for the others. A judgement dated after the
    countersignature (a back-dated countersignature) is not endorsed by it: its reason stays
    (an act does not answer what was asked after it, N4's kind).

    Also run for a countersignature already on file when a judgement dated before it is typed
    in after it (:func:`~app.domain.replay.replay_later_acts`; fix39a, ATTACK37-9): at the
    countersignature's time (``wctx.occurred_at``), ``credited_to`` the manager who signed,
    ``pending`` naming the judgements recorded with it whose rows the write leaves to the
    commit."""
    session, case = wctx.session, wctx.case
    endorsed = wctx.pack.closes("assessment_countersign_endorses")
    if not endorsed:
        return None
    ids = {str(j) for j in (await session.exec(
        select(Judgement.id).where(Judgement.case_id == case.id,
                                   Judgement.assessment_id == assessment.id)
    )).all()} | {str(j) for j in pending}
    if not ids:
        return None
    rows = await session.exec(select(Step).where(
        Step.case_id == case.id, Step.status == StepStatus.open,
        col(Step.code).in_(endorsed)))
    result = None
    for step in rows.all():
        reasons = list(step.reasons or ())
        mine = [r for r in reasons if str((r.get("record") or {}).get("id")) in ids
                and (reason_act(r) or wctx.occurred_at) <= wctx.occurred_at]
        if not mine:
            continue
        rest = [r for r in reasons if r not in mine]
        if rest and all((reason_act(r) or wctx.occurred_at) > wctx.occurred_at for r in rest):
            # Its other reasons all came after the countersignature (typed in before it, or a
            # judgement dated before it typed in after them): in time order this step was done
            # by the countersignature with these judgements, and the later ones raised a step
            # of their own after it (Wokingham M2, M8; fix40b: it stayed open, headed by the
            # endorsed judgement's line).
            more = await _split_endorsed(wctx, step=step, mine=mine, rest=rest,
                                         assessment=assessment, credited_to=credited_to)
            result = more if result is None else result.merge(more)
            continue
        if len(mine) < len(reasons):
            step.reasons = [r for r in reasons if r not in mine]
            step.note = "\n".join(x for x in (step.note, (
                f"Judgement(s) endorsed by the countersignature of assessment {assessment.id}"))
                if x)
            session.add(step)
            continue
        more = await close_step(
            wctx, step=step, note=f"Endorsed by countersigning assessment {assessment.id}",
            satisfied_by=("assessment", assessment.id), credited_to=credited_to)
        result = more if result is None else result.merge(more)
    await session.flush()
    return result


def _headed_by(pack: Pack, step: Step, reasons: list[dict[str, Any]]) -> None:
    """``step`` with ``reasons`` (in the order of their acts), arisen at the first one's act
    under its line (its rule, reference and title)."""
    first = reasons[0]
    line = next((line for line in pack.lines(str(first.get("rule")))
                 if line.code == step.code and line.ref == first.get("ref")), None)
    step.reasons = reasons
    if line is not None:
        step.rule_id, step.policy_ref, step.title = line.id, line.ref, line.title
    step.raised_at = reason_act(first) or step.raised_at


async def _split_endorsed(
    wctx: WriteContext, *, step: Step, mine: list[dict[str, Any]], rest: list[dict[str, Any]],
    assessment: Assessment, credited_to: str | None,
) -> policy.PolicyResult:
    """An open acknowledgement whose ``mine`` reasons the countersignature (``wctx``'s time)
    endorses and whose ``rest`` all came after it, as time order has it: a step of its own
    with ``mine``, done by the countersignature, and ``step`` left open with ``rest``, arisen
    at the first of them under its line. Where that countersignature already closed a step of
    this duty (a judgement it endorsed typed in before), ``mine`` joins that step instead: one
    step per endorsing countersignature, whatever the typing order (fix43a, ATTACK41-5: with a
    judgement dated after it typed first, each back-dated judgement typed in after it had a
    done step of its own)."""
    joined = await _endorsed_step(wctx, step=step, assessment=assessment)
    if joined is not None:
        have = {_reason_key(r) for r in joined.reasons or ()}
        added = [dict(r) for r in mine if _reason_key(r) not in have]
        # Stable: the acts of one instant stay in recording order (SAME_INSTANT).
        _headed_by(wctx.pack, joined, sorted(
            [dict(r) for r in joined.reasons or ()] + added,
            key=lambda r: reason_act(r) or wctx.occurred_at))
        joined.note = "\n".join(x for x in (joined.note, (
            f"Also endorsed: the judgement(s) of step {step.id} dated before the "
            f"countersignature of assessment {assessment.id}, recorded later.")) if x)
        _headed_by(wctx.pack, step, rest)
        step.note = "\n".join(x for x in (step.note, (
            f"Judgement(s) endorsed by the countersignature of assessment {assessment.id} "
            f"are in step {joined.id}")) if x)
        wctx.session.add_all([joined, step])
        await wctx.session.flush()
        if added:
            await wctx.audit("step.reason", entity_type="step", entity_id=joined.id,
                             change={"code": joined.code, "action": "keep",
                                     "due_at": iso_utc(joined.due_at) if joined.due_at else None,
                                     "reasons": added},
                             reason=f"Endorsed by countersigning assessment {assessment.id}")
        return policy.PolicyResult()
    done = policy.owed_again(step, note=(
        f"The judgement(s) of step {step.id} dated before the countersignature of assessment "
        f"{assessment.id}, which endorsed them; the later ones stay with that step."))
    _headed_by(wctx.pack, done, sorted(mine, key=lambda r: reason_act(r) or wctx.occurred_at))
    _headed_by(wctx.pack, step, rest)
    step.note = "\n".join(x for x in (step.note, (
        f"Judgement(s) endorsed by the countersignature of assessment {assessment.id} "
        f"are in step {done.id}")) if x)
    # Flushed by its closure: never two open steps of one duty (the unique index).
    wctx.session.add_all([done, step])
    await wctx.audit("step.create", entity_type="step", entity_id=done.id,
                     change=policy.step_change(done))
    closed = await close_step(
        wctx, step=done, note=f"Endorsed by countersigning assessment {assessment.id}",
        satisfied_by=("assessment", assessment.id), credited_to=credited_to)
    return policy.PolicyResult(created=[done]).merge(closed)


def _reason_key(reason: dict[str, Any]) -> tuple[str, str]:
    """A reason's rule and the record it names: a judgement's reason once per step."""
    return str(reason.get("rule")), str((reason.get("record") or {}).get("id"))


async def _endorsed_step(wctx: WriteContext, *, step: Step, assessment: Assessment
                         ) -> Step | None:
    """The step of ``step``'s duty (code, subject) the countersignature of ``assessment`` at
    ``wctx``'s time already closed (done, satisfied by the assessment), if any."""
    return (await wctx.session.exec(select(Step).where(
        Step.case_id == step.case_id, Step.code == step.code,
        Step.subject_id == step.subject_id, Step.status == StepStatus.done,
        Step.satisfied_by_type == "assessment", Step.satisfied_by_id == assessment.id,
        Step.completed_at == wctx.occurred_at, Step.id != step.id,
    ).order_by(col(Step.raised_at)))).first()


async def check_belongs_to_case(
    session: AsyncSession, case: Case, assessment_id: uuid.UUID | None,
    field: str = "assessment_id", *, at: datetime | None = None,
    time_field: str = "occurred_at",
) -> None:
    """422 unless the assessment a judgement names is one of this case's (``field``: where the
    request carries it); 422 ``occurred-before-bound`` when the judgement's time ``at`` (its
    ``time_field``) is before the assessment was started (its ``occurred_at``), as every act
    about an assessment is (its submission, countersignature, return): a judgement made with
    an Asset+ cannot precede the Asset+ (fix40b, ATTACK38-4: one dated 5 August on an Asset+
    started on the 10th was stored, and its countersignature then endorsed it)."""
    if assessment_id is None:
        return
    found = (await session.exec(
        select(Assessment.occurred_at).where(Assessment.id == assessment_id,
                                             Assessment.case_id == case.id)
    )).first()
    if found is None:
        raise Unprocessable(
            "The assessment named is not one of this case's.",
            errors=[{"loc": f"body.{field}", "msg": "not an assessment of this case"}],
        )
    if at is not None:
        require_not_before(at, policy.stored_utc(found), "the assessment's occurred_at",
                           time_field)


ASSESSMENT_ORDER = paging.Order(
    ((Assessment.created_at, "instant"), (Assessment.id, "uuid")), descending=True)


async def list_case_assessments(
    session: AsyncSession, principal: Principal, case_id: uuid.UUID,
    page: paging.PageArgs,
) -> tuple[list[Assessment], str | None]:
    """A page of the case's assessments, newest first, and the next page's cursor."""
    _, case = await get_visible_case(session, principal, case_id)
    return await paging.keyset_page(
        session, select(Assessment).where(Assessment.case_id == case.id), ASSESSMENT_ORDER,
        page, {"list": "assessments", "case": str(case.id)})
