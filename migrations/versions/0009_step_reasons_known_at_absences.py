"""step reasons, case event known_at, staff absences

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30 00:10:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0009'
down_revision: str | Sequence[str] | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')


def upgrade() -> None:
    # One duty, one open step: every reason (rule, paragraph, triggering record) it carries.
    with op.batch_alter_table('step', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reasons', JSON, nullable=False, server_default='[]'))
    # When an event became known to the worker (clocks that count from knowledge).
    with op.batch_alter_table('case_event', schema=None) as batch_op:
        batch_op.add_column(sa.Column('known_at', sqlmodel.sql.sqltypes.UTCDateTime(),
                                      nullable=True))
    op.create_table(
        'staff_absence',
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('service_id', sa.Uuid(), nullable=False),
        sa.Column('staff_id', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column('starts_on', sa.Date(), nullable=False),
        sa.Column('ends_on', sa.Date(), nullable=False),
        sa.Column('reason', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column('created_by', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['service_id'], ['service.id'], ),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('staff_absence', schema=None) as batch_op:
        batch_op.create_index('ix_staff_absence_staff', ['service_id', 'staff_id', 'ends_on'],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table('staff_absence', schema=None) as batch_op:
        batch_op.drop_index('ix_staff_absence_staff')
    op.drop_table('staff_absence')
    with op.batch_alter_table('case_event', schema=None) as batch_op:
        batch_op.drop_column('known_at')
    with op.batch_alter_table('step', schema=None) as batch_op:
        batch_op.drop_column('reasons')
