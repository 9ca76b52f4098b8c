"""The ETags a write's answer carries (harden9's leftover, with A16-8): the ETag of the record
the write made or changed, as a following ``GET`` of it answers, so a client can send it in
``If-Match`` on its next act without reading the record again. Each is worked out from the
record as the unit of work will store it (:func:`~app.domain.common.state_etag` of its
values, which a flush does not change; a case's version, which its next flush moves by one
when it has changes), without flushing early: on PostgreSQL the write's last flush sends a
row's change and its audit entry in one statement (``tests/api/test_write_statements.py``)."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm.util import identity_key
from sqlmodel.ext.asyncio.session import AsyncSession

from app.core.errors import NotFound
from app.core.security import Principal
from app.domain.cases_table import Case, case_etag
from app.domain.common import state_etag
from app.domain.history import will_bump
from app.domain.panels import Panel, panel_etag
from app.domain.steps import Step


async def of_record(session: AsyncSession, record: Any) -> str:
    """The ETag of a one-row record (an assessment, a service) after the write."""
    return state_etag(record)


async def of_row(session: AsyncSession, model: Any, ident: uuid.UUID) -> str:
    """The ETag of the one-row record of ``model`` with this id after the write (a referral,
    whose write answers its view rather than its row)."""
    row = await session.get(model, ident)
    if row is None:
        raise NotFound("No such record.")
    return state_etag(row)


async def of_case(session: AsyncSession, case_id: uuid.UUID) -> str:
    """The case's ETag after a write that recorded something under it (a judgement, an
    event, an oversight entry: records with no read of their own): its version once the
    unit of work's flush has stored its pending changes (one more when it has any)."""
    case = _loaded(session, case_id)
    if case is None:
        case = await session.get(Case, case_id)
    if case is None:  # the write has just loaded it
        raise NotFound("No such case.")
    if not will_bump(session, case):
        return case_etag(case)
    return f'"{case.version + 1}"'


def _loaded(session: AsyncSession, case_id: uuid.UUID) -> Case | None:
    """The case as the write holds it in its unit of work, every attribute loaded (no
    expired one to read again); None otherwise. What ``session.get`` answers for such a row
    without a statement, but without its async round of the ORM's get (issue 15)."""
    found = session.sync_session.identity_map.get(identity_key(Case, case_id))
    if found is None:
        return None
    state: Any = sa.inspect(found)
    return None if state.expired or state.expired_attributes else found  # type: ignore[no-any-return]


async def of_step(session: AsyncSession, step_id: uuid.UUID) -> str:
    """A step's ETag after an act on it (``GET /v1/next-steps/{id}``)."""
    step = await session.get(Step, step_id)
    if step is None:
        raise NotFound("No such step.")
    return state_etag(step)


async def of_panel(session: AsyncSession, panel_id: uuid.UUID, principal: Principal) -> str:
    """A panel's ETag (the panel and its agenda as ``principal`` is shown it) after a write
    on it or its agenda (read from the stored agenda: flushed first)."""
    await session.flush()
    panel = await session.get(Panel, panel_id)
    if panel is None:
        raise NotFound("No such panel.")
    return await panel_etag(session, panel, principal)
