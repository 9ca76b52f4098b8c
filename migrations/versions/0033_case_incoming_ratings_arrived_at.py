"""case.incoming_ratings keeps the arrival's instant (fix32a's leftover; fix32h)

Fix32a (A30a-13): a transfer in's incoming ratings stand from the arrival until the service's
own judgement of the domain dated after it (Somerset 13.3, 9). New writes keep the arrival's
instant in ``case.incoming_ratings`` (key ``arrived_at``, RFC 3339 UTC with ``Z``); a row kept
without it is read the old way (rated here at all = answered). Existing cases with incoming
ratings and no ``arrived_at``: set from the ``occurred_at`` of the case's latest ``transfer_in``
event (latest by occurred_at, then by recording). Cases without incoming ratings, or with
``arrived_at`` already, or without a transfer in event, are left as they are.

The column is JSON on SQLite and JSONB on PostgreSQL: the rows are read and written through
SQLAlchemy's JSON type (as 0031 does), not with dialect JSON functions.

Downgrade: a no-op (nothing removed). Rows written by the code since fix32a carry the key
too, and taking it away would make them read the old way.

Revision ID: 0033
Revises: 0032
Create Date: 2026-12-02 17:20:00
"""
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
import sqlmodel
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0033'
down_revision: str | Sequence[str] | None = '0032'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')
WHEN = sqlmodel.sql.sqltypes.UTCDateTime()
ARRIVED_AT = 'arrived_at'
EVENT = sa.table('case_event', sa.column('case_id', sa.Uuid()), sa.column('type'),
                 sa.column('occurred_at', WHEN), sa.column('created_at', WHEN))
CASE = sa.table('case', sa.column('id', sa.Uuid()), sa.column('incoming_ratings', JSON))


def _iso_utc(moment: datetime) -> str:
    """A stored instant (naive read as UTC) as the app writes it: RFC 3339 UTC with ``Z``."""
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).isoformat().replace('+00:00', 'Z')


def upgrade() -> None:
    bind = op.get_bind()
    kept = {case_id: dict(incoming) for case_id, incoming in bind.execute(
        sa.select(CASE.c.id, CASE.c.incoming_ratings)).all()
        if isinstance(incoming, dict) and ARRIVED_AT not in incoming
        and any(k != ARRIVED_AT for k in incoming)}
    if not kept:
        return
    latest: dict[object, datetime] = {}
    for case_id, occurred_at in bind.execute(
            sa.select(EVENT.c.case_id, EVENT.c.occurred_at)
            .where(EVENT.c.type == 'transfer_in')
            .order_by(EVENT.c.occurred_at, EVENT.c.created_at)).all():
        latest[case_id] = occurred_at
    for case_id, incoming in kept.items():
        if case_id in latest:
            bind.execute(CASE.update().where(CASE.c.id == case_id).values(
                incoming_ratings={**incoming, ARRIVED_AT: _iso_utc(latest[case_id])}))


def downgrade() -> None:
    # Nothing removed: ``arrived_at`` is what the code writes from 0033's code on, and the
    # rows written since carry it too; removing it would make them read the old way.
    pass
