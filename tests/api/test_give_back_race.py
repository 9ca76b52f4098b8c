"""A leave cancelled while the duty manager completes the step that stood in for it (attack 30a,
A30a-15): a done step is never given back.

Somerset 3.1: "If the line manager is unavailable, the duty manager will undertake these
functions"; S5 (4.1) the discussion "with the relevant line manager or duty manager". The
give-back re-decides each affected case's open steps under that case's lock, after the service's
policy lock (EXCLUSIVE) that every case write takes SHARED: a completion committed before it is
read as done and left alone; one that waited for it completes the step as given back. Either way
the audit chain (``seq``: commit order) never has a ``step.reassign`` of the step after its
``step.done``, and the outbox never announces ``step.reassigned`` after ``step.completed``.
Wednesday 30 December 2026 (GMT), line_manager-1 on leave 30 December to Monday 4 January 2027.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlmodel import col, select

from app.core import clock
from app.core.db import build_engine, session_factory
from app.domain.audit import AuditEntry
from app.domain.outbox import OutboxEvent
from tests.api.integrity_support import complete, judge_high, the_step
from tests.conftest import Tenant

ROUNDS = 10


async def _chain_and_outbox(settings: Any, step: str) -> tuple[list[str], list[str]]:
    """The step's audited actions in commit order (the chain's ``seq``) and its outbox types in
    the order written."""
    step_id = uuid.UUID(step)
    engine = build_engine(settings)
    try:
        async with session_factory(engine)() as session:
            audit = (await session.exec(
                select(AuditEntry.action).where(col(AuditEntry.entity_id) == step_id)
                .order_by(col(AuditEntry.seq)))).all()
            sent = (await session.exec(
                select(OutboxEvent.type).where(col(OutboxEvent.entity_id) == step_id)
                .order_by(col(OutboxEvent.created_at), col(OutboxEvent.id)))).all()
            return list(audit), list(sent)
    finally:
        await engine.dispose()


async def test_S5_a_leave_cancelled_against_its_stand_in_completing_never_reassigns_a_done_step(
        somerset: Tenant, settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """S5 (3.1) under a race, ``ROUNDS`` times: the duty manager cancels line_manager-1's leave
    (If-Match) while duty_manager-3 and line_manager-1 each complete the discussion that stood
    in and a chair tries to waive it. The step is done exactly once; a give-back of it, when
    the cancellation came first, is committed before the completion, never after it."""
    t = somerset
    # A clock that moves (from Wednesday 30 December 2026 09:30 GMT): each write's instant is
    # when it took it, so the outbox's order by time can be compared with the commits'.
    start, base = datetime.now(UTC), datetime(2026, 12, 30, 9, 30, tzinfo=UTC)
    monkeypatch.setattr(clock, "now", lambda: base + (datetime.now(UTC) - start))
    dm = t.auth("duty_manager", "duty_manager-3")
    for _ in range(ROUNDS):
        r = await t.client.post("/v1/staff/line_manager-1/absences",
                                json={"starts_on": "2026-12-30", "ends_on": "2027-01-04"},
                                headers=dm)
        assert r.status_code == 201, r.text
        absence, tag = r.json()["data"], r.headers["ETag"]
        case = (await t.open_case(opened_at="2026-11-02T09:00:00Z"))["data"]
        body = await judge_high(t, case["id"], "2026-12-30T09:00:00Z")
        s5 = the_step(body["next_steps"], "discuss_with_manager")
        assert (s5["actor"], s5["assignee_id"]) == ("duty_manager", None)
        answers = await asyncio.gather(
            t.client.delete(f"/v1/staff/line_manager-1/absences/{absence['id']}",
                            headers={**dm, "If-Match": tag}),
            complete(t, s5["id"], "duty_manager", "duty_manager-3", note="discussed"),
            complete(t, s5["id"], "line_manager", "line_manager-1", note="discussed"),
            t.client.post(f"/v1/next-steps/{s5['id']}/waive", json={"reason": "not needed"},
                          headers=t.auth("chair", "chair-1")))
        assert answers[0].status_code == 204, answers[0].text
        assert sorted(a.status_code for a in answers[1:3]).count(200) == 1, [
            a.text for a in answers]
        audit, sent = await _chain_and_outbox(settings, s5["id"])
        assert audit.count("step.done") == 1, audit
        assert "step.reassign" not in audit[audit.index("step.done"):], audit
        assert sent.count("step.completed") == 1, sent
        assert "step.reassigned" not in sent[sent.index("step.completed"):], sent
