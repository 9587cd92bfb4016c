#!/usr/bin/env bash
# Set-up on a fresh Debian machine with Python 3.11 and Node 20: virtualenv with pinned packages,
# the frontend build (Vite) and the compiled translations. Safe to run again.
#   scripts/setup.sh          runtime only
#   scripts/setup.sh --dev    plus the test and lint tools
set -euo pipefail
cd "$(dirname "$0")/.."

extras=""
[ "${1:-}" = "--dev" ] && extras="[dev]"

python=""
for candidate in python3.11 python3; do
  if command -v "$candidate" >/dev/null 2>&1 &&
     "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
    python="$candidate"; break
  fi
done
if [ -z "$python" ]; then
  echo "setup: Python 3.11 is required (python3.11 or python3 of version 3.11)" >&2
  exit 1
fi
if ! command -v npm >/dev/null 2>&1; then
  echo "setup: Node.js 20 with npm is required for the frontend build" >&2
  exit 1
fi

if [ ! -x .venv/bin/python ]; then
  "$python" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade "pip>=25"
# constraints.txt pins the whole dependency tree, not only the direct dependencies.
.venv/bin/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e ".${extras}"

(cd frontend && npm ci --no-audit --no-fund --loglevel=error && npm run --silent build >/dev/null)
.venv/bin/python -m hds.core.i18n >/dev/null
echo "setup: done"
