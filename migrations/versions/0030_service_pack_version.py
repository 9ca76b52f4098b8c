"""the versions of its policy pack each service has been served with

Attack 27, ATTACK27-1: a pack file that keeps its id but no longer holds a version that has
been in force for a service (its acts judged by ``2024-04``, the file now ``2025-01`` only)
went unnoticed: the service started, and the acts of that version's period were judged by
another. Each write now records, once, the version that judged it (``service_pack_version``:
service, pack, version, when first recorded), and every start refuses a recorded version no
longer loaded. The versions the steps already cite (``step.policy_version``, migration 0011)
are recorded here, so a database upgraded from before is protected too. Downgrade drops the
table.

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-02 10:00:00
"""
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '0030'
down_revision: str | Sequence[str] | None = '0029'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STEP = sa.table('step', sa.column('service_id', sa.Uuid()), sa.column('policy_pack'),
                sa.column('policy_version'))


def upgrade() -> None:
    table = op.create_table(
        'service_pack_version',
        sa.Column('service_id', sa.Uuid(), nullable=False),
        sa.Column('pack_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('version', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('recorded_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['service_id'], ['service.id'],
                                name=op.f('fk_service_pack_version_service_id_service')),
        sa.PrimaryKeyConstraint('service_id', 'pack_id', 'version',
                                name=op.f('pk_service_pack_version')),
    )
    now = datetime.now(UTC)
    cited = op.get_bind().execute(
        sa.select(STEP.c.service_id, STEP.c.policy_pack, STEP.c.policy_version).distinct()
        .where(STEP.c.policy_version.is_not(None))).all()
    if cited:
        op.bulk_insert(table, [{'service_id': s, 'pack_id': p, 'version': v, 'recorded_at': now}
                               for s, p, v in cited])


def downgrade() -> None:
    op.drop_table('service_pack_version')
