"""The one did-you-mean in the API's 422s (fix34d; attack 33, noted by its tester): a key
sent under a known synonym of a field (``reason`` for a referral withdrawal's ``note``, too
far apart for a fuzzy match) and a word an ``enum`` refuses (``hihg``) are answered with the
contract's word, by the same suggester as the pack tools; the value sent is never echoed."""

from __future__ import annotations

import httpx

from tests.conftest import Tenant

IDENT = "00000000-0000-4000-8000-000000000001"


async def test_a_body_key_synonym_offers_the_field_meant(
        client: httpx.AsyncClient, somerset: Tenant) -> None:
    """Withdrawing a referral with ``{"reason": ...}``: 422 naming the unknown key and
    offering ``note`` (before: no suggestion); ``comment`` on a step's completion likewise."""
    r = await client.post(f"/v1/referrals/{IDENT}/withdraw", json={"reason": "Moved away"},
                          headers=somerset.auth("case_holder"))
    assert r.status_code == 422, r.text
    [error] = r.json()["errors"]
    assert error["msg"].startswith("Extra inputs are not permitted"), error
    assert error["msg"].endswith("did you mean 'note'?)"), error
    assert "Moved away" not in r.text
    r = await client.post(f"/v1/next-steps/{IDENT}/complete", json={"comment": "done"},
                          headers=somerset.auth("case_holder"))
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["msg"].endswith("did you mean 'note'?)"), r.text


async def test_a_word_the_contract_refuses_offers_the_word_meant(
        client: httpx.AsyncClient, somerset: Tenant) -> None:
    """A judgement's ``level`` of ``hihg``: 422 at ``body.level`` with the contract's enum and
    "did you mean 'high'?" (before: the enum alone); a word near none offers nothing."""
    case = (await somerset.open_case())["data"]
    url = f"/v1/cases/{case['id']}/judgements"
    body = {"domain": "rosh", "level": "hihg", "rationale": "Escalating",
            "occurred_at": "2026-03-03T10:00:00Z"}
    r = await client.post(url, json=body, headers=somerset.auth("case_holder"))
    assert r.status_code == 422, r.text
    found = {e["loc"]: e["msg"] for e in r.json()["errors"]}
    assert found["body.level"].startswith("does not satisfy the contract's 'enum'"), found
    assert found["body.level"].endswith("(did you mean 'high'?)"), found
    assert "hihg" not in r.text
    r = await client.post(url, json={**body, "level": "zzzzzz"},
                          headers=somerset.auth("case_holder"))
    found = {e["loc"]: e["msg"] for e in r.json()["errors"]}
    assert "did you mean" not in found["body.level"], found
