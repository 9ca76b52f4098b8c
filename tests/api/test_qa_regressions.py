"""Regressions found by exploratory testing against the seeds' own situations."""

from __future__ import annotations

import httpx

from tests.api.integrity_support import refer_to_marp
from tests.api.test_panels import add_item, schedule, step_named
from tests.conftest import Tenant


async def test_preview_refuses_unknown_triggers_and_bad_subjects(
    client: httpx.AsyncClient, somerset: Tenant
) -> None:
    """422 problems, never a 500: an unknown trigger, a subject that is not a UUID."""
    case = (await somerset.open_case())["data"]
    auth = somerset.auth("case_holder")
    for body in ({"trigger": "bogus"}, {"trigger": "case_event", "data": {"subject_id": "nope"}},
                 {"trigger": "case_event", "data": {"subject_id": 123}},
                 {"trigger": "judgement_recorded", "data": {"level": "extreme"}}):
        r = await client.post("/v1/workflow/preview", json={"case_id": case["id"], **body},
                              headers=auth)
        assert r.status_code == 422, (body, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")


async def test_W8_a_panel_decision_does_not_ask_to_hold_the_panel_just_held(
    client: httpx.AsyncClient, wokingham: Tenant
) -> None:
    """High ROSH asks for a High-Risk Panel; the decision answers the request and the hold."""
    case = (await wokingham.open_case())["data"]
    r = await client.post(f"/v1/cases/{case['id']}/judgements",
                          json={"domain": "rosh", "level": "high", "victims": ["a peer"],
                                "impact": "major", "likelihood": "likely",
                                "occurred_at": "2026-10-05T10:00:00+01:00"},
                          headers=wokingham.auth("case_holder"))
    assert r.status_code == 201, r.text
    panel = await schedule(client, wokingham, "2026-10-09T10:00:00+01:00", "high_risk_panel")
    item = await add_item(client, wokingham, panel["id"], case["id"])
    r = await client.post(
        f"/v1/panels/{panel['id']}/items/{item['id']}/decision",
        json={"rosh_level": "high", "minutes": "m", "review_date": "2026-11-06",
              "actions": [{"description": "Review the plan", "owner_id": "case_holder-1",
                           "due_date": "2026-10-16"}],
              "occurred_at": "2026-10-09T11:00:00+01:00"},
        headers=wokingham.auth("chair", "chair-1"),
    )
    assert r.status_code == 200, r.text
    codes = {s["code"] for s in r.json()["next_steps"]}
    assert "request_high_risk_panel" not in codes
    assert "hold_high_risk_panel" not in codes
    assert step_named(r.json()["next_steps"], "attend_panel_review")["due_at"] == (
        "2026-11-06T23:59:59Z")


async def test_a_closed_case_is_off_the_register_and_takes_no_new_judgements(
    client: httpx.AsyncClient, somerset: Tenant
) -> None:
    """Closed: off the register, judgements 409; a charge within 20 days still counts (S23)."""
    case = (await somerset.open_case())["data"]
    auth = somerset.auth("line_manager")
    r = await client.post(f"/v1/cases/{case['id']}/judgements",
                          json={"domain": "rosh", "level": "high",
                                "occurred_at": "2026-06-01T10:00:00+01:00"}, headers=auth)
    assert r.status_code == 201, r.text
    # The MARP referral with the views (3.2.3, 6.2: not waivable) comes before the closure.
    await refer_to_marp(somerset, case["id"], "2026-06-01T11:00:00+01:00")
    etag = (await client.get(f"/v1/cases/{case['id']}", headers=auth)).headers["etag"]
    r = await client.patch(f"/v1/cases/{case['id']}",
                           json={"closed_at": "2026-06-30T16:00:00+01:00",
                                 "closure_reason": "Order ended"},
                           headers={**auth, "If-Match": etag})
    assert r.status_code == 200, r.text
    assert r.json()["data"]["on_register"] is False
    register = await client.get("/v1/register", headers=somerset.auth("chair"))
    assert case["id"] not in {c["id"] for c in register.json()["data"]}
    r = await client.post(f"/v1/cases/{case['id']}/judgements",
                          json={"domain": "swb", "level": "high",
                                "occurred_at": "2026-07-02T10:00:00+01:00"}, headers=auth)
    assert r.status_code == 409, r.text
    assert r.json()["type"].endswith("/case-closed")
    r = await client.post(f"/v1/cases/{case['id']}/events",
                          json={"type": "charged", "occurred_at": "2026-07-10T10:00:00+01:00"},
                          headers=auth)
    assert r.status_code == 201, r.text
    assert "inform_service_manager" in {s["code"] for s in r.json()["next_steps"]}
