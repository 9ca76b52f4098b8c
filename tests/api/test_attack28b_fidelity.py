"""Practice-fidelity fixes from the outside attack pass 28b (fix28c): Somerset S15, S41/S25 on a
transfer in, S16; Wokingham W3 for a child turning high after the Asset+ is countersigned.

Each test quotes the seed (``shared/seeds``) and checks the step's code, actor, deadline and the
policy paragraph on real dates (2026: BST from Sunday 29 March to Sunday 25 October).
"""

from __future__ import annotations

from typing import Any

from tests.api.fidelity_support import ok, steps, with_matrix
from tests.conftest import Tenant

SOMERSET = "somerset-yjt-2023"


async def _post(t: Tenant, url: str, body: dict[str, Any], role: str = "case_holder",
                status: int = 201) -> dict[str, Any]:
    return await ok(await t.client.post(url, json=with_matrix(t.pack, body),
                                        headers=t.auth(role)), status)


def _one(found: list[dict[str, Any]], code: str) -> dict[str, Any]:
    mine = [s for s in found if s["code"] == code]
    assert len(mine) == 1, (code, [s["code"] for s in found])
    return mine[0]


async def test_S15_the_core_assetplus_submitted_is_the_move(somerset: Tenant) -> None:
    """S15 (Somerset 2.1, 15.1): "Any child assessed as high/very high in either domain will
    trigger completion of core AssetPlus assessment"; "Any children identified as High/Very
    High Rosh and/or Safety and Well Being ... will be moved to Core AssetPlus". A prevention
    case at SWB high on Wednesday 10 June 2026: the case holder's undated
    ``move_to_core_assessment`` (ref "2.1, 15.1"). A Fact Finding review submitted on 11 June
    is not the move; the core AssetPlus started on 11 June and submitted on Friday 12 June
    10:00 BST is: the step is done by that submission, at its time, not left open to be ticked
    by hand (ATK28B-10)."""
    case = (await somerset.open_case(intervention="prevention",
                                     opened_at="2026-06-01T09:00:00Z"))["data"]
    body = await _post(somerset, f"/v1/cases/{case['id']}/judgements", {
        "domain": "swb", "level": "high", "occurred_at": "2026-06-10T10:00:00+01:00"})
    move = _one(body["next_steps"], "move_to_core_assessment")
    assert (move["actor"], move["due_at"], move["policy"]["rule"], move["policy"]["ref"]) == (
        "case_holder", None, "S15", "2.1, 15.1")
    ff = (await _post(somerset, f"/v1/cases/{case['id']}/assessments", {
        "type": "fact_finding", "stage": "review",
        "occurred_at": "2026-06-11T09:00:00+01:00"}))["data"]
    await _post(somerset, f"/v1/assessments/{ff['id']}/submit",
                {"occurred_at": "2026-06-11T09:30:00+01:00"}, status=200)
    assert move["id"] in [s["id"] for s in await steps(somerset, case["id"], "open")]
    core = (await _post(somerset, f"/v1/cases/{case['id']}/assessments", {
        "type": "asset_plus", "stage": "start",
        "occurred_at": "2026-06-11T10:00:00+01:00"}))["data"]
    await _post(somerset, f"/v1/assessments/{core['id']}/submit",
                {"occurred_at": "2026-06-12T10:00:00+01:00"}, status=200)
    done = _one(await steps(somerset, case["id"], "done"), "move_to_core_assessment")
    assert (done["id"], done["completed_at"], done["satisfied_by"]["id"]) == (
        move["id"], "2026-06-12T09:00:00Z", core["id"])


async def _transferred_in(t: Tenant, incoming: dict[str, str]) -> str:
    """A court order opened Tuesday 25 August 2026, transferred in on Wednesday 26 August
    10:00 BST with the other YJT's ratings ``incoming``; the case id."""
    case_id = (await t.open_case(opened_at="2026-08-25T10:00:00+01:00"))["data"]["id"]
    await _post(t, f"/v1/cases/{case_id}/events", {
        "type": "transfer_in", "occurred_at": "2026-08-26T10:00:00+01:00",
        "transfer_date": "2026-08-26", "incoming_ratings": incoming,
        "details": {"from": "Devon YJT"}})
    return case_id


async def _listed(t: Tenant, case_id: str) -> tuple[bool, bool, bool, bool]:
    """(on_register, priority, in GET /v1/register, in the chair's priority queue)."""
    case = (await ok(await t.client.get(f"/v1/cases/{case_id}",
                                        headers=t.auth("line_manager"))))["data"]
    register = (await ok(await t.client.get("/v1/register", params={"limit": 200},
                                            headers=t.auth("panel_admin"))))["data"]
    queue = (await ok(await t.client.get("/v1/next-steps", params={
        "priority": "true", "limit": 200}, headers=t.auth("chair"))))["data"]
    return (case["on_register"], case["priority"], case_id in {c["id"] for c in register},
            case_id in {s["case_id"] for s in queue})


async def test_REG_PRI_S41_a_child_arriving_at_very_high_is_listed_and_a_priority(
    somerset: Tenant,
) -> None:
    """REG, PRI, S41 (Somerset 13.3, 9, 3.2.4): "Where a case has a ROSH judgment and/or Safety
    and Well-Being concerns of High or Very high from another YJT, the case will be referred
    into the next available MARP"; "A list of High / Very High ROSH / Safety and Well-Being
    concerns will be maintained by the MARP administrator; this list will be discussed
    monthly"; "'Very High' judgements will trigger the case being dealt with as a priority at
    all stages". Transferred in on Wednesday 26 August 2026 10:00 BST with ROSH very high and
    SWB high from Devon YJT: on the list (``GET /v1/register``) and a priority (the case, its
    steps, the chair's ``priority=true`` queue) from the transfer, and the chair's monthly list
    discussion (S41, ``discuss_register_monthly``) due a month on, Saturday 26 September 10:00
    BST (09:00Z), ref "9, 13.3", not four weeks later at Somerset's own judgement (ATK28B-11)."""
    case_id = await _transferred_in(somerset, {"rosh": "very_high", "swb": "high"})
    assert await _listed(somerset, case_id) == (True, True, True, True)
    s41 = _one(await steps(somerset, case_id, "open"), "discuss_register_monthly")
    assert (s41["actor"], s41["due_at"], s41["policy"]["rule"], s41["policy"]["ref"],
            s41["priority"]) == ("chair", "2026-09-26T09:00:00Z", "S41", "9, 13.3", True)


async def test_REG_PRI_somersets_own_judgement_then_governs(somerset: Tenant) -> None:
    """REG, PRI (Somerset 13.1, 13.3, 9): the incoming rating counts until Somerset's own
    judgement in that domain ("it will not be assumed that other YJT's have similar risk
    management arrangements"). Arrived at ROSH very high and SWB high on 26 August 2026;
    Somerset's own ROSH high on Tuesday 1 September: on the list, no longer a priority (the
    very high was the other YJT's, Somerset's own is high). Own SWB medium on Wednesday
    2 September: the list now follows Somerset's ratings alone (ROSH high): still listed. Own
    ROSH medium on Thursday 3 September (discussed with the line manager): off the list, and
    the monthly list discussion (S41) is superseded."""
    case_id = await _transferred_in(somerset, {"rosh": "very_high", "swb": "high"})
    url = f"/v1/cases/{case_id}/judgements"
    await _post(somerset, url, {"domain": "rosh", "level": "high",
                                "occurred_at": "2026-09-01T10:00:00+01:00"})
    assert await _listed(somerset, case_id) == (True, False, True, False)
    await _post(somerset, url, {"domain": "swb", "level": "medium",
                                "occurred_at": "2026-09-02T10:00:00+01:00"})
    assert await _listed(somerset, case_id) == (True, False, True, False)
    await _post(somerset, url, {"domain": "rosh", "level": "medium",
                                "rationale": "Discussed with the line manager",
                                "occurred_at": "2026-09-03T10:00:00+01:00"})
    assert await _listed(somerset, case_id) == (False, False, False, False)
    assert "discuss_register_monthly" not in {
        s["code"] for s in await steps(somerset, case_id, "open")}
    assert "discuss_register_monthly" in {
        s["code"] for s in await steps(somerset, case_id, "superseded")}


async def test_S7_S8_an_own_high_after_an_incoming_high_still_asks_the_marp_referral_views(
    somerset: Tenant,
) -> None:
    """S7, S8 (Somerset 3.2.3, 6.2): "Child and parent/carer views will be sought before the
    initial panel and be included in the MARP referral form". The case arrived on the list on
    26 August 2026 with the other YJT's SWB high (S25 asks its MARP referral); Somerset's own
    ROSH high on Tuesday 1 September still asks the views for the referral (S8, case holder,
    by the next MARP), as before the list counted incoming ratings: the list's count of the
    rating it arrived with does not stand for a referral made."""
    case_id = await _transferred_in(somerset, {"swb": "high"})
    body = await _post(somerset, f"/v1/cases/{case_id}/judgements", {
        "domain": "rosh", "level": "high", "occurred_at": "2026-09-01T10:00:00+01:00"})
    views = _one(body["next_steps"], "seek_child_and_carer_views")
    assert (views["actor"], views["policy"]["rule"], views["policy"]["ref"],
            views["awaiting_panel_date"]) == ("case_holder", "S8", "6.2", True)


async def test_REG_wokingham_a_child_arriving_at_high_rosh_is_on_the_register(
    wokingham: Tenant,
) -> None:
    """REG (Wokingham, "HIGH ROSH ... will need additional supervision and monitoring e.g. ...
    local registration"), with W29's reading of the arrival ("Becoming aware of a change of
    circumstances or new incident which is serious enough to warrant consideration for an
    increase of assessed risk levels to high/very high"): a child another YJS assessed at
    high ROSH, transferred in on Wednesday 26 August 2026, is on the register from the
    transfer (W29's High-Risk Panel request, case holder, +2 working days: Friday 28 August
    end of day), until the PYJS's own ROSH judgement, low on Tuesday 1 September, takes it
    off. Wokingham sets no priority."""
    case_id = await _transferred_in(wokingham, {"rosh": "high"})
    assert await _listed(wokingham, case_id) == (True, False, True, False)
    request = _one(await steps(wokingham, case_id, "open"), "request_high_risk_panel")
    assert (request["actor"], request["due_at"], request["policy"]["rule"]) == (
        "case_holder", "2026-08-28T22:59:59Z", "W29")
    await _post(wokingham, f"/v1/cases/{case_id}/judgements", {
        "domain": "rosh", "level": "low", "occurred_at": "2026-09-01T10:00:00+01:00"})
    assert await _listed(wokingham, case_id) == (False, False, False, False)


async def _asset_plus_countersigned(t: Tenant, intervention: str, rosh: str) -> str:
    """Wokingham: a case opened Monday 1 June 2026 on ``intervention``, ROSH ``rosh`` and LoR
    medium on Wednesday 10 June, its Asset+ started 11 June, submitted 12 June and
    countersigned by the line manager on Monday 15 June 10:00 BST; the case id."""
    case_id = (await t.open_case(intervention=intervention,
                                 opened_at="2026-06-01T10:00:00+01:00"))["data"]["id"]
    url = f"/v1/cases/{case_id}/judgements"
    await _post(t, url, {"domain": "rosh", "level": rosh, "victims": ["peer"],
                         "occurred_at": "2026-06-10T10:00:00+01:00"})
    await _post(t, url, {"domain": "lor", "level": "medium",
                         "occurred_at": "2026-06-10T10:05:00+01:00"})
    a = (await _post(t, f"/v1/cases/{case_id}/assessments", {
        "type": "asset_plus", "stage": "start",
        "occurred_at": "2026-06-11T10:00:00+01:00"}))["data"]
    await _post(t, f"/v1/assessments/{a['id']}/submit",
                {"occurred_at": "2026-06-12T10:00:00+01:00"}, status=200)
    await _post(t, f"/v1/assessments/{a['id']}/countersign", {
        "feedback": "Good analysis.", "occurred_at": "2026-06-15T10:00:00+01:00"},
        role="line_manager", status=200)
    return case_id


async def test_W3_a_child_on_a_conditional_caution_who_turns_high_owes_the_review(
    wokingham: Tenant,
) -> None:
    """W3 (Wokingham, Assessment Reviews): "Children who have been assessed as high within any
    of the risk domains must have their Asset+ reviewed at least every three months or sooner
    if there has been a significant change in circumstances." A child on a youth conditional
    caution ("Children on a Youth Caution or Youth Conditional Caution will be assessed using
    Asset+"), ROSH medium when the Asset+ is countersigned on 15 June 2026 (no review owed
    then), is assessed high ROSH on Thursday 20 August 10:00 BST: the case worker's
    ``review_assessment`` is due three months from that assessment of high, Friday
    20 November 10:00 GMT (after the clocks go back), under "Assessment Reviews" (ATK28B-9).
    ROSH back to medium on Tuesday 1 September: no domain is high, the review lapses."""
    case_id = await _asset_plus_countersigned(wokingham, "youth_conditional_caution", "medium")
    assert "review_assessment" not in {s["code"] for s in await steps(wokingham, case_id, "open")}
    url = f"/v1/cases/{case_id}/judgements"
    body = await _post(wokingham, url, {"domain": "rosh", "level": "high", "victims": ["peer"],
                                        "occurred_at": "2026-08-20T10:00:00+01:00"})
    review = _one(body["next_steps"], "review_assessment")
    assert (review["actor"], review["assignee_id"], review["due_at"], review["policy"]["rule"],
            review["policy"]["ref"]) == (
        "case_holder", "case_holder-1", "2026-11-20T10:00:00Z", "W3", "Assessment Reviews")
    await _post(wokingham, url, {"domain": "rosh", "level": "medium", "victims": ["peer"],
                                 "occurred_at": "2026-09-01T10:00:00+01:00"})
    assert review["id"] in {s["id"] for s in await steps(wokingham, case_id, "superseded")}


async def test_W3_no_review_of_an_asset_plus_not_yet_countersigned(wokingham: Tenant) -> None:
    """W3 (Wokingham): "An assessment (Asset+ or mini-asset) is not considered complete until
    it has been counter signed by a line manager." A child on a youth conditional caution
    assessed high ROSH on Wednesday 10 June 2026, before any Asset+ is countersigned, owes the
    Asset+ itself (W1), not its review; its countersignature on Monday 15 June 10:00 BST then
    raises the review three months on, Tuesday 15 September 10:00 BST (09:00Z): one step."""
    case_id = (await wokingham.open_case(intervention="youth_conditional_caution",
                                         opened_at="2026-06-01T10:00:00+01:00"))["data"]["id"]
    body = await _post(wokingham, f"/v1/cases/{case_id}/judgements", {
        "domain": "rosh", "level": "high", "victims": ["peer"],
        "occurred_at": "2026-06-10T10:00:00+01:00"})
    assert "review_assessment" not in {s["code"] for s in body["next_steps"]}
    a = (await _post(wokingham, f"/v1/cases/{case_id}/assessments", {
        "type": "asset_plus", "stage": "start",
        "occurred_at": "2026-06-11T10:00:00+01:00"}))["data"]
    await _post(wokingham, f"/v1/assessments/{a['id']}/submit",
                {"occurred_at": "2026-06-12T10:00:00+01:00"}, status=200)
    await _post(wokingham, f"/v1/assessments/{a['id']}/countersign", {
        "feedback": "Good analysis.", "occurred_at": "2026-06-15T10:00:00+01:00"},
        role="line_manager", status=200)
    review = _one(await steps(wokingham, case_id, "open"), "review_assessment")
    assert (review["due_at"], review["policy"]["rule"]) == ("2026-09-15T09:00:00Z", "W3")


async def test_W3_an_order_turning_high_keeps_one_review_brought_to_three_months(
    wokingham: Tenant,
) -> None:
    """W3 (Wokingham): "For statutory Orders, bail and remand cases, Asset+ must be reviewed at
    least every six months"; "Children who have been assessed as high ... at least every three
    months". A court order countersigned at ROSH medium on 15 June 2026 owes the six-monthly
    review (Tuesday 15 December 10:00 GMT); assessed high on Thursday 20 August, that one
    review is brought to three months from the countersignature, Tuesday 15 September 10:00
    BST (09:00Z), as before: the new judgement line adds no second review."""
    case_id = await _asset_plus_countersigned(wokingham, "court_order", "medium")
    six = _one(await steps(wokingham, case_id, "open"), "review_assessment")
    assert six["due_at"] == "2026-12-15T10:00:00Z"
    await _post(wokingham, f"/v1/cases/{case_id}/judgements", {
        "domain": "rosh", "level": "high", "victims": ["peer"],
        "occurred_at": "2026-08-20T10:00:00+01:00"})
    review = _one(await steps(wokingham, case_id, "open"), "review_assessment")
    assert (review["id"], review["due_at"]) == (six["id"], "2026-09-15T09:00:00Z")


async def test_S16_a_duty_managers_reallocation_is_no_consultation_to_report(
    somerset: Tenant,
) -> None:
    """S16 (Somerset 3.1, 2.2): "Where the duty manager has been consulted, they will advise the
    relevant line manager of the outcome of these consultations"; "the case holder will consult
    with the duty manager who will support escalation ..., record the outcome ... and advise
    the relevant line manager". A duty manager reallocating the case to another line manager or
    case holder, or restricting who may see it (Monday 7 September 2026), consults on nothing:
    no ``advise_line_manager`` (ATK28B-18). Recording the child's new social care status (a
    child protection plan, Tuesday 8 September) is acting on the child's risk in the line
    manager's place: the duty manager's undated step to advise the line manager, ref
    "2.2, 3.1"."""
    case_id = (await somerset.open_case(opened_at="2026-09-01T09:00:00Z"))["data"]["id"]

    async def patch(body: dict[str, Any]) -> dict[str, Any]:
        tag = (await somerset.client.get(f"/v1/cases/{case_id}",
                                         headers=somerset.auth("duty_manager"))).headers["etag"]
        return await ok(await somerset.client.patch(
            f"/v1/cases/{case_id}", json=body,
            headers={**somerset.auth("duty_manager"), "If-Match": tag}))

    for body in ({"line_manager_id": "line_manager-2"}, {"case_holder_id": "case_holder-2"},
                 {"access": {"excluded_staff": ["case_holder-9"]}}):
        answer = await patch({**body, "occurred_at": "2026-09-07T10:00:00+01:00"})
        assert "advise_line_manager" not in {s["code"] for s in answer["next_steps"]}, body
    answer = await patch({"csc_status": "cp", "occurred_at": "2026-09-08T10:00:00+01:00"})
    advise = _one(answer["next_steps"], "advise_line_manager")
    assert (advise["actor"], advise["due_at"], advise["policy"]["rule"],
            advise["policy"]["ref"]) == ("duty_manager", None, "S16", "2.2, 3.1")
