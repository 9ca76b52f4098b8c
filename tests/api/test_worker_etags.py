"""The case's ETag moves when a job outside the request path changes its steps (attack 20,
A20-5 gaps).

RFC 9110 §8.8.3: a strong validator changes whenever the representation does; the case's
(``GET /v1/cases/{id}``: its ``open_steps``) changes when the day's stand-in sweep moves a step
to or from the duty managers (Somerset 3.1: "If the line manager is unavailable, the duty
manager will undertake these functions.") and when the escalation pass supersedes a chase
whose overdue step was closed. Each now moves the case's version in its own transaction, under
the case's lock, with the worker's session class and with a plain one: the ETag read before
differs from the one after, and a PATCH sent with the old one is 412.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from app.core.config import Settings
from app.core.db import build_engine, session_factory
from app.domain import escalation, stand_ins
from app.domain.history import RecordedSession
from app.domain.steps import Step
from app.main import build_policy_context
from tests.api.fidelity_support import away, pin
from tests.api.integrity_support import assert_problem, etag
from tests.api.support import service_id, tick
from tests.api.test_assessments import case_steps, the_step
from tests.api.test_in_week_leave import LEAVE, THU_24, WED_23, Holder
from tests.api.test_stand_ins import duty_queue, queue, stood_in_case
from tests.conftest import Tenant

Factory = async_sessionmaker[AsyncSession]
SEED_3_1 = "If the line manager is unavailable, the duty manager will undertake these functions."


@pytest.fixture(params=["worker", "plain"])
async def sessions(request: pytest.FixtureRequest, settings: Settings) -> AsyncIterator[Factory]:
    """Sessions as the worker process opens them (``yjrisk worker``: the history-recording
    class), and plain ones (a job that does not use it must move the version all the same)."""
    engine = build_engine(settings)
    try:
        yield session_factory(engine, RecordedSession if request.param == "worker" else None)
    finally:
        await engine.dispose()


async def stale_patch(t: Tenant, case_id: str, tag: str) -> dict[str, Any]:
    """A PATCH of the case sent with ``tag``: 412 when the case has moved since."""
    r = await t.client.patch(f"/v1/cases/{case_id}", json={"csc_status": "cin"},
                             headers={**t.auth("line_manager"), "If-Match": tag})
    return assert_problem(r, 412)


async def test_S6_the_workers_stand_in_sweep_moves_the_case_etag(
    settings: Settings, somerset: Tenant, sessions: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """S6 (3.1): "If the line manager is unavailable, the duty manager will undertake these
    functions." line_manager-1 is away on Tuesday 1 December 2026; the plan's countersignature
    recorded then stands in. On Wednesday the worker's sweep gives it back (the case's open
    steps change): the case's ETag moves, and a PATCH with Tuesday's is 412."""
    pin(monkeypatch, 2026, 12, 1, 9, 0)
    await away(somerset, "line_manager-1", "2026-12-01", "2026-12-01")
    case_id, _, plan = await stood_in_case(somerset, "2026-12-01T08:30:00Z")
    before = await etag(somerset, case_id)
    pin(monkeypatch, 2026, 12, 2, 9, 0)
    sid = await service_id(sessions, somerset)
    assert await stand_ins.run_pass(sessions, build_policy_context(settings), sid) >= 1
    assert plan["id"] in {s["id"] for s in await queue(somerset, "line_manager",
                                                         "line_manager-1")}
    after = await etag(somerset, case_id)
    assert after != before
    await stale_patch(somerset, case_id, before)


async def test_S6_the_sweep_before_a_queue_read_moves_the_case_etag(
    somerset: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """S6 (3.1): "If the line manager is unavailable, the duty manager will undertake these
    functions." Leave recorded in advance for Wednesday 2 December starts: the first queue
    read that day sweeps (the API process's own sweep) and the line manager's countersignature
    stands in; the case's ETag moves and a PATCH with Tuesday's is 412."""
    pin(monkeypatch, 2026, 12, 1, 9, 0)
    await away(somerset, "line_manager-1", "2026-12-02", "2026-12-04")
    case = (await somerset.open_case())["data"]
    r = await somerset.client.post(f"/v1/cases/{case['id']}/judgements", json={
        "domain": "rosh", "level": "high", "occurred_at": "2026-12-01T08:30:00Z",
        "victims": ["public"]}, headers=somerset.auth("case_holder"))
    assert r.status_code == 201, r.text
    plan = the_step(r.json()["next_steps"], "countersign_risk_plan")
    assert plan["actor"] == "line_manager"
    before = await etag(somerset, case["id"])
    pin(monkeypatch, 2026, 12, 2, 0, 30)
    assert plan["id"] in {s["id"] for s in await duty_queue(somerset, case["id"])}
    after = await etag(somerset, case["id"])
    assert after != before
    await stale_patch(somerset, case["id"], before)


async def test_S1_retiring_a_stale_chase_moves_the_case_etag(
    somerset: Tenant, sessions: Factory
) -> None:
    """S1 (2.1): the start AssetPlus due Monday 30 March 2026 is escalated; it is then closed
    by a path that leaves its chase open (a backstop: every write retires it itself). The
    escalation pass supersedes the chase (the case's open steps change): the ETag moves and a
    PATCH with the one read before is 412."""
    case = (await somerset.open_case())["data"]
    overdue = the_step(await case_steps(somerset, case["id"]), "complete_assessment")
    assert await tick(sessions, somerset) == 1
    async with sessions() as session, session.begin():
        await session.exec(sa.update(Step).where(  # type: ignore[call-overload]
            Step.id == uuid.UUID(overdue["id"])).values(status="done"))
    before = await etag(somerset, case["id"])
    assert await tick(sessions, somerset) == 0
    assert not [s for s in await case_steps(somerset, case["id"])
                if s["code"] == "escalate_overdue_step"]
    after = await etag(somerset, case["id"])
    assert after != before
    await stale_patch(somerset, case["id"], before)
    await escalation.run_pass(sessions, service_id=await service_id(sessions, somerset))
    assert await etag(somerset, case["id"]) == after  # nothing more to retire: no move


async def test_W4_leave_that_re_dates_a_case_holders_step_moves_the_case_etag(
    wokingham: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """W4 (Internal and External Controls): "If the incident becomes known to the worker on a
    Friday or the last day before a prolonged absence (for example, the last working day before
    annual leave), it must be recorded and reported to their line manager before the end of
    the working week." The twin in the request path: the line manager's absence write re-dates
    the holder's W4 step on a case it locks but does not load (Wednesday 23 December 2026,
    leave from the 24th): that case's ETag moves, and a PATCH with the one before is 412."""
    pin(monkeypatch, 2026, 12, 23, 16, 0)
    h = await Holder(wokingham, "case_holder-etag").open()
    a = await h.incident("2026-12-23T09:00:00Z")
    assert await h.dues(a) == [THU_24]
    before = await etag(wokingham, h.case_id)
    await h.leave(LEAVE)
    assert await h.dues(a) == [WED_23]
    after = await etag(wokingham, h.case_id)
    assert after != before
    await stale_patch(wokingham, h.case_id, before)
