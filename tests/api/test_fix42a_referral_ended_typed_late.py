"""fix42a: a referral's withdrawal (or a panel's or agency's decline) typed in after an act
dated after it (fix41c's open end).

A referral counts until its ``ended_at`` (fix41c). A judgement dated after the withdrawal finds
no referral standing, in time order, and asks for what a case without one owes. Typed in before
the withdrawal, the judgement found the referral standing: it raised nothing, or the referral
typed in after it hid what it raised (superseded at its own instant, fix41c), and the withdrawal
asked for nothing, so no step was left open. Now the withdrawal (or decline) evaluates again the
acts dated at or after it, as they stand without the referral. A row the referral hid stays
hidden and untouched, and the duty is owed in a fresh step from the act's date, so the visible
record (:func:`tests.api.order_support.visible_steps`) is time order's in every typing order.

Dates: MARP referral and High ROSH on Tue 24, Wed 25 and Thu 26 Nov 2026, 10:00 (GMT); the
MAPPA A form and the Very High in August 2026 (BST), as fix40c and fix41c.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.test_fix41c_referral_times import (
    AUGUST,
    NOVEMBER,
    THU,
    TUE,
    VIEWS,
    WED,
    _every_order,
    _high,
    _referral,
    _steps,
)
from tests.conftest import Tenant

BY = {"withdraw": "case_holder", "decline": "line_manager"}


def _ended(action: str, at: str) -> Any:
    """The referral withdrawn by its case holder, or declined by a manager, at ``at``."""
    async def act(t: Tenant, case: str, state: dict[str, Any]) -> None:
        r = await t.client.post(f"/v1/referrals/{state['referral']}/{action}",
                                json={"occurred_at": at, "note": "No longer going ahead"},
                                headers=t.auth(BY[action]))
        assert r.status_code == 200, r.text
        state["ended"] = r.json()["data"]
    return act


def _made(kind: str, at: str, *moves: str, details: dict[str, Any] | None = None) -> Any:
    async def act(t: Tenant, case: str, state: dict[str, Any]) -> None:
        state["referral"] = await _referral(t, case, kind, at, *moves, details=details)
    return act


def _after_referral(order: tuple[str, ...]) -> bool:
    """The referral is typed in before the act that ends it."""
    return order.index("end") > order.index("referral")


@pytest.mark.parametrize("action", ["withdraw", "decline"])
async def test_S7_S8_high_after_the_panel_referral_ended_owes_both_typed_in_any_order(
        client: Any, settings: Any, action: str) -> None:
    """Somerset 3.2.3 "The case holder will refer the case to the next YJT MARP by contacting
    the appropriate administrator and completion of section 1 of the MARP referral form"; 6.2
    "Child and parent/carer views will be sought before the initial panel and be included in
    the MARP referral form". The MARP referral submitted (and sent) with the views on Tue 24 Nov
    2026 10:00 was withdrawn, or declined, on Wed 25 Nov 10:00. The High ROSH of Thu 26 Nov
    10:00 finds no referral standing, so S7 and S8 are owed (open) from the 26th, whatever order
    the three are typed in. Before, typed with the withdrawal after the High, none was open."""
    moves = ("submit",) if action == "withdraw" else ("submit", "send")
    record, runs = await _every_order(client, settings, {
        "referral": _made("panel", TUE, *moves, details=VIEWS), "end": _ended(action, WED),
        "judgement": _high(THU)}, ("S7", "S8"), NOVEMBER, "2026-11-02T09:00:00Z",
        allowed=_after_referral)
    rows, history, report = record
    none_booked = ["Due at the next Multi-Agency Risk Panel (MARP); none scheduled."]
    assert rows == [
        ("S7", "refer_to_panel", "case_holder", "open", THU, None, None, None, none_booked),
        ("S8", "seek_child_and_carer_views", "case_holder", "open", THU, None, None, None,
         none_booked)]
    assert history == [(THU, "created", "S7", "refer_to_panel"),
                       (THU, "created", "S8", "seek_child_and_carer_views")]
    assert [(row["rule"], row["no_timescale"]) for row in report["rows"]] == [
        ("S7", 1), ("S8", 1)]
    for _t, _case, state in runs.values():
        assert state["ended"]["ended_at"] == WED
    # Typed High, referral, end: the two rows the referral hid stay hidden and untouched.
    t, case, state = runs[("judgement", "referral", "end")]
    hidden = [s for s in await _steps(t, case, "S7", "S8") if s["status"] == "superseded"]
    made = f"Never raised: the panel referral {state['referral']} was made {TUE}, before the act"
    assert sorted((s["policy"]["rule"], s["raised_at"], s["note"].splitlines()[-1])
                  for s in hidden) == [
        ("S7", THU, f"{made} that raised it (S7, refer_to_panel) found it not yet made"),
        ("S8", THU, f"{made} that raised it (S8, seek_child_and_carer_views) found it not yet "
                    "made")]


@pytest.mark.parametrize("action", ["withdraw", "decline"])
async def test_S10_very_high_after_the_mappa_a_form_ended_owes_it_typed_in_any_order(
        client: Any, settings: Any, action: str) -> None:
    """Somerset 7.1.9 "The MARP will decide if cases with Very High ROSH judgements need to be
    referred to MAPPA 2, unless this has already been done"; 8.3.3 "Referral to MAPPA 2 is
    achieved by sending a 'MAPPA A' Referral form". The form sent on Wed 5 Aug 2026 10:00 was
    withdrawn, or declined, on Fri 7 Aug 10:00: when the Very High of Mon 10 Aug 10:00 is
    judged it has not been done, so S10 is owed (open) from the 10th, whatever order the three
    are typed in. Before, typed with the withdrawal after the Very High, none was open."""
    vh = "2026-08-10T09:00:00Z"
    record, runs = await _every_order(client, settings, {
        "referral": _made("mappa_a", "2026-08-05T10:00:00+01:00", "submit", "send"),
        "end": _ended(action, "2026-08-07T10:00:00+01:00"),
        "judgement": _high("2026-08-10T10:00:00+01:00", "very_high")},
        ("S10",), AUGUST, "2026-08-03T09:00:00+01:00", allowed=_after_referral)
    rows, history, report = record
    assert [(row[0], row[1], row[3], row[4], row[6]) for row in rows] == [
        ("S10", "identify_mappa_level", "open", vh, None)]
    assert history == [(vh, "created", "S10", "identify_mappa_level")]
    assert [row["rule"] for row in report["rows"]] == ["S10"]
    for _t, _case, state in runs.values():
        assert state["ended"]["ended_at"] == "2026-08-07T09:00:00Z"
    t, case, state = runs[("judgement", "referral", "end")]
    hidden = [s for s in await _steps(t, case, "S10") if s["status"] == "superseded"]
    assert [(s["raised_at"], s["note"].splitlines()[-1]) for s in hidden] == [
        (vh, f"Never raised: the mappa_a referral {state['referral']} was sent "
             f"2026-08-05T09:00:00Z, before the act that raised it (S10, identify_mappa_level) "
             f"found it not yet sent")]


async def test_S7_S8_high_at_the_withdrawals_instant_owes_both_typed_in_any_order(
        client: Any, settings: Any) -> None:
    """Somerset 3.2.3, 6.2 (as above): the MARP referral submitted with the views on Tue 24 Nov
    2026 10:00 was withdrawn on Thu 26 Nov 10:00, the instant of the High ROSH. At one instant
    the referrals come before the judgements (docs §7), so the High finds no referral standing
    and S7 and S8 are owed (open) from then, whatever order the three are typed in."""
    record, _ = await _every_order(client, settings, {
        "referral": _made("panel", TUE, "submit", details=VIEWS),
        "end": _ended("withdraw", THU), "judgement": _high(THU)}, ("S7", "S8"), NOVEMBER,
        "2026-11-02T09:00:00Z", allowed=_after_referral)
    rows, history, _ = record
    assert [(row[0], row[3], row[4]) for row in rows] == [("S7", "open", THU),
                                                          ("S8", "open", THU)]
    assert history == [(THU, "created", "S7", "refer_to_panel"),
                       (THU, "created", "S8", "seek_child_and_carer_views")]
