"""referral ``made_at`` and ``ended_at``: when it was made, when it stopped standing (fix41c)

Somerset S7/S8 (``panel_referred``: "a panel referral made, not withdrawn or declined, that no
panel has decided on yet") read the case's panel referrals as they stand now: a High judgement
dated after a panel referral was submitted but typed in before it left S7 and S8 open, the
other typing order none. And a referral withdrawn (or declined) no longer counted at all, for
an act dated while it still stood (``referral_sent_in``: a Very High dated between the MAPPA A
form's send and its withdrawal, typed in after the withdrawal, raised S10). ``made_at`` keeps
the time of the act that made the referral (its kind's ``made_by``: ``submit`` for every
pack's panel referral, 3.2.3 "completion of section 1 of the MARP referral form"; ``send`` for
the others), ``ended_at`` the time of its ``withdraw`` or ``decline``.

Backfill from ``history`` (read through SQLAlchemy's JSON type, as 0037): ``made_at``, for a
``panel`` referral the ``at`` of the first move that put it past ``draft`` (its ``submit``, or
its creation as submitted, sent or received), for any other kind its ``sent_at`` (0037); every
shipped pack makes its panel referral by ``submit`` and its other kinds by ``send``.
``ended_at``: the ``at`` of the last move to ``withdrawn`` or ``declined``. NULL where none.

Downgrade: drops both columns (history still holds the times).

Revision ID: 0038
Revises: 0037
Create Date: 2026-12-03 17:30:00
"""
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
import sqlmodel
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0038'
down_revision: str | Sequence[str] | None = '0037'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')
WHEN = sqlmodel.sql.sqltypes.UTCDateTime()
REFERRAL = sa.table('referral', sa.column('id', sa.Uuid()), sa.column('kind', sa.String()),
                    sa.column('history', JSON), sa.column('sent_at', WHEN),
                    sa.column('made_at', WHEN), sa.column('ended_at', WHEN))
MADE = ('submitted', 'quality_assured', 'sent', 'received', 'accepted')
ENDED = ('withdrawn', 'declined')


def _at(move: Any) -> datetime | None:
    try:
        at = datetime.fromisoformat(str(move.get('at')))
    except ValueError:
        return None
    return at.astimezone(UTC) if at.tzinfo is not None else None


def move_time(history: Any, targets: Sequence[str], *, first: bool) -> datetime | None:
    """The time of the first (``first``) or last move in ``history`` to one of ``targets``
    (aware UTC), or None."""
    found = None
    for move in history if isinstance(history, list) else ():
        if not isinstance(move, dict) or move.get('to') not in targets:
            continue
        at = _at(move)
        if at is None:
            continue
        if first:
            return at
        found = at
    return found


def upgrade() -> None:
    with op.batch_alter_table('referral') as batch:
        batch.add_column(sa.Column('made_at', WHEN, nullable=True))
        batch.add_column(sa.Column('ended_at', WHEN, nullable=True))
    bind = op.get_bind()
    for referral_id, kind, history, sent_at in bind.execute(sa.select(
            REFERRAL.c.id, REFERRAL.c.kind, REFERRAL.c.history, REFERRAL.c.sent_at)).all():
        made = move_time(history, MADE, first=True) if kind == 'panel' else sent_at
        ended = move_time(history, ENDED, first=False)
        if made is not None or ended is not None:
            bind.execute(sa.update(REFERRAL).where(REFERRAL.c.id == referral_id)
                         .values(made_at=made, ended_at=ended))


def downgrade() -> None:
    with op.batch_alter_table('referral') as batch:
        batch.drop_column('ended_at')
        batch.drop_column('made_at')
