"""Agenda acts raced (attack pass 11, A11-16; attack pass 12, A12-13): of two conflicting acts
exactly one wins, on SQLite and on PostgreSQL (``YJ_TEST_DB=postgres``).

Withdrawing an item and recording its decision, two withdrawals of one item, and cancelling a
MARP booked in the past by mistake against putting a case on its agenda: each raced ``ROUNDS``
times with ``asyncio.gather`` (each request in its own session and connection). The stored item,
its steps and the audit trail tell the winner's story only.
"""

from __future__ import annotations

import asyncio
from datetime import date

import httpx
import pytest

from tests.api.fidelity_support import pin
from tests.api.integrity_support import assert_problem, audit_of, judge, steps_of
from tests.api.support import sitting_days
from tests.conftest import Tenant

ROUNDS = 8
# A MARP each round, on the working days of June 2026 from Monday 1 June.
JUNE_SITTINGS = sitting_days(date(2026, 6, 1), ROUNDS)


async def _panel(t: Tenant, n: int) -> str:
    """A MARP of early June 2026, the ``n``th working day from Monday 1 June (booked after its
    time unless the clock is pinned before)."""
    r = await t.client.post("/v1/panels", json={
        "kind": "marp", "scheduled_for": f"{JUNE_SITTINGS[n]}T10:00:00+01:00",
        "chair_id": "chair-1"}, headers=t.auth("chair"))
    assert r.status_code == 201, r.text
    return str(r.json()["data"]["id"])


async def _item(t: Tenant, panel: str, case_id: str) -> str:
    r = await t.client.post(f"/v1/panels/{panel}/items", json={
        "case_id": case_id, "presenter_id": "line_manager-1"}, headers=t.auth("panel_admin"))
    assert r.status_code == 201, r.text
    return str(r.json()["data"]["id"])


def _winner(answers: list[httpx.Response], won: int, lost: int = 409) -> int:
    statuses = [r.status_code for r in answers]
    assert sorted(statuses) == sorted([won, lost]), [r.text for r in answers]
    return statuses.index(won)


async def test_S29_withdrawal_raced_with_the_decision_one_stands(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """S29 (7.1.2): the chair records the MARP's decision on each case on its agenda. The panel
    administrator withdraws the item while the chair records its decision: one act stands,
    the other is 409 conflicting-transition naming the winner's state; the item is decided
    (and not withdrawn) or withdrawn (and not decided), audited once, and the chair's step is
    done by the decision or superseded by the withdrawal accordingly."""
    case = (await somerset.open_case())["data"]["id"]
    await judge(somerset, case, "rosh", "high", "2026-05-20T10:00:00+01:00")
    outcomes = []
    for n in range(ROUNDS):
        pin(monkeypatch, 2026, 5, 25, 9, 0)  # booked and put on the agenda ahead of it
        panel = await _panel(somerset, n)
        item = await _item(somerset, panel, case)
        pin(monkeypatch, 2026, 6, 10, 12, 0)  # the MARP has sat (the last: 10 June 09:00Z)
        answers = list(await asyncio.gather(
            somerset.client.post(f"/v1/panels/{panel}/items/{item}/withdraw",
                                 json={"reason": "Raced"}, headers=somerset.auth("panel_admin")),
            somerset.client.post(f"/v1/panels/{panel}/items/{item}/decision",
                                 json={"minutes": "Heard.", "review_date": "2026-09-01",
                                       "rosh_level": "high"},
                                 headers=somerset.auth("chair", "chair-2"))))
        won = _winner(answers, 200)
        loser = assert_problem(answers[1 - won], 409)
        assert (loser["type"].split("/")[-1], loser["current_status"]) == \
            ("conflicting-transition", ("withdrawn", "decided")[won])
        r = await somerset.client.get(f"/v1/panels/{panel}", headers=somerset.auth("chair"))
        [shown] = r.json()["data"]["items"]
        assert (shown["withdrawn_at"] is not None, shown["decided_at"] is not None) == \
            ((True, False), (False, True))[won]
        outcomes.append((item, won))
    audit = await audit_of(somerset, case)
    closed = {s["subject_id"]: s["status"]
              for status in ("done", "superseded")
              for s in await steps_of(somerset, case, status)
              if s["code"] == "record_panel_decision"}
    for item, won in outcomes:
        acts = [e["action"] for e in audit if e["entity_id"] == item]
        assert acts == ["panel.item.add", ("panel.item.withdraw", "panel.decision")[won]]
        assert closed.get(item) == ("superseded", "done")[won], (item, won, closed)


async def test_S29_two_withdrawals_of_one_item_one_stands(somerset: Tenant) -> None:
    """S29 (7.1.2): the chair and the panel administrator take the same case off the agenda at
    once: one 200, the other 409 conflicting-transition (withdrawn); one audit entry, and the
    item carries the winner's reason."""
    case = (await somerset.open_case())["data"]["id"]
    await judge(somerset, case, "rosh", "high", "2026-05-20T10:00:00+01:00")
    for n in range(ROUNDS):
        panel = await _panel(somerset, n)
        item = await _item(somerset, panel, case)
        answers = list(await asyncio.gather(*(
            somerset.client.post(f"/v1/panels/{panel}/items/{item}/withdraw",
                                 json={"reason": f"By {role}"}, headers=somerset.auth(role))
            for role in ("chair", "panel_admin"))))
        won = _winner(answers, 200)
        assert assert_problem(answers[1 - won], 409)["current_status"] == "withdrawn"
        r = await somerset.client.get(f"/v1/panels/{panel}", headers=somerset.auth("chair"))
        [shown] = r.json()["data"]["items"]
        assert shown["withdrawal_reason"] == f"By {('chair', 'panel_admin')[won]}"
        acts = [e["action"] for e in await audit_of(somerset, case) if e["entity_id"] == item]
        assert acts == ["panel.item.add", "panel.item.withdraw"]


async def test_S7_cancelling_a_past_booking_raced_with_an_agenda_item_one_stands(
        somerset: Tenant) -> None:
    """S7 (3.2.3) "refer the case to the next YJT MARP": a MARP booked after its time with
    nothing on it may be cancelled (A12-13). Raced with putting a case on its agenda: either
    the cancellation wins (204; the item's add is 404, the panel gone) or the add does (201;
    the cancellation is 409 panel-has-items, the panel and its item stand)."""
    case = (await somerset.open_case())["data"]["id"]
    await judge(somerset, case, "rosh", "high", "2026-06-20T10:00:00+01:00")
    for n in range(ROUNDS):
        panel = await _panel(somerset, n)
        cancel, add = await asyncio.gather(
            somerset.client.delete(f"/v1/panels/{panel}", headers=somerset.auth("panel_admin")),
            somerset.client.post(f"/v1/panels/{panel}/items", json={
                "case_id": case, "presenter_id": "line_manager-1"},
                headers=somerset.auth("panel_admin")))
        shown = await somerset.client.get(f"/v1/panels/{panel}", headers=somerset.auth("chair"))
        if cancel.status_code == 204:
            assert_problem(add, 404)
            assert_problem(shown, 404)
        else:
            assert add.status_code == 201, (cancel.text, add.text)
            assert assert_problem(cancel, 409)["type"].endswith("/panel-has-items")
            assert [i["id"] for i in shown.json()["data"]["items"]] == [add.json()["data"]["id"]]
            r = await somerset.client.post(
                f"/v1/panels/{panel}/items/{add.json()['data']['id']}/withdraw",
                json={"reason": "Tidy up"}, headers=somerset.auth("chair"))
            assert r.status_code == 200, r.text
