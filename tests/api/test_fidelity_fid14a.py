"""Practice fidelity (fid14a) through the API: Somerset 7.1.1's attendance at the initial MARP
(S48; attack 23b, A23b-8) and a pack event type the service now accepts (S45, 2.2)."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from app.core import clock
from tests.api.test_pack_vocabulary import patch
from tests.api.test_panels import add_item, high_case, schedule
from tests.conftest import Tenant

S = {"pack": "somerset-yjt-2023", "version": "1"}


async def _open_steps(t: Tenant, case_id: str) -> list[dict]:
    r = await t.client.get("/v1/next-steps", params={"case_id": case_id},
                           headers=t.auth("line_manager"))
    assert r.status_code == 200, r.text
    return r.json()["data"]  # type: ignore[no-any-return]


async def test_S48_attendance_at_the_initial_marp_done_by_the_line_manager_presenting(
        client: httpx.AsyncClient, somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """S48 (7.1.1): "The case holder will attend MARP to discuss the case. If not available,
    the line manager will present the case."

    ROSH high on Monday 1 June 2026; MARPs on Wednesday 10 and Wednesday 24 June (14:00 BST).
    Put on the agenda of the 24 June MARP, the case holder's attendance is due at that sitting
    (13:00Z), not the sooner one. The line manager presents the case: the decision naming them
    presenter does the step, in their name; nothing is left to attend."""
    monkeypatch.setattr(clock, "now", lambda: datetime(2026, 6, 1, 11, 0, tzinfo=UTC))
    case = await high_case(client, somerset)
    await schedule(client, somerset, "2026-06-10T14:00:00+01:00")
    later = await schedule(client, somerset, "2026-06-24T14:00:00+01:00")
    item = await add_item(client, somerset, later["id"], case["id"], presenter="line_manager-1")
    [attend] = [s for s in await _open_steps(somerset, case["id"])
                if s["code"] == "attend_initial_marp"]
    assert (attend["actor"], attend["assignee_id"], attend["due_at"], attend["policy"]) == (
        "case_holder", "case_holder-1", "2026-06-24T13:00:00Z",
        {**S, "ref": "7.1.1", "rule": "S48"})
    monkeypatch.setattr(clock, "now", lambda: datetime(2026, 6, 24, 15, 0, tzinfo=UTC))
    r = await client.post(
        f"/v1/panels/{later['id']}/items/{item['id']}/decision",
        json={"rosh_level": "high", "actions": [], "minutes": "Plan agreed",
              "review_date": "2026-07-22", "occurred_at": "2026-06-24T15:00:00+01:00"},
        headers=somerset.auth("chair", "chair-1"))
    assert r.status_code == 200, r.text
    r = await client.get(f"/v1/next-steps/{attend['id']}", headers=somerset.auth("chair"))
    assert r.status_code == 200, r.text
    done = r.json()["data"]
    assert (done["status"], done["completed_by"]) == ("done", "line_manager-1")
    assert "attend_initial_marp" not in {
        s["code"] for s in await _open_steps(somerset, case["id"])}


async def test_S45_information_problems_event_is_accepted_and_asks_the_case_holder(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """S45 (2.2): "If problems in obtaining the necessary information persist, the case holder
    will inform the relevant line manager for potential support through escalation routes as
    appropriate." Recorded on Christmas Day, Friday 25 December 2026: the case holder's step,
    undated (no timescale), cites 2.2."""
    monkeypatch.setattr(clock, "now", lambda: datetime(2026, 12, 29, 9, 0, tzinfo=UTC))
    case = (await somerset.open_case(opened_at="2026-12-01T09:00:00Z"))["data"]
    r = await somerset.client.post(
        f"/v1/cases/{case['id']}/events",
        json={"type": "assessment_information_problems", "occurred_at": "2026-12-25T10:00:00Z"},
        headers=somerset.auth("case_holder"))
    assert r.status_code == 201, r.text
    [inform] = [s for s in r.json()["next_steps"]
                if s["code"] == "inform_line_manager_of_information_problems"]
    assert (inform["actor"], inform["assignee_id"], inform["due_at"], inform["policy"]) == (
        "case_holder", "case_holder-1", None, {**S, "ref": "2.2", "rule": "S45"})


async def test_W32_co_worker_asked_when_the_harmful_sexual_behaviour_fact_is_set(
        wokingham: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """W32 (Resources): "Cases that involved children who display sexually harmful behaviour
    will have a co-worker allocated." PATCHed on Monday 28 December 2026 (the Boxing Day
    substitute bank holiday): the line manager's step, undated, cites "Resources"."""
    monkeypatch.setattr(clock, "now", lambda: datetime(2026, 12, 28, 10, 0, tzinfo=UTC))
    case = (await wokingham.open_case(opened_at="2026-12-01T09:00:00Z"))["data"]
    r = await patch(wokingham, case["id"], {"facts": {"harmful_sexual_behaviour": True}})
    assert r.status_code == 200, r.text
    [step] = [s for s in await _open_steps(wokingham, case["id"])
              if s["code"] == "allocate_co_worker"]
    assert (step["actor"], step["assignee_id"], step["due_at"], step["policy"]) == (
        "line_manager", "line_manager-1", None,
        {"pack": "wokingham-pyjs-2024", "version": "1.0", "ref": "Resources", "rule": "W32"})


async def test_S48_item_added_after_its_sitting_is_due_then_and_closed_by_its_decision(
        client: httpx.AsyncClient, somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """S48 (7.1.1): "The case holder will attend MARP to discuss the case. If not available,
    the line manager will present the case."

    ROSH high on Monday 1 June 2026; MARPs on Wednesday 10 June (sat) and Wednesday 24 June.
    On 15 June the chair types up the 10 June sitting: the case is put on that MARP's agenda
    (it was discussed there), so the attendance is owed at that sitting (13:00Z on 10 June), not
    at the next MARP (24 June), and the 10 June decision presented by the case holder does it:
    nothing is left to attend, nothing goes overdue at the 24 June MARP (attack 27, ATTACK27-4:
    it stayed open, due at the next MARP, and was escalated)."""
    monkeypatch.setattr(clock, "now", lambda: datetime(2026, 6, 1, 11, 0, tzinfo=UTC))
    case = await high_case(client, somerset)
    sat = await schedule(client, somerset, "2026-06-10T14:00:00+01:00")
    await schedule(client, somerset, "2026-06-24T14:00:00+01:00")
    monkeypatch.setattr(clock, "now", lambda: datetime(2026, 6, 15, 9, 0, tzinfo=UTC))
    item = await add_item(client, somerset, sat["id"], case["id"])
    [attend] = [s for s in await _open_steps(somerset, case["id"])
                if s["code"] == "attend_initial_marp"]
    assert (attend["assignee_id"], attend["due_at"]) == ("case_holder-1", "2026-06-10T13:00:00Z")
    r = await client.post(
        f"/v1/panels/{sat['id']}/items/{item['id']}/decision",
        json={"rosh_level": "high", "actions": [], "minutes": "Plan agreed",
              "review_date": "2026-07-22", "occurred_at": "2026-06-10T15:00:00+01:00"},
        headers=somerset.auth("chair", "chair-1"))
    assert r.status_code == 200, r.text
    r = await client.get(f"/v1/next-steps/{attend['id']}", headers=somerset.auth("chair"))
    assert r.status_code == 200, r.text
    done = r.json()["data"]
    assert (done["status"], done["completed_by"]) == ("done", "case_holder-1")
    assert "attend_initial_marp" not in {
        s["code"] for s in await _open_steps(somerset, case["id"])}
