"""A panel decision must not outrun the record: a decision typed up after the case changed.

The outside tester's findings of 30 November: a MARP sits at 10:00, a very high ROSH is judged
at 11:30, and the chair records the panel's "medium" afterwards: the child dropped off the
register although rated very high (Somerset 4.5: "Cases assessed as High or Very High risk of
serious harm ... will be discussed at the MARP" and reviewed monthly while the rating stands).
And a decision recorded on a case closed after the panel sat opened eight steps on the closed
case. The first is now 409 and stores nothing; the second is recorded as the sitting's record
and raises nothing on the closed case (attack pass 15, A15-13)."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx

from tests.api.integrity_support import audit_of, etag, refer_to_marp, steps_of
from tests.api.test_panels import add_item, high_case, judge, schedule
from tests.conftest import Tenant


async def _on_panel(client: httpx.AsyncClient, t: Tenant, *, newer_very_high: bool = False
                    ) -> tuple[dict, dict, dict]:
    """A Somerset high ROSH case on the agenda of a MARP sitting at 10:00 on 10 June 2026
    (case, panel, item); with ``newer_very_high``, a very high ROSH judged at 11:30, after the
    panel sat."""
    case = await high_case(client, t)
    panel = await schedule(client, t, "2026-06-10T10:00:00+01:00")
    item = await add_item(client, t, panel["id"], case["id"])
    if newer_very_high:
        r = await judge(client, t, case["id"], domain="rosh", level="very_high",
                        occurred_at="2026-06-10T11:30:00+01:00")
        assert r.status_code == 201, r.text
    return case, panel, item


async def _decide(client: httpx.AsyncClient, t: Tenant, panel: dict, item: dict,
                  **body: object) -> httpx.Response:
    return await client.post(f"/v1/panels/{panel['id']}/items/{item['id']}/decision",
                             json={"actions": [], "minutes": "Discussed", **body},
                             headers=t.auth("chair", "chair-1"))


async def test_decision_lowering_a_rating_judged_after_the_panel_sat_is_history(
    client: httpx.AsyncClient, somerset: Tenant
) -> None:
    """The panel sat at 10:00 and lowered ROSH to medium; a very high ROSH was judged at 11:30.
    The decision, dated at the sitting (the default), is the panel's rating then: kept in the
    history as a back-filled judgement is, the very high staying current, on the register,
    with its monthly review (attack 26b, ATTACK26B-11: this was 409 advising to leave the level
    out, which is 422 since A23b-2, so the sitting's minutes could not be recorded)."""
    case, panel, item = await _on_panel(client, somerset, newer_very_high=True)
    r = await _decide(client, somerset, panel, item, rosh_level="medium")
    assert r.status_code == 200, r.text
    assert r.json()["data"]["decided_at"] == "2026-06-10T09:00:00Z"
    got = (await client.get(f"/v1/cases/{case['id']}", headers=somerset.auth("chair"))).json()
    assert got["data"]["ratings"]["rosh"]["level"] == "very_high"
    assert got["data"]["on_register"] is True
    assert "monthly_manager_review" in {s["code"] for s in got["data"]["open_steps"]}
    history = (await client.get(f"/v1/cases/{case['id']}/judgements",
                                headers=somerset.auth("chair"))).json()["data"]
    assert ("2026-06-10T09:00:00Z", "medium") in {(j["occurred_at"], j["level"])
                                                  for j in history if j["panel_item_id"]}


async def test_decision_confirming_the_current_level_after_a_newer_judgement_stands(
    client: httpx.AsyncClient, somerset: Tenant
) -> None:
    """The boundary's other side: the panel's level is the case's current one (very high
    judged after the panel sat, and the panel said very high): recorded, the case stays on the
    register at very high."""
    case, panel, item = await _on_panel(client, somerset, newer_very_high=True)
    r = await _decide(client, somerset, panel, item, rosh_level="very_high",
                      review_date="2026-07-08")
    assert r.status_code == 200, r.text
    got = (await client.get(f"/v1/cases/{case['id']}", headers=somerset.auth("chair"))).json()
    assert got["data"]["ratings"]["rosh"]["level"] == "very_high"
    assert got["data"]["on_register"] is True


async def test_decision_of_a_panel_that_sat_before_the_closure_is_recorded_whole_and_opens_nothing(
    client: httpx.AsyncClient, somerset: Tenant
) -> None:
    """Somerset 7.1.2 ("The Chair will ... record the decision"; 7.1.4 the minutes): the case
    was closed (now) after a 10:00 panel on 10 June; the chair then records its decision with
    an action and a review date. Attack pass 15, A15-13: that was 409 ``case-closed`` and the
    sitting's decision could never be recorded. Now it is recorded (200, audited
    ``panel.decision`` with ``case_closed_at``), and the case stays closed and unchanged: no
    open step (the earlier finding: eight steps opened on the closed case), its rating as it
    was. A decision dated after the closure is still 409 ``case-closed``.

    Since attack 26b (ATTACK26B-12) the decision is recorded whole, as when typed before the
    closure: its confirmed rating is the case's (very high, a judgement dated at the sitting;
    the case off the register while closed), what it raises set aside by the closure for a
    reopening, nothing open."""
    case, panel, item = await _on_panel(client, somerset)
    await _close(client, somerset, case["id"])
    before = len(await audit_of(somerset, case["id"]))
    late = await _decide(client, somerset, panel, item, rosh_level="very_high",
                         occurred_at=datetime.now(UTC).isoformat())
    assert late.status_code == 409, late.text
    assert late.json()["type"].endswith("/case-closed")
    r = await _decide(client, somerset, panel, item, rosh_level="very_high",
                      review_date="2026-07-08",
                      actions=[{"description": "Safety plan", "owner_id": "case_holder-1",
                                "due_date": "2026-06-19"}])
    assert r.status_code == 200, r.text
    assert r.json()["data"]["decided_at"] == "2026-06-10T09:00:00Z"
    # The one step open on the closed case is the record the sitting left owed, which
    # survives a closure (attack 32c, ATTACK32C-1: 7.1.4 "The MARP administrator will note in
    # a CMS contact record that the child was discussed at MARP").
    assert [s["code"] for s in r.json()["next_steps"]] == ["record_panel_contact"]
    assert [s["code"] for s in await steps_of(somerset, case["id"])] == [
        "record_panel_contact"]
    entries = await audit_of(somerset, case["id"])
    actions = [e["action"] for e in entries[before:]]
    assert actions.count("panel.decision") == 1
    assert "judgement.record" in actions
    decision = next(e for e in entries[before:] if e["action"] == "panel.decision")
    assert "case_closed_at" in decision["fields"]
    got = (await client.get(f"/v1/cases/{case['id']}", headers=somerset.auth("chair"))).json()
    assert got["data"]["closed_at"] is not None
    assert got["data"]["ratings"]["rosh"]["level"] == "very_high"
    assert got["data"]["on_register"] is False


async def test_decision_typed_up_later_with_its_own_time_is_still_409(
    client: httpx.AsyncClient, somerset: Tenant
) -> None:
    """The twin of the first finding: the chair gives the decision an ``occurred_at`` after the
    newer judgement (typed up at 12:00 after a 10:00 panel and an 11:30 very high ROSH). The
    panel still did not see that judgement: 409, and the case stays very high on the register."""
    case, panel, item = await _on_panel(client, somerset, newer_very_high=True)
    r = await _decide(client, somerset, panel, item, rosh_level="medium",
                      occurred_at="2026-06-10T12:00:00+01:00")
    assert r.status_code == 409, r.text
    assert r.json()["type"].endswith("/rating-changed-since-panel")
    got = (await client.get(f"/v1/cases/{case['id']}", headers=somerset.auth("chair"))).json()
    assert got["data"]["on_register"] is True


async def _close(client: httpx.AsyncClient, t: Tenant, case_id: str) -> None:
    """Close the case now (after every act recorded on it, which a closure may not predate),
    once referred to the MARP with the views (3.2.3, 6.2: not waivable, A9-9)."""
    await refer_to_marp(t, case_id, datetime.now(UTC).isoformat())
    r = await client.patch(f"/v1/cases/{case_id}",
                           json={"closed_at": datetime.now(UTC).isoformat(),
                                 "closure_reason": "Order ended"},
                           headers={**t.auth("line_manager"), "If-Match": await etag(t, case_id)})
    assert r.status_code == 200, r.text


async def test_assessment_acts_on_a_closed_case_are_409_and_raise_nothing(
    client: httpx.AsyncClient, somerset: Tenant
) -> None:
    """Closure superseded every open step; submitting a draft (S4 would ask for a
    countersignature) or countersigning a submitted assessment (S3 would ask for a review)
    afterwards is 409 case-closed, and the closed case keeps no open step."""
    case = await high_case(client, somerset)
    ids = []
    for submit in (False, True):
        r = await client.post(f"/v1/cases/{case['id']}/assessments",
                              json={"type": "asset_plus", "stage": "review"},
                              headers=somerset.auth("case_holder"))
        assert r.status_code == 201, r.text
        ids.append(r.json()["data"]["id"])
        if submit:
            r = await client.post(f"/v1/assessments/{ids[-1]}/submit", json={},
                                  headers=somerset.auth("case_holder"))
            assert r.status_code == 200, r.text
    await _close(client, somerset, case["id"])
    before = len(await audit_of(somerset, case["id"]))
    for url, role in ((f"/v1/assessments/{ids[0]}/submit", "case_holder"),
                      (f"/v1/assessments/{ids[1]}/countersign", "line_manager"),
                      (f"/v1/assessments/{ids[1]}/return", "line_manager")):
        r = await client.post(url, json={"feedback": "ok"} if role == "line_manager" else {},
                              headers=somerset.auth(role))
        assert r.status_code == 409, (url, r.text)
        assert r.json()["type"].endswith("/case-closed")
    assert await steps_of(somerset, case["id"]) == []
    assert len(await audit_of(somerset, case["id"])) == before


async def test_referral_moves_on_a_closed_case_are_409_but_withdrawal_stands(
    client: httpx.AsyncClient, somerset: Tenant
) -> None:
    """A draft NRM referral left when the case closed: submitting it is 409 case-closed (it
    would raise steps on a case nobody holds); withdrawing it is still recorded."""
    case = (await somerset.open_case())["data"]
    r = await client.post(f"/v1/cases/{case['id']}/referrals", json={"kind": "nrm"},
                          headers=somerset.auth("case_holder"))
    assert r.status_code == 201, r.text
    referral = r.json()["data"]["id"]
    await _close(client, somerset, case["id"])
    r = await client.post(f"/v1/referrals/{referral}/submit", json={},
                          headers=somerset.auth("case_holder"))
    assert r.status_code == 409, r.text
    assert r.json()["type"].endswith("/case-closed")
    assert await steps_of(somerset, case["id"]) == []
    r = await client.post(f"/v1/referrals/{referral}/withdraw", json={},
                          headers=somerset.auth("case_holder"))
    assert r.status_code == 200, r.text
    assert await steps_of(somerset, case["id"]) == []


async def test_patch_of_mappa_fields_on_a_closed_case_raises_no_step_until_reopened(
    client: httpx.AsyncClient, somerset: Tenant
) -> None:
    """A MAPPA category and level recorded on a closed case (a correction) are stored, but raise
    no step while the case is closed (S17 would ask for a panel referral, S22 a MAPPA H
    notification). Reopening runs the policy for the case as it then stands."""
    case = await high_case(client, somerset)
    await _close(client, somerset, case["id"])
    r = await client.patch(f"/v1/cases/{case['id']}", json={"mappa_category": 1,
                                                              "mappa_level": 2},
                           headers={**somerset.auth("line_manager"),
                                    "If-Match": await etag(somerset, case["id"])})
    assert r.status_code == 200, r.text
    assert r.json()["data"]["mappa_level"] == 2
    assert await steps_of(somerset, case["id"]) == []
    r = await client.patch(f"/v1/cases/{case['id']}",
                           json={"closed_at": None, "reopen_reason": "Closed in error"},
                           headers={**somerset.auth("line_manager"),
                                    "If-Match": await etag(somerset, case["id"])})
    assert r.status_code == 200, r.text
    assert await steps_of(somerset, case["id"]) != []


async def test_decision_overwriting_a_mappa_level_recorded_after_the_panel_sat_is_409(
    client: httpx.AsyncClient, somerset: Tenant
) -> None:
    """The MAPPA twin: a MAPPA category 1 case at level 1 goes to the MARP; after the panel sat
    the line manager records level 3; the decision typed up afterwards says level 1. 409
    ``rating-changed-since-panel`` on body.mappa_level, and level 3 stands. A decision that
    agrees with level 3 (confirming ROSH high) is recorded."""
    case = (await somerset.open_case(mappa_category=1, mappa_level=1))["data"]
    r = await judge(client, somerset, case["id"], domain="rosh", level="high",
                    occurred_at="2026-06-01T10:00:00+01:00")
    assert r.status_code == 201, r.text
    panel = await schedule(client, somerset, "2026-06-10T10:00:00+01:00")
    item = await add_item(client, somerset, panel["id"], case["id"])
    r = await client.patch(f"/v1/cases/{case['id']}", json={"mappa_level": 3},
                           headers={**somerset.auth("line_manager"),
                                    "If-Match": await etag(somerset, case["id"])})
    assert r.status_code == 200, r.text
    r = await _decide(client, somerset, panel, item, mappa_level=1, rosh_level="high",
                      review_date="2026-07-08")
    assert r.status_code == 409, r.text
    assert r.json()["errors"][0]["loc"] == "body.mappa_level"
    got = (await client.get(f"/v1/cases/{case['id']}", headers=somerset.auth("chair"))).json()
    assert got["data"]["mappa_level"] == 3
    r = await _decide(client, somerset, panel, item, mappa_level=3, rosh_level="high",
                      review_date="2026-07-08")
    assert r.status_code == 200, r.text


async def test_S20_decision_typed_after_the_closure_is_checked_as_before_it(
    client: httpx.AsyncClient, somerset: Tenant
) -> None:
    """S20 (7.1.6): "The panel will set a provisional review date": a decision leaving ROSH
    high or very high without a review date is 422 ``review-date-required``. The decision of a
    panel that sat while the case was open is the record of that sitting, so typed up after the
    closure (A15-13) it is checked the same way: 422, nothing recorded (the item stays
    undecided, no audit entry); with its review date it is recorded (left14a: it was kept
    without one, the pack's checks never ran on a closed case)."""
    case, panel, item = await _on_panel(client, somerset)
    await _close(client, somerset, case["id"])
    before = len(await audit_of(somerset, case["id"]))
    r = await _decide(client, somerset, panel, item, rosh_level="very_high")
    assert r.status_code == 422, r.text
    assert r.json()["type"].endswith("/review-date-required")
    assert len(await audit_of(somerset, case["id"])) == before
    r = await _decide(client, somerset, panel, item, rosh_level="very_high",
                      review_date="2026-07-08")
    assert r.status_code == 200, r.text
    assert r.json()["data"]["decided_at"] == "2026-06-10T09:00:00Z"


async def test_W22_high_risk_panel_decision_typed_after_the_closure_needs_its_action_plan(
    client: httpx.AsyncClient, wokingham: Tenant
) -> None:
    """W22 (High Risk Panel): "At the end of the panel a specific action plan and risk
    classification will be agreed": a High-Risk Panel decision without actions is 422
    ``action-plan-required``, typed before the case's closure or after it (left14a: after it,
    it was kept without one); with its action it is recorded on the closed case."""
    case = (await wokingham.open_case(intervention="prevention",
                                      opened_at="2026-06-01T09:00:00+01:00"))["data"]
    r = await client.post(f"/v1/cases/{case['id']}/referrals",
                          json={"kind": "panel", "occurred_at": "2026-06-09T10:00:00+01:00"},
                          headers=wokingham.auth("case_holder"))
    assert r.status_code == 201, r.text
    r = await client.post(f"/v1/referrals/{r.json()['data']['id']}/submit",
                          json={"occurred_at": "2026-06-09T10:00:00+01:00"},
                          headers=wokingham.auth("case_holder"))
    assert r.status_code == 200, r.text
    panel = await schedule(client, wokingham, "2026-06-10T10:00:00+01:00",
                           kind="high_risk_panel")
    item = await add_item(client, wokingham, panel["id"], case["id"])
    r = await client.patch(f"/v1/cases/{case['id']}",
                           json={"closed_at": datetime.now(UTC).isoformat(),
                                 "closure_reason": "Intervention completed"},
                           headers={**wokingham.auth("line_manager"),
                                    "If-Match": await etag(wokingham, case["id"])})
    assert r.status_code == 200, r.text
    r = await _decide(client, wokingham, panel, item, rosh_level="medium")
    assert r.status_code == 422, r.text
    assert r.json()["type"].endswith("/action-plan-required")
    r = await _decide(client, wokingham, panel, item, rosh_level="medium",
                      actions=[{"description": "Safety plan", "owner_id": "case_holder-1",
                                "due_date": "2026-06-19"}])
    assert r.status_code == 200, r.text
