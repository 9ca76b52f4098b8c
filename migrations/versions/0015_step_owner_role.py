"""step owner role: the role under which a panel action's owner took it at the decision

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-30 13:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '0015'
down_revision: str | Sequence[str] | None = '0014'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('step') as batch:
        batch.add_column(sa.Column('owner_role', sqlmodel.sql.sqltypes.AutoString(length=32),
                                   nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('step') as batch:
        batch.drop_column('owner_role')
