"""Attack 35b, ATTACK35B-7: after leave was cancelled, an escalation given back to the case's
line manager said, on its last line, that the duty managers had it, or that it came back
because the line manager's leave ended when it was a case holder's leave that ended. Every
move of an escalation says, from the state, who it is addressed to now: leave recorded and
cancelled, the chased step standing in and coming back, a new line manager (each path's note;
the audit keeps each move's reason). A restriction never moves one: it is named only to the
case's line manager, whom a restriction may not shut out."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from tests.api.fidelity_support import away, cancel_leave, pin
from tests.api.integrity_support import patch_case
from tests.api.support import tick
from tests.conftest import Tenant

S46 = {"pack": "somerset-yjt-2023", "version": "1", "ref": "8.3", "rule": "S46"}
SEED_8_3 = ("In the event that the matters are so urgent as to preclude the possibility of "
            "these processes, the case will be referred to the Operational/YJT manager with a "
            "view to making an immediate referral.")


async def _escalation(t: Tenant, case_id: str) -> dict[str, Any]:
    """The case's one escalation, as a duty manager lists the case's steps."""
    r = await t.client.get("/v1/next-steps", params={"case_id": case_id, "limit": 200},
                           headers=t.auth("duty_manager", "duty_manager-3"))
    assert r.status_code == 200, r.text
    [chase] = [s for s in r.json()["data"] if s["code"] == "escalate_overdue_step"]
    return chase  # type: ignore[no-any-return]


def _last(step: dict[str, Any]) -> str:
    return str(step["note"]).split("\n")[-1]


async def _urgent_referral(t: Tenant, case_id: str, role: str) -> None:
    r = await t.client.post(f"/v1/cases/{case_id}/events", headers=t.auth(role),
                            json={"type": "urgent_mappa_referral",
                                  "occurred_at": "2026-11-02T09:00:00Z"})
    assert r.status_code == 201, r.text


def _is(chase: dict[str, Any], actor: str, assignee: str | None) -> None:
    assert (chase["actor"], chase["assignee_id"], chase["due_at"], chase["urgent"],
            chase["policy"]) == (actor, assignee, None, True, S46)


async def test_S46_the_escalation_names_the_line_manager_it_is_given_back_to(
        factory: Any, somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """S46 (8.3): "In the event that the matters are so urgent as to preclude the possibility of
    these processes, the case will be referred to the Operational/YJT manager with a view to
    making an immediate referral." The case holder records it on Monday 2 November 2026 at 09:00
    GMT: the referral to the operational/YJT manager is theirs, due at once. Still open on
    Tuesday 3 November at 10:00 it escalates to the case's line manager, line_manager-1.
    line_manager-1's leave is recorded for 3 and 4 November: the escalation goes to the duty
    managers, its note saying so; the leave cancelled, it is line_manager-1's again, and its
    last line names them, with the step it chases (the case holder's)."""
    pin(monkeypatch, 2026, 11, 2, 9, 0)
    case_id = (await somerset.open_case(opened_at="2026-11-02T08:00:00Z"))["data"]["id"]
    await _urgent_referral(somerset, case_id, "case_holder")
    pin(monkeypatch, 2026, 11, 3, 10, 0)
    assert await tick(factory, somerset, datetime(2026, 11, 3, 10, 0, tzinfo=UTC)) == 1
    chase = await _escalation(somerset, case_id)
    _is(chase, "line_manager", "line_manager-1")
    leave = (await away(somerset, "line_manager-1", "2026-11-03", "2026-11-04"))["data"]
    chase = await _escalation(somerset, case_id)
    _is(chase, "duty_manager", None)
    assert _last(chase) == ("Stood in: the line manager (line_manager-1) is on recorded leave; "
                            "this escalation is now addressed to any duty manager.")
    await cancel_leave(somerset, leave)
    chase = await _escalation(somerset, case_id)
    _is(chase, "line_manager", "line_manager-1")
    assert _last(chase) == (
        "Given back: the step it chases is with the case holder (case_holder-1) and the line "
        "manager (line_manager-1) is not on recorded leave today; this escalation is now "
        "addressed to the line manager (line_manager-1).")


async def test_S46_cancelled_leave_of_both_moves_the_escalation_to_whom_the_state_says(
        factory: Any, somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """S46 (8.3): "In the event that the matters are so urgent as to preclude the possibility of
    these processes, the case will be referred to the Operational/YJT manager with a view to
    making an immediate referral." case_holder-1 and line_manager-1 are both on leave from Monday
    2 to Wednesday 4 November 2026; the line manager records the urgency on the 2nd at 09:00
    GMT: the referral stands in with the duty managers (the line manager beyond the case
    holder is away too), and, still open on Tuesday 3 November at 10:00, escalates to the
    chairs (over the duty managers). line_manager-1's leave cancelled: the referral stands in
    with them, and its escalation is the duty managers' (over the line manager), the note
    saying it stands in with line_manager-1, not that it is theirs again. case_holder-1's
    leave cancelled: the referral is theirs again and the escalation line_manager-1's, its
    last line naming line_manager-1 (ATTACK35B-7: it told the duty managers)."""
    pin(monkeypatch, 2026, 11, 2, 9, 0)
    case_id = (await somerset.open_case(opened_at="2026-11-02T08:00:00Z"))["data"]["id"]
    holder = (await away(somerset, "case_holder-1", "2026-11-02", "2026-11-04"))["data"]
    manager = (await away(somerset, "line_manager-1", "2026-11-02", "2026-11-04"))["data"]
    await _urgent_referral(somerset, case_id, "line_manager")
    pin(monkeypatch, 2026, 11, 3, 10, 0)
    assert await tick(factory, somerset, datetime(2026, 11, 3, 10, 0, tzinfo=UTC)) == 1
    _is(await _escalation(somerset, case_id), "chair", None)
    await cancel_leave(somerset, manager)
    chase = await _escalation(somerset, case_id)
    _is(chase, "duty_manager", None)
    assert _last(chase) == (
        "Moved: the step it chases stands in with the line manager (line_manager-1); this "
        "escalation is now addressed to any duty manager.")
    await cancel_leave(somerset, holder)
    chase = await _escalation(somerset, case_id)
    _is(chase, "line_manager", "line_manager-1")
    assert _last(chase) == (
        "Given back: the step it chases is with the case holder (case_holder-1) and the line "
        "manager (line_manager-1) is not on recorded leave today; this escalation is now "
        "addressed to the line manager (line_manager-1).")


async def test_S46_a_new_line_manager_names_the_new_addressee(
        factory: Any, somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """S46 (8.3): "In the event that the matters are so urgent as to preclude the possibility of
    these processes, the case will be referred to the Operational/YJT manager with a view to
    making an immediate referral." The case holder's referral escalated to line_manager-1 on
    Tuesday 3 November 2026 at 10:00 GMT. The case's line manager becomes lm-sam: the
    escalation is lm-sam's, its last line naming them. A restriction cannot move it: the
    escalation is only ever named to the case's line manager, whom no restriction may shut
    out (422 restriction-shuts-out-holder)."""
    pin(monkeypatch, 2026, 11, 2, 9, 0)
    case_id = (await somerset.open_case(opened_at="2026-11-02T08:00:00Z"))["data"]["id"]
    await _urgent_referral(somerset, case_id, "case_holder")
    pin(monkeypatch, 2026, 11, 3, 10, 0)
    assert await tick(factory, somerset, datetime(2026, 11, 3, 10, 0, tzinfo=UTC)) == 1
    r = await patch_case(somerset, case_id, {"line_manager_id": "lm-sam"},
                         role="duty_manager", sub="duty_manager-3")
    assert r.status_code == 200, r.text
    chase = await _escalation(somerset, case_id)
    _is(chase, "line_manager", "lm-sam")
    assert _last(chase) == "Reassigned: line_manager changed from line_manager-1 to lm-sam"
    r = await patch_case(somerset, case_id, {"access": {"excluded_staff": ["lm-sam"]}},
                         role="duty_manager", sub="duty_manager-3")
    assert r.status_code == 422, r.text
    assert r.json()["type"].endswith("/restriction-shuts-out-holder")
    _is(await _escalation(somerset, case_id), "line_manager", "lm-sam")
