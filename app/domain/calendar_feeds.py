"""Personal calendar feeds: a revocable, unguessable URL serving the caller's open steps as
iCalendar (calendar clients cannot send a bearer header, so the URL is the credential)."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from pydantic import BaseModel
from sqlmodel import Field, SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.core.errors import Forbidden, NotFound
from app.core.security import STAFF_ROLES, Principal
from app.domain import paging
from app.domain.access import note_read, service_of, visible_cases_clause
from app.domain.audit import record_audit
from app.domain.cases_table import Case
from app.domain.common import JSONType, new_id, utcnow
from app.domain.next_steps import visible_steps_clause
from app.domain.services import Service
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
    url: str | None = None


def token_hash(token: str) -> str:
    """SHA-256 (hex) of a feed token: all the database ever holds of it."""
    return hashlib.sha256(token.encode()).hexdigest()


def feed_out(feed: CalendarFeed, url: str | None = None) -> CalendarFeedOut:
    """Shape a feed for the API."""
    return CalendarFeedOut(id=feed.id, created_at=feed.created_at,
                           last_used_at=feed.last_used_at, url=url)


async def create_feed(
    session: AsyncSession, principal: Principal
) -> tuple[CalendarFeed, str]:
    """A new feed for the caller (any staff role) and its token (256 random bits, shown once)."""
    if not principal.roles & STAFF_ROLES:
        raise Forbidden("Only staff have a caseload to put in a calendar.")
    service = await service_of(session, principal)
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
    session: AsyncSession, principal: Principal, page: paging.PageArgs
) -> tuple[list[CalendarFeed], str | None]:
    """A page of the caller's live feeds, oldest first, and the next page's cursor."""
    service = await service_of(session, principal)
    return await paging.keyset_page(
        session, select(CalendarFeed).where(
            CalendarFeed.service_id == service.id, CalendarFeed.staff_id == principal.sub,
            col(CalendarFeed.revoked_at).is_(None)), FEED_ORDER, page,
        {"list": "calendar-feeds", "service": str(service.id), "staff": principal.sub})


async def revoke_feed(session: AsyncSession, principal: Principal, feed_id: uuid.UUID) -> None:
    """Revoke one of the caller's feeds: its URL answers 404 from now on; 404 for a feed that
    is not the caller's or already revoked."""
    service = await service_of(session, principal)
    feed = (await session.exec(select(CalendarFeed).where(
        CalendarFeed.id == feed_id, CalendarFeed.service_id == service.id,
        CalendarFeed.staff_id == principal.sub, col(CalendarFeed.revoked_at).is_(None),
    ))).first()
    if feed is None:
        raise NotFound("No such calendar feed.")
    feed.revoked_at = utcnow()
    session.add(feed)
    await record_audit(session, principal, "calendar_feed.revoke", "calendar_feed", feed.id,
                       service_id=service.id)


async def feed_steps(
    session: AsyncSession, token: str,
    before_read: Callable[[str], Awaitable[None]] | None = None,
) -> tuple[Service, list[tuple[Step, Case]]]:
    """The open steps of the feed's owner that they may still see (404 for an unknown or
    revoked token): assigned to them, or unassigned for a role of theirs, on a case visible to
    them now. ``before_read`` (the service's slug) runs before the steps are read (the day's
    stand-ins settled: :func:`app.domain.stand_ins.settle_today`)."""
    feed = (await session.exec(select(CalendarFeed).where(
        CalendarFeed.token_hash == token_hash(token), col(CalendarFeed.revoked_at).is_(None),
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
