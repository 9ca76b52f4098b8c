"""Attack 18, A18-12: a database that answers reads but refuses writes (a PostgreSQL standby
after a failover, ``default_transaction_read_only``; an SQLite file opened read-only) is
"unavailable" for every write: 503 problem with Retry-After (not 500 ``internal-error``),
nothing stored, and ``/readyz`` not ready; once writable again, the same requests succeed."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from sqlalchemy.engine import make_url

from app.core.config import Settings
from app.core.problems import database_unavailable
from app.main import create_app
from tests.conftest import BACKEND, Tenant, _pg_admin, database_at, make_tenant


@asynccontextmanager
async def _serving(settings: Settings, url: str) -> AsyncIterator[tuple[httpx.AsyncClient, Any]]:
    app = create_app(settings.model_copy(update={"database_url": url}))
    async with LifespanManager(app, startup_timeout=60, shutdown_timeout=60) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://yjrisk.test") as c:
            yield c, manager.app


def _read_only_url(url: str) -> str:
    """The SQLite database at ``url`` opened read-only (SQLite's URI ``mode=ro``)."""
    path = make_url(url).database
    return f"sqlite+aiosqlite:///file:{path}?mode=ro&uri=true"


def _assert_unavailable(r: httpx.Response) -> None:
    assert r.status_code == 503, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["type"].endswith("/unavailable")
    assert int(r.headers["Retry-After"]) >= 1


async def _writes(tenant: Tenant, case_id: str, key: str) -> list[httpx.Response]:
    c = tenant.client
    feed = {**tenant.auth("feed", "feed-emrac", scope="feed:emrac"), "Idempotency-Key": key}
    return [
        await c.post(f"/v1/cases/{case_id}/judgements", headers=tenant.auth("case_holder"),
                     json={"domain": "lor", "level": "low"}),
        await c.post("/v1/feeds/emrac/referrals", headers=feed, json={
            "case_external_ref": {"system": "IYSS", "id": "RO-1"}, "kind": "emrac",
            "received_at": "2026-06-05T10:15:00+01:00", "details": {}}),
    ]


async def _judgements(tenant: Tenant, case_id: str) -> int:
    r = await tenant.client.get(f"/v1/cases/{case_id}/judgements",
                                headers=tenant.auth("case_holder"))
    assert r.status_code == 200, r.text
    return len(r.json()["data"])


async def test_read_only_database_is_503_with_retry_after_and_not_ready(
    settings: Settings,
) -> None:
    """Writable: ready, a case opened. Read-only: each write (a worker's judgement, a feed's
    delivery) is 503 ``unavailable`` with Retry-After and stores nothing, reads still answer,
    ``/readyz`` is 503 ``not-ready``. Writable again: ready, the same writes succeed (the
    feed's key was not left "in flight")."""
    with database_at("head") as url:
        async with _serving(settings, url) as (c, _):
            assert (await c.get("/readyz")).status_code == 200
            tenant = await make_tenant(c, settings, "wokingham-pyjs-2024")
            case_id = (await tenant.open_case(
                external_ref={"system": "IYSS", "id": "RO-1"}))["data"]["id"]
            slug = tenant.slug
        name = make_url(url).database
        if BACKEND == "postgres":
            _pg_admin(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on')
            read_only = url
        else:
            read_only = _read_only_url(url)
        try:
            async with _serving(settings, read_only) as (c, _):
                tenant = Tenant(slug=slug, pack="wokingham-pyjs-2024", settings=settings,
                                client=c)
                ready = await c.get("/readyz")
                assert ready.status_code == 503, ready.text
                assert ready.json()["type"].endswith("/not-ready")
                assert int(ready.headers["Retry-After"]) >= 1
                key = str(uuid.uuid4())
                for r in await _writes(tenant, case_id, key):
                    _assert_unavailable(r)
                assert await _judgements(tenant, case_id) == 0
        finally:
            if BACKEND == "postgres":
                _pg_admin(f'ALTER DATABASE "{name}" RESET default_transaction_read_only')
        async with _serving(settings, url) as (c, _):
            tenant = Tenant(slug=slug, pack="wokingham-pyjs-2024", settings=settings, client=c)
            assert (await c.get("/readyz")).status_code == 200
            judgement, referral = await _writes(tenant, case_id, key)
            assert judgement.status_code == 201, judgement.text
            assert referral.status_code == 201, referral.text
            assert await _judgements(tenant, case_id) == 1
            await asyncio.sleep(0)


@pytest.mark.parametrize(("name", "unavailable"), [
    ("ReadOnlySQLTransactionError", True),      # 25006: a standby, default_transaction_read_only
    ("AdminShutdownError", True),               # 57P01
    ("CannotConnectNowError", True),            # 57P03: starting up, in recovery
    ("TooManyConnectionsError", True),          # 53300
    ("DiskFullError", True),                    # 53100
    ("ConnectionFailureError", True),           # 08006
    ("IdleInTransactionSessionTimeoutError", True),  # 25P03: the server ended the session
    ("SerializationError", True),               # 40001
    ("DeadlockDetectedError", True),            # 40P01
    ("StatementCompletionUnknownError", False),  # 40003: stored or not is unknown: not "retry"
    ("UniqueViolationError", False),            # 23505: a conflict, mapped elsewhere
    ("UndefinedColumnError", False),            # 42703: a bug
])
def test_transient_sqlstates_are_unavailable(name: str, unavailable: bool) -> None:
    """Each SQLSTATE class that means "not now" (as asyncpg raises it, wrapped by SQLAlchemy)
    is answered 503 with Retry-After; a bug or an unknown outcome is not."""
    import asyncpg
    from sqlalchemy.exc import DBAPIError

    cause = getattr(asyncpg.exceptions, name)("refused")
    assert database_unavailable(DBAPIError("INSERT ...", {}, cause)) is unavailable


@pytest.mark.parametrize("sqlstate", ["25006", "57P01", "57P03", "53300", "08006", "08001"])
def test_sqlstate_of_any_driver_is_read(sqlstate: str) -> None:
    """The mapping reads the SQLSTATE (``sqlstate`` or SQLAlchemy's adapted error), not only
    asyncpg's class names."""
    from sqlalchemy.exc import DBAPIError

    class DriverError(Exception):
        pass

    cause = DriverError("refused")
    cause.sqlstate = sqlstate  # type: ignore[attr-defined]
    assert database_unavailable(DBAPIError("UPDATE ...", {}, cause))


async def test_database_refusing_new_connections_is_503_with_retry_after(
    settings: Settings,
) -> None:
    """Attack 21, A21a-3: PostgreSQL refusing new connections to the database (``ALTER
    DATABASE ... ALLOW_CONNECTIONS false`` before a restore, as an operator does; SQLSTATE 55000
    at connect, "database is not currently accepting connections") made every route a 500.
    Any failure to establish a connection is "not there for us right now" (the README's
    configuration table: "a server shutting down or not yet accepting connections ... is a 503
    problem with Retry-After"): reads and writes are 503 ``unavailable`` with Retry-After,
    nothing is stored, ``/readyz`` is not ready; allowed again, the same requests succeed."""
    if BACKEND != "postgres":
        pytest.skip("PostgreSQL's ALLOW_CONNECTIONS; SQLite opens a file (A18-12's twin)")
    with database_at("head") as url:
        async with _serving(settings, url) as (c, _):
            tenant = await make_tenant(c, settings, "wokingham-pyjs-2024")
            case_id = (await tenant.open_case(
                external_ref={"system": "IYSS", "id": "RO-1"}))["data"]["id"]
            slug = tenant.slug
        name = make_url(url).database
        _pg_admin(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS false')
        _pg_admin(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                  f"WHERE datname = '{name}' AND pid <> pg_backend_pid()")
        try:
            async with _serving(settings, url) as (c, _):
                tenant = Tenant(slug=slug, pack="wokingham-pyjs-2024", settings=settings,
                                client=c)
                ready = await c.get("/readyz")
                assert ready.status_code == 503, ready.text
                key = str(uuid.uuid4())
                for r in await _writes(tenant, case_id, key):
                    _assert_unavailable(r)
                _assert_unavailable(await c.get(f"/v1/cases/{case_id}",
                                                headers=tenant.auth("case_holder")))
                _assert_unavailable(await c.get("/v1/next-steps",
                                                headers=tenant.auth("case_holder")))
        finally:
            _pg_admin(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS true')
        async with _serving(settings, url) as (c, _):
            tenant = Tenant(slug=slug, pack="wokingham-pyjs-2024", settings=settings, client=c)
            judgement, referral = await _writes(tenant, case_id, key)
            assert judgement.status_code == 201, judgement.text
            assert referral.status_code == 201, referral.text
            assert await _judgements(tenant, case_id) == 1


async def test_failure_to_connect_is_unavailable_and_a_statement_error_is_not(
    settings: Settings,
) -> None:
    """An error raised while establishing a connection means the database is not there for
    us, whatever its SQLSTATE (here 3D000: the database was dropped or renamed); the same
    class of error raised by a statement on a live connection is judged by its SQLSTATE as
    before (55000 of ``SELECT lastval()`` in a fresh session is a bug, not "retry")."""
    if BACKEND != "postgres":
        pytest.skip("PostgreSQL's SQLSTATEs at connect")
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    from app.core.db import build_engine

    with database_at("head") as url:
        gone = url.rsplit("/", 1)[0] + f"/yjrisk_gone_{uuid.uuid4().hex[:8]}"
        engine = build_engine(settings.model_copy(update={"database_url": gone}))
        try:
            with pytest.raises(DBAPIError) as failed:
                async with engine.connect():
                    pass
            assert getattr(failed.value.orig, "sqlstate", None) == "3D000"
            assert database_unavailable(failed.value) is True
        finally:
            await engine.dispose()
        engine = build_engine(settings.model_copy(update={"database_url": url}))
        try:
            async with engine.connect() as conn:
                with pytest.raises(DBAPIError) as failed:
                    await conn.execute(text("SELECT lastval()"))
            assert getattr(failed.value.orig, "sqlstate", None) == "55000"
            assert database_unavailable(failed.value) is False
        finally:
            await engine.dispose()
