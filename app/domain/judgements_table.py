"""The judgement table and its levels (kept apart from the judgement services, so that
assessments, panels and case history can read judgements without importing the services that
import them)."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from app.domain.common import JSONType, enum_column, new_id, utcnow


class RiskDomain(enum.StrEnum):
    """The three domains of risk."""

    rosh = "rosh"
    swb = "swb"
    lor = "lor"


class Level(enum.StrEnum):
    """Rating levels (LoR has no very_high: rule M7)."""

    low = "low"
    medium = "medium"
    high = "high"
    very_high = "very_high"


class Judgement(SQLModel, table=True):
    """One recorded judgement; the history of a case's ratings."""

    __tablename__ = "judgement"
    __table_args__ = (sa.Index("ix_judgement_case_occurred", "case_id", "occurred_at"),)

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    service_id: uuid.UUID = Field(foreign_key="service.id")
    case_id: uuid.UUID = Field(foreign_key="case.id")
    domain: RiskDomain = Field(sa_column=enum_column(RiskDomain))
    level: Level = Field(sa_column=enum_column(Level))
    previous_level: str | None = Field(default=None, max_length=16)
    matrix_level: str | None = Field(default=None, max_length=16)
    impact: str | None = Field(default=None, max_length=16)
    likelihood: str | None = Field(default=None, max_length=16)
    setting: str | None = Field(default=None, max_length=16)
    rationale: str | None = Field(default=None, max_length=8000)
    victims: list[str] = Field(default_factory=list, sa_type=JSONType)
    assessment_id: uuid.UUID | None = None
    panel_item_id: uuid.UUID | None = None
    occurred_at: datetime
    recorded_by: str = Field(max_length=128)
    recorded_role: str = Field(max_length=32)
    created_at: datetime = Field(default_factory=utcnow)
