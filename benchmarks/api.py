"""Measure judgement writes and next-step reads through the whole HTTP stack.

Runs the app in-process (ASGI, no network) against a fresh SQLite file and, when reachable, a
throwaway PostgreSQL database; migrations, a service and cases are set up first. Bounded: a fixed
number of requests per scenario. Usage: ``python benchmarks/api.py [--writes 300]``.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx  # noqa: E402
from asgi_lifespan import LifespanManager  # noqa: E402

from app.core.config import Settings  # noqa: E402
from app.core.migrate import upgrade  # noqa: E402
from app.core.security import mint_dev_token  # noqa: E402
from app.main import create_app  # noqa: E402

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
LEVELS = ["low", "medium", "high", "very_high"]


def pct(values: list[float], q: float) -> float:
    """The q-quantile in milliseconds."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def scenario(url: str, writes: int, concurrency: int) -> dict[str, Any]:
    """Open cases, then time judgement writes and next-step reads."""
    settings = Settings(env="test", database_url=url, jwt_secret="bench-" + "x" * 40,
                        log_level="WARNING")
    app = create_app(settings)
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            admin = mint_dev_token(settings, sub="admin", roles=["admin"], service=None)
            slug = f"bench-{uuid.uuid4().hex[:6]}"
            await client.post("/v1/services", json={"slug": slug, "name": "Bench",
                                                    "policy_pack": "somerset-yjt-2023"},
                              headers={"Authorization": f"Bearer {admin}"})
            holder = {"Authorization": "Bearer " + mint_dev_token(
                settings, sub="cw-1", roles=["case_holder"], service=slug)}
            cases = []
            for i in range(20):
                r = await client.post("/v1/cases", headers=holder, json={
                    "child": {"given_name": "C", "family_name": str(i),
                              "date_of_birth": "2010-01-01"},
                    "case_holder_id": "cw-1", "line_manager_id": "lm-1",
                    "intervention": "court_order", "csc_status": "none"})
                cases.append(r.json()["data"]["id"])
            latencies: list[float] = []
            sem = asyncio.Semaphore(concurrency)

            async def write(i: int) -> None:
                body = {"domain": "lor", "level": LEVELS[i % 3]}  # LoR: no register, no M6
                async with sem:
                    t0 = time.perf_counter()
                    r = await client.post(f"/v1/cases/{cases[i % len(cases)]}/judgements",
                                          json=body, headers=holder)
                    latencies.append(time.perf_counter() - t0)
                    assert r.status_code == 201, r.text

            start = time.perf_counter()
            await asyncio.gather(*(write(i) for i in range(writes)))
            elapsed = time.perf_counter() - start
            reads: list[float] = []
            for _ in range(writes):
                t0 = time.perf_counter()
                r = await client.get("/v1/next-steps", params={"assignee": "me"}, headers=holder)
                reads.append(time.perf_counter() - t0)
                assert r.status_code == 200
    return {"writes_per_s": writes / elapsed, "write_p50": pct(latencies, 0.5),
            "write_p95": pct(latencies, 0.95), "read_p50": pct(reads, 0.5),
            "read_p95": pct(reads, 0.95), "read_mean": statistics.mean(reads) * 1000}


async def pg_database() -> str | None:
    """A throwaway PostgreSQL database, or None when the server is not reachable."""
    import asyncpg

    try:
        conn = await asyncpg.connect(PG_ADMIN, timeout=5)
    except Exception:  # noqa: BLE001 - unreachable is a skip for a benchmark
        return None
    name = f"yjrisk_bench_{uuid.uuid4().hex[:8]}"
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    return name


async def drop(name: str) -> None:
    """Drop the throwaway database."""
    import asyncpg

    conn = await asyncpg.connect(PG_ADMIN, timeout=5)
    await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await conn.close()


def report(label: str, r: dict[str, Any]) -> None:
    """Print one line of results."""
    print(f"{label:28} {r['writes_per_s']:8.1f} writes/s  write p50 {r['write_p50']:6.1f} ms "
          f"p95 {r['write_p95']:6.1f} ms | next-steps read p50 {r['read_p50']:5.1f} ms "
          f"p95 {r['read_p95']:5.1f} ms")


def main() -> None:
    """Run every scenario."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--writes", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for clients in (1, 8):
            url = f"sqlite+aiosqlite:///{Path(tmp) / f'bench-{clients}.db'}"
            upgrade(url)
            report(f"SQLite, {clients} client(s)", asyncio.run(scenario(url, args.writes, clients)))
    name = asyncio.run(pg_database())
    if name is None:
        print("PostgreSQL not reachable: skipped")
        return
    url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
    try:
        upgrade(url)
        report("PostgreSQL, 1 client", asyncio.run(scenario(url, args.writes, 1)))
        report("PostgreSQL, 8 clients", asyncio.run(scenario(url, args.writes, 8)))
    finally:
        asyncio.run(drop(name))


if __name__ == "__main__":
    main()
