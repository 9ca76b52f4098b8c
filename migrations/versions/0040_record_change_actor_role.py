"""record_change ``actor_role``: the role of the act that changed the case's fields (fix42b)

fix41a replays a change of the case's fields (after an act dated before it, typed in after it)
under its recorder's role, which the field history did not keep (only ``actor_sub``): it
inferred it from the case as it stands now (its holder -> case_holder, its line manager ->
line_manager, a feed that sent the case a message -> feed, else for a ``PATCH``'s stated row
duty_manager). Wrong for a holder since replaced by reassignment (replayed as a duty manager:
Somerset S16's advice to the line manager owed) or a manager's change through the CMS. The
column keeps the role the act was recorded under (app.domain.history.note_case_act).

Backfill (rows of entity type ``case`` with a recorder), by that same inference, as the
database stands at the upgrade, and so only as good as it (documented): the case's holder,
then its line manager, then a feed that sent the case a message (a referral of source
``feed:*`` it created), then, for a row stating a field's value unchanged (old == new: only a
dated ``PATCH`` writes one, and only a holder, line manager or duty manager may PATCH),
duty_manager. Any other row stays null: the replay then judges it under the replaying
write's role, as before fix41a.

Downgrade: drops the column.

Revision ID: 0040
Revises: 0039
Create Date: 2026-12-03 18:20:00
"""
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0040'
down_revision: str | Sequence[str] | None = '0039'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')
CHANGE = sa.table('record_change', sa.column('id', sa.Uuid()), sa.column('case_id', sa.Uuid()),
                  sa.column('entity_type', sa.String()), sa.column('actor_sub', sa.String()),
                  sa.column('changes', JSON), sa.column('actor_role', sa.String()))
CASE = sa.table('case', sa.column('id', sa.Uuid()), sa.column('case_holder_id', sa.String()),
                sa.column('line_manager_id', sa.String()))
REFERRAL = sa.table('referral', sa.column('case_id', sa.Uuid()),
                    sa.column('source', sa.String()), sa.column('created_by', sa.String()))


def _stated(changes: Any) -> bool:
    """Whether a row states a field's value unchanged (old == new: a dated PATCH's)."""
    return isinstance(changes, dict) and any(
        isinstance(pair, list) and len(pair) == 2 and pair[0] == pair[1]
        for pair in changes.values())


def upgrade() -> None:
    with op.batch_alter_table('record_change') as batch:
        batch.add_column(sa.Column('actor_role', sa.String(length=32), nullable=True))
    bind = op.get_bind()
    unset = sa.and_(CHANGE.c.entity_type == 'case', CHANGE.c.actor_sub.is_not(None),
                    CHANGE.c.actor_role.is_(None))
    for column, role in ((CASE.c.case_holder_id, 'case_holder'),
                         (CASE.c.line_manager_id, 'line_manager')):
        bind.execute(sa.update(CHANGE).where(unset, sa.exists(sa.select(CASE.c.id).where(
            CASE.c.id == CHANGE.c.case_id, column == CHANGE.c.actor_sub)))
            .values(actor_role=role))
    bind.execute(sa.update(CHANGE).where(unset, sa.exists(sa.select(REFERRAL.c.case_id).where(
        REFERRAL.c.case_id == CHANGE.c.case_id, REFERRAL.c.source.like('feed:%'),
        REFERRAL.c.created_by == CHANGE.c.actor_sub))).values(actor_role='feed'))
    stated = [i for i, changes in bind.execute(
        sa.select(CHANGE.c.id, CHANGE.c.changes).where(unset)).all() if _stated(changes)]
    for start in range(0, len(stated), 500):
        bind.execute(sa.update(CHANGE).where(CHANGE.c.id.in_(stated[start:start + 500]))
                     .values(actor_role='duty_manager'))


def downgrade() -> None:
    with op.batch_alter_table('record_change') as batch:
        batch.drop_column('actor_role')
