"""No act is dated while the case was closed, even once it is reopened (attack pass 9, A9-7).

While a case is closed every act is refused (409 ``case-closed``) but what the pack reaches past
closure (Somerset 12, S23: a charge or death "up to 20 days following the end of supervision";
the serious incident notification). After a reopening the same acts, dated inside the closed
period, were accepted and raised steps overdue for a time the case was closed: whether a
back-dated act counted depended on when it was typed in. They are now 422
``occurred-before-bound``, naming the reopening as the bound; what the pack reaches past closure
is still accepted.

2026 dates: opened Monday 3 August; closed Tuesday 15 September 17:00 BST; reopened Friday 2
October 10:00 BST; the acts are dated Sunday 20 September.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from tests.api.integrity_support import (
    assert_problem,
    complete,
    etag,
    judge,
    patch_case,
    refer_to_marp,
    steps_of,
)
from tests.conftest import Tenant

OPENED = "2026-08-03T09:00:00+01:00"
CLOSED = "2026-09-15T17:00:00+01:00"
REOPENED = "2026-10-02T10:00:00+01:00"
INSIDE = "2026-09-20T10:00:00+01:00"
INSIDE_SITTING = "2026-09-21T10:00:00+01:00"  # a Monday: a panel sits on a working day
BOUND = {"field": "occurred_at",
         "name": "the case's reopening (it was closed from 2026-09-15T16:00:00Z)",
         "value": "2026-10-02T09:00:00Z"}
VERY_HIGH_SWB = {"domain": "swb", "level": "very_high", "rationale": "imminent danger"}


async def _closed_and_reopened(t: Tenant) -> str:
    case_id = (await t.open_case(opened_at=OPENED))["data"]["id"]
    r = await patch_case(t, case_id, {"closed_at": CLOSED, "closure_reason": "Order ended"})
    assert r.status_code == 200, r.text
    r = await patch_case(t, case_id, {"closed_at": None, "reopen_reason": "New order",
                                      "occurred_at": REOPENED})
    assert r.status_code == 200, r.text
    return case_id


def _refused(r: httpx.Response) -> None:
    problem = assert_problem(r, 422)
    assert problem["type"].endswith("/occurred-before-bound")
    assert problem["bound"] == BOUND
    assert problem["errors"][0]["loc"] == "body.occurred_at"


async def test_S9_a_judgement_dated_while_the_case_was_closed_is_refused_after_reopening(
        somerset: Tenant) -> None:
    """S9 (3.2.4): very high SWB asks for a child protection referral "immediately". Dated
    Sunday 20 September, while the case was closed, the judgement recorded after the reopening
    is 422 naming the reopening (2 October 09:00Z) and raises nothing; the same judgement dated
    after the reopening (11:00 BST) raises the referral, due then (10:00Z), urgent."""
    case_id = await _closed_and_reopened(somerset)
    before = sorted(s["id"] for s in await steps_of(somerset, case_id))
    r = await somerset.client.post(f"/v1/cases/{case_id}/judgements",
                                   json={**VERY_HIGH_SWB, "occurred_at": INSIDE},
                                   headers=somerset.auth("case_holder"))
    _refused(r)
    assert sorted(s["id"] for s in await steps_of(somerset, case_id)) == before
    r = await somerset.client.post(f"/v1/cases/{case_id}/judgements",
                                   json={**VERY_HIGH_SWB,
                                         "occurred_at": "2026-10-02T11:00:00+01:00"},
                                   headers=somerset.auth("case_holder"))
    assert r.status_code == 201, r.text
    [cp] = [s for s in r.json()["next_steps"] if s["code"] == "child_protection_referral"]
    assert (cp["actor"], cp["due_at"], cp["urgent"], cp["policy"]["rule"],
            cp["policy"]["ref"]) == ("case_holder", "2026-10-02T10:00:00Z", True, "S9", "3.2.4")


async def test_S14_an_event_dated_while_the_case_was_closed_is_refused_after_reopening(
        somerset: Tenant) -> None:
    """S14 (2.1): "AssetPlus assessment will be reviewed ... sooner upon any significant change
    becoming known". A new incident dated Sunday 20 September, while the case was closed, is 422
    after the reopening; one dated before the closure (Thursday 10 September), when the case
    was open, is recorded."""
    case_id = await _closed_and_reopened(somerset)
    url = f"/v1/cases/{case_id}/events"
    r = await somerset.client.post(url, json={"type": "new_incident", "occurred_at": INSIDE},
                                   headers=somerset.auth("case_holder"))
    _refused(r)
    r = await somerset.client.post(url, json={"type": "new_incident",
                                              "occurred_at": "2026-09-10T10:00:00+01:00"},
                                   headers=somerset.auth("case_holder"))
    assert r.status_code == 201, r.text


async def test_S23_a_charge_within_20_days_of_the_closure_is_still_recorded_after_reopening(
        somerset: Tenant) -> None:
    """S23 (12): "Somerset YJT will complete notification ... for any child who is charged with
    any notifiable offence or dies whilst relevant to our service (up to 20 days following the
    end of supervision)". A charge dated Sunday 20 September (5 days after the closure),
    recorded after the reopening, is accepted and raises S23's duties (ref 12)."""
    case_id = await _closed_and_reopened(somerset)
    r = await somerset.client.post(f"/v1/cases/{case_id}/events",
                                   json={"type": "charged", "occurred_at": INSIDE,
                                         "details": {"offence": "robbery"}},
                                   headers=somerset.auth("line_manager"))
    assert r.status_code == 201, r.text
    raised = {s["code"]: s for s in r.json()["next_steps"] if s["policy"]["rule"] == "S23"}
    assert {"inform_service_manager", "notify_serious_incident"} <= set(raised)
    assert {s["policy"]["ref"] for s in raised.values()} == {"12"}


async def test_S5_a_step_is_not_done_or_waived_while_the_case_was_closed(
        somerset: Tenant) -> None:
    """S5 (3.1): "Any 'high' or 'very high' judgement rating will be discussed as soon as
    practicable with the relevant line manager or duty manager (within 24 hours)". ROSH high on
    Thursday 10 September 2026 10:00 BST (the MARP referral made, 3.2.3, 6.2); the discussion,
    due Friday 11 September 09:00Z, is set aside by the closure and comes back at the
    reopening; completing or waiving it dated Sunday 20 September, while the case was closed,
    is 422."""
    case_id = (await somerset.open_case(opened_at=OPENED))["data"]["id"]
    await judge(somerset, case_id, "rosh", "high", "2026-09-10T10:00:00+01:00")
    await refer_to_marp(somerset, case_id, "2026-09-10T11:00:00+01:00")
    for body in ({"closed_at": CLOSED, "closure_reason": "Order ended"},
                 {"closed_at": None, "reopen_reason": "New order", "occurred_at": REOPENED}):
        r = await patch_case(somerset, case_id, body)
        assert r.status_code == 200, r.text
    [s5] = [s for s in await steps_of(somerset, case_id) if s["code"] == "discuss_with_manager"]
    assert (s5["actor"], s5["assignee_id"], s5["due_at"], s5["policy"]["rule"],
            s5["policy"]["ref"]) == ("line_manager", "line_manager-1", "2026-09-11T09:00:00Z",
                                     "S5", "3.1")
    _refused(await complete(somerset, s5["id"], "line_manager", note="discussed",
                            occurred_at=INSIDE))
    r = await somerset.client.post(f"/v1/next-steps/{s5['id']}/waive",
                                   json={"reason": "not needed", "occurred_at": INSIDE},
                                   headers=somerset.auth("duty_manager", "dm-pat"))
    _refused(r)
    assert s5["id"] in {s["id"] for s in await steps_of(somerset, case_id)}


async def test_S9_race_reopening_against_a_judgement_dated_while_closed(
        somerset: Tenant) -> None:
    """S9 (3.2.4) again, raced: the reopening and a very high SWB dated inside the closed period
    at once, 10 rounds on SQLite and PostgreSQL. The reopening always stands; the judgement is
    409 ``case-closed`` (it came first) or 422 ``occurred-before-bound`` (it came after), never
    recorded, and no child protection referral is ever raised for the closed time."""
    for _ in range(10):
        case_id = (await somerset.open_case(opened_at=OPENED))["data"]["id"]
        r = await patch_case(somerset, case_id, {"closed_at": CLOSED,
                                                 "closure_reason": "Order ended"})
        assert r.status_code == 200, r.text
        tag = await etag(somerset, case_id)
        reopen, judged = await asyncio.gather(
            somerset.client.patch(f"/v1/cases/{case_id}", json={
                "closed_at": None, "reopen_reason": "New order", "occurred_at": REOPENED},
                headers={**somerset.auth("line_manager"), "If-Match": tag}),
            somerset.client.post(f"/v1/cases/{case_id}/judgements",
                                 json={**VERY_HIGH_SWB, "occurred_at": INSIDE},
                                 headers=somerset.auth("case_holder")))
        assert reopen.status_code == 200, reopen.text
        problem: dict[str, Any] = assert_problem(judged, judged.status_code)
        assert (judged.status_code, problem["type"].rsplit("/", 1)[1]) in (
            (409, "case-closed"), (422, "occurred-before-bound"))
        r = await somerset.client.get(f"/v1/cases/{case_id}/judgements",
                                      headers=somerset.auth("case_holder"))
        assert r.json()["data"] == []
        assert "child_protection_referral" not in {
            s["code"] for status in ("open", "superseded", "done")
            for s in await steps_of(somerset, case_id, status)}


async def test_S29_a_marp_that_sat_while_the_case_was_closed_cannot_take_it(
        somerset: Tenant) -> None:
    """S29 (7.1.2, the chair records the MARP's decision). Attack pass 18, A18-9: a MARP that
    sat on Monday 21 September (a panel sits on a working day: once Sunday 20 September), while
    the case was closed, took the reopened case onto its agenda (201) and made the chair owe a
    decision that is always refused there (the panel does not decide a closed case) and can be
    neither done nor waived. Now 422
    ``panel-while-case-closed`` (the preview alike), nothing stored, no chair's step; a MARP
    sitting after the reopening takes it."""
    case_id = await _closed_and_reopened(somerset)
    await judge(somerset, case_id, "rosh", "high", "2026-10-02T11:00:00+01:00")

    async def marp(at: str) -> str:
        r = await somerset.client.post("/v1/panels", json={
            "kind": "marp", "scheduled_for": at, "chair_id": "chair-1"},
            headers=somerset.auth("panel_admin"))
        assert r.status_code == 201, r.text
        return str(r.json()["data"]["id"])

    sat = await marp(INSIDE_SITTING)
    r = await somerset.client.post(f"/v1/panels/{sat}/items", json={
        "case_id": case_id, "presenter_id": "case_holder-1"}, headers=somerset.auth("panel_admin"))
    problem = assert_problem(r, 422)
    assert problem["type"].endswith("/panel-while-case-closed")
    assert [e["loc"] for e in problem["errors"]] == ["body.case_id"]
    r = await somerset.client.post("/v1/workflow/preview", headers=somerset.auth("case_holder"),
                                   json={"case_id": case_id, "trigger": "panel_item_added",
                                         "data": {"panel_id": sat, "panel_kind": "marp",
                                                  "scheduled_for": INSIDE_SITTING}})
    assert assert_problem(r, 422)["type"].endswith("/panel-while-case-closed")
    assert "record_panel_decision" not in [s["code"] for s in await steps_of(somerset, case_id)]
    later = await marp("2026-10-05T10:00:00+01:00")
    r = await somerset.client.post(f"/v1/panels/{later}/items", json={
        "case_id": case_id, "presenter_id": "case_holder-1"}, headers=somerset.auth("panel_admin"))
    assert r.status_code == 201, r.text
    assert "record_panel_decision" in [s["code"] for s in await steps_of(somerset, case_id)]
