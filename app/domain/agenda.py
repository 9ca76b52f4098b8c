"""Taking a case off a panel's agenda before its decision (attack pass 11, A11-16).

A closed case stayed on an undecided agenda (its decision could never be recorded: a panel does
not act on a closed case), and no route took an item off. An item is withdrawn, not deleted: it
keeps who took it off, when and why (the audit trail and the subject access export show it), and
no longer counts as the case standing on the agenda (the packs' ``case.on_panel_agenda``). The
duty its adding raised (the chair's ``record_panel_decision``, Somerset 7.1.2, about the item) is
superseded with the reason, not reinstated by a reopening; the case's ``next-panel`` steps
follow the panels as they now stand for it (A11-13). Each withdrawal is audited
(``panel.item.withdraw``) and announced (``panel.item.withdrawn``, ids only) in the act's unit
of work, under the case's lock (which every act on the case's items takes: adding one, deciding
it, closing the case; cancelling the panel waits for them all under the service's exclusive
policy lock).
"""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import col, select

from app.domain import policy
from app.domain.access import LIVE_PANEL_REFERRAL_STATES
from app.domain.common import iso_utc
from app.domain.outbox import emit
from app.domain.panels_table import Panel, PanelItem, undecided_agenda
from app.domain.steps import Step, StepStatus, append_note
from app.domain.write_context import WriteContext
from app.workflows.calendar import LONDON

REASON_MAX = 500
# The referral table's module imports this one's callers, so its columns are named here.
_REFERRAL = sa.table(
    "referral", sa.column("case_id", PanelItem.__table__.c.case_id.type),  # type: ignore[attr-defined]
    sa.column("kind", sa.String()), sa.column("status", sa.String()))


async def standing_items(
    wctx: WriteContext, *, after: datetime
) -> list[tuple[PanelItem, Panel]]:
    """The case's items not decided nor withdrawn on panels whose time is after ``after``
    (panels not yet sat when the act happened), soonest panel first."""
    rows = await wctx.session.exec(
        select(PanelItem, Panel).join(Panel, col(Panel.id) == col(PanelItem.panel_id))
        .where(PanelItem.case_id == wctx.case.id, col(PanelItem.decided_at).is_(None),
               col(PanelItem.withdrawn_at).is_(None), col(Panel.scheduled_for) > after)
        .order_by(col(Panel.scheduled_for), col(PanelItem.id))
        .execution_options(populate_existing=True))
    return [(item, panel) for item, panel in rows.all()]


async def withdraw_item(
    wctx: WriteContext, *, item: PanelItem, panel: Panel, reason: str, redate: bool = True,
) -> list[Step]:
    """Take ``item`` off ``panel``'s agenda at ``wctx.occurred_at`` for ``reason``; the steps
    about it are superseded (answered). With ``redate``, the case's ``next-panel`` steps are
    then due at the panel they now wait for (none at a closure: every step is superseded)."""
    session = wctx.session
    lowest = (await session.exec(select(sa.func.min(col(PanelItem.duplicate_rank))).where(
        PanelItem.panel_id == item.panel_id, PanelItem.case_id == item.case_id))).one()
    item.withdrawn_at, item.withdrawn_by = wctx.occurred_at, wctx.principal.sub
    item.withdrawal_reason = reason[:REASON_MAX]
    # Below every rank of the case on this panel: the unique (panel, case, rank) index of
    # migration 0020 lets the case come back onto the agenda as a new item of rank 0.
    item.duplicate_rank = min(lowest or 0, 0) - 1
    session.add(item)
    day = panel.scheduled_for.astimezone(LONDON).date().isoformat()
    why = f"the case was withdrawn from the agenda of the {panel.kind} of {day} " \
          f"(item {item.id}): {item.withdrawal_reason}"
    ended = list((await session.exec(select(Step).where(
        Step.case_id == item.case_id, Step.status == StepStatus.open,
        Step.subject_id == item.id))).all())
    for step in ended:
        step.status = StepStatus.superseded
        step.note = append_note(step.note, f"Superseded: {why}")
        step.satisfied_by_type, step.satisfied_by_id = "panel_item", item.id
        session.add(step)
    await session.flush()
    for step in ended:
        await wctx.audit("step.supersede", entity_type="step", entity_id=step.id, reason=why,
                         change={"code": step.code, "rule": step.rule_id,
                                 "status": str(step.status),
                                 "due_at": iso_utc(step.due_at) if step.due_at else None})
    await wctx.audit("panel.item.withdraw", entity_type="panel_item", entity_id=item.id,
                     reason=item.withdrawal_reason,
                     change={"panel_id": str(panel.id), "case_id": str(item.case_id),
                             "at": iso_utc(wctx.occurred_at),
                             "reason": item.withdrawal_reason,
                             "steps": [str(s.id) for s in ended]})
    # Ids only, as every webhook: the reason is free text and stays in the audit.
    await emit(session, "panel.item.withdrawn", item.id, service_id=wctx.service.id,
               payload={"case_id": str(item.case_id), "panel_id": str(panel.id),
                        "item_id": str(item.id)})
    if redate and not await undecided_agenda(session, item.case_id) \
            and await has_panel_route(wctx):
        # Taken off undecided, the case was not heard: what its adding answered (Somerset
        # 3.2.3's referral to the next MARP, S7, not waivable; Wokingham W7's request for the
        # High-Risk Panel) is owed again, due at the panel it now waits for, as a withdrawn
        # referral's is (attack passes 16 and 17, A16-19, A17-2). Not while the case stands on
        # another agenda (moved to a later panel: going there answers it).
        back = await policy.reopen_done_by(
            wctx, act=("panel_item", item.id),
            note=f"Re-opened: {why}; the panel did not hear the case.")
        await policy.redate_returning_next_panel_steps(
            wctx, steps=back, why="the agenda item that answered it was withdrawn")
    if redate:
        await policy.run(wctx, event=wctx.event(
            "panel_scheduled", {"panel_id": str(panel.id), "kind": panel.kind,
                                "change": "withdrawn"}, subject_id=panel.id))
    return ended


async def has_panel_route(wctx: WriteContext) -> bool:
    """Whether the case may stand on a panel's agenda: on the register, or a panel referral
    made and neither withdrawn nor declined (as putting it there requires)."""
    if wctx.case.on_register:
        return True
    conn = await wctx.session.connection()
    live = await conn.execute(sa.select(_REFERRAL.c.case_id).where(
        _REFERRAL.c.case_id == wctx.case.id, _REFERRAL.c.kind == "panel",
        _REFERRAL.c.status.in_(LIVE_PANEL_REFERRAL_STATES)).limit(1))
    return live.first() is not None


async def withdraw_unneeded(wctx: WriteContext, *, why: str) -> list[uuid.UUID]:
    """After an act that may end the need for the panel (a panel referral withdrawn or
    declined): when the case no longer has a way onto a panel (:func:`has_panel_route`), its
    items on panels not yet sat at the act are withdrawn. The ids withdrawn."""
    if await has_panel_route(wctx):
        return []
    withdrawn = []
    for item, panel in await standing_items(wctx, after=wctx.occurred_at):
        await withdraw_item(wctx, item=item, panel=panel, reason=why)
        withdrawn.append(item.id)
    return withdrawn
