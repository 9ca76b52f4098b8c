#!/usr/bin/env bash
# Judgement writes through the real service against the floor (bare FastAPI + one asyncpg INSERT),
# in the same run, on the local PostgreSQL: a throwaway database each, both apps on free ports,
# both driven by wrk with the same connections and duration. Prints both lines and the ratios.
# Usage: bash benchmarks/http_vs_floor.sh [--connections 32] [--seconds 8] [--workers 1] [--runs 1]
set -euo pipefail
cd "$(dirname "$0")/.."
CONNS=32; SECS=8; WORKERS=1; RUNS=1
while [ $# -gt 0 ]; do
  case "$1" in
    --connections) CONNS="$2"; shift 2;;
    --seconds) SECS="$2"; shift 2;;
    --workers) WORKERS="$2"; shift 2;;
    --runs) RUNS="$2"; shift 2;;
    *) echo "unknown option $1" >&2; exit 2;;
  esac
done
DB_PREFIX=yjrisk_bench CASES=200 WAIT_TRIES=300
source benchmarks/_serve_pair.sh
export WRK_CASES="$WORK/cases.txt" WRK_TOKEN; WRK_TOKEN=$(cat "$WORK/token.txt")
rss() { ps -o rss= -p "$1" | awk '{printf "%.0f", $1/1024}'; }
APP_PID=${PIDS[0]}
rss_line() {  # the server process (uvicorn's supervisor with --workers N) and each worker
  local line="$(rss "$APP_PID") MB" child
  for child in $(pgrep -P "$APP_PID" -f 'multiprocessing.spawn' || true); do
    line="$line, worker $(rss "$child") MB"
  done
  echo "$line"
}
echo "api process resident memory idle after setup: $(rss_line) (workers=$WORKERS)"
# CPU seconds (user + system) used so far by a server process and its workers: the CPU cost
# of a request holds up on a shared machine where req/s and latency do not.
cpu() { local t=0 p; for p in "$1" $(pgrep -P "$1" || true); do
  t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0))); done
  echo "$t"; }
run() { wrk -t2 -c"$CONNS" -d"${SECS}s" --timeout 30s --latency -s benchmarks/wrk/judgements.lua "$1" | grep '^RESULT'; }
FLOOR_PID=${PIDS[1]}
for i in $(seq 1 "$RUNS"); do
  c0=$(cpu "$APP_PID"); app=$(run "http://127.0.0.1:$APP_PORT"); c1=$(cpu "$APP_PID")
  f0=$(cpu "$FLOOR_PID"); floor=$(run "http://127.0.0.1:$FLOOR_PORT"); f1=$(cpu "$FLOOR_PID")
  echo "run $i yjrisk: $app cpu_ticks=$((c1 - c0))"
  echo "run $i floor:  $floor cpu_ticks=$((f1 - f0))"
  python - "$app" "$floor" "$((c1 - c0))" "$((f1 - f0))" "$(getconf CLK_TCK)" <<'PY'
import sys
def parse(line):
    return {k: float(v) for k, v in (kv.split("=") for kv in line.split()[1:])}
a, f = parse(sys.argv[1]), parse(sys.argv[2])
ticks_a, ticks_f, hz = int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
print(f"      ratio: throughput {a['rps'] / f['rps']:.2f}x the floor, "
      f"p99 {a['p99_ms'] / f['p99_ms']:.1f}x the floor's")
print(f"      server CPU per request: yjrisk {1000 * ticks_a / hz / max(a['requests'], 1):.2f} ms, "
      f"floor {1000 * ticks_f / hz / max(f['requests'], 1):.2f} ms "
      f"(load average now {open('/proc/loadavg').read().split()[0]})")
PY
done
echo "api process resident memory after the benchmark: $(rss_line)"
