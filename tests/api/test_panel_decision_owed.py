"""A case on a panel's agenda is owed its decision, by the panel's chair (attack passes 9 and
10, A9-25 / A10-9).

A MARP (or High-Risk Panel) that sat without a decision recorded on a case left nobody owing one:
the case's "refer to the next MARP" was answered by the agenda, and nothing else asked for the
minutes. The seeds make the decision the chair's: Somerset 7.1.2 "The panel meetings will be
chaired by the YJT manager or operational manager ... Notes will be recorded on the MARP minutes
form including any actions and the Chair will set the review date if required" (7.2.2: review
panels "as for initial panels"); Wokingham "At the end of the Panel, a specific action plan and
risk classification should be agreed ... Minutes of the meeting will be shared by the Team
Manager". Neither gives a timescale for the record, so the step has no due date and says so
(policy-rules.md, National layer: no guess). It is the pack's (``panel_item_added`` lines S29,
W25; closed by ``[closures] panel_decision``): only recording the decision does it (409
``step-done-by-act`` by hand), and a decision on one agenda item does not do another item's.

Dates (2026, GMT): ROSH high Monday 2 November 09:30Z; MARPs / High-Risk Panels on Thursday
5 November 10:00Z and Thursday 12 November 10:00Z; the clock is pinned after they sat.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from app.core.config import Settings
from tests.api.fidelity_support import pin, with_matrix
from tests.api.integrity_support import assert_problem, complete, refer_to_marp, steps_of
from tests.conftest import Tenant, make_tenant

S = {"pack": "somerset-yjt-2023", "version": "1"}
W = {"pack": "wokingham-pyjs-2024", "version": "1.0"}
S29_NOTE = ("The policy gives no timescale for recording the MARP's decision (7.1.2): owed "
            "until it is recorded.")
W25_NOTE = ("The policy gives no timescale for recording the High-Risk Panel's decision: owed "
            "until it is recorded.")


async def high(t: Tenant) -> str:
    case_id = str((await t.open_case())["data"]["id"])
    body: dict[str, Any] = {"domain": "rosh", "level": "high",
                            "occurred_at": "2026-11-02T09:30:00Z"}
    if t.pack.startswith("wokingham"):
        body = {**with_matrix(t.pack, body), "victims": ["public"]}
    r = await t.client.post(f"/v1/cases/{case_id}/judgements", json=body,
                            headers=t.auth("case_holder"))
    assert r.status_code == 201, r.text
    return case_id


async def panel(t: Tenant, kind: str, when: str, chair: str) -> str:
    r = await t.client.post("/v1/panels", json={"kind": kind, "scheduled_for": when,
                                                "chair_id": chair},
                            headers=t.auth("chair"))
    assert r.status_code == 201, r.text
    return str(r.json()["data"]["id"])


async def on_agenda(t: Tenant, panel_id: str, case_id: str) -> tuple[str, list[dict[str, Any]]]:
    r = await t.client.post(f"/v1/panels/{panel_id}/items",
                            json={"case_id": case_id, "presenter_id": "case_holder-1"},
                            headers=t.auth("panel_admin"))
    assert r.status_code == 201, r.text
    return str(r.json()["data"]["id"]), r.json()["next_steps"]


def owed(steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [s for s in steps if s["code"] == "record_panel_decision"]


def agreed(due: str) -> list[dict[str, str]]:
    """The panel's action plan (Wokingham: "a specific action plan ... should be agreed")."""
    return [{"description": "Review the plan", "owner_id": "case_holder-1", "due_date": due}]


async def decide(t: Tenant, panel_id: str, item_id: str, chair: str) -> None:
    # The decision confirms the case's ROSH high (A23b-2: "a confirmed rating").
    r = await t.client.post(f"/v1/panels/{panel_id}/items/{item_id}/decision",
                            json={"actions": agreed("2026-12-03"), "minutes": "Discussed.",
                                  "rosh_level": "high", "review_date": "2026-12-03"},
                            headers=t.auth("chair", chair))
    assert r.status_code == 200, r.text


async def test_S29_case_on_the_marp_agenda_is_owed_its_decision_by_the_chair(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """S29 (7.1.2) "Notes will be recorded on the MARP minutes form including any actions and
    the Chair will set the review date if required". The case referred (3.2.3) goes on the
    agenda of the MARP of Thursday 5 November chaired by chair-2: chair-2 owes the decision on
    it, no due date (the policy gives none, and the step says so), about the agenda item. Once
    the MARP has sat it is still owed; ticking it off is 409 ``step-done-by-act``; recording
    the decision does it, credited to the chair who recorded it."""
    pin(monkeypatch, 2026, 11, 2, 10, 0)
    case_id = await high(somerset)
    await refer_to_marp(somerset, case_id, "2026-11-02T09:45:00Z")
    marp = await panel(somerset, "marp", "2026-11-05T10:00:00Z", "chair-2")
    item, steps = await on_agenda(somerset, marp, case_id)
    [step] = owed(steps)
    assert (step["actor"], step["assignee_id"], step["due_at"], step["awaiting_panel_date"],
            step["subject_id"], step["policy"], step["note"]) == (
        "chair", "chair-2", None, False, item, {**S, "rule": "S29", "ref": "7.1.2"}, S29_NOTE)
    pin(monkeypatch, 2026, 11, 6, 9, 0)
    [still] = owed(await steps_of(somerset, case_id))
    assert still["id"] == step["id"]
    problem = assert_problem(await complete(somerset, step["id"], "chair", "chair-2"), 409)
    assert problem["type"].endswith("/step-done-by-act")
    await decide(somerset, marp, item, "chair-2")
    assert owed(await steps_of(somerset, case_id)) == []
    [done] = owed(await steps_of(somerset, case_id, "done"))
    assert (done["id"], done["completed_by"], done["satisfied_by"]) == (
        step["id"], "chair-2", {"type": "panel_item", "id": item})


async def test_S29_a_decision_on_one_agenda_item_does_not_do_another(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """S29 (7.1.2): the case is on the agendas of the MARPs of 5 and 12 November (chairs chair-1
    and chair-2): each chair owes the decision on their item; the decision of 5 November does
    the first only, and chair-2 still owes the decision of 12 November."""
    pin(monkeypatch, 2026, 11, 2, 10, 0)
    case_id = await high(somerset)
    await refer_to_marp(somerset, case_id, "2026-11-02T09:45:00Z")
    first = await panel(somerset, "marp", "2026-11-05T10:00:00Z", "chair-1")
    second = await panel(somerset, "marp", "2026-11-12T10:00:00Z", "chair-2")
    item1, _ = await on_agenda(somerset, first, case_id)
    item2, steps = await on_agenda(somerset, second, case_id)
    assert sorted((s["subject_id"], s["assignee_id"]) for s in owed(steps)) == sorted(
        [(item1, "chair-1"), (item2, "chair-2")])
    pin(monkeypatch, 2026, 11, 6, 9, 0)
    await decide(somerset, first, item1, "chair-1")
    [left] = owed(await steps_of(somerset, case_id))
    assert (left["subject_id"], left["assignee_id"], left["policy"]["rule"]) == (
        item2, "chair-2", "S29")


async def test_W25_case_on_the_high_risk_panel_agenda_is_owed_its_decision_by_the_chair(
        wokingham: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """W25 (High Risk Panel) "At the end of the Panel, a specific action plan and risk
    classification should be agreed, including when should the child be discussed again at the
    panel. Minutes of the meeting will be shared by the Team Manager". The case requested (W7)
    goes on the agenda of the High-Risk Panel of 5 November chaired by chair-2: chair-2 owes the
    decision, no due date (none given, and the step says so); the decision does it."""
    pin(monkeypatch, 2026, 11, 2, 10, 0)
    case_id = await high(wokingham)
    r = await wokingham.client.post(f"/v1/cases/{case_id}/referrals",
                                    json={"kind": "panel", "occurred_at": "2026-11-02T09:45:00Z"},
                                    headers=wokingham.auth("case_holder"))
    assert r.status_code == 201, r.text
    r = await wokingham.client.post(f"/v1/referrals/{r.json()['data']['id']}/submit",
                                    json={}, headers=wokingham.auth("case_holder"))
    assert r.status_code == 200, r.text
    hrp = await panel(wokingham, "high_risk_panel", "2026-11-05T10:00:00Z", "chair-2")
    item, steps = await on_agenda(wokingham, hrp, case_id)
    [step] = owed(steps)
    assert (step["actor"], step["assignee_id"], step["due_at"], step["subject_id"],
            step["policy"], step["note"]) == (
        "chair", "chair-2", None, item, {**W, "rule": "W25", "ref": "High Risk Panel"},
        W25_NOTE)
    pin(monkeypatch, 2026, 11, 6, 9, 0)
    assert [s["id"] for s in owed(await steps_of(wokingham, case_id))] == [step["id"]]
    await decide(wokingham, hrp, item, "chair-2")
    assert owed(await steps_of(wokingham, case_id)) == []



@pytest.mark.parametrize(("pack", "kind", "rule", "decided_at"), [
    ("somerset-yjt-2023", "marp", "S29", None),
    ("somerset-yjt-2023", "marp", "S29", "2026-11-05T11:30:00Z"),
    ("wokingham-pyjs-2024", "high_risk_panel", "W25", None),
    ("wokingham-pyjs-2024", "high_risk_panel", "W25", "2026-11-05T11:30:00Z")])
async def test_S29_W25_a_sitting_recorded_after_it_took_place_is_done_by_its_decision(
        client: httpx.AsyncClient, settings: Settings, pack: str, kind: str, rule: str,
        decided_at: str | None, monkeypatch: pytest.MonkeyPatch) -> None:
    """S29 (Somerset 7.1.2), W25 (Wokingham, High Risk Panel), quoted above. Attack passes 13
    and 14, A13-5/A14-2: a panel that sat on Thursday 5 November 10:00Z is recorded on Friday
    6 November (the item put on its agenda then, the decision dated at the sitting, as it is
    by default, or later that day): the decision did not do the chair's step, which nobody
    could then close (409 by hand, no second decision). The decision on the item does it,
    whenever the item was added, credited to the chair."""
    t = await make_tenant(client, settings, pack)
    pin(monkeypatch, 2026, 11, 2, 10, 0)
    case_id = await high(t)
    sitting = await panel(t, kind, "2026-11-05T10:00:00Z", "chair-2")
    pin(monkeypatch, 2026, 11, 6, 9, 0)
    item, steps = await on_agenda(t, sitting, case_id)
    [step] = owed(steps)
    assert (step["assignee_id"], step["policy"]["rule"]) == ("chair-2", rule)
    body: dict[str, Any] = {"actions": agreed("2026-12-03"), "minutes": "Discussed.",
                            "rosh_level": "high", "review_date": "2026-12-03"}
    if decided_at:
        body["occurred_at"] = decided_at
    r = await t.client.post(f"/v1/panels/{sitting}/items/{item}/decision", json=body,
                            headers=t.auth("chair", "chair-2"))
    assert r.status_code == 200, r.text
    assert owed(await steps_of(t, case_id)) == []
    [done] = owed(await steps_of(t, case_id, "done"))
    assert (done["id"], done["completed_by"], done["satisfied_by"]) == (
        step["id"], "chair-2", {"type": "panel_item", "id": item})


async def _rate(t: Tenant, case_id: str, level: str, at: str) -> None:
    """The case holder records ROSH at ``level`` dated ``at`` (Wokingham: with its matrix)."""
    body: dict[str, Any] = {"domain": "rosh", "level": level, "occurred_at": at}
    if t.pack.startswith("wokingham"):
        body = {**with_matrix(t.pack, body), "victims": ["public"]}
    r = await t.client.post(f"/v1/cases/{case_id}/judgements", json=body,
                            headers=t.auth("case_holder"))
    assert r.status_code == 201, r.text


async def _both_orders(
    client: httpx.AsyncClient, settings: Settings, pack: str, kind: str, code: str, *,
    opened: str, high: str, sits: str, rise: str, review: str, referred: str | None = None,
) -> dict[str, list[tuple[Any, ...]]]:
    """The steps of ``code`` (actor, due, rule) after: ROSH high at ``high`` (referred to the
    MARP at ``referred`` if given), the case on the agenda of a panel sitting at ``sits``,
    very high at ``rise``; the decision (a review on ``review``, dated at the sitting) recorded
    before the rise, then after it."""
    got = {}
    for order in ("decision first", "rise first"):
        t = await make_tenant(client, settings, pack)
        case_id = str((await t.open_case(opened_at=opened))["data"]["id"])
        await _rate(t, case_id, "high", high)
        if referred is not None:
            await refer_to_marp(t, case_id, referred)
        sitting = await panel(t, kind, sits, "chair-2")
        item, _ = await on_agenda(t, sitting, case_id)

        async def decide_it(t: Tenant = t, sitting: str = sitting, item: str = item) -> None:
            # The rating it confirms is SWB's (low): ROSH rose after the sitting, and a
            # decision dated at the sitting may not lower it (409).
            r = await t.client.post(f"/v1/panels/{sitting}/items/{item}/decision",
                                    json={"actions": agreed(review), "minutes": "Discussed.",
                                          "swb_level": "low", "review_date": review},
                                    headers=t.auth("chair", "chair-2"))
            assert r.status_code == 200, r.text

        if order == "decision first":
            await decide_it()
            await _rate(t, case_id, "very_high", rise)
        else:
            await _rate(t, case_id, "very_high", rise)
            await decide_it()
        steps = [s for s in await steps_of(t, case_id) if s["code"] == code]
        got[order] = [(s["actor"], s["due_at"], s["policy"]["rule"]) for s in steps]
    return got


@pytest.mark.parametrize(("pack", "kind", "code", "rule", "due"), [
    ("somerset-yjt-2023", "marp", "refer_to_panel", "S7", None),
    ("wokingham-pyjs-2024", "high_risk_panel", "request_high_risk_panel", "W7",
     "2026-09-02T22:59:59Z")])
async def test_S7_W7_a_rise_after_the_sitting_recorded_before_its_decision_goes_back(
        client: httpx.AsyncClient, settings: Settings, pack: str, kind: str, code: str,
        rule: str, due: str | None, monkeypatch: pytest.MonkeyPatch) -> None:
    """S7 (Somerset 3.2.4: very high "will trigger the case being dealt with as a priority at
    all stages. The case holder will refer the case to the next YJT MARP"), W7 (Wokingham
    "request a High-Risk Panel within two working days of 1. Assessing a child as high or very
    high ROSH"). Attack pass 15, A15-7: the panel sat on Friday 28 August 2026 at 13:30Z with
    the case at high; ROSH rose to very high at 14:00Z. Recorded in time order the rise goes
    back to the panel; with the rise typed in before the panel's decision (dated at the
    sitting) it did not. Both orders now give the same step (Somerset: at the next MARP, none
    booked; Wokingham: two working days over the late-summer bank holiday, Monday 31 August,
    so the end of Wednesday 2 September)."""
    pin(monkeypatch, 2026, 8, 28, 15, 0)
    got = await _both_orders(client, settings, pack, kind, code, opened="2026-08-03T09:00:00Z",
                             high="2026-08-20T10:00:00Z", referred="2026-08-20T11:00:00Z",
                             sits="2026-08-28T13:30:00Z", rise="2026-08-28T14:00:00Z",
                             review="2026-09-25")
    assert got == {"decision first": [("case_holder", due, rule)],
                   "rise first": [("case_holder", due, rule)]}


@pytest.mark.parametrize(("pack", "kind", "code", "rule"), [
    ("somerset-yjt-2023", "marp", "refer_to_panel", "S7"),
    ("wokingham-pyjs-2024", "high_risk_panel", "request_high_risk_panel", "W7")])
async def test_S7_W7_a_rise_weeks_after_the_sitting_recorded_before_its_decision_goes_back(
        client: httpx.AsyncClient, settings: Settings, pack: str, kind: str, code: str,
        rule: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """S7 (Somerset 3.2.4), W7 (Wokingham "request a High-Risk Panel within two working days
    of 1. Assessing a child as high or very high ROSH"). Attack pass 16, A16-16: ROSH high on
    Friday 2 October 2026; the panel sat on Monday 19 October (the case put on its agenda
    without a referral); ROSH very high on Sunday 25 October (the clocks went back that
    morning); the decision (a review on 30 November) recorded on Tuesday 17 November, dated at
    the sitting; everything typed in on 17 November (the panel booked after it sat). With the
    rise typed in before the decision, the case goes back to the panel as when it is typed in
    after: the same step, either order."""
    pin(monkeypatch, 2026, 11, 17, 9, 0)
    got = await _both_orders(client, settings, pack, kind, code, opened="2026-10-01T09:00:00Z",
                             high="2026-10-02T10:00:00Z", sits="2026-10-19T10:00:00Z",
                             rise="2026-10-25T10:00:00Z", review="2026-11-30")
    assert got["decision first"] == got["rise first"]
    assert [r for _, _, r in got["rise first"]] == [rule]
