"""Management reports: how timely a service (or a line manager's team) has been against each
rule of its own policy, and how old its overdue steps are.

The counting is done by the database in one grouped query (plus, on SQLite only, one query for
the median), so the report stays fast on millions of steps.
"""

from __future__ import annotations

import enum
import math
import statistics
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from pydantic import BaseModel
from sqlalchemy.dialects.postgresql import DOUBLE_PRECISION
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from app.core.errors import Unprocessable
from app.core.security import Principal
from app.domain.access import (
    SERVICE_WIDE_READERS,
    lets_in,
    note_service_read,
    require_roles,
    service_of,
)
from app.domain.cases_table import Case
from app.domain.common import utcnow
from app.domain.steps import Step, StepStatus

LONDON = ZoneInfo("Europe/London")
MAX_MONTHS = 120
REPORT_WORK_MEM = "32MB"  # PostgreSQL sort memory for the report's transaction
REPORT_READERS = (*SERVICE_WIDE_READERS, "line_manager")
# Overdue ageing: (label, lowest whole days overdue, highest or None).
AGEING_BANDS: tuple[tuple[str, int, int | None], ...] = (
    ("0_7", 0, 7), ("8_28", 8, 28), ("29_90", 29, 90), ("over_90", 91, None),
)

TIMELINESS_DEFINITIONS = """\
**Who:** chairs and duty managers see the whole service; a line manager sees their own team
(the cases whose `line_manager_id` is theirs). No row names a case or a child. A restricted
case counts only for those its access list lets in: for staff it shuts out (chairs included)
it is left out of every row and of the ageing, as it is 404 everywhere else for them (api-v1,
`PATCH /v1/cases/{id}` `access`): a count by team, rule and month would otherwise point at the
one case they may not see (attack pass 30, ATTACK30B-1).

**Which steps:** the service's steps whose `due_at` falls between `from` and `to` (inclusive
London dates); a step without a timescale (no `due_at`) counts by the London date of the act
that raised it (that act's `occurred_at`).

**Definitions:**
- `due`: steps with a `due_at` in the period (open, done or missed; superseded and waived
  left out).
- `on_time`: done steps completed at or before `due_at`, judged by the completing act's
  `occurred_at` (a back-dated act counts on the date it says it happened). A step due
  `immediately` is late only after the end of that working day (23:59:59 Europe/London; the
  next working day's end when raised on a weekend or bank holiday), as the rules catalogue says.
- `late`: done steps completed after that deadline, and missed steps.
- `missed` (counted in `late` too): steps whose need ended after their deadline had passed
  with the act not done (the rating lowered by the case holder or a panel, the case
  de-registered, closed, transferred out, the child's death...): they stay on record as
  missed (status `missed`), not superseded. A need that ended at the deadline itself, or
  before it, supersedes the step (ATTACK34B-7). A step owed before a panel that the panel sat
  without (Somerset 6.2's views) is missed at the sitting. Steps superseded so before these
  rules were recorded missed by migration 0035 when their record shows it. A missed step
  whose completion, dated before its need ended, is typed in later is done from then (on
  time or late by that date; ATTACK36-6).
- `open_overdue`: steps still open whose deadline has passed (at the time of the request).
- `no_timescale`: open or done steps that carry no `due_at` (counted apart, not in `due`).
- `waived`: steps a manager waived (counted apart, not in `due` nor in the rate).
- Superseded steps (the policy withdrew them) are left out altogether.
- `on_time_rate` = `on_time / (on_time + late + open_overdue)`, null when that is 0; steps
  open and not yet due are not judged yet.
- `median_days_late`: the median of `completed_at` minus the deadline over the late steps that
  were done (a missed step has no completing act), in clock days (24 h), two decimals; null
  when none were.
- `month`: the Europe/London calendar month (`YYYY-MM`) of `due_at` (for steps
  without a timescale, of the act that raised them).
- `team`: the case's current `line_manager_id`.
- `pack`, `version`, `rule`, `code`: the policy pack and the version of it the step was raised
  under (null for steps raised before packs carried versions), the rule id and the step code.

**Grouping:** `group_by` may be given several times (`rule`, `team`, `month`); fields not
grouped on are null. Without `group_by` there is one row for the whole scope.

**Overdue ageing** (`ageing`): the open overdue steps of the same rows, by whole days past
their deadline (24 h each) at the time of the request: `0-7`, `8-28`, `29-90`, `over_90`; each
row's bands sum to its `open_overdue`.
"""


class GroupBy(enum.StrEnum):
    """What a timeliness row may be grouped on."""

    rule = "rule"
    team = "team"
    month = "month"


class TimelinessRow(BaseModel):
    """One row of the timeliness report (see the route's definitions)."""

    pack: str | None
    version: str | None
    rule: str | None
    code: str | None
    team: str | None
    month: str | None
    due: int
    on_time: int
    late: int
    missed: int
    open_overdue: int
    no_timescale: int
    waived: int
    on_time_rate: float | None
    median_days_late: float | None


class AgeingRow(BaseModel):
    """Open overdue steps of one row, by whole days overdue."""

    pack: str | None
    rule: str | None
    code: str | None
    team: str | None
    month: str | None
    days_0_7: int
    days_8_28: int
    days_29_90: int
    days_over_90: int


class TimelinessReport(BaseModel):
    """The timeliness report: its scope, rows and overdue ageing."""

    service: str
    scope: str
    date_from: date
    date_to: date
    group_by: list[GroupBy]
    generated_at: datetime
    rows: list[TimelinessRow]
    ageing: list[AgeingRow]


@dataclass(frozen=True)
class ReportQuery:
    """A validated request for the report."""

    date_from: date
    date_to: date
    group_by: tuple[GroupBy, ...]


# The dates a report may cover: the service's own times are kept within 1900-2199
# (``common.to_utc``); a London date outside it has no instant to count from.
REPORT_DATES = (date(1900, 1, 1), date(2199, 12, 31))


def check_query(date_from: date, date_to: date, group_by: Sequence[GroupBy]) -> ReportQuery:
    """Validate the period (both dates within 1900-2199, from <= to, at most 120 months); 422
    otherwise (attack pass 10, A10-28: ``to=9999-12-31`` overflowed into a 500)."""
    for name, value in (("from", date_from), ("to", date_to)):
        if not REPORT_DATES[0] <= value <= REPORT_DATES[1]:
            raise Unprocessable("A report's dates lie between 1900 and 2199.",
                                errors=[{"loc": f"query.{name}", "msg": "outside 1900-2199"}])
    if date_to < date_from:
        raise Unprocessable("`to` is before `from`.",
                            errors=[{"loc": "query.to", "msg": "must not be before from"}])
    if _months_between(date_from, date_to) > MAX_MONTHS:
        raise Unprocessable("The period is too long (120 months at most).",
                            errors=[{"loc": "query.to", "msg": "at most 120 months after from"}])
    return ReportQuery(date_from, date_to, tuple(dict.fromkeys(group_by)))


def _months_between(a: date, b: date) -> int:
    return (b.year - a.year) * 12 + b.month - a.month + 1


def london_midnight(day: date) -> datetime:
    """The instant (aware) a Europe/London calendar day starts."""
    return datetime.combine(day, time(0), tzinfo=LONDON)


def _month_starts(date_from: date, date_to: date) -> list[tuple[str, datetime]]:
    """Each London month touching the period, with the instant it starts (first one clipped)."""
    out = []
    year, month = date_from.year, date_from.month
    while (year, month) <= (date_to.year, date_to.month):
        out.append((f"{year:04d}-{month:02d}", london_midnight(date(year, month, 1))))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


def _month_expr(when: Any, date_from: date, date_to: date) -> Any:
    """London month of ``when`` as 'YYYY-MM', from precomputed UTC boundaries (both databases,
    no time-zone support needed in SQL, index-friendly)."""
    starts = _month_starts(date_from, date_to)
    whens = [(when < starts[i + 1][1], label) for i, (label, _) in enumerate(starts[:-1])]
    return sa.case(*whens, else_=starts[-1][0]) if whens else sa.literal(starts[-1][0])


def _days_late(dialect: str, src: Any) -> Any:
    """``completed_at`` minus the step's deadline (``overdue_at``, else ``due_at``) in days
    (24 h), per dialect, over the report's source columns ``src``."""
    deadline = sa.func.coalesce(src.overdue_at, src.due_at)
    if dialect == "sqlite":
        return sa.func.julianday(src.completed_at) - sa.func.julianday(deadline)
    return sa.extract("epoch", src.completed_at - deadline) / 86400.0


# What the report reads of a step (all in the covering index ix_step_service_due on
# PostgreSQL, migration 0012).
_SOURCE_COLUMNS = ("status", "due_at", "overdue_at", "completed_at", "raised_at", "policy_pack",
                   "policy_version", "rule_id", "code", "case_id")


def _shut_out(service_id: Any, staff_id: str) -> Any:
    """The ids of the service's restricted cases whose access list shuts the staff member out
    (few: read through the case's service index, then hashed for the steps' ``NOT IN``)."""
    return sa.select(col(Case.id)).where(col(Case.service_id) == service_id,
                                         col(Case.access_mode).is_not(None), ~lets_in(staff_id))


def _source(service_id: Any, start: datetime, end: datetime, reader: str) -> Any:
    """The service's counted steps of the period as a subquery: those due in it, and (UNION
    ALL: the two never overlap) those without a timescale raised in it, less the steps of the
    cases whose restriction shuts ``reader`` (a staff id) out. Two plain range reads, each
    answerable from one index (an OR of the two would need a bitmap scan of the heap)."""
    step: Any = Step.__table__  # type: ignore[attr-defined]
    columns = [step.c[name] for name in _SOURCE_COLUMNS]
    kept = [step.c.service_id == service_id, step.c.status != StepStatus.superseded,
            step.c.case_id.not_in(_shut_out(service_id, reader))]
    dated = sa.select(*columns).where(*kept, step.c.due_at >= start, step.c.due_at < end)
    undated = sa.select(*columns).where(*kept, step.c.due_at.is_(None),
                                        step.c.raised_at >= start, step.c.raised_at < end)
    return sa.union_all(dated, undated).subquery("counted_step")


def _count(*conditions: Any) -> Any:
    return sa.func.sum(sa.case((sa.and_(*conditions), 1), else_=0))


async def timeliness(
    session: AsyncSession,
    principal: Principal,
    query: ReportQuery,
    now: datetime | None = None,
) -> TimelinessReport:
    """The timeliness report for the caller's scope (service, or own team); 403 for others."""
    require_roles(principal, REPORT_READERS, "read the timeliness report")
    service = await service_of(session, principal)
    note_service_read(session, principal, service.id)
    now = now or utcnow()
    whole_service = principal.has(*SERVICE_WIDE_READERS)
    start = london_midnight(query.date_from)
    end = london_midnight(query.date_to + timedelta(days=1))
    dialect = session.get_bind().dialect.name

    source = _source(service.id, start, end, principal.sub)
    src = source.c
    status, due_at, completed = src.status, src.due_at, src.completed_at
    # When the step became late: due_at, but the end of that working day for "immediately".
    deadline = sa.func.coalesce(src.overdue_at, due_at)
    dated, undated = due_at.is_not(None), due_at.is_(None)
    counted = status.in_((StepStatus.open, StepStatus.done, StepStatus.missed))
    done = status == StepStatus.done
    is_open = status == StepStatus.open
    missed = status == StepStatus.missed
    late_cond = sa.and_(done, dated, completed > deadline)
    keys = _group_keys(query, src)
    measures = [
        _count(counted, dated).label("due"),
        _count(done, dated, completed <= deadline).label("on_time"),
        _count(sa.or_(late_cond, sa.and_(missed, dated))).label("late"),
        _count(missed, dated).label("missed"),
        _count(is_open, dated, deadline < now).label("open_overdue"),
        _count(counted, undated).label("no_timescale"),
        _count(status == StepStatus.waived).label("waived"),
    ]
    for label, low, high in AGEING_BANDS:
        conds = [is_open, dated, deadline <= now - timedelta(days=low), deadline < now]
        if high is not None:
            conds.append(deadline > now - timedelta(days=high + 1))
        measures.append(_count(*conds).label(f"age_{label}"))
    if dialect == "postgresql":
        # The late steps' days (as the float8 percentile_cont would take them), for the median
        # computed here as PostgreSQL computes it (:func:`_median_of`): percentile_cont is an
        # ordered-set aggregate, and with one in the statement PostgreSQL cannot hash the
        # groups, so it sorted every counted step of the period by its text keys (~40,000 for
        # a month of the largest national service) to count them.
        late_days = sa.cast(_days_late(dialect, src), DOUBLE_PRECISION)
        measures.append(sa.func.array_agg(late_days).filter(late_cond).label("late_days"))
    where = [] if whole_service else [col(Case.line_manager_id) == principal.sub]
    # The case is read only for a team (scope or grouping): a chair's report by rule or month
    # reads the service's steps alone (their service_id is the case's).
    with_case = not whole_service or GroupBy.team in query.group_by
    from_ = source.join(Case, col(Case.id) == src.case_id) if with_case else source
    stmt = sa.select(*[k for _, k in keys], *measures).select_from(from_).where(*where)
    if keys:
        stmt = stmt.group_by(*[k for _, k in keys]).order_by(*[k for _, k in keys])
    connection = await session.connection()
    if dialect == "postgresql":
        # The grouping sorts the period's rows (~40,000 for a month of a service with a million
        # steps: ~5 MB); the default 4 MB work_mem spills that sort to disk. For this
        # transaction only.
        await connection.execute(sa.text(f"SET LOCAL work_mem = '{REPORT_WORK_MEM}'"))
    rows = (await connection.execute(stmt)).mappings().all()
    if dialect == "postgresql":
        medians = {tuple(r[name] for name, _ in keys): median for r in rows
                   if (median := _median_of(r["late_days"])) is not None}
    else:
        medians = await _sqlite_medians(session, keys, from_, where, late_cond, src)
    return TimelinessReport(
        service=service.slug, scope="service" if whole_service else f"team:{principal.sub}",
        date_from=query.date_from, date_to=query.date_to, group_by=list(query.group_by),
        generated_at=now, rows=[_row(r, keys, medians) for r in rows],
        ageing=[_ageing(r, keys) for r in rows if (r["open_overdue"] or 0) > 0],
    )


def _group_keys(query: ReportQuery, src: Any) -> list[tuple[str, Any]]:
    keys: list[tuple[str, Any]] = []
    for group in query.group_by:
        if group == GroupBy.rule:
            keys += [("pack", src.policy_pack.label("pack")),
                     ("version", src.policy_version.label("version")),
                     ("rule", src.rule_id.label("rule")),
                     ("code", src.code.label("code"))]
        elif group == GroupBy.team:
            keys.append(("team", col(Case.line_manager_id).label("team")))
        else:
            when = sa.func.coalesce(src.due_at, src.raised_at)
            keys.append(("month", _month_expr(when, query.date_from, query.date_to)
                         .label("month")))
    return keys


def _median_of(days: list[float] | None) -> float | None:
    """``percentile_cont(0.5)`` of these values exactly as PostgreSQL computes it (sorted; the
    middle value, or ``lo + 0.5 * (hi - lo)`` of the two middle ones: its ``float8_lerp``)."""
    if not days:
        return None
    ordered = sorted(days)
    position = 0.5 * (len(ordered) - 1)
    low, high = math.floor(position), math.ceil(position)
    if low == high:
        return ordered[low]
    return ordered[low] + (position - low) * (ordered[high] - ordered[low])


async def _sqlite_medians(
    session: AsyncSession, keys: list[tuple[str, Any]], from_: Any, where: list[Any],
    late_cond: Any, src: Any,
) -> dict[tuple[Any, ...], float]:
    """Median days late per group, computed here (SQLite has no percentile aggregate)."""
    stmt = (
        sa.select(*[k for _, k in keys], _days_late("sqlite", src).label("days"))
        .select_from(from_).where(*where, late_cond)
    )
    by_group: dict[tuple[Any, ...], list[float]] = defaultdict(list)
    for r in (await (await session.connection()).execute(stmt)).mappings():
        by_group[tuple(r[name] for name, _ in keys)].append(float(r["days"]))
    return {group: statistics.median(days) for group, days in by_group.items()}


def _row(r: Any, keys: list[tuple[str, Any]], medians: dict[tuple[Any, ...], float]
         ) -> TimelinessRow:
    names = {name for name, _ in keys}
    on_time, late, overdue = (int(r["on_time"] or 0), int(r["late"] or 0),
                              int(r["open_overdue"] or 0))
    judged = on_time + late + overdue
    median = medians.get(tuple(r[name] for name, _ in keys))
    return TimelinessRow(
        pack=r["pack"] if "pack" in names else None,
        version=r["version"] if "version" in names else None,
        rule=r["rule"] if "rule" in names else None,
        code=r["code"] if "code" in names else None,
        team=r["team"] if "team" in names else None,
        month=r["month"] if "month" in names else None,
        due=int(r["due"] or 0), on_time=on_time, late=late, missed=int(r["missed"] or 0),
        open_overdue=overdue,
        no_timescale=int(r["no_timescale"] or 0), waived=int(r["waived"] or 0),
        on_time_rate=round(on_time / judged, 4) if judged else None,
        median_days_late=round(float(median), 2) if median is not None else None,
    )


def _ageing(r: Any, keys: list[tuple[str, Any]]) -> AgeingRow:
    names = {name for name, _ in keys}
    return AgeingRow(
        pack=r["pack"] if "pack" in names else None,
        rule=r["rule"] if "rule" in names else None,
        code=r["code"] if "code" in names else None,
        team=r["team"] if "team" in names else None,
        month=r["month"] if "month" in names else None,
        days_0_7=int(r["age_0_7"] or 0), days_8_28=int(r["age_8_28"] or 0),
        days_29_90=int(r["age_29_90"] or 0), days_over_90=int(r["age_over_90"] or 0),
    )

