"""Closing and reopening a case: managers' acts with reasons; reopening re-runs the policy.

Closing supersedes every open step (a closed case is no longer managed here, and off the
register: Somerset 9), marked as closed by the closure. Reopening reinstates those steps as they
were (original deadlines: a close and reopen never launders an overdue step; see
test_closure_laundering.py), then runs the service's pack for the case's current state (ratings,
register, MAPPA fields) with the reopening as the event: every step mandated now and not open is
opened, once, with its deadline counted from the reopening.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from tests.api.integrity_support import (
    WOKINGHAM,
    assert_problem,
    audit_of,
    closing_asset_plus,
    codes,
    judge,
    outbox_types,
    patch_case,
    refer_to_marp,
    steps_of,
    the_step,
)
from tests.conftest import Tenant

CLOSE = {"closed_at": "2026-09-10T16:00:00+01:00", "closure_reason": "Order completed"}
REOPEN = {"closed_at": None, "reopen_reason": "Breach: returned to court",
          "occurred_at": "2026-09-15T10:00:00+01:00"}
# Somerset, ROSH high (S5, S6, S11-S13): what the policy mandates for the case as it stands. Not
# S7 or S8: the case's MARP referral, submitted with the views, stands and no MARP has decided on
# it yet, so the reopening does not ask for it again (panel7's leftover; it used to).
SOMERSET_HIGH = ["countersign_risk_plan", "discuss_register_monthly", "discuss_with_manager",
                 "inform_child_and_carer", "monthly_manager_review", "update_intervention_plan"]


async def high_case(t: Tenant) -> dict[str, Any]:
    """A case with ROSH high recorded on 1 September 2026 and referred to the MARP the same day
    (3.2.3, 6.2: duties no manager may waive, which a closure may not set aside: A9-9)."""
    case = (await t.open_case(opened_at="2026-09-01T09:00:00+01:00"))["data"]
    await judge(t, case["id"], "rosh", "high", "2026-09-01T11:00:00+01:00")
    await refer_to_marp(t, case["id"], "2026-09-01T12:00:00+01:00")
    return case


@pytest.mark.parametrize("body", [CLOSE, REOPEN], ids=["close", "reopen"])
async def test_case_holder_may_not_close_or_reopen(somerset: Tenant, body: dict) -> None:
    """Closing and reopening are managers' acts: the case holder gets 403."""
    case = await high_case(somerset)
    if body is REOPEN:
        assert (await patch_case(somerset, case["id"], CLOSE)).status_code == 200
    assert_problem(await patch_case(somerset, case["id"], body, role="case_holder"), 403)


@pytest.mark.parametrize(
    ("body", "loc"),
    [({"closed_at": "2026-09-10T16:00:00+01:00"}, "body.closure_reason"),
     ({"closure_reason": "Order completed"}, "body.closed_at"),
     ({"closed_at": None}, "body.reopen_reason"),
     ({"reopen_reason": "Breach", "occurred_at": "2026-09-15T10:00:00+01:00"}, "body.closed_at"),
     ({"closed_at": None, "reopen_reason": "Breach", "closure_reason": "x"},
      "body.closure_reason")],
    ids=["close-without-reason", "close-reason-without-closed-at", "reopen-without-reason",
         "reopen-reason-without-closed-at", "closure-reason-with-reopening"],
)
async def test_closing_and_reopening_need_their_reason(
    somerset: Tenant, body: dict, loc: str
) -> None:
    """A closure carries closed_at with closure_reason, a reopening closed_at: null with
    reopen_reason: the 422 names the field that is missing, and a reason given without closed_at
    names closed_at, not the reason (ATTACK27-6: "order ended" without closed_at was told that
    closing needs its reason)."""
    case = await high_case(somerset)
    if "reopen_reason" in body or body.get("closed_at", "x") is None:
        assert (await patch_case(somerset, case["id"], CLOSE)).status_code == 200
    problem = assert_problem(await patch_case(somerset, case["id"], body), 422)
    assert [e["loc"] for e in problem["errors"]] == [loc]
    missing = loc.removeprefix("body.")
    assert missing in problem["detail"]
    assert "each need their reason" not in problem["detail"]


async def test_closure_reason_alone_on_a_closed_case_is_a_conflict(somerset: Tenant) -> None:
    """A closure reason sent alone to a case already closed: 409 with the case's state, as
    closing it again would be (not a 422 asking for the closed_at that would then conflict)."""
    case = await high_case(somerset)
    assert (await patch_case(somerset, case["id"], CLOSE)).status_code == 200
    problem = assert_problem(
        await patch_case(somerset, case["id"], {"closure_reason": "Order completed"}), 409)
    assert problem["current_status"] == "closed"


@pytest.mark.parametrize(("role", "sub"), [("line_manager", "line_manager-1"),
                                           ("duty_manager", "dm-pat"), ("chair", "chair-ann")])
async def test_reopening_opens_every_mandated_step_once(
    settings: Any, somerset: Tenant, role: str, sub: str
) -> None:
    """The issue's reproduction: closed then reopened, the ROSH-high case is back on the
    register with every step its policy mandates, once: the steps open at the closure keep
    their original deadlines (S5 24h after the judgement, S11 a month after it, S1 four weeks
    after the opening: both acts are dated back and recorded now, so no clock stopped); both
    acts are audited with their reasons and announced."""
    case = await high_case(somerset)
    closed = await patch_case(somerset, case["id"], CLOSE, role=role, sub=sub)
    assert closed.status_code == 200, closed.text
    assert closed.json()["next_steps"] == []
    assert closed.json()["data"]["on_register"] is False
    r = await patch_case(somerset, case["id"], REOPEN, role=role, sub=sub)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["data"]["closed_at"] is None
    assert body["data"]["on_register"] is True
    mandated = [c for c in codes(body["next_steps"]) if c != "advise_line_manager"]
    assert mandated == sorted(["complete_assessment", *SOMERSET_HIGH])
    assert codes(await steps_of(somerset, case["id"])) == codes(body["next_steps"])
    discuss = the_step(body["next_steps"], "discuss_with_manager")
    assert discuss["due_at"] == "2026-09-02T10:00:00Z"  # +24h from the judgement
    assert discuss["assignee_id"] == "line_manager-1"
    assert discuss["policy"] == {"pack": "somerset-yjt-2023", "version": "1",
                                 "ref": "3.1", "rule": "S5"}
    # Closed and reopened dated in September but both recorded now (December): a closure stops
    # no clock before it was recorded (attack pass 16, A16-20), so nothing moves.
    review = the_step(body["next_steps"], "monthly_manager_review")
    assert review["due_at"] == "2026-10-01T10:00:00Z"
    assert the_step(body["next_steps"], "inform_child_and_carer")["assignee_id"] == \
        "case_holder-1"
    # S16: a duty manager acting for the line manager must advise them.
    assert ("advise_line_manager" in codes(body["next_steps"])) == (role == "duty_manager")
    audit = {e["action"]: e for e in await audit_of(somerset, case["id"])}
    assert audit["case.close"]["reason"] == "Order completed"
    assert audit["case.reopen"]["reason"] == "Breach: returned to court"
    assert audit["case.reopen"]["role"] == role
    events = await outbox_types(settings, case["id"])
    assert events.count("case.closed") == events.count("case.reopened") == 1


async def test_reopening_never_duplicates_a_step_still_open(somerset: Tenant) -> None:
    """Closed, charged within 20 days (S23 reaches past closure), reopened: S23's steps stay
    once, and the mandated steps come back once each."""
    case = await high_case(somerset)
    assert (await patch_case(somerset, case["id"], CLOSE)).status_code == 200
    r = await somerset.client.post(f"/v1/cases/{case['id']}/events",
                                   json={"type": "charged",
                                         "occurred_at": "2026-09-12T10:00:00+01:00"},
                                   headers=somerset.auth("line_manager"))
    assert r.status_code == 201, r.text
    r = await patch_case(somerset, case["id"], REOPEN)
    assert r.status_code == 200, r.text
    counts = Counter(s["code"] for s in r.json()["next_steps"])
    assert counts["inform_service_manager"] == 1
    assert set(counts.values()) == {1}
    assert set(SOMERSET_HIGH) <= set(counts)


async def test_W16_W19_reopening_a_mappa_case_restores_its_mappa_steps(wokingham: Tenant) -> None:
    """Wokingham, MAPPA category 1 level 1, SWB high, not open to social care: the MAPPA H
    notification ("notify the Central MAPPA Unit ... of all MAPPA eligible young people using
    the MAPPA H form", W16) and the MARF ("the PYJS case worker must complete a MARF referral",
    W9) must be done before the case closes; reopened, the monthly High-Risk Panel review (W19)
    is open again with the deadline it had before the closure."""
    case = (await wokingham.open_case(opened_at="2026-09-01T09:00:00+01:00",
                                      mappa_category=1, mappa_level=1))["data"]
    await judge(wokingham, case["id"], "swb", "high", "2026-09-01T11:00:00+01:00")
    await closing_asset_plus(wokingham, case["id"], "2026-09-10T15:00:00+01:00")
    # The MAPPA H notification (W16) and the MARF (W9) are duties no manager may waive: the
    # closure is refused while they are open (A9-9), naming them.
    problem = assert_problem(await patch_case(wokingham, case["id"], CLOSE), 409)
    assert problem["type"].endswith("/mandatory-steps-open")
    assert sorted((s["code"], s["rule"]) for s in problem["steps"]) == [
        ("mappa_h_notification", "W16"), ("marf_referral", "W9")]
    for kind, acts in (("mappa_h", (("submit", "case_holder"),
                                    ("quality-assure", "line_manager"), ("send", "case_holder"))),
                       ("marf", (("submit", "case_holder"), ("send", "case_holder")))):
        r = await wokingham.client.post(
            f"/v1/cases/{case['id']}/referrals",
            json={"kind": kind, "occurred_at": "2026-09-10T15:10:00+01:00"},
            headers=wokingham.auth("case_holder"))
        assert r.status_code == 201, r.text
        for action, role in acts:
            r = await wokingham.client.post(
                f"/v1/referrals/{r.json()['data']['id']}/{action}",
                json={"occurred_at": "2026-09-10T15:20:00+01:00"}, headers=wokingham.auth(role))
            assert r.status_code == 200, (action, r.text)
    assert (await patch_case(wokingham, case["id"], CLOSE)).status_code == 200
    r = await patch_case(wokingham, case["id"], REOPEN)
    assert r.status_code == 200, r.text
    steps = r.json()["next_steps"]
    review = the_step(steps, "high_risk_panel_review")
    # A month from the opening (1 October 09:00 BST); the closure and the reopening are dated
    # back and recorded now, so no clock stopped (A16-20).
    assert review["due_at"] == "2026-10-01T08:00:00Z"
    assert review["policy"]["rule"] == "W19"
    assert len(codes(steps)) == len(set(codes(steps)))
    assert wokingham.pack == WOKINGHAM


async def test_reopening_cannot_predate_the_closure(somerset: Tenant) -> None:
    """A reopening dated before the closure is 422 naming occurred_at and the bound."""
    case = await high_case(somerset)
    assert (await patch_case(somerset, case["id"], CLOSE)).status_code == 200
    r = await patch_case(somerset, case["id"], {**REOPEN,
                                                "occurred_at": "2026-09-09T10:00:00+01:00"})
    problem = assert_problem(r, 422)
    assert problem["errors"][0]["loc"] == "body.occurred_at"
    assert "closed_at" in problem["errors"][0]["msg"]
