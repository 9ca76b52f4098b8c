"""Secure estate (fid11): 14.3.1's steps end when the child leaves custody (S43); 14.4.1's
manager sets out a course of action (S44). On real England-and-Wales dates."""

from __future__ import annotations

from uuid import UUID

import pytest

from tests.workflows.support import (
    EVENT_ID,
    SOMERSET,
    WOKINGHAM,
    assert_step,
    case,
    codes,
    created,
    intents,
    lon,
    open_step,
    packs,
    run,
    utc,
)
from tests.workflows.support import event as ev_

S, W = SOMERSET, WOKINGHAM
LAPSED = "Superseded: the condition that required it no longer holds"


def test_S43_secure_setting_doubt_ends_when_the_child_leaves_custody() -> None:
    """S43 (14.3.1): "If a case holder is in any doubt that the secure setting will be making
    appropriate responses to identified risks/concerns, they will inform their line manager,
    operational manager or the YJT manager who will escalate the concerns with the appropriate
    managers in the secure setting."

    A child in custody: the doubt recorded on Maundy Thursday, 25 March 2027, 15:00 GMT, asks
    the case holder to inform a manager (no timescale); a line manager's own record asks the
    escalation (no timescale). Released on Tuesday 30 March 2027 (after Easter Monday; BST)
    before either was done, by the custody_release event or by PATCH in_custody false: "the
    secure setting" no longer holds the child, so both open steps are superseded with the
    reason. A doubt recorded for a child not in custody asks nothing (there is no secure setting
    to escalate with), nor does the completion of the inform step once the child is out."""
    secured = case(in_custody=True)
    doubt = ev_("case_event", lon(2027, 3, 25, 15), EVENT_ID, type="secure_setting_doubt")
    inform = created(run(S, doubt, secured), "inform_manager_of_secure_setting_doubt")
    assert_step(inform, rule="S43", code="inform_manager_of_secure_setting_doubt",
                actor="case_holder", due=None, pack=S, ref="14.3.1")
    by_manager = ev_("case_event", lon(2027, 3, 25, 15), EVENT_ID, role="line_manager",
                     type="secure_setting_doubt")
    esc = created(run(S, by_manager, secured), "escalate_to_secure_setting")
    assert_step(esc, rule="S43", code="escalate_to_secure_setting", actor="line_manager",
                due=None, pack=S, ref="14.3.1")
    held = case(in_custody=True, open_steps=(open_step(inform, UUID(int=43)),
                                             open_step(esc, UUID(int=44))))
    # The custody_release event: the domain evaluates the event, then the move it makes as a
    # case change flagged custody_event (app/domain/events._follow_custody).
    by_event = ev_("case_changed", lon(2027, 3, 30, 10), changes={"in_custody": [True, False]},
                   custody_event=True)
    by_patch = ev_("case_changed", lon(2027, 3, 30, 10), changes={"in_custody": [True, False]})
    for release in (by_event, by_patch):
        out = run(S, release, held)
        gone = {(i.step_id, i.code, i.note) for i in intents(out, "supersede")
                if i.rule_id == "S43"}
        assert gone == {(UUID(int=43), "inform_manager_of_secure_setting_doubt", LAPSED),
                        (UUID(int=44), "escalate_to_secure_setting", LAPSED)}
    # Still in custody, another act leaves them open.
    still = run(S, ev_("case_changed", lon(2027, 3, 30, 10),
                       changes={"expected_release_date": [None, "2027-12-15"]}), held)
    assert not [i for i in intents(still, "supersede") if i.rule_id == "S43"]
    assert {"inform_manager_of_secure_setting_doubt", "escalate_to_secure_setting"}.isdisjoint(
        codes(run(S, doubt, case())) | codes(run(S, by_manager, case())))
    done = ev_("step_completed", lon(2027, 3, 30, 11), role="line_manager",
               code="inform_manager_of_secure_setting_doubt", rule_id="S43",
               step_id=str(UUID(int=43)), due_at=None, completed_by_role="line_manager",
               actor="case_holder")
    assert "escalate_to_secure_setting" not in codes(run(S, done, case()))
    assert_step(created(run(S, done, secured), "escalate_to_secure_setting"), rule="S43",
                code="escalate_to_secure_setting", actor="line_manager", due=None, pack=S,
                ref="14.3.1")


def test_S44_unsecured_recommended_responses_are_told_at_once_and_a_course_of_action_set() -> None:
    """S44 (14.4.1): "If the case holder is unable to secure the recommended responses they will
    communicate immediately with their line manager, duty manager or the YJT manager who will
    clearly set out a course of action and the roles and responsibilities contained within it."

    Recorded by the case holder on Tuesday 30 March 2027 at 11:00 BST (the day after Easter
    Monday, two days after the clock change): tell a manager immediately, due at 10:00 UTC that
    instant and urgent. The duty manager completes it at 14:00 BST (they were told): the course
    of action is theirs, no timescale (the paragraph sets none; attack 24b, A24b-8). Recorded by
    a line manager, duty manager or chair: the course of action at once, that manager's,
    nothing of the case holder (a chair records no case event: completed by a chair told, the
    course of action is the chair's; ATTACK35B-2). Wokingham has no such paragraph."""
    told = ev_("case_event", lon(2027, 3, 30, 11), EVENT_ID,
               type="recommended_responses_unsecured")
    out = run(S, told)
    assert_step(created(out, "inform_manager_of_unsecured_responses"), rule="S44",
                code="inform_manager_of_unsecured_responses", actor="case_holder",
                due=utc(2027, 3, 30, 10), pack=S, ref="14.4.1", urgent=True)
    assert "set_out_course_of_action" not in codes(out)
    done = run(S, ev_("step_completed", lon(2027, 3, 30, 14), role="duty_manager",
                      code="inform_manager_of_unsecured_responses", rule_id="S44",
                      step_id=str(UUID(int=5)), due_at=utc(2027, 3, 30, 10),
                      completed_by_role="duty_manager", actor="case_holder"))
    course = created(done, "set_out_course_of_action")
    assert_step(course, rule="S44", code="set_out_course_of_action", actor="duty_manager",
                due=None, pack=S, ref="14.4.1")
    assert "no timescale" in (course.note or "")
    told_chair = run(S, ev_("step_completed", lon(2027, 3, 30, 14), role="chair",
                            code="inform_manager_of_unsecured_responses", rule_id="S44",
                            step_id=str(UUID(int=5)), due_at=utc(2027, 3, 30, 10),
                            completed_by_role="chair", actor="case_holder"))
    assert_step(created(told_chair, "set_out_course_of_action"), rule="S44",
                code="set_out_course_of_action", actor="chair", due=None, pack=S,
                ref="14.4.1")
    for role in ("line_manager", "duty_manager"):
        by_manager = run(S, ev_("case_event", lon(2027, 3, 30, 11), EVENT_ID, role=role,
                                type="recommended_responses_unsecured"))
        assert_step(created(by_manager, "set_out_course_of_action"), rule="S44",
                    code="set_out_course_of_action", actor=role, due=None, pack=S,
                    ref="14.4.1")
        assert "inform_manager_of_unsecured_responses" not in codes(by_manager)
    assert "recommended_responses_unsecured" in packs()[S].event_type_ids()
    assert "recommended_responses_unsecured" not in packs()[W].event_type_ids()


def test_pack_event_type_ids_fit_the_api_type_field() -> None:
    """A pack's event type is recorded by ``POST /v1/cases/{id}/events`` with its id as
    ``type`` (at most 32 characters, app.domain.events.EventTypeLabel): a pack declaring a
    longer id is refused when it is loaded, not left unrecordable."""
    from pydantic import ValidationError

    from app.workflows.vocabulary import EventType

    EventType(id="a" * 32, title="fits")
    with pytest.raises(ValidationError):
        EventType(id="recommended_responses_not_secured", title="33 characters")
