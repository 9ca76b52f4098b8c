"""The response envelopes of ``api-v1.md``."""

from __future__ import annotations

from typing import Generic, TypeVar

from pydantic import BaseModel

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
