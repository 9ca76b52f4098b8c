"""A case's reference in another system has one spelling (attack pass 18, A18-6).

api-v1.md: "`external_ref` is unique per service and system (409 on a second create)". The id
``somerset-jordan`` followed by a zero-width space made a second case of the same child for the
same IYSS reference; ids with CR LF or a right-to-left override were stored and shown in lists,
calendar feeds and exports; ``a/b`` was created but the upsert route's path
(``PUT /v1/cases/by-external-ref/{system}/{id}``) could not address it. A reference's parts now
follow the staff-id rule (NFC; nothing invisible or direction-changing, 422 naming the code
point) and hold no ``/``, in the body of ``POST``, the path of ``PUT`` and a feed's
``case_external_ref``; a reference stored before is still shown.
"""

from __future__ import annotations

import uuid
from typing import Any

from app.core.db import build_engine, session_factory
from app.domain.cases_table import Case
from tests.api.integrity_support import assert_problem
from tests.conftest import Tenant

CHILD = {"given_name": "Jordan", "family_name": "Reed", "date_of_birth": "2009-02-14"}
BODY: dict[str, Any] = {"child": CHILD, "case_holder_id": "case_holder-1",
                        "line_manager_id": "line_manager-1", "intervention": "court_order",
                        "csc_status": "none"}


async def test_an_external_ref_with_an_invisible_character_or_a_slash_is_422(
        somerset: Tenant) -> None:
    """POST with a reference holding U+200B, CR LF, U+202E or '/' (in the id or the system) is
    422 naming the field (and the code point), nothing stored; the NFD spelling of a stored NFC
    id is the same reference (409 duplicate-external-ref); PUT with such a path and a feed
    naming such a case are 422 too."""
    await somerset.open_case(external_ref={"system": "IYSS", "id": "somerset-jordan"})
    cms = somerset.auth("feed", "iyss", scope="cms")
    for ref, loc, said in (
            ({"system": "IYSS", "id": "somerset-jordan\u200b"}, "id", "U+200B"),
            ({"system": "IYSS", "id": "a\r\nb"}, "id", "U+000D"),
            ({"system": "IYSS", "id": "\u202ezz4"}, "id", "U+202E"),
            ({"system": "IYSS", "id": "a/b"}, "id", "'/'"),
            ({"system": "IY\u2060SS", "id": "somerset-jordan"}, "system", "U+2060")):
        r = await somerset.client.post("/v1/cases", json={**BODY, "external_ref": ref},
                                       headers=cms)
        problem = assert_problem(r, 422)
        [error] = problem["errors"]
        assert error["loc"] == f"body.external_ref.{loc}"
        assert said in error["msg"], error
    await somerset.open_case(external_ref={"system": "IYSS", "id": "Zo\u00e9"})
    r = await somerset.client.post("/v1/cases", headers=cms, json={
        **BODY, "external_ref": {"system": "IYSS", "id": "Zoe\u0301"}})
    assert assert_problem(r, 409)["type"].endswith("/duplicate-external-ref")
    r = await somerset.client.put("/v1/cases/by-external-ref/IYSS/somerset-jordan%E2%80%8B",
                                  json=BODY, headers=cms)
    assert [e["loc"] for e in assert_problem(r, 422)["errors"]] == ["path.external_id"]
    r = await somerset.client.put("/v1/cases/by-external-ref/IYSS/Zoe%CC%81", json=BODY,
                                  headers=cms)
    assert r.status_code == 200, r.text
    r = await somerset.client.get("/v1/cases", headers=somerset.auth("duty_manager"),
                                  params={"external_system": "IYSS", "external_id": "Zoe\u0301"})
    assert [c["external_ref"]["id"] for c in r.json()["data"]] == ["Zo\u00e9"]
    r = await somerset.client.post("/v1/feeds/emrac/referrals", json={
        "case_external_ref": {"system": "IYSS", "id": "somerset-jordan\u200b"}, "kind": "emrac",
        "received_at": "2026-06-05T10:15:00+01:00", "details": {}},
        headers={**somerset.auth("feed", "feed-emrac", scope="feed:emrac"),
                 "Idempotency-Key": "a18-6"})
    assert [e["loc"] for e in assert_problem(r, 422)["errors"]] == [
        "body.case_external_ref.id"]
    r = await somerset.client.get("/v1/cases", headers=somerset.auth("duty_manager"))
    assert sorted(c["external_ref"]["id"] for c in r.json()["data"]) == [
        "Zo\u00e9", "somerset-jordan"]


async def test_a_reference_stored_before_is_still_shown(somerset: Tenant, settings: Any) -> None:
    """A case whose reference was stored with what is now refused (before this rule) is read
    and listed as it is stored, not a 500."""
    case_id = (await somerset.open_case(
        external_ref={"system": "IYSS", "id": "legacy"}))["data"]["id"]
    engine = build_engine(settings)
    try:
        async with session_factory(engine)() as session:
            case = await session.get(Case, uuid.UUID(case_id))
            assert case is not None
            case.external_id = "leg/acy\u200b"
            session.add(case)
            await session.commit()
    finally:
        await engine.dispose()
    r = await somerset.client.get(f"/v1/cases/{case_id}", headers=somerset.auth("duty_manager"))
    assert r.status_code == 200, r.text
    assert r.json()["data"]["external_ref"]["id"] == "leg/acy\u200b"
    r = await somerset.client.get("/v1/cases", headers=somerset.auth("duty_manager"))
    assert [c["external_ref"]["id"] for c in r.json()["data"]] == ["leg/acy\u200b"]


async def test_a_dot_segment_reference_is_422(somerset: Tenant) -> None:
    """Attack 20, A20-3: an id or system of ``.`` or ``..`` was stored, but a client removes
    dot segments from the upsert route's path (RFC 3986 §5.2.4: 404 or a redirect), so the
    case could not be addressed there: refused as '/' is (422 naming the part); ``...`` and
    ``.a`` are ordinary references."""
    cms = somerset.auth("feed", "iyss", scope="cms")
    for ref, loc in (({"system": "IYSS", "id": "."}, "id"), ({"system": "IYSS", "id": ".."}, "id"),
                     ({"system": "..", "id": "x1"}, "system"),
                     ({"system": "IYSS", "id": " .. "}, "id")):
        r = await somerset.client.post("/v1/cases", json={**BODY, "external_ref": ref},
                                       headers=cms)
        [error] = assert_problem(r, 422)["errors"]
        assert error["loc"] == f"body.external_ref.{loc}", error
        assert "'.'" in error["msg"], error
    r = await somerset.client.put("/v1/cases/by-external-ref/IYSS/%2E%2E", json=BODY,
                                  headers=cms)
    assert [e["loc"] for e in assert_problem(r, 422)["errors"]] == ["path.external_id"]
    for ok in ("...", ".a"):
        r = await somerset.client.post("/v1/cases", headers=cms, json={
            **BODY, "external_ref": {"system": "IYSS", "id": ok}})
        assert r.status_code == 201, r.text
