"""The worker's loops: one pass every interval until asked to stop (``yjrisk worker``)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from app.core.problems import database_unavailable

log = logging.getLogger("yjrisk.worker")


async def every(
    interval_seconds: float, run_pass: Callable[[], Awaitable[object]], stop: asyncio.Event,
    failed: str,
) -> None:
    """Run ``run_pass`` every ``interval_seconds`` until ``stop`` is set (a pass in progress
    finishes first). A pass that raises is logged as ``failed`` (an event name, with its
    traceback and no request data; a database that is down or read-only, a warning without
    one, as a request's 503 is) and retried at the next interval: each pass is its own
    transactions, so a failed one loses nothing written before it."""
    while not stop.is_set():
        try:
            await run_pass()
        except Exception as exc:  # noqa: BLE001 - a failed pass is retried next interval
            if database_unavailable(exc):
                log.warning("%s: database unavailable (%s)", failed, type(exc).__name__)
            else:
                log.exception(failed)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval_seconds)
