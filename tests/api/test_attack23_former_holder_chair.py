"""A Wokingham former case holder chaired the W19 review (left over from attack 22's pass): the
monthly High-Risk Panel review of a MAPPA level 1 child is a chair's step done by the panel's
decision, and A21a-8 (commit 6ebe507) refuses a step's check to anyone who held the case since
the step was raised, on completing, waiving or recording oversight, but not on the panel
decision that does the same step: case_holder-1, reassigned away and chairing the panel, reviewed
the month they held the case.

Now a chair who held the case since a step the decision does was raised (W19's review, W8's
hold) may not record the decision (403 ``case-holder-cannot-chair``, as the case's holder);
another chair may, and a holder handed on before the step was raised may.

Wokingham PYJS 2024, Referrals into MAPPA: "For MAPPA Level 1 children, High Risk Panels should
be held monthly".
"""

from __future__ import annotations

import pytest

from app.core.security import mint_dev_token
from tests.api.fidelity_support import pin
from tests.api.integrity_support import assert_problem, patch_case, steps_of
from tests.api.test_attack15_mend9_panels import hrp, item_of
from tests.conftest import Tenant


def _chair(t: Tenant, sub: str) -> dict[str, str]:
    token = mint_dev_token(t.settings, sub=sub, roles=["case_holder", "chair"], service=t.slug)
    return {"Authorization": f"Bearer {token}"}


async def _decide(t: Tenant, panel: str, item: str, headers: dict[str, str]):  # type: ignore[no-untyped-def]
    return await t.client.post(f"/v1/panels/{panel}/items/{item}/decision",
                               json={"actions": [{"description": "Review the plan",
                                                  "owner_id": "case_holder-2",
                                                  "due_date": "2026-11-05"}],
                                     "rosh_level": "medium", "minutes": "Reviewed",
                                     "occurred_at": "2026-10-29T15:00:00Z"}, headers=headers)


@pytest.mark.parametrize("handed_on", ["2026-10-21T10:00:00+01:00", "2026-10-19T10:00:00+01:00"])
async def test_W19_a_former_holder_does_not_chair_the_review_of_the_month_they_held_the_case(
        wokingham: Tenant, monkeypatch: pytest.MonkeyPatch, handed_on: str) -> None:
    """W19 owed from Tuesday 20 October 2026 (MAPPA level 1); case_holder-1 holds the case and
    hands it to case_holder-2 on Wednesday 21 October (after the review was raised: refused) or
    on Monday 19 October (before it: allowed, recorded that day). The High-Risk Panel
    of Thursday 29 October decides the item."""
    pin(monkeypatch, 2026, 10, 19, 12, 0)
    panel = await hrp(wokingham, "2026-10-29T14:00:00Z")
    case = (await wokingham.open_case(opened_at="2026-10-05T09:00:00+01:00"))["data"]["id"]
    if handed_on.startswith("2026-10-19"):
        # Recorded on the day: a reassignment is not dated before the latest act recorded on
        # the case (attack 24a, A24a-8), so the early handover is made before the MAPPA change.
        r = await patch_case(wokingham, case, {"case_holder_id": "case_holder-2",
                                               "occurred_at": handed_on})
        assert r.status_code == 200, r.text
    pin(monkeypatch, 2026, 10, 20, 12, 0)
    r = await patch_case(wokingham, case, {"mappa_category": 1, "mappa_level": 1,
                                           "occurred_at": "2026-10-20T10:00:00+01:00"})
    assert r.status_code == 200, r.text
    r = await wokingham.client.post(f"/v1/panels/{panel}/items",
                                    json={"case_id": case, "presenter_id": "case_holder-2"},
                                    headers=wokingham.auth("panel_admin"))
    assert r.status_code == 201, r.text
    review = next(s for s in await steps_of(wokingham, case)
                  if s["code"] == "high_risk_panel_review")
    if not handed_on.startswith("2026-10-19"):
        pin(monkeypatch, 2026, 10, 21, 12, 0)
        r = await patch_case(wokingham, case, {"case_holder_id": "case_holder-2",
                                               "occurred_at": handed_on})
        assert r.status_code == 200, r.text
    pin(monkeypatch, 2026, 10, 29, 16, 0)
    item = (await item_of(wokingham, panel, case))["id"]
    r = await _decide(wokingham, panel, item, _chair(wokingham, "case_holder-1"))
    if handed_on.startswith("2026-10-19"):
        assert r.status_code == 200, r.text
        return
    problem = assert_problem(r, 403)
    assert problem["type"].endswith("/case-holder-cannot-chair")
    assert "held this case" in problem["detail"]
    still = {s["id"]: s["status"] for s in await steps_of(wokingham, case)}
    assert still[review["id"]] == "open"
    r = await _decide(wokingham, panel, item, _chair(wokingham, "chair-1"))
    assert r.status_code == 200, r.text
