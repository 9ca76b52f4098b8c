"""steps superseded before 0034 that were already late when their need ended: missed

Fix36e (the leftovers of ATTACK34B-7): migration 0034 gave a step whose deadline had passed
undone when its need ended (a rating lowered, a de-registration, a closure, a transfer out, a
death, an agenda item withdrawn...) the status ``missed``, for new acts only: the steps ended so
before it stayed ``superseded``, left out of the timeliness report as withdrawn by the policy.
Each is now recorded missed, when the record says for certain that it was late then:

- a step ``superseded`` by the end of its need (no ``completed_at``: an act that overtook or
  replaced a step closes it with its own time; never an escalation, a chase), dated, whose
  last change to ``superseded`` kept the time of the act that ended it (``record_change``'s
  ``occurred_at``, since ATK29-1; a supersession recorded without it is left as it is: its
  recording time may be long after a back-dated act, so lateness is not known), that act being
  after its deadline (``overdue_at``, else ``due_at``; at the deadline itself is in time), and
  not revived since (a step revived by an earlier act goes on in a new step, "Revived: step
  <id>", which keeps its lateness);
- a step its service's pack now lists in ``panel_decision_misses`` (Somerset 6.2's views "sought
  before the initial panel") closed as overtaken by a panel's sitting (``completion_note``
  "overtaken: ..."): the sitting was its deadline and it was not done by it.

History stays true: the supersession's audit entry and history row are left as written; each
conversion adds an audit entry ``step.missed`` (actor ``system:migration-0035``, role
``system``, sealed at the head of its service's chain, the reason saying what was converted and
why), a history row (``superseded`` -> ``missed``, at the act's time), and a note line
("Missed: due ..., still not done when its need ended at ..."). No outgoing event: nothing
happened to the case; a subscriber heard the supersession when it was recorded. Run with the
service stopped (as every migration): the chains' heads are read once.

Downgrade: a no-op (0034's downgrade makes every ``missed`` step ``superseded``; the audit
entries stay, as history).

Revision ID: 0035
Revises: 0034
Create Date: 2026-12-03 11:00:00
"""
import hashlib
import json
import re
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
import sqlmodel
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0035'
down_revision: str | Sequence[str] | None = '0034'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WHEN = sqlmodel.sql.sqltypes.UTCDateTime()
JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')
ESCALATION = 'escalate_overdue_step'
ACTOR, ROLE = 'system:migration-0035', 'system'
NOTE_MAX = 2000
GENESIS = '0' * 64
REVIVED = re.compile(r'Revived: step ([0-9a-f-]{36})')
STEP = sa.table(
    'step', *(sa.column(n, sa.Uuid()) for n in ('id', 'service_id', 'case_id')),
    *(sa.column(n) for n in ('code', 'rule_id', 'status', 'note', 'completion_note',
                             'satisfied_by_type')),
    *(sa.column(n, WHEN) for n in ('due_at', 'overdue_at', 'completed_at')))
CHANGE = sa.table(
    'record_change', *(sa.column(n, sa.Uuid()) for n in ('id', 'service_id', 'case_id',
                                                         'entity_id')),
    sa.column('entity_type'), sa.column('actor_sub'), sa.column('created', sa.Boolean()),
    sa.column('changes', JSON), *(sa.column(n, WHEN) for n in ('recorded_at', 'occurred_at')))
AUDIT = sa.table(
    'audit_entry', *(sa.column(n, sa.Uuid()) for n in ('id', 'service_id', 'case_id',
                                                       'entity_id')),
    *(sa.column(n) for n in ('actor_sub', 'actor_role', 'action', 'entity_type', 'reason',
                             'digest', 'chain', 'prev_hash', 'hash')),
    sa.column('seq', sa.Integer()), sa.column('at', WHEN),
    sa.column('changed_fields', JSON))
SERVICE = sa.table('service', sa.column('id', sa.Uuid()), sa.column('policy_pack'))


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _iso(moment: datetime) -> str:
    return _utc(moment).isoformat().replace('+00:00', 'Z')


def _append(note: str | None, more: str) -> str:
    """app.domain.steps.append_note: within the column, the oldest lines giving way."""
    text = f'{note}\n{more}' if note else more
    return text if len(text) <= NOTE_MAX else '\u2026' + text[-(NOTE_MAX - 1):]


def _digest(change: dict[str, Any]) -> str:
    """app.domain.audit.digest_of."""
    text = json.dumps(change, sort_keys=True, default=str, separators=(',', ':'))
    return hashlib.sha256(text.encode()).hexdigest()


def _hash(prev: str, row: dict[str, Any]) -> str:
    """app.domain.audit.chain_hash: SHA-256(prev_hash || the entry's canonical JSON)."""
    content = {
        'id': str(row['id']), 'chain': row['chain'], 'seq': row['seq'],
        'service_id': str(row['service_id']), 'case_id': str(row['case_id']),
        'actor_sub': row['actor_sub'], 'actor_role': row['actor_role'],
        'action': row['action'], 'entity_type': row['entity_type'],
        'entity_id': str(row['entity_id']),
        'at': row['at'].astimezone(UTC).isoformat(timespec='microseconds'),
        'changed_fields': list(row['changed_fields']), 'reason': row['reason'],
        'digest': row['digest'],
    }
    canonical = json.dumps(content, sort_keys=True, separators=(',', ':'), ensure_ascii=False)
    return hashlib.sha256(prev.encode() + canonical.encode()).hexdigest()


def _ended_at(bind: Any, ids: list[uuid.UUID]) -> dict[uuid.UUID, datetime]:
    """Step id -> the act time its last change to ``superseded`` kept (none: not known)."""
    found: dict[uuid.UUID, tuple[datetime, datetime | None]] = {}
    for start in range(0, len(ids), 500):
        rows = bind.execute(sa.select(CHANGE.c.entity_id, CHANGE.c.recorded_at,
                                      CHANGE.c.occurred_at, CHANGE.c.changes).where(
            CHANGE.c.entity_type == 'step', CHANGE.c.created.is_(False),
            CHANGE.c.entity_id.in_(ids[start:start + 500])))
        for step_id, recorded, occurred, changes in rows:
            if isinstance(changes, str):
                changes = json.loads(changes)
            status = (changes or {}).get('status')
            if not status or status[1] != 'superseded':
                continue
            last = found.get(step_id)
            if last is None or _utc(recorded) >= last[0]:
                found[step_id] = (_utc(recorded), _utc(occurred) if occurred else None)
    return {i: occurred for i, (_, occurred) in found.items() if occurred is not None}


def _revived(bind: Any) -> set[str]:
    """The ids of steps a later step says it revived."""
    notes = bind.execute(sa.select(STEP.c.note).where(STEP.c.note.like('%Revived: step %')))
    return {m for (note,) in notes for m in REVIVED.findall(note or '')}


def _late_when_ended(bind: Any) -> list[tuple[Any, datetime, str]]:
    """(step row, the act's time, why) of the steps superseded by the end of their need when
    already late."""
    rows = bind.execute(sa.select(STEP).where(
        STEP.c.status == 'superseded', STEP.c.code != ESCALATION,
        STEP.c.completed_at.is_(None), STEP.c.due_at.is_not(None))).all()
    ended = _ended_at(bind, [r.id for r in rows])
    revived = _revived(bind)
    out = []
    for row in rows:
        at = ended.get(row.id)
        if at is None or str(row.id) in revived:
            continue
        if _utc(row.overdue_at or row.due_at) < at:
            out.append((row, at, 'superseded after its deadline had passed undone'))
    return out


def _missed_at_sitting(bind: Any) -> list[tuple[Any, datetime, str]]:
    """(step row, the sitting's decision time, why) of the steps a panel's sitting closed as
    overtaken that the service's pack now says it misses (``panel_decision_misses``)."""
    from app.core.config import get_settings
    from app.workflows.packs import load_all_packs

    packs = load_all_packs(get_settings().packs_dir)
    out = []
    for service_id, pack_id in bind.execute(sa.select(SERVICE.c.id, SERVICE.c.policy_pack)):
        pack = packs.get(pack_id)
        codes = list(pack.closes('panel_decision_misses')) if pack else []
        if not codes:
            continue
        rows = bind.execute(sa.select(STEP).where(
            STEP.c.service_id == service_id, STEP.c.status == 'superseded',
            STEP.c.code.in_(codes), STEP.c.satisfied_by_type == 'panel_item',
            STEP.c.completed_at.is_not(None),
            STEP.c.completion_note.like('overtaken:%'))).all()
        out += [(row, _utc(row.completed_at),
                 'overtaken by the panel sitting on the case before it was done')
                for row in rows]
    return out


def _london(moment: datetime | None) -> str:
    from app.workflows.calendar import london_text

    return london_text(_utc(moment)) if moment is not None else 'no timescale'


def upgrade() -> None:
    bind = op.get_bind()
    found = sorted(_late_when_ended(bind) + _missed_at_sitting(bind),
                   key=lambda f: (str(f[0].service_id), f[1], str(f[0].id)))
    if not found:
        return
    now = datetime.now(UTC)
    heads: dict[str, tuple[int, str]] = {}
    audits, changes = [], []
    for row, at, why in found:
        chain = str(row.service_id)
        if chain not in heads:
            head = bind.execute(sa.select(AUDIT.c.seq, AUDIT.c.hash).where(
                AUDIT.c.chain == chain, AUDIT.c.seq.is_not(None))
                .order_by(AUDIT.c.seq.desc()).limit(1)).first()
            heads[chain] = (head.seq, head.hash) if head is not None else (0, GENESIS)
        line = (f'Missed: due {_london(row.due_at)}, still not done when its need ended at '
                f'{_london(at)} (recorded missed by migration 0035: {why}, before '
                'ATTACK34B-7)')
        note = _append(row.note, line)
        bind.execute(sa.update(STEP).where(STEP.c.id == row.id, STEP.c.status == 'superseded')
                     .values(status='missed', note=note))
        change = {'code': row.code, 'rule': row.rule_id, 'status': 'missed',
                  'was': 'superseded', 'due_at': _iso(row.due_at) if row.due_at else None,
                  'ended_at': _iso(at)}
        seq, prev = heads[chain]
        entry = {'id': uuid.uuid4(), 'service_id': row.service_id, 'case_id': row.case_id,
                 'actor_sub': ACTOR, 'actor_role': ROLE, 'action': 'step.missed',
                 'entity_type': 'step', 'entity_id': row.id, 'at': now,
                 'changed_fields': sorted(change), 'digest': _digest(change),
                 'reason': f'Recorded missed by migration 0035 ({why}): the supersession '
                           'stays in the trail as recorded then (fix36e, ATTACK34B-7)',
                 'chain': chain, 'seq': seq + 1, 'prev_hash': prev}
        entry['hash'] = _hash(prev, entry)
        heads[chain] = (seq + 1, entry['hash'])
        audits.append(entry)
        # The history row: its recording time is the audit entry's (the case timeline pairs
        # them), its act time the need's end, as a supersession's row keeps it.
        changes.append({'id': uuid.uuid4(), 'service_id': row.service_id,
                        'case_id': row.case_id, 'entity_type': 'step', 'entity_id': row.id,
                        'recorded_at': now, 'occurred_at': at, 'actor_sub': ACTOR,
                        'created': False,
                        'changes': {'status': ['superseded', 'missed'],
                                    'note': [row.note, note]}})
    op.bulk_insert(AUDIT, audits)
    op.bulk_insert(CHANGE, changes)


def downgrade() -> None:
    pass
