"""panel item withdrawal: an agenda item taken off (attack pass 11, A11-16)

A case closed, or its panel referral withdrawn, stayed on an undecided agenda, and no route took
an item off. A withdrawn item is kept (who, when, why) for the audit trail and the subject
access export; it no longer counts as the case standing on the agenda. Withdrawn items are
numbered -1, -2, ... in ``duplicate_rank`` (the unique index of 0020 stays on (panel, case,
rank)), so the case may come back onto the same agenda as a new item of rank 0.

Revision ID: 0022
Revises: 0021
Create Date: 2026-11-30 21:30:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '0022'
down_revision: str | Sequence[str] | None = '0021'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('panel_item') as batch:
        batch.add_column(sa.Column('withdrawn_at', sqlmodel.sql.sqltypes.UTCDateTime(),
                                   nullable=True))
        batch.add_column(sa.Column('withdrawn_by', sqlmodel.sql.sqltypes.AutoString(length=128),
                                   nullable=True))
        batch.add_column(sa.Column('withdrawal_reason',
                                   sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('panel_item') as batch:
        batch.drop_column('withdrawal_reason')
        batch.drop_column('withdrawn_by')
        batch.drop_column('withdrawn_at')
