"""PostgreSQL: ``yjrisk_audit_seal(chain, key, heads, tails)`` seals a write's audit entries of
one chain inside the statement that inserts them (issue 15: one round trip fewer a write).

It takes the chain's advisory lock, then reads the chain's head (newest ``seq`` and its
``hash``; the genesis, ``0`` and 64 zeros, for an empty chain), as
``yjrisk_audit_chain_head`` (migration 0016) does: VOLATILE, so in READ COMMITTED its SELECT
takes a fresh snapshot after the lock is granted and sees the entries of the writer that held
the lock before. For the ``i``-th entry it answers a row ``(n = i, entry_seq, entry_prev,
entry_hash)``: the next position, the previous entry's hash and ``SHA-256(previous hash ||
heads[i] || the position in decimal || tails[i])`` as 64 lowercase hex digits, where
``heads[i]`` and ``tails[i]`` are the UTF-8 bytes of the entry's canonical JSON before and
after its ``seq`` value, made by Python (``app.domain.audit.canonical_parts``): the JSON is
never built in SQL, so the hash is byte for byte the one Python computes and verifies
(``app.domain.audit.chain_hash``). SQLite keeps the Python path: nothing to create there.

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-02 02:30:00
"""
from collections.abc import Sequence

from alembic import op

revision: str = '0029'
down_revision: str | Sequence[str] | None = '0028'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("""
CREATE FUNCTION yjrisk_audit_seal(chain_id text, lock_key bigint, heads bytea[], tails bytea[])
RETURNS TABLE (n integer, entry_seq integer, entry_prev text, entry_hash text)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  last_seq integer;
  last_hash text;
BEGIN
  PERFORM pg_advisory_xact_lock(lock_key);
  SELECT a.seq, a.hash INTO last_seq, last_hash FROM audit_entry AS a
   WHERE a.chain = chain_id AND a.seq IS NOT NULL ORDER BY a.seq DESC LIMIT 1;
  IF last_seq IS NULL THEN
    last_seq := 0;
    last_hash := repeat('0', 64);
  ELSIF last_hash IS NULL THEN
    RAISE EXCEPTION 'audit chain % ends in an entry with no hash', chain_id;
  END IF;
  FOR i IN 1 .. coalesce(array_length(heads, 1), 0) LOOP
    n := i;
    entry_seq := last_seq + 1;
    entry_prev := last_hash;
    entry_hash := encode(sha256(convert_to(entry_prev, 'UTF8') || heads[i]
                                || convert_to(entry_seq::text, 'UTF8') || tails[i]), 'hex');
    last_seq := entry_seq;
    last_hash := entry_hash;
    RETURN NEXT;
  END LOOP;
END
$$""")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP FUNCTION yjrisk_audit_seal(text, bigint, bytea[], bytea[])")
