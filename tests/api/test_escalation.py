"""Overdue escalation: one escalate_overdue_step per overdue step, idempotent, race-safe."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.domain import escalation
from app.domain.audit import AuditEntry, VerifyOut, verify_chains
from app.domain.outbox import OutboxEvent
from app.domain.steps import Step
from tests.api.support import service_id, tick
from tests.api.test_assessments import case_steps, the_step
from tests.api.test_events import judge
from tests.conftest import BACKEND, Tenant

SOMERSET = "somerset-yjt-2023"


Factory = async_sessionmaker[AsyncSession]



def escalations(steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The escalation steps in a list."""
    return [s for s in steps if s["code"] == "escalate_overdue_step"]


async def test_overdue_case_holder_step_escalates_to_line_manager(
    factory: Factory, client: httpx.AsyncClient, somerset: Tenant
) -> None:
    """S1's AssetPlus, due 30 March, still open: one escalation for the line manager."""
    case = (await somerset.open_case())["data"]
    overdue = the_step(await case_steps(somerset, case["id"]), "complete_assessment")
    assert overdue["due_at"] == "2026-03-30T08:00:00Z"
    assert await tick(factory, somerset, datetime(2026, 3, 30, 7, 59, tzinfo=UTC)) == 0
    assert await tick(factory, somerset) == 1
    [step] = escalations(await case_steps(somerset, case["id"]))
    assert step["actor"] == "line_manager"
    assert step["assignee_id"] == "line_manager-1"
    assert step["subject_id"] == overdue["id"]
    assert step["due_at"] is None
    assert step["urgent"] is True
    assert step["policy"] == {"pack": SOMERSET, "version": "1", "ref": "2.1", "rule": "S1"}
    assert "was due Monday 30 March 2026 09:00 (London)" in step["note"]  # A17-10
    assert await tick(factory, somerset) == 0
    assert len(escalations(await case_steps(somerset, case["id"]))) == 1
    audit = await client.get(f"/v1/cases/{case['id']}/audit", params={"limit": 200},
                             headers=somerset.auth("line_manager"))
    escalated = [e for e in audit.json()["data"] if e["action"] == "step.escalate"]
    assert [(e["actor"], e["role"]) for e in escalated] == [("system:escalation-worker", "system")]


async def test_overdue_line_manager_step_escalates_to_duty_manager(
    factory: Factory, somerset: Tenant
) -> None:
    """S5's 24-hour discussion with the line manager, missed: the duty manager is told."""
    case = (await somerset.open_case())["data"]
    await judge(somerset, case["id"], "rosh", "high", "2026-04-15T10:00:00Z")
    discuss = the_step(await case_steps(somerset, case["id"]), "discuss_with_manager")
    assert discuss["due_at"] == "2026-04-16T10:00:00Z"
    assert await tick(factory, somerset, datetime(2026, 4, 16, 10, 0, 0, tzinfo=UTC)) == 1
    assert await tick(factory, somerset, datetime(2026, 4, 16, 10, 0, 1, tzinfo=UTC)) == 1
    [step] = [s for s in escalations(await case_steps(somerset, case["id"]))
              if s["subject_id"] == discuss["id"]]
    assert step["actor"] == "duty_manager"
    assert step["assignee_id"] is None
    assert step["due_at"] is None
    assert step["urgent"] is True
    assert step["policy"] == {"pack": SOMERSET, "version": "1", "ref": "3.1", "rule": "S5"}


async def test_undated_and_closed_steps_are_not_escalated(
    factory: Factory, somerset: Tenant
) -> None:
    """Steps without a due time, and steps already done, are never escalated."""
    case = (await somerset.open_case(intervention="prevention"))["data"]  # S2: no timescale
    assert await tick(factory, somerset) == 0
    statutory = (await somerset.open_case())["data"]
    the_step(await case_steps(somerset, statutory["id"]), "complete_assessment")
    await submit_asset_plus(somerset, statutory["id"])  # does S1's AssetPlus (A9-13: no tick)
    assert await tick(factory, somerset) == 0
    assert escalations(await case_steps(somerset, case["id"])) == []


async def submit_asset_plus(t: Tenant, case_id: str) -> dict[str, Any]:
    """The case holder drafts and submits a start AssetPlus on Friday 13 March 2026: the act
    that does S1's ``complete_assessment`` (it is not ticked off by hand: A9-13)."""
    r = await t.client.post(f"/v1/cases/{case_id}/assessments", json={
        "type": "asset_plus", "stage": "start", "occurred_at": "2026-03-13T10:00:00Z"},
        headers=t.auth("case_holder"))
    assert r.status_code == 201, r.text
    r = await t.client.post(f"/v1/assessments/{r.json()['data']['id']}/submit",
                            json={"occurred_at": "2026-03-13T16:00:00Z"},
                            headers=t.auth("case_holder"))
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


async def retired_with(factory: Factory, t: Tenant, case_id: str, overdue_id: str) -> None:
    """The escalation of ``overdue_id`` is superseded (not open), audited and announced as its
    escalation was, without another escalation pass."""
    assert [e for e in escalations(await case_steps(t, case_id))
            if e["subject_id"] == overdue_id] == []
    [retired] = [e for e in escalations(await case_steps(t, case_id, "superseded"))
                 if e["subject_id"] == overdue_id]
    # Announced as its escalation was (attack pass 2, finding 6: subscribers mirroring steps
    # kept the escalation open forever).
    async with factory() as session:
        events = (await session.exec(select(OutboxEvent).where(
            col(OutboxEvent.entity_id) == uuid.UUID(retired["id"])))).all()
        audited = (await session.exec(select(AuditEntry.action).where(
            col(AuditEntry.entity_id) == uuid.UUID(retired["id"])))).all()
    assert sorted(e.type for e in events) == ["step.escalated", "step.superseded"]
    assert "step.supersede" in audited


async def test_escalation_retired_by_the_completion_that_closes_its_step(
    factory: Factory, somerset: Tenant
) -> None:
    """Once the overdue step is done its escalation is superseded in the same write: the
    manager chasing it no longer lists a chase for a step that is done (it stayed open until
    the next pass)."""
    case = (await somerset.open_case())["data"]
    overdue = the_step(await case_steps(somerset, case["id"]), "complete_assessment")
    assert await tick(factory, somerset) == 1
    body = await submit_asset_plus(somerset, case["id"])  # the act that does it
    assert "escalate_overdue_step" not in [s["code"] for s in body["next_steps"]]
    await retired_with(factory, somerset, case["id"], overdue["id"])
    assert await tick(factory, somerset) == 0  # nothing left for the pass to retire
    assert escalations(await case_steps(somerset, case["id"], "superseded"))[0]["subject_id"] \
        == overdue["id"]


async def test_escalation_retired_by_the_waiver_of_its_step(
    factory: Factory, wokingham: Tenant
) -> None:
    """A manager waiving an overdue step (with a reason) retires its escalation too. (The step
    is an incident's record (W4): a request for the High-Risk Panel is not waivable.)"""
    case = (await wokingham.open_case())["data"]
    r = await wokingham.client.post(
        f"/v1/cases/{case['id']}/events",
        json={"type": "new_incident", "occurred_at": "2026-08-28T15:30:00+01:00"},
        headers=wokingham.auth("case_holder"))
    assert r.status_code == 201, r.text
    overdue = the_step(await case_steps(wokingham, case["id"]), "record_incident")
    await tick(factory, wokingham)
    assert [e for e in escalations(await case_steps(wokingham, case["id"]))
            if e["subject_id"] == overdue["id"]]
    r = await wokingham.client.post(
        f"/v1/next-steps/{overdue['id']}/waive", json={"reason": "Recorded in IYSS already."},
        headers=wokingham.auth("duty_manager"))
    assert r.status_code == 200, r.text
    await retired_with(factory, wokingham, case["id"], overdue["id"])


async def test_escalation_retired_when_the_policy_supersedes_its_step(
    factory: Factory, wokingham: Tenant
) -> None:
    """ROSH high then low (Wokingham W7): the overdue request for a High Risk Panel is
    superseded by the engine, and its escalation with it, in the judgement's own write; the
    escalation's closing time is not before it was raised (the low judgement is back-dated)."""
    case = (await wokingham.open_case())["data"]
    await judge(wokingham, case["id"], "rosh", "high", "2026-08-28T15:30:00+01:00")
    overdue = the_step(await case_steps(wokingham, case["id"]), "request_high_risk_panel")
    await tick(factory, wokingham)
    [chase] = [e for e in escalations(await case_steps(wokingham, case["id"]))
               if e["subject_id"] == overdue["id"]]
    await judge(wokingham, case["id"], "rosh", "low", "2026-09-01T10:00:00+01:00")
    await retired_with(factory, wokingham, case["id"], overdue["id"])
    async with factory() as session:
        row = (await session.exec(select(Step).where(
            col(Step.id) == uuid.UUID(chase["id"])))).one()
    assert row.completed_at is not None
    assert row.raised_at is not None
    assert row.completed_at >= row.raised_at


async def overdue_open_ids(factory: Factory, sid: uuid.UUID) -> set[uuid.UUID]:
    """The service's open steps past their due time (now)."""
    async with factory() as session:
        return set((await session.exec(
            select(Step.id).where(Step.service_id == sid, Step.status == "open",
                                  col(Step.due_at) < datetime.now(UTC))
        )).all())


async def escalation_trail(
    factory: Factory, sid: uuid.UUID
) -> tuple[list[str], list[str], list[str], VerifyOut]:
    """The service's escalation steps' subjects, the escalated steps of their audit entries
    and outgoing events (as sorted strings), and the check of the service's audit chain."""
    async with factory() as session:
        subjects = (await session.exec(
            select(Step.subject_id).where(Step.service_id == sid,
                                          Step.code == escalation.ESCALATION_CODE)
        )).all()
        escalation_ids = set((await session.exec(
            select(Step.id).where(Step.service_id == sid,
                                  Step.code == escalation.ESCALATION_CODE))).all())
        audited = [e.entity_id for e in (await session.exec(
            select(AuditEntry).where(AuditEntry.service_id == sid,
                                     AuditEntry.action == "step.escalate"))).all()]
        events = [e.payload["overdue_step_id"] for e in (await session.exec(
            select(OutboxEvent).where(OutboxEvent.service_id == sid,
                                      OutboxEvent.type == "step.escalated"))).all()]
        chain = await verify_chains(session, [str(sid)])
    assert set(audited) <= escalation_ids
    assert len(audited) == len(set(audited))
    return (sorted(map(str, subjects)), sorted(map(str, audited)), sorted(events), chain)


async def test_workers_racing_escalate_each_overdue_step_once(
    factory: Factory, somerset: Tenant
) -> None:
    """Three concurrent passes over the same overdue steps (batches of 1, 2 and 5): exactly one
    escalation each, with one audit entry and one outgoing event each, the chain intact. On
    PostgreSQL the workers share the steps (row locks, SKIP LOCKED); on SQLite they are
    serialised by the database's write lock and the unique open-step index drops the loser's
    duplicates (its pass creates, audits and announces nothing for them)."""
    cases = [(await somerset.open_case())["data"] for _ in range(6)]
    for case in cases[:3]:
        await judge(somerset, case["id"], "rosh", "high", "2026-04-15T10:00:00Z")
    sid = await service_id(factory, somerset)
    overdue_ids = await overdue_open_ids(factory, sid)
    assert len(overdue_ids) >= 12
    for _round in range(3):  # the later rounds find nothing left: still exactly once
        results = await asyncio.gather(
            *(escalation.run_pass(factory, service_id=sid, batch_size=batch)
              for batch in (1, 2, 5))
        )
        assert sum(results) == (len(overdue_ids) if _round == 0 else 0)
    subjects, audited, events, chain = await escalation_trail(factory, sid)
    assert subjects == sorted(map(str, overdue_ids))
    assert len(audited) == len(subjects)
    assert events == subjects
    assert chain.ok, chain


@pytest.mark.skipif(BACKEND != "postgres", reason="row locks (SKIP LOCKED) need PostgreSQL")
async def test_a_step_skipped_for_its_locked_case_is_escalated_by_the_case_holder(
    factory: Factory, somerset: Tenant
) -> None:
    """The racing-workers test once escalated 11 of 12 steps in its first round on PostgreSQL
    under load. A walk's batch skips a step whose *case* another walk holds for a different
    step of it (``FOR UPDATE OF case, step SKIP LOCKED``), and the holder's batch may end
    before that step: nobody escalated it in the pass. Here one walk's batch holds the first
    overdue step, and with it its case, while a whole pass runs: the pass escalates every other
    case's steps and skips that case's; the holder then escalates all of the case's overdue
    steps, so after the two every overdue step has exactly one escalation."""
    cases = [(await somerset.open_case())["data"] for _ in range(3)]
    for case in cases:
        await judge(somerset, case["id"], "rosh", "high", "2026-04-15T10:00:00Z")
    sid = await service_id(factory, somerset)
    overdue_ids = await overdue_open_ids(factory, sid)
    now = datetime.now(UTC)
    async with factory() as holder, holder.begin():
        [first] = await escalation.overdue_batch(holder, now, 1, sid)
        async with factory() as session:
            held = set((await session.exec(select(Step.id).where(
                col(Step.case_id) == first.case_id, col(Step.id).in_(overdue_ids)))).all())
        assert len(held) >= 2  # the held case has overdue steps besides the one in the batch
        others = await escalation.run_pass(factory, now, service_id=sid, walkers=1)
        assert others == len(overdue_ids - held)
        assert await escalation.escalate_batch(holder, [first], now) == len(held)
    subjects, audited, events, chain = await escalation_trail(factory, sid)
    assert subjects == sorted(map(str, overdue_ids))
    assert len(audited) == len(subjects)
    assert events == subjects
    assert chain.ok, chain
    assert await escalation.run_pass(factory, service_id=sid) == 0


async def test_a_case_holders_other_overdue_steps_are_read_like_its_batch(
    factory: Factory, somerset: Tenant
) -> None:
    """The steps a batch takes with its cases (:func:`escalation.overdue_siblings`) are rows
    of the same columns as the batch's own (the case's line manager, its access mode: an
    allow-listed case's action escalates under a bare title), and are the case's other overdue
    steps only."""
    case = (await somerset.open_case())["data"]
    await judge(somerset, case["id"], "rosh", "high", "2026-04-15T10:00:00Z")
    sid = await service_id(factory, somerset)
    overdue_ids = await overdue_open_ids(factory, sid)
    now = datetime.now(UTC)
    async with factory() as session, session.begin():
        [first] = await escalation.overdue_batch(session, now, 1, sid)
        siblings = await escalation.overdue_siblings(session, now, [first])
        await session.rollback()
    assert siblings
    assert all(row._fields == first._fields for row in siblings)
    assert {row.id for row in siblings} == overdue_ids - {first.id}


async def test_a_step_already_escalated_gets_no_second_escalation(
    factory: Factory, somerset: Tenant
) -> None:
    """A step whose ``escalated_at`` was lost (say, restored from a backup) but whose
    escalation is still open: the unique open-step index drops the duplicate; no audit entry,
    no event; the step is stamped again."""
    case = (await somerset.open_case())["data"]
    sid = await service_id(factory, somerset)
    overdue = the_step(await case_steps(somerset, case["id"]), "complete_assessment")
    assert await tick(factory, somerset) == 1
    async with factory() as session, session.begin():
        step = await session.get(Step, uuid.UUID(overdue["id"]))
        assert step is not None
        assert step.escalated_at is not None
        step.escalated_at = None
        session.add(step)
    assert await tick(factory, somerset) == 0
    subjects, audited, events, chain = await escalation_trail(factory, sid)
    assert subjects == [overdue["id"]]
    assert len(audited) == 1
    assert events == subjects
    assert chain.ok
    async with factory() as session:
        step = await session.get(Step, uuid.UUID(overdue["id"]))
        assert step is not None
        assert step.escalated_at is not None


async def test_a_failing_batch_leaves_nothing_behind(
    factory: Factory, somerset: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch is one transaction: when its audit entries cannot be written, its escalation
    steps, ``escalated_at`` stamps and outgoing events are rolled back with them; the next
    pass escalates the steps."""
    case = (await somerset.open_case())["data"]
    sid = await service_id(factory, somerset)
    overdue = the_step(await case_steps(somerset, case["id"]), "complete_assessment")

    async def broken_audit(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("audit unavailable")

    monkeypatch.setattr(escalation, "append_sealed", broken_audit)
    with pytest.raises(RuntimeError, match="audit unavailable"):
        await tick(factory, somerset)
    monkeypatch.undo()
    assert (await escalation_trail(factory, sid))[:3] == ([], [], [])
    async with factory() as session:
        step = await session.get(Step, uuid.UUID(overdue["id"]))
        assert step is not None
        assert step.escalated_at is None
    assert await tick(factory, somerset) == 1
    subjects, audited, events, chain = await escalation_trail(factory, sid)
    assert subjects == [overdue["id"]]
    assert len(audited) == 1
    assert events == subjects
    assert chain.ok


async def test_overdue_chair_step_escalates_to_the_chairs_not_down(
    factory: Factory, wokingham: Tenant
) -> None:
    """W8's panel, not held within a week: the senior managers (chairs) are told."""
    case = (await wokingham.open_case())["data"]
    auth = wokingham.auth("case_holder")
    r = await wokingham.client.post(f"/v1/cases/{case['id']}/referrals",
                                    json={"kind": "panel",
                                          "occurred_at": "2026-09-01T09:00:00+01:00"},
                                    headers=auth)
    referral = r.json()["data"]
    r = await wokingham.client.post(f"/v1/referrals/{referral['id']}/submit",
                                    json={"occurred_at": "2026-09-01T10:00:00+01:00"},
                                    headers=auth)
    hold = the_step(r.json()["next_steps"], "hold_high_risk_panel")
    assert hold["due_at"] == "2026-09-08T09:00:00Z"
    assert await tick(factory, wokingham, datetime(2026, 9, 9, 9, 0, tzinfo=UTC)) >= 1
    [step] = [s for s in escalations(await case_steps(wokingham, case["id"]))
              if s["subject_id"] == hold["id"]]
    assert step["actor"] == "chair"
    assert step["assignee_id"] is None
    assert step["policy"]["rule"] == "W8"


async def test_completions_racing_escalation_passes_never_deadlock(
    factory: Factory, somerset: Tenant
) -> None:
    """The outside tester's finding: a case holder completing overdue steps while escalation
    passes run. A completion locks the case, then its step; a pass must take its locks in the
    same order (case, then steps; SKIP LOCKED on both) or PostgreSQL kills one of them as a
    deadlock victim (a 500 for the practitioner, or a lost batch). Every completion succeeds,
    every pass finishes, and each step that stayed open past the pass is escalated once."""
    cases = [(await somerset.open_case())["data"] for _ in range(8)]
    for c in cases:  # S23: inform the manager of the charge "immediately" (done by hand)
        r = await somerset.client.post(f"/v1/cases/{c['id']}/events", json={
            "type": "charged", "occurred_at": "2026-03-05T10:00:00Z"},
            headers=somerset.auth("case_holder"))
        assert r.status_code == 201, r.text
    steps = [the_step(await case_steps(somerset, c["id"]), "inform_service_manager")
             for c in cases]
    sid = await service_id(factory, somerset)

    async def complete(step: dict[str, Any], pause: float) -> int:
        await asyncio.sleep(pause)
        r = await somerset.client.post(f"/v1/next-steps/{step['id']}/complete", json={},
                                       headers=somerset.auth("case_holder"))
        return r.status_code

    async def passes() -> int:
        total = 0
        for _ in range(4):
            total += await escalation.run_pass(factory, service_id=sid, batch_size=2)
            await asyncio.sleep(0)
        return total

    outcome = await asyncio.gather(
        passes(), passes(), *(complete(s, 0.002 * i) for i, s in enumerate(steps)))
    assert outcome[2:] == [200] * len(steps)
    subjects, audited, events, chain = await escalation_trail(factory, sid)
    assert len(subjects) == len(set(subjects)) == sum(outcome[:2])
    assert len(audited) == len(subjects)
    assert events == subjects
    assert chain.ok, chain


async def test_S1_escalation_goes_to_the_duty_manager_while_the_line_manager_is_on_leave(
    factory: Factory, somerset: Tenant
) -> None:
    """Somerset 4.6: case holders inform "their line manager ... or if their line manager is
    unavailable, the duty manager"; 3.1: "If the line manager is unavailable, the duty manager
    will undertake these functions". The case holder's overdue AssetPlus (S1), escalated on a
    day line_manager-1 is on recorded leave, goes to the duty managers (unassigned), the note
    saying why; a day without leave, to line_manager-1 (attack pass 8, N3)."""
    case = (await somerset.open_case())["data"]
    overdue = the_step(await case_steps(somerset, case["id"]), "complete_assessment")
    r = await somerset.client.post("/v1/staff/line_manager-1/absences", json={
        "starts_on": "2026-12-21", "ends_on": "2027-01-04", "reason": "annual leave"},
        headers=somerset.auth("duty_manager"))
    assert r.status_code == 201, r.text
    christmas_eve = datetime(2026, 12, 24, 10, 0, tzinfo=UTC)
    assert await tick(factory, somerset, christmas_eve) >= 1
    [up] = [e for e in escalations(await case_steps(somerset, case["id"]))
            if e["subject_id"] == overdue["id"]]
    assert (up["actor"], up["assignee_id"], up["urgent"]) == ("duty_manager", None, True)
    assert up["policy"]["rule"] == "S1"
    assert "line_manager-1" in up["note"]
    other = (await somerset.open_case(opened_at="2026-03-03T09:00:00Z"))["data"]
    late = the_step(await case_steps(somerset, other["id"]), "complete_assessment")
    assert await tick(factory, somerset, datetime(2027, 1, 5, 10, 0, tzinfo=UTC)) >= 1
    [back] = [e for e in escalations(await case_steps(somerset, other["id"]))
              if e["subject_id"] == late["id"]]
    assert (back["actor"], back["assignee_id"]) == ("line_manager", "line_manager-1")
