"""case.incoming_ratings and case.countersigned_types (attack 28b, ATK28B-11 and ATK28B-9)

Attack 28b, ATK28B-11: a child transferred in with a High/Very High ROSH or SWB judgement from
another YJT was off the High/Very High list and not a priority until the service's own
judgement (Somerset 13.3, 9, 3.2.4). The latest transfer in's ``incoming_ratings`` are kept on
the case so that the pack's register and priority may count them until the service rates the
domain itself. Existing cases: read from their latest transfer-in event with incoming ratings.

ATK28B-9: Wokingham's three-monthly Asset+ review of a child who turns high after the Asset+
was countersigned ("Children who have been assessed as high within any of the risk domains must
have their Asset+ reviewed at least every three months") needs to know the case has a
countersigned Asset+: ``countersigned_types`` lists the assessment types of which the case has a
countersigned assessment. Existing cases: read from their countersigned assessments.

Revision ID: 0031
Revises: 0030
Create Date: 2026-12-02 10:45:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0031'
down_revision: str | Sequence[str] | None = '0030'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')


def upgrade() -> None:
    with op.batch_alter_table('case') as batch:
        batch.add_column(sa.Column('incoming_ratings', JSON, nullable=False,
                                   server_default='{}'))
        batch.add_column(sa.Column('countersigned_types', JSON, nullable=False,
                                   server_default='[]'))
    bind = op.get_bind()
    event = sa.table('case_event', sa.column('case_id'), sa.column('type'),
                     sa.column('occurred_at'), sa.column('details', sa.JSON()))
    case = sa.table('case', sa.column('id'), sa.column('incoming_ratings', JSON),
                    sa.column('countersigned_types', JSON))
    latest: dict[object, object] = {}
    rows = bind.execute(sa.select(event.c.case_id, event.c.details)
                        .where(event.c.type == 'transfer_in')
                        .order_by(event.c.occurred_at)).all()
    for case_id, details in rows:
        latest[case_id] = (details or {}).get('incoming_ratings') or {}
    for case_id, ratings in latest.items():
        if ratings:
            bind.execute(case.update().where(case.c.id == case_id)
                         .values(incoming_ratings=ratings))


    assessment = sa.table('assessment', sa.column('case_id'), sa.column('type'),
                          sa.column('countersigned_at'))
    types: dict[object, set[str]] = {}
    for case_id, kind in bind.execute(
            sa.select(assessment.c.case_id, assessment.c.type).distinct()
            .where(assessment.c.countersigned_at.is_not(None))).all():
        types.setdefault(case_id, set()).add(str(kind))
    for case_id, kinds in types.items():
        bind.execute(case.update().where(case.c.id == case_id)
                     .values(countersigned_types=sorted(kinds)))


def downgrade() -> None:
    with op.batch_alter_table('case') as batch:
        batch.drop_column('countersigned_types')
        batch.drop_column('incoming_ratings')
