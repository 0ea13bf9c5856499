#!/usr/bin/env bash
# `npm run dev`: install what is missing, build, then serve the worker on
# http://127.0.0.1:${PORT:-8787} (see scripts/dev.mjs for the settings).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

bash scripts/setup.sh
# Serving needs the worker and the console (on the SDK), not the CLI: `npm test` builds that.
bash scripts/build.sh worker sdk console
exec node scripts/dev.mjs "$@"
