"""A panel is booked (or moved) at most a year ahead (attack pass 10, A10-14).

A MARP booked for 2099 was accepted, and being the first booked it became "the next YJT MARP"
(Somerset 3.2.3) of every waiting step: a weekly Risk Panel's meeting-day date (Example Borough
5.1) gave way to it and the step left the overdue list for 73 years. Neither seed plans a sitting
so far ahead (Somerset 7.1.6 "a provisional review date"; Wokingham "within one week of their
request", monthly for MAPPA level 1): booking or moving a panel more than a year after now (the
same London wall time a year on: 365 days here; attack pass 12, A12-8, it was 366) is
422 ``scheduled-too-far-ahead`` naming the bound, never the value sent; the steps stay as they
were. ``chair_id`` stays a staff id as the contract has it (``POST /v1/panels`` ``{kind,
scheduled_for, chair_id}``): the service keeps no staff directory (ids are the identity
provider's subjects), so it cannot tell whether the id holds the chair role; any chair of the
service records the decision, which does the chair's step (S29) whoever it names.

The clock is pinned to Monday 2 November 2026 10:00Z (10:00 GMT): the last time a panel may be
booked is Tuesday 2 November 2027 10:00Z.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.api.fidelity_support import pin
from tests.api.integrity_support import assert_problem, steps_of
from tests.conftest import Tenant, make_tenant

BOUND = {"field": "scheduled_for", "name": "a year from now", "value": "2027-11-02T10:00:00Z"}


def refused(r: httpx.Response) -> None:
    problem = assert_problem(r, 422)
    assert problem["type"].endswith("/scheduled-too-far-ahead")
    assert problem["bound"] == BOUND
    assert [e["loc"] for e in problem["errors"]] == ["body.scheduled_for"]
    assert "2099" not in r.text


async def book(t: Tenant, kind: str, when: str) -> httpx.Response:
    return await t.client.post("/v1/panels", json={"kind": kind, "scheduled_for": when,
                                                   "chair_id": "chair-1"},
                               headers=t.auth("panel_admin"))


async def test_S7_marp_booked_or_moved_beyond_a_year_is_refused(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """S7 (3.2.3) "refer the case to the next YJT MARP": a MARP in 2099 is 422 (booked or moved
    to), and the referral waits for a MARP as before; one a year ahead to the minute is
    booked, and moving it a minute later is refused with it unchanged."""
    pin(monkeypatch, 2026, 11, 2, 10, 0)
    case_id = str((await somerset.open_case())["data"]["id"])
    r = await somerset.client.post(f"/v1/cases/{case_id}/judgements",
                                   json={"domain": "rosh", "level": "high",
                                         "occurred_at": "2026-11-02T09:30:00Z"},
                                   headers=somerset.auth("case_holder"))
    assert r.status_code == 201, r.text
    refused(await book(somerset, "marp", "2099-01-01T10:00:00Z"))
    refused(await book(somerset, "marp", "2027-11-02T10:00:01Z"))
    [refer] = [s for s in await steps_of(somerset, case_id) if s["code"] == "refer_to_panel"]
    assert (refer["due_at"], refer["awaiting_panel_date"]) == (None, True)
    r = await book(somerset, "marp", "2027-11-02T10:00:00Z")
    assert r.status_code == 201, r.text
    panel = r.json()["data"]["id"]
    r = await somerset.client.post(f"/v1/panels/{panel}/reschedule",
                                   json={"scheduled_for": "2099-01-01T10:00:00Z"},
                                   headers=somerset.auth("panel_admin"))
    refused(r)
    r = await somerset.client.get(f"/v1/panels/{panel}", headers=somerset.auth("chair"))
    assert r.json()["data"]["scheduled_for"] == "2027-11-02T10:00:00Z"


async def test_X8_weekly_panel_in_2099_does_not_replace_the_meeting_day(
        client: httpx.AsyncClient, settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """X8 (5.1) "The Risk Panel meets weekly on Thursday ... A child is referred to the next Risk
    Panel": ROSH high on Monday 2 November, no panel booked: due by the end of Thursday
    5 November. A Risk Panel booked for 2099 is refused; the step keeps its meeting day."""
    example = await make_tenant(client, settings, "example-yjs")
    pin(monkeypatch, 2026, 11, 2, 10, 0)
    case_id = str((await example.open_case())["data"]["id"])
    r = await example.client.post(f"/v1/cases/{case_id}/judgements",
                                  json={"domain": "rosh", "level": "high",
                                        "occurred_at": "2026-11-02T09:30:00Z"},
                                  headers=example.auth("case_holder"))
    assert r.status_code == 201, r.text
    refused(await book(example, "risk_panel", "2099-01-01T10:00:00Z"))
    [refer] = [s for s in await steps_of(example, case_id) if s["code"] == "refer_to_risk_panel"]
    assert (refer["due_at"], refer["awaiting_panel_date"], refer["policy"]["rule"]) == (
        "2026-11-05T23:59:59Z", True, "X8")


async def test_S20_a_review_date_more_than_a_year_after_the_panel_is_refused(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """S20 (Somerset 7.1.6: the panel "will agree and then book a provisional review date"). The
    MARP of Monday 2 November 2026 keeps a high case; a review date of 2 January 2099 is 422
    naming the bound (Tuesday 2 November 2027, a year after the panel's date; attack pass 12,
    A12-11), and one on that day is accepted."""
    pin(monkeypatch, 2026, 11, 2, 12, 0)
    case_id = str((await somerset.open_case())["data"]["id"])
    r = await somerset.client.post(f"/v1/cases/{case_id}/judgements",
                                   json={"domain": "rosh", "level": "high",
                                         "occurred_at": "2026-11-02T09:30:00Z"},
                                   headers=somerset.auth("case_holder"))
    assert r.status_code == 201, r.text
    r = await book(somerset, "marp", "2026-11-02T10:00:00Z")
    assert r.status_code == 201, r.text
    panel = r.json()["data"]["id"]
    r = await somerset.client.post(f"/v1/panels/{panel}/items", headers=somerset.auth(
        "panel_admin"), json={"case_id": case_id, "presenter_id": "case_holder-1"})
    assert r.status_code == 201, r.text
    url = f"/v1/panels/{panel}/items/{r.json()['data']['id']}/decision"
    decision = {"rosh_level": "high", "minutes": "Remains high.", "actions": []}
    r = await somerset.client.post(url, json={**decision, "review_date": "2099-01-02"},
                                   headers=somerset.auth("chair"))
    problem = assert_problem(r, 422)
    assert [e["loc"] for e in problem["errors"]] == ["body.review_date"]
    assert "2027-11-02" in problem["errors"][0]["msg"]
    assert "2099" not in r.text
    r = await somerset.client.post(url, json={**decision, "review_date": "2027-11-02"},
                                   headers=somerset.auth("chair"))
    assert r.status_code == 200, r.text
