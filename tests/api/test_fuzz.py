"""Property-based API fuzz (schemathesis) and regression tests for what it found.

Every operation of the live OpenAPI document is driven with schema-valid ("positive") and
schema-violating ("negative") path parameters, query strings, headers and bodies, with a valid
token on every call, against both random ids and ids of records seeded for the run. Every
response must hold the service's standard: bad input gets a clear RFC 9457 problem
(``application/problem+json`` with type, title, status and detail), never a 500 (the only 5xx
allowed is a deliberate 503 problem), no stack trace or SQL text leaks, and nothing stored
before the fuzz is lost. Bounded and derandomised (``YJ_FUZZ_EXAMPLES``, default 25 examples
per operation; raise it for a deeper local run).
"""

from __future__ import annotations

import json
import os
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.python import asgi

from app.core.config import Settings
from app.core.deps import MAX_JSON_DEPTH
from app.core.security import mint_dev_token
from app.main import create_app
from tests.conftest import Tenant

CONTRACT = Path(__file__).resolve().parents[2] / "openapi" / "openapi.json"
OPERATIONS = [
    (method.upper(), path)
    for path, item in json.loads(CONTRACT.read_text())["paths"].items()
    for method in item
]
MAX_EXAMPLES = int(os.environ.get("YJ_FUZZ_EXAMPLES", "25"))
STAFF = ["line_manager", "duty_manager", "case_holder", "chair", "panel_admin"]
STAFF_SUB = "fuzz-staff"
PROBLEM_KEYS = ("type", "title", "status", "detail")
# Anything that betrays internals: Python tracebacks, driver/ORM names, SQL statements.
LEAK = re.compile(
    r"Traceback \(most recent call last\)|File \"/|\bsqlalchemy\b|asyncpg|aiosqlite|sqlite3"
    r"|psycopg|IntegrityError|OperationalError|DataError|ProgrammingError|\[SQL: |\[parameters: "
    r"|\bSELECT\b.+\bFROM\b|\bINSERT INTO\b|\bUPDATE\b.+\bSET\b|\bDELETE FROM\b",
)


@dataclass(repr=False)
class Fuzz:
    """The fuzzed app, its schema and the records seeded for the run."""

    settings: Settings
    schema: Any
    client: asgi.ASGIClient
    slug: str
    ids: dict[str, str] = field(default_factory=dict)
    snapshot: dict[str, Any] = field(default_factory=dict)

    def token(self, path: str, method: str) -> str:
        """A valid token for the operation: admin for creating services and for webhooks,
        feed for feeds."""
        if (method == "POST" and path == "/v1/services") or "/webhooks" in path:
            return mint_dev_token(self.settings, sub="fuzz-admin", roles=["admin"], service=None)
        roles = [*STAFF, "feed"] if path.startswith("/v1/feeds/") else STAFF
        return mint_dev_token(self.settings, sub=STAFF_SUB, roles=roles, service=self.slug,
                              scope="feed:emrac feed:mappa" if "feed" in roles else None)

    def headers(self, path: str = "", method: str = "GET") -> dict[str, str]:
        """The Authorization header for the operation."""
        return {"Authorization": f"Bearer {self.token(path, method)}"}

    def write(self, url: str, body: dict[str, Any]) -> dict[str, Any]:
        """A seeding POST that must succeed."""
        r = self.client.post(url, json=body, headers=self.headers(url, "POST"))
        assert r.status_code in (200, 201), r.text
        return r.json()["data"]  # type: ignore[no-any-return]

    def read(self, url: str) -> Any:
        """A GET that must succeed; a list read whole (every page, A16-15)."""
        r = self.client.get(url, headers=self.headers(url))
        assert r.status_code == 200, r.text
        body = r.json()
        data = body["data"]
        while body.get("next_cursor"):
            r = self.client.get(url, params={"cursor": body["next_cursor"]},
                                headers=self.headers(url))
            assert r.status_code == 200, r.text
            body = r.json()
            data += body["data"]
        return data


def _seed(fz: Fuzz) -> None:
    """A case with a judgement, an assessment, a referral, an event and a panel item."""
    case = fz.write("/v1/cases", {
        "child": {"given_name": "Fuzz", "family_name": "Seed", "date_of_birth": "2010-05-01"},
        "external_ref": {"system": "IYSS", "id": "FUZZ-1"},
        "case_holder_id": STAFF_SUB, "line_manager_id": "fuzz-lm", "intervention": "court_order",
        "csc_status": "none", "opened_at": "2026-03-02T09:00:00Z",
    })
    cid = case["id"]
    fz.write(f"/v1/cases/{cid}/judgements", {
        "domain": "rosh", "level": "high", "occurred_at": "2026-03-03T10:00:00Z"})
    assessment = fz.write(f"/v1/cases/{cid}/assessments", {
        "type": "asset_plus", "stage": "start", "occurred_at": "2026-03-04T10:00:00Z"})
    referral = fz.write(f"/v1/cases/{cid}/referrals", {"kind": "panel", "details": {"a": 1}})
    panel = fz.write("/v1/panels", {
        "kind": "marp", "scheduled_for": "2026-04-01T10:00:00Z", "chair_id": "fuzz-chair"})
    # On the agenda from the register: the referral stays a draft (for the fuzzed transitions),
    # and a draft cannot put a case on an agenda (Somerset 3.2.3, 6.2).
    item = fz.write(f"/v1/panels/{panel['id']}/items", {
        "case_id": cid, "presenter_id": "fuzz-presenter"})
    steps = fz.read(f"/v1/next-steps?case_id={cid}")
    assert steps, "the seeded judgement should mandate steps"
    fz.ids.update(
        case_id=cid, assessment_id=assessment["id"], referral_id=referral["id"],
        panel_id=panel["id"], item_id=item["id"], step_id=steps[0]["id"], slug=fz.slug,
        pack_id="somerset-yjt-2023",
    )
    fz.snapshot = {
        "case": fz.read(f"/v1/cases/{cid}"),
        "judgements": fz.read(f"/v1/cases/{cid}/judgements"),
        "assessments": fz.read(f"/v1/cases/{cid}/assessments"),
        "referrals": fz.read(f"/v1/cases/{cid}/referrals"),
        "panel_items": fz.read(f"/v1/panels/{panel['id']}")["items"],
        "audit": fz.read(f"/v1/cases/{cid}/audit"),
    }


@pytest.fixture(scope="module")
def fuzz(settings: Settings) -> Iterator[Fuzz]:
    """A second app on the run's database, served by schemathesis' in-process ASGI client
    (its own event loop thread), with a fresh service and seeded records."""
    app = create_app(settings)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    # Every call carries a valid token: fuzz the input, not the authentication (test_auth.py).
    schema.config.generation.update(with_security_parameters=False, deterministic=True)
    slug = f"fz-{uuid.uuid4().hex[:10]}"
    try:
        with asgi.get_client(app) as client:
            fz = Fuzz(settings=settings, schema=schema, client=client, slug=slug)
            fz.write("/v1/services", {"slug": slug, "name": "Fuzz", "policy_pack":
                                      "somerset-yjt-2023"})
            _seed(fz)
            yield fz
    finally:
        asgi.shutdown_lifespans()  # dispose the engine before the database is dropped


def _header(response: Any, name: str) -> str:
    """A header of a schemathesis (lists of values) or httpx/requests response."""
    for key, value in response.headers.items():
        if key.lower() == name:
            return value[0] if isinstance(value, list) else str(value)
    return ""


def assert_standard(response: Any, where: str) -> None:
    """The standard every response must hold (``where`` reproduces the request)."""
    status = response.status_code
    text = response.text
    assert status < 500 or status == 503, f"{status} server error\n{where}\n{text[:2000]}"
    ctype = _header(response, "content-type").split(";")[0].strip()
    if status < 400:
        if ctype == "text/html":  # a page asked for (subject access export, format=html)
            assert text.startswith("<!doctype html>"), f"{status} page\n{where}"
        elif status != 204:
            response.json()  # any other 2xx answer is JSON
        return
    assert ctype == "application/problem+json", f"{status} as {ctype!r}\n{where}\n{text[:2000]}"
    body = response.json()
    assert isinstance(body, dict), f"problem is not an object\n{where}\n{text[:2000]}"
    missing = [k for k in PROBLEM_KEYS if not body.get(k)]
    assert not missing, f"problem lacks {missing}\n{where}\n{text[:2000]}"
    assert body["status"] == status, f"problem status {body['status']} != {status}\n{where}"
    assert isinstance(body["type"], str), where
    assert body["type"].startswith("https://"), where
    leak = LEAK.search(text)
    assert leak is None, f"internals leak ({leak.group(0)!r})\n{where}\n{text[:2000]}"
    if status == 503:
        assert body["type"].endswith(("/unavailable", "/not-ready")), f"undeliberate 503\n{where}"


def _strategy(fz: Fuzz, method: str, path: str) -> st.SearchStrategy[Any]:
    """Positive and negative cases, with random ids and (three times as often) the seeded ones."""
    operation = fz.schema[path][method]
    names = re.findall(r"{(\w+)}", path)
    seeded = {n: fz.ids[n] for n in names if n in fz.ids}
    has_input = bool(operation.body or operation.query or operation.headers)
    strategies = []
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
        if mode is GenerationMode.POSITIVE or names or has_input:
            strategies.append(operation.as_strategy(generation_mode=mode))
        if seeded and (mode is GenerationMode.POSITIVE or has_input or len(seeded) < len(names)):
            strategies += [operation.as_strategy(generation_mode=mode, path_parameters=seeded)] * 3
    return st.tuples(st.one_of(strategies), st.booleans())


def _aim(fz: Fuzz, case: Any, method: str, path: str) -> None:
    """Point ids inside the body, the feed's case reference, a feed key and the case's current
    ETag at the seeded records, so generated bodies get past "no such record" to the rules."""
    body = case.body
    if isinstance(body, dict):
        for key in ("case_id", "referral_id", "assessment_id"):
            if key in body and key in fz.ids:
                body[key] = fz.ids[key]
        if "case_external_ref" in body:
            body["case_external_ref"] = {"system": "IYSS", "id": "FUZZ-1"}
    headers = case.headers if case.headers is not None else {}
    if path.startswith("/v1/feeds/") and "Idempotency-Key" not in headers:
        headers["Idempotency-Key"] = str(uuid.uuid4())
    if method == "PATCH" and (case.path_parameters or {}).get("case_id") == fz.ids["case_id"]:
        r = fz.client.get(f"/v1/cases/{fz.ids['case_id']}", headers=fz.headers())
        headers["If-Match"] = r.headers["ETag"]
    case.headers = headers


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_fuzz_operation(fuzz: Fuzz, method: str, path: str) -> None:
    """Every generated request gets a 2xx/3xx/4xx (or a deliberate 503) held to the standard."""

    @hypothesis_settings(
        max_examples=MAX_EXAMPLES, derandomize=True, deadline=None, database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                               HealthCheck.data_too_large],
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
    )
    @given(drawn=_strategy(fuzz, method, path))
    def check(drawn: tuple[Any, bool]) -> None:
        case, aim = drawn
        if aim:
            _aim(fuzz, case, method, path)
        try:
            response = case.call(session=fuzz.client, headers=fuzz.headers(path, method))
        except Exception as exc:  # the ASGI client re-raises what the app answered 500 for
            pytest.fail(f"500 server error: {type(exc).__name__}: {exc}\n{case.as_curl_command()}")
        assert_standard(response, case.as_curl_command())

    check()


def test_nothing_stored_before_the_fuzz_is_lost(fuzz: Fuzz) -> None:
    """After every operation was fuzzed, the seeded records are all still there."""
    cid = fuzz.ids["case_id"]
    before = fuzz.snapshot
    case = fuzz.read(f"/v1/cases/{cid}")
    assert case["id"] == cid
    assert case["child"] == before["case"]["child"]
    for name, url in (("judgements", f"/v1/cases/{cid}/judgements"),
                      ("assessments", f"/v1/cases/{cid}/assessments"),
                      ("referrals", f"/v1/cases/{cid}/referrals"),
                      ("audit", f"/v1/cases/{cid}/audit")):
        now = {row["id"] for row in fuzz.read(url)}
        lost = {row["id"] for row in before[name]} - now
        assert not lost, f"{name} lost: {lost}"
    items = {i["id"] for i in fuzz.read(f"/v1/panels/{fuzz.ids['panel_id']}")["items"]}
    assert {i["id"] for i in before["panel_items"]} <= items


# Regressions for what the fuzz (and probing around what it found) turned up. Each was a 500.


def _problem(r: httpx.Response, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert_standard(r, f"{r.request.method} {r.request.url}")
    return r.json()  # type: ignore[no-any-return]


def _raw(tenant: Tenant, role: str = "case_holder") -> dict[str, str]:
    return {**tenant.auth(role), "content-type": "application/json"}


async def test_occurred_at_at_the_edge_of_the_calendar_is_422_not_overflow(
    client: httpx.AsyncClient, somerset: Tenant
) -> None:
    """Year 1 with a positive offset overflowed converting to UTC; year 1 in UTC overflowed
    converting to London time. Both are now refused, and nothing is recorded."""
    case = (await somerset.open_case())["data"]
    url = f"/v1/cases/{case['id']}/judgements"
    for moment in ("0001-01-01T00:00:00+00:01", "0001-01-02T00:00:00Z", "1899-12-31T23:59:59Z"):
        r = await client.post(url, json={"domain": "rosh", "level": "high", "occurred_at": moment},
                              headers=somerset.auth("case_holder"))
        assert _problem(r, 422)["errors"][0]["loc"] == "body.occurred_at"
    body = {"child": {"given_name": "A", "family_name": "B", "date_of_birth": "2010-01-01"},
            "case_holder_id": "case_holder-1", "line_manager_id": "line_manager-1",
            "intervention": "court_order", "csc_status": "none",
            "opened_at": "0001-01-01T00:00:00Z"}
    _problem(await client.post("/v1/cases", json=body, headers=somerset.auth("line_manager")), 422)
    r = await client.get(url, headers=somerset.auth("case_holder"))
    assert r.json()["data"] == []


async def test_panel_scheduled_at_the_edge_of_the_calendar_is_422_not_overflow(
    client: httpx.AsyncClient, somerset: Tenant
) -> None:
    """scheduled_for of year 1 (+00:01) or 9999 (-00:01) overflowed in the database driver."""
    for moment in ("0001-01-01T00:00:00+00:01", "9999-12-31T23:59:59-00:01"):
        r = await client.post("/v1/panels", json={"kind": "marp", "scheduled_for": moment,
                                                  "chair_id": "chair-1"},
                              headers=somerset.auth("panel_admin"))
        assert _problem(r, 422)["errors"][0]["loc"] == "body.scheduled_for"
    r = await client.get("/v1/panels", params={"upcoming": "false"},
                         headers=somerset.auth("panel_admin"))
    assert r.json()["data"] == []


async def test_nul_in_text_is_422_not_a_database_error(
    client: httpx.AsyncClient, somerset: Tenant
) -> None:
    """PostgreSQL cannot store U+0000 in text or jsonb: it was a DBAPIError (500) there."""
    body = {"child": {"given_name": "a\x00b", "family_name": "B", "date_of_birth": "2010-01-01"},
            "case_holder_id": "case_holder-1", "line_manager_id": "line_manager-1",
            "intervention": "court_order", "csc_status": "none"}
    problem = _problem(await client.post("/v1/cases", json=body,
                                         headers=somerset.auth("line_manager")), 422)
    assert problem["errors"] == [{"loc": "body.child.given_name",
                                  "msg": "text must not contain U+0000"}]
    case = (await somerset.open_case())["data"]
    url = f"/v1/cases/{case['id']}/referrals"
    for details in ({"note": "a\x00"}, {"a\x00": 1}):
        r = await client.post(url, json={"kind": "panel", "details": details},
                              headers=somerset.auth("case_holder"))
        _problem(r, 422)
    assert (await client.get(url, headers=somerset.auth("case_holder"))).json()["data"] == []


async def test_nul_in_a_query_filter_is_422_not_a_database_error(
    client: httpx.AsyncClient, somerset: Tenant
) -> None:
    """A NUL in a filter compared against a text column was a DBAPIError on PostgreSQL."""
    for url in ("/v1/cases?case_holder_id=a%00b", "/v1/cases?external_system=a%00&external_id=b",
                "/v1/next-steps?actor=a%00b"):
        problem = _problem(await client.get(url, headers=somerset.auth("line_manager")), 422)
        assert problem["errors"][0]["loc"].startswith("query.")


async def test_lone_surrogate_is_422_and_the_case_stays_readable(
    client: httpx.AsyncClient, somerset: Tenant
) -> None:
    """A lone surrogate was stored (SQLite) and then every answer carrying it failed to encode:
    a 500 for the write that had committed, and for each later read of the case's referrals."""
    case = (await somerset.open_case())["data"]
    url = f"/v1/cases/{case['id']}/referrals"
    for raw in ('{"kind": "panel", "details": {"note": "a\\ud800b"}}',
                '{"kind": "panel", "details": {"a\\udfff": 1}}'):
        problem = _problem(await client.post(url, content=raw, headers=_raw(somerset)), 422)
        assert "surrogate" in problem["errors"][0]["msg"]
    r = await client.get(url, headers=somerset.auth("case_holder"))
    assert r.status_code == 200
    assert r.json()["data"] == []


async def test_non_finite_numbers_in_details_are_422(
    client: httpx.AsyncClient, somerset: Tenant
) -> None:
    """NaN and Infinity are not JSON; jsonb refused them (500 on PostgreSQL)."""
    case = (await somerset.open_case())["data"]
    url = f"/v1/cases/{case['id']}/referrals"
    for number in ("NaN", "Infinity", "-Infinity", "1e400"):
        raw = '{"kind": "panel", "details": {"score": ' + number + "}}"
        problem = _problem(await client.post(url, content=raw, headers=_raw(somerset)), 422)
        assert problem["errors"] == [{"loc": "body.details.score", "msg": "numbers must be finite"}]
    assert (await client.get(url, headers=somerset.auth("case_holder"))).json()["data"] == []


async def test_details_nested_too_deep_is_refused_before_anything_is_stored(
    client: httpx.AsyncClient, somerset: Tenant
) -> None:
    """details nested a few hundred levels deep was stored, then its answer (and every later
    read) exceeded the serialiser's depth: 500 after commit. Now 422 at the door, also for
    nesting too deep for the parser (it was 400 there until attack 33, ATTACK33-3)."""
    case = (await somerset.open_case())["data"]
    url = f"/v1/cases/{case['id']}/referrals"
    ok: dict[str, Any] = {"leaf": 1}
    for _ in range(MAX_JSON_DEPTH - 3):
        ok = {"k": ok}
    r = await client.post(url, json={"kind": "panel", "details": ok},
                          headers=somerset.auth("case_holder"))
    assert r.status_code == 201, r.text
    deep: dict[str, Any] = {"leaf": 1}
    for _ in range(300):
        deep = {"k": deep}
    problem = _problem(await client.post(url, json={"kind": "panel", "details": deep},
                                         headers=somerset.auth("case_holder")), 422)
    assert "nested deeper" in problem["errors"][0]["msg"]
    very_deep = '{"kind": "panel", "details": {"a": ' + "[" * 5000 + "]" * 5000 + "}}"
    problem = _problem(await client.post(url, content=very_deep, headers=_raw(somerset)), 422)
    assert "nested deeper" in problem["errors"][0]["msg"]  # one limit, one answer (ATTACK33-3)
    listed = (await client.get(url, headers=somerset.auth("case_holder"))).json()["data"]
    assert len(listed) == 1


async def test_unauthenticated_bad_input_is_401_not_a_validation_hint(
    client: httpx.AsyncClient,
) -> None:
    """A stranger sending unstorable input is told only to authenticate."""
    r = await client.post("/v1/cases", json={"child": {"given_name": "A\u0000"}})
    assert r.status_code == 401
