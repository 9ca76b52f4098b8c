"""A panel action owned by someone who may not see the case is still completable, by someone who
may (W22), and is never given to someone the case's restriction shuts out.

Wokingham PYJS 2024, "Internal and External Controls": "Every action of the risk management plan
should include a timescale for completion and the professional responsible for it." High Risk
Panel: "This is a multi-agency panel ... The case worker must ensure that minutes are uploaded to
the system and that the intervention plan and Asset+ risk management plan are updated with any
actions resulting from the High Risk Panel meeting."

The owner is often a partner's professional (a police officer) or a colleague who neither holds
nor manages the case. Issue 8: "A step is listed to, and can be completed by, only someone who may
see its case now". So the owner's step (actor ``action_owner``) is recorded as done by the case's
holder, its line manager or a duty manager, who see the case; nobody else who may not see the case
lists or completes it. The owner themselves, "the professional responsible for it", sees and
completes their own action alone (attack pass 16, A16-12: test_panel_action_owner_access.py).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from icalendar import Calendar

from app.domain.steps import RESTRICTED_ACTION_ESCALATION
from tests.api.integrity_support import assert_problem, audit_of, complete, patch_case, steps_of
from tests.api.support import tick
from tests.api.test_panels import add_item, high_case, refer_to_panel, schedule
from tests.conftest import Tenant

PANEL_AT = "2026-09-03T10:00:00+01:00"
DECIDED_AT = "2026-09-03T11:00:00+01:00"


async def _decide(t: Tenant, owner: str, case_id: str | None = None) -> tuple[str, Any]:
    """A High-Risk Panel (Thursday 3 September 2026) decides one action for ``owner``, due
    Thursday 10 September; the case id and the decision's response."""
    if case_id is None:
        case_id = (await t.open_case())["data"]["id"]
    panel = await schedule(t.client, t, PANEL_AT, "high_risk_panel")
    await refer_to_panel(t.client, t, case_id)
    item = await add_item(t.client, t, panel["id"], case_id)
    r = await t.client.post(
        f"/v1/panels/{panel['id']}/items/{item['id']}/decision",
        json={"rosh_level": "high", "review_date": "2026-10-01", "minutes": "Remains high",
              "actions": [{"description": "Joint visit with police", "owner_id": owner,
                           "due_date": "2026-09-10"}],
              "occurred_at": DECIDED_AT},
        headers=t.auth("chair", "chair-1"))
    return case_id, r


async def _marp_decision(t: Tenant, description: str, due: str) -> tuple[dict[str, Any], Any]:
    """A Somerset ROSH-high case on a MARP (Wednesday 10 June 2026, 14:00 BST) that keeps it
    high and agrees one action for police-4 due ``due``: the case and the decision's response."""
    case = await high_case(t.client, t)
    panel = await schedule(t.client, t, "2026-06-10T14:00:00+01:00")
    item = await add_item(t.client, t, panel["id"], case["id"])
    r = await t.client.post(
        f"/v1/panels/{panel['id']}/items/{item['id']}/decision",
        json={"rosh_level": "high", "review_date": "2026-07-08", "minutes": "Remains high",
              "actions": [{"description": description, "owner_id": "police-4",
                           "due_date": due}],
              "occurred_at": "2026-06-10T15:00:00+01:00"},
        headers=t.auth("chair", "chair-1"))
    return case, r


def _action(steps: list[dict[str, Any]]) -> dict[str, Any]:
    (action,) = [s for s in steps if s["code"] == "panel_action"]
    return action


@pytest.mark.parametrize(("role", "sub"), [
    ("case_holder", "case_holder-1"),
    ("line_manager", "line_manager-1"),
    ("duty_manager", "duty_manager-3"),
])
async def test_W22_action_of_an_owner_without_access_is_recorded_by_who_sees_the_case(
        wokingham: Tenant, role: str, sub: str) -> None:
    """W22: the action owned by pc-17 (no access here) is due Thursday 10 September 2026 at the
    end of the day (22:59:59Z, BST), ref "High Risk Panel"; the case's holder, line manager or a
    duty manager records it done (200, completed_by the recorder, audited in their name)."""
    case_id, r = await _decide(wokingham, "pc-17")
    assert r.status_code == 200, r.text
    action = _action(r.json()["next_steps"])
    assert action["actor"] == "action_owner"
    assert action["assignee_id"] == "pc-17"
    assert action["due_at"] == "2026-09-10T22:59:59Z"
    assert action["policy"] == {"pack": "wokingham-pyjs-2024", "version": "1.0",
                                "ref": "High Risk Panel", "rule": "W22"}
    done = await complete(wokingham, action["id"], role, sub, note="Visit done 9/9 with PC 17",
                          occurred_at="2026-09-09T16:00:00+01:00")
    assert done.status_code == 200, done.text
    assert done.json()["data"]["status"] == "done"
    assert done.json()["data"]["completed_by"] == sub
    assert action["id"] not in {s["id"] for s in await steps_of(wokingham, case_id)}
    entries = [e for e in await audit_of(wokingham, case_id)
               if e["action"] == "step.done" and e["entity_id"] == action["id"]]
    assert [e["actor"] for e in entries] == [sub]


@pytest.mark.parametrize(("role", "sub", "status"), [
    ("case_holder", "case_holder-2", 404),   # another case holder
    ("line_manager", "line_manager-2", 404),  # another team's manager
    ("panel_admin", "panel_admin-1", 404),   # lists only the panel administrator's steps
    ("chair", "chair-1", 403),               # sees the case, is not its holder or manager
])
async def test_W22_action_is_not_completed_by_anyone_else(
        wokingham: Tenant, role: str, sub: str, status: int) -> None:
    """Whoever may not see the case gets 404 (as for an unknown step), whoever sees it but is
    neither its holder nor a manager gets 403; the action stays open and untouched."""
    case_id, r = await _decide(wokingham, "pc-17")
    assert r.status_code == 200, r.text
    action = _action(r.json()["next_steps"])
    assert_problem(await complete(wokingham, action["id"], role, sub, note="x"), status)
    still = _action(await steps_of(wokingham, case_id))
    assert still["id"] == action["id"]
    assert still["status"] == "open"
    assert still["completed_by"] is None


async def test_W22_an_owner_who_sees_the_case_completes_their_own_action(
        wokingham: Tenant) -> None:
    """The line manager named as owner lists the action under assignee=me and completes it."""
    _, r = await _decide(wokingham, "line_manager-1")
    assert r.status_code == 200, r.text
    action = _action(r.json()["next_steps"])
    assert action["assignee_id"] == "line_manager-1"
    mine = await wokingham.client.get("/v1/next-steps", params={"assignee": "me"},
                                      headers=wokingham.auth("line_manager", "line_manager-1"))
    assert action["id"] in {s["id"] for s in mine.json()["data"]}
    done = await complete(wokingham, action["id"], "line_manager", "line_manager-1", note="ok")
    assert done.status_code == 200, done.text
    assert done.json()["data"]["completed_by"] == "line_manager-1"


@pytest.mark.parametrize("access", [
    {"excluded_staff": ["case_holder-9"]},
    {"allowed_staff": ["case_holder-1", "line_manager-1", "chair-1", "panel_admin-1"]},
], ids=["excluded", "not-allowed"])
async def test_W22_no_action_for_an_owner_the_restriction_shuts_out(
        wokingham: Tenant, access: dict[str, Any]) -> None:
    """An action owned by case_holder-9, whom the case's restriction shuts out, is refused (422
    restriction-shuts-out-owner naming body.actions.0.owner_id); nothing is stored: the item is
    undecided and no panel_action step exists. The same decision for an owner with access
    stands."""
    case_id = (await wokingham.open_case())["data"]["id"]
    r = await patch_case(wokingham, case_id, {"access": access})
    assert r.status_code == 200, r.text
    _, r = await _decide(wokingham, "case_holder-9", case_id)
    body = assert_problem(r, 422)
    assert body["type"].endswith("/restriction-shuts-out-owner")
    assert [e["loc"] for e in body["errors"]] == ["body.actions.0.owner_id"]
    assert not [s for s in await steps_of(wokingham, case_id) if s["code"] == "panel_action"]
    panels = await wokingham.client.get("/v1/panels", params={"upcoming": "false"},
                                       headers=wokingham.auth("chair", "chair-1"))
    items = [i for p in panels.json()["data"] for i in p["items"] if i["case_id"] == case_id]
    assert items
    assert all(i["decided_at"] is None for i in items)
    _, r = await _decide(wokingham, "line_manager-1", case_id)
    assert r.status_code == 200, r.text
    assert _action(r.json()["next_steps"])["assignee_id"] == "line_manager-1"


async def test_S18_marp_action_of_a_partner_is_recorded_by_the_case_holder(
        somerset: Tenant) -> None:
    """Somerset 7.1.2: "Panel members will be asked to contribute and agree the actions to
    manage/reduce the identified risks/concerns"; 7.1.7: "Case holders will ensure any required
    actions are taken". S18: the MARP (Wednesday 10 June 2026) agrees an action for police-4,
    due Friday 12 June (end of day, 22:59:59Z in BST), ref "7.1.2, 7.1.7"; the case holder
    records it done; another case holder gets 404."""
    _, r = await _marp_decision(somerset, "Share intelligence on associates", "2026-06-12")
    assert r.status_code == 200, r.text
    action = _action(r.json()["next_steps"])
    assert action["actor"] == "action_owner"
    assert action["assignee_id"] == "police-4"
    assert action["due_at"] == "2026-06-12T22:59:59Z"
    assert action["policy"]["ref"] == "7.1.2, 7.1.7"
    assert action["policy"]["rule"] == "S18"
    assert_problem(await complete(somerset, action["id"], "case_holder", "case_holder-2"), 404)
    done = await complete(somerset, action["id"], "case_holder", "case_holder-1",
                          note="Shared at strategy meeting")
    assert done.status_code == 200, done.text
    assert done.json()["data"]["completed_by"] == "case_holder-1"


@pytest.mark.parametrize(("owner", "to", "assignee"), [
    ("line_manager-1", "duty_manager", None),       # the line manager's own: over them
    ("case_holder-1", "line_manager", "line_manager-1"),
    ("pc-17", "line_manager", "line_manager-1"),     # a partner's: the case's line manager
])
async def test_W22_overdue_action_escalates_over_its_owner(
        factory: Any, wokingham: Tenant, owner: str, to: str, assignee: str | None) -> None:
    """The action due Thursday 10 September 2026 (22:59:59Z) is still open on Friday 11
    September: one escalate_overdue_step, urgent, ref "High Risk Panel" (W22), for the line
    manager, or for a duty manager when the owner is the case's line manager (Wokingham
    escalation: the line manager's own step goes to a duty manager; Somerset 7.1.7: obstacles
    go to "their line manager or duty manager")."""
    case_id, r = await _decide(wokingham, owner)
    assert r.status_code == 200, r.text
    action = _action(r.json()["next_steps"])
    assert await tick(factory, wokingham, datetime(2026, 9, 10, 22, 59, 58, tzinfo=UTC)) == 0
    assert await tick(factory, wokingham, datetime(2026, 9, 11, 9, 0, tzinfo=UTC)) >= 1
    [up] = [s for s in await steps_of(wokingham, case_id)
            if s["code"] == "escalate_overdue_step" and s["subject_id"] == action["id"]]
    assert up["actor"] == to
    assert up["assignee_id"] == assignee
    assert up["urgent"] is True
    assert up["policy"] == {"pack": "wokingham-pyjs-2024", "version": "1.0",
                            "ref": "High Risk Panel", "rule": "W22"}


async def test_W22_escalation_of_a_panel_action_is_a_bare_duty_without_the_panels_text(
        factory: Any, wokingham: Tenant) -> None:
    """The escalation of the line manager's own overdue panel action (for a duty manager, no
    assignee) on a case an allow-list restricts leaves the action's free-text title ("Joint
    visit with police") out of its own, so that, like every role-addressed escalation there,
    a duty manager the list leaves out lists, reads and may complete it as a bare duty (attack
    7, F9: a bare duty carries nothing of the case; attack pass 8: with no duty manager on the
    list it reached nobody); a duty manager on the list completes it too."""
    case_id, r = await _decide(wokingham, "line_manager-1")
    assert r.status_code == 200, r.text
    action = _action(r.json()["next_steps"])
    r = await patch_case(wokingham, case_id, {"access": {"allowed_staff": [
        "case_holder-1", "line_manager-1", "duty_manager-2"]}})
    assert r.status_code == 200, r.text
    assert await tick(factory, wokingham, datetime(2026, 9, 11, 9, 0, tzinfo=UTC)) >= 1
    steps = await wokingham.client.get(
        "/v1/next-steps", params={"case_id": case_id, "limit": 200},
        headers=wokingham.auth("duty_manager", "duty_manager-2"))
    [up] = [s for s in steps.json()["data"]
            if s["code"] == "escalate_overdue_step" and s["subject_id"] == action["id"]]
    assert (up["actor"], up["assignee_id"]) == ("duty_manager", None)
    assert up["title"] == RESTRICTED_ACTION_ESCALATION
    outsider = wokingham.auth("duty_manager", "duty_manager-5")
    listed = await wokingham.client.get("/v1/next-steps", params={"limit": 200},
                                        headers=outsider)
    assert "Joint visit" not in listed.text
    assert up["id"] in {s["id"] for s in listed.json()["data"]}
    read = await wokingham.client.get(f"/v1/next-steps/{up['id']}", headers=outsider)
    assert read.status_code == 200, read.text
    assert "Joint visit" not in read.text
    done = await complete(wokingham, up["id"], "duty_manager", "duty_manager-2", note="chased")
    assert done.status_code == 200, done.text


async def test_W22_action_of_an_owner_later_shut_out_goes_to_the_case_holder(
        wokingham: Tenant) -> None:
    """A restriction set after the decision that shuts out the action's owner (case_holder-9)
    moves the open action to the case holder (Somerset 7.1.7: "Case holders will ensure any
    required actions are taken"), listed in reassigned_steps; case_holder-9 gets 404, the case
    holder finds it under assignee=me and completes it."""
    case_id, r = await _decide(wokingham, "case_holder-9")
    assert r.status_code == 200, r.text
    action = _action(r.json()["next_steps"])
    r = await patch_case(wokingham, case_id, {"access": {"excluded_staff": ["case_holder-9"]}})
    assert r.status_code == 200, r.text
    [moved] = [s for s in r.json()["reassigned_steps"] if s["id"] == action["id"]]
    assert moved["assignee_id"] == "case_holder-1"
    assert_problem(await complete(wokingham, action["id"], "case_holder", "case_holder-9"), 404)
    mine = await wokingham.client.get("/v1/next-steps", params={"assignee": "me"},
                                      headers=wokingham.auth("case_holder", "case_holder-1"))
    assert action["id"] in {s["id"] for s in mine.json()["data"]}
    done = await complete(wokingham, action["id"], "case_holder", "case_holder-1", note="done")
    assert done.status_code == 200, done.text


async def test_S19_panel_administrator_lists_and_calendars_only_their_own_steps(
        somerset: Tenant) -> None:
    """S19 (Somerset 7.1.4): after the MARP decision the panel administrator records a CMS
    contact (record_panel_contact, actor panel_admin). They list it, read it and see it in their
    calendar feed; they neither list nor read the case holder's and managers' steps of the case
    (404), whose file is closed to them (403)."""
    case, r = await _marp_decision(somerset, "Safety plan", "2026-06-24")
    assert r.status_code == 200, r.text
    by_code = {s["code"]: s for s in r.json()["next_steps"]}
    contact = by_code["record_panel_contact"]
    assert contact["policy"]["ref"] == "7.1.4"
    admin = somerset.auth("panel_admin", "panel_admin-1")
    listed = await somerset.client.get("/v1/next-steps", params={"case_id": case["id"]},
                                       headers=admin)
    assert {s["code"] for s in listed.json()["data"]} == {"record_panel_contact"}
    assert (await somerset.client.get(f"/v1/next-steps/{contact['id']}",
                                      headers=admin)).status_code == 200
    for code in ("panel_action", "complete_review_stage", "attend_panel_review"):
        assert_problem(await somerset.client.get(f"/v1/next-steps/{by_code[code]['id']}",
                                                 headers=admin), 404)
    assert_problem(await somerset.client.get(f"/v1/cases/{case['id']}", headers=admin), 403)
    feed = await somerset.client.post("/v1/me/calendar-feeds", headers=admin)
    assert feed.status_code == 201, feed.text
    ics = await somerset.client.get(feed.json()["data"]["url"].removeprefix("http://yjrisk.test"))
    assert ics.status_code == 200, ics.text
    uids = {str(c["uid"]) for c in Calendar.from_ical(ics.content).walk("VTODO")}
    assert any(contact["id"] in uid for uid in uids), uids
    assert len(uids) == 1


async def test_S18_owner_with_a_panel_administrator_token_sees_only_the_action(
        somerset: Tenant) -> None:
    """police-4, the action's owner, holding a panel_admin token: the case file stays closed
    to them (403), but their own action, "the professional responsible for it" (attack pass
    16, A16-12), is listed, read and completed by them; done, it is still listed to them."""
    case, r = await _marp_decision(somerset, "Share intelligence", "2026-06-12")
    assert r.status_code == 200, r.text
    action = _action(r.json()["next_steps"])
    as_owner = somerset.auth("panel_admin", "police-4")
    assert_problem(await somerset.client.get(f"/v1/cases/{case['id']}", headers=as_owner), 403)
    listed = await somerset.client.get("/v1/next-steps", params={"assignee": "me"},
                                       headers=as_owner)
    assert [s["id"] for s in listed.json()["data"]] == [action["id"]]
    r = await somerset.client.get(f"/v1/next-steps/{action['id']}", headers=as_owner)
    assert r.status_code == 200, r.text
    done = await complete(somerset, action["id"], "panel_admin", "police-4", note="Shared")
    assert done.status_code == 200, done.text
    listed = await somerset.client.get("/v1/next-steps", params={"status": "done"},
                                       headers=as_owner)
    assert action["id"] in {s["id"] for s in listed.json()["data"]}
