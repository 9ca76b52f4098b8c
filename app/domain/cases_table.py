"""The case table (kept apart from the case services to keep imports one-way)."""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from app.domain.common import JSONType, enum_column, new_id, utcnow


class Intervention(enum.StrEnum):
    """The kind of work the service does with the child."""

    prevention = "prevention"
    community_resolution = "community_resolution"
    youth_caution = "youth_caution"
    youth_conditional_caution = "youth_conditional_caution"
    court_order = "court_order"
    bail = "bail"
    remand = "remand"
    pre_sentence_report = "pre_sentence_report"
    targeted = "targeted"


STATUTORY_INTERVENTIONS = frozenset(
    {Intervention.court_order, Intervention.bail, Intervention.remand}
)


class CscStatus(enum.StrEnum):
    """Children's social care involvement: none, child in need, child in care, protection plan."""

    none = "none"
    cin = "cin"
    cic = "cic"
    cp = "cp"


class ContactLevel(enum.StrEnum):
    """Frequency of contact (Wokingham, W11)."""

    fortnightly = "fortnightly"
    weekly = "weekly"
    twice_weekly = "twice_weekly"
    three_times_weekly = "three_times_weekly"


class AccessMode(enum.StrEnum):
    """How a restricted case limits who sees it: only the listed staff, or all but them."""

    allowed = "allowed"
    excluded = "excluded"


_version = sa.Column("version", sa.Integer, nullable=False)


class Case(SQLModel, table=True):
    """A child's case within one service, with its current ratings and register state."""

    __tablename__ = "case"
    __table_args__ = (
        sa.UniqueConstraint(
            "service_id", "external_system", "external_id", name="uq_case_external_ref"
        ),
        sa.Index("ix_case_service_holder", "service_id", "case_holder_id"),
        sa.Index("ix_case_service_manager", "service_id", "line_manager_id"),
        sa.Index("ix_case_service_created", "service_id", "created_at", "id"),
        sa.Index("ix_case_service_dob", "service_id", "date_of_birth"),
        sa.Index("ix_case_register_service", "service_id", "created_at",
                 sqlite_where=sa.text("on_register"), postgresql_where=sa.text("on_register")),
        sa.CheckConstraint("mappa_category IS NULL OR mappa_category BETWEEN 1 AND 3",
                           name="mappa_category_range"),
        sa.CheckConstraint("mappa_level IS NULL OR mappa_level BETWEEN 1 AND 3",
                           name="mappa_level_range"),
    )
    __mapper_args__ = {"version_id_col": _version}

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    service_id: uuid.UUID = Field(foreign_key="service.id")
    external_system: str | None = Field(default=None, max_length=64)
    external_id: str | None = Field(default=None, max_length=128)
    given_name: str = Field(max_length=100)
    family_name: str = Field(max_length=100)
    date_of_birth: date
    case_holder_id: str = Field(max_length=128)
    line_manager_id: str = Field(max_length=128)
    intervention: Intervention = Field(sa_column=enum_column(Intervention))
    statutory: bool
    csc_status: CscStatus = Field(sa_column=enum_column(CscStatus))
    weapon_related: bool = False
    mappa_category: int | None = None
    mappa_level: int | None = None
    expected_release_date: date | None = None
    in_custody: bool = False
    volunteer_attached: bool = False
    opened_at: datetime
    closed_at: datetime | None = None
    # When the latest PATCH that changed the case happened (its ``occurred_at``; a closure's
    # ``closed_at``; aware UTC): a later closure may not predate it (``acts.latest_act_at``).
    changed_at: datetime | None = None
    # The interventions the case had before a change of intervention, oldest first: a rule
    # about orders (Wokingham's closure Asset+) still holds for an order turned into a
    # prevention case (A9-8).
    past_interventions: list[str] = Field(default_factory=list, sa_type=JSONType)
    # The periods the case was closed before its reopenings, ``[closed_at, reopened_at]`` (RFC
    # 3339 UTC), oldest first: no act may be dated inside one (A9-7), except what the pack
    # reaches past closure (``after_closure``).
    closed_periods: list[list[str]] = Field(default_factory=list, sa_type=JSONType)
    ratings: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType)
    # The case facts the service's pack declares (``[[facts]]``), set by PATCH ``facts``, and
    # the latest submitted assessment score of each name (``[[scores]]``).
    facts: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType)
    scores: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType)
    # The ratings the child arrived with from another service (the latest transfer in's
    # ``incoming_ratings``; migration 0031): another service's judgement, which the pack may
    # count until this service rates the domain itself (Somerset 13.3, 9, 3.2.4; ATK28B-11).
    incoming_ratings: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType)
    # The assessment types of which the case has a countersigned assessment (migration 0031;
    # Wokingham W3's review of an Asset+ when a child turns high after it, ATK28B-9).
    countersigned_types: list[str] = Field(default_factory=list, sa_type=JSONType)
    on_register: bool = Field(default=False, index=True)
    # Dealt with as a priority (the pack's ``[priority]``: Somerset 3.2.4, ROSH or SWB very
    # high), derived after each act like ``on_register`` (migration 0025; attack pass 19, A19-2).
    priority: bool = Field(default=False, sa_column_kwargs={"server_default": sa.false()})
    # A manager raised the case's priority (Somerset 3.2.4 "The urgency of oversight by the MARP
    # will be agreed with a manager, (High/Very High cases) who will act to raise the priority
    # if necessary"; the pack's ``[priority] raisable``): the case is a priority while it holds;
    # it lapses when the case stops being one the manager may raise (ROSH and SWB below high),
    # at closure and at a recorded death, as the Very High marker does (migration 0027; A20-16).
    priority_raised: bool = Field(default=False,
                                  sa_column_kwargs={"server_default": sa.false()})
    contact_level: ContactLevel | None = Field(
        default=None, sa_column=enum_column(ContactLevel, nullable=True)
    )
    access_mode: AccessMode | None = Field(
        default=None, sa_column=enum_column(AccessMode, nullable=True)
    )
    version: int = Field(default=1, sa_column=_version)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class CaseAccessStaff(SQLModel, table=True):
    """A staff member named by a restricted case's access list (allowed or excluded)."""

    __tablename__ = "case_access_staff"

    case_id: uuid.UUID = Field(foreign_key="case.id", primary_key=True)
    staff_id: str = Field(max_length=128, primary_key=True)


def mark_changed(case: Case, acted: datetime) -> None:
    """Record that the case's fields changed by an act at ``acted`` (aware UTC): ``changed_at``
    is the latest such act, which a later closure may not predate (``acts.latest_act_at``)."""
    case.changed_at = max(case.changed_at, acted) if case.changed_at else acted


def case_etag(case: Case) -> str:
    """The strong ETag of a case: its version (``GET /v1/cases/{id}``, ``If-Match``)."""
    return f'"{case.version}"'
