"""The case timeline's field changes replay to the ratings, register and custody the acts give
by their dates, whatever order they were typed in (attack 30a, A30a-1).

2026 dates: a ROSH judgement at Friday 28 August 14:00 BST (13:00Z) typed in first, then another
back-dated to Thursday 27 August 10:00 BST (09:00Z), both typed in on 28 August at 15:00 BST.
Custody: a release at Tuesday 29 December 15:00 typed in before the entry at 09:00 that day.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.fidelity_support import pin
from tests.api.integrity_support import judge
from tests.conftest import Tenant

EARLIER, LATER = "2026-08-27T09:00:00Z", "2026-08-28T13:00:00Z"


async def _changes(t: Tenant, case_id: str, name: str) -> list[tuple[str, Any, Any]]:
    r = await t.client.get(f"/v1/cases/{case_id}/timeline", params={"limit": 200},
                           headers=t.auth("line_manager"))
    assert r.status_code == 200, r.text
    out = []
    for e in r.json()["data"]:
        if e["action"] == "fields_changed" and name in e["details"]["changes"]:
            old, new = e["details"]["changes"][name]
            if name == "ratings":
                old, new = ((v or {}).get("rosh", {}).get("level") for v in (old, new))
            out.append((e["at"], old, new))
    return out


async def _typed_later_first(t: Tenant, monkeypatch: pytest.MonkeyPatch,
                             first: str, second: str) -> str:
    pin(monkeypatch, 2026, 8, 3, 9, 0)
    case_id = (await t.open_case(opened_at="2026-08-03T09:00:00Z"))["data"]["id"]
    pin(monkeypatch, 2026, 8, 28, 14, 0)
    await judge(t, case_id, "rosh", first, LATER)
    await judge(t, case_id, "rosh", second, EARLIER)
    return str(case_id)


async def test_A30a_1_a_back_dated_low_before_a_later_high_is_on_the_timeline(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """README: field changes "at the time of the act that made them: a back-dated judgement's
    rating and register change at its date". ROSH low at 27 August, high at 28 August: the
    rating went none -> low on the 27th and low -> high on the 28th (the high's own
    ``previous_level`` is low), not none -> high."""
    case_id = await _typed_later_first(somerset, monkeypatch, "high", "low")
    assert await _changes(somerset, case_id, "ratings") == [
        (EARLIER, None, "low"), (LATER, "low", "high")]
    assert await _changes(somerset, case_id, "on_register") == [(LATER, False, True)]


async def test_A30a_1_a_back_dated_high_before_a_later_low_puts_the_child_on_the_register(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """Somerset 9: "A list of High / Very High ROSH / Safety and Well-Being concerns will be
    maintained". ROSH high at 27 August, low at 28 August: the child was rated high and on the
    register from the 27th until the 28th; the timeline says so."""
    case_id = await _typed_later_first(somerset, monkeypatch, "low", "high")
    assert await _changes(somerset, case_id, "ratings") == [
        (EARLIER, None, "high"), (LATER, "high", "low")]
    assert await _changes(somerset, case_id, "on_register") == [
        (EARLIER, False, True), (LATER, True, False)]


@pytest.mark.parametrize("order", ["act order", "typed the other way"])
async def test_A30a_1_custody_typed_out_of_order_is_on_the_timeline(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch, order: str) -> None:
    """A custody entry at 09:00 and release at 15:00 on 29 December, in either typing order:
    ``in_custody`` false -> true at 09:00 and true -> false at 15:00."""
    pin(monkeypatch, 2026, 11, 2, 9, 0)
    case_id = (await somerset.open_case(opened_at="2026-11-02T09:00:00Z"))["data"]["id"]
    pin(monkeypatch, 2026, 12, 30, 10, 0)
    events = [{"type": "custody_entry", "occurred_at": "2026-12-29T09:00:00Z",
               "details": {"establishment": "YOI"}},
              {"type": "custody_release", "occurred_at": "2026-12-29T15:00:00Z", "details": {}}]
    for body in events if order == "act order" else events[::-1]:
        r = await somerset.client.post(f"/v1/cases/{case_id}/events", json=body,
                                       headers=somerset.auth("case_holder"))
        assert r.status_code == 201, r.text
    assert await _changes(somerset, case_id, "in_custody") == [
        ("2026-12-29T09:00:00Z", False, True), ("2026-12-29T15:00:00Z", True, False)]
