"""W22: the High-Risk Panel's agreed re-discussion is the panel's, not the case worker's (A19-16).

Wokingham (High Risk Panel): "At the end of the Panel, a specific action plan and risk
classification should be agreed, including when should the child be discussed again at the
panel." The panel keeps ROSH high on Wednesday 28 October 2026 (after the clocks went back on
Sunday 25 October) and agrees to discuss the child again on Wednesday 25 November; the case
worker's own downgrade to medium on Wednesday 4 November does not cancel that date. No
superseded step's note reads "Superseded: Superseded:".
"""

from __future__ import annotations

from typing import Any

from tests.api.fidelity_support import with_matrix
from tests.conftest import Tenant


async def _post(t: Tenant, url: str, body: dict[str, Any], role: str = "case_holder",
                **kw: Any) -> Any:
    r = await t.client.post(url, json=body, headers=t.auth(role, **kw))
    assert r.status_code in (200, 201), r.text
    return r.json()


async def _steps(t: Tenant, case_id: str, status: str) -> list[dict[str, Any]]:
    r = await t.client.get("/v1/next-steps", params={"case_id": case_id, "status": status,
                                                     "limit": 200},
                           headers=t.auth("line_manager"))
    assert r.status_code == 200, r.text
    return r.json()["data"]  # type: ignore[no-any-return]


async def test_W22_a_case_workers_downgrade_keeps_the_panels_agreed_date(
    wokingham: Tenant,
) -> None:
    """W22: the re-discussion agreed for 25 November 2026 stays owed after the case worker's
    medium judgement of 4 November, due at the end of that day (GMT)."""
    case_id = (await wokingham.open_case())["data"]["id"]
    await _post(wokingham, f"/v1/cases/{case_id}/judgements", with_matrix(wokingham.pack, {
        "domain": "rosh", "level": "high", "occurred_at": "2026-10-26T10:00:00Z",
        "victims": ["peer"]}))
    panel = (await _post(wokingham, "/v1/panels", {
        "kind": "high_risk_panel", "scheduled_for": "2026-10-28T10:00:00Z",
        "chair_id": "chair-1"}, role="chair", sub="chair-1"))["data"]
    item = (await _post(wokingham, f"/v1/panels/{panel['id']}/items", {
        "case_id": case_id, "presenter_id": "case_holder-1"}, role="chair",
        sub="chair-1"))["data"]
    await _post(wokingham, f"/v1/panels/{panel['id']}/items/{item['id']}/decision", {
        "rosh_level": "high", "review_date": "2026-11-25", "minutes": "Remains high",
        "actions": [{"description": "Review the plan", "owner_id": "case_holder-1",
                     "due_date": "2026-11-04"}], "attendees": ["case_holder", "line_manager"],
        "occurred_at": "2026-10-28T11:00:00Z"}, role="chair", sub="chair-1")
    await _post(wokingham, f"/v1/cases/{case_id}/judgements", {
        "domain": "rosh", "level": "medium", "impact": "major", "likelihood": "possible",
        "victims": ["peer"], "occurred_at": "2026-11-04T10:00:00Z"})
    review = [s for s in await _steps(wokingham, case_id, "open")
              if s["code"] == "attend_panel_review"]
    assert [(s["due_at"], s["policy"]["rule"]) for s in review] == [
        ("2026-11-25T23:59:59Z", "W22")]
    for step in await _steps(wokingham, case_id, "superseded"):
        assert "Superseded: Superseded:" not in (step["note"] or ""), step


def test_W22_a_supersession_note_is_prefixed_once() -> None:
    """The note of a supersession says "Superseded:" once, whatever the reason carried."""
    from app.domain.steps import superseded_note

    assert superseded_note("Superseded: the condition that required it no longer holds") == (
        "Superseded: the condition that required it no longer holds")
    assert superseded_note("closed") == "Superseded: closed"
