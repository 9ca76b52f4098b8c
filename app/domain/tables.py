"""Imports every table so the metadata (and Alembic) sees the whole schema."""

from app.domain.audit import AuditEntry
from app.domain.cases_table import Case
from app.domain.judgements import Judgement
from app.domain.outbox import OutboxEvent
from app.domain.services import Service
from app.domain.steps import Step

__all__ = ["AuditEntry", "Case", "Judgement", "OutboxEvent", "Service", "Step"]
