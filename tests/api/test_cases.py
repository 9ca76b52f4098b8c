"""Cases: create, read, list, PATCH with ETags, and bad input answered as problems."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.api.integrity_support import assert_problem
from tests.conftest import Tenant

PROBLEM = "application/problem+json"


async def test_open_and_read_case(client: httpx.AsyncClient, somerset: Tenant) -> None:
    """A new case has unknown (null) ratings, an ETag and its opening steps."""
    created = await somerset.open_case(external_ref={"system": "IYSS", "id": "Y-1"})
    case = created["data"]
    assert case["ratings"] == {"rosh": None, "swb": None, "lor": None}
    assert case["on_register"] is False
    assert case["statutory"] is True
    assert case["external_ref"] == {"system": "IYSS", "id": "Y-1"}
    r = await client.get(f"/v1/cases/{case['id']}", headers=somerset.auth("case_holder"))
    assert r.status_code == 200
    assert r.headers["etag"] == '"1"'
    assert r.json()["data"]["id"] == case["id"]


async def test_duplicate_external_ref_is_409(client: httpx.AsyncClient, somerset: Tenant) -> None:
    """external_ref is unique per service and system."""
    await somerset.open_case(external_ref={"system": "IYSS", "id": "DUP"})
    r = await client.post(
        "/v1/cases",
        json={"external_ref": {"system": "IYSS", "id": "DUP"},
              "child": {"given_name": "A", "family_name": "B", "date_of_birth": "2010-01-01"},
              "case_holder_id": "case_holder-1", "line_manager_id": "line_manager-1",
              "intervention": "bail", "csc_status": "none"},
        headers=somerset.auth("line_manager"),
    )
    assert_problem(r, 409)
    await somerset.open_case(external_ref={"system": "OTHER", "id": "DUP"})


async def test_list_filters_and_cursor(client: httpx.AsyncClient, somerset: Tenant) -> None:
    """Cursor pagination walks the whole caseload once; filters narrow it."""
    ids = [(await somerset.open_case(external_ref={"system": "IYSS", "id": f"P{i}"}))["data"]["id"]
           for i in range(5)]
    seen, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        r = await client.get("/v1/cases", params=params, headers=somerset.auth("duty_manager"))
        assert r.status_code == 200
        seen += [c["id"] for c in r.json()["data"]]
        cursor = r.json()["next_cursor"]
        if not cursor:
            break
    assert seen == ids
    r = await client.get("/v1/cases", params={"external_system": "IYSS", "external_id": "P3"},
                         headers=somerset.auth("duty_manager"))
    assert [c["id"] for c in r.json()["data"]] == [ids[3]]
    r = await client.get("/v1/cases", params={"cursor": "!!not-a-cursor"},
                         headers=somerset.auth("duty_manager"))
    assert_problem(r, 422)


async def test_patch_requires_if_match(client: httpx.AsyncClient, somerset: Tenant) -> None:
    """428 without If-Match, 412 when stale, 200 with the current ETag (which then moves)."""
    case = (await somerset.open_case())["data"]
    url, auth = f"/v1/cases/{case['id']}", somerset.auth("case_holder")
    assert_problem(await client.patch(url, json={"csc_status": "cin"}, headers=auth), 428)
    stale = await client.patch(url, json={"csc_status": "cin"}, headers={**auth, "If-Match": '"7"'})
    assert_problem(stale, 412)
    ok = await client.patch(url, json={"csc_status": "cin"}, headers={**auth, "If-Match": '"1"'})
    assert ok.status_code == 200, ok.text
    assert ok.headers["etag"] == '"2"'
    assert ok.json()["data"]["csc_status"] == "cin"
    again = await client.patch(url, json={"csc_status": "cp"}, headers={**auth, "If-Match": '"1"'})
    assert_problem(again, 412)


async def test_racing_patches_exactly_one_wins(
    client: httpx.AsyncClient, somerset: Tenant
) -> None:
    """Two PATCHes with the same ETag at once: one 200, one 412, and the winner's value stays."""
    case = (await somerset.open_case())["data"]
    url = f"/v1/cases/{case['id']}"
    headers = {**somerset.auth("line_manager"), "If-Match": '"1"'}
    results = await asyncio.gather(
        client.patch(url, json={"csc_status": "cin"}, headers=headers),
        client.patch(url, json={"csc_status": "cp"}, headers=headers),
    )
    statuses = sorted(r.status_code for r in results)
    assert statuses == [200, 412], [r.text for r in results]
    winner = next(r for r in results if r.status_code == 200).json()["data"]["csc_status"]
    final = await client.get(url, headers=somerset.auth("line_manager"))
    assert final.json()["data"]["csc_status"] == winner
    assert final.headers["etag"] == '"2"'


async def test_case_holder_cannot_reassign(client: httpx.AsyncClient, somerset: Tenant) -> None:
    """Reassigning holders is a manager's act."""
    case = (await somerset.open_case())["data"]
    r = await client.patch(
        f"/v1/cases/{case['id']}", json={"case_holder_id": "case_holder-9"},
        headers={**somerset.auth("case_holder"), "If-Match": '"1"'},
    )
    assert_problem(r, 403)


BAD_BODIES = [
    ("malformed JSON", b'{"child": {', 400),
    ("unknown enum", {"intervention": "community_sentence"}, 422),
    ("100 kB name", {"child": {"given_name": "A" * 100_000, "family_name": "B",
                               "date_of_birth": "2010-01-01"}}, 422),
    ("1 MB body", {"child": {"given_name": "A" * 1_000_000, "family_name": "B",
                             "date_of_birth": "2010-01-01"}}, 413),
    ("long name", {"child": {"given_name": "A" * 101, "family_name": "B",
                             "date_of_birth": "2010-01-01"}}, 422),
    ("future opened_at", {"opened_at": (datetime.now(UTC) + timedelta(days=2)).isoformat()}, 422),
    ("naive opened_at", {"opened_at": "2026-01-01T10:00:00"}, 422),
    ("future birth", {"child": {"given_name": "A", "family_name": "B",
                                "date_of_birth": "2999-01-01"}}, 422),
    ("unknown field", {"colour": "blue"}, 422),
    ("birth in year 1", {"child": {"given_name": "A", "family_name": "B",
                                   "date_of_birth": "0001-01-01"}}, 422),
    ("release in 9999", {"expected_release_date": "9999-12-31"}, 422),
    ("wrong type", {"weapon_related": "very"}, 422),
    ("mappa out of range", {"mappa_category": 4}, 422),
]


@pytest.mark.parametrize(("label", "change", "status"), BAD_BODIES, ids=[b[0] for b in BAD_BODIES])
async def test_bad_case_input_is_a_problem(
    client: httpx.AsyncClient, somerset: Tenant, label: str, change: object, status: int
) -> None:
    """Bad input answers 4xx problem+json, never a 500, and stores nothing."""
    body = {
        "child": {"given_name": "A", "family_name": "B", "date_of_birth": "2010-01-01"},
        "case_holder_id": "case_holder-1", "line_manager_id": "line_manager-1",
        "intervention": "bail", "csc_status": "none",
    }
    headers = somerset.auth("line_manager")
    if isinstance(change, bytes):
        r = await client.post("/v1/cases", content=change,
                              headers={**headers, "content-type": "application/json"})
    else:
        body.update(change)  # type: ignore[arg-type]
        r = await client.post("/v1/cases", json=body, headers=headers)
    problem = assert_problem(r, status)
    if status == 422 and label in {"unknown enum", "long name", "unknown field", "wrong type"}:
        assert problem["errors"]
        assert {"loc", "msg"} <= problem["errors"][0].keys()
    listed = await client.get("/v1/cases", headers=somerset.auth("duty_manager"))
    assert listed.json()["data"] == []


async def test_bad_path_and_methods_are_problems(
    client: httpx.AsyncClient, somerset: Tenant
) -> None:
    """A bad UUID, an unknown route, a wrong method and a wrong content type."""
    auth = somerset.auth("case_holder")
    assert_problem(await client.get("/v1/cases/not-a-uuid", headers=auth), 422)
    assert_problem(await client.get("/v1/nothing-here", headers=auth), 404)
    assert_problem(await client.delete("/v1/cases", headers=auth), 405)
    r = await client.post("/v1/cases", content=b"child=1",
                          headers={**auth, "content-type": "application/x-www-form-urlencoded"})
    assert_problem(r, 415)
    missing = "00000000-0000-4000-8000-000000000000"
    assert_problem(await client.get(f"/v1/cases/{missing}", headers=auth), 404)


async def test_operations_endpoints(client: httpx.AsyncClient) -> None:
    """Liveness, readiness, metrics; every answer carries the service's own request id, a
    new one each time, whatever id the client sent (attack pass 16, A16-9)."""
    rid = "0f4c2a1e-1111-4222-8333-444455556666"
    r = await client.get("/healthz", headers={"X-Request-ID": rid})
    again = await client.get("/healthz", headers={"X-Request-ID": rid})
    assert r.status_code == 200
    ids = {r.headers["x-request-id"], again.headers["x-request-id"]}
    assert len(ids) == 2
    assert rid not in ids
    assert uuid.UUID(rid).hex not in ids
    assert (await client.get("/readyz")).json() == {"status": "ready"}
    metrics = await client.get("/metrics")
    assert metrics.status_code == 200
    assert "http_request" in metrics.text


async def test_closing_a_case_supersedes_its_open_steps(
    client: httpx.AsyncClient, somerset: Tenant
) -> None:
    """A closed case leaves no open step to escalate; closing before opening is refused. Closed
    on Tuesday 10 March 2026, before its AssetPlus is due (S1: 20 working days from Monday 2
    March), the step is superseded by the closure (one already late at a closure is missed
    instead: tests/api/test_attack34b_missed_steps.py)."""
    case = (await somerset.open_case())["data"]
    assert case["open_steps"]
    url, auth = f"/v1/cases/{case['id']}", somerset.auth("line_manager")
    early = await client.patch(url, json={"closed_at": "2026-03-01T09:00:00Z",
                                     "closure_reason": "x"},
                               headers={**auth, "If-Match": '"1"'})
    body = assert_problem(early, 422)
    assert body["errors"][0]["loc"] == "body.closed_at"
    r = await client.patch(url, json={"closed_at": "2026-03-10T16:00:00Z",
                                 "closure_reason": "Order ended"},
                           headers={**auth, "If-Match": '"1"'})
    assert r.status_code == 200, r.text
    assert r.json()["next_steps"] == []
    assert r.json()["data"]["closed_at"] == "2026-03-10T16:00:00Z"
    gone = await client.get("/v1/next-steps", params={"case_id": case["id"],
                                                      "status": "superseded"}, headers=auth)
    assert {s["code"] for s in gone.json()["data"]} >= {"complete_assessment"}
    assert all("the case was closed" in s["note"] for s in gone.json()["data"])


async def test_if_match_star_is_not_an_etag(client: httpx.AsyncClient, somerset: Tenant) -> None:
    """'*' would skip the lost-update check: 428, send the ETag."""
    case = (await somerset.open_case())["data"]
    r = await client.patch(f"/v1/cases/{case['id']}", json={"csc_status": "cin"},
                           headers={**somerset.auth("line_manager"), "If-Match": "*"})
    assert_problem(r, 428)


async def test_future_opened_at_names_the_field(
    client: httpx.AsyncClient, somerset: Tenant
) -> None:
    """The problem points at opened_at, the field sent."""
    r = await client.post("/v1/cases", headers=somerset.auth("line_manager"), json={
        "child": {"given_name": "A", "family_name": "B", "date_of_birth": "2010-01-01"},
        "case_holder_id": "case_holder-1", "line_manager_id": "line_manager-1",
        "intervention": "bail", "csc_status": "none", "opened_at": "2099-01-01T00:00:00Z"})
    assert assert_problem(r, 422)["errors"][0]["loc"] == "body.opened_at"


async def test_judgement_before_birth_is_refused(
    client: httpx.AsyncClient, somerset: Tenant
) -> None:
    """A judgement dated before the child was born cannot be right."""
    case = (await somerset.open_case())["data"]
    r = await client.post(f"/v1/cases/{case['id']}/judgements",
                          json={"domain": "lor", "level": "low",
                                "occurred_at": "1999-01-01T00:00:00Z"},
                          headers=somerset.auth("case_holder"))
    assert assert_problem(r, 422)["errors"][0]["loc"] == "body.occurred_at"
