// API keys (SPEC "API keys"): the value shown once, list/get/revoke, what a key may do on
// the gateway (scope, resource, tenant, expiry, IP), privilege escalation, ownership,
// keys managing keys, malformed keys, and failing stores (503, never open).
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { startWorker } from "./harness.mjs";
import { CODES } from "./contract.mjs";

const KEY = /^ea_live_[0-9A-Za-z]{32,64}$/;
const RFC3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/;
const KEY_FIELDS = [
  "all_resources",
  "allowed_ips",
  "created_at",
  "expires_at",
  "id",
  "name",
  "prefix",
  "resources",
  "scopes",
  "tenants",
];
const BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const unique = () => randomBytes(6).toString("hex");
const sha256 = (text) => createHash("sha256").update(text).digest("hex");
const base62 = (n) => Array.from(randomBytes(n), (b) => BASE62[b % 62]).join("");

/** Every key value issued in this file: it may appear only in its POST answer. */
const keyValues = new Set();

async function expectError(res, status, reason, { field, where = "answer" } = {}) {
  const text = await res.text();
  assert.equal(res.status, status, `${where}: ${text}`);
  assert.match(res.headers.get("content-type") ?? "", /^application\/json/);
  assert.ok(res.headers.get("date"), "every answer carries Date");
  const body = JSON.parse(text);
  assert.deepEqual(Object.keys(body), ["error"]);
  assert.equal(body.error.code, CODES[status]);
  assert.equal(body.error.reason, reason, `${where}: ${body.error.message}`);
  assert.equal(typeof body.error.message, "string");
  if (field) assert.ok(body.error.message.includes(field), `message names ${field}: ${body.error.message}`);
  if (status === 401) assert.match(res.headers.get("www-authenticate") ?? "", /^Bearer realm="edgeauth"/);
  for (const k of keyValues) assert.ok(!text.includes(k), `${where} holds a key value`);
  return body;
}

function client(worker) {
  const call = (method, p, { token, body, ip = "127.0.0.1", headers = {} } = {}) =>
    worker.fetch(p, {
      method,
      headers: {
        "cf-connecting-ip": ip,
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...(body !== undefined ? { "content-type": "application/json" } : {}),
        ...headers,
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  return {
    call,
    /** A new user and an access token of theirs. */
    async user() {
      const email = `keys-${unique()}@example.com`;
      const password = `pw-${unique()}-${unique()}`;
      let res = await call("POST", "/v1/auth/register", { body: { email, password, name: "Key Owner" } });
      assert.equal(res.status, 201, await res.clone().text());
      const { user } = await res.json();
      res = await call("POST", "/v1/auth/token", { body: { email, password } });
      assert.equal(res.status, 200, await res.clone().text());
      const session = await res.json();
      return { ...user, token: session.token, refreshToken: session.refresh_token };
    },
    /** Creates a key and returns its POST answer (asserting 201 and its shape). */
    async createKey(token, fields, opts = {}) {
      const res = await call("POST", "/v1/api-keys", { token, body: { name: "k", ...fields }, ...opts });
      const text = await res.text();
      assert.equal(res.status, 201, text);
      const body = JSON.parse(text);
      assert.deepEqual(Object.keys(body).sort(), [...KEY_FIELDS, "key"].sort());
      assert.match(body.key, KEY);
      keyValues.add(body.key);
      return body;
    },
  };
}

let worker;
let api;
let persistDir;
let owner; // a user with the development defaults: scopes *, tenants {demo: admin}

before(async () => {
  persistDir = await mkdtemp(path.join(tmpdir(), "edgeauth-keys-"));
  worker = await startWorker({ persistDir });
  api = client(worker);
  owner = await api.user();
});

after(async () => {
  await worker?.dispose();
  if (persistDir) await rm(persistDir, { recursive: true, force: true });
});

const use = (key, p = "/api/scans/dashboard", opts = {}) => api.call(opts.method ?? "GET", p, { token: key, ...opts });

test("lifecycle: create (shown once) → list/get without it → use → revoke → api_key_revoked", async () => {
  const created = await api.createKey(owner.token, { name: "  CI deploy ", scopes: ["scans:read"] });
  assert.equal(created.name, "CI deploy");
  assert.equal(created.prefix, created.key.slice(0, 12));
  assert.match(created.prefix, /^ea_live_[0-9A-Za-z]{4}$/);
  assert.deepEqual(created.scopes, ["scans:read"]);
  assert.equal(created.all_resources, true, "all_resources defaults to true without resources");
  assert.deepEqual(created.resources, []);
  assert.deepEqual(created.tenants, []);
  assert.deepEqual(created.allowed_ips, []);
  assert.equal(created.expires_at, null);
  assert.match(created.created_at, RFC3339);
  assert.ok(Math.abs(Date.parse(created.created_at) - Date.now()) < 10_000);
  assert.match(created.id, /^key_[0-9A-Za-z]+$/);
  const { key, ...shown } = created;

  let res = await api.call("GET", "/v1/api-keys", { token: owner.token });
  let text = await res.text();
  assert.equal(res.status, 200, text);
  assert.ok(!text.includes(key), "the list never shows the key");
  const listed = JSON.parse(text);
  assert.deepEqual(Object.keys(listed), ["keys"]);
  assert.deepEqual(
    listed.keys.find((k) => k.id === created.id),
    shown,
  );
  for (const k of listed.keys) assert.equal(k.key, undefined);

  res = await api.call("GET", `/v1/api-keys/${created.id}`, { token: owner.token });
  text = await res.text();
  assert.equal(res.status, 200, text);
  assert.ok(!text.includes(key));
  assert.deepEqual(JSON.parse(text), shown);

  res = await use(key, "/api/scans/dashboard?x=1", { headers: { "x-edgeauth-kind": "user" } });
  text = await res.text();
  assert.equal(res.status, 200, text);
  assert.ok(!text.includes(key), "the key does not reach the origin");
  const echo = JSON.parse(text);
  assert.equal(echo.headers["x-edgeauth-kind"], "api_key");
  assert.equal(echo.headers["x-edgeauth-subject"], owner.id);
  assert.equal(echo.headers["x-edgeauth-key-id"], created.id);
  assert.equal(echo.headers["x-edgeauth-scopes"], "scans:read");
  assert.equal(echo.headers.authorization, undefined);

  res = await api.call("GET", "/v1/auth/whoami", { token: key });
  text = await res.text();
  assert.equal(res.status, 200, text);
  assert.deepEqual(JSON.parse(text), {
    kind: "api_key",
    subject: owner.id,
    scopes: ["scans:read"],
    tenants: {},
    key_id: created.id,
  });

  res = await api.call("DELETE", `/v1/api-keys/${created.id}`, { token: owner.token });
  assert.equal(res.status, 204);
  assert.ok(res.headers.get("date"));
  assert.equal(await res.text(), "");
  for (const p of ["/api/scans/dashboard", "/api/me"]) {
    const refused = await use(key, p);
    assert.match(refused.headers.get("www-authenticate") ?? "", /error="invalid_token", error_description="api_key_revoked"/);
    await expectError(refused, 401, "api_key_revoked", { where: `${p} after revoke` });
  }
  await expectError(await api.call("GET", "/v1/auth/whoami", { token: key }), 401, "api_key_revoked");
  await expectError(await api.call("GET", `/v1/api-keys/${created.id}`, { token: owner.token }), 404, "not_found");
  await expectError(await api.call("DELETE", `/v1/api-keys/${created.id}`, { token: owner.token }), 404, "not_found");
  res = await api.call("GET", "/v1/api-keys", { token: owner.token });
  assert.ok(!(await res.json()).keys.some((k) => k.id === created.id), "a revoked key leaves the list");
});

test("the key endpoints: credential first, 405 with Allow, and body checks", async () => {
  await expectError(await api.call("GET", "/v1/api-keys"), 401, "missing_credential");
  await expectError(await api.call("POST", "/v1/api-keys", { body: { name: "k", scopes: ["a:b"] } }), 401, "missing_credential");
  await expectError(await api.call("DELETE", "/v1/api-keys/key_x"), 401, "missing_credential");
  let res = await api.call("PUT", "/v1/api-keys", { token: owner.token });
  assert.match(res.headers.get("allow") ?? "", /GET/);
  assert.match(res.headers.get("allow") ?? "", /POST/);
  await expectError(res, 405, "method_not_allowed");
  res = await api.call("PATCH", "/v1/api-keys/key_x", { token: owner.token });
  assert.match(res.headers.get("allow") ?? "", /DELETE/);
  await expectError(res, 405, "method_not_allowed");
  await expectError(await api.call("GET", "/v1/api-keys/key_doesnotexist", { token: owner.token }), 404, "not_found");
  await expectError(await api.call("GET", "/v1/api-keys/key_x/more", { token: owner.token }), 404, "no_route");

  const bad = [
    [{ scopes: ["scans:read"] }, "name"],
    [{ name: "", scopes: ["scans:read"] }, "name"],
    [{ name: "n".repeat(201), scopes: ["scans:read"] }, "name"],
    [{ name: "k" }, "scopes"],
    [{ name: "k", scopes: [] }, "scopes"],
    [{ name: "k", scopes: ["not a scope"] }, "scopes"],
    [{ name: "k", scopes: "scans:read" }, "scopes"],
    [{ name: "k", scopes: ["scans:read"], resources: [""] }, "resources"],
    [{ name: "k", scopes: ["scans:read"], tenants: "demo" }, "tenants"],
    [{ name: "k", scopes: ["scans:read"], expires_at: "tomorrow" }, "expires_at"],
    [{ name: "k", scopes: ["scans:read"], expires_at: "2020-01-01T00:00:00Z" }, "expires_at"],
    [{ name: "k", scopes: ["scans:read"], expires_at: new Date(Date.now() - 5000).toISOString() }, "expires_at"],
  ];
  for (const [body, field] of bad) {
    await expectError(await api.call("POST", "/v1/api-keys", { token: owner.token, body }), 400, "invalid_field", {
      field,
      where: JSON.stringify(body).slice(0, 80),
    });
  }
  res = await worker.fetch("/v1/api-keys", {
    method: "POST",
    headers: { authorization: `Bearer ${owner.token}`, "content-type": "text/plain" },
    body: JSON.stringify({ name: "k", scopes: ["scans:read"] }),
  });
  await expectError(res, 400, "unsupported_media_type");
  res = await worker.fetch("/v1/api-keys", {
    method: "POST",
    headers: { authorization: `Bearer ${owner.token}`, "content-type": "application/json" },
    body: "{nope",
  });
  await expectError(res, 400, "invalid_json");
  res = await worker.fetch("/v1/api-keys", {
    method: "POST",
    headers: { authorization: `Bearer ${owner.token}`, "content-type": "application/json" },
    body: JSON.stringify({ name: "k", scopes: ["scans:read"], resources: Array(20000).fill("rrrrrr") }),
  });
  await expectError(res, 413, "payload_too_large");
  // Credential before body: a bad body without a credential is a 401.
  res = await worker.fetch("/v1/api-keys", { method: "POST", headers: { "content-type": "application/json" }, body: "{" });
  await expectError(res, 401, "missing_credential");
});

describe("what a key may do on the gateway", () => {
  test("scope: a scans:read key may not trigger scans", async () => {
    const { key } = await api.createKey(owner.token, { scopes: ["scans:read"] });
    assert.equal((await use(key)).status, 200);
    const res = await use(key, "/api/scans/trigger/r1", { method: "POST" });
    assert.equal(
      res.headers.get("www-authenticate"),
      'Bearer error="insufficient_scope", scope="scans:trigger"',
    );
    await expectError(res, 403, "insufficient_scope");
    await expectError(await use(key, "/api/drifts"), 403, "insufficient_scope");
    // Wildcards: scans:* covers scans:trigger, not drifts:read.
    const wide = await api.createKey(owner.token, { scopes: ["scans:*"] });
    assert.equal((await use(wide.key, "/api/scans/trigger/r9", { method: "POST" })).status, 200);
    await expectError(await use(wide.key, "/api/drifts"), 403, "insufficient_scope");
  });

  test("resource: a key for r1 acts on r1 only", async () => {
    const k = await api.createKey(owner.token, { scopes: ["scans:trigger"], resources: ["r1"] });
    assert.equal(k.all_resources, false, "all_resources defaults to false when resources are given");
    assert.deepEqual(k.resources, ["r1"]);
    const ok = await use(k.key, "/api/scans/trigger/r1", { method: "POST" });
    assert.equal(ok.status, 200, await ok.text());
    await expectError(await use(k.key, "/api/scans/trigger/r2", { method: "POST" }), 403, "resource_denied");
    await expectError(await use(k.key, "/api/scans/trigger/r10", { method: "POST" }), 403, "resource_denied");
    const none = await api.createKey(owner.token, { scopes: ["scans:trigger"], all_resources: false });
    assert.deepEqual([none.all_resources, none.resources], [false, []]);
    await expectError(await use(none.key, "/api/scans/trigger/r1", { method: "POST" }), 403, "resource_denied");
  });

  test("tenant: a key for demo acts in demo only, with its own scopes and its creator's role", async () => {
    const k = await api.createKey(owner.token, { scopes: ["scans:read"], tenants: ["demo"] });
    assert.deepEqual(k.tenants, ["demo"]);
    const res = await use(k.key, "/api/v1/tenants/demo/x");
    const text = await res.text();
    assert.equal(res.status, 200, text);
    assert.equal(JSON.parse(text).headers["x-edgeauth-tenant"], "demo");
    // Its creator is an admin there, but the key's own scopes bound it: it reads, never writes.
    await expectError(await use(k.key, "/api/v1/tenants/demo/x", { method: "POST", body: {} }), 403, "insufficient_scope");
    const writer = await api.createKey(owner.token, { scopes: ["*"], tenants: ["demo"] });
    assert.equal((await use(writer.key, "/api/v1/tenants/demo/x", { method: "POST", body: {} })).status, 200, "admin role");
    await expectError(await use(k.key, "/api/v1/tenants/other/x"), 403, "tenant_denied");
    const noTenant = await api.createKey(owner.token, { scopes: ["*"] });
    await expectError(await use(noTenant.key, "/api/v1/tenants/demo/x"), 403, "tenant_denied", {
      where: "absent tenants means no tenant",
    });
    const res2 = await api.call("GET", "/v1/auth/whoami", { token: k.key });
    assert.deepEqual((await res2.json()).tenants, { demo: "admin" });
  });

  test("expiry: a key works until expires_at, then api_key_expired", async () => {
    const at = new Date((Math.floor(Date.now() / 1000) + 3) * 1000);
    const k = await api.createKey(owner.token, { scopes: ["scans:read"], expires_at: at.toISOString() });
    assert.equal(k.expires_at, at.toISOString().replace(".000Z", "Z"));
    assert.equal((await use(k.key)).status, 200);
    const who = await (await api.call("GET", "/v1/auth/whoami", { token: k.key })).json();
    assert.equal(who.expires_at, k.expires_at);
    await sleep(Math.max(0, at.getTime() - Date.now()) + 300);
    const res = await use(k.key);
    assert.match(res.headers.get("www-authenticate") ?? "", /error_description="api_key_expired"/);
    await expectError(res, 401, "api_key_expired");
    await expectError(await api.call("GET", "/v1/auth/whoami", { token: k.key }), 401, "api_key_expired");
  });

  describe("allowed_ips", () => {
    const cases = [
      {
        list: ["203.0.113.7"],
        allowed: ["203.0.113.7", "::ffff:203.0.113.7"],
        refused: ["203.0.113.8", "203.0.113.6", "2001:db8::1", "::ffff:203.0.113.8", "127.0.0.1"],
      },
      {
        list: ["10.0.0.0/8"],
        allowed: ["10.0.0.0", "10.255.255.255", "10.1.2.3", "::ffff:10.1.2.3"],
        refused: ["9.255.255.255", "11.0.0.0", "::a01:203", "2001:db8::1"],
      },
      {
        list: ["192.168.1.0/31"],
        allowed: ["192.168.1.0", "192.168.1.1"],
        refused: ["192.168.1.2", "192.168.0.255"],
      },
      {
        list: ["2001:db8::1"],
        allowed: ["2001:db8::1", "2001:0db8:0000:0000:0000:0000:0000:0001", "2001:DB8::1"],
        refused: ["2001:db8::2", "2001:db8::", "203.0.113.7"],
      },
      {
        list: ["2001:db8::/32"],
        allowed: ["2001:db8::", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", "2001:db8:1::5"],
        refused: ["2001:db9::", "2001:db7:ffff:ffff:ffff:ffff:ffff:ffff", "203.0.113.7", "::1"],
      },
      {
        list: ["2001:db8:0:0:8000::/65"],
        allowed: ["2001:db8::8000:0:0:0", "2001:db8::ffff:ffff:ffff:ffff"],
        refused: ["2001:db8::7fff:ffff:ffff:ffff", "2001:db8:0:1::"],
      },
      {
        list: ["::ffff:198.51.100.0/120"],
        allowed: ["198.51.100.0", "198.51.100.255", "::ffff:198.51.100.9"],
        refused: ["198.51.101.0", "198.51.99.255"],
      },
      {
        list: ["203.0.113.7", "2001:db8::/48"],
        allowed: ["203.0.113.7", "2001:db8:0:ffff::1"],
        refused: ["2001:db8:1::1", "203.0.113.77"],
      },
      { list: [], allowed: ["127.0.0.1", "2001:db8::1", "8.8.8.8"], refused: [] },
    ];
    for (const { list, allowed, refused } of cases) {
      test(`${JSON.stringify(list)}`, async () => {
        const k = await api.createKey(owner.token, { scopes: ["scans:read"], allowed_ips: list });
        assert.equal(k.allowed_ips.length, list.length);
        for (const ip of allowed) {
          const res = await use(k.key, "/api/scans/dashboard", { ip });
          assert.equal(res.status, 200, `${ip} is allowed by ${list}: ${await res.text()}`);
        }
        for (const ip of refused) {
          await expectError(await use(k.key, "/api/scans/dashboard", { ip }), 403, "ip_denied", {
            where: `${ip} against ${list}`,
          });
        }
      });
    }

    test("the list is stored as given (canonical forms) and bad entries are 400", async () => {
      const k = await api.createKey(owner.token, {
        scopes: ["scans:read"],
        allowed_ips: ["203.0.113.7", "10.0.0.0/8", "2001:db8::/32", "2001:db8::1"],
      });
      assert.deepEqual(k.allowed_ips, ["203.0.113.7", "10.0.0.0/8", "2001:db8::/32", "2001:db8::1"]);
      for (const entry of ["10.0.0.0/33", "2001:db8::/129", "not-an-ip", "1.2.3.4/", "300.1.1.1", "fe80::1%eth0", "10.0.0.0/08", ""]) {
        await expectError(
          await api.call("POST", "/v1/api-keys", {
            token: owner.token,
            body: { name: "k", scopes: ["scans:read"], allowed_ips: [entry] },
          }),
          400,
          "invalid_field",
          { field: "allowed_ips", where: `allowed_ips ${entry}` },
        );
      }
    });

    test("the worker's own endpoints hold a key to its addresses too", async () => {
      const k = await api.createKey(owner.token, { scopes: ["api_keys:*"], allowed_ips: ["203.0.113.7"] });
      assert.equal((await api.call("GET", "/v1/auth/whoami", { token: k.key, ip: "203.0.113.7" })).status, 200);
      await expectError(await api.call("GET", "/v1/auth/whoami", { token: k.key, ip: "203.0.113.8" }), 403, "ip_denied");
      await expectError(await api.call("GET", "/v1/api-keys", { token: k.key, ip: "203.0.113.8" }), 403, "ip_denied");
      await expectError(
        await api.call("POST", "/v1/api-keys", {
          token: k.key,
          ip: "203.0.113.8",
          body: { name: "k", scopes: ["scans:read"], allowed_ips: ["203.0.113.7"] },
        }),
        403,
        "ip_denied",
      );
    });
  });

  test("the order of route checks: scope before tenant before resource before IP", async () => {
    const k = await api.createKey(owner.token, {
      scopes: ["scans:read"],
      resources: ["r1"],
      allowed_ips: ["203.0.113.7"],
    });
    const from = "198.51.100.1";
    await expectError(await use(k.key, "/api/scans/trigger/r2", { method: "POST", ip: from }), 403, "insufficient_scope");
    const t = await api.createKey(owner.token, { scopes: ["scans:trigger"], resources: ["r1"], allowed_ips: ["203.0.113.7"] });
    await expectError(await use(t.key, "/api/scans/trigger/r2", { method: "POST", ip: from }), 403, "resource_denied");
    await expectError(await use(t.key, "/api/scans/trigger/r1", { method: "POST", ip: from }), 403, "ip_denied");
  });
});

describe("privilege escalation", () => {
  let narrow;
  let narrowApi;
  let reader;

  before(async () => {
    narrow = await startWorker({ vars: { DEFAULT_USER_SCOPES: "scans:read" } });
    narrowApi = client(narrow);
    reader = await narrowApi.user();
  });
  after(async () => {
    await narrow?.dispose();
  });

  test("a key never carries a scope or tenant its creator lacks", async () => {
    for (const fields of [
      { scopes: ["scans:write"] },
      { scopes: ["*"] },
      { scopes: ["scans:*"] },
      { scopes: ["*:read"] },
      { scopes: ["scans:read", "drifts:read"] },
      { scopes: ["scans:read"], tenants: ["other"] },
      { scopes: ["scans:read"], tenants: ["demo", "acme"] },
    ]) {
      const res = await narrowApi.call("POST", "/v1/api-keys", { token: reader.token, body: { name: "k", ...fields } });
      await expectError(res, 403, "privilege_escalation", { where: JSON.stringify(fields) });
    }
    const ok = await narrowApi.createKey(reader.token, { scopes: ["scans:read"], tenants: ["demo"] });
    assert.deepEqual(ok.scopes, ["scans:read"]);
    const res = await narrowApi.call("GET", "/v1/api-keys", { token: reader.token });
    assert.equal((await res.json()).keys.length, 1, "refused keys were not created");
  });
});

test("another user's key is 404 for GET and DELETE, never 403, and is left alone", async () => {
  const other = await api.user();
  const mine = await api.createKey(owner.token, { scopes: ["scans:read"] });
  for (const method of ["GET", "DELETE"]) {
    await expectError(await api.call(method, `/v1/api-keys/${mine.id}`, { token: other.token }), 404, "not_found", {
      where: `${method} another user's key`,
    });
    await expectError(await api.call(method, "/v1/api-keys/key_00000000000000000000", { token: other.token }), 404, "not_found");
  }
  const list = await (await api.call("GET", "/v1/api-keys", { token: other.token })).json();
  assert.deepEqual(list, { keys: [] });
  assert.equal((await use(mine.key)).status, 200, "the key still works");
  // A key of one user cannot reach another's either.
  const otherKey = await api.createKey(other.token, { scopes: ["api_keys:*"] });
  await expectError(await api.call("DELETE", `/v1/api-keys/${mine.id}`, { token: otherKey.key }), 404, "not_found");
  assert.equal((await use(mine.key)).status, 200);
});

describe("keys managing keys", () => {
  test("without api_keys:read a key may not list; without api_keys:write it may not create or revoke", async () => {
    const plain = await api.createKey(owner.token, { scopes: ["scans:read"] });
    const victim = await api.createKey(owner.token, { scopes: ["scans:read"] });
    let res = await api.call("GET", "/v1/api-keys", { token: plain.key });
    assert.equal(res.headers.get("www-authenticate"), 'Bearer error="insufficient_scope", scope="api_keys:read"');
    await expectError(res, 403, "insufficient_scope");
    await expectError(await api.call("GET", `/v1/api-keys/${victim.id}`, { token: plain.key }), 403, "insufficient_scope");
    res = await api.call("POST", "/v1/api-keys", { token: plain.key, body: { name: "k", scopes: ["scans:read"] } });
    assert.match(res.headers.get("www-authenticate") ?? "", /scope="api_keys:write"/);
    await expectError(res, 403, "insufficient_scope");
    await expectError(await api.call("DELETE", `/v1/api-keys/${victim.id}`, { token: plain.key }), 403, "insufficient_scope");

    const readOnly = await api.createKey(owner.token, { scopes: ["api_keys:read"] });
    res = await api.call("GET", "/v1/api-keys", { token: readOnly.key });
    const text = await res.text();
    assert.equal(res.status, 200, text);
    assert.ok(JSON.parse(text).keys.some((k) => k.id === victim.id), "it lists its owner's keys");
    await expectError(
      await api.call("POST", "/v1/api-keys", { token: readOnly.key, body: { name: "k", scopes: ["api_keys:read"] } }),
      403,
      "insufficient_scope",
    );
    await expectError(await api.call("DELETE", `/v1/api-keys/${victim.id}`, { token: readOnly.key }), 403, "insufficient_scope");
    assert.equal((await use(victim.key)).status, 200);
  });

  test("with api_keys:write a key creates keys within itself, owned by its user", async () => {
    const writer = await api.createKey(owner.token, {
      scopes: ["api_keys:write", "scans:read"],
      resources: ["r1"],
      tenants: ["demo"],
    });
    await expectError(await api.call("GET", "/v1/api-keys", { token: writer.key }), 403, "insufficient_scope", {
      where: "api_keys:write does not imply read",
    });
    const child = await api.createKey(writer.key, { scopes: ["scans:read"], resources: ["r1"], tenants: ["demo"] });
    const who = await (await api.call("GET", "/v1/auth/whoami", { token: child.key })).json();
    assert.equal(who.subject, owner.id, "a key made by a key belongs to the same user");
    const list = await (await api.call("GET", "/v1/api-keys", { token: owner.token })).json();
    assert.ok(list.keys.some((k) => k.id === child.id));

    for (const fields of [
      { scopes: ["scans:trigger"], resources: ["r1"] },
      { scopes: ["*"], resources: ["r1"] },
      { scopes: ["scans:read"] }, // all resources, beyond r1
      { scopes: ["scans:read"], resources: ["r2"] },
      { scopes: ["scans:read"], resources: ["r1"], tenants: ["other"] },
    ]) {
      await expectError(
        await api.call("POST", "/v1/api-keys", { token: writer.key, body: { name: "k", ...fields } }),
        403,
        "privilege_escalation",
        { where: JSON.stringify(fields) },
      );
    }
    // Revoking is writing.
    assert.equal((await api.call("DELETE", `/v1/api-keys/${child.id}`, { token: writer.key })).status, 204);
    await expectError(await use(child.key), 401, "api_key_revoked");

    // A key with an end cannot make one that outlives it.
    const soon = new Date(Date.now() + 3600_000).toISOString();
    const mortal = await api.createKey(owner.token, { scopes: ["api_keys:write", "scans:read"], expires_at: soon });
    await expectError(
      await api.call("POST", "/v1/api-keys", { token: mortal.key, body: { name: "k", scopes: ["scans:read"] } }),
      403,
      "privilege_escalation",
    );
  });
});

describe("malformed keys", () => {
  const malformed = [
    ["wrong prefix", `ea_prod_${base62(40)}`],
    ["upper-case prefix", `EA_LIVE_${base62(40)}`],
    ["31 characters", `ea_live_${base62(31)}`],
    ["65 characters", `ea_live_${base62(65)}`],
    ["not base62", `ea_live_${base62(39)}-`],
    ["not base62 (_)", `ea_test_${base62(20)}_${base62(19)}`],
    ["10 KB", `ea_live_${"a".repeat(10 * 1024)}`],
    ["a refresh token", `ea_rt_${base62(43)}`],
  ];
  const wellFormed = [`ea_live_${base62(32)}`, `ea_live_${base62(64)}`, `ea_test_${base62(40)}`];

  test("are 401 malformed_credential; well-formed unknown keys are api_key_unknown", async () => {
    for (const [what, key] of malformed) {
      const res = await use(key);
      assert.match(res.headers.get("www-authenticate") ?? "", /error="invalid_request"/, what);
      await expectError(res, 401, "malformed_credential", { where: what });
    }
    for (const key of wellFormed) {
      const res = await use(key);
      assert.match(res.headers.get("www-authenticate") ?? "", /error="invalid_token", error_description="api_key_unknown"/);
      await expectError(res, 401, "api_key_unknown", { where: key.slice(0, 12) });
    }
  });

  describe("stores made to fail answer 503 store_unavailable", () => {
    let noKv;
    let noDir;

    before(async () => {
      [noKv, noDir] = await Promise.all([
        startWorker({ omitBindings: ["API_KEYS"] }),
        startWorker({ omitBindings: ["DIRECTORY"], signingKeys: worker.signingKeys }),
      ]);
    });
    after(async () => {
      await Promise.all([noKv?.dispose(), noDir?.dispose()]);
    });

    test("without KV: malformed keys are still 401 (no store read), well-formed ones 503", async () => {
      const kvApi = client(noKv);
      for (const [what, key] of malformed) {
        await expectError(await kvApi.call("GET", "/api/scans/dashboard", { token: key }), 401, "malformed_credential", {
          where: `${what} without KV`,
        });
      }
      for (const key of wellFormed) {
        await expectError(await kvApi.call("GET", "/api/scans/dashboard", { token: key }), 503, "store_unavailable");
        await expectError(await kvApi.call("GET", "/v1/auth/whoami", { token: key }), 503, "store_unavailable");
      }
      // A user's session needs no KV; creating a key does.
      const user = await kvApi.user();
      assert.equal((await kvApi.call("GET", "/api/me", { token: user.token })).status, 200);
      await expectError(
        await kvApi.call("POST", "/v1/api-keys", { token: user.token, body: { name: "k", scopes: ["scans:read"] } }),
        503,
        "store_unavailable",
      );
      const list = await (await kvApi.call("GET", "/v1/api-keys", { token: user.token })).json();
      assert.deepEqual(list, { keys: [] }, "a key whose record could not be written is not half-created");
    });

    test("without the directory: register, login, refresh and session checks are 503", async () => {
      const dirApi = client(noDir);
      const body = { email: `nodir-${unique()}@example.com`, password: `pw-${unique()}`, name: "n" };
      await expectError(await dirApi.call("POST", "/v1/auth/register", { body }), 503, "store_unavailable");
      await expectError(await dirApi.call("POST", "/v1/auth/token", { body }), 503, "store_unavailable");
      await expectError(
        await dirApi.call("POST", "/v1/auth/refresh", { body: { refresh_token: owner.refreshToken } }),
        503,
        "store_unavailable",
      );
      // The token verifies (same signing key) but its session cannot be checked: refuse.
      for (const p of ["/v1/auth/whoami", "/api/me"]) {
        await expectError(await dirApi.call("GET", p, { token: owner.token }), 503, "store_unavailable", { where: p });
      }
      await expectError(await dirApi.call("GET", "/v1/api-keys", { token: owner.token }), 503, "store_unavailable");
      await expectError(
        await dirApi.call("POST", "/v1/auth/logout", { token: owner.token }),
        503,
        "store_unavailable",
      );
      // Input is still checked first.
      await expectError(
        await dirApi.call("POST", "/v1/auth/register", { body: { ...body, password: "short" } }),
        400,
        "invalid_field",
      );
    });
  });
});

test("key values are stored only as hashes and never logged", async () => {
  const fresh = await api.createKey(owner.token, { scopes: ["scans:read"] });
  assert.equal((await use(fresh.key)).status, 200);
  await worker.settleLogs();
  const logs = worker.logs.join("\n");
  for (const k of keyValues) assert.ok(!logs.includes(k), "a key value is in the logs");
  assert.ok(!logs.includes(owner.token) && !logs.includes(owner.refreshToken), "a session credential is in the logs");

  await worker.dispose();
  worker = undefined;
  const files = [];
  const walk = async (dir) => {
    for (const e of await readdir(dir, { withFileTypes: true })) {
      const full = path.join(dir, e.name);
      if (e.isDirectory()) await walk(full);
      else if (e.isFile()) files.push(full);
    }
  };
  await walk(persistDir);
  const stored = Buffer.concat(await Promise.all(files.map((f) => readFile(f))));
  assert.ok(keyValues.size >= 20);
  for (const k of keyValues) {
    assert.ok(!stored.includes(Buffer.from(k)), `key ${k.slice(0, 12)}… is stored in plain`);
    assert.ok(!stored.includes(Buffer.from(k.slice(8))), "nor its random part");
  }
  assert.ok(stored.includes(Buffer.from(sha256(fresh.key))), "KV is keyed by the key's SHA-256");
  assert.ok(!stored.includes(Buffer.from(owner.refreshToken)));
});

describe("revocation does not wait for KV to catch up", () => {
  test("a KV record the directory no longer owns (a stale replica after a revoke) is refused as revoked", async () => {
    const w = await startWorker();
    try {
      const key = `ea_live_${base62(40)}`;
      const now = new Date();
      // What a KV location that has not yet seen a revocation still serves.
      const stale = {
        id: `key_${base62(20)}`,
        user_id: `usr_${base62(20)}`,
        name: "stale",
        prefix: key.slice(0, 12),
        scopes: ["*"],
        all_resources: true,
        resources: [],
        tenants: [],
        allowed_ips: [],
        created_at: Math.floor(now.getTime() / 1000) - 60,
        expires_at: null,
        revoked_at: null,
      };
      const kv = await w.mf.getKVNamespace("API_KEYS");
      await kv.put(sha256(key), JSON.stringify(stale));
      const res = await w.fetch("/api/me", { headers: { authorization: `Bearer ${key}` } });
      await expectError(res, 401, "api_key_revoked");
    } finally {
      await w.dispose();
    }
  });

  test("the directory unreachable on the key path is a 503, never a pass", async () => {
    const w = await startWorker({ omitBindings: ["DIRECTORY"] });
    try {
      const key = `ea_live_${base62(40)}`;
      const kv = await w.mf.getKVNamespace("API_KEYS");
      await kv.put(
        sha256(key),
        JSON.stringify({
          id: "key_x", user_id: "usr_x", name: "x", prefix: key.slice(0, 12), scopes: ["*"], all_resources: true,
          resources: [], tenants: [], allowed_ips: [], created_at: 0, expires_at: null, revoked_at: null,
        }),
      );
      const res = await w.fetch("/api/me", { headers: { authorization: `Bearer ${key}` } });
      await expectError(res, 503, "store_unavailable");
    } finally {
      await w.dispose();
    }
  });
});
