"""Staff absences as a resource (attack pass 10): optimistic concurrency on their PATCH
(A10-22), a list of a worker's absences and no overlapping duplicate (A10-16).

The contract (spec/api-v1.md, Conventions): "single resources carry an ``ETag``; ``PATCH``
requires ``If-Match`` (428 without, 412 when stale)". Races run with ``asyncio.gather`` (each
request on its own connection), on SQLite and on PostgreSQL (``YJ_TEST_DB=postgres``).
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.api.fidelity_support import pin
from tests.conftest import Tenant

ROUNDS = 6


def dm(t: Tenant) -> dict[str, str]:
    return t.auth("duty_manager", "duty_manager-3")


async def record(t: Tenant, staff: str, starts: str, ends: str,
                 headers: dict[str, str] | None = None) -> Any:
    return await t.client.post(f"/v1/staff/{staff}/absences",
                               json={"starts_on": starts, "ends_on": ends},
                               headers=headers or dm(t))


# --- A10-22: If-Match on an absence's PATCH ------------------------------------------------


async def test_absence_patch_needs_if_match_428_and_a_stale_one_is_412(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """A10-22: an absence's PATCH without If-Match is 428 and changes nothing; with the ETag the
    POST answered, 200 and a new ETag (the version moved on); the old ETag again is 412 (the
    current one not echoed back from the request), a weak or ``*`` tag is 428."""
    pin(monkeypatch, 2026, 12, 1, 9, 0)
    r = await record(somerset, "line_manager-1", "2026-12-07", "2026-12-11")
    assert r.status_code == 201, r.text
    first = r.headers["ETag"]
    absence = r.json()["data"]
    assert first == f'"{absence["version"]}"'
    url = f"/v1/staff/line_manager-1/absences/{absence['id']}"
    r = await somerset.client.patch(url, json={"ends_on": "2026-12-09"}, headers=dm(somerset))
    assert r.status_code == 428, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    for tag in ("*", f"W/{first}"):
        r = await somerset.client.patch(url, json={"ends_on": "2026-12-09"},
                                        headers={**dm(somerset), "If-Match": tag})
        assert r.status_code in (412, 428), r.text
    r = await somerset.client.patch(url, json={"ends_on": "2026-12-09"},
                                    headers={**dm(somerset), "If-Match": first})
    assert r.status_code == 200, r.text
    assert r.json()["data"]["ends_on"] == "2026-12-09"
    second = r.headers["ETag"]
    assert second != first
    r = await somerset.client.patch(url, json={"ends_on": "2026-12-08"},
                                    headers={**dm(somerset), "If-Match": first})
    assert r.status_code == 412, r.text
    assert "2026-12-08" not in r.text
    r = await somerset.client.patch(url, json={"ends_on": "2026-12-08"},
                                    headers={**dm(somerset), "If-Match": second})
    assert r.status_code == 200, r.text


async def test_race_two_absence_patches_with_one_etag_exactly_one_wins(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """A10-22 under a race: two managers change the same absence at once with the ETag they
    both read. Exactly one answers 200; the other 412 (it would have overwritten a change it
    never saw); the stored dates are the winner's."""
    pin(monkeypatch, 2026, 12, 1, 9, 0)
    for n in range(ROUNDS):
        r = await record(somerset, f"line_manager-{n + 10}", "2026-12-07", "2026-12-18")
        assert r.status_code == 201, r.text
        tag, absence = r.headers["ETag"], r.json()["data"]
        url = f"/v1/staff/line_manager-{n + 10}/absences/{absence['id']}"
        a, b = await asyncio.gather(
            somerset.client.patch(url, json={"ends_on": "2026-12-09"},
                                  headers={**dm(somerset), "If-Match": tag}),
            somerset.client.patch(url, json={"ends_on": "2026-12-15"},
                                  headers={**somerset.auth("duty_manager", "duty_manager-4"),
                                           "If-Match": tag}))
        assert sorted((a.status_code, b.status_code)) == [200, 412], (a.text, b.text)
        won = a if a.status_code == 200 else b
        r = await somerset.client.patch(url, json={}, headers={**dm(somerset),
                                                                "If-Match": won.headers["ETag"]})
        assert r.status_code == 200, r.text
        assert r.json()["data"]["ends_on"] == won.json()["data"]["ends_on"]
