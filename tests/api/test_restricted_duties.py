"""Role-addressed duties on a case restricted by an allow-list (attack 7, F9), from the
attacker's side.

A step addressed to a role (actor ``duty_manager``, ``chair`` or ``panel_admin``, no assignee),
escalations included, reaches the holders of that role in the case's service whom an
``allowed_staff`` list leaves out, as a bare duty: they list it, read it and complete it; the
case, its records and every other route stay 404 to them. An ``excluded_staff`` list keeps the
named staff out of the case, but not out of their role's duties (ATTACK30B-15); another
service sees nothing.

Somerset 2023, 3.1: "Any 'high' or 'very high' judgement rating will be discussed as soon as
practicable with the relevant line manager or duty manager (within 24 hours) ... If the line
manager is unavailable, the duty manager will undertake these functions."
Somerset 2023, 12: "The operational or YJT manager will be responsible for completing and
submitting the notification to the YJB".
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from app.domain.steps import RESTRICTED_ACTION_ESCALATION
from tests.api.integrity_support import assert_problem, complete, patch_case
from tests.api.support import tick
from tests.api.test_panels import add_item, schedule
from tests.conftest import Tenant, make_tenant

Factory = async_sessionmaker[AsyncSession]

SOMERSET = "somerset-yjt-2023"
GIVEN, FAMILY = "Zelinda", "Quartermaine"
HOLDERS = ["case_holder-1", "line_manager-1"]
OUTSIDE_DM, OUTSIDE_CHAIR = ("duty_manager", "duty_manager-5"), ("chair", "chair-5")


@dataclass
class Restricted:
    """A restricted Somerset case with an overdue S5 discussion escalated to the duty managers
    and an open S23 notification for the chairs."""

    case_id: str
    escalation: dict[str, Any]
    notify: dict[str, Any]


async def _restricted(t: Tenant, factory: Factory, access: dict[str, Any],
                      charges: int = 1) -> Restricted:
    """A case with a high SWB judgement (27 Aug 2026, 10:00 BST), ``charges`` charged events
    (28 Aug) and the restriction ``access``; one escalation pass run after that."""
    case = (await t.open_case(child={"given_name": GIVEN, "family_name": FAMILY,
                                     "date_of_birth": "2010-05-01"}))["data"]
    base = f"/v1/cases/{case['id']}"
    holder = t.auth("case_holder")
    r = await t.client.post(f"{base}/judgements", headers=holder, json={
        "domain": "swb", "level": "high", "rationale": "self-harm disclosure",
        "occurred_at": "2026-08-27T10:00:00+01:00"})
    assert r.status_code == 201, r.text
    discuss = next(s for s in r.json()["next_steps"] if s["code"] == "discuss_with_manager")
    assert (discuss["actor"], discuss["assignee_id"]) == ("line_manager", "line_manager-1")
    assert discuss["due_at"] == "2026-08-28T09:00:00Z"
    assert discuss["policy"] == {"pack": SOMERSET, "version": "1", "ref": "3.1", "rule": "S5"}
    for n in range(charges):
        r = await t.client.post(f"{base}/events", headers=holder, json={
            "type": "charged", "occurred_at": f"2026-08-28T12:{n:02d}:00+01:00",
            "details": {"offence": "s18 wounding"}})
        assert r.status_code == 201, r.text
    manager = t.auth("line_manager")
    etag = (await t.client.get(base, headers=manager)).headers["ETag"]
    r = await t.client.patch(base, json={"access": access},
                             headers={**manager, "If-Match": etag})
    assert r.status_code == 200, r.text
    assert await tick(factory, t) >= 1
    steps = (await t.client.get("/v1/next-steps", params={"case_id": case["id"], "limit": 200},
                                headers=manager)).json()["data"]
    escalation = next(s for s in steps if s["code"] == "escalate_overdue_step"
                      and s["subject_id"] == discuss["id"])
    notify = next(s for s in steps if s["code"] == "notify_serious_incident")
    return Restricted(case["id"], escalation, notify)


def _no_case_data(response: httpx.Response) -> None:
    """The answer names nothing of the child (the step carries the case id alone)."""
    assert GIVEN not in response.text
    assert FAMILY not in response.text


async def _listed(t: Tenant, auth: dict[str, str], case_id: str, **params: Any
                  ) -> list[dict[str, Any]]:
    r = await t.client.get("/v1/next-steps", params={"limit": 200, **params}, headers=auth)
    assert r.status_code == 200, r.text
    _no_case_data(r)
    return [s for s in r.json()["data"] if s["case_id"] == case_id]


async def _case_file_is_404(t: Tenant, auth: dict[str, str], case_id: str) -> None:
    """The case, its records, timeline, audit, access log and export are 404; the caseload
    and the register do not list it; waiving is 404."""
    base = f"/v1/cases/{case_id}"
    for path in ("", "/judgements", "/events", "/assessments", "/referrals", "/oversight",
                 "/timeline", "/audit", "/access-log", "/subject-access-export?format=json"):
        r = await t.client.get(f"{base}{path}", headers=auth)
        assert_problem(r, 404)
        _no_case_data(r)
    for path in ("/v1/cases", "/v1/register"):
        r = await t.client.get(path, params={"limit": 200}, headers=auth)
        assert r.status_code == 200, (path, r.text)
        assert case_id not in r.text, path
        _no_case_data(r)


async def test_S5_escalation_reaches_a_duty_manager_outside_the_allow_list(
    factory: Factory, somerset: Tenant
) -> None:
    """Somerset 3.1 (S5): the missed 24-hour discussion of a high SWB rating is escalated to
    the duty managers (actor duty_manager, no assignee, urgent, S5 / 3.1); a duty manager
    whom the allow-list leaves out lists it (nothing else of the case), reads it and
    completes it; the step names nothing of the child, the answer carries no other step of the
    case, and the case file stays 404 to them, waiving included."""
    rec = await _restricted(somerset, factory, {"allowed_staff": HOLDERS})
    esc = rec.escalation
    assert (esc["actor"], esc["assignee_id"], esc["urgent"], esc["due_at"]) == (
        "duty_manager", None, True, None)
    assert esc["policy"] == {"pack": SOMERSET, "version": "1", "ref": "3.1", "rule": "S5"}
    dm = somerset.auth(*OUTSIDE_DM)
    listed = await _listed(somerset, dm, rec.case_id, actor="duty_manager")
    assert esc["id"] in {s["id"] for s in listed}
    assert {(s["code"], s["assignee_id"]) for s in listed} == {("escalate_overdue_step", None)}
    overdue = await _listed(somerset, dm, rec.case_id, overdue="true")
    assert all((s["actor"], s["assignee_id"]) == ("duty_manager", None) for s in overdue)
    # Only role-addressed duties of their role: nothing of the holder's or manager's.
    every = await _listed(somerset, dm, rec.case_id)
    assert {(s["actor"], s["assignee_id"]) for s in every} == {("duty_manager", None)}
    read = await somerset.client.get(f"/v1/next-steps/{esc['id']}", headers=dm)
    assert read.status_code == 200, read.text
    _no_case_data(read)
    await _case_file_is_404(somerset, dm, rec.case_id)
    r = await somerset.client.post(f"/v1/next-steps/{esc['id']}/waive",
                                   json={"reason": "Not needed."}, headers=dm)
    assert_problem(r, 404)
    # The line manager whose step is late may not complete its escalation (as before).
    assert_problem(await complete(somerset, esc["id"], "line_manager"), 403)
    done = await complete(somerset, esc["id"], *OUTSIDE_DM, note="Discussed with the worker.")
    assert done.status_code == 200, done.text
    _no_case_data(done)
    assert done.json()["data"]["status"] == "done"
    assert done.json()["data"]["completed_by"] == "duty_manager-5"
    assert done.json()["next_steps"] == []
    await _case_file_is_404(somerset, dm, rec.case_id)


async def test_S23_notification_reaches_a_chair_outside_the_allow_list(
    factory: Factory, somerset: Tenant
) -> None:
    """Somerset 12 (S23): "The operational or YJT manager will be responsible for completing
    and submitting the notification to the YJB": the notification (actor chair, no assignee,
    undated, S23 / 12) of a charge on an allow-listed case is listed to, read and completed by
    a chair the list leaves out; the case holder (on the list) may not complete it (403)."""
    rec = await _restricted(somerset, factory, {"allowed_staff": HOLDERS})
    notify = rec.notify
    assert (notify["actor"], notify["assignee_id"], notify["due_at"]) == ("chair", None, None)
    assert notify["policy"] == {"pack": SOMERSET, "version": "1", "ref": "12", "rule": "S23"}
    chair = somerset.auth(*OUTSIDE_CHAIR)
    listed = await _listed(somerset, chair, rec.case_id, actor="chair")
    # Beside it, the chairs' own duty on a case on the register (S41, Somerset 9's monthly
    # discussion, and its escalation once overdue), which reaches them the same way.
    assert [s["id"] for s in listed if s["policy"]["rule"] == "S23"] == [notify["id"]]
    assert {s["policy"]["rule"] for s in listed} == {"S23", "S41"}
    await _case_file_is_404(somerset, chair, rec.case_id)
    assert_problem(await complete(somerset, notify["id"], "case_holder"), 403)
    done = await complete(somerset, notify["id"], *OUTSIDE_CHAIR, note="Submitted to the YJB.")
    assert done.status_code == 200, done.text
    _no_case_data(done)
    assert done.json()["data"]["completed_by"] == "chair-5"
    assert done.json()["next_steps"] == []
    # Closed, it is no longer theirs to read (a bare duty is an open duty).
    r = await somerset.client.get(f"/v1/next-steps/{notify['id']}", headers=chair)
    assert_problem(r, 404)


async def test_bare_duty_reads_are_in_the_cases_access_log(
    factory: Factory, somerset: Tenant
) -> None:
    """A duty manager outside the list reading the escalation (list and single read) is noted
    in the case's access log under the step's role."""
    rec = await _restricted(somerset, factory, {"allowed_staff": HOLDERS})
    dm = somerset.auth(*OUTSIDE_DM)
    await _listed(somerset, dm, rec.case_id, actor="duty_manager")
    r = await somerset.client.get(f"/v1/next-steps/{rec.escalation['id']}", headers=dm)
    assert r.status_code == 200, r.text
    log = await somerset.client.get(f"/v1/cases/{rec.case_id}/access-log",
                                    headers=somerset.auth("line_manager"))
    assert log.status_code == 200, log.text
    mine = [(e["what"], e["role"]) for e in log.json()["data"] if e["actor"] == "duty_manager-5"]
    assert sorted(mine) == [("GET /v1/next-steps", "duty_manager"),
                            ("GET /v1/next-steps/{step_id}", "duty_manager")]


async def test_S23_S5_staff_the_line_manager_excludes_still_get_their_roles_bare_duties(
    factory: Factory, somerset: Tenant
) -> None:
    """Somerset 3.1 ("If the line manager is unavailable, the duty manager will undertake these
    functions"), 3.3 (the line manager or duty manager refers to the YJT manager) and 12 ("The
    operational or YJT manager will be responsible for completing and submitting the
    notification to the YJB"): the duty managers and chairs oversee the line manager. The
    case's own line manager restricts it with an excluded_staff list naming a duty manager and
    a chair: the escalation of the line manager's overdue S5 discussion and the chair's S23
    notification still reach them, as bare duties (listed, read, completed: nothing of the
    child), while the case file stays 404 to them (attack 30b, ATTACK30B-15: with every chair
    and duty manager named they reached nobody)."""
    rec = await _restricted(somerset, factory,
                            {"excluded_staff": ["duty_manager-5", "chair-5"]})
    for who, step in ((OUTSIDE_DM, rec.escalation), (OUTSIDE_CHAIR, rec.notify)):
        auth = somerset.auth(*who)
        assert step["id"] in {s["id"] for s in await _listed(somerset, auth, rec.case_id,
                                                              actor=who[0])}
        read = await somerset.client.get(f"/v1/next-steps/{step['id']}", headers=auth)
        assert read.status_code == 200, read.text
        _no_case_data(read)
        assert read.json()["data"]["subject_id"] == step["id"]  # bare (ATTACK30B-8)
        await _case_file_is_404(somerset, auth, rec.case_id)
        done = await complete(somerset, step["id"], *who, note="Done.")
        assert done.status_code == 200, done.text
        _no_case_data(done)
        assert done.json()["next_steps"] == []
        await _case_file_is_404(somerset, auth, rec.case_id)


async def test_another_services_role_holders_see_nothing(
    client: httpx.AsyncClient, settings: Any, factory: Factory, somerset: Tenant
) -> None:
    """A duty manager and a chair of another service (same staff ids) neither list, read nor
    complete the allow-listed case's duties."""
    rec = await _restricted(somerset, factory, {"allowed_staff": HOLDERS})
    other = await make_tenant(client, settings, SOMERSET)
    for who, step in ((OUTSIDE_DM, rec.escalation), (OUTSIDE_CHAIR, rec.notify)):
        auth = other.auth(*who)
        assert await _listed(other, auth, rec.case_id) == []
        assert_problem(await client.get(f"/v1/next-steps/{step['id']}", headers=auth), 404)
        assert_problem(await complete(other, step["id"], *who), 404)


async def test_two_chairs_outside_the_list_race_to_complete_one_notification(
    factory: Factory, somerset: Tenant
) -> None:
    """Two chairs outside the list complete the same notification at once: one 200, the
    other 409 conflicting-transition naming only the step's status (not the winner's note)."""
    rec = await _restricted(somerset, factory, {"allowed_staff": HOLDERS}, charges=4)
    steps = await _listed(somerset, somerset.auth(*OUTSIDE_CHAIR), rec.case_id, actor="chair")
    notifications = [s["id"] for s in steps if s["code"] == "notify_serious_incident"]
    assert len(notifications) == 4
    for step_id in notifications:
        answers = await asyncio.gather(
            complete(somerset, step_id, "chair", "chair-5", note="Submitted by chair-5."),
            complete(somerset, step_id, "chair", "chair-6", note="Submitted by chair-6."))
        statuses = sorted(r.status_code for r in answers)
        assert statuses == [200, 409], [r.text for r in answers]
        loser = next(r for r in answers if r.status_code == 409)
        body = assert_problem(loser, 409)
        assert body["type"].endswith("/conflicting-transition"), body
        assert body["current_status"] == "done"
        assert "current" not in body
        assert "Submitted by" not in loser.text


@pytest.mark.parametrize("restricted", ["before", "after"])
async def test_S18_line_managers_overdue_panel_action_reaches_a_duty_manager_off_the_list(
    factory: Factory, somerset: Tenant, restricted: str
) -> None:
    """S18 (7.1.7: "Case holders will ensure any required actions are taken and will notify
    their line manager or duty manager if any obstacles to implementation of the agreed plan
    arise"; 3.1: "If the line manager is unavailable, the duty manager will undertake these
    functions"). The MARP of Thursday 3 September 2026 gives the case's line manager an action
    due Thursday 10 September; the case is restricted to its case holder and line manager
    (before the escalation pass of Friday 11 September, or after it). The escalation goes
    over the line manager, to the duty managers (unassigned, urgent, S18, 7.1.2, 7.1.7); no
    duty manager is on the list, so duty_manager-5, off it, lists it as a bare duty (its title
    without the panel's text) and completes it: it reached nobody able to act before."""
    case = (await somerset.open_case(child={"given_name": GIVEN, "family_name": FAMILY,
                                            "date_of_birth": "2010-05-01"}))["data"]
    r = await somerset.client.post(f"/v1/cases/{case['id']}/judgements", json={
        "domain": "rosh", "level": "high", "occurred_at": "2026-09-01T10:00:00+01:00"},
        headers=somerset.auth("case_holder"))
    assert r.status_code == 201, r.text
    panel = await schedule(somerset.client, somerset, "2026-09-03T10:00:00+01:00")
    item = await add_item(somerset.client, somerset, panel["id"], case["id"])
    r = await somerset.client.post(
        f"/v1/panels/{panel['id']}/items/{item['id']}/decision",
        json={"rosh_level": "high", "review_date": "2026-10-01", "minutes": "Remains high",
              "actions": [{"description": "Ask the police about the uncle",
                           "owner_id": "line_manager-1", "due_date": "2026-09-10"}],
              "occurred_at": "2026-09-03T11:00:00+01:00"},
        headers=somerset.auth("chair", "chair-1"))
    assert r.status_code == 200, r.text
    [action] = [s for s in r.json()["next_steps"] if s["code"] == "panel_action"]
    assert (action["actor"], action["assignee_id"], action["due_at"]) == (
        "action_owner", "line_manager-1", "2026-09-10T22:59:59Z")
    manager = somerset.auth("line_manager")

    async def restrict() -> None:
        r = await patch_case(somerset, case["id"], {"access": {"allowed_staff": HOLDERS}})
        assert r.status_code == 200, r.text

    if restricted == "before":
        await restrict()
    assert await tick(factory, somerset, datetime(2026, 9, 11, 9, 0, tzinfo=UTC)) >= 1
    if restricted == "after":
        await restrict()
    steps = (await somerset.client.get(
        "/v1/next-steps", params={"case_id": case["id"], "limit": 200},
        headers=manager)).json()["data"]
    [up] = [s for s in steps if s["code"] == "escalate_overdue_step"
            and s["subject_id"] == action["id"]]
    assert (up["actor"], up["assignee_id"], up["urgent"], up["due_at"]) == (
        "duty_manager", None, True, None)
    assert up["policy"] == {"pack": SOMERSET, "version": "1", "ref": "7.1.2, 7.1.7",
                            "rule": "S18"}
    assert up["title"] == RESTRICTED_ACTION_ESCALATION
    dm = somerset.auth(*OUTSIDE_DM)
    listed = await _listed(somerset, dm, case["id"], actor="duty_manager")
    assert up["id"] in {s["id"] for s in listed}
    assert {(s["code"], s["assignee_id"]) for s in listed} == {("escalate_overdue_step", None)}
    assert "uncle" not in str(listed)
    await _case_file_is_404(somerset, dm, case["id"])
    done = await complete(somerset, up["id"], *OUTSIDE_DM, note="Chased the line manager.")
    assert done.status_code == 200, done.text
    _no_case_data(done)
    assert "uncle" not in done.text
    assert done.json()["data"]["completed_by"] == "duty_manager-5"


async def test_A16_10_a_bare_duty_completed_inside_a_closed_period_is_told_no_closure_date(
    somerset: Tenant
) -> None:
    """A chair off the list completes the S23 notification (it outlives the case's closure)
    dated inside a period the case was closed: 422 occurred-before-bound naming "the case's
    reopening", without when the case closed or reopened (attack pass 16, A16-10); a chair on
    the list is told when it closed."""
    case = (await somerset.open_case())["data"]
    manager, base = somerset.auth("line_manager"), f"/v1/cases/{case['id']}"
    r = await somerset.client.post(f"{base}/events", headers=somerset.auth("case_holder"), json={
        "type": "charged", "occurred_at": "2026-08-28T12:00:00+01:00"})
    assert r.status_code == 201, r.text
    [notify] = [s for s in r.json()["next_steps"] if s["code"] == "notify_serious_incident"]
    etag = (await somerset.client.get(base, headers=manager)).headers["ETag"]
    r = await somerset.client.patch(base, json={"access": {"allowed_staff": [*HOLDERS,
                                                                          "chair-1"]}},
                                    headers={**manager, "If-Match": etag})
    assert r.status_code == 200, r.text
    for body in ({"closed_at": "2026-08-29T10:00:00Z", "closure_reason": "Order ended"},
                 {"closed_at": None, "reopen_reason": "New order"}):
        etag = (await somerset.client.get(base, headers=manager)).headers["ETag"]
        r = await somerset.client.patch(base, json=body, headers={**manager, "If-Match": etag})
        assert r.status_code == 200, r.text
    r = await somerset.client.post(
        f"/v1/next-steps/{notify['id']}/complete", headers=somerset.auth(*OUTSIDE_CHAIR),
        json={"note": "Submitted.", "occurred_at": "2026-08-30T10:00:00Z"})
    problem = assert_problem(r, 422)
    assert problem["bound"] == {"field": "occurred_at", "name": "the case's reopening"}
    assert "2026-08-29" not in r.text
    assert datetime.now(UTC).date().isoformat() not in r.text
    own = await somerset.client.post(
        f"/v1/next-steps/{notify['id']}/complete", headers=somerset.auth("chair", "chair-1"),
        json={"note": "Submitted.", "occurred_at": "2026-08-30T10:00:00Z"})
    assert "2026-08-29T10:00:00Z" in assert_problem(own, 422)["bound"]["name"]
