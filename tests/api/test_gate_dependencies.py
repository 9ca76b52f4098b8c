"""Issue 15 (goal 1): a gated route checks its gate once. :class:`app.routers.gates.GatedRoute`
verifies the token and admits the role before the body is read; the handler then runs the
route's dependencies without the gate (it would only repeat that check) and takes the verified
principal from the request, while the published contract still declares the gate's bearer
scheme."""

from __future__ import annotations

from typing import Any

import pytest

from app.routers import gates
from tests.conftest import Tenant


async def test_a_judgement_write_is_admitted_once(
        wokingham: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """``POST /v1/cases/{id}/judgements`` by the case holder: one admission of
    ``judgement.record`` (the gate's check before the body), the write recorded by the case
    holder; a chair (not among the roles ROLE_TABLE gives it) is still refused 403."""
    case = (await wokingham.open_case())["data"]["id"]
    admitted: list[tuple[str, str]] = []
    admit = gates.admit

    def counted(principal: Any, act: str, path: Any) -> None:
        admitted.append((principal.sub, act))
        admit(principal, act, path)

    monkeypatch.setattr(gates, "admit", counted)
    r = await wokingham.client.post(f"/v1/cases/{case}/judgements",
                                    headers=wokingham.auth("case_holder"),
                                    json={"domain": "swb", "level": "medium"})
    assert r.status_code == 201, r.text
    assert r.json()["data"]["recorded_by"] == "case_holder-1"
    assert admitted == [("case_holder-1", "judgement.record")]
    r = await wokingham.client.post(f"/v1/cases/{case}/judgements",
                                    headers=wokingham.auth("chair"),
                                    json={"domain": "swb", "level": "low"})
    assert r.status_code == 403, r.text
    assert admitted[1:] == [("chair-1", "judgement.record")]


async def test_the_contract_still_declares_the_bearer_scheme_of_a_gated_route(
        wokingham: Tenant) -> None:
    """The gate's dependency is left out only where the handler runs; the OpenAPI document
    is built from the route's declared dependencies and keeps the scheme."""
    openapi = (await wokingham.client.get("/openapi.json")).json()
    operation = openapi["paths"]["/v1/cases/{case_id}/judgements"]["post"]
    assert operation["security"] == [{"HTTPBearer": []}]



async def test_a_gated_write_solves_the_principal_in_one_step(wokingham: Tenant) -> None:
    """The handler's principal is the gate's verified one, read from the request by the same
    call that makes the input checks (no dependency of its own under it for the bearer
    token); the checks hold: an unknown query parameter is 422, a chair with a malformed
    body still 403 first, and the write is recorded by the token's subject."""
    from app.core import deps
    from app.routers.judgements import record, router

    route = next(r for r in router.routes if getattr(r, "endpoint", None) is record)
    principal = next(d for d in gates._as_run(route.dependant).dependencies
                     if d.name == "principal")
    assert principal.call is deps._principal_of_gated
    assert principal.dependencies == []
    case = (await wokingham.open_case())["data"]["id"]
    r = await wokingham.client.post(f"/v1/cases/{case}/judgements",
                                    headers=wokingham.auth("case_holder"),
                                    json={"domain": "swb", "level": "medium"})
    assert r.status_code == 201, r.text
    assert r.json()["data"]["recorded_by"] == "case_holder-1"
    r = await wokingham.client.post(f"/v1/cases/{case}/judgements?dry_run=true",
                                    headers=wokingham.auth("case_holder"),
                                    json={"domain": "swb", "level": "low"})
    assert r.status_code == 422, r.text
    r = await wokingham.client.post(f"/v1/cases/{case}/judgements?dry_run=true",
                                    headers=wokingham.auth("chair"), content=b"{not json")
    assert r.status_code == 403, r.text
