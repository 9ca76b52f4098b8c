"""A panel's decision typed up after a newer rating is the panel's rating then: history (attack
26b, ATTACK26B-11), and one typed up after the case's closure (ATTACK26B-12).

Somerset 7.1.2: "Notes will be recorded on the MARP minutes form including any actions and the
Chair will set the review date if required"; Wokingham (High Risk Panel): "At the end of the
Panel, a specific action plan and risk classification should be agreed". A decision records "a
confirmed rating" (the catalogue's Panels; A23b-2). A back-dated judgement is kept in the
history and does not override a newer current rating; a panel's decision dated at its sitting,
before a newer rating, is the same.

Dates: the case rated ROSH high on Thursday 1 April 2027; panels on Thursday 15 and Friday
16 April 2027 at 10:00 (BST); the case holder's very high on 16 April; the minutes typed up on
Tuesday 20 April. Actions due Tuesday 4 May (3 May is the early May bank holiday), reviews on
Friday 14 May 2027."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest

from app.core import clock
from tests.api.integrity_support import patch_case, refer_to_marp
from tests.api.test_assessments import case_steps
from tests.api.test_events import judge
from tests.api.test_panels import add_item, schedule
from tests.conftest import Tenant

KIND = {"somerset-yjt-2023": "marp", "wokingham-pyjs-2024": "high_risk_panel"}
SITTING_RECORDS = {"somerset-yjt-2023": ["record_panel_contact"],
                   "wokingham-pyjs-2024": ["share_panel_minutes", "upload_panel_minutes"]}
POLICE = {"description": "Police to visit the address", "owner_id": "pc-jones",
          "due_date": "2027-05-04"}
FIRST = {"rosh_level": "high", "actions": [POLICE], "review_date": "2027-05-14",
         "minutes": "Panel of 15 April", "occurred_at": "2027-04-15T12:00:00+01:00"}
SECOND = {"rosh_level": "medium",
          "actions": [{"description": "Case holder to update the plan",
                       "owner_id": "case_holder-1", "due_date": "2027-05-04"}],
          "minutes": "Panel of 16 April", "occurred_at": "2027-04-16T12:00:00+01:00"}


@pytest.fixture(autouse=True)
def typed_on_20_april(monkeypatch: pytest.MonkeyPatch) -> None:
    """The minutes are typed up on Tuesday 20 April 2027."""
    monkeypatch.setattr(clock, "now", lambda: datetime(2027, 4, 20, 9, 0, tzinfo=UTC))


@pytest.fixture(params=["somerset", "wokingham"])
def tenant(request: pytest.FixtureRequest) -> Tenant:
    return request.getfixturevalue(request.param)  # type: ignore[no-any-return]


async def _high_case(t: Tenant, **opened: str) -> str:
    case = (await t.open_case(**opened))["data"]
    await judge(t, case["id"], "rosh", "high", "2027-04-01T10:00:00+01:00")
    return case["id"]  # type: ignore[no-any-return]


async def _on_panel(t: Tenant, case_id: str, when: str) -> str:
    """The decision's url of the case on a panel sitting at ``when``."""
    panel = await schedule(t.client, t, when, KIND[t.pack])
    item = await add_item(t.client, t, panel["id"], case_id)
    return f"/v1/panels/{panel['id']}/items/{item['id']}/decision"


async def _decide(t: Tenant, url: str, body: dict[str, Any]) -> dict[str, Any]:
    r = await t.client.post(url, json=body, headers=t.auth("chair", "chair-1"))
    assert r.status_code == 200, r.text
    return r.json()["data"]  # type: ignore[no-any-return]


async def _record(t: Tenant, case_id: str) -> dict[str, Any]:
    """What the case's record says: its current ratings and register, its judgements in time
    order, its open steps (code, assignee, due)."""
    case = (await t.client.get(f"/v1/cases/{case_id}", headers=t.auth("chair"))).json()["data"]
    r = await t.client.get(f"/v1/cases/{case_id}/judgements", params={"limit": 100},
                           headers=t.auth("chair"))
    assert r.status_code == 200, r.text
    history = sorted((j["occurred_at"], j["domain"], j["level"], j["panel_item_id"] is not None)
                     for j in r.json()["data"])
    steps = sorted((s["code"], s["assignee_id"] or "", s["due_at"] or "")
                   for s in await case_steps(t, case_id))
    return {"rosh": case["ratings"]["rosh"]["level"], "on_register": case["on_register"],
            "history": history, "open_steps": steps}


async def test_S19_W22_an_earlier_panels_minutes_typed_after_a_later_panels_are_history(
    tenant: Tenant
) -> None:
    """ATTACK26B-11 (repro p2_order.py, r12_two_panels.py): the case on two panels' agendas,
    15 and 16 April. The 16 April panel's decision (ROSH medium) is typed first; the 15 April
    panel's (ROSH high confirmed, an action for the police, a review on 14 May) after it was
    409 ``rating-changed-since-panel`` ("record the decision without rosh_level"), and without
    it 422 (a decision records a confirmed rating). Now it is recorded as the panel decided
    it: its high is in the history at 15 April, the 16 April medium stays current, its action
    is owed by its owner, and the record is the one the two decisions typed in date order
    give."""
    t = tenant
    in_order, reversed_ = await _high_case(t), await _high_case(t)
    urls = {}
    for case_id in (in_order, reversed_):
        urls[case_id] = (await _on_panel(t, case_id, "2027-04-15T10:00:00+01:00"),
                         await _on_panel(t, case_id, "2027-04-16T10:00:00+01:00"))
    await _decide(t, urls[in_order][0], FIRST)
    await _decide(t, urls[in_order][1], SECOND)
    await _decide(t, urls[reversed_][1], SECOND)
    first = await _decide(t, urls[reversed_][0], FIRST)
    assert first["decision"]["rosh_level"] == "high"
    record = await _record(t, reversed_)
    assert record["rosh"] == "medium"
    assert record["history"] == [("2027-04-01T09:00:00Z", "rosh", "high", False),
                                 ("2027-04-15T11:00:00Z", "rosh", "high", True),
                                 ("2027-04-16T11:00:00Z", "rosh", "medium", True)]
    assert ("panel_action", "pc-jones", "2027-05-04T22:59:59Z") in record["open_steps"]
    assert "record_panel_decision" not in {code for code, _, _ in record["open_steps"]}
    assert record == await _record(t, in_order)


async def test_S19_W22_minutes_typed_after_the_holders_later_judgement_are_history(
    tenant: Tenant
) -> None:
    """ATTACK26B-11 (repro p3_judgement_then_minutes.py): the panel sat on 15 April and
    confirmed ROSH high with an action and a review on 14 May; the case holder judged ROSH very
    high on 16 April; the chair types the minutes on 20 April. That was 409, and 422 without
    the level. Now the decision stands: the panel's high at 15 April in the history, very high
    current (on the register), the police action and the booked review owed, as when the
    minutes are typed before the judgement."""
    t = tenant
    minutes_late, minutes_first = await _high_case(t), await _high_case(t)
    late_url = await _on_panel(t, minutes_late, "2027-04-15T10:00:00+01:00")
    first_url = await _on_panel(t, minutes_first, "2027-04-15T10:00:00+01:00")
    await _decide(t, first_url, FIRST)
    for case_id in (minutes_first, minutes_late):
        await judge(t, case_id, "rosh", "very_high", "2027-04-16T10:00:00+01:00")
    decided = await _decide(t, late_url, FIRST)
    assert decided["decided_at"] == "2027-04-15T11:00:00Z"
    record = await _record(t, minutes_late)
    assert record["rosh"] == "very_high"
    assert record["on_register"] is True
    assert ("2027-04-15T11:00:00Z", "rosh", "high", True) in record["history"]
    assert ("panel_action", "pc-jones", "2027-05-04T22:59:59Z") in record["open_steps"]
    assert ("attend_panel_review", "case_holder-1", "2027-05-14T22:59:59Z") \
        in record["open_steps"]
    assert "record_panel_decision" not in {code for code, _, _ in record["open_steps"]}
    assert record == await _record(t, minutes_first)


async def test_S19_W22_a_decision_dated_after_a_newer_rating_is_409_and_its_remedy_stands(
    tenant: Tenant
) -> None:
    """The refusal that stays: the panel sat at 10:00 on 15 April, a very high ROSH was judged
    at 11:30, and the chair dates the panel's "medium" 12:00, after it (the panel did not see
    it; taken as current it would take a very high child off the register). 409
    ``rating-changed-since-panel``, naming occurred_at and the bound; its remedy (date the
    decision at the sitting) is a request that stands: medium in the history, very high
    current; the record the decision and judgement typed in date order give."""
    t = tenant
    case_id, in_order = await _high_case(t), await _high_case(t)
    url = await _on_panel(t, case_id, "2027-04-15T10:00:00+01:00")
    in_order_url = await _on_panel(t, in_order, "2027-04-15T10:00:00+01:00")
    await _decide(t, in_order_url, {k: v for k, v in SECOND.items() if k != "occurred_at"})
    for case in (in_order, case_id):
        await judge(t, case, "rosh", "very_high", "2027-04-15T11:30:00+01:00")
    body = {**SECOND, "occurred_at": "2027-04-15T12:00:00+01:00"}
    r = await t.client.post(url, json=body, headers=t.auth("chair", "chair-1"))
    assert r.status_code == 409, r.text
    problem = r.json()
    assert problem["type"].endswith("/rating-changed-since-panel")
    assert {e["loc"] for e in problem["errors"]} == {"body.rosh_level", "body.occurred_at"}
    assert problem["bound"]["value"] == "2027-04-15T10:30:00Z"
    assert "leave out occurred_at" in problem["detail"]
    decided = await _decide(t, url, {k: v for k, v in body.items() if k != "occurred_at"})
    assert decided["decided_at"] == "2027-04-15T09:00:00Z"
    record = await _record(t, case_id)
    assert record["rosh"] == "very_high"
    assert record["on_register"] is True
    assert ("2027-04-15T09:00:00Z", "rosh", "medium", True) in record["history"]
    assert record == await _record(t, in_order)


CLOSE = {"closed_at": "2027-04-20T08:00:00Z", "closure_reason": "Order completed"}
REOPEN = {"closed_at": None, "reopen_reason": "New offence",
          "occurred_at": "2027-04-20T08:30:00Z"}
LOWERED = {"rosh_level": "medium",
           "actions": [{"description": "Case holder to update the plan",
                        "owner_id": "case_holder-1", "due_date": "2027-05-04"}],
           "minutes": "Panel of 15 April", "occurred_at": "2027-04-15T12:00:00+01:00"}


async def _referred_high_case(t: Tenant) -> str:
    """A high ROSH case (1 April 2027) referred to the panel with the child's and carer's
    views on 1 April (the duties a closure may not leave open); a prevention case (no closure
    AssetPlus owed)."""
    case_id = await _high_case(t, intervention="prevention")
    await refer_to_marp(t, case_id, "2027-04-01T11:00:00+01:00")
    return case_id


async def test_S29_W22_a_decision_typed_after_the_closure_of_a_sitting_before_it_is_recorded_whole(
    tenant: Tenant
) -> None:
    """ATTACK26B-12 (repro c4_close_then_decide.py): the panel sat on 15 April and lowered ROSH
    to medium with an action; the case was closed on 20 April; the chair then typed the
    decision. It was 200 with no judgement (the case stayed high), and on reopening the case
    was high on the register again, and the chair owed ``record_panel_decision`` for the
    decided item, which could never be done (409 on recording, 409 on completing). Now the
    decision, dated at the sitting while the case was open, is recorded with its judgement
    (Somerset 7.2.1/4.3 the MARP's lowering is the rating; Wokingham "risk classification
    should be agreed") as any act dated before a closure and typed after it: nothing is open
    on the closed case, and the record after the reopening is the one the decision typed
    before the closure gives: ROSH medium, off the register, the panel's action owed, no
    decision owed."""
    t = tenant
    after, before = await _referred_high_case(t), await _referred_high_case(t)
    after_url = await _on_panel(t, after, "2027-04-15T10:00:00+01:00")
    before_url = await _on_panel(t, before, "2027-04-15T10:00:00+01:00")
    await _decide(t, before_url, LOWERED)
    for case_id in (after, before):
        r = await patch_case(t, case_id, CLOSE)
        assert r.status_code == 200, r.text
    decided = await _decide(t, after_url, LOWERED)
    assert decided["decided_at"] == "2027-04-15T11:00:00Z"
    # Open on the closed case: only the records the sitting left owed, which survive a
    # closure (attack 32c, ATTACK32C-1: Somerset 7.1.4 "The MARP administrator will note in a
    # CMS contact record that the child was discussed at MARP"; Wokingham "Minutes of the
    # meeting will be shared by the Team Manager ... The case worker must ensure that minutes
    # are uploaded to the system").
    assert sorted(s["code"] for s in await case_steps(t, after)) == SITTING_RECORDS[t.pack]
    closed = await _record(t, after)
    assert closed["rosh"] == "medium"
    assert closed["on_register"] is False
    assert ("2027-04-15T11:00:00Z", "rosh", "medium", True) in closed["history"]
    again = await t.client.post(after_url, json=LOWERED, headers=t.auth("chair", "chair-1"))
    assert again.status_code == 409, again.text
    for case_id in (after, before):
        r = await patch_case(t, case_id, REOPEN)
        assert r.status_code == 200, r.text
    record = await _record(t, after)
    assert record["rosh"] == "medium"
    assert record["on_register"] is False
    assert "record_panel_decision" not in {code for code, _, _ in record["open_steps"]}
    assert ("panel_action", "case_holder-1", "2027-05-04T22:59:59Z") in record["open_steps"]
    assert record == await _record(t, before)


async def test_S29_W22_closure_raced_with_the_decision_of_a_sitting_before_it(
    tenant: Tenant
) -> None:
    """ATTACK26B-12's race (repro r13.py): the line manager closes the case while the chair
    records the 15 April decision (ROSH medium, an action). Either order, one consistent record:
    the decision stands (200: the panel sat while the case was open) and the closure stands
    (200) or, taken after it, is 412 on its stale ETag; closed (then) and reopened, the case
    is what the decision typed before the closure leaves: ROSH medium, off the register, the
    panel's action owed, no decision owed."""
    t = tenant
    reference = await _referred_high_case(t)
    await _decide(t, await _on_panel(t, reference, "2027-04-15T10:00:00+01:00"), LOWERED)
    for step in ("close", "reopen"):
        r = await patch_case(t, reference, CLOSE if step == "close" else REOPEN)
        assert r.status_code == 200, r.text
    expected = await _record(t, reference)
    for _ in range(3):
        case_id = await _referred_high_case(t)
        url = await _on_panel(t, case_id, "2027-04-15T10:00:00+01:00")
        decision, closure = await asyncio.gather(
            t.client.post(url, json=LOWERED, headers=t.auth("chair", "chair-1")),
            patch_case(t, case_id, CLOSE))
        assert decision.status_code == 200, decision.text
        assert closure.status_code in {200, 412}, closure.text
        if closure.status_code == 412:  # the decision came first: the ETag moved
            r = await patch_case(t, case_id, CLOSE)
            assert r.status_code == 200, r.text
        r = await patch_case(t, case_id, REOPEN)
        assert r.status_code == 200, r.text
        assert await _record(t, case_id) == expected


async def test_S19_W22_two_panels_decisions_raced_give_the_date_order_record(
    tenant: Tenant
) -> None:
    """ATTACK26B-11's race (repro r12_two_panels.py): the 15 and 16 April decisions recorded
    at once. The outcome depended on which committed first (typed 16 April first, the 15 April
    decision was 409). Now both stand whichever commits first, and the record is the one the
    two typed in date order give."""
    t = tenant
    reference = await _high_case(t)
    urls = (await _on_panel(t, reference, "2027-04-15T10:00:00+01:00"),
            await _on_panel(t, reference, "2027-04-16T10:00:00+01:00"))
    await _decide(t, urls[0], FIRST)
    await _decide(t, urls[1], SECOND)
    expected = await _record(t, reference)
    for _ in range(2):
        case_id = await _high_case(t)
        urls = (await _on_panel(t, case_id, "2027-04-15T10:00:00+01:00"),
                await _on_panel(t, case_id, "2027-04-16T10:00:00+01:00"))
        answers = await asyncio.gather(
            t.client.post(urls[0], json=FIRST, headers=t.auth("chair", "chair-1")),
            t.client.post(urls[1], json=SECOND, headers=t.auth("chair", "chair-1")))
        assert [a.status_code for a in answers] == [200, 200], [a.text for a in answers]
        assert await _record(t, case_id) == expected
