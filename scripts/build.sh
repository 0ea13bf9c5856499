#!/usr/bin/env bash
# Builds what the worker serves: the worker (worker/build/), the SDK
# (sdk-wasm/pkg/) and the console (www/dist/). Never downloads anything:
# worker-build is pointed at the wasm-bindgen, esbuild and wasm-opt installed
# by scripts/setup.sh.
#   scripts/build.sh [--force] [worker] [sdk] [console]    (default: all three)
# EDGEAUTH_NO_WASM_OPT=1 skips wasm-opt (-Oz: 12% smaller wasm, ~20 s with
# npm binaryen on 2 cores) for a quicker edit-build loop.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

FORCE=0
PARTS=()
for arg in "$@"; do
  case "$arg" in
    --force) FORCE=1 ;;
    worker | sdk | console) PARTS+=("$arg") ;;
    *) echo "usage: scripts/build.sh [--force] [worker] [sdk] [console]" >&2; exit 2 ;;
  esac
done
(( ${#PARTS[@]} )) || PARTS=(worker sdk console)

say() { printf 'build: %-8s %s\n' "$1" "$2"; }

# Hash of everything a part is built from, so that an unchanged part is not
# rebuilt (cargo is incremental, but worker-build reruns wasm-bindgen,
# wasm-opt and esbuild every time).
source_hash() {
  {
    find "$@" -type f -not -path '*/build/*' -not -path '*/pkg/*' -not -path '*/dist/*' \
      -print0 | LC_ALL=C sort -z | xargs -0 sha256sum
    rustc --version || true
    wasm-bindgen --version || true
    echo "RUSTFLAGS=${RUSTFLAGS:-} EDGEAUTH_NO_WASM_OPT=${EDGEAUTH_NO_WASM_OPT:-}"
  } | sha256sum | cut -d' ' -f1
}

# One local tool per download worker-build would otherwise make.
local_tool() {
  local path="$1"
  if [[ ! -x "$path" ]]; then
    echo "build: $path is missing: run scripts/setup.sh" >&2
    exit 1
  fi
  printf '%s\n' "$path"
}

build_worker() {
  local out="worker/build" stamp hash start
  stamp="$out/.source-hash"
  hash="$(source_hash Cargo.toml Cargo.lock core worker scripts/build.sh)"
  if (( ! FORCE )) && [[ -f "$out/index.js" && -f "$stamp" && "$(cat "$stamp")" == "$hash" ]]; then
    say worker "up to date ($out/index.js)"
    return
  fi
  start=$SECONDS
  local bindgen esbuild wasm_opt
  bindgen="$(local_tool "$(command -v wasm-bindgen || echo wasm-bindgen)")"
  esbuild="$(local_tool "$ROOT/node_modules/.bin/esbuild")"
  wasm_opt="$(local_tool "$ROOT/node_modules/.bin/wasm-opt")"
  # wasm-opt's arguments are in worker/Cargo.toml ([package.metadata.wasm-pack.profile.release]).
  local flags=(--release)
  [[ "${EDGEAUTH_NO_WASM_OPT:-}" == 1 ]] && flags+=(--no-opt)
  (cd worker && WASM_BINDGEN_BIN="$bindgen" ESBUILD_BIN="$esbuild" WASM_OPT_BIN="$wasm_opt" \
    worker-build "${flags[@]}")
  printf '%s\n' "$hash" >"$stamp"
  say worker "built in $((SECONDS - start))s: $out/index.js, $(wc -c <"$out/index_bg.wasm") bytes of wasm"
}

# HOOK (SDK): build the npm package `edgeauth-sdk` from sdk-wasm/ into
# sdk-wasm/pkg/ (wasm-bindgen's web and Node builds, types, package.json).
# Skip when unchanged, as build_worker does.
build_sdk() {
  say sdk "nothing to build yet (hook: build_sdk in scripts/build.sh)"
}

# HOOK (console): build the console from www/ into www/dist/, which the
# ASSETS binding serves under /console/ (it depends on the SDK's web build).
# Until then www/dist/ is a copy of www/.
build_console() {
  rm -rf www/dist
  mkdir -p www/dist
  find www -mindepth 1 -maxdepth 1 -not -name dist -exec cp -R {} www/dist/ \;
  say console "copied www/ to www/dist/ ($(find www/dist -type f | wc -l) files)"
}

for part in "${PARTS[@]}"; do
  "build_$part"
done
