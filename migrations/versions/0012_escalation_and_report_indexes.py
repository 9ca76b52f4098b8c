"""Indexes for the national scale (issue 15): the escalation pass by service, stale escalations,
the webhook pass's undispatched events, and a covering index for the timeliness report.

- ``ix_step_open_unescalated_service_due`` (service_id, due_at, id), partial on open,
  unescalated steps: the pass walks the overdue steps service by service in this order (a batch
  extends one audit chain), as a keyset; it replaces 0005's ``ix_step_open_unescalated_due``
  (due_at, id), which only that pass used.
- ``ix_step_open_escalation_subject`` (subject_id), partial on open escalation steps: the pass
  finds escalations whose overdue step has closed without reading every step.
- ``ix_outbox_event_undispatched`` (created_at, id), partial on undispatched events: the
  webhook pass takes the oldest undispatched events in batches; with only the index on
  ``dispatched_at`` each batch sorted every undispatched event (the tick after a national
  escalation pass queues tens of thousands).
- ``ix_step_service_due`` (service_id, due_at) is made covering on PostgreSQL (INCLUDE the
  columns the timeliness report counts and groups on), so a service's month is read from the
  index alone (an index-only scan) rather than from one heap page per step; SQLite has no
  INCLUDE and keeps the plain index.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30 03:10:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0012'
down_revision: str | Sequence[str] | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNESCALATED = sa.text("status = 'open' AND escalated_at IS NULL")
OPEN_ESCALATION = sa.text("status = 'open' AND code = 'escalate_overdue_step'")
UNDISPATCHED = sa.text("dispatched_at IS NULL")
REPORT_COLUMNS = ["status", "overdue_at", "completed_at", "raised_at", "policy_pack",
                  "policy_version", "rule_id", "code", "case_id"]


def upgrade() -> None:
    op.create_index('ix_step_open_unescalated_service_due', 'step',
                    ['service_id', 'due_at', 'id'],
                    postgresql_where=UNESCALATED, sqlite_where=UNESCALATED)
    op.drop_index('ix_step_open_unescalated_due', table_name='step')
    op.create_index('ix_step_open_escalation_subject', 'step', ['subject_id'],
                    postgresql_where=OPEN_ESCALATION, sqlite_where=OPEN_ESCALATION)
    op.create_index('ix_outbox_event_undispatched', 'outbox_event', ['created_at', 'id'],
                    postgresql_where=UNDISPATCHED, sqlite_where=UNDISPATCHED)
    if op.get_bind().dialect.name == 'postgresql':
        op.drop_index('ix_step_service_due', table_name='step')
        op.create_index('ix_step_service_due', 'step', ['service_id', 'due_at'],
                        postgresql_include=REPORT_COLUMNS)


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.drop_index('ix_step_service_due', table_name='step')
        op.create_index('ix_step_service_due', 'step', ['service_id', 'due_at'])
    op.drop_index('ix_outbox_event_undispatched', table_name='outbox_event')
    op.drop_index('ix_step_open_escalation_subject', table_name='step')
    op.create_index('ix_step_open_unescalated_due', 'step', ['due_at', 'id'],
                    postgresql_where=UNESCALATED, sqlite_where=UNESCALATED)
    op.drop_index('ix_step_open_unescalated_service_due', table_name='step')
