"""Issue 15 (goal 5, memory): a serving process hands its C heap's free pages back to the
system now and then (glibc ``malloc_trim``), so a burst of concurrent requests does not leave
its resident memory high for good."""

from __future__ import annotations

import asyncio

from asgi_lifespan import LifespanManager

from app.core.config import Settings
from app.core.heap import HeapTrimmer, _malloc_trim
from app.main import create_app


async def test_the_lifespan_trims_the_heap_every_interval(settings: Settings) -> None:
    """With the app running, the trimmer passes every ``heap_trim_seconds``; it stops with
    the app."""
    application = create_app(settings.model_copy(update={"heap_trim_seconds": 0.01}))
    async with LifespanManager(application):
        await asyncio.sleep(0.2)
        trimmer = application.state.heap_trimmer
        assert trimmer.passes >= 2
    passes = trimmer.passes
    await asyncio.sleep(0.05)
    assert trimmer.passes == passes


async def test_an_interval_of_zero_never_trims() -> None:
    """``YJ_HEAP_TRIM_SECONDS=0``: no task, no pass."""
    trimmer = HeapTrimmer(0)
    trimmer.start()
    await asyncio.sleep(0.02)
    await trimmer.stop()
    assert trimmer.passes == 0


def test_glibcs_malloc_trim_is_found_here() -> None:
    """This machine's C library (glibc) has ``malloc_trim``; a call returns 0 or 1."""
    trim = _malloc_trim()
    assert trim is not None
    assert trim(0) in (0, 1)
