"""The judgement write path's shortcuts read what the longer way read (issue 15, writes)."""

from __future__ import annotations

import functools
import uuid
from datetime import UTC, datetime, timedelta

import httpx
from sqlmodel import select

from app.core.security import Principal
from app.domain import policy
from app.domain.access import get_case_file_for_write
from app.domain.cases_table import Case
from app.domain.services import Service
from tests.api.act_order_support import book_sitting, withdraw_item
from tests.api.integrity_support import heard_by_marp
from tests.api.support import Factory, db, schedule_panel  # noqa: F401 - fixture
from tests.api.test_panels import add_item, high_case, refer_to_panel
from tests.conftest import BACKEND, Tenant


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
        "kind": "marp", "scheduled_for": "2026-05-11T14:00:00+01:00", "chair_id": "chair-1"})
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


async def test_snapshot_inputs_read_with_the_case_file_match_their_own_statement(
    client: httpx.AsyncClient, db: Factory, somerset: Tenant  # noqa: F811
) -> None:
    """Issue 15: on PostgreSQL a judgement reads the panels, the agenda, the live panel
    referral, the panels' decisions and the holder's absences (policy-rules: "next-panel"
    deadlines count from the act's ``occurred_at``, so every panel, those sat included) in the
    case file's statement, under the case's lock: the same as :func:`policy.snapshot_inputs`
    reads by itself, for a holder and a manager, a case on a panel's agenda with a referral and
    a decision, and one its keepers took off (ATTACK36-3), one with nothing, one of another
    holder, at three dates: before the panel referral was made, after it, and
    in June (SQLite reads them by themselves: nothing to compare)."""
    case = await high_case(client, somerset)
    other = (await somerset.open_case(case_holder_id="case_holder-2"))["data"]
    bare = (await somerset.open_case())["data"]
    await heard_by_marp(somerset, case["id"], sits="2026-06-03T14:00:00+01:00",
                        review_date="2026-06-10", rosh_level="high")
    manager = somerset.auth("duty_manager")
    for staff in ("case_holder-1", "case_holder-2"):
        for starts, ends in (("2026-06-20", "2026-06-25"), ("2026-05-01", "2026-05-03")):
            r = await client.post(f"/v1/staff/{staff}/absences", headers=manager,
                                  json={"starts_on": starts, "ends_on": ends})
            assert r.status_code == 201, r.text
    referral = await refer_to_panel(client, somerset, case["id"])
    # A panel referral counts from when it was made (fix41c ``made_at``): a second after it
    # the snapshot has its row (``r``); on 1 April, before it, it has none.
    after_made = datetime.fromisoformat(referral["made_at"]) + timedelta(seconds=1)
    await add_item(client, somerset, await schedule_panel(client, somerset), case["id"])
    # A sitting the panel's keepers took the case off (``w``, ATTACK36-3).
    left = await book_sitting(somerset, case["id"], "marp", "2026-06-17T14:00:00+01:00")
    r = await withdraw_item(somerset, left, "moved to a later MARP")
    assert r.status_code == 200, r.text
    holder = Principal(sub="case_holder-1", roles=frozenset({"case_holder"}),
                       service=somerset.slug)
    duty = Principal(sub="dm-1", roles=frozenset({"duty_manager"}), service=somerset.slug)
    compared = 0
    for principal, case_id in ((holder, case["id"]), (holder, bare["id"]),
                               (duty, case["id"]), (duty, other["id"])):
        for at in (datetime(2026, 6, 2, 10, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC),
                   after_made):
            async with db() as session:
                _, target, _, values = await get_case_file_for_write(
                    session, principal, uuid.UUID(case_id), also=(policy.inputs_column(),),
                    params=functools.partial(policy.inputs_params, at))
                column = None if values is None else values[0]
                expected = await policy.snapshot_inputs(session, None, target, at)
                if BACKEND != "postgres":
                    assert column is None
                    continue
                got = policy.inputs_from_column(column, target)
                assert got == expected
                assert all(type(p.id) is uuid.UUID for p in got[0])
                assert all(type(i) is uuid.UUID for i in got[1]["agenda_panel_ids"])
                assert all(type(i) is uuid.UUID for i in got[1]["agenda_item_panels"])
                assert all(type(p) is uuid.UUID
                           for p in got[1]["agenda_item_panels"].values())
                compared += 1
                await session.rollback()
    if BACKEND == "postgres":
        assert compared == 12
        # The fixture is what it says: each kind of row was there to compare.
        kinds: dict[datetime, set[str]] = {}
        for at in (datetime(2026, 4, 1, tzinfo=UTC), after_made):
            async with db() as session:
                _, target, _, values = await get_case_file_for_write(
                    session, holder, uuid.UUID(case["id"]), also=(policy.inputs_column(),),
                    params=functools.partial(policy.inputs_params, at))
                assert values is not None
                kinds[at] = {row[0] for row in values[0]}
                await session.rollback()
        assert kinds[datetime(2026, 4, 1, tzinfo=UTC)] == {"p", "i", "w", "d", "a", "x"}
        assert {"p", "i", "w", "r", "d", "x"} <= kinds[after_made]
