"""Rows as a database held them before a migration: a service, cases and steps written
straight into the tables (for tests of a migration's backfill over old rows)."""

from __future__ import annotations

import uuid
from datetime import date, datetime

import sqlalchemy as sa
import sqlmodel
from sqlalchemy.dialects import postgresql

WHEN = sqlmodel.sql.sqltypes.UTCDateTime()
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
SERVICE = sa.table("service", sa.column("id", sa.Uuid()), sa.column("slug"), sa.column("name"),
                   sa.column("policy_pack"), sa.column("created_at", WHEN))
CASE = sa.table(
    "case", *(sa.column(n, sa.Uuid()) for n in ("id", "service_id")),
    *(sa.column(n) for n in ("given_name", "family_name", "case_holder_id", "line_manager_id",
                             "intervention", "csc_status", "version")),
    sa.column("date_of_birth", sa.Date()),
    *(sa.column(n, sa.Boolean()) for n in ("statutory", "weapon_related", "in_custody",
                                           "volunteer_attached", "on_register")),
    *(sa.column(n, JSON) for n in ("past_interventions", "closed_periods", "ratings", "facts",
                                   "scores")),
    *(sa.column(n, WHEN) for n in ("opened_at", "created_at", "updated_at")),
)
STEP = sa.table(
    "step", *(sa.column(n, sa.Uuid()) for n in ("id", "service_id", "case_id", "subject_id")),
    *(sa.column(n) for n in ("code", "rule_id", "title", "actor", "policy_pack", "policy_ref",
                             "status")),
    sa.column("urgent", sa.Boolean()), sa.column("awaiting_panel_date", sa.Boolean()),
    sa.column("reasons", JSON), sa.column("created_at", WHEN), sa.column("raised_at", WHEN),
)


def old_case(service_id: uuid.UUID, rosh: str, at: datetime) -> dict[str, object]:
    """A Somerset court order case rated ROSH ``rosh`` at ``at``, on the register."""
    return {"id": uuid.uuid4(), "service_id": service_id, "given_name": "A", "family_name": "B",
            "case_holder_id": "ch-1", "line_manager_id": "lm-1", "intervention": "court_order",
            "csc_status": "none", "version": 1, "date_of_birth": date(2011, 2, 1),
            "statutory": True, "weapon_related": False, "in_custody": False,
            "volunteer_attached": False, "on_register": True, "past_interventions": [],
            "closed_periods": [], "facts": {}, "scores": {}, "opened_at": at,
            "created_at": at, "updated_at": at,
            "ratings": {"rosh": {"level": rosh, "recorded_at": at.isoformat(),
                                 "judgement_id": str(uuid.uuid4())}}}


def old_step(case: dict[str, object], at: datetime) -> dict[str, object]:
    """An open S11 monthly review of the case, raised at ``at``."""
    return {"id": uuid.uuid4(), "service_id": case["service_id"], "case_id": case["id"],
            "subject_id": case["id"], "code": "monthly_manager_review", "rule_id": "S11",
            "title": "Review", "actor": "line_manager", "policy_pack": "somerset-yjt-2023",
            "policy_ref": "4.5", "status": "open", "urgent": False,
            "awaiting_panel_date": False, "reasons": [], "created_at": at, "raised_at": at}
