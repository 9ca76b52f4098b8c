"""fix33a's left path (fix34e): a judgement that is the latest of its own domain but dated
before another act recorded on the case (a MARP decision's rating, a death) is checked on the
steps and ratings open at its own act time (policy.steps_open_at), not today's, in every
typing order: Somerset M6, and Wokingham, whose High-Risk Panel asks no approval."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.act_order_support import HOLDER, decide_at_sitting, the_record
from tests.conftest import Tenant

ROSH_VERY_HIGH = {"domain": "rosh", "level": "very_high", "rationale": "r",
                  "impact": "critical", "likelihood": "almost_certain", "victims": ["ex-partner"]}


async def _judge(t: Tenant, case: str, body: dict[str, Any], at: str) -> tuple[int, str]:
    r = await t.client.post(f"/v1/cases/{case}/judgements", json={**body, "occurred_at": at},
                            headers=t.auth("case_holder"))
    return r.status_code, r.json().get("type", "").rsplit("/", 1)[-1]


async def _sitting(t: Tenant, case: str, kind: str, at: str, decision: dict[str, Any]) -> None:
    r = await decide_at_sitting(t, case, kind, at, decision)
    assert r.status_code == 200, r.text


async def _somerset_high(t: Tenant) -> str:
    """Somerset: ROSH very high and SWB high on Tuesday 3 November 2026."""
    case = (await t.open_case(opened_at="2026-11-02T09:00:00Z"))["data"]["id"]
    assert (await _judge(t, case, ROSH_VERY_HIGH, "2026-11-03T10:00:00Z"))[0] == 201
    assert (await _judge(t, case, {"domain": "swb", "level": "high", "rationale": "r"},
                         "2026-11-03T10:00:00Z"))[0] == 201
    return case


async def _marp_24_nov(t: Tenant, case: str) -> None:
    """MARP of Tuesday 24 November 2026: keeps ROSH very high, books its review (22 Dec)."""
    await _sitting(t, case, "marp", "2026-11-24T10:00:00Z", {
        "rosh_level": "very_high", "actions": [], "minutes": "m",
        "review_date": "2026-12-22"})


SWB_MEDIUM = {"domain": "swb", "level": "medium", "rationale": "consulted the line manager"}



async def _death_1_dec(t: Tenant, case: str) -> None:
    r = await t.client.post(f"/v1/cases/{case}/events", json={
        "type": "death", "occurred_at": "2026-12-01T10:00:00Z"}, headers=t.auth("case_holder"))
    assert r.status_code == 201, r.text


async def test_M6_swb_lowered_under_the_marps_review_typed_after_a_later_death(
        somerset: Tenant) -> None:
    """M6 (Somerset 7.2.1): "Where the current judgment of ROSH/S and WB concern is High or Very
    high, recommendation that the risk level is reduced must be approved by the panel". ROSH
    very high and SWB high on 3 Nov 2026; the MARP of 24 Nov keeps ROSH very high and books its
    review (22 Dec); the case holder's SWB medium dated Thursday 26 Nov (under the panel's
    oversight then) is refused (409) whether typed before or after the child's death of 1 Dec
    was recorded (the death ended the review step: today's steps would let it through)."""
    first = await _somerset_high(somerset)
    await _marp_24_nov(somerset, first)
    assert await _judge(somerset, first, SWB_MEDIUM, "2026-11-26T10:00:00Z") == (
        409, "panel-approval-required")
    second = await _somerset_high(somerset)
    await _marp_24_nov(somerset, second)
    await _death_1_dec(somerset, second)
    assert await _judge(somerset, second, SWB_MEDIUM, "2026-11-26T10:00:00Z") == (
        409, "panel-approval-required")
    await _death_1_dec(somerset, first)
    assert await the_record(somerset, first) == await the_record(somerset, second)


async def test_M6_swb_lowered_before_any_marp_typed_after_the_marp_booked_its_review(
        somerset: Tenant) -> None:
    """M6 (Somerset 4.3): "Where ratings are downgraded after consultation with their line
    manager/ at MARP, the case holder will revise the ROSH/Safety and Well-Being judgement to
    reflect this": the pack asks the panel's approval only once a MARP has taken the case and
    booked its review. ROSH very high and SWB high on 3 Nov 2026; the case holder's SWB medium
    dated Friday 20 Nov (no MARP had heard the case) is recorded (201) whether typed before or
    after the MARP of 24 Nov (which kept ROSH very high and booked its review) was recorded,
    with the same record in both orders (before the fix, typed after it: 409)."""
    in_order = await _somerset_high(somerset)
    assert (await _judge(somerset, in_order, SWB_MEDIUM, "2026-11-20T10:00:00Z"))[0] == 201
    await _marp_24_nov(somerset, in_order)
    typed_after = await _somerset_high(somerset)
    await _marp_24_nov(somerset, typed_after)
    assert (await _judge(somerset, typed_after, SWB_MEDIUM, "2026-11-20T10:00:00Z"))[0] == 201
    assert await the_record(somerset, typed_after) == await the_record(somerset, in_order)


async def _wokingham_high(t: Tenant) -> str:
    """Wokingham: ROSH very high and SWB high on Tuesday 3 November 2026."""
    case = (await t.open_case(opened_at="2026-11-02T09:00:00Z"))["data"]["id"]
    assert (await _judge(t, case, ROSH_VERY_HIGH, "2026-11-03T10:00:00Z"))[0] == 201
    assert (await _judge(t, case, {"domain": "swb", "level": "high", "rationale": "r"},
                         "2026-11-03T10:00:00Z"))[0] == 201
    return case


async def _hrp_24_nov(t: Tenant, case: str) -> None:
    """High-Risk Panel of Tuesday 24 November 2026: keeps ROSH very high, an action, and
    when the child is discussed again (22 Dec)."""
    await _sitting(t, case, "high_risk_panel", "2026-11-24T10:00:00Z", {
        "rosh_level": "very_high", "minutes": "m", "review_date": "2026-12-22",
        "actions": [{"description": "Review the plan", "owner_id": HOLDER,
                     "due_date": "2026-12-04"}]})


@pytest.mark.parametrize("dated", ["2026-11-20T10:00:00Z", "2026-11-26T10:00:00Z"])
async def test_W22_a_lowering_dated_around_the_panel_is_recorded_in_either_order(
        wokingham: Tenant, dated: str) -> None:
    """W22 (Wokingham, High Risk Panel): "At the end of the Panel, a specific action plan and
    risk classification should be agreed, including when should the child be discussed again
    at the panel": Wokingham asks no approval of a lowering (no M6), the panel hears the new
    classification on its review date. ROSH very high and SWB high on 3 Nov 2026, the panel of
    24 Nov, the child's death on 1 Dec; the case worker's SWB medium dated 20 Nov (before the
    panel) or 26 Nov (under its review) is recorded (201) typed before the panel, between it
    and the death, or after both, with the same record in every order (the twin of Somerset's
    M6 cases above: the act-time check refuses nothing Wokingham allows)."""
    async def lowering(t: Tenant, case: str) -> None:
        assert (await _judge(t, case, SWB_MEDIUM, dated))[0] == 201

    records = []
    for typed_at in range(3):
        acts: list[Any] = [_hrp_24_nov, _death_1_dec]
        acts.insert(typed_at, lowering)
        case = await _wokingham_high(wokingham)
        for act in acts:
            await act(wokingham, case)
        records.append(await the_record(wokingham, case))
    assert records[1:] == [records[0], records[0]]
