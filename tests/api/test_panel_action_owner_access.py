"""The owner of a panel action sees and completes their own action, and nothing else of the case
(attack pass 16, A16-12).

Wokingham PYJS 2024, "Internal and External Controls": "Every action of the risk management plan
should include a timescale for completion and the professional responsible for it." High Risk
Panel: "At the end of the Panel, a specific action plan and risk classification should be
agreed". Somerset YJT 2023, 7.1.2: "Panel members will be asked to contribute and agree the
actions to manage/reduce the identified risks/concerns. Notes will be recorded on the MARP
minutes form including any actions".

An action named at a panel for a colleague outside the case's team (neither its holder nor its
manager) was invisible to them: 404 on the step, absent from ``assignee=me``, so the
professional responsible for it could neither see nor complete it. Now they see the step alone,
as a bare step (the case, its records and its other steps stay 404 to them), complete it, and
each read is in the case's access log under the role ``action_owner``. A restriction that shuts
them out still wins.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from app.core.config import Settings
from tests.api.integrity_support import assert_problem, complete, patch_case
from tests.api.test_panels import add_item, refer_to_panel, schedule
from tests.conftest import Tenant, make_tenant

OWNER = ("case_holder", "case_holder-7")  # a colleague of another team


async def _decide(t: Tenant, owner: str, case_id: str | None = None) -> tuple[str, Any]:
    """A panel (Thursday 3 September 2026) decides one action for ``owner``, due Thursday 10
    September; the case id and the decision's answer."""
    if case_id is None:
        case_id = (await t.open_case())["data"]["id"]
    kind = "high_risk_panel" if t.pack.startswith("wokingham") else "marp"
    panel = await schedule(t.client, t, "2026-09-03T10:00:00+01:00", kind)
    await refer_to_panel(t.client, t, case_id)
    item = await add_item(t.client, t, panel["id"], case_id)
    body: dict[str, Any] = {
        "actions": [{"description": "Joint visit with the school", "owner_id": owner,
                     "due_date": "2026-09-10"}],
        "rosh_level": "medium", "review_date": "2026-10-01", "minutes": "Plan agreed",
        "occurred_at": "2026-09-03T11:00:00+01:00"}
    r = await t.client.post(f"/v1/panels/{panel['id']}/items/{item['id']}/decision",
                            json=body, headers=t.auth("chair", "chair-1"))
    assert r.status_code == 200, r.text
    (action,) = [s for s in r.json()["next_steps"] if s["code"] == "panel_action"]
    return case_id, action


async def _log(t: Tenant, case_id: str) -> list[dict[str, Any]]:
    r = await t.client.get(f"/v1/cases/{case_id}/access-log", params={"limit": 200},
                           headers=t.auth("line_manager"))
    assert r.status_code == 200, r.text
    return list(r.json()["data"])


@pytest.mark.parametrize("pack", ["somerset-yjt-2023", "wokingham-pyjs-2024"])
async def test_the_owner_outside_the_case_sees_and_completes_their_own_action(
    pack: str, client: httpx.AsyncClient, settings: Settings
) -> None:
    """case_holder-7 (another team) owns the action: they read it (200) and list it under
    ``assignee=me``; the case, its judgements and its other steps stay 404 or absent; they
    complete it (200, ``completed_by`` them, no ``next_steps``: the case's are not theirs);
    the case's access log records their reads under ``action_owner``."""
    t = await make_tenant(client, settings, pack)
    case_id, action = await _decide(t, OWNER[1])
    owner = t.auth(*OWNER)
    assert action["assignee_id"] == OWNER[1]
    r = await t.client.get(f"/v1/next-steps/{action['id']}", headers=owner)
    assert r.status_code == 200, r.text
    assert r.json()["data"]["title"] == action["title"]
    mine = await t.client.get("/v1/next-steps", params={"assignee": "me"}, headers=owner)
    assert [s["id"] for s in mine.json()["data"]] == [action["id"]]
    every = await t.client.get("/v1/next-steps", params={"case_id": case_id}, headers=owner)
    assert [s["id"] for s in every.json()["data"]] == [action["id"]]
    for url in (f"/v1/cases/{case_id}", f"/v1/cases/{case_id}/judgements",
                f"/v1/cases/{case_id}/timeline"):
        assert_problem(await t.client.get(url, headers=owner), 404)
    log = [e for e in await _log(t, case_id) if e["actor"] == OWNER[1]]
    assert log
    assert {e["role"] for e in log} == {"action_owner"}
    assert {e["what"] for e in log} == {"GET /v1/next-steps/{step_id}", "GET /v1/next-steps"}
    done = await complete(t, action["id"], *OWNER, note="Visit done with the school")
    assert done.status_code == 200, done.text
    assert done.json()["data"]["status"] == "done"
    assert done.json()["data"]["completed_by"] == OWNER[1]
    assert done.json()["next_steps"] == []


async def test_a_restriction_that_shuts_the_owner_out_still_wins(wokingham: Tenant) -> None:
    """The case is later restricted to exclude case_holder-7: their action goes to the case
    holder (as before), and it is 404 to them."""
    case_id, action = await _decide(wokingham, OWNER[1])
    r = await patch_case(wokingham, case_id, {"access": {"excluded_staff": [OWNER[1]]}})
    assert r.status_code == 200, r.text
    owner = wokingham.auth(*OWNER)
    assert_problem(await wokingham.client.get(f"/v1/next-steps/{action['id']}",
                                              headers=owner), 404)
    assert_problem(await complete(wokingham, action["id"], *OWNER, note="x"), 404)
