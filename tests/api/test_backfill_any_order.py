"""Order independence of a case's history (attack pass 11, A11-4, A11-5; redate6's leftover):
the same acts (judgements of ROSH and SWB, a change of circumstances, a transfer out) recorded
in every order of arrival leave the same open steps (code, actor, deadline, policy paragraph)
as recorded in time order.

A back-filled judgement (dated before the case's later acts) is evaluated on the case as it
stood at its date, and what the later acts already recorded would have asked of the history
as it now stands is asked again (raised if missing, re-dated only sooner); an act recorded
after later judgements is judged on the ratings of its own date.

Dates (real calendar, London):
- Fri 28 Aug 2026 (late-summer bank holiday Mon 31 Aug): ``next-wd`` from a Friday is the end
  of Tuesday 1 September (22:59:59Z, BST).
- Fri 23 / Mon 26 Oct 2026, either side of the clock change (BST ends Sun 25 Oct).
"""

from __future__ import annotations

import itertools
from typing import Any

from tests.conftest import Tenant

MATRIX = {
    "low": {"impact": "minor", "likelihood": "possible"},
    "medium": {"impact": "major", "likelihood": "possible"},
    "high": {"impact": "major", "likelihood": "likely"},
    "very_high": {"impact": "critical", "likelihood": "almost_certain"},
}

Act = tuple[Any, ...]


def rate(domain: str, level: str, at: str) -> Act:
    """A judgement of ``domain`` at ``level`` occurring at ``at``."""
    return ("judgement", at, domain, level)


def event(kind: str, at: str, **extra: Any) -> Act:
    """A case event of ``kind`` occurring at ``at`` (``extra``: more of its body)."""
    return ("event", at, kind, tuple(sorted(extra.items())))


async def _record(t: Tenant, case_id: str, act: Act) -> None:
    if act[0] == "judgement":
        _, at, domain, level = act
        body: dict[str, Any] = {"domain": domain, "level": level, "occurred_at": at,
                                "rationale": "Assessed"}
        if domain == "rosh":
            body.update(MATRIX[level])
            if level != "low":
                body["victims"] = ["ex-partner"]
        r = await t.client.post(f"/v1/cases/{case_id}/judgements", json=body,
                                headers=t.auth("case_holder"))
    else:
        _, at, kind, extra = act
        r = await t.client.post(f"/v1/cases/{case_id}/events",
                                json={"type": kind, "occurred_at": at, **dict(extra)},
                                headers=t.auth("case_holder"))
    assert r.status_code == 201, r.text


async def _open_steps(t: Tenant, case_id: str) -> list[tuple[Any, ...]]:
    r = await t.client.get("/v1/next-steps", params={"case_id": case_id, "status": "open"},
                           headers=t.auth("line_manager"))
    assert r.status_code == 200, r.text
    return sorted((s["code"], s["actor"], s["due_at"], s["policy"]["rule"], s["policy"]["ref"])
                  for s in r.json()["data"])


async def every_order(t: Tenant, acts: list[Act], opened_at: str = "2026-03-02T09:00:00Z"
                      ) -> dict[tuple[str, ...], Any]:
    """The open steps after ``acts`` (in time order) recorded in each order of arrival, by the
    order (the acts' dates); the first is time order."""
    outcomes = {}
    for order in itertools.permutations(acts):
        case = (await t.open_case(opened_at=opened_at))["data"]["id"]
        for act in order:
            await _record(t, case, act)
        outcomes[tuple(a[1][:16] for a in order)] = await _open_steps(t, case)
    return outcomes


def same_as_time_order(outcomes: dict[tuple[str, ...], Any]) -> list[tuple[Any, ...]]:
    """Every order's open steps are time order's; time order's."""
    first = next(iter(outcomes.values()))
    assert {o: got for o, got in outcomes.items() if got != first} == {}, first
    return first  # type: ignore[no-any-return]


def _one(steps: list[tuple[Any, ...]], code: str) -> tuple[Any, ...]:
    [step] = [s for s in steps if s[0] == code]
    return step


async def test_S14_medium_back_filled_before_a_change_of_circumstances(
        somerset: Tenant) -> None:
    """S14 (Somerset 4.2): "Case holders will review AssetPlus as soon as possible (within 24
    hrs/next working day) to evidence when changes of circumstance have occurred" where the
    ROSH or Safety and Well-Being rating is medium or above. ROSH medium on Thursday 27 August
    2026, a change of circumstances on Friday 28 August 15:00 BST (late-summer bank holiday
    Monday 31 August): the review is due by the end of Tuesday 1 September (22:59:59Z) under
    4.2, in either order. Before the fix the change recorded first raised 2.1's undated review
    (no medium yet) and the medium typed in afterwards left it so (A11-5)."""
    steps = same_as_time_order(await every_order(somerset, [
        rate("rosh", "medium", "2026-08-27T10:00:00+01:00"),
        event("change_of_circumstances", "2026-08-28T15:00:00+01:00")]))
    assert _one(steps, "review_assessment") == (
        "review_assessment", "case_holder", "2026-09-01T22:59:59Z", "S14", "4.2")


async def test_S26_high_back_filled_before_a_transfer_out(somerset: Tenant) -> None:
    """S26 (Somerset 13.4.3): "Where the ROSH judgement and/or Safety and Well-Being concerns
    is High or Very high, the line manager, operational manager or YJT manager will speak to
    the appropriate manager or senior probation officer of the receiving Service prior to the
    transfer of the child". SWB high on Friday 23 October 2026 16:00 BST, a transfer out
    recorded on Monday 26 October (after the clock change) for Monday 2 November: the call is
    the line manager's, due before 2 November (00:00 GMT), in either order. Before the fix the
    high typed in after the transfer asked for no call (A11-5)."""
    steps = same_as_time_order(await every_order(somerset, [
        rate("swb", "high", "2026-10-23T16:00:00+01:00"),
        event("transfer_out", "2026-10-26T10:00:00Z", transfer_date="2026-11-02")]))
    assert _one(steps, "manager_handover_call") == (
        "manager_handover_call", "line_manager", "2026-11-02T00:00:00Z", "S26", "13.4.3")
