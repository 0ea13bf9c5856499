#!/usr/bin/env bash
# The whole check, in the order a failure is cheapest to find: installs,
# formatting, lints (native and wasm), Rust tests, the build, then the
# end-to-end tests of the built worker in Miniflare. Stops at the first failure.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

SUMMARY=()
CURRENT=""
STARTED=$SECONDS

summary() {
  local status=$?
  echo
  echo "== summary"
  local line
  for line in "${SUMMARY[@]}"; do echo "$line"; done
  if (( status != 0 )) && [[ -n "$CURRENT" ]]; then
    printf '  FAIL  %-44s\n' "$CURRENT"
    echo "== npm test failed at: $CURRENT (after $((SECONDS - STARTED))s)"
  elif (( status == 0 )); then
    echo "== npm test passed in $((SECONDS - STARTED))s"
  fi
}
trap summary EXIT

run() {
  local name="$1" start=$SECONDS
  shift
  CURRENT="$name"
  echo
  echo "== $name"
  "$@"
  SUMMARY+=("$(printf '  ok    %-44s %4ss' "$name" "$((SECONDS - start))")")
  CURRENT=""
}

run "setup" bash scripts/setup.sh --browser
run "cargo fmt --check" cargo fmt --all -- --check
run "cargo clippy (native)" cargo clippy --workspace --all-targets --locked -- -D warnings
run "cargo clippy (wasm32: worker, sdk)" \
  cargo clippy --target wasm32-unknown-unknown -p edgeauth-worker -p edgeauth-sdk --locked -- -D warnings
run "cargo test (native)" cargo test --workspace --locked
run "build" bash scripts/build.sh
shopt -s nullglob
SPECS=(tests/*.test.mjs)
if (( ${#SPECS[@]} == 0 )); then
  echo "no tests/*.test.mjs" >&2
  exit 1
fi
run "end-to-end (node --test, ${#SPECS[@]} files)" node --test --test-concurrency=2 "${SPECS[@]}"
