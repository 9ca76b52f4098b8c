"""Secure estate and obstacles (left13a): S43 recorded by a duty manager (attack 22, A22-5), and
S40's citation of 14.4.1, which is S44's paragraph. On real England-and-Wales dates."""

from __future__ import annotations

from tests.workflows.support import (
    EVENT_ID,
    SOMERSET,
    assert_step,
    case,
    codes,
    created,
    lon,
    run,
    utc,
)
from tests.workflows.support import event as ev_

S = SOMERSET


def test_S43_a_doubt_recorded_by_a_duty_manager_asks_no_inform_a_manager_step() -> None:
    """S43 (14.3.1): "If a case holder is in any doubt that the secure setting will be making
    appropriate responses to identified risks/concerns, they will inform their line manager,
    operational manager or the YJT manager who will escalate the concerns with the appropriate
    managers in the secure setting."

    The doubt recorded on Thursday 25 March 2027 at 15:00 GMT by a manager (the line manager,
    or the duty manager standing in for the line manager, as 4.6 has them; a chair records no
    case event, ATTACK35B-2) is already a manager's knowledge: nothing is asked of the case
    holder, and the escalation is owed at once (no timescale): the line manager's (attack 24b,
    A24b-8). Recorded by the case holder: the inform step."""
    secured = case(in_custody=True)
    for role in ("line_manager", "duty_manager"):
        out = run(S, ev_("case_event", lon(2027, 3, 25, 15), EVENT_ID, role=role,
                         type="secure_setting_doubt"), secured)
        assert "inform_manager_of_secure_setting_doubt" not in codes(out), role
        assert_step(created(out, "escalate_to_secure_setting"), rule="S43",
                    code="escalate_to_secure_setting",
                    actor="line_manager", due=None, pack=S,
                    ref="14.3.1")
    by_holder = run(S, ev_("case_event", lon(2027, 3, 25, 15), EVENT_ID,
                           type="secure_setting_doubt"), secured)
    assert "inform_manager_of_secure_setting_doubt" in codes(by_holder)
    assert "escalate_to_secure_setting" not in codes(by_holder)


def test_S40_obstacle_cites_4_6_and_7_1_7_not_14_4_1() -> None:
    """S40 (4.6): "Case holders must follow up any actions required within the timeframe agreed
    and inform their line manager immediately of any obstacles that arise, or if their line
    manager is unavailable, the duty manager"; 7.1.7: "will notify their line manager or duty
    manager if any obstacles to implementation of the agreed plan arise".

    14.4.1 ("If the case holder is unable to secure the recommended responses they will
    communicate immediately with their line manager, duty manager or the YJT manager who will
    clearly set out a course of action ...") is its own event, recommended_responses_unsecured
    (S44), which asks the manager's course of action: an obstacle (plan_obstacle) asks the
    telling alone, so it no longer cites 14.4.1 (it led to no course of action). Known on
    Saturday 27 March 2027 at 23:30 GMT: due at once, urgent."""
    at = lon(2027, 3, 27, 23, 30)
    out = run(S, ev_("case_event", at, EVENT_ID, type="plan_obstacle"))
    assert_step(created(out, "inform_line_manager_of_obstacle"), rule="S40",
                code="inform_line_manager_of_obstacle", actor="case_holder",
                due=utc(2027, 3, 27, 23, 30), pack=S, ref="4.6, 7.1.7", urgent=True)
    assert "set_out_course_of_action" not in codes(out)
    released = run(S, ev_("case_event", at, EVENT_ID, type="recommended_responses_unsecured"))
    assert_step(created(released, "inform_manager_of_unsecured_responses"), rule="S44",
                code="inform_manager_of_unsecured_responses", actor="case_holder",
                due=utc(2027, 3, 27, 23, 30), pack=S, ref="14.4.1", urgent=True)
