"""Acts recorded to the microsecond in a day's last second (attack pass 16, A16-4)."""

from __future__ import annotations

from datetime import datetime

import pytest

from tests.api.fidelity_support import pin
from tests.conftest import Tenant


@pytest.mark.parametrize("at", ["2026-10-30T23:59:59.999999Z", "2026-10-30T23:59:59.5Z",
                                "2026-10-31T23:59:59.999999Z"])
async def test_a_step_is_never_overdue_before_it_is_due(
    wokingham: Tenant, monkeypatch: pytest.MonkeyPatch, at: str
) -> None:
    """A16-4: ``new_incident`` at 2026-10-30T23:59:59.999999Z on a Wokingham case gave
    ``report_to_line_manager`` (W5, "immediately") ``due_at`` 23:59:59.999999Z and
    ``overdue_at`` 23:59:59Z: overdue before it was due. Every step the act leaves open
    has ``overdue_at >= due_at``, in the answer and when read back."""
    case = (await wokingham.open_case())["data"]
    pin(monkeypatch, 2026, 11, 1, 0, 0)
    r = await wokingham.client.post(f"/v1/cases/{case['id']}/events",
                                    json={"type": "new_incident", "occurred_at": at},
                                    headers=wokingham.auth("case_holder"))
    assert r.status_code == 201, r.text
    steps = r.json()["next_steps"]
    assert any(s["urgent"] for s in steps), steps
    listed = await wokingham.client.get("/v1/next-steps",
                                        params={"case_id": case["id"], "limit": 200},
                                        headers=wokingham.auth("line_manager"))
    assert listed.status_code == 200, listed.text
    for step in [*steps, *listed.json()["data"]]:
        if step["due_at"] is None:
            continue
        due = datetime.fromisoformat(step["due_at"])
        overdue = datetime.fromisoformat(step["overdue_at"])
        assert overdue >= due, (step["code"], step["due_at"], step["overdue_at"])
