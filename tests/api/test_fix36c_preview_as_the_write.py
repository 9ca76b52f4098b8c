"""The workflow preview of a judgement answers what the write would for a judgement dated before
acts on file (fix36c; README: ``POST /v1/workflow/preview`` "shows the same answer without
writing anything").

fix35a (ATTACK34A-1) refuses a ROSH/SWB lowering dated before a MARP sitting whose decision on
the case is on file (409 ``decided-after-judgement``): the preview said nothing of it. The
preview also checked a back-dated judgement on today's steps and ratings where the write checks
it on those of its own moment (Somerset M6, 7.2.1: a review the MARP booked after the lowering,
or one a later decision has closed), and did not hold the judgement's recorder to the role they
held at its date (ATTACK27-2) nor its assessment to the case. Each is now the write's answer.
"""

from __future__ import annotations

from typing import Any

import httpx

from tests.api.act_order_support import (
    HOLDER,
    MATRIX,
    book_sitting,
    decide_at_sitting,
    decide_item,
    judgement_body,
    rate,
    record,
)
from tests.api.integrity_support import assert_problem, patch_case
from tests.conftest import Tenant

HIGH_AT, LOWERED_AT, SAT = "2026-11-03T10:00:00Z", "2026-11-20T10:00:00Z", \
    "2026-11-23T10:00:00Z"
KEPT_HIGH = {"rosh_level": "high", "minutes": "Discussed", "review_date": "2026-12-21",
             "actions": [{"description": "Review the plan", "owner_id": HOLDER,
                          "due_date": "2026-12-18"}]}


async def _preview(t: Tenant, case_id: str, judgement: dict[str, Any],
                   who: tuple[str, ...] = ("case_holder",)) -> httpx.Response:
    return await t.client.post("/v1/workflow/preview", headers=t.auth(*who),
                               json={"case_id": case_id, "judgement": judgement})


async def _judge(t: Tenant, case_id: str, judgement: dict[str, Any],
                 who: tuple[str, ...] = ("case_holder",)) -> httpx.Response:
    return await t.client.post(f"/v1/cases/{case_id}/judgements", json=judgement,
                               headers=t.auth(*who))


async def _decided_high(t: Tenant, *, referred: bool) -> tuple[str, str, str]:
    """ROSH high Tue 3 Nov 2026 (``referred``: a MARP referral made, submitted and sent on Wed
    4 Nov), on the agenda of the MARP of Mon 23 Nov, which keeps it high (review Mon 21 Dec);
    (case id, panel id, item id)."""
    case = (await t.open_case(opened_at="2026-11-02T09:00:00Z"))["data"]["id"]
    await record(t, case, rate("high", HIGH_AT))
    if referred:
        r = await t.client.post(f"/v1/cases/{case}/referrals", json={
            "kind": "panel", "occurred_at": "2026-11-04T10:00:00Z",
            "details": {"child_views": "Wants to be heard", "carer_views": "Supportive"}},
            headers=t.auth("case_holder"))
        assert r.status_code == 201, r.text
        for action in ("submit", "send"):
            moved = await t.client.post(f"/v1/referrals/{r.json()['data']['id']}/{action}",
                                        json={"occurred_at": "2026-11-04T11:00:00Z"},
                                        headers=t.auth("case_holder"))
            assert moved.status_code == 200, moved.text
    sitting = await book_sitting(t, case, "marp", SAT)
    r = await decide_item(t, sitting, SAT, KEPT_HIGH)
    assert r.status_code == 200, r.text
    return case, *sitting


async def test_S21_preview_of_a_lowering_before_a_decided_marp_is_409_as_the_write(
        somerset: Tenant) -> None:
    """S21 (Somerset 4.3): "Should a case at MARP be reclassified as medium, the case will be
    de-registered from the MARP panel". ROSH high 3 Nov 2026 on the agenda of the MARP of Mon
    23 Nov, whose decision keeping it high is on file; the case holder's medium dated Fri 20
    Nov: the preview is 409 ``decided-after-judgement`` naming the decided item, its panel and
    the sitting as the write does (the write's field named where the preview carries it,
    ``body.judgement.occurred_at``); the write then is the same 409."""
    t = somerset
    case, panel, item = await _decided_high(t, referred=False)
    medium = judgement_body("rosh", "medium", LOWERED_AT)
    previewed = assert_problem(await _preview(t, case, medium), 409)
    written = assert_problem(await _judge(t, case, medium), 409)
    for problem in (previewed, written):
        assert problem["type"].endswith("/decided-after-judgement")
        assert (problem["panel_item_id"], problem["panel_id"], problem["decided_at"]) == \
            (item, panel, SAT)
        assert problem["bound"] == {"field": "occurred_at",
                                    "name": "the Multi-Agency Risk Panel (MARP)'s sitting",
                                    "value": SAT}
    assert [e["loc"] for e in previewed["errors"]] == ["body.judgement.occurred_at"]
    assert [e["loc"] for e in written["errors"]] == ["body.occurred_at"]
    assert previewed["detail"] == written["detail"]


async def test_S11_preview_of_a_lowering_before_a_marp_the_case_was_referred_to_is_valid(
        somerset: Tenant) -> None:
    """S11 (Somerset 4.5) and M6 (7.2.1: "Where the current judgment of ROSH/S and WB concern is
    High or Very high, recommendation that the risk level is reduced must be approved by the
    panel"). ROSH high 3 Nov 2026, referred to the MARP on 4 Nov, the MARP of Mon 23 Nov keeping
    it high and booking its review: the case holder's medium dated Fri 20 Nov (no review booked
    then) is recorded (201), so the preview says valid, with no refusal (it said M6's 409
    ``panel-approval-required``, read off the review booked since)."""
    t = somerset
    case, _panel, _item = await _decided_high(t, referred=True)
    medium = judgement_body("rosh", "medium", LOWERED_AT)
    r = await _preview(t, case, medium)
    assert r.status_code == 200, r.text
    assert (r.json()["data"]["valid"], r.json()["data"]["violations"]) == (True, [])
    assert (await _judge(t, case, medium)).status_code == 201


async def test_M6_preview_of_a_lowering_dated_under_the_marps_review_is_refused(
        somerset: Tenant) -> None:
    """M6 (Somerset 7.2.1): "Where the current judgment of ROSH/S and WB concern is High or Very
    high, recommendation that the risk level is reduced must be approved by the panel". Very
    high 3 Nov 2026; the MARP of Tue 24 Nov keeps very high and books its review (Tue 22 Dec);
    the MARP of Tue 1 Dec lowers to medium (its review closed); the case holder's low dated Thu
    26 Nov (under the panel's oversight then): the write is 409 ``panel-approval-required``,
    and the preview says so (M6, 409) where it said valid (today's rating medium, no review
    open)."""
    t = somerset
    case = (await t.open_case(opened_at="2026-11-02T09:00:00Z"))["data"]["id"]
    await record(t, case, rate("very_high", HIGH_AT))
    for at, decision in (("2026-11-24T10:00:00Z", {"rosh_level": "very_high",
                                                    "review_date": "2026-12-22"}),
                         ("2026-12-01T10:00:00Z", {"rosh_level": "medium"})):
        r = await decide_at_sitting(t, case, "marp", at,
                                    {**decision, "actions": [], "minutes": "m"})
        assert r.status_code == 200, r.text
    low = {"domain": "rosh", "level": "low", "rationale": "r",
           "occurred_at": "2026-11-26T10:00:00Z", **MATRIX["low"]}
    r = await _preview(t, case, low)
    assert r.status_code == 200, r.text
    preview = r.json()["data"]
    assert preview["valid"] is False
    assert [(v["rule"], v["status"], v["type"].rsplit("/", 1)[-1])
            for v in preview["violations"]] == [("M6", 409, "panel-approval-required")]
    problem = assert_problem(await _judge(t, case, low), 409)
    assert problem["type"].endswith("/panel-approval-required")


async def test_S5_preview_of_a_judgement_dated_before_its_recorder_held_the_case(
        somerset: Tenant) -> None:
    """S5 (Somerset 3.1): "Any 'high' or 'very high' judgement rating will be discussed as soon
    as practicable with the relevant line manager". ROSH high on Mon 2 Nov 2026 by
    case_holder-1; the case then (now) goes to case_holder-2, whose SWB high dated Tue 3 Nov
    (case_holder-1's period) is 422 ``occurred-before-bound`` naming the handover and the
    role's holder then (ATTACK27-2), in the preview as in the write; their change of
    circumstances dated then likewise (Somerset 4.2)."""
    t = somerset
    case = (await t.open_case(opened_at="2026-09-01T10:00:00+01:00"))["data"]["id"]
    await record(t, case, rate("high", "2026-11-02T10:00:00Z"))
    r = await patch_case(t, case, {"case_holder_id": "case_holder-2"})
    assert r.status_code == 200, r.text
    swb = {"domain": "swb", "level": "high", "rationale": "x",
           "occurred_at": "2026-11-03T10:00:00Z"}
    newcomer = ("case_holder", "case_holder-2")
    event = {"type": "change_of_circumstances", "occurred_at": "2026-11-03T10:00:00Z"}
    for r in (await _preview(t, case, swb, newcomer), await _judge(t, case, swb, newcomer),
              await t.client.post("/v1/workflow/preview", headers=t.auth(*newcomer), json={
                  "case_id": case, "trigger": "case_event",
                  "data": {"type": "change_of_circumstances"},
                  "occurred_at": "2026-11-03T10:00:00Z"}),
              await t.client.post(f"/v1/cases/{case}/events", json=event,
                                  headers=t.auth(*newcomer))):
        problem = assert_problem(r, 422)
        assert problem["type"].endswith("/occurred-before-bound")
        assert problem["bound"]["name"] == \
            "when you became the case's case holder; case_holder-1 held it then"


async def test_S5_preview_of_a_judgement_naming_another_cases_assessment(
        somerset: Tenant) -> None:
    """S5 (Somerset 3.1) asks the line manager's discussion of a high judgement; a judgement
    recorded with an assessment names one of its own case's (422 otherwise): the preview
    refuses another case's assessment as the write does."""
    t = somerset
    case = (await t.open_case(opened_at="2026-11-02T09:00:00Z"))["data"]["id"]
    other = (await t.open_case(opened_at="2026-11-02T09:00:00Z"))["data"]["id"]
    r = await t.client.post(f"/v1/cases/{other}/assessments", json={
        "type": "asset_plus", "stage": "start", "occurred_at": "2026-11-02T10:00:00Z"},
        headers=t.auth("case_holder"))
    assert r.status_code == 201, r.text
    high = {**judgement_body("rosh", "high", HIGH_AT), "assessment_id": r.json()["data"]["id"]}
    previewed = assert_problem(await _preview(t, case, high), 422)
    written = assert_problem(await _judge(t, case, high), 422)
    assert [e["loc"] for e in previewed["errors"]] == ["body.judgement.assessment_id"]
    assert [e["loc"] for e in written["errors"]] == ["body.assessment_id"]


async def test_S21_preview_dated_by_its_own_occurred_at_is_409_as_the_write(
        somerset: Tenant) -> None:
    """S21 (Somerset 4.3): "Should a case at MARP be reclassified as medium, the case will be
    de-registered from the MARP panel" (ATTACK36-4). The preview's own top-level
    ``occurred_at`` dates the judgement it previews (it was ignored: the preview answered as
    of now, 200 with M6, where the write dated Fri 20 Nov 2026 is 409
    ``decided-after-judgement``). Two different times (the preview's and the judgement's) are
    422; a time a year ahead is 422 as the write's. The problem's detail carries no value of
    the request (docs/integrating.md: "No error ever carries ... a value from the request";
    ATTACK36-5: it repeated the level and the date)."""
    t = somerset
    case, panel, item = await _decided_high(t, referred=False)
    medium = judgement_body("rosh", "medium", LOWERED_AT)
    undated = {k: v for k, v in medium.items() if k != "occurred_at"}
    r = await t.client.post("/v1/workflow/preview", headers=t.auth("case_holder"), json={
        "case_id": case, "occurred_at": LOWERED_AT, "judgement": undated})
    previewed = assert_problem(r, 409)
    written = assert_problem(await _judge(t, case, medium), 409)
    for problem in (previewed, written):
        assert problem["type"].endswith("/decided-after-judgement")
        assert (problem["panel_item_id"], problem["panel_id"], problem["decided_at"]) == \
            (item, panel, SAT)
        assert "medium" not in problem["detail"].lower()
        assert LOWERED_AT not in problem["detail"]
        assert "2026-11-20" not in problem["detail"]
    assert previewed["detail"] == written["detail"]
    r = await t.client.post("/v1/workflow/preview", headers=t.auth("case_holder"), json={
        "case_id": case, "occurred_at": "2026-11-19T10:00:00Z", "judgement": medium})
    problem = assert_problem(r, 422)
    assert [e["loc"] for e in problem["errors"]] == ["body.occurred_at"]
    r = await t.client.post("/v1/workflow/preview", headers=t.auth("case_holder"), json={
        "case_id": case, "occurred_at": "2099-11-20T10:00:00Z", "judgement": undated})
    assert_problem(r, 422)
