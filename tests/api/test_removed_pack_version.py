"""Attack 27, ATTACK27-1: a pack file that keeps its id but no longer holds a version that has
been in force for a service went unnoticed: the service started, and the acts of that version's
period were judged by another version, while their steps cited the removed one. The versions a
service has been served with are now recorded (``service_pack_version``), and a start with one
of them no longer loaded is refused, as a start with its whole pack missing is (A26a-17).

Each test has its own database: a start-up reads every service's recorded versions, so a
version recorded in the shared one would stop every later start without its file."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import make_url

from app.core.config import Settings
from app.core.db import build_engine
from app.core.migrate import upgrade
from tests.api.migration_rows import CASE, SERVICE, STEP, old_case, old_step
from tests.conftest import (
    BACKEND,
    Tenant,
    _in_thread,
    _pg_admin,
    database_at,
    make_tenant,
    serving,
)
from tests.workflows.support import WOKINGHAM, revision

SERVED = sa.table("service_pack_version", sa.column("service_id", sa.Uuid()),
                  sa.column("pack_id"), sa.column("version"))


@contextmanager
def _statements() -> Iterator[list[str]]:
    """Every statement any engine of this process sends meanwhile."""
    seen: list[str] = []

    def listen(_conn: Any, _cursor: Any, statement: str, *_a: Any) -> None:
        seen.append(statement)

    event.listen(sa.engine.Engine, "before_cursor_execute", listen)
    try:
        yield seen
    finally:
        event.remove(sa.engine.Engine, "before_cursor_execute", listen)


async def _served(settings: Settings, url: str) -> set[tuple[str, str, str]]:
    """The recorded versions: ``(service slug, pack, version)``."""
    engine = build_engine(settings.model_copy(update={"database_url": url}))
    try:
        async with engine.connect() as conn:
            rows = (await conn.execute(sa.text(
                "SELECT s.slug, v.pack_id, v.version FROM service_pack_version AS v "
                "JOIN service AS s ON s.id = v.service_id"))).all()
    finally:
        await engine.dispose()
    return {(slug, pack, version) for slug, pack, version in rows}


async def _risk_to_staff(t: Tenant, case_id: str, at: str) -> httpx.Response:
    return await t.client.post(f"/v1/cases/{case_id}/events", headers=t.auth("case_holder"),
                               json={"type": "risk_to_staff", "occurred_at": at})


async def _served_with_both(settings: Settings, url: str, packs: Path) -> tuple[str, str]:
    """A service judged by Wokingham 1.0 (its case opened on 2 March 2026) and 2.0 (a risk to
    staff on 2 September 2026, 2.0 in force from 1 September); answers its slug and case."""
    async with serving(settings, url, packs) as c:
        t = await make_tenant(c, settings, WOKINGHAM)
        case = (await t.open_case())["data"]["id"]
        r = await _risk_to_staff(t, case, "2026-09-02T10:00:00+01:00")
        assert r.status_code == 201, r.text
        assert [s["policy"]["version"] for s in r.json()["next_steps"]
                if s["code"] == "record_risk_to_staff"] == ["2.0"]
    return t.slug, case


async def test_ATTACK27_1_a_start_without_a_version_a_service_was_served_with_is_refused(
        settings: Settings, tmp_path: Path) -> None:
    """A service's acts judged by Wokingham 1.0 and 2.0 (YJ_PACKS_DIR): each version is
    recorded by the write it judged. Started again with the 2.0 file gone (the pack's id still
    loaded, bundled 1.0), the app refuses to start, naming the service, the pack and the
    version, rather than judging the acts of 2.0's period by 1.0."""
    revision(tmp_path)
    with database_at("head") as url:
        slug, _ = await _served_with_both(settings, url, tmp_path)
        assert await _served(settings, url) == {(slug, WOKINGHAM, "1.0"),
                                                (slug, WOKINGHAM, "2.0")}
        with pytest.raises(RuntimeError) as refused:
            async with serving(settings, url, None):
                pass
        said = str(refused.value)
        assert said.startswith("refusing to start: ")
        assert "\n" not in said
        for word in (f"service {slug!r}", f"version '2.0' of policy pack {WOKINGHAM!r}",
                     "loaded: '1.0'", "YJ_PACKS_DIR"):
            assert word in said
        async with serving(settings, url, tmp_path) as c:  # the file back: it starts
            assert (await c.get("/readyz")).status_code == 200


async def test_ATTACK27_1_only_the_first_write_of_a_version_records_it(
        settings: Settings, tmp_path: Path) -> None:
    """The version is recorded in the write's transaction by the first write it judges in the
    process (one INSERT, idempotent); the next writes of that version add no statement."""
    with database_at("head") as url:
        async with serving(settings, url, None) as c:
            t = await make_tenant(c, settings, WOKINGHAM)
            with _statements() as first:
                case = (await t.open_case())["data"]["id"]
            with _statements() as second:
                r = await _risk_to_staff(t, case, "2026-08-28T10:00:00+01:00")
            assert r.status_code == 201, r.text
        assert len([s for s in first if "service_pack_version" in s]) == 1
        assert [s for s in second if "service_pack_version" in s] == []
        assert await _served(settings, url) == {(t.slug, WOKINGHAM, "1.0")}
        async with serving(settings, url, None) as c:  # a new process: read at start-up
            t = Tenant(slug=t.slug, pack=WOKINGHAM, settings=settings, client=c)
            with _statements() as again:
                r = await _risk_to_staff(t, case, "2026-08-28T11:00:00+01:00")
            assert r.status_code == 201, r.text
        assert [s for s in again if "service_pack_version" in s] == []


async def test_ATTACK27_1_a_refused_write_records_nothing(
        settings: Settings, tmp_path: Path) -> None:
    """A write the policy refuses (422) is rolled back with the version it noted: nothing
    recorded, and the next write of that version records it."""
    revision(tmp_path)
    with database_at("head") as url:
        async with serving(settings, url, tmp_path) as c:
            t = await make_tenant(c, settings, WOKINGHAM)
            case = (await t.open_case())["data"]["id"]
            bad = await c.post(f"/v1/cases/{case}/events", headers=t.auth("case_holder"),
                               json={"type": "no_such_event",
                                     "occurred_at": "2026-09-02T10:00:00+01:00"})
            assert bad.status_code == 422, bad.text
            assert await _served(settings, url) == {(t.slug, WOKINGHAM, "1.0")}
            r = await _risk_to_staff(t, case, "2026-09-02T10:00:00+01:00")
            assert r.status_code == 201, r.text
        assert await _served(settings, url) == {(t.slug, WOKINGHAM, "1.0"),
                                                (t.slug, WOKINGHAM, "2.0")}


async def test_ATTACK27_1_where_the_start_could_not_look_the_service_is_503(
        settings: Settings, tmp_path: Path) -> None:
    """A start while the database is not there still starts (A21a-3); once it is, the first
    write looks: the acts of the service served with the missing version are 503 with
    Retry-After (never judged by another version), another service's are answered."""
    revision(tmp_path)
    with database_at("head") as url:
        async with serving(settings, url, tmp_path) as c:  # a service served with 1.0 only
            other = await make_tenant(c, settings, WOKINGHAM)
            other_case = (await other.open_case())["data"]["id"]
        slug, case = await _served_with_both(settings, url, tmp_path)
        with _database_away(url) as (away, back):
            async with serving(settings, away, None) as c:
                back()
                t = Tenant(slug=slug, pack=WOKINGHAM, settings=settings, client=c)
                r = await _risk_to_staff(t, case, "2026-09-03T10:00:00+01:00")
                assert r.status_code == 503, r.text
                assert r.json()["type"].endswith("/unavailable")
                assert "version '2.0'" in r.json()["detail"]
                assert int(r.headers["Retry-After"]) >= 1
                o = Tenant(slug=other.slug, pack=WOKINGHAM, settings=settings, client=c)
                r = await _risk_to_staff(o, other_case, "2026-08-28T10:00:00+01:00")
                assert r.status_code == 201, r.text


@contextmanager
def _database_away(url: str) -> Iterator[tuple[str, Any]]:
    """A URL for the database at ``url`` that cannot be connected to until ``back()``:
    PostgreSQL refusing connections (``ALLOW_CONNECTIONS false``); SQLite's file in a folder
    that does not exist yet (``back`` puts a copy there)."""
    if BACKEND == "postgres":
        name = make_url(url).database
        _pg_admin(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS false')

        def allow() -> None:
            _pg_admin(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS true')

        try:
            yield url, allow
        finally:
            allow()
        return
    source = Path(str(make_url(url).database))
    folder = source.parent / f"away-{uuid.uuid4().hex[:8]}"

    def arrive() -> None:
        folder.mkdir()
        (folder / source.name).write_bytes(source.read_bytes())

    yield f"sqlite+aiosqlite:///{folder / source.name}", arrive


async def test_ATTACK27_1_the_upgrade_records_the_versions_steps_already_cite(
        settings: Settings, tmp_path: Path) -> None:
    """A database from before the record (migration 0030): the versions its steps cite
    (``step.policy_version``) are recorded by the upgrade, so a version removed before the
    upgrade is found at the first start after it."""
    revision(tmp_path)
    with database_at("0029") as url:
        engine = build_engine(settings.model_copy(update={"database_url": url}))
        service_id, at = uuid.uuid4(), datetime(2026, 9, 2, 9, tzinfo=UTC)
        case = old_case(service_id, "high", at)
        steps = [{**old_step(case, at), "policy_pack": WOKINGHAM, "code": code}
                 for code in ("record_risk_to_staff", "review_assessment")]
        versions = sa.table("step", sa.column("id", sa.Uuid()), sa.column("policy_version"))
        try:
            async with engine.begin() as conn:
                await conn.execute(sa.insert(SERVICE).values(
                    id=service_id, slug="old-wokingham", name="Old", created_at=at,
                    policy_pack=WOKINGHAM))
                await conn.execute(sa.insert(CASE), [case])
                await conn.execute(sa.insert(STEP), steps)
                await conn.execute(sa.update(versions).where(
                    versions.c.id == steps[0]["id"]).values(policy_version="2.0"))
        finally:
            await engine.dispose()
        _in_thread(upgrade, url, "head")
        assert await _served(settings, url) == {("old-wokingham", WOKINGHAM, "2.0")}
        with pytest.raises(RuntimeError, match="'old-wokingham' has been served with version "
                                               "'2.0'"):
            async with serving(settings, url, None):
                pass
        async with serving(settings, url, tmp_path) as c:
            assert (await c.get("/readyz")).status_code == 200
