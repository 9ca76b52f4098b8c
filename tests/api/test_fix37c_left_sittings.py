"""A case taken off a sitting's agenda (ATTACK36-3 and fix36e's leftover; fix37c).

Withdrawn (or deferred at the sitting) by the panel's keepers, the case kept its ``next-panel``
steps due at the sitting it had left (Somerset S8's views, S10's MAPPA level): they now take
the next sitting of the kind, or wait for one, as when a sitting is cancelled, and stay off it
whatever panel is booked, moved or cancelled later, until the case is put back on it. The
re-opened referral of a case deferred at the sitting said "the panel deferred the case at its
sitting" for what was a withdrawal. A withdrawal takes ``occurred_at`` as the other writes do:
a deferral at the sitting typed the next morning is judged at the sitting (S48's attendance,
due at the sitting and late only after the end of its day, is then superseded, not missed).

Dates (2026): ROSH very high on Wednesday 26 August 10:00 BST; MARPs on Tuesday 29 September
10:00 BST (09:00Z) and Tuesday 27 October 10:00 GMT (10:00Z, after the clocks go back); the
example pack's Risk Panels on Thursdays 12 and 19 November 10:00 GMT.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.api.act_order_support import book_sitting, withdraw_item
from tests.api.fidelity_support import pin
from tests.api.integrity_support import assert_problem, book_panel, judge_rosh, steps_of, the_step
from tests.conftest import Tenant, make_tenant

SOMERSET = {"pack": "somerset-yjt-2023", "version": "1"}
MARP_AT, OCTOBER = "2026-09-29T10:00:00+01:00", "2026-10-27T10:00:00Z"
SITTING_UTC, OCTOBER_UTC = "2026-09-29T09:00:00Z", "2026-10-27T10:00:00Z"
# Each next-panel step of the case: (rule, actor, reference).
NEXT_PANEL = {"seek_child_and_carer_views": ("S8", "case_holder", "6.2"),
              "identify_mappa_level": ("S10", "chair", "7.1.9, 3.2.4")}


async def _on_the_marp(t: Tenant, monkeypatch: pytest.MonkeyPatch) -> tuple[str, tuple[str, str]]:
    """Friday 28 August 2026 14:35Z: ROSH very high (26 August 10:00 BST), the MARPs of 29
    September and 27 October booked, the case on the first's agenda; (case, sitting)."""
    pin(monkeypatch, 2026, 8, 28, 14, 35)
    case_id = str((await t.open_case(opened_at="2026-08-03T09:00:00+01:00"))["data"]["id"])
    await judge_rosh(t, case_id, "very_high", "2026-08-26T10:00:00+01:00")
    await book_panel(t, OCTOBER)
    sitting = await book_sitting(t, case_id, "marp", MARP_AT)
    assert _next_panel(await steps_of(t, case_id)) == _due(SITTING_UTC)
    return case_id, sitting


def _next_panel(steps: list[dict[str, Any]]) -> dict[str, tuple[Any, ...]]:
    """The case's S8 and S10: code -> (rule, actor, reference, pack, due_at, overdue)."""
    return {s["code"]: (s["policy"]["rule"], s["actor"], s["policy"]["ref"],
                        s["policy"]["pack"], s["due_at"], s["overdue"])
            for s in steps if s["code"] in NEXT_PANEL}


def _due(due_at: str | None, views_at: str | None = None) -> dict[str, tuple[Any, ...]]:
    """S8 and S10 due at ``due_at``, not overdue; ``views_at``: S8 due then instead, overdue
    (late when the case was taken off)."""
    due = {code: (*line, SOMERSET["pack"], due_at, False) for code, line in NEXT_PANEL.items()}
    if views_at is not None:
        views = "seek_child_and_carer_views"
        due[views] = (*NEXT_PANEL[views], SOMERSET["pack"], views_at, True)
    return due


async def test_S8_S10_a_case_taken_off_the_next_MARPs_agenda_is_due_at_the_one_after(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """S8 (Somerset 6.2): "Child and parent/carer views will be sought before the initial
    panel"; S10 (3.2.4): "the MAPPA level will be identified and agreed via these processes".
    Both due at the MARP of 29 September the case is on (09:00Z). On 28 August the
    administrator takes it off ("moving to the October MARP"): both are due at the MARP of
    27 October (10:00Z), as if the September sitting were cancelled for this case, not at
    the sitting it left; a MARP booked on 13 October then takes them (09:00Z), never the one
    it left; put back on the September agenda, they are due there again."""
    t = somerset
    case_id, sitting = await _on_the_marp(t, monkeypatch)
    r = await withdraw_item(t, sitting, "moving to the October MARP")
    assert r.status_code == 200, r.text
    assert _next_panel(await steps_of(t, case_id)) == _due(OCTOBER_UTC)
    await book_panel(t, "2026-10-13T10:00:00+01:00")
    assert _next_panel(await steps_of(t, case_id)) == _due("2026-10-13T09:00:00Z")
    r = await t.client.post(f"/v1/panels/{sitting[0]}/items", headers=t.auth("panel_admin"),
                            json={"case_id": case_id, "presenter_id": "case_holder-1"})
    assert r.status_code == 201, r.text
    assert _next_panel(await steps_of(t, case_id)) == _due(SITTING_UTC)


async def test_S8_S10_a_case_deferred_at_the_sitting_is_due_at_the_next_MARP_and_says_withdrawn(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """S8 (6.2): views "sought before the initial panel"; S10 (3.2.4), the MAPPA level agreed
    via the MARP; S7 (3.2.3): "The case holder will refer the case to the next YJT MARP".
    The MARP of 29 September runs out of time: at 12:00 BST the administrator takes the case
    off. S10, which only the MARP's decision does and which is late only after the end of the
    sitting's day, is due at the next MARP (27 October 10:00Z), not at the sitting it left;
    S8's views, owed before the sitting's start and not sought by then, were already late
    and stay so (the deferral does not erase that; the October MARP sitting without them
    records them missed); the referral its item answered is owed again at the October MARP,
    its re-dating on the timeline saying why: the case was withdrawn from the agenda (not
    "the panel deferred the case at its sitting")."""
    t = somerset
    case_id, sitting = await _on_the_marp(t, monkeypatch)
    pin(monkeypatch, 2026, 9, 29, 11, 0)
    r = await withdraw_item(t, sitting, "MARP ran out of time")
    assert r.status_code == 200, r.text
    steps = await steps_of(t, case_id)
    assert _next_panel(steps) == _due(OCTOBER_UTC, views_at=SITTING_UTC)
    refer = the_step(steps, "refer_to_panel")
    assert (refer["policy"]["rule"], refer["actor"], refer["due_at"], refer["overdue"]) == (
        "S7", "case_holder", OCTOBER_UTC, False)
    r = await t.client.get(f"/v1/cases/{case_id}/timeline", params={"limit": 200},
                           headers=t.auth("line_manager"))
    assert r.status_code == 200, r.text
    whys = [e["why"] for e in r.json()["data"]
            if e["kind"] == "step" and e["entity_id"] == refer["id"]]
    assert whys, whys
    assert all("deferred" not in (why or "") for why in whys), whys
    assert any("withdrawn" in (why or "") for why in whys), whys
    assert "deferred" not in refer["note"], refer["note"]
    assert "withdrawn" in refer["note"], refer["note"]


async def test_S48_a_deferral_at_the_sitting_typed_next_morning_is_judged_at_the_sitting(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """S48 (Somerset 7.1.1): "The case holder will attend MARP to discuss the case." Due at
    the MARP the case is on (29 September 10:00 BST), late only after the end of that day
    (the sitting's own acts are typed up that day). The MARP defers the case at 12:00; the
    administrator types the withdrawal on Wednesday 30 September 09:00 BST, dated 12:00 the
    day before: the attendance is superseded (its need ended in time), not missed, the item
    withdrawn at 11:00Z; S10 is due at the next MARP (S8's views, late since the sitting's
    start, stay late)."""
    t = somerset
    case_id, sitting = await _on_the_marp(t, monkeypatch)
    attend = the_step(await steps_of(t, case_id), "attend_initial_marp")
    assert (attend["policy"]["rule"], attend["actor"], attend["due_at"]) == (
        "S48", "case_holder", SITTING_UTC)
    pin(monkeypatch, 2026, 9, 30, 8, 0)
    r = await withdraw_item(t, sitting, "deferred: the MARP ran out of time",
                            at="2026-09-29T12:00:00+01:00")
    assert r.status_code == 200, r.text
    assert r.json()["data"]["withdrawn_at"] == "2026-09-29T11:00:00Z"
    assert attend["id"] in {s["id"] for s in await steps_of(t, case_id, "superseded")}
    assert attend["id"] not in {s["id"] for s in await steps_of(t, case_id, "missed")}
    assert _next_panel(await steps_of(t, case_id)) == _due(OCTOBER_UTC, views_at=SITTING_UTC)


@pytest.mark.parametrize(("at", "slug"), [
    ("2026-08-28T16:40:00+01:00", "occurred-in-future"),  # an hour ahead of the clock
    ("2026-08-28T15:30:00+01:00", "occurred-before-bound"),  # before the item was added
], ids=["future", "before-the-item"])
async def test_S29_a_withdrawal_dated_in_the_future_or_before_its_item_is_refused(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch, at: str, slug: str) -> None:
    """S29 (Somerset 7.1.2, the chair's record of the decision, ended by a withdrawal): a
    withdrawal's ``occurred_at`` is judged as every dated act's: in the future (more than 5
    minutes ahead) 422 ``occurred-in-future``, before the item was put on the agenda (28
    August 15:35 BST) 422 ``occurred-before-bound``; nothing is withdrawn."""
    t = somerset
    case_id, sitting = await _on_the_marp(t, monkeypatch)
    r = await withdraw_item(t, sitting, "wrong MARP", at=at)
    problem = assert_problem(r, 422)
    assert problem["type"].endswith(f"/{slug}"), problem
    panel = await t.client.get(f"/v1/panels/{sitting[0]}", headers=t.auth("chair"))
    assert [i["withdrawn_at"] for i in panel.json()["data"]["items"]] == [None]
    assert "record_panel_decision" in {s["code"] for s in await steps_of(t, case_id)}


@pytest.fixture
async def example(client: httpx.AsyncClient, settings: Any) -> Tenant:
    """A fresh service under the example pack (a weekly Risk Panel)."""
    return await make_tenant(client, settings, "example-yjs")


async def test_X9_views_of_a_case_taken_off_a_risk_panel_are_due_at_the_next(
        example: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """X9 (example pack 5.2): views "Before the panel", due at the Risk Panel the case is on
    (Thursday 12 November 2026 10:00 GMT); taken off it, at the next (19 November), the other
    pack's twin of S8 (Wokingham has no ``next-panel`` line: W8's panel is held within the
    week)."""
    t = example
    pin(monkeypatch, 2026, 11, 2, 12, 0)
    case_id = str((await t.open_case())["data"]["id"])
    r = await t.client.post(f"/v1/cases/{case_id}/judgements", headers=t.auth("case_holder"),
                            json={"domain": "rosh", "level": "high",
                                  "occurred_at": "2026-11-02T09:30:00Z"})
    assert r.status_code == 201, r.text
    await book_panel(t, "2026-11-19T10:00:00Z", kind="risk_panel")
    sitting = await book_sitting(t, case_id, "risk_panel", "2026-11-12T10:00:00Z")
    views = the_step(await steps_of(t, case_id), "seek_child_and_carer_views")
    assert (views["policy"]["rule"], views["policy"]["ref"], views["actor"], views["due_at"]) == (
        "X9", "5.2", "case_holder", "2026-11-12T10:00:00Z")
    r = await withdraw_item(t, sitting, "moving to the next Risk Panel")
    assert r.status_code == 200, r.text
    views = the_step(await steps_of(t, case_id), "seek_child_and_carer_views")
    assert (views["policy"]["rule"], views["due_at"], views["overdue"]) == (
        "X9", "2026-11-19T10:00:00Z", False)
