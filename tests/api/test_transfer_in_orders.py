"""The same dated acts typed in a different order give the same record, for a transfer in
(the ratings the child arrives with from another service) and the service's own judgements
(fix32a, the kind of A30a-13): an incoming rating stands from the arrival until the service's
own judgement of its domain dated at or after the arrival (at its instant too: the case's events
of an instant come first, its judgements after them, docs/integrating.md §7, ATTACK32A-2;
fix34a); one dated before it answers nothing, whatever order the acts are typed in. Each test
types its acts in every order (tests.api.order_support.in_every_order) and checks time order's
record, the open steps' subjects included (ATTACK33-5).

Dates: Tue 24 Nov 2026 (London on GMT; no bank holiday near), the case opened on 2 Nov.
"""

from __future__ import annotations

import pytest

from tests.api.order_support import (
    arrival,
    decided,
    in_every_order,
    own,
    record,
    steps_of,
    subjects_of,
)
from tests.conftest import Tenant

HOLDER, MANAGER = "case_holder-1", "line_manager-1"


async def test_S42_own_medium_before_the_arrival_answers_nothing(somerset: Tenant) -> None:
    """S42 (Somerset 13.1, 13.3, 2.1), S41 (9): "Where a case has a ROSH judgment and/or Safety
    and Well-Being concerns of High or Very high from another YJT, the case will be referred
    into the next available MARP"; "it will not be assumed that other YJT's have similar risk
    management arrangements". Somerset's own medium ROSH on Tue 24 Nov 2026 09:00, the child
    transferred in at high ROSH at 10:00: the medium was made before the child arrived at high,
    so it does not answer it. In every order: on the High/Very High list, discussed monthly
    from the arrival (S41, Thu 24 Dec 10:00), Somerset's own ROSH judgement owed within 4 weeks
    (S42, Tue 22 Dec 10:00), the line manager's monthly review from the arrival (S11)."""
    got = await in_every_order(somerset, [own("09:00", "rosh", "medium"),
                                          arrival("10:00", rosh="high")])
    assert (got.on_register, got.priority, steps_of(got, "discuss_register_monthly"),
            steps_of(got, "record_own_judgement"), steps_of(got, "monthly_manager_review")) == (
        True, False, [("chair", None, "2026-12-24T10:00:00Z", "S41")],
        [("case_holder", HOLDER, "2026-12-22T10:00:00Z", "S42")],
        [("line_manager", MANAGER, "2026-12-24T10:00:00Z", "S11")])


async def test_S42_own_judgement_at_the_arrivals_instant_answers_it(somerset: Tenant) -> None:
    """S42, S41, S11 (Somerset 13.1, 13.3, 9, 4.5, 4.2.1): "Where a case has a ROSH judgment
    ... of High or Very high from another YJT, the case will be referred into the next
    available MARP"; "Case holders must remain alert to the potential for unforeseen changes in
    circumstances requiring a re-classification of ROSH/Safety and Well-being judgement
    ratings" (4.2.1: a judgement is made in the light of what happened at its instant, so the
    case's events of one instant come before its judgements, docs/integrating.md §7). The
    transfer in at high ROSH and Somerset's own medium both dated Tue 24 Nov 2026 10:00: the
    medium is Somerset's own judgement of the child who has arrived, so it answers the
    incoming high (fix34a; before, typed transfer first it answered nothing and the child
    stayed listed with S42 owed, typed medium first it answered it): off the list, no own
    judgement owed, no monthly review, in both orders."""
    got = await in_every_order(somerset, [arrival("10:00", rosh="high"),
                                          own("10:00", "rosh", "medium")])
    assert (got.on_register, steps_of(got, "record_own_judgement"),
            steps_of(got, "discuss_register_monthly"),
            steps_of(got, "monthly_manager_review")) == (False, [], [], [])


async def test_S42_own_swb_at_the_arrivals_instant_answers_the_incoming_swb(
        somerset: Tenant) -> None:
    """S42, S41 (Somerset 13.3, 9, 4.2.1), as above for Safety and Well-Being: "Where a case has
    a ROSH judgment and/or Safety and Well-Being concerns of High or Very high from another
    YJT". Transferred in at very high SWB on Tue 24 Nov 2026 10:00, Somerset's own SWB low at
    the same instant: the low answers it (no own SWB judgement owed, off the list, not a
    priority), in both orders."""
    got = await in_every_order(somerset, [arrival("10:00", swb="very_high"),
                                          own("10:00", "swb", "low")])
    assert (got.on_register, got.priority, steps_of(got, "record_own_judgement"),
            steps_of(got, "discuss_register_monthly")) == (False, False, [], [])


async def test_S41_own_swb_at_the_arrivals_instant_leaves_the_incoming_rosh(
        somerset: Tenant) -> None:
    """S41, S42 (Somerset 9, 13.3): an own judgement answers only its own domain. Transferred
    in at high ROSH on Tue 24 Nov 2026 10:00, Somerset's own SWB low at the same instant: the
    incoming ROSH stands (listed, discussed monthly from Thu 24 Dec 10:00; own ROSH judgement
    owed by Tue 22 Dec 10:00), in both orders."""
    got = await in_every_order(somerset, [arrival("10:00", rosh="high"),
                                          own("10:00", "swb", "low")])
    assert (got.on_register, steps_of(got, "discuss_register_monthly"),
            steps_of(got, "record_own_judgement")) == (
        True, [("chair", None, "2026-12-24T10:00:00Z", "S41")],
        [("case_holder", HOLDER, "2026-12-22T10:00:00Z", "S42")])


async def test_W29_own_medium_at_the_arrivals_instant_answers_the_request(
        wokingham: Tenant) -> None:
    """W29, REG (Wokingham High Risk Panel): "request a High-Risk Panel within two working days
    of ... 2. Becoming aware of a change of circumstances or new incident which is serious
    enough to warrant consideration for an increase of assessed risk levels to high/very high";
    the pack's request "lapses if the PYJS's own ROSH judgement is below high" (that assessment
    is the consideration). Transferred in at high ROSH on Tue 24 Nov 2026 10:00, the PYJS's own
    ROSH medium at the same instant (events first, then judgements): no request, off the
    register, in both orders."""
    got = await in_every_order(wokingham, [arrival("10:00", rosh="high"),
                                           own("10:00", "rosh", "medium")])
    assert (got.on_register, steps_of(got, "request_high_risk_panel")) == (False, [])


async def test_W29_own_high_at_the_arrivals_instant_is_one_request(wokingham: Tenant) -> None:
    """W29, W7 (Wokingham High Risk Panel): "within two working days of 1. Assessing a child as
    high or very high ROSH; 2. Becoming aware of a change of circumstances ...". Transferred in
    at high ROSH on Tue 24 Nov 2026 10:00, the PYJS's own ROSH high at the same instant: the
    arrival comes first and raises the request (W29), the high joins it: one request, due by
    the end of Thu 26 Nov, on the register, in both orders."""
    got = await in_every_order(wokingham, [arrival("10:00", rosh="high"),
                                           own("10:00", "rosh", "high")])
    assert (got.on_register, steps_of(got, "request_high_risk_panel")) == (
        True, [("case_holder", HOLDER, "2026-11-26T23:59:59Z", "W29")])


async def _heard_at_nine(t: Tenant, case_id: str) -> dict[str, str]:
    """Somerset's own ROSH high at 08:00 (the case on the list, so a MARP may take it), a MARP
    at 09:00 with the case on its agenda: the decision's url."""
    await record(t, case_id, own("08:00", "rosh", "high"))
    r = await t.client.post("/v1/panels", json={"kind": "marp", "chair_id": "chair-1",
                                                "scheduled_for": "2026-11-24T09:00:00Z"},
                            headers=t.auth("panel_admin"))
    assert r.status_code == 201, r.text
    panel = r.json()["data"]["id"]
    r = await t.client.post(f"/v1/panels/{panel}/items",
                            json={"case_id": case_id, "presenter_id": HOLDER},
                            headers=t.auth("panel_admin"))
    assert r.status_code == 201, r.text
    return {"decision": f"/v1/panels/{panel}/items/{r.json()['data']['id']}/decision"}


async def test_S41_panel_decision_at_the_arrivals_instant_answers_it(somerset: Tenant) -> None:
    """S41, S42, S11 (Somerset 9, 4.3, 13.3): "Where ratings are downgraded after consultation
    with their line manager/ at MARP, the case holder will revise the ROSH/Safety and
    Well-Being judgement". Somerset's own ROSH high at 08:00 on Tue 24 Nov 2026, the MARP
    sitting at 09:00 with the case on its agenda, the child transferred in at high ROSH at
    10:00 and the panel's decision (ROSH medium) recorded at 10:00: the decision is the
    service's own judgement at the arrival's instant and answers the incoming high: off the
    list, no own judgement owed, no monthly review, in both orders."""
    got = await in_every_order(somerset, [arrival("10:00", rosh="high"),
                                          decided("10:00", rosh_level="medium")],
                               prepare=_heard_at_nine)
    assert (got.ratings["rosh"], got.on_register, steps_of(got, "record_own_judgement"),
            steps_of(got, "discuss_register_monthly"),
            steps_of(got, "monthly_manager_review")) == ("medium", False, [], [], [])


async def test_S41_arrival_at_high_then_own_swb_low_stays_listed(somerset: Tenant) -> None:
    """S41 (Somerset 9, 13.3): "A list of High / Very High ROSH / Safety and Well-Being concerns
    will be maintained by the MARP administrator; this list will be discussed monthly". The
    child transferred in at high ROSH on Tue 24 Nov 2026 10:00, Somerset's own SWB low at 11:00:
    the SWB judgement does not answer the incoming ROSH, so the child stays on the list, its
    monthly discussion due Thu 24 Dec 10:00, in both orders (before, typed SWB first, the case
    was left off the register)."""
    got = await in_every_order(somerset, [arrival("10:00", rosh="high"),
                                          own("11:00", "swb", "low")])
    assert (got.on_register, steps_of(got, "discuss_register_monthly")) == (
        True, [("chair", None, "2026-12-24T10:00:00Z", "S41")])


async def test_W29_arrival_at_high_then_own_swb_low_stays_on_the_register(
        wokingham: Tenant) -> None:
    """W29 (Wokingham High Risk Panel): "request a High-Risk Panel within two working days of
    ... 2. Becoming aware of a change of circumstances or new incident which is serious enough
    to warrant consideration for an increase of assessed risk levels to high/very high"; the
    register counts the other YJS's high until the PYJS's own ROSH judgement. Transferred in at
    high ROSH on Tue 24 Nov 2026 10:00, the PYJS's own SWB low at 11:00: on the register, the
    request owed by the end of Thu 26 Nov, in both orders."""
    got = await in_every_order(wokingham, [arrival("10:00", rosh="high"),
                                           own("11:00", "swb", "low")])
    assert (got.on_register, steps_of(got, "request_high_risk_panel")) == (
        True, [("case_holder", HOLDER, "2026-11-26T23:59:59Z", "W29")])


async def test_W29_own_medium_arrival_at_high_own_high_is_one_request(
        wokingham: Tenant) -> None:
    """W29 (Wokingham High Risk Panel): "It will be the responsibility of the case worker or
    their line manager to request a High-Risk Panel within two working days of 1. Assessing a
    child as high or very high ROSH; 2. Becoming aware of a change of circumstances or new
    incident which is serious enough to warrant consideration for an increase of assessed risk
    levels to high/very high". The PYJS's own ROSH medium on Tue 24 Nov 2026 09:00, the child
    transferred in at high ROSH at 10:00, the PYJS's own high at 11:00: one request, raised by
    the arrival (W29; W7's high joins it), due by the end of Thu 26 Nov, in every order
    (before, typed otherwise, it was labelled W7)."""
    got = await in_every_order(wokingham, [own("09:00", "rosh", "medium"),
                                           arrival("10:00", rosh="high"),
                                           own("11:00", "rosh", "high")])
    assert steps_of(got, "request_high_risk_panel") == [
        ("case_holder", HOLDER, "2026-11-26T23:59:59Z", "W29")]


async def test_W29_arrival_at_high_after_own_high_then_medium(wokingham: Tenant) -> None:
    """W29 (Wokingham High Risk Panel), as above; the request "lapses if the PYJS's own ROSH
    judgement is below high" only when that judgement is made after the arrival. The PYJS's own
    ROSH high on Tue 24 Nov 2026 09:00, medium at 10:00, the child transferred in at high ROSH
    at 11:00: the request is owed from the arrival (by the end of Thu 26 Nov) and the child is
    on the register, in every order (before, typed otherwise, the request was missing)."""
    got = await in_every_order(wokingham, [own("09:00", "rosh", "high"),
                                           own("10:00", "rosh", "medium"),
                                           arrival("11:00", rosh="high")])
    assert (got.on_register, steps_of(got, "request_high_risk_panel")) == (
        True, [("case_holder", HOLDER, "2026-11-26T23:59:59Z", "W29")])


async def test_S11_second_arrival_after_the_first_was_answered(somerset: Tenant) -> None:
    """S11 (Somerset 4.5): "It is the responsibility of line managers to review all cases where
    there is a High or Very High ROSH and/or Safety and Well-Being rating with case holders at
    least monthly"; S41 (9). Transferred in at high ROSH on Tue 24 Nov 2026 09:00, Somerset's
    own ROSH medium at 10:00 (the review and the list lapse), transferred in again at high SWB
    at 11:00: the review and the monthly discussion run from the second arrival (Thu 24 Dec
    11:00), in every order."""
    got = await in_every_order(somerset, [arrival("09:00", rosh="high"),
                                          own("10:00", "rosh", "medium"),
                                          arrival("11:00", swb="high")])
    assert (got.on_register, steps_of(got, "monthly_manager_review"),
            steps_of(got, "discuss_register_monthly")) == (
        True, [("line_manager", MANAGER, "2026-12-24T11:00:00Z", "S11")],
        [("chair", None, "2026-12-24T11:00:00Z", "S41")])


async def test_S11_both_incoming_ratings_answered_by_later_own_judgements(
        somerset: Tenant) -> None:
    """S11 (Somerset 4.5), S41 (9): the review and the list last while a High/Very High rating
    stands. Transferred in at high ROSH and high SWB on Tue 24 Nov 2026 09:00, Somerset's own
    ROSH low at 10:00 and own SWB medium at 11:00: neither incoming rating stands, so no review,
    no monthly discussion and off the register, in every order."""
    got = await in_every_order(somerset, [arrival("09:00", rosh="high", swb="high"),
                                          own("10:00", "rosh", "low"),
                                          own("11:00", "swb", "medium")])
    assert (got.on_register, steps_of(got, "monthly_manager_review"),
            steps_of(got, "discuss_register_monthly")) == (False, [], [])


async def test_PRI_very_high_arrival_answered_by_own_medium(somerset: Tenant) -> None:
    """PRI (Somerset 3.2.4, 13.3): "'Very High' judgements will trigger the case being dealt with
    as a priority at all stages". Transferred in at very high ROSH on Tue 24 Nov 2026 10:00,
    Somerset's own ROSH medium at 11:00 answers it: not a priority and off the register, in both
    orders (before, in time order the case stayed a priority)."""
    got = await in_every_order(somerset, [arrival("10:00", rosh="very_high"),
                                          own("11:00", "rosh", "medium")])
    assert (got.priority, got.on_register) == (False, False)


# The harness: pairs of an arrival and an own judgement (before, at, after it), each typed in
# both orders, both packs; every order must leave time order's record (open steps with actor,
# assignee, due and rule; ratings; register; contact level; priority). A sample, to keep the
# module fast: the full grid (incoming ROSH high/very high, SWB high, ROSH medium; own ROSH
# low to very high, SWB low/high, LoR high; before, at and after the arrival: 168 pairs a
# pack, and 10 triples) was run once in fix32a, every order alike (/work/notes/fix32a.md).
PAIRS = [
    ({"rosh": "high"}, ("rosh", "medium", "case_holder"), "09:00"),
    ({"rosh": "high"}, ("rosh", "medium", "case_holder"), "10:00"),
    ({"rosh": "high"}, ("rosh", "medium", "line_manager"), "11:00"),
    ({"rosh": "high"}, ("lor", "high", "case_holder"), "11:00"),
    ({"swb": "very_high"}, ("swb", "low", "line_manager"), "09:00"),
    ({"swb": "high"}, ("swb", "high", "case_holder"), "10:00"),
    ({"swb": "very_high"}, ("rosh", "low", "case_holder"), "11:00"),
]


@pytest.mark.parametrize(("incoming", "judged", "at"), PAIRS,
                         ids=[f"{'-'.join(f'{d}={v}' for d, v in i.items())}_{j[0]}={j[1]}@{a}"
                              for i, j, a in PAIRS])
async def test_REG_S41_W29_arrival_and_own_judgement_in_either_order(
        somerset: Tenant, wokingham: Tenant, incoming: dict[str, str],
        judged: tuple[str, str, str], at: str) -> None:
    """REG, S41, S42, S11 (Somerset 9, 13.3, 4.5), REG and W29 (Wokingham High Risk Panel):
    "the same dated acts typed in a different order must give the same record". A transfer in
    at 10:00 and an own judgement before, at or after it: each order leaves time order's (at
    its instant: the transfer first, then the judgement, which answers its domain)."""
    acts = sorted([arrival("10:00", **incoming), own(at, *judged)], key=lambda a: a.at)
    for tenant in (somerset, wokingham):
        await in_every_order(tenant, acts)


# ATTACK33-5 (attack 33, low): a referral asked for by both a transfer in and an own judgement
# named the transfer event as its subject in some typing orders and the case in others. A step
# names what the line that raised it in time order names (the engine's rule: an event line's
# step is about the event, a case event's own record; a judgement's about the case), as a step
# raised by one act alone does: the act that came first in time order.
async def test_S25_referral_raised_by_the_arrival_names_it_in_every_order(
        somerset: Tenant) -> None:
    """S25 (Somerset 13.3): "Where a case has a ROSH judgment and/or Safety and Well-Being
    concerns of High or Very high from another YJT, the case will be referred into the next
    available MARP"; S7 (3.2.3) joins it. Transferred in at high ROSH on Tue 24 Nov 2026 10:00,
    Somerset's own high at 11:00: one referral, S25's, about the transfer in, in both orders
    (before, typed high first, it named the case)."""
    got = await in_every_order(somerset, [arrival("10:00", rosh="high"),
                                          own("11:00", "rosh", "high")])
    assert (steps_of(got, "refer_to_panel"), subjects_of(got, "refer_to_panel")) == (
        [("case_holder", HOLDER, None, "S25")], ["10:00 transfer_in"])


async def test_S7_referral_raised_by_an_own_high_names_the_case_in_every_order(
        somerset: Tenant) -> None:
    """S7 (Somerset 3.2.3): a case rated high is referred to the MARP; S25 (13.3) joins it.
    Somerset's own high on Tue 24 Nov 2026 09:00, transferred in at high ROSH at 10:00: one
    referral, S7's, about the case, in both orders (before, typed transfer first, it named the
    transfer event)."""
    got = await in_every_order(somerset, [own("09:00", "rosh", "high"),
                                          arrival("10:00", rosh="high")])
    assert (steps_of(got, "refer_to_panel"), subjects_of(got, "refer_to_panel")) == (
        [("case_holder", HOLDER, None, "S7")], ["case"])


async def test_S25_arrival_and_own_high_at_one_instant_is_the_arrivals_referral(
        somerset: Tenant) -> None:
    """S25, S7 (Somerset 13.3, 3.2.3, 4.2.1; docs/integrating.md §7: the events of an instant
    come before its judgements). Transferred in at high SWB and Somerset's own high SWB both
    on Tue 24 Nov 2026 10:00: the arrival raised the referral (S25, about the transfer in), the
    high joins it, in both orders (before, typed high first, it was S7's about the case)."""
    got = await in_every_order(somerset, [arrival("10:00", swb="high"),
                                          own("10:00", "swb", "high")])
    assert (steps_of(got, "refer_to_panel"), subjects_of(got, "refer_to_panel")) == (
        [("case_holder", HOLDER, None, "S25")], ["10:00 transfer_in"])


async def test_W29_W7_request_names_what_raised_it_in_every_order(wokingham: Tenant) -> None:
    """W29, W7 (Wokingham High Risk Panel): "request a High-Risk Panel within two working days
    of 1. Assessing a child as high or very high ROSH; 2. Becoming aware of a change of
    circumstances ...". Transferred in at high ROSH on Tue 24 Nov 2026 10:00 and an own high at
    11:00: W29's request about the transfer in; an own high at 09:00 and the arrival at 10:00:
    W7's about the case; each in both orders, due by the end of Thu 26 Nov."""
    got = await in_every_order(wokingham, [arrival("10:00", rosh="high"),
                                           own("11:00", "rosh", "high")])
    first = (steps_of(got, "request_high_risk_panel"), subjects_of(got, "request_high_risk_panel"))
    got = await in_every_order(wokingham, [own("09:00", "rosh", "high"),
                                           arrival("10:00", rosh="high")])
    assert (first, (steps_of(got, "request_high_risk_panel"),
                    subjects_of(got, "request_high_risk_panel"))) == (
        ([("case_holder", HOLDER, "2026-11-26T23:59:59Z", "W29")], ["10:00 transfer_in"]),
        ([("case_holder", HOLDER, "2026-11-26T23:59:59Z", "W7")], ["case"]))
