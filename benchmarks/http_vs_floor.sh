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
source scripts/_venv.sh
command -v wrk >/dev/null || { echo "installing wrk (Debian package)"; \
  (apt-get update -qq && apt-get install -y -qq wrk) >/dev/null; }
PG=postgresql://postgres@127.0.0.1:5432
STAMP=$(date +%s)$$
DB=yjrisk_bench_${STAMP}; FLOORDB=yjrisk_floor_${STAMP}
WORK=$(mktemp -d)
free_port() { python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PIDS=()
cleanup() {
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  psql -q "$PG/postgres" -c "DROP DATABASE IF EXISTS \"$DB\" WITH (FORCE)" >/dev/null 2>&1 || true
  psql -q "$PG/postgres" -c "DROP DATABASE IF EXISTS \"$FLOORDB\" WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
psql -q "$PG/postgres" -c "CREATE DATABASE \"$DB\"" >/dev/null
psql -q "$PG/postgres" -c "CREATE DATABASE \"$FLOORDB\"" >/dev/null
SECRET="bench-secret-$(python -c 'import secrets;print(secrets.token_hex(24))')"
export YJ_ENV=test YJ_JWT_SECRET="$SECRET" YJ_LOG_LEVEL=WARNING
export YJ_DATABASE_URL="postgresql+asyncpg://postgres@127.0.0.1:5432/$DB"
yjrisk migrate >/dev/null
APP_PORT=$(free_port); FLOOR_PORT=$(free_port)
SERVE_ARGS=(--host 127.0.0.1 --port "$APP_PORT" --no-migrate)
if [ "$WORKERS" != "1" ]; then SERVE_ARGS+=(--workers "$WORKERS"); fi
yjrisk serve "${SERVE_ARGS[@]}" >"$WORK/app.log" 2>&1 & PIDS+=($!)
YJ_FLOOR_DSN="$PG/$FLOORDB" uvicorn benchmarks.floor_app:app --host 127.0.0.1 \
  --port "$FLOOR_PORT" --log-level warning --no-access-log >"$WORK/floor.log" 2>&1 & PIDS+=($!)
wait_up() { for _ in $(seq 1 300); do curl -sf "http://127.0.0.1:$1$2" >/dev/null 2>&1 && return 0; sleep 0.2; done; echo "server on $1 did not start" >&2; cat "$WORK"/*.log >&2; exit 1; }
wait_up "$APP_PORT" /healthz
wait_up "$FLOOR_PORT" /docs
python benchmarks/bench_setup.py "http://127.0.0.1:$APP_PORT" "$SECRET" "$WORK" --cases 200
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
