"""Attack 22, A22-7: the owner of a panel action who may not see the case (a colleague of another
team, a bare step: A16-12) read, once the case's line manager had recorded the action done, the
manager's completion note and name on the step (``GET /v1/next-steps/{id}`` and the list): the
note is the case's business, written by someone who sees the case, and may say anything about
the child.

Now a bare step shows its completion as it shows its other fields to someone without access to
the case: that it is done and when, not who recorded it, their note, nor the record that
satisfied it; the owner's own completion is still theirs (its note and name).

Wokingham PYJS 2024, Internal and External Controls: "Every action of the risk management plan
should include a timescale for completion and the professional responsible for it."
"""

from __future__ import annotations

from typing import Any

from tests.api.integrity_support import complete
from tests.api.test_panel_action_owner_access import OWNER, _decide
from tests.conftest import Tenant

NOTE = "Visit done; mother disclosed the uncle's visits"


async def _as_owner(t: Tenant, step_id: str) -> list[dict[str, Any]]:
    """The action as its owner reads it, alone and in their list."""
    owner = t.auth(*OWNER)
    one = await t.client.get(f"/v1/next-steps/{step_id}", headers=owner)
    assert one.status_code == 200, one.text
    listed = await t.client.get("/v1/next-steps", params={"assignee": "me", "status": "done"},
                                headers=owner)
    assert listed.status_code == 200, listed.text
    return [one.json()["data"], *[s for s in listed.json()["data"] if s["id"] == step_id]]


async def test_W22_owner_without_case_access_reads_not_the_line_managers_completion_note(
    wokingham: Tenant,
) -> None:
    _, action = await _decide(wokingham, OWNER[1])
    done = await complete(wokingham, action["id"], "line_manager", "line_manager-1", note=NOTE,
                          occurred_at="2026-09-09T16:00:00+01:00")
    assert done.status_code == 200, done.text
    shown = await _as_owner(wokingham, action["id"])
    assert len(shown) == 2
    for step in shown:
        assert step["status"] == "done"
        assert step["completed_at"] is not None
        assert step["completion_note"] is None
        assert step["completed_by"] is None
        assert step["satisfied_by"] is None
    assert "uncle" not in str(shown)
    assert "line_manager-1" not in str(shown)


async def test_W22_owner_without_case_access_still_reads_their_own_completion(
    wokingham: Tenant,
) -> None:
    _, action = await _decide(wokingham, OWNER[1])
    done = await complete(wokingham, action["id"], *OWNER, note="Visit done with the school")
    assert done.status_code == 200, done.text
    for step in await _as_owner(wokingham, action["id"]):
        assert step["completion_note"] == "Visit done with the school"
        assert step["completed_by"] == OWNER[1]
