"""``next-panel`` deadlines follow the panels as they stand (attack 9, A9-5 and A9-6).

Catalogue (policy-rules.md, Deadline forms): "every deadline is computed from the triggering
event's ``occurred_at``, never from the wall clock, so that a CMS can back-fill events";
``next-panel`` = "the next scheduled panel of the pack's kind at or after the event". Somerset
3.2.3/3.2.4 "The case holder will refer the case to the next YJT MARP"; 6.2 views "sought before
the initial panel".

- A9-5: booking a MARP earlier than the one a step is due at, moving a MARP (sooner or later) or
  cancelling one re-dates every open ``next-panel`` step whose date that changes, audited
  (``step.redate``) in the panel write.
- A9-6: a back-dated act takes the next MARP at or after it even if that MARP has sat (the step
  is then overdue), not the following one.

The clock is pinned (``app.core.clock.now``) where the recording time matters. MARPs sit at
10:00 London on Thursdays: 27 August 2026 (before the late-summer bank holiday, Monday 31 August),
22 and 29 October 2026 (either side of the clock change on Sunday 25 October), 24 December 2026
(before Christmas).
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from tests.api.fidelity_support import pin
from tests.api.integrity_support import assert_problem, audit_of, judge_high, steps_of
from tests.conftest import Tenant

MARP = "Multi-Agency Risk Panel (MARP)"  # the pack's name for the kind, in notes (A26a-14)

S = {"pack": "somerset-yjt-2023", "version": "1"}
REFER = ("refer_to_panel", "S7", "3.2.3, 3.2.4")
VIEWS = ("seek_child_and_carer_views", "S8", "6.2")


async def book(t: Tenant, when: str) -> str:
    """The panel administrator books a MARP; its id."""
    r = await t.client.post("/v1/panels", json={"kind": "marp", "scheduled_for": when,
                                                "chair_id": "chair-1"},
                            headers=t.auth("panel_admin"))
    assert r.status_code == 201, r.text
    return str(r.json()["data"]["id"])


async def move(t: Tenant, panel_id: str, when: str) -> httpx.Response:
    """The panel administrator moves a MARP."""
    return await t.client.post(f"/v1/panels/{panel_id}/reschedule",
                               json={"scheduled_for": when}, headers=t.auth("panel_admin"))


async def cancel(t: Tenant, panel_id: str) -> httpx.Response:
    """The chair cancels a MARP."""
    return await t.client.delete(f"/v1/panels/{panel_id}", headers=t.auth("chair"))


async def panel_steps(t: Tenant, case_id: str) -> dict[str, dict[str, Any]]:
    """The case's open refer_to_panel and seek_child_and_carer_views steps, by code."""
    return {s["code"]: s for s in await steps_of(t, case_id)
            if s["code"] in (REFER[0], VIEWS[0])}


def assert_due(steps: dict[str, dict[str, Any]], due_at: str | None, awaiting: bool = False,
               overdue: bool = False) -> None:
    """Both steps: the case holder's, due ``due_at``, under S7 (3.2.3, 3.2.4) and S8 (6.2)."""
    assert set(steps) == {REFER[0], VIEWS[0]}
    for code, rule, ref in (REFER, VIEWS):
        step = steps[code]
        assert (step["actor"], step["assignee_id"], step["due_at"],
                step["awaiting_panel_date"], step["overdue"]) == (
            "case_holder", "case_holder-1", due_at, awaiting, overdue), step
        assert step["policy"] == {**S, "ref": ref, "rule": rule}


def redates(audit: list[dict[str, Any]], step_id: str) -> list[str | None]:
    """Why an open step was re-dated (the audit's reason), oldest first."""
    return [e["reason"] for e in audit
            if e["action"] == "step.redate" and e["entity_id"] == step_id]


# --- A9-5: scheduling an earlier MARP ---------------------------------------------------------


async def test_S7_S8_earlier_marp_booked_later_takes_the_waiting_steps(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """S7, S8 (3.2.3, 6.2): "The case holder will refer the case to the next YJT MARP"; views
    "sought before the initial panel". ROSH high on Friday 21 August 2026; the MARP of Thursday
    10 September is booked (both steps due then), then the MARP of Thursday 27 August (before
    the bank holiday of Monday 31 August): that is now the next MARP, so both steps are due at
    it, 09:00Z (10:00 BST), each re-date audited."""
    pin(monkeypatch, 2026, 8, 21, 14, 0)
    case = (await somerset.open_case())["data"]
    await judge_high(somerset, case["id"], "2026-08-21T14:30:00+01:00")
    assert_due(await panel_steps(somerset, case["id"]), None, awaiting=True)
    await book(somerset, "2026-09-10T10:00:00+01:00")
    assert_due(await panel_steps(somerset, case["id"]), "2026-09-10T09:00:00Z")
    await book(somerset, "2026-08-27T10:00:00+01:00")
    steps = await panel_steps(somerset, case["id"])
    assert_due(steps, "2026-08-27T09:00:00Z")
    audit = await audit_of(somerset, case["id"])
    for step in steps.values():
        assert redates(audit, step["id"]) == [
            f"Next {MARP} scheduled for Thursday 10 September 2026 10:00 (London)",
            f"Next {MARP} scheduled for Thursday 27 August 2026 10:00 (London)"]
    # A twin judged at the same instant after both MARPs exist carries the same deadline.
    twin = (await somerset.open_case())["data"]
    await judge_high(somerset, twin["id"], "2026-08-21T14:30:00+01:00")
    assert_due(await panel_steps(somerset, twin["id"]), "2026-08-27T09:00:00Z")


# --- A9-5: moving a MARP, sooner and later, across the clock change -------------------------


async def test_S7_S8_moved_marp_moves_its_steps_later_and_sooner(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """S7, S8 (3.2.3, 6.2): "refer the case to the next YJT MARP". ROSH high on Tuesday
    20 October 2026; MARPs on Thursday 22 October (10:00 BST, 09:00Z) and Thursday 5 November
    (10:00 GMT). Moving the 22 October MARP to Thursday 12 November makes 5 November the next
    one (later); moving it back to Thursday 29 October (10:00 GMT, after the clock change: 10:00Z)
    makes it the next again (sooner). Each move answers 200 with the panel's new time."""
    pin(monkeypatch, 2026, 10, 20, 9, 0)
    case = (await somerset.open_case())["data"]
    await judge_high(somerset, case["id"], "2026-10-20T09:30:00+01:00")
    first = await book(somerset, "2026-10-22T10:00:00+01:00")
    await book(somerset, "2026-11-05T10:00:00Z")
    assert_due(await panel_steps(somerset, case["id"]), "2026-10-22T09:00:00Z")
    r = await move(somerset, first, "2026-11-12T10:00:00Z")
    assert r.status_code == 200, r.text
    assert r.json()["data"]["scheduled_for"] == "2026-11-12T10:00:00Z"
    assert_due(await panel_steps(somerset, case["id"]), "2026-11-05T10:00:00Z")
    r = await move(somerset, first, "2026-10-29T10:00:00Z")
    assert r.status_code == 200, r.text
    steps = await panel_steps(somerset, case["id"])
    assert_due(steps, "2026-10-29T10:00:00Z")
    audit = await audit_of(somerset, case["id"])
    assert redates(audit, steps[REFER[0]]["id"]) == [
        f"Next Multi-Agency Risk Panel (MARP) scheduled for {when}" for when in (
            "Thursday 22 October 2026 10:00 (London)", "Thursday 5 November 2026 10:00 (London)",
            "Thursday 29 October 2026 10:00 (London)")]
    moves = [e for e in audit if e["action"] == "step.redate"]
    assert {(e["actor"], e["role"]) for e in moves} == {("panel_admin-1", "panel_admin")}


# --- A9-5: cancelling a MARP ------------------------------------------------------------------


async def test_S7_S8_cancelled_marp_gives_its_steps_the_next_or_none(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """S7, S8 (3.2.3, 6.2): "refer the case to the next YJT MARP". ROSH high on Monday
    21 December 2026; MARPs on Thursday 24 December (before Christmas) and Thursday 7 January
    2027. Cancelling 24 December makes the steps due on 7 January; cancelling that too leaves
    them waiting for a MARP: no date, "none scheduled". Each cancellation is 204."""
    pin(monkeypatch, 2026, 12, 21, 10, 0)
    case = (await somerset.open_case())["data"]
    await judge_high(somerset, case["id"], "2026-12-21T09:30:00Z")
    christmas = await book(somerset, "2026-12-24T10:00:00Z")
    january = await book(somerset, "2027-01-07T10:00:00Z")
    assert_due(await panel_steps(somerset, case["id"]), "2026-12-24T10:00:00Z")
    r = await cancel(somerset, christmas)
    assert r.status_code == 204, r.text
    assert_due(await panel_steps(somerset, case["id"]), "2027-01-07T10:00:00Z")
    r = await cancel(somerset, january)
    assert r.status_code == 204, r.text
    steps = await panel_steps(somerset, case["id"])
    assert_due(steps, None, awaiting=True)
    assert steps[REFER[0]]["note"] == f"Due at the next {MARP}; none scheduled."
    r = await somerset.client.get(f"/v1/panels/{christmas}", headers=somerset.auth("chair"))
    assert_problem(r, 404)


async def test_S7_marp_with_a_case_on_it_is_not_cancelled_and_a_sat_one_not_moved(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """S7 (3.2.3): a MARP with a case on its agenda is moved, not cancelled (409
    ``panel-has-items``); once its decision is recorded it has sat: neither moved nor cancelled
    (409 ``panel-decided``), and the decided case's steps stay as they are."""
    pin(monkeypatch, 2026, 8, 21, 14, 0)
    case = (await somerset.open_case())["data"]
    await judge_high(somerset, case["id"], "2026-08-21T14:30:00+01:00")
    marp = await book(somerset, "2026-08-27T10:00:00+01:00")
    r = await somerset.client.post(f"/v1/panels/{marp}/items",
                                   json={"case_id": case["id"], "presenter_id": "case_holder-1"},
                                   headers=somerset.auth("panel_admin"))
    assert r.status_code == 201, r.text
    item = r.json()["data"]["id"]
    assert assert_problem(await cancel(somerset, marp), 409)["type"].endswith("/panel-has-items")
    r = await move(somerset, marp, "2026-09-03T10:00:00+01:00")
    assert r.status_code == 200, r.text
    assert [i["id"] for i in r.json()["data"]["items"]] == [item]
    pin(monkeypatch, 2026, 9, 3, 12, 0)
    r = await somerset.client.post(
        f"/v1/panels/{marp}/items/{item}/decision",
        json={"rosh_level": "high", "actions": [], "minutes": "Heard.",
              "review_date": "2026-10-01"},
        headers=somerset.auth("chair", "chair-1"))
    assert r.status_code == 200, r.text
    assert r.json()["data"]["decided_at"] == "2026-09-03T09:00:00Z"
    for attempt in (move(somerset, marp, "2026-09-10T10:00:00+01:00"), cancel(somerset, marp)):
        assert assert_problem(await attempt, 409)["type"].endswith("/panel-decided")


async def test_S7_S8_a_marp_that_sat_is_neither_moved_nor_cancelled_so_its_misses_stay_late(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """S7 (3.2.3): "The case holder will refer the case to the next YJT MARP"; S8 (6.2): views
    "sought before the initial panel". ROSH high on Wednesday 12 August 2026; the MARP of
    Thursday 20 August sat without the case (the referral was missed), so both steps were due
    at it (09:00 UTC) and are overdue on Friday 28 August. Afterwards that MARP can be neither
    moved nor cancelled (409 ``panel-has-sat``; attack pass 10, A10-1: moving it to 30 September
    or cancelling it made the missed referral due at the next MARP, no longer late), and the
    steps keep their date. The MARP was booked ahead, on Monday 10 August: a MARP booked
    afterwards, in the past, with nothing decided and no case on its agenda is a booking that
    may be cancelled as a slip (attack pass 15, A15-5; test_agenda_withdrawal)."""
    pin(monkeypatch, 2026, 8, 10, 9, 0)
    sat = await book(somerset, "2026-08-20T10:00:00+01:00")
    await book(somerset, "2026-09-24T10:00:00+01:00")
    pin(monkeypatch, 2026, 8, 28, 14, 35)
    case = (await somerset.open_case(opened_at="2026-08-03T09:00:00+01:00"))["data"]
    await judge_high(somerset, case["id"], "2026-08-12T10:00:00+01:00")
    assert_due(await panel_steps(somerset, case["id"]), "2026-08-20T09:00:00Z", overdue=True)
    for attempt in (move(somerset, sat, "2026-09-30T10:00:00+01:00"), cancel(somerset, sat)):
        assert assert_problem(await attempt, 409)["type"].endswith("/panel-has-sat")
    assert_due(await panel_steps(somerset, case["id"]), "2026-08-20T09:00:00Z", overdue=True)


# --- A9-6: a back-dated act takes the MARP at or after it, sat or not ---------------------------


async def test_S7_S8_backdated_judgement_takes_the_marp_that_sat_and_is_overdue(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """S7, S8 (3.2.3, 6.2): "refer the case to the next YJT MARP"; deadlines count from the
    event, never the wall clock. MARPs on Tuesday 20 October 2026 (10:00 BST, sat) and Tuesday
    17 November (10:00 GMT). On Tuesday 3 November a ROSH high dated Thursday 15 October is
    recorded: the next MARP at or after it is 20 October, so both steps are due at 09:00Z that
    day and overdue (listed under overdue=true), not due on 17 November."""
    pin(monkeypatch, 2026, 10, 1, 9, 0)
    case = (await somerset.open_case(opened_at="2026-10-01T09:00:00+01:00"))["data"]
    await book(somerset, "2026-10-20T10:00:00+01:00")
    await book(somerset, "2026-11-17T10:00:00Z")
    pin(monkeypatch, 2026, 11, 3, 10, 0)
    body = await judge_high(somerset, case["id"], "2026-10-15T10:00:00+01:00")
    assert_due({s["code"]: s for s in body["next_steps"] if s["code"] in (REFER[0], VIEWS[0])},
               "2026-10-20T09:00:00Z", overdue=True)
    r = await somerset.client.get("/v1/next-steps",
                                  params={"case_id": case["id"], "overdue": "true"},
                                  headers=somerset.auth("case_holder"))
    assert r.status_code == 200, r.text
    assert {s["code"] for s in r.json()["data"]} >= {REFER[0], VIEWS[0]}


async def test_S7_S8_backdated_judgement_after_every_marp_waits(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """S7, S8 (3.2.3, 6.2): a MARP that sat before the judgement cannot be "the next" one. ROSH
    high dated Friday 23 October 2026 (recorded 3 November); the only MARP sat on 20 October:
    both steps wait for a MARP, "none scheduled"."""
    pin(monkeypatch, 2026, 10, 1, 9, 0)
    case = (await somerset.open_case(opened_at="2026-10-01T09:00:00+01:00"))["data"]
    await book(somerset, "2026-10-20T10:00:00+01:00")
    pin(monkeypatch, 2026, 11, 3, 10, 0)
    await judge_high(somerset, case["id"], "2026-10-23T10:00:00+01:00")
    steps = await panel_steps(somerset, case["id"])
    assert_due(steps, None, awaiting=True)
    assert steps[VIEWS[0]]["note"] == f"Due at the next {MARP}; none scheduled."


async def test_S25_backdated_transfer_in_takes_the_marp_that_sat(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """S25 (13.3): "refer the case to the next available MARP" for a transferred-in case. The
    transfer in, dated Monday 19 October 2026, recorded on Tuesday 3 November: the MARP of
    Thursday 22 October (10:00 BST) is the next at or after it, so refer_to_panel is due then,
    overdue, not at the MARP of Thursday 5 November."""
    pin(monkeypatch, 2026, 10, 1, 9, 0)
    case = (await somerset.open_case(opened_at="2026-10-01T09:00:00+01:00"))["data"]
    await book(somerset, "2026-10-22T10:00:00+01:00")
    await book(somerset, "2026-11-05T10:00:00Z")
    pin(monkeypatch, 2026, 11, 3, 10, 0)
    r = await somerset.client.post(f"/v1/cases/{case['id']}/events",
                                   json={"type": "transfer_in",
                                         "incoming_ratings": {"rosh": "high"},
                                         "occurred_at": "2026-10-19T10:00:00+01:00"},
                                   headers=somerset.auth("case_holder"))
    assert r.status_code == 201, r.text
    [refer] = [s for s in r.json()["next_steps"] if s["code"] == "refer_to_panel"]
    assert (refer["actor"], refer["due_at"], refer["overdue"]) == (
        "case_holder", "2026-10-22T09:00:00Z", True)
    assert refer["policy"]["rule"] == "S25"


# --- A9-5: a judgement racing the booking of an earlier MARP (PostgreSQL) --------------------


async def test_S7_judgements_racing_an_earlier_marp_end_on_its_date(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """S7, S8 (3.2.3, 6.2): whichever commits first, a judgement recorded while an earlier MARP
    is being booked ends due at that MARP: the booking waits for a judgement under way, and a
    judgement waits for the booking, so neither dates a step from a panel list that is no
    longer the list. Each round, four cases are judged ROSH high (Friday 21 August 2026 14:30)
    at the same time as a MARP earlier than every one booked so far (Thursday 27 August, then
    Wednesday 26, Tuesday 25, Monday 24 August 10:00, then Friday 21 August 17:00 and 16:00:
    a panel sits on a working day, so not the weekend of 22-23 August) is booked, the booking
    sent first, in the middle or last."""
    pin(monkeypatch, 2026, 8, 21, 14, 0)
    await book(somerset, "2026-09-10T10:00:00+01:00")
    sittings = (("2026-08-27T10:00:00+01:00", "2026-08-27T09:00:00Z", 2),
                ("2026-08-26T10:00:00+01:00", "2026-08-26T09:00:00Z", 1),
                ("2026-08-25T10:00:00+01:00", "2026-08-25T09:00:00Z", 0),
                ("2026-08-24T10:00:00+01:00", "2026-08-24T09:00:00Z", 4),
                ("2026-08-21T17:00:00+01:00", "2026-08-21T16:00:00Z", 3),
                ("2026-08-21T16:00:00+01:00", "2026-08-21T15:00:00Z", 2))
    for sits, due, at in sittings:  # at: the booking's place among the five requests
        cases = [(await somerset.open_case())["data"]["id"] for _ in range(4)]
        booking = somerset.client.post(
            "/v1/panels", json={"kind": "marp", "scheduled_for": sits, "chair_id": "chair-1"},
            headers=somerset.auth("panel_admin"))
        judging = [somerset.client.post(
            f"/v1/cases/{c}/judgements",
            json={"domain": "rosh", "level": "high", "occurred_at": "2026-08-21T14:30:00+01:00"},
            headers=somerset.auth("case_holder")) for c in cases]
        answers = await asyncio.gather(*judging[:at], booking, *judging[at:])
        assert sorted(a.status_code for a in answers) == [201] * 5, [a.text for a in answers]
        for case_id in cases:
            assert_due(await panel_steps(somerset, case_id), due)


# --- A17-10: times in notes are written in London time ------------------------------------------


async def test_S7_S8_notes_give_the_marps_time_in_london_time(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """Attack pass 17, A17-10: after a MARP was booked and moved, the S7/S8 notes read "Next
    marp scheduled for 2026-09-10T09:00:00+00:00", neither the answers' ``Z`` nor what the MARP
    letter says. S7 (3.2.3) "The case holder will refer the case to the next YJT MARP". ROSH
    high on Friday 28 August 2026; MARP booked for Thursday 3 September 10:00 BST, then moved to
    Thursday 10 September 10:00 BST: the notes say "Thursday 10 September 2026 10:00 (London)";
    the due date itself stays UTC with Z."""
    pin(monkeypatch, 2026, 8, 28, 15, 0)
    case = (await somerset.open_case())["data"]
    await judge_high(somerset, case["id"], "2026-08-28T15:30:00+01:00")
    marp = await book(somerset, "2026-09-03T10:00:00+01:00")
    r = await move(somerset, marp, "2026-09-10T10:00:00+01:00")
    assert r.status_code == 200, r.text
    steps = await panel_steps(somerset, case["id"])
    assert_due(steps, "2026-09-10T09:00:00Z")
    for step in steps.values():
        assert step["note"].splitlines()[-1] == (
            f"Next {MARP} scheduled for Thursday 10 September 2026 10:00 (London)"), step["note"]
        assert "+00:00" not in step["note"]


def test_london_text_is_london_local_time_with_weekday_and_zone() -> None:
    """One form for every time or date written into text: GMT and BST, dates alone."""
    from datetime import UTC, date, datetime

    from app.workflows.calendar import london_text
    assert london_text(datetime(2026, 9, 10, 9, 0, tzinfo=UTC)) == (
        "Thursday 10 September 2026 10:00 (London)")
    assert london_text(datetime(2026, 12, 24, 10, 0, tzinfo=UTC)) == (
        "Thursday 24 December 2026 10:00 (London)")
    assert london_text(date(2027, 3, 28)) == "Sunday 28 March 2027"
