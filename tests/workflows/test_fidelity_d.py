"""Engine- and pack-level checks for the fidelityD fixes (attack7 F7, F6, F13, F12, F14): a
rating set by a panel decision raises what the same rating judged raises (S9); a rule with two
conditions fires whichever arrives last (S10, S1/W1 on a change to a statutory order); the step
asking for an assessment type is satisfied only by that type (S1, S3, W1, W3, W6)."""

from __future__ import annotations

from dataclasses import replace
from uuid import UUID

from app.workflows.packs import satisfies_assessment_step
from tests.workflows.support import (
    assert_step,
    case,
    codes,
    created,
    event,
    intents,
    judgement,
    lon,
    open_step,
    packs,
    panel,
    rated,
    run,
    utc,
)

S = "somerset-yjt-2023"
W = "wokingham-pyjs-2024"
STEP = UUID(int=77)


# --- F7: S9 on a panel decision --------------------------------------------------------------


def test_S9_panel_decision_raising_swb_to_very_high_asks_for_the_cp_referral() -> None:
    """S9 (3.2.4): "With regard to safety and well-being, this will include (or has already
    included) a referral to statutory child protection services"; 7.1.9: the MARP "will also
    ensure that cases assessed as Very High Safety and Wellbeing, which require a child
    protection/safeguarding response, have been actioned appropriately". The MARP of Christmas
    Eve, Thursday 24 December 2026, 11:00 GMT raises SWB from high to very high: the case holder
    makes (or confirms) the child protection referral immediately (due at the decision, urgent),
    exactly as for the same rating judged by the case holder."""
    before = case(ratings=rated(swb="high"), on_register=True)
    for via_panel in (True, False):
        ev = run(S, judgement("swb", "very_high", lon(2026, 12, 24, 11),
                              via_panel_decision=via_panel), before)
        assert_step(created(ev, "child_protection_referral"), rule="S9",
                    code="child_protection_referral", actor="case_holder",
                    due=utc(2026, 12, 24, 11), pack=S, ref="3.2.4", urgent=True)


def test_S9_panel_decision_on_a_bank_holiday_weekend() -> None:
    """S9 (3.2.4, 7.1.9) on a panel decision recorded on Saturday 26 December 2026 (Boxing Day;
    Monday 28 December its substitute bank holiday): due immediately, urgent (the escalation
    pass waits for the end of the next working day, Tuesday 29 December). The other
    panel-excluded lines stay the panel's own act: S5's 24-hour discussion and S6's plan
    countersignature are what the MARP, chaired by a senior manager, just did (7.1.2,
    7.1.3)."""
    ev = run(S, judgement("swb", "very_high", lon(2026, 12, 26, 10), via_panel_decision=True),
             case(ratings=rated(swb="medium")))
    assert_step(created(ev, "child_protection_referral"), rule="S9",
                code="child_protection_referral", actor="case_holder",
                due=utc(2026, 12, 26, 10), pack=S, ref="3.2.4", urgent=True)
    assert not {"discuss_with_manager", "countersign_risk_plan"} & codes(ev)


# --- F6: S10 whichever of its two conditions arrives last -----------------------------------


def test_S10_mappa_category_recorded_on_a_high_rosh_case_asks_no_marp_decision() -> None:
    """S10 (7.1.9): "The MARP will decide if cases with Very High ROSH judgements need to be
    referred to MAPPA 2" (attack 34b, ATTACK34B-1: the catalogue's S10 asked the case holder to
    identify the level when a category was recorded on a high ROSH case). ROSH is high; MAPPA
    category 2 recorded on Monday 28 December 2026 (substitute bank holiday): no MAPPA decision
    is asked (High, not Very High ROSH), nor at very high (the decision is the judgement's)."""
    marp = panel(lon(2027, 1, 6, 10))
    for level in ("high", "very_high"):
        before = case(ratings=rated(rosh=level), on_register=True)
        ev = run(S, event("case_changed", lon(2026, 12, 28, 12),
                          changes={"mappa_category": [None, 2]}), before, [marp])
        assert "identify_mappa_level" not in codes(ev)


# --- F13: a change to a statutory order raises the statutory assessment ----------------------


def test_S1_change_to_a_statutory_order_asks_for_the_assetplus() -> None:
    """S1 (2.1): "All children supervised by the YJT on statutory orders, will have an AssetPlus
    assessment completed within 4 weeks of start of YJT involvement." A prevention case becomes
    a court order on Saturday 31 October 2026, 10:00 GMT (month end, the week after the clocks
    went back): the AssetPlus is due four weeks later, Saturday 28 November 10:00 GMT, and the
    open Fact Finding step (S2) is superseded by it."""
    ff = run(S, event("case_opened", lon(2026, 10, 1, 9)),
             case(intervention="prevention", statutory=False))
    made = created(ff, "complete_assessment")
    fact_finding = replace(open_step(made, STEP), reasons=made.reasons)
    before = case(intervention="prevention", statutory=False, open_steps=(fact_finding,))
    ev = run(S, event("case_changed", lon(2026, 10, 31, 10),
                      changes={"intervention": ["prevention", "court_order"],
                               "statutory": [False, True]}), before)
    step = created(ev, "complete_assessment")
    assert_step(step, rule="S1", code="complete_assessment", actor="case_holder",
                due=utc(2026, 11, 28, 10), pack=S, ref="2.1")
    assert step.title == "Complete the AssetPlus assessment"
    [gone] = intents(ev, "supersede", "complete_assessment")
    assert gone.step_id == STEP


def test_W1_change_to_remand_asks_for_the_asset_plus() -> None:
    """W1 (Assessment type): "Children on statutory Court Orders, on Court Bail, Court Remand,
    or for whom a Pre-Sentence Report is required will be assessed using Asset+." A community
    resolution becomes a remand on Sunday 28 March 2027 (the clocks go forward): the Asset+ step
    (no local timescale) replaces the mini-asset step; a move between two Asset+ interventions
    (remand to court order) asks for nothing new."""
    mini = run(W, event("case_opened", lon(2027, 3, 1, 9)),
               case(intervention="community_resolution", statutory=False))
    made = created(mini, "complete_assessment")
    mini_step = replace(open_step(made, STEP), reasons=made.reasons)
    before = case(intervention="community_resolution", statutory=False, open_steps=(mini_step,))
    ev = run(W, event("case_changed", lon(2027, 3, 28, 11),
                      changes={"intervention": ["community_resolution", "remand"],
                               "statutory": [False, True]}), before)
    step = created(ev, "complete_assessment")
    assert_step(step, rule="W1", code="complete_assessment", actor="case_holder", due=None,
                pack=W, ref="Assessment type")
    assert step.title == "Complete an Asset+ assessment"
    [gone] = intents(ev, "supersede", "complete_assessment")
    assert gone.step_id == STEP
    again = run(W, event("case_changed", lon(2027, 3, 29, 11),
                         changes={"intervention": ["remand", "court_order"]}),
                case(intervention="remand"))
    assert "complete_assessment" not in codes(again)


# --- F12: the assessment type a step asks for -----------------------------------------------


def test_S1_only_an_assetplus_satisfies_the_statutory_assessment() -> None:
    """S1, S3 (2.1): statutory children "will have an AssetPlus assessment completed ...
    AssetPlus assessment will be reviewed maximum 12 weekly"; non-statutory children "will have
    an appropriate assessment of needs completed (using a Fact Finding document)" (S2), which a
    core AssetPlus (15.1) also is. Wokingham W1/W3/W6: statutory children "will be assessed
    using Asset+"; prevention and diversion use a mini-asset, "regardless of whether the initial
    assessment was an Asset+"."""
    som, wok = packs()[S], packs()[W]
    assert satisfies_assessment_step(som, "S1", "complete_assessment",
                                     "Complete the AssetPlus assessment", "asset_plus")
    assert not satisfies_assessment_step(som, "S1", "complete_assessment",
                                         "Complete the AssetPlus assessment", "fact_finding")
    s2 = som.rule("S2").title
    assert satisfies_assessment_step(som, "S2", "complete_assessment", s2, "fact_finding")
    assert satisfies_assessment_step(som, "S2", "complete_assessment", s2, "asset_plus")
    s3 = som.rule("S3").title
    assert not satisfies_assessment_step(som, "S3", "review_assessment", s3, "fact_finding")
    assert not satisfies_assessment_step(wok, "W1", "complete_assessment",
                                         "Complete an Asset+ assessment", "mini_asset")
    assert satisfies_assessment_step(wok, "W1", "complete_assessment",
                                     "Complete a mini-asset assessment", "asset_plus")
    for rule in ("W3", "W6"):
        title = wok.rule(rule).title
        assert not satisfies_assessment_step(wok, rule, "review_assessment", title, "mini_asset")
        assert satisfies_assessment_step(wok, rule, "review_assessment", title, "asset_plus")


def test_W3_a_countersigned_mini_asset_starts_no_asset_plus_review() -> None:
    """W3 (Assessment Reviews): the Asset+ review cycle follows an Asset+; a mini-asset
    countersigned on a court-order case on Thursday 31 December 2026 starts none; the Asset+
    countersigned then is reviewed six months on, Wednesday 30 June 2027 10:00 BST (the month
    end clamped, across the clock change)."""
    ev = run(W, event("assessment_countersigned", lon(2026, 12, 31, 10), UUID(int=9),
                      type="mini_asset", stage="start"))
    assert "review_assessment" not in codes(ev)
    ev = run(W, event("assessment_countersigned", lon(2026, 12, 31, 10), UUID(int=9),
                      type="asset_plus", stage="start"))
    assert_step(created(ev, "review_assessment"), rule="W3", code="review_assessment",
                actor="case_holder", due=utc(2027, 6, 30, 9), pack=W, ref="Assessment Reviews")


# --- F16: S26 when the rating rises while a transfer out is pending -------------------------


def test_S26_rating_becomes_high_before_the_pending_transfer() -> None:
    """S26 (13.4.3): "Where the ROSH judgement and/or Safety and Well-Being concerns is High or
    Very high, the line manager, operational manager or YJT manager will speak to the
    appropriate manager or senior probation officer of the receiving Service prior to the
    transfer of the child". A transfer out on Monday 29 March 2027 is pending (the service says
    so on the judgement); ROSH becomes high on Thursday 25 March (before Easter and the clock
    change): the line manager's call, due before the transfer, 00:00 BST on 29 March
    (28 March 23:00Z). Not again while the call is open, nor when the case was high already
    (the transfer's own line asked for it then), nor with no transfer pending."""
    ev = run(S, judgement("rosh", "high", lon(2027, 3, 25, 10), transfer_pending=True,
                          transfer_date="2027-03-29"), case(ratings=rated(rosh="medium")))
    assert_step(created(ev, "manager_handover_call"), rule="S26", code="manager_handover_call",
                actor="line_manager", due=utc(2027, 3, 28, 23), pack=S, ref="13.4.3")
    for before in (case(ratings=rated(rosh="high")), case(ratings=rated(swb="very_high"))):
        assert "manager_handover_call" not in codes(run(
            S, judgement("rosh", "very_high", lon(2027, 3, 25, 10), transfer_pending=True,
                         transfer_date="2027-03-29"), before))
    assert "manager_handover_call" not in codes(run(
        S, judgement("rosh", "high", lon(2027, 3, 25, 10)), case(ratings=rated(rosh="medium"))))


# --- F14: S14 on a low-rated statutory case (2.1) -------------------------------------------


def test_S14_significant_change_on_a_low_statutory_case() -> None:
    """S14 (2.1): "AssetPlus assessment will be reviewed maximum 12 weekly (or sooner upon any
    significant change becoming known)". A court-order child rated low becomes homeless on
    Friday 8 January 2027: the case holder reviews the AssetPlus, with no fixed timescale (4.2's
    next working day is for medium and above), citing 2.1; a non-statutory low case is not
    asked (its assessment is the Fact Finding document)."""
    ev = run(S, event("case_event", lon(2027, 1, 8, 17), type="change_of_circumstances"),
             case(ratings=rated(rosh="low", swb="low")))
    step = created(ev, "review_assessment")
    assert_step(step, rule="S14", code="review_assessment", actor="case_holder", due=None,
                pack=S, ref="2.1")
    assert step.note is not None
    assert "2.1" in step.note
    assert "review_assessment" not in codes(run(
        S, event("case_event", lon(2027, 1, 8, 17), type="change_of_circumstances"),
        case(intervention="prevention", statutory=False, ratings=rated(rosh="low"))))
    medium = run(S, event("case_event", lon(2027, 1, 8, 17), type="new_incident"),
                 case(ratings=rated(rosh="medium")))
    assert_step(created(medium, "review_assessment"), rule="S14", code="review_assessment",
                actor="case_holder", due=utc(2027, 1, 11, 23, 59, 59), pack=S, ref="4.2")
