"""One agenda item per case per panel (attack pass 11, A11-8).

A case could be put on the same panel's agenda twice (three racing adds gave three items), and
the chair could then record two contradicting decisions about the child at one sitting (one
very high with a review date, one low taking the child off the register). A second add is 409
``already-on-agenda`` naming the existing item (never echoing the request); racing adds give
exactly one 201; migration 0020's unique index backs it, keeping old duplicates (ranked) so the
upgrade does not fail on them.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime

import httpx
import pytest
import sqlalchemy as sa
import sqlmodel
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import create_async_engine

from app.core.config import Settings
from app.core.migrate import upgrade
from tests.api.fidelity_support import with_matrix
from tests.api.integrity_support import SOMERSET, WOKINGHAM, assert_problem, audit_of
from tests.conftest import Tenant, _in_thread, database_at, make_tenant

ROUNDS = 5


async def _high(t: Tenant) -> str:
    """A case with ROSH high from 26 August 2026 (on the register: it may go on a panel)."""
    case = (await t.open_case())["data"]
    body = with_matrix(t.pack, {"domain": "rosh", "level": "high", "victims": ["public"],
                                "occurred_at": "2026-08-26T10:00:00+01:00"})
    r = await t.client.post(f"/v1/cases/{case['id']}/judgements", json=body,
                            headers=t.auth("case_holder"))
    assert r.status_code == 201, r.text
    return str(case["id"])


async def _panel(t: Tenant, kind: str, when: str) -> str:
    r = await t.client.post("/v1/panels", json={"kind": kind, "scheduled_for": when,
                                                "chair_id": "chair-1"},
                            headers=t.auth("panel_admin"))
    assert r.status_code == 201, r.text
    return str(r.json()["data"]["id"])


def _add(t: Tenant, panel: str, case_id: str, presenter: str) -> asyncio.Future[httpx.Response]:
    return asyncio.ensure_future(t.client.post(
        f"/v1/panels/{panel}/items", json={"case_id": case_id, "presenter_id": presenter},
        headers=t.auth("panel_admin")))


async def _items(t: Tenant, panel: str) -> list[dict[str, object]]:
    r = await t.client.get(f"/v1/panels/{panel}", headers=t.auth("panel_admin"))
    assert r.status_code == 200, r.text
    return r.json()["data"]["items"]  # type: ignore[no-any-return]


def _refused(r: httpx.Response, first: str, *sent: str) -> None:
    body = assert_problem(r, 409)
    assert body["type"].endswith("/already-on-agenda"), body
    assert body["item_id"] == first
    for value in sent:  # nothing the request carried comes back
        assert value not in r.text


@pytest.fixture(params=[SOMERSET, WOKINGHAM], ids=["somerset", "wokingham"])
async def tenant(request: pytest.FixtureRequest, client: httpx.AsyncClient,
                 settings: Settings) -> Tenant:
    """A fresh service under each pack in turn."""
    return await make_tenant(client, settings, request.param)


def _kind(t: Tenant) -> str:
    return "marp" if t.pack == SOMERSET else "high_risk_panel"


async def test_a_case_goes_on_a_panels_agenda_once(tenant: Tenant) -> None:
    """Somerset (MARP) and Wokingham (High-Risk Panel): a second item for the same case on the
    same panel is 409 naming the first, whoever presents it and whether or not the first is
    decided; the case goes on another panel's agenda as before."""
    t, kind = tenant, _kind(tenant)
    case = {"id": await _high(t)}
    panel = await _panel(t, kind, "2026-09-08T10:00:00+01:00")
    first = (await _add(t, panel, case["id"], "case_holder-1")).json()["data"]["id"]
    _refused(await _add(t, panel, case["id"], "lm-presenter-77"), first,
             case["id"], "lm-presenter-77")
    assert [i["id"] for i in await _items(t, panel)] == [first]
    r = await t.client.post(f"/v1/panels/{panel}/items/{first}/decision",
                            json={"actions": [{"description": "Review the plan",
                                               "owner_id": "case_holder-1",
                                               "due_date": "2026-10-06"}],
                                  "rosh_level": "high",
                                  "minutes": "Held", "review_date": "2026-10-06",
                                  "occurred_at": "2026-09-08T11:00:00+01:00"},
                            headers=t.auth("chair", "chair-1"))
    assert r.status_code == 200, r.text
    _refused(await _add(t, panel, case["id"], "case_holder-1"), first, case["id"])
    other = await _panel(t, kind, "2026-10-06T10:00:00+01:00")
    assert (await _add(t, other, case["id"], "case_holder-1")).status_code == 201


async def test_racing_adds_put_the_case_on_the_agenda_once(tenant: Tenant) -> None:
    """Three adds of one case to one panel at once (the tester's t26.py: 201, 201, 201): exactly
    one 201, the others 409 naming the winner's item, one item on the agenda, one audited add."""
    t, kind = tenant, _kind(tenant)
    for n in range(ROUNDS):
        case = {"id": await _high(t)}
        # Tuesday 8 to Monday 14 September 2026, working days only (a panel sits on one).
        panel = await _panel(t, kind, f"2026-09-{(8, 9, 10, 11, 14)[n]:02d}T10:00:00+01:00")
        answers = await asyncio.gather(*(_add(t, panel, case["id"], f"cw-{i}")
                                         for i in range(3)))
        statuses = sorted(r.status_code for r in answers)
        assert statuses == [201, 409, 409], [r.text for r in answers]
        won = next(r for r in answers if r.status_code == 201).json()["data"]["id"]
        for r in answers:
            if r.status_code == 409:
                _refused(r, won, case["id"])
        assert [i["id"] for i in await _items(t, panel)] == [won]
        adds = [e for e in await audit_of(t, case["id"]) if e["action"] == "panel.item.add"]
        assert len(adds) == 1, adds


# --- migration 0020 on a database that already holds duplicates --------------------------------

def _uuid() -> sa.types.TypeEngine:
    return sa.Uuid()


def _json() -> sa.types.TypeEngine:
    return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


_DT = sqlmodel.sql.sqltypes.UTCDateTime
SERVICE = sa.table("service", sa.column("id", _uuid()), sa.column("slug"), sa.column("name"),
                   sa.column("policy_pack"), sa.column("created_at", _DT()))
CASE = sa.table("case", *(sa.column(n, _uuid()) for n in ("id", "service_id")),
                *(sa.column(n) for n in ("given_name", "family_name", "case_holder_id",
                                         "line_manager_id", "intervention", "csc_status")),
                sa.column("date_of_birth", sa.Date()),
                *(sa.column(n, sa.Boolean()) for n in ("statutory", "weapon_related",
                                                       "in_custody", "volunteer_attached",
                                                       "on_register")),
                *(sa.column(n, _json()) for n in ("past_interventions", "closed_periods",
                                                  "ratings", "facts", "scores")),
                sa.column("version", sa.Integer()),
                *(sa.column(n, _DT()) for n in ("opened_at", "created_at", "updated_at")))
PANEL = sa.table("panel", *(sa.column(n, _uuid()) for n in ("id", "service_id")),
                 *(sa.column(n) for n in ("kind", "chair_id", "created_by")),
                 *(sa.column(n, _DT()) for n in ("scheduled_for", "created_at")))
ITEM = sa.table("panel_item", *(sa.column(n, _uuid()) for n in ("id", "service_id", "panel_id",
                                                                 "case_id")),
                sa.column("presenter_id"), sa.column("created_at", _DT()),
                sa.column("decided_at", _DT()), sa.column("decided_by"),
                sa.column("decision", _json()))


@pytest.fixture
def db_at_0017() -> Iterator[str]:
    """A database migrated only to 0017 (before one item per case per panel)."""
    with database_at("0017") as url:
        yield url


async def test_migration_keeps_old_duplicates_and_refuses_new_ones(db_at_0017: str) -> None:
    """Before 0020 a case sat twice on one MARP's agenda, both decided (the tester's a and b)
    and three times on another: the upgrade keeps every item and its decision, ranks the extra
    ones 1, 2 in the order they were added, and the database then refuses one more."""
    engine = create_async_engine(db_at_0017)
    at = datetime(2026, 8, 28, 14, 47, tzinfo=UTC)
    service, case, marp, other = (uuid.uuid4() for _ in range(4))
    items = [(uuid.uuid4(), marp, at.replace(minute=m), True) for m in (1, 0)] + \
            [(uuid.uuid4(), other, at.replace(minute=m), False) for m in (5, 3, 4)]
    try:
        async with engine.begin() as conn:
            await conn.execute(sa.insert(SERVICE).values(
                id=service, slug=f"m-{service.hex[:8]}", name="Old", created_at=at,
                policy_pack="somerset-yjt-2023"))
            await conn.execute(sa.insert(CASE).values(
                id=case, service_id=service, given_name="Sam", family_name="Taylor",
                case_holder_id="cw-alex", line_manager_id="lm-sam", intervention="court_order",
                csc_status="none", date_of_birth=date(2010, 5, 1), statutory=True,
                weapon_related=False, in_custody=False, volunteer_attached=False,
                on_register=True, past_interventions=[], closed_periods=[], ratings={},
                facts={}, scores={}, version=1, opened_at=at, created_at=at, updated_at=at))
            await conn.execute(sa.insert(PANEL), [
                {"id": p, "service_id": service, "kind": "marp", "chair_id": "chair-kim",
                 "created_by": "pa-1", "scheduled_for": at, "created_at": at}
                for p in (marp, other)])
            await conn.execute(sa.insert(ITEM), [
                {"id": i, "service_id": service, "panel_id": p, "case_id": case,
                 "presenter_id": "cw-alex", "created_at": when,
                 "decided_at": at if decided else None,
                 "decided_by": "chair-kim" if decided else None,
                 "decision": {"minutes": "x"} if decided else None}
                for i, p, when, decided in items])
        await engine.dispose()
        _in_thread(upgrade, db_at_0017, "head")
        async with engine.connect() as conn:
            rows = (await conn.execute(sa.text(
                "SELECT id, duplicate_rank, decided_by FROM panel_item"))).all()
        ranks = {uuid.UUID(str(r[0])): (r[1], r[2]) for r in rows}
        assert ranks == {items[0][0]: (1, "chair-kim"), items[1][0]: (0, "chair-kim"),
                         items[2][0]: (2, None), items[3][0]: (0, None),
                         items[4][0]: (1, None)}
        with pytest.raises(IntegrityError):
            async with engine.begin() as conn:
                await conn.execute(sa.insert(ITEM).values(
                    id=uuid.uuid4(), service_id=service, panel_id=marp, case_id=case,
                    presenter_id="lm-sam", created_at=at))
    finally:
        await engine.dispose()
