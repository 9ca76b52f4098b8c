"""Every list route pages the same way (attack pass 16, A16-15; docs/integrating.md
"Pagination"): ``limit`` (1-200, default 50), a stable order, and ``next_cursor`` until the last
page, a cursor valid for its own list only (422 ``invalid-cursor`` elsewhere). A case's
sub-resource lists (its judgements, events, assessments, referrals, oversight, audit trail and
timeline) used to answer every row at once."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from app.core.config import Settings
from tests.api.integrity_support import assert_problem
from tests.api.test_events import judge
from tests.conftest import Tenant, make_tenant

AT = "2026-04-{:02d}T10:00:00Z"


async def walk(t: Tenant, path: str, headers: dict[str, str], limit: int,
               cursor: str | None = None, **filters: Any) -> tuple[list[Any], int]:
    """Every page of a list from ``cursor``, ``limit`` at a time: the items in order and the
    page count."""
    seen: list[Any] = []
    pages = 0
    while True:
        params = {"limit": limit, **filters, **({"cursor": cursor} if cursor else {})}
        r = await t.client.get(path, params=params, headers=headers)
        assert r.status_code == 200, r.text
        body = r.json()
        assert len(body["data"]) <= limit
        seen += body["data"]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            return seen, pages
        assert pages < 100


async def whole(t: Tenant, path: str, headers: dict[str, str], **filters: Any) -> list[Any]:
    """A list in one page of the most allowed (200)."""
    r = await t.client.get(path, params={"limit": 200, **filters}, headers=headers)
    assert r.status_code == 200, r.text
    assert r.json()["next_cursor"] is None
    return list(r.json()["data"])


async def a_case_with_records(t: Tenant) -> str:
    """A case with three judgements, three events, two assessments, two referrals and two
    oversight entries; its id."""
    case_id = str((await t.open_case())["data"]["id"])
    holder, manager = t.auth("case_holder"), t.auth("line_manager")
    for day, level in ((3, "low"), (4, "medium"), (5, "low")):
        await judge(t, case_id, "swb", level, AT.format(day))
    for day in (6, 7, 8):
        r = await t.client.post(f"/v1/cases/{case_id}/events", headers=holder, json={
            "type": "change_of_circumstances", "occurred_at": AT.format(day),
            "details": {"note": f"moved ({day})"}})
        assert r.status_code == 201, r.text
    for stage in ("start", "review"):
        r = await t.client.post(f"/v1/cases/{case_id}/assessments", headers=holder,
                                json={"type": "asset_plus", "stage": stage})
        assert r.status_code == 201, r.text
    for kind in ("emrac", "marf"):
        r = await t.client.post(f"/v1/cases/{case_id}/referrals", headers=holder,
                                json={"kind": kind})
        assert r.status_code == 201, r.text
    for day in (9, 10):
        r = await t.client.post(f"/v1/cases/{case_id}/oversight", headers=manager, json={
            "note": f"Supervision {day}", "occurred_at": AT.format(day)})
        assert r.status_code == 201, r.text
    return case_id


LISTS = ("judgements", "events", "assessments", "referrals", "oversight", "audit", "timeline")


@pytest.mark.parametrize("pack", ["somerset-yjt-2023", "wokingham-pyjs-2024"])
async def test_a_cases_lists_page_each_record_once_in_order(
    pack: str, client: httpx.AsyncClient, settings: Settings
) -> None:
    """Each of a case's lists, walked a record at a time and two at a time, gives every record
    once in the order of the whole list, ending in ``next_cursor: null``; more than 200 a page
    is 422, as on the lists already paged."""
    t = await make_tenant(client, settings, pack)
    case_id = await a_case_with_records(t)
    manager = t.auth("line_manager")
    for name in LISTS:
        path = f"/v1/cases/{case_id}/{name}"
        everything = await whole(t, path, manager)
        assert len(everything) >= 2, name
        for limit in (1, 2):
            seen, pages = await walk(t, path, manager, limit)
            assert seen == everything, (name, limit)
            assert pages == -(-len(everything) // limit), (name, limit)
        r = await t.client.get(path, params={"limit": 201}, headers=manager)
        assert r.status_code == 422, (name, r.text)
        first = (await t.client.get(path, params={"limit": 1}, headers=manager)).json()
        assert len(first["data"]) == 1, name
        assert first["next_cursor"] is not None, name


async def test_a_cursor_is_for_its_own_list_and_case(somerset: Tenant) -> None:
    """A cursor of one case's judgements is refused on its events, and on another case's
    judgements: 422 ``invalid-cursor`` (a cursor is valid for the same list only)."""
    case_id = await a_case_with_records(somerset)
    other = str((await somerset.open_case())["data"]["id"])
    manager = somerset.auth("line_manager")
    cursor = (await somerset.client.get(f"/v1/cases/{case_id}/judgements",
                                        params={"limit": 1}, headers=manager)).json()
    for path in (f"/v1/cases/{case_id}/events", f"/v1/cases/{other}/judgements"):
        r = await somerset.client.get(path, params={"cursor": cursor["next_cursor"]},
                                      headers=manager)
        assert assert_problem(r, 422)["type"].endswith("/invalid-cursor")


async def test_a_record_written_between_pages_is_neither_repeated_nor_skipped(
    somerset: Tenant,
) -> None:
    """Judgements are newest first: one recorded (dated latest) after the first page was read
    does not shift the pages still to come: the rest come once each."""
    case_id = await a_case_with_records(somerset)
    manager = somerset.auth("line_manager")
    path = f"/v1/cases/{case_id}/judgements"
    before = await whole(somerset, path, manager)
    first = (await somerset.client.get(path, params={"limit": 1}, headers=manager)).json()
    await judge(somerset, case_id, "swb", "medium", AT.format(20))
    rest, _ = await walk(somerset, path, manager, 1, cursor=first["next_cursor"])
    assert [j["id"] for j in first["data"] + rest] == [j["id"] for j in before]


async def test_panels_and_calendar_feeds_page(somerset: Tenant) -> None:
    """The service's panels (soonest first) and the caller's calendar feeds page the same
    way; the panel list used to answer every panel with ``next_cursor`` always null."""
    admin = somerset.auth("panel_admin")
    for day in (11, 12, 13):
        r = await somerset.client.post("/v1/panels", headers=admin, json={
            "kind": "marp", "scheduled_for": f"2026-05-{day}T14:00:00+01:00",
            "chair_id": "chair-1"})
        assert r.status_code == 201, r.text
    panels = await whole(somerset, "/v1/panels", admin, upcoming="false")
    assert len(panels) == 3
    seen, pages = await walk(somerset, "/v1/panels", admin, 1, upcoming="false")
    assert (seen, pages) == (panels, 3)
    holder = somerset.auth("case_holder")
    for _ in range(3):
        r = await somerset.client.post("/v1/me/calendar-feeds", headers=holder, json={})
        assert r.status_code == 201, r.text
    feeds = await whole(somerset, "/v1/me/calendar-feeds", holder)
    seen, pages = await walk(somerset, "/v1/me/calendar-feeds", holder, 2)
    assert (seen, pages) == (feeds, 2)
