#!/usr/bin/env bash
# Run the whole test suite: lint, types, SQLite, then PostgreSQL (127.0.0.1:5432, user postgres).
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
echo "== tests on SQLite"
YJ_TEST_DB=sqlite python -m pytest -q "$@"
echo "== tests on PostgreSQL"
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
  YJ_TEST_DB=postgres python -m pytest -q tests/api "$@"
elif [ "${CI:-}" = "true" ]; then
  echo "PostgreSQL is not reachable and CI=true: failing" >&2
  exit 1
else
  echo "PostgreSQL not reachable: skipped (it is required when CI=true)"
fi
