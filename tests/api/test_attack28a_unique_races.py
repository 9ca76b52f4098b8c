"""Attack pass 28a, ATK28A-5: a create whose unique key another create takes at the same
moment answers the same problem as when it was taken long before.

docs/integrating.md §6: "`type` says what went wrong: branch on it". Ten ``POST /v1/services``
with one slug at once: one was 201 and nine ``409 …/conflict`` ("The write conflicts with an
existing record": the database's unique index caught them), where the same request sent
afterwards is ``409 …/slug-taken``. The slug is now claimed by an insert that does nothing on
a taken slug (the race-safe form of the check), so every loser is ``slug-taken``. The other
creates with a key another create may take (a case's external reference, a case's place on a
panel's agenda, an absence's days) already answer their own problem under a lock; a feed's
Idempotency-Key is claimed the same way as the slug now is. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import uuid

import httpx

from app.core.config import Settings
from app.core.security import mint_dev_token
from tests.conftest import Tenant

RACERS = 10


def _admin(settings: Settings) -> dict[str, str]:
    token = mint_dev_token(settings, sub="admin-1", roles=["admin"], service=None)
    return {"Authorization": f"Bearer {token}"}


async def test_racing_service_creates_with_one_slug_all_losers_are_slug_taken(
        client: httpx.AsyncClient, settings: Settings) -> None:
    """The repro: ten creates of one slug at once: exactly one 201, nine 409 ``slug-taken``
    (as the eleventh, sent afterwards), and one service holds the slug."""
    slug = f"race-{uuid.uuid4().hex[:10]}"
    answers = await asyncio.gather(*(client.post("/v1/services", json={
        "slug": slug, "name": f"n{i}", "policy_pack": "somerset-yjt-2023"},
        headers=_admin(settings)) for i in range(RACERS)))
    assert sorted(r.status_code for r in answers) == [201] + [409] * (RACERS - 1), [
        r.text for r in answers]
    later = await client.post("/v1/services", json={
        "slug": slug, "name": "later", "policy_pack": "somerset-yjt-2023"},
        headers=_admin(settings))
    for r in [*(r for r in answers if r.status_code == 409), later]:
        assert r.status_code == 409, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["type"].endswith("/slug-taken"), r.text
        assert r.json()["detail"] == "The slug is taken."
    winner = next(r for r in answers if r.status_code == 201).json()["data"]
    r = await client.get(f"/v1/services/{slug}", headers=_admin(settings))
    assert r.status_code == 200, r.text
    assert r.json()["data"]["id"] == winner["id"]


async def test_racing_adds_of_one_case_to_one_panel_all_losers_answer_the_same(
        somerset: Tenant) -> None:
    """A twin: a case put on a panel's agenda by several schedulers at once: one 201, and the
    others the same 409 a later add answers (never the generic conflict of the panel item's
    unique index)."""
    case_id = (await somerset.open_case())["data"]["id"]
    r = await somerset.client.post(f"/v1/cases/{case_id}/judgements", json={
        "domain": "rosh", "level": "high", "occurred_at": "2026-06-01T10:00:00+01:00"},
        headers=somerset.auth("case_holder"))
    assert r.status_code == 201, r.text  # on the register: the MARP hears it
    r = await somerset.client.post("/v1/panels", json={
        "kind": "marp", "scheduled_for": "2026-09-10T13:00:00+01:00", "chair_id": "chair-1"},
        headers=somerset.auth("panel_admin"))
    assert r.status_code == 201, r.text
    url = f"/v1/panels/{r.json()['data']['id']}/items"
    body = {"case_id": case_id, "presenter_id": "case_holder-1"}
    answers = await asyncio.gather(*(somerset.client.post(
        url, json=body, headers=somerset.auth("panel_admin")) for _ in range(RACERS)))
    later = await somerset.client.post(url, json=body, headers=somerset.auth("panel_admin"))
    assert later.status_code == 409, later.text
    assert sorted(r.status_code for r in answers) == [201] + [409] * (RACERS - 1), [
        r.text for r in answers]
    for r in answers:
        if r.status_code == 409:
            assert r.json()["type"] == later.json()["type"], r.text
            assert not r.json()["type"].endswith("/conflict"), r.text
