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
