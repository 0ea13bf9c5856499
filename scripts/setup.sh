#!/usr/bin/env bash
# Installs what building and testing edgeauth needs; quick when all is there.
#   scripts/setup.sh            Rust wasm target and tools, npm packages, schemathesis (.venv/)
#   scripts/setup.sh --browser  and Debian's chromium, for the console's browser tests
# Nothing here downloads a prebuilt binary: Rust tools come from crates.io via
# `cargo install`, JS tools from npm, Python tools from PyPI (pip), chromium from apt.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

WORKER_BUILD_VERSION="0.8.7"
BROWSER=0
for arg in "$@"; do
  case "$arg" in
    --browser) BROWSER=1 ;;
    *) echo "usage: scripts/setup.sh [--browser]" >&2; exit 2 ;;
  esac
done

step() { printf 'setup: %-22s %s\n' "$1" "$2"; }
need() {
  command -v "$1" >/dev/null 2>&1 || { echo "setup: $1 not found: $2" >&2; exit 1; }
}

need rustup "install Rust with rustup (https://rustup.rs)"
need cargo "install Rust with rustup (https://rustup.rs)"
need node "install Node.js 20 or later"
need npm "install npm (it comes with Node.js)"
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

node_major="$(node -p 'process.versions.node.split(".")[0]')"
if (( node_major < 20 )); then
  echo "setup: Node.js $(node --version) is too old: 20 or later is needed" >&2
  exit 1
fi

# rustup answers these from its local state: no network unless something is missing.
installed_targets="$(rustup target list --installed)"
if grep -qx wasm32-unknown-unknown <<<"$installed_targets"; then
  step "wasm32 target" "present"
else
  rustup target add wasm32-unknown-unknown
  step "wasm32 target" "installed"
fi

installed_components="$(rustup component list --installed)"
missing_components=()
for component in rustfmt clippy; do
  grep -q "^$component" <<<"$installed_components" || missing_components+=("$component")
done
if (( ${#missing_components[@]} == 0 )); then
  step "rustfmt, clippy" "present"
else
  rustup component add "${missing_components[@]}"
  step "rustfmt, clippy" "installed ${missing_components[*]}"
fi

# worker-build runs the wasm-bindgen CLI, which must be the exact version of the
# wasm-bindgen crate in Cargo.lock.
bindgen_version="$(awk '
  $0 == "name = \"wasm-bindgen\"" { found = 1; next }
  found && /^version = / { gsub(/"/, "", $3); print $3; exit }
' Cargo.lock)"
if [[ -z "$bindgen_version" ]]; then
  echo "setup: no wasm-bindgen in Cargo.lock" >&2
  exit 1
fi
have_bindgen="$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)"
if [[ "$have_bindgen" == "$bindgen_version" ]]; then
  step "wasm-bindgen-cli" "$bindgen_version present"
else
  # Not --locked: wasm-bindgen-cli 0.2.130's own lock file pins a yanked webpki-roots.
  cargo install wasm-bindgen-cli --version "=$bindgen_version" --force
  step "wasm-bindgen-cli" "$bindgen_version installed (was: ${have_bindgen:-none})"
fi

have_worker_build="$(worker-build --version 2>/dev/null || true)"
if [[ "$have_worker_build" == "$WORKER_BUILD_VERSION" ]]; then
  step "worker-build" "$WORKER_BUILD_VERSION present"
else
  cargo install worker-build --version "=$WORKER_BUILD_VERSION" --locked --force
  step "worker-build" "$WORKER_BUILD_VERSION installed (was: ${have_worker_build:-none})"
fi

# npm ci when node_modules is missing or older than the lock file. npm writes
# node_modules/.package-lock.json on every install, so its time is the install's.
if [[ ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json ]]; then
  npm ci --no-audit --no-fund
  step "npm packages" "installed (npm ci)"
else
  step "npm packages" "present"
fi

# schemathesis, for the fuzz run (scripts/fuzz/run.mjs), in a virtualenv of its own (.venv/)
# with every version pinned by tests/fuzz/requirements.txt. The stamp is that file's hash:
# an up-to-date venv costs no Python start and no pip call.
fuzz_requirements="tests/fuzz/requirements.txt"
fuzz_stamp=".venv/.requirements-sha256"
fuzz_hash="$(sha256sum "$fuzz_requirements" | cut -d' ' -f1)"
schemathesis_version="$(sed -n 's/^schemathesis==//p' "$fuzz_requirements")"
if [[ -x .venv/bin/schemathesis && -f "$fuzz_stamp" && "$(cat "$fuzz_stamp")" == "$fuzz_hash" ]]; then
  step "schemathesis" "$schemathesis_version present (.venv/)"
else
  need python3 "install Python 3.10 or later, with its venv module, for the fuzz run"
  if ! python3 -c 'import sys; sys.exit(sys.version_info < (3, 10))'; then
    echo "setup: $(python3 --version) is too old for schemathesis: 3.10 or later is needed" >&2
    exit 1
  fi
  [[ -x .venv/bin/python ]] || python3 -m venv .venv
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --requirement "$fuzz_requirements"
  printf '%s\n' "$fuzz_hash" >"$fuzz_stamp"
  step "schemathesis" "$schemathesis_version installed (.venv/)"
fi

if (( BROWSER )); then
  if [[ -x /usr/bin/chromium ]]; then
    step "chromium" "present"
  else
    need apt-get "install chromium and point tests at it (CHROMIUM_PATH)"
    sudo_cmd=()
    (( EUID == 0 )) || sudo_cmd=(sudo)
    "${sudo_cmd[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends chromium
    step "chromium" "installed $(/usr/bin/chromium --version 2>/dev/null || true)"
  fi
fi
