"""List the SQL statements one judgement write runs, in order (the write path's statement count).

Runs the app in-process on a throwaway database (SQLite by default; ``--postgres`` for the local
PostgreSQL), opens a Wokingham case, records a few judgements to warm up, then records one more
(SWB, then LoR, like the wrk script) with a ``before_cursor_execute`` listener on the engine and
prints each statement's first line (``--patch``: those of a dated ``PATCH`` of
``in_custody``, out, after three such). Usage: ``python benchmarks/statements.py
[--postgres] [--full] [--writes N] [--patch]`` (``--full``: the whole SQL of each statement;
``--writes``: then time N more judgements over 20 cases, one at a time, and print this
process's CPU per write in batches: client and server in one process, so compare runs of this
script only).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ["YJ_ENV_FILE"] = ""

import asyncpg  # noqa: E402
import httpx  # noqa: E402
from asgi_lifespan import LifespanManager  # noqa: E402
from sqlalchemy import event  # noqa: E402

from app.core.config import Settings  # noqa: E402
from app.core.migrate import upgrade  # noqa: E402
from app.core.security import mint_dev_token  # noqa: E402
from app.main import create_app  # noqa: E402

PROFILE_TO = os.environ.get("YJ_BENCH_PROFILE", "")  # a file: cProfile the timed writes into it
PG = os.environ.get("YJ_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")


async def measure(url: str, full: bool, writes: int, patch: bool = False) -> None:
    """Record judgements and print the statements of the last ones (``patch``: of the last
    of a few dated ``PATCH``es of ``in_custody``, in then out, after the judgements)."""
    settings = Settings(env="test", database_url=url, jwt_secret="s" * 48, log_level="WARNING",
                        access_log_flush_seconds=3600)
    app = create_app(settings)
    async with LifespanManager(app) as manager:
        statements: list[str] = []

        def listen(_c: Any, _cur: Any, sql: str, *_a: Any) -> None:
            statements.append(sql)

        event.listen(app.state.engine.sync_engine, "before_cursor_execute", listen)
        slug = f"st-{uuid.uuid4().hex[:6]}"
        admin = mint_dev_token(settings, sub="admin", roles=["admin"], service=None)
        holder = mint_dev_token(settings, sub="cw", roles=["case_holder"], service=slug)
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://x") as client:
            r = await client.post("/v1/services", headers={"Authorization": f"Bearer {admin}"},
                                  json={"slug": slug, "name": "S",
                                        "policy_pack": "wokingham-pyjs-2024"})
            r.raise_for_status()
            auth = {"Authorization": f"Bearer {holder}"}
            r = await client.post("/v1/cases", headers=auth, json={
                "child": {"given_name": "A", "family_name": "B", "date_of_birth": "2010-03-04"},
                "case_holder_id": "cw", "line_manager_id": "lm",
                "intervention": "court_order", "csc_status": "none"})
            r.raise_for_status()
            case = r.json()["data"]["id"]
            bodies = [{"domain": d, "level": lv} for lv in ("low", "medium", "low", "medium")
                      for d in ("swb", "lor")]
            for body in bodies:
                statements.clear()
                r = await client.post(f"/v1/cases/{case}/judgements", headers=auth, json=body)
                r.raise_for_status()
            what = f"judgement ({url.split(':')[0]}, {body})"
            if patch:
                etag = r.headers.get("ETag") or (await client.get(
                    f"/v1/cases/{case}", headers=auth)).headers["ETag"]
                for n in range(4):
                    statements.clear()
                    at = datetime.now(UTC) - timedelta(milliseconds=1)
                    r = await client.patch(
                        f"/v1/cases/{case}", headers={**auth, "If-Match": etag},
                        json={"in_custody": n % 2 == 0,
                              "occurred_at": at.isoformat().replace("+00:00", "Z")})
                    r.raise_for_status()
                    etag = r.headers["ETag"]
                what = f"dated PATCH ({url.split(':')[0]}, in_custody {n % 2 == 0})"
            print(f"{len(statements)} statements for the last {what}; open steps now "
                  f"{len(r.json()['next_steps'])}")
            for i, sql in enumerate(statements, 1):
                text = " ".join(sql.split()) if full else sql.strip().splitlines()[0][:150]
                print(f"{i:3d}  {text}")
            if writes:
                await _time_writes(client, auth, case, writes)


async def _time_writes(client: httpx.AsyncClient, auth: dict[str, str], first: str,
                       writes: int) -> None:
    """CPU (this process) per judgement write, in batches of 50; the best batch is the one
    least disturbed by other work on the machine."""
    cases = [first]
    for _ in range(19):
        r = await client.post("/v1/cases", headers=auth, json={
            "child": {"given_name": "A", "family_name": "B", "date_of_birth": "2010-03-04"},
            "case_holder_id": "cw", "line_manager_id": "lm",
            "intervention": "court_order", "csc_status": "none"})
        r.raise_for_status()
        cases.append(r.json()["data"]["id"])
    per_batch = []
    n = 0
    profiler = cProfile.Profile(time.process_time) if PROFILE_TO else None  # CPU, not wall
    if profiler:
        profiler.enable()
    while n < writes:
        t0 = time.process_time()
        for _ in range(50):
            body = {"domain": ("swb", "lor")[n % 2], "level": ("low", "medium")[(n // 2) % 2]}
            r = await client.post(f"/v1/cases/{cases[n % 20]}/judgements", headers=auth,
                                  json=body)
            r.raise_for_status()
            n += 1
        per_batch.append((time.process_time() - t0) * 1000 / 50)
    if profiler:
        profiler.disable()
        profiler.dump_stats(PROFILE_TO)
    print("CPU per write (ms, batches of 50): "
          + " ".join(f"{b:.2f}" for b in per_batch) + f"; best {min(per_batch):.2f}")


def main() -> None:
    """Parse the options, make the database, measure, drop it."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--full", action="store_true")
    parser.add_argument("--writes", type=int, default=0)
    parser.add_argument("--patch", action="store_true",
                        help="the statements of a dated PATCH of in_custody instead")
    args = parser.parse_args()
    if args.postgres:
        name = f"yjrisk_stmts_{uuid.uuid4().hex[:8]}"

        async def admin(sql: str) -> None:
            conn = await asyncpg.connect(PG)
            try:
                await conn.execute(sql)
            finally:
                await conn.close()

        asyncio.run(admin(f'CREATE DATABASE "{name}"'))
        url = PG.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://") + "/" + name
        try:
            upgrade(url)
            asyncio.run(measure(url, args.full, args.writes, args.patch))
        finally:
            asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    else:
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite+aiosqlite:///{Path(tmp) / 'st.db'}"
            upgrade(url)
            asyncio.run(measure(url, args.full, args.writes, args.patch))


if __name__ == "__main__":
    main()
