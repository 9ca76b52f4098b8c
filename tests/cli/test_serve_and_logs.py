"""Operations: ``yjrisk serve --workers N`` gives slow-starting workers time, and outgoing HTTP
requests (webhook deliveries, JWKS fetches) never put their URLs in the log."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from app.core import serve
from app.core.logging import configure_logging


def test_serve_with_workers_waits_long_enough_for_a_slow_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """uvicorn's default worker health check (5 s) is shorter than the app's start-up on a
    loaded 2-core machine (15 s seen): its supervisor then replaced the workers forever and
    never served. The server asks for YJ_WORKER_HEALTHCHECK_SECONDS (default 60 s)."""
    seen: dict[str, Any] = {}
    monkeypatch.setattr("uvicorn.run", lambda *a, **kw: seen.update(kw))
    monkeypatch.setenv("YJ_ENV", "test")
    monkeypatch.setenv("YJ_JWT_SECRET", "x" * 40)
    serve.main(["--workers", "2", "--port", "8999"])
    assert seen["workers"] == 2
    assert seen["timeout_worker_healthcheck"] == 60
    monkeypatch.setenv("YJ_WORKER_HEALTHCHECK_SECONDS", "120")
    from app.core.config import get_settings
    get_settings.cache_clear()
    try:
        serve.main(["--workers", "2", "--port", "8999"])
    finally:
        get_settings.cache_clear()
    assert seen["timeout_worker_healthcheck"] == 120


def test_outgoing_request_urls_stay_out_of_the_log(capfd: pytest.CaptureFixture[str]) -> None:
    """httpx logs "HTTP Request: POST <url>" at INFO; a subscriber URL may carry a credential
    in its query. With the service's logging, nothing of the URL is printed."""
    configure_logging("INFO", True)
    transport = httpx.MockTransport(lambda request: httpx.Response(200))
    with httpx.Client(transport=transport) as client:
        client.post("https://hooks.example/in?token=s3cret-hook-token", json={})
    out = capfd.readouterr()
    assert "s3cret-hook-token" not in out.out + out.err
    assert "hooks.example" not in out.out + out.err
