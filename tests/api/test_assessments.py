"""Assessments through HTTP: draft, submit, countersign, return; rules S3, S4, S16, W2, W3."""

from __future__ import annotations

from typing import Any

import httpx

from app.core.security import mint_dev_token
from tests.api.integrity_support import assert_problem, the_step
from tests.conftest import Tenant

SOMERSET = "somerset-yjt-2023"
WOKINGHAM = "wokingham-pyjs-2024"


def codes(steps: list[dict[str, Any]]) -> set[str]:
    """The codes of a list of steps."""
    return {s["code"] for s in steps}


async def case_steps(t: Tenant, case_id: str, status: str = "open") -> list[dict[str, Any]]:
    """The case's steps with a status, as its line manager sees them."""
    r = await t.client.get("/v1/next-steps", params={"case_id": case_id, "status": status},
                           headers=t.auth("line_manager"))
    assert r.status_code == 200, r.text
    return r.json()["data"]  # type: ignore[no-any-return]


async def draft(
    t: Tenant, case_id: str, type_: str = "asset_plus", stage: str = "start",
    occurred_at: str = "2026-03-09T10:00:00Z",
) -> dict[str, Any]:
    """A draft assessment written by the case holder."""
    r = await t.client.post(
        f"/v1/cases/{case_id}/assessments",
        json={"type": type_, "stage": stage, "occurred_at": occurred_at},
        headers=t.auth("case_holder"),
    )
    assert r.status_code == 201, r.text
    return r.json()["data"]  # type: ignore[no-any-return]


async def submit(t: Tenant, assessment_id: str, at: str = "2026-03-13T16:00:00Z") -> httpx.Response:
    """The case holder submits an assessment."""
    return await t.client.post(f"/v1/assessments/{assessment_id}/submit",
                               json={"occurred_at": at}, headers=t.auth("case_holder"))


async def countersign(
    t: Tenant, assessment_id: str, at: str = "2026-03-18T14:30:00Z", role: str = "line_manager",
    sub: str | None = None,
) -> httpx.Response:
    """A manager countersigns an assessment with feedback."""
    return await t.client.post(
        f"/v1/assessments/{assessment_id}/countersign",
        json={"feedback": "Analysis is clear; plan addresses the risks.", "occurred_at": at},
        headers=t.auth(role, sub),
    )


async def submitted(t: Tenant, **case: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """A case with a submitted AssetPlus assessment."""
    opened = (await t.open_case(**case))["data"]
    assessment = await draft(t, opened["id"])
    r = await submit(t, assessment["id"])
    assert r.status_code == 200, r.text
    return opened, r.json()


async def test_S4_submit_creates_countersign_step_and_closes_complete_assessment(
    somerset: Tenant,
) -> None:
    """Submitting raises countersign_assessment (line manager, no timescale) and satisfies S1."""
    case, body = await submitted(somerset)
    assessment = body["data"]
    assert assessment["status"] == "submitted"
    assert assessment["submitted_at"] == "2026-03-13T16:00:00Z"
    step = the_step(body["next_steps"], "countersign_assessment")
    assert step["actor"] == "line_manager"
    assert step["assignee_id"] == "line_manager-1"
    assert step["due_at"] is None
    assert step["urgent"] is False
    assert step["policy"] == {"pack": SOMERSET, "version": "1", "ref": "5, 3.1", "rule": "S4"}
    assert step["subject_id"] == assessment["id"]
    assert "complete_assessment" not in codes(body["next_steps"])
    done = the_step(await case_steps(somerset, case["id"], "done"), "complete_assessment")
    assert done["satisfied_by"] == {"type": "assessment", "id": assessment["id"]}
    assert done["completed_at"] == "2026-03-13T16:00:00Z"


async def test_S3_countersign_schedules_review_in_12_weeks(somerset: Tenant) -> None:
    """Countersigning AssetPlus on 18 March (GMT) sets a review 12 weeks on, 10 June (BST)."""
    case, body = await submitted(somerset)
    assessment_id = body["data"]["id"]
    r = await countersign(somerset, assessment_id, "2026-03-18T14:30:00Z")
    assert r.status_code == 200, r.text
    signed = r.json()
    assert signed["data"]["status"] == "countersigned"
    assert signed["data"]["countersigned_by"] == "line_manager-1"
    review = the_step(signed["next_steps"], "review_assessment")
    assert review["actor"] == "case_holder"
    assert review["assignee_id"] == "case_holder-1"
    assert review["due_at"] == "2026-06-10T13:30:00Z"  # 14:30 London wall clock, now BST
    assert review["urgent"] is False
    assert review["policy"] == {"pack": SOMERSET, "version": "1", "ref": "2.1", "rule": "S3"}
    assert "countersign_assessment" not in codes(signed["next_steps"])
    done = the_step(await case_steps(somerset, case["id"], "done"), "countersign_assessment")
    assert done["satisfied_by"] == {"type": "assessment", "id": assessment_id}
    assert done["completed_by"] == "line_manager-1"


async def test_S3_only_for_asset_plus(somerset: Tenant) -> None:
    """A countersigned fact-finding assessment sets no 12-weekly AssetPlus review."""
    case = (await somerset.open_case(intervention="prevention"))["data"]
    assessment = await draft(somerset, case["id"], "fact_finding")
    assert (await submit(somerset, assessment["id"])).status_code == 200
    r = await countersign(somerset, assessment["id"])
    assert r.status_code == 200, r.text
    assert "review_assessment" not in codes(r.json()["next_steps"])


async def test_S3_submitting_the_review_closes_review_assessment(somerset: Tenant) -> None:
    """The review stage, once submitted, satisfies the open review_assessment step."""
    case, body = await submitted(somerset)
    assert (await countersign(somerset, body["data"]["id"])).status_code == 200
    review = await draft(somerset, case["id"], stage="review", occurred_at="2026-06-01T09:00:00Z")
    r = await submit(somerset, review["id"], "2026-06-05T12:00:00Z")
    assert r.status_code == 200, r.text
    assert "review_assessment" not in codes(r.json()["next_steps"])
    done = [s for s in await case_steps(somerset, case["id"], "done")
            if s["code"] == "review_assessment"]
    assert done[0]["satisfied_by"] == {"type": "assessment", "id": review["id"]}


async def test_S16_duty_manager_countersign_advises_line_manager(somerset: Tenant) -> None:
    """A duty manager countersigning (a line-manager step) creates advise_line_manager."""
    case, body = await submitted(somerset)
    r = await countersign(somerset, body["data"]["id"], role="duty_manager")
    assert r.status_code == 200, r.text
    advise = the_step(r.json()["next_steps"], "advise_line_manager")
    assert advise["actor"] == "duty_manager"
    assert advise["assignee_id"] == "duty_manager-1"  # the duty manager who acted
    assert advise["due_at"] is None
    assert advise["urgent"] is False
    assert advise["policy"] == {"pack": SOMERSET, "version": "1", "ref": "2.2, 3.1", "rule": "S16"}
    assert advise["subject_id"] == case["id"]


async def test_S16_not_when_the_line_manager_countersigns(somerset: Tenant) -> None:
    """The case's own line manager countersigning needs no advice to themselves."""
    _, body = await submitted(somerset)
    r = await countersign(somerset, body["data"]["id"])
    assert "advise_line_manager" not in codes(r.json()["next_steps"])


async def test_W2_submit_creates_countersign_step(wokingham: Tenant) -> None:
    """Wokingham: an assessment is not complete until the line manager countersigns it."""
    _, body = await submitted(wokingham)
    step = the_step(body["next_steps"], "countersign_assessment")
    assert step["actor"] == "line_manager"
    assert step["assignee_id"] == "line_manager-1"
    assert step["due_at"] is None
    assert step["urgent"] is False
    assert step["policy"] == {
        "pack": WOKINGHAM, "version": "1.0",
"ref": "Assessment Reviews, Management oversight", "rule": "W2"}


async def test_W3_statutory_review_in_six_months_clamped(wokingham: Tenant) -> None:
    """Countersigned 31 March: the review is due 30 September (month end), same wall clock."""
    _, body = await submitted(wokingham)
    r = await countersign(wokingham, body["data"]["id"], "2026-03-31T10:00:00Z")
    assert r.status_code == 200, r.text
    review = the_step(r.json()["next_steps"], "review_assessment")
    assert review["actor"] == "case_holder"
    assert review["assignee_id"] == "case_holder-1"
    assert review["due_at"] == "2026-09-30T10:00:00Z"
    assert review["urgent"] is False
    assert review["policy"] == {"pack": WOKINGHAM, "version": "1.0",
                                "ref": "Assessment Reviews", "rule": "W3"}


async def test_W3_high_domain_review_in_three_months(wokingham: Tenant) -> None:
    """With a high domain, countersigned 31 January (GMT): due 30 April 10:00 BST."""
    case = (await wokingham.open_case(opened_at="2026-01-05T09:00:00Z"))["data"]
    r = await wokingham.client.post(
        f"/v1/cases/{case['id']}/judgements",
        json={"domain": "lor", "level": "high", "occurred_at": "2026-01-20T09:00:00Z"},
        headers=wokingham.auth("case_holder"),
    )
    assert r.status_code == 201, r.text
    assessment = await draft(wokingham, case["id"], occurred_at="2026-01-21T09:00:00Z")
    assert (await submit(wokingham, assessment["id"], "2026-01-28T09:00:00Z")).status_code == 200
    r = await countersign(wokingham, assessment["id"], "2026-01-31T10:00:00Z")
    review = the_step(r.json()["next_steps"], "review_assessment")
    assert review["due_at"] == "2026-04-30T09:00:00Z"
    assert review["assignee_id"] == "case_holder-1"
    assert review["policy"] == {"pack": WOKINGHAM, "version": "1.0",
                                "ref": "Assessment Reviews", "rule": "W3"}


async def test_W3_no_review_for_a_prevention_case(wokingham: Tenant) -> None:
    """A prevention case's countersigned mini-asset sets no statutory review."""
    case = (await wokingham.open_case(intervention="prevention"))["data"]
    assessment = await draft(wokingham, case["id"], "mini_asset")
    assert (await submit(wokingham, assessment["id"])).status_code == 200
    r = await countersign(wokingham, assessment["id"])
    assert r.status_code == 200, r.text
    assert "review_assessment" not in codes(r.json()["next_steps"])


async def test_countersign_by_the_author_is_403(
    client: httpx.AsyncClient, somerset: Tenant
) -> None:
    """The author can never countersign, even holding a manager role too."""
    _, body = await submitted(somerset)
    assessment_id = body["data"]["id"]
    assert_problem(await countersign(somerset, assessment_id, role="case_holder",
                                     sub="case_holder-1"), 403)
    both = mint_dev_token(somerset.settings, sub="case_holder-1",
                          roles=["case_holder", "duty_manager"], service=somerset.slug)
    r = await client.post(f"/v1/assessments/{assessment_id}/countersign",
                          json={"feedback": "Looks fine."},
                          headers={"Authorization": f"Bearer {both}"})
    assert_problem(r, 403)


async def test_countersign_by_a_case_holder_is_403(
    client: httpx.AsyncClient, somerset: Tenant
) -> None:
    """A case holder (not the author: the case was reassigned to them) may not countersign."""
    case, body = await submitted(somerset)
    url = f"/v1/cases/{case['id']}"
    etag = (await client.get(url, headers=somerset.auth("line_manager"))).headers["etag"]
    r = await client.patch(url, json={"case_holder_id": "case_holder-2"},
                           headers={**somerset.auth("line_manager"), "If-Match": etag})
    assert r.status_code == 200, r.text
    r = await countersign(somerset, body["data"]["id"], role="case_holder", sub="case_holder-2")
    assert_problem(r, 403)
    other_lm = await countersign(somerset, body["data"]["id"], sub="line_manager-9")
    assert_problem(other_lm, 404)


async def test_return_without_feedback_is_422(client: httpx.AsyncClient, somerset: Tenant) -> None:
    """Returning for changes needs written feedback."""
    _, body = await submitted(somerset)
    url = f"/v1/assessments/{body['data']['id']}/return"
    for payload in ({}, {"feedback": "   "}):
        problem = assert_problem(
            await client.post(url, json=payload, headers=somerset.auth("line_manager")), 422)
        assert any("feedback" in e["loc"] for e in problem["errors"])


async def test_submit_twice_is_409(somerset: Tenant) -> None:
    """A submitted assessment cannot be submitted again: the first submission won (409
    conflicting-transition, with the current state)."""
    _, body = await submitted(somerset)
    problem = assert_problem(await submit(somerset, body["data"]["id"]), 409)
    assert problem["type"].endswith("/conflicting-transition")
    assert problem["current_status"] == "submitted"
    assert problem["current"]["id"] == body["data"]["id"]


async def test_return_needs_resubmission(client: httpx.AsyncClient, somerset: Tenant) -> None:
    """Returned: it cannot be countersigned until resubmitted; the feedback is kept."""
    case, body = await submitted(somerset)
    assessment_id = body["data"]["id"]
    r = await client.post(f"/v1/assessments/{assessment_id}/return",
                          json={"feedback": "Please evidence the victim work.",
                                "occurred_at": "2026-03-16T09:00:00Z"},
                          headers=somerset.auth("line_manager"))
    assert r.status_code == 200, r.text
    assert r.json()["data"]["status"] == "returned"
    assert r.json()["data"]["feedback"] == "Please evidence the victim work."
    resubmit = the_step(r.json()["next_steps"], "resubmit_assessment")
    assert resubmit["actor"] == "case_holder"
    assert resubmit["assignee_id"] == "case_holder-1"
    assert resubmit["due_at"] is None
    assert resubmit["policy"] == {"pack": SOMERSET, "version": "1", "ref": "5, 3.1", "rule": "S4"}
    assert resubmit["subject_id"] == assessment_id
    assert_problem(await countersign(somerset, assessment_id), 409)
    again = await submit(somerset, assessment_id, "2026-03-17T09:00:00Z")
    assert again.status_code == 200, again.text
    assert "resubmit_assessment" not in codes(again.json()["next_steps"])
    assert the_step(again.json()["next_steps"], "countersign_assessment")["subject_id"] == (
        assessment_id)
    signed = await countersign(somerset, assessment_id, "2026-03-18T14:30:00Z")
    assert signed.status_code == 200, signed.text
    history = [h["action"] for h in signed.json()["data"]["history"]]
    assert history == ["create", "submit", "return", "submit", "countersign"]
    audit = await client.get(f"/v1/cases/{case['id']}/audit", params={"limit": 200},
                             headers=somerset.auth("line_manager"))
    actions = [e["action"] for e in audit.json()["data"]]
    assert {"assessment.create", "assessment.submit", "assessment.return",
            "assessment.countersign"} <= set(actions)


async def test_only_the_holder_writes_assessments(
    client: httpx.AsyncClient, somerset: Tenant
) -> None:
    """A line manager may not draft or submit; another case holder cannot see the case."""
    case = (await somerset.open_case())["data"]
    body = {"type": "asset_plus", "stage": "start"}
    url = f"/v1/cases/{case['id']}/assessments"
    assert_problem(await client.post(url, json=body, headers=somerset.auth("line_manager")), 403)
    assert_problem(await client.post(url, json=body,
                                     headers=somerset.auth("case_holder", "case_holder-7")), 404)
    assessment = await draft(somerset, case["id"])
    r = await client.post(f"/v1/assessments/{assessment['id']}/submit",
                          headers=somerset.auth("line_manager"))
    assert_problem(r, 403)


async def test_judgement_assessment_id_must_belong_to_the_case(
    client: httpx.AsyncClient, somerset: Tenant
) -> None:
    """A judgement may name its case's assessment; another case's is 422."""
    case = (await somerset.open_case())["data"]
    other = (await somerset.open_case())["data"]
    mine = await draft(somerset, case["id"])
    theirs = await draft(somerset, other["id"])
    url = f"/v1/cases/{case['id']}/judgements"
    body = {"domain": "lor", "level": "medium", "occurred_at": "2026-03-10T10:00:00Z"}
    bad = await client.post(url, json={**body, "assessment_id": theirs["id"]},
                            headers=somerset.auth("case_holder"))
    problem = assert_problem(bad, 422)
    assert problem["errors"][0]["loc"] == "body.assessment_id"
    ok = await client.post(url, json={**body, "assessment_id": mine["id"]},
                           headers=somerset.auth("case_holder"))
    assert ok.status_code == 201, ok.text
    assert ok.json()["data"]["assessment_id"] == mine["id"]


async def test_W2_wokingham_assessment_complete_only_when_countersigned(
    wokingham: Tenant,
) -> None:
    """Wokingham, "not considered complete until it has been counter signed": submit leaves
    complete_assessment open; the countersignature closes it (Somerset closes it on submit)."""
    case, body = await submitted(wokingham)
    assert "complete_assessment" in codes(body["next_steps"])
    r = await countersign(wokingham, body["data"]["id"])
    assert r.status_code == 200, r.text
    assert "complete_assessment" not in codes(r.json()["next_steps"])
    done = the_step(await case_steps(wokingham, case["id"], "done"), "complete_assessment")
    assert done["satisfied_by"] == {"type": "assessment", "id": body["data"]["id"]}
    assert done["completed_at"] == "2026-03-18T14:30:00Z"
