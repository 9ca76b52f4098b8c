"""The service's clock: real UTC time, or in dev the demo calendar's time.

The demo calendar (``YJ_DEMO_CLOCK_START``/``YJ_DEMO_CLOCK_SET_AT``, honoured only with
``YJ_ENV=dev``) lets the README's worked examples, dated on a fixed Friday, give the same answers
on any real day. JWT expiry and webhook signature timestamps always use real time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime, timedelta

from app.core.config import Settings

_offset = timedelta(0)
class _Instant:
    """The instant of one unit of work: None until first read, then that reading; ``open``
    until the unit of work ends."""

    __slots__ = ("at", "open", "locks")

    def __init__(self) -> None:
        self.at: datetime | None = None
        self.open = True
        self.locks: set[object] = set()  # the locks the unit of work holds (:func:`locked`)


# The unit of work running in this context (see :func:`one_instant`); None outside one. A
# context that outlives the unit of work (a yield dependency's teardown run in another context
# leaves the variable set in the request's; an ASGI app awaited in its caller's task, as an
# in-process client does, shares the caller's) sees it closed, so it is outside one again.
_instant: ContextVar[_Instant | None] = ContextVar("yj_write_instant", default=None)


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


@contextmanager
def one_instant(*, own: bool = False) -> Iterator[None]:
    """Within: the service's time (``app.domain.common.utcnow``) is one instant, taken at its
    first reading (:func:`now`, UTC, aware): every row a write or a job's transaction dates
    (its record, its steps, the field history of each flush, its audit entry) carries the
    same time, so ``GET /v1/cases/{id}?as_of=`` at that instant sees all of the write and
    1 µs before none of it (attack 20, A20-11). Nests as one (an inner block keeps the outer's
    instant), unless ``own``: a transaction of its own run within another unit of work (the
    stand-in sweep a request runs before it reads) takes its own instant, after its own lock,
    and leaves the outer's untaken (A30a-15). The real clock (:func:`real_now`) is
    untouched."""
    current = _instant.get()
    if current is not None and current.open and not own:
        yield
        return
    held = _Instant()
    token = _instant.set(held)
    try:
        yield
    finally:
        held.open = False  # ended, in whichever context still holds it
        try:
            _instant.reset(token)
        except ValueError:  # left in another context (a generator closed elsewhere)
            pass


# Called with the lock's key when a unit of work is granted a lock after it took its instant
# (:func:`locked`); None: nothing is checked. Tests set it to find a write dated before it
# waited.
early_instant_hook: Callable[[object], None] | None = None
_SOLE = object()  # a lock under which no other lock waits (:func:`locked`)


def locked(key: object, *, sole: bool = False) -> None:
    """Say that the unit of work now holds the lock ``key`` (a case's, a service's policy
    lock): its instant must not have been taken before (a write that waited for another on
    the lock is dated after it, A23a-1, A30a-15). A lock held again is no new wait, nor is
    any lock taken under a ``sole`` one (a service's policy lock held exclusive: no other
    write of the service holds a case lock)."""
    held = _instant.get()
    if held is None or not held.open or key in held.locks or _SOLE in held.locks:
        return
    held.locks.add(key)
    if sole:
        held.locks.add(_SOLE)
    if held.at is not None and early_instant_hook is not None:
        early_instant_hook(key)


def held_instant() -> datetime | None:
    """The unit of work's instant if it has been taken (:func:`write_now`), else None."""
    held = _instant.get()
    return held.at if held is not None and held.open else None


def write_now() -> datetime:
    """The unit of work's instant (:func:`one_instant`), or :func:`now` outside one (or
    after it ended)."""
    held = _instant.get()
    if held is None or not held.open:
        return now()
    if held.at is None:
        held.at = now()
    return held.at
