"""step overdue_at (when a step is late for escalation)

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30 00:10:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '0010'
down_revision: str | Sequence[str] | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('step', schema=None) as batch_op:
        batch_op.add_column(sa.Column('overdue_at', sqlmodel.sql.sqltypes.UTCDateTime(),
                                      nullable=True))
        batch_op.create_index('ix_step_status_overdue', ['status', 'overdue_at'], unique=False)
    # Existing steps: overdue from their due time.
    op.execute("UPDATE step SET overdue_at = due_at")


def downgrade() -> None:
    with op.batch_alter_table('step', schema=None) as batch_op:
        batch_op.drop_index('ix_step_status_overdue')
        batch_op.drop_column('overdue_at')
