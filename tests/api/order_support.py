"""Helpers for the typing-order tests (fix32a): dated acts (a transfer in with the ratings the
child arrives with, the service's own judgements) typed in every order, and the record each
order leaves (open steps, ratings, register, contact level, priority)."""

from __future__ import annotations

import itertools
from pprint import pformat
from typing import Any, NamedTuple

from tests.api.act_order_support import judgement_body
from tests.conftest import Tenant

DAY = "2026-11-24T"  # Tue 24 Nov 2026, London on GMT, no bank holiday near


class Act(NamedTuple):
    """One dated act: a transfer in (``kind`` "transfer_in", ``what`` its incoming ratings)
    or a judgement (``kind`` "judgement", ``what`` (domain, level)), by the role ``by``."""

    at: str
    kind: str
    what: tuple[Any, ...]
    by: str = "case_holder"


class Record(NamedTuple):
    """What an order of acts leaves: the open steps (code, actor, assignee, due, rule), the
    ratings, on_register, contact_level and priority."""

    steps: tuple[tuple[Any, ...], ...]
    ratings: dict[str, str | None]
    on_register: bool
    contact_level: str | None
    priority: bool


def arrival(at: str, **incoming: str) -> Act:
    """A transfer in at ``at`` (HH:MM on the day) with the ratings the child arrives with."""
    return Act(at, "transfer_in", tuple(sorted(incoming.items())))


def own(at: str, domain: str, level: str, by: str = "case_holder") -> Act:
    """The service's own judgement of ``domain`` at ``level`` at ``at``, recorded by ``by``."""
    return Act(at, "judgement", (domain, level), by)


async def record(t: Tenant, case_id: str, act: Act) -> None:
    """Record ``act`` on the case (201 expected)."""
    if act.kind == "judgement":
        domain, level = act.what
        r = await t.client.post(f"/v1/cases/{case_id}/judgements",
                                json=judgement_body(domain, level, f"{DAY}{act.at}:00Z"),
                                headers=t.auth(act.by))
    else:
        r = await t.client.post(f"/v1/cases/{case_id}/events", json={
            "type": "transfer_in", "occurred_at": f"{DAY}{act.at}:00Z",
            "incoming_ratings": dict(act.what), "details": {"from": "Another YJS"}},
            headers=t.auth(act.by))
    assert r.status_code == 201, r.text


async def the_record(t: Tenant, case_id: str) -> Record:
    """The case's record as the API shows it."""
    r = await t.client.get("/v1/next-steps", params={"case_id": case_id, "status": "open"},
                           headers=t.auth("line_manager"))
    assert r.status_code == 200, r.text
    steps = tuple(sorted((s["code"], s["actor"], s["assignee_id"], s["due_at"],
                          s["policy"]["rule"]) for s in r.json()["data"]))
    r = await t.client.get(f"/v1/cases/{case_id}", headers=t.auth("line_manager"))
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    return Record(steps, {d: (v or {}).get("level") for d, v in data["ratings"].items()},
                  data["on_register"], data["contact_level"], data["priority"])


async def in_every_order(t: Tenant, acts: list[Act]) -> Record:
    """The record ``acts`` leave typed in each order; asserts every order leaves time order's
    (``acts`` are given in time order) and returns it."""
    records: dict[tuple[str, ...], Record] = {}
    for order in itertools.permutations(acts):
        case = (await t.open_case(opened_at="2026-11-02T09:00:00Z"))["data"]["id"]
        for act in order:
            await record(t, case, act)
        records[tuple(f"{a.at} {a.kind}" for a in order)] = await the_record(t, case)
    first = next(iter(records.values()))
    differ = {order: got for order, got in records.items() if got != first}
    assert differ == {}, f"time order: {pformat(first)}\nother orders: {pformat(differ)}"
    return first


def steps_of(got: Record, code: str) -> list[tuple[Any, ...]]:
    """The open steps of ``code`` (actor, assignee, due, rule)."""
    return [s[1:] for s in got.steps if s[0] == code]
