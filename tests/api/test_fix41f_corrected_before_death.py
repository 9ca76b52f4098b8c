"""ATTACK40-6, verified on main after fix40a (fix41f): a monthly step recorded missed at a
child's death and corrected by an act dated before its deadline, typed in after the death,
leaves the record that typing the correction first leaves: the next month's occurrence owed
from the correction (due before the death) is missed at the death (a waiver's keeps its due
date, as in time order). Reported on a5d4616 (no next month at all), fixed by fix40a (959156f);
these check the reproduction's variants: Wokingham W30 completed, stood for by an oversight
entry, waived; Somerset S11 completed by the line manager and S41 by a chair.

Wokingham, Management oversight: "Monthly line supervision, including case discussion, at least
monthly" (W30). Somerset 4.5: "It is the responsibility of line managers to review all cases
where there is a High or Very High ROSH and/or Safety and Well-Being rating with case holders at
least monthly" (S11). Dates: case opened Tuesday 1 September 2026, ROSH high that day 10:00 BST,
the correction Wednesday 30 September 16:00 BST, the child's death Sunday 15 November 12:00Z.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.fidelity_support import pin
from tests.api.integrity_support import etag, judge_rosh, steps_of, the_step
from tests.conftest import Tenant, make_tenant

CORRECTED_AT, DIED_AT = "2026-09-30T16:00:00+01:00", "2026-11-15T12:00:00Z"


async def _typed(t: Tenant, code: str, how: str, by: str, death_first: bool
                 ) -> list[tuple[Any, ...]]:
    """The case's steps of ``code`` in every status (status, rule, due, completed) after the
    first occurrence is closed (``how``: complete, oversight, waive; by the role ``by``) at
    CORRECTED_AT and the child's death at DIED_AT, typed death first or correction first."""
    case_id = str((await t.open_case(opened_at="2026-09-01T09:00:00+01:00"))["data"]["id"])
    await judge_rosh(t, case_id, "high", "2026-09-01T10:00:00+01:00")
    step = the_step(await steps_of(t, case_id), code)["id"]

    async def died() -> None:
        r = await t.client.post(f"/v1/cases/{case_id}/events", json={
            "type": "death", "occurred_at": DIED_AT}, headers=t.auth("case_holder"))
        assert r.status_code == 201, r.text

    if death_first:
        await died()
    if how == "oversight":
        r = await t.client.post(f"/v1/cases/{case_id}/oversight", json={
            "note": "Supervision held.", "satisfies_step_id": step,
            "occurred_at": CORRECTED_AT},
            headers={**t.auth(by), "If-Match": await etag(t, case_id)})
        assert r.status_code == 201, r.text
    else:
        body = {"note": "Done.", "occurred_at": CORRECTED_AT} if how == "complete" \
            else {"reason": "Not needed that month.", "occurred_at": CORRECTED_AT}
        r = await t.client.post(f"/v1/next-steps/{step}/{how}", json=body, headers=t.auth(by))
        assert r.status_code == 200, r.text
    if not death_first:
        await died()
    found = []
    for status in ("open", "done", "superseded", "missed", "waived"):
        found += [(status, s["policy"]["rule"], s["due_at"], s.get("completed_at"))
                  for s in await steps_of(t, case_id, status) if s["code"] == code]
    return sorted(found)


@pytest.mark.parametrize(("pack", "code", "how", "by", "rule"), [
    ("wokingham-pyjs-2024", "monthly_line_supervision", "complete", "line_manager", "W30"),
    ("wokingham-pyjs-2024", "monthly_line_supervision", "oversight", "line_manager", "W30"),
    ("wokingham-pyjs-2024", "monthly_line_supervision", "waive", "duty_manager", "W30"),
    ("somerset-yjt-2023", "monthly_manager_review", "complete", "line_manager", "S11"),
    ("somerset-yjt-2023", "discuss_register_monthly", "complete", "chair", "S41"),
], ids=["W30-complete", "W30-oversight", "W30-waive", "S11-complete", "S41-complete"])
async def test_W30_S11_S41_a_month_corrected_after_the_death_leaves_the_next_month_missed(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch, pack: str, code: str, how: str,
        by: str, rule: str) -> None:
    """W30 (Wokingham): "Monthly line supervision, including case discussion, at least
    monthly"; S11 (Somerset 4.5): "review all cases where there is a High or Very High ROSH
    ... with case holders at least monthly"; S41 (9): the register discussed monthly. The first
    month done (or waived) on 30 September, typed in after the death of 15 November: the next
    month, owed from 30 September and due before the death, is missed at the death, exactly as
    when the correction is typed before the death (ATTACK40-6: nothing after the corrected
    month, on a5d4616)."""
    pin(monkeypatch, 2026, 12, 3, 12, 0)
    t = await make_tenant(somerset.client, somerset.settings, pack)
    in_order = await _typed(t, code, how, by, death_first=False)
    assert [s[:2] for s in in_order if s[0] == "missed"] == [("missed", rule)]
    assert len(in_order) == 2, in_order
    assert await _typed(t, code, how, by, death_first=True) == in_order
