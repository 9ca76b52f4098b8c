"""``case.past_interventions`` and ``case.closed_periods`` (attack pass 9, A9-8 and A9-7).

``past_interventions``: the interventions a case had before a change of intervention, so that a
rule about orders (Wokingham's closure Asset+, W3) still holds for an order turned into a
prevention case. Nothing older is known (the audit keeps digests): existing cases start empty.

``closed_periods``: the periods a case was closed before each reopening, so that no act is dated
inside one after the reopening (an act then was refused while the case was closed). Existing
cases take the recording times of their closures and reopenings from the audit trail (the
closure's ``closed_at`` was not kept apart from the current one); a closure recorded without a
later reopening is the current closure, not a period.

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-30 16:00:00
"""
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = '0017'
down_revision: str | Sequence[str] | None = '0016'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _json() -> sa.types.TypeEngine:
    from sqlalchemy.dialects.postgresql import JSONB
    return sa.JSON().with_variant(JSONB(), "postgresql")


def _iso(moment: datetime) -> str:
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).isoformat().replace("+00:00", "Z")


def upgrade() -> None:
    with op.batch_alter_table('case') as batch:
        batch.add_column(sa.Column('past_interventions', _json(), nullable=True))
        batch.add_column(sa.Column('closed_periods', _json(), nullable=True))
    conn = op.get_bind()
    rows = conn.execute(sa.text(
        "SELECT case_id, action, at FROM audit_entry WHERE entity_type = 'case' "
        "AND action IN ('case.close', 'case.reopen') AND case_id IS NOT NULL "
        "ORDER BY case_id, at")).all()
    periods: dict[str, list[list[str]]] = {}
    closed: dict[str, datetime] = {}
    for case_id, action, at in rows:
        moment = at if isinstance(at, datetime) else datetime.fromisoformat(str(at))
        key = str(case_id)
        if action == 'case.close':
            closed[key] = moment
        elif key in closed:
            periods.setdefault(key, []).append([_iso(closed.pop(key)), _iso(moment)])
    table = sa.table('case', sa.column('id', sa.Uuid()),
                     sa.column('closed_periods', _json()))
    for case_id, found in periods.items():
        conn.execute(table.update().where(table.c.id == uuid.UUID(case_id))
                     .values(closed_periods=found))


def downgrade() -> None:
    with op.batch_alter_table('case') as batch:
        batch.drop_column('closed_periods')
        batch.drop_column('past_interventions')
