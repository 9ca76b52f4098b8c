"""Case events through HTTP, on real calendar dates (Fridays, bank holidays, clock changes).

Rules: S14, S23-S28 (Somerset); W4-W7, W13-W16, W20, W21 (Wokingham).
2026 bank holidays used: Good Friday 3 April, Easter Monday 6 April, late summer 31 August.
British Summer Time runs from 29 March to 25 October 2026 (end of day = 22:59:59Z).
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.api.fidelity_support import with_matrix
from tests.api.integrity_support import assert_problem
from tests.api.test_assessments import case_steps, codes, the_step
from tests.conftest import Tenant, make_tenant

SOMERSET = "somerset-yjt-2023"
WOKINGHAM = "wokingham-pyjs-2024"


async def post_event(t: Tenant, case_id: str, role: str = "case_holder", **body: Any) -> Any:
    """Record an event; answers the decoded 201 body."""
    r = await t.client.post(f"/v1/cases/{case_id}/events", json=body, headers=t.auth(role))
    assert r.status_code == 201, r.text
    return r.json()


async def judge(t: Tenant, case_id: str, domain: str, level: str, at: str) -> None:
    """Record a judgement (with victims, as Wokingham's M5 requires at medium and above)."""
    r = await t.client.post(
        f"/v1/cases/{case_id}/judgements",
        json=with_matrix(t.pack, {"domain": domain, "level": level, "occurred_at": at,
                                  "victims": ["public"]}),
        headers=t.auth("case_holder"),
    )
    assert r.status_code == 201, r.text


async def patch(t: Tenant, case_id: str, body: dict[str, Any]) -> Any:
    """Change a case as its line manager (fetching the ETag first)."""
    url = f"/v1/cases/{case_id}"
    etag = (await t.client.get(url, headers=t.auth("line_manager"))).headers["etag"]
    r = await t.client.patch(url, json=body,
                             headers={**t.auth("line_manager"), "If-Match": etag})
    assert r.status_code == 200, r.text
    return r.json()


def event_steps(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The steps of a write's answer whose subject is the recorded event."""
    return [s for s in body["next_steps"] if s["subject_id"] == body["data"]["id"]]


# --- Wokingham: W4 (the in-week rule), W5, W6 -------------------------------------------------

@pytest.mark.parametrize(
    ("occurred_at", "due_at"),
    [
        # Friday before the late-summer bank holiday: recorded that same Friday.
        ("2026-08-28T14:00:00Z", "2026-08-28T22:59:59Z"),
        # Thursday before Good Friday: the last working day of that week is the Thursday.
        ("2026-04-02T11:00:00Z", "2026-04-02T22:59:59Z"),
        # Thursday before the bank-holiday weekend: the next working day, Friday, is in-week.
        ("2026-08-27T09:15:00Z", "2026-08-28T22:59:59Z"),
        # An ordinary Tuesday in GMT: the next working day.
        ("2026-03-10T11:00:00Z", "2026-03-11T23:59:59Z"),
        # Known on a Saturday: no working day left that week; the next one is Tuesday 1 Sept.
        ("2026-08-29T10:00:00Z", "2026-09-01T22:59:59Z"),
    ],
)
async def test_W4_record_incident_within_the_week(
    wokingham: Tenant, occurred_at: str, due_at: str
) -> None:
    """W4: record within one working day, never later than the event's working week."""
    case = (await wokingham.open_case())["data"]
    body = await post_event(wokingham, case["id"], type="new_incident", occurred_at=occurred_at)
    step = the_step(event_steps(body), "record_incident")
    assert step["actor"] == "case_holder"
    assert step["assignee_id"] == "case_holder-1"
    assert step["due_at"] == due_at
    assert step["urgent"] is False
    assert step["policy"] == {"pack": WOKINGHAM, "version": "1.0",
                              "ref": "Internal and External Controls",
                              "rule": "W4"}


async def test_W4_change_of_circumstances_friday_too(wokingham: Tenant) -> None:
    """A change of circumstances known on a Friday is recorded that day as well."""
    case = (await wokingham.open_case())["data"]
    body = await post_event(wokingham, case["id"], type="change_of_circumstances",
                            occurred_at="2026-08-28T16:45:00Z")
    assert the_step(event_steps(body), "record_incident")["due_at"] == "2026-08-28T22:59:59Z"


async def test_W5_report_to_line_manager_immediately(wokingham: Tenant) -> None:
    """W5: the incident is reported to the line manager immediately (urgent, due at once)."""
    case = (await wokingham.open_case())["data"]
    body = await post_event(wokingham, case["id"], type="new_incident",
                            occurred_at="2026-08-28T14:00:00Z")
    step = the_step(event_steps(body), "report_to_line_manager")
    assert step["actor"] == "case_holder"
    assert step["assignee_id"] == "case_holder-1"
    assert step["due_at"] == "2026-08-28T14:00:00Z"
    assert step["urgent"] is True
    assert step["policy"] == {"pack": WOKINGHAM, "version": "1.0",
                              "ref": "Internal and External Controls",
                              "rule": "W5"}


async def test_W6_statutory_review_within_three_weeks(wokingham: Tenant) -> None:
    """W6: a statutory case reviews its Asset+ within three weeks of the incident."""
    case = (await wokingham.open_case())["data"]
    body = await post_event(wokingham, case["id"], type="new_incident",
                            occurred_at="2026-08-28T14:00:00Z")
    step = the_step(event_steps(body), "review_assessment")
    assert step["actor"] == "case_holder"
    assert step["assignee_id"] == "case_holder-1"
    assert step["due_at"] == "2026-09-18T14:00:00Z"
    assert step["urgent"] is False
    assert step["policy"] == {"pack": WOKINGHAM, "version": "1.0",
                              "ref": "Assessment Reviews", "rule": "W6"}


async def test_W6_not_for_non_statutory_cases(wokingham: Tenant) -> None:
    """A prevention case records and reports the incident but has no W6 review."""
    case = (await wokingham.open_case(intervention="prevention"))["data"]
    body = await post_event(wokingham, case["id"], type="new_incident",
                            occurred_at="2026-08-28T14:00:00Z")
    assert codes(event_steps(body)) == {"record_incident", "report_to_line_manager"}


async def test_W7_incident_that_may_raise_to_high(wokingham: Tenant) -> None:
    """An incident flagged may_raise_to_high: request a High-Risk Panel within 2 working days."""
    case = (await wokingham.open_case())["data"]
    body = await post_event(wokingham, case["id"], type="new_incident", may_raise_to_high=True,
                            occurred_at="2026-08-28T14:00:00Z")
    step = the_step(event_steps(body), "request_high_risk_panel")
    assert step["due_at"] == "2026-09-02T22:59:59Z"  # Tue 1 and Wed 2 Sept (Mon 31 closed)
    assert step["policy"] == {"pack": WOKINGHAM, "version": "1.0",
                              "ref": "High Risk Panel", "rule": "W7"}


async def test_two_incidents_two_sets_of_steps(wokingham: Tenant) -> None:
    """Each event is its own subject: two incidents, two record_incident steps."""
    case = (await wokingham.open_case())["data"]
    await post_event(wokingham, case["id"], type="new_incident", occurred_at="2026-08-26T09:00:00Z")
    await post_event(wokingham, case["id"], type="new_incident", occurred_at="2026-08-27T09:00:00Z")
    steps = await case_steps(wokingham, case["id"])
    assert sorted(s["due_at"] for s in steps if s["code"] == "record_incident") == [
        "2026-08-27T22:59:59Z", "2026-08-28T22:59:59Z"]


# --- Wokingham: contextual safeguarding, MAPPA, release, staff --------------------------------

async def test_W13_exploitation_open_to_social_care(wokingham: Tenant) -> None:
    """W13: a child open to social care: discuss the concern with the social worker."""
    case = (await wokingham.open_case(csc_status="cin"))["data"]
    body = await post_event(wokingham, case["id"], type="exploitation_concern",
                            occurred_at="2026-05-06T10:00:00Z")
    assert codes(event_steps(body)) == {"discuss_with_social_worker"}
    step = event_steps(body)[0]
    assert step["actor"] == "case_holder"
    assert step["assignee_id"] == "case_holder-1"
    assert step["due_at"] is None
    assert step["urgent"] is False
    assert step["policy"] == {"pack": WOKINGHAM, "version": "1.0",
                              "ref": "Contextual Safeguarding", "rule": "W13"}


async def test_W14_exploitation_not_open_to_social_care(wokingham: Tenant) -> None:
    """W14: not open to social care: the exploitation tool, then triage for EMRAC."""
    case = (await wokingham.open_case(csc_status="none"))["data"]
    body = await post_event(wokingham, case["id"], type="exploitation_concern",
                            occurred_at="2026-05-06T10:00:00Z")
    steps = event_steps(body)
    assert codes(steps) == {"complete_exploitation_tool", "submit_to_triage"}
    for step in steps:
        assert step["actor"] == "case_holder"
        assert step["assignee_id"] == "case_holder-1"
        assert step["due_at"] is None
        assert step["urgent"] is False
        assert step["policy"] == {"pack": WOKINGHAM, "version": "1.0",
                                  "ref": "Contextual Safeguarding",
                                  "rule": "W14"}


async def test_W15_trafficking_concern_nrm_referral(wokingham: Tenant) -> None:
    """W15: reasonable grounds of trafficking or modern slavery: an NRM referral."""
    case = (await wokingham.open_case())["data"]
    body = await post_event(wokingham, case["id"], type="trafficking_concern",
                            occurred_at="2026-05-06T10:00:00Z", details={"grounds": "reasonable"})
    step = the_step(event_steps(body), "nrm_referral")
    assert step["actor"] == "case_holder"
    assert step["assignee_id"] == "case_holder-1"
    assert step["due_at"] is None
    assert step["urgent"] is False
    assert step["policy"] == {"pack": WOKINGHAM, "version": "1.0",
                              "ref": "Contextual Safeguarding", "rule": "W15"}
    assert body["data"]["details"] == {"grounds": "reasonable"}


async def test_W16_category_2_in_custody_six_months_before_release(wokingham: Tenant) -> None:
    """W16: MAPPA category 2 in custody: the H form six months before release."""
    case = (await wokingham.open_case(in_custody=True, expected_release_date="2027-03-15"))["data"]
    body = await patch(wokingham, case["id"], {"mappa_category": 2,
                                               "occurred_at": "2026-05-05T10:00:00Z"})
    step = the_step(body["next_steps"], "mappa_h_notification")
    assert step["actor"] == "case_holder"
    assert step["assignee_id"] == "case_holder-1"
    assert step["due_at"] == "2026-09-15T22:59:59Z"
    assert step["urgent"] is False
    assert step["policy"] == {"pack": WOKINGHAM, "version": "1.0",
                              "ref": "Referrals into MAPPA", "rule": "W16"}


async def test_W16_category_1_immediately(wokingham: Tenant) -> None:
    """W16: category 1: the H form on registration, immediately."""
    case = (await wokingham.open_case())["data"]
    body = await patch(wokingham, case["id"], {"mappa_category": 1,
                                               "occurred_at": "2026-05-05T10:00:00Z"})
    step = the_step(body["next_steps"], "mappa_h_notification")
    assert step["due_at"] == "2026-05-05T10:00:00Z"
    assert step["urgent"] is True
    assert step["policy"] == {"pack": WOKINGHAM, "version": "1.0",
                              "ref": "Referrals into MAPPA", "rule": "W16"}


async def test_W20_release_address_in_another_area(wokingham: Tenant) -> None:
    """W20: released to another area: notify that area's YJS, before the release, so recorded
    with the release itself at once, urgent (A19-12; one notice per case, about the case); the
    case leaves custody."""
    case = (await wokingham.open_case(in_custody=True))["data"]
    body = await post_event(wokingham, case["id"], type="custody_release",
                            release_address_other_area=True, occurred_at="2026-05-06T10:00:00Z")
    step = the_step(body["next_steps"], "notify_receiving_yjs")
    assert step["subject_id"] == case["id"]
    assert step["actor"] == "case_holder"
    assert step["assignee_id"] == "case_holder-1"
    assert step["due_at"] == "2026-05-06T10:00:00Z"
    assert step["urgent"] is True
    assert step["policy"] == {"pack": WOKINGHAM, "version": "1.0",
                              "ref": "Referrals into MAPPA", "rule": "W20"}
    r = await wokingham.client.get(f"/v1/cases/{case['id']}", headers=wokingham.auth("case_holder"))
    assert r.json()["data"]["in_custody"] is False


async def test_W20_not_for_a_local_release(wokingham: Tenant) -> None:
    """Released to an address in the area: no notification."""
    case = (await wokingham.open_case(in_custody=True))["data"]
    body = await post_event(wokingham, case["id"], type="custody_release",
                            release_address_other_area=False, occurred_at="2026-05-06T10:00:00Z")
    assert "notify_receiving_yjs" not in codes(event_steps(body))


async def test_W21_risk_to_staff_known_on_a_friday_recorded_that_friday(wokingham: Tenant) -> None:
    """W21: "If the incident becomes known to the worker on a Friday [...] it must be recorded
    [...] before the end of the working week": identified on Friday 28 August, before the
    late-summer bank holiday, recorded by that Friday night (A23b-4; was Tuesday night)."""
    case = (await wokingham.open_case())["data"]
    body = await post_event(wokingham, case["id"], type="risk_to_staff",
                            occurred_at="2026-08-28T16:00:00Z")
    step = the_step(event_steps(body), "record_risk_to_staff")
    assert step["actor"] == "case_holder"
    assert step["assignee_id"] == "case_holder-1"
    assert step["due_at"] == "2026-08-28T22:59:59Z"
    assert step["urgent"] is False
    assert step["policy"] == {"pack": WOKINGHAM, "version": "1.0",
                              "ref": "Risk to staff, Internal and External Controls",
                              "rule": "W21"}


# --- Somerset -------------------------------------------------------------------------------

async def test_S14_change_of_circumstances_medium_risk(somerset: Tenant) -> None:
    """S14: ROSH medium, change known Friday 28 Aug: review by the next working day (Tue)."""
    case = (await somerset.open_case())["data"]
    await judge(somerset, case["id"], "rosh", "medium", "2026-08-03T10:00:00Z")
    body = await post_event(somerset, case["id"], type="change_of_circumstances",
                            occurred_at="2026-08-28T10:00:00Z")
    step = the_step(event_steps(body), "review_assessment")
    assert step["actor"] == "case_holder"
    assert step["assignee_id"] == "case_holder-1"
    assert step["due_at"] == "2026-09-01T22:59:59Z"
    assert step["urgent"] is False
    assert step["policy"] == {"pack": SOMERSET, "version": "1", "ref": "4.2", "rule": "S14"}


async def test_S14_below_medium_the_review_has_no_timescale(somerset: Tenant) -> None:
    """S14 (2.1): "AssetPlus assessment will be reviewed maximum 12 weekly (or sooner upon any
    significant change becoming known)": with ROSH and SWB low, a change of circumstances on
    Friday 28 August 2026 asks for the review, undated (4.2's next working day is for medium
    and above)."""
    case = (await somerset.open_case())["data"]
    await judge(somerset, case["id"], "rosh", "low", "2026-08-03T10:00:00Z")
    body = await post_event(somerset, case["id"], type="change_of_circumstances",
                            occurred_at="2026-08-28T10:00:00Z")
    [step] = event_steps(body)
    assert (step["code"], step["actor"], step["due_at"]) == ("review_assessment",
                                                             "case_holder", None)
    assert step["policy"] == {"pack": SOMERSET, "version": "1", "ref": "2.1", "rule": "S14"}


@pytest.mark.parametrize("event_type", ["charged", "death"])
async def test_S23_serious_incident_while_open(somerset: Tenant, event_type: str) -> None:
    """S23: inform the service manager at once; CSPPI notification with no guessed date."""
    case = (await somerset.open_case())["data"]
    body = await post_event(somerset, case["id"], type=event_type,
                            occurred_at="2026-06-12T09:30:00Z")
    inform = the_step(event_steps(body), "inform_service_manager")
    assert inform["actor"] == "case_holder"
    assert inform["assignee_id"] == "case_holder-1"
    assert inform["due_at"] == "2026-06-12T09:30:00Z"
    assert inform["urgent"] is True
    assert inform["policy"] == {"pack": SOMERSET, "version": "1", "ref": "12", "rule": "S23"}
    notify = the_step(event_steps(body), "notify_serious_incident")
    assert notify["actor"] == "chair"
    assert notify["assignee_id"] is None
    assert notify["due_at"] is None
    assert notify["urgent"] is False
    assert notify["policy"] == {"pack": SOMERSET, "version": "1", "ref": "12", "rule": "S23"}
    assert "national" in notify["note"].lower()


async def test_S23_within_20_days_of_closure_only(somerset: Tenant) -> None:
    """S23: up to 20 days after the end of supervision, and not after."""
    case = (await somerset.open_case())["data"]
    await patch(somerset, case["id"], {"closed_at": "2026-06-01T12:00:00Z",
                                         "closure_reason": "Order ended"})
    inside = await post_event(somerset, case["id"], type="charged",
                              occurred_at="2026-06-21T12:00:00Z", role="line_manager")
    assert {"inform_service_manager", "notify_serious_incident"} <= codes(event_steps(inside))
    # Calendar days in London: 21 June 23:00Z is 00:00 BST on 22 June, day 21 after closure.
    # (The death last: nothing about the child is recorded after a death, A19-17.)
    outside = await post_event(somerset, case["id"], type="death",
                               occurred_at="2026-06-21T23:00:00Z", role="line_manager")
    assert event_steps(outside) == []


async def test_S24_partner_action_not_secured(somerset: Tenant) -> None:
    """S24: the line manager refers the case to the YJT manager to escalate."""
    case = (await somerset.open_case())["data"]
    body = await post_event(somerset, case["id"], type="partner_action_not_secured",
                            occurred_at="2026-05-06T10:00:00Z", role="line_manager")
    step = the_step(event_steps(body), "escalate_to_service_manager")
    assert step["actor"] == "line_manager"
    assert step["assignee_id"] == "line_manager-1"
    assert step["due_at"] is None
    assert step["urgent"] is False
    assert step["policy"] == {"pack": SOMERSET, "version": "1", "ref": "3.3", "rule": "S24"}
    assert body["data"]["recorded_role"] == "line_manager"
    # 3.3 "the relevant line manager ... will refer the case": the referral is the line
    # manager's own act, not a check on the event they recorded, so they do it themselves
    # (after A19-18 it was sent to the duty managers and refused to them, 403).
    r = await somerset.client.post(f"/v1/next-steps/{step['id']}/complete",
                                   json={"note": "referred to the YJT manager"},
                                   headers=somerset.auth("line_manager"))
    assert r.status_code == 200, r.text


async def test_S24_the_yjt_manager_escalates_once_the_line_manager_has_referred(
        somerset: Tenant) -> None:
    """S24 (3.3): "the relevant line manager or duty manager will refer the case to the YJT
    manager who will escalate the matter as required, record the outcome of their actions on CMS
    and advise the relevant line manager as soon as practicable. If the YJT manager is
    unavailable the appointed operational manager will carry out these functions." The partner
    action not secured on Friday 28 August 2026; the line manager refers it on Tuesday 1
    September (after the bank holiday): the YJT manager's own duty is raised for the chairs
    (either manager holds the role), no timescale ("as soon as practicable"), and the chair
    completes it."""
    case = (await somerset.open_case(opened_at="2026-08-03T09:00:00+01:00"))["data"]
    body = await post_event(somerset, case["id"], type="partner_action_not_secured",
                            occurred_at="2026-08-28T15:00:00+01:00")
    refer = the_step(event_steps(body), "escalate_to_service_manager")
    assert "escalate_partner_action" not in codes(body["next_steps"])
    r = await somerset.client.post(f"/v1/next-steps/{refer['id']}/complete", json={
        "note": "referred to the YJT manager", "occurred_at": "2026-09-01T09:30:00+01:00"},
        headers=somerset.auth("line_manager"))
    assert r.status_code == 200, r.text
    chair = the_step(r.json()["next_steps"], "escalate_partner_action")
    assert (chair["actor"], chair["assignee_id"], chair["due_at"], chair["urgent"]) == (
        "chair", None, None, False)
    assert chair["policy"] == {"pack": SOMERSET, "version": "1", "ref": "3.3", "rule": "S24"}
    assert chair["raised_at"] == "2026-09-01T08:30:00Z"
    assert "advises the line manager" in chair["note"]
    r = await somerset.client.post(f"/v1/next-steps/{chair['id']}/complete",
                                   json={"note": "escalated to the police; LM advised"},
                                   headers=somerset.auth("chair"))
    assert r.status_code == 200, r.text
    assert "escalate_partner_action" not in codes(r.json()["next_steps"])


async def test_S24_no_escalation_when_the_referral_is_waived(somerset: Tenant) -> None:
    """S24 (3.3): the chair's duty follows the referral to the YJT manager; a duty manager who
    waives the referral (not needed) asks nothing of the chair."""
    case = (await somerset.open_case(opened_at="2026-08-03T09:00:00+01:00"))["data"]
    body = await post_event(somerset, case["id"], type="partner_action_not_secured",
                            occurred_at="2026-08-28T15:00:00+01:00")
    refer = the_step(event_steps(body), "escalate_to_service_manager")
    r = await somerset.client.post(f"/v1/next-steps/{refer['id']}/waive", json={
        "reason": "the partner secured the action after all"},
        headers=somerset.auth("duty_manager"))
    assert r.status_code == 200, r.text
    assert "escalate_partner_action" not in codes(await case_steps(somerset, case["id"]))


async def test_S25_transfer_in_high_refers_to_next_marp(somerset: Tenant) -> None:
    """S25: a case arriving with high ROSH goes to the next MARP (none booked: awaiting)."""
    case = (await somerset.open_case())["data"]
    body = await post_event(somerset, case["id"], type="transfer_in",
                            incoming_ratings={"rosh": "high"}, occurred_at="2026-05-06T10:00:00Z")
    step = the_step(event_steps(body), "refer_to_panel")
    assert step["actor"] == "case_holder"
    assert step["assignee_id"] == "case_holder-1"
    assert step["due_at"] is None
    assert step["awaiting_panel_date"] is True
    assert step["urgent"] is False
    assert step["policy"] == {"pack": SOMERSET, "version": "1", "ref": "13.3", "rule": "S25"}


async def test_S25_not_for_a_low_transfer_in(somerset: Tenant) -> None:
    """S25: arriving at medium: no MARP referral (only S36's documentation check, 13.2)."""
    case = (await somerset.open_case())["data"]
    body = await post_event(somerset, case["id"], type="transfer_in",
                            incoming_ratings={"rosh": "medium", "swb": "low"},
                            occurred_at="2026-05-06T10:00:00Z")
    assert codes(event_steps(body)) == {"check_incoming_documentation"}


async def test_S36_transfer_in_asks_the_team_leader_to_check_the_documentation(
        somerset: Tenant) -> None:
    """S36 (13.2): "It is the responsibility of the Team Leader/Operational Manager to ensure
    that all appropriate documentation has been received and is up to date prior to agreeing
    work with a child from outside Somerset. The relevant Team Leader/Operational Manager will
    take any necessary immediate actions." A child caretaken in from another YJT at medium on
    Friday 28 August 2026 15:00 BST (the late-summer bank holiday follows): the case's line
    manager owes the check at once (due 14:00Z, urgent), late only after that working day
    (Friday 23:59:59 BST, 22:59:59Z); the operational manager (chair) may do it too (attack
    pass 17, A17-15)."""
    case = (await somerset.open_case(opened_at="2026-08-28T14:00:00+01:00"))["data"]
    body = await post_event(somerset, case["id"], type="transfer_in",
                            incoming_ratings={"rosh": "medium", "swb": "low"},
                            occurred_at="2026-08-28T15:00:00+01:00")
    step = the_step(event_steps(body), "check_incoming_documentation")
    assert (step["actor"], step["assignee_id"], step["due_at"], step["overdue_at"],
            step["urgent"]) == ("line_manager", "line_manager-1", "2026-08-28T14:00:00Z",
                                "2026-08-28T22:59:59Z", True)
    assert step["policy"] == {"pack": SOMERSET, "version": "1", "ref": "13.2", "rule": "S36"}
    r = await somerset.client.post(f"/v1/next-steps/{step['id']}/complete",
                                   json={"note": "caretaking documents received and current"},
                                   headers=somerset.auth("chair", "chair-1"))
    assert r.status_code == 200, r.text


async def test_S26_transfer_out_handover_call_before_transfer(somerset: Tenant) -> None:
    """S26: high ROSH case transferring on 14 Sept: the call is due before that day starts."""
    case = (await somerset.open_case())["data"]
    await judge(somerset, case["id"], "rosh", "high", "2026-08-03T10:00:00Z")
    body = await post_event(somerset, case["id"], type="transfer_out", transfer_date="2026-09-14",
                            occurred_at="2026-09-01T10:00:00Z")
    step = the_step(event_steps(body), "manager_handover_call")
    assert step["actor"] == "line_manager"
    assert step["assignee_id"] == "line_manager-1"
    assert step["due_at"] == "2026-09-13T23:00:00Z"  # 00:00 BST on 14 September
    assert step["urgent"] is False
    assert step["policy"] == {"pack": SOMERSET, "version": "1", "ref": "13.4.3", "rule": "S26"}


async def test_S26_transfer_out_needs_a_date(client: httpx.AsyncClient, somerset: Tenant) -> None:
    """A transfer out without its date is 422 (the handover is due before it)."""
    case = (await somerset.open_case())["data"]
    r = await client.post(f"/v1/cases/{case['id']}/events", json={"type": "transfer_out"},
                          headers=somerset.auth("case_holder"))
    problem = assert_problem(r, 422)
    assert problem["errors"][0]["loc"] == "body.transfer_date"


@pytest.mark.parametrize("event_type", ["custody_entry", "custody_release"])
async def test_S27_secure_estate_handover(somerset: Tenant, event_type: str) -> None:
    """S27: custody entry or release: phone the establishment, confirm by email."""
    case = (await somerset.open_case(in_custody=event_type == "custody_release"))["data"]
    body = await post_event(somerset, case["id"], type=event_type,
                            occurred_at="2026-05-06T10:00:00Z")
    step = the_step(event_steps(body), "secure_estate_handover")
    assert step["actor"] == "case_holder"
    assert step["assignee_id"] == "case_holder-1"
    assert step["due_at"] is None
    assert step["urgent"] is False
    ref = "14.3" if event_type == "custody_entry" else "14.4"
    assert step["policy"] == {"pack": SOMERSET, "version": "1", "ref": ref, "rule": "S27"}
    r = await somerset.client.get(f"/v1/cases/{case['id']}", headers=somerset.auth("case_holder"))
    assert r.json()["data"]["in_custody"] is (event_type == "custody_entry")


async def test_S27_patch_in_custody_gives_the_steps_the_custody_event_gives(
    somerset: Tenant,
) -> None:
    """S27, S32, S33, S14 (14.3 "When children are transferred to a secure setting, case holders
    will communicate with the relevant establishment by telephone and confirm by e-mail"; 14.2,
    14.2.1, 4.2): recording custody as the case's ``in_custody`` (PATCH) asks for what the
    ``custody_entry`` event asks for, and the event asks once (attack pass 14, A14-21). Friday
    23 October 2026, 16:00 BST: the review is due Monday 26 October, after the clock change."""
    wanted = {"secure_estate_handover": ("case_holder", None, "14.3", "S27"),
              "prepare_transfer_documentation": ("case_holder", "2026-10-23T15:00:00Z", "14.2",
                                                 "S32"),
              "sign_off_transfer_documentation": ("line_manager", "2026-10-23T15:00:00Z",
                                                  "14.2.1", "S33"),
              "review_assessment": ("case_holder", "2026-10-26T23:59:59Z", "4.2", "S14")}
    by_event = (await somerset.open_case())["data"]
    await judge(somerset, by_event["id"], "rosh", "medium", "2026-10-05T10:00:00Z")
    await post_event(somerset, by_event["id"], type="custody_entry",
                     occurred_at="2026-10-23T15:00:00Z")
    by_patch = (await somerset.open_case())["data"]
    await judge(somerset, by_patch["id"], "rosh", "medium", "2026-10-05T10:00:00Z")
    await patch(somerset, by_patch["id"], {"in_custody": True,
                                           "occurred_at": "2026-10-23T15:00:00Z"})
    for case in (by_event, by_patch):
        steps = await case_steps(somerset, case["id"])
        for code, (actor, due, ref, rule) in wanted.items():
            step = the_step(steps, code)
            assert (step["actor"], step["due_at"]) == (actor, due), step
            assert step["policy"] == {"pack": SOMERSET, "version": "1", "ref": ref,
                                      "rule": rule}


async def test_S27_S32_S33_the_move_recorded_both_ways_asks_once(somerset: Tenant) -> None:
    """S27, S32, S33 (14.3, 14.2, 14.2.1; quoted above). Attack pass 15, A15-1: IYSS recorded
    the remand as the case's ``in_custody`` and then sent the ``custody_entry`` event for the
    same move: each handover and documentation step was asked twice (the other order asked
    once). Either order, one open step of each, with the first deadline; a case opened in
    custody (or upserted so) owes them from its opening (A15-3)."""
    codes = ("secure_estate_handover", "prepare_transfer_documentation",
             "sign_off_transfer_documentation")
    case = (await somerset.open_case())["data"]
    await patch(somerset, case["id"], {"in_custody": True,
                                       "occurred_at": "2026-10-23T15:00:00Z"})
    await post_event(somerset, case["id"], type="custody_entry",
                     occurred_at="2026-10-23T15:30:00Z")
    steps = await case_steps(somerset, case["id"])
    assert sorted(s["code"] for s in steps if s["code"] in codes) == sorted(codes)
    assert the_step(steps, "prepare_transfer_documentation")["due_at"] == "2026-10-23T15:00:00Z"
    opened = (await somerset.open_case(in_custody=True))["data"]
    steps = await case_steps(somerset, opened["id"])
    assert {s["code"]: (s["actor"], s["policy"]["rule"]) for s in steps if s["code"] in codes} \
        == {"secure_estate_handover": ("case_holder", "S27"),
            "prepare_transfer_documentation": ("case_holder", "S32"),
            "sign_off_transfer_documentation": ("line_manager", "S33")}


async def test_S34_a_case_opened_with_a_volunteer_owes_the_briefing(somerset: Tenant) -> None:
    """S34 (16.2 "The YJT case holder will have completed a health and safety risk assessment
    which will be shared with volunteers working with a child ... discussed prior to any contact
    commencing"). Attack pass 15, A15-3: a case opened with ``volunteer_attached: true`` owed
    no briefing; only a later PATCH asked for it. Opened so, the case holder owes it (no date:
    before the first contact, which is not recorded)."""
    case = (await somerset.open_case(volunteer_attached=True))["data"]
    step = the_step(await case_steps(somerset, case["id"]), "brief_volunteer")
    assert (step["actor"], step["due_at"], step["policy"]["rule"], step["policy"]["ref"]) == (
        "case_holder", None, "S34", "16.2")


async def test_S28_level_change_with_a_volunteer_attached(somerset: Tenant) -> None:
    """S28: a level change while a volunteer is attached: update the volunteer."""
    case = (await somerset.open_case(volunteer_attached=True))["data"]
    r = await somerset.client.post(
        f"/v1/cases/{case['id']}/judgements",
        json={"domain": "swb", "level": "medium", "occurred_at": "2026-05-06T10:00:00Z"},
        headers=somerset.auth("case_holder"),
    )
    assert r.status_code == 201, r.text
    step = the_step(r.json()["next_steps"], "update_volunteer")
    assert step["actor"] == "case_holder"
    assert step["assignee_id"] == "case_holder-1"
    assert step["due_at"] is None
    assert step["urgent"] is False
    assert step["policy"] == {"pack": SOMERSET, "version": "1", "ref": "16.2", "rule": "S28"}
    assert step["subject_id"] == case["id"]


# --- who may record events, and what is kept --------------------------------------------------

async def test_events_are_stored_with_who_and_when(
    client: httpx.AsyncClient, somerset: Tenant
) -> None:
    """The event keeps its type, time, recorder and role; the audit has it; newest first."""
    case = (await somerset.open_case())["data"]
    first = await post_event(somerset, case["id"], type="new_incident",
                             occurred_at="2026-05-06T10:00:00Z", details={"summary": "fight"})
    await post_event(somerset, case["id"], type="risk_to_staff",
                     occurred_at="2026-05-07T10:00:00Z", role="duty_manager")
    event = first["data"]
    assert event["recorded_by"] == "case_holder-1"
    assert event["recorded_role"] == "case_holder"
    assert event["occurred_at"] == "2026-05-06T10:00:00Z"
    r = await client.get(f"/v1/cases/{case['id']}/events", headers=somerset.auth("line_manager"))
    assert [e["type"] for e in r.json()["data"]] == ["risk_to_staff", "new_incident"]
    audit = await client.get(f"/v1/cases/{case['id']}/audit", params={"limit": 200},
                             headers=somerset.auth("line_manager"))
    assert [e["role"] for e in audit.json()["data"] if e["action"] == "case_event.record"] == [
        "case_holder", "duty_manager"]


async def test_who_may_record_events(client: httpx.AsyncClient, somerset: Tenant) -> None:
    """Holder, managers and feeds may; a chair may not (403); another holder cannot see (404)."""
    case = (await somerset.open_case())["data"]
    url = f"/v1/cases/{case['id']}/events"
    body = {"type": "new_incident", "occurred_at": "2026-05-06T10:00:00Z"}
    feed = await client.post(url, json=body, headers=somerset.auth("feed", "iyss", scope="cms"))
    assert feed.status_code == 201, feed.text
    assert feed.json()["data"]["recorded_role"] == "feed"
    assert_problem(await client.post(url, json=body, headers=somerset.auth("chair")), 403)
    assert_problem(await client.post(url, json=body,
                                     headers=somerset.auth("case_holder", "case_holder-8")), 404)
    assert_problem(await client.post(url, json={"type": "alien_landing"},
                                     headers=somerset.auth("case_holder")), 422)
    future = {"type": "new_incident", "occurred_at": "2099-01-01T00:00:00Z"}
    assert_problem(await client.post(url, json=future, headers=somerset.auth("case_holder")), 422)


async def test_W16_W17_S17_a_mappa_category_cleared_owes_no_mappa_forms(
    somerset: Tenant, wokingham: Tenant,
) -> None:
    """W16, W17 (Wokingham, Referrals into MAPPA: "The PYJS should notify the Central MAPPA Unit
    ... of all MAPPA eligible young people using the MAPPA H form. For children that are
    expected to be managed at level 2/3, the PYJS should make the referral using the MAPPA A
    form"); S17 (Somerset 7, the MAPPA coordinator notified of a category 1 case). Attack pass
    15, A15-6: a category (and level) cleared, recorded in error, left the forms owed. With no
    category the child is not MAPPA eligible: each form's step is superseded."""
    for t, body, forms in (
            (wokingham, {"mappa_category": 2, "mappa_level": 2},
             ("mappa_h_notification", "mappa_a_referral")),
            (somerset, {"mappa_category": 1}, ("mappa_h_notification",))):
        case = (await t.open_case())["data"]
        owed = await patch(t, case["id"], body)
        assert {c for c in forms} <= codes(owed["next_steps"]), t.pack
        cleared = await patch(t, case["id"], dict.fromkeys(body))
        assert cleared["data"]["mappa_category"] is None
        left = {s["code"] for s in await case_steps(t, case["id"])}
        assert left.isdisjoint(forms), (t.pack, left)


async def test_S27_a_back_dated_custody_move_leaves_the_latest_move_standing(
    somerset: Tenant,
) -> None:
    """S27 (14.3, 14.4). Attack pass 15, A15-14: a release dated Tuesday 25 August 2026 typed in
    after an entry dated Wednesday 26 August left the child recorded out of custody; in time
    order they are in custody. ``in_custody`` follows the latest move by date, whichever order
    the events arrive in; each move still asks for its own handover."""
    moves = [("custody_release", "2026-08-25T10:00:00Z"), ("custody_entry", "2026-08-26T10:00:00Z")]
    for order in (moves, moves[::-1]):
        case = (await somerset.open_case(in_custody=True))["data"]
        for kind, at in order:
            await post_event(somerset, case["id"], type=kind, occurred_at=at)
        r = await somerset.client.get(f"/v1/cases/{case['id']}",
                                      headers=somerset.auth("case_holder"))
        assert r.json()["data"]["in_custody"] is True, order


@pytest.mark.parametrize(("patched", "event", "pack"), [
    (True, "custody_release", "somerset-yjt-2023"),
    (False, "custody_entry", "somerset-yjt-2023"),
    (True, "custody_release", "wokingham-pyjs-2024"),
])
async def test_S27_W4_a_custody_event_dated_before_a_PATCH_of_in_custody_leaves_it_standing(
    client: httpx.AsyncClient, settings: Any, patched: bool, event: str, pack: str,
) -> None:
    """S27 (Somerset 14.3, 14.4), W4/W5 (Wokingham "Internal and External Controls"): a move
    into or out of the secure estate is a change of circumstances. Attack pass 16, A16-1: the
    case's ``in_custody`` set by ``PATCH`` on Friday 28 August 2026, then a custody event dated
    Thursday 20 August typed in after it, took the child back out (or into) custody: the
    latest move by date is the PATCH, so ``in_custody`` stays as it set it (the event is kept
    in the history)."""
    t = await make_tenant(client, settings, pack)
    case = (await t.open_case(opened_at="2026-08-10T10:00:00Z",
                              in_custody=not patched))["data"]
    tag = (await t.client.get(f"/v1/cases/{case['id']}",
                              headers=t.auth("duty_manager"))).headers["etag"]
    r = await t.client.patch(f"/v1/cases/{case['id']}",
                             json={"in_custody": patched, "occurred_at": "2026-08-28T14:00:00Z"},
                             headers={**t.auth("line_manager"), "If-Match": tag})
    assert r.status_code == 200, r.text
    await post_event(t, case["id"], type=event, occurred_at="2026-08-20T10:00:00Z")
    r = await t.client.get(f"/v1/cases/{case['id']}", headers=t.auth("case_holder"))
    assert r.json()["data"]["in_custody"] is patched
