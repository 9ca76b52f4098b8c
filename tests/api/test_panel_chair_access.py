"""The chair of a panel that is to decide a case keeps access to it (attack pass 12, A12-7).

Somerset 7.1.2 makes the MARP's chair responsible for the decision ("the Chair will set the
review date"); putting a case on a panel's agenda makes the panel's chair owe it, done only by
recording the decision. A case whose access list shuts that chair out cannot go on the panel's
agenda (422 ``restriction-shuts-out-chair``), and a case on an undecided agenda cannot be
restricted so as to shut its chair out: otherwise the duty reaches every chair and none can
discharge it, and the panel can no longer be cancelled.

Dates: the MARP sits on Tuesday 15 September 2026 at 10:00 London (BST).
"""

from __future__ import annotations

from typing import Any

import httpx

from tests.api.integrity_support import assert_problem, judge
from tests.conftest import Tenant

SITS = "2026-09-15T10:00:00+01:00"


async def patch_case(t: Tenant, case_id: str, body: dict[str, Any]) -> httpx.Response:
    """PATCH as the case's line manager (who keeps access), with the case's ETag."""
    url = f"/v1/cases/{case_id}"
    tag = (await t.client.get(url, headers=t.auth("line_manager"))).headers["etag"]
    return await t.client.patch(url, json=body,
                                headers={**t.auth("line_manager"), "If-Match": tag})


async def _marp(t: Tenant, chair: str = "chair-1") -> str:
    r = await t.client.post("/v1/panels", headers=t.auth("panel_admin", "pa-1"),
                            json={"kind": "marp", "scheduled_for": SITS, "chair_id": chair})
    assert r.status_code == 201, r.text
    return str(r.json()["data"]["id"])


async def test_S7_a_case_whose_access_list_shuts_out_the_panel_chair_is_not_put_on_its_agenda(
        somerset: Tenant) -> None:
    """S7 (Somerset 3.2.3: high cases are referred "to the next YJT MARP"). A high case
    restricted to its holder, line manager and the panel administrator: putting it on chair-1's
    MARP is 422 naming no value; with chair-1 on the list it goes on (201)."""
    case = (await somerset.open_case(opened_at="2026-08-03T09:00:00+01:00"))["data"]
    await judge(somerset, case["id"], "rosh", "high", "2026-08-28T10:00:00+01:00")
    staff = ["case_holder-1", "line_manager-1", "pa-1"]
    r = await patch_case(somerset, case["id"], {"access": {"allowed_staff": staff}})
    assert r.status_code == 200, r.text
    panel = await _marp(somerset)
    item = {"case_id": case["id"], "presenter_id": "case_holder-1"}
    r = await somerset.client.post(f"/v1/panels/{panel}/items", json=item,
                                   headers=somerset.auth("panel_admin", "pa-1"))
    problem = assert_problem(r, 422)
    assert problem["type"].endswith("/restriction-shuts-out-chair")
    assert "chair-1" not in r.text
    r = await patch_case(somerset, case["id"],
                         {"access": {"allowed_staff": [*staff, "chair-1"]}})
    assert r.status_code == 200, r.text
    r = await somerset.client.post(f"/v1/panels/{panel}/items", json=item,
                                   headers=somerset.auth("panel_admin", "pa-1"))
    assert r.status_code == 201, r.text


async def test_S7_a_case_on_an_undecided_agenda_is_not_restricted_away_from_its_chair(
        somerset: Tenant) -> None:
    """The twin: the case is on chair-1's MARP agenda; an access list leaving chair-1 out (or an
    exclusion naming them) is 422 and the case stays unrestricted; one that keeps them is
    accepted."""
    case = (await somerset.open_case(opened_at="2026-08-03T09:00:00+01:00"))["data"]
    await judge(somerset, case["id"], "rosh", "high", "2026-08-28T10:00:00+01:00")
    panel = await _marp(somerset)
    r = await somerset.client.post(f"/v1/panels/{panel}/items",
                                   json={"case_id": case["id"], "presenter_id": "case_holder-1"},
                                   headers=somerset.auth("panel_admin", "pa-1"))
    assert r.status_code == 201, r.text
    for access in ({"allowed_staff": ["case_holder-1", "line_manager-1"]},
                   {"excluded_staff": ["chair-1"]}):
        r = await patch_case(somerset, case["id"], {"access": access})
        assert assert_problem(r, 422)["type"].endswith("/restriction-shuts-out-chair")
    r = await patch_case(somerset, case["id"], {"access": {
        "allowed_staff": ["case_holder-1", "line_manager-1", "chair-1"]}})
    assert r.status_code == 200, r.text
