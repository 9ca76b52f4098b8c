"""A completion dated before the need for a step ended, typed in after the step was recorded
missed (attack 36, ATTACK36-6): it corrects the record (missed -> done at its own time, on
time if by the deadline; audited ``step.done`` with ``was: missed``, announced
``step.completed``, in the timeline at its time, counted in the timeliness report), where it
was refused 409 ``conflicting-transition`` ("another act changed it first"), though nothing
raced. A completion dated then or later is 409 ``step-missed``, saying why.

Somerset 2023, 6.2: "Child and parent/carer views will be sought before the initial panel and
be included in the MARP referral form" (S8). 4.5 (S11): "It is the responsibility of line
managers to review all cases where there is a High or Very High ROSH and/or Safety and
Well-Being rating with case holders **at least monthly**".
"""

from __future__ import annotations

from typing import Any

from tests.api.integrity_support import (
    assert_problem,
    complete_typed_late,
    corrected_to_done,
    heard_by_marp,
    judge,
    patch_case,
    steps_of,
    the_step,
    timeliness_row,
)
from tests.conftest import Tenant


async def _high_on_31_january(t: Tenant) -> str:
    """A Somerset case opened Monday 5 January 2026, ROSH high on Saturday 31 January 10:00
    GMT: S7's MARP referral, S8's views (due at the next MARP), S11's review and S41's list
    discussion (due Saturday 28 February 10:00). Its id."""
    case_id = str((await t.open_case(opened_at="2026-01-05T09:00:00Z"))["data"]["id"])
    await judge(t, case_id, "rosh", "high", "2026-01-31T10:00:00Z")
    return case_id


async def test_S8_ATTACK36_6_views_sought_before_the_marp_typed_in_after_it_are_done_on_time(
        somerset: Tenant) -> None:
    """Somerset 6.2: "Child and parent/carer views will be sought before the initial panel and
    be included in the MARP referral form" (S8, case holder, due at the MARP). The MARP sits
    on Tuesday 10 February 2026 10:00 GMT (decided 11:00) with the views not recorded: S8
    missed at the sitting. The case holder sought them on Monday 9 February 15:00 and types it
    in later: the completion dated then is done on time (was 409 "another act changed it
    first"); one dated after the sitting is 409 ``step-missed``, not the race's type."""
    t = somerset
    case_id = await _high_on_31_january(t)
    await heard_by_marp(t, case_id, sits="2026-02-10T10:00:00+00:00",
                        review_date="2026-03-10", rosh_level="high")
    views = the_step(await steps_of(t, case_id, "missed"), "seek_child_and_carer_views")
    assert (views["actor"], views["due_at"], views["policy"]["rule"],
            views["policy"]["ref"]) == ("case_holder", "2026-02-10T10:00:00Z", "S8", "6.2")
    for late in ("2026-02-10T11:00:00Z", "2026-02-12T09:00:00Z"):
        body = assert_problem(await complete_typed_late(t, views["id"], late, "case_holder"), 409)
        assert body["type"].endswith("/step-missed"), body
        assert "another act" not in body["detail"], body
    r = await complete_typed_late(t, views["id"], "2026-02-09T15:00:00Z", "case_holder")
    assert r.status_code == 200, r.text
    assert r.json()["data"]["status"] == "done"
    step = await corrected_to_done(t, case_id, views["id"])
    assert (step["completed_at"], step["completed_by"], step["due_at"],
            step["satisfied_by"]) == (
        "2026-02-09T15:00:00Z", "case_holder-1", "2026-02-10T10:00:00Z", None)
    assert await timeliness_row(t, "S8", "2026-02-01", "2026-02-28") == (1, 1, 0, 0)
    r = await t.client.get(f"/v1/cases/{case_id}/timeline", params={"limit": 200},
                           headers=t.auth("line_manager"))
    shown = [(e["action"], e["at"]) for e in r.json()["data"]
             if e["kind"] == "step" and e["details"]["code"] == "seek_child_and_carer_views"]
    assert ("done", "2026-02-09T15:00:00Z") in shown, shown
    assert "missed" not in {action for action, _ in shown}, shown
    # Nothing left to correct: done again is the race's 409 (it is done).
    body = assert_problem(await complete_typed_late(
        t, views["id"], "2026-02-09T16:00:00Z", "case_holder"), 409)
    assert body["type"].endswith("/conflicting-transition"), body


async def test_S11_ATTACK36_6_an_overdue_review_done_before_the_lowering_is_done_late(
        somerset: Tenant) -> None:
    """Somerset 4.5: line managers "review all cases where there is a High or Very High ROSH
    ... with case holders at least monthly" (S11, line manager, every month). The February
    review (due Saturday 28 February 10:00 GMT) is undone when the holder lowers ROSH to medium
    on Monday 16 March 10:00: missed. The line manager held it on Tuesday 10 March 10:00 and
    types it in later: done late (due 1, late 1, missed 0), and the next month's review, owed
    from it only while ROSH stayed high, is not left open; one dated at the lowering is 409
    ``step-missed``."""
    t = somerset
    case_id = await _high_on_31_january(t)
    await judge(t, case_id, "rosh", "medium", "2026-03-16T10:00:00Z")
    review = the_step(await steps_of(t, case_id, "missed"), "monthly_manager_review")
    assert (review["actor"], review["due_at"], review["policy"]["rule"],
            review["policy"]["ref"]) == ("line_manager", "2026-02-28T10:00:00Z", "S11", "4.5")
    body = assert_problem(await complete_typed_late(
        t, review["id"], "2026-03-16T10:00:00Z", "line_manager"), 409)
    assert body["type"].endswith("/step-missed"), body
    r = await complete_typed_late(t, review["id"], "2026-03-10T10:00:00Z", "line_manager")
    assert r.status_code == 200, r.text
    step = await corrected_to_done(t, case_id, review["id"])
    assert (step["completed_at"], step["completed_by"]) == ("2026-03-10T10:00:00Z",
                                                            "line_manager-1")
    assert await timeliness_row(t, "S11", "2026-02-01", "2026-02-28") == (1, 0, 1, 0)
    assert "monthly_manager_review" not in {s["code"] for s in await steps_of(t, case_id)}


async def test_W30_ATTACK36_6_supervision_done_before_the_closure_typed_in_after_it(
        wokingham: Tenant) -> None:
    """Wokingham, Management oversight: "Monthly line supervision, including case discussion,
    at least monthly" (W30, line manager, every month from the child's first judgement). SWB
    judged low on Friday 30 October 2026 11:00 GMT: supervision due Monday 30 November 11:00.
    The case is closed as of Tuesday 1 December 09:00 with it recorded undone: missed. The line
    manager held it on Monday 30 November 10:00 and types it in after the closure: done on time
    (November: due 1, on time 1, missed 0), and the next month's, arisen from it, is set aside
    by the closure as in time order; one dated at the closure is 409 ``step-missed``."""
    t = wokingham
    case_id = str((await t.open_case(opened_at="2026-10-26T09:00:00Z",
                                     intervention="prevention"))["data"]["id"])
    await judge(t, case_id, "swb", "low", "2026-10-30T11:00:00Z")
    r = await patch_case(t, case_id, {"closed_at": "2026-12-01T09:00:00Z",
                                      "closure_reason": "Intervention completed"})
    assert r.status_code == 200, r.text
    supervision = the_step(await steps_of(t, case_id, "missed"), "monthly_line_supervision")
    assert (supervision["actor"], supervision["due_at"], supervision["policy"]["rule"]) == (
        "line_manager", "2026-11-30T11:00:00Z", "W30")
    body = assert_problem(await complete_typed_late(
        t, supervision["id"], "2026-12-01T09:00:00Z", "line_manager"), 409)
    assert body["type"].endswith("/step-missed"), body
    r = await complete_typed_late(t, supervision["id"], "2026-11-30T10:00:00Z", "line_manager")
    assert r.status_code == 200, r.text
    step = await corrected_to_done(t, case_id, supervision["id"])
    assert step["completed_at"] == "2026-11-30T10:00:00Z"
    assert await timeliness_row(t, "W30", "2026-11-01", "2026-11-30") == (1, 1, 0, 0)
    # In time order the next month's supervision (due 30 December) arose from it and was set
    # aside by the closure, for a reopening to reinstate.
    assert "monthly_line_supervision" not in {s["code"] for s in await steps_of(t, case_id)}
    [following] = [s for s in await steps_of(t, case_id, "superseded")
                   if s["code"] == "monthly_line_supervision"]
    assert (following["due_at"], following["satisfied_by"]["type"]) == (
        "2026-12-30T10:00:00Z", "case_closure")


async def test_S11_ATTACK36_6_oversight_and_waiver_before_the_lowering_correct_the_miss(
        somerset: Tenant) -> None:
    """Somerset 4.5: "It is the responsibility of line managers to review all cases where
    there is a High or Very High ROSH ... at least monthly"; "the line manager will add
    management oversight on CMS to evidence that the case has been discussed" (S11, line
    manager, satisfiable by an oversight entry). Two cases high on 31 January 2026, their
    February review due Saturday 28 February 10:00 GMT, missed when ROSH is lowered on Monday
    16 March 10:00. The line manager's oversight entry of Tuesday 10 March standing for the
    first's review, and a duty manager's waiver of the second's dated Wednesday 11 March, both
    typed in after the lowering, close them as in time order (done late; waived), where both
    were 409 "another act changed it first"; the same dated at the lowering are 409
    ``step-missed``, nothing recorded."""
    t = somerset
    reviews = []
    for _ in range(2):
        case_id = await _high_on_31_january(t)
        await judge(t, case_id, "rosh", "medium", "2026-03-16T10:00:00Z")
        reviews.append((case_id, the_step(await steps_of(t, case_id, "missed"),
                                          "monthly_manager_review")))
    (case_id, review), (other_id, other) = reviews

    async def oversee(at: str) -> Any:
        return await t.client.post(f"/v1/cases/{case_id}/oversight", json={
            "note": "Discussed with the case holder", "satisfies_step_id": review["id"],
            "occurred_at": at}, headers=t.auth("line_manager"))

    async def waive(at: str) -> Any:
        return await t.client.post(f"/v1/next-steps/{other['id']}/waive", json={
            "reason": "Reviewed at the MARP instead", "occurred_at": at},
            headers=t.auth("duty_manager"))

    for refused in (await oversee("2026-03-16T10:00:00Z"), await waive("2026-03-16T10:00:00Z")):
        body = assert_problem(refused, 409)
        assert body["type"].endswith("/step-missed"), body
    r = await t.client.get(f"/v1/cases/{case_id}/oversight", headers=t.auth("line_manager"))
    assert r.json()["data"] == []
    r = await oversee("2026-03-10T10:00:00Z")
    assert r.status_code == 201, r.text
    step = await corrected_to_done(t, case_id, review["id"])
    assert (step["completed_at"], step["satisfied_by"]["type"]) == ("2026-03-10T10:00:00Z",
                                                                    "oversight")
    r = await waive("2026-03-11T10:00:00Z")
    assert r.status_code == 200, r.text
    [waived] = [s for s in await steps_of(t, other_id, "waived") if s["id"] == other["id"]]
    assert waived["completed_at"] == "2026-03-11T10:00:00Z"
    # The waived review is no longer missed; the occurrence after it keeps its due date (a
    # waiver is not the act the next counts from) and the lowering found it undone: missed,
    # as typed in order (fix40a, ATTACK38's twin; was: no next review at all).
    [following] = [s for s in await steps_of(t, other_id, "missed")
                   if s["code"] == "monthly_manager_review"]
    assert (following["id"] != other["id"], following["due_at"]) == (
        True, "2026-02-28T10:00:00Z"), following
