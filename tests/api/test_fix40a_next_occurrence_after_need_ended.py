"""A recurring step's next occurrence owed from a review corrected after the case's need ended
(attack 38, ATTACK38-1, ATTACK38-3). A monthly review recorded missed at a closure (or a
child's death) and done before it, typed in after, is corrected (fix37b); in time order the
next month's review was owed from that act until the closure or death. It is raised, missed
at that end when it fell due before it (superseded when not yet due), and an act dated before
the end corrects it as it corrected the first (its ``need_ended_at``: the closure's or the
death's date; dated then or after: 409 ``step-missed`` with ``need_ended_at``), and so on
along the chain; no occurrence is owed after the end. Before: the next month's review raised
missed by a correction after a closure was 409 ``step-missed`` without ``need_ended_at`` for
any act (a month supervised before the closure stayed missed for good and counted late), and
after a death no next month was raised at all (the supervision owed while the child lived
vanished).

Wokingham, Management oversight: "Management oversight will include the following. ...
Monthly line supervision, including case discussion, at least monthly." (W30, the case's line
manager, every month from the child's first judgement, "every 1m": one month after the act
that completed the last occurrence; an oversight entry may stand for it.) Somerset 2023, 4.5:
"It is the responsibility of line managers to review all cases where there is a High or Very
High ROSH and/or Safety and Well-Being rating with case holders at least monthly" (S11).
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.integrity_support import (
    assert_problem,
    complete_typed_late,
    corrected_to_done,
    heard_by_marp,
    judge,
    patch_case,
    steps_of,
    timeliness_row,
)
from tests.conftest import Tenant

END = "2026-08-20T12:00:00+01:00"  # Thursday 20 August 2026 12:00 BST
END_Z = "2026-08-20T11:00:00Z"
W30 = "monthly_line_supervision"
S11 = "monthly_manager_review"


async def _end(t: Tenant, case_id: str, how: str) -> str | None:
    """End the need at :data:`END`: the case closed (``closure``) or the child's death recorded
    (``death``); the death event's id."""
    if how == "closure":
        r = await patch_case(t, case_id, {"closed_at": END, "closure_reason": "Order ended"})
        assert r.status_code == 200, r.text
        return None
    r = await t.client.post(f"/v1/cases/{case_id}/events",
                            json={"type": "death", "occurred_at": END},
                            headers=t.auth("case_holder"))
    assert r.status_code == 201, r.text
    return str(r.json()["data"]["id"])


async def _w30_case(t: Tenant, how: str) -> tuple[str, str | None]:
    """A Wokingham prevention case (child in need) opened Monday 1 June 2026 09:00 BST, SWB
    judged high on Tuesday 2 June 10:00 BST (W30's supervision due Thursday 2 July 10:00
    BST), its need ended at :data:`END` by ``how``: the case's id and the death's."""
    case_id = str((await t.open_case(opened_at="2026-06-01T09:00:00+01:00",
                                     intervention="prevention", csc_status="cin"))["data"]["id"])
    await judge(t, case_id, "swb", "high", "2026-06-02T10:00:00+01:00")
    return case_id, await _end(t, case_id, how)


async def _of(t: Tenant, case_id: str, code: str, status: str) -> list[dict[str, Any]]:
    return [s for s in await steps_of(t, case_id, status) if s["code"] == code]


async def _act(t: Tenant, case_id: str, step_id: str, at: str, via: str) -> Any:
    """The line manager's act for the step dated ``at``: a completion or an oversight entry."""
    if via == "complete":
        return await complete_typed_late(t, step_id, at, "line_manager")
    return await t.client.post(f"/v1/cases/{case_id}/oversight", json={
        "note": "Discussed in supervision", "satisfies_step_id": step_id, "occurred_at": at},
        headers=t.auth("line_manager"))


async def _the_missed(t: Tenant, case_id: str, code: str, due: str) -> dict[str, Any]:
    """The one step of ``code`` recorded missed and not yet corrected, due at ``due``."""
    [step] = await _of(t, case_id, code, "missed")
    assert step["due_at"] == due, step
    return step


async def _refused_at_and_after_end(t: Tenant, case_id: str, step_id: str, via: str) -> None:
    for at in (END, "2026-08-21T10:00:00+01:00"):
        body = assert_problem(await _act(t, case_id, step_id, at, via), 409)
        assert body["type"].endswith("/step-missed"), body
        assert body["need_ended_at"] == END_Z, body


def _ended_by(step: dict[str, Any], how: str, death: str | None) -> None:
    """The step was set aside by the closure, or ended by the death (linked to it)."""
    if how == "closure":
        assert step["satisfied_by"]["type"] == "case_closure", step
    else:
        assert (step["satisfied_by"]["type"], step["satisfied_by"]["id"]) == ("event", death)


@pytest.mark.parametrize("how", ["closure", "death"])
@pytest.mark.parametrize(("second", "via", "on_time", "next_due"), [
    (("2026-07-24T10:00:00+01:00", "2026-07-24T09:00:00Z"), "complete", True,
     "2026-08-24T09:00:00Z"),
    (("2026-08-10T10:00:00+01:00", "2026-08-10T09:00:00Z"), "oversight", False,
     "2026-09-10T09:00:00Z"),
])
async def test_W30_ATTACK38_next_month_owed_before_the_end_is_missed_and_correctable(
        wokingham: Tenant, how: str, second: tuple[str, str], via: str, on_time: bool,
        next_due: str) -> None:
    """Wokingham, Management oversight: "Monthly line supervision, including case discussion,
    at least monthly" (W30). SWB high on Tuesday 2 June 2026: supervision due Thursday 2 July
    10:00 BST; the case is closed (or the child's death recorded) on Thursday 20 August 12:00
    BST with it undone: missed. The line manager's completion dated Thursday 25 June, typed
    in after, corrects it, and in time order the next month's supervision arose from it, due
    Saturday 25 July 10:00 BST, fell due while the need lasted and was still undone at the
    end: missed, its need ended at the end. A completion dated Friday 24 July (on time) or an
    oversight entry dated Monday 10 August (late), both before the end, corrects it in turn
    (was 409 ``step-missed`` without ``need_ended_at`` after a closure; after a death no next
    month was raised at all); acts dated at the end or after are 409 ``step-missed`` with
    ``need_ended_at``; the month after that, due after the end, is not owed (superseded)."""
    t = wokingham
    case_id, death = await _w30_case(t, how)
    first = await _the_missed(t, case_id, W30, "2026-07-02T09:00:00Z")
    r = await complete_typed_late(t, first["id"], "2026-06-25T10:00:00+01:00", "line_manager")
    assert r.status_code == 200, r.text
    await corrected_to_done(t, case_id, first["id"])

    following = await _the_missed(t, case_id, W30, "2026-07-25T09:00:00Z")
    assert following["id"] != first["id"]
    _ended_by(following, how, death)
    assert await _of(t, case_id, W30, "open") == []
    assert await _of(t, case_id, W30, "superseded") == []
    await _refused_at_and_after_end(t, case_id, following["id"], via)

    r = await _act(t, case_id, following["id"], second[0], via)
    assert r.status_code == (200 if via == "complete" else 201), r.text
    step = await corrected_to_done(t, case_id, following["id"])
    assert (step["completed_at"], step["due_at"]) == (second[1], "2026-07-25T09:00:00Z")
    assert await timeliness_row(t, "W30", "2026-07-01", "2026-07-31") == (
        2, 2 if on_time else 1, 0 if on_time else 1, 0)
    assert await _of(t, case_id, W30, "missed") == []
    assert await _of(t, case_id, W30, "open") == []
    [after_end] = await _of(t, case_id, W30, "superseded")
    assert after_end["due_at"] == next_due, after_end
    _ended_by(after_end, how, death)


@pytest.mark.parametrize("how", ["closure", "death"])
async def test_W30_ATTACK38_a_chain_of_months_corrected_before_the_end(
        wokingham: Tenant, how: str) -> None:
    """Wokingham, Management oversight: "Monthly line supervision, including case discussion,
    at least monthly" (W30). As above (SWB high 2 June 2026, supervision due 2 July, the need
    ended on Thursday 20 August 12:00 BST by a closure or a death, corrected by a completion
    dated 25 June): the July supervision (due 25 July) is corrected by an oversight entry
    dated Friday 10 July; the third month, owed from it, due Monday 10 August 10:00 BST, fell
    due before the end: missed, correctable as the second was (409 ``step-missed`` with
    ``need_ended_at`` at the end; corrected by a completion dated Friday 14 August); the
    fourth, due Monday 14 September, after the end, is not owed."""
    t = wokingham
    case_id, death = await _w30_case(t, how)
    first = await _the_missed(t, case_id, W30, "2026-07-02T09:00:00Z")
    r = await complete_typed_late(t, first["id"], "2026-06-25T10:00:00+01:00", "line_manager")
    assert r.status_code == 200, r.text
    second = await _the_missed(t, case_id, W30, "2026-07-25T09:00:00Z")
    r = await _act(t, case_id, second["id"], "2026-07-10T10:00:00+01:00", "oversight")
    assert r.status_code == 201, r.text
    await corrected_to_done(t, case_id, second["id"])

    third = await _the_missed(t, case_id, W30, "2026-08-10T09:00:00Z")
    _ended_by(third, how, death)
    await _refused_at_and_after_end(t, case_id, third["id"], "complete")
    r = await _act(t, case_id, third["id"], "2026-08-14T10:00:00+01:00", "complete")
    assert r.status_code == 200, r.text
    step = await corrected_to_done(t, case_id, third["id"])
    assert step["completed_at"] == "2026-08-14T09:00:00Z"
    assert await timeliness_row(t, "W30", "2026-07-01", "2026-08-31") == (3, 2, 1, 0)
    assert await _of(t, case_id, W30, "missed") == []
    assert await _of(t, case_id, W30, "open") == []
    [fourth] = await _of(t, case_id, W30, "superseded")
    assert fourth["due_at"] == "2026-09-14T09:00:00Z", fourth
    _ended_by(fourth, how, death)


@pytest.mark.parametrize("how", ["closure", "death"])
async def test_S11_ATTACK38_month_end_review_owed_before_the_end_is_correctable(
        somerset: Tenant, how: str) -> None:
    """Somerset 4.5: line managers "review all cases where there is a High or Very High ROSH
    ... with case holders at least monthly" (S11, every month). ROSH high on Thursday 30 April
    2026 10:00 BST (the MARP hears it on Tuesday 12 May, booking its review for 8 September):
    the review due Saturday 30 May 10:00 BST; the case is closed (or the child's death
    recorded) on Thursday 20 August 12:00 BST with it undone: missed. Its review held on
    Sunday 31 May, typed in after, corrects it (late); the next month's, owed from it, due
    Tuesday 30 June 10:00 BST (a month after the last day of May), is missed at the end and
    corrected by a review dated Friday 31 July (late); the one after, due Monday 31 August
    (the Summer bank holiday), after the end, is not owed."""
    t = somerset
    case_id = str((await t.open_case(opened_at="2026-04-27T09:00:00+01:00"))["data"]["id"])
    await judge(t, case_id, "rosh", "high", "2026-04-30T10:00:00+01:00")
    await heard_by_marp(t, case_id, sits="2026-05-12T10:00:00+01:00",
                        review_date="2026-09-08", rosh_level="high")
    death = await _end(t, case_id, how)
    first = await _the_missed(t, case_id, S11, "2026-05-30T09:00:00Z")
    r = await complete_typed_late(t, first["id"], "2026-05-31T10:00:00+01:00", "line_manager")
    assert r.status_code == 200, r.text
    await corrected_to_done(t, case_id, first["id"])

    following = await _the_missed(t, case_id, S11, "2026-06-30T09:00:00Z")
    _ended_by(following, how, death)
    await _refused_at_and_after_end(t, case_id, following["id"], "complete")
    r = await complete_typed_late(t, following["id"], "2026-07-31T10:00:00+01:00", "line_manager")
    assert r.status_code == 200, r.text
    await corrected_to_done(t, case_id, following["id"])
    assert await timeliness_row(t, "S11", "2026-05-01", "2026-06-30") == (2, 0, 2, 0)
    assert await _of(t, case_id, S11, "missed") == []
    assert await _of(t, case_id, S11, "open") == []
    [after_end] = await _of(t, case_id, S11, "superseded")
    assert after_end["due_at"] == "2026-08-31T09:00:00Z", after_end
    _ended_by(after_end, how, death)


async def _s11_record(t: Tenant, case_id: str) -> list[tuple[str, str, str | None]]:
    """The case's S11 reviews as (status, due_at, completed_at), in due order."""
    found = []
    for status in ("open", "done", "waived", "missed", "superseded"):
        found += [(status, s["due_at"], s["completed_at"]) for s in await _of(t, case_id, S11,
                                                                               status)]
    return sorted(found, key=lambda row: (row[1], row[0]))


async def _high_case(t: Tenant) -> str:
    """A Somerset case opened Monday 1 June 2026 09:00 BST, ROSH high on Tuesday 2 June
    10:00 BST (S11's review due Thursday 2 July 10:00 BST). Its id."""
    case_id = str((await t.open_case(opened_at="2026-06-01T09:00:00+01:00"))["data"]["id"])
    await judge(t, case_id, "rosh", "high", "2026-06-02T10:00:00+01:00")
    return case_id


async def test_S11_ATTACK38_reviews_owed_before_the_lowering_as_typed_in_order(
        somerset: Tenant) -> None:
    """Somerset 4.5: line managers "review all cases where there is a High or Very High ROSH
    ... with case holders at least monthly" (S11, while ROSH or SWB is high). ROSH high on
    Tuesday 2 June 2026 (review due Thursday 2 July 10:00 BST), lowered to medium on Thursday
    20 August 12:00 BST with it undone: missed. Reviews held on Thursday 25 June and Friday 10
    July, typed in after the lowering, give the record they give typed in before it: the
    June and July reviews done, the third (due Monday 10 August 10:00 BST, owed while ROSH
    stayed high) missed at the lowering, and nothing owed after it; the second review was
    raised missed by the first's correction (before: no next review was raised at all), and
    an act for it dated at the lowering is 409 ``step-missed`` with ``need_ended_at``."""
    t = somerset
    typed_after = await _high_case(t)
    await judge(t, typed_after, "rosh", "medium", END)
    first = await _the_missed(t, typed_after, S11, "2026-07-02T09:00:00Z")
    r = await complete_typed_late(t, first["id"], "2026-06-25T10:00:00+01:00", "line_manager")
    assert r.status_code == 200, r.text
    second = await _the_missed(t, typed_after, S11, "2026-07-25T09:00:00Z")
    await _refused_at_and_after_end(t, typed_after, second["id"], "complete")
    r = await complete_typed_late(t, second["id"], "2026-07-10T10:00:00+01:00", "line_manager")
    assert r.status_code == 200, r.text
    await corrected_to_done(t, typed_after, second["id"])

    in_order = await _high_case(t)
    for at in ("2026-06-25T10:00:00+01:00", "2026-07-10T10:00:00+01:00"):
        [step] = await _of(t, in_order, S11, "open")
        r = await complete_typed_late(t, step["id"], at, "line_manager")
        assert r.status_code == 200, r.text
    await judge(t, in_order, "rosh", "medium", END)
    record = await _s11_record(t, in_order)
    assert record == [("done", "2026-07-02T09:00:00Z", "2026-06-25T09:00:00Z"),
                      ("done", "2026-07-25T09:00:00Z", "2026-07-10T09:00:00Z"),
                      ("missed", "2026-08-10T09:00:00Z", None)], record
    assert await _s11_record(t, typed_after) == record
    # Both cases' August reviews, missed (a missed step counts late too).
    assert await timeliness_row(t, "S11", "2026-08-01", "2026-08-31") == (2, 0, 2, 2)


async def test_S11_ATTACK38_a_waiver_before_the_lowering_as_typed_in_order(
        somerset: Tenant) -> None:
    """Somerset 4.5 (S11, "at least monthly"): the occurrence after a waived one keeps the
    waived one's due date (policy-rules ``every 1m``: waiving month after month never leaves
    a case without an overdue review). ROSH high on Tuesday 2 June 2026 (review due Thursday
    2 July 10:00 BST), lowered on Thursday 20 August 12:00 BST. A duty manager's waiver dated
    Friday 10 July, typed in after the lowering, gives the record typed in before it gives:
    the waived review, and the next, due 2 July and still undone at the lowering, missed (was:
    no next review at all)."""
    t = somerset
    records = []
    for typed_first in (False, True):
        case_id = await _high_case(t)
        if not typed_first:
            await judge(t, case_id, "rosh", "medium", END)
        [step] = await _of(t, case_id, S11, "open" if typed_first else "missed")
        r = await t.client.post(f"/v1/next-steps/{step['id']}/waive", json={
            "reason": "Discussed at the team meeting instead",
            "occurred_at": "2026-07-10T10:00:00+01:00"}, headers=t.auth("duty_manager"))
        assert r.status_code == 200, r.text
        if typed_first:
            await judge(t, case_id, "rosh", "medium", END)
        records.append(await _s11_record(t, case_id))
    assert records[0] == records[1] == [
        ("missed", "2026-07-02T09:00:00Z", None),
        ("waived", "2026-07-02T09:00:00Z", "2026-07-10T09:00:00Z")], records
