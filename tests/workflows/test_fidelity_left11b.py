"""Left-over findings (session 11, left11b): seed sentences the packs did not yet follow, one
test per rule, on real England-and-Wales dates."""

from __future__ import annotations

from uuid import UUID

from tests.workflows.support import (
    EVENT_ID,
    SOMERSET,
    WOKINGHAM,
    assert_step,
    case,
    codes,
    created,
    lon,
    packs,
    run,
)
from tests.workflows.support import event as ev_

S, W = SOMERSET, WOKINGHAM


# --- Somerset 14.3.1: doubts about the secure setting ------------------------------------------

def test_S43_doubt_about_the_secure_setting_is_told_to_a_manager_who_escalates() -> None:
    """S43 (14.3.1): "If a case holder is in any doubt that the secure setting will be making
    appropriate responses to identified risks/concerns, they will inform their line manager,
    operational manager or the YJT manager who will escalate the concerns with the appropriate
    managers in the secure setting. It is not enough to assume that risk assessments have been
    passed on."

    The doubt recorded on Boxing Day 2026 (Saturday) at 11:00 GMT: the case holder informs a
    manager; no timescale (the paragraph sets none, and the note says so). The line manager
    completes it on Tuesday 29 December (after the substitute bank holiday): the escalation with
    the secure setting's managers is the line manager's (or the operational/YJT manager's, the
    chair role), no timescale; completed by a chair (the operational/YJT manager told), the
    escalation is the chair's. Recorded by the line manager, the escalation is owed at once, by
    the manager who recorded it (attack 24b, A24b-8), and nothing is asked of the case holder
    (a chair records no case event: ATTACK35B-2)."""
    secured = case(in_custody=True)
    ev = run(S, ev_("case_event", lon(2026, 12, 26, 11), EVENT_ID, type="secure_setting_doubt"),
             secured)
    inform = created(ev, "inform_manager_of_secure_setting_doubt")
    assert_step(inform, rule="S43", code="inform_manager_of_secure_setting_doubt",
                actor="case_holder", due=None, pack=S, ref="14.3.1")
    assert "no timescale" in (inform.note or "")
    assert "escalate_to_secure_setting" not in codes(ev)
    done = run(S, ev_("step_completed", lon(2026, 12, 29, 9, 30), role="line_manager",
                      code="inform_manager_of_secure_setting_doubt", rule_id="S43",
                      step_id=str(UUID(int=5)), due_at=None, completed_by_role="line_manager",
                      actor="case_holder"), secured)
    esc = created(done, "escalate_to_secure_setting")
    assert_step(esc, rule="S43", code="escalate_to_secure_setting", actor="line_manager",
                due=None, pack=S, ref="14.3.1")
    assert "no timescale" in (esc.note or "")
    # The manager told escalates: the operational/YJT manager (chair) themselves (A24b-8).
    told_chair = run(S, ev_("step_completed", lon(2026, 12, 29, 9, 30), role="chair",
                            code="inform_manager_of_secure_setting_doubt", rule_id="S43",
                            step_id=str(UUID(int=5)), due_at=None, completed_by_role="chair",
                            actor="case_holder"), secured)
    assert_step(created(told_chair, "escalate_to_secure_setting"), rule="S43",
                code="escalate_to_secure_setting", actor="chair", due=None, pack=S,
                ref="14.3.1")
    by_manager = run(S, ev_("case_event", lon(2026, 12, 26, 11), EVENT_ID, role="line_manager",
                            type="secure_setting_doubt"), secured)
    assert_step(created(by_manager, "escalate_to_secure_setting"), rule="S43",
                code="escalate_to_secure_setting", actor="line_manager", due=None, pack=S,
                ref="14.3.1")
    assert "inform_manager_of_secure_setting_doubt" not in codes(by_manager)
    assert "secure_setting_doubt" in packs()[S].event_type_ids()
    # Wokingham's policy has no such paragraph (its secure estate text is MAPPA's release).
    assert "secure_setting_doubt" not in packs()[W].event_type_ids()
