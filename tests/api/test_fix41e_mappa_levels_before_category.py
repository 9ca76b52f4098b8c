"""MAPPA levels dated before the category (attack 40, ATTACK40-7): one outcome in every typing
and delivery order, time order's.

The rule (README, Referral feeds; docs/integrating.md §3, §7): a MAPPA level is the management
of an eligible child, and the category says it is eligible. A level dated before any category is
in force takes effect when the category is (at the category's date), whoever records it (a feed
message or a dated ``PATCH``); among the levels waiting for one category the latest-dated wins;
the duties are those of the level from when it takes effect, and a level that never stood leaves
no duty open. A level with no category on file at all stays ``422
mappa-level-without-category`` (delivered or sent again once the category is on file).

Wokingham, Referrals into MAPPA: "For children that are expected to be managed at level 2/3, the
PYJS should make the referral using the MAPPA A form" (W17); "For MAPPA Level 1 children, High
Risk Panels should be held monthly" (W19); "The PYJS case worker and their line manager must
attend MAPPA meetings" (W27).
"""

from __future__ import annotations

import uuid
from pprint import pformat
from typing import Any

from tests.api.integrity_support import LEVEL_WITHOUT_CATEGORY, mappa_message, patch_case
from tests.conftest import Tenant
from tests.orders import typing_orders

OPENED = "2026-09-01T09:00:00+01:00"
ON = "2026-10-{}T10:00:00+01:00"
Act = tuple[str, str, dict[str, Any]]  # (source: "feed" or "staff", when, fields)


async def _send(t: Tenant, case_id: str, ref: str, act: Act) -> Any:
    source, at, fields = act
    if source == "feed":
        return await mappa_message(t, ref, at, fields)
    return await patch_case(t, case_id, {**fields, "occurred_at": at})


async def _typed(t: Tenant, order: tuple[Act, ...]) -> dict[str, Any]:
    """A new case with ``order`` recorded; a refused level (422, no category on file yet) sent
    again after the rest, as the README tells the feed and staff; the case's MAPPA fields,
    open steps and MAPPA field history."""
    ref = f"F41E-{uuid.uuid4().hex[:8]}"
    case_id = (await t.open_case(external_ref={"system": "IYSS", "id": ref},
                                 opened_at=OPENED))["data"]["id"]
    waiting = list(order)
    while waiting:
        refused = []
        for act in waiting:
            r = await _send(t, case_id, ref, act)
            if r.status_code == 422 and r.json()["type"].endswith("/" + LEVEL_WITHOUT_CATEGORY):
                refused.append(act)
                continue
            assert r.status_code in (200, 201), (act, r.text)
        assert len(refused) < len(waiting), refused
        waiting = refused
    headers = t.auth("line_manager")
    case = (await t.client.get(f"/v1/cases/{case_id}", headers=headers)).json()["data"]
    steps = (await t.client.get("/v1/next-steps", params={"case_id": case_id, "limit": 200},
                                headers=headers)).json()["data"]
    timeline = (await t.client.get(f"/v1/cases/{case_id}/timeline", params={"limit": 200},
                                   headers=headers)).json()["data"]
    return {
        "fields": (case["mappa_category"], case["mappa_level"]),
        "steps": sorted((s["code"], s["policy"]["rule"], s["due_at"]) for s in steps),
        "history": sorted((e["at"], name, old, new) for e in timeline
                          if e["action"] == "fields_changed"
                          for name, (old, new) in e["details"]["changes"].items()
                          if name.startswith("mappa_")),
    }


async def _in_every_order(t: Tenant, acts: list[Act]) -> dict[str, Any]:
    got = {tuple(f"{a[0]} {a[1][8:10]} {a[2]}" for a in order): await _typed(t, order)
           for order in typing_orders(acts)}
    first = next(iter(got.values()))
    differ = {order: seen for order, seen in got.items() if seen != first}
    assert differ == {}, f"time order: {pformat(first)}\nother orders: {pformat(differ)}"
    return first


def _codes(got: dict[str, Any]) -> set[tuple[str, str]]:
    return {(code, rule) for code, rule, _ in got["steps"]}


async def test_W19_a_later_dated_staff_level_before_the_category_wins_in_every_order(
        wokingham: Tenant) -> None:
    """Wokingham, Referrals into MAPPA: "For MAPPA Level 1 children, High Risk Panels should be
    held monthly" (W19). A feed message's level 3 received 5 October, a line manager's level 1
    dated 7 October and the category 2 dated 10 October, in every order (ATTACK40-7: level 3 or
    1 by typing order, with W17/W27 or W19/W16): level 1 stands from 10 October, the monthly
    review is due a month after it, and nothing of the level 3 that never stood is owed."""
    got = await _in_every_order(wokingham, [
        ("feed", ON.format("05"), {"mappa_level": 3}),
        ("staff", ON.format("07"), {"mappa_level": 1}),
        ("staff", ON.format("10"), {"mappa_category": 2})])
    assert got["fields"] == (2, 1), got
    reviews = [due for code, rule, due in got["steps"] if rule == "W19"]
    assert reviews == ["2026-11-10T10:00:00Z"], got
    assert not {"W17", "W27"} & {rule for _, rule in _codes(got)}, got
    assert ("2026-10-10T09:00:00Z", "mappa_level", None, 1) in got["history"], got


async def test_W17_a_later_dated_feed_level_before_the_category_wins_in_every_order(
        wokingham: Tenant) -> None:
    """Wokingham, Referrals into MAPPA: "For children that are expected to be managed at level
    2/3, the PYJS should make the referral using the MAPPA A form" (W17). A line manager's level
    1 dated 5 October, a feed message's level 3 received 7 October, the category 2 dated 10
    October, in every order: level 3 stands from 10 October, the MAPPA A referral and the
    meetings are owed, no monthly High-Risk Panel review of a level 1 that never stood."""
    got = await _in_every_order(wokingham, [
        ("staff", ON.format("05"), {"mappa_level": 1}),
        ("feed", ON.format("07"), {"mappa_level": 3}),
        ("staff", ON.format("10"), {"mappa_category": 2})])
    assert got["fields"] == (2, 3), got
    rules = {rule for _, rule in _codes(got)}
    assert {"W17", "W27"} <= rules, got
    assert "W19" not in rules, got


async def test_W19_feed_levels_before_the_category_leave_no_duty_of_the_level_that_never_stood(
        wokingham: Tenant) -> None:
    """Wokingham, Referrals into MAPPA: "For MAPPA Level 1 children, High Risk Panels should be
    held monthly" (W19); "The PYJS case worker and their line manager must attend MAPPA
    meetings" (W27). The same three as feed messages (level 3 received 5 October, level 1 on 7
    October, category 2 on 10 October), in every order: W27's plan update raised by the level 3
    was left open in three orders (ATTACK40-7); now level 1 from 10 October in every order, its
    monthly review a month after, nothing of level 3 owed."""
    got = await _in_every_order(wokingham, [
        ("feed", ON.format("05"), {"mappa_level": 3}),
        ("feed", ON.format("07"), {"mappa_level": 1}),
        ("feed", ON.format("10"), {"mappa_category": 2})])
    assert got["fields"] == (2, 1), got
    reviews = [due for code, rule, due in got["steps"] if rule == "W19"]
    assert reviews == ["2026-11-10T10:00:00Z"], got
    assert not {"W17", "W27"} & {rule for _, rule in _codes(got)}, got


async def test_W19_two_staff_levels_before_the_category_the_later_dated_wins(
        wokingham: Tenant) -> None:
    """Wokingham, Referrals into MAPPA: "For MAPPA Level 1 children, High Risk Panels should be
    held monthly" (W19). Two dated PATCHes of the level before the category (level 3 dated 5
    October, level 1 dated 7 October) and the category 2 dated 10 October, in every order:
    level 1 from 10 October, the review a month after it."""
    got = await _in_every_order(wokingham, [
        ("staff", ON.format("05"), {"mappa_level": 3}),
        ("staff", ON.format("07"), {"mappa_level": 1}),
        ("staff", ON.format("10"), {"mappa_category": 2})])
    assert got["fields"] == (2, 1), got
    reviews = [due for code, rule, due in got["steps"] if rule == "W19"]
    assert reviews == ["2026-11-10T10:00:00Z"], got
    assert not {"W17", "W27"} & {rule for _, rule in _codes(got)}, got

