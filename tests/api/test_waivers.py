"""Who may waive a step (attack pass 4, finding 4): not the manager who owes it, and no line or
duty manager for a chair's duty or a panel's agreed action.

Somerset 2023, 4.5: "It is the responsibility of line managers to review all cases where there is
a High or Very High ROSH and/or Safety and Well-Being rating with case holders at least monthly".
12: "The operational or YJT manager will be responsible for completing and submitting the
notification to the YJB." 7.1.7: "Case holders will ensure any required actions are taken and
will notify their line manager or duty manager if any obstacles to implementation of the agreed
plan arise." A waiver records that a duty need not be done: a judgement for someone other than
the person who owes it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from app.core.security import mint_dev_token
from tests.api.integrity_support import assert_problem, judge, steps_of
from tests.api.support import tick
from tests.api.test_panel_action_owners import _action, _decide, _marp_decision
from tests.conftest import Tenant


async def _waive(t: Tenant, step_id: str, role: str, sub: str | None = None):  # type: ignore[no-untyped-def]
    return await t.client.post(f"/v1/next-steps/{step_id}/waive",
                               json={"reason": "not needed"}, headers=t.auth(role, sub))


async def test_S11_line_manager_may_not_waive_their_own_monthly_review(somerset: Tenant) -> None:
    """S11's monthly_manager_review (ref 4.5) is assigned to line_manager-1: their waiver is
    403 and the step stays open; a duty manager may waive it (200)."""
    case = (await somerset.open_case())["data"]
    await judge(somerset, case["id"], "rosh", "high", "2026-04-15T10:00:00Z")
    review = next(s for s in await steps_of(somerset, case["id"])
                  if s["code"] == "monthly_manager_review")
    assert review["assignee_id"] == "line_manager-1"
    assert review["policy"]["ref"] == "4.5"
    assert_problem(await _waive(somerset, review["id"], "line_manager", "line_manager-1"), 403)
    assert review["id"] in {s["id"] for s in await steps_of(somerset, case["id"])}
    r = await _waive(somerset, review["id"], "duty_manager", "duty_manager-1")
    assert r.status_code == 200, r.text
    assert r.json()["data"]["status"] == "waived"


async def test_S23_chairs_notification_is_not_waived_by_a_manager(somerset: Tenant) -> None:
    """S23's notify_serious_incident (actor chair, ref 12) after a charge: 403 for the line
    manager and a duty manager; it stays open. The case holder's step of the same event is
    waivable by the line manager."""
    case = (await somerset.open_case())["data"]
    r = await somerset.client.post(f"/v1/cases/{case['id']}/events",
                                   json={"type": "charged", "occurred_at": "2026-06-12T09:30:00Z",
                                         "details": {"offence": "robbery"}},
                                   headers=somerset.auth("case_holder"))
    assert r.status_code == 201, r.text
    steps = {s["code"]: s for s in r.json()["next_steps"]}
    notify = steps["notify_serious_incident"]
    assert notify["actor"] == "chair"
    for role in ("line_manager", "duty_manager"):
        assert_problem(await _waive(somerset, notify["id"], role), 403)
    assert notify["id"] in {s["id"] for s in await steps_of(somerset, case["id"])}
    inform = steps["inform_service_manager"]
    assert (await _waive(somerset, inform["id"], "line_manager")).status_code == 200


async def test_W22_panel_action_is_not_waived_by_a_manager(wokingham: Tenant) -> None:
    """A High-Risk Panel action (actor action_owner, W22) owned by pc-17: 403 for the line
    manager and a duty manager; it stays open and the case holder records it done."""
    case_id, r = await _decide(wokingham, "pc-17")
    assert r.status_code == 200, r.text
    action = _action(r.json()["next_steps"])
    for role in ("line_manager", "duty_manager"):
        assert_problem(await _waive(wokingham, action["id"], role), 403)
    assert action["id"] in {s["id"] for s in await steps_of(wokingham, case_id)}


async def test_S5_line_manager_does_not_check_their_own_judgement(somerset: Tenant) -> None:
    """S5 (Somerset 3.1): "Any 'high' or 'very high' judgement rating will be discussed as soon
    as practicable with the relevant line manager or duty manager (within 24 hours) ... If the
    line manager is unavailable, the duty manager will undertake these functions." The line
    manager judged ROSH high themselves (Monday 1 June 2026 10:00 BST): discuss_with_manager is
    due Tuesday 2 June 09:00Z (24 clock hours), ref 3.1, addressed to the duty managers (not to
    the line manager who may not do it, A19-18); the line manager is refused it (403); a duty
    manager completes it. Their monthly review (S11, recurring oversight) they complete
    themselves."""
    case = (await somerset.open_case())["data"]
    body = await judge(somerset, case["id"], "rosh", "high", "2026-06-01T10:00:00+01:00",
                       role="line_manager", sub="line_manager-1")
    steps = {s["code"]: s for s in body["next_steps"]}
    discuss = steps["discuss_with_manager"]
    assert (discuss["actor"], discuss["assignee_id"]) == ("duty_manager", None)
    assert discuss["due_at"] == "2026-06-02T09:00:00Z"
    assert discuss["policy"]["ref"] == "3.1"
    assert discuss["policy"]["rule"] == "S5"
    r = await somerset.client.post(f"/v1/next-steps/{discuss['id']}/complete", json={},
                                   headers=somerset.auth("line_manager", "line_manager-1"))
    assert_problem(r, 403)
    r = await somerset.client.post(f"/v1/next-steps/{discuss['id']}/complete",
                                   json={"note": "Discussed in cover"},
                                   headers=somerset.auth("duty_manager", "duty_manager-2"))
    assert r.status_code == 200, r.text
    review = steps["monthly_manager_review"]
    r = await somerset.client.post(f"/v1/next-steps/{review['id']}/complete", json={},
                                   headers=somerset.auth("line_manager", "line_manager-1"))
    assert r.status_code == 200, r.text


async def test_S5_a_holders_judgement_is_discussed_with_the_line_manager(
        somerset: Tenant) -> None:
    """The ordinary case: the case holder judged; the line manager completes the discussion."""
    case = (await somerset.open_case())["data"]
    body = await judge(somerset, case["id"], "rosh", "high", "2026-06-01T10:00:00+01:00")
    discuss = next(s for s in body["next_steps"] if s["code"] == "discuss_with_manager")
    r = await somerset.client.post(f"/v1/next-steps/{discuss['id']}/complete", json={},
                                   headers=somerset.auth("line_manager", "line_manager-1"))
    assert r.status_code == 200, r.text


async def test_S5_escalation_of_a_managers_own_lapse_is_not_waived(
        factory: Any, somerset: Tenant) -> None:
    """S5's discussion (line_manager-1, due Tuesday 2 June 2026 09:00Z) is overdue; the tick
    escalates it to a duty manager. Neither line_manager-1 nor a duty manager may waive the
    escalation (403): it closes when the discussion is done, and a second tick raises none."""
    case = (await somerset.open_case())["data"]
    await judge(somerset, case["id"], "rosh", "high", "2026-06-01T10:00:00+01:00")
    assert await tick(factory, somerset, datetime(2026, 6, 2, 10, 0, tzinfo=UTC)) >= 1
    [up] = [s for s in await steps_of(somerset, case["id"])
            if s["code"] == "escalate_overdue_step" and s["actor"] == "duty_manager"]
    for role, sub in (("line_manager", "line_manager-1"), ("duty_manager", "duty_manager-1")):
        assert_problem(await _waive(somerset, up["id"], role, sub), 403)
    assert up["id"] in {s["id"] for s in await steps_of(somerset, case["id"])}
    assert await tick(factory, somerset, datetime(2026, 6, 2, 11, 0, tzinfo=UTC)) == 0


async def test_S19_panel_administrators_record_is_not_waived_by_a_manager(
        somerset: Tenant) -> None:
    """S19's record_panel_contact (actor panel_admin, ref 7.1.4): 403 for a duty manager and
    the line manager; it stays open."""
    _, r = await _marp_decision(somerset, "Safety plan", "2026-06-24")
    assert r.status_code == 200, r.text
    contact = next(s for s in r.json()["next_steps"] if s["code"] == "record_panel_contact")
    for role in ("line_manager", "duty_manager"):
        assert_problem(await _waive(somerset, contact["id"], role), 403)


async def test_S5_the_late_manager_does_not_complete_their_own_escalation(
        factory: Any, somerset: Tenant) -> None:
    """The escalation of line_manager-1's overdue S5 discussion is addressed to the duty
    managers: line_manager-1 holding a duty_manager role as well gets 403 completing it; a
    duty manager completes it (200)."""
    case = (await somerset.open_case())["data"]
    await judge(somerset, case["id"], "rosh", "high", "2026-06-01T10:00:00+01:00")
    assert await tick(factory, somerset, datetime(2026, 6, 2, 10, 0, tzinfo=UTC)) >= 1
    [up] = [s for s in await steps_of(somerset, case["id"])
            if s["code"] == "escalate_overdue_step" and s["actor"] == "duty_manager"]
    both = mint_dev_token(somerset.settings, sub="line_manager-1",
                          roles=["duty_manager", "line_manager"], service=somerset.slug)
    r = await somerset.client.post(f"/v1/next-steps/{up['id']}/complete", json={},
                                   headers={"Authorization": f"Bearer {both}"})
    assert_problem(r, 403)
    r = await somerset.client.post(f"/v1/next-steps/{up['id']}/complete",
                                   json={"note": "Chased"},
                                   headers=somerset.auth("duty_manager", "duty_manager-1"))
    assert r.status_code == 200, r.text
