"""State transitions checked after the case's lock: of two conflicting acts exactly one wins.

Every act that moves a record from one state to another (an assessment submitted, countersigned
or returned; a referral moved along its lifecycle; a step completed or waived; a panel item
decided) reads its record, takes its case's lock (``app.domain.access.lock_case``) and then reads
the record again (:func:`reload`) before it checks the state. Two racing acts therefore queue on
the lock, and the second one sees what the first one did.

A move refused because the record is no longer in a state that allows it, when it was in such a
state just before its latest move (another act got there first, a moment or a day ago), is a
409 ``conflicting-transition`` problem carrying the record's current state. A move that the
record's states never allowed (accepting a draft) stays an illegal transition.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from app.core.errors import Conflict


class ConflictingTransition(Conflict):
    """409: another act moved the record out of the state this act needed."""

    slug, title = "conflicting-transition", "Conflicting transition"


async def reload(session: AsyncSession, *records: Any) -> None:
    """Re-read records from the database (call after the case lock: their state now)."""
    for record in records:
        await session.refresh(record)


def conflicting(
    what: str, action: str, current_status: str, current: dict[str, Any] | None = None,
) -> ConflictingTransition:
    """The 409 for an act that lost to another: names the record's current state."""
    extra: dict[str, Any] = {"current_status": current_status}
    if current is not None:
        extra["current"] = current
    return ConflictingTransition(
        f"Cannot {action} the {what}: it is now {current_status} (another act changed it "
        "first). Fetch it again before acting.",
        extra=extra,
    )


def check_move(
    *,
    what: str,
    action: str,
    current: str,
    allowed_from: Collection[str],
    previous: str | None,
    illegal: Conflict,
    current_record: dict[str, Any] | None = None,
) -> None:
    """Allow the move from ``current``; else 409: conflicting when ``previous`` (the state
    before the record's latest move) allowed it, else the given illegal-transition problem."""
    if current in allowed_from:
        return
    if previous is not None and previous in allowed_from:
        raise conflicting(what, action, current, current_record)
    raise illegal
