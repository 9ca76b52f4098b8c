"""Upgrading a database that already holds a very high case marks it a priority (migration
0025; attack pass 19, A19-2)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa
import sqlmodel
from sqlalchemy.dialects import postgresql

from app.core.config import Settings
from app.core.db import build_engine
from app.core.migrate import upgrade
from tests.conftest import _in_thread, database_at

WHEN = sqlmodel.sql.sqltypes.UTCDateTime()
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
SERVICE = sa.table("service", sa.column("id", sa.Uuid()), sa.column("slug"), sa.column("name"),
                   sa.column("policy_pack"), sa.column("created_at", WHEN))
CASE = sa.table(
    "case", *(sa.column(n, sa.Uuid()) for n in ("id", "service_id")),
    *(sa.column(n) for n in ("given_name", "family_name", "case_holder_id", "line_manager_id",
                             "intervention", "csc_status", "version")),
    sa.column("date_of_birth", sa.Date()),
    *(sa.column(n, sa.Boolean()) for n in ("statutory", "weapon_related", "in_custody",
                                           "volunteer_attached", "on_register")),
    *(sa.column(n, JSON) for n in ("past_interventions", "closed_periods", "ratings", "facts",
                                   "scores")),
    *(sa.column(n, WHEN) for n in ("opened_at", "created_at", "updated_at")),
)
STEP = sa.table(
    "step", *(sa.column(n, sa.Uuid()) for n in ("id", "service_id", "case_id", "subject_id")),
    *(sa.column(n) for n in ("code", "rule_id", "title", "actor", "policy_pack", "policy_ref",
                             "status")),
    sa.column("urgent", sa.Boolean()), sa.column("awaiting_panel_date", sa.Boolean()),
    sa.column("reasons", JSON), sa.column("created_at", WHEN), sa.column("raised_at", WHEN),
)


@pytest.fixture
def old_database() -> Iterator[str]:
    """A database migrated only to 0024 (before priority)."""
    with database_at("0024") as url:
        yield url


def _case(service_id: uuid.UUID, rosh: str, at: datetime) -> dict[str, object]:
    return {"id": uuid.uuid4(), "service_id": service_id, "given_name": "A", "family_name": "B",
            "case_holder_id": "ch-1", "line_manager_id": "lm-1", "intervention": "court_order",
            "csc_status": "none", "version": 1, "date_of_birth": date(2011, 2, 1),
            "statutory": True, "weapon_related": False, "in_custody": False,
            "volunteer_attached": False, "on_register": True, "past_interventions": [],
            "closed_periods": [], "facts": {}, "scores": {}, "opened_at": at,
            "created_at": at, "updated_at": at,
            "ratings": {"rosh": {"level": rosh, "recorded_at": at.isoformat(),
                                 "judgement_id": str(uuid.uuid4())}}}


def _step(case: dict[str, object], at: datetime) -> dict[str, object]:
    return {"id": uuid.uuid4(), "service_id": case["service_id"], "case_id": case["id"],
            "subject_id": case["id"], "code": "monthly_manager_review", "rule_id": "S11",
            "title": "Review", "actor": "line_manager", "policy_pack": "somerset-yjt-2023",
            "policy_ref": "4.5", "status": "open", "urgent": False,
            "awaiting_panel_date": False, "reasons": [], "created_at": at, "raised_at": at}


async def test_PRI_a_very_high_case_on_file_is_a_priority_after_the_upgrade(
        old_database: str) -> None:
    """3.2.4 "'Very High' judgements will trigger the case being dealt with as a priority at
    all stages": a Somerset case rated ROSH very high on Thursday 31 December 2026, before
    the upgrade, is a priority with its open step; a high one is not."""
    settings = Settings(env="test", database_url=old_database, jwt_secret="x" * 40)
    engine = build_engine(settings)
    service_id, at = uuid.uuid4(), datetime(2026, 12, 31, 10, tzinfo=UTC)
    very_high, high = _case(service_id, "very_high", at), _case(service_id, "high", at)
    try:
        async with engine.begin() as conn:
            await conn.execute(sa.insert(SERVICE).values(
                id=service_id, slug=f"p-{service_id.hex[:8]}", name="Old", created_at=at,
                policy_pack="somerset-yjt-2023"))
            await conn.execute(sa.insert(CASE), [very_high, high])
            await conn.execute(sa.insert(STEP), [_step(very_high, at), _step(high, at)])
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
