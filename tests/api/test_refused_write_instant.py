"""A refused write leaves no instant behind (fix29c).

A write's rows carry one instant (:func:`app.core.clock.one_instant`, opened by
:func:`app.core.db.unit_of_work`). The request's session dependency iterated the unit of
work with ``async for`` and, when the handler raised (a 403/409/422 refused inside the unit
of work), left it suspended: it was rolled back and its instant closed only when garbage
collection later scheduled its ``aclose()`` in a task of its own. Until then the caller's
context still held the refused write's instant, open: through the in-process client (the
app runs in the test's own task) the next write in that task was dated at the refused
write's time, so after the clock moved on a judgement dated between the two was refused
422 "occurred in the future" (seen on PostgreSQL, whose rollback takes a round trip).
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app.core import clock
from tests.api.test_priority_cases import _judge
from tests.conftest import Tenant


async def test_a_write_refused_inside_its_unit_of_work_holds_no_instant_after_it(
    somerset: Tenant, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A judgement refused 422 (dated after the service's time) inside its unit of work;
    then, the clock moved on a day, a judgement dated between the two times is recorded
    (201), dated at the new time, and nothing of the refused write's instant is held."""
    t = somerset
    monkeypatch.setattr(clock, "now", lambda: datetime(2026, 3, 10, 12, 0, tzinfo=UTC))
    case_id = (await t.open_case(opened_at="2026-03-02T09:00:00Z"))["data"]["id"]
    r = await t.client.post(f"/v1/cases/{case_id}/judgements",
                            json={"domain": "swb", "level": "medium",
                                  "occurred_at": "2026-03-11T09:00:00Z"},
                            headers=t.auth("case_holder"))
    assert r.status_code == 422, r.text
    assert clock.held_instant() is None
    assert clock._instant.get() is None
    monkeypatch.setattr(clock, "now", lambda: datetime(2026, 3, 11, 12, 0, tzinfo=UTC))
    body = await _judge(t, case_id, "swb", "medium", "2026-03-11T09:00:00Z")
    assert body["data"]["created_at"].startswith("2026-03-11T12:00:00"), body["data"]
