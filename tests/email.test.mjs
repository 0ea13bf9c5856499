// Email links (SPEC "Email: verification, password reset, sign-in links"): verification at
// registration and on request, forgotten passwords, sign-in links, the per-address limit
// that answers alike for known and unknown addresses, TENANT_ADMINS granted only to a
// verified address, REQUIRE_VERIFIED_EMAIL, and delivery: the development mailbox, one JSON
// POST to a mail API in production (a local stand-in here), or 503 when nothing can send.
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import http from "node:http";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { Log, LogLevel, Miniflare } from "miniflare";
import { generateSigningKeys, miniflareOptions, workerVars } from "../scripts/miniflare-options.mjs";
import { startWorker } from "./harness.mjs";
import { assertBinaryBuilt, assertExit, cliEnv, runCli, stdoutJson, tempHome } from "./cli-helpers.mjs";
import { assertDate, expectError } from "./contract.mjs";

const EMAIL_TOKEN = /^ea_et_[0-9A-Za-z]{32,}$/;
const RFC3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/;
const USER_KEYS = ["email", "email_verified", "id", "name", "roles", "tenants"];
const TOKEN_ANSWER_KEYS = ["expires_at", "refresh_expires_at", "refresh_token", "token", "user"];
const PASSWORD = "correct horse battery";

const unique = () => randomBytes(5).toString("hex");
const fresh = (tag, domain = "example.com") => `${tag}-${unique()}@${domain}`;
const sha256 = (text) => createHash("sha256").update(text).digest("hex");

/** Calls on one worker: JSON posts, bearer GETs, the dev mailbox. */
function api(worker) {
  const post = (p, body, token) =>
    worker.fetch(p, {
      method: "POST",
      headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(body),
    });
  const get = (p, token) => worker.fetch(p, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  const self = {
    post,
    get,
    async register(email, { password = PASSWORD, name = "Ada" } = {}) {
      const res = await post("/v1/auth/register", { email, password, name });
      const text = await res.text();
      assert.equal(res.status, 201, text);
      return JSON.parse(text).user;
    },
    async login(email, password = PASSWORD) {
      const res = await post("/v1/auth/token", { email, password });
      const text = await res.text();
      assert.equal(res.status, 200, text);
      return JSON.parse(text);
    },
    /** The development mailbox of `email`, newest first. */
    async mailbox(email) {
      const res = await get(`/v1/dev/mailbox?to=${encodeURIComponent(email)}`);
      const text = await res.text();
      assert.equal(res.status, 200, text);
      assertDate(res, "mailbox");
      const body = JSON.parse(text);
      assert.deepEqual(Object.keys(body), ["messages"]);
      return body.messages;
    },
    /** The token of the newest message to `email` whose link opens `/console/<page>`. */
    async token(email, page) {
      const message = (await self.mailbox(email)).find((m) => m.link.includes(`/console/${page}#`));
      assert.ok(message, `a /console/${page} message to ${email}`);
      return tokenOf(message.link);
    },
  };
  return self;
}

/** The token in a link's fragment (`…#token=ea_et_…`). */
function tokenOf(link) {
  const url = new URL(link);
  assert.equal(url.search, "", "the token is never in the query");
  const token = new URLSearchParams(url.hash.slice(1)).get("token");
  assert.match(token ?? "", EMAIL_TOKEN);
  return token;
}

async function expect202(res, what) {
  const text = await res.text();
  assert.equal(res.status, 202, `${what}: ${text}`);
  assert.deepEqual(JSON.parse(text), {}, what);
  assertDate(res, what);
  return text;
}

function assertTokenAnswer(answer, email) {
  assert.deepEqual(Object.keys(answer).sort(), TOKEN_ANSWER_KEYS);
  assert.deepEqual(Object.keys(answer.user).sort(), USER_KEYS);
  assert.equal(answer.user.email, email);
  assert.match(answer.refresh_token, /^ea_rt_/);
}

function assertMessage(message, { to, page, expires }) {
  assert.deepEqual(Object.keys(message).sort(), ["link", "sent_at", "subject", "text", "to"]);
  assert.equal(message.to, to);
  assert.match(message.sent_at, RFC3339);
  assert.ok(Math.abs(Date.parse(message.sent_at) - Date.now()) < 60_000, "sent_at is now");
  assert.match(message.link, new RegExp(`^http://127\\.0\\.0\\.1:\\d+/console/${page}#token=ea_et_[0-9A-Za-z]{32,}$`));
  assert.ok(message.text.includes(message.link), "the text holds the link");
  assert.match(message.subject, /edgeauth/);
  assert.match(message.text, /edgeauth/);
  assert.ok(message.text.includes(`expires in ${expires}`), message.text);
  assert.match(message.text, /If this wasn't you, ignore this message/);
}

describe("development: the local mailbox", () => {
  let worker;
  let a;
  before(async () => {
    worker = await startWorker({
      vars: {
        DEFAULT_USER_TENANTS: "{}",
        TENANT_ADMINS: JSON.stringify({ acme: ["ops@acme.test", "ops2@acme.test", "ops3@acme.test"] }),
      },
    });
    a = api(worker);
  });
  after(async () => {
    await worker?.dispose();
  });

  test("registration sends a verification link; it verifies once; the user says so", async () => {
    const email = fresh("verify");
    const user = await a.register(email);
    assert.deepEqual(Object.keys(user).sort(), USER_KEYS);
    assert.equal(user.email_verified, false);

    const messages = await a.mailbox(email);
    assert.equal(messages.length, 1);
    assertMessage(messages[0], { to: email, page: "verify", expires: "24 hours" });
    assert.ok(messages[0].link.startsWith(`${worker.url}/console/verify#token=`), "on the worker's own origin");
    const token = tokenOf(messages[0].link);

    const before = await a.login(email);
    assert.equal(before.user.email_verified, false);

    let res = await a.post("/v1/auth/email/verify", { token });
    const text = await res.text();
    assert.equal(res.status, 200, text);
    const body = JSON.parse(text);
    assert.deepEqual(Object.keys(body), ["user"]);
    assert.deepEqual(Object.keys(body.user).sort(), USER_KEYS);
    assert.equal(body.user.email_verified, true);
    assert.equal(body.user.id, user.id);

    await expectError(await a.post("/v1/auth/email/verify", { token }), 400, "email_token_invalid");
    await expectError(await a.post("/v1/auth/email/verify", { token: `ea_et_${"x".repeat(43)}` }), 400, "email_token_invalid");
    await expectError(await a.post("/v1/auth/email/verify", { token: "not-a-token" }), 400, "email_token_invalid");
    res = await a.post("/v1/auth/email/verify", {});
    assert.match((await expectError(res, 400, "invalid_field")).message, /^token/);
    assert.equal((await a.login(email)).user.email_verified, true);
  });

  test("verify/send needs a signed-in user and sends another link; a verified user gets none", async () => {
    await expectError(await a.post("/v1/auth/email/verify/send", {}), 401, "missing_credential");
    const email = fresh("resend");
    await a.register(email);
    const { token: access } = await a.login(email);
    await expect202(await a.post("/v1/auth/email/verify/send", {}, access), "verify/send");
    const messages = await a.mailbox(email);
    assert.equal(messages.length, 2);
    assert.ok(Date.parse(messages[0].sent_at) >= Date.parse(messages[1].sent_at), "newest first");
    // Either link verifies; the other then goes with it.
    const [newer, older] = messages.map((m) => tokenOf(m.link));
    assert.equal((await a.post("/v1/auth/email/verify", { token: newer })).status, 200);
    await expectError(await a.post("/v1/auth/email/verify", { token: older }), 400, "email_token_invalid");
    await expect202(await a.post("/v1/auth/email/verify/send", {}, access), "verify/send when verified");
    assert.equal((await a.mailbox(email)).length, 2, "nothing to verify: nothing sent");
  });

  test("forgot + reset: the old password and every earlier session stop working at once", async () => {
    const email = fresh("reset");
    await a.register(email);
    const first = await a.login(email);
    assert.equal((await a.get("/api/me", first.token)).status, 200);

    const known = await expect202(await a.post("/v1/auth/password/forgot", { email: email.toUpperCase() }), "forgot");
    const unknown = await expect202(await a.post("/v1/auth/password/forgot", { email: fresh("nobody") }), "forgot unknown");
    assert.equal(known, unknown, "the same answer whether or not the address is registered");
    await expectError(await a.post("/v1/auth/password/forgot", { email: "not an email" }), 400, "invalid_field");

    const message = (await a.mailbox(email))[0];
    assertMessage(message, { to: email, page: "reset", expires: "15 minutes" });
    const token = tokenOf(message.link);

    const password = `new-${unique()}-password`;
    let res = await a.post("/v1/auth/password/reset", { token, password: "short" });
    assert.match((await expectError(res, 400, "invalid_field")).message, /^password/);
    res = await a.post("/v1/auth/password/reset", { token, password });
    const text = await res.text();
    assert.equal(res.status, 200, text);
    const answer = JSON.parse(text);
    assertTokenAnswer(answer, email);
    assert.equal(answer.user.email_verified, true, "a reset proves the mailbox");

    // The earlier session: its refresh token and its access token fail at once.
    await expectError(await a.post("/v1/auth/refresh", { refresh_token: first.refresh_token }), 401, "session_revoked");
    await expectError(await a.get("/api/me", first.token), 401, "session_revoked");
    // The new one works.
    assert.equal((await a.get("/api/me", answer.token)).status, 200);
    assert.equal((await a.post("/v1/auth/refresh", { refresh_token: answer.refresh_token })).status, 200);

    await expectError(await a.post("/v1/auth/password/reset", { token, password }), 400, "email_token_invalid");
    await expectError(await a.post("/v1/auth/token", { email, password: PASSWORD }), 401, "invalid_login");
    await a.login(email, password);
  });

  test("a sign-in link signs in once and verifies the address", async () => {
    const email = fresh("magic");
    await a.register(email);
    const known = await expect202(await a.post("/v1/auth/magic-link", { email }), "magic-link");
    const unknown = await expect202(await a.post("/v1/auth/magic-link", { email: fresh("nobody") }), "magic-link unknown");
    assert.equal(known, unknown);

    const message = (await a.mailbox(email))[0];
    assertMessage(message, { to: email, page: "magic", expires: "15 minutes" });
    const token = tokenOf(message.link);
    const res = await a.post("/v1/auth/magic-link/verify", { token });
    const text = await res.text();
    assert.equal(res.status, 200, text);
    const answer = JSON.parse(text);
    assertTokenAnswer(answer, email);
    assert.equal(answer.user.email_verified, true);
    const who = await (await a.get("/v1/auth/whoami", answer.token)).json();
    assert.equal(who.email, email);

    await expectError(await a.post("/v1/auth/magic-link/verify", { token }), 400, "email_token_invalid");
    // A link of one kind opens nothing else.
    await a.post("/v1/auth/magic-link", { email });
    const another = await a.token(email, "magic");
    await expectError(await a.post("/v1/auth/email/verify", { token: another }), 400, "email_token_invalid");
    await expectError(await a.post("/v1/auth/password/reset", { token: another, password: "long enough pw" }), 400, "email_token_invalid");
    assert.equal((await a.post("/v1/auth/magic-link/verify", { token: another })).status, 200, "and is still good where it belongs");
  });

  test("the 6th message to an address in an hour is 429, alike for known and unknown addresses", async () => {
    const known = fresh("limit");
    const unknown = fresh("limit-nobody");
    await a.register(known); // the verification message is the first of five
    const asks = [
      ["/v1/auth/password/forgot", known],
      ["/v1/auth/magic-link", known],
      ["/v1/auth/password/forgot", known],
      ["/v1/auth/magic-link", known],
    ];
    for (const [p, email] of asks) await expect202(await a.post(p, { email }), p);
    for (let i = 0; i < 5; i += 1) await expect202(await a.post("/v1/auth/password/forgot", { email: unknown }), "unknown");
    assert.equal((await a.mailbox(known)).length, 5);
    assert.equal((await a.mailbox(unknown)).length, 0);

    const answers = [];
    for (const [p, email] of [
      ["/v1/auth/password/forgot", known],
      ["/v1/auth/password/forgot", unknown],
      ["/v1/auth/magic-link", known],
      ["/v1/auth/magic-link", unknown],
    ]) {
      const res = await a.post(p, { email });
      const retry = Number(res.headers.get("retry-after"));
      assert.ok(retry > 3500 && retry <= 3600, `Retry-After ${retry}`);
      answers.push(await expectError(res, 429, "rate_limited"));
    }
    for (const other of answers.slice(1)) assert.deepEqual(other, answers[0], "identical bodies");
    assert.equal((await a.mailbox(known)).length, 5, "nothing more was sent");
    const { token } = await a.login(known);
    await expectError(await a.post("/v1/auth/email/verify/send", {}, token), 429, "rate_limited");
  });

  test("TENANT_ADMINS grants its role once the address is verified, never at registration alone", async () => {
    const tenantRoute = (token) => a.get("/api/v1/tenants/acme/projects", token);
    // Through the verification link.
    const ops = await a.register("ops@acme.test");
    assert.deepEqual(ops.tenants, {});
    const session = await a.login("ops@acme.test");
    assert.deepEqual(session.user.tenants, {});
    await expectError(await tenantRoute(session.token), 403, "tenant_denied");
    const res = await a.post("/v1/auth/email/verify", { token: await a.token("ops@acme.test", "verify") });
    assert.deepEqual((await res.json()).user.tenants, { acme: "admin" });
    // The access token issued before, at once (its claim is a snapshot; the Directory decides).
    assert.equal((await tenantRoute(session.token)).status, 200);

    // Through a sign-in link.
    await a.register("ops2@acme.test");
    await a.post("/v1/auth/magic-link", { email: "ops2@acme.test" });
    const magic = await (await a.post("/v1/auth/magic-link/verify", { token: await a.token("ops2@acme.test", "magic") })).json();
    assert.deepEqual(magic.user.tenants, { acme: "admin" });

    // Through a password reset (it proves the mailbox too).
    await a.register("ops3@acme.test");
    await a.post("/v1/auth/password/forgot", { email: "ops3@acme.test" });
    const reset = await a.post("/v1/auth/password/reset", {
      token: await a.token("ops3@acme.test", "reset"),
      password: "another good password",
    });
    assert.deepEqual((await reset.json()).user.tenants, { acme: "admin" });

    // A demoted first admin does not regain the role by proving the address again.
    const admin = await a.login("ops@acme.test");
    const put = await worker.fetch("/v1/tenants/acme/members", {
      method: "PUT",
      headers: { "content-type": "application/json", authorization: `Bearer ${admin.token}` },
      body: JSON.stringify({ email: "ops2@acme.test", role: "viewer" }),
    });
    assert.equal(put.status, 200, await put.text());
    await a.post("/v1/auth/magic-link", { email: "ops2@acme.test" });
    const again = await (await a.post("/v1/auth/magic-link/verify", { token: await a.token("ops2@acme.test", "magic") })).json();
    assert.deepEqual(again.user.tenants, { acme: "viewer" });
  });

  test("the CLI: `edgeauth auth reset-password --email E` sends the reset link", async () => {
    await assertBinaryBuilt();
    const home = await tempHome();
    try {
      const cli = (args) => runCli(args, { env: cliEnv(home, { EDGEAUTH_URL: worker.url }) });
      const email = fresh("cli");
      await a.register(email);
      const run = await cli(["auth", "reset-password", "--email", email]);
      assertExit(run, 0, "reset-password");
      assert.match(run.stdout, /reset link/);
      assert.ok(run.stdout.includes(email));
      const message = (await a.mailbox(email))[0];
      assertMessage(message, { to: email, page: "reset", expires: "15 minutes" });
      // --json is the API's answer; an unknown address is answered alike.
      const unknown = await cli(["auth", "reset-password", "--email", fresh("nobody"), "--json"]);
      assertExit(unknown, 0, "reset-password unknown");
      assert.deepEqual(stdoutJson(unknown), {});
      assertExit(await cli(["auth", "reset-password", "--email", "not an email"]), 1, "a bad address");
      assertExit(await cli(["auth", "reset-password"]), 2, "no --email and no terminal");
    } finally {
      await home.cleanup();
    }
  });

  test("the mailbox names a bad address; it lists only its own messages", async () => {
    const res = await a.get("/v1/dev/mailbox?to=nope");
    assert.match((await expectError(res, 400, "invalid_field")).message, /^to/);
    assert.deepEqual(await a.mailbox(fresh("empty")), []);
    const post = await worker.fetch("/v1/dev/mailbox?to=a@example.com", { method: "POST" });
    await expectError(post, 405, "method_not_allowed");
  });
});

describe("REQUIRE_VERIFIED_EMAIL=true", () => {
  let worker;
  let a;
  before(async () => {
    worker = await startWorker({ vars: { REQUIRE_VERIFIED_EMAIL: "true" } });
    a = api(worker);
  });
  after(async () => {
    await worker?.dispose();
  });

  test("password login refuses an unverified address (403 email_unverified) until it is verified", async () => {
    const email = fresh("strict");
    await a.register(email);
    // A wrong password is still only invalid_login: the 403 tells nothing to a guesser.
    await expectError(await a.post("/v1/auth/token", { email, password: "wrong password" }), 401, "invalid_login");
    await expectError(await a.post("/v1/auth/token", { email, password: PASSWORD }), 403, "email_unverified");
    assert.equal((await a.post("/v1/auth/email/verify", { token: await a.token(email, "verify") })).status, 200);
    const session = await a.login(email);
    assert.equal(session.user.email_verified, true);
  });

  test("a sign-in link still signs in, and verifies the address for password login", async () => {
    const email = fresh("strict-magic");
    await a.register(email);
    await a.post("/v1/auth/magic-link", { email });
    assert.equal((await a.post("/v1/auth/magic-link/verify", { token: await a.token(email, "magic") })).status, 200);
    await a.login(email);
  });
});

/** A stand-in for a transactional-mail API: records every request; `status` is what it answers. */
async function startMailApi() {
  const requests = [];
  const state = { status: 200 };
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      requests.push({ method: req.method, url: req.url, headers: req.headers, body: Buffer.concat(chunks).toString("utf8") });
      const body = state.status === 200 ? JSON.stringify({ id: `msg_${requests.length}` }) : JSON.stringify({ message: "provider is down" });
      res.writeHead(state.status, { "content-type": "application/json" });
      res.end(body);
    });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    requests,
    state,
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

async function filesUnder(dir) {
  const out = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await filesUnder(full)));
    else if (entry.isFile()) out.push(full);
  }
  return out;
}

describe("production: a transactional-mail API", () => {
  const KEY = `re_${randomBytes(12).toString("hex")}`;
  const FROM = "Acme Cloud <no-reply@acme.test>";
  let mailApi;
  let worker;
  let a;
  let persistDir;
  before(async () => {
    mailApi = await startMailApi();
    persistDir = await mkdtemp(path.join(tmpdir(), "edgeauth-email-"));
    worker = await startWorker({
      vars: {
        ENVIRONMENT: "production",
        ORIGIN_URL: mailApi.url,
        EMAIL_API_URL: `${mailApi.url}/emails`,
        EMAIL_API_KEY: KEY,
        EMAIL_FROM: FROM,
        EMAIL_PRODUCT_NAME: "Acme Cloud",
      },
      persistDir,
    });
    a = api(worker);
  });
  after(async () => {
    await worker?.dispose();
    await mailApi?.close();
    if (persistDir) await rm(persistDir, { recursive: true, force: true });
  });

  test("each message is one JSON POST {from, to, subject, text, html} with the bearer key; tokens are stored only as hashes", async () => {
    const email = fresh("prod");
    await a.register(email, { name: "<b>Ada</b> & Co" });
    assert.equal(mailApi.requests.length, 1, "one POST for the verification message");
    const sent = mailApi.requests[0];
    assert.equal(sent.method, "POST");
    assert.equal(sent.url, "/emails");
    assert.equal(sent.headers.authorization, `Bearer ${KEY}`);
    assert.match(sent.headers["content-type"], /^application\/json/);
    const body = JSON.parse(sent.body);
    assert.deepEqual(Object.keys(body).sort(), ["from", "html", "subject", "text", "to"]);
    assert.equal(body.from, FROM);
    assert.equal(body.to, email);
    assert.match(body.subject, /Acme Cloud/);
    assert.match(body.text, /If this wasn't you, ignore this message/);
    assert.ok(body.text.includes("expires in 24 hours"));
    const link = body.text.match(/http:\/\/\S+\/console\/verify#token=ea_et_[0-9A-Za-z]+/)?.[0];
    assert.ok(link?.startsWith(`${worker.url}/console/verify#token=`), body.text);
    assert.ok(body.html.includes(`href="${link}"`), "the HTML holds the same link");
    assert.ok(body.html.includes("&lt;b&gt;Ada&lt;/b&gt; &amp; Co"), "the name is escaped in the HTML");
    assert.ok(!body.html.includes("<b>Ada</b>"));
    const verifyToken = tokenOf(link);

    // The dev mailbox does not exist here.
    await expectError(await a.get(`/v1/dev/mailbox?to=${encodeURIComponent(email)}`), 404, "no_route");

    assert.equal((await a.post("/v1/auth/email/verify", { token: verifyToken })).status, 200);

    // An unknown address: 202 and nothing sent.
    await expect202(await a.post("/v1/auth/password/forgot", { email: fresh("nobody") }), "unknown");
    assert.equal(mailApi.requests.length, 1);

    // A link left unused: its hash is stored, never the token.
    await expect202(await a.post("/v1/auth/password/forgot", { email }), "forgot");
    assert.equal(mailApi.requests.length, 2);
    const resetToken = tokenOf(JSON.parse(mailApi.requests[1].body).text.match(/http:\/\/\S+#token=\S+/)[0]);
    await a.post("/v1/auth/magic-link", { email });
    const magicToken = tokenOf(JSON.parse(mailApi.requests[2].body).text.match(/http:\/\/\S+#token=\S+/)[0]);

    const files = await filesUnder(persistDir);
    assert.ok(files.length > 0, "state was persisted");
    const stored = Buffer.concat(await Promise.all(files.map((f) => readFile(f))));
    for (const token of [verifyToken, resetToken, magicToken]) {
      assert.ok(!stored.includes(Buffer.from(token)), `an email token is stored in plain (${token.slice(0, 10)}…)`);
      assert.ok(!stored.includes(Buffer.from(token.slice(6))), "nor its random part");
    }
    const storedText = stored.toString("latin1");
    for (const token of [resetToken, magicToken]) assert.ok(storedText.includes(sha256(token)), "the SHA-256 is what is stored");
  });

  test("the provider failing: verify/send is 503; forgot still answers 202 (the log says why)", async () => {
    const email = fresh("down");
    await a.register(email);
    const { token } = await a.login(email);
    mailApi.state.status = 500;
    try {
      await expectError(await a.post("/v1/auth/email/verify/send", {}, token), 503, "store_unavailable");
      await expect202(await a.post("/v1/auth/password/forgot", { email }), "forgot with the provider down");
      await worker.settleLogs();
      assert.ok(worker.logs.some((l) => /mail API answered 500/.test(l)), worker.logs.join("\n"));
      assert.ok(!worker.logs.some((l) => l.includes(KEY)), "the key is never logged");
    } finally {
      mailApi.state.status = 200;
    }
  });
});

/** Miniflare's own log (where its `send_email` binding reports what it was given), kept. */
class KeptLog extends Log {
  lines = [];
  constructor() {
    super(LogLevel.INFO);
  }
  log(message) {
    this.lines.push(message);
  }
}

describe("production: Cloudflare's send_email binding EMAIL", () => {
  let mf;
  let worker;
  let a;
  const log = new KeptLog();
  before(async () => {
    // The harness has no send_email binding: the same options, plus one.
    const options = miniflareOptions({
      vars: workerVars({}, { ENVIRONMENT: "production", ORIGIN_URL: "http://127.0.0.1:9", EMAIL_FROM: "no-reply@acme.test" }),
      signingKeys: await generateSigningKeys("email-binding"),
      log,
      handleRuntimeStdio() {},
    });
    mf = new Miniflare({ ...options, email: { send_email: [{ name: "EMAIL" }] } });
    const url = (await mf.ready).origin;
    worker = { url, fetch: (p, init) => fetch(url + p, init) };
    a = api(worker);
  });
  after(async () => {
    await mf?.dispose();
  });

  test("without EMAIL_API_URL the binding sends each message, text and HTML", async () => {
    const email = fresh("binding");
    await a.register(email);
    await expect202(await a.post("/v1/auth/password/forgot", { email }), "forgot");
    const { token } = await a.login(email);
    await expect202(await a.post("/v1/auth/email/verify/send", {}, token), "verify/send");
    const deadline = Date.now() + 5000;
    const sent = () => log.lines.filter((l) => l.includes("send_email binding called") && l.includes(`To: ${email}`));
    while (sent().length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.equal(sent().length, 3, log.lines.join("\n"));
    for (const line of sent()) {
      assert.ok(line.includes("From: no-reply@acme.test"), line);
      assert.match(line, /Text: /);
      assert.match(line, /HTML: /);
    }
    assert.ok(sent().some((l) => l.includes("Subject: Reset your edgeauth password")));
  });
});

describe("production with no delivery", () => {
  let worker;
  let a;
  before(async () => {
    worker = await startWorker({ vars: { ENVIRONMENT: "production", ORIGIN_URL: "http://127.0.0.1:9" } });
    a = api(worker);
  });
  after(async () => {
    await worker?.dispose();
  });

  test("the email endpoints answer 503 store_unavailable and log why; registration still works", async () => {
    const email = fresh("nodelivery");
    await a.register(email);
    const { token } = await a.login(email);
    await expectError(await a.post("/v1/auth/password/forgot", { email }), 503, "store_unavailable");
    await expectError(await a.post("/v1/auth/password/forgot", { email: fresh("nobody") }), 503, "store_unavailable");
    await expectError(await a.post("/v1/auth/magic-link", { email }), 503, "store_unavailable");
    await expectError(await a.post("/v1/auth/email/verify/send", {}, token), 503, "store_unavailable");
    await expectError(await a.get(`/v1/dev/mailbox?to=${encodeURIComponent(email)}`), 404, "no_route");
    await worker.settleLogs();
    assert.ok(
      worker.logs.some((l) => l.includes("EMAIL_API_URL") && l.includes("EMAIL")),
      `the log says why: ${worker.logs.join("\n")}`,
    );
  });
});
