"""Conflicting acts raced: of two, exactly one wins; the loser gets 409 conflicting-transition.

Each pair is raced ``ROUNDS`` times with ``asyncio.gather`` (each request in its own session, so
on its own database connection), on SQLite and on PostgreSQL (``YJ_TEST_DB=postgres``). After
the rounds, the stored records, their steps and the audit trail must tell the same story as the
answers: the winner's act happened once, the loser's not at all.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.api.integrity_support import assert_problem, audit_of, etag, judge, steps_of
from tests.api.support import sitting_days
from tests.conftest import Tenant

ROUNDS = 20
# A MARP each round, on the working days of June 2026 from Monday 1 June.
JUNE_SITTINGS = sitting_days(date(2026, 6, 1), ROUNDS)


def one_winner(answers: list[httpx.Response], loser_status: int = 409) -> int:
    """Exactly one 200; the other is the loser's problem. The winner's index."""
    statuses = [r.status_code for r in answers]
    assert sorted(statuses) == sorted([200, loser_status]), [r.text for r in answers]
    loser = answers[statuses.index(loser_status)]
    body = assert_problem(loser, loser_status)
    if loser_status == 409:
        assert body["type"].endswith("/conflicting-transition"), body
        assert body["current_status"]
    return statuses.index(200)


def actions_on(audit: list[dict[str, Any]], entity_id: str) -> list[str]:
    """The audited actions on one record, in order."""
    return [e["action"] for e in audit if e["entity_id"] == entity_id]


# --- assessments ----------------------------------------------------------------------------

async def _assessment(t: Tenant, case_id: str, submit: bool = True) -> str:
    r = await t.client.post(f"/v1/cases/{case_id}/assessments",
                            json={"type": "asset_plus", "stage": "review"},
                            headers=t.auth("case_holder"))
    assert r.status_code == 201, r.text
    assessment_id: str = r.json()["data"]["id"]
    if submit:
        r = await t.client.post(f"/v1/assessments/{assessment_id}/submit", json={},
                                headers=t.auth("case_holder"))
        assert r.status_code == 200, r.text
    return assessment_id


def _assessment_act(t: Tenant, assessment_id: str, action: str, role: str
                    ) -> Awaitable[httpx.Response]:
    body = {} if action == "submit" else {"feedback": f"{action} by {role}"}
    return t.client.post(f"/v1/assessments/{assessment_id}/{action}", json=body,
                         headers=t.auth(role))


async def _race_assessments(t: Tenant, first: tuple[str, str], second: tuple[str, str],
                            submitted: bool) -> str:
    case = (await t.open_case())["data"]
    won: dict[str, tuple[str, str]] = {}
    for _ in range(ROUNDS):
        assessment_id = await _assessment(t, case["id"], submit=submitted)
        answers = list(await asyncio.gather(
            _assessment_act(t, assessment_id, *first),
            _assessment_act(t, assessment_id, *second),
        ))
        won[assessment_id] = (first, second)[one_winner(answers)]
    r = await t.client.get(f"/v1/cases/{case['id']}/assessments", headers=t.auth("case_holder"))
    stored = {a["id"]: a for a in r.json()["data"]}
    audit = await audit_of(t, case["id"])
    # A later submission on the case closes an earlier resubmit step: look in every status.
    resubmits = [s["subject_id"] for status in ("open", "done", "superseded")
                 for s in await steps_of(t, case["id"], status)
                 if s["code"] == "resubmit_assessment"]
    final = {"submit": "submitted", "countersign": "countersigned", "return": "returned"}
    for assessment_id, (action, role) in won.items():
        record = stored[assessment_id]
        assert record["status"] == final[action]
        assert (record["countersigned_by"] is not None) == (action == "countersign")
        if action == "countersign":
            assert record["countersigned_by"] == f"{role}-1"
        moves = [e["action"] for e in record["history"]]
        expected = ["create", "submit", action] if submitted else ["create", action]
        assert moves == expected
        assert actions_on(audit, assessment_id) == [f"assessment.{m}" for m in expected]
        assert resubmits.count(assessment_id) == (action == "return")
    return str(case["id"])


async def test_race_countersign_against_return(somerset: Tenant) -> None:
    """The line manager countersigns while a duty manager returns it: one of them wins."""
    await _race_assessments(somerset, ("countersign", "line_manager"),
                            ("return", "duty_manager"), submitted=True)


async def test_race_countersign_against_countersign(somerset: Tenant) -> None:
    """The line manager and a duty manager countersign at once: one countersignature."""
    await _race_assessments(somerset, ("countersign", "line_manager"),
                            ("countersign", "duty_manager"), submitted=True)


async def test_race_submit_against_submit(somerset: Tenant) -> None:
    """A double submission: one countersign_assessment step, one audit entry."""
    case_id = await _race_assessments(somerset, ("submit", "case_holder"),
                                      ("submit", "case_holder"), submitted=False)
    countersigns = [s["subject_id"] for s in await steps_of(somerset, case_id)
                    if s["code"] == "countersign_assessment"]
    assert len(countersigns) == len(set(countersigns)) == ROUNDS


# --- referrals ------------------------------------------------------------------------------

REFERRAL_SETUP = {"draft": (), "submitted": ("submit",), "sent": ("submit", "send")}
REFERRAL_TO = {"submit": "submitted", "quality-assure": "quality_assured", "send": "sent",
               "accept": "accepted", "decline": "declined", "withdraw": "withdrawn"}


async def _referral(t: Tenant, case_id: str, kind: str, state: str) -> str:
    r = await t.client.post(f"/v1/cases/{case_id}/referrals", json={"kind": kind},
                            headers=t.auth("case_holder"))
    assert r.status_code == 201, r.text
    referral_id: str = r.json()["data"]["id"]
    for action in REFERRAL_SETUP[state]:
        r = await t.client.post(f"/v1/referrals/{referral_id}/{action}", json={},
                                headers=t.auth("case_holder"))
        assert r.status_code == 200, r.text
    return referral_id


@pytest.mark.parametrize(
    ("kind", "state", "first", "second"),
    [
        ("nrm", "draft", ("submit", "case_holder"), ("submit", "line_manager")),
        ("mappa_h", "submitted", ("quality-assure", "line_manager"),
         ("quality-assure", "duty_manager")),
        ("nrm", "submitted", ("send", "case_holder"), ("send", "line_manager")),
        ("nrm", "sent", ("accept", "line_manager"), ("decline", "chair")),
        ("nrm", "sent", ("accept", "chair"), ("withdraw", "case_holder")),
        ("nrm", "sent", ("decline", "line_manager"), ("withdraw", "case_holder")),
    ],
    ids=["submit-submit", "quality_assure-quality_assure", "send-send", "accept-decline",
         "accept-withdraw", "decline-withdraw"],
)
async def test_race_referral_transitions(
    wokingham: Tenant, kind: str, state: str, first: tuple[str, str], second: tuple[str, str]
) -> None:
    """Every referral action raced against one it excludes (the same act twice, or two
    outcomes): one move, never both."""
    case = (await wokingham.open_case())["data"]
    won: dict[str, str] = {}
    for _ in range(ROUNDS):
        referral_id = await _referral(wokingham, case["id"], kind, state)
        answers = list(await asyncio.gather(*[
            wokingham.client.post(f"/v1/referrals/{referral_id}/{action}",
                                  json={"note": f"{action} in a race"},
                                  headers=wokingham.auth(role))
            for action, role in (first, second)
        ]))
        won[referral_id] = (first, second)[one_winner(answers)][0]
    r = await wokingham.client.get(f"/v1/cases/{case['id']}/referrals",
                                   headers=wokingham.auth("case_holder"))
    stored = {x["id"]: x for x in r.json()["data"]}
    audit = await audit_of(wokingham, case["id"])
    for referral_id, action in won.items():
        record = stored[referral_id]
        assert record["status"] == REFERRAL_TO[action]
        moves = [h["action"] for h in record["history"]]
        assert moves == ["create", *REFERRAL_SETUP[state], action]
        assert actions_on(audit, referral_id) == [f"referral.{m}" for m in moves]


# --- steps ----------------------------------------------------------------------------------

async def _incident_steps(t: Tenant, case_id: str) -> list[str]:
    """One record_incident step (W4) per new incident, ROUNDS of them."""
    ids = []
    for _ in range(ROUNDS):
        r = await t.client.post(f"/v1/cases/{case_id}/events", json={"type": "new_incident"},
                                headers=t.auth("case_holder"))
        assert r.status_code == 201, r.text
        event_id = r.json()["data"]["id"]
        ids += [s["id"] for s in r.json()["next_steps"]
                if s["code"] == "record_incident" and s["subject_id"] == event_id]
    assert len(ids) == ROUNDS
    return ids


Act = Callable[[Tenant, str], Awaitable[httpx.Response]]


def _complete(t: Tenant, step_id: str) -> Awaitable[httpx.Response]:
    return t.client.post(f"/v1/next-steps/{step_id}/complete", json={"note": "done"},
                         headers=t.auth("case_holder"))


def _waive(t: Tenant, step_id: str) -> Awaitable[httpx.Response]:
    return t.client.post(f"/v1/next-steps/{step_id}/waive", json={"reason": "not needed"},
                         headers=t.auth("line_manager"))


@pytest.mark.parametrize(("first", "second"), [("done", "done"), ("done", "waived")],
                         ids=["complete-complete", "complete-waive"])
async def test_race_step_completion(wokingham: Tenant, first: str, second: str) -> None:
    """A step completed twice at once, or completed while a manager waives it: once only."""
    acts: dict[str, Act] = {"done": _complete, "waived": _waive}
    case = (await wokingham.open_case())["data"]
    won: dict[str, str] = {}
    for step_id in await _incident_steps(wokingham, case["id"]):
        answers = list(await asyncio.gather(acts[first](wokingham, step_id),
                                            acts[second](wokingham, step_id)))
        won[step_id] = (first, second)[one_winner(answers)]
    audit = await audit_of(wokingham, case["id"])
    closed = {s["id"]: s for status in ("done", "waived")
              for s in await steps_of(wokingham, case["id"], status)}
    for step_id, status in won.items():
        assert closed[step_id]["status"] == status
        assert [a for a in actions_on(audit, step_id) if a != "step.create"] == [f"step.{status}"]


# --- panel decisions ------------------------------------------------------------------------

async def test_race_panel_decisions(somerset: Tenant) -> None:
    """Two chairs record a decision on the same item at once: one decision stands. (A case is
    on a panel's agenda once, A11-8: each round is another MARP's item.)"""
    case = (await somerset.open_case())["data"]
    await judge(somerset, case["id"], "rosh", "high", "2026-05-20T10:00:00+01:00")
    won: dict[str, str] = {}
    panels = []
    for n in range(ROUNDS):
        r = await somerset.client.post("/v1/panels", json={
            "kind": "marp", "scheduled_for": f"{JUNE_SITTINGS[n]}T10:00:00+01:00",
            "chair_id": "chair-1"}, headers=somerset.auth("chair"))
        assert r.status_code == 201, r.text
        panel_id = r.json()["data"]["id"]
        panels.append(panel_id)
        r = await somerset.client.post(f"/v1/panels/{panel_id}/items", json={
            "case_id": case["id"], "presenter_id": "line_manager-1"},
            headers=somerset.auth("chair"))
        assert r.status_code == 201, r.text
        item_id = r.json()["data"]["id"]
        answers = list(await asyncio.gather(*[
            somerset.client.post(f"/v1/panels/{panel_id}/items/{item_id}/decision", json={
                "minutes": f"Decided by {chair}", "review_date": "2027-01-15",
                "rosh_level": "high"},
                headers=somerset.auth("chair", chair))
            for chair in ("chair-1", "chair-2")
        ]))
        won[item_id] = ("chair-1", "chair-2")[one_winner(answers)]
    audit = await audit_of(somerset, case["id"])
    for panel_id in panels:
        panel = (await somerset.client.get(f"/v1/panels/{panel_id}",
                                           headers=somerset.auth("chair"))).json()["data"]
        for item in panel["items"]:
            assert item["decided_by"] == won[item["id"]]
            assert item["decision"]["minutes"] == f"Decided by {won[item['id']]}"
            assert actions_on(audit, item["id"]) == ["panel.item.add", "panel.decision"]
    assert len(won) == ROUNDS


# --- case PATCH -----------------------------------------------------------------------------

async def test_race_close_against_reassign(somerset: Tenant) -> None:
    """Closing and reassigning a case from the same read (same If-Match): the first wins and
    the other is 412, the contract's answer for a stale ETag; nothing of it is stored."""
    for _ in range(ROUNDS):
        case = (await somerset.open_case())["data"]
        url = f"/v1/cases/{case['id']}"
        answers = list(await asyncio.gather(
            somerset.client.patch(url, json={"closed_at": "2026-06-30T16:00:00+01:00",
                                             "closure_reason": "Order completed"},
                                  headers={**somerset.auth("line_manager"), "If-Match": '"1"'}),
            somerset.client.patch(url, json={"case_holder_id": "case_holder-2"},
                                  headers={**somerset.auth("duty_manager"), "If-Match": '"1"'}),
        ))
        closed = one_winner(answers, 412) == 0
        stored = (await somerset.client.get(url, headers=somerset.auth("duty_manager"))
                  ).json()["data"]
        assert (stored["closed_at"] is not None) == closed
        assert stored["case_holder_id"] == ("case_holder-1" if closed else "case_holder-2")
        assert stored["version"] == 2
        updates = [e for e in await audit_of(somerset, case["id"])
                   if e["action"] in ("case.update", "case.close")]
        assert [e["action"] for e in updates] == (["case.close", "case.update"] if closed
                                                  else ["case.update"])


async def test_race_reassignment_against_the_old_holder_completing(somerset: Tenant) -> None:
    """The case holder changes while the old holder completes one of their steps. The PATCH
    always wins its round; the completion either came first (done by the old holder, nothing
    left to move) or is refused with 404 (re-checked under the lock: the step and the case
    are the new holder's now), never a step completed by someone who no longer holds it."""
    first = 0
    for _ in range(ROUNDS):
        case = (await somerset.open_case())["data"]
        body = await judge(somerset, case["id"], "rosh", "high", "2026-06-01T10:00:00+01:00")
        # A step done by hand (the MARP referral is done only by the referral: A9-13).
        refer = next(s for s in body["next_steps"] if s["code"] == "update_intervention_plan")
        tag = await etag(somerset, case["id"])
        patch, done = await asyncio.gather(
            somerset.client.patch(f"/v1/cases/{case['id']}",
                                  json={"case_holder_id": "case_holder-2"},
                                  headers={**somerset.auth("line_manager"), "If-Match": tag}),
            somerset.client.post(f"/v1/next-steps/{refer['id']}/complete", json={},
                                 headers=somerset.auth("case_holder")),
        )
        if patch.status_code == 412:
            # The completion came first and moved the case's ETag (its open steps changed:
            # A20-5); the manager's PATCH read before it is refused, nothing moved.
            assert done.status_code == 200, done.text
            patch = await somerset.client.patch(
                f"/v1/cases/{case['id']}", json={"case_holder_id": "case_holder-2"},
                headers={**somerset.auth("line_manager"),
                         "If-Match": await etag(somerset, case["id"])})
        assert patch.status_code == 200, patch.text
        moved = {s["id"] for s in patch.json()["reassigned_steps"]}
        steps = {s["id"]: s for status in ("open", "done")
                 for s in await steps_of(somerset, case["id"], status)}
        if done.status_code == 200:
            first += 1
            assert refer["id"] not in moved
            assert steps[refer["id"]]["status"] == "done"
            assert steps[refer["id"]]["completed_by"] == "case_holder-1"
        else:
            assert_problem(done, 404)
            assert refer["id"] in moved
            assert steps[refer["id"]]["status"] == "open"
            assert steps[refer["id"]]["assignee_id"] == "case_holder-2"
    assert 0 <= first <= ROUNDS


async def test_race_panel_scheduling_against_closing_a_waiting_case(somerset: Tenant) -> None:
    """S7's "refer to the next MARP" waits for a panel date; scheduling a MARP gives waiting
    steps its date. Scheduling races the line manager closing the case: the scheduling locks
    each waiting case before re-dating its steps. The referral and the views for it (3.2.3,
    6.2) are duties no manager may waive, so the closure is refused whichever comes first (409
    ``mandatory-steps-open``, A9-9) and the steps stay open. Never an
    open step on a closed case, never a 500."""
    first = datetime(2026, 6, 1, 10, 0, tzinfo=UTC)
    for round_ in range(ROUNDS // 2):
        # Each round's judgement falls after every panel of the rounds before, so its step waits.
        judged_at = first + timedelta(days=7 * round_)
        case = (await somerset.open_case())["data"]
        judged = await judge(somerset, case["id"], "rosh", "high", judged_at.isoformat())
        assert [s["awaiting_panel_date"] for s in judged["next_steps"]
                if s["code"] == "refer_to_panel"] == [True]
        url = f"/v1/cases/{case['id']}"
        version = await etag(somerset, case["id"])
        sits = judged_at + timedelta(days=2)
        answers = list(await asyncio.gather(
            somerset.client.post("/v1/panels", headers=somerset.auth("panel_admin"), json={
                "kind": "marp", "chair_id": "chair-1", "scheduled_for": sits.isoformat()}),
            somerset.client.patch(url, json={
                "closed_at": (judged_at + timedelta(hours=1)).isoformat(),
                "closure_reason": "Transferred out"},
                                  headers={**somerset.auth("line_manager"), "If-Match": version}),
        ))
        # The closure is refused: 409 when it came first, or 412 when the scheduling did
        # (re-dating the waiting steps moved the case's ETag: A20-5).
        assert [a.status_code for a in answers][0] == 201, answers[0].text
        assert answers[1].status_code in (409, 412), answers[1].text
        if answers[1].status_code == 409:
            assert answers[1].json()["type"].endswith("/mandatory-steps-open")
        waiting = sorted(s["code"] for s in await steps_of(somerset, case["id"])
                         if s["code"] in ("refer_to_panel", "seek_child_and_carer_views"))
        assert waiting == ["refer_to_panel", "seek_child_and_carer_views"]


# --- creates by one external reference ------------------------------------------------------

async def test_race_creates_with_one_external_ref(somerset: Tenant) -> None:
    """Four POSTs of a new case with the same IYSS reference at once, 5 rounds: one 201, the
    others the documented 409 duplicate-external-ref naming the case made (they were a bare
    409 ``conflict`` from the database's unique index)."""
    for round_ in range(5):
        body = {"child": {"given_name": "Sam", "family_name": "Taylor",
                          "date_of_birth": "2010-05-01"},
                "case_holder_id": "case_holder-1", "line_manager_id": "line_manager-1",
                "intervention": "court_order", "csc_status": "none",
                "external_ref": {"system": "IYSS", "id": f"RACE-{round_}"}}
        answers = list(await asyncio.gather(*(
            somerset.client.post("/v1/cases", json=body,
                                 headers=somerset.auth("line_manager", "line_manager-1"))
            for _ in range(4))))
        assert sorted(r.status_code for r in answers) == [201, 409, 409, 409], \
            [r.text for r in answers]
        made = next(r for r in answers if r.status_code == 201).json()["data"]["id"]
        for r in answers:
            if r.status_code == 409:
                problem = assert_problem(r, 409)
                assert problem["type"].endswith("/duplicate-external-ref")
                assert problem["existing_case_id"] == made
