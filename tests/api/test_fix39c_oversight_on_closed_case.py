"""An oversight entry standing for a step on a closed case (attack 37, ATTACK37-8): it is the
step's closing act, as a completion or waiver is, and its step decides, as for them. One
recorded missed at the closure, reviewed before the closure and typed in after it, is corrected
(done at its own time, on time if by the deadline), where it was 409 ``case-closed`` while a
completion of the same date was 200; dated at the closure or after, 409 ``step-missed`` with
``need_ended_at``, as a completion; one the closure set aside (superseded), the race's 409, as a
completion. An entry standing for no step is still 409 ``case-closed``, as a judgement dated
before the closure is: the closed case is no longer managed here until it is reopened.

Wokingham, Management oversight: "Management oversight will include the following. ...
Monthly line supervision, including case discussion, at least monthly." (W30, the case's line
manager, every month from the child's first judgement; the pack lets an oversight entry stand
for it.)
"""

from __future__ import annotations

from typing import Any

from tests.api.integrity_support import (
    assert_problem,
    complete_typed_late,
    corrected_to_done,
    judge,
    patch_case,
    steps_of,
    the_step,
    timeliness_row,
)
from tests.conftest import Tenant

CLOSED = "2026-08-20T12:00:00+01:00"  # Thursday 20 August 2026, 11:00 UTC


async def _swb_high_closed(t: Tenant, closed_at: str) -> str:
    """A Wokingham prevention case (child in need) opened Monday 1 June 2026 09:00 BST, SWB
    judged high on Tuesday 2 June 10:00 BST (W30's supervision due Thursday 2 July 10:00
    BST), closed at ``closed_at``. Its id."""
    case_id = str((await t.open_case(opened_at="2026-06-01T09:00:00+01:00",
                                     intervention="prevention", csc_status="cin"))["data"]["id"])
    await judge(t, case_id, "swb", "high", "2026-06-02T10:00:00+01:00")
    r = await patch_case(t, case_id, {"closed_at": closed_at, "closure_reason": "ended"})
    assert r.status_code == 200, r.text
    return case_id


async def _oversee(t: Tenant, case_id: str, at: str, step_id: str | None) -> Any:
    body: dict[str, Any] = {"note": "supervised", "occurred_at": at}
    if step_id is not None:
        body["satisfies_step_id"] = step_id
    return await t.client.post(f"/v1/cases/{case_id}/oversight", json=body,
                               headers=t.auth("line_manager"))


async def test_W30_ATTACK37_8_supervision_by_oversight_before_the_closure_typed_in_after_it(
        wokingham: Tenant) -> None:
    """Wokingham, Management oversight: "Monthly line supervision, including case discussion,
    at least monthly" (W30, line manager; an oversight entry may stand for it). SWB high on
    Tuesday 2 June 2026: supervision due Thursday 2 July 10:00 BST. The case is closed as of
    Thursday 20 August 12:00 BST with it undone: missed. The line manager supervised on
    Wednesday 1 July 12:00 BST and records the oversight entry for it after the closure: the
    step is done on time (July: due 1, on time 1, missed 0), as a completion of that date is,
    where the entry was 409 ``case-closed``. Entries dated at the closure or after are 409
    ``step-missed`` with ``need_ended_at``, the answer a completion of the same date gets, and
    nothing is recorded; an entry standing for no step, dated while the case was open, is 409
    ``case-closed``, as a judgement of that date is."""
    t = wokingham
    case_id = await _swb_high_closed(t, CLOSED)
    supervision = the_step(await steps_of(t, case_id, "missed"), "monthly_line_supervision")
    assert (supervision["actor"], supervision["due_at"], supervision["policy"]["rule"],
            supervision["policy"]["ref"]) == (
        "line_manager", "2026-07-02T09:00:00Z", "W30", "Management oversight")
    for at in (CLOSED, "2026-08-25T10:00:00+01:00"):
        by_entry = assert_problem(await _oversee(t, case_id, at, supervision["id"]), 409)
        by_completion = assert_problem(
            await complete_typed_late(t, supervision["id"], at, "line_manager"), 409)
        assert by_entry["type"].endswith("/step-missed"), by_entry
        assert (by_entry["type"], by_entry["need_ended_at"]) == (
            by_completion["type"], by_completion["need_ended_at"]) == (
            by_completion["type"], "2026-08-20T11:00:00Z")
    # Not standing for a step, the entry is an act on the closed case like any other.
    for refused in (await _oversee(t, case_id, "2026-07-01T12:00:00+01:00", None),
                    await t.client.post(f"/v1/cases/{case_id}/judgements", json={
                        "domain": "swb", "level": "medium", "victims": ["public"],
                        "occurred_at": "2026-07-01T12:00:00+01:00"},
                        headers=t.auth("case_holder"))):
        body = assert_problem(refused, 409)
        assert body["type"].endswith("/case-closed"), body
    r = await t.client.get(f"/v1/cases/{case_id}/oversight", headers=t.auth("line_manager"))
    assert r.json()["data"] == []

    r = await _oversee(t, case_id, "2026-07-01T12:00:00+01:00", supervision["id"])
    assert r.status_code == 201, r.text
    assert r.json()["data"]["satisfies_step_id"] == supervision["id"]
    step = await corrected_to_done(t, case_id, supervision["id"])
    assert (step["completed_at"], step["satisfied_by"]["type"], step["due_at"]) == (
        "2026-07-01T11:00:00Z", "oversight", "2026-07-02T09:00:00Z")
    assert await timeliness_row(t, "W30", "2026-07-01", "2026-07-31") == (1, 1, 0, 0)
    # In time order the next month's supervision arose from it (due Saturday 1 August 12:00
    # BST), fell due while the case was open, and the closure found it undone: missed.
    [following] = [s for s in await steps_of(t, case_id, "missed")
                   if s["code"] == "monthly_line_supervision"]
    assert following["due_at"] == "2026-08-01T11:00:00Z", following
    assert "monthly_line_supervision" not in {s["code"] for s in await steps_of(t, case_id)}


async def test_W30_ATTACK37_8_oversight_of_a_step_the_closure_set_aside_answers_as_completion(
        wokingham: Tenant) -> None:
    """Wokingham, Management oversight: "Monthly line supervision, including case discussion,
    at least monthly" (W30). SWB high on Tuesday 2 June 2026 (supervision due Thursday 2 July
    10:00 BST); the case is closed on Friday 19 June 12:00 BST, before it was due: the closure
    sets it aside (superseded), nothing owed. An oversight entry dated Wednesday 10 June
    standing for it gets the answer a completion of that date gets (409
    ``conflicting-transition``: it is not open), where it was ``case-closed``."""
    t = wokingham
    case_id = await _swb_high_closed(t, "2026-06-19T12:00:00+01:00")
    [supervision] = [s for s in await steps_of(t, case_id, "superseded")
                     if s["code"] == "monthly_line_supervision"]
    assert (supervision["due_at"], supervision["policy"]["rule"],
            supervision["satisfied_by"]["type"]) == (
        "2026-07-02T09:00:00Z", "W30", "case_closure")
    at = "2026-06-10T12:00:00+01:00"
    by_entry = assert_problem(await _oversee(t, case_id, at, supervision["id"]), 409)
    by_completion = assert_problem(
        await complete_typed_late(t, supervision["id"], at, "line_manager"), 409)
    assert by_entry["type"] == by_completion["type"], (by_entry, by_completion)
    assert by_entry["type"].endswith("/conflicting-transition"), by_entry
    r = await t.client.get(f"/v1/cases/{case_id}/oversight", headers=t.auth("line_manager"))
    assert r.json()["data"] == []


