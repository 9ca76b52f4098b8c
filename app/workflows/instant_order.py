"""The one order of the acts dated at one instant (attack 32a, ATTACK32A-2; fix35i,
ATTACK35A-17; docs/integrating.md §7), and what it means for the steps an act closes (fix36a,
ATTACK35B-6).

The feeds' messages come first, then the case's events and changes of its fields, then the
panels' decisions, then the plain judgements; acts of one kind in the order they were recorded
(fix36d put the feeds' messages first). A step raised by an act of that
instant ranked after the act closing it arose after it in that order, as a step raised a minute
later would: the act does not answer it, whichever was typed first. A MARP decision of 09:00
typed after the case holder's Very High ROSH of 09:00 does not do the S10 that judgement raised
(Somerset 7.1.9: in the one order the judgement came after the MARP had decided); nor does a
decision overtake a referral a plain judgement of its instant asked for. Acts outside the order
(a referral, an assessment, an agenda item, a completion by hand) keep answering any step raised
at their instant, as before. And a step an act does answers only the reasons of its instant
that came before it: the engine asks again for a reason an act ranked after it gave
(``step_completed``'s ``act_kind``, ``_Plan.carry_over``), as for a reason dated after it.
An assessment countersigned at the instant of a judgement or a panel's decision comes after
them: it completes the rating judged at its instant (Wokingham W9; fix38b, ATTACK37-5), the
countersignature typed first being replayed after the judgement
(``app.domain.replay.replay_later_acts``'s ``signed_at_since``, which also has it endorse the
judgements recorded with it: fix39a, ATTACK37-9); it comes after every ranked act of its instant,
so it stays out of :data:`SAME_INSTANT`.
A referral the service sends comes after the panels' decisions and before the judgements of its
instant (fix40c, ATTACK36-8): a form sent at a judgement's instant is on the case that judgement
finds (``referral_sent_in``: a MAPPA A form sent at a Very High's instant "has already been
done", Somerset 7.1.9, so no S10, typed in either order), and the MARP's decision it may follow
(8.3: "on the recommendation/agreement of the MARP") came first. That place is the state's
(``app.domain.policy.snapshot_inputs`` counts a referral from its ``sent_at`` on); for the steps
a referral closes it stays an unranked act, answering any step raised at its instant. A panel
referral made at a judgement's instant is not one that judgement finds (``panel_referred``
counts those made before it, by their ``made_at``): it is the referral that judgement asks for
(Somerset 3.2.3, S7; 6.2, S8's views), done by it at that instant in either typing order, as
the example pack's X8 (fix41c).

Pure (no database): the engine reads it, and so do ``app.domain.next_steps`` and
``app.domain.replay``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

SAME_INSTANT = ("feed_message", "case_event", "panel_decision", "judgement")

# The triggers whose act is a case event or a change of the case's fields (a MAPPA feed
# message at its ``received_at``): first at their instant.
_EVENT_TRIGGERS = frozenset({"case_event", "case_changed"})


def act_rank(kind: object) -> int | None:
    """The place of an act of ``kind`` (one of :data:`SAME_INSTANT`) among its instant's acts;
    None for an act the order does not rank."""
    return SAME_INSTANT.index(kind) if isinstance(kind, str) and kind in SAME_INSTANT else None


def reason_rank(reason: Mapping[str, Any]) -> int | None:
    """The place among its instant's acts of the act a step's reason names (its trigger, and
    for a judgement whether it was recorded as a panel's decision: the engine marks its
    record ``via_panel_decision``); None for an act the order does not rank."""
    trigger = reason.get("trigger")
    if trigger in _EVENT_TRIGGERS:
        # A feed's change of the case reads as an event's here: neither closes steps, so only
        # their place before the decisions and judgements matters.
        return SAME_INSTANT.index("case_event")
    if trigger == "panel_decision":
        return SAME_INSTANT.index("panel_decision")
    if trigger == "judgement_recorded":
        record = reason.get("record")
        decided = isinstance(record, Mapping) and record.get("via_panel_decision")
        return SAME_INSTANT.index("panel_decision" if decided else "judgement")
    return None


def reason_before(reason: Mapping[str, Any], rank: int | None) -> bool:
    """Whether the act a reason names, dated at the instant of an act ranked ``rank``, comes
    before (or is) that act in the instant's order: always when either is unranked."""
    own = reason_rank(reason)
    return rank is None or own is None or own <= rank
