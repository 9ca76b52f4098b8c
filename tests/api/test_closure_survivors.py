"""Duties the policy owes past the end of the work survive the case's closure (attack pass 16,
A16-6, A16-7).

Closing a case supersedes its open steps (a reopening brings them back). It also set aside, with
no word to the manager closing it, the serious incident (CSPPI) notification after a charge or a
death, and a transfer's handover call and documentation before the transfer had happened. The
packs now list those codes (``survives_closure``): they stay open on the closed case, owed,
completable and listed in the closing answer's ``next_steps``; the case's other steps are
superseded as before.

2026 dates: Friday 28 August, before the late-summer bank holiday (Monday 31 August); the
transfer on Monday 7 September.
"""

from __future__ import annotations

from typing import Any

from tests.api.integrity_support import (
    audit_of,
    closing_asset_plus,
    complete,
    patch_case,
    refer_to_marp,
    steps_of,
    the_step,
)
from tests.conftest import Tenant

OPENED = "2026-08-03T09:00:00+01:00"
CLOSE = {"closed_at": "2026-08-28T16:00:00+01:00", "closure_reason": "supervision ended"}


async def _post(t: Tenant, url: str, body: dict[str, Any], role: str = "case_holder",
                status: int = 201, sub: str | None = None) -> dict[str, Any]:
    r = await t.client.post(url, json=body, headers=t.auth(role, sub))
    assert r.status_code == status, r.text
    return r.json()  # type: ignore[no-any-return]


def _snapshot(step: dict[str, Any]) -> tuple[Any, ...]:
    return (step["id"], step["code"], step["actor"], step["assignee_id"], step["due_at"],
            step["policy"]["rule"], step["policy"]["ref"])


async def test_S23_closure_after_a_charge_keeps_the_csppi_notification_owed(
        somerset: Tenant) -> None:
    """S23 (12): "Somerset YJT will complete notification within the expected timeframes for
    any child who is charged with any notifiable offence or dies whilst relevant to our service
    (up to 20 days following the end of supervision) ... Case holders / team leaders will
    immediately inform operational/ YJT Manager". A prevention case; the child is charged on
    Friday 28 August 2026 15:00 BST: the case holder informs the manager at once (due 14:00Z),
    the chair owes the notification (no local timescale). The line manager closes the case at
    16:00: both steps stay open, unchanged, and are the closing answer's ``next_steps``; the
    case holder still completes the first and the YJT manager (chair) the second, on the
    closed case."""
    case_id = (await somerset.open_case(opened_at=OPENED, intervention="prevention")
               )["data"]["id"]
    charged = await _post(somerset, f"/v1/cases/{case_id}/events", {
        "type": "charged", "occurred_at": "2026-08-28T15:00:00+01:00"})
    inform = the_step(charged["next_steps"], "inform_service_manager")
    notify = the_step(charged["next_steps"], "notify_serious_incident")
    assert _snapshot(inform)[1:] == ("inform_service_manager", "case_holder", "case_holder-1",
                                     "2026-08-28T14:00:00Z", "S23", "12")
    assert _snapshot(notify)[1:] == ("notify_serious_incident", "chair", None, None, "S23", "12")
    r = await patch_case(somerset, case_id, CLOSE)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["data"]["closed_at"] == "2026-08-28T15:00:00Z"
    assert sorted(_snapshot(s) for s in body["next_steps"]) == sorted(
        [_snapshot(inform), _snapshot(notify)])
    assert sorted(s["id"] for s in await steps_of(somerset, case_id)) == sorted(
        [inform["id"], notify["id"]])
    r = await complete(somerset, inform["id"], "case_holder", note="told the YJT manager")
    assert r.status_code == 200, r.text
    r = await complete(somerset, notify["id"], "chair", "chair-1", note="submitted to the YJB")
    assert r.status_code == 200, r.text
    assert await steps_of(somerset, case_id) == []
    done = {s["id"]: s for s in await steps_of(somerset, case_id, "done")}
    assert {inform["id"], notify["id"]} <= done.keys()


async def test_W24_closure_after_a_death_keeps_the_serious_incident_notification_owed(
        wokingham: Tenant) -> None:
    """W24 ("Management oversight"): "Management reporting of serious incidents in line with
    YJB guidance" (the serious incidents notification SOP; the seed sets no window after the
    end of supervision, attack 21b, A21b-10). The case holder records the child's death on
    Friday 28 August 2026 15:00 BST (a death lifts the closure Asset+, W3); the line manager
    closes the case at 16:00. The YJB notification (management's, no local timescale) stays
    open; the case worker's own records of the work (W4's IYSS entry, W5's report) close with
    the case."""
    case_id = (await wokingham.open_case(opened_at=OPENED))["data"]["id"]
    died = await _post(wokingham, f"/v1/cases/{case_id}/events", {
        "type": "death", "occurred_at": "2026-08-28T15:00:00+01:00"})
    notify = the_step(died["next_steps"], "notify_serious_incident")
    assert (notify["actor"], notify["assignee_id"], notify["due_at"], notify["policy"]["rule"],
            notify["policy"]["ref"]) == ("chair", None, None, "W24", "Management oversight")
    records = {the_step(died["next_steps"], c)["id"]
               for c in ("record_incident", "report_to_line_manager")}
    r = await patch_case(wokingham, case_id, CLOSE)
    assert r.status_code == 200, r.text
    assert [_snapshot(s) for s in r.json()["next_steps"]] == [_snapshot(notify)]
    assert [s["id"] for s in await steps_of(wokingham, case_id)] == [notify["id"]]
    assert records <= {s["id"] for s in await steps_of(wokingham, case_id, "superseded")}


async def test_S26_S30_S31_closure_before_the_transfer_keeps_the_handover_owed(
        somerset: Tenant) -> None:
    """S26 (13.4.3): for a high ROSH or SWB child "the line manager ... will speak to the
    appropriate manager ... of the receiving Service prior to the transfer of the child or, in
    exceptional circumstances, as soon as possible thereafter"; S30/S31 (13.4.1, 13.4.2): the
    case holder includes up-to-date documentation with the transfer request and the line
    manager checks and signs it off. High ROSH on Friday 28 August 2026, a transfer out to
    another YJT on Monday 7 September recorded at 15:00; the line manager closes the case at
    16:00, ten days before the transfer. The call and both documentation steps stay open with
    their before-the-transfer deadline; the rest (the monthly review, the plan's
    countersignature) is superseded. Reopening brings those back and never doubles the three."""
    case_id = (await somerset.open_case(opened_at=OPENED))["data"]["id"]
    await _post(somerset, f"/v1/cases/{case_id}/judgements", {
        "domain": "rosh", "level": "high", "rationale": "weapon-related offence",
        "victims": ["public"], "occurred_at": "2026-08-28T14:00:00+01:00"})
    await refer_to_marp(somerset, case_id, "2026-08-28T14:30:00+01:00")
    moved = await _post(somerset, f"/v1/cases/{case_id}/events", {
        "type": "transfer_out", "transfer_date": "2026-09-07",
        "occurred_at": "2026-08-28T15:00:00+01:00"})
    owed = {c: the_step(moved["next_steps"], c) for c in
            ("manager_handover_call", "prepare_transfer_documentation",
             "sign_off_transfer_documentation")}
    assert {c: (s["actor"], s["policy"]["rule"], s["policy"]["ref"], s["due_at"])
            for c, s in owed.items()} == {
        "manager_handover_call": ("line_manager", "S26", "13.4.3", "2026-09-06T23:00:00Z"),
        "prepare_transfer_documentation": ("case_holder", "S30", "13.4.1",
                                           "2026-09-06T23:00:00Z"),
        "sign_off_transfer_documentation": ("line_manager", "S31", "13.4.2",
                                            "2026-09-06T23:00:00Z")}
    before = {s["id"] for s in await steps_of(somerset, case_id)}
    r = await patch_case(somerset, case_id, {**CLOSE, "closure_reason": "transferred"})
    assert r.status_code == 200, r.text
    assert sorted(_snapshot(s) for s in r.json()["next_steps"]) == sorted(
        _snapshot(s) for s in owed.values())
    superseded = {s["id"] for s in await steps_of(somerset, case_id, "superseded")}
    assert superseded
    assert superseded == before - {s["id"] for s in owed.values()}
    close = [e for e in await audit_of(somerset, case_id) if e["action"] == "case.close"]
    assert len(close) == 1
    r = await patch_case(somerset, case_id, {"closed_at": None,
                                             "reopen_reason": "transfer fell through"})
    assert r.status_code == 200, r.text
    after = await steps_of(somerset, case_id)
    assert {s["id"] for s in after} >= before
    for code in owed:
        assert [s["id"] for s in after if s["code"] == code] == [owed[code]["id"]]


async def test_W4_W5_closure_still_supersedes_the_work_with_the_child(
        wokingham: Tenant) -> None:
    """W4/W5 ("Internal and External Controls"): "Any change of circumstances or new incident
    of concern should be recorded on IYSS within one working day ... and reported to the line
    manager". The survivors are only the listed duties: a court order case with an incident on
    Friday 28 August 2026 10:00 BST and its countersigned closure Asset+ (W3) at 11:00, closed
    at 16:00, has every step open before the closure superseded by it, the incident's record
    and report included; the closing answer lists none."""
    case_id = (await wokingham.open_case(opened_at=OPENED))["data"]["id"]
    incident = await _post(wokingham, f"/v1/cases/{case_id}/events", {
        "type": "new_incident", "occurred_at": "2026-08-28T10:00:00+01:00"})
    records = {the_step(incident["next_steps"], c)["id"]
               for c in ("record_incident", "report_to_line_manager")}
    await closing_asset_plus(wokingham, case_id, "2026-08-28T11:00:00+01:00")
    before = {s["id"] for s in await steps_of(wokingham, case_id)}
    assert records <= before
    r = await patch_case(wokingham, case_id, CLOSE)
    assert r.status_code == 200, r.text
    assert r.json()["next_steps"] == []
    assert await steps_of(wokingham, case_id) == []
    assert {s["id"] for s in await steps_of(wokingham, case_id, "superseded")} == before


async def test_S9_a_child_protection_plan_ending_while_SWB_is_very_high_owes_the_referral(
        somerset: Tenant) -> None:
    """S9 (3.2.4): very high SWB "will include (or has already included) a referral to
    statutory child protection services". A child on a child protection plan, judged very high
    on Tuesday 1 September 2026, owes no referral (the plan is that referral). The plan ends on
    Friday 4 September 15:00 BST with SWB still very high: the referral is owed again by the
    case holder, at once (14:00Z), urgent, ref 3.2.4; a child placed back on a plan, or a plan
    ending while SWB is lower, asks nothing (attack pass 17, A17-18)."""
    case_id = (await somerset.open_case(opened_at=OPENED, csc_status="cp"))["data"]["id"]
    judged = await _post(somerset, f"/v1/cases/{case_id}/judgements", {
        "domain": "swb", "level": "very_high", "rationale": "imminent risk at home",
        "occurred_at": "2026-09-01T10:00:00+01:00"})
    assert "child_protection_referral" not in {s["code"] for s in judged["next_steps"]}
    r = await patch_case(somerset, case_id, {"csc_status": "cin",
                                             "occurred_at": "2026-09-04T15:00:00+01:00"})
    assert r.status_code == 200, r.text
    step = the_step(r.json()["next_steps"], "child_protection_referral")
    assert (step["actor"], step["assignee_id"], step["due_at"], step["urgent"],
            step["policy"]["rule"], step["policy"]["ref"]) == (
        "case_holder", "case_holder-1", "2026-09-04T14:00:00Z", True, "S9", "3.2.4")
    r = await patch_case(somerset, case_id, {"csc_status": "cp",
                                             "occurred_at": "2026-09-04T16:00:00+01:00"})
    assert r.status_code == 200, r.text
    assert "child_protection_referral" not in {s["code"] for s in r.json()["next_steps"]}
    lower = (await somerset.open_case(opened_at=OPENED, csc_status="cp"))["data"]["id"]
    await _post(somerset, f"/v1/cases/{lower}/judgements", {
        "domain": "swb", "level": "high", "occurred_at": "2026-09-01T10:00:00+01:00"})
    r = await patch_case(somerset, lower, {"csc_status": "none",
                                           "occurred_at": "2026-09-04T15:00:00+01:00"})
    assert r.status_code == 200, r.text
    assert "child_protection_referral" not in {s["code"] for s in r.json()["next_steps"]}


async def test_W14_W15_closure_keeps_the_exploitation_safeguarding_duties_owed(
        wokingham: Tenant) -> None:
    """W14/W15 ("Contextual Safeguarding"): "the Youth Justice Worker must complete the Pan
    Berkshire ... Child Exploitation (CE) and Serious Youth Violence (SYV) Indicator and Analysis
    Tool ... After the tool has been completed, it must be emailed to triage ... Where there are
    concerns that a child might be a potential victim of human trafficking and modern slavery
    ... a referral should be made to the National Referral Mechanism (NRM)." A youth
    conditional caution, not open to social care; an exploitation concern and a trafficking
    concern on Friday 28 August 2026; the caution ends and the line manager closes the case at
    16:00 BST. The tool, its triage and the NRM referral stay owed on the closed case (attack
    pass 16, A16-7); once the tool is recorded done (it is what finds the "reasonable grounds",
    ATTACK30B-11), the NRM referral, made on the closed case, does its step."""
    case_id = (await wokingham.open_case(opened_at=OPENED,
                                         intervention="youth_conditional_caution"))["data"]["id"]
    for kind in ("exploitation_concern", "trafficking_concern"):
        await _post(wokingham, f"/v1/cases/{case_id}/events", {
            "type": kind, "occurred_at": "2026-08-28T14:00:00+01:00"})
    owed = {s["code"]: s for s in await steps_of(wokingham, case_id)
            if s["code"] in ("complete_exploitation_tool", "submit_to_triage", "nrm_referral")}
    assert sorted(owed) == ["complete_exploitation_tool", "nrm_referral", "submit_to_triage"]
    r = await patch_case(wokingham, case_id, {**CLOSE, "closure_reason": "caution completed"})
    assert r.status_code == 200, r.text
    assert sorted(_snapshot(s) for s in r.json()["next_steps"]) == sorted(
        _snapshot(s) for s in owed.values())
    await _post(wokingham, f"/v1/next-steps/{owed['complete_exploitation_tool']['id']}/complete",
                {"note": "Tool found reasonable grounds"}, status=200)
    made = await _post(wokingham, f"/v1/cases/{case_id}/referrals", {"kind": "nrm"})
    for action in ("submit", "send"):
        await _post(wokingham, f"/v1/referrals/{made['data']['id']}/{action}", {}, status=200)
    done = {s["id"] for s in await steps_of(wokingham, case_id, "done")}
    assert owed["nrm_referral"]["id"] in done
