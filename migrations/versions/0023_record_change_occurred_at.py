"""record change occurred_at: when the act that changed a case's fields happened

A case change (PATCH, a CMS update, a MAPPA feed) is an act at its own ``occurred_at``, which
may be earlier than when it was recorded; the field-change history kept only the recording
time. A judgement or event dated before a change recorded earlier was judged on the case as it
is now, not as it stood at its date (attack pass 15, A15-9: Somerset's volunteer duties S28 and
S35 depended on which of a judgement and a volunteer's attachment was typed in first). Rows
recorded before this revision have no act time (null) and are left out of that reading.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-01 00:40:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '0023'
down_revision: str | Sequence[str] | None = '0022'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('record_change') as batch:
        batch.add_column(sa.Column('occurred_at', sqlmodel.sql.sqltypes.UTCDateTime(),
                                   nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('record_change') as batch:
        batch.drop_column('occurred_at')
