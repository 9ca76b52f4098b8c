"""Migration 0037 (fix40c): ``referral.sent_at`` backfilled from each referral's history, so a
database upgraded from 0036 counts its referrals sent at the time they were sent (Somerset S10:
7.1.9 "unless this has already been done", 8.3.3 the MAPPA A form sent)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa

from app.core.config import Settings
from app.core.db import build_engine
from app.core.migrate import downgrade, upgrade
from tests.api.migration_rows import CASE, JSON, SERVICE, WHEN, old_case
from tests.conftest import _in_thread, database_at

REFERRAL = sa.table(
    "referral", *(sa.column(n, sa.Uuid()) for n in ("id", "service_id", "case_id")),
    *(sa.column(n) for n in ("kind", "status", "source", "created_by")),
    sa.column("details", JSON), sa.column("history", JSON),
    *(sa.column(n, WHEN) for n in ("occurred_at", "created_at", "updated_at")))
SENT = sa.table("referral", sa.column("id", sa.Uuid()), sa.column("sent_at", WHEN))
MADE = datetime(2026, 8, 4, 9, tzinfo=UTC)  # Tuesday 4 August 2026, 10:00 BST


@pytest.fixture
def old_database() -> Iterator[str]:
    """A database migrated only to 0036 (no ``sent_at``)."""
    with database_at("0036") as url:
        yield url


def _move(action: str, was: str | None, to: str, at: str) -> dict[str, Any]:
    move = {"action": action, "to": to, "by": "ch-1", "role": "case_holder", "at": at}
    return move if was is None else {**move, "from": was}


def _referral(case: dict[str, Any], status: str, *moves: dict[str, Any],
              source: str = "api") -> dict[str, Any]:
    return {"id": uuid.uuid4(), "service_id": case["service_id"], "case_id": case["id"],
            "kind": "mappa_a", "status": status, "source": source, "created_by": "ch-1",
            "details": {}, "history": list(moves), "occurred_at": MADE, "created_at": MADE,
            "updated_at": MADE}


async def test_S10_sent_at_backfilled_from_the_history_of_each_referral(
        old_database: str) -> None:
    """Somerset 8.3.3 "Referral to MAPPA 2 is achieved by sending a 'MAPPA A' Referral form":
    a form sent on Wed 5 Aug 2026 10:00 BST (09:00Z) gets that ``sent_at``; one sent and since
    accepted, or withdrawn, keeps the time it was sent (Fri 7 Aug 2026 09:00Z); one only
    submitted, or withdrawn before sending, has none; a referral a feed delivered ``sent`` at
    its creation gets the creation's time."""
    settings = Settings(env="test", database_url=old_database, jwt_secret="x" * 40)
    engine = build_engine(settings)
    service_id = uuid.uuid4()
    case = old_case(service_id, "high", MADE)
    made = "2026-08-04T09:00:00Z"
    created = _move("create", None, "draft", made)
    submitted = _move("submit", "draft", "submitted", made)
    sent = _referral(case, "sent", created, submitted,
                     _move("send", "submitted", "sent", "2026-08-05T09:00:00Z"))
    accepted = _referral(case, "accepted", created, submitted,
                         _move("send", "submitted", "sent", "2026-08-07T09:00:00+00:00"),
                         _move("accept", "sent", "accepted", "2026-08-10T09:00:00Z"))
    withdrawn = _referral(case, "withdrawn", created, submitted,
                          _move("send", "submitted", "sent", "2026-08-07T10:00:00+01:00"),
                          _move("withdraw", "sent", "withdrawn", "2026-08-11T09:00:00Z"))
    only_submitted = _referral(case, "submitted", created, submitted)
    never_sent = _referral(case, "withdrawn", created, submitted,
                           _move("withdraw", "submitted", "withdrawn", made))
    delivered = _referral(case, "sent", _move("create", None, "sent", made), source="feed:x")
    rows = [sent, accepted, withdrawn, only_submitted, never_sent, delivered]
    try:
        async with engine.begin() as conn:
            await conn.execute(sa.insert(SERVICE).values(
                id=service_id, slug=f"s-{service_id.hex[:8]}", name="Old", created_at=MADE,
                policy_pack="somerset-yjt-2023"))
            await conn.execute(sa.insert(CASE), [case])
            await conn.execute(sa.insert(REFERRAL), rows)
        await engine.dispose()
        _in_thread(upgrade, old_database, "head")
        engine = build_engine(settings)
        async with engine.connect() as conn:
            got = dict((await conn.execute(sa.select(SENT.c.id, SENT.c.sent_at))).all())
        await engine.dispose()
        # Down again: the column goes, the history (which holds the times) stays.
        _in_thread(downgrade, old_database, "0036")
        engine = build_engine(settings)
        async with engine.connect() as conn:
            columns = {c["name"] for c in await conn.run_sync(
                lambda sync: sa.inspect(sync).get_columns("referral"))}
            kept = (await conn.execute(sa.select(REFERRAL.c.history).where(
                REFERRAL.c.id == sent["id"]))).scalar_one()
    finally:
        await engine.dispose()

    def utc(moment: datetime | None) -> datetime | None:
        if moment is None:
            return None
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)

    friday = datetime(2026, 8, 7, 9, tzinfo=UTC)
    assert {k: utc(got[r["id"]]) for k, r in (
        ("sent", sent), ("accepted", accepted), ("withdrawn", withdrawn),
        ("only_submitted", only_submitted), ("never_sent", never_sent),
        ("delivered", delivered))} == {
        "sent": datetime(2026, 8, 5, 9, tzinfo=UTC), "accepted": friday, "withdrawn": friday,
        "only_submitted": None, "never_sent": None, "delivered": MADE}
    assert ("sent_at" in columns, kept) == (False, sent["history"])
