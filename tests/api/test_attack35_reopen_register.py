"""Attack 35a, ATTACK35A-14: after a back-dated closure and a dated reopening, the timeline
replays the register: off it at the closure, back on it at the reopening.

Somerset 9: "every case with ROSH or SWB high/very high" is on the High/Very High list. README
timeline: "each change's 'from' is the value it replaced in the order the acts happened ... so
the ratings, register, ... can be replayed from them whatever order the acts were typed". SWB
judged high on Wednesday 5 August 2026 (on the register); a transfer out recorded on the 6th
(transfer date Monday 10 August); the case closed at Wednesday 12 August 10:00 (typed later)
and reopened at Thursday 20 August 10:00 (``occurred_at``). The tester saw one register entry,
``[true, false]`` at the recording time, and none bringing it back, while the case itself is on
the register: replaying the timeline said "off the register" today.
"""

from __future__ import annotations

import pytest

from tests.api.fidelity_support import pin
from tests.api.integrity_support import judge, patch_case
from tests.api.test_fix32b_derived_history import timeline_changes
from tests.conftest import Tenant


async def test_S41_register_leaves_at_a_backdated_closure_and_returns_at_the_reopening(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """The register's changes in the timeline: on at the judgement (5 Aug 09:00Z), off at the
    closure (12 Aug 09:00Z), on again at the reopening (20 Aug 09:00Z); the case is on the
    register, as the last change says."""
    t = somerset
    pin(monkeypatch, 2026, 8, 28, 16, 0)
    case = (await t.open_case(opened_at="2026-08-03T09:00:00+01:00"))["data"]
    await judge(t, case["id"], "swb", "high", "2026-08-05T10:00:00+01:00")
    r = await t.client.post(f"/v1/cases/{case['id']}/events", headers=t.auth("case_holder"),
                            json={"type": "transfer_out", "transfer_date": "2026-08-10",
                                  "occurred_at": "2026-08-06T10:00:00+01:00"})
    assert r.status_code == 201, r.text
    r = await patch_case(t, case["id"], {"closed_at": "2026-08-12T10:00:00+01:00",
                                         "closure_reason": "transferred"})
    assert r.status_code == 200, r.text
    r = await patch_case(t, case["id"], {"closed_at": None, "reopen_reason": "came back",
                                         "occurred_at": "2026-08-20T10:00:00+01:00"})
    assert r.status_code == 200, r.text
    assert r.json()["data"]["on_register"] is True
    assert await timeline_changes(t, case["id"], "on_register") == [
        ("2026-08-05T09:00:00Z", False, True),
        ("2026-08-12T09:00:00Z", True, False),
        ("2026-08-20T09:00:00Z", False, True)]
