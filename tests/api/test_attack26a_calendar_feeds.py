"""Attack pass 26a, A26a-8 (data protection): a calendar feed URL is a credential that outlived
its owner. It never lapsed, only its owner could revoke it (with a live token of theirs: a
leaver whose identity provider account is disabled cannot), and one person could make any
number. Now: each feed lapses ``YJ_CALENDAR_FEED_DAYS`` (90) after it was made, a person holds
at most ``YJ_CALENDAR_FEEDS_PER_PERSON`` (5) live feeds, and a duty manager of the service or an
admin lists and revokes a person's feeds by staff id. From the attacker's side: the URL a
leaver kept stops answering.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from sqlmodel import col, select

from app.core import clock
from app.core.config import Settings
from app.core.security import mint_dev_token
from app.domain.audit import AuditEntry
from app.main import create_app
from tests.api.support import Factory, db  # noqa: F401 - fixture
from tests.conftest import Tenant, make_tenant


async def new_feed(t: Tenant, sub: str = "case_holder-1", role: str = "case_holder"
                   ) -> dict[str, Any]:
    r = await t.client.post("/v1/me/calendar-feeds", headers=t.auth(role, sub))
    assert r.status_code == 201, r.text
    return r.json()["data"]  # type: ignore[no-any-return]


async def fetch(t: Tenant, url: str) -> httpx.Response:
    """GET a feed URL without any bearer header, as a calendar client does."""
    return await t.client.get(url.removeprefix("http://yjrisk.test"))


def admin(t: Tenant, service: str | None = None) -> dict[str, str]:
    token = mint_dev_token(t.settings, sub="admin-1", roles=["admin"], service=service)
    return {"Authorization": f"Bearer {token}"}


def staff_feeds(t: Tenant, staff_id: str, slug: str | None = None) -> str:
    return f"/v1/services/{slug or t.slug}/staff/{staff_id}/calendar-feeds"


async def test_a_feed_lapses_after_the_configured_days(
    somerset: Tenant, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The URL kept by someone who left answers 404 once ``YJ_CALENDAR_FEED_DAYS`` (90 by
    default) have passed since it was made: before, it served for ever. Its owner is told when
    (``expires_at``), and a lapsed feed leaves their list and cannot be revoked again."""
    feed = await new_feed(somerset)
    made = datetime.fromisoformat(feed["created_at"].replace("Z", "+00:00"))
    assert feed["expires_at"] is not None
    lapses = datetime.fromisoformat(feed["expires_at"].replace("Z", "+00:00"))
    assert lapses - made == timedelta(days=somerset.settings.calendar_feed_days) == timedelta(
        days=90)
    monkeypatch.setattr(clock, "now", lambda: lapses - timedelta(minutes=1))
    assert (await fetch(somerset, feed["url"])).status_code == 200
    monkeypatch.setattr(clock, "now", lambda: lapses + timedelta(minutes=1))
    gone = await fetch(somerset, feed["url"])
    assert gone.status_code == 404
    assert gone.json()["detail"] == "No such calendar."
    mine = await somerset.client.get("/v1/me/calendar-feeds",
                                     headers=somerset.auth("case_holder"))
    assert mine.json()["data"] == []
    r = await somerset.client.delete(f"/v1/me/calendar-feeds/{feed['id']}",
                                     headers=somerset.auth("case_holder"))
    assert r.status_code == 404


async def test_a_person_holds_at_most_five_live_feeds(somerset: Tenant) -> None:
    """One person made 30 live feeds in a row, all 201. Now the sixth live one is 409
    ``too-many-calendar-feeds``; revoking one makes room again; another person is not
    counted against them."""
    feeds = [await new_feed(somerset) for _ in range(5)]
    r = await somerset.client.post("/v1/me/calendar-feeds", headers=somerset.auth("case_holder"))
    assert r.status_code == 409, r.text
    assert r.json()["type"].endswith("/too-many-calendar-feeds")
    await new_feed(somerset, "case_holder-2")
    r = await somerset.client.delete(f"/v1/me/calendar-feeds/{feeds[0]['id']}",
                                     headers=somerset.auth("case_holder"))
    assert r.status_code == 204
    await new_feed(somerset)


@pytest.mark.parametrize("manager", ["duty_manager", "admin", "service_admin"])
async def test_a_manager_lists_and_revokes_a_leavers_feeds(
    client: httpx.AsyncClient, settings: Any, somerset: Tenant, db: Factory,  # noqa: F811
    manager: str,
) -> None:
    """A leaver cannot revoke their feeds (no token any more). A duty manager of the service or
    an admin lists them by staff id (no URL shown) and revokes them all: each URL answers 404
    at once, each revocation is audited under the manager; another person's feed is kept."""
    kept = await new_feed(somerset, "case_holder-2")
    leaver = [await new_feed(somerset, "leaver-1"),
              await new_feed(somerset, "leaver-1", "duty_manager")]
    headers = {"duty_manager": somerset.auth("duty_manager", "dm-1"),
               "admin": admin(somerset), "service_admin": admin(somerset, somerset.slug)}[manager]
    listed = await client.get(staff_feeds(somerset, "leaver-1"), headers=headers)
    assert listed.status_code == 200, listed.text
    assert [(f["id"], f["url"]) for f in listed.json()["data"]] == [
        (f["id"], None) for f in leaver]
    r = await client.delete(staff_feeds(somerset, "leaver-1"), headers=headers)
    assert r.status_code == 200, r.text
    assert r.json()["data"] == {"staff_id": "leaver-1", "revoked": 2}
    for feed in leaver:
        assert (await fetch(somerset, feed["url"])).status_code == 404
    assert (await fetch(somerset, kept["url"])).status_code == 200
    again = await client.delete(staff_feeds(somerset, "leaver-1"), headers=headers)
    assert again.json()["data"]["revoked"] == 0
    async with db() as session:
        audited = (await session.exec(select(AuditEntry).where(
            AuditEntry.action == "calendar_feed.revoke",
            col(AuditEntry.entity_id).in_([uuid.UUID(f["id"]) for f in leaver])))).all()
    assert len(audited) == 2
    assert {a.actor_sub for a in audited} == {"dm-1" if manager == "duty_manager" else "admin-1"}


async def test_only_the_services_duty_managers_and_admins_manage_a_persons_feeds(
    client: httpx.AsyncClient, settings: Any, somerset: Tenant,
) -> None:
    """Other roles are 403 (before anything is read); another service's duty manager or an
    admin bound to another service is 404 "No such service." (as for webhooks), and nothing
    is revoked."""
    feed = await new_feed(somerset, "leaver-1")
    url = staff_feeds(somerset, "leaver-1")
    for role in ("case_holder", "line_manager", "chair", "panel_admin"):
        r = await client.delete(url, headers=somerset.auth(role))
        assert r.status_code == 403, (role, r.text)
        r = await client.get(url, headers=somerset.auth(role))
        assert r.status_code == 403, (role, r.text)
    other = await make_tenant(client, settings, "somerset-yjt-2023")
    for headers in (other.auth("duty_manager"), admin(somerset, other.slug)):
        for method in ("GET", "DELETE"):
            r = await client.request(method, url, headers=headers)
            assert r.status_code == 404, r.text
            assert r.json()["detail"] == "No such service."
    assert (await fetch(somerset, feed["url"])).status_code == 200


async def test_lapsed_feeds_do_not_count_against_the_cap(
    somerset: Tenant, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Feeds that have lapsed are not live: after 90 days the person may make five anew."""
    for _ in range(5):
        await new_feed(somerset)
    later = datetime.now(UTC) + timedelta(days=91)
    monkeypatch.setattr(clock, "now", lambda: later)
    await new_feed(somerset)


async def test_the_feed_url_is_built_on_the_configured_public_address(
    settings: Settings, somerset: Tenant,
) -> None:
    """A26a-16: the URL (the only credential of a feed) was built from the request's Host
    header and scheme, so a crafted Host or a proxy passing the client's Host through handed
    staff a URL naming another host, or ``http://`` behind a TLS-terminating proxy. With
    ``YJ_PUBLIC_BASE_URL`` set, the URL and the step links in the feed are built on it,
    whatever Host the request names."""
    public = "https://yjrisk.example.org/risk"
    app = create_app(settings.model_copy(update={"public_base_url": public}))
    transport = httpx.ASGITransport(app=app)
    async with LifespanManager(app, startup_timeout=60, shutdown_timeout=60), httpx.AsyncClient(
            transport=transport, base_url="http://evil.example") as client:
        r = await client.post("/v1/me/calendar-feeds", headers={
            **somerset.auth("case_holder"), "Host": "evil.example",
            "X-Forwarded-Proto": "http"})
        assert r.status_code == 201, r.text
        url = r.json()["data"]["url"]
        assert url.startswith(f"{public}/v1/calendar/"), url
        assert "evil" not in url
        feed = await client.get(url.removeprefix(public), headers={"Host": "evil.example"})
        assert feed.status_code == 200
        assert b"evil.example" not in feed.content


@pytest.mark.parametrize("value", ["http://yjrisk.example.org", "ftp://x.example",
                                   "https://x.example/?q=1", "https://user:pw@x.example",
                                   "yjrisk.example.org"])
def test_a_public_base_url_that_is_not_https_or_not_a_base_is_refused(value: str) -> None:
    """Outside dev/test the public address must be https (its URLs are credentials), and in
    any environment an absolute base (no query, fragment or credentials)."""
    with pytest.raises(Exception, match="YJ_PUBLIC_BASE_URL|public base URL"):
        Settings(env="production", jwt_secret="x" * 40, public_base_url=value,
                 _env_file=None)  # type: ignore[call-arg]


async def test_racing_creates_never_pass_the_cap(somerset: Tenant) -> None:
    """Two feeds asked for at once by a person holding four: exactly one is made (201) and the
    other is 409 ``too-many-calendar-feeds``; before, both counted four and both were made
    (the cap was read before anything serialised the person's creates). Raced ten times, each
    a fresh person, on SQLite and PostgreSQL (``YJ_TEST_DB=postgres``); the stored feeds agree."""
    import asyncio

    for n in range(10):
        sub = f"case_holder-race{n}-{uuid.uuid4().hex[:6]}"
        for _ in range(4):
            await new_feed(somerset, sub)
        answers = await asyncio.gather(*(
            somerset.client.post("/v1/me/calendar-feeds", headers=somerset.auth("case_holder", sub))
            for _ in range(2)))
        assert sorted(a.status_code for a in answers) == [201, 409], [a.text for a in answers]
        refused = next(a for a in answers if a.status_code == 409)
        assert refused.json()["type"].endswith("/too-many-calendar-feeds")
        listed = await somerset.client.get("/v1/me/calendar-feeds",
                                           headers=somerset.auth("case_holder", sub))
        assert listed.status_code == 200, listed.text
        assert len(listed.json()["data"]) == 5
