"""One write, one instant (attack 20, A20-11, the rest).

``GET /v1/cases/{id}?as_of=`` reads the case as this service held it at an instant (record
time). A write used to date its rows at the moments it made them (the judgement when built,
each flush's field history when flushed, microseconds apart), so at the exact instant of a
rating lowering the answer read the ratings from before the change and ``priority`` and
``on_register`` from after it. Somerset 3.2.4: "Any case which has a ROSH judgement of very
high and/or safety and well-being judgement of very high should be dealt with as a priority";
9: the register holds the high and very high. Now one write takes one instant: its judgement,
steps, field history and audit agree, so at that instant the case is wholly after the write
and 1 µs before it wholly before, on both databases.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from tests.api.test_priority_cases import _judge, _ok
from tests.conftest import Tenant


async def _as_of(t: Tenant, case_id: str, at: datetime) -> dict[str, Any]:
    r = await t.client.get(f"/v1/cases/{case_id}", params={"as_of": at.isoformat()},
                           headers=t.auth("line_manager"))
    return (await _ok(r, 200))["data"]  # type: ignore[no-any-return]


def _instant(body: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(body["data"]["created_at"].replace("Z", "+00:00"))


def _agrees(case: dict[str, Any], very_high: bool) -> None:
    level = case["ratings"]["swb"]["level"]
    assert (level == "very_high") is very_high, case["ratings"]
    assert case["priority"] is very_high, (level, case["priority"])
    assert case["on_register"] is very_high, (level, case["on_register"])
    assert all(s["priority"] is very_high for s in case["open_steps"]), case["open_steps"]


async def test_PRI_at_the_instant_of_a_lowering_the_case_is_wholly_after_it(
    somerset: Tenant,
) -> None:
    """3.2.4 "dealt with as a priority"; 9 (register): SWB very high, then medium. At the
    lowering's own instant (its judgement's ``created_at``) the case reads medium, not a
    priority, off the register; 1 µs before, very high, a priority, on the register. The same
    at the raising's instant and 1 µs before it (not yet rated: neither)."""
    t = somerset
    case_id = (await t.open_case(opened_at="2026-03-02T09:00:00Z"))["data"]["id"]
    raised = _instant(await _judge(t, case_id, "swb", "very_high", "2026-03-03T12:00:00Z"))
    lowered = _instant(await _judge(t, case_id, "swb", "medium", "2026-03-04T12:00:00Z"))
    _agrees(await _as_of(t, case_id, lowered), very_high=False)
    _agrees(await _as_of(t, case_id, lowered - timedelta(microseconds=1)), very_high=True)
    _agrees(await _as_of(t, case_id, raised), very_high=True)
    before = await _as_of(t, case_id, raised - timedelta(microseconds=1))
    assert before["ratings"]["swb"] is None
    assert (before["priority"], before["on_register"]) == (False, False)


def test_an_ended_unit_of_works_instant_is_not_reused_where_its_context_lingers() -> None:
    """A unit of work's instant ends with it, even in a context that still holds it (a yield
    dependency's teardown run in another context; an ASGI app awaited in its caller's task, as
    an in-process client does): the next unit of work there takes a new instant. On main after
    4d78d05 the first request's instant was reused by every later request of an in-process
    test, whatever its clock said (test_also_done_by, test_fidelity_e's S8 failed)."""
    import contextvars

    from app.core import clock

    ctx = contextvars.copy_context()
    first = ctx.run(lambda: _enter_and_leave_elsewhere(clock))
    later = ctx.run(clock.write_now)
    assert later > first
    assert later - first < timedelta(seconds=5)

    def nested() -> None:
        with clock.one_instant():
            outer = clock.write_now()
            with clock.one_instant():
                assert clock.write_now() == outer
    ctx.run(nested)


def _enter_and_leave_elsewhere(clock: Any) -> Any:
    """Enter a unit of work in this context, read its instant, and end it from a copy of the
    context (where the ContextVar's reset cannot apply), leaving it set here."""
    import contextvars
    import time

    manager = clock.one_instant()
    manager.__enter__()
    at = clock.write_now()
    time.sleep(0.01)
    contextvars.copy_context().run(manager.__exit__, None, None, None)
    return at
