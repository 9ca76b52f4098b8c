"""Upgrading a database that already holds audit entries chains them (migration 0006)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
import sqlmodel
from sqlalchemy.dialects import postgresql

from app.core.config import Settings
from app.core.db import build_engine, session_factory
from app.core.migrate import downgrade, upgrade
from app.domain.audit import verify_chains
from tests.conftest import BACKEND, _in_thread, database_at

SERVICE = sa.table("service", sa.column("id", sa.Uuid()), sa.column("slug"), sa.column("name"),
                   sa.column("policy_pack"),
                   sa.column("created_at", sqlmodel.sql.sqltypes.UTCDateTime()))
AUDIT = sa.table(
    "audit_entry", sa.column("id", sa.Uuid()), sa.column("service_id", sa.Uuid()),
    sa.column("case_id", sa.Uuid()), sa.column("actor_sub"), sa.column("actor_role"),
    sa.column("action"), sa.column("entity_type"), sa.column("entity_id", sa.Uuid()),
    sa.column("at", sqlmodel.sql.sqltypes.UTCDateTime()),
    sa.column("changed_fields", sa.JSON().with_variant(postgresql.JSONB(), "postgresql")),
    sa.column("reason"), sa.column("digest"),
)


@pytest.fixture
def old_database() -> Iterator[str]:
    """A database migrated only to 0005 (before the hash chain)."""
    with database_at("0005") as url:
        yield url


async def test_existing_entries_are_chained_in_the_order_they_were_written(
    old_database: str,
) -> None:
    """Three entries written before the upgrade (stored out of order) come out as one chain,
    seq 1..3 by time, that verifies."""
    settings = Settings(env="test", database_url=old_database, jwt_secret="x" * 40)
    engine = build_engine(settings)
    service_id, start = uuid.uuid4(), datetime(2026, 1, 5, 9, tzinfo=UTC)
    rows = [{"id": uuid.uuid4(), "service_id": service_id, "case_id": uuid.uuid4(),
             "actor_sub": "lm-1", "actor_role": "line_manager", "action": "case.update",
             "entity_type": "case", "entity_id": uuid.uuid4(),
             "at": start + timedelta(minutes=m), "changed_fields": ["csc_status"],
             "reason": None, "digest": "0" * 64} for m in (20, 0, 10)]
    try:
        async with engine.begin() as conn:
            await conn.execute(sa.insert(SERVICE).values(
                id=service_id, slug=f"m-{service_id.hex[:8]}", name="Old", created_at=start,
                policy_pack="somerset-yjt-2023"))
            await conn.execute(sa.insert(AUDIT), rows)
        await engine.dispose()
        _in_thread(upgrade, old_database, "head")
        async with session_factory(engine)() as session:
            result = await verify_chains(session, [str(service_id)])
            seqs = (await session.exec(sa.text(
                "SELECT seq FROM audit_entry ORDER BY at"))).all()  # type: ignore[call-overload]
    finally:
        await engine.dispose()
    assert (result.ok, result.checked) == (True, 3)
    assert [s[0] for s in seqs] == [1, 2, 3]


async def test_the_seal_function_comes_and_goes_with_its_migration() -> None:
    """Migration 0029 creates ``yjrisk_audit_seal`` on PostgreSQL (nothing on SQLite, which
    seals in Python) and its downgrade drops it, leaving 0016's ``yjrisk_audit_chain_head``;
    upgrading again creates it again. Each step leaves the schema at its revision."""
    async def state(url: str) -> tuple[str, set[str]]:
        engine = build_engine(Settings(env="test", database_url=url, jwt_secret="x" * 40))
        try:
            async with engine.connect() as conn:
                version = (await conn.execute(sa.text(
                    "SELECT version_num FROM alembic_version"))).scalar_one()
                functions: set[str] = set()
                if BACKEND == "postgres":
                    functions = set((await conn.execute(sa.text(
                        "SELECT proname FROM pg_proc WHERE proname LIKE 'yjrisk_audit_%'")
                    )).scalars())
        finally:
            await engine.dispose()
        return version, functions

    with database_at("0028") as url:
        pg = BACKEND == "postgres"
        head = {"yjrisk_audit_chain_head"} if pg else set()
        assert await state(url) == ("0028", head)
        _in_thread(upgrade, url, "0029")
        assert await state(url) == ("0029", head | ({"yjrisk_audit_seal"} if pg else set()))
        _in_thread(downgrade, url, "0028")
        assert await state(url) == ("0028", head)
        _in_thread(upgrade, url, "head")
        assert (await state(url))[1] == head | ({"yjrisk_audit_seal"} if pg else set())
