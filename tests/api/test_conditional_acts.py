"""ETags and If-Match on assessments, referrals, steps, panels and services (attack pass 16,
A16-8). The contract (api-v1.md, Conventions): "Optimistic concurrency: single resources carry
an ETag"; RFC 9110 §13.1.1: when If-Match does not hold for the resource as it stands, "the
origin server MUST NOT perform the requested method" (412). If-Match stays optional on these
acts (clients send none today); ``*`` holds for a resource that exists."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import httpx
import pytest

from tests.api.fidelity_support import pin
from tests.api.integrity_support import assert_problem
from tests.conftest import Tenant

STALE = '"999"'


def _etag(r: httpx.Response) -> str:
    assert r.status_code == 200, r.text
    tag = r.headers.get("ETag")
    assert tag is not None, r.request.url
    assert tag.startswith('"')
    assert tag.endswith('"')
    return tag


async def _panel(t: Tenant, when: str = "2026-10-12T10:00:00Z") -> str:
    r = await t.client.post("/v1/panels", headers=t.auth("chair"), json={
        "kind": "marp", "scheduled_for": when, "chair_id": "chair-1"})
    assert r.status_code == 201, r.text
    return str(r.json()["data"]["id"])


async def test_single_resources_carry_a_stable_etag(
    somerset: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``GET`` of an assessment, a referral, a step, a panel and a service answers an ETag
    (the same on a second read while nothing changed)."""
    pin(monkeypatch, 2026, 10, 1, 10, 0)
    t = somerset
    case = await t.open_case()
    cid = case["data"]["id"]
    r = await t.client.post(f"/v1/cases/{cid}/assessments", headers=t.auth("case_holder"),
                            json={"type": "asset_plus", "stage": "start"})
    assert r.status_code == 201, r.text
    assessment = r.json()["data"]["id"]
    r = await t.client.post(f"/v1/cases/{cid}/referrals", headers=t.auth("case_holder"),
                            json={"kind": "marf", "details": {}})
    assert r.status_code == 201, r.text
    referral = r.json()["data"]["id"]
    step = case["next_steps"][0]["id"]
    panel = await _panel(t)
    for url, role in ((f"/v1/assessments/{assessment}", "case_holder"),
                      (f"/v1/referrals/{referral}", "case_holder"),
                      (f"/v1/next-steps/{step}", "line_manager"),
                      (f"/v1/panels/{panel}", "chair"),
                      (f"/v1/services/{t.slug}", "chair")):
        first = _etag(await t.client.get(url, headers=t.auth(role)))
        assert _etag(await t.client.get(url, headers=t.auth(role))) == first, url


async def test_a_stale_if_match_neither_moves_nor_cancels_a_panel(
    somerset: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A16-8: ``POST /v1/panels/{id}/reschedule`` and ``DELETE /v1/panels/{id}`` with
    ``If-Match: "999"`` moved (200) and cancelled (204) the panel. Now 412 (the problem names
    the current ETag), the panel untouched; with the ETag read, or ``*``, or no If-Match at
    all, the act goes ahead; the old ETag is stale after the move."""
    pin(monkeypatch, 2026, 10, 1, 10, 0)
    t = somerset
    panel = await _panel(t)
    url = f"/v1/panels/{panel}"
    tag = _etag(await t.client.get(url, headers=t.auth("chair")))
    move = {"scheduled_for": "2026-10-13T10:00:00Z"}
    for stale in (STALE, f"W/{tag}", '"999", "998"'):
        r = await t.client.post(f"{url}/reschedule", json=move,
                                headers={**t.auth("chair"), "If-Match": stale})
        body = assert_problem(r, 412)
        assert body["type"].endswith("/precondition-failed")
        assert body["current_etag"] == tag
        assert stale not in r.text
    r = await t.client.delete(url, headers={**t.auth("chair"), "If-Match": STALE})
    assert_problem(r, 412)
    after = await t.client.get(url, headers=t.auth("chair"))
    assert after.json()["data"]["scheduled_for"] == "2026-10-12T10:00:00Z"
    assert _etag(after) == tag
    r = await t.client.post(f"{url}/reschedule", json=move,
                            headers={**t.auth("chair"), "If-Match": f'"x", {tag}'})
    assert r.status_code == 200, r.text
    moved = _etag(await t.client.get(url, headers=t.auth("chair")))
    assert moved != tag
    assert_problem(await t.client.delete(url, headers={**t.auth("chair"), "If-Match": tag}), 412)
    r = await t.client.post(f"{url}/reschedule", json={"scheduled_for": "2026-10-14T10:00:00Z"},
                            headers={**t.auth("chair"), "If-Match": "*"})
    assert r.status_code == 200, r.text
    r = await t.client.delete(url, headers=t.auth("chair"))  # If-Match stays optional
    assert r.status_code == 204, r.text
    # An If-Match on a panel that no longer exists: 404, as without one.
    r = await t.client.delete(url, headers={**t.auth("chair"), "If-Match": "*"})
    assert_problem(r, 404)


Act = Callable[[Tenant, dict[str, str]], Awaitable[httpx.Response]]


async def _assessment_act(t: Tenant, cid: str) -> tuple[str, Act]:
    r = await t.client.post(f"/v1/cases/{cid}/assessments", headers=t.auth("case_holder"),
                            json={"type": "asset_plus", "stage": "start"})
    assert r.status_code == 201, r.text
    url = f"/v1/assessments/{r.json()['data']['id']}"

    async def submit(t: Tenant, headers: dict[str, str]) -> httpx.Response:
        return await t.client.post(f"{url}/submit", json={},
                                   headers={**t.auth("case_holder"), **headers})
    return url, submit


async def _referral_act(t: Tenant, cid: str) -> tuple[str, Act]:
    r = await t.client.post(f"/v1/cases/{cid}/referrals", headers=t.auth("case_holder"),
                            json={"kind": "marf", "details": {}})
    assert r.status_code == 201, r.text
    url = f"/v1/referrals/{r.json()['data']['id']}"

    async def submit(t: Tenant, headers: dict[str, str]) -> httpx.Response:
        return await t.client.post(f"{url}/submit", json={},
                                   headers={**t.auth("case_holder"), **headers})
    return url, submit


async def _step(t: Tenant, cid: str, role: str) -> str:
    r = await t.client.get("/v1/next-steps", params={"case_id": cid, "actor": role},
                           headers=t.auth(role))
    assert r.status_code == 200, r.text
    return str(r.json()["data"][0]["id"])


async def _waive_act(t: Tenant, cid: str) -> tuple[str, Act]:
    url = f"/v1/next-steps/{await _step(t, cid, 'line_manager')}"

    async def waive(t: Tenant, headers: dict[str, str]) -> httpx.Response:
        return await t.client.post(f"{url}/waive", json={"reason": "covered elsewhere"},
                                   headers={**t.auth("duty_manager"), **headers})
    return url, waive


async def _complete_act(t: Tenant, cid: str) -> tuple[str, Act]:
    url = f"/v1/next-steps/{await _step(t, cid, 'line_manager')}"

    async def complete(t: Tenant, headers: dict[str, str]) -> httpx.Response:
        return await t.client.post(f"{url}/complete", json={"note": "done"},
                                   headers={**t.auth("line_manager"), **headers})
    return url, complete


async def _panel_item_act(t: Tenant, cid: str) -> tuple[str, Act]:
    url = f"/v1/panels/{await _panel(t)}"

    async def add(t: Tenant, headers: dict[str, str]) -> httpx.Response:
        return await t.client.post(f"{url}/items",
                                   json={"case_id": cid, "presenter_id": "case_holder-1"},
                                   headers={**t.auth("chair"), **headers})
    return url, add


@pytest.mark.parametrize("make", [_assessment_act, _referral_act, _waive_act, _complete_act,
                                  _panel_item_act])
async def test_every_act_honours_an_if_match_sent(
    somerset: Tenant, monkeypatch: pytest.MonkeyPatch,
    make: Callable[[Tenant, str], Awaitable[tuple[str, Act]]],
) -> None:
    """A16-8: ``POST /v1/assessments/{id}/submit`` and ``/v1/referrals/{id}/submit`` with
    ``If-Match: "999"`` were 200. Each act on an assessment, a referral, a step (complete,
    waive) and a panel's agenda: 412 with a stale If-Match and nothing done (the ETag is the
    same after it); with the ETag just read the act is done."""
    pin(monkeypatch, 2026, 10, 1, 10, 0)
    t = somerset
    case = await t.open_case()
    cid = case["data"]["id"]
    r = await t.client.post(f"/v1/cases/{cid}/judgements", headers=t.auth("case_holder"),
                            json={"domain": "rosh", "level": "high", "rationale": "x"})
    assert r.status_code == 201, r.text
    url, act = await make(t, cid)
    reader = t.auth("chair")
    tag = _etag(await t.client.get(url, headers=reader))
    refused = assert_problem(await act(t, {"If-Match": STALE}), 412)
    assert refused["current_etag"] == tag
    assert _etag(await t.client.get(url, headers=reader)) == tag
    done = await act(t, {"If-Match": tag})
    assert done.status_code in (200, 201), done.text
    assert _etag(await t.client.get(url, headers=reader)) != tag


async def test_two_moves_with_the_same_if_match_one_wins(
    somerset: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two moves of a panel raced with the ETag both read: the If-Match is compared under the
    write's lock, so exactly one moves it and the other is 412 (as two PATCHes of a case)."""
    pin(monkeypatch, 2026, 10, 1, 10, 0)
    t = somerset
    for round_ in range(5):
        url = f"/v1/panels/{await _panel(t, f'2026-10-{12 + round_}T10:00:00Z')}"
        tag = _etag(await t.client.get(url, headers=t.auth("chair")))
        answers = await asyncio.gather(*(
            t.client.post(f"{url}/reschedule", json={"scheduled_for": when},
                          headers={**t.auth("chair"), "If-Match": tag})
            for when in ("2026-11-02T10:00:00Z", "2026-11-03T10:00:00Z")))
        assert sorted(r.status_code for r in answers) == [200, 412], [r.text for r in answers]
        won = next(r for r in answers if r.status_code == 200).json()["data"]["scheduled_for"]
        now = (await t.client.get(url, headers=t.auth("chair"))).json()["data"]
        assert now["scheduled_for"] == won
