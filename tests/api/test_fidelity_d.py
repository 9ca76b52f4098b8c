"""Seed fidelity through the API (fidelityD, attack7 F7, F6, F13, F12): a MARP decision raising
SWB to very high asks for the child protection referral (S9); a MAPPA category recorded on a
high-ROSH case asks for the MAPPA level (S10); a case that becomes statutory by upsert asks for
the AssetPlus/Asset+ (S1, W1); only the assessment type a step asks for does it (S1, W1, W3).

The clock is pinned (``app.core.clock.now``) where "now" decides the answer: never a timed test.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.fidelity_support import pin, steps_of
from tests.api.integrity_support import patch_case
from tests.api.test_assessments import case_steps, countersign, draft, submit
from tests.api.test_panels import add_item, schedule
from tests.conftest import Tenant

S = {"pack": "somerset-yjt-2023", "version": "1"}
W = {"pack": "wokingham-pyjs-2024", "version": "1.0"}


async def judge(t: Tenant, case_id: str, domain: str, level: str, at: str) -> dict[str, Any]:
    """The case holder records a judgement; the response body."""
    body: dict[str, Any] = {"domain": domain, "level": level, "occurred_at": at,
                            "rationale": "recorded in the test"}
    if domain == "rosh":
        body.update(impact="major", likelihood="likely", victims=["peer"])
    r = await t.client.post(f"/v1/cases/{case_id}/judgements", json=body,
                            headers=t.auth("case_holder"))
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


async def test_S9_marp_decision_raising_swb_to_very_high(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """S9 (3.2.4): "With regard to safety and well-being, this will include (or has already
    included) a referral to statutory child protection services"; 7.1.9: the MARP "will also
    ensure that cases assessed as Very High Safety and Wellbeing, which require a child
    protection/safeguarding response, have been actioned appropriately". SWB high on Monday 21
    December 2026; the MARP of Christmas Eve (Thursday 24 December, 11:00 GMT) raises it to very
    high: the case holder's child protection referral, due immediately, urgent."""
    pin(monkeypatch, 2026, 12, 24, 12, 0)
    case = (await somerset.open_case(opened_at="2026-12-01T09:00:00Z"))["data"]
    await judge(somerset, case["id"], "swb", "high", "2026-12-21T10:00:00Z")
    panel = await schedule(somerset.client, somerset, "2026-12-24T10:00:00Z")
    item = await add_item(somerset.client, somerset, panel["id"], case["id"])
    r = await somerset.client.post(
        f"/v1/panels/{panel['id']}/items/{item['id']}/decision",
        json={"swb_level": "very_high", "review_date": "2027-01-21", "actions": [],
              "minutes": "Panel raises SWB to very high: imminent risk of exploitation",
              "occurred_at": "2026-12-24T11:00:00Z"},
        headers=somerset.auth("chair", "chair-1"))
    assert r.status_code == 200, r.text
    [cp] = steps_of(await case_steps(somerset, case["id"]), "child_protection_referral")
    assert (cp["actor"], cp["assignee_id"], cp["due_at"], cp["urgent"]) == (
        "case_holder", "case_holder-1", "2026-12-24T11:00:00Z", True)
    assert cp["policy"] == {**S, "ref": "3.2.4", "rule": "S9"}


async def test_S10_the_marps_mappa_decision_ends_when_mappa_level_2_is_recorded(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """S10 (7.1.9): "The MARP will decide if cases with Very High ROSH judgements need to be
    referred to MAPPA 2, unless this has already been done" (ATTACK34B-1). ROSH very high on
    Christmas Eve 2026: the chairs' decision, due at the next MARP, Wednesday 6 January 2027
    10:00 GMT. A MAPPA category recorded on Monday 28 December (the Boxing Day substitute bank
    holiday) leaves it as it is; MAPPA level 2 recorded that day supersedes it (done already)."""
    pin(monkeypatch, 2026, 12, 28, 12, 0)
    case = (await somerset.open_case(opened_at="2026-12-01T09:00:00Z"))["data"]
    await schedule(somerset.client, somerset, "2027-01-06T10:00:00Z")
    body = await judge(somerset, case["id"], "rosh", "very_high", "2026-12-24T10:00:00Z")
    [step] = steps_of(body["next_steps"], "identify_mappa_level")
    assert (step["actor"], step["assignee_id"], step["due_at"]) == (
        "chair", None, "2027-01-06T10:00:00Z")
    assert step["policy"] == {**S, "ref": "7.1.9, 3.2.4", "rule": "S10"}
    r = await patch_case(somerset, case["id"],
                         {"mappa_category": 2, "occurred_at": "2026-12-28T11:00:00Z"})
    assert r.status_code == 200, r.text
    assert [s["id"] for s in steps_of(await case_steps(somerset, case["id"]),
                                      "identify_mappa_level")] == [step["id"]]
    r = await patch_case(somerset, case["id"],
                         {"mappa_level": 2, "occurred_at": "2026-12-28T11:30:00Z"})
    assert r.status_code == 200, r.text
    assert steps_of(await case_steps(somerset, case["id"]), "identify_mappa_level") == []


async def test_S1_upsert_to_a_court_order_asks_for_the_assetplus(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """S1 (2.1): "All children supervised by the YJT on statutory orders, will have an AssetPlus
    assessment completed within 4 weeks of start of YJT involvement." A prevention case pushed
    again as a court order on Saturday 31 October 2026 at 10:00 GMT (month end, after the clock
    change): the AssetPlus is due Saturday 28 November 10:00 GMT; the Fact Finding step is
    superseded."""
    pin(monkeypatch, 2026, 10, 31, 10, 0)
    feed = somerset.auth("feed", "iyss-connector", scope="cms")
    body = {"child": {"given_name": "Kai", "family_name": "Morgan",
                      "date_of_birth": "2009-11-12"},
            "case_holder_id": "case_holder-1", "line_manager_id": "line_manager-1",
            "intervention": "prevention", "csc_status": "none",
            "opened_at": "2026-10-01T09:00:00Z"}
    url = "/v1/cases/by-external-ref/iyss/F13-S"
    first = await somerset.client.put(url, json=body, headers=feed)
    assert first.status_code == 201, first.text
    case_id = first.json()["data"]["id"]
    r = await somerset.client.put(url, json={**body, "intervention": "court_order"},
                                  headers=feed)
    assert r.status_code == 200, r.text
    [step] = steps_of(await case_steps(somerset, case_id), "complete_assessment")
    assert (step["title"], step["actor"], step["due_at"]) == (
        "Complete the AssetPlus assessment", "case_holder", "2026-11-28T10:00:00Z")
    assert step["policy"] == {**S, "ref": "2.1", "rule": "S1"}
    [old] = steps_of(await case_steps(somerset, case_id, "superseded"), "complete_assessment")
    assert old["policy"]["rule"] == "S2"


async def test_W1_upsert_to_remand_asks_for_the_asset_plus(
        wokingham: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """W1 (Assessment type): "Children on statutory Court Orders, on Court Bail, Court Remand,
    or for whom a Pre-Sentence Report is required will be assessed using Asset+." A community
    resolution pushed again as a remand on Monday 28 December 2026 (bank holiday): the Asset+
    step replaces the mini-asset's."""
    pin(monkeypatch, 2026, 12, 28, 12, 0)
    feed = wokingham.auth("feed", "iyss-connector", scope="cms")
    body = {"child": {"given_name": "Kai", "family_name": "Morgan",
                      "date_of_birth": "2009-11-12"},
            "case_holder_id": "case_holder-1", "line_manager_id": "line_manager-1",
            "intervention": "community_resolution", "csc_status": "none",
            "opened_at": "2026-12-01T09:00:00Z"}
    url = "/v1/cases/by-external-ref/iyss/F13-W"
    first = await wokingham.client.put(url, json=body, headers=feed)
    assert first.status_code == 201, first.text
    case_id = first.json()["data"]["id"]
    r = await wokingham.client.put(url, json={**body, "intervention": "remand"}, headers=feed)
    assert r.status_code == 200, r.text
    [step] = steps_of(await case_steps(wokingham, case_id), "complete_assessment")
    assert (step["title"], step["actor"], step["due_at"]) == (
        "Complete an Asset+ assessment", "case_holder", None)
    assert step["policy"] == {**W, "ref": "Assessment type", "rule": "W1"}


async def test_S1_a_fact_finding_does_not_close_the_assetplus(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """S1, S3 (2.1): "All children supervised by the YJT on statutory orders, will have an
    AssetPlus assessment completed within 4 weeks of start of YJT involvement. AssetPlus
    assessment will be reviewed maximum 12 weekly". A Fact Finding document submitted on
    Sunday 6 December 2026 for a court-order child opened Tuesday 1 December leaves the AssetPlus
    step open (due Tuesday 29 December 09:00 GMT); the AssetPlus submitted on Thursday 31
    December closes it, and its countersignature on Monday 4 January 2027 starts the 12-weekly
    review, due Monday 29 March 2027 10:00 BST, 09:00Z (the clocks went forward)."""
    pin(monkeypatch, 2027, 1, 4, 12, 0)
    case = (await somerset.open_case(opened_at="2026-12-01T09:00:00Z"))["data"]
    ff = await draft(somerset, case["id"], "fact_finding", occurred_at="2026-12-05T10:00:00Z")
    r = await submit(somerset, ff["id"], "2026-12-06T10:00:00Z")
    assert r.status_code == 200, r.text
    [step] = steps_of(await case_steps(somerset, case["id"]), "complete_assessment")
    assert (step["actor"], step["due_at"]) == ("case_holder", "2026-12-29T09:00:00Z")
    assert step["policy"] == {**S, "ref": "2.1", "rule": "S1"}
    r = await countersign(somerset, ff["id"], "2026-12-07T10:00:00Z")
    assert r.status_code == 200, r.text
    assert not steps_of(await case_steps(somerset, case["id"]), "review_assessment")
    ap = await draft(somerset, case["id"], "asset_plus", occurred_at="2026-12-30T10:00:00Z")
    r = await submit(somerset, ap["id"], "2026-12-31T10:00:00Z")
    assert r.status_code == 200, r.text
    assert not steps_of(await case_steps(somerset, case["id"]), "complete_assessment")
    r = await countersign(somerset, ap["id"], "2027-01-04T10:00:00Z")
    assert r.status_code == 200, r.text
    [review] = steps_of(await case_steps(somerset, case["id"]), "review_assessment")
    assert (review["actor"], review["due_at"]) == ("case_holder", "2027-03-29T09:00:00Z")
    assert review["policy"] == {**S, "ref": "2.1", "rule": "S3"}


async def test_W1_a_mini_asset_does_not_close_the_asset_plus(
        wokingham: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """W1, W3 (Assessment type): "Children on statutory Court Orders ... will be assessed using
    Asset+." A mini-asset countersigned on Monday 7 December 2026 on a court-order case leaves
    the Asset+ step open and starts no Asset+ review."""
    pin(monkeypatch, 2026, 12, 7, 12, 0)
    case = (await wokingham.open_case(opened_at="2026-12-01T09:00:00Z"))["data"]
    mini = await draft(wokingham, case["id"], "mini_asset", occurred_at="2026-12-05T10:00:00Z")
    assert (await submit(wokingham, mini["id"], "2026-12-06T10:00:00Z")).status_code == 200
    r = await countersign(wokingham, mini["id"], "2026-12-07T10:00:00Z")
    assert r.status_code == 200, r.text
    steps = await case_steps(wokingham, case["id"])
    [step] = steps_of(steps, "complete_assessment")
    assert (step["title"], step["actor"], step["due_at"]) == (
        "Complete an Asset+ assessment", "case_holder", None)
    assert step["policy"] == {**W, "ref": "Assessment type", "rule": "W1"}
    assert not steps_of(steps, "review_assessment")


async def test_S26_rosh_becomes_high_while_the_transfer_out_is_pending(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """S26 (13.4.3): "Where the ROSH judgement and/or Safety and Well-Being concerns is High or
    Very high, the line manager, operational manager or YJT manager will speak to the
    appropriate manager or senior probation officer of the receiving Service prior to the
    transfer of the child". A transfer out to Devon on Monday 1 March 2027 is recorded on 10
    February while ROSH is medium (no call); ROSH becomes high on Monday 15 February: the line
    manager's call, due before the transfer, 00:00 GMT on 1 March."""
    pin(monkeypatch, 2027, 2, 15, 10, 30)
    case = (await somerset.open_case(opened_at="2026-12-01T09:00:00Z"))["data"]
    await judge(somerset, case["id"], "rosh", "medium", "2026-12-02T10:00:00Z")
    r = await somerset.client.post(
        f"/v1/cases/{case['id']}/events",
        json={"type": "transfer_out", "occurred_at": "2027-02-10T10:00:00Z",
              "transfer_date": "2027-03-01", "details": {"to": "Devon YJS"}},
        headers=somerset.auth("case_holder"))
    assert r.status_code == 201, r.text
    assert not steps_of(r.json()["next_steps"], "manager_handover_call")
    await judge(somerset, case["id"], "rosh", "high", "2027-02-15T10:00:00Z")
    [call] = steps_of(await case_steps(somerset, case["id"]), "manager_handover_call")
    assert (call["actor"], call["assignee_id"], call["due_at"]) == (
        "line_manager", "line_manager-1", "2027-03-01T00:00:00Z")
    assert call["policy"] == {**S, "ref": "13.4.3", "rule": "S26"}


async def test_S14_change_of_circumstances_on_a_low_statutory_case(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """S14 (2.1): "AssetPlus assessment will be reviewed maximum 12 weekly (or sooner upon any
    significant change becoming known)". A court-order child rated low ROSH becomes homeless
    on Friday 8 January 2027, 17:00 GMT: the case holder reviews the AssetPlus (no timescale
    below medium), citing 2.1."""
    pin(monkeypatch, 2027, 1, 8, 17, 30)
    case = (await somerset.open_case(opened_at="2026-12-01T09:00:00Z"))["data"]
    r = await somerset.client.post(
        f"/v1/cases/{case['id']}/judgements",
        json={"domain": "rosh", "level": "low", "impact": "minor", "likelihood": "possible",
              "rationale": "r", "occurred_at": "2026-12-02T10:00:00Z"},
        headers=somerset.auth("case_holder"))
    assert r.status_code == 201, r.text
    r = await somerset.client.post(
        f"/v1/cases/{case['id']}/events",
        json={"type": "change_of_circumstances", "occurred_at": "2027-01-08T17:00:00Z",
              "details": {"summary": "became homeless"}},
        headers=somerset.auth("case_holder"))
    assert r.status_code == 201, r.text
    [review] = steps_of(r.json()["next_steps"], "review_assessment")
    assert (review["actor"], review["assignee_id"], review["due_at"]) == (
        "case_holder", "case_holder-1", None)
    assert review["policy"] == {**S, "ref": "2.1", "rule": "S14"}
