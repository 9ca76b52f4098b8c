"""When a step becomes late: its due time, but "immediately" only after that working day
(policy-rules.md, deadline forms)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app.workflows.calendar import WorkingCalendar
from app.workflows.deadlines import late_after

CAL = WorkingCalendar()


@pytest.mark.parametrize(
    ("due", "form", "expected"),
    [
        # A Tuesday in BST: 23:59:59 BST that day.
        ("2026-06-09T13:00:00+00:00", "immediately", "2026-06-09T22:59:59+00:00"),
        # A Tuesday in GMT.
        ("2026-03-10T11:00:00+00:00", "immediately", "2026-03-10T23:59:59+00:00"),
        # Saturday before the late-summer bank holiday: the end of Tuesday 1 September.
        ("2026-08-29T10:00:00+00:00", "immediately", "2026-09-01T22:59:59+00:00"),
        # 00:30 BST on a Wednesday is still 23:30 UTC on Tuesday: London's Wednesday counts.
        ("2026-06-09T23:30:00+00:00", "immediately", "2026-06-10T22:59:59+00:00"),
        # Other forms: the due time itself.
        ("2026-03-11T23:59:59+00:00", "+1wd", "2026-03-11T23:59:59+00:00"),
    ],
)
def test_late_after(due: str, form: str, expected: str) -> None:
    """The instant after which the step is late."""
    got = late_after(datetime.fromisoformat(due), form, CAL)
    assert got == datetime.fromisoformat(expected).astimezone(UTC)


def test_no_due_time_is_never_late() -> None:
    """A step without a timescale has no lateness instant."""
    assert late_after(None, "immediately", CAL) is None
