"""The record stays true through back-dating (attack pass 10, A10-30): the same judgements sent
in a different order give the same mandated steps, deadlines, register and contact level.

A judgement dated before the current rating of its domain (a back-fill, typed in after a later
one) is not the case's current rating; it goes into the history. It is still an act the policy
asks things of, counted from its own ``occurred_at`` (policy-rules, Deadline forms: "every
deadline is computed from the triggering event's ``occurred_at``, never from the wall clock, so
that a CMS can back-fill events"). Each test records the same judgements on two cases of one
service: in the order they happened, and the later one first, then the earlier one back-filled;
the open steps (code, rule, paragraph, actor, deadline, urgency, overdue point) must agree.

Dates (real calendar, London):
- Sat 24 Oct 2026 11:00 BST (10:00Z): British Summer Time ends on Sun 25 Oct, so ``+24h`` is
  Sun 25 Oct 10:00Z (10:00 GMT, 24 clock hours later) and ``every 1m`` Tue 24 Nov 11:00 GMT
  (11:00Z: the month is counted on the London clock).
- Fri 28 Aug 2026 15:30 BST: the late-summer bank holiday is Mon 31 Aug; ``immediately`` is due
  at the act and late after the end of that Friday (22:59:59Z).
- Thu 2 Apr 2026 10:00 BST: Good Friday 3 Apr and Easter Monday 6 Apr are closed, ``+2wd`` is
  the end of Wed 8 Apr (22:59:59Z).
- Fri 22 May 2026 16:00 BST: the spring bank holiday is Mon 25 May, ``+2wd`` is the end of Wed
  27 May (22:59:59Z).
- Sat 31 Oct 2026 10:00Z: ``every 1m`` clamps to the month's end, Mon 30 Nov 10:00Z.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from tests.api.act_order_support import judgement_body
from tests.conftest import Tenant
from tests.orders import typing_orders


async def _judge(t: Tenant, case_id: str, domain: str, level: str, at: str,
                 role: str = "case_holder") -> dict[str, Any]:
    r = await t.client.post(f"/v1/cases/{case_id}/judgements", headers=t.auth(role),
                            json=judgement_body(domain, level, at))
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


async def _steps(t: Tenant, case_id: str, status: str = "open") -> list[dict[str, Any]]:
    r = await t.client.get("/v1/next-steps", params={"case_id": case_id, "status": status},
                           headers=t.auth("line_manager"))
    assert r.status_code == 200, r.text
    return r.json()["data"]  # type: ignore[no-any-return]


def _shape(steps: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """What must not depend on the order the records came in."""
    return sorted((s["code"], s["policy"]["rule"], s["policy"]["ref"], s["actor"],
                   s["assignee_id"], s["due_at"], s["urgent"], s["awaiting_panel_date"],
                   s["overdue_at"]) for s in steps)


async def _case(t: Tenant, case_id: str) -> dict[str, Any]:
    r = await t.client.get(f"/v1/cases/{case_id}", headers=t.auth("line_manager"))
    assert r.status_code == 200, r.text
    return r.json()["data"]  # type: ignore[no-any-return]


async def _both_orders(t: Tenant, records: list[tuple[str, str, str]], **case: Any
                       ) -> tuple[str, str]:
    """Two cases: ``records`` (domain, level, occurred_at; in time order) recorded in order on
    the first, in reverse order on the second (each but the last a back-fill there)."""
    in_order = (await t.open_case(opened_at="2026-03-02T09:00:00Z", **case))["data"]["id"]
    reverse = (await t.open_case(opened_at="2026-03-02T09:00:00Z", **case))["data"]["id"]
    for domain, level, at in records:
        await _judge(t, in_order, domain, level, at)
    for domain, level, at in reversed(records):
        await _judge(t, reverse, domain, level, at)
    return in_order, reverse


async def _same_outcome(t: Tenant, in_order: str, reverse: str) -> list[dict[str, Any]]:
    """The two cases agree on open steps, ratings, register and contact level; the open steps."""
    steps, again = await _steps(t, in_order), await _steps(t, reverse)
    assert _shape(again) == _shape(steps)
    one, other = await _case(t, in_order), await _case(t, reverse)
    assert {d: (r or {}).get("level") for d, r in other["ratings"].items()} == \
        {d: (r or {}).get("level") for d, r in one["ratings"].items()}
    assert (other["on_register"], other["contact_level"]) == \
        (one["on_register"], one["contact_level"])
    return steps


def _one(steps: list[dict[str, Any]], code: str) -> dict[str, Any]:
    [step] = [s for s in steps if s["code"] == code]
    return step


async def test_S5_S11_a_high_back_filled_before_a_very_high_counts_from_the_high(
        somerset: Tenant) -> None:
    """S5 (Somerset 3.1): "Any 'high' or 'very high' judgement rating will be discussed as soon
    as practicable with the relevant line manager or duty manager (within 24 hours)"; S11
    (4.5): line managers review every High or Very High case "at least monthly". ROSH high on
    Saturday 24 October 2026 11:00 BST, very high on Thursday 29 October: the discussion was due
    24 clock hours after the high (Sunday 25 October 10:00Z, across the clock change) and the
    review a month after it (24 November 11:00 GMT), however the two were typed in. Before the
    fix the back-filled high left them counted from the very high (30 October, 29 November)."""
    in_order, reverse = await _both_orders(somerset, [
        ("rosh", "high", "2026-10-24T11:00:00+01:00"),
        ("rosh", "very_high", "2026-10-29T10:00:00Z")])
    steps = await _same_outcome(somerset, in_order, reverse)
    discuss = _one(steps, "discuss_with_manager")
    assert (discuss["actor"], discuss["assignee_id"], discuss["due_at"]) == (
        "line_manager", "line_manager-1", "2026-10-25T10:00:00Z")
    assert (discuss["policy"]["rule"], discuss["policy"]["ref"]) == ("S5", "3.1")
    review = _one(steps, "monthly_manager_review")
    assert (review["actor"], review["due_at"], review["policy"]["ref"]) == (
        "line_manager", "2026-11-24T11:00:00Z", "4.5")
    # The back-fill is in the re-dated step's reasons and in its audit (the act that moved it).
    [moved] = [s for s in await _steps(somerset, reverse) if s["code"] == "discuss_with_manager"]
    assert {r["at"][:10] for r in moved["reasons"]} == {"2026-10-24", "2026-10-29"}


async def test_S11_every_1m_from_a_back_filled_month_end_high_clamps(somerset: Tenant) -> None:
    """S11 (Somerset 4.5): "review all cases where there is a High or Very High ROSH and/or
    Safety and Well-Being rating with case holders at least monthly". SWB high on Saturday 31
    October 2026 10:00Z, high again on Wednesday 4 November: the first review is due a month
    after the first high, clamped to Monday 30 November 10:00Z, in either order."""
    in_order, reverse = await _both_orders(somerset, [
        ("swb", "high", "2026-10-31T10:00:00Z"), ("swb", "high", "2026-11-04T10:00:00Z")])
    steps = await _same_outcome(somerset, in_order, reverse)
    review = _one(steps, "monthly_manager_review")
    assert (review["actor"], review["due_at"], review["policy"]["rule"]) == (
        "line_manager", "2026-11-30T10:00:00Z", "S11")
    assert _one(steps, "discuss_with_manager")["due_at"] == "2026-11-01T10:00:00Z"


async def test_S9_a_back_filled_very_high_swb_makes_the_referral_due_at_once(
        somerset: Tenant) -> None:
    """S9 (Somerset 3.2.4, Very High): the case holder's referral "to statutory child protection
    services" is due immediately. SWB very high on Friday 28 August 2026 15:30 BST (before the
    late-summer bank holiday) and again on Tuesday 1 September 10:00 BST: the referral was due
    at the first (14:30Z), late after the end of that Friday (22:59:59Z), in either order;
    the back-fill makes the open step due sooner, already overdue."""
    in_order, reverse = await _both_orders(somerset, [
        ("swb", "very_high", "2026-08-28T15:30:00+01:00"),
        ("swb", "very_high", "2026-09-01T10:00:00+01:00")])
    steps = await _same_outcome(somerset, in_order, reverse)
    referral = _one(steps, "child_protection_referral")
    assert (referral["actor"], referral["due_at"], referral["urgent"], referral["overdue_at"],
            referral["overdue"]) == ("case_holder", "2026-08-28T14:30:00Z", True,
                                     "2026-08-28T22:59:59Z", True)
    assert (referral["policy"]["rule"], referral["policy"]["ref"]) == ("S9", "3.2.4")


async def test_S7_a_back_filled_high_refers_to_the_marp_that_sat_after_it(
        somerset: Tenant) -> None:
    """S7 (Somerset 3.2.3): "The case holder will refer the case to the next YJT MARP". A MARP
    sits on Tuesday 27 October 2026; ROSH high on Saturday 24 October, very high on Thursday 29
    October: the high's next MARP was the 27th, so the referral is due then (overdue), whichever
    judgement was typed in first; before the fix the back-filled high left it awaiting a MARP
    after the 29th."""
    r = await somerset.client.post("/v1/panels", json={
        "kind": "marp", "scheduled_for": "2026-10-27T14:00:00Z", "chair_id": "chair-1"},
        headers=somerset.auth("panel_admin"))
    assert r.status_code == 201, r.text
    in_order, reverse = await _both_orders(somerset, [
        ("rosh", "high", "2026-10-24T11:00:00+01:00"),
        ("rosh", "very_high", "2026-10-29T10:00:00Z")])
    steps = await _same_outcome(somerset, in_order, reverse)
    refer = _one(steps, "refer_to_panel")
    assert (refer["actor"], refer["due_at"], refer["awaiting_panel_date"],
            refer["policy"]["rule"]) == ("case_holder", "2026-10-27T14:00:00Z", False, "S7")


async def test_S5_a_discussion_already_held_is_not_asked_for_again(somerset: Tenant) -> None:
    """S5 (Somerset 3.1), a guard on the fix: ROSH very high on Thursday 29 October 2026,
    discussed with the line manager that afternoon; a high dated Saturday 24 October typed in
    afterwards asks for no second discussion (in order, the one discussion of the 29th would
    have answered it), and the step done stays done."""
    case = (await somerset.open_case(opened_at="2026-03-02T09:00:00Z"))["data"]["id"]
    answer = await _judge(somerset, case, "rosh", "very_high", "2026-10-29T10:00:00Z")
    discuss = _one(answer["next_steps"], "discuss_with_manager")
    r = await somerset.client.post(f"/v1/next-steps/{discuss['id']}/complete",
                                   json={"occurred_at": "2026-10-29T15:00:00Z"},
                                   headers=somerset.auth("line_manager"))
    assert r.status_code == 200, r.text
    await _judge(somerset, case, "rosh", "high", "2026-10-24T11:00:00+01:00")
    assert "discuss_with_manager" not in {s["code"] for s in await _steps(somerset, case)}
    [done] = [s for s in await _steps(somerset, case, "done")
              if s["code"] == "discuss_with_manager"]
    assert done["id"] == discuss["id"]


async def test_S12_S13_a_back_filled_medium_under_a_high_changes_nothing(
        somerset: Tenant) -> None:
    """S12 (6.1) and S13 (4.2), a guard: ROSH medium on Thursday 2 April 2026 and high on
    Tuesday 14 April; in either order the same steps, the high's deadlines: a lower back-fill
    lowers nothing, closes nothing and takes the case off no register."""
    in_order, reverse = await _both_orders(somerset, [
        ("rosh", "medium", "2026-04-02T10:00:00+01:00"),
        ("rosh", "high", "2026-04-14T10:00:00+01:00")])
    steps = await _same_outcome(somerset, in_order, reverse)
    assert _one(steps, "discuss_with_manager")["due_at"] == "2026-04-15T09:00:00Z"
    assert (await _case(somerset, reverse))["on_register"] is True


async def test_W7_a_back_filled_very_high_rosh_brings_the_panel_request_forward(
        wokingham: Tenant) -> None:
    """W7 (Wokingham, High Risk Panel): "request a High-Risk Panel within two working days of 1.
    Assessing a child as high or very high ROSH". ROSH very high on Thursday 2 April 2026 10:00
    BST (Easter: Good Friday and Easter Monday closed), high on Tuesday 14 April: the request was
    due by the end of Wednesday 8 April (22:59:59Z), in either order; before the fix the
    back-filled very high left it due two working days after the high (16 April)."""
    in_order, reverse = await _both_orders(wokingham, [
        ("rosh", "very_high", "2026-04-02T10:00:00+01:00"),
        ("rosh", "high", "2026-04-14T10:00:00+01:00")])
    steps = await _same_outcome(wokingham, in_order, reverse)
    request = _one(steps, "request_high_risk_panel")
    assert (request["actor"], request["due_at"], request["policy"]["rule"],
            request["policy"]["ref"]) == ("case_holder", "2026-04-08T22:59:59Z", "W7",
                                          "High Risk Panel")


@pytest.mark.parametrize("domain", ["rosh", "swb", "lor"])
async def test_W12_a_high_back_filled_before_a_low_still_asks_for_the_plan(
        wokingham: Tenant, domain: str) -> None:
    """W12 (Wokingham, Management of LoR / ROSH / SWB): when a domain is medium or above the
    risk management plan is updated ("each action with timescale and owner"); nothing in the
    seed withdraws that when the rating later falls. A high on Friday 22 May 2026 16:00 BST
    (spring bank holiday Monday 25 May) and a low on Monday 1 June: in order the plan is owed
    and the high's own duties that last only while it holds (W7's panel request, W9's MARF)
    lapsed with the low; typed in the other way round, the same. Before the fix the
    back-filled high asked for nothing: the plan was missing. The low stays the rating: no
    register, fortnightly contact."""
    in_order, reverse = await _both_orders(wokingham, [
        (domain, "high", "2026-05-22T16:00:00+01:00"),
        (domain, "low", "2026-06-01T10:00:00+01:00")])
    steps = await _same_outcome(wokingham, in_order, reverse)
    plan = _one(steps, "update_risk_management_plan")
    assert (plan["actor"], plan["due_at"], plan["policy"]["rule"]) == ("case_holder", None, "W12")
    codes = {s["code"] for s in steps}
    assert not codes & {"request_high_risk_panel", "marf_referral"}
    got = await _case(wokingham, reverse)
    assert (got["ratings"][domain]["level"], got["on_register"]) == ("low", False)


async def test_W7_a_request_made_after_the_back_filled_high_is_not_raised_again(
        wokingham: Tenant, client: httpx.AsyncClient) -> None:
    """W7, a guard: ROSH high on Friday 22 May 2026, the case put on a High-Risk Panel's agenda
    (the request made); a very high dated Thursday 21 May typed in
    afterwards asks for no second request (the one made answered it in order too)."""
    case = (await wokingham.open_case(opened_at="2026-03-02T09:00:00Z"))["data"]["id"]
    await _judge(wokingham, case, "rosh", "high", "2026-05-22T16:00:00+01:00")
    r = await client.post("/v1/panels", json={
        "kind": "high_risk_panel", "chair_id": "chair-1",
        "scheduled_for": "2026-05-28T10:00:00+01:00"}, headers=wokingham.auth("chair"))
    assert r.status_code == 201, r.text
    r = await client.post(f"/v1/panels/{r.json()['data']['id']}/items",
                          json={"case_id": case, "presenter_id": "case_holder-1"},
                          headers=wokingham.auth("chair"))
    assert r.status_code == 201, r.text
    before = _shape(await _steps(wokingham, case))
    await _judge(wokingham, case, "rosh", "very_high", "2026-05-21T10:00:00+01:00")
    after = await _steps(wokingham, case)
    assert "request_high_risk_panel" not in {s["code"] for s in after}
    # W30 (fid14a), recurring: the child's first judgement is now the very high of 21 May, and
    # before any supervision is done an earlier act brings the first one forward (a month
    # after it, Sunday 21 June 10:00 BST); the rest is as it was.
    supervision = "monthly_line_supervision"
    assert [s["due_at"] for s in after if s["code"] == supervision] == ["2026-06-21T09:00:00Z"]
    assert [t for t in _shape(after) if t[0] != supervision] == [
        t for t in before if t[0] != supervision]
    assert [t[5] for t in before if t[0] == supervision] == ["2026-06-22T15:00:00Z"]


async def test_S5_S7_concurrent_judgements_agree_with_time_order(somerset: Tenant) -> None:
    """S5 (3.1) and S7 (3.2.3) under a race: the high of Saturday 24 October 2026 and the very
    high of Thursday 29 October sent at once (the case lock decides which is written first,
    the other is a back-fill or not) give the same steps as the two sent in time order: one
    discussion due 24 hours after the high, one referral, no duplicate."""
    records = [("rosh", "high", "2026-10-24T11:00:00+01:00"),
               ("rosh", "very_high", "2026-10-29T10:00:00Z")]
    in_order, _ = await _both_orders(somerset, records)
    raced = (await somerset.open_case(opened_at="2026-03-02T09:00:00Z"))["data"]["id"]
    await asyncio.gather(*[_judge(somerset, raced, *record) for record in records])
    steps = await _same_outcome(somerset, in_order, raced)
    assert _one(steps, "discuss_with_manager")["due_at"] == "2026-10-25T10:00:00Z"
    assert len([s for s in steps if s["code"] == "refer_to_panel"]) == 1


async def _every_order(t: Tenant, records: list[tuple[str, str, str]]) -> dict[Any, Any]:
    """The outcome (open steps, register, contact level) of ``records`` sent in each order, by
    the order (the records' dates); the first is time order."""
    outcomes = {}
    for order in typing_orders(records):
        case = (await t.open_case(opened_at="2026-03-02T09:00:00Z"))["data"]["id"]
        for record in order:
            await _judge(t, case, *record)
        got = await _case(t, case)
        outcomes[tuple(r[2][:10] for r in order)] = (
            _shape(await _steps(t, case)), got["on_register"], got["contact_level"])
    return outcomes


async def test_W7_W9_W12_every_order_of_four_judgements_gives_the_same_steps(
        wokingham: Tenant) -> None:
    """W7 ("within two working days of 1. Assessing a child as high or very high ROSH"), W9
    ("within two working days of the assessment being completed the PYJS case worker must
    complete a MARF referral"), W12 (the risk management plan when a domain is medium or
    above), W11 (contact) and W23: SWB high on Friday 22 May 2026 16:00 BST (spring bank
    holiday Monday 25 May), ROSH high on Tuesday 26 May, SWB low on Monday 1 June, ROSH very
    high on Wednesday 3 June, sent in each of the 24 orders: the same open steps (the plan
    cites the SWB paragraph that asked for it first), deadlines, register and contact level."""
    outcomes = await _every_order(wokingham, [
        ("swb", "high", "2026-05-22T16:00:00+01:00"),
        ("rosh", "high", "2026-05-26T10:00:00+01:00"),
        ("swb", "low", "2026-06-01T10:00:00+01:00"),
        ("rosh", "very_high", "2026-06-03T10:00:00+01:00")])
    first = next(iter(outcomes.values()))
    assert [order for order, got in outcomes.items() if got != first] == []
    steps = {s[0]: s for s in first[0]}
    assert steps["request_high_risk_panel"][5] == "2026-05-28T22:59:59Z"  # Tue 26 + 2wd
    assert steps["update_risk_management_plan"][2] == \
        "Management of Safety and Well-being concerns"
    assert "marf_referral" not in steps  # lapsed with the SWB low
    assert first[1:] == (True, "three_times_weekly")


async def test_S5_S9_S11_every_order_of_four_judgements_gives_the_same_steps(
        somerset: Tenant) -> None:
    """S5 (3.1, "discussed ... (within 24 hours)"), S9 (3.2.4, child protection referral at
    once), S11 (4.5, "at least monthly"), S7, S12, S13: SWB high on Friday 28 August 2026 15:30
    BST (late-summer bank holiday Monday 31 August), ROSH medium on Tuesday 1 September, SWB
    very high on Thursday 3 September, ROSH high on Monday 7 September, sent in each of the
    24 orders: the same open steps and deadlines (the discussion 24 hours after the first
    high, the review a month after it, the referral at the very high), register and contact."""
    outcomes = await _every_order(somerset, [
        ("swb", "high", "2026-08-28T15:30:00+01:00"),
        ("rosh", "medium", "2026-09-01T10:00:00+01:00"),
        ("swb", "very_high", "2026-09-03T10:00:00+01:00"),
        ("rosh", "high", "2026-09-07T10:00:00+01:00")])
    first = next(iter(outcomes.values()))
    assert [order for order, got in outcomes.items() if got != first] == []
    steps = {s[0]: s for s in first[0]}
    assert steps["discuss_with_manager"][5] == "2026-08-29T14:30:00Z"
    assert steps["monthly_manager_review"][5] == "2026-09-28T14:30:00Z"
    assert steps["child_protection_referral"][5:7] == ("2026-09-03T09:00:00Z", True)
    assert first[1] is True
