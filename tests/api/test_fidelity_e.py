"""Seed-fidelity fixes of attack pass 7 (F11, F15, F17, F8, F5): waivers, mandated duties,
withdrawn records, the initial MARP's views and lowering a rating never taken to a MARP.

Each test names the rule it pins and quotes the seed sentence that decides it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.core import clock
from app.domain import escalation
from app.domain.services import Service
from tests.api.fidelity_support import taken_by_marp, with_matrix
from tests.api.integrity_support import (
    assert_problem,
    complete,
    held_high_risk_panel,
    judge,
    patch_case,
    the_step,
)
from tests.api.test_panels import schedule
from tests.conftest import Tenant

Factory = async_sessionmaker[AsyncSession]
SOMERSET = {"pack": "somerset-yjt-2023", "version": "1"}


async def _tick(factory: Factory, t: Tenant, now: datetime) -> int:
    """One escalation pass over this tenant's steps at ``now``."""
    async with factory() as session:
        service = (await session.exec(select(Service).where(Service.slug == t.slug))).one()
        sid: uuid.UUID = service.id
    return await escalation.run_pass(factory, now, service_id=sid)


async def _waive(t: Tenant, step_id: str, at: str, role: str = "duty_manager",
                 sub: str | None = None) -> Any:
    return await t.client.post(f"/v1/next-steps/{step_id}/waive",
                               json={"reason": "Not needed this month", "occurred_at": at},
                               headers=t.auth(role, sub))


async def _judge(t: Tenant, case_id: str, domain: str, level: str, at: str,
                 role: str = "case_holder", status: int = 201, **extra: Any) -> Any:
    """Record a judgement (Wokingham: the matrix pair and victims); the decoded answer."""
    body = with_matrix(t.pack, {"domain": domain, "level": level, "occurred_at": at,
                                "victims": ["public"], "rationale": "as assessed", **extra})
    r = await t.client.post(f"/v1/cases/{case_id}/judgements", json=body, headers=t.auth(role))
    assert r.status_code == status, r.text
    return r.json()


async def _open(t: Tenant, code: str, case_id: str) -> list[dict[str, Any]]:
    r = await t.client.get("/v1/next-steps", params={"case_id": case_id, "status": "open"},
                           headers=t.auth("duty_manager"))
    assert r.status_code == 200, r.text
    return [s for s in r.json()["data"] if s["code"] == code]


# --- F11: a waiver is not a review --------------------------------------------------------------

async def test_S11_waived_monthly_review_stays_due_a_month_after_the_last_review(
        factory: Factory, somerset: Tenant) -> None:
    """S11, Somerset 4.5: "It is the responsibility of line managers to review all cases where
    there is a High or Very High ROSH and/or Safety and Well-Being rating with case holders
    at least monthly". SWB high on Tue 1 Sep 2026; the line manager reviews on Thu 10 Sep
    (10:00 BST): the next is due Sat 10 Oct 09:00Z. A duty manager waives it on 20 Oct, and
    the one after on 2 Nov (after the clocks went back): each time the next occurrence
    (monthly_manager_review, line_manager-1, ref 4.5) stays due 10 Oct 09:00Z, overdue, and
    the tick escalates it. The line manager's real review on Thu 5 Nov 10:00Z restarts the
    month: due Sat 5 Dec 10:00Z."""
    case = (await somerset.open_case(opened_at="2026-08-03T09:00:00Z"))["data"]
    body = await judge(somerset, case["id"], "swb", "high", "2026-09-01T10:00:00Z")
    first = the_step(body["next_steps"], "monthly_manager_review")
    assert first["due_at"] == "2026-10-01T10:00:00Z"
    r = await complete(somerset, first["id"], "line_manager", note="Supervision",
                       occurred_at="2026-09-10T10:00:00+01:00")
    assert r.status_code == 200, r.text
    review = the_step(r.json()["next_steps"], "monthly_manager_review")
    assert review["due_at"] == "2026-10-10T09:00:00Z"
    for at in ("2026-10-20T10:00:00+01:00", "2026-11-02T10:00:00Z"):
        r = await _waive(somerset, review["id"], at)
        assert r.status_code == 200, r.text
        assert r.json()["data"]["status"] == "waived"
        nxt = the_step(r.json()["next_steps"], "monthly_manager_review")
        assert nxt["id"] != review["id"]
        assert nxt["due_at"] == "2026-10-10T09:00:00Z"
        assert (nxt["actor"], nxt["assignee_id"]) == ("line_manager", "line_manager-1")
        assert nxt["policy"] == {**SOMERSET, "ref": "4.5", "rule": "S11"}
        review = nxt
    assert await _tick(factory, somerset, datetime(2026, 11, 2, 12, 0, tzinfo=UTC)) >= 1
    ups = [s for s in await _open(somerset, "escalate_overdue_step", case["id"])
           if s["subject_id"] == review["id"]]
    assert [s["actor"] for s in ups] == ["duty_manager"]
    r = await complete(somerset, review["id"], "line_manager", note="Supervision",
                       occurred_at="2026-11-05T10:00:00Z")
    assert r.status_code == 200, r.text
    assert the_step(r.json()["next_steps"], "monthly_manager_review")["due_at"] \
        == "2026-12-05T10:00:00Z"
    assert [s for s in await _open(somerset, "escalate_overdue_step", case["id"])
            if s["subject_id"] == review["id"]] == []


async def test_S11_waiver_before_the_due_date_does_not_move_it(somerset: Tenant) -> None:
    """S11 (4.5, "at least monthly"): ROSH very high on Wed 15 Apr 2026 10:00Z, review due
    Fri 15 May 10:00Z; a duty manager's waiver on 10 May leaves the next occurrence due on 15
    May, not 10 June (a month after the waiver)."""
    case = (await somerset.open_case())["data"]
    body = await judge(somerset, case["id"], "rosh", "very_high", "2026-04-15T10:00:00Z")
    first = the_step(body["next_steps"], "monthly_manager_review")
    r = await _waive(somerset, first["id"], "2026-05-10T10:00:00+01:00")
    assert r.status_code == 200, r.text
    nxt = the_step(r.json()["next_steps"], "monthly_manager_review")
    assert nxt["due_at"] == "2026-05-15T10:00:00Z"
    assert nxt["policy"] == {**SOMERSET, "ref": "4.5", "rule": "S11"}


async def test_W19_waived_monthly_panel_review_keeps_its_due_date(wokingham: Tenant) -> None:
    """W19, Wokingham (Referrals into MAPPA): "For MAPPA Level 1 children, High Risk Panels
    should be held monthly". MAPPA level 1 on Tue 20 Jan 2026; the chair holds the review on
    Fri 30 Jan 15:00Z (a panel sits on a working day): next due 28 Feb 15:00Z. Previewing a
    waiver of that occurrence (no manager may waive a chair's duty, so only the engine can be
    asked) on 10 Mar: the next
    (high_risk_panel_review, chair) stays due 28 Feb 15:00Z; done that day instead, due 10
    April 14:00Z (15:00 London, after the clocks went forward)."""
    case = (await wokingham.open_case(opened_at="2026-01-05T09:00:00Z"))["data"]
    r = await patch_case(wokingham, case["id"], {"mappa_category": 2, "mappa_level": 1,
                                                 "occurred_at": "2026-01-20T10:00:00Z"})
    assert r.status_code == 200, r.text
    first = the_step(r.json()["next_steps"], "high_risk_panel_review")
    held = await held_high_risk_panel(wokingham, case["id"], "2026-01-30T15:00:00Z")
    second = the_step(held["next_steps"], "high_risk_panel_review")
    assert second["id"] != first["id"]
    assert second["due_at"] == "2026-02-28T15:00:00Z"
    data = {"code": "high_risk_panel_review", "rule_id": "W19", "step_id": second["id"],
            "due_at": second["due_at"], "completed_by_role": "chair", "actor": "chair"}
    for waived, due in ((True, "2026-02-28T15:00:00Z"), (False, "2026-04-10T14:00:00Z")):
        r = await wokingham.client.post(
            "/v1/workflow/preview", headers=wokingham.auth("line_manager"),
            json={"case_id": case["id"], "trigger": "step_completed",
                  "data": {**data, "waived": waived}, "occurred_at": "2026-03-10T15:00:00Z"})
        assert r.status_code == 200, r.text
        [nxt] = [s for s in r.json()["data"]["steps"] if s["code"] == "high_risk_panel_review"]
        assert (nxt["action"], nxt["actor"], nxt["rule"]) == ("create", "chair", "W19")
        assert nxt["policy"]["ref"] == "Referrals into MAPPA"
        assert nxt["due_at"] == due


# --- F15: duties the policy mandates are not a manager's to waive ------------------------------

async def _refused_for_managers(t: Tenant, case_id: str, step: dict[str, Any], at: str) -> None:
    """403 for the line manager and a duty manager; the step stays open, unchanged."""
    for role in ("line_manager", "duty_manager"):
        body = assert_problem(await _waive(t, step["id"], at, role), 403)
        assert "may not waive" in body["detail"]
    [still] = [s for s in await _open(t, step["code"], case_id) if s["id"] == step["id"]]
    assert still["due_at"] == step["due_at"]


async def test_S7_S8_S9_marp_referral_views_and_cp_referral_are_not_waived(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """S7/S8/S9, Somerset 3.2.3: "the case will need additional supervision and monitoring (by
    middle/senior management) ... The case holder will refer the case to the next YJT MARP";
    6.2: "Child and parent/carer views will be sought before the initial panel and be included
    in the MARP referral form"; 3.2.4: "With regard to safety and well-being, this will include
    (or has already included) a referral to statutory child protection services." A MARP sits
    on Thu 10 Sep 2026 10:00 BST; SWB very high on Tue 1 Sep 10:00 BST. refer_to_panel (ref
    3.2.3, 3.2.4) and seek_child_and_carer_views (6.2), case holder, due 10 Sep 09:00Z, and
    child_protection_referral (3.2.4, immediately: 1 Sep 09:00Z) are refused to the line
    manager and a duty manager (403) and stay open; the plan update (S13, 4.2) is waivable."""
    monkeypatch.setattr(clock, "now", lambda: datetime(2026, 9, 1, 12, 0, tzinfo=UTC))
    case = (await somerset.open_case(opened_at="2026-08-03T09:00:00Z"))["data"]
    await schedule(somerset.client, somerset, "2026-09-10T10:00:00+01:00")
    body = await judge(somerset, case["id"], "swb", "very_high", "2026-09-01T10:00:00+01:00")
    steps = {s["code"]: s for s in body["next_steps"]}
    expected = {"refer_to_panel": ("S7", "3.2.3, 3.2.4", "2026-09-10T09:00:00Z"),
                "seek_child_and_carer_views": ("S8", "6.2", "2026-09-10T09:00:00Z"),
                "child_protection_referral": ("S9", "3.2.4", "2026-09-01T09:00:00Z")}
    for code, (rule, ref, due) in expected.items():
        step = steps[code]
        assert (step["actor"], step["due_at"]) == ("case_holder", due)
        assert step["policy"] == {**SOMERSET, "ref": ref, "rule": rule}
        await _refused_for_managers(somerset, case["id"], step, "2026-09-01T11:00:00Z")
    r = await _waive(somerset, steps["update_intervention_plan"]["id"], "2026-09-01T11:00:00Z",
                     "line_manager")
    assert r.status_code == 200, r.text
    r = await somerset.client.get(f"/v1/cases/{case['id']}", headers=somerset.auth("chair"))
    assert r.json()["data"]["on_register"] is True


async def test_W7_W9_high_risk_panel_request_and_marf_are_not_waived(
        wokingham: Tenant) -> None:
    """W7/W9, Wokingham (High Risk Panel): "It will be the responsibility of the case worker or
    their line manager to request a High-Risk Panel within two working days of 1. Assessing a
    child as high or very high ROSH"; (Management of SWB) "within two working days of the
    assessment being completed the PYJS case worker must complete a MARF referral". ROSH and
    SWB high on Thu 27 Aug 2026 10:00 BST, not open to social care: request_high_risk_panel
    (case holder, +2wd: Tue 1 Sep 22:59:59Z after the bank holiday on 31 Aug) and marf_referral
    (case holder, dated once an assessment completes the rating) are refused to the line
    manager and a duty manager (403)."""
    case = (await wokingham.open_case(opened_at="2026-08-03T09:00:00Z"))["data"]
    await _judge(wokingham, case["id"], "rosh", "high", "2026-08-27T10:00:00+01:00")
    body = await _judge(wokingham, case["id"], "swb", "high", "2026-08-27T10:00:00+01:00")
    steps = {s["code"]: s for s in body["next_steps"]}
    for code, rule, ref in (("request_high_risk_panel", "W7", "High Risk Panel"),
                            ("marf_referral", "W9",
                             "Management of Safety and Well-being concerns")):
        step = steps[code]
        # W9's two working days run from the assessment completing the rating (none here).
        due = "2026-09-01T22:59:59Z" if rule == "W7" else None
        assert (step["actor"], step["due_at"]) == ("case_holder", due)
        assert (step["policy"]["rule"], step["policy"]["ref"]) == (rule, ref)
        await _refused_for_managers(wokingham, case["id"], step, "2026-08-28T10:00:00Z")


async def test_W16_mappa_h_notification_is_not_waived(wokingham: Tenant) -> None:
    """W16, Wokingham (Referrals into MAPPA): "The PYJS should notify the Central MAPPA Unit
    ... of all MAPPA eligible young people using the MAPPA H form ... Category 1 referrals must
    be made upon the registration becoming known". Category 1 recorded Mon 7 Sep 2026 10:00Z:
    mappa_h_notification (case holder, immediately, 10:00Z) is refused to managers (403)."""
    case = (await wokingham.open_case(opened_at="2026-08-03T09:00:00Z"))["data"]
    r = await patch_case(wokingham, case["id"], {"mappa_category": 1,
                                                 "occurred_at": "2026-09-07T10:00:00Z"})
    assert r.status_code == 200, r.text
    step = the_step(r.json()["next_steps"], "mappa_h_notification")
    assert (step["actor"], step["due_at"]) == ("case_holder", "2026-09-07T10:00:00Z")
    assert (step["policy"]["rule"], step["policy"]["ref"]) == ("W16", "Referrals into MAPPA")
    await _refused_for_managers(wokingham, case["id"], step, "2026-09-08T10:00:00Z")


# --- F17: steps about a withdrawn record go with it; every step appears in the timeline --------

async def _referral_act(t: Tenant, referral_id: str, action: str, at: str,
                        role: str = "case_holder") -> dict[str, Any]:
    r = await t.client.post(f"/v1/referrals/{referral_id}/{action}",
                            json={"note": f"{action} form", "occurred_at": at},
                            headers=t.auth(role))
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


async def test_W16_W18_withdrawn_mappa_h_form_leaves_no_quality_assurance_step(
        wokingham: Tenant) -> None:
    """W16/W18, Wokingham (Referrals into MAPPA): "MAPPA forms will be completed by the case
    worker and must be quality assured by a manager before they are sent over to MAPPA." Category
    1 recorded Mon 7 Sep 2026 10:00Z (mappa_h_notification, immediately); the MAPPA H form is
    drafted on 8 Sep (quality_assure_mappa_form, line_manager-1, no timescale, subject the form),
    quality-assured by the line manager on 9 Sep and sent on 10 Sep. Withdrawn on Fri 11 Sep
    ("sent to the wrong MAPPA area"): the notification is owed again (case holder, due 7 Sep
    10:00Z as first raised, ref "Referrals into MAPPA") and no quality assurance of the
    withdrawn form is re-raised: a withdrawn form is never sent. The timeline shows the
    re-opened notification as created."""
    case = (await wokingham.open_case(opened_at="2026-08-03T09:00:00Z"))["data"]
    r = await patch_case(wokingham, case["id"], {"mappa_category": 1,
                                                 "occurred_at": "2026-09-07T10:00:00Z"})
    assert r.status_code == 200, r.text
    r = await wokingham.client.post(
        f"/v1/cases/{case['id']}/referrals",
        json={"kind": "mappa_h", "details": {}, "occurred_at": "2026-09-08T10:00:00Z"},
        headers=wokingham.auth("case_holder"))
    assert r.status_code == 201, r.text
    form = r.json()["data"]
    qa = the_step(r.json()["next_steps"], "quality_assure_mappa_form")
    assert (qa["actor"], qa["assignee_id"], qa["due_at"]) == ("line_manager", "line_manager-1",
                                                              None)
    assert (qa["policy"]["rule"], qa["subject_id"]) == ("W18", form["id"])
    await _referral_act(wokingham, form["id"], "submit", "2026-09-08T11:00:00Z")
    await _referral_act(wokingham, form["id"], "quality-assure", "2026-09-09T10:00:00Z",
                        "line_manager")
    sent = await _referral_act(wokingham, form["id"], "send", "2026-09-10T10:00:00Z")
    assert "mappa_h_notification" not in {s["code"] for s in sent["next_steps"]}
    withdrawn = await _referral_act(wokingham, form["id"], "withdraw", "2026-09-11T10:00:00Z")
    steps = withdrawn["next_steps"]
    assert [s for s in steps if s["code"] == "quality_assure_mappa_form"] == []
    again = the_step(steps, "mappa_h_notification")
    assert (again["actor"], again["due_at"]) == ("case_holder", "2026-09-07T10:00:00Z")
    assert (again["policy"]["rule"], again["policy"]["ref"]) == ("W16", "Referrals into MAPPA")
    r = await wokingham.client.get(f"/v1/cases/{case['id']}/timeline", params={"limit": 200},
                                   headers=wokingham.auth("case_holder"))
    assert r.status_code == 200, r.text
    created = {e["entity_id"] for e in r.json()["data"]
               if e["kind"] == "step" and e["action"] == "created"}
    assert {again["id"], qa["id"]} <= created


# --- F8: the initial MARP's views -------------------------------------------------------------

async def test_S8_no_marp_agenda_on_a_draft_referral_and_missing_views_lapse_at_the_panel(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """S7/S8, Somerset 6.2: "Child and parent/carer views will be sought before the initial
    panel and be included in the MARP referral form"; 3.2.3: the referral is made "by
    contacting the appropriate administrator and completion of section 1 of the MARP referral
    form". ROSH high on Tue 1 Sep 2026 10:00 BST; a MARP sits Thu 3 Sep 10:00 BST. A draft
    referral (section 1 only, no views) cannot put the case on the agenda (422 not-referred).
    Put there from the register instead, the MARP sits and decides ROSH stays high: the views
    step (seek_child_and_carer_views, case holder, due 3 Sep 09:00Z, ref 6.2), owed "before the
    initial panel", is missed at the sitting, its deadline (fix36e; it was superseded,
    "overtaken by the panel"; not done): it can no longer be done as 6.2 asks and stayed owed
    for ever, blocking the closure of a child who stays High (attack 24b, A24b-4)."""
    monkeypatch.setattr(clock, "now", lambda: datetime(2026, 9, 1, 12, 0, tzinfo=UTC))
    case = (await somerset.open_case(opened_at="2026-08-03T09:00:00Z"))["data"]
    panel = await schedule(somerset.client, somerset, "2026-09-03T10:00:00+01:00")
    body = await judge(somerset, case["id"], "rosh", "high", "2026-09-01T10:00:00+01:00")
    views = the_step(body["next_steps"], "seek_child_and_carer_views")
    assert (views["actor"], views["due_at"]) == ("case_holder", "2026-09-03T09:00:00Z")
    assert views["policy"] == {**SOMERSET, "ref": "6.2", "rule": "S8"}
    r = await somerset.client.post(
        f"/v1/cases/{case['id']}/referrals",
        json={"kind": "panel", "details": {"section_1": "completed"},
              "occurred_at": "2026-09-01T11:00:00+01:00"},
        headers=somerset.auth("case_holder"))
    assert r.status_code == 201, r.text
    draft = r.json()["data"]
    items = f"/v1/panels/{panel['id']}/items"
    r = await somerset.client.post(items, json={"case_id": case["id"],
                                                "presenter_id": "case_holder-1",
                                                "referral_id": draft["id"]},
                                   headers=somerset.auth("panel_admin"))
    assert assert_problem(r, 422)["type"].endswith("/not-referred")
    r = await somerset.client.post(items, json={"case_id": case["id"],
                                                "presenter_id": "case_holder-1"},
                                   headers=somerset.auth("panel_admin"))
    assert r.status_code == 201, r.text
    item = r.json()["data"]
    monkeypatch.setattr(clock, "now", lambda: datetime(2026, 9, 4, 12, 0, tzinfo=UTC))
    r = await somerset.client.post(
        f"/v1/panels/{panel['id']}/items/{item['id']}/decision",
        json={"rosh_level": "high", "review_date": "2026-10-01", "minutes": "Remains high",
              "actions": [], "occurred_at": "2026-09-03T11:00:00+01:00"},
        headers=somerset.auth("chair", "chair-1"))
    assert r.status_code == 200, r.text
    assert "seek_child_and_carer_views" not in {s["code"] for s in r.json()["next_steps"]}
    r = await somerset.client.get("/v1/next-steps", params={"case_id": case["id"],
                                                           "status": "missed"},
                                  headers=somerset.auth("line_manager"))
    [lapsed] = [s for s in r.json()["data"] if s["code"] == "seek_child_and_carer_views"]
    assert lapsed["id"] == views["id"]
    assert lapsed["satisfied_by"]["type"] == "panel_item"


# --- F5: lowering a rating never taken to a MARP ------------------------------------------------

async def test_M6_high_never_taken_to_a_marp_is_lowered_after_line_manager_consultation(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """M6, Somerset 4.3: "Where ratings are downgraded after consultation with their line
    manager/ at MARP, the case holder will revise the ROSH/Safety and Well-Being judgement to
    reflect this. If the case was relevant to MARP, the case holder will update the panel in
    line with the previously agreed review date, to seek agreement from the panel"; 7.2.1 (under
    "MARP Review Meetings") asks for the panel's approval. SWB high on Tue 1 Sep 2026 10:00 BST,
    a MARP booked for Thu 3 Sep but not yet sat: lowered to medium the same afternoon after
    consulting the line manager (201). The case leaves the register; refer_to_panel (S7),
    seek_child_and_carer_views (S8) and the monthly review (S11) are superseded (the discussion
    of the high rating, S5, is still owed); the case holder explains the change (S12
    inform_child_and_carer, ref 6.1)."""
    monkeypatch.setattr(clock, "now", lambda: datetime(2026, 9, 1, 16, 0, tzinfo=UTC))
    case = (await somerset.open_case(opened_at="2026-08-03T09:00:00Z"))["data"]
    await schedule(somerset.client, somerset, "2026-09-03T10:00:00+01:00")
    body = await judge(somerset, case["id"], "swb", "high", "2026-09-01T10:00:00+01:00")
    raised = {s["code"]: s for s in body["next_steps"]}
    assert raised["refer_to_panel"]["due_at"] == "2026-09-03T09:00:00Z"
    body = await _judge(somerset, case["id"], "swb", "medium", "2026-09-01T16:00:00+01:00",
                        rationale="Found the same day; agreed medium with line_manager-1")
    codes = {s["code"] for s in body["next_steps"]}
    gone = {"refer_to_panel", "seek_child_and_carer_views", "monthly_manager_review"}
    assert not codes & gone
    assert "discuss_with_manager" in codes  # the 24-hour discussion of the high rating stays
    inform = the_step(body["next_steps"], "inform_child_and_carer")
    assert (inform["actor"], inform["due_at"]) == ("case_holder", None)
    assert inform["policy"] == {**SOMERSET, "ref": "6.1", "rule": "S12"}
    r = await somerset.client.get(f"/v1/cases/{case['id']}", headers=somerset.auth("chair"))
    got = r.json()["data"]
    assert (got["on_register"], got["ratings"]["swb"]["level"]) == (False, "medium")
    r = await somerset.client.get("/v1/next-steps", params={"case_id": case["id"],
                                                           "status": "superseded"},
                                  headers=somerset.auth("line_manager"))
    superseded = {s["code"] for s in r.json()["data"]}
    assert gone <= superseded
    r = await somerset.client.get("/v1/register", headers=somerset.auth("chair"))
    assert case["id"] not in {c["id"] for c in r.json()["data"]}


async def test_M6_once_a_marp_has_taken_the_case_lowering_needs_the_panel(
        somerset: Tenant) -> None:
    """M6, Somerset 7.2.1: "Where the current judgment of ROSH/S and WB concern is High or Very
    high, recommendation that the risk level is reduced must be approved by the panel." ROSH
    high on Mon 1 Jun 2026; the MARP of Wed 3 Jun keeps it high and books its review for 1 July
    (attend_panel_review, case holder, due 1 Jul 22:59:59Z, ref 7.1.6, 7.2.3): lowering it on 5
    June, by the case holder or the line manager, is 409 panel-approval-required."""
    case = (await somerset.open_case())["data"]
    await judge(somerset, case["id"], "rosh", "high", "2026-06-01T10:00:00+01:00")
    await taken_by_marp(somerset, case["id"], "rosh", "high")
    [review] = await _open(somerset, "attend_panel_review", case["id"])
    assert (review["actor"], review["due_at"]) == ("case_holder", "2026-07-01T22:59:59Z")
    assert review["policy"] == {**SOMERSET, "ref": "7.1.6, 7.2.3", "rule": "S20"}
    for role in ("case_holder", "line_manager"):
        r = await somerset.client.post(
            f"/v1/cases/{case['id']}/judgements",
            json={"domain": "rosh", "level": "medium", "rationale": "agreed with LM",
                  "occurred_at": "2026-06-05T10:00:00+01:00"},
            headers=somerset.auth(role))
        assert assert_problem(r, 409)["type"].endswith("/panel-approval-required")


# --- F4: a reopened case under MARP review is not referred to the MARP again --------------------

async def test_S7_S8_S20_a_case_under_marp_review_cannot_close_past_its_review(
        somerset: Tenant) -> None:
    """S7/S8/S20, Somerset 7.2.3: "Where cases continue to be classified as High or Very high,
    the case will remain relevant to ongoing MARP oversight"; 6.2 "Child and parent/carer views
    will be sought before the initial panel". ROSH high on Mon 1 Jun 2026; the MARP of Wed 3 Jun
    keeps it high and books its review for 1 July (attend_panel_review, case holder, due 1 Jul
    22:59:59Z, ref 7.1.6, 7.2.3). Closing it while that review and the views the MARP sat
    without are open is 409 ``mandatory-steps-open`` naming both (A9-9: duties no manager may
    waive are not set aside by a closure); the case stays open and on the register, the two
    steps open as they were, no new refer_to_panel. (Since attack 24b, A24b-4, the views lapse
    when the panel sits, and a review booked after the closure lapses with it: this closure is
    recorded after the review date passed, so the missed review still blocks it.)"""
    case = (await somerset.open_case())["data"]
    await judge(somerset, case["id"], "rosh", "high", "2026-06-01T10:00:00+01:00")
    await taken_by_marp(somerset, case["id"], "rosh", "high")
    [review] = await _open(somerset, "attend_panel_review", case["id"])
    closed = datetime.now(UTC).isoformat()  # after the agenda entry (recorded now)
    r = await patch_case(somerset, case["id"], {"closed_at": closed,
                                                "closure_reason": "Order ended"})
    problem = assert_problem(r, 409)
    assert problem["type"].endswith("/mandatory-steps-open")
    assert sorted((s["id"], s["code"], s["rule"], s["policy_ref"]) for s in problem["steps"]) \
        == [(review["id"], "attend_panel_review", "S20", "7.1.6, 7.2.3")]
    r = await somerset.client.get("/v1/next-steps", params={"case_id": case["id"]},
                                  headers=somerset.auth("duty_manager"))
    steps = r.json()["data"]
    back = the_step(steps, "attend_panel_review")
    assert (back["id"], back["actor"], back["due_at"]) == (review["id"], "case_holder",
                                                          "2026-07-01T22:59:59Z")
    assert back["policy"] == {**SOMERSET, "ref": "7.1.6, 7.2.3", "rule": "S20"}
    assert "refer_to_panel" not in {s["code"] for s in steps}
    r = await somerset.client.get(f"/v1/cases/{case['id']}", headers=somerset.auth("chair"))
    assert (r.json()["data"]["closed_at"], r.json()["data"]["on_register"]) == (None, True)
