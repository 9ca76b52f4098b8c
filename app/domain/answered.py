"""Steps a write raised that acts already on file, dated after them, answer (attack pass 15,
A15-4): the open steps after any order of arrival are the open steps of time order.

A judgement, an event or a panel decision dated before acts already recorded raises what its
date owes (and :mod:`app.domain.replay` asks again what the later judgements and events owe).
In time order those steps arose first, and a later act that closes them closed them then: the
MARF sent after a very high SWB judgement is W9's referral and W26's "referral to statutory
child protection services" (Wokingham), the child protection referral is Somerset S9's (3.2.4),
a MARP referral carrying the views is S7's and S8's (3.2.3, 6.2), a panel's decision overtakes
the request for it or holds the panel asked for. Typed in after those acts, the steps were
left open, overdue at birth. So each step the write created is closed by the first such act
on file that the pack in force at the act says closes its code, dated no earlier than the step
arose and its reasons (:func:`~app.domain.next_steps.act_answers`): at the act's time, credited
to whoever did it, ``satisfied_by`` it, as recording in time order would have closed it.
Assessment submissions and countersignatures are :func:`~app.domain.assessments.answer_from_file`.
A referral withdrawn or declined since answers what arose before the move that made it, at
that move, and its withdrawal (or decline) owes it again at once, as in time order its
withdrawal re-opened what it closed (fix42d, ATTACK41-2: Somerset S7/S8, a High dated before
the MARP referral was submitted, typed in after its withdrawal); a panel item taken off the
agenda does not answer.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import datetime
from typing import NamedTuple

from sqlmodel import col, select

from app.domain import policy
from app.domain.assessments import answer_from_file
from app.domain.next_steps import act_answers, close_step
from app.domain.panels_table import Panel, PanelItem
from app.domain.policy import stored_utc
from app.domain.referrals import (
    Referral,
    ReferralStatus,
    has_panel_views,
    reopen_steps_satisfied_by,
)
from app.domain.steps import Step, StepStatus
from app.domain.write_context import WriteContext
from app.workflows.calendar import london_text
from app.workflows.packs import Pack

# A referral in these states no longer answers what it closed (its withdrawal or decline
# re-opened it: app.domain.referrals.reopen_steps_satisfied_by).
_UNDONE = frozenset({ReferralStatus.withdrawn, ReferralStatus.declined})


class FiledAct(NamedTuple):
    """An act on file that closes steps: when, what kind of record, which, who did it, how
    the step closes, and the note it is closed with."""

    at: datetime
    kind: str
    record_id: uuid.UUID
    by: str | None
    status: StepStatus
    note: str
    # Its kind in the one order of an instant (app.workflows.instant_order; None: unranked).
    order: str | None = None
    # An agenda item's adding: when its panel decided the case (None: undecided). The agenda
    # answers only what was asked before that decision (fix37a, ATTACK36-2).
    decided: datetime | None = None
    # A referral withdrawn or declined since: when, and by which action (its withdrawal
    # re-opens what it closed: app.domain.referrals.reopen_steps_satisfied_by).
    ended: tuple[datetime, str] | None = None


def _referral_closes(pack: Pack, referral: Referral, action: str) -> tuple[str, ...]:
    """The codes a referral's move closes under ``pack`` (as its transition closes them)."""
    if action == "quality-assure":
        return pack.closes("referral_quality_assure")
    kind = pack.referral_kind(referral.kind)
    if action != kind.made_by:
        return ()
    views = pack.closes("referral_views") if kind.to_panel and has_panel_views(referral) else ()
    return kind.closes + views


def _closable(pack: Pack) -> frozenset[str]:
    """Every code a referral or a panel act closes under ``pack`` (no query for the rest)."""
    codes = {c for kind in pack.referral_kinds for c in kind.closes}
    for name in ("referral_quality_assure", "referral_views", "panel_item_added",
                 "panel_decision_overtakes", "panel_decision_misses", "panel_decision_then",
                 "panel_decision", "panel_decision_mappa"):
        codes.update(pack.closes(name))
    return frozenset(codes)


async def _referral_acts(wctx: WriteContext, codes: frozenset[str]) -> list[tuple[FiledAct,
                                                                                 tuple[str, ...]]]:
    """The case's referral moves that close any of ``codes`` (pack in force at each move)."""
    rows = (await wctx.session.exec(select(Referral).where(
        Referral.case_id == wctx.case.id))).all()
    acts = []
    for referral in rows:
        ended = None
        if referral.status in _UNDONE:
            if referral.ended_at is None:
                continue  # ended before its end was kept: answers nothing (as before)
            ended = (stored_utc(referral.ended_at),
                     "withdraw" if referral.status == ReferralStatus.withdrawn else "decline")
        for entry in referral.history or ():
            if not entry.get("at"):
                continue
            at = datetime.fromisoformat(str(entry["at"]))
            if ended is not None and stored_utc(at) >= ended[0]:
                continue
            closes = _referral_closes(wctx.policy.pack_for(wctx.service, at=at), referral,
                                      str(entry.get("action")))
            if set(closes) & codes:
                acts.append((FiledAct(
                    at, "referral", referral.id, entry.get("by"), StepStatus.done,
                    f"Satisfied by {referral.kind} referral {referral.id} ({entry['action']} "
                    f"at {london_text(at)}, recorded before the act that asks for it)",
                    ended=ended), closes))
    return acts


async def _panel_acts(wctx: WriteContext, codes: frozenset[str], besides: uuid.UUID | None
                      ) -> list[tuple[FiledAct, tuple[str, ...]]]:
    """The case's panel items still on an agenda (put there), and their decisions (dated at
    the sitting), that close any of ``codes``."""
    rows = (await wctx.session.exec(
        select(PanelItem, Panel.kind, Panel.scheduled_for)
        .join(Panel, col(Panel.id) == col(PanelItem.panel_id))
        .where(PanelItem.case_id == wctx.case.id, col(PanelItem.withdrawn_at).is_(None)))).all()
    acts = []
    for item, kind, sitting in rows:
        if item.id == besides:
            continue
        # Put on the agenda when it was recorded, and in any case before the panel sat (an
        # item recorded after its sitting, with the decision, was on the agenda by then).
        added = min(stored_utc(item.created_at), stored_utc(sitting))
        pack = wctx.policy.pack_for(wctx.service, at=added)
        if set(pack.closes("panel_item_added")) & codes:
            acts.append((FiledAct(added, "panel_item", item.id, None, StepStatus.done,
                                  "The case was put on the agenda of the "
                                  f"{pack.panel(kind).title} (item "
                                  f"{item.id}), recorded before the act that asks for it",
                                  decided=None if item.decided_at is None
                                  else stored_utc(item.decided_at)),
                         pack.closes("panel_item_added")))
        if item.decided_at is None:
            continue
        decided = stored_utc(item.decided_at)
        pack = wctx.policy.pack_for(wctx.service, at=decided)
        name = pack.panel(kind).title
        # The decision on the case itself (Somerset 7.1.9's S10, the MARP's decision on a Very
        # High; the chair's record of it), and the MAPPA level it set: what a decision does
        # when it is recorded after the step arose does the step a back-dated act raises
        # (fix37a: a Very High dated a minute before the MARP's decision on file left S10
        # open, owed to the next MARP).
        mappa = pack.closes("panel_decision_mappa") \
            if (item.decision or {}).get("mappa_level") is not None else ()
        for closes, status, what in (
                (pack.closes("panel_decision") + mappa, StepStatus.done,
                 f"Satisfied by the {name} decision on item {item.id}"),
                (pack.closes("panel_decision_overtakes"), StepStatus.superseded,
                 f"overtaken: the {name} discussed the case (item {item.id})"),
                (pack.closes("panel_decision_misses"), StepStatus.missed,
                 f"the {name} sat on the case before it was done (item {item.id})"),
                (pack.closes("panel_decision_then"), StepStatus.done,
                 f"Satisfied by the {name} decision on item {item.id}")):
            if set(closes) & codes:
                acts.append((FiledAct(decided, "panel_item", item.id, item.decided_by, status,
                                      f"{what}, recorded before the act that asks for it",
                                      "panel_decision"), closes))
    return acts


def _answers(wctx: WriteContext, step: Step, act: FiledAct, closes: tuple[str, ...]) -> bool:
    """Whether the filed act, in time order, closed the step: it closes its code and is dated
    no earlier than the step arose and its reasons (at its instant, not after an act the one
    order of an instant puts after it: a panel's decision does not overtake what a plain
    judgement of its instant asks; fix36a)."""
    if step.code not in closes or act.at < stored_utc(step.raised_at or step.created_at):
        return False
    pack = wctx.policy.pack_for(wctx.service, at=act.at)
    if act.decided is not None and not act_answers(pack, step, act.decided,
                                                   kind="panel_decision"):
        # An agenda whose panel had decided the case when the step was asked: it has heard
        # the case, and a step asked after its decision (Somerset 3.2.4's "refer the case to
        # the next YJT MARP" for a Very High dated at the decision) is for the next panel
        # (fix37a, ATTACK36-2: the decided agenda item did it at its creation).
        return False
    return act_answers(pack, step, act.at, kind=act.order)


async def answer_from_record(
    wctx: WriteContext, *, result: policy.PolicyResult, besides: uuid.UUID | None = None
) -> policy.PolicyResult:
    """Close the steps this write created that an act already on file and dated after them
    answers (assessments: :func:`answer_from_file`; referrals made, panel items and
    decisions: here), each at the act's time, as time order would have (A15-4); those a
    change of the case's fields dated after them ended are superseded
    (:func:`~app.domain.policy.lapsed_since`, A15-9). ``besides``:
    the record whose act this write is (what it raises is not answered by itself). Those a
    referral sent after them ended (``referral_sent_in``: Somerset S10 and the MAPPA A form)
    are superseded at the send's time (:func:`~app.domain.policy.lapsed_by_later_sends`,
    fix40c)."""
    result = await policy.lapsed_since(wctx, result=result)
    result = await policy.lapsed_by_later_sends(wctx, result=result)
    result = await answer_from_file(wctx, result=result, besides=besides)
    closable = _closable(wctx.pack)
    # Those a later event ended at birth (a death dated after this act, typed in before it)
    # too: in time order an act on file dated before that event did them (fix43c).
    created = [s for s in result.created if s.code in closable and (
        s.status == StepStatus.open or s.satisfied_by_type == "event")]
    if not created:
        return result  # no query for a write that raised nothing such an act does
    codes = frozenset(s.code for s in created)
    with wctx.session.no_autoflush:  # nothing pending is a referral or a panel item
        acts = await _referral_acts(wctx, codes) + await _panel_acts(wctx, codes, besides)
    acts.sort(key=lambda a: (a[0].at, str(a[0].record_id)))
    for step in created:
        found = next((act for act, closes in acts if _answers(wctx, step, act, closes)), None)
        if found is None:
            continue
        if step.status != StepStatus.open:
            if await policy.ended_by_later_event(wctx.session, wctx.pack, step,
                                                 found.at) is None:
                continue
            policy.undo_later_end(wctx.session, step, found.at)
        closed = await close_step(
            replace(wctx, occurred_at=found.at), step=step, note=found.note,
            status=found.status, satisfied_by=(found.kind, found.record_id),
            credited_to=found.by, kind=found.order)
        result = result.merge(closed)
        if found.ended is not None and step.status == StepStatus.done:
            # Withdrawn (or declined) since: owed again from then, as its withdrawal did.
            referral = await wctx.session.get(Referral, found.record_id)
            if referral is not None:
                again = await reopen_steps_satisfied_by(
                    replace(wctx, occurred_at=found.ended[0]), referral, found.ended[1],
                    ids=[step.id])
                if again:
                    result = result.merge(policy.PolicyResult(created=again)).merge(
                        await policy.current(wctx.session, wctx.case))
    return result
