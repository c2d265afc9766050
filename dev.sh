#!/usr/bin/env bash
# One entry point for a fresh machine: sets up .venv on first use, then runs what you asked.
#   bash dev.sh run    – start the bot (the terminal console when no Discord/Slack token is set)
#   bash dev.sh demo   – digest the bundled example thread (offline analyser, no account needed)
#   bash dev.sh test   – lint (ruff), type-check (mypy) and run the test suite (pytest)
#   bash dev.sh bench  – the benchmarks in bench/
set -euo pipefail
cd "$(dirname "$0")"

PYTHON="${PYTHON:-python3}"
VENV="${VENV:-.venv}"

say() { echo "dev.sh: $*" >&2; }

# pip shows its own progress on a terminal; into a pipe or CI, or with -q, it stays quiet (the
# lines before and after still say what is happening).
PIP_QUIET=()
if [ ! -t 2 ] || [ -n "${CI:-}" ]; then PIP_QUIET=(--quiet); fi
for arg in "$@"; do
  if [ "$arg" = "-q" ] || [ "$arg" = "--quiet" ]; then PIP_QUIET=(--quiet); fi
done

setup() {
  if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    echo "redigest needs Python 3.11 or newer; set PYTHON=/path/to/python3.11" >&2
    exit 1
  fi
  local first=""
  if [ ! -x "$VENV/bin/python" ]; then
    say "creating a virtualenv in $VENV…"
    "$PYTHON" -m venv "$VENV"
    first=1
  fi
  # Re-install only when pyproject.toml changed since the last install.
  local stamp="$VENV/.redigest-installed"
  if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    if [ -n "$first" ] || [ ! -f "$stamp" ]; then
      say "installing redigest and its dependencies into $VENV (first time: a few minutes)…"
    else
      say "pyproject.toml changed: updating redigest's dependencies in $VENV…"
    fi
    local started=$SECONDS
    "$VENV/bin/python" -m pip install ${PIP_QUIET[@]+"${PIP_QUIET[@]}"} \
      --disable-pip-version-check -e '.[dev]'
    touch "$stamp"
    say "installed in $((SECONDS - started)) s."
  fi
}

cmd="${1:-run}"
shift || true
case "$cmd" in
  run)
    setup
    exec "$VENV/bin/redigest" run "$@"
    ;;
  demo)
    setup
    exec "$VENV/bin/redigest" digest examples/selfhosted_thread.json --depth deep "$@"
    ;;
  test)
    setup
    "$VENV/bin/ruff" check .
    "$VENV/bin/ruff" format --check .
    "$VENV/bin/mypy"
    exec "$VENV/bin/python" -m pytest "$@"
    ;;
  bench)
    setup
    exec "$VENV/bin/python" -m bench "$@"
    ;;
  *)
    echo "usage: bash dev.sh [run|demo|test|bench] [args…]" >&2
    exit 2
    ;;
esac
