"""Assessment transitions and panel decisions on the case timeline carry when they were typed
in (``recorded_at``), as every other entry does (attack 29, ATK29-8): a countersignature dated
26 August but typed in on 2 September is told from one typed in on time.

2026 dates: the case opened Monday 24 August, its Asset+ started then; ROSH high on Tuesday
25 August; the Asset+ submitted and countersigned on Wednesday 26 August, all three typed in on
Wednesday 2 September; a MARP of Tuesday 1 September decided at 16:00, typed in on Thursday
3 September.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.fidelity_support import FidelityWeek, pin
from tests.conftest import Tenant


async def _timeline(t: Tenant, case_id: str) -> list[dict[str, Any]]:
    r = await t.client.get(f"/v1/cases/{case_id}/timeline", params={"limit": 200},
                           headers=t.auth("line_manager"))
    assert r.status_code == 200, r.text
    return r.json()["data"]  # type: ignore[no-any-return]


async def test_ATK29_8_assessment_moves_and_panel_decision_carry_when_typed_in(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """README: "GET /v1/cases/{id}/timeline lists everything in the order it happened (``at``;
    ``recorded_at`` is when it was typed in)". The submission and countersignature of 26 August
    and the panel's decision of 1 September are at their dates, each with the time it was typed
    in (2 and 3 September), not null."""
    pin(monkeypatch, 2026, 8, 24, 9, 30)
    week = await FidelityWeek.start(somerset)
    pin(monkeypatch, 2026, 9, 2, 9, 0)
    await week.rosh_high()  # on the register: the case may go onto the MARP
    await week.countersign(at="2026-08-26T11:00:00+01:00")
    pin(monkeypatch, 2026, 9, 2, 10, 0)
    await week.book_panel(kind="marp")
    pin(monkeypatch, 2026, 9, 3, 9, 0)
    await week.decide(review_date="2026-10-01", rosh_level="high")
    entries = await _timeline(somerset, week.case_id)
    moves = [(e["action"], e["at"], e["recorded_at"]) for e in entries
             if e["kind"] == "assessment"]
    assert moves == [
        ("create", "2026-08-24T09:00:00Z", "2026-08-24T09:30:00Z"),
        ("submit", "2026-08-26T09:00:00Z", "2026-09-02T09:00:00Z"),
        ("countersign", "2026-08-26T10:00:00Z", "2026-09-02T09:00:00Z"),
    ], moves
    decided = [(e["at"], e["recorded_at"]) for e in entries if e["kind"] == "panel_decision"]
    assert decided == [("2026-09-01T15:00:00Z", "2026-09-03T09:00:00Z")], decided
