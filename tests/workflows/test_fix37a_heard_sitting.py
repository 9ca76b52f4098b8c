"""fix37a (ATTACK36-1): ``next-panel`` never names a sitting that had already decided the case
when the act asking for the step came (pure: app.workflows.deadlines.next_panel's ``heard``,
app.workflows.engine.heard_by).

Somerset 7.1.9 "The MARP will decide if cases with Very High ROSH judgements need to be referred
to MAPPA 2" (S10, by the next MARP); docs/integrating.md §7: at one instant the case's events
come before the panels' decisions, and the decisions before the judgements. Tue 24 Nov 2026
09:00 (GMT): the MARP sitting that decided the case at 09:00; the next MARP Tue 1 Dec 09:00.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from app.workflows.deadlines import next_panel
from app.workflows.engine import heard_by
from app.workflows.types import CaseSnapshot, ScheduledPanel

AT = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
DECIDED = ScheduledPanel(id=uuid.uuid4(), kind="marp", scheduled_for=AT)
NEXT = ScheduledPanel(id=uuid.uuid4(), kind="marp", scheduled_for=AT + timedelta(days=7))
CASE = CaseSnapshot(case_id=uuid.uuid4(), intervention="court_order", statutory=True,
                    csc_status="none", decided_panels={DECIDED.id: AT})


@pytest.mark.parametrize(("start", "reason", "due_at"), [
    # The case holder's Very High of 09:00 comes after the decision: the next MARP.
    (AT, {"trigger": "judgement_recorded", "record": {}}, NEXT),
    # The decision's own judgement (or the decision): the sitting has decided; the next MARP.
    (AT, {"trigger": "judgement_recorded", "record": {"via_panel_decision": True}}, NEXT),
    # A case event of 09:00 comes before the decision: that sitting hears it.
    (AT, {"trigger": "case_event", "record": {}}, DECIDED),
    # A minute before the decision: that sitting.
    (AT - timedelta(minutes=1), {"trigger": "judgement_recorded", "record": {}}, DECIDED),
    # An act the instant's order does not rank, at the decision: decided by then.
    (AT, None, NEXT),
])
def test_S10_next_panel_skips_the_sitting_that_had_decided_the_case(
        start: datetime, reason: dict[str, Any] | None, due_at: ScheduledPanel) -> None:
    """Somerset 7.1.9 (S10 "by the next MARP"): the step asked by the act ``reason`` at
    ``start`` is due at ``due_at``; with the case still on the decided sitting's agenda
    (``booked``), the same."""
    heard = heard_by(CASE, start, reason)
    assert next_panel([DECIDED, NEXT], "marp", start, heard=heard) == due_at
    assert next_panel([DECIDED, NEXT], "marp", start, {DECIDED.id}, heard) == due_at
