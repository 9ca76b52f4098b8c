"""case.priority_raised: a manager raised the priority of a High/Very High case

Somerset 3.2.4: "The urgency of oversight by the MARP will be agreed with a manager, (High/Very
High cases) who will act to raise the priority if necessary" (attack pass 20, A20-16;
``POST /v1/cases/{id}/priority``). No case has one yet: false everywhere.

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-01 07:30:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0027'
down_revision: str | Sequence[str] | None = '0026'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('case') as batch:
        batch.add_column(sa.Column('priority_raised', sa.Boolean(), nullable=False,
                                   server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table('case') as batch:
        batch.drop_column('priority_raised')
