"""ATTACK32A-4 (fix32g's finding, fix33a): Somerset M6 judged at the lowering's act time, on the
register and the open steps as they stood then, whatever the typing order."""

from __future__ import annotations

from tests.api.act_order_support import MATRIX, decide_at_sitting, rate, record
from tests.conftest import Tenant


async def _marp(t: Tenant, case: str, at: str, decision: dict) -> int:
    r = await decide_at_sitting(t, case, "marp", at, decision)
    return int(r.status_code)


async def _low_26_nov(t: Tenant, case: str) -> tuple[int, str]:
    r = await t.client.post(f"/v1/cases/{case}/judgements", json={
        "domain": "rosh", "level": "low", "rationale": "r",
        "occurred_at": "2026-11-26T10:00:00Z", **MATRIX["low"]},
        headers=t.auth("case_holder"))
    return r.status_code, r.json().get("type", "").rsplit("/", 1)[-1]


async def _very_high_under_review(t: Tenant) -> str:
    """Very high 3 Nov 2026; MARP 24 Nov keeps it very high and books its review (22 Dec)."""
    case = (await t.open_case(opened_at="2026-11-02T09:00:00Z"))["data"]["id"]
    await record(t, case, rate("very_high", "2026-11-03T10:00:00Z"))
    assert await _marp(t, case, "2026-11-24T10:00:00Z", {
        "rosh_level": "very_high", "actions": [], "minutes": "m",
        "review_date": "2026-12-22"}) == 200
    return case


async def test_M6_lowering_dated_between_sittings_typed_after_the_panel_lowered(
        somerset: Tenant) -> None:
    """M6 (Somerset 7.2.1): "Where the current judgment of ROSH/S and WB concern is High or Very
    high, recommendation that the risk level is reduced must be approved by the panel". Very
    high 3 Nov 2026; MARP 24 Nov keeps very high, review 22 Dec; MARP 1 Dec lowers to medium;
    the case holder's low dated 26 Nov (under the panel's oversight then), typed after: 409."""
    case = await _very_high_under_review(somerset)
    assert await _marp(somerset, case, "2026-12-01T10:00:00Z", {
        "rosh_level": "medium", "actions": [], "minutes": "m"}) == 200
    assert await _low_26_nov(somerset, case) == (409, "panel-approval-required")


async def test_M6_lowering_dated_between_sittings_typed_before_the_panel_lowered(
        somerset: Tenant) -> None:
    """M6 (Somerset 7.2.1): "Where the current judgment of ROSH/S and WB concern is High or Very
    high, recommendation that the risk level is reduced must be approved by the panel". The
    same acts, the case holder's low dated 26 Nov typed before the MARP of 1 Dec: 409 too (the
    same check, at typing time), and the panel's lowering of 1 Dec is then recorded."""
    case = await _very_high_under_review(somerset)
    assert await _low_26_nov(somerset, case) == (409, "panel-approval-required")
    assert await _marp(somerset, case, "2026-12-01T10:00:00Z", {
        "rosh_level": "medium", "actions": [], "minutes": "m"}) == 200
