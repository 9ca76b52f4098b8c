"""ATTACK35A-6: once a subscription is switched off during a pass (its receiver answered
`410 Gone`, or its owner deleted it), nothing more is POSTed to it, and every delivery row says
what happened: one POSTed carries its attempt time and status code, one never sent is not
attempted (`attempts` 0) and says why.

README Webhooks: "`410 Gone` deactivates the subscription". The attack: 18 events queued, one
pass; the receiver answered 410 to each of 18 POSTs, and 17 rows said `attempts: 1` with no
`last_attempt_at` nor `last_status_code`. The receiver here is a real HTTP server on
127.0.0.1 (plain http to localhost is allowed in the test environment)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from app.domain import webhooks
from tests.api.support import service_id
from tests.api.test_webhooks import Factory, admin, deliveries, subscribe
from tests.conftest import Tenant


class Endpoint:
    """A local receiver: ``/gone`` answers 410, ``/hold`` holds its first request until
    ``release`` is set then answers 200, anything else 200; every request's path and
    webhook-id is kept."""

    def __init__(self) -> None:
        self.received: list[tuple[str, str]] = []
        self.holding = threading.Event()
        self.release = threading.Event()
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the http.server name
                self.rfile.read(int(self.headers.get("content-length", 0)))
                endpoint.received.append((self.path, self.headers["webhook-id"]))
                if self.path == "/hold" and not endpoint.holding.is_set():
                    endpoint.holding.set()
                    endpoint.release.wait(30)
                self.send_response(410 if self.path == "/gone" else 200)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"

    def sent_to(self, path: str) -> list[str]:
        """The webhook-ids POSTed to ``path``."""
        return [i for p, i in self.received if p == path]


@pytest.fixture
def endpoint() -> Iterator[Endpoint]:
    """The local receiver, served in a thread for the test."""
    e = Endpoint()
    thread = threading.Thread(target=e.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield e
    finally:
        e.release.set()
        e.server.shutdown()
        e.server.server_close()


async def _case_with_events(t: Tenant) -> None:
    """A case opened and rated ROSH high (Somerset 3.2.3): its opening, judgement, field change
    and steps queue several events."""
    case = (await t.open_case(opened_at="2026-08-03T09:00:00+01:00"))["data"]["id"]
    r = await t.client.post(f"/v1/cases/{case}/judgements", json={
        "domain": "rosh", "level": "high", "occurred_at": "2026-08-05T10:00:00+01:00",
        "rationale": "Assessed"}, headers=t.auth("case_holder"))
    assert r.status_code == 201, r.text


def _row(d: dict[str, Any]) -> tuple[Any, ...]:
    return (d["status"], d["attempts"], d["last_attempt_at"] is not None,
            d["last_status_code"], d["last_error"])


async def test_after_a_410_nothing_more_is_sent_to_the_subscription(
        factory: Factory, somerset: Tenant, endpoint: Endpoint) -> None:
    """One pass over the events of a case rated high, for a subscription whose receiver answers
    410 and one whose receiver answers 200: the first gets one POST (its row: failed, attempted
    once, dated, 410) and its other rows are not attempted; the second gets every event."""
    gone = await subscribe(somerset, url=f"{endpoint.base}/gone")
    ok = await subscribe(somerset, url=f"{endpoint.base}/ok")
    await _case_with_events(somerset)
    result = await webhooks.run_pass(factory, service_id=await service_id(factory, somerset))
    listed = await deliveries(somerset, gone["id"])
    assert len(listed) >= 3
    assert len(endpoint.sent_to("/gone")) == 1
    assert sorted((_row(d) for d in listed), key=lambda r: -r[1]) == [
        ("failed", 1, True, 410, "HTTP 410"),
        *[("failed", 0, False, None, webhooks.NOT_SENT_GONE)] * (len(listed) - 1)]
    [posted] = [d["id"] for d in listed if d["attempts"] == 1]
    assert endpoint.sent_to("/gone") == [posted]
    delivered = await deliveries(somerset, ok["id"])
    assert {_row(d) for d in delivered} == {("delivered", 1, True, 200, None)}
    assert sorted(endpoint.sent_to("/ok")) == sorted(d["id"] for d in delivered)
    assert (result.delivered, result.failed) == (len(delivered), len(listed))
    r = await somerset.client.get(f"/v1/services/{somerset.slug}/webhooks",
                                  headers=admin(somerset.settings))
    assert {s["id"]: s["active"] for s in r.json()["data"]} == {gone["id"]: False,
                                                                ok["id"]: True}


async def test_a_subscription_deleted_during_a_pass_is_sent_nothing_more(
        factory: Factory, somerset: Tenant, endpoint: Endpoint) -> None:
    """The owner deletes the subscription while the pass's first POST to it is being answered:
    that delivery is recorded as sent (200, dated), and the rest are not sent (attempts 0)."""
    sub = await subscribe(somerset, url=f"{endpoint.base}/hold")
    await _case_with_events(somerset)
    sid = await service_id(factory, somerset)
    running = asyncio.create_task(webhooks.run_pass(factory, service_id=sid))
    assert await asyncio.to_thread(endpoint.holding.wait, 30)
    r = await somerset.client.delete(f"/v1/services/{somerset.slug}/webhooks/{sub['id']}",
                                     headers=admin(somerset.settings))
    assert r.status_code == 200, r.text
    endpoint.release.set()
    await asyncio.wait_for(running, 60)
    listed = await deliveries(somerset, sub["id"])
    assert len(listed) >= 3
    assert len(endpoint.sent_to("/hold")) == 1
    assert sorted((_row(d) for d in listed), key=lambda r: -r[1]) == [
        ("delivered", 1, True, 200, None),
        *[("failed", 0, False, None, webhooks.NOT_SENT_OFF)] * (len(listed) - 1)]
