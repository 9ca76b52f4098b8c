"""``GET /v1/cases/{id}?as_of=`` shows every field of a step as it was at the instant (attack
30a, A30a-5): not today's actor and note beside the assignee and due date of then.

2026 dates: Tuesday 29 December a ROSH high judged at 10:00 is typed in at 10:30 (S5, the line
manager's discussion, due 24 hours on: Wednesday 30 December 10:00). At 11:00 a very high dated
09:00 is typed in (S5 re-dated to 09:00 on the 30th, its note saying why); then the case moves to
another case holder, and on Wednesday 30 December at 08:00 a duty manager records the line
manager's leave for that day (S5 stands in to the duty managers, 3.1).
"""

from __future__ import annotations

import pytest

from tests.api.fidelity_support import pin
from tests.api.integrity_support import judge, patch_case
from tests.api.management import case_at
from tests.conftest import Tenant


async def test_A30a_5_as_of_shows_a_step_as_it_was_then(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """README: ``as_of`` "answers the case as this service held it at that instant: ... the
    steps open then, with the due dates they had then". S5 read as of 29 December 10:30 is the
    step a GET answered at that instant, field for field (actor, assignee, note, due date,
    reasons...), although it has since been re-dated, handed to another holder's line manager
    and stood in to the duty managers."""
    pin(monkeypatch, 2026, 12, 1, 9, 0)
    case_id = (await somerset.open_case(opened_at="2026-12-01T09:00:00Z"))["data"]["id"]
    pin(monkeypatch, 2026, 12, 29, 10, 30)
    await judge(somerset, case_id, "rosh", "high", "2026-12-29T10:00:00Z")
    r = await case_at(somerset, case_id, None)
    assert r.status_code == 200, r.text
    then = next(s for s in r.json()["data"]["open_steps"] if s["code"] == "discuss_with_manager")
    assert (then["actor"], then["assignee_id"], then["due_at"]) == (
        "line_manager", "line_manager-1", "2026-12-30T10:00:00Z")
    pin(monkeypatch, 2026, 12, 29, 11, 0)
    await judge(somerset, case_id, "rosh", "very_high", "2026-12-29T09:00:00Z")
    r = await patch_case(somerset, case_id, {"case_holder_id": "case_holder-2"})
    assert r.status_code == 200, r.text
    pin(monkeypatch, 2026, 12, 30, 8, 0)
    r = await somerset.client.post("/v1/staff/line_manager-1/absences",
                                   json={"starts_on": "2026-12-30", "ends_on": "2026-12-30"},
                                   headers=somerset.auth("duty_manager", "duty_manager-3"))
    assert r.status_code == 201, r.text
    r = await case_at(somerset, case_id, None)
    now = next(s for s in r.json()["data"]["open_steps"] if s["code"] == "discuss_with_manager")
    assert (now["actor"], now["assignee_id"], now["due_at"]) == (
        "duty_manager", None, "2026-12-30T09:00:00Z"), now
    assert now["note"] != then["note"]
    r = await case_at(somerset, case_id, "2026-12-29T10:30:00Z")
    assert r.status_code == 200, r.text
    shown = next(s for s in r.json()["data"]["open_steps"] if s["id"] == then["id"])
    assert shown == then
