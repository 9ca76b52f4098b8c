"""Practice fidelity (fid14a): seed duties the packs did not raise (attack 24b, A24b-12/15/16,
A24b-2; attack 23b, A23b-8). Engine level, on real England-and-Wales dates: Christmas 2026
(Friday 25 December, Boxing Day observed Monday 28 December), month ends, the clock change of
Sunday 25 October 2026."""

from __future__ import annotations

from dataclasses import replace
from uuid import UUID

from tests.workflows.support import (
    EVENT_ID,
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
    lon,
    open_step,
    packs,
    panel,
    rated,
    run,
    utc,
)

S, W = SOMERSET, WOKINGHAM


# --- W30: Wokingham's monthly line management supervision (A24b-16) ----------------------------


def test_W30_monthly_line_supervision_from_the_first_judgement_every_month() -> None:
    """W30 (Management of Risk of Serious Harm; Management oversight): "For children assessed as
    low ROSH, no additional work is necessary. ... Supervision of the assessment, planning and
    delivery of work will be done via monthly line management supervision." "Management
    oversight will include the following. ... Monthly line supervision, including case
    discussion, at least monthly."

    A low ROSH judgement on Christmas Eve, Thursday 24 December 2026 at 09:15 GMT: the line
    manager's supervision of the case is due a month later, Sunday 24 January 2027 09:15 GMT
    (calendar months: a weekend is no exception). Recorded on Saturday 31 January 2027 it is
    due on the month's last day, Sunday 28 February; on Friday 25 September 2026 at 10:00 BST,
    after the clock change, Sunday 25 October 10:00 GMT. Somerset has no such line."""
    ev = run(W, judgement("rosh", "low", lon(2026, 12, 24, 9, 15)))
    assert_step(created(ev, "monthly_line_supervision"), rule="W30",
                code="monthly_line_supervision", actor="line_manager",
                due=utc(2027, 1, 24, 9, 15), pack=W, ref="Management oversight")
    assert created(ev, "monthly_line_supervision").recurrence == "1m"
    month_end = run(W, judgement("lor", "medium", lon(2027, 1, 31, 16)))
    assert created(month_end, "monthly_line_supervision").due_at == utc(2027, 2, 28, 16)
    clocks = run(W, judgement("swb", "high", lon(2026, 9, 25, 10)))
    assert created(clocks, "monthly_line_supervision").due_at == utc(2026, 10, 25, 10)
    assert "monthly_line_supervision" not in codes(
        run(S, judgement("rosh", "low", lon(2026, 12, 24, 9, 15))))


def test_W30_one_supervision_per_case_next_a_month_after_the_completing_act() -> None:
    """W30 (Management oversight): "Monthly line supervision, including case discussion, at
    least monthly." One duty for the case: a second judgement (LoR medium, Tuesday 29 December
    2026) keeps the open occurrence. Done on Monday 28 December 2026 at 11:00 GMT (the Boxing
    Day substitute bank holiday), the next is due Thursday 28 January 2027 11:00 GMT, one month
    after the act that completed it, whatever its due date."""
    first = created(run(W, judgement("rosh", "low", lon(2026, 12, 24, 9, 15))),
                    "monthly_line_supervision")
    held = open_step(first, UUID(int=30))
    snap = case(ratings=rated(rosh="low"), open_steps=(held,))
    again = run(W, judgement("lor", "medium", lon(2026, 12, 29, 10)), snap)
    assert "monthly_line_supervision" not in codes(again)
    assert [i.action for i in intents(again, code="monthly_line_supervision")] == ["keep"]
    done = run(W, event("step_completed", lon(2026, 12, 28, 11), role="line_manager",
                        code="monthly_line_supervision", rule_id="W30", step_id=str(held.id),
                        record_id=str(held.id), due_at=held.due_at,
                        completed_by_role="line_manager", actor="line_manager", reasons=[],
                        status="done"), snap)
    assert_step(created(done, "monthly_line_supervision"), rule="W30",
                code="monthly_line_supervision", actor="line_manager",
                due=utc(2027, 1, 28, 11), pack=W, ref="Management oversight")


# --- S45-S47: Somerset 2.2, 8.3 and 10.2 (A24b-15) ---------------------------------------------


def _done(code: str, rule: str, actor: str, at_role: str, at: object) -> object:
    """The ``step_completed`` event of an open step of this code, closed by ``at_role``."""
    sid = str(UUID(int=45))
    return event("step_completed", at, role=at_role, code=code, rule_id=rule, step_id=sid,
                 record_id=sid, due_at=None, completed_by_role=at_role, actor=actor,
                 reasons=[], status="done")


def test_S45_persisting_information_problems_go_to_the_line_manager_or_the_duty_manager() -> None:
    """S45 (2.2): "If problems in obtaining the necessary information persist, the case holder
    will inform the relevant line manager for potential support through escalation routes as
    appropriate. If line manager is unavailable and such problems are viewed as critical ...
    the case holder will consult with the duty manager who will support escalation as
    necessary, record the outcome of this on the YJT case management system (CMS) and advise
    the relevant line manager as soon as practicable."

    Recorded by the case holder on Christmas Day, Friday 25 December 2026 at 10:00 GMT: the
    case holder informs the line manager (no timescale: undated, with a note). Consulted on
    Monday 28 December (the Boxing Day substitute bank holiday), the duty manager completes it:
    the duty manager supports the escalation and records the outcome (undated), and once that
    is done advises the line manager (S16, 2.2 and 3.1). Recorded by the duty manager: the
    support and the advice at once; by the line manager: nothing of the case holder."""
    at = lon(2026, 12, 25, 10)
    out = run(S, event("case_event", at, EVENT_ID, type="assessment_information_problems"))
    inform = created(out, "inform_line_manager_of_information_problems")
    assert_step(inform, rule="S45", code="inform_line_manager_of_information_problems",
                actor="case_holder", due=None, pack=S, ref="2.2")
    assert inform.note
    assert "no timescale" in inform.note
    assert "support_information_escalation" not in codes(out)
    consulted = run(S, _done("inform_line_manager_of_information_problems", "S45",
                             "case_holder", "duty_manager", lon(2026, 12, 28, 9)))
    assert_step(created(consulted, "support_information_escalation"), rule="S45",
                code="support_information_escalation", actor="duty_manager", due=None, pack=S,
                ref="2.2")
    supported = run(S, _done("support_information_escalation", "S45", "duty_manager",
                             "duty_manager", lon(2026, 12, 28, 15)))
    assert_step(created(supported, "advise_line_manager"), rule="S16",
                code="advise_line_manager", actor="duty_manager", due=None, pack=S,
                ref="2.2, 3.1")
    by_duty = run(S, event("case_event", at, EVENT_ID, role="duty_manager",
                           type="assessment_information_problems"))
    assert {"support_information_escalation", "advise_line_manager"} <= codes(by_duty)
    assert "inform_line_manager_of_information_problems" not in codes(by_duty)
    told = run(S, _done("inform_line_manager_of_information_problems", "S45", "case_holder",
                        "line_manager", lon(2026, 12, 28, 9)))
    assert "support_information_escalation" not in codes(told)
    by_manager = run(S, event("case_event", at, EVENT_ID, role="line_manager",
                              type="assessment_information_problems"))
    assert codes(by_manager) == set()
    assert codes(run(W, event("case_event", at, EVENT_ID,
                              type="assessment_information_problems"))).isdisjoint(
        {"inform_line_manager_of_information_problems", "support_information_escalation"})


def test_S46_too_urgent_for_the_marp_referred_to_the_yjt_manager_at_once() -> None:
    """S46 (8.3): "Referral to MAPPA will be on the recommendation/agreement of the MARP. In the
    event that the matters are so urgent as to preclude the possibility of these processes, the
    case will be referred to the Operational/YJT manager with a view to making an immediate
    referral. If the YJT manager is unavailable the manager acting up will fulfil this
    function."

    Known on Sunday 25 October 2026 at 01:30 GMT (the repeated hour of the clock change): the
    case holder refers the case to the operational/YJT manager at once (due then, urgent);
    referred at 01:45 GMT, the manager's immediate MAPPA referral (8.3.3, the MAPPA A form) is
    due at that act, urgent. A chair records no case event (the urgency is recorded by whoever
    refers the case): no line answers an event a chair recorded (ATTACK35B-2)."""
    at = utc(2026, 10, 25, 1, 30)
    out = run(S, event("case_event", at, EVENT_ID, type="urgent_mappa_referral"))
    assert_step(created(out, "refer_to_service_manager_for_mappa"), rule="S46",
                code="refer_to_service_manager_for_mappa", actor="case_holder", due=at, pack=S,
                ref="8.3", urgent=True)
    assert "make_immediate_mappa_referral" not in codes(out)
    referred = run(S, _done("refer_to_service_manager_for_mappa", "S46", "case_holder",
                            "case_holder", utc(2026, 10, 25, 1, 45)))
    assert_step(created(referred, "make_immediate_mappa_referral"), rule="S46",
                code="make_immediate_mappa_referral", actor="chair",
                due=utc(2026, 10, 25, 1, 45), pack=S, ref="8.3, 8.3.3", urgent=True)


def test_S47_specialist_service_unavailable_line_manager_agrees_a_strategy() -> None:
    """S47 (10.2): "Where these are not available within the YJT or partner agencies, the line
    manager will have a timely discussion with the operational/YJT Manager and agree a strategy
    for obtaining the appropriate assessment / appropriate service / interim arrangements. If
    the operational/YJT manager is unavailable, this function will be carried out by the
    manager acting up."

    Recorded on Thursday 31 December 2026 at 16:00 GMT (a year's and month's end) for a child
    rated High ROSH: the line manager's discussion and strategy, "timely" (no timescale:
    undated, with a note)."""
    out = run(S, event("case_event", lon(2026, 12, 31, 16), EVENT_ID,
                       type="specialist_service_unavailable"),
              case(ratings=rated(rosh="high"), on_register=True))
    step = created(out, "agree_specialist_strategy")
    assert_step(step, rule="S47", code="agree_specialist_strategy", actor="line_manager",
                due=None, pack=S, ref="10.2")
    assert step.note
    assert "no timescale" in step.note


# --- W31: Wokingham's home visit risk assessment and its sign-off (A23b-8) --------------------


def test_W31_home_visit_risk_assessment_then_the_line_managers_sign_off() -> None:
    """W31 (Risk to staff): "For subsequent home visits, should any safety concerns been
    identified during the initial home visit, the case worker will complete a risk assessment
    prior to further visits. The risk assessment must be signed off by their line manager
    before subsequent home visits can be completed."

    Concerns recorded on Thursday 24 December 2026 at 17:00 GMT: the case worker's risk
    assessment (before the next visit, whose date the service does not hold: undated, with a
    note). Completed on Monday 28 December (the Boxing Day substitute bank holiday): the line
    manager's sign-off, likewise undated with its note. Somerset has no such line."""
    at = lon(2026, 12, 24, 17)
    out = run(W, event("case_event", at, EVENT_ID, type="home_visit_safety_concerns"))
    step = created(out, "complete_home_visit_risk_assessment")
    assert_step(step, rule="W31", code="complete_home_visit_risk_assessment",
                actor="case_holder", due=None, pack=W, ref="Risk to staff")
    assert step.note
    assert "next visit" in step.note
    assert "sign_off_home_visit_risk_assessment" not in codes(out)
    done = run(W, _done("complete_home_visit_risk_assessment", "W31", "case_holder",
                        "case_holder", lon(2026, 12, 28, 10)))
    sign_off = created(done, "sign_off_home_visit_risk_assessment")
    assert_step(sign_off, rule="W31", code="sign_off_home_visit_risk_assessment",
                actor="line_manager", due=None, pack=W, ref="Risk to staff")
    assert sign_off.note
    assert "next visit" in sign_off.note
    assert codes(run(S, event("case_event", at, EVENT_ID,
                              type="home_visit_safety_concerns"))).isdisjoint(
        {"complete_home_visit_risk_assessment", "sign_off_home_visit_risk_assessment"})


# --- S48: Somerset 7.1.1, attending the initial MARP (A23b-8) ----------------------------------


def test_S48_case_holder_attends_the_initial_marp_the_case_is_on() -> None:
    """S48 (7.1.1): "The case holder will attend MARP to discuss the case. If not available,
    the line manager will present the case."

    Put on the agenda of the MARP of Thursday 31 December 2026 at 10:00 GMT on Christmas Eve
    (a MARP on Monday 28 December, the Boxing Day substitute day, is sooner but the case is not
    on it): the case holder attends, due at the sitting of the MARP the case is on. Done by the
    decision in its presenter's name (the case holder, or the line manager who presented it).
    A case whose MARP review is booked (S20's attendance, 7.2.1) is not asked again; nor is a
    Wokingham High-Risk Panel's item."""
    item = UUID(int=48)
    sooner = panel(utc(2026, 12, 28, 10), ident=1)
    on = panel(utc(2026, 12, 31, 10), ident=2)
    data = {"panel_id": str(on.id), "panel_kind": "marp", "panel_chair_id": "chair-2",
            "scheduled_for": "2026-12-31T10:00:00Z"}
    snap = case(ratings=rated(rosh="high"), on_register=True, on_panel_agenda=True,
                agenda_panel_ids=frozenset({on.id}))
    out = run(S, event("panel_item_added", lon(2026, 12, 24, 9, 15), item, role="panel_admin",
                       **data), snap, panels=[sooner, on])
    step = created(out, "attend_initial_marp")
    assert_step(step, rule="S48", code="attend_initial_marp", actor="case_holder",
                due=utc(2026, 12, 31, 10), pack=S, ref="7.1.1")
    assert step.subject_id == item
    assert "attend_initial_marp" in packs()[S].closes("panel_decision_presenter")
    reviewed = run(S, event("panel_item_added", lon(2026, 12, 24, 9, 15), item,
                            role="panel_admin", **data),
                   replace(snap, open_steps=(MARP_REVIEW,)), panels=[sooner, on])
    assert "attend_initial_marp" not in codes(reviewed)
    hrp = run(W, event("panel_item_added", lon(2026, 12, 24, 9, 15), item, role="chair",
                       **{**data, "panel_kind": "high_risk_panel"}),
              snap, panels=[panel(utc(2026, 12, 31, 10), "high_risk_panel", 2)])
    assert "attend_initial_marp" not in codes(hrp)


# --- W32: Wokingham's co-worker for harmful sexual behaviour (A23b-8) -------------------------


def test_W32_co_worker_allocated_when_the_child_displays_sexually_harmful_behaviour() -> None:
    """W32 (Resources): "Cases that involved children who display sexually harmful behaviour
    will have a co-worker allocated. This worker may be the CAMHS practitioner, where
    relevant."

    Found on Monday 28 December 2026 (the Boxing Day substitute bank holiday) at 10:00 GMT
    (the fact set on the case): the line manager allocates a co-worker, undated (the policy
    gives no timescale and names no allocator: the note says so). Unset on Thursday 31
    December: the open step lapses (superseded). Somerset has no such fact or line."""
    found = run(W, event("case_changed", lon(2026, 12, 28, 10),
                         changes={"facts.harmful_sexual_behaviour": [None, True]}),
                case(facts={"harmful_sexual_behaviour": True}))
    step = created(found, "allocate_co_worker")
    assert_step(step, rule="W32", code="allocate_co_worker", actor="line_manager", due=None,
                pack=W, ref="Resources")
    assert step.note
    assert "no timescale" in step.note
    unset = run(W, event("case_changed", lon(2026, 12, 31, 16),
                         changes={"facts.harmful_sexual_behaviour": [True, None]}),
                case(facts={}, open_steps=(open_step(step, UUID(int=32)),)))
    assert [(i.action, i.step_id) for i in intents(unset, code="allocate_co_worker")] == [
        ("supersede", UUID(int=32))]
    assert "harmful_sexual_behaviour" not in {f.id for f in packs()[S].facts}


# --- S49: Somerset 11.1, multi-agency meetings (twin of A24b-15) ------------------------------


def test_S49_multi_agency_meeting_take_part_and_update_the_assetplus() -> None:
    """S49 (11.1): "Case holders will be involved in multi agency meetings and update AssetPlus
    to reflect other agency involvement. ... Either the line manager will attend on the case
    holder's behalf or the case holder will inform the meeting by sharing information and
    requesting minutes of the meeting."

    A meeting arranged by children's social care, recorded on Saturday 31 October 2026 at 09:00
    GMT (the first weekend after the clock change): the case holder takes part (the line manager
    may do it for them) and updates the AssetPlus, both undated (no timescale, the meeting's
    date is not held: the notes say so)."""
    out = run(S, event("case_event", lon(2026, 10, 31, 9), EVENT_ID, type="multi_agency_meeting"))
    for code in ("take_part_in_multi_agency_meeting", "update_assessment_for_agency_involvement"):
        step = created(out, code)
        assert_step(step, rule="S49", code=code, actor="case_holder", due=None, pack=S,
                    ref="11.1")
        assert step.note
        assert "no timescale" in step.note
    rule = next(r for r in packs()[S].rules if r.code == "take_part_in_multi_agency_meeting")
    assert rule.also_done_by == ("line_manager",)


def test_S48_a_case_on_two_marps_attends_each_items_own_sitting() -> None:
    """S48 (7.1.1): "The case holder will attend MARP to discuss the case. If not available,
    the line manager will present the case."

    The case stands on the agendas of the MARPs of Monday 28 December 2026 and Thursday 31
    December (10:00 GMT). Put on the 31 December agenda on Christmas Eve, its attendance is due
    at 31 December, that item's sitting, not at the sooner MARP the case is also on (ATTACK37-7);
    a panel booked, moved or cancelled later leaves it there, whether or not its reasons are on
    record (``panel_scheduled``'s re-dating reads the item's sitting)."""
    item = UUID(int=4837)
    sooner = panel(utc(2026, 12, 28, 10), ident=1)
    on = panel(utc(2026, 12, 31, 10), ident=2)
    data = {"panel_id": str(on.id), "panel_kind": "marp", "panel_chair_id": "chair-2",
            "scheduled_for": "2026-12-31T10:00:00Z"}
    snap = case(ratings=rated(rosh="high"), on_register=True, on_panel_agenda=True,
                agenda_panel_ids=frozenset({sooner.id, on.id}),
                agenda_item_panels={UUID(int=4828): sooner.id, item: on.id})
    out = run(S, event("panel_item_added", lon(2026, 12, 24, 9, 15), item, role="panel_admin",
                       **data), snap, panels=[sooner, on])
    step = created(out, "attend_initial_marp")
    assert_step(step, rule="S48", code="attend_initial_marp", actor="case_holder",
                due=utc(2026, 12, 31, 10), pack=S, ref="7.1.1")
    assert step.subject_id == item
    for reasons in (step.reasons, ()):
        held = replace(open_step(step, UUID(int=9048)), reasons=reasons)
        later = run(S, event("panel_scheduled", lon(2026, 12, 24, 9, 30), sooner.id,
                             role="panel_admin", panel_id=str(sooner.id), kind="marp",
                             change="scheduled"),
                    replace(snap, open_steps=(held,)), panels=[sooner, on])
        assert intents(later, "update_due", "attend_initial_marp") == []
