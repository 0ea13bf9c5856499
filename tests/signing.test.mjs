// Request signing (SPEC "Request signing", seed 002): requests signed by the seed's
// Node function are accepted; replays, stale or future timestamps, and any change to
// the method, path, query or body under a valid signature are 401s with SPEC's
// reasons; unsigned requests are refused where required and logged where optional;
// the NonceSet Durable Object forgets nonces once their window has passed; a failing
// nonce store fails closed.
import assert from "node:assert/strict";
import crypto from "node:crypto";
import { after, before, describe, test } from "node:test";
import { startEchoOrigin, startWorker } from "./harness.mjs";
import { bearer, createApiKey, expectEcho, expectError, signUp, unique } from "./contract.mjs";

// Seed 002's example, exactly as published.
function signRequest(token, method, path, body) {
  const timestamp = Date.now().toString();
  const nonce = crypto.randomBytes(16).toString('hex');
  const bodyHash = crypto
    .createHash('sha256')
    .update(JSON.stringify(body) || '')
    .digest('hex');
  const data = `${timestamp}:${nonce}:${method}:${path}:${bodyHash}`;
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

/** The same scheme with the timestamp, nonce and raw body text chosen by the test. */
function signWith(token, method, path, bodyText = "", { timestamp = Date.now(), nonce = crypto.randomBytes(16).toString("hex") } = {}) {
  const bodyHash = crypto.createHash("sha256").update(bodyText).digest("hex");
  const data = `${timestamp}:${nonce}:${method}:${path}:${bodyHash}`;
  return {
    "x-cli-signature": crypto.createHmac("sha256", token).update(data).digest("hex"),
    "x-cli-timestamp": String(timestamp),
    "x-cli-nonce": nonce,
  };
}

const MINUTE = 60_000;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const sha256 = (text) => crypto.createHash("sha256").update(text).digest("hex");

let origin;
let w;
let user;
let key; // an API key of user
before(async () => {
  origin = await startEchoOrigin();
  w = await startWorker({ vars: { ORIGIN_URL: origin.url } });
  user = await signUp(w);
  key = await createApiKey(w, user.token, { scopes: ["*"] });
});
after(async () => {
  await w?.dispose();
  await origin?.close();
});

/** Sends `body` (an object, sent as JSON.stringify(body), or undefined) signed by the seed function. */
function sendSigned(worker, credential, method, path, body, extra = {}) {
  const headers = { ...bearer(credential), ...signRequest(credential, method, path, body), ...extra };
  if (body !== undefined) headers["content-type"] = "application/json";
  return worker.fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
}

/** The NonceSet object of a credential, asked through Miniflare: `{count, next_purge_ms}`. */
const nonceStatsBody = async (worker, credential) => {
  const ns = await worker.mf.getDurableObjectNamespace("NONCES");
  const res = await ns.get(ns.idFromName(sha256(credential))).fetch("http://do/stats");
  assert.equal(res.status, 200);
  return res.json();
};
const nonceStats = async (worker, credential) => (await nonceStatsBody(worker, credential)).count;

describe("requests signed by the seed's function are accepted", () => {
  test("POST /api/signed/* (signature required) with a JSON body, with and without a query", async () => {
    const body = { branch: "main", force: true, note: "ünïcødé" };
    for (const path of ["/api/signed/deploy", "/api/signed/deploy/now?dry_run=1&b=2"]) {
      origin.clear();
      const echo = await expectEcho(await sendSigned(w, user.token, "POST", path, body));
      assert.equal(echo.body, JSON.stringify(body));
      assert.equal(`${echo.path}${echo.query ? `?${echo.query}` : ""}`, path);
      assert.equal(echo.headers["x-edgeauth-subject"], user.user.id);
      assert.equal(origin.requests.length, 1);
    }
  });

  test("POST /api/signed/* without a body (the hash of the empty string)", async () => {
    const echo = await expectEcho(await sendSigned(w, user.token, "POST", "/api/signed/ping", undefined));
    assert.equal(echo.body, "");
  });

  test("GET on optional routes, with and without a query", async () => {
    for (const path of ["/api/me", "/api/drifts?status=detected&severity=high", "/api/scans/dashboard?x=%2F"]) {
      const echo = await expectEcho(await sendSigned(w, user.token, "GET", path, undefined));
      assert.equal(echo.method, "GET");
    }
  });

  test("POST on the optional trigger route, with and without a query", async () => {
    await expectEcho(await sendSigned(w, user.token, "POST", "/api/scans/trigger/r1", { branch: "main" }));
    await expectEcho(await sendSigned(w, user.token, "POST", "/api/scans/trigger/r1?priority=high", { branch: "dev" }));
  });

  test("an API key signs the same way (seed 002's CLI tokens)", async () => {
    await expectEcho(await sendSigned(w, key.key, "POST", "/api/signed/ci", { run: 1 }));
    await expectEcho(await sendSigned(w, key.key, "GET", "/api/scans/dashboard", undefined));
  });

  test("a query token signs the target as sent, token included", async () => {
    const path = `/api/ws/drifts?token=${user.token}&since=1`;
    const headers = signRequest(user.token, "GET", path, undefined);
    const echo = await expectEcho(await w.fetch(path, { headers }));
    assert.equal(echo.query, "since=1");
  });

  test("timestamps 4 minutes old or ahead are inside the window", async () => {
    for (const skew of [-4 * MINUTE, 4 * MINUTE]) {
      const headers = signWith(user.token, "POST", "/api/signed/skew", "{}", { timestamp: Date.now() + skew });
      await expectEcho(await w.fetch("/api/signed/skew", { method: "POST", headers: { ...bearer(user.token), ...headers }, body: "{}" }));
    }
  });
});

describe("replays", () => {
  test("20 concurrent requests with one nonce: exactly one is forwarded", async () => {
    const body = { op: "rotate", id: unique() };
    const path = "/api/signed/rotate";
    const headers = { ...bearer(user.token), "content-type": "application/json", ...signRequest(user.token, "POST", path, body) };
    origin.clear();
    const answers = await Promise.all(
      Array.from({ length: 20 }, () => w.fetch(path, { method: "POST", headers, body: JSON.stringify(body) })),
    );
    const ok = answers.filter((r) => r.status === 200);
    const refused = answers.filter((r) => r.status !== 200);
    assert.equal(ok.length, 1, `statuses: ${answers.map((r) => r.status).join(",")}`);
    for (const res of ok) await res.arrayBuffer();
    for (const res of refused) await expectError(res, 401, "nonce_replayed");
    const forwarded = origin.requests.filter((r) => r.headers["x-cli-nonce"] === headers["x-cli-nonce"]);
    assert.equal(forwarded.length, 1, "the origin saw the nonce once");

    // And once more, a second later.
    await sleep(1000);
    await expectError(await w.fetch(path, { method: "POST", headers, body: JSON.stringify(body) }), 401, "nonce_replayed");
  });

  test("a replay on an optional route is refused too, never passed as unsigned", async () => {
    const headers = { ...bearer(user.token), ...signRequest(user.token, "GET", "/api/me", undefined) };
    await expectEcho(await w.fetch("/api/me", { headers }));
    await expectError(await w.fetch("/api/me", { headers }), 401, "nonce_replayed");
  });

  test("nonces are per credential", async () => {
    const nonce = crypto.randomBytes(16).toString("hex");
    for (const credential of [user.token, key.key]) {
      const headers = signWith(credential, "POST", "/api/signed/n", "", { nonce });
      await expectEcho(await w.fetch("/api/signed/n", { method: "POST", headers: { ...bearer(credential), ...headers } }));
    }
  });

  test("a forged request cannot burn someone's nonce", async () => {
    const nonce = crypto.randomBytes(16).toString("hex");
    const forged = signWith("not-the-credential", "POST", "/api/signed/b", "", { nonce });
    await expectError(await w.fetch("/api/signed/b", { method: "POST", headers: { ...bearer(user.token), ...forged } }), 401, "signature_invalid");
    const genuine = signWith(user.token, "POST", "/api/signed/b", "", { nonce });
    await expectEcho(await w.fetch("/api/signed/b", { method: "POST", headers: { ...bearer(user.token), ...genuine } }));
  });
});

describe("refused signatures", () => {
  const path = "/api/signed/op";
  const send = (headers, { method = "POST", to = path, body = '{"a":1}', credential = user.token } = {}) =>
    w.fetch(to, { method, headers: { ...bearer(credential), "content-type": "application/json", ...headers }, body: method === "GET" ? undefined : body });

  test("timestamps 6 minutes old or ahead: timestamp_out_of_window", async () => {
    for (const skew of [-6 * MINUTE, 6 * MINUTE, -60 * MINUTE]) {
      const headers = signWith(user.token, "POST", path, '{"a":1}', { timestamp: Date.now() + skew });
      await expectError(await send(headers), 401, "timestamp_out_of_window");
    }
    // Seconds instead of milliseconds are 1970 in milliseconds.
    const seconds = signWith(user.token, "POST", path, '{"a":1}', { timestamp: Math.floor(Date.now() / 1000) });
    await expectError(await send(seconds), 401, "timestamp_out_of_window");
  });

  test("a valid signature over another body, path, query, method or credential: signature_invalid", async () => {
    const signed = () => signWith(user.token, "POST", path, '{"a":1}');
    await expectError(await send(signed(), { body: '{"a":2}' }), 401, "signature_invalid");
    await expectError(await send(signed(), { body: '{"a": 1}' }), 401, "signature_invalid");
    await expectError(await send(signed(), { body: "" }), 401, "signature_invalid");
    await expectError(await send(signed(), { to: "/api/signed/other" }), 401, "signature_invalid");
    await expectError(await send(signed(), { to: `${path}?a=1` }), 401, "signature_invalid");
    await expectError(await send(signed(), { method: "PUT", to: path }), 404, "no_route");
    const getSigned = signWith(user.token, "GET", "/api/me", "");
    await expectError(
      await w.fetch("/api/me?x=1", { headers: { ...bearer(user.token), ...getSigned } }),
      401,
      "signature_invalid",
    );
    const asGet = signWith(user.token, "GET", path, '{"a":1}');
    await expectError(await send(asGet), 401, "signature_invalid");
    const otherKey = signWith(key.key, "POST", path, '{"a":1}');
    await expectError(await send(otherKey), 401, "signature_invalid");
    const q = signWith(user.token, "POST", `${path}?a=1`, '{"a":1}');
    await expectError(await send(q, { to: `${path}?a=2` }), 401, "signature_invalid");
    await expectError(await send(q, { to: `${path}?a=1&b=2` }), 401, "signature_invalid");
  });

  test("malformed x-cli-* headers: signature_invalid, the message names the header", async () => {
    const good = signWith(user.token, "POST", path, '{"a":1}');
    const cases = [
      [{ ...good, "x-cli-signature": "z".repeat(64) }, "x-cli-signature"],
      [{ ...good, "x-cli-signature": good["x-cli-signature"].slice(0, 63) }, "x-cli-signature"],
      [{ ...good, "x-cli-signature": `${good["x-cli-signature"]}00` }, "x-cli-signature"],
      [{ ...good, "x-cli-signature": Buffer.from(good["x-cli-signature"], "hex").toString("base64") }, "x-cli-signature"],
      [{ ...good, "x-cli-signature": "" }, "x-cli-signature"],
      [{ ...good, "x-cli-timestamp": "yesterday" }, "x-cli-timestamp"],
      [{ ...good, "x-cli-timestamp": `${good["x-cli-timestamp"]}.5` }, "x-cli-timestamp"],
      [{ ...good, "x-cli-timestamp": `-${good["x-cli-timestamp"]}` }, "x-cli-timestamp"],
      [{ ...good, "x-cli-timestamp": "1e12" }, "x-cli-timestamp"],
      [{ ...good, "x-cli-timestamp": "" }, "x-cli-timestamp"],
      [{ ...good, "x-cli-nonce": "short" }, "x-cli-nonce"],
      [{ ...good, "x-cli-nonce": "a".repeat(129) }, "x-cli-nonce"],
      [{ ...good, "x-cli-nonce": "0123456789abcdef!@#$" }, "x-cli-nonce"],
      [{ ...good, "x-cli-nonce": "0123456789abcdef/../.." }, "x-cli-nonce"],
      [{ ...good, "x-cli-nonce": "" }, "x-cli-nonce"],
      // A signature without its timestamp or nonce, or those without a signature.
      [{ "x-cli-signature": good["x-cli-signature"], "x-cli-nonce": good["x-cli-nonce"] }, "x-cli-timestamp"],
      [{ "x-cli-signature": good["x-cli-signature"], "x-cli-timestamp": good["x-cli-timestamp"] }, "x-cli-nonce"],
      [{ "x-cli-timestamp": good["x-cli-timestamp"], "x-cli-nonce": good["x-cli-nonce"] }, "x-cli-signature"],
      [{ "x-cli-nonce": good["x-cli-nonce"] }, "x-cli-signature"],
    ];
    for (const [headers, named] of cases) {
      const err = await expectError(await send(headers), 401, "signature_invalid");
      assert.ok(err.message.includes(named), `${JSON.stringify(headers)}: "${err.message}" names ${named}`);
    }
    // Two of a header arrive joined by ", ": not a value of either.
    const doubled = new Headers({ ...bearer(user.token), ...good });
    doubled.append("x-cli-nonce", crypto.randomBytes(16).toString("hex"));
    const twice = await expectError(await w.fetch(path, { method: "POST", headers: doubled, body: '{"a":1}' }), 401, "signature_invalid");
    assert.ok(twice.message.includes("x-cli-nonce"), twice.message);
    // Also on an optional route: an attempted signature is never ignored.
    const err = await expectError(
      await w.fetch("/api/me", { headers: { ...bearer(user.token), "x-cli-signature": "nothex" } }),
      401,
      "signature_invalid",
    );
    assert.ok(err.message.includes("x-cli-signature"));
  });

  test("unsigned on the required route: signature_missing; the credential is checked first", async () => {
    await expectError(await send({}), 401, "signature_missing");
    await expectError(await w.fetch(path, { method: "POST", headers: bearer(key.key), body: "{}" }), 401, "signature_missing");
    const signed = signWith(user.token, "POST", path, "{}");
    await expectError(await w.fetch(path, { method: "POST", headers: signed, body: "{}" }), 401, "missing_credential");
    await expectError(
      await w.fetch(path, { method: "POST", headers: { authorization: "Bearer garbage", ...signed }, body: "{}" }),
      401,
      "malformed_credential",
    );
  });

  test("signature headers are part of the credential: their 401s come before the body's 413", async () => {
    const big = "x".repeat(100_000);
    await expectError(await w.fetch(path, { method: "POST", headers: bearer(user.token), body: big }), 401, "signature_missing");
    const stale = signWith(user.token, "POST", path, big, { timestamp: Date.now() - 10 * MINUTE });
    await expectError(await w.fetch(path, { method: "POST", headers: { ...bearer(user.token), ...stale }, body: big }), 401, "timestamp_out_of_window");
    const bad = { ...signWith(user.token, "POST", path, big), "x-cli-nonce": "bad" };
    await expectError(await w.fetch(path, { method: "POST", headers: { ...bearer(user.token), ...bad }, body: big }), 401, "signature_invalid");
    // A well-formed, timely signature needs the body for its MAC: the body's limit decides first.
    const fine = signWith(user.token, "POST", path, big);
    await expectError(await w.fetch(path, { method: "POST", headers: { ...bearer(user.token), ...fine }, body: big }), 413, "payload_too_large");
  });

  test("a signature on an optional route is verified like anywhere else", async () => {
    const wrong = signWith(user.token, "POST", "/api/scans/trigger/r1", '{"x":1}');
    const res = await w.fetch("/api/scans/trigger/r1", {
      method: "POST",
      headers: { ...bearer(user.token), ...wrong },
      body: '{"x":2}',
    });
    await expectError(res, 401, "signature_invalid");
  });
});

describe("signatures beyond the policy's routes", () => {
  test("signature headers are part of the credential: their 401s come before the route's 403s", async () => {
    const narrow = await createApiKey(w, user.token, { scopes: ["runners:manage"], allowed_ips: ["203.0.113.9"] });
    // Unsigned, the route's own refusal.
    await expectError(await w.fetch("/api/signed/x", { method: "POST", headers: bearer(narrow.key), body: "{}" }), 401, "signature_missing");
    await expectError(await w.fetch("/api/drifts", { headers: bearer(narrow.key) }), 403, "insufficient_scope", { scope: "drifts:read" });
    // A stale or malformed signature is named before scope or address.
    const stale = signWith(narrow.key, "GET", "/api/drifts", "", { timestamp: Date.now() - 10 * MINUTE });
    await expectError(await w.fetch("/api/drifts", { headers: { ...bearer(narrow.key), ...stale } }), 401, "timestamp_out_of_window");
    const malformed = { ...signWith(narrow.key, "GET", "/api/drifts", ""), "x-cli-nonce": "bad" };
    await expectError(await w.fetch("/api/drifts", { headers: { ...bearer(narrow.key), ...malformed } }), 401, "signature_invalid");
  });

  test("on the worker's own endpoints a present signature is checked too, never ignored", async () => {
    const who = "/v1/auth/whoami";
    // Unsigned and well signed both pass.
    assert.equal((await w.fetch(who, { headers: bearer(user.token) })).status, 200);
    const good = signWith(user.token, "GET", who, "");
    assert.equal((await w.fetch(who, { headers: { ...bearer(user.token), ...good } })).status, 200);
    // Replayed, wrong, stale or malformed: 401.
    await expectError(await w.fetch(who, { headers: { ...bearer(user.token), ...good } }), 401, "nonce_replayed");
    const wrong = signWith(user.token, "GET", "/v1/api-keys", "");
    await expectError(await w.fetch(who, { headers: { ...bearer(user.token), ...wrong } }), 401, "signature_invalid");
    const stale = signWith(user.token, "GET", who, "", { timestamp: Date.now() - 10 * MINUTE });
    await expectError(await w.fetch(who, { headers: { ...bearer(user.token), ...stale } }), 401, "timestamp_out_of_window");
    await expectError(await w.fetch(who, { headers: { ...bearer(user.token), "x-cli-signature": "nothex" } }), 401, "signature_invalid");
    // With a body: the MAC covers it, and the handler still reads it.
    const body = JSON.stringify({ name: `signed-${unique()}`, scopes: ["scans:read"] });
    const create = (headers) =>
      w.fetch("/v1/api-keys", { method: "POST", headers: { ...bearer(user.token), "content-type": "application/json", ...headers }, body });
    const created = await create(signWith(user.token, "POST", "/v1/api-keys", body));
    assert.equal(created.status, 201, await created.clone().text());
    assert.equal((await created.json()).name, JSON.parse(body).name);
    await expectError(await create(signWith(user.token, "POST", "/v1/api-keys", "{}")), 401, "signature_invalid");
  });
});

describe("unsigned requests on optional routes", () => {
  test("pass, counted per credential in a summary line (never a line per request) that holds no secret", async () => {
    const w2 = await startWorker();
    try {
      const me = await signUp(w2);
      const repo = `repo-${unique()}`;
      const path = `/api/scans/trigger/${repo}`;
      for (let i = 0; i < 5; i++) {
        await expectEcho(await w2.fetch(`${path}?why=test`, { method: "POST", headers: bearer(me.token), body: "{}" }));
      }
      await expectEcho(await sendSigned(w2, me.token, "POST", path, {}));
      await w2.settleLogs(200);
      const summaries = w2.logs
        .filter((line) => line.includes('"unsigned_requests"'))
        .map((line) => JSON.parse(line.slice(line.indexOf("{"))));
      // A quiet isolate reports its first unsigned request at once; the rest wait for the
      // next summary (at most once a minute), so five requests are not five lines.
      assert.equal(summaries.length, 1, JSON.stringify(summaries));
      const [credential, count] = Object.entries(summaries[0].counts)[0];
      assert.match(credential, /^user:ses_/, "counted per credential, named by its session");
      assert.equal(count, 1);
      for (const line of w2.logs) {
        assert.ok(!line.includes(me.token), "no log line holds the access token");
        assert.ok(!line.includes(repo), "nor the path (a query may hold a token)");
      }
    } finally {
      await w2.dispose();
    }
  });
});

describe("the NonceSet Durable Object", () => {
  test("keeps a nonce until its timestamp + 5 min, then an alarm deletes it", { timeout: 20_000 }, async () => {
    const fresh = await signUp(w); // a credential with no other nonces
    const path = "/api/signed/late";
    // Inside the window by ~2.5 s: the nonce's entry expires ~2.5 s from now.
    const timestamp = Date.now() - (5 * MINUTE - 2500);
    const headers = { ...bearer(fresh.token), ...signWith(fresh.token, "POST", path, "", { timestamp }) };
    await expectEcho(await w.fetch(path, { method: "POST", headers }));
    assert.equal(await nonceStats(w, fresh.token), 1, "the nonce is held while its window lasts");
    const { next_purge_ms: purge } = await nonceStatsBody(w, fresh.token);
    assert.ok(purge >= timestamp + 5 * MINUTE && purge <= timestamp + 5 * MINUTE + 1000, `the alarm is set for the end of the window (${purge - timestamp} ms after the timestamp)`);
    await expectError(await w.fetch(path, { method: "POST", headers }), 401, "nonce_replayed");

    let count = 1;
    const deadline = Date.now() + 8000;
    while (count > 0 && Date.now() < deadline) {
      await sleep(250);
      count = await nonceStats(w, fresh.token);
    }
    assert.equal(count, 0, "the alarm removed the expired nonce");
    assert.ok(Date.now() >= timestamp + 5 * MINUTE, "not before its window had passed");
    // Gone from storage, and the window refuses the old request anyway.
    await expectError(await w.fetch(path, { method: "POST", headers }), 401, "timestamp_out_of_window");
    assert.equal(await nonceStats(w, fresh.token), 0);
  });
});

describe("a failing nonce store", () => {
  let broken;
  let u;
  before(async () => {
    broken = await startWorker({ omitBindings: ["NONCES"] });
    u = await signUp(broken);
  });
  after(async () => {
    await broken?.dispose();
  });

  test("a signed request is 503 store_unavailable, never a pass", async () => {
    await expectError(await sendSigned(broken, u.token, "POST", "/api/signed/x", { a: 1 }), 503, "store_unavailable");
    await expectError(await sendSigned(broken, u.token, "GET", "/api/me", undefined), 503, "store_unavailable");
  });

  test("what needs no nonce store still works, and refusals stay refusals", async () => {
    await expectEcho(await broken.fetch("/api/me", { headers: bearer(u.token) }));
    await expectError(await broken.fetch("/api/signed/x", { method: "POST", headers: bearer(u.token) }), 401, "signature_missing");
    const forged = signWith("wrong", "POST", "/api/signed/x", "");
    await expectError(await broken.fetch("/api/signed/x", { method: "POST", headers: { ...bearer(u.token), ...forged } }), 401, "signature_invalid");
  });
});
