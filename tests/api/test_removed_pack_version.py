"""Attack 27, ATTACK27-1: a pack file that keeps its id but no longer holds a version that has
been in force for a service went unnoticed: the service started, and the acts of that version's
period were judged by another version, while their steps cited the removed one. The versions a
service has been served with are now recorded (``service_pack_version``), and a start with one
of them no longer loaded is refused, as a start with its whole pack missing is (A26a-17).

Each test has its own database: a start-up reads every service's recorded versions, so a
version recorded in the shared one would stop every later start without its file."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
import sqlmodel
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core import clock
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
RECORDED = sa.table("service_pack_version", sa.column("service_id", sa.Uuid()),
                    sa.column("pack_id"), sa.column("version"),
                    sa.column("recorded_at", sqlmodel.sql.sqltypes.UTCDateTime()))


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


async def _refused(settings: Settings, url: str, packs: Path | None) -> str:
    """The one line a start on ``url`` with ``packs`` refuses with."""
    with pytest.raises(RuntimeError) as refused:
        async with serving(settings, url, packs):
            pass
    said = str(refused.value)
    assert said.startswith("refusing to start: ")
    assert "\n" not in said
    return said


async def _starts(settings: Settings, url: str, packs: Path | None) -> None:
    """A start on ``url`` with ``packs`` is ready."""
    async with serving(settings, url, packs) as c:
        assert (await c.get("/readyz")).status_code == 200


@asynccontextmanager
async def _engine_at(settings: Settings, url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on the database at ``url``, disposed of after."""
    engine = build_engine(settings.model_copy(update={"database_url": url}))
    try:
        yield engine
    finally:
        await engine.dispose()


async def _served(settings: Settings, url: str) -> set[tuple[str, str, str]]:
    """The recorded versions: ``(service slug, pack, version)``."""
    async with _engine_at(settings, url) as engine, engine.connect() as conn:
        rows = (await conn.execute(sa.text(
            "SELECT s.slug, v.pack_id, v.version FROM service_pack_version AS v "
            "JOIN service AS s ON s.id = v.service_id"))).all()
    return {(slug, pack, version) for slug, pack, version in rows}


async def _act_days(settings: Settings, url: str) -> dict[tuple[str, str, str], tuple[Any, Any]]:
    """The recorded versions' ranges of act days: ``{(slug, pack, version): (first, last)}``."""
    async with _engine_at(settings, url) as engine, engine.connect() as conn:
        rows = (await conn.execute(sa.text(
            "SELECT s.slug, v.pack_id, v.version, v.first_act_on, v.last_act_on "
            "FROM service_pack_version AS v JOIN service AS s ON s.id = v.service_id"
        ).columns(sa.column("slug"), sa.column("pack_id"), sa.column("version"),
                  sa.column("first_act_on", sa.Date()),
                  sa.column("last_act_on", sa.Date())))).all()
    return {(slug, pack, version): (first, last) for slug, pack, version, first, last in rows}


async def _risk_to_staff(t: Tenant, case_id: str, at: str) -> httpx.Response:
    return await t.client.post(f"/v1/cases/{case_id}/events", headers=t.auth("case_holder"),
                               json={"type": "risk_to_staff", "occurred_at": at})


async def _served_once(settings: Settings, url: str, packs: Path | None,
                       at: str) -> tuple[Tenant, str, httpx.Response]:
    """A Wokingham service started with ``packs``, its case opened (on 2 March 2026) and a risk
    to staff at ``at`` (201): the tenant, the case and the event's answer."""
    async with serving(settings, url, packs) as c:
        t = await make_tenant(c, settings, WOKINGHAM)
        case = (await t.open_case())["data"]["id"]
        r = await _risk_to_staff(t, case, at)
        assert r.status_code == 201, r.text
    return t, case, r


async def _served_with_both(settings: Settings, url: str, packs: Path) -> tuple[str, str]:
    """A service judged by Wokingham 1.0 (its case opened on 2 March 2026) and 2.0 (a risk to
    staff on 2 September 2026, 2.0 in force from 1 September); answers its slug and case."""
    t, case, r = await _served_once(settings, url, packs, "2026-09-02T10:00:00+01:00")
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
        said = await _refused(settings, url, None)
        for word in (f"service {slug!r}", f"version '2.0' of policy pack {WOKINGHAM!r}",
                     "loaded: '1.0'", "YJ_PACKS_DIR"):
            assert word in said
        await _starts(settings, url, tmp_path)  # the file back: it starts


async def test_ATTACK27_1_only_the_first_write_of_a_version_records_it(
        settings: Settings, tmp_path: Path) -> None:
    """The version is recorded in the write's transaction by the first write it judges in the
    process (one statement, idempotent); the next writes of that version add no statement,
    unless their act's day widens the recorded range of act days (ATK29-4): one statement by
    the first write of a later (or earlier) day, none by a day within the range."""
    with database_at("head") as url:
        async with serving(settings, url, None) as c:
            t = await make_tenant(c, settings, WOKINGHAM)
            with _statements() as first:
                case = (await t.open_case())["data"]["id"]
            with _statements() as same_day:
                r = await _risk_to_staff(t, case, "2026-03-02T11:00:00+00:00")
            assert r.status_code == 201, r.text
            with _statements() as later_day:
                r = await _risk_to_staff(t, case, "2026-08-28T10:00:00+01:00")
            assert r.status_code == 201, r.text
            with _statements() as within:
                for at in ("2026-08-28T11:00:00+01:00", "2026-05-01T10:00:00+01:00"):
                    r = await _risk_to_staff(t, case, at)
                    assert r.status_code == 201, r.text
        assert len([s for s in first if "service_pack_version" in s]) == 1
        assert [s for s in same_day if "service_pack_version" in s] == []
        assert len([s for s in later_day if "service_pack_version" in s]) == 1
        assert [s for s in within if "service_pack_version" in s] == []
        assert await _served(settings, url) == {(t.slug, WOKINGHAM, "1.0")}
        assert await _act_days(settings, url) == {
            (t.slug, WOKINGHAM, "1.0"): (date(2026, 3, 2), date(2026, 8, 28))}
        async with serving(settings, url, None) as c:  # a new process: read at start-up
            t = Tenant(slug=t.slug, pack=WOKINGHAM, settings=settings, client=c)
            with _statements() as again:
                r = await _risk_to_staff(t, case, "2026-08-28T12:00:00+01:00")
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


async def _old_wokingham(settings: Settings, url: str, service_id: uuid.UUID,
                         created_at: datetime, case: dict[str, Any],
                         steps: list[dict[str, Any]], cited: sa.Update) -> None:
    """On a database from before the record, in one transaction: the service old-wokingham
    (Wokingham's), its ``case``, the case's ``steps`` and ``cited`` (the versions they cite)."""
    async with _engine_at(settings, url) as engine, engine.begin() as conn:
        await conn.execute(sa.insert(SERVICE).values(
            id=service_id, slug="old-wokingham", name="Old", created_at=created_at,
            policy_pack=WOKINGHAM))
        await conn.execute(sa.insert(CASE), [case])
        await conn.execute(sa.insert(STEP), steps)
        await conn.execute(cited)


async def test_ATTACK27_1_the_upgrade_records_the_versions_steps_already_cite(
        settings: Settings, tmp_path: Path) -> None:
    """A database from before the record (migration 0030): the versions its steps cite
    (``step.policy_version``) are recorded by the upgrade, so a version removed before the
    upgrade is found at the first start after it."""
    revision(tmp_path)
    with database_at("0029") as url:
        service_id, at = uuid.uuid4(), datetime(2026, 9, 2, 9, tzinfo=UTC)
        case = old_case(service_id, "high", at)
        steps = [{**old_step(case, at), "policy_pack": WOKINGHAM, "code": code}
                 for code in ("record_risk_to_staff", "review_assessment")]
        versions = sa.table("step", sa.column("id", sa.Uuid()), sa.column("policy_version"))
        await _old_wokingham(settings, url, service_id, at, case, steps,
                             sa.update(versions).where(versions.c.id == steps[0]["id"])
                             .values(policy_version="2.0"))
        _in_thread(upgrade, url, "head")
        assert await _served(settings, url) == {("old-wokingham", WOKINGHAM, "2.0")}
        with pytest.raises(RuntimeError, match="'old-wokingham' has been served with version "
                                               "'2.0'"):
            async with serving(settings, url, None):
                pass
        await _starts(settings, url, tmp_path)


async def test_ATK29_4_a_version_re_dated_past_acts_it_judged_stops_the_start(
        settings: Settings, tmp_path: Path) -> None:
    """ATK29-4: Wokingham 2.0 (from 1 September 2026) judged a risk to staff on 2 September, 1.0
    the case's opening on 2 March. Its file re-dated to 3 September (2 September's act would
    now be 1.0's), or to 1 March (2 March's would now be 2.0's), the start refuses in one line
    naming the service, the pack, the version that judged, the act's day and the version the
    files now give it to; the date put back, it starts (packs README: "never re-date one")."""
    revision(tmp_path)
    with database_at("head") as url:
        slug, _ = await _served_with_both(settings, url, tmp_path)
        assert await _act_days(settings, url) == {
            (slug, WOKINGHAM, "1.0"): (date(2026, 3, 2), date(2026, 3, 2)),
            (slug, WOKINGHAM, "2.0"): (date(2026, 9, 2), date(2026, 9, 2))}
        revision(tmp_path, effective="2026-09-03")
        said = await _refused(settings, url, tmp_path)
        for word in (f"service {slug!r} has acts of 2026-09-02 judged by version '2.0' of "
                     f"policy pack {WOKINGHAM!r}", "give to version '1.0'",
                     "'2.0' from 2026-09-03", "effective_from", "YJ_PACKS_DIR"):
            assert word in said
        revision(tmp_path, effective="2026-03-01")
        said = await _refused(settings, url, tmp_path)
        assert (f"service {slug!r} has acts of 2026-03-02 judged by version '1.0' of policy "
                f"pack {WOKINGHAM!r}, which the loaded files give to version '2.0'") in said
        revision(tmp_path)  # its date put back
        await _starts(settings, url, tmp_path)


async def test_ATK29_4_a_version_added_dated_before_acts_judged_stops_the_start(
        settings: Settings, tmp_path: Path) -> None:
    """ATK29-4: acts of 2 March and 28 August 2026 judged by Wokingham 1.0; a new version 2.0
    added in force from 1 August (before 28 August's act) is refused, naming 28 August; dated
    from the day after the last act judged, it starts."""
    with database_at("head") as url:
        t, _, _ = await _served_once(settings, url, None, "2026-08-28T10:00:00+01:00")
        revision(tmp_path, effective="2026-08-01")
        said = await _refused(settings, url, tmp_path)
        assert (f"service {t.slug!r} has acts of 2026-08-28 judged by version '1.0' of policy "
                f"pack {WOKINGHAM!r}, which the loaded files give to version '2.0'") in said
        revision(tmp_path, effective="2026-08-29")
        await _starts(settings, url, tmp_path)


async def test_ATK29_4_a_new_version_from_today_starts(
        settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A correction is a new version in force from the day it is made (packs README). Thursday
    10 September 2026: a risk to staff at 10:00 BST judged by Wokingham 1.0; at 14:00 a 2.0 in
    force from today is deployed: it starts (the day a version comes into force may hold acts
    of the version before it, judged before its file was there: their steps rightly cite 1.0),
    judges the day's later acts (and an act of that morning typed in now), and starts again."""
    monkeypatch.setattr(clock, "now", lambda: datetime(2026, 9, 10, 13, tzinfo=UTC))
    with database_at("head") as url:
        t, case, _ = await _served_once(settings, url, None, "2026-09-10T10:00:00+01:00")
        revision(tmp_path, effective="2026-09-10")
        async with serving(settings, url, tmp_path) as c:
            t = Tenant(slug=t.slug, pack=WOKINGHAM, settings=settings, client=c)
            for at in ("2026-09-10T13:30:00+01:00", "2026-09-10T09:00:00+01:00"):
                r = await _risk_to_staff(t, case, at)
                assert r.status_code == 201, r.text
                event = r.json()["data"]["id"]
                assert [s["policy"]["version"] for s in r.json()["next_steps"]
                        if s["code"] == "record_risk_to_staff" and s["subject_id"] == event
                        ] == ["2.0"]
        assert await _act_days(settings, url) == {
            (t.slug, WOKINGHAM, "1.0"): (date(2026, 3, 2), date(2026, 9, 10)),
            (t.slug, WOKINGHAM, "2.0"): (date(2026, 9, 10), date(2026, 9, 10))}
        await _starts(settings, url, tmp_path)


async def test_ATK29_4_where_the_start_could_not_look_a_re_dated_service_is_503(
        settings: Settings, tmp_path: Path) -> None:
    """A start while the database is not there (A21a-3): the first write looks, and the acts of
    the service whose 2.0 was re-dated past its act are 503 naming the day and the versions,
    never judged under the moved dates."""
    revision(tmp_path)
    with database_at("head") as url:
        slug, case = await _served_with_both(settings, url, tmp_path)
        revision(tmp_path, effective="2026-09-03")
        with _database_away(url) as (away, back):
            async with serving(settings, away, tmp_path) as c:
                back()
                t = Tenant(slug=slug, pack=WOKINGHAM, settings=settings, client=c)
                r = await _risk_to_staff(t, case, "2026-09-04T10:00:00+01:00")
                assert r.status_code == 503, r.text
                assert "acts of 2026-09-02 were judged by version '2.0'" in r.json()["detail"]
                assert int(r.headers["Retry-After"]) >= 1


async def test_ATK29_4_the_upgrade_records_the_days_of_the_acts_steps_cite(
        settings: Settings, tmp_path: Path) -> None:
    """A database from before the days were kept (migration 0032): each recorded version's
    range is its citing steps' earliest and latest ``raised_at``, as Europe/London days (23:30
    UTC on 31 August 2026 is 1 September in London), so a version re-dated before the upgrade
    is found at the first start after it."""
    with database_at("0029") as url:
        service_id = uuid.uuid4()
        early, late = datetime(2026, 3, 2, 9, tzinfo=UTC), datetime(2026, 8, 31, 23, 30,
                                                                     tzinfo=UTC)
        case = old_case(service_id, "high", early)
        steps = [{**old_step(case, at), "policy_pack": WOKINGHAM, "code": code}
                 for code, at in (("record_risk_to_staff", early), ("review_assessment", late))]
        versions = sa.table("step", sa.column("policy_version"))
        await _old_wokingham(settings, url, service_id, early, case, steps,
                             sa.update(versions).values(policy_version="1.0"))
        _in_thread(upgrade, url, "head")  # 0030 records the version, 0032 its days
        assert await _act_days(settings, url) == {
            ("old-wokingham", WOKINGHAM, "1.0"): (date(2026, 3, 2), date(2026, 9, 1))}
        revision(tmp_path, effective="2026-08-15")
        said = await _refused(settings, url, tmp_path)
        assert ("service 'old-wokingham' has acts of 2026-09-01 judged by version '1.0'"
                in said)
        revision(tmp_path, effective="2026-09-02")
        await _starts(settings, url, tmp_path)


async def test_ATK29_4_the_upgrade_keeps_no_days_for_a_version_no_step_cites(
        settings: Settings) -> None:
    """A version recorded (0030 onwards) whose acts raised no step keeps no days (nothing to
    compare: never refused for them) until its next write records the act's day."""
    with database_at("0031") as url:
        service_id, at = uuid.uuid4(), datetime(2026, 3, 2, 9, tzinfo=UTC)
        async with _engine_at(settings, url) as engine, engine.begin() as conn:
            await conn.execute(sa.insert(SERVICE).values(
                id=service_id, slug="quiet-wokingham", name="Quiet", created_at=at,
                policy_pack=WOKINGHAM))
            await conn.execute(sa.insert(RECORDED).values(
                service_id=service_id, pack_id=WOKINGHAM, version="1.0", recorded_at=at))
        _in_thread(upgrade, url, "head")
        assert await _act_days(settings, url) == {
            ("quiet-wokingham", WOKINGHAM, "1.0"): (None, None)}
        await _starts(settings, url, None)
