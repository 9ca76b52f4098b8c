"""The response envelopes of ``api-v1.md``."""

from __future__ import annotations

from typing import Annotated, Generic, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel

from app.domain.paging import DEFAULT_PAGE, MAX_PAGE, PageArgs
from app.domain.steps import StepOut

T = TypeVar("T")


class Read(BaseModel, Generic[T]):
    """A read: ``{"data": ...}``."""

    data: T


class Page(BaseModel, Generic[T]):
    """A list: ``{"data": [...], "next_cursor": ...}``."""

    data: list[T]
    next_cursor: str | None = None


class Written(BaseModel, Generic[T]):
    """A write: the resource and the mandated next steps now open for the case."""

    data: T
    next_steps: list[StepOut] = []


class CaseWritten(Written[T], Generic[T]):
    """A case write: also the open steps it moved to a new case holder or line manager."""

    reassigned_steps: list[StepOut] = []


def page_args(
    cursor: Annotated[str | None, Query(max_length=512, description=(
        "the `next_cursor` of the previous page (valid for the same list and filters only)"
    ))] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE, description=(
        f"items per page (1-{MAX_PAGE}, default {DEFAULT_PAGE})"))] = DEFAULT_PAGE,
) -> PageArgs:
    """The page a list route is asked for (docs/integrating.md "Pagination")."""
    return PageArgs(cursor=cursor, limit=limit)


PageQuery = Annotated[PageArgs, Depends(page_args)]
