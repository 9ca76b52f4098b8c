"""Attack 35a, ATTACK35A-15: an escalation's note names the overdue step's assignee as it is
now, after the step moves to someone else.

Wokingham "Referrals into MAPPA": "Category 2 referrals (i.e. for children in custody), the
referral into MAPPA must be completed six months prior to their release into the community."
A category 2 child in custody, expected release Monday 1 March 2027, case opened Monday 3
August 2026: the MAPPA H notification (W16, the case holder's) is due by the end of Tuesday 1
September 2026 and escalated to the line manager on Thursday 3 September ("(case_holder,
assignee case_holder-1) was due ..."). The case then passes to another case holder (and to
another line manager): the step moves with the role, and the chase of it must name who holds it
now. Before, only a re-date renoted the escalation (fix34e): the manager was told to chase
someone who no longer held the case, and no ``step.escalation_updated`` was sent.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlmodel import col, select

from app.core.db import build_engine, session_factory
from app.domain.audit import AuditEntry
from tests.api.fidelity_support import pin
from tests.api.integrity_support import patch_case, steps_of
from tests.api.support import Factory, db  # noqa: F401 - fixture
from tests.api.test_redated_escalations import CHASE, _announced, _escalated_notification
from tests.conftest import Tenant


async def _renotes(settings: Any, entity_id: str) -> list[tuple[str | None, Any]]:
    engine = build_engine(settings)
    try:
        async with session_factory(engine)() as session:
            rows = (await session.exec(select(AuditEntry).where(
                AuditEntry.entity_id == uuid.UUID(entity_id), AuditEntry.action == "step.renote")
                .order_by(col(AuditEntry.seq)))).all()
            return [(r.reason, r.changed_fields) for r in rows]
    finally:
        await engine.dispose()


async def test_W16_a_new_case_holder_is_named_in_the_escalation_of_their_overdue_step(
        wokingham: Tenant, db: Factory, settings: Any,  # noqa: F811
        monkeypatch: pytest.MonkeyPatch) -> None:
    """``PATCH case_holder_id: case_holder-2``: W16 moves to case_holder-2, its open escalation
    says "(case_holder, assignee case_holder-2) was due Tuesday 1 September 2026 ..." in the
    same write, audited (``step.renote``) and announced (``step.escalation_updated`` with the
    new assignee); the line manager's change then moves the escalation itself to the new
    manager (its note unchanged: the overdue step's assignee did not change)."""
    t = wokingham
    case_id, step_id, chase_id = await _escalated_notification(t, db, monkeypatch)
    chase = next(s for s in await steps_of(t, case_id) if s["id"] == chase_id)
    assert "(case_holder, assignee case_holder-1) was due" in chase["note"], chase["note"]
    pin(monkeypatch, 2026, 9, 4, 10, 0)  # Friday: the case passes to another holder
    r = await patch_case(t, case_id, {"case_holder_id": "case_holder-2"})
    assert r.status_code == 200, r.text
    steps = {s["id"]: s for s in await steps_of(t, case_id)}
    assert steps[step_id]["assignee_id"] == "case_holder-2"
    chase = steps[chase_id]
    assert (chase["code"], chase["status"], chase["assignee_id"]) == (
        CHASE, "open", "line_manager-1")
    assert "(case_holder, assignee case_holder-1)" not in chase["note"]
    assert chase["note"].startswith(
        "mappa_h_notification (case_holder, assignee case_holder-2) was due "), chase["note"]
    assert await _announced(settings, chase_id) == ["step.escalated", "step.escalation_updated"]
    assert await _renotes(settings, chase_id) == [(
        "the overdue step was reassigned (a role's holder changed)",
        ["assignee_id", "code", "due_at", "overdue_step_id"])]  # the fields (values digested)
    r = await patch_case(t, case_id, {"line_manager_id": "line_manager-2"})
    assert r.status_code == 200, r.text
    chase_after = next(s for s in await steps_of(t, case_id) if s["id"] == chase_id)
    assert (chase_after["assignee_id"], chase_after["note"]) == (
        "line_manager-2",
        chase["note"] + "\nReassigned: line_manager changed from line_manager-1 to "
                        "line_manager-2")
    assert len(await _renotes(settings, chase_id)) == 1
