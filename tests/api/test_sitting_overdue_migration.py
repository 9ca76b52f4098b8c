"""Upgrading a database whose S10 steps were made before A19-1 moves their ``overdue_at`` to
the end of the MARP's London day (migration 0026; attack pass 19, A19-1)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from app.core.config import Settings
from app.core.db import build_engine
from app.core.migrate import upgrade
from tests.api.migration_rows import CASE, SERVICE, STEP, WHEN, old_case, old_step
from tests.conftest import _in_thread, database_at

DATES = sa.table("step", sa.column("id", sa.Uuid()), sa.column("due_at", WHEN),
                 sa.column("overdue_at", WHEN), sa.column("completed_at", WHEN))


@pytest.fixture
def old_database() -> Iterator[str]:
    """A database migrated only to 0025 (before the sitting-day rule's backfill)."""
    with database_at("0025") as url:
        yield url


async def test_S10_a_mappa_level_identified_at_the_sitting_before_the_upgrade_is_on_time(
        old_database: str) -> None:
    """S10 (3.2.4) "the MAPPA level will be identified and agreed via these processes": a step
    due at the MARP of Thursday 1 April 2027 14:00 BST (13:00Z), stored with overdue_at at the
    sitting's start, is overdue after 23:59:59 BST (22:59:59Z) once upgraded; S7's referral
    (owed before the panel) keeps the sitting's start."""
    settings = Settings(env="test", database_url=old_database, jwt_secret="x" * 40)
    engine = build_engine(settings)
    service_id, at = uuid.uuid4(), datetime(2027, 3, 23, 10, tzinfo=UTC)
    marp = datetime(2027, 4, 1, 13, tzinfo=UTC)
    case = old_case(service_id, "very_high", at)
    s10 = {**old_step(case, at), "code": "identify_mappa_level", "rule_id": "S10",
           "policy_ref": "3.2.4", "actor": "case_holder", "status": "done"}
    s7 = {**old_step(case, at), "code": "refer_to_panel", "rule_id": "S7",
          "policy_ref": "3.2.3", "actor": "case_holder"}
    try:
        async with engine.begin() as conn:
            await conn.execute(sa.insert(SERVICE).values(
                id=service_id, slug=f"s-{service_id.hex[:8]}", name="Old", created_at=at,
                policy_pack="somerset-yjt-2023"))
            await conn.execute(sa.insert(CASE), [case])
            await conn.execute(sa.insert(STEP), [s10, s7])
            for step in (s10, s7):
                await conn.execute(sa.update(DATES).where(DATES.c.id == step["id"]).values(
                    due_at=marp, overdue_at=marp))
        await engine.dispose()
        _in_thread(upgrade, old_database, "head")
        engine = build_engine(settings)
        async with engine.connect() as conn:
            got = {row.id: row.overdue_at for row in await conn.execute(
                sa.select(DATES.c.id, DATES.c.overdue_at))}
    finally:
        await engine.dispose()
    utc = {k: v.replace(tzinfo=UTC) if v.tzinfo is None else v for k, v in got.items()}
    assert utc == {s10["id"]: datetime(2027, 4, 1, 22, 59, 59, tzinfo=UTC), s7["id"]: marp}
