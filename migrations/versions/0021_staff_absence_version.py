"""staff absence version: the ETag an absence's PATCH is conditional on (attack pass 10, A10-22)

Existing absences start at version 1.

Revision ID: 0021
Revises: 0020
Create Date: 2026-11-30 18:30:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0021'
down_revision: str | Sequence[str] | None = '0020'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('staff_absence') as batch:
        batch.add_column(sa.Column('version', sa.Integer(), nullable=False,
                                   server_default='1'))


def downgrade() -> None:
    with op.batch_alter_table('staff_absence') as batch:
        batch.drop_column('version')
