"""fix30c: a step asked again after a completion dated before the act that asks for it is due
on the date that act gave (a panel decision's review date): its reasons, as the database keeps
them, carry that date (``given``), on SQLite (JSON) and PostgreSQL (JSONB)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from app.core import clock
from app.core.db import build_engine, session_factory
from app.domain import policy
from app.domain.access import load_case
from app.workflows.engine import evaluate
from tests.api.integrity_support import heard_by_marp, judge, steps_of, the_step
from tests.conftest import Tenant
from tests.workflows.support import calendar, event, packs


@pytest.fixture(autouse=True)
def april_2027(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pin the clock of the future-``occurred_at`` guards at 6 April 2027 12:00Z."""
    monkeypatch.setattr(clock, "now", lambda: datetime(2027, 4, 6, 12, 0, tzinfo=UTC))


async def test_S20_the_stored_review_step_keeps_the_review_date_its_decision_gave(
        somerset: Tenant) -> None:
    """S20 (7.1.6, 7.2.3): "Unless the child's risk status has reduced to medium or low, the
    panel will agree and then book a provisional review date" (7.1.6). The MARP of Thursday 14
    January 2027 (decided 11:00Z) keeps ROSH high and books the review for Thursday 8 April
    2027. The review step as stored keeps that date with its reason; completed as of Wednesday
    13 January 12:00Z (before the decision), the step the engine asks again from the stored
    reasons is due on 8 April, 23:59:59 BST, citing 7.1.6, 7.2.3 (it had no due date)."""
    t = somerset
    case_id = (await t.open_case(opened_at="2027-01-04T09:00:00Z"))["data"]["id"]
    await judge(t, case_id, "rosh", "high", "2027-01-05T10:00:00Z")
    await heard_by_marp(t, case_id, sits="2027-01-14T10:00:00+00:00",
                        review_date="2027-04-08", rosh_level="high")
    review = the_step(await steps_of(t, case_id), "attend_panel_review")
    assert review["due_at"] == "2027-04-08T22:59:59Z"
    engine = build_engine(t.settings)
    try:
        async with session_factory(engine)() as session:
            case = await load_case(session, uuid.UUID(case_id), lock=False)
            assert case is not None
            stored = [s for s in await policy.open_steps_of(session, case.id)
                      if s.code == "attend_panel_review"]
            snap = policy.snapshot(case, stored)
    finally:
        await engine.dispose()
    [step] = stored
    assert [r.get("given") for r in step.reasons] == [{"review_date": "2027-04-08"}]
    done = event("step_completed", datetime(2027, 1, 13, 12, tzinfo=UTC), role="case_holder",
                 code=step.code, rule_id=step.rule_id, step_id=str(step.id),
                 record_id=str(step.id), due_at=step.due_at, completed_by_role="case_holder",
                 actor=step.actor, reasons=[dict(r) for r in step.reasons], status="done")
    result = evaluate(done, snap, packs()["somerset-yjt-2023"], calendar(), ())
    [again] = [i for i in result.intents
               if i.action == "create" and i.code == "attend_panel_review"]
    assert (again.rule_id, again.policy_ref, again.actor) == ("S20", "7.1.6, 7.2.3",
                                                               "case_holder")
    assert again.due_at == datetime(2027, 4, 8, 22, 59, 59, tzinfo=UTC)
