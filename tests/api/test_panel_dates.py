"""Panels dated before youth justice services existed are refused (attack A, L3).

Youth offending teams were set up by the Crime and Disorder Act 1998 (s.39) and worked from
1 April 2000: a MARP (Somerset 2023, 6: "Multi-Agency Risk Panel") scheduled in 1900 is a typing
slip, refused with 422 naming ``scheduled_for`` and the bound, like every other act dated
before what it belongs to (issue 8, part 5). A decision dated before its panel starts stays 409
(issue 10, item 11; tests/api/test_act_dates.py).
"""

from __future__ import annotations

import pytest

from tests.api.integrity_support import assert_problem
from tests.conftest import Tenant


@pytest.mark.parametrize("when", ["1900-01-01T10:00:00+00:00", "1999-12-31T10:00:00Z",
                                  "2000-03-31T23:59:59+01:00"])
async def test_panel_before_youth_justice_services_is_422(somerset: Tenant, when: str) -> None:
    """Scheduled before 1 April 2000 (London): 422 naming body.scheduled_for and the bound;
    no panel stored."""
    r = await somerset.client.post("/v1/panels", json={
        "kind": "marp", "scheduled_for": when, "chair_id": "chair-1"},
        headers=somerset.auth("chair"))
    problem = assert_problem(r, 422)
    assert problem["errors"][0]["loc"] == "body.scheduled_for"
    assert "2000" in problem["errors"][0]["msg"]
    listed = await somerset.client.get("/v1/panels", params={"upcoming": "false"},
                                       headers=somerset.auth("chair"))
    assert listed.status_code == 200, listed.text
    assert listed.json()["data"] == []


async def test_panel_on_the_first_day_passes_the_bound_and_the_first_working_day_is_booked(
        somerset: Tenant) -> None:
    """1 April 2000 at 00:00 London (BST) is the first moment the bound allows, but a Saturday:
    422 ``not-a-working-day`` naming Monday 3 April (a panel sits on a working day, attack 34b,
    ATTACK34B-6), not the bound; Monday 3 April 2000 at 10:00 London: 201."""
    r = await somerset.client.post("/v1/panels", json={
        "kind": "marp", "scheduled_for": "2000-04-01T00:00:00+01:00", "chair_id": "chair-1"},
        headers=somerset.auth("chair"))
    problem = assert_problem(r, 422)
    assert problem["type"].endswith("/not-a-working-day")
    assert problem["errors"] == [{"loc": "body.scheduled_for",
                                  "msg": "2000-04-01 is not a working day (a Saturday): the "
                                         "next working day is 2000-04-03"}]
    r = await somerset.client.post("/v1/panels", json={
        "kind": "marp", "scheduled_for": "2000-04-03T10:00:00+01:00", "chair_id": "chair-1"},
        headers=somerset.auth("chair"))
    assert r.status_code == 201, r.text
