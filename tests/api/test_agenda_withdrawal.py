"""Taking a case off a panel's agenda (attack pass 11, A11-16 and A11-13; attack pass 12, A12-13).

A11-16: a closed case stayed on an undecided MARP agenda (its decision could never be recorded,
the chair's record_panel_decision stayed owed, the panel could not be cancelled), and no route
took an item off. Now a closure, and a panel referral withdrawn or declined when it was the
case's only way onto a panel, take the case off the agendas of panels not yet sat; the panel's
keepers (chair, panel administrator) may withdraw an item (POST .../withdraw, a reason
required). The item is kept, marked withdrawn; the chair's duty about it is superseded with the
reason. A11-13: Somerset S8's views step is due at the MARP the case is on, and follows it.
A12-13: a MARP booked in the past by mistake may be cancelled while nothing rests on it.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlmodel import col, select

from app.core.db import build_engine, session_factory
from app.domain.audit import AuditEntry
from tests.api.fidelity_support import pin, with_matrix
from tests.api.integrity_support import (
    assert_problem,
    audit_of,
    judge,
    outbox_types,
    patch_case,
    refer_to_marp,
    steps_of,
    the_step,
)
from tests.conftest import Tenant

MARP = "Multi-Agency Risk Panel (MARP)"  # the pack's name for the kind, in notes (A26a-14)

HIGH_AT = "2026-08-26T10:00:00+01:00"
MARP_DAY = "2026-09-29T10:00:00+01:00"
CLOSE = {"closed_at": "2026-08-28T15:40:00+01:00", "closure_reason": "Moved away"}
REOPEN = {"closed_at": None, "reopen_reason": "Back in the area",
          "occurred_at": "2026-08-28T15:45:00+01:00"}


async def book(t: Tenant, when: str, chair: str = "chair-kim") -> str:
    r = await t.client.post("/v1/panels", json={"kind": "marp", "scheduled_for": when,
                                                "chair_id": chair},
                            headers=t.auth("panel_admin"))
    assert r.status_code == 201, r.text
    return str(r.json()["data"]["id"])


async def put_on(t: Tenant, panel: str, case_id: str, referral_id: str | None = None
                 ) -> dict[str, Any]:
    body = {"case_id": case_id, "presenter_id": "case_holder-1"}
    if referral_id:
        body["referral_id"] = referral_id
    r = await t.client.post(f"/v1/panels/{panel}/items", json=body,
                            headers=t.auth("panel_admin"))
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


async def withdraw(t: Tenant, panel: str, item: str, body: Any, role: str = "panel_admin",
                   sub: str | None = None) -> httpx.Response:
    return await t.client.post(f"/v1/panels/{panel}/items/{item}/withdraw", json=body,
                               headers=t.auth(role, sub))


async def item_of(t: Tenant, panel: str, item: str) -> dict[str, Any]:
    r = await t.client.get(f"/v1/panels/{panel}", headers=t.auth("chair"))
    assert r.status_code == 200, r.text
    return next(i for i in r.json()["data"]["items"] if i["id"] == item)  # type: ignore[no-any-return]


async def high_case(t: Tenant) -> str:
    case = (await t.open_case(opened_at="2026-08-03T09:00:00+01:00"))["data"]
    r = await t.client.post(f"/v1/cases/{case['id']}/judgements", headers=t.auth("case_holder"),
                            json=with_matrix(t.pack, {"domain": "rosh", "level": "high",
                                                      "victims": ["public"],
                                                      "occurred_at": HIGH_AT}))
    assert r.status_code == 201, r.text
    return str(case["id"])


def due(steps: list[dict[str, Any]], code: str) -> Any:
    return the_step(steps, code)["due_at"]


async def test_S29_closing_a_case_takes_it_off_the_agenda_of_a_MARP_not_yet_sat(
    somerset: Tenant, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """S29 (7.1.2): "The panel meetings will be chaired by the YJT manager or operational
    manager ... Notes will be recorded on the MARP minutes form including any actions": each
    case on a MARP's agenda is owed its decision, recorded by the chair. A ROSH high case of Wed
    26 August 2026, referred with its views (3.2.3, 6.2), is put on the agenda of the MARP of
    Tue 29 September (chair-kim owes record_panel_decision, no due date). Closed on Fri 28
    August 15:40 by its line manager, it leaves that agenda in the closure's write: the item
    stays, withdrawn at 14:40Z by line_manager-1 "the case was closed: Moved away"; the chair's
    step is superseded with that reason (audited, announced: panel.item.withdrawn). The panel
    does not decide it (409 conflicting-transition, withdrawn); reopened, the chair's step is
    not reinstated and the case is not referred anew (its submitted referral stands); the
    MARP, with no case standing on it, may be cancelled."""
    pin(monkeypatch, 2026, 8, 28, 14, 35)
    case = await high_case(somerset)
    referral = (await refer_to_marp(somerset, case, "2026-08-26T11:00:00+01:00"))["data"]["id"]
    panel = await book(somerset, MARP_DAY)
    added = await put_on(somerset, panel, case, referral)
    item = added["data"]["id"]
    owed = the_step(added["next_steps"], "record_panel_decision")
    assert (owed["actor"], owed["assignee_id"], owed["due_at"], owed["policy"]["rule"],
            owed["policy"]["ref"]) == ("chair", "chair-kim", None, "S29", "7.1.2")
    pin(monkeypatch, 2026, 8, 28, 14, 40)
    r = await patch_case(somerset, case, CLOSE)
    assert r.status_code == 200, r.text
    shown = await item_of(somerset, panel, item)
    assert (shown["withdrawn_at"], shown["withdrawn_by"], shown["withdrawal_reason"],
            shown["decided_at"]) == ("2026-08-28T14:40:00Z", "line_manager-1",
                                     "the case was closed: Moved away", None)
    [ended] = [s for s in await steps_of(somerset, case, "superseded")
               if s["code"] == "record_panel_decision"]
    assert ended["id"] == owed["id"]
    assert ended["note"].endswith(
        f"Superseded: the case was withdrawn from the agenda of the {MARP} of Tuesday 29 September "
        f"2026 (item {item}): the case was closed: Moved away")
    entry = next(e for e in await audit_of(somerset, case) if e["action"] == "panel.item.withdraw")
    assert (entry["entity_id"], entry["reason"]) == (item, "the case was closed: Moved away")
    assert "panel.item.withdrawn" in await outbox_types(settings, case)
    pin(monkeypatch, 2026, 9, 29, 12, 0)
    r = await somerset.client.post(f"/v1/panels/{panel}/items/{item}/decision",
                                   json={"minutes": "Heard.", "review_date": "2026-10-27",
                                         "rosh_level": "high"},
                                   headers=somerset.auth("chair", "chair-kim"))
    body = assert_problem(r, 409)
    assert (body["type"].split("/")[-1], body["current_status"]) == \
        ("conflicting-transition", "withdrawn")
    pin(monkeypatch, 2026, 8, 28, 14, 45)
    r = await patch_case(somerset, case, REOPEN)
    assert r.status_code == 200, r.text
    codes = {s["code"] for s in r.json()["next_steps"]}
    assert not codes & {"record_panel_decision", "refer_to_panel",
                        "seek_child_and_carer_views"}, codes
    r = await somerset.client.delete(f"/v1/panels/{panel}", headers=somerset.auth("chair"))
    assert r.status_code == 204, r.text


async def test_S29_the_agendas_keepers_withdraw_an_item_with_a_reason(
    somerset: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """S29 (7.1.2): the chair records the decision on each case on the agenda. The case's holder
    and line manager may not take a case off the agenda (403 before the body is read: a
    malformed body gets 403 too); the panel administrator may, with a reason (422 without):
    200, the item withdrawn by panel_admin-1 with that reason, the chair's step superseded; a
    second withdrawal, or one of a decided item, is 409 conflicting-transition naming the
    state. The case may be put back on the same agenda (a new item)."""
    pin(monkeypatch, 2026, 8, 28, 14, 35)
    case = await high_case(somerset)
    panel = await book(somerset, MARP_DAY)
    item = (await put_on(somerset, panel, case))["data"]["id"]
    for role in ("case_holder", "line_manager", "duty_manager"):
        r = await somerset.client.post(
            f"/v1/panels/{panel}/items/{item}/withdraw", content=b"{not json",
            headers={**somerset.auth(role), "Content-Type": "application/json"})
        assert assert_problem(r, 403)["status"] == 403
    assert_problem(await withdraw(somerset, panel, item, {}), 422)
    r = await withdraw(somerset, panel, item, {"reason": "Discussed at the August MARP"})
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert (data["withdrawn_at"], data["withdrawn_by"], data["withdrawal_reason"]) == \
        ("2026-08-28T14:35:00Z", "panel_admin-1", "Discussed at the August MARP")
    assert "record_panel_decision" not in {s["code"] for s in r.json()["next_steps"]}
    [ended] = [s for s in await steps_of(somerset, case, "superseded")
               if s["code"] == "record_panel_decision"]
    assert ended["note"].endswith("): Discussed at the August MARP")
    again = await withdraw(somerset, panel, item, {"reason": "Twice"}, role="chair")
    body = assert_problem(again, 409)
    assert (body["type"].split("/")[-1], body["current_status"]) == \
        ("conflicting-transition", "withdrawn")
    back = await put_on(somerset, panel, case)
    assert back["data"]["id"] != item
    assert the_step(back["next_steps"], "record_panel_decision")["assignee_id"] == "chair-kim"
    pin(monkeypatch, 2026, 9, 29, 12, 0)
    r = await somerset.client.post(f"/v1/panels/{panel}/items/{back['data']['id']}/decision",
                                   json={"minutes": "Heard.", "review_date": "2026-10-27",
                                         "rosh_level": "high"},
                                   headers=somerset.auth("chair", "chair-kim"))
    assert r.status_code == 200, r.text
    body = assert_problem(await withdraw(somerset, panel, back["data"]["id"],
                                         {"reason": "Late"}, role="chair"), 409)
    assert body["current_status"] == "decided"


async def test_S8_views_are_due_at_the_MARP_the_case_is_on_and_follow_it(
    somerset: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """S8 (6.2): "Child and parent/carer views will be sought before the initial panel and be
    included in the MARP referral form." MARPs on Tue 8 and Tue 22 September 2026 (10:00
    BST). A ROSH high of Wed 26 August makes the views due at the next, 8 September 09:00Z;
    the case is put on the agenda of the MARP of 22 September: the views are due then (the
    panel it is actually on: attack pass 11, A11-13, they stayed due on 8 September); that
    MARP moved to Thu 24 September, they follow it; the item withdrawn, they are due at the
    next MARP again (8 September)."""
    pin(monkeypatch, 2026, 8, 28, 14, 35)
    await book(somerset, "2026-09-08T10:00:00+01:00")
    later = await book(somerset, "2026-09-22T10:00:00+01:00")
    case = await high_case(somerset)
    steps = await steps_of(somerset, case)
    assert due(steps, "seek_child_and_carer_views") == "2026-09-08T09:00:00Z"
    added = await put_on(somerset, later, case)
    views = the_step(added["next_steps"], "seek_child_and_carer_views")
    assert (views["actor"], views["policy"]["rule"], views["policy"]["ref"], views["due_at"]) \
        == ("case_holder", "S8", "6.2", "2026-09-22T09:00:00Z")
    r = await somerset.client.post(f"/v1/panels/{later}/reschedule",
                                   json={"scheduled_for": "2026-09-24T10:00:00+01:00"},
                                   headers=somerset.auth("panel_admin"))
    assert r.status_code == 200, r.text
    assert due(await steps_of(somerset, case), "seek_child_and_carer_views") \
        == "2026-09-24T09:00:00Z"
    r = await withdraw(somerset, later, added["data"]["id"], {"reason": "Wrong MARP"})
    assert r.status_code == 200, r.text
    assert due(await steps_of(somerset, case), "seek_child_and_carer_views") \
        == "2026-09-08T09:00:00Z"


async def test_S29_withdrawing_the_only_panel_referral_takes_the_case_off_the_agenda(
    somerset: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """S29 (7.1.2) and 3.2.3 ("The case holder will refer the case to the next YJT MARP"): a
    case not on the register goes onto a MARP only through its referral. Referred on Wed 26
    August 2026 and put on the agenda of the MARP of 29 September with that referral, the
    referral is then withdrawn (Fri 28 August): the need for the panel has ended, so the case
    leaves the agenda in that write (withdrawn, "its panel referral <id> was withdrawn"), the
    chair's step is superseded, and the MARP may be cancelled (before: the case stood on the
    agenda with no way onto it, the panel could not be cancelled)."""
    pin(monkeypatch, 2026, 8, 28, 14, 35)
    case = (await somerset.open_case(opened_at="2026-08-03T09:00:00+01:00"))["data"]["id"]
    referral = (await refer_to_marp(somerset, case, "2026-08-26T11:00:00+01:00"))["data"]["id"]
    panel = await book(somerset, MARP_DAY)
    item = (await put_on(somerset, panel, case, referral))["data"]["id"]
    r = await somerset.client.post(f"/v1/referrals/{referral}/withdraw",
                                   json={"note": "Sent in error.",
                                         "occurred_at": "2026-08-28T15:30:00+01:00"},
                                   headers=somerset.auth("case_holder"))
    assert r.status_code == 200, r.text
    shown = await item_of(somerset, panel, item)
    assert (shown["withdrawn_at"], shown["withdrawn_by"], shown["withdrawal_reason"]) == (
        "2026-08-28T14:30:00Z", "case_holder-1", f"its panel referral {referral} was withdrawn")
    assert "record_panel_decision" in {
        s["code"] for s in await steps_of(somerset, case, "superseded")}
    assert "record_panel_decision" not in {s["code"] for s in await steps_of(somerset, case)}
    r = await somerset.client.delete(f"/v1/panels/{panel}", headers=somerset.auth("chair"))
    assert r.status_code == 204, r.text


async def test_S7_S8_reopening_a_case_whose_submitted_referral_awaits_a_MARP_does_not_refer_it_anew(
    somerset: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """S7 (3.2.3): "The case holder will refer the case to the next YJT MARP by contacting the
    appropriate administrator and completion of section 1 of the MARP referral form"; S8 (6.2):
    views "sought before the initial panel and be included in the MARP referral form". A ROSH
    high of Wed 26 August 2026, referred with the views that day (both steps done by the
    submitted referral), on no agenda yet; closed Fri 28 August 15:40 and reopened at 15:45:
    neither step comes back (the referral stands and no MARP has decided on it: panel7's
    leftover, both came back due at the next MARP and blocked the next closure); the rest of
    the high rating's duties do (S5 discuss_with_manager, 24 hours after the judgement)."""
    pin(monkeypatch, 2026, 8, 28, 14, 35)
    await book(somerset, MARP_DAY)
    case = await high_case(somerset)
    await refer_to_marp(somerset, case, "2026-08-26T11:00:00+01:00")
    assert not {s["code"] for s in await steps_of(somerset, case)} & {
        "refer_to_panel", "seek_child_and_carer_views"}
    pin(monkeypatch, 2026, 8, 28, 14, 40)
    assert (await patch_case(somerset, case, CLOSE)).status_code == 200
    pin(monkeypatch, 2026, 8, 28, 14, 45)
    r = await patch_case(somerset, case, REOPEN)
    assert r.status_code == 200, r.text
    codes = {s["code"] for s in r.json()["next_steps"]}
    assert not codes & {"refer_to_panel", "seek_child_and_carer_views"}, codes
    discuss = the_step(r.json()["next_steps"], "discuss_with_manager")
    assert (discuss["actor"], discuss["policy"]["rule"], discuss["due_at"]) == \
        ("line_manager", "S5", "2026-08-27T09:00:00Z")


async def test_W7_reopening_a_case_whose_panel_request_awaits_the_panel_does_not_ask_again(
    wokingham: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """W7 (High Risk Panel): "It will be the responsibility of the case worker or their line
    manager to request a High-Risk Panel within two working days of 1. Assessing a child as
    high or very high ROSH". ROSH high on Wed 26 August 2026; the request (a panel referral) is
    submitted that day (request_high_risk_panel done by it). Closed and reopened on Fri 28
    August, on no agenda yet: no new request is asked for (the submitted request stands)."""
    from tests.api.integrity_support import closing_asset_plus

    pin(monkeypatch, 2026, 8, 28, 14, 35)
    case = await high_case(wokingham)
    r = await wokingham.client.post(f"/v1/cases/{case}/referrals", json={
        "kind": "panel", "occurred_at": "2026-08-26T11:00:00+01:00"},
        headers=wokingham.auth("case_holder"))
    assert r.status_code == 201, r.text
    r = await wokingham.client.post(f"/v1/referrals/{r.json()['data']['id']}/submit",
                                    json={"occurred_at": "2026-08-26T11:00:00+01:00"},
                                    headers=wokingham.auth("case_holder"))
    assert r.status_code == 200, r.text
    assert "request_high_risk_panel" not in {s["code"] for s in await steps_of(wokingham, case)}
    await closing_asset_plus(wokingham, case, "2026-08-28T15:36:00+01:00")
    pin(monkeypatch, 2026, 8, 28, 14, 40)
    assert (await patch_case(wokingham, case, CLOSE)).status_code == 200
    pin(monkeypatch, 2026, 8, 28, 14, 45)
    r = await patch_case(wokingham, case, REOPEN)
    assert r.status_code == 200, r.text
    assert "request_high_risk_panel" not in {s["code"] for s in r.json()["next_steps"]}


async def _audited(settings: Any, panel: str, action: str) -> list[list[str]]:
    engine = build_engine(settings)
    try:
        async with session_factory(engine)() as session:
            rows = await session.exec(select(AuditEntry).where(
                col(AuditEntry.action) == action).order_by(col(AuditEntry.at)))
            return [e.changed_fields for e in rows.all() if str(e.entity_id) == panel]
    finally:
        await engine.dispose()


async def test_S7_a_MARP_booked_in_the_past_by_mistake_may_be_cancelled(
    somerset: Tenant, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """S7 (3.2.3): "refer the case to the next YJT MARP". On Fri 28 August 2026 the
    administrator books a MARP for Mon 10 August 10:00 (a slip for 10 September) that nothing
    rests on: no case on its agenda, no decision, no step due at it (the case's ROSH high of
    26 August waits for the MARP of 29 September). It may be cancelled (204; attack pass 12,
    A12-13: 409 panel-has-sat forever), audited as a past booking (booked_at, past). Its twin
    stays refused: a MARP booked ahead (on 20 August for 24 August) that then passed is not
    cancelled (409 panel-has-sat, A10-1). Attack pass 15, A15-5: one booked in the past (for 7
    August) re-dated a waiting referral (ROSH high of 5 August) to itself, and that step then
    kept it from being cancelled: with nothing decided at it and nothing on its agenda it is
    cancelled (204, ``steps_redated`` in the audit) and the step is due again at the MARP of
    24 August, as before the slip."""
    pin(monkeypatch, 2026, 8, 20, 9, 0)
    ahead = await book(somerset, "2026-08-24T10:00:00+01:00")
    pin(monkeypatch, 2026, 8, 28, 14, 35)
    await book(somerset, MARP_DAY)
    case = await high_case(somerset)
    assert due(await steps_of(somerset, case), "refer_to_panel") == "2026-09-29T09:00:00Z"
    slip = await book(somerset, "2026-08-10T10:00:00+01:00")
    r = await somerset.client.delete(f"/v1/panels/{slip}", headers=somerset.auth("panel_admin"))
    assert r.status_code == 204, r.text
    assert_problem(await somerset.client.get(f"/v1/panels/{slip}",
                                             headers=somerset.auth("chair")), 404)
    [fields] = await _audited(settings, slip, "panel.cancel")
    assert sorted(fields) == ["booked_at", "kind", "past", "scheduled_for"]
    body = assert_problem(await somerset.client.delete(
        f"/v1/panels/{ahead}", headers=somerset.auth("panel_admin")), 409)
    assert body["type"].endswith("/panel-has-sat")
    early = (await somerset.open_case(opened_at="2026-08-03T09:00:00+01:00"))["data"]["id"]
    await judge(somerset, early, "rosh", "high", "2026-08-05T10:00:00+01:00")
    assert due(await steps_of(somerset, early), "refer_to_panel") == "2026-08-24T09:00:00Z"
    held = await book(somerset, "2026-08-07T10:00:00+01:00")
    assert due(await steps_of(somerset, early), "refer_to_panel") == "2026-08-07T09:00:00Z"
    r = await somerset.client.delete(f"/v1/panels/{held}", headers=somerset.auth("panel_admin"))
    assert r.status_code == 204, r.text
    assert due(await steps_of(somerset, early), "refer_to_panel") == "2026-08-24T09:00:00Z"
    [fields] = await _audited(settings, held, "panel.cancel")
    assert "steps_redated" in fields


async def test_S21_a_case_reclassified_medium_before_its_MARP_leaves_its_agenda(
    somerset: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """S21 (4.3): "Should a case at MARP be reclassified as medium, the case will be
    de-registered from the MARP panel and managed by case holder alongside manager oversight."
    A ROSH high of Wed 26 August 2026 puts the case on the register, and on the agenda of the
    MARP of 29 September (no referral: the register brought it). On Fri 28 August the case
    holder, after consulting the line manager, lowers ROSH to medium (no MARP has taken the
    case yet, so no panel approval is needed, M6): the case leaves the register and that
    agenda in the same write (withdrawn by case_holder-1, "the case left the register (rosh
    medium)"), and the chair's step is superseded. Its twin, referred to the MARP with a
    submitted referral, stays on the agenda (the referral still asks for the panel)."""
    pin(monkeypatch, 2026, 8, 28, 14, 35)
    panel = await book(somerset, MARP_DAY)
    case = await high_case(somerset)
    twin = await high_case(somerset)
    referral = (await refer_to_marp(somerset, twin, "2026-08-26T11:00:00+01:00"))["data"]["id"]
    item = (await put_on(somerset, panel, case))["data"]["id"]
    kept = (await put_on(somerset, panel, twin, referral))["data"]["id"]
    for each in (case, twin):
        r = await somerset.client.post(f"/v1/cases/{each}/judgements", json={
            "domain": "rosh", "level": "medium", "occurred_at": "2026-08-28T15:00:00+01:00",
            "rationale": "Protective factors strengthened."}, headers=somerset.auth("case_holder"))
        assert r.status_code == 201, r.text
    shown = await item_of(somerset, panel, item)
    assert (shown["withdrawn_at"], shown["withdrawn_by"], shown["withdrawal_reason"]) == (
        "2026-08-28T14:00:00Z", "case_holder-1", "the case left the register (rosh medium)")
    assert "record_panel_decision" not in {s["code"] for s in await steps_of(somerset, case)}
    stays = await item_of(somerset, panel, kept)
    assert (stays["withdrawn_at"], stays["withdrawal_reason"]) == (None, None)
    assert the_step(await steps_of(somerset, twin), "record_panel_decision")["assignee_id"] \
        == "chair-kim"


async def test_S7_an_item_withdrawn_undecided_owes_the_referral_to_the_next_MARP_again(
    somerset: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """S7 (3.2.3): "The case holder will refer the case to the next YJT MARP" (not waivable).
    ROSH high on Wed 26 August 2026; the MARP administrator puts the case on the agenda of the
    MARP of Tue 29 September without a referral, which answers S7 (done by the item). On Fri
    28 August the item is withdrawn undecided ("moving to a later MARP"): the panel never heard
    the case, so the referral is owed again by the case holder, due at the next MARP as the
    panels now stand for it: not the sitting it was taken off (ATTACK36-3, as if that sitting
    were cancelled), and none other is booked, so it waits for a date; audited as created, and
    the case cannot close without it. Put on the agenda again, the new item answers it once
    more; withdrawn while the case also stands on a later MARP, nothing comes back (going
    there answers it) (attack passes 16 and 17, A16-19, A17-2)."""
    pin(monkeypatch, 2026, 8, 28, 14, 35)
    case = await high_case(somerset)
    referral = the_step(await steps_of(somerset, case), "refer_to_panel")
    panel = await book(somerset, MARP_DAY)
    item = (await put_on(somerset, panel, case))["data"]["id"]
    done = {s["id"]: s for s in await steps_of(somerset, case, "done")}
    assert referral["id"] in done
    r = await withdraw(somerset, panel, item, {"reason": "moving to a later MARP"})
    assert r.status_code == 200, r.text
    back = the_step(r.json()["next_steps"], "refer_to_panel")
    assert (back["actor"], back["assignee_id"], back["due_at"], back["awaiting_panel_date"],
            back["policy"]["rule"], back["policy"]["ref"]) == (
        "case_holder", "case_holder-1", None, True, "S7", "3.2.3, 3.2.4")
    assert back["id"] != referral["id"]
    assert "the panel did not hear the case" in back["note"]
    created = [e for e in await audit_of(somerset, case)
               if e["action"] == "step.create" and e["entity_id"] == back["id"]]
    assert len(created) == 1
    # A minute on: a closure is dated after the acts recorded (at the withdrawal's instant the
    # case would be closed, A25-2); CLOSE's 15:40 BST is clamped to the clock.
    pin(monkeypatch, 2026, 8, 28, 14, 36)
    problem = assert_problem(await patch_case(somerset, case, CLOSE), 409)
    assert back["id"] in {s["id"] for s in problem["steps"]}
    later = await book(somerset, "2026-10-27T10:00:00Z")
    again = (await put_on(somerset, panel, case))["data"]["id"]
    assert back["id"] in {s["id"] for s in await steps_of(somerset, case, "done")}
    await put_on(somerset, later, case)
    r = await withdraw(somerset, panel, again, {"reason": "heard at the October MARP instead"})
    assert r.status_code == 200, r.text
    assert "refer_to_panel" not in {s["code"] for s in await steps_of(somerset, case)}


async def test_S7_a_case_goes_on_no_panel_that_sat_before_it_was_opened(
    somerset: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """S7 (3.2.3): the referral to the next YJT MARP is answered by the MARP hearing the case.
    A MARP of Friday 31 July 2026 (booked in the past, as a sitting recorded late) sat before
    the case was opened on Monday 3 August: putting the case on its agenda is 422
    ``panel-before-case``, nothing stored, and the referral stays owed (attack pass 16,
    A16-19 b)."""
    pin(monkeypatch, 2026, 8, 28, 14, 35)
    case = await high_case(somerset)
    panel = await book(somerset, "2026-07-31T10:00:00+01:00")
    r = await somerset.client.post(f"/v1/panels/{panel}/items",
                                   json={"case_id": case, "presenter_id": "case_holder-1"},
                                   headers=somerset.auth("panel_admin"))
    assert assert_problem(r, 422)["type"].endswith("/panel-before-case")
    assert "refer_to_panel" in {s["code"] for s in await steps_of(somerset, case)}
    r = await somerset.client.get(f"/v1/panels/{panel}", headers=somerset.auth("chair"))
    assert r.json()["data"]["items"] == []


async def test_S7_a_case_deferred_at_the_sitting_owes_its_referral_at_the_next_MARP(
    somerset: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """S7 (3.2.3): "The case holder will refer the case to the next YJT MARP". ROSH high on Wed
    26 August 2026; the case goes on the MARP of Tue 29 September 10:00 BST (answering S7 in
    time); the MARP runs out of time and defers it: the item is withdrawn at 12:00 that day.
    The referral is owed again at the next MARP after that sitting (Tue 27 October 10:00 GMT,
    10:00Z, after the clocks went back), not at the sitting that deferred it (overdue at once),
    audited (attack pass 17, A17-19)."""
    pin(monkeypatch, 2026, 8, 28, 14, 35)
    case = await high_case(somerset)
    sitting = await book(somerset, MARP_DAY)
    await book(somerset, "2026-10-27T10:00:00Z")
    item = (await put_on(somerset, sitting, case))["data"]["id"]
    pin(monkeypatch, 2026, 9, 29, 11, 0)
    r = await withdraw(somerset, sitting, item, {"reason": "MARP ran out of time: deferred"})
    assert r.status_code == 200, r.text
    back = the_step(r.json()["next_steps"], "refer_to_panel")
    assert (back["due_at"], back["overdue"], back["policy"]["rule"]) == (
        "2026-10-27T10:00:00Z", False, "S7")
    assert any(e["action"] == "step.redate" and e["entity_id"] == back["id"]
               for e in await audit_of(somerset, case))


@pytest.mark.parametrize("at_sitting", [False, True], ids=["before", "at-the-sitting"])
async def test_S7_a_deferred_case_whose_submitted_referral_stands_owes_the_next_MARP(
    somerset: Tenant, monkeypatch: pytest.MonkeyPatch, at_sitting: bool
) -> None:
    """S7 (3.2.3): "The case holder will refer the case to the next YJT MARP by contacting the
    appropriate administrator and completion of section 1 of the MARP referral form." ROSH
    high on Wed 26 August 2026, referred with its views on the same day (the referral answers
    S7); the case goes on the MARP of Tue 29 September with its referral, and is taken off
    undecided (before the sitting, or deferred at it). Its referral still stands, so before
    this nothing was owed and nobody was told to bring it to the next MARP (attack pass 17,
    A17-2, the referral half). Now the referral to the next MARP is owed again by the case
    holder (owned, not waivable), due at the next MARP after the sitting it left (Tue 27
    October 10:00 GMT, whether taken off before the sitting of 29 September or deferred at
    it: ATTACK36-3, the sitting it left is not its next panel), its note naming the standing
    referral; putting the case on the next agenda answers it."""
    pin(monkeypatch, 2026, 8, 28, 14, 35)
    case = await high_case(somerset)
    referral = (await refer_to_marp(somerset, case, "2026-08-26T11:00:00+01:00"))["data"]["id"]
    assert "refer_to_panel" not in {s["code"] for s in await steps_of(somerset, case)}
    sitting = await book(somerset, MARP_DAY)
    later = await book(somerset, "2026-10-27T10:00:00Z")
    item = (await put_on(somerset, sitting, case, referral))["data"]["id"]
    if at_sitting:
        pin(monkeypatch, 2026, 9, 29, 11, 0)
    r = await withdraw(somerset, sitting, item, {"reason": "MARP ran out of time: deferred"})
    assert r.status_code == 200, r.text
    back = the_step(r.json()["next_steps"], "refer_to_panel")
    assert (back["actor"], back["assignee_id"], back["policy"]["rule"]) == (
        "case_holder", "case_holder-1", "S7")
    assert back["due_at"] == "2026-10-27T10:00:00Z"
    assert referral in back["note"]
    r = await somerset.client.get(f"/v1/referrals/{referral}", headers=somerset.auth("case_holder"))
    assert r.json()["data"]["status"] == "submitted"
    await put_on(somerset, later, case, referral)
    assert back["id"] in {s["id"] for s in await steps_of(somerset, case, "done")}


async def test_W8_a_deferred_case_whose_panel_request_stands_still_owes_the_panel(
    wokingham: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """W7/W8 (High Risk Panel): "Upon a request for a High-Risk Panel meeting, the Team Manager
    will schedule an ad-hoc meeting". The request submitted, the case put on a High-Risk Panel
    and taken off it undecided: the Team Manager's hold_high_risk_panel (W8) stays owed, dated,
    to the chair (only the panel's decision does it), and the request is not asked again."""
    pin(monkeypatch, 2026, 8, 28, 14, 35)
    case = await high_case(wokingham)
    r = await wokingham.client.post(f"/v1/cases/{case}/referrals", json={"kind": "panel"},
                                    headers=wokingham.auth("case_holder"))
    referral = r.json()["data"]["id"]
    r = await wokingham.client.post(f"/v1/referrals/{referral}/submit",
                                    headers=wokingham.auth("case_holder"))
    assert r.status_code == 200, r.text
    r = await wokingham.client.post("/v1/panels", json={
        "kind": "high_risk_panel", "scheduled_for": "2026-09-03T10:00:00+01:00",
        "chair_id": "chair-1"}, headers=wokingham.auth("panel_admin"))
    panel = r.json()["data"]["id"]
    item = (await put_on(wokingham, panel, case, referral))["data"]["id"]
    r = await withdraw(wokingham, panel, item, {"reason": "deferred"})
    assert r.status_code == 200, r.text
    codes = {s["code"] for s in r.json()["next_steps"]}
    assert "request_high_risk_panel" not in codes
    hold = the_step(r.json()["next_steps"], "hold_high_risk_panel")
    assert (hold["actor"], hold["policy"]["rule"]) == ("chair", "W8")
    assert hold["due_at"] is not None
