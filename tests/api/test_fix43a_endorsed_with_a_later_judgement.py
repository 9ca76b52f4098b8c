"""Judgements recorded with an Asset+, its countersignature and a judgement dated after it
(attack 41, ATTACK41-5; fix43a).

Wokingham, Matrix of impact / likelihood judgements (M2): "the case worker must appropriately
explain in the evidence box why they are deviating from the harm matrix so that the assessment
is defensible. By signing off the assessment, the line manager will effectively endorse the
judgement."

ATTACK41-5: two back-dated judgements typed in after the countersignature, once a judgement
dated after it had been typed first, each gave a done `acknowledge_rating_rationale` step of its
own (the later judgement's open step took their reasons and the countersignature split each off
into a new done step), where time order has one step done at the countersignature with every
judgement it endorsed, and the later judgement's own open step (docs/integrating.md §7).

Dates: the case opened Monday 3 August 2026; the start Asset+ written and submitted on Wednesday
12 August; judgements on Thursday 13 and Monday 17 August; the countersignature on Wednesday
19 August; a judgement on Thursday 20 August (10:00 BST each).
"""

from __future__ import annotations

from tests.api.act_order_support import same_as_time_order
from tests.api.test_attack35b_marf_order import (  # noqa: F401 (on_21_september: the clock)
    every_order,
    on_21_september,
)
from tests.api.test_fix39a_endorsed_on_file import (
    JUDGED_13,
    SIGN,
    SIGNED_19,
    WRITE,
    WRITTEN,
    rosh_off_the_matrix,
)
from tests.api.test_fix40b_endorsed_judgements import (
    AT_13,
    AT_17,
    JUDGED_17,
    M2_REF,
    acknowledgements,
    one_endorsed,
)
from tests.conftest import Tenant

JUDGED_20 = "2026-08-20T10:00:00+01:00"  # Thursday 20 August 2026
AT_20 = "2026-08-20T09:00:00Z"


async def test_M2_two_endorsed_judgements_and_a_later_one_are_two_steps_in_every_order(
        wokingham: Tenant) -> None:
    """M2: "By signing off the assessment, the line manager will effectively endorse the
    judgement". ROSH medium off the matrix on Thursday 13 and Monday 17 August with the start
    Asset+, countersigned on Wednesday 19 August, and again on Thursday 20 August, after it: one
    acknowledgement arisen on the 13th with both endorsed judgements, done at the
    countersignature by its line manager, and the 20th's own, open, in every typing order tried
    (tests/orders.py; with the 20th typed before the back-dated ones, each of them had a done
    step of its own)."""
    outcomes = await every_order(wokingham, [
        (WRITE, lambda c: c.write("A", WRITTEN, stage="start")),
        ("ROSH medium 13 Aug", rosh_off_the_matrix(JUDGED_13)),
        ("ROSH medium 17 Aug", rosh_off_the_matrix(JUDGED_17)),
        (SIGN, lambda c: c.sign("A", SIGNED_19)),
        ("ROSH medium 20 Aug", rosh_off_the_matrix(JUDGED_20)),
    ], after={SIGN: WRITE, "ROSH medium 13 Aug": WRITE, "ROSH medium 17 Aug": WRITE,
              "ROSH medium 20 Aug": WRITE}, read=acknowledgements)
    assert len(outcomes) >= 9
    record = same_as_time_order(outcomes)
    assert record[2] == sorted([
        *one_endorsed("M2", M2_REF, AT_13, [("M2", AT_13), ("M2", AT_17)]),
        ("open", "M2", M2_REF, "line_manager", AT_20, None, None, None, [("M2", AT_20)])],
        key=repr)
