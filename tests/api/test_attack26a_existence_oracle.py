"""Attack pass 26a, A26a-10: a record on a case the caller may not see is answered exactly as a
made-up id of the same kind (no existence oracle), from the attacker's side.

README: "Staff without access, chairs included, get 404 everywhere, as if the case did not
exist"; docs/integrating.md section 6: "404 also means not yours to see". A referral,
assessment or step of a hidden case answered "No such case." where a made-up id answered "No
such referral." (".. assessment.", ".. step."): one request told a member of staff shut out of
a case that an id they held (from an e-mail, a webhook log, a calendar link) is real and sits
on a case hidden from them.

The sweep walks ``app.routes``: every route with a path parameter naming a case or a record of
one, every method, called by staff who may not see the case (a restricted case's excluded
staff, a chair and a duty manager among them; an ordinary case of another team's holder and
line manager), once with the real ids and once with made-up ones, with the same body (a valid
one, then one the route refuses): status, headers and problem body must be the same, byte for
byte but for the request's own id (``instance``, ``X-Request-ID``). A route added later is
covered, or the test says how to classify it.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute, iter_route_contexts

from app.core.config import Settings
from app.core.security import mint_dev_token
from app.domain.referrals import TRANSITIONS_BY_ACTION
from app.main import create_app
from tests.api.support import (
    ALL_STAFF_ROLES,
    CaseRecord,
    case_with_record,
    ok,
    restrict,
    schedule_panel,
    staff_auth,
)
from tests.api.test_restricted import BODIES
from tests.conftest import Tenant

INTRUDER = "intruder-1"
# Path parameters naming a case or a record of one (a hidden record answers as a made-up id).
RECORD_PARAMS = {"case_id", "referral_id", "assessment_id", "step_id", "item_id"}
# Routes with such a parameter that the sweep does not call with a made-up id, and why.
NOT_SWEPT = {
    # A made-up reference opens a case (201); a taken one the caller may not see is 409
    # duplicate-external-ref without the case (A9-17): tests/api/test_restricted.py.
    ("PUT", "/v1/cases/by-external-ref/{system}/{external_id}"),
}
# Answers that carry the request's own id, not the record's: left out of the comparison.
PER_REQUEST_HEADERS = {"x-request-id", "date"}
INVALID_BODY = {"unexpected_field": 1}


def _routes(settings: Settings) -> list[tuple[str, str]]:
    """(method, path) of every API route with a record parameter in its path."""
    found = []
    for context in iter_route_contexts(create_app(settings).routes):
        route = context.original_route
        if not isinstance(route, APIRoute):
            continue
        params = set(re.findall(r"\{([^}:]+)", route.path))
        if not params & RECORD_PARAMS:
            continue
        for method in sorted(route.methods - {"HEAD", "OPTIONS"}):
            found.append((method, route.path))
    return found


def _fill(template: str, values: dict[str, str]) -> str:
    return re.sub(r"\{([^}:]+)(:[^}]*)?\}", lambda m: values[m.group(1)], template)


def _made_up(rec: CaseRecord) -> dict[str, str]:
    """Fresh ids for every record parameter (ids nobody has)."""
    return {**rec.ids, **{name: str(uuid.uuid4()) for name in RECORD_PARAMS}}


def _shape(response: httpx.Response) -> tuple[int, dict[str, str], Any]:
    """What the caller is told: status, headers and body, less the request's own id."""
    headers = {k: v for k, v in response.headers.items() if k not in PER_REQUEST_HEADERS}
    try:
        body = response.json()
    except ValueError:
        body = response.text
    if isinstance(body, dict):
        body.pop("instance", None)
    return response.status_code, headers, body


async def _call(client: httpx.AsyncClient, method: str, url: str, headers: dict[str, str],
                body: Any) -> httpx.Response:
    if method in {"PATCH", "DELETE"}:
        headers = {**headers, "If-Match": '"1"'}
    if method in {"GET", "DELETE"}:
        return await client.request(method, url, headers=headers)
    return await client.request(method, url, headers=headers, json=body)


@pytest.fixture
async def world(client: httpx.AsyncClient, somerset: Tenant) -> dict[str, Any]:
    """A case restricted to exclude ``INTRUDER`` and an ordinary one, each with a record of
    every kind, both held by case_holder-1 and managed by line_manager-1."""
    panel_id = await schedule_panel(client, somerset)
    hidden = await case_with_record(client, somerset, "Zelinda", "Quartermaine", panel_id)
    other_team = await case_with_record(client, somerset, "Orla", "Brightwater", panel_id)
    await ok(await restrict(client, somerset, hidden.id, {"excluded_staff": [INTRUDER]}), 200)
    for rec in (hidden, other_team):
        rec.ids.update(panel_id=panel_id, slug=somerset.slug, system="iyss")
    return {"restricted": hidden, "other_team": other_team}


# (case of the world, caller's sub, roles): staff who may not see that case.
CALLERS = [
    ("restricted", INTRUDER, ALL_STAFF_ROLES),
    ("restricted", INTRUDER, ["chair"]),
    ("restricted", INTRUDER, ["duty_manager"]),
    ("restricted", INTRUDER, ["line_manager"]),
    ("other_team", "case_holder-2", ["case_holder"]),
    ("other_team", "line_manager-2", ["line_manager"]),
    ("other_team", "line_manager-2", ["line_manager", "case_holder"]),
]


@pytest.mark.parametrize(("which", "sub", "roles"), CALLERS,
                         ids=[f"{w}-{'+'.join(r)}" for w, _, r in CALLERS])
async def test_a_hidden_record_is_answered_as_a_made_up_id_on_every_route(
    client: httpx.AsyncClient, settings: Settings, somerset: Tenant, world: dict[str, Any],
    which: str, sub: str, roles: list[str],
) -> None:
    """Contract (README, restricted cases): "Staff without access, chairs included, get 404
    everywhere, as if the case did not exist". Every route with a case's or record's id in its
    path, every method, every referral action, a valid body and an invalid one: the hidden
    record's answer is the made-up id's, status, headers and problem alike."""
    rec: CaseRecord = world[which]
    caller = staff_auth(somerset, sub, roles)
    routes = _routes(settings)
    assert len(routes) >= 20, routes
    differing, checked = [], 0
    for method, template in routes:
        if (method, template) in NOT_SWEPT:
            continue
        actions = sorted(TRANSITIONS_BY_ACTION) if "{action}" in template else [""]
        for action in actions:
            real = {**rec.ids, "action": action}
            fake = {**_made_up(rec), "action": action}
            valid = BODIES.get((method.lower(), template), {})
            for body in (valid, INVALID_BODY):
                hidden = await _call(client, method, _fill(template, real), caller, body)
                unknown = await _call(client, method, _fill(template, fake), caller, body)
                assert hidden.status_code < 500, (method, template, hidden.text)
                if _shape(hidden) != _shape(unknown):
                    differing.append((method, template, action, hidden.status_code,
                                      hidden.text, unknown.status_code, unknown.text))
                checked += 1
    assert not differing, "\n".join(map(str, differing))
    assert checked >= 40


ABSENCE_CALLS = [("GET", None), ("PATCH", {"ends_on": "2026-07-03"}), ("DELETE", None),
                 ("PATCH", INVALID_BODY)]


async def test_another_workers_absence_is_answered_as_a_made_up_id(
    client: httpx.AsyncClient, somerset: Tenant,
) -> None:
    """The twin for staff records (A26a-10's kind): a line manager who may not see or record a
    worker's absences is told the same about a real absence of theirs (its id from a leave
    e-mail) as about a made-up id, on GET, PATCH and DELETE: before, the PATCH and DELETE of a
    real one were 403 "A line manager records ..." and of a made-up one 404 "No such
    absence.", so an absence id could be tried (a worker's leave, its reason often health
    data, A10-16)."""
    recorded = await ok(await client.post(
        "/v1/staff/case_holder-1/absences", headers=somerset.auth("duty_manager"),
        json={"starts_on": "2026-07-01", "ends_on": "2026-07-02", "reason": "Leave."}))
    real = f"/v1/staff/case_holder-1/absences/{recorded['data']['id']}"
    fake = f"/v1/staff/case_holder-1/absences/{uuid.uuid4()}"
    outsider = somerset.auth("line_manager", "line_manager-9")
    for method, body in ABSENCE_CALLS:
        hidden = await _call(client, method, real, outsider, body)
        unknown = await _call(client, method, fake, outsider, body)
        assert hidden.status_code in (403, 422), (method, hidden.text)
        assert _shape(hidden) == _shape(unknown), (method, hidden.text, unknown.text)
    # The absence is untouched (the control: the duty manager still reads it as recorded).
    kept = await ok(await client.get(real, headers=somerset.auth("duty_manager")), 200)
    assert kept["data"]["ends_on"] == "2026-07-02"


async def test_another_services_webhook_and_another_persons_feed_answer_as_made_up_ids(
    client: httpx.AsyncClient, settings: Settings, somerset: Tenant, wokingham: Tenant,
) -> None:
    """The other kinds with an id of their own (A26a-10's sweep, held): a webhook subscription
    of another service, asked for under one's own service (its deliveries, its DELETE), and
    another person's calendar feed (DELETE) are answered as made-up ids, byte for byte."""
    def admin(service: str | None) -> dict[str, str]:
        token = mint_dev_token(settings, sub="admin-1", roles=["admin"], service=service)
        return {"Authorization": f"Bearer {token}"}

    theirs = await ok(await client.post(
        f"/v1/services/{wokingham.slug}/webhooks", headers=admin(None),
        json={"url": "https://hooks.example.org/yjrisk", "event_types": ["*"]}))
    feed = await ok(await client.post("/v1/me/calendar-feeds",
                                      headers=somerset.auth("case_holder")))
    calls = [
        ("GET", f"/v1/services/{somerset.slug}/webhooks/{{}}/deliveries", admin(somerset.slug),
         theirs["data"]["id"]),
        ("GET", f"/v1/services/{somerset.slug}/webhooks/{{}}/deliveries", admin(None),
         theirs["data"]["id"]),
        ("DELETE", f"/v1/services/{somerset.slug}/webhooks/{{}}", admin(None),
         theirs["data"]["id"]),
        ("DELETE", "/v1/me/calendar-feeds/{}", somerset.auth("case_holder", "case_holder-2"),
         feed["data"]["id"]),
    ]
    for method, template, headers, real in calls:
        hidden = await _call(client, method, template.format(real), headers, None)
        unknown = await _call(client, method, template.format(uuid.uuid4()), headers, None)
        assert hidden.status_code == 404, (method, template, hidden.text)
        assert _shape(hidden) == _shape(unknown), (method, template)
