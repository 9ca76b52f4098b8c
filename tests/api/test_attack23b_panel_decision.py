"""A panel decision records what the policy says it records (attack 23b, A23b-2).

The catalogue's Panels: "Both: minutes, actions (each with owner and due date), a confirmed
rating, a review date" (a review date where S20/W22 ask for one). Wokingham's High Risk Panel:
"At the end of the Panel, a specific action plan and risk classification should be agreed".

Dates: panels on Monday 30 November 2026 (a month end, GMT); actions due Monday 7 December;
reviews on Tuesday 29 December 2026 (after Christmas Day and the Boxing Day substitute Monday).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from app.core import clock
from tests.api.test_assessments import case_steps, codes
from tests.api.test_events import judge
from tests.api.test_panels import add_item, schedule
from tests.conftest import Tenant

ACTION = {"description": "CAMHS consultation", "owner_id": "case_holder-1",
          "due_date": "2026-12-07"}


@pytest.fixture(autouse=True)
def now_after_the_dates(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pin the clock of the future-``occurred_at`` guard after every date these tests use."""
    monkeypatch.setattr(clock, "now", lambda: datetime(2027, 1, 4, 12, 0, tzinfo=UTC))


async def _item(t: Tenant, kind: str) -> tuple[str, str]:
    """A case rated ROSH high on Friday 27 November, on a panel of ``kind`` on Monday 30
    November 2026: (case id, the decision's url)."""
    case = (await t.open_case())["data"]
    await judge(t, case["id"], "rosh", "high", "2026-11-27T10:00:00Z")
    panel = await schedule(t.client, t, "2026-11-30T10:00:00Z", kind)
    item = await add_item(t.client, t, panel["id"], case["id"])
    return case["id"], f"/v1/panels/{panel['id']}/items/{item['id']}/decision"


def _errors(body: dict[str, Any]) -> dict[str, str]:
    return {e["loc"]: e["msg"] for e in body["errors"]}


RATING_MSG = "a panel decision records a confirmed rating: give rosh_level or swb_level (or both)"


async def _no_rating_refused(t: Tenant, kind: str) -> None:
    case_id, url = await _item(t, kind)
    before = codes(await case_steps(t, case_id))
    body: dict[str, Any] = {"minutes": "Discussed; plan agreed.", "actions": [ACTION],
                            "review_date": "2026-12-29", "occurred_at": "2026-11-30T11:00:00Z"}
    r = await t.client.post(url, json=body, headers=t.auth("chair", "chair-1"))
    assert r.status_code == 422, r.text
    assert _errors(r.json()) == {"body.rosh_level": RATING_MSG, "body.swb_level": RATING_MSG}
    assert codes(await case_steps(t, case_id)) == before
    r = await t.client.post(url, json=body | {"rosh_level": "high"},
                            headers=t.auth("chair", "chair-1"))
    assert r.status_code == 200, r.text
    assert r.json()["data"]["decision"]["rosh_level"] == "high"


async def test_S19_marp_decision_without_a_confirmed_rating_is_422(somerset: Tenant) -> None:
    """S19 (catalogue, Panels: a decision records "a confirmed rating"; Somerset 7.1.6 "Unless
    the child's risk status has reduced to medium or low, the panel will agree and then book a
    provisional review date": the panel says what the status is): a MARP decision with minutes,
    actions and a review date but no rating is 422 naming rosh_level and swb_level, and changes
    nothing; with the rating it stands."""
    await _no_rating_refused(somerset, "marp")


async def test_W22_high_risk_panel_decision_without_a_risk_classification_is_422(
    wokingham: Tenant
) -> None:
    """W22 (High Risk Panel): "At the end of the Panel, a specific action plan and risk
    classification should be agreed": a decision with minutes, an action and a review date but
    no rating is 422 naming rosh_level and swb_level, and changes nothing; with the rating it
    stands."""
    await _no_rating_refused(wokingham, "high_risk_panel")


async def test_W22_high_risk_panel_decision_without_an_action_plan_is_422(
    wokingham: Tenant
) -> None:
    """W22 (High Risk Panel): "At the end of the Panel, a specific action plan and risk
    classification should be agreed": a High-Risk Panel decision confirming ROSH high with its
    review date but no action is 422 action-plan-required naming body.actions; with one action
    (owner and due date) it stands."""
    case_id, url = await _item(wokingham, "high_risk_panel")
    body: dict[str, Any] = {"minutes": "Remains high.", "actions": [], "rosh_level": "high",
                            "review_date": "2026-12-29", "occurred_at": "2026-11-30T11:00:00Z"}
    r = await wokingham.client.post(url, json=body, headers=wokingham.auth("chair", "chair-1"))
    assert r.status_code == 422, r.text
    assert r.json()["type"].endswith("/action-plan-required")
    assert [e["loc"] for e in r.json()["errors"]] == ["body.actions"]
    assert "attend_panel_review" not in codes(await case_steps(wokingham, case_id))
    r = await wokingham.client.post(url, json=body | {"actions": [ACTION]},
                                    headers=wokingham.auth("chair", "chair-1"))
    assert r.status_code == 200, r.text
    assert "attend_panel_review" in codes(await case_steps(wokingham, case_id))


async def test_S18_marp_decision_without_actions_still_stands(somerset: Tenant) -> None:
    """S18 (7.1.3): "Should there be actions as an outcome from the MARP meeting": Somerset's
    MARP may agree no action; a decision confirming the rating with its review date and no
    action is recorded (200)."""
    _, url = await _item(somerset, "marp")
    r = await somerset.client.post(url, json={
        "minutes": "Remains high.", "actions": [], "rosh_level": "high",
        "review_date": "2026-12-29", "occurred_at": "2026-11-30T11:00:00Z"},
        headers=somerset.auth("chair", "chair-1"))
    assert r.status_code == 200, r.text


async def test_S19_the_preview_refuses_a_decision_without_a_confirmed_rating(
    somerset: Tenant
) -> None:
    """S19 (catalogue, Panels: "a confirmed rating"): the preview refuses what the decision
    refuses, naming body.data.rosh_level and body.data.swb_level."""
    case_id = (await somerset.open_case())["data"]["id"]
    r = await somerset.client.post("/v1/workflow/preview", headers=somerset.auth("case_holder"),
                                   json={"case_id": case_id, "trigger": "panel_decision",
                                         "occurred_at": "2026-11-30T11:00:00Z",
                                         "data": {"panel_kind": "marp", "actions": [ACTION],
                                                  "review_date": "2026-12-29"}})
    assert r.status_code == 422, r.text
    assert _errors(r.json()) == {"body.data.rosh_level": RATING_MSG,
                                 "body.data.swb_level": RATING_MSG}
