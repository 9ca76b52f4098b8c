"""Attack pass 19 (practice fidelity, outside tester): the seeds' sentences the packs did not yet
follow, one test per rule, on real England-and-Wales dates (bank holidays, clock changes, month
ends)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from uuid import UUID

from tests.workflows.support import (
    EVENT_ID,
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
    packs,
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


# --- A19-5: Wokingham risk to staff -------------------------------------------------------------

def test_W21_new_risk_to_staff_concern_is_discussed_with_the_line_manager_and_planned() -> None:
    """W21 (Risk to staff): "Where new concerns arise regarding the potential risk to staff pose
    by a child, there should be a discussion with the line manager and if the concerns are
    agreed, the above process should be followed (recording the risk as a Life Event and filling
    in the Risk to Staff spreadsheet). The management of the risk to staff that a child poses
    should be included in the risk management plan."

    Known on Christmas Eve 2026 (Thursday) 15:00 GMT: the discussion with the line manager is
    due at once (urgent); the recording by the end of that Thursday, the last working day of the
    week (Christmas Day is a bank holiday; A23b-4: "before the end of the working week"); the
    risk management plan
    update has no timescale (the policy gives none)."""
    at = lon(2026, 12, 24, 15)
    ev = run(W, ev_("case_event", at, EVENT_ID, type="risk_to_staff"))
    assert_step(created(ev, "report_to_line_manager"), rule="W21", code="report_to_line_manager",
                actor="case_holder", due=utc(2026, 12, 24, 15), pack=W,
                ref="Risk to staff, Internal and External Controls", urgent=True)
    assert_step(created(ev, "record_risk_to_staff"), rule="W21", code="record_risk_to_staff",
                actor="case_holder", due=end_of(date(2026, 12, 24), bst=False), pack=W,
                ref="Risk to staff, Internal and External Controls")
    plan = created(ev, "update_risk_management_plan")
    assert_step(plan, rule="W21", code="update_risk_management_plan", actor="case_holder",
                due=None, pack=W, ref="Risk to staff")
    assert plan.note
    # Known on Friday 30 October 2026 (after the clock change): at once, 10:00 GMT.
    friday = run(W, ev_("case_event", lon(2026, 10, 30, 10), EVENT_ID, type="risk_to_staff",
                        known_at=lon(2026, 10, 30, 10)))
    assert created(friday, "report_to_line_manager").due_at == utc(2026, 10, 30, 10)
    # Raised by the line manager themselves: they know; the plan and the recording still owed.
    own = run(W, ev_("case_event", at, EVENT_ID, role="line_manager", type="risk_to_staff"))
    assert "report_to_line_manager" not in codes(own)
    assert {"record_risk_to_staff", "update_risk_management_plan"} <= codes(own)


# --- A19-12: Wokingham W20 before the release ----------------------------------------------------

W20_REF = "Referrals into MAPPA"


def test_W20_notify_receiving_yjs_is_due_before_the_expected_release() -> None:
    """W20 (Referrals into MAPPA): "Where the release address is in a different area to PYJS,
    the case worker must also notify the local Youth Justice Service of the child being released
    into their area and initiate the relevant transfer/care-taking process."

    A child in custody (not MAPPA category 2, whose notice goes with the referral six months
    before: attack 32c, ATTACK32C-8), expected release Wednesday 30 June 2027: the other-area
    address known on Friday 30 April 2027 makes the notice due before the release, at the start
    of 30 June (23:00Z on 29 June, BST). Recorded with the release itself (Easter Monday 29 March
    2027, the day after the clock change), it is due at once, urgent. A release date already
    passed: at once, urgent, saying so. No release date recorded: undated, with a note."""
    custody = case(in_custody=True, expected_release_date=date(2027, 6, 30))
    flagged = ev_("case_event", lon(2027, 4, 30, 10), EVENT_ID, type="change_of_circumstances",
                  release_address_other_area=True)
    step = created(run(W, flagged, custody), "notify_receiving_yjs")
    assert_step(step, rule="W20", code="notify_receiving_yjs", actor="case_holder",
                due=utc(2027, 6, 29, 23), pack=W, ref=W20_REF)
    release = ev_("case_event", lon(2027, 3, 29, 11), EVENT_ID, type="custody_release",
                  release_address_other_area=True)
    assert_step(created(run(W, release, custody), "notify_receiving_yjs"), rule="W20",
                code="notify_receiving_yjs", actor="case_holder", due=utc(2027, 3, 29, 10),
                pack=W, ref=W20_REF, urgent=True)
    late = ev_("case_event", lon(2027, 7, 1, 9), EVENT_ID, type="change_of_circumstances",
               release_address_other_area=True)
    passed = created(run(W, late, custody), "notify_receiving_yjs")
    assert_step(passed, rule="W20", code="notify_receiving_yjs", actor="case_holder",
                due=utc(2027, 7, 1, 8), pack=W, ref=W20_REF, urgent=True)
    assert "30 June 2027" in (passed.note or "")
    undated = created(run(W, flagged, case(in_custody=True)),
                      "notify_receiving_yjs")
    assert undated.due_at is None
    assert "no expected release date" in (undated.note or "")


def test_W20_a_release_date_recorded_later_re_dates_the_notice() -> None:
    """W20 (Referrals into MAPPA): "notify the local Youth Justice Service of the child being
    released into their area": the open notice asked for before a release date was known is due
    before the release once the date is recorded: Tuesday 31 August 2027 (the day after the
    summer bank holiday) -> 23:00Z on 30 August (a child not MAPPA category 2: ATTACK32C-8)."""
    custody = case(in_custody=True)
    flagged = ev_("case_event", lon(2027, 4, 30, 10), EVENT_ID, type="change_of_circumstances",
                  release_address_other_area=True)
    step = created(run(W, flagged, custody), "notify_receiving_yjs")
    held = replace(custody, open_steps=(open_step(step, UUID(int=20)),))
    change = ev_("case_changed", lon(2027, 5, 4, 10),
                 changes={"expected_release_date": [None, "2027-08-31"]})
    redated = intents(run(W, change, held),
                      "update_due", "notify_receiving_yjs")
    assert [(i.due_at, i.rule_id, i.policy_ref, i.step_id) for i in redated] == [
        (utc(2027, 8, 30, 23), "W20", W20_REF, UUID(int=20))]


# --- A19-3: MAPPA level 2/3 meetings --------------------------------------------------------------

ITEM_ID = UUID("00000000-0000-4000-8000-00000000a1e3")
MAPPA_CODES = ("attend_mappa_meetings", "manager_attend_mappa_meetings")


def _level(at_: object, before: object, after: object) -> object:
    return ev_("case_changed", at_, changes={"mappa_level": [before, after]})


def test_S37_case_holder_and_line_manager_attend_mappa_2_meetings_while_secured() -> None:
    """S37 (8.4): "Case holders and their line managers will attend all relevant MAPPA 2 meetings
    arranged in respect of children subject to their supervision whilst accommodated or
    secured."

    A category 2 child in custody whose MAPPA level becomes 2 on Christmas Eve 2026: the case
    holder and the line manager each owe attendance (no timescale: the meetings are arranged by
    police and probation, 8.3.3). A child in care (accommodated) likewise; a child in the
    community at level 2 owes none until they enter custody (Saturday 27 March 2027, the eve of
    the clock change); the level dropping to 1 supersedes them."""
    secured = case(mappa_category=2, in_custody=True)
    ev = run(S, _level(lon(2026, 12, 24, 10), None, 2), secured)
    for code, actor in zip(MAPPA_CODES, ("case_holder", "line_manager"), strict=True):
        step = created(ev, code)
        assert_step(step, rule="S37", code=code, actor=actor, due=None, pack=S, ref="8.4")
        assert "no timescale" in (step.note or "")
    accommodated = run(S, _level(lon(2026, 12, 24, 10), None, 3),
                       case(mappa_category=2, csc_status="cic"))
    assert set(MAPPA_CODES) <= codes(accommodated)
    community = run(S, _level(lon(2026, 12, 24, 10), None, 2), case(mappa_category=2))
    assert not set(MAPPA_CODES) & codes(community)
    entry = run(S, ev_("case_changed", lon(2027, 3, 27, 16), changes={"in_custody": [False, True]}),
                case(mappa_category=2, mappa_level=2))
    assert set(MAPPA_CODES) <= codes(entry)
    # The MARP deciding MAPPA level 2 for a child in custody (8.3): the same.
    decision = run(S, ev_("panel_decision", lon(2026, 10, 22, 14), ITEM_ID, role="chair",
                          rosh_level="very_high", mappa_level=2, actions=[],
                          review_date=date(2026, 11, 19), panel_kind="marp"),
                   case(mappa_category=2, in_custody=True, ratings=rated(rosh="very_high"),
                        on_register=True))
    assert set(MAPPA_CODES) <= codes(decision)
    assert created(decision, "attend_mappa_meetings").subject_id == secured.case_id
    # Already level 2 in custody: a level 3 asks nothing new; level 1 supersedes.
    held = case(mappa_category=2, mappa_level=2, in_custody=True, open_steps=tuple(
        open_step(created(ev, code), UUID(int=n)) for n, code in enumerate(MAPPA_CODES, 1)))
    assert not set(MAPPA_CODES) & codes(run(S, _level(lon(2027, 1, 4, 10), 2, 3), held))
    dropped = run(S, _level(lon(2027, 1, 4, 10), 2, 1), held)
    assert {i.code for i in intents(dropped, "supersede")} >= set(MAPPA_CODES)


def test_S38_seconded_probation_officer_made_aware_of_mappa_2_cases() -> None:
    """S38 (8.4): "The YJT seconded probation officer will be made aware of all cases relevant
    to MAPPA 2 and will support referral and be directly involved as necessary."

    Any case whose MAPPA level becomes 2 or 3 (in custody or not), on the last day of February
    2027: the case holder (who makes the MAPPA A referral, 8.3.3) makes the officer aware; the
    policy sets no timescale."""
    for before, after in ((None, 2), (1, 3)):
        ev = run(S, _level(lon(2027, 2, 28, 23, 30), before, after), case(mappa_category=3))
        step = created(ev, "inform_seconded_probation_officer")
        assert_step(step, rule="S38", code="inform_seconded_probation_officer",
                    actor="case_holder", due=None, pack=S, ref="8.4")
    assert "inform_seconded_probation_officer" not in codes(
        run(S, _level(lon(2027, 2, 28, 10), 2, 3), case(mappa_category=3, mappa_level=2)))
    assert "inform_seconded_probation_officer" not in codes(
        run(S, _level(lon(2027, 2, 28, 10), None, 1), case(mappa_category=3)))


def test_W27_case_worker_and_line_manager_attend_mappa_meetings_and_plan_its_decisions() -> None:
    """W27 (Referrals into MAPPA): "The PYJS case worker and their line manager must attend MAPPA
    meetings. Attendance to MAPPA must be recorded on IYSS and any actions completed promptly.
    In addition, MAPPA risk management decisions must be included within the child's risk
    management plan." (Management oversight: "Managers' attendance to MAPPA meetings".)

    The MAPPA level set to 2 on Good Friday 2027 (26 March, a bank holiday): the case worker and
    the line manager each owe attendance, and the case worker the risk management plan; none
    has a timescale (the seed gives none). Level 1 (the High-Risk Panel's) asks none of it."""
    ev = run(W, _level(lon(2027, 3, 26, 10), None, 2), case(mappa_category=2))
    assert_step(created(ev, "attend_mappa_meetings"), rule="W27", code="attend_mappa_meetings",
                actor="case_holder", due=None, pack=W, ref="Referrals into MAPPA")
    assert_step(created(ev, "manager_attend_mappa_meetings"), rule="W27",
                code="manager_attend_mappa_meetings", actor="line_manager", due=None, pack=W,
                ref="Referrals into MAPPA, Management oversight")
    plan = created(ev, "update_risk_management_plan")
    assert_step(plan, rule="W27", code="update_risk_management_plan", actor="case_holder",
                due=None, pack=W, ref="Referrals into MAPPA")
    assert "MAPPA" in plan.title
    one = run(W, _level(lon(2027, 3, 26, 10), None, 1), case(mappa_category=2))
    assert not {*MAPPA_CODES, "update_risk_management_plan"} & codes(one)
    held = case(mappa_category=2, mappa_level=2, open_steps=tuple(
        open_step(created(ev, code), UUID(int=n)) for n, code in enumerate(MAPPA_CODES, 1)))
    assert {i.code for i in intents(run(W, _level(lon(2027, 4, 1, 10), 2, 1), held),
                                    "supersede")} >= set(MAPPA_CODES)


# --- A19-13: Somerset's volunteer concern and obstacles to the agreed actions ------------------

def test_S39_volunteer_concern_is_passed_to_a_team_leader_and_the_case_holder() -> None:
    """S39 (16.1): "In normal working hours, the volunteer should contact the YJT duty desk on
    the same or the following working day. The duty desk will record the information, notify a
    team leader and the case holder who will take any necessary action."

    A volunteer's concern recorded on Christmas Eve 2026: the duty desk (duty manager) owes the
    notice to the team leader and the case holder, the case holder the action; the seed sets no
    timescale for either (the same-or-next-working-day is the volunteer's), and the notes say so."""
    ev = run(S, ev_("case_event", lon(2026, 12, 24, 16), EVENT_ID, role="duty_manager",
                    type="volunteer_concern"))
    notice = created(ev, "notify_volunteer_concern")
    assert_step(notice, rule="S39", code="notify_volunteer_concern", actor="duty_manager",
                due=None, pack=S, ref="16.1")
    assert "no timescale" in (notice.note or "")
    act = created(ev, "act_on_volunteer_concern")
    assert_step(act, rule="S39", code="act_on_volunteer_concern", actor="case_holder", due=None,
                pack=S, ref="16.1")
    assert notice.subject_id == act.subject_id == EVENT_ID
    assert {"volunteer_concern", "plan_obstacle"} <= set(packs()[S].event_type_ids())


def test_S40_obstacle_to_the_agreed_actions_is_told_to_the_line_manager_at_once() -> None:
    """S40 (4.6): "Case holders must follow up any actions required within the timeframe agreed
    and inform their line manager immediately of any obstacles that arise, or if their line
    manager is unavailable, the duty manager" (7.1.7 for the MARP's plan; 14.4.1's responses
    not secured on release are their own event, S44: test_fidelity_left13a.py).

    An obstacle known on Saturday 27 March 2027 at 23:30 GMT (the night before the clock change):
    due at once, 23:30Z, urgent; one that arose then but became known on Monday 29 March at 09:00
    BST: due at 08:00Z. Recorded by a manager: nothing to tell."""
    at = lon(2027, 3, 27, 23, 30)
    ev = run(S, ev_("case_event", at, EVENT_ID, type="plan_obstacle"))
    assert_step(created(ev, "inform_line_manager_of_obstacle"), rule="S40",
                code="inform_line_manager_of_obstacle", actor="case_holder",
                due=utc(2027, 3, 27, 23, 30), pack=S, ref="4.6, 7.1.7", urgent=True)
    known = run(S, ev_("case_event", at, EVENT_ID, type="plan_obstacle",
                       known_at=lon(2027, 3, 29, 9)))
    assert created(known, "inform_line_manager_of_obstacle").due_at == utc(2027, 3, 29, 8)
    for role in ("line_manager", "duty_manager"):
        assert "inform_line_manager_of_obstacle" not in codes(
            run(S, ev_("case_event", at, EVENT_ID, role=role, type="plan_obstacle")))


# --- A19-4: Somerset's register discussed monthly -------------------------------------------------

def test_S41_register_case_is_discussed_monthly_by_the_senior_managers() -> None:
    """S41 (9): "A list of High / Very High ROSH / Safety and Well-Being concerns will be
    maintained by the MARP administrator; this list will be discussed monthly in supervision
    between the YJT Strategic Manager and the Operations Manager."

    A high SWB judgement on Sunday 31 January 2027 at 10:00 GMT puts the case on the list: the
    senior managers (chair) owe its discussion a month later, clamped to the month's end (Sunday
    28 February 10:00Z), recurring; the MARP reducing the case to medium (S21) supersedes it."""
    ev = run(S, judgement("swb", "high", lon(2027, 1, 31, 10)))
    assert ev.on_register_after
    step = created(ev, "discuss_register_monthly")
    assert_step(step, rule="S41", code="discuss_register_monthly", actor="chair",
                due=utc(2027, 2, 28, 10), pack=S, ref="9")
    assert step.recurrence == "1m"
    assert "discuss_register_monthly" not in codes(run(S, judgement("swb", "medium",
                                                                    lon(2027, 1, 31, 10))))
    held = case(ratings=rated(swb="high"), on_register=True,
                open_steps=(open_step(step, UUID(int=41)),))
    down = run(S, judgement("swb", "medium", lon(2027, 2, 25, 14), via_panel_decision=True),
               held)
    assert [i.step_id for i in intents(down, "supersede", "discuss_register_monthly")] == [
        UUID(int=41)]


# --- A19-6: Somerset, a case transferred in at High/Very High ---------------------------------

def test_S42_S11_transfer_in_at_high_rosh_asks_for_own_judgement_and_monthly_review() -> None:
    """S42 (13.1, 13.3), S11 (4.5): "it will not be assumed that other YJT's have similar risk
    management arrangements" (13.1); "Where a case has a ROSH judgment and/or Safety and
    Well-Being concerns of High or Very high from another YJT, the case will be referred into the
    next available MARP" (13.3); "It is the responsibility of line managers to review all cases
    where there is a High or Very High ROSH and/or Safety and Well-Being rating with case holders
    at least monthly" (4.5).

    Transferred in on Monday 11 January 2027 at 10:00 GMT with the home YJT's high ROSH: the case
    holder records Somerset's own ROSH judgement within 4 weeks (2.1, attack 21b, A21b-11:
    Monday 8 February 10:00Z); the line manager's monthly
    review runs from the transfer (Thursday 11 February 10:00Z). A Somerset ROSH judgement of
    medium ends the request and, no High/Very High rating nor request left, the review in the
    same act (attack 21b, A21b-7); a high keeps it (the rating is now Somerset's own) and
    registers the case."""
    at = lon(2027, 1, 11, 10)
    ev = run(S, ev_("case_event", at, EVENT_ID, type="transfer_in",
                    incoming_ratings={"rosh": "high"}))
    own = created(ev, "record_own_judgement")
    assert_step(own, rule="S42", code="record_own_judgement", actor="case_holder",
                due=utc(2027, 2, 8, 10), pack=S, ref="13.1, 13.3, 2.1")
    review = created(ev, "monthly_manager_review")
    assert_step(review, rule="S11", code="monthly_manager_review", actor="line_manager",
                due=utc(2027, 2, 11, 10), pack=S, ref="4.5")
    assert own.subject_id == review.subject_id == case().case_id
    assert "record_own_swb_judgement" not in codes(ev)
    held = case(open_steps=(open_step(own, UUID(int=1)), open_step(review, UUID(int=2))))
    medium = run(S, judgement("rosh", "medium", lon(2027, 1, 12, 9), victims=["peer"]), held)
    assert sorted(i.code for i in intents(medium, "supersede")) == [
        "monthly_manager_review", "record_own_judgement"]
    high = run(S, judgement("rosh", "high", lon(2027, 1, 12, 9), victims=["peer"]), held)
    assert [i.code for i in intents(high, "supersede")] == ["record_own_judgement"]
    assert high.on_register_after


def test_S42_transfer_in_at_very_high_swb_and_low_incoming_ratings() -> None:
    """S42 (13.1, 13.3), S11 (4.5): the same for the home YJT's very high SWB, transferred in on
    Sunday 31 October 2027 (the clock change day, 09:30 GMT); an incoming medium ROSH asks
    nothing. An incoming high SWB on a case Somerset rated low before the arrival still asks for
    Somerset's own judgement: one dated before the child arrived answers nothing (fix32a,
    A30a-13: by the acts' dates, not whether the domain is rated)."""
    at = lon(2027, 10, 31, 9, 30)
    ev = run(S, ev_("case_event", at, EVENT_ID, type="transfer_in",
                    incoming_ratings={"rosh": "medium", "swb": "very_high"}))
    assert_step(created(ev, "record_own_swb_judgement"), rule="S42",
                code="record_own_swb_judgement", actor="case_holder",
                due=utc(2027, 11, 28, 9, 30), pack=S, ref="13.1, 13.3, 2.1")
    assert_step(created(ev, "monthly_manager_review"), rule="S11",
                code="monthly_manager_review", actor="line_manager",
                due=utc(2027, 11, 30, 9, 30), pack=S, ref="4.5")
    assert "record_own_judgement" not in codes(ev)
    low = run(S, ev_("case_event", at, EVENT_ID, type="transfer_in",
                     incoming_ratings={"rosh": "medium"}))
    assert not {"record_own_judgement", "monthly_manager_review"} & codes(low)
    rated_here = run(S, ev_("case_event", at, EVENT_ID, type="transfer_in",
                            incoming_ratings={"swb": "high"}), case(ratings=rated(swb="low")))
    assert "record_own_swb_judgement" in codes(rated_here)


def test_W28_risk_to_another_child_attending_is_managed_and_planned() -> None:
    """W28 (Risk to other children): "Where a child has been identified as presenting a risk to
    another child who also attends the PYJS ... measures should be put in place to manage this
    risk. These measures must also be included in the risk management plan".

    Identified on Boxing Day 2026 (Saturday): the case worker puts the measures in place and
    includes them in the risk management plan; the seed gives no timescale for either."""
    ev = run(W, ev_("case_event", lon(2026, 12, 26, 11), EVENT_ID,
                    type="risk_to_other_children"))
    assert_step(created(ev, "manage_risk_to_other_children"), rule="W28",
                code="manage_risk_to_other_children", actor="case_holder", due=None, pack=W,
                ref="Risk to other children")
    assert_step(created(ev, "update_risk_management_plan"), rule="W28",
                code="update_risk_management_plan", actor="case_holder", due=None, pack=W,
                ref="Risk to other children")
    assert "risk_to_other_children" in packs()[W].event_type_ids()


# --- A20-15: a release earlier than expected brings the notices "before the release" to now -------

def _released(at_: object, *, flagged: bool = False) -> object:
    """The release recorded as a change of ``in_custody`` (a PATCH, the CMS's upsert, or a
    ``custody_release`` event, which the service records as this change, flagged)."""
    extra = {"custody_event": True} if flagged else {}
    return ev_("case_changed", at_, changes={"in_custody": [True, False]}, **extra)


def test_W20_an_early_release_makes_the_notice_due_at_once() -> None:
    """W20 (Referrals into MAPPA): "Where the release address is in a different area to PYJS,
    the case worker must also notify the local Youth Justice Service of the child being
    released into their area and initiate the relevant transfer/care-taking process."

    The notice is owed before the release (expected Wednesday 1 December 2027). The child is
    released early, on Good Friday 26 March 2027 (a bank holiday, the last Friday of GMT): the
    child already lives in the other area, so the open notice is due at the release, urgent,
    not eight months later (attack pass 20, A20-15), whether the release was recorded as a
    PATCH/upsert of ``in_custody`` or as a ``custody_release`` event. (A child not MAPPA
    category 2: a category 2 child's notice goes with the referral, ATTACK32C-8.)"""
    custody = case(in_custody=True, expected_release_date=date(2027, 12, 1))
    flagged = ev_("case_event", lon(2027, 3, 1, 10), EVENT_ID, type="change_of_circumstances",
                  release_address_other_area=True)
    step = created(run(W, flagged, custody), "notify_receiving_yjs")
    assert step.due_at == utc(2027, 12, 1, 0)
    held = replace(custody, in_custody=False, open_steps=(open_step(step, UUID(int=20)),))
    for by_event in (False, True):
        redated = intents(run(W, _released(lon(2027, 3, 26, 11), flagged=by_event), held),
                          "update_due", "notify_receiving_yjs")
        assert [(i.due_at, i.urgent, i.rule_id, i.policy_ref, i.step_id) for i in redated] == [
            (utc(2027, 3, 26, 11), True, "W20", W20_REF, UUID(int=20))]
    # Entering custody again moves nothing earlier.
    back = ev_("case_changed", lon(2027, 3, 26, 11), changes={"in_custody": [False, True]})
    assert intents(run(W, back, replace(held, in_custody=True)),
                   "update_due", "notify_receiving_yjs") == []


def test_W16_an_early_release_makes_the_mappa_notification_due_at_once() -> None:
    """W16 (Referrals into MAPPA): "Category 2 referrals (i.e. for children in custody), the
    referral into MAPPA must be completed six months prior to their release."

    A category 2 child expected out on Wednesday 1 December 2027 owes the MAPPA H notification
    by the end of Tuesday 1 June 2027. Released early, on Good Friday 26 March 2027, before the
    notification was made: the six-month point is gone and the child is out, so it is due at
    the release, urgent; before this fix the release left it undated, never overdue (attack
    pass 20, A20-15). A move into custody still dates it six months before the release."""
    custody = case(mappa_category=2, in_custody=True, expected_release_date=date(2027, 12, 1))
    first = created(run(W, ev_("case_changed", lon(2027, 3, 1, 10),
                               changes={"mappa_category": [None, 2]}), custody),
                    "mappa_h_notification")
    assert first.due_at == end_of(date(2027, 6, 1), bst=True)
    held = replace(custody, in_custody=False, open_steps=(open_step(first, UUID(int=16)),))
    for by_event in (False, True):
        update = intents(run(W, _released(lon(2027, 3, 26, 11), flagged=by_event), held),
                         "update_due", "mappa_h_notification")
        assert [(u.step_id, u.due_at, u.urgent) for u in update] == [
            (UUID(int=16), utc(2027, 3, 26, 11), True)]
