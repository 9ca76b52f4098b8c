"""Webhook subscriptions of a service and their deliveries (admin)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Path, Request

from app.core.deps import CurrentPrincipal, Session, settings_of
from app.core.http import PathFilteredRouter
from app.domain import webhooks as svc
from app.domain.services import SLUG_PATTERN
from app.routers.envelopes import Page, PageQuery, Read, Written
from app.routers.gates import GatedRoute, gate, rule

router = PathFilteredRouter(route_class=GatedRoute, prefix="/v1/services/{slug}/webhooks",
                            tags=["webhooks"])
Slug = Annotated[str, Path(pattern=SLUG_PATTERN, max_length=64)]
Admin = CurrentPrincipal


@router.post("", status_code=201, response_model=Written[svc.WebhookCreated],
             dependencies=[gate("webhook.manage"), rule(svc.require_admin_of_slug)])
async def create(
    slug: Slug, body: svc.WebhookCreate, request: Request, session: Session, principal: Admin,
) -> Written[svc.WebhookCreated]:
    """Subscribe an endpoint to the service's events; the answer shows the signing secret once."""
    settings = settings_of(request)
    subscription = await svc.create_subscription(
        session, principal, slug, body, settings.env, settings.webhook_allowed_ports)
    out = svc.webhook_out(subscription)
    return Written(data=svc.WebhookCreated(**out.model_dump(), secret=subscription.secret))


@router.get("", response_model=Page[svc.WebhookOut],
             dependencies=[gate("webhook.manage"), rule(svc.require_admin_of_slug)])
async def list_webhooks(
    slug: Slug, session: Session, principal: Admin, page: PageQuery
) -> Page[svc.WebhookOut]:
    """The service's webhook subscriptions, oldest first, a page at a time (never their
    secrets)."""
    rows, following = await svc.list_subscriptions(session, principal, slug, page)
    return Page(data=[svc.webhook_out(s) for s in rows], next_cursor=following)


@router.delete("/{webhook_id}", response_model=Read[svc.WebhookOut],
             dependencies=[gate("webhook.manage"), rule(svc.require_admin_of_slug)])
async def delete(
    slug: Slug, webhook_id: uuid.UUID, session: Session, principal: Admin
) -> Read[svc.WebhookOut]:
    """Deactivate a subscription; its pending deliveries are given up."""
    subscription = await svc.deactivate_subscription(session, principal, slug, webhook_id)
    return Read(data=svc.webhook_out(subscription))


@router.get("/{webhook_id}/deliveries", response_model=Page[svc.DeliveryOut],
             dependencies=[gate("webhook.manage"), rule(svc.require_admin_of_slug)])
async def deliveries(
    slug: Slug, webhook_id: uuid.UUID, session: Session, principal: Admin,
    page: PageQuery, status: svc.DeliveryStatus | None = None,
) -> Page[svc.DeliveryOut]:
    """The subscription's deliveries, most recent first, with their status, a page at a
    time."""
    rows, following = await svc.list_deliveries(session, principal, slug, webhook_id, page,
                                                 status)
    return Page(data=[svc.delivery_out(d) for d in rows], next_cursor=following)
