"""Closing and reopening a case does not launder its overdue steps (attack A, H1).

Mechanism: closing a case supersedes its open steps with a closure marker; reopening reinstates
exactly those steps, unchanged (same id, ``raised_at``, ``due_at`` and reasons), then runs the
policy for the case's current state, which opens only what is mandated and not already open.
An overdue step stays overdue and stays counted in the timeliness report; S1's opening
assessment, never completed, comes back with its deadline from the opening.

Somerset 2023, 2.1: "a full assessment ... must be completed within 4 weeks of the start of the
order or the start of the sentence" (S1); 3.1: a high ROSH is "discussed with the line manager
within 24 hours" (S5).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.api.integrity_support import (
    audit_of,
    judge,
    outbox_types,
    patch_case,
    refer_to_marp,
    steps_of,
)
from tests.api.management import report
from tests.conftest import Tenant

KEEP = ("id", "code", "due_at", "raised_at", "assignee_id", "rule_id")
# The MARP referral and the views for it (S7, S8, not waivable) are done before each closure
# (A9-9); a reopening does not refer the case anew while that submitted referral awaits a MARP
# (panel7's leftover: it used to raise S7 and S8 again from the reopening).


def _z(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _view(steps: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {s["code"]: {k: s.get(k) for k in (*KEEP, "reasons")} for s in steps}


async def _rows(t: Tenant) -> dict[str, tuple[int, int]]:
    r = await report(t, role="line_manager", **{"from": "2026-08-01", "to": "2026-12-31",
                                                "group_by": "rule"})
    assert r.status_code == 200, r.text
    return {row["rule"]: (row["due"], row["open_overdue"]) for row in r.json()["data"]["rows"]}


async def _overdue(t: Tenant, case_id: str) -> set[str]:
    r = await t.client.get("/v1/next-steps", params={"case_id": case_id, "overdue": "true"},
                           headers=t.auth("line_manager"))
    assert r.status_code == 200, r.text
    return {s["code"] for s in r.json()["data"]}


async def test_S1_S5_close_and_reopen_keep_overdue_steps_with_their_original_deadlines(
        somerset: Tenant) -> None:
    """Opened 3 August 2026, ROSH high on 20 August (S5 due 21 August 10:00 BST, overdue now):
    closed and reopened a minute later, the same steps are open again with their original
    deadlines (S5 still overdue; S1 due 4 weeks after the opening is back), the timeliness
    report counts S1 and S5 as before, and the timeline shows the close and the reopen with
    their reasons."""
    case = (await somerset.open_case(opened_at="2026-08-03T09:00:00+01:00"))["data"]
    await judge(somerset, case["id"], "rosh", "high", "2026-08-20T10:00:00+01:00")
    await refer_to_marp(somerset, case["id"], "2026-08-20T11:00:00+01:00")
    before = _view(await steps_of(somerset, case["id"]))
    assert before["discuss_with_manager"]["due_at"] == "2026-08-21T09:00:00Z"
    assert before["complete_assessment"]["due_at"] == "2026-08-31T08:00:00Z"
    figures = await _rows(somerset)
    assert figures["S5"] == (1, 1)
    overdue_before = await _overdue(somerset, case["id"])
    assert {"discuss_with_manager", "complete_assessment"} <= overdue_before
    now = datetime.now(UTC)
    closed = await patch_case(somerset, case["id"], {
        "closed_at": _z(now - timedelta(minutes=2)), "closure_reason": "Order completed"})
    assert closed.status_code == 200, closed.text
    assert await steps_of(somerset, case["id"]) == []
    reopened = await patch_case(somerset, case["id"], {
        "closed_at": None, "reopen_reason": "Closed in error",
        "occurred_at": _z(now - timedelta(minutes=1))})
    assert reopened.status_code == 200, reopened.text
    after = _view(await steps_of(somerset, case["id"]))
    for code, step in before.items():
        assert after[code] == step, code
    assert set(after) == set(before)
    assert _view(reopened.json()["next_steps"]) == after
    rows = await _rows(somerset)
    assert (rows["S1"], rows["S5"]) == (figures["S1"], figures["S5"])
    assert await _overdue(somerset, case["id"]) == overdue_before
    timeline = (await somerset.client.get(f"/v1/cases/{case['id']}/timeline", params={"limit": 200},
                                          headers=somerset.auth("line_manager"))).json()["data"]
    acts = [(e["kind"], e["action"], e["why"]) for e in timeline if e["kind"] == "case"]
    assert ("case", "closed", "Order completed") in acts
    assert ("case", "reopened", "Closed in error") in acts
    reinstated = [e for e in timeline if e["kind"] == "step" and e["action"] == "reinstated"]
    assert sorted(e["details"]["code"] for e in reinstated) == sorted(before)
    audit = [e["action"] for e in await audit_of(somerset, case["id"])]
    assert audit.count("step.reinstate") == len(before)
    # Subscribers hear of each step set aside by the closure and of each one back (attack
    # pass 1, finding 2: they heard of the reinstatements only).
    # The steps already overdue at the closure were missed then, the others set aside
    # (ATTACK34B-7): each announced once, each back.
    types = await outbox_types(somerset.settings, case["id"])
    assert types.count("step.missed") == len(overdue_before)
    assert types.count("step.superseded") == len(before) - len(overdue_before)
    assert types.count("step.reinstated") == len(before)
    assert types.index("case.closed") < types.index("case.reopened")


async def test_repeated_close_and_reopen_never_redates_or_duplicates(somerset: Tenant) -> None:
    """Three close/reopen cycles: the open steps are the same steps with the same deadlines
    each time (no new copy, no later due date)."""
    case = (await somerset.open_case(opened_at="2026-08-03T09:00:00+01:00"))["data"]
    await judge(somerset, case["id"], "rosh", "high", "2026-08-20T10:00:00+01:00")
    await refer_to_marp(somerset, case["id"], "2026-08-20T11:00:00+01:00")
    before = _view(await steps_of(somerset, case["id"]))
    start = datetime.now(UTC)
    for round_ in range(3):
        # Each closure is dated after the last reopening (the latest act on the case), each
        # reopening after its closure: whole seconds a little ahead of now (within the 5
        # minutes' tolerance), since _z drops the fraction of a second.
        r = await patch_case(somerset, case["id"], {
            "closed_at": _z(start + timedelta(seconds=2 * round_ + 1)),
            "closure_reason": "Order completed"})
        assert r.status_code == 200, r.text
        r = await patch_case(somerset, case["id"], {
            "closed_at": None, "reopen_reason": "Closed in error",
            "occurred_at": _z(start + timedelta(seconds=2 * round_ + 2))})
        assert r.status_code == 200, r.text
        after = _view(await steps_of(somerset, case["id"]))
        assert after == before
