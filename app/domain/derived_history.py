"""The derived fields of a case over time, made true again after a back-dated judgement.

A judgement typed in after acts dated later changes what the case's ratings, register, contact
level and priority were from its date on, not only now: the history rows the later acts
recorded hold what they derived without it. After such a judgement, each instant from its date
on at which the history changes a derived field, or a judgement is dated, is read again: the
ratings from the judgements by their dates; the register (Somerset 9), contact level (Wokingham
W11) and priority (Somerset 3.2.4) from those ratings by the pack in force then, as an act's
evaluation derives them. Where the history read forwards says otherwise, a ``derived`` row
(:data:`app.domain.history.DERIVED_ENTITY`) records the value at that instant, so the timeline
and the subject access export show every change at its act's date, from the value it replaced
by act time, whatever order the acts were typed in (fix32b). Only those two readers read these
rows: ``as_of`` (record time) and the act-time readers read ``case`` rows.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlmodel import col, select

from app.domain import policy
from app.domain.common import iso_utc
from app.domain.events_table import CaseEvent
from app.domain.history import (
    DERIVED_FIELDS,
    FieldChange,
    json_value_at,
    note_derived_rows,
    timeline_history,
    to_json,
)
from app.domain.judgements_table import Judgement
from app.domain.write_context import WriteContext
from app.workflows.packs import contact_level, state_context

_JUDGEMENT: Any = Judgement.__table__  # type: ignore[attr-defined]
# The fields restated from the judgements (the register only at the judgement's own date).
RESTATED = ("ratings", "on_register", "contact_level", "priority", "incoming_ratings")


class Rated(NamedTuple):
    """One judgement: when, its domain and level, its id."""

    occurred_at: datetime
    domain: str
    level: str
    id: uuid.UUID


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


async def _judgements(wctx: WriteContext, pending: Rated | None,
                      pending_decision: bool = False) -> list[Rated]:
    """The case's judgements in time order (at one instant the panels' decisions first, then
    recording order: app.domain.replay.SAME_INSTANT), ``pending`` (this write's, whose row may
    be left to the commit, a decision when ``pending_decision``) last among its ties of its
    kind."""
    j = _JUDGEMENT.c
    conn = await wctx.session.connection()
    rows = (await conn.execute(
        sa.select(j.occurred_at, j.domain, j.level, j.id, j.panel_item_id)
        .where(j.case_id == wctx.case.id)
        .order_by(j.occurred_at, j.created_at, j.id))).all()
    ranked = [(Rated(_aware(at), str(d), str(level), i), item is not None)
              for at, d, level, i, item in rows]
    if pending is not None and all(r.id != pending.id for r, _ in ranked):
        ranked.append((pending, pending_decision))
    ranked.sort(key=lambda r: (r[0].occurred_at, not r[1]))  # stable: recording order
    return [r for r, _ in ranked]


async def judgements_of(wctx: WriteContext, pending: Rated | None) -> list[Rated]:
    """The case's judgements in time order, ``pending`` among them (:func:`_judgements`)."""
    return await _judgements(wctx, pending)


async def register_at(wctx: WriteContext, history: list[FieldChange], rated: list[Rated],
                      at: datetime) -> bool:
    """Whether the case was on the register at ``at`` with the judgements ``rated`` (by their
    dates), as :func:`restate_derived` derives it there."""
    final = await _final_event_at(wctx)
    managed = not _closed_at(wctx, at) and (final is None or final > at)
    judged = [(r.occurred_at, r.domain) for r in rated]
    incoming = await policy.incoming_at(wctx.session, wctx.case, at, judged=judged)
    derived = _from_ratings(wctx, history, at, ratings_json_at(rated, at), managed, incoming)
    return bool(derived["on_register"])


def ratings_json_at(rated: list[Rated], at: datetime) -> dict[str, Any]:
    """The case's ratings at ``at`` as its ``ratings`` column holds them: each domain's latest
    judgement at or before ``at``."""
    ratings: dict[str, Any] = {}
    for r in rated:
        if r.occurred_at > at:
            break
        ratings[r.domain] = {"level": r.level, "recorded_at": iso_utc(r.occurred_at),
                             "judgement_id": str(r.id)}
    return ratings


async def _final_event_at(wctx: WriteContext) -> datetime | None:
    """When the case's earliest event of a ``final`` type (the pack's: a death) happened: the
    child is on no register and no case of priority from then (A20-2)."""
    final = sorted(wctx.pack.final_event_types)
    if not final:
        return None
    at = (await wctx.session.exec(
        select(sa.func.min(col(CaseEvent.occurred_at))).where(
            col(CaseEvent.case_id) == wctx.case.id, col(CaseEvent.type).in_(final)))).first()
    return None if at is None else _aware(at)


def _closed_at(wctx: WriteContext, at: datetime) -> bool:
    """Whether the case was closed at ``at`` (a closed period, or its current closure)."""
    case = wctx.case
    for start, end in case.closed_periods or ():
        if datetime.fromisoformat(start) <= at < datetime.fromisoformat(end):
            return True
    return case.closed_at is not None and _aware(case.closed_at) <= at


async def restate_derived(wctx: WriteContext, *, since: datetime,
                          pending: Rated | None = None, pending_decision: bool = False
                          ) -> None:
    """Record the case's ratings, register, contact level and priority at ``since`` (a
    back-dated judgement's date) and at each later instant the history changes a derived field
    or a judgement is dated, where the history read forwards says otherwise. The write's
    pending changes are flushed first (the history is read through Core)."""
    session, case = wctx.session, wctx.case
    await session.flush()
    history = await timeline_history(session, case.id)
    rated = await _judgements(wctx, pending, pending_decision)
    judged = [(r.occurred_at, r.domain) for r in rated]
    arrivals = await _arrivals(wctx)
    final = await _final_event_at(wctx)
    # The death ends the register and priority at its date (A20-2), whether or not its own
    # write changed them (typed in before a judgement dated before it: fix41d).
    instants = sorted({since} | {c.occurred_at for c in history if not c.created
                                 and c.occurred_at > since
                                 and (DERIVED_FIELDS & c.changes.keys())}
                      | {r.occurred_at for r in rated if r.occurred_at > since}
                      | {at for at in arrivals if at > since}
                      | ({final} if final is not None and final > since else set()))
    shown = {name: json_value_at(history, name, since, strictly=True) for name in RESTATED}
    rows: dict[datetime, dict[str, list[Any]]] = {}
    for at in instants:
        recorded = _recorded_at(history, at)
        managed = not _closed_at(wctx, at) and (final is None or final > at)
        ratings = ratings_json_at(rated, at)
        # The incoming ratings as they stood at ``at`` (fix32a's rule), not as they stand now.
        incoming = await policy.incoming_at(session, case, at, judged=judged)
        true = {"ratings": ratings, "incoming_ratings": _kept_at(arrivals, at, history),
                **_from_ratings(wctx, history, at, ratings, managed, incoming)}
        for name in RESTATED:
            held = recorded.get(name, shown[name])
            if held != true[name]:
                rows.setdefault(at, {})[name] = [to_json(getattr(case, name)), true[name]]
            shown[name] = true[name]
    note_derived_rows(session, case, rows)


async def _arrivals(wctx: WriteContext) -> dict[datetime, dict[str, Any]]:
    """The case's transfers in by when they happened (the incoming ratings change at each,
    fix32h), each with the incoming ratings as the case's row keeps them while it is the
    latest (app.domain.events: with the arrival's instant); of two at one instant, the one
    recorded last."""
    rows = await wctx.session.exec(
        select(col(CaseEvent.occurred_at), col(CaseEvent.details)).where(
            col(CaseEvent.case_id) == wctx.case.id, col(CaseEvent.type) == "transfer_in")
        .order_by(col(CaseEvent.occurred_at), col(CaseEvent.created_at)))
    kept: dict[datetime, dict[str, Any]] = {}
    for at, details in rows.all():
        at = _aware(at)
        kept[at] = {**dict((details or {}).get("incoming_ratings") or {}),
                    policy.ARRIVED_AT: iso_utc(at)}
    return kept


def _kept_at(arrivals: dict[datetime, dict[str, Any]], at: datetime,
             history: list[FieldChange]) -> Any:
    """``Case.incoming_ratings`` as at ``at``: the latest transfer in's at or before it (the
    history's value before the first)."""
    before = [a for a in arrivals if a <= at]
    return arrivals[max(before)] if before else json_value_at(history, "incoming_ratings", at)


def _recorded_at(history: list[FieldChange], at: datetime) -> dict[str, Any]:
    """The values the history's changes at ``at`` itself leave (the last at that instant)."""
    out: dict[str, Any] = {}
    for change in history:
        if not change.created and change.occurred_at == at:
            out.update({name: new for name, (_old, new) in change.changes.items()})
    return out


def _from_ratings(wctx: WriteContext, history: list[FieldChange], at: datetime,
                  ratings: dict[str, Any], managed: bool,
                  incoming: dict[str, Any]) -> dict[str, Any]:
    """The register (Somerset 9, the pack's ``[register]``), contact level (W11) and priority
    (3.2.4) the pack in force at ``at`` derives from ``ratings``, with the case's statutory
    status and a manager's raised priority as they were then (as
    :func:`app.domain.policy.apply_derived` derives them after an act): none of the register
    or priority while the case is not ``managed`` here (closed, or the child's death). The
    incoming ratings of a transfer in are ``incoming`` (:func:`app.domain.policy.incoming_at`
    at ``at``: from the arrival until the service's own judgement answers them), or the
    case's for a row kept without the arrival's instant."""
    pack = wctx.policy.pack_for(wctx.service, at=at)
    levels = {d: (v or {}).get("level") for d, v in ratings.items()}
    statutory = json_value_at(history, "statutory", at)
    raised = bool(json_value_at(history, "priority_raised", at))
    after = replace(policy.snapshot(wctx.case, ()),
                    ratings={d: levels.get(d) for d in ("rosh", "swb", "lor")},
                    statutory=wctx.case.statutory if statutory is None else bool(statutory),
                    **incoming)
    on_register = managed and pack.register_def is not None and bool(
        pack.register_def.when.test(state_context(after)))
    after = replace(after, on_register=on_register)
    priority, _raised = policy.derived_priority(pack, after, raised=raised, managed=managed)
    contact = contact_level(pack, after.ratings, statutory=after.statutory)
    return {"on_register": on_register, "contact_level": contact, "priority": priority}
