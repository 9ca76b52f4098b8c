"""One rule a client can rely on across every route: times in answers are UTC with ``Z``, and a
problem's title is the RFC 9110 reason phrase of its status, with ``instance`` the request path.

Times are sent with a London offset (``+01:00``, British Summer Time) on purpose: the answer,
whether it echoes the request (POST) or reads it back (GET), must give the same instant in UTC.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx

from tests.conftest import Tenant

RFC3339_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d")
# RFC 9110 section 15, written out here rather than imported: the test pins the contract.
TITLES = {
    400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
    405: "Method Not Allowed", 409: "Conflict", 412: "Precondition Failed",
    413: "Content Too Large", 415: "Unsupported Media Type", 422: "Unprocessable Content",
    428: "Precondition Required",
}


def times_in(value: Any, path: str = "") -> list[tuple[str, str]]:
    """Every (json path, string) in ``value`` that is an RFC 3339 date-time."""
    if isinstance(value, dict):
        return [t for k, v in value.items() for t in times_in(v, f"{path}.{k}")]
    if isinstance(value, list):
        return [t for i, v in enumerate(value) for t in times_in(v, f"{path}[{i}]")]
    if isinstance(value, str) and RFC3339_TIME.match(value):
        return [(path, value)]
    return []


async def answered(response: httpx.Response, status: int, seen: list[tuple[str, Any]]) -> Any:
    """Assert the status, keep the body for the time check, return it."""
    assert response.status_code == status, response.text
    body = response.json()
    seen.append((f"{response.request.method} {response.request.url.path}", body))
    return body


async def test_every_time_in_answers_is_utc_with_z(
    client: httpx.AsyncClient, somerset: Tenant
) -> None:
    """Cases, judgements, panels, referrals (with their history), events, assessments, steps,
    the register and the audit trail: every time comes back as UTC with ``Z``."""
    holder, manager = somerset.auth("case_holder"), somerset.auth("line_manager")
    chair = somerset.auth("chair")
    seen: list[tuple[str, Any]] = []
    case = await somerset.open_case(opened_at="2026-08-04T09:30:00+01:00")
    assert case["data"]["opened_at"] == "2026-08-04T08:30:00Z"
    case_id = case["data"]["id"]
    seen.append(("POST /v1/cases", case))
    await answered(await client.post(f"/v1/cases/{case_id}/judgements", headers=holder, json={
        "domain": "rosh", "level": "high", "impact": "major", "likelihood": "likely",
        "occurred_at": "2026-08-28T15:30:00+01:00"}), 201, seen)
    panel = await answered(await client.post("/v1/panels", headers=chair, json={
        "kind": "marp", "scheduled_for": "2026-09-02T10:00:00+01:00", "chair_id": "chair-1"}),
        201, seen)
    assert panel["data"]["scheduled_for"] == "2026-09-02T09:00:00Z"
    referral = await answered(await client.post(
        f"/v1/cases/{case_id}/referrals", headers=holder,
        json={"kind": "panel", "occurred_at": "2026-08-28T16:00:00+01:00", "details": {
            "child_views": "Wants to keep going to school", "carer_views": "Worried"}}), 201, seen)
    await answered(await client.post(
        f"/v1/referrals/{referral['data']['id']}/submit", headers=holder,
        json={"occurred_at": "2026-08-28T16:05:00+01:00"}), 200, seen)
    await answered(await client.post(f"/v1/cases/{case_id}/events", headers=holder, json={
        "type": "new_incident", "occurred_at": "2026-08-28T15:20:00+01:00"}), 201, seen)
    assessment = await answered(await client.post(
        f"/v1/cases/{case_id}/assessments", headers=holder,
        json={"type": "asset_plus", "stage": "start", "occurred_at": "2026-08-28T15:00:00+01:00"}),
        201, seen)
    await answered(await client.post(
        f"/v1/assessments/{assessment['data']['id']}/submit", headers=holder,
        json={"occurred_at": "2026-08-28T17:00:00+01:00"}), 200, seen)
    for url, auth in [(f"/v1/cases/{case_id}", holder), (f"/v1/cases/{case_id}/judgements", holder),
                      (f"/v1/next-steps?case_id={case_id}", holder), ("/v1/register", manager),
                      (f"/v1/cases/{case_id}/audit", manager), ("/v1/panels", chair)]:
        await answered(await client.get(url, headers=auth), 200, seen)
    found = [(where, path, value) for where, body in seen for path, value in times_in(body)]
    assert len(found) > 50
    offenders = [f for f in found if not f[2].endswith("Z")]
    assert offenders == []


def assert_problem(response: httpx.Response, status: int, path: str) -> None:
    """One exact status, the status's RFC 9110 title, problem+json, ``instance`` = ``urn:uuid:``
    of the answer's request id (the occurrence), never the path (attack pass 9, N8)."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["title"] == TITLES[status]
    assert body["status"] == status
    assert body["instance"] == f"urn:uuid:{uuid.UUID(response.headers['x-request-id'])}"
    assert path not in body["instance"]
    assert body["type"].startswith("https://")
    assert body["detail"]


async def test_problems_have_one_title_per_status_and_an_instance(
    client: httpx.AsyncClient, somerset: Tenant
) -> None:
    """Every error path (guard middleware, validation, auth, domain refusals, policy rules,
    unknown routes) answers the same way."""
    holder, manager = somerset.auth("case_holder"), somerset.auth("line_manager")
    case_id = (await somerset.open_case())["data"]["id"]
    cases = "/v1/cases"
    judgements = f"/v1/cases/{case_id}/judgements"
    assert_problem(await client.post(cases, content=b"{", headers={
        **manager, "content-type": "application/json"}), 400, cases)
    assert_problem(await client.get(cases), 401, cases)
    assert_problem(await client.post("/v1/panels", headers=holder, json={
        "kind": "marp", "scheduled_for": "2026-09-02T10:00:00+01:00", "chair_id": "chair-1"}),
        403, "/v1/panels")
    unknown = "/v1/cases/00000000-0000-4000-8000-000000000000"
    assert_problem(await client.get(unknown, headers=holder), 404, unknown)
    assert_problem(await client.get("/v1/no-such-route", headers=holder), 404, "/v1/no-such-route")
    assert_problem(await client.delete(cases, headers=holder), 405, cases)
    assert_problem(await client.post(judgements, headers=holder, content=b"x" * 400_000,
                                      ), 413, judgements)
    assert_problem(await client.post(judgements, headers={**holder, "content-type": "text/plain"},
                                     content=b"level=high"), 415, judgements)
    assert_problem(await client.post(judgements, headers=holder, json={"domain": "rosh"}),
                   422, judgements)
    assert_problem(await client.post(judgements, headers=holder, json={
        "domain": "rosh", "level": "low", "impact": "critical", "likelihood": "likely"}),
        422, judgements)
    case_url = f"/v1/cases/{case_id}"
    assert_problem(await client.patch(case_url, headers=manager, json={"csc_status": "cin"}),
                   428, case_url)
    assert_problem(await client.patch(case_url, headers={**manager, "If-Match": '"999"'},
                                      json={"csc_status": "cin"}), 412, case_url)
    assessment = (await client.post(f"/v1/cases/{case_id}/assessments", headers=holder,
                                    json={"type": "asset_plus", "stage": "start"})).json()
    submit = f"/v1/assessments/{assessment['data']['id']}/submit"
    assert (await client.post(submit, headers=holder, json={})).status_code == 200
    twice = await client.post(submit, headers=holder, json={})
    assert_problem(twice, 409, submit)
    assert "submited" not in twice.json()["detail"]
    draft = (await client.post(f"/v1/cases/{case_id}/assessments", headers=holder,
                               json={"type": "asset_plus", "stage": "review"})).json()
    countersign = f"/v1/assessments/{draft['data']['id']}/countersign"
    early = await client.post(countersign, headers=manager, json={"feedback": "Good"})
    assert_problem(early, 409, countersign)
    assert early.json()["detail"] == "An assessment that is draft cannot be countersigned."
