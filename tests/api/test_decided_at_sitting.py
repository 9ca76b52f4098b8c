"""A step only a panel's decision does is late only after the end of its due day (attack pass
19, A19-1).

Somerset 3.2.4: "For ROSH cases, the MAPPA level will be identified and agreed via these
processes" (the MARP); S10's ``identify_mappa_level`` is due at the next MARP and only the
MARP's decision setting the level does it (``[closures] panel_decision_mappa``). The decision
is recorded at or after the sitting, never at its first minute: done by the sitting's decision
on the sitting's day it is on time (the timeliness report) and not escalated (``yjrisk
tick``); the referral and the views, owed BEFORE the panel, stay due at its start. Wokingham's
twin is W8: "the High-Risk Panel will be held within a week", done only by the panel's
decision.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from tests.api.fidelity_support import pin
from tests.api.support import Factory, db, tick  # noqa: F401  (db: fixture)
from tests.conftest import Tenant

MARP = "2027-04-01T13:00:00Z"  # Thursday 1 April 2027, 14:00 BST (the clocks went forward 28 March)
MARP_DAY_END = "2027-04-01T22:59:59Z"


async def _ok(r: Any, status: int = 201) -> dict[str, Any]:
    assert r.status_code == status, r.text
    return r.json()  # type: ignore[no-any-return]


async def _steps(t: Tenant, case_id: str, status: str = "open") -> list[dict[str, Any]]:
    r = await t.client.get("/v1/next-steps", params={"case_id": case_id, "status": status,
                                                     "limit": 200},
                           headers=t.auth("line_manager"))
    return (await _ok(r, 200))["data"]  # type: ignore[no-any-return]


def _one(steps: list[dict[str, Any]], code: str) -> dict[str, Any]:
    [step] = [s for s in steps if s["code"] == code]
    return step


async def _very_high_on_the_agenda(t: Tenant) -> tuple[str, str, str]:
    """A MAPPA category 2 case judged ROSH very high on Tuesday 23 March 2027, referred with
    the views on Wednesday 24 March and listed on the 1 April MARP: case, panel, item ids."""
    case_id = (await t.open_case(opened_at="2027-03-01T09:00:00Z",
                                 mappa_category=2))["data"]["id"]
    panel = (await _ok(await t.client.post("/v1/panels", json={
        "kind": "marp", "scheduled_for": MARP, "chair_id": "chair-1"},
        headers=t.auth("panel_admin"))))["data"]
    await _ok(await t.client.post(f"/v1/cases/{case_id}/judgements", json={
        "domain": "rosh", "level": "very_high", "victims": ["peer"],
        "occurred_at": "2027-03-23T10:00:00Z"}, headers=t.auth("case_holder")))
    referral = (await _ok(await t.client.post(f"/v1/cases/{case_id}/referrals", json={
        "kind": "panel", "occurred_at": "2027-03-24T10:00:00Z"},
        headers=t.auth("case_holder"))))["data"]
    await _ok(await t.client.post(f"/v1/referrals/{referral['id']}/submit", json={
        "occurred_at": "2027-03-24T10:00:00Z",
        "details": {"child_views": "agrees", "carer_views": "agrees"}},
        headers=t.auth("case_holder")), 200)
    item = (await _ok(await t.client.post(f"/v1/panels/{panel['id']}/items", json={
        "case_id": case_id, "presenter_id": "case_holder-1", "referral_id": referral["id"]},
        headers=t.auth("panel_admin"))))["data"]
    return case_id, panel["id"], item["id"]


async def _escalated(t: Tenant, case_id: str, step_id: str) -> bool:
    return any(s["code"] == "escalate_overdue_step" and s["subject_id"] == step_id
               for s in await _steps(t, case_id))


async def test_S10_mappa_level_identified_by_the_marp_on_its_day_is_on_time(
        somerset: Tenant, db: Factory, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    """S10 (3.2.4) "For ROSH cases, the MAPPA level will be identified and agreed via these
    processes": due at the MARP (Thursday 1 April 2027, 14:00 BST), overdue only after the end
    of that London day (23:59:59 BST, 22:59:59Z); the MARP's decision at 15:30 BST sets level 1:
    done, on time in the timeliness report, and ``tick`` during the sitting escalates nothing.
    S7's referral (3.2.3, owed before the MARP) keeps its deadline at the sitting's start."""
    pin(monkeypatch, 2027, 3, 24, 12, 0)
    case_id, panel_id, item_id = await _very_high_on_the_agenda(somerset)
    open_now = await _steps(somerset, case_id)
    step = _one(open_now, "identify_mappa_level")
    assert (step["due_at"], step["overdue_at"]) == (MARP, MARP_DAY_END)
    assert step["policy"]["rule"] == "S10"
    done = _one(await _steps(somerset, case_id, "done"), "refer_to_panel")
    assert (done["due_at"], done["overdue_at"]) == (MARP, MARP)  # owed before the panel
    pin(monkeypatch, 2027, 4, 1, 14, 0)  # 15:00 BST, the MARP sitting
    await tick(db, somerset, datetime.fromisoformat("2027-04-01T14:00:00Z"))
    assert not await _escalated(somerset, case_id, step["id"])
    assert _one(await _steps(somerset, case_id), "identify_mappa_level")["overdue"] is False
    pin(monkeypatch, 2027, 4, 1, 15, 0)
    await _ok(await somerset.client.post(
        f"/v1/panels/{panel_id}/items/{item_id}/decision", json={
            "rosh_level": "very_high", "mappa_level": 1, "review_date": "2027-04-29",
            "minutes": "MAPPA level 1 agreed", "actions": [],
            "occurred_at": "2027-04-01T14:30:00Z"},
        headers=somerset.auth("chair", "chair-1")), 200)
    closed = _one(await _steps(somerset, case_id, "done"), "identify_mappa_level")
    assert (closed["id"], closed["completed_at"]) == (step["id"], "2027-04-01T14:30:00Z")
    pin(monkeypatch, 2027, 4, 6, 9, 0)  # after Easter
    r = await somerset.client.get("/v1/reports/timeliness", params={
        "from": "2027-03-01", "to": "2027-04-30", "group_by": "rule"},
        headers=somerset.auth("chair"))
    [row] = [row for row in (await _ok(r, 200))["data"]["rows"] if row["rule"] == "S10"]
    assert (row["due"], row["on_time"], row["late"]) == (1, 1, 0)


async def test_S10_mappa_level_not_identified_by_the_end_of_the_marp_day_is_escalated(
        somerset: Tenant, db: Factory, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    """S10 (3.2.4) "the MAPPA level will be identified and agreed via these processes": the
    1 April 2027 MARP records no decision: not overdue at 23:59 BST, overdue and escalated
    by ``tick`` at 00:00:01 BST on Friday 2 April."""
    pin(monkeypatch, 2027, 3, 24, 12, 0)
    case_id, _, _ = await _very_high_on_the_agenda(somerset)
    step = _one(await _steps(somerset, case_id), "identify_mappa_level")
    pin(monkeypatch, 2027, 4, 1, 22, 59)
    await tick(db, somerset, datetime.fromisoformat("2027-04-01T22:59:00Z"))
    assert not await _escalated(somerset, case_id, step["id"])
    pin(monkeypatch, 2027, 4, 1, 23, 0)
    await tick(db, somerset, datetime.fromisoformat("2027-04-01T23:00:01Z"))
    assert await _escalated(somerset, case_id, step["id"])
    assert _one(await _steps(somerset, case_id), "identify_mappa_level")["overdue"] is True


async def test_W8_high_risk_panel_held_on_the_weeks_last_day_is_on_time(
        wokingham: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """W8 (High Risk Panel): "the High-Risk Panel will be held within a week" of the request,
    done only by the panel's decision. Requested Friday 21 May 2027 at 12:00 BST: due Friday
    28 May 12:00 BST, overdue only after 23:59:59 BST that day; the panel sitting that
    afternoon decides at 16:30 BST: on time."""
    pin(monkeypatch, 2027, 5, 21, 12, 0)
    t = wokingham
    case_id = (await t.open_case(opened_at="2027-05-03T09:00:00Z"))["data"]["id"]
    referral = (await _ok(await t.client.post(f"/v1/cases/{case_id}/referrals", json={
        "kind": "panel", "occurred_at": "2027-05-21T10:00:00Z"},
        headers=t.auth("case_holder"))))["data"]
    await _ok(await t.client.post(f"/v1/referrals/{referral['id']}/submit", json={
        "occurred_at": "2027-05-21T11:00:00Z"}, headers=t.auth("case_holder")), 200)
    hold = _one(await _steps(t, case_id), "hold_high_risk_panel")
    assert (hold["due_at"], hold["overdue_at"]) == ("2027-05-28T11:00:00Z",
                                                    "2027-05-28T22:59:59Z")
    assert hold["policy"]["rule"] == "W8"
    pin(monkeypatch, 2027, 5, 28, 16, 0)
    panel = (await _ok(await t.client.post("/v1/panels", json={
        "kind": "high_risk_panel", "scheduled_for": "2027-05-28T13:00:00Z",
        "chair_id": "chair-1"}, headers=t.auth("chair"))))["data"]
    item = (await _ok(await t.client.post(f"/v1/panels/{panel['id']}/items", json={
        "case_id": case_id, "presenter_id": "case_holder-1", "referral_id": referral["id"]},
        headers=t.auth("chair"))))["data"]
    await _ok(await t.client.post(
        f"/v1/panels/{panel['id']}/items/{item['id']}/decision", json={
            "minutes": "Held.", "rosh_level": "medium", "occurred_at": "2027-05-28T15:30:00Z",
            "actions": [{"description": "Review the plan", "owner_id": "case_holder-1",
                         "due_date": "2027-06-04"}]},
        headers=t.auth("chair", "chair-1")), 200)
    assert _one(await _steps(t, case_id, "done"), "hold_high_risk_panel")["id"] == hold["id"]
    pin(monkeypatch, 2027, 6, 1, 9, 0)  # after the late May bank holiday
    r = await t.client.get("/v1/reports/timeliness", params={
        "from": "2027-05-01", "to": "2027-06-30", "group_by": "rule"},
        headers=t.auth("chair"))
    [row] = [row for row in (await _ok(r, 200))["data"]["rows"] if row["rule"] == "W8"]
    assert (row["due"], row["on_time"], row["late"]) == (1, 1, 0)
