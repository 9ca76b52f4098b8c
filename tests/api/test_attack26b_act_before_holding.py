"""A step done as the case's holder or line manager is not dated before its recorder held that
role (attack 26b, ATTACK26B-1).

Somerset YJT 2023, 3.1: "High and Very High ROSH ... will be discussed with the relevant line
manager"; Wokingham PYJS 2024 likewise names the case worker's line manager. Contract: the
timeline lists every step done "with who"; the record must say who did what when.

After line_manager-1 was replaced by line_manager-2 (and case_holder-1 by case_holder-2), the
newcomer could record an act dated before they held the role, as their own: the timeline said
line_manager-2 discussed the case on 2 November, though they were named its line manager a
month later. Now such a completion (or waiver, or oversight entry standing for the step) is
422 ``occurred-before-bound`` naming the reassignment and who held the role then, nothing
written, as a reassignment is not dated before the latest act (A24a-8); the same act undated
(done now, by them) stands.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from app.core.config import Settings
from tests.api.fidelity_support import with_matrix
from tests.api.integrity_support import assert_problem, patch_case, steps_of
from tests.conftest import Tenant, make_tenant

PACKS = ["somerset-yjt-2023", "wokingham-pyjs-2024"]
# A line manager's step and a case holder's, each done by hand, that ROSH high raises.
CODES = {"somerset-yjt-2023": {"line_manager": "discuss_with_manager",
                               "case_holder": "inform_child_and_carer"},
         "wokingham-pyjs-2024": {"line_manager": "monthly_line_supervision",
                                 "case_holder": "inform_child_and_carer"}}


async def _moved(pack: str, client: httpx.AsyncClient, settings: Settings
                 ) -> tuple[Tenant, str, dict[str, dict[str, Any]]]:
    """ROSH high on Monday 2 November 2026, 10:00 by case_holder-1; then (undated: now, after
    every act) the case goes to case_holder-2 and line_manager-2. The open steps by actor."""
    t = await make_tenant(client, settings, pack)
    case_id = (await t.open_case(opened_at="2026-09-01T10:00:00+01:00"))["data"]["id"]
    r = await t.client.post(f"/v1/cases/{case_id}/judgements", json=with_matrix(pack, {
        "domain": "rosh", "level": "high", "victims": ["public"],
        "occurred_at": "2026-11-02T10:00:00Z"}), headers=t.auth("case_holder"))
    assert r.status_code == 201, r.text
    r = await patch_case(t, case_id, {"case_holder_id": "case_holder-2",
                                      "line_manager_id": "line_manager-2"})
    assert r.status_code == 200, r.text
    codes = CODES[pack]
    steps = {s["actor"]: s for s in await steps_of(t, case_id) if s["code"] in codes.values()}
    assert {a: s["code"] for a, s in steps.items()} == codes
    return t, case_id, steps


def _refused(r: httpx.Response, who: str, before: str) -> None:
    problem = assert_problem(r, 422)
    assert problem["type"].endswith("/occurred-before-bound"), problem
    assert problem["bound"]["name"] == f"when you became the case's {who}; {before} held it then"


@pytest.mark.parametrize("pack", PACKS)
async def test_a_completion_dated_before_the_completer_held_the_role_is_refused(
    pack: str, client: httpx.AsyncClient, settings: Settings
) -> None:
    """line_manager-2 completing the line manager's step dated 2 November 15:00 (before they
    were named): 422 naming the bound and line_manager-1; case_holder-2 the case holder's step
    the same; both still open; undated (now) each is done by its recorder (200)."""
    t, _, steps = await _moved(pack, client, settings)
    for actor in ("line_manager", "case_holder"):
        step = steps[actor]
        assert step["assignee_id"] == f"{actor}-2"
        r = await t.client.post(f"/v1/next-steps/{step['id']}/complete",
                                json={"note": "discussed", "occurred_at": "2026-11-02T15:00:00Z"},
                                headers=t.auth(actor, f"{actor}-2"))
        _refused(r, actor.replace("_", " "), f"{actor}-1")
        r = await t.client.get(f"/v1/next-steps/{step['id']}", headers=t.auth(actor, f"{actor}-2"))
        assert r.json()["data"]["status"] == "open"
        r = await t.client.post(f"/v1/next-steps/{step['id']}/complete",
                                json={"note": "discussed"}, headers=t.auth(actor, f"{actor}-2"))
        assert r.status_code == 200, r.text
        assert r.json()["data"]["completed_by"] == f"{actor}-2"


@pytest.mark.parametrize("pack", PACKS)
async def test_a_waiver_dated_before_the_line_manager_held_the_case_is_refused(
    pack: str, client: httpx.AsyncClient, settings: Settings
) -> None:
    """The twin: line_manager-2 waiving the case holder's step dated 3 November: 422 as above;
    a duty manager (a role held by membership, not by the case) may date it then (200)."""
    t, _, steps = await _moved(pack, client, settings)
    step = steps["case_holder"]
    body = {"reason": "not needed", "occurred_at": "2026-11-03T10:00:00Z"}
    r = await t.client.post(f"/v1/next-steps/{step['id']}/waive", json=body,
                            headers=t.auth("line_manager", "line_manager-2"))
    _refused(r, "line manager", "line_manager-1")
    r = await t.client.post(f"/v1/next-steps/{step['id']}/waive", json=body,
                            headers=t.auth("duty_manager"))
    assert r.status_code == 200, r.text
