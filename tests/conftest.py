"""Test fixtures: a throwaway database per run (SQLite, or PostgreSQL with YJ_TEST_DB=postgres),
schema built by the migrations, the app in-process over ASGI, and a fresh service per test so
that no test depends on another's rows."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import socket
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager

# A developer's .env (written by scripts/dev.sh) must not leak into the tests' settings.
os.environ["YJ_ENV_FILE"] = ""

from app.core.config import Settings  # noqa: E402
from app.core.migrate import upgrade  # noqa: E402
from app.core.security import mint_dev_token  # noqa: E402
from app.domain import webhooks  # noqa: E402
from app.main import create_app  # noqa: E402

if os.environ.get("YJ_INSTANT_GUARD"):  # opt-in: tests/instant_guard.py
    from tests.instant_guard import instant_guard  # noqa: E402, F401

TEST_SECRET = "test-secret-" + "x" * 40
PG_ADMIN_DSN = os.environ.get("YJ_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
BACKEND = os.environ.get("YJ_TEST_DB", "sqlite")


def _in_thread(fn: Any, *args: Any) -> Any:
    """Run blocking set-up (which may call asyncio.run) away from the test event loop."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(fn, *args).result()


def _pg_reachable() -> bool:
    import asyncpg

    async def probe() -> None:
        conn = await asyncpg.connect(PG_ADMIN_DSN, timeout=5)
        await conn.close()

    try:
        _in_thread(asyncio.run, probe())
    except Exception:  # noqa: BLE001 - any failure means unreachable
        return False
    return True


def _throwaway_name(prefix: str) -> str:
    """A throwaway database's name carrying this process's id, so that a later run can tell a
    database whose run was killed (no teardown) from one a run beside it is still using."""
    return f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:10]}"


_THROWAWAY = re.compile(r"^yjrisk_(?:test|mig)_(\d+)_[0-9a-f]{10}$")


def _drop_orphans() -> None:
    """Drop throwaway databases left by runs on this machine that were killed before their
    teardown (a process id no longer alive). Only for a PostgreSQL on this machine: another
    machine's process ids mean nothing here."""
    import asyncpg

    if not re.search(r"@(127\.0\.0\.1|localhost|\[::1\])[:/]", PG_ADMIN_DSN):
        return

    async def run() -> None:
        conn = await asyncpg.connect(PG_ADMIN_DSN, timeout=10)
        try:
            names = [r["datname"] for r in await conn.fetch(
                "SELECT datname FROM pg_database WHERE datname LIKE 'yjrisk\\_%'")]
            for name in names:
                match = _THROWAWAY.match(name)
                if match is None or _alive(int(match.group(1))):
                    continue
                await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()

    _in_thread(asyncio.run, run())


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def pytest_configure(config: pytest.Config) -> None:
    """A run stopped with SIGTERM (``kill``, a CI timeout) ends as Ctrl-C does: pytest tears
    the fixtures down, so the run's throwaway database is dropped."""
    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)


# A throwaway database commits without waiting for its WAL to reach the disk (PostgreSQL's
# ``synchronous_commit = off``): a commit is as atomic and as visible to the next transaction as
# before, only a crash of the server could lose the last ones, and a crashed run's database is
# dropped anyway. The suite commits some hundred thousand times; each waited for an fsync.
# ``YJ_TEST_PG_SYNC_COMMIT=1`` keeps the server's setting (to compare).
def _fast_commits(name: str) -> None:
    """Set a throwaway database's commits not to wait for the disk (see above)."""
    if os.environ.get("YJ_TEST_PG_SYNC_COMMIT") != "1":
        _pg_admin(f'ALTER DATABASE "{name}" SET synchronous_commit = off')


def _pg_admin(sql: str) -> None:
    import asyncpg

    async def run() -> None:
        conn = await asyncpg.connect(PG_ADMIN_DSN, timeout=10)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    _in_thread(asyncio.run, run())


# Databases migrated to a revision, made once a run and copied for each database_at: a
# PostgreSQL template database's name, or a SQLite file's path (their migrations take seconds).
_MIGRATED: dict[str, str] = {}
_MIGRATED_FOLDER: list[Path] = []


def _migrated(revision: str) -> str:
    """The run's database (PostgreSQL: its name; SQLite: its file) migrated to ``revision``,
    made at the first asking; not to be written to: it is only copied."""
    if revision in _MIGRATED:
        return _MIGRATED[revision]
    if BACKEND == "postgres":
        made = _throwaway_name("yjrisk_mig")
        _pg_admin(f'CREATE DATABASE "{made}"')
        _fast_commits(made)
        base = PG_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
        try:
            _in_thread(upgrade, f"{base}/{made}", revision)
        except BaseException:
            _pg_admin(f'DROP DATABASE IF EXISTS "{made}" WITH (FORCE)')
            raise
    else:
        if not _MIGRATED_FOLDER:
            _MIGRATED_FOLDER.append(Path(tempfile.mkdtemp(prefix="yjrisk-migrated-")))
        made = str(_MIGRATED_FOLDER[0] / f"{revision}.db")
        _in_thread(upgrade, f"sqlite+aiosqlite:///{made}", revision)
    _MIGRATED[revision] = made
    return made


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Drop the run's migrated databases (:func:`_migrated`)."""
    for made in _MIGRATED.values():
        if BACKEND == "postgres":
            _pg_admin(f'DROP DATABASE IF EXISTS "{made}" WITH (FORCE)')
    _MIGRATED.clear()
    for folder in _MIGRATED_FOLDER:
        shutil.rmtree(folder, ignore_errors=True)
    _MIGRATED_FOLDER.clear()


@contextmanager
def database_at(revision: str) -> Iterator[str]:
    """A throwaway database (on the run's backend) migrated only to ``revision``, for a test
    of a later migration over old rows (a copy of the run's database at that revision: on
    PostgreSQL ``CREATE DATABASE ... TEMPLATE``, on SQLite the file copied); dropped
    afterwards."""
    template = _migrated(revision)
    if BACKEND == "postgres":
        name = _throwaway_name("yjrisk_mig")
        _pg_admin(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        _fast_commits(name)
        base = PG_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
        try:
            yield f"{base}/{name}"
        finally:
            _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    else:
        with tempfile.TemporaryDirectory() as tmp:
            shutil.copyfile(template, Path(tmp) / "old.db")
            yield f"sqlite+aiosqlite:///{Path(tmp) / 'old.db'}"


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    """A fresh database for this run, migrated to head."""
    if BACKEND == "postgres":
        if not _pg_reachable():
            if os.environ.get("CI") == "true":
                pytest.fail("PostgreSQL is not reachable and CI=true: failing, not skipping")
            pytest.skip("PostgreSQL is not reachable")
        _drop_orphans()
        name = _throwaway_name("yjrisk_test")
        _pg_admin(f'CREATE DATABASE "{name}"')
        _fast_commits(name)
        base = PG_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
        url = f"{base}/{name}"
        try:
            _in_thread(upgrade, url)
            yield url
        finally:
            _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    else:
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite+aiosqlite:///{Path(tmp) / 'yjrisk-test.db'}"
            _in_thread(upgrade, url)
            yield url


@asynccontextmanager
async def serving(settings: Settings, url: str, packs_dir: Path | None
                  ) -> AsyncIterator[httpx.AsyncClient]:
    """An in-process client of an app (its lifespan run) on the database at ``url``, with
    ``packs_dir`` as YJ_PACKS_DIR: a test whose services run packs of its own records their
    versions in a database of its own (ATTACK27-1: a start without one is refused, so the
    run's shared database must never record one)."""
    app = create_app(settings.model_copy(update={"database_url": url, "packs_dir": packs_dir}))
    async with LifespanManager(app, startup_timeout=60, shutdown_timeout=60) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://yjrisk.test") as c:
            yield c


@pytest.fixture(scope="session")
def settings(database_url: str) -> Settings:
    """Test settings: HS256 with a test secret, the throwaway database."""
    # The access log is written when read (GET .../access-log) and at shutdown, not by its
    # background task: between tests the event loop stands still, and a write transaction
    # frozen half-way would hold SQLite's write lock against synchronous fixtures (test_fuzz).
    # The database timeouts are the service's defaults (5 s) made generous: on a loaded CI machine
    # a test's own set-up or check may wait longer than a production request should (ATK28B-19);
    # the timeouts themselves are tested with their own settings (test_db_faults).
    return Settings(env="test", database_url=database_url, jwt_secret=TEST_SECRET, log_json=True,
                    log_level="WARNING", access_log_flush_seconds=3600,
                    access_log_batch=1_000_000, db_statement_timeout_seconds=60,
                    db_pool_timeout_seconds=60)


@pytest.fixture(scope="session")
async def app(settings: Settings) -> AsyncIterator[Any]:
    """The app with its lifespan running."""
    application = create_app(settings)
    async with LifespanManager(application, startup_timeout=60, shutdown_timeout=60) as manager:
        yield manager.app


@pytest.fixture
async def client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client talking to the app in-process."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://yjrisk.test") as c:
        yield c


@dataclass
class Tenant:
    """A fresh service for one test, with helpers to mint tokens and open cases."""

    slug: str
    pack: str
    settings: Settings
    client: httpx.AsyncClient

    def token(self, role: str, sub: str | None = None, **kw: Any) -> str:
        """A valid HS256 token for this service."""
        return mint_dev_token(
            self.settings, sub=sub or f"{role}-1", roles=[role], service=self.slug, **kw
        )

    def auth(self, role: str, sub: str | None = None, scope: str | None = None
             ) -> dict[str, str]:
        """Authorization header for a role (sub defaults to '<role>-1'); ``scope``: a machine
        client's (role feed) token claim, e.g. ``cms`` or ``feed:mappa``."""
        return {"Authorization": f"Bearer {self.token(role, sub, scope=scope)}"}

    async def open_case(self, **overrides: Any) -> dict[str, Any]:
        """Open a case held by case_holder-1 and managed by line_manager-1 (as its manager)."""
        body: dict[str, Any] = {
            "child": {"given_name": "Sam", "family_name": "Taylor", "date_of_birth": "2010-05-01"},
            "case_holder_id": "case_holder-1",
            "line_manager_id": "line_manager-1",
            "intervention": "court_order",
            "csc_status": "none",
            "opened_at": "2026-03-02T09:00:00Z",
        }
        body.update(overrides)
        # Opened by the case's own line manager (a manager opens cases for their team).
        manager = self.auth("line_manager", str(body["line_manager_id"]))
        r = await self.client.post("/v1/cases", json=body, headers=manager)
        assert r.status_code == 201, r.text
        return r.json()  # type: ignore[no-any-return]


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now (for a server or proxy a test starts)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def make_tenant(client: httpx.AsyncClient, settings: Settings, pack: str) -> Tenant:
    """Create a service with a unique slug under ``pack``."""
    slug = f"t-{uuid.uuid4().hex[:10]}"
    admin = mint_dev_token(settings, sub="admin-1", roles=["admin"], service=None)
    r = await client.post(
        "/v1/services",
        json={"slug": slug, "name": f"Test {slug}", "policy_pack": pack},
        headers={"Authorization": f"Bearer {admin}"},
    )
    assert r.status_code == 201, r.text
    return Tenant(slug=slug, pack=pack, settings=settings, client=client)


@pytest.fixture
async def somerset(client: httpx.AsyncClient, settings: Settings) -> Tenant:
    """A fresh Somerset-pack service."""
    return await make_tenant(client, settings, "somerset-yjt-2023")


@pytest.fixture
async def wokingham(client: httpx.AsyncClient, settings: Settings) -> Tenant:
    """A fresh Wokingham-pack service."""
    return await make_tenant(client, settings, "wokingham-pyjs-2024")


# Webhook hosts resolve through this table in tests (the suite needs no network): *.example.org
# and *.example.com are public; tests of DNS-based attacks install their own resolver.
PUBLIC_TEST_ADDRESS = "93.184.216.34"


async def _test_resolver(host: str, port: int) -> list[str]:
    if host.endswith((".example.org", ".example.com")):
        return [PUBLIC_TEST_ADDRESS]
    raise OSError(f"no such test host: {host}")


@pytest.fixture(autouse=True)
def _test_dns() -> Iterator[None]:
    """Every test resolves webhook hosts through the test table."""
    webhooks.set_resolver(_test_resolver)
    yield
    webhooks.set_resolver(None)


@pytest.fixture
async def factory(settings: Settings) -> AsyncIterator[Any]:
    """Sessions on the test database, as the worker process opens them (for tests that drive
    the escalation and webhook passes directly)."""
    from app.core.db import build_engine, session_factory

    engine = build_engine(settings)
    try:
        yield session_factory(engine)
    finally:
        await engine.dispose()
