"""The working calendar and the deadline forms, on real dates, plus calendar properties."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, date, datetime, time, timedelta
from uuid import UUID

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from app.workflows.calendar import (
    LONDON,
    WorkingCalendar,
    end_of_day,
    london_date,
    london_text,
    start_of_day,
)
from app.workflows.deadlines import (
    DeadlineInputs,
    add_months,
    compute_due,
    in_week_due,
    is_valid_form,
    overdue_at_for,
    parse_form,
)
from app.workflows.types import ScheduledPanel
from tests.workflows.support import (
    CHRISTMAS_EVE,
    FRI_BEFORE_BANK_HOLIDAY,
    THU_BEFORE_GOOD_FRIDAY,
    calendar,
    end_of,
    lon,
    utc,
)


def due(form: str, at: datetime, **inputs: object) -> datetime | None:
    """The due instant of a form for an event at ``at``."""
    return compute_due(form, DeadlineInputs(occurred_at=at, **inputs), calendar()).due_at  # type: ignore[arg-type]


def test_bank_holidays_come_from_the_library_for_england_and_wales() -> None:
    """Bank holidays come from the library for england and wales."""
    cal = calendar()
    for holiday in (date(2026, 4, 3), date(2026, 4, 6), date(2026, 5, 4), date(2026, 5, 25),
                    date(2026, 8, 31), date(2026, 12, 25), date(2026, 12, 28)):
        assert not cal.is_working_day(holiday), holiday
    assert cal.is_working_day(date(2026, 12, 24))
    assert cal.is_working_day(date(2026, 12, 29))
    assert not cal.is_working_day(date(2026, 8, 29))  # Saturday


def test_bank_holidays_are_the_librarys_public_england_and_wales_calendar() -> None:
    """The calendar's bank holidays, dates and names, are exactly what
    ``holidays.country_holidays("GB", subdiv="ENG")`` gives, 1990 to 2080."""
    import holidays

    ours = WorkingCalendar()
    public = holidays.country_holidays("GB", subdiv="ENG", years=range(1990, 2081))
    for day in (date(1990, 1, 1) + timedelta(days=n) for n in range(33_000)):
        assert ours.is_bank_holiday(day) == (day in public), day
    ours.is_bank_holiday(date(2080, 12, 31))
    mine = {day: name for day, name in ours._bank_holidays.items() if day.year <= 2080}
    assert mine == dict(public.items())


def test_the_calendar_imports_no_other_countrys_holidays() -> None:
    """Building a WorkingCalendar (every API process does) imports the library's one module for
    GB, not its ~280 country modules (~8 MB of a process: issue 15, goal 5)."""
    probe = ("import sys; from datetime import date; "
             "from app.workflows.calendar import WorkingCalendar; "
             "assert not WorkingCalendar().is_working_day(date(2026, 8, 31)); "
             "print(sorted(m for m in sys.modules if m.startswith('holidays.countries')))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip() == "[]"


def test_extra_closures_are_not_working_days() -> None:
    """Extra closures are not working days."""
    cal = WorkingCalendar(extra_closures=[date(2026, 9, 1)])
    assert not cal.is_working_day(date(2026, 9, 1))
    assert cal.add_working_days(date(2026, 8, 28), 1) == date(2026, 9, 2)
    assert cal.extra_closures == frozenset({date(2026, 9, 1)})


def test_end_of_day_is_2259_utc_in_summer_time_and_2359_in_winter() -> None:
    """End of day is 2259 utc in summer time and 2359 in winter."""
    assert end_of_day(date(2026, 3, 28)) == utc(2026, 3, 28, 23, 59, 59)
    assert end_of_day(date(2026, 3, 29)) == utc(2026, 3, 29, 22, 59, 59)
    assert end_of_day(date(2026, 10, 24)) == utc(2026, 10, 24, 22, 59, 59)
    assert end_of_day(date(2026, 10, 25)) == utc(2026, 10, 25, 23, 59, 59)
    assert calendar().end_of_day(date(2026, 7, 1)).tzinfo == UTC
    assert start_of_day(date(2026, 7, 1)) == utc(2026, 6, 30, 23)


def test_last_working_day_of_week() -> None:
    """Last working day of week."""
    cal = calendar()
    assert cal.last_working_day_of_week(date(2026, 8, 25)) == date(2026, 8, 28)
    assert cal.last_working_day_of_week(date(2026, 3, 31)) == date(2026, 4, 2)  # Easter week
    assert cal.last_working_day_of_week(date(2026, 12, 21)) == date(2026, 12, 24)
    assert cal.last_working_day_of_week(date(2026, 12, 30)) == date(2026, 12, 31)
    week = [date(2026, 6, 1) + timedelta(days=i) for i in range(5)]
    closed = WorkingCalendar(extra_closures=week)
    assert closed.last_working_day_of_week(date(2026, 6, 3)) is None


def test_plus_24h_is_clock_hours_even_across_the_march_clock_change() -> None:
    """Plus 24h is clock hours even across the march clock change."""
    at = lon(2026, 3, 28, 12)  # GMT; BST starts at 01:00 UTC on Sunday 29 March
    assert due("+24h", at) == utc(2026, 3, 29, 12)
    assert due("+24h", FRI_BEFORE_BANK_HOLIDAY) == utc(2026, 8, 29, 14, 30)


def test_calendar_days_keep_the_london_wall_time_across_clock_changes() -> None:
    """Calendar days keep the london wall time across clock changes."""
    assert due("+1d", lon(2026, 3, 28, 12)) == utc(2026, 3, 29, 11)  # 12:00 BST
    assert due("+1w", lon(2026, 10, 20, 9)) == utc(2026, 10, 27, 9)  # 09:00 GMT


def test_working_days_skip_weekends_and_bank_holidays() -> None:
    """Working days skip weekends and bank holidays."""
    assert due("+2wd", FRI_BEFORE_BANK_HOLIDAY) == end_of(date(2026, 9, 2), bst=True)
    assert due("+2wd", THU_BEFORE_GOOD_FRIDAY) == end_of(date(2026, 4, 8), bst=True)
    assert due("next-wd", CHRISTMAS_EVE) == end_of(date(2026, 12, 29), bst=False)
    assert due("+1wd", lon(2026, 3, 27, 17)) == end_of(date(2026, 3, 30), bst=True)
    assert due("+1wd", lon(2026, 10, 23, 17)) == end_of(date(2026, 10, 26), bst=False)


def test_event_day_is_taken_in_london_not_utc() -> None:
    # 23:30 UTC on Thursday 2 April is already Friday (Good Friday) in London.
    """Event day is taken in london not utc."""
    late = datetime(2026, 4, 2, 23, 30, tzinfo=UTC)
    assert london_date(late) == date(2026, 4, 3)
    assert due("+1wd", late) == end_of(date(2026, 4, 7), bst=True)


def test_one_working_day_in_week() -> None:
    """One working day in week."""
    assert due("+1wd-in-week", lon(2026, 10, 20, 16)) == end_of(date(2026, 10, 21), bst=True)
    assert due("+1wd-in-week", FRI_BEFORE_BANK_HOLIDAY) == end_of(date(2026, 8, 28), bst=True)
    assert due("+1wd-in-week", THU_BEFORE_GOOD_FRIDAY) == end_of(date(2026, 4, 2), bst=True)
    assert due("+1wd-in-week", lon(2026, 8, 30, 12)) == end_of(date(2026, 9, 1), bst=True)
    assert due("+1wd-in-week", lon(2026, 4, 3, 12)) == end_of(date(2026, 4, 7), bst=True)
    assert in_week_due(date(2026, 12, 30), calendar()) == date(2026, 12, 31)


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        (date(2026, 1, 31), 1, date(2026, 2, 28)),
        (date(2028, 1, 31), 1, date(2028, 2, 29)),
        (date(2026, 8, 31), 6, date(2027, 2, 28)),
        (date(2027, 8, 31), -6, date(2027, 2, 28)),
        (date(2026, 12, 15), 1, date(2027, 1, 15)),
        (date(2026, 3, 31), -1, date(2026, 2, 28)),
    ],
)
def test_month_steps_clamp_to_the_month_end(start: date, months: int, expected: date) -> None:
    """Month steps clamp to the month end."""
    assert add_months(start, months) == expected


def test_plus_one_month_from_31_january() -> None:
    """Plus one month from 31 january."""
    assert due("+1m", lon(2026, 1, 31, 14, 5)) == utc(2026, 2, 28, 14, 5)
    assert due("every 1m", lon(2026, 1, 31, 14, 5)) == utc(2026, 2, 28, 14, 5)
    assert parse_form("every 1m").recurrence == "1m"


def test_named_forms() -> None:
    """Named forms."""
    first = ScheduledPanel(UUID(int=1), "marp", lon(2026, 9, 3, 10))
    other = ScheduledPanel(UUID(int=2), "high_risk_panel", lon(2026, 9, 1, 10))
    at = FRI_BEFORE_BANK_HOLIDAY
    immediate = compute_due("immediately", DeadlineInputs(at), calendar())
    assert immediate.due_at == utc(2026, 8, 28, 14, 30)
    assert immediate.urgent
    assert due("next-panel", at, panels=[other, first], panel_kind="marp") == utc(2026, 9, 3, 9)
    waiting = compute_due("next-panel", DeadlineInputs(at, panel_kind="marp"), calendar())
    assert waiting.due_at is None
    assert waiting.awaiting_panel_date
    assert due("release-6m", at, expected_release_date=date(2027, 3, 31)) == end_of(
        date(2026, 9, 30), bst=True)
    assert compute_due("release-6m", DeadlineInputs(at), calendar()).note
    assert due("review-date", at, review_date=date(2026, 12, 24)) == utc(2026, 12, 24, 23, 59, 59)
    assert due("before-transfer", at, transfer_date=date(2026, 10, 26)) == utc(2026, 10, 26)
    assert due("due-date", at, due_date=date(2026, 10, 25)) == utc(2026, 10, 25, 23, 59, 59)
    assert due("none", at) is None


@pytest.mark.parametrize("form", ["+3 days", "2wd", "every week", "asap", "+1y", ""])
def test_unknown_forms_are_rejected(form: str) -> None:
    """Unknown forms are rejected."""
    assert not is_valid_form(form)
    with pytest.raises(ValueError, match="unknown deadline form"):
        parse_form(form)


# --- properties ------------------------------------------------------------------------------

instants = st.datetimes(
    min_value=datetime(2024, 1, 1), max_value=datetime(2030, 12, 31), timezones=st.just(UTC)
)


@settings(max_examples=300, deadline=None)
@given(at=instants, n=st.integers(min_value=1, max_value=15))
def test_working_day_deadline_lands_on_a_working_day_after_the_event(at: datetime, n: int) -> None:
    """Working day deadline lands on a working day after the event."""
    deadline = due(f"+{n}wd", at)
    assert deadline is not None
    assert deadline.tzinfo == UTC
    local_day = deadline.astimezone(LONDON).date()
    assert calendar().is_working_day(local_day)
    assert local_day.weekday() < 5
    assert not calendar().is_bank_holiday(local_day)
    assert deadline > at
    assert deadline.astimezone(LONDON).time().isoformat() == "23:59:59"


@settings(max_examples=200, deadline=None)
@given(at=instants, n=st.integers(min_value=1, max_value=10))
def test_working_day_deadlines_are_monotonic_in_n(at: datetime, n: int) -> None:
    """Working day deadlines are monotonic in n."""
    earlier, later = due(f"+{n}wd", at), due(f"+{n + 1}wd", at)
    assert earlier is not None
    assert later is not None
    assert earlier < later


@settings(max_examples=200, deadline=None)
@given(at=instants)
def test_in_week_deadline_is_a_working_day_no_later_than_next_working_day(at: datetime) -> None:
    """In week deadline is a working day no later than next working day."""
    in_week, next_wd = due("+1wd-in-week", at), due("+1wd", at)
    assert in_week is not None
    assert next_wd is not None
    assert at <= in_week <= next_wd
    assert calendar().is_working_day(in_week.astimezone(LONDON).date())


@settings(max_examples=200, deadline=None)
@given(at=instants, hours=st.integers(min_value=1, max_value=72))
def test_clock_hours_are_exact(at: datetime, hours: int) -> None:
    """Clock hours are exact."""
    assert due(f"+{hours}h", at) == at + timedelta(hours=hours)
    assert due("+24h", at.astimezone(LONDON)) == at + timedelta(hours=24)


@settings(max_examples=200, deadline=None)
@given(at=instants, months=st.integers(min_value=1, max_value=24))
@example(at=datetime(2024, 4, 30, 0, 0, tzinfo=UTC), months=11)  # 01:00 on 30 Mar 2025: the gap
def test_month_deadlines_never_precede_the_event_and_keep_wall_time(
    at: datetime, months: int
) -> None:
    """Month deadlines never precede the event and keep wall time; a wall time that does not
    exist on the target day (inside the spring-forward gap) is read as PEP 495 and zoneinfo
    document for fold=0: with the offset before the change, i.e. an hour later on the clock."""
    deadline = due(f"+{months}m", at)
    assert deadline is not None
    assert deadline > at
    wall_in, wall_out = at.astimezone(LONDON), deadline.astimezone(LONDON)
    assert wall_out.day <= wall_in.day
    intended = datetime.combine(wall_out.date(), wall_in.time(), LONDON)
    exists = intended.astimezone(UTC).astimezone(LONDON).time() == wall_in.time()
    if not exists:
        assert deadline == intended.astimezone(UTC)
    elif wall_in.fold == 0 and wall_out.utcoffset() == wall_in.utcoffset():
        assert wall_out.time() == wall_in.time()


# Instants to the microsecond, with every day's last second over-represented (where the day's
# end, written to the second, falls before the act itself).
last_seconds = st.builds(
    lambda day, micro: (datetime.combine(day, time(23, 59, 59, micro), LONDON)
                        .astimezone(UTC)),
    st.dates(min_value=date(2024, 1, 1), max_value=date(2030, 12, 31)),
    st.integers(min_value=0, max_value=999_999))


@settings(max_examples=400, deadline=None)
@given(at=st.one_of(instants, last_seconds),
       form=st.sampled_from(["immediately", "+1wd-in-week", "next-wd", "+1wd", "+24h", "+1m",
                             "release-6m", "review-date", "due-date"]))
@example(at=datetime(2026, 10, 30, 23, 59, 59, 999_999, tzinfo=UTC), form="immediately")
@example(at=datetime(2026, 10, 31, 23, 59, 59, 999_999, tzinfo=UTC), form="immediately")
@example(at=datetime(2026, 8, 28, 22, 59, 59, 500_000, tzinfo=UTC), form="release-6m")
def test_a_step_is_never_overdue_before_it_is_due(at: datetime, form: str) -> None:
    """Attack pass 16, A16-4: ``new_incident`` at 2026-10-30T23:59:59.999999Z (Wokingham W5,
    "immediately") gave ``due_at`` 23:59:59.999999Z and ``overdue_at`` 23:59:59Z, overdue
    before due. For every deadline form, urgent or not, at any instant to the microsecond:
    ``overdue_at >= due_at``."""
    inputs = DeadlineInputs(occurred_at=at, expected_release_date=at.date() + timedelta(days=30),
                            review_date=london_date(at), due_date=london_date(at))
    found = compute_due(form, inputs, calendar())
    for urgent in {found.urgent, True, False}:
        overdue = overdue_at_for(found.due_at, urgent, calendar())
        if found.due_at is None:
            assert overdue is None
        else:
            assert overdue is not None
            assert overdue >= found.due_at, (form, urgent, found.due_at, overdue)
            if urgent:  # never later than the end of the due day's next working day
                day = calendar().next_working_day_on_or_after(london_date(found.due_at))
                assert overdue <= max(end_of_day(day), found.due_at)


@pytest.mark.parametrize(("instant", "text"), [
    # 25 October 2026: 01:00-01:59 London happens twice, first BST (00:xxZ) then GMT (01:xxZ).
    ("2026-10-25T00:30:00Z", "Sunday 25 October 2026 01:30 (London, BST)"),
    ("2026-10-25T01:30:00Z", "Sunday 25 October 2026 01:30 (London, GMT)"),
    ("2026-10-25T00:00:00Z", "Sunday 25 October 2026 01:00 (London, BST)"),
    ("2026-10-25T01:59:00Z", "Sunday 25 October 2026 01:59 (London, GMT)"),
    # Either side of that hour, and the spring change (02:00-02:59 never happens): one instant.
    ("2026-10-24T23:59:00Z", "Sunday 25 October 2026 00:59 (London)"),
    ("2026-10-25T02:00:00Z", "Sunday 25 October 2026 02:00 (London)"),
    ("2026-03-29T01:30:00Z", "Sunday 29 March 2026 02:30 (London)"),
    ("2026-09-10T09:00:00Z", "Thursday 10 September 2026 10:00 (London)"),
])
def test_london_text_names_one_instant_in_the_repeated_hour(instant: str, text: str) -> None:
    """Attack pass 30, A30a-8: a very high ROSH back-dated to 01:30 BST and another to 01:30
    GMT on 25 October 2026 both read "Sunday 25 October 2026 01:30 (London)", two instants an
    hour apart; in the repeated hour the zone's abbreviation says which (README: text for
    practitioners is London local time "with the weekday and the zone")."""
    assert london_text(datetime.fromisoformat(instant)) == text
