"""Taking a case off a panel's agenda before its decision (attack pass 11, A11-16).

A closed case stayed on an undecided agenda (its decision could never be recorded: a panel does
not act on a closed case), and no route took an item off. An item is withdrawn, not deleted: it
keeps who took it off, when and why (the audit trail and the subject access export show it), and
no longer counts as the case standing on the agenda (the packs' ``case.on_panel_agenda``). The
duty its adding raised (the chair's ``record_panel_decision``, Somerset 7.1.2, about the item) ends
with the reason (superseded; missed when already late, as S48's attendance withdrawn after the
sitting: ``policy.end_need``), not reinstated by a reopening; the case's ``next-panel`` steps
follow the panels as they now stand for it (A11-13). Each withdrawal is audited
(``panel.item.withdraw``) and announced (``panel.item.withdrawn``, ids only) in the act's unit
of work, under the case's lock (which every act on the case's items takes: adding one, deciding
it, closing the case; cancelling the panel waits for them all under the service's exclusive
policy lock).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import col, select

from app.domain import policy
from app.domain.access import live_panel_referral
from app.domain.cases_table import Case
from app.domain.common import iso_utc, stored_instant
from app.domain.next_steps import reason_act
from app.domain.outbox import emit
from app.domain.panels_table import Panel, PanelItem, undecided_agenda
from app.domain.policy import stored_utc
from app.domain.steps import Step, StepStatus, append_note
from app.domain.write_context import WriteContext
from app.workflows.calendar import LONDON, london_text
from app.workflows.vocabulary import PanelKind

REASON_MAX = 500
# A reason's key naming the sitting a case was taken off after it sat, its item's answer owed
# again: an agenda of a panel sitting then or later answers it (:func:`relisting_answers_at`).
HEARD_FROM = "heard_from"
# The referral table's module imports this one's callers, so its columns are named here.
_REFERRAL = sa.table(
    "referral", sa.column("id", PanelItem.__table__.c.case_id.type),  # type: ignore[attr-defined]
    sa.column("case_id", PanelItem.__table__.c.case_id.type),  # type: ignore[attr-defined]
    sa.column("kind", sa.String()), sa.column("status", sa.String()),
    sa.column("created_at", PanelItem.__table__.c.created_at.type))  # type: ignore[attr-defined]


async def standing_items(
    wctx: WriteContext, *, after: datetime, at_too: bool = False
) -> list[tuple[PanelItem, Panel]]:
    """The case's items not decided nor withdrawn on panels whose time is after ``after``
    (panels not yet sat when the act happened; ``at_too``: or sitting at that instant, as a
    panel at a closure's instant sits on the closed case, A25-2), soonest panel first."""
    sits = col(Panel.scheduled_for) >= after if at_too else col(Panel.scheduled_for) > after
    rows = await wctx.session.exec(
        select(PanelItem, Panel).join(Panel, col(Panel.id) == col(PanelItem.panel_id))
        .where(PanelItem.case_id == wctx.case.id, col(PanelItem.decided_at).is_(None),
               col(PanelItem.withdrawn_at).is_(None), sits)
        .order_by(col(Panel.scheduled_for), col(PanelItem.id))
        .execution_options(populate_existing=True))
    return [(item, panel) for item, panel in rows.all()]


async def withdraw_item(
    wctx: WriteContext, *, item: PanelItem, panel: Panel, reason: str, redate: bool = True,
    by_keepers: bool = False,
) -> list[Step]:
    """Take ``item`` off ``panel``'s agenda at ``wctx.occurred_at`` for ``reason``; the need
    for the steps about it ends (:func:`~app.domain.policy.end_need`: superseded, or missed
    when already late). With ``redate``, the case's ``next-panel`` steps are
    then due at the panel they now wait for (none at a closure: every step is superseded).
    ``by_keepers``: the panel's keepers took it off (POST .../withdraw), so the case is not
    heard at that sitting: its ``next-panel`` steps take the next sitting of the kind, or wait
    for one, as when the sitting is cancelled (``left_panel_ids``; ATTACK36-3)."""
    session = wctx.session
    lowest = (await session.exec(select(sa.func.min(col(PanelItem.duplicate_rank))).where(
        PanelItem.panel_id == item.panel_id, PanelItem.case_id == item.case_id))).one()
    item.withdrawn_at, item.withdrawn_by = wctx.occurred_at, wctx.principal.sub
    item.withdrawal_reason = reason[:REASON_MAX]
    item.withdrawn_by_keepers = by_keepers
    # Below every rank of the case on this panel: the unique (panel, case, rank) index of
    # migration 0020 lets the case come back onto the agenda as a new item of rank 0.
    item.duplicate_rank = min(lowest or 0, 0) - 1
    session.add(item)
    day = london_text(panel.scheduled_for.astimezone(LONDON).date())
    why = f"the case was withdrawn from the agenda of the {wctx.pack.panel(panel.kind).title} " \
          f"of {day} " \
          f"(item {item.id}): {item.withdrawal_reason}"
    ended = list((await session.exec(select(Step).where(
        Step.case_id == item.case_id, Step.status == StepStatus.open,
        Step.subject_id == item.id))).all())
    for step in ended:
        # The need for them ended with the item (fix36e): one already late then (the MARP
        # sat days ago and nobody recorded the case as heard: S48's attendance) was missed,
        # one not yet due is superseded, as every other end of a step's need.
        policy.end_need(session, step, at=wctx.occurred_at, why=why)
        step.satisfied_by_type, step.satisfied_by_id = "panel_item", item.id
        session.add(step)
    await session.flush()
    await policy.record_superseded(wctx, ended, reason=why, change=policy.step_change)
    await wctx.audit("panel.item.withdraw", entity_type="panel_item", entity_id=item.id,
                     reason=item.withdrawal_reason,
                     change={"panel_id": str(panel.id), "case_id": str(item.case_id),
                             "at": iso_utc(wctx.occurred_at),
                             "reason": item.withdrawal_reason,
                             "steps": [str(s.id) for s in ended]})
    # Ids only, as every webhook: the reason is free text and stays in the audit.
    await emit(session, "panel.item.withdrawn", item.id, service_id=wctx.service.id,
               payload={"case_id": str(item.case_id), "panel_id": str(panel.id),
                        "item_id": str(item.id), "occurred_at": iso_utc(wctx.occurred_at)})
    if redate and not await undecided_agenda(session, item.case_id) \
            and await has_panel_route(wctx) and not await _panel_held_for_the_request(wctx):
        # Taken off undecided, the case was not heard: what its adding answered (Somerset
        # 3.2.3's referral to the next MARP, S7, not waivable) is owed again, due at the panel
        # it now waits for, as a withdrawn referral's is (attack passes 16 and 17, A16-19,
        # A17-2). Not while the case stands on another agenda (moved to a later panel: going
        # there answers it), nor while the panel the request asked for is still owed (Wokingham
        # W8: the request, W7, was made; fix41f, ATTACK40-10).
        back = await policy.reopen_done_by(
            wctx, act=("panel_item", item.id),
            note=f"Re-opened: {why}; the panel did not hear the case.")
        back += await _standing_referral_owed_again(wctx, item=item, why=why)
        await policy.redate_returning_next_panel_steps(
            wctx, steps=back, why="the agenda item that answered it was withdrawn")
        await _after_the_sitting_left(wctx, steps=back, panel=panel, why=why)
        _unheard_at(wctx, steps=back, panel=panel)
    if redate:
        await policy.run(wctx, event=wctx.event(
            "panel_scheduled", {"panel_id": str(panel.id), "kind": panel.kind,
                                "change": "withdrawn"}, subject_id=panel.id))
    return ended


async def _standing_referral_owed_again(
    wctx: WriteContext, *, item: PanelItem, why: str
) -> list[Step]:
    """A case taken off an agenda undecided whose submitted panel referral still stands owes
    the referral to the next panel again (attack pass 17, A17-2, the referral half: it owed
    nothing until someone listed it again). Somerset 3.2.3: "The case holder will refer the
    case to the next YJT MARP by contacting the appropriate administrator and completion of
    section 1 of the MARP referral form": the referral answered S7 for the panel that did not
    hear the case; the step that referral did (the pack's panel referral kind's ``closes``)
    is owed again, due at the panel the case now waits for, and the next agenda answers it.
    Not for a referral withdrawn, declined or heard (its own acts reopen or end it); the
    caller asks nothing again while the panel is owed (:func:`_panel_held_for_the_request`)."""
    session = wctx.session
    conn = await session.connection()
    live = live_panel_referral(_REFERRAL.c.status)
    query = sa.select(_REFERRAL.c.id).where(
        _REFERRAL.c.case_id == wctx.case.id, _REFERRAL.c.kind == "panel", live)
    # The item's own referral first, else the case's latest one standing.
    own = sa.case((_REFERRAL.c.id == item.referral_id, 0), else_=1) \
        if item.referral_id is not None else sa.literal(1)
    found = (await conn.execute(query.order_by(own, _REFERRAL.c.created_at.desc())
                                .limit(1))).first()
    kinds = [k for k in wctx.pack.referral_kinds if k.id == "panel"]
    if found is None or not kinds:
        return []
    referral_id = found[0]
    return await policy.reopen_done_by(
        wctx, act=("referral", referral_id), codes=kinds[0].closes,
        note=(f"Re-opened: {why}; the panel did not hear the case. Its referral "
              f"{referral_id} stands: bring it to the next panel (the administrator lists "
              "it; putting the case on the agenda answers this)."))


async def _panel_held_for_the_request(wctx: WriteContext) -> bool:
    """Whether the case owes a step only the panel's decision does (the pack's ``[closures]
    panel_decision_then``: Wokingham W8, "Upon a request for a High-Risk Panel meeting, the
    Team Manager will schedule an ad-hoc meeting"; W19's monthly review). Then a case taken
    off an agenda undecided is owed nothing again by its case worker: the request (W7, which
    the listing answered, or a submitted panel referral) was made and the hold stays owed to
    the chair until the panel decides (README "Not in Wokingham"; fix41f, ATTACK40-10: W7 came
    back with its first deadline, two working days from the judgement, overdue from its
    creation)."""
    owed = wctx.pack.closes("panel_decision_then")
    if not owed:
        return False
    found = await wctx.session.exec(select(Step.id).where(
        Step.case_id == wctx.case.id, Step.status == StepStatus.open,
        col(Step.code).in_(owed)).limit(1))
    return found.first() is not None


async def _after_the_sitting_left(
    wctx: WriteContext, *, steps: list[Step], panel: Panel, why: str
) -> None:
    """A case taken off the agenda of a panel that has sat (withdrawn undecided at or after
    the sitting: deferred) owes what the item answered at the next panel of the kind after
    that sitting, not at it: the step was answered in time and the panel did not hear the
    case, so no lateness is erased (attack pass 17, A17-19: the referral came back due at the
    sitting, overdue at once). None booked after it: the step waits for a date. Each re-date
    audited (``step.redate``) with the withdrawal's ``why`` (ATTACK36-3: it said "deferred at
    its sitting" whatever the act was)."""
    sat = stored_utc(panel.scheduled_for)
    if sat > wctx.occurred_at:
        return
    later = (await wctx.session.exec(select(sa.func.min(col(Panel.scheduled_for))).where(
        Panel.service_id == wctx.service.id, Panel.kind == panel.kind,
        col(Panel.scheduled_for) > panel.scheduled_for))).one()
    for step in steps:
        if step.status != StepStatus.open or step.deadline_form != policy.NEXT_PANEL \
                or step.due_at is None or stored_utc(step.due_at) > sat:
            continue
        # Counted from the sitting from now on (its reasons' act time: the one a later panel
        # booked, moved or cancelled re-dates it from; the first act's time kept beside it).
        after = iso_utc(sat + timedelta(seconds=1))
        step.reasons = [{**r, "first_at": r.get("at"), "at": after,
                         **({"counted_from": after} if "counted_from" in r else {})}
                        for r in step.reasons or ()]
        step.due_at = stored_utc(later) if later is not None else None
        step.awaiting_panel_date = later is None
        step.overdue_at = policy.step_overdue_at(wctx.pack, step.code, step.due_at, step.urgent,
                                                 wctx.policy.calendar)
        step.note = append_note(step.note, "Due at the next panel after the sitting the "
                                           "case was withdrawn from undecided.")
        wctx.session.add(step)
        await wctx.audit("step.redate", entity_type="step", entity_id=step.id,
                         reason=f"{why}, after it sat",
                         change={"code": step.code, "rule": step.rule_id,
                                 "due_at": iso_utc(step.due_at) if step.due_at else None})
    # Its new due day decides again who it is with (a stand-in: A30a-3).
    await policy.resettle_steps(wctx, steps=steps, why=f"{why}, after it sat")
    await wctx.session.flush()


def _unheard_at(wctx: WriteContext, *, steps: list[Step], panel: Panel) -> None:
    """A case taken off the agenda of a panel that has sat (withdrawn at or after the sitting:
    deferred) owes again what its item answered because it was not heard at that sitting: the
    case listed again on an agenda of a panel sitting then or later answers it, that sitting's
    own agenda included (the keepers put it back: the item is on the agenda from the sitting),
    whenever the listing is recorded (:func:`relisting_answers_at`). Each reason of the steps
    owed again says from which sitting (:data:`HEARD_FROM`; ATTACK40-1: put back on the agenda
    it was deferred from, the case still owed the referral to the next MARP, overdue, after
    that MARP had decided it)."""
    sat = stored_utc(panel.scheduled_for)
    if sat > wctx.occurred_at:
        return
    for step in steps:
        if step.status != StepStatus.open:
            continue
        step.reasons = [{**r, HEARD_FROM: iso_utc(sat)} for r in step.reasons or ()]
        wctx.session.add(step)


def relisting_answers_at(step: Step, *, sits: datetime, heard: datetime) -> datetime | None:
    """When the case put on the agenda of a panel sitting at ``sits`` (its act's time
    ``heard``: the sitting, for a sitting recorded late) answers ``step``, owed again because
    the case was taken off a sitting at or before ``sits`` after it sat (:func:`_unheard_at`):
    at the act, or at the latest act asking for it again (the withdrawal, recorded before the
    listing: the step is not done before it was owed again). None when no reason of the step
    is owed again so (its other reasons answer as for any act: ``next_steps.act_answers``)."""
    asked = []
    for reason in step.reasons or ():
        since = stored_instant(reason.get(HEARD_FROM))
        if since is not None and since <= sits:
            asked.append(reason_act(reason) or heard)
    return max([heard, *asked]) if asked else None


async def has_panel_route(wctx: WriteContext) -> bool:
    """Whether the case may stand on a panel's agenda: on the register, a panel referral
    made and neither withdrawn nor declined, or owed a panel that only the panel's decision
    gives (an open step of the pack's ``[closures] panel_decision_then``: Wokingham W19's
    monthly MAPPA level 1 review), as putting it there requires
    (``panels._require_panel_route``)."""
    if wctx.case.on_register:
        return True
    conn = await wctx.session.connection()
    live = await conn.execute(sa.select(_REFERRAL.c.case_id).where(
        _REFERRAL.c.case_id == wctx.case.id, _REFERRAL.c.kind == "panel",
        live_panel_referral(_REFERRAL.c.status)).limit(1))
    if live.first() is not None:
        return True
    owed = wctx.pack.closes("panel_decision_then")
    if not owed:
        return False
    step = await wctx.session.exec(select(Step.id).where(
        Step.case_id == wctx.case.id, Step.status == StepStatus.open,
        col(Step.code).in_(owed)).limit(1))
    return step.first() is not None


async def withdraw_unowed(
    wctx: WriteContext, *, superseded: Sequence[Step]
) -> list[uuid.UUID]:
    """After an act that superseded a step owing the case a panel (``panel_decision_then``:
    Wokingham W19's monthly review of a MAPPA level 1 child, ended when the MAPPA category
    and level are cleared), the case leaves the agendas of panels not yet sat unless
    something else still brings it there (:func:`withdraw_unneeded`; attack pass 15, A15-6:
    the case stayed on the High-Risk Panel's agenda it no longer owed). The ids withdrawn."""
    owed = wctx.pack.closes("panel_decision_then")
    ended = sorted({step.code for step in superseded if step.code in owed})
    if not ended:
        return []
    return await withdraw_unneeded(
        wctx, why=f"the case no longer owes the panel ({', '.join(ended)} ended)")


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


def may_not_chair(kind: PanelKind, item: PanelItem, case: Case | None) -> dict[str, str]:
    """Who may not record the decision on this agenda item, each with the problem slug of
    their refusal (403), in the order they are refused: its presenter unless the pack's panel
    kind lets a presenter chair (``presenter_may_chair``; ``presenter-cannot-chair``, Somerset
    7.1.5 "Where a line-manager attends the MARP on a case holder's behalf, they will not chair
    the panel"), then the case's holder (``case-holder-cannot-chair``: a decision may lower a
    registered rating, which the holder alone may not do, Somerset 4.3, 7.2.1; A12-3).
    ``case`` None: the presenter alone (checked before the case's lock). The one rule behind
    the chair's duty at the item's adding, when its presenter or the case's holder changes,
    and the refusals of its decision."""
    barred: dict[str, str] = {}
    if item.presenter_id and not kind.presenter_may_chair:
        barred[item.presenter_id] = "presenter-cannot-chair"
    if case is not None:
        barred.setdefault(case.case_holder_id, "case-holder-cannot-chair")
    return barred


async def follow_holders(
    wctx: WriteContext, *, moves: Mapping[str, tuple[str, str]],
    shut_out: Callable[[str], bool] | None = None,
) -> list[PanelItem]:
    """After the case's holders changed (``moves``: actor -> (old, new)) or its restriction
    did (``shut_out``), its undecided agenda items follow (attack pass 15, A15-11). Somerset
    7.1.1 "The case holder will attend MARP to discuss the case. If not available, the line
    manager will present the case": a presenter who was the case's holder (or its line
    manager) is now the new one; a presenter named otherwise stays, unless the restriction
    shuts them out, when the case holder presents. Who presented at a panel that had sat by
    the change's act time (its decision not yet typed up) is a fact of that sitting: a change
    of holders leaves it (attack pass 30, A30a-10). The chair's duty to record each item's
    decision is named again (:func:`may_not_chair`: the new holder or presenter may be the
    chair). Each change audited (``panel.item.presenter``, ``step.reassign``). The items moved."""
    session, case = wctx.session, wctx.case
    rows = await session.exec(
        select(PanelItem, Panel).join(Panel, col(Panel.id) == col(PanelItem.panel_id))
        .where(PanelItem.case_id == case.id, col(PanelItem.decided_at).is_(None),
               col(PanelItem.withdrawn_at).is_(None)))
    moved = []
    for item, panel in rows.all():
        old, new = item.presenter_id, item.presenter_id
        sat = stored_utc(panel.scheduled_for) <= wctx.occurred_at
        for actor in ("case_holder", "line_manager"):
            if not sat and actor in moves and old == moves[actor][0]:
                new, why = moves[actor][1], f"the case's {actor} changed from {old}"
        if new == old and shut_out is not None and shut_out(old):
            new, why = case.case_holder_id, "the case's restriction shuts the presenter out"
        if new != old:
            item.presenter_id = new
            session.add(item)
            moved.append(item)
            await wctx.audit("panel.item.presenter", entity_type="panel_item",
                             entity_id=item.id, reason=why,
                             change={"panel_id": str(panel.id),
                                     "presenter_id": {"from": old, "to": new}})
        await _rename_chair_duty(wctx, item=item, panel=panel)
    await session.flush()
    return moved


async def _rename_chair_duty(wctx: WriteContext, *, item: PanelItem, panel: Panel) -> None:
    """The chair's open steps about the item name the panel's chair, or no one (any chair)
    when the chair may not record this item's decision (:func:`may_not_chair`)."""
    barred = may_not_chair(wctx.pack.panel(panel.kind), item, wctx.case)
    want = None if panel.chair_id in barred else panel.chair_id
    steps = await wctx.session.exec(select(Step).where(
        Step.case_id == wctx.case.id, Step.status == StepStatus.open,
        Step.subject_id == item.id, Step.actor == "chair"))
    moved: list[Step] = []
    for step in steps.all():
        if step.assignee_id == want:
            continue
        moved.append(step)
        was, step.assignee_id = step.assignee_id, want
        why = (f"{panel.chair_id} may not chair this item's decision ({barred[panel.chair_id]})"
               if want is None else f"{want} chairs this item's decision")
        step.note = append_note(step.note, f"Reassigned: {why}")
        wctx.session.add(step)
        await wctx.audit("step.reassign", entity_type="step", entity_id=step.id, reason=why,
                         change={"code": step.code, "actor": "chair",
                                 "assignee_id": {"from": was, "to": want}})
    if moved:  # their escalations name the chair now (ATTACK35A-15)
        await wctx.session.flush()
        await policy.renote_moved(wctx, moved, "the item's chair changed")
