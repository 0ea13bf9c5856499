#!/usr/bin/env bash
# `npm run dev`: install what is missing, build, then serve the worker on
# http://127.0.0.1:${PORT:-8787} (see scripts/dev.mjs for the settings).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

bash scripts/setup.sh
bash scripts/build.sh
exec node scripts/dev.mjs "$@"
