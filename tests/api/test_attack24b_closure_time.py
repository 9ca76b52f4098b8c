"""The steps an act raises depend on the case's state at the act's time (its ``occurred_at``),
never on the order acts were typed in (attack 24b, A24b-3, A24b-7).

2026 dates: Monday 31 August is the late-summer bank holiday; BST until Sunday 25 October.
"""

from __future__ import annotations

import pytest

from tests.api.fidelity_support import pin
from tests.api.integrity_support import closed_prevention_case, patch_case, record_charge, steps_of
from tests.conftest import Tenant

OPEN_CASE_DUTIES = {"record_incident", "report_to_line_manager", "review_assessment",
                    "request_high_risk_panel"}


async def test_W7_charge_dated_before_the_closure_and_typed_after_leaves_no_undoable_step(
        wokingham: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """W7 (High Risk Panel, A24b-7): "It will be the responsibility of the case worker or their
    line manager to request a High-Risk Panel within two working days". Closed Monday 2 November
    2026 09:00 GMT; a charge that may raise ROSH to high, dated 08:40 (the case was open) but
    recorded at 10:00, owed W4, W5 and W7 at its time: the closure that followed sets them aside
    (superseded, with the reason), so no step a closed case cannot discharge stays open (the
    panel request escalated for ever); W24's notification stays owed. Reopened, they are owed
    again. A charge dated 09:40, after the closure, raises none of them at all."""
    case_id = await closed_prevention_case(
        wokingham, monkeypatch, recorded_at=(2026, 11, 2, 9, 30),
        opened_at="2026-10-01T09:00:00+01:00", closed_at="2026-11-02T09:00:00Z")
    pin(monkeypatch, 2026, 11, 2, 10, 0)
    await record_charge(wokingham, case_id, "2026-11-02T08:40:00Z")
    open_codes = {s["code"] for s in await steps_of(wokingham, case_id)}
    assert open_codes == {"notify_serious_incident"}
    aside = {s["code"]: s for s in await steps_of(wokingham, case_id, "superseded")}
    assert {"record_incident", "report_to_line_manager", "request_high_risk_panel"} <= set(aside)
    assert "dated before the closure" in aside["request_high_risk_panel"]["note"]
    await record_charge(wokingham, case_id, "2026-11-02T09:40:00Z")
    assert {s["code"] for s in await steps_of(wokingham, case_id, "superseded")} == set(aside)
    r = await patch_case(wokingham, case_id, {"closed_at": None, "reopen_reason": "New order"})
    assert r.status_code == 200, r.text
    assert {"record_incident", "report_to_line_manager", "request_high_risk_panel"} <= {
        s["code"] for s in await steps_of(wokingham, case_id)}


async def test_W4_charge_inside_a_closed_period_owes_the_same_whatever_the_typing_order(
        wokingham: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """W4, W5, W7 (A24b-3): "Where there is a change of circumstances, context or a new incident
    of concern becomes known to the PYJS worker, this must be recorded on the IYSS case
    management system within one working day and immediately be reported to the line manager".
    Closed Saturday 29 August 2026 10:00 BST; a charge dated Sunday 30 August (while closed);
    reopened Tuesday 1 September 09:00 BST. Typed before the reopening or after it, the charge
    asks the same: W24's notification, no open-case duty (no W4 record, W5 report due before it
    was typed, nor a not-waivable W7 panel request blocking a re-closure)."""
    found = []
    for charge_first in (True, False):
        case_id = await closed_prevention_case(
            wokingham, monkeypatch, recorded_at=(2026, 8, 29, 9, 30),
            opened_at="2026-08-10T09:00:00+01:00", closed_at="2026-08-29T10:00:00+01:00")
        pin(monkeypatch, 2026, 9, 1, 8, 0)
        if charge_first:
            await record_charge(wokingham, case_id, "2026-08-30T10:00:00+01:00")
        r = await patch_case(wokingham, case_id, {"closed_at": None, "reopen_reason": "Back",
                                                  "occurred_at": "2026-09-01T09:00:00+01:00"})
        assert r.status_code == 200, r.text
        if not charge_first:
            await record_charge(wokingham, case_id, "2026-08-30T10:00:00+01:00")
        found.append(sorted(s["code"] for s in await steps_of(wokingham, case_id)))
    assert found[0] == found[1]
    assert not OPEN_CASE_DUTIES & set(found[1])
    assert "notify_serious_incident" in found[1]
