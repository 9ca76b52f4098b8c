"""step status ``missed``: a step already late when the need for it ended

Attack 34b, ATTACK34B-7: a step whose deadline had passed undone (Somerset 4.5's monthly manager
review, 9's monthly discussion of the list) was marked ``superseded`` when its need ended later
(the rating lowered, the case closed, the child died...), and so left the timeliness report and
read as withdrawn by the policy. It was missed; it is now recorded ``missed``. The step's
``status`` CHECK constraint gains the word. Existing rows are left as they are (which
supersessions were already late is not known from the row alone: a later re-dating may have
moved ``due_at``).

PostgreSQL: the constraint is dropped and made again. SQLite keeps a CHECK in the table's
definition: the table is copied (batch), and the step's partial indexes (``status = 'open'``)
are made again from their definitions, as a copy does not promise to keep their ``WHERE``.

Downgrade: ``missed`` rows become ``superseded`` (the nearest older word) and the old
constraint is restored.

Revision ID: 0034
Revises: 0033
Create Date: 2026-12-03 07:10:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0034'
down_revision: str | Sequence[str] | None = '0033'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NAME = 'ck_step_stepstatus'
OLD = ('open', 'done', 'superseded', 'waived')
NEW = (*OLD, 'missed')
# The step's partial indexes (app.domain.steps.Step.__table_args__): name, columns, unique,
# WHERE.
PARTIAL = (
    ('uq_step_open_case_code_subject', ['case_id', 'code', 'subject_id'], True,
     "status = 'open'"),
    ('ix_step_open_assignee_due', ['assignee_id', 'due_at'], False, "status = 'open'"),
    ('ix_step_open_unescalated_service_due', ['service_id', 'due_at', 'id'], False,
     "status = 'open' AND escalated_at IS NULL AND due_at IS NOT NULL"),
    ('ix_step_open_escalation_subject', ['subject_id'], False,
     "status = 'open' AND code = 'escalate_overdue_step'"),
)


def _check(words: tuple[str, ...]) -> str:
    return "status IN (" + ", ".join(f"'{w}'" for w in words) + ")"


def _swap(words: tuple[str, ...]) -> None:
    bind = op.get_bind()
    if bind.dialect.name == 'postgresql':
        op.execute(f'ALTER TABLE step DROP CONSTRAINT IF EXISTS {NAME}')
        op.execute(f'ALTER TABLE step ADD CONSTRAINT {NAME} CHECK ({_check(words)})')
        return
    with op.batch_alter_table('step', recreate='always') as batch:
        batch.drop_constraint(op.f(NAME), type_='check')
        batch.create_check_constraint(op.f(NAME), sa.text(_check(words)))
    for name, columns, unique, where in PARTIAL:
        op.execute(f'DROP INDEX IF EXISTS {name}')
        op.create_index(name, 'step', columns, unique=unique, sqlite_where=sa.text(where))


def upgrade() -> None:
    _swap(NEW)


def downgrade() -> None:
    op.execute("UPDATE step SET status = 'superseded' WHERE status = 'missed'")
    _swap(OLD)
