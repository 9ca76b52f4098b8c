"""The transactional outbox: outgoing events written with the write, dispatched later."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from app.domain.common import JSONType, new_id, utcnow


class OutboxEvent(SQLModel, table=True):
    """An event for other systems, committed atomically with the write that caused it."""

    __tablename__ = "outbox_event"
    __table_args__ = (
        # The webhook pass takes the oldest undispatched events (migration 0012).
        sa.Index("ix_outbox_event_undispatched", "created_at", "id",
                 sqlite_where=sa.text("dispatched_at IS NULL"),
                 postgresql_where=sa.text("dispatched_at IS NULL")),
    )

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    service_id: uuid.UUID | None = Field(default=None, foreign_key="service.id", index=True)
    type: str = Field(max_length=64)
    entity_id: uuid.UUID
    payload: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType)
    created_at: datetime = Field(default_factory=utcnow)
    dispatched_at: datetime | None = Field(default=None, index=True)


async def emit(
    session: AsyncSession,
    event_type: str,
    entity_id: uuid.UUID,
    *,
    service_id: uuid.UUID | None,
    payload: dict[str, Any] | None = None,
) -> PendingEvent:
    """Queue an outgoing event in the current unit of work: it is written with the
    transaction's audit entries just before the commit (``app.domain.audit``, whose
    ``before_commit`` listener writes both), so it commits with the write or not at all.
    Answers the event as plain data (a :class:`PendingEvent`, a row of ``outbox_event``)."""
    event = PendingEvent(id=new_id(), service_id=service_id, type=event_type,
                         entity_id=entity_id, payload=payload or {}, created_at=utcnow())
    sync = session.sync_session
    if not sync.in_transaction():
        sync.begin()  # so that a rollback before any statement still drops the event
    sync.info.setdefault(PENDING, []).append(event)
    return event


@dataclass(slots=True)
class PendingEvent:
    """An outgoing event not yet written, as plain data: the columns of :class:`OutboxEvent`
    (no ORM object per event on the write path)."""

    id: uuid.UUID
    service_id: uuid.UUID | None
    type: str
    entity_id: uuid.UUID
    payload: dict[str, Any]
    created_at: datetime
    dispatched_at: datetime | None = None


# session.info key: this transaction's events, not yet written.
PENDING = "outbox_pending"
COLUMNS = ("id", "service_id", "type", "entity_id", "payload", "created_at", "dispatched_at")


def rows_of(events: list[PendingEvent]) -> list[dict[str, Any]]:
    """The pending events as rows of ``outbox_event``."""
    return [{c: getattr(e, c) for c in COLUMNS} for e in events]
