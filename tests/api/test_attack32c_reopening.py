"""A case's closure and reopening judged at their own dates (attack 32c).

ATTACK32C-4: a ``next-panel`` step open at a closure came back due at a panel that sat while the
case was closed (overdue the moment the case reopened, with a later panel booked).

2026 dates (GMT): MARPs booked for Thursday 5 November, Thursday 12 November and Thursday 3
December 10:00; the case opened Monday 26 October.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.fidelity_support import pin, with_matrix
from tests.api.integrity_support import patch_case, steps_of
from tests.conftest import Tenant

MARPS = ("2026-11-05T10:00:00Z", "2026-11-12T10:00:00Z", "2026-12-03T10:00:00Z")
PANEL_STEPS = ("refer_to_panel", "seek_child_and_carer_views")


async def _marps(t: Tenant, dates: tuple[str, ...] = MARPS) -> list[str]:
    ids = []
    for when in dates:
        r = await t.client.post("/v1/panels", json={
            "kind": "marp", "scheduled_for": when, "chair_id": "chair-1"},
            headers=t.auth("panel_admin", "panel_admin-1"))
        assert r.status_code == 201, r.text
        ids.append(r.json()["data"]["id"])
    return ids


async def _post(t: Tenant, url: str, body: dict[str, Any]) -> Any:
    r = await t.client.post(url, json=body, headers=t.auth("case_holder"))
    assert r.status_code == 201, r.text
    return r.json()


async def _referred_then_closed(t: Tenant, monkeypatch: pytest.MonkeyPatch,
                                marps: tuple[str, ...] = MARPS) -> str:
    """ROSH high on Friday 6 November (the referral and views due at the 12 November MARP),
    transferred out on Monday 9 November and closed that day."""
    pin(monkeypatch, 2026, 10, 26, 10, 0)
    await _marps(t, marps)
    case_id = str((await t.open_case(opened_at="2026-10-26T10:00:00Z"))["data"]["id"])
    pin(monkeypatch, 2026, 11, 6, 10, 5)
    await _post(t, f"/v1/cases/{case_id}/judgements", with_matrix(t.pack, {
        "domain": "rosh", "level": "high", "occurred_at": "2026-11-06T10:00:00Z",
        "victims": ["peer"]}))
    due = {s["code"]: s["due_at"] for s in await steps_of(t, case_id)}
    assert [due[c] for c in PANEL_STEPS] == [MARPS[1], MARPS[1]]
    pin(monkeypatch, 2026, 11, 6, 11, 5)
    await _post(t, f"/v1/cases/{case_id}/events", {
        "type": "transfer_out", "occurred_at": "2026-11-06T11:00:00Z",
        "transfer_date": "2026-11-09"})
    pin(monkeypatch, 2026, 11, 9, 10, 5)
    r = await patch_case(t, case_id, {"closed_at": "2026-11-09T10:00:00Z",
                                      "closure_reason": "Transferred out"})
    assert r.status_code == 200, r.text
    return case_id


async def test_S7_S8_a_reopened_case_is_referred_to_the_next_marp_after_the_reopening(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """S7 (3.2.3): "The case holder will refer the case to the next YJT MARP by contacting the
    appropriate administrator and completion of section 1 of the MARP referral form"; S8 (6.2)
    "Child and parent/carer views will be sought before the initial panel". Closed on Monday 9
    November before the 12 November MARP, reopened on Monday 23 November: the 12 November MARP
    sat while the case was closed and could not hear it, so both are due at the next MARP, 3
    December (attack 32c, ATTACK32C-4: due 12 November, overdue at once)."""
    case_id = await _referred_then_closed(somerset, monkeypatch)
    pin(monkeypatch, 2026, 11, 23, 9, 35)
    r = await patch_case(somerset, case_id, {"closed_at": None,
                                             "reopen_reason": "Transferred back",
                                             "occurred_at": "2026-11-23T09:30:00Z"})
    assert r.status_code == 200, r.text
    steps = {s["code"]: s for s in await steps_of(somerset, case_id)}
    assert [(steps[c]["due_at"], steps[c]["overdue"]) for c in PANEL_STEPS] == [
        (MARPS[2], False), (MARPS[2], False)]


async def test_S7_a_reopened_case_with_no_marp_booked_awaits_one(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """S7 (3.2.3): "refer the case to the next YJT MARP". With no MARP booked after the
    reopening, the referral waits for a date rather than staying due at the MARP that sat
    while the case was closed."""
    case_id = await _referred_then_closed(somerset, monkeypatch, MARPS[:2])
    pin(monkeypatch, 2026, 11, 23, 9, 35)
    r = await patch_case(somerset, case_id, {"closed_at": None,
                                             "reopen_reason": "Transferred back"})
    assert r.status_code == 200, r.text
    refer = next(s for s in await steps_of(somerset, case_id) if s["code"] == "refer_to_panel")
    assert (refer["due_at"], refer["awaiting_panel_date"]) == (None, True)


async def test_S25_a_transfer_back_in_after_the_reopening_keeps_the_next_marp(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """S25 (13.3): "the case will be referred into the next available MARP". Reopened on
    Monday 23 November 09:30 and the transfer in recorded at 09:40 with an incoming very high
    ROSH: the one referral is due at the 3 December MARP, not at the 12 November one that sat
    while the case was closed (attack 32c, ATTACK32C-4, s34)."""
    case_id = await _referred_then_closed(somerset, monkeypatch)
    pin(monkeypatch, 2026, 11, 23, 9, 45)
    r = await patch_case(somerset, case_id, {"closed_at": None,
                                             "reopen_reason": "Transferred back",
                                             "occurred_at": "2026-11-23T09:30:00Z"})
    assert r.status_code == 200, r.text
    await _post(somerset, f"/v1/cases/{case_id}/events", {
        "type": "transfer_in", "occurred_at": "2026-11-23T09:40:00Z",
        "incoming_ratings": {"rosh": "very_high"}})
    refer = [s for s in await steps_of(somerset, case_id) if s["code"] == "refer_to_panel"]
    assert [(s["due_at"], s["overdue"]) for s in refer] == [(MARPS[2], False)]
