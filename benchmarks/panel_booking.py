"""Panel writes on a service with many cases waiting at a MARP (attack 28a, ATK28A-7).

A fresh database (PostgreSQL at 127.0.0.1:5432 by default; ``--sqlite``: a temporary SQLite
file) with a Somerset service, a MARP a week ahead and ``--cases`` cases judged ROSH high (each
with S7/S8 steps due at that MARP: "refer the case to the next YJT MARP"). Then, in process
(ASGI, one event loop), the wall time of:

- ``book_later``: ``POST /v1/panels`` of MARPs after the one the steps are due at (no step's
  date can change: the ordinary booking of the next months' panels);
- ``move_later`` / ``cancel_later``: moving and cancelling such a MARP;
- ``book_sooner``: a MARP before it (every waiting case's steps are re-dated to it: the costly
  case that really changes N cases) and ``cancel_sooner``: cancelling it again (back to the
  first MARP);

each with the number of cases the engine ran for. ``--full`` runs every waiting case on every
panel write (the path before ATK28A-7: ``app.domain.panels._due_may_change`` answering true),
for the before/after comparison on the same tree. Usage::

    .venv/bin/python benchmarks/panel_booking.py [--cases 200] [--rounds 5] [--sqlite] [--full]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

PG = "postgresql://postgres@127.0.0.1:5432/postgres"


async def measure(url: str, cases: int, rounds: int, full: bool, profile: str | None = None
                  ) -> dict[str, Any]:
    """Set up the service and cases, then time the panel writes; median ms and engine runs."""
    import httpx
    import sqlalchemy as sa
    from asgi_lifespan import LifespanManager

    from app.core.config import Settings
    from app.core.security import mint_dev_token
    from app.domain import panels, policy
    from app.main import create_app
    from app.workflows.calendar import WorkingCalendar

    if full:
        panels._due_may_change = lambda *a, **k: sa.true()  # type: ignore[assignment]
    runs = [0]
    real_run = policy.run

    async def counting_run(*args: Any, **kw: Any) -> Any:
        runs[0] += 1
        return await real_run(*args, **kw)

    policy.run = counting_run  # type: ignore[assignment]
    settings = Settings(env="test", database_url=url, jwt_secret="s" * 48, log_level="WARNING",
                        access_log_flush_seconds=3600)
    app = create_app(settings)
    slug = f"pb-{uuid.uuid4().hex[:6]}"
    admin = mint_dev_token(settings, sub="admin", roles=["admin"], service=None)

    def auth(role: str, sub: str) -> dict[str, str]:
        token = mint_dev_token(settings, sub=sub, roles=[role], service=slug)
        return {"Authorization": f"Bearer {token}"}

    holder, manager, pa = auth("case_holder", "cw"), auth("line_manager", "lm"), \
        auth("panel_admin", "pa")
    today = datetime.now(UTC).replace(hour=10, minute=0, second=0, microsecond=0)
    now = today + timedelta(days=7 - today.weekday())  # next Monday
    calendar = WorkingCalendar()

    def at(days: float) -> str:
        # A panel sits on a working day (422 not-a-working-day otherwise).
        moment = now + timedelta(days=days)
        day = calendar.next_working_day_on_or_after(moment.date())
        return moment.replace(year=day.year, month=day.month, day=day.day).isoformat()

    async with LifespanManager(app) as lifespan:
        transport = httpx.ASGITransport(app=lifespan.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://x",
                                     timeout=120) as client:

            async def ok(r: httpx.Response, status: int) -> dict[str, Any]:
                if r.status_code != status:
                    raise SystemExit(f"{r.request.method} {r.request.url}: {r.status_code} "
                                     f"{r.text[:300]}")
                return r.json() if r.content else {}  # type: ignore[no-any-return]

            await ok(await client.post("/v1/services", headers={
                "Authorization": f"Bearer {admin}"}, json={
                "slug": slug, "name": "S", "policy_pack": "somerset-yjt-2023"}), 201)

            async def book(days: float) -> str:
                body = {"kind": "marp", "scheduled_for": at(days), "chair_id": "chair"}
                return str((await ok(await client.post("/v1/panels", json=body, headers=pa),
                                     201))["data"]["id"])

            await book(7)
            for i in range(cases):
                case = await ok(await client.post("/v1/cases", headers=manager, json={
                    "child": {"given_name": "A", "family_name": f"B{i}",
                              "date_of_birth": "2010-03-04"},
                    "case_holder_id": "cw", "line_manager_id": "lm",
                    "intervention": "court_order", "csc_status": "none"}), 201)
                await ok(await client.post(f"/v1/cases/{case['data']['id']}/judgements",
                                           headers=holder,
                                           json={"domain": "rosh", "level": "high"}), 201)
            figures: dict[str, list[float]] = {}
            engine_runs: dict[str, int] = {}

            async def timed(name: str, op: Any) -> Any:
                runs[0] = 0
                t0 = time.perf_counter()
                result = await op
                figures.setdefault(name, []).append((time.perf_counter() - t0) * 1000)
                engine_runs[name] = runs[0]
                return result

            await book(300)  # warm-up: the app's first body check builds its contract
            for r in range(rounds):
                later = await timed("book_later", book(14 + 7 * r))
                await timed("move_later", _move(client, ok, later, at(15 + 7 * r), pa))
                await timed("cancel_later", _cancel(client, ok, later, pa))
            for _ in range(max(1, rounds // 2)):
                if profile:
                    import cProfile
                    profiler = cProfile.Profile()
                    profiler.enable()
                sooner = await timed("book_sooner", book(3))
                if profile:
                    profiler.disable()
                    profiler.dump_stats(profile)
                    profile = None
                await timed("cancel_sooner", _cancel(client, ok, sooner, pa))
    return {"cases": cases, "full": full,
            "ms_median": {k: round(statistics.median(v), 1) for k, v in figures.items()},
            "ms_max": {k: round(max(v), 1) for k, v in figures.items()},
            "engine_runs": engine_runs}


async def _move(client: Any, ok: Any, panel_id: str, when: str, headers: dict[str, str]
                ) -> None:
    await ok(await client.post(f"/v1/panels/{panel_id}/reschedule",
                               json={"scheduled_for": when}, headers=headers), 200)


async def _cancel(client: Any, ok: Any, panel_id: str, headers: dict[str, str]) -> None:
    await ok(await client.delete(f"/v1/panels/{panel_id}", headers=headers), 204)


def _database(sqlite_dir: str | None) -> tuple[str, str | None]:
    """A throwaway database with the schema: its URL, and its name on PostgreSQL."""
    from app.core.migrate import upgrade

    if sqlite_dir:
        url = f"sqlite+aiosqlite:///{Path(sqlite_dir) / 'pb.db'}"
        upgrade(url)
        return url, None
    name = f"yjrisk_pb_{uuid.uuid4().hex[:8]}"
    _pg_admin(f'CREATE DATABASE "{name}"')
    url = PG.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://") + "/" + name
    upgrade(url)
    return url, name


def _pg_admin(sql: str) -> None:
    import asyncpg

    async def run() -> None:
        conn = await asyncpg.connect(PG)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(run())


def main() -> None:
    """Parse the options, make the database, measure, print, drop the database."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--sqlite", action="store_true")
    parser.add_argument("--full", action="store_true",
                        help="run every waiting case on every panel write (before ATK28A-7)")
    parser.add_argument("--profile", default=None,
                        help="write a cProfile of the first book_sooner to this file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url, name = _database(tmp if args.sqlite else None)
        try:
            result = asyncio.run(measure(url, args.cases, args.rounds, args.full, args.profile))
        finally:
            if name:
                _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    print(json.dumps(result))


if __name__ == "__main__":
    main()
