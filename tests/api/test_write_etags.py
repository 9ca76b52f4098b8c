"""If-Match on the POSTs that make a record under a case, and the ETag of every write's answer
(harden9's leftover, after A16-8). The contract (api-v1.md, Conventions): "Optimistic
concurrency: single resources carry an ETag"; RFC 9110 §13.1.1: when If-Match does not hold,
"the origin server MUST NOT perform the requested method" (412). A judgement, event,
assessment, referral or oversight entry POSTed with a stale case ETag was recorded all the
same; and a write's answer carried no ETag, so the next conditional act needed a read first."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from app.core.config import Settings
from app.core.security import mint_dev_token
from tests.api.fidelity_support import pin
from tests.api.integrity_support import assert_problem
from tests.api.test_events import with_matrix
from tests.conftest import Tenant, make_tenant


def _etag(r: httpx.Response, status: int = 200) -> str:
    assert r.status_code == status, r.text
    tag = r.headers.get("ETag")
    assert tag is not None, r.request.url
    return str(tag)


async def case_etag(t: Tenant, case_id: str) -> str:
    """The case's ETag as its line manager reads it."""
    return _etag(await t.client.get(f"/v1/cases/{case_id}", headers=t.auth("line_manager")))


async def bump(t: Tenant, case_id: str) -> None:
    """Change the case (its ETag moves): its CSC status, as its line manager."""
    r = await t.client.patch(f"/v1/cases/{case_id}", json={"csc_status": "cin"}, headers={
        **t.auth("line_manager"), "If-Match": await case_etag(t, case_id)})
    assert r.status_code == 200, r.text


def sub_records(pack: str) -> dict[str, tuple[str, dict[str, Any]]]:
    """The records made under a case: list name, the role that makes one, its body."""
    return {
        "judgements": ("case_holder", with_matrix(pack, {
            "domain": "swb", "level": "low", "occurred_at": "2026-04-03T10:00:00Z"})),
        "events": ("case_holder", {"type": "change_of_circumstances",
                                   "occurred_at": "2026-04-04T10:00:00Z"}),
        "assessments": ("case_holder", {"type": "asset_plus", "stage": "start"}),
        "referrals": ("case_holder", {"kind": "marf"}),
        "oversight": ("line_manager", {"note": "Supervision: plan adequate.",
                                       "occurred_at": "2026-04-05T10:00:00Z"}),
    }


async def count(t: Tenant, case_id: str, name: str) -> int:
    r = await t.client.get(f"/v1/cases/{case_id}/{name}", params={"limit": 200},
                           headers=t.auth("line_manager"))
    assert r.status_code == 200, r.text
    return len(r.json()["data"])


@pytest.mark.parametrize("pack", ["somerset-yjt-2023", "wokingham-pyjs-2024"])
async def test_a_record_under_a_case_honours_if_match_with_the_cases_etag(
    pack: str, client: httpx.AsyncClient, settings: Settings
) -> None:
    """Each POST under a case with the case's ETag from before a change is 412
    ``precondition-failed`` naming the current ETag, and records nothing; with the current
    ETag (or ``*``, or none) it is recorded (201)."""
    t = await make_tenant(client, settings, pack)
    for name, (role, body) in sub_records(pack).items():
        case_id = (await t.open_case())["data"]["id"]
        stale = await case_etag(t, case_id)
        await bump(t, case_id)
        current = await case_etag(t, case_id)
        before = await count(t, case_id, name)
        url = f"/v1/cases/{case_id}/{name}"
        r = await t.client.post(url, json=body, headers={**t.auth(role), "If-Match": stale})
        problem = assert_problem(r, 412)
        assert problem["type"].endswith("/precondition-failed"), name
        assert problem["current_etag"] == current, name
        assert await count(t, case_id, name) == before, name
        r = await t.client.post(url, json=body, headers={**t.auth(role), "If-Match": current})
        assert r.status_code == 201, (name, r.text)
        assert await count(t, case_id, name) == before + 1, name


@pytest.mark.parametrize("pack", ["somerset-yjt-2023", "wokingham-pyjs-2024"])
async def test_records_under_a_case_answer_the_etag_a_following_get_gives(
    pack: str, client: httpx.AsyncClient, settings: Settings
) -> None:
    """A judgement, event or oversight entry (records with no read of their own) answers
    the case's ETag as it leaves it; an assessment or referral answers its own; each equal to
    what the following GET answers, so it can be sent straight on in If-Match."""
    t = await make_tenant(client, settings, pack)
    case_id = (await t.open_case())["data"]["id"]
    for name, (role, body) in sub_records(pack).items():
        r = await t.client.post(f"/v1/cases/{case_id}/{name}", json=body,
                                headers=t.auth(role))
        tag = _etag(r, 201)
        if name in ("assessments", "referrals"):
            read = f"/v1/{name}/{r.json()['data']['id']}"
            assert tag == _etag(await t.client.get(read, headers=t.auth(role))), name
        else:
            assert tag == await case_etag(t, case_id), name


async def test_acts_answer_the_etag_of_what_they_changed(
    somerset: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Submitting and countersigning an assessment, submitting a referral, completing and
    waiving a step, scheduling and moving a panel, putting a case on its agenda and
    withdrawing it, creating a service: each answer's ETag is the one the resource's GET
    then answers, and it holds as If-Match for the next act."""
    pin(monkeypatch, 2026, 10, 1, 10, 0)
    t = somerset
    holder, manager, chair = t.auth("case_holder"), t.auth("line_manager"), t.auth("chair")
    case = await t.open_case()
    cid = case["data"]["id"]

    async def same(answer: httpx.Response, url: str, headers: dict[str, str],
                   status: int = 200) -> str:
        tag = _etag(answer, status)
        assert tag == _etag(await t.client.get(url, headers=headers)), url
        return tag

    r = await t.client.post(f"/v1/cases/{cid}/assessments", headers=holder,
                            json={"type": "asset_plus", "stage": "start"})
    a_url = f"/v1/assessments/{r.json()['data']['id']}"
    tag = await same(r, a_url, holder, 201)
    r = await t.client.post(f"{a_url}/submit", headers={**holder, "If-Match": tag})
    tag = await same(r, a_url, holder)
    r = await t.client.post(f"{a_url}/countersign", json={"feedback": "Sound."},
                            headers={**manager, "If-Match": tag})
    await same(r, a_url, manager)

    r = await t.client.post(f"/v1/cases/{cid}/referrals", headers=holder, json={"kind": "marf"})
    r_url = f"/v1/referrals/{r.json()['data']['id']}"
    tag = await same(r, r_url, holder, 201)
    r = await t.client.post(f"{r_url}/submit", headers={**holder, "If-Match": tag})
    await same(r, r_url, holder)

    other = (await t.open_case())["data"]["id"]
    r = await t.client.post(f"/v1/cases/{other}/judgements", headers=holder, json=with_matrix(
        t.pack, {"domain": "rosh", "level": "high", "rationale": "Serious violence.",
                 "victims": ["public"]}))
    acted: dict[str, list[str]] = {"complete": [], "waive": []}
    for owed in r.json()["next_steps"]:
        url = f"/v1/next-steps/{owed['id']}"
        for act, body, who in (("complete", {"note": "Done."}, t.auth(owed["actor"])),
                               ("waive", {"reason": "Not needed here."}, manager)):
            done = await t.client.post(f"{url}/{act}", json=body, headers=who)
            if done.status_code == 200:
                acted[act].append(await same(done, url, who))
                break
    assert acted["complete"]
    assert acted["waive"]

    r = await t.client.post("/v1/panels", headers=chair, json={
        "kind": "marp", "scheduled_for": "2026-10-12T10:00:00Z", "chair_id": "chair-1"})
    p_url = f"/v1/panels/{r.json()['data']['id']}"
    tag = await same(r, p_url, chair, 201)
    r = await t.client.post(f"{p_url}/reschedule", json={"scheduled_for": "2026-10-13T10:00:00Z"},
                            headers={**chair, "If-Match": tag})
    tag = await same(r, p_url, chair)
    r = await t.client.post(f"{p_url}/items", headers={**chair, "If-Match": tag},
                            json={"case_id": other, "presenter_id": "case_holder-1"})
    tag = await same(r, p_url, chair, 201)
    r = await t.client.post(f"{p_url}/items/{r.json()['data']['id']}/withdraw",
                            json={"reason": "Listed in error."},
                            headers={**chair, "If-Match": tag})
    await same(r, p_url, chair)

    # Creating a service needs an admin token bound to no service (A26a-13).
    admin = {"Authorization": "Bearer " + mint_dev_token(t.settings, sub="admin-1",
                                                         roles=["admin"], service=None)}
    r = await t.client.post("/v1/services", headers=admin, json={
        "slug": f"{t.slug}-b", "name": "Another", "policy_pack": "somerset-yjt-2023"})
    await same(r, f"/v1/services/{t.slug}-b", admin, 201)


async def test_the_case_management_systems_event_honours_if_match_too(wokingham: Tenant) -> None:
    """The case management system (a machine client, scope ``cms``) records events on any
    case of its service: its If-Match with a stale case ETag is 412 and records nothing, as
    staff's is; with the current one the event is recorded and answers the case's ETag."""
    t = wokingham
    case_id = (await t.open_case())["data"]["id"]
    stale = await case_etag(t, case_id)
    await bump(t, case_id)
    current = await case_etag(t, case_id)
    cms = t.auth("feed", "iyss-1", scope="cms")
    body = {"type": "change_of_circumstances", "occurred_at": "2026-04-04T10:00:00Z"}
    url = f"/v1/cases/{case_id}/events"
    r = await t.client.post(url, json=body, headers={**cms, "If-Match": stale})
    assert assert_problem(r, 412)["current_etag"] == current
    assert await count(t, case_id, "events") == 0
    r = await t.client.post(url, json=body, headers={**cms, "If-Match": current})
    assert _etag(r, 201) == await case_etag(t, case_id)
    assert await count(t, case_id, "events") == 1


async def test_the_upsert_honours_if_match(somerset: Tenant) -> None:
    """Attack 20, A20-4 twin: ``PUT /v1/cases/by-external-ref/...`` took any If-Match (a stale
    one applied the change, for the case management system and for staff alike). Now a stale,
    weak or garbage one is 412 naming the current ETag and changes nothing; the current one
    (or ``*``) updates; a conditional PUT of a reference no case has is 412, nothing made."""
    t = somerset
    url = "/v1/cases/by-external-ref/IYSS/A20-4-PUT"
    body = {"child": {"given_name": "Kai", "family_name": "Morgan", "date_of_birth": "2009-11-12"},
            "case_holder_id": "case_holder-1", "line_manager_id": "line_manager-1",
            "intervention": "court_order", "csc_status": "none",
            "opened_at": "2026-03-02T09:00:00Z"}
    feed = t.auth("feed", "iyss-1", scope="cms")
    r = await t.client.put(url, json=body, headers={**feed, "If-Match": "*"})
    assert_problem(r, 412)
    r = await t.client.put(url, json=body, headers=feed)
    case_id = r.json()["data"]["id"]
    current = _etag(r, 201)
    manager = t.auth("line_manager", "line_manager-1")
    for who in (feed, manager):
        for sent in ('"999"', f"W/{current}", "garbage"):
            r = await t.client.put(url, json={**body, "csc_status": "cin"},
                                   headers={**who, "If-Match": sent})
            assert assert_problem(r, 412)["current_etag"] == current
    r = await t.client.get(f"/v1/cases/{case_id}", headers=manager)
    assert r.json()["data"]["csc_status"] == "none"
    r = await t.client.put(url, json={**body, "csc_status": "cin"},
                           headers={**feed, "If-Match": current})
    assert r.status_code == 200, r.text
    r = await t.client.put(url, json={**body, "csc_status": "cic"},
                           headers={**manager, "If-Match": "*"})
    assert r.status_code == 200, r.text


async def test_the_cases_etag_moves_with_its_open_steps(wokingham: Tenant, factory: Any) -> None:
    """Attack 20, A20-5: an event (new steps) and a step's completion changed ``open_steps``
    in ``GET /v1/cases/{id}`` but not its strong ETag (RFC 9110 §8.8.3), so six parallel
    conditional event POSTs with one tag were all 201. Now each moves the tag (the write's
    answer gives the one the next GET gives), and of parallel conditional events with one
    tag exactly one is recorded, the others 412."""
    import asyncio

    t = wokingham
    case_id = (await t.open_case())["data"]["id"]
    holder = t.auth("case_holder")
    first = await case_etag(t, case_id)
    r = await t.client.post(f"/v1/cases/{case_id}/events", headers=holder, json={
        "type": "new_incident", "occurred_at": "2026-04-04T10:00:00Z", "details": {"a": 1}})
    after_event = _etag(r, 201)
    assert after_event != first
    assert after_event == await case_etag(t, case_id)
    steps = r.json()["next_steps"]
    assert steps, r.text
    r = await t.client.post(f"/v1/next-steps/{steps[0]['id']}/complete", headers=holder,
                            json={"note": "told"})
    assert r.status_code == 200, r.text
    after_step = await case_etag(t, case_id)
    assert after_step != after_event
    url = f"/v1/cases/{case_id}/events"
    answers = await asyncio.gather(*(t.client.post(url, headers={**holder, "If-Match": after_step},
                                                   json={"type": "new_incident",
                                                         "occurred_at": "2026-04-05T10:00:00Z",
                                                         "details": {"n": i}})
                                     for i in range(6)))
    assert sorted(a.status_code for a in answers) == [201] + [412] * 5
    assert await count(t, case_id, "events") == 2
    # The escalation pass's chase of an overdue step is one more open step: the tag moves.
    from datetime import UTC, datetime

    from tests.api.support import tick

    before = await case_etag(t, case_id)
    assert await tick(factory, t, datetime(2027, 6, 1, tzinfo=UTC)) > 0
    assert await case_etag(t, case_id) != before
