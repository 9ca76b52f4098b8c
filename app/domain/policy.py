"""The seam between the domain and the pure policy engine.

Builds the engine's case snapshot from the database, runs the service's pack, refuses writes the
policy refuses, and applies the step intents (create / keep / supersede / update_due) inside the
caller's unit of work, so a record, its next steps, its audit entry and its outgoing event
commit together or not at all.
"""

from __future__ import annotations

import functools
import re
import uuid
from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any, NamedTuple

import sqlalchemy as sa
from pydantic import TypeAdapter
from sqlalchemy.dialects.postgresql import ARRAY
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.core.db import PlainSelect
from app.core.errors import DomainError
from app.domain.absences import StaffAbsence, absences_of
from app.domain.access import ROLE_DUTY_ACTORS
from app.domain.audit import record_audit
from app.domain.cases_table import AccessMode, Case, ContactLevel
from app.domain.common import iso_utc, peek_now, stored_instant, utcnow
from app.domain.events_table import CaseEvent
from app.domain.final_events import final_event_recorded
from app.domain.history import (
    RecordChange,
    act_time,
    bump_case_versions,
    case_fields_at,
    case_fields_changed,
    derived_before,
    note_case_act,
    note_step_act,
    state_has_changes,
    step_act_at,
)
from app.domain.judgements_table import Judgement
from app.domain.outbox import PENDING, emit
from app.domain.panels_table import Panel, PanelItem, load_scheduled_panels
from app.domain.restriction import shuts_out, staff_of
from app.domain.services import Service
from app.domain.steps import (
    ESCALATION_CODE,
    STEP_OUT_COLUMNS,
    Step,
    StepOut,
    StepRow,
    StepStatus,
    append_note,
    step_json,
    steps_json,
    steps_out,
    superseded_note,
)
from app.domain.timing import require_not_before
from app.domain.write_context import PolicyContext as PolicyContext
from app.domain.write_context import WriteContext
from app.workflows.calendar import WorkingCalendar, end_of_day, london_date, london_text
from app.workflows.deadlines import (
    DATE_DEFINED,
    add_period,
    due_at_once_from,
    is_deadline_note,
    overdue_at_for,
    parse_form,
    prolonged_absences,
    shift_local,
)
from app.workflows.engine import (
    LAPSED,
    REPLACED,
    decided_by,
    evaluate,
    evaluate_backfill,
    incoming_after,
    next_panel_redates,
)
from app.workflows.packs import Pack, Rule, is_priority, is_raisable
from app.workflows.types import (
    DOMAINS,
    CaseSnapshot,
    Evaluation,
    OpenStep,
    ScheduledPanel,
    StepIntent,
    WorkflowEvent,
)

ACTOR_FIELDS = {"case_holder": "case_holder_id", "line_manager": "line_manager_id"}


class PolicyResult:
    """What a write did to the case's steps, and the steps now open (the ``next_steps``).

    The open steps may be given as they stood when the write applied its intents, already in
    the API's JSON shape (``open_json``, :func:`~app.domain.steps.step_json`): the models
    (:class:`StepOut`) are then built only if ``next_steps`` is read, and a route that writes
    its answer's JSON itself (:meth:`next_steps_json`) never builds them (issue 15: the models
    were ~7% of a judgement write)."""

    __slots__ = ("_next_steps", "_open_json", "created", "superseded", "evaluation")

    def __init__(
        self, next_steps: list[StepOut] | None = None, created: list[Step] | None = None,
        superseded: list[Step] | None = None, evaluation: Evaluation | None = None, *,
        open_json: list[dict[str, Any]] | None = None,
    ) -> None:
        self._next_steps = next_steps if next_steps is not None or open_json is not None \
            else []
        self._open_json = open_json
        self.created: list[Step] = created if created is not None else []
        self.superseded: list[Step] = superseded if superseded is not None else []
        self.evaluation = evaluation

    @property
    def next_steps(self) -> list[StepOut]:
        """The open steps as the API shows them."""
        if self._next_steps is None:
            self._next_steps = _STEPS_OUT.validate_python(self._open_json or [])
        return self._next_steps

    def next_steps_json(self) -> list[Any]:
        """The open steps for pydantic's JSON encoder (``TypeAdapter(Any)``): the same bytes
        as ``next_steps`` written as a response model's field."""
        if self._next_steps is not None:
            return list(self._next_steps)
        return list(self._open_json or [])

    def without_next_steps(self) -> PolicyResult:
        """The same result answering no open steps (for a caller who may not see them)."""
        return PolicyResult([], self.created, self.superseded, self.evaluation)

    def merge(self, later: PolicyResult) -> PolicyResult:
        """Combine two runs within one write; the later run's open steps win."""
        return PolicyResult(
            later._next_steps,
            created=self.created + later.created,
            superseded=self.superseded + later.superseded,
            evaluation=later.evaluation or self.evaluation,
            open_json=later._open_json,
        )


_STEPS_OUT: TypeAdapter[list[StepOut]] = TypeAdapter(list[StepOut])


class PolicyViolation(DomainError):
    """A write the policy refuses (422, or 409 for M6); names the rule."""


# The key of ``Case.incoming_ratings`` that keeps the arrival's instant (the latest transfer
# in's ``occurred_at``, app.domain.events): the incoming ratings stand until the service's own
# judgement of their domain dated at or after it (Somerset 13.3; fix32a; at its instant: the
# events of an instant come before its judgements, app.domain.replay.SAME_INSTANT, fix34a).
# A row without it (kept before) is read as before: a domain rated here is answered.
ARRIVED_AT = "arrived_at"


def kept_incoming(case: Case) -> tuple[dict[str, Any], datetime | None]:
    """The latest transfer in's incoming ratings as the case's row keeps them, and its
    instant (None for a row kept without it)."""
    kept = dict(case.incoming_ratings or {})
    return kept, stored_instant(kept.pop(ARRIVED_AT, None))


def standing_incoming(incoming: Mapping[str, Any], arrived: datetime,
                      judged: Iterable[tuple[datetime | None, str]]) -> dict[str, Any]:
    """The incoming ratings of an arrival at ``arrived`` that still stand after the service's
    own judgements ``judged`` (instant, domain): one dated at or after the arrival answers its
    domain (at its instant too: the instant's events come first, its judgements after them,
    app.domain.replay.SAME_INSTANT; fix34a); one dated before it answers nothing (A30a-13,
    fix32a)."""
    answered = {d for at, d in judged if at is not None and at >= arrived}
    return {d: v for d, v in incoming.items() if d not in answered}


def snapshot(case: Case, open_steps: Sequence[Step]) -> CaseSnapshot:
    """The engine's view of a case: fields, current rating levels, register, open steps."""
    ratings = {d: (v or {}).get("level") for d, v in (case.ratings or {}).items()}
    incoming, arrived = kept_incoming(case)
    if arrived is not None and incoming:
        incoming = standing_incoming(incoming, arrived, (
            (stored_instant(v.get("recorded_at")), d) for d, v in (case.ratings or {}).items()
            if v))
    return CaseSnapshot(
        case_id=case.id,
        intervention=str(case.intervention),
        statutory=case.statutory,
        csc_status=str(case.csc_status),
        weapon_related=case.weapon_related,
        mappa_category=case.mappa_category,
        mappa_level=case.mappa_level,
        expected_release_date=case.expected_release_date,
        in_custody=case.in_custody,
        volunteer_attached=case.volunteer_attached,
        ratings={d: ratings.get(d) for d in ("rosh", "swb", "lor")},
        incoming_ratings=incoming,
        incoming_at=arrived,
        countersigned_types=frozenset(case.countersigned_types or ()),
        rating_ids={d: (v or {}).get("judgement_id") for d, v in (case.ratings or {}).items()},
        on_register=case.on_register,
        closed_at=case.closed_at,
        closed_periods=tuple((datetime.fromisoformat(a), datetime.fromisoformat(b))
                             for a, b in case.closed_periods or ()),
        facts=dict(case.facts or {}),
        scores=dict(case.scores or {}),
        date_of_birth=case.date_of_birth,
        open_steps=tuple(
            OpenStep(
                id=s.id, code=s.code, rule_id=s.rule_id, subject_id=s.subject_id,
                due_at=s.due_at, awaiting_panel_date=s.awaiting_panel_date,
                deadline_form=s.deadline_form, actor=s.actor,
                reasons=tuple(s.reasons or ()),
            )
            for s in open_steps
        ),
    )


async def incoming_at(
    session: AsyncSession, case: Case, at: datetime, *,
    judged: Iterable[tuple[datetime, str]] | None = None, exclude: Any = None,
) -> dict[str, Any]:
    """The snapshot's incoming ratings (``incoming_ratings``, ``incoming_at``) as they stood
    at ``at``: the latest transfer in dated at or before it, less the domains the service
    judged at or after that arrival and by ``at`` (``judged``: the case's judgements as the caller
    has them, instant and domain; else read, less the record ``exclude``: the act's own).
    Empty (no query) when the case's row already says it: no transfer in kept, or one at or
    before ``at`` with no rating dated after ``at`` (Somerset 13.3 by the acts' dates, not
    their typing order: A30a-13, fix32a)."""
    incoming, arrived = kept_incoming(case)
    if arrived is None:
        return {}
    later_rating = any((stored_instant(v.get("recorded_at")) or at) > at
                       for v in (case.ratings or {}).values() if v)
    if arrived <= at and not later_rating and judged is None:
        return {}
    if arrived > at:
        table: Any = CaseEvent.__table__  # type: ignore[attr-defined]
        conn = await session.connection()
        row = (await conn.execute(
            sa.select(table.c.occurred_at, table.c.details)
            .where(table.c.case_id == case.id, table.c.type == "transfer_in",
                   table.c.occurred_at <= at)
            .order_by(table.c.occurred_at.desc(), table.c.created_at.desc()).limit(1))).first()
        if row is None:
            return {"incoming_ratings": {}, "incoming_at": None}
        arrived = stored_utc(row.occurred_at)
        incoming = dict((row.details or {}).get("incoming_ratings") or {})
    if incoming and judged is None:
        j: Any = Judgement.__table__  # type: ignore[attr-defined]
        conn = await session.connection()
        rows = (await conn.execute(
            sa.select(j.c.occurred_at, j.c.domain, j.c.id)
            .where(j.c.case_id == case.id, j.c.domain.in_(list(incoming)),
                   j.c.occurred_at >= arrived, j.c.occurred_at <= at))).all()
        judged = [(stored_utc(o), str(d)) for o, d, i in rows if str(i) != str(exclude)]
    judged = [(o, d) for o, d in judged or () if o <= at]
    return {"incoming_ratings": standing_incoming(incoming, arrived, judged),
            "incoming_at": arrived}


async def open_steps_of(session: AsyncSession, case_id: uuid.UUID) -> list[Step]:
    """The case's open steps, soonest due first (undated last)."""
    rows = await session.exec(
        select(Step)
        .where(Step.case_id == case_id, Step.status == StepStatus.open)
        .order_by(col(Step.due_at).is_(None), col(Step.due_at), col(Step.created_at),
                  col(Step.id))
    )
    return list(rows.all())


async def open_steps_out(session: AsyncSession, case_id: uuid.UUID) -> list[StepOut]:
    """The case's open steps, shaped for the API."""
    return (await open_steps_by_case(session, [case_id]))[case_id]


async def _open_step_rows(session: AsyncSession, case_ids: Sequence[uuid.UUID]) -> list[Any]:
    """The open steps of these cases as plain rows of :data:`STEP_OUT_COLUMNS` (no ORM object
    per step), soonest due first (undated last)."""
    case_id = STEP_OUT_COLUMNS[1]
    query = sa.select(*STEP_OUT_COLUMNS).where(
        case_id.in_(case_ids) if len(case_ids) > 1 else case_id == case_ids[0],
        col(Step.status) == StepStatus.open,
    ).order_by(col(Step.due_at).is_(None), col(Step.due_at), col(Step.created_at),
                  col(Step.id))
    rows = await session.exec(query)  # type: ignore[call-overload]
    return list(rows.all())


async def open_steps_by_case(
    session: AsyncSession, case_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[StepOut]]:
    """Open steps of many cases in one query, soonest due first: read as plain rows and
    shaped in one validator call (no ORM object per step)."""
    by_case: dict[uuid.UUID, list[StepOut]] = {case_id: [] for case_id in case_ids}
    if not case_ids:
        return by_case
    for step in steps_out(await _open_step_rows(session, case_ids)):
        by_case[step.case_id].append(step)
    return by_case


async def open_steps_json_by_case(
    session: AsyncSession, case_ids: Sequence[uuid.UUID], now: datetime | None = None
) -> dict[uuid.UUID, list[dict[str, Any]]]:
    """:func:`open_steps_by_case` for a page's JSON (lists and the register): each step as
    :func:`~app.domain.page_json.step_json` shows it, ``overdue`` as of ``now``. One query for
    the page's cases, its rows as the driver gives them (:class:`~app.core.db.PlainSelect`)."""
    by_case: dict[uuid.UUID, list[dict[str, Any]]] = {case_id: [] for case_id in case_ids}
    if not case_ids:
        return by_case
    moment = now or utcnow()
    make = StepRow._make
    query = _open_steps_query(session.get_bind().dialect.name == "postgresql")
    for row in await query.rows(session, {"yj_cases": list(case_ids)}):
        step: Any = make(row)
        by_case[step.case_id].append(step_json(step, moment))
    return by_case


@functools.cache
def _open_steps_query(postgres: bool) -> PlainSelect:
    """The open steps of a page's cases (``yj_cases``), soonest due first (undated last), as
    :func:`_open_step_rows` reads them: the ids as one array on PostgreSQL (one statement
    whatever the page size), an expanding ``IN`` elsewhere."""
    case_id: Any = STEP_OUT_COLUMNS[1]
    id_type = Step.__table__.c.case_id.type  # type: ignore[attr-defined]
    cases = (case_id == sa.any_(sa.bindparam("yj_cases", type_=ARRAY(id_type))) if postgres
             else case_id.in_(sa.bindparam("yj_cases", expanding=True)))
    return PlainSelect(sa.select(*STEP_OUT_COLUMNS).where(
        cases, col(Step.status) == StepStatus.open,
    ).order_by(col(Step.due_at).is_(None), col(Step.due_at), col(Step.created_at),
               col(Step.id)))


async def current(session: AsyncSession, case: Case) -> PolicyResult:
    """A result for a write that changed nothing the policy looks at."""
    return PolicyResult(next_steps=await open_steps_out(session, case.id))


async def scheduled_panels(session: AsyncSession, service: Service) -> list[ScheduledPanel]:
    """The service's scheduled panels, soonest first, for ``next-panel`` deadlines: every one,
    those already sat included. A ``next-panel`` step is due at the next panel at or after the
    act that asks for it (policy-rules, Deadline forms: "computed from the triggering event's
    ``occurred_at``, never from the wall clock, so that a CMS can back-fill events"): a
    back-dated judgement whose MARP has sat is overdue against it (Somerset 3.2.3 "refer the
    case to the next YJT MARP"), not due at the following one (attack 9, A9-6)."""
    return await load_scheduled_panels(session, service.id)


def evaluate_for(
    ctx: PolicyContext,
    service: Service,
    case: Case,
    open_steps: Sequence[Step],
    wf_event: WorkflowEvent,
    panels: Sequence[ScheduledPanel],
    checks: bool = True,
    **extra: Any,
) -> Evaluation:
    """Run the engine (pure) for a case and event (``extra``: further snapshot fields;
    ``checks``: as :func:`~app.workflows.engine.evaluate`'s)."""
    snap = replace(snapshot(case, open_steps), **extra)
    return evaluate(wf_event, snap, ctx.pack_for(service, at=wf_event.occurred_at),
                    ctx.calendar, panels, checks=checks)


async def snapshot_extras(
    session: AsyncSession, case: Case, occurred_at: datetime
) -> dict[str, Any]:
    """Snapshot facts kept outside the case row: the panels it is booked on and not yet
    decided (not withdrawn), whether a panel referral of it stands that no panel has yet
    decided on, and the case holder's absences from the day before the event on."""
    return (await snapshot_inputs(session, None, case, occurred_at))[1]


# A referral sent and standing at an act's instant: the service sent its form to the receiver
# by then (one a feed delivered is the receiver's message, not the service's act), not yet
# withdrawn or declined (``referral_sent_in``; Somerset 8.3.3, the MAPPA A form; fix36a,
# ATTACK35B-1; as at the act's instant: fix40c ``sent_at``, fix41c ``ended_at``).
# The referral table's module imports this one, so its columns are named here (as access.py).
_REFERRAL = sa.table(
    "referral", sa.column("case_id", PanelItem.__table__.c.case_id.type),  # type: ignore[attr-defined]
    sa.column("id", PanelItem.__table__.c.id.type),  # type: ignore[attr-defined]
    sa.column("kind", sa.String()), sa.column("status", sa.String()),
    sa.column("source", sa.String()),
    sa.column("occurred_at", Panel.__table__.c.scheduled_for.type),  # type: ignore[attr-defined]
    sa.column("sent_at", Panel.__table__.c.scheduled_for.type),  # type: ignore[attr-defined]
    sa.column("made_at", Panel.__table__.c.scheduled_for.type),  # type: ignore[attr-defined]
    sa.column("ended_at", Panel.__table__.c.scheduled_for.type))  # type: ignore[attr-defined]


def _standing_at(at: Any) -> Any:
    """A referral not withdrawn or declined by ``at`` (its ``ended_at`` after it: a withdrawal
    at an act's instant comes before the judgements of that instant, docs §7; fix41c)."""
    return sa.or_(_REFERRAL.c.ended_at.is_(None), _REFERRAL.c.ended_at > at)


def _inputs_statement(service_id: Any = None, case_id: Any = None, holder: Any = None,
                      since: Any = None, at: Any = None, marker: bool = False) -> Any:
    """One statement for what :func:`snapshot_inputs` reads: the service's panels (``p``),
    the case's agenda items, undecided and not withdrawn (``i``: the item's id and its
    panel's, ``panel_id``), the panels it was taken off by its keepers and is not on again
    (``w``: ``left_panel_ids``), the times of its live panel referrals (``r``) and of its
    panels' decisions (``d``), the kinds of its referrals sent and standing (``s``), and its
    holder's absences (``a``), as one UNION ALL of rows ``(k, id, kind, scheduled_for,
    starts_on, ends_on, panel_id)``. The service, case, holder, date and the act's instant are
    the parameters ``s``, ``c``, ``h``, ``since`` and ``at`` unless other expressions are given
    (:func:`inputs_column`); ``marker``: one more row ``x`` (so that an aggregate of the rows
    is never NULL). A referral counts as sent (``s``) from its ``sent_at`` on, its own instant
    included: at one instant the service's referrals come after the panels' decisions and
    before the judgements (a MAPPA A form sent at a Very High's instant has "already been
    done" for it, Somerset 7.1.9; :mod:`app.workflows.instant_order`, fix40c)."""
    panel, item, absence = (t.__table__ for t in (Panel, PanelItem, StaffAbsence))  # type: ignore[union-attr]
    s = sa.bindparam("s") if service_id is None else service_id
    c = sa.bindparam("c") if case_id is None else case_id
    h = sa.bindparam("h") if holder is None else holder
    since = sa.bindparam("since", type_=absence.c.ends_on.type) if since is None else since
    at = sa.bindparam("at", type_=panel.c.scheduled_for.type) if at is None else at
    no_id = sa.cast(sa.null(), panel.c.id.type)
    no_kind = sa.cast(sa.null(), panel.c.kind.type)
    no_time = sa.cast(sa.null(), panel.c.scheduled_for.type)
    no_date = sa.cast(sa.null(), absence.c.starts_on.type)
    panels = sa.select(sa.literal_column("'p'").label("k"), panel.c.id, panel.c.kind,
                       panel.c.scheduled_for, no_date.label("starts_on"),
                       no_date.label("ends_on"), no_id.label("panel_id")).where(
        panel.c.service_id == s)
    # The case's agenda (the panels of these items) and, for each item, its own panel: a
    # ``next-panel`` step about an item is due at that item's sitting (ATTACK37-7).
    items = sa.select(sa.literal_column("'i'"), item.c.id, no_kind, no_time, no_date, no_date,
                      item.c.panel_id).where(
        item.c.case_id == c, item.c.decided_at.is_(None),
        item.c.withdrawn_at.is_(None))
    other = sa.alias(item, "yj_in_other_item")
    left = sa.select(sa.literal_column("'w'"), item.c.panel_id, no_kind, no_time, no_date,
                     no_date, no_id).where(
        item.c.case_id == c, item.c.withdrawn_by_keepers.is_(sa.true()),
        ~sa.exists().where(other.c.panel_id == item.c.panel_id, other.c.case_id == c,
                           other.c.withdrawn_at.is_(None)).correlate(item))
    # A panel referral made before the act's instant and standing then (fix41c): one made at
    # a judgement's instant is the referral that judgement asks for, which it answers (Somerset
    # 3.2.3, S7/S8 done by it; the example pack's X8, fix40c), not one made before it.
    referred = sa.select(sa.literal_column("'r'"), no_id, no_kind,
                         _REFERRAL.c.made_at,
                         no_date, no_date, no_id).where(
        _REFERRAL.c.case_id == c, _REFERRAL.c.kind == sa.literal_column("'panel'"),
        _REFERRAL.c.made_at < at, _standing_at(at))
    decided = sa.select(sa.literal_column("'d'"), item.c.panel_id, no_kind,
                        item.c.decided_at,
                        no_date, no_date, no_id).where(
        item.c.case_id == c, item.c.decided_at.is_not(None))
    sent = sa.select(sa.literal_column("'s'"), no_id, _REFERRAL.c.kind, no_time, no_date,
                     no_date, no_id).where(
        _REFERRAL.c.case_id == c, sa.not_(_REFERRAL.c.source.like("feed:%")),
        _REFERRAL.c.sent_at <= at, _standing_at(at))
    away = sa.select(sa.literal_column("'a'"), no_id, no_kind, no_time, absence.c.starts_on,
                     absence.c.ends_on, no_id).where(
        absence.c.service_id == s, absence.c.staff_id == h,
        absence.c.ends_on >= since)
    if not marker:
        return sa.union_all(panels, items, left, referred, decided, sent, away)
    return sa.union_all(panels, items, left, referred, decided, sent, away, sa.select(
        sa.literal_column("'x'"), no_id, no_kind, no_time, no_date, no_date, no_id))


_INPUTS = _inputs_statement()


@functools.cache
def inputs_column() -> Any:
    """PostgreSQL: what :data:`_INPUTS` reads, as one column of the case file's statement
    (:func:`app.domain.access.get_case_file_for_write`, issue 15: one round trip fewer): an
    array of its rows, for the service of the token's slug (``yj_slug``; the case file has a
    row only if the case is of that service), the case ``yj_case``, its holder as the case's
    row has it, and absences ending on or after ``yj_since``. Its tables are aliased and it
    correlates with nothing, so PostgreSQL computes it once per statement, with the snapshot
    the case and its steps are read with, after the case lock. Never NULL (a marker row ``x``
    that :func:`inputs_of` ignores)."""
    case: Any = sa.alias(Case.__table__, "yj_in_case")  # type: ignore[attr-defined]
    service: Any = sa.alias(Service.__table__, "yj_in_service")  # type: ignore[attr-defined]
    case_id = sa.bindparam("yj_case", type_=case.c.id.type)
    union = _inputs_statement(
        service_id=sa.select(service.c.id).where(
            service.c.slug == sa.bindparam("yj_slug", type_=sa.String())
        ).scalar_subquery().correlate(None),
        case_id=case_id,
        holder=sa.select(sa.func.coalesce(case.c.case_holder_id, "")).where(
            case.c.id == case_id).scalar_subquery().correlate(None),
        since=sa.bindparam("yj_since", type_=StaffAbsence.__table__.c.ends_on.type),  # type: ignore[attr-defined]
        at=sa.bindparam("yj_at", type_=Panel.__table__.c.scheduled_for.type),  # type: ignore[attr-defined]
        marker=True,
    ).subquery("yj_inputs")
    return (sa.select(sa.func.array_agg(sa.tuple_(*union.c), type_=sa.types.NullType()))
            .select_from(union).scalar_subquery().correlate(None).label("yj_inputs"))


def inputs_params(occurred_at: datetime, *, now: bool = False) -> dict[str, Any]:
    """The parameters :func:`inputs_column` takes besides the case file's, for an act at
    ``occurred_at`` (absences from the day before it on, as :func:`snapshot_inputs`; the
    referrals sent by then). ``now``: the act is dated when it is applied, after the case's
    lock, a moment after ``occurred_at``: every referral sent on record counts (none is dated
    ahead of its recording), one sent while the act waited for the lock too."""
    return {"yj_since": london_date(occurred_at) - timedelta(days=1),
            "yj_at": datetime(9999, 12, 31, tzinfo=UTC) if now else occurred_at}


def inputs_from_column(value: Any, case: Case) -> tuple[list[ScheduledPanel], dict[str, Any]]:
    """:func:`snapshot_inputs`' answer from :func:`inputs_column`'s value (asyncpg's records,
    their UUIDs made :class:`uuid.UUID` as SQLAlchemy's type gives them)."""
    rows = [_InputsRow(k, _uuid_of(i), kind, at, start, end, _uuid_of(panel_id))
            for k, i, kind, at, start, end, panel_id in value or ()]
    return inputs_of(rows, case)


def _uuid_of(value: Any) -> uuid.UUID | None:
    """asyncpg's UUID as :class:`uuid.UUID` (None stays None)."""
    return None if value is None else uuid.UUID(bytes=value.bytes)


class _InputsRow(NamedTuple):
    k: str
    id: uuid.UUID | None
    kind: str | None
    scheduled_for: datetime | None
    starts_on: date | None
    ends_on: date | None
    panel_id: uuid.UUID | None


async def snapshot_inputs(
    session: AsyncSession, service: Service | None, case: Case, occurred_at: datetime
) -> tuple[list[ScheduledPanel], dict[str, Any]]:
    """:func:`scheduled_panels` and :func:`snapshot_extras` in one statement (panels soonest
    first, absences by start). ``panel_referred``: a panel referral of the case stood at
    ``occurred_at`` (made before it, not withdrawn or declined by then: ``made_at``,
    ``ended_at``, fix41c) made after every panel decision on the case (Somerset 3.2.3: the
    case is referred to the next MARP; the referral's own panel has not yet decided)."""
    since = london_date(occurred_at) - timedelta(days=1)
    conn = await session.connection()
    rows = (await conn.execute(_INPUTS, {"s": case.service_id, "c": case.id,
                                         "h": case.case_holder_id or "", "since": since,
                                         "at": occurred_at})).all()
    return inputs_of(rows, case)


def inputs_of(rows: Sequence[Any], case: Case) -> tuple[list[ScheduledPanel], dict[str, Any]]:
    """:func:`snapshot_inputs`' answer from :data:`_INPUTS`' rows (``k``, ``id``, ``kind``,
    ``scheduled_for``, ``starts_on``, ``ends_on``, ``panel_id``)."""
    panels = sorted((ScheduledPanel(id=r.id, kind=r.kind, scheduled_for=r.scheduled_for)
                     for r in rows if r.k == "p"), key=lambda p: p.scheduled_for)
    absences = tuple(sorted((r.starts_on, r.ends_on) for r in rows if r.k == "a"))
    if not case.case_holder_id:
        absences = ()
    decisions = [stored_utc(r.scheduled_for) for r in rows if r.k == "d"]
    last_decision = max(decisions, default=None)
    referred = any(last_decision is None or stored_utc(r.scheduled_for) > last_decision
                   for r in rows if r.k == "r" and r.scheduled_for is not None)
    items = {r.id: r.panel_id for r in rows if r.k == "i"}
    agenda = frozenset(items.values())
    # The panels that have decided the case, at their (earliest) decision on it (fix37a).
    heard: dict[uuid.UUID, datetime] = {}
    for r in rows:
        if r.k == "d" and r.id is not None and r.scheduled_for is not None:
            at = stored_utc(r.scheduled_for)
            heard[r.id] = min(at, heard.get(r.id, at))
    left = frozenset(r.id for r in rows if r.k == "w")
    return panels, {"on_panel_agenda": bool(agenda), "agenda_panel_ids": agenda,
                    "agenda_item_panels": items,
                    "decided_panels": heard, "left_panel_ids": left,
                    "panel_referred": referred, "case_holder_absences": absences,
                    "referrals_sent": frozenset(str(r.kind) for r in rows if r.k == "s")}


def evaluate_alone(
    ctx: PolicyContext, service: Service, case: Case, wf_event: WorkflowEvent, domain: str
) -> Evaluation:
    """A back-filled judgement evaluated on its own: as if its domain were unknown and the case
    off the register and without open steps (its violations returned, nothing applied)."""
    current = snapshot(case, ())
    alone = replace(current, ratings={**current.ratings, domain: None}, on_register=False)
    return evaluate(wf_event, alone, ctx.pack_for(service, at=wf_event.occurred_at),
                    ctx.calendar, ())


def validate_alone(
    ctx: PolicyContext, service: Service, case: Case, wf_event: WorkflowEvent, domain: str
) -> Evaluation:
    """Check a back-filled judgement on its own (:func:`evaluate_alone`); raise its
    violations, apply nothing."""
    evaluation = evaluate_alone(ctx, service, case, wf_event, domain)
    raise_violations(evaluation)
    return evaluation


def raise_violations(evaluation: Evaluation) -> None:
    """Turn the engine's refusals into one problem (the first violation leads)."""
    if not evaluation.violations:
        return
    first = evaluation.violations[0]
    errors = [{"loc": loc, "msg": msg} for v in evaluation.violations for loc, msg in v.errors]
    raise PolicyViolation(
        first.detail,
        slug=first.type_slug,
        status=first.status,
        errors=errors or None,
        extra={"rules": [v.rule_id for v in evaluation.violations]},
    )


async def run(
    wctx: WriteContext, *, event: WorkflowEvent, open_steps: Sequence[Step] | None = None,
    untouched: frozenset[uuid.UUID] = frozenset(), creates: bool = True,
    inputs: tuple[list[ScheduledPanel], dict[str, Any]] | None = None,
    flush: bool = True, checks: bool = True, fields: Mapping[str, Any] | None = None,
    redates: bool = True,
) -> PolicyResult:
    """Evaluate ``event`` (usually ``wctx.event(...)``) on the write's case and apply its
    intents in the write's unit of work; 422/409 :class:`PolicyViolation` if the pack refuses
    the write. ``open_steps``: the case's open steps as the caller just loaded them under the
    case lock (:func:`open_steps_of`, nothing changed since), to spare reading them again.
    ``untouched``: open steps this act leaves as they are. Without ``creates`` no step is
    raised (an act dated before a judgement: :func:`run_backfill` asks on its date's ratings
    what it raises; this run supersedes and re-dates on today's). ``inputs``: what
    :func:`snapshot_inputs` would read for ``event``, as the caller read it with the case under
    its lock (:func:`inputs_column`), nothing changed since. ``flush=False``: the caller reads
    nothing through Core (which does not flush) before the commit, so changes of steps only
    (no step created or closed, the case's derived state unchanged) may wait for it.
    ``checks=False``: the pack's checks were run on the case at the act's own time
    (:func:`check_at_its_moment`) and refuse nothing here. ``fields``: case fields as the act
    found them, over those of its moment (a feed message before the case's own acts of its
    instant: :data:`app.domain.replay.SAME_INSTANT`). Without ``redates`` no open step is
    re-dated (an act dated before a judgement: :func:`run_backfill` re-dates on the ratings
    of its date, never on today's)."""
    session, case = wctx.session, wctx.case
    # What the act derives on the case (register, contact level, priority, a judgement's
    # rating) changed at the act's time, not when it was typed in (ATTACK26B-2).
    note_case_act(session, case.id, event.occurred_at, role=event.actor_role)
    if open_steps is None:
        open_steps = await open_steps_of(session, case.id)
    panels, extras = inputs if inputs is not None else await snapshot_inputs(
        session, wctx.service, case, event.occurred_at)
    earlier = {**await case_fields_at(session, case, event.occurred_at), **(fields or {})}
    incoming = await incoming_at(session, case, event.occurred_at,
                                 exclude=event.data.get("record_id"))
    evaluation = evaluate_for(wctx.policy, wctx.service, case, open_steps, event,
                              panels, checks, **extras, **earlier, **incoming)
    raise_violations(evaluation)
    if incoming:
        # Dated before the arrival (or before a later rating): the steps are the act's own
        # moment's, the register and contact level the case's now, the transfer in standing
        # as the later acts left it (a medium dated before an arrival at High leaves the child
        # on the High/Very High list, Somerset 9 and 13.3; fix32a). A step whose condition no
        # longer holds now lapses too: in time order a later act ended it (an own SWB medium
        # after a ROSH low dated before it, answering the last incoming rating), and the
        # replay of later acts supersedes nothing.
        now = evaluate_for(wctx.policy, wctx.service, case, open_steps, event, panels,
                           checks, **extras, **earlier)
        own = {i.step_id for i in evaluation.intents if i.action == "supersede"}
        evaluation = replace(
            evaluation, on_register_after=now.on_register_after,
            register_change=now.register_change, contact_level=now.contact_level,
            intents=evaluation.intents + tuple(
                i for i in now.intents if i.action == "supersede" and i.step_id not in own))
    # Whatever the later act (a case's field, an event, a judgement of another domain): a step
    # that arose after this act did not exist at its time (attack 30a, A30a-13: a medium dated
    # before a transfer in at high, typed in after it, lapsed the panel request it raised).
    evaluation = _of_its_moment(evaluation, open_steps, event.occurred_at)
    replaced = _replaced_since(wctx.pack, open_steps, event.occurred_at)
    if replaced:  # A30a-14: what a later act's line has since replaced is not asked again
        evaluation = replace(evaluation, intents=tuple(
            i for i in evaluation.intents if i.action != "create" or i.code not in replaced))
    if not creates:
        evaluation = replace(evaluation, intents=tuple(
            i for i in evaluation.intents if i.action != "create"))
    if not redates:
        evaluation = replace(evaluation, intents=tuple(
            i for i in evaluation.intents if i.action != "update_due"))
    return await _apply(wctx, event=event, evaluation=evaluation, open_steps=open_steps,
                        untouched=untouched, revive=_dated_before_later_acts(case, event),
                        flush=flush, earlier=bool(incoming))


async def check_only(wctx: WriteContext, *, event: WorkflowEvent) -> None:
    """Run the pack's checks of ``event`` on the write's case as :func:`run` does (the case as
    at the event's time), raising its :class:`PolicyViolation`; apply nothing (a panel's
    decision recorded on a closed case: app.domain.panels)."""
    session, case = wctx.session, wctx.case
    panels, extras = await snapshot_inputs(session, wctx.service, case, event.occurred_at)
    earlier = await case_fields_at(session, case, event.occurred_at)
    earlier.update(await incoming_at(session, case, event.occurred_at,
                                     exclude=event.data.get("record_id")))
    raise_violations(evaluate_for(wctx.policy, wctx.service, case,
                                  await open_steps_of(session, case.id), event, panels,
                                  **extras, **earlier))


def _dated_before_later_acts(case: Case, event: WorkflowEvent) -> bool:
    """Whether a rating or a change of the case's fields is dated after the act (read from the
    case row: no query): a step may have lapsed after it that it keeps alive."""
    at = event.occurred_at
    if case.changed_at is not None and stored_utc(case.changed_at) > at:
        return True
    return any((stored_instant(r.get("recorded_at")) or at) > at
               for r in (case.ratings or {}).values() if r)


def _of_its_moment(evaluation: Evaluation, open_steps: Sequence[Step], at: datetime
                   ) -> Evaluation:
    """An act supersedes no step that arose after it: in time order that step did not exist
    yet (Somerset S34's briefing for a volunteer attached after the judgement, A15-9; Wokingham
    W29's panel request raised by a transfer in dated after the judgement, A30a-13)."""
    later = {s.id for s in open_steps if stored_utc(s.raised_at) > at}
    if not later:
        return evaluation
    return replace(evaluation, intents=tuple(
        i for i in evaluation.intents if i.action != "supersede" or i.step_id not in later))


async def run_backfill(
    wctx: WriteContext, *, event: WorkflowEvent, ratings: Mapping[str, str | None],
    later: Sequence[Mapping[str, str | None]], open_steps: Sequence[Step] | None = None,
    replayed: uuid.UUID | None = None, strict: bool = False, lapse: bool = False,
    only: Collection[tuple[str, str]] | None = None, found: Mapping[str, Any] | None = None,
    in_time_order: list[OpenStep] | None = None,
    judged: Iterable[tuple[datetime, str]] | None = None,
    steps_then: Sequence[Step] | None = None, lapse_own: bool = False,
    fields: Mapping[str, Any] | None = None, unraised: Collection[uuid.UUID] = (),
) -> PolicyResult:
    """Apply a back-filled judgement (dated before the current rating of its domain) as the
    history in time order would have had it, inside the write's unit of work (attack pass 10,
    A10-30: a high typed in after a later judgement changed nothing, so the same records sent
    out of order gave later deadlines than in order).

    Decided by the seeds: the duties count from the act ("Any 'high' or 'very high' judgement
    rating will be discussed ... (within 24 hours)", Somerset 3.1; "within two working days of
    1. Assessing a child as high or very high ROSH", Wokingham High Risk Panel; policy-rules:
    deadlines are "computed from the triggering event's occurred_at, never from the wall clock,
    so that a CMS can back-fill events"), while the current rating stays the case's rating (an
    earlier session's design, kept: the register, contact level and rating reviews follow the
    latest judgement, not the one typed in last). So the judgement is evaluated on the case as
    it found it (``ratings``: the ratings of its moment; ``later``: after each later
    judgement, :func:`~app.domain.judgements.ratings_around`) by
    :func:`~app.workflows.engine.evaluate_backfill`, and only what that history still owes
    applies: a step it raised that is not open, not done and not closed since the judgement
    (one done or closed after it would, in order, have answered or ended it too); an open
    step re-dated sooner (through :func:`redate`, never later) or given the judgement's
    reason. A back-fill never lowers a rating, register or contact level, never supersedes
    or closes a step, and never re-dates one later. A back-fill the state of its moment
    refuses (Somerset M6: lowering a registered high needs the panel) stays history only.

    ``replayed``: the id of an act already recorded that ``event`` evaluates again on the
    history as it now stands (:mod:`app.domain.replay`): a step it raised under a line that
    its replay no longer takes is restated under the line that does (:func:`_restated`).
    ``strict``: the act is being recorded now (a case event dated before the latest
    judgement): a check the state of its moment fails refuses the write (422/409) instead of
    leaving it history only. ``lapse`` (a back-filled judgement): an open step that arose before
    it and whose condition fails once it is the rating is superseded, as in time order it
    lapsed then (:func:`_lapsed`; Wokingham W7's panel request after a high lapses with a low
    typed in afterwards between it and a later high, whose replay raises it anew, A11-4).
    ``only``: the (rule, code) lines applied, none other (:func:`run_restated`). ``found``:
    derived fields of the case as the act found them (a replayed judgement: the register
    before it, :func:`app.domain.history.derived_before`). ``in_time_order``: the steps
    found open by the acts after it in time order (given to the strict replay of the later
    acts: a review the panel's decision books, that the later lowering it would have refused
    has since ended, A30a-6); the steps the act raises on the case of its moment with no later
    act are added to it, and those of the list are open in its moment. ``steps_then``: the
    steps open at the act's own moment (:func:`steps_open_at`), for a judgement being recorded
    now: a check that fails on them (with the ratings and register of that moment) refuses the
    write (422/409), whatever the steps open today (Somerset M6: a lowering dated while the
    panel's review was booked, typed after the panel's later decision closed it, ATTACK32A-4);
    one that fails only on today's steps refuses nothing: the act applies as in time order
    (Somerset M6: a lowering dated before the MARP's decision that booked the review, typed
    after it, ends the monthly reviews, S11/S41, that the decision's high raises again;
    ATTACK35B-3). A ``replayed`` act that fails only on today's steps is likewise judged on the
    steps open at its moment (:func:`steps_open_at`); failing there too, it stays history
    only. ``lapse_own`` (a case
    event replayed after an act dated before it): a step the event itself raised, at its own
    instant, whose line no longer holds on the history as it now stands, lapses at the event's
    time (Somerset S26: the handover call a transfer out raised on a High rating, which an own
    judgement or a panel's decision dated before the transfer, typed in after it, lowered;
    13.4.3 "Where the ROSH judgement and/or Safety and Well-Being concerns is High or Very
    high"; attack 35a, ATTACK35A-1, fix35f). ``fields``: case fields as the act found them, over
    those of its moment (:func:`run`). ``unraised``: closed steps that do not count as the duty
    closed since (:func:`_closed_since`): rows a referral kept hidden as never raised, the act
    evaluated again after that referral's withdrawal dated before it (fix42a)."""
    session, case = wctx.session, wctx.case
    if open_steps is None:
        open_steps = await open_steps_of(session, case.id)
    today = snapshot(case, open_steps)
    moment, panels, extras, earlier = await _at_its_moment(
        wctx, event, today, ratings, found=found, judged=judged, fields=fields)
    if in_time_order is not None:
        moment = replace(moment, open_steps=moment.open_steps + tuple(in_time_order))
        alone = evaluate_backfill(event, moment, wctx.pack, wctx.policy.calendar, panels, ())
        in_time_order.extend(
            OpenStep(id=uuid.uuid4(), code=i.code, rule_id=i.rule_id, subject_id=i.subject_id,
                     due_at=i.due_at, awaiting_panel_date=i.awaiting_panel_date,
                     deadline_form=i.deadline_form, actor=i.actor,
                     reasons=tuple(i.reasons))
            for i in alone.intents if i.action == "create")
    present = replace(today, **extras) if earlier else None
    if steps_then is not None:
        raise_violations(evaluate_backfill(
            event, replace(moment, open_steps=snapshot(case, steps_then).open_steps),
            wctx.pack, wctx.policy.calendar, panels, later))
    # Checked at its own moment (above): today's steps (a review a later panel's decision
    # booked) refuse nothing, and the act applies as in time order (ATTACK35B-3).
    checks = steps_then is None
    evaluation = evaluate_backfill(event, moment, wctx.pack, wctx.policy.calendar, panels,
                                   later, lapse=lapse, present=present, checks=checks)
    if evaluation.violations and replayed is not None and not strict and checks:
        # An act already recorded, evaluated again: refused only by the checks of its own
        # moment (the steps open then), not by a step a later act booked since (Somerset M6:
        # an SWB lowering of 21 Nov typed before the MARP's decision of 23 Nov booked its
        # review, replayed after a ROSH lowering of 20 Nov typed after it; ATTACK35B-3).
        then = await steps_open_at(session, case.id, event.occurred_at)
        if not evaluate_backfill(
                event, replace(moment, open_steps=snapshot(case, then).open_steps),
                wctx.pack, wctx.policy.calendar, panels, later).violations:
            checks = False
            evaluation = evaluate_backfill(event, moment, wctx.pack, wctx.policy.calendar,
                                           panels, later, lapse=lapse, present=present,
                                           checks=False)
    record = event.data.get("record_id") if event.trigger == "judgement_recorded" else None
    if record is not None and not evaluation.violations:
        # The register at the judgement's own moment, for its timeline entry (A30a-1).
        session.sync_session.info.setdefault(REGISTER_AT, {})[str(record)] = (
            evaluation.on_register_after and case.closed_at is None)
    if evaluation.violations:
        if strict:
            raise_violations(evaluation)
        return await current(session, case)
    creates = {i.code for i in evaluation.intents if i.action == "create"}
    # A later act's step that the event ending the child's work (a death) ended, asked for by
    # this act dated before it: in time order this act raised the duty and the later act found
    # it open; the later act's row was never raised (:func:`_never_raised_by_later_act`).
    superseded_later = await _ended_later_act_steps(wctx, event.occurred_at, creates)
    closed = await _closed_since(session, case.id, event.occurred_at, creates, event=event,
                                 unraised=[*unraised, *(s.id for s in superseded_later)])
    # A step a countersignature on file endorsed since takes the act's reason (:func:`_apply`,
    # :func:`endorsed_since`), not left out as one closed since.
    closed -= set(await endorsed_since(session, wctx.pack, case.id, event, creates))
    replaced = _replaced_since(wctx.pack, open_steps, event.occurred_at)
    by_id = {s.id: s for s in open_steps}
    intents = tuple(_joined(i, open_steps, event) for i in evaluation.intents
                    if (only is None or (i.rule_id, i.code) in only)
                    and (i.action != "create" or ((i.code, i.subject_id) not in closed
                                                  and i.code not in replaced))
                    and (i.action != "supersede"
                         or _replaced_before(by_id.get(i.step_id) if i.step_id else None,
                                             i, event, replaced)
                         or _lapsed(by_id.get(i.step_id) if i.step_id else None, event)))
    own = [s for s in open_steps if _own_lapsed(s, event)] if lapse_own else []
    if own:
        ended = {s.id for s in own}
        lapsed = evaluate_backfill(event, moment, wctx.pack, wctx.policy.calendar, panels,
                                   later, lapse=True, present=present, checks=checks)
        seen = {i.step_id for i in intents if i.action == "supersede"}
        intents += tuple(i for i in lapsed.intents if i.action == "supersede"
                         and i.step_id in ended and i.step_id not in seen)
    if not intents:
        return await current(session, case)
    result = await _apply(wctx, event=event, evaluation=replace(evaluation, intents=intents),
                          open_steps=open_steps, derive=False, replayed=replayed, revive=True)
    if superseded_later:
        await _never_raised_by_later_act(wctx, superseded_later, result.created, event)
    return result


# The note line of a step never raised because an earlier act, typed in after the event that
# ended it, had raised the duty (:func:`_never_raised_by_later_act`; the case's timeline leaves
# such a step out).
NEVER_RAISED_EARLIER = "Never raised: an earlier act"


async def _ended_later_act_steps(wctx: WriteContext, at: datetime, codes: Collection[str]
                                 ) -> list[Step]:
    """The case's superseded steps of ``codes`` raised after ``at`` and ended by an event
    dated after ``at`` that ends them (the pack's ``ends_steps``/``ends_earlier_steps``: a
    child's death): a Very High's discussion raised on 11 November and superseded by the death
    of the 12th, when a High dated 2 November is typed in after both (fix42d, ATTACK41-1)."""
    if not codes:
        return []
    pack = wctx.pack
    ends = {kind: set(c) for kind, c in pack.ending_events().items()}
    for kind, c in pack.earlier_ending_events().items():
        ends.setdefault(kind, set()).update(c)
    if not ends or not set(codes) & {code for each in ends.values() for code in each}:
        return []
    events = {ident: kind for ident, kind in (await wctx.session.exec(
        select(CaseEvent.id, CaseEvent.type).where(
            CaseEvent.case_id == wctx.case.id, col(CaseEvent.type).in_(list(ends)),
            col(CaseEvent.occurred_at) > at))).all()}
    if not events:
        return []
    rows = (await wctx.session.exec(select(Step).where(
        Step.case_id == wctx.case.id, Step.status == StepStatus.superseded,
        col(Step.code).in_(list(codes)), col(Step.raised_at) > at,
        Step.satisfied_by_type == "event",
        col(Step.satisfied_by_id).in_(list(events))))).all()
    return [s for s in rows if s.satisfied_by_id is not None
            and s.code in ends.get(events[s.satisfied_by_id], ())]


async def mark_never_raised(wctx: WriteContext, step: Step, why: str) -> None:
    """Mark ``step`` (superseded at the instant it arose) as never raised in time order: ``why``
    as its note's last line and a ``step.retract`` audit entry (fix41c's convention: the row
    stays, readable by its id, left out of the timeline, queues and report). Its callers say
    why: a referral made or sent before the act that raised it (referrals), an earlier act
    typed later (here), a listing after a decision (panels), a custody change that was no
    move (events). The caller flushes."""
    step.note = append_note(step.note, why)
    wctx.session.add(step)
    await wctx.audit(
        "step.retract", entity_type="step", entity_id=step.id, reason=why,
        change={"code": step.code, "rule_id": step.rule_id,
                "raised_at": iso_utc(stored_utc(step.raised_at or step.created_at))})


async def _never_raised_by_later_act(wctx: WriteContext, later: Sequence[Step],
                                     created: Sequence[Step], event: WorkflowEvent) -> None:
    """Of the ``later`` steps (:func:`_ended_later_act_steps`), those whose duty the act
    ``event`` just raised (``created``: written open at its date and ended by that event, as
    in time order, :func:`_end_at_later_event`): in time order the later act found this act's
    step open and raised none. Each stays superseded, readable by its id, and is marked as
    never raised (its note's last line and a ``step.retract`` audit entry; fix41c's
    convention), so the case's timeline leaves it out (app.domain.case_history)."""
    raised = {(s.code, s.subject_id) for s in created}
    gone = [s for s in later if (s.code, s.subject_id) in raised]
    for step in gone:
        why = (f"{NEVER_RAISED_EARLIER} dated {iso_utc(event.occurred_at)}, recorded "
               f"after it, had raised the duty ({step.rule_id}, {step.code}), still owed when "
               "this step arose")
        await mark_never_raised(wctx, step, why)
    if gone:
        await wctx.session.flush()


async def _at_its_moment(
    wctx: WriteContext, event: WorkflowEvent, today: CaseSnapshot,
    ratings: Mapping[str, str | None], *, found: Mapping[str, Any] | None = None,
    judged: Iterable[tuple[datetime, str]] | None = None,
    fields: Mapping[str, Any] | None = None,
) -> tuple[CaseSnapshot, list[ScheduledPanel], dict[str, Any], dict[str, Any]]:
    """``today`` (a snapshot of the write's case) as the act ``event`` found it: the
    ``ratings`` given (that moment's), the case's fields, derived fields (``found``, default
    :func:`derived_before`) and incoming ratings of its moment; with the panels, the extras
    (agenda, absences) and the moment's fields read for it."""
    session, case = wctx.session, wctx.case
    panels, extras = await snapshot_inputs(session, wctx.service, case, event.occurred_at)
    # The case's fields of its moment too (a volunteer attached after it: not yet, A15-9);
    # what still holds today is asked of today's case (``present``).
    earlier = {**await case_fields_at(session, case, event.occurred_at), **(fields or {})}
    # The incoming ratings of its moment: the ``ratings`` given are that moment's (fix32a).
    moment_incoming = await incoming_at(session, case, event.occurred_at, judged=judged,
                                        exclude=event.data.get("record_id"))
    if found is None:
        found = await derived_before(session, case, event.occurred_at)
    moment = replace(today, ratings=dict(ratings), **extras, **earlier, **found,
                     **moment_incoming)
    return moment, panels, extras, earlier


async def check_at_its_moment(
    wctx: WriteContext, *, event: WorkflowEvent, ratings: Mapping[str, str | None],
    steps_then: Sequence[Step],
) -> None:
    """Run the pack's checks of ``event`` (a judgement being recorded now, the latest of its
    domain but dated before another act on file) on the case as it stood at its own time: the
    ``ratings`` of that moment (:func:`~app.domain.judgements.ratings_around`) and the register
    they give, that moment's fields, and ``steps_then``, the steps open then
    (:func:`steps_open_at`); raise :class:`PolicyViolation` (422/409) for the first that fails,
    apply nothing. Somerset M6 (7.2.1, 4.3): a lowering dated while the MARP's review was
    booked is refused even after a later death ended that step; one dated before any MARP booked
    a review is not refused by a review booked later (fix34e; fix33a did the same for a
    judgement older than its domain's current rating)."""
    raise_violations(await evaluation_at_its_moment(wctx, event=event, ratings=ratings,
                                                    steps_then=steps_then))


async def evaluation_at_its_moment(
    wctx: WriteContext, *, event: WorkflowEvent, ratings: Mapping[str, str | None],
    steps_then: Sequence[Step], later: Sequence[Mapping[str, str | None]] = (),
) -> Evaluation:
    """``event`` evaluated on the case as it stood at its own time (as
    :func:`check_at_its_moment` checks it: the ``ratings`` and ``steps_then`` of that moment;
    ``later``: the ratings after each later judgement), applying nothing: its violations are
    the pack's refusals of the act at its moment (the workflow preview's answer,
    app.domain.preview)."""
    moment, panels, _extras, _earlier = await _at_its_moment(
        wctx, event, snapshot(wctx.case, steps_then), ratings)
    return evaluate_backfill(event, moment, wctx.pack, wctx.policy.calendar, panels, later)


async def steps_open_at(session: AsyncSession, case_id: uuid.UUID, at: datetime
                        ) -> list[Step]:
    """The case's steps open at the act time ``at``: raised at or before it, and still open or
    closed by an act dated after it (done or waived: ``completed_at``; superseded: ``lapsed_at``,
    ``completed_at`` or the act time its history row keeps, :func:`note_step_act`). A step
    closed with no act time kept counts as closed by then."""
    rows = (await session.exec(select(Step).where(
        Step.case_id == case_id, col(Step.raised_at) <= at))).all()
    unknown = [s.id for s in rows if s.status in NEED_ENDED
               and s.lapsed_at is None and s.completed_at is None]
    acts: dict[uuid.UUID, datetime] = {}
    if unknown:
        for entity, when, changes in (await session.exec(
                select(RecordChange.entity_id, RecordChange.occurred_at, RecordChange.changes)
                .where(RecordChange.case_id == case_id, RecordChange.entity_type == "step",
                       col(RecordChange.entity_id).in_(unknown),
                       col(RecordChange.occurred_at).is_not(None)))).all():
            status = (changes or {}).get("status")
            if when is not None and status and status[1] in NEED_ENDED:
                acts[entity] = when

    def ended(step: Step) -> datetime | None:
        if step.status in NEED_ENDED and step.lapsed_at is not None:
            return step.lapsed_at
        return step.completed_at or acts.get(step.id)

    return [s for s in rows if s.status == StepStatus.open
            or ((when := ended(s)) is not None and stored_utc(when) > at)]


# session.info: judgement id -> whether its back-filled evaluation put the case on the register
# at its own moment (:func:`run_backfill`), for the timeline (app.domain.history.note_derived_at).
REGISTER_AT = "register_at_judgement"


async def run_restated(
    wctx: WriteContext, *, before: WorkflowEvent, after: WorkflowEvent,
    backfill: tuple[Mapping[str, str | None], Sequence[Mapping[str, str | None]]] | None = None,
) -> PolicyResult | None:
    """An act already recorded and judged as ``before``, now reported with more said
    (``after``: the same act, subject and moment; attack 22, A22-9): what the lines that
    ``after`` asks for and ``before`` did not (by rule and code) ask is applied, as
    :func:`run` would (or :func:`run_backfill` on ``backfill``'s ratings of its moment and
    after, when the act is dated before a rating); the open steps about the act of the lines
    ``before`` asked for and ``after`` no longer does are superseded, as a report saying so
    first would never have raised them. Both are judged on the case as it now stands, so only
    what was said makes the difference. None when it makes none."""
    session, case = wctx.session, wctx.case
    open_steps = await open_steps_of(session, case.id)
    panels, extras = await snapshot_inputs(session, wctx.service, case, after.occurred_at)
    earlier = await case_fields_at(session, case, after.occurred_at)
    was, now = (evaluate_for(wctx.policy, wctx.service, case, open_steps, e, panels,
                             **extras, **earlier) for e in (before, after))
    raise_violations(now)
    new, dropped = restatement(was, now, open_steps, after.subject_id)
    result: PolicyResult | None = None
    if dropped:
        result = await supersede_codes(
            wctx, codes=sorted({s.code for s in dropped}), subjects={after.subject_id},
            act=("event", after.subject_id), reason=restated_reason(after))
    if not new:
        return result
    if backfill is not None:
        more = await run_backfill(wctx, event=after, ratings=backfill[0], later=backfill[1],
                                  strict=True, only=new)
    else:
        if earlier:
            now = _of_its_moment(now, open_steps, after.occurred_at)
        more = await _apply(
            wctx, event=after, open_steps=await open_steps_of(session, case.id), derive=False,
            evaluation=replace(now, intents=tuple(
                i for i in now.intents if (i.rule_id, i.code) in new)))
    return more if result is None else result.merge(more)


def restatement(was: Evaluation, now: Evaluation, open_steps: Sequence[Step],
                subject: uuid.UUID) -> tuple[set[tuple[str, str]], list[Step]]:
    """:func:`run_restated`'s difference (pure, the preview's too): the (rule, code) lines
    ``now`` asks for and ``was`` did not, and the open steps about ``subject`` of the lines
    ``was`` asked for and ``now`` does not."""
    asked_was, asked_now = ({(i.rule_id, i.code) for i in e.intents if i.action != "supersede"}
                            for e in (was, now))
    gone = asked_was - asked_now
    return asked_now - asked_was, [s for s in open_steps if s.subject_id == subject
                                   and (s.rule_id, s.code) in gone]


def restated_reason(after: WorkflowEvent) -> str:
    """Why :func:`run_restated` supersedes a step."""
    return (f"the {after.data.get('type')} event {after.subject_id}, as a later report "
            "states it, no longer asks for it")


async def _lapsed_after(
    session: AsyncSession, case_id: uuid.UUID, at: datetime, codes: Collection[str]
) -> dict[tuple[str, uuid.UUID], Step]:
    """(code, subject) -> the case's step of that code superseded because its condition
    stopped holding at an act dated after ``at``, that arose by ``at``: in time order an act
    at ``at`` asking for it kept it alive (the latest such step of each)."""
    if not codes:
        return {}
    rows = await session.exec(select(Step).where(
        Step.case_id == case_id, col(Step.status).in_(NEED_ENDED),
        col(Step.code).in_(codes), col(Step.lapsed_at) > at, col(Step.raised_at) <= at,
    ).order_by(col(Step.lapsed_at)))
    return {(s.code, s.subject_id): s for s in rows.all()}


def owed_again(step: Step, *, note: str) -> Step:
    """A new open step for the same duty as ``step`` (one done or superseded that is owed
    again): its code, rule, actor, assignee, deadline, reasons, subject and raising kept, with
    ``note``; the old one stays in the record as it was."""
    return Step(
        service_id=step.service_id, case_id=step.case_id, code=step.code,
        rule_id=step.rule_id, title=step.title, actor=step.actor,
        assignee_id=step.assignee_id, due_at=step.due_at, urgent=step.urgent,
        priority=step.priority,
        awaiting_panel_date=step.awaiting_panel_date, deadline_form=step.deadline_form,
        recurrence=step.recurrence, policy_pack=step.policy_pack,
        policy_version=step.policy_version, policy_ref=step.policy_ref,
        subject_id=step.subject_id, raised_at=step.raised_at, overdue_at=step.overdue_at,
        owner_role=step.owner_role, reasons=list(step.reasons or []), note=note)


async def owed_until_lapse(wctx: WriteContext, step: Step, result: PolicyResult
                           ) -> PolicyResult:
    """After an act dated before a recurring step's need lapsed (its condition stopped
    holding at ``lapsed_at``: a rating lowered) closed it, typed in after the step was
    recorded missed at that lapse: the next occurrence, which the engine no longer raises (the
    condition does not hold now), was owed from the act until the same lapse in time order
    (the condition held until then), so it is raised and ended there, missed if it fell due
    before, else superseded, lapsed at that act for an earlier act to revive as any other
    (ATTACK38's twin: Somerset S11's next review owed from a review corrected after the
    lowering). ``result``: the close's run, to which it is added; unchanged when that run
    raised the next occurrence (a closure or a death ended the need: :func:`_apply`), or the
    step did not lapse after the act."""
    lapsed, at = step.lapsed_at, wctx.occurred_at
    if step.recurrence is None or lapsed is None or stored_utc(lapsed) <= at \
            or step.status not in (StepStatus.done, StepStatus.waived) \
            or any(s.code == step.code and s.rule_id == step.rule_id for s in result.created):
        return result
    # A waived occurrence's next keeps its due date (engine ``_next_occurrence``).
    due = (step.due_at or at) if step.status == StepStatus.waived \
        else add_period(at, step.recurrence)
    following = owed_again(step, note=(
        f"Owed from the act of {london_text(at)} (recorded after its condition stopped "
        f"holding at {london_text(lapsed)}), until then."))
    following.raised_at, following.due_at, following.urgent = at, due, False
    following.overdue_at = step_overdue_at(wctx.pack, step.code, due, False,
                                           wctx.policy.calendar)
    following.lapsed_at = lapsed  # an earlier act may yet revive it
    _close_as_ended(following, at=stored_utc(lapsed), why=f"Superseded: {LAPSED}")
    wctx.session.add(following)
    await wctx.session.flush()
    await _audit_created(wctx, [following])
    retired = await record_superseded(wctx, [following])
    result.created.append(following)
    result.superseded.extend([following, *retired])
    return result


def _revived(lapsed: Step, intent: StepIntent, at: datetime) -> Step:
    """The duty of a step superseded when its condition stopped holding, open again as a new
    step (the superseded one stays in the record) because an act dated before that lapse,
    recorded after it, asks for it: in time order the act kept its condition holding and the
    step never lapsed (Somerset S11: the monthly review of a ROSH high, kept alive by an SWB
    high typed in after the ROSH low; redate7's leftover). It keeps its date, deadline and
    reasons, with the act's reason beside them."""
    step = owed_again(lapsed, note=(
        f"Revived: step {lapsed.id}, superseded at "
        f"{london_text(lapsed.lapsed_at or at)} (its condition no longer held), is still "
        f"asked for by an act of {london_text(at)} recorded later, which in time order "
        "kept it alive."))
    _add_reasons(step, intent)
    lapsed.lapsed_at = None  # revived once
    if lapsed.status == StepStatus.missed:
        # In time order it never lapsed: the duty (and its lateness) goes on in the revived
        # step, which keeps the deadline; the old record counts no second time (ATTACK34B-7).
        lapsed.status = StepStatus.superseded
        lapsed.note = _append(lapsed.note, superseded_note(
            "revived by an act dated before its lapse (the duty goes on in a new step)"))
    return step


async def lapsed_since(wctx: WriteContext, *, result: PolicyResult) -> PolicyResult:
    """Supersede the steps this write created, judged on the case's fields of the act's date,
    whose condition the case as it now stands no longer meets: in time order the change of
    its fields recorded earlier but dated after the act superseded them (Somerset S28 asked
    for by a judgement dated while a volunteer was attached, typed in after the volunteer was
    detached; attack pass 15, A15-9). Likewise the open steps that arose after the act (raised
    by later acts recorded before it), which its own evaluation on the fields of its date
    leaves alone (:func:`_of_its_moment`): a release dated before the MAPPA level 2 recorded
    earlier ends Somerset S37's attendance "whilst accommodated or secured" as a release
    recorded in order does (attack 21, A21b-2). No query unless such a change is on file."""
    session, case = wctx.session, wctx.case
    if not await case_fields_at(session, case, wctx.occurred_at):
        return result
    created = {s.id for s in result.created if s.status == StepStatus.open}
    open_steps = await open_steps_of(session, case.id)
    created |= {s.id for s in open_steps if stored_utc(s.raised_at) > wctx.occurred_at}
    if not created:
        return result
    panels, extras = await snapshot_inputs(session, wctx.service, case, wctx.occurred_at)
    now = wctx.event("case_changed", {"changes": {}})
    evaluation = evaluate_for(wctx.policy, wctx.service, case, open_steps, now, panels,
                              **extras)
    lapsed = tuple(i for i in evaluation.intents
                   if i.action == "supersede" and i.step_id in created)
    if not lapsed:
        return result
    return result.merge(await _apply(
        wctx, event=now, evaluation=replace(evaluation, intents=lapsed),
        open_steps=open_steps, derive=False))


async def _sent_after(session: AsyncSession, case_id: uuid.UUID, at: datetime
                      ) -> list[tuple[datetime, str, uuid.UUID]]:
    """The case's referrals the service sent after ``at`` (as ``referral_sent_in`` counts them
    at their send; one withdrawn or declined since stood then, fix41c): (sent_at, kind, id), in
    time order."""
    conn = await session.connection()
    rows = (await conn.execute(
        sa.select(_REFERRAL.c.sent_at, _REFERRAL.c.kind, _REFERRAL.c.id).where(
            _REFERRAL.c.case_id == case_id, sa.not_(_REFERRAL.c.source.like("feed:%")),
            _REFERRAL.c.sent_at > at))).all()
    return sorted((stored_utc(when), str(kind), ident) for when, kind, ident in rows)


async def _lapsed_at(wctx: WriteContext, at: datetime, kind: str, referral_id: uuid.UUID,
                     steps: Collection[uuid.UUID]) -> PolicyResult | None:
    """Supersede, at ``at``, those of ``steps`` (open) whose condition fails on the case as it
    stood at ``at`` with the ``kind`` referral ``referral_id`` sent then (the engine's
    ``holds`` on the send's after-state: ``referral_sent_in``); None when none fails."""
    session, case = wctx.session, wctx.case
    open_steps = await open_steps_of(session, case.id)
    if not any(s.id in steps for s in open_steps):
        return None
    then = replace(wctx, occurred_at=at)
    event = then.event("referral_transition", {"kind": kind, "action": "send",
                                               "to_status": "sent"}, subject_id=referral_id)
    panels, extras = await snapshot_inputs(session, wctx.service, case, at)
    evaluation = evaluate_for(wctx.policy, wctx.service, case, open_steps, event, panels,
                              **extras, **await case_fields_at(session, case, at))
    lapsed = tuple(i for i in evaluation.intents
                   if i.action == "supersede" and i.step_id in steps)
    if not lapsed:
        return None
    return await _apply(then, event=event, evaluation=replace(evaluation, intents=lapsed),
                        open_steps=open_steps, derive=False)


async def lapsed_by_later_sends(wctx: WriteContext, *, result: PolicyResult) -> PolicyResult:
    """Supersede the steps this write created (an act dated before referrals already sent)
    that a referral sent after the act's date ended in time order, each at that send's time:
    a Very High ROSH dated 1 July typed in after the MAPPA A form sent on 10 July raises
    Somerset S10 on 1 July (the form not yet sent: ``referral_sent_in`` counts a referral from
    its ``sent_at``), superseded on 10 July as when typed in time order (7.1.9 "unless this has
    already been done", 8.3.3; fix40c). One query for a write that created steps."""
    created = {s.id for s in result.created if s.status == StepStatus.open}
    if not created:
        return result
    for at, kind, referral_id in await _sent_after(wctx.session, wctx.case.id,
                                                   wctx.occurred_at):
        lapsed = await _lapsed_at(wctx, at, kind, referral_id, created)
        if lapsed is not None:
            result = result.merge(lapsed)
    return result


async def lapsed_by_earlier_send(wctx: WriteContext, *, kind: str, referral_id: uuid.UUID
                                 ) -> PolicyResult | None:
    """The ``kind`` referral ``referral_id`` just sent at ``wctx.occurred_at``, typed in after
    acts dated after it: an open step one of them raised whose condition fails with the form
    sent (``referral_sent_in``) was, in time order, never owed: superseded at the instant it
    arose, which the case's history leaves out (a step raised and ended at one instant): the
    Very High of 10 July typed before the MAPPA A form sent on 1 July raises no S10 in time
    order (Somerset 7.1.9 "unless this has already been done"; fix40c). The send's own
    evaluation ends the steps raised at its instant (a judgement's, ranked after it: docs §7);
    it leaves those raised after it to this (:func:`_of_its_moment`)."""
    at = wctx.occurred_at
    later: dict[datetime, set[uuid.UUID]] = {}
    for step in await open_steps_of(wctx.session, wctx.case.id):
        rose = stored_utc(step.raised_at or step.created_at)
        if rose > at:
            later.setdefault(rose, set()).add(step.id)
    result = None
    for rose in sorted(later):
        lapsed = await _lapsed_at(wctx, rose, kind, referral_id, later[rose])
        if lapsed is not None:
            result = lapsed if result is None else result.merge(lapsed)
    return result



# The conjunct of a rule line's ``when`` that a standing panel referral fails (Somerset S7/S8,
# 3.2.3: the case is referred once; ``panel_referred``).
_NOT_REFERRED = {"not": {"case.panel_referred": True}}


def _may_ask_unreferred(pack: Pack, step: Step, reason: Mapping[str, Any]) -> bool:
    """Whether a rule line that may have given ``step`` this reason asks for it only on a case
    without a standing panel referral (its ``when`` is ``all`` of conditions, ``not
    panel_referred`` one of them)."""
    for line in pack.lines(str(reason.get("rule"))):
        raw = line.when.raw if line.when is not None else None
        if line.code == step.code and isinstance(raw, Mapping) and set(raw) == {"all"} \
                and _NOT_REFERRED in raw["all"]:
            return True
    return False


async def never_owed_once_referred(
    wctx: WriteContext, *, why: str,
    asked: Callable[[Step, Mapping[str, Any]], Awaitable[bool]],
) -> PolicyResult | None:
    """A panel referral just made at ``wctx.occurred_at`` (its ``made_at``), typed in after
    acts dated after it: an open step that a rule asking only on a case not referred (``not
    panel_referred``: Somerset S7's referral, S8's views) gave for acts all dated after it, and
    that none of them asks for any more (``asked``: the act evaluated again at its moment, the
    referral standing then or not: :func:`inputs_of`), was in time order never owed:
    superseded at the instant it arose, which the case's history leaves out (a step raised and
    ended at one instant, fix36d); the row stays, readable by its id (fix41c). A High of 30
    November typed before the MARP referral submitted on 24 November raises no S7 or S8 in
    time order (3.2.3, 6.2)."""
    session, case, made = wctx.session, wctx.case, wctx.occurred_at
    ended: list[tuple[Step, datetime]] = []
    for step in await open_steps_of(session, case.id):
        rose = stored_utc(step.raised_at or step.created_at)
        if rose <= made or not step.reasons:
            continue
        acts = [stored_instant(r.get("at")) for r in step.reasons]
        if not all(a is not None and a > made for a in acts) \
                or not any(_may_ask_unreferred(wctx.pack, step, r) for r in step.reasons):
            continue
        if not any([await asked(step, r) for r in step.reasons]):
            ended.append((step, rose))
    if not ended:
        return None
    for step, rose in ended:
        end_need(session, step, at=rose, why=why)
        session.add(step)
    await session.flush()
    steps = [s for s, _ in ended]
    retired = await record_superseded(wctx, steps, reason=why)
    return PolicyResult(next_steps=await open_steps_out(session, case.id),
                        superseded=steps + retired)

def _raised_earlier(step: Step, intent: StepIntent, event: WorkflowEvent, pack: Pack,
                    case_id: uuid.UUID) -> None:
    """An open step a judgement dated before it arose asks for (a back-fill, or a first
    judgement in a domain typed in after later records): in time order that judgement raised
    it, so it arose then, under the judgement's rule line (its reason first: the one the
    step's ``policy`` shows; Wokingham W12's plan asked for by an SWB high, then a ROSH high,
    cites the SWB paragraph whichever was typed in first) (A10-30), about the subject that
    line names (:func:`_line_subject`: Somerset 13.3's referral raised by the transfer in
    names the transfer event, 3.2.3's raised by a judgement the case, whatever the typing
    order; attack 33, ATTACK33-5)."""
    at = event.occurred_at
    first = [dict(r) for r in intent.reasons]
    step.reasons = first + [r for r in step.reasons or () if r not in first]
    step.rule_id, step.policy_ref = intent.rule_id, intent.policy_ref
    step.policy_version = intent.policy_version or step.policy_version
    # The line's own title with it (fix36d, ATTACK35A-12: Somerset S17's MARP referral of a
    # MAPPA level recorded at the instant of a very high ROSH kept S7's title when the ROSH was
    # typed in first).
    step.title = intent.title
    step.subject_id = _line_subject(pack, intent, event, case_id) or step.subject_id
    if stored_utc(step.raised_at) != at:  # at one instant it arose when it did (SAME_INSTANT)
        step.note = _append(step.note, f"Arose {london_text(at)}: an earlier act recorded "
                                       "later asks for it.")
    step.raised_at = at


# The acts that, dated before an open step arose and asking for it, raised it in time order
# (:func:`_raised_earlier`, from :func:`_apply`): a judgement, a change of the case's fields.
_ARISING_TRIGGERS = frozenset({"judgement_recorded", "case_changed"})
# The acts that come after a case event of their instant (app.domain.replay.SAME_INSTANT).
_JUDGED_TRIGGERS = frozenset({"judgement_recorded", "panel_decision"})
# The acts that come before the judgements of their instant: a case event, a change of the
# case's fields (a MAPPA feed message at its ``received_at``; docs/integrating.md §7).
_EVENT_TRIGGERS = frozenset({"case_event", "case_changed"})


def _arose_after(step: Step, event: WorkflowEvent) -> bool:
    """Whether ``step`` arose after ``event`` in time order: raised after its date, or at its
    instant by a judgement when ``event`` is a case event or a change of the case's fields
    (a MAPPA feed message), which comes before the judgements of its instant whatever the
    typing order (app.domain.replay.SAME_INSTANT, ATTACK32A-2: Wokingham's request raised by
    a high at the arrival's instant is W29's, the arrival's, as when the transfer is typed
    first; its plan asked by a MAPPA level 2 and a medium of one instant is W27's; fix34a)."""
    raised = stored_utc(step.raised_at)
    if raised != event.occurred_at:
        return raised > event.occurred_at
    first = (step.reasons or [{}])[0]
    return event.trigger in _EVENT_TRIGGERS and isinstance(first, dict) \
        and first.get("trigger") in _JUDGED_TRIGGERS


def _line_subject(pack: Pack, intent: StepIntent, event: WorkflowEvent,
                  case_id: uuid.UUID) -> uuid.UUID | None:
    """The subject a step of ``intent``'s line raised by ``event`` names, as the engine names
    it when the line creates the step (``subject``: the event's subject, a case event's own id
    or a judgement's case; ``case``: the case); None for a rating's subject (kept as is)."""
    kinds = {line.subject for line in pack.lines(intent.rule_id) if line.code == intent.code}
    if kinds == {"event"}:
        return event.subject_id
    return case_id if kinds == {"case"} else None


# The acts whose reasons a back-fill's replay asks again (app.domain.replay).
_REPLAYED_TRIGGERS = frozenset({"judgement_recorded", "case_event"})


def _replaced_since(pack: Pack, open_steps: Sequence[Step], at: datetime) -> set[str]:
    """The codes of the open steps raised after ``at`` under a line that replaces any step of
    its code still open (``supersedes_previous``): a step of that code an act dated
    ``at`` asks for was, in time order, replaced by it (Somerset S27: a release dated before
    an entry typed in after it; the entry's handover replaced the release's, A30a-14)."""
    found = set()
    for step in open_steps:
        if stored_utc(step.raised_at) <= at:
            continue
        refs = {str(r.get("ref")) for r in step.reasons or () if isinstance(r, dict)}
        if any(rule.code == step.code and rule.supersedes_previous and rule.ref in refs
               for rule in pack.lines(step.rule_id)):
            found.add(step.code)
    return found


def _replaced_before(step: Step | None, intent: StepIntent, event: WorkflowEvent,
                     replaced_since: set[str]) -> bool:
    """Whether ``intent`` supersedes ``step`` as the step of its code the act raises replaces
    it (a ``supersedes_previous`` line), and in time order it did: the step arose before the
    act, and no step of its code raised after the act replaced it first (Somerset S27: the
    release's handover replaces the entry's, whatever judgement was typed before the release;
    ATTACK35A-8)."""
    return step is not None and (intent.note or "").startswith(f"Superseded: {REPLACED} ") \
        and stored_utc(step.raised_at) < event.occurred_at and step.code not in replaced_since


def _lapsed(step: Step | None, event: WorkflowEvent) -> bool:
    """Whether an open step whose condition fails at a back-filled judgement lapsed with it in
    time order: it arose before the judgement, and every act that asked for it since is one the
    back-fill's replay asks again (a judgement or a case event), which raises it anew if owed."""
    if step is None or stored_utc(step.raised_at) >= event.occurred_at:
        return False
    since = [r for r in step.reasons or ()
             if (stored_instant(r.get("at")) or event.occurred_at) > event.occurred_at]
    return all(r.get("trigger") in _REPLAYED_TRIGGERS for r in since)


def _own_lapsed(step: Step | None, event: WorkflowEvent) -> bool:
    """Whether an open step was raised by the case event ``event`` itself (at its instant,
    every reason naming it), so that its replay, finding the step's line no longer holds, ends
    it (:func:`run_backfill`'s ``lapse_own``)."""
    if step is None or event.trigger != "case_event" \
            or stored_utc(step.raised_at) != event.occurred_at or not step.reasons:
        return False
    record = str(event.subject_id)
    return all(str((r.get("record") or {}).get("id")) == record for r in step.reasons)


def _joined(intent: StepIntent, open_steps: Sequence[Step], event: WorkflowEvent
            ) -> StepIntent:
    """A step an act dated before it asks for, raised since by another kind of act under the
    same rule (one duty, one step): the act's create becomes a re-date of that step (sooner
    only) or a further reason on it, and in time order it arose at the act. Somerset S26: a
    transfer out typed in after the high of a later date that found it pending and raised the
    handover call; in time order the transfer raised it, and the high (its line: no second
    call while one is open) asked for no other."""
    if intent.action != "create":
        return intent
    record = str(event.data.get("record_id") or event.subject_id)
    for step in open_steps:
        if step.code != intent.code or step.rule_id != intent.rule_id:
            continue
        if any(str((r.get("record") or {}).get("id")) == record for r in step.reasons or ()):
            return replace(intent, action="keep", step_id=step.id)  # this act's step already
        if stored_utc(step.raised_at) > event.occurred_at \
                and not any(r.get("trigger") == event.trigger for r in step.reasons or ()):
            sooner = intent.due_at is not None and (
                step.due_at is None or intent.due_at < stored_utc(step.due_at))
            return replace(intent, action="update_due" if sooner else "keep", step_id=step.id)
    return intent


def _restated(step: Step, intent: StepIntent, act: uuid.UUID) -> None:
    """An open step an act already recorded raised (or gave a reason) under one line, that the
    act evaluated again on the history as it now stands asks for under another (a rating
    back-filled before it: Somerset S14's change of circumstances raised the review under 2.1,
    undated, before the medium rating of its date was typed in; in time order 4.2 raised it,
    due the next working day): the act's reasons under the lines it no longer takes go, and
    the step shows the line that asks for it now (A11-5)."""
    now = {(str(r.get("rule")), str(r.get("ref"))) for r in intent.reasons}
    stale = [r for r in step.reasons or ()
             if str((r.get("record") or {}).get("id")) == str(act)
             and (str(r.get("rule")), str(r.get("ref"))) not in now]
    if not stale or not now:
        return
    kept = [r for r in step.reasons or () if r not in stale]
    # The reasons it asks under now take their place at once (the step keeps a reason: not
    # left empty for :func:`_add_reasons` to read as a step stored before reasons were kept).
    step.reasons = kept + [dict(r) for r in intent.reasons if dict(r) not in kept]
    # The line the step shows stays while another act's reason still carries it (Somerset S7:
    # the high's 3.2.3 referral that a very high typed in first had raised is still the high's
    # when the very high, replayed, now asks under 3.2.4's line).
    carried = {(r.get("rule"), r.get("ref")) for r in step.reasons}
    if (step.rule_id, step.policy_ref) not in carried:
        step.rule_id, step.policy_ref = intent.rule_id, intent.policy_ref
        step.policy_version = intent.policy_version or step.policy_version
        step.title = intent.title  # the line's own title with it (fix36d, ATTACK35A-12)
    step.note = _append(step.note, f"Restated: {act} now asks for it under {intent.rule_id} "
                                   f"({intent.policy_ref}), the history as it now stands.")


async def endorsed_since(
    session: AsyncSession, pack: Pack, case_id: uuid.UUID, event: WorkflowEvent,
    codes: Collection[str],
) -> dict[tuple[str, uuid.UUID], Step]:
    """(code, subject) -> the case's step of these codes (the pack's ``[closures]``
    ``assessment_countersign_endorses``) done by the countersignature of the assessment the
    judgement ``event`` is recorded with, dated at or after the judgement (a countersignature
    comes after the judgements of its instant: :data:`app.domain.replay.SAME_INSTANT`). In time
    order the judgement's acknowledgement was that step, open until the countersignature
    endorsed it (one duty, one step: the step's reasons are every judgement it endorsed), so
    the judgement typed in after the countersignature gives that step its reason
    (:func:`_join_endorsed`) instead of raising a second one (Wokingham M2 and M8: "By signing
    off the assessment, the line manager will effectively endorse the judgement"; fix40b,
    ATTACK38-2: two judgements typed in after the countersignature left two steps, one typed
    before it one step with both reasons). No query for another act or code."""
    assessment = event.data.get("assessment_id") \
        if event.trigger == "judgement_recorded" else None
    wanted = set(codes) & set(pack.closes("assessment_countersign_endorses"))
    if not assessment or not wanted:
        return {}
    rows = (await session.exec(select(Step).where(
        Step.case_id == case_id, Step.status == StepStatus.done, col(Step.code).in_(wanted),
        Step.satisfied_by_type == "assessment",
        Step.satisfied_by_id == uuid.UUID(str(assessment)),
        col(Step.completed_at) >= event.occurred_at).order_by(col(Step.completed_at)))).all()
    found: dict[tuple[str, uuid.UUID], Step] = {}
    for step in rows:
        found.setdefault((step.code, step.subject_id), step)
    return found


def _join_endorsed(step: Step, intent: StepIntent, event: WorkflowEvent, pack: Pack,
                   case_id: uuid.UUID) -> bool:
    """Give ``step`` (done by a countersignature dated at or after the judgement ``event``:
    :func:`endorsed_since`) the reasons ``intent`` asks it for, as in time order the open step
    took them: arisen at the judgement when that is earlier (:func:`_raised_earlier`), the
    reasons in the order of their acts. Whether a reason was added (a replayed judgement's
    reason is there already)."""
    have = {(str(r.get("rule")), str((r.get("record") or {}).get("id")))
            for r in step.reasons or ()}
    added = [dict(r) for r in intent.reasons
             if (str(r.get("rule")), str((r.get("record") or {}).get("id"))) not in have]
    if not added:
        return False
    if _arose_after(step, event):
        _raised_earlier(step, intent, event, pack, case_id)
    else:
        _add_reasons(step, intent)
    # Stable: the acts of one instant stay in recording order (SAME_INSTANT).
    step.reasons = sorted(step.reasons or (),
                          key=lambda r: stored_instant(r.get("at")) or event.occurred_at)
    step.note = _append(step.note, (
        f"Also endorsed: the judgement of {london_text(event.occurred_at)}, recorded later "
        "with the assessment whose countersignature endorsed this step."))
    return True


async def _closed_since(
    session: AsyncSession, case_id: uuid.UUID, at: datetime, codes: Collection[str], *,
    event: WorkflowEvent | None = None, unraised: Collection[uuid.UUID] = (),
) -> set[tuple[str, uuid.UUID]]:
    """(code, subject) of the case's closed steps of these codes raised or closed at or after
    ``at``: in time order a duty asked for at ``at`` would have been that step (one duty, one
    step) and closed with it. Not a step superseded because its condition stopped holding at an
    act dated before ``at`` (``lapsed_at``): in time order it had lapsed by then, and ``at``
    asks for the duty again now that the condition holds (Somerset S37's attendance "whilst
    accommodated or secured", superseded by a release typed in after the MAPPA level 2 but
    dated before it, owed again by a custody entry dated between them; attack 22, A22-4).
    Nor a step closed by a panel's agenda item or decision (``satisfied_by`` the item) whose
    panel had already decided the case when ``event`` came (:func:`decided_by`; a decision of
    that instant is not after itself): that sitting answers nothing asked after its decision
    (Somerset 3.2.4 "refer the case to the next YJT MARP" for a Very High dated at the
    decision, typed before it: the first referral the agenda had answered hid it; fix37a,
    ATTACK36-2). Nor the steps ``unraised``: rows kept hidden as never raised because a
    referral stood when their act came (fix41c), evaluated again now that the referral's
    withdrawal or decline, typed in after them, is dated before that act (fix42a): in time
    order the act found no referral, and the duty is owed in a step of its own."""
    if not codes:
        return set()
    rows = (await session.exec(select(Step.code, Step.subject_id, Step.satisfied_by_type,
                                      Step.satisfied_by_id).where(
        Step.case_id == case_id, Step.status != StepStatus.open, col(Step.code).in_(codes),
        sa.or_(col(Step.raised_at) >= at, col(Step.completed_at) >= at),
        sa.or_(col(Step.lapsed_at).is_(None), col(Step.lapsed_at) >= at),
        *([col(Step.id).not_in(sorted(unraised))] if unraised else [])))).all()
    items = {i for _, _, kind, i in rows if kind == "panel_item" and i is not None}
    heard: set[uuid.UUID] = set()
    if items and event is not None:
        decided = dict((await session.exec(select(PanelItem.id, PanelItem.decided_at).where(
            col(PanelItem.id).in_(items), col(PanelItem.decided_at).is_not(None)))).all())
        reason = {"trigger": event.trigger,
                  "record": {"via_panel_decision": bool(event.data.get("via_panel_decision"))}}
        heard = set(decided_by({i: stored_utc(d) for i, d in decided.items() if d is not None},
                               at.astimezone(UTC), reason, decision_is_after=False))
    return {(code, subject) for code, subject, kind, i in rows
            if not (kind == "panel_item" and i in heard)}


# The case events table, named here only for :func:`ended_codes` and :func:`ended_later`
# (app.domain.events imports this module, so its model cannot be imported back).
_CASE_EVENT = sa.table("case_event", sa.column("case_id", Case.__table__.c.id.type),  # type: ignore[attr-defined]
                       sa.column("type", sa.String()),
                       sa.column("occurred_at", sa.DateTime(timezone=True)))


async def ended_codes(session: AsyncSession, pack: Pack, case_id: uuid.UUID) -> frozenset[str]:
    """The step codes that events recorded on the case have ended (the pack's ``ends_steps``:
    after a child's death no assessment, plan or contact with the child is asked for again)."""
    enders = pack.ending_events()
    if not enders:
        return frozenset()
    conn = await session.connection()
    rows = (await conn.execute(
        sa.select(_CASE_EVENT.c.type).distinct().where(
            _CASE_EVENT.c.case_id == case_id, _CASE_EVENT.c.type.in_(list(enders))))).all()
    return frozenset(code for (kind,) in rows for code in enders.get(str(kind), ()))


async def ended_later(
    session: AsyncSession, pack: Pack, case_id: uuid.UUID, at: datetime
) -> frozenset[str]:
    """The step codes that events recorded on the case dated after ``at`` end of the acts
    before them (the pack's ``ends_earlier_steps``): an act dated before a child's death and
    typed in after it asks for no report the death ended (in date order the death ended the
    earlier charge's report to the line manager, Wokingham A20-18)."""
    enders = pack.earlier_ending_events()
    if not enders:
        return frozenset()
    conn = await session.connection()
    rows = (await conn.execute(
        sa.select(_CASE_EVENT.c.type).distinct().where(
            _CASE_EVENT.c.case_id == case_id, _CASE_EVENT.c.type.in_(list(enders)),
            _CASE_EVENT.c.occurred_at > at))).all()
    return frozenset(code for (kind,) in rows for code in enders.get(str(kind), ()))


async def _ended_for(wctx: WriteContext, evaluation: Evaluation, at: datetime
                     ) -> frozenset[str]:
    """:func:`ended_codes`, and :func:`ended_later` for an act at ``at``, each read only when
    the evaluation would create a step of such a code."""
    created = {i.code for i in evaluation.intents if i.action == "create"}
    ended: frozenset[str] = frozenset()
    if created & {c for codes in wctx.pack.ending_events().values() for c in codes}:
        ended = await ended_codes(wctx.session, wctx.pack, wctx.case.id)
    if created & {c for codes in wctx.pack.earlier_ending_events().values() for c in codes}:
        ended |= await ended_later(wctx.session, wctx.pack, wctx.case.id, at)
    return ended


async def _apply(
    wctx: WriteContext,
    *,
    event: WorkflowEvent,
    evaluation: Evaluation,
    open_steps: Sequence[Step],
    untouched: frozenset[uuid.UUID] = frozenset(),
    derive: bool = True,
    replayed: uuid.UUID | None = None,
    revive: bool = False,
    flush: bool = True,
    earlier: bool = False,
) -> PolicyResult:
    """Apply an evaluation's derived state and step intents (flush, audit the steps); the
    ``untouched`` open steps are kept exactly as they are (no new reason, date or closure).
    Without ``derive`` (a back-fill) the register and contact level are left as they are.
    With ``revive`` (an act dated before later acts) a step it asks for that lapsed after it
    is revived rather than raised anew (:func:`_revived`). ``earlier``: an act judged on the
    incoming ratings of its own moment (:func:`incoming_at`), dated before a step it asks for
    arose: in time order it raised it (:func:`_raised_earlier`), as a judgement does."""
    session, case, calendar = wctx.session, wctx.case, wctx.policy.calendar
    if derive and apply_derived(case, evaluation, wctx.pack, event=event,
                                life_ended=await _life_ended(wctx, evaluation, event)):
        await _follow_priority(session, case)
    by_id = {s.id: s for s in open_steps if s.id not in untouched}
    revivable = await _lapsed_after(
        session, case.id, event.occurred_at,
        {i.code for i in evaluation.intents if i.action == "create"}) if revive else {}
    endorsed = await endorsed_since(
        session, wctx.pack, case.id, event,
        {i.code for i in evaluation.intents if i.action == "create"})
    created: list[Step] = []
    superseded: list[Step] = []
    updated: list[Step] = []
    changes: list[tuple[Step, StepIntent]] = []  # steps kept, re-dated or given up a reason
    # Work an event has ended (a death) is not asked for again by a later act or a reopening.
    ended = await _ended_for(wctx, evaluation, event.occurred_at)
    # Unless the act is dated before the event that ended it (a judgement, event, assessment,
    # referral, change of the case or completion dated before the death, typed in after it):
    # in time order it was owed until then, and the event ended it (ATTACK38-3, fix41d).
    later_ends = await _ends_after(wctx, ended, event.occurred_at) if ended else {}
    if later_ends:
        # A duty an earlier act had raised and the later event ended was open at this act's
        # moment: in time order this act found it open and raised no second step (a Very High
        # dated between a High and the death, typed in after the death; fix42d, ATTACK41-1).
        owed_then = {(s.code, s.subject_id) for s in await steps_open_at(
            session, case.id, event.occurred_at) if s.code in later_ends}
    else:
        owed_then = set()
    born_ended: list[tuple[Step, tuple[datetime, uuid.UUID, str]]] = []
    # A judgement dated before an open step arose, asking for it: in time order it raised it.
    # (A back-fill's or a replay's act likewise, A11-5; and a change of the case's fields, a
    # dated PATCH or a MAPPA message: Somerset S17's MARP referral asked by a category 1
    # received the day before the very high typed first is S17's, fix41f, ATTACK40-9.)
    earlier = earlier or event.trigger in _ARISING_TRIGGERS or not derive
    for intent in evaluation.intents:
        if intent.action in ("update_due", "keep", "drop_reason") and intent.step_id in by_id \
                and (intent.reasons or intent.action == "update_due"):
            changes.append((by_id[intent.step_id], intent))
            step_at = stored_utc(by_id[intent.step_id].raised_at)
            if intent.action != "drop_reason" and intent.reasons \
                    and (earlier or step_at == event.occurred_at) \
                    and _arose_after(by_id[intent.step_id], event):
                _raised_earlier(by_id[intent.step_id], intent, event, wctx.pack, case.id)
            if replayed is not None and intent.action != "drop_reason":
                _restated(by_id[intent.step_id], intent, replayed)
        if intent.action == "create":
            done = endorsed.get((intent.code, intent.subject_id))
            lapsed = revivable.pop((intent.code, intent.subject_id), None)
            if done is not None:
                if _join_endorsed(done, intent, event, wctx.pack, case.id):
                    changes.append((done, replace(intent, action="keep", step_id=done.id)))
                    updated.append(done)
            elif lapsed is not None:
                session.add(lapsed)
                created.append(_revived(lapsed, intent, event.occurred_at))
            elif intent.code not in ended:
                created.append(_create_step(wctx, intent=intent, event=event))
            elif (end := later_ends.get(intent.code)) is not None \
                    and (intent.code, intent.subject_id) not in owed_then:
                born_ended.append((_create_step(wctx, intent=intent, event=event), end))
                created.append(born_ended[-1][0])
        elif intent.action == "supersede" and intent.step_id in by_id:
            step = by_id[intent.step_id]
            end_need(session, step, at=event.occurred_at,
                     why=intent.note or "condition ended")
            if intent.note == f"Superseded: {LAPSED}":
                step.lapsed_at = event.occurred_at  # an earlier act may yet revive it
            superseded.append(step)
        elif intent.action == "update_due" and intent.step_id in by_id:
            step = by_id[intent.step_id]
            redate(step, intent, at=event.occurred_at, calendar=calendar, pack=wctx.pack,
                   stale=_branch_notes(wctx.pack, step.code), void=_void_time(event),
                   redefined=_redefines(step, event))
            _add_reasons(step, intent)
            updated.append(step)
        elif intent.action == "keep" and intent.step_id in by_id and intent.reasons:
            _add_reasons(by_id[intent.step_id], intent)
            updated.append(by_id[intent.step_id])
        elif intent.action == "drop_reason" and intent.step_id in by_id:
            step = by_id[intent.step_id]
            gone = {str((r.get("record") or {}).get("id")) for r in intent.reasons}
            step.reasons = [r for r in step.reasons or ()
                            if str((r.get("record") or {}).get("id")) not in gone]
            step.note = _append(step.note, intent.note) if intent.note else step.note
            updated.append(step)
    # On a case closed now, a step the closure would have superseded (not ``survives_closure``)
    # is set aside by it as it is raised: an act typed after the closure but dated before it
    # (the case was open then) owed it, and the closure that followed supersedes it, marked for
    # the reopening to reinstate; never an open step no act of a closed case can do (attack
    # 24b, A24b-7: a High-Risk Panel request escalated for ever on a closed case).
    # A step raised by an act dated before the event that ends it (a death typed in first) was
    # owed until that event, which ends it at its date once it is written open (below).
    owed_until = _owed_until_later_event(wctx, born_ended)
    set_aside = _closed_case_steps(wctx, [s for s in created
                                          if all(s is not o for o, _ in owed_until)])
    for step in created:
        await stand_in_if_away(session, wctx.pack, step)
        await stand_in_for_recorder(session, wctx.pack, step, recorder=_recorder(wctx, event))
    if case.access_mode is not None and any(s.assignee_id for s in created):
        await _unname_shut_out(wctx, created)
    for step in created:
        note_restricted_act(wctx.pack, case.access_mode, step)
    # (Rows already in the unit of work need no add: none of these models has relationships
    # to cascade along, and Session.add walked the mapper for each: issue 15.)
    for obj in [*created, *superseded, *updated, case]:
        if obj not in session:
            session.add(obj)
    if flush or created or superseded or _changed(case):
        await session.flush()
    await _audit_created(wctx, created)
    set_aside += await _end_at_later_event(wctx, owed_until)
    superseded += await record_superseded(wctx, superseded + set_aside, open_steps=open_steps)
    superseded += set_aside
    for step, intent in changes:
        # One duty, one step: what a further reason (or its withdrawal) did to the open step;
        # a re-date says which act moved it (the case timeline shows it).
        await wctx.audit(
            "step.reason" if intent.action != "update_due" else "step.redate",
            entity_type="step", entity_id=step.id,
            change={"code": step.code, "action": intent.action,
                    "due_at": iso_utc(step.due_at) if step.due_at else None,
                    "reasons": [dict(r) for r in intent.reasons]},
            reason=_redate_reason(intent) if intent.action == "update_due" else None,
        )
    # A further reason may change the record a line manager's check now looks at (a judgement
    # dated later, whichever order they were typed in): who owes it is decided again (A30a-11).
    await recheck_recorder(wctx, [step for step, intent in changes
                                  if intent.action != "drop_reason" and intent.reasons],
                           recorder=_recorder(wctx, event))
    # A due day moved into or out of the holder's leave: the step stands in or comes back in
    # this write, as the leave recorded after the move would have it (A30a-3).
    await resettle_steps(wctx, steps=[step for step, intent in changes
                                      if intent.action == "update_due"],
                         why=f"re-dated by the {event.trigger.replace('_', ' ')}")
    # The open steps now, without reading them again: those loaded under the lock that are
    # still open, and the new ones, in open_steps_of's order.
    return PolicyResult(
        open_json=steps_json(sorted_open([*open_steps, *(s for s in created
                                                         if s not in set_aside)]), utcnow()),
        created=created, superseded=superseded, evaluation=evaluation,
    )


async def _ends_after(wctx: WriteContext, ended: Collection[str], at: datetime
                      ) -> dict[str, tuple[datetime, uuid.UUID, str]]:
    """Of the ``ended`` codes (:func:`_ended_for`), those no event recorded on the case dated
    at or before ``at`` ended: code -> (when, id, why) of the earliest event dated after ``at``
    that ends it (the pack's ``ends_steps`` or ``ends_earlier_steps``: a child's death)."""
    pack = wctx.pack
    ends = {kind: set(codes) for kind, codes in pack.ending_events().items()}
    for kind, codes in pack.earlier_ending_events().items():
        ends.setdefault(kind, set()).update(codes)
    rows = (await wctx.session.exec(
        select(CaseEvent.id, CaseEvent.type, CaseEvent.occurred_at)
        .where(CaseEvent.case_id == wctx.case.id, col(CaseEvent.type).in_(list(ends)))
        .order_by(col(CaseEvent.occurred_at)))).all()
    before: set[str] = set()
    after: dict[str, tuple[datetime, uuid.UUID, str]] = {}
    for ident, kind, when in rows:
        moment = stored_utc(when)
        for code in ends.get(kind, ()):
            if code not in ended:
                continue
            if moment <= at:
                before.add(code)
            else:
                declared = pack.event_type(kind)
                why = declared.ends_reason or f"{declared.title} ({kind})"
                after.setdefault(code, (moment, ident, f"{why} (event {ident})"))
    return {code: end for code, end in after.items() if code not in before}


def _owed_until_later_event(
    wctx: WriteContext, born: Sequence[tuple[Step, tuple[datetime, uuid.UUID, str]]]
) -> list[tuple[Step, tuple[datetime, uuid.UUID, str]]]:
    """Of the steps just raised by an act dated before the event that ends them
    (:func:`_ends_after`: a judgement, event, assessment, referral or change of the case dated
    before the child's death and typed in after it; a recurring step's next occurrence owed
    from a completion dated before the death), those that event ends at its date
    (:func:`_end_at_later_event`): in time order they were owed until then (ATTACK38-3, fix41d).
    Not one a closure dated at or before that event sets aside instead
    (:func:`_closed_case_steps`), unless it survives the closure."""
    case, pack = wctx.case, wctx.pack
    closed_at = stored_utc(case.closed_at) if case.closed_at is not None else None
    return [(step, end) for step, end in born
            if closed_at is None or closed_at > end[0]
            or pack.survives_closure_of(step.code, step.rule_id)]


async def _end_at_later_event(
    wctx: WriteContext, owed: Sequence[tuple[Step, tuple[datetime, uuid.UUID, str]]]
) -> list[Step]:
    """End the steps :func:`_owed_until_later_event` chose, written open by the act that raised
    them, at the later event's date, as that event ended the open ones when typed in before
    the act (:func:`app.domain.events._end_steps`): missed if already late then, else
    superseded, with the pack's reason, linked to the event, the change of status dated at
    the event (its history row: the case's timeline, ``as_of`` and ``need_ended_at`` read
    it). The caller audits and announces them (:func:`record_superseded`)."""
    if not owed:
        return []
    for step, (at, ident, why) in owed:
        end_need(wctx.session, step, at=at, why=why)
        step.satisfied_by_type, step.satisfied_by_id = "event", ident
        wctx.session.add(step)
    await wctx.session.flush()
    return [step for step, _ in owed]


def _closed_case_steps(wctx: WriteContext, created: Sequence[Step]) -> list[Step]:
    """Of the steps just raised on a case that is closed now, those its closure supersedes
    (all but the pack's ``survives_closure``), marked superseded by the closure as
    :func:`supersede_all_open` marks them, so a reopening reinstates them."""
    case = wctx.case
    if case.closed_at is None:
        return []
    pack = wctx.pack
    aside = [s for s in created if not pack.survives_closure_of(s.code, s.rule_id)]
    closed_at = stored_utc(case.closed_at)
    for step in aside:
        _close_as_ended(step, at=closed_at, why=(
            "the case was closed (the act is dated before the closure, recorded after it)"))
        step.satisfied_by_type, step.satisfied_by_id = CLOSURE_MARK, case.id
    return aside


# What :func:`open_as_before_closure` saves of a step the closure set aside, and
# :func:`closed_again` puts back.
_SET_ASIDE_FIELDS = ("status", "satisfied_by_type", "satisfied_by_id", "completed_at",
                     "completed_by", "completion_note", "note")


async def open_as_before_closure(wctx: WriteContext) -> list[tuple[Step, tuple[Any, ...]]]:
    """On a case closed after the act's date (``wctx.occurred_at``), the steps its closure set
    aside (superseded, to be reinstated by a reopening), opened again for this act, with what
    they were: the act closes those it does (the chair's ``record_panel_decision`` for this
    item, the booked review), supersedes those whose condition it ends (a lowering's register
    steps, what a death ends) and joins those it asks for again (no second step of one duty:
    a second charge's review), as it would have done before the closure (ATTACK26B-12 for a
    panel's decision; an event, left15b). :func:`closed_again` sets the rest aside again as
    they were. Empty for an open case, or an act dated at or after the closure."""
    case = wctx.case
    if case.closed_at is None or wctx.occurred_at >= stored_utc(case.closed_at):
        return []
    rows = (await wctx.session.exec(select(Step).where(
        Step.case_id == case.id, col(Step.status).in_(NEED_ENDED),
        Step.satisfied_by_type == CLOSURE_MARK))).all()
    kept = []
    for step in rows:
        kept.append((step, tuple(getattr(step, name) for name in _SET_ASIDE_FIELDS)))
        step.status = StepStatus.open
        step.satisfied_by_type = step.satisfied_by_id = None
        step.completed_at = step.completed_by = step.completion_note = None
        wctx.session.add(step)
    await wctx.session.flush()
    return kept


async def closed_again(wctx: WriteContext,
                       set_aside: list[tuple[Step, tuple[Any, ...]]]) -> None:
    """The steps :func:`open_as_before_closure` opened that the act left open: set aside by
    the closure again, exactly as they were (the reasons the act added to them kept)."""
    for step, was in set_aside:
        if step.status != StepStatus.open:
            continue
        for name, value in zip(_SET_ASIDE_FIELDS, was, strict=True):
            setattr(step, name, value)
        wctx.session.add(step)
    await wctx.session.flush()


def _changed(obj: Any) -> bool:
    """Whether an ORM object has a change its flush would write (an attribute set to another
    value than it was loaded with, or a new object)."""
    state: Any = sa.inspect(obj)
    if state.key is None:
        return True
    return state_has_changes(state)


def lateness_erased(step: Step, due_at: datetime | None, at: datetime) -> bool:
    """Whether re-dating the step to ``due_at`` by an act at ``at`` would erase lateness that
    has already happened: its deadline passed before the act (it counted as late from
    ``overdue_at``: for a step due "immediately", the end of that working day) and the new
    date is later, or none. Wokingham "Referrals into MAPPA": a category 2 MAPPA H form due six
    months before release, two and a half months late when the child is released, was re-dated
    to "no timescale" and left the overdue list, the escalation and the timeliness report
    (attack pass 9, A9-11)."""
    late_from = step.overdue_at or step.due_at
    if late_from is None or step.due_at is None or late_from >= at:
        return False
    return due_at is None or due_at > step.due_at


def _void_time(event: WorkflowEvent) -> datetime | None:
    """The time of a panel booked in the past by mistake and cancelled (``panel_scheduled``
    with ``void_due_at``): a step due at it was never late at a sitting (attack pass 15,
    A15-5)."""
    if event.trigger != "panel_scheduled" or not event.data.get("void_due_at"):
        return None
    return stored_utc(datetime.fromisoformat(str(event.data["void_due_at"])))


def step_overdue_at(pack: Pack, code: str, due_at: datetime | None, urgent: bool,
                    calendar: WorkingCalendar) -> datetime | None:
    """When a step of ``code`` due at ``due_at`` counts as overdue (its ``overdue_at``): the
    one rule for every step made or re-dated (``deadlines.overdue_at_for``; a step only a
    panel's decision does, at the end of its due day: A19-1)."""
    return overdue_at_for(due_at, urgent, calendar, sitting=pack.done_at_sitting(code))


def _redefines(step: Step, event: WorkflowEvent) -> bool:
    """Whether ``event`` changes the case date that defines the open step's deadline
    (``deadlines.DATE_DEFINED``: the expected release date of a ``release-6m`` or
    ``before-release`` step) while the step was due at once because the point the old date gave
    had passed when it was raised: its date stood for that point, not for a deadline of its own,
    and the corrected record puts the point where the new date does (attack 32c, ATTACK32C-10).
    A deadline that passed while it stood (a real six-month point) is not this."""
    field = DATE_DEFINED.get(step.deadline_form or "")
    changes = event.data.get("changes") if event.trigger == "case_changed" else None
    if field is None or not isinstance(changes, Mapping) or field not in changes:
        return False
    old = changes[field][0]
    day = date.fromisoformat(old) if isinstance(old, str) else old
    due = None if step.due_at is None else stored_utc(step.due_at)
    return isinstance(day, date) and due_at_once_from(step.deadline_form, due, day)


def redate(step: Step, intent: StepIntent, *, at: datetime, calendar: WorkingCalendar,
           pack: Pack, stale: Collection[str] = (), void: datetime | None = None,
           redefined: bool = False) -> bool:
    """Re-date an open step as ``intent`` (an ``update_due`` from any act: a case event, a
    case change of release date, custody or MAPPA fields, a panel scheduled, moved or
    cancelled) asks, at the act's time ``at``; the one place every re-date goes through. A
    deadline that had passed before the act stays (:func:`lateness_erased`): the step stays
    overdue, escalated and counted late until it is done, and its note says what the act
    would have made of it. A sooner date always applies. False when the passed date was kept.
    ``void``: the time of a panel booked in the past by mistake and cancelled; a date at it
    was no deadline (the steps get back the dates the panels as they stand give them).
    ``redefined``: the act changes the date a step due at once was dated from
    (:func:`_redefines`); it moves with it, later as well as sooner."""
    voided = void is not None and step.due_at is not None and stored_utc(step.due_at) == void
    if not voided and not redefined and lateness_erased(step, intent.due_at, at):
        assert step.due_at is not None
        would = london_text(intent.due_at) if intent.due_at is not None else "no timescale"
        kept = f"Deadline kept: {london_text(step.due_at)} had passed before the act at "
        again = (f"that would re-date it ({would}); lateness already incurred stays until the "
                 "step is done.")
        # Said once for each date an act would give it: a later act that would re-date it the
        # same way adds nothing (attack 31a, ATTACK31A-5: a second panel booked for the day).
        if not any(line.startswith(kept) and line.endswith(again)
                   for line in (step.note or "").split("\n")):
            step.note = _append(step.note, f"{kept}{london_text(at)} {again}")
        if intent.due_at is not None and not intent.awaiting_panel_date:
            # A panel now dates it: the meeting day's note no longer says none is booked yet
            # (fix32b; ``as_of`` before the booking still shows it, from the step's history).
            step.note = booked_since(step.note)
        return False
    step.due_at, step.awaiting_panel_date = intent.due_at, intent.awaiting_panel_date
    step.urgent = intent.urgent
    step.overdue_at = step_overdue_at(pack, step.code, intent.due_at, intent.urgent, calendar)
    step.deadline_form = intent.deadline_form or step.deadline_form
    step.note = redated_note(step.note, intent.note, stale)
    return True


def _redate_reason(intent: StepIntent) -> str | None:
    """Why an open step was re-dated: each rule that moved it, its paragraph and the act (when
    it happened), else the intent's note (a panel scheduled)."""
    why = "; ".join(f"{r.get('rule')} ({r.get('ref')}): {r.get('trigger')} at {r.get('at')}"
                    for r in intent.reasons) or intent.note
    return why[:2000] if why else None


async def _unname_shut_out(wctx: WriteContext, created: Sequence[Step]) -> None:
    """A new step of a role (duty manager, chair, panel administrator) named to someone the
    case's restriction shuts out goes to the role instead (unassigned: a bare duty for holders
    of the role the allow-list leaves out, see ``app.domain.access``): S16's "advise the line
    manager", named to the duty manager who did a stood-in discussion on an allow-listed case,
    was one they could neither see nor complete (attack pass 8, N13)."""
    case = wctx.case
    staff = await staff_of(wctx.session, case)
    for step in created:
        who = step.assignee_id
        if who and step.actor in ROLE_DUTY_ACTORS and shuts_out(case.access_mode, staff, who):
            step.assignee_id = None
            step.note = _append(step.note, f"Unassigned: the case's restriction shuts {who} "
                                           f"out; any {step.actor.replace('_', ' ')} does it.")


def sorted_open(steps: Iterable[Step]) -> list[Step]:
    """The open ones of ``steps`` in :func:`open_steps_of`'s order: soonest due first, undated
    last, then by creation, then by id (so that a case read and a case list agree on ties)."""
    return sorted((s for s in steps if s.status == StepStatus.open),
                  key=lambda s: (s.due_at is None, s.due_at or s.created_at, s.created_at, s.id))


_REPLAY_PACKS: dict[int, tuple[Pack, Pack]] = {}


def _replay_pack(pack: Pack) -> Pack:
    """The pack (this version) without its write checks: a replay re-derives steps from records
    that were checked when they were written; it records nothing new."""
    cached = _REPLAY_PACKS.get(id(pack))
    if cached is None or cached[0] is not pack:
        cached = _REPLAY_PACKS[id(pack)] = (pack, pack.model_copy(update={"checks": ()}))
    return cached[1]


def _replay_events(case: Case, at: datetime, role: str) -> list[WorkflowEvent]:
    """The current state as events: each known rating recorded, then the MAPPA fields and the
    pack's case facts set."""
    levels = {d: (v or {}).get("level") for d, v in (case.ratings or {}).items()}
    events = [
        WorkflowEvent(
            trigger="judgement_recorded", occurred_at=at, subject_id=case.id, actor_role=role,
            data={"domain": domain, "level": levels[domain], "impact": None, "likelihood": None,
                  "setting": None, "rationale": None, "victims": [],
                  "via_panel_decision": False, "replay": True},
        )
        for domain in DOMAINS if levels.get(domain)
    ]
    changes: dict[str, list[Any]] = {f: [None, getattr(case, f)] for f in REPLAYED_FIELDS
                                     if getattr(case, f) is not None}
    changes.update({f"facts.{k}": [None, v] for k, v in (case.facts or {}).items()
                    if v is not None})
    if changes:
        events.append(WorkflowEvent(trigger="case_changed", occurred_at=at, subject_id=case.id,
                                    actor_role=role, data={"changes": changes, "replay": True}))
    return events


REPLAYED_FIELDS = ("mappa_category", "mappa_level")


async def rerun_for_current_state(
    wctx: WriteContext, *, untouched: frozenset[uuid.UUID] = frozenset()
) -> PolicyResult:
    """Run the pack for the case's current state (ratings, register, flags, MAPPA fields) as
    if it were established at ``wctx.occurred_at`` (a reopening): every step mandated now is open
    once (an open one is kept, never duplicated), deadlines counted from ``occurred_at``. The
    ``untouched`` open steps (reinstated at a reopening) keep their dates and reasons.

    The case is taken from "nothing known" (no ratings, off the register) to its current
    state one event at a time: each current rating as a judgement, then the MAPPA fields.
    """
    session, case, occurred_at = wctx.session, wctx.case, wctx.occurred_at
    pack = _replay_pack(wctx.pack)
    panels = await scheduled_panels(session, wctx.service)
    ratings: dict[str, str | None] = dict.fromkeys(DOMAINS)
    on_register = False
    result = await current(session, case)
    extras = await snapshot_extras(session, case, occurred_at)
    for wf_event in _replay_events(case, occurred_at, wctx.event_role):
        open_steps = await open_steps_of(session, case.id)
        before = replace(snapshot(case, open_steps), ratings=dict(ratings),
                         on_register=on_register, **extras)
        evaluation = evaluate(wf_event, before, pack, wctx.policy.calendar, panels)
        result = result.merge(await _apply(wctx, event=wf_event, evaluation=evaluation,
                                           open_steps=open_steps, untouched=untouched))
        ratings = dict(evaluation.ratings_after)
        on_register = evaluation.on_register_after
    return result


async def reassign_open_steps(
    wctx: WriteContext, *, moves: Mapping[str, tuple[str, str]]
) -> list[Step]:
    """Move the case's open steps whose assignee came from a role to that role's new holder.

    ``moves`` maps an actor (``case_holder``, ``line_manager``) to (old staff id, new staff
    id). A panel action (``action_owner``) its owner holds in that role (``owner_role``; an
    action recorded before ``owner_role`` was, held by the role's old holder) moves with the
    role too: Somerset 7.1.8 "Line managers will monitor the implementation of agreed plans"
    is the case's line manager's duty, not the person's, and not the case holder's (attack
    26b, ATTACK26B-3: it went to the case holder as "may no longer see the case"). A chair's
    action or a named professional's stays theirs. Each moved step is audited
    (``step.reassign``, from and to) and announced (``step.reassigned``) in this unit of work.
    """
    session, case, service = wctx.session, wctx.case, wctx.service
    moved: list[Step] = []
    for actor, (old, new) in moves.items():
        rows = await session.exec(select(Step).where(
            Step.case_id == case.id, Step.status == StepStatus.open,
            col(Step.assignee_id) == old,
            sa.or_(col(Step.actor) == actor, sa.and_(
                col(Step.actor) == "action_owner",
                sa.or_(col(Step.owner_role) == actor, col(Step.owner_role).is_(None)))),
        ).order_by(col(Step.created_at), col(Step.id)))
        for step in rows.all():
            if step.actor == "action_owner":
                step.owner_role = actor
            step.assignee_id = new
            step.note = _append(step.note, f"Reassigned: {actor} changed from {old} to {new}")
            session.add(step)
            moved.append(step)
            await wctx.audit(
                "step.reassign", entity_type="step", entity_id=step.id,
                reason=f"{actor} changed from {old} to {new}",
                change={"code": step.code, "actor": actor,
                        "assignee_id": {"from": old, "to": new}},
            )
            await emit(session, "step.reassigned", step.id, service_id=service.id,
                       payload={"case_id": str(case.id), "step_id": str(step.id),
                                "code": step.code, "actor": actor, "from": old, "to": new,
                                "occurred_at": iso_utc(wctx.occurred_at)})
    await session.flush()
    await renote_moved(wctx, moved, "a role's holder changed")
    return moved


# A step superseded because its case was closed carries this marker (``satisfied_by_type``,
# with the case's id): reopening the case reinstates exactly these steps.
CLOSURE_MARK = "case_closure"


async def rehome_shut_out_steps(
    wctx: WriteContext, *, shut_out: Callable[[str], bool]
) -> list[Step]:
    """Move the case's open steps whose assignee may no longer see the case (``shut_out``:
    excluded by a restriction, or no longer its holder) to someone who may: a case holder's
    or line manager's step to the role's current holder, a panel action (``action_owner``) to
    the case holder, any other step to its role
    (unassigned: any holder of the actor's role who may see the case completes it). Each is
    audited (``step.reassign``) and announced (``step.reassigned``) like a reassignment."""
    session, case, service = wctx.session, wctx.case, wctx.service
    rows = await session.exec(select(Step).where(
        Step.case_id == case.id, Step.status == StepStatus.open,
        col(Step.assignee_id).is_not(None)).order_by(col(Step.created_at), col(Step.id)))
    moved: list[Step] = []
    for step in list(rows.all()):
        old = step.assignee_id
        if old is None or not shut_out(old):
            continue
        # A panel action goes to the case holder, who "will ensure any required actions are
        # taken" (Somerset 7.1.7); a role's step to the role's holder; any other to its role.
        attr = "case_holder_id" if step.actor == "action_owner" else ACTOR_FIELDS.get(step.actor)
        new = getattr(case, attr) if attr else None
        if new is not None and shut_out(new):
            new = None
        step.assignee_id = new
        if step.actor == "action_owner" and new is not None:
            # Now the case holder's action: owed, and escalated, as theirs (to their line
            # manager), not as the chair's it was (attack pass 8, N10: a chair's action moved
            # off a restricted case still escalated to the chairs the restriction shuts out).
            step.owner_role = "case_holder"
        to = new or f"any {step.actor}"
        step.note = _append(step.note, f"Reassigned: {old} may no longer see the case; to {to}")
        session.add(step)
        moved.append(step)
        await wctx.audit(
            "step.reassign", entity_type="step", entity_id=step.id,
            reason=f"{old} may no longer see the case; to {to}",
            change={"code": step.code, "actor": step.actor,
                    "assignee_id": {"from": old, "to": new}},
        )
        await emit(session, "step.reassigned", step.id, service_id=service.id,
                   payload={"case_id": str(case.id), "step_id": str(step.id),
                            "code": step.code, "actor": step.actor, "from": old, "to": new,
                            "occurred_at": iso_utc(wctx.occurred_at)})
    await session.flush()
    await renote_moved(wctx, moved, "its assignee may no longer see the case")
    return moved


RETIRED_NOTE = "Superseded: the overdue step was closed."


async def retire_escalations(
    wctx: WriteContext, *, closed: Sequence[Step], open_steps: Sequence[Step] | None = None
) -> list[Step]:
    """Supersede the open escalations (``escalate_overdue_step``) of the steps this write has
    just closed (done, waived or superseded), in the write's unit of work: audited
    (``step.supersede``) and announced (``step.superseded``), as the escalation was announced
    (``step.escalated``). Without this the manager chasing a step kept the chase in their
    queue after the step was done, until the next escalation pass
    (:func:`app.domain.escalation.retire_stale`, still the backstop for any other path).

    ``open_steps``: the case's open steps as loaded under the case lock, to spare a read
    (``None``: read the escalations of ``closed``). Answers the escalations superseded."""
    ids = {s.id for s in closed if s.code != ESCALATION_CODE and s.status != StepStatus.open}
    if not ids:
        return []
    if open_steps is None:
        rows = await wctx.session.exec(select(Step).where(
            Step.case_id == wctx.case.id, Step.status == StepStatus.open,
            Step.code == ESCALATION_CODE, col(Step.subject_id).in_(ids)))
        found = list(rows.all())
    else:
        found = [s for s in open_steps if s.code == ESCALATION_CODE
                 and s.status == StepStatus.open and s.subject_id in ids]
    for step in found:
        step.status = StepStatus.superseded
        # When the chase became moot, never before it was raised (a back-dated act).
        step.completed_at = max(wctx.occurred_at, step.raised_at or step.created_at)
        note_superseded(wctx.session, step, wctx.occurred_at)
        step.note = _append(step.note, RETIRED_NOTE)
        wctx.session.add(step)
    if not found:
        return []
    await wctx.session.flush()
    await record_superseded(wctx, found, reason="the overdue step was closed", retire=False,
                            change=lambda step: {"code": step.code, "status": "superseded"})
    return found


def overdue_now(step: Step, now: datetime) -> bool:
    """Whether the step counts as late at ``now`` (past its ``overdue_at``, else its due
    time), as the escalation pass reads it."""
    late_from = step.overdue_at or step.due_at
    return late_from is not None and stored_utc(late_from) < stored_utc(now)


async def retire_moot_escalations(
    wctx: WriteContext, *, steps: Sequence[Step], why: str
) -> list[Step]:
    """Of ``steps`` (open, just re-dated by the write: an earlier act recorded later, a
    sooner or later date), those escalated that are no longer overdue at the write's instant
    (its time, under the case's lock): their open escalations are superseded in this write,
    audited (``step.supersede``) and announced (``step.superseded``), and the step is
    escalatable again (``escalated_at`` cleared), so the pass chases it once its new date has
    passed (README "Overdue escalation worker"). Before, the chase stayed open over a step
    that was not late (no pass retires the chase of an open step), and the step, late again
    at its new date, was never chased. Answers the escalations retired."""
    now = utcnow()
    escalated = {s.id: s for s in steps if s.status == StepStatus.open
                 and s.code != ESCALATION_CODE and s.escalated_at is not None}
    if not escalated:
        return []
    moot = {i: s for i, s in escalated.items() if not overdue_now(s, now)}
    for step in moot.values():
        step.escalated_at = None
        wctx.session.add(step)
    rows = await wctx.session.exec(select(Step).where(
        Step.case_id == wctx.case.id, Step.status == StepStatus.open,
        Step.code == ESCALATION_CODE, col(Step.subject_id).in_(list(escalated))))
    chases = list(rows.all())
    await _renote_escalations(wctx, [(c, escalated[c.subject_id]) for c in chases  # type: ignore[index]
                                     if c.subject_id not in moot])
    found = [c for c in chases if c.subject_id in moot]
    if not found:
        return []
    for chase in found:
        subject = moot[chase.subject_id]  # type: ignore[index]
        due = london_text(subject.due_at) if subject.due_at is not None else "no timescale"
        chase.status = StepStatus.superseded
        chase.completed_at = max(stored_utc(wctx.occurred_at),
                                 stored_utc(chase.raised_at or chase.created_at))
        note_superseded(wctx.session, chase, wctx.occurred_at)
        chase.note = _append(chase.note, f"Superseded: the overdue step was re-dated ({due}); "
                                         "it is no longer overdue.")
        wctx.session.add(chase)
    await wctx.session.flush()
    await record_superseded(wctx, found, reason=f"the overdue step was re-dated ({why})",
                            retire=False,
                            change=lambda step: {"code": step.code, "status": "superseded"})
    return found


# The head of an escalation's note (app.domain.escalation): whose overdue step, when due.
_CHASE_HEAD = re.compile(r"\(([a-z_]+), assignee ([^)]*)\) was due (.*?) and is still open\.")


def _chase_head(subject: Step) -> str:
    due = london_text(subject.due_at) if subject.due_at is not None else "?"
    return (f"({subject.actor}, assignee {subject.assignee_id or 'any'}) was due {due} and "
            "is still open.")


async def renote_chases(
    session: AsyncSession, chases: Sequence[tuple[Step, Step]], *,
    audit: Callable[[Step, dict[str, Any]], Awaitable[None]], occurred_at: datetime,
) -> list[Step]:
    """Each open escalation of ``chases`` (with its overdue step, still open) names the step's
    actor, assignee and due date as they are now in its note ("(case_holder, assignee cw-new)
    was due ..."), not those it was raised for: a write that re-dates the step (fix32c's
    leftover) or moves it to someone else (a new case holder or line manager, a stand-in, a
    restriction; attack 35a, ATTACK35A-15: the manager was told to chase someone who no
    longer held the case). Changed in the write, audited by ``audit`` (``step.renote``) and
    announced (``step.escalation_updated``: the escalation's id, the overdue step's, its
    code, due instant and assignee, and the act's ``occurred_at``). An escalation whose note
    already says it is left alone.
    Answers the escalations changed."""
    changed = []
    for chase, subject in chases:
        head = _chase_head(subject)
        note = _CHASE_HEAD.sub(head.replace("\\", "\\\\"), chase.note or "", count=1)
        if note == chase.note or chase.status != StepStatus.open:
            continue
        chase.note = note
        session.add(chase)
        changed.append((chase, subject))
    if not changed:
        return []
    await session.flush()
    for chase, subject in changed:
        due_at = iso_utc(subject.due_at) if subject.due_at is not None else None
        await audit(chase, {"code": chase.code, "overdue_step_id": str(subject.id),
                            "due_at": due_at, "assignee_id": subject.assignee_id})
        await emit(session, "step.escalation_updated", chase.id,
                   service_id=chase.service_id,
                   payload={"case_id": str(chase.case_id), "step_id": str(chase.id),
                            "overdue_step_id": str(subject.id), "code": subject.code,
                            "due_at": due_at, "assignee_id": subject.assignee_id,
                            "occurred_at": iso_utc(occurred_at)})
    return [chase for chase, _ in changed]


async def _chases_of(session: AsyncSession, steps: Sequence[Step]) -> list[tuple[Step, Step]]:
    """The open escalations of ``steps``, each with its overdue step."""
    subjects = {s.id: s for s in steps if s.code != ESCALATION_CODE}
    if not subjects:
        return []
    rows = await session.exec(select(Step).where(
        Step.status == StepStatus.open, Step.code == ESCALATION_CODE,
        col(Step.subject_id).in_(list(subjects))).order_by(col(Step.created_at), col(Step.id)))
    return [(chase, subjects[chase.subject_id]) for chase in rows.all()  # type: ignore[index]
            if chase.case_id == subjects[chase.subject_id].case_id]  # type: ignore[index]


async def renote_moved(wctx: WriteContext, steps: Sequence[Step], why: str) -> None:
    """The open escalations of ``steps``, just moved to another assignee or role in ``wctx``'s
    write, renoted (:func:`renote_chases`), audited with ``why``."""
    async def audit(chase: Step, change: dict[str, Any]) -> None:
        await wctx.audit("step.renote", entity_type="step", entity_id=chase.id,
                         change=change, reason=f"the overdue step was reassigned ({why})")

    await renote_chases(wctx.session, await _chases_of(wctx.session, steps), audit=audit,
                        occurred_at=wctx.occurred_at)


async def _renote_escalations(wctx: WriteContext, chases: Sequence[tuple[Step, Step]]) -> None:
    """Each open escalation of ``chases`` (with its step, re-dated by the write and still
    overdue) says the step's due date now (:func:`renote_chases`)."""
    async def audit(chase: Step, change: dict[str, Any]) -> None:
        await wctx.audit("step.renote", entity_type="step", entity_id=chase.id,
                         change=change, reason="the overdue step was re-dated; still overdue")

    await renote_chases(wctx.session, chases, audit=audit, occurred_at=wctx.occurred_at)


async def announce_act_changes(wctx: WriteContext) -> None:
    """Announce (``case.updated``: the fields, the act's ``occurred_at``) the change of the
    case's own fields this act's write made (a judgement's rating, register, contact level or
    priority; a custody event's ``in_custody``; a panel decision's levels), as the field
    history records it (no statement): a receiver learns the case changed, and when the act
    that changed it happened, not only that a judgement was typed in (attack 30a, A30a-7).
    Nothing when the act left the case's fields as they were."""
    fields = case_fields_changed(wctx.session, wctx.case)
    if fields:
        await announce_case_fields(wctx, fields)


async def announce_case_fields(wctx: WriteContext, fields: Iterable[str]) -> None:
    """Announce (``case.updated``) the change of the case's ``fields`` this write audited:
    ids, the fields' names and the act's time, as a staff ``PATCH`` announces its change
    (attack 30a, A30a-9: a MAPPA message's change was audited, not announced)."""
    names = set(fields) - UNANNOUNCED_FIELDS
    at = iso_utc(wctx.occurred_at)
    # One act, one case.updated: a panel decision's judgement announced its rating already in
    # this write; the decision's own fields join that event (ATTACK35A-5).
    info = wctx.session.sync_session.info
    announced = info.setdefault(ANNOUNCED, {})
    earlier = announced.get((wctx.case.id, at))
    if earlier is not None and any(e is earlier for e in info.get(PENDING) or ()):
        earlier.payload["fields"] = sorted(set(earlier.payload["fields"]) | names)
        return
    announced[(wctx.case.id, at)] = await emit(
        wctx.session, "case.updated", wctx.case.id, service_id=wctx.service.id,
        payload={"case_id": str(wctx.case.id), "fields": sorted(names), "occurred_at": at})


# session.info: (case id, the act's time) -> this write's case.updated for it (not yet written).
ANNOUNCED = "case_updated_announced"


# The case's bookkeeping columns the API does not show: never named in ``case.updated``.
UNANNOUNCED_FIELDS = frozenset({"closed_periods", "past_interventions"})


async def record_superseded(
    wctx: WriteContext, steps: Sequence[Step], *, reason: str | None = None,
    action: str = "step.supersede", retire: bool = True,
    open_steps: Sequence[Step] | None = None,
    change: Callable[[Step], dict[str, Any]] | None = None,
) -> list[Step]:
    """The one record of steps this write has just superseded (their status already set):
    each audited (``action``: ``step.supersede``, or ``step.superseded`` for a step an act
    closed as overtaken) and announced (``step.superseded``) in the write's transaction, and,
    with ``retire``, the open escalations of the steps retired in the same write
    (:func:`retire_escalations`; README "Overdue escalation worker"). Every path that
    supersedes a step goes through here, so what the audit says ended, a subscriber hears
    ended (attack 30a, A30a-9; a death's supersessions left their escalations open until the
    next pass, ATTACK30B-5). Answers the escalations retired."""
    for step in steps:
        # A step already late when its need ended is recorded missed (ATTACK34B-7): audited
        # ``step.missed`` and announced ``step.missed``, never as withdrawn by the policy.
        missed = step.status == StepStatus.missed
        await wctx.audit(
            "step.missed" if missed else action, entity_type="step", entity_id=step.id,
            reason=reason,
            change={**(change(step) if change is not None else {
                **step_change(step), **({"reason": reason} if reason is not None else {})}),
                **({"status": str(step.status)} if missed else {})})
        await emit(wctx.session, "step.missed" if missed else "step.superseded", step.id,
                   service_id=wctx.service.id,
                   payload={"case_id": str(wctx.case.id), "step_id": str(step.id),
                            "code": step.code,
                            **({"due_at": iso_utc(step.due_at)} if missed and step.due_at
                               else {}),
                            "occurred_at": iso_utc(
                                step.completed_at or step_act_at(wctx.session, step.id)
                                or wctx.occurred_at)})
    if not retire or not steps:
        return []
    return await retire_escalations(wctx, closed=steps, open_steps=open_steps)


async def supersede_all_open(
    wctx: WriteContext, *, reason: str, closure: bool = False
) -> PolicyResult:
    """Close every open step of the case as superseded (e.g. the case was closed; with
    ``closure`` the steps are marked so that a reopening can reinstate them, and each is
    announced, ``step.superseded``, as its reinstatement will be: ``step.reinstated``).

    A closure keeps open the steps of the codes (or rules) the pack's ``survives_closure`` lists
    (duties owed past the end of the work: Somerset 12, 13.4.1-13.4.3; attack pass 16, A16-6,
    A16-7), and the open escalation of such a step; they are the answer's ``next_steps``."""
    session, case = wctx.session, wctx.case
    open_steps = await open_steps_of(session, case.id)
    kept: list[Step] = []
    if closure and wctx.pack.survives_closure:
        pack = wctx.pack
        kept = [s for s in open_steps if pack.survives_closure_of(s.code, s.rule_id)]
        kept_ids = {s.id for s in kept}
        kept += [s for s in open_steps
                 if s.code == ESCALATION_CODE and s.subject_id in kept_ids]
        kept_ids |= {s.id for s in kept}
        open_steps = [s for s in open_steps if s.id not in kept_ids]
    lapsed = [s for s in open_steps
              if closure and case.closed_at is not None
              and booked_after_closure(wctx.pack, s, case.closed_at)]
    # At the closure's date for a closure (where the timeline puts the closure), else the act's.
    at = stored_utc(case.closed_at) if closure and case.closed_at is not None \
        else wctx.occurred_at
    for step in open_steps:
        end_need(session, step, at=at,
                 why=f"{reason}. {BOOKED_LAPSE}" if step in lapsed else reason)
        if closure:
            step.satisfied_by_type, step.satisfied_by_id = CLOSURE_MARK, case.id
        session.add(step)
    await session.flush()
    plain = [s for s in open_steps if s not in lapsed]
    # Every open step but those kept is in ``open_steps``, its escalation too: none to retire.
    await record_superseded(wctx, plain, retire=False, change=step_change)
    # The closure ends a booked one: the audit says why (the timeline's "why").
    await record_superseded(wctx, lapsed, reason=f"{reason}. {BOOKED_LAPSE}", retire=False,
                            change=step_change)
    next_steps = await open_steps_out(session, case.id) if kept else []
    return PolicyResult(next_steps=next_steps, superseded=open_steps)


BOOKED_LAPSE = ("Lapsed: booked for after the case's closure, which ends the panel's oversight "
                "of the case (not overdue at the closure); a reopening "
                "reinstates it")


def booked_after_closure(pack: Pack, step: Step, closed_at: datetime) -> bool:
    """Whether an open step is one the pack's ``closure_ends_booked`` lists, due after the
    closure's ``closed_at`` and not overdue at it: the closure ends it rather than being
    blocked by it (attack 24b, A24b-4). An undated one, or one overdue at the closure's date
    (a review missed while the case was open), is not: a closure launders nothing. Judged at
    the closure's date, never the wall clock, so that a closure can be back-filled (attack
    32c, ATTACK32C-3: an order that ended on 15 February with its review booked for 11 March
    could not be recorded as closed once 11 March had passed)."""
    if step.code not in pack.closure_ends_booked or step.due_at is None:
        return False
    return stored_utc(step.due_at) > closed_at  # its overdue_at is never before it (A16-4)


async def supersede_codes(
    wctx: WriteContext, *, codes: Sequence[str], reason: str,
    act: tuple[str, uuid.UUID] | None = None, subjects: Collection[uuid.UUID] | None = None,
) -> PolicyResult | None:
    """Close the case's open steps of these codes (any code when ``codes`` is empty and
    ``subjects`` is given) about these ``subjects`` (None: any) as superseded, with ``reason``
    (e.g. work with the child that a recorded death ends), linked to the act that ended them;
    audited in the write's transaction. None when no open step matches."""
    session = wctx.session
    ended = [s for s in await open_steps_of(session, wctx.case.id)
             if (s.code in codes or (not codes and subjects is not None))
             and (subjects is None or s.subject_id in subjects)]
    if not ended:
        return None
    for step in ended:
        end_need(session, step, at=wctx.occurred_at, why=reason)
        if act is not None:
            step.satisfied_by_type, step.satisfied_by_id = act
        session.add(step)
    await session.flush()
    retired = await record_superseded(wctx, ended, reason=reason)
    return PolicyResult(next_steps=await open_steps_out(session, wctx.case.id),
                        superseded=ended + retired)


async def reinstate_closed_steps(
    wctx: WriteContext, *, reason: str,
    paused: tuple[datetime, datetime, datetime] | None = None,
) -> list[Step]:
    """Reopen the steps the case's closure superseded: the same step with its original
    ``raised_at`` and reasons. A closed case takes no act that could have done them, so every
    duty open at the closure is still owed. Each is audited (``step.reinstate``) and announced
    (``step.reinstated``); the assignee follows the case's current holders.

    ``paused``: (the closure's ``closed_at``, when that closure was recorded, the reopening),
    aware UTC. A step overdue when the closure was recorded keeps its ``due_at`` and
    ``overdue_at``: it stays overdue, and in the timeliness report (a close and reopen launders
    nothing, nor does a closure dated back before the step fell due: attack pass 16, A16-20). A
    step not yet overdue then had its clock stopped for the whole time the case was closed, from
    ``closed_at`` (attack 23b, A23b-9: from the recording, a closure dated back and recorded late
    moved nothing): both move later by that time, so nothing comes back due on a day the case
    was closed (attack pass 17, A17-1: Somerset 2.1's AssetPlus "within 4 weeks of start of YJT
    involvement", closed two days in and reopened six weeks later, came back overdue at once).
    A working-day deadline (``+Nwd``, ``next-wd``, ``+1wd-in-week``) moves by the working days
    the case was closed (those after the closure's London date up to the reopening's), onto a
    working day; any other by the closed time in whole days (to the nearest; London wall
    clock). A ``next-panel`` step is left to :func:`redate_returning_next_panel_steps` (the
    panels as they now stand)."""
    session, case, service = wctx.session, wctx.case, wctx.service
    rows = await session.exec(select(Step).where(
        Step.case_id == case.id, col(Step.status).in_(NEED_ENDED),
        Step.satisfied_by_type == CLOSURE_MARK,
    ).order_by(col(Step.created_at), col(Step.id)))
    closed = list(rows.all())
    open_now = {(s.code, s.subject_id) for s in await open_steps_of(session, case.id)}
    ended = await ended_codes(session, wctx.pack, case.id) if closed else frozenset()
    steps = []
    for step in closed:
        step.satisfied_by_type = step.satisfied_by_id = None
        if (step.code, step.subject_id) in open_now:
            session.add(step)  # one duty, one step: this reopening's act opened it anew
            continue
        if step.code in ended:  # e.g. the child died after the closure: this work has ended
            step.note = _append(step.note, "Not reinstated: an event recorded on the case "
                                           "has ended this work")
            session.add(step)
            continue
        steps.append(step)
        step.status = StepStatus.open
        step.completed_at = step.completed_by = None
        step.note = _append(step.note, f"Reinstated: {reason}")
        moved_from = step.due_at
        if paused is not None:
            _resume_clock(step, *paused, wctx.policy.calendar)
        attr = ACTOR_FIELDS.get(step.actor)
        if attr and step.assignee_id is not None:
            step.assignee_id = getattr(case, attr)
        if paused is not None and step.due_at != moved_from:
            await _in_week_after_resume(session, wctx.pack, case, step, paused[2],
                                        wctx.policy.calendar)
        session.add(step)
        await wctx.audit(
            "step.reinstate", entity_type="step", entity_id=step.id, reason=reason,
            change={"code": step.code, "rule": step.rule_id, "status": str(step.status),
                    "due_at": iso_utc(step.due_at) if step.due_at else None},
        )
        await emit(session, "step.reinstated", step.id, service_id=service.id,
                   payload={"case_id": str(case.id), "step_id": str(step.id),
                            "code": step.code, "occurred_at": iso_utc(wctx.occurred_at)})
    await session.flush()
    return steps


async def reopen_done_by(
    wctx: WriteContext, *, act: tuple[str, uuid.UUID], note: str,
    exclude_subject: uuid.UUID | None = None, codes: Sequence[str] | None = None,
    ids: Collection[uuid.UUID] | None = None,
) -> list[Step]:
    """The act ``(kind, id)`` no longer answers the steps it did (a referral withdrawn or
    declined, A10-26; an agenda item withdrawn before the panel heard the case, attack passes
    16 and 17, A16-19, A17-2): each is owed again as a new open step with the done one's
    deadline, reasons and subject, unless one of its code and subject is open already; each is
    audited as created, with ``note``. Not a step about ``exclude_subject`` (the act itself);
    with ``codes``, only steps of those codes; with ``ids``, only those steps.
    The caller re-dates what waits for a panel (:func:`redate_returning_next_panel_steps`)."""
    session = wctx.session
    kind, ident = act
    query = select(Step).where(
        Step.case_id == wctx.case.id, Step.status == StepStatus.done,
        Step.satisfied_by_type == kind, Step.satisfied_by_id == ident)
    if exclude_subject is not None:
        query = query.where(Step.subject_id != exclude_subject)
    if codes is not None:
        query = query.where(col(Step.code).in_(list(codes)))
    if ids is not None:
        query = query.where(col(Step.id).in_(list(ids)))
    reopened = []
    for done in (await session.exec(query)).all():
        still_open = (await session.exec(select(Step.id).where(
            Step.case_id == done.case_id, Step.code == done.code,
            Step.subject_id == done.subject_id, Step.status == StepStatus.open,
        ))).first()
        if still_open is not None:
            continue
        step = owed_again(done, note=note)
        if step.deadline_form == NEXT_PANEL:
            owed_from_the_act(step, wctx.occurred_at)
        session.add(step)
        reopened.append(step)
    await session.flush()
    for step in reopened:
        await wctx.audit(
            "step.create", entity_type="step", entity_id=step.id, reason=step.note,
            change={"code": step.code, "rule": step.rule_id, "status": str(step.status),
                    "due_at": iso_utc(step.due_at) if step.due_at else None},
        )
    return reopened


def owed_from_the_act(step: Step, at: datetime) -> None:
    """A ``next-panel`` step owed again by an act at ``at`` (an agenda item withdrawn, a
    referral withdrawn or declined: :func:`reopen_done_by`) is a new duty asked for by that
    act: it is due at the next panel of the kind at or after the act, never at one that sat
    before it (Somerset 3.2.3 "refer the case to the next YJT MARP": the referral was made and
    the panel did not hear the case; fix38d, ATTACK37-6: the referral owed again after a
    withdrawal was due at a MARP a week before the withdrawal, that the case was never listed
    at, overdue from creation). Its reasons count from the act from now on (``at``, and
    ``counted_from`` for a line counted from when it became known; the first act's time kept
    as ``first_at``), so every later re-date (a panel booked, moved or cancelled) counts from
    it too. A copied date at or before the act is not its deadline: it waits for
    :func:`redate_returning_next_panel_steps` to date it as the panels stand. The done step
    keeps its own record (done late when it was), so no lateness is erased; open steps the
    act did not re-open keep a deadline that had passed (:func:`redate`)."""
    after = iso_utc(at)
    rebased = []
    for reason in step.reasons or ():
        # Owed again by this act: not answered by a listing at the sitting an earlier
        # withdrawal named (app.domain.agenda.HEARD_FROM); this act's own caller says anew.
        reason = {k: v for k, v in reason.items() if k != "heard_from"}
        moment, known = stored_instant(reason.get("at")), stored_instant(reason.get("counted_from"))
        if (moment is None or moment >= at) and (known is None or known >= at):
            rebased.append(reason)
            continue
        rebased.append({**reason, "first_at": reason.get("first_at", reason.get("at")),
                        **({"at": after} if moment is not None and moment < at else {}),
                        **({"counted_from": after} if known is not None and known < at
                           else {})})
    step.reasons = rebased
    if step.due_at is not None and stored_utc(step.due_at) <= at:
        step.due_at, step.overdue_at, step.awaiting_panel_date = None, None, True


def _working_day_form(form: str | None) -> bool:
    """Whether a step's deadline counts working days (``+Nwd``, ``next-wd``, ``+1wd-in-week``),
    or is a date agreed on the working-day calendar (``due-date``: a panel action's, refused on
    no working day, ATTACK34B-3): moved on by a reopening by working days, onto a working day."""
    if not form:
        return False
    try:
        return parse_form(form).kind in ("wd", "+1wd-in-week", AGREED_DATE)
    except ValueError:
        return False


# A panel action's due date (Somerset 4.6 "within the timeframe agreed", Wokingham's panel
# "actions (each with owner and due date)"): a working day, as the decision takes it.
AGREED_DATE = "due-date"


def _calendar_day_form(form: str | None) -> bool:
    """Whether a step's deadline counts calendar days, weeks or months (``+Nd``, ``+Nw``,
    ``+Nm``, ``every Nm``); not clock hours (``+24h``: "24 clock hours later, weekends
    included") nor a named form."""
    if not form:
        return False
    try:
        return parse_form(form).kind in ("d", "w", "m")
    except ValueError:
        return False


def onto_working_day(moment: datetime, calendar: WorkingCalendar) -> datetime:
    """``moment`` if its London day is a working day, else the same London wall time on the
    next working day."""
    day = london_date(moment)
    to = calendar.next_working_day_on_or_after(day)
    return moment if to == day else shift_local(moment, days=(to - day).days)


def closed_working_days(closed_at: datetime, reopened_at: datetime,
                        calendar: WorkingCalendar) -> int:
    """The working days a case was closed: after the closure's London date, up to and
    including the reopening's (closed and reopened the same day: none)."""
    first, last = london_date(closed_at), london_date(reopened_at)
    return sum(1 for k in range(1, (last - first).days + 1)
               if calendar.is_working_day(first + timedelta(days=k)))


def moved_on_working_days(moment: datetime, n: int, calendar: WorkingCalendar) -> datetime:
    """``moment`` moved on by ``n`` working days (from its day, or the next working day when
    it is not one), keeping its London wall time."""
    day = london_date(moment)
    to = calendar.add_working_days(calendar.next_working_day_on_or_after(day), n)
    return shift_local(moment, days=(to - day).days)


def _resume_clock(step: Step, closed_at: datetime, recorded_at: datetime,
                  reopened_at: datetime, calendar: WorkingCalendar) -> None:
    """Move a reinstated step's deadline later by the time the case was closed (from
    ``closed_at``), when it was not yet overdue when the closure was recorded
    (:func:`reinstate_closed_steps`)."""
    if step.due_at is None or step.deadline_form == NEXT_PANEL or reopened_at <= closed_at:
        return
    due, overdue = stored_utc(step.due_at), stored_utc(step.overdue_at or step.due_at)
    if overdue <= max(closed_at, recorded_at):
        # Kept, and said why beside the moved ones (attack 24b, A24b-13).
        when = (f"before the closure ({london_text(closed_at)})" if overdue <= closed_at else
                f"when the closure dated {london_text(closed_at)} was recorded on "
                f"{london_text(london_date(recorded_at))}")
        step.note = _append_once(step.note, f"Deadline kept: {london_text(due)} had passed "
                                            f"{when}; a closure and reopening do not move an "
                                            "overdue step")
        return
    if step.deadline_form == BOOKED_REVIEW:
        _resume_booked(step, due, reopened_at)
        return
    if _working_day_form(step.deadline_form):
        n = closed_working_days(closed_at, reopened_at, calendar)
        if n == 0:
            return

        def moved(moment: datetime) -> datetime:
            return moved_on_working_days(moment, n, calendar)
        step.due_at = moved(due)
        if step.overdue_at is not None:  # never before due_at (A16-4)
            step.overdue_at = max(moved(overdue), step.due_at)
        step.note = _append(step.note, f"Due date moved on by the {n} working day(s) the case "
                                       "was closed (not yet overdue at the closure)")
        return
    # Whole days, to the nearest (a closure of minutes, made in error and undone, moves
    # nothing), so a deadline keeps its time of day.
    days = round((reopened_at - closed_at) / timedelta(days=1))
    if days == 0:
        return
    step.due_at = shift_local(due, days=days)
    landed = step.due_at
    if _calendar_day_form(step.deadline_form):
        # A deadline counted in days lands on a working day (attack 34a, ATTACK34A-3): the
        # case's clock stood still while it was closed, and the moved date is nobody's
        # choice; the next working day, never an earlier one (no time taken away).
        step.due_at = onto_working_day(step.due_at, calendar)
    if step.overdue_at is not None:  # never before due_at (A16-4), whatever the clock did
        step.overdue_at = max(shift_local(overdue, days=days), step.due_at)
    note = (f"Due date moved on by the {days} day(s) the case was closed (not yet overdue at "
            "the closure)")
    if step.due_at != landed:
        day = london_date(landed)
        note += (f"; on to the next working day, {london_text(london_date(step.due_at))} "
                 f"({london_text(day)} is {calendar.why_not_working(day)})")
    step.note = _append(step.note, note)


# A review date a panel booked (Somerset 7.1.6, Wokingham's High Risk Panel): an appointment.
BOOKED_REVIEW = "review-date"


def _resume_booked(step: Step, due: datetime, reopened_at: datetime) -> None:
    """A reinstated step due on the review date a panel booked (attack 32c, ATTACK32C-6: it
    was moved on by the time the case was closed, to a date no panel agreed). Still ahead at
    the reopening, it keeps the booked date (Somerset 7.1.6 "the panel will agree and then book
    a provisional review date"; 4.3 "update the panel in line with the previously agreed review
    date"). Passed while the case was closed, the review could not take place (a panel does
    not act on a closed case) and the panel books no date for it: it is owed at the next panel
    at or after the reopening (7.2.3 "the case will remain relevant to ongoing MARP oversight"),
    awaiting one when none is booked; :func:`redate_returning_next_panel_steps` dates it."""
    if due > reopened_at:
        step.note = _append_once(step.note, f"Review date kept: {london_text(due)}, booked by "
                                            "the panel (a closure and reopening do not move "
                                            "it)")
        return
    step.deadline_form, step.due_at, step.overdue_at = NEXT_PANEL, None, None
    step.awaiting_panel_date = True
    step.note = _append(step.note, f"The review date the panel booked ({london_text(due)}) "
                                   "passed while the case was closed: due at the next panel")


BROUGHT_FORWARD = "Brought forward to the last working day before"


async def _in_week_after_resume(session: AsyncSession, pack: Pack, case: Case, step: Step,
                                reopened_at: datetime, calendar: WorkingCalendar) -> None:
    """An in-week deadline (Wokingham W4, W21) moved on by a reopening (:func:`_resume_clock`)
    ends, as any in-week deadline, on the worker's last working day before a prolonged absence
    that starts after the reopening's day and by the moved date: "If the incident becomes known
    to the worker on ... the last day before a prolonged absence (for example, the last working
    day before annual leave), it must be recorded ... before the end of the working week"
    (attack 24b, A24b-10: moved onto the first day of the worker's leave). The worker is the
    case's holder of the step's rule actor (its deadline is theirs, stood in or not). Reopened
    on a day that is not a working day, or while the worker is away, it is left as moved (as
    :func:`app.workflows.deadlines.in_week_due` counts an incident known then)."""
    if step.deadline_form != IN_WEEK or step.due_at is None:
        return
    actors = [r.actor for r in pack.lines(step.rule_id) if r.code == step.code] or [step.actor]
    attr = ACTOR_FIELDS.get(actors[0])
    worker = getattr(case, attr) if attr else None
    first, due = london_date(reopened_at), london_date(step.due_at)
    if worker is None or not calendar.is_working_day(first) or due <= first:
        return
    cap = due
    absences = prolonged_absences(
        await absences_of(session, step.service_id, worker, first),
        pack.prolonged_absence_working_days, calendar)
    for starts, ends in absences:
        if starts <= first <= ends:
            return  # away at the reopening: their stand-in's (stand_ins.settle_case)
        if first < starts <= due:
            day = starts - timedelta(days=1)
            while not calendar.is_working_day(day):
                day -= timedelta(days=1)
            cap = min(cap, day)
    if cap == due:
        return
    step.due_at = max(end_of_day(cap), stored_utc(reopened_at))
    step.overdue_at = step_overdue_at(pack, step.code, step.due_at, step.urgent, calendar)
    step.note = _append(step.note, (
        f"{BROUGHT_FORWARD} {worker}'s absence: the moved deadline fell in it "
        f"(the case was reopened)."))


NEXT_PANEL = "next-panel"


async def redate_returning_next_panel_steps(
    wctx: WriteContext, *, steps: Sequence[Step], why: str,
    resumed: tuple[datetime, datetime] | None = None,
) -> list[Step]:
    """Steps that come back open after the service's panels changed without them (``why``: a
    closed case's steps reinstated at its reopening, a withdrawn or declined referral's steps
    reopened): each ``next-panel`` one is due at the next panel of the pack's kind at or after
    the act that asked for it among the panels as they stand now, as a panel being scheduled,
    moved or cancelled re-dates the open ones (Somerset 3.2.3 "refer the case to the next YJT
    MARP", 6.2 views "before the initial panel"; attack pass 10, A10-26: a MARP moved or
    cancelled, or booked, while the case was closed left the reinstated steps on the old date
    or waiting for a date). :func:`redate` semantics, judged at the panel act that would have
    moved the step had it been open: a panel cannot be moved or cancelled once its time has come
    (409 ``panel-has-sat``), so a date whose panel no longer stands was changed before it passed
    and moves; a meeting-day date (``awaiting_panel_date``) passed before the first panel was
    booked is kept, as is a date whose panel stands (only a sooner panel can replace it). Each
    re-date is audited (``step.redate``) in the write. Answers the steps re-dated.

    ``resumed`` (a reopening): (the closure's bound, the reopening), as
    :func:`reinstate_closed_steps`'s ``paused`` judges it. A step not yet overdue at that bound
    waited for a panel that could not hear the case while it was closed: it is due at the next
    panel at or after the reopening (awaiting a date when none is booked), never at one that
    sat while the case was closed (Somerset 3.2.3 "refer the case to the next YJT MARP"; attack
    32c, ATTACK32C-4: it came back due at a MARP eleven days before the reopening, overdue at
    once, with the next MARP booked). One overdue at the bound keeps its date (a close and
    reopen launders nothing)."""
    targets = {s.id: s for s in steps
               if s.status == StepStatus.open and s.deadline_form == NEXT_PANEL}
    if not targets:
        return []
    session, case, pack = wctx.session, wctx.case, wctx.pack
    waited = set() if resumed is None else {
        s.id for s in targets.values()
        if s.due_at is None or stored_utc(s.overdue_at or s.due_at) > resumed[0]}
    open_steps = await open_steps_of(session, case.id)
    panels, extras = await snapshot_inputs(session, wctx.service, case, wctx.occurred_at)
    snap = replace(snapshot(case, open_steps), **extras)
    calendar = wctx.policy.calendar
    intents = [i for i in next_panel_redates(snap, pack, calendar, panels, wctx.occurred_at)
               if i.action == "update_due" and i.step_id in targets.keys() - waited]
    if waited and resumed is not None:
        intents += [i for i in next_panel_redates(snap, pack, calendar, panels,
                                                  wctx.occurred_at, not_before=resumed[1])
                    if i.action == "update_due" and i.step_id in waited]
    if not intents:
        return []
    rows = (await session.exec(select(Panel).where(
        Panel.service_id == wctx.service.id, Panel.kind == pack.panel_kind))).all()
    standing = {stored_utc(p.scheduled_for) for p in rows}
    redated = []
    for intent in intents:
        step = next(s for s in open_steps if s.id == intent.step_id)
        at = wctx.occurred_at
        if step.id in waited and resumed is not None:
            at = resumed[0]  # not late then: the case was closed when its panel sat
        elif step.due_at is not None and step.awaiting_panel_date:
            # A meeting day's date gives way when the first panel after the step is booked.
            raised = stored_utc(step.raised_at)
            booked = [stored_utc(p.created_at) for p in rows
                      if stored_utc(p.created_at) >= raised]
            at = min(booked, default=at)
        elif step.due_at is not None and stored_utc(step.due_at) not in standing:
            at = min(at, stored_utc(step.due_at))  # moved or cancelled before it sat
        redate(step, intent, at=at, calendar=wctx.policy.calendar, pack=pack,
               stale=_branch_notes(pack, step.code))  # a passed date kept says so
        session.add(step)
        redated.append(step)
        await wctx.audit(
            "step.redate", entity_type="step", entity_id=step.id,
            change={"code": step.code, "action": intent.action,
                    "due_at": iso_utc(step.due_at) if step.due_at else None, "reasons": []},
            reason=f"{why}: {intent.note}"[:2000] if intent.note else why,
        )
    await resettle_steps(wctx, steps=redated, why=why)
    await session.flush()
    return redated


def stored_utc(moment: datetime) -> datetime:
    """A stored instant, aware in UTC (SQLite hands back naive UTC)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


async def _life_ended(wctx: WriteContext, evaluation: Evaluation,
                      event: WorkflowEvent | None = None) -> bool:
    """Whether the case records a child's death (a ``final`` event), read only when the
    evaluation would put the case on the register or make it a priority."""
    if not any(_derived_flags(wctx.case, evaluation, wctx.pack,
                              managed=wctx.case.closed_at is None, event=event)):
        return False
    return await final_event_recorded(wctx.session, wctx.pack, wctx.case.id)


async def derive_now(wctx: WriteContext) -> PolicyResult | None:
    """The case's register, contact level and priority derived again from its state now
    (ratings, the incoming ratings still standing, fields), steps untouched: after an act
    judged only at its own moment (a back-filled transfer in, dated before a later rating:
    :func:`run_backfill` derives nothing) that changed what stands now (a transfer in at High
    dated before an own SWB low keeps the child on the High/Very High list, Somerset 9 and
    13.3; fix32a). None when nothing changed."""
    session, case = wctx.session, wctx.case
    event = WorkflowEvent(trigger="case_changed", occurred_at=wctx.occurred_at,
                          subject_id=case.id, actor_role=wctx.event_role,
                          data={"changes": {}})
    panels, extras = await snapshot_inputs(session, wctx.service, case, wctx.occurred_at)
    evaluation = evaluate_for(wctx.policy, wctx.service, case, (), event, panels, **extras)
    before = (case.on_register, case.contact_level, case.priority)
    if apply_derived(case, evaluation, wctx.pack,
                     life_ended=await _life_ended(wctx, evaluation)):
        await _follow_priority(session, case)
    if (case.on_register, case.contact_level, case.priority) == before:
        return None
    session.add(case)
    await session.flush()
    return await current(session, case)


async def end_register_and_priority(wctx: WriteContext) -> None:
    """A recorded death takes the case off the register and priority at once, as a closure
    does (attack 20, A20-2: the deceased child was listed as a very high priority case)."""
    case = wctx.case
    case.on_register = False
    if case.priority_raised:
        case.priority_raised = False  # a manager's raised priority lapses too (A20-16)
    if case.priority:
        case.priority = False
        await _follow_priority(wctx.session, case)
    wctx.session.add(case)
    await wctx.session.flush()


def _derived_flags(case: Case, evaluation: Evaluation, pack: Pack, *, managed: bool,
                   event: WorkflowEvent | None = None) -> tuple[bool, bool, bool]:
    """Whether the case is on the register, a priority, and still of raised priority after
    ``evaluation`` (none when it is not ``managed`` here: closed, or the child's death
    recorded). A manager's raised priority (``priority_raised``, Somerset 3.2.4) holds while
    the pack's ``[priority] raisable`` does (ROSH or SWB high or very high), and lapses with it
    (A20-16)."""
    on_register = evaluation.on_register_after and managed
    after = replace(snapshot(case, ()), ratings=dict(evaluation.ratings_after),
                    on_register=on_register)
    if event is not None:  # the incoming ratings the act answered (its rating not yet kept)
        after = incoming_after(event, after)
    priority, raised = derived_priority(pack, after, raised=case.priority_raised,
                                        managed=managed)
    return on_register, priority, raised


def derived_priority(pack: Pack, after: CaseSnapshot, *, raised: bool, managed: bool
                     ) -> tuple[bool, bool]:
    """(priority, still raised) of the case state ``after`` with a manager's raise
    ``raised``: the one derivation of both (an act's evaluation, :func:`_derived_flags`; a
    manager raising or clearing, :func:`set_priority_raised`). The raise holds while the pack's
    ``[priority] raisable`` does (A20-16); the case is a priority when raised or when the pack's
    ``[priority]`` holds; neither when it is not ``managed`` here (closed, or the child's death
    recorded) or the pack sets no priority."""
    raised = raised and managed and is_raisable(pack, after)
    return pack.priority is not None and managed and (raised or is_priority(pack, after)), \
        raised


def apply_derived(case: Case, evaluation: Evaluation, pack: Pack, *,
                  life_ended: bool = False, event: WorkflowEvent | None = None) -> bool:
    """Copy what the engine derived (register, contact level, priority) onto the case; True
    when its priority changed (its open steps follow: :func:`_follow_priority`)."""
    # A closed case is no longer managed here: off the register (Somerset 9) whatever it rated;
    # nor is a child whose death is recorded (``life_ended``, A20-2).
    on_register, priority, raised = _derived_flags(
        case, evaluation, pack, managed=case.closed_at is None and not life_ended, event=event)
    if case.priority_raised != raised:
        case.priority_raised = raised
    contact_level = ContactLevel(evaluation.contact_level) if evaluation.contact_level else None
    # Set only when they change, so that a case left as it was has no pending change at all
    # (the flush wrote nothing for it either way; issue 15: nothing to look at before the
    # commit, see _changed).
    if case.on_register != on_register:
        case.on_register = on_register
    if case.contact_level != contact_level:
        case.contact_level = contact_level
    if case.priority != priority:
        case.priority = priority
        return True
    return False


async def set_priority_raised(wctx: WriteContext, *, raised: bool, pack: Pack) -> None:
    """A manager raises or clears the case's priority (Somerset 3.2.4; the caller has checked
    who, the case open and, to raise, ``[priority] raisable``): ``priority_raised`` set, the
    case's ``priority`` derived again, its open steps following it."""
    case = wctx.case
    priority, case.priority_raised = derived_priority(
        pack, snapshot(case, ()), raised=raised, managed=case.closed_at is None)
    changed = case.priority != priority
    case.priority = priority
    wctx.session.add(case)
    await wctx.session.flush()
    if changed:
        await _follow_priority(wctx.session, case)


async def _follow_priority(session: AsyncSession, case: Case) -> None:
    """The case's open steps take its ``priority`` (Somerset 3.2.4 "dealt with as a priority
    at all stages"; A19-2): set when ROSH or SWB turns very high, cleared when neither is."""
    await session.exec(sa.update(Step).where(  # type: ignore[call-overload]
        col(Step.case_id) == case.id, col(Step.status) == StepStatus.open,
        col(Step.priority) != case.priority).values(priority=case.priority))


def stand_in_of(pack: Pack, step: Step) -> str | None:
    """The role that stands in for the step's named holder when they are away: its rule
    line's ``stand_in`` (Somerset 3.1: the duty manager for the line manager), if any."""
    for rule in pack.lines(step.rule_id):
        if rule.code == step.code and rule.stand_in and rule.stand_in != step.actor:
            return rule.stand_in
    return None


def stand_in_beyond(pack: Pack, rule: Rule) -> str | None:
    """Where a step of ``rule`` goes on to when its stand-in is one of the case's own holders
    (the line manager for a case holder's step) who is away too: the line's ``also_stand_in``
    for that share (Somerset 3.1 "If the line manager is unavailable, the duty manager will
    undertake these functions"), else the role the pack escalates that holder's duties to;
    never back to someone on recorded leave (attack 30b, ATTACK30B-14). None for a line whose
    stand-in is a role (the duty managers), or that has none."""
    if rule.stand_in not in ACTOR_FIELDS or rule.stand_in == rule.actor:
        return None
    return rule.also_stand_in.get(rule.stand_in) or pack.escalation.target(rule.stand_in)


def _stand_in_line(pack: Pack, step: Step) -> Rule | None:
    return next((rule for rule in pack.lines(step.rule_id)
                 if rule.code == step.code and rule.stand_in), None)


IN_WEEK = "+1wd-in-week"


def stand_in_window_end(step: Step, today: date) -> date:
    """The last day of the window in which the step's holder being away makes it the stand-in's:
    its due day (today, for an undated step). An in-week deadline (Wokingham W4, W21) already
    ends on the worker's last working day before leave ahead of them ("the last day before a
    prolonged absence"; a shorter absence leaves it as it is): it stands in only while the
    worker is away today (known while they are on leave, attack 24b, A24b-14)."""
    if step.due_at is None or step.deadline_form == IN_WEEK:
        return today
    return max(today, london_date(step.due_at))


async def stand_in_if_away(
    session: AsyncSession, pack: Pack, step: Step, today: date | None = None
) -> tuple[str, str, tuple[date, date]] | None:
    """Give an open step to its line's stand-in role (unassigned) when its assignee has a
    recorded absence on any day from ``today`` (London; default now) to its due day (today
    alone for an undated step): "unavailable" (Somerset 3.1, 2.2, 4.6) read as away on leave
    while the step is to be done. Returns (the assignee it was, the stand-in role, the
    absence) when it moved, else None; the step's note says so. No query unless the step's
    line has a stand-in and someone is named."""
    role = stand_in_of(pack, step)
    if role is None or step.assignee_id is None or step.status != StepStatus.open:
        return None
    first = today or london_date(utcnow())
    last = stand_in_window_end(step, first)
    absences = await absences_of(session, step.service_id, step.assignee_id, first)
    away = next(((s, e) for s, e in absences if s <= last and e >= first), None)
    if away is None:
        return None
    old, was = step.assignee_id, step.actor
    # The case's own holder of the stand-in role when it is one (Wokingham W7/W29's "the case
    # worker or their line manager": the case's line manager, attack 23b, A23b-5); else the
    # role, unassigned (Somerset 3.1's duty managers).
    to = None
    if role in ACTOR_FIELDS:
        to = (await session.exec(select(getattr(Case, ACTOR_FIELDS[role])).where(
            col(Case.id) == step.case_id))).first()
    too = ""
    line = _stand_in_line(pack, step)
    beyond = stand_in_beyond(pack, line) if line is not None else None
    if to is not None and beyond is not None and any(
            s <= last and e >= first
            for s, e in await absences_of(session, step.service_id, to, first)):
        # The stand-in is away too: not available either (ATTACK30B-14).
        too = f"; the {role.replace('_', ' ')} ({to}) is on recorded leave too"
        role, to = beyond, None
    step.actor, step.assignee_id = role, to
    step.note = _append(step.note, (
        f"Stood in: the {was.replace('_', ' ')} ({old}) is on recorded leave{too}; the "
        f"{role.replace('_', ' ')}{f' ({to})' if to else ''} undertakes "
        f"this step ({step.policy_ref})."))
    if pack.done_only_by(step.code):
        mode = (await session.exec(select(Case.access_mode).where(
            col(Case.id) == step.case_id))).first()
        note_restricted_act(pack, mode, step)
    return old, role, away


# The records whose author may not do a line manager's one-off check on them (next_steps.
# require_not_own_check).
# The records a line manager's one-off step checks, whose author may not do it (next_steps.
# require_not_own_check, and the stand-in for the recorder): a judgement (Somerset 3.1: the high
# rating's discussion and the plan's countersignature; Wokingham: the sign-off "will effectively
# endorse the judgement"). Not a case event: the line manager's steps an event raises are their
# own acts, not a check on its recording (Somerset 3.3 "the relevant line manager or duty
# manager will refer the case to the YJT manager", S24; 13.4.3's handover call, S26; signing off
# the case holder's transfer documentation, S31/S33; 13.2's check of the incoming documents,
# S36), so the manager who recorded the event does them.
_AUTHORED_TABLES: dict[str, Any] = {"judgement": Judgement}


def checked_reasons(step: Step) -> list[dict[str, Any]]:
    """The reasons of the step naming the record it now checks: of its reasons naming an
    authored record (:data:`_AUTHORED_TABLES`), those of the latest act (by act time, not by
    the order they were typed in: a judgement dated after another is the one a discussion of
    the rating and the plan's countersignature now look at, attack 30a, A30a-11)."""
    authored = [r for r in step.reasons or () if isinstance(r, dict)
                and str((r.get("record") or {}).get("type")) in _AUTHORED_TABLES
                and (r.get("record") or {}).get("id")]
    acts = [stored_instant(r.get("at")) for r in authored]
    latest = max((a for a in acts if a is not None), default=None)
    return [r for r, at in zip(authored, acts, strict=True) if at is None or at == latest]


async def recorded_by(
    session: AsyncSession, step: Step, recorder: tuple[str, set[str]] | None = None
) -> set[str]:
    """Who recorded the record the step now checks (:func:`checked_reasons`: the latest
    judgement among its reasons by act time); ``recorder``: the write's own author and the ids
    of the records it is writing (not yet in the database)."""
    authors: set[str] = set()
    for reason in checked_reasons(step):
        record = reason.get("record") or {}
        table = _AUTHORED_TABLES[str(record.get("type"))]
        if recorder is not None and str(record["id"]) in recorder[1]:
            authors.add(recorder[0])
            continue
        found = (await session.exec(select(table.recorded_by).where(
            table.id == uuid.UUID(str(record["id"]))))).first()
        if found:
            authors.add(str(found))
    return authors


async def held_by(session: AsyncSession, case: Case, step: Step) -> set[str]:
    """Who held the case during the period a manager's step checks: since the step was raised
    (its ``raised_at``, or its recording when earlier) to now: the current holder and every
    holder a reassignment since then replaced (the field-change history's ``case_holder_id``
    changes dated at or after that start: their ``occurred_at``, else their recording).
    Somerset 4.5's monthly review (S11) and 9's monthly discussion of the register (S41) look
    at the case holder's work over the period: a holder reassigned away during it does not
    review it under another role (attack pass 21, A21a-8)."""
    return await held_since(session, case, held_period_start(step))


async def held_since(session: AsyncSession, case: Case, start: datetime) -> set[str]:
    """Who held the case at any time from ``start`` to now: the current holder and every holder
    a reassignment dated at or after ``start`` (:func:`act_time`) replaced, the holder at
    ``start`` included (:func:`held_by`; a panel decision's review period, attack 24a,
    A24a-1)."""
    return held_from(case, await holder_changes(session, case), start)


async def holder_changes(session: AsyncSession, case: Case) -> list[tuple[datetime, str]]:
    """Each change of the case's holder (not its opening): when it happened (:func:`act_time`,
    aware UTC) and the holder it replaced. One query, for every step of a settle
    (:func:`held_from`)."""
    rows = await session.exec(select(
        RecordChange.occurred_at, RecordChange.recorded_at, RecordChange.changes).where(
        RecordChange.entity_type == "case", RecordChange.entity_id == case.id,
        col(RecordChange.created).is_(False)))
    found = []
    for occurred, recorded, changes in rows:
        moved = (changes or {}).get("case_holder_id")
        if moved and moved[0]:
            found.append((stored_utc(occurred or recorded), str(moved[0])))
    return found


def held_from(case: Case, changes: Iterable[tuple[datetime, str]], start: datetime) -> set[str]:
    """:func:`held_since` on the case's :func:`holder_changes`: the current holder and every
    holder a change dated at or after ``start`` replaced."""
    since = stored_utc(start)
    holders = {case.case_holder_id} if case.case_holder_id else set()
    holders.update(old for when, old in changes if when >= since)
    return holders


async def role_holder_at(
    session: AsyncSession, case: Case, actor: str, at: datetime, sub: str
) -> tuple[str | None, datetime | None]:
    """Who held the case's ``actor`` role (``case_holder``, ``line_manager``) at ``at``, from
    its stored holder history (the field's recorded changes at their act's time,
    :func:`act_time`; a change at ``at`` is in force at ``at``): the old value of the first
    change after ``at``, else the field now. With it, when ``sub`` next took the role after
    ``at`` (None when they did not)."""
    field = ACTOR_FIELDS[actor]
    rows = await session.exec(
        select(RecordChange.changes, act_time()).where(
            RecordChange.entity_type == "case", RecordChange.entity_id == case.id,
            col(RecordChange.created).is_(False))
        .order_by(act_time(), col(RecordChange.recorded_at)))
    since = stored_utc(at)
    holder: str | None = getattr(case, field)
    found = False
    taken: datetime | None = None
    for changes, when in rows.all():
        moved = (changes or {}).get(field)
        if not moved or moved[0] == moved[1] or stored_utc(when) <= since:
            continue
        if not found:
            holder, found = (str(moved[0]) if moved[0] else None), True
        if taken is None and moved[1] == sub:
            taken = stored_utc(when)
    return holder, taken


async def require_held_role_then(
    session: AsyncSession, principal: Any, case: Case, role: str | None, at: datetime
) -> None:
    """422 ``occurred-before-bound`` for an act recorded in the name of the case's holder of
    ``role`` (its case holder or line manager: a step done or waived, an oversight entry, a
    judgement, a referral's or an assessment's move) by its current holder, dated when they
    did not hold that role: the record says who did what when (contract: the timeline lists
    every step done "with who"), and the act then was the role's holder's then (attack 26b,
    ATTACK26B-1; attack 27, ATTACK27-2: every such act, not the step routes alone). Judged on
    the holder history at the act's date, so any period they held it counts (a manager given
    the case back records their act of their first period, ATTACK27-7); the bound named is
    when they next took the role, and who held it at the act's date. Roles held by
    membership (a duty manager, a chair) have no such bound."""
    if role not in ACTOR_FIELDS or getattr(case, ACTOR_FIELDS[role]) != principal.sub:
        return
    if stored_utc(at) >= stored_utc(peek_now()):
        return  # an act of now (undated): its actor holds the role now; no history to read
    holder, taken = await role_holder_at(session, case, role, at, principal.sub)
    if holder == principal.sub or taken is None:
        return
    require_not_before(at, taken, f"when you became the case's {role.replace('_', ' ')}; "
                                  f"{holder or 'nobody'} held it then")


def held_period_start(step: Step) -> datetime:
    """Where the period a manager's step checks starts (:func:`held_by`)."""
    return min(step.raised_at, step.created_at)


def recorder_check(pack: Pack, step: Step) -> bool:
    """A line manager's one-off check (not a recurring review) on a record: the kind of step
    its record's author may not do (next_steps.require_not_own_check) and that is given to a
    stand-in when its assignee recorded it (:func:`stand_in_for_recorder`): addressed to the
    line manager, or stood in from them (the pack line's ``stand_in``, Somerset 3.1) while
    they were away. Not the case holder's own step the line manager does in their place
    (:func:`for_case_holder`: Wokingham W7 "the case worker or their line manager" requests
    the panel, S9's referral; the line manager who judged the child high may request it,
    attack 30a, A30a-2; ATTACK30B-14)."""
    if step.recurrence or for_case_holder(pack, step):
        return False
    if step.actor == "line_manager":
        return True
    return any(rule.code == step.code and rule.actor == "line_manager"
               and rule.stand_in == step.actor for rule in pack.lines(step.rule_id))


def for_case_holder(pack: Pack, step: Step) -> bool:
    """Whether the step is the case holder's own work that another role does in their place
    (its line's ``actor`` the case holder, its ``stand_in`` the role it is with now: the line
    manager presents at the MARP, requests the panel, informs the manager, Somerset 7.1.1 and
    12, Wokingham W7): not a manager's check on the case holder's work, so neither having
    recorded what it arose from nor having held the case keeps it from the manager (attack
    30a, A30a-2)."""
    return step.actor != "case_holder" and any(
        rule.code == step.code and rule.actor == "case_holder" and rule.stand_in == step.actor
        for rule in pack.lines(step.rule_id))


async def stand_in_for_recorder(
    session: AsyncSession, pack: Pack, step: Step,
    recorder: tuple[str, set[str]] | None = None,
) -> bool:
    """Give a new line manager's check on a record the line manager recorded themselves
    (Somerset 3.1's discussion and countersignature of a high rating they judged, S5/S6) to
    the line's stand-in role (else the duty managers), unassigned, with a note, as a stand-in
    is: they are refused the step (403), so it must not sit in their queue (attack pass 19,
    A19-18: "discussed ... with the relevant line manager or duty manager")."""
    if step.assignee_id is None or not recorder_check(pack, step) \
            or step.status != StepStatus.open:
        return False
    if step.assignee_id not in await recorded_by(session, step, recorder):
        return False
    old, role = step.assignee_id, stand_in_of(pack, step) or "duty_manager"
    step.actor, step.assignee_id = role, None
    step.note = _append(step.note, (
        f"Stood in: the line manager ({old}) recorded what this step checks; the "
        f"{role.replace('_', ' ')} undertakes this step ({step.policy_ref})."))
    return True


RECORDER_MARK = "recorded what this step checks"


def _recorder(wctx: WriteContext, event: WorkflowEvent) -> tuple[str, set[str]]:
    """The write's author and the records it is writing (:func:`recorded_by`'s ``recorder``)."""
    return wctx.principal.sub, {str(event.data.get(k)) for k in ("record_id", "event_id")
                                if event.data.get(k)}


async def recheck_recorder(wctx: WriteContext, steps: Iterable[Step],
                           recorder: tuple[str, set[str]] | None = None) -> list[Step]:
    """Who owes a line manager's one-off check whose reasons changed (:func:`recorder_check`),
    decided on the record it now checks (:func:`recorded_by`), as :func:`stand_in_for_recorder`
    decides it for a new step: the case's line manager recorded it -> the stand-in role; it
    stood in for that reason and the record it checks now is someone else's -> back to the
    line manager, unless they are away before it is due or held the case in the period it
    checks. The same acts typed in any order leave it with the same owner (attack 30a,
    A30a-11). Each move is audited and announced. The steps moved."""
    session, case, moved = wctx.session, wctx.case, []
    for step in steps:
        pack = wctx.policy.pack_for(wctx.service, at=step.raised_at)
        if step.status != StepStatus.open or not recorder_check(pack, step):
            continue
        was, had = step.actor, step.assignee_id
        if step.actor == "line_manager":
            if not await stand_in_for_recorder(session, pack, step, recorder):
                continue
            why = f"the line manager ({had}) {RECORDER_MARK}"
        else:
            holder = case.line_manager_id
            moves = [line for line in (step.note or "").split("\n")
                     if line.startswith(("Stood in:", "Given back:"))]
            if holder is None or step.assignee_id is not None or not moves \
                    or RECORDER_MARK not in moves[-1] \
                    or holder in await recorded_by(session, step, recorder) \
                    or await away_for(session, step, holder, london_date(utcnow())) \
                    or holder in await held_by(session, case, step):
                continue
            step.actor, step.assignee_id = "line_manager", holder
            step.note = _append(step.note, (
                f"Given back: the line manager ({holder}) did not record what this step now "
                f"checks; the {was.replace('_', ' ')} no longer stands in ({step.policy_ref})."))
            why = f"given back to the line manager ({holder}): the record it checks is another's"
        await announce_move(session, wctx.principal, wctx.role, step, (was, step.actor),
                            (had, step.assignee_id), why)
        moved.append(step)
    return moved


# --- Who a stand-in step is with, decided from the state ---------------------------------------
# One decision for every path that may change it (a step made, re-dated, reassigned; an absence
# recorded, changed or cancelled; the days passing: app.domain.stand_ins sweeps it), so the
# owner does not depend on the order the acts were typed in (attack 30a, A30a-2, A30a-3).

NOTE_MAX = 2000  # Step.note's length
HELD_MARK = "held the case in the period under review"
_MOVE_LINES = ("Stood in:", "Given back:", "Moved:")


def stood_in_from(pack: Pack, step: Step) -> str | None:
    """The actor a step stood in from (its rule line's ``actor``, e.g. ``line_manager``) when
    it is now with that line's stand-in role: unassigned (the duty managers), or the case's
    own holder of the role when the stand-in is one (the line manager for the case holder,
    A23b-5); else None."""
    if step.status != StepStatus.open:
        return None
    for rule in pack.lines(step.rule_id):
        if rule.code == step.code and rule.stand_in == step.actor \
                and rule.actor != step.actor and rule.actor in ACTOR_FIELDS \
                and (step.assignee_id is None or rule.stand_in in ACTOR_FIELDS):
            return rule.actor
        # Gone on past a stand-in who is away too (the duty managers, ATTACK30B-14).
        if rule.code == step.code and step.assignee_id is None \
                and rule.actor in ACTOR_FIELDS and rule.actor != step.actor \
                and stand_in_beyond(pack, rule) == step.actor:
            return rule.actor
    return None


async def away_for(
    session: AsyncSession, step: Step, staff_id: str, today: date
) -> tuple[date, date] | None:
    """The recorded absence of ``staff_id`` on a day from ``today`` to the step's due day
    (today alone for an undated step), as :func:`stand_in_if_away` reads "unavailable"; None
    when they are not away then."""
    last = stand_in_window_end(step, today)
    absences = await absences_of(session, step.service_id, staff_id, today)
    return next(((s, e) for s, e in absences if s <= last and e >= today), None)


class HeldBy:
    """Who held the case in the period each of its steps checks (:func:`held_by`), from one
    read of the case's holder changes for all the steps decided (not one query a step)."""

    def __init__(self, session: AsyncSession, case: Case) -> None:
        self.session, self.case = session, case
        self.changes: list[tuple[datetime, str]] | None = None

    async def of(self, step: Step) -> set[str]:
        """Who held the case in the period ``step`` checks."""
        if self.changes is None:
            self.changes = await holder_changes(self.session, self.case)
        return held_from(self.case, self.changes, held_period_start(step))


async def resettle_step(
    session: AsyncSession, principal: Any, role: str | None, pack: Pack, case: Case,
    step: Step, *, held: HeldBy, today: date, why: str,
) -> bool:
    """Put an open step where the state puts it today (the caller holds the case's lock):
    a step that stood in goes back to the case's current holder of its actor unless one of
    the reasons to stand in holds for them (:func:`_kept_from`); a holder's step stands in
    if they are away on a day from today to its due day, or, a line manager's check, if they
    held the case in the period it checks. Whether it moved; each move is audited and
    announced, ``why`` saying what made the change (the audit's reason)."""
    if step.status != StepStatus.open or step.code == ESCALATION_CODE:
        return False
    if await _stand_in_held(session, principal, role, pack, step, held=held, why=why):
        return True
    frm = stood_in_from(pack, step) or _held_default_from(pack, step)
    if frm is not None:
        holder = getattr(case, ACTOR_FIELDS[frm])
        if holder is None or await _kept_from(session, pack, step, frm, holder,
                                              held=held, today=today):
            return await _on_along(session, principal, role, pack, case, step, today=today,
                                   why=why)
        await _give_back(session, principal, role, step, frm, holder, why=why)
        return True
    if step.assignee_id is None or stand_in_of(pack, step) is None:
        return False
    was = step.actor
    stood = await stand_in_if_away(session, pack, step, today)
    if stood is None:
        return False
    old, to, _ = stood
    step.note = capped(step.note)
    await announce_move(session, principal, role, step, (was, to), (old, step.assignee_id),
                        f"{old} is on recorded leave ({why})")
    return True


async def resettle_steps(wctx: WriteContext, *, steps: Iterable[Step], why: str) -> list[Step]:
    """:func:`resettle_step` on ``steps`` of the write's case (re-dated by it: a MARP moved,
    an earlier act recorded later), in the write: a due day moved into or out of the holder's
    leave moves the step as the absence recorded after it would (attack 30a, A30a-3); an
    escalated step re-dated so that it is no longer overdue has its escalation retired
    (:func:`retire_moot_escalations`). The steps moved."""
    steps = list(steps)
    await retire_moot_escalations(wctx, steps=steps, why=why)
    held, today, moved = HeldBy(wctx.session, wctx.case), london_date(utcnow()), []
    for step in steps:
        pack = wctx.policy.pack_for(wctx.service, at=step.raised_at)
        if await resettle_step(wctx.session, wctx.principal, wctx.role, pack, wctx.case, step,
                               held=held, today=today, why=why):
            moved.append(step)
    if moved:
        await bump_case_versions(wctx.session, {wctx.case.id})
    return moved


async def _give_back(session: AsyncSession, principal: Any, role: str | None, step: Step,
                     frm: str, holder: str, *, why: str) -> None:
    """The step that stood in is the case's ``holder`` of its actor ``frm`` again."""
    was, had = step.actor, step.assignee_id
    step.actor, step.assignee_id = frm, holder
    held_too = (" and did not hold the case in the period under review"
                if frm == "line_manager" else "")
    step.note = noted(step.note, (
        f"Given back: the {frm.replace('_', ' ')} ({holder}) is not on recorded leave "
        f"before the step is due{held_too}; the "
        f"{was.replace('_', ' ')} no longer stands in ({step.policy_ref})."))
    await announce_move(session, principal, role, step, (was, frm), (had, holder),
                        f"given back to the {frm.replace('_', ' ')} ({holder}): {why}")


async def _on_along(
    session: AsyncSession, principal: Any, role: str | None, pack: Pack, case: Case,
    step: Step, *, today: date, why: str,
) -> bool:
    """A step standing in for its absent holder with one of the case's own holders (the line
    manager for a case holder's step): with that person while they are not away before it is
    due, with the role beyond them (:func:`stand_in_beyond`: the duty managers, unassigned)
    while they are away too; never with someone on recorded leave (Somerset 3.1 "If the line
    manager is unavailable, the duty manager will undertake these functions"; attack 30b,
    ATTACK30B-14). Whether it moved."""
    line = _stand_in_line(pack, step)
    beyond = stand_in_beyond(pack, line) if line is not None else None
    if line is None or beyond is None or line.stand_in is None:
        return False
    person = getattr(case, ACTOR_FIELDS[line.stand_in])
    if person is None:
        return False
    away = await away_for(session, step, person, today) is not None
    to = (beyond, None) if away else (line.stand_in, person)
    was = (step.actor, step.assignee_id)
    if was == to:
        return False
    step.actor, step.assignee_id = to
    who = f"the {line.stand_in.replace('_', ' ')} ({person})"
    if away:
        step.note = noted(step.note, (
            f"Stood in: {who} is on recorded leave too; the {beyond.replace('_', ' ')} "
            f"undertakes this step ({step.policy_ref})."))
        reason = f"{person} is on recorded leave too ({why})"
    else:
        step.note = noted(step.note, (
            f"Given back: {who} is not on recorded leave before the step is due; they stand "
            f"in again ({step.policy_ref})."))
        reason = f"given back to {who}: {why}"
    await announce_move(session, principal, role, step, (was[0], to[0]), (was[1], to[1]),
                        reason)
    return True


async def _kept_from(session: AsyncSession, pack: Pack, step: Step, frm: str, holder: str, *,
                     held: HeldBy, today: date) -> bool:
    """Whether a step that stood in from ``frm`` stays with its stand-in rather than go back to
    the case's ``holder`` of that role: they are away before it is due (Somerset 3.1); a line
    manager's one-off check on a record they recorded (A19-18); a line manager's step checking
    a period in which they held the case (4.5; A21a-8, A25-1). Derived from the record (the
    absences, the records' authors, the holder history), whatever made the step stand in."""
    if await away_for(session, step, holder, today) is not None:
        return True
    if frm != "line_manager":
        return False
    if recorder_check(pack, step) and holder in await recorded_by(session, step):
        return True
    return holder in await held.of(step)


def _held_default_from(pack: Pack, step: Step) -> str | None:
    """``line_manager`` for a line manager's step whose line names no stand-in, now with the
    duty managers (unassigned): where :func:`_stand_in_held` puts it when its line manager held
    the case in the period it checks (Somerset S11, 4.5); else None."""
    if step.status != StepStatus.open or step.actor != "duty_manager" \
            or step.assignee_id is not None:
        return None
    lines = [rule for rule in pack.lines(step.rule_id) if rule.code == step.code]
    if lines and all(rule.actor == "line_manager" and not rule.stand_in for rule in lines):
        return "line_manager"
    return None


async def _stand_in_held(
    session: AsyncSession, principal: Any, role: str | None, pack: Pack, step: Step, *,
    held: HeldBy, why: str,
) -> bool:
    """A line manager's step whose named line manager held the case since it was raised
    (Somerset 4.5: they do not review the month they held; next_steps.held_the_case refuses
    them) stands in to the line's stand-in role, else the duty managers, unassigned, as a
    stand-in for leave does; not the case holder's own step they do in the case holder's place
    (:func:`for_case_holder`). Whether it moved (attack 25, A25-1). It goes back, as every
    stand-in does, in :func:`resettle_step` (:func:`_kept_from`)."""
    if step.actor != "line_manager" or step.assignee_id is None \
            or for_case_holder(pack, step):
        return False
    old = step.assignee_id
    if old not in await held.of(step):
        return False
    to = stand_in_of(pack, step) or "duty_manager"
    step.actor, step.assignee_id = to, None
    step.note = noted(step.note, (
        f"Stood in: the line manager ({old}) {HELD_MARK}; the "
        f"{to.replace('_', ' ')} undertakes this step ({step.policy_ref})."))
    await announce_move(session, principal, role, step, ("line_manager", to), (old, None),
                        f"the line manager ({old}) {HELD_MARK} ({why})")
    return True


async def announce_move(
    session: AsyncSession, principal: Any, role: str | None, step: Step,
    actor: tuple[str, str], assignee: tuple[str | None, str | None], reason: str,
) -> None:
    """Audit (``step.reassign``) and announce (``step.reassigned``) a step's move, in the
    write's transaction."""
    session.add(step)
    await record_audit(
        session, principal, "step.reassign", "step", step.id, service_id=step.service_id,
        case_id=step.case_id, role=role, reason=reason,
        change={"code": step.code, "actor": {"from": actor[0], "to": actor[1]},
                "assignee_id": {"from": assignee[0], "to": assignee[1]}})
    await emit(session, "step.reassigned", step.id, service_id=step.service_id,
               payload={"case_id": str(step.case_id), "step_id": str(step.id),
                        "code": step.code, "actor": actor[1], "from": assignee[0],
                        "to": assignee[1]})

    async def audit(chase: Step, change: dict[str, Any]) -> None:
        await record_audit(session, principal, "step.renote", "step", chase.id,
                           service_id=chase.service_id, case_id=chase.case_id, role=role,
                           reason=f"the overdue step was reassigned ({reason})", change=change)

    await renote_chases(session, await _chases_of(session, [step]), audit=audit,
                        occurred_at=utcnow())


def noted(note: str | None, more: str) -> str | None:
    """``note`` with the line ``more`` added, within the column's length (:func:`capped`)."""
    return capped(f"{note}\n{more}" if note else more)


def capped(note: str | None) -> str | None:
    """The note within the column's length: a step that stands in and comes back many times
    drops its oldest stand-in lines first (each move is in the audit trail)."""
    if note is None or len(note) <= NOTE_MAX:
        return note
    lines = note.split("\n")
    while len("\n".join(lines)) > NOTE_MAX:
        old = next((i for i, line in enumerate(lines[:-1]) if line.startswith(_MOVE_LINES)),
                   None)
        if old is None:
            return "\n".join(lines)[-NOTE_MAX:]
        del lines[old]
    return "\n".join(lines)


RESTRICTED_ACT_NOTE = (
    "Restricted case: this step is done only by recording its act, which needs the case: "
    "someone on the case's access list does it (its line manager always is); holders of the "
    "role the list leaves out see this duty but cannot close it.")


def note_restricted_act(pack: Pack, access_mode: str | None, step: Step) -> None:
    """Say on a role-addressed step that only its act does (``Pack.done_only_by``: countersign
    the assessment, hold the panel) on a case restricted to an allow-list who can do it: the
    holders of its role the list leaves out receive it as a bare duty but may neither open the
    record nor close the step (409 ``step-done-by-act``); staff on the list, the case's line
    manager always among them, can (attack pass 9, A9-13)."""
    if access_mode == AccessMode.allowed and step.assignee_id is None \
            and step.actor in ROLE_DUTY_ACTORS and pack.done_only_by(step.code) \
            and RESTRICTED_ACT_NOTE not in (step.note or ""):
        step.note = _append(step.note, RESTRICTED_ACT_NOTE)


# A replayed act's event data: the staff id of whoever recorded it (app.domain.replay).
ACTED_BY = "acted_by"


def assignee_for(case: Case, intent: StepIntent) -> str | None:
    """The named assignee: explicit, else the case's holder or line manager by actor."""
    if intent.assignee_id:
        return intent.assignee_id
    attr = ACTOR_FIELDS.get(intent.actor)
    return getattr(case, attr) if attr else None


def _create_step(wctx: WriteContext, *, intent: StepIntent, event: WorkflowEvent) -> Step:
    case = wctx.case
    assignee = assignee_for(case, intent)
    if assignee is None and intent.actor == event.actor_role == "duty_manager":
        # S16: the duty manager who acted is the one who must advise the line manager (an
        # act replayed after one dated before it: whoever recorded it, not the replaying
        # write's author; fix41a).
        assignee = str(event.data.get(ACTED_BY) or wctx.principal.sub)
    return Step(
        service_id=wctx.service.id, case_id=case.id, code=intent.code, rule_id=intent.rule_id,
        title=intent.title, actor=intent.actor, assignee_id=assignee,
        owner_role=owner_role(wctx, intent, event, assignee),
        due_at=intent.due_at, urgent=intent.urgent, priority=case.priority,
        awaiting_panel_date=intent.awaiting_panel_date, deadline_form=intent.deadline_form,
        recurrence=intent.recurrence, policy_pack=intent.policy_pack,
        policy_version=intent.policy_version, policy_ref=intent.policy_ref,
        subject_id=intent.subject_id, note=intent.note,
        reasons=[dict(r) for r in intent.reasons],
        raised_at=_raised_at(intent, event),
        overdue_at=step_overdue_at(wctx.pack, intent.code, intent.due_at, intent.urgent,
                                   wctx.policy.calendar),
    )


def _raised_at(intent: StepIntent, event: WorkflowEvent) -> datetime:
    """When a new step arose: the event, or the earliest act among its reasons when that came
    later (a reason a completion left owed is asked for from its own act, not the completion's:
    a review done between the two still answers it)."""
    acts = [stored_instant(r.get("at")) for r in intent.reasons]
    earliest = min((a for a in acts if a is not None), default=None)
    return earliest if earliest is not None and earliest > event.occurred_at \
        else event.occurred_at


def owner_role(
    wctx: WriteContext, intent: StepIntent, event: WorkflowEvent, assignee: str | None
) -> str | None:
    """The role a panel action's owner holds at the decision, as far as the decision shows it
    (a staff id alone says nothing of its roles): the panel's recorded chair
    (``panel_chair_id``) or the chair recording the decision is the ``chair``; else the case's
    line manager or holder. None for any other step, or an owner the decision does not place
    (a partner agency's professional)."""
    if intent.actor != "action_owner" or assignee is None:
        return None
    chair = event.data.get("panel_chair_id")
    if assignee == chair or (event.actor_role == "chair" and assignee == wctx.principal.sub):
        return "chair"
    case = wctx.case
    return "line_manager" if assignee == case.line_manager_id else \
        "case_holder" if assignee == case.case_holder_id else None


# A long-open duty (a risk management plan asked for by every judgement) keeps this many reasons.
MAX_REASONS = 50


def _add_reasons(step: Step, intent: StepIntent) -> None:
    """One duty, one step: a further reason for an open step is added to it, not a new step."""
    have = list(step.reasons or ())
    if not have:  # stored before reasons were kept: its own rule is its first reason
        have = [{"rule": step.rule_id, "pack": step.policy_pack, "ref": step.policy_ref,
                 "trigger": None, "record": {"type": "subject", "id": str(step.subject_id)}}]
    for reason in intent.reasons:
        if dict(reason) not in have:
            have.append(dict(reason))
    if len(have) > MAX_REASONS:  # the first reason and the latest ones; the audit keeps all
        have = have[:1] + have[-(MAX_REASONS - 1):]
    step.reasons = have  # reassigned so the JSON column change is tracked


def _branch_notes(pack: Pack, code: str) -> frozenset[str]:
    """The notes of the conditional deadline branches of the pack's lines for a step code."""
    return frozenset(b.note for r in pack.lines_for_code(code) if not isinstance(r.deadline, str)
                     for b in r.deadline if b.note)


def redated_note(old: str | None, new: str | None, stale: Collection[str] = ()) -> str | None:
    """A re-dated step's note: the old note without the lines that said how its previous due
    date was reached (a deadline's note, :func:`~app.workflows.deadlines.is_deadline_note`, or a
    deadline branch's note, ``stale``), then the new note's lines it does not already have. A
    "none scheduled" is replaced by "Next marp scheduled for ...", not left above it."""
    fresh = new.splitlines() if new else []
    kept = [line for line in (old or "").splitlines()
            if line in fresh or not (is_deadline_note(line) or line in stale)]
    return "\n".join(kept + [line for line in fresh if line not in kept]) or None


def _append(note: str | None, more: str) -> str:
    return append_note(note, more)


_NONE_BOOKED_YET = "; none booked yet, so the first panel booked sets the date."


def booked_since(note: str | None) -> str | None:
    """A step's note whose ``next-panel`` date (a meeting day of the panel's cadence, given
    while none was booked: :func:`~app.workflows.deadlines.next_panel_deadline`) was kept when
    a panel was booked after that day passed: said as it now stands."""
    if not note or _NONE_BOOKED_YET not in note:
        return note
    return "\n".join(
        line.removesuffix(_NONE_BOOKED_YET) + "; none was booked before that day passed."
        if line.startswith("Due at the next ") and line.endswith(_NONE_BOOKED_YET) else line
        for line in note.split("\n"))


def _append_once(note: str | None, more: str) -> str:
    """``more`` after ``note`` unless the note already says it word for word: a kept deadline
    said again by each later act that would re-date it the same way (a panel booked, then the
    case put on its agenda, at one instant) added the same sentence again (attack pass 30,
    ATTACK30B-4). A line that means something each time (a reassignment back and forth) goes
    through :func:`_append`."""
    if note and more in note.split("\n"):
        return note
    return append_note(note, more)


def note_superseded(session: AsyncSession, step: Step, at: datetime) -> None:
    """Keep with the step's supersession (its history row, :func:`note_step_act`) the time of
    the act that superseded it, ``at``, never before the step arose: the case timeline puts it
    there, not when it was typed in (ATK29-1)."""
    note_step_act(session, step.id,
                  max(stored_utc(at), stored_utc(step.raised_at or step.created_at)))


# A step whose need ended: withdrawn by the policy before it was late (superseded), or already
# late then (missed). A closure sets either aside for a reopening to reinstate.
NEED_ENDED = (StepStatus.superseded, StepStatus.missed)


def missed_when_ended(step: Step, at: datetime) -> bool:
    """Whether an open step whose need ends at ``at`` was already late then: its deadline
    (``overdue_at``: for "immediately" the end of that working day, for a step a panel's
    sitting does the end of its due day; else ``due_at``) passed before ``at``. An act at the
    deadline itself is in time. Never an escalation (a chase, not a duty of the policy)."""
    if step.code == ESCALATION_CODE:
        return False
    late_from = step.overdue_at or step.due_at
    return late_from is not None and stored_utc(late_from) < stored_utc(at)


def _close_as_ended(step: Step, *, at: datetime, why: str) -> None:
    """Close ``step`` because its need ended at ``at`` for ``why``: ``missed`` (with a note
    naming its deadline) when it was already late then, else ``superseded``."""
    if missed_when_ended(step, at):
        step.status = StepStatus.missed
        due = london_text(step.due_at) if step.due_at is not None else "?"
        cause = why.removeprefix("Superseded: ")
        step.note = _append(step.note, f"Missed: due {due}, still not done when its need "
                                       f"ended at {london_text(at)} ({cause})")
    else:
        step.status = StepStatus.superseded
        step.note = _append(step.note, superseded_note(why))


def end_need(session: AsyncSession, step: Step, *, at: datetime, why: str) -> None:
    """The one way an open step's need ends (a rating lowered by its holder or a panel, a
    de-registration, the case's closure, a transfer out, a death, custody setting its holds
    aside, a reopening's re-run): a step already late at ``at`` stays on record as missed
    (and counts late in the timeliness report), one not yet due is superseded (ATTACK34B-7:
    Somerset 4.5's monthly review, overdue, read as superseded when the rating was lowered a
    fortnight later). Its history row keeps ``at`` (:func:`note_superseded`)."""
    _close_as_ended(step, at=at, why=why)
    note_superseded(session, step, at)


async def need_ended_at(session: AsyncSession, step: Step) -> datetime | None:
    """When the need for a step that ended (superseded or missed) ended: the act time it keeps
    (``lapsed_at``, or its status change's history row, :func:`note_superseded`); None when no
    act time was kept (a supersession recorded before act times were)."""
    if step.lapsed_at is not None:
        return stored_utc(step.lapsed_at)
    rows = (await session.exec(
        select(RecordChange.occurred_at, RecordChange.changes)
        .where(RecordChange.case_id == step.case_id, RecordChange.entity_type == "step",
               RecordChange.entity_id == step.id, col(RecordChange.occurred_at).is_not(None))
        .order_by(col(RecordChange.recorded_at)))).all()
    ended = [when for when, changes in rows if when is not None
             and (status := (changes or {}).get("status")) and status[1] in NEED_ENDED]
    if ended:
        return stored_utc(ended[-1])
    # Raised already ended (no change of status on file): by an act dated before the closure
    # that set it aside, typed in after (:func:`_closed_case_steps`: the next month's
    # supervision owed from a review corrected after the closure, ATTACK38-1), at the
    # closure's date; or by an act dated before the death that ended it, recorded before
    # fix41d wrote such a step open first (:func:`_end_at_later_event`, ATTACK38-3), at the
    # event's date.
    if step.satisfied_by_type == CLOSURE_MARK:
        closed = (await session.exec(select(Case.closed_at).where(
            Case.id == step.case_id))).first()
        return stored_utc(closed) if closed is not None else None
    if step.satisfied_by_type == "event" and step.satisfied_by_id is not None:
        when = (await session.exec(select(CaseEvent.occurred_at).where(
            CaseEvent.id == step.satisfied_by_id))).first()
        return stored_utc(when) if when is not None else None
    return None


async def ended_by_later_event(session: AsyncSession, pack: Pack, step: Step, at: datetime
                               ) -> datetime | None:
    """When a step ended by an event dated after ``at`` that ends its code (the pack's
    ``ends_steps``/``ends_earlier_steps``: a child's death) was ended: that event's date, for
    an act at ``at`` that does the step, typed in after the event (fix43c, ATTACK41-8/-10). In
    time order the act did it and the event found it done. None for any other step."""
    if step.status not in NEED_ENDED or step.satisfied_by_type != "event" \
            or step.satisfied_by_id is None:
        return None
    found = (await session.exec(select(CaseEvent.type, CaseEvent.occurred_at).where(
        CaseEvent.id == step.satisfied_by_id))).first()
    if found is None:
        return None
    kind, when = found
    ends = set(pack.ending_events().get(str(kind), ())) \
        | set(pack.earlier_ending_events().get(str(kind), ()))
    if step.code not in ends or stored_utc(when) <= stored_utc(at):
        return None
    return stored_utc(when)


def undo_later_end(session: AsyncSession, step: Step, at: datetime) -> None:
    """Ready a step :func:`ended_by_later_event` found to be closed by the act at ``at`` dated
    before that event: the line the event's ending added to its note is taken off, the link to
    the event dropped, and its change of status dated at ``at``, as the record reads when the
    act was typed in first (the ending's audit entry stays; the timeline leaves it out, the
    step being done before it)."""
    lines = (step.note or "").split("\n")
    step.note = "\n".join(lines[:-1]) or None
    step.satisfied_by_type = step.satisfied_by_id = None
    note_step_act(session, step.id, at)


def missed_by_act(session: AsyncSession, step: Step, *, at: datetime, why: str) -> None:
    """Close ``step`` as missed by the act at ``at`` that left it undone for good, whatever
    the clock said: a panel sitting on the case before a step owed *before* it was done (the
    pack's ``panel_decision_misses``: Somerset 6.2, "Child and parent/carer views will be
    sought before the initial panel"; the MARP sat without them). Not the chair's doing: no
    completion in anyone's name; its note names the deadline and ``why``, its history row
    keeps ``at`` (:func:`note_superseded`)."""
    step.status = StepStatus.missed
    due = london_text(step.due_at) if step.due_at is not None else "no timescale"
    step.note = _append(step.note, f"Missed: due {due}, not done: {why}")
    note_superseded(session, step, at)


def step_change(step: Step) -> dict[str, Any]:
    return {"code": step.code, "rule": step.rule_id, "status": str(step.status),
            "due_at": iso_utc(step.due_at) if step.due_at else None}


async def _audit_created(wctx: WriteContext, created: list[Step]) -> None:
    for step in created:
        await wctx.audit("step.create", entity_type="step", entity_id=step.id,
                         change=step_change(step))
