"""National-scale benchmark: build a realistic data set on PostgreSQL, then time the queues.

Builds a throwaway database (migrated to head) holding ``--services`` youth justice services,
``--cases`` cases and ``--steps`` steps (about 9% open, ``--overdue`` of the open ones past their
due time), loaded with COPY (asyncpg ``copy_records_to_table``). Then it starts ``yjrisk serve``
on a free port and measures through HTTP, one client, p50 and p95 over ``--requests`` requests
each: a case holder's overdue queue, a line manager's queue, a chair's register, a chair's case
list, the service's overdue steps, a case read and (when the route exists) the timeliness report
for one service and month. Last, the duration of one ``yjrisk tick`` over the whole set.

Usage::

    python benchmarks/national.py --small            # 20,000 cases, 500,000 steps
    python benchmarks/national.py --services 150 --cases 150000 --steps 5000000 --json
    python benchmarks/national.py --small --explain  # also print each query's EXPLAIN ANALYZE

Bounded: a fixed number of requests; the tick is stopped after ``--tick-timeout`` seconds.
The database is dropped at the end unless ``--keep`` is given.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
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
    """Who works where: per service, line managers with their case holders, and a chair."""

    def __init__(self, services: int, cases: int) -> None:
        self.service_ids = [uuid.uuid4() for _ in range(services)]
        self.slugs = [f"nat-{i:03d}" for i in range(services)]
        per_service = max(1, cases // services)
        self.managers = max(2, per_service // 40)  # a team is ~5 holders x ~8 cases
        self.holders = self.managers * 5
        self.cases_per_service = per_service

    def holder(self, s: int, h: int) -> str:
        """A case holder's staff id."""
        return f"cw-{s}-{h}"

    def manager(self, s: int, h: int) -> str:
        """The line manager of case holder h."""
        return f"lm-{s}-{h // 5}"


def case_rows(shape: Shape, now: datetime, rng: random.Random) -> Iterator[tuple[Any, ...]]:
    """Case records: (id, service, names, dob, holder, manager, intervention, ... ratings)."""
    for s, service_id in enumerate(shape.service_ids):
        for c in range(shape.cases_per_service):
            h = rng.randrange(shape.holders)
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
    shape = Shape(args.services, args.cases)
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
    for row in step_rows(cases, args.steps, open_share, args.overdue, now, rng):
        batch.append(row)
        if len(batch) >= 50000:
            await conn.copy_records_to_table("step", columns=STEP_COLUMNS, records=batch)
            batch = []
    if batch:
        await conn.copy_records_to_table("step", columns=STEP_COLUMNS, records=batch)
    await conn.execute("ANALYZE")
    counts = await conn.fetchrow(
        "SELECT (SELECT count(*) FROM \"case\") AS cases, (SELECT count(*) FROM step) AS steps,"
        " (SELECT count(*) FROM step WHERE status = 'open') AS open,"
        " (SELECT count(*) FROM step WHERE status = 'open' AND due_at < now()) AS overdue")
    await conn.close()
    return {"load_seconds": round(time.perf_counter() - t0, 1), **dict(counts),
            "shape": shape, "sample_case": cases[len(cases) // 2]}


def measure(base: str, settings: Settings, data: dict[str, Any], n: int,
            month: str) -> dict[str, dict[str, float]]:
    """p50/p95 of each read over HTTP, one client."""
    shape: Shape = data["shape"]
    case_id, service_id, holder, manager, _ = data["sample_case"]
    slug = shape.slugs[shape.service_ids.index(service_id)]

    def token(sub: str, role: str) -> dict[str, str]:
        return {"Authorization": "Bearer " + mint_dev_token(
            settings, sub=sub, roles=[role], service=slug, ttl_seconds=3600)}

    first, last = f"{month}-01", (date.fromisoformat(f"{month}-01") + timedelta(days=32)) \
        .replace(day=1) - timedelta(days=1)
    reads = {
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
    out: dict[str, dict[str, float]] = {}
    with httpx.Client(base_url=base, timeout=60) as client:
        for label, (path, headers) in reads.items():
            probe = client.get(path, headers=headers)
            if probe.status_code == 404 and "reports" in path:
                continue  # the report route is not in this build
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


def main() -> None:
    """Build, serve, measure, tick, report; drop the database unless --keep."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--services", type=int, default=150)
    parser.add_argument("--cases", type=int, default=150000)
    parser.add_argument("--steps", type=int, default=5000000)
    parser.add_argument("--small", action="store_true", help="20 services, 20,000 cases, "
                        "500,000 steps")
    parser.add_argument("--overdue", type=float, default=0.10, help="share of open steps overdue")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--tick-timeout", type=float, default=600)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--explain", action="store_true")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    if args.small:
        args.services, args.cases, args.steps = 20, 20000, 500000
    name = f"yjrisk_national_{uuid.uuid4().hex[:8]}"
    subprocess.run(["psql", "-q", f"{PG}/postgres", "-c", f'CREATE DATABASE "{name}"'],
                   check=True)
    url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
    secret = "national-" + uuid.uuid4().hex * 2
    env = {**os.environ, "YJ_ENV": "test", "YJ_JWT_SECRET": secret, "YJ_DATABASE_URL": url,
           "YJ_LOG_LEVEL": "WARNING"}
    settings = Settings(env="test", jwt_secret=secret)
    server = None
    try:
        upgrade(url)
        data = asyncio.run(build(f"{PG}/{name}", args))
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
        month = (datetime.now(UTC) - timedelta(days=40)).strftime("%Y-%m")
        reads = measure(base, settings, data, args.requests, month)
        server.terminate()
        server.wait(timeout=30)
        server = None
        t0 = time.perf_counter()
        try:
            tick = subprocess.run([sys.executable, "-m", "app.cli", "tick"], cwd=ROOT, env=env,
                                  capture_output=True, text=True, timeout=args.tick_timeout)
            tick_out = {"seconds": round(time.perf_counter() - t0, 1),
                        "output": tick.stdout.strip().splitlines()[-1:]}
        except subprocess.TimeoutExpired:
            tick_out = {"seconds": None, "output": [f"stopped after {args.tick_timeout} s"]}
        result = {
            "data_set": {k: data[k] for k in ("cases", "steps", "open", "overdue",
                                              "load_seconds")},
            "services": args.services, "reads": reads, "tick": tick_out,
        }
        if args.json:
            print(json.dumps(result, indent=2))
        else:
            print(f"data set: {result['data_set']}")
            for label, r in reads.items():
                print(f"  {label:32} p50 {r['p50_ms']:7.1f} ms  p95 {r['p95_ms']:7.1f} ms"
                      f"  ({r['items']} items)")
            print(f"  tick: {tick_out}")
    finally:
        if server is not None:
            server.terminate()
        if not args.keep:
            subprocess.run(["psql", "-q", f"{PG}/postgres", "-c",
                            f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'], check=False)
        else:
            print(f"kept database {name}", file=sys.stderr)


if __name__ == "__main__":
    main()
