"""A child's death (an event) ends the work with the child, through HTTP, on both packs.

Somerset 12: "Somerset YJT will complete notification within the expected timeframes for any child
who ... dies whilst relevant to our service"; "Case holders / team leaders will immediately inform
operational/ YJT Manager of the charge/death." Wokingham: a new incident "must be recorded on the
IYSS case management system within one working day and immediately be reported to the line
manager"; "Management reporting of serious incidents in line with YJB guidance". What the
policies ask after a death stays open; the steps that only make sense for a living child
(assessments, plans, panel referrals and reviews, contacts with the child and family, referrals
about the child) are superseded with the pack's reason, audited, in the event's own write.

2026 dates: Good Friday 3 April and Easter Monday 6 April are bank holidays; BST from 29 March.
"""

from __future__ import annotations

from typing import Any

from tests.api.fidelity_support import with_matrix
from tests.api.integrity_support import refer_to_marp
from tests.conftest import Tenant


async def _post(t: Tenant, url: str, body: dict[str, Any], role: str = "case_holder") -> Any:
    r = await t.client.post(url, json=body, headers=t.auth(role))
    assert r.status_code == 201, r.text
    return r.json()


async def _judge(t: Tenant, case_id: str, domain: str, level: str, at: str) -> Any:
    body = with_matrix(t.pack, {"domain": domain, "level": level, "occurred_at": at,
                                "victims": ["public"]})
    return await _post(t, f"/v1/cases/{case_id}/judgements", body)


async def _steps(t: Tenant, case_id: str, status: str) -> list[dict[str, Any]]:
    r = await t.client.get("/v1/next-steps", params={"case_id": case_id, "status": status,
                                                     "limit": 200},
                           headers=t.auth("line_manager"))
    assert r.status_code == 200, r.text
    return r.json()["data"]  # type: ignore[no-any-return]


async def _audit(t: Tenant, case_id: str) -> list[dict[str, Any]]:
    r = await t.client.get(f"/v1/cases/{case_id}/audit", params={"limit": 200},
                           headers=t.auth("line_manager"))
    assert r.status_code == 200, r.text
    return r.json()["data"]  # type: ignore[no-any-return]


async def _died(t: Tenant, case_id: str) -> dict[str, Any]:
    """The death, on Saturday 4 April 2026 23:30 BST, known to the case holder on Tuesday 7
    April 09:00 BST (after the Easter bank holidays), recorded by the case holder."""
    return await _post(t, f"/v1/cases/{case_id}/events", {
        "type": "death", "occurred_at": "2026-04-04T23:30:00+01:00",
        "known_at": "2026-04-07T09:00:00+01:00"})  # type: ignore[no-any-return]


async def _assert_ended(t: Tenant, case_id: str, before: set[str], kept: set[str],
                        event_id: str, missed: frozenset[str] = frozenset()) -> None:
    """Every step open before the death and not kept is superseded with the reason, linked to
    the event, and each supersession is audited with that reason; those already late at the
    death (``missed``) are missed with it instead, audited ``step.missed`` (ATTACK34B-7)."""
    superseded = {s["id"]: s for s in await _steps(t, case_id, "superseded")}
    late = {s["id"]: s for s in await _steps(t, case_id, "missed")}
    assert {s["code"] for s in superseded.values()} == before - kept - missed
    assert {s["code"] for s in late.values()} == missed
    ended = {**superseded, **late}
    for step in ended.values():
        assert "the child has died" in step["note"]
        assert event_id in step["note"]
    audit = await _audit(t, case_id)
    audited = {e["entity_id"]: e for e in audit if e["action"] == "step.supersede"}
    assert set(audited) == set(superseded)
    audited_missed = {e["entity_id"]: e for e in audit if e["action"] == "step.missed"}
    assert set(audited_missed) == set(late)
    audited.update(audited_missed)
    assert all("the child has died" in (e["reason"] or "") for e in audited.values())


async def test_S23_death_ends_the_work_with_the_child_and_keeps_the_notification(
    somerset: Tenant,
) -> None:
    """S23 (12): "Case holders / team leaders will immediately inform operational/ YJT Manager of
    the charge/death. The operational or YJT manager will be responsible for completing and
    submitting the notification to the YJB." ROSH high on Thursday 2 April 2026 opened the
    manager discussion, risk plan, MARP referral, views, monthly review, intervention plan and
    the explanation to the child; the death ends them all. Informing the manager is due when the
    death became known (Tuesday 7 April 09:00 BST, urgent) and the CSPPI notification stays."""
    case = (await somerset.open_case())["data"]
    await _judge(somerset, case["id"], "rosh", "high", "2026-04-02T10:00:00+01:00")
    before = {s["code"] for s in await _steps(somerset, case["id"], "open")}
    assert {"discuss_with_manager", "refer_to_panel", "monthly_manager_review",
            "complete_assessment", "inform_child_and_carer"} <= before
    body = await _died(somerset, case["id"])
    open_now = [(s["code"], s["actor"], s["due_at"], s["urgent"], s["policy"])
                for s in body["next_steps"]]
    assert sorted(open_now) == [
        ("inform_service_manager", "case_holder", "2026-04-07T08:00:00Z", True,
         {"pack": "somerset-yjt-2023", "version": "1", "ref": "12", "rule": "S23"}),
        ("notify_serious_incident", "chair", None, False,
         {"pack": "somerset-yjt-2023", "version": "1", "ref": "12", "rule": "S23"}),
    ]
    # The manager discussion (due Friday 3 April 10:00 BST, 3.1 "within 24 hours") and the
    # AssetPlus (2.1, four weeks from the opening) were already late at the death: missed.
    await _assert_ended(somerset, case["id"], before, set(), body["data"]["id"],
                        missed=frozenset({"complete_assessment", "discuss_with_manager"}))


async def test_W24_death_ends_the_work_with_the_child_and_keeps_the_serious_incident_duties(
    wokingham: Tenant,
) -> None:
    """W4, W5, W24: "Where there is a change of circumstances, context or a new incident of
    concern becomes known to the PYJS worker, this must be recorded on the IYSS case management
    system within one working day and immediately be reported to the line manager";
    "Management reporting of serious incidents in line with YJB guidance". ROSH and SWB high
    (child not open to social care) opened the High-Risk Panel request, the MARF, the risk
    management plan and the explanation to the child and family; the death ends them. Recording
    it (end of Wednesday 8 April), reporting it (Tuesday 7 April 09:00 BST, urgent) and the
    serious incident notification stay open."""
    case = (await wokingham.open_case(csc_status="none"))["data"]
    await _judge(wokingham, case["id"], "rosh", "high", "2026-04-02T10:00:00+01:00")
    await _judge(wokingham, case["id"], "swb", "high", "2026-04-02T10:05:00+01:00")
    before = {s["code"] for s in await _steps(wokingham, case["id"], "open")}
    assert {"request_high_risk_panel", "marf_referral", "update_risk_management_plan",
            "complete_assessment", "inform_child_and_carer"} <= before
    body = await _died(wokingham, case["id"])
    ref = {"pack": "wokingham-pyjs-2024", "version": "1.0"}
    open_now = [(s["code"], s["actor"], s["due_at"], s["urgent"], s["policy"])
                for s in body["next_steps"]]
    assert sorted(open_now) == [
        ("notify_serious_incident", "chair", None, False,
         {**ref, "ref": "Management oversight", "rule": "W24"}),
        ("record_incident", "case_holder", "2026-04-08T22:59:59Z", False,
         {**ref, "ref": "Internal and External Controls", "rule": "W4"}),
        ("report_to_line_manager", "case_holder", "2026-04-07T08:00:00Z", True,
         {**ref, "ref": "Internal and External Controls", "rule": "W5"}),
    ]
    await _assert_ended(wokingham, case["id"], before, set(), body["data"]["id"])


async def test_W4_an_incident_that_is_not_a_death_ends_nothing(wokingham: Tenant) -> None:
    """W4: "Where there is a change of circumstances ... or a new incident of concern becomes
    known ...": an ordinary incident (Thursday 2 April 2026) adds its duties and supersedes
    none of the work with the child."""
    case = (await wokingham.open_case(csc_status="none"))["data"]
    await _judge(wokingham, case["id"], "rosh", "high", "2026-04-02T10:00:00+01:00")
    await _post(wokingham, f"/v1/cases/{case['id']}/events",
                {"type": "new_incident", "occurred_at": "2026-04-02T11:00:00+01:00"})
    assert await _steps(wokingham, case["id"], "superseded") == []


async def test_S23_after_a_death_no_act_asks_for_the_work_with_the_child_again(
    somerset: Tenant,
) -> None:
    """S23 (12): after the death, a later ROSH judgement (Tuesday 7 April 2026) is refused
    (409 after-final-event, A19-17: it would have put a deceased child on the register), so it
    asks for none of the work with the child that the death ended (no manager discussion, MARP
    referral, monthly review or plan); the serious incident duties stay as they were."""
    case = (await somerset.open_case())["data"]
    await _died(somerset, case["id"])
    r = await somerset.client.post(f"/v1/cases/{case['id']}/judgements", json={
        "domain": "rosh", "level": "high", "occurred_at": "2026-04-07T10:00:00+01:00",
        "victims": ["public"]}, headers=somerset.auth("case_holder"))
    assert r.status_code == 409, r.text
    assert sorted(s["code"] for s in await _steps(somerset, case["id"], "open")) == [
        "inform_service_manager", "notify_serious_incident"]


async def test_S23_a_death_after_closure_is_not_undone_by_reopening(somerset: Tenant) -> None:
    """S23 (12): "... or dies whilst relevant to our service (up to 20 days following the end of
    supervision)". A ROSH-high case closed on Wednesday 1 April 2026; the child dies on Saturday
    4 April. The serious incident work is done on the closed case (the pack's
    ``survives_closure``): a reopening on Tuesday 7 April, after the death, is 409
    ``after-final-event`` (ATTACK32C-9), so nothing the closure set aside comes back."""
    case = (await somerset.open_case())["data"]
    await _judge(somerset, case["id"], "rosh", "high", "2026-03-30T10:00:00+01:00")
    # The MARP referral with the views (3.2.3, 6.2: not waivable) is made before the closure.
    await refer_to_marp(somerset, case["id"], "2026-03-30T11:00:00+01:00")
    url = f"/v1/cases/{case['id']}"

    async def patch(body: dict[str, Any], status: int = 200) -> Any:
        etag = (await somerset.client.get(url, headers=somerset.auth("line_manager"))).headers[
            "etag"]
        r = await somerset.client.patch(url, json=body, headers={
            **somerset.auth("line_manager"), "If-Match": etag})
        assert r.status_code == status, r.text
        return r.json()

    await patch({"closed_at": "2026-04-01T16:00:00+01:00", "closure_reason": "Order ended"})
    died = await _post(somerset, url + "/events", {
        "type": "death", "occurred_at": "2026-04-04T23:30:00+01:00",
        "known_at": "2026-04-07T09:00:00+01:00"}, role="line_manager")
    assert sorted(s["code"] for s in died["next_steps"]) == [
        "inform_service_manager", "notify_serious_incident"]
    refused = await patch({"closed_at": None, "reopen_reason": "Serious incident review",
                           "occurred_at": "2026-04-07T10:00:00+01:00"}, status=409)
    assert refused["type"].endswith("/after-final-event")
    r = await somerset.client.get(url, headers=somerset.auth("line_manager"))
    assert sorted(s["code"] for s in r.json()["data"]["open_steps"]) == [
        "inform_service_manager", "notify_serious_incident"]


async def test_S23_W24_a_death_reported_again_is_the_death_already_recorded(
        somerset: Tenant, wokingham: Tenant) -> None:
    """S23 (Somerset 12 "Case holders / team leaders will immediately inform operational/ YJT
    Manager of the charge/death"), W24. Attack pass 18, A18-4: the worker recorded the death and
    the IYSS feed sent it again in other words (and the worker once more, an hour later): each
    was a new death with its own notifications to the manager and the serious incident
    notification. A child dies once (the pack's ``once_per_case``): every later report is 200
    with the first death, raises nothing, and is audited ``case_event.reported_again`` with the
    time and details it gave."""
    for t in (somerset, wokingham):
        case_id = (await t.open_case())["data"]["id"]
        url = f"/v1/cases/{case_id}/events"
        first = await _post(t, url, {"type": "death", "occurred_at": "2026-04-07T10:00:00+01:00",
                                     "details": {"summary": "reported by worker"}})
        before = sorted(s["code"] for s in await _steps(t, case_id, "open"))
        reports = [({"type": "death", "occurred_at": "2026-04-07T10:00:00+01:00",
                     "details": {"summary": "from IYSS"}}, "feed"),
                   ({"type": "death", "occurred_at": "2026-04-07T11:00:00+01:00"},
                    "case_holder")]
        for body, role in reports:
            headers = t.auth("feed", "iyss", scope="cms") if role == "feed" else t.auth(role)
            r = await t.client.post(url, json=body, headers=headers)
            assert r.status_code == 200, r.text
            assert r.json()["data"]["id"] == first["data"]["id"]
        assert sorted(s["code"] for s in await _steps(t, case_id, "open")) == before, t.pack
        r = await t.client.get(f"/v1/cases/{case_id}/events", headers=t.auth("line_manager"))
        assert [e["type"] for e in r.json()["data"]] == ["death"]
        again = [e for e in await _audit(t, case_id)
                 if e["action"] == "case_event.reported_again"]
        assert sorted((e["role"], "reported" in e["fields"]) for e in again) == [
            ("case_holder", True), ("feed", True)], again
