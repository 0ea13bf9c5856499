// The gateway (SPEC "Scopes and policy", "Forwarding", "Errors"): routes, 403s by
// scope, tenant, resource and IP, x-edgeauth-* headers (forwarded, never spoofed),
// `?token=` on query_token routes, forwarding to a real origin, body limits, `Date`
// on every answer, and CORS. Attacks on path matching and header handling included.
import assert from "node:assert/strict";
import http from "node:http";
import { after, before, describe, test } from "node:test";
import { startEchoOrigin, startWorker } from "./harness.mjs";
import { assertDate, bearer, createApiKey, expectEcho, expectError, signUp } from "./contract.mjs";

let w;
let admin; // a development user: scopes `*`, tenant demo admin
let scansKey; // an API key of admin with scans:read only

before(async () => {
  w = await startWorker();
  admin = await signUp(w);
  scansKey = await createApiKey(w, admin.token, { scopes: ["scans:read"] });
});
after(async () => {
  await w?.dispose();
});

const get = (worker, path, credential, extra = {}) =>
  worker.fetch(path, { headers: credential ? bearer(credential, extra) : extra });
const post = (worker, path, credential, body, extra = {}) =>
  worker.fetch(path, {
    method: "POST",
    headers: { "content-type": "application/json", ...(credential ? bearer(credential) : {}), ...extra },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
const edgeauthHeaders = (echo) =>
  Object.fromEntries(Object.entries(echo.headers).filter(([name]) => name.startsWith("x-edgeauth-")));

/** Sends a request target byte for byte (fetch would normalise `%2e%2e`, `//`, …). */
function raw(worker, target, { method = "GET", headers = {} } = {}) {
  const { hostname, port } = new URL(worker.url);
  return new Promise((resolve, reject) => {
    const req = http.request({ hostname, port, path: target, method, headers }, (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, text: Buffer.concat(chunks).toString() }));
    });
    req.on("error", reject);
    req.end();
  });
}

describe("routes", () => {
  test("a request that matches no route is 404 no_route, whatever the method", async () => {
    const cases = [
      ["GET", "/nope"],
      ["GET", "/"],
      ["POST", "/api/me"],
      ["DELETE", "/api/scans/dashboard"],
      ["GET", "/api/signed/x"],
      ["PUT", "/health"],
      ["GET", "/API/ME"],
      ["GET", "/api/me/"],
      ["GET", "/api/me/extra"],
    ];
    for (const [method, path] of cases) {
      const res = await w.fetch(path, { method, headers: bearer(admin.token) });
      await expectError(res, 404, "no_route");
    }
  });

  test("route before credential: an unknown route with no credential is still 404", async () => {
    await expectError(await w.fetch("/nope"), 404, "no_route");
    await expectError(await w.fetch("/nope", { headers: { authorization: "Bearer garbage" } }), 404, "no_route");
  });

  test("encoded slashes, dot segments and bad escapes never reach a route", async () => {
    for (const target of [
      "/api/scans/trigger/r1%2F..%2Fr2",
      "/api/v1/tenants/demo%2Fother/x",
      "/api/scans/%2e%2e/me",
      "/api/scans/%2E%2E/me",
      "/api/v1/tenants/other/%2e%2e/%2e%2e/demo/x",
      "/api/me%00",
      "/api/%zz/me",
      "/api/me%5c",
    ]) {
      const res = await raw(w, target, { method: "GET", headers: bearer(admin.token) });
      if (res.status === 200) {
        // The runtime may resolve `%2e%2e` itself (WHATWG URL); then the route was
        // matched on the path the origin gets, which holds nothing left to resolve.
        const { path } = JSON.parse(res.text);
        assert.doesNotMatch(path, /%2e|%2f|%5c|%00|\/\.\.?(\/|$)/i, `${target} forwarded as ${path}`);
        assert.equal(path, "/api/me", target);
      } else {
        // SPEC "Forwarding": a path that cannot be matched unambiguously is 400 invalid_path;
        // one the runtime resolved first may simply match no route.
        const { reason } = JSON.parse(res.text).error;
        assert.ok(
          (res.status === 400 && reason === "invalid_path") || (res.status === 404 && reason === "no_route"),
          `${target}: ${res.status} ${res.text}`,
        );
      }
    }
    const res = await raw(w, "/api/scans/trigger/r1%2F..%2Fr2", { method: "POST", headers: bearer(admin.token) });
    assert.equal(res.status, 400, res.text);
    assert.equal(JSON.parse(res.text).error.reason, "invalid_path");
  });

  test("percent-encoded path parameters are matched decoded", async () => {
    const echo = await expectEcho(await get(w, "/api/v1/tenants/%64emo/items", admin.token));
    assert.equal(echo.headers["x-edgeauth-tenant"], "demo");
    await expectError(await get(w, "/api/v1/tenants/%6Fther/items", admin.token), 403, "tenant_denied");
  });
});

describe("x-edgeauth-* headers", () => {
  const spoofed = {
    "x-edgeauth-subject": "usr_admin",
    "X-EdgeAuth-Kind": "user",
    "x-edgeauth-scopes": "*",
    "x-edgeauth-tenant": "other",
    "X-EDGEAUTH-KEY-ID": "key_stolen",
    "x-edgeauth-role": "admin",
  };

  test("a user's identity reaches the origin, and nothing the client sent", async () => {
    const echo = await expectEcho(await get(w, "/api/me", admin.token, spoofed));
    assert.deepEqual(edgeauthHeaders(echo), {
      "x-edgeauth-kind": "user",
      "x-edgeauth-scopes": "*",
      "x-edgeauth-subject": admin.user.id,
    });
    assert.equal(echo.headers.authorization, undefined);
  });

  test("an API key adds its key id; a tenant route adds the tenant from the path", async () => {
    const echo = await expectEcho(await get(w, "/api/scans/dashboard", scansKey.key, spoofed));
    assert.deepEqual(edgeauthHeaders(echo), {
      "x-edgeauth-key-id": scansKey.id,
      "x-edgeauth-kind": "api_key",
      "x-edgeauth-scopes": "scans:read",
      "x-edgeauth-subject": admin.user.id,
    });
    const t = await expectEcho(await get(w, "/api/v1/tenants/demo/projects/7", admin.token, spoofed));
    assert.equal(t.headers["x-edgeauth-tenant"], "demo");
    assert.equal(t.headers["x-edgeauth-key-id"], undefined);
  });

  test("an auth: none route forwards no x-edgeauth-* header at all", async () => {
    const echo = await expectEcho(await get(w, "/health", undefined, spoofed));
    assert.deepEqual(edgeauthHeaders(echo), {});
    const withCredential = await expectEcho(await get(w, "/health", admin.token, spoofed));
    assert.deepEqual(edgeauthHeaders(withCredential), {});
  });
});

describe("?token= on query_token routes", () => {
  test("accepted on /api/ws/drifts and stripped before forwarding, other parameters kept", async () => {
    const echo = await expectEcho(await w.fetch(`/api/ws/drifts?since=5&token=${admin.token}&a=b%20c`));
    assert.equal(echo.query, "since=5&a=b%20c");
    assert.equal(echo.headers["x-edgeauth-subject"], admin.user.id);
    assert.ok(!JSON.stringify(echo).includes(admin.token), "the token reaches the origin nowhere");
    const first = await expectEcho(await w.fetch(`/api/ws/drifts?token=${encodeURIComponent(admin.token)}`));
    assert.equal(first.query, "");
    await w.settleLogs();
    assert.ok(!w.logs.some((line) => line.includes(admin.token)), "no log line holds the query token");
  });

  test("refused where the route does not say query_token, and never forwarded anyway", async () => {
    await expectError(await w.fetch(`/api/drifts?token=${admin.token}`), 401, "missing_credential");
    await expectError(await w.fetch(`/api/me?token=${scansKey.key}`), 401, "missing_credential");
    const echo = await expectEcho(await get(w, `/api/me?x=1&token=${scansKey.key}`, admin.token));
    assert.equal(echo.query, "x=1");
    const health = await expectEcho(await w.fetch(`/health?token=${scansKey.key}`));
    assert.equal(health.query, "");
  });

  test("a query token is checked like any credential", async () => {
    await expectError(await w.fetch("/api/ws/drifts"), 401, "missing_credential");
    await expectError(await w.fetch("/api/ws/drifts?token=garbage"), 401, "malformed_credential");
    await expectError(await w.fetch("/api/ws/drifts?token=a%20b.c.d"), 401, "malformed_credential");
    await expectError(await w.fetch(`/api/ws/drifts?token=${scansKey.key}`), 403, "insufficient_scope", {
      scope: "drifts:read",
    });
  });
});

describe("403: scope, tenant, resource, IP", () => {
  test("a missing scope names what the route needs", async () => {
    await expectError(await get(w, "/api/drifts", scansKey.key), 403, "insufficient_scope", { scope: "drifts:read" });
    await expectError(await post(w, "/api/scans/trigger/r1", scansKey.key, {}), 403, "insufficient_scope", {
      scope: "scans:trigger",
    });
  });

  test("a foreign tenant is tenant_denied", async () => {
    await expectError(await get(w, "/api/v1/tenants/other/things", admin.token), 403, "tenant_denied");
    await expectError(await post(w, "/api/v1/tenants/acme/things", admin.token, {}), 403, "tenant_denied");
    // A key with no tenants acts in none, even its creator's.
    await expectError(await get(w, "/api/v1/tenants/demo/things", scansKey.key), 403, "tenant_denied");
  });

  test("an API key limited to some resources: resource_denied elsewhere", async () => {
    const key = await createApiKey(w, admin.token, { scopes: ["scans:trigger"], resources: ["r1"] });
    const echo = await expectEcho(await post(w, "/api/scans/trigger/r1", key.key, { branch: "main" }));
    assert.equal(echo.headers["x-edgeauth-key-id"], key.id);
    assert.equal(echo.body, '{"branch":"main"}');
    await expectError(await post(w, "/api/scans/trigger/r2", key.key, {}), 403, "resource_denied");
    await expectError(await post(w, "/api/scans/trigger/R1", key.key, {}), 403, "resource_denied");
  });

  test("an API key with allowed_ips: CF-Connecting-IP decides", async () => {
    const key = await createApiKey(w, admin.token, { scopes: ["scans:read"], allowed_ips: ["10.0.0.0/8", "2001:db8::/32"] });
    await expectEcho(await get(w, "/api/scans/dashboard", key.key, { "cf-connecting-ip": "10.1.2.3" }));
    await expectEcho(await get(w, "/api/scans/dashboard", key.key, { "cf-connecting-ip": "2001:db8::7" }));
    for (const ip of ["127.0.0.1", "11.0.0.1", "2001:db9::1", "10.1.2.3, 127.0.0.1", "not-an-ip"]) {
      await expectError(await get(w, "/api/scans/dashboard", key.key, { "cf-connecting-ip": ip }), 403, "ip_denied");
    }
    // X-Forwarded-For is not an address edgeauth trusts.
    await expectError(
      await get(w, "/api/scans/dashboard", key.key, { "x-forwarded-for": "10.1.2.3", "x-real-ip": "10.1.2.3" }),
      403,
      "ip_denied",
    );
    // Scope is checked before IP.
    await expectError(await get(w, "/api/drifts", key.key, { "cf-connecting-ip": "192.0.2.1" }), 403, "insufficient_scope");
  });

  describe("a narrower user (DEFAULT_USER_SCOPES, DEFAULT_USER_TENANTS)", () => {
    let narrow;
    let user;
    before(async () => {
      narrow = await startWorker({ vars: { DEFAULT_USER_SCOPES: "scans:read", DEFAULT_USER_TENANTS: '{"demo":"viewer"}' } });
      user = await signUp(narrow);
    });
    after(async () => {
      await narrow?.dispose();
    });

    test("holds only its scopes", async () => {
      const echo = await expectEcho(await get(narrow, "/api/scans/dashboard", user.token));
      assert.equal(echo.headers["x-edgeauth-scopes"], "scans:read");
      await expectError(await get(narrow, "/api/drifts", user.token), 403, "insufficient_scope", { scope: "drifts:read" });
      await expectError(await get(narrow, `/api/ws/drifts?token=${user.token}`), 403, "insufficient_scope", {
        scope: "drifts:read",
      });
    });

    test("a viewer reads in its tenant, cannot write there, and has no other tenant", async () => {
      await expectEcho(await get(narrow, "/api/v1/tenants/demo/projects", user.token));
      await expectError(await post(narrow, "/api/v1/tenants/demo/projects", user.token, {}), 403, "insufficient_scope", {
        scope: "tenant:write",
      });
      await expectError(await get(narrow, "/api/v1/tenants/other/projects", user.token), 403, "tenant_denied");
    });

    test("cannot mint a key beyond its own scopes", async () => {
      const res = await post(narrow, "/v1/api-keys", user.token, { name: "wide", scopes: ["drifts:read"] });
      await expectError(res, 403, "privilege_escalation");
    });
  });

  test("DEFAULT_USER_SCOPES and DEFAULT_USER_TENANTS set but empty: new users hold nothing", async () => {
    const bare = await startWorker({ vars: { DEFAULT_USER_SCOPES: "", DEFAULT_USER_TENANTS: "" } });
    try {
      const user = await signUp(bare);
      assert.deepEqual(user.user.tenants, {});
      const who = await (await get(bare, "/v1/auth/whoami", user.token)).json();
      assert.deepEqual(who.scopes, []);
      assert.deepEqual(who.tenants, {});
      const echo = await expectEcho(await get(bare, "/api/me", user.token));
      assert.equal(echo.headers["x-edgeauth-scopes"], "");
      await expectError(await get(bare, "/api/scans/dashboard", user.token), 403, "insufficient_scope", { scope: "scans:read" });
      await expectError(await get(bare, "/api/v1/tenants/demo/x", user.token), 403, "tenant_denied");
    } finally {
      await bare.dispose();
    }
  });
});

describe("forwarding to ORIGIN_URL", () => {
  let origin;
  let fw; // forwards to origin
  let fa; // forwards to origin, with FORWARD_AUTHORIZATION
  let user;
  before(async () => {
    origin = await startEchoOrigin();
    [fw, fa] = await Promise.all([
      startWorker({ vars: { ORIGIN_URL: origin.url } }),
      startWorker({ vars: { ORIGIN_URL: `${origin.url}/`, FORWARD_AUTHORIZATION: "true" } }),
    ]);
    user = await signUp(fw);
  });
  after(async () => {
    await fw?.dispose();
    await fa?.dispose();
    await origin?.close();
  });

  test("method, path, query, body and headers arrive as sent; Authorization does not", async () => {
    const body = JSON.stringify({ name: "drift-42", note: "ünïcødé ✓", n: [1, 2, 3] });
    for (const method of ["POST", "PUT", "PATCH", "DELETE"]) {
      origin.clear();
      const res = await fw.fetch("/api/v1/tenants/demo/items/9?b=2&a=1&a=3&e=%2F%20", {
        method,
        headers: { ...bearer(user.token), "content-type": "application/json", "x-custom": "kept", "x-request-id": "r-1" },
        body,
      });
      const echo = await expectEcho(res);
      assert.equal(origin.requests.length, 1);
      const seen = origin.requests[0];
      assert.deepEqual(echo, seen, "the origin's answer is relayed");
      assert.equal(seen.method, method);
      assert.equal(seen.path, "/api/v1/tenants/demo/items/9");
      assert.equal(seen.query, "b=2&a=1&a=3&e=%2F%20");
      assert.equal(seen.body, body);
      assert.equal(seen.headers["content-type"], "application/json");
      assert.equal(seen.headers["x-custom"], "kept");
      assert.equal(seen.headers["x-request-id"], "r-1");
      assert.equal(seen.headers.authorization, undefined);
      assert.equal(seen.headers["x-edgeauth-subject"], user.user.id);
      assert.equal(seen.headers["x-edgeauth-kind"], "user");
      assert.equal(seen.headers["x-edgeauth-tenant"], "demo");
      assert.equal(seen.headers.host, new URL(origin.url).host);
    }
  });

  test("GET without a body; a spoofed Host and x-edgeauth-* headers do not pass", async () => {
    origin.clear();
    const res = await raw(fw, "/api/me?q=1", {
      headers: { ...bearer(user.token), host: "evil.test", "x-edgeauth-subject": "usr_admin" },
    });
    assert.equal(res.status, 200, res.text);
    const [seen] = origin.requests;
    assert.equal(seen.method, "GET");
    assert.equal(seen.query, "q=1");
    assert.equal(seen.body, "");
    assert.equal(seen.headers.host, new URL(origin.url).host);
    assert.equal(seen.headers["x-edgeauth-subject"], user.user.id);
  });

  test("a query without `token` reaches the origin byte for byte", async () => {
    origin.clear();
    const query = "a=1&&b=%20&c&=d&tokens=x&a=1";
    await expectEcho(await get(fw, `/api/me?${query}`, user.token));
    assert.equal(origin.requests[0].query, query);
    origin.clear();
    await expectEcho(await get(fw, "/api/me?a=1&token=secret&b=2", user.token));
    assert.equal(origin.requests[0].query, "a=1&b=2", "only `token` is taken out");
  });

  test("?token= is stripped before it reaches a real origin", async () => {
    origin.clear();
    await expectEcho(await fw.fetch(`/api/ws/drifts?token=${user.token}&cursor=abc`));
    assert.equal(origin.requests[0].query, "cursor=abc");
    assert.ok(!JSON.stringify(origin.requests).includes(user.token));
  });

  test("refused requests never reach the origin", async () => {
    origin.clear();
    await expectError(await fw.fetch("/api/me"), 401, "missing_credential");
    await expectError(await get(fw, "/api/v1/tenants/other/x", user.token), 403, "tenant_denied");
    await expectError(await get(fw, "/nowhere", user.token), 404, "no_route");
    await expectError(await post(fw, "/api/signed/x", user.token, {}), 401, "signature_missing");
    assert.equal(origin.requests.length, 0);
  });

  test("FORWARD_AUTHORIZATION passes Authorization on", async () => {
    const u = await signUp(fa);
    origin.clear();
    await expectEcho(await get(fa, "/api/me", u.token));
    assert.equal(origin.requests[0].headers.authorization, `Bearer ${u.token}`);
    assert.equal(origin.requests[0].path, "/api/me", "a trailing slash on ORIGIN_URL does not double the slash");
  });
});

describe("body limits", () => {
  const tenantPost = (worker, token, body, extra = {}) =>
    worker.fetch("/api/v1/tenants/demo/upload", {
      method: "POST",
      headers: { "content-type": "application/octet-stream", ...bearer(token), ...extra },
      body,
    });
  const stream = (bytes, chunk = 8192) =>
    new ReadableStream({
      start(controller) {
        for (let sent = 0; sent < bytes; sent += chunk) controller.enqueue(new Uint8Array(Math.min(chunk, bytes - sent)).fill(97));
        controller.close();
      },
    });

  test("over MAX_BODY_BYTES (64 KiB) is 413; exactly the limit passes", async () => {
    const echo = await expectEcho(await tenantPost(w, admin.token, "a".repeat(65536)));
    assert.equal(echo.body.length, 65536);
    await expectError(await tenantPost(w, admin.token, "a".repeat(65537)), 413, "payload_too_large");
  });

  test("a chunked body (no Content-Length) is measured too", async () => {
    const res = await w.fetch("/api/v1/tenants/demo/upload", {
      method: "POST",
      headers: bearer(admin.token),
      body: stream(200_000),
      duplex: "half",
    });
    await expectError(res, 413, "payload_too_large");
    const ok = await w.fetch("/api/v1/tenants/demo/upload", {
      method: "POST",
      headers: bearer(admin.token),
      body: stream(1000),
      duplex: "half",
    });
    assert.equal((await expectEcho(ok)).body.length, 1000);
  });

  test("route, then credential, then body: a big body does not hide a 404 or a 401", async () => {
    const big = "a".repeat(200_000);
    await expectError(await w.fetch("/nope", { method: "POST", body: big }), 404, "no_route");
    await expectError(await w.fetch("/api/v1/tenants/demo/upload", { method: "POST", body: big }), 401, "missing_credential");
    await expectError(await tenantPost(w, scansKey.key, big), 403, "tenant_denied");
  });

  test("refusals sent before the body is read still reach the client (no connection reset)", async () => {
    // Each of these is answered without reading its 200 KB body; the connection must not
    // be reset under a client that is still sending (it was, for a few percent of them).
    const big = "a".repeat(200_000);
    const statuses = [];
    for (let i = 0; i < 40; i++) {
      for (const [path, credential] of [["/nope", undefined], ["/v1/api-keys", undefined], ["/api/v1/tenants/demo/upload", admin.token]]) {
        const res = await w.fetch(path, { method: "POST", headers: { "content-type": "application/json", ...(credential ? bearer(credential) : {}) }, body: big });
        statuses.push(res.status);
        await res.arrayBuffer();
      }
    }
    assert.deepEqual([...new Set(statuses)].sort(), [401, 404, 413]);
  });

  test("MAX_BODY_BYTES and a route's max_body_bytes set the limit", async () => {
    const policy = {
      routes: [
        { method: "POST", path: "/small/*", scopes: [] },
        { method: "POST", path: "/large/*", scopes: [], max_body_bytes: 300000 },
        { method: "GET", path: "/public/*", auth: "none" },
      ],
    };
    const small = await startWorker({ vars: { MAX_BODY_BYTES: "1024", POLICY: JSON.stringify(policy) } });
    try {
      const u = await signUp(small);
      const send = (path, n) => small.fetch(path, { method: "POST", headers: bearer(u.token), body: "b".repeat(n) });
      await expectEcho(await send("/small/x", 1024));
      await expectError(await send("/small/x", 1025), 413, "payload_too_large");
      assert.equal((await expectEcho(await send("/large/x", 250_000))).body.length, 250_000);
      await expectError(await send("/large/x", 300_001), 413, "payload_too_large");
      // The worker's own endpoints keep their own limit.
      const reg = await small.fetch("/v1/auth/register", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ email: "x@example.com", password: "p".repeat(2000), name: "x" }),
      });
      assert.ok(reg.status === 413 || reg.status === 400, `register with a 2 KB body: ${reg.status}`);
      await reg.arrayBuffer();
      // A custom policy: the auth-none prefix cannot be used to reach another route.
      for (const target of ["/public/..%2Fsmall%2Fx", "/public/%2e%2e/small/x", "/public/x/..%2F..%2Fsmall/x"]) {
        const res = await raw(small, target, { method: "GET" });
        const reason = res.status >= 400 ? JSON.parse(res.text).error.reason : null;
        const refused = (res.status === 400 && reason === "invalid_path") || (res.status === 404 && reason === "no_route");
        assert.ok(refused || (res.status === 200 && JSON.parse(res.text).path.startsWith("/public/")), `${target}: ${res.status} ${res.text}`);
      }
    } finally {
      await small.dispose();
    }
  });
});

describe("Date on every answer", () => {
  test("IMF-fixdate on 200, 201, 204, 401, 403, 404, 405, 413 and relayed answers", async () => {
    const answers = [
      await w.fetch("/health"),
      await w.fetch("/.well-known/jwks.json"),
      await get(w, "/api/me", admin.token),
      await w.fetch("/api/me"),
      await get(w, "/api/drifts", scansKey.key),
      await w.fetch("/nope"),
      await w.fetch("/v1/auth/token"),
      await w.fetch("/api/me", { method: "OPTIONS", headers: { origin: "https://a.test", "access-control-request-method": "GET" } }),
      await tenantPostBig(),
      await w.fetch("/v1/auth/register", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ email: `d-${Date.now()}@example.com`, password: "password-123", name: "D" }),
      }),
      await w.fetch("/v1/api-keys/key_doesnotexist", { headers: bearer(admin.token) }),
    ];
    const statuses = [];
    for (const res of answers) {
      statuses.push(res.status);
      assertDate(res, `${res.status}`);
      await res.arrayBuffer();
    }
    assert.deepEqual(statuses, [200, 200, 200, 401, 403, 404, 405, 204, 413, 201, 404]);
    assert.ok(answers[6].headers.get("allow")?.includes("POST"), "405 carries Allow");
  });
  const tenantPostBig = () =>
    w.fetch("/api/v1/tenants/demo/x", { method: "POST", headers: bearer(admin.token), body: "x".repeat(70_000) });
});

describe("CORS", () => {
  const ALLOW_HEADERS = ["authorization", "content-type", "x-cli-signature", "x-cli-timestamp", "x-cli-nonce"];
  const preflight = (worker, path, origin, method = "POST") =>
    worker.fetch(path, {
      method: "OPTIONS",
      headers: {
        origin,
        "access-control-request-method": method,
        "access-control-request-headers": "authorization, content-type, x-cli-signature",
      },
    });
  const corsHeaders = (res) => [...res.headers.keys()].filter((k) => k.startsWith("access-control-"));
  const assertPreflightFor = async (res, origin) => {
    assert.equal(res.status, 204);
    assert.equal(res.headers.get("access-control-allow-origin"), origin);
    const methods = (res.headers.get("access-control-allow-methods") ?? "").split(/\s*,\s*/);
    for (const m of ["GET", "POST", "DELETE"]) assert.ok(methods.includes(m), `Allow-Methods has ${m}`);
    const allowed = (res.headers.get("access-control-allow-headers") ?? "").toLowerCase().split(/\s*,\s*/);
    for (const h of ALLOW_HEADERS) assert.ok(allowed.includes(h), `Allow-Headers has ${h}`);
    assert.match(res.headers.get("access-control-max-age") ?? "", /^\d+$/);
    assert.match(res.headers.get("vary") ?? "", /\bOrigin\b/i);
    assertDate(res, "preflight");
    assert.equal(await res.text(), "");
  };
  const assertAnswerFor = (res, origin) => {
    assert.equal(res.headers.get("access-control-allow-origin"), origin);
    const exposed = (res.headers.get("access-control-expose-headers") ?? "").toLowerCase().split(/\s*,\s*/);
    for (const h of ["date", "www-authenticate", "retry-after"]) assert.ok(exposed.includes(h), `Expose-Headers has ${h}`);
    assert.match(res.headers.get("vary") ?? "", /\bOrigin\b/i);
  };

  test("with ALLOWED_ORIGINS=* the origin is echoed, on every path", async () => {
    for (const path of ["/api/me", "/v1/auth/token", "/nope", "/api/signed/x"]) {
      await assertPreflightFor(await preflight(w, path, "https://app.example"), "https://app.example");
    }
    const res = await w.fetch("/api/me", { headers: { origin: "https://app.example" } });
    assertAnswerFor(res, "https://app.example");
    await expectError(res, 401, "missing_credential");
    const ok = await get(w, "/api/me", admin.token, { origin: "https://app.example" });
    assertAnswerFor(ok, "https://app.example");
    await expectEcho(ok);
    // A bare OPTIONS with an Origin (no Access-Control-Request-Method) is answered as a
    // preflight too, on the worker's own paths and the gateway's alike.
    for (const path of ["/v1/auth/token", "/api/me", "/nope"]) {
      const bare = await w.fetch(path, { method: "OPTIONS", headers: { origin: "https://app.example" } });
      await assertPreflightFor(bare, "https://app.example");
    }
    // No Origin, no CORS headers.
    const plain = await w.fetch("/health");
    assert.deepEqual(corsHeaders(plain), []);
    await plain.arrayBuffer();
  });

  describe("with a list of origins", () => {
    let listed;
    before(async () => {
      listed = await startWorker({ vars: { ALLOWED_ORIGINS: "https://app.test, https://admin.test/" } });
    });
    after(async () => {
      await listed?.dispose();
    });

    test("a listed origin gets the headers", async () => {
      await assertPreflightFor(await preflight(listed, "/api/me", "https://app.test"), "https://app.test");
      await assertPreflightFor(await preflight(listed, "/v1/api-keys", "https://admin.test", "DELETE"), "https://admin.test");
      const res = await listed.fetch("/nope", { headers: { origin: "https://admin.test" } });
      assertAnswerFor(res, "https://admin.test");
      await expectError(res, 404, "no_route");
    });

    test("an origin not listed gets none", async () => {
      for (const origin of ["https://evil.test", "https://app.test.evil.test", "http://app.test", "https://APP.test.", "null", "https://app.test:444"]) {
        const pre = await preflight(listed, "/api/me", origin);
        assert.ok(pre.status === 204 || pre.status >= 400, `${origin}: ${pre.status}`);
        assert.deepEqual(corsHeaders(pre), [], `${origin} preflight`);
        await pre.arrayBuffer();
        const res = await listed.fetch("/api/me", { headers: { origin } });
        assert.deepEqual(corsHeaders(res), [], `${origin} answer`);
        await expectError(res, 401, "missing_credential");
      }
    });
  });

  test("an empty ALLOWED_ORIGINS allows no origin", async () => {
    const closed = await startWorker({ vars: { ALLOWED_ORIGINS: "" } });
    try {
      const pre = await preflight(closed, "/api/me", "https://app.test");
      assert.deepEqual(corsHeaders(pre), []);
      await pre.arrayBuffer();
    } finally {
      await closed.dispose();
    }
  });
});

describe("production settings fail closed", () => {
  test("ENVIRONMENT=production without ORIGIN_URL refuses every request with 503 instead of echoing", async () => {
    const prod = await startWorker({ vars: { ENVIRONMENT: "production", ALLOWED_ORIGINS: "", DEFAULT_USER_SCOPES: "", DEFAULT_USER_TENANTS: "{}" } });
    try {
      const res = await prod.fetch("/health");
      assert.equal(res.status, 503);
      assert.equal((await res.json()).error.reason, "store_unavailable");
    } finally {
      await prod.dispose();
    }
  });
});

describe("the console's pages", () => {
  test("are served under /console/ and may not be framed by other sites", async () => {
    const w = await startWorker();
    try {
      for (const path of ["/console/", "/console/device"]) {
        const res = await w.fetch(path);
        assert.equal(res.status, 200, path);
        assert.match(res.headers.get("content-type") ?? "", /text\/html/);
        assert.equal(res.headers.get("content-security-policy"), "frame-ancestors 'none'");
        assert.equal(res.headers.get("x-frame-options"), "DENY");
        assertDate(res);
        await res.arrayBuffer();
      }
      // Its refusals are SPEC's error answers like any other.
      await expectError(await w.fetch("/console/no-such-page.js"), 404, "not_found");
      const post = await w.fetch("/console/", { method: "POST", body: "x" });
      assert.equal(post.headers.get("allow"), "GET, HEAD");
      await expectError(post, 405, "method_not_allowed");
    } finally {
      await w.dispose();
    }
  });
});
