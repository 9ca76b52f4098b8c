"""``PlainSelect`` (app.core.db): a list's statement built once and its rows read as the driver
gives them on PostgreSQL (no per-column result processing), through the ORM elsewhere. The
values must be what the ORM reads (equal, of the same kind: aware UTC times, UUIDs, dates,
decoded JSON; an enum column's string), the session's pending changes flushed first, and every
parameter bound (a literal ``IN`` list and enum literals as compiled)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import col, select

from app.core.config import Settings
from app.core.db import PlainSelect
from app.domain.cases_table import AccessMode, Case
from app.domain.steps import STEP_OUT_COLUMNS, Step
from tests.api.support import Factory, db  # noqa: F401 - db is a fixture
from tests.conftest import BACKEND, Tenant

CASES = PlainSelect(sa.select(*(getattr(Case, c.name) for c in Case.__table__.columns))  # type: ignore[attr-defined]
                    .where(col(Case.service_id) == sa.bindparam("yj_service"))
                    .order_by(col(Case.created_at), col(Case.id)))


async def test_rows_hold_what_the_orm_reads(somerset: Tenant, db: Factory) -> None:  # noqa: F811
    """Every column of cases and steps, compared with the ORM's objects value by value."""
    opened = await somerset.open_case(
        external_ref={"system": "IYSS", "id": "Ø-1"}, mappa_category=2, mappa_level=1,
        expected_release_date="2027-01-31")
    await somerset.open_case()
    case_id = uuid.UUID(opened["data"]["id"])
    async with db() as session:
        service_id = (await session.exec(select(Case.service_id).where(
            col(Case.id) == case_id))).one()
        rows = await CASES.rows(session, {"yj_service": service_id})
        objects = (await session.exec(select(Case).where(col(Case.service_id) == service_id)
                                      .order_by(col(Case.created_at), col(Case.id)))).all()
        assert len(rows) == len(objects) == 2
        names = [c.name for c in Case.__table__.columns]  # type: ignore[attr-defined]
        for row, case in zip(rows, objects, strict=True):
            for name, value in zip(names, row, strict=True):
                expected = getattr(case, name)
                assert value == expected, name
                if isinstance(expected, datetime):
                    assert value.utcoffset() == UTC.utcoffset(None), name
                elif isinstance(expected, uuid.UUID | date | dict | list | bool | int):
                    assert isinstance(value, type(expected)), name
        steps = PlainSelect(sa.select(*STEP_OUT_COLUMNS).where(
            col(Step.case_id) == sa.bindparam("yj_case")).order_by(col(Step.id)))
        step_rows = await steps.rows(session, {"yj_case": case_id})
        step_objects = (await session.exec(select(Step).where(col(Step.case_id) == case_id)
                                           .order_by(col(Step.id)))).all()
        assert len(step_rows) == len(step_objects) > 0
        for row, step in zip(step_rows, step_objects, strict=True):
            for column, value in zip(STEP_OUT_COLUMNS, row, strict=True):
                assert value == getattr(step, column.key), column.key


async def test_pending_changes_are_flushed_first(somerset: Tenant, db: Factory) -> None:  # noqa: F811
    """As an ORM select autoflushes: a case added to the session and not yet flushed is read."""
    opened = await somerset.open_case()
    async with db() as session:
        model = (await session.exec(select(Case).where(
            col(Case.id) == uuid.UUID(opened["data"]["id"])))).one()
        model.family_name = "Renamed"
        session.add(model)
        rows = await CASES.rows(session, {"yj_service": model.service_id})
        assert [r.family_name for r in rows] == ["Renamed"]
        await session.rollback()


async def test_literals_are_bound_as_compiled(somerset: Tenant, db: Factory) -> None:  # noqa: F811
    """An enum literal and a literal ``IN`` list (rendered one value a position) select what
    the ORM selects; a parameter left out is an error, never a NULL."""
    opened = await somerset.open_case()
    query = PlainSelect(sa.select(Case.id).where(
        col(Case.service_id) == sa.bindparam("yj_service"),
        sa.or_(col(Case.access_mode).is_(None), col(Case.access_mode) == AccessMode.allowed),
        col(Case.intervention).in_(["court_order", "bail", "remand"])))
    async with db() as session:
        service_id = (await session.exec(select(Case.service_id).where(
            col(Case.id) == uuid.UUID(opened["data"]["id"])))).one()
        rows = await query.rows(session, {"yj_service": service_id})
        assert [r[0] for r in rows] == [uuid.UUID(opened["data"]["id"])]
        with pytest.raises((KeyError, sa.exc.StatementError)):
            await query.rows(session, {})


def test_an_expanding_parameter_is_refused_on_postgresql() -> None:
    """A caller's ``IN`` list is one array parameter on PostgreSQL (``= ANY(...)``)."""
    from sqlalchemy.dialects.postgresql import asyncpg

    query = PlainSelect(sa.select(Case.id).where(
        col(Case.id).in_(sa.bindparam("yj_ids", expanding=True))))
    with pytest.raises(ValueError, match="expanding"):
        query._compiled(asyncpg.dialect())


async def test_a_driver_statement_sends_what_the_compiled_execution_sends(
        db: Factory) -> None:  # noqa: F811
    """A typed text statement run as driver SQL (``DriverStatement``: the audit's sealed
    INSERT, the case lock) sends the very SQL and parameters SQLAlchemy's compiled execution
    sends, every parameter through its type's bind processing (the JSON column's text, the
    times' and the byte arrays' processors), and answers the same rows."""
    from sqlalchemy import event
    from sqlalchemy.dialects import postgresql

    from app.core.db import DriverStatement
    from app.domain.audit import AuditEntry
    from app.domain.outbox import OutboxEvent

    audit: Any = AuditEntry.__table__  # type: ignore[attr-defined]
    outbox: Any = OutboxEvent.__table__  # type: ignore[attr-defined]
    binds = [sa.bindparam("j", type_=outbox.c.payload.type),
             sa.bindparam("t", type_=outbox.c.created_at.type),
             sa.bindparam("u", type_=outbox.c.id.type),
             sa.bindparam("f", type_=audit.c.changed_fields.type)]
    postgres = BACKEND == "postgres"
    if postgres:
        binds.append(sa.bindparam("b", type_=postgresql.ARRAY(sa.LargeBinary())))
    text = ("SELECT CAST(:j AS TEXT), :t, :u, CAST(:f AS TEXT)"
            + (", CAST(:b AS BYTEA[]) IS NOT NULL" if postgres else ""))
    statement = DriverStatement(sa.text(text).bindparams(*binds))
    params = {"j": {"case_id": "a", "level": "ø"}, "t": datetime(2026, 8, 28, 9, 30, tzinfo=UTC),
              "u": uuid.UUID(int=7), "f": ["level", "domain"], "b": [b"\x00head", b"tail"]}
    sent: list[tuple[str, Any]] = []

    def listen(_conn: Any, _cursor: Any, sql: str, parameters: Any, *_a: Any) -> None:
        sent.append((sql, parameters))

    async with db() as session:
        connection = await session.connection()
        event.listen(connection.sync_engine, "before_cursor_execute", listen)
        try:
            compiled_rows = (await connection.execute(statement.statement, params)).all()
            driver_rows = (await statement.execute_async(connection, params)).all()
        finally:
            event.remove(connection.sync_engine, "before_cursor_execute", listen)
        await session.rollback()
    assert len(sent) == 2
    assert sent[1] == sent[0]
    assert [tuple(r) for r in driver_rows] == [tuple(r) for r in compiled_rows]
    assert isinstance(sent[0][1][0], str)  # the JSON column's text, not the dict


JSON_VALUES: list[Any] = [
    {"case_id": "b6cfc496-0a12-4729-a885-c843b680f922", "domain": "swb", "level": "low"},
    [{"rule": "W23", "at": "2026-12-02T05:24:37.639700+00:00", "record": {"id": "x"}}] * 20,
    {"ratings": [{}, {"lor": {"level": "medium"}}], "n": None, "ok": True, "no": False},
    {"text": "Zoë \u00f8 \u2028 \U0001f600 e\u0301 \"quoted\" back\\slash \t\n\x01"},
    {"numbers": [0, -1, 2**63 - 1, 2**64, 0.1, -0.0, 1e16, 1.5e-7, 123456.789]},
    {"": [], "nested": {"a": {"b": {"c": [1, [2, [3]]]}}}},
    "a string alone", 7, 2.5, None, [],
]


@pytest.mark.parametrize("value", JSON_VALUES)
def test_json_columns_text_is_the_same_json(value: Any) -> None:
    """``app.core.db.json_text`` (PostgreSQL's JSON columns, JSONB) writes the value
    ``json.dumps`` wrote: the same JSON once parsed, value and kind (an integer stays an
    integer, a float a float, an object's members in their order)."""
    import json

    from app.core.db import json_text

    written = json.loads(json_text(value))
    assert written == json.loads(json.dumps(value))
    assert json.dumps(written) == json.dumps(value)


def test_json_columns_refuse_nan_as_before() -> None:
    """NaN and the infinities are written as ``json.dumps`` writes them (not as ``null``), so
    the database refuses them as it did."""
    import json

    from app.core.db import json_text

    for value in ([float("nan")], {"x": float("inf")}, -float("inf")):
        assert json_text(value).replace(" ", "") == json.dumps(value).replace(" ", "")


@pytest.mark.skipif(BACKEND != "postgres", reason="the PostgreSQL engine's JSON serializer")
async def test_jsonb_columns_store_what_they_stored(db: Factory) -> None:  # noqa: F811
    """Through the engine: every value above stored in a JSONB parameter comes back equal
    (non-ASCII text, astral characters, large integers, floats); NaN is refused."""
    from app.domain.outbox import OutboxEvent

    payload = OutboxEvent.__table__.c.payload.type  # type: ignore[attr-defined]
    statement = sa.select(sa.bindparam("v", type_=payload))
    async with db() as session:
        for value in JSON_VALUES:
            assert (await session.exec(statement, params={"v": value})).one()[0] == value
        with pytest.raises(sa.exc.DBAPIError):
            await session.exec(statement, params={"v": {"x": float("nan")}})
        await session.rollback()


@pytest.mark.parametrize("value", JSON_VALUES)
def test_json_columns_read_as_json_loads_read(value: Any) -> None:
    """``app.core.db.json_value`` (PostgreSQL's JSON columns read back) gives what
    ``json.loads`` gave: equal, of the same kinds (an integer an integer, a float the same
    float, an object's members in their order)."""
    import json

    from app.core.db import json_value

    for text in (json.dumps(value), json.dumps(value, separators=(",", ":"))):
        read = json_value(text)
        assert read == json.loads(text)
        assert json.dumps(read) == json.dumps(json.loads(text))


@pytest.mark.skipif(BACKEND != "postgres", reason="the PostgreSQL engine's JSON parser")
async def test_jsonb_columns_read_what_json_loads_reads(settings: Settings) -> None:
    """Issue 15: the PostgreSQL engine reads JSONB with ``json_value`` (pydantic's parser, not
    ``json.loads``): every value above comes back from PostgreSQL as ``json.loads`` reads the
    JSONB's own text (equal, of the same kinds)."""
    import json

    from app.core.db import build_engine, json_value
    from app.domain.outbox import OutboxEvent

    payload = OutboxEvent.__table__.c.payload.type  # type: ignore[attr-defined]
    stored = sa.cast(sa.bindparam("v", type_=payload), payload)
    statement = sa.select(stored, sa.cast(stored, sa.Text))
    engine = build_engine(settings)
    try:
        assert engine.dialect._json_deserializer is json_value  # type: ignore[attr-defined]
        async with engine.connect() as conn:
            for value in JSON_VALUES:
                read, text = (await conn.execute(statement, {"v": value})).one()
                assert read == json.loads(text) == value
                assert json.dumps(read) == json.dumps(json.loads(text))
    finally:
        await engine.dispose()
