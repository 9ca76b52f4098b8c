"""The judgement write path's shortcuts read what the longer way read (issue 15, writes)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import httpx
from sqlmodel import select

from app.domain import policy
from app.domain.cases_table import Case
from app.domain.services import Service
from tests.api.support import Factory, db, schedule_panel  # noqa: F401 - fixture
from tests.api.test_panels import add_item, refer_to_panel
from tests.conftest import Tenant


async def test_snapshot_inputs_in_one_statement_match_the_separate_reads(
    client: httpx.AsyncClient, db: Factory, somerset: Tenant  # noqa: F811
) -> None:
    """Panels (soonest first), the case on an undecided agenda, and the holder's absences
    from the day before the event on: the same from one UNION ALL as from three queries,
    with and without each of them."""
    case = (await somerset.open_case())["data"]
    other = (await somerset.open_case(case_holder_id="case_holder-2"))["data"]
    manager = somerset.auth("duty_manager")  # the holder has not acted yet (A13-4)
    for starts, ends in (("2026-06-20", "2026-06-25"), ("2026-05-01", "2026-05-03"),
                         ("2026-06-01", "2026-06-05")):
        r = await client.post("/v1/staff/case_holder-1/absences", headers=manager,
                              json={"starts_on": starts, "ends_on": ends})
        assert r.status_code == 201, r.text
    await refer_to_panel(client, somerset, case["id"])
    await add_item(client, somerset, await schedule_panel(client, somerset), case["id"])
    r = await client.post("/v1/panels", headers=somerset.auth("panel_admin"), json={
        "kind": "marp", "scheduled_for": "2026-05-10T14:00:00+01:00", "chair_id": "chair-1"})
    assert r.status_code == 201, r.text
    async with db() as session:
        service = (await session.exec(select(Service).where(Service.slug == somerset.slug))).one()
        for case_id in (case["id"], other["id"], str(uuid.uuid4())):
            row = (await session.exec(select(Case).where(Case.id == uuid.UUID(case_id)))).first()
            target = row or Case.model_construct(id=uuid.UUID(case_id), service_id=service.id,
                                                 case_holder_id=None)
            for at in (datetime(2026, 6, 2, 10, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC)):
                panels, extras = await policy.snapshot_inputs(session, service, target, at)
                # Every panel, those already sat included (next-panel counts from the event).
                assert panels == await policy.scheduled_panels(session, service)
                assert extras == await policy.snapshot_extras(session, target, at)
        _, extras = await policy.snapshot_inputs(session, service, row_of_first := (
            await session.exec(select(Case).where(Case.id == uuid.UUID(case["id"])))).one(),
            datetime(2026, 6, 2, 10, tzinfo=UTC))
        assert row_of_first.case_holder_id == "case_holder-1"
        assert extras["on_panel_agenda"] is True
        assert len(extras["case_holder_absences"]) == 2
