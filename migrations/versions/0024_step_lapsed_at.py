"""step lapsed_at: when the condition that required a superseded step stopped holding

The engine supersedes an open step whose condition (its rule's ``holds``) no longer holds; the
step kept no time for it. A judgement dated before that supersession but recorded after it,
that in time order kept the condition holding (Somerset S11's monthly review kept alive by an
SWB high while ROSH went back to low), raised a new step dated from itself instead of the one
time order left open (redate7's leftover). ``lapsed_at`` is the time of the act at which the
condition stopped holding; older superseded steps have none and are not revived.

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-01 01:05:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '0024'
down_revision: str | Sequence[str] | None = '0023'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('step') as batch:
        batch.add_column(sa.Column('lapsed_at', sqlmodel.sql.sqltypes.UTCDateTime(),
                                   nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('step') as batch:
        batch.drop_column('lapsed_at')
