#!/usr/bin/env bash
# Start HDS on its embedded default: SQLite and local files in ./var, web + worker, with a demo
# radiology, doctor and patient whose logins are printed. Open http://127.0.0.1:8000/.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
.venv/bin/hds demo
exec .venv/bin/hds run "$@"
