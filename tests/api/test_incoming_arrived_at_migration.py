"""Upgrading a database whose cases kept a transfer in's incoming ratings without the arrival's
instant sets it from the case's latest transfer in (migration 0033; fix32a's leftover, fix32h):
the incoming ratings then stand from the arrival until the service's own judgement dated after
it, as for a transfer in recorded since."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from app.core.config import Settings
from app.core.db import build_engine
from app.core.migrate import upgrade
from tests.api.migration_rows import CASE, JSON, SERVICE, WHEN, old_case
from tests.conftest import _in_thread, database_at

INCOMING = sa.table("case", sa.column("id", sa.Uuid()), sa.column("incoming_ratings", JSON))
EVENT = sa.table(
    "case_event", *(sa.column(n, sa.Uuid()) for n in ("id", "service_id", "case_id")),
    *(sa.column(n) for n in ("type", "recorded_by", "recorded_role")),
    sa.column("may_raise_to_high", sa.Boolean()), sa.column("details", JSON),
    *(sa.column(n, WHEN) for n in ("occurred_at", "created_at")))


@pytest.fixture
def old_database() -> Iterator[str]:
    """A database migrated only to 0032 (incoming ratings kept without the arrival)."""
    with database_at("0032") as url:
        yield url


def _transfer_in(case: dict[str, object], at: datetime, rosh: str) -> dict[str, object]:
    """A transfer in event of the case at ``at``, the child arriving at ROSH ``rosh``."""
    return {"id": uuid.uuid4(), "service_id": case["service_id"], "case_id": case["id"],
            "type": "transfer_in", "recorded_by": "ch-1", "recorded_role": "case_holder",
            "may_raise_to_high": False, "details": {"incoming_ratings": {"rosh": rosh}},
            "occurred_at": at, "created_at": at}


async def test_REG_incoming_ratings_kept_before_fix32a_take_the_latest_arrivals_instant(
        old_database: str) -> None:
    """Somerset 13.3: "Where a case has a ROSH judgment and/or Safety and Well-Being concerns
    of High or Very high from another YJT, the case will be referred into the next available
    MARP". A case transferred in at medium on Mon 2 Nov 2026 and at high on Tue 24 Nov 10:00
    (incoming ratings kept without the arrival) takes 2026-11-24T10:00:00Z; a case already
    holding its arrival, a case with no incoming ratings and one with incoming ratings but no
    transfer in event on file are left as they were."""
    settings = Settings(env="test", database_url=old_database, jwt_secret="x" * 40)
    engine = build_engine(settings)
    service_id, at = uuid.uuid4(), datetime(2026, 11, 2, 9, tzinfo=UTC)
    second = datetime(2026, 11, 24, 10, tzinfo=UTC)
    moved, kept, none, lone = (old_case(service_id, "medium", at) for _ in range(4))
    before = {moved["id"]: {"rosh": "high"},
              kept["id"]: {"rosh": "high", "arrived_at": "2026-11-03T09:00:00Z"},
              none["id"]: {}, lone["id"]: {"swb": "high"}}
    try:
        async with engine.begin() as conn:
            await conn.execute(sa.insert(SERVICE).values(
                id=service_id, slug=f"s-{service_id.hex[:8]}", name="Old", created_at=at,
                policy_pack="somerset-yjt-2023"))
            await conn.execute(sa.insert(CASE), [moved, kept, none, lone])
            for case_id, incoming in before.items():
                await conn.execute(sa.update(INCOMING).where(INCOMING.c.id == case_id)
                                   .values(incoming_ratings=incoming))
            await conn.execute(sa.insert(EVENT), [
                _transfer_in(moved, second, "high"), _transfer_in(moved, at, "medium"),
                _transfer_in(kept, at, "high"), _transfer_in(none, at, "high")])
        await engine.dispose()
        _in_thread(upgrade, old_database, "head")
        engine = build_engine(settings)
        async with engine.connect() as conn:
            got = {row.id: row.incoming_ratings for row in await conn.execute(
                sa.select(INCOMING.c.id, INCOMING.c.incoming_ratings))}
    finally:
        await engine.dispose()
    assert got == {**before,
                   moved["id"]: {"rosh": "high", "arrived_at": "2026-11-24T10:00:00Z"}}
