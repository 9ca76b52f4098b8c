"""A closure is no way round a duty the policy mandates without exception (attack pass 9, A9-9).

Closing a case supersedes its open steps. A step the pack declares ``not_waivable`` (no line or
duty manager may waive it: 403) was set aside the same way, a minute after the waiver was
refused. The closure is now refused, 409 ``mandatory-steps-open``, naming the open steps (id,
code, rule, paragraph): do the duty, or record the act that answers it, then close. A recorded
death ends those steps (the pack's ``ends_steps``), so a case still closes after a death.

2026 dates: Friday 28 August, before the late-summer bank holiday (Monday 31 August).
"""

from __future__ import annotations

import asyncio
from typing import Any

from tests.api.integrity_support import (
    assert_problem,
    audit_of,
    closing_asset_plus,
    etag,
    patch_case,
    refer_to_marp,
    steps_of,
    the_step,
)
from tests.conftest import Tenant

OPENED = "2026-08-03T09:00:00+01:00"
CLOSE = {"closed_at": "2026-08-28T16:00:00+01:00", "closure_reason": "ZZECHO moved away"}


async def _post(t: Tenant, url: str, body: dict[str, Any], role: str = "case_holder",
                status: int = 201) -> dict[str, Any]:
    r = await t.client.post(url, json=body, headers=t.auth(role))
    assert r.status_code == status, r.text
    return r.json()  # type: ignore[no-any-return]


async def _very_high_swb(t: Tenant) -> tuple[str, dict[str, Any]]:
    case_id = (await t.open_case(opened_at=OPENED))["data"]["id"]
    body = await _post(t, f"/v1/cases/{case_id}/judgements", {
        "domain": "swb", "level": "very_high", "rationale": "imminent danger",
        "occurred_at": "2026-08-28T15:00:00+01:00"})
    return case_id, the_step(body["next_steps"], "child_protection_referral")


async def test_S9_closure_with_the_child_protection_referral_open_is_409_naming_it(
        somerset: Tenant) -> None:
    """S9 (3.2.4): very high SWB: "Immediate actions are needed to protect the young person,
    which will include (or has already included) a referral to statutory child protection
    services". Judged Friday 28 August 2026 15:00 BST: the referral is the case holder's, due
    at once (14:00Z), urgent. The line manager's closure at 16:00 is 409 naming it (and the
    MARP referral and views, 3.2.3, 6.2), with no request value; the case stays open, the step
    open, nothing audited. Once the referrals are made, the case closes."""
    case_id, cp = await _very_high_swb(somerset)
    assert (cp["actor"], cp["assignee_id"], cp["due_at"], cp["urgent"], cp["policy"]["rule"],
            cp["policy"]["ref"]) == ("case_holder", "case_holder-1", "2026-08-28T14:00:00Z",
                                     True, "S9", "3.2.4")
    r = await patch_case(somerset, case_id, CLOSE)
    problem = assert_problem(r, 409)
    assert problem["type"].endswith("/mandatory-steps-open")
    named = {s["code"]: s for s in problem["steps"]}
    assert sorted(named) == ["child_protection_referral", "refer_to_panel",
                             "seek_child_and_carer_views"]
    assert named["child_protection_referral"] == {
        "id": cp["id"], "code": "child_protection_referral", "rule": "S9", "policy_ref": "3.2.4"}
    assert "ZZECHO" not in r.text
    case = (await somerset.client.get(f"/v1/cases/{case_id}",
                                      headers=somerset.auth("chair"))).json()["data"]
    assert case["closed_at"] is None
    assert cp["id"] in {s["id"] for s in await steps_of(somerset, case_id)}
    assert "case.close" not in [e["action"] for e in await audit_of(somerset, case_id)]
    await refer_to_marp(somerset, case_id, "2026-08-28T15:10:00+01:00")
    made = await _post(somerset, f"/v1/cases/{case_id}/referrals",
                       {"kind": "child_protection", "occurred_at": "2026-08-28T15:20:00+01:00"})
    for action in ("submit", "send"):
        await _post(somerset, f"/v1/referrals/{made['data']['id']}/{action}",
                    {"occurred_at": "2026-08-28T15:30:00+01:00"}, status=200)
    r = await patch_case(somerset, case_id, CLOSE)
    assert r.status_code == 200, r.text
    assert r.json()["data"]["closed_at"] == "2026-08-28T15:00:00Z"


async def test_S9_S23_a_case_closes_after_a_recorded_death(somerset: Tenant) -> None:
    """S23 (12): "... any child who is charged with any notifiable offence or dies whilst
    relevant to our service": a recorded death ends the work with the child, the child
    protection referral included (the pack's ``ends_steps``), so the closure that follows
    (Friday 28 August 2026 16:00 BST) stands; the notification steps S23 asks for after a death
    reach past the closure as before (a serious incident referral may still be made)."""
    case_id, cp = await _very_high_swb(somerset)
    died = await _post(somerset, f"/v1/cases/{case_id}/events",
                       {"type": "death", "occurred_at": "2026-08-28T15:20:00+01:00"},
                       role="line_manager")
    assert "child_protection_referral" not in {s["code"] for s in died["next_steps"]}
    r = await patch_case(somerset, case_id, CLOSE)
    assert r.status_code == 200, r.text
    superseded = {s["id"]: s for s in await steps_of(somerset, case_id, "superseded")}
    assert "the child has died" in superseded[cp["id"]]["note"]


async def _very_high_rosh(t: Tenant, case_id: str, at: str) -> dict[str, Any]:
    body = await _post(t, f"/v1/cases/{case_id}/judgements", {
        "domain": "rosh", "level": "very_high", "impact": "critical",
        "likelihood": "almost_certain", "victims": ["public"], "occurred_at": at})
    return the_step(body["next_steps"], "request_high_risk_panel")


async def test_W7_closure_with_the_high_risk_panel_request_open_is_409(wokingham: Tenant) -> None:
    """W7 ("High Risk Panel"): "It will be the responsibility of the case worker or their line
    manager to request a High-Risk Panel within two working days of 1. Assessing a child as
    high or very high ROSH". Very high ROSH on Tuesday 1 September 2026 10:00 BST: the request
    is the case holder's, due in two working days (Thursday 3 September). The closure Asset+ is
    countersigned after it (W3), yet closing on 1 September 16:00 is 409 naming the request."""
    case_id = (await wokingham.open_case(opened_at=OPENED))["data"]["id"]
    request = await _very_high_rosh(wokingham, case_id, "2026-09-01T10:00:00+01:00")
    assert (request["actor"], request["due_at"], request["policy"]["rule"],
            request["policy"]["ref"]) == ("case_holder", "2026-09-03T22:59:59Z", "W7",
                                          "High Risk Panel")
    await closing_asset_plus(wokingham, case_id, "2026-09-01T11:00:00+01:00")
    r = await patch_case(wokingham, case_id, {"closed_at": "2026-09-01T16:00:00+01:00",
                                              "closure_reason": "Order completed"})
    problem = assert_problem(r, 409)
    assert problem["steps"] == [{"id": request["id"], "code": "request_high_risk_panel",
                                 "rule": "W7", "policy_ref": "High Risk Panel"}]


async def test_W7_race_closure_against_the_event_raising_a_panel_request(
        wokingham: Tenant) -> None:
    """W7: "... 2. Becoming aware of a change of circumstances or new incident which is serious
    enough to warrant consideration for an increase of assessed risk levels to high/very high".
    A court order case with its countersigned closure Asset+ (Tuesday 1 September 2026 11:00
    BST); an incident dated 10:00 that morning, serious enough (``may_raise_to_high``), is
    recorded while the line manager closes the case. Either the closure came first (the event
    is 409 ``case-closed``, no request was ever raised) or the event did (the request is open
    and the closure 409 ``mandatory-steps-open`` naming it): never a closed case whose request
    the closure set aside. 10 rounds, on SQLite and PostgreSQL."""
    for _ in range(10):
        case_id = (await wokingham.open_case(opened_at=OPENED))["data"]["id"]
        await closing_asset_plus(wokingham, case_id, "2026-09-01T11:00:00+01:00")
        tag = await etag(wokingham, case_id)
        event, closure = await asyncio.gather(
            wokingham.client.post(f"/v1/cases/{case_id}/events", json={
                "type": "new_incident", "may_raise_to_high": True,
                "occurred_at": "2026-09-01T10:00:00+01:00"}, headers=wokingham.auth("case_holder")),
            wokingham.client.patch(f"/v1/cases/{case_id}", json={
                "closed_at": "2026-09-01T16:00:00+01:00", "closure_reason": "Order completed"},
                headers={**wokingham.auth("line_manager"), "If-Match": tag}))
        requests = [s for status in ("open", "superseded", "done")
                    for s in await steps_of(wokingham, case_id, status)
                    if s["code"] == "request_high_risk_panel"]
        if closure.status_code == 200:
            assert assert_problem(event, 409)["type"].endswith("/case-closed")
            assert requests == []
        else:
            assert event.status_code == 201, event.text
            # The event moved the case's ETag (A20-5): the closure read before it is 412;
            # sent again on the case as it now is, 409 naming the request.
            assert_problem(closure, 412)
            closure = await wokingham.client.patch(f"/v1/cases/{case_id}", json={
                "closed_at": "2026-09-01T16:00:00+01:00", "closure_reason": "Order completed"},
                headers={**wokingham.auth("line_manager"),
                         "If-Match": await etag(wokingham, case_id)})
            problem = assert_problem(closure, 409)
            assert [s["id"] for s in problem["steps"]] == [s["id"] for s in requests]
            assert [s["status"] for s in requests] == ["open"]
