"""Writes that change a service's policy state raced against the case writes that read it
(attack pass 9, A9-16 and A9-24): the end state is that of some serial order, whatever the
interleaving.

A line manager's absence decides who does Somerset 3.1's discussion; a scheduled MARP dates the
"next-panel" steps. Raced with ``asyncio.gather`` (each request in its own session, so on its own
database connection), on SQLite and on PostgreSQL (``YJ_TEST_DB=postgres``), several trials
each: in either order the step ends with the duty manager, or dated to the MARP. On PostgreSQL,
before the service's policy lock, both writes committed without seeing each other (write skew).

The clock is pinned (``app.core.clock.now``): "now" decides whether the absence covers the step.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlmodel import select

from app.core import clock
from app.domain import escalation
from app.domain.policy_lock import lock_policy_exclusive
from app.domain.services import Service
from tests.api.integrity_support import steps_of
from tests.conftest import BACKEND, Tenant, make_tenant

TRIALS = 6
S = {"pack": "somerset-yjt-2023", "version": "1"}


def _judgement(t: Tenant, case_id: str, at: str) -> asyncio.Future[httpx.Response]:
    return asyncio.ensure_future(t.client.post(
        f"/v1/cases/{case_id}/judgements",
        json={"domain": "swb", "level": "high", "rationale": "race", "occurred_at": at},
        headers=t.auth("case_holder")))


async def _case_owing_nothing(t: Tenant, manager: str) -> str:
    """A case of ``manager`` with every opening step waived: nothing open for an absence write
    to find it by (only the raced judgement's own steps)."""
    case_id: str = (await t.open_case(line_manager_id=manager))["data"]["id"]
    for step in await steps_of(t, case_id):
        r = await t.client.post(f"/v1/next-steps/{step['id']}/waive",
                                json={"reason": "Not needed for this test."},
                                headers=t.auth("duty_manager", "duty_manager-3"))
        assert r.status_code == 200, r.text
    assert await steps_of(t, case_id) == []
    return case_id


async def test_S5_absence_raced_with_judgements_gives_every_discussion_to_the_duty_manager(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """S5 (3.1): "Any 'high' or 'very high' judgement rating will be discussed as soon as
    practicable with the relevant line manager or duty manager (within 24 hours). ... If the
    line manager is unavailable, the duty manager will undertake these functions." SWB high
    on three cases at Wednesday 21 October 2026 10:00 BST, recorded at the same moment as the
    line manager's leave (Tuesday 20 to Friday 30 October): every discussion is the duty
    manager's (unassigned), due 24 hours later, Thursday 22 October 09:00 UTC, in every trial
    (A9-16: on PostgreSQL most were left with the absent line manager)."""
    monkeypatch.setattr(clock, "now", lambda: datetime(2026, 10, 21, 9, 30, tzinfo=UTC))
    for trial in range(TRIALS):
        manager = f"line_manager-r{trial}"
        cases = [await _case_owing_nothing(somerset, manager) for _ in range(3)]
        absence = asyncio.ensure_future(somerset.client.post(
            f"/v1/staff/{manager}/absences",
            json={"starts_on": "2026-10-20", "ends_on": "2026-10-30", "reason": "annual leave"},
            headers=somerset.auth("duty_manager", "duty_manager-3")))
        writes = [_judgement(somerset, cases[0], "2026-10-21T10:00:00+01:00"), absence,
                  *(_judgement(somerset, c, "2026-10-21T10:00:00+01:00") for c in cases[1:])]
        answers = await asyncio.gather(*writes)
        assert [r.status_code for r in answers] == [201] * 4, [r.text for r in answers]
        for case_id in cases:
            [discuss] = [s for s in await steps_of(somerset, case_id)
                         if s["code"] == "discuss_with_manager"]
            assert (discuss["actor"], discuss["assignee_id"], discuss["due_at"]) == (
                "duty_manager", None, "2026-10-22T09:00:00Z"), (trial, case_id, discuss)
            assert discuss["policy"] == {**S, "ref": "3.1", "rule": "S5"}


async def test_S5_absence_cancelled_during_judgements_leaves_every_discussion_with_the_line_manager(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """S5 (3.1): "If the line manager is unavailable, the duty manager will undertake these
    functions": the line manager's leave (Tuesday 20 to Friday 30 October 2026) is cancelled at
    the moment SWB high is recorded on three of their cases (Wednesday 21 October 10:00 BST):
    they are not unavailable, so every discussion is theirs (assigned to them), due Thursday
    22 October 09:00 UTC, in every trial (before the lock, on PostgreSQL, a judgement that read
    the leave kept its discussion with the duty manager after the cancellation)."""
    monkeypatch.setattr(clock, "now", lambda: datetime(2026, 10, 21, 9, 30, tzinfo=UTC))
    for trial in range(TRIALS):
        manager = f"line_manager-c{trial}"
        cases = [await _case_owing_nothing(somerset, manager) for _ in range(3)]
        duty = somerset.auth("duty_manager", "duty_manager-3")
        r = await somerset.client.post(
            f"/v1/staff/{manager}/absences",
            json={"starts_on": "2026-10-20", "ends_on": "2026-10-30"}, headers=duty)
        assert r.status_code == 201, r.text
        cancel = asyncio.ensure_future(somerset.client.delete(
            f"/v1/staff/{manager}/absences/{r.json()['data']['id']}",
            headers={**duty, "If-Match": r.headers["ETag"]}))
        at = "2026-10-21T10:00:00+01:00"
        writes = [_judgement(somerset, cases[0], at), cancel,
                  *(_judgement(somerset, c, at) for c in cases[1:])]
        answers = await asyncio.gather(*writes)
        assert [r.status_code for r in answers] == [201, 204, 201, 201], \
            [r.text for r in answers]
        for case_id in cases:
            [discuss] = [s for s in await steps_of(somerset, case_id)
                         if s["code"] == "discuss_with_manager"]
            assert (discuss["actor"], discuss["assignee_id"], discuss["due_at"]) == (
                "line_manager", manager, "2026-10-22T09:00:00Z"), (trial, case_id, discuss)
            assert discuss["policy"] == {**S, "ref": "3.1", "rule": "S5"}


async def test_S7_marp_scheduled_during_judgements_dates_every_referral_to_it(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """S7 (3.2.3, 3.2.4): a case rated high is referred "to the next MARP". SWB high on six
    cases at Wednesday 21 October 2026 10:00 BST while the MARP of Thursday 29 October 10:00
    GMT is being scheduled (none before it): every refer_to_panel is due at that MARP,
    29 October 10:00 UTC, none left awaiting a panel date, in every trial (A9-24: on
    PostgreSQL all ten were left undated)."""
    monkeypatch.setattr(clock, "now", lambda: datetime(2026, 10, 21, 9, 30, tzinfo=UTC))
    for trial in range(TRIALS):
        tenant = somerset if trial == 0 else await _fresh(somerset)
        cases = [(await tenant.open_case())["data"]["id"] for _ in range(6)]
        panel = asyncio.ensure_future(tenant.client.post(
            "/v1/panels", json={"kind": "marp", "scheduled_for": "2026-10-29T10:00:00Z",
                                "chair_id": "chair-1"},
            headers=tenant.auth("panel_admin")))
        at = "2026-10-21T10:00:00+01:00"
        writes = [*(_judgement(tenant, c, at) for c in cases[:3]), panel,
                  *(_judgement(tenant, c, at) for c in cases[3:])]
        answers = await asyncio.gather(*writes)
        assert [r.status_code for r in answers] == [201] * 7, [r.text for r in answers]
        for case_id in cases:
            [refer] = [s for s in await steps_of(tenant, case_id) if s["code"] == "refer_to_panel"]
            assert (refer["actor"], refer["due_at"], refer["awaiting_panel_date"]) == (
                "case_holder", "2026-10-29T10:00:00Z", False), (trial, case_id, refer)
            assert refer["policy"] == {**S, "ref": "3.2.3, 3.2.4", "rule": "S7"}


async def _fresh(t: Tenant) -> Tenant:
    """Another Somerset service (no MARP scheduled yet) on the same client."""
    return await make_tenant(t.client, t.settings, t.pack)


@pytest.mark.skipif(BACKEND != "postgres", reason="SQLite: the policy write holds the database's "
                    "write lock, which the pass waits for like any writer")
async def test_escalation_pass_leaves_a_service_whose_policy_state_is_being_changed(
        somerset: Tenant, factory: Any) -> None:
    """The escalation pass, whose cases are locked SKIP LOCKED before it knows their services,
    only tries the service's policy lock: while an absence or a panel is being recorded it
    leaves that service's overdue steps to the next pass (no wait, no deadlock), which
    escalates them once the write has committed. S1's AssetPlus, due 30 March 2026 08:00 UTC,
    escalates to the line manager, line_manager-1."""
    case = (await somerset.open_case())["data"]
    async with factory() as session:
        service = (await session.exec(select(Service).where(Service.slug == somerset.slug))).one()
    async with factory() as writer, writer.begin():
        await lock_policy_exclusive(writer, service.id)
        assert await escalation.run_pass(factory, service_id=service.id) == 0
    assert await escalation.run_pass(factory, service_id=service.id) == 1
    [step] = [s for s in await steps_of(somerset, case["id"])
              if s["code"] == "escalate_overdue_step"]
    assert (step["actor"], step["assignee_id"]) == ("line_manager", "line_manager-1")
    assert step["policy"] == {**S, "ref": "2.1", "rule": "S1"}


async def test_S5_S7_two_absences_and_a_marp_raced_with_judgements_neither_deadlock_nor_skew(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """S5 (3.1) and S7 (3.2.3): two line managers' leave (Tuesday 20 to Friday 30 October 2026)
    and the MARP of Thursday 29 October 10:00 GMT recorded at the moment SWB high is recorded
    on two cases of each (Wednesday 21 October 10:00 BST): three writes that each take the
    service's policy lock exclusive, and re-address or re-date steps under case locks, against
    four that take it shared. Every answer is 201 (no deadlock), every discussion is the duty
    manager's, due 22 October 09:00 UTC, and every referral is due at the MARP."""
    monkeypatch.setattr(clock, "now", lambda: datetime(2026, 10, 21, 9, 30, tzinfo=UTC))
    at = "2026-10-21T10:00:00+01:00"
    for trial in range(TRIALS):
        tenant = somerset if trial == 0 else await _fresh(somerset)
        managers = [f"line_manager-a{trial}", f"line_manager-b{trial}"]
        cases = [await _case_owing_nothing(tenant, m) for m in managers for _ in range(2)]
        policy_writes = [asyncio.ensure_future(tenant.client.post(
            f"/v1/staff/{m}/absences", json={"starts_on": "2026-10-20", "ends_on": "2026-10-30"},
            headers=tenant.auth("duty_manager", "duty_manager-3"))) for m in managers]
        policy_writes.append(asyncio.ensure_future(tenant.client.post(
            "/v1/panels", json={"kind": "marp", "scheduled_for": "2026-10-29T10:00:00Z",
                                "chair_id": "chair-1"}, headers=tenant.auth("panel_admin"))))
        judgements = [_judgement(tenant, c, at) for c in cases]
        writes = [judgements[0], policy_writes[0], judgements[1], policy_writes[2],
                  judgements[2], policy_writes[1], judgements[3]]
        answers = await asyncio.gather(*writes)
        assert [r.status_code for r in answers] == [201] * 7, [r.text for r in answers]
        for case_id in cases:
            steps = {s["code"]: s for s in await steps_of(tenant, case_id)}
            discuss, refer = steps["discuss_with_manager"], steps["refer_to_panel"]
            assert (discuss["actor"], discuss["assignee_id"], discuss["due_at"]) == (
                "duty_manager", None, "2026-10-22T09:00:00Z"), (trial, case_id, discuss)
            assert (refer["due_at"], refer["awaiting_panel_date"]) == (
                "2026-10-29T10:00:00Z", False), (trial, case_id, refer)
