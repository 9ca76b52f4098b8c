"""A case transferred out closes: this service's own panel duties do not hold it open (A19-21).

Somerset 13.4.1-13.4.3: the case holder sends the documentation, the line manager signs it off and
speaks to the receiving service "prior to the transfer of the child or, in exceptional
circumstances, as soon as possible thereafter"; after the transfer the receiving service
supervises the child (7.2.3's "ongoing MARP oversight" is for Somerset's own children). A
closure dated on or after the transfer date sets aside the MARP's booked review (S20) and the
views never sought (S8) instead of 409 ``mandatory-steps-open``; the handover call and the
documentation survive the closure. Before the transfer date the closure is still refused.

Dates (2026, BST): ROSH high Tuesday 2 June; MARP Thursday 2 July books its review for Thursday
6 August; transfer out recorded Monday 20 July for Friday 24 July; closures tried Thursday 23
July (before the transfer) and Tuesday 28 July.
"""

from __future__ import annotations

from typing import Any

from tests.api.fidelity_support import taken_by_marp, with_matrix
from tests.conftest import Tenant


async def _patch(t: Tenant, case_id: str, body: dict[str, Any]) -> Any:
    url = f"/v1/cases/{case_id}"
    etag = (await t.client.get(url, headers=t.auth("line_manager"))).headers["etag"]
    return await t.client.patch(url, json=body, headers={**t.auth("line_manager"),
                                                         "If-Match": etag})


async def _high_then_transferred(t: Tenant, **case: Any) -> str:
    case_id = str((await t.open_case(**case))["data"]["id"])
    r = await t.client.post(f"/v1/cases/{case_id}/judgements", json=with_matrix(t.pack, {
        "domain": "rosh", "level": "high", "occurred_at": "2026-06-02T10:00:00+01:00",
        "victims": ["peer"]}), headers=t.auth("case_holder"))
    assert r.status_code == 201, r.text
    return case_id


async def _transfer(t: Tenant, case_id: str) -> None:
    r = await t.client.post(f"/v1/cases/{case_id}/events", json={
        "type": "transfer_out", "occurred_at": "2026-07-20T10:00:00+01:00",
        "transfer_date": "2026-07-24", "details": {"to": "Devon YJS"}},
        headers=t.auth("case_holder"))
    assert r.status_code == 201, r.text


async def test_S20_a_transferred_case_closes_with_its_marp_review_set_aside(
    somerset: Tenant,
) -> None:
    """S20 (7.1.6, 7.2.3), S8 (6.2), 13.4: the MARP review booked for 16 July, missed, blocks
    a closure on 23 July (the child not yet transferred) and not one on 28 July, after the
    transfer of 24 July: it is set aside by it (as missed: it was late then; ATTACK34B-7); the
    views, never sought before the MARP of 2 July sat, were missed at that sitting (fix36e),
    and the handover call (S26,
    13.4.3) survives the closure, still owed. (A review booked for after the closure's date
    lapses with it whenever the closure is typed: ATTACK32C-3; this one was booked for 6
    August and blocked only because the test ran after that date.)"""
    case_id = await _high_then_transferred(somerset)
    await taken_by_marp(somerset, case_id, "rosh", "high", at="2026-07-02T10:00:00+01:00",
                        decided="2026-07-02T11:00:00+01:00", review="2026-07-16")
    await _transfer(somerset, case_id)
    early = await _patch(somerset, case_id, {"closed_at": "2026-07-23T16:00:00+01:00",
                                             "closure_reason": "Transferred to Devon YJS"})
    assert early.status_code == 409, early.text
    assert {s["code"] for s in early.json()["steps"]} >= {"attend_panel_review"}
    r = await _patch(somerset, case_id, {"closed_at": "2026-07-28T16:00:00+01:00",
                                         "closure_reason": "Transferred to Devon YJS (13.4)"})
    assert r.status_code == 200, r.text
    assert "manager_handover_call" in {s["code"] for s in r.json()["next_steps"]}
    # The review, due 16 July and undone at the closure's date, is on record as missed, not
    # superseded (ATTACK34B-7); the views were missed at the MARP of 2 July (fix36e).
    steps = await somerset.client.get("/v1/next-steps", params={
        "case_id": case_id, "status": "missed"}, headers=somerset.auth("line_manager"))
    review = [s for s in steps.json()["data"] if s["code"] == "attend_panel_review"]
    assert [s["due_at"] for s in review] == ["2026-07-16T22:59:59Z"]
    views = [s for s in steps.json()["data"] if s["code"] == "seek_child_and_carer_views"]
    assert [(s["policy"]["rule"], s["satisfied_by"]["type"]) for s in views] == [
        ("S8", "panel_item")]


async def test_W7_a_transferred_case_closes_with_its_panel_request_set_aside(
    wokingham: Tenant,
) -> None:
    """W7 (High Risk Panel), twin of Somerset 13.4: a high ROSH's High-Risk Panel request (not
    waivable) blocks a closure before the transfer date and not one after it."""
    case_id = await _high_then_transferred(wokingham, intervention="prevention")
    await _transfer(wokingham, case_id)
    early = await _patch(wokingham, case_id, {"closed_at": "2026-07-23T16:00:00+01:00",
                                              "closure_reason": "Transferred"})
    assert early.status_code == 409, early.text
    assert [s["code"] for s in early.json()["steps"]] == ["request_high_risk_panel"]
    r = await _patch(wokingham, case_id, {"closed_at": "2026-07-28T16:00:00+01:00",
                                          "closure_reason": "Transferred"})
    assert r.status_code == 200, r.text
