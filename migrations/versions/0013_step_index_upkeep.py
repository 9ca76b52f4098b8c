"""Less index upkeep per step written (issue 15, the national tick): every step a write or the
escalation pass inserts, and every step it updates (a new row version, so a new entry in each
index), paid for an index no query reads and for an entry no query asks for.

- ``ix_step_status_overdue`` (status, overdue_at), from 0010, is dropped. No query filters or
  orders steps by ``overdue_at`` (they compare ``coalesce(overdue_at, due_at)``, which it cannot
  answer; the escalation pass has its own partial index since 0012). On the national data set
  (``benchmarks/national.py``, 5 million steps) it was 205 MB and, after every measured read
  and a tick, had been scanned once (the planner's own probe of a range's end).
- ``ix_step_open_unescalated_service_due`` (service_id, due_at, id), partial on open,
  unescalated steps, also held every open escalation step (undated, never escalated itself):
  one more index entry per escalation that no query reads, as the pass asks for
  ``due_at < now``. The predicate now also says ``due_at IS NOT NULL``; PostgreSQL and SQLite
  both prove it from the pass's ``due_at < :now`` (a comparison on the column), so its plan
  is unchanged.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-30 06:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0013'
down_revision: str | Sequence[str] | None = '0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BEFORE = sa.text("status = 'open' AND escalated_at IS NULL")
AFTER = sa.text("status = 'open' AND escalated_at IS NULL AND due_at IS NOT NULL")
UNESCALATED = 'ix_step_open_unescalated_service_due'
COLUMNS = ['service_id', 'due_at', 'id']


def upgrade() -> None:
    op.drop_index('ix_step_status_overdue', table_name='step')
    op.drop_index(UNESCALATED, table_name='step')
    op.create_index(UNESCALATED, 'step', COLUMNS, postgresql_where=AFTER, sqlite_where=AFTER)


def downgrade() -> None:
    op.drop_index(UNESCALATED, table_name='step')
    op.create_index(UNESCALATED, 'step', COLUMNS, postgresql_where=BEFORE, sqlite_where=BEFORE)
    op.create_index('ix_step_status_overdue', 'step', ['status', 'overdue_at'], unique=False)
