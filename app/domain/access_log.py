"""The read audit: who read which case record, under which role, when, in which request.

Kept apart from the write audit (``audit_entry``): reads are many and are not part of the
record's history. A read is only appended to an in-memory buffer (no database round trip on the
read path); a background task writes the buffer in one multi-row INSERT every
``YJ_ACCESS_LOG_FLUSH_SECONDS`` (or sooner when ``YJ_ACCESS_LOG_BATCH`` entries wait), and the app's
shutdown flushes what is left, so a clean shutdown loses nothing. A crash can lose at most the
last interval's reads of that process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import Field, SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.core.problems import database_unavailable
from app.core.security import Principal
from app.domain import cursors
from app.domain.audit import acting_role
from app.domain.common import new_id, utcnow

log = logging.getLogger(__name__)
# While the database is unreachable, keep at most this many reads waiting (then drop the
# oldest, loudly) rather than grow without bound.
MAX_BACKLOG = 50_000


class AccessLogEntry(SQLModel, table=True):
    """One read of a case record: who, role, what, when, request id."""

    __tablename__ = "access_log"
    __table_args__ = (sa.Index("ix_access_log_case_at", "case_id", "at"),)

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    service_id: uuid.UUID = Field(foreign_key="service.id")
    case_id: uuid.UUID | None = Field(default=None)
    actor_sub: str = Field(max_length=128)
    actor_role: str = Field(max_length=64)
    what: str = Field(max_length=64)
    at: datetime = Field(default_factory=utcnow)
    request_id: str | None = Field(default=None, max_length=64)


class AccessLogOut(BaseModel):
    """A read as the case's managers and chairs see it."""

    id: uuid.UUID
    actor: str
    role: str
    what: str
    at: datetime
    request_id: str | None


# PostgreSQL: a batch goes in as one array per column (``unnest``), encoded by asyncpg, rather
# than eight bound values an entry that SQLAlchemy processes one by one (a list page notes ~50
# reads: ~1.2 ms of CPU a page as an executemany, ~0.3 ms as arrays). Same rows.
_COLUMNS = (("id", "uuid"), ("service_id", "uuid"), ("case_id", "uuid"), ("actor_sub", "varchar"),
            ("actor_role", "varchar"), ("what", "varchar"), ("at", "timestamptz"),
            ("request_id", "varchar"))
_UNNEST_INSERT = sa.text(
    f"INSERT INTO access_log ({', '.join(c for c, _ in _COLUMNS)}) SELECT * FROM unnest("
    + ", ".join(f"CAST(:{c}s AS {t}[])" for c, t in _COLUMNS) + ")"
).bindparams(*(sa.bindparam(f"{c}s", type_=postgresql.ARRAY(
    AccessLogEntry.__table__.c[c].type)) for c, _ in _COLUMNS))  # type: ignore[attr-defined]


class AccessLogWriter:
    """Buffers reads and writes them in batches from a background task (one per process)."""

    def __init__(self, factory: async_sessionmaker[AsyncSession], interval: float,
                 batch: int = 500) -> None:
        self._factory = factory
        self._interval = interval
        self._batch = batch
        self._buffer: list[dict[str, Any]] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._lock = asyncio.Lock()

    def record(
        self, principal: Principal, service_id: uuid.UUID, case_id: uuid.UUID | None, what: str,
        request_id: str | None, role: str | None = None,
    ) -> None:
        """Note a read (no I/O: appended to the buffer)."""
        self._buffer.append({
            "id": new_id(), "service_id": service_id, "case_id": case_id,
            "actor_sub": principal.sub, "actor_role": acting_role(principal, role),
            "what": what, "at": utcnow(), "request_id": (request_id or None) and request_id[:64],
        })
        if len(self._buffer) >= self._batch:
            self._wake.set()

    @property
    def pending(self) -> int:
        """How many reads wait to be written."""
        return len(self._buffer)

    async def flush(self) -> int:
        """Write every buffered read in one transaction; how many were written."""
        async with self._lock:
            batch, self._buffer = self._buffer, []
            if not batch:
                return 0
            try:
                async with self._factory() as session, session.begin():
                    conn = await session.connection()
                    if conn.dialect.name == "postgresql":
                        await conn.execute(_UNNEST_INSERT, {
                            f"{name}s": [entry[name] for entry in batch] for name, _ in _COLUMNS})
                    else:
                        await conn.execute(sa.insert(AccessLogEntry), batch)
            except BaseException:  # cancelled too: the batch goes back, never lost
                self._buffer = (batch + self._buffer)[-MAX_BACKLOG:]
                _log_unwritten()
                raise
            return len(batch)

    async def _run(self) -> None:
        while not self._closing:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._interval)
            self._wake.clear()
            with contextlib.suppress(Exception):  # logged in flush; retried next interval
                await self.flush()

    def start(self) -> None:
        """Start the background writer."""
        self._closing = False
        self._task = asyncio.create_task(self._run(), name="access-log-writer")

    async def stop(self) -> None:
        """Stop the background writer (letting a batch being written finish) and write what
        is left (clean shutdown)."""
        if self._task is not None:
            self._closing = True
            self._wake.set()
            await self._task
            self._task = None
        with contextlib.suppress(Exception):  # logged in flush
            await self.flush()


def _log_unwritten() -> None:
    """Log a batch not written: a warning without a traceback when the database is down or
    read-only (a failover; attack 18, A18-12), else the error with its traceback."""
    exc = sys.exc_info()[1]
    if exc is not None and database_unavailable(exc):
        log.warning("access log: batch not written (database unavailable: %s); kept for the "
                    "next attempt", type(exc).__name__)
    else:
        log.exception("access log: batch not written; kept for the next attempt")


ACCESS_LOG_PAGE = 200  # most reads a page of GET /v1/cases/{id}/access-log


async def case_access_log(
    session: AsyncSession, case_id: uuid.UUID, limit: int = 100, cursor: str | None = None,
) -> tuple[list[AccessLogOut], str | None]:
    """A page of the reads of a case, newest first (at most ``limit``), after ``cursor`` (the
    previous page's ``next_cursor``; 422 ``invalid-cursor`` for one not made for this case's
    log), and the cursor of the next page (None on the last)."""
    await cursors.ready(session)
    key = cursors.query_key({"list": "access-log", "case": str(case_id)})
    where = [col(AccessLogEntry.case_id) == case_id]
    if cursor is not None:
        at, ident = cursors.decode(cursor, key, 2)
        before, last = cursors.instant(at), cursors.identifier(ident)
        where.append(sa.or_(col(AccessLogEntry.at) < before, sa.and_(
            col(AccessLogEntry.at) == before, col(AccessLogEntry.id) < last)))
    rows = list((await session.exec(
        select(AccessLogEntry).where(*where)
        .order_by(col(AccessLogEntry.at).desc(), col(AccessLogEntry.id).desc()).limit(limit + 1)
    )).all())
    page = rows[:limit]
    following = (cursors.encode((page[-1].at.isoformat(), str(page[-1].id)), key)
                 if len(rows) > limit else None)
    return [AccessLogOut(id=r.id, actor=r.actor_sub, role=r.actor_role, what=r.what, at=r.at,
                         request_id=r.request_id) for r in page], following
