"""Steps the policy gives to "X or Y" (pack key ``also_done_by``), through HTTP.

The step stays addressed to its actor; the other named holder may complete it, and nobody else
(another team's line manager, who does not see the case: 404; a role the sentence does not
name: 403). Attack pass 9, A9-22.

2026 dates: Monday 31 August is the late-summer bank holiday; BST until Sunday 25 October.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.fidelity_support import pin, steps_of, taken_by_marp
from tests.api.integrity_support import recorded
from tests.conftest import Tenant

S = {"pack": "somerset-yjt-2023", "version": "1"}
W = {"pack": "wokingham-pyjs-2024", "version": "1.0"}


async def _open_steps(t: Tenant, case_id: str) -> list[dict[str, Any]]:
    r = await t.client.get("/v1/next-steps", params={"case_id": case_id, "limit": 200},
                           headers=t.auth("line_manager"))
    assert r.status_code == 200, r.text
    return r.json()["data"]  # type: ignore[no-any-return]


async def _complete(t: Tenant, step_id: str, role: str, sub: str) -> Any:
    return await t.client.post(f"/v1/next-steps/{step_id}/complete", json={"note": "done"},
                               headers=t.auth(role, sub))


async def test_W7_the_case_workers_line_manager_may_request_the_high_risk_panel(
        wokingham: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """W7 (High Risk Panel): "It will be the responsibility of the case worker or their line
    manager to request a High-Risk Panel within two working days of 1. Assessing a child as high
    or very high ROSH". ROSH high on Friday 28 August 2026, 15:00 BST: the request is the case
    worker's, due by the end of Wednesday 2 September (the bank holiday Monday is no working
    day). The case worker is away; their line manager makes the request (the panel referral,
    submitted: ticking the step off is 409, A9-13) and the panel it asks for falls to the
    chair; another team's line manager does not even see it (404) and a duty manager may not
    (403)."""
    pin(monkeypatch, 2026, 8, 28, 14, 30)
    case = (await wokingham.open_case(opened_at="2026-08-03T09:00:00+01:00"))["data"]
    [request] = steps_of(await recorded(wokingham, case["id"], "judgements", {
        "domain": "rosh", "level": "high", "victims": ["peer"],
        "occurred_at": "2026-08-28T15:00:00+01:00"}), "request_high_risk_panel")
    assert (request["actor"], request["assignee_id"], request["due_at"]) == (
        "case_holder", "case_holder-1", "2026-09-02T22:59:59Z")
    assert request["policy"] == {**W, "ref": "High Risk Panel", "rule": "W7"}
    assert (await _complete(wokingham, request["id"], "line_manager",
                            "line_manager-2")).status_code == 404
    assert (await _complete(wokingham, request["id"], "duty_manager",
                            "duty_manager-1")).status_code == 403
    # The request is made by the panel referral (A9-13: not ticked off by hand, whoever may do
    # it): the line manager makes and submits it, which does the request and asks the chair.
    r = await _complete(wokingham, request["id"], "line_manager", "line_manager-1")
    assert r.status_code == 409, r.text
    assert r.json()["type"].endswith("/step-done-by-act")
    lm = wokingham.auth("line_manager", "line_manager-1")
    r = await wokingham.client.post(f"/v1/cases/{case['id']}/referrals", headers=lm, json={
        "kind": "panel", "occurred_at": "2026-08-28T15:10:00+01:00"})
    assert r.status_code == 201, r.text
    r = await wokingham.client.post(f"/v1/referrals/{r.json()['data']['id']}/submit",
                                    headers=lm, json={"occurred_at": "2026-08-28T15:20:00+01:00"})
    assert r.status_code == 200, r.text
    assert steps_of(r.json()["next_steps"], "request_high_risk_panel") == []
    [hold] = steps_of(r.json()["next_steps"], "hold_high_risk_panel")
    assert hold["actor"] == "chair"


async def test_S23_the_team_leader_may_inform_the_yjt_manager_of_the_charge(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """S23 (12): "Case holders / team leaders will immediately inform operational/ YJT Manager of
    the charge/death." A charge on Friday 28 August 2026, known that day: informing the manager
    is the case holder's, due immediately (that working day); the case's line manager (the team
    leader) may record it; another team's line manager does not see it (404)."""
    pin(monkeypatch, 2026, 8, 28, 14, 30)
    case = (await somerset.open_case(opened_at="2026-08-03T09:00:00+01:00"))["data"]
    [inform] = steps_of(await recorded(somerset, case["id"], "events", {
        "type": "charged", "occurred_at": "2026-08-28T15:00:00+01:00"}), "inform_service_manager")
    assert (inform["actor"], inform["assignee_id"], inform["due_at"]) == (
        "case_holder", "case_holder-1", "2026-08-28T14:00:00Z")
    assert inform["policy"] == {**S, "ref": "12", "rule": "S23"}
    assert (await _complete(somerset, inform["id"], "line_manager",
                            "line_manager-2")).status_code == 404
    r = await _complete(somerset, inform["id"], "line_manager", "line_manager-1")
    assert r.status_code == 200, r.text
    assert r.json()["data"]["status"] == "done"


async def test_S20_the_line_manager_presents_when_the_case_holder_is_not_available(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """S20 (7.1.1): "The case holder will attend MARP to discuss the case. If not available, the
    line manager will present the case." ROSH high on Wednesday 20 May 2026; the MARP of
    Wednesday 3 June 2026 keeps ROSH high and books its review for Wednesday 1 July: the update
    is the case holder's, due on the review date; the case's line manager may present (the
    review's decision names the presenter: ticking the step off is 409, A9-13); another team's
    line manager does not see it (404)."""
    pin(monkeypatch, 2026, 6, 3, 12, 0)
    case = (await somerset.open_case(opened_at="2026-05-04T09:00:00+01:00"))["data"]
    await recorded(somerset, case["id"], "judgements", {
        "domain": "rosh", "level": "high", "impact": "major", "likelihood": "likely",
        "victims": ["peer"], "occurred_at": "2026-05-20T10:00:00+01:00"})
    await taken_by_marp(somerset, case["id"], "rosh", "high")
    [update] = steps_of(await _open_steps(somerset, case["id"]), "attend_panel_review")
    assert (update["actor"], update["assignee_id"]) == ("case_holder", "case_holder-1")
    assert update["due_at"].startswith("2026-07-01")
    assert update["policy"] == {**S, "ref": "7.1.6, 7.2.3", "rule": "S20"}
    assert (await _complete(somerset, update["id"], "line_manager",
                            "line_manager-2")).status_code == 404
    # Presenting is recorded by the review's decision naming the presenter (A9-13: not ticked
    # off by hand, whoever may present): the line manager's completion is 409 naming it.
    r = await _complete(somerset, update["id"], "line_manager", "line_manager-1")
    assert r.status_code == 409, r.text
    assert [a["act"] for a in r.json()["acts"]] == ["panel_decision_presenter"]


async def test_S26_the_yjt_manager_may_make_the_handover_call(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """S26 (13.4.3): "the line manager, operational manager or YJT manager will speak to the
    appropriate manager or senior probation officer of the receiving Service prior to the
    transfer of the child". ROSH high, then a transfer out on Friday 28 August 2026 to take
    effect on Tuesday 8 September: the call is the line manager's, due before the transfer
    (00:00 BST on 8 September); a chair (operational or YJT manager) may record it, a case
    holder may not."""
    pin(monkeypatch, 2026, 8, 28, 14, 30)
    case = (await somerset.open_case(opened_at="2026-08-03T09:00:00+01:00"))["data"]
    await recorded(somerset, case["id"], "judgements", {
        "domain": "rosh", "level": "high", "impact": "major", "likelihood": "likely",
        "victims": ["peer"], "occurred_at": "2026-08-27T10:00:00+01:00"})
    [call] = steps_of(await recorded(somerset, case["id"], "events", {
        "type": "transfer_out", "occurred_at": "2026-08-28T15:00:00+01:00",
        "transfer_date": "2026-09-08", "details": {"to": "Devon YJS"}}), "manager_handover_call")
    assert (call["actor"], call["assignee_id"], call["due_at"]) == (
        "line_manager", "line_manager-1", "2026-09-07T23:00:00Z")
    assert call["policy"] == {**S, "ref": "13.4.3", "rule": "S26"}
    assert (await _complete(somerset, call["id"], "case_holder",
                            "case_holder-1")).status_code == 403
    r = await _complete(somerset, call["id"], "chair", "chair-1")
    assert r.status_code == 200, r.text
    assert r.json()["data"]["status"] == "done"


async def _away(t: Tenant, staff: str, starts: str, ends: str) -> None:
    r = await t.client.post(f"/v1/staff/{staff}/absences",
                            json={"starts_on": starts, "ends_on": ends},
                            headers=t.auth("duty_manager", "duty_manager-3"))
    assert r.status_code == 201, r.text


async def test_S23_the_duty_manager_informs_in_the_absent_team_leaders_place(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """S23 (12, 3.1): "Case holders / team leaders will immediately inform operational/ YJT
    Manager of the charge/death." and "If the line manager is unavailable, the duty manager
    will undertake these functions." A charge on Friday 28 August 2026, known that day:
    informing the manager is the case holder's, due immediately (14:00 UTC that day). While
    line_manager-1 (the team leader) is present a duty manager may not record it (403); with
    line_manager-1 on recorded leave that day (attack pass 10, A10-17: still 403), a duty
    manager takes the team leader's share and records it: done, by them; the step stayed the
    case holder's."""
    pin(monkeypatch, 2026, 8, 27, 14, 30)
    case = (await somerset.open_case(opened_at="2026-08-03T09:00:00+01:00"))["data"]
    [inform] = steps_of(await recorded(somerset, case["id"], "events", {
        "type": "charged", "occurred_at": "2026-08-27T15:00:00+01:00"}), "inform_service_manager")
    assert (inform["code"], inform["actor"], inform["assignee_id"], inform["due_at"]) == (
        "inform_service_manager", "case_holder", "case_holder-1", "2026-08-27T14:00:00Z")
    assert inform["policy"] == {**S, "ref": "12", "rule": "S23"}
    assert (await _complete(somerset, inform["id"], "duty_manager",
                            "duty_manager-3")).status_code == 403
    await _away(somerset, "line_manager-1", "2026-08-28", "2026-09-04")
    assert (await _complete(somerset, inform["id"], "duty_manager",
                            "duty_manager-3")).status_code == 403  # not away yet
    pin(monkeypatch, 2026, 8, 28, 9, 0)
    r = await _complete(somerset, inform["id"], "duty_manager", "duty_manager-3")
    assert r.status_code == 200, r.text
    done = r.json()["data"]
    assert (done["status"], done["completed_by"], done["actor"], done["assignee_id"]) == (
        "done", "duty_manager-3", "case_holder", "case_holder-1")


async def test_S20_the_duty_manager_presents_in_the_absent_line_managers_place(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """S20 (7.1.1, 3.1): "The case holder will attend MARP to discuss the case. If not
    available, the line manager will present the case." and "If the line manager is
    unavailable, the duty manager will undertake these functions." The MARP of Wednesday 3
    June 2026 keeps ROSH high and books its review for Wednesday 1 July: the update is the
    case holder's, due on the review date. A duty manager may not take it while line_manager-1
    is present (403); with line_manager-1 on leave, the duty manager holds the line manager's
    share, done as theirs is, by the review's decision naming the presenter (409
    ``step-done-by-act``, A9-13) rather than refused (attack pass 10, A10-17)."""
    pin(monkeypatch, 2026, 6, 3, 12, 0)
    case = (await somerset.open_case(opened_at="2026-05-04T09:00:00+01:00"))["data"]
    await recorded(somerset, case["id"], "judgements", {
        "domain": "rosh", "level": "high", "impact": "major", "likelihood": "likely",
        "victims": ["peer"], "occurred_at": "2026-05-20T10:00:00+01:00"})
    await taken_by_marp(somerset, case["id"], "rosh", "high")
    [update] = steps_of(await _open_steps(somerset, case["id"]), "attend_panel_review")
    assert (update["code"], update["actor"], update["assignee_id"]) == (
        "attend_panel_review", "case_holder", "case_holder-1")
    assert update["due_at"].startswith("2026-07-01")
    assert update["policy"] == {**S, "ref": "7.1.6, 7.2.3", "rule": "S20"}
    assert (await _complete(somerset, update["id"], "duty_manager",
                            "duty_manager-3")).status_code == 403
    pin(monkeypatch, 2026, 6, 29, 9, 0)
    await _away(somerset, "line_manager-1", "2026-06-29", "2026-07-03")
    r = await _complete(somerset, update["id"], "duty_manager", "duty_manager-3")
    assert r.status_code == 409, r.text
    assert [a["act"] for a in r.json()["acts"]] == ["panel_decision_presenter"]
