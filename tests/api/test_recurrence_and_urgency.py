"""``every 1m`` counts from the act that completed the last occurrence (S11, W19), and a step
due ``immediately`` is late for escalation only after the end of that working day (W5, S9)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from tests.api.fidelity_support import pin
from tests.api.integrity_support import (
    complete,
    held_high_risk_panel,
    judge,
    patch_case,
    steps_of,
    the_step,
)
from tests.api.support import tick
from tests.conftest import Tenant

Factory = async_sessionmaker[AsyncSession]



async def review_done(t: Tenant, step: dict[str, Any], at: str, role: str = "line_manager"
                      ) -> dict[str, Any]:
    """Complete a review at ``at``; the next occurrence it creates."""
    r = await complete(t, step["id"], role, note="Reviewed in supervision", occurred_at=at)
    assert r.status_code == 200, r.text
    nxt = the_step(r.json()["next_steps"], step["code"])
    assert nxt["id"] != step["id"]
    return nxt


# --- every 1m ---------------------------------------------------------------------------------

async def test_S11_reviews_completed_early_are_due_a_month_after_each_review(
    somerset: Tenant,
) -> None:
    """S11: "review all cases where there is a High or Very High ROSH and/or Safety and
    Well-Being rating with case holders at least monthly" (4.5). The issue's reproduction:
    high ROSH on 1 September, reviewed on 2 then 3 September: next due about 2 October, then
    about 3 October (not 1 November, then 1 December)."""
    case = (await somerset.open_case(opened_at="2026-08-03T09:00:00Z"))["data"]
    body = await judge(somerset, case["id"], "rosh", "high", "2026-09-01T10:00:00Z")
    first = the_step(body["next_steps"], "monthly_manager_review")
    assert first["due_at"] == "2026-10-01T10:00:00Z"
    second = await review_done(somerset, first, "2026-09-02T14:00:00+01:00")
    assert second["due_at"] == "2026-10-02T13:00:00Z"
    assert second["actor"] == "line_manager"
    assert second["assignee_id"] == "line_manager-1"
    assert second["policy"] == {"pack": "somerset-yjt-2023", "version": "1",
                                "ref": "4.5", "rule": "S11"}
    third = await review_done(somerset, second, "2026-09-03T09:30:00+01:00")
    assert third["due_at"] == "2026-10-03T08:30:00Z"


async def test_S11_review_completed_late_is_not_followed_by_an_overdue_one(
    somerset: Tenant,
) -> None:
    """S11 (4.5, at least monthly): due 1 October, reviewed on 20 October: the next is due a
    month after the late review (20 November, after the clocks went back), not 1 November."""
    case = (await somerset.open_case(opened_at="2026-08-03T09:00:00Z"))["data"]
    body = await judge(somerset, case["id"], "swb", "very_high", "2026-09-01T10:00:00Z")
    first = the_step(body["next_steps"], "monthly_manager_review")
    nxt = await review_done(somerset, first, "2026-10-20T10:00:00+01:00")
    assert nxt["due_at"] == "2026-11-20T10:00:00Z"  # 10:00 BST + 1 month = 10:00 GMT
    assert nxt["due_at"] > "2026-10-20T09:00:00Z"


async def test_S11_reviewed_on_31_january_is_due_on_the_last_day_of_february(
    somerset: Tenant,
) -> None:
    """S11 (4.5): a review on 31 January is followed by one due 28 February (a month step
    clamps to the month's end), then 28 March (before the clocks go forward on 29 March)."""
    case = (await somerset.open_case(opened_at="2026-01-05T09:00:00Z"))["data"]
    body = await judge(somerset, case["id"], "rosh", "very_high", "2026-01-12T10:00:00Z")
    first = the_step(body["next_steps"], "monthly_manager_review")
    assert first["due_at"] == "2026-02-12T10:00:00Z"
    second = await review_done(somerset, first, "2026-01-31T16:00:00Z")
    assert second["due_at"] == "2026-02-28T16:00:00Z"
    third = await review_done(somerset, second, "2026-02-28T11:00:00Z")
    assert third["due_at"] == "2026-03-28T11:00:00Z"


async def test_W19_panel_review_is_due_a_month_after_the_review_held(wokingham: Tenant) -> None:
    """W19: "For MAPPA Level 1 children, High Risk Panels should be held monthly" (Referrals
    into MAPPA). Held on Friday 30 January 2026 (a panel sits on a working day): the next is due
    28 February (a month on, clamped to the month end); held early on 10 February:
    due 10 March."""
    case = (await wokingham.open_case(opened_at="2026-01-05T09:00:00Z"))["data"]
    r = await patch_case(wokingham, case["id"], {"mappa_category": 2, "mappa_level": 1,
                                                 "occurred_at": "2026-01-20T10:00:00Z"})
    assert r.status_code == 200, r.text
    first = the_step(r.json()["next_steps"], "high_risk_panel_review")
    assert first["due_at"] == "2026-02-20T10:00:00Z"
    assert first["actor"] == "chair"
    assert first["assignee_id"] is None
    assert first["policy"] == {"pack": "wokingham-pyjs-2024", "version": "1.0",
                               "ref": "Referrals into MAPPA",
                               "rule": "W19"}
    # The panel held on the case is the review (not ticked off by hand: A9-13).
    held = await held_high_risk_panel(wokingham, case["id"], "2026-01-30T15:00:00Z")
    second = the_step(held["next_steps"], "high_risk_panel_review")
    assert (second["id"] != first["id"], second["due_at"]) == (True, "2026-02-28T15:00:00Z")
    held = await held_high_risk_panel(wokingham, case["id"], "2026-02-10T15:00:00Z")
    third = the_step(held["next_steps"], "high_risk_panel_review")
    assert (third["id"] != second["id"], third["due_at"]) == (True, "2026-03-10T15:00:00Z")


# --- immediately --------------------------------------------------------------------------------

async def incident(t: Tenant, at: str) -> dict[str, Any]:
    """A new incident on a fresh Wokingham case; the W5 report_to_line_manager it raises."""
    case = (await t.open_case(opened_at="2026-08-03T09:00:00Z"))["data"]
    r = await t.client.post(f"/v1/cases/{case['id']}/events",
                            json={"type": "new_incident", "occurred_at": at},
                            headers=t.auth("case_holder"))
    assert r.status_code == 201, r.text
    return the_step(r.json()["next_steps"], "report_to_line_manager")


async def escalated(t: Tenant, step: dict[str, Any]) -> bool:
    """Whether the step has an open escalation."""
    steps = await steps_of(t, step["case_id"])
    return any(s["code"] == "escalate_overdue_step" and s["subject_id"] == step["id"]
               for s in steps)


async def test_W5_report_due_immediately_is_late_only_after_that_working_day(
    factory: Factory, wokingham: Tenant
) -> None:
    """W5: a new incident "must be recorded on the IYSS case management system within one
    working day and immediately be reported to the line manager": due at once and urgent,
    but the worker escalates it only once that working day has ended (23:59:59
    Europe/London), not on its next pass."""
    step = await incident(wokingham, "2026-09-04T10:00:00+01:00")  # a Friday
    assert step["due_at"] == "2026-09-04T09:00:00Z"
    assert step["urgent"] is True
    assert step["overdue_at"] == "2026-09-04T22:59:59Z"
    assert step["policy"]["rule"] == "W5"
    assert await tick(factory, wokingham, datetime(2026, 9, 4, 9, 1, tzinfo=UTC)) == 0
    assert await tick(factory, wokingham, datetime(2026, 9, 4, 22, 59, tzinfo=UTC)) == 0
    assert not await escalated(wokingham, step)
    assert await tick(factory, wokingham, datetime(2026, 9, 4, 23, 0, tzinfo=UTC)) >= 1
    assert await escalated(wokingham, step)
    still = the_step(await steps_of(wokingham, step["case_id"]), "report_to_line_manager")
    assert still["urgent"] is True


async def test_W5_immediately_on_a_bank_holiday_is_late_after_the_next_working_day(
    factory: Factory, wokingham: Tenant
) -> None:
    """W5 on the late-summer bank holiday (Monday 31 August 2026): "that working day" is the
    next one, Tuesday 1 September, so it is late only from 2 September 00:00 London."""
    step = await incident(wokingham, "2026-08-31T11:00:00+01:00")
    assert step["overdue_at"] == "2026-09-01T22:59:59Z"
    assert await tick(factory, wokingham, datetime(2026, 9, 1, 12, 0, tzinfo=UTC)) == 0
    assert not await escalated(wokingham, step)
    assert await tick(factory, wokingham, datetime(2026, 9, 1, 23, 0, tzinfo=UTC)) >= 1
    assert await escalated(wokingham, step)


async def test_overdue_filter_lists_an_immediately_step_after_its_working_day(
    wokingham: Tenant,
) -> None:
    """The to-do list's ``overdue=true`` uses the step's ``overdue_at`` (the escalation rule)."""
    step = await incident(wokingham, "2026-09-04T10:00:00+01:00")
    r = await wokingham.client.get("/v1/next-steps",
                                   params={"case_id": step["case_id"], "overdue": "true"},
                                   headers=wokingham.auth("case_holder"))
    assert r.status_code == 200, r.text
    # Today (the wall clock) is long after 4 September 2026's working day: it is overdue.
    assert step["id"] in {s["id"] for s in r.json()["data"]}


async def test_W4_W5_who_recorded_the_incident_decides_what_is_left_to_do(
    wokingham: Tenant, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """W4, W5 (Internal and External Controls): "Where there is a change of circumstances,
    context or a new incident of concern becomes known to the PYJS worker, this must be
    recorded on the IYSS case management system within one working day and immediately be
    reported to the line manager." Attack pass 14, A14-16 j and l. An incident on Wednesday
    2 December 2026, 10:00Z:

    - pushed by IYSS itself (the CMS integration): it is on IYSS already, so no W4; W5's
      report (immediately, urgent) and W6's review stay the worker's;
    - recorded by the case's line manager: they know, so no W5; W4 (by the end of Thursday
      3 December, London) stays the worker's;
    - recorded by the worker: both, as ever."""
    pin(monkeypatch, 2026, 12, 2, 11, 0)
    got = {}
    for who, headers in (("iyss", wokingham.auth("feed", "iyss-connector", scope="cms")),
                         ("line_manager", wokingham.auth("line_manager")),
                         ("worker", wokingham.auth("case_holder"))):
        case_id = (await wokingham.open_case(opened_at="2026-11-02T09:00:00Z"))["data"]["id"]
        r = await wokingham.client.post(f"/v1/cases/{case_id}/events", headers=headers, json={
            "type": "new_incident", "occurred_at": "2026-12-02T10:00:00Z"})
        assert r.status_code == 201, r.text
        got[who] = {s["code"]: (s["actor"], s["due_at"], s["policy"]["rule"])
                    for s in r.json()["next_steps"]
                    if s["code"] in ("record_incident", "report_to_line_manager")}
    record = ("case_holder", "2026-12-03T23:59:59Z", "W4")
    report = ("case_holder", "2026-12-02T10:00:00Z", "W5")
    assert got == {"iyss": {"report_to_line_manager": report},
                   "line_manager": {"record_incident": record},
                   "worker": {"record_incident": record, "report_to_line_manager": report}}


async def test_W19_the_monthly_panel_is_put_on_the_agenda_without_a_referral(
        wokingham: Tenant) -> None:
    """W19 (Referrals into MAPPA): "For MAPPA Level 1 children, risk management will be led by
    the PYJS, and senior management oversight provided through the High-Risk Panel. For MAPPA
    Level 1 children, High Risk Panels should be held monthly." Attack pass 13, A13-12: the
    chair owed the monthly review, yet neither the chair nor the panel administrator could put
    the case (not on the register, no referral) on a High-Risk Panel's agenda (422
    ``not-referred``): the case holder had to refer it afresh each month. The review owed is
    the route: the item is added (201), its decision on Friday 30 January 2026 at 15:00Z does
    the review and the next is due Saturday 28 February at 15:00Z. A case owing no panel is
    still refused."""
    case = (await wokingham.open_case(opened_at="2026-01-05T09:00:00Z"))["data"]
    r = await patch_case(wokingham, case["id"], {"mappa_category": 2, "mappa_level": 1,
                                                 "occurred_at": "2026-01-20T10:00:00Z"})
    assert r.status_code == 200, r.text
    owed = the_step(r.json()["next_steps"], "high_risk_panel_review")
    plain = (await wokingham.open_case(opened_at="2026-01-05T09:00:00Z"))["data"]
    r = await wokingham.client.post("/v1/panels", json={
        "kind": "high_risk_panel", "chair_id": "chair-1",
        "scheduled_for": "2026-01-30T14:00:00Z"}, headers=wokingham.auth("panel_admin"))
    assert r.status_code == 201, r.text
    panel = r.json()["data"]["id"]
    r = await wokingham.client.post(f"/v1/panels/{panel}/items", json={
        "case_id": plain["id"], "presenter_id": "case_holder-1"},
        headers=wokingham.auth("panel_admin"))
    assert r.status_code == 422, r.text
    assert r.json()["type"].endswith("/not-referred")
    r = await wokingham.client.post(f"/v1/panels/{panel}/items", json={
        "case_id": case["id"], "presenter_id": "case_holder-1"},
        headers=wokingham.auth("panel_admin"))
    assert r.status_code == 201, r.text
    r = await wokingham.client.post(
        f"/v1/panels/{panel}/items/{r.json()['data']['id']}/decision",
        json={"actions": [{"description": "Review the plan", "owner_id": "case_holder-1",
                           "due_date": "2026-02-06"}],
              "rosh_level": "medium", "minutes": "Monthly review held",
              "occurred_at": "2026-01-30T15:00:00Z"},
        headers=wokingham.auth("chair", "chair-1"))
    assert r.status_code == 200, r.text
    following = the_step(r.json()["next_steps"], "high_risk_panel_review")
    assert (following["id"] != owed["id"], following["due_at"], following["policy"]["rule"]) == (
        True, "2026-02-28T15:00:00Z", "W19")
