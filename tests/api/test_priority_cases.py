"""A very high case is dealt with as a priority (attack pass 19, A19-2).

Somerset 3.2.4: "'Very High' judgements will trigger the case being dealt with as a priority at
all stages." The pack's ``[priority]`` (rule PRI): while ROSH or SWB is very high the case and
its open steps carry ``priority: true`` (set and cleared as the ratings change), queues filter
on ``priority=true`` in the same order, and the calendar feed gives those steps PRIORITY 2 and
the PRIORITY category; ``urgent`` and the deadlines are unchanged. Wokingham's policy has no
such sentence: nothing is marked.
"""

from __future__ import annotations

from typing import Any

import pytest
from icalendar import Calendar

from tests.api.fidelity_support import pin
from tests.conftest import Tenant


async def _ok(r: Any, status: int = 201) -> dict[str, Any]:
    assert r.status_code == status, r.text
    return r.json()  # type: ignore[no-any-return]


async def _judge(t: Tenant, case_id: str, domain: str, level: str, at: str,
                 **more: Any) -> dict[str, Any]:
    body = {"domain": domain, "level": level, "occurred_at": at, **more}
    if domain == "rosh" and level in ("medium", "high", "very_high"):
        body.setdefault("victims", ["peer"])
    return await _ok(await t.client.post(f"/v1/cases/{case_id}/judgements", json=body,
                                         headers=t.auth("case_holder")))


async def _queue(t: Tenant, **params: Any) -> list[dict[str, Any]]:
    r = await t.client.get("/v1/next-steps", params={"limit": 200, **params},
                           headers=t.auth("line_manager"))
    return (await _ok(r, 200))["data"]  # type: ignore[no-any-return]


async def _case(t: Tenant, case_id: str) -> dict[str, Any]:
    r = await t.client.get(f"/v1/cases/{case_id}", headers=t.auth("line_manager"))
    return (await _ok(r, 200))["data"]  # type: ignore[no-any-return]


async def test_PRI_very_high_rosh_marks_the_case_and_its_steps_a_priority_until_lowered(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """3.2.4 "'Very High' judgements will trigger the case being dealt with as a priority at
    all stages": ROSH very high on Thursday 24 December 2026 (Christmas Eve): the case and
    every open step (S5 discussion, S7 referral, ...) carry ``priority: true``, ``urgent``
    stays as the rules set it; ``priority=true`` lists them and not a high case's. Lowered to
    high on Tuesday 29 December (Boxing Day substitute Monday passed): cleared on the open
    steps and the case; a step done meanwhile keeps the mark it was done with."""
    pin(monkeypatch, 2026, 12, 24, 12, 0)
    t = somerset
    vh = (await t.open_case(opened_at="2026-12-01T09:00:00Z"))["data"]["id"]
    high = (await t.open_case(opened_at="2026-12-01T09:00:00Z",
                              case_holder_id="case_holder-1"))["data"]["id"]
    await _judge(t, high, "rosh", "high", "2026-12-24T10:00:00Z")
    body = await _judge(t, vh, "rosh", "very_high", "2026-12-24T10:00:00Z")
    mine = [s for s in body["next_steps"] if s["case_id"] == vh]
    assert mine
    assert all(s["priority"] is True for s in mine)
    discuss = next(s for s in mine if s["code"] == "discuss_with_manager")
    assert (discuss["urgent"], discuss["due_at"]) == (False, "2026-12-25T10:00:00Z")
    assert discuss["policy"]["rule"] == "S5"
    assert (await _case(t, vh))["priority"] is True
    assert (await _case(t, high))["priority"] is False
    assert all(s["priority"] is False for s in await _queue(t, case_id=high))
    listed = await _queue(t, priority="true")
    assert {s["case_id"] for s in listed} == {vh}
    everything = await _queue(t)
    assert [s["id"] for s in everything if s["case_id"] == vh] == [s["id"] for s in listed]
    await _ok(await t.client.post(f"/v1/next-steps/{discuss['id']}/complete", json={
        "occurred_at": "2026-12-24T11:00:00Z"}, headers=t.auth("line_manager")), 200)
    pin(monkeypatch, 2026, 12, 29, 12, 0)
    await _judge(t, vh, "rosh", "high", "2026-12-29T10:00:00Z",
                 rationale="Risk reduced: discussed with the line manager")
    assert (await _case(t, vh))["priority"] is False
    assert all(s["priority"] is False for s in await _queue(t, case_id=vh))
    assert await _queue(t, priority="true") == []
    done = await _queue(t, case_id=vh, status="done")
    assert next(s for s in done if s["id"] == discuss["id"])["priority"] is True


async def test_PRI_very_high_swb_priority_in_the_calendar_feed(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """3.2.4 "'Very High' judgements will trigger the case being dealt with as a priority at
    all stages" (SWB): judged very high on Sunday 28 March 2027 (the clocks went forward):
    the case holder's feed gives its steps PRIORITY 2 and the PRIORITY category, the urgent
    child protection referral (S9) PRIORITY 1 with URGENT and PRIORITY; a medium case's
    steps stay PRIORITY 5."""
    pin(monkeypatch, 2027, 3, 28, 12, 0)
    t = somerset
    vh = (await t.open_case(opened_at="2027-03-01T09:00:00Z"))["data"]["id"]
    medium = (await t.open_case(opened_at="2027-03-01T09:00:00Z"))["data"]["id"]
    await _judge(t, medium, "swb", "medium", "2027-03-28T10:00:00Z")
    await _judge(t, vh, "swb", "very_high", "2027-03-28T10:00:00Z")
    feed = (await _ok(await t.client.post("/v1/me/calendar-feeds",
                                          headers=t.auth("case_holder"))))["data"]
    r = await t.client.get(feed["url"].removeprefix("http://yjrisk.test"))
    assert r.status_code == 200, r.text
    todos = {str(c["uid"]).split("@")[0]: c for c in Calendar.from_ical(r.content).walk("VTODO")}
    steps = {s["id"]: s for s in await _queue(t) if s["assignee_id"] == "case_holder-1"}
    assert steps
    for step_id, step in steps.items():
        todo = todos[step_id]
        cats = [str(c) for c in todo.get("categories").cats] if todo.get("categories") else []
        if step["case_id"] == medium:
            assert (int(todo["priority"]), cats) == (5, [])
        elif step["urgent"]:
            assert step["code"] == "child_protection_referral"
            assert (int(todo["priority"]), cats) == (1, ["URGENT", "PRIORITY"])
        else:
            assert (int(todo["priority"]), cats) == (2, ["PRIORITY"])


async def test_PRI_wokingham_sets_no_priority(
        wokingham: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """Wokingham's policy has no "priority" sentence (its very high band sets the contact
    level, three times a week): a very high ROSH on Friday 31 December 2027 marks nothing."""
    pin(monkeypatch, 2027, 12, 31, 12, 0)
    t = wokingham
    case_id = (await t.open_case(opened_at="2027-12-01T09:00:00Z"))["data"]["id"]
    await _judge(t, case_id, "rosh", "very_high", "2027-12-31T10:00:00Z",
                 impact="critical", likelihood="almost_certain")
    assert (await _case(t, case_id))["priority"] is False
    assert all(s["priority"] is False for s in await _queue(t, case_id=case_id))


async def test_PRI_the_escalation_of_a_priority_cases_overdue_step_is_priority(
        somerset: Tenant, factory: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Attack 20, A20-7: 3.2.4 "at all stages": the escalation of an overdue step of a very
    high case was ``priority: false`` (``priority=true`` left it out, the calendar gave it no
    PRIORITY). Now the escalation pass marks it as its case is; a lowering clears it with the
    case's other steps."""
    from datetime import UTC, datetime

    from tests.api.support import tick

    pin(monkeypatch, 2026, 8, 21, 12, 0)
    t = somerset
    case_id = (await t.open_case(opened_at="2026-08-20T09:00:00Z"))["data"]["id"]
    await _judge(t, case_id, "swb", "very_high", "2026-08-21T11:00:00Z")
    assert await tick(factory, t, datetime(2026, 10, 1, 12, 0, tzinfo=UTC)) > 0
    steps = await _queue(t, case_id=case_id)
    chases = [s for s in steps if s["code"] == "escalate_overdue_step"]
    assert chases, steps
    assert all(s["priority"] for s in steps), steps
    listed = {s["id"] for s in await _queue(t, priority="true")}
    assert {s["id"] for s in chases} <= listed
    await _judge(t, case_id, "swb", "medium", "2026-08-21T11:30:00Z")
    assert not any(s["priority"] for s in await _queue(t, case_id=case_id))


async def test_PRI_as_of_gives_one_state_per_instant(somerset: Tenant) -> None:
    """Attack 20, A20-11: ``GET /v1/cases/{id}?as_of=`` said the case was a priority while its
    open steps said not (their priority was today's), and at the instant of a lowering read
    the ratings before it with the priority after it. Now the open steps' priority is the
    case's then (between acts, ratings, priority, register and steps agree)."""
    import asyncio
    from datetime import datetime, timedelta

    t = somerset
    case_id = (await t.open_case(opened_at="2026-03-02T09:00:00Z"))["data"]["id"]
    raised = await _judge(t, case_id, "swb", "very_high", "2026-03-03T12:00:00Z")
    t1 = datetime.fromisoformat(raised["data"]["created_at"].replace("Z", "+00:00"))
    await asyncio.sleep(1.0)
    lowered = await _judge(t, case_id, "swb", "medium", "2026-03-04T12:00:00Z")
    t2 = datetime.fromisoformat(lowered["data"]["created_at"].replace("Z", "+00:00"))
    # (The instant of the lowering itself is left: see notes/fix20b.md.)
    for at in (t1 + timedelta(milliseconds=500), t2 + timedelta(milliseconds=500)):
        r = await t.client.get(f"/v1/cases/{case_id}", params={"as_of": at.isoformat()},
                               headers=t.auth("line_manager"))
        case = (await _ok(r, 200))["data"]
        very_high = case["ratings"]["swb"]["level"] == "very_high"
        assert case["priority"] is very_high, (at, case["ratings"], case["priority"])
        assert case["on_register"] is very_high, (at, case["on_register"])
        assert case["open_steps"], at
        assert all(s["priority"] is very_high for s in case["open_steps"]), at
