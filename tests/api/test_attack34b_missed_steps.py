"""A step already late when the need for it ended was missed, not superseded (ATTACK34B-7).

Somerset 2023, 4.5 (S11): "It is the responsibility of line managers to review all cases where
there is a High or Very High ROSH and/or Safety and Well-Being rating with case holders **at
least monthly**". 9 (S41): "this list will be discussed monthly in supervision between the YJT
Strategic Manager and the Operations Manager". Catalogue, ``every 1m``: the next is due one
month after the act that completed the last occurrence; "When the condition that created a
step stops holding ... open steps that only that condition justified are closed as
``superseded``". A review whose month had already passed undone when the rating was lowered
was missed: it stays on record as ``missed`` (status, timeline, audit, outbox) and counts late
in the timeliness report; only a step not yet due when its need ended is superseded. An act at
the deadline itself is in time.
"""

from __future__ import annotations

from typing import Any

from tests.api.integrity_support import (
    audit_of,
    heard_by_marp,
    judge,
    on_marp_agenda,
    outbox_types,
    patch_case,
    steps_of,
    the_step,
)
from tests.api.management import complete, report
from tests.conftest import Tenant


async def _rows(t: Tenant, start: str, end: str) -> dict[str, dict[str, Any]]:
    """The timeliness report's rows by rule for the period, as a chair reads it."""
    r = await report(t, **{"from": start, "to": end, "group_by": "rule"})
    assert r.status_code == 200, r.text
    return {row["rule"]: row for row in r.json()["data"]["rows"]}


def _figures(row: dict[str, Any]) -> tuple[int, int, int, int, int, float | None]:
    return (row["due"], row["on_time"], row["late"], row["missed"], row["open_overdue"],
            row["on_time_rate"])


async def _timeline(t: Tenant, case_id: str) -> list[dict[str, Any]]:
    r = await t.client.get(f"/v1/cases/{case_id}/timeline", params={"limit": 200},
                           headers=t.auth("line_manager"))
    assert r.status_code == 200, r.text
    return r.json()["data"]  # type: ignore[no-any-return]


async def _high_on_31_january(t: Tenant) -> str:
    """A Somerset case opened Monday 5 January 2026, ROSH high on Saturday 31 January 10:00
    GMT: S11's review and S41's list discussion both due Saturday 28 February 10:00 (a month
    on, clamped to the month's end). Its id."""
    case_id = str((await t.open_case(opened_at="2026-01-05T09:00:00Z"))["data"]["id"])
    body = await judge(t, case_id, "rosh", "high", "2026-01-31T10:00:00Z")
    for code in ("monthly_manager_review", "discuss_register_monthly"):
        assert the_step(body["next_steps"], code)["due_at"] == "2026-02-28T10:00:00Z"
    return case_id


async def test_S11_S41_overdue_reviews_lowered_by_the_holder_are_missed(
        somerset: Tenant) -> None:
    """High on 31 January 2026; neither the February review (4.5) nor the list discussion (9),
    both due Saturday 28 February 10:00 GMT, is done; the case holder lowers ROSH to medium on
    Monday 16 March 10:00. Both are missed (due 28 February), not superseded: the report for
    February counts each due 1, late 1, missed 1, on-time rate 0; the timeline shows each
    missed at the lowering; audited and announced ``step.missed``. The MARP referral (S7, due
    at the next panel, none booked: not late) is superseded."""
    case_id = await _high_on_31_january(somerset)
    await judge(somerset, case_id, "rosh", "medium", "2026-03-16T10:00:00Z")
    missed = {s["code"]: s for s in await steps_of(somerset, case_id, "missed")}
    assert sorted(missed) == ["discuss_register_monthly", "monthly_manager_review"]
    assert {(s["policy"]["rule"], s["due_at"]) for s in missed.values()} == {
        ("S11", "2026-02-28T10:00:00Z"), ("S41", "2026-02-28T10:00:00Z")}
    superseded = {s["code"] for s in await steps_of(somerset, case_id, "superseded")}
    assert "monthly_manager_review" not in superseded
    assert "discuss_register_monthly" not in superseded
    assert "refer_to_panel" in superseded
    rows = await _rows(somerset, "2026-02-01", "2026-02-28")
    assert _figures(rows["S11"]) == (1, 0, 1, 1, 0, 0.0)
    assert _figures(rows["S41"]) == (1, 0, 1, 1, 0, 0.0)
    ended = sorted((e["details"]["code"], e["at"]) for e in await _timeline(somerset, case_id)
                   if e["kind"] == "step" and e["action"] == "missed")
    assert ended == [("discuss_register_monthly", "2026-03-16T10:00:00Z"),
                     ("monthly_manager_review", "2026-03-16T10:00:00Z")]
    audit = [e["action"] for e in await audit_of(somerset, case_id)]
    assert audit.count("step.missed") == 2
    assert (await outbox_types(somerset.settings, case_id)).count("step.missed") == 2


async def test_S11_review_not_yet_due_when_lowered_at_its_deadline_is_superseded(
        somerset: Tenant) -> None:
    """High on 31 January 2026; the line manager reviews on Friday 27 February 10:00 GMT (on
    time), so the next review is due Friday 27 March 10:00 GMT; the holder lowers ROSH to
    medium at that very instant. The need ended at the deadline, not after it: the March review
    is superseded, not missed, and February's counts on time (due 1, on time 1)."""
    case_id = await _high_on_31_january(somerset)
    first = the_step(await steps_of(somerset, case_id), "monthly_manager_review")
    answer = await complete(somerset, first, "2026-02-27T10:00:00Z", role="line_manager")
    second = the_step(answer["next_steps"], "monthly_manager_review")
    assert second["due_at"] == "2026-03-27T10:00:00Z"
    await judge(somerset, case_id, "rosh", "medium", "2026-03-27T10:00:00Z")
    assert "monthly_manager_review" not in {
        s["code"] for s in await steps_of(somerset, case_id, "missed")}
    superseded = the_step([s for s in await steps_of(somerset, case_id, "superseded")
                           if s["id"] == second["id"]], "monthly_manager_review")
    assert superseded["due_at"] == "2026-03-27T10:00:00Z"
    rows = await _rows(somerset, "2026-02-01", "2026-03-31")
    assert _figures(rows["S11"]) == (1, 1, 0, 0, 0, 1.0)


async def test_S20_review_held_on_its_due_date_that_lowers_is_done_on_time_and_S11_missed(
        somerset: Tenant) -> None:
    """7.1.6 "the panel will agree and then book a provisional review date"; 7.2.1 a lowering
    from High "must be approved by the panel"; 4.3 "Should a case at MARP be reclassified as
    medium, the case will be de-registered". High on 31 January 2026; the MARP hears the case
    on Tuesday 10 February and books its review for Tuesday 10 March. The review MARP sits on
    10 March 10:00 GMT and lowers ROSH to medium at 11:00: the booked review (S20) is done on
    time at the sitting (not superseded, not lapsed); the February review and list discussion
    (due 28 February, undone) are missed at the panel's decision; the case leaves the
    register."""
    case_id = await _high_on_31_january(somerset)
    heard = await heard_by_marp(somerset, case_id, sits="2026-02-10T10:00:00+00:00",
                                review_date="2026-03-10", rosh_level="high")
    review = the_step(heard["next_steps"], "attend_panel_review")
    assert review["due_at"] == "2026-03-10T23:59:59Z"
    panel, item = await on_marp_agenda(somerset, case_id, "2026-03-10T10:00:00+00:00")
    r = await somerset.client.post(
        f"/v1/panels/{panel}/items/{item}/decision",
        json={"rosh_level": "medium", "actions": [], "minutes": "Reduced to medium",
              "occurred_at": "2026-03-10T11:00:00+00:00"},
        headers=somerset.auth("chair", "chair-1"))
    assert r.status_code == 200, r.text
    done = the_step([s for s in await steps_of(somerset, case_id, "done")
                     if s["id"] == review["id"]], "attend_panel_review")
    assert (done["due_at"], done["completed_at"]) == ("2026-03-10T23:59:59Z",
                                                      "2026-03-10T11:00:00Z")
    missed = {(s["policy"]["rule"], s["due_at"])
              for s in await steps_of(somerset, case_id, "missed")}
    # And the views (6.2, "before the initial panel"), never sought before the MARP of 10
    # February sat: missed at that sitting (fix36e).
    assert missed == {("S11", "2026-02-28T10:00:00Z"), ("S41", "2026-02-28T10:00:00Z"),
                      ("S8", "2026-02-10T10:00:00Z")}
    rows = await _rows(somerset, "2026-02-01", "2026-03-31")
    assert _figures(rows["S20"]) == (1, 1, 0, 0, 0, 1.0)
    assert _figures(rows["S11"]) == (1, 0, 1, 1, 0, 0.0)
    r = await somerset.client.get(f"/v1/cases/{case_id}", headers=somerset.auth("chair"))
    assert r.json()["data"]["on_register"] is False


async def test_S11_overdue_review_at_the_childs_death_is_missed(somerset: Tenant) -> None:
    """12: a death "whilst relevant to our service" ends the work with the child (the pack's
    ``ends_steps``). High on 31 January 2026; the February review (due 28 February 10:00 GMT)
    undone when the death is recorded as of Monday 2 March 09:00: missed, counted late."""
    case_id = await _high_on_31_january(somerset)
    r = await somerset.client.post(f"/v1/cases/{case_id}/events",
                                   json={"type": "death", "occurred_at": "2026-03-02T09:00:00Z"},
                                   headers=somerset.auth("case_holder"))
    assert r.status_code == 201, r.text
    review = the_step(await steps_of(somerset, case_id, "missed"), "monthly_manager_review")
    assert review["due_at"] == "2026-02-28T10:00:00Z"
    assert _figures((await _rows(somerset, "2026-02-01", "2026-02-28"))["S11"]) == (
        1, 0, 1, 1, 0, 0.0)


async def test_W30_overdue_supervision_missed_at_closure_and_reinstated_at_reopening(
        wokingham: Tenant) -> None:
    """Wokingham, Management oversight: "Monthly line supervision, including case discussion,
    at least monthly" (W30, from the child's first judgement, every month while the case is
    open). A prevention case's SWB judged low on Friday 30 October 2026 11:00 GMT (the clocks
    went back on the 25th): supervision due Monday 30 November 11:00 GMT. Undone when the case
    is closed as of Tuesday 1 December 09:00: missed (report for November: due 1, late 1,
    missed 1). Reopened on Wednesday 2 December 09:00 (closed in error): the same step is open
    again with its deadline, overdue (late 0, missed 0, open overdue 1): counted once."""
    case_id = str((await wokingham.open_case(opened_at="2026-10-26T09:00:00Z",
                                             intervention="prevention"))["data"]["id"])
    body = await judge(wokingham, case_id, "swb", "low", "2026-10-30T11:00:00Z")
    supervision = the_step(body["next_steps"], "monthly_line_supervision")
    assert supervision["due_at"] == "2026-11-30T11:00:00Z"
    r = await patch_case(wokingham, case_id, {"closed_at": "2026-12-01T09:00:00Z",
                                              "closure_reason": "Intervention completed"})
    assert r.status_code == 200, r.text
    missed = the_step(await steps_of(wokingham, case_id, "missed"), "monthly_line_supervision")
    assert (missed["id"], missed["due_at"]) == (supervision["id"], "2026-11-30T11:00:00Z")
    assert _figures((await _rows(wokingham, "2026-11-01", "2026-11-30"))["W30"]) == (
        1, 0, 1, 1, 0, 0.0)
    r = await patch_case(wokingham, case_id, {"closed_at": None, "reopen_reason": "Closed in error",
                                              "occurred_at": "2026-12-02T09:00:00Z"})
    assert r.status_code == 200, r.text
    back = the_step(await steps_of(wokingham, case_id), "monthly_line_supervision")
    assert (back["id"], back["due_at"]) == (supervision["id"], "2026-11-30T11:00:00Z")
    assert await steps_of(wokingham, case_id, "missed") == []
    assert _figures((await _rows(wokingham, "2026-11-01", "2026-11-30"))["W30"]) == (
        1, 0, 0, 0, 1, 0.0)


async def test_W19_overdue_level_1_review_missed_when_the_level_changes(
        wokingham: Tenant) -> None:
    """Wokingham, Referrals into MAPPA (W19): a MAPPA level 1 case is reviewed at the monthly
    High-Risk Panel ("every 1m" while the level holds). Level 1 recorded on Tuesday 1 September
    2026 10:00 BST: review due Thursday 1 October 10:00 BST. Not held; the level is raised to 2
    on Monday 12 October 10:00 BST: the review was missed (September's report: due 0; October's:
    due 1, late 1, missed 1)."""
    case_id = str((await wokingham.open_case(opened_at="2026-08-24T09:00:00+01:00",
                                             mappa_category=2))["data"]["id"])
    r = await patch_case(wokingham, case_id, {"mappa_level": 1,
                                              "occurred_at": "2026-09-01T10:00:00+01:00"})
    assert r.status_code == 200, r.text
    review = the_step(r.json()["next_steps"], "high_risk_panel_review")
    assert review["due_at"] == "2026-10-01T09:00:00Z"
    r = await patch_case(wokingham, case_id, {"mappa_level": 2,
                                              "occurred_at": "2026-10-12T10:00:00+01:00"})
    assert r.status_code == 200, r.text
    missed = the_step(await steps_of(wokingham, case_id, "missed"), "high_risk_panel_review")
    assert (missed["id"], missed["due_at"]) == (review["id"], "2026-10-01T09:00:00Z")
    assert _figures((await _rows(wokingham, "2026-10-01", "2026-10-31"))["W19"]) == (
        1, 0, 1, 1, 0, 0.0)


async def test_S11_transfer_in_review_missed_when_somerset_rates_medium(
        somerset: Tenant) -> None:
    """13.3 with 4.5 (S11 on a transfer in): a child transferred in on Monday 29 June 2026 10:00
    BST at High ROSH from another YJT is owed the monthly review from the transfer (due
    Wednesday 29 July 10:00 BST). Undone when Somerset's own judgement rates ROSH medium on
    Monday 31 August (the late-summer bank holiday) 10:00 BST: the review was missed."""
    case_id = str((await somerset.open_case(opened_at="2026-06-29T09:00:00+01:00"))
                  ["data"]["id"])
    r = await somerset.client.post(f"/v1/cases/{case_id}/events", json={
        "type": "transfer_in", "occurred_at": "2026-06-29T10:00:00+01:00",
        "incoming_ratings": {"rosh": "high"}},
        headers=somerset.auth("case_holder"))
    assert r.status_code == 201, r.text
    review = the_step(r.json()["next_steps"], "monthly_manager_review")
    assert review["due_at"] == "2026-07-29T09:00:00Z"
    await judge(somerset, case_id, "rosh", "medium", "2026-08-31T10:00:00+01:00")
    missed = the_step(await steps_of(somerset, case_id, "missed"), "monthly_manager_review")
    assert (missed["id"], missed["due_at"]) == (review["id"], "2026-07-29T09:00:00Z")
    assert _figures((await _rows(somerset, "2026-07-01", "2026-07-31"))["S11"]) == (
        1, 0, 1, 1, 0, 0.0)
