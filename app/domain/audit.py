"""The audit trail: every write appends an entry in the same transaction as the write."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel
from sqlmodel import Field, SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.core.security import Principal
from app.domain.common import JSONType, new_id, utcnow


class AuditEntry(SQLModel, table=True):
    """Who did what to which record, when, with a digest of the change."""

    __tablename__ = "audit_entry"
    __table_args__ = (sa.Index("ix_audit_entry_case_at", "case_id", "at"),)

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    service_id: uuid.UUID | None = Field(default=None, foreign_key="service.id", index=True)
    case_id: uuid.UUID | None = Field(default=None)
    actor_sub: str = Field(max_length=128)
    actor_role: str = Field(max_length=64)
    action: str = Field(max_length=64)
    entity_type: str = Field(max_length=32)
    entity_id: uuid.UUID
    at: datetime = Field(default_factory=utcnow)
    changed_fields: list[str] = Field(default_factory=list, sa_type=JSONType)
    reason: str | None = Field(default=None, max_length=2000)
    digest: str = Field(max_length=64)


class AuditOut(BaseModel):
    """An audit entry as managers and chairs see it."""

    id: uuid.UUID
    actor: str
    role: str
    action: str
    entity_type: str
    entity_id: uuid.UUID
    at: datetime
    fields: list[str]
    reason: str | None
    digest: str


def digest_of(change: Any) -> str:
    """SHA-256 of the canonical JSON of a change, so tampering with history is evident."""
    canonical = json.dumps(change, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def acting_role(principal: Principal, preferred: str | None = None) -> str:
    """The role a write was made under: the one that authorised it, else all roles."""
    if preferred:
        return preferred
    return ",".join(sorted(principal.roles))


async def record_audit(
    session: AsyncSession,
    principal: Principal,
    action: str,
    entity_type: str,
    entity_id: uuid.UUID,
    *,
    service_id: uuid.UUID | None,
    case_id: uuid.UUID | None = None,
    change: dict[str, Any] | None = None,
    role: str | None = None,
    reason: str | None = None,
    at: datetime | None = None,
) -> AuditEntry:
    """Append an audit entry to the current unit of work (flushed with the write)."""
    change = change or {}
    entry = AuditEntry(
        service_id=service_id,
        case_id=case_id,
        actor_sub=principal.sub,
        actor_role=acting_role(principal, role),
        action=action,
        entity_type=entity_type,
        entity_id=entity_id,
        changed_fields=sorted(change.keys()),
        reason=reason,
        digest=digest_of(change),
        at=at or utcnow(),
    )
    session.add(entry)
    return entry


async def case_audit(session: AsyncSession, case_id: uuid.UUID) -> list[AuditOut]:
    """The case's audit trail, oldest first."""
    rows = await session.exec(
        select(AuditEntry).where(AuditEntry.case_id == case_id).order_by(col(AuditEntry.at))
    )
    return [
        AuditOut(
            id=e.id, actor=e.actor_sub, role=e.actor_role, action=e.action,
            entity_type=e.entity_type, entity_id=e.entity_id, at=e.at, fields=e.changed_fields,
            reason=e.reason, digest=e.digest,
        )
        for e in rows
    ]
