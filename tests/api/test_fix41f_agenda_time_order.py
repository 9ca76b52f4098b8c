"""Panels' agendas in time order (fix41f: ATTACK40-10, ATTACK40-5, ATTACK40-9).

ATTACK40-10: in Wokingham, a case taken off a High-Risk Panel's agenda undecided owed W7's
request for the panel again, with the deadline of the judgement that first asked for it (two
working days from it: overdue from its creation). The request was made (the listing answered
it) and "Upon a request for a High-Risk Panel meeting, the Team Manager will schedule an ad-hoc
meeting": the Team Manager's W8 hold stays owed until the panel decides, and nothing is asked
of the case worker again (README: "Not in Wokingham, where the Team Manager's W8 hold stays
owed until the panel decides").

ATTACK40-5: Somerset S48 ("attend MARP to discuss the case", 7.1.1) is the initial MARP's
attendance; a MARP's decision keeping the case high books its review (S20). A review listing
typed in before the earlier decision raised S48 beside S20, although by dates the listing came
after that decision; typed the other way round it did not.

ATTACK40-9: the one ``refer_to_panel`` step asked by a very high ROSH (S7) and by a MAPPA
category 1 (S17) was attributed to whichever act was typed first; it is the earliest-dated
act's rule.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.api.act_order_support import book_sitting, decide_item, withdraw_item
from tests.api.fidelity_support import pin
from tests.api.integrity_support import (
    book_panel,
    judge_rosh,
    mappa_message,
    patch_case,
    steps_of,
)
from tests.api.order_support import visible_steps
from tests.conftest import Tenant, make_tenant
from tests.orders import typing_orders


def _panel_steps(steps: list[dict[str, Any]]) -> dict[str, tuple[Any, ...]]:
    """The open panel-request steps as code: (rule, actor, due_at)."""
    return {s["code"]: (s["policy"]["rule"], s["actor"], s["due_at"])
            for s in steps if s["code"] in ("request_high_risk_panel", "hold_high_risk_panel")}


@pytest.mark.parametrize(("now", "judged", "sits", "withdrawn", "hold_due"), [
    # A panel that sat (Tue 27 Oct 2026, the first Tuesday after the clock change), the
    # sitting typed up on 3 Dec; the item deferred at the sitting.
    ((2026, 12, 3, 12, 0), "2026-10-20T10:00:00+01:00", "2026-10-27T10:00:00Z",
     "2026-10-27T12:00:00Z", "2026-11-03T10:00:00Z"),
    # A panel still to come (Tue 15 Dec 2026), the case listed and taken off on 3 Dec.
    ((2026, 12, 3, 12, 0), "2026-12-01T10:00:00Z", "2026-12-15T10:00:00Z", None,
     "2026-12-10T12:00:00Z"),
], ids=["panel-that-sat", "panel-to-come"])
async def test_W7_W8_a_case_taken_off_a_high_risk_panel_is_not_asked_to_request_it_again(
        wokingham: Tenant, monkeypatch: pytest.MonkeyPatch, now: tuple[int, ...], judged: str,
        sits: str, withdrawn: str | None, hold_due: str) -> None:
    """W7/W8 (Wokingham, High Risk Panel): "It will be the responsibility of the case worker or
    their line manager to request a High-Risk Panel within two working days of 1. Assessing a
    child as high or very high ROSH"; "Upon a request for a High-Risk Panel meeting, the Team
    Manager will schedule an ad-hoc meeting". The case judged high, put on a High-Risk Panel's
    agenda (the request made: W7 done) and taken off it undecided: the Team Manager's W8 hold
    stays owed (dated a week from the request), and W7 is not owed again (before: it came back
    with its first deadline, two working days from the judgement, overdue from its creation)."""
    t = wokingham
    pin(monkeypatch, *now)
    case_id = str((await t.open_case(opened_at="2026-10-01T09:00:00+01:00"))["data"]["id"])
    await judge_rosh(t, case_id, "high", judged)
    sitting = await book_sitting(t, case_id, "high_risk_panel", sits)
    before = _panel_steps(await steps_of(t, case_id))
    assert before == {"hold_high_risk_panel": ("W8", "chair", hold_due)}
    r = await withdraw_item(t, sitting, "deferred", withdrawn)
    assert r.status_code == 200, r.text
    assert _panel_steps(await steps_of(t, case_id)) == before
    done = [s for s in await steps_of(t, case_id, "done") if s["code"] == "request_high_risk_panel"]
    assert [s["policy"]["rule"] for s in done] == ["W7"]


# ATTACK40-9 --------------------------------------------------------------------------------

VERY_HIGH_AT, CATEGORY_AT = "2026-10-20T10:00:00+01:00", "2026-10-19T10:00:00+01:00"


async def _referral_typed(t: Tenant, order: tuple[str, ...]) -> list[tuple[Any, ...]]:
    """A case opened Thursday 1 October 2026 (IYSS reference), a MARP on Tuesday 10 November;
    the acts of ``order`` typed in that order ("very_high": the case holder's ROSH very high of
    20 October 10:00; "category": MAPPA's message that the child is category 1, received 19
    October; "level": the line manager's PATCH of MAPPA level 2 dated with the very high).
    The case's refer_to_panel steps, any status: (status, rule, reference, title, due)."""
    iyss = f"fix41f-{uuid.uuid4().hex[:10]}"
    case_id = str((await t.open_case(opened_at="2026-10-01T09:00:00+01:00",
                                     external_ref={"system": "IYSS", "id": iyss}))["data"]["id"])
    await book_panel(t, "2026-11-10T10:00:00Z")
    for act in order:
        if act == "very_high":
            await judge_rosh(t, case_id, "very_high", VERY_HIGH_AT)
        elif act == "level":
            r = await patch_case(t, case_id, {"mappa_level": 2, "occurred_at": VERY_HIGH_AT})
            assert r.status_code == 200, r.text
        else:
            r = await mappa_message(t, iyss, CATEGORY_AT, {"mappa_category": 1})
            assert r.status_code == 201, r.text
    found = []
    for status in ("open", "done", "superseded", "missed", "waived"):
        found += [(s["status"], s["policy"]["rule"], s["policy"]["ref"], s["title"], s["due_at"])
                  for s in await steps_of(t, case_id, status) if s["code"] == "refer_to_panel"]
    return sorted(found)


async def test_S17_S7_the_one_MARP_referral_is_the_earliest_acts_in_every_typing_order(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """S17 (Somerset 7): "To ensure all cases which are eligible under MAPPAs Category 1
    (registered sex offenders), irrespective of assessed ROSH, are brought to MARP for
    discussion"; S7 (3.2.4): "The case holder will refer the case to the next YJT MARP". MAPPA
    reports the child category 1 on 19 October, the case holder judges ROSH very high on 20
    October (and the line manager records MAPPA level 2 with it): one refer_to_panel step, due
    at the MARP of 10 November, asked first (in time order) by the category: S17's, with its
    paragraph (7) and title, in every typing order (before: S7's, 3.2.3/3.2.4, when the
    judgement was typed before the category; the timeliness report counts by rule)."""
    pin(monkeypatch, 2026, 12, 3, 12, 0)
    # The level needs the category on file (422 mappa-level-without-category before it).
    records = {order: await _referral_typed(somerset, order)
               for order in typing_orders(("category", "very_high", "level"),
                                          lambda o: o.index("category") < o.index("level"))}
    first = next(iter(records.values()))
    assert [(s, rule, ref, due) for s, rule, ref, _, due in first] == [
        ("open", "S17", "7", "2026-11-10T10:00:00Z")]
    assert {order: got for order, got in records.items() if got != first} == {}, records


# ATTACK40-5 --------------------------------------------------------------------------------

DECIDED_AT = "2026-10-27T11:00:00Z"


async def _review_listing_typed(t: Tenant, order: tuple[str, ...]
                                ) -> tuple[Any, list[dict[str, Any]]]:
    """A case opened Thursday 1 October 2026, judged high on 20 October, on the agenda of the
    MARP of Tuesday 27 October 10:00Z (the first after the clock change); a MARP on Tuesday 24
    November. The acts of ``order`` typed in that order ("decision": the 27 October MARP's
    decision at 11:00Z keeping high, its review booked for 24 November; "listing": the case
    put on the 24 November MARP's agenda). What a reader sees of its S48, S20 and S29 steps
    (:func:`visible_steps`: lists, timeline, timeliness report), and its attendance steps (S48)
    in every status, hidden ones included."""
    case_id = str((await t.open_case(opened_at="2026-10-01T09:00:00+01:00"))["data"]["id"])
    await judge_rosh(t, case_id, "high", "2026-10-20T10:00:00+01:00")
    initial = await book_sitting(t, case_id, "marp", "2026-10-27T10:00:00Z")
    review = await book_panel(t, "2026-11-24T10:00:00Z")
    for act in order:
        if act == "decision":
            r = await decide_item(t, initial, DECIDED_AT, {
                "rosh_level": "high", "actions": [], "review_date": "2026-11-24",
                "minutes": "Discussed; stays high."})
            assert r.status_code == 200, r.text
        else:
            r = await t.client.post(f"/v1/panels/{review}/items", json={
                "case_id": case_id, "presenter_id": "case_holder-1"},
                headers=t.auth("panel_admin"))
            assert r.status_code == 201, r.text
    attendance = []
    for status in ("open", "done", "superseded", "missed", "waived"):
        attendance += [s for s in await steps_of(t, case_id, status)
                       if s["code"] == "attend_initial_marp"]
    seen = await visible_steps(t, case_id, "S48", "S20", "S29",
                               report=("2026-10-01", "2026-12-31"))
    return seen, attendance


@pytest.mark.parametrize("now", [(2026, 12, 3, 12, 0), (2026, 10, 28, 12, 0)],
                         ids=["review-sitting-passed", "review-sitting-to-come"])
async def test_S48_a_review_listing_after_the_initial_MARPs_decision_owes_no_initial_attendance(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch, now: tuple[int, ...]) -> None:
    """S48 (Somerset 7.1.1): "The case holder will attend MARP to discuss the case. If not
    available, the line manager will present the case."; S20 (7.1.6, 7.2.3): the MARP's
    decision leaving the case high books its review, which the case holder attends. The 27
    October MARP decides at 11:00Z (review on 24 November); the case is put on the 24 November
    MARP's agenda after that decision (from that sitting, or when typed on 28 October): the
    review listing owes S20's review attendance, not S48's initial one, whichever of the two was
    typed in first (before: typed listing first, S48 was owed beside S20, due at the review's
    10:00Z start and overdue once it had sat). Typed so, the S48 it raised is kept superseded at
    its own instant (hidden from the lists' record, the timeline and the report; its note and a
    step.retract audit entry say why)."""
    pin(monkeypatch, *now)
    runs = {}
    for order in typing_orders(("decision", "listing")):
        t = await make_tenant(somerset.client, somerset.settings, somerset.pack)
        runs[order] = await _review_listing_typed(t, order)
    seen, attendance = runs[("decision", "listing")]
    steps, _, _ = seen
    assert [(s["status"], s["policy"]["rule"]) for s in attendance] == [("done", "S48")]
    assert [(rule, status) for rule, _, _, status, *_ in steps] == [
        ("S20", "open"), ("S29", "done"), ("S29", "open"), ("S48", "done")]
    assert [due for rule, _, _, _, _, due, *_ in steps if rule == "S20"] == [
        "2026-11-24T23:59:59Z"]
    assert {order: got[0] for order, got in runs.items() if got[0] != seen} == {}
    _, hidden = runs[("listing", "decision")]
    never = [s for s in hidden if s["status"] == "superseded"]
    assert [(s["policy"]["rule"], s["raised_at"], s["completed_at"]) for s in never] == [
        ("S48", "2026-11-24T10:00:00Z" if now[1] == 12 else "2026-10-28T12:00:00Z", None)]
    assert never[0]["note"].splitlines()[-1].startswith("Never raised: the agenda item ")
