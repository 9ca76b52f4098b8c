"""The case timeline lists a back-dated closure and reopening in the order they happened
(attack 24b, A24b-9), with when they were recorded beside.

2026 dates: opened Thursday 15 October; closed Tuesday 20 October 12:00 BST; reopened Friday 30
October 12:00 GMT; a change of circumstances Saturday 31 October; all typed on Monday 2 November.
"""

from __future__ import annotations

import pytest

from tests.api.fidelity_support import pin
from tests.api.integrity_support import patch_case
from tests.conftest import Tenant


async def test_timeline_puts_a_back_dated_closure_and_reopening_when_they_happened(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """README "The case as it stood, and its timeline": it "lists everything in the order it
    happened". The closure dated 20 October and the reopening dated 30 October, both typed on 2
    November, come before the 31 October change of circumstances, at their own times
    (``recorded_at`` 2 November); the steps the closure superseded and the reopening reinstated
    are at those times too."""
    pin(monkeypatch, 2026, 11, 2, 10, 0)
    case_id = (await somerset.open_case(opened_at="2026-10-15T10:00:00+01:00"))["data"]["id"]
    r = await patch_case(somerset, case_id, {"closed_at": "2026-10-20T12:00:00+01:00",
                                             "closure_reason": "Order revoked"})
    assert r.status_code == 200, r.text
    r = await patch_case(somerset, case_id, {"closed_at": None, "reopen_reason": "Re-sentenced",
                                             "occurred_at": "2026-10-30T12:00:00+00:00"})
    assert r.status_code == 200, r.text
    r = await somerset.client.post(f"/v1/cases/{case_id}/events", json={
        "type": "change_of_circumstances", "occurred_at": "2026-10-31T10:00:00Z"},
        headers=somerset.auth("case_holder"))
    assert r.status_code == 201, r.text
    r = await somerset.client.get(f"/v1/cases/{case_id}/timeline",
                                  headers=somerset.auth("line_manager"))
    assert r.status_code == 200, r.text
    entries = r.json()["data"]
    cases = [(e["action"], e["at"], e["recorded_at"]) for e in entries if e["kind"] == "case"
             and e["action"] in ("closed", "reopened")]
    assert cases == [("closed", "2026-10-20T11:00:00Z", "2026-11-02T10:00:00Z"),
                     ("reopened", "2026-10-30T12:00:00Z", "2026-11-02T10:00:00Z")]
    order = [(e["kind"], e["action"]) for e in entries if e["kind"] != "step"
             and e["action"] != "fields_changed"]
    assert order[:4] == [("case", "opened"), ("case", "closed"), ("case", "reopened"),
                         ("event", "change_of_circumstances")], order
    # The case's fields changed by them, at their times too (ATTACK26B-2).
    moved = [(e["at"], e["details"]["changes"]["closed_at"][1]) for e in entries
             if e["action"] == "fields_changed" and "closed_at" in e["details"]["changes"]]
    assert moved == [("2026-10-20T11:00:00Z", "2026-10-20T11:00:00Z"),
                     ("2026-10-30T12:00:00Z", None)], moved
    steps = {(e["action"], e["at"]) for e in entries if e["kind"] == "step"
             and e["action"] in ("superseded", "reinstated")}
    assert steps == {("superseded", "2026-10-20T11:00:00Z"),
                     ("reinstated", "2026-10-30T12:00:00Z")}, steps
