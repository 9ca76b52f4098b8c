"""Attack pass 15, the mend9 panel findings, through HTTP on real dates (October 2026).

A15-6 (agenda half): a case on a High-Risk Panel agenda for Wokingham W19's monthly review
leaves the agendas to come when the review is no longer owed. A15-11: an undecided item's
presenter follows the case holder.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.fidelity_support import pin
from tests.api.integrity_support import patch_case, steps_of
from tests.conftest import Tenant


async def hrp(t: Tenant, when: str) -> str:
    """Book a High-Risk Panel (chair-1)."""
    r = await t.client.post("/v1/panels", json={"kind": "high_risk_panel", "chair_id": "chair-1",
                                                "scheduled_for": when},
                            headers=t.auth("panel_admin"))
    assert r.status_code == 201, r.text
    return str(r.json()["data"]["id"])


async def item_of(t: Tenant, panel: str, case_id: str) -> dict[str, Any]:
    """The panel's item of the case, as its chair reads it."""
    r = await t.client.get(f"/v1/panels/{panel}", headers=t.auth("chair"))
    assert r.status_code == 200, r.text
    return next(i for i in r.json()["data"]["items"] if i["case_id"] == case_id)  # type: ignore[no-any-return]


async def mappa_level_1_on(t: Tenant, panel: str) -> str:
    """A case made MAPPA category 1, level 1 on Tuesday 20 October 2026 (W19 owed) and put on
    the panel's agenda by the administrator (the review owed is its route, A13-12)."""
    case = (await t.open_case(opened_at="2026-10-05T09:00:00+01:00"))["data"]["id"]
    r = await patch_case(t, case, {"mappa_category": 1, "mappa_level": 1,
                                   "occurred_at": "2026-10-20T10:00:00+01:00"})
    assert r.status_code == 200, r.text
    r = await t.client.post(f"/v1/panels/{panel}/items",
                            json={"case_id": case, "presenter_id": "case_holder-1"},
                            headers=t.auth("panel_admin"))
    assert r.status_code == 201, r.text
    return str(case)


async def test_W19_a_case_no_longer_MAPPA_leaves_the_agenda_it_was_owed(
        wokingham: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """W19 (Referrals into MAPPA: "For MAPPA Level 1 children, High Risk Panels should be held
    monthly"). Attack pass 15, A15-6, agenda half: a MAPPA level 1 child put on the High-Risk
    Panel of Thursday 29 October for its monthly review stayed on that agenda when its MAPPA
    category (and so its level) was cleared on Thursday 22 October: W19 was superseded, the
    item was not. The item is withdrawn (kept, with the reason) and the chair's duty about it
    superseded; a twin whose category changes to 2 but stays level 1 still owes the review
    and stays on the agenda."""
    pin(monkeypatch, 2026, 10, 20, 12, 0)
    panel = await hrp(wokingham, "2026-10-29T14:00:00Z")
    cleared = await mappa_level_1_on(wokingham, panel)
    kept = await mappa_level_1_on(wokingham, panel)
    pin(monkeypatch, 2026, 10, 22, 12, 0)
    r = await patch_case(wokingham, cleared, {"mappa_category": None, "mappa_level": None,
                                              "occurred_at": "2026-10-22T10:00:00+01:00"})
    assert r.status_code == 200, r.text
    r = await patch_case(wokingham, kept, {"mappa_category": 2,
                                           "occurred_at": "2026-10-22T10:00:00+01:00"})
    assert r.status_code == 200, r.text
    gone = await item_of(wokingham, panel, cleared)
    assert gone["withdrawn_at"] == "2026-10-22T09:00:00Z"
    assert "high_risk_panel_review" in gone["withdrawal_reason"]
    assert "record_panel_decision" not in {s["code"] for s in await steps_of(wokingham, cleared)}
    stays = await item_of(wokingham, panel, kept)
    assert stays["withdrawn_at"] is None
    assert "high_risk_panel_review" in {s["code"] for s in await steps_of(wokingham, kept)}


# --- A15-11: the presenter follows the case holder ----------------------------------------------

async def marp_case(t: Tenant, panel: str, presenter: str = "case_holder-1") -> tuple[str, str]:
    """A Somerset case with ROSH high of Monday 19 October 2026 (on the register) put on the
    MARP's agenda with ``presenter``: (case id, item id)."""
    case = (await t.open_case(opened_at="2026-10-05T09:00:00+01:00"))["data"]["id"]
    r = await t.client.post(f"/v1/cases/{case}/judgements", headers=t.auth("case_holder"),
                            json={"domain": "rosh", "level": "high",
                                  "occurred_at": "2026-10-19T10:00:00+01:00"})
    assert r.status_code == 201, r.text
    r = await t.client.post(f"/v1/panels/{panel}/items",
                            json={"case_id": case, "presenter_id": presenter},
                            headers=t.auth("panel_admin"))
    assert r.status_code == 201, r.text
    return str(case), str(r.json()["data"]["id"])


async def test_A15_11_the_presenter_follows_the_case_holder(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """Somerset 7.1.1 "The case holder will attend MARP to discuss the case. If not available,
    the line manager will present the case." Attack pass 15, A15-11: a case on the MARP of
    Thursday 29 October presented by its holder kept that presenter when it was reassigned to
    another case holder on Wednesday 21 October. The presenter who was the holder is now the new
    holder (audited ``panel.item.presenter``); one named otherwise (case_holder-9) stays. When
    the case is reassigned to the panel's own chair, the chair's duty to record the decision
    names no one (any chair: 7.1.5 "another panel member will act as chair for that case")."""
    pin(monkeypatch, 2026, 10, 20, 12, 0)
    r = await somerset.client.post("/v1/panels", json={
        "kind": "marp", "chair_id": "chair-1", "scheduled_for": "2026-10-29T10:00:00Z"},
        headers=somerset.auth("panel_admin"))
    assert r.status_code == 201, r.text
    panel = r.json()["data"]["id"]
    held, _ = await marp_case(somerset, panel)
    named, _ = await marp_case(somerset, panel, presenter="case_holder-9")
    to_chair, _ = await marp_case(somerset, panel)
    pin(monkeypatch, 2026, 10, 21, 12, 0)
    for case, holder in ((held, "case_holder-2"), (named, "case_holder-2"),
                         (to_chair, "chair-1")):
        r = await patch_case(somerset, case, {"case_holder_id": holder})
        assert r.status_code == 200, r.text
    assert (await item_of(somerset, panel, held))["presenter_id"] == "case_holder-2"
    assert (await item_of(somerset, panel, named))["presenter_id"] == "case_holder-9"
    r = await somerset.client.get(f"/v1/cases/{held}/audit", params={"limit": 200},
                                  headers=somerset.auth("line_manager"))
    assert "panel.item.presenter" in {e["action"] for e in r.json()["data"]}
    duty = [s for s in await steps_of(somerset, to_chair) if s["code"] == "record_panel_decision"]
    assert [s["assignee_id"] for s in duty] == [None]
    duty = [s for s in await steps_of(somerset, held) if s["code"] == "record_panel_decision"]
    assert [s["assignee_id"] for s in duty] == ["chair-1"]


async def test_A15_11_a_restriction_shutting_the_presenter_out_hands_the_item_to_the_holder(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """Somerset 7.1.1 (above). Attack pass 15, A15-11: an access restriction on the case (an
    allow-list without the named presenter case_holder-9) left the item presented by someone
    who may not see the case. The case holder presents instead; naming a shut-out presenter
    when adding an item is 422 ``restriction-shuts-out-presenter``."""
    pin(monkeypatch, 2026, 10, 20, 12, 0)
    r = await somerset.client.post("/v1/panels", json={
        "kind": "marp", "chair_id": "chair-1", "scheduled_for": "2026-10-29T10:00:00Z"},
        headers=somerset.auth("panel_admin"))
    assert r.status_code == 201, r.text
    panel = r.json()["data"]["id"]
    case, _ = await marp_case(somerset, panel, presenter="case_holder-9")
    r = await patch_case(somerset, case, {"access": {"allowed_staff": [
        "case_holder-1", "line_manager-1", "chair-1", "panel_admin-1"]}})
    assert r.status_code == 200, r.text
    assert (await item_of(somerset, panel, case))["presenter_id"] == "case_holder-1"
    r = await somerset.client.post("/v1/panels", json={
        "kind": "marp", "chair_id": "chair-1", "scheduled_for": "2026-11-26T10:00:00Z"},
        headers=somerset.auth("panel_admin"))
    later = r.json()["data"]["id"]
    r = await somerset.client.post(f"/v1/panels/{later}/items",
                                   json={"case_id": case, "presenter_id": "case_holder-9"},
                                   headers=somerset.auth("panel_admin"))
    assert r.status_code == 422, r.text
    assert r.json()["type"].endswith("/restriction-shuts-out-presenter")


async def test_A30a_10_who_presented_at_a_sitting_stays_when_the_case_moves_after_it(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """Somerset 7.1.1 "The case holder will attend MARP to discuss the case." Attack pass 30,
    A30a-10: the MARP sat on Thursday 29 October 2026 with the case presented by its holder
    (case_holder-1); its decision not yet typed up, the case was reassigned on Friday 30
    October and the item's presenter became the new holder, who did not hold the case when the
    panel sat. Who presented is a fact of the sitting: it stays. A reassignment back-dated to
    before the sitting (Wednesday 28 October) still hands the presenting on, and a MARP still
    to sit follows the holder as before (A15-11)."""
    pin(monkeypatch, 2026, 10, 20, 12, 0)
    panels = []
    for when in ("2026-10-29T10:00:00Z", "2026-11-05T10:00:00Z"):
        r = await somerset.client.post("/v1/panels", json={
            "kind": "marp", "chair_id": "chair-1", "scheduled_for": when},
            headers=somerset.auth("panel_admin"))
        assert r.status_code == 201, r.text
        panels.append(r.json()["data"]["id"])
    sat, to_sit = panels
    after, _ = await marp_case(somerset, sat)
    before, _ = await marp_case(somerset, sat)
    later, _ = await marp_case(somerset, to_sit)
    pin(monkeypatch, 2026, 10, 30, 12, 0)
    for case, body in ((after, {}), (before, {"occurred_at": "2026-10-28T10:00:00Z"}),
                       (later, {})):
        r = await patch_case(somerset, case, {"case_holder_id": "case_holder-2", **body})
        assert r.status_code == 200, r.text
    assert (await item_of(somerset, sat, after))["presenter_id"] == "case_holder-1"
    assert (await item_of(somerset, sat, before))["presenter_id"] == "case_holder-2"
    assert (await item_of(somerset, to_sit, later))["presenter_id"] == "case_holder-2"
