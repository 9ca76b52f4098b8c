"""A step's clock stands still while its case is closed (attack pass 17, A17-1).

Reopening a case reinstates the steps its closure superseded. One overdue at the closure keeps
its deadline (a close and reopen launders nothing: tests/api/test_closure_laundering.py). One not
yet overdue came back with its old deadline too, although no act could be done on the closed case
in between: a case closed two days into its order and reopened six weeks later was overdue from
its first second. Its deadline now moves on by the time the case was closed, on London's wall
clock.

2026 dates: opened Tuesday 1 September 10:00 BST; closed Thursday 3 September 10:00 BST;
reopened Thursday 15 October 10:00 BST (42 days later); the clocks go back on Sunday 25 October.
"""

from __future__ import annotations

import pytest

from tests.api.fidelity_support import pin
from tests.api.integrity_support import (
    audit_of,
    closed_then_reopened,
    high_case_referred,
    judge,
    patch_case,
    steps_of,
)
from tests.conftest import Tenant


async def test_S1_S5_reopening_moves_on_only_what_was_not_yet_overdue(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """S1 (2.1): "All children supervised by the YJT on statutory orders, will have an
    AssetPlus assessment completed within 4 weeks of start of YJT involvement"; S5 (3.1): a
    high ROSH is discussed with the line manager within 24 hours. Opened Tuesday 1 September
    2026 10:00 BST: the AssetPlus is due Tuesday 29 September 10:00 BST (09:00Z). ROSH high at
    11:00: the discussion is due Wednesday 2 September 11:00 BST. Closed Thursday 3 September
    10:00 BST (the discussion overdue, the AssetPlus not), reopened Thursday 15 October 10:00
    BST, 42 days later: the discussion keeps its deadline; the AssetPlus is due 42 days after
    29 September on the wall clock, Tuesday 10 November 10:00 GMT (10:00Z, after the clocks
    went back), with the move in its note; each reinstatement is audited. Each act is recorded
    when it happens (a closure recorded later stops no clock before it was made: below)."""
    case_id = await high_case_referred(somerset, monkeypatch)
    before = {s["code"]: s for s in await steps_of(somerset, case_id)}
    assert before["complete_assessment"]["due_at"] == "2026-09-29T09:00:00Z"
    assert before["discuss_with_manager"]["due_at"] == "2026-09-02T10:00:00Z"
    await closed_then_reopened(somerset, monkeypatch, case_id,
                               closed_at="2026-09-03T10:00:00+01:00",
                               recorded_at=(2026, 9, 3, 9, 0))
    after = {s["code"]: s for s in await steps_of(somerset, case_id)}
    assert after["complete_assessment"]["id"] == before["complete_assessment"]["id"]
    assert after["complete_assessment"]["due_at"] == "2026-11-10T10:00:00Z"
    assert "the case was closed (not yet overdue" in after["complete_assessment"]["note"]
    assert after["discuss_with_manager"]["due_at"] == "2026-09-02T10:00:00Z"
    assert after["discuss_with_manager"]["raised_at"] == before["discuss_with_manager"]["raised_at"]
    reinstated = [e for e in await audit_of(somerset, case_id) if e["action"] == "step.reinstate"]
    assert len(reinstated) == len(before)


async def test_S1_a_closure_dated_back_stops_no_clock_before_it_was_made(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """S1 (2.1): "All children supervised by the YJT on statutory orders, will have an
    AssetPlus assessment completed within 4 weeks of start of YJT involvement". Opened Thursday
    1 October 2026 11:00 BST: due Thursday 29 October 11:00 GMT (11:00Z), and on Monday 23
    November 25 days overdue. The line manager closes the case dated Tuesday 20 October (before
    it fell due) and reopens it at once: the clock stopped only from when the closure was made,
    so the AssetPlus comes back with its deadline, still overdue (attack pass 16, A16-20: it came
    back due the next week, laundered)."""
    pin(monkeypatch, 2026, 11, 23, 9, 5)
    case_id = (await somerset.open_case(opened_at="2026-10-01T10:00:00Z"))["data"]["id"]
    before = {s["code"]: s for s in await steps_of(somerset, case_id)}
    assert before["complete_assessment"]["due_at"] == "2026-10-29T11:00:00Z"
    r = await patch_case(somerset, case_id, {"closed_at": "2026-10-20T10:00:00Z",
                                             "closure_reason": "order ended"})
    assert r.status_code == 200, r.text
    pin(monkeypatch, 2026, 11, 23, 9, 6)
    r = await patch_case(somerset, case_id, {"closed_at": None,
                                             "reopen_reason": "closed in error"})
    assert r.status_code == 200, r.text
    after = {s["code"]: s for s in await steps_of(somerset, case_id)}
    assert after["complete_assessment"]["id"] == before["complete_assessment"]["id"]
    assert after["complete_assessment"]["due_at"] == "2026-10-29T11:00:00Z"
    assert after["complete_assessment"]["overdue"] is True


async def test_S1_S5_a_closure_recorded_late_stops_the_clock_from_its_date(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """S1 (2.1): "All children supervised by the YJT on statutory orders, will have an
    AssetPlus assessment completed within 4 weeks of start of YJT involvement"; S5 (3.1): "Any
    'high' or 'very high' judgement rating will be discussed as soon as practicable with the
    relevant line manager or duty manager (within 24 hours)".

    Opened Tuesday 1 September 2026 10:00 BST (the AssetPlus due Tuesday 29 September 10:00
    BST), ROSH high at 11:00 (the discussion due Wednesday 2 September 11:00 BST). The case is
    closed dated Tuesday 1 September 12:00 BST, but the closure is recorded only on Monday 14
    September; reopened Thursday 15 October 10:00 BST. The case was closed for 43 days 22 hours
    (44 whole days, to the nearest): the AssetPlus, not overdue when the closure was recorded,
    comes back due 44 days after 29 September on the wall clock, Thursday 12 November 10:00 GMT
    (attack 23b, A23b-9: counted from the recording, it came back due 30 October). The
    discussion fell due between the closure's date and its recording: overdue when the closure
    was recorded, it keeps its deadline (a closure dated back launders nothing, A16-20)."""
    case_id = await high_case_referred(somerset, monkeypatch)
    before = {s["code"]: s for s in await steps_of(somerset, case_id)}
    assert before["complete_assessment"]["due_at"] == "2026-09-29T09:00:00Z"
    assert before["discuss_with_manager"]["due_at"] == "2026-09-02T10:00:00Z"
    await closed_then_reopened(somerset, monkeypatch, case_id,
                               closed_at="2026-09-01T12:00:00+01:00",
                               recorded_at=(2026, 9, 14, 9, 0))
    after = {s["code"]: s for s in await steps_of(somerset, case_id)}
    assert after["complete_assessment"]["due_at"] == "2026-11-12T10:00:00Z"
    assert "moved on by the 44 day(s)" in after["complete_assessment"]["note"]
    assert after["discuss_with_manager"]["due_at"] == "2026-09-02T10:00:00Z"
    assert after["discuss_with_manager"]["overdue"] is True


async def test_S14_a_working_day_deadline_moves_by_the_working_days_the_case_was_closed(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """S14 (4.2): "Case holders will review AssetPlus as soon as possible (within 24
    hrs/next working day) to evidence when changes of circumstance have occurred".

    ROSH medium; a new incident on Friday 18 December 2026 09:00 GMT: the review is due the
    next working day, the end of Monday 21 December. Closed at 10:00 that Friday (one working
    day part-spent, one left), reopened Tuesday 29 December 10:00 GMT. The working days the
    case was closed are Monday 21 to Thursday 24 and Tuesday 29 December (Christmas Day and the
    Boxing Day substitute Monday 28 are bank holidays): five. The review moves on five working
    days, to the end of Wednesday 30 December (attack 23b, A23b-9: moved by 11 calendar days it
    came back due on Friday 1 January 2027, New Year's Day)."""
    pin(monkeypatch, 2026, 12, 18, 9, 30)
    case_id = (await somerset.open_case(opened_at="2026-12-01T10:00:00Z"))["data"]["id"]
    await judge(somerset, case_id, "rosh", "medium", "2026-12-17T10:00:00Z")
    r = await somerset.client.post(f"/v1/cases/{case_id}/events", headers=somerset.auth(
        "case_holder"), json={"type": "new_incident", "occurred_at": "2026-12-18T09:00:00Z"})
    assert r.status_code == 201, r.text
    before = {s["code"]: s for s in await steps_of(somerset, case_id)}
    assert before["review_assessment"]["due_at"] == "2026-12-21T23:59:59Z"
    pin(monkeypatch, 2026, 12, 18, 10, 0)
    r = await patch_case(somerset, case_id, {"closed_at": "2026-12-18T10:00:00Z",
                                             "closure_reason": "order revoked on appeal"})
    assert r.status_code == 200, r.text
    pin(monkeypatch, 2026, 12, 29, 10, 0)
    r = await patch_case(somerset, case_id, {"closed_at": None,
                                             "reopen_reason": "new court order made",
                                             "occurred_at": "2026-12-29T10:00:00Z"})
    assert r.status_code == 200, r.text
    after = {s["code"]: s for s in await steps_of(somerset, case_id)}
    assert after["review_assessment"]["id"] == before["review_assessment"]["id"]
    assert after["review_assessment"]["due_at"] == "2026-12-30T23:59:59Z"
    assert "moved on by the 5 working day(s)" in after["review_assessment"]["note"]
