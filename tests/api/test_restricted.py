"""Restricted cases (issue 13, part 1), from the attacker's side.

A manager restricts a case to named staff or excludes named staff; everywhere, staff without
access get 404 as if the case did not exist. The sweep below walks every operation of the
OpenAPI document, so a route added later is covered (or the test says how to classify it).
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
import pytest
from sqlmodel import select

from app.domain.audit import AuditEntry
from app.domain.outbox import OutboxEvent
from tests.api.support import (
    CaseRecord,
    Factory,
    case_with_record,
    db,  # noqa: F401 - fixture
    ok,
    openapi,  # noqa: F401 - fixture
    restrict,
    schedule_panel,
    staff_auth,
)
from tests.conftest import Tenant

INTRUDER = "intruder-1"
# Path parameters that name a case or a record of one: with the restricted case's ids these
# operations must answer 404 to the excluded staff member.
CASE_PARAMS = {"case_id", "referral_id", "assessment_id", "item_id", "step_id",
               "external_id"}
# Valid bodies for writes, so the request reaches the case lookup (not a 422 on the body).
BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("patch", "/v1/cases/{case_id}"): {"csc_status": "cin"},
    ("post", "/v1/cases/{case_id}/judgements"): {"domain": "swb", "level": "low"},
    ("post", "/v1/cases/{case_id}/assessments"): {"type": "asset_plus", "stage": "review"},
    ("post", "/v1/cases/{case_id}/referrals"): {"kind": "marf"},
    ("post", "/v1/cases/{case_id}/events"): {"type": "change_of_circumstances"},
    ("post", "/v1/cases/{case_id}/oversight"): {"note": "Checked."},
    ("post", "/v1/cases/{case_id}/priority"): {"raised": True, "reason": "Raised."},
    ("post", "/v1/referrals/{referral_id}/{action}"): {},
    ("post", "/v1/assessments/{assessment_id}/submit"): {},
    ("post", "/v1/assessments/{assessment_id}/countersign"): {"feedback": "Fine."},
    ("post", "/v1/assessments/{assessment_id}/return"): {"feedback": "Redo."},
    ("post", "/v1/next-steps/{step_id}/complete"): {},
    ("post", "/v1/next-steps/{step_id}/waive"): {"reason": "Not needed."},
    ("post", "/v1/panels/{panel_id}/items/{item_id}/decision"): {"minutes": "Discussed."},
    ("post", "/v1/panels/{panel_id}/items/{item_id}/withdraw"): {"reason": "Not needed."},
    ("put", "/v1/cases/by-external-ref/{system}/{external_id}"): {
        "child": {"given_name": "Ann", "family_name": "Other", "date_of_birth": "2010-05-01"},
        "case_holder_id": "case_holder-1", "line_manager_id": "line_manager-1",
        "intervention": "court_order", "csc_status": "cin"},
}
# The upsert by a reference the caller may not see answers what a second POST of that
# reference answers, 409 duplicate-external-ref without the case's id (attack pass 9, A9-17:
# uniqueness needs the 409; README, restricted cases).
TAKEN_REFERENCE = ("put", "/v1/cases/by-external-ref/{system}/{external_id}")
# Writes whose body names the case.
BODY_CASE_WRITES: dict[tuple[str, str], Any] = {
    ("post", "/v1/panels/{panel_id}/items"):
        lambda rec: {"case_id": rec.id, "presenter_id": "case_holder-1"},
    ("post", "/v1/workflow/preview"):
        lambda rec: {"case_id": rec.id, "judgement": {"domain": "rosh", "level": "medium"}},
}
# Writes that reach no existing case (checked elsewhere: services, panels, feeds, webhooks,
# opening a case; duplicate warnings on opening are in test_duplicates.py).
NOT_CASE_WRITES = {
    ("post", "/v1/services"), ("post", "/v1/cases"), ("post", "/v1/panels"),
    ("post", "/v1/panels/{panel_id}/reschedule"), ("delete", "/v1/panels/{panel_id}"),
    ("post", "/v1/feeds/{source}/referrals"), ("post", "/v1/services/{slug}/webhooks"),
    ("delete", "/v1/services/{slug}/webhooks/{webhook_id}"),
    ("post", "/v1/me/calendar-feeds"), ("delete", "/v1/me/calendar-feeds/{feed_id}"),
    ("delete", "/v1/services/{slug}/staff/{staff_id}/calendar-feeds"),
    ("post", "/v1/staff/{staff_id}/absences"),
    ("patch", "/v1/staff/{staff_id}/absences/{absence_id}"),
    ("delete", "/v1/staff/{staff_id}/absences/{absence_id}"),
}


def _fill(template: str, ids: dict[str, str], fixed: dict[str, str]) -> str:
    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        return ids.get(name) or fixed.get(name) or "00000000-0000-4000-8000-000000000000"
    return re.sub(r"\{([^}]+)\}", one, template)


def _leaks(response: httpx.Response, rec: CaseRecord) -> list[str]:
    text = response.text
    secrets = [rec.id, rec.case["child"]["family_name"],
               *(v for k, v in rec.ids.items() if k != "external_system")]
    return [s for s in secrets if s in text]


async def _world(client: httpx.AsyncClient, somerset: Tenant, access: dict[str, Any]
                 ) -> dict[str, Any]:
    """Two cases with the same kind of record; the first restricted by ``access``."""
    panel_id = await schedule_panel(client, somerset)
    hidden = await case_with_record(client, somerset, "Zelinda", "Quartermaine", panel_id)
    twin = await case_with_record(client, somerset, "Orla", "Brightwater", panel_id)
    r = await restrict(client, somerset, hidden.id, access)
    await ok(r, 200)
    return {"hidden": hidden, "twin": twin, "panel_id": panel_id}


def _only_role_duties(response: httpx.Response, rec: CaseRecord) -> int:
    """A next-steps list shows of the case only open steps addressed to a role (no assignee,
    a duty manager's, chair's or panel administrator's), and nothing naming the child; how
    many it shows."""
    assert response.status_code == 200, response.text
    assert rec.case["child"]["family_name"] not in response.text
    assert rec.case["child"]["given_name"] not in response.text
    shown = [step for step in response.json()["data"] if step["case_id"] == rec.id]
    for step in shown:
        assert step["assignee_id"] is None, step
        assert step["actor"] in ("duty_manager", "chair", "panel_admin"), step
        assert step["status"] == "open", step
    return len(shown)


@pytest.fixture
async def world(client: httpx.AsyncClient, somerset: Tenant) -> dict[str, Any]:
    """Two cases with the same kind of record; the first excludes ``INTRUDER``."""
    return await _world(client, somerset, {"excluded_staff": [INTRUDER]})


@pytest.fixture
async def allow_world(client: httpx.AsyncClient, somerset: Tenant) -> dict[str, Any]:
    """Two cases with the same kind of record; the first allows only its holder, line manager
    and the chair of the MARP whose agenda it is on, who must keep access (A12-7) (``INTRUDER``
    is left out, not named), and has a chair's duty open (a charge: Somerset 12's
    serious-incident notification, actor chair, no assignee)."""
    found = await _world(client, somerset, {"allowed_staff": ["case_holder-1", "line_manager-1",
                                                              "chair-1"]})
    await ok(await client.post(f"/v1/cases/{found['hidden'].id}/events",
                               headers=somerset.auth("case_holder"),
                               json={"type": "charged", "details": {"offence": "robbery"}}))
    return found


async def _call(client: httpx.AsyncClient, method: str, url: str, headers: dict[str, str],
                body: dict[str, Any] | None) -> httpx.Response:
    headers = {**headers, "If-Match": '"1"'} if method == "patch" else headers
    if method in {"get", "delete"}:
        return await client.request(method.upper(), url, headers=headers)
    return await client.request(method.upper(), url, headers=headers, json=body)


async def test_excluded_staff_get_404_on_every_route(
    client: httpx.AsyncClient, openapi: dict[str, Any], somerset: Tenant,  # noqa: F811
    world: dict[str, Any],
) -> None:
    """Every operation in the OpenAPI, called by an excluded staff member holding every staff
    role, answers 404 for the restricted case's records and never names them in a list (but for
    its role-addressed duties, bare, in next steps: ATTACK30B-15); the
    same call on an unrestricted twin case is not a 404 (so the 404 is the restriction's)."""
    await _sweep(client, openapi, somerset, world, bare_duties=False)


async def test_staff_left_out_of_an_allow_list_get_404_on_every_route(
    client: httpx.AsyncClient, openapi: dict[str, Any], somerset: Tenant,  # noqa: F811
    allow_world: dict[str, Any],
) -> None:
    """The same sweep for a staff member holding every staff role whom an allow-list leaves
    out: 404 on every route for the case's records (its holder's step included); the only
    thing of the case they are shown is, in ``GET /v1/next-steps``, the open steps addressed
    to a role of theirs (duty manager, chair, panel administrator: no assignee), without the
    child's name (attack 7, F9; tests/api/test_restricted_duties.py)."""
    await _sweep(client, openapi, somerset, allow_world, bare_duties=True)


async def _sweep(client: httpx.AsyncClient, document: dict[str, Any], somerset: Tenant,
                 world: dict[str, Any], *, bare_duties: bool) -> None:
    """Call every operation of the OpenAPI document as ``INTRUDER`` with every staff role."""
    intruder = staff_auth(somerset, INTRUDER)
    hidden, twin = world["hidden"], world["twin"]
    fixed = {"panel_id": world["panel_id"], "slug": somerset.slug, "action": "withdraw",
             "source": "emrac", "pack_id": "somerset-yjt-2023", "system": "iyss"}
    unclassified, checked = [], 0
    for template, operations in document["paths"].items():
        params = set(re.findall(r"\{([^}]+)\}", template))
        for method in operations:
            if method in {"head", "options"}:
                continue
            key = (method, template)
            if params & CASE_PARAMS or key in BODY_CASE_WRITES:
                make = BODY_CASE_WRITES.get(key)
                for rec, expect_hidden in ((hidden, True), (twin, False)):
                    body = make(rec) if make else BODIES.get(key)
                    if method != "get" and body is None:
                        unclassified.append(key)
                        break
                    r = await _call(client, method, _fill(template, rec.ids, fixed),
                                    intruder, body)
                    if expect_hidden and key == TAKEN_REFERENCE:
                        assert r.status_code == 409, (key, r.status_code, r.text)
                        assert r.json()["type"].endswith("/duplicate-external-ref")
                        assert "existing_case_id" not in r.json()
                        assert not _leaks(r, hidden), (key, r.text)
                    elif expect_hidden:
                        assert r.status_code == 404, (key, r.status_code, r.text)
                        assert not _leaks(r, hidden), (key, r.text)
                    else:
                        # the control: the same call reaches the twin's record
                        assert r.status_code != 404, (key, r.text)
                        assert r.status_code < 500, (key, r.text)
                checked += 1
            elif method == "get":
                r = await _call(client, method, _fill(template, {}, fixed), intruder, None)
                assert r.status_code < 500, (key, r.text)
                if template == "/v1/next-steps":
                    # Role-addressed duties reach them bare, an excluded list too (ATTACK30B-15).
                    shown = _only_role_duties(r, hidden)
                    assert shown >= 1 or not bare_duties  # the chair's notification
                else:
                    assert not _leaks(r, hidden), (key, r.text)
                checked += 1
            elif key not in NOT_CASE_WRITES:
                unclassified.append(key)
    assert not unclassified, f"classify these operations in test_restricted.py: {unclassified}"
    assert checked >= 25


async def test_lists_register_steps_and_panels_omit_the_restricted_case(
    client: httpx.AsyncClient, somerset: Tenant, world: dict[str, Any]
) -> None:
    """The caseload, the register, next steps and panel agendas list the twin, not the
    restricted case, for the excluded staff member (next steps: but for its role-addressed
    duties, bare: ATTACK30B-15); a colleague still sees both."""
    hidden, twin = world["hidden"], world["twin"]
    for headers, sees_hidden in ((staff_auth(somerset, INTRUDER), False),
                                 (staff_auth(somerset, "chair-2"), True)):
        cases = (await client.get("/v1/cases", headers=headers)).json()["data"]
        register = (await client.get("/v1/register", headers=headers)).json()["data"]
        steps = (await client.get("/v1/next-steps", params={"limit": 200},
                                  headers=headers)).json()["data"]
        panel = (await client.get(f"/v1/panels/{world['panel_id']}",
                                  headers=headers)).json()["data"]
        for found in ({c["id"] for c in cases}, {c["id"] for c in register},
                      {s["case_id"] for s in steps if s["assignee_id"] is not None},
                      {i["case_id"] for i in panel["items"]}):
            assert twin.id in found
            assert (hidden.id in found) is sees_hidden


async def test_allowed_staff_only_the_named_staff_see_the_case(
    client: httpx.AsyncClient, somerset: Tenant
) -> None:
    """With ``allowed_staff`` a chair and a duty manager not named get 404; a named chair
    sees the case, that it is restricted, and the list; the case holder sees only the flag."""
    case = (await somerset.open_case())["data"]
    r = await restrict(client, somerset, case["id"], {
        "allowed_staff": ["case_holder-1", "line_manager-1", "chair-1"]})
    body = await ok(r, 200)
    assert body["data"]["restricted"] is True
    assert body["data"]["access"] == {
        "mode": "allowed", "staff": ["case_holder-1", "chair-1", "line_manager-1"]}
    url = f"/v1/cases/{case['id']}"
    for role, sub in (("chair", "chair-2"), ("duty_manager", "duty_manager-1")):
        assert (await client.get(url, headers=somerset.auth(role, sub))).status_code == 404
    chair = (await client.get(url, headers=somerset.auth("chair", "chair-1"))).json()["data"]
    assert chair["restricted"] is True
    assert chair["access"]["mode"] == "allowed"
    holder = (await client.get(url, headers=somerset.auth("case_holder"))).json()["data"]
    assert holder["restricted"] is True
    assert holder["access"] is None


async def test_lifting_the_restriction_restores_access_and_both_acts_are_audited(
    client: httpx.AsyncClient, db: Factory, somerset: Tenant  # noqa: F811
) -> None:
    """Setting and lifting are in the write audit and in the outbox (without staff names)."""
    case = (await somerset.open_case())["data"]
    await ok(await restrict(client, somerset, case["id"], {"excluded_staff": [INTRUDER]}), 200)
    url = f"/v1/cases/{case['id']}"
    assert (await client.get(url, headers=staff_auth(somerset, INTRUDER))).status_code == 404
    lifted = await ok(await restrict(client, somerset, case["id"], None), 200)
    assert lifted["data"]["restricted"] is False
    assert (await client.get(url, headers=staff_auth(somerset, INTRUDER))).status_code == 200
    audit = (await client.get(f"{url}/audit", params={"limit": 200},
                              headers=somerset.auth("line_manager"))).json()
    actions = [e["action"] for e in audit["data"]]
    assert actions[-2:] == ["case.restrict", "case.unrestrict"]
    case_id = uuid.UUID(case["id"])
    async with db() as session:
        events = (await session.exec(select(OutboxEvent).where(
            OutboxEvent.entity_id == case_id, OutboxEvent.type == "case.access_changed")
            .order_by(OutboxEvent.created_at))).all()
        entries = (await session.exec(select(AuditEntry).where(
            AuditEntry.case_id == case_id, AuditEntry.action == "case.restrict"))).all()
    assert [e.payload["restricted"] for e in events] == [True, False]
    assert all(INTRUDER not in str(e.payload) for e in events)
    assert [e.actor_role for e in entries] == ["line_manager"]


async def test_restriction_is_for_managers_and_keeps_the_holders_in(
    client: httpx.AsyncClient, somerset: Tenant
) -> None:
    """A case holder may not restrict (403); a list shutting out the case holder or line
    manager is refused (422), as is reassigning the case to an excluded person; both lists
    at once is 422."""
    case = (await somerset.open_case())["data"]
    r = await restrict(client, somerset, case["id"], {"excluded_staff": [INTRUDER]},
                       headers=somerset.auth("case_holder"))
    assert r.status_code == 403
    r = await restrict(client, somerset, case["id"], {"excluded_staff": ["case_holder-1"]})
    assert r.status_code == 422
    assert r.json()["errors"][0]["loc"] == "body.access.excluded_staff"
    r = await restrict(client, somerset, case["id"], {"allowed_staff": ["case_holder-1"]})
    assert r.status_code == 422
    r = await restrict(client, somerset, case["id"],
                       {"allowed_staff": ["case_holder-1"], "excluded_staff": ["x"]})
    assert r.status_code == 422
    await ok(await restrict(client, somerset, case["id"], {"excluded_staff": [INTRUDER]}), 200)
    manager = somerset.auth("line_manager")
    etag = (await client.get(f"/v1/cases/{case['id']}", headers=manager)).headers["ETag"]
    r = await client.patch(f"/v1/cases/{case['id']}", json={"case_holder_id": INTRUDER},
                           headers={**manager, "If-Match": etag})
    assert r.status_code == 422
    assert r.json()["errors"][0]["loc"] == "body.case_holder_id"


async def test_lists_and_register_show_the_access_list_as_the_case_read_does(
    client: httpx.AsyncClient, somerset: Tenant
) -> None:
    """Managers and chairs see a restricted case's access list in the case list and the register
    exactly as in the case read; a case holder sees only that it is restricted (attack pass 2,
    finding 1: the lists answered ``access: null`` to everyone)."""
    case = (await somerset.open_case())["data"]
    await somerset.client.post(f"/v1/cases/{case['id']}/judgements",
                               json={"domain": "rosh", "level": "high"},
                               headers=somerset.auth("case_holder"))
    r = await restrict(client, somerset, case["id"], {"excluded_staff": ["chair-9", "cw-b"]})
    assert r.status_code == 200, r.text
    for role, sees_list in (("line_manager", True), ("chair", True), ("duty_manager", True),
                            ("case_holder", False)):
        auth = somerset.auth(role)
        single = (await client.get(f"/v1/cases/{case['id']}", headers=auth)).json()["data"]
        for path in ("/v1/cases", "/v1/register"):
            r = await client.get(path, params={"limit": 200}, headers=auth)
            if r.status_code == 403:
                continue  # the register is not every role's
            assert r.status_code == 200, (path, role, r.text)
            listed = next(c for c in r.json()["data"] if c["id"] == case["id"])
            assert listed["restricted"] is True
            assert listed["access"] == single["access"], (path, role)
            if sees_list:
                assert listed["access"] == {"mode": "excluded", "staff": ["chair-9", "cw-b"]}
            else:
                assert listed["access"] is None
