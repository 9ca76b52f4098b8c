"""One agenda item per case per panel (attack pass 11, A11-8).

A case could be put on the same panel's agenda twice (three racing adds gave three items), and
the panel could then record two contradicting decisions about the child at one sitting. The
service now refuses a second item (409 ``already-on-agenda``, checked under the case's lock);
this unique index is the database's guarantee of it.

Existing data: items already duplicated are not deleted or merged (a decision may be recorded
on any of them, and the audit trail names them). ``duplicate_rank`` is 0 for the first item
added for a case on a panel and numbers its extra items 1, 2, ... in the order they were
added; the index is unique on (panel_id, case_id, duplicate_rank), so the upgrade never fails
on old duplicates and no new one can be stored (a new item has rank 0).

Revision ID: 0020
Revises: 0017
Create Date: 2026-11-30 19:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0020'
down_revision: str | Sequence[str] | None = '0017'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = 'uq_panel_item_panel_case'


def upgrade() -> None:
    with op.batch_alter_table('panel_item') as batch:
        batch.add_column(sa.Column('duplicate_rank', sa.Integer(), nullable=False,
                                   server_default='0'))
    conn = op.get_bind()
    rows = conn.execute(sa.text(
        "SELECT id, panel_id, case_id FROM panel_item "
        "ORDER BY panel_id, case_id, created_at, id")).all()
    seen: dict[tuple[str, str], int] = {}
    for item_id, panel_id, case_id in rows:
        key = (str(panel_id), str(case_id))
        rank = seen.get(key, -1) + 1
        seen[key] = rank
        if rank:
            # The id as the database gave it (hex text on SQLite, uuid on PostgreSQL).
            conn.execute(sa.text("UPDATE panel_item SET duplicate_rank = :rank WHERE id = :id"),
                         {"rank": rank, "id": item_id})
    op.create_index(INDEX, 'panel_item', ['panel_id', 'case_id', 'duplicate_rank'],
                    unique=True)


def downgrade() -> None:
    op.drop_index(INDEX, table_name='panel_item')
    with op.batch_alter_table('panel_item') as batch:
        batch.drop_column('duplicate_rank')
