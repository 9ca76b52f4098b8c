"""Staff changes: a case's open steps follow the role they came from to its new holder.

"ROSH and SWB management is the responsibility of the case holder, with their line manager
providing oversight and support" (Somerset 3.1): when the case holder or the line manager
changes, so do the steps that are theirs. A step is listed to, and completed by, only someone
who may see its case now.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.integrity_support import (
    assert_problem,
    audit_of,
    codes,
    complete,
    outbox_types,
    patch_case,
    steps_of,
    the_step,
)
from tests.conftest import Tenant

HOLDER_STEPS = {"refer_to_panel", "seek_child_and_carer_views", "inform_child_and_carer",
                "update_intervention_plan", "complete_assessment"}
MANAGER_STEPS = {"discuss_with_manager", "countersign_risk_plan", "monthly_manager_review"}
# S41 (9, A19-4): the senior managers' monthly discussion of the register, unassigned (chair).
CHAIR = {"-": {"discuss_register_monthly"}}


async def alex_and_sam_case(t: Tenant) -> dict[str, Any]:
    """The issue's case: held by cw-alex, managed by lm-sam, ROSH high."""
    body = {
        "child": {"given_name": "Jo", "family_name": "Reed", "date_of_birth": "2010-04-01"},
        "case_holder_id": "cw-alex", "line_manager_id": "lm-sam",
        "intervention": "court_order", "csc_status": "none",
        "opened_at": "2026-09-01T09:00:00+01:00",
    }
    r = await t.client.post("/v1/cases", json=body, headers=t.auth("line_manager", "lm-sam"))
    assert r.status_code == 201, r.text
    case: dict[str, Any] = r.json()["data"]
    r = await t.client.post(f"/v1/cases/{case['id']}/judgements",
                            json={"domain": "rosh", "level": "high",
                                  "occurred_at": "2026-09-01T11:00:00+01:00"},
                            headers=t.auth("case_holder", "cw-alex"))
    assert r.status_code == 201, r.text
    return case


async def mine(t: Tenant, role: str, sub: str, case_id: str) -> list[dict[str, Any]]:
    """The case's steps listed to ``sub`` under ``assignee=me``."""
    r = await t.client.get("/v1/next-steps", params={"assignee": "me", "limit": 200},
                           headers=t.auth(role, sub))
    assert r.status_code == 200, r.text
    return [s for s in r.json()["data"] if s["case_id"] == case_id]


def by_assignee(steps: list[dict[str, Any]]) -> dict[str, set[str]]:
    """Step codes per assignee."""
    out: dict[str, set[str]] = {}
    for step in steps:
        out.setdefault(step["assignee_id"] or "-", set()).add(step["code"])
    return out


async def test_new_case_holder_takes_the_case_holders_open_steps(
    settings: Any, somerset: Tenant
) -> None:
    """The issue's reproduction: cw-alex's steps move to cw-bea, in the PATCH's answer, the
    audit (from, to) and the outbox; cw-alex can no longer list or complete them."""
    case = await alex_and_sam_case(somerset)
    before = await steps_of(somerset, case["id"])
    assert by_assignee(before)["cw-alex"] == HOLDER_STEPS
    r = await patch_case(somerset, case["id"], {"case_holder_id": "cw-bea"}, sub="lm-sam")
    assert r.status_code == 200, r.text
    moved = r.json()["reassigned_steps"]
    assert {s["code"] for s in moved} == HOLDER_STEPS
    assert {s["assignee_id"] for s in moved} == {"cw-bea"}
    assert by_assignee(r.json()["next_steps"]) == {"cw-bea": HOLDER_STEPS,
                                                   "lm-sam": MANAGER_STEPS, **CHAIR}
    # The old holder: the case, its steps and their completion are gone for them.
    assert_problem(await somerset.client.get(f"/v1/cases/{case['id']}",
                                             headers=somerset.auth("case_holder", "cw-alex")), 404)
    assert await mine(somerset, "case_holder", "cw-alex", case["id"]) == []
    # A step done by hand (the MARP referral is done only by the referral: A9-13).
    refer = the_step(moved, "update_intervention_plan")
    assert_problem(await complete(somerset, refer["id"], "case_holder", "cw-alex"), 404)
    # The new holder lists and completes them.
    assert {s["code"] for s in await mine(somerset, "case_holder", "cw-bea", case["id"])} \
        == HOLDER_STEPS
    done = await complete(somerset, refer["id"], "case_holder", "cw-bea", note="Plan updated")
    assert done.status_code == 200, done.text
    assert done.json()["data"]["completed_by"] == "cw-bea"
    audit = [e for e in await audit_of(somerset, case["id"]) if e["action"] == "step.reassign"]
    assert sorted(e["entity_id"] for e in audit) == sorted(s["id"] for s in moved)
    assert {e["reason"] for e in audit} == {"case_holder changed from cw-alex to cw-bea"}
    assert {e["role"] for e in audit} == {"line_manager"}
    assert (await outbox_types(settings, case["id"])).count("step.reassigned") == len(moved)


async def test_new_line_manager_takes_the_line_managers_open_steps(somerset: Tenant) -> None:
    """lm-sam's S5, S6 and S11 steps move to lm-kim (handed over on 10 September); lm-sam
    cannot see or complete them; lm-kim completes S11 dated 20 September (dated before the
    handover it would be lm-sam's act: 422, attack 26b, ATTACK26B-1)."""
    case = await alex_and_sam_case(somerset)
    r = await patch_case(somerset, case["id"], {"line_manager_id": "lm-kim",
                                                "occurred_at": "2026-09-10T10:00:00+01:00"},
                         sub="lm-sam")
    assert r.status_code == 200, r.text
    moved = r.json()["reassigned_steps"]
    assert {s["code"] for s in moved} == MANAGER_STEPS
    assert by_assignee(r.json()["next_steps"]) == {"cw-alex": HOLDER_STEPS,
                                                   "lm-kim": MANAGER_STEPS, **CHAIR}
    review = the_step(moved, "monthly_manager_review")
    assert review["due_at"] == "2026-10-01T10:00:00Z"  # the deadline does not move
    assert await mine(somerset, "line_manager", "lm-sam", case["id"]) == []
    assert_problem(await complete(somerset, review["id"], "line_manager", "lm-sam"), 404)
    r = await complete(somerset, review["id"], "line_manager", "lm-kim",
                       occurred_at="2026-09-09T10:00:00+01:00")
    assert assert_problem(r, 422)["type"].endswith("/occurred-before-bound")
    r = await complete(somerset, review["id"], "line_manager", "lm-kim",
                       occurred_at="2026-09-20T10:00:00+01:00")
    assert r.status_code == 200, r.text
    nxt = the_step(r.json()["next_steps"], "monthly_manager_review")
    assert nxt["assignee_id"] == "lm-kim"


async def test_both_holders_changed_in_one_patch(somerset: Tenant) -> None:
    """Case holder and line manager changed together: every step moves, none stays behind."""
    case = await alex_and_sam_case(somerset)
    r = await patch_case(somerset, case["id"],
                         {"case_holder_id": "cw-bea", "line_manager_id": "lm-kim"},
                         role="duty_manager", sub="dm-pat")
    assert r.status_code == 200, r.text
    moved = r.json()["reassigned_steps"]
    assert by_assignee(moved) == {"cw-bea": HOLDER_STEPS, "lm-kim": MANAGER_STEPS}
    assert {s["id"] for s in moved} == {s["id"] for s in r.json()["next_steps"]
                                        if s["assignee_id"] in ("cw-bea", "lm-kim")}
    remaining = by_assignee(await steps_of(somerset, case["id"]))
    assert "cw-alex" not in remaining
    assert "lm-sam" not in remaining
    # S16 (3.1 "Where the duty manager has been consulted, they will advise the relevant line
    # manager of the outcome of these consultations"): a reallocation is no consultation on
    # risk, so nothing to report (attack 28b, ATK28B-18).
    assert "advise_line_manager" not in codes(r.json()["next_steps"])


async def test_duty_manager_acts_on_a_reassigned_case(somerset: Tenant) -> None:
    """After reassignment a duty manager covers the new line manager's step (S16: they must
    advise the line manager); the old line manager is out of it."""
    case = await alex_and_sam_case(somerset)
    r = await patch_case(somerset, case["id"], {"line_manager_id": "lm-kim"}, sub="lm-sam")
    discuss = the_step(r.json()["reassigned_steps"], "discuss_with_manager")
    r = await complete(somerset, discuss["id"], "duty_manager", "dm-pat",
                       note="Discussed with cw-alex while lm-kim was on leave",
                       occurred_at="2026-09-01T15:00:00+01:00")
    assert r.status_code == 200, r.text
    assert r.json()["data"]["completed_by"] == "dm-pat"
    advise = the_step(r.json()["next_steps"], "advise_line_manager")
    assert advise["assignee_id"] == "dm-pat"
    assert advise["policy"] == {"pack": "somerset-yjt-2023", "version": "1",
                                "ref": "2.2, 3.1", "rule": "S16"}
    countersign = the_step(r.json()["next_steps"], "countersign_risk_plan")
    assert countersign["assignee_id"] == "lm-kim"
    assert_problem(await complete(somerset, countersign["id"], "line_manager", "lm-sam"), 404)


@pytest.mark.parametrize("field", ["case_holder_id", "line_manager_id"])
async def test_case_holder_cannot_reassign(somerset: Tenant, field: str) -> None:
    """Reassigning is a manager's act: the case holder gets 403 and nothing moves."""
    case = await alex_and_sam_case(somerset)
    r = await patch_case(somerset, case["id"], {field: "cw-alex"}, role="case_holder",
                         sub="cw-alex")
    assert_problem(r, 403)
    assert by_assignee(await steps_of(somerset, case["id"])) == {
        "cw-alex": HOLDER_STEPS, "lm-sam": MANAGER_STEPS, **CHAIR}
