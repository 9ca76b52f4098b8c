"""the key list cursors are sealed with

Attack 20, A20-14: a list's ``next_cursor`` was plain base64 of its sort key (a bare duty's
exact ``created_at``, which the API withholds, one decode away) and could be forged. Cursors
are now sealed with AES-256-GCM (``app.domain.cursors``) under one key every API process
reads from this table (the service keeps all its state in the database): one row, id 1, 32
random bytes base64url, made here. Downgrade drops the table (cursors made before it are then
refused as any foreign cursor: 422 ``invalid-cursor``; a client starts its list again).

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-01 08:00:00
"""
import base64
import os
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '0028'
down_revision: str | Sequence[str] | None = '0027'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    table = op.create_table(
        'cursor_key',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('key', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_cursor_key')),
    )
    op.bulk_insert(table, [{
        'id': 1, 'key': base64.urlsafe_b64encode(os.urandom(32)).decode(),
        'created_at': datetime.now(UTC)}])


def downgrade() -> None:
    op.drop_table('cursor_key')
