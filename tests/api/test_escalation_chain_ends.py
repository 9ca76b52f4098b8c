"""fix30c: an escalation is never escalated itself, so no chain of escalations runs without
end, whatever the pack's ``[escalation]`` says (its fallback included): one chase per overdue
step, for the role above the step's owner.

Wokingham W30 "Monthly line supervision, including case discussion, at least monthly": the
line manager's supervision of a case rated ROSH high on Wednesday 15 April 2026 is due Friday
15 May 2026; missed, it is escalated to the duty manager.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from app.domain.steps import Step
from tests.api.integrity_support import recorded, steps_of, the_step
from tests.api.support import tick
from tests.conftest import Tenant

Factory = async_sessionmaker[AsyncSession]
ESCALATION = "escalate_overdue_step"


def chases(steps: list[dict[str, Any]], subject: str) -> list[dict[str, Any]]:
    """The escalations of one step."""
    return [s for s in steps if s["code"] == ESCALATION and s["subject_id"] == subject]


async def test_W30_an_escalation_is_never_escalated_even_when_dated_and_overdue(
        factory: Factory, wokingham: Tenant) -> None:
    """W30's supervision, missed: one chase for the duty manager (the line manager's overdue
    steps go to the duty manager). That chase has no due date; given one in the past (as a
    row written by hand or by an older release might have), later passes still never escalate
    it: the duty manager's chase goes to no one else, and no chain begins."""
    t = wokingham
    case_id = (await t.open_case(opened_at="2026-04-14T09:00:00Z"))["data"]["id"]
    await recorded(t, case_id, "judgements", {"domain": "rosh", "level": "high",
                                               "occurred_at": "2026-04-15T10:00:00Z",
                                               "victims": ["public"]})
    supervision = the_step(await steps_of(t, case_id), "monthly_line_supervision")
    assert supervision["actor"] == "line_manager"
    assert await tick(factory, t, datetime(2026, 5, 20, 9, 0, tzinfo=UTC)) >= 1
    [chase] = chases(await steps_of(t, case_id), supervision["id"])
    assert (chase["actor"], chase["due_at"]) == ("duty_manager", None)
    async with factory() as session:
        await session.exec(sa.update(Step).where(Step.id == uuid.UUID(chase["id"])).values(
            due_at=datetime(2026, 5, 20, 9, 0, tzinfo=UTC),
            overdue_at=datetime(2026, 5, 20, 9, 0, tzinfo=UTC)))  # type: ignore[call-overload]
        await session.commit()
    for day in (21, 22, 29):
        assert await tick(factory, t, datetime(2026, 5, day, 9, 0, tzinfo=UTC)) == 0
    assert chases(await steps_of(t, case_id), chase["id"]) == []
    assert len(chases(await steps_of(t, case_id), supervision["id"])) == 1
