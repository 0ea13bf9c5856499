#!/usr/bin/env bash
# Builds what the worker serves: the worker (worker/build/), the SDK
# (sdk-wasm/pkg/) and the console (www/dist/); and the CLI
# (target/debug/edgeauth, which tests/cli*.test.mjs run). Never downloads anything:
# worker-build is pointed at the wasm-bindgen, esbuild and wasm-opt installed
# by scripts/setup.sh.
#   scripts/build.sh [--force] [worker] [sdk] [console] [cli]    (default: all four)
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
    worker | sdk | console | cli) PARTS+=("$arg") ;;
    *) echo "usage: scripts/build.sh [--force] [worker] [sdk] [console] [cli]" >&2; exit 2 ;;
  esac
done
(( ${#PARTS[@]} )) || PARTS=(worker sdk console cli)

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
  # worker-build always keeps the wasm names section (it passes --debuginfo to wasm-opt):
  # ~200 KB raw, ~55 KB gzip of function names in every deploy. Strip it; panics then show
  # addresses instead of names. Same feature set as worker-build's wasm-opt step.
  "$wasm_opt" "$out/index_bg.wasm" --strip-debug --strip-producers \
    --enable-mutable-globals --enable-sign-ext --enable-nontrapping-float-to-int \
    --enable-bulk-memory --enable-multivalue --enable-reference-types --enable-exception-handling \
    -o "$out/index_bg.wasm"
  printf '%s\n' "$hash" >"$stamp"
  say worker "built in $((SECONDS - start))s: $out/index.js, $(wc -c <"$out/index_bg.wasm") bytes of wasm"
}

# The npm package `edgeauth-sdk` from sdk-wasm/ into sdk-wasm/pkg/
# (sdk-wasm/build.sh: cargo, the pinned wasm-bindgen, wasm-opt, sdk-wasm/npm/).
# `npm pack sdk-wasm/pkg` makes the tarball users install.
build_sdk() {
  local out="sdk-wasm/pkg" stamp hash start
  stamp="$out/.source-hash"
  hash="$(source_hash Cargo.toml Cargo.lock core sdk-wasm scripts/build.sh)"
  if (( ! FORCE )) && [[ -f "$out/edgeauth_sdk_bg.wasm" && -f "$stamp" && "$(cat "$stamp")" == "$hash" ]]; then
    say sdk "up to date ($out/)"
    return
  fi
  start=$SECONDS
  WASM_BINDGEN_BIN="$(local_tool "$(command -v wasm-bindgen || echo wasm-bindgen)" "run scripts/setup.sh")" \
  WASM_OPT_BIN="$(local_tool "$ROOT/node_modules/.bin/wasm-opt" "run scripts/setup.sh")" \
    bash sdk-wasm/build.sh
  printf '%s\n' "$hash" >"$stamp"
  say sdk "built in $((SECONDS - start))s: $out/"
}

# The console: www/ as it is (plain ES modules and CSS, no bundler) plus the
# SDK's web build, into www/dist/console/. Workers static assets look a URL
# path up as it is, so /console/x is served from www/dist/console/x (the dev
# and test ASSETS service in scripts/miniflare-options.mjs does the same).
# The console imports the SDK from js/sdk.js, written here to re-export the
# package's browser entry, so that it follows the package's own layout.
build_console() {
  local pkg="sdk-wasm/pkg" out="www/dist/console" start=$SECONDS
  if [[ ! -f "$pkg/package.json" ]]; then
    echo "build: console: $pkg/ is missing: build the SDK first (scripts/build.sh sdk)" >&2
    exit 1
  fi
  # The package's browser entry, then the files a browser may load: the
  # package's `files` but for the Node entry, types and docs.
  local listed=()
  mapfile -t listed < <(node -e '
    const pkg = require(process.argv[1]);
    const root = pkg.exports?.["."] ?? {};
    const entry = root.browser ?? root.default ?? pkg.module;
    if (typeof entry !== "string") throw new Error("edgeauth-sdk: no browser entry in package.json");
    const clean = (f) => f.replace(/^\.\//, "");
    console.log(clean(entry));
    for (const f of pkg.files ?? []) {
      if (/\.(m?js|wasm)$/.test(f) && clean(f) !== clean(root.node ?? "")) console.log(clean(f));
    }
  ' "$ROOT/$pkg/package.json")
  local entry="${listed[0]:-}" file
  [[ -n "$entry" ]] || { echo "build: console: no browser entry in $pkg/package.json" >&2; exit 1; }

  rm -rf www/dist
  mkdir -p "$out/sdk"
  cp www/*.html www/*.css www/*.svg "$out/"
  cp -R www/js "$out/js"
  for file in "${listed[@]:1}"; do
    cp "$pkg/$file" "$out/sdk/$file"
  done
  [[ -f "$out/sdk/$entry" ]] || { echo "build: console: $pkg/$entry is missing" >&2; exit 1; }
  # The OpenAPI document, compact, beside the console: the worker answers GET /openapi.json
  # from the assets, so the document adds nothing to the wasm.
  node -e 'process.stdout.write(JSON.stringify(JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"))))' \
    core/openapi.json >www/dist/openapi.json
  cat >"$out/js/sdk.js" <<EOF
// Written by scripts/build.sh: the SDK's web build (edgeauth-sdk $(node -p 'require(process.argv[1]).version' "$ROOT/$pkg/package.json")), the console's only client.
export { EdgeAuthClient, EdgeAuthError, signRequest, decodeToken } from "../sdk/$entry";
EOF
  say console "built in $((SECONDS - start))s: $out/ ($(find "$out" -type f | wc -l) files, SDK entry sdk/$entry)"
}

# The `edgeauth` CLI from cli/: a debug build (it shares the compiled
# dependencies of `cargo test`; the workspace's release profile is tuned for
# wasm size), honouring CARGO_TARGET_DIR. Users install it with
# `cargo install --path cli`. cargo is incremental: no source hash needed.
build_cli() {
  local start=$SECONDS
  cargo build --locked -p edgeauth-cli
  # The release binary too: what `cargo install --path cli` gives users, at the path
  # scripts and CI jobs outside this repository expect.
  cargo build --locked --release -p edgeauth-cli
  say cli "built in $((SECONDS - start))s: ${CARGO_TARGET_DIR:-target}/{debug,release}/edgeauth"
}

for part in "${PARTS[@]}"; do
  "build_$part"
done
