"""A dated ``PATCH`` carrying the MAPPA level with other fields, dated before any category
(fix41e's leftover of ATTACK40-7): its level waits for the category exactly as a ``PATCH`` of
the level alone does; its other fields take effect at their own date, as a ``PATCH`` of them
alone would. One outcome in every typing order, the level-only ``PATCH``'s.

Wokingham, Referrals into MAPPA: "For children that are expected to be managed at level 2/3,
the PYJS should make the referral using the MAPPA A form" (W17); "For MAPPA Level 1 children,
High Risk Panels should be held monthly" (W19); "The PYJS case worker and their line manager
must attend MAPPA meetings" (W27); "The PYJS should notify the Central MAPPA Unit ... of all
MAPPA eligible young people using the MAPPA H form" (W16).
"""

from __future__ import annotations

from typing import Any

from tests.api.test_fix41e_mappa_levels_before_category import (
    ON,
    Act,
    _codes,
    _in_every_order,
    _typed,
)
from tests.conftest import Tenant

RELEASE = "2027-03-01"


async def _as_level_only(t: Tenant, acts: list[Act]) -> dict[str, Any]:
    """The same acts in time order with each ``PATCH`` of the level and other fields sent as
    two: the level alone, then the other fields alone, at the same date."""
    split: list[Act] = []
    for source, at, fields in acts:
        if source == "staff" and "mappa_level" in fields and len(fields) > 1:
            split.append((source, at, {"mappa_level": fields["mappa_level"]}))
            split.append((source, at, {k: v for k, v in fields.items() if k != "mappa_level"}))
        else:
            split.append((source, at, fields))
    return await _typed(t, tuple(split))


async def test_W19_a_staff_level_sent_with_a_release_date_before_the_category_waits_for_it(
        wokingham: Tenant) -> None:
    """Wokingham, Referrals into MAPPA: "For MAPPA Level 1 children, High Risk Panels should be
    held monthly" (W19). A feed message's level 3 received 5 October, a line manager's PATCH of
    level 1 with the expected release date dated 7 October, the category 2 dated 10 October, in
    every order: level 1 stands from 10 October (its review a month after, nothing of the level
    3 that never stood owed, W16 kept), as with the level sent alone; before, the level sent
    with the release date took effect on 7 October (or was history, by typing order)."""
    acts: list[Act] = [
        ("feed", ON.format("05"), {"mappa_level": 3}),
        ("staff", ON.format("07"), {"mappa_level": 1, "expected_release_date": RELEASE}),
        ("staff", ON.format("10"), {"mappa_category": 2})]
    got = await _in_every_order(wokingham, acts)
    assert got == await _as_level_only(wokingham, acts)
    assert got["fields"] == (2, 1), got
    assert [due for _, rule, due in got["steps"] if rule == "W19"] == [
        "2026-11-10T10:00:00Z"], got
    rules = {rule for _, rule in _codes(got)}
    assert not {"W17", "W27"} & rules, got
    assert "W16" in rules, got
    assert ("2026-10-10T09:00:00Z", "mappa_level", None, 1) in got["history"], got


async def test_W17_a_later_dated_feed_level_wins_over_a_staff_level_sent_with_a_release_date(
        wokingham: Tenant) -> None:
    """Wokingham, Referrals into MAPPA: "For children that are expected to be managed at level
    2/3, the PYJS should make the referral using the MAPPA A form" (W17); "The PYJS case worker
    and their line manager must attend MAPPA meetings" (W27). A line manager's PATCH of level 1
    with the expected release date dated 5 October, a feed message's level 3 received 7
    October, the category 2 dated 10 October, in every order: level 3 stands from 10 October,
    W17 and W27 owed, no W19 of the level 1 that never stood: as with the level sent alone."""
    acts: list[Act] = [
        ("staff", ON.format("05"), {"mappa_level": 1, "expected_release_date": RELEASE}),
        ("feed", ON.format("07"), {"mappa_level": 3}),
        ("staff", ON.format("10"), {"mappa_category": 2})]
    got = await _in_every_order(wokingham, acts)
    assert got == await _as_level_only(wokingham, acts)
    assert got["fields"] == (2, 3), got
    rules = {rule for _, rule in _codes(got)}
    assert {"W17", "W27"} <= rules, got
    assert "W19" not in rules, got
