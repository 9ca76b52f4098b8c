"""Issue 15 (goal 1): the statements of one judgement write. The record, its field-change
history, its audit entry and its outgoing event still commit together; on PostgreSQL the rows
only written (never read back in the write) go in the audit's sealed INSERT instead of a round
trip each."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.orm.exc import StaleDataError

from app.core.config import Settings
from app.core.db import build_engine, session_factory
from app.core.security import Principal
from app.domain.history import RecordChange, RecordedSession
from app.domain.judgements import JudgementCreate, record_judgement
from app.main import build_policy_context
from tests.conftest import BACKEND, Tenant


@contextmanager
def _statements() -> Iterator[list[str]]:
    """Every statement any engine of this process sends meanwhile."""
    seen: list[str] = []

    def listen(_conn: Any, _cursor: Any, statement: str, *_a: Any) -> None:
        seen.append(statement)

    engine = sa.engine.Engine
    event.listen(engine, "before_cursor_execute", listen)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", listen)


async def _judge(t: Tenant, case_id: str, level: str) -> dict[str, Any]:
    r = await t.client.post(f"/v1/cases/{case_id}/judgements", headers=t.auth("case_holder"),
                            json={"domain": "swb", "level": level,
                                  "occurred_at": "2026-08-28T10:00:00+01:00"})
    assert r.status_code == 201, r.text
    return r.json()["data"]  # type: ignore[no-any-return]


async def test_a_judgements_history_row_is_written_with_its_audit_entry(
        wokingham: Tenant, settings: Settings) -> None:
    """A second SWB judgement (low after medium) records the case's rating change in the
    field-change history, in the write's transaction; on PostgreSQL that row is inserted by
    the statement that inserts the write's sealed audit entry (one round trip fewer)."""
    case = (await wokingham.open_case(opened_at="2026-08-03T09:00:00+01:00"))["data"]["id"]
    first = await _judge(wokingham, case, "medium")
    with _statements() as seen:
        second = await _judge(wokingham, case, "low")
    # The statements that write history (a back-dated act also reads the case's holder history,
    # to know who held the role at its date: ATTACK27-2).
    history = [s for s in seen if "record_change" in s and not s.lstrip().startswith("SELECT")]
    # The contact level is flushed by the policy's step (read again before the judgement is
    # written), the rating by the commit: two history rows.
    if BACKEND == "postgres":
        assert [s.startswith("INSERT INTO record_change") for s in history] == [True, False]
        assert "INSERT INTO audit_entry" in history[1]
    engine = create_async_engine(settings.database_url)
    async with engine.connect() as conn:
        rows = (await conn.execute(sa.select(RecordChange).where(
            RecordChange.entity_id == uuid.UUID(case),  # type: ignore[arg-type]
            RecordChange.entity_type == "case").order_by(
            RecordChange.recorded_at))).all()  # type: ignore[arg-type]
    await engine.dispose()
    assert [r.actor_sub for r in rows] == ["line_manager-1"] + ["case_holder-1"] * 4
    assert [r.changes for r in rows[-2:]] == [
        {"contact_level": ["weekly", None]},
        {"ratings": [
            {"swb": {"level": "medium", "recorded_at": "2026-08-28T09:00:00Z",
                     "judgement_id": first["id"]}},
            {"swb": {"level": "low", "recorded_at": "2026-08-28T09:00:00Z",
                     "judgement_id": second["id"]}}]},
    ]
    assert rows[-1].created is False


async def test_a_judgement_row_is_written_with_its_audit_entry(wokingham: Tenant) -> None:
    """A judgement recorded by ``POST /v1/cases/{id}/judgements`` is read back as the write
    answered it; on PostgreSQL its row is inserted by the statement that inserts its sealed
    audit entry and outgoing event (the same transaction: one round trip fewer)."""
    case = (await wokingham.open_case(opened_at="2026-08-03T09:00:00+01:00"))["data"]["id"]
    with _statements() as seen:
        written = await _judge(wokingham, case, "medium")
    judgement = [s for s in seen if "judgement (" in s or '"judgement" (' in s]
    assert len(judgement) == 1
    if BACKEND == "postgres":
        assert judgement[0].startswith("WITH outbox_rows AS (INSERT INTO outbox_event")
        assert 'INSERT INTO "judgement"' in judgement[0]
        assert "INSERT INTO audit_entry" in judgement[0]
    r = await wokingham.client.get(f"/v1/cases/{case}/judgements",
                                   headers=wokingham.auth("case_holder"))
    assert r.status_code == 200, r.text
    assert r.json()["data"] == [written]
    assert (written["domain"], written["level"], written["previous_level"],
            written["recorded_by"], written["recorded_role"], written["occurred_at"],
            written["victims"]) == ("swb", "medium", None, "case_holder-1", "case_holder",
                                    "2026-08-28T09:00:00Z", [])
    r = await wokingham.client.get(f"/v1/cases/{case}/audit", params={"limit": 200},
                                   headers=wokingham.auth("line_manager"))
    assert r.status_code == 200, r.text
    [entry] = [e for e in r.json()["data"] if e["entity_id"] == written["id"]]
    assert (entry["action"], entry["actor"], entry["entity_type"]) == (
        "judgement.record", "case_holder-1", "judgement")


async def test_a_judgements_case_update_is_written_with_its_audit_entry(
        wokingham: Tenant, settings: Settings) -> None:
    """The case's new rating and version (one more, as the ORM's versioned UPDATE counts it)
    are written in the write's transaction; on PostgreSQL by the statement that inserts the
    write's sealed audit entry (a CTE, one round trip fewer), elsewhere by the flush; the
    history row of the rating change is written beside it either way."""
    case = (await wokingham.open_case(opened_at="2026-08-03T09:00:00+01:00"))["data"]["id"]
    engine = create_async_engine(settings.database_url)
    try:
        async def stored() -> tuple[int, dict[str, Any]]:
            async with engine.connect() as conn:
                row = (await conn.execute(sa.text(
                    'SELECT version, ratings FROM "case" WHERE id = :id'),
                    {"id": uuid.UUID(case) if BACKEND == "postgres" else uuid.UUID(case).hex}
                )).one()
            ratings = row[1] if isinstance(row[1], dict) else json.loads(row[1])
            return row[0], ratings
        version, _ = await stored()
        with _statements() as seen:
            written = await _judge(wokingham, case, "medium")
        # (SQLite's case lock is a no-op UPDATE; the policy's flush writes the contact level
        # the first rating gives: its own versioned UPDATE, before the rating's.)
        updates = [s for s in seen if 'UPDATE "case"' in s and 'SET id="case".id' not in s]
        [rating] = [s for s in updates if "ratings" in s]
        if BACKEND == "postgres":
            assert rating.startswith("WITH ")
            assert "INSERT INTO audit_entry" in rating
            assert 'INSERT INTO "record_change"' in rating
            assert rating.endswith(")")  # RETURNING (SELECT count(*) FROM u0_rows)
        after, ratings = await stored()
        assert after == version + len(updates)
        assert ratings["swb"] == {"level": "medium", "recorded_at": "2026-08-28T09:00:00Z",
                                  "judgement_id": written["id"]}
        # The next write reads the case at its new version and writes it again.
        with _statements() as seen:
            await _judge(wokingham, case, "low")
        more = [s for s in seen if 'UPDATE "case"' in s and 'SET id="case".id' not in s]
        assert (await stored())[0] == after + len(more)
    finally:
        await engine.dispose()


async def test_a_case_changed_since_it_was_read_fails_the_judgement_whole(
        wokingham: Tenant, settings: Settings) -> None:
    """The versioned UPDATE of the case keeps its check when it goes in the sealed INSERT: a
    case whose version moved after the write read it (here: by hand, on the write's own
    connection, under its lock) fails the commit with StaleDataError (412 for the API) and
    nothing of the write stays: no judgement, no audit entry, no history row, the rating as it
    was."""
    case_id = uuid.UUID(
        (await wokingham.open_case(opened_at="2026-08-03T09:00:00+01:00"))["data"]["id"])
    principal = Principal(sub="case_holder-1", roles=frozenset({"case_holder"}),
                          service=wokingham.slug)
    body = JudgementCreate.model_validate({"domain": "swb", "level": "medium"})
    key = case_id if BACKEND == "postgres" else case_id.hex
    engine = build_engine(settings)
    try:
        async with session_factory(engine, RecordedSession)() as session:
            written, _ = await record_judgement(session, principal, case_id, body,
                                                build_policy_context(settings))
            conn = await session.connection()
            await conn.execute(sa.text(
                'UPDATE "case" SET version = version + 1 WHERE id = :id'), {"id": key})
            with pytest.raises(StaleDataError):
                await session.commit()
            await session.rollback()
        async with engine.connect() as conn:
            judged = (await conn.execute(sa.text(
                "SELECT count(*) FROM judgement WHERE case_id = :id"), {"id": key})).scalar()
            audited = (await conn.execute(sa.text(
                "SELECT count(*) FROM audit_entry WHERE entity_id = :id"),
                {"id": written.id if BACKEND == "postgres" else written.id.hex})).scalar()
            changes = (await conn.execute(sa.text(
                "SELECT count(*) FROM record_change WHERE entity_id = :id AND created = :no"),
                {"id": key, "no": False})).scalar()
            ratings = (await conn.execute(sa.text(
                'SELECT ratings FROM "case" WHERE id = :id'), {"id": key})).scalar()
    finally:
        await engine.dispose()
    assert (judged, audited, changes) == (0, 0, 0)
    assert not (ratings if isinstance(ratings, dict) else json.loads(ratings or "{}"))


async def test_a_judgements_reason_on_an_open_step_is_written_with_its_audit_entry(
        wokingham: Tenant) -> None:
    """A judgement that asks again for a step already open gives it one more reason (one
    duty, one step) and an audit entry ``step.reason``; on PostgreSQL the step's UPDATE is in
    the statement that inserts the sealed audit entries (a CTE, one round trip fewer), not a
    flush of its own. The case then answers the step with the judgement among its reasons."""
    case = (await wokingham.open_case(opened_at="2026-08-03T09:00:00+01:00"))["data"]["id"]
    for domain, level in (("swb", "low"), ("lor", "low"), ("swb", "medium")):
        await wokingham.client.post(f"/v1/cases/{case}/judgements",
                                    headers=wokingham.auth("case_holder"),
                                    json={"domain": domain, "level": level})
    with _statements() as seen:
        r = await wokingham.client.post(f"/v1/cases/{case}/judgements",
                                        headers=wokingham.auth("case_holder"),
                                        json={"domain": "lor", "level": "medium"})
    assert r.status_code == 201, r.text
    written = r.json()
    step_updates = [s for s in seen if 'UPDATE step' in s or 'UPDATE "step"' in s]
    assert step_updates, "the benchmark's write gives an open step a reason"
    if BACKEND == "postgres":
        assert all(s.startswith("WITH ") and "INSERT INTO audit_entry" in s
                   for s in step_updates)
    given = [s for s in written["next_steps"]
             if any((reason.get("record") or {}).get("id") == written["data"]["id"]
                    for reason in s["reasons"])]
    assert given
    got = (await wokingham.client.get(f"/v1/cases/{case}",
                                      headers=wokingham.auth("case_holder"))).json()
    stored = {s["id"]: s["reasons"] for s in got["data"]["open_steps"]}
    assert all(stored[s["id"]] == s["reasons"] for s in given)
    r = await wokingham.client.get(f"/v1/cases/{case}/audit", params={"limit": 200},
                                   headers=wokingham.auth("line_manager"))
    reasons = [e for e in r.json()["data"] if e["action"] == "step.reason"
               and e["entity_id"] in {s["id"] for s in given}]
    assert len(reasons) >= len(given)


async def test_a_judgements_death_check_is_read_with_its_case_file(wokingham: Tenant) -> None:
    """A judgement dated after a recorded death is refused (409 ``after-final-event``, naming
    the death and its date: A19-17), one dated before it accepted; on PostgreSQL the case's
    final events are read by the case file's statement, under the case lock, not by a
    statement of their own (issue 15: one round trip fewer)."""
    case = (await wokingham.open_case(opened_at="2026-08-03T09:00:00+01:00"))["data"]["id"]
    r = await wokingham.client.post(f"/v1/cases/{case}/events", headers=wokingham.auth(
        "case_holder"), json={"type": "death", "occurred_at": "2026-08-29T10:00:00+01:00"})
    assert r.status_code == 201, r.text
    death = r.json()["data"]["id"]
    with _statements() as seen:
        r = await wokingham.client.post(
            f"/v1/cases/{case}/judgements", headers=wokingham.auth("case_holder"),
            json={"domain": "swb", "level": "high", "occurred_at": "2026-08-31T11:00:00+01:00"})
    assert r.status_code == 409, r.text
    assert r.json()["type"].endswith("/after-final-event")
    assert r.json()["final_event"] == {"type": "death", "id": death,
                                       "occurred_at": "2026-08-29T09:00:00Z"}
    if BACKEND == "postgres":
        reads = [s for s in seen if "case_event" in s]
        assert len(reads) == 1, reads
        assert "JOIN step" in reads[0]
        assert "FOR UPDATE" in seen[seen.index(reads[0]) - 1]  # the case lock, first
    await _judge(wokingham, case, "medium")  # 28 August: before the death, history


def test_the_case_files_statement_for_a_judgement_has_no_expanding_parameter() -> None:
    """Issue 15: the case file's statement of a judgement write (with the policy's inputs and
    the case's final events) names the live panel referral states as literal SQL, not as an
    expanding ``IN`` parameter, which SQLAlchemy renders into the cached statement's text again
    on every execution; the same for the policy's inputs read alone (SQLite, other writes).
    Which referrals count: panel referrals only, made before the act's instant and not
    withdrawn or declined by then (``made_at``, ``ended_at``, fix41c; they replaced the five
    live states, which said the same of the referral as it stands now), as literal SQL too."""
    from sqlalchemy.dialects import postgresql, sqlite

    from app.domain import access, policy
    from app.domain.final_events import final_events_column

    also = (policy.inputs_column(), final_events_column())
    statements = [access._case_file_with_open_steps_query(wide, holder, manager, also)
                  for wide in (False, True) for holder in (False, True)
                  for manager in (False, True)]
    for dialect in (postgresql.asyncpg.dialect(), sqlite.dialect()):
        for statement in [*statements, policy._INPUTS]:
            compiled = statement.compile(dialect=dialect)
            assert "POSTCOMPILE" not in compiled.string
            assert not any(b.expanding for b in compiled.binds.values())
            assert "referral.kind = 'panel' AND referral.made_at < " in compiled.string
            assert "(referral.ended_at IS NULL OR referral.ended_at > " in compiled.string


async def test_a_judgements_audit_entry_is_sealed_by_the_statement_that_inserts_it(
        wokingham: Tenant, settings: Settings) -> None:
    """Issue 15: on PostgreSQL the audit chain's lock, its head and the entry's hash are taken
    by the statement that inserts the write's sealed audit entry (``yjrisk_audit_seal``,
    migration 0029), not by a statement of their own before it (one round trip fewer); the
    entry is still written sealed, next in its chain, with the hash Python computes and
    verifies, on both databases."""
    from app.domain.audit import AuditEntry, chain_hash, verify_chains

    case = (await wokingham.open_case(opened_at="2026-08-03T09:00:00+01:00"))["data"]["id"]
    await _judge(wokingham, case, "medium")
    with _statements() as seen:
        written = await _judge(wokingham, case, "low")
    inserts = [s for s in seen if "INSERT INTO audit_entry" in s]
    assert len(inserts) == 1
    if BACKEND == "postgres":
        assert not [s for s in seen if "yjrisk_audit_chain_head" in s or "head_seq" in s]
        assert "FROM yjrisk_audit_seal(" in inserts[0]
        assert seen[-1] is inserts[0]
    engine = build_engine(settings)
    try:
        async with session_factory(engine)() as session:
            entry = (await session.exec(sa.select(AuditEntry).where(
                AuditEntry.entity_id == uuid.UUID(written["id"])))).scalar_one()  # type: ignore[call-overload, arg-type]
            before = (await session.exec(sa.select(AuditEntry).where(
                AuditEntry.chain == entry.chain,  # type: ignore[arg-type]
                AuditEntry.seq == entry.seq - 1))).scalar_one()  # type: ignore[call-overload, operator]
            assert (entry.prev_hash, entry.hash) == (before.hash,
                                                     chain_hash(before.hash, entry))
            assert (await verify_chains(session, [entry.chain])).ok
    finally:
        await engine.dispose()


async def test_a_judgement_asks_its_rows_history_without_an_attribute_state_each(
        wokingham: Tenant, settings: Settings) -> None:
    """Issue 15: whether the case and its steps changed, and what their history rows and
    UPDATEs hold, is asked of the changed attributes' histories alone: the write builds no
    ORM ``AttributeState`` for every mapped attribute of the case (``InstanceState.attrs``,
    ~40) or of a step. The write is whole: the rating stored, its history row written."""
    from app.domain.cases_table import Case
    from app.domain.steps import Step

    case_id = uuid.UUID(
        (await wokingham.open_case(opened_at="2026-08-03T09:00:00+01:00"))["data"]["id"])
    principal = Principal(sub="case_holder-1", roles=frozenset({"case_holder"}),
                          service=wokingham.slug)
    engine = build_engine(settings)
    try:
        for level in ("medium", "low"):
            body = JudgementCreate.model_validate({"domain": "swb", "level": level})
            async with session_factory(engine, RecordedSession)() as session:
                await record_judgement(session, principal, case_id, body,
                                       build_policy_context(settings))
                rows = [o for o in session.identity_map.values()
                        if isinstance(o, Case | Step)]
                await session.commit()
                assert any(isinstance(o, Case) for o in rows)
                assert [o for o in rows if "attrs" in vars(sa.inspect(o))] == []
        async with engine.connect() as conn:
            changes = (await conn.execute(sa.select(RecordChange.changes).where(
                RecordChange.entity_id == case_id,  # type: ignore[arg-type]
                RecordChange.entity_type == "case").order_by(
                RecordChange.recorded_at))).scalars().all()  # type: ignore[arg-type]
    finally:
        await engine.dispose()
    assert [c["ratings"][1]["swb"]["level"] for c in changes
            if "ratings" in c and c["ratings"][1]] == [
        "medium", "low"]


def _log_simple_queries(engine: Any, sent: list[str]) -> None:
    """Note the queries asyncpg's query logger sees on the engine's connections: its simple
    queries (BEGIN, COMMIT, ROLLBACK, PREPARE) and its own type introspection, not the
    executions of SQLAlchemy's prepared statements."""
    def connect(dbapi: Any, _record: Any) -> None:
        dbapi._connection.add_query_logger(lambda record: sent.append(record.query))

    event.listen(engine.sync_engine, "connect", connect)


@pytest.mark.skipif(BACKEND != "postgres", reason="asyncpg's BEGIN round trip (PostgreSQL)")
async def test_a_judgements_case_lock_is_sent_with_its_begin(
        wokingham: Tenant, settings: Settings) -> None:
    """Issue 15: on PostgreSQL a judgement write's transaction is opened by the same round trip
    as its first statement, the case lock (``BEGIN; EXECUTE <the lock, prepared on the
    connection once>``), not by a BEGIN of its own: four round trips a write (that one, the
    case file, the sealed INSERT, COMMIT). The statements are the same three, the lock first
    and seen by SQLAlchemy's events; the write is one transaction, committed whole."""
    import asyncio
    import re

    case_id = uuid.UUID(
        (await wokingham.open_case(opened_at="2026-08-03T09:00:00+01:00"))["data"]["id"])
    principal = Principal(sub="case_holder-1", roles=frozenset({"case_holder"}),
                          service=wokingham.slug)
    engine = build_engine(settings.model_copy(update={"db_ping_after_idle_seconds": 3600}))
    sent: list[str] = []
    _log_simple_queries(engine, sent)
    try:
        for level in ("medium", "low", "medium"):
            body = JudgementCreate.model_validate({"domain": "swb", "level": level})
            sent.clear()
            async with session_factory(engine, RecordedSession)() as session:
                with _statements() as seen:
                    await record_judgement(session, principal, case_id, body,
                                           build_policy_context(settings))
                    await session.commit()
            await asyncio.sleep(0)  # asyncpg calls its query loggers soon, not at once
            assert "FOR UPDATE" in seen[0], seen
            begin = [q for q in sent if q.split()[0] in ("BEGIN;", "COMMIT;", "ROLLBACK;")]
            assert len(begin) == 2, sent
            assert re.fullmatch(rf"BEGIN;\nEXECUTE yj_lock_\d+\('{case_id}'\)", begin[0]), sent
            assert begin[1] == "COMMIT;"
        async with engine.connect() as conn:
            levels = (await conn.execute(sa.text(
                "SELECT level FROM judgement WHERE case_id = :id ORDER BY created_at"),
                {"id": case_id})).scalars().all()
    finally:
        await engine.dispose()
    assert levels == ["medium", "low", "medium"]


@pytest.mark.skipif(BACKEND != "postgres", reason="asyncpg's BEGIN round trip (PostgreSQL)")
@pytest.mark.parametrize("timeout", ["server", "client"])
async def test_a_case_lock_that_fails_with_its_begin_fails_as_alone_and_rolls_back(
        wokingham: Tenant, settings: Settings, timeout: str) -> None:
    """A case lock sent with its BEGIN that fails, the case's row held by another transaction
    (PostgreSQL's ``lock_timeout``: an error from the server; or the driver's own statement
    timeout: asyncpg cancels the query), raises what the lock sent after a BEGIN of its own
    raised (the same class, the same cause: a 503 for the API), and the transaction it opened
    is rolled back: the connection goes on to the next write, which sends the lock with its
    BEGIN again, and commits."""
    import asyncio

    from app.domain.access import lock_case

    case_id = uuid.UUID(
        (await wokingham.open_case(opened_at="2026-08-03T09:00:00+01:00"))["data"]["id"])
    principal = Principal(sub="case_holder-1", roles=frozenset({"case_holder"}),
                          service=wokingham.slug)
    engine = build_engine(settings.model_copy(update={
        "db_ping_after_idle_seconds": 3600,
        "db_statement_timeout_seconds": 0.3 if timeout == "client" else 5}))
    # The server gives up first (lock_timeout), or the driver (its statement timeout, which
    # the server's, set at 0.3 s too, must not outrun).
    setting = ("SET lock_timeout = '100ms'" if timeout == "server"
               else "SET statement_timeout = '10s'")

    def set_timeout(dbapi: Any, _record: Any) -> None:
        dbapi.run_async(lambda conn: conn.execute(setting))

    event.listen(engine.sync_engine, "connect", set_timeout)
    holder = create_async_engine(settings.database_url)
    sent: list[str] = []
    _log_simple_queries(engine, sent)
    errors: list[tuple[type, ...]] = []
    used: list[Any] = []  # the driver's connection of each checkout
    event.listen(engine.sync_engine, "checkout",
                 lambda dbapi, _record, _proxy: used.append(dbapi._connection))
    try:
        async with holder.connect() as other:
            await other.execute(sa.text('SELECT id FROM "case" WHERE id = :id FOR UPDATE'),
                                {"id": case_id})
            for begun_first in (False, True):  # with its BEGIN; after a statement (as before)
                async with session_factory(engine, RecordedSession)() as session:
                    if begun_first:
                        await (await session.connection()).execute(sa.text("SELECT 1"))
                    with pytest.raises(Exception) as caught:  # noqa: PT011 - compared below
                        await lock_case(session, case_id)
                    error = caught.value
                    cause = getattr(error, "orig", None)
                    errors.append((type(error), type(cause), type(getattr(cause, "__cause__",
                                                                         None))))
                    await session.rollback()
            await other.rollback()
        sent.clear()
        async with session_factory(engine, RecordedSession)() as session:
            await record_judgement(session, principal, case_id, JudgementCreate.model_validate(
                {"domain": "swb", "level": "medium"}), build_policy_context(settings))
            await session.commit()
        await asyncio.sleep(0)  # asyncpg calls its query loggers soon, not at once
        final = [q for q in sent if q.split()[0] in ("BEGIN;", "COMMIT;", "ROLLBACK;")]
        async with engine.connect() as conn:
            judged = (await conn.execute(sa.text(
                "SELECT count(*) FROM judgement WHERE case_id = :id"), {"id": case_id})).scalar()
    finally:
        await engine.dispose()
        await holder.dispose()
    assert errors[0] == errors[1]
    assert {"server": ("DBAPIError", "LockNotAvailableError"),
            "client": ("TimeoutError", "NoneType")}[timeout] == (
        errors[0][0].__name__, errors[0][2].__name__)
    # The connection failed with its BEGIN is kept (or replaced) as the one failed after it is.
    assert (used[0] is used[1]) == (used[1] is used[2])
    assert len(final) == 2, final
    assert final[0].startswith("BEGIN;\nEXECUTE yj_lock_")
    assert final[1] == "COMMIT;"
    assert judged == 1
