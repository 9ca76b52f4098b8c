"""The assessments countersigned by an act's date do not depend on the order the
countersignatures were typed in (fix37d, twin of ATTACK35B-5).

Wokingham, Assessment Reviews: "Children who have been assessed as high within any of the risk
domains must have their Asset+ reviewed at least every three months or sooner if there has been
a significant change in circumstances", and "An assessment (Asset+ or mini-asset) is not
considered complete until it has been counter signed by a line manager" (W3, its judgement
line: the review is owed by a child first rated high while the case has a countersigned
Asset+).

An Asset+ countersigned on Wednesday 12 August 2026, another assessment countersigned on
Friday 28 August, and SWB judged high by hand on Thursday 20 August (10:00 BST) typed in last.
In time order the judgement finds the 12 August Asset+ countersigned and owes the review three
months later, Friday 20 November 2026 (10:00 GMT). With the 28 August countersignature typed
first, the judgement read the case's tools from the history's rows: the 28 August row said
nothing was countersigned before it (the later-typed 12 August Asset+ of the same tool recorded
no change; one of another tool recorded every tool as countersigned on the 12th), so the
judgement found no countersigned Asset+ and no review was owed. Now the tools countersigned by
a date are read from the assessments themselves (app.domain.assessments_table
.countersigned_types_at).
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.act_order_support import HOLDER, steps_of, the_record
from tests.api.test_attack35b_marf_order import OPENED, SIGNED_12, SIGNED_28, Case
from tests.conftest import Tenant

JUDGED_20 = "2026-08-20T10:00:00+01:00"  # Thursday 20 August 2026, 10:00 BST
REVIEW = [("review_assessment", "case_holder", HOLDER, "2026-11-20T10:00:00Z", "W3",
           "Assessment Reviews")]


async def _typed(t: Tenant, order: str) -> tuple[Any, ...]:
    """A youth caution case not open to social care: the Asset+ of 12 August ("early") and
    the mini-asset of 28 August ("late") countersigned, and SWB high on 20 August ("judged"),
    typed in ``order``; the record."""
    opened = await t.open_case(csc_status="none", opened_at=OPENED, intervention="youth_caution")
    case = Case(t, opened["data"]["id"])

    async def early() -> None:
        await case.write("A", SIGNED_12)
        await case.sign("A", SIGNED_12)

    async def late() -> None:
        await case.write("B", SIGNED_28, type_="mini_asset")
        await case.sign("B", SIGNED_28)

    async def judged() -> None:
        await case.judge_swb("high", JUDGED_20)

    acts = {"early": early, "late": late, "judged": judged}
    for name in order.split(","):
        await acts[name]()
    return await the_record(t, case.id)


@pytest.mark.parametrize("order", ["late,early,judged", "judged,late,early"])
async def test_W3_judgement_finds_the_asset_plus_countersigned_before_it_in_any_order(
        wokingham: Tenant, order: str) -> None:
    """W3: "Children who have been assessed as high within any of the risk domains must have
    their Asset+ reviewed at least every three months". SWB high on 20 August, the Asset+
    countersigned on 12 August, a mini-asset (another tool, which owes no Asset+ review)
    countersigned on 28 August: the review (case holder, W3) is due 20 November, as in time
    order, whichever countersignature was typed first and whether the judgement was typed
    before them or after."""
    in_time_order = await _typed(wokingham, "early,judged,late")
    assert steps_of(in_time_order, "review_assessment") == REVIEW
    assert await _typed(wokingham, order) == in_time_order
