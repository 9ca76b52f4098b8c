"""referral ``sent_at``: when the service sent the form (fix40c)

A referral's send time was only in its ``history`` JSON, so the engine's ``referral_sent_in``
(Somerset S10: 7.1.9 "unless this has already been done", the MAPPA A form sent, 8.3.3) read
the case's referrals as they stand now: a Very High judgement dated before the form was sent,
typed in after the send, was judged as if the form had gone already. The column keeps the send's
act time (``occurred_at`` of the ``send`` move), so the case's state at an act's instant counts
only the forms sent by then.

Backfill: for each existing referral, the time of the last move of its history that put it in
``sent`` (the ``send`` action, or a referral created ``sent``): its ``at`` (RFC 3339). A
referral never sent (draft, submitted, quality-assured, or withdrawn before sending) keeps
NULL; so does one whose history has no readable time (none is written so). A referral sent and
since received, accepted, declined or withdrawn keeps the time it was sent. History is read
through SQLAlchemy's JSON type (JSON on SQLite, JSONB on PostgreSQL), not dialect functions.

Downgrade: drops the column (history still holds the times).

Revision ID: 0037
Revises: 0036
Create Date: 2026-12-03 17:00:00
"""
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
import sqlmodel
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0037'
down_revision: str | Sequence[str] | None = '0036'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')
WHEN = sqlmodel.sql.sqltypes.UTCDateTime()
REFERRAL = sa.table('referral', sa.column('id', sa.Uuid()), sa.column('history', JSON),
                    sa.column('sent_at', WHEN))


def sent_time(history: Any) -> datetime | None:
    """The time of the last move in ``history`` that put the referral in ``sent`` (aware UTC),
    or None."""
    found = None
    for move in history if isinstance(history, list) else ():
        if not isinstance(move, dict) or move.get('to') != 'sent':
            continue
        try:
            at = datetime.fromisoformat(str(move.get('at')))
        except ValueError:
            continue
        if at.tzinfo is not None:
            found = at.astimezone(UTC)
    return found


def upgrade() -> None:
    with op.batch_alter_table('referral') as batch:
        batch.add_column(sa.Column('sent_at', WHEN, nullable=True))
    bind = op.get_bind()
    for referral_id, history in bind.execute(
            sa.select(REFERRAL.c.id, REFERRAL.c.history)).all():
        at = sent_time(history)
        if at is not None:
            bind.execute(sa.update(REFERRAL).where(REFERRAL.c.id == referral_id)
                         .values(sent_at=at))


def downgrade() -> None:
    with op.batch_alter_table('referral') as batch:
        batch.drop_column('sent_at')
