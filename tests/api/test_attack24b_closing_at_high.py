"""A child who stays High closes when the order ends (attack 24b, A24b-4).

Every panel decision at High books a review (Somerset 7.1.6, S20; Wokingham High Risk Panel,
W22) that is not waivable and is done only by the panel sitting again: it blocked every closure
(409 ``mandatory-steps-open``) for ever. A review booked for after the closure now lapses with
the closure, with its reason, and a reopening reinstates it; one already overdue when the closure
is recorded still blocks it (a closure launders no missed review). Somerset 6.2's views, owed
"before the initial panel", lapse when that panel sits.

2026 dates (GMT from Sunday 25 October): ROSH high Tuesday 20 October; panel Wednesday 28
October books its review for Wednesday 25 November; closure Monday 2 November 10:00.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.fidelity_support import pin, with_matrix
from tests.api.integrity_support import patch_case, steps_of
from tests.conftest import Tenant


async def _high_and_reviewed(t: Tenant, kind: str, **case: Any) -> str:
    case_id = str((await t.open_case(opened_at="2026-10-01T09:00:00+01:00", **case))
                  ["data"]["id"])
    r = await t.client.post(f"/v1/cases/{case_id}/judgements", json=with_matrix(t.pack, {
        "domain": "rosh", "level": "high", "occurred_at": "2026-10-20T10:00:00+01:00",
        "victims": ["peer"]}), headers=t.auth("case_holder"))
    assert r.status_code == 201, r.text
    r = await t.client.post("/v1/panels", json={
        "kind": kind, "scheduled_for": "2026-10-28T10:00:00Z", "chair_id": "chair-1"},
        headers=t.auth("panel_admin" if kind == "marp" else "chair", "panel_admin-1"
                       if kind == "marp" else "chair-1"))
    assert r.status_code == 201, r.text
    panel = r.json()["data"]
    r = await t.client.post(f"/v1/panels/{panel['id']}/items",
                            json={"case_id": case_id, "presenter_id": "case_holder-1"},
                            headers=t.auth("panel_admin" if kind == "marp" else "chair",
                                           "panel_admin-1" if kind == "marp" else "chair-1"))
    assert r.status_code == 201, r.text
    r = await t.client.post(
        f"/v1/panels/{panel['id']}/items/{r.json()['data']['id']}/decision",
        json={"rosh_level": "high", "review_date": "2026-11-25", "minutes": "Remains high",
              "actions": [{"description": "Review the plan", "owner_id": "case_holder-1",
                           "due_date": "2026-11-04"}],
              "occurred_at": "2026-10-28T11:00:00Z"},
        headers=t.auth("chair", "chair-1"))
    assert r.status_code == 200, r.text
    return case_id


async def _close(t: Tenant, case_id: str) -> Any:
    return await patch_case(t, case_id, {"closed_at": "2026-11-02T10:00:00Z",
                                         "closure_reason": "Order completed (sentence expired)"})


async def _closes_when_the_order_ends(t: Tenant, kind: str, rule: str) -> None:
    case_id = await _high_and_reviewed(t, kind, intervention="prevention")
    assert "seek_child_and_carer_views" not in {s["code"] for s in await steps_of(t, case_id)}
    r = await _close(t, case_id)
    assert r.status_code == 200, r.text
    [review] = [s for s in await steps_of(t, case_id, "superseded")
                if s["code"] == "attend_panel_review"]
    assert review["policy"]["rule"] == rule
    assert "Lapsed: booked for after the case's closure" in review["note"]
    r = await t.client.get(f"/v1/cases/{case_id}/timeline", headers=t.auth("line_manager"))
    assert r.status_code == 200, r.text
    assert any(e.get("entity_id") == review["id"] and e["action"] == "superseded"
               and "Lapsed" in (e.get("why") or "") for e in r.json()["data"]), r.json()
    r = await patch_case(t, case_id, {"closed_at": None, "reopen_reason": "New order"})
    assert r.status_code == 200, r.text
    assert "attend_panel_review" in {s["code"] for s in await steps_of(t, case_id)}


async def test_S20_S8_a_child_who_stays_high_closes_when_the_order_ends(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """S20 (7.1.6 "Unless the child's risk status has reduced to medium or low, the panel will
    agree and then book a provisional review date"; 7.2.3 "Where cases continue to be
    classified as High or Very high, the case will remain relevant to ongoing MARP oversight"):
    the review booked for 25 November does not keep the case open past the end of the order:
    closed on 2 November, the review lapses with the reason (audited, on the timeline); S8's
    views (6.2 "Child and parent/carer views will be sought before the initial panel") were
    closed when that panel sat; reopened, the review is owed again."""
    pin(monkeypatch, 2026, 11, 2, 10, 30)
    await _closes_when_the_order_ends(somerset, "marp", "S20")


async def test_W22_a_child_who_stays_high_closes_when_the_order_ends(
        wokingham: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """W22 (High Risk Panel: "At the end of the Panel, a specific action plan and risk
    classification should be agreed, including when should the child be discussed again at the
    panel"): the review booked for 25 November lapses with the closure of 2 November, with its
    reason; reopened, it is owed again."""
    pin(monkeypatch, 2026, 11, 2, 10, 30)
    await _closes_when_the_order_ends(wokingham, "high_risk_panel", "W22")


async def test_S20_a_review_missed_before_the_closure_still_blocks_it(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """S20 (7.1.6, 7.2.3): a closure launders no missed review. The review booked for 25
    November has not taken place when the case is closed dated 26 November (recorded on 27
    November): 409 ``mandatory-steps-open`` naming it."""
    pin(monkeypatch, 2026, 11, 2, 10, 30)
    case_id = await _high_and_reviewed(somerset, "marp", intervention="prevention")
    pin(monkeypatch, 2026, 11, 27, 10, 0)
    r = await patch_case(somerset, case_id, {"closed_at": "2026-11-26T10:00:00Z",
                                             "closure_reason": "Order completed"})
    assert r.status_code == 409, r.text
    assert [s["code"] for s in r.json()["steps"]] == ["attend_panel_review"]


async def test_S20_a_back_filled_closure_before_the_review_fell_due_ends_it(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """S20 (7.1.6 "Unless the child's risk status has reduced to medium or low, the panel will
    agree and then book a provisional review date"): the review booked for 25 November was not
    due when the order ended on 2 November. The closure dated 2 November, recorded on 27
    November (after the booked date), is judged at its own date, as every deadline is ("from
    the triggering event's occurred_at, never from the wall clock, so that a CMS can back-fill
    events"): 200, the review lapses with the closure (attack 32c, ATTACK32C-3: 409)."""
    pin(monkeypatch, 2026, 11, 2, 10, 30)
    case_id = await _high_and_reviewed(somerset, "marp", intervention="prevention")
    pin(monkeypatch, 2026, 11, 27, 10, 0)
    r = await _close(somerset, case_id)
    assert r.status_code == 200, r.text
    [review] = [s for s in await steps_of(somerset, case_id, "superseded")
                if s["code"] == "attend_panel_review"]
    assert "Lapsed: booked for after the case's closure" in review["note"]
