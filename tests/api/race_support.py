"""Helpers of the race tests: one interleaving of two writes forced at a lock, a clock that
moves, and the audit chain read in commit order."""

from __future__ import annotations

import asyncio
import sys
import uuid
from collections.abc import Awaitable, Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlmodel import col, select

import app.domain.access
from app.core import clock
from app.core.db import build_engine, session_factory
from app.domain.audit import AuditEntry


class HeldAtLock:
    """The first call to reach a lock function (the first whose arguments ``when`` accepts)
    waits just before taking the lock until released: another write can then run whole
    before it."""

    def __init__(self, when: Callable[..., bool] | None = None) -> None:
        self.reached = asyncio.Event()
        self.release = asyncio.Event()
        self.first = True
        self.when = when

    def wrap(self, real: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        async def held(*args: Any, **kwargs: Any) -> Any:
            if self.first and (self.when is None or self.when(*args, **kwargs)):
                self.first = False
                self.reached.set()
                await asyncio.wait_for(self.release.wait(), 10)
            return await real(*args, **kwargs)
        return held


@contextmanager
def held_at_lock(monkeypatch: pytest.MonkeyPatch, real: Callable[..., Awaitable[Any]] | None = None,
                 when: Callable[..., bool] | None = None) -> Iterator[HeldAtLock]:
    """:class:`HeldAtLock` over every app module that calls ``real`` (default ``lock_case``)."""
    held = HeldAtLock(when)
    real = real or app.domain.access.lock_case
    wrapped = held.wrap(real)
    for name, module in list(sys.modules.items()):
        if name.startswith("app."):
            for attr, value in list(vars(module).items()):
                if value is real:
                    monkeypatch.setattr(module, attr, wrapped)
    yield held


async def held_then_other(held: HeldAtLock, first: Awaitable[Any],
                          second: Callable[[], Awaitable[httpx.Response]]
                          ) -> tuple[Any, httpx.Response]:
    """``first`` started and held at its lock while ``second()`` runs whole; then released:
    (first's answer, second's)."""
    task = asyncio.ensure_future(first)
    await asyncio.wait_for(held.reached.wait(), 10)
    other = await second()
    held.release.set()
    return await task, other


def moving_clock(monkeypatch: pytest.MonkeyPatch, base: datetime) -> None:
    """The service's clock from ``base``, moving with real time: each write's instant is when
    it took it, so the order of recorded times can be compared with the order of commits."""
    start = datetime.now(UTC)
    monkeypatch.setattr(clock, "now", lambda: base + (datetime.now(UTC) - start))


async def chain_in_commit_order(settings: Any, entity_ids: Iterable[str | uuid.UUID]
                                ) -> list[tuple[str, str, datetime]]:
    """(action, entity id, recorded at) of the audit entries about ``entity_ids`` (a case's
    ``case_id`` or the entity's own id), in the order their writes committed (the chain's
    ``seq``)."""
    ids = [uuid.UUID(str(i)) for i in entity_ids]
    engine = build_engine(settings)
    try:
        async with session_factory(engine)() as session:
            rows = (await session.exec(
                select(AuditEntry.action, AuditEntry.entity_id, AuditEntry.at)
                .where(col(AuditEntry.entity_id).in_(ids) | col(AuditEntry.case_id).in_(ids))
                .order_by(col(AuditEntry.seq)))).all()
            return [(action, str(entity), at) for action, entity, at in rows]
    finally:
        await engine.dispose()


def assert_dated_in_commit_order(chain: list[tuple[str, str, datetime]]) -> None:
    """Each entry is recorded at or after the one committed before it."""
    times = [at for _, _, at in chain]
    assert times == sorted(times), chain
