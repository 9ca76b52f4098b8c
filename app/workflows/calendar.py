"""Working days in England and Wales, and the Europe/London day boundaries deadlines end on.

Bank holidays come from the maintained ``holidays`` library (``GB`` with subdivision ``ENG``:
Easter Monday and the late-summer holiday only come with it), never from a hand table; short-notice
closures (a one-off bank holiday, an office closure) are added through ``extra_closures``.
The library's England-and-Wales calendar is loaded from its own module (:func:`_england_and_wales`),
not through ``holidays.country_holidays``, which imports every country the library knows.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import holidays
from holidays.registry import COUNTRIES
from pydantic import BeforeValidator

LONDON = ZoneInfo("Europe/London")
END_OF_DAY = time(23, 59, 59)
# At most this many remembered answers per table (a long-running service sees new days daily).
_TABLE_SIZE = 65536


def require_aware(moment: datetime, name: str = "datetime") -> datetime:
    """Refuse naive datetimes: every instant the engine handles carries its offset."""
    if moment.tzinfo is None or moment.tzinfo.utcoffset(moment) is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {moment.isoformat()}")
    return moment


_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
NOT_AN_ISO_DATE = "must be an ISO date, YYYY-MM-DD (a London date: no time, no offset)"


def iso_date(value: object) -> date:
    """A calendar date as the contract takes one (``format: date``, RFC 3339 ``full-date``):
    ``YYYY-MM-DD`` and nothing else, or a ``date`` already parsed; ValueError otherwise. A
    date-time is not a date, even at midnight: ``2027-03-04T00:00:00+05:00`` is 3 March in
    London, and reading it as 4 March dropped its offset (attack pass 28a, ATK28A-1); nor is a
    count of seconds, an ISO week date or the basic form ``20270304``, all of which pydantic's
    and Python's own date parsers take."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str) and _ISO_DATE.fullmatch(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            # The value itself is not echoed (attack pass N8: no answer copies the request).
            raise ValueError("must be a day of the calendar (YYYY-MM-DD)") from None
    raise ValueError(NOT_AN_ISO_DATE)


# The one date type of every request (bodies, query parameters, a pack fact's value).
IsoDate = Annotated[date, BeforeValidator(iso_date)]


_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December")


def london_text(value: datetime | date) -> str:
    """A time or a date as practitioners read it in a step's note or title: London local time
    with the weekday and the zone, "Thursday 10 September 2026 10:00 (London)", or a date alone,
    "Thursday 10 September 2026" (attack pass 17, A17-10: notes said "2026-09-10T09:00:00+00:00",
    neither the answers' ``Z`` nor what the MARP letter says). The one form of every time or
    date the service writes into text; answers' fields stay RFC 3339 UTC with ``Z``.

    In the hour the clocks go back (01:00-01:59 London happens twice, first BST then GMT) the
    zone's abbreviation is added, "Sunday 25 October 2026 01:30 (London, BST)", so that the
    text names one instant (attack pass 30, A30a-8); every other time is unambiguous alone."""
    if isinstance(value, datetime):
        local = require_aware(value).astimezone(LONDON)
        zone = f"London, {local.tzname()}" if _repeated(local) else "London"
        return (f"{_WEEKDAYS[local.weekday()]} {local.day} {_MONTHS[local.month - 1]} "
                f"{local.year} {local:%H:%M} ({zone})")
    return f"{_WEEKDAYS[value.weekday()]} {value.day} {_MONTHS[value.month - 1]} {value.year}"


def _repeated(local: datetime) -> bool:
    """Whether this London wall time happens twice (PEP 495: the other ``fold`` of the same
    wall time has another UTC offset)."""
    return local.replace(fold=1 - local.fold).utcoffset() != local.utcoffset()


def london_date(moment: datetime) -> date:
    """The calendar date in Europe/London of an aware instant."""
    return require_aware(moment).astimezone(LONDON).date()


def end_of_day(day: date) -> datetime:
    """23:59:59 Europe/London on ``day``, as an aware UTC datetime (cached for plain dates:
    deadlines end on a few thousand distinct days)."""
    if type(day) is date:
        return _end_of_date(day)
    return datetime.combine(day, END_OF_DAY, tzinfo=LONDON).astimezone(UTC)


@lru_cache(maxsize=8192)
def _end_of_date(day: date) -> datetime:
    return datetime.combine(day, END_OF_DAY, tzinfo=LONDON).astimezone(UTC)


def start_of_day(day: date) -> datetime:
    """00:00 Europe/London on ``day``, as an aware UTC datetime."""
    return datetime.combine(day, time(0, 0), tzinfo=LONDON).astimezone(UTC)


def _england_and_wales() -> holidays.HolidayBase:
    """The library's ``GB`` calendar with subdivision ``ENG``, as ``country_holidays("GB",
    subdiv="ENG")`` builds it, its class loaded from its one module: the library's
    ``holidays.countries`` package imports all of its ~280 country modules first (about 8 MB of
    every API process, for one country). The module is the one the library's own registry names
    for ``GB``; if it cannot be loaded that way (the library reorganised), the public call."""
    name = next((module for module, entities in COUNTRIES.items() if "GB" in entities[1:]), None)
    qualified = f"holidays.countries.{name}"
    module = sys.modules.get(qualified)
    try:
        if module is None:
            path = Path(holidays.__file__).parent / "countries" / f"{name}.py"
            spec = importlib.util.spec_from_file_location(qualified, path)
            if name is None or spec is None or spec.loader is None:
                raise ImportError(qualified)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
        entity = getattr(module, COUNTRIES[str(name)][0])
    except (ImportError, OSError, AttributeError, KeyError):
        return holidays.country_holidays("GB", subdiv="ENG")
    calendar: holidays.HolidayBase = entity(subdiv="ENG")
    return calendar


class WorkingCalendar:
    """Working days: Monday to Friday, minus England-and-Wales bank holidays and extra closures."""

    def __init__(self, extra_closures: Iterable[date] = ()) -> None:
        self._extra = frozenset(
            d.date() if isinstance(d, datetime) else d for d in extra_closures
        )
        self._bank_holidays = _england_and_wales()
        self._cache: dict[date, bool] = {}
        # Working-day arithmetic, worked out once per (day, n) / day: a table per calendar.
        self._added: dict[tuple[date, int], date] = {}
        self._week_end: dict[date, date | None] = {}
        self._ends: dict[tuple[date, int], datetime] = {}
        self._tables: dict[str, dict[Any, Any]] = {}

    @property
    def extra_closures(self) -> frozenset[date]:
        """The configured closure dates on top of the bank holidays."""
        return self._extra

    def is_bank_holiday(self, day: date) -> bool:
        """Whether ``day`` is an England-and-Wales bank holiday (per the holidays library)."""
        return day in self._bank_holidays

    def is_working_day(self, day: date) -> bool:
        """Whether ``day`` is a working day (weekday, not a bank holiday, not a closure)."""
        known = self._cache.get(day)
        if known is None:
            known = day.weekday() < 5 and day not in self._extra and not self.is_bank_holiday(day)
            self._cache[day] = known
        return known

    def why_not_working(self, day: date) -> str | None:
        """Why ``day`` is not a working day (``"a bank holiday (Christmas Day)"``, ``"a
        Saturday"``, ``"a closure day of the service"``), or None when it is one. The bank
        holiday's name is the holidays library's."""
        if self.is_working_day(day):
            return None
        name = self._bank_holidays.get(day)
        if name:
            return f"a bank holiday ({name})"
        if day.weekday() >= 5:
            return f"a {day.strftime('%A')}"
        return "a closure day of the service"

    def add_working_days(self, day: date, n: int) -> date:
        """The ``n``th working day after ``day`` (``day`` itself when ``n`` is 0)."""
        # Only plain dates are remembered: a datetime equal to another in a different zone
        # would find the other's answer.
        key = (day, n)
        plain = type(day) is date
        found = self._added.get(key) if plain else None
        if found is not None:
            return found
        if n < 0:
            raise ValueError("n must be >= 0")
        current = day
        while n > 0:
            current += timedelta(days=1)
            if self.is_working_day(current):
                n -= 1
        if plain:
            if len(self._added) >= _TABLE_SIZE:
                self._added.clear()
            self._added[key] = current
        return current

    def end_of_working_day(self, day: date, n: int) -> datetime:
        """The end (23:59:59 Europe/London, aware UTC) of the ``n``th working day after the
        plain date ``day``: ``end_of_day(add_working_days(day, n))``, from a table."""
        key = (day, n)
        found = self._ends.get(key)
        if found is None:
            found = end_of_day(self.add_working_days(day, n))
            if type(day) is date:
                if len(self._ends) >= _TABLE_SIZE:
                    self._ends.clear()
                self._ends[key] = found
        return found

    def table(self, name: str) -> dict[Any, Any]:
        """A named table of answers worked out from this calendar, keyed by plain dates (a
        deadline form's, for one day); emptied when it grows past its bound."""
        found = self._tables.get(name)
        if found is None or len(found) >= _TABLE_SIZE:
            found = self._tables[name] = {}
        return found

    def next_working_day_on_or_after(self, day: date) -> date:
        """``day`` if it is a working day, else the first working day after it."""
        return day if self.is_working_day(day) else self.add_working_days(day, 1)

    def last_working_day_of_week(self, day: date) -> date | None:
        """The last working day of ``day``'s Monday-to-Sunday week, or None if it has none."""
        plain = type(day) is date
        if plain and day in self._week_end:
            return self._week_end[day]
        found = None
        monday = day - timedelta(days=day.weekday())
        for offset in range(6, -1, -1):
            candidate = monday + timedelta(days=offset)
            if self.is_working_day(candidate):
                found = candidate
                break
        if plain:
            if len(self._week_end) >= _TABLE_SIZE:
                self._week_end.clear()
            self._week_end[day] = found
        return found

    def end_of_day(self, day: date) -> datetime:
        """23:59:59 Europe/London on ``day``, as an aware UTC datetime."""
        return end_of_day(day)
