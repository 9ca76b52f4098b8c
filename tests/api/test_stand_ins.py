"""Somerset 3.1's stand-in kept true as leave starts and ends and the line manager changes
(attack pass 8, N6): "If the line manager is unavailable, the duty manager will undertake these
functions."

A step stood in for the line manager's leave goes back to the case's line manager when the
reason ends: the leave ends as days pass (swept before a queue is read, and by the worker), is
shortened or cancelled, or the case gets a new line manager; leave recorded in advance moves
the line manager's open steps when it starts. Each move is audited (``step.reassign``) and
announced (``step.reassigned``). The clock is pinned (``app.core.clock.now``) on the London
dates that decide the answer: a Friday before the August bank holiday, and the night the
clocks go back in October.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.api.fidelity_support import FidelityWeek, away, pin, steps_of
from tests.api.integrity_support import (
    audit_of,
    complete,
    outbox_types,
    patch_case,
    refer_to_marp,
)
from tests.api.support import tick
from tests.api.test_assessments import case_steps, the_step
from tests.api.test_calendar_feeds import fetch, new_feed, todos
from tests.api.test_fidelity_a import S, judge_high
from tests.conftest import Tenant

SEED_3_1 = "If the line manager is unavailable, the duty manager will undertake these functions."
ROUNDS = 10


STOOD = {"discuss_with_manager", "countersign_risk_plan"}


async def queue(t: Tenant, role: str, sub: str) -> list[dict[str, Any]]:
    """The caller's own queue (``assignee=me``) as they list it: S5's and S6's steps."""
    r = await t.client.get("/v1/next-steps", params={"assignee": "me", "limit": 200},
                           headers=t.auth(role, sub))
    assert r.status_code == 200, r.text
    return [s for s in r.json()["data"] if s["code"] in STOOD]


async def duty_queue(t: Tenant, case_id: str) -> list[dict[str, Any]]:
    """The case's S5 and S6 steps addressed to the duty managers, as duty_manager-3 lists
    them."""
    r = await t.client.get("/v1/next-steps",
                           params={"actor": "duty_manager", "case_id": case_id},
                           headers=t.auth("duty_manager", "duty_manager-3"))
    assert r.status_code == 200, r.text
    return [s for s in r.json()["data"] if s["code"] in STOOD]


def reassigns(audit: list[dict[str, Any]], step_id: str) -> list[dict[str, Any]]:
    """The step's ``step.reassign`` audit entries, oldest first."""
    return [e for e in audit if e["action"] == "step.reassign" and e["entity_id"] == step_id]


async def stood_in_case(t: Tenant, at: str) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """ROSH high at ``at`` while line_manager-1 is on recorded leave: the case id and its S5
    discussion and S6 countersignature (both the duty manager's, unassigned)."""
    case = (await t.open_case())["data"]
    body = await judge_high(t, case["id"], at)
    [discuss] = steps_of(body["next_steps"], "discuss_with_manager")
    [plan] = steps_of(body["next_steps"], "countersign_risk_plan")
    assert (discuss["actor"], discuss["assignee_id"]) == ("duty_manager", None)
    assert (plan["actor"], plan["assignee_id"]) == ("duty_manager", None)
    return str(case["id"]), discuss, plan


async def test_S6_stood_in_steps_come_back_when_the_leave_ends_on_a_friday_before_a_bank_holiday(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """S5, S6 (3.1): "If the line manager is unavailable, the duty manager will undertake these
    functions." line_manager-1 is on leave Monday 24 to Friday 28 August 2026 (Monday 31 August
    is the summer bank holiday). ROSH high on Wednesday 26 August 10:00 BST: the discussion (due
    Thursday 27 August 09:00 UTC) and the plan's countersignature (undated) stand in. At Friday
    23:59 BST they are still the duty managers'; at Saturday 00:30 BST (Friday 23:30 UTC) the
    leave has ended: the first queue read gives both back to line_manager-1 (listed in their
    queue as theirs, gone from the duty managers'), audited and announced."""
    pin(monkeypatch, 2026, 8, 24, 9, 0)
    await away(somerset, "line_manager-1", "2026-08-24", "2026-08-28")
    pin(monkeypatch, 2026, 8, 26, 9, 5)
    case_id, discuss, plan = await stood_in_case(somerset, "2026-08-26T10:00:00+01:00")
    assert discuss["due_at"] == "2026-08-27T09:00:00Z"
    pin(monkeypatch, 2026, 8, 28, 22, 59)
    assert {s["id"] for s in await duty_queue(somerset, case_id)} == {discuss["id"], plan["id"]}
    assert await queue(somerset, "line_manager", "line_manager-1") == []
    pin(monkeypatch, 2026, 8, 28, 23, 30)
    mine = {s["id"]: s for s in await queue(somerset, "line_manager", "line_manager-1")}
    assert set(mine) == {discuss["id"], plan["id"]}
    back = mine[plan["id"]]
    assert (back["actor"], back["assignee_id"], back["due_at"]) == (
        "line_manager", "line_manager-1", None)
    assert back["policy"] == {**S, "ref": "3.1", "rule": "S6"}
    assert "Given back" in back["note"]
    assert "is not on recorded leave before the step is due" in back["note"]
    assert "2026-" not in back["note"]  # a manager's leave is theirs (A11-17)
    back = mine[discuss["id"]]
    assert (back["actor"], back["assignee_id"], back["due_at"]) == (
        "line_manager", "line_manager-1", "2026-08-27T09:00:00Z")
    assert back["policy"] == {**S, "ref": "3.1", "rule": "S5"}
    assert await duty_queue(somerset, case_id) == []
    audit = await audit_of(somerset, case_id)
    [given] = reassigns(audit, plan["id"])
    assert (given["actor"], given["role"]) == ("system:stand-in", "system")
    assert given["reason"] == ("given back to the line manager (line_manager-1): the recorded "
                               "absences on Saturday 29 August 2026")
    assert (await outbox_types(somerset.settings, case_id)).count("step.reassigned") == 2


async def test_S6_leave_recorded_in_advance_stands_in_when_it_starts_across_the_clock_change(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """S6 (3.1): "If the line manager is unavailable, the duty manager will undertake these
    functions." ROSH high on Thursday 22 October 2026 10:00 BST; the same day line_manager-1's
    leave is recorded for Monday 26 to Friday 30 October. The undated countersignature stays
    theirs until the leave starts: still at Sunday 25 October 23:30 GMT (the clocks went back
    that morning: 00:30 Monday on a BST clock), with the duty managers from Monday 00:30 GMT
    (the first queue read that day moves it), and back with line_manager-1 on Saturday 31
    October. S5's discussion, due Friday 23 October 09:00 UTC and still not done when the leave
    starts, stands in with it (it is still to be done, and the line manager is away)."""
    pin(monkeypatch, 2026, 10, 22, 9, 5)
    case = (await somerset.open_case())["data"]
    body = await judge_high(somerset, case["id"], "2026-10-22T10:00:00+01:00")
    [plan] = steps_of(body["next_steps"], "countersign_risk_plan")
    [discuss] = steps_of(body["next_steps"], "discuss_with_manager")
    assert discuss["due_at"] == "2026-10-23T09:00:00Z"
    pin(monkeypatch, 2026, 10, 22, 15, 0)
    await away(somerset, "line_manager-1", "2026-10-26", "2026-10-30")
    pin(monkeypatch, 2026, 10, 25, 23, 30)
    mine = {s["code"]: s for s in await queue(somerset, "line_manager", "line_manager-1")}
    assert (mine["countersign_risk_plan"]["actor"],
            mine["countersign_risk_plan"]["assignee_id"]) == ("line_manager", "line_manager-1")
    pin(monkeypatch, 2026, 10, 26, 0, 30)
    mine = {s["code"]: s for s in await queue(somerset, "line_manager", "line_manager-1")}
    assert mine == {}
    duty = await duty_queue(somerset, case["id"])
    [late] = steps_of(duty, "discuss_with_manager")
    assert (late["id"], late["actor"], late["assignee_id"], late["due_at"]) == (
        discuss["id"], "duty_manager", None, "2026-10-23T09:00:00Z")
    [stood] = steps_of(duty, "countersign_risk_plan")
    assert (stood["id"], stood["actor"], stood["assignee_id"], stood["due_at"]) == (
        plan["id"], "duty_manager", None, None)
    assert stood["policy"] == {**S, "ref": "3.1", "rule": "S6"}
    assert "(line_manager-1) is on recorded leave" in stood["note"]
    assert "2026-10-" not in stood["note"]  # a manager's leave is theirs (A11-17)
    [moved] = reassigns(await audit_of(somerset, case["id"]), plan["id"])
    assert moved["reason"] == ("line_manager-1 is on recorded leave (the recorded "
                               "absences on Monday 26 October 2026)")
    pin(monkeypatch, 2026, 10, 31, 0, 30)
    mine = {s["code"]: s for s in await queue(somerset, "line_manager", "line_manager-1")}
    assert (mine["countersign_risk_plan"]["id"], mine["countersign_risk_plan"]["actor"]) == (
        plan["id"], "line_manager")


async def test_S6_back_early_the_shortened_absence_gives_the_steps_back_in_its_write(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """S5, S6 (3.1): "If the line manager is unavailable, the duty manager will undertake these
    functions." line_manager-1's leave, Monday 21 to Thursday 31 December 2026, is cut short
    on Wednesday 23 December 08:00 GMT (last day away Tuesday 22): the countersignature that
    stood in goes back to them in the PATCH itself (audited, announced); extending the leave
    again over the 23rd sends it back to the duty managers; cancelling the absence gives it
    back once more."""
    pin(monkeypatch, 2026, 12, 21, 9, 0)
    absence = (await away(somerset, "line_manager-1", "2026-12-21", "2026-12-31"))["data"]
    pin(monkeypatch, 2026, 12, 21, 10, 5)
    case_id, _, plan = await stood_in_case(somerset, "2026-12-21T10:00:00Z")
    pin(monkeypatch, 2026, 12, 23, 8, 0)
    url = f"/v1/staff/line_manager-1/absences/{absence['id']}"
    dm = somerset.auth("duty_manager", "duty_manager-3")
    r = await somerset.client.patch(url, json={"ends_on": "2026-12-22"},
                                    headers={**dm, "If-Match": f'"{absence["version"]}"'})
    assert r.status_code == 200, r.text
    assert (r.json()["data"]["starts_on"], r.json()["data"]["ends_on"]) == (
        "2026-12-21", "2026-12-22")
    [back] = steps_of(await case_steps(somerset, case_id), "countersign_risk_plan")
    assert (back["id"], back["actor"], back["assignee_id"]) == (
        plan["id"], "line_manager", "line_manager-1")
    r = await somerset.client.patch(url, json={"ends_on": "2026-12-24"},
                                    headers={**dm, "If-Match": r.headers["ETag"]})
    assert r.status_code == 200, r.text
    [stood] = steps_of(await case_steps(somerset, case_id), "countersign_risk_plan")
    assert (stood["actor"], stood["assignee_id"]) == ("duty_manager", None)
    r = await somerset.client.delete(url, headers={**dm, "If-Match": r.headers["ETag"]})
    assert r.status_code == 204, r.text
    [back] = steps_of(await case_steps(somerset, case_id), "countersign_risk_plan")
    assert (back["actor"], back["assignee_id"]) == ("line_manager", "line_manager-1")
    moves = reassigns(await audit_of(somerset, case_id), plan["id"])
    assert [m["reason"].split(":")[0].split(" (")[0] for m in moves] == [
        "given back to the line manager", "line_manager-1 is on recorded leave",
        "given back to the line manager"]
    assert moves[0]["reason"].endswith(f"absence {absence['id']} changed")
    assert moves[-1]["reason"].endswith(f"absence {absence['id']} cancelled")
    r = await somerset.client.delete(url, headers={**dm, "If-Match": '"1"'})
    assert r.status_code == 404, r.text


async def test_S6_a_new_line_manager_takes_the_stood_in_steps(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """S6 (3.1): "If the line manager is unavailable, the duty manager will undertake these
    functions." line_manager-1 is on leave Monday 2 to Friday 13 November 2026; the
    countersignature of a high judgement on Tuesday 3 November stands in. On Wednesday 4
    November the case moves to line_manager-2 (PATCH): the countersignature goes to them
    (listed in the PATCH's reassigned_steps, audited); moved on to line_manager-5, who is on
    leave too (4 to 6 November), it stands in again; an IYSS upsert naming line_manager-2
    gives it to them."""
    pin(monkeypatch, 2026, 11, 2, 9, 0)
    await away(somerset, "line_manager-1", "2026-11-02", "2026-11-13")
    await away(somerset, "line_manager-5", "2026-11-04", "2026-11-06")
    pin(monkeypatch, 2026, 11, 3, 10, 5)
    case_id, _, plan = await stood_in_case(somerset, "2026-11-03T10:00:00Z")
    pin(monkeypatch, 2026, 11, 4, 9, 0)
    r = await patch_case(somerset, case_id, {"line_manager_id": "line_manager-2"},
                         "duty_manager", "duty_manager-3")
    assert r.status_code == 200, r.text
    [moved] = steps_of(r.json()["reassigned_steps"], "countersign_risk_plan")
    assert (moved["id"], moved["actor"], moved["assignee_id"]) == (
        plan["id"], "line_manager", "line_manager-2")
    assert moved["policy"] == {**S, "ref": "3.1", "rule": "S6"}
    [given] = reassigns(await audit_of(somerset, case_id), plan["id"])
    assert "line_manager changed from line_manager-1 to line_manager-2" in given["reason"]
    r = await patch_case(somerset, case_id, {"line_manager_id": "line_manager-5"},
                         "duty_manager", "duty_manager-3")
    assert r.status_code == 200, r.text
    [stood] = steps_of(r.json()["reassigned_steps"], "countersign_risk_plan")
    assert (stood["id"], stood["actor"], stood["assignee_id"]) == (
        plan["id"], "duty_manager", None)
    assert "line_manager-5" in stood["note"]
    assert "(line_manager-5) is on recorded leave" in stood["note"]
    assert {s["code"] for s in await duty_queue(somerset, case_id)} == STOOD


async def test_S6_an_upsert_naming_a_new_line_manager_gives_them_the_stood_in_step(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """S6 (3.1): "If the line manager is unavailable, the duty manager will undertake these
    functions." A case IYSS keeps (PUT by external reference), its line manager on leave
    Monday 2 to Friday 13 November 2026; the countersignature stood in on Tuesday 3 November;
    IYSS names line_manager-2 on Wednesday 4 November: the step is theirs."""
    pin(monkeypatch, 2026, 11, 2, 9, 0)
    await away(somerset, "line_manager-1", "2026-11-02", "2026-11-13")
    body = {"child": {"given_name": "Kai", "family_name": "Morgan",
                      "date_of_birth": "2009-11-12"},
            "case_holder_id": "case_holder-1", "line_manager_id": "line_manager-1",
            "intervention": "court_order", "csc_status": "none",
            "opened_at": "2026-11-02T09:00:00Z"}
    feed = somerset.auth("feed", "iyss-connector", scope="cms")
    url = "/v1/cases/by-external-ref/iyss/Y-3101"
    r = await somerset.client.put(url, json=body, headers=feed)
    assert r.status_code == 201, r.text
    case_id = r.json()["data"]["id"]
    pin(monkeypatch, 2026, 11, 3, 10, 5)
    judged = await judge_high(somerset, case_id, "2026-11-03T10:00:00Z")
    [plan] = steps_of(judged["next_steps"], "countersign_risk_plan")
    assert (plan["actor"], plan["assignee_id"]) == ("duty_manager", None)
    pin(monkeypatch, 2026, 11, 4, 9, 0)
    r = await somerset.client.put(url, json={**body, "line_manager_id": "line_manager-2"},
                                  headers=feed)
    assert r.status_code == 200, r.text
    [back] = steps_of(r.json()["next_steps"], "countersign_risk_plan")
    assert (back["id"], back["actor"], back["assignee_id"]) == (
        plan["id"], "line_manager", "line_manager-2")
    [given] = reassigns(await audit_of(somerset, case_id), plan["id"])
    assert given["reason"] == ("given back to the line manager (line_manager-2): line_manager "
                               "changed from line_manager-1 to line_manager-2")
    assert given["actor"] == "iyss-connector"


async def test_race_the_line_managers_return_against_the_duty_manager_completing(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """S6 (3.1) under a race: line_manager-1's absence is shortened (back early) while
    duty_manager-3 completes the countersignature that stood in. Both answer 200 whichever
    comes first: the step is done once, by duty_manager-3; a give-back, when the absence's
    write came first, is audited before the completion, never after it (the step is locked
    and re-read under the case's lock by both)."""
    pin(monkeypatch, 2026, 12, 1, 9, 0)
    for _ in range(ROUNDS):
        absence = (await away(somerset, "line_manager-1", "2026-12-01", "2026-12-04"))["data"]
        case_id, _, plan = await stood_in_case(somerset, "2026-12-01T08:30:00Z")
        back, done = await asyncio.gather(
            somerset.client.patch(f"/v1/staff/line_manager-1/absences/{absence['id']}",
                                  json={"ends_on": "2026-11-30", "starts_on": "2026-11-30"},
                                  headers={**somerset.auth("line_manager", "line_manager-1"),
                                           "If-Match": f'"{absence["version"]}"'}),
            complete(somerset, plan["id"], "duty_manager", "duty_manager-3", note="signed"))
        assert back.status_code == 200, back.text
        assert done.status_code == 200, done.text
        [stored] = steps_of(await case_steps(somerset, case_id, "done"), "countersign_risk_plan")
        assert (stored["id"], stored["completed_by"]) == (plan["id"], "duty_manager-3")
        audit = [(e["action"], e["entity_id"]) for e in await audit_of(somerset, case_id)]
        assert audit.count(("step.done", plan["id"])) == 1
        gave = [i for i, e in enumerate(audit) if e == ("step.reassign", plan["id"])]
        assert all(i < audit.index(("step.done", plan["id"])) for i in gave)
        r = await somerset.client.delete(
            f"/v1/staff/line_manager-1/absences/{absence['id']}",
            headers={**somerset.auth("duty_manager", "duty_manager-3"),
                     "If-Match": back.headers["ETag"]})
        assert r.status_code == 204, r.text


async def test_S1_escalation_to_the_line_manager_follows_their_leave(
        factory: Any, somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """S1 (4.6: case holders inform "their line manager ... or if their line manager is
    unavailable, the duty manager"; 3.1: "If the line manager is unavailable, the duty manager
    will undertake these functions"). Two cases' overdue AssetPlus assessments are escalated:
    one on Friday 18 December 2026, before line_manager-1's leave (Monday 21 December to
    Monday 4 January 2027, recorded in advance), to line_manager-1; one on Christmas Eve, during
    it, to the duty managers. The first moves to the duty managers when the leave starts
    (Monday 21 December 00:30 GMT); both are line_manager-1's again on Tuesday 5 January
    (the first queue read after the leave), audited."""
    pin(monkeypatch, 2026, 12, 18, 9, 0)
    first = (await somerset.open_case())["data"]
    late = the_step(await case_steps(somerset, first["id"]), "complete_assessment")
    assert await tick(factory, somerset, datetime(2026, 12, 18, 10, 0, tzinfo=UTC)) >= 1
    [up] = escalations_of(await case_steps(somerset, first["id"]), late["id"])
    assert (up["actor"], up["assignee_id"]) == ("line_manager", "line_manager-1")
    await away(somerset, "line_manager-1", "2026-12-21", "2027-01-04")
    pin(monkeypatch, 2026, 12, 21, 0, 30)
    assert escalations_of(await queue_all(somerset), late["id"]) == []
    [stood] = escalations_of(await duty_steps(somerset, first["id"]), late["id"])
    assert (stood["id"], stood["actor"], stood["assignee_id"], stood["urgent"]) == (
        up["id"], "duty_manager", None, True)
    assert stood["policy"]["rule"] == "S1"
    pin(monkeypatch, 2026, 12, 24, 10, 0)
    second = (await somerset.open_case(opened_at="2026-03-03T09:00:00Z"))["data"]
    later = the_step(await case_steps(somerset, second["id"]), "complete_assessment")
    assert await tick(factory, somerset, datetime(2026, 12, 24, 10, 0, tzinfo=UTC)) >= 1
    [raised] = escalations_of(await duty_steps(somerset, second["id"]), later["id"])
    assert (raised["actor"], raised["assignee_id"]) == ("duty_manager", None)
    pin(monkeypatch, 2027, 1, 5, 8, 0)
    mine = await queue_all(somerset)
    [back] = escalations_of(mine, late["id"])
    [back2] = escalations_of(mine, later["id"])
    assert (back["id"], back["actor"], back["assignee_id"]) == (
        up["id"], "line_manager", "line_manager-1")
    assert (back2["id"], back2["actor"], back2["assignee_id"]) == (
        raised["id"], "line_manager", "line_manager-1")
    assert [e["reason"] for e in reassigns(await audit_of(somerset, second["id"]),
                                            raised["id"])] == [
        "given back to the line manager (line_manager-1): the recorded absences on Tuesday 5 "
        "January 2027"]


def escalations_of(steps: list[dict[str, Any]], subject_id: str) -> list[dict[str, Any]]:
    """The escalations of one overdue step in a list."""
    return [s for s in steps if s["code"] == "escalate_overdue_step"
            and s["subject_id"] == subject_id]


async def queue_all(t: Tenant) -> list[dict[str, Any]]:
    """line_manager-1's whole queue (``assignee=me``)."""
    r = await t.client.get("/v1/next-steps", params={"assignee": "me", "limit": 200},
                           headers=t.auth("line_manager", "line_manager-1"))
    assert r.status_code == 200, r.text
    return r.json()["data"]  # type: ignore[no-any-return]


async def duty_steps(t: Tenant, case_id: str) -> list[dict[str, Any]]:
    """The case's steps addressed to the duty managers."""
    r = await t.client.get("/v1/next-steps", params={"actor": "duty_manager",
                                                     "case_id": case_id, "limit": 200},
                           headers=t.auth("duty_manager", "duty_manager-3"))
    assert r.status_code == 200, r.text
    return r.json()["data"]  # type: ignore[no-any-return]


async def test_S6_reopened_while_the_line_manager_is_away_the_countersignature_stands_in(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """S6 (3.1): "If the line manager is unavailable, the duty manager will undertake these
    functions." The countersignature of ROSH high (Tuesday 1 September 2026) is
    line_manager-1's when the case closes on Thursday 10 September; reopened on Tuesday 15
    September, while line_manager-1 is on leave (Monday 14 to Friday 18 September), the
    reinstated countersignature (same step) goes to the duty managers in the reopening's write,
    audited."""
    pin(monkeypatch, 2026, 9, 1, 11, 5)
    case = (await somerset.open_case(opened_at="2026-09-01T09:00:00+01:00"))["data"]
    body = await judge_high(somerset, case["id"], "2026-09-01T11:00:00+01:00")
    [plan] = steps_of(body["next_steps"], "countersign_risk_plan")
    assert (plan["actor"], plan["assignee_id"]) == ("line_manager", "line_manager-1")
    # The MARP referral with the views (3.2.3, 6.2: not waivable) before the closure (A9-9).
    await refer_to_marp(somerset, case["id"], "2026-09-01T11:01:00+01:00")
    pin(monkeypatch, 2026, 9, 10, 16, 0)
    r = await patch_case(somerset, case["id"], {"closed_at": "2026-09-10T16:00:00+01:00",
                                                "closure_reason": "Order completed"})
    assert r.status_code == 200, r.text
    await away(somerset, "line_manager-1", "2026-09-14", "2026-09-18")
    pin(monkeypatch, 2026, 9, 15, 9, 5)
    r = await patch_case(somerset, case["id"], {
        "closed_at": None, "reopen_reason": "Breach: returned to court",
        "occurred_at": "2026-09-15T10:00:00+01:00"})
    assert r.status_code == 200, r.text
    [stood] = steps_of(r.json()["next_steps"], "countersign_risk_plan")
    assert (stood["id"], stood["actor"], stood["assignee_id"], stood["due_at"]) == (
        plan["id"], "duty_manager", None, None)
    assert stood["policy"] == {**S, "ref": "3.1", "rule": "S6"}
    [moved] = reassigns(await audit_of(somerset, case["id"]), plan["id"])
    assert moved["reason"] == "line_manager-1 is on recorded leave (the case was reopened)"


async def test_race_the_days_sweep_against_the_duty_manager_completing(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """S6 (3.1) under a race: the first queue read after line_manager-1's one-day leave (the
    day's sweep gives the stood-in countersignature back) against duty_manager-3 completing it
    (their request sweeps too). Each round on a new day (Tuesday 1 December 2026 on): the
    completion is 200, the step done once by duty_manager-3, and a give-back, if the sweep
    came first, audited before the completion, never after it."""
    for n in range(ROUNDS):
        day = 1 + 2 * n
        pin(monkeypatch, 2026, 12, day, 9, 0)
        await away(somerset, "line_manager-1", f"2026-12-{day:02d}", f"2026-12-{day:02d}")
        case_id, _, plan = await stood_in_case(somerset, f"2026-12-{day:02d}T08:30:00Z")
        pin(monkeypatch, 2026, 12, day + 1, 9, 0)
        listed, done = await asyncio.gather(
            somerset.client.get("/v1/next-steps", params={"assignee": "me"},
                                headers=somerset.auth("line_manager", "line_manager-1")),
            complete(somerset, plan["id"], "duty_manager", "duty_manager-3", note="signed"))
        assert listed.status_code == 200, listed.text
        assert done.status_code == 200, done.text
        assert done.json()["data"]["completed_by"] == "duty_manager-3"
        [stored] = steps_of(await case_steps(somerset, case_id, "done"), "countersign_risk_plan")
        assert stored["id"] == plan["id"]
        audit = [(e["action"], e["entity_id"]) for e in await audit_of(somerset, case_id)]
        assert audit.count(("step.done", plan["id"])) == 1
        gave = [i for i, e in enumerate(audit) if e == ("step.reassign", plan["id"])]
        assert all(i < audit.index(("step.done", plan["id"])) for i in gave)


async def test_S6_the_calendar_feed_after_the_leave_shows_the_step_given_back(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """S6 (3.1): "If the line manager is unavailable, the duty manager will undertake these
    functions." line_manager-1's calendar feed, the first thing read on Saturday 29 August
    2026 after their leave (Monday 24 to Friday 28 August; Monday 31 is a bank holiday),
    carries the countersignature that stood in while they were away: the feed's read settles
    the day first."""
    pin(monkeypatch, 2026, 8, 24, 9, 0)
    await away(somerset, "line_manager-1", "2026-08-24", "2026-08-28")
    feed = await new_feed(somerset, "line_manager", "line_manager-1")
    pin(monkeypatch, 2026, 8, 26, 9, 5)
    _, _, plan = await stood_in_case(somerset, "2026-08-26T09:00:00Z")
    before = todos((await fetch(somerset, feed["url"])).content)
    assert not [uid for uid in before if plan["id"] in uid]
    pin(monkeypatch, 2026, 8, 29, 7, 0)
    r = await fetch(somerset, feed["url"])
    assert r.status_code == 200, r.text
    assert [uid for uid in todos(r.content) if plan["id"] in uid]


async def test_W4_a_shortened_or_cancelled_absence_puts_the_in_week_deadline_back(
        wokingham: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """W4 ("on a Friday or the last day before a prolonged absence (for example, the last
    working day before annual leave)" ... "before the end of the working week"): the incident
    known on Wednesday 26 August 2026 is due Thursday 27 August (22:59:59Z, BST); leave from
    that Thursday brings it forward to Wednesday 26; the leave moved to start on Tuesday 1
    September (after the bank holiday) puts it back to Thursday 27; moved back to Thursday 27
    it comes forward again; cancelled, it is Thursday's again. Each re-date audited with the
    absence's change as its reason. The clock is pinned at Wednesday 26 August, 16:00 BST: a
    deadline already passed at the change would be kept (the re-date rule, A11-6)."""
    pin(monkeypatch, 2026, 8, 26, 15, 0)
    week = await FidelityWeek.start(wokingham)
    body = await week.incident("2026-08-24T10:00:00+01:00", known_at="2026-08-26T15:00:00+01:00")
    [record] = steps_of(body["next_steps"], "record_incident")
    assert record["due_at"] == "2026-08-27T22:59:59Z"
    assert record["policy"]["rule"] == "W4"
    manager = wokingham.auth("line_manager")
    r = await wokingham.client.post("/v1/staff/case_holder-1/absences", json={
        "starts_on": "2026-08-27", "ends_on": "2026-09-04"}, headers=manager)
    assert r.status_code == 201, r.text
    url = f"/v1/staff/case_holder-1/absences/{r.json()['data']['id']}"

    async def due() -> str:
        [step] = steps_of(await week.open_steps(), "record_incident")
        assert (step["id"], step["actor"], step["assignee_id"]) == (
            record["id"], "case_holder", "case_holder-1")
        return str(step["due_at"])

    assert await due() == "2026-08-26T22:59:59Z"
    r = await wokingham.client.patch(url, json={"starts_on": "2026-09-01"},
                                     headers={**manager, "If-Match": r.headers["ETag"]})
    assert r.status_code == 200, r.text
    assert await due() == "2026-08-27T22:59:59Z"
    r = await wokingham.client.patch(url, json={"starts_on": "2026-08-27"},
                                     headers={**manager, "If-Match": r.headers["ETag"]})
    assert r.status_code == 200, r.text
    assert await due() == "2026-08-26T22:59:59Z"
    r = await wokingham.client.delete(url, headers={**manager, "If-Match": r.headers["ETag"]})
    assert r.status_code == 204, r.text
    assert await due() == "2026-08-27T22:59:59Z"
    redates = [e for e in await audit_of(wokingham, week.case_id)
               if e["action"] == "step.redate" and e["entity_id"] == record["id"]]
    absence = url.rsplit("/", 1)[1]
    assert [e["reason"] for e in redates] == [
        f"absence {absence} recorded",
        f"absence {absence} changed", f"absence {absence} changed",
        f"absence {absence} cancelled"]


async def test_S5_the_duty_manager_standing_in_may_not_waive_the_discussion_it_holds(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """S5 (3.1): "Any 'high' or 'very high' judgement rating will be discussed as soon as
    practicable with the relevant line manager or duty manager (within 24 hours) ... If the line
    manager is unavailable, the duty manager will undertake these functions." line_manager-1
    is on leave; ROSH high on Wednesday 26 August 2026 10:00 BST: the discussion (due Thursday
    27 August 09:00 UTC) is the duty managers'. A duty manager may not waive it, as no manager
    waives a duty they owe (attack pass 10, A10-29): 403, and the step stays open; they do it."""
    pin(monkeypatch, 2026, 8, 24, 9, 0)
    await away(somerset, "line_manager-1", "2026-08-24", "2026-08-28")
    pin(monkeypatch, 2026, 8, 26, 9, 5)
    case_id, discuss, _plan = await stood_in_case(somerset, "2026-08-26T10:00:00+01:00")
    assert (discuss["due_at"], discuss["policy"]) == (
        "2026-08-27T09:00:00Z", {**S, "ref": "3.1", "rule": "S5"})
    r = await somerset.client.post(f"/v1/next-steps/{discuss['id']}/waive",
                                   json={"reason": "not needed"},
                                   headers=somerset.auth("duty_manager", "duty_manager-3"))
    assert r.status_code == 403, r.text
    assert {s["id"] for s in await duty_queue(somerset, case_id)} >= {discuss["id"]}
    r = await complete(somerset, discuss["id"], role="duty_manager", sub="duty_manager-3")
    assert r.status_code == 200, r.text


async def chair_steps(t: Tenant, case_id: str) -> list[dict[str, Any]]:
    """The case's steps addressed to the chairs (Somerset's senior managers, 3.3)."""
    r = await t.client.get("/v1/next-steps", params={"actor": "chair", "case_id": case_id,
                                                     "limit": 200},
                           headers=t.auth("chair", "chair-1"))
    assert r.status_code == 200, r.text
    return r.json()["data"]  # type: ignore[no-any-return]


async def test_S5_the_escalation_of_a_stood_in_discussion_follows_it_both_ways(
        factory: Any, somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """S5 (3.1): "If the line manager is unavailable, the duty manager will undertake these
    functions." line_manager-1 is on leave Monday 24 to Friday 28 August 2026; ROSH high on
    Wednesday 26 August 10:00 BST: the discussion (due Thursday 27 August 09:00 UTC) is the
    duty managers'. Still open at 12:00 UTC on the 27th, it escalates over the duty manager
    standing in: to the senior managers (chair, 3.3). On Saturday 29 August 00:30 BST the leave
    has ended: the discussion is line_manager-1's again, and its escalation goes with it, over
    the line manager: to the duty managers, as the pass would raise it then (attack pass 10,
    A10-11: it stayed with the senior managers). Leave recorded again from Monday 31 August
    stands the discussion in once more in that write, and its escalation goes back over the
    duty manager: to the senior managers. Each move audited (``step.reassign``)."""
    pin(monkeypatch, 2026, 8, 24, 9, 0)
    await away(somerset, "line_manager-1", "2026-08-24", "2026-08-28")
    pin(monkeypatch, 2026, 8, 26, 9, 5)
    case_id, discuss, _plan = await stood_in_case(somerset, "2026-08-26T10:00:00+01:00")
    assert (discuss["due_at"], discuss["policy"]) == (
        "2026-08-27T09:00:00Z", {**S, "ref": "3.1", "rule": "S5"})
    pin(monkeypatch, 2026, 8, 27, 12, 0)
    assert await tick(factory, somerset, datetime(2026, 8, 27, 12, 0, tzinfo=UTC)) >= 1
    [up] = escalations_of(await chair_steps(somerset, case_id), discuss["id"])
    assert (up["code"], up["actor"], up["assignee_id"], up["due_at"], up["urgent"]) == (
        "escalate_overdue_step", "chair", None, None, True)
    assert up["policy"] == {**S, "ref": "3.1", "rule": "S5"}
    pin(monkeypatch, 2026, 8, 28, 23, 30)
    [back] = steps_of(await queue(somerset, "line_manager", "line_manager-1"),
                      "discuss_with_manager")
    assert (back["id"], back["actor"], back["assignee_id"], back["due_at"]) == (
        discuss["id"], "line_manager", "line_manager-1", "2026-08-27T09:00:00Z")
    assert escalations_of(await chair_steps(somerset, case_id), discuss["id"]) == []
    [over] = escalations_of(await duty_steps(somerset, case_id), discuss["id"])
    assert (over["id"], over["actor"], over["assignee_id"], over["due_at"]) == (
        up["id"], "duty_manager", None, None)
    assert over["policy"] == {**S, "ref": "3.1", "rule": "S5"}
    assert "Given back" in over["note"]
    pin(monkeypatch, 2026, 8, 31, 9, 0)
    absence_id = (await away(somerset, "line_manager-1", "2026-08-31", "2026-09-04")
                  )["data"]["id"]
    [stood] = escalations_of(await chair_steps(somerset, case_id), discuss["id"])
    assert (stood["id"], stood["actor"], stood["assignee_id"]) == (up["id"], "chair", None)
    assert escalations_of(await duty_steps(somerset, case_id), discuss["id"]) == []
    [again] = steps_of(await duty_queue(somerset, case_id), "discuss_with_manager")
    assert (again["id"], again["actor"], again["assignee_id"]) == (
        discuss["id"], "duty_manager", None)
    moves = reassigns(await audit_of(somerset, case_id), up["id"])
    assert [m["reason"] for m in moves] == [
        "the step it chases is given back to the line manager (line_manager-1); its "
        "escalation to the duty manager: the recorded absences on Saturday 29 August 2026",
        f"line_manager-1 is on recorded leave (absence {absence_id} recorded)"]
    assert moves[0]["actor"] == "system:stand-in"


async def test_S6_leave_starting_overnight_is_settled_before_the_first_write_of_the_day(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """S6 (3.1): "If the line manager is unavailable, the duty manager will undertake these
    functions." ROSH high on Tuesday 6 April 2027 10:00 BST (the day after Easter Monday);
    line_manager-1's leave is recorded that evening for Wednesday 7 to Friday 9 April. The
    first act on the service after midnight London is a write (a custody entry at 00:10 BST,
    Wednesday 23:10 UTC the day before): its answer already has the countersignature with the
    duty managers, unassigned, not with the absent line manager (attack pass 11, A11-11: it
    was settled only by the next read)."""
    pin(monkeypatch, 2027, 4, 6, 9, 5)
    case = (await somerset.open_case())["data"]
    body = await judge_high(somerset, case["id"], "2027-04-06T10:00:00+01:00")
    [plan] = steps_of(body["next_steps"], "countersign_risk_plan")
    assert (plan["actor"], plan["assignee_id"]) == ("line_manager", "line_manager-1")
    pin(monkeypatch, 2027, 4, 6, 21, 0)
    await away(somerset, "line_manager-1", "2027-04-07", "2027-04-09")
    mine = {s["code"]: s for s in await queue(somerset, "line_manager", "line_manager-1")}
    assert mine["countersign_risk_plan"]["assignee_id"] == "line_manager-1"  # not away yet
    pin(monkeypatch, 2027, 4, 6, 23, 10)
    r = await somerset.client.post(
        f"/v1/cases/{case['id']}/events", headers=somerset.auth("case_holder"),
        json={"type": "custody_entry", "occurred_at": "2027-04-07T00:05:00+01:00"})
    assert r.status_code == 201, r.text
    [stood] = steps_of(r.json()["next_steps"], "countersign_risk_plan")
    assert (stood["id"], stood["actor"], stood["assignee_id"], stood["due_at"]) == (
        plan["id"], "duty_manager", None, None)
    assert stood["policy"] == {**S, "ref": "3.1", "rule": "S6"}


async def test_the_first_reads_of_a_day_wait_for_one_sweep(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """Attack pass 13, A13-13: the first reads of a new London day each swept the service's
    stand-ins at once; on SQLite (one writer) all but one answered 503 "database busy". Eight
    reads at once on Monday 7 December 2026: one sweep, and every read answers 200 with the
    same queue."""
    from app.domain import stand_ins

    pin(monkeypatch, 2026, 12, 7, 8, 0)
    await somerset.open_case(opened_at="2026-11-02T09:00:00Z")
    real = stand_ins.sweep_service
    calls: list[object] = []

    async def slow_sweep(*args: Any, **kwargs: Any) -> int:
        calls.append(args[2])
        await asyncio.sleep(0.05)  # long enough for every reader to arrive meanwhile
        return await real(*args, **kwargs)

    monkeypatch.setattr(stand_ins, "sweep_service", slow_sweep)
    pin(monkeypatch, 2026, 12, 8, 8, 0)  # a new London day: the service is swept again
    answers = await asyncio.gather(*(
        somerset.client.get("/v1/next-steps", headers=somerset.auth("line_manager"))
        for _ in range(8)))
    assert [a.status_code for a in answers] == [200] * 8, [a.text for a in answers]
    assert len({a.text for a in answers}) == 1
    assert len(calls) == 1
