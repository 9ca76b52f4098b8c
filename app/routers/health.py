"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter, Request
from sqlalchemy import text
from starlette.responses import JSONResponse

from app.core.problems import problem_response

router = APIRouter(tags=["operations"])


@router.get("/healthz", summary="Liveness")
async def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz", summary="Readiness (database reachable)")
async def readyz(request: Request) -> JSONResponse:
    """The database answers a query."""
    try:
        async with request.app.state.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception:  # noqa: BLE001 - any failure means not ready
        return problem_response(503, "The database is not reachable.", slug="not-ready",
                                instance=request.url.path)
    return JSONResponse({"status": "ready"})
