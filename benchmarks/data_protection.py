"""Measure what the read audit (access log) and the audit hash chain add to a case read and a
judgement write (issue 13).

Runs the app in-process (ASGI, no network) on a fresh SQLite file and, when reachable, a
throwaway PostgreSQL database. For each, alternating rounds time ``GET /v1/cases/{id}`` with the
access log on and off, and ``POST /v1/cases/{id}/judgements`` with the hash chain on and off
(off = the sealing hook replaced by a no-op, for measurement only). Bounded: a fixed number of
sequential requests per round. Usage: ``python benchmarks/data_protection.py [--n 150]
[--rounds 3] [--no-pg]``. Prints medians per round and the range over rounds, in milliseconds.
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

import asyncpg  # noqa: E402
import httpx  # noqa: E402
from asgi_lifespan import LifespanManager  # noqa: E402

from app.core.config import Settings  # noqa: E402
from app.core.migrate import upgrade  # noqa: E402
from app.core.security import mint_dev_token  # noqa: E402
from app.domain import audit  # noqa: E402
from app.main import create_app  # noqa: E402

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


async def _timed(n: int, call: Any) -> float:
    """Median seconds of ``n`` sequential awaits of ``call(i)``."""
    samples = []
    for i in range(n):
        start = time.perf_counter()
        response = await call(i)
        samples.append(time.perf_counter() - start)
        assert response.status_code in (200, 201), response.text
    return statistics.median(samples)


async def scenario(url: str, n: int, rounds: int) -> dict[str, list[float]]:
    """Alternate on/off rounds for reads and writes; medians per round in ms."""
    settings = Settings(env="test", database_url=url, jwt_secret="bench-" + "x" * 40,
                        log_level="WARNING")
    app = create_app(settings)
    results: dict[str, list[float]] = {k: [] for k in ("read_on", "read_off", "write_on",
                                                       "write_off")}
    real_queue = audit._queue_for_sealing
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
            r = await client.post("/v1/cases", headers=holder, json={
                "child": {"given_name": "B", "family_name": "Bench",
                          "date_of_birth": "2010-01-01"},
                "case_holder_id": "cw-1", "line_manager_id": "lm-1",
                "intervention": "court_order", "csc_status": "none"})
            case_id = r.json()["data"]["id"]
            writer = app.state.access_log

            def read(_: int) -> Any:
                return client.get(f"/v1/cases/{case_id}", headers=holder)

            def write(i: int) -> Any:
                return client.post(f"/v1/cases/{case_id}/judgements", headers=holder,
                                   json={"domain": "lor", "level": ("low", "medium")[i % 2]})

            for _ in range(rounds):
                results["read_on"].append(await _timed(n, read))
                app.state.access_log = None
                results["read_off"].append(await _timed(n, read))
                app.state.access_log = writer
                results["write_on"].append(await _timed(n, write))
                audit._queue_for_sealing = lambda *a, **k: None  # type: ignore[assignment]
                try:
                    results["write_off"].append(await _timed(n, write))
                finally:
                    audit._queue_for_sealing = real_queue  # type: ignore[assignment]
    return {k: [round(v * 1000, 2) for v in vs] for k, vs in results.items()}


def report(name: str, res: dict[str, list[float]]) -> None:
    """Print medians per round and the added cost range."""
    print(f"== {name}")
    for key, values in res.items():
        print(f"  {key:9s} median per round (ms): {values}")
    for op in ("read", "write"):
        added = [round(a - b, 2) for a, b in zip(res[f"{op}_on"], res[f"{op}_off"], strict=True)]
        print(f"  {op} added (ms, per round): {added}  range {min(added)} .. {max(added)}")


async def main() -> None:
    """Run on SQLite, then PostgreSQL when reachable."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=150)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-pg", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        await asyncio.to_thread(upgrade, url)
        report("SQLite", await scenario(url, args.n, args.rounds))
    if args.no_pg:
        return
    name = f"yjrisk_bench_{uuid.uuid4().hex[:8]}"
    try:
        conn = await asyncpg.connect(PG_ADMIN, timeout=5)
    except (OSError, asyncpg.PostgresError):
        print("PostgreSQL not reachable: skipped")
        return
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
        url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
        await asyncio.to_thread(upgrade, url)
        report("PostgreSQL", await scenario(url, args.n, args.rounds))
    finally:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()


if __name__ == "__main__":
    asyncio.run(main())
