"""Upgrading a database whose steps were superseded before migration 0034 though already late
when their need ended records them missed (migration 0035; fix36e, ATTACK34B-7's leftover),
adding to the audit trail rather than rewriting it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa

from app.core.config import Settings
from app.core.db import build_engine, session_factory
from app.core.migrate import upgrade
from app.domain.audit import AuditRow, chain_hash, digest_of, verify_chains
from tests.api.migration_rows import CASE, JSON, SERVICE, STEP, WHEN, old_case, old_step
from tests.conftest import _in_thread, database_at

CLOSED = sa.table(
    "step", sa.column("id", sa.Uuid()), sa.column("status"), sa.column("note"),
    sa.column("completion_note"), sa.column("satisfied_by_type"),
    *(sa.column(n, WHEN) for n in ("due_at", "overdue_at", "completed_at")))
CHANGE = sa.table(
    "record_change", *(sa.column(n, sa.Uuid()) for n in ("id", "service_id", "case_id",
                                                         "entity_id")),
    sa.column("entity_type"), sa.column("actor_sub"), sa.column("created", sa.Boolean()),
    sa.column("changes", JSON), *(sa.column(n, WHEN) for n in ("recorded_at", "occurred_at")))
AUDIT = sa.table(
    "audit_entry", *(sa.column(n, sa.Uuid()) for n in ("id", "service_id", "case_id",
                                                       "entity_id")),
    *(sa.column(n) for n in ("actor_sub", "actor_role", "action", "entity_type", "reason",
                             "digest", "chain", "prev_hash", "hash")),
    sa.column("seq", sa.Integer()), sa.column("at", WHEN), sa.column("changed_fields", JSON))

DUE = datetime(2026, 2, 28, 10, tzinfo=UTC)  # Saturday 28 February 2026, 10:00 GMT
LOWERED = datetime(2026, 3, 16, 10, tzinfo=UTC)  # Monday 16 March 2026, 10:00 GMT
RAISED = datetime(2026, 1, 31, 10, tzinfo=UTC)


@pytest.fixture
def old_database() -> Iterator[str]:
    """A database migrated only to 0034 (missed steps for new acts only)."""
    with database_at("0034") as url:
        yield url


def _superseded(case: dict[str, Any], code: str, rule: str, **fields: Any) -> dict[str, Any]:
    """A closed step of the case raised on 31 January 2026 (its later fields in ``fields``)."""
    return {**old_step(case, RAISED), "code": code, "rule_id": rule, **fields}


def _ended(step: dict[str, Any], at: datetime | None) -> dict[str, Any]:
    """The step's history row of its supersession, keeping the act's time ``at`` (None: a row
    from before ATK29-1, recorded a day later)."""
    return {"id": uuid.uuid4(), "service_id": step["service_id"], "case_id": step["case_id"],
            "entity_id": step["id"], "entity_type": "step", "actor_sub": "ch-1",
            "created": False, "changes": {"status": ["open", "superseded"]},
            "recorded_at": LOWERED.replace(hour=12), "occurred_at": at}


async def test_S11_S8_steps_late_when_their_need_ended_before_0034_become_missed(
        old_database: str) -> None:
    """S11 (Somerset 4.5): line managers review High/Very High cases "at least monthly"; S8
    (6.2): views "sought before the initial panel". A case high on 31 January 2026; its S11
    review due Saturday 28 February 10:00 GMT, superseded (0034 not yet there) when the rating
    was lowered on Monday 16 March: missed. Its S8 views, "overtaken" by the MARP of 10 March:
    missed (the pack's ``panel_decision_misses``). Left as they are: a review superseded at its
    deadline itself (in time), one whose supersession kept no act time (lateness unknown), one
    revived since by an earlier act (its duty goes on in the new step), an escalation, and S7's
    referral overtaken by the panel (the panel heard the case). Each conversion adds a sealed
    ``step.missed`` audit entry (the chain still verifies, the supersession entries stay) and a
    history row at the act's time; the note says what happened."""
    settings = Settings(env="test", database_url=old_database, jwt_secret="x" * 40)
    engine = build_engine(settings)
    service_id = uuid.uuid4()
    case = old_case(service_id, "high", RAISED)
    late = _superseded(case, "monthly_manager_review", "S11", status="superseded")
    at_deadline = _superseded(case, "monthly_manager_review", "S11", status="superseded")
    unknown = _superseded(case, "monthly_manager_review", "S11", status="superseded")
    revived = _superseded(case, "monthly_manager_review", "S11", status="superseded")
    reviving = _superseded(case, "monthly_manager_review", "S11", status="done")
    chase = _superseded(case, "escalate_overdue_step", "ESC", status="superseded")
    views = _superseded(case, "seek_child_and_carer_views", "S8", status="superseded")
    referral = _superseded(case, "refer_to_panel", "S7", status="superseded")
    steps = [late, at_deadline, unknown, revived, reviving, chase, views, referral]
    marp = datetime(2026, 3, 10, 11, tzinfo=UTC)
    overtaken = {"completed_at": marp, "satisfied_by_type": "panel_item",
                 "completion_note": "overtaken: the Multi-Agency Risk Panel (MARP) discussed "
                                    "the case (item x)", "due_at": marp.replace(hour=10),
                 "overdue_at": marp.replace(hour=10)}
    dates = {late["id"]: {"due_at": DUE, "note": "Superseded: condition ended"},
             at_deadline["id"]: {"due_at": LOWERED, "note": "Superseded: condition ended"},
             unknown["id"]: {"due_at": DUE}, revived["id"]: {"due_at": DUE},
             reviving["id"]: {"due_at": DUE, "note": f"Revived: step {revived['id']}, ..."},
             chase["id"]: {"due_at": DUE}, views["id"]: overtaken, referral["id"]: overtaken}
    first = AuditRow(service_id=service_id, case_id=case["id"], actor_sub="ch-1",
                     actor_role="case_holder", action="case.create", entity_type="case",
                     entity_id=case["id"], at=RAISED, changed_fields=[], reason=None,
                     digest=digest_of({}), chain=str(service_id), seq=1, prev_hash="0" * 64)
    first.hash = chain_hash("0" * 64, first)
    try:
        async with engine.begin() as conn:
            await conn.execute(sa.insert(SERVICE).values(
                id=service_id, slug=f"s-{service_id.hex[:8]}", name="Old", created_at=RAISED,
                policy_pack="somerset-yjt-2023"))
            await conn.execute(sa.insert(CASE), [case])
            await conn.execute(sa.insert(STEP), steps)
            for step_id, values in dates.items():
                await conn.execute(sa.update(CLOSED).where(CLOSED.c.id == step_id)
                                   .values(**values))
            await conn.execute(sa.insert(CHANGE), [
                _ended(late, LOWERED), _ended(at_deadline, LOWERED), _ended(unknown, None),
                _ended(revived, LOWERED), _ended(chase, LOWERED)])
            await conn.execute(sa.insert(AUDIT), [{
                c: getattr(first, c) for c in (
                    "id", "service_id", "case_id", "entity_id", "actor_sub", "actor_role",
                    "action", "entity_type", "reason", "digest", "chain", "prev_hash", "hash",
                    "seq", "at", "changed_fields")}])
        await engine.dispose()
        _in_thread(upgrade, old_database, "head")
        engine = build_engine(settings)
        async with session_factory(engine)() as session:
            verified = await verify_chains(session, [str(service_id)])
            status = dict((await session.exec(sa.select(  # type: ignore[call-overload]
                CLOSED.c.id, CLOSED.c.status))).all())
            notes = dict((await session.exec(sa.select(  # type: ignore[call-overload]
                CLOSED.c.id, CLOSED.c.note))).all())
            entries = (await session.exec(sa.select(  # type: ignore[call-overload]
                AUDIT.c.entity_id, AUDIT.c.action, AUDIT.c.actor_sub, AUDIT.c.seq)
                .order_by(AUDIT.c.seq))).all()
            history = (await session.exec(sa.select(  # type: ignore[call-overload]
                CHANGE.c.entity_id, CHANGE.c.changes, CHANGE.c.occurred_at)
                .where(CHANGE.c.actor_sub == "system:migration-0035"))).all()
    finally:
        await engine.dispose()
    assert {k: status[v["id"]] for k, v in (
        ("late", late), ("at_deadline", at_deadline), ("unknown", unknown),
        ("revived", revived), ("chase", chase), ("views", views), ("referral", referral))} == {
        "late": "missed", "at_deadline": "superseded", "unknown": "superseded",
        "revived": "superseded", "chase": "superseded", "views": "missed",
        "referral": "superseded"}
    assert (verified.ok, verified.checked) == (True, 3)
    assert [tuple(e) for e in entries] == [
        (case["id"], "case.create", "ch-1", 1),
        (views["id"], "step.missed", "system:migration-0035", 2),
        (late["id"], "step.missed", "system:migration-0035", 3)]
    assert notes[late["id"]] == (
        "Superseded: condition ended\nMissed: due Saturday 28 February 2026 10:00 (London), "
        "still not done when its need ended at Monday 16 March 2026 10:00 (London) (recorded "
        "missed by migration 0035: superseded after its deadline had passed undone, before "
        "ATTACK34B-7)")
    assert notes[views["id"]].startswith(
        "Missed: due Tuesday 10 March 2026 10:00 (London), still not done when its need ended "
        "at Tuesday 10 March 2026 11:00 (London) (recorded missed by migration 0035: overtaken")
    kept = {row[0]: (row[1]["status"], row[2].replace(tzinfo=UTC) if row[2].tzinfo is None
                     else row[2]) for row in history}
    assert kept == {late["id"]: (["superseded", "missed"], LOWERED),
                    views["id"]: (["superseded", "missed"], marp)}
