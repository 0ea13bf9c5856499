// What bench/run.mjs and bench/profile.mjs share: the two workers as child
// processes, the credentials each scenario presents, the scenarios, and the
// load generators.
import { execFileSync, spawn } from "node:child_process";
import { createHash, createHmac, createPrivateKey, randomBytes, sign as cryptoSign } from "node:crypto";
import { copyFile, mkdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import readline from "node:readline";
import { build as esbuild } from "esbuild";
import { ROOT, generateSigningKeys } from "../../scripts/miniflare-options.mjs";
import { runLoad } from "./load.mjs";

export const BENCH = path.join(ROOT, "bench");
export const OUT = path.join(BENCH, "out");

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const b64url = (v) => Buffer.from(typeof v === "string" ? v : JSON.stringify(v)).toString("base64url");
const sha256hex = (s) => createHash("sha256").update(s).digest("hex");

export function which(cmd) {
  try {
    return execFileSync("sh", ["-c", `command -v ${cmd}`], { encoding: "utf8" }).trim() || null;
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------- processes

const children = new Set();
process.on("exit", () => {
  for (const child of children) child.kill("SIGKILL");
});
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => process.exit(130));
}

/** Spawns a node child that prints one JSON line when ready; resolves to it. */
export function startChild(script, env) {
  const t0 = performance.now();
  const child = spawn(process.execPath, [script], {
    env: { ...process.env, ...env },
    stdio: ["pipe", "pipe", "pipe"],
  });
  children.add(child);
  let stderr = "";
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (d) => {
    stderr += d;
  });
  return new Promise((resolve, reject) => {
    const lines = readline.createInterface({ input: child.stdout });
    lines.once("line", (line) => resolve({ child, spawnedAt: t0, ...JSON.parse(line), stderr: () => stderr }));
    child.once("exit", (code) => reject(new Error(`${path.basename(script)} exited (${code}): ${stderr.slice(-2000)}`)));
  });
}

/** Ends a child; resolves to the `BENCH_STATS` it reported on the way out (serve.mjs does), if any. */
export async function stopChild(handle) {
  if (!handle) return null;
  const { child } = handle;
  const exited = new Promise((r) => child.once("exit", r));
  child.stdin.end();
  await Promise.race([exited, sleep(5000)]);
  if (child.exitCode === null) child.kill("SIGKILL");
  children.delete(child);
  const line = handle.stderr().split("\n").find((l) => l.startsWith("BENCH_STATS "));
  return line ? JSON.parse(line.slice("BENCH_STATS ".length)) : null;
}

/**
 * Starts a worker (bench/lib/serve.mjs), then times process start → first answered request (`GET /health`).
 * Miniflare keeps KV and Durable Object state (SQLite) under TMPDIR even when nothing is
 * persisted, and leaves it there: `spec.tmpDir` (see `stateDir`) puts it where the bench
 * can remove it.
 */
export async function startWorker(spec) {
  const env = { BENCH_SERVE: JSON.stringify(spec) };
  if (spec.tmpDir) env.TMPDIR = spec.tmpDir;
  const handle = await startChild(path.join(BENCH, "lib", "serve.mjs"), env);
  const readyMs = performance.now() - handle.spawnedAt;
  const res = await fetch(`${handle.url}/health`);
  await res.arrayBuffer();
  if (res.status !== 200) throw new Error(`${spec.kind}: GET /health answered ${res.status}`);
  return { ...handle, startup: { ready_ms: readyMs, first_answer_ms: performance.now() - handle.spawnedAt } };
}

/**
 * Where the workers' Miniflare state goes: RAM (/dev/shm) where there is one, so that the
 * Durable Object writes of the signed-request path do not wait on a disk that other
 * processes share (on this machine that made 2 runs in 10 six times slower), else `runDir`.
 * The caller removes it.
 */
export async function stateDir(runDir) {
  const shm = "/dev/shm";
  const base = await stat(shm).then((s) => (s.isDirectory() ? shm : runDir), () => runDir);
  const dir = path.join(base, `edgeauth-bench-${process.pid}-${Date.now()}`);
  await mkdir(dir, { recursive: true });
  return dir;
}

export function startOrigin() {
  return startChild(path.join(BENCH, "lib", "origin.mjs"), {});
}

// ---------------------------------------------------------------- the two workers

export const HS_ISSUER = "https://hs.bench.test";
export const HS_AUDIENCE = "api";

/**
 * Copies the built worker into `runDir` (others may rebuild worker/build during
 * a run: one run measures one binary), bundles the reference worker with jose,
 * and makes the keys and the specs bench/lib/serve.mjs starts them from.
 * `workerDir` defaults to worker/build; `tmpDir` is where their state goes (`stateDir`).
 */
export async function prepare(runDir, originUrl, { workerDir = path.join(ROOT, "worker", "build"), inspectorPort, tmpDir } = {}) {
  const snapshot = path.join(runDir, "worker");
  await mkdir(snapshot, { recursive: true });
  for (const f of ["index.js", "index_bg.wasm"]) {
    await copyFile(path.join(workerDir, f), path.join(snapshot, f)).catch((error) => {
      if (error.code === "ENOENT") throw new Error(`${path.join(workerDir, f)} is missing: run \`bash scripts/build.sh worker\` first`);
      throw error;
    });
  }
  const referenceBundle = path.join(runDir, "reference.mjs");
  await esbuild({
    entryPoints: [path.join(BENCH, "reference", "worker.mjs")],
    bundle: true,
    format: "esm",
    platform: "neutral",
    conditions: ["worker", "browser"],
    mainFields: ["module", "main"],
    minify: true,
    outfile: referenceBundle,
    logLevel: "warning",
  });

  const signingKeys = await generateSigningKeys("bench-k1");
  const hsSecret = randomBytes(32).toString("base64url");
  const publicJwks = { keys: signingKeys.keys.map(({ d: _d, ...pub }) => pub) };
  const ea = {
    kind: "edgeauth",
    script: path.join(snapshot, "index.js"),
    signingKeys,
    inspectorPort,
    tmpDir,
    vars: {
      ORIGIN_URL: originUrl,
      EXTERNAL_ISSUERS: JSON.stringify([{ iss: HS_ISSUER, audiences: [HS_AUDIENCE], hs256_secret: hsSecret }]),
    },
  };
  const ref = {
    kind: "reference",
    script: referenceBundle,
    inspectorPort,
    tmpDir,
    vars: {
      ORIGIN_URL: originUrl,
      ISSUER: "edgeauth",
      AUDIENCE: "edgeauth",
      JWKS: JSON.stringify(publicJwks),
      HS_ISSUER,
      HS_AUDIENCE,
      HS_SECRET: hsSecret,
    },
  };
  return { snapshot, referenceBundle, signingKeys, hsSecret, specs: { ea, ref } };
}

// ---------------------------------------------------------------- credentials

function decodeClaims(jwt) {
  return JSON.parse(Buffer.from(jwt.split(".")[1], "base64url").toString("utf8"));
}

/** Mints access tokens as the worker does (same key, claims, live session), each with its own `jti`. */
function es256Minter(signingKeys, template) {
  const jwk = signingKeys.keys.find((k) => k.kid === signingKeys.active_kid);
  const key = createPrivateKey({ key: jwk, format: "jwk" });
  const header = b64url({ alg: "ES256", typ: "JWT", kid: jwk.kid });
  const salt = randomBytes(6).toString("hex");
  let n = 0;
  return () => {
    const claims = { ...template, jti: `tok_bench${salt}${(n++).toString(36)}` };
    const input = `${header}.${b64url(claims)}`;
    const sig = cryptoSign("sha256", Buffer.from(input), { key, dsaEncoding: "ieee-p1363" });
    return `${input}.${sig.toString("base64url")}`;
  };
}

/** External HS256 tokens, Supabase-like: no `kid`, `scope` space-separated. */
function hs256Minter(secret) {
  const header = b64url({ alg: "HS256", typ: "JWT" });
  const salt = randomBytes(6).toString("hex");
  let n = 0;
  return () => {
    const now = Math.floor(Date.now() / 1000);
    const claims = {
      iss: HS_ISSUER,
      aud: HS_AUDIENCE,
      sub: `ext-user-${n % 97}`,
      scope: "scans:read drifts:read",
      iat: now,
      exp: now + 3600,
      jti: `hs${salt}${(n++).toString(36)}`,
    };
    const input = `${header}.${b64url(claims)}`;
    return `${input}.${createHmac("sha256", secret).update(input).digest("base64url")}`;
  };
}

const SIGNED_PATH = "/api/signed/bench";
const SIGNED_BODY = JSON.stringify({ repo: "r1", ref: "main" });

/** Seed 002's scheme: HMAC-SHA256(credential, "{ts}:{nonce}:{METHOD}:{path}:{sha256(body)}"), a fresh nonce each. */
function signedRequest(credential) {
  const timestamp = String(Date.now());
  const nonce = randomBytes(16).toString("hex");
  const signature = createHmac("sha256", credential)
    .update(`${timestamp}:${nonce}:POST:${SIGNED_PATH}:${sha256hex(SIGNED_BODY)}`)
    .digest("hex");
  return {
    method: "POST",
    path: SIGNED_PATH,
    body: SIGNED_BODY,
    headers: {
      authorization: `Bearer ${credential}`,
      "content-type": "application/json",
      "x-cli-signature": signature,
      "x-cli-timestamp": timestamp,
      "x-cli-nonce": nonce,
    },
  };
}

const bearer = (p, credential) => ({ method: "GET", path: p, headers: { authorization: `Bearer ${credential}` } });

async function call(base, method, p, body, headers = {}) {
  const res = await fetch(`${base}${p}`, {
    method,
    headers: { "content-type": "application/json", ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (res.status >= 300) throw new Error(`${method} ${p}: ${res.status} ${text.slice(0, 300)}`);
  return text ? JSON.parse(text) : null;
}

/**
 * A user, a live session (its access token is the repeated one and its claims
 * the fresh tokens' template, so that they carry a live `sid`), an API key.
 */
export async function setUpCredentials(eaUrl, prepared) {
  const email = `bench-${randomBytes(4).toString("hex")}@example.com`;
  const password = "bench-password-123";
  await call(eaUrl, "POST", "/v1/auth/register", { email, password, name: "Bench" });
  const login = await call(eaUrl, "POST", "/v1/auth/token", { email, password });
  const key = await call(eaUrl, "POST", "/v1/api-keys", { name: "bench", scopes: ["scans:read"] }, {
    authorization: `Bearer ${login.token}`,
  });
  const mintHs256 = hs256Minter(prepared.hsSecret);
  return {
    token: login.token,
    apiKey: key.key,
    hsToken: mintHs256(),
    mintEs256: es256Minter(prepared.signingKeys, decodeClaims(login.token)),
    mintHs256,
  };
}

// ---------------------------------------------------------------- scenarios

/**
 * Every scenario: which worker, what one request looks like, and whether its
 * credentials must be fresh (then `make` builds a new one per request and the
 * list is sized so that none is sent twice).
 */
export function scenarios(c) {
  return [
    { id: "ea.floor", target: "ea", label: "edgeauth: `auth: none` (`GET /health`), the floor", make: () => ({ method: "GET", path: "/health", headers: {} }) },
    { id: "ref.floor", target: "ref", label: "reference (jose): pass-through (`GET /health`)", make: () => ({ method: "GET", path: "/health", headers: {} }) },
    { id: "ea.api_key", target: "ea", label: "edgeauth: cached API key", make: () => bearer("/api/me", c.apiKey) },
    { id: "ea.es256_repeat", target: "ea", label: "edgeauth: one ES256 token, repeated", make: () => bearer("/api/me", c.token) },
    { id: "ea.hs256_repeat", target: "ea", label: "edgeauth: one HS256 external token, repeated", make: () => bearer("/api/me", c.hsToken) },
    { id: "ea.es256_fresh", target: "ea", label: "edgeauth: fresh ES256 token per request", fresh: true, make: () => bearer("/api/me", c.mintEs256()) },
    { id: "ref.es256_fresh", target: "ref", label: "reference (jose): fresh ES256 token per request", fresh: true, make: () => bearer("/api/me", c.mintEs256()) },
    { id: "ea.hs256_fresh", target: "ea", label: "edgeauth: fresh HS256 external token per request", fresh: true, make: () => bearer("/api/me", c.mintHs256()) },
    { id: "ref.hs256_fresh", target: "ref", label: "reference (jose): fresh HS256 token per request", fresh: true, make: () => bearer("/api/me", c.mintHs256()) },
    { id: "ea.signed", target: "ea", label: "edgeauth: signed request (API key, HMAC, fresh nonce in the Durable Object)", fresh: true, make: () => signedRequest(c.apiKey) },
  ];
}

/** One request of the scenario through fetch: a refused scenario is a broken bench, not a slow worker. */
export async function probe(base, scenario) {
  const p = scenario.make();
  const res = await fetch(`${base}${p.path}`, { method: p.method, headers: p.headers, body: p.body });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`${scenario.id}: probe answered ${res.status} ${text.slice(0, 300)}`);
}

// ---------------------------------------------------------------- load

function requestLine({ method, path: p, body = "", headers }) {
  const fields = [method, p, body];
  for (const [k, v] of Object.entries(headers)) fields.push(k, v);
  if (fields.some((f) => /[\t\n]/.test(f))) throw new Error("a request field holds a tab or newline");
  return fields.join("\t");
}

/**
 * wrk, fed `count` requests from `make` (bench/lib/requests.lua sends them in
 * order, and again from the start if it runs out: `reused`).
 */
export async function loadWrk({ base, make, count, connections, seconds, dir, tag }) {
  const file = path.join(dir, `${tag}.requests`);
  const lines = new Array(count);
  for (let i = 0; i < count; i++) lines[i] = requestLine(make());
  await writeFile(file, `${lines.join("\n")}\n`);
  const outFile = path.join(dir, `${tag}.wrk.json`);
  await new Promise((resolve, reject) => {
    const child = spawn(
      "wrk",
      ["-t1", `-c${connections}`, `-d${seconds}s`, "--timeout", "10s", "-s", path.join(BENCH, "lib", "requests.lua"), base],
      { env: { ...process.env, BENCH_REQUESTS: file, BENCH_WRK_OUT: outFile }, stdio: ["ignore", "ignore", "pipe"] },
    );
    children.add(child);
    let err = "";
    child.stderr.on("data", (d) => {
      err += d;
    });
    child.once("exit", (code) => {
      children.delete(child);
      code === 0 ? resolve() : reject(new Error(`wrk exited ${code}: ${err}`));
    });
  });
  await rm(file);
  const r = JSON.parse(await readFile(outFile, "utf8"));
  await rm(outFile);
  const errors = Object.values(r.errors).reduce((a, b) => a + b, 0);
  return {
    requests: r.requests,
    rps: Math.round((r.requests / (r.duration_us / 1e6)) * 10) / 10,
    latency_ms: Object.fromEntries(Object.entries(r.latency_us).map(([k, v]) => [k, Math.round(v) / 1000])),
    errors,
    error_kinds: r.errors,
    reused: r.wrapped > 0,
  };
}

/** The node:http generator: builds each request as it goes, so nothing is reused. */
export async function loadNode({ base, make, connections, seconds }) {
  const r = await runLoad({ base, connections, warmupMs: 0, durationMs: seconds * 1000, build: () => make() });
  return { ...r, reused: false };
}
