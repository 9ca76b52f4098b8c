"""fix37a (attack 36, ATTACK36-1, ATTACK36-2): a sitting that has already decided the case
answers nothing asked after its decision, and no ``next-panel`` step asked then is due at it.

Somerset 7.1.9: "The MARP will decide if cases with Very High ROSH judgements need to be referred
to MAPPA 2, unless this has already been done" (S10, the chair's, "by the next MARP"); 3.2.4:
"'Very High' judgements will trigger the case being dealt with as a priority at all stages. The
case holder will refer the case to the next YJT MARP" (S7's second line, for a case whose MARP
review is booked). docs/integrating.md §7: at one instant the panels' decisions come before the
judgements, so a Very High dated at the MARP's decision came after the MARP had decided: it is
for the next MARP. It was due at the sitting that had decided (born overdue, then counted late
when the next MARP decided), and the refer-back was done at its birth by the decided agenda item
(judgement typed after the decision) or never asked (typed before it); typed either way, the
record is now the same: S10 and the refer-back open, due at the next MARP.

Dates: Tue 24 Nov 2026 (London on GMT, no bank holiday near); case opened Mon 2 Nov; the case
holder's own ROSH high at 08:00; the MARP sits at 09:00 with the case on its agenda and decides
at 09:00 (keeps High, review on 15 Dec); the next MARP is booked for Tue 1 Dec at 09:00.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.act_order_support import book_sitting, decide_item, judgement_body
from tests.api.integrity_support import book_panel
from tests.api.order_support import DAY, decided, high_on_the_days_marp, own, record
from tests.conftest import Tenant, make_tenant

KEEPS_HIGH = {"rosh_level": "high", "review_date": "2026-12-15"}
SITTING = f"{DAY}09:00:00Z"
NEXT_MARP = "2026-12-01T09:00:00Z"


async def _steps(t: Tenant, case_id: str, *rules: str) -> list[tuple[Any, ...]]:
    """The case's steps of ``rules`` in any status, sorted: (rule, code, actor, status, due,
    ref, completed_by, completed_at)."""
    found = []
    for status in ("open", "done", "superseded"):
        r = await t.client.get("/v1/next-steps", params={
            "case_id": case_id, "status": status, "limit": 200}, headers=t.auth("line_manager"))
        assert r.status_code == 200, r.text
        found += [(s["policy"]["rule"], s["code"], s["actor"], s["status"], s["due_at"],
                   s["policy"]["ref"], s["completed_by"], s["completed_at"])
                  for s in r.json()["data"] if s["policy"]["rule"] in rules]
    return sorted(found, key=repr)


async def _very_high_at_the_decision(client: Any, settings: Any, decision_first: bool
                                     ) -> tuple[Tenant, str, str, list[tuple[Any, ...]]]:
    """A fresh Somerset service (sittings are the service's: one order's 09:00 MARP would be
    the next for another's case), the next MARP booked, the 09:00 MARP's decision and the
    case holder's Very High of 09:00 typed in the order given: (tenant, case, the next MARP,
    the case's S7 and S10 steps)."""
    t = await make_tenant(client, settings, "somerset-yjt-2023")
    upcoming = await book_panel(t, NEXT_MARP)
    case = (await t.open_case(opened_at="2026-11-02T09:00:00Z"))["data"]["id"]
    urls = await high_on_the_days_marp(t, case)
    acts = [decided("09:00", **KEEPS_HIGH), own("09:00", "rosh", "very_high")]
    for act in acts if decision_first else acts[::-1]:
        await record(t, case, act, urls)
    return t, case, upcoming, await _steps(t, case, "S7", "S10")


OWED_TO_THE_NEXT_MARP = [
    # The first referral (the 08:00 high), answered by putting the case on the 09:00 agenda.
    ("S7", "refer_to_panel", "case_holder", "done", SITTING, "3.2.3, 3.2.4", "panel_admin-1"),
    # The Very High of 09:00, after the 09:00 MARP had decided: refer back to the next MARP.
    ("S7", "refer_to_panel", "case_holder", "open", NEXT_MARP, "3.2.4", None),
    ("S10", "identify_mappa_level", "chair", "open", NEXT_MARP, "7.1.9, 3.2.4", None),
]


async def test_S10_S7_very_high_at_the_decision_instant_are_owed_to_the_next_marp_either_order(
        client: Any, settings: Any) -> None:
    """Somerset 7.1.9 "The MARP will decide if cases with Very High ROSH judgements need to be
    referred to MAPPA 2" (S10, the chair, by the next MARP) and 3.2.4 "The case holder will
    refer the case to the next YJT MARP" (S7, the case holder, the review booked). The MARP
    decided at 09:00 (High kept, review booked); the Very High dated 09:00 comes after it (§7).
    Typed after or before the decision: S10 open, the chair's, due at the next MARP (Tue 1 Dec
    09:00), 7.1.9 and 3.2.4; the refer-back open, the case holder's, due then, 3.2.4; the
    decided agenda item did not do it. ATTACK36-1: S10 was due at the 09:00 sitting already
    decided; ATTACK36-2: the refer-back was created done by the decided item (decision first)
    or absent (judgement first)."""
    got = {}
    for decision_first in (True, False):
        _t, _case, _next, steps = await _very_high_at_the_decision(client, settings, decision_first)
        got[decision_first] = [s[:7] for s in steps]
    assert got[True] == got[False] == sorted(OWED_TO_THE_NEXT_MARP, key=repr)


async def test_S10_the_next_marp_decides_it_on_time(client: Any, settings: Any) -> None:
    """Somerset 7.1.9 (S10, "by the next MARP"), 3.2.4 (refer back to the next MARP): the case
    put on the agenda of the MARP of Tue 1 Dec (the referral made) and that MARP deciding at its
    sitting keeping Very High: S10 done by its chair at 1 Dec 09:00, not late (it was counted
    late, due at the 24 Nov sitting that had already decided: ATTACK36-1); the refer-back done
    by the case put on that agenda."""
    t, case, upcoming, _ = await _very_high_at_the_decision(client, settings,
                                                            decision_first=False)
    r = await t.client.post(f"/v1/panels/{upcoming}/items", json={
        "case_id": case, "presenter_id": "case_holder-1"}, headers=t.auth("panel_admin"))
    assert r.status_code == 201, r.text
    r = await decide_item(t, (upcoming, r.json()["data"]["id"]), NEXT_MARP, {
        "rosh_level": "very_high", "review_date": "2027-01-12", "actions": [],
        "minutes": "MARP: ROSH very high; no MAPPA 2 referral"})
    assert r.status_code == 200, r.text
    s10 = [s for s in await _steps(t, case, "S10") if s[4] == NEXT_MARP]
    assert s10 == [("S10", "identify_mappa_level", "chair", "done", NEXT_MARP, "7.1.9, 3.2.4",
                    "chair-1", NEXT_MARP)]
    refer_back = [s for s in await _steps(t, case, "S7") if s[5] == "3.2.4"]
    assert [s[3] for s in refer_back] == ["done"]
    # Done at the sitting it was due at: not overdue, not late.
    r = await t.client.get("/v1/next-steps", params={"case_id": case, "status": "done",
                                                     "limit": 200},
                           headers=t.auth("line_manager"))
    done = [s for s in r.json()["data"] if s["policy"]["rule"] == "S10"]
    assert all(s["completed_at"] <= s["overdue_at"] for s in done), done


@pytest.mark.parametrize("decision_first", [False, True], ids=["time_order", "decision_first"])
async def test_S10_very_high_a_minute_before_a_decision_on_file_is_done_by_it(
        somerset: Tenant, decision_first: bool) -> None:
    """Somerset 7.1.9 "The MARP will decide if cases with Very High ROSH judgements need to be
    referred to MAPPA 2": a Very High dated 08:59 comes before the MARP's decision of 09:00
    (SWB High, ROSH not re-rated, no MAPPA level): that decision on the case is 7.1.9's, and
    does S10, in the chair's name at 09:00, typed before or after it. Typed after it, S10 was
    left open (a decision on file answered only some codes; the last session's leftover)."""
    t = somerset
    case = (await t.open_case(opened_at="2026-11-02T09:00:00Z"))["data"]["id"]
    urls = await high_on_the_days_marp(t, case)
    acts = [own("08:59", "rosh", "very_high"),
            decided("09:00", swb_level="high", review_date="2026-12-15")]
    for act in acts[::-1] if decision_first else acts:
        await record(t, case, act, urls)
    assert [s[1:] for s in await _steps(t, case, "S10")] == [
        ("identify_mappa_level", "chair", "done", SITTING, "7.1.9, 3.2.4", "chair-1", SITTING)]


# The same kind in the example pack (its Risk Panel meets weekly on Thursday): X8 (5.1) "Refer
# the child to the next Risk Panel" on a high judgement. Thu 26 Nov 2026 the Risk Panel sits at
# 09:00 with the case on its agenda and decides at 09:00; the case holder's High of 09:00 comes
# after that decision (§7): owed to the next Risk Panel (none booked: its meeting day, Thursday
# 3 December, end of the day), not done by the decided agenda item, typed before or after it.
THURSDAY = "2026-11-26T09:00:00Z"


async def test_X8_high_at_the_risk_panel_decision_instant_is_for_the_next_risk_panel(
        client: Any, settings: Any) -> None:
    """Example pack 5.1 (X8): "Refer the child to the next Risk Panel" (the case holder,
    next-panel). The High dated at the Risk Panel's decision is after it: X8 open, due at the
    end of the panel's next meeting day (Thu 3 Dec 2026, none booked), typed after or before the
    decision; the decided agenda item does not do it (ATTACK36-1/-2's twin: it was due at the
    decided sitting and done by its agenda item)."""
    got = {}
    for decision_first in (True, False):
        t = await make_tenant(client, settings, "example-yjs")
        case = (await t.open_case(opened_at="2026-11-02T09:00:00Z"))["data"]["id"]
        await record(t, case, own("08:00", "rosh", "high"))
        sitting = await book_sitting(t, case, "risk_panel", THURSDAY)
        body = {"rosh_level": "high", "review_date": "2026-12-17", "minutes": "Discussed.",
                "attendees": ["chair", "case_holder"], "actions": []}

        async def decide() -> None:
            r = await decide_item(t, sitting, THURSDAY, body)  # noqa: B023
            assert r.status_code == 200, r.text

        async def judge() -> None:
            r = await t.client.post(f"/v1/cases/{case}/judgements",  # noqa: B023
                                    json=judgement_body("rosh", "high", THURSDAY),
                                    headers=t.auth("case_holder"))  # noqa: B023
            assert r.status_code == 201, r.text

        for act in (decide, judge) if decision_first else (judge, decide):
            await act()
        got[decision_first] = [s for s in await _steps(t, case, "X8") if s[3] == "open"]
    assert got[True] == got[False] == [
        ("X8", "refer_to_risk_panel", "case_holder", "open", "2026-12-03T23:59:59Z", "5.1",
         None, None)]
