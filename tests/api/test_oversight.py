"""Management oversight, waiving steps, and recurring steps (S11, W19; S16 for duty managers)."""

from __future__ import annotations

from typing import Any

import httpx

from tests.api.integrity_support import assert_problem, held_high_risk_panel
from tests.api.test_assessments import case_steps, codes, the_step
from tests.api.test_events import event_steps, judge, patch, post_event
from tests.conftest import Tenant

SOMERSET = "somerset-yjt-2023"
WOKINGHAM = "wokingham-pyjs-2024"


async def oversight(t: Tenant, case_id: str, role: str = "line_manager", **body: Any) -> Any:
    """Post an oversight entry; answers the response."""
    return await t.client.post(f"/v1/cases/{case_id}/oversight", json=body, headers=t.auth(role))


async def incident(t: Tenant) -> tuple[dict[str, Any], dict[str, Any]]:
    """A statutory Wokingham case with an incident (W4, W5, W6 steps)."""
    case = (await t.open_case())["data"]
    body = await post_event(t, case["id"], type="new_incident", occurred_at="2026-08-28T14:00:00Z")
    return case, body


async def test_W6_oversight_entry_stands_for_the_review(
    client: httpx.AsyncClient, wokingham: Tenant
) -> None:
    """W6: a defensible management oversight entry closes review_assessment, linked to it."""
    case, body = await incident(wokingham)
    review = the_step(event_steps(body), "review_assessment")
    r = await oversight(wokingham, case["id"], satisfies_step_id=review["id"],
                        note="Incident is minor and already reflected in the plan; no review.",
                        occurred_at="2026-09-01T09:00:00Z")
    assert r.status_code == 201, r.text
    entry = r.json()["data"]
    assert entry["satisfies_step_id"] == review["id"]
    assert entry["author_id"] == "line_manager-1"
    assert entry["author_role"] == "line_manager"
    assert "review_assessment" not in codes(r.json()["next_steps"])
    done = the_step(await case_steps(wokingham, case["id"], "done"), "review_assessment")
    assert done["satisfied_by"] == {"type": "oversight", "id": entry["id"]}
    assert done["completed_by"] == "line_manager-1"
    assert done["policy"] == {"pack": WOKINGHAM, "version": "1.0",
                              "ref": "Assessment Reviews", "rule": "W6"}
    audit = await client.get(f"/v1/cases/{case['id']}/audit", params={"limit": 200},
                             headers=wokingham.auth("line_manager"))
    recorded = [e for e in audit.json()["data"] if e["action"] == "oversight.record"]
    assert recorded[0]["role"] == "line_manager"
    assert recorded[0]["reason"].startswith("Incident is minor")
    listed = await client.get(f"/v1/cases/{case['id']}/oversight",
                              headers=wokingham.auth("case_holder"))
    assert [e["id"] for e in listed.json()["data"]] == [entry["id"]]


async def test_oversight_cannot_stand_for_other_steps(wokingham: Tenant) -> None:
    """Recording the incident (W4) is not something an oversight entry can replace: 422."""
    case, body = await incident(wokingham)
    record = the_step(event_steps(body), "record_incident")
    problem = assert_problem(await oversight(wokingham, case["id"], note="Seen.",
                                             satisfies_step_id=record["id"]), 422)
    assert problem["type"].endswith("not-satisfiable-by-oversight")
    other, _ = await incident(wokingham)
    assert_problem(await oversight(wokingham, other["id"], note="Seen.",
                                   satisfies_step_id=record["id"]), 422)


async def test_oversight_is_for_managers_only(wokingham: Tenant) -> None:
    """Case holders and chairs may not record management oversight; notes are required."""
    case, _ = await incident(wokingham)
    assert_problem(await oversight(wokingham, case["id"], role="case_holder", note="x"), 403)
    assert_problem(await oversight(wokingham, case["id"], role="chair", note="x"), 403)
    assert_problem(await oversight(wokingham, case["id"], note=" "), 422)
    plain = await oversight(wokingham, case["id"], role="duty_manager", note="Discussed in cover.")
    assert plain.status_code == 201, plain.text
    assert plain.json()["data"]["satisfies_step_id"] is None


async def test_manager_waives_a_step_with_a_reason(
    client: httpx.AsyncClient, wokingham: Tenant
) -> None:
    """Waived with a reason (kept in the audit); without one 422; a case holder 403."""
    case, body = await incident(wokingham)
    step = the_step(event_steps(body), "record_incident")
    url = f"/v1/next-steps/{step['id']}/waive"
    assert_problem(await client.post(url, json={}, headers=wokingham.auth("line_manager")), 422)
    assert_problem(await client.post(url, json={"reason": "Duplicate of IYSS entry."},
                                     headers=wokingham.auth("case_holder")), 403)
    r = await client.post(url, json={"reason": "Duplicate of IYSS entry 4411."},
                          headers=wokingham.auth("line_manager"))
    assert r.status_code == 200, r.text
    assert r.json()["data"]["status"] == "waived"
    assert "record_incident" not in codes(r.json()["next_steps"])
    again = await client.post(url, json={"reason": "again"}, headers=wokingham.auth("line_manager"))
    assert_problem(again, 409)
    audit = await client.get(f"/v1/cases/{case['id']}/audit", params={"limit": 200},
                             headers=wokingham.auth("line_manager"))
    waived = [e for e in audit.json()["data"] if e["action"] == "step.waived"]
    assert waived[0]["reason"] == "Waived: Duplicate of IYSS entry 4411."
    assert waived[0]["role"] == "line_manager"


async def test_S11_monthly_manager_review_recurs_when_completed(somerset: Tenant) -> None:
    """S11: satisfied by oversight or completed, each review creates the next, monthly."""
    case = (await somerset.open_case())["data"]
    await judge(somerset, case["id"], "rosh", "high", "2026-04-15T10:00:00Z")
    first = the_step(await case_steps(somerset, case["id"]), "monthly_manager_review")
    assert first["actor"] == "line_manager"
    assert first["assignee_id"] == "line_manager-1"
    assert first["due_at"] == "2026-05-15T10:00:00Z"
    assert first["urgent"] is False
    assert first["policy"] == {"pack": SOMERSET, "version": "1", "ref": "4.5", "rule": "S11"}
    r = await oversight(somerset, case["id"], satisfies_step_id=first["id"],
                        note="Reviewed with the case holder in supervision.",
                        occurred_at="2026-05-14T15:00:00Z")
    assert r.status_code == 201, r.text
    second = the_step(r.json()["next_steps"], "monthly_manager_review")
    assert second["id"] != first["id"]
    assert second["due_at"] == "2026-06-14T15:00:00Z"  # a month after the oversight entry
    assert second["assignee_id"] == "line_manager-1"
    assert second["policy"] == {"pack": SOMERSET, "version": "1", "ref": "4.5", "rule": "S11"}
    done = await somerset.client.post(f"/v1/next-steps/{second['id']}/complete",
                                      json={"occurred_at": "2026-06-20T09:00:00Z"},
                                      headers=somerset.auth("line_manager"))
    assert done.status_code == 200, done.text
    third = the_step(done.json()["next_steps"], "monthly_manager_review")
    assert third["due_at"] == "2026-07-20T09:00:00Z"  # late: a month after the late review


async def test_S16_duty_manager_monthly_review_advises_line_manager(somerset: Tenant) -> None:
    """S16: a duty manager's oversight on the line manager's monthly review."""
    case = (await somerset.open_case())["data"]
    await judge(somerset, case["id"], "rosh", "high", "2026-04-15T10:00:00Z")
    review = the_step(await case_steps(somerset, case["id"]), "monthly_manager_review")
    r = await oversight(somerset, case["id"], role="duty_manager", satisfies_step_id=review["id"],
                        note="Covered supervision: plan remains adequate.",
                        occurred_at="2026-05-14T15:00:00Z")
    assert r.status_code == 201, r.text
    advise = the_step(r.json()["next_steps"], "advise_line_manager")
    assert advise["actor"] == "duty_manager"
    assert advise["assignee_id"] == "duty_manager-1"  # the duty manager who acted
    assert advise["due_at"] is None
    assert advise["urgent"] is False
    assert advise["policy"] == {"pack": SOMERSET, "version": "1", "ref": "2.2, 3.1", "rule": "S16"}


async def test_W19_monthly_panel_review_recurs_and_stops(
    client: httpx.AsyncClient, wokingham: Tenant
) -> None:
    """W19: MAPPA level 1: monthly High-Risk Panel reviews until the level changes."""
    case = (await wokingham.open_case())["data"]
    body = await patch(wokingham, case["id"], {"mappa_category": 1, "mappa_level": 1,
                                               "occurred_at": "2026-05-05T10:00:00Z"})
    first = the_step(body["next_steps"], "high_risk_panel_review")
    assert first["actor"] == "chair"
    assert first["assignee_id"] is None
    assert first["due_at"] == "2026-06-05T10:00:00Z"
    assert first["urgent"] is False
    assert first["policy"] == {"pack": WOKINGHAM, "version": "1.0",
                               "ref": "Referrals into MAPPA", "rule": "W19"}
    held = await held_high_risk_panel(wokingham, case["id"], "2026-06-04T16:00:00Z")
    second = the_step(held["next_steps"], "high_risk_panel_review")
    assert second["id"] != first["id"]
    assert second["due_at"] == "2026-07-04T16:00:00Z"  # a month after the panel review
    body = await patch(wokingham, case["id"], {"mappa_level": 2,
                                               "occurred_at": "2026-06-10T10:00:00Z"})
    assert "high_risk_panel_review" not in codes(body["next_steps"])
    superseded = the_step(await case_steps(wokingham, case["id"], "superseded"),
                          "high_risk_panel_review")
    assert superseded["id"] == second["id"]


async def test_S11_waiving_one_monthly_review_keeps_the_next_coming(somerset: Tenant) -> None:
    """Every 1m "for as long as the condition holds": a waived occurrence still recurs, due
    when the waived one was. (A duty manager waives it: the line manager may not waive the
    review they owe.)"""
    case = (await somerset.open_case())["data"]
    await judge(somerset, case["id"], "rosh", "high", "2026-04-15T10:00:00Z")
    first = the_step(await case_steps(somerset, case["id"]), "monthly_manager_review")
    r = await somerset.client.post(f"/v1/next-steps/{first['id']}/waive",
                                   json={"reason": "Discussed at the MARP this month instead",
                                         "occurred_at": "2026-05-10T10:00:00Z"},
                                   headers=somerset.auth("duty_manager"))
    assert r.status_code == 200, r.text
    assert r.json()["data"]["status"] == "waived"
    following = the_step(r.json()["next_steps"], "monthly_manager_review")
    # A waiver is not a review (4.5 "at least monthly"): still due when the waived one was.
    assert following["due_at"] == "2026-05-15T10:00:00Z"
