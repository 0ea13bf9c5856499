// Accounts and sessions (SPEC "Auth endpoints"): register, login, whoami, refresh rotation
// with its grace window and theft detection, logout, input checks, login limits, and
// secrets kept out of answers, logs and storage.
import assert from "node:assert/strict";
import { createHash, randomBytes, webcrypto } from "node:crypto";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { startWorker } from "./harness.mjs";
import { CODES } from "./contract.mjs";

const RFC3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/;
const REFRESH_TOKEN = /^ea_rt_[0-9A-Za-z]{32,}$/;
const USER_KEYS = ["email", "email_verified", "id", "name", "roles", "tenants"];
const TOKEN_ANSWER_KEYS = ["expires_at", "refresh_expires_at", "refresh_token", "token", "user"];
const WHOAMI_KEYS = ["kind", "subject", "email", "name", "scopes", "tenants", "expires_at", "key_id"];

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const unique = () => randomBytes(6).toString("hex");
const sha256 = (text) => createHash("sha256").update(text).digest("hex");
/** A password no other byte string in the store or logs could contain by chance. */
const newPassword = () => `pw-${randomBytes(12).toString("base64url")}`;
let ipCounter = 0;
/** A fresh client address, so that one test's failed logins never count against another's. */
const freshIp = () => {
  ipCounter += 1;
  return `198.18.${ipCounter >> 8}.${ipCounter & 255}`;
};

/** Every secret issued or sent in this file: none may show up where it does not belong. */
const secrets = new Set();
const remember = (...values) => {
  for (const v of values) if (v) secrets.add(v);
};
function assertNoSecrets(text, where) {
  for (const s of secrets) {
    assert.ok(!text.includes(s), `${where} holds a secret (${s.slice(0, 10)}…)`);
  }
}

function client(worker) {
  const post = (p, body, { headers = {}, ip = "127.0.0.1", raw = false } = {}) =>
    worker.fetch(p, {
      method: "POST",
      headers: {
        ...(raw ? {} : { "content-type": "application/json" }),
        "cf-connecting-ip": ip,
        ...headers,
      },
      body: raw || typeof body === "string" ? body : JSON.stringify(body),
    });
  const get = (p, token, headers = {}) =>
    worker.fetch(p, { headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers } });
  return {
    post,
    get,
    async register(fields = {}) {
      const body = {
        email: `user-${unique()}@example.com`,
        password: newPassword(),
        name: "Test User",
        ...fields,
      };
      remember(body.password);
      const res = await post("/v1/auth/register", body);
      const text = await res.text();
      assert.equal(res.status, 201, text);
      assertNoSecrets(text, "register answer");
      return { ...body, user: JSON.parse(text).user };
    },
    async login(email, password, ip) {
      const res = await post("/v1/auth/token", { email, password }, { ip: ip ?? freshIp() });
      const text = await res.text();
      assert.equal(res.status, 200, text);
      const body = JSON.parse(text);
      remember(body.token, body.refresh_token);
      return body;
    },
    /** `res` is a copy whose body can still be read (e.g. by expectError). */
    async refresh(refreshToken) {
      const answer = await post("/v1/auth/refresh", { refresh_token: refreshToken });
      const text = await answer.text();
      const res = new Response(text, { status: answer.status, headers: answer.headers });
      const body = JSON.parse(text);
      if (answer.status === 200) remember(body.token, body.refresh_token);
      else assertNoSecrets(text, "refresh refusal");
      return { res, body, text };
    },
  };
}

/** Asserts SPEC's error shape and headers; returns the body. */
async function expectError(res, status, reason, { field, where = "answer" } = {}) {
  const text = await res.text();
  assert.equal(res.status, status, `${where}: ${text}`);
  assert.match(res.headers.get("content-type") ?? "", /^application\/json/);
  assert.ok(res.headers.get("date"), "every answer carries Date");
  const body = JSON.parse(text);
  assert.deepEqual(Object.keys(body), ["error"]);
  assert.deepEqual(Object.keys(body.error).sort(), ["code", "message", "reason"]);
  assert.equal(body.error.code, CODES[status]);
  assert.equal(body.error.reason, reason, `${where}: ${body.error.message}`);
  assert.equal(typeof body.error.message, "string");
  assert.ok(body.error.message.length > 0);
  if (field) assert.ok(body.error.message.includes(field), `message names ${field}: ${body.error.message}`);
  if (status === 401) {
    assert.match(res.headers.get("www-authenticate") ?? "", /^Bearer realm="edgeauth"/);
  }
  assertNoSecrets(text, where);
  return body;
}

function decodeJwt(token) {
  const [h, p] = token.split(".");
  const part = (s) => JSON.parse(Buffer.from(s, "base64url").toString("utf8"));
  return { header: part(h), claims: part(p) };
}

async function verifyJwt(token, jwks) {
  const { header } = decodeJwt(token);
  const jwk = jwks.keys.find((k) => k.kid === header.kid);
  assert.ok(jwk, `kid ${header.kid} is in the JWKS`);
  const key = await webcrypto.subtle.importKey("jwk", jwk, { name: "ECDSA", namedCurve: "P-256" }, false, [
    "verify",
  ]);
  const [h, p, s] = token.split(".");
  return webcrypto.subtle.verify(
    { name: "ECDSA", hash: "SHA-256" },
    key,
    Buffer.from(s, "base64url"),
    Buffer.from(`${h}.${p}`),
  );
}

function assertTokenAnswer(body, user, { sid } = {}) {
  assert.deepEqual(Object.keys(body).sort(), TOKEN_ANSWER_KEYS);
  assert.match(body.refresh_token, REFRESH_TOKEN);
  assert.match(body.expires_at, RFC3339);
  assert.match(body.refresh_expires_at, RFC3339);
  assert.deepEqual(body.user, user);
  const { header, claims } = decodeJwt(body.token);
  assert.equal(header.alg, "ES256");
  assert.equal(typeof header.kid, "string");
  for (const c of ["iss", "aud", "sub", "iat", "exp", "jti", "sid", "email", "scope", "tenants"]) {
    assert.ok(c in claims, `claim ${c}`);
  }
  assert.equal(claims.sub, user.id);
  assert.equal(claims.email, user.email);
  assert.equal(claims.exp - claims.iat, 3600, "ACCESS_TTL_S defaults to an hour");
  assert.equal(new Date(body.expires_at).getTime() / 1000, claims.exp);
  const refreshLeft = new Date(body.refresh_expires_at).getTime() / 1000 - claims.iat;
  assert.ok(Math.abs(refreshLeft - 604800) <= 5, `refresh token lives 7 days (${refreshLeft} s)`);
  if (sid) assert.equal(claims.sid, sid);
  return claims;
}

/** Every file under `dir`, recursively. */
async function filesUnder(dir) {
  const out = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await filesUnder(full)));
    else if (entry.isFile()) out.push(full);
  }
  return out;
}

let worker; // default development vars (grace 30 s)
let api;
let jwks;

before(async () => {
  worker = await startWorker();
  api = client(worker);
  jwks = await (await worker.fetch("/.well-known/jwks.json")).json();
});

after(async () => {
  await worker?.dispose();
});

describe("the whole flow (REFRESH_GRACE_S=1, state persisted and scanned)", () => {
  let flow;
  let flowApi;
  let persistDir;
  let flowJwks;

  before(async () => {
    persistDir = await mkdtemp(path.join(tmpdir(), "edgeauth-accounts-"));
    flow = await startWorker({ vars: { REFRESH_GRACE_S: "1" }, persistDir });
    flowApi = client(flow);
    flowJwks = await (await flow.fetch("/.well-known/jwks.json")).json();
  });

  after(async () => {
    await flow?.dispose();
    if (persistDir) await rm(persistDir, { recursive: true, force: true });
  });

  test("register → login → whoami → gateway → refresh → theft → login → logout; nothing secret stored or logged", async () => {
    const { post, get } = flowApi;
    const password = newPassword();
    remember(password);
    const email = `Flow.${unique()}@Example.COM`;

    // register
    let res = await post("/v1/auth/register", { email: ` ${email} `, password, name: "  Flow User " });
    let text = await res.text();
    assert.equal(res.status, 201, text);
    assert.match(res.headers.get("content-type") ?? "", /^application\/json/);
    assertNoSecrets(text, "register answer");
    const { user } = JSON.parse(text);
    assert.deepEqual(Object.keys(JSON.parse(text)), ["user"]);
    assert.deepEqual(Object.keys(user).sort(), USER_KEYS);
    assert.equal(user.email, email.toLowerCase(), "emails are trimmed and lower-cased");
    assert.equal(user.name, "Flow User", "names are trimmed");
    assert.match(user.id, /^usr_[0-9A-Za-z]+$/);
    assert.ok(Array.isArray(user.roles));
    assert.deepEqual(user.tenants, { demo: "admin" });

    // login (the address in any case)
    const first = await flowApi.login(email.toUpperCase(), password);
    const claims = assertTokenAnswer(first, user);
    assert.ok(await verifyJwt(first.token, flowJwks), "the access token verifies against the JWKS");
    assert.equal(decodeJwt(first.token).header.kid, flow.signingKeys.active_kid);
    assert.equal(claims.scope, "*");
    assert.deepEqual(claims.tenants, { demo: "admin" });
    const sid = claims.sid;

    // whoami
    res = await get("/v1/auth/whoami", first.token);
    text = await res.text();
    assert.equal(res.status, 200, text);
    assertNoSecrets(text, "whoami");
    const who = JSON.parse(text);
    for (const k of Object.keys(who)) assert.ok(WHOAMI_KEYS.includes(k), `whoami field ${k}`);
    assert.deepEqual(who, {
      kind: "user",
      subject: user.id,
      email: user.email,
      name: "Flow User",
      scopes: ["*"],
      tenants: { demo: "admin" },
      expires_at: first.expires_at,
    });

    // the gateway: the identity reaches the echo origin, the credential does not
    res = await get("/api/me", first.token, { "x-edgeauth-subject": "usr_mallory", "x-edgeauth-kind": "api_key" });
    text = await res.text();
    assert.equal(res.status, 200, text);
    assertNoSecrets(text, "echo of /api/me");
    const echo = JSON.parse(text);
    assert.equal(echo.path, "/api/me");
    assert.equal(echo.headers["x-edgeauth-subject"], user.id);
    assert.equal(echo.headers["x-edgeauth-kind"], "user");
    assert.equal(echo.headers["x-edgeauth-scopes"], "*");
    assert.equal(echo.headers.authorization, undefined);
    assert.equal(echo.headers["x-edgeauth-key-id"], undefined);

    // refresh: a new refresh token, same session
    let r = await flowApi.refresh(first.refresh_token);
    assert.equal(r.res.status, 200, r.text);
    const second = r.body;
    assertTokenAnswer(second, user, { sid });
    assert.notEqual(second.refresh_token, first.refresh_token);
    assert.notEqual(second.token, first.token);
    assert.equal((await get("/v1/auth/whoami", second.token)).status, 200);

    // the spent token again within the grace window: the same successor
    r = await flowApi.refresh(first.refresh_token);
    assert.equal(r.res.status, 200, r.text);
    assert.equal(r.body.refresh_token, second.refresh_token);
    assert.equal(decodeJwt(r.body.token).claims.sid, sid);
    const graceToken = r.body.token;

    // after the window: theft; the whole session ends
    await sleep(2200);
    r = await flowApi.refresh(first.refresh_token);
    await expectError(r.res, 401, "refresh_token_reused", { where: "spent refresh token after the grace window" });
    for (const token of [first.token, second.token, graceToken]) {
      await expectError(await get("/v1/auth/whoami", token), 401, "session_revoked", { where: "whoami after theft" });
      const gw = await get("/api/me", token);
      await expectError(gw, 401, "session_revoked", { where: "gateway after theft" });
      assert.match(gw.headers.get("www-authenticate"), /error="invalid_token", error_description="session_revoked"/);
    }
    r = await flowApi.refresh(second.refresh_token);
    assert.equal(r.res.status, 401, r.text);
    assert.equal(r.body.error.reason, "session_revoked", "the newest refresh token of a stolen session fails");

    // login again: a new session
    const third = await flowApi.login(email, password);
    const sid3 = assertTokenAnswer(third, user).sid;
    assert.notEqual(sid3, sid);
    assert.equal((await get("/api/me", third.token)).status, 200);

    // logout
    res = await post("/v1/auth/logout", undefined, { raw: true, headers: { authorization: `Bearer ${third.token}` } });
    assert.equal(res.status, 204);
    assert.equal(await res.text(), "");
    await expectError(await get("/v1/auth/whoami", third.token), 401, "session_revoked", { where: "whoami after logout" });
    await expectError(await get("/api/me", third.token), 401, "session_revoked", { where: "gateway after logout" });
    r = await flowApi.refresh(third.refresh_token);
    assert.equal(r.res.status, 401, r.text);
    assert.equal(r.body.error.code, "UNAUTHORIZED");
    assert.equal(r.body.error.reason, "session_revoked");
    res = await post("/v1/auth/logout", {}, { headers: { authorization: `Bearer ${third.token}` } });
    await expectError(res, 401, "session_revoked", { where: "second logout" });

    // logout with {refresh_token} ends that session too (e.g. the other tab's)
    const a = await flowApi.login(email, password);
    const b = await flowApi.login(email, password);
    assert.equal((await get("/v1/auth/whoami", b.token)).status, 200, "b's session is known active here");
    res = await post("/v1/auth/logout", { refresh_token: b.refresh_token }, { headers: { authorization: `Bearer ${a.token}` } });
    assert.equal(res.status, 204);
    await expectError(await get("/v1/auth/whoami", b.token), 401, "session_revoked", { where: "other session" });
    r = await flowApi.refresh(b.refresh_token);
    assert.equal(r.body.error?.reason, "session_revoked");

    // failed attempts whose data must not be kept either
    const rejected = newPassword().slice(0, 7);
    remember(rejected);
    await expectError(
      await post("/v1/auth/register", { email: `x-${unique()}@example.com`, password: rejected, name: "x" }),
      400,
      "invalid_field",
      { field: "password" },
    );
    const wrong = newPassword();
    remember(wrong);
    await expectError(await post("/v1/auth/token", { email, password: wrong }, { ip: freshIp() }), 401, "invalid_login");

    // logs: nothing secret
    await flow.settleLogs();
    const logText = flow.logs.join("\n");
    assertNoSecrets(logText, "workerd logs");

    // storage: nothing secret; refresh tokens only as their SHA-256
    await flow.dispose();
    flow = undefined;
    const files = await filesUnder(persistDir);
    assert.ok(files.length > 0, "state was persisted");
    const stored = Buffer.concat(await Promise.all(files.map((f) => readFile(f))));
    const storedText = stored.toString("latin1");
    for (const s of secrets) {
      assert.ok(!stored.includes(Buffer.from(s)), `a secret is stored in plain (${s.slice(0, 10)}…)`);
    }
    for (const rt of [first.refresh_token, second.refresh_token, third.refresh_token]) {
      assert.ok(storedText.includes(sha256(rt)), "the refresh token's SHA-256 is what is stored");
    }
    assert.match(storedText, /pbkdf2-sha256\$100000\$/, "passwords are stored as PBKDF2-SHA256 with 100,000 iterations");
  });
});

describe("concurrency", () => {
  test("10 concurrent registrations of one email: exactly one 201, the rest 409 email_taken", async () => {
    const email = `race-${unique()}@example.com`;
    const passwords = Array.from({ length: 10 }, newPassword);
    remember(...passwords);
    const answers = await Promise.all(
      passwords.map((password, i) => api.post("/v1/auth/register", { email, password, name: `racer ${i}` })),
    );
    const created = answers.filter((r) => r.status === 201);
    assert.equal(created.length, 1, `statuses: ${answers.map((r) => r.status)}`);
    const { user } = await created[0].json();
    for (const res of answers.filter((r) => r.status !== 201)) {
      await expectError(res, 409, "email_taken", { where: "duplicate registration" });
    }
    const winner = Number(user.name.split(" ")[1]);
    await api.login(email, passwords[winner]);
    const loser = (winner + 1) % 10;
    await expectError(
      await api.post("/v1/auth/token", { email, password: passwords[loser] }, { ip: freshIp() }),
      401,
      "invalid_login",
    );
    // Another case of the same address is the same account.
    await expectError(
      await api.post("/v1/auth/register", { email: email.toUpperCase(), password: newPassword(), name: "again" }),
      409,
      "email_taken",
    );
  });

  test("10 concurrent refreshes with one token get one new refresh token, and the session goes on", async () => {
    const { email, password, user } = await api.register();
    const start = await api.login(email, password);
    const sid = decodeJwt(start.token).claims.sid;
    const results = await Promise.all(Array.from({ length: 10 }, () => api.refresh(start.refresh_token)));
    for (const r of results) assert.equal(r.res.status, 200, r.text);
    const successors = new Set(results.map((r) => r.body.refresh_token));
    assert.equal(successors.size, 1, "every tab gets the same successor");
    const [next] = successors;
    assert.notEqual(next, start.refresh_token);
    for (const r of results) {
      assertTokenAnswer(r.body, user, { sid });
      assert.equal((await api.get("/v1/auth/whoami", r.body.token)).status, 200);
    }
    const later = await api.refresh(next);
    assert.equal(later.res.status, 200, later.text);
    assert.equal(decodeJwt(later.body.token).claims.sid, sid);
    assert.equal((await api.get("/api/me", later.body.token)).status, 200);
    assert.equal((await api.get("/api/me", start.token)).status, 200, "the session was not revoked");
  });
});

describe("REFRESH_GRACE_S=0: no grace window", () => {
  test("a spent refresh token presented again at once is theft: the session is revoked", async () => {
    const strict = await startWorker({ vars: { REFRESH_GRACE_S: "0" } });
    try {
      const sapi = client(strict);
      assert.equal((await strict.fetch("/health")).status, 200, "0 is a valid setting");
      const { email, password } = await sapi.register();
      const start = await sapi.login(email, password);
      const first = await sapi.refresh(start.refresh_token);
      assert.equal(first.res.status, 200, first.text);
      await expectError((await sapi.refresh(start.refresh_token)).res, 401, "refresh_token_reused", { where: "replay" });
      await expectError((await sapi.refresh(first.body.refresh_token)).res, 401, "session_revoked", { where: "successor" });
      await expectError(await sapi.get("/v1/auth/whoami", first.body.token), 401, "session_revoked");
    } finally {
      await strict.dispose();
    }
  });
});

describe("bad input", () => {
  const register = (body, opts) => api.post("/v1/auth/register", body, opts);
  const good = () => ({ email: `in-${unique()}@example.com`, password: newPassword(), name: "Input" });

  test("missing fields name the field", async () => {
    for (const field of ["email", "password", "name"]) {
      const body = good();
      delete body[field];
      await expectError(await register(body), 400, "invalid_field", { field, where: `without ${field}` });
    }
    await expectError(await register({}), 400, "invalid_field", { where: "{}" });
    const wrongType = { ...good(), password: 918273645 };
    const e = await expectError(await register(wrongType), 400, "invalid_field", { field: "password" });
    assert.ok(!e.error.message.includes("918273645"), "the password is not echoed");
  });

  test("invalid emails", async () => {
    for (const email of ["not-an-email", "a@b", "@example.com", "a b@example.com", "a@@example.com", ""]) {
      await expectError(await register({ ...good(), email }), 400, "invalid_field", { field: "email", where: email });
    }
  });

  test("password length: 8–1024 characters", async () => {
    const short = newPassword().slice(0, 7);
    remember(short);
    await expectError(await register({ ...good(), password: short }), 400, "invalid_field", { field: "password" });
    const long = `L${randomBytes(8).toString("hex")}`.padEnd(1025, "x");
    assert.equal(long.length, 1025);
    remember(long);
    await expectError(await register({ ...good(), password: long }), 400, "invalid_field", { field: "password" });
    const max = `M${randomBytes(8).toString("hex")}`.padEnd(1024, "y");
    const ok = await api.register({ password: max });
    await api.login(ok.email, max);
    // Characters, not bytes: 1024 two-byte characters are allowed, 8 of them too.
    await api.register({ password: `${randomBytes(4).toString("hex")}`.padEnd(1024, "ü") });
    await api.register({ password: "ümlautßé" });
  });

  test("name length: 1–200 characters", async () => {
    for (const name of ["", "   ", "n".repeat(201)]) {
      await expectError(await register({ ...good(), name }), 400, "invalid_field", {
        field: "name",
        where: `name of ${name.length}`,
      });
    }
    const { user } = await api.register({ name: "n".repeat(200) });
    assert.equal(user.name.length, 200);
  });

  test("content type and JSON", async () => {
    const body = JSON.stringify(good());
    for (const type of ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"]) {
      await expectError(
        await api.post("/v1/auth/register", body, { raw: true, headers: { "content-type": type } }),
        400,
        "unsupported_media_type",
        { where: type },
      );
    }
    await expectError(
      await worker.fetch("/v1/auth/register", { method: "POST", body: new Uint8Array(Buffer.from(body)) }),
      400,
      "unsupported_media_type",
      { where: "no content type" },
    );
    await expectError(await register('{"email": "a@example.com",'), 400, "invalid_json");
    await expectError(await register("not json"), 400, "invalid_json");
    await expectError(await register("[1, 2]"), 400, "invalid_json");
    const res = await api.post("/v1/auth/register", JSON.stringify(good()), {
      raw: true,
      headers: { "content-type": "Application/JSON; charset=utf-8" },
    });
    assert.equal(res.status, 201, "parameters and case of the media type do not matter");
  });

  test("bodies over 64 KiB are 413; 64 KiB exactly is read", async () => {
    const huge = JSON.stringify({ ...good(), name: "x".repeat(1024 * 1024) });
    await expectError(await register(huge), 413, "payload_too_large");
    const base = JSON.stringify({ ...good(), name: "" });
    const fill = (n) => base.replace('"name":""', `"name":"${"z".repeat(n - base.length)}"`);
    assert.equal(fill(65536).length, 65536);
    await expectError(await register(fill(65536)), 400, "invalid_field", { field: "name" });
    await expectError(await register(fill(65537)), 413, "payload_too_large");
    // Without Content-Length (chunked) the limit holds too.
    const bytes = Buffer.from(huge);
    const stream = new ReadableStream({
      start(controller) {
        for (let i = 0; i < bytes.length; i += 65536) controller.enqueue(bytes.subarray(i, i + 65536));
        controller.close();
      },
    });
    const chunked = await worker.fetch("/v1/auth/register", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: stream,
      duplex: "half",
    });
    await expectError(chunked, 413, "payload_too_large", { where: "chunked 1 MB" });
  });

  test("a refused registration creates nothing", async () => {
    const email = `half-${unique()}@example.com`;
    const firstPassword = newPassword();
    remember(firstPassword);
    await expectError(await register({ email, password: firstPassword, name: "n".repeat(201) }), 400, "invalid_field");
    await expectError(
      await api.post("/v1/auth/token", { email, password: firstPassword }, { ip: freshIp() }),
      401,
      "invalid_login",
      { where: "login with the refused registration's data" },
    );
    const { password } = await api.register({ email });
    await expectError(
      await api.post("/v1/auth/token", { email, password: firstPassword }, { ip: freshIp() }),
      401,
      "invalid_login",
    );
    await api.login(email, password);
  });

  test("login, refresh and logout check their bodies", async () => {
    await expectError(await api.post("/v1/auth/token", { email: "a@example.com" }), 400, "invalid_field", {
      field: "password",
    });
    await expectError(await api.post("/v1/auth/token", { password: "whatever1" }), 400, "invalid_field", {
      field: "email",
    });
    await expectError(
      await api.post("/v1/auth/token", '{"email":"a@example.com","password":"x"}', {
        raw: true,
        headers: { "content-type": "text/plain" },
      }),
      400,
      "unsupported_media_type",
    );
    await expectError(await api.post("/v1/auth/refresh", {}), 400, "invalid_field", { field: "refresh_token" });
    await expectError(await api.post("/v1/auth/refresh", "{"), 400, "invalid_json");
    for (const token of ["nope", "ea_rt_short", `ea_rt_${"A".repeat(43)}`, `ea_rt_${"A".repeat(42)}!`]) {
      await expectError(await api.post("/v1/auth/refresh", { refresh_token: token }), 401, "refresh_token_invalid", {
        where: token,
      });
    }
    // An access token is not a refresh token.
    const { email, password } = await api.register();
    const session = await api.login(email, password);
    await expectError(await api.post("/v1/auth/refresh", { refresh_token: session.token }), 401, "refresh_token_invalid");
    // Logout: credential first, then the body.
    await expectError(await api.post("/v1/auth/logout", "{"), 401, "missing_credential");
    await expectError(
      await api.post("/v1/auth/logout", "{", { headers: { authorization: `Bearer ${session.token}` } }),
      400,
      "invalid_json",
    );
  });

  test("the auth endpoints answer other methods with 405 and Allow", async () => {
    for (const p of ["/v1/auth/register", "/v1/auth/token", "/v1/auth/refresh", "/v1/auth/logout"]) {
      const res = await worker.fetch(p);
      assert.equal(res.headers.get("allow"), "POST", p);
      await expectError(res, 405, "method_not_allowed", { where: `GET ${p}` });
    }
    for (const p of ["/v1/auth/nope", "/v1/auth/token/extra"]) {
      await expectError(await worker.fetch(p, { method: "POST" }), 404, "no_route", { where: p });
    }
    const who = await worker.fetch("/v1/auth/whoami", { method: "POST" });
    assert.equal(who.status, 405);
    assert.match(who.headers.get("allow") ?? "", /GET/);
  });
});

describe("login failures", () => {
  test("an unknown email and a wrong password get the same answer", async () => {
    const { email } = await api.register();
    const wrong = newPassword();
    remember(wrong);
    const answers = [];
    for (const body of [
      { email, password: wrong },
      { email: `nobody-${unique()}@example.com`, password: wrong },
    ]) {
      const res = await api.post("/v1/auth/token", body, { ip: freshIp() });
      const text = await res.text();
      answers.push({
        status: res.status,
        text,
        auth: res.headers.get("www-authenticate"),
        type: res.headers.get("content-type"),
      });
    }
    assert.deepEqual(answers[0], answers[1]);
    assert.equal(answers[0].status, 401);
    const body = JSON.parse(answers[0].text);
    assert.equal(body.error.code, "UNAUTHORIZED");
    assert.equal(body.error.reason, "invalid_login");
    assert.equal(answers[0].auth, 'Bearer realm="edgeauth", error="invalid_token", error_description="invalid_login"');
  });

  test("10 failures for one email give 429 with Retry-After, even from other addresses", async () => {
    const { email, password } = await api.register();
    for (let i = 0; i < 10; i++) {
      await expectError(
        await api.post("/v1/auth/token", { email, password: `wrong-${i}-password` }, { ip: freshIp() }),
        401,
        "invalid_login",
        { where: `failure ${i + 1}` },
      );
    }
    for (const attempt of [password, "wrong-again-password"]) {
      const res = await api.post("/v1/auth/token", { email, password: attempt }, { ip: freshIp() });
      const retry = res.headers.get("retry-after");
      await expectError(res, 429, "rate_limited", { where: "11th attempt" });
      assert.match(retry ?? "", /^\d+$/, "Retry-After is whole seconds");
      assert.ok(Number(retry) > 0 && Number(retry) <= 900, `Retry-After ${retry} is within the 15-minute window`);
    }
    // The lock is per email: another account from another address still signs in.
    const other = await api.register();
    await api.login(other.email, other.password, freshIp());
  });

  test("concurrent failures cannot overrun the limit", async () => {
    const { email, password } = await api.register();
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        api.post("/v1/auth/token", { email, password: `wrong-${i}-password` }, { ip: freshIp() }),
      ),
    );
    const statuses = answers.map((r) => r.status).sort();
    await Promise.all(answers.map((r) => r.arrayBuffer()));
    assert.deepEqual(statuses, [...Array(10).fill(401), ...Array(10).fill(429)]);
    const res = await api.post("/v1/auth/token", { email, password }, { ip: freshIp() });
    await expectError(res, 429, "rate_limited");
  });

  test("a successful login clears its email's count", async () => {
    const { email, password } = await api.register();
    const fail = (i) => api.post("/v1/auth/token", { email, password: `wrong-${i}-password` }, { ip: freshIp() });
    for (let i = 0; i < 9; i++) await expectError(await fail(i), 401, "invalid_login");
    await api.login(email, password);
    for (let i = 0; i < 10; i++) await expectError(await fail(i), 401, "invalid_login", { where: `after success ${i}` });
    await expectError(await fail(10), 429, "rate_limited");
  });

  test("50 failures from one address give 429 for any email from it; successes do not count", async () => {
    const ip = freshIp();
    const { email, password } = await api.register();
    for (let i = 0; i < 5; i++) await api.login(email, password, ip);
    for (let i = 0; i < 50; i++) {
      const res = await api.post(
        "/v1/auth/token",
        { email: `spray-${i}-${unique()}@example.com`, password: "Spring2026!" },
        { ip },
      );
      await expectError(res, 401, "invalid_login", { where: `spray ${i + 1}` });
    }
    const res = await api.post("/v1/auth/token", { email, password }, { ip });
    const retry = res.headers.get("retry-after");
    await expectError(res, 429, "rate_limited", { where: "51st from one address" });
    assert.ok(/^\d+$/.test(retry ?? "") && Number(retry) <= 900, `Retry-After ${retry}`);
    // The same account from another address is fine.
    await api.login(email, password, freshIp());
  });
});

test("no answer or log line holds a password, refresh token or access token", async () => {
  await worker.settleLogs();
  assert.ok(secrets.size > 20, "the file collected the secrets it used");
  assertNoSecrets(worker.logs.join("\n"), "workerd logs");
});
