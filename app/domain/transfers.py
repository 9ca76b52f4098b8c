"""The transfer that stands: which recorded event still says where the child is going.

Somerset 13.4 ("Transfers/Caretaking arrangements with other YJTs"): a case transferred out is
supervised by the receiving service after the transfer date. A case may record several transfer
events: a second ``transfer_out`` is the transfer now planned (a postponement: the first's
handover steps are replaced, attack pass 15, A15-2), and a ``transfer_in`` after a
``transfer_out`` brings the child back (the transfer out no longer stands). Only the transfer
that stands, the latest ``transfer_out`` by date (``occurred_at``, then recording order; at
one instant after a transfer in, :data:`REVERSING`) not followed by an event that reverses
it, says the child has gone: a closure on or after its
``transfer_date`` sets aside this service's own panel duties (the pack's
``closure_sets_aside``), a judgement before its date finds it pending (Somerset S26), and the
steps raised about any other transfer out are no longer owed (attack pass 21, A21a-6: a closure
read the date of a postponed or reversed transfer and set aside the not-waivable MARP duties
of a child still this service's).

Back-dated acts count by their dates, not their recording: a ``transfer_in`` typed in late,
dated between two transfers out, reverses the first and not the second."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import NamedTuple

import sqlalchemy as sa
from sqlmodel.ext.asyncio.session import AsyncSession

from app.domain.events_table import CaseEvent

# An event of a key type is reversed by a later event (by date) of one of these types: the
# child transferred out is back when a transfer in is recorded after it (core event types,
# app.domain.events.CaseEventType).
REVERSED_BY: dict[str, frozenset[str]] = {"transfer_out": frozenset({"transfer_in"})}
# At one instant an event that reverses comes before the event it would reverse (fix36d,
# ATTACK35A-13; app.domain.replay.SAME_INSTANT): a transfer out names a transfer date still
# ahead, so a transfer in of its instant is not the child back from it but the arrival the
# transfer out follows (Somerset 13.3 then 13.4): the transfer out stands, whatever order the
# two were typed in.
REVERSING = frozenset().union(*REVERSED_BY.values())



class Standing(NamedTuple):
    """The event that stands: its id, type and ``transfer_date`` (None when it names none)."""

    id: uuid.UUID
    type: str
    transfer_date: date | None


_COLUMNS: sa.ColumnCollection[str, sa.ColumnElement[object]] = \
    CaseEvent.__table__.c  # type: ignore[attr-defined]
# An event's place among the events of its instant (:data:`REVERSING`): reversing ones first.
_RANK = sa.case((_COLUMNS.type.in_(sorted(REVERSING)), 0), else_=1)
# Built once: the statement's parameters are bound per write. The case's latest event (by
# ``occurred_at``, then recording) of the type or of a type reversing it, dated by ``yj_at``.
_LATEST_EVER = (
    sa.select(_COLUMNS.id, _COLUMNS.type, _COLUMNS.transfer_date)
    .where(_COLUMNS.case_id == sa.bindparam("yj_case", type_=_COLUMNS.case_id.type),
           _COLUMNS.type.in_(sa.bindparam("yj_types", expanding=True)))
    .order_by(_COLUMNS.occurred_at.desc(), _RANK.desc(), _COLUMNS.created_at.desc(),
              _COLUMNS.id.desc())
    .limit(1)
)
_LATEST_BY = _LATEST_EVER.where(
    _COLUMNS.occurred_at <= sa.bindparam("yj_at", type_=_COLUMNS.occurred_at.type))


async def standing(
    session: AsyncSession, case_id: uuid.UUID, event_type: str, *, at: datetime | None = None,
) -> Standing | None:
    """The case's event of ``event_type`` that stands (id, type, transfer_date): the latest of
    the type dated by ``at`` (None: any recorded), when no event of a type that reverses it
    (:data:`REVERSED_BY`) is dated after it; None when none stands. One indexed query."""
    types = sorted({event_type, *REVERSED_BY.get(event_type, ())})
    conn = await session.connection()
    if at is None:
        row = (await conn.execute(_LATEST_EVER, {"yj_case": case_id, "yj_types": types})).first()
    else:
        row = (await conn.execute(_LATEST_BY, {"yj_case": case_id, "yj_types": types,
                                              "yj_at": at})).first()
    if row is None or row.type != event_type:
        return None
    return Standing(row.id, row.type, row.transfer_date)


async def not_standing(
    session: AsyncSession, case_id: uuid.UUID, event_type: str, *, replaced: bool,
) -> set[uuid.UUID]:
    """The ids of the case's events of ``event_type`` that no longer stand: each followed (by
    date) by an event of a type reversing it and, when ``replaced`` (the pack's
    ``replaces_earlier``), each followed by a later event of its own type."""
    return set(await ended_at(session, case_id, event_type, replaced=replaced))


async def ended_at(
    session: AsyncSession, case_id: uuid.UUID, event_type: str, *, replaced: bool,
) -> dict[uuid.UUID, datetime]:
    """:func:`not_standing`'s events, each with the time it stopped standing: the date of the
    first event after it (by date, then recording) that reverses or (``replaced``) replaces
    it. The steps raised about it lapse then, whatever order the two were typed in (a transfer
    out typed in after the transfer in that reversed it: its documentation was owed, and
    overdue, until the child came back; attack 35a, ATTACK35A-4, fix35f)."""
    reversing = REVERSED_BY.get(event_type, frozenset())
    if not reversing and not replaced:
        return {}
    conn = await session.connection()
    rows = (await conn.execute(
        sa.select(_COLUMNS.id, _COLUMNS.type, _COLUMNS.occurred_at, _COLUMNS.created_at)
        .where(_COLUMNS.case_id == case_id,
               _COLUMNS.type.in_(sorted({event_type, *reversing})))
        .order_by(_COLUMNS.occurred_at, _RANK, _COLUMNS.created_at, _COLUMNS.id))).all()
    gone: dict[uuid.UUID, datetime] = {}
    for i, row in enumerate(rows):
        if row.type != event_type:
            continue
        ender = next((r for r in rows[i + 1:] if r.type in reversing
                      or (replaced and r.type == event_type)), None)
        if ender is not None:
            at = ender.occurred_at
            gone[row.id] = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    return gone
