"""Access control from the attacker's side: other caseloads, other services, wrong roles."""

from __future__ import annotations

import httpx

from tests.conftest import Tenant


async def test_case_holder_cannot_see_another_holders_case(
    client: httpx.AsyncClient, somerset: Tenant
) -> None:
    """Another case holder's case is 404 on read and write, and absent from the caseload."""
    case = (await somerset.open_case())["data"]
    intruder = somerset.auth("case_holder", "case_holder-2")
    r = await client.get(f"/v1/cases/{case['id']}", headers=intruder)
    assert r.status_code == 404
    r = await client.post(
        f"/v1/cases/{case['id']}/judgements", json={"domain": "rosh", "level": "low"},
        headers=intruder,
    )
    assert r.status_code == 404
    r = await client.patch(
        f"/v1/cases/{case['id']}", json={"csc_status": "cp"},
        headers={**intruder, "If-Match": '"1"'},
    )
    assert r.status_code == 404
    r = await client.get("/v1/cases", headers=intruder)
    assert r.json()["data"] == []
    owner = await client.get(f"/v1/cases/{case['id']}", headers=somerset.auth("case_holder"))
    assert owner.status_code == 200


async def test_another_services_case_is_404_for_every_role(
    client: httpx.AsyncClient, somerset: Tenant, wokingham: Tenant
) -> None:
    """Ids of another service's records are indistinguishable from unknown ids."""
    case = (await somerset.open_case())["data"]
    for role in ("case_holder", "line_manager", "duty_manager", "chair"):
        r = await client.get(f"/v1/cases/{case['id']}", headers=wokingham.auth(role))
        assert r.status_code == 404, (role, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
    r = await client.get(f"/v1/cases/{case['id']}/audit", params={"limit": 200},
                         headers=wokingham.auth("duty_manager"))
    assert r.status_code == 404


async def test_feed_and_admin_tokens_cannot_read_case_data(
    client: httpx.AsyncClient, somerset: Tenant
) -> None:
    """Machine and platform tokens never read cases."""
    case = (await somerset.open_case())["data"]
    from app.core.security import mint_dev_token

    admin = {"Authorization": "Bearer " + mint_dev_token(
        somerset.settings, sub="admin-1", roles=["admin"], service=None)}
    for headers in (somerset.auth("feed"), admin):
        r = await client.get(f"/v1/cases/{case['id']}", headers=headers)
        assert r.status_code == 403, r.text
        r = await client.get("/v1/cases", headers=headers)
        assert r.status_code == 403
        r = await client.get(f"/v1/cases/{case['id']}/judgements", headers=headers)
        assert r.status_code == 403


async def test_line_manager_sees_only_managed_cases(
    client: httpx.AsyncClient, somerset: Tenant
) -> None:
    """A line manager reads the cases they manage, not a colleague's."""
    mine = (await somerset.open_case())["data"]
    theirs = (await somerset.open_case(line_manager_id="line_manager-2"))["data"]
    r = await client.get("/v1/cases", headers=somerset.auth("line_manager"))
    ids = {c["id"] for c in r.json()["data"]}
    assert mine["id"] in ids
    assert theirs["id"] not in ids
    r = await client.get("/v1/cases", headers=somerset.auth("duty_manager"))
    assert {mine["id"], theirs["id"]} <= {c["id"] for c in r.json()["data"]}


async def test_audit_is_for_managers_and_chairs(
    client: httpx.AsyncClient, somerset: Tenant
) -> None:
    """Case holders cannot read the audit trail; managers see who did what."""
    case = (await somerset.open_case())["data"]
    r = await client.get(f"/v1/cases/{case['id']}/audit", params={"limit": 200},
                         headers=somerset.auth("case_holder"))
    assert r.status_code == 403
    r = await client.get(f"/v1/cases/{case['id']}/audit", params={"limit": 200},
                         headers=somerset.auth("chair"))
    assert r.status_code == 200
    entries = r.json()["data"]
    opened = [e for e in entries if e["action"] == "case.create"]
    assert len(opened) == 1
    assert opened[0]["actor"] == "line_manager-1"
    assert len(opened[0]["digest"]) == 64


async def test_token_for_unknown_service_is_403(
    client: httpx.AsyncClient, somerset: Tenant
) -> None:
    """A well-signed token naming a service that does not exist reads nothing."""
    from app.core.security import mint_dev_token

    token = mint_dev_token(somerset.settings, sub="x", roles=["chair"], service="no-such-svc")
    r = await client.get("/v1/cases", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 403


async def test_services_admin_and_own_staff_only(
    client: httpx.AsyncClient, somerset: Tenant, wokingham: Tenant
) -> None:
    """Admin creates services (409 on a taken slug, 422 on an unknown pack); staff read theirs."""
    from app.core.security import mint_dev_token

    admin = {"Authorization": "Bearer " + mint_dev_token(
        somerset.settings, sub="admin-1", roles=["admin"], service=None)}
    taken = await client.post("/v1/services", headers=admin, json={
        "slug": somerset.slug, "name": "Again", "policy_pack": "somerset-yjt-2023"})
    assert taken.status_code == 409
    unknown = await client.post("/v1/services", headers=admin, json={
        "slug": "x-unknown-pack", "name": "X", "policy_pack": "nowhere-2030"})
    assert unknown.status_code == 422
    own = await client.get(f"/v1/services/{somerset.slug}", headers=somerset.auth("chair"))
    assert own.status_code == 200
    assert own.json()["data"]["policy_pack"] == "somerset-yjt-2023"
    other = await client.get(f"/v1/services/{somerset.slug}", headers=wokingham.auth("chair"))
    assert other.status_code == 404
    assert (await client.get(f"/v1/services/{somerset.slug}", headers=admin)).status_code == 200
    feed = await client.get(f"/v1/services/{somerset.slug}", headers=somerset.auth("feed"))
    assert feed.status_code == 403
