"""Personal calendar feeds: a revocable, unguessable URL serving the caller's open steps as
iCalendar (calendar clients cannot send a bearer header, so the URL is the credential).

A URL is a credential that outlives the tokens of the person it was made for, so (attack 26a,
A26a-8: a leaver, whose identity provider account is disabled and who can no longer revoke it,
kept a live feed of case references for ever) each feed lapses ``calendar_feed_days`` after it
was made (worked out from ``created_at`` at each use: shortening the setting lapses older feeds
at once), a person holds at most ``calendar_feeds_per_person`` live feeds in a service, and a
duty manager of the service or an admin lists and revokes a person's feeds by staff id. The
service keeps no staff directory (staff are the ``sub`` of the identity provider's tokens), so a
feed cannot ask whether its owner still works there: revoking it is the leaver process's step."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from pydantic import BaseModel
from sqlmodel import Field, SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.core.errors import Conflict, Forbidden, NotFound, Unprocessable
from app.core.security import STAFF_ROLES, Principal
from app.domain import paging
from app.domain.access import (
    lock_for_person,
    note_read,
    require_roles,
    service_of,
    visible_cases_clause,
)
from app.domain.audit import record_audit
from app.domain.cases_table import Case
from app.domain.common import JSONType, new_id, utcnow
from app.domain.next_steps import visible_steps_clause
from app.domain.services import Service, get_service_by_slug
from app.domain.steps import Step, StepStatus

LONDON = ZoneInfo("Europe/London")
EVENT_LENGTH = timedelta(minutes=15)


class CalendarFeed(SQLModel, table=True):
    """A staff member's calendar feed; only the SHA-256 of its token is stored."""

    __tablename__ = "calendar_feed"
    __table_args__ = (sa.Index("ix_calendar_feed_service_staff", "service_id", "staff_id"),)

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    service_id: uuid.UUID = Field(foreign_key="service.id")
    staff_id: str = Field(max_length=128)
    roles: list[str] = Field(default_factory=list, sa_type=JSONType)
    token_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = Field(default_factory=utcnow)
    revoked_at: datetime | None = None
    last_used_at: datetime | None = None


class CalendarFeedOut(BaseModel):
    """A calendar feed as its owner sees it (the URL only once, when created)."""

    id: uuid.UUID
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime
    url: str | None = None


class FeedsRevoked(BaseModel):
    """What revoking a person's calendar feeds did."""

    staff_id: str
    revoked: int


def token_hash(token: str) -> str:
    """SHA-256 (hex) of a feed token: all the database ever holds of it."""
    return hashlib.sha256(token.encode()).hexdigest()


def feed_out(feed: CalendarFeed, days: int, url: str | None = None) -> CalendarFeedOut:
    """Shape a feed for the API (``days``: the feeds' lifetime, ``calendar_feed_days``)."""
    return CalendarFeedOut(id=feed.id, created_at=feed.created_at,
                           last_used_at=feed.last_used_at,
                           expires_at=feed.created_at + timedelta(days=days), url=url)


def live_clause(days: int) -> Any:
    """The feeds still serving: not revoked, made less than ``days`` ago."""
    return sa.and_(col(CalendarFeed.revoked_at).is_(None),
                   col(CalendarFeed.created_at) > utcnow() - timedelta(days=days))


async def create_feed(
    session: AsyncSession, principal: Principal, *, days: int, cap: int
) -> tuple[CalendarFeed, str]:
    """A new feed for the caller (any staff role) and its token (256 random bits, shown once);
    409 ``too-many-calendar-feeds`` when they already hold ``cap`` live ones."""
    if not principal.roles & STAFF_ROLES:
        raise Forbidden("Only staff have a caseload to put in a calendar.")
    service = await service_of(session, principal)
    # The person's creates one at a time, so two at once cannot both count under the cap.
    await lock_for_person(session, service.id, "calendar-feeds", principal.sub)
    live = (await session.exec(select(sa.func.count()).select_from(CalendarFeed).where(
        CalendarFeed.service_id == service.id, CalendarFeed.staff_id == principal.sub,
        live_clause(days)))).one()
    if live >= cap:
        raise Conflict(
            f"You hold {cap} live calendar feeds, the most one person may: revoke one you no "
            "longer use (DELETE /v1/me/calendar-feeds/{id}) before making another.",
            slug="too-many-calendar-feeds")
    token = secrets.token_urlsafe(32)
    feed = CalendarFeed(service_id=service.id, staff_id=principal.sub,
                        roles=sorted(principal.roles & STAFF_ROLES), token_hash=token_hash(token))
    session.add(feed)
    await session.flush()
    await record_audit(session, principal, "calendar_feed.create", "calendar_feed", feed.id,
                       service_id=service.id)
    return feed, token


FEED_ORDER = paging.Order(((CalendarFeed.created_at, "instant"), (CalendarFeed.id, "uuid")))


async def list_feeds(
    session: AsyncSession, principal: Principal, page: paging.PageArgs, *, days: int
) -> tuple[list[CalendarFeed], str | None]:
    """A page of the caller's live feeds, oldest first, and the next page's cursor."""
    service = await service_of(session, principal)
    return await _page_of(session, service, principal.sub, page, days)


async def _page_of(session: AsyncSession, service: Service, staff_id: str,
                   page: paging.PageArgs, days: int) -> tuple[list[CalendarFeed], str | None]:
    return await paging.keyset_page(
        session, select(CalendarFeed).where(
            CalendarFeed.service_id == service.id, CalendarFeed.staff_id == staff_id,
            live_clause(days)), FEED_ORDER, page,
        {"list": "calendar-feeds", "service": str(service.id), "staff": staff_id})


async def revoke_feed(session: AsyncSession, principal: Principal, feed_id: uuid.UUID, *,
                      days: int) -> None:
    """Revoke one of the caller's feeds: its URL answers 404 from now on; 404 for a feed that
    is not the caller's, already revoked or lapsed."""
    service = await service_of(session, principal)
    feed = (await session.exec(select(CalendarFeed).where(
        CalendarFeed.id == feed_id, CalendarFeed.service_id == service.id,
        CalendarFeed.staff_id == principal.sub, live_clause(days),
    ))).first()
    if feed is None:
        raise NotFound("No such calendar feed.")
    feed.revoked_at = utcnow()
    session.add(feed)
    await record_audit(session, principal, "calendar_feed.revoke", "calendar_feed", feed.id,
                       service_id=service.id)


async def staff_feeds_service(
    session: AsyncSession, principal: Principal, slug: str, staff_id: str
) -> Service:
    """The service whose feeds of ``staff_id`` the caller manages: an admin's any (an admin
    token bound to a service, that one), a duty manager's own; 404 "No such service." for
    another or an unknown slug (as for webhooks), 403 for other roles."""
    require_roles(principal, ("admin", "duty_manager"), "manage another person's calendar feeds")
    if not staff_id.strip() or len(staff_id) > 128:
        raise Unprocessable("Not a staff id.", errors=[{"loc": "path.staff_id", "msg": "invalid"}])
    if principal.has("admin"):
        service = (await get_service_by_slug(session, slug)
                   if principal.service in (None, slug) else None)
    else:
        own = await service_of(session, principal)
        service = own if own.slug == slug else None
    if service is None:
        raise NotFound("No such service.")
    return service


async def list_staff_feeds(
    session: AsyncSession, principal: Principal, slug: str, staff_id: str,
    page: paging.PageArgs, *, days: int,
) -> tuple[list[CalendarFeed], str | None]:
    """A page of a person's live feeds in the service (duty managers, admins), oldest first."""
    service = await staff_feeds_service(session, principal, slug, staff_id)
    return await _page_of(session, service, staff_id, page, days)


async def revoke_staff_feeds(
    session: AsyncSession, principal: Principal, slug: str, staff_id: str, *, days: int
) -> int:
    """Revoke every live feed of a person in the service (a leaver; a lost phone): each URL
    answers 404 from now on, each revocation audited; how many were revoked (0 is no error:
    the person holds none, which is what the caller wants)."""
    service = await staff_feeds_service(session, principal, slug, staff_id)
    feeds = (await session.exec(select(CalendarFeed).where(
        CalendarFeed.service_id == service.id, CalendarFeed.staff_id == staff_id,
        live_clause(days)).order_by(col(CalendarFeed.created_at), col(CalendarFeed.id))
        .with_for_update())).all()
    now = utcnow()
    for feed in feeds:
        feed.revoked_at = now
        session.add(feed)
        await record_audit(session, principal, "calendar_feed.revoke", "calendar_feed",
                           feed.id, service_id=service.id, change={"staff_id": staff_id})
    return len(feeds)


async def feed_steps(
    session: AsyncSession, token: str,
    before_read: Callable[[str], Awaitable[None]] | None = None, *, days: int,
) -> tuple[Service, list[tuple[Step, Case]]]:
    """The open steps of the feed's owner that they may still see (404 for an unknown,
    revoked or lapsed token): assigned to them, or unassigned for a role of theirs, on a case
    visible to them now. ``before_read`` (the service's slug) runs before the steps are read
    (the day's stand-ins settled: :func:`app.domain.stand_ins.settle_today`)."""
    feed = (await session.exec(select(CalendarFeed).where(
        CalendarFeed.token_hash == token_hash(token), live_clause(days),
    ))).first()
    service = await session.get(Service, feed.service_id) if feed else None
    if feed is None or service is None:
        raise NotFound("No such calendar.")
    if before_read is not None:
        await before_read(service.slug)
    owner = Principal(sub=feed.staff_id, roles=frozenset(feed.roles), service=service.slug)
    rows = await session.exec(
        select(Step, Case).join(Case, col(Case.id) == col(Step.case_id)).where(
            Step.status == StepStatus.open,
            visible_steps_clause(owner, service.id),
            visible_cases_clause(owner, service.id, panel_view=True),
            sa.or_(col(Step.assignee_id) == owner.sub,
                   sa.and_(col(Step.assignee_id).is_(None),
                           col(Step.actor).in_(sorted(owner.roles)))),
        ).order_by(col(Step.due_at).is_(None), col(Step.due_at), col(Step.id))
    )
    found = [(step, case) for step, case in rows.all()]
    for _, case in found:  # a feed shows case data: its reads go into the cases' access logs
        note_read(session, owner, case)
    feed.last_used_at = utcnow()
    session.add(feed)
    return service, found


def case_label(case: Case, with_names: bool) -> str:
    """How a calendar names a case: its external reference (or a short id), and the child's
    name only where the service allows it."""
    ref = (f"{case.external_system} {case.external_id}" if case.external_system
           and case.external_id else f"case {str(case.id)[:8]}")
    return f"{ref} ({case.given_name} {case.family_name})" if with_names else ref


def to_ical(
    service: Service, items: list[tuple[Step, Case]], base_url: str, with_names: bool,
    *, as_events: bool = False,
) -> bytes:
    """An RFC 5545 calendar: one VTODO per step, DUE in Europe/London, urgent ones PRIORITY 1,
    the steps of a case dealt with as a priority (Somerset 3.2.4; A19-2) PRIORITY 2 and the
    category PRIORITY, others 5, a link to the step. ``as_events``: for clients that show only
    events, a 15-minute VEVENT ending at each due time instead (steps without a due time left
    out)."""
    from icalendar import Calendar, Event, Todo  # only the feeds need it: not loaded at start-up

    cal = Calendar()
    cal.add("prodid", "-//yjrisk//next steps//EN")
    cal.add("version", "2.0")
    cal.add("x-wr-calname", f"yjrisk next steps ({service.slug})")
    cal.add("x-wr-timezone", "Europe/London")
    stamp = utcnow()
    for step, case in items:
        if as_events and step.due_at is None:
            continue
        todo: Todo | Event = Event() if as_events else Todo()
        todo.add("uid", f"{step.id}@yjrisk")
        todo.add("dtstamp", stamp)
        todo.add("summary", f"{step.title} - {case_label(case, with_names)}")
        if step.due_at is not None:
            due = step.due_at.astimezone(LONDON)
            if as_events:
                todo.add("dtstart", due - EVENT_LENGTH)
                todo.add("dtend", due)
            else:
                todo.add("due", due)
                todo.add("status", "NEEDS-ACTION")
        todo.add("priority", 1 if step.urgent else 2 if step.priority else 5)
        categories = ["URGENT"] * step.urgent + ["PRIORITY"] * step.priority
        if categories:
            todo.add("categories", categories)
        todo.add("url", f"{base_url}/v1/next-steps/{step.id}")
        todo.add("description", f"Policy: {step.policy_pack} {step.policy_ref} "
                                f"(rule {step.rule_id}). Actor: {step.actor}.")
        cal.add_component(todo)
    cal.add_missing_timezones()
    return cal.to_ical()
