"""Indexes for the queues at national scale: open steps by assignee, the overdue scan, the register.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 23:59:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0005'
down_revision: str | Sequence[str] | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN = sa.text("status = 'open'")
UNESCALATED = sa.text("status = 'open' AND escalated_at IS NULL")
REGISTER = sa.text("on_register")


def upgrade() -> None:
    # A case holder's or line manager's queue: their open steps, soonest due first.
    op.create_index('ix_step_open_assignee_due', 'step', ['assignee_id', 'due_at'],
                    postgresql_where=OPEN, sqlite_where=OPEN)
    # The escalation worker's scan: open, unescalated steps in due order.
    op.create_index('ix_step_open_unescalated_due', 'step', ['due_at', 'id'],
                    postgresql_where=UNESCALATED, sqlite_where=UNESCALATED)
    # A service's register in creation order.
    op.create_index('ix_case_register_service', 'case', ['service_id', 'created_at'],
                    postgresql_where=REGISTER, sqlite_where=REGISTER)


def downgrade() -> None:
    op.drop_index('ix_case_register_service', table_name='case')
    op.drop_index('ix_step_open_unescalated_due', table_name='step')
    op.drop_index('ix_step_open_assignee_due', table_name='step')
