"""Helpers for the management-oversight tests (timeliness, the case as it stood, calendars)."""

from __future__ import annotations

from typing import Any

from tests.conftest import Tenant

PROBLEM = "application/problem+json"


async def post_event(t: Tenant, case_id: str, holder: str = "case_holder-1",
                     **body: Any) -> dict[str, Any]:
    """Record an event as the case holder; answers the write's body."""
    r = await t.client.post(f"/v1/cases/{case_id}/events", json=body,
                            headers=t.auth("case_holder", holder))
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


async def open_steps(t: Tenant, case_id: str, status: str = "open") -> dict[str, dict[str, Any]]:
    """The case's steps with a status, by code, as a chair sees them."""
    r = await t.client.get("/v1/next-steps", params={"case_id": case_id, "status": status},
                           headers=t.auth("chair"))
    assert r.status_code == 200, r.text
    return {s["code"]: s for s in r.json()["data"]}


async def complete(t: Tenant, step: dict[str, Any], occurred_at: str,
                   role: str = "case_holder", sub: str | None = None) -> dict[str, Any]:
    """Complete a step, back-dated to ``occurred_at``."""
    r = await t.client.post(f"/v1/next-steps/{step['id']}/complete",
                            json={"occurred_at": occurred_at, "note": "done"},
                            headers=t.auth(role, sub))
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


async def waive(t: Tenant, step: dict[str, Any], manager: str, occurred_at: str) -> None:
    """A line manager waives a step with a reason."""
    r = await t.client.post(f"/v1/next-steps/{step['id']}/waive",
                            json={"reason": "Covered at the panel.", "occurred_at": occurred_at},
                            headers=t.auth("line_manager", manager))
    assert r.status_code == 200, r.text


async def close_case(t: Tenant, case_id: str, closed_at: str, manager: str) -> dict[str, Any]:
    """Close a case as its line manager (If-Match from a fresh read)."""
    headers = t.auth("line_manager", manager)
    read = await t.client.get(f"/v1/cases/{case_id}", headers=headers)
    assert read.status_code == 200, read.text
    r = await t.client.patch(f"/v1/cases/{case_id}",
                             json={"closed_at": closed_at, "closure_reason": "Order ended"},
                             headers={**headers, "If-Match": read.headers["ETag"]})
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


async def report(t: Tenant, role: str = "chair", sub: str | None = None,
                 **params: Any) -> Any:
    """GET the timeliness report."""
    return await t.client.get("/v1/reports/timeliness", params=params, headers=t.auth(role, sub))


async def case_at(t: Tenant, case_id: str, as_of: str | None, role: str = "line_manager",
                  sub: str | None = None, **params: Any) -> Any:
    """GET the case (as of an instant when given)."""
    query = {**({"as_of": as_of} if as_of else {}), **params}
    return await t.client.get(f"/v1/cases/{case_id}", params=query, headers=t.auth(role, sub))


async def judgement(t: Tenant, case_id: str, **body: Any) -> dict[str, Any]:
    """Record a judgement as the case holder; the judgement."""
    r = await t.client.post(f"/v1/cases/{case_id}/judgements", json=body,
                            headers=t.auth("case_holder"))
    assert r.status_code == 201, r.text
    return r.json()["data"]  # type: ignore[no-any-return]


async def patch_case(t: Tenant, case_id: str, body: dict[str, Any],
                     role: str = "line_manager") -> dict[str, Any]:
    """PATCH the case with a fresh ETag."""
    headers = t.auth(role)
    read = await t.client.get(f"/v1/cases/{case_id}", headers=headers)
    r = await t.client.patch(f"/v1/cases/{case_id}", json=body,
                             headers={**headers, "If-Match": read.headers["ETag"]})
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


async def march_service(t: Tenant) -> None:
    """Three cases whose March steps give known figures.

    Case A (team line_manager-1), incident Tue 10 March 11:00 GMT:
      W4 due Wed 11 March 23:59:59, done 20:00 that day: on time;
      W5 due "immediately" (10 March 11:00), so late only after the end of that working day
        (23:59:59); done Thu 12 March 11:00: late by 1 day 11:00:01 = 1.46 days;
      W6 due 31 March 10:00 UTC (11:00 BST), never done: open overdue (> 90 days);
      W13 (exploitation concern, 10 March) has no timescale.
    Case B (team line_manager-2), incident Mon 16 March 09:00 GMT:
      W4 due Tue 17 March 23:59:59, done Thu 19 March 11:59:59: late by 1.50 days;
      W5 waived by the line manager; W6 due 6 April: outside March.
    Case C (team line_manager-1, prevention), incident Mon 2 March 10:00, closed at 15:00 that
      day, before any of its steps was late (W4 due 3 March, W5's "immediately" late after the
      end of 2 March): its steps are superseded and left out. (Closed after a deadline, a step
      is missed and counted late: ATTACK34B-7, test_attack34b_missed_steps.)
    Cases opened on 5 January: their W1 steps (no timescale) fall in January, outside March.
    """
    a = (await t.open_case(opened_at="2026-01-05T10:00:00Z", csc_status="cin"))["data"]
    await post_event(t, a["id"], type="new_incident", occurred_at="2026-03-10T11:00:00Z")
    await post_event(t, a["id"], type="exploitation_concern", occurred_at="2026-03-10T12:00:00Z")
    steps = await open_steps(t, a["id"])
    assert steps["record_incident"]["due_at"] == "2026-03-11T23:59:59Z"
    assert steps["report_to_line_manager"]["due_at"] == "2026-03-10T11:00:00Z"
    assert steps["review_assessment"]["due_at"] == "2026-03-31T10:00:00Z"
    assert steps["discuss_with_social_worker"]["due_at"] is None
    await complete(t, steps["record_incident"], "2026-03-11T20:00:00Z")
    await complete(t, steps["report_to_line_manager"], "2026-03-12T11:00:00Z")

    b = (await t.open_case(opened_at="2026-01-05T10:00:00Z",
                           line_manager_id="line_manager-2"))["data"]
    await post_event(t, b["id"], type="new_incident", occurred_at="2026-03-16T09:00:00Z")
    steps = await open_steps(t, b["id"])
    assert steps["record_incident"]["due_at"] == "2026-03-17T23:59:59Z"
    assert steps["review_assessment"]["due_at"] == "2026-04-06T08:00:00Z"
    await complete(t, steps["record_incident"], "2026-03-19T11:59:59Z")
    await waive(t, steps["report_to_line_manager"], "line_manager-2", "2026-03-16T10:00:00Z")

    # A prevention case: it closes without the closure Asset+ a statutory Order needs (W3).
    c = (await t.open_case(opened_at="2026-01-05T10:00:00Z", intervention="prevention"))["data"]
    await post_event(t, c["id"], type="new_incident", occurred_at="2026-03-02T10:00:00Z")
    await close_case(t, c["id"], "2026-03-02T15:00:00Z", "line_manager-1")
    assert await open_steps(t, c["id"]) == {}
