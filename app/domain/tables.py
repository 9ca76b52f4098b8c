"""Imports every table so the metadata (and Alembic) sees the whole schema."""

from app.domain.absences import StaffAbsence
from app.domain.access_log import AccessLogEntry
from app.domain.assessments_table import Assessment
from app.domain.audit import AuditEntry
from app.domain.calendar_feeds import CalendarFeed
from app.domain.cases_table import Case, CaseAccessStaff
from app.domain.cursors import CursorKey
from app.domain.events import CaseEvent
from app.domain.feeds import IdempotencyRecord
from app.domain.history import RecordChange
from app.domain.judgements_table import Judgement
from app.domain.outbox import OutboxEvent
from app.domain.oversight import OversightEntry
from app.domain.pack_versions import ServicePackVersion
from app.domain.panels_table import Panel, PanelItem
from app.domain.referrals import Referral
from app.domain.services import Service
from app.domain.steps import Step
from app.domain.webhooks import WebhookDelivery, WebhookSubscription

__all__ = [
    "AccessLogEntry", "Assessment", "CalendarFeed", "CaseAccessStaff", "CaseEvent", "CursorKey",
    "OversightEntry", "AuditEntry", "Case", "IdempotencyRecord", "Judgement", "OutboxEvent",
    "Panel", "PanelItem", "RecordChange", "Referral", "Service", "ServicePackVersion",
    "StaffAbsence", "Step", "WebhookDelivery", "WebhookSubscription",
]
