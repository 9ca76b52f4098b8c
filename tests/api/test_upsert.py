"""Idempotent upsert by external reference (issue 13, part 5): IYSS pushes cases in and must
never create two."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from tests.api.support import restrict, staff_auth
from tests.conftest import Tenant

BODY: dict[str, Any] = {
    "child": {"given_name": "Kai", "family_name": "Morgan", "date_of_birth": "2009-11-12"},
    "case_holder_id": "case_holder-1", "line_manager_id": "line_manager-1",
    "intervention": "court_order", "csc_status": "none",
    "opened_at": "2026-03-02T09:00:00Z",
}


def _url(ref: str) -> str:
    return f"/v1/cases/by-external-ref/iyss/{ref}"


async def _audit(client: httpx.AsyncClient, tenant: Tenant, case_id: str) -> list[dict]:
    r = await client.get(f"/v1/cases/{case_id}/audit", params={"limit": 200},
                         headers=tenant.auth("line_manager"))
    assert r.status_code == 200, r.text
    return r.json()["data"]  # type: ignore[no-any-return]


async def test_put_creates_then_the_same_body_writes_nothing(
    client: httpx.AsyncClient, somerset: Tenant
) -> None:
    """First PUT 201 with the opening's steps; the same body again 200: same version, same
    open steps, no new audit entry."""
    feed = somerset.auth("feed", "iyss-connector", scope="cms")
    first = await client.put(_url("Y-1001"), json=BODY, headers=feed)
    assert first.status_code == 201, first.text
    case = first.json()["data"]
    assert case["external_ref"] == {"system": "iyss", "id": "Y-1001"}
    assert first.headers["Location"] == f"/v1/cases/{case['id']}"
    audit_before = await _audit(client, somerset, case["id"])
    again = await client.put(_url("Y-1001"), json=BODY, headers=feed)
    assert again.status_code == 200, again.text
    assert again.json()["data"]["version"] == case["version"]
    assert again.headers["ETag"] == first.headers["ETag"]
    assert [s["id"] for s in again.json()["next_steps"]] == [s["id"] for s in case["open_steps"]]
    assert await _audit(client, somerset, case["id"]) == audit_before


async def test_put_with_a_change_updates_and_runs_the_policy_on_it(
    client: httpx.AsyncClient, somerset: Tenant
) -> None:
    """A changed field is applied (200), audited once as ``case.update`` naming that field,
    and the case's version moves on."""
    feed = somerset.auth("feed", "iyss-connector", scope="cms")
    created = (await client.put(_url("Y-1002"), json=BODY, headers=feed)).json()["data"]
    changed = {**BODY, "csc_status": "cp"}
    r = await client.put(_url("Y-1002"), json=changed, headers=feed)
    assert r.status_code == 200, r.text
    assert r.json()["data"]["csc_status"] == "cp"
    assert r.json()["data"]["version"] == created["version"] + 1
    audit = await _audit(client, somerset, created["id"])
    assert [(e["action"], e["fields"]) for e in audit][-1] == ("case.update", ["csc_status"])
    assert (await client.put(_url("Y-1002"), json=changed, headers=feed)).status_code == 200
    assert len(await _audit(client, somerset, created["id"])) == len(audit)


async def test_second_post_with_the_reference_is_409_naming_the_case(
    client: httpx.AsyncClient, somerset: Tenant
) -> None:
    """POST /v1/cases with a taken external reference stays 409 and names existing_case_id
    to a caller who may see that case; a case holder who may not see it gets the 409 without
    the id."""
    created = (await client.put(_url("Y-1003"), json=BODY,
                                headers=somerset.auth("line_manager"))).json()["data"]
    post = {**BODY, "external_ref": {"system": "iyss", "id": "Y-1003"}}
    r = await client.post("/v1/cases", json=post, headers=somerset.auth("line_manager"))
    assert r.status_code == 409
    assert r.json()["existing_case_id"] == created["id"]
    stranger = somerset.auth("case_holder", "case_holder-2")
    r = await client.post("/v1/cases", json={**post, "case_holder_id": "case_holder-2"},
                          headers=stranger)
    assert r.status_code == 409
    assert "existing_case_id" not in r.json()


async def test_concurrent_puts_of_a_new_reference_create_one_case(
    client: httpx.AsyncClient, somerset: Tenant
) -> None:
    """Two deliveries of the same new case at once: one 201, one 200, one case."""
    feed = somerset.auth("feed", "iyss-connector", scope="cms")
    answers = await asyncio.gather(*(client.put(_url("Y-1004"), json=BODY, headers=feed)
                                     for _ in range(2)))
    assert sorted(a.status_code for a in answers) == [200, 201]
    assert len({a.json()["data"]["id"] for a in answers}) == 1
    listed = await client.get("/v1/cases", params={"external_system": "iyss",
                                                   "external_id": "Y-1004"},
                              headers=somerset.auth("duty_manager"))
    assert len(listed.json()["data"]) == 1


async def test_put_on_a_case_the_caller_may_not_see_is_the_posts_409(
    client: httpx.AsyncClient, somerset: Tenant
) -> None:
    """Another case holder cannot change the case through its reference, nor learn its id:
    409 duplicate-external-ref as POST answers the same reference (A9-17), without
    ``existing_case_id``, the case's id or the reference in the answer."""
    created = (await client.put(_url("Y-1005"), json=BODY,
                                headers=somerset.auth("line_manager"))).json()["data"]
    r = await client.put(_url("Y-1005"), json={**BODY, "case_holder_id": "case_holder-2"},
                         headers=somerset.auth("case_holder", "case_holder-2"))
    assert r.status_code == 409
    assert r.json()["type"].endswith("/duplicate-external-ref")
    assert "existing_case_id" not in r.json()
    assert created["id"] not in r.text
    assert "Y-1005" not in r.json()["detail"]  # (``instance`` is the error handler's: hard5)


async def test_put_refuses_a_changed_opening_date_and_edge_spaces(
    client: httpx.AsyncClient, somerset: Tenant
) -> None:
    """opened_at cannot be moved by an upsert (422); a reference with edge spaces is 422."""
    feed = somerset.auth("feed", "iyss-connector", scope="cms")
    await client.put(_url("Y-1006"), json=BODY, headers=feed)
    r = await client.put(_url("Y-1006"), json={**BODY, "opened_at": "2026-03-03T09:00:00Z"},
                         headers=feed)
    assert r.status_code == 422
    assert r.json()["errors"][0]["loc"] == "body.opened_at"
    r = await client.put(_url("%20Y-1006"), json=BODY, headers=feed)
    assert r.status_code == 422


async def test_taken_reference_of_a_restricted_case_names_no_case_to_excluded_staff(
    client: httpx.AsyncClient, somerset: Tenant
) -> None:
    """Attack A M5: a manager excluded from a restricted case who opens a case with its
    IYSS reference gets 409 duplicate-external-ref with no ``existing_case_id`` and the case's
    id nowhere in the answer (the reference is unique, so the 409 itself cannot be avoided),
    nor the reference; PUT on that reference answers the same 409 (A9-17: the two routes
    agree). The case's own line manager still gets the id."""
    created = (await client.put(_url("Y-1007"), json=BODY,
                                headers=somerset.auth("line_manager"))).json()["data"]
    r = await restrict(client, somerset, created["id"], {"excluded_staff": ["lm-pat"]})
    assert r.status_code == 200, r.text
    post = {**BODY, "external_ref": {"system": "iyss", "id": "Y-1007"},
            "line_manager_id": "lm-pat"}
    excluded = staff_auth(somerset, "lm-pat")
    r = await client.post("/v1/cases", json=post, headers=excluded)
    assert r.status_code == 409
    assert r.json()["type"].endswith("/duplicate-external-ref")
    assert "existing_case_id" not in r.json()
    assert created["id"] not in r.text
    assert "Y-1007" not in r.text  # the request's reference is not echoed (A9-17)
    # (PUT's ``instance`` is its path, the error handler's business, not this 409's.)
    put = await client.put(_url("Y-1007"), json={**BODY, "line_manager_id": "lm-pat"},
                           headers=excluded)
    assert put.status_code == 409
    assert put.json() == {**r.json(), "instance": put.json()["instance"]}
    assert created["id"] not in put.text
    r = await client.post("/v1/cases", json={**post, "line_manager_id": "line_manager-1"},
                          headers=somerset.auth("line_manager"))
    assert r.status_code == 409
    assert r.json()["existing_case_id"] == created["id"]


async def test_create_only_put_with_if_none_match_never_overwrites(
    client: httpx.AsyncClient, somerset: Tenant
) -> None:
    """RFC 9110 §13.1.2: ``If-None-Match: *`` on a PUT holds only when no case has the
    reference: the first create-only PUT creates (201); a second, with another body, is 412 and
    changes nothing (the case keeps its fields, version and audit); an entity tag matching the
    case's (weakly: ``W/"1"`` matches ``"1"``) is 412 too, one that does not match updates.
    Two racing create-only PUTs: exactly one creates, the other is 412 (attack pass 20,
    A20-19)."""
    feed = somerset.auth("feed", "iyss-connector", scope="cms")
    only = {**feed, "If-None-Match": "*"}
    first = await client.put(_url("Y-1090"), json=BODY, headers=only)
    assert first.status_code == 201, first.text
    case = first.json()["data"]
    audit = await _audit(client, somerset, case["id"])
    other = {**BODY, "csc_status": "cp"}
    again = await client.put(_url("Y-1090"), json=other, headers=only)
    assert again.status_code == 412, again.text
    assert again.headers["content-type"].startswith("application/problem+json")
    tag = first.headers["ETag"]
    weak = await client.put(_url("Y-1090"), json=other,
                            headers={**feed, "If-None-Match": f"W/{tag}"})
    assert weak.status_code == 412, weak.text
    read = await client.get(f"/v1/cases/{case['id']}", headers=somerset.auth("line_manager"))
    assert read.json()["data"]["csc_status"] == "none"
    assert read.json()["data"]["version"] == case["version"]
    assert await _audit(client, somerset, case["id"]) == audit
    stale = await client.put(_url("Y-1090"), json=other,
                             headers={**feed, "If-None-Match": '"999"'})
    assert stale.status_code == 200, stale.text
    assert stale.json()["data"]["csc_status"] == "cp"
    racing = await asyncio.gather(*(client.put(_url("Y-1091"), json=BODY, headers=only)
                                    for _ in range(3)))
    assert sorted(a.status_code for a in racing) == [201, 412, 412]
