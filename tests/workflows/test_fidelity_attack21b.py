"""Attack pass 21b (outside tester): steps raised by another service's (incoming) rating follow
the case's live ratings as steps raised by its own judgements do, in both packs; one test per
rule, on real England-and-Wales dates (bank holidays, clock changes, month ends)."""

from __future__ import annotations

from dataclasses import replace
from uuid import UUID

from app.workflows.types import OpenStep, StepIntent
from tests.workflows.support import (
    EVENT_ID,
    SOMERSET,
    WOKINGHAM,
    assert_step,
    case,
    created,
    intents,
    judgement,
    lon,
    rated,
    run,
    utc,
)
from tests.workflows.support import event as ev_

S, W = SOMERSET, WOKINGHAM


def held(intent: StepIntent, step_id: int) -> OpenStep:
    """The open step a create intent leaves, with the reasons it was created for."""
    return OpenStep(
        id=UUID(int=step_id), code=intent.code, rule_id=intent.rule_id,
        subject_id=intent.subject_id, due_at=intent.due_at,
        awaiting_panel_date=intent.awaiting_panel_date, deadline_form=intent.deadline_form,
        actor=intent.actor, reasons=intent.reasons)


def superseded(ev: object) -> list[str]:
    return sorted(i.code for i in intents(ev, "supersede"))  # type: ignore[arg-type]


# --- A21b-7: Somerset, the 4.5 review the incoming rating raised --------------------------------

def test_S11_transfer_in_review_ends_with_the_own_judgements_at_medium() -> None:
    """S11 (4.5) with S42 (13.1): "It is the responsibility of line managers to review all cases
    where there is a High or Very High ROSH and/or Safety and Well-Being rating with case holders
    at least monthly" (4.5); "it will not be assumed that other YJT's have similar risk
    management arrangements" (13.1).

    Transferred in on Friday 30 April 2027 at 15:00 BST with the home YJT's very high ROSH and
    high SWB: the monthly review runs from the transfer (Sunday 30 May, 14:00Z). Somerset's own
    ROSH judgement of medium on Tuesday 4 May 10:00 BST (after the May Day bank holiday) ends
    that request only: the SWB request still stands, so the review stays. Its own SWB judgement
    of medium at 10:05 leaves no High/Very High rating and no request: that act supersedes the
    review with the SWB request (attack 21b, A21b-7), as a Somerset high lowered to medium
    does. A high SWB instead keeps it (the rating is now Somerset's own)."""
    ev = run(S, ev_("case_event", lon(2027, 4, 30, 15), EVENT_ID, type="transfer_in",
                    incoming_ratings={"rosh": "very_high", "swb": "high"}))
    review = created(ev, "monthly_manager_review")
    assert_step(review, rule="S11", code="monthly_manager_review", actor="line_manager",
                due=utc(2027, 5, 30, 14), pack=S, ref="4.5")
    steps = (held(review, 2), held(created(ev, "record_own_judgement"), 3),
             held(created(ev, "record_own_swb_judgement"), 4))
    # The case as the transfer in left it: both incoming ratings standing from the arrival;
    # an own judgement of a domain dated after it answers that one (fix32a).
    arrived = {"incoming_at": lon(2027, 4, 30, 15)}
    rosh = run(S, judgement("rosh", "medium", lon(2027, 5, 4, 10), victims=["peer"]),
               case(open_steps=steps, incoming_ratings={"rosh": "very_high", "swb": "high"},
                    **arrived))
    assert superseded(rosh) == ["record_own_judgement"]
    left = case(ratings=rated(rosh="medium"), open_steps=(steps[0], steps[2]),
                incoming_ratings={"swb": "high"}, **arrived)
    swb = run(S, judgement("swb", "medium", lon(2027, 5, 4, 10, 5)), left)
    assert superseded(swb) == ["monthly_manager_review", "record_own_swb_judgement"]
    assert [i.step_id for i in intents(swb, "supersede", "monthly_manager_review")] == [
        UUID(int=2)]
    high = run(S, judgement("swb", "high", lon(2027, 5, 4, 10, 5)), left)
    assert superseded(high) == ["record_own_swb_judgement"]
    # Both answered in one act's order the other way round: the same.
    swb_first = run(S, judgement("swb", "low", lon(2027, 5, 4, 10)), case(
        open_steps=steps, incoming_ratings={"rosh": "very_high", "swb": "high"}, **arrived))
    assert superseded(swb_first) == ["record_own_swb_judgement"]
    rosh_last = run(S, judgement("rosh", "medium", lon(2027, 5, 4, 10, 5), victims=["peer"]),
                    replace(case(ratings=rated(swb="low"), incoming_ratings={"rosh": "very_high"},
                                 **arrived), open_steps=steps[:2]))
    assert superseded(rosh_last) == ["monthly_manager_review", "record_own_judgement"]


# --- A21b-11: Somerset, the timescale of the request for Somerset's own judgement ----------------

S42_REF = "13.1, 13.3, 2.1"


def test_S42_own_judgement_is_due_within_the_assetplus_four_weeks() -> None:
    """S42 (13.1, 13.3, 2.1): "it will not be assumed that other YJT's have similar risk
    management arrangements" (13.1) and "Where a case has a ROSH judgment and/or Safety and
    Well-Being concerns of High or Very high from another YJT, the case will be referred into
    the next available MARP" (13.3) give no timescale for Somerset's own judgement; it is the
    AssetPlus's (3.1), and "All children supervised by the YJT on statutory orders, will have an
    AssetPlus assessment completed within 4 weeks of start of YJT involvement" (2.1).

    Transferred in on Friday 30 April 2027 at 15:00 BST (very high ROSH, high SWB): both
    requests are due four weeks on, Friday 28 May 14:00Z (before the spring bank holiday), not
    urgent (attack 21b, A21b-11: they were due at once and escalated that evening). Transferred
    in on Saturday 16 October 2027 at 10:00 BST: due Saturday 13 November at 10:00 GMT, the
    wall-clock time across the end of BST. The note quotes the missing timescale and 13.3's
    Team Leader discussion for unacceptable delay."""
    ev = run(S, ev_("case_event", lon(2027, 4, 30, 15), EVENT_ID, type="transfer_in",
                    incoming_ratings={"rosh": "very_high", "swb": "high"}))
    for code in ("record_own_judgement", "record_own_swb_judgement"):
        step = created(ev, code)
        assert_step(step, rule="S42", code=code, actor="case_holder", due=utc(2027, 5, 28, 14),
                    pack=S, ref=S42_REF)
        assert step.note is not None
        assert "4 weeks" in step.note
        assert "unacceptable delay" in step.note
    autumn = run(S, ev_("case_event", lon(2027, 10, 16, 10), EVENT_ID, type="transfer_in",
                        incoming_ratings={"swb": "very_high"}))
    assert_step(created(autumn, "record_own_swb_judgement"), rule="S42",
                code="record_own_swb_judgement", actor="case_holder",
                due=utc(2027, 11, 13, 10), pack=S, ref=S42_REF)


# --- A21b-8: Somerset 13.4.3, the handover call follows the rating until the transfer ------------

def test_S26_handover_call_superseded_when_lowered_to_medium_before_the_transfer() -> None:
    """S26 (13.4.3): "Where the ROSH judgement and/or Safety and Well-Being concerns is High or
    Very high, the line manager, operational manager or YJT manager will speak to the
    appropriate manager or senior probation officer of the receiving Service prior to the
    transfer of the child or, in exceptional circumstances, as soon as possible thereafter."

    A transfer out to Dorset on Tuesday 20 July 2027 (BST) is pending; ROSH rises to high on
    Thursday 1 July: the line manager's call is due before the transfer day begins (19 July
    23:00Z). Lowered to medium on Monday 5 July (consulted, 4.3; no MARP has taken the case):
    the condition is gone and the call is superseded in that act (attack 21b, A21b-8); raised to
    very high again on Friday 9 July, it is asked for again with the same deadline. The call
    raised by the transfer out itself (the case already high) lapses the same way."""
    pending = {"transfer_pending": True, "transfer_date": "2027-07-20"}
    rise = run(S, judgement("rosh", "high", lon(2027, 7, 1, 10), victims=["peer"], **pending),
               case(ratings=rated(rosh="medium")))
    call = created(rise, "manager_handover_call")
    assert_step(call, rule="S26", code="manager_handover_call", actor="line_manager",
                due=utc(2027, 7, 19, 23), pack=S, ref="13.4.3")
    lowered = run(S, judgement("rosh", "medium", lon(2027, 7, 5, 10), victims=["peer"],
                               **pending),
                  case(ratings=rated(rosh="high"), on_register=True,
                       open_steps=(held(call, 26),)))
    assert [i.step_id for i in intents(lowered, "supersede", "manager_handover_call")] == [
        UUID(int=26)]
    again = run(S, judgement("rosh", "very_high", lon(2027, 7, 9, 10), victims=["peer"],
                             **pending), case(ratings=rated(rosh="medium")))
    assert_step(created(again, "manager_handover_call"), rule="S26",
                code="manager_handover_call", actor="line_manager", due=utc(2027, 7, 19, 23),
                pack=S, ref="13.4.3")
    out = run(S, ev_("case_event", lon(2027, 7, 1, 10), EVENT_ID, type="transfer_out",
                     transfer_date="2027-07-20", details={"to": "Dorset"}),
              case(ratings=rated(swb="high"), on_register=True))
    by_event = created(out, "manager_handover_call")
    assert_step(by_event, rule="S26", code="manager_handover_call", actor="line_manager",
                due=utc(2027, 7, 19, 23), pack=S, ref="13.4.3")
    down = run(S, judgement("swb", "medium", lon(2027, 7, 5, 10), **pending),
               case(ratings=rated(swb="high"), on_register=True,
                    open_steps=(held(by_event, 27),)))
    assert [i.step_id for i in intents(down, "supersede", "manager_handover_call")] == [
        UUID(int=27)]
    # Still high in the other domain: the call stays.
    kept = run(S, judgement("swb", "medium", lon(2027, 7, 5, 10), **pending),
               case(ratings=rated(rosh="high", swb="high"), on_register=True,
                    open_steps=(held(by_event, 27),)))
    assert not intents(kept, "supersede", "manager_handover_call")


# --- A21b-10: Wokingham's serious incident notification has no 20-day window ---------------------

def test_W24_notification_after_closure_has_no_window_wokingham_policy_does_not_state() -> None:
    """W24 (Management oversight): "Management reporting of serious incidents in line with YJB
    guidance [Serious incidents notification: standard operating procedures for YJSs]". The
    seed sets no window after the end of supervision; "up to 20 days following the end of
    supervision" is Somerset's own sentence (12), which S23 keeps.

    Closed on Friday 30 April 2027 at 17:00 BST; charged with a notifiable offence on Friday
    21 May 00:30 BST (the 21st London day after the closure) and a year later, on Sunday 28 May
    2028: Wokingham's management owes the notification each time (chair, no local timescale;
    attack 21b, A21b-10); Somerset's S23 stops after its 20 days (the 21 May charge asks
    nothing)."""
    closed = case(closed_at=utc(2027, 4, 30, 16))
    for at in (lon(2027, 5, 21, 0, 30), lon(2028, 5, 28, 10)):
        for kind in ("charged", "death"):
            ev = run(W, ev_("case_event", at, EVENT_ID, type=kind), closed)
            step = created(ev, "notify_serious_incident")
            assert_step(step, rule="W24", code="notify_serious_incident", actor="chair",
                        due=None, pack=W, ref="Management oversight")
            assert step.note is not None
            assert "YJB serious incidents notification SOP" in step.note
    none = run(W, ev_("case_event", lon(2027, 5, 21, 0, 30), EVENT_ID, type="charged",
                      offence_not_notifiable=True), closed)
    assert "notify_serious_incident" not in {i.code for i in none.intents}
    somerset = run(S, ev_("case_event", lon(2027, 5, 21, 0, 30), EVENT_ID, type="charged"),
                   closed)
    assert not {"inform_service_manager", "notify_serious_incident"} & {
        i.code for i in somerset.intents}
    inside = run(S, ev_("case_event", lon(2027, 5, 20, 23, 30), EVENT_ID, type="charged"),
                 closed)
    assert "notify_serious_incident" in {i.code for i in inside.intents}


# --- A21b-9: Wokingham, a child transferred in at high/very high ROSH ---------------------------

W29_TITLE = ("Request a High-Risk Panel (child transferred in at high/very high ROSH from "
             "another YJS)")


def test_W29_transfer_in_at_very_high_rosh_asks_for_a_high_risk_panel() -> None:
    """W29 (High Risk Panel, W7's request): "It will be the responsibility of the case worker
    or their line manager to request a High-Risk Panel within two working days of 1. Assessing a
    child as high or very high ROSH; 2. Becoming aware of a change of circumstances or new
    incident which is serious enough to warrant consideration for an increase of assessed risk
    levels to high/very high".

    A child transferred in on Monday 14 June 2027 at 10:00 BST whom the home YJS assessed very
    high ROSH: the request is due by the end of Wednesday 16 June (22:59:59Z; attack 21b,
    A21b-9). Known only on Friday 27 August at 16:00 (before the late-summer bank holiday): by
    the end of Wednesday 1 September (Monday 30 August skipped). The PYJS's own ROSH judgement
    of medium ends it (the consideration is done); its own high keeps it, as does an SWB
    judgement. Nothing for an incoming medium ROSH or very high SWB only, nor when the PYJS
    already rates ROSH high (its own W7 asked), nor while a panel is booked."""
    arrive = ev_("case_event", lon(2027, 6, 14, 10), EVENT_ID, type="transfer_in",
                 transfer_date="2027-06-14", incoming_ratings={"rosh": "very_high"})
    request = created(run(W, arrive), "request_high_risk_panel")
    assert_step(request, rule="W29", code="request_high_risk_panel", actor="case_holder",
                due=utc(2027, 6, 16, 22, 59, 59), pack=W, ref="High Risk Panel")
    assert request.title == W29_TITLE
    late = ev_("case_event", lon(2027, 6, 14, 10), EVENT_ID, type="transfer_in",
               incoming_ratings={"rosh": "high"}, known_at=lon(2027, 8, 27, 16))
    assert_step(created(run(W, late), "request_high_risk_panel"), rule="W29",
                code="request_high_risk_panel", actor="case_holder",
                due=utc(2027, 9, 1, 22, 59, 59), pack=W, ref="High Risk Panel")
    # The case as the transfer in left it (the incoming very high standing from the arrival).
    open_ = case(open_steps=(held(request, 7),), incoming_ratings={"rosh": "very_high"},
                 incoming_at=lon(2027, 6, 14, 10))
    medium = run(W, judgement("rosh", "medium", lon(2027, 6, 15, 11), victims=["peer"]), open_)
    assert not medium.violations
    assert [i.step_id for i in intents(medium, "supersede", "request_high_risk_panel")] == [
        UUID(int=7)]
    high = run(W, judgement("rosh", "high", lon(2027, 6, 15, 11), victims=["peer"]), open_)
    assert not high.violations
    assert not intents(high, "supersede", "request_high_risk_panel")
    swb = run(W, judgement("swb", "low", lon(2027, 6, 15, 11)), open_)
    assert not intents(swb, "supersede", "request_high_risk_panel")
    for incoming in ({"rosh": "medium"}, {"swb": "very_high"}):
        quiet = run(W, ev_("case_event", lon(2027, 6, 14, 10), EVENT_ID, type="transfer_in",
                           incoming_ratings=incoming))
        assert "request_high_risk_panel" not in {i.code for i in quiet.intents}
    for snapshot in (case(ratings=rated(rosh="high")), case(on_panel_agenda=True)):
        assert "request_high_risk_panel" not in {i.code for i in run(W, arrive, snapshot).intents}
    # Rated medium here already: the other YJS's very high warrants the consideration.
    assert "request_high_risk_panel" in {
        i.code for i in run(W, arrive, case(ratings=rated(rosh="medium"))).intents}
