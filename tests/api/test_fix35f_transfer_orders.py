"""Transfers typed in any order leave the record time order leaves (fix35f; attack 35a,
ATTACK35A-1..4): the case's fields, every step it ever had, and each step's timeline entries
at the acts' times (docs/integrating.md: "dates count, not the order acts are typed in").

Dates: August 2026, London on BST (10:00 London is 09:00 UTC): Monday 10, Wednesday 12,
Wednesday 19, Thursday 20 and Wednesday 26 August; no bank holiday near (31 August is one).
"""

from __future__ import annotations

from tests.api.transfer_order_support import (
    decided,
    history_of,
    of,
    own,
    transfer_in,
    transfer_out,
    whole_in_every_order,
)
from tests.conftest import Tenant

MON10, WED12 = "2026-08-10T09:00:00Z", "2026-08-12T09:00:00Z"
TUE18, WED19, THU20 = "2026-08-18T09:00:00Z", "2026-08-19T09:00:00Z", "2026-08-20T09:00:00Z"
HOLDER, MANAGER = "case_holder-1", "line_manager-1"


async def test_S42_the_latest_transfer_in_governs_whatever_order(somerset: Tenant) -> None:
    """S42, S41, PRI (Somerset 13.3, 9, 3.2.4): "Where a case has a ROSH judgment and/or
    Safety and Well-Being concerns of High or Very high from another YJT, the case will be
    referred into the next available MARP". Transferred in at very high ROSH Monday 10 August,
    out Wednesday 12 August (transferring Friday 14th), in again Thursday 20 August at low ROSH
    and high SWB (ATTACK35A-3): the child now arrived with low ROSH and high SWB, so listed,
    not a priority, no own ROSH judgement owed (the 10th's S42 superseded on the 20th), own
    SWB judgement owed within 4 weeks of the 20th, in every typing order (typed the 10th's
    transfer in last, its very high governed: priority, ROSH S42 open)."""
    got = await whole_in_every_order(somerset, [
        transfer_in(MON10, rosh="very_high"), transfer_out(WED12, "2026-08-14"),
        transfer_in(THU20, rosh="low", swb="high")])
    assert got.fields[1:3] == (True, False)
    assert of(got, "record_own_judgement") == [
        ("superseded", "case_holder", HOLDER, "2026-09-07T09:00:00Z", "S42")]
    assert history_of(got, "record_own_judgement") == [
        (MON10, "created"), (THU20, "superseded")]
    assert of(got, "record_own_swb_judgement") == [
        ("open", "case_holder", HOLDER, "2026-09-17T09:00:00Z", "S42")]


async def test_S30_S31_documentation_of_a_reversed_transfer_lapses_at_the_transfer_in(
        somerset: Tenant) -> None:
    """S30, S31 (Somerset 13.4.1: "the Somerset YJT case holder will ensure that all the
    relevant documentation is up to date and included with the transfer/care taking request";
    13.4.2: "The line manager will check all documentation and sign off relevant ASSETPLUS
    stage"). Transferred in Monday 10 August, out Wednesday 12 August (transferring Friday
    14th), in again Thursday 20 August (ATTACK35A-4): the documentation was owed from the 12th
    (due Thursday 13th, 23:59 London) until the child came back on the 20th, in every typing
    order (typed the transfer out last, the record said it lapsed on the 12th, the duty never
    standing, its lateness hidden): already late when the child came back, it is missed then
    (fix35b, ATTACK34B-7)."""
    got = await whole_in_every_order(somerset, [
        transfer_in(MON10), transfer_out(WED12, "2026-08-14"), transfer_in(THU20)])
    for code, actor, who, rule in (("prepare_transfer_documentation", "case_holder", HOLDER,
                                    "S30"),
                                   ("sign_off_transfer_documentation", "line_manager", MANAGER,
                                    "S31")):
        assert of(got, code) == [("missed", actor, who, "2026-08-13T23:00:00Z", rule)]
        assert history_of(got, code) == [(WED12, "created"), (THU20, "missed")]


async def test_W29_the_latest_transfer_in_governs_whatever_order(wokingham: Tenant) -> None:
    """W29 (Wokingham High-Risk Panel: "within two working days of ... 2. Becoming aware of a
    change of circumstances or new incident which is serious enough to warrant consideration
    for an increase of assessed risk levels to high/very high"). Transferred in at very high
    ROSH Monday 10 August, out Wednesday 12 August, in again Thursday 20 August at low ROSH
    (ATTACK35A-3's twin): off the register, no panel request open (the 10th's superseded on the
    20th; already late then, missed: fix35b), in every typing order (typed the 10th's last: on
    the register, W29 open, overdue)."""
    got = await whole_in_every_order(wokingham, [
        transfer_in(MON10, rosh="very_high"), transfer_out(WED12, "2026-08-14"),
        transfer_in(THU20, rosh="low")])
    assert got.fields[1] is False
    assert of(got, "request_high_risk_panel") == [
        ("missed", "case_holder", HOLDER, "2026-08-12T22:59:59Z", "W29")]
    assert history_of(got, "request_high_risk_panel") == [
        (MON10, "created"), (THU20, "missed")]


AUG05 = "2026-08-05T09:00:00Z"  # Wednesday 5 August 2026


async def test_S26_own_medium_dated_before_a_transfer_out_on_file_owes_no_call(
        somerset: Tenant) -> None:
    """S26 (Somerset 13.4.3): "Where the ROSH judgement and/or Safety and Well-Being concerns
    is High or Very high, the line manager, operational manager or YJT manager will speak to
    the appropriate manager or senior probation officer of the receiving Service prior to the
    transfer of the child". Own ROSH high Wednesday 5 August; own ROSH medium Tuesday 18
    August; transfer out Wednesday 19 August, transferring Wednesday 26th (ATTACK35A-1): at the
    transfer the ROSH is medium, so no handover call is owed, in both typing orders (typed
    transfer first, the medium typed after left the call open, overdue from the 25th)."""
    got = await whole_in_every_order(somerset, [
        own(TUE18, "rosh", "medium"), transfer_out(WED19, "2026-08-26")],
        before=(own(AUG05, "rosh", "high"),))
    assert of(got, "manager_handover_call") == []


async def test_S26_panel_lowering_dated_before_a_transfer_out_on_file_owes_no_call(
        somerset: Tenant) -> None:
    """S26 (Somerset 13.4.3, above). Own ROSH high Wednesday 5 August; the MARP sitting
    Tuesday 18 August decides ROSH medium; transfer out Wednesday 19 August, transferring
    Wednesday 26th (ATTACK35A-1): no handover call owed, in both typing orders."""
    got = await whole_in_every_order(somerset, [
        decided(TUE18, rosh_level="medium"), transfer_out(WED19, "2026-08-26")],
        before=(own(AUG05, "rosh", "high"),))
    assert of(got, "manager_handover_call") == []


async def test_S26_own_high_dated_before_a_transfer_out_on_file_owes_the_call(
        somerset: Tenant) -> None:
    """S26 (Somerset 13.4.3, above), the twin of ATTACK35A-1: own ROSH medium Wednesday 5
    August; own ROSH high Tuesday 18 August; transfer out Wednesday 19 August, transferring
    Wednesday 26th: at the transfer the ROSH is high, so the line manager owes the call before
    the transfer (by Tuesday 25th, 23:59 London), raised by the transfer on the 19th, in both
    typing orders."""
    got = await whole_in_every_order(somerset, [
        own(TUE18, "rosh", "high"), transfer_out(WED19, "2026-08-26")],
        before=(own(AUG05, "rosh", "medium"),))
    assert of(got, "manager_handover_call") == [
        ("open", "line_manager", MANAGER, "2026-08-25T23:00:00Z", "S26")]
    assert history_of(got, "manager_handover_call") == [(WED19, "created")]


async def test_S42_own_judgement_at_the_arrivals_instant_answers_it_in_either_order(
        somerset: Tenant) -> None:
    """S42, S41, S11 (Somerset 13.3: "Where a case has a ROSH judgment and/or Safety and
    Well-Being concerns of High or Very high from another YJT, the case will be referred into
    the next available MARP"; 9; 4.5). Transferred in at very high ROSH Tuesday 18 August
    10:00 London, Somerset's own ROSH medium at the same instant (ATTACK35A-2): the case's
    events of an instant come before its judgements (docs/integrating.md §7), so the medium is
    Somerset's own judgement of the child who has arrived and answers the incoming very high
    (fix34a): not listed, not a priority, no own judgement, list discussion or monthly review
    owed, and no step of them in the record, in both orders (typed transfer first, S42, S41
    and S11 stood created and superseded at that instant; typed medium first, never)."""
    got = await whole_in_every_order(somerset, [
        transfer_in(TUE18, rosh="very_high"), own(TUE18, "rosh", "medium")])
    assert got.fields[1:3] == (False, False)
    assert (of(got, "record_own_judgement"), of(got, "discuss_register_monthly"),
            of(got, "monthly_manager_review")) == ([], [], [])


async def test_S42_own_high_at_the_arrivals_instant_answers_it_in_either_order(
        somerset: Tenant) -> None:
    """S42 (Somerset 13.3, 2.1), S7 (3.2.3): the transfer in at very high ROSH and Somerset's
    own ROSH high at the same instant, Tuesday 18 August 10:00 London (ATTACK35A-2): the own
    high answers the incoming rating, so no own judgement is owed (none in the record, in
    either order); the high itself is listed and referred to the MARP."""
    got = await whole_in_every_order(somerset, [
        transfer_in(TUE18, rosh="very_high"), own(TUE18, "rosh", "high")])
    assert got.fields[1:3] == (True, False)
    assert of(got, "record_own_judgement") == []

