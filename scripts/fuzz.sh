#!/usr/bin/env bash
# Long schemathesis run against a live server (issue 9 "done means"): the live OpenAPI, every
# check but positive_data_acceptance, all phases including stateful, a token with two roles.
# A fresh SQLite database in a temp dir (YJ_FUZZ_DATABASE_URL for PostgreSQL).
#   bash scripts/fuzz.sh                 # FUZZ_EXAMPLES=120 per operation and phase
#   FUZZ_EXAMPLES=10 bash scripts/fuzz.sh   # a quick look
# Prints schemathesis' summary; the NDJSON/JUnit reports land in $FUZZ_REPORT_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/_venv.sh
work=$(mktemp -d)
trap 'kill "${server_pid:-0}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT
port=$(python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export YJ_ENV=test YJ_LOG_LEVEL=WARNING
export YJ_JWT_SECRET="fuzz-$(python -c 'import secrets; print(secrets.token_hex(24))')"
export YJ_DATABASE_URL="${YJ_FUZZ_DATABASE_URL:-sqlite+aiosqlite:///$work/fuzz.db}"
report_dir="${FUZZ_REPORT_DIR:-$work/report}"
yjrisk migrate >/dev/null
yjrisk serve --host 127.0.0.1 --port "$port" --no-migrate >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 100); do
  curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
  sleep 0.2
done
# A service, a case held and managed by the fuzzing staff member, and its two-role token.
token=$(python - "$port" <<'PY'
import sys, httpx
from app.core.config import Settings
from app.core.security import mint_dev_token
s = Settings()
base = f"http://127.0.0.1:{sys.argv[1]}"
admin = mint_dev_token(s, sub="fuzz-admin", roles=["admin"], service=None)
httpx.post(f"{base}/v1/services", headers={"Authorization": f"Bearer {admin}"},
           json={"slug": "fuzz", "name": "Fuzz", "policy_pack": "somerset-yjt-2023"}).raise_for_status()
token = mint_dev_token(s, sub="fuzz-staff", roles=["case_holder", "line_manager"], service="fuzz",
                       ttl_seconds=6 * 3600)
r = httpx.post(f"{base}/v1/cases", headers={"Authorization": f"Bearer {token}"}, json={
    "child": {"given_name": "Fuzz", "family_name": "Seed", "date_of_birth": "2010-05-01"},
    "case_holder_id": "fuzz-staff", "line_manager_id": "fuzz-staff",
    "intervention": "court_order", "csc_status": "none"})
r.raise_for_status()
print(token)
PY
)
set +e
schemathesis run "http://127.0.0.1:$port/openapi.json" \
  --checks all --exclude-checks positive_data_acceptance \
  --phases examples,coverage,fuzzing,stateful \
  --header "Authorization: Bearer $token" \
  --max-examples "${FUZZ_EXAMPLES:-120}" --workers "${FUZZ_WORKERS:-2}" \
  --seed "${FUZZ_SEED:-20261130}" --request-timeout 30 \
  --report ndjson,junit --report-dir "$report_dir" --no-color \
  --suppress-health-check all --generation-database none
status=$?
set -e
echo "server 5xx lines: $(grep -c '"status": 5' "$work/server.log" || true)"
echo "reports: $report_dir"
exit $status
