"""When the latest act recorded on a case happened: the bound a closure may not predate, and
the bound a final event (a death) may not predate: the latest act about the living child.

A closure dated before something already recorded on the case (a judgement, an event, a step done)
would rewrite what the policy asked at the time: an act after the closure date falls outside
the open case, and a serious incident (Somerset 12, within 20 days "following the end of
supervision") would be measured from a closure that had not happened. So the closure, like every
other act, is refused with 422 ``occurred-before-bound`` naming this bound.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.domain.assessments_table import Assessment
from app.domain.cases_table import Case
from app.domain.events_table import CaseEvent
from app.domain.history import RecordChange
from app.domain.judgements_table import Judgement
from app.domain.oversight import OversightEntry
from app.domain.panels_table import PanelItem
from app.domain.referrals import MAKING_ACTIONS, Referral
from app.domain.steps import Step, StepStatus
from app.domain.timing import require_after, require_not_before
from app.workflows.vocabulary import EventType

# The case's fields that say something about the living child (what a PATCH, an upsert or a
# feed changes that a final event then refuses: ``cases.CasePatch`` less who holds the case,
# who may see it, its closure and the child's identity; a test checks).
CIRCUMSTANCES = frozenset({
    "csc_status", "mappa_category", "mappa_level", "expected_release_date", "in_custody",
    "volunteer_attached", "weapon_related", "intervention", "statutory", "facts",
})


async def latest_act_at(session: AsyncSession, case_id: uuid.UUID) -> datetime | None:
    """The latest moment (aware UTC) at which something recorded on the case happened: a
    judgement, event or oversight entry (``occurred_at``; an event's ``known_at`` too), a panel
    decision (``decided_at``), a
    step done or waived (``completed_at``), an assessment's or referral's transition (their
    history's ``at``) or a change of the case's fields, a reopening included (``changed_at``);
    None for a case with no act yet. Acts dated by their
    ``occurred_at`` (back-dated ones at their own date), not by when they were recorded."""
    columns: list[Any] = [
        sa.select(sa.func.max(col(Judgement.occurred_at))).where(col(Judgement.case_id) == case_id),
        sa.select(sa.func.max(col(CaseEvent.occurred_at))).where(col(CaseEvent.case_id) == case_id),
        # An event is the service's act when it became known (known_at, never before it
        # happened): a closure before the service learned of it would predate the record.
        sa.select(sa.func.max(col(CaseEvent.known_at))).where(col(CaseEvent.case_id) == case_id),
        sa.select(sa.func.max(col(OversightEntry.occurred_at)))
        .where(col(OversightEntry.case_id) == case_id),
        sa.select(sa.func.max(col(PanelItem.decided_at))).where(col(PanelItem.case_id) == case_id),
        sa.select(sa.func.max(col(Step.completed_at))).where(
            col(Step.case_id) == case_id,
            col(Step.status).in_((StepStatus.done, StepStatus.waived))),
        # A change of the case's fields (a reassignment, a correction, a reopening) at its
        # occurred_at (migration 0014 set it to a reopening's recording time for older ones).
        sa.select(col(Case.changed_at)).where(col(Case.id) == case_id),
    ]
    moments = await _maxima(session, columns)
    for model in (Assessment, Referral):
        rows = await session.exec(select(model.history).where(col(model.case_id) == case_id))
        moments += [_aware(datetime.fromisoformat(h["at"])) for history in rows.all()
                    for h in history or () if h.get("at")]
    return max(moments, default=None)


async def _maxima(session: AsyncSession, columns: list[Any]) -> list[datetime]:
    """The maxima of ``columns`` (``SELECT max(...)`` each, sent as scalar subqueries of one
    statement) that are not null, aware UTC."""
    found = (await session.exec(select(*(c.scalar_subquery() for c in columns)))).one()
    return [_aware(m) for m in found if m is not None]


def _aware(moment: datetime) -> datetime:
    """SQLite may give naive UTC back from an aggregate; PostgreSQL aware."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


async def require_after_latest_act(
    session: AsyncSession, case_id: uuid.UUID, at: datetime, field: str, *,
    strictly: bool = False,
) -> None:
    """422 ``occurred-before-bound`` when ``at`` (a reassignment) is before
    :func:`latest_act_at`, naming it as the bound; ``strictly`` (a closure, a reopening), at
    it as well. The case is closed from its closure's instant to its reopening's (an act dated
    at a closure is on the closed case, one dated at a reopening on the open one: A25-2), so an
    act already recorded at that instant, judged on the case as it was then, would be judged
    the other way had it been typed after: the closure or reopening comes after it, and
    whatever order the acts are typed in, each is judged one way."""
    latest = await latest_act_at(session, case_id)
    if latest is None:
        return
    if strictly:
        require_after(at, latest, "the latest act recorded on the case", field=field)
    else:
        require_not_before(at, latest, "the latest act recorded on the case", field=field)


async def latest_living_act_at(
    session: AsyncSession, case_id: uuid.UUID, final: EventType
) -> datetime | None:
    """The latest moment (aware UTC) at which an act about the living child recorded on the
    case happened: the acts a final event (``final``, a death) refuses dated after it
    (:mod:`app.domain.final_events`): a judgement, an event of a type other than ``final`` and
    those it still accepts after it (``later_event_types``), an assessment started, a panel
    decision, a referral of a kind it does not still accept (``later_referral_kinds``) made or
    moved on (submitted, quality-assured, sent), a change of the child's circumstances on the
    case (:data:`CIRCUMSTANCES`, at the change's ``occurred_at``), a step done by hand whose
    code the final event ends (its ``ends_steps`` and ``ends_earlier_steps``: work with the
    child, such as Somerset S12's explanation to the child and carer, which the death
    supersedes, so a completion dated after it is 409; at the completion's ``occurred_at``,
    ``completed_at``; attack pass 29, ATK29-10). None when there is none.
    What the policy still asks after a death (oversight, the other steps done, finishing an
    assessment, a closure, a reassignment) is no such act: a completion of a step the death
    does not end (a manager informed, the serious incident notification); a step closed by
    another record (``satisfied_by``: that record is the act, bounding the death or not on its
    own, such as an assessment submitted); and a waiver, a manager's decision that the duty
    need not be done, which records nothing done with the child."""
    later = [final.id, *final.later_event_types]
    ended = list(dict.fromkeys((*final.ends_steps, *final.ends_earlier_steps)))
    columns: list[Any] = [
        sa.select(sa.func.max(col(Judgement.occurred_at))).where(col(Judgement.case_id) == case_id),
        sa.select(sa.func.max(col(Step.completed_at))).where(
            col(Step.case_id) == case_id, col(Step.status) == StepStatus.done,
            col(Step.satisfied_by_type).is_(None), col(Step.code).in_(ended)),
        sa.select(sa.func.max(col(CaseEvent.occurred_at))).where(
            col(CaseEvent.case_id) == case_id, col(CaseEvent.type).not_in(later)),
        sa.select(sa.func.max(col(Assessment.occurred_at)))
        .where(col(Assessment.case_id) == case_id),
        sa.select(sa.func.max(col(PanelItem.decided_at))).where(col(PanelItem.case_id) == case_id),
    ]
    moments = await _maxima(session, columns)
    referrals = await session.exec(select(Referral.kind, Referral.history).where(
        col(Referral.case_id) == case_id,
        col(Referral.kind).not_in(list(final.later_referral_kinds))))
    moments += [_aware(datetime.fromisoformat(h["at"])) for _, history in referrals.all()
                for h in history or ()
                if h.get("at") and h.get("action") in ("create", *MAKING_ACTIONS)]
    changes = await session.exec(select(RecordChange.occurred_at, RecordChange.changes).where(
        col(RecordChange.case_id) == case_id, col(RecordChange.entity_type) == "case",
        col(RecordChange.occurred_at).is_not(None)))
    moments += [_aware(at) for at, changed in changes.all()
                if at is not None and CIRCUMSTANCES & (changed or {}).keys()]
    return max(moments, default=None)


async def require_final_event_after_living_acts(
    session: AsyncSession, case_id: uuid.UUID, at: datetime, final: EventType
) -> None:
    """422 ``occurred-before-bound`` when a final event (a death) dated ``at`` falls before
    :func:`latest_living_act_at`, naming it as the bound, as a closure dated before the latest
    act is (attack pass 28a, ATK28A-4: a death dated before a judgement and an incident on
    record was accepted, and the record then held a rating judged and an incident four and
    five days after the child died; the same judgement sent afterwards was 409
    ``after-final-event``). The packs (``death``): "Nothing about the living child happens
    after the death". An act at the death's own instant is history, as it is when typed in
    after the death (``final_events``), so the death may be dated at it."""
    latest = await latest_living_act_at(session, case_id, final)
    if latest is not None:
        require_not_before(at, latest, "the latest act about the living child recorded on "
                           "the case", field="occurred_at")
