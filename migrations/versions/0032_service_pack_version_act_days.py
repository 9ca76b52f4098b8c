"""the days of the acts each recorded pack version judged for its service

ATK29-4: a pack version re-dated past acts it judged (its ``effective_from`` moved), or a new
version dated before acts an older one judged (a back-dated insertion), started silently: those
acts' steps cite a version that, by the files' dates, would not have judged them. Each
``service_pack_version`` row (migration 0030) now keeps the Europe/London days of the earliest
and latest act the version judged for the service (``first_act_on``, ``last_act_on``: act
time, ``occurred_at``), and every start refuses a loaded version's dates that give one of those
days to another version.

Existing rows: from the steps that cite the version, the London days of their earliest and
latest ``raised_at`` (when the act that raised the step happened); a version cited by a step
and not yet recorded is recorded. A version recorded with no step citing it keeps no days (null:
nothing to compare) until its next write records the act's day. Downgrade drops the columns.

Revision ID: 0032
Revises: 0031
Create Date: 2026-12-02 13:00:00
"""
from collections.abc import Sequence
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '0032'
down_revision: str | Sequence[str] | None = '0031'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LONDON = ZoneInfo('Europe/London')
WHEN = sqlmodel.sql.sqltypes.UTCDateTime()
STEP = sa.table('step', sa.column('service_id', sa.Uuid()), sa.column('policy_pack'),
                sa.column('policy_version'), sa.column('raised_at', WHEN))
SERVED = sa.table('service_pack_version', sa.column('service_id', sa.Uuid()),
                  sa.column('pack_id'), sa.column('version'), sa.column('recorded_at', WHEN),
                  sa.column('first_act_on', sa.Date()), sa.column('last_act_on', sa.Date()))


def _london_day(moment: datetime) -> date:
    """The Europe/London date of a stored instant (UTC; naive read as UTC)."""
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return aware.astimezone(LONDON).date()


def upgrade() -> None:
    with op.batch_alter_table('service_pack_version', schema=None) as batch_op:
        batch_op.add_column(sa.Column('first_act_on', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('last_act_on', sa.Date(), nullable=True))
    bind = op.get_bind()
    # The London day is monotone in the instant: the earliest and latest instants give the days.
    cited = bind.execute(
        sa.select(STEP.c.service_id, STEP.c.policy_pack, STEP.c.policy_version,
                  sa.func.min(STEP.c.raised_at), sa.func.max(STEP.c.raised_at))
        .where(STEP.c.policy_version.is_not(None))
        .group_by(STEP.c.service_id, STEP.c.policy_pack, STEP.c.policy_version)).all()
    known = {tuple(row) for row in bind.execute(
        sa.select(SERVED.c.service_id, SERVED.c.pack_id, SERVED.c.version)).all()}
    now = datetime.now(UTC)
    for service_id, pack, version, earliest, latest in cited:
        days = {'first_act_on': _london_day(earliest), 'last_act_on': _london_day(latest)}
        if (service_id, pack, version) in known:
            bind.execute(sa.update(SERVED).where(
                SERVED.c.service_id == service_id, SERVED.c.pack_id == pack,
                SERVED.c.version == version).values(**days))
        else:
            bind.execute(sa.insert(SERVED).values(service_id=service_id, pack_id=pack,
                                                  version=version, recorded_at=now, **days))


def downgrade() -> None:
    with op.batch_alter_table('service_pack_version', schema=None) as batch_op:
        batch_op.drop_column('last_act_on')
        batch_op.drop_column('first_act_on')
