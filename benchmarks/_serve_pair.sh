# Sourced by http_vs_floor.sh and overhead.sh after their options: the project's venv and wrk,
# a throwaway database each for the service and the floor app on the local PostgreSQL (dropped
# on exit), both apps started on free ports and waited for, and a Wokingham service with
# $CASES cases set up over HTTP. Reads DB_PREFIX, CASES, WAIT_TRIES (0.2 s each) and WORKERS;
# sets PG, DB, FLOORDB, WORK, SECRET, APP_PORT, FLOOR_PORT and PIDS (service first, then floor).
source scripts/_venv.sh
command -v wrk >/dev/null || { echo "installing wrk (Debian package)"; \
  (apt-get update -qq && apt-get install -y -qq wrk) >/dev/null; }
PG=postgresql://postgres@127.0.0.1:5432
STAMP=$(date +%s)$$
DB=${DB_PREFIX}_${STAMP}; FLOORDB=${DB_PREFIX}_floor_${STAMP}
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
wait_up() { for _ in $(seq 1 "$WAIT_TRIES"); do curl -sf "http://127.0.0.1:$1$2" >/dev/null 2>&1 && return 0; sleep 0.2; done; echo "server on $1 did not start" >&2; cat "$WORK"/*.log >&2; exit 1; }
wait_up "$APP_PORT" /healthz
wait_up "$FLOOR_PORT" /healthz
python benchmarks/bench_setup.py "http://127.0.0.1:$APP_PORT" "$SECRET" "$WORK" --cases "$CASES"
