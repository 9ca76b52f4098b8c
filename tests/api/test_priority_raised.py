"""A manager raises the priority of a High/Very High case (Somerset 3.2.4; attack pass 20,
A20-16): ``POST /v1/cases/{id}/priority``.

3.2.4: "'Very High' judgements will trigger the case being dealt with as a priority at all
stages ... The urgency of oversight by the MARP will be agreed with a manager, (High/Very High
cases) who will act to raise the priority if necessary." The Very High marker was derived; a
manager had no way to raise a High case's priority. Now the case's line manager, a duty manager
or a chair raises (and clears) it, audited with the reason, in one transaction under the case's
lock, an If-Match sent checked; it lapses as the Very High marker does (ratings below high,
closure).
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from tests.api.fidelity_support import pin
from tests.api.integrity_support import (
    assert_problem,
    audit_of,
    etag,
    patch_case,
    refer_to_marp,
    steps_of,
)
from tests.conftest import Tenant


@pytest.fixture(autouse=True)
def pinned(monkeypatch: pytest.MonkeyPatch) -> None:
    """The service's clock at Thursday 1 April 2027 10:00Z (BST)."""
    pin(monkeypatch, 2027, 4, 1, 9, 0)


async def _judge(t: Tenant, case_id: str, level: str, at: str, domain: str = "rosh"
                 ) -> httpx.Response:
    body: dict[str, Any] = {"domain": domain, "level": level, "occurred_at": at}
    if domain == "rosh" and level != "low":
        body["victims"] = ["public"]
    r = await t.client.post(f"/v1/cases/{case_id}/judgements", json=body,
                            headers=t.auth("case_holder"))
    assert r.status_code == 201, r.text
    return r


async def _priority(t: Tenant, case_id: str, raised: bool, role: str = "line_manager",
                    **headers: str) -> httpx.Response:
    return await t.client.post(f"/v1/cases/{case_id}/priority",
                               json={"raised": raised, "reason": "agreed at supervision"},
                               headers={**t.auth(role), **headers})


async def test_PRI_a_manager_raises_the_priority_of_a_high_case(somerset: Tenant) -> None:
    """PRI (3.2.4): "The urgency of oversight by the MARP will be agreed with a manager,
    (High/Very High cases) who will act to raise the priority if necessary."

    ROSH judged high on Saturday 24 October 2026 (the day before the clock change): not a
    priority by itself (very high is). The case holder may not raise it (403, even with a body
    that is no body: the role is refused first); a stale If-Match is 412 and changes nothing.
    The line manager raises it with the case's ETag: the case and every open step (S5's
    discussion, S7's MARP referral) carry ``priority: true``; the audit holds
    ``case.priority_raise`` by the line manager with the reason; the answer's ETag is the new
    one. Raising again changes nothing and records nothing."""
    case_id = (await somerset.open_case(opened_at="2026-10-01T09:00:00+01:00"))["data"]["id"]
    await _judge(somerset, case_id, "high", "2026-10-24T16:00:00+01:00")
    got = (await somerset.client.get(f"/v1/cases/{case_id}",
                                     headers=somerset.auth("line_manager"))).json()["data"]
    assert (got["priority"], got["priority_raised"]) == (False, False)
    r = await somerset.client.post(f"/v1/cases/{case_id}/priority", content=b"not json",
                                   headers={**somerset.auth("case_holder"),
                                            "Content-Type": "application/json"})
    assert_problem(r, 403)
    assert_problem(await _priority(somerset, case_id, True, "case_holder"), 403)
    assert_problem(await _priority(somerset, case_id, True, "panel_admin"), 403)
    before = await etag(somerset, case_id)
    assert_problem(await _priority(somerset, case_id, True, **{"If-Match": '"999"'}), 412)
    assert await etag(somerset, case_id) == before
    r = await _priority(somerset, case_id, True, **{"If-Match": before})
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert (data["priority"], data["priority_raised"]) == (True, True)
    assert r.headers["ETag"] != before
    steps = await steps_of(somerset, case_id)
    assert {"discuss_with_manager", "refer_to_panel"} <= {s["code"] for s in steps}
    assert all(s["priority"] for s in steps)
    listed = await somerset.client.get("/v1/next-steps", params={
        "case_id": case_id, "priority": "true"}, headers=somerset.auth("duty_manager"))
    assert len(listed.json()["data"]) == len(steps)
    raised = [e for e in await audit_of(somerset, case_id)
              if e["action"] == "case.priority_raise"]
    assert [(e["actor"], e["role"], e["reason"]) for e in raised] == [
        ("line_manager-1", "line_manager", "agreed at supervision")]
    again = await _priority(somerset, case_id, True, "chair")
    assert again.status_code == 200, again.text
    assert len([e for e in await audit_of(somerset, case_id)
                if e["action"].startswith("case.priority")]) == 1


async def test_PRI_a_raised_priority_lapses_when_the_rating_falls_and_at_closure(
        somerset: Tenant) -> None:
    """PRI (3.2.4): the manager raises the priority of "High/Very High cases". SWB judged high
    on Monday 30 November 2026 (a month end) and raised by a duty manager; SWB judged medium on
    Thursday 31 December: the case is no longer High, the raised priority lapses (case and
    steps), as the Very High marker does when the rating falls. Raising a medium case is 409
    ``priority-not-raisable``. High again and raised by a chair, then closed on Friday 29
    January 2027: the closed case is no priority, nor raised; reopened on Monday 1 February it
    stays unraised (a manager decides again)."""
    case_id = (await somerset.open_case(opened_at="2026-11-02T09:00:00Z"))["data"]["id"]
    await _judge(somerset, case_id, "high", "2026-11-30T15:00:00Z", "swb")
    r = await _priority(somerset, case_id, True, "duty_manager")
    assert r.status_code == 200, r.text
    assert r.json()["data"]["priority"] is True
    r = await _judge(somerset, case_id, "medium", "2026-12-31T10:00:00Z", "swb")
    got = (await somerset.client.get(f"/v1/cases/{case_id}",
                                     headers=somerset.auth("line_manager"))).json()["data"]
    assert (got["priority"], got["priority_raised"]) == (False, False)
    assert not any(s["priority"] for s in await steps_of(somerset, case_id))
    problem = assert_problem(await _priority(somerset, case_id, True), 409)
    assert problem["type"].endswith("/priority-not-raisable")
    await _judge(somerset, case_id, "high", "2027-01-04T10:00:00Z", "swb")
    r = await _priority(somerset, case_id, True, "chair")
    assert r.status_code == 200, r.text
    await refer_to_marp(somerset, case_id, "2027-01-05T10:00:00Z")
    r = await patch_case(somerset, case_id, {"closed_at": "2027-01-29T16:00:00Z",
                                             "closure_reason": "order ended"})
    assert r.status_code == 200, r.text
    assert (r.json()["data"]["priority"], r.json()["data"]["priority_raised"]) == (False, False)
    assert_problem(await _priority(somerset, case_id, True), 409)
    r = await patch_case(somerset, case_id, {"closed_at": None, "reopen_reason": "new order"})
    assert r.status_code == 200, r.text
    assert (r.json()["data"]["priority"], r.json()["data"]["priority_raised"]) == (False, False)


async def test_PRI_a_manager_clears_a_raised_priority_and_very_high_stays_a_priority(
        somerset: Tenant) -> None:
    """PRI (3.2.4): "'Very High' judgements will trigger the case being dealt with as a
    priority at all stages" and a manager "will act to raise the priority if necessary". A High
    ROSH case (Good Friday 26 March 2027) raised by the line manager and cleared by a chair is
    no longer a priority (audited ``case.priority_clear`` with the reason); a case judged very
    high stays a priority when its raised priority is cleared (the marker is the judgement's)."""
    case_id = (await somerset.open_case(opened_at="2027-03-01T09:00:00Z"))["data"]["id"]
    await _judge(somerset, case_id, "high", "2027-03-26T11:00:00Z")
    assert (await _priority(somerset, case_id, True)).status_code == 200
    r = await _priority(somerset, case_id, False, "chair")
    assert r.status_code == 200, r.text
    assert (r.json()["data"]["priority"], r.json()["data"]["priority_raised"]) == (False, False)
    assert not any(s["priority"] for s in await steps_of(somerset, case_id))
    cleared = [e for e in await audit_of(somerset, case_id)
               if e["action"] == "case.priority_clear"]
    assert [(e["role"], e["reason"]) for e in cleared] == [("chair", "agreed at supervision")]
    await _judge(somerset, case_id, "very_high", "2027-03-29T09:00:00+01:00")
    assert (await _priority(somerset, case_id, True)).status_code == 200
    r = await _priority(somerset, case_id, False)
    assert (r.json()["data"]["priority"], r.json()["data"]["priority_raised"]) == (True, False)


async def test_PRI_wokingham_has_no_priority_to_raise(wokingham: Tenant) -> None:
    """Wokingham's policy has no such sentence (its very high band sets the contact level,
    "Frequency of contact"): raising a high case's priority is 422 ``priority-not-in-policy``;
    the role is still refused first (403 for the case holder)."""
    case_id = (await wokingham.open_case())["data"]["id"]
    r = await wokingham.client.post(f"/v1/cases/{case_id}/judgements", json={
        "domain": "rosh", "level": "high", "impact": "major", "likelihood": "likely",
        "victims": ["public"], "occurred_at": "2026-11-02T10:00:00Z"},
        headers=wokingham.auth("case_holder"))
    assert r.status_code == 201, r.text
    assert_problem(await _priority(wokingham, case_id, True, "case_holder"), 403)
    problem = assert_problem(await _priority(wokingham, case_id, True), 422)
    assert problem["type"].endswith("/priority-not-in-policy")


async def test_PRI_a_raise_racing_a_lowering_judgement_never_leaves_a_medium_case_raised(
        somerset: Tenant) -> None:
    """PRI (3.2.4): the manager raises the priority of "High/Very High cases". A raise sent at
    the same time as the case holder's SWB medium (Tuesday 29 December 2026, after the Boxing
    Day substitute holiday) on a case judged SWB high: whichever takes the case's lock first,
    the case ends neither raised nor a priority (raised first: it lapses with the rating;
    judged first: the raise is 409 ``priority-not-raisable``), five rounds."""
    for _ in range(5):
        case_id = (await somerset.open_case(opened_at="2026-12-01T09:00:00Z"))["data"]["id"]
        await _judge(somerset, case_id, "high", "2026-12-01T10:00:00Z", "swb")
        raise_, judge = await asyncio.gather(
            _priority(somerset, case_id, True),
            somerset.client.post(f"/v1/cases/{case_id}/judgements", json={
                "domain": "swb", "level": "medium", "occurred_at": "2026-12-29T10:00:00Z"},
                headers=somerset.auth("case_holder")))
        assert judge.status_code == 201, judge.text
        # The order the lock gave them decides the raise's answer; each order has exactly one.
        if raise_.status_code == 200:  # raised on the high case, before the judgement
            assert raise_.json()["data"]["priority_raised"] is True
            assert judge.json()["data"]["level"] == "medium"
        else:  # the judgement first: the case is no longer High
            assert assert_problem(raise_, 409)["type"].endswith("/priority-not-raisable")
        got = (await somerset.client.get(f"/v1/cases/{case_id}",
                                         headers=somerset.auth("line_manager"))).json()["data"]
        assert (got["priority"], got["priority_raised"]) == (False, False)
        assert not any(s["priority"] for s in await steps_of(somerset, case_id))


async def test_PRI_no_raise_after_a_recorded_death(somerset: Tenant) -> None:
    """Attack 22, A22-1: "Recording the death takes the case off the register and priority"
    (integrating.md §2), yet a manager's raise after it was 200 and marked the deceased
    child's case and its CSPPI steps priority. A raise dated after a recorded death is
    ``409 after-final-event``, before or after an earlier raise the death cleared; the case
    and its steps stay off priority; clearing stays allowed."""
    case_id = (await somerset.open_case())["data"]["id"]
    await _judge(somerset, case_id, "high", "2027-03-29T10:00:00+01:00", domain="swb")
    r = await _priority(somerset, case_id, True)
    assert r.status_code == 200, r.text
    r = await somerset.client.post(f"/v1/cases/{case_id}/events", json={
        "type": "death", "occurred_at": "2027-03-31T10:00:00+01:00"},
        headers=somerset.auth("case_holder"))
    assert r.status_code == 201, r.text
    for role in ("line_manager", "duty_manager", "chair"):
        problem = assert_problem(await _priority(somerset, case_id, True, role), 409)
        assert problem["type"].endswith("/after-final-event"), problem
    case = (await somerset.client.get(f"/v1/cases/{case_id}",
                                      headers=somerset.auth("line_manager"))).json()["data"]
    assert case["priority"] is False
    assert case["priority_raised"] is False
    steps = await steps_of(somerset, case_id, "open")
    assert steps
    assert not [s for s in steps if s["priority"]]
    cleared = await _priority(somerset, case_id, False)
    assert cleared.status_code == 200, cleared.text
