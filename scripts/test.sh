#!/usr/bin/env bash
# Run the whole test suite: lint, types, then SQLite and PostgreSQL side by side (127.0.0.1:5432,
# user postgres).
# Under CI=true an unreachable PostgreSQL fails the run instead of skipping it.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/_venv.sh
echo "== ruff"
ruff check .
echo "== mypy"
mypy app
echo "== chromium (for the page tests)"
if ! bash scripts/ensure-chromium.sh; then
  if [ "${CI:-}" = "true" ]; then
    echo "chromium could not be installed and CI=true: failing" >&2
    exit 1
  fi
  echo "chromium unavailable: the page tests will skip (they are required when CI=true)"
fi
# The two databases' runs go side by side (the machine has two cores; one after the other took
# about 18 minutes on a quiet machine, 9 on SQLite and 7.5 on PostgreSQL): PostgreSQL's run writes
# to a log that is printed when it ends; the suite fails when either run fails.
# Arguments go to pytest on both sides. With no path among them (none, or only options such as
# `-k name`), the API tests (the only ones that touch the run's database) run on both databases
# and the rest once, split between the two runs to even them out: the database-free tests of
# tests/workflows and tests/docs beside PostgreSQL's, tests/cli and tests/ui beside SQLite's
# (tests/cli makes SQLite databases of its own). With paths
# (`bash scripts/test.sh tests/api/test_cases.py`), exactly those on both.
sqlite_paths=(tests/api tests/cli tests/ui)
pg_paths=(tests/api tests/workflows tests/docs)
for arg in "$@"; do
  if [ -e "${arg%%::*}" ]; then sqlite_paths=(); pg_paths=(); break; fi
done
pg_state=skipped
pg_log=""
pg_pid=""
if python - <<'PY'
import asyncio, os, sys
import asyncpg
dsn = os.environ.get("YJ_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
async def probe():
    conn = await asyncpg.connect(dsn, timeout=5)
    await conn.close()
try:
    asyncio.run(probe())
except Exception as exc:
    print(f"PostgreSQL unreachable: {exc}", file=sys.stderr)
    sys.exit(1)
PY
then
  pg_state=running
  pg_log="$(mktemp -t yjrisk-pg-tests.XXXXXX)"
  YJ_TEST_DB=postgres python -m pytest -q -p no:cacheprovider "${pg_paths[@]}" "$@" >"$pg_log" 2>&1 &
  pg_pid=$!
  trap 'if [ -n "$pg_pid" ]; then kill "$pg_pid" 2>/dev/null || true; fi' EXIT
elif [ "${CI:-}" = "true" ]; then
  echo "PostgreSQL is not reachable and CI=true: failing" >&2
  exit 1
fi
if [ "$pg_state" != running ] && [ ${#sqlite_paths[@]} -gt 0 ]; then
  sqlite_paths=(tests)  # no PostgreSQL run: every test on SQLite
fi
echo "== tests on SQLite"
sqlite_rc=0
YJ_TEST_DB=sqlite python -m pytest -q "${sqlite_paths[@]}" "$@" || sqlite_rc=$?
echo "== tests on PostgreSQL"
pg_rc=0
if [ "$pg_state" = running ]; then
  wait "$pg_pid" || pg_rc=$?
  pg_pid=""
  cat "$pg_log"
  rm -f "$pg_log"
else
  echo "PostgreSQL not reachable: skipped (it is required when CI=true)"
fi
if [ "$sqlite_rc" -ne 0 ] || [ "$pg_rc" -ne 0 ]; then
  echo "tests failed: SQLite exit $sqlite_rc, PostgreSQL exit $pg_rc" >&2
  exit 1
fi
