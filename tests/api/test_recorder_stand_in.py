"""A line manager's check on a record they made goes to the duty managers (A19-18).

Somerset 3.1: "... discussed ... with the relevant line manager or duty manager ...
countersigned by line manager. If the line manager is unavailable, the duty manager will
undertake these functions." Whoever recorded a judgement does not do the line manager's one-off
check on it (403); so when the line manager records a high ROSH themselves (Tuesday 2 June 2026,
10:00 BST), the discussion (S5, due 24 hours later) and the risk plan's countersignature (S6) are
addressed to the duty managers, unassigned, with a note, as a stand-in is, and stay there when
the line manager's queue is read; a duty manager completes the discussion.
"""

from __future__ import annotations

from tests.conftest import Tenant


async def test_S5_S6_a_line_managers_own_high_rating_is_checked_by_a_duty_manager(
    somerset: Tenant,
) -> None:
    """S5, S6 (3.1): addressed to the duty managers, not to the line manager who recorded."""
    case_id = (await somerset.open_case())["data"]["id"]
    r = await somerset.client.post(f"/v1/cases/{case_id}/judgements", json={
        "domain": "rosh", "level": "high", "occurred_at": "2026-06-02T10:00:00+01:00",
        "victims": ["peer"]}, headers=somerset.auth("line_manager", "line_manager-1"))
    assert r.status_code == 201, r.text
    mine = await somerset.client.get("/v1/next-steps", params={
        "case_id": case_id, "assignee": "me"}, headers=somerset.auth("line_manager"))
    assert not {"discuss_with_manager", "countersign_risk_plan"} & {
        s["code"] for s in mine.json()["data"]}
    duty = await somerset.client.get("/v1/next-steps", params={
        "case_id": case_id, "actor": "duty_manager"}, headers=somerset.auth("duty_manager"))
    checks = {s["code"]: s for s in duty.json()["data"]}
    assert {"discuss_with_manager", "countersign_risk_plan"} <= set(checks)
    discuss = checks["discuss_with_manager"]
    assert (discuss["assignee_id"], discuss["due_at"], discuss["policy"]["rule"]) == (
        None, "2026-06-03T09:00:00Z", "S5")
    assert "recorded what this step checks" in discuss["note"]
    done = await somerset.client.post(f"/v1/next-steps/{discuss['id']}/complete", json={
        "note": "Discussed", "occurred_at": "2026-06-02T15:00:00+01:00"},
        headers=somerset.auth("duty_manager"))
    assert done.status_code == 200, done.text
