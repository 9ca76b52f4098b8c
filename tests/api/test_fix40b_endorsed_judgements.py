"""Judgements recorded with an Asset+ and its countersignature (attack 38, ATTACK38-2 and -4;
fix40b).

Wokingham, Matrix of impact / likelihood judgements: "the case worker must appropriately explain
in the evidence box why they are deviating from the harm matrix so that the assessment is
defensible. By signing off the assessment, the line manager will effectively endorse the
judgement." ROSH and SWB interplay: "Only in exceptional circumstances will the matrix not be
required, which will need to be explained in the evidence box by the case worker and
specifically acknowledged and signed off by the line manager when they provide oversight of the
assessment."

ATTACK38-2: two judgements on one Asset+ that each ask for the line manager's acknowledgement (M2,
M8), dated before its countersignature: typed before it, one `acknowledge_rating_rationale` step
with both reasons, done at the countersignature by the manager who signed; typed after it, two
steps (one duty, one step: policy-rules, "if an open step with the same code and the same
subject already exists, the engine returns the existing one"). The same history in any typing
order is one record (docs/integrating.md §7).

ATTACK38-4: a judgement naming an assessment, dated before that assessment was started, was
stored (201), and the countersignature then endorsed it; every other act about an assessment
(its submission, countersignature, return) is 422 ``occurred-before-bound`` dated before it.

Dates: the case opened Monday 3 August 2026; the start Asset+ written and submitted on Wednesday
12 August; judgements on Thursday 13, Monday 17 and Tuesday 18 August, 10:00 BST; the
countersignature on Wednesday 19 August, 10:00 BST (09:00Z).
"""

from __future__ import annotations

from typing import Any

from tests.api.act_order_support import MANAGER, same_as_time_order, the_record
from tests.api.test_attack35b_marf_order import (  # noqa: F401 (on_21_september: the clock)
    Case,
    every_order,
    on_21_september,
    referred_case,
)
from tests.api.test_fix39a_endorsed_on_file import (
    ACK,
    DONE_19,
    JUDGED_13,
    SIGN,
    SIGNED_19,
    WRITE,
    WRITTEN,
    rosh_off_the_matrix,
    swb_on_a,
)
from tests.conftest import Tenant

JUDGED_17 = "2026-08-17T10:00:00+01:00"  # Monday 17 August 2026
JUDGED_18 = "2026-08-18T10:00:00+01:00"  # Tuesday 18 August 2026
AT_13, AT_17, AT_18 = "2026-08-13T09:00:00Z", "2026-08-17T09:00:00Z", "2026-08-18T09:00:00Z"


async def acknowledgements(t: Tenant, case_id: str) -> tuple[Any, ...]:
    """The record (open steps, the case's fields) and every rationale acknowledgement of the
    case, whatever its status, each as (status, rule, reference, actor, raised, completed,
    completed by, satisfied by, its reasons as (rule, the judged time of the judgement each
    names, in time order: an open step's reasons are kept in typing order)), in a list: two
    steps for one duty show as two."""
    judged = {}
    r = await t.client.get(f"/v1/cases/{case_id}/judgements", headers=t.auth("line_manager"))
    assert r.status_code == 200, r.text
    for j in r.json()["data"]:
        judged[j["id"]] = j["occurred_at"]
    found = []
    for status in ("open", "done", "superseded", "waived"):
        r = await t.client.get("/v1/next-steps", params={"case_id": case_id, "status": status},
                               headers=t.auth("line_manager"))
        assert r.status_code == 200, r.text
        found += [(s["status"], s["policy"]["rule"], s["policy"]["ref"], s["actor"],
                   s["raised_at"], s["completed_at"], s["completed_by"],
                   (s["satisfied_by"] or {}).get("type"),
                   sorted(((x["rule"], judged.get((x.get("record") or {}).get("id")))
                           for x in s["reasons"] or ()), key=lambda x: (str(x[1]), x[0])))
                  for s in r.json()["data"] if s["code"] == ACK]
    steps, fields = await the_record(t, case_id)
    return steps, fields, sorted(found, key=repr)


def one_endorsed(rule: str, ref: str, raised: str, reasons: list[tuple[str, str]]
                 ) -> list[tuple[Any, ...]]:
    """One acknowledgement, done by the countersignature of 19 August by its line manager."""
    return [("done", rule, ref, "line_manager", raised, DONE_19, MANAGER, "assessment",
             reasons)]


M8_REF, M2_REF = "ROSH and SWB interplay", "Matrix of impact / likelihood judgements"


async def test_M2_M8_two_judgements_before_the_countersignature_are_one_step_in_every_order(
        wokingham: Tenant) -> None:
    """M2 and M8: "By signing off the assessment, the line manager will effectively endorse the
    judgement". SWB very high on Thursday 13 August without the matrix (M8) and ROSH medium on
    Tuesday 18 August off the matrix (M2), both with the start Asset+, the Asset+ countersigned
    on Wednesday 19 August: one acknowledgement, arisen with the SWB, with both reasons, done
    at the countersignature by its line manager, in each of the six typing orders (typed after
    the countersignature, each judgement had a step of its own)."""
    outcomes = await every_order(wokingham, [
        (WRITE, lambda c: c.write("A", WRITTEN, stage="start")),
        ("SWB very high 13 Aug", swb_on_a("very_high", JUDGED_13)),
        ("ROSH medium 18 Aug", rosh_off_the_matrix(JUDGED_18)),
        (SIGN, lambda c: c.sign("A", SIGNED_19)),
    ], after={SIGN: WRITE, "SWB very high 13 Aug": WRITE, "ROSH medium 18 Aug": WRITE},
        read=acknowledgements)
    assert len(outcomes) == 6
    record = same_as_time_order(outcomes)
    assert record[2] == one_endorsed("M8", M8_REF, AT_13, [("M8", AT_13), ("M2", AT_18)])


async def test_M8_two_swb_judgements_before_the_countersignature_are_one_step_in_every_order(
        wokingham: Tenant) -> None:
    """M8 ("specifically acknowledged and signed off by the line manager when they provide
    oversight of the assessment"): SWB very high on Thursday 13 August and SWB high on Tuesday
    18 August, both with the start Asset+ and without the matrix, the Asset+ countersigned on
    Wednesday 19 August: one acknowledgement with both reasons, done at the countersignature
    by its line manager, in each of the six typing orders."""
    outcomes = await every_order(wokingham, [
        (WRITE, lambda c: c.write("A", WRITTEN, stage="start")),
        ("SWB very high 13 Aug", swb_on_a("very_high", JUDGED_13)),
        ("SWB high 18 Aug", swb_on_a("high", JUDGED_18)),
        (SIGN, lambda c: c.sign("A", SIGNED_19)),
    ], after={SIGN: WRITE, "SWB very high 13 Aug": WRITE, "SWB high 18 Aug": WRITE},
        read=acknowledgements)
    assert len(outcomes) == 6
    record = same_as_time_order(outcomes)
    assert record[2] == one_endorsed("M8", M8_REF, AT_13, [("M8", AT_13), ("M8", AT_18)])


async def test_M2_M8_three_judgements_before_the_countersignature_are_one_step(
        wokingham: Tenant) -> None:
    """M2 and M8 (three judgements): SWB very high on Thursday 13 August (M8), ROSH medium off
    the matrix on Monday 17 August (M2) and SWB high on Tuesday 18 August (M8), all with the
    start Asset+, countersigned on Wednesday 19 August: one acknowledgement with the three
    reasons in the order of their dates, done at the countersignature by its line manager, in
    every typing order tried (tests/orders.py)."""
    outcomes = await every_order(wokingham, [
        (WRITE, lambda c: c.write("A", WRITTEN, stage="start")),
        ("SWB very high 13 Aug", swb_on_a("very_high", JUDGED_13)),
        ("ROSH medium 17 Aug", rosh_off_the_matrix(JUDGED_17)),
        ("SWB high 18 Aug", swb_on_a("high", JUDGED_18)),
        (SIGN, lambda c: c.sign("A", SIGNED_19)),
    ], after={SIGN: WRITE, "SWB very high 13 Aug": WRITE, "ROSH medium 17 Aug": WRITE,
              "SWB high 18 Aug": WRITE}, read=acknowledgements)
    assert len(outcomes) >= 9
    record = same_as_time_order(outcomes)
    assert record[2] == one_endorsed("M8", M8_REF, AT_13,
                                     [("M8", AT_13), ("M2", AT_17), ("M8", AT_18)])


async def test_M2_M8_a_judgement_after_the_countersignature_keeps_its_own_step(
        wokingham: Tenant) -> None:
    """M8, the control: "when they provide oversight of the assessment". ROSH medium off the
    matrix on Thursday 13 August (M2) endorsed by the countersignature of Wednesday 19 August;
    SWB very high on the Asset+ on Thursday 20 August, after it, is not: its acknowledgement
    is a step of its own, open for the line manager, in every typing order."""
    outcomes = await every_order(wokingham, [
        (WRITE, lambda c: c.write("A", WRITTEN, stage="start")),
        ("ROSH medium 13 Aug", rosh_off_the_matrix(JUDGED_13)),
        (SIGN, lambda c: c.sign("A", SIGNED_19)),
        ("SWB very high 20 Aug", swb_on_a("very_high", "2026-08-20T10:00:00+01:00")),
    ], after={SIGN: WRITE, "ROSH medium 13 Aug": WRITE, "SWB very high 20 Aug": WRITE},
        read=acknowledgements)
    assert len(outcomes) == 6
    record = same_as_time_order(outcomes)
    assert record[2] == sorted([
        *one_endorsed("M2", M2_REF, AT_13, [("M2", AT_13)]),
        ("open", "M8", M8_REF, "line_manager", "2026-08-20T09:00:00Z", None, None, None,
         [("M8", "2026-08-20T09:00:00Z")])], key=repr)


async def _asset_plus_started_10_august(t: Tenant) -> tuple[Case, str]:
    """A case opened on Monday 3 August with an Asset+ started on Monday 10 August, 10:00 BST;
    the case and the assessment's id."""
    case = await referred_case(t)
    r = await t.client.post(f"/v1/cases/{case.id}/assessments", json={
        "type": "asset_plus", "stage": "start", "occurred_at": "2026-08-10T10:00:00+01:00"},
        headers=t.auth("case_holder"))
    assert r.status_code == 201, r.text
    return case, r.json()["data"]["id"]


def _swb_body(assessment: str, at: str) -> dict[str, Any]:
    return {"domain": "swb", "level": "very_high", "rationale": "Exploitation concerns",
            "assessment_id": assessment, "occurred_at": at}


async def test_M8_a_judgement_dated_before_its_assessment_was_started_is_refused(
        wokingham: Tenant) -> None:
    """M8: a judgement is recorded with an assessment ("explained in the evidence box ... when
    they provide oversight of the assessment"); one dated Wednesday 5 August with the Asset+
    started on Monday 10 August is 422 ``occurred-before-bound`` naming the assessment's
    occurred_at, as a submission or countersignature dated before it is, and nothing is
    stored: no judgement, no acknowledgement, no rating; the countersignature of 19 August then
    endorses nothing."""
    t = wokingham
    case, assessment = await _asset_plus_started_10_august(t)
    r = await t.client.post(f"/v1/cases/{case.id}/judgements",
                            json=_swb_body(assessment, "2026-08-05T10:00:00+01:00"),
                            headers=t.auth("case_holder"))
    assert r.status_code == 422, r.text
    problem = r.json()
    assert problem["type"].endswith("/occurred-before-bound"), problem
    assert problem["bound"] == {"field": "occurred_at", "name": "the assessment's occurred_at",
                                "value": "2026-08-10T09:00:00Z"}
    assert [e["loc"] for e in problem["errors"]] == ["body.occurred_at"]
    listed = await t.client.get(f"/v1/cases/{case.id}/judgements", headers=t.auth("case_holder"))
    assert listed.json()["data"] == []
    r = await t.client.post(f"/v1/assessments/{assessment}/submit",
                            json={"occurred_at": "2026-08-12T09:00:00+01:00"},
                            headers=t.auth("case_holder"))
    assert r.status_code == 200, r.text
    r = await t.client.post(f"/v1/assessments/{assessment}/countersign",
                            json={"feedback": "Agreed.", "occurred_at": SIGNED_19},
                            headers=t.auth("line_manager"))
    assert r.status_code == 200, r.text
    record = await acknowledgements(t, case.id)
    assert record[2] == []
    assert record[1][0] == {"rosh": None, "swb": None, "lor": None}


async def test_M8_a_judgement_at_its_assessments_start_is_accepted(wokingham: Tenant) -> None:
    """The bound's edge: SWB very high with the Asset+ at the very instant it was started
    (Monday 10 August, 10:00 BST) is recorded (201), its acknowledgement open for the line
    manager (M8, "ROSH and SWB interplay")."""
    t = wokingham
    case, assessment = await _asset_plus_started_10_august(t)
    r = await t.client.post(f"/v1/cases/{case.id}/judgements",
                            json=_swb_body(assessment, "2026-08-10T10:00:00+01:00"),
                            headers=t.auth("case_holder"))
    assert r.status_code == 201, r.text
    record = await acknowledgements(t, case.id)
    assert record[2] == [("open", "M8", M8_REF, "line_manager", "2026-08-10T09:00:00Z", None,
                          None, None, [("M8", "2026-08-10T09:00:00Z")])]


async def test_M8_the_preview_refuses_a_judgement_before_its_assessment_as_the_write_does(
        wokingham: Tenant) -> None:
    """The workflow preview answers as the write would (A11-15): SWB very high dated
    Wednesday 5 August with the Asset+ started on Monday 10 August is 422
    ``occurred-before-bound`` naming the assessment's occurred_at, at
    ``judgement.occurred_at``."""
    t = wokingham
    case, assessment = await _asset_plus_started_10_august(t)
    r = await t.client.post("/v1/workflow/preview", headers=t.auth("case_holder"), json={
        "case_id": case.id, "judgement": _swb_body(assessment, "2026-08-05T10:00:00+01:00")})
    assert r.status_code == 422, r.text
    problem = r.json()
    assert problem["type"].endswith("/occurred-before-bound"), problem
    assert problem["bound"] == {"field": "judgement.occurred_at",
                                "name": "the assessment's occurred_at",
                                "value": "2026-08-10T09:00:00Z"}
