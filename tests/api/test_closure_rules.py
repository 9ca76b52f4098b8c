"""The closure rule and the start's assessment hold whatever the record says later (attack pass 9,
A9-3 and A9-8).

A9-3: Wokingham's closure Asset+ (W3: "all statutory Orders, bail and remand cases must have a
closure Asset+") let a case close although it predated a very high ROSH judged after it; and a
closure Asset+ on a case never assessed did the start's assessment (W1: "Assessments must be
completed at the start of the intervention/Order"). A9-8: a case holder turned a court order into
a prevention case with ``PUT /v1/cases/by-external-ref`` (``PATCH`` refuses the field), which
stepped round the closure rule and left the Asset+ step asking for an Asset+.

2026 dates: Monday 3 August (opening), Tuesday 1 September, Friday 2 October.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tests.api.integrity_support import (
    assert_problem,
    audit_of,
    closing_asset_plus,
    patch_case,
    steps_of,
    the_step,
)
from tests.conftest import Tenant

OPENED = "2026-08-03T09:00:00+01:00"
W = {"pack": "wokingham-pyjs-2024", "version": "1.0"}
S = {"pack": "somerset-yjt-2023", "version": "1"}
CHILD = {"given_name": "Kai", "family_name": "Morgan", "date_of_birth": "2009-11-12"}


async def _post(t: Tenant, url: str, body: dict[str, Any], role: str = "case_holder",
                status: int = 201) -> dict[str, Any]:
    r = await t.client.post(url, json=body, headers=t.auth(role))
    assert r.status_code == status, r.text
    return r.json()  # type: ignore[no-any-return]


async def test_W3_a_closure_asset_plus_older_than_a_very_high_rosh_does_not_close_the_case(
        wokingham: Tenant) -> None:
    """W3 ("Assessment Reviews"): "all statutory Orders, bail and remand cases must have a
    closure Asset+"; "Asset+ should be reviewed within three weeks of the new event". The
    closure Asset+ is countersigned on Tuesday 1 September 2026; ROSH is judged very high on
    Friday 2 October. Closing that afternoon is 422 ``closure-assessment-required`` naming the
    closure Asset+ as predating the judgement (09:00Z); a closure Asset+ after it lets the
    closure on to the High-Risk Panel request (W7, not waivable: 409), and once the panel is
    requested the case closes."""
    case_id = (await wokingham.open_case(opened_at=OPENED))["data"]["id"]
    old = await closing_asset_plus(wokingham, case_id, "2026-09-01T10:00:00+01:00")
    judged = await _post(wokingham, f"/v1/cases/{case_id}/judgements", {
        "domain": "rosh", "level": "very_high", "impact": "critical",
        "likelihood": "almost_certain", "victims": ["public"],
        "occurred_at": "2026-10-02T10:00:00+01:00"})
    request = the_step(judged["next_steps"], "request_high_risk_panel")
    assert (request["actor"], request["due_at"], request["policy"]) == (
        "case_holder", "2026-10-06T22:59:59Z", {**W, "ref": "High Risk Panel", "rule": "W7"})
    close = {"closed_at": "2026-10-02T16:00:00+01:00", "closure_reason": "Order completed"}
    problem = assert_problem(await patch_case(wokingham, case_id, close), 422)
    assert problem["type"].endswith("/closure-assessment-required")
    assert (problem["rule"], problem["policy_ref"]) == ("W3", "Assessment Reviews")
    assert problem["closing_assessments"] == [
        {"id": old["id"], "status": "countersigned", "predates": "2026-10-02T09:00:00Z"}]
    assert "predate" in problem["errors"][0]["msg"]
    await closing_asset_plus(wokingham, case_id, "2026-10-02T11:00:00+01:00")
    problem = assert_problem(await patch_case(wokingham, case_id, close), 409)
    assert [s["id"] for s in problem["steps"]] == [request["id"]]
    made = await _post(wokingham, f"/v1/cases/{case_id}/referrals",
                       {"kind": "panel", "occurred_at": "2026-10-02T12:00:00+01:00"})
    await _post(wokingham, f"/v1/referrals/{made['data']['id']}/submit",
                {"occurred_at": "2026-10-02T12:00:00+01:00"}, status=200)
    r = await patch_case(wokingham, case_id, close)
    assert r.status_code == 200, r.text


async def test_W1_a_closure_asset_plus_is_not_the_start_assessment(wokingham: Tenant) -> None:
    """W1 ("Assessment type"): "Assessments must be completed at the start of the
    intervention/Order". A court order opened Monday 3 August 2026 asks for an Asset+ (case
    holder, no timescale); a closure Asset+ countersigned on Tuesday 1 September leaves that
    step open; a start Asset+ countersigned on 2 September does it."""
    case = (await wokingham.open_case(opened_at=OPENED))["data"]
    start = the_step(case["open_steps"], "complete_assessment")
    assert (start["title"], start["actor"], start["due_at"], start["policy"]) == (
        "Complete an Asset+ assessment", "case_holder", None,
        {**W, "ref": "Assessment type", "rule": "W1"})
    await closing_asset_plus(wokingham, case["id"], "2026-09-01T10:00:00+01:00")
    assert start["id"] in {s["id"] for s in await steps_of(wokingham, case["id"])}
    await closing_asset_plus(wokingham, case["id"], "2026-09-02T10:00:00+01:00", stage="start")
    done = {s["id"]: s for s in await steps_of(wokingham, case["id"], "done")}
    assert done[start["id"]]["completed_at"] == "2026-09-02T09:02:00Z"


async def test_S1_a_closure_assetplus_is_not_the_start_assessment(somerset: Tenant) -> None:
    """S1 (2.1): "All children supervised by the YJT on statutory orders, will have an
    AssetPlus assessment completed within 4 weeks of start of YJT involvement." Opened Monday 3
    August 2026 09:00 BST: due Monday 31 August 08:00Z. A closure-stage AssetPlus submitted on
    Tuesday 1 September does not do it: the step stays open, overdue."""
    case = (await somerset.open_case(opened_at=OPENED))["data"]
    start = the_step(case["open_steps"], "complete_assessment")
    assert (start["actor"], start["due_at"], start["policy"]) == (
        "case_holder", "2026-08-31T08:00:00Z", {**S, "ref": "2.1", "rule": "S1"})
    await closing_asset_plus(somerset, case["id"], "2026-09-01T10:00:00+01:00",
                             countersign=False)
    assert start["id"] in {s["id"] for s in await steps_of(somerset, case["id"])}


def _upsert_body(intervention: str) -> dict[str, Any]:
    return {"child": CHILD, "case_holder_id": "case_holder-1",
            "line_manager_id": "line_manager-1", "intervention": intervention,
            "csc_status": "none", "opened_at": "2026-08-03T08:00:00Z"}


async def _upsert(t: Tenant, ref: str, intervention: str, role: str, status: int
                  ) -> dict[str, Any]:
    r = await t.client.put(f"/v1/cases/by-external-ref/IYSS/{ref}",
                           json=_upsert_body(intervention), headers=t.auth(role))
    assert r.status_code == status, r.text
    return r.json()  # type: ignore[no-any-return]


async def test_W3_the_case_holder_may_not_change_the_intervention(wokingham: Tenant) -> None:
    """W3: what the court ordered decides "statutory Orders, bail and remand cases must have a
    closure Asset+": turning the court order into a prevention case is a manager's or the case
    management system's change, as a reassignment is. The case holder's PUT is 403 and nothing
    changes."""
    case = (await _upsert(wokingham, "A98-1", "court_order", "line_manager", 201))["data"]
    problem = await _upsert(wokingham, "A98-1", "prevention", "case_holder", 403)
    assert problem["status"] == 403
    r = await wokingham.client.get(f"/v1/cases/{case['id']}", headers=wokingham.auth("chair"))
    assert (r.json()["data"]["intervention"], r.json()["data"]["statutory"]) == (
        "court_order", True)


async def test_W1_W3_an_order_turned_into_prevention_keeps_its_closure_rule(
        wokingham: Tenant) -> None:
    """W1: "Whether the child is assessed using an Asset+ or a mini-asset will depend on the type
    of intervention"; "Children on prevention ... will be assessed using a mini-asset". W3:
    "all statutory Orders, bail and remand cases must have a closure Asset+". A court order
    (opened Monday 3 August 2026) pushed again by its line manager as prevention: the open
    Asset+ step is replaced by the mini-asset's (W1, case holder, no timescale), the change is
    audited, and the case, an order for a time, still closes only with its closure Asset+."""
    case = (await _upsert(wokingham, "A98-2", "court_order", "line_manager", 201))["data"]
    asset = the_step(case["open_steps"], "complete_assessment")
    turned = await _upsert(wokingham, "A98-2", "prevention", "line_manager", 200)
    assert (turned["data"]["intervention"], turned["data"]["statutory"]) == ("prevention", False)
    mini = the_step(turned["next_steps"], "complete_assessment")
    assert (mini["title"], mini["actor"], mini["due_at"], mini["policy"]) == (
        "Complete a mini-asset assessment", "case_holder", None,
        {**W, "ref": "Assessment type", "rule": "W1"})
    superseded = {s["id"] for s in await steps_of(wokingham, case["id"], "superseded")}
    assert asset["id"] in superseded
    update = [e for e in await audit_of(wokingham, case["id"]) if e["action"] == "case.update"]
    assert update[-1]["fields"] == ["intervention", "statutory"]
    # Closed now: the change of intervention (recorded now) is the latest act on the case.
    close = {"closed_at": datetime.now(UTC).isoformat(), "closure_reason": "Order completed"}
    problem = assert_problem(await patch_case(wokingham, case["id"], close), 422)
    assert problem["type"].endswith("/closure-assessment-required")


async def test_W3_the_statutory_review_lapses_when_the_order_becomes_prevention(
        wokingham: Tenant) -> None:
    """W3: "For statutory Orders, bail and remand cases, Asset+ must be reviewed at least every
    six months": the start Asset+ countersigned on Tuesday 1 September 2026 sets the review for
    1 March 2027 10:02 GMT; the order turned into a prevention case no longer owes it
    (superseded)."""
    case = (await _upsert(wokingham, "A98-3", "court_order", "line_manager", 201))["data"]
    await closing_asset_plus(wokingham, case["id"], "2026-09-01T10:00:00+01:00", stage="start")
    review = the_step(await steps_of(wokingham, case["id"]), "review_assessment")
    assert (review["actor"], review["due_at"], review["policy"]) == (
        "case_holder", "2027-03-01T10:02:00Z", {**W, "ref": "Assessment Reviews", "rule": "W3"})
    await _upsert(wokingham, "A98-3", "prevention", "line_manager", 200)
    assert "review_assessment" not in {s["code"] for s in await steps_of(wokingham, case["id"])}
    superseded = {s["id"]: s for s in await steps_of(wokingham, case["id"], "superseded")}
    assert "no longer holds" in superseded[review["id"]]["note"]


async def test_S1_S2_a_court_order_turned_non_statutory_asks_for_the_fact_finding(
        somerset: Tenant) -> None:
    """S2 (2.1): "Children working with YJT in non-statutory capacity will have an appropriate
    assessment of needs completed (using a Fact Finding document)". A court order opened Monday
    3 August 2026 (S1: AssetPlus due 31 August 08:00Z) pushed again by its line manager as a
    prevention case: the Fact Finding step (S2, no timescale) replaces the AssetPlus step (late
    by then: missed)."""
    case = (await _upsert(somerset, "A98-4", "court_order", "line_manager", 201))["data"]
    s1 = the_step(case["open_steps"], "complete_assessment")
    assert (s1["due_at"], s1["policy"]) == ("2026-08-31T08:00:00Z",
                                            {**S, "ref": "2.1", "rule": "S1"})
    turned = await _upsert(somerset, "A98-4", "prevention", "line_manager", 200)
    s2 = the_step(turned["next_steps"], "complete_assessment")
    assert (s2["title"], s2["actor"], s2["due_at"], s2["policy"]) == (
        "Complete a Fact Finding assessment of needs (harm, serious harm, safety and "
        "well-being)", "case_holder", None, {**S, "ref": "2.1", "rule": "S2"})
    # Turned now, after 31 August: the AssetPlus step was already late, so it is on record as
    # missed, not superseded (ATTACK34B-7).
    missed = the_step(await steps_of(somerset, case["id"], "missed"), "complete_assessment")
    assert (missed["id"], missed["due_at"]) == (s1["id"], "2026-08-31T08:00:00Z")


async def test_S15_move_to_core_assetplus_is_superseded_when_the_case_becomes_statutory(
        somerset: Tenant) -> None:
    """S15 (2.1 "Children working with YJT in non-statutory capacity will have an appropriate
    assessment of needs completed (using a Fact Finding document)"; 15.1): a prevention case
    opened Monday 3 August 2026 with ROSH high on Tuesday 4 August is asked to move to a core
    AssetPlus assessment. Attack pass 17, A17-20: a court order then made on it (PUT upsert to
    ``court_order``) brought S1's "Complete the AssetPlus assessment" while S15 stayed open
    beside it, its title ("the non-statutory case") false; now S15 no longer holds and is
    superseded, S1 carrying the duty."""
    case = (await _upsert(somerset, "A17-20", "prevention", "line_manager", 201))["data"]
    r = await somerset.client.post(f"/v1/cases/{case['id']}/judgements",
                                   json={"domain": "rosh", "level": "high",
                                         "occurred_at": "2026-08-04T10:00:00+01:00"},
                                   headers=somerset.auth("case_holder"))
    assert r.status_code == 201, r.text
    move = the_step(r.json()["next_steps"], "move_to_core_assessment")
    assert move["policy"] == {**S, "ref": "2.1, 15.1", "rule": "S15"}
    await _upsert(somerset, "A17-20", "court_order", "line_manager", 200)
    live = await steps_of(somerset, case["id"])
    assert "move_to_core_assessment" not in {s["code"] for s in live}
    assert the_step(live, "complete_assessment")["policy"]["rule"] == "S1"
    superseded = {s["id"]: s for s in await steps_of(somerset, case["id"], "superseded")}
    assert "no longer holds" in superseded[move["id"]]["note"]
