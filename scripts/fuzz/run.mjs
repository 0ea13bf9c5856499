// The fuzz run: the built worker in Miniflare with the development settings, a user and an
// API key holding every scope, then schemathesis (pinned, from .venv/) against the OpenAPI
// document, checking every answer against it. Exits non-zero on any failure.
//
//   node scripts/fuzz/run.mjs [--max-time SECONDS] [--seed N] [--schema auto|url|file]
//                             [--document FILE]
//
// --max-time  schemathesis's time budget (default 45 s; FUZZ_MAX_TIME); the whole run is
//             killed 30 s past it, so a hung worker cannot hold CI.
// --seed      reproduces a run (default: random; FUZZ_SEED). The seed is printed.
// --schema    where schemathesis reads the document: `url` is the worker's
//             GET /openapi.json, `file` is core/openapi.json with the worker as base URL,
//             `auto` (default) the first when the worker serves it.
// --document  the file for `--schema file` (default core/openapi.json; `auto` then means
//             `file`): to try a draft of the document against the worker.
// FUZZ_PORT   where the worker listens (default: any free port, so that a dev server on
//             8787 is never in the way).
// EDGEAUTH_TEST_LOGS=1 also prints workerd's output.
//
// What it checks and why each setting is what it is: tests/fuzz/README.md.
import { spawn } from "node:child_process";
import { randomBytes, randomInt } from "node:crypto";
import { access, mkdir, readFile, rm } from "node:fs/promises";
import { isIP } from "node:net";
import path from "node:path";
import { parseArgs } from "node:util";
import { Miniflare } from "miniflare";
import {
  ROOT,
  WORKER_SCRIPT,
  generateSigningKeys,
  miniflareOptions,
  workerVars,
} from "../miniflare-options.mjs";

const SCHEMATHESIS = path.join(ROOT, ".venv", "bin", "schemathesis");
const CONFIG_FILE = path.join(ROOT, "tests", "fuzz", "schemathesis.toml");
const ARTIFACTS = path.join(ROOT, "tests", "artifacts", "fuzz");
const JUNIT = path.join(ARTIFACTS, "junit.xml");
// The last grace before the run is killed: schemathesis stops starting tests at --max-time,
// but a test under way finishes (and shrinks) first.
const KILL_GRACE_S = 30;

function fail(message) {
  console.error(`fuzz: ${message}`);
  process.exit(2);
}

const { values: args } = parseArgs({
  options: {
    "max-time": { type: "string", default: process.env.FUZZ_MAX_TIME ?? "45" },
    seed: { type: "string", default: process.env.FUZZ_SEED },
    schema: { type: "string", default: "auto" },
    document: { type: "string" },
  },
});
const DOCUMENT = path.resolve(args.document ?? path.join(ROOT, "core", "openapi.json"));
if (args.document && args.schema === "url") fail("--document reads a file: it goes with --schema file");
if (args.document) args.schema = "file";
const maxTime = Number(args["max-time"]);
if (!Number.isInteger(maxTime) || maxTime < 1) fail(`--max-time ${args["max-time"]} is not a whole number of seconds`);
const seed = args.seed ?? String(randomInt(1, 2 ** 31));
if (!/^\d+$/.test(seed)) fail(`--seed ${seed} is not a number`);
if (!["auto", "url", "file"].includes(args.schema)) fail(`--schema ${args.schema}: expected auto, url or file`);
const port = Number(process.env.FUZZ_PORT ?? 0);
if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`FUZZ_PORT=${process.env.FUZZ_PORT} is not a port number`);

await access(WORKER_SCRIPT).catch(() => fail(`${WORKER_SCRIPT} is missing: run scripts/build.sh worker`));
await access(SCHEMATHESIS).catch(() => fail(`${SCHEMATHESIS} is missing: run scripts/setup.sh`));
await access(DOCUMENT).catch(() => fail(`${DOCUMENT} is missing`));

// The worker may fetch what a fuzzed request names (an SSO issuer's discovery document, an
// external issuer's JWKS). Only loopback is reached; anything else is refused here and listed
// in the summary, so that a fuzz run never sends traffic off this machine.
const refusedFetches = [];
function isLoopback(hostname) {
  const host = hostname.replace(/^\[|\]$/g, "");
  if (host === "localhost") return true;
  if (isIP(host) === 4) return host.startsWith("127.");
  if (isIP(host) === 6) return host === "::1";
  return false;
}
async function outbound(request) {
  const url = new URL(request.url);
  if (isLoopback(url.hostname)) return fetch(request);
  refusedFetches.push(`${request.method} ${url.origin}${url.pathname}`);
  return new Response("refused by scripts/fuzz/run.mjs: no traffic off this machine", { status: 502 });
}

const logs = [];
const echoLogs = process.env.EDGEAUTH_TEST_LOGS === "1";
function capture(stream, name) {
  let partial = "";
  stream.setEncoding("utf8");
  stream.on("data", (chunk) => {
    if (echoLogs) process.stderr.write(`[workerd ${name}] ${chunk}`);
    const lines = (partial + chunk).split("\n");
    partial = lines.pop();
    logs.push(...lines);
  });
}

// State in memory, new each run: a fuzz run never touches .edgeauth-dev/.
const mf = new Miniflare({
  ...miniflareOptions({
    vars: workerVars({}, {}),
    signingKeys: await generateSigningKeys(`fuzz-${randomBytes(4).toString("hex")}`),
    port,
    handleRuntimeStdio(stdout, stderr) {
      capture(stdout, "stdout");
      capture(stderr, "stderr");
    },
  }),
  outboundService: outbound,
});

let child;
let stopping = false;
async function stop(code) {
  if (stopping) return;
  stopping = true;
  if (child && child.exitCode === null) child.kill("SIGKILL");
  await mf.dispose().catch(() => {});
  process.exit(code);
}
process.on("SIGINT", () => stop(130));
process.on("SIGTERM", () => stop(143));

let url;
try {
  url = (await mf.ready).origin;
} catch (error) {
  await mf.dispose().catch(() => {});
  fail(`the worker did not start: ${error.message}`);
}

/** One JSON call for the run's own set-up; anything but `expect` ends the run. */
async function call(method, pathname, { body, token, expect }) {
  const headers = {};
  if (body !== undefined) headers["content-type"] = "application/json";
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await fetch(url + pathname, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  if (res.status !== expect) {
    console.error(`fuzz: set-up ${method} ${pathname} answered ${res.status}, expected ${expect}: ${text.slice(0, 300)}`);
    await stop(2);
  }
  return JSON.parse(text);
}

const email = `fuzz-${randomBytes(6).toString("hex")}@example.com`;
const password = `pw-${randomBytes(12).toString("base64url")}`;
await call("POST", "/v1/auth/register", { body: { email, password, name: "Fuzz" }, expect: 201 });
const session = await call("POST", "/v1/auth/token", { body: { email, password }, expect: 200 });
// Every scope, and the development tenant (where a new user is admin), so that the tenant
// routes are reached with a grant rather than refused at the door.
const apiKey = await call("POST", "/v1/api-keys", {
  token: session.token,
  body: { name: "fuzz", scopes: ["*"], tenants: ["demo"] },
  expect: 201,
});

let location = DOCUMENT;
let served = false;
if (args.schema !== "file") {
  const res = await fetch(`${url}/openapi.json`);
  const text = await res.text();
  try {
    served = res.status === 200 && typeof JSON.parse(text).openapi === "string";
  } catch {
    served = false;
  }
  if (served) location = `${url}/openapi.json`;
  else if (args.schema === "url") {
    console.error(`fuzz: GET /openapi.json answered ${res.status}: ${text.slice(0, 200)}`);
    await stop(1);
  }
}

await rm(ARTIFACTS, { recursive: true, force: true });
await mkdir(ARTIFACTS, { recursive: true });
const stArgs = [
  "--config-file", CONFIG_FILE,
  "run", location,
  "--url", url,
  "--header", `Authorization: Bearer ${apiKey.key}`,
  "--max-time", String(maxTime),
  "--seed", seed,
  "--report", "junit",
  "--report-junit-path", JUNIT,
  "--no-color",
];
console.log(`fuzz: worker ${url}, schema ${served ? "served by the worker" : path.relative(ROOT, DOCUMENT)}, seed ${seed}, ${maxTime} s`);
console.log(`fuzz: ${path.relative(ROOT, SCHEMATHESIS)} ${stArgs.map((a) => (a.startsWith("Authorization:") ? "'Authorization: Bearer ea_live_…'" : a)).join(" ")}`);

const started = Date.now();
child = spawn(SCHEMATHESIS, stArgs, {
  // schemathesis writes .hypothesis/ into its working directory: keep it out of the tree.
  cwd: ARTIFACTS,
  stdio: ["ignore", "inherit", "inherit"],
  env: { ...process.env, NO_COLOR: "1" },
});
let killed = false;
const killer = setTimeout(() => {
  killed = true;
  console.error(`fuzz: schemathesis still running ${maxTime + KILL_GRACE_S} s after its start: killed`);
  child.kill("SIGKILL");
}, (maxTime + KILL_GRACE_S) * 1000);
const status = await new Promise((resolve) => child.on("exit", (code, signal) => resolve(code ?? signal)));
clearTimeout(killer);
const seconds = ((Date.now() - started) / 1000).toFixed(0);

// Let workerd's last lines arrive before reading them.
await new Promise((resolve) => setTimeout(resolve, 300));
const panics = logs.filter((line) => /panicked at|RuntimeError: unreachable|Uncaught/.test(line));

/** schemathesis's JUnit report as [{operation, findings: [one line each]}], or null. */
async function failuresFromJunit() {
  let xml;
  try {
    xml = await readFile(JUNIT, "utf8");
  } catch {
    return null;
  }
  const decode = (text) =>
    text
      .replace(/&quot;/g, '"')
      .replace(/&apos;/g, "'")
      .replace(/&#10;/g, "\n")
      .replace(/&lt;/g, "<")
      .replace(/&gt;/g, ">")
      .replace(/&amp;/g, "&");
  const result = [];
  for (const testcase of xml.split("<testcase ").slice(1)) {
    const operation = decode(/name="([^"]*)"/.exec(testcase)?.[1] ?? "?");
    const findings = [];
    for (const [, kind, body] of testcase.matchAll(/<(failure|error)\b[^>]*>([\s\S]*?)<\/\1>/g)) {
      const text = decode(body);
      if (kind === "error") {
        findings.push(`error: ${text.split("\n").filter((l) => l.trim()).slice(0, 2).join(": ").trim()}`);
        continue;
      }
      // One block per failing test case: its checks, then the answer, then a curl command.
      for (const block of text.split(/^\d+\. Test Case ID: /m).slice(1)) {
        const lines = block.split("\n");
        const checks = lines.filter((l) => /^- [A-Z]+\d+ /.test(l)).map((l) => l.slice(2).trim());
        const statusAt = lines.findIndex((l) => /^\[\d{3}\]/.test(l));
        const answer = statusAt >= 0 ? `${lines[statusAt].replace(/:$/, "")} ${(lines.slice(statusAt + 1).find((l) => l.trim()) ?? "").trim()}` : "";
        const curlAt = lines.findIndex((l) => l.trim().startsWith("curl "));
        const request = curlAt >= 0 ? lines[curlAt].trim() : "";
        findings.push(`${checks.join("; ")} | answer ${answer.slice(0, 200)} | ${request.slice(0, 300)}`);
      }
    }
    if (findings.length) result.push({ operation, findings });
  }
  return result;
}
const failed = await failuresFromJunit();

console.log("\n== fuzz summary");
console.log(`  schemathesis exited ${status} after ${seconds} s${killed ? " (killed)" : ""}; seed ${seed}`);
if (failed === null) console.log(`  no JUnit report at ${path.relative(ROOT, JUNIT)}`);
else if (failed.length === 0) console.log("  no operation failed");
else {
  console.log(`  ${failed.length} operation(s) failed:`);
  for (const { operation, findings } of failed) {
    console.log(`    ${operation}`);
    for (const f of findings) console.log(`      - ${f}`);
  }
}
console.log(`  worker panics or uncaught errors: ${panics.length}`);
for (const line of panics.slice(0, 10)) console.log(`    ${line.slice(0, 300)}`);
if (refusedFetches.length) {
  console.log(`  fetches off this machine the worker tried (refused): ${refusedFetches.length}`);
  for (const f of [...new Set(refusedFetches)].slice(0, 10)) console.log(`    ${f}`);
}
const ok = status === 0 && !killed && panics.length === 0;
console.log(`== fuzz ${ok ? "passed" : "FAILED"} (reproduce: node scripts/fuzz/run.mjs --seed ${seed})`);
await stop(ok ? 0 : 1);
