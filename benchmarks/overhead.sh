#!/usr/bin/env bash
# Per-request overhead and resident memory of the API, on the local PostgreSQL (issue 15).
#
# Starts `yjrisk serve` (and the floor app: bare FastAPI under plain uvicorn) on free ports with a
# throwaway database each, sets up a Wokingham service and 20 cases over HTTP (as http_vs_floor.sh
# does), then drives with wrk, in the same run:
#   healthz  GET /healthz, yjrisk and the floor (routing + a JSON answer), 1 and 16 connections;
#   authget  GET /v1/services/{slug} with a case holder's bearer token (token check, role gate,
#            query guard, one SELECT), 1 and 16 connections;
#   writes   (with --writes) the judgement writes of http_vs_floor.sh, 32 connections.
# Prints one line per measurement with the server's CPU time per request (user+system, from
# /proc: the figure least disturbed by other load on a shared machine), the yjrisk/floor ratios,
# and the resident memory (RSS) of the API processes (the parent and, with --workers N, each
# worker) idle after set-up and at the end.
# Usage: bash benchmarks/overhead.sh [--seconds 5] [--workers 1] [--runs 1] [--writes]
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=5; WORKERS=1; RUNS=1; WRITES=0
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) SECS="$2"; shift 2;;
    --workers) WORKERS="$2"; shift 2;;
    --runs) RUNS="$2"; shift 2;;
    --writes) WRITES=1; shift;;
    *) echo "unknown option $1" >&2; exit 2;;
  esac
done
DB_PREFIX=yjrisk_ovh CASES=20 WAIT_TRIES=600
source benchmarks/_serve_pair.sh
WRK_TOKEN=$(cat "$WORK/token.txt"); SLUG=$(cat "$WORK/service.txt")
export WRK_CASES="$WORK/cases.txt"
APP_PID=${PIDS[0]}
mb() { ps -o rss= -p "$1" | awk '{printf "%.0f", $1/1024}'; }
rss_line() {
  local line="parent $(mb "$APP_PID") MB" child
  for child in $(pgrep -P "$APP_PID" -f 'multiprocessing.spawn' || true); do
    line="$line, worker $(mb "$child") MB"
  done
  echo "$line"
}
curl -sf -H "Authorization: Bearer $WRK_TOKEN" "http://127.0.0.1:$APP_PORT/v1/services/$SLUG" \
  >/dev/null || { echo "the authenticated GET does not answer 200" >&2; exit 1; }
echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) before the runs"
echo "api resident memory idle after set-up (workers=$WORKERS): $(rss_line)"
TCK=$(getconf CLK_TCK)
ticks() {  # CPU ticks (user+system) of the processes serving port $1 (parent and workers)
  local pid total=0
  if [ "$1" = "$FLOOR_PORT" ]; then pids=${PIDS[1]}; else
    pids="$APP_PID $(pgrep -P "$APP_PID" -f 'multiprocessing.spawn' || true)"; fi
  for pid in $pids; do total=$((total + $(awk '{print $14 + $15}' "/proc/$pid/stat"))); done
  echo "$total"
}
measure() {  # port, then the wrk command: its RESULT line plus cpu_us (server CPU per request)
  local port="$1" before line; shift
  before=$(ticks "$port")
  line=$("$@" | grep '^RESULT')
  python - "$line" "$before" "$(ticks "$port")" "$TCK" <<'PY'
import sys
line, before, after, tck = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
n = int(dict(kv.split("=") for kv in line.split()[1:])["requests"])
print(f"{line} cpu_us={(after - before) / tck / max(n, 1) * 1e6:.0f}")
PY
}
get() {  # url path conns token
  local port="${1##*:}"
  WRK_PATH="$2" WRK_TOKEN="$4" measure "$port" wrk -t1 -c"$3" -d"${SECS}s" --timeout 30s \
    --latency -s benchmarks/wrk/get.lua "$1"
}
ratio() {  # label app-line floor-line
  python - "$@" <<'PY'
import sys
def parse(line):
    return {k: float(v) for k, v in (kv.split("=") for kv in line.split()[1:])}
a, f = parse(sys.argv[2]), parse(sys.argv[3])
print(f"      {sys.argv[1]} ratio: throughput {a['rps'] / f['rps']:.2f}x the floor's, "
      f"p50 {a['p50_ms'] / f['p50_ms']:.1f}x the floor's, "
      f"server CPU per request {a['cpu_us'] / f['cpu_us']:.1f}x the floor's")
PY
}
APP="http://127.0.0.1:$APP_PORT"; FLOOR="http://127.0.0.1:$FLOOR_PORT"
for i in $(seq 1 "$RUNS"); do
  for c in 1 16; do
    a=$(get "$APP" /healthz "$c" ""); f=$(get "$FLOOR" /healthz "$c" "")
    echo "run $i healthz c=$c yjrisk: $a"
    echo "run $i healthz c=$c floor:  $f"
    ratio "healthz c=$c" "$a" "$f"
    g=$(get "$APP" "/v1/services/$SLUG" "$c" "$WRK_TOKEN")
    echo "run $i authget c=$c yjrisk: $g"
    ratio "authget/floor-healthz c=$c" "$g" "$f"
  done
  if [ "$WRITES" = 1 ]; then
    w=$(WRK_TOKEN="$WRK_TOKEN" measure "$APP_PORT" wrk -t2 -c32 -d"${SECS}s" --timeout 30s \
      --latency -s benchmarks/wrk/judgements.lua "$APP")
    echo "run $i writes c=32 yjrisk: $w"
  fi
done
echo "api resident memory after the runs: $(rss_line)"
