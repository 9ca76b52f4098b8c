"""The service's clock: real UTC time, or in dev the demo calendar's time.

The demo calendar (``YJ_DEMO_CLOCK_START``/``YJ_DEMO_CLOCK_SET_AT``, honoured only with
``YJ_ENV=dev``) lets the README's worked examples, dated on a fixed Friday, give the same answers
on any real day. JWT expiry and webhook signature timestamps always use real time.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.core.config import Settings

_offset = timedelta(0)


def configure(settings: Settings) -> None:
    """Set the process clock from the settings (the demo offset in dev, else real time)."""
    global _offset
    start, set_at = settings.demo_clock_start, settings.demo_clock_set_at
    if settings.env == "dev" and start is not None and set_at is not None:
        _offset = _aware(start) - _aware(set_at)
    else:
        _offset = timedelta(0)


def now() -> datetime:
    """The current time in UTC (aware), shifted onto the demo calendar when one is configured."""
    return datetime.now(UTC) + _offset


def real_now() -> datetime:
    """The real current time in UTC (aware), never shifted (signatures, token expiry)."""
    return datetime.now(UTC)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
