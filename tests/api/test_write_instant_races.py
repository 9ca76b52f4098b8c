"""A write is dated once it holds its locks: the writes it waited for are dated before it, so
the audit chain (``seq``, the order of commits), the step history and the outbox read in the
same order by time (attack 23a, A23a-1; attack 30a, A30a-15: the stand-in sweep before a queue
is read dated a completion before the give-back it waited for).

Each test forces one interleaving (:mod:`tests.api.race_support`): the first write is held just
before it takes its lock while the other runs whole; the clock moves (Wednesday 30 December
2026, GMT, on), so a write that took its instant before the wait is dated before the write that
committed ahead of it. The paths, by the lock they wait on: a case opened (the service's policy
lock, or its external reference's, against an absence recorded meanwhile), the day's stand-in
sweep a read runs (each case's lock, against a judgement on it), the escalation pass (the
write lock of its batch, against a judgement on the case). On SQLite and PostgreSQL.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import pytest

from app.core import clock
from app.domain import access, escalation, policy_lock, stand_ins, webhooks
from tests.api.integrity_support import judge_high, the_step
from tests.api.race_support import (
    assert_dated_in_commit_order,
    chain_in_commit_order,
    held_at_lock,
    held_then_other,
    moving_clock,
)
from tests.api.support import Factory, db, service_id  # noqa: F401 - fixture
from tests.conftest import Tenant

WEDNESDAY = datetime(2026, 12, 30, 9, 30, tzinfo=UTC)
THURSDAY = datetime(2026, 12, 31, 9, 30, tzinfo=UTC)
LEAVE = {"starts_on": "2026-12-30", "ends_on": "2026-12-30"}


@pytest.fixture(autouse=True)
def no_instant_before_a_lock(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[object]]:
    """No write of the test takes its instant before a lock it then waits for
    (:func:`app.core.clock.locked`): the locks it was granted after are listed."""
    early: list[object] = []
    monkeypatch.setattr(clock, "early_instant_hook", early.append)
    yield early
    assert early == []


def _opening(ref: str | None) -> dict[str, Any]:
    """A case held by case_holder-1, managed by line_manager-1, opened now (no opened_at)."""
    body: dict[str, Any] = {
        "child": {"given_name": "Sam", "family_name": "Taylor", "date_of_birth": "2010-05-01"},
        "case_holder_id": "case_holder-1", "line_manager_id": "line_manager-1",
        "intervention": "court_order", "csc_status": "none"}
    if ref is not None:
        body["external_ref"] = {"system": "CMS", "id": ref}
    return body


@pytest.mark.parametrize("lock", ["policy", "reference"])
async def test_a_case_opened_while_an_absence_is_recorded_is_dated_after_it(
        somerset: Tenant, settings: Any, monkeypatch: pytest.MonkeyPatch, lock: str) -> None:
    """Somerset 3.1 ("If the line manager is unavailable, the duty manager will undertake these
    functions"): a case opened while line_manager-1's leave is being recorded waits for it (the
    service's policy lock, taken shared with an external reference's lock or alone) and reads
    the leave; it is opened, recorded and audited after it. Before, its instant (its default
    ``opened_at``) was taken before the lock: the case was opened before the leave that its
    opening had waited for."""
    t = somerset
    moving_clock(monkeypatch, WEDNESDAY)
    real = policy_lock.lock_policy_shared if lock == "policy" else access.lock_external_ref
    ref = None if lock == "policy" else str(uuid.uuid4())
    with held_at_lock(monkeypatch, real) as held:
        opened, recorded = await held_then_other(
            held, t.client.post("/v1/cases", json=_opening(ref), headers=t.auth("case_holder")),
            lambda: t.client.post("/v1/staff/line_manager-1/absences", json=LEAVE,
                                  headers=t.auth("duty_manager")))
    assert (opened.status_code, recorded.status_code) == (201, 201), (opened.text, recorded.text)
    case, absence = opened.json()["data"], recorded.json()["data"]
    chain = await chain_in_commit_order(settings, [case["id"], absence["id"]])
    assert chain[0][:2] == ("staff.absence", absence["id"]), chain
    assert ("case.create", case["id"]) in [entry[:2] for entry in chain[1:]]
    assert_dated_in_commit_order(chain)
    assert datetime.fromisoformat(case["opened_at"]) > chain[0][2]


async def test_S5_the_days_sweep_a_read_runs_dates_each_case_after_the_write_it_waited_for(
        somerset: Tenant, settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """S5 (3.1, 4.1): line_manager-1 was away on Wednesday 30 December; the discussions of two
    high cases stood in to the duty managers. Thursday's first read (a queue) sweeps the
    service, a case at a time, each under its case's lock: it gives the first case's discussion
    back, then waits for the second's lock while the case holder records a judgement on it,
    then gives that one back. The give-back is dated after the judgement it waited for; before,
    every case of the sweep took the read's one instant, taken at the first case."""
    t = somerset
    moving_clock(monkeypatch, WEDNESDAY)
    r = await t.client.post("/v1/staff/line_manager-1/absences", json=LEAVE,
                            headers=t.auth("duty_manager"))
    assert r.status_code == 201, r.text
    discussions = {}
    for _ in range(2):
        case = (await t.open_case(opened_at="2026-11-02T09:00:00Z"))["data"]
        s5 = the_step((await judge_high(t, case["id"], "2026-12-30T09:00:00Z"))["next_steps"],
                      "discuss_with_manager")
        assert (s5["actor"], s5["assignee_id"]) == ("duty_manager", None)
        discussions[case["id"]] = s5["id"]
    last = max(discussions, key=uuid.UUID)  # the sweep locks its cases in id order
    moving_clock(monkeypatch, THURSDAY)
    monkeypatch.setattr(stand_ins, "_swept", {})
    monkeypatch.setattr(stand_ins, "_swept_by_slug", {})

    async def judged() -> Any:
        stand_ins._swept_by_slug[t.slug] = date(2026, 12, 31)  # the read's sweep, under way
        return await t.client.post(f"/v1/cases/{last}/judgements",
                                   json={"domain": "swb", "level": "medium"},
                                   headers=t.auth("case_holder"))

    with held_at_lock(monkeypatch, when=lambda _s, case_id: str(case_id) == last) as held:
        listed, judgement = await held_then_other(
            held, t.client.get("/v1/next-steps", headers=t.auth("line_manager")), judged)
    assert (listed.status_code, judgement.status_code) == (200, 201), (listed.text,
                                                                       judgement.text)
    mine = {s["id"]: s for s in listed.json()["data"]}
    assert set(discussions.values()) <= set(mine)
    chain = await chain_in_commit_order(settings, [last])
    actions = [action for action, _, _ in chain]
    assert actions.index("step.reassign") > actions.index("judgement.record"), actions
    assert_dated_in_commit_order(chain)


async def test_S5_an_escalation_pass_that_waited_for_a_write_is_dated_after_it(
        somerset: Tenant, settings: Any, db: Factory,  # noqa: F811
        monkeypatch: pytest.MonkeyPatch) -> None:
    """S5 (4.1; the escalation of a line manager's step to the duty managers, 3.1): the
    discussion of a high rating recorded on 1 December is overdue on 30 December. An escalation
    pass starts, then waits for its batch's lock while the case holder records a judgement on
    the case: the escalation is dated after the judgement (the batch's instant, taken once it
    holds its lock). Before, the pass took one instant at its start for every batch: the
    escalation was recorded and announced before the judgement committed ahead of it."""
    t = somerset
    moving_clock(monkeypatch, WEDNESDAY)
    case = (await t.open_case(opened_at="2026-11-02T09:00:00Z"))["data"]
    s5 = the_step((await judge_high(t, case["id"], "2026-12-01T09:00:00Z"))["next_steps"],
                  "discuss_with_manager")
    sid = await service_id(db, t)
    with held_at_lock(monkeypatch, escalation.overdue_batch) as held:
        escalated, judgement = await held_then_other(
            held, escalation.run_pass(db, service_id=sid, walkers=1),
            lambda: t.client.post(f"/v1/cases/{case['id']}/judgements",
                                  json={"domain": "swb", "level": "medium"},
                                  headers=t.auth("case_holder")))
    assert judgement.status_code == 201, judgement.text
    assert escalated >= 1
    chain = await chain_in_commit_order(settings, [case["id"]])
    actions = [action for action, _, _ in chain]
    assert actions.index("step.escalate") > actions.index("judgement.record"), actions
    assert_dated_in_commit_order(chain)
    r = await t.client.get("/v1/next-steps", params={"case_id": case["id"]},
                           headers=t.auth("duty_manager"))
    chases = [s for s in r.json()["data"] if s["code"] == "escalate_overdue_step"
              and s["subject_id"] == s5["id"]]
    assert [(s["actor"], s["assignee_id"]) for s in chases] == [("duty_manager", None)]


async def test_a_subscription_switched_off_by_410_is_dated_after_the_write_it_waited_for(
        somerset: Tenant, settings: Any, db: Factory,  # noqa: F811
        monkeypatch: pytest.MonkeyPatch) -> None:
    """docs/integrating.md ("`410 Gone` unsubscribes (audited as `webhook.gone`)"): the webhook
    worker's pass sends a case's opening to a receiver that answers 410 Gone, then waits for
    the subscription's lock while another case of the service is opened: the deactivation and
    its audit entry are dated after that opening, committed before it. Before, the 410 was
    recorded at the instant the pass read before the wait (fix32c's leftover)."""
    from tests.api.test_webhooks import Receiver, subscribe

    t = somerset
    moving_clock(monkeypatch, WEDNESDAY)
    sub = await subscribe(t, ["case.opened"])
    first = (await t.open_case(opened_at="2026-11-02T09:00:00Z"))["data"]
    sid = await service_id(db, t)
    with held_at_lock(monkeypatch, webhooks.record) as held:  # it locks the subscription first
        result, opened = await held_then_other(
            held, webhooks.run_pass(db, Receiver(statuses=[410]).transport, service_id=sid),
            lambda: t.client.post("/v1/cases", json=_opening(None),
                                  headers=t.auth("case_holder")))
    assert opened.status_code == 201, opened.text
    assert result.failed == 1
    chain = await chain_in_commit_order(settings, [sub["id"], first["id"],
                                                  opened.json()["data"]["id"]])
    actions = [action for action, _, _ in chain]
    assert actions[-1] == "webhook.gone", actions
    assert_dated_in_commit_order(chain)
