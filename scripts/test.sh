#!/usr/bin/env bash
# Run the whole test suite: the frontend's ESLint and Vitest, then pytest. Installs what it needs:
# the Python and npm packages, and, when run as root, the Debian packages some tests drive
# (chromium, poppler-utils, fonts). Without root those tests skip and say why. Extra arguments go
# to pytest. DATABASE_URL selects the database (default: SQLite); e.g.
# DATABASE_URL=postgres://postgres@127.0.0.1:5432/test scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."

debian_packages=(chromium poppler-utils fonts-dejavu-core dcmtk unzip)
missing=()
for pkg in "${debian_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" = "0" ]; then
    echo "test: installing Debian packages: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "test: WARNING: not root, so these Debian packages are not installed: ${missing[*]}" >&2
    echo "test: WARNING: the tests that need them will be SKIPPED (see the skip reasons)." >&2
  fi
fi

scripts/setup.sh --dev
# The frontend's lint and unit tests first (ESLint, Vitest; frontend/README.md). npm ci leaves
# out the devDependencies when NODE_ENV=production: then install them here.
if [ ! -x frontend/node_modules/.bin/vitest ] || [ ! -x frontend/node_modules/.bin/eslint ]; then
  (cd frontend && npm ci --include=dev --no-audit --no-fund --loglevel=error)
fi
(cd frontend && npm run --silent lint && npm run --silent test)
exec .venv/bin/pytest -n "${HDS_TEST_WORKERS:-2}" -rs "$@"
