"""A reinstated step whose deadline a reopening kept says why, beside the moved ones that say how
much they moved (attack 24b, A24b-13).

2026 dates: BST until Sunday 25 October.
"""

from __future__ import annotations

import pytest

from tests.api.integrity_support import closed_then_reopened, high_case_referred, steps_of
from tests.conftest import Tenant


async def test_S5_a_deadline_kept_at_reopening_says_why(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """S5 (3.1): "Any 'high' or 'very high' judgement rating will be discussed as soon as
    practicable with the relevant line manager or duty manager (within 24 hours)". ROSH high on
    Tuesday 1 September 2026 11:00 BST: the discussion is due Wednesday 2 September 11:00 BST.
    (a) Closed Thursday 3 September (the discussion overdue), reopened 15 October: it keeps its
    deadline and its note says it had passed before the closure. (b) A closure dated back to 1
    September 12:00, recorded on 14 September: the discussion fell due between the two; its note
    says it had passed when the closure dated 1 September was recorded on 14 September. The
    AssetPlus (S1) beside it says it moved."""
    for closed_at, recorded in (("2026-09-03T10:00:00+01:00", (2026, 9, 3, 9, 30)),
                                ("2026-09-01T12:00:00+01:00", (2026, 9, 14, 9, 0))):
        case_id = await high_case_referred(somerset, monkeypatch)
        await closed_then_reopened(somerset, monkeypatch, case_id, closed_at=closed_at,
                                   recorded_at=recorded)
        after = {s["code"]: s for s in await steps_of(somerset, case_id)}
        kept = after["discuss_with_manager"]
        assert kept["due_at"] == "2026-09-02T10:00:00Z"
        why = ("Deadline kept: Wednesday 2 September 2026 11:00 (London) had passed before the "
               "closure (Thursday 3 September 2026 10:00 (London))"
               if recorded == (2026, 9, 3, 9, 30) else
               "Deadline kept: Wednesday 2 September 2026 11:00 (London) had passed when the "
               "closure dated Tuesday 1 September 2026 12:00 (London) was recorded on Monday 14 "
               "September 2026")
        assert why in kept["note"], kept["note"]
        assert "Due date moved on" in after["complete_assessment"]["note"]
