"""The C heap's free pages handed back to the operating system now and then (glibc's
``malloc_trim``), so that a serving process's resident memory follows what it holds.

A burst of concurrent requests (32 writes in flight: their sessions, rows, answers and the
pool's extra connections) leaves the C heap with free holes that ``free`` never returns: the
process kept ~7 MB more after a write benchmark than before it, though it held no more
objects (issue 15, goal 5). ``malloc_trim(0)`` releases them; it takes about a millisecond on
this heap. Only glibc has it: elsewhere (musl, macOS) the trimmer does nothing.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
from collections.abc import Callable

from app.core.loop import every


def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim``, or None where the C library has none."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim: Callable[[int], int] = libc.malloc_trim
    except (OSError, AttributeError):
        return None
    return trim


class HeapTrimmer:
    """Trims the C heap every ``interval`` seconds from a background task (one per process;
    ``interval`` 0: never)."""

    def __init__(self, interval: float) -> None:
        self._interval = interval
        self._trim = _malloc_trim() if interval > 0 else None
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.passes = 0

    async def _pass(self) -> None:
        if self._trim is not None:
            self._trim(0)
        self.passes += 1

    def start(self) -> None:
        """Start the background task (nothing to do without ``malloc_trim`` or an interval)."""
        if self._trim is not None and self._task is None:
            self._task = asyncio.create_task(
                every(self._interval, self._pass, self._stop, "heap.trim_failed"))

    async def stop(self) -> None:
        """Stop the background task and wait for it."""
        self._stop.set()
        if self._task is not None:
            await self._task
            self._task = None
