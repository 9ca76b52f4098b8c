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
or restated under the line that asks for it now; nothing lowered, superseded or closed), in
the write's unit of work under the case's lock."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlmodel import col, select

from app.domain import policy
from app.domain.events import event_data
from app.domain.events_table import CaseEvent
from app.domain.judgements_table import Judgement
from app.domain.write_context import WriteContext
from app.workflows.types import WorkflowEvent

_JUDGEMENT: Any = Judgement.__table__  # type: ignore[attr-defined]
DOMAINS = ("rosh", "swb", "lor")


class Judged(NamedTuple):
    """One judgement of the case's history: when, which domain, which level."""

    occurred_at: datetime
    domain: str
    level: str


async def rating_history(wctx: WriteContext) -> list[Judged]:
    """The case's judgements in time order (recording order on ties)."""
    conn = await wctx.session.connection()
    j = _JUDGEMENT.c
    rows = (await conn.execute(
        sa.select(j.occurred_at, j.domain, j.level).where(j.case_id == wctx.case.id)
        .order_by(j.occurred_at, j.created_at, j.id))).all()
    return [Judged(at, str(domain), str(level)) for at, domain, level in rows]


def ratings_at(history: Sequence[Judged], at: datetime) -> dict[str, str | None]:
    """Each domain's rating at ``at``: its latest judgement at or before it."""
    ratings: dict[str, str | None] = dict.fromkeys(DOMAINS)
    for judged in history:
        if judged.occurred_at > at:
            break
        ratings[judged.domain] = judged.level
    return ratings


def ratings_after(history: Sequence[Judged], at: datetime) -> list[dict[str, str | None]]:
    """The ratings after each judgement dated after ``at``, in time order (the last: today's)."""
    state = ratings_at(history, at)
    later = []
    for judged in history:
        if judged.occurred_at > at:
            state = {**state, judged.domain: judged.level}
            later.append(state)
    return later


async def later_events(wctx: WriteContext, since: datetime) -> list[CaseEvent]:
    """The case's events dated after ``since``, in time order (recording order on ties)."""
    rows = await wctx.session.exec(
        select(CaseEvent).where(col(CaseEvent.case_id) == wctx.case.id,
                                col(CaseEvent.occurred_at) > since)
        .order_by(col(CaseEvent.occurred_at), col(CaseEvent.created_at), col(CaseEvent.id)))
    return list(rows.all())


async def replay_later_events(
    wctx: WriteContext, *, since: datetime
) -> policy.PolicyResult | None:
    """Each case event dated after ``since`` evaluated again on the history as it now stands
    (a judgement dated ``since`` was just recorded, after them), applying only what it still
    owes; None when there is none."""
    events = await later_events(wctx, since)
    if not events:
        return None
    history = await rating_history(wctx)
    result = None
    for recorded in events:
        event = WorkflowEvent(
            trigger="case_event", occurred_at=recorded.occurred_at, subject_id=recorded.id,
            actor_role=recorded.recorded_role, data=event_data(recorded))
        more = await policy.run_backfill(
            wctx, event=event, ratings=ratings_at(history, recorded.occurred_at),
            later=ratings_after(history, recorded.occurred_at), replayed=recorded.id)
        result = more if result is None else result.merge(more)
    return result
