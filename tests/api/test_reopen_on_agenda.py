"""Reopening a case still on a panel's agenda does not ask for the panel again (attack pass 11,
A11-7).

Reopening "re-runs the policy for the current state". The tester's case was on the agenda of
the MARP of 29 September when it closed and when it reopened (since A11-16 a closure takes the
case off the agendas of panels after it: see the first test); the reopening raised
refer_to_panel and seek_child_and_carer_views again (Somerset S7/S8, not waivable, blocking the
next closure), though putting the case on that agenda had answered them; the only way out was a
second agenda item for the same case (A11-8, now 409). A case on a panel's agenda not yet
decided is referred: the packs' referral lines do not fire for it (Wokingham's W7 already said
so; Somerset's S7, S8, S17 and S25 now do).
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.fidelity_support import pin, with_matrix
from tests.api.integrity_support import (
    closing_asset_plus,
    complete,
    patch_case,
    steps_of,
    the_step,
)
from tests.conftest import Tenant

HIGH_AT = "2026-08-26T10:00:00+01:00"
CLOSE = {"closed_at": "2026-08-28T15:40:00+01:00", "closure_reason": "Moved away"}
REOPEN = {"closed_at": None, "reopen_reason": "Back in the area",
          "occurred_at": "2026-08-28T15:45:00+01:00"}


async def _on_agenda(t: Tenant, kind: str, case_id: str) -> dict[str, Any]:
    r = await t.client.post("/v1/panels", json={"kind": kind, "chair_id": "chair-kim",
                                                "scheduled_for": "2026-09-29T10:00:00+01:00"},
                            headers=t.auth("panel_admin"))
    assert r.status_code == 201, r.text
    panel = r.json()["data"]["id"]
    r = await t.client.post(f"/v1/panels/{panel}/items",
                            json={"case_id": case_id, "presenter_id": "case_holder-1"},
                            headers=t.auth("panel_admin"))
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


async def _high(t: Tenant) -> str:
    case = (await t.open_case())["data"]
    body = with_matrix(t.pack, {"domain": "rosh", "level": "high", "victims": ["public"],
                                "occurred_at": HIGH_AT})
    r = await t.client.post(f"/v1/cases/{case['id']}/judgements", json=body,
                            headers=t.auth("case_holder"))
    assert r.status_code == 201, r.text
    return str(case["id"])


async def test_S7_S8_a_case_closed_off_the_next_MARPs_agenda_is_referred_again_on_reopening(
    somerset: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """S7 (3.2.3): "The case holder will refer the case to the next YJT MARP by contacting the
    appropriate administrator and completion of section 1 of the MARP referral form"; S8 (6.2):
    "Child and parent/carer views will be sought before the initial panel". A ROSH high of
    Wed 26 August 2026 raises both (case_holder, due at the MARP of Tue 29 September 10:00);
    the case is put on that MARP's agenda (refer_to_panel done by it) and the views are sought
    (done by hand). Closed on Fri 28 August 15:40, the case leaves that agenda (attack pass 11,
    A11-16: a panel does not decide a closed case; this test's earlier form, A11-7, kept it
    there). Reopened at 15:45 it is on no agenda and has no referral: both duties are owed
    again, due at that MARP (no duplicates); put back on the agenda (a new item: the
    withdrawn one does not block it) the referral is answered, and once the views are sought
    again the case may close (no mandatory step open)."""
    pin(monkeypatch, 2026, 8, 28, 14, 35)
    case = await _high(somerset)
    added = await _on_agenda(somerset, "marp", case)
    assert "refer_to_panel" not in {s["code"] for s in added["next_steps"]}
    views = the_step(await steps_of(somerset, case), "seek_child_and_carer_views")
    assert (views["actor"], views["policy"]["rule"], views["policy"]["ref"], views["due_at"]) \
        == ("case_holder", "S8", "6.2", "2026-09-29T09:00:00Z")
    r = await complete(somerset, views["id"], "case_holder", note="Views sought at home visit")
    assert r.status_code == 200, r.text
    pin(monkeypatch, 2026, 8, 28, 14, 40)
    r = await patch_case(somerset, case, CLOSE)
    assert r.status_code == 200, r.text
    pin(monkeypatch, 2026, 8, 28, 14, 45)
    r = await patch_case(somerset, case, REOPEN)
    assert r.status_code == 200, r.text
    refer = the_step(r.json()["next_steps"], "refer_to_panel")
    again = the_step(r.json()["next_steps"], "seek_child_and_carer_views")
    assert (refer["actor"], refer["policy"]["rule"], refer["due_at"]) == \
        ("case_holder", "S7", "2026-09-29T09:00:00Z")
    assert (again["actor"], again["policy"]["rule"], again["due_at"]) == \
        ("case_holder", "S8", "2026-09-29T09:00:00Z")
    discuss = the_step(r.json()["next_steps"], "discuss_with_manager")
    assert (discuss["actor"], discuss["policy"]["rule"], discuss["due_at"]) == \
        ("line_manager", "S5", "2026-08-27T09:00:00Z")
    panel = added["data"]["panel_id"]
    r = await somerset.client.post(f"/v1/panels/{panel}/items",
                                   json={"case_id": case, "presenter_id": "case_holder-1"},
                                   headers=somerset.auth("panel_admin"))
    assert r.status_code == 201, r.text
    assert r.json()["data"]["id"] != added["data"]["id"]
    assert "refer_to_panel" not in {s["code"] for s in r.json()["next_steps"]}
    r = await complete(somerset, again["id"], "case_holder", note="Views sought again")
    assert r.status_code == 200, r.text
    pin(monkeypatch, 2026, 8, 28, 14, 50)
    r = await patch_case(somerset, case, {**CLOSE, "closed_at": "2026-08-28T15:50:00+01:00"})
    assert r.status_code == 200, r.text


async def test_W7_W8_reopening_a_case_on_the_high_risk_panels_agenda_does_not_request_it_anew(
    wokingham: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """W7 (High Risk Panel): "It will be the responsibility of the case worker or their line
    manager to request a High-Risk Panel"; W8: the panel is held. The case with ROSH high of
    26 August 2026 is put on the High-Risk Panel of 29 September (request_high_risk_panel done
    by it, hold_high_risk_panel raised for the chair), closed on 28 August and reopened: no new
    request (the case is on the agenda), and the hold is reinstated as it was (still owed until
    the panel decides)."""
    pin(monkeypatch, 2026, 8, 28, 14, 35)
    case = await _high(wokingham)
    await _on_agenda(wokingham, "high_risk_panel", case)
    hold = the_step(await steps_of(wokingham, case), "hold_high_risk_panel")
    pin(monkeypatch, 2026, 8, 28, 14, 40)
    await closing_asset_plus(wokingham, case, "2026-08-28T15:36:00+01:00")
    r = await patch_case(wokingham, case, CLOSE)
    assert r.status_code == 200, r.text
    pin(monkeypatch, 2026, 8, 28, 14, 45)
    r = await patch_case(wokingham, case, REOPEN)
    assert r.status_code == 200, r.text
    assert "request_high_risk_panel" not in {s["code"] for s in r.json()["next_steps"]}
    again = the_step(r.json()["next_steps"], "hold_high_risk_panel")
    assert (again["id"], again["actor"], again["due_at"]) == \
        (hold["id"], "chair", hold["due_at"])


async def test_S7_S8_withdrawing_the_panel_referral_of_a_case_on_an_agenda_brings_nothing_back(
        somerset: Tenant) -> None:
    """S7, S8 (Somerset 3.2.3: "refer the case to the next YJT MARP"; 6.2, the child's and
    carer's views for the referral). A high case referred with its views on Friday 28 August
    2026 and put on the MARP of Thursday 22 October with that referral; the referral is then
    withdrawn on Tuesday 1 September. The case still stands on the MARP's agenda, which answers
    the referral and the views sought for it: neither step comes back (attack pass 12,
    A12-14: both came back, due at whichever MARP was next, and blocked the case's closure)."""
    case = (await somerset.open_case(opened_at="2026-08-03T09:00:00+01:00"))["data"]
    r = await somerset.client.post(f"/v1/cases/{case['id']}/judgements", json={
        "domain": "rosh", "level": "high", "occurred_at": "2026-08-28T10:00:00+01:00"},
        headers=somerset.auth("case_holder"))
    assert r.status_code == 201, r.text
    r = await somerset.client.post(f"/v1/cases/{case['id']}/referrals", json={
        "kind": "panel", "occurred_at": "2026-08-28T11:00:00+01:00",
        "details": {"child_views": "heard", "carer_views": "heard"}},
        headers=somerset.auth("case_holder"))
    assert r.status_code == 201, r.text
    referral = r.json()["data"]["id"]
    r = await somerset.client.post(f"/v1/referrals/{referral}/submit",
                                   json={"occurred_at": "2026-08-28T11:00:00+01:00"},
                                   headers=somerset.auth("case_holder"))
    assert r.status_code == 200, r.text
    r = await somerset.client.post("/v1/panels", headers=somerset.auth("panel_admin"), json={
        "kind": "marp", "scheduled_for": "2026-10-22T10:00:00+01:00", "chair_id": "chair-1"})
    assert r.status_code == 201, r.text
    panel = r.json()["data"]["id"]
    r = await somerset.client.post(f"/v1/panels/{panel}/items", headers=somerset.auth(
        "panel_admin"), json={"case_id": case["id"], "presenter_id": "case_holder-1",
                              "referral_id": referral})
    assert r.status_code == 201, r.text
    r = await somerset.client.post(f"/v1/referrals/{referral}/withdraw",
                                   json={"note": "Sent twice.",
                                         "occurred_at": "2026-09-01T10:00:00+01:00"},
                                   headers=somerset.auth("case_holder"))
    assert r.status_code == 200, r.text
    codes = {s["code"] for s in r.json()["next_steps"]}
    assert not codes & {"refer_to_panel", "seek_child_and_carer_views"}, codes
