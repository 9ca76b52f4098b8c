"""ATTACK35B-3 (fix36c): a recurring step's occurrence dates when a judgement is dated before a
panel's decision (Somerset's MARP, Wokingham's High-Risk Panel) and typed in any order.

Somerset 4.5 (S11): "It is the responsibility of line managers to review all cases where there
is a High or Very High ROSH and/or Safety and Well-Being rating with case holders at least
monthly"; 9 (S41): the High/Very High list "will be discussed monthly". Each is ``every 1m``:
due a month after the act that raised or last completed it (policy-rules.md), for as long as
the rating holds; a step whose condition stops holding is superseded, and the next act that
makes it hold raises it again, due a month after that act.

Time order is the record. A case judged high on Tue 3 Nov 2026, referred to the MARP on
Wed 4 Nov (the referral live until the MARP hears it, so the case stays on the agenda of the
MARP of Mon 23 Nov 10:00Z whatever its rating), lowered to medium on Fri 20 Nov: the
lowering ends its monthly reviews, and the MARP's high of 23 Nov raises them again, due Wed 23
Dec. Typed the other way round (the MARP's decision first, then the lowering dated before it)
the lowering was checked on today's steps, where the review the MARP booked made it one the
panel must approve (Somerset M6, 7.2.1: true of no step open on 20 Nov); failing that check it
was kept as history only, lapsed nothing, and the reviews stayed those of 3 Nov, due 3 Dec.
A lowering is now checked on the steps open at its own moment, as typed in time order, and
applied as time order did; an act already recorded and evaluated again after it (a judgement
of the other domain) likewise; and the latest judgement of its domain dated before a later
judgement of the other lapses what lapsed at its moment (the replay of the later one raises it
again from its own date).

Wokingham's monthly steps (W19: "For MAPPA Level 1 children, High Risk Panels should be held
monthly"; W30: "Monthly line supervision, including case discussion, at least monthly") were
already the same in either order (no check there reads the steps open); their tests keep them
so.
"""

from __future__ import annotations

from typing import Any

from tests.api.act_order_support import (
    HOLDER,
    MANAGER,
    book_sitting,
    decide_item,
    judgement_body,
    rate,
    record,
    the_record,
)
from tests.conftest import Tenant
from tests.orders import typing_orders

HIGH_AT, REFERRED_AT, SAT = "2026-11-03T10:00:00Z", "2026-11-04T10:00:00Z", \
    "2026-11-23T10:00:00Z"
PANEL = {"somerset-yjt-2023": "marp", "wokingham-pyjs-2024": "high_risk_panel"}
MONTHLY = ("monthly_manager_review", "discuss_register_monthly", "high_risk_panel_review",
           "monthly_line_supervision")

Act = tuple[Any, ...]


def judged(domain: str, level: str, at: str) -> Act:
    """The case holder's judgement of ``domain`` at ``level`` dated ``at``."""
    return ("judgement", at, domain, level)


def decided(**levels: Any) -> Act:
    """The panel's decision on the case at its sitting of 23 Nov (``levels``: rosh_level,
    swb_level, mappa_level); a review on Mon 21 Dec when a domain stays high, an action due
    Fri 18 Dec."""
    return ("decision", SAT, tuple(sorted(levels.items())))


def somerset_monthly(due: str) -> list[tuple[Any, ...]]:
    """S41's and S11's open steps due at ``due``."""
    return [("discuss_register_monthly", "chair", None, due, "S41", "9"),
            ("monthly_manager_review", "line_manager", MANAGER, due, "S11", "4.5")]


async def _refer(t: Tenant, case_id: str) -> None:
    """A panel referral made on 4 Nov and left live (Somerset: submitted and sent; Wokingham:
    submitted)."""
    details = {"child_views": "Wants to be heard", "carer_views": "Supportive"} \
        if t.pack.startswith("som") else {}
    r = await t.client.post(f"/v1/cases/{case_id}/referrals", json={
        "kind": "panel", "occurred_at": REFERRED_AT, "details": details},
        headers=t.auth("case_holder"))
    assert r.status_code == 201, r.text
    moves = ("submit", "send") if t.pack.startswith("som") else ("submit",)
    for action in moves:
        r = await t.client.post(f"/v1/referrals/{r.json()['data']['id']}/{action}",
                                json={"occurred_at": "2026-11-04T11:00:00Z"},
                                headers=t.auth("case_holder"))
        assert r.status_code == 200, r.text


async def _on_the_agenda(t: Tenant, start: tuple[tuple[str, str], ...], referred: bool,
                         **opening: Any) -> tuple[str, tuple[str, str]]:
    """A case opened Mon 2 Nov 2026 (``opening``: more of its fields), judged ``start``
    ((domain, level) pairs) on 3 Nov, ``referred`` to the panel on 4 Nov, on the agenda of
    the pack's panel sitting at 23 Nov; (case id, (panel id, item id))."""
    case = (await t.open_case(opened_at="2026-11-02T09:00:00Z", **opening))["data"]["id"]
    for domain, level in start:
        await record(t, case, rate(level, HIGH_AT, domain=domain))
    if referred:
        await _refer(t, case)
    return case, await book_sitting(t, case, PANEL[t.pack], SAT)


async def _type(t: Tenant, case: str, sitting: tuple[str, str], act: Act) -> int:
    """Record ``act``; its status code."""
    if act[0] == "judgement":
        _, at, domain, level = act
        body = judgement_body(domain, level, at)
        if t.pack.startswith("wok"):
            body.setdefault("victims", ["ex-partner"])
        r = await t.client.post(f"/v1/cases/{case}/judgements", json=body,
                                headers=t.auth("case_holder"))
    else:
        levels = dict(act[2])
        body = {**levels, "minutes": "Discussed",
                "actions": [{"description": "Review the plan", "owner_id": HOLDER,
                             "due_date": "2026-12-18"}]}
        if {levels.get("rosh_level"), levels.get("swb_level")} & {"high", "very_high"}:
            body["review_date"] = "2026-12-21"
        r = await decide_item(t, sitting, act[1], body)
    return r.status_code


async def every_order(t: Tenant, acts: list[Act], start: tuple[tuple[str, str], ...],
                      referred: bool = True, **opening: Any
                      ) -> dict[tuple[str, ...], tuple[list[int], Any]]:
    """``acts`` (given in time order) typed in every order, each on a case of its own: by the
    order (each act's time and kind), the status of each act (in time order) and the record;
    the first is time order."""
    outcomes = {}
    for order in typing_orders(acts):
        case, sitting = await _on_the_agenda(t, start, referred, **opening)
        statuses = {act: await _type(t, case, sitting, act) for act in order}
        label = tuple(f"{a[1][5:10]} {a[0]} {a[2] if a[0] == 'judgement' else ''}".strip()
                      for a in order)
        outcomes[label] = ([statuses[a] for a in acts], await the_record(t, case))
    return outcomes


def monthly(outcome: tuple[list[int], Any]) -> list[tuple[Any, ...]]:
    """The recurring steps open in a record."""
    return [s for s in outcome[1][0] if s[0] in MONTHLY]


def assert_time_order(outcomes: dict[tuple[str, ...], tuple[list[int], Any]],
                      statuses: list[int], steps: list[tuple[Any, ...]]) -> None:
    """Every order: the acts' ``statuses`` (in time order), the recurring ``steps`` open, and
    time order's whole record (open steps, ratings, register)."""
    first = next(iter(outcomes.values()))
    for order, outcome in outcomes.items():
        assert (outcome[0], monthly(outcome)) == (statuses, steps), order
        assert outcome[1] == first[1], order


async def test_S11_S41_rosh_lowered_before_a_marp_the_case_was_referred_to_either_order(
        somerset: Tenant) -> None:
    """S11 (Somerset 4.5): "It is the responsibility of line managers to review all cases where
    there is a High or Very High ROSH and/or Safety and Well-Being rating with case holders at
    least monthly"; S41 (9): the list "will be discussed monthly". ROSH high Tue 3 Nov 2026,
    the MARP referral live from 4 Nov, the case holder's medium dated Fri 20 Nov, the MARP of
    Mon 23 Nov keeping high: in either order the reviews are the MARP's high's, due Wed 23
    Dec (before: typed decision first, those of 3 Nov, due Thu 3 Dec)."""
    outcomes = await every_order(somerset, [judged("rosh", "medium", "2026-11-20T10:00:00Z"),
                                            decided(rosh_level="high")], (("rosh", "high"),))
    assert_time_order(outcomes, [201, 200], somerset_monthly("2026-12-23T10:00:00Z"))


async def test_S11_S41_rosh_lowered_to_low_before_a_marp_deciding_very_high_either_order(
        somerset: Tenant) -> None:
    """S11 (Somerset 4.5): "review all cases where there is a High or Very High ROSH and/or
    Safety and Well-Being rating with case holders at least monthly". ROSH high 3 Nov 2026,
    referred 4 Nov, the case holder's low dated Fri 20 Nov, the MARP of Mon 23 Nov deciding
    very high: in either order the reviews are due Wed 23 Dec."""
    outcomes = await every_order(somerset, [judged("rosh", "low", "2026-11-20T10:00:00Z"),
                                            decided(rosh_level="very_high")],
                                 (("rosh", "high"),))
    assert_time_order(outcomes, [201, 200], somerset_monthly("2026-12-23T10:00:00Z"))


async def test_S11_S41_swb_lowered_before_a_marp_the_case_was_referred_to_either_order(
        somerset: Tenant) -> None:
    """S11 (Somerset 4.5): "... a High or Very High ROSH and/or Safety and Well-Being rating
    ... at least monthly". SWB high (no ROSH) 3 Nov 2026, referred 4 Nov, the case holder's SWB
    medium dated Fri 20 Nov, the MARP of Mon 23 Nov keeping SWB high: in either order the
    reviews are due Wed 23 Dec."""
    outcomes = await every_order(somerset, [judged("swb", "medium", "2026-11-20T10:00:00Z"),
                                            decided(swb_level="high")], (("swb", "high"),))
    assert_time_order(outcomes, [201, 200], somerset_monthly("2026-12-23T10:00:00Z"))


async def test_S11_S41_rosh_lowered_before_a_marp_deciding_swb_either_order(
        somerset: Tenant) -> None:
    """S11 (Somerset 4.5): "... a High or Very High ROSH and/or Safety and Well-Being rating
    ... at least monthly". ROSH high 3 Nov 2026, referred 4 Nov, the case holder's ROSH medium
    dated Fri 20 Nov, the MARP of Mon 23 Nov rating SWB high (the ROSH medium, typed after it,
    is the latest ROSH but dated before the SWB's rating): in either order the reviews are the
    MARP's SWB high's, due Wed 23 Dec."""
    outcomes = await every_order(somerset, [judged("rosh", "medium", "2026-11-20T10:00:00Z"),
                                            decided(swb_level="high")], (("rosh", "high"),))
    assert_time_order(outcomes, [201, 200], somerset_monthly("2026-12-23T10:00:00Z"))


async def test_S11_S41_both_domains_lowered_before_a_marp_every_order(
        somerset: Tenant) -> None:
    """S11 (Somerset 4.5): "... a High or Very High ROSH and/or Safety and Well-Being rating
    ... at least monthly". ROSH and SWB high 3 Nov 2026, referred 4 Nov; ROSH medium dated Thu
    19 Nov (SWB still high: the reviews go on), SWB medium dated Fri 20 Nov (they end), the
    MARP of Mon 23 Nov keeping both high: in all six orders the reviews are due Wed 23 Dec."""
    outcomes = await every_order(somerset, [
        judged("rosh", "medium", "2026-11-19T10:00:00Z"),
        judged("swb", "medium", "2026-11-20T10:00:00Z"),
        decided(rosh_level="high", swb_level="high")], (("rosh", "high"), ("swb", "high")))
    assert len(outcomes) == 6
    assert_time_order(outcomes, [201, 201, 200], somerset_monthly("2026-12-23T10:00:00Z"))


async def test_S11_S41_rosh_lowered_then_swb_raised_before_a_marp_every_order(
        somerset: Tenant) -> None:
    """S11 (Somerset 4.5): "... a High or Very High ROSH and/or Safety and Well-Being rating
    ... at least monthly". ROSH high 3 Nov 2026, referred 4 Nov; ROSH medium dated Thu 19 Nov
    (the reviews end), SWB high dated Fri 20 Nov (they start again), the MARP of Mon 23 Nov
    keeping ROSH high: in all six orders the reviews are the SWB high's, due Sun 20 Dec."""
    outcomes = await every_order(somerset, [
        judged("rosh", "medium", "2026-11-19T10:00:00Z"),
        judged("swb", "high", "2026-11-20T10:00:00Z"),
        decided(rosh_level="high")], (("rosh", "high"),))
    assert_time_order(outcomes, [201, 201, 200], somerset_monthly("2026-12-20T10:00:00Z"))


async def test_S11_S41_rosh_lowered_and_raised_again_before_a_marp_every_order(
        somerset: Tenant) -> None:
    """S11 (Somerset 4.5): "... a High or Very High ROSH and/or Safety and Well-Being rating
    ... at least monthly". ROSH high 3 Nov 2026, referred 4 Nov; medium dated Tue 10 Nov (the
    reviews end), high again dated Thu 19 Nov (they start again), the MARP of Mon 23 Nov
    keeping high: in all six orders the reviews are the high of 19 Nov's, due Sat 19 Dec."""
    outcomes = await every_order(somerset, [
        judged("rosh", "medium", "2026-11-10T10:00:00Z"),
        judged("rosh", "high", "2026-11-19T10:00:00Z"),
        decided(rosh_level="high")], (("rosh", "high"),))
    assert_time_order(outcomes, [201, 201, 200], somerset_monthly("2026-12-19T10:00:00Z"))


async def test_S11_S41_rosh_lowered_before_a_later_swb_high_either_order(
        somerset: Tenant) -> None:
    """S11 (Somerset 4.5): "... a High or Very High ROSH and/or Safety and Well-Being rating
    ... at least monthly". The same without the MARP's decision (the sitting of 23 Nov still
    to come): ROSH high 3 Nov 2026, referred 4 Nov; ROSH medium dated Thu 19 Nov, SWB high
    dated Fri 20 Nov: in either order the reviews are the SWB high's, due Sun 20 Dec (before:
    typed SWB first, those of 3 Nov, due 3 Dec)."""
    outcomes = await every_order(somerset, [
        judged("rosh", "medium", "2026-11-19T10:00:00Z"),
        judged("swb", "high", "2026-11-20T10:00:00Z")], (("rosh", "high"),))
    assert_time_order(outcomes, [201, 201], somerset_monthly("2026-12-20T10:00:00Z"))


async def test_W19_W30_rosh_lowered_before_the_high_risk_panel_either_order(
        wokingham: Tenant) -> None:
    """W19 (Wokingham, Referrals into MAPPA): "For MAPPA Level 1 children, High Risk Panels
    should be held monthly"; W30 (Management oversight): "Monthly line supervision, including
    case discussion, at least monthly". A MAPPA level 1 case (category 2) judged ROSH high on
    Tue 3 Nov 2026, on the agenda of the High-Risk Panel of Mon 23 Nov; the case worker's
    medium dated Fri 20 Nov and the panel's decision of 23 Nov (ROSH high, MAPPA level 1), in
    either order: the panel's monthly review from its decision (Wed 23 Dec), the monthly
    supervision from the first judgement (Thu 3 Dec)."""
    outcomes = await every_order(
        wokingham, [judged("rosh", "medium", "2026-11-20T10:00:00Z"),
                    decided(rosh_level="high", mappa_level=1)],
        (("rosh", "high"),), referred=False, mappa_category=2, mappa_level=1)
    assert_time_order(outcomes, [201, 200], [
        ("high_risk_panel_review", "chair", None, "2026-12-23T10:00:00Z", "W19",
         "Referrals into MAPPA"),
        ("monthly_line_supervision", "line_manager", MANAGER, "2026-12-03T10:00:00Z", "W30",
         "Management oversight")])


async def test_W30_first_judgement_before_the_high_risk_panel_either_order(
        wokingham: Tenant) -> None:
    """W30 (Wokingham, Management oversight): "Monthly line supervision, including case
    discussion, at least monthly", from the child's first judgement. A case referred to the
    High-Risk Panel on Wed 4 Nov 2026 before any rating, on the agenda of the panel of Mon 23
    Nov; the case worker's ROSH high dated Fri 20 Nov and the panel's decision of 23 Nov
    keeping high, in either order: the supervision is due a month after the high, Sun 20
    Dec."""
    outcomes = await every_order(
        wokingham, [judged("rosh", "high", "2026-11-20T10:00:00Z"), decided(rosh_level="high")],
        ())
    assert_time_order(outcomes, [201, 200], [
        ("monthly_line_supervision", "line_manager", MANAGER, "2026-12-20T10:00:00Z", "W30",
         "Management oversight")])
