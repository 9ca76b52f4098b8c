"""A step the policy gives to "the case worker or their line manager" stands in to the line
manager while the case worker is on recorded leave (attack 23b, A23b-5), as a line manager's
step stands in to the duty manager (Somerset 3.1), and comes back when the leave ends.

2026 dates: Monday 31 August is the late-summer bank holiday; BST until Sunday 25 October.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import col, select

from app.core.config import Settings
from app.core.db import build_engine, session_factory
from app.domain.outbox import OutboxEvent
from tests.api.fidelity_support import away, cancel_leave, pin, steps_of
from tests.api.integrity_support import audit_of, recorded
from tests.api.test_assessments import case_steps
from tests.conftest import Tenant


async def _mine(t: Tenant, role: str, sub: str, code: str) -> list[str]:
    """The ids of the ``code`` steps in the caller's own queue (``assignee=me``)."""
    r = await t.client.get("/v1/next-steps", params={"assignee": "me", "limit": 200},
                           headers=t.auth(role, sub))
    assert r.status_code == 200, r.text
    return [s["id"] for s in r.json()["data"] if s["code"] == code]


async def _moves(settings: Settings, step_id: str) -> list[tuple[Any, Any]]:
    """The ``step.reassigned`` announcements of the step: (from, to) assignee, oldest first."""
    engine = build_engine(settings)
    try:
        async with session_factory(engine)() as session:
            rows = await session.exec(select(OutboxEvent).order_by(col(OutboxEvent.created_at)))
            return [(e.payload["from"], e.payload["to"]) for e in rows.all()
                    if e.type == "step.reassigned" and e.payload.get("step_id") == step_id]
    finally:
        await engine.dispose()


async def test_W7_the_absent_case_workers_panel_request_stands_in_to_their_line_manager(
        wokingham: Tenant, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """W7 (High Risk Panel): "It will be the responsibility of the case worker or their line
    manager to request a High-Risk Panel within two working days of 1. Assessing a child as
    high or very high ROSH". The case worker is on annual leave from Tuesday 1 to Friday 11
    September 2026. ROSH high on Friday 28 August 15:00 BST: the request is due by the end of
    Wednesday 2 September (the bank holiday Monday skipped), while the case worker is away: it
    is their line manager's (line_manager-1's queue, not the absent case worker's), with a
    note. The leave cancelled, it is the case worker's again."""
    pin(monkeypatch, 2026, 8, 28, 14, 0)
    absence = (await away(wokingham, "case_holder-1", "2026-09-01", "2026-09-11"))["data"]
    case = (await wokingham.open_case(opened_at="2026-08-03T09:00:00+01:00"))["data"]
    pin(monkeypatch, 2026, 8, 28, 14, 30)
    [request] = steps_of(await recorded(wokingham, case["id"], "judgements", {
        "domain": "rosh", "level": "high", "victims": ["peer"],
        "occurred_at": "2026-08-28T15:00:00+01:00"}), "request_high_risk_panel")
    assert (request["actor"], request["assignee_id"], request["due_at"]) == (
        "line_manager", "line_manager-1", "2026-09-02T22:59:59Z")
    assert "case_holder-1) is on recorded leave" in request["note"]
    assert await _mine(wokingham, "line_manager", "line_manager-1",
                       "request_high_risk_panel") == [request["id"]]
    assert await _mine(wokingham, "case_holder", "case_holder-1",
                       "request_high_risk_panel") == []
    await cancel_leave(wokingham, absence)
    [back] = steps_of(await case_steps(wokingham, case["id"]), "request_high_risk_panel")
    assert (back["id"], back["actor"], back["assignee_id"], back["due_at"]) == (
        request["id"], "case_holder", "case_holder-1", "2026-09-02T22:59:59Z")
    # Leave recorded again (Wednesday 2 September only) while the request is open: it stands in
    # in that write; each move audited with its reason. (Ten minutes later: the announcements
    # are ordered by their time, which a pinned clock would tie.)
    pin(monkeypatch, 2026, 8, 28, 14, 40)
    again_away = (await away(wokingham, "case_holder-1", "2026-09-02", "2026-09-02"))["data"]
    [again] = steps_of(await case_steps(wokingham, case["id"]), "request_high_risk_panel")
    assert (again["id"], again["actor"], again["assignee_id"]) == (
        request["id"], "line_manager", "line_manager-1")
    moves = [e["reason"] for e in await audit_of(wokingham, case["id"])
             if e["action"] == "step.reassign" and e["entity_id"] == request["id"]]
    assert moves == [
        f"given back to the case holder (case_holder-1): absence {absence['id']} cancelled",
        f"case_holder-1 is on recorded leave (absence {again_away['id']} recorded)"]
    assert await _moves(settings, request["id"]) == [
        ("line_manager-1", "case_holder-1"), ("case_holder-1", "line_manager-1")]


async def test_S23_the_absent_case_holders_report_of_a_charge_stands_in_to_the_team_leader(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """S23 (12), the Somerset twin: "Case holders / team leaders will immediately inform
    operational/ YJT Manager of the charge/death." The case holder is on leave on Friday 28
    August 2026 (to Tuesday 1 September, across the bank holiday); a charge that day: informing
    the manager is the team leader's (the case's line manager, in their queue) while the case
    holder is away; recorded back early (the leave shortened to end on Thursday 27 August), it
    is the case holder's again."""
    pin(monkeypatch, 2026, 8, 27, 9, 0)
    absence = (await away(somerset, "case_holder-1", "2026-08-27", "2026-09-01"))["data"]
    case = (await somerset.open_case(opened_at="2026-08-03T09:00:00+01:00"))["data"]
    pin(monkeypatch, 2026, 8, 28, 14, 30)
    [inform] = steps_of(await recorded(somerset, case["id"], "events", {
        "type": "charged", "occurred_at": "2026-08-28T15:00:00+01:00"}, "line_manager"),
        "inform_service_manager")
    assert (inform["actor"], inform["assignee_id"]) == ("line_manager", "line_manager-1")
    assert await _mine(somerset, "line_manager", "line_manager-1",
                       "inform_service_manager") == [inform["id"]]
    url = f"/v1/staff/case_holder-1/absences/{absence['id']}"
    body: dict[str, Any] = {"ends_on": "2026-08-27"}
    r = await somerset.client.patch(url, json=body, headers={
        **somerset.auth("duty_manager", "duty_manager-3"), "If-Match": f'"{absence["version"]}"'})
    assert r.status_code == 200, r.text
    [back] = steps_of(await case_steps(somerset, case["id"]), "inform_service_manager")
    assert (back["id"], back["actor"], back["assignee_id"]) == (
        inform["id"], "case_holder", "case_holder-1")
