"""The escalation of a re-dated step follows it in the write that re-dates it.

Wokingham "Referrals into MAPPA": "Category 2 referrals (i.e. for children in custody), the
referral into MAPPA must be completed six months prior to their release into the community."
A category 2 child in custody, expected release Monday 1 March 2027, case opened Monday 3 August
2026: the MAPPA H notification (W16, the case holder's) is due by the end of Tuesday 1 September
2026 (22:59:59Z). On Thursday 3 September it is overdue and the escalation pass raises its
escalation to the case's line manager (the pack's ``[escalation]``: ``default =
"line_manager"``; README "Overdue escalation worker"). A release date known on 25 August and
recorded on Friday 4 September (``occurred_at``, before the deadline passed: no lateness is
erased) re-dates the notification to six months before the new release: the step is not
overdue, and its escalation is retired in that write (superseded, audited and announced, as
when the step is closed), not left open over a step that is not late. When a later act brings
the date back (due at once: the six-month point has passed), the step is late again at the end
of that day and the next pass then chases it again (the escalation rules: a pass raises the
escalation of an overdue step; a write does not).
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlmodel import col, select

from app.core.db import build_engine, session_factory
from app.domain.outbox import OutboxEvent
from tests.api.fidelity_support import pin
from tests.api.integrity_support import patch_case, steps_of, the_step
from tests.api.race_support import chain_in_commit_order
from tests.api.support import Factory, db, tick  # noqa: F401 - fixture
from tests.conftest import Tenant

CHASE = "escalate_overdue_step"


async def _escalated_notification(t: Tenant, db: Factory,  # noqa: F811
                                  monkeypatch: pytest.MonkeyPatch) -> tuple[str, str, str]:
    """The category 2 case on Thursday 3 September 2026, its W16 notification overdue and
    escalated to line_manager-1: (case id, step id, escalation id)."""
    pin(monkeypatch, 2026, 9, 3, 9, 0)
    case = (await t.open_case(opened_at="2026-08-03T09:00:00+01:00", mappa_category=2,
                              in_custody=True, expected_release_date="2027-03-01"))["data"]
    step = the_step(await steps_of(t, case["id"]), "mappa_h_notification")
    assert (step["due_at"], step["overdue"]) == ("2026-09-01T22:59:59Z", True)
    assert await tick(db, t) >= 1
    chases = [s for s in await steps_of(t, case["id"])
              if s["code"] == CHASE and s["subject_id"] == step["id"]]
    assert [(s["actor"], s["assignee_id"]) for s in chases] == [("line_manager",
                                                                  "line_manager-1")]
    return case["id"], step["id"], chases[0]["id"]


async def _announced(settings: Any, entity_id: str) -> list[str]:
    """The outgoing event types about ``entity_id``, in the order written."""
    engine = build_engine(settings)
    try:
        async with session_factory(engine)() as session:
            return list((await session.exec(
                select(OutboxEvent.type).where(col(OutboxEvent.entity_id) == uuid.UUID(entity_id))
                .order_by(col(OutboxEvent.created_at), col(OutboxEvent.id)))).all())
    finally:
        await engine.dispose()


async def test_W16_a_later_release_date_recorded_late_retires_the_escalation_in_its_write(
        wokingham: Tenant, db: Factory, settings: Any,  # noqa: F811
        monkeypatch: pytest.MonkeyPatch) -> None:
    """W16 ("Category 2 referrals (i.e. for children in custody), the referral into MAPPA must
    be completed six months prior to their release into the community"): on Friday 4 September
    the line manager records that the release moved to Wednesday 1 September 2027, known on 25
    August. The notification is due by the end of Monday 1 March 2027 (GMT), not overdue; its
    escalation is superseded by the same write (one instant: the case change's audit entry and
    the supersession's), audited and announced (``step.superseded``)."""
    t = wokingham
    case_id, step_id, chase_id = await _escalated_notification(t, db, monkeypatch)
    pin(monkeypatch, 2026, 9, 4, 10, 0)
    r = await patch_case(t, case_id, {"expected_release_date": "2027-09-01",
                                      "occurred_at": "2026-08-25T10:00:00+01:00"})
    assert r.status_code == 200, r.text
    steps = {s["id"]: s for s in await steps_of(t, case_id)}
    assert (steps[step_id]["due_at"], steps[step_id]["overdue"]) == (
        "2027-03-01T23:59:59Z", False)
    assert chase_id not in steps
    [chase] = [s for s in await steps_of(t, case_id, "superseded") if s["id"] == chase_id]
    assert "the overdue step was re-dated" in chase["note"]
    chain = await chain_in_commit_order(settings, [case_id])
    [changed] = [at for action, entity, at in chain if action == "case.update"]
    [retired] = [at for action, entity, at in chain
                 if (action, entity) == ("step.supersede", chase_id)]
    assert retired == changed
    assert await _announced(settings, chase_id) == ["step.escalated", "step.superseded"]
    assert await tick(db, t) == 0  # not late: nothing to chase


async def test_W16_a_date_brought_back_into_the_past_is_chased_again_at_the_next_pass(
        wokingham: Tenant, db: Factory, settings: Any,  # noqa: F811
        monkeypatch: pytest.MonkeyPatch) -> None:
    """W16: after the late-recorded release date (the escalation retired), on Monday 7
    September at 10:00 BST the release is put back to 1 March 2027: the six-month point has
    passed, so the notification is due at once (a sooner date always applies), late from the
    end of that London day (22:59:59Z). The write raises no escalation, nor does a pass that
    day (the escalation rules: a pass raises it once the step is late; README "Overdue
    escalation worker"); Tuesday's pass escalates it to line_manager-1 again, once. Before,
    the step kept the mark of its first escalation and was never chased again."""
    t = wokingham
    case_id, step_id, chase_id = await _escalated_notification(t, db, monkeypatch)
    pin(monkeypatch, 2026, 9, 4, 10, 0)
    r = await patch_case(t, case_id, {"expected_release_date": "2027-09-01",
                                      "occurred_at": "2026-08-25T10:00:00+01:00"})
    assert r.status_code == 200, r.text
    pin(monkeypatch, 2026, 9, 7, 10, 0)
    r = await patch_case(t, case_id, {"expected_release_date": "2027-03-01"})
    assert r.status_code == 200, r.text
    steps = await steps_of(t, case_id)
    step = next(s for s in steps if s["id"] == step_id)
    assert (step["due_at"], step["overdue_at"], step["overdue"]) == (
        "2026-09-07T10:00:00Z", "2026-09-07T22:59:59Z", False)
    assert [s for s in steps if s["code"] == CHASE and s["subject_id"] == step_id] == []
    assert await tick(db, t) == 0
    pin(monkeypatch, 2026, 9, 8, 9, 0)
    assert await tick(db, t) == 1
    chases = [s for s in await steps_of(t, case_id)
              if s["code"] == CHASE and s["subject_id"] == step_id]
    assert [(s["actor"], s["assignee_id"]) for s in chases] == [("line_manager",
                                                                  "line_manager-1")]
    assert chases[0]["id"] != chase_id


async def test_W16_a_sooner_release_recorded_late_keeps_the_chase_and_names_the_new_due_date(
        wokingham: Tenant, db: Factory, settings: Any,  # noqa: F811
        monkeypatch: pytest.MonkeyPatch) -> None:
    """W16 ("Category 2 referrals (i.e. for children in custody), the referral into MAPPA must
    be completed six months prior to their release into the community"): on Friday 4 September
    the line manager records that the release moved forward to Monday 1 February 2027, known on
    Tuesday 25 August. The six-month point (1 August 2026) had passed when that was known, so
    the notification was due at once (25 August): sooner, and still overdue. Its escalation
    stays open (the chase is still owed) and says the step's due date now, not the 1 September
    it was raised for: changed in the re-dating write (one instant with the case change),
    audited (``step.renote``) and announced (``step.escalation_updated``)."""
    t = wokingham
    case_id, step_id, chase_id = await _escalated_notification(t, db, monkeypatch)
    pin(monkeypatch, 2026, 9, 4, 10, 0)
    r = await patch_case(t, case_id, {"expected_release_date": "2027-02-01",
                                      "occurred_at": "2026-08-25T10:00:00+01:00"})
    assert r.status_code == 200, r.text
    steps = {s["id"]: s for s in await steps_of(t, case_id)}
    step = steps[step_id]
    assert step["overdue"] is True
    assert step["due_at"] < "2026-09-01T22:59:59Z"
    chase = steps[chase_id]
    assert "was due Tuesday 1 September 2026" not in chase["note"], chase["note"]
    assert "was due Tuesday 25 August 2026" in chase["note"], chase["note"]
    chain = await chain_in_commit_order(settings, [case_id])
    [changed] = [at for action, entity, at in chain if action == "case.update"]
    [renoted] = [at for action, entity, at in chain
                 if (action, entity) == ("step.renote", chase_id)]
    assert renoted == changed
    assert await _announced(settings, chase_id) == ["step.escalated", "step.escalation_updated"]
    assert await tick(db, t) == 0  # still chased once: nothing new to raise
