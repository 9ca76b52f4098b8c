"""Helpers for typing-order tests: the same dated acts typed in every order, the record each
order leaves, and the check that every order leaves time order's (attack passes 30a, 32a)."""

from __future__ import annotations

from pprint import pformat
from typing import Any

from tests.conftest import Tenant
from tests.orders import typing_orders

Act = tuple[Any, ...]
HOLDER, MANAGER = "case_holder-1", "line_manager-1"
MATRIX = {
    "low": {"impact": "minor", "likelihood": "possible"},
    "medium": {"impact": "major", "likelihood": "possible"},
    "high": {"impact": "major", "likelihood": "likely"},
    "very_high": {"impact": "critical", "likelihood": "almost_certain"},
}


def rate(level: str, at: str, by: str = "case_holder", domain: str = "rosh") -> Act:
    """A judgement of ``domain`` at ``level`` at ``at``, recorded by ``by`` (a role: the
    case's holder or its line manager)."""
    return ("judgement", at, domain, level, by)


def event(kind: str, at: str, **extra: Any) -> Act:
    """A case event of ``kind`` at ``at`` (``extra``: more of its body)."""
    return ("event", at, kind, repr(sorted(extra.items())), extra)


def judgement_body(domain: str, level: str, at: str) -> dict[str, Any]:
    """The body of a judgement of ``domain`` at ``level`` occurring at ``at``: for ROSH the M1
    matrix agreeing with the level (Wokingham asks for it) and a victim unless low."""
    body: dict[str, Any] = {"domain": domain, "level": level, "occurred_at": at,
                            "rationale": "Assessed"}
    if domain == "rosh":
        body.update(MATRIX[level])
        if level != "low":
            body["victims"] = ["ex-partner"]
    return body


async def book_sitting(t: Tenant, case_id: str, kind: str, at: str) -> tuple[str, str]:
    """Book a ``kind`` panel sitting at ``at`` chaired by chair-1 and put the case on its
    agenda (presented by its holder); (panel id, item id)."""
    r = await t.client.post("/v1/panels", json={
        "kind": kind, "scheduled_for": at, "chair_id": "chair-1"},
        headers=t.auth("panel_admin"))
    assert r.status_code == 201, r.text
    panel = r.json()["data"]["id"]
    r = await t.client.post(f"/v1/panels/{panel}/items", json={
        "case_id": case_id, "presenter_id": HOLDER}, headers=t.auth("panel_admin"))
    assert r.status_code == 201, r.text
    return panel, r.json()["data"]["id"]


async def decide_item(t: Tenant, sitting: tuple[str, str], at: str,
                      decision: dict[str, Any]) -> Any:
    """The chair's ``decision`` dated ``at`` on the agenda item ``sitting`` (panel id, item
    id); its response (its status is the caller's to check)."""
    panel, item = sitting
    return await t.client.post(f"/v1/panels/{panel}/items/{item}/decision",
                               json={**decision, "occurred_at": at}, headers=t.auth("chair"))


async def withdraw_item(t: Tenant, sitting: tuple[str, str], reason: str,
                        at: str | None = None) -> Any:
    """The panel administrator takes the agenda item ``sitting`` (panel id, item id) off for
    ``reason`` (dated ``at`` when given); its response (its status is the caller's to check)."""
    panel, item = sitting
    body = {"reason": reason, **({"occurred_at": at} if at is not None else {})}
    return await t.client.post(f"/v1/panels/{panel}/items/{item}/withdraw", json=body,
                               headers=t.auth("panel_admin"))


async def list_again(t: Tenant, panel: str, case_id: str) -> str:
    """The panel administrator puts the case (back) on the panel's agenda, presented by its
    holder (201); the new item's id."""
    r = await t.client.post(f"/v1/panels/{panel}/items", json={
        "case_id": case_id, "presenter_id": HOLDER}, headers=t.auth("panel_admin"))
    assert r.status_code == 201, r.text
    return str(r.json()["data"]["id"])


async def decide_at_sitting(t: Tenant, case_id: str, kind: str, at: str,
                            decision: dict[str, Any]) -> Any:
    """Book a ``kind`` panel sitting at ``at`` chaired by chair-1, put the case on its agenda
    (presented by its holder) and send the chair's ``decision`` dated ``at``; the decision's
    response (its status is the caller's to check)."""
    return await decide_item(t, await book_sitting(t, case_id, kind, at), at, decision)


async def record(t: Tenant, case_id: str, act: Act) -> int:
    """Record ``act`` on the case; its status code."""
    if act[0] == "judgement":
        _, at, domain, level, by = act
        r = await t.client.post(f"/v1/cases/{case_id}/judgements",
                                json=judgement_body(domain, level, at), headers=t.auth(by))
    else:
        _, at, kind, _, extra = act
        r = await t.client.post(f"/v1/cases/{case_id}/events",
                                json={"type": kind, "occurred_at": at, **extra},
                                headers=t.auth("case_holder"))
    assert r.status_code in (200, 201), r.text
    return r.status_code


async def the_record(t: Tenant, case_id: str) -> tuple[Any, ...]:
    """The case's open steps (code, actor, assignee, due, rule, reference) and its fields."""
    r = await t.client.get("/v1/next-steps", params={"case_id": case_id, "status": "open"},
                           headers=t.auth("line_manager"))
    assert r.status_code == 200, r.text
    steps = sorted((s["code"], s["actor"], s["assignee_id"], s["due_at"], s["policy"]["rule"],
                    s["policy"]["ref"]) for s in r.json()["data"])
    case = (await t.client.get(f"/v1/cases/{case_id}", headers=t.auth("line_manager"))).json()
    data = case["data"]
    fields = ({d: (v or {}).get("level") for d, v in (data.get("ratings") or {}).items()},
              data.get("on_register"), data.get("in_custody"))
    return tuple(steps), fields


async def every_order(t: Tenant, acts: list[Act], *, before: tuple[Act, ...] = ()
                      ) -> dict[tuple[str, ...], Any]:
    """The record after ``acts`` (in time order) typed in each order, by the order's times and
    kinds (domain or event type); the first is time order. ``before``: acts typed first, in
    that order, in every order (what the acts need on record, a custody entry before a
    release)."""
    outcomes = {}
    for order in typing_orders(acts):
        case = (await t.open_case(opened_at="2026-11-02T09:00:00Z"))["data"]["id"]
        for act in (*before, *order):
            await record(t, case, act)
        outcomes[tuple(f"{a[1][11:16]} {a[2]}" for a in order)] = await the_record(t, case)
    return outcomes


def same_as_time_order(outcomes: dict[tuple[str, ...], Any]) -> tuple[Any, ...]:
    """Every order's record is time order's; time order's."""
    first = next(iter(outcomes.values()))
    differ = {o: (sorted(set(got[0]) - set(first[0])), sorted(set(first[0]) - set(got[0])),
                  got[1], first[1]) for o, got in outcomes.items() if got != first}
    assert not differ, f"time order: {pformat(first)}\nother orders (added, missing, fields, "\
        f"time order's fields): {pformat(differ)}"
    return first  # type: ignore[no-any-return]


def steps_of(record_: tuple[Any, ...], code: str) -> list[tuple[Any, ...]]:
    return [s for s in record_[0] if s[0] == code]
