// The SDK's signRequest (SPEC "Request signing", "SDK (npm)"): byte-identical to seed
// 002's Node example for the same timestamp and nonce, and accepted by the worker.
import assert from "node:assert/strict";
import nodeCrypto, { randomBytes } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { startWorker } from "./harness.mjs";

const sdk = await import("../sdk-wasm/pkg/node.js").catch((error) => {
  throw new Error("sdk-wasm/pkg/ is missing: run `bash scripts/build.sh sdk`", { cause: error });
});
const { signRequest, EdgeAuthClient, EdgeAuthError } = sdk;

// Seed 002's example, verbatim. It reads the clock and the random source
// itself, so the vectors run it with both pinned to the values under test.
const SEED_SOURCE = `
const crypto = require('crypto');
function signRequest(token, method, path, body) {
const timestamp = Date.now().toString();
const nonce = crypto.randomBytes(16).toString('hex');
const bodyHash = crypto
.createHash('sha256')
.update(JSON.stringify(body) || '')
.digest('hex');
const data = \`\${timestamp}:\${nonce}:\${method}:\${path}:\${bodyHash}\`;
const signature = crypto
.createHmac('sha256', token)
.update(data)
.digest('hex');
return {
'x-cli-signature': signature,
'x-cli-timestamp': timestamp,
'x-cli-nonce': nonce,
};
}
return signRequest;
`;

function seedSignRequest(timestampMs, nonceHex) {
  const pinnedCrypto = { ...nodeCrypto, randomBytes: () => Buffer.from(nonceHex, "hex") };
  const require = (name) => {
    assert.equal(name, "crypto");
    return pinnedCrypto;
  };
  const PinnedDate = { now: () => timestampMs };
  // eslint-disable-next-line no-new-func
  return new Function("require", "Date", SEED_SOURCE)(require, PinnedDate);
}

const API_KEY = "ea_live_0123456789abcdefghijABCDEFGHIJ0123456789";
const JWT_LIKE =
  "eyJhbGciOiJFUzI1NiIsImtpZCI6ImsxIn0.eyJzdWIiOiJ1c3JfMSIsImV4cCI6MTcwMDAwMzYwMCwic2NvcGUiOiIqIn0.c2lnbmF0dXJl";

const VECTORS = [
  { token: API_KEY, method: "POST", path: "/api/scans/trigger/r1", body: { branch: "main", force: true } },
  { token: API_KEY, method: "GET", path: "/api/drifts/?status=detected&severity=high", body: undefined },
  { token: JWT_LIKE, method: "POST", path: "/api/signed/deploy", body: { note: "déjà vu ✓ 🚀", n: [1, 2.5, null] } },
  { token: JWT_LIKE, method: "PUT", path: "/api/v1/tenants/demo/items/7", body: [] },
  { token: API_KEY, method: "DELETE", path: "/api/runners/r-9", body: {} },
  { token: "ea_test_" + "Z".repeat(64), method: "PATCH", path: "/", body: "plain string body" },
];

describe("signRequest reproduces seed 002's Node example", () => {
  for (const [i, v] of VECTORS.entries()) {
    test(`vector ${i + 1}: ${v.method} ${v.path}`, async () => {
      const timestamp = 1_700_000_000_000 + i * 7919;
      const nonce = randomBytes(16).toString("hex");
      const expected = seedSignRequest(timestamp, nonce)(v.token, v.method, v.path, v.body);
      // The SDK takes the body as text: the seed's JSON.stringify(body) is that text.
      const bodyText = JSON.stringify(v.body);
      const headers = await signRequest(v.token, v.method, v.path, bodyText, { timestamp, nonce });
      assert.deepEqual(headers, expected);
      assert.deepEqual(Object.keys(headers), ["x-cli-signature", "x-cli-timestamp", "x-cli-nonce"]);
      // The same value given as the seed gives it (not yet stringified) signs the
      // same, except a string, which the SDK takes as the body text itself.
      if (typeof v.body !== "string") {
        assert.deepEqual(await signRequest(v.token, v.method, v.path, v.body, { timestamp, nonce }), expected);
      }
    });
  }

  test("a fixed vector, written out", async () => {
    const headers = await signRequest(API_KEY, "POST", "/api/scans/trigger/r1", '{"branch":"main","force":true}', {
      timestamp: 1700000000000,
      nonce: "0123456789abcdef0123456789abcdef",
    });
    assert.deepEqual(headers, {
      "x-cli-signature": "6f1a620ba2ef1e0ba75fac81c39a242215cae7f70352687c467af9b580f768ba",
      "x-cli-timestamp": "1700000000000",
      "x-cli-nonce": "0123456789abcdef0123456789abcdef",
    });
    // Timestamps given as the header's string, and bodies given as bytes, sign the same.
    const again = await signRequest(
      API_KEY,
      "POST",
      "/api/scans/trigger/r1",
      new TextEncoder().encode('{"branch":"main","force":true}'),
      { timestamp: "1700000000000", nonce: "0123456789abcdef0123456789abcdef" },
    );
    assert.deepEqual(again, headers);
  });

  test("by default: now, and a fresh 32-hex-character nonce each time", async () => {
    const before = Date.now();
    const a = await signRequest(API_KEY, "GET", "/api/me", undefined);
    const b = await signRequest(API_KEY, "GET", "/api/me", "");
    const ts = Number(a["x-cli-timestamp"]);
    assert.ok(ts >= before && ts <= Date.now(), `${ts} is now`);
    assert.match(a["x-cli-nonce"], /^[0-9a-f]{32}$/);
    assert.notEqual(a["x-cli-nonce"], b["x-cli-nonce"]);
    assert.match(a["x-cli-signature"], /^[0-9a-f]{64}$/);
  });

  test("a timestamp that is not whole milliseconds is an EdgeAuthError", async () => {
    await assert.rejects(signRequest(API_KEY, "GET", "/", "", { timestamp: 1.5 }), (error) => {
      assert.ok(error instanceof EdgeAuthError);
      assert.equal(error.code, "BAD_REQUEST");
      assert.equal(error.reason, "invalid_field");
      return true;
    });
  });
});

describe("the worker accepts what signRequest signs", () => {
  let worker;
  let token;
  before(async () => {
    worker = await startWorker();
    const email = `sig-${randomBytes(4).toString("hex")}@example.com`;
    const client = new EdgeAuthClient({ baseUrl: worker.url });
    await client.register({ email, password: "correct horse battery", name: "Sig" });
    ({ token } = await client.login({ email, password: "correct horse battery" }));
  });
  after(async () => {
    await worker?.dispose();
  });

  const send = (path, headers, body) =>
    worker.fetch(path, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json", ...headers },
      body,
    });

  test("a signed POST to a route that requires a signature is forwarded; a replay is refused", async () => {
    const path = "/api/signed/deploy?dry_run=1";
    const body = JSON.stringify({ note: "déjà vu ✓", n: 1 });
    const headers = await signRequest(token, "POST", path, body);
    const res = await send(path, headers, body);
    assert.equal(res.status, 200, await res.clone().text());
    const echo = await res.json();
    assert.equal(echo.path, "/api/signed/deploy");
    assert.equal(echo.query, "dry_run=1");
    assert.equal(echo.body, body);
    assert.equal(echo.headers["x-cli-nonce"], headers["x-cli-nonce"]);

    const replay = await send(path, headers, body);
    assert.equal(replay.status, 401);
    assert.equal((await replay.json()).error.reason, "nonce_replayed");
  });

  test("the signature covers the body, the path and the method", async () => {
    const headers = await signRequest(token, "POST", "/api/signed/a", '{"x":1}');
    for (const [path, body] of [
      ["/api/signed/a", '{"x":2}'],
      ["/api/signed/b", '{"x":1}'],
    ]) {
      const res = await send(path, headers, body);
      assert.equal(res.status, 401);
      assert.equal((await res.json()).error.reason, "signature_invalid");
    }
  });

  test("an explicit stale timestamp is refused as timestamp_out_of_window", async () => {
    const stale = Date.now() - 6 * 60 * 1000;
    const headers = await signRequest(token, "POST", "/api/signed/a", "", { timestamp: stale });
    const res = await send("/api/signed/a", headers, "");
    assert.equal(res.status, 401);
    assert.equal((await res.json()).error.reason, "timestamp_out_of_window");
  });

  test("the seed's own function, run as written, signs requests the worker accepts", async () => {
    const seedSign = new Function("require", SEED_SOURCE)((name) => nodeCrypto);
    const body = { branch: "main" };
    const res = await send("/api/signed/seed", seedSign(token, "POST", "/api/signed/seed", body), JSON.stringify(body));
    assert.equal(res.status, 200, await res.clone().text());
    await res.arrayBuffer();
  });
});
