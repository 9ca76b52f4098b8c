"""The assessment table, its tool, stage and status, and what the case's assessments on record
say to the clocks that run from them (kept apart from the assessment services, so that the
replay of acts out of time order can read them and the services can use the replay)."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.domain.common import JSONType, enum_column, iso_utc, new_id, utcnow
from app.domain.judgements_table import Judgement


class AssessmentType(enum.StrEnum):
    """The assessment tool used."""

    asset_plus = "asset_plus"
    mini_asset = "mini_asset"
    fact_finding = "fact_finding"
    lead_professional = "lead_professional"


class AssessmentStage(enum.StrEnum):
    """The stage of the intervention the assessment is for."""

    start = "start"
    review = "review"
    closure = "closure"
    transfer = "transfer"


class AssessmentStatus(enum.StrEnum):
    """Lifecycle: a draft is submitted, then countersigned or returned for changes."""

    draft = "draft"
    submitted = "submitted"
    returned = "returned"
    countersigned = "countersigned"


class Assessment(SQLModel, table=True):
    """One assessment of a case, with who wrote, submitted and countersigned it, and when."""

    __tablename__ = "assessment"
    __table_args__ = (sa.Index("ix_assessment_case_created", "case_id", "created_at"),)

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    service_id: uuid.UUID = Field(foreign_key="service.id")
    case_id: uuid.UUID = Field(foreign_key="case.id")
    type: AssessmentType = Field(sa_column=enum_column(AssessmentType))
    stage: AssessmentStage = Field(sa_column=enum_column(AssessmentStage))
    status: AssessmentStatus = Field(
        default=AssessmentStatus.draft,
        sa_column=enum_column(AssessmentStatus, server_default="draft"),
    )
    author_id: str = Field(max_length=128)
    occurred_at: datetime
    submitted_at: datetime | None = None
    countersigned_at: datetime | None = None
    countersigned_by: str | None = Field(default=None, max_length=128)
    returned_at: datetime | None = None
    feedback: str | None = Field(default=None, max_length=8000)
    history: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSONType)
    # Section scores the service's pack declares (``[[scores]]``), given on submission.
    scores: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType)
    created_at: datetime = Field(default_factory=utcnow)



# An assessment act on file: (when, "submit" or "countersign", the assessment, by whom).
FiledAct = tuple[datetime, str, Assessment, str]


async def assessment_acts(session: AsyncSession, case_id: uuid.UUID) -> list[FiledAct]:
    """The case's assessment submissions and countersignatures (each resubmission too), as
    their history records them, earliest first."""
    rows = (await session.exec(select(Assessment).where(
        Assessment.case_id == case_id, Assessment.status != AssessmentStatus.draft))).all()
    acts = [(datetime.fromisoformat(str(entry["at"])), str(entry["action"]), assessment,
             str(entry.get("by") or assessment.author_id))
            for assessment in rows for entry in assessment.history or ()
            if entry.get("action") in ("submit", "countersign") and entry.get("at")]
    return sorted(acts, key=lambda act: (act[0], str(act[2].id)))



async def assessment_clock(
    session: AsyncSession, assessment_id: uuid.UUID | None, occurred_at: datetime
) -> dict[str, Any]:
    """What a judgement's assessment says: its type (``assessment_type``: the SWB matrix is
    required on an Asset+, Wokingham M8) and the clocks that run from its completion (W9):
    ``assessment_pending`` while it is not countersigned ("not considered complete until it has
    been counter signed"); once it is, ``assessment_completed_at``: its countersignature, or the
    judgement itself when that came later (a correction to a completed assessment); nothing
    without an assessment."""
    if assessment_id is None:
        return {}
    row = (await session.exec(
        select(Assessment.status, Assessment.countersigned_at, Assessment.type)
        .where(Assessment.id == assessment_id))).first()
    if row is None:
        return {}
    status, signed, kind = row
    if status != AssessmentStatus.countersigned or signed is None:
        return {"assessment_pending": True, "assessment_type": str(kind)}
    return {"assessment_completed_at": iso_utc(max(signed, occurred_at)),
            "assessment_type": str(kind)}


async def countersigned_types_at(
    session: AsyncSession, case_id: uuid.UUID, at: datetime
) -> frozenset[str]:
    """The tools of the case's assessments countersigned at or before ``at`` (a
    countersignature is final: no move leaves that status), read from the assessments
    themselves, so that the order the countersignatures were typed in does not matter: an
    Asset+ countersigned on 12 August typed in after another assessment countersigned on the
    28th was on record on the 20th (Wokingham W3; fix37d)."""
    a: Any = Assessment.__table__  # type: ignore[attr-defined]
    rows = (await (await session.connection()).execute(
        sa.select(a.c.type).distinct().where(
            a.c.case_id == case_id, a.c.countersigned_at.is_not(None),
            a.c.countersigned_at <= at))).all()
    return frozenset(str(kind) for (kind,) in rows)


# A judgement as :func:`ratings_completed_by` reads it: (id, domain, assessment, panel item,
# occurred_at).
RatedWith = tuple[uuid.UUID, str, uuid.UUID | None, uuid.UUID | None, datetime]


async def ratings_completed_by(
    session: AsyncSession, case_id: uuid.UUID, assessment: Assessment, at: datetime,
    pending: RatedWith | None = None,
) -> dict[str, bool]:
    """The ratings this countersignature at ``at`` completes, as event flags: each domain's
    rating in force at ``at`` (its latest judgement dated at or before it; of one instant, a
    panel's decision first, then recording order, as app.domain.replay.SAME_INSTANT orders
    them), whatever judgements were recorded since or typed in first, so that every typing
    order of the same acts gives the same flags (attack 35b, ATTACK35B-5). It is completed
    (``completes_<domain>_rating``) when its judgement was recorded with this assessment
    (``completes_<domain>_own_rating``) or with none, by hand or as a panel's classification
    (``completes_<domain>_panel_rating``): the assessment completed after such a judgement is
    the one its clocks wait for (W9 "within two working days of the assessment being
    completed"; ATTACK34B-4). ``pending``: a judgement this write records whose row is left to
    the commit (a countersignature replayed after it, A15-4), last among its instant's."""
    j: Any = Judgement.__table__  # type: ignore[attr-defined]
    rows = (await (await session.connection()).execute(
        sa.select(j.c.id, j.c.domain, j.c.assessment_id, j.c.panel_item_id, j.c.occurred_at,
                  j.c.created_at)
        .where(j.c.case_id == case_id, j.c.occurred_at <= at))).all()
    # Time order: the instant, a panel's decision before a plain judgement, the pending one
    # last among its kind, then recording order.
    judged = [((occurred, item is None, False, str(created), str(i)),
               (i, str(domain), named, item, occurred))
              for i, domain, named, item, occurred, created in rows
              if pending is None or i != pending[0]]
    if pending is not None and pending[4] <= at:
        judged.append(((pending[4], pending[3] is None, True, "", str(pending[0])), pending))
    in_force = {rated[1]: rated for _, rated in sorted(judged, key=lambda r: r[0])}
    flags = {}
    for domain, (_, _, named, item, _) in in_force.items():
        if named == assessment.id:
            flags[f"completes_{domain}_rating"] = flags[f"completes_{domain}_own_rating"] = True
        elif named is None:
            flags[f"completes_{domain}_rating"] = True
            if item is not None:
                flags[f"completes_{domain}_panel_rating"] = True
    return flags
