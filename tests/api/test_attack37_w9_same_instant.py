"""W9's MARF clock when the SWB judgement and the countersignature share an instant (attack 37,
ATTACK37-5; fix38b).

Wokingham, Management of Safety and Well-being concerns: "If a child with high or very high SWB
concerns is **not** already open to Children Social Care, within two working days of the
assessment being completed the PYJS case worker must complete a MARF referral highlighting the
identified concerns"; Assessment Reviews: "An assessment (Asset+ or mini-asset) is not
considered complete until it has been counter signed by a line manager".

Acts at one instant are in one order whatever order they are typed in (docs/integrating.md §7).
A countersignature comes after the judgements (and the panels' decisions) of its instant: the
line manager signs off the assessment with the ratings judged in it, so the assessment
completed at that instant completes the rating judged then, as it does one judged a minute
earlier. Typed judgement first, the MARF was due two working days after the countersignature;
typed countersignature first, it waited undated for "the next assessment countersigned" (the
judgement typed after it was not followed by the countersignature it ranks before).

Dates: the Asset+ written on Wednesday 12 August 2026; SWB high and the countersignature on
Monday 24 August 2026, 10:00 BST: the MARF is due Wednesday 26 August, end of day BST
(22:59:59Z).
"""

from __future__ import annotations

from tests.api.act_order_support import HOLDER, judgement_body, same_as_time_order, steps_of
from tests.api.test_attack35b_marf_order import (  # noqa: F401 (on_21_september: the clock)
    REF,
    RULE,
    SAT,
    Case,
    every_order,
    marf,
    on_21_september,
)
from tests.conftest import Tenant

WRITTEN = "2026-08-12T10:00:00+01:00"  # Wednesday 12 August 2026
AT = "2026-08-24T10:00:00+01:00"  # Monday 24 August 2026
DUE_26 = "2026-08-26T22:59:59Z"  # Wednesday 26 August 2026, end of day BST
SIGNED, JUDGED = "countersigned 24 Aug 10:00", "SWB high 24 Aug 10:00"


async def test_W9_swb_high_judged_at_the_countersignatures_instant_dates_the_marf_in_every_order(
        wokingham: Tenant) -> None:
    """W9: "within two working days of the assessment being completed the PYJS case worker must
    complete a MARF referral"; "An assessment ... is not considered complete until it has been
    counter signed". The start Asset+ written on 12 August is countersigned on Monday 24 August
    at 10:00, when SWB is judged high (by hand): the MARF (case_holder, W9) is due Wednesday 26
    August whether the judgement or the countersignature is typed first (countersignature
    first, it was left undated, waiting for the next assessment)."""
    outcomes = await every_order(wokingham, [
        ("asset+ written 12 Aug", lambda c: c.write("A", WRITTEN, stage="start")),
        (JUDGED, lambda c: c.judge_swb("high", AT)),
        (SIGNED, lambda c: c.sign("A", AT)),
    ], after={SIGNED: "asset+ written 12 Aug"})
    assert len(outcomes) == 3
    record = same_as_time_order(outcomes)
    assert marf(record) == [("marf_referral", "case_holder", HOLDER, DUE_26, RULE, REF)]


async def test_W9_a_mini_asset_countersigned_at_the_judgements_instant_dates_the_marf(
        wokingham: Tenant) -> None:
    """W9: "within two working days of the assessment being completed"; "An assessment (Asset+
    or mini-asset) is not considered complete until it has been counter signed by a line
    manager". A start mini-asset countersigned on Monday 24 August at the instant SWB is judged
    high: the MARF is due Wednesday 26 August in both typing orders."""
    outcomes = await every_order(wokingham, [
        ("mini-asset written 12 Aug",
         lambda c: c.write("A", WRITTEN, type_="mini_asset", stage="start")),
        (JUDGED, lambda c: c.judge_swb("high", AT)),
        (SIGNED, lambda c: c.sign("A", AT)),
    ], after={SIGNED: "mini-asset written 12 Aug", JUDGED: "mini-asset written 12 Aug"})
    assert len(outcomes) == 2
    record = same_as_time_order(outcomes)
    assert marf(record) == [("marf_referral", "case_holder", HOLDER, DUE_26, RULE, REF)]


async def test_W9_a_panel_classification_at_the_countersignatures_instant_dates_the_marf(
        wokingham: Tenant) -> None:
    """W9: "within two working days of the assessment being completed"; High Risk Panel: "the
    intervention plan and Asset+ risk management plan are updated with any actions resulting
    from the High Risk Panel meeting". The High-Risk Panel agrees SWB high at its sitting on
    Tuesday 18 August, 14:00 BST, and the review Asset+ written that morning is countersigned at
    the sitting's instant: the MARF is due Thursday 20 August (22:59:59Z) whether the decision
    or the countersignature is typed first (a panel's decision ranks before it as a judgement
    does)."""
    outcomes = await every_order(wokingham, [
        ("asset+ written 18 Aug", lambda c: c.write("A", SAT.replace("Z", "+00:00"))),
        ("panel 18 Aug", lambda c: c.decide()),
        ("countersigned at the sitting", lambda c: c.sign("A", SAT)),
    ], after={"countersigned at the sitting": "asset+ written 18 Aug",
              "panel 18 Aug": "asset+ written 18 Aug"})
    assert len(outcomes) == 2
    record = same_as_time_order(outcomes)
    assert marf(record) == [
        ("marf_referral", "case_holder", HOLDER, "2026-08-20T22:59:59Z", RULE, REF)]


async def test_W9_swb_high_at_the_submissions_instant_waits_for_the_countersignature(
        wokingham: Tenant) -> None:
    """W9: "within two working days of the assessment being completed"; "An assessment ... is
    not considered complete until it has been counter signed". SWB judged high at the instant
    the start Asset+ is submitted (Monday 24 August, 09:00 BST), countersigned on Wednesday 26
    August at 10:00: the submission completes nothing, the MARF is due two working days after
    the countersignature, Friday 28 August (22:59:59Z), in every typing order."""
    submitted = "2026-08-24T09:00:00+01:00"  # Case.write submits at 09:00 on its day
    outcomes = await every_order(wokingham, [
        ("asset+ submitted 24 Aug 09:00", lambda c: c.write("A", AT, stage="start")),
        ("SWB high 24 Aug 09:00", lambda c: c.judge_swb("high", submitted)),
        ("countersigned 26 Aug", lambda c: c.sign("A", "2026-08-26T10:00:00+01:00")),
    ], after={"countersigned 26 Aug": "asset+ submitted 24 Aug 09:00"})
    assert len(outcomes) == 3
    record = same_as_time_order(outcomes)
    assert marf(record) == [
        ("marf_referral", "case_holder", HOLDER, "2026-08-28T22:59:59Z", RULE, REF)]


async def test_W3_rosh_high_at_the_countersignatures_instant_reviews_in_three_months(
        wokingham: Tenant) -> None:
    """W3 (Assessment Reviews): "Children who have been assessed as high within any of the risk
    domains must have their Asset+ reviewed at least every three months"; "An assessment ...
    is not considered complete until it has been counter signed". ROSH judged high at the
    instant the start Asset+ is countersigned (Monday 24 August, 10:00 BST): the review
    (case_holder, W3) is due three months after the countersignature, Tuesday 24 November
    10:00 GMT, whichever is typed first; no MARF (SWB is not rated)."""
    async def rosh_high(c: Case) -> None:
        r = await c.t.client.post(f"/v1/cases/{c.id}/judgements",
                                  json=judgement_body("rosh", "high", AT),
                                  headers=c.t.auth("case_holder"))
        assert r.status_code == 201, r.text

    outcomes = await every_order(wokingham, [
        ("asset+ written 12 Aug", lambda c: c.write("A", WRITTEN, stage="start")),
        ("ROSH high 24 Aug 10:00", rosh_high),
        (SIGNED, lambda c: c.sign("A", AT)),
    ], after={SIGNED: "asset+ written 12 Aug", "ROSH high 24 Aug 10:00": "asset+ written 12 Aug"})
    assert len(outcomes) == 2
    record = same_as_time_order(outcomes)
    assert steps_of(record, "review_assessment") == [
        ("review_assessment", "case_holder", HOLDER, "2026-11-24T10:00:00Z", "W3",
         "Assessment Reviews")]
    assert marf(record) == []
