"""The worker's loops: one pass every interval until asked to stop (``yjrisk worker``)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger("yjrisk.worker")


async def every(
    interval_seconds: float, run_pass: Callable[[], Awaitable[object]], stop: asyncio.Event,
    failed: str,
) -> None:
    """Run ``run_pass`` every ``interval_seconds`` until ``stop`` is set (a pass in progress
    finishes first). A pass that raises is logged as ``failed`` (an event name, with its
    traceback and no request data) and retried at the next interval: each pass is its own
    transactions, so a failed one loses nothing written before it."""
    while not stop.is_set():
        try:
            await run_pass()
        except Exception:  # noqa: BLE001 - a failed pass is retried next interval
            log.exception(failed)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval_seconds)
