"""Somerset YJT (somerset-yjt-2023): one test per rule, on real England-and-Wales dates."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any
from uuid import UUID

from tests.workflows.support import (
    CASE_ID,
    CHRISTMAS_EVE,
    EVENT_ID,
    FRI_BEFORE_BANK_HOLIDAY,
    SOMERSET,
    THU_BEFORE_GOOD_FRIDAY,
    assert_step,
    case,
    codes,
    created,
    end_of,
    event,
    intents,
    judgement,
    lon,
    open_step,
    panel,
    rated,
    run,
    utc,
)

S = SOMERSET
ITEM_ID = UUID("00000000-0000-4000-8000-00000000a1e3")
ASSESSMENT_ID = UUID("00000000-0000-4000-8000-0000000a55e5")
ON_REGISTER = {"ratings": rated(rosh="high", swb="low"), "on_register": True}


def test_S1_statutory_case_opened_needs_asset_plus_within_4_weeks() -> None:
    """S1: statutory case opened needs asset plus within 4 weeks."""
    ev = run(S, event("case_opened", FRI_BEFORE_BANK_HOLIDAY))
    step = created(ev, "complete_assessment")
    assert_step(step, rule="S1", code="complete_assessment", actor="case_holder",
                due=utc(2026, 9, 25, 14, 30), pack=S, ref="2.1")
    assert "AssetPlus" in step.title
    assert step.subject_id == CASE_ID


def test_S2_non_statutory_case_opened_needs_fact_finding_without_timescale() -> None:
    """S2: non statutory case opened needs fact finding without timescale."""
    ev = run(S, event("case_opened", FRI_BEFORE_BANK_HOLIDAY),
             case(intervention="prevention", statutory=False))
    step = created(ev, "complete_assessment")
    assert_step(step, rule="S2", code="complete_assessment", actor="case_holder", due=None,
                pack=S, ref="2.1")
    assert "Fact Finding" in step.title


def test_S3_countersigned_asset_plus_is_reviewed_within_12_weeks_across_the_clock_change() -> None:
    # 10:00 BST on 2 October 2026 + 12 calendar weeks = 10:00 GMT on Christmas Day.
    """S3: countersigned asset plus is reviewed within 12 weeks across the clock change."""
    ev = run(S, event("assessment_countersigned", lon(2026, 10, 2, 10), ASSESSMENT_ID,
                      role="line_manager", type="asset_plus", stage="start"))
    step = created(ev, "review_assessment")
    assert_step(step, rule="S3", code="review_assessment", actor="case_holder",
                due=utc(2026, 12, 25, 10), pack=S, ref="2.1")
    assert step.subject_id == ASSESSMENT_ID


def test_S3_a_new_review_supersedes_the_previous_review_step_and_closure_needs_none() -> None:
    """S3: a new review supersedes the previous review step and closure needs none."""
    first = created(run(S, event("assessment_countersigned", lon(2026, 1, 5, 9), ASSESSMENT_ID,
                                 type="asset_plus", stage="start")), "review_assessment")
    snapshot = case(open_steps=(open_step(first, UUID(int=7)),))
    again = run(S, event("assessment_countersigned", lon(2026, 3, 2, 9), EVENT_ID,
                         type="asset_plus", stage="review"), snapshot)
    assert created(again, "review_assessment").due_at == utc(2026, 5, 25, 8)
    assert [i.step_id for i in intents(again, "supersede")] == [UUID(int=7)]
    closure = run(S, event("assessment_countersigned", lon(2026, 3, 2, 9), EVENT_ID,
                           type="asset_plus", stage="closure"))
    assert "review_assessment" not in codes(closure)


def test_S4_submitted_assessment_is_countersigned_by_the_line_manager() -> None:
    """S4: submitted assessment is countersigned by the line manager."""
    ev = run(S, event("assessment_submitted", FRI_BEFORE_BANK_HOLIDAY, ASSESSMENT_ID,
                      type="asset_plus", stage="start"))
    step = created(ev, "countersign_assessment")
    assert_step(step, rule="S4", code="countersign_assessment", actor="line_manager", due=None,
                pack=S, ref="5, 3.1")
    assert step.subject_id == ASSESSMENT_ID


def test_S5_high_judgement_discussed_with_manager_within_24_clock_hours() -> None:
    """S5: high judgement discussed with manager within 24 clock hours."""
    ev = run(S, judgement("rosh", "high", FRI_BEFORE_BANK_HOLIDAY))
    step = created(ev, "discuss_with_manager")
    # +24h runs through the weekend: Saturday 15:30 BST.
    assert_step(step, rule="S5", code="discuss_with_manager", actor="line_manager",
                due=utc(2026, 8, 29, 14, 30), pack=S, ref="3.1")
    assert step.due_at is not None
    assert step.due_at - FRI_BEFORE_BANK_HOLIDAY == timedelta(hours=24)
    assert step.note
    assert "duty manager" in step.note


def test_S5_not_for_a_medium_judgement_nor_a_panel_confirmed_one() -> None:
    """S5: not for a medium judgement nor a panel confirmed one."""
    assert "discuss_with_manager" not in codes(run(S, judgement("swb", "medium", CHRISTMAS_EVE)))
    panel_confirmed = judgement("swb", "high", CHRISTMAS_EVE, via_panel_decision=True)
    assert "discuss_with_manager" not in codes(run(S, panel_confirmed, case(**ON_REGISTER)))


def test_S6_high_judgement_needs_countersigned_risk_plan() -> None:
    """S6: high judgement needs countersigned risk plan."""
    step = created(run(S, judgement("swb", "very_high", CHRISTMAS_EVE)), "countersign_risk_plan")
    assert_step(step, rule="S6", code="countersign_risk_plan", actor="line_manager", due=None,
                pack=S, ref="3.1")


def test_S7_high_judgement_refers_to_the_next_marp() -> None:
    """S7: high judgement refers to the next marp."""
    marp = panel(lon(2026, 9, 3, 10))
    hrp = panel(lon(2026, 9, 1, 10), kind="high_risk_panel", ident=2)
    ev = run(S, judgement("rosh", "high", FRI_BEFORE_BANK_HOLIDAY), panels=[hrp, marp])
    assert_step(created(ev, "refer_to_panel"), rule="S7", code="refer_to_panel",
                actor="case_holder", due=utc(2026, 9, 3, 9), pack=S, ref="3.2.3, 3.2.4")


def test_S7_not_when_the_case_is_already_on_the_register() -> None:
    """S7: not when the case is already on the register."""
    ev = run(S, judgement("swb", "high", FRI_BEFORE_BANK_HOLIDAY), case(**ON_REGISTER))
    assert "refer_to_panel" not in codes(ev)


def test_S8_child_and_carer_views_before_the_panel_awaiting_a_date() -> None:
    """S8: child and carer views before the panel awaiting a date."""
    ev = run(S, judgement("rosh", "very_high", THU_BEFORE_GOOD_FRIDAY))
    assert_step(created(ev, "seek_child_and_carer_views"), rule="S8",
                code="seek_child_and_carer_views", actor="case_holder", due=None, pack=S,
                ref="6.2", awaiting=True)


def test_S9_very_high_swb_child_protection_referral_immediately() -> None:
    """S9: very high swb child protection referral immediately."""
    ev = run(S, judgement("swb", "very_high", CHRISTMAS_EVE))
    assert_step(created(ev, "child_protection_referral"), rule="S9",
                code="child_protection_referral", actor="case_holder", due=utc(2026, 12, 24, 9, 15),
                pack=S, ref="3.2.4", urgent=True)
    assert "child_protection_referral" not in codes(run(S, judgement("swb", "high", CHRISTMAS_EVE)))


def test_S10_very_high_rosh_is_the_marps_to_decide_on_a_mappa_level_2_referral() -> None:
    """S10, Somerset 7.1.9: "The MARP will decide if cases with Very High ROSH judgements need
    to be referred to MAPPA 2, unless this has already been done." (attack 34b, ATTACK34B-1:
    the catalogue's S10 gave it to the case holder, at high too, only with a MAPPA category.)
    ROSH very high on Thursday 2 April 2026 (before Good Friday), no MAPPA category recorded:
    the MARP's decision, owned by the chair, due at the next MARP, Thursday 9 April 14:00 BST."""
    marp = panel(lon(2026, 4, 9, 14))
    ev = run(S, judgement("rosh", "very_high", THU_BEFORE_GOOD_FRIDAY), case(), panels=[marp])
    step = created(ev, "identify_mappa_level")
    assert_step(step, rule="S10", code="identify_mappa_level", actor="chair",
                due=utc(2026, 4, 9, 13), pack=S, ref="7.1.9, 3.2.4")
    assert step.assignee_id is None


def test_S10_high_rosh_even_mappa_eligible_asks_no_marp_mappa_decision() -> None:
    """S10, 7.1.9 "cases with Very High ROSH judgements": a high ROSH on Thursday 2 April 2026,
    MAPPA category 2 recorded, raises no MAPPA decision (the catalogue's S10 asked one)."""
    ev = run(S, judgement("rosh", "high", THU_BEFORE_GOOD_FRIDAY), case(mappa_category=2),
             panels=[panel(lon(2026, 4, 9, 14))])
    assert "identify_mappa_level" not in codes(ev)
    assert "refer_to_panel" in codes(ev)


def test_S10_not_when_the_mappa_2_referral_has_already_been_done() -> None:
    """S10, 7.1.9 "unless this has already been done": a case already managed at MAPPA level 2
    turning very high on Thursday 2 April 2026 asks no MAPPA decision of the MARP; at level 1
    (the MARP's own local management, 1.8) it does."""
    marp = panel(lon(2026, 4, 9, 14))
    done = run(S, judgement("rosh", "very_high", THU_BEFORE_GOOD_FRIDAY),
               case(mappa_category=2, mappa_level=2), panels=[marp])
    assert "identify_mappa_level" not in codes(done)
    level_1 = run(S, judgement("rosh", "very_high", THU_BEFORE_GOOD_FRIDAY),
                  case(mappa_category=2, mappa_level=1), panels=[marp])
    assert_step(created(level_1, "identify_mappa_level"), rule="S10",
                code="identify_mappa_level", actor="chair", due=utc(2026, 4, 9, 13), pack=S,
                ref="7.1.9, 3.2.4")


def test_S11_monthly_manager_review_from_the_31st_clamps_to_february() -> None:
    """S11: monthly manager review from the 31st clamps to february."""
    ev = run(S, judgement("rosh", "high", lon(2026, 1, 31, 10)))
    step = created(ev, "monthly_manager_review")
    assert_step(step, rule="S11", code="monthly_manager_review", actor="line_manager",
                due=utc(2026, 2, 28, 10), pack=S, ref="4.5")
    assert step.recurrence == "1m"


def test_S11_completion_creates_the_next_month_while_high() -> None:
    """S11: "review all cases where there is a High or Very High ROSH and/or Safety and
    Well-Being rating with case holders at least monthly" (4.5): completed early, the next is
    due a month after the review itself, not a month after the due date."""
    data: dict[str, Any] = {
        "code": "monthly_manager_review", "rule_id": "S11", "step_id": str(UUID(int=3)),
        "due_at": utc(2026, 2, 28, 10), "completed_by_role": "line_manager",
        "actor": "line_manager",
    }
    ev = run(S, event("step_completed", lon(2026, 2, 20, 16), role="line_manager", **data),
             case(**ON_REGISTER))
    nxt = created(ev, "monthly_manager_review")
    # Reviewed 20 Feb 16:00 GMT (due 28 Feb): next due 20 March 16:00 GMT.
    assert_step(nxt, rule="S11", code="monthly_manager_review", actor="line_manager",
                due=utc(2026, 3, 20, 16), pack=S, ref="4.5")
    low = run(S, event("step_completed", lon(2026, 2, 20, 16), role="line_manager", **data),
              case(ratings=rated(rosh="medium", swb="low")))
    assert "monthly_manager_review" not in codes(low)


def test_S12_level_change_is_explained_to_child_and_carer() -> None:
    """S12: level change is explained to child and carer."""
    ev = run(S, judgement("rosh", "medium", CHRISTMAS_EVE), case(ratings=rated(rosh="low")))
    assert_step(created(ev, "inform_child_and_carer"), rule="S12", code="inform_child_and_carer",
                actor="case_holder", due=None, pack=S, ref="6.1")
    unknown_to_low = run(S, judgement("swb", "low", CHRISTMAS_EVE))
    assert "inform_child_and_carer" in codes(unknown_to_low)
    same = run(S, judgement("rosh", "low", CHRISTMAS_EVE), case(ratings=rated(rosh="low")))
    assert "inform_child_and_carer" not in codes(same)


def test_S13_medium_or_above_updates_the_intervention_plan() -> None:
    """S13: medium or above updates the intervention plan."""
    ev = run(S, judgement("swb", "medium", CHRISTMAS_EVE))
    assert_step(created(ev, "update_intervention_plan"), rule="S13",
                code="update_intervention_plan", actor="case_holder", due=None, pack=S, ref="4.2")
    assert "update_intervention_plan" not in codes(run(S, judgement("swb", "low", CHRISTMAS_EVE)))


def test_S14_change_of_circumstances_on_medium_case_reviewed_next_working_day() -> None:
    """S14: change of circumstances on medium case reviewed next working day."""
    ev = run(S, event("case_event", THU_BEFORE_GOOD_FRIDAY, EVENT_ID,
                      type="change_of_circumstances", may_raise_to_high=False),
             case(ratings=rated(rosh="medium")))
    # Good Friday and Easter Monday are bank holidays: Tuesday 7 April, end of day BST.
    assert_step(created(ev, "review_assessment"), rule="S14", code="review_assessment",
                actor="case_holder", due=end_of(date(2026, 4, 7), bst=True), pack=S, ref="4.2")
    # Below medium, 2.1's "sooner upon any significant change becoming known", undated.
    low_case = run(S, event("case_event", THU_BEFORE_GOOD_FRIDAY, EVENT_ID,
                            type="change_of_circumstances"), case(ratings=rated(rosh="low")))
    assert_step(created(low_case, "review_assessment"), rule="S14", code="review_assessment",
                actor="case_holder", due=None, pack=S, ref="2.1")


def test_S15_non_statutory_high_moves_to_core_asset_plus() -> None:
    """S15: non statutory high moves to core asset plus."""
    ev = run(S, judgement("swb", "high", CHRISTMAS_EVE),
             case(intervention="prevention", statutory=False))
    assert_step(created(ev, "move_to_core_assessment"), rule="S15",
                code="move_to_core_assessment", actor="case_holder", due=None, pack=S,
                ref="2.1, 15.1")
    assert "move_to_core_assessment" not in codes(run(S, judgement("swb", "high", CHRISTMAS_EVE)))


def test_S16_duty_manager_doing_a_line_manager_step_advises_the_line_manager() -> None:
    """S16: duty manager doing a line manager step advises the line manager."""
    data: dict[str, Any] = {
        "code": "countersign_risk_plan", "rule_id": "S6", "step_id": str(UUID(int=9)),
        "due_at": None, "actor": "line_manager",
    }
    ev = run(S, event("step_completed", FRI_BEFORE_BANK_HOLIDAY, role="duty_manager",
                      completed_by_role="duty_manager", **data))
    assert_step(created(ev, "advise_line_manager"), rule="S16", code="advise_line_manager",
                actor="duty_manager", due=None, pack=S, ref="2.2, 3.1")
    by_line_manager = run(S, event("step_completed", FRI_BEFORE_BANK_HOLIDAY, role="line_manager",
                                   completed_by_role="line_manager", **data))
    assert "advise_line_manager" not in codes(by_line_manager)


def test_S17_mappa_category_1_goes_to_marp_irrespective_of_rosh_and_form_h() -> None:
    """S17: mappa category 1 goes to marp irrespective of rosh and form h."""
    change = event("case_changed", CHRISTMAS_EVE, changes={"mappa_category": [None, 1]})
    ev = run(S, change, case(mappa_category=1, ratings=rated(rosh="low")),
             panels=[panel(lon(2027, 1, 7, 10))])
    assert_step(created(ev, "refer_to_panel"), rule="S17", code="refer_to_panel",
                actor="case_holder", due=utc(2027, 1, 7, 10), pack=S, ref="7")
    assert_step(created(ev, "mappa_h_notification"), rule="S17", code="mappa_h_notification",
                actor="case_holder", due=None, pack=S, ref="7")
    # Held by the category, not by ROSH: a low judgement later does not supersede it.
    snapshot = case(mappa_category=1, ratings=rated(rosh="low"),
                    open_steps=(open_step(created(ev, "refer_to_panel"), UUID(int=5)),))
    later = run(S, judgement("rosh", "low", lon(2027, 1, 2, 9)), snapshot)
    assert not intents(later, "supersede")


def test_S18_panel_actions_need_a_review_stage_and_each_action_a_step() -> None:
    """S18: panel actions need a review stage (countersigned once it is submitted:
    tests/workflows/test_fidelity_a.py) and each action a step."""
    actions = [{"description": "Joint home visit with police", "owner_id": "pc-17",
                "due_date": "2026-10-26", "subject_id": str(UUID(int=41))}]
    ev = run(S, event("panel_decision", lon(2026, 10, 22, 14), ITEM_ID, role="chair",
                      rosh_level="high", actions=actions, review_date=date(2026, 11, 19),
                      panel_kind="marp"), case(**ON_REGISTER))
    assert_step(created(ev, "complete_review_stage"), rule="S18", code="complete_review_stage",
                actor="case_holder", due=None, pack=S, ref="7.1.3")
    # Nothing to countersign yet: the Review Stage does not exist until it is submitted.
    assert intents(ev, "create", "countersign_assessment") == []
    action = created(ev, "panel_action")
    # 26 October 2026 is the first day back on GMT: end of day is 23:59:59Z.
    assert_step(action, rule="S18", code="panel_action", actor="action_owner",
                due=end_of(date(2026, 10, 26), bst=False), pack=S, ref="7.1.2, 7.1.7")
    assert action.assignee_id == "pc-17"
    assert action.subject_id == UUID(int=41)
    assert action.title == "MARP action: Joint home visit with police"


def test_S19_every_panel_decision_is_recorded_as_a_cms_contact() -> None:
    """S19: every panel decision is recorded as a cms contact."""
    ev = run(S, event("panel_decision", lon(2026, 10, 22, 14), ITEM_ID, role="chair",
                      rosh_level="medium", swb_level="low", actions=[], panel_kind="marp"),
             case(**ON_REGISTER))
    step = created(ev, "record_panel_contact")
    assert_step(step, rule="S19", code="record_panel_contact", actor="panel_admin", due=None,
                pack=S, ref="7.1.4")
    assert step.subject_id == ITEM_ID


def test_S20_decision_leaving_high_needs_a_review_date_and_attendance_then() -> None:
    """S20: decision leaving high needs a review date and attendance then."""
    decision: dict[str, Any] = {"rosh_level": "high", "actions": [], "panel_kind": "marp"}
    refused = run(S, event("panel_decision", CHRISTMAS_EVE, ITEM_ID, role="chair", **decision),
                  case(**ON_REGISTER))
    assert [(v.rule_id, v.status, v.type_slug) for v in refused.violations] == [
        ("S20", 422, "review-date-required")]
    assert refused.violations[0].errors[0][0] == "body.review_date"
    assert refused.intents == ()
    ev = run(S, event("panel_decision", lon(2026, 9, 24, 10), ITEM_ID, role="chair",
                      review_date=date(2026, 12, 24), **decision), case(**ON_REGISTER))
    assert_step(created(ev, "attend_panel_review"), rule="S20", code="attend_panel_review",
                actor="case_holder", due=end_of(date(2026, 12, 24), bst=False), pack=S,
                ref="7.1.6, 7.2.3")


def test_S21_decision_reducing_to_medium_deregisters_without_a_review_date() -> None:
    """S21: decision reducing to medium deregisters without a review date."""
    ev = run(S, event("panel_decision", lon(2026, 10, 22, 14), ITEM_ID, role="chair",
                      rosh_level="medium", actions=[], panel_kind="marp"), case(**ON_REGISTER))
    assert ev.violations == ()
    assert ev.register_change == "deregistered"
    assert ev.on_register_after is False
    assert ev.ratings_after["rosh"] == "medium"
    assert "attend_panel_review" not in codes(ev)
    assert packs_register_ref() == ("S21", "4.3, 7.1.6")


def packs_register_ref() -> tuple[str | None, str | None]:
    """The pack's record of which rule de-registers and where."""
    from tests.workflows.support import packs

    reg = packs()[S].register_def
    assert reg is not None
    return reg.deregistered_by, reg.deregistered_ref


def test_S22_panel_deciding_mappa_level_2_sends_mappa_a() -> None:
    """S22: panel deciding mappa level 2 sends mappa a."""
    ev = run(S, event("panel_decision", lon(2026, 10, 22, 14), ITEM_ID, role="chair",
                      rosh_level="very_high", mappa_level=2, actions=[],
                      review_date=date(2026, 11, 19), panel_kind="marp"),
             case(mappa_category=2, **ON_REGISTER))
    assert_step(created(ev, "mappa_a_referral"), rule="S22", code="mappa_a_referral",
                actor="case_holder", due=None, pack=S, ref="7.1.9, 8.3.3")


def test_S23_charge_informs_service_manager_now_and_csppi_has_no_local_timescale() -> None:
    """S23: charge informs service manager now and csppi has no local timescale."""
    ev = run(S, event("case_event", FRI_BEFORE_BANK_HOLIDAY, EVENT_ID, type="charged"))
    assert_step(created(ev, "inform_service_manager"), rule="S23", code="inform_service_manager",
                actor="case_holder", due=utc(2026, 8, 28, 14, 30), pack=S, ref="12", urgent=True)
    notify = created(ev, "notify_serious_incident")
    assert_step(notify, rule="S23", code="notify_serious_incident", actor="chair", due=None,
                pack=S, ref="12")
    assert notify.note == "national CSPPI SOP timescale; not set by the local policy"


def test_S23_inform_service_manager_counts_from_when_the_charge_became_known() -> None:
    """S23 (12): "Case holders / team leaders will immediately inform operational/ YJT Manager
    of the charge/death." A charge on Friday 28 August 2026 that became known to the case holder
    on Tuesday 1 September (after the bank holiday) at 09:30 is due then, urgent: not already
    four days late when it is recorded."""
    ev = run(S, event("case_event", FRI_BEFORE_BANK_HOLIDAY, EVENT_ID, type="charged",
                      known_at=lon(2026, 9, 1, 9, 30).isoformat()))
    assert_step(created(ev, "inform_service_manager"), rule="S23", code="inform_service_manager",
                actor="case_holder", due=utc(2026, 9, 1, 8, 30), pack=S, ref="12", urgent=True)


def test_S23_applies_up_to_20_days_after_closure_only() -> None:
    """S23: applies up to 20 days after closure only."""
    closed = utc(2026, 8, 8, 14, 30)
    death = event("case_event", FRI_BEFORE_BANK_HOLIDAY, EVENT_ID, type="death")
    assert "inform_service_manager" in codes(run(S, death, case(closed_at=closed)))
    too_late = case(closed_at=closed - timedelta(days=1))
    assert codes(run(S, death, too_late)) == set()


def test_S24_partner_action_not_secured_escalates_to_service_manager() -> None:
    """S24: partner action not secured escalates to service manager."""
    ev = run(S, event("case_event", FRI_BEFORE_BANK_HOLIDAY, EVENT_ID,
                      type="partner_action_not_secured"))
    assert_step(created(ev, "escalate_to_service_manager"), rule="S24",
                code="escalate_to_service_manager", actor="line_manager", due=None, pack=S,
                ref="3.3")


def test_S25_transfer_in_with_high_incoming_rating_refers_to_next_marp() -> None:
    """S25: transfer in with high incoming rating refers to next marp."""
    ev = run(S, event("case_event", THU_BEFORE_GOOD_FRIDAY, EVENT_ID, type="transfer_in",
                      incoming_ratings={"rosh": "medium", "swb": "very_high"}),
             panels=[panel(lon(2026, 4, 2, 9)), panel(lon(2026, 4, 16, 10), ident=2)])
    # The 09:00 panel is before the event (11:00): the next one is 16 April.
    assert_step(created(ev, "refer_to_panel"), rule="S25", code="refer_to_panel",
                actor="case_holder", due=utc(2026, 4, 16, 9), pack=S, ref="13.3")
    low = run(S, event("case_event", THU_BEFORE_GOOD_FRIDAY, EVENT_ID, type="transfer_in",
                       incoming_ratings={"rosh": "medium", "swb": "low"}))
    assert codes(low) == {"check_incoming_documentation"}  # S36 (13.2), whatever the rating


def test_S26_transfer_out_of_high_case_needs_manager_call_before_the_transfer() -> None:
    """S26: transfer out of high case needs manager call before the transfer."""
    ev = run(S, event("case_event", lon(2026, 3, 20, 12), EVENT_ID, type="transfer_out",
                      transfer_date=date(2026, 3, 30)), case(ratings=rated(rosh="high")))
    # Before the transfer: 00:00 London on 30 March, which is BST (23:00Z the day before).
    assert_step(created(ev, "manager_handover_call"), rule="S26", code="manager_handover_call",
                actor="line_manager", due=utc(2026, 3, 29, 23), pack=S, ref="13.4.3")
    undated = run(S, event("case_event", lon(2026, 3, 20, 12), EVENT_ID, type="transfer_out"),
                  case(ratings=rated(swb="very_high")))
    step = created(undated, "manager_handover_call")
    assert step.due_at is None
    assert step.note
    assert "transfer date" in step.note


def test_S27_custody_entry_and_release_need_a_secure_estate_handover() -> None:
    """S27: custody entry and release need a secure estate handover."""
    entry = run(S, event("case_event", CHRISTMAS_EVE, EVENT_ID, type="custody_entry"))
    assert_step(created(entry, "secure_estate_handover"), rule="S27",
                code="secure_estate_handover", actor="case_holder", due=None, pack=S, ref="14.3")
    release = run(S, event("case_event", CHRISTMAS_EVE, UUID(int=77), type="custody_release"))
    assert created(release, "secure_estate_handover").policy_ref == "14.4"


def test_S28_level_change_with_a_volunteer_attached_updates_the_volunteer() -> None:
    """S28: level change with a volunteer attached updates the volunteer."""
    ev = run(S, judgement("swb", "medium", CHRISTMAS_EVE),
             case(volunteer_attached=True, ratings=rated(swb="low")))
    assert_step(created(ev, "update_volunteer"), rule="S28", code="update_volunteer",
                actor="case_holder", due=None, pack=S, ref="16.2")
    assert "update_volunteer" not in codes(run(S, judgement("swb", "medium", CHRISTMAS_EVE),
                                                case(ratings=rated(swb="low"))))


def test_S28_superseded_once_no_volunteer_is_attached() -> None:
    """S28 (16.2): "Any change in assessed levels of risk/concern should be communicated to the
    volunteer": a duty to a volunteer working with the child. The volunteer detached on
    Christmas Eve 2025 while the update is open: nobody is left to tell, so it is superseded
    (attack pass 15, A15-9); a change that leaves the volunteer attached keeps it."""
    ev = run(S, judgement("swb", "medium", CHRISTMAS_EVE),
             case(volunteer_attached=True, ratings=rated(swb="low")))
    step = open_step(created(ev, "update_volunteer"), UUID(int=28))
    detached = run(S, event("case_changed", CHRISTMAS_EVE,
                            changes={"volunteer_attached": [True, False]}),
                   case(volunteer_attached=False, ratings=rated(swb="medium"),
                        open_steps=(step,)))
    assert [(i.action, i.step_id) for i in intents(detached, "supersede")] == [
        ("supersede", UUID(int=28))]
    kept = run(S, event("case_changed", CHRISTMAS_EVE,
                        changes={"csc_status": ["none", "cin"]}),
               case(volunteer_attached=True, csc_status="cin", ratings=rated(swb="medium"),
                    open_steps=(step,)))
    assert intents(kept, "supersede") == []


def test_REG_somerset_register_follows_rosh_and_swb() -> None:
    """REG: somerset register follows rosh and swb."""
    ev = run(S, judgement("swb", "high", CHRISTMAS_EVE))
    assert ev.on_register_after is True
    assert ev.register_change == "registered"
    lor = run(S, judgement("lor", "high", CHRISTMAS_EVE))
    assert lor.on_register_after is False
    assert lor.register_change is None
    assert lor.contact_level is None  # Somerset sets no contact table


def test_S14_new_incident_on_medium_case_reviewed_next_working_day() -> None:
    """S14: a new incident (a significant change, 2.1) also needs AssetPlus reviewed (4.2)."""
    ev = run(S, event("case_event", THU_BEFORE_GOOD_FRIDAY, EVENT_ID, type="new_incident",
                      may_raise_to_high=False), case(ratings=rated(swb="high")))
    # Good Friday and Easter Monday are bank holidays: Tuesday 7 April, end of day BST.
    assert_step(created(ev, "review_assessment"), rule="S14", code="review_assessment",
                actor="case_holder", due=end_of(date(2026, 4, 7), bst=True), pack=S, ref="4.2")
    low_case = run(S, event("case_event", THU_BEFORE_GOOD_FRIDAY, EVENT_ID, type="new_incident"),
                   case(ratings=rated(rosh="low", swb="low")))
    assert created(low_case, "review_assessment").policy_ref == "2.1"  # undated (2.1)
    non_statutory = run(S, event("case_event", THU_BEFORE_GOOD_FRIDAY, EVENT_ID,
                                 type="new_incident"),
                        case(ratings=rated(rosh="low"), statutory=False,
                             intervention="prevention"))
    assert "review_assessment" not in codes(non_statutory)


def test_S23_twenty_days_after_closure_are_london_calendar_days() -> None:
    """S23: closed 1 Oct 2026 17:00: a charge late on 21 Oct London qualifies, 22 Oct does not."""
    closed = case(closed_at=lon(2026, 10, 1, 17))
    late_on_day_20 = run(S, event("case_event", lon(2026, 10, 21, 23, 30), EVENT_ID,
                                  type="charged"), closed)
    assert {"inform_service_manager", "notify_serious_incident"} <= codes(late_on_day_20)
    assert created(late_on_day_20, "inform_service_manager").due_at == utc(2026, 10, 21, 22, 30)
    day_21 = run(S, event("case_event", lon(2026, 10, 22, 0, 30), EVENT_ID, type="charged"),
                 closed)
    assert codes(day_21) == set()
    # Before the closure (an event recorded late) still qualifies.
    assert "inform_service_manager" in codes(run(
        S, event("case_event", lon(2026, 9, 30, 9), EVENT_ID, type="death"), closed))


def test_M1_somerset_major_or_critical_impact_is_never_low_rosh() -> None:
    """2.3: a potential major or critical impact triggers medium, high or very high ROSH."""
    for impact in ("major", "critical"):
        refused = run(S, judgement("rosh", "low", CHRISTMAS_EVE, impact=impact,
                                   likelihood="unlikely"))
        assert [(v.rule_id, v.status, v.type_slug) for v in refused.violations] == [
            ("M1", 422, "level-below-impact-floor")]
        assert refused.intents == ()
    ok = run(S, judgement("rosh", "medium", CHRISTMAS_EVE, impact="major", likelihood="possible"))
    assert ok.violations == ()
    assert ok.matrix_level == "medium"
    assert run(S, judgement("rosh", "low", CHRISTMAS_EVE, impact="medium",
                            likelihood="likely")).violations == ()


def test_S12_S13_S6_undated_steps_say_the_policy_sets_no_timescale() -> None:
    """Issue 10 item 10: "wherever a deadline cannot be computed, the step's note says what is
    missing". Somerset gives no timescale for telling the child and carer (S12), updating the
    intervention plan (S13) or countersigning the risk plan (S6) after a high SWB judgement:
    each undated step says so, after any note of its own line."""
    from app.workflows.deadlines import NO_TIMESCALE_NOTE

    ev = run("somerset-yjt-2023", judgement("swb", "high", lon(2026, 8, 28, 15)))
    for code in ("inform_child_and_carer", "update_intervention_plan"):
        step = created(ev, code)
        assert (step.due_at, step.awaiting_panel_date, step.note) == (None, False,
                                                                     NO_TIMESCALE_NOTE)
    countersign = created(ev, "countersign_risk_plan")
    assert countersign.due_at is None
    assert countersign.note == ("The duty manager stands in if the line manager is unavailable."
                                "\n" + NO_TIMESCALE_NOTE)


def test_S14_charge_after_a_same_day_closure_asks_no_review_of_the_closed_case() -> None:
    """S14 (4.2, attack 24b, A24b-7): "Where there is a change of circumstances, context or a
    new incident of concern becomes known to the case holder, this must be recorded ... and the
    AssetPlus reviewed within 24 hours or the next working day": a review of a case under
    supervision. Closed Monday 2 November 2026 09:00 GMT (SWB medium); a charge at 09:40 the
    same day is on the closed case: only S23's pair (12, "up to 20 days following the end of
    supervision"), no AssetPlus review. At 08:40, before the closure, the review is owed."""
    closed = case(closed_at=utc(2026, 11, 2, 9), ratings=rated(swb="medium"))
    after = run(S, event("case_event", utc(2026, 11, 2, 9, 40), EVENT_ID, type="charged"),
                closed)
    assert codes(after) == {"inform_service_manager", "notify_serious_incident"}
    before = run(S, event("case_event", utc(2026, 11, 2, 8, 40), EVENT_ID, type="charged"),
                 closed)
    assert "review_assessment" in codes(before)


def test_S14_charge_inside_a_closed_period_asks_no_review_after_reopening() -> None:
    """S14 (4.2, attack 24b, A24b-3): the AssetPlus "reviewed within 24 hours or the next working
    day" is owed by an open case, judged at the act's time: closed Saturday 29 August 2026 10:00
    BST, reopened Tuesday 1 September 09:00 BST, a charge dated Sunday 30 August recorded after
    the reopening asks only S23's pair (12), as it does recorded while the case is closed."""
    reopened = case(closed_periods=((utc(2026, 8, 29, 9), utc(2026, 9, 1, 8)),),
                    ratings=rated(swb="medium"))
    inside = run(S, event("case_event", lon(2026, 8, 30, 10), EVENT_ID, type="charged"),
                 reopened)
    assert codes(inside) == {"inform_service_manager", "notify_serious_incident"}
    assert "review_assessment" in codes(run(
        S, event("case_event", lon(2026, 9, 1, 10), EVENT_ID, type="charged"), reopened))
