"""Issue 9 part 4: who may call each route is declared on the route, from one role table, and
answered before the body is validated; object-level access to panels, panel referrals and new
cases, tested from the attacker's side. Every assertion pins one status."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest

from app.core.security import mint_dev_token
from tests.api.support import concrete_path
from tests.conftest import Tenant

ROLES = ("case_holder", "line_manager", "duty_manager", "chair", "panel_admin", "admin", "feed")
STAFF = ("case_holder", "line_manager", "duty_manager", "chair", "panel_admin")
CASE_FILE = ("case_holder", "line_manager", "duty_manager", "chair")
HOLDER_AND_MANAGERS = ("case_holder", "line_manager", "duty_manager")
MANAGERS = ("line_manager", "duty_manager")
REFERRAL_MAKERS = (*HOLDER_AND_MANAGERS, "chair")

# (method, path) → (roles that pass the gate, their status with unknown ids and a body of {}; or
# each such role's status where the object-level rule tells them apart). Every other role gets
# 403 before anything else happens. Written out here, independently of
# app.domain.access.ROLE_TABLE, from api-v1.md's "who" column.
MATRIX: dict[tuple[str, str], tuple[tuple[str, ...], int | dict[str, int]]] = {
    ("POST", "/v1/services"): (("admin",), 422),
    ("GET", "/v1/services/{slug}"): (("admin", *STAFF), 200),
    ("GET", "/v1/services/{slug}/webhooks"): (("admin",), 200),
    ("POST", "/v1/services/{slug}/webhooks"): (("admin",), 422),
    ("DELETE", "/v1/services/{slug}/webhooks/{webhook_id}"): (("admin",), 404),
    ("GET", "/v1/services/{slug}/webhooks/{webhook_id}/deliveries"): (("admin",), 404),
    ("GET", "/v1/cases"): (STAFF, 200),
    ("POST", "/v1/cases"): ((*HOLDER_AND_MANAGERS, "feed"), 422),
    ("GET", "/v1/cases/{case_id}"): (CASE_FILE, 404),
    ("PATCH", "/v1/cases/{case_id}"): (CASE_FILE, 404),
    ("GET", "/v1/cases/{case_id}/audit"): ((*MANAGERS, "chair"), 404),
    # Somerset 3.2.4 "a manager ... will act to raise the priority" (A20-16).
    ("POST", "/v1/cases/{case_id}/priority"): ((*MANAGERS, "chair"), 422),
    ("GET", "/v1/audit/verify"): (("chair", "admin"), 200),
    ("PUT", "/v1/cases/by-external-ref/{system}/{external_id}"):
        ((*HOLDER_AND_MANAGERS, "feed"), 422),
    ("GET", "/v1/cases/{case_id}/access-log"): ((*MANAGERS, "chair"), 404),
    ("GET", "/v1/cases/{case_id}/subject-access-export"): ((*MANAGERS, "chair"), 404),
    ("GET", "/v1/cases/{case_id}/judgements"): (CASE_FILE, 404),
    ("POST", "/v1/cases/{case_id}/judgements"): (HOLDER_AND_MANAGERS, 422),
    ("GET", "/v1/cases/{case_id}/assessments"): (CASE_FILE, 404),
    ("POST", "/v1/cases/{case_id}/assessments"): (("case_holder",), 422),
    ("GET", "/v1/assessments/{assessment_id}"): (CASE_FILE, 404),
    ("POST", "/v1/assessments/{assessment_id}/submit"): (("case_holder",), 404),
    ("POST", "/v1/assessments/{assessment_id}/countersign"): (MANAGERS, 422),
    ("POST", "/v1/assessments/{assessment_id}/return"): (MANAGERS, 422),
    ("GET", "/v1/cases/{case_id}/events"): (CASE_FILE, 404),
    ("POST", "/v1/cases/{case_id}/events"): ((*HOLDER_AND_MANAGERS, "feed"), 422),
    ("GET", "/v1/cases/{case_id}/oversight"): (CASE_FILE, 404),
    ("POST", "/v1/cases/{case_id}/oversight"): (MANAGERS, 422),
    ("POST", "/v1/next-steps/{step_id}/waive"): (MANAGERS, 422),
    ("GET", "/v1/next-steps"): (STAFF, 200),
    ("POST", "/v1/next-steps/{step_id}/complete"): (STAFF, 404),
    ("GET", "/v1/cases/{case_id}/referrals"): (STAFF, 404),
    # A chair makes the kinds the pack names them for (Somerset 12's CSPPI notification,
    # ATTACK34B-8), so passes the gate; the kind is checked on the case (test_attack34b_chair_acts).
    ("POST", "/v1/cases/{case_id}/referrals"): (REFERRAL_MAKERS, 422),
    ("GET", "/v1/referrals/transitions"): ((*STAFF, "feed"), 200),
    ("GET", "/v1/referrals/{referral_id}"): (STAFF, 404),
    ("POST", "/v1/feeds/{source}/referrals"): (("feed",), 422),
    ("GET", "/v1/panels"): (("chair", "panel_admin", *MANAGERS), 200),
    ("POST", "/v1/panels"): (("chair", "panel_admin"), 422),
    ("GET", "/v1/panels/{panel_id}"): (("chair", "panel_admin", *MANAGERS), 404),
    ("POST", "/v1/panels/{panel_id}/items"): (("chair", "panel_admin"), 422),
    ("POST", "/v1/panels/{panel_id}/reschedule"): (("chair", "panel_admin"), 422),
    ("DELETE", "/v1/panels/{panel_id}"): (("chair", "panel_admin"), 404),
    ("POST", "/v1/panels/{panel_id}/items/{item_id}/decision"): (("chair",), 422),
    ("POST", "/v1/panels/{panel_id}/items/{item_id}/withdraw"): (("chair", "panel_admin"), 422),
    ("GET", "/v1/register"): (("chair", "panel_admin", *MANAGERS), 200),
    ("GET", "/v1/policy-packs"): (ROLES, 200),
    ("GET", "/v1/policy-packs/{pack_id}"): (ROLES, 200),
    ("POST", "/v1/workflow/preview"): ((*HOLDER_AND_MANAGERS, "chair"), 422),
    ("GET", "/v1/cases/{case_id}/timeline"): (CASE_FILE, 404),
    ("GET", "/v1/next-steps/{step_id}"): (STAFF, 404),
    ("GET", "/v1/reports/timeliness"): (("line_manager", "duty_manager", "chair"), 422),
    ("GET", "/v1/me/calendar-feeds"): (STAFF, 200),
    ("POST", "/v1/me/calendar-feeds"): (STAFF, 201),
    ("DELETE", "/v1/me/calendar-feeds/{feed_id}"): (STAFF, 404),
    # A person's feeds by staff id, in the service (a leaver's: A26a-8).
    ("GET", "/v1/services/{slug}/staff/{staff_id}/calendar-feeds"):
        (("admin", "duty_manager"), 200),
    ("DELETE", "/v1/services/{slug}/staff/{staff_id}/calendar-feeds"):
        (("admin", "duty_manager"), 200),
    # A line manager sees the absences of staff they manage and their own, not an unknown id's.
    ("GET", "/v1/staff/{staff_id}/absences"):
        (MANAGERS, {"line_manager": 403, "duty_manager": 200}),
    ("GET", "/v1/staff/{staff_id}/absences/{absence_id}"):
        (MANAGERS, {"line_manager": 403, "duty_manager": 404}),
    # Whose absences a line manager records depends on the token and the path alone: asked
    # before the body is read (ATK28A-3), as for GET and DELETE.
    ("POST", "/v1/staff/{staff_id}/absences"):
        (MANAGERS, {"line_manager": 403, "duty_manager": 422}),
    # Asked before the absence is looked up: a real absence of a worker not the caller's is
    # answered as an unknown id (A26a-10's kind).
    ("PATCH", "/v1/staff/{staff_id}/absences/{absence_id}"):
        (MANAGERS, {"line_manager": 403, "duty_manager": 404}),
    ("DELETE", "/v1/staff/{staff_id}/absences/{absence_id}"):
        (MANAGERS, {"line_manager": 403, "duty_manager": 404}),
}
REFERRAL_ACTIONS = {
    "submit": REFERRAL_MAKERS, "quality-assure": MANAGERS, "send": REFERRAL_MAKERS,
    "accept": (*MANAGERS, "chair", "panel_admin"), "decline": (*MANAGERS, "chair", "panel_admin"),
    "withdraw": REFERRAL_MAKERS,
}


def _auth(tenant: Tenant, role: str, sub: str | None = None) -> dict[str, str]:
    # A feed token here carries every machine scope: this matrix is about roles; which scope
    # may call what is tests/api/test_feed_scopes.py's.
    token = mint_dev_token(tenant.settings, sub=sub or f"{role}-1", roles=[role],
                           service=None if role == "admin" else tenant.slug,
                           scope="cms feed:emrac feed:mappa" if role == "feed" else None)
    return {"Authorization": f"Bearer {token}"}


def _refused(role: str, method: str, path: str) -> bool:
    """Whether the route answers ``role`` 403 before anything else: outside its row, or, for a
    role in it, by an authority the token and the path decide (the row says 403 for it)."""
    allowed, status = MATRIX[(method, path)]
    return role not in allowed or (not isinstance(status, int) and status[role] == 403)


def _concrete(path: str, tenant: Tenant) -> str:
    return concrete_path(path, {"slug": tenant.slug, "source": "emrac",
                                "pack_id": "somerset-yjt-2023"})


async def test_every_v1_route_is_in_the_role_matrix(client: httpx.AsyncClient) -> None:
    """No route escapes this test (a new route must be added here with its roles)."""
    r = await client.get("/openapi.json")
    operations = {(m.upper(), p) for p, ops in r.json()["paths"].items() if p.startswith("/v1")
                  for m in ops}
    operations.discard(("POST", "/v1/referrals/{referral_id}/{action}"))
    operations.discard(("GET", "/v1/calendar/{token}.ics"))  # the URL's token is the credential
    assert operations == set(MATRIX), "add the new route here, and a gate(...) on it"


@pytest.mark.parametrize(("method", "path"), sorted(MATRIX))
async def test_route_answers_each_role_exactly(
    client: httpx.AsyncClient, somerset: Tenant, method: str, path: str
) -> None:
    """Roles outside the route's row: 403 problem even with an empty body ({}); the roles in
    it reach validation or the lookup (422 for {}, 404 for unknown ids, 200 for lists)."""
    allowed, status = MATRIX[(method, path)]
    url = _concrete(path, somerset)
    body: dict[str, Any] = {"json": {}} if method in {"POST", "PATCH", "PUT"} else {}
    for role in ROLES:
        r = await client.request(method, url, headers=_auth(somerset, role), **body)
        expected = ((status if isinstance(status, int) else status[role]) if role in allowed
                    else 403)
        assert r.status_code == expected, (role, r.text)
        assert r.headers["content-type"].startswith(
            "application/json" if expected in (200, 201) else "application/problem+json")


def _bound_admin(tenant: Tenant, service: str) -> dict[str, str]:
    token = mint_dev_token(tenant.settings, sub="admin-9", roles=["admin"], service=service)
    return {"Authorization": f"Bearer {token}"}


async def test_a_bound_admin_is_refused_before_the_body(
    client: httpx.AsyncClient, somerset: Tenant, wokingham: Tenant
) -> None:
    """ATK28A-3's twins decided by the token and the path alone: an admin token bound to a
    service creates no service (403, A26a-13) and manages no other service's webhooks (404,
    as for its GET): the same answer for a malformed body, an oversized one and a valid one.
    The admin of the path's own service still reaches validation (422 for ``{}``)."""
    bound = _bound_admin(somerset, somerset.slug)
    refused = {("POST", "/v1/services"): 403,
               ("POST", f"/v1/services/{wokingham.slug}/webhooks"): 404}
    valid = {"/v1/services": {"slug": "never-made", "name": "n", "policy_pack": "example-yjs"},
             f"/v1/services/{wokingham.slug}/webhooks": {
                 "url": "https://hooks.example.org/x", "event_types": ["*"]}}
    for (method, url), status in refused.items():
        for content in (*BAD_BODIES, b" " * 300_000, json.dumps(valid[url]).encode()):
            r = await client.request(method, url, content=content, headers={
                **bound, "content-type": "application/json"})
            assert r.status_code == status, (url, r.text)
    r = await client.post(f"/v1/services/{somerset.slug}/webhooks", json={}, headers=bound)
    assert r.status_code == 422, r.text


@pytest.mark.parametrize("action", sorted(REFERRAL_ACTIONS))
async def test_referral_action_answers_each_role_exactly(
    client: httpx.AsyncClient, somerset: Tenant, action: str
) -> None:
    """Each lifecycle action's roles come from the same table (404 for an unknown referral)."""
    url = f"/v1/referrals/{uuid.uuid4()}/{action}"
    for role in ROLES:
        r = await client.post(url, json={}, headers=_auth(somerset, role))
        assert r.status_code == (404 if role in REFERRAL_ACTIONS[action] else 403), role


async def _register_case(client: httpx.AsyncClient, tenant: Tenant, **kw: Any) -> dict[str, Any]:
    case = (await tenant.open_case(**kw))["data"]
    r = await client.post(f"/v1/cases/{case['id']}/judgements",
                          json={"domain": "rosh", "level": "high",
                                "occurred_at": "2026-06-01T10:00:00+01:00"},
                          headers=tenant.auth("case_holder", case["case_holder_id"]))
    assert r.status_code == 201, r.text
    return case  # type: ignore[no-any-return]


async def test_panel_admin_posting_empty_judgement_is_403_not_422(
    client: httpx.AsyncClient, somerset: Tenant
) -> None:
    """The attack from the issue: on a case the panel administrator handles (on the register),
    ``{}`` to judgements is 403 before validation; so is a well-formed judgement."""
    case = await _register_case(client, somerset)
    url = f"/v1/cases/{case['id']}/judgements"
    for body in ({}, {"domain": "rosh", "level": "low"}, {"x": "\u0000"}):
        r = await client.post(url, json=body, headers=somerset.auth("panel_admin"))
        assert r.status_code == 403, r.text


async def test_panel_admin_reads_panel_summary_not_case_file(
    client: httpx.AsyncClient, somerset: Tenant
) -> None:
    """Panel administrator: the register and the panel agenda, never the case file (the case,
    its judgements, assessments, events, oversight, audit)."""
    case = await _register_case(client, somerset)
    admin = somerset.auth("panel_admin")
    r = await client.get("/v1/register", headers=admin)
    assert r.status_code == 200
    assert case["id"] in {c["id"] for c in r.json()["data"]}
    for suffix in ("", "/judgements", "/assessments", "/events", "/oversight", "/audit"):
        r = await client.get(f"/v1/cases/{case['id']}{suffix}", headers=admin)
        assert r.status_code == 403, suffix
    r = await client.get("/v1/cases", headers=admin)
    assert r.status_code == 200
    assert r.json()["data"] == []


async def _schedule(client: httpx.AsyncClient, tenant: Tenant) -> dict[str, Any]:
    r = await client.post("/v1/panels", json={"kind": "marp", "chair_id": "chair-1",
                                              "scheduled_for": "2026-11-02T10:00:00Z"},
                          headers=tenant.auth("panel_admin"))
    assert r.status_code == 201, r.text
    return r.json()["data"]  # type: ignore[no-any-return]


async def _referral(client: httpx.AsyncClient, tenant: Tenant, case: dict[str, Any], kind: str,
                    *actions: str) -> dict[str, Any]:
    holder = tenant.auth("case_holder", case["case_holder_id"])
    details = {"child_views": "heard", "carer_views": "heard"} if kind == "panel" else {}
    r = await client.post(f"/v1/cases/{case['id']}/referrals",
                          json={"kind": kind, "details": details}, headers=holder)
    assert r.status_code == 201, r.text
    referral = r.json()["data"]
    for action in actions:
        r = await client.post(f"/v1/referrals/{referral['id']}/{action}", json={},
                              headers=holder)
        assert r.status_code == 200, (action, r.text)
        referral = r.json()["data"]
    return referral  # type: ignore[no-any-return]


async def _add(client: httpx.AsyncClient, tenant: Tenant, panel: dict[str, Any], case_id: str,
               referral_id: str | None = None) -> httpx.Response:
    body = {"case_id": case_id, "presenter_id": "case_holder-1", "referral_id": referral_id}
    return await client.post(f"/v1/panels/{panel['id']}/items", json=body,
                             headers=tenant.auth("panel_admin"))


async def test_case_goes_onto_a_panel_only_when_referred_or_on_register(
    client: httpx.AsyncClient, somerset: Tenant
) -> None:
    """Somerset 3.2.3: referrals to MARP are submitted to the panel administrator; a case the
    panel was never asked about (no live panel referral, not on the register) is 422, and so
    is naming another kind of referral or a withdrawn one."""
    panel = await _schedule(client, somerset)
    plain = (await somerset.open_case())["data"]
    r = await _add(client, somerset, panel, plain["id"])
    assert r.status_code == 422
    assert r.json()["type"].endswith("/not-referred")
    draft = await _referral(client, somerset, plain, "panel")
    assert (await _add(client, somerset, panel, plain["id"], draft["id"])).status_code == 422
    cp = await _referral(client, somerset, plain, "child_protection", "submit", "send")
    assert (await _add(client, somerset, panel, plain["id"], cp["id"])).status_code == 422
    withdrawn = await _referral(client, somerset, plain, "panel", "submit", "withdraw")
    assert (await _add(client, somerset, panel, plain["id"],
                       withdrawn["id"])).status_code == 422
    made = await _referral(client, somerset, plain, "panel", "submit")
    assert (await _add(client, somerset, panel, plain["id"], made["id"])).status_code == 201
    registered = await _register_case(client, somerset)
    assert (await _add(client, somerset, panel, registered["id"])).status_code == 201


async def test_panel_admin_records_outcomes_of_panel_referrals_only(
    client: httpx.AsyncClient, somerset: Tenant
) -> None:
    """A child protection referral's outcome is not the panel administrator's to record (not
    even on a register case the panel handles); a panel referral's is."""
    case = await _register_case(client, somerset)
    admin = somerset.auth("panel_admin")
    cp = await _referral(client, somerset, case, "child_protection", "submit", "send")
    for action in ("accept", "decline"):
        r = await client.post(f"/v1/referrals/{cp['id']}/{action}", json={}, headers=admin)
        assert r.status_code == 404, r.text
    r = await client.get(f"/v1/referrals/{cp['id']}", headers=admin)
    assert r.status_code == 404
    dual = {"Authorization": "Bearer " + mint_dev_token(
        somerset.settings, sub="pa-2", roles=["case_holder", "panel_admin"],
        service=somerset.slug)}
    r = await client.post(f"/v1/referrals/{cp['id']}/accept", json={}, headers=dual)
    assert r.status_code == 404
    panel_ref = await _referral(client, somerset, case, "panel", "submit", "send")
    r = await client.get(f"/v1/referrals/{panel_ref['id']}", headers=admin)
    assert r.status_code == 200
    r = await client.post(f"/v1/referrals/{panel_ref['id']}/accept", json={}, headers=admin)
    assert r.status_code == 200, r.text
    assert r.json()["data"]["status"] == "accepted"
    r = await client.get(f"/v1/referrals/{cp['id']}", headers=somerset.auth("chair"))
    assert r.json()["data"]["status"] == "sent"


async def test_panel_admin_on_own_case_still_cannot_decide_other_referrals(
    client: httpx.AsyncClient, somerset: Tenant
) -> None:
    """A token holding case_holder and panel_admin, on a case it holds: accepting its child
    protection referral is 403 (the only role that could accept is panel_admin)."""
    case = await _register_case(client, somerset, case_holder_id="pa-holder")
    cp = await _referral(client, somerset, case, "child_protection", "submit", "send")
    dual = {"Authorization": "Bearer " + mint_dev_token(
        somerset.settings, sub="pa-holder", roles=["case_holder", "panel_admin"],
        service=somerset.slug)}
    r = await client.post(f"/v1/referrals/{cp['id']}/accept", json={}, headers=dual)
    assert r.status_code == 403, r.text


async def test_panel_items_hide_other_teams_cases_and_minutes(
    client: httpx.AsyncClient, somerset: Tenant
) -> None:
    """A line manager of another team sees the agenda item but not its case id, referral or
    minutes; the case's own manager, chairs and panel administrators see all."""
    case = await _register_case(client, somerset)
    panel = await _schedule(client, somerset)
    item = (await _add(client, somerset, panel, case["id"])).json()["data"]
    r = await client.post(f"/v1/panels/{panel['id']}/items/{item['id']}/decision",
                          json={"minutes": "Confidential minutes", "rosh_level": "high",
                                "review_date": "2026-12-01",
                                "occurred_at": "2026-11-02T11:00:00Z"},
                          headers=somerset.auth("chair", "chair-9"))
    assert r.status_code == 200, r.text
    other = somerset.auth("line_manager", "line_manager-2")
    for url in (f"/v1/panels/{panel['id']}", "/v1/panels?upcoming=false"):
        r = await client.get(url, headers=other)
        assert r.status_code == 200
        text = r.text
        assert case["id"] not in text
        assert "Confidential minutes" not in text
    seen = (await client.get(f"/v1/panels/{panel['id']}", headers=other)).json()["data"]
    assert seen["items"][0]["case_visible"] is False
    assert seen["items"][0]["decision"] is None
    for headers in (somerset.auth("line_manager"), somerset.auth("chair"),
                    somerset.auth("panel_admin"), somerset.auth("duty_manager")):
        got = (await client.get(f"/v1/panels/{panel['id']}", headers=headers)).json()["data"]
        assert got["items"][0]["case_id"] == case["id"]
        assert got["items"][0]["decision"]["minutes"] == "Confidential minutes"


@pytest.mark.parametrize(("role", "sub", "holder", "manager", "status"), [
    ("case_holder", "cw-1", "cw-1", "lm-9", 201),
    ("case_holder", "cw-1", "cw-2", "lm-9", 403),
    ("line_manager", "lm-1", "cw-2", "lm-1", 201),
    ("line_manager", "lm-1", "cw-2", "lm-2", 403),
    ("duty_manager", "dm-1", "cw-2", "lm-2", 201),
    ("feed", "feed-iyss", "cw-2", "lm-2", 201),
])
async def test_who_may_open_a_case_for_whom(
    client: httpx.AsyncClient, somerset: Tenant, role: str, sub: str, holder: str,
    manager: str, status: int,
) -> None:
    """A case holder opens only cases they hold (else the creator could not even read what
    they made); a line manager for their team; duty managers and feeds for the service."""
    body = {"child": {"given_name": "A", "family_name": "B", "date_of_birth": "2010-01-01"},
            "case_holder_id": holder, "line_manager_id": manager,
            "intervention": "court_order", "csc_status": "none"}
    r = await client.post("/v1/cases", json=body, headers=somerset.auth(
        role, sub, scope="cms" if role == "feed" else None))
    assert r.status_code == status, r.text


WRITES = sorted(k for k in MATRIX if k[0] in {"POST", "PUT", "PATCH"})
BAD_BODIES = (b"{garb", b"[1, 2", b'{"domain": "rosh", "level": ', b"\xff\xfe", b"null")


@pytest.mark.parametrize(("method", "path"), WRITES)
async def test_role_outside_the_row_gets_403_before_the_body_is_read(
    client: httpx.AsyncClient, somerset: Tenant, method: str, path: str
) -> None:
    """The brief: "a role the token lacks (403 before the body is read)". FastAPI parses a JSON
    body before it runs any dependency, so a gate that were only a dependency would answer a
    malformed body with 400 and tell a caller who may never act what the body looks like. Every
    role outside the route's row gets 403 whatever the body; a role inside it gets the 400
    (where the route takes a body at all). So does a role the route refuses by an authority
    the token and the path decide with what is stored (a line manager and a worker they do not
    manage, for whom the row says 403: attack pass 28a, ATK28A-3, where POST and PATCH were
    400, or 413 for a body over the limit, and GET and DELETE 403)."""
    url = _concrete(path, somerset)
    spec = (await client.get("/openapi.json")).json()
    takes_body = "requestBody" in spec["paths"][path][method.lower()]
    for role in ROLES:
        for body in BAD_BODIES:
            headers = {**_auth(somerset, role), "content-type": "application/json"}
            r = await client.request(method, url, headers=headers, content=body)
            if _refused(role, method, path):
                assert r.status_code == 403, (role, body, r.text)
                assert r.json()["type"].endswith("/forbidden")
            elif takes_body and body != b"null":  # null is JSON: the route's own question
                assert r.status_code == 400, (role, body, r.text)


@pytest.mark.parametrize("action", sorted(REFERRAL_ACTIONS))
async def test_referral_action_role_gate_runs_before_the_body_is_read(
    client: httpx.AsyncClient, somerset: Tenant, action: str
) -> None:
    """The referral lifecycle gate depends on the action in the path; it too answers 403 to a
    role outside the action's row before a malformed body is looked at."""
    url = f"/v1/referrals/{uuid.uuid4()}/{action}"
    for role in ROLES:
        headers = {**_auth(somerset, role), "content-type": "application/json"}
        r = await client.post(url, headers=headers, content=b"{garb")
        assert r.status_code == (400 if role in REFERRAL_ACTIONS[action] else 403), role


async def test_forged_token_with_malformed_body_is_401_not_400(
    client: httpx.AsyncClient, somerset: Tenant
) -> None:
    """A bearer-shaped but forged token is judged before the body: 401, never 400."""
    forged = {"authorization": "Bearer not.a.jwt", "content-type": "application/json"}
    for method, path in WRITES:
        r = await client.request(method, _concrete(path, somerset), headers=forged,
                                 content=b"{garb")
        assert r.status_code == 401, (method, path, r.text)
        assert r.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize(("method", "path"), sorted(k for k in MATRIX if k[0] != "GET"))
async def test_write_with_an_unknown_query_parameter_is_422(
    client: httpx.AsyncClient, somerset: Tenant, method: str, path: str
) -> None:
    """A write never ignores its query string: ``?dry_run=true`` (or any parameter the route
    does not declare) is a 422 at ``query`` (by its place, never its text: attack pass 9, N8),
    for every role that may call the route, before the body or the record is looked at."""
    allowed, _ = MATRIX[(method, path)]
    url = _concrete(path, somerset) + "?dry_run=true"
    role = next(r for r in allowed if not _refused(r, method, path))
    r = await client.request(method, url, json={}, headers=_auth(somerset, role))
    assert r.status_code == 422, r.text
    assert r.json()["errors"] == [{"loc": "query", "msg": r.json()["errors"][0]["msg"]}]
    assert r.json()["errors"][0]["msg"].startswith(
        "unknown query parameter (parameter 1 of the query string)")


async def test_judgement_with_dry_run_query_is_not_stored(
    client: httpx.AsyncClient, somerset: Tenant
) -> None:
    """The hazard behind the rule: a client that believed it only tried a judgement must find
    nothing stored, no rating changed and no step raised."""
    case = (await somerset.open_case())["data"]
    holder = somerset.auth("case_holder", case["case_holder_id"])
    url = f"/v1/cases/{case['id']}/judgements"
    before = (await client.get(f"/v1/cases/{case['id']}", headers=holder)).json()["data"]
    r = await client.post(url + "?dry_run=true", headers=holder,
                          json={"domain": "rosh", "level": "high",
                                "occurred_at": "2026-06-01T10:00:00+01:00"})
    assert r.status_code == 422, r.text
    assert (await client.get(url, headers=holder)).json()["data"] == []
    after = (await client.get(f"/v1/cases/{case['id']}", headers=holder)).json()["data"]
    assert after["ratings"] == before["ratings"]
    assert after["open_steps"] == before["open_steps"]


@pytest.mark.parametrize("body", [
    b'{"domain": "rosh", "level": "very_high", "level": "low"}',
    b'{"domain": "rosh", "domain": "swb", "level": "low"}',
    b'{"domain": "rosh", "level": "high", "victims": ["a"], "victims": []}',
])
async def test_judgement_naming_a_key_twice_is_422_and_not_stored(
    client: httpx.AsyncClient, somerset: Tenant, body: bytes
) -> None:
    """RFC 8259 §4: with duplicate names "the behavior of software that receives such an object
    is unpredictable" (Python keeps the last, other readers the first). A risk level that
    depends on who reads the wire is refused, naming the key, and nothing is stored."""
    case = (await somerset.open_case())["data"]
    holder = {**somerset.auth("case_holder", case["case_holder_id"]),
              "content-type": "application/json"}
    url = f"/v1/cases/{case['id']}/judgements"
    r = await client.post(url, headers=holder, content=body)
    assert r.status_code == 422, r.text
    [error] = r.json()["errors"]
    assert error["loc"] == "body"
    assert "appears more than once" in error["msg"]
    assert (await client.get(url, headers=holder)).json()["data"] == []


async def test_nested_duplicate_key_is_422(client: httpx.AsyncClient, somerset: Tenant) -> None:
    """A duplicate inside a nested object (the child on a new case) is refused the same way."""
    body = (b'{"child": {"given_name": "A", "given_name": "B", "family_name": "C", '
            b'"date_of_birth": "2011-04-09"}, "case_holder_id": "cw-1", "line_manager_id": "lm-1",'
            b' "intervention": "bail", "csc_status": "none"}')
    headers = {**somerset.auth("line_manager", "lm-1"), "content-type": "application/json"}
    r = await client.post("/v1/cases", headers=headers, content=body)
    assert r.status_code == 422, r.text
    assert "given_name" in r.json()["errors"][0]["msg"]


async def test_token_of_an_unknown_service_is_403_before_the_body_is_read(
    client: httpx.AsyncClient, somerset: Tenant
) -> None:
    """A well-signed token naming a service this database does not hold: 403 whatever the body
    (malformed, valid or empty), never a 400 that would describe the body."""
    case = (await somerset.open_case())["data"]
    token = mint_dev_token(somerset.settings, sub="lm-x", roles=["line_manager"],
                           service="no-such-service-anywhere")
    headers = {"authorization": f"Bearer {token}", "content-type": "application/json"}
    for url in (f"/v1/cases/{case['id']}/judgements", "/v1/cases"):
        for body in (b"{garb", b"{}", b'{"domain": "rosh", "level": "low"}'):
            r = await client.post(url, headers=headers, content=body)
            assert r.status_code == 403, (url, body, r.text)


@pytest.mark.parametrize(("method", "path"), WRITES)
async def test_role_outside_the_row_gets_403_for_an_oversized_or_non_json_body(
    client: httpx.AsyncClient, somerset: Tenant, method: str, path: str
) -> None:
    """What the headers show about a body (over the size limit: 413; not JSON: 415) is answered
    only once the role gate has passed: a role that may never call the route gets 403 whatever
    the body, and a role that may gets the 413 or 415 before any byte is read; so does a role
    refused by an authority the token and the path decide (ATK28A-3: it was 413)."""
    url = _concrete(path, somerset)
    bodies = [({"content-type": "application/json"}, b"[" + b"1," * 200_000 + b"1]", 413),
              ({"content-type": "text/plain"}, b"hello", 415)]
    for role in ROLES:
        for headers, body, status in bodies:
            r = await client.request(method, url, content=body,
                                     headers={**_auth(somerset, role), **headers})
            assert r.status_code == (403 if _refused(role, method, path) else status), (
                role, status, r.text)
            assert r.headers["content-type"].startswith("application/problem+json")
