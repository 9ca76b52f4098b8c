"""Attack pass 7 (F1-F3), engine level: what a completed step answers, what a back-dated act
may do to a recurring review, and Wokingham's three-monthly review for high-risk children.

F1: a case-wide step (one duty per case: S14's and W6's ``review_assessment``) gathers the
reasons of later events; done at T, it answers only the acts up to T. The reasons whose act
came after T stay owed: asked for again at their own deadlines.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime
from typing import Any
from uuid import UUID

from app.workflows.deadlines import is_deadline_note
from app.workflows.types import CaseSnapshot, Evaluation, OpenStep, StepIntent
from tests.workflows.support import (
    MARP_REVIEW,
    SOMERSET,
    WOKINGHAM,
    assert_step,
    case,
    codes,
    created,
    event,
    intents,
    judgement,
    open_step,
    panel,
    rated,
    run,
    utc,
)

S, W = SOMERSET, WOKINGHAM
STEP = UUID(int=41)


def held(intent: StepIntent, step_id: UUID = STEP) -> OpenStep:
    """The open step a create intent makes, with its reasons."""
    return replace(open_step(intent, step_id), reasons=intent.reasons)


def on(step: OpenStep, snap: CaseSnapshot) -> CaseSnapshot:
    """The case with this step open."""
    return replace(snap, open_steps=(step,))


def completed(step: OpenStep, at: datetime, role: str = "case_holder",
              status: str = "done") -> Any:
    """The ``step_completed`` event the service sends when a step is closed at ``at``."""
    return event("step_completed", at, role=role, code=step.code, rule_id=step.rule_id,
                 step_id=str(step.id), record_id=str(step.id), due_at=step.due_at,
                 completed_by_role=role, actor=step.actor,
                 reasons=[dict(r) for r in step.reasons], status=status)


def only(ev: Evaluation, action: str, code: str) -> StepIntent:
    """The one intent of this action for this code."""
    found = intents(ev, action, code)
    assert len(found) == 1, ev.intents
    return found[0]


def gather(pack: str, snap: CaseSnapshot, kind: str, *events: tuple[UUID, datetime],
           ) -> OpenStep:
    """The case-wide ``review_assessment`` as the engine builds it from case events, in the
    order recorded: the first creates it, each later one adds its reason (and a sooner date)."""
    (first_id, first_at), *rest = events
    step = held(created(run(pack, event("case_event", first_at, first_id, type=kind), snap),
                        "review_assessment"))
    for ident, at in rest:
        ev = run(pack, event("case_event", at, ident, type=kind), on(step, snap))
        assert intents(ev, "create", "review_assessment") == []
        [kept] = [i for i in ev.intents if i.code == "review_assessment"]
        step = replace(step, reasons=(*step.reasons, *kept.reasons),
                       due_at=kept.due_at if kept.action == "update_due" else step.due_at)
    return step


MEDIUM = case(ratings=rated(rosh="medium"))
E24, E31, E25M, E27M = UUID(int=1224), UUID(int=1231), UUID(int=325), UUID(int=327)


def test_S14_review_done_before_a_later_change_leaves_that_change_owed() -> None:
    """S14 (4.2): "Case holders will review AssetPlus as soon as possible (within 24 hrs/next
    working day) to evidence when changes of circumstance have occurred requiring the
    implementation of the specified contingency plan." policy-rules: the subject of a step
    raised by an event is that event. A review done on Tuesday 29 December 2026 cannot evidence
    the change of Thursday 31 December, nor those of March 2027: they stay owed, the soonest
    due the next working day after 31 December (Friday 1 January is a bank holiday: Monday 4
    January), about that event; a second review on 4 January leaves the March changes owed,
    due Tuesday 30 March (Good Friday and Easter Monday between; BST from 28 March)."""
    step = gather(S, MEDIUM, "change_of_circumstances",
                  (E24, utc(2026, 12, 24, 15)), (E31, utc(2026, 12, 31, 12)),
                  (E25M, utc(2027, 3, 25, 12)), (E27M, utc(2027, 3, 27, 23, 30)))
    # Thursday 24 December -> Tuesday 29 December (Christmas Day, Boxing Day on Monday 28th).
    assert step.due_at == utc(2026, 12, 29, 23, 59, 59)
    ev = run(S, completed(step, utc(2026, 12, 29, 12)), MEDIUM)
    again = only(ev, "create", "review_assessment")
    assert_step(again, rule="S14", code="review_assessment", actor="case_holder",
                due=utc(2027, 1, 4, 23, 59, 59), pack=S, ref="4.2")
    assert again.subject_id == E31
    assert [r["record"]["id"] for r in again.reasons] == [str(E31), str(E25M), str(E27M)]
    assert "Still owed" in (again.note or "")
    # The 4 January review answers 31 December; March is still owed.
    second = held(again, UUID(int=42))
    ev = run(S, completed(second, utc(2027, 1, 4, 10)), MEDIUM)
    march = only(ev, "create", "review_assessment")
    assert_step(march, rule="S14", code="review_assessment", actor="case_holder",
                due=utc(2027, 3, 30, 22, 59, 59), pack=S, ref="4.2")
    assert march.subject_id == E25M
    # Reviewed on 31 March: every change is answered.
    assert "review_assessment" not in codes(run(S, completed(held(march, UUID(int=43)),
                                                             utc(2027, 3, 31, 9)), MEDIUM))


def test_S14_review_after_every_change_answers_them_all_and_a_waiver_carries_nothing() -> None:
    """S14 (4.2): "review AssetPlus as soon as possible ... to evidence when changes of
    circumstance have occurred": one review after both changes evidences both (one step, no
    new one); a waived review is the manager's decision on the whole step, not a completion."""
    step = gather(S, MEDIUM, "change_of_circumstances",
                  (E24, utc(2026, 12, 24, 15)), (E31, utc(2026, 12, 31, 12)))
    assert "review_assessment" not in codes(run(S, completed(step, utc(2027, 1, 4, 9)), MEDIUM))
    waived = run(S, completed(step, utc(2026, 12, 29, 12), status="waived"), MEDIUM)
    assert "review_assessment" not in codes(waived)


def test_W6_review_done_before_a_later_incident_leaves_it_owed_three_weeks_from_it() -> None:
    """W6 (Assessment Reviews): "the Asset+ should be reviewed within three weeks of the new
    event becoming known to the case worker." Incidents on 23, 24, 26 and 31 December 2026
    share the one review (due three weeks after the first, 13 January); reviewed on 28
    December, the 31 December incident is still owed: due Thursday 21 January 2027 17:00Z,
    about that incident, for the case holder."""
    i23, i24, i26, i31 = UUID(int=23), UUID(int=24), UUID(int=26), UUID(int=31)
    step = gather(W, case(), "new_incident", (i23, utc(2026, 12, 23, 16)),
                  (i24, utc(2026, 12, 24, 14)), (i26, utc(2026, 12, 26, 11)),
                  (i31, utc(2026, 12, 31, 17)))
    assert step.due_at == utc(2027, 1, 13, 16)
    ev = run(W, completed(step, utc(2026, 12, 28, 12)), case())
    again = only(ev, "create", "review_assessment")
    assert_step(again, rule="W6", code="review_assessment", actor="case_holder",
                due=utc(2027, 1, 21, 17), pack=W, ref="Assessment Reviews")
    assert again.subject_id == i31
    assert [r["record"]["id"] for r in again.reasons] == [str(i31)]


def test_W6_known_later_counts_from_when_it_became_known() -> None:
    """W6 (Assessment Reviews): "within three weeks of the new event becoming known to the case
    worker": an incident of 24 December that became known on 30 December is not evidenced by a
    review on 29 December; it is owed three weeks from 30 December (20 January 2027)."""
    i24 = UUID(int=124)
    step = held(created(run(W, event("case_event", utc(2026, 12, 24, 10), i24,
                                     type="new_incident", known_at="2026-12-30T11:00:00+00:00"),
                            case()), "review_assessment"))
    assert step.due_at == utc(2027, 1, 20, 11)
    again = only(run(W, completed(step, utc(2026, 12, 29, 12)), case()), "create",
                 "review_assessment")
    assert again.due_at == utc(2027, 1, 20, 11)


def test_W12_plan_updated_before_a_later_judgement_is_updated_again() -> None:
    """W12 (Management of Risk of Serious Harm): with ROSH medium or above "the risk management
    plan" is updated, each action with a timescale and an owner. An update on 28 December 2026
    cannot include the ROSH raised to high on 31 December: still owed (no timescale)."""
    snap = case(ratings=rated(rosh="medium"))
    first = held(created(run(W, judgement("rosh", "medium", utc(2026, 12, 23, 10),
                                          victims=["public"], record_id=str(UUID(int=1)))),
                         "update_risk_management_plan"))
    later = run(W, judgement("rosh", "high", utc(2026, 12, 31, 10), victims=["public"],
                             record_id=str(UUID(int=2))), on(first, snap))
    kept = [i for i in later.intents if i.code == "update_risk_management_plan"]
    step = replace(first, reasons=(*first.reasons, *kept[0].reasons))
    high = case(ratings=rated(rosh="high"))
    again = only(run(W, completed(step, utc(2026, 12, 28, 12)), high), "create",
                 "update_risk_management_plan")
    assert_step(again, rule="W12", code="update_risk_management_plan", actor="case_holder",
                due=None, pack=W, ref="Management of Risk of Serious Harm")


def test_W7_request_made_covers_a_later_concern_the_panel_will_hear() -> None:
    """W7 (High Risk Panel): "the case worker or their line manager to request a High-Risk
    Panel" on "becoming aware of a change of circumstances or new incident which is serious
    enough to warrant consideration for an increase of assessed risk levels": a request made
    on 28 December asks for the panel, which hears the 31 December concern too (no second
    request while one is pending): the completion answers it (``completion_covers_later``)."""
    step = held(created(run(W, event("case_event", utc(2026, 12, 23, 10), UUID(int=7),
                                     type="new_incident", may_raise_to_high=True), case()),
                        "request_high_risk_panel"))
    ev = run(W, event("case_event", utc(2026, 12, 31, 10), UUID(int=8), type="new_incident",
                      may_raise_to_high=True), on(step, case()))
    [kept] = [i for i in ev.intents if i.code == "request_high_risk_panel"]
    step = replace(step, reasons=(*step.reasons, *kept.reasons))
    done = run(W, completed(step, utc(2026, 12, 28, 12)), case())
    assert "request_high_risk_panel" not in codes(done)
    assert_step(created(done, "hold_high_risk_panel"), rule="W8", code="hold_high_risk_panel",
                actor="chair", due=utc(2027, 1, 4, 12), pack=W,
                ref="High Risk Panel, Management oversight")


# --- F2: every 1m and back-dated acts -----------------------------------------------------------

SWB_HIGH = case(ratings=rated(swb="high"), on_register=True)


def review_after(completed_at: datetime, code: str = "monthly_manager_review", rule: str = "S11",
                 pack: str = S, snap: CaseSnapshot = SWB_HIGH, actor: str = "line_manager",
                 ) -> OpenStep:
    """The occurrence a completed review at ``completed_at`` leaves open (from the engine)."""
    first = OpenStep(id=UUID(int=90), code=code, rule_id=rule, subject_id=snap.case_id,
                     due_at=None, awaiting_panel_date=False, deadline_form="every 1m",
                     actor=actor)
    nxt = created(run(pack, completed(first, completed_at, role=actor), snap), code)
    return held(nxt, UUID(int=91))


def test_S11_back_dated_confirmation_does_not_pull_the_next_review_before_a_month_after_the_last() -> None:  # noqa: E501
    """S11 (4.5): line managers "review all cases where there is a High or Very High ROSH
    and/or Safety and Well-Being rating with case holders at least monthly"; policy-rules
    ``every 1m``: "when an occurrence is completed, the next is due one month after the act
    that completed it". Reviewed on 20 February 2027: next due 20 March 10:00Z. The case
    holder then records a judgement dated 1 February confirming SWB high: the review stays
    due 20 March (it is not pulled to 1 March, overdue)."""
    step = review_after(utc(2027, 2, 20, 10))
    assert step.due_at == utc(2027, 3, 20, 10)
    ev = run(S, judgement("swb", "high", utc(2027, 2, 1, 10)), on(step, SWB_HIGH))
    assert intents(ev, "update_due", "monthly_manager_review") == []
    [kept] = [i for i in ev.intents if i.code == "monthly_manager_review"]
    assert_step(kept, rule="S11", code="monthly_manager_review", actor="line_manager",
                due=utc(2027, 3, 20, 10), pack=S, ref="4.5")
    # A rating first recorded earlier than the first review still brings that review forward.
    first = held(created(run(S, judgement("swb", "high", utc(2026, 12, 1, 12))),
                         "monthly_manager_review"))
    assert first.due_at == utc(2027, 1, 1, 12)
    earlier = run(S, judgement("swb", "high", utc(2026, 11, 28, 12)), on(first, SWB_HIGH))
    assert only(earlier, "update_due", "monthly_manager_review").due_at == utc(2026, 12, 28, 12)


def test_S11_back_dated_panel_decision_does_not_pull_the_next_review() -> None:
    """S11 (4.5) "at least monthly": reviews completed 30 December 2026 and Friday 5 March 2027
    09:00Z (next due 5 April 2027 09:00Z, BST: 10:00 London); the chair then records the 7
    January MARP decision (ROSH high): the review stays due 5 April."""
    snap = case(ratings=rated(rosh="high"), on_register=True)
    step = review_after(utc(2027, 3, 5, 9), snap=snap)
    assert step.due_at == utc(2027, 4, 5, 8)  # 09:00 GMT -> 09:00 BST on 5 April
    # The service records the panel's rating as a judgement made via the panel decision.
    ev = run(S, judgement("rosh", "high", utc(2027, 1, 7, 11), via_panel_decision=True),
             on(step, snap))
    assert intents(ev, "update_due", "monthly_manager_review") == []
    assert [i.due_at for i in ev.intents if i.code == "monthly_manager_review"] == [
        utc(2027, 4, 5, 8)]


def test_W19_back_dated_panel_decision_does_not_pull_the_monthly_mappa_review() -> None:
    """W19 (Referrals into MAPPA): "For MAPPA Level 1 children, High Risk Panels should be held
    monthly". Reviewed 20 February 2027 (next due 20 March); a panel decision dated 15 January
    setting MAPPA level 1 leaves it due 20 March."""
    snap = case(mappa_category=3, mappa_level=1)
    step = review_after(utc(2027, 2, 20, 10), "high_risk_panel_review", "W19", W, snap, "chair")
    assert step.due_at == utc(2027, 3, 20, 10)
    ev = run(W, event("panel_decision", utc(2027, 1, 15, 11), UUID(int=701), role="chair",
                      mappa_level=1, actions=[], panel_kind="high_risk_panel"), on(step, snap))
    assert intents(ev, "update_due", "high_risk_panel_review") == []


# --- F3: Wokingham's three-monthly review for high-risk children --------------------------------

ASSESSMENT = UUID(int=555)


def countersigned(at: datetime, snap: CaseSnapshot) -> OpenStep:
    """The W3 review a countersigned start Asset+ leaves open."""
    ev = run(W, event("assessment_countersigned", at, ASSESSMENT, role="line_manager",
                      type="asset_plus", stage="start"), snap)
    return held(created(ev, "review_assessment"))


def test_W3_domain_turning_high_brings_the_review_to_three_months_after_countersignature() -> None:
    """W3 (Assessment Reviews): "Children who have been assessed as high within any of the risk
    domains must have their Asset+ reviewed at least every three months or sooner if there has
    been a significant change in circumstances." Countersigned on 1 December 2026 10:00Z while
    low: review due six months on (1 June 2027 09:00Z, BST). ROSH judged high on 10 January
    2027: the review is due three months after the countersignature, 1 March 2027 10:00Z."""
    low = case(ratings=rated(rosh="low", swb="low", lor="low"))
    step = countersigned(utc(2026, 12, 1, 10), low)
    assert step.due_at == utc(2027, 6, 1, 9)
    ev = run(W, judgement("rosh", "high", utc(2027, 1, 10, 10), victims=["public"]),
             on(step, low))
    moved = only(ev, "update_due", "review_assessment")
    assert_step(moved, rule="W3", code="review_assessment", actor="case_holder",
                due=utc(2027, 3, 1, 10), pack=W, ref="Assessment Reviews")
    assert moved.step_id == STEP
    # Already high: nothing to bring forward (the countersignature gave three months).
    high = case(ratings=rated(rosh="high", swb="low", lor="low"))
    step3 = countersigned(utc(2026, 11, 30, 16), high)
    assert step3.due_at == utc(2027, 2, 28, 16)  # 30 November + 3 months: end of February
    again = run(W, judgement("swb", "high", utc(2027, 1, 10, 10)), on(step3, high))
    assert intents(again, "update_due", "review_assessment") == []


def test_W3_month_end_and_a_passed_point_and_never_later() -> None:
    """W3 (Assessment Reviews): "reviewed at least every three months". Countersigned 30
    November 2026 16:00Z (low): SWB high on 2 January 2027 brings the review to 28 February
    16:00Z (month end clamped). High only on 5 March 2027, after that point passed: due at the
    judgement, urgent, saying when the point passed. A sooner W6 date is never moved later."""
    low = case(ratings=rated(rosh="low", swb="low", lor="low"))
    step = countersigned(utc(2026, 11, 30, 16), low)
    ev = run(W, judgement("swb", "high", utc(2027, 1, 2, 10)), on(step, low))
    assert only(ev, "update_due", "review_assessment").due_at == utc(2027, 2, 28, 16)
    late = only(run(W, judgement("swb", "high", utc(2027, 3, 5, 10)), on(step, low)),
                "update_due", "review_assessment")
    assert_step(late, rule="W3", code="review_assessment", actor="case_holder",
                due=utc(2027, 3, 5, 10), pack=W, ref="Assessment Reviews", urgent=True)
    assert "Sunday 28 February 2027 16:00 (London)" in (late.note or "")
    sooner = replace(step, due_at=utc(2027, 1, 20, 17))
    kept = run(W, judgement("swb", "high", utc(2027, 1, 2, 10)), on(sooner, low))
    assert intents(kept, "update_due", "review_assessment") == []
    # A review the W3 countersignature did not raise (only an incident's W6): nothing to count
    # from, nothing changes.
    w6 = held(created(run(W, event("case_event", utc(2027, 1, 4, 10), UUID(int=66),
                                   type="new_incident"), low), "review_assessment"))
    assert [i for i in run(W, judgement("swb", "high", utc(2027, 1, 5, 10)),
                           on(w6, low)).intents if i.code == "review_assessment"] == []


def test_S3_review_stays_twelve_weekly_whatever_the_level() -> None:
    """S3 (2.1): "AssetPlus assessment will be reviewed maximum 12 weekly (or sooner upon any
    significant change becoming known)": Somerset's cadence does not depend on the level, so a
    judgement raising ROSH to high does not re-date the open review (its change of
    circumstances is S14's)."""
    low = case(ratings=rated(rosh="low", swb="low"))
    step = held(created(run(S, event("assessment_countersigned", utc(2026, 12, 1, 10),
                                     ASSESSMENT, role="line_manager", type="asset_plus",
                                     stage="start"), low), "review_assessment"))
    assert step.due_at == utc(2027, 2, 23, 10)
    ev = run(S, judgement("rosh", "high", utc(2027, 1, 10, 10)), on(step, low))
    assert intents(ev, "update_due", "review_assessment") == []


# --- F6: S10 when the MAPPA category comes after the high ROSH ----------------------------------


def test_S10_a_mappa_level_2_recorded_supersedes_the_marps_mappa_decision() -> None:
    """S10 (7.1.9): "The MARP will decide if cases with Very High ROSH judgements need to be
    referred to MAPPA 2, unless this has already been done." ROSH very high since 1 March 2027,
    the MARP's decision open (due at the MARP of Thursday 4 March 14:00 GMT); MAPPA level 2
    recorded on Tuesday 2 March: the referral has been done, the decision is superseded. A
    MAPPA category recorded instead (8.2) leaves it open: the category is not the decision
    (attack 34b, ATTACK34B-1: the catalogue's S10 turned on the category)."""
    marp = panel(utc(2027, 3, 4, 14))
    decision = created(run(S, judgement("rosh", "very_high", utc(2027, 3, 1, 10)),
                           case(), panels=[marp]), "identify_mappa_level")
    assert_step(decision, rule="S10", code="identify_mappa_level", actor="chair",
                due=utc(2027, 3, 4, 14), pack=S, ref="7.1.9, 3.2.4")
    held = case(ratings=rated(rosh="very_high"), on_register=True,
                open_steps=(open_step(decision, UUID(int=10)),))
    level_2 = run(S, event("case_changed", utc(2027, 3, 2, 10), role="line_manager",
                           changes={"mappa_level": [None, 2]}), held, panels=[marp])
    assert [i.step_id for i in intents(level_2, "supersede")
            if i.code == "identify_mappa_level"] == [UUID(int=10)]
    category = run(S, event("case_changed", utc(2027, 3, 2, 10), role="line_manager",
                            changes={"mappa_category": [None, 2]}), held, panels=[marp])
    assert not [i for i in intents(category, "supersede") if i.code == "identify_mappa_level"]
    assert "identify_mappa_level" not in codes(category)


# --- F4: a case under a panel's booked review is not referred anew ------------------------------


def test_S7_S8_no_new_referral_while_the_marp_review_is_booked() -> None:
    """S7 (3.2.3, 7.2.3): "The case holder will refer the case to the next YJT MARP"; "Where
    cases continue to be classified as High or Very high, the case will remain relevant to
    ongoing MARP oversight." Rebuilding a reopened case (off the register, its booked MARP
    review reinstated), SWB high on 6 April 2027 asks for no new referral nor views for one."""
    review = replace(MARP_REVIEW, due_at=utc(2027, 2, 4, 23, 59, 59))
    rebuilt = run(S, judgement("swb", "high", utc(2027, 4, 6, 12)),
                  case(open_steps=(review,)))
    assert not {"refer_to_panel", "seek_child_and_carer_views"} & codes(rebuilt)
    assert {"refer_to_panel", "seek_child_and_carer_views"} <= codes(
        run(S, judgement("swb", "high", utc(2027, 4, 6, 12))))


def test_W7_no_new_request_while_the_high_risk_panel_review_is_booked() -> None:
    """W7 (High Risk Panel): "At the end of the Panel, a specific action plan and risk
    classification should be agreed, including when should the child be discussed again at the
    panel": with that review booked (W22), ROSH high on 6 April 2027 asks for no new request."""
    review = replace(MARP_REVIEW, rule_id="W22", due_at=utc(2027, 5, 4, 22, 59, 59))
    high = judgement("rosh", "high", utc(2027, 4, 6, 12), victims=["public"])
    assert "request_high_risk_panel" not in codes(run(W, high, case(open_steps=(review,))))
    assert_step(created(run(W, high), "request_high_risk_panel"), rule="W7",
                code="request_high_risk_panel", actor="case_holder",
                due=utc(2027, 4, 8, 22, 59, 59), pack=W, ref="High Risk Panel")


# --- F7: S9 when the MARP raises SWB to very high -----------------------------------------------


def test_S9_marp_raising_swb_to_very_high_asks_for_the_child_protection_referral() -> None:
    """S9 (3.2.4): very high SWB: "the child is unsafe ... this will include (or has already
    included) a referral to statutory child protection services"; 7.1.9: the MARP "will also
    ensure that cases assessed as Very High Safety and Wellbeing, which require a child
    protection/safeguarding response, have been actioned appropriately". The MARP of Thursday
    25 February 2027 11:00Z raises SWB from high to very high: the referral is due then,
    urgent, for the case holder; a panel confirming an unchanged very high asks nothing new."""
    raised = run(S, judgement("swb", "very_high", utc(2027, 2, 25, 11), via_panel_decision=True),
                 case(ratings=rated(swb="high"), on_register=True))
    assert_step(created(raised, "child_protection_referral"), rule="S9",
                code="child_protection_referral", actor="case_holder",
                due=utc(2027, 2, 25, 11), pack=S, ref="3.2.4", urgent=True)
    confirmed = run(S, judgement("swb", "very_high", utc(2027, 2, 25, 11),
                                 via_panel_decision=True),
                    case(ratings=rated(swb="very_high"), on_register=True))
    assert "child_protection_referral" not in codes(confirmed)


# --- F14: Somerset 2.1, a significant change on a statutory case rated low ----------------------


def test_S14_significant_change_on_a_low_statutory_case_asks_for_a_review() -> None:
    """S14 (2.1): "AssetPlus assessment will be reviewed maximum 12 weekly (or sooner upon any
    significant change becoming known)". ROSH low, the child became homeless on Friday 8
    January 2027 17:00Z: the review is asked for, undated (4.2's next working day is for
    medium and above), citing 2.1; with the 12-weekly review open, it joins it, its date kept."""
    low = case(ratings=rated(rosh="low", swb="low"))
    homeless = event("case_event", utc(2027, 1, 8, 17), E31, type="change_of_circumstances")
    step = created(run(S, homeless, low), "review_assessment")
    assert_step(step, rule="S14", code="review_assessment", actor="case_holder", due=None,
                pack=S, ref="2.1")
    assert "2.1" in (step.note or "")
    twelve = held(created(run(S, event("assessment_countersigned", utc(2026, 12, 7, 10),
                                       ASSESSMENT, role="line_manager", type="asset_plus",
                                       stage="start"), low), "review_assessment"))
    joined = run(S, homeless, on(twelve, low))
    assert intents(joined, "create", "review_assessment") == []
    [kept] = [i for i in joined.intents if i.code == "review_assessment"]
    assert (kept.action, kept.due_at) == ("keep", utc(2027, 3, 1, 10))


def test_S20_a_review_asked_again_after_an_earlier_completion_keeps_its_review_date() -> None:
    """S20 (7.1.6, 7.2.3): "Unless the child's risk status has reduced to medium or low, the
    panel will agree and then book a provisional review date" (7.1.6). A MARP decision of
    Thursday 14 January 2027 books the review for Thursday 8 April 2027. A completion dated the
    day before (Wednesday 13 January) cannot answer it: the step is asked again, and it is due
    on the date that decision booked (8 April, 23:59:59 BST), citing 7.1.6, 7.2.3; its reason
    keeps the date (``given``). It had no due date ("the date is not carried", fix30c)."""
    high = case(ratings=rated(rosh="high"))
    decision = event("panel_decision", utc(2027, 1, 14, 11), UUID(int=801), role="chair",
                     review_date=date(2027, 4, 8), actions=[], panel_kind="marp")
    step = held(created(run(S, decision, high), "attend_panel_review"))
    assert step.due_at == utc(2027, 4, 8, 22, 59, 59)  # its end, 23:59:59 BST
    assert step.reasons[0]["given"] == {"review_date": "2027-04-08"}
    again = only(run(S, completed(step, utc(2027, 1, 13, 12)), on(step, high)), "create",
                 "attend_panel_review")
    assert_step(again, rule="S20", code="attend_panel_review", actor="case_holder",
                due=utc(2027, 4, 8, 22, 59, 59), pack=S, ref="7.1.6, 7.2.3")
    assert again.reasons == step.reasons
    assert (again.note or "").splitlines()[-1] == (
        "Still owed: this step was last done Wednesday 13 January 2027 12:00 (London), before "
        "the act that asks for it.")
    assert not any(is_deadline_note(line) for line in (again.note or "").splitlines())


def test_W22_a_review_asked_again_keeps_the_panel_s_review_date() -> None:
    """Wokingham (High Risk Panel): "At the end of the Panel, a specific action plan and risk
    classification should be agreed, including when should the child be discussed again at the
    panel". The High-Risk Panel of Thursday 4 March 2027 brings the child back on Thursday 3
    June 2027; a completion dated Wednesday 3 March, before it, leaves it owed: asked again,
    due Thursday 3 June 23:59:59 BST, citing "High Risk Panel"."""
    high = case(ratings=rated(rosh="high"))
    decision = event("panel_decision", utc(2027, 3, 4, 11), UUID(int=802), role="chair",
                     review_date=date(2027, 6, 3), panel_kind="high_risk_panel",
                     actions=[{"description": "Review the plan", "owner_id": "case_holder-1",
                               "due_date": "2027-03-11"}])
    step = held(created(run(W, decision, high), "attend_panel_review"))
    again = only(run(W, completed(step, utc(2027, 3, 3, 12)), on(step, high)), "create",
                 "attend_panel_review")
    assert_step(again, rule=step.rule_id, code="attend_panel_review", actor="case_holder",
                due=utc(2027, 6, 3, 22, 59, 59), pack=W, ref="High Risk Panel")


def test_S20_a_reason_stored_without_its_review_date_says_why_the_step_has_none() -> None:
    """S20 (7.1.6, 7.2.3) for a step stored before its reasons kept the date their act gave (no
    ``given``): asked again after an earlier completion it has no date to be due on, and says
    why, rather than "Due on the review date: none was set." of a date that was set; when it
    was last done in London time."""
    high = case(ratings=rated(rosh="high"))
    decision = event("panel_decision", utc(2027, 1, 14, 11), UUID(int=801), role="chair",
                     review_date=date(2027, 4, 8), actions=[], panel_kind="marp")
    step = held(created(run(S, decision, high), "attend_panel_review"))
    old = replace(step, reasons=tuple({k: v for k, v in r.items() if k != "given"}
                                      for r in step.reasons))
    again = only(run(S, completed(old, utc(2027, 1, 13, 12)), on(old, high)), "create",
                 "attend_panel_review")
    assert again.due_at is None
    assert (again.note or "").splitlines() == [
        "Asked again, its last completion dated before the act asking for it: due on the review "
        "date that act gave (see its reasons), which a step asked again does not carry, so no "
        "due date is shown.",
        "Still owed: this step was last done Wednesday 13 January 2027 12:00 (London), before "
        "the act that asks for it."]
    assert is_deadline_note(again.note.splitlines()[0])  # type: ignore[union-attr]


def test_S26_a_handover_call_asked_again_keeps_the_transfer_date() -> None:
    """S26 (13.4.3): "Where the ROSH judgement and/or Safety and Well-Being concerns is High or
    Very high, the line manager, operational manager or YJT manager will speak to the
    appropriate manager or senior probation officer of the receiving Service prior to the
    transfer of the child". The transfer out recorded on Monday 1 March 2027 is for Monday 15
    March; a completion dated Friday 26 February, before it, leaves the call owed: asked again,
    due before the transfer (Monday 15 March 00:00 GMT), citing 13.4.3."""
    high = case(ratings=rated(rosh="high"))
    out = event("case_event", utc(2027, 3, 1, 10), UUID(int=803), type="transfer_out",
                transfer_date=date(2027, 3, 15))
    step = held(created(run(S, out, high), "manager_handover_call"))
    assert step.due_at == utc(2027, 3, 15)
    assert step.reasons[0]["given"] == {"transfer_date": "2027-03-15"}
    again = only(run(S, completed(step, utc(2027, 2, 26, 12), role="line_manager"),
                     on(step, high)), "create", "manager_handover_call")
    assert_step(again, rule="S26", code="manager_handover_call", actor="line_manager",
                due=utc(2027, 3, 15), pack=S, ref="13.4.3")
