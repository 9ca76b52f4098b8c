"""List cursors are sealed: opaque, tamper-proof, bound to their query and reader (attack 20,
A20-14).

docs/integrating.md (Pagination): ``next_cursor`` is opaque and "valid for the same query
only". It was plain base64 of the last item's sort key: a bare duty's exact ``created_at``
(the API shows a bare duty only its London day) was one decode away, and a client could forge
or change a cursor. Cursors are now AES-256-GCM sealed (``app.domain.cursors``; the key in the
database, migration 0028): decoded they show nothing of the item; a changed, truncated,
hand-made or another reader's cursor is 422 ``invalid-cursor`` (RFC 9457), never 500; paging
with them is complete and stable, on both databases.
"""

from __future__ import annotations

import base64
from typing import Any

import pytest

from tests.api.integrity_support import assert_problem
from tests.conftest import Tenant

LISTS = ["/v1/cases", "/v1/next-steps", "timeline", "judgements"]


def _path(name: str, case_id: str) -> str:
    return name if name.startswith("/") else f"/v1/cases/{case_id}/{name}"


async def _page(t: Tenant, path: str, role: str = "line_manager", **params: Any) -> Any:
    r = await t.client.get(path, params={"limit": 1, **params}, headers=t.auth(role))
    assert r.status_code == 200, r.text
    return r.json()


async def _case_with_records(t: Tenant) -> str:
    case_id = (await t.open_case())["data"]["id"]
    for day, level in ((3, "low"), (4, "medium")):
        r = await t.client.post(f"/v1/cases/{case_id}/judgements", json={
            "domain": "swb", "level": level, "occurred_at": f"2026-03-0{day}T10:00:00Z"},
            headers=t.auth("case_holder"))
        assert r.status_code == 201, r.text
    await t.open_case()
    return str(case_id)


def _raw(cursor: str) -> bytes:
    return base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))


@pytest.mark.parametrize("name", LISTS)
async def test_a_cursor_reveals_nothing_of_the_item(somerset: Tenant, name: str) -> None:
    """Decoded, a cursor holds none of its page's last item: not its id, not its creation
    time (to the second or as the London day), no timestamp at all."""
    case_id = await _case_with_records(somerset)
    page = await _page(somerset, _path(name, case_id))
    cursor = page["next_cursor"]
    assert cursor is not None
    raw = _raw(cursor)
    item = page["data"][0]
    for value in (item.get("id"), item.get("entity_id"), item.get("created_at"),
                  item.get("at")):
        if value:
            assert str(value).encode() not in raw
            assert str(value)[:10].encode() not in raw
    assert b"2026-" not in raw
    assert b"+00:00" not in raw
    again = await _page(somerset, _path(name, case_id))
    assert again["data"] == page["data"]
    assert again["next_cursor"] != cursor  # a fresh nonce each time: no linking of pages


def _flipped(cursor: str, at: int) -> str:
    raw = bytearray(_raw(cursor))
    raw[at] ^= 0x01
    return base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("=")


@pytest.mark.parametrize("name", LISTS)
async def test_a_changed_truncated_forged_or_borrowed_cursor_is_422(
    somerset: Tenant, name: str
) -> None:
    """A bit flipped in the nonce, the sealed text or the tag; the cursor cut short; a cursor
    built by hand in the old plain format; the line manager's cursor sent by a duty manager
    (another reader): each is 422 ``invalid-cursor`` naming ``query.cursor``; the untouched
    cursor still pages for its own reader."""
    case_id = await _case_with_records(somerset)
    path = _path(name, case_id)
    cursor = (await _page(somerset, path))["next_cursor"]
    size = len(_raw(cursor))
    plain = base64.urlsafe_b64encode(
        f"2026-03-03T10:00:00+00:00|{case_id}|0123456789ab".encode()).decode().rstrip("=")
    bad = [_flipped(cursor, 0), _flipped(cursor, 14), _flipped(cursor, size - 1),
           cursor[:-4], cursor[:20], plain]
    for sent in bad:
        r = await somerset.client.get(path, params={"limit": 1, "cursor": sent},
                                      headers=somerset.auth("line_manager"))
        problem = assert_problem(r, 422)
        assert problem["type"].endswith("/invalid-cursor"), problem
        assert [e["loc"] for e in problem["errors"]] == ["query.cursor"]
    r = await somerset.client.get(path, params={"limit": 1, "cursor": cursor},
                                  headers=somerset.auth("duty_manager"))
    assert assert_problem(r, 422)["type"].endswith("/invalid-cursor")
    await _page(somerset, path, cursor=cursor)


@pytest.mark.parametrize("name", LISTS)
async def test_sealed_cursors_page_every_item_once_in_order(somerset: Tenant, name: str) -> None:
    """A page at a time (limit 1), the sealed cursors give every item of the list once, in the
    list's order, as one page of 200 does."""
    case_id = await _case_with_records(somerset)
    path = _path(name, case_id)
    whole = (await _page(somerset, path, limit=200))["data"]
    seen: list[Any] = []
    cursor = None
    while True:
        page = await _page(somerset, path, **({"cursor": cursor} if cursor else {}))
        seen += page["data"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(whole) >= 2
    assert seen == whole


async def test_a_page_ending_on_a_step_due_before_2000_pages_on(
    somerset: Tenant, settings: Any
) -> None:
    """Attack 22, A22-3: a page of ``/v1/next-steps`` ending on a step due before 2000 (a case
    opened then: an old case back-filled, or a date typed wrong) got a cursor the service then
    refused (422 ``invalid-cursor``): the list could not be paged past it. Its own cursor is
    taken whatever the row's date; the steps after it are listed."""
    import uuid
    from datetime import UTC, datetime

    from sqlalchemy import update

    from app.core.db import build_engine
    from app.domain.steps import Step

    first = (await somerset.open_case())["data"]["id"]
    second = (await somerset.open_case())["data"]["id"]
    engine = build_engine(settings)
    try:
        async with engine.begin() as conn:
            moved = await conn.execute(
                update(Step).where(Step.case_id == uuid.UUID(first))  # type: ignore[arg-type]
                .values(due_at=datetime(1990, 6, 30, 22, 59, 59, tzinfo=UTC)))
            assert moved.rowcount >= 1
    finally:
        await engine.dispose()
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 1} if cursor is None else {"limit": 1,
                                                                     "cursor": cursor}
        r = await somerset.client.get("/v1/next-steps", params=params,
                                      headers=somerset.auth("line_manager"))
        assert r.status_code == 200, r.text
        seen += [s["case_id"] for s in r.json()["data"]]
        cursor = r.json()["next_cursor"]
        if cursor is None:
            break
    assert first in seen
    assert second in seen
    assert seen[0] == first  # the old step comes first, and the list goes on past it
