# Sourced by the other scripts: make (or reuse) .venv with the project and its dev tools.
# Quiet: one progress line; the installer's own output goes to .venv/install.log (shown on failure).
# Installs with uv when it is on PATH, else bootstraps uv into the venv with pip (measured faster
# overall: ~7 s against ~20 s for pip alone on a cold cache), and falls back to plain pip if uv
# cannot be had or fails.
set -euo pipefail
PY=""
for candidate in python3.13 python3.12 python3.11 python3; do
  if "$candidate" -c "import sys; sys.exit(sys.version_info < (3, 11))" >/dev/null 2>&1; then
    PY="$candidate"; break
  fi
done
[ -n "$PY" ] || { echo "yjrisk needs Python 3.11 or newer" >&2; exit 1; }
stamp=".venv/.yjrisk-installed"
# The recipe's version is in the stamp too: a venv made by an older recipe is made again once.
want=$( (cat pyproject.toml; echo "recipe 2: bytecode compiled") | sha256sum | cut -c1-16)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  started=$SECONDS
  printf 'yjrisk: installing into .venv (first start, or pyproject.toml changed; about half a minute, minutes on a busy machine) ... '
  [ -x .venv/bin/python ] || "$PY" -m venv .venv
  log=.venv/install.log
  : > "$log"
  _yj_install() {
    local uv=""
    if command -v uv >/dev/null 2>&1; then
      uv=uv
    elif .venv/bin/python -m pip install --quiet --disable-pip-version-check uv >>"$log" 2>&1; then
      uv=.venv/bin/uv
    fi
    # --compile-bytecode: uv does not write .pyc files by default, and where
    # PYTHONDONTWRITEBYTECODE is set nothing ever writes them, so every process (each
    # `yjrisk tick` from cron, each CLI test) compiled every module it imports: ~2 s of CPU a
    # start (pip compiles at install by default).
    if [ -n "$uv" ] && "$uv" pip install --quiet --compile-bytecode --python .venv/bin/python \
        -e ".[dev]" >>"$log" 2>&1; then
      echo "with uv" >>"$log"; return 0
    fi
    echo "uv unavailable or failed: falling back to pip" >>"$log"
    .venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[dev]" >>"$log" 2>&1
  }
  if ! _yj_install; then
    echo "failed"
    tail -n 30 "$log" >&2
    echo "yjrisk: installing failed; the whole log is in $log" >&2
    exit 1
  fi
  echo "$want" > "$stamp"
  echo "done in $((SECONDS - started)) s"
fi
export PATH="$PWD/.venv/bin:$PATH"
