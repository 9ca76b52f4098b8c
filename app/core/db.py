"""Database engine, sessions and the per-request unit of work."""

from __future__ import annotations

import time
import uuid
import weakref
from collections.abc import AsyncGenerator, Mapping, Sequence
from typing import Any

from asyncpg.transaction import TransactionState
from pydantic_core import from_json, to_json
from sqlalchemy import MetaData, event
from sqlalchemy.dialects.postgresql.asyncpg import AsyncAdapt_asyncpg_connection
from sqlalchemy.engine import Connection, CursorResult
from sqlalchemy.engine.interfaces import (
    DBAPIConnection,
    DBAPICursor,
    Dialect,
    ExceptionContext,
    ExecutionContext,
)
from sqlalchemy.exc import DisconnectionError, IntegrityError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm.exc import StaleDataError
from sqlalchemy.pool import ConnectionPoolEntry
from sqlalchemy.sql import Select
from sqlalchemy.util.concurrency import await_
from sqlmodel import Session, SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from app.core import clock
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


def _known_closed(dbapi: DBAPIConnection) -> bool:
    """Whether the driver already knows the connection is closed, without a round trip: asyncpg
    notices the server closing the socket (a terminated backend, a restart) as it happens."""
    is_closed = getattr(getattr(dbapi, "_connection", None), "is_closed", None)
    return bool(is_closed()) if callable(is_closed) else False


def _disconnected(why: str) -> DisconnectionError:
    """A disconnect on checkout: the pool drops every connection older than now, reconnects."""
    error = DisconnectionError(why)
    error.invalidate_pool = True
    return error


def _ping_idle_connections(engine: AsyncEngine, after_seconds: float) -> None:
    """Ping a pooled connection on checkout when it has been idle ``after_seconds`` or more.

    SQLAlchemy's ``pool_pre_ping`` pings on every checkout; with asyncpg a ping is three round
    trips (BEGIN, an empty query, ROLLBACK), a large part of a short write. Instead, on every
    checkout, a connection the server has closed (a terminated backend, a restart: asyncpg has
    seen the socket close) is replaced at no cost; and a connection idle ``after_seconds`` or
    more is pinged, for a server that vanished without closing anything (a host restarted
    while the service was idle). Either raises ``DisconnectionError``: the pool discards every
    connection checked in before now and connects afresh (SQLAlchemy, "Disconnect Handling -
    Pessimistic", custom checkout event). What is left: a connection in steady use whose server
    vanished silently fails one request, a 503 with Retry-After, and that invalidates the pool.
    """
    dialect = engine.sync_engine.dialect

    def checkin(_dbapi: DBAPIConnection, record: ConnectionPoolEntry) -> None:
        record.info[_IDLE_SINCE] = time.monotonic()

    def checkout(dbapi: DBAPIConnection, record: ConnectionPoolEntry, _proxy: Any) -> None:
        idle_since = record.info.pop(_IDLE_SINCE, None)
        if idle_since is None:
            return  # a fresh connection
        if _known_closed(dbapi):
            raise _disconnected("the server closed the pooled connection")
        if time.monotonic() - idle_since < after_seconds:
            return  # in steady use
        try:
            dialect.do_ping(dbapi)
        except dialect.loaded_dbapi.Error as exc:
            if dialect.is_disconnect(exc, dbapi, None):
                raise _disconnected("the pooled connection failed its ping") from exc
            raise

    event.listen(engine.sync_engine, "checkin", checkin)
    event.listen(engine.sync_engine, "checkout", checkout)


def _failed_connect_is_a_disconnect(context: ExceptionContext) -> None:
    """Mark an error raised while establishing a connection as a disconnect, whatever its
    SQLSTATE, so it reaches the client as 503 with Retry-After (``connection_invalidated``;
    app.core.problems.database_unavailable), not 500: PostgreSQL not accepting connections to
    the database (55000, ``ALTER DATABASE ... ALLOW_CONNECTIONS false`` before a restore),
    the database dropped or renamed (3D000), credentials refused (28000, 28P01). The database
    is not there for us; nothing was done (attack 21, A21a-3). SQLAlchemy's ``handle_error``
    event: ``context.connection`` is None only when no connection was established; an error
    of a statement, of BEGIN or of COMMIT has one and keeps its own classification."""
    if context.connection is None:
        context.is_disconnect = True


# Execution option of a statement run only for the locks it takes (its rows are never read):
# on PostgreSQL, when it is the first statement of its transaction, it goes with the BEGIN.
LOCK_ONLY = "yj_lock_only"

# The server-side prepared statements of LOCK_ONLY statements (by SQL text: a fixed few) and,
# per asyncpg connection, those prepared on it (``_UNSURE``: a PREPARE interrupted, not known).
_LOCK_NAMES: dict[str, str] = {}
_PREPARED: weakref.WeakKeyDictionary[Any, set[str]] = weakref.WeakKeyDictionary()
_UNSURE = ""


def _lock_name(statement: str) -> str | None:
    """The prepared statement's name for a LOCK_ONLY statement's SQL (None past 16 of them)."""
    name = _LOCK_NAMES.get(statement)
    if name is None and len(_LOCK_NAMES) < 16:
        name = _LOCK_NAMES[statement] = f"yj_lock_{len(_LOCK_NAMES)}"
    return name


def _begin_with_lock(cursor: DBAPICursor, statement: str, parameters: Sequence[Any],
                     context: ExecutionContext) -> bool:
    """``do_execute`` event (PostgreSQL, asyncpg): send a :data:`LOCK_ONLY` statement that opens
    its transaction in one round trip with the BEGIN (issue 15: asyncpg sends BEGIN as a round
    trip of its own before the first statement, and every case write starts with its lock).

    The statement is prepared on the connection once (SQL ``PREPARE``, a round trip of its own
    the first time, outside any transaction: a prepared statement belongs to the session), then
    each time runs as one simple query, ``BEGIN; EXECUTE <name>('<uuid>', ...)`` (the simple
    query protocol takes no parameters: each is written as a literal, only UUIDs, whose text
    is hex digits and hyphens): PostgreSQL runs it inside the transaction the BEGIN opens, on
    the statement's cached plan, and keeps that transaction open after it, as when the BEGIN
    went alone. asyncpg's and SQLAlchemy's adapter's state is then set as asyncpg's
    ``Transaction.start`` and the adapter's ``_start_transaction`` set it, so the commit and
    the rollback are theirs, unchanged. Whatever fails once the query is sent, the transaction
    is held started, so the rollback sends ROLLBACK (outside a transaction PostgreSQL answers
    it with a warning); an error is translated by the adapter, as its cursor's are, then by
    SQLAlchemy, whose ``before_cursor_execute`` and ``after_cursor_execute`` events see the
    statement as usual. The statement's rows are not read (the simple query discards them):
    the result has none. Anything else (a transaction already begun, an isolation level or
    access mode of its own, a parameter not a UUID) runs as usual: False."""
    if not context.execution_options.get(LOCK_ONLY):
        return False
    adapter = getattr(cursor, "_adapt_connection", None)
    if not isinstance(adapter, AsyncAdapt_asyncpg_connection) or adapter._transaction is not None \
            or adapter.isolation_level is not None or adapter.readonly or adapter.deferrable:
        return False
    driver: Any = adapter._connection  # asyncpg.Connection
    name = _lock_name(statement)
    if driver._top_xact is not None or driver.is_in_transaction() or name is None \
            or _UNSURE in _PREPARED.get(driver, ()) \
            or not all(type(value) is uuid.UUID for value in parameters):
        return False
    await_(_begin_and_run(adapter, statement, name,
                          ", ".join(f"'{value}'" for value in parameters)))
    return True


async def _begin_and_run(adapter: AsyncAdapt_asyncpg_connection, statement: str, name: str,
                         literals: str) -> None:
    """Prepare the statement on the connection if it is not yet, then send ``BEGIN; EXECUTE``
    and record the transaction as started, whatever the outcome."""
    async with adapter._execute_mutex:
        driver: Any = adapter._connection
        prepared = _PREPARED.setdefault(driver, set())
        if name not in prepared:
            try:
                await driver.execute(f"PREPARE {name} AS {statement}")
            except BaseException as error:
                prepared.add(_UNSURE)  # prepared or not: this connection runs it as usual
                if isinstance(error, Exception):
                    adapter._handle_exception(error)  # raises it translated
                raise
            prepared.add(name)
        transaction = driver.transaction()
        try:
            await driver.execute(f"BEGIN;\nEXECUTE {name}({literals})")
        except BaseException as error:
            _started(adapter, transaction)
            if isinstance(error, Exception):
                adapter._handle_exception(error)  # raises it translated (as the adapter's cursor)
            raise
        _started(adapter, transaction)


def _started(adapter: AsyncAdapt_asyncpg_connection, transaction: Any) -> None:
    """What asyncpg's ``Transaction.start`` and the adapter's ``_start_transaction`` record
    once BEGIN has succeeded."""
    transaction._state = TransactionState.STARTED
    driver: Any = adapter._connection
    driver._top_xact = transaction
    adapter._transaction = transaction


def json_text(value: Any) -> str:
    """A JSON column's value as JSON text, on PostgreSQL (every JSON column there is JSONB,
    which stores the value parsed, not the text): pydantic's serializer (Rust), not the
    standard library's ``json.dumps``, which took ~3% of a judgement write's instructions on
    a step's list of reasons and the write's other JSON columns (issue 15). The same values:
    objects, arrays, strings (non-ASCII written as UTF-8 rather than escaped; JSONB stores the
    same string), integers and floats; NaN and infinities written as ``NaN`` and
    ``Infinity`` as ``json.dumps`` writes them, which PostgreSQL refuses as before."""
    return to_json(value, inf_nan_mode="constants").decode()


def json_value(text: str) -> Any:
    """A JSON column's value read from PostgreSQL (JSONB's text: valid JSON, keys unique, no
    NaN), by pydantic's parser (Rust), not the standard library's ``json.loads`` (issue 15: a
    judgement write decodes the case's and each open step's JSON columns, a step's reasons up
    to 50). The same values: dicts, lists, strings, ints (of any size), floats (the nearest
    double, as ``json.loads``), booleans and None. Only the objects' keys are remembered
    between reads (``cache_strings="keys"``): its table of 16,384 strings kept each write's new
    ids and instants, long-lived objects among the request's short-lived ones, which kept the
    allocator's arenas from being returned (issue 15, twenty-first session: with
    app.domain.steps' reason instants, ~2 MB of resident memory after 8,000 writes, for 0.55%
    of a judgement write's instructions)."""
    return from_json(text, cache_strings="keys")


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
            json_serializer=json_text, json_deserializer=json_value,
            connect_args={
                "timeout": settings.db_connect_timeout_seconds,
                "command_timeout": settings.db_statement_timeout_seconds,
                "server_settings": {"statement_timeout": str(statement_ms)},
            },
        )
    engine = create_async_engine(settings.database_url, **kwargs)
    event.listen(engine.sync_engine, "handle_error", _failed_connect_is_a_disconnect)
    if engine.dialect.driver == "asyncpg":
        event.listen(engine.sync_engine, "do_execute", _begin_with_lock)
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
) -> AsyncGenerator[AsyncSession, None]:
    """Yield a session; commit once at the end, roll back on any error.

    Services only flush. Conflicts surfacing at commit become 409/412 problems. The service's
    time is one instant throughout (:func:`app.core.clock.one_instant`, A20-11).
    """
    with clock.one_instant():
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


_GIVEN = object()  # a position of a driver statement's SQL that the caller's parameters fill


class DriverStatement:
    """A Core statement (or text with typed parameters) compiled once to the driver's SQL and
    run as driver SQL (``exec_driver_sql``) on PostgreSQL: no compile cache lookup (its key
    is generated from the whole statement), no compiled-parameter construction and result
    set-up of a compiled statement on each execution; the same SQL text (so the same prepared
    statement), on the same connection, in the same transaction, with the same events
    (``before_cursor_execute``) and error translation. Rows come as the driver gives them:
    only for statements whose columns SQLAlchemy would not process (text, or as
    :class:`PlainSelect` says).

    Parameters are the statement's unvalued bind parameters, by name; a bind parameter with a
    value (a literal in the clause) is bound as compiled. Every parameter goes through its
    type's bind processing, as SQLAlchemy would apply it. No expanding (``IN``) parameters:
    PostgreSQL takes an array (``= ANY(...)``). ``lock_only``: the statement is run for the
    locks it takes, its rows never read (:data:`LOCK_ONLY`: the first of its transaction goes
    with the BEGIN)."""

    def __init__(self, statement: Any, *, lock_only: bool = False) -> None:
        self.statement = statement
        self._driver: tuple[str, tuple[tuple[str, Any, Any], ...]] | None = None
        self._options = {LOCK_ONLY: True} if lock_only else None

    def _compiled(self, dialect: Dialect) -> tuple[str, tuple[tuple[str, Any, Any], ...]]:
        """The SQL and, per position, (name, the literal's value or ``_GIVEN``, bind processor):
        what SQLAlchemy would send (its expanded state: a literal ``IN`` list one value a
        position, and the processors it would apply)."""
        if self._driver is None:
            compiled = self.statement.compile(dialect=dialect)
            given: dict[str, Any] = {}
            for name, bind in compiled.binds.items():
                if bind.required:
                    if bind.expanding:
                        raise ValueError(f"expanding parameter {name}: use = ANY(array)")
                    given[name] = None
            state = compiled.construct_expanded_state(given)
            # Every parameter's processor, as the compiled execution applies them
            # (``DefaultExecutionContext._init_compiled``): the compiled statement's, then
            # those of expanded (literal) positions; the expanded state alone names only
            # the latter.
            processors = {**compiled._bind_processors, **state.processors}
            self._driver = (state.statement, tuple(
                (name, _GIVEN if name in given else state.parameters[name],
                 processors.get(name))
                for name in state.positiontup or ()))
        return self._driver

    def driver_form(self, dialect: Dialect, params: Mapping[str, Any]
                    ) -> tuple[str, tuple[Any, ...]]:
        """The SQL and its positional parameters, bind-processed."""
        sql, binds = self._compiled(dialect)
        values = []
        for name, constant, process in binds:
            value = params[name] if constant is _GIVEN else constant
            values.append(process(value) if process is not None else value)
        return sql, tuple(values)

    def execute(self, connection: Connection, params: Mapping[str, Any]) -> CursorResult[Any]:
        """Run on a (synchronous) connection: as driver SQL on PostgreSQL, else as usual."""
        if connection.dialect.name != "postgresql":
            return connection.execute(self.statement, dict(params))
        return connection.exec_driver_sql(*self.driver_form(connection.dialect, params),
                                          execution_options=self._options)

    async def execute_async(self, connection: AsyncConnection, params: Mapping[str, Any]
                            ) -> CursorResult[Any]:
        """:meth:`execute` on an async connection."""
        if connection.dialect.name != "postgresql":
            return await connection.execute(self.statement, dict(params))
        return await connection.exec_driver_sql(*self.driver_form(connection.dialect, params),
                                                execution_options=self._options)


class PlainSelect(DriverStatement):
    """A SELECT built once (per shape of a query), whose rows are read as the driver gives them.

    On PostgreSQL the statement is compiled once to SQL and run as driver SQL
    (:class:`DriverStatement`): asyncpg already
    answers aware UTC datetimes, UUIDs, dates, numbers and decoded JSON, so the rows skip
    SQLAlchemy's per-column result processing (a type processor call per value: ~1,600 a page
    of the register) and the compile cache's lookup. Strings stay strings (an enum column's
    value is its ``str`` value, not the member). Elsewhere (SQLite answers text for UUIDs and
    times) the statement runs through the ORM session as usual. Either way the session's
    pending changes are flushed first, as an ORM select does."""

    statement: Select[Any]

    async def rows(self, session: AsyncSession, params: dict[str, Any]) -> Sequence[Any]:
        """The rows of the statement with these parameters, in the session's transaction."""
        dialect = session.get_bind().dialect
        if dialect.name != "postgresql":
            return (await session.exec(self.statement, params=params)).all()  # type: ignore[call-overload,no-any-return]
        if session.sync_session.autoflush and (session.new or session.dirty or session.deleted):
            await session.flush()  # what an ORM select's autoflush would write first
        connection = await session.connection()
        return (await connection.exec_driver_sql(*self.driver_form(dialect, params))).all()
