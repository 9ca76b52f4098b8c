"""Resident memory of one API process, idle and after a fixed number of writes (issue 15 goal 5).

``http_vs_floor.sh`` reads the server's RSS after wrk's timed runs, so how many writes it saw
(and so how far its allocator's arenas grew) depends on the machine's load. This script fixes
the work instead: a throwaway PostgreSQL database, ``yjrisk migrate``, the server as ``yjrisk
serve`` runs it (``python -m app.core.serve``, one process), the Wokingham service and 200 cases
of ``bench_setup.py``, then ``--writes`` judgement writes (SWB/LoR, low/medium, spread over the
cases, as the wrk script) from ``--connections`` concurrent clients, in ``--rounds`` rounds. It
prints the server's ``VmRSS`` (and the anonymous part, ``RssAnon``) idle after set-up and after
each round, and with ``--modules FILE`` writes the modules the server holds after the writes
(one name a line; the server runs under a small wrapper that writes ``sys.modules`` on SIGUSR1).

``--app-root DIR`` serves another checkout's ``app`` (e.g. ``git worktree add --detach``), with
this tree's virtual environment, so two trees compare in the same window.

Usage: ``python benchmarks/memory.py [--writes 2000] [--rounds 2] [--connections 32]
[--app-root DIR] [--modules FILE] [--json]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PG = os.environ.get("YJ_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")

# Runs app.core.serve as its __main__ (so rich is left out as in the real server), with the
# measured tree first on the path and a SIGUSR1 handler that writes the loaded modules.
WRAPPER = """
import runpy, signal, sys
root, out = sys.argv[1], sys.argv[2]
sys.path.insert(0, root)
def dump(*_):
    with open(out, "w") as f:
        f.write("\\n".join(sorted(k for k, v in sys.modules.items() if v is not None)) + "\\n")
signal.signal(signal.SIGUSR1, dump)
def snapshot(*_):
    import gc, tracemalloc
    gc.collect()
    tracemalloc.take_snapshot().dump(out + ".snap")
signal.signal(signal.SIGUSR2, snapshot)
sys.argv = ["app.core.serve", *sys.argv[3:]]
runpy.run_module("app.core.serve", run_name="__main__", alter_sys=True)
"""


def status_kb(pid: int) -> dict[str, int]:
    """VmRSS, RssAnon and RssFile of a process, in kB."""
    out: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "RssAnon", "RssFile"):
            out[key] = int(value.split()[0])
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def write_round(url: str, token: str, cases: list[str], writes: int, conns: int,
                      start: int) -> int:
    """``writes`` judgements from ``conns`` clients; the count of non-2xx answers."""
    import httpx

    bad = 0
    errors: list[str] = []
    statuses: dict[int, int] = {}
    counter = iter(range(start, start + writes))
    limits = httpx.Limits(max_connections=conns, max_keepalive_connections=conns)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits,
                                 headers={"Authorization": f"Bearer {token}"}) as client:
        async def worker() -> None:
            nonlocal bad
            for n in counter:
                body = {"domain": ("swb", "lor")[n % 2], "level": ("low", "medium")[(n // 2) % 2]}
                try:
                    r = await client.post(f"/v1/cases/{cases[n % len(cases)]}/judgements",
                                          json=body)
                except httpx.TransportError as exc:  # counted, not retried
                    errors.append(repr(exc))
                    continue
                if r.status_code >= 300:
                    bad += 1
                    statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
        await asyncio.gather(*(worker() for _ in range(conns)))
    if errors:
        print(f"{len(errors)} transport errors, e.g. {errors[0]}", file=sys.stderr)
    if statuses:
        print(f"answers not 2xx by status: {statuses}", file=sys.stderr)
    return bad + len(errors)


def _snapshot(server: subprocess.Popen[bytes], modules: str) -> Any:
    """The server's tracemalloc snapshot (after a full collection), via SIGUSR2."""
    import tracemalloc

    snap = Path(modules + ".snap")
    snap.unlink(missing_ok=True)
    server.send_signal(signal.SIGUSR2)
    for _ in range(600):
        time.sleep(0.5)
        if snap.exists():
            size = snap.stat().st_size
            time.sleep(0.5)
            if snap.stat().st_size == size:
                break
    return tracemalloc.Snapshot.load(str(snap))


def _print_growth(before: Any, after: Any, first: int, last: int) -> None:
    """The lines whose live allocations grew most from one snapshot to the next."""
    diff = after.compare_to(before, "lineno")
    total = sum(d.size_diff for d in diff)
    print(f"traced growth from {first} to {last} writes: {total / 1024:+.1f} kB; by line:")
    for d in sorted(diff, key=lambda d: -d.size_diff)[:12]:
        frame = d.traceback[0]
        print(f"  {d.size_diff / 1024:+9.1f} kB {d.count_diff:+7d} blocks  "
              f"{frame.filename.split('site-packages/')[-1]}:{frame.lineno}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--writes", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--cases", type=int, default=200)
    parser.add_argument("--app-root", default=str(ROOT))
    parser.add_argument("--modules", default=None)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--tracemalloc", type=int, default=0, metavar="FRAMES",
                        help="trace the server's allocations (RSS then not comparable) and "
                             "print what grew between rounds, by line")
    args = parser.parse_args()
    root = str(Path(args.app_root).resolve())
    db = f"yjrisk_mem_{os.getpid()}_{int(time.time())}"
    base = PG.rsplit("/", 1)[0]
    subprocess.run(["psql", "-q", PG, "-c", f'CREATE DATABASE "{db}"'], check=True)
    work = Path(tempfile.mkdtemp(prefix="yjmem"))
    secret = "bench-secret-" + secrets.token_hex(24)
    env = {**os.environ, "YJ_ENV": "test", "YJ_JWT_SECRET": secret, "YJ_LOG_LEVEL": "WARNING",
           "YJ_ENV_FILE": "",
           **({"PYTHONTRACEMALLOC": str(args.tracemalloc)} if args.tracemalloc else {}),
           "YJ_DATABASE_URL": f"postgresql+asyncpg://{base.split('://', 1)[1]}/{db}"}
    server = None
    try:
        subprocess.run([sys.executable, "-m", "app.cli", "migrate"], cwd=root, env=env,
                       check=True, stdout=subprocess.DEVNULL)
        port = free_port()
        modules = args.modules or str(work / "modules.txt")
        server = subprocess.Popen(
            [sys.executable, "-P", "-c", WRAPPER, root, modules, "--host", "127.0.0.1",
             "--port", str(port), "--quiet"], cwd=root, env=env,
            stdout=open(work / "server.log", "w"), stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        import httpx
        for _ in range(600):
            try:
                if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        else:
            raise SystemExit("server did not start: " + (work / "server.log").read_text())
        subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_setup.py"), url, secret,
                        str(work), "--cases", str(args.cases)], check=True, env=env)
        cases = (work / "cases.txt").read_text().split()
        token = (work / "token.txt").read_text().strip()
        time.sleep(1)
        figures: dict[str, Any] = {"idle": status_kb(server.pid), "rounds": []}
        done = 0
        snaps: list[Any] = []
        for _ in range(args.rounds):
            bad = asyncio.run(write_round(url, token, cases, args.writes, args.connections, done))
            done += args.writes
            time.sleep(0.5)
            figures["rounds"].append({"writes": done, "non2xx": bad, **status_kb(server.pid)})
            if args.tracemalloc:
                snaps.append(_snapshot(server, modules))
                if len(snaps) > 1:
                    _print_growth(snaps[-2], snaps[-1], done - args.writes, done)
        server.send_signal(signal.SIGUSR1)
        time.sleep(0.5)
        figures["modules"] = len(Path(modules).read_text().split())
        if args.json:
            print(json.dumps(figures))
            return
        idle = figures["idle"]
        print(f"tree {root}: {figures['modules']} modules after the writes")
        print(f"idle after set-up: VmRSS {idle['VmRSS'] / 1024:.1f} MB "
              f"(anon {idle['RssAnon'] / 1024:.1f}, file {idle['RssFile'] / 1024:.1f})")
        for r in figures["rounds"]:
            print(f"after {r['writes']} writes ({r['non2xx']} non-2xx): VmRSS "
                  f"{r['VmRSS'] / 1024:.1f} MB (anon {r['RssAnon'] / 1024:.1f}, "
                  f"file {r['RssFile'] / 1024:.1f})")
    finally:
        if server is not None:
            if os.environ.get("YJ_MEM_LOG"):
                print((work / "server.log").read_text()[-3000:], file=sys.stderr)
            server.terminate()
            server.wait(30)
        subprocess.run(["psql", "-q", PG, "-c", f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'],
                       check=False)


if __name__ == "__main__":
    main()
