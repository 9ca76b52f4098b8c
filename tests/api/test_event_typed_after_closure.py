"""A case event dated before the case's closure and typed in after it gives, once the case is
reopened, the record the same acts typed in date order give (the twin of a panel decision's,
ATTACK26B-12; left open by earlier sessions as unreproduced).

2027 dates: a prevention case opened Monday 1 March, ROSH medium on Thursday 1 April; the child
charged on Thursday 15 April (and again on Saturday 17 April), the child's death on Sunday 18
April; the case closed on Tuesday 20 April 09:00 BST and reopened at 09:30; everything typed
in on 20 April from 10:00 BST.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app.core import clock
from tests.api.integrity_support import typed_in_order
from tests.conftest import Tenant

CHARGED = {"type": "charged", "occurred_at": "2027-04-15T10:00:00Z",
           "details": {"offence": "assault"}}
CHARGED_AGAIN = {"type": "charged", "occurred_at": "2027-04-17T10:00:00Z",
                 "details": {"offence": "criminal damage"}}
DIED = {"type": "death", "occurred_at": "2027-04-18T10:00:00Z"}
CLOSE = {"closed_at": "2027-04-20T08:00:00Z", "closure_reason": "Order completed"}
REOPEN = {"closed_at": None, "reopen_reason": "New offence",
          "occurred_at": "2027-04-20T08:30:00Z"}


@pytest.fixture(autouse=True)
def typed_on_20_april(monkeypatch: pytest.MonkeyPatch) -> None:
    """Everything is typed in on Tuesday 20 April 2027 at 10:00 BST."""
    monkeypatch.setattr(clock, "now", lambda: datetime(2027, 4, 20, 9, 0, tzinfo=UTC))


async def test_S14_a_charge_typed_after_the_closure_joins_the_earlier_charges_review(
        somerset: Tenant) -> None:
    """Somerset 2.1: the AssetPlus "will be reviewed ... sooner upon any significant change
    becoming known" (S14, one review of the case at a time, due the next working day, 4.2).
    The second charge (17 April), typed in after the closure, found the first charge's review
    set aside by the closure and raised a second one; reopened, the case owed two reviews (due
    16 and 19 April) where the same acts in date order owe one, due 16 April."""
    in_order = await typed_in_order(somerset, [CHARGED, CHARGED_AGAIN, CLOSE, REOPEN])
    typed_late = await typed_in_order(somerset, [CHARGED, CLOSE, CHARGED_AGAIN, REOPEN])
    reviews = [s for s in typed_late if s[0] == "review_assessment"]
    assert reviews == [("review_assessment", "case_holder-1", "2027-04-16T22:59:59Z")]
    assert typed_late == in_order


async def test_W5_a_death_typed_after_the_closure_ends_the_earlier_report(
        wokingham: Tenant) -> None:
    """Wokingham (Internal and External Controls): a change of circumstances or new incident
    "must be ... immediately be reported to the line manager" (W5); the child's death ends the
    reports of earlier events (the pack's ``ends_earlier_steps``, A20-18) and raises its own.
    The death (18 April), typed in after the closure, left the charge's report set aside by
    the closure, so the reopening brought it back beside the death's own; in date order the
    death ended it. Since ATTACK32C-9 a case is not reopened after the child's death (409): the
    closed case's record is the same in either order, and no report is left open on it."""
    in_order = await typed_in_order(wokingham, [CHARGED, DIED, CLOSE])
    typed_late = await typed_in_order(wokingham, [CHARGED, CLOSE, DIED])
    assert [s for s in typed_late if s[0] == "report_to_line_manager"] == []
    assert typed_late == in_order


@pytest.fixture(params=["somerset", "wokingham"])
def tenant(request: pytest.FixtureRequest) -> Tenant:
    return request.getfixturevalue(request.param)  # type: ignore[no-any-return]


async def test_a_charge_typed_after_the_closure_is_the_charge_typed_before_it(
        tenant: Tenant) -> None:
    """The brief's case (one event): a charge dated before the closure, typed in after it,
    then the reopening: the steps open are those of the charge typed in before the closure
    (this held before the fix too; pinned)."""
    assert await typed_in_order(tenant, [CLOSE, CHARGED, REOPEN]) \
        == await typed_in_order(tenant, [CHARGED, CLOSE, REOPEN])
