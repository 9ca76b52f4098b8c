"""Every date a user gives the service, and every deadline a reopening moves, judged by the one
England-and-Wales working-day calendar (attacks 34a and 34b).

ATTACK34B-6: a MARP or High-Risk Panel could be booked (or moved) to Christmas Day, Easter Monday
or a weekend, and the ``next-panel`` steps waiting for it (Somerset 3.2.3 "The case holder will
refer the case to the next YJT MARP") then fell due on that day. Now 422 ``not-a-working-day``,
naming the day, why and the next working day; the waiting steps keep their dates.
ATTACK34B-3: a panel action due on Good Friday was accepted while a review on Easter Monday was
refused; both are now refused alike.
ATTACK34A-3: a reopening moved a panel action due Friday 21 May 2027 by the 22 calendar days the
case was closed, onto Saturday 12 June 2027; it now moves by the working days the case was
closed, and a deadline counted in calendar days that a reopening moves onto a weekend or bank
holiday goes on to the next working day.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.fidelity_support import pin, with_matrix
from tests.api.integrity_support import assert_problem, patch_case, steps_of
from tests.conftest import Tenant

NOT_WORKING = "not-a-working-day"


async def _panel(t: Tenant, kind: str, when: str) -> Any:
    return await t.client.post("/v1/panels", json={"kind": kind, "scheduled_for": when,
                                                   "chair_id": "chair-1"},
                               headers=t.auth("panel_admin"))


async def _waiting_somerset_case(t: Tenant) -> str:
    """A Somerset case judged ROSH high on Monday 2 November 2026 08:00Z (S7/S8 wait for the
    next MARP); its id."""
    case_id = str((await t.open_case())["data"]["id"])
    r = await t.client.post(f"/v1/cases/{case_id}/judgements", json=with_matrix(t.pack, {
        "domain": "rosh", "level": "high", "victims": ["public"],
        "occurred_at": "2026-11-02T08:00:00Z"}), headers=t.auth("case_holder"))
    assert r.status_code == 201, r.text
    return case_id


def _due(steps: list[dict[str, Any]], code: str) -> tuple[str | None, bool]:
    [step] = [s for s in steps if s["code"] == code]
    return step["due_at"], step["awaiting_panel_date"]


async def test_S7_a_marp_booked_on_christmas_day_is_refused_naming_the_day(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """S7 (3.2.3): "The case holder will refer the case to the next YJT MARP by contacting the
    appropriate administrator and completion of section 1 of the MARP referral form".

    On Monday 2 November 2026 the administrator books the MARP for Friday 25 December 2026
    10:00 (GMT), Christmas Day: 422 ``not-a-working-day`` naming the day, why, and the next
    working day, Tuesday 29 December (Saturday 26, Sunday 27, and Monday 28 December, the
    Boxing Day substitute, are not); then for Monday 28 December: refused likewise. The
    referral step still waits for a date. Booked for Tuesday 29 December 10:00, it is
    accepted, and refer_to_panel (case holder, S7, 3.2.3, 3.2.4) falls due then."""
    pin(monkeypatch, 2026, 11, 2, 10, 0)
    case_id = await _waiting_somerset_case(somerset)
    before = _due(await steps_of(somerset, case_id), "refer_to_panel")

    r = await _panel(somerset, "marp", "2026-12-25T10:00:00Z")
    problem = assert_problem(r, 422)
    assert problem["type"].endswith("/" + NOT_WORKING)
    assert problem["detail"] == (
        "A panel sits on a working day: Friday 25 December 2026 is a bank holiday (Christmas "
        "Day). The next working day is Tuesday 29 December 2026.")
    assert problem["errors"] == [{
        "loc": "body.scheduled_for",
        "msg": "2026-12-25 is not a working day (a bank holiday (Christmas Day)): the next "
               "working day is 2026-12-29"}]
    assert problem["not_working"] == {"date": "2026-12-25", "why": "a bank holiday (Christmas Day)",
                                      "next_working_day": "2026-12-29"}

    r = await _panel(somerset, "marp", "2026-12-28T10:00:00Z")
    assert assert_problem(r, 422)["errors"] == [{
        "loc": "body.scheduled_for",
        "msg": "2026-12-28 is not a working day (a bank holiday (Boxing Day (observed))): the "
               "next working day is 2026-12-29"}]
    assert _due(await steps_of(somerset, case_id), "refer_to_panel") == before

    r = await _panel(somerset, "marp", "2026-12-29T10:00:00Z")
    assert r.status_code == 201, r.text
    [step] = [s for s in await steps_of(somerset, case_id) if s["code"] == "refer_to_panel"]
    assert (step["actor"], step["due_at"], step["awaiting_panel_date"], step["policy"]["rule"],
            step["policy"]["ref"]) == ("case_holder", "2026-12-29T10:00:00Z", False, "S7",
                                       "3.2.3, 3.2.4")


async def test_S7_a_marp_moved_to_easter_monday_is_refused_and_its_steps_keep_their_date(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """S7 (3.2.3) "refer the case to the next YJT MARP". The MARP of Thursday 25 March 2027
    10:00 (GMT, the Thursday before the clocks go forward on Sunday 28 March) is moved to Easter
    Monday, 29 March 2027 10:00 BST: 422 naming Tuesday 30 March; to Saturday 27 March: 422
    likewise. The panel stays on 25 March and refer_to_panel stays due then
    (2027-03-25T10:00:00Z). Moved to Tuesday 30 March 10:00 BST, the step follows it
    (09:00Z)."""
    pin(monkeypatch, 2026, 11, 2, 10, 0)
    case_id = await _waiting_somerset_case(somerset)
    r = await _panel(somerset, "marp", "2027-03-25T10:00:00Z")
    assert r.status_code == 201, r.text
    panel = r.json()["data"]["id"]
    assert _due(await steps_of(somerset, case_id), "refer_to_panel") == (
        "2027-03-25T10:00:00Z", False)

    async def move(when: str) -> Any:
        return await somerset.client.post(f"/v1/panels/{panel}/reschedule",
                                          json={"scheduled_for": when},
                                          headers=somerset.auth("panel_admin"))

    problem = assert_problem(await move("2027-03-29T10:00:00+01:00"), 422)
    assert problem["type"].endswith("/" + NOT_WORKING)
    assert problem["errors"] == [{
        "loc": "body.scheduled_for",
        "msg": "2027-03-29 is not a working day (a bank holiday (Easter Monday)): the next "
               "working day is 2027-03-30"}]
    assert assert_problem(await move("2027-03-27T10:00:00Z"), 422)["errors"] == [{
        "loc": "body.scheduled_for",
        "msg": "2027-03-27 is not a working day (a Saturday): the next working day is "
               "2027-03-30"}]
    got = await somerset.client.get(f"/v1/panels/{panel}", headers=somerset.auth("chair"))
    assert got.json()["data"]["scheduled_for"] == "2027-03-25T10:00:00Z"
    assert _due(await steps_of(somerset, case_id), "refer_to_panel") == (
        "2027-03-25T10:00:00Z", False)

    r = await move("2027-03-30T10:00:00+01:00")
    assert r.status_code == 200, r.text
    assert _due(await steps_of(somerset, case_id), "refer_to_panel") == (
        "2027-03-30T09:00:00Z", False)


async def test_W8_a_high_risk_panel_on_the_early_may_bank_holiday_is_refused(
        wokingham: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """W8 (High Risk Panel): "the Team Manager will convene a High-Risk Panel within one week
    of their request". A High-Risk Panel booked on Monday 3 May 2027 (the early May bank
    holiday) 10:00 BST is 422 naming Tuesday 4 May; on Tuesday 4 May it is booked (201)."""
    pin(monkeypatch, 2026, 11, 2, 10, 0)
    problem = assert_problem(await _panel(wokingham, "high_risk_panel",
                                          "2027-05-03T10:00:00+01:00"), 422)
    assert problem["type"].endswith("/" + NOT_WORKING)
    assert problem["errors"] == [{
        "loc": "body.scheduled_for",
        "msg": "2027-05-03 is not a working day (a bank holiday (May Day)): the next working "
               "day is 2027-05-04"}]
    r = await _panel(wokingham, "high_risk_panel", "2027-05-04T10:00:00+01:00")
    assert r.status_code == 201, r.text
    assert r.json()["data"]["scheduled_for"] == "2027-05-04T09:00:00Z"


async def _wokingham_action_due(t: Tenant, monkeypatch: pytest.MonkeyPatch, due: str
                                ) -> tuple[str, Any]:
    """A Wokingham prevention case judged ROSH high on Monday 10 May 2027 08:00Z, heard by the
    High-Risk Panel at 09:00Z that day, which keeps it high, books the review for Tuesday 29
    June 2027 and agrees one action for case_holder-1 due on ``due``; (case id, decision
    answer)."""
    pin(monkeypatch, 2027, 5, 10, 10, 0)
    case_id = str((await t.open_case(opened_at="2027-05-04T09:00:00Z",
                                     intervention="prevention"))["data"]["id"])
    r = await t.client.post(f"/v1/cases/{case_id}/judgements", json=with_matrix(t.pack, {
        "domain": "rosh", "level": "high", "victims": ["public"],
        "occurred_at": "2027-05-10T08:00:00Z"}), headers=t.auth("case_holder"))
    assert r.status_code == 201, r.text
    r = await _panel(t, "high_risk_panel", "2027-05-10T09:00:00Z")
    assert r.status_code == 201, r.text
    panel = r.json()["data"]["id"]
    r = await t.client.post(f"/v1/panels/{panel}/items",
                            json={"case_id": case_id, "presenter_id": "case_holder-1"},
                            headers=t.auth("chair"))
    assert r.status_code == 201, r.text
    item = r.json()["data"]["id"]
    r = await t.client.post(f"/v1/panels/{panel}/items/{item}/decision", json={
        "minutes": "m", "attendees": ["case_holder", "line_manager"], "rosh_level": "high",
        "review_date": "2027-06-29", "occurred_at": "2027-05-10T09:30:00Z",
        "actions": [{"description": "Safety plan", "owner_id": "case_holder-1",
                     "due_date": due}]}, headers=t.auth("chair", "chair-1"))
    return case_id, r


async def test_W22_a_reopening_moves_a_panel_action_by_working_days_onto_a_working_day(
        wokingham: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """W22 (High Risk Panel): "At the end of the Panel, a specific action plan and risk
    classification should be agreed" (the catalogue's Panels: "actions (each with owner and due
    date)").

    The High-Risk Panel of Monday 10 May 2027 agrees an action due Friday 21 May 2027. The case
    is closed on Tuesday 18 May 10:00Z and reopened on Wednesday 9 June 10:00Z (22 days; the
    working days after 18 May up to 9 June are 15, the spring bank holiday of Monday 31 May
    not among them). The action was not overdue at the closure: its clock stood still while the
    case was closed, and it comes back due 15 working days after Friday 21 May: Monday 14 June
    2027, 23:59:59 BST (22:59:59Z) (attack 34a, ATTACK34A-3: moved by the 22 calendar days,
    onto Saturday 12 June)."""
    case_id, r = await _wokingham_action_due(wokingham, monkeypatch, "2027-05-21")
    assert r.status_code == 200, r.text
    act = next(s for s in r.json()["next_steps"] if s["code"] == "panel_action")
    assert act["due_at"] == "2027-05-21T22:59:59Z"
    pin(monkeypatch, 2027, 5, 18, 10, 5)
    r = await patch_case(wokingham, case_id, {"closed_at": "2027-05-18T10:00:00Z",
                                              "closure_reason": "Order ended"})
    assert r.status_code == 200, r.text
    pin(monkeypatch, 2027, 6, 9, 10, 5)
    r = await patch_case(wokingham, case_id, {"closed_at": None, "reopen_reason": "New order",
                                              "occurred_at": "2027-06-09T10:00:00Z"})
    assert r.status_code == 200, r.text
    [act] = [s for s in await steps_of(wokingham, case_id) if s["code"] == "panel_action"]
    assert (act["actor"], act["assignee_id"], act["due_at"], act["policy"]["rule"]) == (
        "action_owner", "case_holder-1", "2027-06-14T22:59:59Z", "W22")
    assert "Due date moved on by the 15 working day(s) the case was closed" in act["note"]


async def test_S1_a_reopening_moves_a_four_week_deadline_off_good_friday(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """S1 (2.1): "All children supervised by the YJT on statutory orders, will have an
    AssetPlus assessment completed within 4 weeks of start of YJT involvement".

    Opened Wednesday 24 February 2027 10:00 GMT: the AssetPlus is due Wednesday 24 March 10:00
    GMT. Closed Monday 1 March 10:00 GMT and reopened Wednesday 3 March 10:00 GMT, two days
    later: moved on by those two days it would be due on Good Friday, 26 March 2027; it goes
    on to the next working day, Tuesday 30 March 2027 (Easter Monday 29 March is a bank
    holiday), 10:00 on the wall clock, BST since the clocks went forward on Sunday 28 March
    (09:00Z) (attack 34a, ATTACK34A-3: a reopening landed a deadline on a day the service is
    shut). Its note says both moves."""
    pin(monkeypatch, 2027, 2, 24, 10, 5)
    case_id = str((await somerset.open_case(opened_at="2027-02-24T10:00:00Z"))["data"]["id"])
    [step] = [s for s in await steps_of(somerset, case_id) if s["code"] == "complete_assessment"]
    assert step["due_at"] == "2027-03-24T10:00:00Z"
    pin(monkeypatch, 2027, 3, 1, 10, 5)
    r = await patch_case(somerset, case_id, {"closed_at": "2027-03-01T10:00:00Z",
                                             "closure_reason": "order revoked on appeal"})
    assert r.status_code == 200, r.text
    pin(monkeypatch, 2027, 3, 3, 10, 5)
    r = await patch_case(somerset, case_id, {"closed_at": None,
                                             "reopen_reason": "new court order made",
                                             "occurred_at": "2027-03-03T10:00:00Z"})
    assert r.status_code == 200, r.text
    [step] = [s for s in await steps_of(somerset, case_id) if s["code"] == "complete_assessment"]
    assert (step["actor"], step["due_at"], step["policy"]["rule"], step["policy"]["ref"]) == (
        "case_holder", "2027-03-30T09:00:00Z", "S1", "2.1")
    assert step["note"].endswith(
        "Due date moved on by the 2 day(s) the case was closed (not yet overdue at the "
        "closure); on to the next working day, Tuesday 30 March 2027 (Friday 26 March 2027 is "
        "a bank holiday (Good Friday))")
