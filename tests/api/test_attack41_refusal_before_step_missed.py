"""An act a step can never take is refused as such whatever its date (ATTACK41-13): an oversight
entry standing for a step the policy does not let oversight answer is 422
``not-satisfiable-by-oversight``, and a waiver a manager may not give is 403, also when dated
at or after the end of the step's need, where a permitted act gets 409 ``step-missed`` with
``need_ended_at`` (which invites a client to date it earlier: an act that could never be
accepted). Before: dated at or after a death that left the step missed, both were 409
``step-missed``; dated before it, 422 / 403.

Somerset 2023, 9: the High/Very High list is discussed "in the monthly supervision between the
YJT Strategic Manager and the Operations Manager" (S41: the chair's, not satisfiable by a line
manager's oversight entry). Wokingham, Management oversight: "Monthly line supervision,
including case discussion, at least monthly" (W30, the case's line manager's own duty: a
manager may not waive a step assigned to them).
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.integrity_support import assert_problem, heard_by_marp, judge, steps_of
from tests.conftest import Tenant

END = "2026-08-20T12:00:00+01:00"  # Thursday 20 August 2026 12:00 BST: the child's death
DATES = ("2026-08-10T10:00:00+01:00", END, "2026-08-21T10:00:00+01:00")


async def _death(t: Tenant, case_id: str) -> None:
    r = await t.client.post(f"/v1/cases/{case_id}/events",
                            json={"type": "death", "occurred_at": END},
                            headers=t.auth("case_holder"))
    assert r.status_code == 201, r.text


async def _missed(t: Tenant, case_id: str, code: str) -> dict[str, Any]:
    [step] = [s for s in await steps_of(t, case_id, "missed") if s["code"] == code]
    return step


@pytest.mark.parametrize("at", DATES)
async def test_S41_oversight_for_the_chairs_monthly_discussion_is_422_at_any_date(
        somerset: Tenant, at: str) -> None:
    """Somerset 9 (S41, the chair's monthly discussion of the High/Very High list): ROSH high on
    Thursday 30 April 2026 10:00 BST, heard by the MARP on Tuesday 12 May; the child's death on
    Thursday 20 August 12:00 BST leaves the discussion missed. A line manager's oversight entry
    standing for it, dated 10 August (before the death), at the death, or the day after: 422
    ``not-satisfiable-by-oversight`` each time (was 409 ``step-missed`` at and after the
    death), and the step stays missed."""
    t = somerset
    case_id = str((await t.open_case(opened_at="2026-04-27T09:00:00+01:00"))["data"]["id"])
    await judge(t, case_id, "rosh", "high", "2026-04-30T10:00:00+01:00")
    await heard_by_marp(t, case_id, sits="2026-05-12T10:00:00+01:00",
                        review_date="2026-09-08", rosh_level="high")
    await _death(t, case_id)
    step = await _missed(t, case_id, "discuss_register_monthly")
    r = await t.client.post(f"/v1/cases/{case_id}/oversight", json={
        "note": "Discussed", "satisfies_step_id": step["id"], "occurred_at": at},
        headers=t.auth("line_manager"))
    body = assert_problem(r, 422)
    assert body["type"].endswith("/not-satisfiable-by-oversight"), body
    assert "need_ended_at" not in body, body
    assert (await _missed(t, case_id, "discuss_register_monthly"))["id"] == step["id"]


@pytest.mark.parametrize("at", DATES)
async def test_W30_a_line_manager_waiving_their_own_supervision_is_403_at_any_date(
        wokingham: Tenant, at: str) -> None:
    """Wokingham (W30, the case's line manager's monthly supervision): SWB high on Tuesday 2 June
    2026 10:00 BST (supervision due Thursday 2 July); the child's death on Thursday 20 August
    12:00 BST leaves it missed. The line manager waiving it (their own duty), dated 10 August,
    at the death, or the day after: 403 each time (was 409 ``step-missed`` at and after the
    death), and the step stays missed."""
    t = wokingham
    case_id = str((await t.open_case(opened_at="2026-06-01T09:00:00+01:00",
                                     intervention="prevention", csc_status="cin"))["data"]["id"])
    await judge(t, case_id, "swb", "high", "2026-06-02T10:00:00+01:00")
    await _death(t, case_id)
    step = await _missed(t, case_id, "monthly_line_supervision")
    r = await t.client.post(f"/v1/next-steps/{step['id']}/waive", json={
        "reason": "Discussed at the team meeting instead", "occurred_at": at},
        headers=t.auth("line_manager"))
    body = assert_problem(r, 403)
    assert "need_ended_at" not in body, body
    assert (await _missed(t, case_id, "monthly_line_supervision"))["id"] == step["id"]
