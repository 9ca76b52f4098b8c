"""The timeliness report's query time on a large synthetic PostgreSQL data set.

Builds a throwaway database (migrated to head), fills it with ``--steps`` steps over
``--cases`` cases of one service (plus as many again in a second service, as noise), in
SQL with generate_series, then times the report's domain query for a chair (whole service)
and a line manager (own team), several groupings, ``--runs`` times each. Prints min-max.

    .venv/bin/python benchmarks/report.py --steps 1000000 --cases 20000
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
import uuid
from datetime import date

import asyncpg
from sqlalchemy.ext.asyncio import create_async_engine

from app.core.db import session_factory
from app.core.migrate import upgrade
from app.core.security import Principal
from app.domain import reports
from app.domain.history import RecordedSession

PG_ADMIN = os.environ.get("YJ_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")

SERVICE = """
INSERT INTO service (id, slug, name, policy_pack, created_at)
VALUES ($1, $2, 'Bench', 'wokingham-pyjs-2024', now())
"""
CASES = """
INSERT INTO "case" (id, service_id, given_name, family_name, date_of_birth, case_holder_id,
  line_manager_id, intervention, statutory, csc_status, weapon_related, in_custody,
  volunteer_attached, opened_at, ratings, on_register, version, created_at, updated_at)
SELECT gen_random_uuid(), $1, 'Child', 'Bench' || g, DATE '2010-01-01',
  'holder-' || (g % 400), 'manager-' || (g % 40), 'court_order', true, 'none', false, false,
  false, TIMESTAMPTZ '2024-01-01', '{}'::jsonb, false, 1, now(), now()
FROM generate_series(1, $2) AS g
"""

STEPS = """
WITH c AS (SELECT id, row_number() OVER () AS n FROM "case" WHERE service_id = $1),
     s AS (SELECT g, (g % $3) + 1 AS n,
                  TIMESTAMPTZ '2025-01-01' + (g % 700) * INTERVAL '1 day'
                    + (g % 24) * INTERVAL '1 hour' AS due
           FROM generate_series(1, $2) AS g)
INSERT INTO step (id, service_id, case_id, code, rule_id, title, actor, assignee_id, due_at,
  urgent, awaiting_panel_date, status, policy_pack, policy_ref, subject_id, created_at,
  raised_at, completed_at)
SELECT gen_random_uuid(), $1, c.id, 'code_' || (s.g % 30), 'W' || (s.g % 30), 'A step',
  'case_holder', 'holder-' || (s.g % 400),
  CASE WHEN s.g % 10 = 0 THEN NULL ELSE s.due END, s.g % 7 = 0, false,
  CASE WHEN s.g % 5 = 0 THEN 'open' WHEN s.g % 11 = 0 THEN 'superseded'
       WHEN s.g % 13 = 0 THEN 'waived' ELSE 'done' END,
  'wokingham-pyjs-2024', 'ref', gen_random_uuid(), s.due - INTERVAL '5 days',
  s.due - INTERVAL '5 days',
  CASE WHEN s.g % 5 = 0 THEN NULL
       ELSE s.due + ((s.g % 9) - 5) * INTERVAL '1 day' END
FROM s JOIN c ON c.n = s.n;
"""


async def fill(dsn: str, service_id: uuid.UUID, slug: str, steps: int, cases: int) -> None:
    """One service's cases and steps."""
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(SERVICE, service_id, slug)
        await conn.execute(CASES, service_id, cases)
        await conn.execute(STEPS, service_id, steps, cases)
        await conn.execute("ANALYZE")
    finally:
        await conn.close()


async def measure(url: str, slug: str, runs: int) -> None:
    """Time the report for a chair and a line manager, per grouping."""
    engine = create_async_engine(url)
    factory = session_factory(engine, RecordedSession)
    chair = Principal(sub="chair-1", roles=frozenset({"chair"}), service=slug)
    manager = Principal(sub="manager-7", roles=frozenset({"line_manager"}), service=slug)
    year = (date(2025, 1, 1), date(2025, 12, 31))
    for who, principal in (("chair", chair), ("line manager", manager)):
        for groups in ((), ("rule",), ("rule", "month"), ("team", "month")):
            query = reports.check_query(*year, [reports.GroupBy(g) for g in groups])
            times = []
            for _ in range(runs):
                async with factory() as session:
                    t0 = time.perf_counter()
                    out = await reports.timeliness(session, principal, query)
                    times.append((time.perf_counter() - t0) * 1000)
            print(f"{who:13} group_by={','.join(groups) or '-':11} rows={len(out.rows):4} "
                  f"{min(times):8.1f}-{max(times):8.1f} ms")
    await engine.dispose()


def main() -> None:
    """Build the data set, measure, drop the database."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=1_000_000)
    parser.add_argument("--cases", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    name = f"yjrisk_bench_{uuid.uuid4().hex[:8]}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(PG_ADMIN)
        await conn.execute(sql)
        await conn.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    base = PG_ADMIN.rsplit("/", 1)[0]
    try:
        url = f"{base.replace('postgresql://', 'postgresql+asyncpg://')}/{name}"
        upgrade(url)
        t0 = time.perf_counter()
        for slug in ("bench", "noise"):
            asyncio.run(fill(f"{base}/{name}", uuid.uuid4(), slug, args.steps, args.cases))
        print(f"filled {2 * args.steps} steps in {time.perf_counter() - t0:.0f} s")
        asyncio.run(measure(url, "bench", args.runs))
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


if __name__ == "__main__":
    main()
