"""A recorded death takes the child off the register and its panels' agendas (attack 20, A20-2).

Somerset 9 (the MARP register of High / Very High cases), 7.1.2 (the chair records each
case's decision), 12 (a child who dies: the manager informed, the CSPPI notification). A child
rated very high (priority, on the register) is put on the agenda of a MARP of Thursday 10
September 2026 (the chair owes record_panel_decision); the child's death on Saturday 29 August
is then recorded. As a closure does, the death takes the case off the register and priority,
withdraws the undecided item (the chair's step superseded, naming the death), and keeps the
duties the death raises; a later act the death allows (a manager's oversight) does not put the
case back on the register.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.fidelity_support import pin, with_matrix
from tests.api.integrity_support import steps_of
from tests.conftest import Tenant

DIED = "2026-08-29T10:00:00+01:00"
MARP_DAY = "2026-09-10T13:00:00+01:00"


async def _post(t: Tenant, url: str, body: dict[str, Any], role: str = "case_holder",
                status: int = 201, **kw: Any) -> Any:
    r = await t.client.post(url, json=body, headers=t.auth(role, **kw))
    assert r.status_code == status, r.text
    return r.json()


async def _case(t: Tenant, case_id: str) -> dict[str, Any]:
    r = await t.client.get(f"/v1/cases/{case_id}", headers=t.auth("duty_manager"))
    assert r.status_code == 200, r.text
    return r.json()["data"]  # type: ignore[no-any-return]


async def test_S23_a_death_takes_the_child_off_the_register_and_the_agenda(
    somerset: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A20-2: after the death the case is neither on the register nor priority, the MARP item
    is withdrawn naming the death, the chair owes no decision, the manager and the CSPPI
    notification are still owed, and an oversight note leaves it off the register."""
    pin(monkeypatch, 2026, 8, 28, 14, 35)
    case_id = (await somerset.open_case(opened_at="2026-08-03T09:00:00+01:00"))["data"]["id"]
    await _post(somerset, f"/v1/cases/{case_id}/judgements", with_matrix(somerset.pack, {
        "domain": "rosh", "level": "very_high", "victims": ["public"],
        "occurred_at": "2026-08-21T10:00:00+01:00"}))
    assert (await _case(somerset, case_id))["priority"] is True
    panel = (await _post(somerset, "/v1/panels", {
        "kind": "marp", "scheduled_for": MARP_DAY, "chair_id": "chair-kim"},
        role="panel_admin"))["data"]["id"]
    item = (await _post(somerset, f"/v1/panels/{panel}/items",
                        {"case_id": case_id, "presenter_id": "case_holder-1"},
                        role="panel_admin"))["data"]["id"]
    pin(monkeypatch, 2026, 8, 29, 12, 0)
    await _post(somerset, f"/v1/cases/{case_id}/events", {"type": "death", "occurred_at": DIED})
    shown = await _case(somerset, case_id)
    assert (shown["on_register"], shown["priority"]) == (False, False)
    r = await somerset.client.get("/v1/register", headers=somerset.auth("chair"))
    assert case_id not in {c["id"] for c in r.json()["data"]}
    open_codes = {s["code"] for s in await steps_of(somerset, case_id)}
    assert "record_panel_decision" not in open_codes
    assert {"inform_service_manager", "notify_serious_incident"} <= open_codes
    [ended] = [s for s in await steps_of(somerset, case_id, "superseded")
               if s["code"] == "record_panel_decision"]
    assert "died" in ended["note"], ended["note"]
    r = await somerset.client.get(f"/v1/panels/{panel}", headers=somerset.auth("chair"))
    shown_item = next(i for i in r.json()["data"]["items"] if i["id"] == item)
    assert shown_item["withdrawn_at"] is not None
    assert "died" in shown_item["withdrawal_reason"]
    await _post(somerset, f"/v1/cases/{case_id}/oversight", {"note": "Reviewed"},
                role="line_manager")
    shown = await _case(somerset, case_id)
    assert (shown["on_register"], shown["priority"]) == (False, False)


async def test_W24_a_death_takes_the_child_off_the_high_risk_panel_agenda(
    wokingham: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A20-2 on Wokingham: a very high ROSH case on the agenda of a High-Risk Panel after the
    death leaves the register and the agenda; the chair owes no decision."""
    pin(monkeypatch, 2026, 8, 28, 14, 35)
    case_id = (await wokingham.open_case(opened_at="2026-08-03T09:00:00+01:00"))["data"]["id"]
    await _post(wokingham, f"/v1/cases/{case_id}/judgements", with_matrix(wokingham.pack, {
        "domain": "rosh", "level": "very_high", "victims": ["public"],
        "occurred_at": "2026-08-21T10:00:00+01:00"}))
    assert (await _case(wokingham, case_id))["on_register"] is True
    panel = (await _post(wokingham, "/v1/panels", {
        "kind": "high_risk_panel", "scheduled_for": MARP_DAY, "chair_id": "chair-kim"},
        role="panel_admin"))["data"]["id"]
    await _post(wokingham, f"/v1/panels/{panel}/items",
                {"case_id": case_id, "presenter_id": "case_holder-1"}, role="panel_admin")
    pin(monkeypatch, 2026, 8, 29, 12, 0)
    await _post(wokingham, f"/v1/cases/{case_id}/events", {"type": "death", "occurred_at": DIED})
    assert (await _case(wokingham, case_id))["on_register"] is False
    assert "record_panel_decision" not in {s["code"] for s in await steps_of(wokingham, case_id)}
    [ended] = [s for s in await steps_of(wokingham, case_id, "superseded")
               if s["code"] == "record_panel_decision"]
    assert "died" in ended["note"], ended["note"]


async def test_S39_S40_a_death_ends_the_volunteer_concern_and_obstacle_steps(
    somerset: Tenant,
) -> None:
    """A20-18 (twin of A20-2): the volunteer's concern (S39, 16.1) and the obstacle to the plan
    (S40, 4.6) are work with the child: the death ends them as it ends the rest; the duties it
    raises stay open."""
    case_id = (await somerset.open_case())["data"]["id"]
    for kind, at in (("volunteer_concern", "2026-08-25T10:00:00+01:00"),
                     ("plan_obstacle", "2026-08-25T11:00:00+01:00")):
        await _post(somerset, f"/v1/cases/{case_id}/events", {"type": kind, "occurred_at": at})
    await _post(somerset, f"/v1/cases/{case_id}/events",
                {"type": "death", "occurred_at": "2026-08-26T10:00:00+01:00"})
    open_codes = {s["code"] for s in await steps_of(somerset, case_id)}
    assert not open_codes & {"notify_volunteer_concern", "act_on_volunteer_concern",
                             "inform_line_manager_of_obstacle"}, open_codes
    assert {"inform_service_manager", "notify_serious_incident"} <= open_codes


async def test_W21_a_death_ends_the_risk_to_staff_report_but_not_its_own(
    wokingham: Tenant,
) -> None:
    """A20-18's Wokingham twin: W21's report_to_line_manager about a risk to staff is work with
    the child the death ends; the death's own report (W5, same code) stays open."""
    case_id = (await wokingham.open_case())["data"]["id"]
    await _post(wokingham, f"/v1/cases/{case_id}/events",
                {"type": "risk_to_staff", "occurred_at": "2026-08-25T10:00:00+01:00"})
    death = (await _post(wokingham, f"/v1/cases/{case_id}/events",
                         {"type": "death", "occurred_at": "2026-08-26T10:00:00+01:00"}))["data"]
    reports = [s for s in await steps_of(wokingham, case_id)
               if s["code"] == "report_to_line_manager"]
    assert [s["subject_id"] for s in reports] == [death["id"]], reports
