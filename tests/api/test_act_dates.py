"""Acts dated before what they belong to are refused (422 naming the field and the bound).

Deadlines are counted from an act's ``occurred_at`` (a feed's ``received_at``), so an act dated
before the child was born, before the case opened, before the step it completes, the referral
it moves or the panel that decides would set deadlines from a time that cannot be true.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from tests.api.integrity_support import (
    assert_problem,
    complete,
    judge,
    patch_case,
    the_step,
)
from tests.conftest import Tenant

BEFORE_BIRTH = "2005-06-01T10:00:00Z"  # the test child was born on 1 May 2010
BEFORE_OPENING = "2026-01-15T10:00:00Z"  # the test case opened on 2 March 2026

Write = Callable[[Tenant, dict[str, Any], str], Awaitable[httpx.Response]]


def _post(path: str, body: dict[str, Any], role: str = "case_holder") -> Write:
    async def write(t: Tenant, case: dict[str, Any], at: str) -> httpx.Response:
        return await t.client.post(path.format(case=case["id"]), json={**body, "occurred_at": at},
                                   headers=t.auth(role))
    return write


async def _patch(t: Tenant, case: dict[str, Any], at: str) -> httpx.Response:
    return await patch_case(t, case["id"], {"csc_status": "cin", "occurred_at": at})


async def _close(t: Tenant, case: dict[str, Any], at: str) -> httpx.Response:
    return await patch_case(t, case["id"], {"closed_at": at, "closure_reason": "Order ended"})


async def _feed(t: Tenant, case: dict[str, Any], at: str) -> httpx.Response:
    return await t.client.post(
        "/v1/feeds/mappa/referrals",
        json={"case_external_ref": case["external_ref"], "kind": "mappa_h", "received_at": at,
              "details": {"mappa_category": 1}},
        headers={**t.auth("feed", "mappa-feed", scope="feed:mappa"),
                 "Idempotency-Key": f"mappa-{case['id']}-{at}"},
    )


WRITES: dict[str, tuple[Write, str]] = {
    "judgement": (_post("/v1/cases/{case}/judgements", {"domain": "lor", "level": "low"}),
                  "occurred_at"),
    "event": (_post("/v1/cases/{case}/events", {"type": "change_of_circumstances"}),
              "occurred_at"),
    "assessment": (_post("/v1/cases/{case}/assessments",
                         {"type": "asset_plus", "stage": "start"}), "occurred_at"),
    "referral": (_post("/v1/cases/{case}/referrals", {"kind": "nrm"}), "occurred_at"),
    "oversight": (_post("/v1/cases/{case}/oversight", {"note": "Reviewed"}, "line_manager"),
                  "occurred_at"),
    "case-change": (_patch, "occurred_at"),
    "case-closure": (_close, "closed_at"),
    "mappa-feed": (_feed, "received_at"),
}


@pytest.mark.parametrize("bound", ["birth", "opening"])
@pytest.mark.parametrize("write", sorted(WRITES))
async def test_acts_before_the_child_or_the_case_are_422(
    somerset: Tenant, write: str, bound: str
) -> None:
    """Every write that records something dated before the child's birth (2005 for a child
    born in 2010) or before the case opened is 422 naming the field and the bound; nothing is
    stored (the MAPPA feed sets no category)."""
    case = (await somerset.open_case(external_ref={"system": "IYSS", "id": f"{write}-{bound}"})
            )["data"]
    send, field = WRITES[write]
    at = BEFORE_BIRTH if bound == "birth" else BEFORE_OPENING
    problem = assert_problem(await send(somerset, case, at), 422)
    assert [e["loc"] for e in problem["errors"]] == [f"body.{field}"]
    name = "the child's date of birth" if bound == "birth" else "the case's opened_at"
    if write == "mappa-feed":  # a machine client is told the opening for both (A16-10b)
        name = "the case's opened_at"
    assert problem["bound"]["name"] == name
    assert name in problem["errors"][0]["msg"]
    stored = (await somerset.client.get(f"/v1/cases/{case['id']}",
                                        headers=somerset.auth("line_manager"))).json()["data"]
    assert stored["version"] == 1
    assert stored["mappa_category"] is None
    assert stored["closed_at"] is None


async def test_case_opened_before_the_child_was_born_is_422(somerset: Tenant) -> None:
    """A case cannot open before the child's birth (opened_at named)."""
    r = await somerset.client.post("/v1/cases", json={
        "child": {"given_name": "Sam", "family_name": "Taylor", "date_of_birth": "2010-05-01"},
        "case_holder_id": "case_holder-1", "line_manager_id": "line_manager-1",
        "intervention": "court_order", "csc_status": "none",
        "opened_at": "2010-04-30T22:59:59Z",  # 23:59:59 BST on 30 April: the day before
    }, headers=somerset.auth("line_manager"))
    problem = assert_problem(r, 422)
    assert problem["errors"][0]["loc"] == "body.opened_at"
    assert problem["bound"] == {"field": "opened_at", "name": "the child's date of birth",
                                "value": "2010-05-01"}


async def steps_from_june(t: Tenant) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A case with ROSH high recorded on 1 June 2026 (a back-filled act: its steps are
    raised on 1 June though written today)."""
    case = (await t.open_case())["data"]
    body = await judge(t, case["id"], "rosh", "high", "2026-06-01T10:00:00+01:00")
    return case, body["next_steps"]


async def test_step_completed_or_waived_before_it_arose_is_422(somerset: Tenant) -> None:
    """A step raised on 1 June cannot be completed or waived on 31 May; on 2 June it can, even
    though the step was written today (the bound is when it arose, not when it was stored)."""
    _, steps = await steps_from_june(somerset)
    discuss = the_step(steps, "discuss_with_manager")
    assert discuss["raised_at"] == "2026-06-01T09:00:00Z"
    early = assert_problem(await complete(somerset, discuss["id"], "line_manager",
                                          occurred_at="2026-05-31T10:00:00+01:00"), 422)
    assert early["errors"][0]["loc"] == "body.occurred_at"
    assert early["bound"]["name"] == "the step's raised_at"
    plan = the_step(steps, "countersign_risk_plan")
    r = await somerset.client.post(f"/v1/next-steps/{plan['id']}/waive",
                                   json={"reason": "x", "occurred_at": "2026-05-31T10:00:00Z"},
                                   headers=somerset.auth("duty_manager"))
    assert assert_problem(r, 422)["bound"]["name"] == "the step's raised_at"
    ok = await complete(somerset, discuss["id"], "line_manager",
                        occurred_at="2026-06-02T10:00:00+01:00")
    assert ok.status_code == 200, ok.text


async def test_referral_moved_before_it_was_made_is_422(wokingham: Tenant) -> None:
    """A referral made on 1 June cannot be submitted on 20 May, nor sent before it was
    submitted."""
    case = (await wokingham.open_case())["data"]
    r = await wokingham.client.post(f"/v1/cases/{case['id']}/referrals",
                                    json={"kind": "nrm", "occurred_at": "2026-06-01T10:00:00Z"},
                                    headers=wokingham.auth("case_holder"))
    url = f"/v1/referrals/{r.json()['data']['id']}"
    early = await wokingham.client.post(f"{url}/submit",
                                        json={"occurred_at": "2026-05-20T10:00:00Z"},
                                        headers=wokingham.auth("case_holder"))
    assert assert_problem(early, 422)["bound"]["name"] == "the referral's occurred_at"
    r = await wokingham.client.post(f"{url}/submit", json={"occurred_at": "2026-06-03T10:00:00Z"},
                                    headers=wokingham.auth("case_holder"))
    assert r.status_code == 200, r.text
    early = await wokingham.client.post(f"{url}/send",
                                        json={"occurred_at": "2026-06-02T10:00:00Z"},
                                        headers=wokingham.auth("case_holder"))
    assert assert_problem(early, 422)["bound"]["name"] == "the referral's last move (submit)"


async def test_assessment_countersigned_before_it_was_submitted_is_422(somerset: Tenant) -> None:
    """An assessment submitted on 10 June cannot be countersigned on 9 June."""
    case = (await somerset.open_case())["data"]
    r = await somerset.client.post(f"/v1/cases/{case['id']}/assessments", json={
        "type": "asset_plus", "stage": "start", "occurred_at": "2026-06-01T10:00:00Z"},
        headers=somerset.auth("case_holder"))
    url = f"/v1/assessments/{r.json()['data']['id']}"
    r = await somerset.client.post(f"{url}/submit", json={"occurred_at": "2026-06-10T10:00:00Z"},
                                   headers=somerset.auth("case_holder"))
    assert r.status_code == 200, r.text
    early = await somerset.client.post(f"{url}/countersign", json={
        "feedback": "Good", "occurred_at": "2026-06-09T10:00:00Z"},
        headers=somerset.auth("line_manager"))
    assert assert_problem(early, 422)["bound"]["name"] == "the assessment's last move (submit)"


async def test_panel_decision_before_the_panel_started_is_409(somerset: Tenant) -> None:
    """A decision dated before the panel's scheduled start is refused (409, issue 10: a decision
    is made at the panel), and nothing decided."""
    case, _ = await steps_from_june(somerset)
    r = await somerset.client.post("/v1/panels", json={
        "kind": "marp", "scheduled_for": "2026-06-10T10:00:00+01:00", "chair_id": "chair-1"},
        headers=somerset.auth("chair"))
    panel_id = r.json()["data"]["id"]
    r = await somerset.client.post(f"/v1/panels/{panel_id}/items", json={
        "case_id": case["id"], "presenter_id": "line_manager-1"}, headers=somerset.auth("chair"))
    item_id = r.json()["data"]["id"]
    r = await somerset.client.post(f"/v1/panels/{panel_id}/items/{item_id}/decision", json={
        "minutes": "Kept high", "review_date": "2026-07-10",
        "occurred_at": "2026-06-10T08:00:00+01:00"}, headers=somerset.auth("chair"))
    assert assert_problem(r, 409)["bound"]["name"] == "the panel's scheduled_for"
    panel = (await somerset.client.get(f"/v1/panels/{panel_id}", headers=somerset.auth("chair"))
             ).json()["data"]
    assert [i["decided_at"] for i in panel["items"]] == [None]


async def test_upsert_cannot_move_the_birth_after_the_opening(somerset: Tenant) -> None:
    """A case system's PUT that moves the child's date of birth after the case opened is 422
    naming child.date_of_birth and the bound; before the opening it is accepted."""
    body: dict[str, Any] = {
        "child": {"given_name": "Kai", "family_name": "Morgan", "date_of_birth": "2009-11-12"},
        "case_holder_id": "case_holder-1", "line_manager_id": "line_manager-1",
        "intervention": "court_order", "csc_status": "none", "opened_at": "2026-03-02T09:00:00Z",
    }
    url = "/v1/cases/by-external-ref/iyss/DOB-1"
    feed = somerset.auth("feed", "iyss-connector", scope="cms")
    assert (await somerset.client.put(url, json=body, headers=feed)).status_code == 201
    later = {**body, "child": {**body["child"], "date_of_birth": "2026-03-03"}}
    problem = assert_problem(await somerset.client.put(url, json=later, headers=feed), 422)
    assert problem["errors"][0]["loc"] == "body.child.date_of_birth"
    assert problem["bound"]["name"] == "the case's opened_at"
    earlier = {**body, "child": {**body["child"], "date_of_birth": "2009-11-13"}}
    assert (await somerset.client.put(url, json=earlier, headers=feed)).status_code == 200
