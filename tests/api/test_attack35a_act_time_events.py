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

from collections.abc import Awaitable, Callable
from typing import Any

from sqlmodel import col, select

from app.core.db import build_engine, session_factory
from app.domain.outbox import OutboxEvent
from tests.api.act_order_support import decide_at_sitting, judgement_body
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


async def _panel_lowers(t: Tenant, case: str, at: str) -> None:
    r = await decide_at_sitting(t, case, "marp", at, {
        "rosh_level": "medium", "actions": [], "minutes": "m"})
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
    ("panel lowers to medium at its sitting", _nothing, _panel_lowers,
     "2026-08-18T10:00:00+01:00", "2026-08-18T09:00:00Z"),
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


async def test_every_event_of_a_back_dated_act_carries_its_time_and_fields(
        somerset: Tenant, settings: Any) -> None:
    """Each act of the table, dated back and typed in December 2026: every outgoing event
    the act's write adds carries the act's time (`occurred_at`; `case.closed`/`case.reopened`
    their `at`), and its `case.updated` names exactly the fields of the case that changed."""
    seen = []
    for name, setup, act, at, utc in ACTS:
        case = (await somerset.open_case(opened_at="2026-08-03T09:00:00+01:00"))["data"]["id"]
        await _judge(somerset, case, "rosh", "high", HIGH_AT)
        await setup(somerset, case)
        before_ids = {i for i, _, _ in await _outbox(settings, case)}
        before = await _fields(somerset, case)
        await act(somerset, case, at)
        after = await _fields(somerset, case)
        new = [(kind, p) for i, kind, p in await _outbox(settings, case) if i not in before_ids]
        changed = sorted(k for k in SHOWN_FIELDS if before[k] != after[k])
        updates = [p for kind, p in new if kind == "case.updated"]
        seen.append((
            name,
            sorted({(kind, p.get("at") if kind in ("case.closed", "case.reopened")
                     else p.get("occurred_at")) for kind, p in new}),
            [sorted(set(p["fields"]) & set(SHOWN_FIELDS)) for p in updates]))
        assert seen[-1] == (
            name,
            sorted({(kind, utc) for kind, _ in new}),
            [changed] if changed else []), seen[-1]
    assert [name for name, _, _ in seen] == [a[0] for a in ACTS]
