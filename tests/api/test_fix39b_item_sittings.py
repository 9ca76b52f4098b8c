"""A step about an agenda item is owed at that item's sitting (ATTACK37-7), and an item recorded
after its sitting is on the agenda from the sitting (ATTACK37-10; fix39b).

Somerset 7.1.1 (S48): "The case holder will attend MARP to discuss the case. If not available,
the line manager will present the case." The attendance is asked when the case is put on a
MARP's agenda, about that agenda item, due at its sitting.

- ATTACK37-7: a case on two MARPs' agendas (the next MARP, and a later one: 7.1.6 "the panel will
  agree and then book a provisional review date", the administrator listing ahead, or the case
  kept on the next agenda while listed for a later one) owed the later item's attendance at the
  earlier sitting, so it turned late a week before its MARP sat. Two agendas are kept (agenda.py
  handles a case standing on another agenda), so each item's attendance is due at its own
  sitting, in either order of listing, and follows its sitting when it moves.
- ATTACK37-10: a sitting typed up after its day (the item put on its agenda the next day, as
  docs and A13-5 allow) could not be withdrawn dated at the sitting (422 "before the item's
  adding"): a deferral at the sitting always recorded S48 missed. The item counts as on the
  agenda from the sitting (its steps are asked there and its decision is dated there by
  default, as ``answered._panel_acts`` already read it), so the withdrawal may be dated from the
  sitting on; before the sitting it is still refused.

Dates (2026): ROSH high on Monday 31 August 10:00 BST; MARPs on Tuesdays 8 and 15 September
10:00 BST (09:00Z); a MARP that sat on Tuesday 1 September 10:00 BST.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.act_order_support import book_sitting, decide_item, withdraw_item
from tests.api.fidelity_support import pin
from tests.api.integrity_support import assert_problem, judge_rosh, move_panel, steps_of
from tests.conftest import Tenant

S48 = {"pack": "somerset-yjt-2023", "version": "1", "ref": "7.1.1", "rule": "S48"}
P_AT, Q_AT = "2026-09-08T10:00:00+01:00", "2026-09-15T10:00:00+01:00"
P_UTC, Q_UTC = "2026-09-08T09:00:00Z", "2026-09-15T09:00:00Z"


async def _high(t: Tenant) -> str:
    """A Somerset case opened 3 August 2026 with ROSH high dated 31 August 10:00 BST (on the
    register: it may go on a MARP's agenda); its id."""
    case_id = str((await t.open_case(opened_at="2026-08-03T09:00:00+01:00"))["data"]["id"])
    await judge_rosh(t, case_id, "high", "2026-08-31T10:00:00+01:00")
    return case_id


async def _attendances(t: Tenant, case_id: str) -> dict[str, tuple[Any, ...]]:
    """The case's open S48 steps: item id (subject) -> (actor, assignee, due_at, policy)."""
    return {s["subject_id"]: (s["actor"], s["assignee_id"], s["due_at"], s["policy"])
            for s in await steps_of(t, case_id) if s["code"] == "attend_initial_marp"}


def _due(at: str) -> tuple[Any, ...]:
    return ("case_holder", "case_holder-1", at, S48)


@pytest.mark.parametrize("later_first", [False, True], ids=["next-first", "later-first"])
async def test_S48_a_case_on_two_MARPs_owes_each_attendance_at_its_own_sitting(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch, later_first: bool) -> None:
    """S48 (Somerset 7.1.1): "The case holder will attend MARP to discuss the case. If not
    available, the line manager will present the case." On Tuesday 1 September the case (ROSH
    high) is put on the agendas of the MARPs of 8 and 15 September (in either order): the
    attendance for the 15 September item is due at 15 September 09:00Z, not at the 8 September
    sitting (ATTACK37-7: both were due on 8 September); the 8 September item's at 8 September.
    The 15 September MARP moved to 22 September: its attendance follows it; the 8 September
    item withdrawn: the other stays at its own sitting."""
    t = somerset
    pin(monkeypatch, 2026, 9, 1, 9, 0)
    case_id = await _high(t)
    if later_first:
        q = await book_sitting(t, case_id, "marp", Q_AT)
        p = await book_sitting(t, case_id, "marp", P_AT)
    else:
        p = await book_sitting(t, case_id, "marp", P_AT)
        q = await book_sitting(t, case_id, "marp", Q_AT)
    assert await _attendances(t, case_id) == {p[1]: _due(P_UTC), q[1]: _due(Q_UTC)}
    await move_panel(t, q[0], "2026-09-22T10:00:00+01:00")
    assert await _attendances(t, case_id) == {p[1]: _due(P_UTC),
                                              q[1]: _due("2026-09-22T09:00:00Z")}
    r = await withdraw_item(t, p, "listed for the later MARP only")
    assert r.status_code == 200, r.text
    assert await _attendances(t, case_id) == {q[1]: _due("2026-09-22T09:00:00Z")}


async def test_S48_the_next_MARPs_decision_leaves_the_later_items_attendance_at_its_sitting(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """S48 (Somerset 7.1.1): "The case holder will attend MARP to discuss the case." The case
    on the agendas of the MARPs of 8 and 15 September; the 8 September MARP decides (high
    kept, review booked for the 15 September MARP, 7.1.6 "the panel will agree and then book a
    provisional review date"): its attendance is done; the 15 September item's stays owed at
    its own sitting, not overdue."""
    t = somerset
    pin(monkeypatch, 2026, 9, 1, 9, 0)
    case_id = await _high(t)
    p = await book_sitting(t, case_id, "marp", P_AT)
    q = await book_sitting(t, case_id, "marp", Q_AT)
    pin(monkeypatch, 2026, 9, 8, 12, 0)
    r = await decide_item(t, p, "2026-09-08T11:00:00+01:00", {
        "rosh_level": "high", "actions": [], "minutes": "Plan agreed; review at the next MARP",
        "review_date": "2026-09-15"})
    assert r.status_code == 200, r.text
    assert await _attendances(t, case_id) == {q[1]: _due(Q_UTC)}
    [later] = [s for s in await steps_of(t, case_id) if s["code"] == "attend_initial_marp"]
    assert later["overdue"] is False


async def _typed_up_next_day(t: Tenant, monkeypatch: pytest.MonkeyPatch
                             ) -> tuple[str, tuple[str, str], dict[str, Any]]:
    """The MARP of Tuesday 1 September 10:00 BST typed up on Wednesday 2 September 09:00 BST:
    booked then, the case put on its agenda; (case, sitting, its S48)."""
    pin(monkeypatch, 2026, 8, 31, 12, 0)
    case_id = await _high(t)
    pin(monkeypatch, 2026, 9, 2, 8, 0)
    sitting = await book_sitting(t, case_id, "marp", "2026-09-01T10:00:00+01:00")
    [attend] = [s for s in await steps_of(t, case_id) if s["code"] == "attend_initial_marp"]
    assert (attend["subject_id"], attend["actor"], attend["due_at"], attend["policy"]) == (
        sitting[1], "case_holder", "2026-09-01T09:00:00Z", S48)
    return case_id, sitting, attend


async def test_S48_a_sitting_typed_up_next_day_deferred_at_the_sitting_is_superseded(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """S48 (Somerset 7.1.1): "The case holder will attend MARP to discuss the case." The MARP
    of 1 September is typed up on 2 September, the case put on its agenda then: the MARP
    deferred the case at 12:00 BST, and the withdrawal is dated so: accepted (ATTACK37-10: 422
    "before the item's adding", so S48 was always recorded missed), the item withdrawn at
    11:00Z, the attendance superseded (its need ended on the sitting's day), not missed."""
    t = somerset
    case_id, sitting, attend = await _typed_up_next_day(t, monkeypatch)
    r = await withdraw_item(t, sitting, "deferred at the sitting",
                            at="2026-09-01T12:00:00+01:00")
    assert r.status_code == 200, r.text
    assert r.json()["data"]["withdrawn_at"] == "2026-09-01T11:00:00Z"
    assert attend["id"] in {s["id"] for s in await steps_of(t, case_id, "superseded")}
    assert attend["id"] not in {s["id"] for s in await steps_of(t, case_id, "missed")}


async def test_S48_a_sitting_typed_up_next_day_is_not_withdrawn_before_it_sat(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """S48 (Somerset 7.1.1): "The case holder will attend MARP to discuss the case." The item
    put on the 1 September agenda on 2 September was on it from the sitting (10:00 BST), not
    before: a withdrawal dated 09:30 BST that day is 422 ``occurred-before-bound`` naming the
    item's adding, no value sent echoed; nothing is withdrawn, the attendance stays open."""
    t = somerset
    case_id, sitting, attend = await _typed_up_next_day(t, monkeypatch)
    r = await withdraw_item(t, sitting, "deferred", at="2026-09-01T09:30:00+01:00")
    problem = assert_problem(r, 422)
    assert problem["type"].endswith("/occurred-before-bound"), problem
    assert "09:30" not in r.text, r.text
    assert "08:30" not in r.text, r.text
    assert attend["id"] in {s["id"] for s in await steps_of(t, case_id)}


async def test_S48_two_MARPs_sitting_at_one_time_each_attendance_follows_its_own_panel(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """S48 (Somerset 7.1.1): "The case holder will attend MARP to discuss the case. If not
    available, the line manager will present the case." Two MARPs sit at the same time,
    Tuesday 8 September 10:00 BST, and the case is on both agendas: each attendance is due at
    its own sitting, 09:00Z. Each item is known by its panel, not by its sitting's time
    (review40): the second MARP moved to 15 September takes its item's attendance with it, the
    first's stays; the first moved to 22 September then takes its own, the second's stays."""
    t = somerset
    pin(monkeypatch, 2026, 9, 1, 9, 0)
    case_id = await _high(t)
    p = await book_sitting(t, case_id, "marp", P_AT)
    q = await book_sitting(t, case_id, "marp", P_AT)
    assert p[0] != q[0]
    assert await _attendances(t, case_id) == {p[1]: _due(P_UTC), q[1]: _due(P_UTC)}
    await move_panel(t, q[0], Q_AT)
    assert await _attendances(t, case_id) == {p[1]: _due(P_UTC), q[1]: _due(Q_UTC)}
    await move_panel(t, p[0], "2026-09-22T10:00:00+01:00")
    assert await _attendances(t, case_id) == {p[1]: _due("2026-09-22T09:00:00Z"),
                                              q[1]: _due(Q_UTC)}
