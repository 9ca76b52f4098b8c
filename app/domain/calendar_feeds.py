"""Personal calendar feeds: a revocable, unguessable URL serving the caller's open steps as
iCalendar (calendar clients cannot send a bearer header, so the URL is the credential)."""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from app.domain.common import JSONType, new_id, utcnow


class CalendarFeed(SQLModel, table=True):
    """A staff member's calendar feed; only the SHA-256 of its token is stored."""

    __tablename__ = "calendar_feed"
    __table_args__ = (sa.Index("ix_calendar_feed_service_staff", "service_id", "staff_id"),)

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    service_id: uuid.UUID = Field(foreign_key="service.id")
    staff_id: str = Field(max_length=128)
    roles: list[str] = Field(default_factory=list, sa_type=JSONType)
    token_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = Field(default_factory=utcnow)
    revoked_at: datetime | None = None
    last_used_at: datetime | None = None
