"""Deadline forms (``policy-rules.md``) turned into due instants, always aware UTC.

Forms: ``+Nh`` (clock hours), ``+Nwd`` (end of the Nth working day after the event's London day),
``next-wd`` (= ``+1wd``), ``+1wd-in-week``, ``+Nd`` / ``+Nw`` / ``+Nm`` (calendar, on London local
wall time; months clamp to month end), ``every Nd`` / ``every Nw`` / ``every Nm`` (first due
``+Nd`` / ``+Nw`` / ``+Nm``, then recurring),
``immediately``, ``next-panel``, ``release-6m``, ``before-release``, ``review-date``,
``before-transfer``, ``due-date``, ``none``.

``next-panel`` is the next booked panel of the pack's kind at or after the event; with none
booked, ``awaiting_panel_date`` and either no date or, when the kind meets on a fixed day
(``cadence = "weekly on Thursday"``), the end of its first meeting day after the event's London
day (a bank holiday moves it to the next working day), until a panel is booked.

``release-6m`` whose six-month point (end of that London day) is already past at the event is due
at the event itself, urgent, with a note giving the date it passed: never before the event; so is
``before-transfer`` whose transfer day has already begun (Somerset 13.4.3 "or, in exceptional
circumstances, as soon as possible thereafter"), and ``before-release`` (the start of the case's
expected release day) whose release day has already begun (Wokingham: "notify the local Youth
Justice Service of the child being released into their area").

``+1wd-in-week`` on a non-working day (weekend, bank holiday): the worker can act on the next
working day at the earliest, so it is due at the end of the first working day after the event
(plain ``+1wd``); the in-week cap only applies to events known on a working day.
"""

from __future__ import annotations

import calendar as _stdcal
import re
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import NamedTuple
from uuid import UUID

from app.workflows.calendar import (
    LONDON,
    WorkingCalendar,
    end_of_day,
    london_date,
    london_text,
    require_aware,
    start_of_day,
)
from app.workflows.types import Cadence, ScheduledPanel

NAMED_FORMS = (
    "next-wd",
    "+1wd-in-week",
    "immediately",
    "next-panel",
    "release-6m",
    "before-release",
    "review-date",
    "before-transfer",
    "due-date",
    "none",
)
# The event data key each named form counts from (the rest read no event data).
FORM_EVENT_KEYS = {
    "review-date": "review_date",
    "before-transfer": "transfer_date",
    "due-date": "due_date",
}
# The units of ``+N<unit>`` and of ``every N<unit>``: the parser's patterns and the allowed
# forms a message lists are both made from these (attack 19, A19-10: the message once said
# ``every Nm`` only, while ``every 2w`` loaded).
OFFSET_UNITS = ("h", "wd", "d", "w", "m")
EVERY_UNITS = ("d", "w", "m")
_OFFSET_UNIT = f"(?P<unit>{'|'.join(OFFSET_UNITS)})"
_EVERY_UNIT = f"(?P<unit>{'|'.join(EVERY_UNITS)})"
# N is written in the digits 0-9 (``[0-9]``, not ``\d``, which also takes other scripts' digits,
# and ``int`` reads them: ``+٢٤h`` was 24 hours; attack 26a, A26a-3) and is at least 1.
_OFFSET = re.compile(rf"^\+(?P<n>[0-9]{{1,3}}){_OFFSET_UNIT}$")
_EVERY = re.compile(rf"^every (?P<n>[0-9]{{1,2}}){_EVERY_UNIT}$")
# The same shapes with any number of digits: a valid form whose number is too large.
_OFFSET_SHAPE = re.compile(rf"^\+(?P<n>[0-9]+){_OFFSET_UNIT}$")
_EVERY_SHAPE = re.compile(rf"^every (?P<n>[0-9]+){_EVERY_UNIT}$")
_ANY_DIGIT = re.compile(r"\d")  # any script's digit: one that is not 0-9 is refused by name
ALLOWED_FORMS = (*(f"+N{u}" for u in OFFSET_UNITS), *(f"every N{u}" for u in EVERY_UNITS),
                 *NAMED_FORMS)


_tuple_new = tuple.__new__  # a Due from its four fields, without its Python __new__


def _london(moment: datetime) -> datetime:
    """``moment`` (aware) on Europe/London wall time; the last instant asked for is remembered
    (by identity), as one evaluation's deadline forms all start from the same instant."""
    global _LAST_LONDON
    last = _LAST_LONDON
    if last[0] is moment:
        return last[1]
    local = require_aware(moment).astimezone(LONDON)
    _LAST_LONDON = (moment, local)
    return local


_LAST_LONDON: tuple[datetime | None, datetime] = (None, datetime.min)


class Due(NamedTuple):
    """A computed deadline: when (aware UTC), whether urgent, whether waiting for a panel date,
    and why (a named tuple: the engine makes several per evaluation)."""

    due_at: datetime | None
    urgent: bool = False
    awaiting_panel_date: bool = False
    note: str | None = None


@dataclass(frozen=True)
class DeadlineInputs:
    """Everything a deadline form may need besides the calendar."""

    occurred_at: datetime
    panels: Sequence[ScheduledPanel] = ()
    panel_kind: str | None = None
    # When that kind meets (its pack's fixed-day cadence), for a next-panel with none booked.
    panel_cadence: Cadence | None = None
    expected_release_date: date | None = None
    review_date: date | None = None
    transfer_date: date | None = None
    due_date: date | None = None
    # The worker's absences (London dates, inclusive): an absence ends their working week early.
    absences: Sequence[tuple[date, date]] = ()
    # The pack's name for that panel kind (its ``title``: "Multi-Agency Risk Panel (MARP)"),
    # as practitioners read it in a step's note (A26a-14: the note said "marp").
    panel_name: str | None = None
    # The panels that had already decided the case when the act came: never its next-panel
    # (:func:`next_panel`'s ``heard``; fix37a, ATTACK36-1).
    heard: Collection[UUID] = frozenset()


@dataclass(frozen=True)
class ParsedForm:
    """A validated deadline form: a named form, or an offset of ``n`` units."""

    text: str
    kind: str
    n: int = 0
    recurrence: str | None = None


@lru_cache(maxsize=256)
def parse_form(text: str) -> ParsedForm:
    """Parse a deadline form; ValueError names an unknown one."""
    if text in NAMED_FORMS:
        if text == "next-wd":
            return ParsedForm(text, "wd", 1)
        return ParsedForm(text, text)
    match = _OFFSET.match(text) or _EVERY.match(text)
    if match:
        n, unit = int(match["n"]), match["unit"]
        if n < 1:
            raise ValueError(f"deadline {text!r}: the number must be at least 1 (a step due "
                             "at the act itself is 'immediately')")
        if text.startswith("every"):
            return ParsedForm(text, unit, n, recurrence=f"{n}{unit}")
        return ParsedForm(text, unit, n)
    for shape, form, most in ((_OFFSET_SHAPE, "+N{unit}", 999),
                              (_EVERY_SHAPE, "every N{unit}", 99)):
        match = shape.match(text)
        if match:
            digits = match["n"].lstrip("0") or "0"
            shown = digits if len(digits) <= 12 else f"{digits[:6]}... ({len(digits)} digits)"
            raise ValueError(f"deadline {text[:40]!r}: the number {shown} is out of range "
                             f"({form.format(unit=match['unit'])} takes N up to {most})")
    if any(not c.isascii() for c in _ANY_DIGIT.findall(text)):
        raise ValueError(f"deadline {text[:40]!r}: write the number in the digits 0-9")
    raise ValueError(f"unknown deadline form {text!r} (allowed: {', '.join(ALLOWED_FORMS)})")


def is_valid_form(text: str) -> bool:
    """Whether ``text`` is a deadline form the engine understands."""
    try:
        parse_form(text)
    except ValueError:
        return False
    return True


_MONTH_DAYS = (0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def add_months(day: date, months: int) -> date:
    """Calendar months on a date, clamped to the month's end (31 Jan + 1 month = 28/29 Feb)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    if day.day <= 28:  # in every month
        return date(year, month, day.day)
    # The month's length as calendar.monthrange gives it (without its weekday arithmetic).
    length = _MONTH_DAYS[month] + (month == 2 and _stdcal.isleap(year))
    return date(year, month, min(day.day, length))


def shift_local(moment: datetime, *, days: int = 0, months: int = 0) -> datetime:
    """Move an instant by calendar days/months on London wall time; returns aware UTC."""
    local = _london(moment)
    moved_day, offset = _moved_day(local.date(), days, months)
    # The same wall-clock time (and fold, in the repeated autumn hour) on the moved day; on a
    # day without a clock change, that day's one offset gives the same instant.
    if offset is not None:
        return datetime.combine(moved_day, local.time(), UTC) - offset
    return datetime.combine(moved_day, local.time(), LONDON).astimezone(UTC)


@lru_cache(maxsize=8192)
def _moved_day(day: date, days: int, months: int) -> tuple[date, timedelta | None]:
    """A London date moved by calendar months then days, and the moved day's steady offset
    (worked out once per date and shift: deadlines start on a few thousand distinct days)."""
    moved = add_months(day, months) if months else day
    if days:
        moved += timedelta(days=days)
    return moved, _steady_offset(moved)


@lru_cache(maxsize=8192)
def _steady_offset(day: date) -> timedelta | None:
    """Europe/London's UTC offset all through ``day``, or None on a day the clocks change."""
    first = datetime.combine(day, time(0, 0), LONDON).utcoffset()
    last = datetime.combine(day, time(23, 59, 59), LONDON).utcoffset()
    return first if first == last else None


def add_period(moment: datetime, recurrence: str) -> datetime:
    """Add a recurrence period such as ``1m``, ``2w`` or ``10d`` on London wall time."""
    form = parse_form(f"+{recurrence}")
    return _calendar_offset(moment, form.kind, form.n)


def _calendar_offset(moment: datetime, unit: str, n: int) -> datetime:
    if unit == "d":
        return shift_local(moment, days=n)
    if unit == "w":
        return shift_local(moment, days=7 * n)
    if unit == "m":
        return shift_local(moment, months=n)
    raise ValueError(f"not a calendar unit: {unit}")


def prolonged_absences(
    absences: Sequence[tuple[date, date]], at_least: int, calendar: WorkingCalendar
) -> Sequence[tuple[date, date]]:
    """The absences (London dates, inclusive) spanning at least ``at_least`` working days: the
    ones that end a worker's week early (Wokingham "a prolonged absence (for example, the last
    working day before annual leave)"); all of them when ``at_least`` is 1. Leave recorded as
    several records that follow on (the next starts the day after, or after days that are not
    working days) is one absence: Thursday and Friday recorded apart are two working days away,
    as one record of both is (attack pass 12, A12-9). The days counted are the weekdays the
    worker is away from work: the absence's working days and the bank holidays (or closure days)
    it joins, before, within or after it, the weekdays they replace: one day of annual leave on
    the Friday before the late May bank holiday is four days away (Friday to Monday), two
    weekdays, prolonged; a Friday's leave alone is a long weekend, not (attack 32c,
    ATTACK32C-12)."""
    if at_least <= 1 or not absences:
        return absences
    kept = []
    for starts, ends in _joined(absences, calendar):
        first, last = starts, ends
        while not calendar.is_working_day(first - timedelta(days=1)):
            first -= timedelta(days=1)
        while not calendar.is_working_day(last + timedelta(days=1)):
            last += timedelta(days=1)
        days = sum(1 for k in range((last - first).days + 1)
                   if (first + timedelta(days=k)).weekday() < 5)
        if days >= at_least:
            kept.append((starts, ends))
    return tuple(kept)


def _joined(absences: Sequence[tuple[date, date]], calendar: WorkingCalendar
            ) -> list[tuple[date, date]]:
    """The absences in date order, those that follow on (no working day between) as one."""
    joined: list[tuple[date, date]] = []
    for starts, ends in sorted(absences):
        if joined:
            last_start, last_end = joined[-1]
            gap = last_end + timedelta(days=1)
            while gap < starts and not calendar.is_working_day(gap):
                gap += timedelta(days=1)
            if gap >= starts:
                joined[-1] = (last_start, max(last_end, ends))
                continue
        joined.append((starts, ends))
    return joined


def in_week_due(
    day: date, calendar: WorkingCalendar, absences: Sequence[tuple[date, date]] = ()
) -> date:
    """``+1wd-in-week`` as a date: next working day, capped at the week's last working day and
    at the worker's last working day before an absence (Wokingham: "the last working day before
    annual leave")."""
    following = calendar.add_working_days(day, 1)
    if not calendar.is_working_day(day):
        return following
    last = calendar.last_working_day_of_week(day)
    cap = following if last is None else min(following, last)
    for starts, ends in absences:
        if starts <= day <= ends:
            continue  # known while away: counted from the day itself, as for anyone
        if day < starts <= following:
            cap = min(cap, day)  # the day itself is the last working day before the absence
    return cap


def next_panel(
    panels: Sequence[ScheduledPanel], kind: str | None, after: datetime,
    booked: Collection[UUID] = frozenset(), heard: Collection[UUID] = frozenset(),
) -> ScheduledPanel | None:
    """The first panel of ``kind`` scheduled at or after ``after`` (ties broken by id); with
    ``booked`` (the panels whose agenda the case is on, undecided), the first of those at or
    after ``after`` when there is one: the case goes to the panel it is on, not to whichever
    is next (Somerset 6.2 views "sought before the initial panel", 3.2.4 the MAPPA level
    "identified and agreed via these processes"; attack pass 11, A11-13). Never one of
    ``heard``: the sittings that had already decided the case when the act asking for the
    step came (a Very High dated at the MARP's decision is for the next MARP, Somerset
    7.1.9; fix37a, ATTACK36-1: it was due at the sitting already decided, born overdue)."""
    if booked:
        on = next_panel([p for p in panels if p.id in booked], kind, after, heard=heard)
        if on is not None:
            return on
    found: ScheduledPanel | None = None
    for panel in panels:
        if (kind is None or panel.kind == kind) and panel.scheduled_for >= after \
                and panel.id not in heard:
            # The earliest; at the same moment the lower id (as text), the first on a tie.
            if found is None or panel.scheduled_for < found.scheduled_for or (
                    panel.scheduled_for == found.scheduled_for
                    and str(panel.id) < str(found.id)):
                found = panel
    return found


def compute_due(form: str, inputs: DeadlineInputs, calendar: WorkingCalendar) -> Due:
    """The deadline a form gives for an event (``policy-rules.md``, Deadline forms)."""
    compute = form_function(form)
    return compute(inputs, require_aware(inputs.occurred_at, "occurred_at").astimezone(UTC),
                   calendar)


# A deadline form as a function: (inputs, the start as aware UTC, calendar) -> Due.
FormFunction = Callable[[DeadlineInputs, datetime, WorkingCalendar], Due]


@lru_cache(maxsize=256)
def form_function(form: str) -> FormFunction:
    """A deadline form compiled once (ValueError names an unknown one): call it with the
    deadline inputs, their start (``occurred_at``) as an aware UTC datetime, and the calendar."""
    parsed = parse_form(form)
    kind, n = parsed.kind, parsed.n
    if kind == "h":
        hours = timedelta(hours=n)
        return lambda inputs, occurred, calendar: _tuple_new(
            Due, (occurred + hours, False, False, None))
    if kind == "wd":
        return lambda inputs, occurred, calendar: _tuple_new(
            Due, (calendar.end_of_working_day(_london(occurred).date(), n), False, False, None))
    if kind in ("d", "w", "m"):
        return lambda inputs, occurred, calendar: _tuple_new(
            Due, (_calendar_offset(occurred, kind, n), False, False, None))
    return _NAMED[kind]


# Kinds whose function reads nothing of its DeadlineInputs (only the start it is given).
_START_ONLY_KINDS = frozenset({"h", "wd", "d", "w", "m", "immediately", "none"})


@lru_cache(maxsize=256)
def reads_inputs(form: str) -> bool:
    """Whether a form's function (:func:`form_function`) reads its DeadlineInputs; when it does
    not, it may be given None for them."""
    return parse_form(form).kind not in _START_ONLY_KINDS


def _immediately(inputs: DeadlineInputs, occurred: datetime, cal: WorkingCalendar) -> Due:
    return _tuple_new(Due, (occurred, True, False, None))


def _in_week(inputs: DeadlineInputs, occurred: datetime, cal: WorkingCalendar) -> Due:
    return in_week_deadline(inputs.absences, occurred, cal)


def in_week_deadline(
    absences: Sequence[tuple[date, date]], occurred: datetime, cal: WorkingCalendar
) -> Due:
    """``+1wd-in-week`` from the event's instant (aware UTC) and the worker's absences (what
    of its inputs the form reads)."""
    day = _london(occurred).date()
    if absences:
        end = end_of_day(in_week_due(day, cal, absences))
    else:  # the same for everyone on that day: from a table per calendar
        table = cal.table("in_week")
        known: datetime | None = table.get(day)
        end = table[day] = end_of_day(in_week_due(day, cal)) if known is None else known
    # Never before the event itself (an event in the day's last second is due at once).
    return _tuple_new(Due, (max(end, occurred), False, False, None))


def _next_panel(inputs: DeadlineInputs, occurred: datetime, cal: WorkingCalendar) -> Due:
    return next_panel_deadline(inputs.panels, inputs.panel_kind, inputs.panel_cadence,
                               occurred, cal, name=inputs.panel_name, heard=inputs.heard)


def next_panel_deadline(
    panels: Sequence[ScheduledPanel], panel_kind: str | None, cadence: Cadence | None,
    occurred: datetime, cal: WorkingCalendar, booked: Collection[UUID] = frozenset(), *,
    name: str | None = None, heard: Collection[UUID] = frozenset(),
) -> Due:
    """``next-panel`` from the event's instant (aware UTC) and the panels, their kind and its
    cadence (what of its inputs the form reads); ``booked``, ``heard``: :func:`next_panel`;
    ``name``: the pack's name for the kind, in the note (else the kind)."""
    panel = next_panel(panels, panel_kind, occurred, booked, heard)
    if panel is not None:
        return _tuple_new(
            Due, (require_aware(panel.scheduled_for).astimezone(UTC), False, False, None))
    kind = name or panel_kind or "panel"
    if cadence is None:
        return Due(None, awaiting_panel_date=True, note=f"Due at the next {kind}; none scheduled.")
    day = next_cadence_day(cadence, occurred, cal)
    return Due(end_of_day(day), awaiting_panel_date=True, note=(
        f"Due at the next {kind} ({cadence.text}): {london_text(day)}; none "
        "booked yet, so the first panel booked sets the date."))


def next_cadence_day(cadence: Cadence, occurred: datetime, cal: WorkingCalendar) -> date:
    """The London date of the first meeting after the act's day by the panel's cadence; a
    meeting day that is a bank holiday moves to the next working day (the packs say nothing
    of holidays; the earlier sitting is the safe reading, and a booked panel replaces it)."""
    return cal.next_working_day_on_or_after(cadence.next_meeting(london_date(occurred)))


def release_6m_point(release: date) -> datetime:
    """The end (London) of the day six calendar months before ``release``: ``release-6m``'s
    deadline when it has not passed at the event."""
    return end_of_day(add_months(release, -6))


# The forms whose deadline a case's date defines, by that date's case field: a change of the
# date moves the point the seed names ("six months prior to their release", "of the child being
# released") (attack 32c, ATTACK32C-10).
DATE_DEFINED = {"release-6m": "expected_release_date", "before-release": "expected_release_date"}


def defined_point(form: str | None, day: date) -> datetime | None:
    """The point ``day`` (the case's date ``DATE_DEFINED`` names for ``form``) gives a step of
    ``form``: the end of the day six months before for ``release-6m``, the start of the day for
    ``before-release``; None for another form."""
    if form == "release-6m":
        return release_6m_point(day)
    if form == "before-release":
        return start_of_day(day)
    return None


def due_at_once_from(form: str | None, due_at: datetime | None, day: date | None) -> bool:
    """Whether a step of ``form`` due at ``due_at`` was due at once because the point ``day``
    gives it had already passed when it was raised (its due date is after that point): its
    deadline stood for that date's passed point, not for a deadline of its own."""
    if day is None or due_at is None:
        return False
    point = defined_point(form, day)
    return point is not None and due_at > point


def _release_6m(inputs: DeadlineInputs, occurred: datetime, cal: WorkingCalendar) -> Due:
    if inputs.expected_release_date is None:
        return Due(None, note="Six months before release: no expected release date recorded.")
    point = add_months(inputs.expected_release_date, -6)
    return _never_before_event(release_6m_point(inputs.expected_release_date), occurred, (
        f"Six months before release passed on {london_text(point)}: due at once."))


def _before_day(day: date | None, occurred: datetime, *, missing: str, before: str,
                named: str) -> Due:
    """Due at the start (00:00 London) of ``day``, never before the event (a day already
    begun is due at once, urgent, saying so); undated with ``missing`` without a day. Shared by
    ``before-release`` and ``before-transfer``."""
    if day is None:
        return Due(None, note=missing)
    return _never_before_event(start_of_day(day), occurred, (
        f"{before}: the {named} ({london_text(day)}) had passed at the event: due at once."))


def _before_release(inputs: DeadlineInputs, occurred: datetime, cal: WorkingCalendar) -> Due:
    return _before_day(inputs.expected_release_date, occurred,
                       missing="Before the release: no expected release date recorded.",
                       before="Before the release", named="expected release date")


def _never_before_event(due: datetime, occurred: datetime, passed: str) -> Due:
    """Never due before the event: a point already passed at it is due at the event itself,
    urgent, with ``passed`` (the note giving the date the point passed)."""
    if due < occurred:
        return Due(occurred, urgent=True, note=passed)
    return Due(due)


def _review_date(inputs: DeadlineInputs, occurred: datetime, cal: WorkingCalendar) -> Due:
    if inputs.review_date is None:
        return Due(None, note="Due on the review date: none was set.")
    return Due(end_of_day(inputs.review_date))


def _before_transfer(inputs: DeadlineInputs, occurred: datetime, cal: WorkingCalendar) -> Due:
    # Somerset 13.4.3: "prior to the transfer of the child or, in exceptional circumstances, as
    # soon as possible thereafter" (attack pass 17, A17-8).
    return _before_day(inputs.transfer_date, occurred,
                       missing="Due before the transfer: no transfer date given.",
                       before="Before the transfer", named="transfer date")


def _due_date(inputs: DeadlineInputs, occurred: datetime, cal: WorkingCalendar) -> Due:
    if inputs.due_date is None:
        return Due(None, note="No due date given.")
    return Due(end_of_day(inputs.due_date))


NO_TIMESCALE_NOTE = "No deadline: the policy sets no timescale for this step."
# The event data date a form reads besides its start (a panel decision's review date, a
# transfer date): a step's reason keeps it (``given``), so a step asked again after a completion
# dated before its act (engine ``carry_over``) is due on the date that act gave.
GIVEN_DATES = {"review-date": "review_date", "before-transfer": "transfer_date"}
# A reason stored before it kept that date has only its act: the step asked again has no due
# date, and says why, rather than "none was set" of a date that was.
ASKED_AGAIN_NOTES = {
    "review-date": "due on the review date",
    "before-transfer": "due before the transfer date",
    "due-date": "due by the due date",
}


def asked_again_note(form: str) -> str | None:
    """The note of a step of ``form`` asked again without the date its act gave (None: the
    form reads no such date)."""
    due = ASKED_AGAIN_NOTES.get(form)
    return None if due is None else (
        f"Asked again, its last completion dated before the act asking for it: {due} that act "
        "gave (see its reasons), which a step asked again does not carry, so no due date is "
        "shown.")
# The occurrence after a waived one of a recurring step keeps its due date (engine
# ``_next_occurrence``): a waiver is not the act the cadence counts from.
WAIVED_OCCURRENCE_NOTE = ("Due when the waived occurrence was: a waiver is not a review, so "
                          "the cadence still counts from the last one done.")

# The notes a deadline gives (``Due.note``, and the engine's note when a booked panel dates a
# ``next-panel`` step): each says how the step's current due date was reached, so a step
# re-dated later must lose them (a "none scheduled" above "Next marp scheduled for ..." is
# stale), unlike the rest of its note (its rule's note, reassignments, reinstatements).
_DEADLINE_NOTES = re.compile(
    r"^(?:Due at the next .+; none (?:scheduled|booked yet|was booked before that day).*"
    r"|Next .+ scheduled for .+"
    r"|Six months before release(?::| passed on ).+"
    r"|Before the release: .+"
    r"|Due on the review date: none was set\."
    r"|Due before the transfer: no transfer date given\."
    r"|Before the transfer: the transfer date .+"
    r"|No due date given\."
    r"|Asked again, its last completion dated before the act asking for it: .+"
    r"|" + re.escape(WAIVED_OCCURRENCE_NOTE)
    + r"|" + re.escape(NO_TIMESCALE_NOTE) + r")$")


def is_deadline_note(line: str) -> bool:
    """Whether one line of a step's note is a deadline's own note (stale once re-dated)."""
    return _DEADLINE_NOTES.match(line) is not None


_NO_DEADLINE = Due(None)


def _none(inputs: DeadlineInputs, occurred: datetime, cal: WorkingCalendar) -> Due:
    return _NO_DEADLINE


_NAMED = {
    "immediately": _immediately,
    "+1wd-in-week": _in_week,
    "next-panel": _next_panel,
    "release-6m": _release_6m,
    "before-release": _before_release,
    "review-date": _review_date,
    "before-transfer": _before_transfer,
    "due-date": _due_date,
    "none": _none,
}


def overdue_at_for(
    due_at: datetime | None, urgent: bool, calendar: WorkingCalendar, *, sitting: bool = False
) -> datetime | None:
    """When a step counts as overdue for escalation (aware UTC): its due time, but a step due
    at once (``immediately``, flagged urgent) only after the end (23:59:59 Europe/London) of
    that working day, or of the next working day when it fell on a weekend or bank holiday
    (policy-rules.md, "immediately"). ``sitting``: a step only a panel's decision does
    (``Pack.done_at_sitting``) only after the end of the London day it is due on: the decision
    is recorded at or after the sitting, never at its first minute (Somerset S10, due at the
    MARP's start; attack pass 19, A19-1). Never before ``due_at``: an act in the last second of a
    day, recorded to the microsecond (23:59:59.5), is due then, after the day's end as
    deadlines write it (to the second), and is overdue from its due time, as
    :func:`in_week_deadline` dates such an act (attack pass 16, A16-4)."""
    if due_at is None or not (urgent or sitting):
        return due_at
    day = london_date(due_at)
    if urgent:
        day = calendar.next_working_day_on_or_after(day)
    return max(end_of_day(day), due_at)
