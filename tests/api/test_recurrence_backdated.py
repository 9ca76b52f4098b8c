"""``every 1m`` with a late, back-dated review (attack A, L7): decided, not changed.

Somerset 2023, 4.5 (S11): line managers "review all cases where there is a High or Very High
ROSH and/or Safety and Well-Being rating with case holders at least monthly". Corrected
catalogue (policy-rules.md, ``every 1m``): "the next is due one month after the act that
completed it (its occurred_at), whether it was done early or late ... completing late never
creates an occurrence that is already overdue".

A late review creates a successor due a month after the review, so never one overdue at the
review itself. A review recorded months after it happened (back-dated) creates a successor that
is overdue when recorded, and that is the truth: no review has been recorded since, and the
timeliness report must show it (dating it from the recording would launder the missed months,
the kind closed for close/reopen in test_closure_laundering.py).
"""

from __future__ import annotations

from tests.api.integrity_support import complete, judge, steps_of, the_step
from tests.conftest import Tenant


async def test_S11_late_back_dated_review_counts_from_the_review_on_real_dates(
        somerset: Tenant) -> None:
    """High ROSH on Saturday 31 January 2026: first review due 28 February (month end
    clamped). Reviewed 27 February: next due 27 March. Reviewed late on 31 March (BST): next
    due 30 April at the same wall time, after the review (not overdue at it), and, recorded in
    November, still open overdue (no later review recorded)."""
    case = (await somerset.open_case(opened_at="2026-01-05T09:00:00Z"))["data"]
    body = await judge(somerset, case["id"], "rosh", "high", "2026-01-31T10:00:00Z")
    first = the_step(body["next_steps"], "monthly_manager_review")
    assert first["due_at"] == "2026-02-28T10:00:00Z"
    r = await complete(somerset, first["id"], "line_manager", occurred_at="2026-02-27T10:00:00Z")
    assert r.status_code == 200, r.text
    second = the_step(r.json()["next_steps"], "monthly_manager_review")
    assert second["due_at"] == "2026-03-27T10:00:00Z"
    r = await complete(somerset, second["id"], "line_manager",
                       occurred_at="2026-03-31T11:00:00+01:00")
    assert r.status_code == 200, r.text
    third = the_step(r.json()["next_steps"], "monthly_manager_review")
    assert third["due_at"] == "2026-04-30T10:00:00Z"  # 11:00 BST + 1 month
    assert third["due_at"] > "2026-03-31T10:00:00Z"
    assert third["raised_at"] == "2026-03-31T10:00:00Z"
    r = await somerset.client.get("/v1/next-steps",
                                  params={"case_id": case["id"], "overdue": "true"},
                                  headers=somerset.auth("line_manager"))
    assert third["id"] in {s["id"] for s in r.json()["data"]}
    assert len([s for s in await steps_of(somerset, case["id"])
                if s["code"] == "monthly_manager_review"]) == 1
