"""``case.changed_at``: when the latest change of a case's fields by PATCH happened (its
``occurred_at``; a closure's ``closed_at``), so that a later closure may not predate it
(attack pass 5: a PATCH correcting a case, dated after a closure later recorded before it,
was no bound; a reopening bounded the next closure by when it was recorded, not by when it
happened, which refused closures dated between the two).

Existing cases take the recording time of their latest reopening, the bound they had before
(nothing older is known of a PATCH's ``occurred_at``: it was not stored).

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-30 12:45:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '0014'
down_revision: str | Sequence[str] | None = '0013'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('case') as batch:
        batch.add_column(sa.Column('changed_at', sqlmodel.sql.sqltypes.UTCDateTime(),
                                   nullable=True))
    op.execute(sa.text(
        'UPDATE "case" SET changed_at = (SELECT max(audit_entry.at) FROM audit_entry '
        'WHERE audit_entry.case_id = "case".id AND audit_entry.entity_type = \'case\' '
        'AND audit_entry.action = \'case.reopen\')'))


def downgrade() -> None:
    with op.batch_alter_table('case') as batch:
        batch.drop_column('changed_at')
