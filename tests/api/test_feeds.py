"""Automated feeds: Idempotency-Key semantics, race safety, and the MAPPA case update."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path

import httpx

from app.core.config import Settings
from tests.conftest import Tenant


def delivery(ref: str, kind: str = "emrac", **details: object) -> dict:
    """A feed message for the case with IYSS reference ``ref``."""
    return {"case_external_ref": {"system": "IYSS", "id": ref}, "kind": kind,
            "received_at": "2026-06-05T10:15:00+01:00", "details": details}


def feed_headers(tenant: Tenant, key: str | None) -> dict[str, str]:
    """Feed token plus the key."""
    headers = tenant.auth("feed", "feed-emrac", scope="feed:emrac")
    if key is not None:
        headers["Idempotency-Key"] = key
    return headers


async def test_feed_requires_idempotency_key(client: httpx.AsyncClient, wokingham: Tenant) -> None:
    """400 problem without the header; nothing is stored."""
    await wokingham.open_case(external_ref={"system": "IYSS", "id": "F-1"})
    r = await client.post("/v1/feeds/emrac/referrals", json=delivery("F-1"),
                          headers=feed_headers(wokingham, None))
    assert r.status_code == 400, r.text
    assert r.json()["type"].endswith("/idempotency-key-required")


async def test_an_idempotency_key_has_one_limit_and_one_answer(
        client: httpx.AsyncClient, wokingham: Tenant) -> None:
    """Attack pass 32b, ATTACK32B-7: keys of 256 to 512 characters were 400 "too long (255
    characters at most)", longer ones 422 "at most 512", and the contract published 512. One
    limit now, the contract's 255: a key of 255 characters is taken; every longer one is the
    same 422 at ``header.Idempotency-Key``, and nothing is stored."""
    case = (await wokingham.open_case(external_ref={"system": "IYSS", "id": "F-L"}))["data"]
    for length in (256, 300, 512, 513, 4000):
        r = await client.post("/v1/feeds/emrac/referrals", json=delivery("F-L"),
                              headers=feed_headers(wokingham, "k" * length))
        assert r.status_code == 422, (length, r.text)
        assert r.json()["errors"] == [{"loc": "header.Idempotency-Key",
                                       "msg": "String should have at most 255 characters"}]
    listed = await client.get(f"/v1/cases/{case['id']}/referrals",
                              headers=wokingham.auth("case_holder"))
    assert listed.json()["data"] == []
    r = await client.post("/v1/feeds/emrac/referrals", json=delivery("F-L"),
                          headers=feed_headers(wokingham, "k" * 255))
    assert r.status_code == 201, r.text
    contract = Path(__file__).resolve().parents[2] / "openapi" / "openapi.json"
    spec = json.loads(contract.read_text())
    [header] = [p for p in spec["paths"]["/v1/feeds/{source}/referrals"]["post"]["parameters"]
                if p["name"] == "Idempotency-Key"]
    assert header["schema"]["anyOf"][0]["maxLength"] == 255


async def test_replay_returns_first_answer(client: httpx.AsyncClient, wokingham: Tenant) -> None:
    """First delivery 201; the same key and body 200 with the same referral id."""
    case = (await wokingham.open_case(external_ref={"system": "IYSS", "id": "F-2"}))["data"]
    key = str(uuid.uuid4())
    first = await client.post("/v1/feeds/emrac/referrals", json=delivery("F-2", note="x"),
                              headers=feed_headers(wokingham, key))
    assert first.status_code == 201, first.text
    again = await client.post("/v1/feeds/emrac/referrals", json=delivery("F-2", note="x"),
                              headers=feed_headers(wokingham, key))
    assert again.status_code == 200, again.text
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json()["data"]["id"] == first.json()["data"]["id"]
    assert first.json()["data"]["status"] == "received"
    listed = await client.get(f"/v1/cases/{case['id']}/referrals",
                              headers=wokingham.auth("case_holder"))
    assert len(listed.json()["data"]) == 1


async def test_same_key_other_body_is_422(client: httpx.AsyncClient, wokingham: Tenant) -> None:
    """Reusing a key for a different message is refused, and the first stays."""
    await wokingham.open_case(external_ref={"system": "IYSS", "id": "F-3"})
    key = str(uuid.uuid4())
    first = await client.post("/v1/feeds/emrac/referrals", json=delivery("F-3", n=1),
                              headers=feed_headers(wokingham, key))
    assert first.status_code == 201
    other = await client.post("/v1/feeds/emrac/referrals", json=delivery("F-3", n=2),
                              headers=feed_headers(wokingham, key))
    assert other.status_code == 422, other.text
    assert other.json()["type"].endswith("/idempotency-key-reused")


async def test_unknown_case_is_404_and_key_not_burnt(
    client: httpx.AsyncClient, wokingham: Tenant
) -> None:
    """An unknown case is 404; once the case exists the same key works."""
    key = str(uuid.uuid4())
    r = await client.post("/v1/feeds/emrac/referrals", json=delivery("F-404"),
                          headers=feed_headers(wokingham, key))
    assert r.status_code == 404, r.text
    await wokingham.open_case(external_ref={"system": "IYSS", "id": "F-404"})
    r = await client.post("/v1/feeds/emrac/referrals", json=delivery("F-404"),
                          headers=feed_headers(wokingham, key))
    assert r.status_code == 201, r.text


async def test_16_concurrent_deliveries_make_one_referral(
    client: httpx.AsyncClient, wokingham: Tenant
) -> None:
    """A retrying feed: 16 deliveries of one key at once, exactly one referral, one id."""
    case = (await wokingham.open_case(external_ref={"system": "IYSS", "id": "F-16"}))["data"]
    key = str(uuid.uuid4())
    answers = await asyncio.gather(*[
        client.post("/v1/feeds/emrac/referrals", json=delivery("F-16"),
                    headers=feed_headers(wokingham, key))
        for _ in range(16)
    ])
    statuses = sorted(a.status_code for a in answers)
    assert statuses.count(201) == 1, [a.text for a in answers]
    assert set(statuses) <= {200, 201, 409}, statuses
    ids = {a.json()["data"]["id"] for a in answers if a.status_code in (200, 201)}
    assert len(ids) == 1
    listed = await client.get(f"/v1/cases/{case['id']}/referrals",
                              headers=wokingham.auth("case_holder"))
    assert len(listed.json()["data"]) == 1


async def test_feed_kind_must_match_source_and_role(
    client: httpx.AsyncClient, wokingham: Tenant
) -> None:
    """The EMRAC feed cannot send MAPPA forms; staff tokens cannot use feeds; a source no
    feed's scope covers is 403 (A9-19: the token's ``feed:<source>`` scope is checked first)."""
    await wokingham.open_case(external_ref={"system": "IYSS", "id": "F-5"})
    r = await client.post("/v1/feeds/emrac/referrals", json=delivery("F-5", kind="mappa_h"),
                          headers=feed_headers(wokingham, "k-5"))
    assert r.status_code == 422
    r = await client.post("/v1/feeds/emrac/referrals", json=delivery("F-5"),
                          headers={**wokingham.auth("case_holder"), "Idempotency-Key": "k-6"})
    assert r.status_code == 403
    r = await client.post("/v1/feeds/unknown/referrals", json=delivery("F-5"),
                          headers=feed_headers(wokingham, "k-7"))
    assert r.status_code == 403


async def test_feed_cannot_reach_another_services_case(
    client: httpx.AsyncClient, wokingham: Tenant, somerset: Tenant
) -> None:
    """A feed token of one service never finds another service's case."""
    await somerset.open_case(external_ref={"system": "IYSS", "id": "F-X"})
    r = await client.post("/v1/feeds/emrac/referrals", json=delivery("F-X"),
                          headers=feed_headers(wokingham, "k-x"))
    assert r.status_code == 404


async def test_expired_keys_are_purged_and_may_be_reused(
    settings: Settings, client: httpx.AsyncClient, wokingham: Tenant
) -> None:
    """After the TTL (72 h) the worker purges a key; a new message may then use it."""
    from datetime import timedelta

    from app.core.db import build_engine, session_factory
    from app.domain.common import utcnow
    from app.domain.feeds import purge_expired_keys

    await wokingham.open_case(external_ref={"system": "IYSS", "id": "F-TTL"})
    key = str(uuid.uuid4())
    first = await client.post("/v1/feeds/emrac/referrals", json=delivery("F-TTL", n=1),
                              headers=feed_headers(wokingham, key))
    assert first.status_code == 201
    engine = build_engine(settings)
    factory = session_factory(engine)
    try:
        async with factory() as session, session.begin():
            assert await purge_expired_keys(session, utcnow() + timedelta(hours=1)) == 0
        async with factory() as session, session.begin():
            assert await purge_expired_keys(session, utcnow() + timedelta(hours=73)) >= 1
    finally:
        await engine.dispose()
    second = await client.post("/v1/feeds/emrac/referrals", json=delivery("F-TTL", n=2),
                               headers=feed_headers(wokingham, key))
    assert second.status_code == 201, second.text
    assert second.json()["data"]["id"] != first.json()["data"]["id"]


SECRET = "Jordan Reed DOB 14/02/2009 12 Acacia Avenue"


async def test_mappa_feed_errors_never_echo_what_was_sent(
    client: httpx.AsyncClient, wokingham: Tenant
) -> None:
    """A MAPPA message with a wrong category, level or release date is 422 naming each field
    (``body.details.<field>``) and why, never the value sent (a name, a date of birth, an
    address), the internal model's name or the library's documentation link (attack pass 7,
    F10; docs/integrating.md: no error carries a value from the request)."""
    await wokingham.open_case(external_ref={"system": "IYSS", "id": "F-10"})
    cases = [
        ({"mappa_category": SECRET}, "body.details.mappa_category"),
        ({"mappa_category": 7}, "body.details.mappa_category"),
        ({"mappa_level": f"level {SECRET}"}, "body.details.mappa_level"),
        ({"expected_release_date": f"release on 2027-01-01 to {SECRET}"},
         "body.details.expected_release_date"),
    ]
    for i, (details, loc) in enumerate(cases):
        r = await client.post(
            "/v1/feeds/mappa/referrals", json=delivery("F-10", kind="mappa_h", **details),
            headers={**wokingham.auth("feed", "mappa-feed", scope="feed:mappa"),
                     "Idempotency-Key": f"f10-{i}"})
        assert r.status_code == 422, r.text
        assert r.headers["content-type"] == "application/problem+json"
        assert [e["loc"] for e in r.json()["errors"]] == [loc]
        for leak in ("Jordan", "Acacia", "2009", "MappaUpdate", "pydantic", "input_value",
                     "7"):
            assert leak not in r.text.replace(r.json()["instance"], ""), (leak, r.text)


async def test_mappa_numbers_are_json_integers_only(
    client: httpx.AsyncClient, wokingham: Tenant
) -> None:
    """A MAPPA category or level is the JSON integer 1, 2 or 3: ``true`` (an upstream "MAPPA
    eligible: yes" flag) would have made the child category 1, a registered sexual offender,
    and ``"2"`` was read as 2 (attack pass 8, N2). 422 by the MAPPA feed, the case upsert and
    PATCH alike; the integer itself is taken."""
    case = (await wokingham.open_case(external_ref={"system": "IYSS", "id": "N2"}))["data"]
    for i, value in enumerate((True, "2", 2.0)):
        r = await client.post(
            "/v1/feeds/mappa/referrals",
            json=delivery("N2", kind="mappa_h", mappa_category=value),
            headers={**wokingham.auth("feed", "mappa-feed", scope="feed:mappa"),
                     "Idempotency-Key": f"n2-{i}"})
        assert r.status_code == 422, r.text
        assert [e["loc"] for e in r.json()["errors"]] == ["body.details.mappa_category"]
        url = f"/v1/cases/{case['id']}"
        manager = wokingham.auth("line_manager")
        tag = (await client.get(url, headers=manager)).headers["etag"]
        r = await client.patch(url, json={"mappa_level": value, "mappa_category": 2},
                               headers={**manager, "If-Match": tag})
        assert r.status_code == 422, r.text
    r = await client.post(
        "/v1/feeds/mappa/referrals", json=delivery("N2", kind="mappa_h", mappa_category=2),
        headers={**wokingham.auth("feed", "mappa-feed", scope="feed:mappa"),
                 "Idempotency-Key": "n2-ok"})
    assert r.status_code == 201, r.text
    r = await client.get(f"/v1/cases/{case['id']}", headers=wokingham.auth("line_manager"))
    assert r.json()["data"]["mappa_category"] == 2


async def test_unknown_reference_404_does_not_quote_the_reference(
    client: httpx.AsyncClient, wokingham: Tenant
) -> None:
    """A feed message for a reference no case of the service has is 404 without quoting the
    reference (a system may send a name or a date of birth there; attack pass 8, N8). With a
    '/' in it (which no reference holds: A18-6), 422, not quoting it either."""
    for i, (ref, status) in enumerate(((SECRET.replace("/", "."), 404), (SECRET, 422))):
        r = await client.post("/v1/feeds/emrac/referrals", json=delivery(ref),
                              headers=feed_headers(wokingham, f"n8-{i}"))
        assert r.status_code == status, r.text
        for leak in ("Jordan", "Acacia", "2009"):
            assert leak not in r.text
