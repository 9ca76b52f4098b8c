"""Practice fidelity (issue 10): one real week of a Wokingham case as the policy describes it.

A court-order child on a child protection plan, weapon-related, followed through the week of
Monday 24 August 2026 (the late-summer bank holiday is Monday 31 August): Asset+, ROSH high with
the matrix, SWB, countersignature, an incident, a High-Risk Panel requested, booked and held.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.fidelity_support import FidelityWeek, open_steps, steps_of, with_matrix
from tests.conftest import Tenant

WOKINGHAM = "wokingham-pyjs-2024"
SOMERSET = "somerset-yjt-2023"


# --- item 1: one duty, one open step carrying every reason ----------------------------------


async def test_W12_W22_one_risk_management_plan_step_carries_every_reason(
    wokingham: Tenant,
) -> None:
    """W12 + W22: "For children assessed as medium, high or very high ROSH ... the Risk
    Management Plan section ... should include the additional controls" and "the case worker must
    ensure ... that the intervention plan and Asset+ risk management plan are updated with any
    actions resulting from the High Risk Panel meeting": one duty, one open step, both reasons;
    completing it closes it."""
    week = await FidelityWeek.start(wokingham)
    await week.rosh_high()
    await week.swb("high", rationale=None)
    await week.request_and_book_panel()
    body = await week.decide(rosh_level="high", review_date="2026-09-29")
    plans = steps_of(body["next_steps"], "update_risk_management_plan")
    assert len(plans) == 1
    plan = plans[0]
    assert (plan["actor"], plan["assignee_id"], plan["due_at"]) == (
        "case_holder", "case_holder-1", None)
    assert plan["policy"] == {"pack": WOKINGHAM, "version": "1.0",
                              "ref": "Management of Risk of Serious Harm",
                              "rule": "W12"}
    reasons = {(r["rule"], r["ref"], r["record"]["type"]) for r in plan["reasons"]}
    assert reasons == {
        ("W12", "Management of Risk of Serious Harm", "judgement"),
        ("W12", "Management of Safety and Well-being concerns", "judgement"),
        ("W22", "High Risk Panel", "panel_item"),
    }
    assert {r["record"]["id"] for r in plan["reasons"] if r["rule"] == "W22"} == {week.item_id}
    done = await week.complete(plan["id"], "case_holder")
    assert steps_of(done["next_steps"], "update_risk_management_plan") == []


async def test_W6_W3_one_review_assessment_due_at_the_sooner_deadline(wokingham: Tenant) -> None:
    """W3 + W6: "Asset+ must be reviewed at least every six months or sooner if there has been a
    significant change ... the Asset+ should be reviewed within three weeks of the new event
    becoming known to the case worker": one review step, due at the sooner deadline, both reasons;
    the countersigned review assessment closes it."""
    week = await FidelityWeek.start(wokingham)
    await week.rosh_high()
    await week.countersign()  # Wed 26 Aug 11:00 BST: W3 +3m (high) -> 26 Nov
    event = await week.incident("2026-08-27T15:00:00+01:00")  # Thu: W6 +3w -> Thu 17 Sep
    reviews = steps_of(event["next_steps"], "review_assessment")
    assert len(reviews) == 1
    review = reviews[0]
    assert review["due_at"] == "2026-09-17T14:00:00Z"
    assert review["actor"] == "case_holder"
    assert [(r["rule"], r["ref"], r["record"]["type"]) for r in review["reasons"]] == [
        ("W3", "Assessment Reviews", "assessment"), ("W6", "Assessment Reviews", "event")]
    assert review["reasons"][1]["record"]["id"] == event["data"]["id"]
    body = await week.assessment("review", "2026-09-10T10:00:00+01:00")
    after = await week.countersign(body["id"], "2026-09-11T10:00:00+01:00")
    reviews = steps_of(after["next_steps"], "review_assessment")
    assert len(reviews) == 1  # the next one (W3), from this countersignature
    assert reviews[0]["id"] != review["id"]
    assert reviews[0]["due_at"] == "2026-12-11T10:00:00Z"
    closed = await week.step(review["id"])
    assert (closed["status"], closed["completed_by"]) == ("done", "case_holder-1")


# --- item 2: no second panel request; a step closed by its act, in its doer's name ----------


async def test_W7_no_second_panel_request_once_requested_and_booked(wokingham: Tenant) -> None:
    """W7: a panel is requested on "becoming aware of a change of circumstances or new incident
    which is serious enough to warrant consideration for an increase of assessed risk levels to
    high/very high": with a High-Risk Panel already requested and booked, an incident flagged
    may_raise_to_high asks for no second one; the decision closes the chair's own step only."""
    week = await FidelityWeek.start(wokingham)
    await week.rosh_high()
    await week.request_and_book_panel()
    event = await week.incident("2026-08-28T15:00:00+01:00", may_raise_to_high=True)
    assert steps_of(event["next_steps"], "request_high_risk_panel") == []
    await week.decide(rosh_level="high", review_date="2026-09-29")
    done = await week.done_steps()
    requests = [s for s in done if s["code"] == "request_high_risk_panel"]
    assert [(s["completed_by"], s["satisfied_by"]["type"]) for s in requests] == [
        ("case_holder-1", "referral")]
    holds = [s for s in done if s["code"] == "hold_high_risk_panel"]
    assert [(s["completed_by"], s["satisfied_by"]["type"]) for s in holds] == [
        ("chair-1", "panel_item")]
    assert all(s["completed_by"] == "chair-1" for s in done if s["actor"] == "chair")


async def test_W7_incident_on_a_very_high_child_asks_for_no_panel_request(
    wokingham: Tenant,
) -> None:
    """W7: "consideration for an increase of assessed risk levels to high/very high": ROSH already
    very high has no higher level to consider, so the flagged incident asks for no request."""
    week = await FidelityWeek.start(wokingham)
    await week.rosh("very_high", "2026-08-25T10:00:00+01:00")
    first = await week.open_steps()
    assert steps_of(first, "request_high_risk_panel")
    # The request is made by the panel referral, submitted (not ticked off by hand: A9-13).
    referral = await week.post(f"/v1/cases/{week.case_id}/referrals",
                               {"kind": "panel", "occurred_at": "2026-08-25T11:00:00+01:00"})
    await week.post(f"/v1/referrals/{referral['data']['id']}/submit",
                    {"occurred_at": "2026-08-25T11:30:00+01:00"}, status=200)
    event = await week.incident("2026-08-27T15:00:00+01:00", may_raise_to_high=True)
    assert steps_of(event["next_steps"], "request_high_risk_panel") == []


async def test_W7_flagged_incident_still_requests_a_panel_when_none_is_pending(
    wokingham: Tenant,
) -> None:
    """W7: with no panel requested or booked, the flagged incident on a medium child asks for one
    within two working days of becoming aware (Friday 28 Aug -> Wednesday 2 Sep, over the bank
    holiday)."""
    week = await FidelityWeek.start(wokingham)
    await week.rosh("medium", "2026-08-25T10:00:00+01:00")
    event = await week.incident("2026-08-28T15:00:00+01:00", may_raise_to_high=True)
    request = steps_of(event["next_steps"], "request_high_risk_panel")
    assert [(s["actor"], s["due_at"], s["policy"]["ref"]) for s in request] == [
        ("case_holder", "2026-09-02T22:59:59Z", "High Risk Panel")]


async def test_W7_putting_the_case_on_the_agenda_answers_the_request_in_its_doers_name(
    wokingham: Tenant,
) -> None:
    """W7: "It will be the responsibility of the case worker or their line manager to request a
    High-Risk Panel": when no request was recorded, the case put on the agenda is that act,
    credited to whoever put it there; the decision never closes it in the chair's name."""
    week = await FidelityWeek.start(wokingham)
    await week.rosh_high()
    added = await week.book_panel(role="panel_admin")
    assert steps_of(added["next_steps"], "request_high_risk_panel") == []
    assert added["next_steps"], "adding a case to a panel answers its open steps"
    request = [s for s in await week.done_steps() if s["code"] == "request_high_risk_panel"]
    assert [(s["completed_by"], s["satisfied_by"]["type"]) for s in request] == [
        ("panel_admin-1", "panel_item")]


async def test_S8_views_not_sought_before_the_panel_lapse_at_it_not_done_by_the_chair(
    somerset: Tenant,
) -> None:
    """S8 (6.2): "Child and parent/carer views will be sought before the initial panel": a panel
    that sat without them does not do that step in the chair's name (attack 7, F8); it is missed
    at the sitting (its deadline, fix36e; it was superseded, "overtaken"), so the omission stays
    on record, counted late, without the duty being owed for ever (attack 24b, A24b-4: it
    blocked the closure at the order's end)."""
    week = await FidelityWeek.start(somerset, csc_status="none", weapon_related=False)
    await week.rosh_high()
    await week.book_panel(role="panel_admin", kind="marp")
    body = await week.decide(rosh_level="high", review_date="2026-09-29")
    assert steps_of(body["next_steps"], "seek_child_and_carer_views") == []
    r = await somerset.client.get("/v1/next-steps", params={
        "case_id": week.case_id, "status": "missed"}, headers=somerset.auth("line_manager"))
    [lapsed] = [s for s in r.json()["data"] if s["code"] == "seek_child_and_carer_views"]
    assert (lapsed["actor"], lapsed["policy"]["rule"]) == ("case_holder", "S8")
    assert lapsed["satisfied_by"]["type"] == "panel_item"
    done = [s for s in await week.done_steps() if s["code"] == "seek_child_and_carer_views"]
    assert done == []


async def test_W22_attend_panel_review_is_credited_to_the_presenter(wokingham: Tenant) -> None:
    """W22: "including when should the child be discussed again at the panel": the review the
    panel booked is done by whoever presents the child at the next panel, not by the chair."""
    week = await FidelityWeek.start(wokingham)
    await week.rosh_high()
    await week.request_and_book_panel()
    await week.decide(rosh_level="high", review_date="2026-09-29")
    await week.book_panel(at="2026-09-29T14:00:00+01:00", role="chair",
                          presenter="line_manager-1")
    await week.decide(rosh_level="high", review_date="2026-10-27",
                      at="2026-09-29T16:00:00+01:00")
    reviews = [s for s in await week.done_steps() if s["code"] == "attend_panel_review"]
    assert [(s["completed_by"], s["satisfied_by"]["type"]) for s in reviews] == [
        ("line_manager-1", "panel_item")]


# --- item 3: minutes shared by the Team Manager ---------------------------------------------


async def test_W22_minutes_are_shared_by_the_chair(wokingham: Tenant) -> None:
    """W22: "Minutes of the meeting will be shared by the Team Manager with all those who
    attended": the decision asks the chair to share them (no timescale in the policy)."""
    week = await FidelityWeek.start(wokingham)
    await week.rosh_high()
    await week.request_and_book_panel()
    body = await week.decide(rosh_level="high", review_date="2026-09-29")
    share = steps_of(body["next_steps"], "share_panel_minutes")
    assert [(s["actor"], s["assignee_id"], s["due_at"], s["urgent"], s["policy"], s["subject_id"])
            for s in share] == [
        ("chair", "chair-1", None, False,
         {"pack": WOKINGHAM, "version": "1.0",
          "ref": "High Risk Panel", "rule": "W22"}, week.item_id)]
    upload = steps_of(body["next_steps"], "upload_panel_minutes")
    assert [s["actor"] for s in upload] == ["case_holder"]


# --- item 4: sign-off endorses the judgement ------------------------------------------------


async def test_M4_countersigning_endorses_the_judgements_recorded_with_the_assessment(
    wokingham: Tenant,
) -> None:
    """M4: "By signing off the assessment, the line manager will effectively endorse the
    judgement": countersigning closes the acknowledge_rating_rationale of the judgements
    recorded with that assessment, in the countersigning manager's name."""
    week = await FidelityWeek.start(wokingham)
    body = await week.swb("medium", rationale="Support in place through the CP plan.")
    ack = steps_of(body["next_steps"], "acknowledge_rating_rationale")
    assert [(s["actor"], s["assignee_id"], s["due_at"], s["policy"]["rule"]) for s in ack] == [
        ("line_manager", "line_manager-1", None, "M4")]
    signed = await week.countersign()
    assert steps_of(signed["next_steps"], "acknowledge_rating_rationale") == []
    closed = await week.step(ack[0]["id"])
    assert (closed["status"], closed["completed_by"], closed["satisfied_by"]) == (
        "done", "line_manager-1", {"type": "assessment", "id": week.assessment_id})


async def test_M3_countersigning_leaves_a_rationale_of_another_assessment_open(
    wokingham: Tenant,
) -> None:
    """M3: "the line manager must also acknowledge the rationale when they provide feedback and
    oversight of the assessment": a rationale recorded outside this assessment stays to be
    acknowledged after this countersignature."""
    week = await FidelityWeek.start(wokingham, csc_status="none")
    await week.judge({"domain": "rosh", "level": "low", "impact": "minor", "likelihood": "likely",
                      "rationale": "No weapon carried since the order.",
                      "occurred_at": "2026-08-25T10:00:00+01:00"})
    signed = await week.countersign()
    ack = steps_of(signed["next_steps"], "acknowledge_rating_rationale")
    assert [(s["policy"]["rule"], s["status"]) for s in ack] == [("M3", "open")]


# --- item 5: the matrix is not optional in Wokingham ----------------------------------------


@pytest.mark.parametrize(("missing", "body"), [
    (["body.impact", "body.likelihood"], {}),
    (["body.likelihood"], {"impact": "major"}),
    (["body.impact"], {"likelihood": "likely"}),
])
async def test_M1_wokingham_rosh_without_impact_and_likelihood_is_422(
    wokingham: Tenant, missing: list[str], body: dict[str, Any]
) -> None:
    """M1: "All ROSH assessments must clearly indicate which are the assessed impact and
    likelihood of the harmful event, including for assessments completed using a mini-asset."""
    case = (await wokingham.open_case(intervention="prevention"))["data"]
    r = await wokingham.client.post(f"/v1/cases/{case['id']}/judgements", json={
        "domain": "rosh", "level": "low", "occurred_at": "2026-08-25T10:00:00+01:00", **body},
        headers=wokingham.auth("case_holder"))
    assert r.status_code == 422, r.text
    problem = r.json()
    assert problem["type"].endswith("/matrix-required")
    assert problem["rules"] == ["M1"] * len(missing)
    assert [e["loc"] for e in problem["errors"]] == missing


async def test_M1_somerset_rosh_may_omit_the_matrix(somerset: Tenant) -> None:
    """M1 (Somerset 2.3): the matrix informs the level but Somerset does not require it."""
    case = (await somerset.open_case())["data"]
    r = await somerset.client.post(f"/v1/cases/{case['id']}/judgements", json={
        "domain": "rosh", "level": "low", "occurred_at": "2026-08-25T10:00:00+01:00"},
        headers=somerset.auth("case_holder"))
    assert r.status_code == 201, r.text


# --- item 13: statutory closures are Asset+ -------------------------------------------------


@pytest.mark.parametrize("intervention", ["court_order", "bail", "remand"])
@pytest.mark.parametrize(("stage", "tool"), [
    ("closure", "mini_asset"), ("transfer", "mini_asset"), ("closure", "fact_finding")])
async def test_W3_mini_asset_closure_of_a_statutory_case_is_422(
    wokingham: Tenant, intervention: str, stage: str, tool: str
) -> None:
    """W3: "all statutory Orders, bail and remand cases must have a closure Asset+ or, where
    relevant, a Transfer to Probation Asset+"."""
    case = (await wokingham.open_case(intervention=intervention))["data"]
    r = await wokingham.client.post(f"/v1/cases/{case['id']}/assessments", json={
        "type": tool, "stage": stage, "occurred_at": "2026-08-25T10:00:00+01:00"},
        headers=wokingham.auth("case_holder"))
    assert r.status_code == 422, r.text
    assert r.json()["type"].endswith("/asset-plus-required")
    assert r.json()["rules"] == ["W3"]
    assert [e["loc"] for e in r.json()["errors"]] == ["body.type"]
    ok = await wokingham.client.post(f"/v1/cases/{case['id']}/assessments", json={
        "type": "asset_plus", "stage": stage, "occurred_at": "2026-08-25T10:00:00+01:00"},
        headers=wokingham.auth("case_holder"))
    assert ok.status_code == 201, ok.text


async def test_W3_mini_asset_closes_a_prevention_case(wokingham: Tenant) -> None:
    """W3: "For prevention and diversion cases ... the initial assessment will usually be
    followed by a mini-asset closure"."""
    case = (await wokingham.open_case(intervention="prevention"))["data"]
    r = await wokingham.client.post(f"/v1/cases/{case['id']}/assessments", json={
        "type": "mini_asset", "stage": "closure", "occurred_at": "2026-08-25T10:00:00+01:00"},
        headers=wokingham.auth("case_holder"))
    assert r.status_code == 201, r.text
    assert [s["code"] for s in r.json()["next_steps"]] == ["complete_assessment"]


# --- item 14: every write answers its steps; steps say whether they are overdue -------------


async def test_steps_carry_overdue_in_reads(wokingham: Tenant) -> None:
    """Every read step carries ``overdue``: the Friday incident's record_incident (due Friday 28
    August 2026) is overdue now; the Asset+ review due in November 2026 ... compared with the
    wall clock, so only past-due open steps are."""
    week = await FidelityWeek.start(wokingham)
    await week.incident("2026-08-28T15:00:00+01:00")
    steps = {s["code"]: s for s in await week.open_steps()}
    assert steps["record_incident"]["due_at"] == "2026-08-28T22:59:59Z"
    assert steps["record_incident"]["overdue"] is True
    assert steps["complete_assessment"]["due_at"] is None
    assert steps["complete_assessment"]["overdue"] is False
    listed = await wokingham.client.get("/v1/next-steps", params={"case_id": week.case_id},
                                        headers=wokingham.auth("case_holder"))
    assert {s["code"]: s["overdue"] for s in listed.json()["data"]}["record_incident"] is True


async def test_immediately_is_not_overdue_the_same_day(wokingham: Tenant) -> None:
    """W5: "immediately be reported to the line manager": a step due immediately is late only
    after that day, so one recorded now is not overdue yet."""
    week = await FidelityWeek.start(wokingham)
    r = await wokingham.client.post(f"/v1/cases/{week.case_id}/events",
                                    json={"type": "new_incident"},
                                    headers=wokingham.auth("case_holder"))
    assert r.status_code == 201, r.text
    report = steps_of(r.json()["next_steps"], "report_to_line_manager")
    assert [(s["urgent"], s["overdue"]) for s in report] == [(True, False)]


async def test_adding_a_case_to_a_panel_answers_its_open_steps(wokingham: Tenant) -> None:
    """api-v1: every write answers the case's open steps; adding a case to a panel too."""
    week = await FidelityWeek.start(wokingham)
    await week.rosh_high()
    added = await week.book_panel(role="chair")
    assert {s["code"] for s in added["next_steps"]} == {
        s["code"] for s in await open_steps(wokingham, week.case_id)}
    assert "update_risk_management_plan" in {s["code"] for s in added["next_steps"]}


# --- item 12: "becomes known" and "the last day before a prolonged absence" -----------------


async def test_W4_W5_W6_clocks_count_from_when_the_incident_became_known(
    wokingham: Tenant,
) -> None:
    """W4-W6: "Where there is a change of circumstances, context or a new incident of concern
    becomes known to the PYJS worker, this must be recorded on the IYSS case management system
    within one working day and immediately be reported to the line manager"; "the Asset+ should
    be reviewed within three weeks of the new event becoming known to the case worker". Happened
    Monday 24 August, known Thursday 27 August 10:00."""
    week = await FidelityWeek.start(wokingham)
    body = await week.incident("2026-08-24T10:00:00+01:00", known_at="2026-08-27T10:00:00+01:00")
    assert body["data"]["known_at"] == "2026-08-27T09:00:00Z"
    steps = {s["code"]: s for s in body["next_steps"]}
    assert (steps["record_incident"]["due_at"], steps["record_incident"]["policy"]["rule"]) == (
        "2026-08-28T22:59:59Z", "W4")
    assert (steps["report_to_line_manager"]["due_at"],
            steps["report_to_line_manager"]["urgent"]) == ("2026-08-27T09:00:00Z", True)
    assert steps["review_assessment"]["due_at"] == "2026-09-17T09:00:00Z"


async def test_W4_known_at_defaults_to_occurred_at(wokingham: Tenant) -> None:
    """W4: without known_at the incident became known when it happened (Monday 24 August ->
    recorded by the end of Tuesday 25 August)."""
    week = await FidelityWeek.start(wokingham)
    body = await week.incident("2026-08-24T10:00:00+01:00")
    assert body["data"]["known_at"] == "2026-08-24T09:00:00Z"
    record = steps_of(body["next_steps"], "record_incident")[0]
    assert record["due_at"] == "2026-08-25T22:59:59Z"


async def test_known_at_before_occurred_at_is_422(wokingham: Tenant) -> None:
    """An event cannot become known before it happened."""
    week = await FidelityWeek.start(wokingham)
    r = await wokingham.client.post(f"/v1/cases/{week.case_id}/events", json={
        "type": "new_incident", "occurred_at": "2026-08-26T10:00:00+01:00",
        "known_at": "2026-08-25T10:00:00+01:00"}, headers=wokingham.auth("case_holder"))
    assert r.status_code == 422, r.text
    assert [e["loc"] for e in r.json()["errors"]] == ["body.known_at"]


async def test_W4_last_working_day_before_annual_leave_is_like_a_friday(
    wokingham: Tenant,
) -> None:
    """W4: "If the incident becomes known to the worker on a Friday or the last day before a
    prolonged absence (for example, the last working day before annual leave), it must be
    recorded and reported to their line manager before the end of the working week." The case
    holder is on leave from Thursday 27 August; known Wednesday 26 August 15:00 -> due that
    Wednesday, not Thursday."""
    week = await FidelityWeek.start(wokingham)
    r = await wokingham.client.post("/v1/staff/case_holder-1/absences", json={
        "starts_on": "2026-08-27", "ends_on": "2026-09-04", "reason": "annual leave"},
        headers=wokingham.auth("line_manager"))
    assert r.status_code == 201, r.text
    assert r.json()["data"]["staff_id"] == "case_holder-1"
    body = await week.incident("2026-08-26T15:00:00+01:00")
    record = steps_of(body["next_steps"], "record_incident")[0]
    assert (record["due_at"], record["actor"], record["policy"]["ref"]) == (
        "2026-08-26T22:59:59Z", "case_holder", "Internal and External Controls")


async def test_W4_leave_after_the_next_working_day_changes_nothing(wokingham: Tenant) -> None:
    """W4: leave that starts after the next working day does not shorten the one working day."""
    week = await FidelityWeek.start(wokingham)
    r = await wokingham.client.post("/v1/staff/case_holder-1/absences", json={
        "starts_on": "2026-08-28", "ends_on": "2026-09-04"},
        headers=wokingham.auth("duty_manager"))
    assert r.status_code == 201, r.text
    body = await week.incident("2026-08-26T15:00:00+01:00")
    assert steps_of(body["next_steps"], "record_incident")[0]["due_at"] == "2026-08-27T22:59:59Z"


@pytest.mark.parametrize("role", ["case_holder", "chair", "panel_admin"])
async def test_only_managers_record_absences(wokingham: Tenant, role: str) -> None:
    """Absences are recorded by managers (403 for others)."""
    r = await wokingham.client.post("/v1/staff/case_holder-1/absences", json={
        "starts_on": "2026-08-27", "ends_on": "2026-09-04"}, headers=wokingham.auth(role))
    assert r.status_code == 403, r.text


async def test_absence_ending_before_it_starts_is_422(wokingham: Tenant) -> None:
    """An absence's last day cannot precede its first (recorded by a duty manager: a line
    manager of none of the worker's cases is refused before the body is read, ATK28A-3)."""
    r = await wokingham.client.post("/v1/staff/case_holder-1/absences", json={
        "starts_on": "2026-09-04", "ends_on": "2026-08-27"},
        headers=wokingham.auth("duty_manager"))
    assert r.status_code == 422, r.text


# --- item 8: a message from MAPPA is not the service's own notification ---------------------


async def test_W16_mappa_h_received_from_the_feed_leaves_the_notification_open(
    wokingham: Tenant,
) -> None:
    """W16: "The PYJS should notify the Central MAPPA Unit ... of all MAPPA eligible young people
    using the MAPPA H form": a MAPPA H received through the MAPPA feed is MAPPA's message, not the
    service's notification, so the case holder's step stays open."""
    case = (await wokingham.open_case(external_ref={"system": "IYSS", "id": "W16-feed"},
                                      mappa_category=1,
                                      opened_at="2026-08-24T09:00:00+01:00"))["data"]
    notify = steps_of(await open_steps(wokingham, case["id"]), "mappa_h_notification")
    assert [(s["actor"], s["due_at"], s["urgent"]) for s in notify] == [
        ("case_holder", "2026-08-24T08:00:00Z", True)]
    r = await wokingham.client.post(
        "/v1/feeds/mappa/referrals",
        json={"case_external_ref": {"system": "IYSS", "id": "W16-feed"}, "kind": "mappa_h",
              "received_at": "2026-08-25T10:15:00+01:00", "details": {}},
        headers={**wokingham.auth("feed", "mappa-feed", scope="feed:mappa"),
                 "Idempotency-Key": "w16-feed-0001"})
    assert r.status_code == 201, r.text
    still = steps_of(r.json()["next_steps"], "mappa_h_notification")
    assert [s["id"] for s in still] == [notify[0]["id"]]
    assert all(s["code"] != "quality_assure_mappa_form" for s in r.json()["next_steps"])


# --- item 11: panel decisions are dated at the panel ----------------------------------------


async def test_W22_decision_without_occurred_at_is_dated_at_the_panels_start(
    wokingham: Tenant,
) -> None:
    """W22: "At the end of the Panel, a specific action plan and risk classification should be
    agreed, including when should the child be discussed again": minutes written up after the
    meeting date the decision at the panel's start (Tuesday 1 September 2026, 14:00 BST), so a
    review date after the panel is accepted and the review is due at its end."""
    week = await FidelityWeek.start(wokingham)
    await week.rosh_high()
    await week.request_and_book_panel()
    r = await wokingham.client.post(
        f"/v1/panels/{week.panel_id}/items/{week.item_id}/decision",
        json={"rosh_level": "high", "review_date": "2026-09-29", "minutes": "Discussed.",
              "actions": [{"description": "Curfew check", "owner_id": "case_holder-1",
                           "due_date": "2026-09-08"}]},
        headers=wokingham.auth("chair"))
    assert r.status_code == 200, r.text
    assert r.json()["data"]["decided_at"] == "2026-09-01T13:00:00Z"
    review = steps_of(r.json()["next_steps"], "attend_panel_review")
    assert [(s["due_at"], s["policy"]["rule"]) for s in review] == [
        ("2026-09-29T22:59:59Z", "W22")]
    judgements = await wokingham.client.get(f"/v1/cases/{week.case_id}/judgements",
                                            headers=wokingham.auth("line_manager"))
    assert judgements.json()["data"][0]["occurred_at"] == "2026-09-01T13:00:00Z"


async def test_W22_decision_dated_before_the_panel_starts_is_409(wokingham: Tenant) -> None:
    """W22: a decision is made at the panel: dated before it starts it is 409, naming both."""
    week = await FidelityWeek.start(wokingham)
    await week.rosh_high()
    await week.request_and_book_panel()
    r = await wokingham.client.post(
        f"/v1/panels/{week.panel_id}/items/{week.item_id}/decision",
        json={"rosh_level": "high", "review_date": "2026-09-29", "minutes": "Early.",
              "occurred_at": "2026-09-01T13:30:00+01:00"}, headers=wokingham.auth("chair"))
    assert r.status_code == 409, r.text
    problem = r.json()
    assert problem["type"].endswith("/decision-before-panel")
    assert "2026-09-01T13:00:00Z" in problem["detail"]  # UTC with Z (A12-5)
    assert "12:30" not in problem["detail"]  # the time sent is not echoed


async def test_W22_decision_on_a_panel_not_yet_started_is_409(wokingham: Tenant) -> None:
    """W22: a panel booked for next year has not sat: its decision cannot be recorded now."""
    week = await FidelityWeek.start(wokingham)
    await week.rosh_high()
    await week.book_panel(at="2027-09-01T14:00:00+01:00")
    r = await wokingham.client.post(
        f"/v1/panels/{week.panel_id}/items/{week.item_id}/decision",
        json={"rosh_level": "high", "review_date": "2027-09-29", "minutes": "Not yet."},
        headers=wokingham.auth("chair"))
    assert r.status_code == 409, r.text
    assert r.json()["type"].endswith("/decision-before-panel")
    assert r.json()["panel_starts_at"] == "2027-09-01T13:00:00Z"
    assert "+00:00" not in r.json()["detail"]


async def test_W22_review_date_error_names_the_panels_date(wokingham: Tenant) -> None:
    """W22: a review date on or before the panel's own date is 422, naming that date."""
    week = await FidelityWeek.start(wokingham)
    await week.rosh_high()
    await week.request_and_book_panel()
    r = await wokingham.client.post(
        f"/v1/panels/{week.panel_id}/items/{week.item_id}/decision",
        json={"rosh_level": "high", "review_date": "2026-09-01", "minutes": "Discussed.",
              "occurred_at": "2026-09-02T10:00:00+01:00"}, headers=wokingham.auth("chair"))
    assert r.status_code == 422, r.text
    assert r.json()["errors"] == [{"loc": "body.review_date",
                                   "msg": "must be after the panel's date (2026-09-01)"}]


# --- item 10: a release date means custody; a missing deadline says why ---------------------


async def test_W16_category_2_with_a_future_release_date_is_due_six_months_before(
    wokingham: Tenant,
) -> None:
    """W16: "Category 2 referrals (i.e. for children in custody), the referral into MAPPA must be
    completed six months prior to their release into the community": a case opened with a future
    release date (1 June 2027) and no in_custody is in custody; due end of 1 December 2026."""
    case = (await wokingham.open_case(mappa_category=2, expected_release_date="2027-06-01",
                                      opened_at="2026-08-24T09:00:00+01:00"))["data"]
    assert case["in_custody"] is True
    notify = steps_of(await open_steps(wokingham, case["id"]), "mappa_h_notification")
    assert [(s["actor"], s["due_at"], s["urgent"], s["policy"]["rule"]) for s in notify] == [
        ("case_holder", "2026-12-01T23:59:59Z", False, "W16")]


async def test_W16_release_date_stated_not_in_custody_says_why_there_is_no_deadline(
    wokingham: Tenant,
) -> None:
    """W16: where the request says the child is not in custody, no deadline can be computed, and
    the step's note says what is missing."""
    case = (await wokingham.open_case(mappa_category=2, expected_release_date="2027-06-01",
                                      in_custody=False,
                                      opened_at="2026-08-24T09:00:00+01:00"))["data"]
    notify = steps_of(await open_steps(wokingham, case["id"]), "mappa_h_notification")[0]
    assert notify["due_at"] is None
    assert "not recorded as in custody" in notify["note"]


async def test_W16_release_date_patched_later_implies_custody_and_dates_the_step(
    wokingham: Tenant,
) -> None:
    """W16: the release date recorded later (PATCH, no in_custody) puts the child in custody and
    dates the open notification six months before release."""
    case = (await wokingham.open_case(mappa_category=2,
                                      opened_at="2026-08-24T09:00:00+01:00"))["data"]
    first = steps_of(await open_steps(wokingham, case["id"]), "mappa_h_notification")[0]
    assert first["due_at"] is None
    assert "not recorded as in custody" in first["note"]
    url = f"/v1/cases/{case['id']}"
    etag = (await wokingham.client.get(url, headers=wokingham.auth("line_manager"))).headers[
        "etag"]
    r = await wokingham.client.patch(url, json={"expected_release_date": "2027-06-01",
                                                "occurred_at": "2026-08-26T10:00:00+01:00"},
                                     headers={**wokingham.auth("line_manager"), "If-Match": etag})
    assert r.status_code == 200, r.text
    assert r.json()["data"]["in_custody"] is True
    notify = steps_of(r.json()["next_steps"], "mappa_h_notification")
    assert [(s["id"], s["due_at"]) for s in notify] == [(first["id"], "2026-12-01T23:59:59Z")]


async def test_W16_category_3_says_the_policy_sets_no_timescale(wokingham: Tenant) -> None:
    """W16: "notify ... all MAPPA eligible young people using the MAPPA H form" names no
    timescale for category 3: due_at null, and the note says so."""
    case = (await wokingham.open_case(mappa_category=3,
                                      opened_at="2026-08-24T09:00:00+01:00"))["data"]
    notify = steps_of(await open_steps(wokingham, case["id"]), "mappa_h_notification")[0]
    assert notify["due_at"] is None
    assert "no timescale" in notify["note"]


# --- item 7: the MARF clock -----------------------------------------------------------------


async def test_W9_marf_clock_starts_when_the_assessment_is_countersigned(
    wokingham: Tenant,
) -> None:
    """W9: "If a child with high or very high SWB concerns is not already open to Children Social
    Care, within two working days of the assessment being completed the PYJS case worker must
    complete a MARF referral"; "An assessment ... is not considered complete until it has been
    counter signed by a line manager". SWB high with the Asset+ on Tuesday 25 August; countersigned
    Friday 28 August -> due end of Wednesday 2 September (Monday 31 August is a bank holiday)."""
    week = await FidelityWeek.start(wokingham, csc_status="none", weapon_related=False)
    body = await week.swb("high", rationale=None)
    marf = steps_of(body["next_steps"], "marf_referral")
    assert [(s["actor"], s["due_at"], s["policy"]["rule"]) for s in marf] == [
        ("case_holder", None, "W9")]
    assert "countersigned" in marf[0]["note"]
    signed = await week.countersign(at="2026-08-28T11:00:00+01:00")
    marf = steps_of(signed["next_steps"], "marf_referral")
    assert [(s["id"], s["due_at"]) for s in marf] == [(marf[0]["id"], "2026-09-02T22:59:59Z")]
    assert [r["trigger"] for r in marf[0]["reasons"]] == [
        "judgement_recorded", "assessment_countersigned"]


async def test_W9_marf_without_an_assessment_waits_for_the_next_countersignature(
    wokingham: Tenant,
) -> None:
    """W9: "within two working days of the assessment being completed"; "An assessment ... is
    not considered complete until it has been counter signed by a line manager". A SWB judgement
    recorded without its assessment (Friday 28 August 2026) sets no deadline yet, and says why;
    the Asset+ countersigned on Tuesday 1 September completes it: due the end of Thursday 3
    September (not Wednesday 2 September, two working days from the judgement)."""
    week = await FidelityWeek.start(wokingham, csc_status="none", weapon_related=False)
    body = await week.judge({"domain": "swb", "level": "high",
                             "occurred_at": "2026-08-28T10:00:00+01:00"})
    marf = steps_of(body["next_steps"], "marf_referral")
    assert [(s["actor"], s["due_at"], s["policy"]["rule"]) for s in marf] == [
        ("case_holder", None, "W9")]
    assert "recorded without its assessment" in marf[0]["note"]
    signed = await week.countersign(at="2026-09-01T11:00:00+01:00")
    assert [(s["id"], s["due_at"]) for s in steps_of(signed["next_steps"], "marf_referral")] == [
        (marf[0]["id"], "2026-09-03T22:59:59Z")]


async def test_W9_marf_with_a_countersigned_assessment_counts_from_its_countersignature(
    wokingham: Tenant,
) -> None:
    """W9: "within two working days of the assessment being completed": the SWB judgement of an
    Asset+ countersigned on Wednesday 26 August, recorded (back-dated to Tuesday 25 August) on
    Friday 28 August, counts from the countersignature: due the end of Friday 28 August, not of
    Thursday 27 August (two working days from the judgement) nor of Wednesday 2 September (two
    from its recording, over the bank holiday)."""
    week = await FidelityWeek.start(wokingham, csc_status="none", weapon_related=False)
    await week.countersign()  # Wednesday 26 August 11:00
    body = await week.swb("high", rationale=None)  # occurred Tuesday 25 August 10:05
    marf = steps_of(body["next_steps"], "marf_referral")
    assert [(s["actor"], s["due_at"], s["policy"]["rule"]) for s in marf] == [
        ("case_holder", "2026-08-28T22:59:59Z", "W9")]


async def test_W9_another_assessments_countersignature_does_not_start_the_marf_clock(
    wokingham: Tenant,
) -> None:
    """W9: "within two working days of the assessment being completed": the clock waits for the
    assessment the SWB judgement belongs to. A transfer Asset+ countersigned on Wednesday 26
    August leaves the MARF undated; the start Asset+ with the SWB judgement, countersigned on
    Friday 28 August, dates it (Wednesday 2 September, Monday 31 August a bank holiday)."""
    week = await FidelityWeek.start(wokingham, csc_status="none", weapon_related=False)
    other = await week.assessment("review", "2026-08-24T11:00:00+01:00")
    body = await week.swb("high", rationale=None)
    marf = steps_of(body["next_steps"], "marf_referral")
    assert [s["due_at"] for s in marf] == [None]
    signed = await week.countersign(other["id"], at="2026-08-26T11:00:00+01:00")
    assert [s["due_at"] for s in steps_of(signed["next_steps"], "marf_referral")] == [None]
    signed = await week.countersign(at="2026-08-28T11:00:00+01:00")
    assert [(s["id"], s["due_at"]) for s in steps_of(signed["next_steps"], "marf_referral")] == [
        (marf[0]["id"], "2026-09-02T22:59:59Z")]


# --- item 9: serious incidents in Wokingham -------------------------------------------------


@pytest.mark.parametrize("event_type", ["charged", "death"])
async def test_W24_serious_incident_notification_for_management(
    wokingham: Tenant, event_type: str
) -> None:
    """W24 (Management oversight): "Management reporting of serious incidents in line with YJB
    guidance": a child charged (or who dies) while open asks management (the chair) to notify the
    YJB; the national timescale is not set locally, so due_at is null with a note."""
    week = await FidelityWeek.start(wokingham)
    body = await week.post(f"/v1/cases/{week.case_id}/events",
                           {"type": event_type, "occurred_at": "2026-08-28T15:00:00+01:00"})
    notify = steps_of(body["next_steps"], "notify_serious_incident")
    assert [(s["actor"], s["assignee_id"], s["due_at"], s["policy"]) for s in notify] == [
        ("chair", None, None,
         {"pack": WOKINGHAM, "version": "1.0", "ref": "Management oversight", "rule": "W24"})]
    assert "YJB serious incidents notification SOP" in notify[0]["note"]
    report = steps_of(body["next_steps"], "report_to_line_manager")
    assert [(s["due_at"], s["urgent"]) for s in report] == [("2026-08-28T14:00:00Z", True)]
    done = await week.complete(notify[0]["id"], "chair")
    assert steps_of(done["next_steps"], "notify_serious_incident") == []
    closed = await week.step(notify[0]["id"])
    assert (closed["status"], closed["completed_by"]) == ("done", "chair-1")


async def test_W24_not_for_an_ordinary_incident(wokingham: Tenant) -> None:
    """W24: a new incident that is not a charge or death is no serious incident notification."""
    week = await FidelityWeek.start(wokingham)
    body = await week.incident("2026-08-28T15:00:00+01:00")
    assert steps_of(body["next_steps"], "notify_serious_incident") == []


# --- item 6: floors apply when the facts change ---------------------------------------------


async def _patch(t: Tenant, case_id: str, body: dict[str, Any]) -> dict[str, Any]:
    url = f"/v1/cases/{case_id}"
    etag = (await t.client.get(url, headers=t.auth("line_manager"))).headers["etag"]
    r = await t.client.patch(url, json=body, headers={**t.auth("line_manager"), "If-Match": etag})
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


async def test_M4_child_put_on_a_cp_plan_asks_to_review_a_lower_swb(wokingham: Tenant) -> None:
    """M4: "a child who is on a Child Protection plan is likely to have a starting SWB concern of
    at least high": SWB medium, then a CP plan (Thursday 27 August) asks the case holder to review
    the SWB rating; the next SWB judgement closes it, in the recorder's name."""
    week = await FidelityWeek.start(wokingham, csc_status="none", weapon_related=False)
    swb = await week.swb("medium", rationale=None)
    changed = await _patch(wokingham, week.case_id, {
        "csc_status": "cp", "occurred_at": "2026-08-27T10:00:00+01:00"})
    review = steps_of(changed["next_steps"], "review_rating")
    assert [(s["actor"], s["assignee_id"], s["due_at"], s["policy"], s["subject_id"])
            for s in review] == [
        ("case_holder", "case_holder-1", None,
         {"pack": WOKINGHAM, "version": "1.0",
          "ref": "SWB for children open to Children Social Care", "rule": "M4"},
         swb["data"]["id"])]
    again = await week.judge({"domain": "swb", "level": "high",
                              "occurred_at": "2026-08-28T10:00:00+01:00"})
    assert steps_of(again["next_steps"], "review_rating") == []
    closed = await week.step(review[0]["id"])
    assert (closed["status"], closed["completed_by"], closed["satisfied_by"]["type"]) == (
        "done", "case_holder-1", "judgement")


async def test_M4_cin_floor_is_medium(wokingham: Tenant) -> None:
    """M4: "For children in care (CIC) or children in need (CIN) ... at least medium": SWB medium
    meets it (no review); SWB low does not."""
    week = await FidelityWeek.start(wokingham, csc_status="none", weapon_related=False)
    await week.swb("medium", rationale=None)
    changed = await _patch(wokingham, week.case_id, {
        "csc_status": "cin", "occurred_at": "2026-08-27T10:00:00+01:00"})
    assert steps_of(changed["next_steps"], "review_rating") == []
    other = await FidelityWeek.start(wokingham, csc_status="none", weapon_related=False)
    await other.swb("low", rationale=None)
    changed = await _patch(wokingham, other.case_id, {
        "csc_status": "cic", "occurred_at": "2026-08-27T10:00:00+01:00"})
    assert [s["policy"]["rule"] for s in steps_of(changed["next_steps"], "review_rating")] == [
        "M4"]


async def test_M3_case_found_weapon_related_asks_to_review_a_low_rosh(wokingham: Tenant) -> None:
    """M3: "a child who is involved with weapon related offending or incidents is likely to have
    a starting ROSH of at least medium": ROSH low, then weapon_related set, asks for a ROSH review
    citing "ROSH for knife offences"; an SWB judgement does not close it, a ROSH one does."""
    week = await FidelityWeek.start(wokingham, csc_status="none", weapon_related=False)
    rosh = await week.rosh("low", "2026-08-25T10:00:00+01:00")
    changed = await _patch(wokingham, week.case_id, {
        "weapon_related": True, "occurred_at": "2026-08-27T10:00:00+01:00"})
    review = steps_of(changed["next_steps"], "review_rating")
    assert [(s["policy"]["rule"], s["policy"]["ref"], s["subject_id"]) for s in review] == [
        ("M3", "ROSH for knife offences", rosh["data"]["id"])]
    swb = await week.swb("low", rationale=None)
    assert [s["id"] for s in steps_of(swb["next_steps"], "review_rating")] == [review[0]["id"]]
    again = await week.rosh("medium", "2026-08-28T10:00:00+01:00")
    assert steps_of(again["next_steps"], "review_rating") == []


async def test_M3_the_judgement_answering_the_floor_review_is_a_starting_one(
        wokingham: Tenant) -> None:
    """M3 ("ROSH for knife offences": "if the context and circumstances of the child are such that
    the case worker assesses their initial ROSH to be low, this must be clearly explained in the
    evidence box and the line manager must also acknowledge the rationale"; attack pass 17,
    A17-16 keeps it for the starting judgement only): ROSH low on Tuesday 25 August 2026, the case
    found weapon-related on Thursday 27 August; the ROSH judgement answering the review on Friday
    28 August is the starting one under the new fact: low needs the rationale and the line
    manager's acknowledgement."""
    week = await FidelityWeek.start(wokingham, csc_status="none", weapon_related=False)
    await week.rosh("low", "2026-08-25T10:00:00+01:00")
    await _patch(wokingham, week.case_id, {
        "weapon_related": True, "occurred_at": "2026-08-27T10:00:00+01:00"})
    url = f"/v1/cases/{week.case_id}/judgements"
    body = with_matrix(wokingham.pack, {"domain": "rosh", "level": "low",
                                        "assessment_id": week.assessment_id,
                                        "occurred_at": "2026-08-28T10:00:00+01:00"})
    problem = await week.post(url, body, status=422)
    assert problem["type"].endswith("/rationale-required")
    ok = await week.post(url, {**body, "rationale": "Knife found at home; no carrying since."})
    [ack] = steps_of(ok["next_steps"], "acknowledge_rating_rationale")
    assert ack["policy"]["rule"] == "M3"


async def test_M3_review_is_superseded_when_the_fact_is_withdrawn(wokingham: Tenant) -> None:
    """M3: the weapon flag recorded in error and removed: the review is no longer justified."""
    week = await FidelityWeek.start(wokingham, csc_status="none", weapon_related=False)
    await week.rosh("low", "2026-08-25T10:00:00+01:00")
    await _patch(wokingham, week.case_id, {"weapon_related": True,
                                           "occurred_at": "2026-08-27T10:00:00+01:00"})
    undone = await _patch(wokingham, week.case_id, {"weapon_related": False,
                                                    "occurred_at": "2026-08-27T11:00:00+01:00"})
    assert steps_of(undone["next_steps"], "review_rating") == []


async def test_M4_unknown_rating_asks_for_no_floor_review(wokingham: Tenant) -> None:
    """M4: with no SWB rating yet there is nothing to review (the first judgement is checked)."""
    week = await FidelityWeek.start(wokingham, csc_status="none", weapon_related=False)
    changed = await _patch(wokingham, week.case_id, {
        "csc_status": "cp", "occurred_at": "2026-08-27T10:00:00+01:00"})
    assert steps_of(changed["next_steps"], "review_rating") == []


# --- the whole week -------------------------------------------------------------------------


async def test_the_week_ends_with_one_open_step_per_duty(wokingham: Tenant) -> None:
    """The issue's week, as the workers live it: Asset+, ROSH high with the matrix and SWB,
    countersignature, an incident on Friday 28 August (before the bank holiday), a High-Risk Panel
    requested, booked and held, a decision, MAPPA category 2 with a release date. Every duty is
    one open step (record_incident and report_to_line_manager are per incident), and nothing
    the chair did closed a step in someone else's name."""
    week = await FidelityWeek.start(wokingham)
    await week.rosh_high()
    await week.swb("high", rationale=None)
    await week.countersign()
    await week.request_and_book_panel()
    await week.incident("2026-08-28T15:00:00+01:00", may_raise_to_high=True)
    await week.decide(rosh_level="high", review_date="2026-09-29")
    await _patch(wokingham, week.case_id, {"mappa_category": 2,
                                           "expected_release_date": "2027-06-01",
                                           "occurred_at": "2026-09-02T10:00:00+01:00"})
    steps = await week.open_steps()
    codes = [s["code"] for s in steps]
    # The release date puts the child in custody: a change of circumstances of its own (attack
    # pass 14, A14-4/A14-21), recorded as the incident was (one step per change); the line
    # manager made the change, so there is nothing to report to them (A14-16 l).
    assert sorted(c for c in set(codes) if codes.count(c) > 1) == ["record_incident"]
    assert codes.count("record_incident") == 2
    assert {"update_risk_management_plan", "review_assessment", "attend_panel_review",
            "share_panel_minutes", "upload_panel_minutes", "mappa_h_notification"} <= set(codes)
    assert "request_high_risk_panel" not in codes
    notify = steps_of(steps, "mappa_h_notification")[0]
    assert notify["due_at"] == "2026-12-01T23:59:59Z"
    for step in await week.done_steps():
        if step["actor"] == "case_holder":
            assert step["completed_by"] == "case_holder-1", step
        if step["actor"] == "chair":
            assert step["completed_by"] == "chair-1", step


async def test_W4_leave_recorded_after_the_incident_brings_its_deadline_forward(
    wokingham: Tenant,
) -> None:
    """W4: "the last working day before annual leave" holds for a step already open: the
    incident known Wednesday 26 August (due Thursday), then leave from Thursday recorded: due
    Wednesday; a step not cut short (W6, three weeks) keeps its date."""
    week = await FidelityWeek.start(wokingham)
    body = await week.incident("2026-08-24T10:00:00+01:00", known_at="2026-08-26T15:00:00+01:00")
    record = steps_of(body["next_steps"], "record_incident")[0]
    assert record["due_at"] == "2026-08-27T22:59:59Z"
    r = await wokingham.client.post("/v1/staff/case_holder-1/absences", json={
        "starts_on": "2026-08-27", "ends_on": "2026-09-04"},
        headers=wokingham.auth("line_manager"))
    assert r.status_code == 201, r.text
    steps = {s["code"]: s for s in await week.open_steps()}
    assert steps["record_incident"]["id"] == record["id"]
    assert steps["record_incident"]["due_at"] == "2026-08-26T22:59:59Z"
    assert "absence" in steps["record_incident"]["note"]
    assert steps["review_assessment"]["due_at"] == "2026-09-16T14:00:00Z"


async def test_S18_submitted_review_stage_does_the_case_holders_step(somerset: Tenant) -> None:
    """S18 (7.1.3): "Should there be actions as an outcome from the MARP meeting; the case holder
    will complete a Review Stage to incorporate them into the current plan which will be
    countersigned by a line-manager": the submitted Review Stage does the case holder's step (in
    the author's name); its countersignature closes the countersign steps."""
    week = await FidelityWeek.start(somerset, csc_status="none", weapon_related=False)
    await week.rosh_high()
    await week.book_panel(role="panel_admin", kind="marp")
    body = await week.decide(rosh_level="high", review_date="2026-09-29", actions=[
        {"description": "Curfew check", "owner_id": "case_holder-1", "due_date": "2026-09-08"}])
    assert len(steps_of(body["next_steps"], "complete_review_stage")) == 1
    review = await week.assessment("review", "2026-09-02T10:00:00+01:00")
    submitted = await week.post(f"/v1/assessments/{review['id']}/submit",
                                {"occurred_at": "2026-09-03T10:00:00+01:00"}, status=200)
    assert steps_of(submitted["next_steps"], "complete_review_stage") == []
    countersign = steps_of(submitted["next_steps"], "countersign_assessment")
    # One countersignature, opened now that the Review Stage exists, citing 7.1.3 and S4 (5, 3.1).
    assert [(s["policy"]["rule"], [r["rule"] for r in s["reasons"]]) for s in countersign] == [
        ("S18", ["S18", "S4"])]
    done = [s for s in await week.done_steps() if s["code"] == "complete_review_stage"]
    assert [(s["completed_by"], s["satisfied_by"]["type"]) for s in done] == [
        ("case_holder-1", "assessment")]
    signed = await week.post(f"/v1/assessments/{review['id']}/countersign",
                             {"feedback": "Agreed.", "occurred_at": "2026-09-04T10:00:00+01:00"},
                             "line_manager", 200)
    assert steps_of(signed["next_steps"], "countersign_assessment") == []


async def test_S3_S14_somerset_review_is_one_step_and_the_merge_is_audited(
    somerset: Tenant,
) -> None:
    """S3 + S14 (2.1, 4.2): "AssetPlus assessment will be reviewed maximum 12 weekly (or sooner
    upon any significant change becoming known)"; "Case holders will review AssetPlus as soon as
    possible (within 24 hrs/next working day)": with ROSH medium and a countersigned Asset+ (12
    weeks), a change of circumstances known Friday 28 August is one review step due Tuesday 1
    September (the next working day after the bank holiday); the audit shows the merge."""
    week = await FidelityWeek.start(somerset, csc_status="none", weapon_related=False)
    await week.rosh("medium", "2026-08-25T10:00:00+01:00")
    await week.countersign()
    event = await week.post(f"/v1/cases/{week.case_id}/events", {
        "type": "change_of_circumstances", "occurred_at": "2026-08-28T15:00:00+01:00"})
    reviews = steps_of(event["next_steps"], "review_assessment")
    assert [(s["due_at"], [r["rule"] for r in s["reasons"]]) for s in reviews] == [
        ("2026-09-01T22:59:59Z", ["S3", "S14"])]
    r = await somerset.client.get(f"/v1/cases/{week.case_id}/audit", params={"limit": 200},
                                  headers=somerset.auth("line_manager"))
    assert r.status_code == 200, r.text
    redated = [e for e in r.json()["data"] if e["action"] == "step.redate"
               and e["entity_id"] == reviews[0]["id"]]
    assert len(redated) == 1


@pytest.mark.parametrize(("role", "sub", "status"), [
    ("line_manager", "line_manager-1", 201),   # manages case_holder-1's case
    ("line_manager", "line_manager-9", 403),   # manages none of case_holder-1's cases
    ("duty_manager", "duty_manager-4", 201),   # any worker of the service
])
async def test_W4_only_the_workers_own_manager_or_a_duty_manager_records_their_absence(
        wokingham: Tenant, role: str, sub: str, status: int) -> None:
    """W4 ("on a Friday or the last day before a prolonged absence ... before the end of the
    working week"): an absence brings case_holder-1's in-week deadlines forward, so only a line
    manager of one of their cases, or a duty manager, records it. Refused (403), the incident
    of Wednesday 26 August 2026 is due at the end of Thursday 27 August as without leave;
    recorded, at the end of Wednesday. A line manager may record their own absence."""
    week = await FidelityWeek.start(wokingham)
    r = await wokingham.client.post("/v1/staff/case_holder-1/absences", json={
        "starts_on": "2026-08-27", "ends_on": "2026-09-04", "reason": "annual leave"},
        headers=wokingham.auth(role, sub))
    assert r.status_code == status, r.text
    body = await week.incident("2026-08-26T15:00:00+01:00")
    due = steps_of(body["next_steps"], "record_incident")[0]["due_at"]
    assert due == ("2026-08-26T22:59:59Z" if status == 201 else "2026-08-27T22:59:59Z")
    own = await wokingham.client.post("/v1/staff/line_manager-9/absences", json={
        "starts_on": "2026-12-21", "ends_on": "2026-12-24"},
        headers=wokingham.auth("line_manager", "line_manager-9"))
    assert own.status_code == 201, own.text


async def test_W4_a_closed_case_does_not_make_its_manager_the_workers_manager(
        wokingham: Tenant) -> None:
    """W4: a line manager whose only case with case_holder-7 closed on Friday 28 August 2026
    no longer manages them: recording their absence is 403 (it would bring their in-week
    deadlines forward); a duty manager records it."""
    # A prevention case: it closes without the closure Asset+ an Order needs (W3).
    case = (await wokingham.open_case(case_holder_id="case_holder-7",
                                      line_manager_id="line_manager-7",
                                      intervention="prevention"))["data"]
    url = f"/v1/cases/{case['id']}"
    manager = wokingham.auth("line_manager", "line_manager-7")
    tag = (await wokingham.client.get(url, headers=manager)).headers["etag"]
    r = await wokingham.client.patch(url, json={"closed_at": "2026-08-28T15:00:00+01:00",
                                                "closure_reason": "Order completed"},
                                     headers={**manager, "If-Match": tag})
    assert r.status_code == 200, r.text
    leave = {"starts_on": "2026-09-07", "ends_on": "2026-09-11", "reason": "annual leave"}
    r = await wokingham.client.post("/v1/staff/case_holder-7/absences", json=leave,
                                    headers=manager)
    assert r.status_code == 403, r.text
    r = await wokingham.client.post("/v1/staff/case_holder-7/absences", json=leave,
                                    headers=wokingham.auth("duty_manager"))
    assert r.status_code == 201, r.text


@pytest.mark.parametrize(("starts_on", "ends_on", "due_at", "why"), [
    ("2026-08-27", "2026-08-27", "2026-08-27T22:59:59Z", "one day (an appointment)"),
    ("2026-08-27", "2026-08-28", "2026-08-26T22:59:59Z", "two working days"),
    # Friday 28 August and the bank holiday Monday 31 August: one working day, two weekdays
    # away: prolonged, due the Thursday (attack 32c, ATTACK32C-12; before, due the Friday).
    ("2026-08-28", "2026-08-31", "2026-08-27T22:59:59Z", "a day and a bank holiday"),
])
async def test_W4_only_a_prolonged_absence_ends_the_week_early(
        wokingham: Tenant, starts_on: str, ends_on: str, due_at: str, why: str) -> None:
    """W4 (Internal and External Controls): "If the incident becomes known to the worker on a
    Friday or the last day before a prolonged absence (for example, the last working day before
    annual leave), it must be recorded and reported to their line manager before the end of the
    working week." An incident known on Wednesday 26 August 2026, 15:00 BST (or Thursday 27th
    for the bank-holiday case), is due the next working day unless the worker is then away
    for a prolonged absence (two working days or more, the pack's reading: attack pass 9,
    A9-12), whether the absence is recorded before the incident or after it."""
    known = "2026-08-27T15:00:00+01:00" if starts_on == "2026-08-28" else \
        "2026-08-26T15:00:00+01:00"
    for absence_first in (True, False):
        holder = f"case_holder-w4-{int(absence_first)}-{starts_on}-{ends_on}"
        case_id = (await wokingham.open_case(case_holder_id=holder,
                                             opened_at="2026-08-24T09:00:00+01:00"))["data"]["id"]
        absence = {"starts_on": starts_on, "ends_on": ends_on, "reason": why}
        if absence_first:  # before the holder's first act: a duty manager records it (A13-4)
            r = await wokingham.client.post(f"/v1/staff/{holder}/absences", json=absence,
                                            headers=wokingham.auth("duty_manager"))
            assert r.status_code == 201, r.text
        r = await wokingham.client.post(f"/v1/cases/{case_id}/events",
                                        json={"type": "new_incident", "occurred_at": known},
                                        headers=wokingham.auth("case_holder", holder))
        assert r.status_code == 201, r.text
        [record] = steps_of(r.json()["next_steps"], "record_incident")
        if not absence_first:
            r = await wokingham.client.post(f"/v1/staff/{holder}/absences", json=absence,
                                            headers=wokingham.auth("line_manager"))
            assert r.status_code == 201, r.text
            [record] = [s for s in await open_steps(wokingham, case_id)
                        if s["id"] == record["id"]]
        assert (record["due_at"], record["actor"], record["assignee_id"]) == (
            due_at, "case_holder", holder), (why, absence_first)
        assert record["policy"]["ref"] == "Internal and External Controls"
        assert record["policy"]["rule"] == "W4"
