"""steps only a panel's decision does: overdue after the end of their due day

Attack pass 19, A19-1: a step only a panel's decision does (``Pack.done_at_sitting``: Somerset
S10 ``identify_mappa_level``, due at the MARP's start; Wokingham W8 ``hold_high_risk_panel``,
W19's monthly review) counts as overdue only after the end of the London day it is due on; the
steps made before the change carry ``overdue_at = due_at``, so the sitting's own decision
showed late in the timeliness report. Each such step not superseded gets the later of its
``overdue_at`` and the end of its due day, by its service's pack (the newest version, bundled
or in ``YJ_PACKS_DIR``). Downgrade leaves the dates (the later one is the rule).

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-01 04:25:00
"""
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '0026'
down_revision: str | Sequence[str] | None = '0025'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WHEN = sqlmodel.sql.sqltypes.UTCDateTime()
STEP = sa.table('step', sa.column('id', sa.Uuid()), sa.column('service_id', sa.Uuid()),
                sa.column('code'), sa.column('status'), sa.column('due_at', WHEN),
                sa.column('overdue_at', WHEN))
SERVICE = sa.table('service', sa.column('id', sa.Uuid()), sa.column('policy_pack'))


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def upgrade() -> None:
    from app.core.config import get_settings
    from app.workflows.calendar import end_of_day, london_date
    from app.workflows.packs import load_all_packs

    bind = op.get_bind()
    packs = load_all_packs(get_settings().packs_dir)
    for service_id, pack_id in bind.execute(sa.select(SERVICE.c.id, SERVICE.c.policy_pack)):
        pack = packs.get(pack_id)
        codes = [c for c in pack.step_codes() if pack.done_at_sitting(c)] if pack else []
        if not codes:
            continue
        rows = bind.execute(sa.select(STEP.c.id, STEP.c.due_at, STEP.c.overdue_at).where(
            STEP.c.service_id == service_id, STEP.c.code.in_(codes),
            STEP.c.status != 'superseded', STEP.c.due_at.is_not(None))).all()
        for step_id, due_at, overdue_at in rows:
            due = _utc(due_at)
            later = max(end_of_day(london_date(due)), due,
                        _utc(overdue_at) if overdue_at is not None else due)
            if overdue_at is None or later != _utc(overdue_at):
                bind.execute(sa.update(STEP).where(STEP.c.id == step_id).values(
                    overdue_at=later))


def downgrade() -> None:
    pass
