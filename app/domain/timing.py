"""When an act may be dated: never before what it belongs to; and how far ahead a date that a
deadline hangs on may lie (a transfer date, a release date: :func:`require_not_after`).

Every write that records something that happened carries a time (``occurred_at``; a feed's
``received_at``; a case's ``opened_at`` and ``closed_at``). Besides "not more than five minutes in
the future" (``app.domain.common.resolve_occurred_at``), an act may not predate the child's birth,
the case's opening, the step it completes, the referral it moves, or the panel that decides;
and the case's opening is itself bounded behind (:func:`require_opening_within`: not before the
child's 10th birthday, nor more than 15 years before today), so every act is.
Each refusal is a 422 naming the field and the bound, and the bound's value to those who may see
the case (never to a machine client: :meth:`app.core.errors.DomainError.withheld`).
"""

from __future__ import annotations

from datetime import date, datetime

from app.core.errors import Unprocessable
from app.domain.cases_table import Case
from app.domain.common import iso_utc, peek_now
from app.workflows.calendar import london_date, start_of_day
from app.workflows.deadlines import add_months

# How far ahead a date that a deadline hangs on may lie. A duty counted from a date typed in is
# only as good as the date: a mistyped year (2099 for 2026) puts it off for decades, never
# overdue, never escalated (attack pass 18, A18-1..3). A panel is booked at most a year ahead
# and its review is at most a year after it (app.domain.panels, A10-14, A12-11); a transfer
# date and a panel action's due date are bounded the same way (neither seed plans either
# further ahead: Somerset 13.4.3 "prior to the transfer"; 7.1.x the MARP's agreed actions,
# reviewed at its "provisional review date").
YEAR_AHEAD_MONTHS = 12
# A child's expected release from custody. A detention and training order is 4 to 24 months,
# the child released at its halfway point (Sentencing Act 2020 ss.233-242): at most a year in
# custody. Longer custody comes only from detention for a grave crime or an extended sentence
# (ss.250, 254), released at the half or two-thirds point, and detention for life (s.259) has
# no expected release date (the Parole Board sets it). Youth justice services work with
# children, 10 to 17 (Crime and Disorder Act 1998 s.39; custody of a child under 12 is not
# available at all, of one under 15 only for persistence): a release ten years ahead is after
# the child turns 20 even for the youngest, when the case is long the adult probation
# service's; Wokingham's "Category 2 referrals (i.e. for children in custody) ... six months
# prior to their release" (W16) is the YJS's duty only while the child is in its care.
RELEASE_HORIZON_YEARS = 10


def a_year_after(day: date) -> date:
    """The last day a date a year ahead of ``day`` may be (the same day a year on; 28 February
    for 29 February)."""
    return add_months(day, YEAR_AHEAD_MONTHS)


def london_today() -> date:
    """Today's date in Europe/London (on the service's clock): the write's instant's day once
    it is taken, else read without taking it (a bound checked before the write's lock; the
    instant is taken under the lock, A23a-1)."""
    return london_date(peek_now())


def not_after_error(loc: str, what: str, bound: date) -> dict[str, str]:
    """The ``errors`` item of a date after ``bound`` (``what`` names it: "a year after the
    panel's date"), for a check that gathers several."""
    return {"loc": loc, "msg": f"must be at most {what} ({bound.isoformat()})"}


def require_not_after(
    value: date | None, bound: date, what: str, field: str, *,
    withheld_name: str | None = None,
) -> None:
    """422 ``date-too-far-ahead`` when ``value`` (a date a deadline hangs on) is after
    ``bound``, naming the field and the bound (``what`` and its date), never the value sent;
    withheld (a machine client), the bound's name alone (``withheld_name``) when the bound
    derives from a stored value of the case."""
    if value is None or value <= bound:
        return
    name = withheld_name or what
    raise Unprocessable(
        f"{field} is more than {what} ({bound.isoformat()}).",
        slug="date-too-far-ahead",
        errors=[not_after_error(f"body.{field}", what, bound)],
        extra={"bound": {"field": field, "name": what, "value": bound.isoformat()}},
        withheld=Unprocessable(
            f"{field} is more than {name}.", slug="date-too-far-ahead",
            errors=[{"loc": f"body.{field}", "msg": f"must be at most {name}"}],
            extra={"bound": {"field": field, "name": name}}),
    )


def require_transfer_date_within(
    case: Case, transfer_date: date | None, field: str = "transfer_date"
) -> None:
    """A transfer's date (in or out): 422 ``transfer-date-before-case`` before the (London)
    date the case opened (so never before the child's birth; withheld, the bound unnamed by its
    value), ``date-too-far-ahead`` more than a year from today. A transfer date already passed
    is accepted (Somerset 13.4.3 "or, in exceptional circumstances, as soon as possible
    thereafter"; A17-8)."""
    if transfer_date is None:
        return
    day = london_date(case.opened_at)
    if transfer_date < day:
        raise Unprocessable(
            "The transfer date is before the case was opened.",
            slug="transfer-date-before-case",
            errors=[{"loc": f"body.{field}",
                     "msg": f"must not be before the case's opening date ({day.isoformat()})"}],
            extra={"bound": {"field": field, "name": "the case's opened_at date",
                             "value": day.isoformat()}},
            withheld=Unprocessable(
                "The transfer date is before the case was opened.",
                slug="transfer-date-before-case",
                errors=[{"loc": f"body.{field}",
                         "msg": "must not be before the case's opening date"}],
                extra={"bound": {"field": field, "name": "the case's opened_at date"}}))
    require_not_after(transfer_date, a_year_after(london_today()), "a year from today", field)


def _refuse(field: str, what: str, bound: datetime | date, *,
            withheld_name: str | None = None, stored: bool = True,
            at_too: bool = False) -> Unprocessable:
    """422 ``occurred-before-bound`` naming the bound and its value; withheld (for a caller who
    may not see the case's data: :meth:`~app.core.errors.DomainError.withheld`), the bound's
    name alone (``withheld_name``: a name that itself quotes a value, said without it). A bound
    that quotes no stored value (``stored`` false: today's date, a date the request itself
    sent) is told to every caller."""
    when = iso_utc(bound) if isinstance(bound, datetime) else bound.isoformat()
    name = withheld_name or what
    is_, must = ("is not after", "must be after") if at_too else ("is before", "must not be before")
    return Unprocessable(
        f"{field} {is_} {what} ({when}).",
        slug="occurred-before-bound",
        errors=[{"loc": f"body.{field}", "msg": f"{must} {what} ({when})"}],
        extra={"bound": {"field": field, "name": what, "value": when}},
        withheld=None if not stored else Unprocessable(
            f"{field} {is_} {name}.", slug="occurred-before-bound",
            errors=[{"loc": f"body.{field}", "msg": f"{must} {name}"}],
            extra={"bound": {"field": field, "name": name}}),
    )


def require_not_before(
    at: datetime, bound: datetime, what: str, field: str = "occurred_at"
) -> None:
    """422 when ``at`` (aware) is before ``bound`` (aware); ``what`` names the bound."""
    if at < bound:
        raise _refuse(field, what, bound)


def require_after(at: datetime, bound: datetime, what: str, field: str = "occurred_at") -> None:
    """422 when ``at`` (aware) is not after ``bound`` (aware): before it or at the same
    instant; ``what`` names the bound."""
    if at <= bound:
        raise _refuse(field, what, bound, at_too=True)


def require_after_birth(at: datetime, date_of_birth: date, field: str = "occurred_at",
                        *, withheld_name: str | None = None) -> None:
    """422 when ``at`` falls before the child's date of birth (the day starts 00:00 London);
    ``withheld_name``: the bound as a caller who may not see the case is told it."""
    if at < start_of_day(date_of_birth):
        raise _refuse(field, "the child's date of birth", date_of_birth,
                      withheld_name=withheld_name)


def require_within_case(
    case: Case, at: datetime, field: str = "occurred_at", *, after_closure: bool = False
) -> None:
    """422 when an act on the case predates the child's birth or the case's opening, or falls
    while the case was closed (:func:`require_outside_closed_periods`; not for what the pack
    reaches past closure: ``after_closure``)."""
    # Withheld (a machine client), a time before the birth is refused as before the opening
    # (a case opens after the birth, so that is true): one answer for both, so trying dates
    # does not find where the child's birth lies (attack pass 16, A16-10b: a feed recovered a
    # restricted child's date of birth in 19 refused deliveries).
    require_after_birth(at, case.date_of_birth, field, withheld_name="the case's opened_at")
    require_not_before(at, case.opened_at, "the case's opened_at", field)
    if not after_closure:
        require_outside_closed_periods(case, at, field)


def require_outside_closed_periods(case: Case, at: datetime, field: str = "occurred_at") -> None:
    """422 ``occurred-before-bound`` when ``at`` falls inside a period the case was closed
    before a reopening (from its ``closed_at``, before the reopening), naming the reopening as
    the bound (attack pass 9, A9-7). While the case was closed such an act was refused (409
    ``case-closed``); it is still refused after the reopening, whenever it is typed in: what was
    done in that time was not done on an open case, and no duty is owed for it. What the pack
    reaches past closure (Somerset 12: a charge or death "up to 20 days following the end of
    supervision"; the serious incident notification) is not checked here (its caller passes
    ``after_closure``)."""
    period = in_closed_period(case, at)
    if period is not None:
        start, end = period
        raise _refuse(field, f"the case's reopening (it was closed from {iso_utc(start)})",
                      end, withheld_name="the case's reopening")


def in_closed_period(case: Case, at: datetime) -> tuple[datetime, datetime] | None:
    """The period before a reopening that ``at`` falls inside (from the closure's instant, before
    the reopening's: :meth:`~app.workflows.types.CaseSnapshot.closure_in_force`), or None."""
    for closed, reopened in case.closed_periods or ():
        start, end = datetime.fromisoformat(closed), datetime.fromisoformat(reopened)
        if start <= at < end:
            return start, end
    return None


def closed_period(closed_at: datetime, reopened_at: datetime) -> list[str]:
    """A closed period as ``Case.closed_periods`` keeps it: RFC 3339 UTC instants."""
    return [iso_utc(closed_at), iso_utc(reopened_at)]


def require_release_within_case(
    release: date | None, opened_at: datetime, field: str = "expected_release_date"
) -> None:
    """422 when an expected release date falls before the (London) day the case opened: the
    date a child in custody is expected out is in the case's future, never before it (a 2001
    date on a 2026 case would set W16's "six months before release" deadlines in the past);
    ``date-too-far-ahead`` when it is more than ten years from today
    (:data:`RELEASE_HORIZON_YEARS`; a 2099 date put W16's referral off to 2098: A18-3)."""
    if release is None:
        return
    if release < london_date(opened_at):
        raise _refuse(field, "the day the case opened", london_date(opened_at))
    require_not_after(release, add_months(london_today(), 12 * RELEASE_HORIZON_YEARS),
                      "ten years from today", field)


# A staff absence (leave, sickness, training): booked at most a year ahead, typed in late at most
# two years after it began (a long sickness recorded when the worker is back, an audit's
# correction). Beyond either, a mistyped year (2099 or 2000 for 2026: attack 21,
# A21a-7) is stored silently: a leave in 2099 blocks the real one it overlaps, one in 2000 moves
# nothing. The stand-ins and re-dating an absence drives (Somerset 3.1, Wokingham W4) concern
# the steps open now.
ABSENCE_BEHIND_MONTHS = 24


def require_absence_dates_within(starts_on: date | None, ends_on: date | None) -> None:
    """422 for an absence's dates (London dates, whichever were sent): ``ends_on`` more than a
    year from today is ``date-too-far-ahead``, ``starts_on`` more than two years before today
    ``occurred-before-bound``, each naming the field and the bound."""
    today = london_today()
    require_not_after(ends_on, a_year_after(today), "a year from today", "ends_on")
    earliest = add_months(today, -ABSENCE_BEHIND_MONTHS)
    if starts_on is not None and starts_on < earliest:
        raise _refuse("starts_on", "two years before today", earliest)


# The oldest a child may be when their case opens. Youth justice services work with children
# aged 10 to 17 at the time of the offence (Crime and Disorder Act 1998 s.39, s.117), whose
# orders may run past 18 (a YJS keeps a child turning 18 during an order; a transfer to the
# probation service follows): a date of birth 25 or more years before the opening is a
# mistyped year (1900 for 2010: attack 21, A21a-7), which would also hide the child from the
# possible-duplicate match on date of birth.
OLDEST_CHILD_YEARS = 25


def require_child_age_at_opening(date_of_birth: date, opened_at: datetime) -> None:
    """422 ``occurred-before-bound`` when ``date_of_birth`` is more than
    :data:`OLDEST_CHILD_YEARS` years before the London date the case opens, naming the field
    and the bound (the earliest date of birth accepted)."""
    earliest = add_months(london_date(opened_at), -12 * OLDEST_CHILD_YEARS)
    if date_of_birth < earliest:
        raise _refuse("child.date_of_birth",
                      f"{OLDEST_CHILD_YEARS} years before the case opened", earliest)



# The youngest child a youth justice service works with: 10, the age of criminal responsibility
# in England and Wales (Children and Young Persons Act 1933 s.50); youth offending teams work
# with children aged 10 to 17 (Crime and Disorder Act 1998 s.39, s.117). Neither seed names an
# age (their prevention work, Somerset 2.1/15.1 "non statutory cases", is with the same
# children): a case opened before the child's 10th birthday is a mistyped date (2000 for
# 2020), and would date every duty it raises years before it could have been owed.
YOUNGEST_CHILD_YEARS = 10
# How long before today a case recorded now may have opened. Cases are opened open (a create
# carries no closure): the service works with the child today. A child is at least 10 when the
# case opens and at most 25 (OLDEST_CHILD_YEARS), so no case the service still works on opened
# more than 15 years ago (the youngest child then 25); the longest real case, a child of 10
# whose orders run past 18 (a youth rehabilitation order is at most three years), is open about
# 11. An opened_at of 1900 or 1950 (attack 22, A22-2) put every derived duty decades in the
# past, flooding the overdue queues and escalations.
OPEN_CASE_YEARS = OLDEST_CHILD_YEARS - YOUNGEST_CHILD_YEARS


def tenth_birthday(date_of_birth: date) -> date:
    """The child's 10th birthday (:data:`YOUNGEST_CHILD_YEARS`; 28 February for a child born
    on 29 February)."""
    return add_months(date_of_birth, 12 * YOUNGEST_CHILD_YEARS)


def require_opening_within(opened_at: datetime, date_of_birth: date,
                           field: str = "opened_at") -> None:
    """422 ``occurred-before-bound`` when a case's ``opened_at`` (aware) is on a London date more
    than :data:`OPEN_CASE_YEARS` years before today, or before the child's 10th birthday (00:00
    London), each naming the field and the bound with its value (to a machine client too: at
    opening both dates are the request's own, nothing stored)."""
    earliest = add_months(london_today(), -12 * OPEN_CASE_YEARS)
    if london_date(opened_at) < earliest:
        raise _refuse(field, f"{OPEN_CASE_YEARS} years before today", earliest, stored=False)
    tenth = tenth_birthday(date_of_birth)
    if opened_at < start_of_day(tenth):
        raise _refuse(field, "the child's 10th birthday", tenth, stored=False)


def require_ten_at_opening(date_of_birth: date, opened_at: datetime) -> None:
    """422 ``occurred-before-bound`` on ``child.date_of_birth`` when a corrected date of birth
    would put the case's opening before the child's 10th birthday (:func:`require_opening_within`
    from the other side), naming the bound (the latest date of birth accepted, 10 years before
    the London date the case opened); withheld (a machine client), the bound's name alone: the
    value would say when the case opened."""
    if opened_at >= start_of_day(tenth_birthday(date_of_birth)):
        return
    latest = add_months(london_date(opened_at), -12 * YOUNGEST_CHILD_YEARS)
    name = f"{YOUNGEST_CHILD_YEARS} years before the case opened"
    raise Unprocessable(
        "The child would have been under 10 when the case opened.",
        slug="occurred-before-bound",
        errors=[{"loc": "body.child.date_of_birth",
                 "msg": f"must not be after {name} ({latest.isoformat()})"}],
        extra={"bound": {"field": "child.date_of_birth", "name": name,
                         "value": latest.isoformat()}},
        withheld=Unprocessable(
            "The child would have been under 10 when the case opened.",
            slug="occurred-before-bound",
            errors=[{"loc": "body.child.date_of_birth", "msg": f"must not be after {name}"}],
            extra={"bound": {"field": "child.date_of_birth", "name": name}}))
