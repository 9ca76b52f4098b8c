"""A panel action follows the role its owner held at the decision when that role's holder
changes (attack 26b, ATTACK26B-3).

Somerset YJT 2023, 7.1.8: "Line managers will monitor the implementation of agreed plans."
Contract (PATCH /v1/cases/{id}): a reassignment of ``case_holder_id`` or ``line_manager_id``
"moves the open steps those roles own to the new person".

A MARP action the panel gave the case's line manager went to the case holder when the line
manager changed ("Reassigned: lm may no longer see the case; to the case holder"): the new
line manager never saw the panel's action for them. Now an action owned in the role of line
manager (or case holder) moves with that role to its new holder; the chair's own action and a
named professional's stay with them. The same for Wokingham's High-Risk Panel.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from app.core.config import Settings
from tests.api.integrity_support import patch_case, steps_of
from tests.api.test_panels import add_item, refer_to_panel, schedule
from tests.conftest import make_tenant

ACTIONS = {"holder action": "case_holder-1", "line manager to monitor": "line_manager-1",
           "chair to write to the police": "chair-1", "police to check address": "pc-jones"}


async def _actions(t: Any, case_id: str) -> dict[str, str | None]:
    return {s["title"].split(": ", 1)[-1]: s["assignee_id"]
            for s in await steps_of(t, case_id) if s["code"] == "panel_action"}


@pytest.mark.parametrize("pack", ["somerset-yjt-2023", "wokingham-pyjs-2024"])
async def test_panel_actions_follow_the_role_their_owner_held(
    pack: str, client: httpx.AsyncClient, settings: Settings
) -> None:
    """Actions for the case holder, the line manager, the chair and a police officer; the line
    manager changes (line_manager-1 -> line_manager-2): only the line manager's action moves,
    to line_manager-2 (listed under their ``assignee=me``); then the case holder changes
    (case_holder-1 -> case_holder-2): only the case holder's action moves, to case_holder-2."""
    t = await make_tenant(client, settings, pack)
    case_id = (await t.open_case())["data"]["id"]
    kind = "high_risk_panel" if pack.startswith("wokingham") else "marp"
    panel = await schedule(t.client, t, "2026-09-03T10:00:00+01:00", kind)
    await refer_to_panel(t.client, t, case_id)
    item = await add_item(t.client, t, panel["id"], case_id)
    body = {"actions": [{"description": d, "owner_id": o, "due_date": "2026-09-10"}
                        for d, o in ACTIONS.items()],
            "rosh_level": "medium", "review_date": "2026-10-01", "minutes": "Plan agreed",
            "occurred_at": "2026-09-03T11:00:00+01:00"}
    r = await t.client.post(f"/v1/panels/{panel['id']}/items/{item['id']}/decision",
                            json=body, headers=t.auth("chair", "chair-1"))
    assert r.status_code == 200, r.text
    assert await _actions(t, case_id) == ACTIONS

    r = await patch_case(t, case_id, {"line_manager_id": "line_manager-2"})
    assert r.status_code == 200, r.text
    assert await _actions(t, case_id) == {**ACTIONS, "line manager to monitor": "line_manager-2"}
    mine = await t.client.get("/v1/next-steps", params={"assignee": "me", "limit": 200},
                              headers=t.auth("line_manager", "line_manager-2"))
    assert mine.status_code == 200, mine.text
    assert [s["code"] for s in mine.json()["data"]
            if s["case_id"] == case_id and s["code"] == "panel_action"] == ["panel_action"]

    r = await patch_case(t, case_id, {"case_holder_id": "case_holder-2"},
                         sub="line_manager-2")
    assert r.status_code == 200, r.text
    assert await _actions(t, case_id) == {**ACTIONS, "line manager to monitor": "line_manager-2",
                                          "holder action": "case_holder-2"}
