"""Somerset 7.1.3 through HTTP, on both databases (fid5): the AssetPlus Review Stage a MARP asks
for, and its countersignature.

- N4: a Review Stage dated before the MARP that asked for one (back-dated, recorded after the
  panel's decision) is not that Review Stage: the MARP's ``complete_review_stage`` stays open,
  the one open step, and the early stage is countersigned as an ordinary assessment (S4).
- N7: a Review Stage the line manager returns for changes is resubmitted as the Review Stage
  (the resubmission step cites 7.1.3) and its resubmission is countersigned under S18, as the
  original was, not as an ordinary assessment.

The MARP sits on Thursday 24 December 2026 (Christmas Day is a Friday; Boxing Day's substitute
bank holiday is Monday 28 December). The service's clock is pinned (``app.core.clock.now``) to
the moment each act is recorded.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import pytest

from app.domain.next_steps import act_answers
from app.domain.steps import Step
from tests.api.fidelity_support import FidelityWeek, ok, pin, steps, steps_of
from tests.conftest import Tenant
from tests.workflows.support import lon, packs

S = {"pack": "somerset-yjt-2023", "version": "1"}
STAGE = {**S, "ref": "7.1.3", "rule": "S18"}


async def review_stage(t: Tenant, case_id: str, written: str) -> str:
    """A draft AssetPlus Review Stage written by the case holder at ``written``; its id."""
    body = await ok(await t.client.post(
        f"/v1/cases/{case_id}/assessments",
        json={"type": "asset_plus", "stage": "review", "occurred_at": written},
        headers=t.auth("case_holder")), 201)
    return str(body["data"]["id"])


async def submit(t: Tenant, assessment_id: str, at: str) -> dict[str, Any]:
    """The case holder submits (or resubmits) the assessment at ``at``."""
    return await ok(await t.client.post(f"/v1/assessments/{assessment_id}/submit",
                                        json={"occurred_at": at},
                                        headers=t.auth("case_holder")))


async def marp_agrees_an_action(
        t: Tenant, monkeypatch: pytest.MonkeyPatch) -> tuple[str, dict[str, Any]]:
    """A ROSH-high case (opened Monday 21 December 2026) discussed at the MARP of Thursday 24
    December 10:00Z, which agrees one action for the case holder; the decision is recorded that
    afternoon. The case id and the decision's open ``complete_review_stage`` step."""
    pin(monkeypatch, 2026, 12, 21, 10, 0)
    case_id = str((await t.open_case(opened_at="2026-12-21T09:00:00Z"))["data"]["id"])
    await ok(await t.client.post(f"/v1/cases/{case_id}/judgements",
                                 json={"domain": "rosh", "level": "high",
                                       "occurred_at": "2026-12-21T09:30:00Z"},
                                 headers=t.auth("case_holder")), 201)
    panel = (await ok(await t.client.post(
        "/v1/panels", json={"kind": "marp", "scheduled_for": "2026-12-24T10:00:00Z",
                            "chair_id": "chair-1"},
        headers=t.auth("panel_admin")), 201))["data"]
    item = (await ok(await t.client.post(
        f"/v1/panels/{panel['id']}/items",
        json={"case_id": case_id, "presenter_id": "case_holder-1"},
        headers=t.auth("panel_admin")), 201))["data"]
    pin(monkeypatch, 2026, 12, 24, 15, 0)
    decided = await ok(await t.client.post(
        f"/v1/panels/{panel['id']}/items/{item['id']}/decision",
        json={"rosh_level": "high", "review_date": "2027-01-21", "minutes": "Remains high",
              "actions": [{"description": "Safety plan with the college",
                           "owner_id": "case_holder-1", "due_date": "2027-01-08"}],
              "occurred_at": "2026-12-24T11:00:00Z"},
        headers=t.auth("chair", "chair-1")))
    [stage] = steps_of(decided["next_steps"], "complete_review_stage")
    assert (stage["actor"], stage["assignee_id"], stage["due_at"], stage["policy"]) == (
        "case_holder", "case_holder-1", None, STAGE)
    assert stage["raised_at"] == "2026-12-24T11:00:00Z"
    return case_id, stage


async def test_S18_review_stage_submitted_before_the_marp_is_not_the_one_it_asks_for(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """S18 (7.1.3): "Should there be actions as an outcome from the MARP meeting; the case
    holder will complete a Review Stage to incorporate them into the current plan which will be
    countersigned by a line-manager." The MARP of Thursday 24 December 2026 agrees an action
    (decision dated 11:00Z). A Review Stage submitted the day before, Wednesday 23 December
    15:00Z (recorded after the holiday, Tuesday 29 December), predates the panel's request:
    the MARP's complete_review_stage stays open, the only one, the case holder's, no timescale,
    citing 7.1.3; the early stage is countersigned as an ordinary assessment (S4, 5, 3.1), not
    as the Review Stage 7.1.3 asks for (N4: it was done by the early stage and a second
    complete_review_stage opened beside it). The Review Stage submitted that Tuesday 11:00Z
    does the step and its countersignature cites 7.1.3."""
    case_id, stage = await marp_agrees_an_action(somerset, monkeypatch)
    pin(monkeypatch, 2026, 12, 29, 10, 0)
    early = await review_stage(somerset, case_id, "2026-12-22T10:00:00Z")
    body = await submit(somerset, early, "2026-12-23T15:00:00Z")
    [still] = steps_of(body["next_steps"], "complete_review_stage")
    assert (still["id"], still["actor"], still["assignee_id"], still["due_at"],
            still["policy"]) == (stage["id"], "case_holder", "case_holder-1", None, STAGE)
    assert steps_of(await steps(somerset, case_id, "done"), "complete_review_stage") == []
    [sign] = steps_of(body["next_steps"], "countersign_assessment")
    assert (sign["subject_id"], sign["actor"], sign["assignee_id"], sign["due_at"]) == (
        early, "line_manager", "line_manager-1", None)
    assert sign["policy"] == {**S, "ref": "5, 3.1", "rule": "S4"}
    assert [r["rule"] for r in sign["reasons"]] == ["S4"]
    pin(monkeypatch, 2026, 12, 29, 11, 5)
    late = await review_stage(somerset, case_id, "2026-12-29T09:00:00Z")
    body = await submit(somerset, late, "2026-12-29T11:00:00Z")
    assert steps_of(body["next_steps"], "complete_review_stage") == []
    [done] = steps_of(await steps(somerset, case_id, "done"), "complete_review_stage")
    assert (done["id"], done["completed_by"], done["completed_at"]) == (
        stage["id"], "case_holder-1", "2026-12-29T11:00:00Z")
    [sign] = [s for s in steps_of(body["next_steps"], "countersign_assessment")
              if s["subject_id"] == late]
    assert (sign["actor"], sign["assignee_id"], sign["due_at"], sign["policy"]) == (
        "line_manager", "line_manager-1", None, STAGE)


async def test_S18_returned_review_stage_is_resubmitted_and_countersigned_as_the_review_stage(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """S18 (7.1.3): "the case holder will complete a Review Stage to incorporate them into the
    current plan which will be countersigned by a line-manager"; S4 (5): an assessment sent
    back must be revised and resubmitted. The Review Stage answering the MARP of Thursday 24
    December 2026 is submitted on Tuesday 29 December 11:00Z and returned by the line manager
    on Wednesday 30 December 10:00Z: the case holder's resubmission step is the Review
    Stage's (S18, 7.1.3, S4's reason beside it), no timescale; resubmitted on Thursday 31
    December 12:00Z (year end), its countersignature is the Review Stage's again (S18, 7.1.3,
    then S4), the line manager's, no timescale (N7: it was countersigned as S4 alone)."""
    case_id, stage = await marp_agrees_an_action(somerset, monkeypatch)
    pin(monkeypatch, 2026, 12, 29, 11, 5)
    review = await review_stage(somerset, case_id, "2026-12-29T09:00:00Z")
    body = await submit(somerset, review, "2026-12-29T11:00:00Z")
    [sign] = steps_of(body["next_steps"], "countersign_assessment")
    assert sign["policy"] == STAGE
    pin(monkeypatch, 2026, 12, 30, 10, 5)
    body = await ok(await somerset.client.post(
        f"/v1/assessments/{review}/return",
        json={"feedback": "The college action is missing from the plan.",
              "occurred_at": "2026-12-30T10:00:00Z"},
        headers=somerset.auth("line_manager")))
    assert steps_of(body["next_steps"], "countersign_assessment") == []
    [again] = steps_of(body["next_steps"], "resubmit_assessment")
    assert (again["subject_id"], again["actor"], again["assignee_id"], again["due_at"],
            again["policy"]) == (review, "case_holder", "case_holder-1", None, STAGE)
    assert [(r["rule"], r["ref"]) for r in again["reasons"]] == [
        ("S18", "7.1.3"), ("S4", "5, 3.1")]
    pin(monkeypatch, 2026, 12, 31, 12, 5)
    body = await submit(somerset, review, "2026-12-31T12:00:00Z")
    assert steps_of(body["next_steps"], "resubmit_assessment") == []
    assert steps_of(body["next_steps"], "complete_review_stage") == []
    [sign] = steps_of(body["next_steps"], "countersign_assessment")
    assert (sign["subject_id"], sign["actor"], sign["assignee_id"], sign["due_at"],
            sign["policy"]) == (review, "line_manager", "line_manager-1", None, STAGE)
    assert [(r["rule"], r["ref"]) for r in sign["reasons"]] == [
        ("S18", "7.1.3"), ("S4", "5, 3.1")]
    [done] = steps_of(await steps(somerset, case_id, "done"), "complete_review_stage")
    assert (done["id"], done["completed_at"]) == (stage["id"], "2026-12-29T11:00:00Z")


# --- N4's kind: an act dated before a step arose does not do it --------------------------------


async def test_S14_asset_plus_review_before_the_change_does_not_evidence_it(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """S14 (4.2): "Case holders will review AssetPlus as soon as possible (within 24 hrs/next
    working day) to evidence when changes of circumstance have occurred requiring the
    implementation of the specified contingency plan." ROSH medium; a change of circumstances
    on Thursday 24 December 2026 15:00Z asks for the review by the next working day, Tuesday
    29 December 23:59:59Z (Christmas, and Boxing Day's substitute on Monday 28). An AssetPlus
    review stage dated Wednesday 23 December, recorded on the 29th, predates the change: the
    review stays open, the only one, the case holder's, citing 4.2 (it was done by the earlier
    stage and a second review opened beside it, "still owed")."""
    pin(monkeypatch, 2026, 12, 21, 10, 0)
    case_id = str((await somerset.open_case(opened_at="2026-12-21T09:00:00Z"))["data"]["id"])
    await ok(await somerset.client.post(f"/v1/cases/{case_id}/judgements",
                                        json={"domain": "rosh", "level": "medium",
                                              "occurred_at": "2026-12-21T09:30:00Z"},
                                        headers=somerset.auth("case_holder")), 201)
    pin(monkeypatch, 2026, 12, 24, 15, 5)
    changed = await ok(await somerset.client.post(
        f"/v1/cases/{case_id}/events",
        json={"type": "change_of_circumstances", "occurred_at": "2026-12-24T15:00:00Z"},
        headers=somerset.auth("case_holder")), 201)
    [review] = steps_of(changed["next_steps"], "review_assessment")
    assert (review["actor"], review["due_at"], review["policy"]) == (
        "case_holder", "2026-12-29T23:59:59Z", {**S, "ref": "4.2", "rule": "S14"})
    pin(monkeypatch, 2026, 12, 29, 10, 0)
    early = await review_stage(somerset, case_id, "2026-12-22T10:00:00Z")
    body = await submit(somerset, early, "2026-12-23T15:00:00Z")
    [still] = steps_of(body["next_steps"], "review_assessment")
    assert (still["id"], still["actor"], still["assignee_id"], still["due_at"],
            still["policy"]) == (review["id"], "case_holder", "case_holder-1",
                                 "2026-12-29T23:59:59Z", {**S, "ref": "4.2", "rule": "S14"})
    assert steps_of(await steps(somerset, case_id, "done"), "review_assessment") == []


async def test_M3_judgement_dated_before_the_weapon_flag_does_not_review_against_it(
        wokingham: Tenant) -> None:
    """M3 (ROSH for knife offences): "a child who is involved with weapon related offending or
    incidents is likely to have a starting ROSH of at least medium". ROSH low on Tuesday 25
    August 2026; the case found weapon-related on Thursday 27 August asks the case holder to
    review that rating (no timescale). A ROSH low dated Wednesday 26 August, recorded after,
    came before the flag: it is not that review, which stays open, the case holder's, about
    the rating it asked to review (it was done by it). ROSH medium on Tuesday 1 September
    (after the bank holiday) does it."""
    week = await FidelityWeek.start(wokingham, csc_status="none", weapon_related=False)
    rosh = await week.rosh("low", "2026-08-25T10:00:00+01:00")
    etag = (await wokingham.client.get(f"/v1/cases/{week.case_id}",
                                       headers=wokingham.auth("line_manager"))).headers["etag"]
    changed = await ok(await wokingham.client.patch(
        f"/v1/cases/{week.case_id}",
        json={"weapon_related": True, "occurred_at": "2026-08-27T10:00:00+01:00"},
        headers={**wokingham.auth("line_manager"), "If-Match": etag}))
    [review] = steps_of(changed["next_steps"], "review_rating")
    policy = {"pack": "wokingham-pyjs-2024", "version": "1.0",
              "ref": "ROSH for knife offences", "rule": "M3"}
    assert (review["actor"], review["due_at"], review["policy"], review["subject_id"]) == (
        "case_holder", None, policy, rosh["data"]["id"])
    earlier = await week.judge({"domain": "rosh", "level": "low", "victims": ["public"],
                                "assessment_id": week.assessment_id,
                                "rationale": "No weapon involvement known on the day.",
                                "occurred_at": "2026-08-26T10:00:00+01:00"})
    [still] = steps_of(earlier["next_steps"], "review_rating")
    assert (still["id"], still["actor"], still["assignee_id"], still["due_at"],
            still["policy"]) == (review["id"], "case_holder", "case_holder-1", None, policy)
    later = await week.rosh("medium", "2026-09-01T10:00:00+01:00")
    assert steps_of(later["next_steps"], "review_rating") == []
    done = (await ok(await wokingham.client.get(
        f"/v1/next-steps/{review['id']}", headers=wokingham.auth("line_manager"))))["data"]
    assert (done["status"], done["completed_at"], done["satisfied_by"]) == (
        "done", "2026-09-01T09:00:00Z", {"type": "judgement", "id": later["data"]["id"]})


# --- the rule itself (app.domain.next_steps.act_answers), on the bundled packs ------------------

NOBODY = UUID(int=0)


def _step(code: str, rule: str, raised: datetime, reasons: list[dict[str, str]]) -> Step:
    """An open step of the test case raised at ``raised`` for ``reasons``."""
    return Step(service_id=NOBODY, case_id=NOBODY, code=code, rule_id=rule, title=code,
                actor="case_holder", policy_pack="p", policy_version="1", policy_ref="r",
                raised_at=raised, reasons=reasons)


def test_S18_review_stage_dated_before_the_marp_does_not_answer_its_request() -> None:
    """S18 (7.1.3): "Should there be actions as an outcome from the MARP meeting; the case
    holder will complete a Review Stage". The MARP's request raised on Thursday 24 December
    2026 11:00 is not answered by an act the day before (Wednesday 23 December 15:00); it is
    at the decision's minute and after (Tuesday 29 December, after Boxing Day's substitute
    holiday)."""
    decided = lon(2026, 12, 24, 11)
    stage = _step("complete_review_stage", "S18", decided,
                  [{"rule": "S18", "at": decided.isoformat(),
                    "counted_from": decided.isoformat()}])
    pack = packs()[S["pack"]]
    assert act_answers(pack, stage, lon(2026, 12, 23, 15)) is False
    assert act_answers(pack, stage, decided) is True
    assert act_answers(pack, stage, lon(2026, 12, 29, 11)) is True


def test_S14_review_before_the_change_became_known_does_not_evidence_it() -> None:
    """S14 (4.2): "Case holders will review AssetPlus as soon as possible (within 24 hrs/next
    working day) to evidence when changes of circumstance have occurred". A change on
    Thursday 24 December 2026 that became known on Tuesday 29 December (the step counts from
    then): a review on the 28th (the substitute Boxing Day) does not evidence it; one on the
    29th does."""
    happened, known = lon(2026, 12, 24, 15), lon(2026, 12, 29, 9)
    review = _step("review_assessment", "S14", happened,
                   [{"rule": "S14", "at": happened.isoformat(),
                     "counted_from": known.isoformat()}])
    pack = packs()[S["pack"]]
    assert act_answers(pack, review, known - timedelta(days=1)) is False
    assert act_answers(pack, review, known) is True


def test_W8_panel_held_answers_a_request_recorded_after_it_sat() -> None:
    """W8 (High Risk Panel: "High Risk Panels available and chaired by a manager, within one
    week of their request"; the pack: "The panel's decision on the case is the panel held for
    it: it answers a request recorded after the panel sat too", ``completion_covers_later``):
    a hold raised by a request dated Thursday 3 September 2026 12:00 is done by the panel
    decision of 11:00 that day (guard: unchanged by the fid5 rule)."""
    requested = lon(2026, 9, 3, 12)
    hold = _step("hold_high_risk_panel", "W8", requested,
                 [{"rule": "W8", "at": requested.isoformat(),
                   "counted_from": requested.isoformat()}])
    assert act_answers(packs()["wokingham-pyjs-2024"], hold, lon(2026, 9, 3, 11)) is True
