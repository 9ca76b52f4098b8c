"""pack vocabulary: panel kinds, referral kinds and event types are the pack's; case facts and
assessment scores

Panel kinds, referral kinds and case event types were CHECK-constrained to the two bundled packs'
words; a pack now declares its own (checked on every write against the service's pack), so the
constraints go. Cases gain the pack's typed facts and the latest assessment scores; assessments
their scores.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 00:10:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0008'
down_revision: str | Sequence[str] | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')
# (table, column, constraint name under the naming convention, the words it allowed)
CONSTRAINED = (
    ('panel', 'kind', 'ck_panel_panelkind', ('marp', 'high_risk_panel')),
    ('referral', 'kind', 'ck_referral_referralkind',
     ('panel', 'mappa_h', 'mappa_a', 'emrac', 'marf', 'nrm', 'child_protection',
      'serious_incident')),
    ('case_event', 'type', 'ck_case_event_caseeventtype',
     ('change_of_circumstances', 'new_incident', 'exploitation_concern', 'trafficking_concern',
      'risk_to_staff', 'charged', 'death', 'custody_entry', 'custody_release', 'transfer_in',
      'transfer_out', 'partner_action_not_secured')),
)


def upgrade() -> None:
    for table, column, name, _ in CONSTRAINED:
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(op.f(name), type_='check')
            batch.alter_column(column, existing_type=sa.String(length=32),
                               type_=sa.String(length=32), existing_nullable=False)
    with op.batch_alter_table('case') as batch:
        batch.add_column(sa.Column('facts', JSON, nullable=False, server_default='{}'))
        batch.add_column(sa.Column('scores', JSON, nullable=False, server_default='{}'))
    with op.batch_alter_table('assessment') as batch:
        batch.add_column(sa.Column('scores', JSON, nullable=False, server_default='{}'))


def downgrade() -> None:
    with op.batch_alter_table('assessment') as batch:
        batch.drop_column('scores')
    with op.batch_alter_table('case') as batch:
        batch.drop_column('scores')
        batch.drop_column('facts')
    for table, column, name, words in CONSTRAINED:
        allowed = ", ".join(f"'{w}'" for w in words)
        with op.batch_alter_table(table) as batch:
            batch.create_check_constraint(op.f(name), sa.text(f"{column} IN ({allowed})"))
