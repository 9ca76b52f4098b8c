"""panel item ``withdrawn_by_keepers``: taken off the agenda by the panel's keepers

Attack 36, ATTACK36-3: a case the chair or the panel administrator took off a sitting's agenda
(POST .../withdraw: moved to a later panel, deferred at the sitting) kept its ``next-panel``
steps (Somerset S8's views, S10's MAPPA level) due at the sitting it had left. Such a step now
takes the next sitting of the kind, or waits for one, as when a sitting is cancelled; the flag
says which withdrawals were the keepers' (a closure or a referral withdrawn takes the case off
because no panel is needed now, and says nothing about that sitting).

Existing withdrawn rows are left false: which of them the keepers made is not on the row (the
audit's ``panel.item.withdraw`` entries do not tell the two apart).

Revision ID: 0036
Revises: 0035
Create Date: 2026-12-03 13:45:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0036'
down_revision: str | Sequence[str] | None = '0035'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('panel_item') as batch:
        batch.add_column(sa.Column('withdrawn_by_keepers', sa.Boolean(), nullable=False,
                                   server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table('panel_item') as batch:
        batch.drop_column('withdrawn_by_keepers')
