"""Keyset pages of a list route (attack pass 16, A16-15): every list the API answers is paged
the same way (docs/integrating.md "Pagination"): ``limit`` 1-200 (default 50), a stable order
ending in a unique column, and an opaque ``next_cursor`` (:mod:`app.domain.cursors`) bound to
the list and its filters, so a record written between pages is neither repeated nor skipped.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import sqlalchemy as sa
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from app.domain import cursors

MAX_PAGE = 200
DEFAULT_PAGE = 50

Kind = Literal["instant", "uuid", "int"]


@dataclass(frozen=True)
class PageArgs:
    """What a client asked of a list: the previous page's ``next_cursor`` and the page size."""

    cursor: str | None = None
    limit: int = DEFAULT_PAGE

    @property
    def size(self) -> int:
        """The page size, held within 1..``MAX_PAGE``."""
        return max(1, min(self.limit, MAX_PAGE))



@dataclass(frozen=True)
class Order:
    """A list's order: its columns (the last unique) with the kind of value each holds, and
    whether it runs newest (greatest) first."""

    columns: Sequence[tuple[Any, Kind]]
    descending: bool = False


def _part(value: Any, kind: Kind) -> str:
    if kind == "instant":
        return str(value.isoformat())
    return str(value)


def _value(part: str, kind: Kind) -> Any:
    if kind == "instant":
        return cursors.instant(part)
    if kind == "uuid":
        return cursors.identifier(part)
    try:
        return int(part)
    except ValueError:
        raise cursors.invalid() from None


def _after(order: Order, values: Sequence[Any]) -> Any:
    """The keyset condition: the rows that come after ``values`` in ``order``."""
    clause: Any = None
    for (column, _), value in reversed(list(zip(order.columns, values, strict=True))):
        beyond = col(column) < value if order.descending else col(column) > value
        clause = beyond if clause is None else sa.or_(
            beyond, sa.and_(col(column) == value, clause))
    return clause


async def keyset_page(
    session: AsyncSession, query: Any, order: Order, page: PageArgs,
    shape: Mapping[str, Any], key_of: Callable[[Any], Sequence[Any]] | None = None,
) -> tuple[list[Any], str | None]:
    """A page of ``query``'s rows in ``order`` after ``page.cursor`` (422 ``invalid-cursor``
    for one not made for this list and ``shape``, its filters), and the next page's cursor
    (None on the last). ``key_of`` gives a row's order values (default: the order's
    columns' attributes of the row)."""
    await cursors.ready(session)
    key = cursors.query_key(shape)
    kinds = [kind for _, kind in order.columns]
    if page.cursor is not None:
        parts = cursors.decode(page.cursor, key, len(kinds))
        query = query.where(_after(order, [_value(p, k) for p, k in zip(parts, kinds,
                                                                        strict=True)]))
    direction = [col(c).desc() if order.descending else col(c) for c, _ in order.columns]
    size = page.size
    rows = list((await session.exec(query.order_by(*direction).limit(size + 1))).all())
    if len(rows) <= size:
        return rows, None
    last = rows[size - 1]
    values = key_of(last) if key_of else [getattr(last, c.key) for c, _ in order.columns]
    return rows[:size], cursors.encode(
        [_part(v, k) for v, k in zip(values, kinds, strict=True)], key)


def memory_page(
    items: Sequence[Any], key_of: Callable[[Any], tuple[datetime, ...] | tuple[Any, ...]],
    kinds: Sequence[Kind], page: PageArgs, shape: Mapping[str, Any],
) -> tuple[list[Any], str | None]:
    """A page of ``items`` (already in their order, ascending by ``key_of``, which is unique)
    after ``page.cursor``: the same cursors as :func:`keyset_page`, for a list assembled in
    memory from several tables (the caller has awaited :func:`app.domain.cursors.ready`)."""
    key = cursors.query_key(shape)
    start = 0
    if page.cursor is not None:
        parts = cursors.decode(page.cursor, key, len(kinds))
        after = tuple(_value(p, k) for p, k in zip(parts, kinds, strict=True))
        start = next((i for i, item in enumerate(items) if _sortable(key_of(item)) >
                      _sortable(after)), len(items))
    size = page.size
    chunk = list(items[start:start + size + 1])
    if len(chunk) <= size:
        return chunk, None
    values = key_of(chunk[size - 1])
    return chunk[:size], cursors.encode(
        [_part(v, k) for v, k in zip(values, kinds, strict=True)], key)


def _sortable(values: Sequence[Any]) -> tuple[Any, ...]:
    """Order values comparable across types (UUIDs by their text)."""
    return tuple(str(v) if isinstance(v, uuid.UUID) else v for v in values)
