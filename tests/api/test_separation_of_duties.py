"""Separation of duties: nobody checks their own work, whatever roles their token carries
(attack pass 11, A11-9).

Somerset 3.1: "Any 'high' or 'very high' judgement rating will be discussed as soon as
practicable with the relevant line manager or duty manager (within 24 hours). The pathways and
planning section of AssetPlus ... will be countersigned by line manager. If the line manager is
unavailable, the duty manager will undertake these functions." 4.5: "It is the responsibility of
line managers to review all cases where there is a High or Very High ROSH and/or Safety and
Well-Being rating with case holders at least monthly ... The line manager will add management
oversight on CMS to evidence that the case has been discussed."

A case holder who is also on the duty rota (a token with ``case_holder`` and ``duty_manager``)
may neither complete, waive nor record oversight standing for a line or duty manager's step on a
case they hold: 403, and the step stays open for the case's line manager. And the author of a
judgement does not do the line manager's check on it even when it has stood in to the duty
managers while the line manager is away.

Dates: Friday 28 August 2026, before the late-summer bank holiday (Monday 31 August); London
summer time (UTC+1).
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from app.core.config import Settings
from app.core.security import mint_dev_token
from tests.api.fidelity_support import ok, pin
from tests.api.integrity_support import (
    assert_problem,
    complete,
    judge,
    patch_case,
    steps_of,
    the_step,
)
from tests.conftest import Tenant, make_tenant

SOMERSET = {"pack": "somerset-yjt-2023", "version": "1"}


def both(t: Tenant, sub: str, *roles: str) -> dict[str, str]:
    """A token carrying several roles, as an identity provider gives staff on a duty rota."""
    token = mint_dev_token(t.settings, sub=sub, roles=list(roles), service=t.slug)
    return {"Authorization": f"Bearer {token}"}


async def _waive(t: Tenant, step_id: str, headers: dict[str, str]) -> Any:
    return await t.client.post(f"/v1/next-steps/{step_id}/waive",
                               json={"reason": "Discussed informally."}, headers=headers)


async def test_S5_S6_S11_case_holder_on_the_duty_rota_does_not_check_their_own_case(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """S5, S6, S11 (Somerset 3.1, 4.5, quoted above). case_holder-1 records ROSH high on Friday
    28 August 2026 at 16:00 BST: the line manager's discussion is due 24 clock hours later
    (Saturday 29 August 15:00 UTC), the plan's countersignature and the monthly review are the
    line manager's. Holding the duty manager's role too, the case holder is refused (403)
    completing, waiving or recording oversight for each, and each stays open; the case's line
    manager then completes them (200)."""
    pin(monkeypatch, 2026, 8, 28, 16, 30)
    case = (await somerset.open_case(opened_at="2026-08-03T09:00:00+01:00"))["data"]
    body = await judge(somerset, case["id"], "rosh", "high", "2026-08-28T16:00:00+01:00")
    discuss = the_step(body["next_steps"], "discuss_with_manager")
    assert (discuss["actor"], discuss["assignee_id"], discuss["due_at"]) == (
        "line_manager", "line_manager-1", "2026-08-29T15:00:00Z")
    assert discuss["policy"] == {**SOMERSET, "ref": "3.1", "rule": "S5"}
    countersign = the_step(body["next_steps"], "countersign_risk_plan")
    assert (countersign["actor"], countersign["policy"]["rule"]) == ("line_manager", "S6")
    review = the_step(body["next_steps"], "monthly_manager_review")
    assert (review["actor"], review["policy"]["rule"]) == ("line_manager", "S11")
    holder = both(somerset, "case_holder-1", "case_holder", "duty_manager")
    for step in (discuss, countersign, review):
        r = await somerset.client.post(f"/v1/next-steps/{step['id']}/complete",
                                       json={"note": "done"}, headers=holder)
        assert "hold this case" in assert_problem(r, 403)["detail"]
        assert_problem(await _waive(somerset, step["id"], holder), 403)
    r = await somerset.client.post(f"/v1/cases/{case['id']}/oversight",
                                   json={"note": "Reviewed.", "satisfies_step_id": review["id"]},
                                   headers=holder)
    assert_problem(r, 403)
    r = await somerset.client.post(f"/v1/cases/{case['id']}/oversight",
                                   json={"note": "Reviewed."}, headers=holder)
    assert "hold this case" in assert_problem(r, 403)["detail"]
    still = {s["id"]: s["status"] for s in await steps_of(somerset, case["id"])}
    assert all(still[s["id"]] == "open" for s in (discuss, countersign, review))
    for step in (discuss, countersign, review):
        assert (await complete(somerset, step["id"], "line_manager")).status_code == 200


async def test_S5_author_of_the_judgement_does_not_do_the_stood_in_discussion(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """S5 with Somerset 3.1's stand-in ("If the line manager is unavailable, the duty manager
    will undertake these functions"). The case's line manager, line_manager-1, records ROSH high
    on Friday 28 August 2026 at 10:00 BST, then is recorded on leave from that day to Friday 4
    September: the discussion goes to the duty managers, unassigned. line_manager-1, also on the
    duty rota, may not do it as a duty manager (403: they recorded the rating); another duty
    manager does (200)."""
    pin(monkeypatch, 2026, 8, 28, 10, 30)
    case = (await somerset.open_case(opened_at="2026-08-03T09:00:00+01:00"))["data"]
    await judge(somerset, case["id"], "rosh", "high", "2026-08-28T10:00:00+01:00",
                role="line_manager")
    await ok(await somerset.client.post(
        "/v1/staff/line_manager-1/absences",
        json={"starts_on": "2026-08-28", "ends_on": "2026-09-04"},
        headers=somerset.auth("duty_manager")), 201)
    discuss = the_step(await steps_of(somerset, case["id"]), "discuss_with_manager")
    assert (discuss["actor"], discuss["assignee_id"], discuss["due_at"]) == (
        "duty_manager", None, "2026-08-29T09:00:00Z")
    author = both(somerset, "line_manager-1", "line_manager", "duty_manager")
    r = await somerset.client.post(f"/v1/next-steps/{discuss['id']}/complete",
                                   json={"note": "done"}, headers=author)
    assert "You recorded" in assert_problem(r, 403)["detail"]
    assert (await complete(somerset, discuss["id"], "duty_manager")).status_code == 200


async def test_case_holder_on_the_duty_rota_does_not_reassign_restrict_or_close_their_case(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """S6 (Somerset 3.1: the plan "will be countersigned by line manager"): a case holder who
    also holds the duty manager's role may not name their own countersigner, hand the case on,
    hide it from the chairs' register by restricting it, or close it (403 each, the case
    unchanged); the case's line manager may (attack pass 12, A12-1)."""
    from tests.api.integrity_support import etag

    pin(monkeypatch, 2026, 8, 28, 16, 30)
    case = (await somerset.open_case(opened_at="2026-08-03T09:00:00+01:00"))["data"]
    await judge(somerset, case["id"], "rosh", "very_high", "2026-08-28T16:00:00+01:00")
    holder = both(somerset, "case_holder-1", "case_holder", "duty_manager")
    url = f"/v1/cases/{case['id']}"
    for body in ({"line_manager_id": "line_manager-7"}, {"case_holder_id": "case_holder-7"},
                 {"access": {"allowed_staff": ["case_holder-1", "line_manager-1"]}},
                 {"closed_at": "2026-08-28T16:20:00+01:00", "closure_reason": "Moved away."}):
        r = await somerset.client.patch(url, json=body, headers={
            **holder, "If-Match": await etag(somerset, case["id"])})
        assert "hold this case" in assert_problem(r, 403)["detail"], body
    r = await somerset.client.get(url, headers=somerset.auth("chair", "chair-1"))
    assert r.status_code == 200, r.text
    shown = r.json()["data"]
    assert (shown["line_manager_id"], shown["case_holder_id"], shown["closed_at"]) == (
        "line_manager-1", "case_holder-1", None)
    r = await somerset.client.patch(url, json={"line_manager_id": "line_manager-7"}, headers={
        **somerset.auth("line_manager"), "If-Match": await etag(somerset, case["id"])})
    assert r.status_code == 200, r.text


async def test_S7_case_holder_does_not_chair_the_MARP_decision_on_their_own_case(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """Somerset 7.1.5: "Where a line-manager attends the MARP on a case holder's behalf, they
    will not chair the panel ... another panel member will act as chair for that case"; 4.3 and
    7.2.1: a registered rating is lowered at MARP. case_holder-1, who also chairs panels, is
    named chair of the MARP of Thursday 3 September 2026 that hears their own high case: their
    decision lowering it to low is 403 ``case-holder-cannot-chair`` (with or without the case
    holder's role in the token), the case stays high and registered; the decision is owed to
    the chairs, unnamed, and another chair records it."""
    pin(monkeypatch, 2026, 9, 3, 12, 0)
    case = (await somerset.open_case(opened_at="2026-08-03T09:00:00+01:00"))["data"]
    await judge(somerset, case["id"], "rosh", "high", "2026-08-28T16:00:00+01:00")
    r = await somerset.client.post("/v1/panels", headers=somerset.auth("panel_admin"), json={
        "kind": "marp", "scheduled_for": "2026-09-03T10:00:00+01:00",
        "chair_id": "case_holder-1"})
    assert r.status_code == 201, r.text
    panel = r.json()["data"]["id"]
    r = await somerset.client.post(f"/v1/panels/{panel}/items", headers=somerset.auth(
        "panel_admin"), json={"case_id": case["id"], "presenter_id": "line_manager-1"})
    assert r.status_code == 201, r.text
    item = r.json()["data"]["id"]
    # The decision is owed to the chairs, not to the named chair who holds the case (A12-15).
    owed = next(s for s in r.json()["next_steps"] if s["code"] == "record_panel_decision")
    assert (owed["actor"], owed["assignee_id"]) == ("chair", None)
    decision = {"rosh_level": "low", "minutes": "Lowered.", "actions": []}
    url = f"/v1/panels/{panel}/items/{item}/decision"
    for headers in (both(somerset, "case_holder-1", "case_holder", "chair"),
                    both(somerset, "case_holder-1", "chair")):
        r = await somerset.client.post(url, json=decision, headers=headers)
        assert assert_problem(r, 403)["type"].endswith("/case-holder-cannot-chair")
    r = await somerset.client.get(f"/v1/cases/{case['id']}",
                                  headers=somerset.auth("chair", "chair-2"))
    assert (r.json()["data"]["ratings"]["rosh"]["level"], r.json()["data"]["on_register"]) == (
        "high", True)
    r = await somerset.client.post(url, json={**decision, "rosh_level": "high",
                                              "review_date": "2026-10-01"},
                                   headers=somerset.auth("chair", "chair-2"))
    assert r.status_code == 200, r.text


async def test_W18_case_holder_on_the_duty_rota_does_not_quality_assure_their_cases_form(
        wokingham: Tenant) -> None:
    """W18 (Wokingham "Referrals into MAPPA": "MAPPA forms will be completed by the case worker
    and must be quality assured by a manager before they are sent over to MAPPA"). A MAPPA H
    form on case_holder-1's case, drafted and submitted by the line manager on Tuesday 8
    September 2026: case_holder-1, also on the duty rota, may not quality-assure it (403; attack
    pass 12, A12-12); a duty manager does (200)."""
    case = (await wokingham.open_case(opened_at="2026-08-03T09:00:00+01:00"))["data"]
    lm = wokingham.auth("line_manager")
    r = await wokingham.client.post(f"/v1/cases/{case['id']}/referrals", headers=lm, json={
        "kind": "mappa_h", "details": {}, "occurred_at": "2026-09-08T10:00:00+01:00"})
    assert r.status_code == 201, r.text
    form = r.json()["data"]["id"]
    r = await wokingham.client.post(f"/v1/referrals/{form}/submit", headers=lm,
                                    json={"occurred_at": "2026-09-08T11:00:00+01:00"})
    assert r.status_code == 200, r.text
    url = f"/v1/referrals/{form}/quality-assure"
    body = {"occurred_at": "2026-09-08T12:00:00+01:00"}
    holder = both(wokingham, "case_holder-1", "case_holder", "duty_manager")
    r = await wokingham.client.post(url, json=body, headers=holder)
    assert "hold this case" in assert_problem(r, 403)["detail"]
    r = await wokingham.client.post(url, json=body, headers=wokingham.auth("duty_manager"))
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("pack", ["somerset-yjt-2023", "wokingham-pyjs-2024"])
@pytest.mark.parametrize("roles", [("case_holder", "duty_manager"),
                                   ("case_holder", "line_manager", "duty_manager")])
async def test_S3_W3_case_holder_on_the_duty_rota_does_not_countersign_their_cases_assessment(
        client: httpx.AsyncClient, settings: Settings, pack: str, roles: tuple[str, ...],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Somerset 5: "Obtain line-management confirmation ... through countersignature of all
    AssetPlus ... stages"; Wokingham: an assessment "is not complete until countersigned" by
    the line manager. Attack pass 13, A13-6: an AssetPlus written and submitted by the case's
    previous holder was countersigned (and another returned) by the new holder, whose token
    also carried the duty manager's role. The case's holder does neither (403, the assessment
    still submitted); a duty manager who does not hold the case countersigns it (200)."""
    t = await make_tenant(client, settings, pack)
    pin(monkeypatch, 2026, 8, 28, 16, 30)
    from tests.api.integrity_support import etag

    case = (await t.open_case(opened_at="2026-08-03T09:00:00+01:00"))["data"]
    made = []
    for stage in ("start", "review"):
        r = await t.client.post(f"/v1/cases/{case['id']}/assessments",
                                json={"type": "asset_plus", "stage": stage},
                                headers=t.auth("case_holder"))
        assert r.status_code == 201, r.text
        made.append(r.json()["data"]["id"])
        r = await t.client.post(f"/v1/assessments/{made[-1]}/submit", json={},
                                headers=t.auth("case_holder"))
        assert r.status_code == 200, r.text
    r = await t.client.patch(f"/v1/cases/{case['id']}", json={"case_holder_id": "cw-b"},
                             headers={**t.auth("line_manager"),
                                      "If-Match": await etag(t, case["id"])})
    assert r.status_code == 200, r.text
    holder = both(t, "cw-b", *roles)
    for aid, act in ((made[0], "countersign"), (made[1], "return")):
        r = await t.client.post(f"/v1/assessments/{aid}/{act}", json={"feedback": "ok"},
                                headers=holder)
        assert "hold this case" in assert_problem(r, 403)["detail"], act
        r = await t.client.get(f"/v1/assessments/{aid}", headers=t.auth("line_manager"))
        assert r.status_code == 200, r.text
        assert r.json()["data"]["status"] == "submitted"
    r = await t.client.post(f"/v1/assessments/{made[0]}/countersign", json={"feedback": "ok"},
                            headers=t.auth("duty_manager", "duty_manager-2"))
    assert r.status_code == 200, r.text
    assert r.json()["data"]["status"] == "countersigned"


async def test_S29_a_line_manager_presenting_the_case_is_not_owed_its_decision_as_chair(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """Somerset 7.1.5: "Where a line-manager attends the MARP on a case holder's behalf, they
    will not chair the panel. If unable to arrange a swap with a colleague, they will agree with
    panel at the start of the session another panel member will act as chair for that case."
    Attack pass 14, A14-15: line_manager-1, named chair of the MARP of Thursday 3 September
    2026, presents the case for its holder; the decision (S29, 7.1.2) was owed to them by name,
    the one person refused recording it (403 ``presenter-cannot-chair``). It is owed to the
    chairs, unnamed, and another chair records it (the step done). A chair who does not
    present the case is still named."""
    pin(monkeypatch, 2026, 9, 3, 12, 0)
    case = (await somerset.open_case(opened_at="2026-08-03T09:00:00+01:00"))["data"]
    other = (await somerset.open_case(opened_at="2026-08-03T09:00:00+01:00"))["data"]
    for c in (case, other):
        await judge(somerset, c["id"], "rosh", "high", "2026-08-28T16:00:00+01:00")
    r = await somerset.client.post("/v1/panels", headers=somerset.auth("panel_admin"), json={
        "kind": "marp", "scheduled_for": "2026-09-03T10:00:00+01:00",
        "chair_id": "line_manager-1"})
    assert r.status_code == 201, r.text
    panel = r.json()["data"]["id"]
    owed = {}
    for c, presenter in ((case, "line_manager-1"), (other, "case_holder-1")):
        r = await somerset.client.post(f"/v1/panels/{panel}/items", headers=somerset.auth(
            "panel_admin"), json={"case_id": c["id"], "presenter_id": presenter})
        assert r.status_code == 201, r.text
        step = the_step(r.json()["next_steps"], "record_panel_decision")
        owed[presenter] = (r.json()["data"]["id"], step)
    item, step = owed["line_manager-1"]
    assert (step["actor"], step["assignee_id"], step["policy"]["rule"]) == ("chair", None, "S29")
    assert owed["case_holder-1"][1]["assignee_id"] == "line_manager-1"
    url = f"/v1/panels/{panel}/items/{item}/decision"
    decision = {"rosh_level": "high", "minutes": "Remains high.", "actions": [],
                "review_date": "2026-10-01"}
    r = await somerset.client.post(url, json=decision,
                                   headers=somerset.auth("chair", "line_manager-1"))
    assert assert_problem(r, 403)["type"].endswith("/presenter-cannot-chair")
    r = await somerset.client.post(url, json=decision, headers=somerset.auth("chair", "chair-2"))
    assert r.status_code == 200, r.text
    r = await somerset.client.get("/v1/next-steps", params={"case_id": case["id"],
                                                            "status": "done"},
                                  headers=somerset.auth("chair", "chair-2"))
    [done] = [s for s in r.json()["data"] if s["code"] == "record_panel_decision"]
    assert (done["id"], done["completed_by"]) == (step["id"], "chair-2")


@pytest.mark.parametrize(("pack", "rule", "ref"), [("somerset-yjt-2023", "S23", "12"),
                                                   ("wokingham-pyjs-2024", "W24",
                                                    "Management oversight")])
async def test_S23_W24_case_holder_who_chairs_does_not_notify_their_own_cases_serious_incident(
        client: httpx.AsyncClient, settings: Settings, pack: str, rule: str, ref: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Somerset 12: "Case holders / team leaders will immediately inform operational/ YJT
    Manager of the charge/death. The operational or YJT manager will be responsible for
    completing and submitting the notification to the YJB"; Wokingham (Management oversight):
    "Management reporting of serious incidents in line with YJB guidance". Attack pass 13,
    A13-11: a case holder whose token also carries the chair's role completed the serious
    incident notification (a chair's step) on their own case. Two people by design: the holder
    informs, a senior manager notifies. 403 completing it; another chair does it."""
    t = await make_tenant(client, settings, pack)
    pin(monkeypatch, 2026, 8, 28, 16, 30)
    case = (await t.open_case(opened_at="2026-08-03T09:00:00+01:00"))["data"]
    holder = both(t, "case_holder-1", "case_holder", "chair")
    r = await t.client.post(f"/v1/cases/{case['id']}/events", headers=holder, json={
        "type": "charged", "occurred_at": "2026-08-28T10:00:00+01:00",
        "details": {"offence": "robbery"}})
    assert r.status_code == 201, r.text
    step = the_step(r.json()["next_steps"], "notify_serious_incident")
    assert (step["actor"], step["policy"]["rule"], step["policy"]["ref"]) == ("chair", rule, ref)
    r = await t.client.post(f"/v1/next-steps/{step['id']}/complete", json={}, headers=holder)
    assert "hold this case" in assert_problem(r, 403)["detail"]
    # Waiving is a manager's (the token has no such role): refused at the gate.
    r = await _waive(t, step["id"], holder)
    assert assert_problem(r, 403)["detail"] == "This needs one of the roles: line_manager, " \
        "duty_manager."
    r = await complete(t, step["id"], "chair", "chair-2")
    assert r.status_code == 200, r.text
    assert r.json()["data"]["status"] == "done"


async def test_S11_S41_a_former_holder_does_not_review_the_period_they_held_the_case(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """S11 (4.5: "It is the responsibility of line managers to review all cases where there is
    a High or Very High ROSH and/or Safety and Well-Being rating with case holders at least
    monthly") and S41 (9: the monthly discussion of the High/Very High list between the
    strategic and operations managers): attack pass 21, A21a-8. case_holder-1 records ROSH high
    on Friday 28 August 2026 at 16:00 BST; the line manager hands the case to case_holder-2 at
    16:30. case_holder-1, on the duty rota (or a chair), may not complete, waive or record
    oversight for the review of the month they held the case (403), which stays open; a duty
    manager (a chair) who never held it does (200)."""
    pin(monkeypatch, 2026, 8, 28, 16, 30)
    case = (await somerset.open_case(opened_at="2026-08-03T09:00:00+01:00"))["data"]
    body = await judge(somerset, case["id"], "rosh", "high", "2026-08-28T16:00:00+01:00")
    review = the_step(body["next_steps"], "monthly_manager_review")
    register = the_step(body["next_steps"], "discuss_register_monthly")
    r = await patch_case(somerset, case["id"], {"case_holder_id": "case_holder-2"})
    assert r.status_code == 200, r.text
    former = both(somerset, "case_holder-1", "duty_manager", "chair")
    for step in (review, register):
        r = await somerset.client.post(f"/v1/next-steps/{step['id']}/complete",
                                       json={"note": "self"}, headers=former)
        assert "held this case" in assert_problem(r, 403)["detail"]
        assert_problem(await _waive(somerset, step["id"], former), 403)
    r = await somerset.client.post(f"/v1/cases/{case['id']}/oversight",
                                   json={"note": "Reviewed.", "satisfies_step_id": review["id"]},
                                   headers=former)
    assert "held this case" in assert_problem(r, 403)["detail"]
    still = {s["id"]: s["status"] for s in await steps_of(somerset, case["id"])}
    assert (still[review["id"]], still[register["id"]]) == ("open", "open")
    assert (await complete(somerset, review["id"], "duty_manager")).status_code == 200
    assert (await complete(somerset, register["id"], "chair")).status_code == 200


async def test_S11_a_holder_handed_on_before_the_period_may_review_it(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """S11 (4.5, quoted above), the other side of A21a-8: case_holder-1 held the case until
    Thursday 20 August 2026, when the line manager handed it to case_holder-2 (recorded later,
    dated 20 August), who records ROSH high on Friday 28 August. The month under review began
    after case_holder-1 left the case: on the duty rota, they may do the review (200)."""
    pin(monkeypatch, 2026, 8, 28, 16, 30)
    earlier = (await somerset.open_case(opened_at="2026-08-03T09:00:00+01:00"))["data"]
    r = await patch_case(somerset, earlier["id"], {
        "case_holder_id": "case_holder-2", "occurred_at": "2026-08-20T10:00:00+01:00"})
    assert r.status_code == 200, r.text
    body = await judge(somerset, earlier["id"], "rosh", "high", "2026-08-28T16:00:00+01:00",
                       sub="case_holder-2")
    later = the_step(body["next_steps"], "monthly_manager_review")
    former = both(somerset, "case_holder-1", "duty_manager", "chair")
    r = await somerset.client.post(f"/v1/next-steps/{later['id']}/complete",
                                   json={"note": "reviewed"}, headers=former)
    assert r.status_code == 200, r.text
