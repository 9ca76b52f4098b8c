"""Liveness and readiness."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.responses import JSONResponse

from app.core.problems import RETRY_AFTER_SECONDS, problem_response

router = APIRouter(tags=["operations"])
# Load balancers give up after a couple of seconds: answer within this, database or not.
READINESS_DEADLINE_SECONDS = 1.5


@router.get("/healthz", summary="Liveness")
async def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


async def _probe(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))


@router.get("/readyz", summary="Readiness (database reachable)")
async def readyz(request: Request) -> JSONResponse:
    """The database answers a query within 1.5 s; 503 problem otherwise (frozen, down, full).

    The probe is never cancelled half-way (that could strand a pooled connection): it runs as
    one shared background task, bounded by the connect/pool/statement timeouts, and a probe
    still running after the deadline answers 503 while it finishes on its own.
    """
    state = request.app.state
    task: asyncio.Task[None] | None = getattr(state, "readiness_probe", None)
    if task is None or task.done():
        task = asyncio.create_task(_probe(state.engine))
        task.add_done_callback(lambda t: t.cancelled() or t.exception())  # retrieved: no warning
        state.readiness_probe = task
    done, _ = await asyncio.wait({task}, timeout=READINESS_DEADLINE_SECONDS)
    if not done or task.cancelled() or task.exception() is not None:
        response = problem_response(503, "The database is not reachable.", slug="not-ready")
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
    return JSONResponse({"status": "ready"})
