"""Personal calendar feeds of open steps (iCalendar), and their management."""

from __future__ import annotations

import re
import uuid
from typing import Annotated, Literal

from fastapi import Path, Query, Request, Response

from app.core.deps import CurrentPrincipal, Session
from app.core.errors import NotFound
from app.core.http import PathFilteredRouter
from app.core.query_guard import QueryGuard
from app.domain import calendar_feeds as svc
from app.domain.stand_ins import settle_today
from app.routers.envelopes import Page, PageQuery, Read
from app.routers.gates import GatedRoute, gate

router = PathFilteredRouter(route_class=GatedRoute, tags=["calendar"])
TOKEN = re.compile(r"[A-Za-z0-9_-]{20,100}")


def _base(request: Request) -> str:
    """The base of the URLs the service hands out: ``YJ_PUBLIC_BASE_URL``, else the request's
    own (its Host and scheme: what the client or a proxy says, A26a-16)."""
    configured: str | None = request.app.state.settings.public_base_url
    return configured or str(request.base_url).rstrip("/")


@router.post("/v1/me/calendar-feeds", status_code=201, response_model=Read[svc.CalendarFeedOut],
             dependencies=[gate("calendar.manage")])
async def create_feed(
    request: Request, session: Session, principal: CurrentPrincipal
) -> Read[svc.CalendarFeedOut]:
    """A personal, unguessable, revocable iCalendar URL of your open steps (shown only now:
    keep it like a password; subscribe to it from your calendar). It lapses at ``expires_at``
    (``YJ_CALENDAR_FEED_DAYS`` after it was made, 90 by default): make a new one then. 409
    ``too-many-calendar-feeds`` when you already hold ``YJ_CALENDAR_FEEDS_PER_PERSON`` (5)
    live feeds."""
    settings = request.app.state.settings
    feed, token = await svc.create_feed(session, principal, days=settings.calendar_feed_days,
                                        cap=settings.calendar_feeds_per_person)
    return Read(data=svc.feed_out(feed, settings.calendar_feed_days,
                                  f"{_base(request)}/v1/calendar/{token}.ics"))


@router.get("/v1/me/calendar-feeds", response_model=Page[svc.CalendarFeedOut],
            dependencies=[gate("calendar.manage")])
async def list_feeds(request: Request, session: Session, principal: CurrentPrincipal,
                     page: PageQuery) -> Page[svc.CalendarFeedOut]:
    """Your live calendar feeds (not revoked, not lapsed), oldest first, a page at a time
    (their URLs are never shown again)."""
    days = request.app.state.settings.calendar_feed_days
    rows, following = await svc.list_feeds(session, principal, page, days=days)
    return Page(data=[svc.feed_out(f, days) for f in rows], next_cursor=following)


@router.delete("/v1/me/calendar-feeds/{feed_id}", status_code=204,
               dependencies=[gate("calendar.manage")])
async def revoke_feed(feed_id: uuid.UUID, request: Request, session: Session,
                      principal: CurrentPrincipal) -> Response:
    """Revoke one of your feeds: its URL answers 404 at once."""
    await svc.revoke_feed(session, principal, feed_id,
                          days=request.app.state.settings.calendar_feed_days)
    return Response(status_code=204)


StaffId = Annotated[str, Path(max_length=128, description="the person's staff id (token `sub`)")]


@router.get("/v1/services/{slug}/staff/{staff_id}/calendar-feeds",
            response_model=Page[svc.CalendarFeedOut],
            dependencies=[gate("calendar.administer")])
async def list_staff_feeds(slug: str, staff_id: StaffId, request: Request, session: Session,
                           principal: CurrentPrincipal, page: PageQuery
                           ) -> Page[svc.CalendarFeedOut]:
    """A person's live calendar feeds in the service, oldest first (a duty manager of the
    service, or an admin; their URLs are never shown): what a leaver or a lost phone still
    has."""
    days = request.app.state.settings.calendar_feed_days
    rows, following = await svc.list_staff_feeds(session, principal, slug, staff_id, page,
                                                 days=days)
    return Page(data=[svc.feed_out(f, days) for f in rows], next_cursor=following)


@router.delete("/v1/services/{slug}/staff/{staff_id}/calendar-feeds",
               response_model=Read[svc.FeedsRevoked],
               dependencies=[gate("calendar.administer")])
async def revoke_staff_feeds(slug: str, staff_id: StaffId, request: Request, session: Session,
                             principal: CurrentPrincipal) -> Read[svc.FeedsRevoked]:
    """Revoke every live calendar feed of a person in the service (a duty manager of the
    service, or an admin: part of a leaver's process, or a lost phone): each URL answers 404
    at once, each revocation is audited; ``revoked`` says how many (0 when they held none)."""
    revoked = await svc.revoke_staff_feeds(session, principal, slug, staff_id,
                                           days=request.app.state.settings.calendar_feed_days)
    return Read(data=svc.FeedsRevoked(staff_id=staff_id, revoked=revoked))


@router.get("/v1/calendar/{token}.ics", response_class=Response, dependencies=[QueryGuard],
            responses={200: {"content": {"text/calendar": {}},
                             "description": "RFC 5545 calendar (VTODO per open step)"}})
async def calendar(
    token: str, request: Request, session: Session,
    format: Annotated[Literal["todos", "events"], Query(
        description="todos (VTODO with DUE) or events (VEVENT ending at the due time)")] = "todos",
) -> Response:
    """Your open steps as iCalendar (the URL is the credential: no bearer header); DUE in
    Europe/London, urgent steps PRIORITY 1; 404 for an unknown, revoked or lapsed feed."""
    if not TOKEN.fullmatch(token):
        raise NotFound("No such calendar.")
    state = request.app.state
    service, items = await svc.feed_steps(
        session, token, lambda slug: settle_today(state.session_factory, state.policy, slug),
        days=state.settings.calendar_feed_days)
    names = service.slug in request.app.state.settings.calendar_child_names_services
    body = svc.to_ical(service, items, _base(request), names, as_events=format == "events")
    return Response(body, media_type="text/calendar; charset=utf-8",
                    headers={"Cache-Control": "private, no-store",
                             "Referrer-Policy": "no-referrer"})
