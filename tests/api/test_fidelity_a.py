"""Seed fidelity through the API (fidelityA): the duty manager standing in for an absent line
manager (Somerset 3.1), a countersignature opening with what it signs (7.1.3), a back-dated
referral due at the next MARP at or after it, sat or not (3.2.3, A9-6), a re-dated step's
stale deadline note replaced, and a chair's overdue panel action escalated as a chair's duty.

The clock is pinned (``app.core.clock.now``) where "now" decides the answer: the recording time
of an act, never a timed test.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from app.domain.policy import redated_note
from tests.api.fidelity_support import away, pin, steps_of
from tests.api.integrity_support import audit_of, complete, judge_high, patch_case
from tests.api.support import tick
from tests.api.test_assessments import case_steps, draft, submit
from tests.api.test_panel_action_owners import _decide
from tests.api.test_panels import add_item, schedule
from tests.conftest import Tenant

MARP = "Multi-Agency Risk Panel (MARP)"  # the pack's name for the kind, in notes (A26a-14)

S = {"pack": "somerset-yjt-2023", "version": "1"}


# --- 1. Somerset 3.1: the duty manager stands in for an absent line manager -------------------


async def test_S5_line_manager_on_leave_the_duty_manager_discusses(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """S5, S6 (3.1): "Any 'high' or 'very high' judgement rating will be discussed as soon as
    practicable with the relevant line manager or duty manager (within 24 hours). ... If the
    line manager is unavailable, the duty manager will undertake these functions." ROSH high
    on Saturday 24 October 2026 at 10:00 BST; the line manager is on leave Friday 23 to Tuesday
    27 October: the discussion goes to the duty manager (unassigned), due 24 clock hours later,
    Sunday 25 October 09:00 GMT (the clocks went back in between); the plan's countersignature
    too. S11's monthly review stays the line manager's (4.5 names no stand-in). Done by a duty
    manager, S16's advice to the line manager follows ("they will advise the relevant line
    manager of the outcome of these consultations")."""
    pin(monkeypatch, 2026, 10, 24, 9, 5)
    case = (await somerset.open_case())["data"]
    await away(somerset, "line_manager-1", "2026-10-23", "2026-10-27")
    body = await judge_high(somerset, case["id"], "2026-10-24T10:00:00+01:00")
    [discuss] = steps_of(body["next_steps"], "discuss_with_manager")
    assert (discuss["actor"], discuss["assignee_id"], discuss["due_at"]) == (
        "duty_manager", None, "2026-10-25T09:00:00Z")
    assert discuss["policy"] == {**S, "ref": "3.1", "rule": "S5"}
    assert "line_manager-1" in discuss["note"]
    assert "is on recorded leave" in discuss["note"]
    assert "2026-10-23" not in discuss["note"]  # a manager's leave is theirs (A11-17)
    [plan] = steps_of(body["next_steps"], "countersign_risk_plan")
    assert (plan["actor"], plan["assignee_id"], plan["due_at"]) == ("duty_manager", None, None)
    assert plan["policy"] == {**S, "ref": "3.1", "rule": "S6"}
    [review] = steps_of(body["next_steps"], "monthly_manager_review")
    assert (review["actor"], review["assignee_id"]) == ("line_manager", "line_manager-1")
    done = await complete(somerset, discuss["id"], "duty_manager", "duty_manager-3")
    assert done.status_code == 200, done.text
    [advise] = steps_of(done.json()["next_steps"], "advise_line_manager")
    assert (advise["actor"], advise["due_at"]) == ("duty_manager", None)
    assert advise["policy"] == {**S, "ref": "2.2, 3.1", "rule": "S16"}


async def test_S5_leave_after_the_24_hours_leaves_it_with_the_line_manager(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """S5 (3.1): leave from Monday 26 October 2026 does not make the line manager unavailable
    for a discussion due Sunday 25 October 09:00 GMT: it stays theirs."""
    pin(monkeypatch, 2026, 10, 24, 9, 5)
    case = (await somerset.open_case())["data"]
    await away(somerset, "line_manager-1", "2026-10-26", "2026-10-30")
    body = await judge_high(somerset, case["id"], "2026-10-24T10:00:00+01:00")
    [discuss] = steps_of(body["next_steps"], "discuss_with_manager")
    assert (discuss["actor"], discuss["assignee_id"], discuss["due_at"]) == (
        "line_manager", "line_manager-1", "2026-10-25T09:00:00Z")


async def test_S5_leave_recorded_later_moves_the_open_steps(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """S5, S6 (3.1) when the absence is recorded after the steps were made: ROSH high on
    Thursday 31 December 2026 at 16:00 GMT (month and year end; Friday 1 January is a bank
    holiday); the line manager's leave from that Thursday to Monday 4 January, recorded on the
    Thursday evening, gives the open discussion (due Friday 16:00) and countersignature to the
    duty manager; the reassignment is audited."""
    pin(monkeypatch, 2026, 12, 31, 16, 30)
    case = (await somerset.open_case())["data"]
    body = await judge_high(somerset, case["id"], "2026-12-31T16:00:00Z")
    [discuss] = steps_of(body["next_steps"], "discuss_with_manager")
    assert (discuss["actor"], discuss["assignee_id"], discuss["due_at"]) == (
        "line_manager", "line_manager-1", "2027-01-01T16:00:00Z")
    pin(monkeypatch, 2026, 12, 31, 18, 0)
    await away(somerset, "line_manager-1", "2026-12-31", "2027-01-04")
    steps = await case_steps(somerset, case["id"])
    [discuss] = steps_of(steps, "discuss_with_manager")
    assert (discuss["actor"], discuss["assignee_id"], discuss["due_at"]) == (
        "duty_manager", None, "2027-01-01T16:00:00Z")
    assert discuss["policy"] == {**S, "ref": "3.1", "rule": "S5"}
    [plan] = steps_of(steps, "countersign_risk_plan")
    assert (plan["actor"], plan["assignee_id"]) == ("duty_manager", None)
    [review] = steps_of(steps, "monthly_manager_review")
    assert review["actor"] == "line_manager"
    moved = [e for e in await audit_of(somerset, case["id"]) if e["action"] == "step.reassign"]
    assert {e["entity_id"] for e in moved} == {discuss["id"], plan["id"]}


# --- 2. Somerset 7.1.3: the countersignature opens with the Review Stage --------------------


async def test_S18_countersign_opens_when_the_review_stage_is_submitted(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """S18 (7.1.3): "Should there be actions as an outcome from the MARP meeting; the case
    holder will complete a Review Stage to incorporate them into the current plan which will be
    countersigned by a line-manager." The MARP of Wednesday 30 September 2026 (month end)
    agrees an action: complete_review_stage opens, countersign_assessment does not (there is
    no Review Stage yet). The Review Stage submitted on Friday 2 October closes
    complete_review_stage and opens its countersignature for the line manager, no timescale,
    citing 7.1.3 (S4's reason beside it)."""
    case, r = await _marp_agrees_an_action(somerset, monkeypatch)
    assert steps_of(r.json()["next_steps"], "countersign_assessment") == []
    [stage] = steps_of(r.json()["next_steps"], "complete_review_stage")
    assert (stage["actor"], stage["policy"]["ref"]) == ("case_holder", "7.1.3")
    review = await draft(somerset, case["id"], stage="review",
                         occurred_at="2026-10-01T10:00:00+01:00")
    r = await submit(somerset, review["id"], "2026-10-02T11:00:00+01:00")
    assert r.status_code == 200, r.text
    assert steps_of(r.json()["next_steps"], "complete_review_stage") == []
    [sign] = steps_of(r.json()["next_steps"], "countersign_assessment")
    assert (sign["actor"], sign["assignee_id"], sign["due_at"], sign["subject_id"]) == (
        "line_manager", "line_manager-1", None, review["id"])
    assert sign["policy"] == {**S, "ref": "7.1.3", "rule": "S18"}


# --- 3. Somerset 3.2.3: the next MARP at or after the judgement, even one already sat ---------
# (attack 9, A9-6 overturns the earlier "MARP still to sit": every deadline counts from the
# triggering event's occurred_at, never the wall clock, so a back-filled judgement whose MARP
# has sat is overdue against it, and the timeliness report counts the referral late.)


async def test_S7_backdated_judgement_is_due_at_the_marp_after_it_even_if_sat(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """S7, S8 (3.2.3, 6.2): "The case holder will refer the case to the next YJT MARP". ROSH
    high judged on Thursday 20 August 2026, recorded on Tuesday 1 September (the day after the
    August bank holiday): the next MARP at or after the judgement is Wednesday 26 August
    (14:00 BST), which has sat: both steps are due then, overdue, not at the MARP of
    9 September."""
    pin(monkeypatch, 2026, 8, 19, 9, 0)
    case = (await somerset.open_case())["data"]
    await schedule(somerset.client, somerset, "2026-08-26T14:00:00+01:00")
    await schedule(somerset.client, somerset, "2026-09-09T14:00:00+01:00")
    pin(monkeypatch, 2026, 9, 1, 9, 0)
    body = await judge_high(somerset, case["id"], "2026-08-20T10:00:00+01:00")
    for code, rule, ref in (("refer_to_panel", "S7", "3.2.3, 3.2.4"),
                            ("seek_child_and_carer_views", "S8", "6.2")):
        [step] = steps_of(body["next_steps"], code)
        assert (step["actor"], step["due_at"], step["awaiting_panel_date"]) == (
            "case_holder", "2026-08-26T13:00:00Z", False)
        assert step["policy"] == {**S, "ref": ref, "rule": rule}


async def test_S7_panel_recorded_after_it_sat_dates_every_step_asked_for_before_it(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """S7 (3.2.3) twin: a MARP booked after the fact (it sat on Wednesday 26 August 2026, typed
    in on Tuesday 1 September). A referral owed since Monday 24 August (recorded then) and one
    recorded on 1 September for a judgement of 20 August were both owed before it sat: both are
    due at it."""
    pin(monkeypatch, 2026, 8, 24, 9, 0)
    early = (await somerset.open_case())["data"]
    await judge_high(somerset, early["id"], "2026-08-24T09:30:00+01:00")
    pin(monkeypatch, 2026, 9, 1, 9, 0)
    late = (await somerset.open_case())["data"]
    await judge_high(somerset, late["id"], "2026-08-20T10:00:00+01:00")
    await schedule(somerset.client, somerset, "2026-08-26T14:00:00+01:00")
    for case in (early, late):
        [owed] = steps_of(await case_steps(somerset, case["id"]), "refer_to_panel")
        assert (owed["actor"], owed["due_at"], owed["awaiting_panel_date"]) == (
            "case_holder", "2026-08-26T13:00:00Z", False)
        assert owed["policy"] == {**S, "ref": "3.2.3, 3.2.4", "rule": "S7"}


# --- 4. A re-dated step's deadline note is replaced, not appended under ---------------------


async def test_S7_booked_marp_replaces_none_scheduled_in_the_note(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """S7 (3.2.3): waiting for a MARP, the step says "none scheduled"; once the MARP of
    Wednesday 28 October 2026 (the first week on GMT) is booked, the note says when, and no
    longer that none is scheduled."""
    pin(monkeypatch, 2026, 10, 23, 9, 0)
    case = (await somerset.open_case())["data"]
    body = await judge_high(somerset, case["id"], "2026-10-23T09:30:00+01:00")
    [refer] = steps_of(body["next_steps"], "refer_to_panel")
    assert refer["note"] == "Due at the next Multi-Agency Risk Panel (MARP); none scheduled."
    await schedule(somerset.client, somerset, "2026-10-28T14:00:00Z")
    [refer] = steps_of(await case_steps(somerset, case["id"]), "refer_to_panel")
    assert (refer["due_at"], refer["awaiting_panel_date"]) == ("2026-10-28T14:00:00Z", False)
    assert refer["note"] == f"Next {MARP} scheduled for Wednesday 28 October 2026 14:00 (London)"
    assert refer["policy"] == {**S, "ref": "3.2.3, 3.2.4", "rule": "S7"}


def test_redated_note_keeps_history_and_replaces_deadline_notes() -> None:
    """A re-dated step keeps its rule's note and its history (a reassignment) and loses the
    deadline notes of its previous date, a deadline branch's included."""
    branch = "Category 2 (custody): due six months before release; not in custody."
    old = "\n".join(["Rule note.", branch, "Reassigned: case_holder changed from a to b",
                     "No deadline: the policy sets no timescale for this step."])
    assert redated_note(old, "Rule note.", {branch}) == (
        "Rule note.\nReassigned: case_holder changed from a to b")
    assert redated_note(f"Due at the next {MARP}; none scheduled.", None) is None
    assert redated_note(f"Next {MARP} scheduled for Wednesday 4 November 2026 14:00 (London)",
                        f"Next {MARP} scheduled for Wednesday 28 October 2026 14:00 (London)") == (
        f"Next {MARP} scheduled for Wednesday 28 October 2026 14:00 (London)")


# --- 5. A chair's overdue panel action escalates as a chair's duty --------------------------


async def test_S18_chairs_overdue_marp_action_escalates_to_the_chairs(
        factory: Any, somerset: Tenant) -> None:
    """S18 (7.1.2: "The panel meetings will be chaired by the YJT manager or operational
    manager"; 3.3: the YJT manager escalates): an action the MARP gives its own chair (chair-1,
    the panel's recorded chair), due Thursday 10 September 2026 and still open on Friday 11
    September, escalates to the chairs (``to.chair``), as the chair's CSPPI notification does,
    not to the case's line manager, junior to the chair."""
    await _chairs_action_escalates(factory, somerset)


async def test_W22_chairs_overdue_action_escalates_to_the_chairs(
        factory: Any, wokingham: Tenant) -> None:
    """W22 ("a multi-agency panel, chaired by the Team Manager"): the High-Risk Panel's action
    for its chair (chair-1), due Thursday 10 September 2026 and still open on Friday 11
    September, escalates to the chairs (``to.chair``), as the chair's serious-incident
    notification (W24) does, not to the case's line manager."""
    await _chairs_action_escalates(factory, wokingham)


async def _chairs_action_escalates(factory: Any, t: Tenant) -> None:
    """A panel decides one action for its chair, chair-1, due 10 September 2026; overdue on
    the 11th, its escalation is the chairs' (unassigned), citing the action's rule."""
    if t.pack == "wokingham-pyjs-2024":
        case_id, r = await _decide(t, "chair-1")
    else:
        case_id, r = await _marp_gives_its_chair_an_action(t)
    assert r.status_code == 200, r.text
    [action] = steps_of(r.json()["next_steps"], "panel_action")
    assert (action["actor"], action["assignee_id"], action["due_at"]) == (
        "action_owner", "chair-1", "2026-09-10T22:59:59Z")
    assert await tick(factory, t, datetime(2026, 9, 11, 9, 0, tzinfo=UTC)) >= 1
    [up] = [s for s in await case_steps(t, case_id)
            if s["code"] == "escalate_overdue_step" and s["subject_id"] == action["id"]]
    assert (up["actor"], up["assignee_id"], up["urgent"]) == ("chair", None, True)
    assert up["policy"]["rule"] == ("W22" if t.pack == "wokingham-pyjs-2024" else "S18")


@pytest.mark.parametrize("type_", ["fact_finding", "mini_asset"])
async def test_S18_only_an_AssetPlus_review_stage_completes_the_review_stage(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch, type_: str) -> None:
    """S18 (7.1.3): "the case holder will complete a Review Stage to incorporate them into the
    current plan"; 2.1: "All children supervised by the YJT on statutory orders, will have an
    AssetPlus assessment". After the MARP of Wednesday 30 September 2026 agrees an action, a
    Fact Finding (or another tool's) "review" submitted on Friday 2 October leaves
    complete_review_stage open for the case holder, citing 7.1.3 (attack pass 8, N11)."""
    case, r = await _marp_agrees_an_action(somerset, monkeypatch)
    [stage] = steps_of(r.json()["next_steps"], "complete_review_stage")
    other = await draft(somerset, case["id"], type_=type_, stage="review",
                        occurred_at="2026-10-01T10:00:00+01:00")
    r = await submit(somerset, other["id"], "2026-10-02T11:00:00+01:00")
    assert r.status_code == 200, r.text
    [still] = steps_of(r.json()["next_steps"], "complete_review_stage")
    assert (still["id"], still["actor"], still["policy"]["ref"]) == (
        stage["id"], "case_holder", "7.1.3")


async def test_S18_chairs_action_moved_off_by_a_restriction_escalates_as_the_holders(
        factory: Any, somerset: Tenant) -> None:
    """S18 (7.1.7: "Case holders will ensure any required actions are taken"): the MARP's
    action for its chair, chair-1, due Thursday 10 September 2026; the case is then restricted
    to exclude chair-1, so the action moves to the case holder. Overdue on Friday 11
    September, it escalates to the case's line manager as the case holder's action, not to
    the chairs as it was (attack pass 8, N10)."""
    case_id, r = await _marp_gives_its_chair_an_action(somerset)
    assert r.status_code == 200, r.text
    case = {"id": case_id}
    [action] = steps_of(r.json()["next_steps"], "panel_action")
    r = await patch_case(somerset, case["id"], {"access": {"excluded_staff": ["chair-1"]}})
    assert r.status_code == 200, r.text
    [moved] = [s for s in await case_steps(somerset, case["id"]) if s["id"] == action["id"]]
    assert moved["assignee_id"] == "case_holder-1"
    assert await tick(factory, somerset, datetime(2026, 9, 11, 9, 0, tzinfo=UTC)) >= 1
    [up] = [s for s in await case_steps(somerset, case["id"])
            if s["code"] == "escalate_overdue_step" and s["subject_id"] == action["id"]]
    assert (up["actor"], up["assignee_id"], up["urgent"]) == (
        "line_manager", "line_manager-1", True)
    assert up["policy"]["rule"] == "S18"


async def _marp_agrees_an_action(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> tuple[dict[str, Any], Any]:
    """A high case discussed at the MARP of Wednesday 30 September 2026, which agrees one action
    for the case holder, due Friday 9 October (decision recorded on 2 October): the case and
    the decision's answer."""
    pin(monkeypatch, 2026, 9, 28, 9, 0)
    case = (await somerset.open_case())["data"]
    await judge_high(somerset, case["id"], "2026-09-28T09:30:00+01:00")
    panel = await schedule(somerset.client, somerset, "2026-09-30T14:00:00+01:00")
    item = await add_item(somerset.client, somerset, panel["id"], case["id"])
    pin(monkeypatch, 2026, 10, 2, 12, 0)
    r = await somerset.client.post(
        f"/v1/panels/{panel['id']}/items/{item['id']}/decision",
        json={"rosh_level": "high", "review_date": "2026-10-28", "minutes": "Remains high",
              "actions": [{"description": "Safety plan with school", "owner_id": "case_holder-1",
                           "due_date": "2026-10-09"}],
              "occurred_at": "2026-09-30T15:00:00+01:00"},
        headers=somerset.auth("chair", "chair-1"))
    assert r.status_code == 200, r.text
    return case, r


async def _marp_gives_its_chair_an_action(t: Tenant) -> tuple[str, Any]:
    """A Somerset high case discussed at the MARP of Thursday 3 September 2026, which gives its
    chair, chair-1, one action due Thursday 10 September: the case id and the decision's
    answer."""
    case = (await t.open_case())["data"]
    await judge_high(t, case["id"], "2026-09-01T10:00:00+01:00")
    panel = await schedule(t.client, t, "2026-09-03T10:00:00+01:00")
    item = await add_item(t.client, t, panel["id"], case["id"])
    r = await t.client.post(
        f"/v1/panels/{panel['id']}/items/{item['id']}/decision",
        json={"rosh_level": "high", "review_date": "2026-10-01", "minutes": "Remains high",
              "actions": [{"description": "Ask the police for intelligence",
                           "owner_id": "chair-1", "due_date": "2026-09-10"}],
              "occurred_at": "2026-09-03T11:00:00+01:00"},
        headers=t.auth("chair", "chair-1"))
    return str(case["id"]), r


async def test_S5_the_case_line_manager_may_still_do_a_stood_in_discussion(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """S5 (3.1): "discussed as soon as practicable with the relevant line manager or duty
    manager (within 24 hours)". The discussion stood in to the duty manager while
    line_manager-1 is on leave (Friday 23 to Tuesday 27 October 2026) may still be recorded by
    line_manager-1 (back early, or taking the call): 200, where it was 403 (attack pass 8,
    N9). Another line manager does not see the step (404); the case holder is still 403."""
    pin(monkeypatch, 2026, 10, 24, 9, 5)
    case = (await somerset.open_case())["data"]
    await away(somerset, "line_manager-1", "2026-10-23", "2026-10-27")
    body = await judge_high(somerset, case["id"], "2026-10-24T10:00:00+01:00")
    [discuss] = steps_of(body["next_steps"], "discuss_with_manager")
    assert (discuss["actor"], discuss["assignee_id"]) == ("duty_manager", None)
    other = await complete(somerset, discuss["id"], "line_manager", "line_manager-2")
    assert other.status_code == 404, other.text  # not their case: not even seen
    holder = await complete(somerset, discuss["id"], "case_holder", "case_holder-1")
    assert holder.status_code == 403, holder.text
    done = await complete(somerset, discuss["id"], "line_manager", "line_manager-1")
    assert done.status_code == 200, done.text
    assert done.json()["data"]["status"] == "done"
    assert done.json()["data"]["completed_by"] == "line_manager-1"


async def test_S16_after_a_stood_in_discussion_on_an_allow_listed_case_reaches_the_duty_manager(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """S16 (2.2, 3.1): a duty manager who did the discussion "will advise the relevant line
    manager of the outcome". On a case restricted to its case holder and line manager, with
    the line manager on leave (Friday 23 to Tuesday 27 October 2026), duty_manager-3 (off the
    list) completes the stood-in S5; the S16 advice it raises is the duty managers' duty, not
    named to duty_manager-3, whom the restriction shuts out of named steps: they list it and
    complete it (attack pass 8, N13: it was named to them and 404)."""
    pin(monkeypatch, 2026, 10, 24, 9, 5)
    case = (await somerset.open_case())["data"]
    r = await patch_case(somerset, case["id"], {
        "access": {"allowed_staff": ["case_holder-1", "line_manager-1"]},
        "occurred_at": "2026-10-24T09:00:00+01:00"})
    assert r.status_code == 200, r.text
    await away(somerset, "line_manager-1", "2026-10-23", "2026-10-27")
    body = await judge_high(somerset, case["id"], "2026-10-24T10:00:00+01:00")
    [discuss] = steps_of(body["next_steps"], "discuss_with_manager")
    done = await complete(somerset, discuss["id"], "duty_manager", "duty_manager-3")
    assert done.status_code == 200, done.text
    dm = somerset.auth("duty_manager", "duty_manager-3")
    r = await somerset.client.get("/v1/next-steps", params={"actor": "duty_manager"},
                                  headers=dm)
    assert r.status_code == 200, r.text
    [advise] = [s for s in r.json()["data"] if s["code"] == "advise_line_manager"]
    assert (advise["actor"], advise["assignee_id"]) == ("duty_manager", None)
    assert advise["policy"] == {**S, "ref": "2.2, 3.1", "rule": "S16"}
    r = await complete(somerset, advise["id"], "duty_manager", "duty_manager-3")
    assert r.status_code == 200, r.text


async def test_S31_S33_line_manager_on_leave_the_duty_manager_signs_off_the_documentation(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """S31 (13.4.2 "The line manager will check all documentation and sign off relevant
    ASSETPLUS stage"), S33 (14.2.1 "It is the responsibility of line managers to ensure that
    documentation has been countersigned and transferred appropriately") and 3.1 "If the line
    manager is unavailable, the duty manager will undertake these functions". Attack pass 15,
    A15-12: with the line manager on leave from Monday 2 to Friday 13 November 2026, a transfer
    out on Monday 9 November (transfer Thursday 12th, the sign-off due at 00:00 that day) and a
    remand the same day left both sign-offs with the absent line manager. They go to the duty
    managers, unassigned, with the same deadlines; the case holder's own steps stay theirs."""
    pin(monkeypatch, 2026, 11, 9, 9, 0)
    case = (await somerset.open_case())["data"]
    await away(somerset, "line_manager-1", "2026-11-02", "2026-11-13")
    r = await somerset.client.post(f"/v1/cases/{case['id']}/events", json={
        "type": "transfer_out", "occurred_at": "2026-11-09T09:00:00Z",
        "transfer_date": "2026-11-12"}, headers=somerset.auth("case_holder"))
    assert r.status_code == 201, r.text
    [sign] = steps_of(r.json()["next_steps"], "sign_off_transfer_documentation")
    assert (sign["actor"], sign["assignee_id"], sign["due_at"], sign["policy"]) == (
        "duty_manager", None, "2026-11-12T00:00:00Z", {**S, "ref": "13.4.2", "rule": "S31"})
    [prepare] = steps_of(r.json()["next_steps"], "prepare_transfer_documentation")
    assert (prepare["actor"], prepare["assignee_id"]) == ("case_holder", "case_holder-1")
    other = (await somerset.open_case())["data"]
    r = await somerset.client.post(f"/v1/cases/{other['id']}/events", json={
        "type": "custody_entry", "occurred_at": "2026-11-09T09:00:00Z"},
        headers=somerset.auth("case_holder"))
    assert r.status_code == 201, r.text
    [sign] = steps_of(r.json()["next_steps"], "sign_off_transfer_documentation")
    assert (sign["actor"], sign["assignee_id"], sign["due_at"], sign["policy"]) == (
        "duty_manager", None, "2026-11-09T09:00:00Z", {**S, "ref": "14.2.1", "rule": "S33"})


async def test_S31_a_sign_off_surviving_the_closure_stands_in_when_the_line_manager_goes_on_leave(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """S31 (13.4.2 "The line manager will check all documentation and sign off relevant
    ASSETPLUS stage") and 3.1 "If the line manager is unavailable, the duty manager will
    undertake these functions". A transfer out recorded Monday 9 November 2026 (transfer on
    Thursday 12th); the case is closed that afternoon, the sign-off surviving the closure
    (attack pass 16, A16-7); the line manager's leave from that day to Friday 13 November is
    recorded after: the surviving sign-off goes to the duty managers like an open case's."""
    pin(monkeypatch, 2026, 11, 9, 9, 0)
    case = (await somerset.open_case())["data"]
    r = await somerset.client.post(f"/v1/cases/{case['id']}/events", json={
        "type": "transfer_out", "occurred_at": "2026-11-09T09:00:00Z",
        "transfer_date": "2026-11-12"}, headers=somerset.auth("case_holder"))
    assert r.status_code == 201, r.text
    [sign] = steps_of(r.json()["next_steps"], "sign_off_transfer_documentation")
    assert (sign["actor"], sign["assignee_id"]) == ("line_manager", "line_manager-1")
    pin(monkeypatch, 2026, 11, 9, 15, 0)
    tag = (await somerset.client.get(f"/v1/cases/{case['id']}",
                                     headers=somerset.auth("duty_manager"))).headers["etag"]
    r = await somerset.client.patch(f"/v1/cases/{case['id']}", json={
        "closed_at": "2026-11-09T15:00:00Z", "closure_reason": "transferred"},
        headers={**somerset.auth("line_manager"), "If-Match": tag})
    assert r.status_code == 200, r.text
    assert sign["id"] in {s["id"] for s in r.json()["next_steps"]}
    await away(somerset, "line_manager-1", "2026-11-09", "2026-11-13")
    r = await somerset.client.get(f"/v1/next-steps/{sign['id']}",
                                  headers=somerset.auth("duty_manager"))
    assert r.status_code == 200, r.text
    assert (r.json()["data"]["actor"], r.json()["data"]["assignee_id"],
            r.json()["data"]["status"]) == ("duty_manager", None, "open")
