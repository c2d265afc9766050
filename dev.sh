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

setup() {
  if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    echo "redigest needs Python 3.11 or newer; set PYTHON=/path/to/python3.11" >&2
    exit 1
  fi
  if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV"
  fi
  # Re-install only when pyproject.toml changed since the last install.
  local stamp="$VENV/.redigest-installed"
  if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e '.[dev]'
    touch "$stamp"
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
