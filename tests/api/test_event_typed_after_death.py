"""A case event dated before the child's death and typed in after it asks for no report the
death ended (found beside the events typed after a closure, left15b).

Wokingham (Internal and External Controls): a change of circumstances or new incident "must be
recorded on the IYSS case management system within one working day and immediately be reported
to the line manager" (W5); the child's death ends the reports of the acts before it and raises
its own (the pack's ``ends_earlier_steps``, A20-18). 2027 dates: a prevention case opened
Monday 1 March, ROSH medium on Thursday 1 April; the child charged on Thursday 15 April and died
on Sunday 18 April; everything typed in on Tuesday 20 April from 10:00 BST (a closure at 09:00
where said).
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app.core import clock
from tests.api.integrity_support import typed_in_order
from tests.conftest import Tenant

CHARGED = {"type": "charged", "occurred_at": "2027-04-15T10:00:00Z",
           "details": {"offence": "assault"}}
DIED = {"type": "death", "occurred_at": "2027-04-18T10:00:00Z"}
CLOSE = {"closed_at": "2027-04-20T08:00:00Z", "closure_reason": "Order completed"}
DEATHS_REPORT = ("report_to_line_manager", "case_holder-1", "2027-04-18T10:00:00Z")


@pytest.fixture(autouse=True)
def typed_on_20_april(monkeypatch: pytest.MonkeyPatch) -> None:
    """Everything is typed in on Tuesday 20 April 2027 at 10:00 BST."""
    monkeypatch.setattr(clock, "now", lambda: datetime(2027, 4, 20, 9, 0, tzinfo=UTC))


async def test_W5_a_charge_typed_after_the_death_before_it_owes_no_second_report(
        wokingham: Tenant) -> None:
    """The charge of 15 April typed in after the death of 18 April: in date order the death
    ended the charge's report to the line manager; typed late, the charge's report stayed
    open beside the death's own. Now only the death's report is owed, either order."""
    typed_late = await typed_in_order(wokingham, [DIED, CHARGED])
    assert [s for s in typed_late if s[0] == "report_to_line_manager"] == [DEATHS_REPORT]
    assert typed_late == await typed_in_order(wokingham, [CHARGED, DIED])


async def test_W5_the_same_across_a_closure_and_reopening(wokingham: Tenant) -> None:
    """The death typed before the closure, the charge dated before the death typed in after
    the closure: the record the acts typed in date order give (no reopening: since
    ATTACK32C-9 a case is not reopened after the child's death), no report left open on the
    closed case."""
    typed_late = await typed_in_order(wokingham, [DIED, CLOSE, CHARGED])
    assert [s for s in typed_late if s[0] == "report_to_line_manager"] == []
    assert typed_late == await typed_in_order(wokingham, [CHARGED, DIED, CLOSE])
