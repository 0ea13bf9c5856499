// Hostile input at the rim: raw paths a matcher and an origin could read differently,
// methods the runtime does not know, header names CGI origins merge, values that must
// not forward alike, and bodies that never end. Raw requests go through node:http,
// which sends the request target exactly as written (fetch would normalize it).
import assert from "node:assert/strict";
import http from "node:http";
import { after, before, describe, test } from "node:test";
import { SignJWT } from "jose";
import { startWorker } from "./harness.mjs";
import { bearer, expectError, signUp } from "./contract.mjs";

const HS_ISS = "https://hs.test";
const HS_SECRET = "hostile-test-secret-0123456789abcdef";

let w;
let user;
before(async () => {
  w = await startWorker({
    vars: { EXTERNAL_ISSUERS: JSON.stringify([{ iss: HS_ISS, audiences: ["api"], hs256_secret: HS_SECRET }]) },
  });
  user = await signUp(w);
});
after(async () => {
  await w?.dispose();
});

/** One raw HTTP/1.1 request; resolves to {status, headers, body}. */
function raw(method, target, { headers = {}, body } = {}) {
  const url = new URL(w.url);
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: url.hostname, port: url.port, method, path: target, headers, agent: false },
      (res) => {
        const chunks = [];
        res.on("data", (c) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString() }));
      },
    );
    req.on("error", reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

function expectRawError(res, status, reason) {
  assert.equal(res.status, status, res.body);
  const e = JSON.parse(res.body).error;
  assert.equal(e.reason, reason, e.message);
  return e;
}

describe("paths: the path the policy matched is the path the origin gets", () => {
  for (const target of [
    "/api/..;/v1/tenants/demo/x",
    "/api/scans/..;/dashboard",
    "/api/%252e%252e/me",
    "/api/me;jsessionid=1",
    "/api/v1/tenants/demo;x=1/things",
    "/api/scans/trigger/r1%2f..%2fadmin",
    "/api/scans/trigger/r1%5cadmin",
    "/api/me/%00",
    "/api//me",
  ]) {
    test(`${target} is 400 invalid_path and never forwarded`, async () => {
      const res = await raw("GET", target, { headers: bearer(user.token) });
      expectRawError(res, 400, "invalid_path");
      assert.ok(!res.body.includes('"headers"'), "not an echo of the origin");
    });
  }

  test("an ordinary escaped path reaches the origin exactly as it arrived", async () => {
    const res = await raw("POST", "/api/scans/trigger/r%20x?a=%2F", { headers: bearer(user.token), body: "{}" });
    assert.equal(res.status, 200, res.body);
    const echo = JSON.parse(res.body);
    assert.equal(echo.path, "/api/scans/trigger/r%20x");
    assert.equal(echo.query, "a=%2F");
  });
});

describe("methods the runtime does not know are not GET", () => {
  test("on the worker's own endpoints: 405 with Allow", async () => {
    for (const [method, path, allow] of [
      ["PROPFIND", "/v1/api-keys", "GET, POST"],
      ["QUERY", "/.well-known/jwks.json", "GET, HEAD"],
      ["MKCOL", "/v1/auth/whoami", "GET, HEAD"],
    ]) {
      const res = await raw(method, path, { headers: bearer(user.token) });
      expectRawError(res, 405, "method_not_allowed");
      assert.equal(res.headers.allow, allow, `${method} ${path}`);
    }
  });

  test("on the gateway: no GET route matches, and a `*` route forwards the method as sent", async () => {
    expectRawError(await raw("PROPFIND", "/health"), 404, "no_route");
    expectRawError(await raw("QUERY", "/api/me", { headers: bearer(user.token) }), 404, "no_route");
    const res = await raw("PROPFIND", "/api/v1/tenants/demo/x", { headers: bearer(user.token) });
    assert.equal(res.status, 200, res.body);
    assert.equal(JSON.parse(res.body).method, "PROPFIND");
  });
});

describe("headers", () => {
  test("no client header the origin could read as x-edgeauth-* gets through, on any route", async () => {
    const spoof = {
      "x-edgeauth-tenant": "victim",
      x_edgeauth_tenant: "victim",
      "X_EdgeAuth-Subject": "admin",
      "x-edgeauth_kind": "user",
    };
    for (const [path, auth] of [["/api/v1/tenants/demo/x", bearer(user.token)], ["/health", {}]]) {
      const res = await raw("GET", path, { headers: { ...spoof, ...auth } });
      assert.equal(res.status, 200, res.body);
      const headers = JSON.parse(res.body).headers;
      for (const name of Object.keys(headers)) {
        assert.ok(!/^x[-_]edgeauth[-_]/i.test(name) || headers[name] !== "victim", `${path}: ${name} got through`);
      }
      assert.ok(!("x_edgeauth_tenant" in headers), path);
      if (path === "/health") assert.ok(!Object.keys(headers).some((n) => /edgeauth/i.test(n)), "auth: none forwards none");
    }
  });

  test("distinct external subjects never forward alike, and each is tied to its issuer", async () => {
    const mint = (sub) =>
      new SignJWT({ sub, scope: "scans:read" })
        .setProtectedHeader({ alg: "HS256", typ: "JWT" })
        .setIssuer(HS_ISS)
        .setAudience("api")
        .setExpirationTime("5m")
        .sign(new TextEncoder().encode(HS_SECRET));
    const seen = new Map();
    for (const sub of ["é", "%C3%A9", "a b", "a%20b", "x\u202ey"]) {
      const res = await w.fetch("/api/me", { headers: bearer(await mint(sub)) });
      assert.equal(res.status, 200);
      const h = (await res.json()).headers;
      assert.equal(h["x-edgeauth-issuer"], HS_ISS);
      assert.match(h["x-edgeauth-subject"], /^[\x20-\x7e]*$/);
      assert.equal(decodeURIComponent(h["x-edgeauth-subject"]), sub, "one decoding gives the subject back");
      assert.ok(!seen.has(h["x-edgeauth-subject"]), `${sub} forwards like ${seen.get(h["x-edgeauth-subject"])}`);
      seen.set(h["x-edgeauth-subject"], sub);
    }
  });
});

describe("bodies", () => {
  test("an endless chunked body is refused with 413 once it passes the limit", async () => {
    const url = new URL(w.url);
    const status = await new Promise((resolve) => {
      const req = http.request({ host: url.hostname, port: url.port, method: "POST", path: "/v1/auth/token", agent: false,
        headers: { "content-type": "application/json", "transfer-encoding": "chunked" } });
      let sent = 0;
      const chunk = Buffer.alloc(64 * 1024, "a");
      const pump = () => {
        while (sent < 300 * 1024 * 1024) {
          sent += chunk.length;
          if (!req.write(chunk)) return req.once("drain", pump);
        }
        req.end();
      };
      req.on("response", (res) => {
        res.resume();
        resolve({ code: res.statusCode, sent });
        req.destroy();
      });
      req.on("error", () => resolve({ code: "reset", sent }));
      pump();
    });
    // The answer comes long before 300 MB were sent; a reset after the drain limit is
    // the other acceptable end (the worker keeps nothing either way).
    assert.ok(status.code === 413 || status.code === "reset", JSON.stringify(status));
    assert.ok(status.sent < 64 * 1024 * 1024, `answered after ${status.sent} bytes`);
    // And the worker still serves.
    assert.equal((await w.fetch("/health")).status, 200);
  });

  test("the same holds on forwarded routes", async () => {
    const res = await w.fetch("/api/scans/trigger/r1", {
      method: "POST",
      headers: bearer(user.token),
      body: new ReadableStream({
        start(c) {
          for (let i = 0; i < 20; i++) c.enqueue(new Uint8Array(8192));
          c.close();
        },
      }),
      duplex: "half",
    });
    await expectError(res, 413, "payload_too_large");
  });
});

describe("device login cannot be used for phishing", () => {
  const post = (path, body, headers = {}) =>
    w.fetch(path, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(body) });

  test("a client name with control or bidi characters is refused", async () => {
    for (const name of ["evil\u202Eexe.sh", "a\u2066b", "line\nbreak", "zero\u200Bwidth"]) {
      await expectError(await post("/v1/auth/device/code", { client_name: name }), 400, "invalid_field");
    }
    assert.equal((await post("/v1/auth/device/code", { client_name: "Łódź build-7 ✓" })).status, 200);
  });

  test("the approval lookup says where and when the request came from", async () => {
    const started = Date.now();
    const code = await (await post("/v1/auth/device/code", { client_name: "ci" }, { "cf-connecting-ip": "198.51.100.23" })).json();
    const res = await w.fetch(`/v1/auth/device/lookup?user_code=${code.user_code}`, { headers: bearer(user.token) });
    assert.equal(res.status, 200);
    const found = await res.json();
    assert.equal(found.client_name, "ci");
    assert.equal(found.requested_from.ip, "198.51.100.23");
    assert.ok("country" in found.requested_from);
    assert.ok(Math.abs(Date.parse(found.requested_at) - started) < 5_000, found.requested_at);
  });

  test("user-code guesses are limited per user (429), and the right code then waits too", async () => {
    const guesser = await signUp(w);
    const code = await (await post("/v1/auth/device/code", { client_name: "target" })).json();
    const letters = "BCDFGHJKLMNPQRSTVWXZ";
    let refused;
    for (let i = 0; i < 12; i++) {
      const guess = `${letters[i]}${letters[i]}${letters[i]}${letters[i]}-ZZZZ`;
      const res = i % 2
        ? await w.fetch(`/v1/auth/device/lookup?user_code=${guess}`, { headers: bearer(guesser.token) })
        : await post("/v1/auth/device/approve", { user_code: guess, approve: true }, bearer(guesser.token));
      if (res.status === 429) {
        refused = { i, retry: res.headers.get("retry-after") };
        await expectError(res, 429, "rate_limited");
        break;
      }
      await expectError(res, 404, "not_found");
    }
    assert.equal(refused?.i, 10, "the 11th unknown code is refused");
    assert.ok(Number(refused.retry) > 0);
    const right = await w.fetch(`/v1/auth/device/lookup?user_code=${code.user_code}`, { headers: bearer(guesser.token) });
    await expectError(right, 429, "rate_limited");
    // Another user is not held back by this one's guesses.
    const other = await w.fetch(`/v1/auth/device/lookup?user_code=${code.user_code}`, { headers: bearer(user.token) });
    assert.equal(other.status, 200);
  });
});
