"""The register pages like the caseload: keyset cursor, ``limit``, ``next_cursor``; a page
holds only cases its reader may see, whatever cursor is sent."""

from __future__ import annotations

from typing import Any

from tests.api.integrity_support import assert_problem
from tests.api.test_events import judge
from tests.conftest import Tenant

AT = "2026-04-15T10:00:00Z"


async def registered(t: Tenant, n: int) -> list[str]:
    """Open ``n`` cases and put each on the register (ROSH high); their ids, oldest first."""
    ids = []
    for _ in range(n):
        case = (await t.open_case())["data"]
        await judge(t, case["id"], "rosh", "high", AT)
        ids.append(case["id"])
    return ids


async def walk(t: Tenant, headers: dict[str, str], limit: int,
               cursor: str | None = None) -> tuple[list[dict[str, Any]], int]:
    """Every page of the register from ``cursor``: the cases in order and the page count."""
    seen: list[dict[str, Any]] = []
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": limit, **({"cursor": cursor} if cursor else {})}
        r = await t.client.get("/v1/register", params=params, headers=headers)
        assert r.status_code == 200, r.text
        body = r.json()
        assert len(body["data"]) <= limit
        seen += body["data"]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            return seen, pages
        assert pages < 50


async def test_register_pages_once_in_creation_order_with_open_steps(somerset: Tenant) -> None:
    """Five registered cases (and one not registered) in pages of two: each once, oldest first,
    three pages, each case with the same open steps as its own read."""
    ids = await registered(somerset, 5)
    await somerset.open_case()  # not on the register
    for role in ("chair", "panel_admin", "line_manager", "duty_manager"):
        cases, pages = await walk(somerset, somerset.auth(role), limit=2)
        assert [c["id"] for c in cases] == ids, role
        assert pages == 3
    chair = somerset.auth("chair")
    cases, _ = await walk(somerset, chair, limit=2)
    for case in cases:
        read = (await somerset.client.get(f"/v1/cases/{case['id']}", headers=chair)).json()
        assert case["open_steps"] == read["data"]["open_steps"]
        assert case["on_register"] is True
    default = (await somerset.client.get("/v1/register", headers=chair)).json()
    assert [c["id"] for c in default["data"]] == ids
    assert default["next_cursor"] is None


async def test_register_page_never_holds_another_services_or_teams_cases(
    somerset: Tenant, wokingham: Tenant
) -> None:
    """A cursor is bound to its reader (attack 20, A20-14): another service's chair sending
    Somerset's cursor is 422 ``invalid-cursor`` (it was a position in their own register),
    and walks their own register from the start (none of Somerset's cases); a line manager of
    another team walks an empty register."""
    theirs = await registered(somerset, 3)
    ours = await registered(wokingham, 2)
    first = (await somerset.client.get("/v1/register", params={"limit": 1},
                                       headers=somerset.auth("chair"))).json()
    assert [c["id"] for c in first["data"]] == theirs[:1]
    stolen = first["next_cursor"]
    assert stolen
    r = await wokingham.client.get("/v1/register", params={"limit": 1, "cursor": stolen},
                                   headers=wokingham.auth("chair"))
    assert assert_problem(r, 422)["type"].endswith("/invalid-cursor")
    cases, _ = await walk(wokingham, wokingham.auth("chair"), limit=1)
    assert [c["id"] for c in cases] == ours
    for t in (somerset, wokingham):
        other_team = t.auth("line_manager", sub="line_manager-elsewhere")
        cases, pages = await walk(t, other_team, limit=1)
        assert cases == []
        assert pages == 1


async def test_register_refuses_bad_paging(somerset: Tenant) -> None:
    """``limit`` outside 1-200 and a cursor it did not make are 422; a case holder is 403
    whatever the paging."""
    chair = somerset.auth("chair")
    for params in ({"limit": 0}, {"limit": 201}, {"limit": "x"}, {"cursor": "!!not-a-cursor"},
                   {"cursor": "bm90LWEtY3Vyc29y"}):
        r = await somerset.client.get("/v1/register", params=params, headers=chair)
        assert_problem(r, 422)
    r = await somerset.client.get("/v1/register", params={"limit": 1},
                                  headers=somerset.auth("case_holder"))
    assert_problem(r, 403)
