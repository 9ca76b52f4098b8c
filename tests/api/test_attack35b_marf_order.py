"""W9's MARF clock in every typing order (attack 35b, ATTACK35B-5).

Wokingham, Management of Safety and Well-being concerns: "If a child with high or very high SWB
concerns is **not** already open to Children Social Care, within two working days of the
assessment being completed the PYJS case worker must complete a MARF referral highlighting the
identified concerns"; Assessment Reviews: "An assessment (Asset+ or mini-asset) is not
considered complete until it has been counter signed by a line manager"; High Risk Panel: "the
intervention plan and Asset+ risk management plan are updated with any actions resulting from
the High Risk Panel meeting".

An Asset+ countersigned on Wednesday 12 August 2026 typed in after the High-Risk Panel's
decision of Tuesday 18 August left the MARF undated, while typed in time order it was due two
working days after the countersignature, Friday 14 August (BST: 22:59:59Z): the countersignature
read the case's rating of today (the panel's) instead of the rating in force at its date. And a
mini-asset or a closure Asset+ countersigned after the panel started the clock the panel's
classification waits for, as the review Asset+ does. Dates: the review Asset+ countersigned on
Friday 28 August 2026 is due two working days later over the weekend and the Summer bank
holiday (Monday 31 August): Wednesday 2 September, 22:59:59Z.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from app.core import clock
from tests.api.act_order_support import (
    HOLDER,
    decide_at_sitting,
    judgement_body,
    same_as_time_order,
    steps_of,
    the_record,
)
from tests.api.test_assessments import countersign, draft, submit
from tests.conftest import Tenant
from tests.orders import typing_orders

RULE, REF = "W9", "Management of Safety and Well-being concerns"
OPENED = "2026-08-03T08:00:00Z"  # Monday 3 August 2026, 09:00 BST
SAT = "2026-08-18T13:00:00Z"  # the High-Risk Panel, Tuesday 18 August 2026, 14:00 BST
SIGNED_12 = "2026-08-12T10:00:00+01:00"  # Wednesday 12 August 2026
DUE_14 = "2026-08-14T22:59:59Z"  # Friday 14 August 2026, end of day BST
SIGNED_28 = "2026-08-28T10:00:00+01:00"  # Friday 28 August 2026, before the bank holiday
DUE_2_SEP = "2026-09-02T22:59:59Z"  # Wednesday 2 September 2026, end of day BST


@pytest.fixture(autouse=True)
def on_21_september(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(clock, "now", lambda: datetime(2026, 9, 21, 9, 0, tzinfo=UTC))


class Case:
    """A case not open to social care, referred to the High-Risk Panel on 5 August, and the
    assessments written on it (by name)."""

    def __init__(self, t: Tenant, case_id: str) -> None:
        self.t, self.id = t, case_id
        self.assessments: dict[str, str] = {}

    async def judge_swb(self, level: str, at: str, assessment: str | None = None) -> None:
        body = judgement_body("swb", level, at)
        if assessment is not None:
            body["assessment_id"] = self.assessments[assessment]
        r = await self.t.client.post(f"/v1/cases/{self.id}/judgements", json=body,
                                     headers=self.t.auth("case_holder"))
        assert r.status_code == 201, r.text

    async def write(self, name: str, at: str, type_: str = "asset_plus",
                    stage: str = "review", swb: str | None = None) -> None:
        """Draft and submit assessment ``name`` on ``at``'s day (its SWB judged with it)."""
        day = at[:10]
        self.assessments[name] = (await draft(self.t, self.id, type_=type_, stage=stage,
                                              occurred_at=f"{day}T08:00:00+01:00"))["id"]
        if swb is not None:
            await self.judge_swb(swb, f"{day}T08:30:00+01:00", assessment=name)
        r = await submit(self.t, self.assessments[name], f"{day}T09:00:00+01:00")
        assert r.status_code == 200, r.text

    async def sign(self, name: str, at: str) -> None:
        r = await countersign(self.t, self.assessments[name], at)
        assert r.status_code == 200, r.text

    async def decide(self, level: str = "high") -> None:
        r = await decide_at_sitting(self.t, self.id, "high_risk_panel", SAT, {
            "swb_level": level, "review_date": "2026-09-15", "minutes": "SWB agreed.",
            "actions": [{"description": "Asset+ updated with the panel's plan",
                         "owner_id": HOLDER, "due_date": "2026-09-04"}]})
        assert r.status_code == 200, r.text


async def referred_case(t: Tenant, **opening: Any) -> Case:
    """A case (``opening``: more of its fields) opened on 3 August, referred to the panel."""
    case_id = (await t.open_case(csc_status="none", opened_at=OPENED, **opening))["data"]["id"]
    r = await t.client.post(f"/v1/cases/{case_id}/referrals",
                            json={"kind": "panel", "occurred_at": "2026-08-05T10:00:00Z"},
                            headers=t.auth("case_holder"))
    assert r.status_code == 201, r.text
    r = await t.client.post(f"/v1/referrals/{r.json()['data']['id']}/submit",
                            json={"occurred_at": "2026-08-05T10:00:00Z"},
                            headers=t.auth("case_holder"))
    assert r.status_code == 200, r.text
    return Case(t, case_id)


Act = tuple[str, Callable[[Case], Awaitable[None]]]


async def every_order(t: Tenant, acts: list[Act], *, after: dict[str, str] | None = None,
                      read: Callable[[Tenant, str], Awaitable[Any]] = the_record,
                      **opening: Any) -> dict[tuple[str, ...], Any]:
    """The record ``acts`` (in time order, each a label and what it types) leave typed in
    each order a person could type them in (``after``: a label that must follow another,
    an assessment's countersignature its writing); time order's first. ``read``: what the
    record is (default: the open steps and the case's fields)."""
    def possible(order: tuple[Act, ...]) -> bool:
        labels = [label for label, _ in order]
        return not any(labels.index(later) < labels.index(first)
                       for later, first in (after or {}).items())

    outcomes = {}
    for order in typing_orders(acts, possible):
        labels = [label for label, _ in order]
        case = await referred_case(t, **opening)
        for _, act in order:
            await act(case)
        outcomes[tuple(labels)] = await read(t, case.id)
    return outcomes


def marf(record: tuple[Any, ...]) -> list[tuple[Any, ...]]:
    """The open MARF steps of a record: (code, actor, assignee, due, rule, ref)."""
    return steps_of(record, "marf_referral")


async def test_W9_asset_plus_countersigned_before_the_panel_dates_the_marf_in_every_order(
        wokingham: Tenant) -> None:
    """W9: "within two working days of the assessment being completed". The review Asset+
    rating SWB high (judged with it on 12 August) is countersigned on Wednesday 12 August; the
    High-Risk Panel agrees SWB high on Tuesday 18 August. The assessment was completed on the
    12th: the MARF (case_holder, W9) is due Friday 14 August whether the countersignature is
    typed before the panel's decision or after it (it was undated after it)."""
    outcomes = await every_order(wokingham, [
        ("asset+ written 12 Aug", lambda c: c.write("A", SIGNED_12, swb="high")),
        ("asset+ countersigned 12 Aug", lambda c: c.sign("A", SIGNED_12)),
        ("panel 18 Aug", lambda c: c.decide()),
    ], after={"asset+ countersigned 12 Aug": "asset+ written 12 Aug"})
    assert len(outcomes) == 3
    record = same_as_time_order(outcomes)
    assert marf(record) == [("marf_referral", "case_holder", HOLDER, DUE_14, RULE, REF)]


async def test_W9_a_rating_by_hand_waits_for_the_first_assessment_completed_in_every_order(
        wokingham: Tenant) -> None:
    """W9: "within two working days of the assessment being completed"; "An assessment ...
    is not considered complete until it has been counter signed". SWB judged high by hand on
    Friday 7 August waits for the next assessment completed: the review Asset+ countersigned on
    Wednesday 12 August, due Friday 14 August, in every typing order of the judgement, that
    Asset+ and a later review Asset+ countersigned on Friday 28 August (typed first, that one
    dated the MARF 2 September, and the earlier countersignature typed after it left that
    date; typed before the judgement, the 12 August countersignature read today's rating)."""
    outcomes = await every_order(wokingham, [
        ("swb high 7 Aug", lambda c: c.judge_swb("high", "2026-08-07T10:00:00+01:00")),
        ("asset+ A 12 Aug", lambda c: c.write("A", SIGNED_12)),
        ("asset+ A countersigned", lambda c: c.sign("A", SIGNED_12)),
        ("asset+ B 28 Aug", lambda c: _written_and_signed(c, "B", SIGNED_28)),
    ], after={"asset+ A countersigned": "asset+ A 12 Aug"})
    assert len(outcomes) == 12
    record = same_as_time_order(outcomes)
    assert marf(record) == [("marf_referral", "case_holder", HOLDER, DUE_14, RULE, REF)]


async def _written_and_signed(case: Case, name: str, at: str, **kind: str) -> None:
    await case.write(name, at, **kind)
    await case.sign(name, at)


@pytest.mark.parametrize(("type_", "stage", "due"), [
    ("asset_plus", "review", DUE_2_SEP),
    ("asset_plus", "start", DUE_2_SEP),
    ("asset_plus", "closure", None),
    ("asset_plus", "transfer", None),
    ("mini_asset", "review", None),
])
async def test_W9_a_panel_classification_waits_for_the_asset_plus_updated_after_it(
        wokingham: Tenant, type_: str, stage: str, due: str | None) -> None:
    """W9 with High Risk Panel: the panel's agreed classification is recorded without an
    assessment; "the intervention plan and Asset+ risk management plan are updated with any
    actions resulting from the High Risk Panel meeting", and "within two working days of the
    assessment being completed" runs from that Asset+ (a start or review), countersigned on
    Friday 28 August: due Wednesday 2 September (over the Summer bank holiday). A mini-asset, or
    a closure or Transfer to Probation Asset+ (the end of the work), countersigned after the
    panel leaves the MARF owed undated (they started the clock as a review does). Both typing
    orders of the panel and the assessment give the same record."""
    outcomes = await every_order(wokingham, [
        ("panel 18 Aug", lambda c: c.decide()),
        ("assessment 28 Aug",
         lambda c: _written_and_signed(c, "A", SIGNED_28, type_=type_, stage=stage)),
    ])
    record = same_as_time_order(outcomes)
    assert marf(record) == [("marf_referral", "case_holder", HOLDER, due, RULE, REF)]


@pytest.mark.parametrize(("type_", "stage", "due"), [
    ("mini_asset", "review", DUE_2_SEP),
    ("mini_asset", "start", DUE_2_SEP),
    ("mini_asset", "closure", None),
    ("asset_plus", "closure", None),
])
async def test_W9_a_rating_by_hand_waits_for_an_asset_plus_or_mini_asset_of_the_work(
        wokingham: Tenant, type_: str, stage: str, due: str | None) -> None:
    """W9: "An assessment (Asset+ or mini-asset) is not considered complete until it has been
    counter signed"; the SWB plan is the Asset+'s or "Otherwise ... the plan section of the
    mini-asset". SWB judged high by hand on Tuesday 18 August (a prevention case, assessed with
    mini-assets) is completed by the next mini-asset at the start or a review, countersigned on
    Friday 28 August: due Wednesday 2 September; a closure assessment ("the initial assessment
    will usually be followed by a mini-asset closure") leaves the MARF undated. Both typing
    orders give the same record."""
    async def judged(c: Case) -> None:
        await c.judge_swb("high", SAT)

    outcomes = await every_order(wokingham, [
        ("swb high 18 Aug", judged),
        ("assessment 28 Aug",
         lambda c: _written_and_signed(c, "A", SIGNED_28, type_=type_, stage=stage)),
    ], intervention="prevention")
    record = same_as_time_order(outcomes)
    assert marf(record) == [("marf_referral", "case_holder", HOLDER, due, RULE, REF)]


async def test_W9_an_assessment_rating_swb_high_itself_completes_it_at_any_stage(
        wokingham: Tenant) -> None:
    """W9: "within two working days of the assessment being completed". A closure Asset+ that
    itself rates SWB high (judged with it on 28 August) starts the MARF's clock at its
    countersignature, Friday 28 August: due Wednesday 2 September, in both typing orders of it
    and the panel's earlier SWB high of 18 August (a later rating in force at its
    countersignature is its own)."""
    outcomes = await every_order(wokingham, [
        ("panel 18 Aug", lambda c: c.decide()),
        ("closure asset+ 28 Aug", lambda c: _written_and_signed(
            c, "A", SIGNED_28, stage="closure", swb="high")),
    ])
    record = same_as_time_order(outcomes)
    assert marf(record) == [("marf_referral", "case_holder", HOLDER, DUE_2_SEP, RULE, REF)]


async def test_W9_a_medium_assessment_before_the_panel_does_not_date_its_marf(
        wokingham: Tenant) -> None:
    """W9: "If a child with high or very high SWB concerns ... within two working days of the
    assessment being completed". The review Asset+ countersigned on Wednesday 12 August rated
    SWB medium; the panel agrees SWB high on 18 August. That assessment did not find high
    concerns: the MARF waits, undated, for the Asset+ updated after the panel, in every typing
    order (typed after the panel, the medium's countersignature must not date it 14 August
    from today's high)."""
    outcomes = await every_order(wokingham, [
        ("asset+ written 12 Aug", lambda c: c.write("A", SIGNED_12, swb="medium")),
        ("asset+ countersigned 12 Aug", lambda c: c.sign("A", SIGNED_12)),
        ("panel 18 Aug", lambda c: c.decide()),
    ], after={"asset+ countersigned 12 Aug": "asset+ written 12 Aug"})
    record = same_as_time_order(outcomes)
    assert marf(record) == [("marf_referral", "case_holder", HOLDER, None, RULE, REF)]


@pytest.mark.parametrize("intervention", ["youth_conditional_caution", "court_order"])
async def test_W3_a_high_before_the_asset_plus_is_countersigned_counts_from_it_in_every_order(
        wokingham: Tenant, intervention: str) -> None:
    """W3: "Children who have been assessed as high within any of the risk domains must have
    their Asset+ reviewed at least every three months"; "An assessment ... is not considered
    complete until it has been counter signed". SWB judged high on Tuesday 18 August, before
    the review Asset+ is countersigned on Friday 28 August: the review (case_holder, W3,
    "Assessment Reviews") is due three months after the countersignature, Saturday 28
    November 10:00 GMT, whether the judgement is typed before the countersignature or after
    it (typed after it, the judgement found today's countersigned Asset+ and raised a review
    that countersignature then counted as done, and no review was left: the tools
    countersigned are read as at the judgement's date, and the review the countersignature's
    replay owes is not done by itself)."""
    async def judged(c: Case) -> None:
        await c.judge_swb("high", SAT)

    outcomes = await every_order(wokingham, [
        ("swb high 18 Aug", judged),
        ("asset+ 28 Aug", lambda c: _written_and_signed(c, "A", SIGNED_28)),
    ], intervention=intervention)
    record = same_as_time_order(outcomes)
    assert steps_of(record, "review_assessment") == [
        ("review_assessment", "case_holder", HOLDER, "2026-11-28T10:00:00Z", "W3",
         "Assessment Reviews")]
