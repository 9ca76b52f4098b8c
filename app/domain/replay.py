"""Acts recorded out of time order: what the acts already recorded after an earlier one would
have asked of the history as it now stands (attack pass 11, A11-5).

The policy's principle (policy-rules, Deadline forms: deadlines are "computed from the
triggering event's occurred_at, never from the wall clock, so that a CMS can back-fill
events") is that the same history recorded in any order leaves the same open steps as recorded
in time order. A judgement typed in after later acts changes what those acts found: a change of
circumstances after a medium rating owes Somerset S14's review the next working day (4.2), a
transfer out of a high case owes S26's call before the transfer date (13.4.3). So after such a
judgement each later case event is evaluated again, on the ratings of its own date as the
history now has them (:func:`ratings_at`), and only what it still owes applies
(:func:`~app.domain.policy.run_backfill`: a missing step raised, an open step re-dated sooner
or restated under the line that asks for it now; nothing lowered or closed), in the write's
unit of work under the case's lock. A later judgement evaluated again supersedes what lapsed at
it in time order (a step arisen before it whose condition fails once it is the rating, asked for
since only by acts replayed after it: Somerset S11's monthly review, ended by an SWB medium
after a ROSH medium typed in after both, raised again by the MARP's later high; ATTACK35B-3).

The same goes the other way: an event typed in after later judgements is judged on the
ratings of its own date, and the later judgements are evaluated again after it (a transfer out
typed in after the high of a later date owes S26's call as the high would have, finding the
transfer pending)."""

from __future__ import annotations

import dataclasses
import functools
import uuid
from collections.abc import Collection, Sequence
from datetime import date, datetime, timedelta
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.domain import policy, transfers
from app.domain.assessments_table import (
    Assessment,
    AssessmentStatus,
    assessment_acts,
    assessment_clock,
    ratings_completed_by,
)
from app.domain.cases_table import Case
from app.domain.events_table import CaseEvent, event_data
from app.domain.history import (
    AS_OF_FIELDS,
    RecordChange,
    TimedChange,
    as_field,
    changes_after,
    derived_before,
    field_history,
    to_json,
)
from app.domain.judgements_table import Judgement
from app.domain.referrals import Referral
from app.domain.write_context import WriteContext
from app.workflows.calendar import london_date, london_text
from app.workflows.engine import LATER_JUDGED
from app.workflows.instant_order import SAME_INSTANT as SAME_INSTANT
from app.workflows.types import OpenStep, WorkflowEvent

_JUDGEMENT: Any = Judgement.__table__  # type: ignore[attr-defined]
DOMAINS = ("rosh", "swb", "lor")
# Acts at one instant (attack 32a, ATTACK32A-2): the case's events come first, then its
# judgements, each judged on the case as the instant's events left it, whatever order they
# were typed in. A judgement is made in the light of what happened (Somerset 4.2.1: "changes
# in circumstances requiring a re-classification of ROSH/Safety and Well-being judgement
# ratings"): an event is judged on the ratings from before its instant, and the judgements of
# its instant typed before it are judged again after it (:func:`replay_later_acts`'s
# ``judgements_at_since``), as the acts dated after it are.
# Among the judgements of one instant, the panels' decisions come first (fix35i, ATTACK35A-17):
# a panel confirms or sets the rating on what it heard at its sitting, and a judgement the case
# holder dates at the sitting's instant is recorded in the light of that decision (Somerset
# 7.1.6 "the MARP will ... confirm the ROSH/SWB judgement", 4.2.1 "the case holder will revise
# the ROSH/Safety and Well-Being judgement"), as one a minute later would be. So one instant's
# acts are: the feeds' messages, then the case's events and changes of its fields (a PATCH,
# the CMS's upsert, a custody or transfer event), then the panels' decisions, then the plain
# judgements; of one kind, in recording order.
# A feed's message comes first (fix36d, ATTACK35A-9, -16): it reports what another agency
# decided (MAPPA's category and level: Wokingham "Category 1 referrals must be made upon the
# registration becoming known ... Category 2 referrals (i.e. for children in custody), the
# referral into MAPPA must be completed six months prior to their release into the
# community"), and the service's own acts of that instant (a release, a release date) are
# recorded in the light of it, as a staff change dated after a message wins over it: a
# category 2 child released at the instant the category became known owes the notification at
# once (W16), typed in either order. The case's changes of a feed message's instant typed
# before it are replayed after it (:func:`instant_changes`, :func:`replay_instant`).
# (app.workflows.instant_order keeps the order, and what it means for the steps an act closes.)


def judged_rank(at: datetime, panel_item_id: uuid.UUID | None) -> tuple[datetime, int]:
    """The order of a judgement among the acts of its instant (:data:`SAME_INSTANT`): a panel's
    decision before a plain judgement."""
    return at, 0 if panel_item_id is not None else 1


async def plain_judged_at(session: AsyncSession, case: Case, at: datetime) -> frozenset[str]:
    """The domains of the case's plain judgements (not a panel's decision) dated at ``at``: a
    panel's decision of that instant comes before them (:data:`SAME_INSTANT`). No query when
    no current rating is dated at ``at`` (read from the case row)."""
    if not any(r and r.get("recorded_at")
               and datetime.fromisoformat(str(r["recorded_at"])) == at
               for r in (case.ratings or {}).values()):
        return frozenset()
    j = _JUDGEMENT.c
    rows = (await (await session.connection()).execute(
        sa.select(j.domain).where(j.case_id == case.id, j.occurred_at == at,
                                  j.panel_item_id.is_(None)))).all()
    return frozenset(str(domain) for (domain,) in rows)


class Judged(NamedTuple):
    """One judgement of the case's history: when, which domain, which level, which record."""

    occurred_at: datetime
    domain: str
    level: str
    id: uuid.UUID
    # The assessment and panel item it was recorded with (a pending judgement's: its row is
    # not there to read back; app.domain.assessments_table.ratings_completed_by).
    assessment_id: uuid.UUID | None = None
    panel_item_id: uuid.UUID | None = None


def dated_before_a_rating(case: Case, at: datetime, *, or_at: bool = False) -> bool:
    """Whether any of the case's current ratings was judged after ``at`` (``or_at``: or at
    it, for a case event, which comes before the judgements of its instant: :data:`SAME_INSTANT`)
    (read from the case row: no query)."""
    return any(datetime.fromisoformat(str(r["recorded_at"])) > at
               or (or_at and datetime.fromisoformat(str(r["recorded_at"])) == at)
               for r in (case.ratings or {}).values() if r and r.get("recorded_at"))


async def rating_history(wctx: WriteContext, pending: Judged | None = None) -> list[Judged]:
    """The case's judgements in time order (at one instant the panels' decisions first, then
    recording order: :data:`SAME_INSTANT`); ``pending``: one this write records whose row may
    be left to the commit (issue 15), last among its ties of its kind."""
    conn = await wctx.session.connection()
    j = _JUDGEMENT.c
    rows = (await conn.execute(
        sa.select(j.occurred_at, j.domain, j.level, j.id, j.panel_item_id)
        .where(j.case_id == wctx.case.id)
        .order_by(j.occurred_at, j.created_at, j.id))).all()
    history = [Judged(at, str(domain), str(level), i, None, item)
               for at, domain, level, i, item in rows]
    if pending is not None and all(h.id != pending.id for h in history):
        history.append(pending)
    # Stable: recording order on ties of one kind, a panel's decision first (SAME_INSTANT).
    history.sort(key=lambda h: judged_rank(h.occurred_at, h.panel_item_id))
    return history


def ratings_at(history: Sequence[Judged], at: datetime, *, before: bool = False
               ) -> dict[str, str | None]:
    """Each domain's rating at ``at``: its latest judgement at or before it (``before``:
    strictly before it, as a case event of that instant finds it: :data:`SAME_INSTANT`)."""
    ratings: dict[str, str | None] = dict.fromkeys(DOMAINS)
    for judged in history:
        if judged.occurred_at > at or (before and judged.occurred_at == at):
            break
        ratings[judged.domain] = judged.level
    return ratings


def ratings_after(history: Sequence[Judged], at: datetime, *, before: bool = False
                  ) -> list[dict[str, str | None]]:
    """The ratings after each judgement dated after ``at`` (``before``: or at it), in time
    order (the last: today's)."""
    state = ratings_at(history, at, before=before)
    later: list[dict[str, str | None]] = []
    for judged in history:
        if judged.occurred_at > at or (before and judged.occurred_at == at):
            state = {**state, judged.domain: judged.level}
            later.append({**state, LATER_JUDGED: judged.domain})
    return later


def judged_of(history: Sequence[Judged], but: uuid.UUID | None = None
              ) -> list[tuple[datetime, str]]:
    """The instant and domain of each judgement of ``history`` (``but``: the act's own)."""
    return [(h.occurred_at, h.domain) for h in history if h.id != but]


async def pending_transfer_date(
    session: AsyncSession, case_id: uuid.UUID, at: datetime
) -> date | None:
    """The transfer date of the case's transfer out that stands on ``at`` (the latest recorded
    by ``at``, not followed by a transfer in: :func:`app.domain.transfers.standing`), if that
    date is not yet past on ``at``'s London day (the child has not transferred yet). A child
    transferred out and back is no longer leaving (attack pass 21, A21a-6)."""
    row = await transfers.standing(session, case_id, "transfer_out", at=at)
    latest = row.transfer_date if row is not None else None
    if latest is None or latest < london_date(at):
        return None
    return latest



async def later_events(wctx: WriteContext, since: datetime) -> list[CaseEvent]:
    """The case's events dated after ``since``, in time order (recording order on ties). Read
    without flushing the write's pending changes first: none of them is an event dated after
    ``since`` (the write's own act is at ``since``), and the rows the commit writes with its
    sealed audit entry stay there (issue 15)."""
    with wctx.session.no_autoflush:
        rows = await wctx.session.exec(
            select(CaseEvent).where(col(CaseEvent.case_id) == wctx.case.id,
                                    col(CaseEvent.occurred_at) > since)
            .order_by(col(CaseEvent.occurred_at), col(CaseEvent.created_at),
                      col(CaseEvent.id)))
        return list(rows.all())


async def judgement_event(
    wctx: WriteContext, judgement_id: uuid.UUID
) -> WorkflowEvent:
    """The engine's event for a judgement already recorded, as its write built it (the pending
    transfer as the events recorded now say)."""
    j = (await wctx.session.exec(select(Judgement).where(col(Judgement.id) == judgement_id))
         ).one()
    data: dict[str, Any] = {
        "domain": str(j.domain), "level": str(j.level), "impact": j.impact,
        "likelihood": j.likelihood, "setting": j.setting, "rationale": j.rationale,
        "victims": list(j.victims or []), "via_panel_decision": j.panel_item_id is not None,
        "record_id": str(j.id),
        "assessment_id": str(j.assessment_id) if j.assessment_id else None,
    }
    data.update(await assessment_clock(wctx.session, j.assessment_id, j.occurred_at))
    data["assessment_unnamed"] = j.assessment_id is None  # a panel's too (ATTACK34B-4)
    if wctx.pack.reads_event_key("judgement_recorded", "transfer_pending"):
        transfer = await pending_transfer_date(wctx.session, wctx.case.id, j.occurred_at)
        if transfer is not None:
            data["transfer_pending"], data["transfer_date"] = True, transfer.isoformat()
    return WorkflowEvent(trigger="judgement_recorded", occurred_at=j.occurred_at,
                         subject_id=wctx.case.id, actor_role=j.recorded_role, data=data)


async def _countersign_event(wctx: WriteContext, at: datetime, assessment: Any,
                             pending: Judged | None) -> WorkflowEvent:
    """The engine's event for an assessment countersigned at ``at``, as its write built it
    (the ratings it completes as the history now has them, ``pending`` among them)."""
    data: dict[str, Any] = {"type": str(assessment.type), "stage": str(assessment.stage),
                            "assessment_id": str(assessment.id),
                            "scores": dict(assessment.scores or {})}
    unread = None if pending is None else (
        pending.id, pending.domain, pending.assessment_id, pending.panel_item_id,
        pending.occurred_at)
    data.update(await ratings_completed_by(wctx.session, wctx.case.id, assessment, at,
                                           pending=unread))
    role = next((str(e.get("role")) for e in assessment.history or ()
                 if e.get("action") == "countersign" and e.get("role")), wctx.event_role)
    return WorkflowEvent(trigger="assessment_countersigned", occurred_at=at,
                         subject_id=assessment.id, actor_role=role, data=data)


async def _endorse_on_file(wctx: WriteContext, at: datetime, act: Any,
                           pending: Judged | None) -> policy.PolicyResult | None:
    """The acknowledgements an assessment countersigned at ``at`` (``act``: its
    :func:`~app.domain.assessments_table.assessment_acts` entry) endorses, closed at ``at``
    and credited to its signer (:func:`app.domain.assessments.endorse_judgements`),
    ``pending`` among its judgements when recorded with it."""
    from app.domain.assessments import endorse_judgements  # assessments imports this module

    _at, _action, assessment, by = act
    mine = () if pending is None or pending.assessment_id != assessment.id else (pending.id,)
    return await endorse_judgements(dataclasses.replace(wctx, occurred_at=at),
                                    assessment=assessment, credited_to=by, pending=mine)


def _custody_event_change(change: Any, events: Sequence[CaseEvent]) -> bool:
    """Whether a change of the case's fields is a custody event's move of ``in_custody``: a
    custody event of the same date moving it the same way (the change it recorded, at its
    date)."""
    from app.domain.events import IN_CUSTODY_AFTER  # events imports this module

    moved = change.changes.get("in_custody")
    if moved is None:
        return False
    return any(e.occurred_at == change.occurred_at
               and IN_CUSTODY_AFTER.get(str(e.type)) == bool(moved[1]) for e in events)


async def instant_changes(wctx: WriteContext, at: datetime,
                          feeds: frozenset[str]) -> list[TimedChange]:
    """The changes of the case's fields dated ``at`` by the case's own acts (a PATCH, the CMS's
    upsert, a custody event), in recording order: not a feed message's (a change of the fields
    ``feeds`` names only, by a feed that sent a message of that instant or by this write's
    feed, whose message's referral is recorded after it): they come after the feeds' messages
    of their instant (:data:`SAME_INSTANT`)."""
    found = [c for c in await changes_after(wctx.session, wctx.case,
                                            at - timedelta(microseconds=1))
             if c.occurred_at == at]
    if not found:
        return []
    table: Any = RecordChange.__table__  # type: ignore[attr-defined]
    rows = (await (await wctx.session.connection()).execute(
        sa.select(table.c.id, table.c.actor_sub)
        .where(table.c.id.in_([c.id for c in found])))).all()
    by: dict[uuid.UUID, str] = {i: str(sub) for i, sub in rows}
    senders = {*await feed_senders(wctx.session, wctx.case.id, at), wctx.principal.sub}
    return [c for c in found
            if not (by.get(c.id, "") in senders and c.changes.keys() <= feeds)]


async def feed_senders(session: AsyncSession, case_id: uuid.UUID, at: datetime) -> set[str]:
    """Who sent the case's feed messages received at ``at`` (their referrals' ``created_by``)."""
    table: Any = Referral.__table__  # type: ignore[attr-defined]
    rows = (await (await session.connection()).execute(
        sa.select(table.c.created_by).where(
            table.c.case_id == case_id, table.c.source.like("feed:%"),
            table.c.occurred_at == at))).all()
    return {str(sub) for (sub,) in rows}


def before_instant(changes: Sequence[TimedChange]) -> dict[str, Any]:
    """The case's fields as the case's own acts of one instant found them (each field's value
    before the first of ``changes``, in recording order, that changed it): a feed message of
    that instant comes before them (:data:`SAME_INSTANT`)."""
    fields: dict[str, Any] = {}
    for change in changes:
        for name, (old, _new) in change.changes.items():
            if name in AS_OF_FIELDS and name not in fields:
                fields[name] = as_field(name, old)
    return fields


async def replay_instant(wctx: WriteContext, changes: Sequence[TimedChange]
                         ) -> policy.PolicyResult | None:
    """The case's own changes of one instant (:func:`instant_changes`) evaluated again after a
    feed message of that instant typed in after them (:data:`SAME_INSTANT`): what each ends or
    re-dates on the case the message left (Wokingham W16: the release re-dates the category 2
    notification the message asked for, due at once). Nothing is raised: what they raise they
    raised when they were recorded, under their own role (a line manager's release owes no
    report to the line manager, W5); None when there is none."""
    if not changes:
        return None
    result: policy.PolicyResult | None = None
    events = await later_events(wctx, changes[0].occurred_at - timedelta(microseconds=1))
    for change in changes:
        data: dict[str, Any] = {"changes": change.changes}
        if _custody_event_change(change, events):
            data["custody_event"] = True
        then = dataclasses.replace(wctx, occurred_at=change.occurred_at)
        more = await policy.run(then, event=then.event("case_changed", data), creates=False)
        result = more if result is None else result.merge(more)
    return result


class LaterActs(NamedTuple):
    """:func:`later_acts_columns`' values: whether the case has an event dated after the act,
    a judgement dated at or after it, an assessment past its draft; and (the caller's reading
    of the field changes after the act) a ``PATCH`` of ``in_custody`` after it recorded as no
    change (:func:`stated_moves`)."""

    events: bool
    judgements: bool
    assessments: bool
    stated: bool = True


@functools.cache
def later_acts_columns() -> tuple[Any, ...]:
    """PostgreSQL: whether the case ``yj_case`` has an event dated after ``yj_act_at``, a
    judgement dated at or after it, and an assessment past its draft (whose history may
    countersign it after it), as three columns of the case file's statement
    (:func:`app.domain.access.get_case_file_for_write`), read after the case lock with the
    case's own snapshot: :func:`replay_later_acts` reads only those that may hold an act to
    replay (issue 15: a dated change of the case, with nothing on file after it, reads none:
    three round trips fewer)."""
    event: Any = sa.alias(CaseEvent.__table__, "yj_la_event")  # type: ignore[attr-defined]
    judgement: Any = sa.alias(Judgement.__table__, "yj_la_judgement")  # type: ignore[attr-defined]
    assessment: Any = sa.alias(Assessment.__table__, "yj_la_assessment")  # type: ignore[attr-defined]
    case_id = sa.bindparam("yj_case", type_=event.c.case_id.type)
    at = sa.bindparam("yj_act_at", type_=event.c.occurred_at.type)
    return (
        sa.select(event.c.id).where(event.c.case_id == case_id, event.c.occurred_at > at)
        .correlate(None).exists().label("yj_later_events"),
        sa.select(judgement.c.id).where(judgement.c.case_id == case_id,
                                        judgement.c.occurred_at >= at)
        .correlate(None).exists().label("yj_later_judgements"),
        sa.select(assessment.c.id).where(assessment.c.case_id == case_id,
                                         assessment.c.status != AssessmentStatus.draft)
        .correlate(None).exists().label("yj_assessments"),
    )


async def _change_actors(wctx: WriteContext, changes: Sequence[TimedChange]
                         ) -> dict[Any, tuple[str | None, str | None]]:
    """Who recorded each of ``changes``, and under which role (its id -> (staff id, the
    stored :attr:`app.domain.history.RecordChange.actor_role`)): a change replayed after an
    act dated before it, typed in after it, is judged under its own recorder's role, not the
    replaying write's (fix41a, ATTACK40-2: the release its line manager PATCHed, replayed after
    the custody entry the case holder typed in after it, owed Wokingham W5's report to the
    line manager, which the line manager recording it does not owe). The role is the one
    stored with the change (fix42b), not inferred from who holds or manages the case now (a
    case holder since replaced, a manager's change through the CMS)."""
    if not changes:
        return {}
    table: Any = RecordChange.__table__  # type: ignore[attr-defined]
    rows = (await (await wctx.session.connection()).execute(
        sa.select(table.c.id, table.c.actor_sub, table.c.actor_role)
        .where(table.c.id.in_([c.id for c in changes])))).all()
    return {i: (None if sub is None else str(sub), None if role is None else str(role))
            for i, sub, role in rows}


async def replay_later_acts(
    wctx: WriteContext, *, since: datetime, pending: Judged | None = None,
    judged_again: list[OpenStep] | None = None, besides: frozenset[str] = frozenset(),
    judgements_at_since: bool = False, plain_at_since: bool = False,
    signed_at_since: bool = False, moves: Sequence[Move] = (),
    known: LaterActs | None = None, unraised: Collection[uuid.UUID] = (),
) -> policy.PolicyResult | None:
    """Each case event, judgement, change of the case's fields and assessment countersigned
    dated after ``since`` (an act of that date was just recorded, after them) evaluated again,
    in time order, on the history as it now stands, applying only what it still owes; None
    when there is none. ``pending``: the judgement this write records, when its row is left
    to the commit. ``besides``: fields whose changes the caller evaluated already (a change of
    those alone is not replayed: the MAPPA feed's, app.domain.feeds). ``judged_again`` (the
    steps open in time order after the act, :func:`app.domain.policy.run_backfill`'s
    ``in_time_order``): a later judgement the pack refuses on the history as it now stands,
    those steps open, refuses this write (409/422 naming it, :func:`_refused_later`): a panel's
    decision dated before a lowering the panel had to approve (Somerset 7.2.1, M6) is not
    recorded under it, as in time order the lowering would have been refused (attack 30a,
    A30a-6). ``judgements_at_since``: the judgements dated at ``since`` too (the act just
    recorded is a case event, which comes before them: :data:`SAME_INSTANT`).
    ``plain_at_since``: the plain judgements dated at ``since`` (not a panel's decision: the
    act just recorded is a panel's decision, which comes before them).
    ``signed_at_since``: the assessments countersigned at ``since`` too (the act just recorded
    is a judgement or a panel's decision, which comes before them: an assessment countersigned
    at the instant of a judgement completes the rating judged then, Wokingham W9; fix38b,
    ATTACK37-5). A countersignature replayed also endorses, at its date, the judgements
    recorded with its assessment by then (their rationale acknowledgements, Wokingham M2 and
    M8, done by the manager who signed: :func:`_endorse_on_file`; fix39a, ATTACK37-9), as its
    own write did those typed before it. ``moves``: changes dated after ``since`` that were
    recorded as no change and are one now that the act is on file (:func:`following_moves`:
    the release PATCHed before the custody entry was typed in), evaluated at their time among
    the rest, in time order (fix41a, ATTACK40-2: evaluated before the rest, the release re-dated
    Wokingham W16's notification at once and the category 2 message of the days between it
    and the entry, replayed after it, left it undated). ``known``: which of the case's events,
    judgements, assessments and stated custody changes may hold such an act, as the caller
    read it with the case under its lock (:func:`later_acts_columns`), nothing of them
    written since: those that cannot are not read. ``unraised``: hidden steps that do not
    count as the duty closed since (:func:`app.domain.policy.run_backfill`; fix42a)."""
    events = await later_events(wctx, since) if known is None or known.events else []
    changes = [c for c in await _moves_still(wctx, await changes_after(
        wctx.session, wctx.case, since)) if not c.changes.keys() <= besides]
    signed = []
    if known is None or known.assessments:
        with wctx.session.no_autoflush:  # as later_events: the write's rows stay for the seal
            signed = [a for a in await assessment_acts(wctx.session, wctx.case.id)
                      if a[1] == "countersign"
                      and (a[0] > since or (signed_at_since and a[0] == since))]
    # The stated changes that are moves now: those the caller found (the act just recorded
    # made them moves) evaluated as such (:func:`_owe_move`), the others as the changes they
    # are (what they end, they ended when they became moves).
    given = {(m.occurred_at, tuple(m.changes)) for m in moves}
    stated = [m for m in await stated_moves(wctx, since)
              if (m.occurred_at, tuple(m.changes)) not in given] \
        if known is None or known.stated else []
    if known is not None and not known.judgements and pending is None and not events \
            and not changes and not signed and not moves and not stated:
        return None  # no judgement at or after ``since`` either: nothing to replay
    history = await rating_history(wctx, pending)
    judged = [(i, h) for i, h in enumerate(history) if h.occurred_at > since
              or (judgements_at_since and h.occurred_at == since)
              or (plain_at_since and h.occurred_at == since and h.panel_item_id is None)]
    if not events and not judged and not changes and not signed and not moves and not stated:
        return None
    recorders = await _change_actors(wctx, changes)
    # In time order, and at one instant in its one order (:data:`SAME_INSTANT`): the case's
    # events and changes of its fields before the judgements (a panel's decision first, as
    # ``history`` has them), the countersignatures after (fix41a, ATTACK40-4: a change of its
    # instant was replayed after the judgements).
    acts: list[tuple[datetime, int, int, Any]] = [(e.occurred_at, 0, 0, e) for e in events]
    acts += [(h.occurred_at, 1, 1, (i, h)) for i, h in judged]
    acts += [(c.occurred_at, 0, 2, c) for c in changes]
    acts += [(a[0], 2, 3, a) for a in signed]
    acts += [(m.occurred_at, 0, 4, m) for m in moves]
    acts += [(m.occurred_at, 0, 5, m) for m in stated]
    result = None
    for at, _rank, kind, act in sorted(acts, key=lambda a: (a[0], a[1])):
        if kind in (4, 5):
            more = await _owe_move(wctx, act, history, ends=kind == 4)
        elif kind == 3:
            # An assessment countersigned (completed): the clocks that wait for it start
            # (Wokingham W9: the MARF's two working days from the completion of the
            # assessment an SWB high typed in after it, dated before it, belongs to; A15-4).
            # What it did at its date first, as its own write does (assessments._after_act):
            # it endorsed the judgements recorded with it by then (Wokingham: "By signing off
            # the assessment, the line manager will effectively endorse the judgement"), so
            # the acknowledgement one typed in after it, dated before it, asks for (M2, M8) is
            # done by it, at its date, by the manager who signed, as in time order (fix39a,
            # ATTACK37-9: it stayed open).
            endorsed = await _endorse_on_file(wctx, at, act, pending)
            more = await policy.run_backfill(
                wctx, event=await _countersign_event(wctx, at, act[2], pending),
                ratings=ratings_at(history, at), later=ratings_after(history, at),
                replayed=act[2].id, judged=judged_of(history), unraised=unraised)
            if endorsed is not None:
                more = endorsed.merge(more)
        elif kind == 2:
            # A change of the case's fields (a volunteer attached, a child protection plan),
            # on the ratings of its date (Somerset S35: the volunteer attached finds the risk
            # a judgement dated before it and typed in after it rated, A15-9).
            # The ``in_custody`` change a custody event made is the event's (flagged
            # ``custody_event``, as :func:`app.domain.events._follow_custody` judged it): its
            # handovers are the event's own, replayed with it, not asked again about the case
            # (Somerset S27/S32/S33 twice after a judgement dated before the entry, fix24f).
            data: dict[str, Any] = {"changes": act.changes}
            if _custody_event_change(act, events):
                data["custody_event"] = True
            actor, role = recorders.get(act.id, (None, None))
            if actor is not None:
                data[policy.ACTED_BY] = actor
            # Under its recorder's stored role (a row with none: the replaying write's).
            event = WorkflowEvent(
                trigger="case_changed", occurred_at=at, subject_id=wctx.case.id,
                actor_role=role or wctx.event_role, data=data)
            # On the ratings from before its instant: a judgement of its instant comes after
            # it (:data:`SAME_INSTANT`; fix41a, ATTACK40-4).
            more = await policy.run_backfill(
                wctx, event=event, ratings=ratings_at(history, at, before=True),
                later=ratings_after(history, at, before=True), replayed=act.id,
                judged=judged_of(history), unraised=unraised)
        elif kind == 0:
            event = WorkflowEvent(
                trigger="case_event", occurred_at=at, subject_id=act.id,
                actor_role=act.recorded_role,
                data={**event_data(act), policy.ACTED_BY: act.recorded_by})
            # A later transfer in replaces the incoming ratings of an earlier one typed in
            # after it: the steps those asked for that its own no longer ask lapse at its
            # date, as in time order (Somerset 13.3: "Where a case has a ROSH judgment and/or
            # Safety and Well-Being concerns of High or Very high from another YJT";
            # ATTACK35A-3, fix35f).
            # Judged on the ratings from before its instant, as its own write judged it (the
            # judgements of its instant come after it: :data:`SAME_INSTANT`; fix41a,
            # ATTACK40-4: a change of circumstances replayed after a medium of its instant
            # owed Somerset S14's review the next working day).
            more = await policy.run_backfill(
                wctx, event=event, ratings=ratings_at(history, at, before=True),
                later=ratings_after(history, at, before=True), replayed=act.id,
                judged=judged_of(history),
                lapse=isinstance(event.data.get("incoming_ratings"), dict),
                lapse_own=not isinstance(event.data.get("incoming_ratings"), dict),
                unraised=unraised)
        else:
            index, judgement = act
            before: dict[str, str | None] = dict.fromkeys(DOMAINS)
            for earlier in history[:index]:
                before[earlier.domain] = earlier.level
            later, state = [], {**before, judgement.domain: judgement.level}
            for after in history[index + 1:]:
                state = {**state, after.domain: after.level}
                later.append({**state, LATER_JUDGED: after.domain})
            try:
                more = await policy.run_backfill(
                    wctx, event=await judgement_event(wctx, judgement.id), ratings=before,
                    later=later, replayed=judgement.id, strict=judged_again is not None,
                    found=await derived_before(wctx.session, wctx.case, at, own=True),
                    in_time_order=judged_again, lapse=True,
                    judged=judged_of(history[:index]), unraised=unraised)
            except policy.PolicyViolation as refused:
                raise _refused_later(refused, judgement) from None
        result = more if result is None else result.merge(more)
    return result


def _refused_later(refused: policy.PolicyViolation, judgement: Judged) -> policy.PolicyViolation:
    """The refusal of a write under which a judgement already recorded, dated after it, would
    itself be refused (its rule's status and type, the judgement named)."""
    return policy.PolicyViolation(
        f"A judgement already recorded is dated after this act and the policy refuses it on "
        f"the history this act makes: {judgement.domain} {judgement.level} at "
        f"{london_text(judgement.occurred_at)} (judgement {judgement.id}): {refused.detail}",
        slug=refused.slug, status=refused.status, errors=refused.errors,
        extra={**refused.extra, "judgement_id": str(judgement.id),
               "judgement_occurred_at": judgement.occurred_at.isoformat()})


class Move(NamedTuple):
    """A change of the case's fields recorded as no change (a dated ``PATCH`` stating what the
    field already was) that is one now: when, the fields moved ([before, after]), who
    recorded it and under which role (its stored ``actor_role``, fix42b)."""

    occurred_at: datetime
    changes: dict[str, list[Any]]
    actor: str | None
    role: str | None = None


async def following_moves(
    wctx: WriteContext, earlier: dict[str, tuple[Any, datetime]]
) -> list[Move]:
    """The later change of each field of ``earlier`` (name -> (the value an act dated before
    it, typed in after it, gave the field; that change's time)) that was recorded as no change
    (a dated ``PATCH`` stating what the field already was: the release of 15 August typed in
    before the entry of the 10th) and is one now, the earlier value standing until it
    (ATTACK35A-18), in time order."""
    if not earlier:
        return []
    await wctx.session.flush()
    history = await field_history(wctx.session, wctx.case.id)
    moved: dict[datetime, Move] = {}
    for name, (value, until) in earlier.items():
        for change in history:
            pair = change.changes.get(name)
            if (not change.created and change.occurred_at == until and pair is not None
                    and pair[0] == pair[1] and pair[1] != to_json(value)):
                move = moved.setdefault(until, Move(until, {}, change.actor, change.role))
                move.changes[name] = [value, pair[1]]
    return [moved[at] for at in sorted(moved)]


async def _moves_still(wctx: WriteContext, changes: list[TimedChange]) -> list[TimedChange]:
    """``changes`` with each move of ``in_custody`` that is no move as the history now stands
    left out of it (the rest of its change kept; a change of nothing else dropped): a custody
    event dated before it, typed in after it, already put the child there. A ``PATCH`` of a
    future expected release date (custody implied) typed in before the custody entry of an
    earlier date recorded the child entering custody at its date; in time order it states
    where the child already was, and a replay judges it so (fix43d, ATTACK41-6: replayed as a
    move it raised Wokingham W4 again, whose open row kept the release's own W4 away)."""
    from app.domain.events import IN_CUSTODY_AFTER  # events imports this module

    moving = [c for c in changes if (pair := c.changes.get("in_custody")) is not None
              and pair[0] != pair[1]]
    if not moving:
        return changes
    rows = (await wctx.session.exec(select(CaseEvent.occurred_at, CaseEvent.type).where(
        col(CaseEvent.case_id) == wctx.case.id,
        col(CaseEvent.type).in_(list(IN_CUSTODY_AFTER))))).all()
    events = [(policy.stored_utc(at), IN_CUSTODY_AFTER[str(kind)]) for at, kind in rows]
    if not events:
        return changes
    history = await field_history(wctx.session, wctx.case.id)
    on_file = events + [(c.occurred_at, bool(c.changes["in_custody"][1])) for c in history
                        if not c.created and "in_custody" in c.changes
                        and c.changes["in_custody"][0] != c.changes["in_custody"][1]]
    kept: list[TimedChange] = []
    for change in changes:
        if change not in moving or any(at == change.occurred_at for at, _ in events):
            kept.append(change)
            continue
        before = [(at, value) for at, value in on_file if at < change.occurred_at]
        if not before or max(before, key=lambda m: m[0])[1] != bool(
                change.changes["in_custody"][1]):
            kept.append(change)
            continue
        rest = {k: v for k, v in change.changes.items() if k != "in_custody"}
        if rest:
            kept.append(change._replace(changes=rest))
    return kept


async def stated_moves(wctx: WriteContext, since: datetime) -> list[Move]:
    """The dated ``PATCH``es of ``in_custody`` after ``since`` recorded as no change (stating
    where the child already was) that are a move as the history now stands: a custody event
    dated before one, typed in after it, put the child the other way (the release PATCHed
    for 1 October typed in before the entry of 10 September), in time order. Replayed as the
    changes they now are (fix41a, ATTACK40-2: the category 2 message of 12 September typed in
    last, its replay skipped the release and left Wokingham W16's notification undated)."""
    from app.domain.events import IN_CUSTODY_AFTER  # events imports this module

    history = await field_history(wctx.session, wctx.case.id)
    stated = [c for c in history if not c.created and c.occurred_at > since
              and (pair := c.changes.get("in_custody")) is not None and pair[0] == pair[1]]
    if not stated:
        return []
    rows = (await wctx.session.exec(select(CaseEvent.occurred_at, CaseEvent.type).where(
        col(CaseEvent.case_id) == wctx.case.id,
        col(CaseEvent.type).in_(list(IN_CUSTODY_AFTER))))).all()
    moves_on_file = [(policy.stored_utc(at), IN_CUSTODY_AFTER[str(kind)]) for at, kind in rows]
    moves_on_file += [(c.occurred_at, bool(c.changes["in_custody"][1])) for c in history
                      if not c.created and "in_custody" in c.changes
                      and c.changes["in_custody"][0] != c.changes["in_custody"][1]]
    found: list[Move] = []
    for change in stated:
        before = [(at, value) for at, value in moves_on_file if at < change.occurred_at]
        if not before:
            continue
        value = max(before, key=lambda m: m[0])[1]
        stated_value = bool(change.changes["in_custody"][1])
        if value != stated_value:
            found.append(Move(change.occurred_at, {"in_custody": [value, stated_value]},
                              change.actor, change.role))
    return found


async def _owe_move(wctx: WriteContext, move: Move, history: Sequence[Judged], *,
                    ends: bool = True) -> policy.PolicyResult:
    """The duties of ``move`` (:func:`following_moves`) evaluated at its own time, on the
    ratings from before its instant (a judgement of its instant comes after it:
    :data:`SAME_INSTANT`; fix41a, ATTACK40-4), under the role its recorder acted under (stored
    with it, fix42b; fix41a, ATTACK40-2), as a replayed change is
    (:func:`replay_later_acts`). ``ends``: it became a move with this write, and ends what
    it ends as it did typed in at its date (the release's handover replaces the entry's,
    Somerset 14.3/14.4, S27); else only what it still owes applies."""
    at = move.occurred_at
    then = dataclasses.replace(wctx, occurred_at=at)
    role = move.role or wctx.event_role
    data: dict[str, Any] = {"changes": move.changes}
    if move.actor is not None:
        data[policy.ACTED_BY] = move.actor
    event = WorkflowEvent(trigger="case_changed", occurred_at=at, subject_id=wctx.case.id,
                          actor_role=role, data=data)
    if ends and not dated_before_a_rating(wctx.case, at, or_at=True):
        # As the change would have run, typed in at its date (its supersessions too: the
        # release's handover replaces the entry's, Somerset 14.3/14.4, S27).
        return await policy.run(then, event=event)
    # A judgement of its instant (or later) on file: what it ends as a dated PATCH's change
    # does (app.domain.cases._run_case_changed), what it owes on the ratings of before it.
    ended = await policy.run(then, event=event, creates=False, redates=False) if ends else None
    owed = await policy.run_backfill(
        then, event=event, ratings=ratings_at(history, at, before=True),
        later=ratings_after(history, at, before=True), judged=judged_of(history))
    return owed if ended is None else ended.merge(owed)


async def owed_by_following(
    wctx: WriteContext, earlier: dict[str, tuple[Any, datetime]]
) -> policy.PolicyResult | None:
    """The duties of the later change of each field of ``earlier`` (:func:`following_moves`)
    that was recorded as no change and is one now, the earlier value standing until it
    (ATTACK35A-18): each evaluated at its own time (:func:`_owe_move`), so that both typing
    orders owe the same (Somerset 14.3/14.4: the secure estate's documents only while the
    child is in custody). None when there is none."""
    moves = await following_moves(wctx, earlier)
    if not moves:
        return None
    ratings = await rating_history(wctx)
    result: policy.PolicyResult | None = None
    for move in moves:
        more = await _owe_move(wctx, move, ratings)
        result = more if result is None else result.merge(more)
    return result
