#!/usr/bin/env bash
# Builds the npm package `edgeauth-sdk` into sdk-wasm/pkg/ (then `npm pack sdk-wasm/pkg`).
#   cargo (wasm32, release) → wasm-bindgen --target web → wasm-opt -Oz → + sdk-wasm/npm/
# Settings (environment):
#   CARGO_TARGET_DIR   cargo's target dir (default: the workspace's target/)
#   SDK_OUT_DIR        where the package goes (default: sdk-wasm/pkg)
#   WASM_BINDGEN_BIN   the wasm-bindgen CLI (default: wasm-bindgen on PATH); must
#                      be the version of the wasm-bindgen crate in Cargo.lock
#   WASM_OPT_BIN       binaryen's wasm-opt (default: node_modules/.bin/wasm-opt;
#                      skipped with a warning when absent)
set -euo pipefail

SDK="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$SDK")"
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
OUT="${SDK_OUT_DIR:-$SDK/pkg}"
WASM_BINDGEN="${WASM_BINDGEN_BIN:-wasm-bindgen}"
WASM_OPT="${WASM_OPT_BIN:-$ROOT/node_modules/.bin/wasm-opt}"

pinned="$(awk '
  $0 == "name = \"wasm-bindgen\"" { found = 1; next }
  found && /^version = / { gsub(/"/, "", $3); print $3; exit }
' "$ROOT/Cargo.lock")"
have="$("$WASM_BINDGEN" --version 2>/dev/null | awk '{print $2}' || true)"
if [[ "$have" != "$pinned" ]]; then
  echo "sdk: wasm-bindgen CLI is ${have:-missing}, Cargo.lock pins $pinned: run scripts/setup.sh" >&2
  exit 1
fi

crate_version="$(awk -F'"' '/^version = / { print $2; exit }' "$ROOT/Cargo.toml")"
npm_version="$(node -p 'require(process.argv[1]).version' "$SDK/npm/package.json")"
if [[ "$crate_version" != "$npm_version" ]]; then
  echo "sdk: npm/package.json is $npm_version but the workspace is $crate_version" >&2
  exit 1
fi

cargo build --release -p edgeauth-sdk --target wasm32-unknown-unknown --target-dir "$TARGET_DIR"

staging="$(mktemp -d "${OUT%/}.XXXXXX")"
trap 'rm -rf "$staging"' EXIT
"$WASM_BINDGEN" --target web --out-dir "$staging" --out-name edgeauth_sdk \
  "$TARGET_DIR/wasm32-unknown-unknown/release/edgeauth_sdk.wasm"
# The package ships its own index.d.ts; the glue's types describe internals.
rm -f "$staging/edgeauth_sdk.d.ts" "$staging/edgeauth_sdk_bg.wasm.d.ts"

wasm="$staging/edgeauth_sdk_bg.wasm"
raw_before="$(wc -c <"$wasm")"
if [[ -x "$WASM_OPT" ]]; then
  # The features rustc's wasm32 target enables by default (Node 20 and current browsers have them).
  "$WASM_OPT" -Oz --strip-debug --strip-producers \
    --enable-bulk-memory --enable-sign-ext --enable-mutable-globals \
    --enable-nontrapping-float-to-int --enable-reference-types --enable-multivalue \
    "$wasm" -o "$wasm.opt"
  mv "$wasm.opt" "$wasm"
else
  echo "sdk: $WASM_OPT not found: the wasm is not size-optimised (run scripts/setup.sh)" >&2
fi

cp "$SDK/npm/package.json" "$SDK/npm/client.js" "$SDK/npm/index.js" "$SDK/npm/node.js" \
  "$SDK/npm/index.d.ts" "$SDK/npm/README.md" "$staging/"
cp "$ROOT/LICENSE" "$staging/" 2>/dev/null || true

rm -rf "$OUT"
mv "$staging" "$OUT"
chmod 755 "$OUT"
trap - EXIT

raw="$(wc -c <"$OUT/edgeauth_sdk_bg.wasm")"
gz="$(gzip -9 -c "$OUT/edgeauth_sdk_bg.wasm" | wc -c)"
printf 'sdk: %s: wasm %s bytes (%s before wasm-opt), %s gzip -9\n' "$OUT" "$raw" "$raw_before" "$gz"
