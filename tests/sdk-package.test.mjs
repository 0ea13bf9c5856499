// The npm package as a user gets it: `npm pack` of sdk-wasm/pkg/, installed into a fresh
// Node project, driving the whole flow against the built worker (SPEC "SDK (npm)").
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { after, before, test } from "node:test";
import { startWorker } from "./harness.mjs";

const run = promisify(execFile);
const PKG = fileURLToPath(new URL("../sdk-wasm/pkg/", import.meta.url));
const npm = process.platform === "win32" ? "npm.cmd" : "npm";

let worker;
let dir;
let packed;

before(async () => {
  assert.ok(existsSync(path.join(PKG, "package.json")), "sdk-wasm/pkg/ is missing: run `bash scripts/build.sh sdk`");
  dir = await mkdtemp(path.join(tmpdir(), "edgeauth-sdk-consumer-"));
  const { stdout } = await run(npm, ["pack", "--json", "--pack-destination", dir, PKG], { cwd: dir });
  [packed] = JSON.parse(stdout);
  const app = path.join(dir, "app");
  await run("mkdir", ["-p", app]);
  await writeFile(path.join(app, "package.json"), JSON.stringify({ name: "consumer", private: true, type: "module" }));
  // The package has no dependencies: installing the tarball needs no registry.
  await run(npm, ["install", "--offline", "--no-audit", "--no-fund", path.join(dir, packed.filename)], { cwd: app });
  worker = await startWorker();
});

after(async () => {
  await worker?.dispose();
  if (dir) await rm(dir, { recursive: true, force: true });
});

test("the tarball holds the package and nothing else", () => {
  assert.equal(packed.name, "edgeauth-sdk");
  const files = packed.files.map((f) => f.path).sort();
  assert.deepEqual(files, [
    "README.md",
    "client.js",
    "edgeauth_sdk.js",
    "edgeauth_sdk_bg.wasm",
    "index.d.ts",
    "index.js",
    "node.js",
    "package.json",
  ]);
});

/** Runs an ES module inside the consumer project, which imports "edgeauth-sdk" by name. */
async function inConsumer(name, source, args = []) {
  const file = path.join(dir, "app", name);
  await writeFile(file, source);
  try {
    const { stdout } = await run(process.execPath, [...args, file], {
      cwd: path.join(dir, "app"),
      env: { ...process.env, EDGEAUTH_URL: worker.url },
      timeout: 60_000,
    });
    return stdout;
  } catch (error) {
    assert.fail(`${name} failed:\n${error.stdout ?? ""}\n${error.stderr ?? error.message}`);
  }
}

test("the package resolves to its Node entry in Node and its browser entry for bundlers", async () => {
  const probe = `console.log(import.meta.resolve("edgeauth-sdk"));`;
  assert.match(await inConsumer("resolve.mjs", probe), /node_modules\/edgeauth-sdk\/node\.js\n$/);
  assert.match(await inConsumer("resolve.mjs", probe, ["--conditions=browser"]), /node_modules\/edgeauth-sdk\/index\.js\n$/);
});

test("register, log in, call the gateway, refresh, create and revoke a key, log out", async () => {
  const flow = `
import assert from "node:assert/strict";
import { EdgeAuthClient, EdgeAuthError, decodeToken, signRequest } from "edgeauth-sdk";

const baseUrl = process.env.EDGEAUTH_URL;
const email = "pkg-" + Math.random().toString(36).slice(2) + "@example.com";
const password = "correct horse battery";
const client = new EdgeAuthClient({ baseUrl });
const events = [];
client.onSessionChange((session, event) => events.push([event, session === null ? null : session.user.email]));

const { user } = await client.register({ email, password, name: "Package Test" });
assert.equal(user.email, email);
await assert.rejects(client.register({ email, password, name: "Again" }), (e) =>
  e instanceof EdgeAuthError && e.status === 409 && e.code === "CONFLICT" && e.reason === "email_taken");
await assert.rejects(client.login({ email, password: "wrong password" }), (e) =>
  e instanceof EdgeAuthError && e.status === 401 && e.reason === "invalid_login");
assert.equal(await client.getSession(), null);

const session = await client.login({ email, password });
assert.match(session.refresh_token, /^ea_rt_/);
assert.deepEqual(await client.getSession(), session);
const claims = decodeToken(session.token);
assert.equal(claims.sub, user.id);
assert.ok(Array.isArray(claims.scopes));

const who = await client.whoami();
assert.equal(who.kind, "user");
assert.equal(who.subject, user.id);

const res = await client.fetch("/api/scans/dashboard?page=2");
assert.equal(res.status, 200);
const echo = await res.json();
assert.equal(echo.path, "/api/scans/dashboard");
assert.equal(echo.query, "page=2");
assert.equal(echo.headers["x-edgeauth-subject"], user.id);
assert.equal(echo.headers["x-edgeauth-kind"], "user");

const signed = await client.fetch("/api/signed/run", { method: "POST", body: JSON.stringify({ a: 1 }), sign: true,
  headers: { "content-type": "application/json" } });
assert.equal(signed.status, 200, await signed.clone().text());
assert.match((await signed.json()).headers["x-cli-signature"], /^[0-9a-f]{64}$/);

const refreshed = await client.refresh();
assert.notEqual(refreshed.refresh_token, session.refresh_token);
assert.notEqual(refreshed.token, session.token);
assert.equal((await client.getSession()).refresh_token, refreshed.refresh_token);
assert.equal((await client.fetch("/api/me")).status, 200);

const key = await client.createApiKey({ name: "CI", scopes: ["scans:read"] });
assert.match(key.key, /^ea_live_[0-9A-Za-z]{32,64}$/);
assert.equal(key.prefix, key.key.slice(0, 12));
const list = await client.listApiKeys();
const listed = list.find((k) => k.id === key.id);
assert.ok(listed, "the new key is listed");
assert.equal(listed.key, undefined, "a listed key has no secret");
assert.ok(list.keys.some((k) => k.id === key.id), "the list also answers to .keys");
assert.equal((await client.getApiKey(key.id)).name, "CI");

const ci = new EdgeAuthClient({ baseUrl, apiKey: key.key });
const viaKey = await ci.fetch("/api/scans/dashboard");
assert.equal(viaKey.status, 200);
assert.equal((await viaKey.json()).headers["x-edgeauth-kind"], "api_key");
const keySigned = await signRequest(key.key, "GET", "/api/scans/dashboard", "");
assert.equal((await fetch(baseUrl + "/api/scans/dashboard", { headers: { authorization: "Bearer " + key.key, ...keySigned } })).status, 200);

await client.revokeApiKey(key.id);
const refused = await ci.fetch("/api/scans/dashboard");
assert.equal(refused.status, 401);
assert.equal((await refused.json()).error.reason, "api_key_revoked");
await assert.rejects(ci.whoami(), (e) => e instanceof EdgeAuthError && e.reason === "api_key_revoked");

await client.logout();
assert.equal(await client.getSession(), null);
const stale = await fetch(baseUrl + "/api/me", { headers: { authorization: "Bearer " + refreshed.token } });
assert.equal(stale.status, 401);
assert.equal((await stale.json()).error.reason, "session_revoked");
await assert.rejects(client.whoami(), (e) => e instanceof EdgeAuthError && e.status === 401 && e.reason === "missing_credential");

const offline = new EdgeAuthClient({ baseUrl: "http://127.0.0.1:9" });
await assert.rejects(offline.whoami(), (e) => e instanceof EdgeAuthError && e.code === "NETWORK" && e.status === 0);

await new Promise((resolve) => setTimeout(resolve, 10)); // listeners run in a later microtask
assert.deepEqual(events, [["signed_in", email], ["refreshed", email], ["signed_out", null]]);
console.log("flow ok");
`;
  assert.equal(await inConsumer("flow.mjs", flow), "flow ok\n");
});
