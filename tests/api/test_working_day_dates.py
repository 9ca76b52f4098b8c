"""The dates a service books for itself fall on working days (attack pass 19, A19-15).

A MARP review date on a bank holiday, or a panel action due on a weekend, was accepted without
comment: the review step (S20) fell due on a day the service is shut, and nobody was told. Neither
seed lets a panel sit, or a step the panel agreed fall due, on such a day (Somerset 7.1.6 "the
panel will agree and then book a provisional review date", 4.6 "within the timeframe agreed";
Wokingham's High-Risk Panel "actions (each with owner and due date)"). The dates the service
books at a panel (a decision's review date, its actions' due dates) on a weekend, an
England-and-Wales bank holiday or a closure day are refused (422), each error naming the date,
why, and the next working day; nothing is recorded. The preview refuses them as the write does.
Dates the service does not choose (a transfer date, an expected release date: set by the other
service or the court) are taken as they come. A panel's own sitting on such a day is refused
too (attack 34b, ATTACK34B-6: tests/api/test_attack34_working_days.py), and an action's due date
is judged as the review date is (ATTACK34B-3; attack 32c, ATTACK32C-7 had let actions through).

The clock is pinned to Monday 2 November 2026 10:00Z.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.fidelity_support import pin
from tests.api.integrity_support import assert_problem
from tests.conftest import Tenant


@pytest.fixture
def pinned(monkeypatch: pytest.MonkeyPatch) -> None:
    """The service's clock at Monday 2 November 2026 10:00Z."""
    pin(monkeypatch, 2026, 11, 2, 10, 0)


async def _item(t: Tenant, case_id: str, kind: str) -> tuple[str, str]:
    """A panel of ``kind`` that sat this morning (Monday 2 November 2026 09:00Z) with the case
    (judged ROSH high at 08:00Z) on its agenda."""
    r = await t.client.post(f"/v1/cases/{case_id}/judgements", json={
        "domain": "rosh", "level": "high", "impact": "major", "likelihood": "likely",
        "victims": ["public"], "occurred_at": "2026-11-02T08:00:00Z"},
        headers=t.auth("case_holder"))
    assert r.status_code == 201, r.text
    r = await t.client.post("/v1/panels", json={"kind": kind, "chair_id": "chair-1",
                                                "scheduled_for": "2026-11-02T09:00:00Z"},
                            headers=t.auth("chair"))
    assert r.status_code == 201, r.text
    panel = r.json()["data"]["id"]
    r = await t.client.post(f"/v1/panels/{panel}/items",
                            json={"case_id": case_id, "presenter_id": "case_holder-1"},
                            headers=t.auth("chair"))
    assert r.status_code == 201, r.text
    return panel, r.json()["data"]["id"]


def _msgs(problem: dict[str, Any]) -> dict[str, str]:
    return {e["loc"]: e["msg"] for e in problem["errors"]}


@pytest.mark.usefixtures("pinned")
async def test_S20_a_review_date_on_a_bank_holiday_and_actions_on_no_working_day_are_refused(
        somerset: Tenant) -> None:
    """S20 (7.1.6, 7.2.3): "Unless the child's risk status has reduced to medium or low, the
    panel will agree and then book a provisional review date"; 4.6 "Case holders must follow up
    any actions required within the timeframe agreed".

    The MARP of Monday 2 November 2026 keeps the case high and books its review on Christmas Day
    2026 (Friday), with an action due on Saturday 28 November and one on Monday 28 December
    (the Boxing Day substitute bank holiday): 422 for all three, each named with why and the
    next working day (Monday 30 November; Tuesday 29 December), the item left undecided: every
    date the decision gives is judged by the one working-day calendar (attack 34b,
    ATTACK34B-3). Booked on Tuesday 29 December with the actions on Friday 27 November and
    Tuesday 29 December, it is recorded: attend_panel_review (case holder, 7.1.6, 7.2.3) due at
    the end of 29 December (23:59:59 GMT)."""
    case_id = (await somerset.open_case())["data"]["id"]
    panel, item = await _item(somerset, case_id, "marp")
    url = f"/v1/panels/{panel}/items/{item}/decision"

    def decision(review: str, *due: str) -> dict[str, Any]:
        return {"rosh_level": "high", "minutes": "m", "review_date": review,
                "actions": [{"description": f"act {i}", "owner_id": "case_holder-1",
                             "due_date": d} for i, d in enumerate(due)]}

    r = await somerset.client.post(url, json=decision("2026-12-25", "2026-11-28", "2026-12-28"),
                                   headers=somerset.auth("chair", "chair-1"))
    problem = assert_problem(r, 422)
    assert _msgs(problem) == {
        "body.review_date": "2026-12-25 is not a working day (a bank holiday (Christmas Day)): "
                            "the next working day is 2026-12-29",
        "body.actions.0.due_date": "2026-11-28 is not a working day (a Saturday): the next "
                                   "working day is 2026-11-30",
        "body.actions.1.due_date": "2026-12-28 is not a working day (a bank holiday (Boxing "
                                   "Day (observed))): the next working day is 2026-12-29",
    }
    got = await somerset.client.get(f"/v1/panels/{panel}", headers=somerset.auth("chair"))
    assert all(i["decided_at"] is None for i in got.json()["data"]["items"])
    r = await somerset.client.post(url, json=decision("2026-12-29", "2026-11-27", "2026-12-29"),
                                   headers=somerset.auth("chair", "chair-1"))
    assert r.status_code == 200, r.text
    review = next(s for s in r.json()["next_steps"] if s["code"] == "attend_panel_review")
    assert (review["actor"], review["due_at"], review["policy"]["rule"],
            review["policy"]["ref"]) == ("case_holder", "2026-12-29T23:59:59Z", "S20",
                                         "7.1.6, 7.2.3")


@pytest.mark.usefixtures("pinned")
async def test_W22_high_risk_panel_action_on_good_friday_is_refused_as_a_review_on_easter_monday(
        wokingham: Tenant) -> None:
    """W22 (High Risk Panel): "At the end of the Panel, a specific action plan and risk
    classification should be agreed" (the catalogue's Panels: "actions (each with owner and due
    date)"). The High-Risk Panel of Monday 2 November 2026 agrees an action due on Good Friday
    (26 March 2027) and books its review on Easter Monday (29 March 2027): 422 for both alike,
    each naming Tuesday 30 March (attack 34b, ATTACK34B-3: the action was accepted, the review
    refused); nothing is recorded. With the action due Thursday 25 March and the review on
    Tuesday 30 March it is recorded: the owner's panel_action (``action_owner``,
    case_holder-1, W22) due by the end of 25 March (23:59:59 GMT)."""
    case_id = (await wokingham.open_case())["data"]["id"]
    panel, item = await _item(wokingham, case_id, "high_risk_panel")
    url = f"/v1/panels/{panel}/items/{item}/decision"

    def decision(review: str, due: str) -> dict[str, Any]:
        return {"minutes": "m", "attendees": ["case_holder", "line_manager"],
                "rosh_level": "medium", "review_date": review,
                "actions": [{"description": "Safety plan", "owner_id": "case_holder-1",
                             "due_date": due}]}

    r = await wokingham.client.post(url, json=decision("2027-03-29", "2027-03-26"),
                                    headers=wokingham.auth("chair", "chair-1"))
    assert _msgs(assert_problem(r, 422)) == {
        "body.review_date": "2027-03-29 is not a working day (a bank holiday (Easter Monday)): "
                            "the next working day is 2027-03-30",
        "body.actions.0.due_date": "2027-03-26 is not a working day (a bank holiday (Good "
                                   "Friday)): the next working day is 2027-03-30",
    }
    got = await wokingham.client.get(f"/v1/panels/{panel}", headers=wokingham.auth("chair"))
    assert all(i["decided_at"] is None for i in got.json()["data"]["items"])
    r = await wokingham.client.post(url, json=decision("2027-03-30", "2027-03-25"),
                                    headers=wokingham.auth("chair", "chair-1"))
    assert r.status_code == 200, r.text
    [recorded] = r.json()["data"]["decision"]["actions"]
    assert recorded["due_date"] == "2027-03-25"
    act = next(s for s in r.json()["next_steps"] if s["code"] == "panel_action")
    assert (act["actor"], act["assignee_id"], act["due_at"], act["policy"]["rule"]) == (
        "action_owner", "case_holder-1", "2027-03-25T23:59:59Z", "W22")


@pytest.mark.usefixtures("pinned")
async def test_S20_the_preview_refuses_a_review_date_on_no_working_day(somerset: Tenant) -> None:
    """S20 (7.1.6): the preview refuses what the decision refuses: a review date on Good Friday
    2027 (26 March) and an action agreed for Easter Monday (29 March) are 422, each naming
    Tuesday 30 March (attack 34b, ATTACK34B-3)."""
    case_id = (await somerset.open_case())["data"]["id"]
    r = await somerset.client.post("/v1/workflow/preview", headers=somerset.auth("case_holder"),
                                   json={"case_id": case_id, "trigger": "panel_decision",
                                         "data": {"panel_kind": "marp", "rosh_level": "high",
                                                  "review_date": "2027-03-26",
                                                  "actions": [{"description": "x",
                                                               "owner_id": "case_holder-1",
                                                               "due_date": "2027-03-29"}]}})
    assert _msgs(assert_problem(r, 422)) == {
        "body.data.review_date": "2027-03-26 is not a working day (a bank holiday (Good "
                                 "Friday)): the next working day is 2027-03-30",
        "body.data.actions.0.due_date": "2027-03-29 is not a working day (a bank holiday "
                                        "(Easter Monday)): the next working day is 2027-03-30"}
