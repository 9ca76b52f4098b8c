"""A panel not yet sat cannot be moved into the past (attack pass 11, A11-3).

The tester, on 28 August 2026 at 15:35 London, moved the MARP of 8 September to 09:00 that
morning (a mistyped date): 200, and from then on the panel counted as sat (409 panel-has-sat on
every move or cancellation), so the typo could never be undone and the case's next-panel steps
(Somerset S7 and S8, not waivable) were due, late, at a meeting that never happened. Booking a
panel in the past stays allowed: recording a sitting that took place is the back-fill the
policy rules allow (a CMS may back-fill events; the decision is then recorded at its time).
"""

from __future__ import annotations

import httpx
import pytest

from tests.api.fidelity_support import pin
from tests.api.integrity_support import assert_problem, steps_of
from tests.conftest import Tenant

MARP_DAY = "2026-09-08T10:00:00+01:00"


async def _book(t: Tenant, when: str) -> httpx.Response:
    return await t.client.post("/v1/panels", json={"kind": "marp", "scheduled_for": when,
                                                   "chair_id": "chair-kim"},
                               headers=t.auth("panel_admin"))


async def _move(t: Tenant, panel: str, when: str, role: str = "panel_admin") -> httpx.Response:
    return await t.client.post(f"/v1/panels/{panel}/reschedule", json={"scheduled_for": when},
                               headers=t.auth(role))


def _due(steps: list[dict[str, object]], code: str) -> object:
    return next(s["due_at"] for s in steps if s["code"] == code)


async def test_S7_a_MARP_not_yet_sat_cannot_be_moved_into_the_past(
    somerset: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """S7 (3.2.3): "The case holder will refer the case to the next YJT MARP by contacting the
    appropriate administrator and completion of section 1 of the MARP referral form." A ROSH
    high of 26 August 2026 makes refer_to_panel (case_holder, ref 3.2.3) and S8's views due at
    the MARP of Tue 8 September 10:00 (09:00Z). On Fri 28 August 15:35 London, moving that MARP
    to 09:00 that morning, or to this very minute, is 422 moved-into-past naming the bound
    (now), never the time sent; the MARP and the steps' dates are unchanged, and it can still
    be moved to a time to come (Tue 1 September 10:00, the steps follow; not Mon 31 August,
    the late summer bank holiday: a panel sits on a working day) and cancelled."""
    pin(monkeypatch, 2026, 8, 28, 14, 35)
    case = (await somerset.open_case())["data"]
    r = await somerset.client.post(f"/v1/cases/{case['id']}/judgements", json={
        "domain": "rosh", "level": "high", "occurred_at": "2026-08-26T10:00:00+01:00"},
        headers=somerset.auth("case_holder"))
    assert r.status_code == 201, r.text
    r = await _book(somerset, MARP_DAY)
    assert r.status_code == 201, r.text
    panel = r.json()["data"]["id"]
    steps = await steps_of(somerset, case["id"])
    refer = next(s for s in steps if s["code"] == "refer_to_panel")
    assert (refer["actor"], refer["policy"]["rule"], refer["policy"]["ref"]) == \
        ("case_holder", "S7", "3.2.3, 3.2.4")
    assert _due(steps, "refer_to_panel") == _due(steps, "seek_child_and_carer_views") \
        == "2026-09-08T09:00:00Z"
    for when, role in (("2026-08-28T09:00:00+01:00", "panel_admin"),
                       ("2026-08-28T15:35:00+01:00", "chair"),
                       ("2026-01-08T10:00:00+00:00", "panel_admin")):
        r = await _move(somerset, panel, when, role)
        body = assert_problem(r, 422)
        assert body["type"].endswith("/moved-into-past"), body
        assert body["bound"] == {"field": "scheduled_for", "name": "now",
                                 "value": "2026-08-28T14:35:00Z"}
        assert body["errors"][0]["loc"] == "body.scheduled_for"
        assert when not in r.text
        assert when[:16] not in r.text
    r = await somerset.client.get(f"/v1/panels/{panel}", headers=somerset.auth("panel_admin"))
    assert r.json()["data"]["scheduled_for"] == "2026-09-08T09:00:00Z"
    steps = await steps_of(somerset, case["id"])
    assert _due(steps, "refer_to_panel") == "2026-09-08T09:00:00Z"
    r = await _move(somerset, panel, "2026-09-01T10:00:00+01:00")
    assert r.status_code == 200, r.text
    steps = await steps_of(somerset, case["id"])
    assert _due(steps, "refer_to_panel") == _due(steps, "seek_child_and_carer_views") \
        == "2026-09-01T09:00:00Z"
    r = await somerset.client.delete(f"/v1/panels/{panel}", headers=somerset.auth("panel_admin"))
    assert r.status_code == 204, r.text


async def test_S7_a_MARP_that_sat_may_still_be_booked_after_the_event(
    somerset: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The twin, deliberately allowed: on 28 August 2026 the administrator records the MARP
    that sat on Tue 25 August 10:00 (a back-fill); a ROSH high of 24 August is then due at that
    MARP ("refer the case to the next YJT MARP", S7 3.2.3), late, as the README says of a
    back-dated judgement."""
    pin(monkeypatch, 2026, 8, 28, 14, 35)
    r = await _book(somerset, "2026-08-25T10:00:00+01:00")
    assert r.status_code == 201, r.text
    case = (await somerset.open_case())["data"]
    r = await somerset.client.post(f"/v1/cases/{case['id']}/judgements", json={
        "domain": "rosh", "level": "high", "occurred_at": "2026-08-24T10:00:00+01:00"},
        headers=somerset.auth("case_holder"))
    assert r.status_code == 201, r.text
    refer = next(s for s in await steps_of(somerset, case["id"])
                 if s["code"] == "refer_to_panel")
    assert refer["due_at"] == "2026-08-25T09:00:00Z"
    assert refer["overdue"] is True
