"""Attack pass 26a, A26a-13: an admin token carrying a ``service`` claim was scoped to it for
webhooks (another service's: 404) but not for audit verification (any service's chain, or every
chain) nor for creating services. One rule now: such a token is that service's admin, every
admin route scoped to it, and it creates no services. From the attacker's side, with tokens
``{"roles": ["admin"], "service": A}`` and ``["case_holder", "admin"]``.
"""

from __future__ import annotations

import uuid

import httpx
import pytest

from app.core.security import mint_dev_token
from tests.conftest import Tenant


def _auth(t: Tenant, roles: list[str], service: str | None) -> dict[str, str]:
    token = mint_dev_token(t.settings, sub="mixed-1", roles=roles, service=service)
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize("roles", [["admin"], ["case_holder", "admin"]])
async def test_an_admin_token_bound_to_a_service_administers_that_service_only(
    client: httpx.AsyncClient, somerset: Tenant, wokingham: Tenant, roles: list[str],
) -> None:
    """Audit verification checks the bound service's chain only (what an unbound admin gets
    for ``?service=`` that service), another service's is 404 "No such service." as for its
    webhooks and its service record, and creating a service is 403."""
    bound = _auth(somerset, roles, somerset.slug)
    unbound = _auth(somerset, ["admin"], None)
    await somerset.open_case()  # an entry in somerset's chain
    own = await client.get("/v1/audit/verify", params={"service": somerset.slug},
                           headers=unbound)
    assert own.status_code == 200, own.text
    r = await client.get("/v1/audit/verify", headers=bound)
    assert r.status_code == 200, r.text
    assert r.json()["data"]["checked"] == own.json()["data"]["checked"]
    everything = await client.get("/v1/audit/verify", headers=unbound)
    assert everything.json()["data"]["checked"] > own.json()["data"]["checked"]
    for url, params in (("/v1/audit/verify", {"service": wokingham.slug}),
                        (f"/v1/services/{wokingham.slug}/webhooks", {}),
                        (f"/v1/services/{wokingham.slug}", {})):
        r = await client.get(url, params=params, headers=bound)
        assert r.status_code == 404, (url, r.text)
        assert r.json()["detail"] == "No such service.", url
    assert (await client.get(f"/v1/services/{somerset.slug}", headers=bound)).status_code == 200
    slug = f"t-{uuid.uuid4().hex[:10]}"
    r = await client.post("/v1/services", headers=bound, json={
        "slug": slug, "name": "Eastvale", "policy_pack": "somerset-yjt-2023"})
    assert r.status_code == 403, r.text
    r = await client.get(f"/v1/services/{slug}", headers=unbound)
    assert r.status_code == 404  # nothing was created
