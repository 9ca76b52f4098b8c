"""Migration 0038 (fix41c): ``referral.made_at`` and ``ended_at`` backfilled from each
referral's history, so a database upgraded from 0037 counts its panel referrals from their
submission and every referral until its withdrawal or decline (Somerset S7/S8, 3.2.3 "completion
of section 1 of the MARP referral form"; S10, 7.1.9 "unless this has already been done")."""

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
    *(sa.column(n, WHEN) for n in ("occurred_at", "created_at", "updated_at", "sent_at")))
TIMES = sa.table("referral", sa.column("id", sa.Uuid()), sa.column("made_at", WHEN),
                 sa.column("ended_at", WHEN))
MADE = datetime(2026, 11, 23, 10, tzinfo=UTC)  # Monday 23 November 2026, 10:00 GMT


@pytest.fixture
def old_database() -> Iterator[str]:
    """A database migrated only to 0037 (no ``made_at``, ``ended_at``)."""
    with database_at("0037") as url:
        yield url


def _move(action: str, was: str | None, to: str, at: str) -> dict[str, Any]:
    move = {"action": action, "to": to, "by": "ch-1", "role": "case_holder", "at": at}
    return move if was is None else {**move, "from": was}


def _referral(case: dict[str, Any], kind: str, status: str, *moves: dict[str, Any],
              sent_at: datetime | None = None) -> dict[str, Any]:
    return {"id": uuid.uuid4(), "service_id": case["service_id"], "case_id": case["id"],
            "kind": kind, "status": status, "source": "api", "created_by": "ch-1",
            "details": {}, "history": list(moves), "occurred_at": MADE, "created_at": MADE,
            "updated_at": MADE, "sent_at": sent_at}


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


async def test_S7_made_at_and_ended_at_backfilled_from_the_history_of_each_referral(
        old_database: str) -> None:
    """Somerset 3.2.3 "The case holder will refer the case to the next YJT MARP by ...
    completion of section 1 of the MARP referral form": a MARP referral submitted on Tue 24 Nov
    2026 10:00 is made then (and one since withdrawn on Thu 26 Nov keeps that, ended then); a
    draft is not made; a MAPPA A form (8.3.3 "achieved by sending") is made when sent (Wed 25
    Nov), ended when declined (Fri 27 Nov)."""
    settings = Settings(env="test", database_url=old_database, jwt_secret="x" * 40)
    engine = build_engine(settings)
    service_id = uuid.uuid4()
    case = old_case(service_id, "high", MADE)
    created = _move("create", None, "draft", "2026-11-23T10:00:00Z")
    submitted = _move("submit", "draft", "submitted", "2026-11-24T10:00:00+00:00")
    wednesday = datetime(2026, 11, 25, 10, tzinfo=UTC)
    panel = _referral(case, "panel", "submitted", created, submitted)
    withdrawn = _referral(case, "panel", "withdrawn", created, submitted,
                          _move("withdraw", "submitted", "withdrawn", "2026-11-26T10:00:00Z"))
    draft = _referral(case, "panel", "draft", created)
    declined = _referral(case, "mappa_a", "declined", created, submitted,
                         _move("send", "submitted", "sent", "2026-11-25T10:00:00Z"),
                         _move("decline", "sent", "declined", "2026-11-27T10:00:00Z"),
                         sent_at=wednesday)
    rows = [panel, withdrawn, draft, declined]
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
            got = {i: (_utc(m), _utc(e)) for i, m, e in (await conn.execute(sa.select(
                TIMES.c.id, TIMES.c.made_at, TIMES.c.ended_at))).all()}
        await engine.dispose()
        _in_thread(downgrade, old_database, "0037")
        engine = build_engine(settings)
        async with engine.connect() as conn:
            columns = {c["name"] for c in await conn.run_sync(
                lambda sync: sa.inspect(sync).get_columns("referral"))}
    finally:
        await engine.dispose()
    tuesday = datetime(2026, 11, 24, 10, tzinfo=UTC)
    assert {k: got[r["id"]] for k, r in (("panel", panel), ("withdrawn", withdrawn),
                                         ("draft", draft), ("declined", declined))} == {
        "panel": (tuesday, None),
        "withdrawn": (tuesday, datetime(2026, 11, 26, 10, tzinfo=UTC)),
        "draft": (None, None),
        "declined": (wednesday, datetime(2026, 11, 27, 10, tzinfo=UTC))}
    assert {"made_at", "ended_at"} & columns == set()
