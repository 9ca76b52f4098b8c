"""Helpers shared by the data-protection tests (issue 13): a case with a record around it."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.core.config import Settings
from app.core.db import build_engine, session_factory
from app.core.security import mint_dev_token
from app.domain import escalation
from app.domain.services import Service
from app.main import create_app
from app.workflows.calendar import WorkingCalendar
from tests.conftest import Tenant

Factory = async_sessionmaker[AsyncSession]


@pytest.fixture
async def db(settings: Settings) -> AsyncIterator[Factory]:
    """Sessions on the test database, to look at rows the API does not show."""
    engine = build_engine(settings)
    try:
        yield session_factory(engine)
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
def openapi(settings: Settings) -> dict[str, Any]:
    """The app's OpenAPI document."""
    return create_app(settings).openapi()


async def service_id(factory: Factory, t: Tenant) -> uuid.UUID:
    """The tenant's service id (so an escalation pass touches only this test's rows)."""
    async with factory() as session:
        service = (await session.exec(select(Service).where(Service.slug == t.slug))).one()
        return service.id


async def tick(factory: Factory, t: Tenant, now: datetime | None = None) -> int:
    """One escalation pass over the tenant's steps, at ``now`` (default: the service's clock);
    how many steps it escalated."""
    return await escalation.run_pass(factory, now, service_id=await service_id(factory, t))


def concrete_path(path: str, fixed: dict[str, str]) -> str:
    """An OpenAPI path template with its parameters filled: from ``fixed`` by name, any other
    with a fresh UUID (an id nobody has)."""
    return re.sub(r"\{([a-z_]+)\}", lambda m: fixed.get(m[1], str(uuid.uuid4())), path)


ALL_STAFF_ROLES = ["case_holder", "line_manager", "duty_manager", "chair", "panel_admin"]


def staff_auth(tenant: Tenant, sub: str, roles: list[str] | None = None) -> dict[str, str]:
    """A token for ``sub`` carrying ``roles`` (every staff role by default)."""
    token = mint_dev_token(tenant.settings, sub=sub, roles=roles or ALL_STAFF_ROLES,
                           service=tenant.slug)
    return {"Authorization": f"Bearer {token}"}


@dataclass
class CaseRecord:
    """A case and one of each record hanging off it."""

    case: dict[str, Any]
    ids: dict[str, str] = field(default_factory=dict)

    @property
    def id(self) -> str:
        """The case id."""
        return str(self.case["id"])


async def ok(response: httpx.Response, status: int = 201) -> dict[str, Any]:
    """The JSON of a response that must have ``status``."""
    assert response.status_code == status, response.text
    return response.json()  # type: ignore[no-any-return]


async def case_with_record(
    client: httpx.AsyncClient, tenant: Tenant, given: str, family: str, panel_id: str
) -> CaseRecord:
    """A Somerset case with a ROSH-high judgement, an assessment, a referral, an event, a
    manager's oversight note and a panel item, and the id of one of its open steps."""
    ref = {"system": "iyss", "id": f"IYSS-{uuid.uuid4().hex[:8]}"}
    opened = await tenant.open_case(
        external_ref=ref, child={"given_name": given, "family_name": family,
                                 "date_of_birth": "2010-05-01"})
    rec = CaseRecord(case=opened["data"])
    holder, manager = tenant.auth("case_holder"), tenant.auth("line_manager")
    base = f"/v1/cases/{rec.id}"
    await ok(await client.post(f"{base}/judgements", headers=holder, json={
        "domain": "rosh", "level": "high", "occurred_at": "2026-06-01T10:00:00+01:00",
        "rationale": "Threats made to a named peer."}))
    rec.ids["assessment_id"] = (await ok(await client.post(
        f"{base}/assessments", headers=holder,
        json={"type": "asset_plus", "stage": "start"})))["data"]["id"]
    rec.ids["referral_id"] = (await ok(await client.post(
        f"{base}/referrals", headers=holder, json={"kind": "panel"})))["data"]["id"]
    await ok(await client.post(f"{base}/events", headers=holder,
                               json={"type": "change_of_circumstances"}))
    await ok(await client.post(f"{base}/oversight", headers=manager,
                               json={"note": "Plan reviewed."}))
    item = await ok(await client.post(
        f"/v1/panels/{panel_id}/items", headers=tenant.auth("panel_admin"),
        json={"case_id": rec.id, "presenter_id": "case_holder-1"}))
    rec.ids["item_id"] = item["data"]["id"]
    steps = (await ok(await client.get("/v1/next-steps", params={"case_id": rec.id},
                                       headers=holder), 200))["data"]
    rec.ids["step_id"] = steps[0]["id"]
    rec.ids["case_id"] = rec.id
    rec.ids["external_system"], rec.ids["external_id"] = ref["system"], ref["id"]
    return rec


async def schedule_panel(client: httpx.AsyncClient, tenant: Tenant) -> str:
    """A MARP scheduled by the panel administrator; its id."""
    r = await client.post("/v1/panels", headers=tenant.auth("panel_admin"), json={
        "kind": "marp", "scheduled_for": "2026-06-10T14:00:00+01:00", "chair_id": "chair-1"})
    return str((await ok(r))["data"]["id"])


async def restricted_case(t: Tenant, line_manager: str) -> str:
    """A case of ``line_manager``'s restricted by them to its holder (case_holder-1) and
    themselves; its id."""
    case = (await t.open_case(line_manager_id=line_manager))["data"]
    r = await restrict(t.client, t, case["id"],
                       {"allowed_staff": ["case_holder-1", line_manager]},
                       headers=t.auth("line_manager", line_manager))
    assert r.status_code == 200, r.text
    return str(case["id"])


async def restrict(
    client: httpx.AsyncClient, tenant: Tenant, case_id: str, access: dict[str, Any] | None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    """PATCH the case's access list as its line manager (with the current ETag)."""
    headers = headers or tenant.auth("line_manager")
    etag = (await client.get(f"/v1/cases/{case_id}", headers=headers)).headers.get("ETag", '"0"')
    return await client.patch(f"/v1/cases/{case_id}", json={"access": access},
                              headers={**headers, "If-Match": etag})


def sitting_days(first: date, n: int) -> list[str]:
    """The first ``n`` working days (England and Wales) on or after ``first``, as ISO dates:
    the days a panel may sit (422 ``not-a-working-day`` on another)."""
    calendar, days = WorkingCalendar(), []
    day = calendar.next_working_day_on_or_after(first)
    while len(days) < n:
        days.append(day.isoformat())
        day = calendar.add_working_days(day, 1)
    return days
