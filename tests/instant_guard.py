"""Opt-in guard over the whole suite: a write that takes its instant before a lock it is then
granted fails its test (fix32c's tracer, fix34e). A unit of work's instant must be taken after
its locks (app.core.clock.locked: a write that waited for another is dated after it, A23a-1,
A30a-15); tests/api/test_write_instant_races.py forces the known paths, this guard watches
every write of every test that runs.

On with ``YJ_INSTANT_GUARD=1`` (tests/conftest.py imports the fixture then) or
``pytest -p tests.instant_guard``. Off by default: see /work/notes/fix34e.md for its cost.
"""

from __future__ import annotations

import traceback
from collections.abc import Iterator

import pytest

from app.core import clock


def _where() -> str:
    """The app's frames of the current stack (innermost last), one line each."""
    frames = [f for f in traceback.extract_stack()[:-2] if "/app/" in f.filename]
    return " <- ".join(f"{f.filename.rsplit('/app/', 1)[1]}:{f.lineno} {f.name}"
                       for f in reversed(frames[-6:]))


@pytest.fixture(autouse=True)
def instant_guard(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fail the test if any write took its instant before a lock it was then granted."""
    early: list[tuple[object, str]] = []
    monkeypatch.setattr(clock, "early_instant_hook", lambda key: early.append((key, _where())))
    yield
    assert early == [], "a write took its instant before a lock: " + "; ".join(
        f"{key!r} at {where}" for key, where in early)
