"""A case's line manager is someone other than its holder, and its expected release date is not
before it opened (attack pass 4, findings 1 and 13).

Somerset 2023, 3.1: a case holder who judges ROSH or SWB high "must discuss this with their line
manager"; 4.5: "It is the responsibility of line managers to review all cases where there is a
High or Very High ROSH and/or Safety and Well-Being rating with case holders at least monthly".
A case holder named as their own line manager completed those checks themselves (200).
"""

from __future__ import annotations

import pytest

from tests.api.integrity_support import assert_problem, patch_case
from tests.conftest import Tenant

BODY = {"child": {"given_name": "Sam", "family_name": "Taylor", "date_of_birth": "2010-05-01"},
        "intervention": "court_order", "csc_status": "none",
        "opened_at": "2026-03-02T09:00:00Z"}


@pytest.mark.parametrize(("role", "sub"), [("case_holder", "cw-alex"),
                                           ("line_manager", "cw-alex"),
                                           ("feed", "cms")])
async def test_a_case_holder_is_not_their_own_line_manager_at_opening(
        somerset: Tenant, role: str, sub: str) -> None:
    """POST and PUT naming one person as holder and line manager: 422 manager-is-case-holder
    on body.line_manager_id; no case is made."""
    body = {**BODY, "case_holder_id": "cw-alex", "line_manager_id": "cw-alex"}
    if role != "feed":
        r = await somerset.client.post("/v1/cases", json=body, headers=somerset.auth(role, sub))
        problem = assert_problem(r, 422)
        assert problem["type"].endswith("/manager-is-case-holder")
        assert [e["loc"] for e in problem["errors"]] == ["body.line_manager_id"]
    r = await somerset.client.put("/v1/cases/by-external-ref/IYSS/SOD-1", json=body,
                                  headers=somerset.auth(role, sub,
                                                        scope="cms" if role == "feed" else None))
    assert_problem(r, 422)
    listed = await somerset.client.get("/v1/cases", headers=somerset.auth("chair"))
    assert listed.json()["data"] == []


@pytest.mark.parametrize("change", [{"line_manager_id": "case_holder-1"},
                                    {"case_holder_id": "line_manager-1"},
                                    {"case_holder_id": "x-1", "line_manager_id": "x-1"}])
async def test_reassignment_cannot_make_the_holder_their_own_manager(
        somerset: Tenant, change: dict[str, str]) -> None:
    """PATCH by the line manager: 422 manager-is-case-holder; the case keeps its people."""
    case = (await somerset.open_case())["data"]
    r = await patch_case(somerset, case["id"], change)
    assert assert_problem(r, 422)["type"].endswith("/manager-is-case-holder")
    got = await somerset.client.get(f"/v1/cases/{case['id']}", headers=somerset.auth("chair"))
    assert got.json()["data"]["case_holder_id"] == "case_holder-1"
    assert got.json()["data"]["line_manager_id"] == "line_manager-1"


async def test_expected_release_date_before_the_case_opened_is_422(somerset: Tenant) -> None:
    """Opened Monday 2 March 2026: a release date of 1 January 2001 is 422
    occurred-before-bound on body.expected_release_date, by POST, PATCH and the MAPPA feed;
    2 March 2026 itself is accepted."""
    body = {**BODY, "case_holder_id": "case_holder-1", "line_manager_id": "line_manager-1",
            "expected_release_date": "2001-01-01",
            "external_ref": {"system": "IYSS", "id": "REL-1"}}
    r = await somerset.client.post("/v1/cases", json=body,
                                   headers=somerset.auth("line_manager", "line_manager-1"))
    problem = assert_problem(r, 422)
    assert problem["type"].endswith("/occurred-before-bound")
    assert problem["bound"]["value"] == "2026-03-02"
    case = (await somerset.open_case(external_ref={"system": "IYSS", "id": "REL-2"},
                                     mappa_category=2))["data"]
    r = await patch_case(somerset, case["id"], {"expected_release_date": "2001-01-01"})
    assert assert_problem(r, 422)["errors"][0]["loc"] == "body.expected_release_date"
    r = await somerset.client.post(
        "/v1/feeds/mappa/referrals",
        json={"case_external_ref": {"system": "IYSS", "id": "REL-2"}, "kind": "mappa_h",
              "received_at": "2026-06-05T10:15:00+01:00",
              "details": {"expected_release_date": "2001-01-01"}},
        headers={**somerset.auth("feed", "mappa-feed", scope="feed:mappa"),
                 "Idempotency-Key": "rel-0001"})
    assert_problem(r, 422)
    r = await patch_case(somerset, case["id"], {"expected_release_date": "2026-03-02"})
    assert r.status_code == 200, r.text
