"""Work done before a handover, typed up after it, recorded in the name of who did it (attack
pass 30, A30a-12).

Somerset 4.2: "Where judgement ratings identify a Medium/High/Very High risk and/or concern,
case holders will ensure that priority factors linked to these judgements will be incorporated
into the intervention plan" (S13); 13.4.1 at a handover "the case holder will ensure that all
the relevant documentation is up to date". case_holder-1 writes the plan on Tuesday 29
December 2026 at 15:00 and the case is handed to case_holder-2 on Wednesday 30 December before
it is typed: case_holder-1 may no longer see the case (404), case_holder-2 may not record it as
their own act of the 29th (422: case_holder-1 held the case then), and a manager may not
complete a case holder's step (403). The one who may complete it now (the new holder) names
the doer,
``done_by``: the step is completed in case_holder-1's name at its true time, the recorder in
the audit entry; a ``done_by`` who did not hold the case then is 422.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.fidelity_support import pin
from tests.api.integrity_support import assert_problem, audit_of, patch_case, steps_of
from tests.conftest import Tenant

WRITTEN = "2026-12-29T15:00:00Z"


async def _handed_over(t: Tenant, monkeypatch: pytest.MonkeyPatch) -> tuple[str, str]:
    """A case high ROSH on 29 December 09:00, handed to case_holder-2 on 30 December; its id
    and its S13 step's."""
    pin(monkeypatch, 2026, 12, 29, 9, 30)
    case_id = (await t.open_case(opened_at="2026-12-01T10:00:00Z"))["data"]["id"]
    r = await t.client.post(f"/v1/cases/{case_id}/judgements", headers=t.auth("case_holder"),
                            json={"domain": "rosh", "level": "high",
                                  "occurred_at": "2026-12-29T09:00:00Z"})
    assert r.status_code == 201, r.text
    pin(monkeypatch, 2026, 12, 30, 10, 0)
    r = await patch_case(t, case_id, {"case_holder_id": "case_holder-2"})
    assert r.status_code == 200, r.text
    [plan] = [s for s in await steps_of(t, case_id) if s["code"] == "update_intervention_plan"]
    assert (plan["assignee_id"], plan["policy"]["rule"]) == ("case_holder-2", "S13")
    return str(case_id), str(plan["id"])


async def _complete(t: Tenant, step: str, body: dict[str, Any], role: str = "case_holder",
                    sub: str = "case_holder-2") -> Any:
    return await t.client.post(f"/v1/next-steps/{step}/complete", json=body,
                               headers=t.auth(role, sub))


async def test_S13_a_former_holders_plan_is_recorded_in_their_name_at_its_time(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """The new holder records case_holder-1's plan of 29 December 15:00: done, completed_by
    case_holder-1, at 15:00; the audit entry's actor is the recorder, with ``done_by``. The line
    manager still may not complete a case holder's step (403), ``done_by`` or not."""
    case_id, step = await _handed_over(somerset, monkeypatch)
    own = await _complete(somerset, step, {"occurred_at": WRITTEN})
    assert assert_problem(own, 422)["type"].endswith("/occurred-before-bound")
    body = {"occurred_at": WRITTEN, "done_by": "case_holder-1",
            "note": "Plan updated before the handover"}
    manager = await _complete(somerset, step, body, "line_manager", "line_manager-1")
    assert assert_problem(manager, 403)["type"].endswith("/forbidden")
    r = await _complete(somerset, step, body)
    assert r.status_code == 200, r.text
    [done] = [s for s in await steps_of(somerset, case_id, "done") if s["id"] == step]
    assert (done["completed_by"], done["completed_at"]) == ("case_holder-1", WRITTEN)
    [entry] = [e for e in await audit_of(somerset, case_id)
               if e["action"] == "step.done" and e["entity_id"] == step]
    assert entry["actor"] == "case_holder-2"
    assert "done_by" in entry["fields"]


async def test_S13_done_by_who_did_not_hold_the_case_then_is_refused(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """``done_by`` case_holder-9 (never the holder), or the line manager (who never held the
    case holder's role): 422 ``occurred-before-bound`` naming who held it; the step stays
    open."""
    case_id, step = await _handed_over(somerset, monkeypatch)
    for doer in ("case_holder-9", "line_manager-1"):
        r = await _complete(somerset, step, {"occurred_at": WRITTEN, "done_by": doer})
        problem = assert_problem(r, 422)
        assert problem["type"].endswith("/occurred-before-bound")
        assert "case_holder-1 held it then" in problem["detail"]
    assert step in {s["id"] for s in await steps_of(somerset, case_id)}
