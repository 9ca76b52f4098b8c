"""Attack pass 7 (F1-F3) through HTTP, on both databases: a review done before a later change
does not evidence it; a back-dated confirmation does not pull the monthly review; Wokingham's
three-monthly review once a domain is high; a re-dated step shows in the timeline.

The service's clock is pinned at Tuesday 6 April 2027 12:00Z, after every date used (the
tester's second instance), so that December 2026 and March 2027 acts may be recorded.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from app.core import clock
from tests.api.integrity_support import (
    assert_problem,
    complete,
    heard_by_marp,
    judge,
    patch_case,
    steps_of,
)
from tests.conftest import Tenant


@pytest.fixture(autouse=True)
def april_2027(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pin the clock of the future-``occurred_at`` guards at 6 April 2027 12:00Z."""
    monkeypatch.setattr(clock, "now", lambda: datetime(2027, 4, 6, 12, 0, tzinfo=UTC))


async def post(t: Tenant, url: str, body: dict[str, Any], role: str = "case_holder",
               status: int = 201) -> dict[str, Any]:
    """POST as a role; the decoded answer (asserting the status)."""
    r = await t.client.post(url, json=body, headers=t.auth(role))
    assert r.status_code == status, r.text
    return r.json()  # type: ignore[no-any-return]


async def event(t: Tenant, case_id: str, kind: str, at: str) -> str:
    """Record a case event; its id."""
    return str((await post(t, f"/v1/cases/{case_id}/events",
                           {"type": kind, "occurred_at": at}))["data"]["id"])


def reviews(steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The open review_assessment steps."""
    return [s for s in steps if s["code"] == "review_assessment" and s["status"] == "open"]


async def review_submitted(t: Tenant, case_id: str, at: str) -> dict[str, Any]:
    """The case holder reviews the AssetPlus: a review stage drafted and submitted at ``at`` (the
    act that does ``review_assessment``: it is not completed by hand, A9-13); the answer."""
    draft = await post(t, f"/v1/cases/{case_id}/assessments",
                       {"type": "asset_plus", "stage": "review", "occurred_at": at})
    return await post(t, f"/v1/assessments/{draft['data']['id']}/submit", {"occurred_at": at},
                      status=200)


def policy_of(step: dict[str, Any]) -> tuple[str, str, str]:
    """A step's (rule, paragraph, actor)."""
    return step["policy"]["rule"], step["policy"]["ref"], step["actor"]


async def test_S14_review_before_a_later_change_leaves_it_owed_through_http(
        somerset: Tenant) -> None:
    """S14 (4.2): "Case holders will review AssetPlus as soon as possible (within 24 hrs/next
    working day) to evidence when changes of circumstance have occurred requiring the
    implementation of the specified contingency plan." Changes on Thursday 24 December 2026
    (review due Tuesday 29 December), 31 December, 25 and 27 March 2027 share one review;
    the review recorded as done on 29 December leaves the later three owed: a review due
    Monday 4 January 23:59:59Z (1 January is a bank holiday) about the 31 December change,
    raised at that change; done on 4 January, the March changes are due Tuesday 30 March
    22:59:59Z (Good Friday, Easter Monday, BST)."""
    case_id = (await somerset.open_case(opened_at="2026-11-30T09:00:00Z"))["data"]["id"]
    await judge(somerset, case_id, "rosh", "medium", "2026-12-01T10:00:00Z")
    e24 = await event(somerset, case_id, "change_of_circumstances", "2026-12-24T15:00:00Z")
    e31 = await event(somerset, case_id, "change_of_circumstances", "2026-12-31T12:00:00Z")
    e25 = await event(somerset, case_id, "change_of_circumstances", "2027-03-25T12:00:00Z")
    await event(somerset, case_id, "change_of_circumstances", "2027-03-27T23:30:00Z")
    [first] = reviews(await steps_of(somerset, case_id))
    assert (first["due_at"], first["subject_id"]) == ("2026-12-29T23:59:59Z", e24)
    body = await review_submitted(somerset, case_id, "2026-12-29T12:00:00Z")
    [owed] = reviews(body["next_steps"])
    assert policy_of(owed) == ("S14", "4.2", "case_holder")
    assert owed["policy"]["pack"] == "somerset-yjt-2023"
    assert (owed["due_at"], owed["subject_id"]) == ("2027-01-04T23:59:59Z", e31)
    assert owed["raised_at"] == "2026-12-31T12:00:00Z"
    assert len(owed["reasons"]) == 3
    body = await review_submitted(somerset, case_id, "2027-01-04T10:00:00Z")
    [march] = reviews(body["next_steps"])
    assert policy_of(march) == ("S14", "4.2", "case_holder")
    assert (march["due_at"], march["subject_id"]) == ("2027-03-30T22:59:59Z", e25)
    body = await review_submitted(somerset, case_id, "2027-03-31T09:00:00Z")
    assert reviews(body["next_steps"]) == []


async def test_W6_review_before_a_later_incident_leaves_it_owed_through_http(
        wokingham: Tenant) -> None:
    """W6 (Assessment Reviews): "the Asset+ should be reviewed within three weeks of the new
    event becoming known to the case worker." Incidents on 23, 24, 26 and 31 December 2026
    share one review (due 13 January 16:00Z); reviewed on 28 December (the line manager's
    oversight stands for it), the 31 December incident
    is owed: due 21 January 2027 17:00Z, about that incident."""
    case_id = (await wokingham.open_case(opened_at="2026-12-01T09:00:00Z"))["data"]["id"]
    for at in ("2026-12-23T16:00:00Z", "2026-12-24T14:00:00Z", "2026-12-26T11:00:00Z"):
        await event(wokingham, case_id, "new_incident", at)
    i31 = await event(wokingham, case_id, "new_incident", "2026-12-31T17:00:00Z")
    [first] = reviews(await steps_of(wokingham, case_id))
    assert first["due_at"] == "2027-01-13T16:00:00Z"
    # The review is the countersigned Asset+ (not completed by hand, A9-13), or a manager's
    # oversight standing for it (W6 ``satisfiable_by_oversight``): here the oversight.
    body = await post(wokingham, f"/v1/cases/{case_id}/oversight", {
        "note": "Asset+ reviewed with the case worker", "satisfies_step_id": first["id"],
        "occurred_at": "2026-12-28T12:00:00Z"}, role="line_manager")
    [owed] = reviews(body["next_steps"])
    assert policy_of(owed) == ("W6", "Assessment Reviews", "case_holder")
    assert owed["policy"]["pack"] == "wokingham-pyjs-2024"
    assert (owed["due_at"], owed["subject_id"]) == ("2027-01-21T17:00:00Z", i31)


async def test_S11_back_dated_confirmation_keeps_the_monthly_review_through_http(
        somerset: Tenant) -> None:
    """S11 (4.5): line managers "review all cases where there is a High or Very High ROSH
    and/or Safety and Well-Being rating with case holders at least monthly"; policy-rules
    ``every 1m``: "the next is due one month after the act that completed it". SWB high on 1
    December 2026; reviews on 10 December and 20 February 2027 (next due 20 March 10:00Z);
    a judgement dated 1 February re-confirming SWB high leaves it due 20 March, not overdue
    since 1 March. The timeline shows each step's due date as raised."""
    case_id = (await somerset.open_case(opened_at="2026-11-30T09:00:00Z"))["data"]["id"]
    await judge(somerset, case_id, "swb", "high", "2026-12-01T12:00:00Z")
    [review] = [s for s in await steps_of(somerset, case_id)
                if s["code"] == "monthly_manager_review"]
    assert review["due_at"] == "2027-01-01T12:00:00Z"
    r = await complete(somerset, review["id"], "line_manager", note="supervision",
                       occurred_at="2026-12-10T10:00:00Z")
    assert r.status_code == 200, r.text
    [review] = [s for s in r.json()["next_steps"] if s["code"] == "monthly_manager_review"]
    assert review["due_at"] == "2027-01-10T10:00:00Z"
    r = await complete(somerset, review["id"], "line_manager", note="supervision",
                       occurred_at="2027-02-20T10:00:00Z")
    assert r.status_code == 200, r.text
    [review] = [s for s in r.json()["next_steps"] if s["code"] == "monthly_manager_review"]
    assert review["due_at"] == "2027-03-20T10:00:00Z"
    body = await judge(somerset, case_id, "swb", "high", "2027-02-01T10:00:00Z")
    [kept] = [s for s in body["next_steps"] if s["code"] == "monthly_manager_review"]
    assert (kept["id"], kept["due_at"]) == (review["id"], "2027-03-20T10:00:00Z")
    assert policy_of(kept) == ("S11", "4.5", "line_manager")


async def test_W3_domain_turning_high_brings_the_review_to_three_months_through_http(
        wokingham: Tenant) -> None:
    """W3 (Assessment Reviews): "Children who have been assessed as high within any of the
    risk domains must have their Asset+ reviewed at least every three months or sooner if there
    has been a significant change in circumstances." Countersigned 1 December 2026 10:00Z while
    SWB low: review due 1 June 2027 09:00Z (BST). ROSH high on 10 January 2027: due 1 March
    2027 10:00Z. The timeline shows the re-date (from, to) and the date the step was raised."""
    t = wokingham
    case_id = (await t.open_case(opened_at="2026-11-02T09:00:00Z"))["data"]["id"]
    await judge(t, case_id, "swb", "low", "2026-11-03T10:00:00Z")
    assessment = (await post(t, f"/v1/cases/{case_id}/assessments",
                             {"type": "asset_plus", "stage": "start",
                              "occurred_at": "2026-11-25T10:00:00Z"}))["data"]["id"]
    await post(t, f"/v1/assessments/{assessment}/submit",
               {"occurred_at": "2026-11-27T10:00:00Z"}, status=200)
    signed = await post(t, f"/v1/assessments/{assessment}/countersign",
                        {"feedback": "ok", "occurred_at": "2026-12-01T10:00:00Z"},
                        "line_manager", 200)
    [review] = reviews(signed["next_steps"])
    assert review["due_at"] == "2027-06-01T09:00:00Z"
    body = await post(t, f"/v1/cases/{case_id}/judgements", {
        "domain": "rosh", "level": "high", "impact": "critical", "likelihood": "likely",
        "victims": ["public"], "rationale": "weapon in public",
        "occurred_at": "2027-01-10T10:00:00Z"})
    [moved] = reviews(body["next_steps"])
    assert moved["id"] == review["id"]
    assert policy_of(moved) == ("W3", "Assessment Reviews", "case_holder")
    assert moved["due_at"] == "2027-03-01T10:00:00Z"
    r = await t.client.get(f"/v1/cases/{case_id}/timeline", params={"limit": 200},
                           headers=t.auth("line_manager"))
    assert r.status_code == 200, r.text
    mine = [e for e in r.json()["data"]
            if e["kind"] == "step" and e["entity_id"] == review["id"]]
    shown = {e["action"]: e for e in mine}
    assert sorted(shown) == ["created", "redated"]
    assert shown["created"]["details"]["due_at"] == "2027-06-01T09:00:00Z"  # as raised
    moved_entry = shown["redated"]
    assert (moved_entry["details"]["from"], moved_entry["details"]["to"]) == (
        "2027-06-01T09:00:00Z", "2027-03-01T10:00:00Z")
    assert "W3 (Assessment Reviews): judgement_recorded at 2027-01-10" in moved_entry["why"]


async def test_S10_the_marp_decides_on_mappa_2_once_rosh_is_very_high_through_http(
        somerset: Tenant) -> None:
    """S10 (7.1.9): "The MARP will decide if cases with Very High ROSH judgements need to be
    referred to MAPPA 2" (ATTACK34B-1). ROSH high on 1 March 2027, MAPPA category 2 recorded
    on 2 March (8.2: a child need only be charged to be eligible): no decision asked (the
    catalogue's S10 asked the case holder for one); ROSH very high on Wednesday 3 March: the
    chairs' decision at the next MARP, Thursday 8 April 14:00 BST (13:00Z)."""
    case_id = (await somerset.open_case(opened_at="2026-12-01T09:00:00Z"))["data"]["id"]
    await post(somerset, "/v1/panels", {"kind": "marp", "scheduled_for": "2027-04-08T13:00:00Z",
                                        "chair_id": "chair-1"}, "chair")
    await judge(somerset, case_id, "rosh", "high", "2027-03-01T10:00:00Z")
    r = await patch_case(somerset, case_id, {"mappa_category": 2,
                                             "occurred_at": "2027-03-02T10:00:00Z"})
    assert r.status_code == 200, r.text
    assert [s for s in await steps_of(somerset, case_id)
            if s["code"] == "identify_mappa_level"] == []
    await judge(somerset, case_id, "rosh", "very_high", "2027-03-03T10:00:00Z")
    [step] = [s for s in await steps_of(somerset, case_id) if s["code"] == "identify_mappa_level"]
    assert policy_of(step) == ("S10", "7.1.9, 3.2.4", "chair")
    assert step["due_at"] == "2027-04-08T13:00:00Z"


async def test_M6_a_high_rating_no_marp_has_heard_is_lowered_after_line_manager_consultation(
        somerset: Tenant) -> None:
    """M6 (4.3): "Where ratings are downgraded after consultation with their line manager/ at
    MARP, the case holder will revise the ROSH/Safety and Well-Being judgement to reflect this.
    If the case was relevant to MARP, the case holder will update the panel in line with the
    previously agreed review date, to seek agreement from the panel". SWB high on Monday 1
    March 2027 10:00Z (the child went missing), found the same day: lowered to medium at 16:00
    after consulting the line manager, accepted (off the register, the referral superseded).
    Once a MARP has taken a case and booked its review, lowering needs the panel (409:
    test_judgements, test_panels)."""
    case_id = (await somerset.open_case(opened_at="2026-12-01T09:00:00Z"))["data"]["id"]
    await judge(somerset, case_id, "swb", "high", "2027-03-01T10:00:00Z")
    body = await post(somerset, f"/v1/cases/{case_id}/judgements", {
        "domain": "swb", "level": "medium", "occurred_at": "2027-03-01T16:00:00Z",
        "rationale": "Found same day; discussed with the line manager, agreed medium"})
    codes = {s["code"] for s in body["next_steps"]}
    assert "refer_to_panel" not in codes
    assert "monthly_manager_review" not in codes
    r = await somerset.client.get(f"/v1/cases/{case_id}", headers=somerset.auth("line_manager"))
    assert r.json()["data"]["on_register"] is False


async def test_S7_a_case_under_marp_review_is_not_closed_past_its_booked_review(
        somerset: Tenant) -> None:
    """S7 (3.2.3, 7.2.3): "The case holder will refer the case to the next YJT MARP" when it is
    judged high; "Where cases continue to be classified as High or Very high, the case will
    remain relevant to ongoing MARP oversight." SWB high on 1 December 2026, heard at the MARP
    of Thursday 7 January 2027 (review booked for 4 February): closing it on 6 April 2027 with
    the booked review (S20) still open, its date passed, is 409 naming it (A9-9); the views the
    MARP sat without (S8, 6.2 "before the initial panel") lapsed at that sitting (attack 24b,
    A24b-4); nothing is superseded and no new referral (S7) is asked for."""
    case_id = (await somerset.open_case(opened_at="2026-11-30T09:00:00Z"))["data"]["id"]
    await judge(somerset, case_id, "swb", "high", "2026-12-01T12:00:00Z")
    await heard_by_marp(somerset, case_id, sits="2027-01-07T10:00:00Z",
                        review_date="2027-02-04", swb_level="high")
    r = await patch_case(somerset, case_id, {"closed_at": "2027-04-06T12:00:00Z",
                                             "closure_reason": "Order ended"})
    problem = assert_problem(r, 409)
    assert sorted((s["code"], s["rule"]) for s in problem["steps"]) == [
        ("attend_panel_review", "S20")]
    r = await somerset.client.get("/v1/next-steps", params={"case_id": case_id},
                                  headers=somerset.auth("duty_manager"))
    steps = r.json()["data"]
    codes = {s["code"] for s in steps}
    assert "refer_to_panel" not in codes
    assert "seek_child_and_carer_views" not in codes
    [review] = [s for s in steps if s["code"] == "attend_panel_review"]
    assert policy_of(review) == ("S20", "7.1.6, 7.2.3", "case_holder")
    assert review["due_at"] == "2027-02-04T23:59:59Z"


async def test_S9_marp_raising_swb_to_very_high_asks_for_the_child_protection_referral(
        somerset: Tenant) -> None:
    """S9 (3.2.4): very high SWB "will include (or has already included) a referral to
    statutory child protection services"; 7.1.9: the MARP "will also ensure that cases assessed
    as Very High Safety and Wellbeing, which require a child protection/safeguarding response,
    have been actioned appropriately". SWB high on 1 February 2027; the MARP of Thursday 25
    February (decided 11:00Z) raises it to very high: the referral is due then, urgent."""
    case_id = (await somerset.open_case(opened_at="2026-12-01T09:00:00Z"))["data"]["id"]
    await judge(somerset, case_id, "swb", "high", "2027-02-01T10:00:00Z")
    decided = await heard_by_marp(somerset, case_id, sits="2027-02-25T10:00:00Z",
                                  review_date="2027-03-11", swb_level="very_high")
    [referral] = [s for s in decided["next_steps"] if s["code"] == "child_protection_referral"]
    assert policy_of(referral) == ("S9", "3.2.4", "case_holder")
    assert (referral["due_at"], referral["urgent"]) == ("2027-02-25T11:00:00Z", True)
