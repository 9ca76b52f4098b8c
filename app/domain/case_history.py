"""The case as it stood at an instant, and its timeline, rebuilt from what the service stores.

``as_of`` is record time: the answer is what this service held at that instant (a back-dated
act recorded later is not in it; an act counts once it was both recorded and had happened).
Case fields are rolled back through :class:`~app.domain.history.RecordChange`; ratings come
from the judgement history; steps from their creation time and recorded status changes.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any, cast

from pydantic import BaseModel
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.core.errors import NotFound, Unprocessable
from app.core.security import Principal
from app.domain import cursors, paging
from app.domain.access import get_visible_case
from app.domain.assessments_table import Assessment
from app.domain.audit import AuditEntry
from app.domain.cases import CaseOut, case_out
from app.domain.cases_table import Case
from app.domain.common import FUTURE_TOLERANCE, utcnow
from app.domain.events import CaseEvent
from app.domain.history import (
    ASSERTED_FIELDS_SET,
    DERIVED_ENTITY,
    DERIVED_FIELDS,
    OVERTAKEN_FIELDS,
    UNTRACKED,
    RecordChange,
    json_value_at,
    timeline_history,
    to_json,
)
from app.domain.judgements_table import Judgement
from app.domain.oversight import OversightEntry
from app.domain.panels import PanelItem
from app.domain.policy import CLOSURE_MARK, NEVER_RAISED_EARLIER
from app.domain.referrals import Referral
from app.domain.steps import Step, StepOut, StepStatus, step_fields


class CaseAsOf(CaseOut):
    """A case as the API shows it, with the instant it stood so (null: now)."""

    as_of: datetime | None = None


class TimelineEntry(BaseModel):
    """One thing that happened on a case: when (and when recorded), what, who, why."""

    at: datetime
    recorded_at: datetime | None
    kind: str
    action: str
    entity_id: uuid.UUID
    by: str | None
    role: str | None
    why: str | None
    details: dict[str, Any]


_STEP_TIMES = frozenset({"due_at", "overdue_at", "raised_at", "completed_at"})


def _step_value(name: str, value: Any) -> Any:
    """A JSON value of a step's history as the step's column holds it."""
    if name in _STEP_TIMES and isinstance(value, str):
        return _aware(datetime.fromisoformat(value))
    if name == "status" and isinstance(value, str):
        return StepStatus(value)
    if name == "satisfied_by_id" and isinstance(value, str):
        return uuid.UUID(value)
    return value


def check_as_of(as_of: datetime, now: datetime | None = None) -> datetime:
    """422 for an instant in the future (beyond the 5-minute clock tolerance)."""
    if as_of > (now or utcnow()) + FUTURE_TOLERANCE:
        raise Unprocessable("as_of is in the future.",
                            errors=[{"loc": "query.as_of", "msg": "must not be in the future"}])
    return as_of


async def case_as_of(
    session: AsyncSession, principal: Principal, case_id: uuid.UUID, as_of: datetime
) -> CaseAsOf:
    """The case as this service held it at ``as_of`` (record time); 404 if not visible now or
    not yet recorded then; 422 for a future instant."""
    check_as_of(as_of)
    service, case = await get_visible_case(session, principal, case_id)
    if case.created_at > as_of:
        raise NotFound("The case was not yet recorded at that time.")
    changes = list((await session.exec(
        select(RecordChange).where(RecordChange.case_id == case.id,
                                   col(RecordChange.recorded_at) > as_of)
        .order_by(col(RecordChange.recorded_at).desc(), col(RecordChange.id))
    )).all())
    fields = _case_fields_at(
        case, [c for c in changes if c.entity_type == "case" and not c.created])
    has_history = (await session.exec(
        select(RecordChange.id).where(RecordChange.entity_id == case.id,
                                      col(RecordChange.created).is_(True))
    )).first() is not None
    if not has_history:  # recorded before field history was kept: ratings from judgements
        fields["ratings"] = await _ratings_from_judgements(session, case.id, as_of)
    steps = await _steps_open_at(session, case.id, as_of,
                                 [c for c in changes if c.entity_type == "step"])
    # An open step's priority is its case's (set and cleared with it by one UPDATE the field
    # history does not hold): the case's then, not today's (attack 20, A20-11).
    then = bool(fields.get("priority"))
    steps = [s if s.priority == then else s.model_copy(update={"priority": then})
             for s in steps]
    view = SimpleNamespace(**fields)
    out = case_out(cast(Case, view), service, steps)
    return CaseAsOf(**out.model_dump(), as_of=as_of)


def _case_fields_at(case: Case, later: Iterable[RecordChange]) -> dict[str, Any]:
    """The case's column values rolled back through the changes recorded after the instant
    (newest first)."""
    fields: dict[str, Any] = {name: getattr(case, name) for name in Case.model_fields}
    for change in later:
        for name, (old, _new) in change.changes.items():
            if name in fields and name not in UNTRACKED:
                fields[name] = old
    return fields


async def _ratings_from_judgements(
    session: AsyncSession, case_id: uuid.UUID, as_of: datetime
) -> dict[str, Any]:
    rows = await session.exec(
        select(Judgement).where(Judgement.case_id == case_id,
                                col(Judgement.created_at) <= as_of,
                                col(Judgement.occurred_at) <= as_of)
        .order_by(col(Judgement.occurred_at), col(Judgement.created_at))
    )
    ratings: dict[str, Any] = {}
    for j in rows.all():  # the latest by occurred_at wins, as for current ratings
        ratings[str(j.domain)] = {"level": str(j.level), "recorded_at": j.occurred_at,
                                  "judgement_id": j.id}
    return ratings


async def _steps_open_at(
    session: AsyncSession, case_id: uuid.UUID, as_of: datetime, later: list[RecordChange]
) -> list[StepOut]:
    """Steps created by the instant whose status then (rolled back) was open, soonest due
    first, every field as it was then (:data:`~app.domain.history.STEP_TRACKED`: due date,
    assignee, actor, note, reasons...; attack 30a, A30a-5), ``overdue`` as of the instant."""
    rows = (await session.exec(
        select(Step).where(Step.case_id == case_id, col(Step.created_at) <= as_of)
    )).all()
    by_step: dict[uuid.UUID, list[RecordChange]] = {}
    for change in later:
        by_step.setdefault(change.entity_id, []).append(change)
    out: list[StepOut] = []
    for step in rows:
        then = {name: getattr(step, name) for name in Step.model_fields}
        for change in by_step.get(step.id, []):  # newest first
            for name, (old, _new) in change.changes.items():
                if name in then:
                    then[name] = _step_value(name, old)
        if then["status"] != StepStatus.open.value:
            continue
        then.update(completed_at=None, completed_by=None, completion_note=None,
                    satisfied_by_type=None, satisfied_by_id=None)
        out.append(StepOut.model_validate(step_fields(SimpleNamespace(**then), as_of)))
    return sorted(out, key=lambda s: (s.due_at is None, s.due_at or as_of, s.created_at))


async def timeline(
    session: AsyncSession, principal: Principal, case_id: uuid.UUID, page: paging.PageArgs
) -> tuple[list[TimelineEntry], str | None]:
    """A page of everything recorded on the case in time order (by when it happened; at one
    instant the records, then the field changes they made, then the steps they raised or
    closed; then by when recorded):
    opening, field changes, judgements, events, assessment and referral transitions,
    oversight, panel decisions, steps created and closed; who and why. And the next page's
    cursor: the entry's place in that order (its time, :func:`_place`, record time, and its
    rank among entries equal in those)."""
    _, case = await get_visible_case(session, principal, case_id)
    # Who opened it: the write audit's creation entry (POST, or PUT by external reference).
    opener = (await session.exec(
        select(AuditEntry.actor_sub, AuditEntry.actor_role).where(
            col(AuditEntry.case_id) == case.id, col(AuditEntry.entity_type) == "case",
            col(AuditEntry.entity_id) == case.id, col(AuditEntry.action) == "case.create")
        .order_by(col(AuditEntry.at)).limit(1))).first()
    entries = [TimelineEntry(
        at=case.opened_at, recorded_at=case.created_at, kind="case", action="opened",
        entity_id=case.id, by=opener[0] if opener else None,
        role=opener[1] if opener else None, why=None,
        details={"intervention": case.intervention.value},
    )]
    typed = await _typed_at(session, case.id)
    for load in (_judgements, _events, _oversight, field_changes):
        entries += await load(session, case.id)
    for moves in (_assessments, _referrals, _decisions):
        entries += await moves(session, case.id, typed)
    closures = await _closures(session, case)
    entries += closures + await _steps(session, case.id, closures)
    # At one instant, what was recorded comes before the steps: a step created or closed at the
    # instant of a judgement, event or transition is that record's consequence (as in the audit
    # trail, where a write's record is sealed before its steps). Ties end in what the entry is,
    # so the order (and a page's cursor) is the same on every read.
    entries.sort(key=lambda e: (e.at, _place(e), e.recorded_at or e.at, e.kind,
                                str(e.entity_id), e.action))
    keyed, previous, rank = [], None, 0
    for entry in entries:
        head = (entry.at, _place(entry), entry.recorded_at or entry.at)
        rank = rank + 1 if head == previous else 0
        keyed.append(((*head, rank), entry))
        previous = head
    await cursors.ready(session)
    rows, following = paging.memory_page(
        keyed, lambda pair: pair[0], ("instant", "int", "instant", "int"), page,
        {"list": "timeline", "case": str(case.id)})
    return [entry for _, entry in rows], following


def _place(entry: TimelineEntry) -> int:
    """An entry's place among those at one instant: the records first, then the changes of
    the case's fields (what an act derived, as its rating and register, follows the act),
    then the steps."""
    return 2 if entry.kind == "step" else int(entry.action == "fields_changed")


async def _rows(session: AsyncSession, model: Any, case_id: uuid.UUID) -> list[Any]:
    return list((await session.exec(select(model).where(model.case_id == case_id))).all())


async def _judgements(session: AsyncSession, case_id: uuid.UUID) -> list[TimelineEntry]:
    return [TimelineEntry(
        at=j.occurred_at, recorded_at=j.created_at, kind="judgement", action="recorded",
        entity_id=j.id, by=j.recorded_by, role=j.recorded_role, why=j.rationale,
        details={"domain": str(j.domain), "level": str(j.level),
                 "previous_level": j.previous_level, "matrix_level": j.matrix_level,
                 "panel_item_id": str(j.panel_item_id) if j.panel_item_id else None},
    ) for j in await _rows(session, Judgement, case_id)]


async def _events(session: AsyncSession, case_id: uuid.UUID) -> list[TimelineEntry]:
    return [TimelineEntry(
        at=e.occurred_at, recorded_at=e.created_at, kind="event", action=str(e.type),
        entity_id=e.id, by=e.recorded_by, role=e.recorded_role, why=None,
        details={"details": e.details, "may_raise_to_high": e.may_raise_to_high},
    ) for e in await _rows(session, CaseEvent, case_id)]


Typed = dict[tuple[uuid.UUID, str], list[datetime]]


async def _typed_at(session: AsyncSession, case_id: uuid.UUID) -> Typed:
    """When each transition of an assessment or referral, and each panel decision, was typed
    in: its audit entry's time, per record and audited action, in the order recorded (a record's
    history and its audit entries are appended in the same write, so the n-th move of an action
    is its n-th audit entry; ATK29-8)."""
    rows = (await session.exec(select(AuditEntry.entity_id, AuditEntry.action, AuditEntry.at)
                               .where(AuditEntry.case_id == case_id,
                                      col(AuditEntry.entity_type).in_(
                                          ("assessment", "referral", "panel_item")))
                               .order_by(col(AuditEntry.at), col(AuditEntry.seq)))).all()
    out: Typed = {}
    for entity_id, action, at in rows:
        out.setdefault((entity_id, action), []).append(_aware(at))
    return out


def _history(kind: str, entity_id: uuid.UUID, recorded: datetime | None,
             history: list[dict[str, Any]], why_key: str, typed: Typed) -> list[TimelineEntry]:
    """A record's moves, each at its ``at`` (when it happened) with ``recorded_at`` when it was
    typed in: the creation's the record's own, a later move's its audit entry's."""
    seen: dict[str, int] = {}
    out: list[TimelineEntry] = []
    for h in history:
        action = h["action"]
        n = seen[action] = seen.get(action, 0) + 1
        audited = typed.get((entity_id, f"{kind}.{action}"), [])
        out.append(TimelineEntry(
            at=datetime.fromisoformat(h["at"]),
            recorded_at=recorded if action == "create"
            else audited[n - 1] if n <= len(audited) else None,
            kind=kind, action=action, entity_id=entity_id, by=h.get("by"),
            role=h.get("role"), why=h.get(why_key),
            details={k: h[k] for k in ("from", "to") if k in h},
        ))
    return out


async def _assessments(
    session: AsyncSession, case_id: uuid.UUID, typed: Typed
) -> list[TimelineEntry]:
    out: list[TimelineEntry] = []
    for a in await _rows(session, Assessment, case_id):
        for entry in _history("assessment", a.id, a.created_at, a.history, "feedback", typed):
            entry.details.update(type=str(a.type), stage=str(a.stage))
            out.append(entry)
    return out


async def _referrals(
    session: AsyncSession, case_id: uuid.UUID, typed: Typed
) -> list[TimelineEntry]:
    out: list[TimelineEntry] = []
    for r in await _rows(session, Referral, case_id):
        for entry in _history("referral", r.id, r.created_at, r.history, "note", typed):
            entry.details["referral_kind"] = str(r.kind)
            out.append(entry)
    return out


async def _oversight(session: AsyncSession, case_id: uuid.UUID) -> list[TimelineEntry]:
    return [TimelineEntry(
        at=o.occurred_at, recorded_at=o.created_at, kind="oversight", action="recorded",
        entity_id=o.id, by=o.author_id, role=o.author_role, why=o.note,
        details={"satisfies_step_id": str(o.satisfies_step_id) if o.satisfies_step_id
                 else None},
    ) for o in await _rows(session, OversightEntry, case_id)]


async def _decisions(
    session: AsyncSession, case_id: uuid.UUID, typed: Typed
) -> list[TimelineEntry]:
    return [TimelineEntry(  # typed in: the decision's audit entry (ATK29-8)
        at=i.decided_at, recorded_at=max(typed.get((i.id, "panel.decision"), []), default=None),
        kind="panel_decision", action="decided",
        entity_id=i.id, by=i.decided_by, role="chair",
        why=(i.decision or {}).get("minutes"),
        details={"panel_id": str(i.panel_id), "decision": i.decision},
    ) for i in await _rows(session, PanelItem, case_id) if i.decided_at is not None]


async def field_changes(session: AsyncSession, case_id: uuid.UUID) -> list[TimelineEntry]:
    """The changes of the case's fields as the timeline shows them (at their acts' times,
    each from the value it replaced then); the subject access export's too."""
    rows = list((await session.exec(select(RecordChange).where(
        RecordChange.case_id == case_id,
        col(RecordChange.entity_type).in_(("case", DERIVED_ENTITY)),
        col(RecordChange.created).is_(False)))).all())
    history = (await timeline_history(session, case_id)
               if any(FORWARD_FIELDS & (c.changes or {}).keys() for c in rows) else [])
    shows = _showing(rows)
    entries = []
    for c in rows:
        changes = _as_they_happened(history, c, shows)
        if changes:
            entries.append(TimelineEntry(
                at=_changed_at(c), recorded_at=c.recorded_at, kind="case",
                action="fields_changed", entity_id=c.entity_id, by=c.actor_sub, role=None,
                why=None, details={"changes": changes}))
    return entries


# The fields read forwards (the value at an instant: that of the latest change at or before it,
# by act time): a MAPPA field a feed message asserts (ATK29-3) and a field an act derives
# (ratings, register, contact level, priority, custody), which a back-dated act records at its
# date (A30a-1, fix32b).
FORWARD_FIELDS = ASSERTED_FIELDS_SET | DERIVED_FIELDS | OVERTAKEN_FIELDS


def _order(change: RecordChange) -> tuple[Any, ...]:
    """A change's place in the history read forwards (as
    :func:`~app.domain.history.timeline_history` orders it)."""
    return (_aware(change.occurred_at or change.recorded_at), _aware(change.recorded_at),
            int(change.entity_type == DERIVED_ENTITY), change.id)


def _showing(rows: list[RecordChange]) -> dict[uuid.UUID, set[str]]:
    """For each change, the fields read forwards it shows: those of which it is the last
    change at its instant (the rows one instant holds, whatever order they were recorded in,
    show one change of a field: from the value before the instant to the value after it;
    attack 31a, ATTACK31A-4's timeline, and a back-dated act's restated fields, fix32b)."""
    last: dict[tuple[str, datetime], RecordChange] = {}
    for c in sorted(rows, key=_order):
        for name in FORWARD_FIELDS & (c.changes or {}).keys():
            last[(name, _order(c)[0])] = c
    shows: dict[uuid.UUID, set[str]] = {}
    for (name, _), c in last.items():
        shows.setdefault(c.id, set()).add(name)
    return shows


def _as_they_happened(history: list[Any], change: RecordChange,
                      shows: dict[uuid.UUID, set[str]]) -> dict[str, list[Any]]:
    """A change's fields as they changed at its act's time: a field read forwards
    (:data:`FORWARD_FIELDS`: a MAPPA field a feed message set, a message delivered late,
    ATK29-3; a derived field, a back-dated act's at its date, A30a-1) from what it was just
    before to what it was at that instant, in the history as it now stands, shown by the last
    change of its instant only and left out where that was already its value (a message
    confirming it)."""
    changes = dict(change.changes or {})
    at = _aware(change.occurred_at or change.recorded_at)
    shown = shows.get(change.id, set())
    for name in FORWARD_FIELDS & changes.keys():
        before = json_value_at(history, name, at, strictly=True)
        after = json_value_at(history, name, at)
        if name not in shown or before == after:
            del changes[name]
        else:
            changes[name] = [before, after]
    return changes


def _changed_at(change: RecordChange) -> datetime:
    """When a change of the case's fields happened: a closure's at its ``closed_at`` (where the
    timeline puts the closure); any other at its act's time, a change derived from an act (a
    back-dated judgement's rating and register) included, not when it was typed in
    (ATTACK26B-2); a row from before the act's time was kept, when it was recorded."""
    closed = (change.changes or {}).get("closed_at")
    if closed and closed[1]:
        return _aware(datetime.fromisoformat(str(closed[1])))
    return _aware(change.occurred_at or change.recorded_at)


async def _closures(session: AsyncSession, case: Case) -> list[TimelineEntry]:
    """The case closed and reopened (from the audit trail): who and the reason given, at when
    it happened (the closure's ``closed_at``, the reopening's end of the closed period: a
    closure or reopening dated back is in the order it happened, attack 24b, A24b-9), with
    ``recorded_at`` when it was recorded. The n-th closure recorded is the n-th closed period's
    start (or the current ``closed_at``), the n-th reopening its end."""
    rows = (await session.exec(select(AuditEntry).where(
        AuditEntry.case_id == case.id, AuditEntry.entity_type == "case",
        col(AuditEntry.action).in_(("case.close", "case.reopen"))).order_by(
            col(AuditEntry.at), col(AuditEntry.seq)))).all()
    periods = [(datetime.fromisoformat(a), datetime.fromisoformat(b))
               for a, b in case.closed_periods or ()]
    starts = [a for a, _ in periods] + ([_aware(case.closed_at)] if case.closed_at else [])
    ends = [b for _, b in periods]
    out = []
    closes = reopens = 0
    for a in rows:
        if a.action == "case.close":
            at = starts[closes] if closes < len(starts) else a.at
            closes += 1
        else:
            at = ends[reopens] if reopens < len(ends) else a.at
            reopens += 1
        out.append(TimelineEntry(
            at=at, recorded_at=a.at, kind="case",
            action="closed" if a.action == "case.close" else "reopened",
            entity_id=a.entity_id, by=a.actor_sub, role=a.actor_role, why=a.reason, details={}))
    return out


def _aware(moment: datetime) -> datetime:
    """An instant as aware UTC (SQLite gives naive UTC back)."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


# A step superseded by a closure, or reinstated by a reopening, in the same write (its audit
# entry recorded within this of the closure's or reopening's, by the same person) is shown at
# the closure's or reopening's own time (A24b-9).
_SAME_WRITE = timedelta(seconds=5)


STEP_ACTIONS = {"step.create": "created", "step.done": "done", "step.waived": "waived",
                "step.supersede": "superseded", "step.reinstate": "reinstated",
                "step.redate": "redated",
                # Superseded by the act that closes it (a panel's sitting overtaking a referral,
                # a later decision replacing a booked review): its completed_at is that act's.
                "step.superseded": "superseded",
                # Already late when its need ended (ATTACK34B-7): at the act that ended it.
                "step.missed": "missed"}

# Timeline actions of a step whose need ended: superseded, or missed (already late then).
ENDED_ACTIONS = ("superseded", "missed")


async def _steps(session: AsyncSession, case_id: uuid.UUID,
                 closures: Sequence[TimelineEntry] = ()) -> list[TimelineEntry]:
    """Steps created, re-dated and closed, who acted (from the audit trail) and why; each
    entry shows the due date the step had then (a re-date: from and to), not today's."""
    steps = {s.id: s for s in await _rows(session, Step, case_id)}
    audits = (await session.exec(select(AuditEntry).where(
        AuditEntry.case_id == case_id, AuditEntry.entity_type == "step",
        col(AuditEntry.action).in_(STEP_ACTIONS)).order_by(
            col(AuditEntry.at), col(AuditEntry.seq)))).all()
    dues, superseded = await _step_changes(session, case_id)
    moves: dict[uuid.UUID, int] = {}  # step -> re-dates seen so far (the n-th due change)
    out: list[TimelineEntry] = []
    for a in audits:
        step = steps.get(a.entity_id)
        if step is None:
            continue
        action = STEP_ACTIONS[a.action]
        at = (step.raised_at if action == "created"
              else step.completed_at if action in ("done", "waived") and step.completed_at
              else _superseded_at(a, step, superseded) if action in ENDED_ACTIONS
              else _redated_at(a, dues.get(step.id, []), moves.get(step.id, 0))
              if action == "redated"
              else a.at)
        why = a.reason if action not in ENDED_ACTIONS \
            else _superseded_reason(step.note, action) or a.reason
        if action == "reinstated":
            at = a.at
        if action in (*ENDED_ACTIONS, "reinstated"):
            act = "closed" if action in ENDED_ACTIONS else "reopened"
            for c in closures:
                if c.action == act and c.by == a.actor_sub and c.recorded_at is not None \
                        and abs(_aware(c.recorded_at) - _aware(a.at)) <= _SAME_WRITE:
                    at = c.at
                    break
            else:
                if action in ENDED_ACTIONS and at == a.at \
                        and step.satisfied_by_type == CLOSURE_MARK:
                    at = _set_aside_at(a, step, closures)
        if action in ENDED_ACTIONS and _done_before(step, at):
            continue  # corrected by a completion dated before its need ended (ATTACK36-6)
        history = dues.get(step.id, [])
        details = {"code": step.code, "title": step.title, "rule": step.rule_id,
                   "policy_ref": step.policy_ref, "actor": step.actor,
                   "assignee_id": step.assignee_id, "due_at": to_json(step.due_at)}
        if action == "created" and history:
            details["due_at"] = history[0][0]  # as raised: before its first re-date
        elif action == "redated":
            n = moves[step.id] = moves.get(step.id, 0) + 1
            if n <= len(history):
                details.update({"from": history[n - 1][0], "to": history[n - 1][1],
                                "due_at": history[n - 1][1]})
        out.append(TimelineEntry(
            at=at, recorded_at=a.at, kind="step", action=action, entity_id=step.id,
            by=a.actor_sub, role=a.actor_role, why=why, details=details,
        ))
    never = _never_owed(out)
    # A later act's step that an earlier act typed in after the death raised in its stead
    # (app.domain.policy._never_raised_by_later_act, fix42d): never owed in time order.
    never |= {i for i, s in steps.items() if s.status == StepStatus.superseded
              and NEVER_RAISED_EARLIER in (s.note or "")}
    return [e for e in out if e.entity_id not in never] if never else out


def _done_before(step: Step, ended: datetime) -> bool:
    """Whether the step, whose need the timeline shows ending at ``ended``, is now done or
    waived by an act dated before that: the record corrected by a completion typed in later
    (a step recorded missed, ATTACK36-6). In time order its need never ended undone: the
    timeline shows the completion, the audit trail keeps both."""
    return step.status in (StepStatus.done, StepStatus.waived) \
        and step.completed_at is not None and _aware(step.completed_at) < _aware(ended)


def _never_owed(entries: Sequence[TimelineEntry]) -> set[uuid.UUID]:
    """The steps whose need ended at the instant they arose, and that were never reinstated:
    raised by an act of one instant and ended by another of that instant, in time order they
    were never owed (the acts of one instant are in one order whatever order they were typed
    in, :data:`app.domain.replay.SAME_INSTANT`: an own ROSH medium answering the incoming high
    of a transfer in of its instant, a MAPPA level recorded at the instant of the very high ROSH
    that would have asked the MARP for one; fix36d, ATTACK35A-7, -12). The step itself stays on
    record (its list, its id); the case's history leaves it out."""
    by_step: dict[uuid.UUID, list[TimelineEntry]] = {}
    for entry in entries:
        by_step.setdefault(entry.entity_id, []).append(entry)
    never = set()
    for step_id, seen in by_step.items():
        actions = {e.action for e in seen}
        if "created" in actions and "superseded" in actions \
                and actions <= {"created", "superseded", "redated"} \
                and len({e.at for e in seen}) == 1:
            never.add(step_id)
    return never


def _redated_at(entry: AuditEntry, history: Sequence[tuple[Any, Any, Any]], seen: int
                ) -> datetime:
    """When a step's next re-date (its ``seen + 1``-th) happened: the time of the act that
    re-dated it, kept with its history row (ATTACK35A-5), else when it was recorded."""
    if seen < len(history) and history[seen][2] is not None:
        return _aware(history[seen][2])
    return entry.at


async def _step_changes(
    session: AsyncSession, case_id: uuid.UUID
) -> tuple[dict[uuid.UUID, list[tuple[Any, Any, Any]]],
           dict[tuple[uuid.UUID, datetime], datetime]]:
    """Each step's changes of ``due_at`` in the order recorded, ``(old, new)`` (each one a
    re-date, audited ``step.redate``; a new step's own fields are not recorded as changes);
    and when each supersession by an act happened, by (step, recording time): the act's time
    its history row keeps (``occurred_at``: :func:`app.domain.history.note_step_act`)."""
    rows = await session.exec(select(RecordChange).where(
        RecordChange.case_id == case_id, RecordChange.entity_type == "step",
        col(RecordChange.created).is_(False)).order_by(col(RecordChange.recorded_at)))
    dues: dict[uuid.UUID, list[tuple[Any, Any, Any]]] = {}
    superseded: dict[tuple[uuid.UUID, datetime], datetime] = {}
    for change in rows.all():
        pair = (change.changes or {}).get("due_at")
        status = (change.changes or {}).get("status")
        if pair is not None:
            # With the time of the act that re-dated it (None: its recording time).
            dues.setdefault(change.entity_id, []).append(
                (pair[0], pair[1], None if status else change.occurred_at))
        if change.occurred_at is not None and status and status[1] in ENDED_ACTIONS:
            superseded[(change.entity_id, _aware(change.recorded_at))] = \
                _aware(change.occurred_at)
    return dues, superseded


def _superseded_at(entry: AuditEntry, step: Step,
                   acts: dict[tuple[uuid.UUID, datetime], datetime]) -> datetime:
    """When a step was superseded: the time of the act that superseded it (kept with the
    step's history row of that write, ``acts``; for a step the act closed,
    ``step.superseded``, its ``completed_at``), not when that was typed in (``recorded_at``;
    ATK29-1); a supersession from before the act's time was kept, when it was recorded."""
    when = acts.get((step.id, _aware(entry.at)))
    if when is not None:
        return when
    if entry.action == "step.superseded" and step.completed_at is not None:
        return _aware(step.completed_at)
    return entry.at


def _set_aside_at(entry: AuditEntry, step: Step, closures: Sequence[TimelineEntry]) -> datetime:
    """When a step raised by an act dated before the case's closure, recorded after it, was set
    aside by that closure (``_closed_case_steps``: raised and set aside in one write, so no
    history row keeps an act's time): the closure in force when it was recorded, at its date
    (never before the step arose); its recording time if there is none."""
    before = [c for c in closures if c.action == "closed" and c.recorded_at is not None
              and _aware(c.recorded_at) <= _aware(entry.at)]
    if not before:
        return entry.at
    closed = max(before, key=lambda c: _aware(c.recorded_at or c.at)).at
    return max(_aware(closed), _aware(step.raised_at or step.created_at))


def _superseded_reason(note: str | None, action: str = "superseded") -> str | None:
    prefix = "Missed: " if action == "missed" else "Superseded: "
    lines = [ln for ln in (note or "").splitlines() if ln.startswith(prefix)]
    return lines[-1].removeprefix(prefix) if lines else None
