"""Attack 35b, ATTACK35B-6: Somerset S10 is answered by the MARP's decision on the case, with or
without a MAPPA level.

Somerset 7.1.9: "The MARP will decide if cases with Very High ROSH judgements need to be
referred to MAPPA 2, unless this has already been done." 8.3.3: "Referral to MAPPA 2 is
achieved by sending a 'MAPPA A' Referral form to level 2/3."

Since fix35c (ATTACK34B-1) S10 is the chair's, at Very High ROSH, due at the next MARP, and was
done only by a decision setting a MAPPA level. A child with no MAPPA category cannot be given a
level (422), so nothing could answer S10: completing it by hand is 409, it is not waivable, and
the case could never be closed (409 mandatory-steps-open). Done by the decision since fix36a,
which made a decision answer only the steps raised before it in the one order of an instant
(a Very High the case holder dates at the decision's instant comes after it: its S10 stays
owed; tests/api/test_fix36a_s10_one_instant.py).

Dates: ROSH Very High on Wednesday 5 August 2026 (BST); the MARP sits on Tuesday 18 August 2026
at 10:00 BST, the chair recording its decision dated at the sitting.
"""

from __future__ import annotations

from typing import Any

from tests.api.act_order_support import decide_at_sitting
from tests.api.integrity_support import judge, patch_case, steps_of
from tests.conftest import Tenant

JUDGED = "2026-08-05T10:00:00+01:00"
SITTING = "2026-08-18T10:00:00+01:00"


def _s10(steps: list[dict[str, Any]]) -> dict[str, Any]:
    (step,) = [s for s in steps if s["policy"]["rule"] == "S10"]
    return step


async def test_S10_a_marp_decision_without_a_mappa_level_answers_it_and_the_case_closes(
        somerset: Tenant) -> None:
    """A Very High child with no MAPPA category: S10 (chair, next MARP, 7.1.9) is done by the
    MARP's decision recorded on the case (no MAPPA level: none can be given), in the chair's
    name at the decision's time; the case can then be closed."""
    t = somerset
    case = (await t.open_case(opened_at="2026-08-03T09:00:00+01:00"))["data"]
    await judge(t, case["id"], "rosh", "very_high", JUDGED)
    step = _s10(await steps_of(t, case["id"]))
    assert (step["code"], step["actor"], step["status"], step["policy"]["ref"]) == (
        "identify_mappa_level", "chair", "open", "7.1.9, 3.2.4")
    r = await decide_at_sitting(t, case["id"], "marp", SITTING, {
        "minutes": "MARP decided: no MAPPA 2 referral (not MAPPA eligible)",
        "rosh_level": "very_high", "review_date": "2026-09-15", "actions": []})
    assert r.status_code == 200, r.text
    done = _s10(await steps_of(t, case["id"], "done"))
    assert (done["status"], done["completed_by"], done["completed_at"]) == (
        "done", "chair-1", "2026-08-18T09:00:00Z")
    r = await patch_case(t, case["id"], {"closed_at": "2026-08-19T10:00:00+01:00",
                                         "closure_reason": "order ended"})
    assert r.status_code == 200, r.text

