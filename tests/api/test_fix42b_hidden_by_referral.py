"""fix42b: the steps a referral keeps hidden as never raised (fix41c) are found by the stored
``step.hidden_by_referral_id`` (migration 0039), not by the wording of their note.

fix42a, on a referral's withdrawal or decline typed in after an act dated after it, leaves the
rows that referral hid out of "the duty closed since" and owes the duty afresh. It found them by
matching fix41c's note line ("Never raised: the panel referral <id> was ..."): reworded, or cut
by the note's length limit (the oldest lines give way), the rows counted as the duty closed and
S7/S8 stayed unowed. Dates as fix42a: MARP referral Tue 24 Nov 2026 10:00, withdrawn Wed 25 Nov
10:00, High ROSH Thu 26 Nov 10:00 (GMT).
"""

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
from tests.api.order_support import visible_steps
from tests.api.test_fix41c_referral_times import (
    NOVEMBER,
    SOMERSET,
    THU,
    TUE,
    VIEWS,
    WED,
    _high,
    _referral,
    _steps,
    _withdraw,
)
from tests.conftest import _in_thread, database_at, make_tenant

OPENED = "2026-11-02T09:00:00Z"
STEP_NOTE = sa.table("step", sa.column("id", sa.Uuid()), sa.column("note"),
                     sa.column("hidden_by_referral_id", sa.Uuid()))


async def _reword(settings: Any, step_ids: list[str]) -> None:
    """Rewrite the notes of ``step_ids``, as a later wording, or the note's length limit (the
    oldest lines give way), would leave them."""
    engine = build_engine(settings)
    try:
        async with engine.begin() as conn:
            await conn.execute(sa.update(STEP_NOTE).where(
                STEP_NOTE.c.id.in_([uuid.UUID(i) for i in step_ids])).values(
                note="Kept hidden: the referral came first."))
    finally:
        await engine.dispose()


async def _hidden_by(settings: Any, step_ids: list[str]) -> dict[str, str | None]:
    """The stored ``hidden_by_referral_id`` of ``step_ids`` (id -> referral id or None)."""
    engine = build_engine(settings)
    try:
        async with engine.connect() as conn:
            rows = (await conn.execute(sa.select(
                STEP_NOTE.c.id, STEP_NOTE.c.hidden_by_referral_id).where(
                STEP_NOTE.c.id.in_([uuid.UUID(i) for i in step_ids])))).all()
    finally:
        await engine.dispose()
    return {str(i): (None if r is None else str(r)) for i, r in rows}


async def test_S7_S8_rows_a_withdrawn_referral_hid_are_found_whatever_their_note_says(
        client: Any, settings: Any) -> None:
    """Somerset 3.2.3 "The case holder will refer the case to the next YJT MARP by contacting
    the appropriate administrator and completion of section 1 of the MARP referral form"; 6.2
    "Child and parent/carer views will be sought before the initial panel and be included in
    the MARP referral form". Typed High (26th), referral (24th), withdrawal (25th), with the
    hidden rows' notes reworded before the withdrawal: S7 and S8 are owed from the 26th, as in
    time order (before: the reworded rows counted as the duty closed, none was open)."""
    timed = await make_tenant(client, settings, SOMERSET)
    case = (await timed.open_case(opened_at=OPENED))["data"]["id"]
    referral = await _referral(timed, case, "panel", TUE, "submit", details=VIEWS)
    await _withdraw(timed, referral, WED)
    await _high(THU)(timed, case, {})
    in_time_order = await visible_steps(timed, case, "S7", "S8", report=NOVEMBER)

    t = await make_tenant(client, settings, SOMERSET)
    case = (await t.open_case(opened_at=OPENED))["data"]["id"]
    await _high(THU)(t, case, {})
    referral = await _referral(t, case, "panel", TUE, "submit", details=VIEWS)
    hidden = [s["id"] for s in await _steps(t, case, "S7", "S8") if s["status"] == "superseded"]
    await _reword(settings, hidden)
    await _withdraw(t, referral, WED)
    assert await visible_steps(t, case, "S7", "S8", report=NOVEMBER) == in_time_order
    assert sorted((s["policy"]["rule"], s["status"], s["raised_at"])
                  for s in await _steps(t, case, "S7", "S8")) == [
        ("S7", "open", THU), ("S7", "superseded", THU),
        ("S8", "open", THU), ("S8", "superseded", THU)]
    assert len(hidden) == 2
    assert await _hidden_by(settings, hidden) == dict.fromkeys(hidden, referral)


@pytest.fixture
def old_database() -> Iterator[str]:
    """A database migrated only to 0038 (no ``step.hidden_by_referral_id``)."""
    with database_at("0038") as url:
        yield url


STEP = sa.table(
    "step", *(sa.column(n, sa.Uuid()) for n in ("id", "service_id", "case_id", "subject_id")),
    *(sa.column(n) for n in ("code", "rule_id", "title", "actor", "policy_pack", "policy_ref",
                             "status", "note")),
    sa.column("urgent", sa.Boolean()), sa.column("awaiting_panel_date", sa.Boolean()),
    sa.column("reasons", JSON), sa.column("created_at", WHEN), sa.column("raised_at", WHEN))
AT = datetime(2026, 11, 26, 10, tzinfo=UTC)


def _step(case: dict[str, Any], rule: str, code: str, status: str,
          note: str | None) -> dict[str, Any]:
    return {"id": uuid.uuid4(), "service_id": case["service_id"], "case_id": case["id"],
            "subject_id": case["id"], "code": code, "rule_id": rule, "title": code,
            "actor": "case_holder", "policy_pack": SOMERSET, "policy_ref": "3.2.3",
            "status": status, "note": note, "urgent": False, "awaiting_panel_date": False,
            "reasons": [], "created_at": AT, "raised_at": AT}


async def test_S7_hidden_by_referral_id_backfilled_from_fix41c_notes(
        old_database: str) -> None:
    """Somerset 3.2.3 (as above): a database upgraded from 0038 keeps, on each step a panel or
    MAPPA A referral hid as never raised, that referral's id, read from the reason fix41c wrote
    as the note's last line; no other step gets one; the downgrade drops the column."""
    settings = Settings(env="test", database_url=old_database, jwt_secret="x" * 40)
    engine = build_engine(settings)
    service_id = uuid.uuid4()
    case = old_case(service_id, "high", AT)
    panel, mappa = uuid.uuid4(), uuid.uuid4()
    made = (f"Never raised: the panel referral {panel} was made 2026-11-24T10:00:00Z, before "
            "the act that raised it (S7, refer_to_panel) found it not yet made")
    sent = (f"Never raised: the mappa_a referral {mappa} was sent 2026-11-24T10:00:00Z, "
            "before the act that raised it (S10, identify_mappa_level) found it not yet sent")
    rows = {
        "s7": _step(case, "S7", "refer_to_panel", "superseded", f"Earlier line\n{made}"),
        "s10": _step(case, "S10", "identify_mappa_level", "superseded", sent),
        "open": _step(case, "S8", "seek_child_and_carer_views", "open", None),
        "other": _step(case, "S11", "monthly_manager_review", "superseded",
                       "Superseded: the case closed"),
    }
    try:
        async with engine.begin() as conn:
            await conn.execute(sa.insert(SERVICE).values(
                id=service_id, slug=f"s-{service_id.hex[:8]}", name="Old", created_at=AT,
                policy_pack=SOMERSET))
            await conn.execute(sa.insert(CASE), [case])
            await conn.execute(sa.insert(STEP), list(rows.values()))
        await engine.dispose()
        _in_thread(upgrade, old_database, "0039")
        engine = build_engine(settings)
        async with engine.connect() as conn:
            got = dict((await conn.execute(sa.select(
                STEP_NOTE.c.id, STEP_NOTE.c.hidden_by_referral_id))).all())
        await engine.dispose()
        _in_thread(downgrade, old_database, "0038")
        engine = build_engine(settings)
        async with engine.connect() as conn:
            columns = {c["name"] for c in await conn.run_sync(
                lambda sync: sa.inspect(sync).get_columns("step"))}
    finally:
        await engine.dispose()
    assert {k: got[r["id"]] for k, r in rows.items()} == {
        "s7": panel, "s10": mappa, "open": None, "other": None}
    assert "hidden_by_referral_id" not in columns
