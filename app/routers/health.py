"""Liveness and readiness."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from fastapi import Request
from sqlalchemy import URL, text
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.responses import JSONResponse

from app.core.http import PathFilteredRouter
from app.core.problems import RETRY_AFTER_SECONDS, problem_response

router = PathFilteredRouter(tags=["operations"])
# Load balancers give up after a couple of seconds: answer within this, database or not.
READINESS_DEADLINE_SECONDS = 1.5


@router.get("/healthz", summary="Liveness")
async def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


# PostgreSQL: a hot standby (after a failover) or a database set to
# ``default_transaction_read_only`` answers reads but refuses every write (SQLSTATE 25006).
_PG_WRITABLE = text(
    "SELECT NOT pg_is_in_recovery() AND current_setting('transaction_read_only') = 'off'")


def _sqlite_read_only(url: URL) -> bool:
    """Whether an SQLite database would refuse writes: opened read-only (``mode=ro``,
    ``immutable=1``), or its file, its write-ahead log or their directory not writable by
    this process (a read-only mount, permissions); an in-memory database never is."""
    query = {k: str(v).lower() for k, v in url.query.items()}
    if query.get("mode") == "ro" or query.get("immutable") in {"1", "true"}:
        return True
    database = (url.database or "").removeprefix("file:").split("?", 1)[0]
    if database in {"", ":memory:"} or query.get("mode") == "memory":
        return False
    path = Path(database)
    for side in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        if side.exists() and not os.access(side, os.W_OK):
            return True
        if not side.exists() and not os.access(path.parent, os.W_OK):
            return True
    return False


async def _probe(engine: AsyncEngine) -> str | None:
    """None when the database answers and will accept writes; else why it is not ready."""
    if engine.dialect.name == "sqlite":
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        return "The database is read-only." if _sqlite_read_only(engine.url) else None
    async with engine.connect() as conn:
        writable = (await conn.execute(_PG_WRITABLE)).scalar_one()
    return None if writable else "The database is read-only (a standby, or writes are off)."


@router.get("/readyz", summary="Readiness (database reachable and writable)")
async def readyz(request: Request) -> JSONResponse:
    """The database answers a query within 1.5 s and accepts writes; 503 problem otherwise
    (frozen, down, full; read-only: a standby after a failover, ``default_transaction_read_only``
    on PostgreSQL, a read-only file on SQLite), as every write would be 503 (attack 18, A18-12).

    The probe is never cancelled half-way (that could strand a pooled connection): it runs as
    one shared background task, bounded by the connect/pool/statement timeouts, and a probe
    still running after the deadline answers 503 while it finishes on its own.
    """
    state = request.app.state
    task: asyncio.Task[str | None] | None = getattr(state, "readiness_probe", None)
    if task is None or task.done():
        task = asyncio.create_task(_probe(state.engine))
        task.add_done_callback(lambda t: t.cancelled() or t.exception())  # retrieved: no warning
        state.readiness_probe = task
    done, _ = await asyncio.wait({task}, timeout=READINESS_DEADLINE_SECONDS)
    if not done or task.cancelled() or task.exception() is not None:
        return _not_ready("The database is not reachable.")
    refused = task.result()
    return _not_ready(refused) if refused else JSONResponse({"status": "ready"})


def _not_ready(detail: str) -> JSONResponse:
    response = problem_response(503, detail, slug="not-ready")
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response
