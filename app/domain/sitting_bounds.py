"""A back-dated judgement that would have taken the case off a panel's agenda the panel has
since decided on (ATTACK34A-1, fix35a).

Somerset 4.3: "Should a case at MARP be reclassified as medium, the case will be de-registered
from the MARP panel and managed by case holder alongside manager oversight." In time order a
judgement that takes the case off the register, with no other way onto a panel left (a live
panel referral, a step owing the panel's decision), withdraws it from the agendas of panels not
yet sat (:func:`app.domain.agenda.withdraw_unneeded`, A11-16), and the decision of such a panel
is then refused (409 ``conflicting-transition``: the item is withdrawn). Typed the other way
round, the decision first, the judgement dated before the sitting was kept as a back-fill and
the decision stood: the same acts at the same times gave two records by typing order.

The judgement is now refused in that order too: 409 ``decided-after-judgement`` naming the
decided item, its panel and sitting (``bound``: the sitting the judgement is dated before), so
whichever of the two is typed second is refused and says which act on file it contradicts.
Not when the case stays on the register or keeps a way onto a panel at the judgement's time, nor
when a later judgement dated before the sitting puts it back on the register (the case may
then have been put on that agenda again), nor for a panel whose sitting is at or before the
judgement (it had sat: its decision is not undone by what the case holder judged later).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import col, select

from app.core.errors import Conflict
from app.domain import derived_history, policy
from app.domain.access import LIVE_PANEL_REFERRAL_STATES
from app.domain.common import iso_utc
from app.domain.history import timeline_history
from app.domain.panels_table import Panel, PanelItem
from app.domain.referrals import Referral, ReferralKind
from app.domain.steps import Step, StepStatus
from app.domain.write_context import WriteContext

_DOMAINS = ("rosh", "swb")


async def _decided_after(wctx: WriteContext, at: datetime) -> list[tuple[Any, ...]]:
    """The case's agenda items decided (not withdrawn) on panels that sit after ``at``, soonest
    first: (item id, panel id, panel kind, sitting, decided at)."""
    rows = await wctx.session.exec(
        select(PanelItem, Panel)
        .join(Panel, col(Panel.id) == col(PanelItem.panel_id))
        .where(PanelItem.case_id == wctx.case.id, col(PanelItem.decided_at).is_not(None),
               col(PanelItem.withdrawn_at).is_(None), col(Panel.scheduled_for) > at)
        .order_by(col(Panel.scheduled_for), col(PanelItem.id)))
    return [(item.id, panel.id, panel.kind, panel.scheduled_for, item.decided_at)
            for item, panel in rows.all()]


def _status_at(referral: Referral, at: datetime) -> str | None:
    """The referral's status at ``at`` from its history (None: not made by then)."""
    status = None
    for move in referral.history or ():
        when = move.get("at")
        if when is not None and datetime.fromisoformat(str(when)) > at:
            break
        status = move.get("to", status)
    return status if policy.stored_utc(referral.occurred_at) <= at else None


async def _other_route_at(wctx: WriteContext, at: datetime, sat: datetime) -> bool:
    """Whether the case had a way onto a panel at ``at`` other than the register
    (:func:`app.domain.agenda.has_panel_route` then): a panel referral live at that time, or
    a step owing the panel's decision (the pack's ``panel_decision_then``) open then, or raised
    after it by the sitting ``sat`` and open at it (Wokingham W8's ``hold_high_risk_panel``,
    raised by the case's adding to the agenda at the sitting's time and closed by the
    decision: typed before the decision, the judgement found it open and left the item)."""
    referrals = (await wctx.session.exec(select(Referral).where(
        Referral.case_id == wctx.case.id, Referral.kind == ReferralKind.panel))).all()
    if any(_status_at(r, at) in LIVE_PANEL_REFERRAL_STATES for r in referrals):
        return True
    owed = wctx.pack.closes("panel_decision_then")
    if not owed:
        return False
    if any(s.code in owed for s in await policy.steps_open_at(wctx.session, wctx.case.id, at)):
        return True
    # Raised by the item's adding at the sitting's time (after ``at``), closed by its decision.
    closed = sa.func.coalesce(col(Step.completed_at), col(Step.lapsed_at))
    owing = (await wctx.session.exec(select(Step.id).where(
        Step.case_id == wctx.case.id, col(Step.code).in_(owed),
        col(Step.raised_at) > at, col(Step.raised_at) <= sat,
        sa.or_(col(Step.status) == StepStatus.open, closed >= sat)).limit(1))).first()
    return owing is not None


async def _register_from(wctx: WriteContext, pending: derived_history.Rated,
                         until: datetime) -> tuple[bool, bool]:
    """(on the register just before ``pending``, on it at any instant from ``pending``'s time
    until ``until`` with ``pending`` in the history), from the judgements by their dates as
    :func:`derived_history.restate_derived` reads them."""
    history = await timeline_history(wctx.session, wctx.case.id)
    without = await derived_history.judgements_of(wctx, None)
    rated = await derived_history.judgements_of(wctx, pending)
    at = pending.occurred_at
    was_on = await derived_history.register_at(wctx, history, without, at)
    instants = sorted({at} | {r.occurred_at for r in rated if at < r.occurred_at < until})
    for moment in instants:
        if await derived_history.register_at(wctx, history, rated, moment):
            return was_on, True
    return was_on, False


async def refuse_undoing_a_decided_sitting(
    wctx: WriteContext, *, pending: derived_history.Rated, field: str = "occurred_at"
) -> None:
    """409 ``decided-after-judgement`` for a ROSH/SWB judgement (``pending``, being recorded
    at ``wctx.occurred_at``) that, in time order, would have taken the case off the register
    with no other way onto a panel, so off the agenda of a panel that sits after it, whose
    decision on the case is on file (the module's docstring). Nothing is read unless such a
    decided item exists. ``field``: where the request carries the judgement's time (the
    workflow preview's ``judgement.occurred_at``)."""
    if pending.domain not in _DOMAINS:
        return
    at = wctx.occurred_at
    decided = await _decided_after(wctx, at)
    if not decided:
        return
    item_id, panel_id, kind, sat, decided_at = decided[0]
    sat = policy.stored_utc(sat)
    was_on, back_on = await _register_from(wctx, pending, sat)
    if not was_on or back_on or await _other_route_at(wctx, at, sat):
        return
    panel = wctx.pack.panel(kind).title
    sat_text = iso_utc(sat)
    raise Conflict(
        f"This lowering is dated before the {panel} of {sat_text} sat and takes the case off "
        f"the register, so in time order the case would have "
        f"left its agenda; but that {panel}'s decision on the case is on file (item {item_id}, "
        f"decided {iso_utc(policy.stored_utc(decided_at))}). The panel's decision stands: a "
        f"lowering after it is the panel's to approve (bring the case back to the panel), or "
        f"correct the decision's record first if the panel did not hear the case.",
        slug="decided-after-judgement",
        errors=[{"loc": f"body.{field}",
                 "msg": f"before the {panel} of {sat_text}, whose decision on the case is on "
                        f"file"}],
        extra={"panel_item_id": str(item_id), "panel_id": str(panel_id),
               "decided_at": iso_utc(policy.stored_utc(decided_at)),
               "bound": {"field": "occurred_at", "name": f"the {panel}'s sitting",
                         "value": sat_text}})

