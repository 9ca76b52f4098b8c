"""Closing a statutory case needs its closure Asset+ (Wokingham "Assessment Reviews"), through HTTP.

"Additionally, all statutory Orders, bail and remand cases must have a closure Asset+ or, where
relevant, a Transfer to Probation Asset+." "An assessment (Asset+ or mini-asset) is not
considered complete until it has been counter signed by a line manager." A closed case takes no
assessment, so the closure is refused (422 ``closure-assessment-required``, naming what is
missing) until that Asset+ is countersigned; the case holder and line manager do it first, then
close. A child who has died is not assessed: a recorded death lifts the requirement. Somerset's
policy asks no closure assessment: its cases close as before.

2026 dates: Friday 28 August, before the late-summer bank holiday (Monday 31 August).
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.integrity_support import (
    assert_problem,
    audit_of,
    closing_asset_plus,
    patch_case,
    steps_of,
)
from tests.conftest import Tenant

CLOSE = {"closed_at": "2026-08-28T16:00:00+01:00", "closure_reason": "Order completed"}
BEFORE_CLOSE = "2026-08-28T14:00:00+01:00"


async def _case(t: Tenant, **fields: Any) -> dict[str, Any]:
    return (await t.open_case(opened_at="2026-08-24T09:00:00+01:00", **fields))["data"]


@pytest.mark.parametrize("intervention", ["court_order", "bail", "remand"])
async def test_W3_statutory_case_without_a_closure_asset_plus_cannot_close(
    wokingham: Tenant, intervention: str,
) -> None:
    """W3 ("Assessment Reviews"): "all statutory Orders, bail and remand cases must have a
    closure Asset+ or, where relevant, a Transfer to Probation Asset+": closing without one is
    422 naming the missing assessment; the case stays open with its steps, nothing audited."""
    case = await _case(wokingham, intervention=intervention)
    before = await steps_of(wokingham, case["id"])
    problem = assert_problem(await patch_case(wokingham, case["id"], CLOSE), 422)
    assert problem["type"].endswith("/closure-assessment-required")
    assert problem["errors"][0]["loc"] == "body.closed_at"
    assert "closure Asset+" in problem["detail"]
    assert (problem["rule"], problem["policy_ref"], problem["closing_assessments"]) == (
        "W3", "Assessment Reviews", [])
    assert problem["required"] == {"assessment_types": ["asset_plus"],
                                   "assessment_stages": ["closure", "transfer"],
                                   "status": "countersigned"}
    r = await wokingham.client.get(f"/v1/cases/{case['id']}", headers=wokingham.auth("chair"))
    assert r.json()["data"]["closed_at"] is None
    assert await steps_of(wokingham, case["id"]) == before
    assert "case.close" not in [e["action"] for e in await audit_of(wokingham, case["id"])]


async def test_W3_a_closure_asset_plus_not_yet_countersigned_is_named(wokingham: Tenant) -> None:
    """W3: "An assessment ... is not considered complete until it has been counter signed by a
    line manager": a submitted closure Asset+ does not yet allow the closure; the problem names
    it and its status, so the line manager knows to countersign it first."""
    case = await _case(wokingham)
    pending = await closing_asset_plus(wokingham, case["id"], BEFORE_CLOSE, countersign=False)
    problem = assert_problem(await patch_case(wokingham, case["id"], CLOSE), 422)
    assert problem["closing_assessments"] == [{"id": pending["id"], "status": "submitted"}]
    assert "not yet countersigned" in problem["errors"][0]["msg"]


@pytest.mark.parametrize("stage", ["closure", "transfer"])
async def test_W3_countersigned_closure_or_transfer_asset_plus_lets_the_case_close(
    wokingham: Tenant, stage: str,
) -> None:
    """W3: "... a closure Asset+ or, where relevant, a Transfer to Probation Asset+": either,
    countersigned, lets the statutory case close (its open steps superseded as ever)."""
    case = await _case(wokingham)
    await closing_asset_plus(wokingham, case["id"], BEFORE_CLOSE, stage=stage)
    r = await patch_case(wokingham, case["id"], CLOSE)
    assert r.status_code == 200, r.text
    assert r.json()["data"]["closed_at"] == "2026-08-28T15:00:00Z"
    assert await steps_of(wokingham, case["id"]) == []


async def test_W3_a_recorded_death_lifts_the_closure_asset_plus(wokingham: Tenant) -> None:
    """W3: a child who has died is not assessed: with the death recorded (Thursday 27 August),
    the statutory case closes without a closure Asset+."""
    case = await _case(wokingham)
    r = await wokingham.client.post(f"/v1/cases/{case['id']}/events",
                                    json={"type": "death",
                                          "occurred_at": "2026-08-27T10:00:00+01:00"},
                                    headers=wokingham.auth("case_holder"))
    assert r.status_code == 201, r.text
    r = await patch_case(wokingham, case["id"], CLOSE)
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("intervention", ["prevention", "community_resolution", "youth_caution"])
async def test_W3_prevention_and_diversion_close_without_a_closure_asset_plus(
    wokingham: Tenant, intervention: str,
) -> None:
    """W3: prevention and diversion cases: "the initial assessment will usually be followed by a
    mini-asset closure" ("usually": not a bar): they close without one."""
    case = await _case(wokingham, intervention=intervention)
    r = await patch_case(wokingham, case["id"], CLOSE)
    assert r.status_code == 200, r.text


async def test_somerset_statutory_case_closes_without_a_closure_assessment(
    somerset: Tenant,
) -> None:
    """Somerset's policy (2.1: "AssetPlus assessment will be reviewed maximum 12 weekly") asks
    for no closure assessment: a court order case closes as before."""
    case = await _case(somerset)
    r = await patch_case(somerset, case["id"], CLOSE)
    assert r.status_code == 200, r.text
