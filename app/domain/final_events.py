"""Acts about the living child after an event that ends them (a recorded death).

The packs model a child's death as ending the work with the child (``ends_steps``); the event
type is also ``final`` (attack pass 19, A19-17): an act about the living child dated after it
is refused, 409 ``after-final-event``, naming the event and its date (to a machine client
without the date: :meth:`~app.core.errors.DomainError.withheld`). Refused after it: a
judgement (it would put a deceased child on the register: Somerset 9), an assessment started,
a case put on a panel's agenda or a panel decision on it (7.1, "High Risk Panel"), a case
event of a type the pack does not list in ``later_event_types`` (a charge: a second CSPPI
notification, W24; a new incident: W4/W5 again), a referral of a kind not in
``later_referral_kinds`` made or moved on (submitted, quality-assured, sent), and a change of
the child's circumstances on the case (social care status, MAPPA, custody, release date,
volunteer, weapon flag, intervention, facts).

Still accepted, because the policy asks for it after a death (Somerset 12: "Case holders / team
leaders will immediately inform operational/ YJT Manager of the charge/death. The operational
or YJT manager will be responsible for completing and submitting the notification to the YJB";
Wokingham "Management reporting of serious incidents in line with YJB guidance"): the steps it
left open completed or waived (the manager informed, the CSPPI notification, S23/W24, and W4/W5's
recording and report of the death), a ``serious_incident`` referral (the notification, the
packs' ``later_referral_kinds``), management oversight, closing (or reopening) the case, its
holders and access, finishing assessments already on file (submitting, countersigning,
returning: documents of the work done before), withdrawing agenda items and referrals. An act
dated at or before the death (typed in afterwards) is history and is accepted.

The other order: a final event dated before an act about the living child already recorded
(one this module would refuse dated after it) is 422 ``occurred-before-bound`` naming that act's
time (:func:`app.domain.acts.require_final_event_after_living_acts`; attack pass 28a,
ATK28A-4), so the record never holds such an act after the death, whichever was typed first.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.core.errors import Conflict
from app.domain.cases_table import Case
from app.domain.common import iso_utc
from app.domain.events_table import CaseEvent
from app.workflows.packs import Pack
from app.workflows.vocabulary import EventType

# The case fields a PATCH may still change after a final event: who holds the case, who may
# see it, closing or reopening it (with their reasons), and when the change was made.
ADMINISTRATIVE_FIELDS = frozenset({
    "case_holder_id", "line_manager_id", "access", "closed_at", "closure_reason",
    "reopen_reason", "occurred_at",
})
# The child's identity as the case management system corrects it (an upsert): not an act.
IDENTITY_FIELDS = frozenset({"given_name", "family_name", "date_of_birth"})


class FinalEvent(NamedTuple):
    """An event of a ``final`` type on file: what the refusal names of it."""

    type: str
    id: uuid.UUID
    occurred_at: datetime


async def final_event_before(
    session: AsyncSession, pack: Pack, case: Case, at: datetime,
    known: Sequence[FinalEvent] | None = None,
) -> tuple[EventType, FinalEvent] | None:
    """The earliest event of a ``final`` type (the pack's) recorded on the case and dated
    before ``at``, with its declaration; ``None`` when there is none. ``known``: the case's
    events of any pack's final type dated before ``at``, as the caller read them with the case
    under its lock (:func:`final_events_column`): no statement of its own."""
    final = {t: pack.event_type(t) for t in sorted(pack.final_event_types)}
    if not final:
        return None
    if known is None:
        found = (await session.exec(
            select(CaseEvent.type, CaseEvent.id, CaseEvent.occurred_at)
            .where(CaseEvent.case_id == case.id, col(CaseEvent.type).in_(list(final)),
                   col(CaseEvent.occurred_at) < at)
            .order_by(col(CaseEvent.occurred_at)).limit(1))).first()
        return None if found is None else (final[found[0]], FinalEvent(*found))
    first = min((e for e in known if e.type in final and e.occurred_at < at),
                key=lambda e: e.occurred_at, default=None)
    return None if first is None else (final[first.type], first)


@functools.cache
def final_events_column() -> Any:
    """PostgreSQL: the case's events of a type in ``yj_final_types`` (every loaded pack's
    final types: the case's pack is read by the same statement) dated before
    ``yj_final_at``, as one column of the case file's statement
    (:func:`app.domain.access.get_case_file_for_write`, issue 15: one round trip fewer): an
    array of ``(type, id, occurred_at)`` rows (NULL for none), read after the case lock with
    the case's own snapshot; :func:`final_events_of` makes it the ``known`` of
    :func:`require_before_final_event`, which keeps those of the case's pack."""
    event: Any = sa.alias(CaseEvent.__table__, "yj_fe")  # type: ignore[attr-defined]
    return (sa.select(sa.func.array_agg(sa.tuple_(event.c.type, event.c.id, event.c.occurred_at),
                                        type_=sa.types.NullType()))
            .where(event.c.case_id == sa.bindparam("yj_case", type_=event.c.case_id.type),
                   event.c.type == sa.any_(sa.bindparam("yj_final_types",
                                                        type_=ARRAY(sa.String()))),
                   event.c.occurred_at < sa.bindparam("yj_final_at",
                                                      type_=event.c.occurred_at.type))
            .scalar_subquery().correlate(None).label("yj_final_events"))


def final_events_params(final_types: list[str], at: datetime) -> dict[str, Any]:
    """The parameters of :func:`final_events_column` for an act at ``at``, the loaded packs'
    final types (:attr:`app.domain.write_context.PolicyContext.final_types`)."""
    return {"yj_final_types": final_types, "yj_final_at": at}


def final_events_of(value: Any) -> list[FinalEvent]:
    """:func:`final_events_column`'s value as :class:`FinalEvent` rows (asyncpg's UUIDs made
    :class:`uuid.UUID`, as SQLAlchemy's type gives them)."""
    return [FinalEvent(kind, uuid.UUID(bytes=ident.bytes), at)
            for kind, ident, at in value or ()]


async def require_before_final_event(
    session: AsyncSession, pack: Pack, case: Case, at: datetime, *, what: str,
    event_type: str | None = None, referral_kind: str | None = None,
    field: str = "occurred_at", known: Sequence[FinalEvent] | None = None,
) -> None:
    """409 ``after-final-event`` when ``at`` falls after an event that ends the acts about the
    living child (a death), unless ``event_type`` / ``referral_kind`` is one the pack still
    accepts after it (``later_event_types`` / ``later_referral_kinds``). ``what`` names the
    act in the problem ("record a judgement"). ``known``: as :func:`final_event_before`."""
    hit = await final_event_before(session, pack, case, at, known)
    if hit is None:
        return
    declared, event = hit
    if event_type is not None and event_type in declared.later_event_types:
        return
    if referral_kind is not None and referral_kind in declared.later_referral_kinds:
        return
    raise after_final_event(declared, event, what=what, field=field)


async def final_event_recorded(session: AsyncSession, pack: Pack, case_id: object) -> bool:
    """Whether the case records an event of a ``final`` type (the pack's: a death), at any
    date: the child is then on no register and no case of priority (attack 20, A20-2)."""
    final = sorted(pack.final_event_types)
    if not final:
        return False
    found = (await session.exec(
        select(CaseEvent.id).where(CaseEvent.case_id == case_id,
                                   col(CaseEvent.type).in_(final)).limit(1))).first()
    return found is not None


def after_final_event(
    declared: EventType, event: FinalEvent, *, what: str, field: str = "occurred_at"
) -> Conflict:
    """The 409 for an act dated after a final event: its title and date for staff; to a
    machine client (:meth:`~app.core.errors.DomainError.withheld`) the rule without the date."""
    when = iso_utc(event.occurred_at)
    base = (f"cannot {what}: the case records '{declared.title}' ({declared.id})")
    tail = ("; an act about the living child dated after it is refused (record what the "
            "policy still asks: its steps, the serious incident notification, the closure)")
    extra = {"final_event": {"type": declared.id, "id": str(event.id), "occurred_at": when},
             "loc": f"body.{field}"}
    return Conflict(
        f"{base[0].upper()}{base[1:]} on {when}{tail}.", slug="after-final-event", extra=extra,
        withheld=Conflict(f"{base[0].upper()}{base[1:]} before this act's {field}{tail}.",
                          slug="after-final-event",
                          extra={"final_event": {"type": declared.id}, "loc": f"body.{field}"}),
    )
