"""Risk judgements (ROSH, SWB, LoR): validated by the pack, answered with next steps."""

from __future__ import annotations

import enum
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any

import sqlalchemy as sa
from pydantic import AfterValidator, BaseModel, ConfigDict, StringConstraints
from pydantic import Field as PField
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.core.identifiers import visible_text
from app.core.security import Principal
from app.domain import agenda, paging, policy
from app.domain.access import (
    MANAGERS,
    case_role_for,
    get_case_file_for_write,
    get_visible_case,
    require_open_case,
)
from app.domain.answered import answer_from_record
from app.domain.assessments import answer_from_file, check_belongs_to_case
from app.domain.assessments_table import assessment_clock
from app.domain.audit import insert_at_seal, update_at_seal
from app.domain.cases_table import Case
from app.domain.common import (
    ActTime,
    iso_utc,
    new_id,
    resolve_occurred_at,
    utcnow,
)
from app.domain.derived_history import Rated, restate_derived
from app.domain.final_events import (
    FinalEvent,
    final_event_recorded,
    final_events_column,
    final_events_of,
    final_events_params,
    require_before_final_event,
)
from app.domain.history import note_case_act
from app.domain.judgements_table import Judgement, Level, RiskDomain
from app.domain.next_steps import act_answers, close_step
from app.domain.outbox import emit
from app.domain.replay import (
    Judged,
    dated_before_a_rating,
    judged_rank,
    pending_transfer_date,
    plain_judged_at,
    replay_later_acts,
)
from app.domain.sitting_bounds import refuse_undoing_a_decided_sitting
from app.domain.steps import Step, StepStatus
from app.domain.timing import require_within_case
from app.domain.write_context import WriteContext
from app.workflows.engine import LATER_JUDGED
from app.workflows.types import Evaluation, ScheduledPanel, WorkflowEvent


class Impact(enum.StrEnum):
    """ROSH impact (M1)."""

    slight = "slight"
    minor = "minor"
    medium = "medium"
    major = "major"
    critical = "critical"


class Likelihood(enum.StrEnum):
    """ROSH likelihood (M1)."""

    unlikely = "unlikely"
    possible = "possible"
    likely = "likely"
    very_likely = "very_likely"
    almost_certain = "almost_certain"


class Setting(enum.StrEnum):
    """Where the harm would happen (M1)."""

    community = "community"
    custody = "custody"


Victim = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
                   AfterValidator(visible_text)]


class JudgementCreate(BaseModel):
    """Body of ``POST /v1/cases/{id}/judgements``."""

    model_config = ConfigDict(extra="forbid")
    domain: RiskDomain
    level: Level
    impact: Impact | None = None
    likelihood: Likelihood | None = None
    setting: Setting | None = None
    rationale: Annotated[str, StringConstraints(max_length=8000)] | None = None
    victims: Annotated[list[Victim], PField(max_length=50)] | None = PField(
        default=None, description="the victim kinds, at most 50 (a longer list is refused "
                                  "before it is read)")
    assessment_id: uuid.UUID | None = None
    occurred_at: ActTime = None


class JudgementOut(BaseModel):
    """A judgement with the matrix level beside the recorded level."""

    id: uuid.UUID
    case_id: uuid.UUID
    domain: RiskDomain
    level: Level
    matrix_level: str | None
    previous_level: str | None
    impact: str | None
    likelihood: str | None
    setting: str | None
    rationale: str | None
    victims: list[str]
    assessment_id: uuid.UUID | None
    panel_item_id: uuid.UUID | None
    occurred_at: datetime
    recorded_by: str
    recorded_role: str
    created_at: datetime


def judgement_out(j: Judgement) -> JudgementOut:
    """Shape a judgement for the API."""
    return JudgementOut.model_validate(j, from_attributes=True)


def judgement_event_data(body: JudgementCreate, via_panel_decision: bool) -> dict[str, Any]:
    """The engine's view of a judgement being recorded."""
    return {
        "domain": str(body.domain),
        "level": str(body.level),
        "impact": str(body.impact) if body.impact else None,
        "likelihood": str(body.likelihood) if body.likelihood else None,
        "setting": str(body.setting) if body.setting else None,
        "rationale": body.rationale,
        "victims": list(body.victims or []),
        "via_panel_decision": via_panel_decision,
        # The assessment it is recorded with: a countersignature of it already on file, dated
        # at or after it, endorsed it (app.domain.policy.endorsed_since; fix40b, ATTACK38-2).
        "assessment_id": str(body.assessment_id) if body.assessment_id else None,
    }


_JUDGEMENT_TABLE: Any = Judgement.__table__  # type: ignore[attr-defined]
_INSERT_JUDGEMENT = sa.insert(_JUDGEMENT_TABLE)


async def apply_judgement(
    wctx: WriteContext, *, body: JudgementCreate, panel_item_id: uuid.UUID | None = None,
    open_steps: list[Step] | None = None, last: bool = False,
    inputs: tuple[list[ScheduledPanel], dict[str, Any]] | None = None,
    final_events: list[FinalEvent] | None = None,
) -> tuple[JudgementOut, policy.PolicyResult]:
    """Check a judgement against the pack, store it, update current ratings, derive steps;
    the judgement as the API shows it, and what the write did to the case's steps.

    The judgement occurred at ``wctx.occurred_at`` (its ``body.occurred_at`` resolved by the
    caller); 422 if that is outside the case's life or the pack refuses it. ``open_steps``:
    the case's open steps as the caller read them under the case's lock, in
    :func:`~app.domain.policy.open_steps_of`'s order (default: read them here). ``last``: the
    caller reads nothing more in this unit of work, so the judgement row and the case's new
    rating are left to the commit (the row and the rating's history row are then inserted by
    the audit's INSERT: issue 15). ``inputs``: the policy's panels and absences for
    ``wctx.occurred_at`` as the caller read them with the case (:func:`policy.inputs_column`);
    used only if nothing is written before the policy runs. ``final_events``: the case's
    events of a final type dated before ``wctx.occurred_at``, as the caller read them with the
    case (:func:`~app.domain.final_events.final_events_column`; default: read them here)."""
    session, case, principal = wctx.session, wctx.case, wctx.principal
    service, role, occurred_at = wctx.service, wctx.role, wctx.occurred_at
    assert role is not None  # a judgement is always recorded under one role
    require_within_case(case, occurred_at)
    await require_before_final_event(session, wctx.pack, case, occurred_at,
                                     what="record a judgement", known=final_events)
    await check_belongs_to_case(session, case, body.assessment_id, at=occurred_at)
    data = judgement_event_data(body, via_panel_decision=panel_item_id is not None)
    judgement_id = new_id()
    data["record_id"] = str(judgement_id)  # the steps it asks for name it among their reasons
    # Clocks that run from the assessment's completion (W9) count from its countersignature,
    # or wait for it; a judgement recorded with no assessment waits for the next assessment to
    # be completed, a panel's agreed classification too: the panel is not the assessment, which
    # is "updated with any actions resulting from the High Risk Panel meeting" (attack 34b,
    # ATTACK34B-4: the MARF ran from the decision).
    data.update(await assessment_clock(session, body.assessment_id, occurred_at))
    data["assessment_unnamed"] = body.assessment_id is None
    # A transfer out still ahead (Somerset 13.4.3 "prior to the transfer of the child"): a
    # rating that rises meanwhile is handed over before that date, as if it came first (S26).
    # Read only under a pack whose judgement lines can use it (Wokingham's cannot).
    transfer = await pending_transfer_date(session, case.id, occurred_at) \
        if wctx.pack.reads_event_key("judgement_recorded", "transfer_pending") else None
    if transfer is not None:
        data["transfer_pending"], data["transfer_date"] = True, transfer.isoformat()
    previous = (case.ratings or {}).get(str(body.domain)) or {}
    wf_event = wctx.event("judgement_recorded", data)
    # A panel's decision comes before the plain judgements of its instant (SAME_INSTANT,
    # fix35i): dated before them as before a later one (ATTACK35A-17).
    decision = panel_item_id is not None
    plain_at = await plain_judged_at(session, case, occurred_at) if decision else frozenset()
    backfill = _is_backfill(previous, occurred_at) or str(body.domain) in plain_at
    rated_after = dated_before_a_rating(case, occurred_at) or bool(plain_at)
    # Dated before a later act: its derived fields are restated from its date on (fix32b).
    back_dated = backfill or rated_after or (
        case.changed_at is not None and policy.stored_utc(case.changed_at) > occurred_at)
    if not back_dated and body.occurred_at is not None:
        # Dated before the child's death, typed in after it (no final event is dated before
        # it: checked above): its register and priority held until the death, which ended
        # them, on the timeline at their dates as typed in time order (fix41d).
        back_dated = await final_event_recorded(session, wctx.pack, case.id)
    evaluation: Evaluation | None
    before: dict[str, str | None] = {}
    if backfill:
        # Older than the current rating: not the case's rating now (that stays, with the
        # register and contact level it gives), but an act the policy asks things of from its
        # own date, as the history in time order would have (A10-30). Checked on its own terms
        # (M2-M5, M7) first.
        evaluation = policy.validate_alone(wctx.policy, service, case, wf_event,
                                           str(body.domain))
        before, later = await ratings_around(session, case.id, str(body.domain),
                                             str(body.level), occurred_at, decision=decision)
        # Checked also on the steps open at its own moment (the register of that moment is
        # the back-fill's): a check failing then refuses it (Somerset M6, ATTACK32A-4).
        result = await policy.run_backfill(
            wctx, event=wf_event, ratings=before, later=later, open_steps=open_steps,
            lapse=True, steps_then=await policy.steps_open_at(session, case.id, occurred_at))
    else:
        # The case's open steps, read once under the lock: the reviews among them close first;
        # the policy then runs on the rest (read again only if a review was closed).
        if open_steps is None:
            open_steps = await policy.open_steps_of(session, case.id)
        # Dated before another act on file (a later rating, a panel's decision, a death): the
        # pack's checks are run on the steps open and the ratings of its own time, not today's
        # (Somerset M6; fix34e, fix33a's left path). Read before the reviews below close.
        then = None if body.occurred_at is None else await _state_then(
            wctx, open_steps, str(body.domain), str(body.level))
        reviewed = await close_rating_reviews(wctx, previous=previous, domain=str(body.domain),
                                              judgement_id=judgement_id, open_steps=open_steps,
                                              decision=decision)
        if reviewed is not None:  # the starting judgement under a new fact (M3/M4, A17-16)
            wf_event = wctx.event("judgement_recorded", {**data, "answers_rating_review": True})
        # Nothing written since the case was read: the panels and absences read with it hold.
        # Steps only re-dated or given a reason may be written at the commit (below) when
        # nothing after this reads them without flushing (no replay of later acts).
        if then is not None:
            await policy.check_at_its_moment(wctx, event=wf_event, ratings=then[0],
                                             steps_then=then[1])
        result = await policy.run(wctx, event=wf_event,
                                  open_steps=open_steps if reviewed is None else None,
                                  inputs=inputs if reviewed is None else None,
                                  flush=not (last and body.occurred_at is None),
                                  checks=then is None)
        evaluation = result.evaluation
        if reviewed is not None:
            result = reviewed.merge(result)
        if rated_after:
            # The latest of its domain but older than another domain's: the case's rating
            # (register, contact, reviews as above), and also an act of its own date, judged
            # on that date's ratings for what the history in time order still owes (Somerset
            # S7: an SWB high typed in after a later ROSH high that registered the case still
            # referred it to the MARP under 3.2.3 from its own date).
            at_its_date, later = await ratings_around(session, case.id, str(body.domain),
                                                      str(body.level), occurred_at,
                                                      decision=decision)
            # Checked at its moment (above: ``then``), not on today's steps (a review a later
            # panel's decision booked; ATTACK35B-3), and what lapsed then lapses (Somerset S11:
            # the monthly review of a high ROSH lowered before a later SWB high, raised again
            # by the replayed SWB high from its own date).
            result = result.merge(await policy.run_backfill(
                wctx, event=wf_event, ratings=at_its_date, later=later, lapse=True,
                steps_then=None if then is None else then[1]))
    if body.occurred_at is not None:
        # Dated before a panel's sitting whose decision on the case is on file: refused when,
        # in time order, it would have taken the case off that agenda (ATTACK34A-1). After
        # the pack's checks at its moment, which refuse it first as typed in time order would
        # (Somerset M6: a lowering while the MARP's review was booked, ATTACK32A-4).
        await refuse_undoing_a_decided_sitting(wctx, pending=Rated(
            occurred_at, str(body.domain), str(body.level), judgement_id))
    previous_level = previous.get("level")
    if backfill:  # the level before it in time, not the current one (attack pass 9, A9-23)
        previous_level = before[str(body.domain)]
    # The row as plain values (no ORM object: issue 15, its construction was ~5% of a write),
    # written by one Core INSERT (the row is only written, never changed in this unit of
    # work), then the case's new rating by the flush.
    values = {
        "id": judgement_id, "service_id": service.id, "case_id": case.id,
        "domain": body.domain, "level": body.level, "previous_level": previous_level,
        "matrix_level": evaluation.matrix_level if evaluation else None,
        "impact": data["impact"], "likelihood": data["likelihood"], "setting": data["setting"],
        "rationale": body.rationale, "victims": data["victims"],
        "assessment_id": body.assessment_id, "panel_item_id": panel_item_id,
        "occurred_at": occurred_at, "recorded_by": principal.sub, "recorded_role": role,
        "created_at": utcnow(),
    }
    if backfill:
        await _follows_in_time(session, case.id, str(body.domain), str(body.level),
                               occurred_at, decision=decision)
    if last:  # nothing reads it back: written by the audit's INSERT at the commit
        insert_at_seal(session, _JUDGEMENT_TABLE, values)
    else:
        conn = await session.connection()
        await conn.execute(_INSERT_JUDGEMENT, values)
    judgement = JudgementOut.model_validate(values)
    # The rating changed when the judgement was made, not when it was typed in (ATTACK26B-2).
    note_case_act(session, case.id, occurred_at, role=wctx.event_role)
    if not backfill:
        _set_current_rating(case, judgement)
    case.updated_at = utcnow()
    if case not in session:
        session.add(case)
    if not last:
        await session.flush()
    # What it raised that an assessment act on file already did (A15-4), once it is the case's
    # rating: closing such a step runs the pack at that act's later date, on the case with this
    # rating (before, a High-Risk Panel's SWB high typed in after a closure Asset+ countersigned
    # later lost its MARF there, "no longer" high; attack 35b, ATTACK35B-5).
    result = await answer_from_file(wctx, result=result)
    if back_dated:
        # Not (only) the case's rating now, but its ratings, register, contact level and
        # priority from its date on, on the timeline at their dates (attack 30a, A30a-1;
        # fix32b: contact level and priority, and a judgement of another domain's later one).
        await restate_derived(
            wctx, since=occurred_at,
            pending=Rated(occurred_at, str(body.domain), str(body.level), judgement.id),
            pending_decision=decision)
    if body.occurred_at is not None:
        # Dated before acts already recorded: what they owe on the history as it now stands
        # (A11-5), this judgement in it (its row may be left to the commit). A panel's
        # decision replays the plain judgements of its instant itself, once its own steps are
        # written (app.domain.panels.decide). Recorded as of
        # now, nothing recorded can be dated after it.
        # The assessments countersigned at its instant come after it (docs §7): the one
        # completed then completes this rating (Wokingham W9; fix38b, ATTACK37-5).
        replayed = await replay_later_acts(
            wctx, since=occurred_at, signed_at_since=True,
            pending=Judged(occurred_at, str(body.domain), str(body.level), judgement_id,
                           body.assessment_id, panel_item_id))
        if replayed is not None:
            result = result.merge(replayed)
        # What it (or the replay) raised that a referral, panel act or assessment act on file,
        # dated after it, did in time order (A15-4).
        result = await answer_from_record(wctx, result=result)
    await wctx.audit(
        "judgement.backfill" if backfill else "judgement.record",
        entity_type="judgement", entity_id=judgement.id,
        change=body.model_dump(mode="json", exclude_none=True),
    )
    await emit(session, "judgement.recorded", judgement.id, service_id=service.id,
               payload={"case_id": str(case.id), "domain": str(body.domain),
                        "level": str(body.level), "occurred_at": iso_utc(occurred_at)})
    await policy.announce_act_changes(wctx)
    if evaluation is not None and evaluation.register_change == "deregistered" \
            and not backfill:
        # Somerset 4.3: "Should a case at MARP be reclassified as medium, the case will be
        # de-registered from the MARP panel and managed by case holder alongside manager
        # oversight": off the register and without a panel referral, the case leaves the
        # agendas of panels still to come (A11-16, "any act that ends the need for the panel").
        if await agenda.withdraw_unneeded(
                wctx, why=f"the case left the register ({body.domain} {body.level})"):
            result = result.merge(await policy.current(session, case))
    if last:  # the case's new rating, steps changed and not yet flushed: their UPDATEs go
        # in the audit's INSERT at the commit
        update_at_seal(session, case)
        for step in [obj for obj in session.dirty if isinstance(obj, Step)]:
            update_at_seal(session, step)
    return judgement, result


async def close_rating_reviews(
    wctx: WriteContext, *, previous: dict[str, Any], domain: str, judgement_id: uuid.UUID,
    open_steps: Sequence[Step] | None = None, decision: bool = False,
) -> policy.PolicyResult | None:
    """The next judgement in a domain is the review its current rating was asked for (the pack's
    ``rating_replaced`` closures, e.g. a floor review): close them, in the recorder's name.
    A review asked for after the judgement's date stays open (an act does not answer what was
    asked of it later: a back-dated judgement before the floor came in, fid5 N4's kind), and
    stays the review of the domain's rating (its line's ``subject = "rating:<domain>"``) for
    the next judgement in the domain, though that earlier judgement is now the current rating.
    ``previous`` is the domain's current rating (``{level, recorded_at, judgement_id}``);
    ``open_steps``: the case's open steps as just read under the lock (default: read them).
    ``decision``: the judgement is a panel's decision, which comes before the plain judgements
    of its instant (app.workflows.instant_order: it reviews no rating they asked about)."""
    kind = "panel_decision" if decision else "judgement"
    rated = previous.get("judgement_id")
    codes = wctx.pack.closes("rating_replaced")
    if not rated or not codes:
        return None
    if open_steps is None:
        open_steps = await policy.open_steps_of(wctx.session, wctx.case.id)
    subject = uuid.UUID(str(rated))

    def reviews_this_rating(step: Step) -> bool:
        return step.subject_id == subject or any(
            line.subject == f"rating:{domain}" for line in wctx.pack.lines(step.rule_id)
            if line.code == step.code)

    result = None
    for step in [s for s in open_steps if s.status == StepStatus.open and s.code in codes
                 and reviews_this_rating(s)
                 and act_answers(wctx.pack, s, wctx.occurred_at, kind=kind)]:
        more = await close_step(wctx, step=step, note=f"Reviewed by judgement {judgement_id}",
                                satisfied_by=("judgement", judgement_id), kind=kind)
        result = more if result is None else result.merge(more)
    return result


async def evaluation_as_written(
    wctx: WriteContext, *, body: JudgementCreate, wf_event: WorkflowEvent,
    open_steps: Sequence[Step],
) -> Evaluation | None:
    """The pack's evaluation of the judgement ``body`` (at ``wctx.occurred_at``) whose
    violations its write refuses it by when it is dated before another act on file, as
    :func:`apply_judgement` checks it: one older than its domain's current rating on its own
    terms, then on the ratings, register and steps open at its own moment; the latest of its
    domain dated before another act on the ratings and steps of its moment (Somerset M6: a
    review booked since, or one closed since, ATTACK32A-4). None when the write checks it on
    today's case (an undated judgement, or nothing on file after it). Applies nothing (the
    workflow preview, app.domain.preview)."""
    if body.occurred_at is None:
        return None
    session, case, at = wctx.session, wctx.case, wctx.occurred_at
    domain, level = str(body.domain), str(body.level)
    if _is_backfill((case.ratings or {}).get(domain) or {}, at):
        alone = policy.evaluate_alone(wctx.policy, wctx.service, case, wf_event, domain)
        if alone.violations:
            return alone
        before, later = await ratings_around(session, case.id, domain, level, at)
        return await policy.evaluation_at_its_moment(
            wctx, event=wf_event, ratings=before, later=later,
            steps_then=await policy.steps_open_at(session, case.id, at))
    then = await _state_then(wctx, open_steps, domain, level)
    if then is None:
        return None
    return await policy.evaluation_at_its_moment(wctx, event=wf_event, ratings=then[0],
                                                 steps_then=then[1])


async def _state_then(
    wctx: WriteContext, open_steps: Sequence[Step], domain: str, level: str
) -> tuple[dict[str, str | None], list[Step]] | None:
    """For a judgement dated at ``wctx.occurred_at``, the latest of its ``domain``: the ratings
    it found and the steps open at its time (:func:`policy.steps_open_at`), when they are not
    today's (another act on file is dated after it: a rating of another domain, a step raised
    or closed since); None when its time's are today's (``open_steps``, the case's ratings)."""
    session, case, at = wctx.session, wctx.case, wctx.occurred_at
    steps_then = await policy.steps_open_at(session, case.id, at)
    if {s.id for s in steps_then} == {s.id for s in open_steps} \
            and not dated_before_a_rating(case, at):
        return None
    ratings, _later = await ratings_around(session, case.id, domain, level, at)
    return ratings, steps_then


async def ratings_around(
    session: AsyncSession, case_id: uuid.UUID, domain: str, level: str, occurred_at: datetime,
    *, decision: bool = False,
) -> tuple[dict[str, str | None], list[dict[str, str | None]]]:
    """The case's ratings as a judgement of ``level`` in ``domain`` at ``occurred_at`` found
    them (each domain's latest judgement before it; another domain's at the same instant
    counts as before), and the ratings after each judgement dated after it, in time order
    (recording order on ties), starting from that judgement's own: the last are the current
    ratings. For a back-fill (A10-30). ``decision``: the judgement is a panel's decision, which
    comes before the plain judgements of its instant (app.domain.replay.SAME_INSTANT); a plain
    judgement comes after the decisions of its instant."""
    rows = sorted((await session.exec(
        select(Judgement.domain, Judgement.level, Judgement.occurred_at,
               Judgement.panel_item_id)
        .where(col(Judgement.case_id) == case_id)
        .order_by(col(Judgement.occurred_at), col(Judgement.created_at), col(Judgement.id))
    )).all(), key=lambda r: judged_rank(r[2], r[3]))  # stable: recording order on ties
    before: dict[str, str | None] = dict.fromkeys(("rosh", "swb", "lor"))
    after = []
    for judged, value, at, item in rows:  # in time order
        if at == occurred_at and decision and item is None:
            after.append((str(judged), str(value)))  # a plain one: after the decision
        elif at < occurred_at or (at == occurred_at and (
                str(judged) != domain or (not decision and item is not None))):
            before[str(judged)] = str(value)
        else:
            after.append((str(judged), str(value)))
    state: dict[str, str | None] = {**before, domain: level}
    later = []
    for judged, value in after:
        state = {**state, judged: value}
        later.append({**state, LATER_JUDGED: judged})
    return before, later


async def _follows_in_time(
    session: AsyncSession, case_id: uuid.UUID, domain: str, level: str, occurred_at: datetime,
    *, decision: bool = False,
) -> None:
    """A judgement dated before the latest of its domain (back-filled) is the level before the
    next one in time order: that one's ``previous_level`` becomes this level (its "previous"
    was the level before it in typing order). The history then reads in the order things
    happened (contract: the timeline "in order"; Somerset 6.1 "any level change"; attack 26b,
    ATTACK26B-4: high on 10 March recorded first kept ``previous_level`` null after medium on
    5 March was back-filled, and low on 12 March stayed "lowered from high" after very high on
    11 March). A derived field of the record, not its content (who judged what, when)."""
    table = _JUDGEMENT_TABLE
    after = table.c.occurred_at > occurred_at
    if decision:  # a panel's decision: before the plain judgements of its instant
        after = sa.or_(after, sa.and_(table.c.occurred_at == occurred_at,
                                      table.c.panel_item_id.is_(None)))
    nxt = (await (await session.connection()).execute(
        sa.select(table.c.id).where(table.c.case_id == case_id, table.c.domain == domain,
                                    after)
        .order_by(table.c.occurred_at, table.c.panel_item_id.is_(None), table.c.created_at)
        .limit(1))).first()
    if nxt is not None:
        await (await session.connection()).execute(
            sa.update(table).where(table.c.id == nxt[0]).values(previous_level=level))


def _is_backfill(current: dict[str, Any], occurred_at: datetime) -> bool:
    """Whether a judgement predates the current rating of its domain."""
    recorded = current.get("recorded_at")
    return bool(recorded) and datetime.fromisoformat(str(recorded)) > occurred_at


def _set_current_rating(case: Case, judgement: JudgementOut) -> None:
    ratings = dict(case.ratings or {})
    current = ratings.get(str(judgement.domain))
    # A back-filled judgement older than the current one goes into the history only.
    if current and datetime.fromisoformat(current["recorded_at"]) > judgement.occurred_at:
        return
    ratings[str(judgement.domain)] = {
        "level": str(judgement.level),
        "recorded_at": iso_utc(judgement.occurred_at),
        "judgement_id": str(judgement.id),
    }
    case.ratings = ratings  # reassigned so the JSON column change is tracked


async def record_judgement(
    session: AsyncSession,
    principal: Principal,
    case_id: uuid.UUID,
    body: JudgementCreate,
    ctx: policy.PolicyContext,
) -> tuple[JudgementOut, policy.PolicyResult]:
    """Record a judgement on a case the caller holds or manages (as the API shows it).

    Its time ("now" when the body gives none) is resolved once the case is locked: a
    judgement that waited for another write on the case is dated after it, so the order in
    time is the order the writes were applied in (A23a-1: dated before the lock, it came out
    back-dated behind the write it waited for, judged as a back-fill)."""

    def params() -> dict[str, Any]:
        at = resolve_occurred_at(body.occurred_at)
        now = body.occurred_at is None or at != body.occurred_at  # dated at the write's moment
        return {**policy.inputs_params(at, now=now), **final_events_params(ctx.final_types, at)}

    # The policy's panels and absences, and the case's final events (a death) before the
    # judgement, read with the case, under its lock (issue 15: two round trips fewer on
    # PostgreSQL).
    service, case, open_steps, columns = await get_case_file_for_write(
        session, principal, case_id, also=(policy.inputs_column(), final_events_column()),
        params=params)
    occurred_at = resolve_occurred_at(body.occurred_at)  # the write's instant: after the lock
    role = case_role_for(principal, case, ("case_holder", *MANAGERS), "record judgements")
    require_open_case(case, "record a judgement")
    await policy.require_held_role_then(session, principal, case, role, occurred_at)  # ATTACK27-2
    wctx = WriteContext(session=session, policy=ctx, service=service, case=case,
                        principal=principal, role=role, occurred_at=occurred_at)
    inputs = finals = None
    if columns is not None:
        inputs = policy.inputs_from_column(columns[0], case)
        finals = final_events_of(columns[1])
    return await apply_judgement(wctx, body=body, open_steps=open_steps, last=True,
                                 inputs=inputs, final_events=finals)


JUDGEMENT_ORDER = paging.Order(
    ((Judgement.occurred_at, "instant"), (Judgement.created_at, "instant"),
     (Judgement.id, "uuid")), descending=True)


async def list_judgements(
    session: AsyncSession, principal: Principal, case_id: uuid.UUID,
    page: paging.PageArgs,
) -> tuple[list[Judgement], str | None]:
    """A page of the case's judgement history, newest first, and the next page's cursor."""
    _, case = await get_visible_case(session, principal, case_id)
    return await paging.keyset_page(
        session, select(Judgement).where(Judgement.case_id == case.id), JUDGEMENT_ORDER, page,
        {"list": "judgements", "case": str(case.id)})
