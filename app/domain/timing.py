"""When an act may be dated: never before what it belongs to.

Every write that records something that happened carries a time (``occurred_at``; a feed's
``received_at``; a case's ``opened_at`` and ``closed_at``). Besides "not more than five minutes in
the future" (``app.domain.common.resolve_occurred_at``), an act may not predate the child's birth,
the case's opening, the step it completes, the referral it moves, or the panel that decides.
Each refusal is a 422 naming the field and the bound, and the bound's value to those who may see
the case (never to a machine client: :meth:`app.core.errors.DomainError.withheld`).
"""

from __future__ import annotations

from datetime import date, datetime

from app.core.errors import Unprocessable
from app.domain.cases_table import Case
from app.domain.common import iso_utc
from app.workflows.calendar import london_date, start_of_day


def _refuse(field: str, what: str, bound: datetime | date, *,
            withheld_name: str | None = None) -> Unprocessable:
    """422 ``occurred-before-bound`` naming the bound and its value; withheld (for a caller who
    may not see the case's data: :meth:`~app.core.errors.DomainError.withheld`), the bound's
    name alone (``withheld_name``: a name that itself quotes a value, said without it)."""
    when = iso_utc(bound) if isinstance(bound, datetime) else bound.isoformat()
    name = withheld_name or what
    return Unprocessable(
        f"{field} is before {what} ({when}).",
        slug="occurred-before-bound",
        errors=[{"loc": f"body.{field}", "msg": f"must not be before {what} ({when})"}],
        extra={"bound": {"field": field, "name": what, "value": when}},
        withheld=Unprocessable(
            f"{field} is before {name}.", slug="occurred-before-bound",
            errors=[{"loc": f"body.{field}", "msg": f"must not be before {name}"}],
            extra={"bound": {"field": field, "name": name}}),
    )


def require_not_before(
    at: datetime, bound: datetime, what: str, field: str = "occurred_at"
) -> None:
    """422 when ``at`` (aware) is before ``bound`` (aware); ``what`` names the bound."""
    if at < bound:
        raise _refuse(field, what, bound)


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
    before a reopening (after its ``closed_at``, before the reopening), naming the reopening as
    the bound (attack pass 9, A9-7). While the case was closed such an act was refused (409
    ``case-closed``); it is still refused after the reopening, whenever it is typed in: what was
    done in that time was not done on an open case, and no duty is owed for it. What the pack
    reaches past closure (Somerset 12: a charge or death "up to 20 days following the end of
    supervision"; the serious incident notification) is not checked here (its caller passes
    ``after_closure``)."""
    for closed, reopened in case.closed_periods or ():
        start, end = datetime.fromisoformat(closed), datetime.fromisoformat(reopened)
        if start < at < end:
            raise _refuse(field, f"the case's reopening (it was closed from {iso_utc(start)})",
                          end, withheld_name="the case's reopening")


def closed_period(closed_at: datetime, reopened_at: datetime) -> list[str]:
    """A closed period as ``Case.closed_periods`` keeps it: RFC 3339 UTC instants."""
    return [iso_utc(closed_at), iso_utc(reopened_at)]


def require_release_within_case(
    release: date | None, opened_at: datetime, field: str = "expected_release_date"
) -> None:
    """422 when an expected release date falls before the (London) day the case opened: the
    date a child in custody is expected out is in the case's future, never before it (a 2001
    date on a 2026 case would set W16's "six months before release" deadlines in the past)."""
    if release is not None and release < london_date(opened_at):
        raise _refuse(field, "the day the case opened", london_date(opened_at))
