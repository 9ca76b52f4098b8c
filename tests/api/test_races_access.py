"""Access changed under a racing act (attack A, H2 and H3): a reassignment or a restriction of
the case races with an act by the person it shuts out. The access check of every write is made
after the case's lock, so of the two exactly one wins: either the act came first (and the
PATCH, sent with the case's ETag read before the act, is 412: the act moved the case's ETag,
attack 20's A20-5, so the manager decides again on the case as it now is) or it is refused with
404 (the actor may no longer see the case), never a 200 that carries case data to someone
excluded.

Each pair is raced ``ROUNDS`` times with ``asyncio.gather`` (each request on its own database
connection), on SQLite and PostgreSQL (``YJ_TEST_DB=postgres``); afterwards the stored step,
the audit trail and the answers must agree.
"""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any

from tests.api.integrity_support import assert_problem, audit_of, etag, judge, steps_of
from tests.api.support import sitting_days
from tests.conftest import Tenant

ROUNDS = 20
# A MARP each round, on the working days of June 2026 from Monday 1 June.
JUNE_SITTINGS = sitting_days(date(2026, 6, 1), ROUNDS)


def _by_id(steps: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {s["id"]: s for s in steps}


async def _all_steps(t: Tenant, case_id: str) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for status in ("open", "done", "waived", "superseded"):
        found.update(_by_id(await steps_of(t, case_id, status)))
    return found


async def test_race_reassignment_against_the_old_holder_completing_their_step(
        somerset: Tenant) -> None:
    """The line manager moves the case to case_holder-2 while case_holder-1 completes
    inform_child_and_carer. Exactly one wins: either the completion came first (done by
    case_holder-1; the PATCH, sent with the ETag read before it, is 412 and moves nothing) or
    the reassignment did (the completion is 404 and the step is open with case_holder-2); the
    audit shows step.done only when the completion won, and never after the reassignment."""
    wins = 0
    for _ in range(ROUNDS):
        case = (await somerset.open_case())["data"]
        body = await judge(somerset, case["id"], "rosh", "high", "2026-06-01T10:00:00+01:00")
        step = next(s for s in body["next_steps"] if s["code"] == "inform_child_and_carer")
        tag = await etag(somerset, case["id"])
        patch, done = await asyncio.gather(
            somerset.client.patch(f"/v1/cases/{case['id']}",
                                  json={"case_holder_id": "case_holder-2"},
                                  headers={**somerset.auth("line_manager"), "If-Match": tag}),
            somerset.client.post(f"/v1/next-steps/{step['id']}/complete", json={"note": "x"},
                                 headers=somerset.auth("case_holder")),
        )
        stored = (await _all_steps(somerset, case["id"]))[step["id"]]
        audit = [(e["action"], e["entity_id"]) for e in await audit_of(somerset, case["id"])]
        if done.status_code == 200:
            wins += 1
            assert_problem(patch, 412)
            assert stored["status"] == "done"
            assert stored["completed_by"] == "case_holder-1"
            assert ("case.update", case["id"]) not in audit
            assert stored["assignee_id"] == "case_holder-1"
        else:
            assert patch.status_code == 200, patch.text
            moved = {s["id"] for s in patch.json()["reassigned_steps"]}
            assert_problem(done, 404)
            assert step["id"] in moved
            assert stored["status"] == "open"
            assert stored["assignee_id"] == "case_holder-2"
            assert ("step.done", step["id"]) not in audit
    assert 0 <= wins <= ROUNDS


async def test_race_restriction_against_the_excluded_duty_manager_completing(
        somerset: Tenant) -> None:
    """The line manager excludes duty_manager-7 from the case while duty_manager-7 completes
    (covering) a line manager's step. Exactly one wins: either the completion came first (done
    by duty_manager-7; the restriction, sent with the ETag read before it, is 412 and not made)
    or the restriction did (the completion is 404); an excluded duty manager never gets a 200
    carrying the case's steps after the restriction."""
    for _ in range(ROUNDS):
        case = (await somerset.open_case())["data"]
        body = await judge(somerset, case["id"], "rosh", "high", "2026-06-01T10:00:00+01:00")
        step = next(s for s in body["next_steps"] if s["actor"] == "line_manager")
        tag = await etag(somerset, case["id"])
        patch, done = await asyncio.gather(
            somerset.client.patch(f"/v1/cases/{case['id']}",
                                  json={"access": {"excluded_staff": ["duty_manager-7"]}},
                                  headers={**somerset.auth("line_manager"), "If-Match": tag}),
            somerset.client.post(f"/v1/next-steps/{step['id']}/complete", json={"note": "x"},
                                 headers=somerset.auth("duty_manager", "duty_manager-7")),
        )
        stored = (await _all_steps(somerset, case["id"]))[step["id"]]
        audit = [(e["action"], e["entity_id"]) for e in await audit_of(somerset, case["id"])]
        if done.status_code == 200:
            assert_problem(patch, 412)
            assert stored["status"] == "done"
            assert stored["completed_by"] == "duty_manager-7"
            assert ("case.restrict", case["id"]) not in audit
        else:
            assert patch.status_code == 200, patch.text
            assert_problem(done, 404)
            assert stored["status"] == "open"
            assert ("step.done", step["id"]) not in audit


async def test_race_restriction_against_the_excluded_chair_deciding(somerset: Tenant) -> None:
    """The line manager excludes chair-7 from a case on the MARP agenda while chair-7 records
    the panel's decision on its item. Either the decision came first (the item decided by
    chair-7; the restriction, sent with the ETag read before it, is 412: the decision moved the
    case's ETag, A20-5) or the restriction is refused while chair-7 still has the decision to
    record (422 restriction-shuts-out-chair, A12-7) and the decision is recorded after it;
    never a restriction that leaves the item undecidable."""
    case = (await somerset.open_case())["data"]
    await judge(somerset, case["id"], "rosh", "high", "2026-05-20T10:00:00+01:00")
    for n in range(ROUNDS):
        # Another MARP each round: a case is on a panel's agenda once (A11-8).
        r = await somerset.client.post("/v1/panels", json={
            "kind": "marp", "scheduled_for": f"{JUNE_SITTINGS[n]}T10:00:00+01:00",
            "chair_id": "chair-7"}, headers=somerset.auth("chair"))
        assert r.status_code == 201, r.text
        panel_id = r.json()["data"]["id"]
        tag = await etag(somerset, case["id"])
        lift = await somerset.client.patch(
            f"/v1/cases/{case['id']}", json={"access": None},
            headers={**somerset.auth("line_manager"), "If-Match": tag})
        assert lift.status_code == 200, lift.text
        r = await somerset.client.post(f"/v1/panels/{panel_id}/items", json={
            "case_id": case["id"], "presenter_id": "line_manager-1"},
            headers=somerset.auth("chair"))
        assert r.status_code == 201, r.text
        item_id = r.json()["data"]["id"]
        tag = await etag(somerset, case["id"])
        patch, decided = await asyncio.gather(
            somerset.client.patch(f"/v1/cases/{case['id']}",
                                  json={"access": {"excluded_staff": ["chair-7"]}},
                                  headers={**somerset.auth("line_manager"), "If-Match": tag}),
            somerset.client.post(f"/v1/panels/{panel_id}/items/{item_id}/decision",
                                 json={"minutes": "Decided", "review_date": "2027-01-15",
                                       "rosh_level": "high"},
                                 headers=somerset.auth("chair", "chair-7")),
        )
        assert decided.status_code == 200, decided.text
        audit = [(e["action"], e["entity_id"]) for e in await audit_of(somerset, case["id"])]
        panel = (await somerset.client.get(f"/v1/panels/{panel_id}",
                                           headers=somerset.auth("chair"))).json()["data"]
        item = next(i for i in panel["items"] if i["id"] == item_id)
        assert item["decided_by"] == "chair-7"
        after = audit[audit.index(("panel.decision", item_id)):]
        assert ("case.restrict", case["id"]) not in after  # nor one after it
        if patch.status_code == 412:  # the decision came first and moved the case's ETag
            assert_problem(patch, 412)
        else:  # the restriction came first, while chair-7 still had the decision to record
            refused = assert_problem(patch, 422)
            assert refused["type"].endswith("/restriction-shuts-out-chair")
