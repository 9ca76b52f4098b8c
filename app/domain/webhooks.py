"""Outgoing webhooks: subscriptions per service and signed delivery of the outbox.

Every write appends an ``outbox_event`` in its own transaction; a dispatcher pass delivers
them to the service's subscribers as Standard Webhooks 1.0 requests (``webhook-id`` = the
delivery id, stable across retries; ``webhook-timestamp``; ``webhook-signature: v1,<base64
HMAC-SHA256 of id.timestamp.body>`` with the subscription's ``whsec_`` secret).

A pass has two phases, both safe with several workers on PostgreSQL:

* **fan-out**: lock a batch of undispatched outbox events (``FOR UPDATE SKIP LOCKED``), insert
  one ``webhook_delivery`` per matching active subscription (``ON CONFLICT DO NOTHING`` on the
  unique (event, subscription) pair) and stamp ``dispatched_at``, in one transaction;
* **send**: claim a batch of due pending deliveries (``FOR UPDATE SKIP LOCKED``), push their
  ``next_attempt_at`` one lease ahead and count the attempt, and commit: no row lock is held
  while the HTTP requests run. The results are recorded in another short transaction, each
  guarded by the attempt number it was claimed with, so a worker whose lease ran out can never
  overwrite the outcome of the worker that took the delivery over.

2xx is delivered; 410 Gone deactivates the subscription; anything else (or no answer within
10 s) is retried after 30 s, 2 min, 10 min, 1 h, then every 6 h, and given up after
``MAX_ATTEMPTS`` attempts. On SQLite row locks are a no-op: run one worker.
"""

from __future__ import annotations

import asyncio
import base64
import enum
import ipaddress
import json
import random
import re
import secrets
import socket
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any

import sqlalchemy as sa
import structlog
from pydantic import BaseModel, ConfigDict, StringConstraints
from pydantic import Field as PField
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import Field, SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from standardwebhooks import Webhook

from app.core import clock
from app.core.config import RELAXED_ENVS, Settings, get_settings
from app.core.errors import NotFound, Unprocessable
from app.core.loop import every
from app.core.security import Principal
from app.domain import paging
from app.domain.assessments_table import AssessmentStatus
from app.domain.audit import record_audit
from app.domain.common import JSONType, enum_column, new_id, utcnow
from app.domain.outbox import OutboxEvent
from app.domain.referrals import ReferralStatus
from app.domain.services import Service, get_service_by_slug

if TYPE_CHECKING:  # httpx (with the CLI modules it pulls in) loads on first use
    import httpx

log = structlog.get_logger("yjrisk.webhooks")

WILDCARD = "*"
# Every outbox type a subscriber may ask for (tests/api/test_webhooks.py checks that every
# literal ``emit(...)`` type in app/ is listed here).
EVENT_TYPES: frozenset[str] = frozenset({
    "case.opened", "case.updated", "case.access_changed", "case_event.recorded",
    "judgement.recorded",
    "oversight.recorded", "panel.scheduled", "panel.rescheduled", "panel.cancelled",
    "panel.decision", "panel.item.withdrawn", "referral.created",
    "step.completed", "step.escalated", "step.escalation_updated", "step.reassigned",
    "step.superseded", "step.missed", "step.reinstated",
    "assessment.created",
    "case.closed", "case.reopened", "staff.absence_recorded", "staff.absence_changed",
    "staff.absence_cancelled",
    *(f"referral.{s.value}" for s in ReferralStatus),
    *(f"assessment.{s.value}" for s in AssessmentStatus),
})
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
DEFAULT_PORTS = (443,)
HOST_PATTERN = re.compile(r"[a-z0-9-]+(?:\.[a-z0-9-]+)*\.?|[0-9a-f:.]+")
SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32
SEND_TIMEOUT_SECONDS = 10.0
# Delay before the next attempt after the n-th failed one; MAX_ATTEMPTS attempts in all.
RETRY_DELAYS = (
    timedelta(seconds=30), timedelta(minutes=2), timedelta(minutes=10), timedelta(hours=1),
    timedelta(hours=6), timedelta(hours=6), timedelta(hours=6),
)
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1
RETRY_JITTER = 0.1  # up to 10 % later, so a receiver's outage does not end in a stampede
LEASE = timedelta(minutes=5)  # a claimed delivery is not claimed again before this
BATCH_SIZE = 50
# Outbox events fanned out per transaction: set-wise (one INSERT of deliveries, one UPDATE),
# so a large batch is cheap; a national escalation pass queues tens of thousands at once.
FAN_OUT_BATCH = 1000
CONCURRENCY = 10
USER_AGENT = "yjrisk-webhooks/1.0"
MAX_ERROR_LENGTH = 200


class DeliveryStatus(enum.StrEnum):
    """Lifecycle of one delivery."""

    pending = "pending"
    delivered = "delivered"
    failed = "failed"


class WebhookSubscription(SQLModel, table=True):
    """An integrator's endpoint for a service's outgoing events, with its signing secret."""

    __tablename__ = "webhook_subscription"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    service_id: uuid.UUID = Field(foreign_key="service.id", index=True)
    url: str = Field(max_length=2048)
    event_types: list[str] = Field(default_factory=list, sa_type=JSONType)
    description: str | None = Field(default=None, max_length=500)
    # Needed in clear to sign (HMAC); shown once at creation, never returned or logged again.
    secret: str = Field(max_length=128)
    active: bool = True
    created_by: str = Field(max_length=128)
    created_at: datetime = Field(default_factory=utcnow)
    deactivated_at: datetime | None = None
    deactivated_reason: str | None = Field(default=None, max_length=64)


class WebhookDelivery(SQLModel, table=True):
    """One outbox event on its way to one subscription."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (
        sa.UniqueConstraint("outbox_event_id", "subscription_id",
                            name="uq_webhook_delivery_event_subscription"),
        sa.Index("ix_webhook_delivery_status_next_attempt", "status", "next_attempt_at"),
        sa.Index("ix_webhook_delivery_subscription_created", "subscription_id", "created_at"),
    )

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    service_id: uuid.UUID = Field(foreign_key="service.id")
    subscription_id: uuid.UUID = Field(foreign_key="webhook_subscription.id")
    outbox_event_id: uuid.UUID = Field(foreign_key="outbox_event.id")
    event_type: str = Field(max_length=64)
    status: DeliveryStatus = Field(
        default=DeliveryStatus.pending,
        sa_column=enum_column(DeliveryStatus, server_default="pending"),
    )
    attempts: int = 0
    next_attempt_at: datetime | None = None
    last_attempt_at: datetime | None = None
    last_status_code: int | None = None
    last_error: str | None = Field(default=None, max_length=MAX_ERROR_LENGTH)
    delivered_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)


class WebhookCreate(BaseModel):
    """Body of ``POST /v1/services/{slug}/webhooks``."""

    model_config = ConfigDict(extra="forbid")
    url: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2048)]
    event_types: Annotated[
        list[Annotated[str, StringConstraints(min_length=1, max_length=64)]],
        PField(min_length=1, max_length=64,
               description='Outbox event types (e.g. "judgement.recorded"), or ["*"] for all.'),
    ]
    description: Annotated[str, StringConstraints(max_length=500)] | None = None


class WebhookOut(BaseModel):
    """A subscription as the API shows it (never with its secret)."""

    id: uuid.UUID
    url: str
    event_types: list[str]
    description: str | None
    active: bool
    created_by: str
    created_at: datetime
    deactivated_at: datetime | None
    deactivated_reason: str | None


class WebhookCreated(WebhookOut):
    """A new subscription with its signing secret: shown this once only."""

    secret: str = PField(description="Standard Webhooks secret (whsec_<base64>); shown once.")


class DeliveryOut(BaseModel):
    """One delivery attempt record of an event to a subscription."""

    id: uuid.UUID = PField(description="Also the webhook-id header of every attempt.")
    event_id: uuid.UUID
    event_type: str
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime | None
    last_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    delivered_at: datetime | None
    created_at: datetime


def webhook_out(subscription: WebhookSubscription) -> WebhookOut:
    """Shape a subscription for the API (no secret)."""
    return WebhookOut.model_validate(subscription, from_attributes=True)


def delivery_out(delivery: WebhookDelivery) -> DeliveryOut:
    """Shape a delivery for the API."""
    return DeliveryOut.model_validate(
        {**delivery.model_dump(), "event_id": delivery.outbox_event_id})


def new_secret() -> str:
    """A fresh Standard Webhooks signing secret (``whsec_`` + base64 of 32 random bytes)."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def _bad_url(msg: str) -> Unprocessable:
    return Unprocessable(f"The webhook URL is not allowed: {msg}.", slug="webhook-url-refused",
                         errors=[{"loc": "body.url", "msg": msg}])


def check_url(url: str, env: str, allowed_ports: Sequence[int] = DEFAULT_PORTS) -> str:
    """The URL if its shape may be subscribed: https to a host name or public address on an
    allowed port (443 unless configured; plain http only to 127.0.0.1/localhost in dev and
    test); 422 otherwise. Where the name resolves is checked by :func:`vet_destination`."""
    import httpx

    try:
        parsed = httpx.URL(url)
        host = parsed.raw_host.decode("ascii").lower()  # IDNA names stay in punycode
        port = parsed.port
    except (httpx.InvalidURL, ValueError, TypeError) as exc:  # IDNAError is a ValueError
        raise _bad_url("not a valid URL") from exc
    local_dev = env in RELAXED_ENVS and host in LOCAL_HOSTS
    if not HOST_PATTERN.fullmatch(host) or any(c.isspace() or ord(c) < 32 for c in url):
        raise _bad_url("it needs a valid host name and no whitespace")
    if port is not None and not 0 < port < 65536:
        raise _bad_url("the port must be 1 to 65535")
    if parsed.userinfo or parsed.fragment:
        raise _bad_url("credentials and fragments are not allowed in it")
    if parsed.scheme != "https" and not (parsed.scheme == "http" and local_dev):
        raise _bad_url("use https (plain http only to localhost in dev/test)")
    if not local_dev and not _public_host(host):
        raise _bad_url("it must name a public host")
    if env not in RELAXED_ENVS and (port or 443) not in allowed_ports:
        raise _bad_url(f"the port must be one of {sorted(allowed_ports)}")
    return str(parsed)


def _public_host(host: str) -> bool:
    """Whether the host is a name or a globally routable address (no loopback, private,
    link-local such as cloud metadata, or reserved addresses)."""
    host = host.rstrip(".")
    if host in LOCAL_HOSTS or host.endswith((".localhost", ".internal", ".local")):
        return False
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        # A DNS name with a real top-level label: single labels resolve inside the network,
        # and numeric ones ("127.1", "2130706433") are shorthand IPv4 addresses to resolvers.
        last = host.rsplit(".", 1)[-1]
        return "." in host and not (last.isdigit() or last.startswith("0x"))
    return is_public_address(address)


# Ranges ``is_global`` lets through (or that embed an IPv4 address a gateway would reach for
# us) and that must never be a webhook's destination.
_REFUSED_NETWORKS = tuple(ipaddress.ip_network(n) for n in (
    "0.0.0.0/8", "100.64.0.0/10", "192.0.0.0/24", "192.0.2.0/24", "198.18.0.0/15",
    "192.88.99.0/24",   # 6to4 relay anycast (deprecated, RFC 7526): a gateway, not a receiver
    "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4",
    "::/96",            # IPv4-compatible (deprecated), and :: itself
    "64:ff9b::/96",     # NAT64 well-known prefix
    "64:ff9b:1::/48",   # NAT64 local-use prefix
    "2001::/32",        # Teredo
    "2001:db8::/32",    # documentation
    "2002::/16",        # 6to4
    "fc00::/7",         # unique local
    "fe80::/10",        # link-local
    "fec0::/10",        # site-local (deprecated)
    "ff00::/8",         # multicast
    "100::/64",         # discard-only
))


def is_public_address(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Whether a webhook may connect to ``address``: globally routable unicast, with IPv6
    forms that carry an IPv4 address (mapped, NAT64, 6to4, Teredo, compatible) judged as, or
    refused like, what they carry; loopback, private, CGNAT, link-local, multicast,
    unspecified, reserved and documentation ranges refused."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return is_public_address(address.ipv4_mapped)
    if any(address in net for net in _REFUSED_NETWORKS if net.version == address.version):
        return False
    return address.is_global and not (
        address.is_multicast or address.is_reserved or address.is_link_local
        or address.is_loopback or address.is_unspecified or address.is_private
        or (isinstance(address, ipaddress.IPv6Address) and address.is_site_local))


Resolver = Callable[[str, int], Awaitable[list[str]]]
RESOLVE_TIMEOUT_SECONDS = 5.0
UNRESOLVED = "the host name does not resolve"


async def system_resolver(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (the system resolver, 5 s at most)."""
    loop = asyncio.get_running_loop()
    infos = await asyncio.wait_for(
        loop.getaddrinfo(host, port, type=socket.SOCK_STREAM), RESOLVE_TIMEOUT_SECONDS)
    return sorted({str(info[4][0]) for info in infos})


_resolver: Resolver = system_resolver


def set_resolver(resolver: Resolver | None) -> None:
    """Use another resolver (tests); ``None`` restores the system's."""
    global _resolver
    _resolver = resolver or system_resolver


@dataclass(frozen=True)
class Destination:
    """Where a delivery really goes: the URL with the vetted address in place of the name,
    and the name kept for the Host header and TLS (SNI and certificate check)."""

    url: httpx.URL
    host_header: str
    server_name: str | None


class DestinationRefused(Exception):
    """The URL does not lead to a public address (or does not resolve)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


async def vet_destination(url: str, env: str) -> Destination:
    """Resolve the URL's host and refuse unless every address is public (dev/test: plain
    localhost too); answer the URL pinned to the first address, so the connection goes to the
    address vetted here, never to a second lookup's answer (DNS rebinding)."""
    import httpx

    parsed = httpx.URL(url)
    host = parsed.raw_host.decode("ascii").lower()
    if env in RELAXED_ENVS and host in LOCAL_HOSTS:
        return Destination(parsed, parsed.netloc.decode("ascii"), None)
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        literal = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        literal = None
    if literal is not None:
        texts = [str(literal)]
    else:
        try:
            texts = await _resolver(host.rstrip("."), port)
        except (OSError, TimeoutError, UnicodeError) as exc:
            raise DestinationRefused(UNRESOLVED) from exc
    try:
        addresses = [ipaddress.ip_address(t.split("%", 1)[0]) for t in texts]
    except ValueError as exc:
        raise DestinationRefused("the host name resolves to something not an address") from exc
    if not addresses:
        raise DestinationRefused(UNRESOLVED)
    if not all(is_public_address(a) for a in addresses):
        raise DestinationRefused("the host name resolves to a non-public address")
    return Destination(parsed.copy_with(host=str(addresses[0])),
                       parsed.netloc.decode("ascii"),
                       None if literal is not None else host.rstrip("."))


def check_event_types(event_types: Sequence[str]) -> list[str]:
    """The distinct, sorted event types, or ``["*"]``; 422 for an unknown type."""
    if WILDCARD in event_types:
        if len(set(event_types)) > 1:
            raise Unprocessable('"*" subscribes to everything; send it alone.',
                                errors=[{"loc": "body.event_types", "msg": '"*" alone'}])
        return [WILDCARD]
    unknown = [i for i, kind in enumerate(event_types) if kind not in EVENT_TYPES]
    if unknown:
        raise Unprocessable(
            "Unknown event types; see errors.", slug="unknown-event-type",
            errors=[{"loc": f"body.event_types.{i}", "msg": f"one of {sorted(EVENT_TYPES)} or *"}
                    for i in unknown])
    return sorted(set(event_types))


def matches(subscription: WebhookSubscription, event_type: str) -> bool:
    """Whether the subscription wants events of this type."""
    return WILDCARD in subscription.event_types or event_type in subscription.event_types


def require_admin_of_slug(principal: Principal, path: Mapping[str, Any]) -> None:
    """404 for an admin token bound to a service other than the path's ``slug`` (it learns
    nothing of another service, A26a-13): the token and the path alone decide it, so the
    route asks it before the body is read (``gates.rule``; attack pass 28a, ATK28A-3's
    kind)."""
    if principal.service is not None and principal.service != path.get("slug"):
        raise NotFound("No such service.")


async def service_for_admin(session: AsyncSession, principal: Principal, slug: str) -> Service:
    """The service an admin manages webhooks of (an admin token bound to another service
    learns nothing: 404)."""
    require_admin_of_slug(principal, {"slug": slug})
    service = await get_service_by_slug(session, slug)
    if service is None:
        raise NotFound("No such service.")
    return service


async def create_subscription(
    session: AsyncSession, principal: Principal, slug: str, body: WebhookCreate, env: str,
    allowed_ports: Sequence[int] = DEFAULT_PORTS,
) -> WebhookSubscription:
    """Subscribe an endpoint to the service's events (admin); the URL's host must resolve to
    public addresses only (422 otherwise); audited, secret made here."""
    service = await service_for_admin(session, principal, slug)
    url = check_url(body.url, env, allowed_ports)
    try:
        await vet_destination(url, env)
    except DestinationRefused as exc:
        # dev/test may subscribe a name that does not resolve (documentation examples): each
        # delivery resolves it again and refuses whatever it does not find public.
        if not (env in RELAXED_ENVS and exc.reason == UNRESOLVED):
            raise _bad_url(exc.reason) from exc
    subscription = WebhookSubscription(
        service_id=service.id, url=url,
        event_types=check_event_types(body.event_types), description=body.description,
        secret=new_secret(), created_by=principal.sub,
    )
    session.add(subscription)
    await session.flush()
    await record_audit(
        session, principal, "webhook.create", "webhook_subscription", subscription.id,
        service_id=service.id,
        change={"url": subscription.url, "event_types": subscription.event_types,
                "description": subscription.description},
    )
    return subscription


SUBSCRIPTION_ORDER = paging.Order(
    ((WebhookSubscription.created_at, "instant"), (WebhookSubscription.id, "uuid")))


async def list_subscriptions(
    session: AsyncSession, principal: Principal, slug: str, page: paging.PageArgs
) -> tuple[list[WebhookSubscription], str | None]:
    """A page of the service's subscriptions, active and deactivated, oldest first, and the
    next page's cursor."""
    service = await service_for_admin(session, principal, slug)
    return await paging.keyset_page(
        session, select(WebhookSubscription).where(
            WebhookSubscription.service_id == service.id), SUBSCRIPTION_ORDER, page,
        {"list": "webhooks", "service": str(service.id)})


async def subscription_of(
    session: AsyncSession, principal: Principal, slug: str, subscription_id: uuid.UUID,
    *, lock: bool = False,
) -> WebhookSubscription:
    """One subscription of the service; 404 for another service's or an unknown id."""
    service = await service_for_admin(session, principal, slug)
    query = select(WebhookSubscription).where(
        WebhookSubscription.id == subscription_id, WebhookSubscription.service_id == service.id)
    if lock:
        query = query.with_for_update()
    subscription = (await session.exec(query)).first()
    if lock:  # the write's instant is taken after it (app.core.clock.locked)
        clock.locked(("webhook_subscription", subscription_id))
    if subscription is None:
        raise NotFound("No such webhook subscription.")
    return subscription


async def deactivate_subscription(
    session: AsyncSession, principal: Principal, slug: str, subscription_id: uuid.UUID
) -> WebhookSubscription:
    """Deactivate a subscription and give up its pending deliveries (admin; audited once)."""
    subscription = await subscription_of(session, principal, slug, subscription_id, lock=True)
    if not subscription.active:
        return subscription
    now = utcnow()
    _deactivate(subscription, now, "deleted")
    session.add(subscription)
    await session.flush()
    await _fail_pending(session, subscription.id, "subscription deactivated")
    await record_audit(
        session, principal, "webhook.delete", "webhook_subscription", subscription.id,
        service_id=subscription.service_id, change={"active": False, "url": subscription.url},
    )
    return subscription


def _deactivate(subscription: WebhookSubscription, now: datetime, reason: str) -> None:
    subscription.active = False
    subscription.deactivated_at = now
    subscription.deactivated_reason = reason


async def _fail_pending(session: AsyncSession, subscription_id: uuid.UUID, error: str) -> None:
    """Give up every pending delivery of a subscription (flush only)."""
    stmt = (sa.update(WebhookDelivery)
            .where(col(WebhookDelivery.subscription_id) == subscription_id,
                   col(WebhookDelivery.status) == DeliveryStatus.pending)
            .values(status=DeliveryStatus.failed, next_attempt_at=None, last_error=error))
    await (await session.connection()).execute(stmt)


DELIVERY_ORDER = paging.Order(
    ((WebhookDelivery.created_at, "instant"), (WebhookDelivery.id, "uuid")), descending=True)


async def list_deliveries(
    session: AsyncSession, principal: Principal, slug: str, subscription_id: uuid.UUID,
    page: paging.PageArgs, status: DeliveryStatus | None = None,
) -> tuple[list[WebhookDelivery], str | None]:
    """A page of a subscription's deliveries, most recent first, and the next page's
    cursor."""
    subscription = await subscription_of(session, principal, slug, subscription_id)
    query = select(WebhookDelivery).where(WebhookDelivery.subscription_id == subscription.id)
    if status is not None:
        query = query.where(WebhookDelivery.status == status)
    return await paging.keyset_page(
        session, query, DELIVERY_ORDER, page,
        {"list": "deliveries", "subscription": str(subscription.id),
         "status": status.value if status is not None else None})


# The dispatcher ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Claimed:
    """A delivery claimed for one attempt, with all it needs to be sent without the database."""

    delivery_id: uuid.UUID
    subscription_id: uuid.UUID
    attempt: int
    url: str
    secret: str
    body: str
    claimed_at: datetime


@dataclass(frozen=True)
class Outcome:
    """What the receiver answered (a status code) or why there was no answer; ``sent`` False:
    the delivery was not POSTed at all (``error`` says why: its subscription was switched off,
    by a 410 or its owner, during the pass; ATTACK35A-6)."""

    status_code: int | None
    error: str | None
    sent: bool = True


# Why a claimed delivery was not POSTed (its row: not attempted, ``attempts`` back as it was).
NOT_SENT_GONE = "not sent: the subscription was deactivated (410 Gone) during the pass"
NOT_SENT_OFF = "not sent: the subscription was deactivated during the pass"
NOT_SENT_LEASE = "not sent: the pass's lease on it ran out; sent by a later pass"


@dataclass
class PassResult:
    """What one dispatcher pass did."""

    fanned_out: int = 0
    delivered: int = 0
    retrying: int = 0
    failed: int = 0


def _insert(session: AsyncSession) -> Any:
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


async def fan_out(
    session: AsyncSession, now: datetime, limit: int = BATCH_SIZE,
    service_id: uuid.UUID | None = None,
) -> int:
    """Lock a batch of undispatched outbox events, queue a delivery per matching active
    subscription and mark them dispatched (flush only); answer how many events.

    A subscription gets only events written since it was created: a new endpoint is never sent
    the backlog of child data that was waiting for the dispatcher when it subscribed."""
    # Plain rows of what the fan-out needs (no ORM object, no payload decoded per event).
    query = sa.select(col(OutboxEvent.id), col(OutboxEvent.service_id), col(OutboxEvent.type),
                      col(OutboxEvent.created_at)) \
        .where(col(OutboxEvent.dispatched_at).is_(None))
    if service_id is not None:
        query = query.where(col(OutboxEvent.service_id) == service_id)
    query = query.order_by(col(OutboxEvent.created_at), col(OutboxEvent.id)).limit(limit)
    events = list((await session.exec(  # type: ignore[call-overload]
        query.with_for_update(skip_locked=True))).all())
    if not events:
        return 0
    services = {e.service_id for e in events if e.service_id is not None}
    subscriptions = (await session.exec(select(WebhookSubscription).where(
        col(WebhookSubscription.service_id).in_(services),
        col(WebhookSubscription.active).is_(True)))).all() if services else []
    rows = [
        {"id": new_id(), "service_id": s.service_id, "subscription_id": s.id,
         "outbox_event_id": e.id, "event_type": e.type, "status": DeliveryStatus.pending,
         "attempts": 0, "next_attempt_at": now, "created_at": now}
        for e in events for s in subscriptions
        if s.service_id == e.service_id and matches(s, e.type) and e.created_at >= s.created_at
    ]
    conn = await session.connection()
    if rows:  # executemany: paged into multi-row INSERTs within the bind-parameter limit
        await conn.execute(_insert(session)(WebhookDelivery).on_conflict_do_nothing(), rows)
    await conn.execute(sa.update(OutboxEvent)
                       .where(col(OutboxEvent.id).in_([e.id for e in events]))
                       .values(dispatched_at=now))
    return len(events)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def event_body(event: OutboxEvent, slug: str) -> str:
    """The JSON body sent for an outbox event (the exact bytes that are signed)."""
    data = {**(event.payload or {}), "service": slug, "entity_id": str(event.entity_id),
            "event_id": str(event.id)}
    return json.dumps({"type": event.type, "timestamp": _iso(event.created_at), "data": data},
                      separators=(",", ":"), sort_keys=True)


async def claim_due(
    session: AsyncSession, now: datetime, limit: int = BATCH_SIZE,
    service_id: uuid.UUID | None = None,
) -> tuple[int, list[Claimed]]:
    """Lock a batch of due pending deliveries, lease them (``next_attempt_at`` one lease ahead,
    the attempt counted) and answer (rows locked, those to send); commit before sending.
    Deliveries of a deactivated subscription, or out of attempts, are given up instead."""
    query = (
        select(WebhookDelivery, WebhookSubscription, OutboxEvent, Service.slug)
        .join(WebhookSubscription,
              col(WebhookSubscription.id) == col(WebhookDelivery.subscription_id))
        .join(OutboxEvent, col(OutboxEvent.id) == col(WebhookDelivery.outbox_event_id))
        .join(Service, col(Service.id) == col(WebhookDelivery.service_id))
        .where(WebhookDelivery.status == DeliveryStatus.pending,
               col(WebhookDelivery.next_attempt_at) <= now)
    )
    if service_id is not None:
        query = query.where(WebhookDelivery.service_id == service_id)
    query = query.order_by(col(WebhookDelivery.next_attempt_at), col(WebhookDelivery.id))
    rows = (await session.exec(
        query.limit(limit).with_for_update(skip_locked=True, of=WebhookDelivery))).all()
    claimed: list[Claimed] = []
    for delivery, subscription, event, slug in rows:
        if not subscription.active or delivery.attempts >= MAX_ATTEMPTS:
            delivery.status, delivery.next_attempt_at = DeliveryStatus.failed, None
            delivery.last_error = ("subscription deactivated" if not subscription.active
                                   else "gave up: the last attempt's worker was lost")
        else:
            delivery.attempts += 1
            delivery.next_attempt_at = now + LEASE
            claimed.append(Claimed(delivery.id, subscription.id, delivery.attempts,
                                   subscription.url, subscription.secret, event_body(event, slug),
                                   now))
        session.add(delivery)
    await session.flush()
    return len(rows), claimed


def signed_headers(claimed: Claimed, at: datetime) -> dict[str, str]:
    """The Standard Webhooks headers for one attempt at ``at``."""
    signature = Webhook(claimed.secret).sign(str(claimed.delivery_id), at, claimed.body)
    return {
        "webhook-id": str(claimed.delivery_id),
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signature,
        "content-type": "application/json",
        "user-agent": USER_AGENT,
    }


async def send(client: httpx.AsyncClient, claimed: Claimed, env: str = "production",
               allowed_ports: Sequence[int] = DEFAULT_PORTS) -> Outcome:
    """POST one signed delivery (10 s in all) to the address its host resolves to now, once
    vetted public, keeping the name for Host and TLS; the response body is never read nor
    stored. A URL that now leads inside the network is not contacted (a failed attempt)."""
    import httpx

    headers = signed_headers(claimed, clock.real_now())  # receivers check it against real time
    try:
        # httpx's timeout is per network operation; this bounds the whole attempt too.
        async with asyncio.timeout(SEND_TIMEOUT_SECONDS):
            check_url(claimed.url, env, allowed_ports)
            destination = await vet_destination(claimed.url, env)
            extensions = ({"sni_hostname": destination.server_name}
                          if destination.server_name else {})
            async with client.stream(
                "POST", destination.url, content=claimed.body.encode(),
                headers={**headers, "host": destination.host_header}, extensions=extensions,
            ) as response:
                return Outcome(response.status_code, None)
    except DestinationRefused as exc:
        return Outcome(None, f"destination refused: {exc.reason}")
    except Unprocessable:
        return Outcome(None, "destination refused: the URL is no longer allowed")
    except (httpx.TimeoutException, TimeoutError):
        return Outcome(None, f"no answer within {SEND_TIMEOUT_SECONDS:g} s")
    except httpx.HTTPError as exc:
        return Outcome(None, f"{type(exc).__name__}")
    except Exception as exc:  # noqa: BLE001 - one bad endpoint must not stop the pass
        return Outcome(None, f"unexpected {type(exc).__name__}")


def next_delay(attempt: int) -> timedelta:
    """How long after the ``attempt``-th failed attempt the next one is due (with jitter)."""
    base = RETRY_DELAYS[min(attempt, len(RETRY_DELAYS)) - 1]
    return base * (1 + random.uniform(0, RETRY_JITTER))  # timing only, not a secret


def _error_text(outcome: Outcome) -> str:
    if outcome.error is not None:
        return outcome.error[:MAX_ERROR_LENGTH]
    if outcome.status_code is not None and 300 <= outcome.status_code < 400:
        return f"HTTP {outcome.status_code} (redirects are not followed)"
    return f"HTTP {outcome.status_code}"


async def record(
    session: AsyncSession, claimed: Claimed, outcome: Outcome, now: datetime,
    *, timer: Callable[[], datetime] | None = None,
) -> DeliveryStatus | None:
    """Store an attempt's outcome at ``now``, unless another worker has taken the delivery over
    since (then ``None``); 410 Gone deactivates the subscription (flush only): its row is locked
    first and the outcome dated by ``timer`` (the pass's clock; default: ``now``) read after
    the lock."""
    if not outcome.sent:
        return await _record_not_sent(session, claimed, outcome, now)
    code = outcome.status_code
    subscription = None
    if code == 410:  # the subscription's row locked first, the record dated after it
        subscription = await lock_subscription(session, claimed.subscription_id)
        now = timer() if timer is not None else now
    values: dict[str, Any] = {"last_attempt_at": now, "last_status_code": code}
    if code is not None and 200 <= code < 300:
        status = DeliveryStatus.delivered
        values.update(delivered_at=now, next_attempt_at=None, last_error=None)
    elif code == 410 or claimed.attempt >= MAX_ATTEMPTS:
        status = DeliveryStatus.failed
        values.update(next_attempt_at=None, last_error=_error_text(outcome))
    else:
        status = DeliveryStatus.pending
        values.update(next_attempt_at=now + next_delay(claimed.attempt),
                      last_error=_error_text(outcome))
    stmt = (sa.update(WebhookDelivery)
            .where(col(WebhookDelivery.id) == claimed.delivery_id,
                   col(WebhookDelivery.status) == DeliveryStatus.pending,
                   col(WebhookDelivery.attempts) == claimed.attempt)
            .values(status=status, **values))
    result = await (await session.connection()).execute(stmt)
    if result.rowcount == 0:  # type: ignore[attr-defined]
        # Sent while its subscription was switched off (by a 410 another delivery got, or its
        # owner): the row was given up under the POST; it still says what the receiver saw.
        if status is DeliveryStatus.pending:
            status = DeliveryStatus.failed
            values.update(next_attempt_at=None)
        result = await (await session.connection()).execute(
            sa.update(WebhookDelivery)
            .where(_given_up_in_flight(claimed)).values(status=status, **values))
        if result.rowcount == 0:  # type: ignore[attr-defined]
            return None
    if subscription is not None:
        await _gone(session, subscription, now)
    return status


def _given_up_in_flight(claimed: Claimed) -> Any:
    """The delivery's row, given up (its subscription deactivated) while this attempt was
    claimed: failed, not retried, and no attempt recorded since the claim."""
    return sa.and_(col(WebhookDelivery.id) == claimed.delivery_id,
                   col(WebhookDelivery.attempts) == claimed.attempt,
                   col(WebhookDelivery.status) == DeliveryStatus.failed,
                   col(WebhookDelivery.next_attempt_at).is_(None),
                   col(WebhookDelivery.delivered_at).is_(None),
                   sa.or_(col(WebhookDelivery.last_attempt_at).is_(None),
                          col(WebhookDelivery.last_attempt_at) < claimed.claimed_at))


async def _record_not_sent(session: AsyncSession, claimed: Claimed, outcome: Outcome,
                           now: datetime) -> DeliveryStatus | None:
    """A claimed delivery the pass did not POST: not attempted (its ``attempts`` back as before
    the claim, no attempt time nor status code of this pass), with why. Its subscription off,
    it is given up; the lease run out, it is due again at once."""
    conn = await session.connection()
    values: dict[str, Any] = {"attempts": claimed.attempt - 1, "last_error": outcome.error}
    if outcome.error == NOT_SENT_LEASE:
        status = DeliveryStatus.pending
        where = sa.and_(col(WebhookDelivery.id) == claimed.delivery_id,
                        col(WebhookDelivery.status) == DeliveryStatus.pending,
                        col(WebhookDelivery.attempts) == claimed.attempt)
        values["next_attempt_at"] = now
    else:
        status = DeliveryStatus.failed
        where = sa.or_(
            sa.and_(col(WebhookDelivery.id) == claimed.delivery_id,
                    col(WebhookDelivery.status) == DeliveryStatus.pending,
                    col(WebhookDelivery.attempts) == claimed.attempt),
            _given_up_in_flight(claimed))
        values["next_attempt_at"] = None
    result = await conn.execute(sa.update(WebhookDelivery).where(where)
                                .values(status=status, **values))
    return status if result.rowcount else None  # type: ignore[attr-defined]


# Who switches a subscription off when its receiver answers 410 Gone (the audit's actor).
DELIVERER = Principal(sub="system:webhook-worker", roles=frozenset({"system"}), service=None)
GONE_REASON = "receiver answered 410 Gone"


async def lock_subscription(session: AsyncSession, subscription_id: uuid.UUID
                            ) -> WebhookSubscription | None:
    """The subscription, its row locked to the commit (an admin's DELETE waits, or is waited
    for); None if there is none."""
    subscription = await session.get(WebhookSubscription, subscription_id, with_for_update=True)
    clock.locked(("webhook_subscription", subscription_id))
    return subscription


async def _gone(session: AsyncSession, subscription: WebhookSubscription, now: datetime
                ) -> None:
    """The receiver answered 410 Gone: deactivate the subscription (its row locked, ``now``
    read after the lock: an admin's change it waited for is dated before it, as every write's
    instant is taken after its locks; fix32c's leftover) and its pending work."""
    if not subscription.active:
        return
    subscription_id = subscription.id
    _deactivate(subscription, now, GONE_REASON)
    session.add(subscription)
    await session.flush()
    await _fail_pending(session, subscription_id, "subscription deactivated (410 Gone)")
    # A change of state as an admin's DELETE is, so in the service's audit chain as that is
    # (attack pass 16, A16-13), sealed in this transaction with the deactivation.
    await record_audit(
        session, DELIVERER, "webhook.gone", "webhook_subscription", subscription.id,
        service_id=subscription.service_id, role="system", reason=GONE_REASON,
        change={"active": False, "url": subscription.url}, at=now,
    )
    log.warning("webhooks.subscription_gone", subscription_id=str(subscription_id))


def _client(transport: httpx.AsyncBaseTransport | None) -> httpx.AsyncClient:
    import httpx

    return httpx.AsyncClient(transport=transport, timeout=SEND_TIMEOUT_SECONDS,
                             follow_redirects=False, trust_env=False)


async def _send_all(factory: async_sessionmaker[AsyncSession], client: httpx.AsyncClient,
                    batch: list[Claimed], env: str, allowed_ports: Sequence[int],
                    clock: Callable[[], datetime]) -> dict[uuid.UUID, Outcome]:
    """Send the batch: each subscription's deliveries one after another (subscriptions side
    by side, ``CONCURRENCY`` POSTs at most), its row re-read before each POST. After a 410, or
    once the subscription is found switched off (by a 410 another worker got, or its owner),
    the rest of its deliveries are not sent (ATTACK35A-6: a receiver that said Gone was sent
    the rest of the batch). A 410 is recorded at once, in its own transaction, so that a
    concurrent worker's re-read sees the subscription off. Answers each delivery's outcome."""
    gate = asyncio.Semaphore(CONCURRENCY)
    chains: dict[uuid.UUID, list[Claimed]] = {}
    for claimed in batch:
        chains.setdefault(claimed.subscription_id, []).append(claimed)
    outcomes: dict[uuid.UUID, Outcome] = {}

    async def chain(deliveries: list[Claimed]) -> None:
        stop: str | None = None
        for claimed in deliveries:
            if stop is None and clock() >= claimed.claimed_at + LEASE - 2 * timedelta(
                    seconds=SEND_TIMEOUT_SECONDS):
                stop = NOT_SENT_LEASE
            if stop is None and not await _still_active(factory, claimed.subscription_id):
                stop = NOT_SENT_OFF
            if stop is not None:
                outcomes[claimed.delivery_id] = Outcome(None, stop, sent=False)
                continue
            async with gate:
                outcome = await send(client, claimed, env, allowed_ports)
            outcomes[claimed.delivery_id] = outcome
            if outcome.status_code == 410:
                async with factory() as session, session.begin():
                    await record(session, claimed, outcome, clock(), timer=clock)
                stop = NOT_SENT_GONE

    await asyncio.gather(*(chain(c) for c in chains.values()))
    return outcomes


async def _still_active(factory: async_sessionmaker[AsyncSession],
                        subscription_id: uuid.UUID) -> bool:
    """Whether the subscription is active now (its row read afresh, committed state)."""
    async with factory() as session:
        active = (await session.exec(select(WebhookSubscription.active).where(
            col(WebhookSubscription.id) == subscription_id))).one_or_none()
    return bool(active)


async def run_pass(
    factory: async_sessionmaker[AsyncSession],
    transport: httpx.AsyncBaseTransport | None = None,
    *,
    now: datetime | None = None,
    service_id: uuid.UUID | None = None,
    batch_size: int = BATCH_SIZE,
    settings: Settings | None = None,
    fan_out_batch: int = FAN_OUT_BATCH,
) -> PassResult:
    """One pass: fan the outbox out to subscriptions (``fan_out_batch`` events per
    transaction), then send every due delivery (``batch_size`` per claim)."""
    settings = settings or get_settings()
    env, ports = settings.env, tuple(settings.webhook_allowed_ports)
    clock: Callable[[], datetime] = (lambda: now) if now is not None else utcnow
    result = PassResult()
    while True:
        async with factory() as session, session.begin():
            events = await fan_out(session, clock(), fan_out_batch, service_id)
        result.fanned_out += events
        if events < fan_out_batch:
            break
    async with _client(transport) as client:
        while True:
            async with factory() as session, session.begin():
                locked, batch = await claim_due(session, clock(), batch_size, service_id)
            if not locked:
                break
            outcomes = await _send_all(factory, client, batch, env, ports, clock)
            async with factory() as session, session.begin():
                for claimed in batch:
                    outcome = outcomes[claimed.delivery_id]
                    if outcome.status_code == 410:  # recorded as it came
                        result.failed += 1
                        continue
                    _count(result, await record(session, claimed, outcome, clock(),
                                                timer=clock))
    if result.delivered or result.retrying or result.failed:
        log.info("webhooks.pass", fanned_out=result.fanned_out, delivered=result.delivered,
                 retrying=result.retrying, failed=result.failed)
    return result


def _count(result: PassResult, status: DeliveryStatus | None) -> None:
    if status is DeliveryStatus.delivered:
        result.delivered += 1
    elif status is DeliveryStatus.pending:
        result.retrying += 1
    elif status is DeliveryStatus.failed:
        result.failed += 1


async def run_forever(
    factory: async_sessionmaker[AsyncSession],
    interval_seconds: float,
    stop: asyncio.Event | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> None:
    """The delivery loop: a pass every ``interval_seconds`` until ``stop`` is set."""
    await every(interval_seconds, lambda: run_pass(factory, transport), stop or asyncio.Event(),
                "webhooks.pass_failed")
