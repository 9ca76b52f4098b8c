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

from tests.api.integrity_support import assert_problem, judge, steps_of
from tests.api.test_panel_action_owners import _action, _decide
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
