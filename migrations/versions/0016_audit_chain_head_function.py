"""PostgreSQL: ``yjrisk_audit_chain_head(chain, key)`` takes an audit chain's advisory lock and
then reads the chain's head (newest ``seq`` and its ``hash``), in one round trip (issue 15).

The function is VOLATILE, so in READ COMMITTED its SELECT takes a fresh snapshot after the
lock is granted and sees the entries of the writer that held the lock before, as the separate
``SELECT pg_advisory_xact_lock`` and head ``SELECT`` it replaces did. (One plain statement
doing both would read with a snapshot taken before the lock wait, and could miss that
writer's entries.) SQLite has no such lock: nothing to create there.

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-30 16:00:00
"""
from collections.abc import Sequence

from alembic import op

revision: str = '0016'
down_revision: str | Sequence[str] | None = '0015'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("""
CREATE FUNCTION yjrisk_audit_chain_head(chain_id text, lock_key bigint,
                                        OUT head_seq integer, OUT head_hash text)
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  PERFORM pg_advisory_xact_lock(lock_key);
  SELECT a.seq, a.hash INTO head_seq, head_hash FROM audit_entry AS a
   WHERE a.chain = chain_id AND a.seq IS NOT NULL ORDER BY a.seq DESC LIMIT 1;
END
$$""")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP FUNCTION yjrisk_audit_chain_head(text, bigint)")
