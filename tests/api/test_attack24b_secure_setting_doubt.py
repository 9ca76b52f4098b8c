"""Somerset 14.3.1: a doubt about the secure setting is judged at its own time, whatever order it
and the custody entry are typed in (attack 24b, A24b-5).

2026 dates: Monday 2 November (GMT).
"""

from __future__ import annotations

import pytest

from tests.api.fidelity_support import pin
from tests.api.integrity_support import steps_of
from tests.conftest import Tenant


async def _event(t: Tenant, case_id: str, kind: str, at: str) -> dict[str, object]:
    r = await t.client.post(f"/v1/cases/{case_id}/events",
                            json={"type": kind, "occurred_at": at},
                            headers=t.auth("case_holder"))
    return {"status": r.status_code, "body": r.json()}


async def test_S43_a_doubt_before_custody_is_refused_not_lost(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """S43 (14.3.1): "If a case holder is in any doubt that the secure setting will be making
    appropriate responses to the identified risks/concerns they will inform their line manager,
    operational manager or the YJT manager who will escalate the concerns with the appropriate
    managers in the secure setting". A doubt dated 09:00 on a child not recorded in custody is
    422 ``not-in-custody`` (it was accepted and raised nothing, and the custody entry recorded
    afterwards never raised it); after the custody entry dated 09:10, a doubt dated 09:20 asks
    the case holder to inform a manager; one dated 09:05 (before the custody) is still 422."""
    pin(monkeypatch, 2026, 11, 2, 10, 0)
    case_id = (await somerset.open_case(opened_at="2026-10-01T09:00:00+01:00"))["data"]["id"]
    early = await _event(somerset, case_id, "secure_setting_doubt", "2026-11-02T09:00:00Z")
    assert early["status"] == 422, early
    assert str(early["body"]["type"]).endswith("/not-in-custody")  # type: ignore[index]
    assert "inform_manager_of_secure_setting_doubt" not in {
        s["code"] for s in await steps_of(somerset, case_id)}
    entry = await _event(somerset, case_id, "custody_entry", "2026-11-02T09:10:00Z")
    assert entry["status"] == 201, entry
    before = await _event(somerset, case_id, "secure_setting_doubt", "2026-11-02T09:05:00Z")
    assert before["status"] == 422, before
    doubt = await _event(somerset, case_id, "secure_setting_doubt", "2026-11-02T09:20:00Z")
    assert doubt["status"] == 201, doubt
    [step] = [s for s in await steps_of(somerset, case_id)
              if s["code"] == "inform_manager_of_secure_setting_doubt"]
    assert (step["actor"], step["policy"]["rule"]) == ("case_holder", "S43")
