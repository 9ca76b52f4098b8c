"""A body the contract refuses says what to send (attack pass 30, ATTACK30B-9), still without
copying any value of the request back (attack pass 9, N8).

The packs README's worked example has an admin create a service, ``POST /v1/services
{slug, name, policy_pack}``: an owner who typed ``policy-pack`` was told "Extra inputs are not
permitted (at key 3 of this object)" and one who typed ``Northvale2`` as the slug "does not
satisfy the contract's 'pattern'", neither saying what to write.
"""

from __future__ import annotations

import httpx

from app.core.security import mint_dev_token
from tests.conftest import Tenant


def _admin(t: Tenant) -> dict[str, str]:
    token = mint_dev_token(t.settings, sub="admin-1", roles=["admin"], service=None)
    return {"Authorization": f"Bearer {token}"}


async def test_an_unknown_key_close_to_a_field_names_the_field(somerset: Tenant) -> None:
    """``policy-pack`` (and ``policyPack``, ``pack_policy`` is not close enough to name) is
    placed by its position and answered with the field it is close to; the key sent is not
    in the answer."""
    for sent, hint in (("policy-pack", "; did you mean 'policy_pack'?"),
                       ("Policy_Pack", "; did you mean 'policy_pack'?"),
                       ("policypack", "; did you mean 'policy_pack'?"),
                       ("zzzzzzzzzz", "")):
        r = await somerset.client.post("/v1/services", headers=_admin(somerset), json={
            "slug": "northvale", "name": "Northvale YJS", sent: "somerset-yjt-2023"})
        assert r.status_code == 422, r.text
        assert {"loc": "body", "msg": "Extra inputs are not permitted (at key 3 of this "
                                      f"object{hint})"} in r.json()["errors"], r.json()
        assert sent not in r.text


async def test_a_nested_unknown_key_is_matched_against_its_own_object(
        somerset: Tenant) -> None:
    """The child's ``given-name`` is matched against the child's fields (not the case's)."""
    body = {"child": {"given-name": "Sam", "family_name": "Taylor",
                      "date_of_birth": "2010-05-01"},
            "case_holder_id": "case_holder-1", "line_manager_id": "line_manager-1",
            "intervention": "court_order", "csc_status": "none",
            "opened_at": "2026-03-02T09:00:00Z"}
    r = await somerset.client.post("/v1/cases", json=body,
                                   headers=somerset.auth("line_manager"))
    assert r.status_code == 422, r.text
    assert {"loc": "body.child", "msg": "Extra inputs are not permitted (at key 1 of this "
                                        "object; did you mean 'given_name'?)"} in r.json()["errors"]


async def test_a_refused_value_is_answered_with_the_contracts_rule(
        client: httpx.AsyncClient, somerset: Tenant) -> None:
    """A slug with capitals breaks the contract's pattern: the message gives the pattern (the
    contract's, not the slug sent)."""
    r = await somerset.client.post("/v1/services", headers=_admin(somerset), json={
        "slug": "Northvale2", "name": "Northvale YJS", "policy_pack": "somerset-yjt-2023"})
    assert r.status_code == 422, r.text
    [error] = r.json()["errors"]
    assert error["loc"] == "body.slug"
    assert error["msg"].startswith("does not satisfy the contract's 'pattern': \"^"), error
    assert "Northvale2" not in r.text


async def test_a_nullable_fields_refused_value_names_its_non_null_rule(somerset: Tenant) -> None:
    """Attack pass 31a, ATTACK31A-2: a field that may also be null (``anyOf`` of its rule and
    null) refused a bad value with only "does not satisfy the contract's 'anyOf'". The answer
    names the other branch's rule (the contract's values, never the value sent)."""
    case = (await somerset.open_case())["data"]
    url = f"/v1/cases/{case['id']}"
    headers = somerset.auth("line_manager")
    etag = (await somerset.client.get(url, headers=headers)).headers["ETag"]
    r = await somerset.client.patch(url, json={"mappa_level": 7, "in_custody": "yes"},
                                    headers={**headers, "If-Match": etag})
    assert r.status_code == 422, r.text
    found = {e["loc"]: e["msg"] for e in r.json()["errors"]}
    assert found["body.in_custody"] == (
        "does not satisfy the contract's 'anyOf' (or null): 'type': \"boolean\"")
    level = found["body.mappa_level"]
    assert level.startswith("does not satisfy the contract's 'anyOf' (or null): "), level
    assert "7" not in level
    assert "yes" not in r.text


async def test_an_unknown_key_in_a_body_that_may_be_omitted_names_the_field(
        somerset: Tenant) -> None:
    """Attack pass 32b, ATTACK32B-2: the bodies a client may leave out (``anyOf`` of the object
    and null: a referral's actions, an assessment's submission, a step's completion) answered a
    mistyped key with "does not satisfy the contract's 'anyOf' (or null):
    'additionalProperties'", naming neither the key nor the field meant. An object sent there
    is answered as the object's own errors, as a body that may not be omitted is; the key
    sent is not in the answer, unless it is a word of the contract's own (``notes`` is a
    field elsewhere: the loc then names it, as for any body)."""
    ident = "00000000-0000-4000-8000-000000000001"
    for url, sent, error in (
            (f"/v1/referrals/{ident}/withdraw", "nnote",
             {"loc": "body", "msg": "Extra inputs are not permitted (at key 1 of this object; "
                                    "did you mean 'note'?)"}),
            (f"/v1/assessments/{ident}/submit", "scorez",
             {"loc": "body", "msg": "Extra inputs are not permitted (at key 1 of this object; "
                                    "did you mean 'scores'?)"}),
            (f"/v1/next-steps/{ident}/complete", "notes",
             {"loc": "body.notes", "msg": "Extra inputs are not permitted (did you mean "
                                          "'note'?)"})):
        r = await somerset.client.post(url, json={sent: "duplicate"},
                                       headers=somerset.auth("case_holder"))
        assert r.status_code == 422, (url, r.text)
        assert r.json()["errors"] == [error], (url, r.json())
        assert "duplicate" not in r.text
        if error["loc"] == "body":
            assert f'"{sent}"' not in r.text
