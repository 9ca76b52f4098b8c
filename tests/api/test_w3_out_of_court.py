"""W3: a child assessed high is owed a three-monthly Asset+ review on any intervention (A19-19).

Wokingham (Assessment Reviews), a paragraph of its own after the one about statutory Orders,
bail and remand: "Children who have been assessed as high within any of the risk domains must
have their Asset+ reviewed at least every three months or sooner if there has been a significant
change in circumstances." ("Children on a Youth Caution or Youth Conditional Caution will be
assessed using Asset+".) The catalogue's W3 limits it to statutory cases; the seed wins.

Dates: the Asset+ is countersigned on Friday 6 March 2026 at 10:00 GMT; the clocks go forward on
Sunday 29 March, so three months later is Saturday 6 June 2026 10:00 BST = 09:00Z.
"""

from __future__ import annotations

from typing import Any

from tests.api.fidelity_support import with_matrix
from tests.conftest import Tenant


async def _post(t: Tenant, url: str, body: dict[str, Any], role: str = "case_holder") -> Any:
    r = await t.client.post(url, json=body, headers=t.auth(role))
    assert r.status_code in (200, 201), r.text
    return r.json()


async def _countersigned(t: Tenant, level: str) -> list[dict[str, Any]]:
    case = (await t.open_case(intervention="youth_conditional_caution"))["data"]
    await _post(t, f"/v1/cases/{case['id']}/judgements", with_matrix(t.pack, {
        "domain": "rosh", "level": level, "occurred_at": "2026-03-04T10:00:00Z",
        "victims": ["peer"]}))
    a = (await _post(t, f"/v1/cases/{case['id']}/assessments", {
        "type": "asset_plus", "stage": "start", "occurred_at": "2026-03-04T11:00:00Z"}))["data"]
    await _post(t, f"/v1/assessments/{a['id']}/submit", {"occurred_at": "2026-03-05T10:00:00Z"})
    body = await _post(t, f"/v1/assessments/{a['id']}/countersign", {
        "feedback": "Agreed", "occurred_at": "2026-03-06T10:00:00Z"}, role="line_manager")
    return [s for s in body["next_steps"] if s["code"] == "review_assessment"]


async def test_W3_a_high_child_on_a_conditional_caution_owes_a_three_monthly_review(
    wokingham: Tenant,
) -> None:
    """W3: high ROSH, youth conditional caution, Asset+ countersigned 6 March 2026 10:00 GMT:
    the review is due 6 June 2026 10:00 BST (09:00Z), under the Assessment Reviews paragraph."""
    review = await _countersigned(wokingham, "high")
    assert [(s["due_at"], s["policy"]["rule"], s["policy"]["ref"]) for s in review] == [
        ("2026-06-06T09:00:00Z", "W3", "Assessment Reviews")]


async def test_W3_a_medium_child_on_a_conditional_caution_owes_no_review(
    wokingham: Tenant,
) -> None:
    """W3: the six-monthly review is for statutory Orders, bail and remand only; a medium
    child on a youth conditional caution owes none."""
    assert await _countersigned(wokingham, "medium") == []
