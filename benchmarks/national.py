"""National-scale benchmark: build a realistic data set on PostgreSQL, then time the queues.

Builds a throwaway database (migrated to head) holding ``--services`` youth justice services,
``--cases`` cases and ``--steps`` steps (about 9% open, ``--overdue-share`` of the open ones past
their due time), loaded with COPY (asyncpg ``copy_records_to_table``). Services differ in size
as they do nationally: the largest holds ``--largest-share`` of the cases (0.2: with the full
preset, 30,000 cases and about 1M steps), the others share the rest. Then it starts
``yjrisk serve`` on a free port and measures through HTTP, one client, p50 and p95 over
``--requests`` requests each, on the largest service: a case holder's overdue queue, a line
manager's queue, a chair's register (first page), a chair's case list, the service's overdue
steps, a case read and the timeliness report for one service and month. Last, the duration of
one ``yjrisk tick`` over the whole set (it escalates every overdue step).

Usage::

    python benchmarks/national.py --small            # 20,000 cases, 500,000 steps
    python benchmarks/national.py --services 150 --cases 150000 --steps 5000000 --json
    python benchmarks/national.py --small --explain  # also EXPLAIN (ANALYZE, BUFFERS) each query
    python benchmarks/national.py --small --keep     # keep the database (its name on stderr)
    python benchmarks/national.py --name NAME        # build into NAME and keep it
    python benchmarks/national.py --database NAME    # measure a kept database again (the last
                                                     # tick's escalations are undone first)

Bounded: a fixed number of requests; the tick is stopped after ``--tick-timeout`` seconds.
The database is dropped at the end unless ``--keep`` or ``--database`` is given.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import socket
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import asyncpg  # noqa: E402
import httpx  # noqa: E402

from app.core.config import Settings  # noqa: E402
from app.core.migrate import upgrade  # noqa: E402
from app.core.security import mint_dev_token  # noqa: E402

PG = "postgresql://postgres@127.0.0.1:5432"
PACKS = ["somerset-yjt-2023", "wokingham-pyjs-2024"]
INTERVENTIONS = ["court_order"] * 5 + ["youth_conditional_caution", "bail", "remand",
                                        "prevention", "youth_caution", "targeted"]
LEVELS = ["low", "medium", "high", "very_high"]
# (code, actor, rule, ref) drawn from the bundled packs: what real queues hold.
STEP_KINDS = [
    ("complete_assessment", "case_holder", "S3", "4.1"),
    ("review_assessment", "case_holder", "S4", "4.3"),
    ("update_risk_management_plan", "case_holder", "S6", "5.1"),
    ("acknowledge_rating_rationale", "line_manager", "S5", "4.5"),
    ("countersign_assessment", "line_manager", "S4", "4.4"),
    ("refer_to_panel", "case_holder", "S9", "3.2.3"),
    ("monthly_management_review", "line_manager", "S11", "9.2"),
    ("report_to_line_manager", "case_holder", "S14", "3.1"),
    ("record_panel_contact", "panel_admin", "S19", "7.1.3"),
    ("advise_line_manager", "duty_manager", "S16", "4.6"),
    ("review_rating", "case_holder", "W3", "2.4"),
    ("request_high_risk_panel", "case_holder", "W7", "3.2"),
]
HOUR = timedelta(hours=1)


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pct(values: list[float], q: float) -> float:
    """The q-quantile, in milliseconds."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


class Shape:
    """Who works where: per service, line managers with their case holders, and a chair.

    Service 0 is the largest (``largest_share`` of the cases); the others share the rest."""

    def __init__(self, services: int, cases: int, largest_share: float) -> None:
        self.service_ids = [uuid.uuid4() for _ in range(services)]
        self.slugs = [f"nat-{i:03d}" for i in range(services)]
        largest = max(1, int(cases * largest_share)) if services > 1 else cases
        rest = max(1, (cases - largest) // max(1, services - 1))
        self.cases_per_service = [largest] + [rest] * (services - 1)
        # a team is ~5 holders x ~8 cases
        self.managers = [max(2, n // 40) for n in self.cases_per_service]

    def holders(self, s: int) -> int:
        """How many case holders service s has."""
        return self.managers[s] * 5

    def holder(self, s: int, h: int) -> str:
        """A case holder's staff id."""
        return f"cw-{s}-{h}"

    def manager(self, s: int, h: int) -> str:
        """The line manager of case holder h."""
        return f"lm-{s}-{h // 5}"


def case_rows(shape: Shape, now: datetime, rng: random.Random) -> Iterator[tuple[Any, ...]]:
    """Case records: (id, service, names, dob, holder, manager, intervention, ... ratings)."""
    for s, service_id in enumerate(shape.service_ids):
        for c in range(shape.cases_per_service[s]):
            h = rng.randrange(shape.holders(s))
            rosh = rng.choices(LEVELS, weights=[50, 35, 12, 3])[0]
            swb = rng.choices(LEVELS, weights=[40, 40, 16, 4])[0]
            opened = now - timedelta(days=rng.randint(1, 900))
            ratings = {d: {"level": lvl, "recorded_at": opened.isoformat(), "judgement_id": None}
                       for d, lvl in (("rosh", rosh), ("swb", swb))}
            intervention = rng.choice(INTERVENTIONS)
            closed = opened + timedelta(days=rng.randint(30, 400)) if rng.random() < 0.3 else None
            if closed is not None and closed > now:
                closed = None
            yield (
                uuid.uuid4(), service_id, "IYSS", f"{s}-{c}", f"Child{c}", f"Family{s}",
                date(2007 + rng.randint(0, 8), rng.randint(1, 12), rng.randint(1, 28)),
                shape.holder(s, h), shape.manager(s, h), intervention,
                intervention in ("court_order", "bail", "remand", "youth_conditional_caution"),
                rng.choices(["none", "cin", "cp", "cic"], weights=[70, 15, 10, 5])[0],
                rng.random() < 0.1, None, None, None, False, False, opened, closed,
                json.dumps(ratings), rosh in ("high", "very_high") or swb in ("high", "very_high"),
                None, 1, opened, opened,
            )


CASE_COLUMNS = [
    "id", "service_id", "external_system", "external_id", "given_name", "family_name",
    "date_of_birth", "case_holder_id", "line_manager_id", "intervention", "statutory",
    "csc_status", "weapon_related", "mappa_category", "mappa_level", "expected_release_date",
    "in_custody", "volunteer_attached", "opened_at", "closed_at", "ratings", "on_register",
    "contact_level", "version", "created_at", "updated_at",
]
STEP_COLUMNS = [
    "id", "service_id", "case_id", "code", "rule_id", "title", "actor", "assignee_id", "due_at",
    "urgent", "awaiting_panel_date", "deadline_form", "recurrence", "status", "policy_pack",
    "policy_ref", "subject_id", "note", "created_at", "completed_at", "completed_by",
    "completion_note", "satisfied_by_type", "satisfied_by_id", "escalated_at", "raised_at",
    "overdue_at",
]


def step_rows(
    cases: list[tuple[uuid.UUID, uuid.UUID, str, str, str]], total: int, open_share: float,
    overdue_share: float, now: datetime, rng: random.Random,
) -> Iterator[tuple[Any, ...]]:
    """Steps spread over the cases: closed history plus the open queue."""
    per_case = total / len(cases)
    for case_id, service_id, holder, manager, pack in cases:
        n = int(per_case) + (rng.random() < per_case - int(per_case))
        for _ in range(n):
            code, actor, rule, ref = rng.choice(STEP_KINDS)
            assignee = holder if actor == "case_holder" else manager if actor == "line_manager" \
                else None
            created = now - timedelta(days=rng.uniform(0, 700))
            is_open = rng.random() < open_share
            if is_open:
                overdue = rng.random() < overdue_share
                due = now - timedelta(days=rng.uniform(0.1, 120)) if overdue else \
                    now + timedelta(days=rng.uniform(0.1, 60))
                created = min(created, due - HOUR)
                yield (uuid.uuid4(), service_id, case_id, code, rule, code.replace("_", " "),
                       actor, assignee, due, rng.random() < 0.1, False, "working_days", None,
                       "open", pack, ref, uuid.uuid4(), None, created, None, None, None, None,
                       None, None, created, due)
            else:
                due = created + timedelta(days=rng.uniform(1, 30))
                done = due + timedelta(days=rng.uniform(-10, 8))
                status = rng.choices(["done", "superseded", "waived"], weights=[85, 12, 3])[0]
                yield (uuid.uuid4(), service_id, case_id, code, rule, code.replace("_", " "),
                       actor, assignee, due, False, False, "working_days", None, status, pack,
                       ref, uuid.uuid4(), None, created, max(done, created), assignee or "x",
                       None, None, None, None, created, due)


async def build(dsn: str, args: argparse.Namespace) -> dict[str, Any]:
    """Load services, cases and steps with COPY; answer the shape used for the requests."""
    rng = random.Random(20261129)
    now = datetime.now(UTC)
    shape = Shape(args.services, args.cases, args.largest_share)
    conn = await asyncpg.connect(dsn)
    t0 = time.perf_counter()
    await conn.copy_records_to_table(
        "service", columns=["id", "slug", "name", "policy_pack", "created_at"],
        records=[(sid, shape.slugs[i], f"National {i}", PACKS[i % 2], now)
                 for i, sid in enumerate(shape.service_ids)])
    cases: list[tuple[uuid.UUID, uuid.UUID, str, str, str]] = []
    pack_of = {sid: PACKS[i % 2] for i, sid in enumerate(shape.service_ids)}
    batch: list[tuple[Any, ...]] = []
    for row in case_rows(shape, now, rng):
        batch.append(row)
        if row[19] is None:  # open cases carry the open queue
            cases.append((row[0], row[1], row[7], row[8], pack_of[row[1]]))
        if len(batch) >= 20000:
            await conn.copy_records_to_table('case', columns=CASE_COLUMNS, records=batch)
            batch = []
    if batch:
        await conn.copy_records_to_table('case', columns=CASE_COLUMNS, records=batch)
    open_share = 0.09 * args.steps / max(1, args.steps)
    batch = []
    for row in step_rows(cases, args.steps, open_share, args.overdue_share, now, rng):
        batch.append(row)
        if len(batch) >= 50000:
            await conn.copy_records_to_table("step", columns=STEP_COLUMNS, records=batch)
            batch = []
    if batch:
        await conn.copy_records_to_table("step", columns=STEP_COLUMNS, records=batch)
    # A long-lived table is vacuumed (autovacuum): the visibility map is set, as index-only
    # scans expect; a fresh COPY is not, so vacuum here rather than measure a state no
    # production database stays in.
    await conn.execute("VACUUM ANALYZE")
    counts = await conn.fetchrow(
        "SELECT (SELECT count(*) FROM \"case\") AS cases, (SELECT count(*) FROM step) AS steps,"
        " (SELECT count(*) FROM step WHERE status = 'open') AS open,"
        " (SELECT count(*) FROM step WHERE status = 'open' AND due_at < now()) AS overdue")
    await conn.close()
    return {"load_seconds": round(time.perf_counter() - t0, 1), **dict(counts), "shape": shape}


async def survey(dsn: str, shape: Shape) -> dict[str, Any]:
    """The sample for the requests (a mid-list open case of the largest service, its holder
    and manager) and the size of that service."""
    conn = await asyncpg.connect(dsn)
    try:
        largest = shape.service_ids[0]
        sample = await conn.fetchrow(
            'SELECT id, service_id, case_holder_id, line_manager_id FROM "case"'
            " WHERE service_id = $1 AND closed_at IS NULL ORDER BY external_id"
            " OFFSET (SELECT count(*) / 2 FROM \"case\" WHERE service_id = $1"
            " AND closed_at IS NULL) LIMIT 1", largest)
        sizes = await conn.fetchrow(
            'SELECT (SELECT count(*) FROM "case" WHERE service_id = $1) AS cases,'
            " (SELECT count(*) FROM step WHERE service_id = $1) AS steps,"
            ' (SELECT count(*) FROM "case" WHERE service_id = $1 AND on_register) AS register',
            largest)
    finally:
        await conn.close()
    return {"sample_case": (sample["id"], sample["service_id"], sample["case_holder_id"],
                            sample["line_manager_id"]), "largest_service": dict(sizes)}


async def reshape(dsn: str, args: argparse.Namespace) -> dict[str, Any]:
    """A kept database measured again: its shape (slugs and ids by name) and counts, with the
    escalations of an earlier tick undone so that the tick does the same work again."""
    conn = await asyncpg.connect(dsn)
    try:
        async with conn.transaction():
            await conn.execute("DELETE FROM step WHERE code = 'escalate_overdue_step'")
            await conn.execute("UPDATE step SET escalated_at = NULL"
                               " WHERE escalated_at IS NOT NULL")
            await conn.execute("DELETE FROM audit_entry WHERE action = 'step.escalate'")
            await conn.execute("DELETE FROM outbox_event WHERE type = 'step.escalated'")
        await conn.execute("VACUUM ANALYZE")
        services = await conn.fetch("SELECT id, slug FROM service WHERE slug LIKE 'nat-%'"
                                    " ORDER BY slug")
        counts = await conn.fetchrow(
            "SELECT (SELECT count(*) FROM \"case\") AS cases, (SELECT count(*) FROM step)"
            " AS steps, (SELECT count(*) FROM step WHERE status = 'open') AS open,"
            " (SELECT count(*) FROM step WHERE status = 'open' AND due_at < now()) AS overdue")
    finally:
        await conn.close()
    shape = Shape(len(services), 0, args.largest_share)
    shape.service_ids = [r["id"] for r in services]
    shape.slugs = [r["slug"] for r in services]
    return {"load_seconds": None, **dict(counts), "shape": shape}


def reads_of(settings: Settings, data: dict[str, Any], month: str
             ) -> dict[str, tuple[str, dict[str, str]]]:
    """The measured reads: label -> (path, headers), on the sample case's (largest) service."""
    shape: Shape = data["shape"]
    case_id, service_id, holder, manager = data["sample_case"]
    slug = shape.slugs[shape.service_ids.index(service_id)]

    def token(sub: str, role: str) -> dict[str, str]:
        return {"Authorization": "Bearer " + mint_dev_token(
            settings, sub=sub, roles=[role], service=slug, ttl_seconds=3600)}

    first, last = f"{month}-01", (date.fromisoformat(f"{month}-01") + timedelta(days=32)) \
        .replace(day=1) - timedelta(days=1)
    return {
        "holder overdue queue": ("/v1/next-steps?assignee=me&overdue=true",
                                 token(holder, "case_holder")),
        "line manager queue": ("/v1/next-steps?assignee=me", token(manager, "line_manager")),
        "chair register": ("/v1/register", token("chair-1", "chair")),
        "chair case list": ("/v1/cases", token("chair-1", "chair")),
        "service overdue steps": ("/v1/next-steps?overdue=true", token("chair-1", "chair")),
        "case read": (f"/v1/cases/{case_id}", token(holder, "case_holder")),
        "timeliness report (one month)": (
            f"/v1/reports/timeliness?from={first}&to={last.isoformat()}&group_by=rule",
            token("chair-1", "chair")),
    }


def measure(base: str, reads: dict[str, tuple[str, dict[str, str]]], n: int
            ) -> dict[str, dict[str, float]]:
    """p50/p95 of each read over HTTP, one client."""
    out: dict[str, dict[str, float]] = {}
    with httpx.Client(base_url=base, timeout=60) as client:
        for label, (path, headers) in reads.items():
            probe = client.get(path, headers=headers)
            if probe.status_code != 200:
                raise SystemExit(f"{label}: {probe.status_code} {probe.text[:200]}")
            times = []
            for _ in range(n):
                t0 = time.perf_counter()
                r = client.get(path, headers=headers)
                times.append(time.perf_counter() - t0)
                assert r.status_code == 200
            body = probe.json()["data"]
            out[label] = {"items": len(body) if isinstance(body, list) else 1,
                          "p50_ms": round(pct(times, 0.5), 1),
                          "p95_ms": round(pct(times, 0.95), 1),
                          "mean_ms": round(statistics.mean(times) * 1000, 1)}
    return out


# Statements of a request not worth a plan: authentication, the service by slug, the access log.
TRIVIAL = ("FROM service", "FROM staff", "access_log", "pg_advisory", "FROM restriction")


async def explain(dsn: str, url: str, settings: Settings,
                  reads: dict[str, tuple[str, dict[str, str]]]) -> dict[str, list[str]]:
    """EXPLAIN (ANALYZE, BUFFERS) of the SELECTs each read runs (captured from one request
    through the app in this process, after a warm-up request), and of the escalation pass's
    batch query (in a transaction rolled back)."""
    from asgi_lifespan import LifespanManager
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    import app.domain.tables  # noqa: F401
    from app.core.db import build_engine, session_factory
    from app.domain import escalation
    from app.main import create_app

    captured: list[tuple[str, Any]] = []

    def grab(_c: Any, _cur: Any, statement: str, parameters: Any, _ctx: Any, _many: Any) -> None:
        captured.append((statement, parameters))

    event.listen(Engine, "before_cursor_execute", grab)
    statements: dict[str, list[tuple[str, Any]]] = {}
    application = create_app(settings.model_copy(update={"database_url": url}))
    async with LifespanManager(application) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://national") as client:
            for label, (path, headers) in reads.items():
                await client.get(path, headers=headers)
                captured.clear()
                assert (await client.get(path, headers=headers)).status_code == 200
                statements[label] = [
                    (sql, params) for sql, params in captured
                    if sql.lstrip().upper().startswith(("SELECT", "WITH", "SET LOCAL"))
                    and not any(t in sql for t in TRIVIAL)]
    engine = build_engine(settings.model_copy(update={"database_url": url}))
    try:
        factory = session_factory(engine)
        captured.clear()
        async with factory() as session, session.begin():
            await escalation.overdue_batch(session, datetime.now(UTC))
            await session.rollback()
        statements["tick: overdue batch (FOR UPDATE SKIP LOCKED)"] = [
            (sql, params) for sql, params in captured if "FOR UPDATE" in sql]
    finally:
        event.remove(Engine, "before_cursor_execute", grab)
        await engine.dispose()
    plans: dict[str, list[str]] = {}
    conn = await asyncpg.connect(dsn)
    try:
        for label, found in statements.items():
            plans[label] = []
            settings_sql = [sql for sql, _ in found if sql.upper().startswith("SET LOCAL")]
            for sql, params in found:
                if sql in settings_sql:
                    continue
                transaction = conn.transaction()  # rolled back: the batch query locks rows
                await transaction.start()
                try:
                    for setting in settings_sql:  # as the request ran it (e.g. work_mem)
                        await conn.execute(setting)
                    rows = await conn.fetch("EXPLAIN (ANALYZE, BUFFERS) " + sql, *(params or ()))
                finally:
                    await transaction.rollback()
                plans[label].append("\n".join([*settings_sql, sql]) + "\n"
                                    + "\n".join(r[0] for r in rows))
    finally:
        await conn.close()
    return plans


def main() -> None:
    """Build, serve, measure, tick, report; drop the database unless --keep."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--services", type=int, default=150)
    parser.add_argument("--cases", type=int, default=150000)
    parser.add_argument("--steps", type=int, default=5000000)
    parser.add_argument("--small", action="store_true", help="20 services, 20,000 cases, "
                        "500,000 steps")
    parser.add_argument("--overdue-share", "--overdue", dest="overdue_share", type=float,
                        default=0.10, help="share of open steps overdue (default 0.10)")
    parser.add_argument("--largest-share", type=float, default=0.2,
                        help="share of the cases in the largest service (default 0.2)")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--tick-timeout", type=float, default=600)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--explain", action="store_true")
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--database", help="measure this kept database again (no build)")
    parser.add_argument("--name", help="build into a database of this name (kept, as --keep)")
    args = parser.parse_args()
    if args.small:
        args.services, args.cases, args.steps = 20, 20000, 500000
    if args.name:
        args.keep = True
    name = args.database or args.name or f"yjrisk_national_{uuid.uuid4().hex[:8]}"
    if not args.database:
        subprocess.run(["psql", "-q", f"{PG}/postgres", "-c", f'CREATE DATABASE "{name}"'],
                       check=True)
    url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
    secret = "national-" + uuid.uuid4().hex * 2
    env = {**os.environ, "YJ_ENV": "test", "YJ_JWT_SECRET": secret, "YJ_DATABASE_URL": url,
           "YJ_LOG_LEVEL": "WARNING"}
    settings = Settings(env="test", jwt_secret=secret, log_level="WARNING")
    server = None
    load: dict[str, Any] = {"loadavg_before": [round(x, 2) for x in os.getloadavg()]}
    try:
        t0 = time.perf_counter()
        upgrade(url)
        migrate_seconds = round(time.perf_counter() - t0, 1)
        if args.database:
            data = asyncio.run(reshape(f"{PG}/{name}", args))
        else:
            data = asyncio.run(build(f"{PG}/{name}", args))
        data.update(asyncio.run(survey(f"{PG}/{name}", data["shape"])))
        month = (datetime.now(UTC) - timedelta(days=40)).strftime("%Y-%m")
        reads = reads_of(settings, data, month)
        port = free_port()
        server = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "serve", "--port", str(port), "--no-migrate"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{port}"
        for _ in range(150):
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        measured = measure(base, reads, args.requests)
        print(json.dumps({"reads": measured}), file=sys.stderr, flush=True)  # kept if later fails
        server.terminate()
        server.wait(timeout=30)
        server = None
        plans = asyncio.run(explain(f"{PG}/{name}", url, settings, reads)) \
            if args.explain else {}
        load["loadavg_before_tick"] = [round(x, 2) for x in os.getloadavg()]
        t0, cpu0 = time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN)
        try:
            tick = subprocess.run([sys.executable, "-m", "app.cli", "tick"], cwd=ROOT, env=env,
                                  capture_output=True, text=True, timeout=args.tick_timeout)
            cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
            # the tick process's own CPU time (user + system): what it costs without the
            # waiting on a shared machine (PostgreSQL's own work is not in it)
            tick_out = {"seconds": round(time.perf_counter() - t0, 1),
                        "cpu_seconds": round(cpu.ru_utime - cpu0.ru_utime
                                             + cpu.ru_stime - cpu0.ru_stime, 1),
                        "output": tick.stdout.strip().splitlines()[-1:]}
        except subprocess.TimeoutExpired:
            tick_out = {"seconds": None, "output": [f"stopped after {args.tick_timeout} s"]}
        load["loadavg_after"] = [round(x, 2) for x in os.getloadavg()]
        result = {
            "data_set": {k: data[k] for k in ("cases", "steps", "open", "overdue",
                                              "load_seconds")},
            "migrate_seconds": migrate_seconds, "largest_service": data["largest_service"],
            "services": len(data["shape"].service_ids), "reads": measured, "tick": tick_out,
            "machine": {**load, "cpus": os.cpu_count()},
        }
        if args.json:
            print(json.dumps(result, indent=2, default=str))
        else:
            print(f"data set: {result['data_set']}; largest service: {data['largest_service']}")
            for label, r in measured.items():
                print(f"  {label:32} p50 {r['p50_ms']:7.1f} ms  p95 {r['p95_ms']:7.1f} ms"
                      f"  ({r['items']} items)")
            print(f"  tick: {tick_out}")
            print(f"  machine: {result['machine']}")
        for label, texts in plans.items():
            print(f"\n### {label}", file=sys.stderr if args.json else sys.stdout)
            for text in texts:
                print(text + "\n", file=sys.stderr if args.json else sys.stdout)
    finally:
        if server is not None:
            server.terminate()
        if not args.keep and not args.database:
            subprocess.run(["psql", "-q", f"{PG}/postgres", "-c",
                            f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'], check=False)
        else:
            print(f"kept database {name}", file=sys.stderr)


if __name__ == "__main__":
    main()
