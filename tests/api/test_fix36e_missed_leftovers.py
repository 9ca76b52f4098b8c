"""Every path that ends a step's need goes through one rule: a step already late then was missed
(fix36e, the leftovers of ATTACK34B-7's ``missed`` status).

Taking a case off a panel's agenda ended the steps about the item as superseded even when their
deadline had long passed (Somerset S48's attendance at a MARP that sat undecided on the case);
and a MARP sitting on a case whose child's and carer's views were never sought recorded them
"overtaken", though 6.2 owes them *before* the initial panel: the sitting is their deadline, and
they were not done by it.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.fidelity_support import pin, with_matrix
from tests.api.integrity_support import (
    SOMERSET,
    audit_of,
    book_panel,
    outbox_types,
    steps_of,
    the_step,
)
from tests.api.management import report
from tests.conftest import Tenant

HIGH_AT = "2026-08-26T10:00:00+01:00"  # Wednesday 26 August 2026, 10:00 BST
MARP_DAY = "2026-09-29T10:00:00+01:00"  # Tuesday 29 September 2026, 10:00 BST
MARP = "Multi-Agency Risk Panel (MARP)"


async def _high_case(t: Tenant) -> str:
    """A Somerset case opened Monday 3 August 2026, ROSH high on Wednesday 26 August 10:00."""
    case = (await t.open_case(opened_at="2026-08-03T09:00:00+01:00"))["data"]
    r = await t.client.post(f"/v1/cases/{case['id']}/judgements", headers=t.auth("case_holder"),
                            json=with_matrix(t.pack, {"domain": "rosh", "level": "high",
                                                      "victims": ["public"],
                                                      "occurred_at": HIGH_AT}))
    assert r.status_code == 201, r.text
    return str(case["id"])


async def _on_agenda(t: Tenant, panel: str, case_id: str) -> dict[str, Any]:
    r = await t.client.post(f"/v1/panels/{panel}/items",
                            json={"case_id": case_id, "presenter_id": "case_holder-1"},
                            headers=t.auth("panel_admin"))
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


async def _withdraw(t: Tenant, panel: str, item: str, reason: str) -> dict[str, Any]:
    r = await t.client.post(f"/v1/panels/{panel}/items/{item}/withdraw",
                            json={"reason": reason}, headers=t.auth("panel_admin"))
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


async def _rows(t: Tenant, start: str, end: str) -> dict[str, dict[str, Any]]:
    r = await report(t, **{"from": start, "to": end, "group_by": "rule"})
    assert r.status_code == 200, r.text
    return {row["rule"]: row for row in r.json()["data"]["rows"]}


async def _timeline(t: Tenant, case_id: str) -> list[dict[str, Any]]:
    r = await t.client.get(f"/v1/cases/{case_id}/timeline", params={"limit": 200},
                           headers=t.auth("line_manager"))
    assert r.status_code == 200, r.text
    return r.json()["data"]  # type: ignore[no-any-return]


async def _attendance_owed(t: Tenant, monkeypatch: pytest.MonkeyPatch
                           ) -> tuple[str, str, str, dict[str, Any]]:
    """ROSH high on 26 August 2026; on Friday 28 August the administrator books the MARP of
    Tuesday 29 September 10:00 BST (chair-1) and puts the case on it: S48's attendance, the
    case holder's, due at that MARP. (case, panel, item, the S48 step)."""
    pin(monkeypatch, 2026, 8, 28, 13, 35)
    case_id = await _high_case(t)
    panel = await book_panel(t, MARP_DAY)
    added = await _on_agenda(t, panel, case_id)
    attend = the_step(added["next_steps"], "attend_initial_marp")
    assert (attend["actor"], attend["assignee_id"], attend["due_at"], attend["policy"]) == (
        "case_holder", "case_holder-1", "2026-09-29T09:00:00Z",
        {"pack": SOMERSET, "version": "1", "ref": "7.1.1", "rule": "S48"})
    return case_id, panel, added["data"]["id"], attend


async def test_S48_attendance_of_an_item_withdrawn_after_the_MARP_sat_is_missed(
        somerset: Tenant, settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """S48 (Somerset 7.1.1): "Case holders will attend the initial MARP to discuss the case".
    The MARP of Tuesday 29 September 2026 sits; nobody records the case as heard; on Thursday
    1 October 09:00 BST the administrator takes the item off its agenda. The attendance, due
    at the sitting (late after the end of its day, 29 September 23:59:59 BST), was already
    late when its need ended: missed (note naming its deadline, audited and announced
    ``step.missed``, counted late and missed for September), not superseded as withdrawn by
    the policy. The chair's decision step (S29, no timescale) is superseded."""
    case_id, panel, item, attend = await _attendance_owed(somerset, monkeypatch)
    pin(monkeypatch, 2026, 10, 1, 8, 0)
    await _withdraw(somerset, panel, item, "The MARP did not reach the case")
    missed = [s for s in await steps_of(somerset, case_id, "missed") if s["id"] == attend["id"]]
    step = the_step(missed, "attend_initial_marp")
    assert step["due_at"] == "2026-09-29T09:00:00Z"
    assert step["note"].endswith(
        "Missed: due Tuesday 29 September 2026 10:00 (London), still not done when its need "
        "ended at Thursday 1 October 2026 09:00 (London) (the case was withdrawn from the "
        f"agenda of the {MARP} of Tuesday 29 September 2026 (item {item}): The MARP did not "
        "reach the case)"), step["note"]
    decision = the_step(await steps_of(somerset, case_id, "superseded"), "record_panel_decision")
    assert decision["policy"]["rule"] == "S29"
    assert [e["action"] for e in await audit_of(somerset, case_id)
            if e["entity_id"] == attend["id"]] == ["step.create", "step.missed"]
    assert "step.missed" in await outbox_types(settings, case_id)
    rows = await _rows(somerset, "2026-09-01", "2026-09-30")
    s48 = rows["S48"]
    assert (s48["due"], s48["on_time"], s48["late"], s48["missed"]) == (1, 0, 1, 1)


async def test_S48_attendance_of_an_item_deferred_on_the_sitting_day_is_superseded(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """S48 (Somerset 7.1.1): "Case holders will attend the initial MARP to discuss the case".
    The MARP of Tuesday 29 September 2026 runs out of time and defers the case: the item is
    withdrawn at 12:00 BST that day, before the attendance is late (the end of its due day):
    superseded, not missed."""
    case_id, panel, item, attend = await _attendance_owed(somerset, monkeypatch)
    pin(monkeypatch, 2026, 9, 29, 11, 0)
    await _withdraw(somerset, panel, item, "MARP ran out of time: deferred")
    assert attend["id"] in {s["id"] for s in await steps_of(somerset, case_id, "superseded")}
    assert attend["id"] not in {s["id"] for s in await steps_of(somerset, case_id, "missed")}


@pytest.mark.parametrize("decided", ["2026-09-03T10:00:00+01:00", "2026-09-03T11:00:00+01:00"],
                         ids=["at-the-sitting-start", "an-hour-in"])
async def test_S8_views_never_sought_are_missed_when_the_initial_MARP_sits(
        somerset: Tenant, settings: Any, monkeypatch: pytest.MonkeyPatch, decided: str) -> None:
    """S8 (Somerset 6.2): "Child and parent/carer views will be sought before the initial panel
    and be included in the MARP referral form." ROSH high on Tuesday 1 September 2026 10:00
    BST; the MARP of Thursday 3 September 10:00 BST is the next: the views are the case
    holder's, due 3 September 09:00Z. The case goes on its agenda from the register (no
    referral, no views); the MARP sits and decides ROSH stays high (at its start, or an hour
    in), typed in on Friday 4 September. The views were not sought before the panel: missed at
    the sitting (not "overtaken"): its note names the deadline and the panel, audited and
    announced ``step.missed``, on the timeline as missed at the decision's time, counted late
    and missed for September (on-time rate 0)."""
    pin(monkeypatch, 2026, 9, 1, 11, 0)
    case_id = str((await somerset.open_case(opened_at="2026-08-03T09:00:00Z"))["data"]["id"])
    panel = await book_panel(somerset, "2026-09-03T10:00:00+01:00")
    r = await somerset.client.post(
        f"/v1/cases/{case_id}/judgements", headers=somerset.auth("case_holder"),
        json={"domain": "rosh", "level": "high", "occurred_at": "2026-09-01T10:00:00+01:00"})
    assert r.status_code == 201, r.text
    views = the_step(r.json()["next_steps"], "seek_child_and_carer_views")
    assert (views["actor"], views["assignee_id"], views["due_at"], views["policy"]) == (
        "case_holder", "case_holder-1", "2026-09-03T09:00:00Z",
        {"pack": SOMERSET, "version": "1", "ref": "6.2", "rule": "S8"})
    item = (await _on_agenda(somerset, panel, case_id))["data"]["id"]
    pin(monkeypatch, 2026, 9, 4, 11, 0)
    r = await somerset.client.post(
        f"/v1/panels/{panel}/items/{item}/decision",
        json={"rosh_level": "high", "review_date": "2026-10-01", "minutes": "Remains high",
              "actions": [], "occurred_at": decided},
        headers=somerset.auth("chair", "chair-1"))
    assert r.status_code == 200, r.text
    assert views["id"] not in {s["id"] for s in await steps_of(somerset, case_id, "superseded")}
    step = the_step([s for s in await steps_of(somerset, case_id, "missed")
                     if s["id"] == views["id"]], "seek_child_and_carer_views")
    assert step["note"].endswith(
        f"Missed: due Thursday 3 September 2026 10:00 (London), not done: the {MARP} sat on "
        f"the case before it was done (item {item})"), step["note"]
    assert [e["action"] for e in await audit_of(somerset, case_id)
            if e["entity_id"] == views["id"]] == ["step.create", "step.missed"]
    assert "step.missed" in await outbox_types(settings, case_id)
    at = decided.replace("+01:00", "")
    utc = f"2026-09-03T{int(at[11:13]) - 1:02d}:00:00Z"
    assert [(e["at"], e["details"]["code"]) for e in await _timeline(somerset, case_id)
            if e["kind"] == "step" and e["action"] == "missed"] == [
        (utc, "seek_child_and_carer_views")]
    s8 = (await _rows(somerset, "2026-09-01", "2026-09-30"))["S8"]
    assert (s8["due"], s8["on_time"], s8["late"], s8["missed"], s8["on_time_rate"]) == (
        1, 0, 1, 1, 0.0)
