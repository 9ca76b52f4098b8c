"""Next steps through HTTP: the to-do list filters and ordering, and completing a step (S16)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.api.integrity_support import assert_problem
from tests.api.test_assessments import codes, the_step
from tests.conftest import Tenant

SOMERSET = "somerset-yjt-2023"
WOKINGHAM = "wokingham-pyjs-2024"
LINE_MANAGER_STEPS = {"discuss_with_manager", "countersign_risk_plan", "monthly_manager_review"}
CASE_HOLDER_STEPS = {"complete_assessment", "refer_to_panel", "seek_child_and_carer_views",
                     "inform_child_and_carer", "update_intervention_plan"}


def iso(moment: datetime) -> str:
    """RFC 3339 with an offset."""
    return moment.astimezone(UTC).isoformat()


async def high_case(t: Tenant, at: str = "2026-06-01T10:00:00+01:00",
                    opened_at: str = "2026-03-02T09:00:00Z") -> tuple[dict[str, Any], list]:
    """A case with ROSH high recorded at ``at``; the case and the steps it answered."""
    case = (await t.open_case(opened_at=opened_at))["data"]
    body: dict[str, Any] = {"domain": "rosh", "level": "high", "occurred_at": at}
    if t.pack == WOKINGHAM:
        body.update(victims=["public"], impact="major", likelihood="likely")
    r = await t.client.post(f"/v1/cases/{case['id']}/judgements", json=body,
                            headers=t.auth("case_holder"))
    assert r.status_code == 201, r.text
    return case, r.json()["next_steps"]


async def listed(t: Tenant, role: str = "line_manager", sub: str | None = None,
                 **params: Any) -> list[dict[str, Any]]:
    """GET /v1/next-steps with filters; the data list."""
    r = await t.client.get("/v1/next-steps", params=params, headers=t.auth(role, sub))
    assert r.status_code == 200, r.text
    return r.json()["data"]  # type: ignore[no-any-return]


async def complete(t: Tenant, step_id: str, role: str, sub: str | None = None,
                   **body: Any) -> httpx.Response:
    """POST /v1/next-steps/{id}/complete."""
    return await t.client.post(f"/v1/next-steps/{step_id}/complete", json=body,
                               headers=t.auth(role, sub))


# --- filters -----------------------------------------------------------------------------------

async def test_filter_assignee_me(somerset: Tenant) -> None:
    """assignee=me: the case holder gets their steps, the line manager theirs."""
    case, _ = await high_case(somerset)
    mine = await listed(somerset, "case_holder", assignee="me", case_id=case["id"])
    assert codes(mine) == CASE_HOLDER_STEPS
    assert {s["assignee_id"] for s in mine} == {"case_holder-1"}
    managed = await listed(somerset, "line_manager", assignee="me", case_id=case["id"])
    assert codes(managed) == LINE_MANAGER_STEPS
    assert {s["assignee_id"] for s in managed} == {"line_manager-1"}
    assert await listed(somerset, "case_holder", "case_holder-2", assignee="me") == []


async def test_filter_assignee_only_accepts_me(somerset: Tenant) -> None:
    """assignee accepts only 'me' (422 otherwise)."""
    r = await somerset.client.get("/v1/next-steps", params={"assignee": "case_holder-1"},
                                  headers=somerset.auth("line_manager"))
    assert_problem(r, 422)


async def test_filter_actor(somerset: Tenant) -> None:
    """actor=line_manager lists only line-manager steps, actor=case_holder only the holder's."""
    case, _ = await high_case(somerset)
    lm = await listed(somerset, actor="line_manager", case_id=case["id"])
    assert codes(lm) == LINE_MANAGER_STEPS
    assert {s["actor"] for s in lm} == {"line_manager"}
    ch = await listed(somerset, actor="case_holder", case_id=case["id"])
    assert codes(ch) == CASE_HOLDER_STEPS
    assert {s["actor"] for s in ch} == {"case_holder"}


async def test_filter_case_id(somerset: Tenant) -> None:
    """case_id keeps one case's steps out of the caller's whole list."""
    first, _ = await high_case(somerset)
    second = (await somerset.open_case())["data"]
    everything = await listed(somerset)
    assert {s["case_id"] for s in everything} == {first["id"], second["id"]}
    only = await listed(somerset, case_id=second["id"])
    assert {s["case_id"] for s in only} == {second["id"]}
    assert codes(only) == {"complete_assessment"}


async def test_filter_status(somerset: Tenant) -> None:
    """status: open by default; done lists completed steps (with their note)."""
    case, steps = await high_case(somerset)
    inform = the_step(steps, "inform_child_and_carer")
    r = await complete(somerset, inform["id"], "case_holder", note="Explained at home visit")
    assert r.status_code == 200, r.text
    assert "inform_child_and_carer" not in codes(await listed(somerset, case_id=case["id"]))
    done = await listed(somerset, case_id=case["id"], status="done")
    assert [s["id"] for s in done] == [inform["id"]]
    assert done[0]["status"] == "done"
    assert done[0]["completion_note"] == "Explained at home visit"
    assert await listed(somerset, case_id=case["id"], status="superseded") == []
    r = await somerset.client.get("/v1/next-steps", params={"status": "finished"},
                                  headers=somerset.auth("line_manager"))
    assert r.status_code == 422


async def test_filter_overdue(somerset: Tenant) -> None:
    """overdue=true: open steps whose due_at has passed (back-dated), not undated or future."""
    old, _ = await high_case(somerset)  # ROSH high on 1 June 2026, case opened 2 March
    recent_at = datetime.now(UTC) - timedelta(hours=1)
    fresh, _ = await high_case(somerset, at=iso(recent_at),
                               opened_at=iso(recent_at - timedelta(minutes=5)))
    overdue = await listed(somerset, overdue="true")
    assert {s["case_id"] for s in overdue} == {old["id"]}
    # In due order (two steps due at the same instant in either order).
    assert [s["due_at"] for s in overdue] == sorted(s["due_at"] for s in overdue)
    assert sorted((s["due_at"], s["code"]) for s in overdue) == [
        ("2026-03-30T08:00:00Z", "complete_assessment"),  # S1: +4w (BST from 29 March)
        ("2026-06-02T09:00:00Z", "discuss_with_manager"),  # S5: +24h
        ("2026-07-01T09:00:00Z", "discuss_register_monthly"),  # S41: +1m (A19-4)
        ("2026-07-01T09:00:00Z", "monthly_manager_review"),  # S11: +1m
    ]
    fresh_steps = await listed(somerset, case_id=fresh["id"])
    assert the_step(fresh_steps, "discuss_with_manager")["due_at"] is not None
    assert await listed(somerset, overdue="true", case_id=fresh["id"]) == []
    mine = await listed(somerset, "case_holder", overdue="true", assignee="me")
    assert [s["code"] for s in mine] == ["complete_assessment"]


async def test_overdue_excludes_completed_steps(somerset: Tenant) -> None:
    """overdue=true lists open steps only: a completed late step drops out."""
    case, steps = await high_case(somerset)
    late = the_step(steps, "discuss_with_manager")
    assert late["id"] in {s["id"] for s in await listed(somerset, overdue="true")}
    r = await complete(somerset, late["id"], "line_manager", note="Discussed late")
    assert r.status_code == 200, r.text
    assert late["id"] not in {s["id"] for s in await listed(somerset, overdue="true")}


async def test_ordered_by_due_at_nulls_last(somerset: Tenant) -> None:
    """The list is ordered by due_at, soonest first, undated steps last."""
    await high_case(somerset)
    await high_case(somerset, at="2026-05-01T10:00:00+01:00")
    steps = await listed(somerset)
    dues = [s["due_at"] for s in steps]
    dated = [d for d in dues if d is not None]
    assert dated
    assert dues[: len(dated)] == sorted(dated)
    assert all(d is None for d in dues[len(dated):])
    assert len(dues) > len(dated)


# --- completing --------------------------------------------------------------------------------

async def test_complete_by_assignee_keeps_note(somerset: Tenant) -> None:
    """The assignee completes a step: 200, status done, the note and who/when kept."""
    case, steps = await high_case(somerset)
    # A step done by hand: the MARP referral (refer_to_panel) is done only by the referral or
    # the agenda item (409 step-done-by-act, tests/api/test_act_only_steps.py).
    plan = the_step(steps, "update_intervention_plan")
    r = await complete(somerset, plan["id"], "case_holder",
                       note="Section 1 plan updated with the control measures",
                       occurred_at="2026-06-02T11:00:00+01:00")
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert data["id"] == plan["id"]
    assert data["status"] == "done"
    assert data["completion_note"] == "Section 1 plan updated with the control measures"
    assert data["completed_by"] == "case_holder-1"
    assert data["completed_at"] == "2026-06-02T10:00:00Z"
    assert plan["id"] not in {s["id"] for s in r.json()["next_steps"]}
    done = await listed(somerset, case_id=case["id"], status="done")
    assert the_step(done, "update_intervention_plan")["completion_note"].startswith("Section 1")


async def test_complete_without_a_body(somerset: Tenant) -> None:
    """The note is optional: completing with no body works."""
    _, steps = await high_case(somerset)
    step = the_step(steps, "update_intervention_plan")
    r = await somerset.client.post(f"/v1/next-steps/{step['id']}/complete",
                                   headers=somerset.auth("case_holder"))
    assert r.status_code == 200, r.text
    assert r.json()["data"]["completion_note"] is None


async def test_complete_by_another_case_holder_is_404(somerset: Tenant) -> None:
    """Another case holder of the same service cannot see the step: 404."""
    _, steps = await high_case(somerset)
    step = the_step(steps, "refer_to_panel")
    r = await complete(somerset, step["id"], "case_holder", "case_holder-2")
    assert_problem(r, 404)
    assert step["id"] not in {s["id"] for s in await listed(somerset, "case_holder",
                                                             "case_holder-2")}


@pytest.mark.parametrize(("code", "role"), [
    ("refer_to_panel", "line_manager"),  # a case-holder step, by the case's line manager
    ("refer_to_panel", "chair"),  # ... by a chair, who reads every case
    ("discuss_with_manager", "case_holder"),  # a line-manager step, by the case holder
    ("countersign_risk_plan", "chair"),
])
async def test_complete_by_a_role_not_matching_is_403(
    somerset: Tenant, code: str, role: str
) -> None:
    """Someone who can see the step but neither is its assignee nor holds its role: 403."""
    case, steps = await high_case(somerset)
    step = the_step(steps, code)
    r = await complete(somerset, step["id"], role)
    assert_problem(r, 403)
    assert step["id"] in {s["id"] for s in await listed(somerset, case_id=case["id"])}


async def test_complete_twice_is_409(somerset: Tenant) -> None:
    """A step can be completed once: the second time is 409."""
    _, steps = await high_case(somerset)
    step = the_step(steps, "countersign_risk_plan")
    assert (await complete(somerset, step["id"], "line_manager")).status_code == 200
    r = await complete(somerset, step["id"], "line_manager", note="again")
    body = assert_problem(r, 409)
    assert body["type"].endswith("/conflicting-transition")
    assert body["current_status"] == "done"


async def test_complete_superseded_step_is_409(wokingham: Tenant) -> None:
    """A superseded step is not open either: completing it is 409."""
    case, steps = await high_case(wokingham)
    request_step = the_step(steps, "request_high_risk_panel")
    r = await wokingham.client.post(
        f"/v1/cases/{case['id']}/judgements",
        json={"domain": "rosh", "level": "low", "impact": "minor", "likelihood": "likely",
              "occurred_at": "2026-06-01T12:00:00+01:00"},
        headers=wokingham.auth("case_holder"))
    assert r.status_code == 201, r.text
    assert_problem(await complete(wokingham, request_step["id"], "case_holder"), 409)


async def test_S16_duty_manager_completing_line_manager_step_advises(somerset: Tenant) -> None:
    """S16: a duty manager doing a line-manager step must then advise the line manager."""
    case, steps = await high_case(somerset)
    discuss = the_step(steps, "discuss_with_manager")
    r = await complete(somerset, discuss["id"], "duty_manager", note="Line manager on leave",
                       occurred_at="2026-06-01T16:00:00+01:00")
    assert r.status_code == 200, r.text
    assert r.json()["data"]["completed_by"] == "duty_manager-1"
    advise = the_step(r.json()["next_steps"], "advise_line_manager")
    assert advise["actor"] == "duty_manager"
    # 3.1: the duty manager who was consulted advises the line manager: that duty manager.
    assert advise["assignee_id"] == "duty_manager-1"
    assert advise["due_at"] is None
    assert advise["urgent"] is False
    assert advise["policy"] == {"pack": SOMERSET, "version": "1", "ref": "2.2, 3.1", "rule": "S16"}
    open_ = await listed(somerset, "duty_manager", case_id=case["id"])
    assert the_step(open_, "advise_line_manager")["id"] == advise["id"]


async def test_S16_not_when_the_line_manager_completes(somerset: Tenant) -> None:
    """S16: the line manager doing their own step creates no advise_line_manager."""
    _, steps = await high_case(somerset)
    discuss = the_step(steps, "discuss_with_manager")
    r = await complete(somerset, discuss["id"], "line_manager")
    assert r.status_code == 200, r.text
    assert "advise_line_manager" not in codes(r.json()["next_steps"])


async def test_S16_not_for_a_case_holder_step(somerset: Tenant) -> None:
    """S16: only line-manager steps done by a duty manager; a duty manager is not a holder."""
    _, steps = await high_case(somerset)
    refer = the_step(steps, "refer_to_panel")
    assert_problem(await complete(somerset, refer["id"], "duty_manager"), 403)


async def test_another_services_step_is_404(somerset: Tenant, wokingham: Tenant) -> None:
    """A step id of another service is 404, even for a staff id that matches its assignee."""
    other_case, other_steps = await high_case(wokingham)
    theirs = the_step(other_steps, "request_high_risk_panel")
    assert theirs["assignee_id"] == "case_holder-1"
    for role in ("case_holder", "line_manager", "duty_manager", "chair"):
        assert_problem(await complete(somerset, theirs["id"], role), 404)
    assert await listed(somerset, "chair", case_id=other_case["id"]) == []
    assert await listed(somerset, "case_holder", assignee="me") == []
    still = await listed(wokingham, "case_holder", case_id=other_case["id"])
    assert theirs["id"] in {s["id"] for s in still}


async def test_unknown_step_is_404(somerset: Tenant) -> None:
    """An unknown step id is 404."""
    assert_problem(await complete(somerset, str(uuid.uuid4()), "case_holder"), 404)


async def _pages(t: Tenant, limit: int, **params: Any) -> list[dict[str, Any]]:
    """Every page of the list as the line manager pages it, ``limit`` at a time."""
    seen: list[dict[str, Any]] = []
    cursor: str | None = None
    for _ in range(100):
        query = {**params, "limit": limit, **({"cursor": cursor} if cursor else {})}
        r = await t.client.get("/v1/next-steps", params=query, headers=t.auth("line_manager"))
        assert r.status_code == 200, r.text
        seen += r.json()["data"]
        cursor = r.json()["next_cursor"]
        if cursor is None:
            return seen
    raise AssertionError("the pages never ended")


async def test_pages_walk_the_whole_list_in_order_dated_then_undated(somerset: Tenant) -> None:
    """Somerset 3.1 (S5-S13): two high ROSH cases raise dated and undated steps. Paged two at a
    time, the list is the one-page list, in the same order, each step once; the overdue list
    likewise."""
    await high_case(somerset)
    await high_case(somerset, at="2026-05-01T10:00:00+01:00")
    whole = await listed(somerset, limit=200)
    assert any(s["due_at"] is None for s in whole)
    assert [s["id"] for s in await _pages(somerset, 2)] == [s["id"] for s in whole]
    overdue = await listed(somerset, overdue="true", limit=200)
    assert overdue
    paged = await _pages(somerset, 1, overdue="true")
    assert [s["id"] for s in paged] == [s["id"] for s in overdue]


async def test_a_step_written_between_pages_skips_and_repeats_nothing(somerset: Tenant) -> None:
    """A keyset cursor, not an offset: a judgement on another case between two pages adds steps
    due earlier than the cursor; the next pages still hold every step that was after it, each
    once (an offset would have repeated the last step of the first page)."""
    await high_case(somerset, at="2026-06-01T10:00:00+01:00")
    before = [s["id"] for s in await listed(somerset, limit=200)]
    r = await somerset.client.get("/v1/next-steps", params={"limit": 3},
                                  headers=somerset.auth("line_manager"))
    first = [s["id"] for s in r.json()["data"]]
    cursor = r.json()["next_cursor"]
    await high_case(somerset, at="2026-05-01T10:00:00+01:00")  # earlier deadlines
    rest: list[str] = []
    while cursor:
        r = await somerset.client.get("/v1/next-steps", params={"limit": 3, "cursor": cursor},
                                      headers=somerset.auth("line_manager"))
        assert r.status_code == 200, r.text
        rest += [s["id"] for s in r.json()["data"]]
        cursor = r.json()["next_cursor"]
    assert len(set(first + rest)) == len(first + rest)
    assert set(before) <= set(first + rest)
    assert [i for i in first + rest if i in before] == before


@pytest.mark.parametrize("cursor", ["50", "0", "not-a-cursor", "=", "a" * 600])
async def test_a_cursor_not_made_here_is_422(somerset: Tenant, cursor: str) -> None:
    """An offset (the old form), garbage, padding or an overlong cursor: 422 invalid-cursor."""
    r = await somerset.client.get("/v1/next-steps", params={"cursor": cursor},
                                  headers=somerset.auth("line_manager"))
    assert_problem(r, 422)


async def test_a_cursor_of_other_filters_is_422(somerset: Tenant) -> None:
    """A cursor made for the whole list is refused for the overdue list (and a tampered one)."""
    await high_case(somerset)
    r = await somerset.client.get("/v1/next-steps", params={"limit": 1},
                                  headers=somerset.auth("line_manager"))
    cursor = r.json()["next_cursor"]
    assert cursor
    r = await somerset.client.get("/v1/next-steps", params={"limit": 1, "cursor": cursor,
                                                            "overdue": "true"},
                                  headers=somerset.auth("line_manager"))
    assert r.json()["type"].endswith("/invalid-cursor"), r.text
    assert_problem(r, 422)
    tampered = cursor[:-2] + ("AA" if cursor[-2:] != "AA" else "BB")
    r = await somerset.client.get("/v1/next-steps", params={"limit": 1, "cursor": tampered},
                                  headers=somerset.auth("line_manager"))
    assert_problem(r, 422)


async def test_an_unknown_actor_filter_is_422(somerset: Tenant) -> None:
    """``actor`` is checked like ``status`` (attack pass 2, finding 8: an unknown actor gave an
    empty 200, which reads as "nothing to do")."""
    r = await somerset.client.get("/v1/next-steps", params={"actor": "nope"},
                                  headers=somerset.auth("line_manager"))
    assert_problem(r, 422)
    r = await somerset.client.get("/v1/next-steps", params={"actor": "line_manager"},
                                  headers=somerset.auth("line_manager"))
    assert r.status_code == 200, r.text

