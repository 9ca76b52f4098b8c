"""Outgoing webhooks: admin-only subscriptions, Standard Webhooks signatures, retries with
backoff, 410 Gone, event-type filtering and exactly-once delivery under concurrent workers.
The receiver is always an httpx.MockTransport: no test touches the network."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.core.config import Settings
from app.core.errors import Unprocessable
from app.core.security import mint_dev_token
from app.domain import webhooks
from app.domain.audit import AuditEntry
from tests.api.support import service_id
from tests.api.test_events import judge
from tests.conftest import BACKEND, PUBLIC_TEST_ADDRESS, Tenant

Factory = async_sessionmaker[AsyncSession]
HOOK_URL = "https://iyss.example.org/hooks/yjrisk"
ROOT = Path(__file__).resolve().parents[2]



def admin(settings: Settings, service: str | None = None) -> dict[str, str]:
    """An admin's Authorization header (platform-wide unless bound to ``service``)."""
    token = mint_dev_token(settings, sub="admin-1", roles=["admin"], service=service)
    return {"Authorization": f"Bearer {token}"}


async def subscribe(t: Tenant, event_types: list[str] | None = None,
                    url: str = HOOK_URL) -> dict[str, Any]:
    """Create a subscription as an admin; answer the created subscription (with its secret)."""
    r = await t.client.post(f"/v1/services/{t.slug}/webhooks",
                            json={"url": url, "event_types": event_types or ["*"],
                                  "description": "IYSS case management"},
                            headers=admin(t.settings))
    assert r.status_code == 201, r.text
    return r.json()["data"]  # type: ignore[no-any-return]


Handler = Callable[[httpx.Request], Awaitable[httpx.Response]]


@dataclass
class Receiver:
    """An integrator's endpoint: records every request, answers from a script of statuses."""

    statuses: list[int] = field(default_factory=list)
    requests: list[httpx.Request] = field(default_factory=list)
    delay: float = 0.0

    async def handle(self, request: httpx.Request) -> httpx.Response:
        """Answer the next scripted status (200 once the script runs out)."""
        if self.delay:
            await asyncio.sleep(self.delay)
        self.requests.append(request)
        return httpx.Response(self.statuses.pop(0) if self.statuses else 200)

    @property
    def transport(self) -> httpx.MockTransport:
        """The transport the dispatcher sends through."""
        return httpx.MockTransport(self.handle)

    def bodies(self) -> list[dict[str, Any]]:
        """The JSON bodies received, in order."""
        return [json.loads(r.content) for r in self.requests]


async def deliver(factory: Factory, t: Tenant, receiver: Receiver,
                  now: datetime | None = None) -> webhooks.PassResult:
    """One dispatcher pass over the tenant's outbox and deliveries."""
    return await webhooks.run_pass(factory, receiver.transport, now=now,
                                   service_id=await service_id(factory, t))


async def deliveries(t: Tenant, sub_id: str) -> list[dict[str, Any]]:
    """The subscription's deliveries as the admin sees them."""
    r = await t.client.get(f"/v1/services/{t.slug}/webhooks/{sub_id}/deliveries",
                           headers=admin(t.settings))
    assert r.status_code == 200, r.text
    return r.json()["data"]  # type: ignore[no-any-return]


def verify(secret: str, request: httpx.Request) -> None:
    """Check a Standard Webhooks signature by hand (hmac), independent of the app's signer."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    msg_id, stamp = request.headers["webhook-id"], request.headers["webhook-timestamp"]
    signed = f"{msg_id}.{stamp}.".encode() + request.content
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    versions = dict(s.split(",", 1) for s in request.headers["webhook-signature"].split(" "))
    assert hmac.compare_digest(versions["v1"], expected)
    assert abs(int(stamp) - time.time()) < 300


# Subscriptions: who may manage them ---------------------------------------------------------


async def test_admin_creates_lists_and_deletes_a_subscription_secret_shown_once(
    factory: Factory, client: httpx.AsyncClient, somerset: Tenant
) -> None:
    """201 with a whsec_ secret once; the list never shows it; delete deactivates; audited."""
    created = await subscribe(somerset, ["judgement.recorded", "case.opened"])
    assert re.fullmatch(r"whsec_[A-Za-z0-9+/]{43}=", created["secret"])
    assert len(base64.b64decode(created["secret"][6:])) == 32
    assert created["event_types"] == ["case.opened", "judgement.recorded"]
    assert created["active"] is True
    assert created["description"] == "IYSS case management"
    url = f"/v1/services/{somerset.slug}/webhooks"
    r = await client.get(url, headers=admin(somerset.settings))
    assert r.status_code == 200, r.text
    [listed] = r.json()["data"]
    assert listed["id"] == created["id"]
    assert "secret" not in listed
    assert created["secret"] not in r.text
    r = await client.delete(f"{url}/{created['id']}", headers=admin(somerset.settings))
    assert r.status_code == 200, r.text
    assert r.json()["data"]["active"] is False
    assert r.json()["data"]["deactivated_reason"] == "deleted"
    again = await client.delete(f"{url}/{created['id']}", headers=admin(somerset.settings))
    assert again.status_code == 200
    async with factory() as session:
        actions = (await session.exec(
            select(AuditEntry.action).where(AuditEntry.entity_id == uuid.UUID(created["id"]))
            .order_by(col(AuditEntry.at)))).all()
    assert list(actions) == ["webhook.create", "webhook.delete"]


async def test_staff_may_not_manage_webhooks(client: httpx.AsyncClient, somerset: Tenant) -> None:
    """Every staff role of the service gets 403 on every webhook operation."""
    sub = await subscribe(somerset)
    url = f"/v1/services/{somerset.slug}/webhooks"
    for role in ("case_holder", "line_manager", "duty_manager", "chair", "panel_admin"):
        headers = somerset.auth(role)
        body = {"url": HOOK_URL, "event_types": ["*"]}
        assert (await client.post(url, json=body, headers=headers)).status_code == 403
        assert (await client.get(url, headers=headers)).status_code == 403
        assert (await client.delete(f"{url}/{sub['id']}", headers=headers)).status_code == 403
        r = await client.get(f"{url}/{sub['id']}/deliveries", headers=headers)
        assert r.status_code == 403
        assert r.headers["content-type"] == "application/problem+json"
    r = await client.get(url, headers=admin(somerset.settings))
    assert [s["active"] for s in r.json()["data"]] == [True]


async def test_another_services_subscription_is_not_found(
    client: httpx.AsyncClient, somerset: Tenant, wokingham: Tenant
) -> None:
    """A subscription id under another service's slug, an unknown slug, or an admin token bound
    to another service: 404, and nothing changes."""
    sub = await subscribe(somerset)
    other = f"/v1/services/{wokingham.slug}/webhooks/{sub['id']}"
    assert (await client.delete(other, headers=admin(somerset.settings))).status_code == 404
    r = await client.get(f"{other}/deliveries", headers=admin(somerset.settings))
    assert r.status_code == 404
    r = await client.get("/v1/services/no-such-service/webhooks", headers=admin(somerset.settings))
    assert r.status_code == 404
    mine = f"/v1/services/{somerset.slug}/webhooks"
    bound = admin(somerset.settings, service=wokingham.slug)
    assert (await client.get(mine, headers=bound)).status_code == 404
    assert (await client.delete(f"{mine}/{sub['id']}", headers=bound)).status_code == 404
    r = await client.get(mine, headers=admin(somerset.settings))
    assert r.json()["data"][0]["active"] is True
    assert (await client.get(f"/v1/services/{wokingham.slug}/webhooks",
                             headers=admin(somerset.settings))).json()["data"] == []


@pytest.mark.parametrize(("url", "ok"), [
    ("https://iyss.example.org/hooks", True),
    ("http://127.0.0.1:8080/hooks", True),
    ("http://localhost/hooks", True),
    ("http://iyss.example.org/hooks", False),
    ("ftp://iyss.example.org/hooks", False),
    ("https://user:pw@iyss.example.org/hooks", False),
    ("https://10.1.2.3/hooks", False),
    ("https://169.254.169.254/latest/meta-data", False),
    ("https://intranet/hooks", False),
    ("https://127.1/hooks", False),
    ("https://localhost./hooks", False),
    ("https://iyss.example.org:99999/hooks", False),
    ("not a url", False),
])
async def test_subscription_url_rules(
    client: httpx.AsyncClient, somerset: Tenant, url: str, ok: bool
) -> None:
    """https to a public host; plain http only to localhost, and only in dev/test."""
    r = await client.post(f"/v1/services/{somerset.slug}/webhooks",
                          json={"url": url, "event_types": ["*"]},
                          headers=admin(somerset.settings))
    assert r.status_code == (201 if ok else 422), r.text
    if not ok:
        assert r.json()["errors"][0]["loc"] == "body.url"


def test_plain_http_to_localhost_is_refused_outside_dev_and_test() -> None:
    """In staging and production even localhost must be https, and is refused as not public."""
    assert webhooks.check_url("http://127.0.0.1/h", "test") == "http://127.0.0.1/h"
    for env in ("staging", "production"):
        for url in ("http://127.0.0.1/h", "http://localhost/h", "https://localhost/h"):
            with pytest.raises(Unprocessable):
                webhooks.check_url(url, env)
    assert webhooks.check_url("https://iyss.example.org/h", "production")


async def test_event_types_are_checked(client: httpx.AsyncClient, somerset: Tenant) -> None:
    """Unknown types and "*" mixed with others are refused (422)."""
    url = f"/v1/services/{somerset.slug}/webhooks"
    for types in (["judgement.recorded", "judgment.recorded"], ["*", "case.opened"], []):
        r = await client.post(url, json={"url": HOOK_URL, "event_types": types},
                              headers=admin(somerset.settings))
        assert r.status_code == 422, r.text


def test_every_emitted_event_type_can_be_subscribed_to() -> None:
    """Each literal outbox type emitted in app/ is in the catalogue subscribers choose from."""
    emitted = set()
    for path in (ROOT / "app").rglob("*.py"):
        emitted |= set(re.findall(r'emit\(\s*session,\s*"([a-z_.]+)"', path.read_text()))
    assert emitted
    assert emitted <= webhooks.EVENT_TYPES


# Delivery --------------------------------------------------------------------------------------


async def test_judgement_is_delivered_signed_with_the_expected_body(
    factory: Factory, somerset: Tenant
) -> None:
    """A judgement write reaches the receiver once, signed per Standard Webhooks 1.0."""
    sub = await subscribe(somerset, ["judgement.recorded"])
    case = (await somerset.open_case())["data"]
    await judge(somerset, case["id"], "rosh", "high", "2026-04-15T10:00:00Z")
    receiver = Receiver()
    result = await deliver(factory, somerset, receiver)
    assert result.delivered == 1
    [request] = receiver.requests
    assert request.method == "POST"
    # Sent to the address vetted for the host, with the host kept for Host and TLS (SNI).
    assert str(request.url) == HOOK_URL.replace("iyss.example.org", PUBLIC_TEST_ADDRESS)
    assert request.headers["host"] == "iyss.example.org"
    assert request.extensions["sni_hostname"] == "iyss.example.org"
    assert request.headers["content-type"] == "application/json"
    verify(sub["secret"], request)
    body = json.loads(request.content)
    assert set(body) == {"type", "timestamp", "data"}
    assert body["type"] == "judgement.recorded"
    assert body["timestamp"].endswith("Z")
    data = body["data"]
    assert data["case_id"] == case["id"]
    assert (data["domain"], data["level"]) == ("rosh", "high")
    assert data["service"] == somerset.slug
    uuid.UUID(data["entity_id"])
    [delivery] = await deliveries(somerset, sub["id"])
    assert delivery["id"] == request.headers["webhook-id"]
    assert delivery["status"] == "delivered"
    assert delivery["attempts"] == 1
    assert delivery["last_status_code"] == 200
    assert delivery["delivered_at"] is not None
    assert (await deliver(factory, somerset, receiver)).delivered == 0
    assert len(receiver.requests) == 1


async def test_server_error_is_retried_with_backoff_then_delivered(
    factory: Factory, somerset: Tenant
) -> None:
    """500 then 503: retried after ~30 s and ~2 min, same webhook-id; then 200 is delivered."""
    sub = await subscribe(somerset, ["case.opened"])
    await somerset.open_case()
    receiver = Receiver(statuses=[500, 503, 200])
    t0 = datetime.now(UTC)
    assert (await deliver(factory, somerset, receiver, t0)).retrying == 1
    [pending] = await deliveries(somerset, sub["id"])
    assert (pending["status"], pending["attempts"]) == ("pending", 1)
    assert (pending["last_status_code"], pending["last_error"]) == (500, "HTTP 500")
    due = datetime.fromisoformat(pending["next_attempt_at"])
    assert t0 + timedelta(seconds=30) <= due <= t0 + timedelta(seconds=33)
    assert (await deliver(factory, somerset, receiver, t0 + timedelta(seconds=29))).retrying == 0
    assert len(receiver.requests) == 1
    t1 = t0 + timedelta(seconds=34)
    assert (await deliver(factory, somerset, receiver, t1)).retrying == 1
    [pending] = await deliveries(somerset, sub["id"])
    due = datetime.fromisoformat(pending["next_attempt_at"])
    assert t1 + timedelta(minutes=2) <= due <= t1 + timedelta(minutes=2, seconds=12)
    assert (await deliver(factory, somerset, receiver, t1 + timedelta(minutes=3))).delivered == 1
    [done] = await deliveries(somerset, sub["id"])
    assert (done["status"], done["attempts"], done["last_status_code"]) == ("delivered", 3, 200)
    assert done["last_error"] is None
    assert len({r.headers["webhook-id"] for r in receiver.requests}) == 1
    for request in receiver.requests:
        verify(sub["secret"], request)


async def test_delivery_gives_up_after_the_last_attempt(
    factory: Factory, somerset: Tenant
) -> None:
    """A receiver that never succeeds (or never answers) is tried MAX_ATTEMPTS times: failed."""
    sub = await subscribe(somerset, ["case.opened"])
    await somerset.open_case()

    async def timeout(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    now = datetime.now(UTC)
    sid = await service_id(factory, somerset)
    for _ in range(webhooks.MAX_ATTEMPTS + 2):
        await webhooks.run_pass(factory, httpx.MockTransport(timeout), now=now, service_id=sid)
        now += timedelta(hours=7)
    [failed] = await deliveries(somerset, sub["id"])
    assert failed["status"] == "failed"
    assert failed["attempts"] == webhooks.MAX_ATTEMPTS == 8
    assert failed["last_error"] == "no answer within 10 s"
    assert failed["next_attempt_at"] is None
    r = await somerset.client.get(f"/v1/services/{somerset.slug}/webhooks/{sub['id']}/deliveries",
                                  params={"status": "failed"}, headers=admin(somerset.settings))
    assert [d["id"] for d in r.json()["data"]] == [failed["id"]]


async def test_410_gone_deactivates_the_subscription(
    factory: Factory, somerset: Tenant
) -> None:
    """410: the delivery fails, the subscription is deactivated and gets nothing more."""
    sub = await subscribe(somerset, ["case.opened"])
    await somerset.open_case()
    receiver = Receiver(statuses=[410])
    assert (await deliver(factory, somerset, receiver)).failed == 1
    [gone] = await deliveries(somerset, sub["id"])
    assert (gone["status"], gone["last_status_code"]) == ("failed", 410)
    r = await somerset.client.get(f"/v1/services/{somerset.slug}/webhooks",
                                  headers=admin(somerset.settings))
    [listed] = r.json()["data"]
    assert listed["active"] is False
    assert "410" in listed["deactivated_reason"]
    await somerset.open_case()
    await deliver(factory, somerset, receiver)
    assert len(receiver.requests) == 1
    assert len(await deliveries(somerset, sub["id"])) == 1


async def test_A16_13_a_subscription_switched_off_by_410_is_in_the_audit_chain(
    factory: Factory, somerset: Tenant
) -> None:
    """Every change of state is in the tamper-evident audit chain: a receiver's 410 switches the
    subscription off as an admin's DELETE does (its queued deliveries given up), so it leaves an
    entry as the DELETE does: webhook.gone on the subscription, by the webhook worker, in the
    service's chain, which still verifies (attack pass 16, A16-13)."""
    sub = await subscribe(somerset, ["case.opened"])
    await somerset.open_case()
    r = await somerset.client.get("/v1/audit/verify", headers=somerset.auth("chair"))
    before = r.json()["data"]
    assert (await deliver(factory, somerset, Receiver(statuses=[410]))).failed == 1
    r = await somerset.client.get("/v1/audit/verify", headers=somerset.auth("chair"))
    after = r.json()["data"]
    assert after["ok"] is True
    assert after["checked"] == before["checked"] + 1
    async with factory() as session:
        [entry] = (await session.exec(select(AuditEntry).where(
            col(AuditEntry.entity_id) == uuid.UUID(sub["id"]),
            col(AuditEntry.action) == "webhook.gone"))).all()
    assert (entry.actor_sub, entry.actor_role, entry.entity_type) == (
        "system:webhook-worker", "system", "webhook_subscription")
    assert entry.reason == "receiver answered 410 Gone"
    assert sorted(entry.changed_fields) == ["active", "url"]
    assert await somerset.open_case()
    assert (await deliver(factory, somerset, Receiver(statuses=[410]))).failed == 0
    async with factory() as session:  # a second 410 finds it off already: no second entry
        assert len((await session.exec(select(AuditEntry).where(
            col(AuditEntry.entity_id) == uuid.UUID(sub["id"]),
            col(AuditEntry.action) == "webhook.gone"))).all()) == 1


async def test_deleted_subscription_gets_no_pending_delivery(
    factory: Factory, somerset: Tenant
) -> None:
    """Deleting a subscription gives up its queued deliveries: nothing more is sent."""
    sub = await subscribe(somerset, ["case.opened"])
    await somerset.open_case()
    receiver = Receiver(statuses=[500])
    await deliver(factory, somerset, receiver)
    r = await somerset.client.delete(f"/v1/services/{somerset.slug}/webhooks/{sub['id']}",
                                     headers=admin(somerset.settings))
    assert r.status_code == 200
    await deliver(factory, somerset, receiver, datetime.now(UTC) + timedelta(hours=1))
    assert len(receiver.requests) == 1
    [given_up] = await deliveries(somerset, sub["id"])
    assert given_up["status"] == "failed"


async def test_event_types_filter_what_each_subscription_gets(
    factory: Factory, somerset: Tenant
) -> None:
    """A judgement-only subscription gets the judgement; a "*" one gets every event (the
    judgement's change of the case's rating and register too: ``case.updated``, A30a-7)."""
    only = await subscribe(somerset, ["judgement.recorded"],
                           url="https://iyss.example.org/judgements")
    every = await subscribe(somerset, ["*"], url="https://iyss.example.org/all")
    case = (await somerset.open_case())["data"]
    await judge(somerset, case["id"], "rosh", "high", "2026-04-15T10:00:00Z")
    receiver = Receiver()
    await deliver(factory, somerset, receiver)
    by_url: dict[str, list[str]] = {}
    for request in receiver.requests:
        by_url.setdefault(request.url.path, []).append(json.loads(request.content)["type"])
    assert by_url["/judgements"] == ["judgement.recorded"]
    assert sorted(by_url["/all"]) == ["case.opened", "case.updated", "judgement.recorded"]
    assert [d["event_type"] for d in await deliveries(somerset, only["id"])] == [
        "judgement.recorded"]
    assert len(await deliveries(somerset, every["id"])) == 3


async def test_a_new_subscription_gets_no_backlog(factory: Factory, somerset: Tenant) -> None:
    """Events written before a subscription existed (waiting for the dispatcher) are never sent
    to it (attack pass 1, finding 3: a new endpoint was sent the whole backlog of child data);
    what is written after it is created is."""
    early = await subscribe(somerset, url="https://iyss.example.org/early")
    before = (await somerset.open_case())["data"]
    await judge(somerset, before["id"], "rosh", "high", "2026-04-15T10:00:00Z")
    late = await subscribe(somerset, url="https://iyss.example.org/late")
    after = (await somerset.open_case())["data"]
    receiver = Receiver()
    await deliver(factory, somerset, receiver)
    by_url: dict[str, list[str]] = {}
    for request in receiver.requests:
        body = json.loads(request.content)
        by_url.setdefault(request.url.path, []).append(body["data"]["case_id"])
    assert by_url["/late"] == [after["id"]]
    # The case opened, the judgement and its change of the case (case.updated), the other case.
    assert sorted(by_url["/early"]) == sorted([before["id"]] * 3 + [after["id"]])
    assert len(await deliveries(somerset, late["id"])) == 1
    assert len(await deliveries(somerset, early["id"])) == 4


async def test_other_services_events_are_not_delivered(
    factory: Factory, somerset: Tenant, wokingham: Tenant
) -> None:
    """A subscription of one service never receives another service's events."""
    sub = await subscribe(somerset)
    await wokingham.open_case()
    receiver = Receiver()
    await deliver(factory, wokingham, receiver)
    await deliver(factory, somerset, receiver)
    assert receiver.requests == []
    assert await deliveries(somerset, sub["id"]) == []


async def test_a_hanging_receiver_counts_as_no_answer(
    factory: Factory, somerset: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A receiver that holds the request open past the limit is a failed attempt, retried."""
    monkeypatch.setattr(webhooks, "SEND_TIMEOUT_SECONDS", 0.05)
    sub = await subscribe(somerset, ["case.opened"])
    await somerset.open_case()
    assert (await deliver(factory, somerset, Receiver(delay=1.0))).retrying == 1
    [pending] = await deliveries(somerset, sub["id"])
    assert (pending["status"], pending["last_error"]) == ("pending", "no answer within 0.05 s")


@pytest.mark.skipif(BACKEND != "postgres", reason="row locks (SKIP LOCKED) need PostgreSQL")
async def test_two_concurrent_dispatchers_deliver_each_event_once(
    factory: Factory, somerset: Tenant
) -> None:
    """Two passes at once over the same outbox: every event arrives exactly once."""
    sub = await subscribe(somerset)
    for _ in range(6):
        case = (await somerset.open_case())["data"]
        await judge(somerset, case["id"], "rosh", "high", "2026-04-15T10:00:00Z")
    receiver = Receiver(delay=0.05)
    sid = await service_id(factory, somerset)
    results = await asyncio.gather(*(
        webhooks.run_pass(factory, receiver.transport, service_id=sid, batch_size=batch,
                          fan_out_batch=batch)
        for batch in (1, 2, 3)))
    sent = [r.headers["webhook-id"] for r in receiver.requests]
    assert len(sent) == len(set(sent))
    assert sum(r.delivered for r in results) == len(sent)
    assert sum(r.fanned_out for r in results) == len(sent) >= 12
    listed = await deliveries(somerset, sub["id"])
    assert sorted(d["id"] for d in listed) == sorted(sent)
    assert {d["status"] for d in listed} == {"delivered"}
    events = [b["data"]["event_id"] for b in receiver.bodies()]
    assert len(events) == len(set(events))
