"""case and step priority: a case dealt with as a priority (the pack's ``[priority]``)

Somerset 3.2.4: "'Very High' judgements will trigger the case being dealt with as a priority at
all stages" (attack pass 19, A19-2). ``case.priority`` is derived after each act like
``on_register``; the case's open steps carry it (``step.priority``), set and cleared as the
ratings change. The backfill evaluates each service's pack ``[priority]`` (the newest version,
bundled or in ``YJ_PACKS_DIR``) on every open case, and marks its open steps; a pack without
one (Wokingham) marks nothing.

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-01 04:00:00
"""
import json
import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0025'
down_revision: str | Sequence[str] | None = '0024'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for table in ('case', 'step'):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column('priority', sa.Boolean(), nullable=False,
                                       server_default=sa.false()))
    _backfill()


def _backfill() -> None:
    """Mark the open cases (and their open steps) the service's pack makes a priority."""
    from app.core.config import get_settings
    from app.workflows.packs import is_priority, load_all_packs
    from app.workflows.types import CaseSnapshot

    bind = op.get_bind()
    packs = load_all_packs(get_settings().packs_dir)
    services = bind.execute(sa.text('SELECT id, policy_pack FROM service')).all()
    for service_id, pack_id in services:
        pack = packs.get(pack_id)
        if pack is None or pack.priority is None:
            continue
        cases = bind.execute(sa.text(
            'SELECT id, intervention, statutory, csc_status, weapon_related, mappa_category, '
            'mappa_level, in_custody, volunteer_attached, ratings, on_register FROM "case" '
            'WHERE service_id = :s AND closed_at IS NULL'), {'s': service_id}).all()
        for row in cases:
            ratings = row.ratings if isinstance(row.ratings, dict) else json.loads(
                row.ratings or '{}')
            levels = {d: (v or {}).get('level') for d, v in (ratings or {}).items()}
            after = CaseSnapshot(
                case_id=uuid.UUID(str(row.id)), intervention=str(row.intervention),
                statutory=bool(row.statutory), csc_status=str(row.csc_status),
                weapon_related=bool(row.weapon_related), mappa_category=row.mappa_category,
                mappa_level=row.mappa_level, in_custody=bool(row.in_custody),
                volunteer_attached=bool(row.volunteer_attached),
                ratings={d: levels.get(d) for d in ('rosh', 'swb', 'lor')},
                on_register=bool(row.on_register))
            if is_priority(pack, after):
                bind.execute(sa.text('UPDATE "case" SET priority = :t WHERE id = :c'),
                             {'t': True, 'c': row.id})
                bind.execute(sa.text("UPDATE step SET priority = :t WHERE case_id = :c "
                                     "AND status = 'open'"), {'t': True, 'c': row.id})


def downgrade() -> None:
    for table in ('step', 'case'):
        with op.batch_alter_table(table) as batch:
            batch.drop_column('priority')
