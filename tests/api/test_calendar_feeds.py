"""Personal calendar feeds of open steps (issue 14, part 4), parsed back with icalendar.

Wokingham, "Internal and External Controls": a new incident is reported to the line manager
immediately (W5, urgent) and recorded within a working day (W4); a statutory case reviews its
assessment within three weeks (W6). The incident falls before the clocks go back (Sunday 25
October 2026) and the review after, so DUE times carry both London offsets.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime, timedelta
from typing import Any

import httpx
from icalendar import Calendar
from sqlmodel import select

from app.core.config import Settings
from app.core.db import build_engine, session_factory
from app.domain.calendar_feeds import CalendarFeed
from tests.api.management import PROBLEM, open_steps, post_event
from tests.api.support import restrict
from tests.conftest import Tenant, make_tenant


async def new_feed(t: Tenant, role: str = "case_holder", sub: str | None = None) -> Any:
    """Create a feed; answers its data (with the URL)."""
    r = await t.client.post("/v1/me/calendar-feeds", headers=t.auth(role, sub))
    assert r.status_code == 201, r.text
    return r.json()["data"]


async def fetch(t: Tenant, url: str) -> httpx.Response:
    """GET a feed URL without any bearer header, as a calendar client does."""
    return await t.client.get(url.removeprefix("http://yjrisk.test"))


def todos(body: bytes) -> dict[str, Any]:
    """The VTODOs of a calendar, by UID."""
    cal = Calendar.from_ical(body)
    return {str(c["uid"]): c for c in cal.walk("VTODO")}


async def test_feed_lists_my_open_steps_in_london_time_across_clock_change(
    wokingham: Tenant,
) -> None:
    """DUE in Europe/London (+01:00 before 25 October, +00:00 after), the same instants as the
    API; urgent W5 PRIORITY 1; summary = title + external reference, no child name; a link."""
    case = (await wokingham.open_case(external_ref={"system": "IYSS", "id": "Y-2041"}))["data"]
    await post_event(wokingham, case["id"], type="new_incident", occurred_at="2026-10-22T13:00:00Z")
    other = (await wokingham.open_case(case_holder_id="case_holder-2"))["data"]
    await post_event(wokingham, other["id"], "case_holder-2", type="new_incident",
                     occurred_at="2026-10-22T13:00:00Z")
    steps = await open_steps(wokingham, case["id"])
    feed = await new_feed(wokingham)
    assert feed["url"].startswith("http://yjrisk.test/v1/calendar/")
    r = await fetch(wokingham, feed["url"])
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/calendar")
    assert "no-store" in r.headers["cache-control"]
    entries = todos(r.content)
    mine = {f"{s['id']}@yjrisk" for s in steps.values() if s["assignee_id"] == "case_holder-1"}
    assert set(entries) == mine
    w5 = entries[f"{steps['report_to_line_manager']['id']}@yjrisk"]
    due = w5.decoded("due")
    assert due == datetime.fromisoformat(steps["report_to_line_manager"]["due_at"])
    assert str(due.tzinfo) == "Europe/London"
    assert due.utcoffset() == timedelta(hours=1)  # 14:00 BST
    assert (due.hour, int(w5["priority"])) == (14, 1)
    w6 = entries[f"{steps['review_assessment']['id']}@yjrisk"]
    due = w6.decoded("due")
    assert due == datetime.fromisoformat(steps["review_assessment"]["due_at"])
    assert due.date().isoformat() == "2026-11-12"
    assert due.utcoffset() == timedelta(0)  # GMT after the clocks went back
    assert int(w6["priority"]) == 5
    assert str(w6["summary"]) == f"{steps['review_assessment']['title']} - IYSS Y-2041"
    assert "Sam" not in r.text
    assert "Taylor" not in r.text
    assert str(w6["url"]).endswith(f"/v1/next-steps/{steps['review_assessment']['id']}")
    assert Calendar.from_ical(r.content).walk("VTIMEZONE")[0]["tzid"] == "Europe/London"


async def test_revoked_feed_is_404_at_once(wokingham: Tenant) -> None:
    """DELETE revokes: the URL answers 404 immediately; a second DELETE is 404 too."""
    feed = await new_feed(wokingham)
    assert (await fetch(wokingham, feed["url"])).status_code == 200
    r = await wokingham.client.delete(f"/v1/me/calendar-feeds/{feed['id']}",
                                      headers=wokingham.auth("case_holder"))
    assert r.status_code == 204
    r = await fetch(wokingham, feed["url"])
    assert r.status_code == 404
    assert r.headers["content-type"].startswith(PROBLEM)
    r = await wokingham.client.delete(f"/v1/me/calendar-feeds/{feed['id']}",
                                      headers=wokingham.auth("case_holder"))
    assert r.status_code == 404


async def test_only_the_owner_may_revoke(client: httpx.AsyncClient, settings: Any,
                                         wokingham: Tenant) -> None:
    """Another member of staff, or the same staff id in another service, cannot revoke it."""
    feed = await new_feed(wokingham)
    r = await wokingham.client.delete(f"/v1/me/calendar-feeds/{feed['id']}",
                                      headers=wokingham.auth("case_holder", "case_holder-2"))
    assert r.status_code == 404
    other = await make_tenant(client, settings, "wokingham-pyjs-2024")
    r = await other.client.delete(f"/v1/me/calendar-feeds/{feed['id']}",
                                  headers=other.auth("case_holder"))
    assert r.status_code == 404
    assert (await fetch(wokingham, feed["url"])).status_code == 200


async def test_token_is_stored_only_as_a_hash(settings: Settings, wokingham: Tenant) -> None:
    """The database holds the SHA-256 of the token, never the token; the list never shows
    the URL again."""
    feed = await new_feed(wokingham)
    token = feed["url"].rsplit("/", 1)[1].removesuffix(".ics")
    assert len(token) >= 43  # 256 random bits
    engine = build_engine(settings)
    try:
        async with session_factory(engine)() as session:
            row = (await session.exec(select(CalendarFeed).where(
                CalendarFeed.id == uuid.UUID(feed["id"])))).one()
    finally:
        await engine.dispose()
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in repr(row.model_dump())
    listed = await wokingham.client.get("/v1/me/calendar-feeds",
                                        headers=wokingham.auth("case_holder"))
    assert [(f["id"], f["url"]) for f in listed.json()["data"]] == [(feed["id"], None)]


async def test_unknown_or_malformed_token_is_404(wokingham: Tenant) -> None:
    """Guessing gives nothing away: 404 for a wrong, short or odd token."""
    for token in ("A" * 43, "x", "..%2F..", "A" * 200):
        r = await wokingham.client.get(f"/v1/calendar/{token}.ics")
        assert r.status_code == 404, token


async def test_admin_and_feed_roles_have_no_calendar(wokingham: Tenant) -> None:
    """Only staff roles have steps to show: a feed client's token gets 403."""
    r = await wokingham.client.post("/v1/me/calendar-feeds", headers=wokingham.auth("feed"))
    assert r.status_code == 403


async def test_events_format_for_event_only_clients(wokingham: Tenant) -> None:
    """?format=events: a VEVENT ending at each due time (London), urgent flagged; steps without
    a due time left out."""
    case = (await wokingham.open_case())["data"]
    await post_event(wokingham, case["id"], type="new_incident", occurred_at="2026-10-22T13:00:00Z")
    steps = await open_steps(wokingham, case["id"])
    feed = await new_feed(wokingham)
    r = await fetch(wokingham, feed["url"] + "?format=events")
    assert r.status_code == 200, r.text
    cal = Calendar.from_ical(r.content)
    assert cal.walk("VTODO") == []
    events = {str(e["uid"]): e for e in cal.walk("VEVENT")}
    dated = {f"{s['id']}@yjrisk" for s in steps.values() if s["due_at"]}
    assert set(events) == dated
    w5 = events[f"{steps['report_to_line_manager']['id']}@yjrisk"]
    assert w5.decoded("dtend") == datetime.fromisoformat(
        steps["report_to_line_manager"]["due_at"])
    assert w5.decoded("dtend") - w5.decoded("dtstart") == timedelta(minutes=15)
    assert (int(w5["priority"]), w5.decoded("dtend").utcoffset()) == (1, timedelta(hours=1))
    w6 = events[f"{steps['review_assessment']['id']}@yjrisk"]
    assert w6.decoded("dtend").utcoffset() == timedelta(0)
    r = await fetch(wokingham, feed["url"] + "?format=json")
    assert r.status_code == 422


async def test_restricted_case_leaves_the_calendar(client: httpx.AsyncClient,
                                                  somerset: Tenant) -> None:
    """Somerset 2.2, 3.1 (S16): a duty manager who records a judgement must advise the line
    manager; once that duty manager is shut out of the case, the step leaves their calendar."""
    case = (await somerset.open_case())["data"]
    r = await somerset.client.post(
        f"/v1/cases/{case['id']}/judgements", headers=somerset.auth("duty_manager", "dm-7"),
        json={"domain": "rosh", "level": "high", "occurred_at": "2026-08-28T15:30:00+01:00"})
    assert r.status_code == 201, r.text
    advise = next(s for s in r.json()["next_steps"] if s["code"] == "advise_line_manager")
    feed = await new_feed(somerset, "duty_manager", "dm-7")
    assert set(todos((await fetch(somerset, feed["url"])).content)) == {f"{advise['id']}@yjrisk"}
    r = await restrict(client, somerset, case["id"], {"excluded_staff": ["dm-7"]})
    assert r.status_code == 200, r.text
    r = await fetch(somerset, feed["url"])
    assert r.status_code == 200
    assert todos(r.content) == {}


async def test_feed_reads_go_into_the_access_log(wokingham: Tenant) -> None:
    """Fetching the feed shows case data: each case in it logs a read by the feed's owner,
    under the route's template (never the token)."""
    case = (await wokingham.open_case())["data"]
    await post_event(wokingham, case["id"], type="new_incident", occurred_at="2026-10-22T13:00:00Z")
    feed = await new_feed(wokingham)
    assert (await fetch(wokingham, feed["url"])).status_code == 200
    r = await wokingham.client.get(f"/v1/cases/{case['id']}/access-log",
                                   headers=wokingham.auth("line_manager"))
    assert r.status_code == 200, r.text
    reads = [(e["actor"], e["role"], e["what"]) for e in r.json()["data"]
             if e["what"].startswith("GET /v1/calendar")]
    assert reads == [("case_holder-1", "case_holder", "GET /v1/calendar/{token}.ics")]
