"""The case events table (kept apart from the events service, so that the step services and the
assessments, which the events service uses, can read it without importing that service)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from app.domain.common import JSONType, new_id, utcnow


class CaseEvent(SQLModel, table=True):
    """One event on a case: what, when it happened, who recorded it and under which role."""

    __tablename__ = "case_event"
    __table_args__ = (sa.Index("ix_case_event_case_occurred", "case_id", "occurred_at"),)

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    service_id: uuid.UUID = Field(foreign_key="service.id")
    case_id: uuid.UUID = Field(foreign_key="case.id")
    # A core type (CaseEventType) or one the service's pack declares; checked on write.
    type: str = Field(max_length=32)
    occurred_at: datetime
    # When it became known to the worker (default: when it happened); policy clocks that count
    # from knowledge use it (Wokingham "becomes known to the PYJS worker").
    known_at: datetime | None = None
    may_raise_to_high: bool = False
    transfer_date: date | None = None
    details: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType)
    recorded_by: str = Field(max_length=128)
    recorded_role: str = Field(max_length=32)
    created_at: datetime = Field(default_factory=utcnow)


def event_data(event: CaseEvent) -> dict[str, Any]:
    """The engine's view of a case event (``case_event`` trigger)."""
    details = event.details or {}
    data: dict[str, Any] = {
        "type": str(event.type),
        "event_id": str(event.id),
        "may_raise_to_high": event.may_raise_to_high,
        "transfer_date": event.transfer_date,
        "details": details,
        "known_at": event.known_at or event.occurred_at,
    }
    if "incoming_ratings" in details:
        data["incoming_ratings"] = details["incoming_ratings"]
    if "release_address_other_area" in details:
        data["release_address_other_area"] = details["release_address_other_area"]
    if "notifiable_offence" in details:  # as sent (charged only); read through the flag below
        data["notifiable_offence"] = details["notifiable_offence"]
    if offence_not_notifiable(str(event.type), details.get("notifiable_offence")):
        data["offence_not_notifiable"] = True
    return data


def offence_not_notifiable(event_type: str, sent: bool | None) -> bool:
    """Whether a ``charged`` event says its offence is not notifiable (attack pass 19, A19-20:
    Somerset 12 "any child who is charged with any notifiable offence", Wokingham "serious
    incidents in line with YJB guidance"; the packs' CSPPI lines skip a charge flagged
    ``offence_not_notifiable``). Only an explicit ``notifiable_offence: false`` sets it: unsaid
    is notifiable. A serious incident left unnotified to the YJB is the harm to the public the
    procedure exists to prevent, while a notification the YJT manager finds unneeded costs a
    review; so a system that cannot tell keeps the protective reading, and the engine (and a
    pack's scenarios) never lose a notification for want of a key."""
    return event_type == "charged" and sent is False
