"""Attack pass 19 (practice fidelity, outside tester): the seeds' sentences the packs did not yet
follow, one test per rule, on real England-and-Wales dates (bank holidays, clock changes, month
ends)."""

from __future__ import annotations

from tests.workflows.support import (
    SOMERSET,
    WOKINGHAM,
    assert_step,
    case,
    codes,
    created,
    lon,
    rated,
    run,
    utc,
)
from tests.workflows.support import event as ev_

S, W = SOMERSET, WOKINGHAM
W26_REF = "Assessment of Safety and Well-being (SWB) concerns"


# --- A19-8: Wokingham W26 when the child protection plan ends -----------------------------------

def test_W26_child_protection_plan_ending_while_swb_very_high_owes_the_referral() -> None:
    """W26 (Assessment of Safety and Well-being (SWB) concerns): "VERY HIGH: Clear risks to the
    young person's safety and wellbeing have been identified, are imminent and the young person
    is unsafe. Immediate actions are needed to protect the young person, which will include (or
    have already included) a referral to statutory child protection services."

    A child on a child protection plan judged very high SWB: the plan is that referral. The plan
    ends (stepped down to child in need) on Spring Bank Holiday Monday 31 May 2027, 10:00 BST:
    the referral is owed again by the case worker, at once (09:00Z), urgent, as Somerset's S9."""
    on_plan = case(csc_status="cp", ratings=rated(swb="very_high"))
    at = lon(2027, 5, 31, 10)
    for status in ("cin", "cic", "none"):
        ev = run(W, ev_("case_changed", at, changes={"csc_status": ["cp", status]}), on_plan)
        assert_step(created(ev, "child_protection_referral"), rule="W26",
                    code="child_protection_referral", actor="case_holder",
                    due=utc(2027, 5, 31, 9), pack=W, ref=W26_REF, urgent=True)
    # Not when SWB is below very high, nor a child placed on a plan, nor a move between CIN/CIC.
    high = case(csc_status="cp", ratings=rated(swb="high"))
    assert "child_protection_referral" not in codes(
        run(W, ev_("case_changed", at, changes={"csc_status": ["cp", "cin"]}), high))
    cin = case(csc_status="cin", ratings=rated(swb="very_high"))
    for change in (["cin", "cp"], ["cin", "cic"]):
        assert "child_protection_referral" not in codes(
            run(W, ev_("case_changed", at, changes={"csc_status": change}), cin))
