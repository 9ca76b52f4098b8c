"""Attack pass finding N8: no error answer, and no log line, copies a request value back.

An attacker (or a careless client) puts a marker string in every place a request can carry
text: a path segment (percent-encoded, as a name or a script tag would be), a query
parameter's name and value, the headers (``If-Match``, ``Idempotency-Key``,
``Authorization``, ``X-Request-ID``, ``Content-Type``), an unknown body key at the top and one
level down, every known body field's value (wrong types, enum words, ids, dates), and
malformed JSON. For every operation of the OpenAPI document, no 4xx/5xx answer carries the
marker in its body or headers, and no log line of the app (access, error, warning) carries it
whatever the status. Problem ``instance`` identifies the occurrence (``urn:uuid:`` of the
request id), never the path the client sent.
"""

from __future__ import annotations

import base64
import json
import re
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager

from app.core.config import Settings
from app.core.logging import configure_logging
from app.core.security import mint_dev_token
from app.main import create_app

MARK = "Qx7zMark"
# What a client may put in a path segment: a name, a script tag (both percent-encoded).
PATH_PAYLOADS = (f"Jane%20Smith%20{MARK}", f"%3Cscript%3E{MARK}%3C%2Fscript%3E", MARK)
STAFF = ["line_manager", "duty_manager", "case_holder", "chair", "panel_admin"]
REQUEST_ID = re.compile(r"urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@dataclass
class Target:
    """The attacked app, its contract, and real records for the routes' path ids."""

    client: httpx.AsyncClient
    settings: Settings
    openapi: dict[str, Any]
    slug: str
    ids: dict[str, str] = field(default_factory=dict)

    def auth(self, method: str, path: str) -> dict[str, str]:
        """A token that passes the route's role gate (admin for services and webhooks, feed
        for feeds, every staff role otherwise)."""
        if (method == "POST" and path == "/v1/services") or "/webhooks" in path:
            token = mint_dev_token(self.settings, sub="echo-admin", roles=["admin"],
                                   service=None)
        else:
            roles = [*STAFF, "feed"] if path.startswith("/v1/feeds/") else STAFF
            # A manager's acts on the seeded case are the case's line manager's: its holder
            # (echo-staff) is refused them before the body is used (separation of duties).
            manager = path.startswith("/v1/next-steps/") or path.endswith("/oversight")
            token = mint_dev_token(self.settings, sub="echo-lm" if manager else "echo-staff",
                                   roles=roles,
                                   service=self.slug,
                                   scope="feed:emrac feed:mappa" if "feed" in roles else None)
        return {"Authorization": f"Bearer {token}"}

    def url(self, path: str, **override: str) -> str:
        """``path`` with its parameters filled from the seeded records (or ``override``)."""
        return re.sub(r"\{([a-z_]+)\}", lambda m: override.get(m[1], self.ids.get(
            m[1], str(uuid.uuid4()))), path)


CONTRACT = Path(__file__).resolve().parents[2] / "openapi" / "openapi.json"
OPERATIONS = [
    (method.upper(), path)
    for path, item in json.loads(CONTRACT.read_text())["paths"].items()
    for method in item
]
WRITES = [(m, p) for m, p in OPERATIONS if m in ("POST", "PUT", "PATCH")]


@pytest.fixture(scope="module")
async def target(settings: Settings) -> AsyncIterator[Target]:
    """An app logging at INFO (access lines too), with a service and one of each record."""
    app = create_app(settings.model_copy(update={"log_level": "INFO"}))
    try:
        async with LifespanManager(app, startup_timeout=60, shutdown_timeout=60) as manager:
            transport = httpx.ASGITransport(app=manager.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                t = Target(client=client, settings=settings, openapi=app.openapi(),
                           slug=f"echo-{uuid.uuid4().hex[:8]}")
                await _seed(t)
                yield t
    finally:
        configure_logging(settings.log_level, settings.log_json)


async def _write(t: Target, url: str, body: dict[str, Any]) -> dict[str, Any]:
    r = await t.client.post(url, json=body, headers=t.auth("POST", url))
    assert r.status_code in (200, 201), r.text
    return r.json()["data"]  # type: ignore[no-any-return]


async def _seed(t: Target) -> None:
    await _write(t, "/v1/services", {"slug": t.slug, "name": "Echo",
                                     "policy_pack": "somerset-yjt-2023"})
    case = await _write(t, "/v1/cases", {
        "child": {"given_name": "Echo", "family_name": "Seed", "date_of_birth": "2010-05-01"},
        "external_ref": {"system": "IYSS", "id": "ECHO-1"},
        "case_holder_id": "echo-staff", "line_manager_id": "echo-lm",
        "intervention": "court_order", "csc_status": "none",
        "opened_at": "2026-03-02T09:00:00Z"})
    cid = case["id"]
    await _write(t, f"/v1/cases/{cid}/judgements", {
        "domain": "rosh", "level": "high", "occurred_at": "2026-03-03T10:00:00Z"})
    assessment = await _write(t, f"/v1/cases/{cid}/assessments", {
        "type": "asset_plus", "stage": "start", "occurred_at": "2026-03-04T10:00:00Z"})
    referral = await _write(t, f"/v1/cases/{cid}/referrals", {"kind": "panel",
                                                             "details": {"a": 1}})
    panel = await _write(t, "/v1/panels", {
        "kind": "marp", "scheduled_for": "2026-04-01T10:00:00Z", "chair_id": "echo-chair"})
    item = await _write(t, f"/v1/panels/{panel['id']}/items", {
        "case_id": cid, "presenter_id": "echo-presenter"})
    r = await t.client.get(f"/v1/next-steps?case_id={cid}", headers=t.auth("GET", "/v1/"))
    t.ids.update(case_id=cid, assessment_id=assessment["id"], referral_id=referral["id"],
                 panel_id=panel["id"], item_id=item["id"], step_id=r.json()["data"][0]["id"],
                 waived_step_id=r.json()["data"][1]["id"],
                 slug=t.slug, pack_id="somerset-yjt-2023", source="emrac", action="submit",
                 system="IYSS", external_id="ECHO-1", staff_id="echo-staff")


def _operation(t: Target, method: str, path: str) -> dict[str, Any]:
    return t.openapi["paths"][path][method.lower()]  # type: ignore[no-any-return]


def _resolve(t: Target, schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = t.openapi["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def _body_schema(t: Target, method: str, path: str) -> dict[str, Any]:
    content = _operation(t, method, path).get("requestBody", {}).get("content", {})
    schema = content.get("application/json", {}).get("schema", {})
    return _resolve(t, schema) if schema else {}


def _marked_values(t: Target, schema: dict[str, Any]) -> dict[str, Any]:
    """Every known property set to the marker: as a string, or (for an object-valued
    property) an object with an unknown key, or (for a list) a list of the marker."""
    body: dict[str, Any] = {}
    for name, prop in schema.get("properties", {}).items():
        kinds = [_resolve(t, p) for p in prop.get("anyOf", [prop])]
        if any(k.get("type") == "object" for k in kinds):
            body[name] = {MARK: MARK}
        elif any(k.get("type") == "array" for k in kinds):
            body[name] = [MARK, {MARK: MARK}]
        else:
            body[name] = f"{MARK} <script>"
    return body


def _attacks(t: Target, method: str, path: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """(name, request keyword arguments) of each attack on one operation."""
    auth = t.auth(method, path)
    url = t.url(path)
    write = method in ("POST", "PUT", "PATCH")
    body: dict[str, Any] = {"json": {}} if write else {}
    for name in re.findall(r"\{([a-z_]+)\}", path):
        for payload in PATH_PAYLOADS:
            yield f"path {name}", {"url": t.url(path, **{name: payload}), "headers": auth,
                                   **body}
    yield "query name", {"url": f"{url}?{MARK}={MARK}", "headers": auth, **body}
    yield "query name+known", {"url": f"{url}?limit=5&{MARK}=1&{MARK}x=2", "headers": auth,
                               **body}
    declared = [p["name"] for p in _operation(t, method, path).get("parameters", [])
                if p["in"] == "query"]
    if declared:
        query = "&".join(f"{n}={MARK}" for n in declared)
        yield "query values", {"url": f"{url}?{query}", "headers": auth, **body}
        query = "&".join(f"{n}=1&{n}={MARK}" for n in declared)
        yield "query twice", {"url": f"{url}?{query}", "headers": auth, **body}
    for header in ("If-Match", "Idempotency-Key", "X-Request-ID", "Accept", "Origin",
                   "If-None-Match"):
        value = f'"{MARK}"' if header.startswith("If-") else MARK
        yield f"header {header}", {"url": url, "headers": {**auth, header: value}, **body}
    for authorization in (f"Bearer {MARK}.{MARK}.{MARK}", f"Basic {MARK}", MARK,
                          *_marked_tokens(t)):
        yield "authorization", {"url": url, "headers": {"Authorization": authorization},
                                **body}
    if not write:
        return
    json_headers = {**auth, "Content-Type": "application/json"}
    yield "content-type", {"url": url, "headers": {**auth, "Content-Type": f"text/{MARK}"},
                           "content": b"{}"}
    yield "unknown key", {"url": url, "headers": auth, "json": {MARK: MARK}}
    yield "unknown keys", {"url": url, "headers": auth,
                           "json": {"note": "x", f"Jane Smith {MARK}": 1, MARK: [MARK]}}
    schema = _body_schema(t, method, path)
    yield "values", {"url": url, "headers": auth, "json": _marked_values(t, schema)}
    yield "list body", {"url": url, "headers": auth, "json": [MARK]}
    yield "string body", {"url": url, "headers": auth, "json": MARK}
    for raw in (f'{{"{MARK}": "{MARK}', f'{{"{MARK}": {MARK}}}', f'{{"a": 1}} {MARK}',
                f'{{"{MARK}": 1, "{MARK}": 2}}', f'\ufeff{{"{MARK}": 1}}'):
        yield "malformed json", {"url": url, "headers": json_headers,
                                 "content": raw.encode()}
    yield "bad utf-8", {"url": url, "headers": json_headers,
                        "content": f'{{"{MARK}": "\xff"}}'.encode("latin-1")}


def _marked_tokens(t: Target) -> list[str]:
    """Well-signed tokens whose claims (sub, roles, service) and header (kid) carry the
    marker, and one whose signature is wrong."""
    tokens = [f"Bearer {mint_dev_token(t.settings, sub=MARK, roles=STAFF, service=t.slug)}",
              f"Bearer {mint_dev_token(t.settings, sub='x', roles=[MARK], service=t.slug)}",
              f"Bearer {mint_dev_token(t.settings, sub='x', roles=STAFF, service=MARK)}"]
    header = base64.urlsafe_b64encode(json.dumps(
        {"alg": "HS256", "typ": "JWT", "kid": MARK}).encode()).decode().rstrip("=")
    good = mint_dev_token(t.settings, sub="x", roles=STAFF, service=t.slug)
    return [*tokens, "Bearer " + ".".join([header, *good.split(".")[1:]])]


def _leaks(response: httpx.Response) -> list[str]:
    """Where a problem answer carries the marker (its body, a header)."""
    if response.status_code < 400:
        return []
    found = [f"body: {response.text[:600]}"] if MARK.lower() in response.text.lower() else []
    found += [f"header {k}: {v}" for k, v in response.headers.items()
              if MARK.lower() in v.lower()]
    return found


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
async def test_no_answer_or_log_line_copies_a_request_value(
    target: Target, capfd: pytest.CaptureFixture[str], method: str, path: str
) -> None:
    """Every attack on the operation: no problem answer, no log line carries the marker."""
    failures: list[str] = []
    capfd.readouterr()
    for name, request in _attacks(target, method, path):
        url = request.pop("url")
        r = await target.client.request(method, url, **request)
        assert r.status_code < 500 or r.status_code == 503, (name, url, r.text)
        failures += [f"{name} -> {r.status_code} {leak}" for leak in _leaks(r)]
        if r.status_code >= 400 and r.headers.get("content-type", "").startswith(
                "application/problem+json"):
            instance = r.json()["instance"]
            if not REQUEST_ID.fullmatch(instance):
                failures.append(f"{name}: instance {instance!r}")
        logged = [line for line in capfd.readouterr().out.splitlines()
                  if MARK.lower() in line.lower()]
        failures += [f"{name} -> log: {line[:400]}" for line in logged]
    assert not failures, "\n".join(failures)


async def test_the_instance_is_the_request_id_of_the_answer(target: Target) -> None:
    """``instance`` is ``urn:uuid:`` of the answer's ``X-Request-ID`` (the id every log line
    of the request carries), so a problem reported by a client can be found in the logs."""
    r = await target.client.get(f"/v1/cases/{uuid.uuid4()}",
                                headers=target.auth("GET", "/v1/cases"))
    assert r.status_code == 404
    assert r.json()["instance"] == f"urn:uuid:{uuid.UUID(r.headers['x-request-id'])}"
    sent = uuid.uuid4()
    r = await target.client.get(f"/v1/cases/{uuid.uuid4()}",
                                headers={**target.auth("GET", "/v1/cases"),
                                         "X-Request-ID": sent.hex})
    assert r.status_code == 404
    assert r.json()["instance"] == f"urn:uuid:{uuid.UUID(r.headers['x-request-id'])}"
    assert r.json()["instance"] != f"urn:uuid:{sent}"  # the service's own id (A16-9)
    assert json.loads(r.text)["type"].endswith("/not-found")


# A body each write accepts (or refuses only by a rule after parsing), to mark one field at a
# time: a domain refusal (an unknown kind, a taken slug, a duplicate reference) is then what
# answers, and it must not quote the field either.
def _templates(t: Target) -> dict[tuple[str, str], dict[str, Any]]:
    cid = t.ids["case_id"]
    case = {"child": {"given_name": "Echo", "family_name": "Two", "date_of_birth": "2010-05-01"},
            "external_ref": {"system": "IYSS", "id": "ECHO-1"},
            "case_holder_id": "echo-staff", "line_manager_id": "echo-lm",
            "intervention": "court_order", "csc_status": "none",
            "opened_at": "2026-03-02T09:00:00Z"}
    return {
        ("POST", "/v1/services"): {"slug": t.slug, "name": "Echo",
                                   "policy_pack": "somerset-yjt-2023"},
        ("POST", "/v1/cases"): case,
        ("PUT", "/v1/cases/by-external-ref/{system}/{external_id}"): {
            k: v for k, v in case.items() if k != "external_ref"},
        ("PATCH", "/v1/cases/{case_id}"): {"facts": {"in_custody": True}, "csc_status": "cin"},
        ("POST", "/v1/cases/{case_id}/judgements"): {
            "domain": "rosh", "level": "high", "occurred_at": "2026-03-05T10:00:00Z"},
        ("POST", "/v1/cases/{case_id}/assessments"): {
            "type": "asset_plus", "stage": "start", "occurred_at": "2026-03-05T10:00:00Z"},
        ("POST", "/v1/cases/{case_id}/referrals"): {"kind": "panel", "details": {"a": 1}},
        ("POST", "/v1/cases/{case_id}/events"): {
            "type": "new_incident", "occurred_at": "2026-03-05T10:00:00Z", "details": {}},
        ("POST", "/v1/cases/{case_id}/oversight"): {"note": "Seen.",
                                                    "satisfies_step_id": t.ids["step_id"]},
        ("POST", "/v1/panels"): {"kind": "marp", "scheduled_for": "2026-04-08T10:00:00Z",
                                 "chair_id": "echo-chair"},
        ("POST", "/v1/panels/{panel_id}/items"): {"case_id": cid,
                                                  "presenter_id": "echo-presenter"},
        ("POST", "/v1/services/{slug}/webhooks"): {"url": "https://hooks.example.org/echo",
                                                   "event_types": ["*"]},
        ("POST", "/v1/feeds/{source}/referrals"): {
            "case_external_ref": {"system": "IYSS", "id": "ECHO-1"}, "kind": "emrac",
            "received_at": "2026-06-05T10:15:00+01:00", "details": {}},
        ("POST", "/v1/workflow/preview"): {"case_id": cid, "trigger": "case_event",
                                           "data": {"type": "new_incident"}},
        ("POST", "/v1/next-steps/{step_id}/waive"): {"reason": "Done elsewhere."},
        ("POST", "/v1/next-steps/{step_id}/complete"): {"note": "Done."},
        ("POST", "/v1/staff/{staff_id}/absences"): {"starts_on": "2026-03-02",
                                                    "ends_on": "2026-03-06"},
        ("POST", "/v1/referrals/{referral_id}/{action}"): {},
    }


def _one_field_marked(body: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """``body`` with one field (or one nested field) at a time replaced by a marked value."""
    for name, value in body.items():
        if isinstance(value, dict):
            yield f"{name}: unknown key", {**body, name: {**value, f"x {MARK}": 1}}
            for inner, was in _one_field_marked(value):
                yield f"{name}.{inner}", {**body, name: was}
        elif isinstance(value, list):
            yield f"{name}: list", {**body, name: [*value, MARK]}
        else:
            yield name, {**body, name: f"{MARK} x"}


TEMPLATED = ["POST /v1/services", "POST /v1/cases",
             "PUT /v1/cases/by-external-ref/{system}/{external_id}",
             "PATCH /v1/cases/{case_id}", "POST /v1/cases/{case_id}/judgements",
             "POST /v1/cases/{case_id}/assessments", "POST /v1/cases/{case_id}/referrals",
             "POST /v1/cases/{case_id}/events", "POST /v1/cases/{case_id}/oversight",
             "POST /v1/panels", "POST /v1/panels/{panel_id}/items",
             "POST /v1/services/{slug}/webhooks", "POST /v1/feeds/{source}/referrals",
             "POST /v1/workflow/preview", "POST /v1/next-steps/{step_id}/waive",
             "POST /v1/next-steps/{step_id}/complete", "POST /v1/staff/{staff_id}/absences",
             "POST /v1/referrals/{referral_id}/{action}"]


@pytest.mark.parametrize("operation", TEMPLATED)
async def test_a_refused_field_is_named_never_quoted(
    target: Target, capfd: pytest.CaptureFixture[str], operation: str
) -> None:
    """A body the route parses, with one field at a time marked: whatever refuses it (the
    contract, pydantic, a domain rule, the pack's vocabulary), the answer names the field at
    most, and no log line carries the marker."""
    method, path = operation.split(" ")
    body = _templates(target)[(method, path)]
    failures: list[str] = []
    capfd.readouterr()
    attacks = list(_one_field_marked(body))
    if "{action}" in path:
        attacks = [("action", body)]
    for name, marked in attacks:
        headers = target.auth(method, path)
        if path.startswith("/v1/feeds/"):
            headers["Idempotency-Key"] = uuid.uuid4().hex
        # The marked waiver is stored (a reason is data): it waives a step of its own.
        url = target.url(path, action=f"{MARK}x") if "{action}" in path else target.url(
            path, **({"step_id": target.ids["waived_step_id"]} if path.endswith("/waive")
                     else {}))
        if method == "PATCH":
            current = await target.client.get(url, headers=headers)
            headers["If-Match"] = current.headers["etag"]
        r = await target.client.request(method, url, json=marked, headers=headers)
        assert r.status_code < 500, (name, r.text)
        failures += [f"{name} -> {r.status_code} {leak}" for leak in _leaks(r)]
        logged = [line for line in capfd.readouterr().out.splitlines()
                  if MARK.lower() in line.lower()]
        failures += [f"{name} -> log: {line[:400]}" for line in logged]
    for name, headers, sent in _marked_headers(target, method, path, body):
        url = target.url(path, action="submit")
        r = await target.client.request(method, url, json=sent, headers=headers)
        assert r.status_code < 500, (name, r.text)
        failures += [f"{name} -> {r.status_code} {leak}" for leak in _leaks(r)]
        logged = [line for line in capfd.readouterr().out.splitlines()
                  if MARK.lower() in line.lower()]
        failures += [f"{name} -> log: {line[:400]}" for line in logged]
    assert not failures, "\n".join(failures)


def _marked_headers(
    t: Target, method: str, path: str, body: dict[str, Any]
) -> list[tuple[str, dict[str, str], dict[str, Any]]]:
    """The route's body with a marked header: a feed's Idempotency-Key (too long, and reused
    with another body), a PATCH's If-Match (unknown, weak, too long)."""
    auth = t.auth(method, path)
    if path.startswith("/v1/feeds/"):
        key = f"{MARK}-{uuid.uuid4().hex}"
        other = {**body, "received_at": "2026-06-05T11:15:00+01:00"}
        return [("Idempotency-Key", {**auth, "Idempotency-Key": MARK * 40}, body),
                ("Idempotency-Key", {**auth, "Idempotency-Key": key}, body),
                ("Idempotency-Key reused", {**auth, "Idempotency-Key": key}, other)]
    if method == "PATCH":
        return [("If-Match", {**auth, "If-Match": f'"{MARK}"'}, body),
                ("If-Match", {**auth, "If-Match": f'W/"{MARK}", {MARK}'}, body),
                ("If-Match", {**auth, "If-Match": MARK * 30}, body)]
    return []


async def test_an_unknown_key_is_placed_by_its_position(target: Target) -> None:
    """``{"child": {..., "Jane Smith": 1}}``: the error is at ``body.child`` and says which key
    of it (the 4th) the contract does not know, without its text; a misspelt query parameter
    likewise by its place in the query string."""
    body = _templates(target)[("POST", "/v1/cases")]
    body = {**body, "child": {**body["child"], "Jane Smith": 1},
            "external_ref": {"system": "IYSS", "id": "ECHO-2"}}
    r = await target.client.post("/v1/cases", json=body,
                                 headers=target.auth("POST", "/v1/cases"))
    assert r.status_code == 422, r.text
    assert r.json()["errors"] == [
        {"loc": "body.child", "msg": "Extra inputs are not permitted (at key 4 of this object)"}]
    r = await target.client.get("/v1/cases?limit=5&Jane+Smith=1",
                                headers=target.auth("GET", "/v1/cases"))
    assert r.status_code == 422, r.text
    assert r.json()["errors"] == [{"loc": "query", "msg": (
        "unknown query parameter (parameter 2 of the query string); this route takes "
        "case_holder_id, cursor, external_id, external_system, limit, on_register")}]
