"""The same acts typed in a different order give the same record (attack pass 30a: A30a-6,
A30a-11, A30a-13, A30a-14): each act is judged on the case as it stood at its own act time
(who recorded the judgement a step checks, the incoming ratings of a transfer in, custody, the
panel's approval), and the acts dated after a back-dated one are judged again on the history as
it now stands (app.domain.replay).

Dates (real calendar, London, GMT): Tue 24 and Wed 25 Nov 2026 (no bank holiday near).
"""

from __future__ import annotations

import itertools
from pprint import pformat
from typing import Any

from tests.conftest import Tenant

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


async def record(t: Tenant, case_id: str, act: Act) -> int:
    """Record ``act`` on the case; its status code."""
    if act[0] == "judgement":
        _, at, domain, level, by = act
        body: dict[str, Any] = {"domain": domain, "level": level, "occurred_at": at,
                                "rationale": "Assessed"}
        if domain == "rosh":
            body.update(MATRIX[level])
            if level != "low":
                body["victims"] = ["ex-partner"]
        r = await t.client.post(f"/v1/cases/{case_id}/judgements", json=body,
                                headers=t.auth(by))
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


async def every_order(t: Tenant, acts: list[Act]) -> dict[tuple[str, ...], Any]:
    """The record after ``acts`` (in time order) typed in each order, by the order's dates;
    the first is time order."""
    outcomes = {}
    for order in itertools.permutations(acts):
        case = (await t.open_case(opened_at="2026-11-02T09:00:00Z"))["data"]["id"]
        for act in order:
            await record(t, case, act)
        outcomes[tuple(a[1][11:16] for a in order)] = await the_record(t, case)
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


async def test_S5_S6_owner_judged_on_the_latest_judgement_by_act_time(
        somerset: Tenant) -> None:
    """S5/S6 (Somerset 3.1): "Any 'high' or 'very high' judgement rating will be discussed with
    the line manager ... (within 24 hours)" and countersigned by them; when the line manager
    recorded what the step checks, the duty managers undertake it. The holder's high on Tue
    24 Nov 2026 09:00 and the line manager's very high at 10:00: the step checks the line
    manager's very high, so the duty managers owe it (due 24 hours from the first high, Wed
    25 Nov 09:00), in either order; the mirror pair (the
    line manager's high 09:00, the holder's very high 10:00): the line manager owes it."""
    own = same_as_time_order(await every_order(somerset, [
        rate("high", "2026-11-24T09:00:00Z"),
        rate("very_high", "2026-11-24T10:00:00Z", by="line_manager")]))
    assert [s[1:4] for s in steps_of(own, "discuss_with_manager")] == [
        ("duty_manager", None, "2026-11-25T09:00:00Z")]
    mirror = same_as_time_order(await every_order(somerset, [
        rate("high", "2026-11-24T09:00:00Z", by="line_manager"),
        rate("very_high", "2026-11-24T10:00:00Z")]))
    assert [s[1:4] for s in steps_of(mirror, "discuss_with_manager")] == [
        ("line_manager", MANAGER, "2026-11-25T09:00:00Z")]

