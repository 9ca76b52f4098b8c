#!/usr/bin/env bash
# Start yjrisk on http://127.0.0.1:8000 (PORT to change) with embedded SQLite in .dev/, migrations
# applied, demo data seeded and a ready-to-paste token per role printed; open /docs.
# Writes .env (dev secret, database, demo clock, YJ_PACKS_DIR when set), so every
# `.venv/bin/yjrisk` command run in this folder afterwards uses the same database, secret and packs. Options go to `yjrisk dev`, e.g.
# `bash scripts/dev.sh --demo-clock 2026-11-16T09:00:00Z` starts the demo clock there.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/_venv.sh
exec yjrisk dev --host 127.0.0.1 --port "${PORT:-8000}" "$@"
