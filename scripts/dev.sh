#!/usr/bin/env bash
# Start yjrisk on http://127.0.0.1:8000 with embedded SQLite, migrations applied, demo data
# seeded and a ready-to-paste token per role printed. Open http://127.0.0.1:8000/docs.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/_venv.sh
mkdir -p .dev
if [ ! -s .dev/jwt-secret ]; then
  python -c 'import secrets; print(secrets.token_urlsafe(48))' > .dev/jwt-secret
fi
export YJ_ENV="${YJ_ENV:-dev}"
export YJ_JWT_SECRET="${YJ_JWT_SECRET:-$(cat .dev/jwt-secret)}"
export YJ_DATABASE_URL="${YJ_DATABASE_URL:-sqlite+aiosqlite:///./.dev/yjrisk.db}"
export YJ_LOG_JSON="${YJ_LOG_JSON:-true}"
yjrisk migrate
yjrisk seed-demo | tee .dev/tokens.json
cat <<MSG

yjrisk is starting on http://127.0.0.1:8000  (API docs: http://127.0.0.1:8000/docs)
Tokens for the demo service "somerset" are above (and in .dev/tokens.json). Try:
  TOKEN=\$(python -c 'import json;print(json.load(open(".dev/tokens.json"))["tokens_for_service_somerset"]["case_holder"])')
  curl -s -H "Authorization: Bearer \$TOKEN" http://127.0.0.1:8000/v1/cases
More tokens: .venv/bin/yjrisk token --role chair --sub chair-kim --service wokingham
MSG
exec yjrisk serve --host 127.0.0.1 --port "${PORT:-8000}" --no-migrate
