"""CPU per judgement write, in process, robust to a loaded machine (issue 15 goal 1).

Runs the app in process (httpx ``ASGITransport``, client and app in one process) on a throwaway
PostgreSQL database (``--sqlite``: a temporary SQLite file), opens a Wokingham service and 20
cases, warms up, then records rounds of judgements (SWB/LoR, low/medium, spread over the 20 cases,
as ``http_vs_floor.sh``'s wrk script does; ``--patch``: dated ``PATCH``es of the case, custody
in then out, ``occurred_at`` a millisecond before now, with the case's ``If-Match``) one at a time,
and prints per round:

- this process's CPU per write (``time.process_time``: user + system; client included, so
  compare runs of this script only, never with wrk's server figures);
- the PostgreSQL backends' CPU per write (their ``/proc/<pid>/stat``; the server is local);
- the statements per write (a ``before_cursor_execute`` count: BEGIN and COMMIT not included).

CPU time is what other load on a shared machine disturbs least, not at all: cache and frequency
effects remain, so quote the median and the best round, and compare trees in the same run,
alternating (``--app-root`` runs another checkout's ``app``, e.g. ``git archive REV | tar -x
-C /tmp/rev``). ``--callgrind`` counts instructions instead (valgrind's callgrind, collection
switched on for one round only), the same on a quiet machine and a busy one; its child runs
with ``PYTHONHASHSEED=0`` and freezes the objects alive after the warm-up (``gc.freeze``, as
``app.main.app_factory`` does once the app is built), so that the garbage collector's passes
over them no longer move the count: two runs of one tree then agree to ~0.03%, not ~1%.

Usage: ``python benchmarks/write_cpu.py [--writes 200] [--rounds 5] [--sqlite]
[--app-root DIR] [--callgrind] [--json] [--profile FILE] [--pack ID] [--patch]`` (``--pack``: the
service's policy pack, ``wokingham-pyjs-2024`` by default, as ``http_vs_floor.sh``).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PG = os.environ.get("YJ_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")


def _import_root(app_root: str | None) -> None:
    """Put the tree whose ``app`` is measured first on the path."""
    sys.path.insert(0, str(Path(app_root).resolve() if app_root else ROOT))
    os.environ["YJ_ENV_FILE"] = ""


def _backend_ticks(pids: list[int]) -> int:
    """CPU ticks (user + system) used so far by these PostgreSQL backends (0 if unreadable)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            pass
    return total


def _callgrind(command: str) -> None:
    """Send a command (``-i on``, ``-d``) to the callgrind running this process."""
    subprocess.run(["callgrind_control", *command.split(), str(os.getpid())],
                   check=True, capture_output=True)


async def measure(url: str, writes: int, rounds: int, callgrind: bool,
                  profile: str | None = None, pack: str = "wokingham-pyjs-2024",
                  patch: bool = False) -> dict[str, Any]:
    """Set up, warm up, time the rounds (``profile``: cProfile them into that file, by CPU
    time); the figures as a dict."""
    import cProfile

    import httpx
    from asgi_lifespan import LifespanManager
    from sqlalchemy import event, text

    from app.core.config import Settings
    from app.core.security import mint_dev_token
    from app.main import create_app

    settings = Settings(env="test", database_url=url, jwt_secret="s" * 48, log_level="WARNING",
                        access_log_flush_seconds=3600)
    app = create_app(settings)
    async with LifespanManager(app, startup_timeout=600, shutdown_timeout=600) as manager:
        count = [0]

        def listen(*_a: Any) -> None:
            count[0] += 1

        engine = app.state.engine
        event.listen(engine.sync_engine, "before_cursor_execute", listen)
        slug = f"wc-{uuid.uuid4().hex[:6]}"
        admin = mint_dev_token(settings, sub="admin", roles=["admin"], service=None)
        holder = mint_dev_token(settings, sub="cw", roles=["case_holder"], service=slug)
        auth = {"Authorization": f"Bearer {holder}"}
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://x") as client:
            r = await client.post("/v1/services", headers={"Authorization": f"Bearer {admin}"},
                                  json={"slug": slug, "name": "S",
                                        "policy_pack": pack})
            r.raise_for_status()
            cases, etags = [], {}
            for i in range(20):
                r = await client.post("/v1/cases", headers=auth, json={
                    "child": {"given_name": "A", "family_name": f"B{i}",
                              "date_of_birth": "2010-03-04"},
                    "case_holder_id": "cw", "line_manager_id": "lm",
                    "intervention": "court_order", "csc_status": "none"})
                r.raise_for_status()
                cases.append(r.json()["data"]["id"])
                etags[cases[-1]] = r.headers["ETag"]
            n = 0

            async def write() -> None:
                nonlocal n
                if patch:  # a dated change of circumstances: custody in, then out (--patch)
                    case = cases[n % 20]
                    at = datetime.now(UTC) - timedelta(milliseconds=1)
                    resp = await client.patch(
                        f"/v1/cases/{case}", headers={**auth, "If-Match": etags[case]},
                        json={"in_custody": (n // 20) % 2 == 0,
                              "occurred_at": at.isoformat().replace("+00:00", "Z")})
                    if resp.status_code != 200:
                        raise SystemExit(f"patch {n}: {resp.status_code} {resp.text[:300]}")
                    etags[case] = resp.headers["ETag"]
                    n += 1
                    return
                body = {"domain": ("swb", "lor")[n % 2],
                        "level": ("low", "medium")[(n // 2) % 2]}
                resp = await client.post(f"/v1/cases/{cases[n % 20]}/judgements",
                                         headers=auth, json=body)
                if resp.status_code != 201:
                    raise SystemExit(f"write {n}: {resp.status_code} {resp.text[:300]}")
                n += 1

            for _ in range(80):  # warm-up: every case rated, caches and prepared statements
                await write()
            pids: list[int] = []
            if url.startswith("postgresql"):
                async with engine.connect() as conn:
                    pids = list((await conn.execute(text(
                        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                        "AND pid <> pg_backend_pid()"))).scalars())
                    pids.append((await conn.execute(text("SELECT pg_backend_pid()"))).scalar())
            if callgrind:  # the collector's passes over long-lived objects: not counted
                gc.collect()
                gc.freeze()
            tck = os.sysconf("SC_CLK_TCK")
            cpu, db_cpu, statements = [], [], []
            profiler = cProfile.Profile(time.process_time) if profile else None
            if profiler:
                profiler.enable()
            for _ in range(1 if callgrind else rounds):
                count[0], ticks, t0 = 0, _backend_ticks(pids), time.process_time()
                if callgrind:
                    _callgrind("-i on")
                for _ in range(writes):
                    await write()
                if callgrind:
                    _callgrind("-d")
                cpu.append((time.process_time() - t0) * 1000 / writes)
                db_cpu.append((_backend_ticks(pids) - ticks) / tck * 1000 / writes)
                statements.append(count[0] / writes)
            if profiler:
                profiler.disable()
                profiler.dump_stats(profile)
    return {"writes": writes, "rounds": len(cpu), "cpu_ms": cpu, "db_cpu_ms": db_cpu,
            "statements": statements}


def _database(sqlite_dir: str | None) -> tuple[str, str | None]:
    """A throwaway database with the schema: its URL, and its name on PostgreSQL."""
    from app.core.migrate import upgrade

    if sqlite_dir:
        url = f"sqlite+aiosqlite:///{Path(sqlite_dir) / 'wc.db'}"
        upgrade(url)
        return url, None
    name = f"yjrisk_wcpu_{uuid.uuid4().hex[:8]}"
    _pg_admin(f'CREATE DATABASE "{name}"')
    url = PG.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://") + "/" + name
    try:
        upgrade(url)
    except BaseException:  # e.g. an --app-root without migrations/: leave no database behind
        _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        raise
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


def _under_callgrind(args: argparse.Namespace, url: str) -> dict[str, Any]:
    """Re-run this script under callgrind (collection on for the timed round only) and read
    the instruction count of that round from its dump."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "cg.out"
        cmd = ["valgrind", "--tool=callgrind", "--instr-atstart=no",
               f"--callgrind-out-file={out}", sys.executable, __file__, "--child-url", url,
               "--writes", str(args.writes), "--callgrind-child", "--pack", args.pack]
        if args.patch:
            cmd.append("--patch")
        if args.app_root:
            cmd += ["--app-root", args.app_root]
        done = subprocess.run(cmd, capture_output=True, text=True,
                              env={**os.environ, "PYTHONHASHSEED": "0"})
        if done.returncode != 0:
            raise SystemExit(done.stderr[-2000:])
        result = json.loads(done.stdout.strip().splitlines()[-1])
        dumps = sorted(Path(tmp).glob("cg.out.*"))  # the explicit dump: the timed round
        summary = next(int(line.split()[1]) for line in dumps[0].read_text().splitlines()
                       if line.startswith("summary:"))
    result["instructions_per_write"] = summary / args.writes
    return result


def main() -> None:
    """Parse the options, make the database, measure, print, drop the database."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--writes", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--sqlite", action="store_true")
    parser.add_argument("--app-root", default=None)
    parser.add_argument("--callgrind", action="store_true")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--profile", default=None, help="cProfile the rounds into this file")
    parser.add_argument("--pack", default="wokingham-pyjs-2024", help="the service's pack")
    parser.add_argument("--patch", action="store_true",
                        help="dated PATCHes (in_custody, with occurred_at) instead of judgements")
    parser.add_argument("--child-url", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--callgrind-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    _import_root(args.app_root)
    if args.child_url:  # under valgrind: measure one round, print the figures as JSON
        print(json.dumps(asyncio.run(measure(args.child_url, args.writes, 1, True,
                                             pack=args.pack, patch=args.patch))))
        return
    with tempfile.TemporaryDirectory() as tmp:
        url, name = _database(tmp if args.sqlite else None)
        try:
            if args.callgrind:
                result = _under_callgrind(args, url)
            else:
                result = asyncio.run(measure(url, args.writes, args.rounds, False,
                                             args.profile, args.pack, args.patch))
        finally:
            if name:
                _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    result["database"] = "sqlite" if args.sqlite else "postgresql"
    result["pack"] = args.pack
    result["kind"] = "dated PATCH in_custody" if args.patch else "judgement"
    result["load"] = os.getloadavg()[0]
    if args.json:
        print(json.dumps(result))
        return
    cpu, db = result["cpu_ms"], result["db_cpu_ms"]
    print(f"{result['database']}, {args.pack}, {result['kind']}, "
          f"{args.writes} writes x {result['rounds']} rounds, "
          f"statements per write {statistics.median(result['statements']):.2f} "
          f"(BEGIN/COMMIT not counted), load {result['load']:.1f}")
    print("  CPU per write, this process (ms): " + " ".join(f"{c:.2f}" for c in cpu)
          + f"; median {statistics.median(cpu):.2f}, best {min(cpu):.2f}")
    if result["database"] == "postgresql":
        print("  CPU per write, PostgreSQL backends (ms): " + " ".join(f"{c:.2f}" for c in db)
              + f"; median {statistics.median(db):.2f}")
    if "instructions_per_write" in result:
        print(f"  instructions per write (callgrind, this process): "
              f"{result['instructions_per_write']:,.0f}")


if __name__ == "__main__":
    main()
