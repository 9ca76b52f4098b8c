"""Prometheus metrics of the HTTP API, kept with prometheus_client directly.

The names, labels and buckets are those prometheus-fastapi-instrumentator's defaults gave (so
dashboards and alerts keep working); the edge middleware (:mod:`app.core.edge`) records them
from the route the router matched, instead of matching every request's path against the
routing table a second time as the instrumentator did (a third of ``/healthz``'s cost):

* ``http_requests_total`` (``method``, ``status`` as ``2xx``..``5xx``, ``handler``);
* ``http_request_size_bytes`` / ``http_response_size_bytes`` (``handler``): the
  ``Content-Length`` header's value (0 without one), as summaries;
* ``http_request_duration_highr_seconds`` (no labels, 21 buckets);
* ``http_request_duration_seconds`` (``method``, ``handler``; buckets 0.1, 0.5, 1 s).

``handler`` is the route's template (``/v1/cases/{case_id}``), ``none`` for a request no route
matched. ``/metrics``, ``/healthz`` and ``/readyz`` are not recorded. With
``PROMETHEUS_MULTIPROC_DIR`` set, ``/metrics`` answers the sum over every worker process.
"""

from __future__ import annotations

import os
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    Summary,
    generate_latest,
)
from starlette.requests import Request
from starlette.responses import Response

UNMATCHED = "none"
NOT_RECORDED = frozenset({"/metrics", "/healthz", "/readyz"})

REQUESTS = Counter("http_requests_total",
                   "Total number of requests by method, status and handler.",
                   ("method", "status", "handler"))
REQUEST_SIZE = Summary(
    "http_request_size_bytes",
    "Content length of incoming requests by handler. Only value of header is respected. "
    "Otherwise ignored. No percentile calculated. ", ("handler",))
RESPONSE_SIZE = Summary(
    "http_response_size_bytes",
    "Content length of outgoing responses by handler. Only value of header is respected. "
    "Otherwise ignored. No percentile calculated. ", ("handler",))
LATENCY_HIGHR = Histogram(
    "http_request_duration_highr_seconds",
    "Latency with many buckets but no API specific labels. Made for more accurate percentile "
    "calculations. ",
    buckets=(0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 2.5, 3, 3.5, 4, 4.5, 5,
             7.5, 10, 30, 60, float("inf")))
LATENCY = Histogram(
    "http_request_duration_seconds",
    "Latency with only few buckets by handler. Made to be only used if aggregation by handler "
    "is important. ", ("method", "handler"), buckets=(0.1, 0.5, 1, float("inf")))


# The labelled series each (method, status class, handler) records into: prometheus_client's
# ``labels()`` takes a lock and checks its label values on every call, and answers the same
# child objects each time (nothing here removes a series), so they are looked up once
# (issue 15). Bounded: a request whose labels were never seen once this many are kept is
# recorded through ``labels()`` as before.
_SERIES: dict[tuple[str, str, str], tuple[Any, Any, Any, Any]] = {}
_MAX_SERIES = 4096


def _series(method: str, status_class: str, handler: str) -> tuple[Any, Any, Any, Any]:
    key = (method, status_class, handler)
    found = _SERIES.get(key)
    if found is None:
        found = (REQUESTS.labels(method, status_class, handler), REQUEST_SIZE.labels(handler),
                 RESPONSE_SIZE.labels(handler), LATENCY.labels(method, handler))
        if len(_SERIES) < _MAX_SERIES:
            _SERIES[key] = found
    return found


def record(method: str, status: int, handler: str, request_bytes: int, response_bytes: int,
           seconds: float) -> None:
    """Count one answered request (``seconds`` from its arrival to its last byte)."""
    requests, request_size, response_size, latency = _series(
        method, f"{str(status)[0]}xx", handler)
    requests.inc()
    request_size.observe(request_bytes)
    response_size.observe(response_bytes)
    LATENCY_HIGHR.observe(seconds)
    latency.observe(seconds)


async def metrics(request: Request) -> Response:
    """The Prometheus text exposition of this process (of every worker with
    ``PROMETHEUS_MULTIPROC_DIR``)."""
    registry = REGISTRY
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return Response(generate_latest(registry), headers={"Content-Type": CONTENT_TYPE_LATEST})
