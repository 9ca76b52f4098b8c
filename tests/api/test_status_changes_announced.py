"""Every status change of a step that is audited is announced in the same write, with the event
type of the audited status (attack 30a, A30a-9), and the write that closes an overdue step
retires its escalation (attack 30b, ATTACK30B-5).

README: "Every write's outgoing event (the `outbox_event` written in the same transaction) is
delivered to the service's subscribers"; "When the overdue step is closed (done, waived, or
superseded by the policy or a closure), the same write supersedes its escalation, audited and
announced (`step.superseded`)". A lowering, a transfer reversed, a MARP overtaking the views
step, overdue escalations, a charge and a death, on Somerset's pack (2026 dates: BST until
Sunday 25 October).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from sqlmodel import col, select

from app.core.db import build_engine, session_factory
from app.domain.outbox import OutboxEvent
from tests.api.fidelity_support import pin
from tests.api.integrity_support import (
    audit_of,
    closed_then_reopened,
    heard_by_marp,
    high_case_referred,
    judge,
    on_marp_agenda,
    recorded,
    steps_of,
)
from tests.api.support import Factory, tick
from tests.conftest import Tenant

# The audited status change of a step -> the event that announces it.
ANNOUNCED = {"step.done": "step.completed", "step.waived": "step.completed",
             "step.supersede": "step.superseded", "step.superseded": "step.superseded",
             "step.reinstate": "step.reinstated"}


async def _outbox(settings: Any, case_id: str) -> list[OutboxEvent]:
    engine = build_engine(settings)
    try:
        async with session_factory(engine)() as session:
            rows = await session.exec(select(OutboxEvent).order_by(col(OutboxEvent.created_at)))
            return [e for e in rows.all() if (e.payload or {}).get("case_id") == case_id]
    finally:
        await engine.dispose()


async def _assert_each_status_change_announced(t: Tenant, settings: Any, case_id: str
                                               ) -> Counter[tuple[str, str]]:
    """Per step: the audited status changes, as the events announcing them, are the outbox's
    step events of that step other than reassignments and escalations (types and counts)."""
    audited: Counter[tuple[str, str]] = Counter(
        (str(e["entity_id"]), ANNOUNCED[e["action"]]) for e in await audit_of(t, case_id)
        if e["entity_type"] == "step" and e["action"] in ANNOUNCED)
    announced: Counter[tuple[str, str]] = Counter(
        (str(e.entity_id), e.type) for e in await _outbox(settings, case_id)
        if e.type in set(ANNOUNCED.values()))
    assert audited == announced
    return audited


async def test_every_audited_step_status_change_is_announced_as_its_status(
        somerset: Tenant, settings: Any, factory: Factory,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A high rating lowered (the register steps superseded) and raised again, a transfer out
    reversed by a transfer in, a MARP that discussed the case (the views step overtaken), a
    charge, an escalation pass, then the death: each step's audited status changes are its
    announced ones, one for one, and "overtaken" is announced ``step.superseded``, not
    ``step.completed``. The death's supersessions retire the escalations of the overdue steps
    they end in the same write (no escalation pass in between)."""
    t = somerset
    pin(monkeypatch, 2026, 8, 3, 8, 0)
    case_id = str((await t.open_case(opened_at="2026-07-01T10:00:00+01:00",
                                     intervention="court_order"))["data"]["id"])
    await judge(t, case_id, "rosh", "high", "2026-08-03T08:00:00+01:00")
    pin(monkeypatch, 2026, 8, 4, 8, 0)
    await judge(t, case_id, "rosh", "medium", "2026-08-04T08:00:00+01:00")
    await judge(t, case_id, "rosh", "high", "2026-08-04T08:30:00+01:00")
    await recorded(t, case_id, "events", {
        "type": "transfer_out", "occurred_at": "2026-08-04T08:40:00+01:00",
        "transfer_date": "2026-09-08", "details": {"to": "Devon YJS"}})
    await recorded(t, case_id, "events", {"type": "transfer_in",
                                          "occurred_at": "2026-08-04T08:50:00+01:00"})
    pin(monkeypatch, 2026, 8, 10, 12, 0)
    await heard_by_marp(t, case_id, sits="2026-08-10T10:00:00+01:00",
                        review_date="2026-09-07", rosh_level="high")
    await recorded(t, case_id, "events", {"type": "charged",
                                          "occurred_at": "2026-08-10T11:30:00+01:00"})
    pin(monkeypatch, 2026, 8, 12, 9, 0)
    assert await tick(factory, t) > 0
    overdue = {s["subject_id"] for s in await steps_of(t, case_id)
               if s["code"] == "escalate_overdue_step"}
    await recorded(t, case_id, "events", {"type": "death",
                                          "occurred_at": "2026-08-12T09:00:00+01:00"})
    open_ids = {s["id"] for s in await steps_of(t, case_id)}
    ended = overdue - open_ids
    assert ended, "the death ends some overdue step"
    chasing = [s for s in await steps_of(t, case_id)
               if s["code"] == "escalate_overdue_step" and s["subject_id"] in ended]
    assert chasing == []
    seen = await _assert_each_status_change_announced(t, settings, case_id)
    kinds = Counter(kind for _, kind in seen)
    assert kinds["step.superseded"] >= 10, kinds
    assert kinds["step.completed"] >= 1, kinds


async def test_a_mappa_message_changing_the_case_is_announced_as_a_staff_change_is(
        wokingham: Tenant, settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A30a-9 (MAPPA part): a MAPPA unit's message setting the case's MAPPA level (Wokingham,
    Referrals into MAPPA: "For MAPPA Level 1 children, risk management will be led by the
    PYJS") is audited ``case.update`` and announced ``case.updated`` (the fields, the act's
    time), as a staff ``PATCH`` of the same field: every audited change of the case, one for
    one."""
    t = wokingham
    pin(monkeypatch, 2027, 7, 1, 8, 0)
    ref = {"system": "IYSS", "id": "MO-30F"}
    case_id = str((await t.open_case(opened_at="2027-06-01T09:00:00Z", mappa_category=3,
                                     external_ref=ref))["data"]["id"])
    r = await t.client.post("/v1/feeds/mappa/referrals", json={
        "case_external_ref": ref, "kind": "mappa_h", "received_at": "2027-06-18T10:00:00+01:00",
        "details": {"mappa_level": 1}},
        headers={**t.auth("feed", "mappa-feed", scope="feed:mappa"),
                 "Idempotency-Key": "mo-30f-1"})
    assert r.status_code == 201, r.text
    audited = [e for e in await audit_of(t, case_id)
               if e["entity_type"] == "case" and e["action"] == "case.update"]
    announced = [e for e in await _outbox(settings, case_id) if e.type == "case.updated"]
    assert len(audited) == len(announced) == 1
    assert announced[0].payload["fields"] == ["mappa_level"]
    assert announced[0].payload["occurred_at"] == "2027-06-18T09:00:00Z"


async def test_a_back_dated_lower_judgement_is_announced_with_its_act_time_and_the_case_change(
        somerset: Tenant, settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A30a-7 (docs/integrating.md 4: "Payloads hold ids, codes and instants"): ROSH high dated
    Wednesday 30 December 2026 09:00, then ROSH low back-dated to Monday 28 December 09:00, both
    typed in on 30 December. Each ``judgement.recorded`` carries its act's ``occurred_at``; the
    high's write announces ``case.updated`` (ratings, register) at its act time, the low's
    none for the register (the case stays high: the later act by date), so a receiver ordering
    by ``occurred_at`` ends with the service's rating. An event's payload carries its act time
    too."""
    t = somerset
    pin(monkeypatch, 2026, 12, 30, 10, 0)
    case_id = str((await t.open_case(opened_at="2026-11-02T09:00:00Z"))["data"]["id"])
    await judge(t, case_id, "rosh", "high", "2026-12-30T09:00:00Z")
    await judge(t, case_id, "rosh", "low", "2026-12-28T09:00:00Z")
    await recorded(t, case_id, "events", {"type": "new_incident",
                                          "occurred_at": "2026-12-29T15:00:00Z"})
    sent = await _outbox(settings, case_id)
    # The clock is pinned: the writes' rows share one created_at, so the events are compared
    # by what they say, not by the order the outbox happens to list them in.
    judged = sorted((e.payload["level"], e.payload["occurred_at"]) for e in sent
                    if e.type == "judgement.recorded")
    assert judged == [("high", "2026-12-30T09:00:00Z"), ("low", "2026-12-28T09:00:00Z")]
    latest = max(judged, key=lambda j: j[1])
    r = await t.client.get(f"/v1/cases/{case_id}", headers=t.auth("line_manager"))
    assert r.json()["data"]["ratings"]["rosh"]["level"] == latest[0] == "high"
    updated = [e.payload for e in sent if e.type == "case.updated"]
    rated = [u for u in updated if {"ratings", "on_register"} & set(u["fields"])]
    assert len(rated) == 1, updated
    assert {"ratings", "on_register"} <= set(rated[0]["fields"])
    assert rated[0]["occurred_at"] == "2026-12-30T09:00:00Z"
    [event] = [e.payload for e in sent if e.type == "case_event.recorded"]
    assert event["occurred_at"] == "2026-12-29T15:00:00Z"


async def test_withdrawal_return_closure_and_reopening_are_announced_as_audited(
        somerset: Tenant, settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The other paths that end or bring back steps, on one Somerset case: the case closed
    (its open steps set aside) and reopened (brought back), then taken off a MARP's agenda (its
    steps about the item superseded), an AssetPlus returned to its author (its
    countersignature overtaken: announced ``step.superseded``, not ``step.completed``): per
    step, the audited status changes are the announced ones, types and counts."""
    t = somerset
    case_id = await high_case_referred(t, monkeypatch)
    await closed_then_reopened(t, monkeypatch, case_id, closed_at="2026-09-02T10:00:00+01:00",
                               recorded_at=(2026, 9, 2, 9, 0))
    panel, item = await on_marp_agenda(t, case_id, "2026-10-22T10:00:00+01:00")
    r = await t.client.get(f"/v1/panels/{panel}", headers=t.auth("panel_admin"))
    r = await t.client.post(f"/v1/panels/{panel}/items/{item}/withdraw",
                            json={"reason": "heard elsewhere"},
                            headers={**t.auth("panel_admin"), "If-Match": r.headers["ETag"]})
    assert r.status_code == 200, r.text
    r = await t.client.post(f"/v1/cases/{case_id}/assessments",
                            json={"type": "asset_plus", "stage": "review"},
                            headers=t.auth("case_holder"))
    assert r.status_code == 201, r.text
    assessment = r.json()["data"]["id"]
    for action, role, body in (("submit", "case_holder", {}),
                               ("return", "line_manager", {"feedback": "evidence please"})):
        r = await t.client.post(f"/v1/assessments/{assessment}/{action}", json=body,
                                headers=t.auth(role))
        assert r.status_code == 200, r.text
    seen = await _assert_each_status_change_announced(t, settings, case_id)
    kinds = Counter(kind for _, kind in seen)
    assert kinds["step.reinstated"] >= 1, kinds
    assert kinds["step.superseded"] >= 3, kinds
