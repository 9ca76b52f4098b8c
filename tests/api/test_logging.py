"""Logs are JSON with a request id, and carry neither tokens nor personal data."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest
from asgi_lifespan import LifespanManager

from app.core.config import Settings
from app.core.logging import configure_logging
from app.core.security import mint_dev_token
from app.main import create_app


@pytest.fixture
async def info_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """An app logging at INFO (the suite otherwise logs warnings only)."""
    app = create_app(settings.model_copy(update={"log_level": "INFO"}))
    try:
        async with LifespanManager(app, startup_timeout=60, shutdown_timeout=60) as manager:
            transport = httpx.ASGITransport(app=manager.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                yield client
    finally:
        configure_logging(settings.log_level, settings.log_json)


async def test_logs_have_request_ids_and_no_tokens_or_names(
    info_client: httpx.AsyncClient, settings: Settings, capfd: pytest.CaptureFixture[str]
) -> None:
    """A write with a child's name and a bearer token: the log line names neither."""
    admin = mint_dev_token(settings, sub="admin-1", roles=["admin"], service=None)
    r = await info_client.post("/v1/services", headers={"Authorization": f"Bearer {admin}"},
                               json={"slug": "log-svc", "name": "Logs",
                                     "policy_pack": "wokingham-pyjs-2024"})
    assert r.status_code in (201, 409)
    token = mint_dev_token(settings, sub="lm-9", roles=["line_manager"], service="log-svc")
    r = await info_client.post(
        "/v1/cases", headers={"Authorization": f"Bearer {token}",
                              "X-Request-ID": "7d5f0e0c-7a43-4c61-9b3e-0f3d3c2f1a10"},
        json={"child": {"given_name": "Zebedee", "family_name": "Quintrell",
                        "date_of_birth": "2011-04-09"},
              "case_holder_id": "cw-9", "line_manager_id": "lm-9",
              "intervention": "bail", "csc_status": "none"},
    )
    assert r.status_code == 201, r.text
    # A query value refused on a write (422) and one on a read: neither reaches the log.
    refused = await info_client.post("/v1/cases?child=Zebedee",
                                      headers={"Authorization": f"Bearer {token}"}, json={})
    assert refused.status_code == 422
    read = await info_client.get("/v1/cases?case_holder_id=Quintrell",
                                 headers={"Authorization": f"Bearer {token}"})
    assert read.status_code == 200
    bad = await info_client.get("/v1/cases", headers={"Authorization": "Bearer forged.token.x"})
    assert bad.status_code == 401
    out = capfd.readouterr().out
    assert token not in out
    assert "forged.token.x" not in out
    for secret in ("Zebedee", "Quintrell", "2011-04-09", settings.jwt_secret or "unset"):
        assert secret not in out
    lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    access = [e for e in lines if e.get("event") == "request" and e.get("method") == "POST"
              and e.get("path") == "/v1/cases"]
    assert access, out
    # The request id is the service's own (the answer's header); the client's UUID is kept
    # beside it, labelled, in plain form (attack pass 16, A16-9).
    assert access[0]["request_id"] == r.headers["x-request-id"]
    assert access[0]["request_id"] != "7d5f0e0c7a434c619b3e0f3d3c2f1a10"
    assert access[0]["client_request_id"] == "7d5f0e0c7a434c619b3e0f3d3c2f1a10"
    assert access[0]["status"] == 201
