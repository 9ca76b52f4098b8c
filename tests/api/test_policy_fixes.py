"""HTTP tests for the QA policy fixes, one per rule id, on real London dates.

W22 (review date and panel review), S23 (20 London calendar days after closure), S14 (new
incident), W4/W5/W6 (charge or death), W9/W10 (social care status changes), W11 (SWB medium),
W16 (six-month point already past), W18 (feed MAPPA referrals), W8 (panel referral on submit;
withdrawn referral supersedes its steps). British Summer Time 2026 ends on 25 October.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from app.core import clock
from tests.api.test_assessments import case_steps, codes, the_step
from tests.api.test_events import event_steps, judge, patch, post_event
from tests.api.test_panels import add_item, schedule
from tests.conftest import Tenant

SOMERSET = "somerset-yjt-2023"
WOKINGHAM = "wokingham-pyjs-2024"


@pytest.fixture(autouse=True)
def now_after_the_dates(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pin the clock of the future-``occurred_at`` guard after every date these tests use."""
    monkeypatch.setattr(clock, "now", lambda: datetime(2027, 1, 4, 12, 0, tzinfo=UTC))


async def referral_action(t: Tenant, referral_id: str, action: str, at: str,
                          role: str = "case_holder") -> dict[str, Any]:
    """Apply a referral lifecycle action; the decoded 200 answer."""
    r = await t.client.post(f"/v1/referrals/{referral_id}/{action}",
                            json={"occurred_at": at, "note": f"{action} (test)"},
                            headers=t.auth(role))
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


# --- W22 -------------------------------------------------------------------------------------

async def test_W22_high_risk_panel_leaving_high_needs_a_review_date(
    client: httpx.AsyncClient, wokingham: Tenant
) -> None:
    """W22: 422 review-date-required; with one, attend_panel_review is due at its end."""
    case = (await wokingham.open_case())["data"]
    await judge(wokingham, case["id"], "rosh", "high", "2026-09-01T10:00:00+01:00")
    panel = await schedule(client, wokingham, "2026-09-03T10:00:00+01:00", "high_risk_panel")
    item = await add_item(client, wokingham, panel["id"], case["id"])
    url = f"/v1/panels/{panel['id']}/items/{item['id']}/decision"
    body: dict[str, Any] = {"rosh_level": "high", "minutes": "Remains high",
                            "actions": [{"description": "Review the plan",
                                         "owner_id": "case_holder-1",
                                         "due_date": "2026-09-10"}],
                            "occurred_at": "2026-09-03T11:00:00+01:00"}
    r = await client.post(url, json=body, headers=wokingham.auth("chair", "chair-1"))
    assert r.status_code == 422, r.text
    assert r.json()["type"].endswith("/review-date-required")
    assert "attend_panel_review" not in codes(await case_steps(wokingham, case["id"]))
    r = await client.post(url, json=body | {"review_date": "2026-10-01"},
                          headers=wokingham.auth("chair", "chair-1"))
    assert r.status_code == 200, r.text
    review = the_step(r.json()["next_steps"], "attend_panel_review")
    assert review["actor"] == "case_holder"
    assert review["assignee_id"] == "case_holder-1"
    assert review["due_at"] == "2026-10-01T22:59:59Z"
    assert review["policy"] == {"pack": WOKINGHAM, "version": "1.0",
                                "ref": "High Risk Panel", "rule": "W22"}


async def test_W22_decision_lowering_to_medium_needs_no_review_date(
    client: httpx.AsyncClient, wokingham: Tenant
) -> None:
    """W22: a decision leaving ROSH and SWB below high is accepted without a review date."""
    case = (await wokingham.open_case())["data"]
    await judge(wokingham, case["id"], "rosh", "high", "2026-09-01T10:00:00+01:00")
    panel = await schedule(client, wokingham, "2026-09-03T10:00:00+01:00", "high_risk_panel")
    item = await add_item(client, wokingham, panel["id"], case["id"])
    r = await client.post(
        f"/v1/panels/{panel['id']}/items/{item['id']}/decision",
        json={"rosh_level": "medium", "minutes": "Reduced",
              "actions": [{"description": "Review the plan", "owner_id": "case_holder-1",
                           "due_date": "2026-09-10"}],
              "occurred_at": "2026-09-03T11:00:00+01:00"},
        headers=wokingham.auth("chair", "chair-1"),
    )
    assert r.status_code == 200, r.text
    assert "attend_panel_review" not in codes(r.json()["next_steps"])


# --- S23, S14 (Somerset) ----------------------------------------------------------------------

async def test_S23_twenty_days_after_closure_are_london_calendar_days(somerset: Tenant) -> None:
    """S23: closed 1 Oct 2026 17:00 BST; a charge at 23:30 on 21 Oct qualifies, 22 Oct not."""
    case = (await somerset.open_case())["data"]
    await patch(somerset, case["id"], {"closed_at": "2026-10-01T17:00:00+01:00",
                                             "closure_reason": "Order ended"})
    inside = await post_event(somerset, case["id"], type="charged",
                              occurred_at="2026-10-21T23:30:00+01:00", role="line_manager")
    assert {"inform_service_manager", "notify_serious_incident"} <= codes(event_steps(inside))
    assert the_step(event_steps(inside), "inform_service_manager")["due_at"] == (
        "2026-10-21T22:30:00Z")
    outside = await post_event(somerset, case["id"], type="charged",
                               occurred_at="2026-10-22T00:30:00+01:00", role="line_manager")
    assert event_steps(outside) == []


async def test_S14_new_incident_on_a_medium_case_reviews_assetplus(somerset: Tenant) -> None:
    """S14: a new incident on a medium case: AssetPlus reviewed by the next working day."""
    case = (await somerset.open_case())["data"]
    await judge(somerset, case["id"], "rosh", "medium", "2026-03-30T10:00:00+01:00")
    # Thursday 2 April 2026: Good Friday and Easter Monday follow, so Tuesday 7 April.
    body = await post_event(somerset, case["id"], type="new_incident",
                            occurred_at="2026-04-02T11:00:00+01:00")
    step = the_step(event_steps(body), "review_assessment")
    assert step["due_at"] == "2026-04-07T22:59:59Z"
    assert step["policy"] == {"pack": SOMERSET, "version": "1", "ref": "4.2", "rule": "S14"}


# --- W4, W5, W6 -------------------------------------------------------------------------------

@pytest.mark.parametrize("event_type", ["charged", "death"])
async def test_W4_W5_charge_or_death_is_recorded_and_reported(
    wokingham: Tenant, event_type: str
) -> None:
    """W4/W5 (and W6 for a charge on a statutory case): a charge or death is a new incident."""
    case = (await wokingham.open_case())["data"]
    # Tuesday 20 October 2026, 16:00 BST.
    body = await post_event(wokingham, case["id"], type=event_type,
                            occurred_at="2026-10-20T16:00:00+01:00")
    steps = event_steps(body)
    record = the_step(steps, "record_incident")
    assert record["due_at"] == "2026-10-21T22:59:59Z"
    assert record["policy"]["rule"] == "W4"
    report = the_step(steps, "report_to_line_manager")
    assert (report["due_at"], report["urgent"]) == ("2026-10-20T15:00:00Z", True)
    assert report["policy"]["rule"] == "W5"
    if event_type == "charged":
        review = the_step(steps, "review_assessment")
        # + 3 weeks on London wall time: 10 November 16:00 GMT.
        assert review["due_at"] == "2026-11-10T16:00:00Z"
        assert review["policy"]["rule"] == "W6"
    else:
        assert "review_assessment" not in codes(steps)


# --- W9, W10 ----------------------------------------------------------------------------------

async def test_W9_W10_social_care_status_change_reevaluates_swb_steps(wokingham: Tenant) -> None:
    """W9/W10: opening to social care supersedes the MARF and aligns with their plan."""
    case = (await wokingham.open_case(csc_status="none"))["data"]
    await judge(wokingham, case["id"], "swb", "high", "2026-10-20T10:00:00+01:00")
    marf = the_step(await case_steps(wokingham, case["id"]), "marf_referral")
    body = await patch(wokingham, case["id"], {"csc_status": "cp",
                                               "occurred_at": "2026-10-21T10:00:00+01:00"})
    open_now = codes(body["next_steps"])
    assert "marf_referral" not in open_now
    assert "align_with_social_care_plan" in open_now
    align = the_step(body["next_steps"], "align_with_social_care_plan")
    assert align["policy"] == {"pack": WOKINGHAM, "version": "1.0",
                               "ref": "Management of Safety and Well-being concerns",
                               "rule": "W10"}
    superseded = the_step(await case_steps(wokingham, case["id"], "superseded"), "marf_referral")
    assert superseded["id"] == marf["id"]


# --- W11 --------------------------------------------------------------------------------------

async def test_W11_swb_medium_is_weekly(wokingham: Tenant) -> None:
    """W11: ROSH and LoR low with SWB medium is weekly (fortnightly needs all three low)."""
    case = (await wokingham.open_case())["data"]
    for domain, level in (("rosh", "low"), ("lor", "low"), ("swb", "medium")):
        await judge(wokingham, case["id"], domain, level, "2026-10-20T10:00:00+01:00")
    got = await wokingham.client.get(f"/v1/cases/{case['id']}",
                                     headers=wokingham.auth("line_manager"))
    assert got.json()["data"]["contact_level"] == "weekly"


# --- W16 --------------------------------------------------------------------------------------

async def test_W16_six_month_point_already_past_is_due_at_once(wokingham: Tenant) -> None:
    """W16: category 2 in custody, six months before release already past: due now, urgent."""
    case = (await wokingham.open_case(in_custody=True,
                                      expected_release_date="2027-03-15"))["data"]
    body = await patch(wokingham, case["id"], {"mappa_category": 2,
                                               "occurred_at": "2026-10-20T10:00:00+01:00"})
    step = the_step(body["next_steps"], "mappa_h_notification")
    # 15 March 2027 - 6 months = 15 September 2026: passed before 20 October.
    assert step["due_at"] == "2026-10-20T09:00:00Z"
    assert step["urgent"] is True
    assert "passed on Tuesday 15 September 2026" in step["note"]  # London text (A17-10)


# --- W18 --------------------------------------------------------------------------------------

async def test_W18_mappa_referral_from_the_feed_is_not_quality_assured(
    client: httpx.AsyncClient, wokingham: Tenant
) -> None:
    """W18: a MAPPA form received from the automated feed asks for no quality assurance."""
    case = (await wokingham.open_case(external_ref={"system": "IYSS", "id": "QA-1"}))["data"]
    r = await client.post(
        "/v1/feeds/mappa/referrals",
        json={"case_external_ref": {"system": "IYSS", "id": "QA-1"}, "kind": "mappa_h",
              "received_at": "2026-10-20T10:00:00+01:00", "details": {}},
        headers={**wokingham.auth("feed", "mappa-feed", scope="feed:mappa"),
                 "Idempotency-Key": "qa-000001"},
    )
    assert r.status_code == 201, r.text
    assert "quality_assure_mappa_form" not in codes(await case_steps(wokingham, case["id"]))
    drafted = await client.post(f"/v1/cases/{case['id']}/referrals",
                                json={"kind": "mappa_h"}, headers=wokingham.auth("case_holder"))
    assert drafted.status_code == 201, drafted.text
    assert "quality_assure_mappa_form" in codes(await case_steps(wokingham, case["id"]))


# --- W8 ---------------------------------------------------------------------------------------

async def draft_panel_referral(t: Tenant, case_id: str, at: str) -> str:
    """A drafted High-Risk Panel referral; its id."""
    r = await t.client.post(f"/v1/cases/{case_id}/referrals",
                            json={"kind": "panel", "occurred_at": at},
                            headers=t.auth("case_holder"))
    assert r.status_code == 201, r.text
    return str(r.json()["data"]["id"])


async def test_W8_submitted_panel_referral_asks_the_chair_and_withdrawal_supersedes_it(
    wokingham: Tenant
) -> None:
    """W8: a draft asks for nothing; submitting asks the chair; withdrawing supersedes it."""
    case = (await wokingham.open_case())["data"]
    referral_id = await draft_panel_referral(wokingham, case["id"], "2026-10-20T09:00:00+01:00")
    assert "hold_high_risk_panel" not in codes(await case_steps(wokingham, case["id"]))
    submitted = await referral_action(wokingham, referral_id, "submit",
                                      "2026-10-20T10:00:00+01:00")
    hold = the_step(submitted["next_steps"], "hold_high_risk_panel")
    assert hold["subject_id"] == referral_id
    assert hold["policy"] == {"pack": WOKINGHAM, "version": "1.0",
                              "ref": "High Risk Panel, Management oversight",
                              "rule": "W8"}
    assert hold["due_at"] == "2026-10-27T10:00:00Z"  # + 1 week on London wall time, now GMT
    await referral_action(wokingham, referral_id, "withdraw", "2026-10-21T10:00:00+01:00")
    assert "hold_high_risk_panel" not in codes(await case_steps(wokingham, case["id"]))
    gone = the_step(await case_steps(wokingham, case["id"], "superseded"),
                    "hold_high_risk_panel")
    assert gone["id"] == hold["id"]
    assert "withdrawn" in (gone["note"] or "")


async def test_W8_draft_panel_referral_leaves_the_request_open(wokingham: Tenant) -> None:
    """W8: with a panel requested (W7), a draft neither makes the request nor asks the chair."""
    case = (await wokingham.open_case())["data"]
    await judge(wokingham, case["id"], "rosh", "high", "2026-10-19T10:00:00+01:00")
    assert "request_high_risk_panel" in codes(await case_steps(wokingham, case["id"]))
    referral_id = await draft_panel_referral(wokingham, case["id"], "2026-10-20T09:00:00+01:00")
    after_draft = codes(await case_steps(wokingham, case["id"]))
    assert "hold_high_risk_panel" not in after_draft
    assert "request_high_risk_panel" in after_draft
    submitted = await referral_action(wokingham, referral_id, "submit",
                                      "2026-10-20T10:00:00+01:00")
    open_now = codes(submitted["next_steps"])
    assert "hold_high_risk_panel" in open_now
    assert "request_high_risk_panel" not in open_now
