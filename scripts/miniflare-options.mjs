// The one description of the worker's local runtime: bindings, vars and the
// ASSETS service, shared by the dev server (scripts/dev.mjs) and the test
// harness (tests/harness.mjs) so that the two cannot drift apart.
import { readFile, stat } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { webcrypto } from "node:crypto";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
export const WORKER_SCRIPT = path.join(ROOT, "worker", "build", "index.js");
export const ASSETS_DIR = path.join(ROOT, "www", "dist");

// Must not be later than the workerd bundled with the pinned miniflare
// (`npx workerd --version`); keep in step with wrangler.toml.
export const COMPATIBILITY_DATE = "2026-04-20";

export const KV_BINDINGS = ["API_KEYS"];
export const DURABLE_OBJECTS = {
  DIRECTORY: "Directory",
  NONCES: "NonceSet",
};
export const STORE_BINDINGS = [...KV_BINDINGS, ...Object.keys(DURABLE_OBJECTS)];

// Vars with a value in development and tests. docs/architecture.md lists them;
// the worker applies the same defaults when a var is absent.
export const DEVELOPMENT_VARS = Object.freeze({
  ENVIRONMENT: "development",
  ISSUER: "edgeauth",
  AUDIENCE: "edgeauth",
  ACCESS_TTL_S: "3600",
  REFRESH_TTL_S: "604800",
  REFRESH_GRACE_S: "30",
  MAX_BODY_BYTES: "65536",
  ALLOWED_ORIGINS: "*",
  DEFAULT_USER_SCOPES: "*",
  DEFAULT_USER_TENANTS: '{"demo":"admin"}',
});

// Vars that are absent unless set: an empty value has a meaning of its own
// (e.g. ORIGIN_URL empty → the built-in echo origin), so they are not invented.
export const OPTIONAL_VARS = Object.freeze([
  "ORIGIN_URL",
  "EXTERNAL_ISSUERS",
  "FORWARD_AUTHORIZATION",
  "POLICY",
  "TENANT_ADMINS",
  "REQUIRE_VERIFIED_EMAIL",
  // Email delivery. Without EMAIL_API_URL, development keeps messages in the local
  // mailbox (GET /v1/dev/mailbox?to=); EMAIL_API_KEY is a secret in a deployment.
  "EMAIL_API_URL",
  "EMAIL_API_KEY",
  "EMAIL_FROM",
  "EMAIL_PRODUCT_NAME",
]);

export const VAR_NAMES = Object.freeze([...Object.keys(DEVELOPMENT_VARS), ...OPTIONAL_VARS]);
// ENVIRONMENT is fixed by the command (development here, production in wrangler.toml).
const ENV_VAR_NAMES = VAR_NAMES.filter((name) => name !== "ENVIRONMENT");

/**
 * The worker's vars: development defaults, then any of VAR_NAMES but
 * ENVIRONMENT found in `source` (the dev server passes process.env; tests
 * pass nothing), then
 * `overrides`, where `undefined` or `null` removes a var.
 */
export function workerVars(source = {}, overrides = {}) {
  const vars = { ...DEVELOPMENT_VARS };
  for (const name of ENV_VAR_NAMES) {
    if (source[name] !== undefined) vars[name] = String(source[name]);
  }
  for (const [name, value] of Object.entries(overrides)) {
    if (value === undefined || value === null) delete vars[name];
    else vars[name] = String(value);
  }
  return vars;
}

/**
 * A fresh P-256 signing key as the SIGNING_KEYS secret holds it:
 * `{"active_kid": kid, "keys": [<private JWK with kid, alg, use>]}`.
 */
export async function generateSigningKeys(kid) {
  const pair = await webcrypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, [
    "sign",
    "verify",
  ]);
  const { kty, crv, x, y, d } = await webcrypto.subtle.exportKey("jwk", pair.privateKey);
  return { active_kid: kid, keys: [{ kty, crv, x, y, d, kid, alg: "ES256", use: "sig" }] };
}

const CONTENT_TYPES = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".map": "application/json",
  ".wasm": "application/wasm",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".txt": "text/plain; charset=utf-8",
  ".webmanifest": "application/manifest+json",
};

async function isFile(file) {
  try {
    return (await stat(file)).isFile();
  } catch {
    return false;
  }
}

/**
 * The ASSETS binding in Node: static files from `dir`. As with Workers static
 * assets (wrangler.toml's [assets]), the URL path is looked up as it is: the
 * worker passes `/console/...` requests unchanged, so the console's files
 * live in `dir`/console/ (scripts/build.sh puts them there). Like Workers'
 * html_handling: `/console/` → console/index.html, `/console/device` →
 * console/device.html, and a directory without its slash (`/console`) is
 * redirected to it, so that relative URLs in the page resolve.
 */
export function assetsService(dir = ASSETS_DIR) {
  const root = path.resolve(dir);
  const fileOf = async (relative) => {
    const file = path.resolve(root, `.${relative}`);
    if (file !== root && !file.startsWith(root + path.sep)) return undefined; // `..` out of the root
    return (await isFile(file)) ? file : undefined;
  };
  return async (request) => {
    if (request.method !== "GET" && request.method !== "HEAD") {
      return new Response("Method Not Allowed", { status: 405, headers: { Allow: "GET, HEAD" } });
    }
    const url = new URL(request.url);
    let pathname;
    try {
      pathname = decodeURIComponent(url.pathname);
    } catch {
      return new Response("Bad Request", { status: 400 });
    }
    const bare = !pathname.endsWith("/") && path.extname(pathname) === "";
    if (bare && (await fileOf(`${pathname}/index.html`))) {
      return new Response(null, { status: 307, headers: { Location: `${pathname}/${url.search}` } });
    }
    if (pathname.endsWith("/")) pathname += "index.html";
    const file = (await fileOf(pathname)) ?? (bare && pathname !== "" ? await fileOf(`${pathname}.html`) : undefined);
    if (!file) {
      return new Response("Not Found", { status: 404, headers: { "Content-Type": "text/plain; charset=utf-8" } });
    }
    const body = await readFile(file);
    const headers = {
      "Content-Type": CONTENT_TYPES[path.extname(file)] ?? "application/octet-stream",
      "Content-Length": String(body.length),
      "Cache-Control": "no-cache",
    };
    return new Response(request.method === "HEAD" ? null : body, { status: 200, headers });
  };
}

/**
 * Miniflare options for the built worker.
 *   vars            the worker's vars (see workerVars)
 *   signingKeys     the SIGNING_KEYS value (object; serialised here)
 *   host, port      where to listen (port 0: any free port)
 *   persistDir      directory for KV and Durable Object state; absent → in memory
 *   omitBindings    store bindings to leave out, to simulate a failing store
 *   assetsDir       what the ASSETS service serves
 *   handleRuntimeStdio  (stdout, stderr) => void; absent → workerd's output is inherited
 *   log             a Miniflare Log
 */
export function miniflareOptions({
  vars,
  signingKeys,
  host = "127.0.0.1",
  port = 0,
  persistDir,
  omitBindings = [],
  assetsDir = ASSETS_DIR,
  handleRuntimeStdio,
  log,
}) {
  for (const name of omitBindings) {
    if (!STORE_BINDINGS.includes(name)) {
      throw new Error(`omitBindings: unknown binding ${name} (expected one of ${STORE_BINDINGS.join(", ")})`);
    }
  }
  const keep = (name) => !omitBindings.includes(name);
  const durableObjects = {};
  for (const [binding, className] of Object.entries(DURABLE_OBJECTS)) {
    if (keep(binding)) durableObjects[binding] = { className, useSQLite: true };
  }
  const options = {
    name: "edgeauth",
    host,
    port,
    scriptPath: WORKER_SCRIPT,
    modules: true,
    modulesRules: [{ type: "CompiledWasm", include: ["**/*.wasm"] }],
    compatibilityDate: COMPATIBILITY_DATE,
    kvNamespaces: KV_BINDINGS.filter(keep),
    durableObjects,
    bindings: { ...vars, SIGNING_KEYS: JSON.stringify(signingKeys) },
    serviceBindings: { ASSETS: assetsService(assetsDir) },
    // Without this Miniflare fetches https://workers.cloudflare.com/cf.json.
    cf: false,
  };
  if (persistDir) {
    options.kvPersist = path.join(persistDir, "kv");
    options.durableObjectsPersist = path.join(persistDir, "do");
  }
  if (handleRuntimeStdio) options.handleRuntimeStdio = handleRuntimeStdio;
  if (log) options.log = log;
  return options;
}
