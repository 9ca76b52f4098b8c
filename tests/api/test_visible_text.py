"""A text a write requires says something visible (attack pass 18, A18-7).

A waiver's reason, a closure's or reopening's reason and an assessment's return feedback
(api-v1.md: "`{feedback}` (required)") were refused blank or as spaces but taken as zero-width
spaces, word joiners or soft hyphens: the audit's "why" said nothing. The same holds for every
required text (a panel's minutes, its agreed actions, an item's withdrawal reason, an oversight
note, a victim, a service's name) and for the child's and carer's views a panel referral must
carry (Somerset 6.2): 422 naming the field, or the views not counted.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from app.core.identifiers import has_visible
from app.core.security import mint_dev_token
from tests.api.integrity_support import assert_problem, judge, patch_case, steps_of
from tests.conftest import Tenant

NOTHING = ("\u200b", "\u200b\u200b", "\u2060\u00ad", " \u200b \ufeff ", "\u0301", "\u3000")


@pytest.mark.parametrize("text", [*NOTHING, "   "])
def test_nothing_that_shows_is_not_visible(text: str) -> None:
    """Spaces of any kind, zero-width and format characters, soft hyphens and a lone accent
    show nothing; a letter, a digit or a full stop among them does."""
    assert not has_visible(text)
    assert has_visible(f"{text}a{text}")
    assert has_visible(".")


def _refused(r: Any, loc: str) -> None:
    problem = assert_problem(r, 422)
    assert [e["loc"] for e in problem["errors"]] == [loc], problem
    # Stripped to nothing (U+3000 is a space to str.strip) or holding nothing that shows.
    assert any(w in problem["errors"][0]["msg"] for w in ("visible", "at least 1")), problem


async def test_a_reason_of_invisible_characters_is_422(somerset: Tenant) -> None:
    """A waiver, a closure and a reopening with a reason of invisible characters, and a return
    with such feedback, are 422 naming the field; the step stays open, the case as it was."""
    case_id = (await somerset.open_case())["data"]["id"]
    await judge(somerset, case_id, "rosh", "high", "2026-04-15T10:00:00Z")
    review = next(s for s in await steps_of(somerset, case_id)
                  if s["code"] == "monthly_manager_review")
    for text in NOTHING:
        r = await somerset.client.post(f"/v1/next-steps/{review['id']}/waive",
                                       json={"reason": text},
                                       headers=somerset.auth("duty_manager"))
        _refused(r, "body.reason")
        r = await patch_case(somerset, case_id, {"closed_at": "2026-04-16T10:00:00Z",
                                                 "closure_reason": text})
        _refused(r, "body.closure_reason")
        r = await patch_case(somerset, case_id, {"closed_at": None, "reopen_reason": text})
        _refused(r, "body.reopen_reason")
        r = await somerset.client.post(f"/v1/assessments/{uuid.uuid4()}/return",
                                       json={"feedback": text},
                                       headers=somerset.auth("line_manager"))
        _refused(r, "body.feedback")
    assert review["id"] in {s["id"] for s in await steps_of(somerset, case_id)}
    r = await somerset.client.get(f"/v1/cases/{case_id}", headers=somerset.auth("line_manager"))
    assert r.json()["data"]["closed_at"] is None


async def test_every_required_text_says_something(somerset: Tenant) -> None:
    """The twins: a panel's minutes, an agreed action, an item's withdrawal reason, a victim, a
    service's name: 422 naming the field."""
    panel, item = uuid.uuid4(), uuid.uuid4()
    action = {"description": "\u200b", "owner_id": "case_holder-1", "due_date": "2026-05-01"}
    r = await somerset.client.post(f"/v1/panels/{panel}/items/{item}/decision",
                                   json={"minutes": "\u2060", "actions": []},
                                   headers=somerset.auth("chair"))
    _refused(r, "body.minutes")
    r = await somerset.client.post(f"/v1/panels/{panel}/items/{item}/decision",
                                   json={"minutes": "m", "actions": [action]},
                                   headers=somerset.auth("chair"))
    _refused(r, "body.actions.0.description")
    r = await somerset.client.post(f"/v1/panels/{panel}/items/{item}/withdraw",
                                   json={"reason": "\u00ad"}, headers=somerset.auth("chair"))
    _refused(r, "body.reason")
    case_id = (await somerset.open_case())["data"]["id"]
    r = await somerset.client.post(f"/v1/cases/{case_id}/judgements", json={
        "domain": "rosh", "level": "medium", "victims": ["\u200b"]},
        headers=somerset.auth("case_holder"))
    _refused(r, "body.victims.0")
    admin = mint_dev_token(somerset.settings, sub="admin-1", roles=["admin"], service=None)
    r = await somerset.client.post("/v1/services", json={
        "slug": f"t-{uuid.uuid4().hex[:10]}", "name": "\u200b",
        "policy_pack": "somerset-yjt-2023"}, headers={"Authorization": f"Bearer {admin}"})
    _refused(r, "body.name")


async def test_S8_views_of_invisible_characters_are_not_views(somerset: Tenant) -> None:
    """S8 (6.2 "Child and parent/carer views will be sought before the initial panel"): a panel
    referral whose views are zero-width spaces is refused at submission as one without views
    (422 ``views-required``); with the words it is submitted."""
    case_id = (await somerset.open_case())["data"]["id"]
    url = f"/v1/cases/{case_id}/referrals"
    headers = somerset.auth("case_holder")
    r = await somerset.client.post(url, headers=headers, json={
        "kind": "panel", "details": {"child_views": "\u200b", "carer_views": "\u2060"}})
    assert r.status_code == 201, r.text
    r = await somerset.client.post(f"/v1/referrals/{r.json()['data']['id']}/submit", json={},
                                   headers=headers)
    assert assert_problem(r, 422)["type"].endswith("/views-required")
    r = await somerset.client.post(url, headers=headers, json={
        "kind": "panel", "details": {"child_views": "Wants to stay", "carer_views": "Agrees"}})
    r = await somerset.client.post(f"/v1/referrals/{r.json()['data']['id']}/submit", json={},
                                   headers=headers)
    assert r.status_code == 200, r.text


@pytest.mark.parametrize(("given", "family", "loc"), [
    ("\u200b", "Taylor", "body.child.given_name"),
    ("Sam", "\u3164", "body.child.family_name"),
    ("\u00ad", "Taylor", "body.child.given_name"),
    ("Sam", "\u2060", "body.child.family_name"),
])
async def test_a_childs_name_of_invisible_characters_is_422(
        somerset: Tenant, given: str, family: str, loc: str) -> None:
    """Attack 20, A20-13: a child's given or family name of invisible characters (zero-width
    space, Hangul filler, soft hyphen, word joiner) was taken on POST and on the upsert PUT,
    where spaces only were refused: 422 naming the name, on both routes, nothing made."""
    t = somerset
    child = {"given_name": given, "family_name": family, "date_of_birth": "2010-05-01"}
    manager = t.auth("line_manager", "line_manager-1")
    body = {"child": child, "case_holder_id": "case_holder-1",
            "line_manager_id": "line_manager-1", "intervention": "court_order",
            "csc_status": "none"}
    _refused(await t.client.post("/v1/cases", json=body, headers=manager), loc)
    feed = t.auth("feed", "iyss-1", scope="cms")
    url = f"/v1/cases/by-external-ref/IYSS/{uuid.uuid4().hex}"
    _refused(await t.client.put(url, json=body, headers=feed), loc)
    good = {**body, "child": {**child, "given_name": "Sam", "family_name": "Taylor"}}
    r = await t.client.put(url, json=good, headers=feed)
    assert r.status_code == 201, r.text
    _refused(await t.client.put(url, json=body, headers=feed), loc)
