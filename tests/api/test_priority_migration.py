"""Upgrading a database that already holds a very high case marks it a priority (migration
0025; attack pass 19, A19-2)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from app.core.config import Settings
from app.core.db import build_engine
from app.core.migrate import upgrade
from tests.api.migration_rows import CASE, SERVICE, STEP, old_case, old_step
from tests.conftest import _in_thread, database_at


@pytest.fixture
def old_database() -> Iterator[str]:
    """A database migrated only to 0024 (before priority)."""
    with database_at("0024") as url:
        yield url


async def test_PRI_a_very_high_case_on_file_is_a_priority_after_the_upgrade(
        old_database: str) -> None:
    """3.2.4 "'Very High' judgements will trigger the case being dealt with as a priority at
    all stages": a Somerset case rated ROSH very high on Thursday 31 December 2026, before
    the upgrade, is a priority with its open step; a high one is not."""
    settings = Settings(env="test", database_url=old_database, jwt_secret="x" * 40)
    engine = build_engine(settings)
    service_id, at = uuid.uuid4(), datetime(2026, 12, 31, 10, tzinfo=UTC)
    very_high, high = old_case(service_id, "very_high", at), old_case(service_id, "high", at)
    try:
        async with engine.begin() as conn:
            await conn.execute(sa.insert(SERVICE).values(
                id=service_id, slug=f"p-{service_id.hex[:8]}", name="Old", created_at=at,
                policy_pack="somerset-yjt-2023"))
            await conn.execute(sa.insert(CASE), [very_high, high])
            await conn.execute(sa.insert(STEP), [old_step(very_high, at), old_step(high, at)])
        await engine.dispose()
        _in_thread(upgrade, old_database, "head")
        engine = build_engine(settings)
        async with engine.connect() as conn:
            cases = dict((await conn.execute(sa.text(
                'SELECT id, priority FROM "case"'))).all())
            steps = dict((await conn.execute(sa.text(
                "SELECT case_id, priority FROM step"))).all())
    finally:
        await engine.dispose()
    by_id = {str(k).replace("-", ""): bool(v) for k, v in cases.items()}
    step_of = {str(k).replace("-", ""): bool(v) for k, v in steps.items()}
    assert by_id == {very_high["id"].hex: True, high["id"].hex: False}  # type: ignore[union-attr]
    assert step_of == {very_high["id"].hex: True, high["id"].hex: False}  # type: ignore[union-attr]
