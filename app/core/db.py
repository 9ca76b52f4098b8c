"""Database engine, sessions and the per-request unit of work."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy import MetaData, event
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.exc import DisconnectionError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.orm.exc import StaleDataError
from sqlalchemy.pool import ConnectionPoolEntry
from sqlmodel import Session, SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from app.core.config import Settings
from app.core.errors import Conflict, PreconditionFailed

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
SQLModel.metadata.naming_convention = NAMING_CONVENTION
metadata: MetaData = SQLModel.metadata


def _sqlite_pragmas(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


_IDLE_SINCE = "yj_idle_since"  # connection record info: time.monotonic() of the last check-in


def _ping_idle_connections(engine: AsyncEngine, after_seconds: float) -> None:
    """Ping a pooled connection on checkout when it has been idle ``after_seconds`` or more.

    SQLAlchemy's ``pool_pre_ping`` pings on every checkout; with asyncpg a ping is three round
    trips (BEGIN, an empty query, ROLLBACK), a large part of a short write. A connection in
    steady use is seconds old at most, and a database restart while it was in use fails that
    request (503) and invalidates the pool anyway (SQLAlchemy's disconnect handling). So only
    a connection that sat idle, through a possible restart, is pinged. A failed ping raises
    ``DisconnectionError``: the pool discards every connection checked in before now and
    connects afresh (SQLAlchemy, "Disconnect Handling - Pessimistic", custom checkout event).
    """
    dialect = engine.sync_engine.dialect

    def checkin(_dbapi: DBAPIConnection, record: ConnectionPoolEntry) -> None:
        record.info[_IDLE_SINCE] = time.monotonic()

    def checkout(dbapi: DBAPIConnection, record: ConnectionPoolEntry, _proxy: Any) -> None:
        idle_since = record.info.pop(_IDLE_SINCE, None)
        if idle_since is None or time.monotonic() - idle_since < after_seconds:
            return  # a fresh connection, or one in steady use
        try:
            dialect.do_ping(dbapi)
        except dialect.loaded_dbapi.Error as exc:
            if dialect.is_disconnect(exc, dbapi, None):
                error = DisconnectionError("the pooled connection failed its ping")
                error.invalidate_pool = True
                raise error from exc
            raise

    event.listen(engine.sync_engine, "checkin", checkin)
    event.listen(engine.sync_engine, "checkout", checkout)


def build_engine(settings: Settings) -> AsyncEngine:
    """Create the async engine for the configured URL (SQLite embedded or PostgreSQL).

    A pooled connection idle ``db_ping_after_idle_seconds`` or more is pinged before use
    (0: before every use, SQLAlchemy's ``pool_pre_ping``); see :func:`_ping_idle_connections`.
    """
    always_ping = settings.db_ping_after_idle_seconds == 0
    # hide_parameters: SQL errors never carry row values (names, dates of birth) into logs.
    kwargs: dict[str, Any] = {
        "echo": settings.database_echo, "pool_pre_ping": always_ping, "hide_parameters": True,
    }
    if not settings.is_sqlite:
        # Every wait on PostgreSQL is bounded, so a dead or frozen server is a prompt 503 (not a
        # hung request): the TCP connect and start-up, the pool checkout, each statement (client
        # side, as a frozen server cannot time itself out; and server side, for a slow plan).
        statement_ms = int(settings.db_statement_timeout_seconds * 1000)
        kwargs.update(
            pool_size=10, max_overflow=10, pool_timeout=settings.db_pool_timeout_seconds,
            connect_args={
                "timeout": settings.db_connect_timeout_seconds,
                "command_timeout": settings.db_statement_timeout_seconds,
                "server_settings": {"statement_timeout": str(statement_ms)},
            },
        )
    engine = create_async_engine(settings.database_url, **kwargs)
    if not always_ping:
        _ping_idle_connections(engine, settings.db_ping_after_idle_seconds)
    if settings.is_sqlite:
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


def session_factory(
    engine: AsyncEngine, sync_session_class: type[Session] | None = None
) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded objects usable after commit (optionally of a session class
    that records history on flush)."""
    kw: dict[str, Any] = {"sync_session_class": sync_session_class} if sync_session_class else {}
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False, **kw)


async def unit_of_work(
    factory: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncSession]:
    """Yield a session; commit once at the end, roll back on any error.

    Services only flush. Conflicts surfacing at commit become 409/412 problems.
    """
    async with factory() as session:
        try:
            yield session
            await session.commit()
        except StaleDataError as exc:
            await session.rollback()
            raise PreconditionFailed(
                "The resource was changed by someone else; fetch it again and retry."
            ) from exc
        except IntegrityError as exc:
            await session.rollback()
            raise Conflict("The write conflicts with an existing record.") from exc
        except BaseException:
            await session.rollback()
            raise
