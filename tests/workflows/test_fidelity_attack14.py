"""Attack pass 14 (practice fidelity): the seeds' sentences the packs did not yet follow, one test
per rule, on real England-and-Wales dates (bank holidays, clock changes, month ends)."""

from __future__ import annotations

from datetime import date, datetime
from uuid import UUID

from app.workflows.types import WorkflowEvent
from tests.workflows.support import (
    EVENT_ID,
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


# --- A14-1: Somerset transfer / secure estate documentation --------------------------------------

def transfer_out(at: datetime, transfer_date: date, **data: object) -> WorkflowEvent:
    """A transfer_out case event with its transfer date."""
    return ev_("case_event", at, EVENT_ID, type="transfer_out", transfer_date=transfer_date,
               **data)


def test_S30_transfer_out_documentation_up_to_date_before_the_transfer() -> None:
    """S30 (13.4.1): "Where cases are transferred /caretaken by other YJT's, the Somerset YJT case
    holder will ensure that all the relevant documentation is up to date and included with the
    transfer/care taking request."

    Any rating (here none); due at the start of the transfer day: Tuesday 29 December 2026
    (GMT), and Monday 19 October 2026 00:00 BST = 18 October 23:00Z before the clock change."""
    ev = run(S, transfer_out(lon(2026, 12, 24, 10), date(2026, 12, 29)))
    step = created(ev, "prepare_transfer_documentation")
    assert_step(step, rule="S30", code="prepare_transfer_documentation", actor="case_holder",
                due=utc(2026, 12, 29), pack=S, ref="13.4.1")
    assert step.subject_id == EVENT_ID
    bst = run(S, transfer_out(lon(2026, 10, 16, 10), date(2026, 10, 19)),
              case(ratings=rated(rosh="low", swb="low")))
    assert_step(created(bst, "prepare_transfer_documentation"), rule="S30",
                code="prepare_transfer_documentation", actor="case_holder",
                due=utc(2026, 10, 18, 23), pack=S, ref="13.4.1")


def test_S31_line_manager_checks_and_signs_off_before_the_transfer() -> None:
    """S31 (13.4.2): "The line manager will check all documentation and sign off relevant
    ASSETPLUS stage." Before the transfer the documentation goes with (13.4.1): a transfer on
    Sunday 28 March 2027 (the clock change) is due at 00:00 GMT that day."""
    ev = run(S, transfer_out(lon(2027, 3, 25, 10), date(2027, 3, 28)))
    assert_step(created(ev, "sign_off_transfer_documentation"), rule="S31",
                code="sign_off_transfer_documentation", actor="line_manager",
                due=utc(2027, 3, 28), pack=S, ref="13.4.2")


def custody(at: datetime, entry: bool, *, via_event: bool) -> WorkflowEvent:
    """A move into (or out of) custody: the event, or the case's in_custody changed by PATCH."""
    if via_event:
        kind = "custody_entry" if entry else "custody_release"
        return ev_("case_event", at, EVENT_ID, type=kind)
    return ev_("case_changed", at, changes={"in_custody": [not entry, entry]})


def test_S32_documents_available_at_the_point_of_transfer_to_the_secure_estate() -> None:
    """S32 (14.2): "It is the responsibility of case holders to ensure that all relevant documents
    including any information significant for the management of risk/safety and well-being
    concerns are available before or at the point of transfer." The move is the point: due at
    once (late only after that working day), by either route."""
    for via_event in (True, False):
        ev = run(S, custody(lon(2026, 12, 24, 10), True, via_event=via_event))
        assert_step(created(ev, "prepare_transfer_documentation"), rule="S32",
                    code="prepare_transfer_documentation", actor="case_holder",
                    due=utc(2026, 12, 24, 10), pack=S, ref="14.2", urgent=True)
    assert "prepare_transfer_documentation" not in codes(
        run(S, custody(lon(2026, 12, 24, 10), False, via_event=True)))


def test_S33_line_manager_ensures_documentation_countersigned_and_transferred() -> None:
    """S33 (14.2.1): "It is the responsibility of line managers to ensure that documentation has
    been countersigned and transferred appropriately." At the point of transfer (14.2), BST."""
    for via_event in (True, False):
        ev = run(S, custody(lon(2026, 10, 23, 16), True, via_event=via_event))
        assert_step(created(ev, "sign_off_transfer_documentation"), rule="S33",
                    code="sign_off_transfer_documentation", actor="line_manager",
                    due=utc(2026, 10, 23, 15), pack=S, ref="14.2.1", urgent=True)


def test_S27_patch_in_custody_gives_the_same_secure_estate_handover_as_the_event() -> None:
    """S27 (14.3): "When children are transferred to a secure setting, case holders will
    communicate with the relevant establishment by telephone and confirm by e-mail"; (14.4) "When
    children are transferred into the community from a secure setting, case holders will
    communicate with the secure establishment" (attack pass 14, A14-21)."""
    at = lon(2026, 12, 24, 10)
    for entry, ref in ((True, "14.3"), (False, "14.4")):
        by_event = created(run(S, custody(at, entry, via_event=True)), "secure_estate_handover")
        by_patch = created(run(S, custody(at, entry, via_event=False)), "secure_estate_handover")
        for step in (by_event, by_patch):
            assert_step(step, rule="S27", code="secure_estate_handover", actor="case_holder",
                        due=None, pack=S, ref=ref)
    # The in_custody change that follows the event itself asks for nothing more.
    follow = ev_("case_changed", at, changes={"in_custody": [False, True]}, custody_event=True)
    assert not intents(run(S, follow, case(ratings=rated(rosh="medium"))))


# --- A14-4: a charge and custody moves are changes of circumstances ------------------------------

def test_S14_charge_and_custody_moves_need_the_assetplus_review_next_working_day() -> None:
    """S14 (4.2): "Case holders will review AssetPlus as soon as possible (within 24 hrs/next
    working day) to evidence when changes of circumstance have occurred"; 12: "Appropriate risk
    management responses and actions will be undertaken as per 4.2.1"; 14.1: "Transfers to / from
    the secure estate represent periods of potentially increased risk".

    Christmas Eve 2026 -> Tuesday 29 December (25 and 28 December bank holidays); Friday 23
    October 2026 (BST) -> Monday 26 October 23:59:59 GMT, after the clock change."""
    medium = case(ratings=rated(rosh="medium"))
    for kind in ("charged", "custody_entry", "custody_release"):
        ev = run(S, ev_("case_event", lon(2026, 12, 24, 10), EVENT_ID, type=kind), medium)
        assert_step(created(ev, "review_assessment"), rule="S14", code="review_assessment",
                    actor="case_holder", due=end_of(date(2026, 12, 29), bst=False), pack=S,
                    ref="4.2")
    patched = run(S, custody(lon(2026, 10, 23, 16), False, via_event=False), medium)
    assert_step(created(patched, "review_assessment"), rule="S14", code="review_assessment",
                actor="case_holder", due=end_of(date(2026, 10, 26), bst=False), pack=S, ref="4.2")
    # A charge recorded after the case closed (S23's CSPPI window) asks for no review.
    closed = case(ratings=rated(rosh="medium"), closed_at=utc(2026, 12, 1, 12))
    late = run(S, ev_("case_event", lon(2026, 12, 10, 10), EVENT_ID, type="charged"), closed)
    assert "review_assessment" not in codes(late)
    assert "inform_service_manager" in codes(late)


def test_W4_W5_W6_custody_moves_are_recorded_reported_and_reviewed() -> None:
    """W4, W5 (Internal and External Controls): "Where there is a change of circumstances, context
    or a new incident of concern becomes known to the PYJS worker, this must be recorded on the
    IYSS case management system within one working day and immediately be reported to the line
    manager"; W6 (Assessment Reviews): "the Asset+ should be reviewed within three weeks of the
    new event becoming known".

    Christmas Eve 2026 (the last working day of its week): recorded by 23:59:59 that day,
    reported at once, reviewed by Thursday 14 January 2027; the same by PATCH in_custody."""
    at = lon(2026, 12, 24, 10)
    for entry in (True, False):
        for via_event in (True, False):
            ev = run(W, custody(at, entry, via_event=via_event))
            assert_step(created(ev, "record_incident"), rule="W4", code="record_incident",
                        actor="case_holder", due=end_of(date(2026, 12, 24), bst=False), pack=W,
                        ref="Internal and External Controls")
            assert_step(created(ev, "report_to_line_manager"), rule="W5",
                        code="report_to_line_manager", actor="case_holder",
                        due=utc(2026, 12, 24, 10), pack=W,
                        ref="Internal and External Controls", urgent=True)
            assert_step(created(ev, "review_assessment"), rule="W6", code="review_assessment",
                        actor="case_holder", due=utc(2027, 1, 14, 10), pack=W,
                        ref="Assessment Reviews")
    follow = ev_("case_changed", at, changes={"in_custody": [False, True]}, custody_event=True)
    assert not intents(run(W, follow))


# --- A14-19: the MAPPA A referral's timescales ---------------------------------------------------

def test_W17_mappa_a_referral_category_2_six_months_before_release() -> None:
    """W17 (Referrals into MAPPA): "For children that are expected to be managed at level 2/3, the
    PYJS should make the referral using the MAPPA A form ... Category 1 referrals must be made
    upon the registration becoming known to the PYJS (usually at point of sentence). Category 2
    referrals (i.e. for children in custody), the referral into MAPPA must be completed six
    months prior to their release into the community."

    Release 31 March 2028 -> 30 September 2027, end of day BST; 31 August 2027 -> 28 February
    2027 (month end), GMT."""
    level = ev_("case_changed", lon(2026, 12, 24, 10), changes={"mappa_level": [None, 2]})
    cat2 = case(mappa_category=2, mappa_level=2, in_custody=True,
                expected_release_date=date(2028, 3, 31))
    assert_step(created(run(W, level, cat2), "mappa_a_referral"), rule="W17",
                code="mappa_a_referral", actor="case_holder",
                due=end_of(date(2027, 9, 30), bst=True), pack=W, ref="Referrals into MAPPA")
    month_end = case(mappa_category=2, mappa_level=2, in_custody=True,
                     expected_release_date=date(2027, 8, 31))
    assert_step(created(run(W, level, month_end), "mappa_a_referral"), rule="W17",
                code="mappa_a_referral", actor="case_holder",
                due=end_of(date(2027, 2, 28), bst=False), pack=W, ref="Referrals into MAPPA")
    cat1 = case(mappa_category=1, mappa_level=2)
    assert_step(created(run(W, level, cat1), "mappa_a_referral"), rule="W17",
                code="mappa_a_referral", actor="case_holder", due=utc(2026, 12, 24, 10), pack=W,
                ref="Referrals into MAPPA", urgent=True)


def test_W17_release_date_recorded_later_dates_the_open_referral() -> None:
    """W17 (Referrals into MAPPA): "the referral into MAPPA must be completed six months prior to
    their release into the community": a release date recorded after the level dates the open
    referral (as W16 does the H notification)."""
    level = ev_("case_changed", lon(2026, 12, 24, 10), changes={"mappa_level": [None, 3]})
    undated = created(run(W, level, case(mappa_category=2, mappa_level=3)), "mappa_a_referral")
    assert undated.due_at is None
    snapshot = case(mappa_category=2, mappa_level=3, in_custody=True,
                    expected_release_date=date(2028, 3, 31),
                    open_steps=(open_step(undated, UUID(int=17)),))
    release = ev_("case_changed", lon(2027, 1, 5, 10),
                  changes={"expected_release_date": [None, date(2028, 3, 31)],
                           "in_custody": [False, True]})
    moved = intents(run(W, release, snapshot), "update_due", "mappa_a_referral")
    assert [(i.step_id, i.due_at) for i in moved] == [
        (UUID(int=17), end_of(date(2027, 9, 30), bst=True))]


# --- A14-20: Somerset volunteers ---------------------------------------------------------------

def test_S34_volunteer_attached_is_briefed_before_contact() -> None:
    """S34 (16.2): "The YJT case holder will have completed a health and safety risk assessment
    which will be shared with volunteers working with a child. Any other information pertinent to
    the context/environment in which a volunteer is working with a child will be discussed prior
    to any contact commencing." Every volunteer; no date (the first contact is not recorded)."""
    attach = ev_("case_changed", lon(2026, 12, 24, 10),
                 changes={"volunteer_attached": [False, True]})
    for ratings in (rated(), rated(rosh="high")):
        step = created(run(S, attach, case(ratings=ratings, volunteer_attached=True)),
                       "brief_volunteer")
        assert_step(step, rule="S34", code="brief_volunteer", actor="case_holder", due=None,
                    pack=S, ref="16.2")
        assert step.note
        assert "Before any contact" in step.note


def test_S35_volunteer_with_a_risk_to_manage_is_informed_and_the_plan_updated() -> None:
    """S35 (16.3): "Where ongoing contact is agreed, the volunteer must be fully informed of the
    nature of the risk and the relevant details of the plan to manage that risk ... The integrated
    plan within AssetPlus must then be updated with these details by the caseholder and the
    reviewed health and safety risk assessment will be added to CMS record." """
    attach = ev_("case_changed", lon(2027, 3, 28, 10),
                 changes={"volunteer_attached": [False, True]})
    high = case(ratings=rated(rosh="high"), volunteer_attached=True)
    assert_step(created(run(S, attach, high), "update_plan_for_volunteer"), rule="S35",
                code="update_plan_for_volunteer", actor="case_holder", due=None, pack=S,
                ref="16.3")
    low = case(ratings=rated(rosh="low", swb="low"), volunteer_attached=True)
    assert "update_plan_for_volunteer" not in codes(run(S, attach, low))
