"""Machine clients are scoped to what they are for (attack pass 9, A9-19), from the attacker's
side.

One ``feed`` role used to serve every machine client, so the EMRAC and MAPPA referral feeds'
credentials (whose only job is ``POST /v1/feeds/{source}/referrals``) could upsert a case by its
external reference and get a restricted case back in full, and record deaths, charges or custody
moves on any case. A feed token now carries a ``scope`` claim (RFC 9068 §2.2.3, space-separated):
``cms`` (the case management system: open and upsert cases, record events), ``feed:emrac`` or
``feed:mappa`` (that feed's own deliveries). Every route checks the scope before the body is
read (403), and a restricted case is answered to a machine client as its ids only.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from app.core.security import MACHINE_SCOPES, mint_dev_token
from app.domain.access import FEED_SCOPES, ROLE_TABLE
from app.domain.feeds import FeedSource
from tests.api.integrity_support import assert_problem
from tests.api.support import concrete_path, restrict
from tests.conftest import Tenant

GIVEN, FAMILY = "Secret", "Kidd"
SCOPES = (None, "cms", "feed:emrac", "feed:mappa", "openid profile", "cms:read feed:*")

# Every route a machine client may call, with the one scope that lets it (``*``: any machine
# scope) and its answer to that scope with unknown ids and a body of ``{}``. Written from
# api-v1.md and the brief, not from app.domain.access.FEED_SCOPES.
FEED_ROUTES: dict[tuple[str, str], tuple[str, int]] = {
    ("POST", "/v1/cases"): ("cms", 422),
    ("PUT", "/v1/cases/by-external-ref/{system}/{external_id}"): ("cms", 422),
    ("POST", "/v1/cases/{case_id}/events"): ("cms", 422),
    ("POST", "/v1/feeds/emrac/referrals"): ("feed:emrac", 422),
    ("POST", "/v1/feeds/mappa/referrals"): ("feed:mappa", 422),
    ("GET", "/v1/referrals/transitions"): ("*", 200),
    ("GET", "/v1/policy-packs"): ("*", 200),
    ("GET", "/v1/policy-packs/{pack_id}"): ("*", 200),
}


def feed_auth(tenant: Tenant, scope: Any, sub: str = "machine-1") -> dict[str, str]:
    """A ``feed`` token of the tenant's service with this ``scope`` claim (None: none)."""
    token = mint_dev_token(tenant.settings, sub=sub, roles=["feed"], service=tenant.slug,
                           scope=scope)
    return {"Authorization": f"Bearer {token}"}


def _grants(scope: str | None, needed: str) -> bool:
    held = set((scope or "").split()) & MACHINE_SCOPES
    return bool(held) if needed == "*" else needed in held


def _concrete(path: str) -> str:
    return concrete_path(path, {"system": "IYSS", "external_id": "X-1",
                                "pack_id": "somerset-yjt-2023"})


async def _operations(client: httpx.AsyncClient) -> list[tuple[str, str]]:
    paths = (await client.get("/openapi.json")).json()["paths"]
    found = []
    for path, ops in paths.items():
        if not path.startswith("/v1") or path == "/v1/calendar/{token}.ics":
            continue
        for method in ops:
            if path == "/v1/feeds/{source}/referrals":
                found += [(method.upper(), f"/v1/feeds/{s.value}/referrals") for s in FeedSource]
            elif path == "/v1/referrals/{referral_id}/{action}":
                found += [(method.upper(), f"/v1/referrals/{{referral_id}}/{a}")
                          for a in ("submit", "send", "withdraw")]
            else:
                found.append((method.upper(), path))
    return sorted(found)


def test_every_act_a_feed_may_attempt_names_its_scopes() -> None:
    """The scope table covers exactly the acts whose role row names ``feed``, and names only
    known scopes (``{source}`` standing for a feed source)."""
    feed_acts = {act for act, roles in ROLE_TABLE.items() if "feed" in roles}
    assert set(FEED_SCOPES) == feed_acts
    sources = {f"feed:{s.value}" for s in FeedSource}
    assert sources <= MACHINE_SCOPES
    for scopes in FEED_SCOPES.values():
        assert {s for s in scopes if s != "feed:{source}"} <= MACHINE_SCOPES


@pytest.mark.parametrize("scope", SCOPES)
async def test_each_scope_reaches_only_its_routes_and_is_refused_before_the_body(
    client: httpx.AsyncClient, somerset: Tenant, scope: str | None
) -> None:
    """Every /v1 route, called by a feed token of each scope (none, a foreign one, or each
    machine scope) with a malformed body: a route the scope does not cover is 403 before the
    body is read (no 400/422 leaks the body's rules); the routes it covers answer as for any
    caller (422 for ``{}``, 200 for a read). A ``mappa`` token cannot post to the EMRAC feed."""
    headers = feed_auth(somerset, scope)
    for method, path in await _operations(client):
        url = _concrete(path)
        allowed = FEED_ROUTES.get((method, path))
        if allowed is None or not _grants(scope, allowed[0]):
            r = await client.request(method, url, content=b"{garb",
                                     headers={**headers, "Content-Type": "application/json"})
            problem = assert_problem(r, 403)
            if allowed is not None:
                assert problem["type"].endswith("/feed-scope"), (method, path)
            continue
        body: dict[str, Any] = {"json": {}} if method in {"POST", "PUT", "PATCH"} else {}
        r = await client.request(method, url, headers=headers, **body)
        assert r.status_code == allowed[1], (method, path, scope, r.text)


async def test_a_scope_claim_that_is_not_a_string_is_401(
    client: httpx.AsyncClient, somerset: Tenant
) -> None:
    """A feed token whose ``scope`` is a list, a number or holds a control character is not
    read as some other grant: 401."""
    for scope in (["cms"], 1, "cms\u0000", "cms\tfeed:emrac"):
        r = await client.get("/v1/policy-packs", headers=feed_auth(somerset, scope))
        assert_problem(r, 401)


async def _restricted_case(client: httpx.AsyncClient, t: Tenant) -> tuple[dict[str, Any], dict]:
    """A case the CMS opened with an IYSS reference and a high SWB judgement (open steps),
    then restricted by its line manager to the holder and themselves; the CMS's PUT body."""
    body = {"child": {"given_name": GIVEN, "family_name": FAMILY, "date_of_birth": "2010-05-01"},
            "case_holder_id": "case_holder-1", "line_manager_id": "line_manager-1",
            "intervention": "court_order", "csc_status": "none",
            "opened_at": "2026-03-02T09:00:00Z"}
    r = await client.put("/v1/cases/by-external-ref/IYSS/R-1", json=body,
                         headers=feed_auth(t, "cms", "iyss-connector"))
    assert r.status_code == 201, r.text
    case = r.json()["data"]
    r = await client.post(f"/v1/cases/{case['id']}/judgements", headers=t.auth("case_holder"),
                          json={"domain": "swb", "level": "high", "rationale": "x",
                                "occurred_at": "2026-06-01T10:00:00+01:00"})
    assert r.status_code == 201, r.text
    r = await restrict(client, t, case["id"],
                       {"allowed_staff": ["case_holder-1", "line_manager-1"]})
    assert r.status_code == 200, r.text
    return case, body


def _nothing_of_the_case(r: httpx.Response) -> None:
    assert GIVEN not in r.text
    assert FAMILY not in r.text
    for word in ("ratings", "open_steps", "case_holder_id", "line_manager_id", "access"):
        assert f'"{word}"' not in r.text, word


async def test_the_cms_upsert_of_a_restricted_case_answers_its_ids_only(
    client: httpx.AsyncClient, somerset: Tenant
) -> None:
    """The CMS (the system of record) may still update a restricted case through its
    reference; the answer is the case's id, reference and version (``restricted: true``),
    ``next_steps: []``: no child, ratings, holders or steps."""
    case, body = await _restricted_case(client, somerset)
    cms = feed_auth(somerset, "cms", "iyss-connector")
    for sent in (body, {**body, "csc_status": "cin"}):
        r = await client.put("/v1/cases/by-external-ref/IYSS/R-1", json=sent, headers=cms)
        assert r.status_code == 200, r.text
        _nothing_of_the_case(r)
        assert r.json() == {
            "data": {"id": case["id"], "service": somerset.slug,
                     "external_ref": {"system": "IYSS", "id": "R-1"}, "restricted": True,
                     "version": int(r.headers["ETag"].strip('"'))},
            "next_steps": []}
    staff = await client.get(f"/v1/cases/{case['id']}", headers=somerset.auth("line_manager"))
    assert staff.json()["data"]["csc_status"] == "cin"


@pytest.mark.parametrize("scope", ["feed:emrac", "feed:mappa", None])
async def test_a_referral_feed_may_neither_upsert_nor_record_events(
    client: httpx.AsyncClient, somerset: Tenant, scope: str | None
) -> None:
    """The attack: the EMRAC (or MAPPA) feed's credential PUTs the restricted case's guessed
    record, and records a death on it: both 403, nothing of the case in the answer, the case
    unchanged and no event recorded."""
    case, body = await _restricted_case(client, somerset)
    feed = feed_auth(somerset, scope, "emrac-feed")
    r = await client.put("/v1/cases/by-external-ref/IYSS/R-1",
                         json={**body, "csc_status": "cp"}, headers=feed)
    assert_problem(r, 403)
    _nothing_of_the_case(r)
    r = await client.post(f"/v1/cases/{case['id']}/events", headers=feed,
                          json={"type": "death", "occurred_at": "2026-06-02T10:00:00+01:00"})
    assert_problem(r, 403)
    r = await client.post("/v1/cases", headers=feed, json={**body, "external_ref": {
        "system": "IYSS", "id": "R-2"}})
    assert_problem(r, 403)
    manager = somerset.auth("line_manager")
    assert (await client.get(f"/v1/cases/{case['id']}", headers=manager)
            ).json()["data"]["csc_status"] == "none"
    events = await client.get(f"/v1/cases/{case['id']}/events", headers=manager)
    assert events.json()["data"] == []


async def test_the_cms_records_an_event_on_a_restricted_case_without_seeing_its_steps(
    client: httpx.AsyncClient, somerset: Tenant
) -> None:
    """The CMS may record a charge on a restricted case (it is the system of record); the
    answer is the event it sent, ``next_steps: []``, though the charge raised steps (S23)."""
    case, _ = await _restricted_case(client, somerset)
    r = await client.post(f"/v1/cases/{case['id']}/events",
                          headers=feed_auth(somerset, "cms", "iyss-connector"),
                          json={"type": "charged", "occurred_at": "2026-06-02T10:00:00+01:00"})
    assert r.status_code == 201, r.text
    _nothing_of_the_case(r)
    assert r.json()["next_steps"] == []
    assert r.json()["data"]["recorded_role"] == "feed"
    steps = await client.get("/v1/next-steps", params={"case_id": case["id"]},
                             headers=somerset.auth("line_manager"))
    assert "notify_serious_incident" in {s["code"] for s in steps.json()["data"]}


async def test_a_feed_delivery_to_a_restricted_case_answers_the_referral_alone(
    client: httpx.AsyncClient, somerset: Tenant
) -> None:
    """A MAPPA message for a restricted child still reaches the case (201); its answer is the
    referral, ``next_steps: []`` (the case's steps are not the feed's to see), the replay too;
    the EMRAC feed's token may not deliver it to the MAPPA route (403)."""
    await _restricted_case(client, somerset)
    delivery = {"case_external_ref": {"system": "IYSS", "id": "R-1"}, "kind": "mappa_h",
                "received_at": "2026-06-05T10:15:00+01:00", "details": {"mappa_category": 2}}
    emrac = {**feed_auth(somerset, "feed:emrac", "emrac-feed"), "Idempotency-Key": "m-1"}
    assert_problem(await client.post("/v1/feeds/mappa/referrals", json=delivery,
                                     headers=emrac), 403)
    mappa = {**feed_auth(somerset, "feed:mappa", "mappa-feed"), "Idempotency-Key": "m-1"}
    for status in (201, 200):
        r = await client.post("/v1/feeds/mappa/referrals", json=delivery, headers=mappa)
        assert r.status_code == status, r.text
        _nothing_of_the_case(r)
        assert r.json()["next_steps"] == []
        assert r.json()["data"]["kind"] == "mappa_h"
