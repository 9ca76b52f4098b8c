"""Issue 9 part 6 (and the If-Match part of 7): opaque and free-form input is decoded into
typed, bounded values or refused with 422; nothing from the request reaches a log line."""

from __future__ import annotations

import base64
import json
import logging
import uuid
from typing import Any

import httpx
import pytest

from tests.conftest import Tenant


def _cursor(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


CASE_ID = str(uuid.uuid4())
BAD_CURSORS = {
    "naive_timestamp": _cursor(f"2026-01-01T00:00:00|{CASE_ID}"),
    "date_only": _cursor(f"2026-01-01|{CASE_ID}"),
    "no_separator": _cursor("2026-01-01T00:00:00+00:00"),
    "bad_uuid": _cursor("2026-01-01T00:00:00+00:00|not-a-uuid"),
    "year_1": _cursor(f"0001-01-01T00:00:00+00:00|{CASE_ID}"),
    "year_9999": _cursor(f"9999-12-31T23:59:59+00:00|{CASE_ID}"),
    "not_base64": "%%%%",
    "padded": _cursor(f"2026-01-01T00:00:00+00:00|{CASE_ID}") + "==",
    "non_ascii": _cursor(f"2026-01-01T00:00:00+00:00|{CASE_ID}é"),
    "binary": base64.urlsafe_b64encode(b"\xff\xfe\x00\x01").decode().rstrip("="),
    "empty_parts": _cursor("|"),
    "huge_offset": _cursor(f"2026-01-01T00:00:00+25:00|{CASE_ID}"),
}


@pytest.mark.parametrize("name", sorted(BAD_CURSORS))
async def test_bad_cursor_is_422_and_connection_kept(
    client: httpx.AsyncClient, somerset: Tenant, name: str
) -> None:
    """The attack from the issue (a timestamp without an offset) and its kin: 422 problem."""
    r = await client.get("/v1/cases", params={"cursor": BAD_CURSORS[name]},
                         headers=somerset.auth("case_holder"))
    assert r.status_code == 422, r.text
    assert r.json()["errors"] == [{"loc": "query.cursor", "msg": "invalid cursor"}]


async def test_good_cursor_pages_through(client: httpx.AsyncClient, somerset: Tenant) -> None:
    """Control: the service's own cursors (with an offset) page through the caseload."""
    for _ in range(3):
        await somerset.open_case()
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        r = await client.get("/v1/cases", params=params, headers=somerset.auth("case_holder"))
        assert r.status_code == 200, r.text
        seen += [c["id"] for c in r.json()["data"]]
        cursor = r.json()["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 3
    # A well-formed cursor the service did not make for this query (built by hand) is refused:
    # cursors are opaque and bound to their query.
    offset = _cursor(f"2026-01-01T01:00:00+01:00|{CASE_ID}")
    r = await client.get("/v1/cases", params={"cursor": offset},
                         headers=somerset.auth("case_holder"))
    assert r.status_code == 422
    assert r.json()["errors"] == [{"loc": "query.cursor", "msg": "invalid cursor"}]


async def test_cursor_is_valid_for_its_own_query_only(
    client: httpx.AsyncClient, somerset: Tenant
) -> None:
    """docs/integrating.md: a cursor is "valid for the same query only". The register's cursor
    on the caseload, or a caseload cursor with another filter, is 422 naming query.cursor; the
    same query goes on."""
    chair = somerset.auth("chair")
    for _ in range(3):
        case = (await somerset.open_case())["data"]
        r = await client.post(f"/v1/cases/{case['id']}/judgements",
                              json={"domain": "rosh", "level": "high",
                                    "occurred_at": "2026-06-01T10:00:00+01:00"},
                              headers=somerset.auth("case_holder"))
        assert r.status_code == 201, r.text
    register = (await client.get("/v1/register", params={"limit": 1}, headers=chair)).json()
    cursor = register["next_cursor"]
    assert cursor is not None
    r = await client.get("/v1/cases", params={"cursor": cursor, "limit": 1}, headers=chair)
    assert r.status_code == 422, r.text
    assert r.json()["errors"] == [{"loc": "query.cursor", "msg": "cursor of another query"}]
    page = (await client.get("/v1/cases", params={"limit": 1}, headers=chair)).json()
    r = await client.get("/v1/cases", headers=chair, params={
        "cursor": page["next_cursor"], "limit": 1, "case_holder_id": "case_holder-1"})
    assert r.status_code == 422, r.text
    r = await client.get("/v1/cases", headers=chair,
                         params={"cursor": page["next_cursor"], "limit": 2})
    assert r.status_code == 200, r.text
    r = await client.get("/v1/register", params={"cursor": cursor, "limit": 1}, headers=chair)
    assert r.status_code == 200, r.text


PREVIEW_BAD_DATA = [
    ("case_changed", {"changes": "x"}, "body.data.changes"),
    ("case_changed", {"changes": {"mappa_level": "x"}}, "body.data.changes.mappa_level"),
    ("case_changed", {"changes": {"mappa_level": [1, "high"]}},
     "body.data.changes.mappa_level.1"),
    ("case_changed", {"changes": {"nonsense": [1, 2]}}, "body.data.changes"),
    ("case_changed", {}, "body.data.changes"),
    ("case_event", {"type": []}, "body.data.type"),
    ("case_event", {"type": "new_incident", "may_raise_to_high": {"a": 1}},
     "body.data.may_raise_to_high"),
    ("case_event", {"type": "transfer_in", "incoming_ratings": {"rosh": ["high"]}},
     "body.data.incoming_ratings.rosh"),
    ("referral_transition", {"kind": "panel", "action": "explode", "to_status": "sent"},
     "body.data.action"),
    ("panel_decision", {"panel_kind": "marp", "actions": "all"}, "body.data.actions"),
    ("step_completed", {"code": {"x": 1}, "rule_id": "S5"}, "body.data.code"),
    ("step_completed", {"code": "c", "rule_id": "S5", "due_at": "2026-01-01T00:00:00"},
     "body.data.due_at"),
    ("assessment_submitted", {"type": "asset_plus", "stage": "start", "extra": 1},
     "body.data"),
    ("case_opened", {"subject_id": "not-a-uuid"}, "body.data.subject_id"),
]


@pytest.mark.parametrize(("trigger", "data", "loc"), PREVIEW_BAD_DATA)
async def test_preview_data_is_validated_per_trigger(
    client: httpx.AsyncClient, somerset: Tenant, caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str], trigger: str, data: dict[str, Any], loc: str,
) -> None:
    """``{"trigger": "case_changed", "data": {"changes": "x"}}`` and its kin: 422 with the
    field named in ``errors``; the request's values appear in no log line."""
    case = (await somerset.open_case())["data"]
    marker = "SECRET-MARKER-" + uuid.uuid4().hex
    body = {"case_id": case["id"], "trigger": trigger,
            "data": {**data, **({"subject_id": marker} if trigger == "case_opened" else {})}}
    if trigger != "case_opened":
        body["data"] = {**data}
        body["data"].setdefault("subject_id", None)
    with caplog.at_level(logging.DEBUG):
        r = await client.post("/v1/workflow/preview", json=body,
                              headers=somerset.auth("case_holder"))
    assert r.status_code == 422, r.text
    assert loc in {e["loc"] for e in r.json()["errors"]}, r.text
    logged = caplog.text + capsys.readouterr().out
    assert marker not in logged
    assert json.dumps(data) not in logged


async def test_preview_valid_trigger_data_is_200(
    client: httpx.AsyncClient, somerset: Tenant
) -> None:
    """Control: well-formed data for a trigger is evaluated."""
    case = (await somerset.open_case())["data"]
    r = await client.post("/v1/workflow/preview", json={
        "case_id": case["id"], "trigger": "case_event",
        "data": {"type": "new_incident", "may_raise_to_high": True}},
        headers=somerset.auth("case_holder"))
    assert r.status_code == 200, r.text
    r = await client.post("/v1/workflow/preview", json={
        "case_id": case["id"], "trigger": "case_changed",
        "data": {"changes": {"csc_status": ["none", "cp"]}}},
        headers=somerset.auth("case_holder"))
    assert r.status_code == 200, r.text


async def test_if_match_is_compared_strongly(client: httpx.AsyncClient, somerset: Tenant) -> None:
    """RFC 9110 §13.1.1: a weak tag never matches for If-Match: W/"1" is 412, "1" is 200."""
    case = (await somerset.open_case())["data"]
    url = f"/v1/cases/{case['id']}"
    manager = somerset.auth("line_manager")
    etag = (await client.get(url, headers=manager)).headers["ETag"]
    r = await client.patch(url, json={"csc_status": "cin"},
                           headers={**manager, "If-Match": f"W/{etag}"})
    assert r.status_code == 412, r.text
    r = await client.patch(url, json={"csc_status": "cin"},
                           headers={**manager, "If-Match": f'W/{etag}, "999"'})
    assert r.status_code == 412
    r = await client.patch(url, json={"csc_status": "cin"}, headers={**manager, "If-Match": etag})
    assert r.status_code == 200, r.text


@pytest.mark.parametrize(("field", "value"), [
    ("occurred_at", 0), ("occurred_at", 1.5e9), ("mappa_level", "2"), ("mappa_level", 2.0),
    ("weapon_related", 1), ("weapon_related", "true"), ("csc_status", 3),
])
async def test_body_values_must_have_the_contracts_json_types(
    client: httpx.AsyncClient, somerset: Tenant, field: str, value: Any
) -> None:
    """pydantic would take 0 as a date-time, "2" as an integer, 1 or "true" as a boolean; the
    contract says otherwise, so the write is 422 (naming the field) and nothing changes."""
    case = (await somerset.open_case())["data"]
    url = f"/v1/cases/{case['id']}"
    manager = somerset.auth("line_manager")
    etag = (await client.get(url, headers=manager)).headers["ETag"]
    r = await client.patch(url, json={field: value}, headers={**manager, "If-Match": etag})
    assert r.status_code == 422, r.text
    assert f"body.{field}" in {e["loc"] for e in r.json()["errors"]}
    assert str(value) not in json.dumps(r.json()["errors"])
    assert (await client.get(url, headers=manager)).headers["ETag"] == etag


async def test_a_trailing_slash_is_not_redirected_to_the_hosts_own_url(
        client: httpx.AsyncClient, somerset: Tenant) -> None:
    """Attack pass 32b, ATTACK32B-8: ``GET /v1/cases/`` (any route with a slash added) was a
    307 to ``http://<the request's Host header>/v1/cases``, before authentication, and a
    ``POST /v1/cases/`` with a token too: a client following it resends its token and body to
    a host and scheme the request chose. A path with a trailing slash is now a path no route
    has: 404 problem+json, no Location, with or without a token."""
    body = {"child": {"given_name": "Sam", "family_name": "Taylor",
                      "date_of_birth": "2010-05-01"}}
    for method, path, headers in (
            ("GET", "/v1/cases/", {}),
            ("GET", "/v1/next-steps/?assignee=me", somerset.auth("case_holder")),
            ("POST", "/v1/cases/", somerset.auth("line_manager")),
            ("GET", "/healthz/", {})):
        r = await client.request(method, path, json=body if method == "POST" else None,
                                 headers={**headers, "Host": "evil.example"})
        assert (r.status_code, r.headers.get("location")) == (404, None), (path, r.text)
        assert r.headers["content-type"].startswith("application/problem+json"), path


async def test_a_body_that_cannot_be_read_says_what_to_send(
        client: httpx.AsyncClient, somerset: Tenant) -> None:
    """Attack pass 32b, ATTACK32B-6: a body in Latin-1 (a CMS sending "café" as Windows-1252)
    and JSON nested 5,000 deep were answered with the framework's "There was an error parsing
    the body". The first is now a malformed-json problem saying what to send: UTF-8 (RFC 8259
    §8.1); the second the nesting limit's one answer, 422 at the first value deeper than 32
    levels, as at 33 levels (attack 33, ATTACK33-3); the bytes sent are not in the answer."""
    case = (await somerset.open_case())["data"]
    url = f"/v1/cases/{case['id']}/oversight"
    headers = {**somerset.auth("line_manager"), "Content-Type": "application/json"}
    for content, status, slug, detail in (
            ('{"note": "Spoke to Zoë Café"}'.encode("latin-1"), 400, "malformed-json",
             "The request body is not UTF-8 text: send JSON encoded as UTF-8 (RFC 8259, "
             "section 8.1)."),
            (b'{"note": ' + b"[" * 5000 + b"]" * 5000 + b"}", 422, "validation-error",
             "The request holds a value that cannot be stored; see errors.")):
        r = await client.post(url, content=content, headers=headers)
        assert r.status_code == status, r.text
        problem = r.json()
        assert (problem["type"].rsplit("/", 1)[1], problem["detail"]) == (slug, detail)
        assert "Caf" not in r.text
