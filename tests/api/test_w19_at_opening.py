"""W19 (Wokingham, Referrals into MAPPA) is owed by a case opened at MAPPA level 1, whichever
route opens it (mend9's finding: "a case opened at MAPPA level 1 owes no W19 review").

"For MAPPA Level 1 children, risk management will be led by the PYJS, and senior management
oversight provided through the High-Risk Panel. For MAPPA Level 1 children, High Risk Panels
should be held monthly." The seed mandates the review from the level, not from a change of it;
the opening runs the pack's ``case_changed`` lines for the MAPPA fields it was opened with
(app.domain.cases.create_case), so the monthly review is owed from the opening. Not
reproduced on main of 1 December 2026: this test pins it on each opening route.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Tenant

BODY: dict[str, Any] = {
    "child": {"given_name": "Ada", "family_name": "Stone", "date_of_birth": "2010-05-01"},
    "case_holder_id": "case_holder-1", "line_manager_id": "line_manager-1",
    "intervention": "court_order", "csc_status": "none", "mappa_category": 1,
    "mappa_level": 1, "opened_at": "2026-03-02T09:00:00Z",
}


@pytest.mark.parametrize("route", ["post", "put", "cms"])
async def test_W19_a_case_opened_at_MAPPA_level_1_owes_the_monthly_panel_review(
    wokingham: Tenant, route: str
) -> None:
    """Opened at MAPPA level 1 on Monday 2 March 2026 09:00Z (by its line manager, by
    external reference, or by the case management system): the chair owes the High-Risk
    Panel review a month on (Thursday 2 April, 08:00Z in BST), W19, "Referrals into MAPPA"."""
    t = wokingham
    if route == "put":
        r = await t.client.put("/v1/cases/by-external-ref/iyss/W19-1", json=BODY,
                               headers=t.auth("line_manager", "line_manager-1"))
    else:
        headers = (t.auth("feed", "iyss-1", scope="cms") if route == "cms"
                   else t.auth("line_manager", "line_manager-1"))
        body = {**BODY, "external_ref": {"system": "iyss", "id": "W19-2"}} \
            if route == "cms" else BODY
        r = await t.client.post("/v1/cases", json=body, headers=headers)
    assert r.status_code == 201, r.text
    (review,) = [s for s in r.json()["next_steps"] if s["code"] == "high_risk_panel_review"]
    assert (review["actor"], review["due_at"], review["policy"]["rule"],
            review["policy"]["ref"]) == ("chair", "2026-04-02T08:00:00Z", "W19",
                                         "Referrals into MAPPA")
