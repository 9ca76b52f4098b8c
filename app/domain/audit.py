"""The audit trail: every write appends an entry in the same transaction as the write.

Tamper evidence (issue 13): entries form one hash chain per service (``chain`` = the service id,
or ``platform`` for entries of no service). Each entry stores its position ``seq``, the hash of
the entry before it, and ``hash = SHA-256(prev_hash || canonical JSON of the entry)``. The chain
is extended at commit time, under a lock that serialises every writer of that chain: PostgreSQL
takes a transaction-scoped advisory lock keyed by the chain; SQLite holds its database write
lock (taken by the write's flush, or a no-op UPDATE). Taking the lock last, just before the
commit, means no other lock is ever requested while it is held (no deadlock with the case
locks), and a unique ``(chain, seq)`` constraint refuses a fork even if the lock were bypassed.
A transaction's entries are kept in memory until then and written in one INSERT with their
``seq``, ``prev_hash`` and ``hash`` already set (never stored unsealed), in the same transaction
as the write they record. On PostgreSQL, when they are of one chain (every write of one case),
that INSERT seals them itself: ``yjrisk_audit_seal`` (migration 0029), run once by the
statement, takes the chain's lock, reads its head with a snapshot taken after the lock and
hashes each entry's canonical JSON, which Python makes
(:func:`canonical_parts`): the same bytes, the same hash, one round trip fewer.

Verification (:func:`verify_chains`) recomputes every hash in order. It finds any edited,
inserted or deleted entry except the removal of the newest ones; for that, an operator anchors
the latest hash outside the database (see the README, "Anchoring the audit chain").
"""

from __future__ import annotations

import functools
import hashlib
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple

import sqlalchemy as sa
from pydantic import BaseModel
from sqlalchemy import event
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session as SyncSession
from sqlalchemy.orm.attributes import instance_state, set_committed_value
from sqlalchemy.orm.exc import StaleDataError
from sqlmodel import Field, SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.core.db import DriverStatement
from app.core.security import Principal
from app.domain import history, outbox, paging
from app.domain.common import JSONType, advisory_key, new_id, utcnow
from app.domain.outbox import OutboxEvent


class AuditEntry(SQLModel, table=True):
    """Who did what to which record, when, with a digest of the change."""

    __tablename__ = "audit_entry"
    __table_args__ = (
        sa.Index("ix_audit_entry_case_at", "case_id", "at"),
        sa.UniqueConstraint("chain", "seq", name="uq_audit_entry_chain_seq"),
    )

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    service_id: uuid.UUID | None = Field(default=None, foreign_key="service.id", index=True)
    case_id: uuid.UUID | None = Field(default=None)
    actor_sub: str = Field(max_length=128)
    actor_role: str = Field(max_length=64)
    action: str = Field(max_length=64)
    entity_type: str = Field(max_length=32)
    entity_id: uuid.UUID
    at: datetime = Field(default_factory=utcnow)
    changed_fields: list[str] = Field(default_factory=list, sa_type=JSONType)
    reason: str | None = Field(default=None, max_length=2000)
    digest: str = Field(max_length=64)
    # Hash chain (set at commit; never null once committed).
    chain: str = Field(max_length=36)
    seq: int | None = None
    prev_hash: str | None = Field(default=None, max_length=64)
    hash: str | None = Field(default=None, max_length=64)


class AuditOut(BaseModel):
    """An audit entry as managers and chairs see it."""

    id: uuid.UUID
    actor: str
    role: str
    action: str
    entity_type: str
    entity_id: uuid.UUID
    at: datetime
    fields: list[str]
    reason: str | None
    digest: str
    hash: str | None


# ``json.dumps`` with options builds a ``JSONEncoder`` on every call and calls its ``encode``:
# the encoders are made once here (stateless between calls), so the text is ``json.dumps``'s.
_DIGEST_JSON = json.JSONEncoder(sort_keys=True, default=str, separators=(",", ":"))
_CANONICAL_JSON = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def digest_of(change: Any) -> str:
    """SHA-256 of the canonical JSON of a change, so tampering with history is evident."""
    canonical = _DIGEST_JSON.encode(change)
    return hashlib.sha256(canonical.encode()).hexdigest()


def acting_role(principal: Principal, preferred: str | None = None) -> str:
    """The role a write was made under: the one that authorised it, else all roles."""
    if preferred:
        return preferred
    return ",".join(sorted(principal.roles))


async def record_audit(
    session: AsyncSession,
    principal: Principal,
    action: str,
    entity_type: str,
    entity_id: uuid.UUID,
    *,
    service_id: uuid.UUID | None,
    case_id: uuid.UUID | None = None,
    change: dict[str, Any] | None = None,
    role: str | None = None,
    reason: str | None = None,
    at: datetime | None = None,
) -> AuditRow:
    """Append an audit entry to the current unit of work: it is written, already sealed into
    its chain, just before the transaction commits (see :func:`_seal`); a rollback drops it.
    Answers the entry as plain data (an :class:`AuditRow`: no ORM object, which cost more to
    build than the rest of the entry); ``seq`` and ``hash`` are set when it is sealed."""
    row = audit_row(principal, action, entity_type, entity_id, service_id=service_id,
                    case_id=case_id, change=change, role=role, reason=reason, at=at)
    sync = session.sync_session
    if not sync.in_transaction():
        sync.begin()  # so that a rollback before any statement still drops the entry
    sync.info.setdefault(_UNSEALED, []).append(row)
    return row


async def case_audit(session: AsyncSession, case_id: uuid.UUID) -> list[AuditOut]:
    """The case's whole audit trail, oldest first (the subject access export)."""
    rows = await session.exec(
        select(AuditEntry).where(AuditEntry.case_id == case_id)
        .order_by(col(AuditEntry.at), col(AuditEntry.seq), col(AuditEntry.id))
    )
    return [_audit_out(e) for e in rows]


AUDIT_ORDER = paging.Order(
    ((AuditEntry.at, "instant"), (AuditEntry.seq, "int"), (AuditEntry.id, "uuid")))


async def case_audit_page(
    session: AsyncSession, case_id: uuid.UUID, page: paging.PageArgs
) -> tuple[list[AuditOut], str | None]:
    """A page of the case's audit trail, oldest first, and the next page's cursor."""
    rows, following = await paging.keyset_page(
        session, select(AuditEntry).where(AuditEntry.case_id == case_id), AUDIT_ORDER, page,
        {"list": "audit", "case": str(case_id)})
    return [_audit_out(e) for e in rows], following


def _audit_out(e: AuditEntry) -> AuditOut:
    return AuditOut(
        id=e.id, actor=e.actor_sub, role=e.actor_role, action=e.action,
        entity_type=e.entity_type, entity_id=e.entity_id, at=e.at, fields=e.changed_fields,
        reason=e.reason, digest=e.digest, hash=e.hash,
    )


GENESIS = "0" * 64
PLATFORM_CHAIN = "platform"
_UNSEALED = "audit_unsealed"  # session.info: this transaction's entries, not yet written


def chain_of(service_id: uuid.UUID | None) -> str:
    """The chain an entry belongs to: its service's id, or ``platform``."""
    return str(service_id) if service_id is not None else PLATFORM_CHAIN


def _content(entry: AuditEntry | AuditRow) -> dict[str, Any]:
    """What an entry's hash covers: every column but ``prev_hash`` and ``hash``, as JSON
    values (UTC times to the microsecond)."""
    at = entry.at.astimezone(UTC).isoformat(timespec="microseconds")
    return {
        "id": str(entry.id), "chain": entry.chain, "seq": entry.seq,
        "service_id": str(entry.service_id) if entry.service_id else None,
        "case_id": str(entry.case_id) if entry.case_id else None,
        "actor_sub": entry.actor_sub, "actor_role": entry.actor_role, "action": entry.action,
        "entity_type": entry.entity_type, "entity_id": str(entry.entity_id), "at": at,
        "changed_fields": list(entry.changed_fields), "reason": entry.reason,
        "digest": entry.digest,
    }


def _canonical_json(content: dict[str, Any]) -> str:
    """``json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)``."""
    return _CANONICAL_JSON.encode(content)


def canonical_entry(entry: AuditEntry | AuditRow) -> bytes:
    """The canonical JSON of an entry's content (sorted keys, no spaces, UTC times to the
    microsecond), which its hash covers: every column but ``prev_hash`` and ``hash``."""
    return _canonical_json(_content(entry)).encode()


def canonical_parts(entry: AuditEntry | AuditRow) -> tuple[bytes, bytes]:
    """An entry's canonical JSON (:func:`canonical_entry`) cut around its ``seq``'s value, as
    UTF-8 bytes ``(head, tail)``: at position ``seq``, ``head + str(seq).encode() + tail`` is
    its canonical JSON, whatever ``seq`` the entry has now. PostgreSQL's
    ``yjrisk_audit_seal`` (migration 0029) hashes these around the position it gives the
    entry, so the JSON is only ever made here (one serialisation, byte for byte)."""
    content = _content(entry)
    del content["seq"]
    before = _canonical_json({k: v for k, v in content.items() if k < "seq"})[1:-1]
    after = _canonical_json({k: v for k, v in content.items() if k > "seq"})[1:-1]
    head = "{" + (before + "," if before else "") + '"seq":'
    tail = ("," + after if after else "") + "}"
    return head.encode(), tail.encode()


def chain_hash(prev_hash: str, entry: AuditEntry | AuditRow) -> str:
    """``SHA-256(prev_hash || canonical JSON of the entry)`` as 64 hex digits."""
    return hashlib.sha256(prev_hash.encode() + canonical_entry(entry)).hexdigest()


def _advisory_key(chain: str) -> int:
    """A signed 64-bit PostgreSQL advisory lock key for a chain."""
    return advisory_key(f"yjrisk-audit:{chain}")


_COLUMNS = ("id", "service_id", "case_id", "actor_sub", "actor_role", "action", "entity_type",
            "entity_id", "at", "changed_fields", "reason", "digest", "chain", "seq", "prev_hash",
            "hash")
_CONTENT_COLUMNS = _COLUMNS[:-3]  # all but the seal's: seq, prev_hash, hash


_AT_SEAL = "rows_at_seal"  # session.info: (table, row) only written, inserted by the seal


def insert_at_seal(session: AsyncSession, table: Any, row: dict[str, Any]) -> None:
    """Have ``row`` inserted into ``table`` by this transaction's sealed audit INSERT (on
    PostgreSQL one statement with the audit entries; elsewhere just before them), not now: for
    a row of a write that reads nothing back after it (issue 15: a round trip fewer). It is
    written in the same transaction before the commit, or not at all (a rollback drops it)."""
    sync = session.sync_session
    if not sync.in_transaction():
        sync.begin()
    sync.info.setdefault(_AT_SEAL, []).append((table, row))


_UPDATE_AT_SEAL = "updates_at_seal"  # session.info: objects whose changes the seal writes


def update_at_seal(session: AsyncSession, obj: Any) -> None:
    """Have the pending changes of ``obj`` (a row the write holds locked: a
    :class:`~app.domain.cases_table.Case` after ``lock_case``, one of its steps) written on
    PostgreSQL by this transaction's sealed audit INSERT (a CTE: one round trip fewer, issue
    15) instead of the commit's flush: the same UPDATE (the changed columns; a versioned row's
    version counted up, ``WHERE`` its id and the version it was read at) and the same
    field-change history row. A row the UPDATE does not find (a versioned row changed
    meanwhile) makes the commit fail with ``StaleDataError``, as the flush would. For a write
    that changes it no further and reads nothing back after this call; elsewhere (SQLite, a
    seal that writes no entry) the commit's flush writes it as usual."""
    sync = session.sync_session
    if not sync.in_transaction():
        sync.begin()
    sync.info.setdefault(_UPDATE_AT_SEAL, []).append(obj)


class _Update(NamedTuple):
    """A row's UPDATE taken out of the flush: its table, the parameters (the changed columns
    by name, ``yj_id``, and ``yj_was`` for a versioned row), the columns set (the version's
    last) and the version column's name (None: the row has none)."""

    table: Any
    params: dict[str, Any]
    columns: tuple[str, ...]
    version: str | None


class _Mapped(NamedTuple):
    """What :func:`_take_update` asks of a mapper, found once per mapper (not per row): its
    column attributes by key, its version column and that column's attribute key (None: it
    has none), and the keys a flush must write itself (the version, the primary key)."""

    columns: dict[str, Any]
    version: Any
    version_key: str | None
    hands_off: frozenset[str]


@functools.cache
def _mapped(mapper: Any) -> _Mapped | None:
    """A mapper's :class:`_Mapped`; None unless it maps one table with a one-column key."""
    if len(mapper.tables) != 1 or len(mapper.primary_key) != 1:
        return None
    columns = {prop.key: prop for prop in mapper.column_attrs}
    version = mapper.version_id_col
    version_key = mapper.get_property_by_column(version).key if version is not None else None
    return _Mapped(columns, version, version_key, frozenset(
        key for key, prop in columns.items()
        if key == version_key or prop.columns[0].primary_key))


def _take_update(sync: SyncSession, obj: Any, history_rows: list[dict[str, Any]], now: datetime,
                 actor: str | None = None, acts: dict[Any, Any] | None = None,
                 step_acts: dict[Any, Any] | None = None,
                 roles: dict[Any, Any] | None = None) -> _Update | None:
    """``obj``'s pending UPDATE, taken out of the flush (:func:`update_at_seal`), as the flush
    would write it (the columns changed since it was loaded; a versioned row's version counted
    up and checked); its history row (by ``actor``, with the session's act times ``acts`` and
    ``step_acts``: :data:`history.ACT_AT`, :data:`history.STEP_ACT_AT`) added to
    ``history_rows``; the object marked as written (at its new version). None, for
    the flush to write, if it has nothing to write or is not a persistent row of one table
    with one key whose columns alone changed."""
    state: Any = instance_state(obj)
    if not state.modified or state.key is None or state.deleted:
        return None
    mapped = _mapped(state.mapper)
    if mapped is None:
        return None
    columns = mapped.columns
    changed = []
    for key in state.committed_state:
        prop = columns.get(key)
        if prop is None:
            return None  # more than columns changed: the flush's business
        if history.attribute_history(state, key).has_changes():
            changed.append(prop)
    if not changed:
        return None
    if not mapped.hands_off.isdisjoint(prop.key for prop in changed):
        return None  # a version or key set by hand: the flush's business
    row = history.change_row(obj, False, actor, now, acts or {}, step_acts, roles)
    if row is not None:
        history_rows.append(row)
    values = state.dict
    params = {prop.columns[0].name: values[prop.key] for prop in changed}
    set_columns = tuple(params)
    version, version_key = mapped.version, mapped.version_key
    if version_key is not None:
        was = values[version_key]
        params[version.name] = was + 1
        params["yj_was"] = was
        set_columns += (version.name,)
    params["yj_id"] = state.identity[0]
    state._commit_all(values, sync.identity_map)  # as the flush marks what it wrote
    if version_key is not None:
        set_committed_value(obj, version_key, params[version.name])
    return _Update(state.mapper.local_table, params, set_columns,
                   version.name if version_key is not None else None)


_AFTER_SEAL = "run_after_seal"  # session.info: what runs last, after the seal


def run_after_seal(session: AsyncSession, run: Callable[[SyncSession], None]) -> None:
    """Have ``run(sync_session)`` called last before this transaction commits, after its audit
    entries are sealed (a rollback drops it): for an idempotent INSERT of a row that other
    writers may be inserting at the same moment (``ON CONFLICT DO NOTHING``). The writer that
    inserted it first then requests no other lock until it commits, so a writer waiting for
    its row can never close a cycle of waits, as the chain's lock taken last keeps no case
    lock waiting (above)."""
    sync = session.sync_session
    if not sync.in_transaction():
        sync.begin()
    sync.info.setdefault(_AFTER_SEAL, []).append(run)


@event.listens_for(SyncSession, "before_commit")
def _seal(sync: SyncSession) -> None:
    """Seal this transaction's audit entries (:func:`_seal_entries`), then run what was asked
    to run after them (:func:`run_after_seal`)."""
    _seal_entries(sync)
    for run in sync.info.pop(_AFTER_SEAL, ()):
        run(sync)


def _seal_entries(sync: SyncSession) -> None:
    """Write this transaction's audit entries, each chain extended under its lock, and its
    outgoing events (runs just before the commit, inside the async session's greenlet, so
    blocking calls are fine).

    The unit of work is flushed first (the write itself; the field-change history rows of that
    last flush are kept back, :data:`app.domain.history.COLLECT`). Then, chain by chain in one
    order: the lock (PostgreSQL: a transaction-scoped advisory lock; SQLite: its write lock,
    taken by the flush, the events' INSERT or a no-op UPDATE before the first head is read),
    the head (newest ``seq`` and ``hash``), the hashes of the new entries computed in one pass;
    finally the entries, already sealed (no entry is ever stored without its hash), in one
    INSERT (PostgreSQL: one statement with the events' and the kept-back rows' INSERTs as
    CTEs; SQLite: executemany, the other rows first). On PostgreSQL, entries of one chain are
    sealed by that INSERT itself (the lock, the head and the hashes: ``yjrisk_audit_seal``,
    :func:`_sealed_insert`), not by a statement before it.
    """
    pending: list[AuditRow] = sync.info.pop(_UNSEALED, [])
    events: list[outbox.PendingEvent] = sync.info.pop(outbox.PENDING, [])
    at_seal: list[tuple[Any, dict[str, Any]]] = sync.info.pop(_AT_SEAL, [])
    deferred: list[Any] = sync.info.pop(_UPDATE_AT_SEAL, [])
    if not pending and not events and not at_seal:
        return
    if pending:
        # One write is one act: its entries carry one time (when it was first recorded), and
        # the record's own entries (the case, the judgement, the referral ...) come before the
        # steps it mandated, in the chain and in every trail read in (at, seq) order.
        pending.sort(key=lambda e: e.entity_type == "step")
        first_at = min(e.at for e in pending)
        for entry in pending:
            entry.at = first_at
    conn = sync.connection()
    postgres = conn.dialect.name == "postgresql"
    history_rows: list[dict[str, Any]] = []
    updates: list[_Update] = []
    if postgres and pending:
        now = utcnow()
        actor, acts = history.actor_of(sync), sync.info.get(history.ACT_AT) or {}
        step_acts = sync.info.get(history.STEP_ACT_AT)  # taken from by the rows (one each)
        roles = sync.info.get(history.ACT_ROLE)
        for obj in deferred:  # the UPDATE in the sealed INSERT, not in the flush below
            update = _take_update(sync, obj, history_rows, now, actor, acts, step_acts, roles)
            if update is not None:
                updates.append(update)
        sync.info[history.COLLECT] = history_rows
    try:
        sync.flush()
    finally:
        sync.info.pop(history.COLLECT, None)
    extra: list[tuple[Any, list[dict[str, Any]]]] = []
    for extra_table, row in at_seal:  # by table and columns, in the order given
        if extra and extra[-1][0] is extra_table and tuple(extra[-1][1][0]) == tuple(row):
            extra[-1][1].append(row)
        else:
            extra.append((extra_table, [row]))
    if history_rows:
        extra.append((history.RecordChange.__table__, history_rows))  # type: ignore[attr-defined]
    table: Any = AuditEntry.__table__  # type: ignore[attr-defined]
    event_table: Any = OutboxEvent.__table__  # type: ignore[attr-defined]
    together = postgres and bool(pending) and (
        len(pending) + len(events) + sum(len(rows) for _, rows in extra)) <= 500
    if not together:
        for update in updates:
            _check_updated(conn.execute(_update_statement(
                update.table, update.columns, update.version), update.params).rowcount,
                1, update.table)
        updates = []
        for extra_table, extra_rows in extra:
            conn.execute(sa.insert(extra_table), extra_rows)
        extra = []
    if events and not together:
        conn.execute(sa.insert(event_table), outbox.rows_of(events))
    if not pending:
        return
    if not postgres:
        conn.execute(sa.update(table).where(sa.false()).values(seq=table.c.seq))
    chains = sorted({e.chain for e in pending})
    # PostgreSQL, one chain (every write of one case): the chain's lock, its head and the
    # entries' hashes in the sealed INSERT itself (migration 0029: one round trip fewer).
    sealing = together and len(chains) == 1
    for chain in () if sealing else chains:  # one lock order for every writer
        if postgres:  # the lock, then the head, in one round trip (migration 0016)
            head = conn.execute(_LOCKED_HEAD, {"chain": chain, "key": _advisory_key(chain)}
                                ).first()
        else:
            head = conn.execute(_HEAD, {"chain": chain}).first()
        seq, prev = _after(head)
        for entry in pending:
            if entry.chain == chain:
                seq += 1
                entry.seq, entry.prev_hash = seq, prev
                entry.hash = prev = chain_hash(prev, entry)
    if not (together and (events or extra or updates or sealing)):
        conn.execute(sa.insert(table), [{c: getattr(e, c) for c in _COLUMNS} for e in pending])
        return
    if sealing:
        params = {f"a{i}_{c}": getattr(e, c) for i, e in enumerate(pending)
                  for c in _CONTENT_COLUMNS}
        parts = [canonical_parts(e) for e in pending]
        params.update(yj_chain=chains[0], yj_key=_advisory_key(chains[0]),
                      yj_heads=[head for head, _ in parts], yj_tails=[tail for _, tail in parts])
    else:
        params = {f"a{i}_{c}": getattr(e, c) for i, e in enumerate(pending) for c in _COLUMNS}
    params.update({f"o{i}_{c}": v for i, row in enumerate(outbox.rows_of(events))
                   for c, v in row.items()})
    shapes = []
    for k, (extra_table, extra_rows) in enumerate(extra):
        columns = tuple(extra_rows[0])
        shapes.append((extra_table, columns, len(extra_rows)))
        params.update({f"x{k}_{i}_{c}": row[c] for i, row in enumerate(extra_rows)
                       for c in columns})
    for k, update in enumerate(updates):
        params.update({f"u{k}_{c}": v for c, v in update.params.items()})
    done: Any = _sealed_insert(len(pending), len(events), tuple(shapes), tuple(
        (update.table, update.columns, update.version) for update in updates), sealing
    ).execute(conn, params)
    if sealing:  # the positions and hashes the statement gave, in the entries' order
        sealed = sorted(done.all(), key=lambda given: given[0])
        if len(sealed) != len(pending):
            raise RuntimeError("the sealed INSERT answered another number of audit entries")
        for entry, given in zip(pending, sealed, strict=True):
            entry.seq, entry.prev_hash, entry.hash = given[0], given[1], given[2]
        matched = sealed[0][3] if updates else None
    else:
        matched = done.scalar() if updates else None
    if updates:  # the UPDATEs' rows, counted by the INSERT's RETURNING
        _check_updated(matched, len(updates), updates[0].table)


def _check_updated(matched: Any, expected: int, table: Any) -> None:
    """Raise as the flush does when a versioned UPDATE matched fewer rows than it should (a
    row changed by someone else since it was read: 412 for the API, the write rolled back)."""
    if matched != expected:
        raise StaleDataError(f"UPDATE statement on table '{table.name}' expected to update "
                             f"{expected} row(s); {matched} were matched.")


_UPDATE_STATEMENTS: dict[tuple[Any, ...], Any] = {}


def _update_statement(table: Any, columns: tuple[str, ...], version: str | None,
                      prefix: str = "") -> Any:
    """``UPDATE table SET columns ... WHERE id = :yj_id`` (``AND version = :yj_was`` for a
    versioned row) as text with typed parameters, named ``{prefix}{column}``."""
    key = (table.name, columns, version, prefix)
    statement = _UPDATE_STATEMENTS.get(key)
    if statement is not None:
        return statement
    ident = next(iter(table.primary_key.columns)).name
    binds = [sa.bindparam(f"{prefix}{c}", type_=table.c[c].type) for c in columns]
    binds.append(sa.bindparam(f"{prefix}yj_id", type_=table.c[ident].type))
    sets = ", ".join(f'"{c}" = :{prefix}{c}' for c in columns)
    where = f'"{ident}" = :{prefix}yj_id'
    if version is not None:
        binds.append(sa.bindparam(f"{prefix}yj_was", type_=table.c[version].type))
        where += f' AND "{version}" = :{prefix}yj_was'
    statement = sa.text(f'UPDATE "{table.name}" SET {sets} WHERE {where}').bindparams(*binds)
    if len(_UPDATE_STATEMENTS) < 256:
        _UPDATE_STATEMENTS[key] = statement
    return statement


_SEALED_INSERTS: dict[tuple[Any, ...], DriverStatement] = {}


def _sealed_insert(entries: int, events: int,
                   extra: tuple[tuple[Any, tuple[str, ...], int], ...] = (),
                   updates: tuple[tuple[Any, tuple[str, ...], str | None], ...] = (),
                   sealing: bool = False) -> DriverStatement:
    """PostgreSQL: one statement inserting ``entries`` audit entries and, as CTEs, ``events``
    outbox events, the ``extra`` rows (per table: its columns and how many rows) and the
    ``updates`` (per row: its table, the columns set and its version column,
    :func:`_update_statement`), which it
    answers the number of rows of in its RETURNING (parameters ``a{i}_{column}``,
    ``o{i}_{column}``, ``x{k}_{i}_{column}``, ``u{k}_{column}``). Written as text
    with typed parameters and kept per shape: SQLAlchemy compiles a multi-row VALUES afresh on
    every execution (it has no cache key), which cost more than the round trip it saves. Run
    as driver SQL (:class:`~app.core.db.DriverStatement`: compiled once per shape, its ~70
    parameters bind-processed by position, no compile-cache key made from the statement's
    text and binds on each execution; issue 15).

    ``sealing``: the entries, all of the chain ``yj_chain``, are given without ``seq``,
    ``prev_hash`` and ``hash``; ``yjrisk_audit_seal`` (migration 0029), in a CTE PostgreSQL
    runs once (a volatile function's), takes the chain's lock (key ``yj_key``), reads its head
    with a snapshot taken after the lock, and gives the ``i``-th entry its position, its
    predecessor's hash and its hash from ``yj_heads[i]`` and ``yj_tails[i]``
    (:func:`canonical_parts`); the RETURNING answers each entry's ``seq``, ``prev_hash``,
    ``hash`` (and the UPDATEs' count)."""
    key = (entries, events, tuple((t.name, columns, n) for t, columns, n in extra),
           tuple((t.name, columns, version) for t, columns, version in updates), sealing)
    statement = _SEALED_INSERTS.get(key)
    if statement is not None:
        return statement
    tables: Any = (AuditEntry.__table__, OutboxEvent.__table__)  # type: ignore[attr-defined]
    binds: list[Any] = []

    def values(prefix: str, table: Any, columns: tuple[str, ...], count: int,
               more: tuple[str, ...] = ()) -> str:
        """``count`` rows of parameters for ``columns``, each followed by the expressions
        ``more`` (``{n}``: the row's number from 1)."""
        rows = []
        for i in range(count):
            names = [f"{prefix}{i}_{c}" for c in columns]
            binds.extend(sa.bindparam(n, type_=table.c[c].type)
                         for n, c in zip(names, columns, strict=True))
            rows.append("(" + ", ".join([*(f":{n}" for n in names),
                                         *(m.format(n=i + 1) for m in more)]) + ")")
        return ", ".join(rows)

    ctes = []
    if events:
        ctes.append(f"outbox_rows AS (INSERT INTO outbox_event ({', '.join(outbox.COLUMNS)}) "
                    f"VALUES {values('o', tables[1], outbox.COLUMNS, events)})")
    for k, (table, columns, count) in enumerate(extra):
        names = ", ".join(f'"{c}"' for c in columns)
        ctes.append(f'x{k}_rows AS (INSERT INTO "{table.name}" ({names}) '
                    f"VALUES {values(f'x{k}_', table, columns, count)})")
    for k, (table, columns, version) in enumerate(updates):
        update = _update_statement(table, columns, version, f"u{k}_")
        binds.extend(update._bindparams.values())
        ctes.append(f"u{k}_rows AS ({update.text} RETURNING 1)")
    counted = " + ".join(f"(SELECT count(*) FROM u{k}_rows)" for k in range(len(updates)))
    if sealing:
        binds.extend((sa.bindparam("yj_chain", type_=sa.Text()),
                      sa.bindparam("yj_key", type_=sa.BigInteger()),
                      sa.bindparam("yj_heads", type_=postgresql.ARRAY(sa.LargeBinary())),
                      sa.bindparam("yj_tails", type_=postgresql.ARRAY(sa.LargeBinary()))))
        ctes.append("yj_seal AS (SELECT n, entry_seq, entry_prev, entry_hash "
                    "FROM yjrisk_audit_seal(:yj_chain, :yj_key, :yj_heads, :yj_tails))")
        entry_values = values("a", tables[0], _CONTENT_COLUMNS, entries, tuple(
            f"(SELECT s.entry_{c} FROM yj_seal AS s WHERE s.n = {{n}})"
            for c in ("seq", "prev", "hash")))
        returning = "seq, prev_hash, hash" + (f", {counted}" if updates else "")
    else:
        entry_values = values("a", tables[0], _COLUMNS, entries)
        returning = counted
    statement = DriverStatement(sa.text(
        f"WITH {', '.join(ctes)} INSERT INTO audit_entry ({', '.join(_COLUMNS)}) "
        f"VALUES {entry_values}" + (f" RETURNING {returning}" if returning else "")
    ).bindparams(*binds))
    if len(_SEALED_INSERTS) < 256:  # a handful of shapes in practice
        _SEALED_INSERTS[key] = statement
    return statement


@event.listens_for(SyncSession, "after_soft_rollback")
def _forget(sync: SyncSession, _previous: Any) -> None:
    """A rolled-back transaction's entries and events are never written."""
    sync.info.pop(_UNSEALED, None)
    sync.info.pop(outbox.PENDING, None)
    sync.info.pop(_AT_SEAL, None)
    sync.info.pop(_UPDATE_AT_SEAL, None)
    sync.info.pop(_AFTER_SEAL, None)


_HEAD = sa.text("SELECT seq, hash FROM audit_entry WHERE chain = :chain AND seq IS NOT NULL "
                "ORDER BY seq DESC LIMIT 1")
# PostgreSQL: the chain's advisory lock, then its head read with a snapshot taken after the
# lock was granted (a VOLATILE function's statements each take a fresh one), in one round
# trip; a single plain statement would read with a snapshot from before the lock wait.
_LOCKED_HEAD = sa.text(
    "SELECT head_seq, head_hash FROM yjrisk_audit_chain_head(:chain, :key)"
).bindparams(sa.bindparam("chain", type_=sa.Text()), sa.bindparam("key", type_=sa.BigInteger()))


def _after(head: Any) -> tuple[int, str]:
    """The seq and hash an entry appended after ``head`` (a row of seq, hash) follows: the
    genesis for an empty chain."""
    if head is None or head[0] is None:
        return 0, GENESIS
    return head[0], head[1]


async def chain_heads(session: AsyncSession) -> list[dict[str, Any]]:
    """The newest entry of every chain: ``{chain, seq, hash, at}`` (what an operator anchors
    outside the database)."""
    last = (select(AuditEntry.chain, sa.func.max(AuditEntry.seq).label("seq"))
            .group_by(col(AuditEntry.chain)).subquery())
    rows = await session.exec(
        select(AuditEntry).join(last, sa.and_(col(AuditEntry.chain) == last.c.chain,
                                              col(AuditEntry.seq) == last.c.seq))
        .order_by(col(AuditEntry.chain))
    )
    return [{"chain": e.chain, "seq": e.seq, "hash": e.hash, "at": e.at.isoformat()}
            for e in rows]


class VerifyOut(BaseModel):
    """The result of checking hash chains: all intact, how many entries, the first bad one."""

    ok: bool
    checked: int
    first_broken_id: uuid.UUID | None


async def verify_chains(
    session: AsyncSession, chains: list[str] | None, batch: int = 1000
) -> VerifyOut:
    """Recompute the chains (all when ``chains`` is None) in ``seq`` order; the first entry
    whose position, predecessor or hash does not match is named."""
    if chains is None:
        chains = list((await session.exec(select(AuditEntry.chain).distinct())).all())
    checked = 0
    for chain in sorted(chains):
        expected_seq, prev, after = 1, GENESIS, 0
        while True:
            rows = list((await session.exec(
                select(AuditEntry).where(AuditEntry.chain == chain,
                                         col(AuditEntry.seq) > after)
                .order_by(col(AuditEntry.seq)).limit(batch)
            )).all())
            for entry in rows:
                checked += 1
                if (entry.seq != expected_seq or entry.prev_hash != prev
                        or entry.hash != chain_hash(prev, entry)):
                    return VerifyOut(ok=False, checked=checked, first_broken_id=entry.id)
                expected_seq, prev = expected_seq + 1, entry.hash
            if len(rows) < batch:
                break
            after = rows[-1].seq or 0
        unsealed = await session.exec(select(AuditEntry.id).where(
            AuditEntry.chain == chain, col(AuditEntry.seq).is_(None)).limit(1))
        if (stray := unsealed.first()) is not None:
            return VerifyOut(ok=False, checked=checked + 1, first_broken_id=stray)
    return VerifyOut(ok=True, checked=checked, first_broken_id=None)


# --- Bulk appends (the escalation pass) -----------------------------------------------------

@dataclass(slots=True)
class AuditRow:
    """An audit entry as plain data (the columns of :class:`AuditEntry`, no ORM object), for a
    writer that appends many at once with :func:`append_sealed`."""

    service_id: uuid.UUID | None
    case_id: uuid.UUID | None
    actor_sub: str
    actor_role: str
    action: str
    entity_type: str
    entity_id: uuid.UUID
    at: datetime
    changed_fields: list[str]
    reason: str | None
    digest: str
    chain: str
    id: uuid.UUID = field(default_factory=new_id)
    seq: int | None = None
    prev_hash: str | None = None
    hash: str | None = None


def audit_row(
    principal: Principal,
    action: str,
    entity_type: str,
    entity_id: uuid.UUID,
    *,
    service_id: uuid.UUID | None,
    case_id: uuid.UUID | None = None,
    change: dict[str, Any] | None = None,
    role: str | None = None,
    reason: str | None = None,
    at: datetime | None = None,
) -> AuditRow:
    """The entry :func:`record_audit` would make, as an :class:`AuditRow` (not yet sealed)."""
    change = change or {}
    return AuditRow(
        service_id=service_id, case_id=case_id, actor_sub=principal.sub,
        actor_role=acting_role(principal, role), action=action, entity_type=entity_type,
        entity_id=entity_id, at=at or utcnow(), changed_fields=sorted(change.keys()),
        reason=reason, digest=digest_of(change), chain=chain_of(service_id),
    )


_ROW_COLUMNS = _COLUMNS


async def append_sealed(session: AsyncSession, rows: list[AuditRow]) -> None:
    """Write ``rows`` now, each chain extended under its lock, in one multi-row INSERT
    (executemany), in the session's transaction: sealed (``seq``, ``prev_hash``, ``hash`` set)
    as :func:`_seal` does at commit, without an ORM object per entry.

    For a bulk writer whose transaction does nothing after this but the commit: the chains'
    locks (PostgreSQL: transaction-scoped advisory locks, taken in chain order; SQLite: the
    database write lock the transaction already holds from its writes) are held to the commit,
    so, as with :func:`_seal`, they are the last locks it takes. Entries that
    :func:`record_audit` queued in the same transaction are sealed after these at commit (the
    chain's head then is the last of these).
    """
    if not rows:
        return
    connection = await session.connection()
    postgres = connection.dialect.name == "postgresql"
    for chain in sorted({r.chain for r in rows}):  # one lock order for every writer
        if postgres:  # the lock, then the head, in one round trip (migration 0016)
            head = (await connection.execute(
                _LOCKED_HEAD, {"chain": chain, "key": _advisory_key(chain)})).first()
        else:
            head = (await connection.execute(_HEAD, {"chain": chain})).first()
        seq, prev = _after(head)
        for row in rows:
            if row.chain == chain:
                seq += 1
                row.seq, row.prev_hash = seq, prev
                row.hash = prev = chain_hash(prev, row)
    table: Any = AuditEntry.__table__  # type: ignore[attr-defined]
    await connection.execute(sa.insert(table),
                             [{c: getattr(r, c) for c in _ROW_COLUMNS} for r in rows])
