"""A back-dated act that raises a step an assessment act already on file answers: the step is
done by that act in the same write (fid5 "What is left": the mirror of N4).

Recorded in the order they happened, the later act would have closed the step; recorded the
other way round (the MARP's decision typed up after the holiday, a change of circumstances
reported late), the step is done as that act did it: at its time, credited to its author,
``satisfied_by`` the assessment. An act dated before the step arose still does not answer it
(fid5 N4, ``app.domain.next_steps.act_answers``).

The service's clock is pinned (``app.core.clock.now``) to the moment each act is recorded.
"""

from __future__ import annotations

import pytest

from tests.api.fidelity_support import ok, pin, steps, steps_of
from tests.conftest import Tenant

S = {"pack": "somerset-yjt-2023", "version": "1"}


async def asset_plus(t: Tenant, case_id: str, stage: str, written: str, submitted: str) -> str:
    """An AssetPlus of ``stage`` written at ``written`` and submitted at ``submitted`` by the
    case holder; its id."""
    body = await ok(await t.client.post(
        f"/v1/cases/{case_id}/assessments",
        json={"type": "asset_plus", "stage": stage, "occurred_at": written},
        headers=t.auth("case_holder")), 201)
    assessment_id = str(body["data"]["id"])
    await ok(await t.client.post(f"/v1/assessments/{assessment_id}/submit",
                                 json={"occurred_at": submitted},
                                 headers=t.auth("case_holder")))
    return assessment_id


async def test_S18_marp_decision_recorded_late_is_answered_by_the_review_stage_on_file(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """S18 (7.1.3): "Should there be actions as an outcome from the MARP meeting; the case
    holder will complete a Review Stage to incorporate them into the current plan which will be
    countersigned by a line-manager." The MARP of Thursday 24 December 2026 (10:00Z) agrees an
    action; its decision (dated 11:00Z) is typed up only on Wednesday 30 December. Already on
    file: a Review Stage submitted on Wednesday 23 December (before the panel: not the one it
    asks for) and one submitted on Tuesday 29 December 11:00Z (after the Boxing Day substitute
    holiday). The decision's complete_review_stage (case holder, no timescale, 7.1.3) is done
    in the same write by the stage of 29 December: completed then, by case_holder-1, nothing
    open beside it; that stage's countersignature is now the Review Stage's (S18, 7.1.3), the
    early stage's stays S4's (5, 3.1)."""
    pin(monkeypatch, 2026, 12, 21, 10, 0)
    case_id = str((await somerset.open_case(opened_at="2026-12-21T09:00:00Z"))["data"]["id"])
    await ok(await somerset.client.post(f"/v1/cases/{case_id}/judgements",
                                        json={"domain": "rosh", "level": "high",
                                              "occurred_at": "2026-12-21T09:30:00Z"},
                                        headers=somerset.auth("case_holder")), 201)
    panel = (await ok(await somerset.client.post(
        "/v1/panels", json={"kind": "marp", "scheduled_for": "2026-12-24T10:00:00Z",
                            "chair_id": "chair-1"},
        headers=somerset.auth("panel_admin")), 201))["data"]
    item = (await ok(await somerset.client.post(
        f"/v1/panels/{panel['id']}/items",
        json={"case_id": case_id, "presenter_id": "case_holder-1"},
        headers=somerset.auth("panel_admin")), 201))["data"]
    pin(monkeypatch, 2026, 12, 23, 15, 5)
    early = await asset_plus(somerset, case_id, "review", "2026-12-23T10:00:00Z",
                             "2026-12-23T15:00:00Z")
    pin(monkeypatch, 2026, 12, 29, 11, 5)
    late = await asset_plus(somerset, case_id, "review", "2026-12-29T09:00:00Z",
                            "2026-12-29T11:00:00Z")
    pin(monkeypatch, 2026, 12, 30, 9, 0)
    decided = await ok(await somerset.client.post(
        f"/v1/panels/{panel['id']}/items/{item['id']}/decision",
        json={"rosh_level": "high", "review_date": "2027-01-21", "minutes": "Remains high",
              "actions": [{"description": "Safety plan with the college",
                           "owner_id": "case_holder-1", "due_date": "2027-01-08"}],
              "occurred_at": "2026-12-24T11:00:00Z"},
        headers=somerset.auth("chair", "chair-1")))
    assert steps_of(decided["next_steps"], "complete_review_stage") == []
    [done] = steps_of(await steps(somerset, case_id, "done"), "complete_review_stage")
    assert (done["actor"], done["assignee_id"], done["due_at"], done["policy"]) == (
        "case_holder", "case_holder-1", None, {**S, "ref": "7.1.3", "rule": "S18"})
    assert (done["raised_at"], done["completed_at"], done["completed_by"]) == (
        "2026-12-24T11:00:00Z", "2026-12-29T11:00:00Z", "case_holder-1")
    assert (done["satisfied_by"]["type"], done["satisfied_by"]["id"]) == ("assessment", late)
    # That stage is the Review Stage 7.1.3 asks the line manager to countersign (S18 first,
    # S4 beside it); the stage of 23 December stays an ordinary assessment's (S4).
    signs = {s["subject_id"]: s for s in steps_of(decided["next_steps"],
                                                   "countersign_assessment")}
    assert (signs[late]["actor"], signs[late]["assignee_id"], signs[late]["due_at"],
            signs[late]["policy"]) == ("line_manager", "line_manager-1", None,
                                       {**S, "ref": "7.1.3", "rule": "S18"})
    assert [r["rule"] for r in signs[late]["reasons"]] == ["S18", "S4"]
    assert signs[early]["policy"] == {**S, "ref": "5, 3.1", "rule": "S4"}
    assert [r["rule"] for r in signs[early]["reasons"]] == ["S4"]


async def test_S14_change_reported_late_is_answered_by_the_review_on_file(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """S14 (4.2): "the case holder ... will review AssetPlus ... within 24 hours or the next
    working day" of a significant change of circumstances. ROSH medium since 1 October 2026;
    an AssetPlus submitted Tuesday 20 October, and an AssetPlus review submitted Monday
    26 October 10:00Z (the first weekday on GMT), both on file when a change of circumstances
    of Thursday 22 October (10:00 BST) is reported on Tuesday 3 November. Its review_assessment
    (case holder, due the end of Friday 23 October, 22:59:59Z, 4.2) is done in the same write
    by the review of 26 October (late, but done), not by the AssetPlus of 20 October, which
    came before the change."""
    pin(monkeypatch, 2026, 10, 1, 9, 0)
    case_id = str((await somerset.open_case(opened_at="2026-10-01T08:00:00Z"))["data"]["id"])
    await ok(await somerset.client.post(f"/v1/cases/{case_id}/judgements",
                                        json={"domain": "rosh", "level": "medium",
                                              "occurred_at": "2026-10-01T08:30:00Z"},
                                        headers=somerset.auth("case_holder")), 201)
    pin(monkeypatch, 2026, 10, 20, 12, 0)
    await asset_plus(somerset, case_id, "start", "2026-10-19T09:00:00Z", "2026-10-20T11:00:00Z")
    pin(monkeypatch, 2026, 10, 26, 11, 0)
    review = await asset_plus(somerset, case_id, "review", "2026-10-26T09:00:00Z",
                              "2026-10-26T10:00:00Z")
    pin(monkeypatch, 2026, 11, 3, 10, 0)
    body = await ok(await somerset.client.post(
        f"/v1/cases/{case_id}/events",
        json={"type": "change_of_circumstances", "occurred_at": "2026-10-22T10:00:00+01:00"},
        headers=somerset.auth("case_holder")), 201)
    assert steps_of(body["next_steps"], "review_assessment") == []
    [done] = [s for s in steps_of(await steps(somerset, case_id, "done"), "review_assessment")
              if s["policy"]["rule"] == "S14"]
    assert (done["actor"], done["assignee_id"], done["due_at"], done["policy"]) == (
        "case_holder", "case_holder-1", "2026-10-23T22:59:59Z", {**S, "ref": "4.2", "rule": "S14"})
    assert (done["completed_at"], done["completed_by"]) == ("2026-10-26T10:00:00Z",
                                                            "case_holder-1")
    assert (done["satisfied_by"]["type"], done["satisfied_by"]["id"]) == ("assessment", review)
