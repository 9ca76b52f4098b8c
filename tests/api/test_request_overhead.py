"""Issue 15: what every request pays outside the database, cut without changing what it
records: the Prometheus series are looked up once per label set, and FastAPI's native
OpenTelemetry instrumentation is off."""

from __future__ import annotations

from typing import Any

import httpx
from prometheus_client import REGISTRY

from app.core import metrics
from app.core.config import Settings
from app.main import create_app
from tests.conftest import Tenant


def _count(method: str, status: str, handler: str) -> float:
    return REGISTRY.get_sample_value(
        "http_requests_total", {"method": method, "status": status, "handler": handler}) or 0.0


def test_series_are_prometheus_own_children() -> None:
    """The series kept for a label set are the children ``labels()`` answers for it
    (prometheus_client answers the same child every time: the cache relies on it)."""
    requests, request_size, response_size, latency = metrics._series("PATCH", "4xx", "/x/{y}")
    assert requests is metrics.REQUESTS.labels("PATCH", "4xx", "/x/{y}")
    assert request_size is metrics.REQUEST_SIZE.labels("/x/{y}")
    assert response_size is metrics.RESPONSE_SIZE.labels("/x/{y}")
    assert latency is metrics.LATENCY.labels("PATCH", "/x/{y}")


def test_record_counts_every_request_of_a_label_set() -> None:
    """Each call counts one request, its sizes and its duration, the first and the later."""
    before = _count("PUT", "2xx", "/test/{overhead}")
    size = REGISTRY.get_sample_value("http_request_size_bytes_sum",
                                     {"handler": "/test/{overhead}"}) or 0.0
    highr = REGISTRY.get_sample_value("http_request_duration_highr_seconds_count") or 0.0
    for _ in range(3):
        metrics.record("PUT", 204, "/test/{overhead}", 10, 0, 0.02)
    assert _count("PUT", "2xx", "/test/{overhead}") == before + 3
    assert REGISTRY.get_sample_value("http_request_size_bytes_sum",
                                     {"handler": "/test/{overhead}"}) == size + 30
    assert REGISTRY.get_sample_value("http_request_duration_highr_seconds_count") == highr + 3
    assert REGISTRY.get_sample_value("http_request_duration_seconds_count",
                                     {"method": "PUT", "handler": "/test/{overhead}"}) == 3


async def test_a_write_is_counted_under_its_route(
    client: httpx.AsyncClient, somerset: Tenant
) -> None:
    """A request through the app is counted under its method, status class and template."""
    before = _count("POST", "2xx", "/v1/cases")
    await somerset.open_case()
    await somerset.open_case()
    assert _count("POST", "2xx", "/v1/cases") == before + 2


def test_fastapi_native_telemetry_is_off(settings: Settings) -> None:
    """FastAPI's own OpenTelemetry tracing, metrics and logs are switched off by its
    ``telemetry`` option (the service's observability is structlog and Prometheus), so no
    request asks OpenTelemetry's global providers whether one was configured."""
    app: Any = create_app(settings)
    assert {k: app._telemetry[k] for k in ("tracing", "metrics", "logs")} == {
        "tracing": False, "metrics": False, "logs": False}
    assert app._native_telemetry.enabled() is False
