"""Wokingham PYJS (wokingham-pyjs-2024): one test per rule, on real England-and-Wales dates."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID

import pytest

from app.workflows.types import WorkflowEvent
from tests.workflows.support import (
    CASE_ID,
    CHRISTMAS_EVE,
    EVENT_ID,
    FRI_BEFORE_BANK_HOLIDAY,
    THU_BEFORE_GOOD_FRIDAY,
    WOKINGHAM,
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
    rated,
    run,
    utc,
)

W = WOKINGHAM
ITEM_ID = UUID("00000000-0000-4000-8000-00000000a1e3")
REFERRAL_ID = UUID("00000000-0000-4000-8000-0000000ef0a1")
VICTIMS = {"victims": ["ex-partner"]}


def incident(at: datetime, kind: str = "new_incident", **data: Any) -> WorkflowEvent:
    """A case_event on its own event id."""
    return event("case_event", at, EVENT_ID, type=kind, may_raise_to_high=False, **data)


@pytest.mark.parametrize(
    ("intervention", "statutory", "title_part"),
    [
        ("prevention", False, "mini-asset"),
        ("community_resolution", False, "mini-asset"),
        ("youth_caution", False, "Asset+"),
        ("youth_conditional_caution", False, "Asset+"),
        ("court_order", True, "Asset+"),
        ("bail", True, "Asset+"),
        ("remand", True, "Asset+"),
        ("pre_sentence_report", True, "Asset+"),
        ("targeted", False, "lead professional"),
    ],
)
def test_W1_assessment_type_follows_the_intervention(
    intervention: str, statutory: bool, title_part: str
) -> None:
    """W1: assessment type follows the intervention."""
    ev = run(W, event("case_opened", FRI_BEFORE_BANK_HOLIDAY),
             case(intervention=intervention, statutory=statutory))
    step = created(ev, "complete_assessment")
    assert_step(step, rule="W1", code="complete_assessment", actor="case_holder", due=None,
                pack=W, ref="Assessment type")
    assert title_part in step.title


def test_W2_submitted_assessment_countersigned_with_feedback() -> None:
    """W2: submitted assessment countersigned with feedback."""
    ev = run(W, event("assessment_submitted", CHRISTMAS_EVE, EVENT_ID, type="mini_asset",
                      stage="start"))
    step = created(ev, "countersign_assessment")
    assert_step(step, rule="W2", code="countersign_assessment", actor="line_manager", due=None,
                pack=W, ref="Assessment Reviews, Management oversight")
    assert step.note
    assert "not complete until countersigned" in step.note


def test_W3_statutory_review_in_six_months_or_three_when_high() -> None:
    """W3: statutory review in six months or three when high."""
    signed = event("assessment_countersigned", lon(2026, 1, 31, 9, 30), EVENT_ID,
                   role="line_manager", type="asset_plus", stage="start")
    ev = run(W, signed, case(ratings=rated(rosh="medium", swb="low", lor="medium")))
    # 31 January + 6 months = 31 July (BST): 08:30Z.
    assert_step(created(ev, "review_assessment"), rule="W3", code="review_assessment",
                actor="case_holder", due=utc(2026, 7, 31, 8, 30), pack=W, ref="Assessment Reviews")
    high = run(W, signed, case(ratings=rated(rosh="low", swb="high", lor="low")))
    # + 3 months from 31 January clamps to 30 April (BST): 08:30Z.
    assert created(high, "review_assessment").due_at == utc(2026, 4, 30, 8, 30)
    out_of_court = run(W, signed, case(intervention="youth_caution", statutory=False))
    assert "review_assessment" not in codes(out_of_court)


def test_W4_incident_on_a_tuesday_is_recorded_by_end_of_wednesday() -> None:
    """W4: incident on a tuesday is recorded by end of wednesday."""
    ev = run(W, incident(lon(2026, 10, 20, 16)))
    assert_step(created(ev, "record_incident"), rule="W4", code="record_incident",
                actor="case_holder", due=end_of(date(2026, 10, 21), bst=True), pack=W,
                ref="Internal and External Controls")


def test_W4_incident_on_a_friday_is_recorded_that_friday() -> None:
    """W4: incident on a friday is recorded that friday."""
    ev = run(W, incident(FRI_BEFORE_BANK_HOLIDAY, "change_of_circumstances"))
    assert created(ev, "record_incident").due_at == end_of(date(2026, 8, 28), bst=True)


def test_W4_incident_before_good_friday_is_recorded_that_thursday() -> None:
    """W4: incident before good friday is recorded that thursday."""
    ev = run(W, incident(THU_BEFORE_GOOD_FRIDAY))
    assert created(ev, "record_incident").due_at == end_of(date(2026, 4, 2), bst=True)


def test_W4_incident_on_christmas_eve_is_recorded_that_day() -> None:
    """W4: incident on christmas eve is recorded that day."""
    ev = run(W, incident(CHRISTMAS_EVE))
    assert created(ev, "record_incident").due_at == end_of(date(2026, 12, 24), bst=False)


def test_W4_incident_known_on_a_saturday_is_due_the_next_working_day() -> None:
    """W4: incident known on a saturday is due the next working day."""
    ev = run(W, incident(lon(2026, 8, 29, 10)))
    # Monday 31 August is the late-summer bank holiday: Tuesday 1 September.
    assert created(ev, "record_incident").due_at == end_of(date(2026, 9, 1), bst=True)


def test_W4_two_incidents_need_two_record_incident_steps() -> None:
    """W4: two incidents need two record incident steps."""
    first = created(run(W, incident(lon(2026, 10, 20, 16))), "record_incident")
    snapshot = case(open_steps=(open_step(first, UUID(int=1)),))
    second = run(W, event("case_event", lon(2026, 10, 21, 9), UUID(int=99), type="new_incident"),
                 snapshot)
    assert created(second, "record_incident").subject_id == UUID(int=99)


def test_W4_charge_dated_after_closure_raises_no_incident_steps_on_the_closed_case() -> None:
    """W4-W7 (attack 23b, A23b-1): "Where there is a change of circumstances, context or a new
    incident of concern becomes known to the PYJS worker, this must be recorded on the IYSS case
    management system within one working day and immediately be reported to the line manager";
    the case worker's records of the work close with the case (as Somerset S14's review).

    Closed on Friday 30 April 2027 at 17:00 BST. A charge (may raise ROSH to high) or a death
    dated Monday 31 May 2027 (the spring bank holiday, a month end) asks only W24's serious
    incident notification: no IYSS record (W4), report (W5), Asset+ review (W6) nor High-Risk
    Panel request (W7) on the closed case. A charge dated on the closure's day before it
    (16:30) is the open case's: recorded by the end of that Friday; one after it the same day
    (18:00) is on the closed case (attack 24b, A24b-7: compared by instant)."""
    closed = case(closed_at=utc(2027, 4, 30, 16), ratings=rated(rosh="medium"))
    for kind in ("charged", "death", "new_incident"):
        late = run(W, event("case_event", lon(2027, 5, 31, 10), EVENT_ID, type=kind,
                            may_raise_to_high=True), closed)
        assert not {"record_incident", "report_to_line_manager", "review_assessment",
                    "request_high_risk_panel"} & set(codes(late)), kind
    assert "notify_serious_incident" in codes(
        run(W, event("case_event", lon(2027, 5, 31, 10), EVENT_ID, type="charged"), closed))
    after_it = run(W, incident(lon(2027, 4, 30, 18), "charged"), closed)
    assert not {"record_incident", "report_to_line_manager", "review_assessment"} \
        & set(codes(after_it))
    same_day = run(W, incident(lon(2027, 4, 30, 16, 30), "charged"), closed)
    assert_step(created(same_day, "record_incident"), rule="W4", code="record_incident",
                actor="case_holder", due=end_of(date(2027, 4, 30), bst=True), pack=W,
                ref="Internal and External Controls")
    assert {"report_to_line_manager", "review_assessment"} <= set(codes(same_day))


def test_W4_W7_charge_after_a_same_day_closure_is_on_the_closed_case() -> None:
    """W4-W7 (attack 24b, A24b-7): "Where there is a change of circumstances, context or a new
    incident of concern becomes known to the PYJS worker, this must be recorded on the IYSS case
    management system within one working day and immediately be reported to the line manager";
    "It will be the responsibility of the case worker or their line manager to request a
    High-Risk Panel within two working days": duties of a case under supervision.

    Closed on Monday 2 November 2026 at 09:00 GMT (the order completed); a charge that may raise
    ROSH to high dated 09:40 the same day is on the closed case: no IYSS record (W4), report
    (W5), Asset+ review (W6) nor High-Risk Panel request (W7), only W24's notification. The
    same charge at 08:40, before the closure, is the open case's."""
    closed = case(closed_at=utc(2026, 11, 2, 9), ratings=rated(rosh="medium"))
    after = run(W, event("case_event", utc(2026, 11, 2, 9, 40), EVENT_ID, type="charged",
                         may_raise_to_high=True), closed)
    assert set(codes(after)) == {"notify_serious_incident"}
    before = run(W, event("case_event", utc(2026, 11, 2, 8, 40), EVENT_ID, type="charged",
                          may_raise_to_high=True), closed)
    assert {"record_incident", "report_to_line_manager", "review_assessment",
            "request_high_risk_panel", "notify_serious_incident"} <= set(codes(before))


def test_W4_W7_charge_inside_a_closed_period_raises_no_open_case_duties_after_reopening() -> None:
    """W4-W7 (attack 24b, A24b-3): "this must be recorded on the IYSS case management system
    within one working day and immediately be reported to the line manager" is a duty of an
    open case, judged at the act's time, not the time it is typed in.

    Closed Saturday 29 August 2026 10:00 BST, reopened Tuesday 1 September 09:00 BST; a charge
    dated Sunday 30 August (inside the closed period) recorded after the reopening asks only
    W24's notification, as it does when recorded before the reopening; one dated after the
    reopening (1 September 10:00) is the open case's."""
    reopened = case(closed_periods=((utc(2026, 8, 29, 9), utc(2026, 9, 1, 8)),),
                    intervention="prevention", statutory=False, ratings=rated(rosh="medium"))
    inside = run(W, event("case_event", lon(2026, 8, 30, 10), EVENT_ID, type="charged",
                          may_raise_to_high=True), reopened)
    assert set(codes(inside)) == {"notify_serious_incident"}
    still_closed = case(closed_at=utc(2026, 8, 29, 9), intervention="prevention",
                        statutory=False, ratings=rated(rosh="medium"))
    assert set(codes(run(W, event("case_event", lon(2026, 8, 30, 10), EVENT_ID, type="charged",
                                  may_raise_to_high=True), still_closed))) == set(codes(inside))
    later = run(W, event("case_event", lon(2026, 9, 1, 10), EVENT_ID, type="charged",
                         may_raise_to_high=True), reopened)
    assert {"record_incident", "report_to_line_manager", "request_high_risk_panel"} \
        <= set(codes(later))


def test_W5_incident_reported_to_line_manager_immediately() -> None:
    """W5: incident reported to line manager immediately."""
    ev = run(W, incident(FRI_BEFORE_BANK_HOLIDAY))
    assert_step(created(ev, "report_to_line_manager"), rule="W5", code="report_to_line_manager",
                actor="case_holder", due=utc(2026, 8, 28, 14, 30), pack=W,
                ref="Internal and External Controls", urgent=True)


def test_W6_statutory_case_reviews_asset_plus_within_three_weeks() -> None:
    """W6: statutory case reviews asset plus within three weeks."""
    ev = run(W, incident(lon(2026, 10, 9, 12)))
    # 9 October (BST) + 3 weeks = 30 October (GMT), same wall time: 12:00Z.
    assert_step(created(ev, "review_assessment"), rule="W6", code="review_assessment",
                actor="case_holder", due=utc(2026, 10, 30, 12), pack=W, ref="Assessment Reviews")
    diversion = run(W, incident(lon(2026, 10, 9, 12)),
                    case(intervention="community_resolution", statutory=False))
    assert "review_assessment" not in codes(diversion)


def test_W7_high_rosh_requests_high_risk_panel_within_two_working_days() -> None:
    """W7: high rosh requests high risk panel within two working days."""
    ev = run(W, judgement("rosh", "high", FRI_BEFORE_BANK_HOLIDAY, **VICTIMS))
    # Friday 28 August: Monday is a bank holiday, so Tuesday (1) and Wednesday (2).
    assert_step(created(ev, "request_high_risk_panel"), rule="W7",
                code="request_high_risk_panel", actor="case_holder",
                due=end_of(date(2026, 9, 2), bst=True), pack=W, ref="High Risk Panel")


def test_W7_event_that_may_raise_to_high_requests_a_panel() -> None:
    """W7: event that may raise to high requests a panel."""
    ev = run(W, event("case_event", THU_BEFORE_GOOD_FRIDAY, EVENT_ID, type="new_incident",
                      may_raise_to_high=True))
    step = created(ev, "request_high_risk_panel")
    assert_step(step, rule="W7", code="request_high_risk_panel", actor="case_holder",
                due=end_of(date(2026, 4, 8), bst=True), pack=W, ref="High Risk Panel")
    assert step.subject_id == EVENT_ID


def test_W8_requested_panel_is_held_by_the_chair_within_a_week() -> None:
    """W8: requested panel is held by the chair within a week."""
    data: dict[str, Any] = {
        "code": "request_high_risk_panel", "rule_id": "W7", "step_id": str(UUID(int=2)),
        "due_at": end_of(date(2026, 9, 2), bst=True), "completed_by_role": "case_holder",
        "actor": "case_holder",
    }
    ev = run(W, event("step_completed", lon(2026, 9, 1, 11), **data))
    step = created(ev, "hold_high_risk_panel")
    assert_step(step, rule="W8", code="hold_high_risk_panel", actor="chair",
                due=utc(2026, 9, 8, 10), pack=W, ref="High Risk Panel, Management oversight")
    # The panel referral that satisfied the request does not open a second one.
    snapshot = case(open_steps=(open_step(step, UUID(int=8)),))
    referral = run(W, submitted(lon(2026, 9, 1, 11)), snapshot)
    assert [i.action for i in intents(referral, code="hold_high_risk_panel")] == ["keep"]


def submitted(at: datetime, action: str = "submit", to_status: str = "submitted",
              kind: str = "panel") -> WorkflowEvent:
    """A referral_transition event on the test referral."""
    return event("referral_transition", at, REFERRAL_ID, kind=kind, action=action,
                 to_status=to_status)


def test_W8_panel_referral_alone_asks_the_chair_to_hold_the_panel() -> None:
    """W8: a submitted panel referral alone asks the chair to hold the panel."""
    ev = run(W, submitted(CHRISTMAS_EVE))
    step = created(ev, "hold_high_risk_panel")
    assert step.subject_id == REFERRAL_ID
    assert step.due_at == utc(2026, 12, 31, 9, 15)


def test_W9_high_swb_not_open_to_social_care_needs_a_marf_within_two_working_days() -> None:
    """W9: high swb not open to social care needs a marf within two working days."""
    ev = run(W, judgement("swb", "high", CHRISTMAS_EVE))
    # Christmas Day, weekend, Boxing Day observed Monday 28: Tuesday 29 (1), Wednesday 30 (2).
    assert_step(created(ev, "marf_referral"), rule="W9", code="marf_referral",
                actor="case_holder", due=end_of(date(2026, 12, 30), bst=False), pack=W,
                ref="Management of Safety and Well-being concerns")


def test_W9_marf_counts_from_the_countersignature_of_the_judgements_assessment() -> None:
    """W9: "... within two working days of the assessment being completed ..."; "An assessment
    ... is not considered complete until it has been counter signed by a line manager". A SWB
    judgement back-filled on Tuesday 22 December with an Asset+ countersigned on Christmas Eve
    counts from the countersignature, not from the judgement: Tuesday 29 (1), Wednesday 30 (2)
    (Christmas Day, the weekend and Boxing Day observed on Monday 28 are not working days)."""
    ev = run(W, judgement("swb", "high", lon(2026, 12, 22, 10),
                          assessment_completed_at=CHRISTMAS_EVE.isoformat()))
    step = created(ev, "marf_referral")
    assert_step(step, rule="W9", code="marf_referral", actor="case_holder",
                due=end_of(date(2026, 12, 30), bst=False), pack=W,
                ref="Management of Safety and Well-being concerns")
    assert step.reasons[0]["counted_from"] == "2026-12-24T09:15:00+00:00"


@pytest.mark.parametrize("flag", ["assessment_pending", "assessment_unnamed"])
def test_W9_marf_waits_for_the_assessment_to_be_completed(flag: str) -> None:
    """W9: "... within two working days of the assessment being completed ...": a SWB judgement
    whose assessment is not yet countersigned, or recorded without one, sets no deadline yet and
    says why; the countersignature that completes the SWB rating (Thursday 2 April 2026, before
    Easter) dates it: Wednesday 8 April (Good Friday and Easter Monday are bank holidays)."""
    ev = run(W, judgement("swb", "high", lon(2026, 3, 31, 10), **{flag: True}))
    marf = created(ev, "marf_referral")
    assert_step(marf, rule="W9", code="marf_referral", actor="case_holder", due=None, pack=W,
                ref="Management of Safety and Well-being concerns")
    assert marf.note is not None
    assert "countersigned" in marf.note
    snapshot = case(ratings=rated(swb="high"), open_steps=(open_step(marf, UUID(int=9)),))
    other = run(W, event("assessment_countersigned", THU_BEFORE_GOOD_FRIDAY, EVENT_ID,
                         type="asset_plus", stage="review"), snapshot)
    assert intents(other, "update_due", "marf_referral") == []
    signed = run(W, event("assessment_countersigned", THU_BEFORE_GOOD_FRIDAY, EVENT_ID,
                          type="asset_plus", stage="start", completes_swb_rating=True), snapshot)
    [dated] = intents(signed, "update_due", "marf_referral")
    assert (dated.step_id, dated.rule_id, dated.actor, dated.policy_ref) == (
        UUID(int=9), "W9", "case_holder", "Management of Safety and Well-being concerns")
    assert dated.due_at == end_of(date(2026, 4, 8), bst=True)


def test_W10_high_swb_open_to_social_care_aligns_with_their_plan() -> None:
    """W10: high swb open to social care aligns with their plan."""
    ev = run(W, judgement("swb", "very_high", CHRISTMAS_EVE), case(csc_status="cic"))
    assert_step(created(ev, "align_with_social_care_plan"), rule="W10",
                code="align_with_social_care_plan", actor="case_holder", due=None, pack=W,
                ref="Management of Safety and Well-being concerns")
    assert "marf_referral" not in codes(ev)


@pytest.mark.parametrize(
    ("before", "domain", "level", "expected"),
    [
        (rated(rosh="low", swb="low"), "lor", "low", "fortnightly"),
        (rated(rosh="low", swb="medium"), "lor", "low", "weekly"),
        (rated(rosh="low", swb="low"), "lor", "medium", "weekly"),
        (rated(rosh="low", lor="low"), "swb", "high", "twice_weekly"),
        (rated(rosh="high", swb="low", lor="low"), "swb", "very_high", "three_times_weekly"),
        (rated(), "lor", "low", None),
    ],
)
def test_W11_contact_level_from_the_three_domains(
    before: dict[str, str | None], domain: str, level: str, expected: str | None
) -> None:
    """W11: contact level from the three domains."""
    ev = run(W, judgement(domain, level, CHRISTMAS_EVE, **VICTIMS), case(ratings=before))
    assert ev.violations == ()
    assert ev.contact_level == expected


def test_W12_medium_or_above_in_any_domain_updates_the_risk_management_plan() -> None:
    """W12: medium or above in any domain updates the risk management plan."""
    ev = run(W, judgement("lor", "medium", CHRISTMAS_EVE))
    assert_step(created(ev, "update_risk_management_plan"), rule="W12",
                code="update_risk_management_plan", actor="case_holder", due=None, pack=W,
                ref="Management of Likelihood of (re-)offending")
    rosh = run(W, judgement("rosh", "medium", CHRISTMAS_EVE, **VICTIMS))
    assert created(rosh, "update_risk_management_plan").policy_ref == (
        "Management of Risk of Serious Harm")


def test_W13_exploitation_concern_open_to_social_care_is_discussed_with_social_worker() -> None:
    """W13: exploitation concern open to social care is discussed with social worker."""
    ev = run(W, incident(CHRISTMAS_EVE, "exploitation_concern"), case(csc_status="cin"))
    assert_step(created(ev, "discuss_with_social_worker"), rule="W13",
                code="discuss_with_social_worker", actor="case_holder", due=None, pack=W,
                ref="Contextual Safeguarding")
    assert "complete_exploitation_tool" not in codes(ev)


def test_W14_exploitation_concern_not_open_to_social_care_tool_then_triage() -> None:
    """W14: exploitation concern not open to social care tool then triage."""
    ev = run(W, incident(CHRISTMAS_EVE, "exploitation_concern"))
    assert_step(created(ev, "complete_exploitation_tool"), rule="W14",
                code="complete_exploitation_tool", actor="case_holder", due=None, pack=W,
                ref="Contextual Safeguarding")
    assert_step(created(ev, "submit_to_triage"), rule="W14", code="submit_to_triage",
                actor="case_holder", due=None, pack=W, ref="Contextual Safeguarding")


def test_W15_trafficking_concern_goes_to_the_nrm() -> None:
    """W15: trafficking concern goes to the nrm."""
    ev = run(W, incident(CHRISTMAS_EVE, "trafficking_concern"))
    assert_step(created(ev, "nrm_referral"), rule="W15", code="nrm_referral",
                actor="case_holder", due=None, pack=W, ref="Contextual Safeguarding")


def test_W16_category_1_notifies_central_mappa_unit_immediately() -> None:
    """W16: category 1 notifies central mappa unit immediately."""
    ev = run(W, event("case_changed", CHRISTMAS_EVE, changes={"mappa_category": [None, 1]}),
             case(mappa_category=1))
    assert_step(created(ev, "mappa_h_notification"), rule="W16", code="mappa_h_notification",
                actor="case_holder", due=utc(2026, 12, 24, 9, 15), pack=W,
                ref="Referrals into MAPPA", urgent=True)


def test_W16_category_2_in_custody_six_months_before_release() -> None:
    """W16: category 2 in custody six months before release."""
    snapshot = case(mappa_category=2, in_custody=True, expected_release_date=date(2027, 8, 31))
    ev = run(W, event("case_changed", CHRISTMAS_EVE, changes={"mappa_category": [None, 2]}),
             snapshot)
    # 31 August 2027 - 6 months = 28 February 2027 (clamped), end of day GMT.
    assert_step(created(ev, "mappa_h_notification"), rule="W16", code="mappa_h_notification",
                actor="case_holder", due=end_of(date(2027, 2, 28), bst=False), pack=W,
                ref="Referrals into MAPPA")


def test_W16_release_date_recorded_later_redates_the_open_notification() -> None:
    """W16: release date recorded later redates the open notification."""
    undated_case = case(mappa_category=2, in_custody=True)
    first = created(run(W, event("case_changed", CHRISTMAS_EVE,
                                 changes={"mappa_category": [None, 2]}), undated_case),
                    "mappa_h_notification")
    assert first.due_at is None
    assert first.note
    assert "no expected release date" in first.note
    snapshot = case(mappa_category=2, in_custody=True, expected_release_date=date(2027, 10, 1),
                    open_steps=(open_step(first, UUID(int=16)),))
    later = run(W, event("case_changed", lon(2027, 1, 4, 9),
                         changes={"expected_release_date": [None, "2027-10-01"]}), snapshot)
    update = intents(later, "update_due", "mappa_h_notification")
    assert [(u.step_id, u.due_at) for u in update] == [
        (UUID(int=16), end_of(date(2027, 4, 1), bst=True))]
    # With no open notification, a release-date change creates nothing.
    none_open = run(W, event("case_changed", lon(2027, 1, 4, 9),
                             changes={"expected_release_date": [None, "2027-10-01"]}),
                    case(mappa_category=2, in_custody=True))
    assert "mappa_h_notification" not in codes(none_open)


def test_W17_expected_mappa_level_2_needs_a_mappa_a_referral() -> None:
    """W17: expected mappa level 2 needs a mappa a referral."""
    ev = run(W, event("case_changed", CHRISTMAS_EVE, changes={"mappa_level": [None, 2]}),
             case(mappa_category=2, mappa_level=2))
    step = created(ev, "mappa_a_referral")
    assert_step(step, rule="W17", code="mappa_a_referral", actor="case_holder", due=None,
                pack=W, ref="Referrals into MAPPA")
    assert step.subject_id == CASE_ID


def test_W18_mappa_form_drafted_is_quality_assured_by_a_manager() -> None:
    """W18: mappa form drafted is quality assured by a manager."""
    ev = run(W, event("referral_created", CHRISTMAS_EVE, REFERRAL_ID, kind="mappa_h"))
    step = created(ev, "quality_assure_mappa_form")
    assert_step(step, rule="W18", code="quality_assure_mappa_form", actor="line_manager",
                due=None, pack=W, ref="Referrals into MAPPA")
    assert step.subject_id == REFERRAL_ID
    assert codes(run(W, event("referral_created", CHRISTMAS_EVE, REFERRAL_ID, kind="nrm"))) == set()


def test_W19_mappa_level_1_reviewed_monthly_at_the_high_risk_panel() -> None:
    """W19: mappa level 1 reviewed monthly at the high risk panel."""
    ev = run(W, event("case_changed", lon(2026, 1, 31, 12), changes={"mappa_level": [None, 1]}),
             case(mappa_category=3, mappa_level=1))
    step = created(ev, "high_risk_panel_review")
    assert_step(step, rule="W19", code="high_risk_panel_review", actor="chair",
                due=utc(2026, 2, 28, 12), pack=W, ref="Referrals into MAPPA")
    assert step.recurrence == "1m"
    done: dict[str, Any] = {
        "code": "high_risk_panel_review", "rule_id": "W19", "step_id": str(UUID(int=19)),
        "due_at": step.due_at, "completed_by_role": "chair", "actor": "chair",
    }
    nxt = run(W, event("step_completed", lon(2026, 2, 26, 15), role="chair", **done),
              case(mappa_category=3, mappa_level=1))
    # Reviewed 26 Feb 15:00 GMT: next due a month after the review, 26 March 15:00 GMT.
    assert created(nxt, "high_risk_panel_review").due_at == utc(2026, 3, 26, 15)
    ended = run(W, event("step_completed", lon(2026, 2, 26, 15), role="chair", **done),
                case(mappa_category=3, mappa_level=2))
    assert "high_risk_panel_review" not in codes(ended)


def test_W20_release_address_in_another_area_notifies_the_receiving_yjs() -> None:
    """W20: release address in another area notifies the receiving yjs; recorded with the
    release itself, the notice (due before the release) is due at once, urgent (A19-12)."""
    ev = run(W, incident(CHRISTMAS_EVE, "custody_release", release_address_other_area=True))
    assert_step(created(ev, "notify_receiving_yjs"), rule="W20", code="notify_receiving_yjs",
                actor="case_holder", due=CHRISTMAS_EVE.astimezone(UTC), pack=W,
                ref="Referrals into MAPPA", urgent=True)


def test_W21_risk_to_staff_recorded_next_working_day_across_the_october_clock_change() -> None:
    """W21: "this must be recorded on the IYSS case management system within one working day":
    known on Thursday 22 October (BST), recorded by the end of Friday 23 October (BST)."""
    ev = run(W, incident(lon(2026, 10, 22, 17, 45), "risk_to_staff"))
    assert_step(created(ev, "record_risk_to_staff"), rule="W21", code="record_risk_to_staff",
                actor="case_holder", due=end_of(date(2026, 10, 23), bst=True), pack=W,
                ref="Risk to staff, Internal and External Controls")


def test_W21_risk_to_staff_known_on_a_friday_is_recorded_that_friday() -> None:
    """W21 (attack 23b, A23b-4): "If the incident becomes known to the worker on a Friday or the
    last day before a prolonged absence (for example, the last working day before annual leave),
    it must be recorded and reported to their line manager before the end of the working week."
    A risk to staff known on Friday 23 October 17:45 (BST, the clocks go back on the Sunday) is
    recorded by the end of that Friday, not on Monday 26 October; known on Friday 28 August,
    before the late-summer bank holiday, by the end of that Friday too."""
    ev = run(W, incident(lon(2026, 10, 23, 17, 45), "risk_to_staff"))
    assert_step(created(ev, "record_risk_to_staff"), rule="W21", code="record_risk_to_staff",
                actor="case_holder", due=end_of(date(2026, 10, 23), bst=True), pack=W,
                ref="Risk to staff, Internal and External Controls")
    bank = run(W, incident(FRI_BEFORE_BANK_HOLIDAY, "risk_to_staff"))
    assert created(bank, "record_risk_to_staff").due_at == end_of(date(2026, 8, 28), bst=True)


def test_W21_risk_to_staff_known_on_the_last_day_before_leave_is_recorded_that_day() -> None:
    """W21 (A23b-4): "the last day before a prolonged absence (for example, the last working day
    before annual leave), it must be recorded [...] before the end of the working week": known on
    Wednesday 26 August, the case holder on leave from Thursday 27 August to Friday 4 September,
    the risk to staff is recorded by the end of that Wednesday."""
    snap = case(case_holder_absences=((date(2026, 8, 27), date(2026, 9, 4)),))
    ev = run(W, incident(lon(2026, 8, 26, 15), "risk_to_staff"), snap)
    assert created(ev, "record_risk_to_staff").due_at == end_of(date(2026, 8, 26), bst=True)


def test_W21_risk_to_staff_counts_from_when_it_became_known() -> None:
    """W21: "Where there is a change of circumstances, context or a new incident of concern
    becomes known to the PYJS worker, this must be recorded on the IYSS case management system
    within one working day" (the risk to staff is recorded as an IYSS life event). A threat made
    on Thursday 24 December, known to the worker only on Tuesday 29 December: recorded by the end
    of Wednesday 30 December (not the day after Christmas Eve, which had passed before anyone
    knew)."""
    ev = run(W, incident(CHRISTMAS_EVE, "risk_to_staff",
                         known_at=lon(2026, 12, 29, 9).isoformat()))
    step = created(ev, "record_risk_to_staff")
    assert_step(step, rule="W21", code="record_risk_to_staff", actor="case_holder",
                due=end_of(date(2026, 12, 30), bst=False), pack=W,
                ref="Risk to staff, Internal and External Controls")
    assert step.reasons[0]["counted_from"] == "2026-12-29T09:00:00+00:00"


def test_W22_high_risk_panel_decision_minutes_plan_and_actions() -> None:
    """W22: high risk panel decision minutes plan and actions."""
    actions = [{"description": "CAMHS consultation", "owner_id": "camhs-2",
                "due_date": "2026-03-29"}]
    ev = run(W, event("panel_decision", lon(2026, 3, 26, 10), ITEM_ID, role="chair",
                      rosh_level="high", actions=actions, panel_kind="high_risk_panel",
                      review_date=date(2026, 4, 23)),
             case(ratings=rated(rosh="high")))
    assert_step(created(ev, "upload_panel_minutes"), rule="W22", code="upload_panel_minutes",
                actor="case_holder", due=None, pack=W, ref="High Risk Panel")
    assert_step(created(ev, "update_risk_management_plan"), rule="W22",
                code="update_risk_management_plan", actor="case_holder", due=None, pack=W,
                ref="High Risk Panel")
    action = created(ev, "panel_action")
    # 29 March 2026 is the day BST starts: end of day is 22:59:59Z.
    assert_step(action, rule="W22", code="panel_action", actor="action_owner",
                due=end_of(date(2026, 3, 29), bst=True), pack=W, ref="High Risk Panel")
    assert action.assignee_id == "camhs-2"


def test_W23_any_level_change_including_lor_is_shared_with_child_and_family() -> None:
    """W23: any level change including lor is shared with child and family."""
    ev = run(W, judgement("lor", "high", CHRISTMAS_EVE), case(ratings=rated(lor="medium")))
    assert_step(created(ev, "inform_child_and_carer"), rule="W23", code="inform_child_and_carer",
                actor="case_holder", due=None, pack=W, ref="Risk Management")
    same = run(W, judgement("lor", "medium", CHRISTMAS_EVE), case(ratings=rated(lor="medium")))
    assert "inform_child_and_carer" not in codes(same)


def test_REG_wokingham_register_and_registration_change() -> None:
    """REG: wokingham register and registration change."""
    ev = run(W, judgement("rosh", "very_high", CHRISTMAS_EVE, **VICTIMS))
    assert ev.register_change == "registered"
    assert ev.on_register_after is True
    assert ev.ratings_after == {"rosh": "very_high", "swb": None, "lor": None}
    assert "request_high_risk_panel" in codes(ev)
    assert CASE_ID == created(
        ev, "request_high_risk_panel").subject_id


# --- QA policy fixes ---------------------------------------------------------------------------

# "a specific action plan and risk classification should be agreed": one action (A23b-2).
HIGH_PANEL: dict[str, Any] = {
    "actions": [{"description": "Review the plan", "owner_id": "case_holder-1",
                 "due_date": "2026-09-10"}],
    "panel_kind": "high_risk_panel"}


def test_W22_decision_leaving_high_needs_a_review_date() -> None:
    """W22: "including when should the child be discussed again at the panel": 422 without."""
    for levels in ({"rosh_level": "high"}, {"swb_level": "very_high"}):
        refused = run(W, event("panel_decision", lon(2026, 9, 3, 11), ITEM_ID, role="chair",
                               **levels, **HIGH_PANEL), case(ratings=rated(rosh="high")))
        assert [(v.rule_id, v.status, v.type_slug) for v in refused.violations] == [
            ("W22", 422, "review-date-required")]
        assert refused.violations[0].errors[0][0] == "body.review_date"
        assert refused.intents == ()
    # A decision leaving both below high needs no review date, and books no panel review.
    lowered = run(W, event("panel_decision", lon(2026, 9, 3, 11), ITEM_ID, role="chair",
                           rosh_level="medium", swb_level="low", **HIGH_PANEL),
                  case(ratings=rated(rosh="high", swb="low")))
    assert lowered.violations == ()
    assert "attend_panel_review" not in codes(lowered)


def test_W22_review_date_books_the_panel_review_held_while_high() -> None:
    """W22: with a review date, the case holder brings the child back then; the date is the
    panel's ("including when should the child be discussed again at the panel"): a later
    judgement lowering the rating does not cancel it (A19-16); the next decision replaces it."""
    ev = run(W, event("panel_decision", lon(2026, 9, 3, 11), ITEM_ID, role="chair",
                      rosh_level="high", review_date=date(2026, 10, 1), **HIGH_PANEL),
             case(ratings=rated(rosh="high")))
    review = created(ev, "attend_panel_review")
    # 1 October 2026 is BST: end of day is 22:59:59Z.
    assert_step(review, rule="W22", code="attend_panel_review", actor="case_holder",
                due=end_of(date(2026, 10, 1), bst=True), pack=W, ref="High Risk Panel")
    assert review.deadline_form == "review-date"
    snapshot = case(ratings=rated(rosh="high"), open_steps=(open_step(review, UUID(int=22)),))
    # The next panel decision with a new review date replaces it.
    again = run(W, event("panel_decision", lon(2026, 10, 1, 11), UUID(int=222), role="chair",
                         rosh_level="high", review_date=date(2026, 11, 5), **HIGH_PANEL),
                snapshot)
    assert created(again, "attend_panel_review").due_at == end_of(date(2026, 11, 5), bst=False)
    assert [i.step_id for i in intents(again, "supersede", "attend_panel_review")] == [
        UUID(int=22)]
    # ROSH back to low on the case worker's judgement: the panel's agreed date stays owed.
    lowered = run(W, judgement("rosh", "low", lon(2026, 9, 20, 10)), snapshot)
    assert intents(lowered, "supersede", "attend_panel_review") == []


@pytest.mark.parametrize("kind", ["charged", "death"])
def test_W4_W5_charge_or_death_is_a_new_incident_of_concern(kind: str) -> None:
    """W4/W5: a charge or a death is recorded within a working day and reported at once."""
    # Tuesday 20 October 2026, 16:00 BST.
    ev = run(W, incident(lon(2026, 10, 20, 16), kind))
    assert_step(created(ev, "record_incident"), rule="W4", code="record_incident",
                actor="case_holder", due=end_of(date(2026, 10, 21), bst=True), pack=W,
                ref="Internal and External Controls")
    assert_step(created(ev, "report_to_line_manager"), rule="W5",
                code="report_to_line_manager", actor="case_holder", due=utc(2026, 10, 20, 15),
                pack=W, ref="Internal and External Controls", urgent=True)


def test_W6_charge_on_a_statutory_case_reviews_asset_plus_within_three_weeks() -> None:
    """W6: a charge on a statutory case: Asset+ reviewed within three weeks (not on a death)."""
    ev = run(W, incident(lon(2026, 10, 9, 12), "charged"))
    # 9 October (BST) + 3 weeks = 30 October (GMT), same wall time: 12:00Z.
    assert_step(created(ev, "review_assessment"), rule="W6", code="review_assessment",
                actor="case_holder", due=utc(2026, 10, 30, 12), pack=W, ref="Assessment Reviews")
    assert "review_assessment" not in codes(run(W, incident(lon(2026, 10, 9, 12), "death")))
    diversion = run(W, incident(lon(2026, 10, 9, 12), "charged"),
                    case(intervention="community_resolution", statutory=False))
    assert "review_assessment" not in codes(diversion)


def csc_change(old: str, new: str, at: datetime) -> WorkflowEvent:
    """A case_changed event on csc_status."""
    return event("case_changed", at, changes={"csc_status": [old, new]})


def test_W9_marf_superseded_when_the_child_becomes_open_to_social_care() -> None:
    """W9/W10: opening to social care supersedes the MARF and aligns with the social care plan."""
    marf = created(run(W, judgement("swb", "high", CHRISTMAS_EVE)), "marf_referral")
    snapshot = case(ratings=rated(swb="high"), open_steps=(open_step(marf, UUID(int=9)),))
    ev = run(W, csc_change("none", "cp", lon(2026, 12, 29, 10)), snapshot)
    superseded = intents(ev, "supersede", "marf_referral")
    assert [(i.step_id, i.rule_id) for i in superseded] == [(UUID(int=9), "W9")]
    align = created(ev, "align_with_social_care_plan")
    assert_step(align, rule="W10", code="align_with_social_care_plan", actor="case_holder",
                due=None, pack=W, ref="Management of Safety and Well-being concerns")
    assert align.subject_id == CASE_ID


def test_W10_social_care_status_change_realigns_only_when_swb_high() -> None:
    """W10: csc_status to cin/cic/cp with SWB high/very high aligns; SWB medium does not."""
    for status in ("cin", "cic", "cp"):
        ev = run(W, csc_change("none", status, CHRISTMAS_EVE),
                 case(ratings=rated(swb="very_high")))
        assert "align_with_social_care_plan" in codes(ev), status
    medium = run(W, csc_change("none", "cin", CHRISTMAS_EVE), case(ratings=rated(swb="medium")))
    assert "align_with_social_care_plan" not in codes(medium)
    # Closed by social care while SWB is high: the alignment ends and a MARF is needed again.
    align = created(run(W, judgement("swb", "high", CHRISTMAS_EVE), case(csc_status="cin")),
                    "align_with_social_care_plan")
    snapshot = case(csc_status="cin", ratings=rated(swb="high"),
                    open_steps=(open_step(align, UUID(int=10)),))
    closed = run(W, csc_change("cin", "none", CHRISTMAS_EVE), snapshot)
    assert [i.step_id for i in intents(closed, "supersede", "align_with_social_care_plan")] == [
        UUID(int=10)]
    # Christmas Day, weekend, Boxing Day observed Monday 28: Tuesday 29 (1), Wednesday 30 (2).
    assert_step(created(closed, "marf_referral"), rule="W9", code="marf_referral",
                actor="case_holder", due=end_of(date(2026, 12, 30), bst=False), pack=W,
                ref="Management of Safety and Well-being concerns")


def test_M4_still_asks_a_rationale_for_swb_below_the_social_care_starting_level() -> None:
    """M4 is untouched by the csc_status re-evaluation (W9/W10)."""
    refused = run(W, judgement("swb", "medium", CHRISTMAS_EVE), case(csc_status="cp"))
    assert [v.rule_id for v in refused.violations] == ["M4"]
    ok = run(W, judgement("swb", "medium", CHRISTMAS_EVE, rationale="Stable placement"),
             case(csc_status="cp"))
    assert ok.violations == ()
    assert "acknowledge_rating_rationale" in codes(ok)


def test_W11_swb_medium_is_weekly_not_fortnightly() -> None:
    """W11: fortnightly is "Low risk across all three domains"; any medium is weekly."""
    for ratings in (rated(rosh="low", swb="medium", lor="low"),
                    rated(rosh="medium", swb="low", lor="low"),
                    rated(rosh="low", swb="low", lor="medium")):
        ev = run(W, event("case_changed", CHRISTMAS_EVE, changes={}), case(ratings=ratings))
        assert ev.contact_level == "weekly", ratings
    low = run(W, event("case_changed", CHRISTMAS_EVE, changes={}),
              case(ratings=rated(rosh="low", swb="low", lor="low")))
    assert low.contact_level == "fortnightly"


def test_W16_six_month_point_already_past_is_due_at_the_event_and_urgent() -> None:
    """W16: release-6m already past at the event: due at the event, urgent, with a note."""
    snapshot = case(mappa_category=2, in_custody=True, expected_release_date=date(2027, 3, 31))
    ev = run(W, event("case_changed", CHRISTMAS_EVE, changes={"mappa_category": [None, 2]}),
             snapshot)
    step = created(ev, "mappa_h_notification")
    # 31 March 2027 - 6 months = 30 September 2026, already past on Christmas Eve 2026.
    assert_step(step, rule="W16", code="mappa_h_notification", actor="case_holder",
                due=utc(2026, 12, 24, 9, 15), pack=W, ref="Referrals into MAPPA", urgent=True)
    assert step.note
    assert "passed on Wednesday 30 September 2026" in step.note
    # The six-month point on the event's own day is not past: due at the end of that day.
    today = case(mappa_category=2, in_custody=True, expected_release_date=date(2027, 6, 24))
    same_day = created(run(W, event("case_changed", CHRISTMAS_EVE,
                                    changes={"mappa_category": [None, 2]}), today),
                       "mappa_h_notification")
    assert (same_day.due_at, same_day.urgent) == (end_of(date(2026, 12, 24), bst=False), False)


def test_W16_earlier_release_date_never_redates_the_notification_before_the_event() -> None:
    """W16: a release date brought forward past the six-month point re-dates it to the event."""
    first = created(run(W, event("case_changed", CHRISTMAS_EVE,
                                 changes={"mappa_category": [None, 2]}),
                            case(mappa_category=2, in_custody=True,
                                 expected_release_date=date(2027, 10, 1))),
                    "mappa_h_notification")
    snapshot = case(mappa_category=2, in_custody=True, expected_release_date=date(2027, 5, 3),
                    open_steps=(open_step(first, UUID(int=16)),))
    later = run(W, event("case_changed", lon(2027, 1, 4, 9),
                         changes={"expected_release_date": ["2027-10-01", "2027-05-03"]}),
                snapshot)
    update = intents(later, "update_due", "mappa_h_notification")
    # 3 May 2027 - 6 months = 3 November 2026: past on 4 January 2027, so due at the event.
    assert [(u.step_id, u.due_at, u.urgent) for u in update] == [
        (UUID(int=16), utc(2027, 1, 4, 9), True)]


def test_W18_mappa_referral_from_the_feed_is_not_quality_assured_here() -> None:
    """W18: only forms the service drafts are quality-assured, not feed deliveries."""
    feed = run(W, event("referral_created", CHRISTMAS_EVE, REFERRAL_ID, kind="mappa_a",
                        source="feed:mappa", from_feed=True))
    assert "quality_assure_mappa_form" not in codes(feed)
    drafted = run(W, event("referral_created", CHRISTMAS_EVE, REFERRAL_ID, kind="mappa_a",
                           source="api", from_feed=False))
    assert created(drafted, "quality_assure_mappa_form").rule_id == "W18"


def test_W8_a_draft_or_a_sent_panel_referral_does_not_ask_for_the_panel() -> None:
    """W8: the panel referral asks the chair to hold the panel when submitted, not drafted."""
    draft = run(W, event("referral_created", CHRISTMAS_EVE, REFERRAL_ID, kind="panel",
                         from_feed=False))
    assert "hold_high_risk_panel" not in codes(draft)
    sent = run(W, submitted(CHRISTMAS_EVE, "send", "sent"))
    assert "hold_high_risk_panel" not in codes(sent)
    other_kind = run(W, submitted(CHRISTMAS_EVE, kind="marf"))
    assert "hold_high_risk_panel" not in codes(other_kind)


@pytest.mark.parametrize(("action", "status"), [("withdraw", "withdrawn"), ("decline", "declined")])
def test_W8_withdrawn_or_declined_referral_supersedes_the_steps_about_it(
    action: str, status: str
) -> None:
    """W8/W18: a referral withdrawn or declined supersedes the open steps whose subject it is."""
    hold = created(run(W, submitted(CHRISTMAS_EVE)), "hold_high_risk_panel")
    qa = created(run(W, event("referral_created", CHRISTMAS_EVE, REFERRAL_ID, kind="mappa_h",
                              from_feed=False)), "quality_assure_mappa_form")
    minutes = created(run(W, incident(CHRISTMAS_EVE)), "record_incident")
    snapshot = case(open_steps=(open_step(hold, UUID(int=81)), open_step(qa, UUID(int=18)),
                                open_step(minutes, UUID(int=4))))
    ev = run(W, submitted(lon(2026, 12, 29, 10), action, status), snapshot)
    gone = intents(ev, "supersede")
    assert sorted(i.step_id for i in gone if i.step_id) == [UUID(int=18), UUID(int=81)]
    assert all(i.note and status in i.note for i in gone)
    assert not intents(ev, "create")


def test_W16_overdue_notification_is_not_moved_later_by_a_new_release_date() -> None:
    """W16: an already overdue notification keeps its date when the point is still past."""
    first = created(run(W, event("case_changed", CHRISTMAS_EVE,
                                 changes={"mappa_category": [None, 2]}),
                            case(mappa_category=2, in_custody=True,
                                 expected_release_date=date(2027, 3, 31))),
                    "mappa_h_notification")
    assert first.due_at == utc(2026, 12, 24, 9, 15)
    snapshot = case(mappa_category=2, in_custody=True, expected_release_date=date(2027, 4, 30),
                    open_steps=(open_step(first, UUID(int=16)),))
    later = run(W, event("case_changed", lon(2027, 1, 4, 9),
                         changes={"expected_release_date": ["2027-03-31", "2027-04-30"]}),
                snapshot)
    assert [i.action for i in intents(later, code="mappa_h_notification")] == ["keep"]
