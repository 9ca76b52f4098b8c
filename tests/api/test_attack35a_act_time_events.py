"""ATTACK35A-5: every outgoing event of an act, back-dated or not, carries the act's own
`occurred_at`, and its `case.updated` names every case field the act changed.

docs/integrating.md 4: "the event of an act ... carries the act's own `occurred_at`, and an act
that changes the case's own fields (a rating, the register, the contact level, priority,
custody, a MAPPA level) also announces `case.updated` with the `fields` it changed and that
`occurred_at`". The attack's case: a closure dated Fri 21 Aug 2026 10:00 (London, BST: 09:00Z)
typed a week later announced its nine `step.superseded` at the recording time, and its
`case.updated` with no `occurred_at` and `fields: ["closed_at"]` although it also took the case
off the register (Somerset 9). Somerset's pack; each act on its own case, ROSH high on Wed 5 Aug
2026 10:00 on file."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from sqlmodel import col, select

from app.core.db import build_engine, session_factory
from app.domain.outbox import OutboxEvent
from tests.api.act_order_support import judgement_body
from tests.api.integrity_support import complete, patch_case, steps_of
from tests.conftest import Tenant

HIGH_AT = "2026-08-05T10:00:00+01:00"
# The fields of GET /v1/cases/{id} that are the case's own (not its steps, nor bookkeeping).
SHOWN_FIELDS = ("on_register", "priority", "ratings", "closed_at", "in_custody",
                "contact_level", "mappa_category", "mappa_level", "expected_release_date",
                "incoming_ratings", "case_holder_id", "line_manager_id", "csc_status")


async def _event(t: Tenant, case: str, kind: str, at: str, **extra: Any) -> None:
    r = await t.client.post(f"/v1/cases/{case}/events",
                            json={"type": kind, "occurred_at": at, **extra},
                            headers=t.auth("case_holder"))
    assert r.status_code == 201, r.text


async def _judge(t: Tenant, case: str, domain: str, level: str, at: str) -> None:
    r = await t.client.post(f"/v1/cases/{case}/judgements",
                            json=judgement_body(domain, level, at), headers=t.auth("case_holder"))
    assert r.status_code == 201, r.text


async def _close(t: Tenant, case: str, at: str) -> None:
    r = await patch_case(t, case, {"closed_at": at, "closure_reason": "Transferred"})
    assert r.status_code == 200, r.text


async def _transferred(t: Tenant, case: str) -> None:
    await _event(t, case, "transfer_out", "2026-08-12T10:00:00+01:00", transfer_date="2026-08-20")


async def _closed(t: Tenant, case: str) -> None:
    await _transferred(t, case)
    await _close(t, case, "2026-08-21T10:00:00+01:00")


async def _reopen(t: Tenant, case: str, at: str) -> None:
    r = await patch_case(t, case, {"closed_at": None, "reopen_reason": "New order",
                                   "occurred_at": at})
    assert r.status_code == 200, r.text


async def _complete(t: Tenant, case: str, at: str) -> None:
    step = next(s for s in await steps_of(t, case) if s["code"] == "inform_child_and_carer")
    r = await complete(t, step["id"], "case_holder", occurred_at=at, note="Told them")
    assert r.status_code == 200, r.text


SITTING = "2026-08-18T10:00:00+01:00"
AGENDA: dict[str, str] = {}  # case id -> its agenda item's decision path


async def _on_agenda(t: Tenant, case: str) -> None:
    """A MARP sitting on Tue 18 Aug 2026 10:00 chaired by chair-1, the case on its agenda."""
    r = await t.client.post("/v1/panels", json={
        "kind": "marp", "scheduled_for": SITTING, "chair_id": "chair-1"},
        headers=t.auth("panel_admin"))
    assert r.status_code == 201, r.text
    panel = r.json()["data"]["id"]
    r = await t.client.post(f"/v1/panels/{panel}/items", json={
        "case_id": case, "presenter_id": "case_holder-1"}, headers=t.auth("panel_admin"))
    assert r.status_code == 201, r.text
    AGENDA[case] = f"/v1/panels/{panel}/items/{r.json()['data']['id']}/decision"


async def _panel_lowers(t: Tenant, case: str, at: str) -> None:
    r = await t.client.post(AGENDA[case], json={
        "rosh_level": "medium", "actions": [], "minutes": "m", "occurred_at": at},
        headers=t.auth("chair"))
    assert r.status_code == 200, r.text


async def _nothing(t: Tenant, case: str) -> None:
    return None


Setup = Callable[[Tenant, str], Awaitable[None]]
Act = Callable[[Tenant, str, str], Awaitable[None]]
# (name, what is on file before, the act, its time as sent, its time in UTC)
ACTS: list[tuple[str, Setup, Act, str, str]] = [
    ("ROSH lowered to medium", _nothing,
     lambda t, c, at: _judge(t, c, "rosh", "medium", at), "2026-08-14T10:00:00+01:00",
     "2026-08-14T09:00:00Z"),
    ("SWB very high", _nothing,
     lambda t, c, at: _judge(t, c, "swb", "very_high", at), "2026-08-14T10:00:00+01:00",
     "2026-08-14T09:00:00Z"),
    ("death", _nothing, lambda t, c, at: _event(t, c, "death", at),
     "2026-08-14T10:00:00+01:00", "2026-08-14T09:00:00Z"),
    ("transfer out", _nothing,
     lambda t, c, at: _event(t, c, "transfer_out", at, transfer_date="2026-08-24"),
     "2026-08-14T10:00:00+01:00", "2026-08-14T09:00:00Z"),
    ("custody entry", _nothing, lambda t, c, at: _event(t, c, "custody_entry", at),
     "2026-08-14T10:00:00+01:00", "2026-08-14T09:00:00Z"),
    ("panel lowers to medium at its sitting", _on_agenda, _panel_lowers,
     SITTING, "2026-08-18T09:00:00Z"),
    ("completion of S12", _nothing, _complete,
     "2026-08-06T10:00:00+01:00", "2026-08-06T09:00:00Z"),
    ("closure after the transfer", _transferred, _close,
     "2026-08-21T10:00:00+01:00", "2026-08-21T09:00:00Z"),
    ("reopening", _closed, _reopen,
     "2026-08-25T10:00:00+01:00", "2026-08-25T09:00:00Z"),
]


async def _outbox(settings: Any, case_id: str) -> list[tuple[str, str, dict[str, Any]]]:
    """The case's outgoing events (id, type, payload), oldest first."""
    engine = build_engine(settings)
    try:
        async with session_factory(engine)() as session:
            rows = await session.exec(select(OutboxEvent).order_by(
                col(OutboxEvent.created_at), col(OutboxEvent.id)))
            return [(str(e.id), e.type, e.payload) for e in rows.all()
                    if (e.payload or {}).get("case_id") == case_id]
    finally:
        await engine.dispose()


async def _fields(t: Tenant, case_id: str) -> dict[str, Any]:
    r = await t.client.get(f"/v1/cases/{case_id}", headers=t.auth("line_manager"))
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    return {k: data.get(k) for k in SHOWN_FIELDS}


async def _timeline(t: Tenant, case_id: str) -> list[str]:
    """The case's timeline entries (what, when) as text."""
    r = await t.client.get(f"/v1/cases/{case_id}/timeline", params={"limit": 200},
                           headers=t.auth("line_manager"))
    assert r.status_code == 200, r.text
    return [json.dumps(e, sort_keys=True) for e in r.json()["data"]]


async def _act_as_announced(t: Tenant, settings: Any, case: str, act: Act, at: str
                            ) -> tuple[Any, ...]:
    """Record ``act`` at ``at`` on the case: (the times its new outgoing events carry, by type;
    the shown fields its `case.updated` events name; the case's shown fields it changed; the
    (kind, action, at) of the timeline entries it added)."""
    before_ids = {i for i, _, _ in await _outbox(settings, case)}
    before = await _fields(t, case)
    entries = set(await _timeline(t, case))
    await act(t, case, at)
    after = await _fields(t, case)
    added = [json.loads(e) for e in await _timeline(t, case) if e not in entries]
    new = [(kind, p) for i, kind, p in await _outbox(settings, case) if i not in before_ids]
    return (sorted({(kind, p.get("at") if kind in ("case.closed", "case.reopened")
                     else p.get("occurred_at")) for kind, p in new}),
            [sorted(set(p["fields"]) & set(SHOWN_FIELDS)) for kind, p in new
             if kind == "case.updated"],
            sorted(k for k in SHOWN_FIELDS if before[k] != after[k]),
            sorted({(e["kind"], e["action"], e["at"]) for e in added}))


def _all_at(announced: tuple[Any, ...], utc: str) -> tuple[Any, ...]:
    """What ``announced`` should be: every event and entry at ``utc``, one `case.updated`
    naming exactly the fields changed (none when nothing changed)."""
    events, _, changed, entries = announced
    return (sorted({(kind, utc) for kind, _ in events}), [changed] if changed else [], changed,
            sorted({(kind, action, utc) for kind, action, _ in entries}))


async def test_every_event_of_a_back_dated_act_carries_its_time_and_fields(
        somerset: Tenant, settings: Any) -> None:
    """Each act of the table, dated back and typed in December 2026: every outgoing event
    the act's write adds carries the act's time (`occurred_at`; `case.closed`/`case.reopened`
    their `at`), its `case.updated` names exactly the fields of the case that changed, and every
    timeline entry it adds is at the act's time (README: "field changes ... at the time of the
    act that made them", "a step superseded by an act ... at that act's time")."""
    seen = []
    for name, setup, act, at, utc in ACTS:
        case = (await somerset.open_case(opened_at="2026-08-03T09:00:00+01:00"))["data"]["id"]
        await _judge(somerset, case, "rosh", "high", HIGH_AT)
        await setup(somerset, case)
        announced = await _act_as_announced(somerset, settings, case, act, at)
        seen.append(name)
        assert (name, announced) == (name, _all_at(announced, utc))
    assert seen == [a[0] for a in ACTS]


async def test_W3_review_re_dated_by_a_back_dated_high_is_at_the_judgement_time(
        wokingham: Tenant, settings: Any) -> None:
    """W3 (Assessment Reviews): "Children who have been assessed as high within any of the
    risk domains must have their Asset+ reviewed at least every three months". Asset+
    countersigned Tue 1 Sep 2026 10:00Z with SWB low: review due 1 Mar 2027. ROSH high dated
    Mon 14 Sep 2026 10:00 (BST: 09:00Z), typed in December: the review is re-dated, and the
    timeline's `redated`, like every other entry and event of the judgement, is at 09:00Z on
    14 Sep, not when it was typed."""
    t = wokingham
    case = (await t.open_case(opened_at="2026-08-03T09:00:00Z"))["data"]["id"]
    await _judge(t, case, "swb", "low", "2026-08-04T10:00:00Z")
    r = await t.client.post(f"/v1/cases/{case}/assessments", json={
        "type": "asset_plus", "stage": "start", "occurred_at": "2026-08-25T10:00:00Z"},
        headers=t.auth("case_holder"))
    assert r.status_code == 201, r.text
    assessment = r.json()["data"]["id"]
    r = await t.client.post(f"/v1/assessments/{assessment}/submit",
                            json={"occurred_at": "2026-08-27T10:00:00Z"},
                            headers=t.auth("case_holder"))
    assert r.status_code == 200, r.text
    r = await t.client.post(f"/v1/assessments/{assessment}/countersign",
                            json={"feedback": "ok", "occurred_at": "2026-09-01T10:00:00Z"},
                            headers=t.auth("line_manager"))
    assert r.status_code == 200, r.text
    announced = await _act_as_announced(
        t, settings, case, lambda t, c, at: _judge(t, c, "rosh", "high", at),
        "2026-09-14T10:00:00+01:00")
    assert ("step", "redated", "2026-09-14T09:00:00Z") in announced[3]
    assert announced == _all_at(announced, "2026-09-14T09:00:00Z")
