"""Every write is one transaction: record, steps, audit entry and outbox event, or nothing."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from app.domain import judgements
from tests.conftest import Tenant


async def snapshot(client: httpx.AsyncClient, tenant: Tenant, case_id: str) -> dict[str, Any]:
    """What is stored for the case: judgements, steps, audit trail, version."""
    auth = tenant.auth("line_manager")
    case = await client.get(f"/v1/cases/{case_id}", headers=auth)
    steps = await client.get("/v1/next-steps", params={"case_id": case_id, "status": "open"},
                             headers=auth)
    history = await client.get(f"/v1/cases/{case_id}/judgements", headers=auth)
    audit = await client.get(f"/v1/cases/{case_id}/audit", params={"limit": 200}, headers=auth)
    return {"case": case.json()["data"], "steps": steps.json()["data"],
            "judgements": history.json()["data"], "audit": audit.json()["data"]}


async def test_failed_outbox_write_rolls_back_the_whole_judgement(
    app: Any, client: httpx.AsyncClient, somerset: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If the outgoing event cannot be written, the judgement, its steps and audit vanish."""
    case = (await somerset.open_case())["data"]
    before = await snapshot(client, somerset, case["id"])

    async def broken_emit(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("outbox unavailable")

    monkeypatch.setattr(judgements, "emit", broken_emit)
    # As a real server does: the error becomes a 500 answer instead of propagating.
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://yjrisk.test") as server:
        r = await server.post(f"/v1/cases/{case['id']}/judgements",
                              json={"domain": "rosh", "level": "very_high"},
                              headers=somerset.auth("case_holder"))
    assert r.status_code == 500
    assert r.headers["content-type"].startswith("application/problem+json")
    assert "outbox unavailable" not in r.text
    monkeypatch.undo()
    after = await snapshot(client, somerset, case["id"])
    assert after == before
    assert after["case"]["ratings"]["rosh"] is None
    assert after["case"]["on_register"] is False


async def test_refused_judgement_stores_nothing(
    client: httpx.AsyncClient, wokingham: Tenant
) -> None:
    """A judgement refused by the policy (M5) leaves no trace but the refusal."""
    case = (await wokingham.open_case())["data"]
    before = await snapshot(client, wokingham, case["id"])
    r = await client.post(f"/v1/cases/{case['id']}/judgements",
                          json={"domain": "rosh", "level": "high", "impact": "major",
                                "likelihood": "likely"},
                          headers=wokingham.auth("case_holder"))
    assert r.status_code == 422
    assert r.json()["type"].endswith("/victims-required")
    assert await snapshot(client, wokingham, case["id"]) == before
