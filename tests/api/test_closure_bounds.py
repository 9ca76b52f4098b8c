"""A closure may not be dated before what is already recorded on the case, and a case is closed
(or reopened) once: the second is 409 (attack pass 4, finding 1).

Somerset 2023, 12: "Somerset YJT will complete notification within the expected timeframes for
any child who is charged with any notifiable offence or dies whilst relevant to our service (up to
20 days following the end of supervision)". A closure back-dated before a judgement recorded
today put a later charge outside those 20 days, so S23's duties were never raised; closing the
closed case again moved its date silently. Every other act dated before a bound is 422
``occurred-before-bound``; a closure now is too, naming the latest act as the bound.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from tests.api.integrity_support import (
    assert_problem,
    codes,
    complete,
    judge,
    patch_case,
    refer_to_marp,
    steps_of,
)
from tests.conftest import Tenant

OPENED = "2026-07-01T10:00:00+01:00"


async def _event(t: Tenant, case_id: str, type_: str, at: str, role: str = "case_holder"
                 ) -> dict[str, Any]:
    r = await t.client.post(f"/v1/cases/{case_id}/events",
                            json={"type": type_, "occurred_at": at,
                                  "details": {"offence": "robbery"} if type_ == "charged"
                                  else {}},
                            headers=t.auth(role))
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


async def _judged(t: Tenant, case_id: str) -> None:
    # Medium: a high rating's MARP referral may not be set aside by a closure (A9-9).
    await judge(t, case_id, "rosh", "medium", "2026-08-27T11:00:00+01:00")


async def _event_recorded(t: Tenant, case_id: str) -> None:
    await _event(t, case_id, "change_of_circumstances", "2026-08-27T11:00:00+01:00")


async def _step_done(t: Tenant, case_id: str) -> None:
    await judge(t, case_id, "rosh", "high", "2026-07-10T11:00:00+01:00")
    await refer_to_marp(t, case_id, "2026-07-10T12:00:00+01:00")  # S7/S8: A9-9
    # A step done by hand (the AssetPlus and the MARP referral are done only by their acts).
    step = next(s for s in await steps_of(t, case_id) if s["code"] == "update_intervention_plan")
    r = await complete(t, step["id"], "case_holder", note="done",
                       occurred_at="2026-08-27T11:00:00+01:00")
    assert r.status_code == 200, r.text


async def _assessment_started(t: Tenant, case_id: str) -> None:
    r = await t.client.post(f"/v1/cases/{case_id}/assessments",
                            json={"type": "asset_plus", "stage": "review",
                                  "occurred_at": "2026-08-27T11:00:00+01:00"},
                            headers=t.auth("case_holder"))
    assert r.status_code == 201, r.text


@pytest.mark.parametrize("act", [_judged, _event_recorded, _step_done, _assessment_started],
                         ids=["judgement", "event", "step-done", "assessment"])
async def test_closure_before_the_latest_act_is_422_and_changes_nothing(
        somerset: Tenant, act: Any) -> None:
    """Thursday 27 August 2026 11:00 BST an act is recorded; a closure dated Thursday 2 July
    2026 is 422 occurred-before-bound on body.closed_at naming 2026-08-27T10:00:00Z; the case
    stays open with its open steps. A closure at the act's own instant is 422 as well (the case
    is closed from its closure's instant: the act, recorded on the open case, would be on the
    closed one, A25-2); a closure dated a second after the act stands."""
    case_id = (await somerset.open_case(opened_at=OPENED))["data"]["id"]
    await act(somerset, case_id)
    before = sorted(s["id"] for s in await steps_of(somerset, case_id))
    r = await patch_case(somerset, case_id, {"closed_at": "2026-07-02T10:00:00+01:00",
                                             "closure_reason": "Order completed"})
    body = assert_problem(r, 422)
    assert body["type"].endswith("/occurred-before-bound")
    assert body["errors"][0]["loc"] == "body.closed_at"
    assert body["bound"] == {"field": "closed_at", "name": "the latest act recorded on the case",
                             "value": "2026-08-27T10:00:00Z"}
    case = await somerset.client.get(f"/v1/cases/{case_id}", headers=somerset.auth("chair"))
    assert case.json()["data"]["closed_at"] is None
    assert sorted(s["id"] for s in await steps_of(somerset, case_id)) == before
    r = await patch_case(somerset, case_id, {"closed_at": "2026-08-27T11:00:00+01:00",
                                             "closure_reason": "Order completed"})
    body = assert_problem(r, 422)
    assert body["errors"] == [{"loc": "body.closed_at", "msg": "must be after the latest act "
                               "recorded on the case (2026-08-27T10:00:00Z)"}]
    r = await patch_case(somerset, case_id, {"closed_at": "2026-08-27T11:00:01+01:00",
                                             "closure_reason": "Order completed"})
    assert r.status_code == 200, r.text


async def test_S23_charge_after_a_true_closure_still_raises_the_serious_incident_duties(
        somerset: Tenant) -> None:
    """The attack's sequence: ROSH judged Thursday 27 August 2026; the back-dated closure
    (2 July) is refused; closed on Friday 28 August instead, a charge on Monday 14 September
    (17 days later, within 20) raises S23's inform_service_manager and
    notify_serious_incident (ref 12)."""
    case_id = (await somerset.open_case(opened_at=OPENED))["data"]["id"]
    await _judged(somerset, case_id)
    r = await patch_case(somerset, case_id, {"closed_at": "2026-07-02T10:00:00+01:00",
                                             "closure_reason": "closed"})
    assert_problem(r, 422)
    r = await patch_case(somerset, case_id, {"closed_at": "2026-08-28T15:00:00+01:00",
                                             "closure_reason": "Order completed"})
    assert r.status_code == 200, r.text
    body = await _event(somerset, case_id, "charged", "2026-09-14T10:00:00+01:00",
                        role="line_manager")
    raised = [s for s in body["next_steps"] if s["policy"]["rule"] == "S23"]
    assert {"inform_service_manager", "notify_serious_incident"} <= set(codes(raised))
    assert {s["policy"]["ref"] for s in raised} == {"12"}


async def test_closing_a_closed_case_is_409_and_keeps_its_date(somerset: Tenant) -> None:
    """A second closure (another date) is 409 conflicting-transition naming the current
    closure; the case keeps its first closed_at. Reopening an open case is 409 too."""
    case_id = (await somerset.open_case(opened_at=OPENED))["data"]["id"]
    r = await patch_case(somerset, case_id, {"reopen_reason": "back", "closed_at": None})
    body = assert_problem(r, 409)
    assert body["type"].endswith("/conflicting-transition")
    assert body["current_status"] == "open"
    r = await patch_case(somerset, case_id, {"closed_at": "2026-08-10T10:00:00+01:00",
                                             "closure_reason": "Order completed"})
    assert r.status_code == 200, r.text
    r = await patch_case(somerset, case_id, {"closed_at": "2026-08-20T10:00:00+01:00",
                                             "closure_reason": "oops"})
    body = assert_problem(r, 409)
    assert body["type"].endswith("/conflicting-transition")
    assert body["current_status"] == "closed"
    assert body["current"] == {"closed_at": "2026-08-10T09:00:00Z"}
    case = await somerset.client.get(f"/v1/cases/{case_id}", headers=somerset.auth("chair"))
    assert case.json()["data"]["closed_at"] == "2026-08-10T09:00:00Z"


async def test_closure_before_an_event_became_known_is_422(somerset: Tenant) -> None:
    """An event that happened on Monday 10 August 2026 but became known on Monday 24 August:
    a closure dated Thursday 20 August is 422 naming 2026-08-24T09:00:00Z (known_at)."""
    case_id = (await somerset.open_case(opened_at=OPENED))["data"]["id"]
    r = await somerset.client.post(f"/v1/cases/{case_id}/events", json={
        "type": "change_of_circumstances", "occurred_at": "2026-08-10T10:00:00+01:00",
        "known_at": "2026-08-24T10:00:00+01:00"}, headers=somerset.auth("case_holder"))
    assert r.status_code == 201, r.text
    r = await patch_case(somerset, case_id, {"closed_at": "2026-08-20T10:00:00+01:00",
                                             "closure_reason": "Order completed"})
    assert assert_problem(r, 422)["bound"]["value"] == "2026-08-24T09:00:00Z"


async def test_closed_case_takes_no_oversight_and_reopens_after_its_last_act(
        somerset: Tenant) -> None:
    """Closed on Thursday 20 August 2026: an oversight entry dated 24 August is 409
    case-closed; a referral withdrawn on 24 August (recorded while closed) bounds the
    reopening: reopened as of 22 August is 422, as of 25 August stands."""
    case_id = (await somerset.open_case(opened_at=OPENED))["data"]["id"]
    r = await somerset.client.post(f"/v1/cases/{case_id}/referrals", json={
        "kind": "nrm", "occurred_at": "2026-08-03T10:00:00+01:00"},
        headers=somerset.auth("case_holder"))
    assert r.status_code == 201, r.text
    referral = r.json()["data"]["id"]
    r = await patch_case(somerset, case_id, {"closed_at": "2026-08-20T10:00:00+01:00",
                                             "closure_reason": "Order completed"})
    assert r.status_code == 200, r.text
    r = await somerset.client.post(f"/v1/cases/{case_id}/oversight", json={
        "note": "Reviewed", "occurred_at": "2026-08-24T10:00:00+01:00"},
        headers=somerset.auth("line_manager"))
    assert assert_problem(r, 409)["type"].endswith("/case-closed")
    r = await somerset.client.post(f"/v1/referrals/{referral}/withdraw",
                                   json={"occurred_at": "2026-08-24T10:00:00+01:00"},
                                   headers=somerset.auth("case_holder"))
    assert r.status_code == 200, r.text
    r = await patch_case(somerset, case_id, {"closed_at": None, "reopen_reason": "Breach",
                                             "occurred_at": "2026-08-22T10:00:00+01:00"})
    assert assert_problem(r, 422)["bound"]["value"] == "2026-08-24T09:00:00Z"
    r = await patch_case(somerset, case_id, {"closed_at": None, "reopen_reason": "Breach",
                                             "occurred_at": "2026-08-25T10:00:00+01:00"})
    assert r.status_code == 200, r.text


async def test_reopening_bounds_the_next_closure_by_when_it_happened(somerset: Tenant) -> None:
    """Closed on Thursday 20 August 2026, reopened as of Tuesday 25 August (recorded today):
    a closure dated Wednesday 26 August stands (the reopening's own date is the bound, not
    the day it was recorded, which refused it); one dated Monday 24 August, before the
    reopening, is 422 naming 2026-08-25T09:00:00Z."""
    case_id = (await somerset.open_case(opened_at=OPENED))["data"]["id"]
    r = await patch_case(somerset, case_id, {"closed_at": "2026-08-20T10:00:00+01:00",
                                             "closure_reason": "Order completed"})
    assert r.status_code == 200, r.text
    r = await patch_case(somerset, case_id, {"closed_at": None, "reopen_reason": "Breach",
                                             "occurred_at": "2026-08-25T10:00:00+01:00"})
    assert r.status_code == 200, r.text
    r = await patch_case(somerset, case_id, {"closed_at": "2026-08-24T10:00:00+01:00",
                                             "closure_reason": "Order completed"})
    assert assert_problem(r, 422)["bound"]["value"] == "2026-08-25T09:00:00Z"
    r = await patch_case(somerset, case_id, {"closed_at": "2026-08-26T10:00:00+01:00",
                                             "closure_reason": "Order completed"})
    assert r.status_code == 200, r.text


async def test_a_change_of_the_case_bounds_a_later_closure(somerset: Tenant) -> None:
    """The case moved to another case holder as of Thursday 27 August 2026 (a PATCH dated
    then): a closure dated Wednesday 26 August would end the case before that reassignment
    happened, 422 naming 2026-08-27T09:00:00Z; one dated Friday 28 August stands."""
    case_id = (await somerset.open_case(opened_at=OPENED))["data"]["id"]
    r = await patch_case(somerset, case_id, {"case_holder_id": "case_holder-2",
                                             "occurred_at": "2026-08-27T10:00:00+01:00"})
    assert r.status_code == 200, r.text
    r = await patch_case(somerset, case_id, {"closed_at": "2026-08-26T10:00:00+01:00",
                                             "closure_reason": "Order completed"})
    assert assert_problem(r, 422)["bound"]["value"] == "2026-08-27T09:00:00Z"
    r = await patch_case(somerset, case_id, {"closed_at": "2026-08-28T10:00:00+01:00",
                                             "closure_reason": "Order completed"})
    assert r.status_code == 200, r.text


async def test_an_upsert_that_changes_the_case_bounds_a_later_closure(somerset: Tenant) -> None:
    """IYSS moves the case to another case holder and records it as child in need through the
    upsert (``PUT /v1/cases/by-external-ref/...``: the change happens as it is received): a
    closure dated Monday 10 August 2026, before that change, is 422 naming it (attack pass 8,
    N1: only a PATCH bounded the closure); one dated now stands."""
    url = "/v1/cases/by-external-ref/iyss/N1-UP"
    body = {"child": {"given_name": "Kai", "family_name": "Morgan", "date_of_birth": "2009-11-12"},
            "case_holder_id": "case_holder-1", "line_manager_id": "line_manager-1",
            "intervention": "court_order", "csc_status": "none", "opened_at": OPENED}
    feed = somerset.auth("feed", "iyss-connector", scope="cms")
    r = await somerset.client.put(url, json=body, headers=feed)
    assert r.status_code == 201, r.text
    case_id = r.json()["data"]["id"]
    r = await somerset.client.put(url, json={**body, "case_holder_id": "case_holder-2",
                                             "csc_status": "cin"}, headers=feed)
    assert r.status_code == 200, r.text
    r = await patch_case(somerset, case_id, {"closed_at": "2026-08-10T10:00:00+01:00",
                                             "closure_reason": "Order completed"})
    problem = assert_problem(r, 422)
    assert problem["type"].endswith("/occurred-before-bound")
    assert problem["bound"]["value"] > "2026-08-10T09:00:00Z"
    r = await patch_case(somerset, case_id, {
        "closed_at": datetime.now(UTC).isoformat(), "closure_reason": "Order completed"})
    assert r.status_code == 200, r.text


async def test_a_restriction_does_not_bound_a_closure_at_the_orders_end(
        somerset: Tenant) -> None:
    """Attack pass 13, A13-7: a case restricted today (who may see the record: not something
    that happened to the child) could no longer be closed as of the day its order ended, a
    week earlier (422 naming the restriction's time), so Somerset 12's "up to 20 days following
    the end of supervision" would have counted from the wrong day. The closure dated Thursday
    27 August 2026 stands after the restriction; a change of the case's fields still bounds a
    closure (above)."""
    case_id = (await somerset.open_case(opened_at=OPENED))["data"]["id"]
    await judge(somerset, case_id, "rosh", "low", "2026-08-10T11:00:00+01:00")
    r = await patch_case(somerset, case_id, {"access": {
        "excluded_staff": ["case_holder-9"]}})
    assert r.status_code == 200, r.text
    r = await patch_case(somerset, case_id, {"closed_at": "2026-08-27T10:00:00+01:00",
                                             "closure_reason": "Order completed"})
    assert r.status_code == 200, r.text
    assert r.json()["data"]["closed_at"] == "2026-08-27T09:00:00Z"
