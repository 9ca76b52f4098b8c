"""A restriction never orphans an open step (attack A, M2).

Issue 8 §1: "A step is listed to, and can be completed by, only someone who may see its case
now". When a manager shuts a staff member out of a case (``excluded_staff``, or an
``allowed_staff`` list without them), every open step assigned to them moves in the same write:
a case holder's or line manager's step to the role's current holder, any other step to its role
(unassigned, so any holder of the role who may see the case completes it); audited
(``step.reassign``), announced (``step.reassigned``) and listed in the PATCH's
``reassigned_steps``, exactly as a reassignment.

Somerset 2023, 3.4 (S16): a duty manager acting in the line manager's absence "must advise the
line manager" afterwards: the step that duty is recorded on is the one left behind.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.integrity_support import (
    assert_problem,
    audit_of,
    complete,
    judge,
    outbox_types,
    patch_case,
    steps_of,
)
from tests.conftest import Tenant


async def _covered_case(t: Tenant) -> tuple[str, dict[str, Any]]:
    """A ROSH-high case where duty_manager-7 covered a line manager's step: the S16 step
    advise_line_manager is open and assigned to duty_manager-7."""
    case = (await t.open_case())["data"]
    body = await judge(t, case["id"], "rosh", "high", "2026-06-01T10:00:00+01:00")
    step = next(s for s in body["next_steps"] if s["actor"] == "line_manager")
    r = await complete(t, step["id"], "duty_manager", "duty_manager-7", note="cover")
    assert r.status_code == 200, r.text
    advise = next(s for s in await steps_of(t, case["id"]) if s["code"] == "advise_line_manager")
    assert advise["assignee_id"] == "duty_manager-7"
    return case["id"], advise


@pytest.mark.parametrize(("access", "bare_duty"), [
    # Excluded by name too: the role's duties reach them bare (ATTACK30B-15).
    ({"excluded_staff": ["duty_manager-7"]}, True),
    ({"allowed_staff": ["case_holder-1", "line_manager-1", "duty_manager-1", "duty_manager-8"]},
     True),
], ids=["excluded", "not-allowed"])
async def test_S16_restriction_moves_the_shut_out_duty_managers_step_to_the_role(
        settings: Any, somerset: Tenant, access: dict[str, Any], bare_duty: bool) -> None:
    """duty_manager-7 is shut out: their advise_line_manager step is unassigned (actor
    duty_manager), listed in reassigned_steps, audited and announced; duty_manager-8, who may
    see the case, completes it (200). Excluded by name or left out by an allow-list,
    duty_manager-7 still reads it as a role-addressed duty of any duty manager (the step alone:
    the case stays 404; tests/api/test_restricted_duties.py; ATTACK30B-15 for the excluded)."""
    case_id, advise = await _covered_case(somerset)
    r = await patch_case(somerset, case_id, {"access": access})
    assert r.status_code == 200, r.text
    moved = {s["id"]: s for s in r.json()["reassigned_steps"]}
    assert set(moved) == {advise["id"]}
    assert moved[advise["id"]]["assignee_id"] is None
    assert moved[advise["id"]]["actor"] == "duty_manager"
    reassigns = [e for e in await audit_of(somerset, case_id)
                 if e["action"] == "step.reassign" and e["entity_id"] == advise["id"]]
    assert len(reassigns) == 1
    assert (await outbox_types(settings, case_id)).count("step.reassigned") == 1
    seven = somerset.auth("duty_manager", "duty_manager-7")
    read = await somerset.client.get(f"/v1/next-steps/{advise['id']}", headers=seven)
    assert read.status_code == (200 if bare_duty else 404), read.text
    assert_problem(await somerset.client.get(f"/v1/cases/{case_id}", headers=seven), 404)
    if not bare_duty:
        assert_problem(await complete(somerset, advise["id"], "duty_manager", "duty_manager-7"),
                       404)
    done = await complete(somerset, advise["id"], "duty_manager", "duty_manager-8", note="told")
    assert done.status_code == 200, done.text
    assert done.json()["data"]["completed_by"] == "duty_manager-8"


async def test_restriction_that_shuts_nobody_out_moves_nothing(somerset: Tenant) -> None:
    """Excluding someone with no open step on the case moves no step (nothing audited)."""
    case_id, advise = await _covered_case(somerset)
    r = await patch_case(somerset, case_id, {"access": {"excluded_staff": ["chair-9"]}})
    assert r.status_code == 200, r.text
    assert r.json()["reassigned_steps"] == []
    still = next(s for s in await steps_of(somerset, case_id) if s["id"] == advise["id"])
    assert still["assignee_id"] == "duty_manager-7"
