"""Attack 34b, ATTACK34B-8: the chair owns the serious-incident notification step and may make
the serious_incident referral that completes it (before: 403 on the referral).

Somerset 12: "Case holders / team leaders will immediately inform operational/ YJT Manager of
the charge/death. The operational or YJT manager will be responsible for completing and
submitting the notification to the YJB." Wokingham (Management oversight): "Management
reporting of serious incidents in line with YJB guidance". Somerset 8.3: "the case will be
referred to the Operational/YJT manager with a view to making an immediate referral"; 8.3.3
"Referral to MAPPA 2 is achieved by sending a 'MAPPA A' Referral form".

Dates: Friday 28 August 2026 (BST); Monday 31 August 2026 is the Summer bank holiday.
"""

from __future__ import annotations

from typing import Any

from tests.conftest import Tenant

CHARGED = "2026-08-28T11:00:00+01:00"
NOTIFIED = "2026-08-28T15:30:00+01:00"


async def _event(t: Tenant, case_id: str, role: str, **body: Any) -> list[dict[str, Any]]:
    r = await t.client.post(f"/v1/cases/{case_id}/events", json=body, headers=t.auth(role))
    assert r.status_code == 201, r.text
    event_id = r.json()["data"]["id"]
    return [s for s in r.json()["next_steps"] if s["subject_id"] == event_id]


async def _make(t: Tenant, case_id: str, kind: str, role: str) -> str:
    """Create, submit and send a referral as ``role``; its id."""
    r = await t.client.post(f"/v1/cases/{case_id}/referrals", json={
        "kind": kind, "occurred_at": NOTIFIED}, headers=t.auth(role))
    assert r.status_code == 201, r.text
    referral_id = r.json()["data"]["id"]
    for action in ("submit", "send"):
        r = await t.client.post(f"/v1/referrals/{referral_id}/{action}",
                                json={"occurred_at": NOTIFIED}, headers=t.auth(role))
        assert r.status_code == 200, r.text
    return str(referral_id)


async def _step(t: Tenant, step_id: str) -> dict[str, Any]:
    r = await t.client.get(f"/v1/next-steps/{step_id}", headers=t.auth("chair"))
    assert r.status_code == 200, r.text
    return dict(r.json()["data"])


async def _notified_by_chair(t: Tenant, ref: str, rule: str) -> None:
    case = (await t.open_case())["data"]
    steps = await _event(t, case["id"], "case_holder", type="charged", occurred_at=CHARGED,
                         details={"offence": "robbery"})
    step = next(s for s in steps if s["code"] == "notify_serious_incident")
    assert (step["actor"], step["assignee_id"], step["due_at"], step["policy"]["ref"],
            step["policy"]["rule"]) == ("chair", None, None, ref, rule)
    await _make(t, case["id"], "serious_incident", "chair")
    done = await _step(t, step["id"])
    assert (done["status"], done["completed_at"]) == ("done", "2026-08-28T14:30:00Z")


async def test_S23_the_chair_makes_the_serious_incident_notification(somerset: Tenant) -> None:
    """S23 (12) "The operational or YJT manager will be responsible for completing and
    submitting the notification to the YJB": a charge on Friday 28 August 2026 at 11:00 BST
    gives the chair the notification (no local timescale); the chair creates, submits and
    sends the serious_incident referral at 15:30 BST, which does the step."""
    await _notified_by_chair(somerset, "12", "S23")


async def test_W24_the_chair_makes_the_serious_incident_notification(wokingham: Tenant) -> None:
    """W24 "Management reporting of serious incidents in line with YJB guidance": the Team
    Manager (chair) owns the notification of a charge on Friday 28 August 2026 and makes the
    serious_incident referral that does it."""
    await _notified_by_chair(wokingham, "Management oversight", "W24")


async def test_S46_the_chair_makes_the_immediate_mappa_referral(somerset: Tenant) -> None:
    """S46 (8.3) "the case will be referred to the Operational/YJT manager with a view to
    making an immediate referral"; 8.3.3 the MAPPA A form: the case holder records the urgent
    case on Friday 28 August 2026 at 11:00 BST and refers it to the chair at 11:20 BST; the
    chair's step, due at once, is done by the mappa_a referral the chair makes at 15:30 BST."""
    case = (await somerset.open_case())["data"]
    steps = await _event(somerset, case["id"], "case_holder", type="urgent_mappa_referral",
                         occurred_at=CHARGED)
    refer = next(s for s in steps if s["code"] == "refer_to_service_manager_for_mappa")
    r = await somerset.client.post(f"/v1/next-steps/{refer['id']}/complete", json={
        "occurred_at": "2026-08-28T11:20:00+01:00"}, headers=somerset.auth("case_holder"))
    assert r.status_code == 200, r.text
    step = next(s for s in r.json()["next_steps"]
                if s["code"] == "make_immediate_mappa_referral")
    assert (step["actor"], step["due_at"], step["urgent"], step["policy"]["ref"],
            step["policy"]["rule"]) == ("chair", "2026-08-28T10:20:00Z", True, "8.3, 8.3.3",
                                        "S46")
    await _make(somerset, case["id"], "mappa_a", "chair")
    done = await _step(somerset, step["id"])
    assert (done["status"], done["completed_at"]) == ("done", "2026-08-28T14:30:00Z")


async def test_a_chair_makes_only_the_kinds_the_pack_gives_the_chair(somerset: Tenant) -> None:
    """The chair's referrals are the pack's to say (``also_made_by``): a MARP referral, a child
    protection referral or a MAPPA H form is the case holder's (3.2.3, 3.2.4, 7) and stays 403
    to a chair, as is submitting a case holder's draft of one."""
    case = (await somerset.open_case())["data"]
    for kind in ("panel", "child_protection", "mappa_h"):
        r = await somerset.client.post(f"/v1/cases/{case['id']}/referrals", json={
            "kind": kind, "occurred_at": NOTIFIED}, headers=somerset.auth("chair"))
        assert r.status_code == 403, r.text
    r = await somerset.client.post(f"/v1/cases/{case['id']}/referrals", json={
        "kind": "mappa_h", "occurred_at": NOTIFIED}, headers=somerset.auth("case_holder"))
    assert r.status_code == 201, r.text
    r = await somerset.client.post(f"/v1/referrals/{r.json()['data']['id']}/submit",
                                   json={"occurred_at": NOTIFIED},
                                   headers=somerset.auth("chair"))
    assert r.status_code == 403, r.text
