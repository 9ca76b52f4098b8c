"""A step's status events carry the act's time (attack pass 32a, ATTACK32A-3): a completion, a
waiver or a supersession may be back-dated, and an integrator orders events "by
`occurred_at`, then `timestamp`" (docs/integrating.md 4), so `step.completed` and
`step.superseded` carry the `occurred_at` of the act that closed the step, as the act events
do. Somerset's pack, 2026 dates (BST: 09:00 London is 08:00Z)."""

from __future__ import annotations

from typing import Any

from sqlmodel import col, select

from app.core.db import build_engine, session_factory
from app.domain.outbox import OutboxEvent
from tests.api.integrity_support import complete, judge, steps_of
from tests.conftest import Tenant


async def announced(settings: Any, case_id: str, event_type: str) -> list[dict[str, Any]]:
    """The payloads of the case's outgoing events of ``event_type``, in recording order."""
    engine = build_engine(settings)
    try:
        async with session_factory(engine)() as session:
            rows = await session.exec(select(OutboxEvent).where(
                col(OutboxEvent.type) == event_type).order_by(col(OutboxEvent.created_at)))
            return [e.payload for e in rows.all() if (e.payload or {}).get("case_id") == case_id]
    finally:
        await engine.dispose()


async def test_a_back_dated_completion_is_announced_with_its_act_time(
        somerset: Tenant, settings: Any) -> None:
    """S12 (Somerset 6.1): "The case holder will ensure that the child and their family
    understand and remain aware of the assessment of ROSH/S and WB concerns at the earliest
    opportunity". ROSH high on Mon 24 Aug 2026 09:00; the case holder informed the child on
    Tue 25 Aug 10:00 and records it later: `step.completed` carries the act's
    own time, 2026-08-25T09:00:00Z."""
    case_id = (await somerset.open_case(opened_at="2026-08-03T09:00:00+01:00"))["data"]["id"]
    await judge(somerset, case_id, "rosh", "high", "2026-08-24T09:00:00+01:00")
    inform = next(s for s in await steps_of(somerset, case_id)
                  if s["code"] == "inform_child_and_carer")
    r = await complete(somerset, inform["id"], "case_holder",
                       occurred_at="2026-08-25T10:00:00+01:00", note="Told them")
    assert r.status_code == 200, r.text
    assert [(p["code"], p["status"], p.get("occurred_at"))
            for p in await announced(settings, case_id, "step.completed")] == [
        ("inform_child_and_carer", "done", "2026-08-25T09:00:00Z")]


async def test_steps_superseded_by_a_back_dated_death_are_announced_with_its_time(
        somerset: Tenant, settings: Any) -> None:
    """S23 (Somerset 12): a death while the case is open; the death ends the child's open
    steps (superseded). Recorded after the fact, dated Tue 25 Aug 2026 10:00: each
    `step.superseded` carries that time, 2026-08-25T09:00:00Z."""
    case_id = (await somerset.open_case(opened_at="2026-08-03T09:00:00+01:00"))["data"]["id"]
    await judge(somerset, case_id, "rosh", "high", "2026-08-24T09:00:00+01:00")
    r = await somerset.client.post(f"/v1/cases/{case_id}/events", json={
        "type": "death", "occurred_at": "2026-08-25T10:00:00+01:00"},
        headers=somerset.auth("case_holder"))
    assert r.status_code == 201, r.text
    times = {p.get("occurred_at") for p in await announced(settings, case_id,
                                                            "step.superseded")}
    assert times == {"2026-08-25T09:00:00Z"}
