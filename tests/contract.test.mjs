// Cross-cutting statements of SPEC checked as a whole: the default policy of "Local
// development", row by row; the order in which a whole request is checked on the worker's
// own endpoints; `EXTERNAL_ISSUERS` in SPEC's own example form; and the dev command's
// settings, which it reads from its environment.
import assert from "node:assert/strict";
import crypto from "node:crypto";
import { after, before, describe, test } from "node:test";
import { SignJWT } from "jose";
import { startWorker } from "./harness.mjs";
import { startIdp } from "./idp.mjs";
import { bearer, createApiKey, expectEcho, expectError, signUp } from "./contract.mjs";
import { workerVars } from "../scripts/miniflare-options.mjs";

let w;
let admin; // development user: scopes `*`, admin of demo
before(async () => {
  w = await startWorker();
  admin = await signUp(w);
});
after(async () => {
  await w?.dispose();
});

const call = (path, { method = "GET", credential, body, headers = {} } = {}) =>
  w.fetch(path, {
    method,
    headers: { ...(credential ? bearer(credential) : {}), ...(body !== undefined ? { "content-type": "application/json" } : {}), ...headers },
    body,
  });
const identity = (echo) => Object.fromEntries(Object.entries(echo.headers).filter(([k]) => k.startsWith("x-edgeauth-")));

describe("the default policy (SPEC \"Local development\"), row by row", () => {
  let other; // a key with a scope no route asks for
  before(async () => {
    other = await createApiKey(w, admin.token, { scopes: ["runners:manage"] });
  });

  test("GET /health: auth none, and nothing of edgeauth's reaches the origin", async () => {
    const echo = await expectEcho(await call("/health", { credential: "garbage", headers: { "x-edgeauth-subject": "root" } }));
    assert.deepEqual(identity(echo), {});
    assert.equal(echo.headers.authorization, undefined);
  });

  test("GET /api/me: any valid credential, no scope", async () => {
    await expectError(await call("/api/me"), 401, "missing_credential");
    const echo = await expectEcho(await call("/api/me", { credential: other.key }));
    assert.deepEqual(identity(echo), {
      "x-edgeauth-subject": admin.user.id,
      "x-edgeauth-kind": "api_key",
      "x-edgeauth-scopes": "runners:manage",
      "x-edgeauth-key-id": other.id,
    });
  });

  test("GET /api/scans/dashboard: scans:read", async () => {
    await expectError(await call("/api/scans/dashboard", { credential: other.key }), 403, "insufficient_scope", { scope: "scans:read" });
    const k = await createApiKey(w, admin.token, { scopes: ["scans:read"] });
    await expectEcho(await call("/api/scans/dashboard", { credential: k.key }));
  });

  test("POST /api/scans/trigger/:repo: scans:trigger on that repo, signature optional", async () => {
    const k = await createApiKey(w, admin.token, { scopes: ["scans:trigger"], resources: ["r1"] });
    await expectError(await call("/api/scans/trigger/r1", { method: "POST", credential: other.key, body: "{}" }), 403, "insufficient_scope", {
      scope: "scans:trigger",
    });
    const echo = await expectEcho(await call("/api/scans/trigger/r1", { method: "POST", credential: k.key, body: "{}" }));
    assert.equal(echo.path, "/api/scans/trigger/r1");
    await expectError(await call("/api/scans/trigger/r2", { method: "POST", credential: k.key, body: "{}" }), 403, "resource_denied");
    await expectError(await call("/api/scans/trigger/r1", { credential: k.key }), 404, "no_route");
  });

  test("GET /api/drifts: drifts:read; GET /api/ws/drifts: drifts:read, also as ?token=", async () => {
    const k = await createApiKey(w, admin.token, { scopes: ["drifts:read"] });
    await expectError(await call("/api/drifts", { credential: other.key }), 403, "insufficient_scope", { scope: "drifts:read" });
    await expectEcho(await call("/api/drifts", { credential: k.key }));
    await expectError(await call("/api/drifts?token=" + k.key), 401, "missing_credential");
    const echo = await expectEcho(await call(`/api/ws/drifts?token=${k.key}&since=1`));
    assert.equal(echo.query, "since=1");
    await expectError(await call(`/api/ws/drifts?token=${other.key}`), 403, "insufficient_scope", { scope: "drifts:read" });
  });

  test("POST /api/signed/*: signature required, no scope", async () => {
    await expectError(await call("/api/signed/x", { method: "POST", credential: other.key, body: "{}" }), 401, "signature_missing");
    const body = '{"n":1}';
    const timestamp = String(Date.now());
    const nonce = crypto.randomBytes(16).toString("hex");
    const hash = crypto.createHash("sha256").update(body).digest("hex");
    const signature = crypto.createHmac("sha256", other.key).update(`${timestamp}:${nonce}:POST:/api/signed/x:${hash}`).digest("hex");
    const signed = { "x-cli-signature": signature, "x-cli-timestamp": timestamp, "x-cli-nonce": nonce };
    const echo = await expectEcho(await call("/api/signed/x", { method: "POST", credential: other.key, body, headers: signed }));
    assert.equal(echo.body, body);
  });

  test("* /api/v1/tenants/:tenant/*: the role decides, and the tenant is forwarded", async () => {
    for (const method of ["GET", "POST", "PUT", "PATCH", "DELETE"]) {
      const echo = await expectEcho(await call("/api/v1/tenants/demo/items", { method, credential: admin.token, body: method === "GET" ? undefined : "{}" }));
      assert.equal(echo.method, method);
      assert.equal(echo.headers["x-edgeauth-tenant"], "demo");
    }
    await expectError(await call("/api/v1/tenants/acme/items", { credential: admin.token }), 403, "tenant_denied");
    // Elsewhere there is no x-edgeauth-tenant.
    assert.equal((await expectEcho(await call("/api/me", { credential: admin.token }))).headers["x-edgeauth-tenant"], undefined);
  });

  test("anything else is 404 no_route, whatever the method", async () => {
    for (const [method, path] of [["POST", "/health"], ["GET", "/api"], ["DELETE", "/api/me"], ["GET", "/api/signed/x"]]) {
      await expectError(await call(path, { method, credential: admin.token }), 404, "no_route");
    }
  });
});

describe("whole requests: route and method, then credential, then body", () => {
  const big = "x".repeat(70_000);

  test("on the worker's own endpoints", async () => {
    const readOnly = await createApiKey(w, admin.token, { scopes: ["api_keys:read"] });
    // 404 and 405 before anything about the credential or the body.
    await expectError(await call("/v1/nope", { method: "POST", credential: "garbage", body: big }), 404, "no_route");
    const put = await call("/v1/api-keys", { method: "PUT", credential: "garbage", body: big });
    assert.equal(put.headers.get("allow"), "GET, POST");
    await expectError(put, 405, "method_not_allowed");
    // 401 and 403 before the body.
    await expectError(await call("/v1/api-keys", { method: "POST", body: big }), 401, "missing_credential");
    await expectError(await call("/v1/api-keys", { method: "POST", credential: "ea_live_short", body: "{" }), 401, "malformed_credential");
    await expectError(await call("/v1/api-keys", { method: "POST", credential: readOnly.key, body: big }), 403, "insufficient_scope", {
      scope: "api_keys:write",
    });
    // Then 413 before 400.
    await expectError(await call("/v1/api-keys", { method: "POST", credential: admin.token, body: big }), 413, "payload_too_large");
    await expectError(await call("/v1/api-keys", { method: "POST", credential: admin.token, body: "{" }), 400, "invalid_json");
    await expectError(await call("/v1/auth/register", { method: "POST", body: big }), 413, "payload_too_large");
  });
});

describe("EXTERNAL_ISSUERS in SPEC's example form", () => {
  let idp;
  let ext;
  const secret = "…";
  before(async () => {
    idp = await startIdp();
    // Character for character SPEC's example, but for the port of this test's JWKS.
    const issuers = `[{"iss": "https://idp.test", "audiences": ["api"], "jwks_url": "${idp.jwksUrl}"}, {"iss": "https://hs.test", "audiences": ["api"], "hs256_secret": "${secret}"}]`;
    ext = await startWorker({ vars: { EXTERNAL_ISSUERS: issuers } });
  });
  after(async () => {
    await ext?.dispose();
    await idp?.close();
  });

  test("tokens of both issuers reach the origin as kind external, sub as subject, their scopes", async () => {
    const es = await idp.mint({ sub: "es-user", scp: ["scans:read", "drifts:read"] });
    let echo = await expectEcho(await ext.fetch("/api/drifts", { headers: bearer(es) }));
    assert.deepEqual(identity(echo), {
      "x-edgeauth-subject": "es-user",
      "x-edgeauth-kind": "external",
      "x-edgeauth-scopes": "scans:read drifts:read",
      // Two issuers' equal `sub` values are never one identity (SPEC "Forwarding").
      "x-edgeauth-issuer": "https://idp.test",
    });
    const hs = await new SignJWT({ sub: "hs-user", scope: "scans:read" })
      .setProtectedHeader({ alg: "HS256", typ: "JWT" })
      .setIssuer("https://hs.test")
      .setAudience("api")
      .setExpirationTime("5m")
      .sign(new TextEncoder().encode(secret));
    echo = await expectEcho(await ext.fetch("/api/scans/dashboard", { headers: bearer(hs) }));
    assert.deepEqual(identity(echo), {
      "x-edgeauth-subject": "hs-user",
      "x-edgeauth-kind": "external",
      "x-edgeauth-scopes": "scans:read",
      "x-edgeauth-issuer": "https://hs.test",
    });
    await expectError(await ext.fetch("/api/drifts", { headers: bearer(hs) }), 403, "insufficient_scope", { scope: "drifts:read" });
  });
});

describe("the dev command's settings come from its environment", () => {
  test("every setting SPEC names reaches the worker's vars (PORT is the dev server's own)", () => {
    const env = {
      ORIGIN_URL: "http://127.0.0.1:3000",
      ACCESS_TTL_S: "120",
      REFRESH_TTL_S: "900",
      REFRESH_GRACE_S: "0",
      ALLOWED_ORIGINS: "https://app.test",
      DEFAULT_USER_SCOPES: "",
      DEFAULT_USER_TENANTS: '{"acme": "viewer"}',
      EXTERNAL_ISSUERS: '[{"iss": "https://hs.test", "audiences": ["api"], "hs256_secret": "s"}]',
      UNRELATED: "not passed",
    };
    const vars = workerVars(env);
    for (const [name, value] of Object.entries(env)) {
      if (name === "UNRELATED") assert.equal(vars[name], undefined);
      else assert.equal(vars[name], value, name);
    }
    assert.equal(vars.ENVIRONMENT, "development");
    // Unset, the development defaults of SPEC and the README.
    const defaults = workerVars({});
    assert.equal(defaults.ALLOWED_ORIGINS, "*");
    assert.equal(defaults.DEFAULT_USER_SCOPES, "*");
    assert.deepEqual(JSON.parse(defaults.DEFAULT_USER_TENANTS), { demo: "admin" });
    assert.equal(defaults.ORIGIN_URL, undefined, "no ORIGIN_URL: the built-in echo origin");
  });
});
