"""The floor: a bare FastAPI app whose write is one asyncpg INSERT (no auth, no policy).

Used by ``benchmarks/http_vs_floor.sh`` as the reference the real write is compared with, in the
same run on the same machine. ``YJ_FLOOR_DSN`` names the PostgreSQL database (a table
``floor_judgement`` is created there).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import asyncpg
from fastapi import FastAPI, Request
from pydantic import BaseModel

DSN = os.environ.get("YJ_FLOOR_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")


class JudgementIn(BaseModel):
    """The same body the real endpoint takes (the fields the benchmark sends)."""

    domain: str
    level: str


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Open a pool and make the one table."""
    pool = await asyncpg.create_pool(DSN, min_size=4, max_size=10)
    await pool.execute(
        "CREATE TABLE IF NOT EXISTS floor_judgement (id uuid PRIMARY KEY, case_id text NOT NULL,"
        " domain text NOT NULL, level text NOT NULL, recorded_at timestamptz NOT NULL)")
    app.state.pool = pool
    yield
    await pool.close()


app = FastAPI(lifespan=lifespan)


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    """The floor of a request: routing and a JSON answer (``benchmarks/overhead.sh``)."""
    return {"status": "ok"}


@app.post("/v1/cases/{case_id}/judgements", status_code=201)
async def record(case_id: str, body: JudgementIn, request: Request) -> dict[str, object]:
    """Insert one row and answer it."""
    row_id = uuid.uuid4()
    now = datetime.now(UTC)
    await request.app.state.pool.execute(
        "INSERT INTO floor_judgement VALUES ($1, $2, $3, $4, $5)",
        row_id, case_id, body.domain, body.level, now)
    return {"data": {"id": str(row_id), "case_id": case_id, "domain": body.domain,
                     "level": body.level, "recorded_at": now.isoformat()}, "next_steps": []}
