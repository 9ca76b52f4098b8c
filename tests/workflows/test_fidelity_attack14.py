"""Attack pass 14 (practice fidelity): the seeds' sentences the packs did not yet follow, one test
per rule, on real England-and-Wales dates (bank holidays, clock changes, month ends)."""

from __future__ import annotations

from datetime import date
from uuid import UUID

from tests.workflows.support import (
    MARP_REVIEW,
    SOMERSET,
    WOKINGHAM,
    assert_step,
    case,
    codes,
    created,
    end_of,
    intents,
    judgement,
    lon,
    open_step,
    panel,
    rated,
    run,
    utc,
)
from tests.workflows.support import event as ev_

S, W = SOMERSET, WOKINGHAM
VICTIMS = {"victims": ["a named adult"]}

# Somerset: a high case the MARP took and booked a review for (S20).
S_REGISTERED = {"ratings": rated(rosh="high", swb="high"), "on_register": True,
                "open_steps": (MARP_REVIEW,)}
# Wokingham: a high ROSH case the High-Risk Panel booked a review for (W22).
W_REVIEW = {"ratings": rated(rosh="high", swb="low"), "on_register": True,
            "open_steps": (MARP_REVIEW,)}


# --- A14-17: a rise to very high goes back to the panel -----------------------------------------

def test_S7_rise_to_very_high_on_the_register_refers_to_the_next_marp() -> None:
    """S7 (3.2.4): "'Very High' judgements will trigger the case being dealt with as a priority at
    all stages. The case holder will refer the case to the next YJT MARP by contacting the
    appropriate administrator and completion of section 1 of the MARP referral form."

    Christmas Eve 2026 (Thursday): the next MARP sits on Tuesday 29 December (25 and 28 December
    are bank holidays), not at the review date booked when the case was high."""
    marp = panel(lon(2026, 12, 29, 14))
    later = panel(lon(2027, 3, 30, 14), ident=2)
    ev = run(S, judgement("rosh", "very_high", lon(2026, 12, 24, 10)), case(**S_REGISTERED),
             panels=[later, marp])
    step = created(ev, "refer_to_panel")
    assert_step(step, rule="S7", code="refer_to_panel", actor="case_holder",
                due=utc(2026, 12, 29, 14), pack=S, ref="3.2.4")
    assert "Very High" in step.title
    # SWB rising to very high on the register: the same, and across the clock change (Sat 24
    # October 2026 BST -> the MARP on Tuesday 27 October 14:00 GMT).
    swb = run(S, judgement("swb", "very_high", lon(2026, 10, 24, 10)), case(**S_REGISTERED),
              panels=[panel(lon(2026, 10, 27, 14))])
    assert_step(created(swb, "refer_to_panel"), rule="S7", code="refer_to_panel",
                actor="case_holder", due=utc(2026, 10, 27, 14), pack=S, ref="3.2.4")


def test_S7_very_high_re_recorded_or_already_on_the_agenda_is_not_referred_again() -> None:
    """S7 (3.2.4): the referral follows the rise to Very High; a re-record at Very High, a case
    on a MARP's agenda not yet decided, and the panel's own decision ask nothing new."""
    marp = panel(lon(2026, 12, 29, 14))
    same = dict(S_REGISTERED, ratings=rated(rosh="very_high", swb="high"))
    assert "refer_to_panel" not in codes(
        run(S, judgement("rosh", "very_high", lon(2026, 12, 24, 10)), case(**same), [marp]))
    agenda = dict(S_REGISTERED, on_panel_agenda=True)
    assert "refer_to_panel" not in codes(
        run(S, judgement("rosh", "very_high", lon(2026, 12, 24, 10)), case(**agenda), [marp]))
    decided = judgement("rosh", "very_high", lon(2026, 12, 24, 10), via_panel_decision=True)
    assert "refer_to_panel" not in codes(run(S, decided, case(**S_REGISTERED), [marp]))
    # A high (not very high) judgement on a registered case stays with the booked review.
    assert "refer_to_panel" not in codes(
        run(S, judgement("swb", "high", lon(2026, 12, 24, 10)),
            case(**dict(S_REGISTERED, ratings=rated(rosh="high", swb="medium"))), [marp]))


def test_W7_rise_to_very_high_with_a_review_booked_requests_a_panel_in_two_working_days() -> None:
    """W7 (High Risk Panel): "It will be the responsibility of the case worker or their line
    manager to request a High-Risk Panel within two working days of 1. Assessing a child as high
    or very high ROSH".

    Christmas Eve 2026 (Thursday): 25 and 28 December are bank holidays, so Tuesday 29 and
    Wednesday 30 December; Friday 23 October 2026 across the clock change: Monday 26 and Tuesday
    27 October, 23:59:59 GMT."""
    at = lon(2026, 12, 24, 10)
    ev = run(W, judgement("rosh", "very_high", at, **VICTIMS), case(**W_REVIEW))
    step = created(ev, "request_high_risk_panel")
    assert_step(step, rule="W7", code="request_high_risk_panel", actor="case_holder",
                due=end_of(date(2026, 12, 30), bst=False), pack=W, ref="High Risk Panel")
    autumn = run(W, judgement("rosh", "very_high", lon(2026, 10, 23, 16), **VICTIMS),
                 case(**W_REVIEW))
    assert_step(created(autumn, "request_high_risk_panel"), rule="W7",
                code="request_high_risk_panel", actor="case_holder",
                due=end_of(date(2026, 10, 27), bst=False), pack=W, ref="High Risk Panel")


def test_W7_very_high_re_recorded_or_panel_pending_requests_nothing_new() -> None:
    """W7 (High Risk Panel): the request follows "Assessing a child as ... very high ROSH"; a
    re-record at very high, a panel already requested or booked for the case asks nothing new."""
    at = lon(2026, 12, 24, 10)
    same = dict(W_REVIEW, ratings=rated(rosh="very_high", swb="low"))
    assert "request_high_risk_panel" not in codes(
        run(W, judgement("rosh", "very_high", at, **VICTIMS), case(**same)))
    agenda = dict(W_REVIEW, on_panel_agenda=True)
    assert "request_high_risk_panel" not in codes(
        run(W, judgement("rosh", "very_high", at, **VICTIMS), case(**agenda)))
    # A high re-record with the review booked: the review stands (unchanged behaviour).
    assert "request_high_risk_panel" not in codes(
        run(W, judgement("rosh", "high", at, **VICTIMS), case(**W_REVIEW)))


# --- A14-6 / A13-8: very high SWB, the child protection referral --------------------------------

def test_W26_very_high_swb_child_protection_referral_immediately() -> None:
    """W26 (Assessment of Safety and Well-being (SWB) concerns): "VERY HIGH: Clear risks to the
    young person's safety and wellbeing have been identified, are imminent and the young person is
    unsafe. Immediate actions are needed to protect the young person, which will include (or have
    already included) a referral to statutory child protection services".

    Due at once (late only after that working day), whatever the assessment's countersignature."""
    at = lon(2027, 4, 30, 10)  # Friday before the May Day bank holiday, BST
    ev = run(W, judgement("swb", "very_high", at))
    assert_step(created(ev, "child_protection_referral"), rule="W26",
                code="child_protection_referral", actor="case_holder",
                due=utc(2027, 4, 30, 9), pack=W,
                ref="Assessment of Safety and Well-being (SWB) concerns", urgent=True)
    # A child in need or in care is not on a child protection plan: still asked for.
    for status in ("cin", "cic"):
        other = run(W, judgement("swb", "very_high", lon(2026, 12, 24, 10)),
                    case(csc_status=status))
        assert_step(created(other, "child_protection_referral"), rule="W26",
                    code="child_protection_referral", actor="case_holder",
                    due=utc(2026, 12, 24, 10), pack=W,
                    ref="Assessment of Safety and Well-being (SWB) concerns", urgent=True)
    assert "child_protection_referral" not in codes(run(W, judgement("swb", "high", at)))


def test_W26_not_for_a_child_on_a_child_protection_plan_and_superseded_when_one_starts() -> None:
    """W26: "(or have already included) a referral to statutory child protection services": a
    child on a child protection plan has had it; a plan made while the step is open ends it."""
    at = lon(2027, 4, 30, 10)
    assert "child_protection_referral" not in codes(
        run(W, judgement("swb", "very_high", at), case(csc_status="cp")))
    step = created(run(W, judgement("swb", "very_high", at)), "child_protection_referral")
    snapshot = case(ratings=rated(swb="very_high"), open_steps=(open_step(step, UUID(int=26)),))
    to_cp = ev_("case_changed", lon(2027, 4, 30, 12), changes={"csc_status": ["none", "cp"]})
    change = run(W, to_cp, snapshot)
    assert [i.step_id for i in intents(change, "supersede", "child_protection_referral")] == [
        UUID(int=26)]
    # The panel confirming an unchanged very high SWB does not ask again.
    confirmed = judgement("swb", "very_high", at, via_panel_decision=True)
    assert "child_protection_referral" not in codes(
        run(W, confirmed, case(ratings=rated(swb="very_high"))))


def test_S9_not_for_a_child_already_on_a_child_protection_plan() -> None:
    """S9 (3.2.4): "With regard to safety and well-being, this will include (or has already
    included) a referral to statutory child protection services": a child on a child protection
    plan has had it (attack pass 13, A13-8); a child in need or in care still needs it."""
    at = lon(2026, 12, 24, 10)
    assert "child_protection_referral" not in codes(
        run(S, judgement("swb", "very_high", at, rationale="r"), case(csc_status="cp")))
    for status in ("cin", "cic", "none"):
        ev = run(S, judgement("swb", "very_high", at), case(csc_status=status))
        assert_step(created(ev, "child_protection_referral"), rule="S9",
                    code="child_protection_referral", actor="case_holder",
                    due=utc(2026, 12, 24, 10), pack=S, ref="3.2.4", urgent=True)
