"""Steps a recorded act answers are closed only by that act (attack pass 9, A9-13).

A step the pack's ``[closures]`` (or a referral kind's ``closes``) gives to an act (countersign an
assessment, hold a panel, send a MAPPA form) is a duty about a record: ``POST
/v1/next-steps/{id}/complete`` answers 409 ``step-done-by-act`` naming the act and its route, the
step stays open and the record unchanged; the act then closes it and triggers what it triggers
(S3's 12-weekly review). On a case restricted by an allow-list, the holder of the step's role
the list shuts out (a bare duty) cannot close it blind either.

Dates: Friday 28 August 2026 (before the late-summer bank holiday, Monday 31 August); Tuesday
1 September; the clocks go back on Sunday 25 October 2026.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.api.fidelity_support import pin
from tests.api.integrity_support import assert_problem, complete, the_step
from tests.conftest import Tenant

SOMERSET = {"pack": "somerset-yjt-2023", "version": "1"}
WOKINGHAM = {"pack": "wokingham-pyjs-2024", "version": "1.0"}
OUTSIDE_DM = ("duty_manager", "duty_manager-5")
OUTSIDE_CHAIR = ("chair", "chair-5")
COUNTERSIGN = {"act": "assessment_countersign", "does": "countersign the assessment",
               "route": "POST /v1/assessments/{id}/countersign"}


async def _post(t: Tenant, url: str, body: dict[str, Any], role: str = "case_holder",
                sub: str | None = None, status: int = 201) -> dict[str, Any]:
    r = await t.client.post(url, json=body, headers=t.auth(role, sub))
    assert r.status_code == status, r.text
    return r.json()  # type: ignore[no-any-return]


async def _steps(t: Tenant, case_id: str, status: str = "open") -> list[dict[str, Any]]:
    r = await t.client.get("/v1/next-steps", params={"case_id": case_id, "status": status,
                                                     "limit": 200},
                           headers=t.auth("line_manager"))
    assert r.status_code == 200, r.text
    return r.json()["data"]  # type: ignore[no-any-return]


async def _submitted_asset_plus(t: Tenant, case_id: str) -> tuple[str, dict[str, Any]]:
    """A start AssetPlus drafted and submitted on Friday 28 August 2026; its id and the
    submission's answer."""
    a = (await _post(t, f"/v1/cases/{case_id}/assessments",
                     {"type": "asset_plus", "stage": "start",
                      "occurred_at": "2026-08-28T10:00:00+01:00"}))["data"]
    body = await _post(t, f"/v1/assessments/{a['id']}/submit",
                       {"occurred_at": "2026-08-28T15:00:00+01:00"}, status=200)
    return str(a["id"]), body


async def test_S4_countersign_assessment_is_done_only_by_countersigning(
        somerset: Tenant) -> None:
    """S4, S3 (Somerset 5: "Obtain line-management confirmation ... through countersignature of
    all AssetPlus Explanations and Conclusions case stages"; 2.1 "AssetPlus assessment will be
    reviewed maximum 12 weekly"). The AssetPlus submitted on Friday 28 August 2026 asks the line
    manager to countersign it; ticking the step off is 409 naming the countersignature route,
    the step stays open and the assessment ``submitted``. Countersigned on Tuesday 1 September
    10:00 BST (after the bank holiday), the step is done by that act and S3's review is due 12
    weeks later on London wall time, Tuesday 24 November 10:00 GMT (after the clock change)."""
    case = (await somerset.open_case(opened_at="2026-08-03T09:00:00+01:00"))["data"]
    assessment_id, body = await _submitted_asset_plus(somerset, case["id"])
    step = the_step(body["next_steps"], "countersign_assessment")
    assert (step["actor"], step["assignee_id"], step["due_at"]) == (
        "line_manager", "line_manager-1", None)
    assert step["policy"] == {**SOMERSET, "ref": "5, 3.1", "rule": "S4"}
    refused = await complete(somerset, step["id"], "line_manager", note="countersigned")
    problem = assert_problem(refused, 409)
    assert problem["type"].endswith("/step-done-by-act")
    assert problem["acts"] == [COUNTERSIGN]
    assert "POST /v1/assessments/{id}/countersign" in problem["detail"]
    assert "countersigned" not in problem["detail"]  # no request value echoed
    still = the_step(await _steps(somerset, case["id"]), "countersign_assessment")
    assert (still["id"], still["status"]) == (step["id"], "open")
    r = await somerset.client.get(f"/v1/assessments/{assessment_id}",
                                  headers=somerset.auth("line_manager"))
    assert r.json()["data"]["status"] == "submitted"
    signed = await _post(somerset, f"/v1/assessments/{assessment_id}/countersign",
                         {"feedback": "Plan addresses the risks.",
                          "occurred_at": "2026-09-01T10:00:00+01:00"},
                         role="line_manager", status=200)
    review = the_step(signed["next_steps"], "review_assessment")
    assert (review["actor"], review["assignee_id"], review["due_at"]) == (
        "case_holder", "case_holder-1", "2026-11-24T10:00:00Z")
    assert review["policy"] == {**SOMERSET, "ref": "2.1", "rule": "S3"}
    done = the_step(await _steps(somerset, case["id"], "done"), "countersign_assessment")
    assert done["id"] == step["id"]
    assert done["satisfied_by"] == {"type": "assessment", "id": assessment_id}


async def test_W2_countersign_assessment_is_done_only_by_countersigning(
        wokingham: Tenant) -> None:
    """W2 (Wokingham "Assessment Reviews": "An assessment (Asset+ or mini-asset) is not
    considered complete until it has been counter signed by a line manager"): the line
    manager's countersignature step cannot be ticked off, nor can the case holder's
    ``complete_assessment`` (W1), which only the countersignature completes."""
    case = (await wokingham.open_case(opened_at="2026-08-03T09:00:00+01:00"))["data"]
    _, body = await _submitted_asset_plus(wokingham, case["id"])
    step = the_step(body["next_steps"], "countersign_assessment")
    assert (step["actor"], step["assignee_id"], step["due_at"]) == (
        "line_manager", "line_manager-1", None)
    assert step["policy"]["rule"] == "W2"
    problem = assert_problem(await complete(wokingham, step["id"], "line_manager"), 409)
    assert problem["acts"] == [COUNTERSIGN]
    first = the_step(body["next_steps"], "complete_assessment")
    assert (first["actor"], first["policy"]["rule"]) == ("case_holder", "W1")
    problem = assert_problem(await complete(wokingham, first["id"], "case_holder"), 409)
    assert [a["act"] for a in problem["acts"]] == ["assessment_countersign"]


async def test_W16_mappa_h_notification_is_done_only_by_sending_the_form(
        wokingham: Tenant) -> None:
    """W16 (Wokingham "Referrals into MAPPA": "notify the Central MAPPA Unit ... of all MAPPA
    eligible young people using the MAPPA H form"; category 1 "immediately"): the notification
    is the MAPPA H referral sent; ticking it off is 409 naming the referral's routes."""
    case = (await wokingham.open_case(opened_at="2026-08-03T09:00:00+01:00",
                                      mappa_category=1))["data"]
    step = the_step(await _steps(wokingham, case["id"]), "mappa_h_notification")
    assert (step["actor"], step["due_at"], step["policy"]["rule"]) == (
        "case_holder", "2026-08-03T08:00:00Z", "W16")
    problem = assert_problem(await complete(wokingham, step["id"], "case_holder"), 409)
    assert problem["acts"] == [{
        "act": "referral_send:mappa_h", "does": "make the mappa_h referral (send it)",
        "route": "POST /v1/cases/{case_id}/referrals, then POST /v1/referrals/{id}/send"}]


async def test_S9_child_protection_referral_may_still_be_confirmed_by_hand(
        somerset: Tenant) -> None:
    """S9 (Somerset 3.2.4: very high SWB "will include (or has already included) a referral to
    statutory child protection services"): the pack lists it ``completable``: the case holder
    may confirm an existing referral is being actioned without recording a new one."""
    case = (await somerset.open_case(opened_at="2026-08-03T09:00:00+01:00"))["data"]
    body = await _post(somerset, f"/v1/cases/{case['id']}/judgements", {
        "domain": "swb", "level": "very_high", "rationale": "disclosure",
        "occurred_at": "2026-08-28T15:00:00+01:00"})
    step = the_step(body["next_steps"], "child_protection_referral")
    assert (step["actor"], step["due_at"], step["urgent"]) == (
        "case_holder", "2026-08-28T14:00:00Z", True)
    assert step["policy"] == {**SOMERSET, "ref": "3.2.4", "rule": "S9"}
    r = await complete(somerset, step["id"], "case_holder", note="CP plan in place")
    assert r.status_code == 200, r.text


async def test_S4_stood_in_countersignature_cannot_be_closed_blind_on_a_restricted_case(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """S4 (3.1 "If the line manager is unavailable, the duty manager will undertake these
    functions"), from the attacker's side: a case restricted to its holder and line manager,
    the line manager on leave when the AssetPlus is submitted (Friday 28 August 2026): the
    countersignature goes to the duty managers. One the allow-list shuts out gets it as a bare
    duty but 404 on the assessment, and completing the duty is 409 saying the act needs the
    case; the step stays open, its note saying who can do it. A duty manager on the list
    countersigns it."""
    pin(monkeypatch, 2026, 8, 28, 14, 30)
    case = (await somerset.open_case(opened_at="2026-08-03T09:00:00+01:00"))["data"]
    base = f"/v1/cases/{case['id']}"
    manager = somerset.auth("line_manager")
    etag = (await somerset.client.get(base, headers=manager)).headers["ETag"]
    r = await somerset.client.patch(base, headers={**manager, "If-Match": etag}, json={
        "access": {"allowed_staff": ["case_holder-1", "line_manager-1", "duty_manager-1"]}})
    assert r.status_code == 200, r.text
    await _post(somerset, "/v1/staff/line_manager-1/absences",
                {"starts_on": "2026-08-27", "ends_on": "2026-09-04", "reason": "annual leave"},
                role="duty_manager", sub="duty_manager-1")
    assessment_id, body = await _submitted_asset_plus(somerset, case["id"])
    step = the_step(body["next_steps"], "countersign_assessment")
    assert (step["actor"], step["assignee_id"], step["due_at"]) == ("duty_manager", None, None)
    assert step["policy"] == {**SOMERSET, "ref": "5, 3.1", "rule": "S4"}
    assert "Restricted case: this step is done only by recording its act" in step["note"]
    outside = somerset.auth(*OUTSIDE_DM)
    r = await somerset.client.get(f"/v1/next-steps/{step['id']}", headers=outside)
    assert r.status_code == 200, r.text  # the bare duty reaches them
    assert_problem(await somerset.client.get(f"/v1/assessments/{assessment_id}",
                                             headers=outside), 404)
    refused = await complete(somerset, step["id"], *OUTSIDE_DM, note="done")
    problem = assert_problem(refused, 409)
    assert problem["type"].endswith("/step-done-by-act")
    assert "access list does not include you" in problem["detail"]
    assert "next_steps" not in problem
    r = await somerset.client.get(f"/v1/next-steps/{step['id']}", headers=outside)
    assert r.json()["data"]["status"] == "open"
    signed = await _post(somerset, f"/v1/assessments/{assessment_id}/countersign",
                         {"feedback": "Agreed.", "occurred_at": "2026-08-28T15:20:00+01:00"},
                         role="duty_manager", sub="duty_manager-1", status=200)
    assert "countersign_assessment" not in {s["code"] for s in signed["next_steps"]}
    done = the_step(await _steps(somerset, case["id"], "done"), "countersign_assessment")
    assert (done["id"], done["completed_by"]) == (step["id"], "duty_manager-1")


async def test_W8_hold_high_risk_panel_cannot_be_closed_blind_by_a_shut_out_chair(
        wokingham: Tenant) -> None:
    """W8 (Wokingham, High Risk Panel, Management oversight: the panel held within a week of the
    request), from the attacker's side: on a case restricted to its holder and line manager, the
    submitted panel referral (Friday 28 August 2026, 15:30 BST) asks the chairs to hold the
    panel, due a week later (Friday 4 September 14:30Z). A chair the list shuts out sees the
    bare duty, but "held" is 409: only the panel's decision on the case holds it, which needs
    someone on the case's access list (the step's note says so)."""
    case = (await wokingham.open_case(opened_at="2026-08-03T09:00:00+01:00"))["data"]
    base = f"/v1/cases/{case['id']}"
    manager = wokingham.auth("line_manager")
    etag = (await wokingham.client.get(base, headers=manager)).headers["ETag"]
    r = await wokingham.client.patch(base, headers={**manager, "If-Match": etag}, json={
        "access": {"allowed_staff": ["case_holder-1", "line_manager-1"]}})
    assert r.status_code == 200, r.text
    referral = (await _post(wokingham, f"{base}/referrals", {
        "kind": "panel", "occurred_at": "2026-08-28T15:00:00+01:00"}))["data"]
    body = await _post(wokingham, f"/v1/referrals/{referral['id']}/submit",
                       {"occurred_at": "2026-08-28T15:30:00+01:00"}, status=200)
    hold = the_step(body["next_steps"], "hold_high_risk_panel")
    assert (hold["actor"], hold["assignee_id"], hold["due_at"]) == (
        "chair", None, "2026-09-04T14:30:00Z")
    assert hold["policy"] == {**WOKINGHAM, "ref": "High Risk Panel, Management oversight",
                              "rule": "W8"}
    assert "someone on the case's access list does it" in hold["note"]
    problem = assert_problem(await complete(wokingham, hold["id"], *OUTSIDE_CHAIR,
                                            note="held"), 409)
    assert [a["act"] for a in problem["acts"]] == ["panel_decision_then"]
    assert problem["acts"][0]["route"] == "POST /v1/panels/{panel_id}/items/{item_id}/decision"
    assert "access list does not include you" in problem["detail"]
    r = await wokingham.client.get(f"/v1/next-steps/{hold['id']}",
                                   headers=wokingham.auth(*OUTSIDE_CHAIR))
    assert r.json()["data"]["status"] == "open"


async def test_S23_chairs_notification_stays_completable(somerset: Tenant) -> None:
    """S23 (Somerset 12: "The operational or YJT manager will be responsible for completing and
    submitting the notification to the YJB"): the pack lists ``notify_serious_incident``
    ``completable``: a chair (who may not record a referral here) completes it by hand."""
    case = (await somerset.open_case(opened_at="2026-08-03T09:00:00+01:00"))["data"]
    body = await _post(somerset, f"/v1/cases/{case['id']}/events", {
        "type": "charged", "occurred_at": "2026-08-28T12:00:00+01:00"})
    step = the_step(body["next_steps"], "notify_serious_incident")
    assert (step["actor"], step["due_at"]) == ("chair", None)
    assert step["policy"] == {**SOMERSET, "ref": "12", "rule": "S23"}
    r = await complete(somerset, step["id"], "chair")
    assert r.status_code == 200, r.text


async def test_policy_pack_publishes_the_codes_completable_by_hand(
        client: httpx.AsyncClient, somerset: Tenant) -> None:
    """``GET /v1/policy-packs/{id}`` shows ``completable`` beside ``[closures]``."""
    r = await client.get("/v1/policy-packs/somerset-yjt-2023",
                         headers=somerset.auth("case_holder"))
    assert r.status_code == 200, r.text
    # 8.3 "with a view to making an immediate referral" (S46; fid14a): the manager may decide
    # against the MAPPA A referral and complete the step saying so. 2.1, 15.1: a case already
    # on core AssetPlus when it turns high has made the move (S15; ATK28B-10).
    assert r.json()["data"]["completable"] == [
        "child_protection_referral", "seek_child_and_carer_views", "notify_serious_incident",
        "make_immediate_mappa_referral", "move_to_core_assessment"]


async def test_W18_quality_assure_mappa_form_is_done_only_by_quality_assuring_it(
        wokingham: Tenant) -> None:
    """W18 (Wokingham "Referrals into MAPPA": "MAPPA forms will be completed by the case worker
    and must be quality assured by a manager before they are sent over to MAPPA"). The MAPPA H
    form drafted on Tuesday 8 September 2026 asks the line manager to quality-assure it; ticking
    the step off, by the line manager or a duty manager, is 409 naming the referral's
    quality-assure route (it was a 500: attack pass 11, A11-1), and the step stays open until
    the form is quality-assured."""
    case = (await wokingham.open_case(opened_at="2026-08-03T09:00:00+01:00"))["data"]
    form = await _post(wokingham, f"/v1/cases/{case['id']}/referrals",
                       {"kind": "mappa_h", "details": {},
                        "occurred_at": "2026-09-08T10:00:00+01:00"})
    step = the_step(form["next_steps"], "quality_assure_mappa_form")
    assert (step["actor"], step["assignee_id"], step["due_at"]) == (
        "line_manager", "line_manager-1", None)
    assert step["policy"] == {**WOKINGHAM, "ref": "Referrals into MAPPA", "rule": "W18"}
    for role in ("line_manager", "duty_manager"):
        problem = assert_problem(await complete(wokingham, step["id"], role, note="QA done"), 409)
        assert problem["type"].endswith("/step-done-by-act")
        assert problem["acts"] == [{"act": "referral_quality_assure",
                                    "does": "quality-assure the referral",
                                    "route": "POST /v1/referrals/{id}/quality-assure"}]
    still = the_step(await _steps(wokingham, case["id"]), "quality_assure_mappa_form")
    assert (still["id"], still["status"]) == (step["id"], "open")
    form_id = form["data"]["id"]
    await _post(wokingham, f"/v1/referrals/{form_id}/submit",
                {"occurred_at": "2026-09-08T11:00:00+01:00"}, status=200)
    await _post(wokingham, f"/v1/referrals/{form_id}/quality-assure",
                {"occurred_at": "2026-09-09T10:00:00+01:00"}, role="line_manager", status=200)
    done = the_step(await _steps(wokingham, case["id"], "done"), "quality_assure_mappa_form")
    assert done["id"] == step["id"]


def test_every_act_that_alone_does_a_step_is_named_with_its_route() -> None:
    """Whatever a pack's ``[closures]`` (or a referral kind's ``closes``) gives to an act, the
    409 names that act's route: every closing act in the vocabulary that does the steps it
    closes has one, and every act-only step of every shipped pack version resolves (a named
    act that looked like a referral kind's was a 500: A11-1)."""
    from types import SimpleNamespace

    from app.domain.next_steps import _ACTS, done_by_act
    from app.workflows.packs import load_versions
    from app.workflows.vocabulary import CLOSING_ACTS, NOT_DOING_ACTS

    assert set(CLOSING_ACTS) - set(NOT_DOING_ACTS) <= set(_ACTS)
    seen = 0
    for versions in load_versions().values():
        for pack in versions:
            for code in pack.step_codes():
                for act in done_by_act(pack, SimpleNamespace(code=code)):  # type: ignore[arg-type]
                    assert act["route"].startswith("POST /v1/"), (pack.id, code, act)
                    seen += 1
    assert seen > 20


async def test_M2_acknowledge_rating_rationale_is_published_as_completable_by_hand(
        client: httpx.AsyncClient, wokingham: Tenant) -> None:
    """M2 (Wokingham, "Matrix of impact / likelihood judgements": "the case worker must
    appropriately explain in the evidence box why they are deviating from the harm matrix ...
    By signing off the assessment, the line manager will effectively endorse the judgement").
    A high ROSH recorded on Friday 28 August 2026 against the matrix (minor, unlikely) asks the
    line manager to acknowledge its rationale. ``GET /v1/policy-packs/{id}`` says which steps
    only an act does (``done_only_by_act``), and it agrees with the route: the step is closed by
    a countersignature that endorses the rationale, which the line manager may also acknowledge
    directly, so it is not listed and completes by hand, while ``countersign_assessment`` is
    listed with its act (attack pass 11, A11-19: the published pack and the route disagreed)."""
    r = await client.get("/v1/policy-packs/wokingham-pyjs-2024",
                         headers=wokingham.auth("case_holder"))
    assert r.status_code == 200, r.text
    only = r.json()["data"]["done_only_by_act"]
    assert only["countersign_assessment"] == ["assessment_countersign"]
    assert only["quality_assure_mappa_form"] == ["referral_quality_assure"]
    assert "acknowledge_rating_rationale" not in only
    assert "notify_serious_incident" not in only
    case = (await wokingham.open_case(opened_at="2026-08-03T09:00:00+01:00"))["data"]
    body = await _post(wokingham, f"/v1/cases/{case['id']}/judgements", {
        "domain": "rosh", "level": "high", "impact": "minor", "likelihood": "unlikely",
        "victims": ["public"], "rationale": "Escalating threats to a named adult.",
        "occurred_at": "2026-08-28T10:00:00+01:00"})
    step = the_step(body["next_steps"], "acknowledge_rating_rationale")
    assert (step["actor"], step["assignee_id"]) == ("line_manager", "line_manager-1")
    r = await complete(wokingham, step["id"], "line_manager", note="Rationale accepted.")
    assert r.status_code == 200, r.text
