"""fix42b: a change of the case's fields replayed after an act dated before it, typed in after
it, is judged under the role its recorder acted under, stored with the change
(``record_change.actor_role``, migration 0040), not inferred from who holds or manages the case
now (fix41a's inference).

Somerset S16 ("advise_line_manager": a duty manager's act on the case, 3.2.5) is owed for a
change of the child's circumstances recorded by a duty manager, not by the case holder. The
release PATCHed by the case holder, who is then replaced by reassignment, was replayed (after
the custody entry typed in late) as a duty manager's, since its recorder no longer held the
case: S16 owed, which time order never raised.

Dates: the case opened Tue 1 Sep 2026 09:00 BST; custody entry Thu 10 Sep 10:00 BST, recorded
by the line manager; the release (in_custody false) PATCHed by the case holder Thu 1 Oct 10:00
BST; the case holder replaced (case_holder-1 -> case_holder-2) by the line manager Fri 2 Oct
10:00 BST.
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
from tests.api.integrity_support import patch_case
from tests.api.migration_rows import CASE, JSON, SERVICE, WHEN, old_case
from tests.api.test_fix41c_made_at_migration import REFERRAL
from tests.conftest import Tenant, _in_thread, database_at, make_tenant

SOMERSET = "somerset-yjt-2023"
OPENED = "2026-09-01T08:00:00Z"
ENTRY = "2026-09-10T09:00:00Z"
RELEASE = "2026-10-01T09:00:00Z"
REASSIGNED = "2026-10-02T09:00:00Z"
CHANGE = sa.table("record_change", sa.column("case_id", sa.Uuid()),
                  sa.column("entity_type"), sa.column("actor_sub"), sa.column("changes", sa.JSON),
                  sa.column("actor_role"))


async def _entry(t: Tenant, case: str) -> None:
    r = await t.client.post(f"/v1/cases/{case}/events", json={
        "type": "custody_entry", "occurred_at": ENTRY}, headers=t.auth("line_manager"))
    assert r.status_code == 201, r.text


async def _release(t: Tenant, case: str) -> None:
    r = await patch_case(t, case, {"in_custody": False, "occurred_at": RELEASE},
                         role="case_holder")
    assert r.status_code == 200, r.text


async def _reassign(t: Tenant, case: str) -> None:
    r = await patch_case(t, case, {"case_holder_id": "case_holder-2",
                                   "occurred_at": REASSIGNED})
    assert r.status_code == 200, r.text


async def _open_steps(t: Tenant, case: str) -> list[tuple[Any, ...]]:
    r = await t.client.get("/v1/next-steps", params={
        "case_id": case, "status": "open", "limit": 200}, headers=t.auth("line_manager"))
    assert r.status_code == 200, r.text
    return sorted((s["code"], s["actor"], s["assignee_id"], s["due_at"], s["urgent"],
                   s["policy"]["rule"]) for s in r.json()["data"])


async def test_S16_release_by_a_case_holder_since_replaced_replayed_after_a_late_entry(
        client: Any, settings: Any) -> None:
    """S16 (Somerset 3.2.5, "advise_line_manager" for a duty manager's act): the release
    PATCHed by the case holder (1 Oct), the case holder then replaced (2 Oct), the custody entry
    of 10 Sep typed in last: the release is replayed as the case holder's, so the steps are time
    order's (no S16); before, it was replayed as a duty manager's and S16 was owed."""
    got = {}
    for name, order in (("time", (_entry, _release, _reassign)),
                        ("entry last", (_release, _reassign, _entry))):
        t = await make_tenant(client, settings, SOMERSET)
        case = (await t.open_case(opened_at=OPENED))["data"]["id"]
        for act in order:
            await act(t, case)
        got[name] = (await _open_steps(t, case), t, case)
    assert got["entry last"][0] == got["time"][0]
    assert "advise_line_manager" not in {s[0] for s in got["time"][0]}
    engine = build_engine(settings)
    try:
        async with engine.connect() as conn:
            rows = (await conn.execute(sa.select(
                CHANGE.c.actor_sub, CHANGE.c.actor_role, CHANGE.c.changes).where(
                CHANGE.c.case_id == uuid.UUID(got["entry last"][2]),
                CHANGE.c.entity_type == "case"))).all()
    finally:
        await engine.dispose()
    assert sorted((sub, role) for sub, role, changes in rows
                  if "in_custody" in (changes or {}) and sub == "case_holder-1") == [
        ("case_holder-1", "case_holder")]


@pytest.fixture
def old_database() -> Iterator[str]:
    """A database migrated only to 0039 (no ``record_change.actor_role``)."""
    with database_at("0039") as url:
        yield url


OLD_CHANGE = sa.table(
    "record_change", *(sa.column(n, sa.Uuid()) for n in ("id", "service_id", "case_id",
                                                         "entity_id")),
    sa.column("entity_type"), sa.column("actor_sub"), sa.column("created", sa.Boolean()),
    sa.column("changes", JSON), sa.column("recorded_at", WHEN), sa.column("occurred_at", WHEN))
ROLES = sa.table("record_change", sa.column("id", sa.Uuid()), sa.column("actor_role"))
AT = datetime(2026, 10, 1, 9, tzinfo=UTC)


async def test_S16_actor_role_backfilled_by_fix41a_inference(old_database: str) -> None:
    """S16 (Somerset 3.2.5, as above): a database upgraded from 0039 gives each old change of a
    case's fields the role fix41a inferred for it (documented in migration 0040): the case's
    holder's -> case_holder, its line manager's -> line_manager, a feed's that sent the case a
    message -> feed, a dated PATCH's stated row by anyone else -> duty_manager; any other row
    (another's change, a step's row, no recorder) none. The downgrade drops the column."""
    settings = Settings(env="test", database_url=old_database, jwt_secret="x" * 40)
    engine = build_engine(settings)
    service_id = uuid.uuid4()
    case = old_case(service_id, "high", AT)  # held by ch-1, managed by lm-1

    def change(sub: str | None, changes: dict[str, Any], entity: str = "case") -> dict[str, Any]:
        return {"id": uuid.uuid4(), "service_id": service_id, "case_id": case["id"],
                "entity_id": case["id"] if entity == "case" else uuid.uuid4(),
                "entity_type": entity, "actor_sub": sub, "created": False, "changes": changes,
                "recorded_at": AT, "occurred_at": AT}

    released = {"in_custody": [True, False]}
    rows = {"holder": change("ch-1", released), "manager": change("lm-1", released),
            "feed": change("mappa-feed", {"mappa_level": [None, 2]}),
            "stated": change("dm-1", {"in_custody": [False, False]}),
            "other": change("dm-1", released), "step": change("ch-1", {"status": ["open", "done"]},
                                                               "step"),
            "nobody": change(None, released)}
    try:
        async with engine.begin() as conn:
            await conn.execute(sa.insert(SERVICE).values(
                id=service_id, slug=f"s-{service_id.hex[:8]}", name="Old", created_at=AT,
                policy_pack=SOMERSET))
            await conn.execute(sa.insert(CASE), [case])
            await conn.execute(sa.insert(REFERRAL), [{
                "id": uuid.uuid4(), "service_id": service_id, "case_id": case["id"],
                "kind": "mappa_h", "status": "received", "source": "feed:mappa",
                "created_by": "mappa-feed", "details": {}, "history": [], "occurred_at": AT,
                "created_at": AT, "updated_at": AT, "sent_at": None}])
            await conn.execute(sa.insert(OLD_CHANGE), list(rows.values()))
        await engine.dispose()
        _in_thread(upgrade, old_database, "0040")
        engine = build_engine(settings)
        async with engine.connect() as conn:
            got = dict((await conn.execute(sa.select(ROLES.c.id, ROLES.c.actor_role))).all())
        await engine.dispose()
        _in_thread(downgrade, old_database, "0039")
        engine = build_engine(settings)
        async with engine.connect() as conn:
            columns = {c["name"] for c in await conn.run_sync(
                lambda sync: sa.inspect(sync).get_columns("record_change"))}
    finally:
        await engine.dispose()
    assert {k: got[r["id"]] for k, r in rows.items()} == {
        "holder": "case_holder", "manager": "line_manager", "feed": "feed",
        "stated": "duty_manager", "other": None, "step": None, "nobody": None}
    assert "actor_role" not in columns
