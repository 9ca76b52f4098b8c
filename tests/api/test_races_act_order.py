"""Concurrent acts on one case end as the same acts applied one at a time in time order
(attack 23a, A23a-1).

Each write takes the case's lock; the act's own time ("now", when the request gives none) is
the moment it holds the lock, so the order in time is the order the writes were applied in, and
the case's rating, register, priority and open steps after any set of concurrent acts are those
of the same acts recorded one after another in ``occurred_at`` order (ties by recording order).
Each trial races ``WRITERS`` ROSH judgements (levels and recorders mixed) on a fresh Somerset
case, then records the acts that were accepted, in their time order and at their times, one at a
time on another fresh case, and compares the two. On SQLite and PostgreSQL
(``YJ_TEST_DB=postgres``).
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest

from tests.api.race_support import held_at_lock, held_then_other
from tests.conftest import BACKEND, Tenant

TRIALS = 10
# The levels and recorders raced in each trial: rises, falls (a fall from a registered high is
# refused, M6) and recorders whose acts are assigned differently (a duty manager's act asks
# them to advise the line manager, S16).
WRITERS = [("low", "case_holder"), ("medium", "line_manager"), ("high", "case_holder"),
           ("very_high", "duty_manager"), ("high", "line_manager"), ("medium", "case_holder"),
           ("very_high", "case_holder"), ("low", "duty_manager")]


def _judge(t: Tenant, case_id: str, level: str, role: str, at: str | None = None
           ) -> Any:
    body: dict[str, Any] = {"domain": "rosh", "level": level}
    if at is not None:
        body["occurred_at"] = at
    return t.client.post(f"/v1/cases/{case_id}/judgements", json=body, headers=t.auth(role))


def _act(t: Tenant, case_id: str, act: tuple[str, str, str], at: str | None = None) -> Any:
    """One act of a race: ``(kind, what, role)``: a ROSH judgement of level ``what``, or an
    event of type ``what``; dated ``at`` (default: now)."""
    kind, what, role = act
    if kind == "judgement":
        return _judge(t, case_id, what, role, at)
    body: dict[str, Any] = {"type": what}
    if at is not None:
        body["occurred_at"] = at
    return t.client.post(f"/v1/cases/{case_id}/events", json=body, headers=t.auth(role))


async def _state(t: Tenant, case_id: str, names: dict[str, str]) -> dict[str, Any]:
    """The case's rating, register, priority and open steps, with the ids of its records
    named by ``names`` (so that two cases compare)."""
    r = await t.client.get(f"/v1/cases/{case_id}", headers=t.auth("duty_manager"))
    assert r.status_code == 200, r.text
    case = r.json()["data"]

    def name(ident: Any) -> Any:
        return names.get(str(ident), "case" if str(ident) == case_id else ident)

    rosh = case["ratings"]["rosh"]
    steps = sorted((
        (s["code"], s["policy"]["rule"], s["actor"], s["assignee_id"], s["due_at"],
         s["urgent"], s["priority"], s["awaiting_panel_date"], name(s["subject_id"]),
         s["raised_at"], tuple(sorted((
             (why["rule"], why["trigger"], why["record"] and name(why["record"]["id"]),
              why["at"]) for why in s["reasons"]), key=repr)))
        for s in case["open_steps"]), key=repr)  # by repr: values may be null
    return {"rosh": rosh and (rosh["level"], rosh["recorded_at"], name(rosh["judgement_id"])),
            "on_register": case["on_register"], "priority": case["priority"],
            "contact_level": case["contact_level"], "open_steps": steps}


async def _trial(t: Tenant, acts: list[tuple[str, str, str]]
                 ) -> tuple[dict[str, Any], dict[str, Any], list[str]]:
    """One race of ``acts`` and its sequential replay: (the raced case's state, the replayed
    case's, the accepted acts in time order)."""
    raced = (await t.open_case())["data"]["id"]
    answers: list[httpx.Response] = list(await asyncio.gather(
        *[_act(t, raced, act) for act in acts]))
    accepted = []
    for act, r in zip(acts, answers, strict=True):
        assert r.status_code in (201, 409), r.text
        if r.status_code == 201:
            data = r.json()["data"]
            accepted.append((data["occurred_at"], data["created_at"], act, data["id"]))
        else:
            assert r.json()["type"].endswith("/panel-approval-required"), r.text
    accepted.sort()
    replayed = (await t.open_case())["data"]["id"]
    raced_names, replayed_names = {}, {}
    for n, (at, _, act, ident) in enumerate(accepted):
        r = await _act(t, replayed, act, at)
        assert r.status_code == 201, (n, act, r.text)
        raced_names[ident] = replayed_names[r.json()["data"]["id"]] = f"act {n}"
    order = [" ".join(act) for _, _, act, _ in accepted]
    return (await _state(t, raced, raced_names), await _state(t, replayed, replayed_names),
            order)


async def _race(t: Tenant, acts: list[tuple[str, str, str]]) -> None:
    wrong = []
    for trial in range(TRIALS):
        raced, replayed, order = await _trial(t, acts)
        if raced != replayed:
            wrong.append((trial, order, raced, replayed))
    assert not wrong, f"{len(wrong)} of {TRIALS} trials differ; first: {wrong[0]}"


async def test_S11_S41_concurrent_rosh_judgements_end_as_in_time_order(somerset: Tenant
                                                                        ) -> None:
    """Somerset 4.5 "It is the responsibility of line managers to review all cases where there
    is a High or Very High ROSH and/or Safety and Well-Being rating with case holders at least
    monthly" (S11), and the MARP's monthly discussion of the register (S41), are asked of a
    case left high by concurrent judgements as of the same judgements recorded one at a time:
    the rating, register, priority and every open step (S5-S8, S11, S16, S41 ...) equal the
    sequential replay's, trial after trial (A23a-1)."""
    await _race(somerset, [("judgement", level, role) for level, role in WRITERS])


async def test_S14_concurrent_judgements_and_events_end_as_in_time_order(somerset: Tenant
                                                                          ) -> None:
    """Judgements and events raced on one case (S14's incident steps, the custody handovers,
    S5-S8 and S11 from the judgements) end as the same acts recorded one at a time in time
    order (A23a-1's twin on the event path)."""
    await _race(somerset, [("judgement", "high", "case_holder"),
                           ("event", "new_incident", "case_holder"),
                           ("judgement", "very_high", "duty_manager"),
                           ("event", "custody_entry", "line_manager"),
                           ("judgement", "medium", "line_manager"),
                           ("event", "charged", "case_holder"),
                           ("judgement", "high", "case_holder"),
                           ("event", "custody_release", "duty_manager")])


# --- one interleaving, forced (tests.api.race_support) ------------------------------------


async def test_S11_judgement_waiting_on_the_lock_is_dated_after_the_write_it_waited_for(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """Somerset 3.2.4 "'Very High' judgements will trigger the case being dealt with as a
    priority at all stages": a very high ROSH judgement that reached the case while a high one
    was being recorded, and waited for it, is the later act (dated when it holds the case) and
    the case's rating; before, dated when it arrived, it came out back-dated behind the high
    and was filed as history only, the case left high and not a priority (A23a-1)."""
    case_id = (await somerset.open_case())["data"]["id"]
    with held_at_lock(monkeypatch) as held:
        very_high, high = await held_then_other(
            held, _judge(somerset, case_id, "very_high", "case_holder"),
            lambda: _judge(somerset, case_id, "high", "line_manager"))
    assert (very_high.status_code, high.status_code) == (201, 201), (very_high.text, high.text)
    late, early = very_high.json()["data"], high.json()["data"]
    assert late["occurred_at"] > early["occurred_at"]
    assert late["previous_level"] == "high"
    r = await somerset.client.get(f"/v1/cases/{case_id}", headers=somerset.auth("duty_manager"))
    case = r.json()["data"]
    assert case["ratings"]["rosh"]["judgement_id"] == late["id"]
    assert case["ratings"]["rosh"]["level"] == "very_high"
    assert case["priority"] is True
    assert {s["code"] for s in case["open_steps"]} >= {"monthly_manager_review",
                                                         "discuss_register_monthly"}


async def _audit_at(t: Tenant, case_id: str, action: str, entity_id: str) -> str:
    """When the case's audit says the act ``action`` on the record ``entity_id`` was recorded
    (its write's instant)."""
    r = await t.client.get(f"/v1/cases/{case_id}/audit", params={"limit": 200},
                           headers=t.auth("duty_manager"))
    assert r.status_code == 200, r.text
    found = [e["at"] for e in r.json()["data"]
             if (e["action"], e["entity_id"]) == (action, entity_id)]
    assert len(found) == 1, (action, found)
    return str(found[0])


async def test_S20_panel_decision_waiting_on_the_lock_is_recorded_after_the_write_it_waited_for(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """Somerset 7.1.2 "the Chair will set the review date": a decision dated by the chair
    (``occurred_at``) that waited for a judgement on the case is recorded after it, its
    confirmed rating the latest in recording order; before, its write's instant (the
    recording time of its rows and audit entries) was taken before the lock (A23a-1)."""
    case_id = (await somerset.open_case())["data"]["id"]
    r = await _judge(somerset, case_id, "high", "case_holder", "2026-06-01T10:00:00+01:00")
    assert r.status_code == 201, r.text
    r = await somerset.client.post("/v1/panels", headers=somerset.auth("panel_admin"), json={
        "kind": "marp", "scheduled_for": "2026-06-10T14:00:00+01:00", "chair_id": "chair-1"})
    assert r.status_code == 201, r.text
    panel_id = r.json()["data"]["id"]
    r = await somerset.client.post(f"/v1/panels/{panel_id}/items", json={
        "case_id": case_id, "presenter_id": "case_holder-1"}, headers=somerset.auth("chair"))
    assert r.status_code == 201, r.text
    item_id = r.json()["data"]["id"]
    decision = somerset.client.post(
        f"/v1/panels/{panel_id}/items/{item_id}/decision",
        json={"minutes": "Kept high.", "rosh_level": "high", "review_date": "2026-07-15",
              "occurred_at": "2026-06-10T16:00:00+01:00"}, headers=somerset.auth("chair"))
    swb = {"domain": "swb", "level": "medium"}
    with held_at_lock(monkeypatch) as held:
        decided, judged = await held_then_other(held, decision, lambda: somerset.client.post(
            f"/v1/cases/{case_id}/judgements", json=swb, headers=somerset.auth("case_holder")))
    assert (decided.status_code, judged.status_code) == (200, 201), (decided.text, judged.text)
    assert await _audit_at(somerset, case_id, "panel.decision", item_id) > await _audit_at(
        somerset, case_id, "judgement.record", judged.json()["data"]["id"])


async def test_feed_delivery_waiting_on_the_lock_is_recorded_after_the_write_it_waited_for(
        wokingham: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """An EMRAC referral delivered while an incident is recorded on the case, and held for it,
    is recorded after it (its audit entry's time, the write's instant, taken under the case's
    lock); before, the key's claim took the instant before the lock (A23a-1). PostgreSQL
    only: on SQLite the claim's INSERT takes the database's write lock, which serialises the
    two there from the claim on."""
    if BACKEND != "postgres":
        pytest.skip("SQLite serialises the delivery from its key's claim (its write lock)")
    case_id = (await wokingham.open_case(
        external_ref={"system": "IYSS", "id": "A23a-1"}))["data"]["id"]
    headers = {**wokingham.auth("feed", "feed-emrac", scope="feed:emrac"),
               "Idempotency-Key": str(uuid.uuid4())}
    delivery = wokingham.client.post("/v1/feeds/emrac/referrals", headers=headers, json={
        "case_external_ref": {"system": "IYSS", "id": "A23a-1"}, "kind": "emrac",
        "received_at": "2026-06-05T10:15:00+01:00", "details": {}})
    with held_at_lock(monkeypatch) as held:
        delivered, event = await held_then_other(held, delivery, lambda: wokingham.client.post(
            f"/v1/cases/{case_id}/events", json={"type": "new_incident"},
            headers=wokingham.auth("case_holder")))
    assert (delivered.status_code, event.status_code) == (201, 201), (delivered.text,
                                                                      event.text)
    assert await _audit_at(wokingham, case_id, "referral.create",
                           delivered.json()["data"]["id"]) > await _audit_at(
        wokingham, case_id, "case_event.record", event.json()["data"]["id"])
