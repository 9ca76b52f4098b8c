"""step ``hidden_by_referral_id``: the referral that kept a step hidden as never raised (fix42b)

fix41c keeps a step that a referral made (or sent) before the act that raised it means was
never raised: superseded at the instant it arose, left out of the record, its note's last line
giving the reason ("Never raised: the {kind} referral {id} was {made|sent} ..."). fix42a then
found those rows, when that referral is withdrawn or declined, by matching the note's text: a
recorded fact read back from wording. The column keeps the referral's id itself, set by the
write that hides the step (app.domain.referrals._retract_never_raised).

Backfill: a superseded step whose note has such a line gets the id that line names (the last
one, should there be more). No foreign key (the id is what the step's own record says; a
referral row is never deleted anyway).

Downgrade: drops the column (the notes still say it).

Revision ID: 0039
Revises: 0038
Create Date: 2026-12-03 18:10:00
"""
import re
import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0039'
down_revision: str | Sequence[str] | None = '0038'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STEP = sa.table('step', sa.column('id', sa.Uuid()), sa.column('status', sa.String()),
                sa.column('note', sa.String()), sa.column('hidden_by_referral_id', sa.Uuid()))
# fix41c's reason line (app.domain.referrals._retract_never_raised), as written until now.
NEVER_RAISED = re.compile(
    r'^Never raised: the \S+ referral ([0-9a-fA-F-]{36}) was ', re.MULTILINE)


def hiding_referral(note: str | None) -> uuid.UUID | None:
    """The referral the note's last "Never raised" line names, or None."""
    found = NEVER_RAISED.findall(note or '')
    if not found:
        return None
    try:
        return uuid.UUID(found[-1])
    except ValueError:
        return None


def upgrade() -> None:
    with op.batch_alter_table('step') as batch:
        batch.add_column(sa.Column('hidden_by_referral_id', sa.Uuid(), nullable=True))
    bind = op.get_bind()
    rows = bind.execute(sa.select(STEP.c.id, STEP.c.status, STEP.c.note).where(
        STEP.c.note.like('%Never raised: the %'))).all()
    for step_id, status, note in rows:
        referral_id = hiding_referral(note)
        if referral_id is not None and str(status) == 'superseded':
            bind.execute(sa.update(STEP).where(STEP.c.id == step_id)
                         .values(hidden_by_referral_id=referral_id))


def downgrade() -> None:
    with op.batch_alter_table('step') as batch:
        batch.drop_column('hidden_by_referral_id')
