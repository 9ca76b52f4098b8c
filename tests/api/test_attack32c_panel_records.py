"""What a panel's sitting leaves owed survives the case's closure (attack 32c, ATTACK32C-1).

The records a panel owes once it has sat (Somerset 7.1.4's CMS contact record, Wokingham's High
Risk Panel minutes) were superseded by a closure, although a death keeps them: the end of the
order does not undo the sitting.

2026 dates (GMT from Sunday 25 October): ROSH high Tuesday 20 October; the panel sits on
Wednesday 28 October and lowers it to medium; the case closes on Monday 2 November.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.fidelity_support import pin, with_matrix
from tests.api.integrity_support import patch_case, steps_of
from tests.conftest import Tenant


async def _panel_sat_then_closed(t: Tenant, kind: str, admin: str) -> tuple[str, Any]:
    """The case goes High, the panel lowers it to medium, the case closes: the closing
    answer."""
    case_id = str((await t.open_case(opened_at="2026-10-01T09:00:00+01:00",
                                     intervention="prevention"))["data"]["id"])
    r = await t.client.post(f"/v1/cases/{case_id}/judgements", json=with_matrix(t.pack, {
        "domain": "rosh", "level": "high", "occurred_at": "2026-10-20T10:00:00+01:00",
        "victims": ["peer"]}), headers=t.auth("case_holder"))
    assert r.status_code == 201, r.text
    r = await t.client.post("/v1/panels", json={
        "kind": kind, "scheduled_for": "2026-10-28T10:00:00Z", "chair_id": "chair-1"},
        headers=t.auth(admin, f"{admin}-1"))
    assert r.status_code == 201, r.text
    panel = r.json()["data"]
    r = await t.client.post(f"/v1/panels/{panel['id']}/items",
                            json={"case_id": case_id, "presenter_id": "case_holder-1"},
                            headers=t.auth(admin, f"{admin}-1"))
    assert r.status_code == 201, r.text
    r = await t.client.post(
        f"/v1/panels/{panel['id']}/items/{r.json()['data']['id']}/decision",
        json={"rosh_level": "medium", "minutes": "Lowered to medium", "actions": [
            {"description": "Review the plan", "owner_id": "case_holder-1",
             "due_date": "2026-11-04"}],
              "occurred_at": "2026-10-28T11:00:00Z"},
        headers=t.auth("chair", "chair-1"))
    assert r.status_code == 200, r.text
    r = await patch_case(t, case_id, {"closed_at": "2026-11-02T10:00:00Z",
                                      "closure_reason": "Intervention ended"})
    assert r.status_code == 200, r.text
    return case_id, r.json()


async def test_S19_the_marp_contact_record_survives_the_closure(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """S19 (7.1.4): "The MARP administrator will note in a CMS contact record that the child
    was discussed at MARP and will attach a record of the documentation to CMS." Owed because
    the MARP sat on 28 October; the closure of 2 November keeps it open, in the administrator's
    queue, as a death does (attack 32c, ATTACK32C-1: superseded by the closure)."""
    pin(monkeypatch, 2026, 11, 2, 10, 30)
    case_id, closing = await _panel_sat_then_closed(somerset, "marp", "panel_admin")
    assert [s["code"] for s in closing["next_steps"]] == ["record_panel_contact"]
    assert [s["code"] for s in await steps_of(somerset, case_id)] == ["record_panel_contact"]


async def test_W22_the_panel_minutes_survive_the_closure(
        wokingham: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """W22 (High Risk Panel): "Minutes of the meeting will be shared by the Team Manager with
    all those who attended. The case worker must ensure that minutes are uploaded to the
    system". Owed because the panel sat on 28 October; the closure of 2 November keeps both
    open, as a death does (attack 32c, ATTACK32C-1: superseded by the closure)."""
    pin(monkeypatch, 2026, 11, 2, 10, 30)
    case_id, closing = await _panel_sat_then_closed(wokingham, "high_risk_panel", "chair")
    assert sorted(s["code"] for s in closing["next_steps"]) == [
        "share_panel_minutes", "upload_panel_minutes"]
