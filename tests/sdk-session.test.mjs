// The SDK's session rules against the built worker (SPEC "SDK (npm)"): refresh when under
// 5 minutes remain, one refresh for concurrent callers, clients sharing storage never
// presenting a spent refresh token, the server's clock for signing, and errors that tell a
// network failure from a sign-out.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { after, before, describe, test } from "node:test";
import { startWorker } from "./harness.mjs";

const SDK_ENTRY = new URL("../sdk-wasm/pkg/node.js", import.meta.url);
const sdk = await import(SDK_ENTRY.href).catch((error) => {
  throw new Error("sdk-wasm/pkg/ is missing: run `bash scripts/build.sh sdk`", { cause: error });
});
const { EdgeAuthClient, EdgeAuthError, decodeToken } = sdk;

const PASSWORD = "correct horse battery";
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const newEmail = () => `sdk-${randomBytes(5).toString("hex")}@example.com`;

/** A fetch that records "METHOD /path" of every request the client makes. */
function recordingFetch(log, { failWhen } = {}) {
  return async (url, init) => {
    const line = `${init.method} ${new URL(url).pathname}`;
    log.push(line);
    if (failWhen?.(line)) throw new TypeError("fetch failed");
    return fetch(url, init);
  };
}

const refreshes = (log) => log.filter((l) => l === "POST /v1/auth/refresh").length;

async function signedInClient(worker, options = {}) {
  const log = [];
  const client = new EdgeAuthClient({ baseUrl: worker.url, fetch: recordingFetch(log, options), ...options });
  const email = newEmail();
  await client.register({ email, password: PASSWORD, name: "Session Test" });
  const session = await client.login({ email, password: PASSWORD });
  return { client, log, email, session };
}

describe("refreshing: under 5 minutes left, once for concurrent callers", () => {
  let worker;
  before(async () => {
    // Tokens live 5 minutes and 3 seconds: fresh at first, near expiry 3 seconds later.
    worker = await startWorker({ vars: { ACCESS_TTL_S: "303" } });
  });
  after(async () => {
    await worker?.dispose();
  });

  test("20 concurrent fetch calls near expiry cause exactly one refresh request", async () => {
    const { client, log, session } = await signedInClient(worker);
    const calls = () => Promise.all(Array.from({ length: 20 }, (_, i) => client.fetch(`/api/me?i=${i}`)));

    for (const res of await calls()) assert.equal(res.status, 200);
    assert.equal(refreshes(log), 0, "more than 5 minutes left: no refresh");

    const { exp } = decodeToken(session.token);
    await sleep(Math.max(0, (exp - 300) * 1000 - Date.now() + 250));
    log.length = 0;
    const answers = await calls();
    for (const res of answers) assert.equal(res.status, 200);
    assert.equal(refreshes(log), 1, log.join("\n"));
    assert.equal(log.filter((l) => l === "GET /api/me").length, 20, "each call was sent once");
    assert.equal(log[0], "POST /v1/auth/refresh", "the refresh went first");

    const fresh = await client.getSession();
    assert.notEqual(fresh.refresh_token, session.refresh_token);
    assert.ok(decodeToken(fresh.token).exp > exp);

    log.length = 0;
    for (const res of await calls()) assert.equal(res.status, 200);
    assert.equal(refreshes(log), 0, "the new token has more than 5 minutes again");
  });

  test("concurrent API calls and an explicit refresh share one refresh too", async () => {
    const { client, log, session } = await signedInClient(worker);
    const { exp } = decodeToken(session.token);
    await sleep(Math.max(0, (exp - 300) * 1000 - Date.now() + 250));
    log.length = 0;
    const [who, keys, , refreshed] = await Promise.all([
      client.whoami(),
      client.listApiKeys(),
      client.fetch("/api/me"),
      client.refresh(),
    ]);
    assert.equal(who.kind, "user");
    assert.ok(Array.isArray(keys));
    assert.equal(refreshes(log), 1, log.join("\n"));
    assert.equal((await client.getSession()).refresh_token, refreshed.refresh_token);
  });
});

describe("clients sharing one storage (tabs) never present a spent refresh token", () => {
  let worker;
  before(async () => {
    // Every token is near expiry at once; a spent refresh token is theft after 2 s.
    worker = await startWorker({ vars: { ACCESS_TTL_S: "60", REFRESH_GRACE_S: "2" } });
  });
  after(async () => {
    await worker?.dispose();
  });

  /** A Storage-like object two clients share, with an optional lock like navigator.locks. */
  function sharedStorage({ withLock }) {
    const map = new Map();
    let queue = Promise.resolve();
    const storage = {
      getItem: (key) => map.get(key) ?? null,
      setItem: (key, value) => void map.set(key, value),
      removeItem: (key) => void map.delete(key),
    };
    if (withLock) {
      storage.lock = () =>
        new Promise((granted) => {
          queue = queue.then(() => new Promise((release) => granted(release)));
        });
    }
    return storage;
  }

  for (const withLock of [true, false]) {
    test(withLock ? "with a lock: one refresh for both" : "without a lock: both within the grace window", async () => {
      const storage = sharedStorage({ withLock });
      const logA = [];
      const logB = [];
      const a = new EdgeAuthClient({ baseUrl: worker.url, storage, fetch: recordingFetch(logA) });
      const b = new EdgeAuthClient({ baseUrl: worker.url, storage, fetch: recordingFetch(logB) });
      const email = newEmail();
      await a.register({ email, password: PASSWORD, name: "Tabs" });
      await a.login({ email, password: PASSWORD });
      assert.equal((await b.whoami()).email, email, "b uses a's session");

      logA.length = 0;
      logB.length = 0;
      const answers = await Promise.all([
        ...Array.from({ length: 10 }, () => a.fetch("/api/me")),
        ...Array.from({ length: 10 }, () => b.fetch("/api/me")),
      ]);
      for (const res of answers) assert.equal(res.status, 200);
      const total = refreshes(logA) + refreshes(logB);
      if (withLock) assert.equal(total, 1, [...logA, ...logB].join("\n"));
      else assert.ok(total >= 1 && total <= 2, `${total} refreshes`);

      // Well past the grace window, both still work: nobody presented a spent token.
      await sleep(2500);
      assert.equal((await a.fetch("/api/me")).status, 200);
      assert.equal((await b.fetch("/api/me")).status, 200);
      assert.equal((await b.whoami()).email, email);

      await b.logout();
      assert.equal(await a.getSession(), null, "a is signed out with b");
    });
  }

  test("a refresh token spent elsewhere, past the grace window, signs out", async () => {
    const { client, session } = await signedInClient(worker);
    const events = [];
    client.onSessionChange((s, event) => events.push(event));
    const thief = await worker.fetch("/v1/auth/refresh", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ refresh_token: session.refresh_token }),
    });
    assert.equal(thief.status, 200);
    await thief.arrayBuffer();
    await sleep(2500);
    await assert.rejects(client.fetch("/api/me"), (error) => {
      assert.ok(error instanceof EdgeAuthError);
      assert.equal(error.status, 401);
      assert.ok(["refresh_token_reused", "session_revoked"].includes(error.reason), error.reason);
      return true;
    });
    assert.equal(await client.getSession(), null);
    await sleep(10);
    assert.deepEqual(events, ["signed_out"]);
  });
});

describe("errors: a network failure is not a sign-out, session_revoked is", () => {
  test("localStorage the browser denies is an EdgeAuthError, not a raw DOMException", () => {
    const had = Object.getOwnPropertyDescriptor(globalThis, "localStorage");
    Object.defineProperty(globalThis, "localStorage", {
      configurable: true,
      get() {
        throw new DOMException("The operation is insecure.", "SecurityError");
      },
    });
    try {
      assert.throws(
        () => new EdgeAuthClient({ baseUrl: worker.url, storage: "localStorage" }),
        (err) => err instanceof EdgeAuthError && err.reason === "invalid_field" && /blocked/.test(err.message),
      );
    } finally {
      if (had) Object.defineProperty(globalThis, "localStorage", had);
      else delete globalThis.localStorage;
    }
  });

  let worker;
  before(async () => {
    worker = await startWorker();
  });
  after(async () => {
    await worker?.dispose();
  });

  test("no answer is EdgeAuthError NETWORK (status 0) and keeps the session", async () => {
    let offline = false;
    const { client, session } = await signedInClient(worker, { failWhen: () => offline });
    const events = [];
    client.onSessionChange((s, event) => events.push(event));
    offline = true;
    for (const call of [() => client.whoami(), () => client.fetch("/api/me"), () => client.listApiKeys()]) {
      await assert.rejects(call(), (error) => {
        assert.ok(error instanceof EdgeAuthError);
        assert.ok(error instanceof Error);
        assert.equal(error.name, "EdgeAuthError");
        assert.equal(error.code, "NETWORK");
        assert.equal(error.status, 0);
        assert.equal(typeof error.message, "string");
        return true;
      });
    }
    offline = false;
    assert.equal((await client.getSession()).token, session.token);
    assert.equal((await client.whoami()).kind, "user");
    await sleep(10);
    assert.deepEqual(events, [], "no sign-out was announced");
  });

  test("a refused credential is EdgeAuthError with the contract's status, code, reason and message", async () => {
    const client = new EdgeAuthClient({ baseUrl: worker.url });
    await assert.rejects(client.whoami(), (error) => {
      assert.ok(error instanceof EdgeAuthError);
      assert.equal(error.status, 401);
      assert.equal(error.code, "UNAUTHORIZED");
      assert.equal(error.reason, "missing_credential");
      assert.ok(error.message.length > 0);
      return true;
    });
    await assert.rejects(client.login({ email: newEmail(), password: "x" }), (error) => {
      assert.ok(error instanceof EdgeAuthError);
      assert.ok([400, 401].includes(error.status), `${error.status}`);
      return true;
    });
  });

  test("session_revoked signs the client out and tells its listeners", async () => {
    const { client, session } = await signedInClient(worker);
    const events = [];
    client.onSessionChange((s, event) => events.push([event, s === null]));
    // The session ends elsewhere (another device logs it out).
    const out = await worker.fetch("/v1/auth/logout", {
      method: "POST",
      headers: { authorization: `Bearer ${session.token}` },
    });
    assert.equal(out.status, 204);
    const res = await client.fetch("/api/me");
    assert.equal(res.status, 401);
    assert.equal((await res.json()).error.reason, "session_revoked");
    assert.equal(await client.getSession(), null);
    await sleep(10);
    assert.deepEqual(events, [["signed_out", true]]);
    await assert.rejects(client.whoami(), (error) => error.reason === "missing_credential");
  });
});

describe("the server's clock: a laptop ten minutes fast still signs acceptable requests", () => {
  let worker;
  before(async () => {
    worker = await startWorker({ vars: { ACCESS_TTL_S: "900" } });
  });
  after(async () => {
    await worker?.dispose();
  });

  const run = promisify(execFile);
  // A separate process, so that the skewed clock is the SDK's alone.
  const skewed = (source) =>
    run(process.execPath, ["--input-type=module", "-e", source], {
      env: { ...process.env, EDGEAUTH_URL: worker.url, SDK_ENTRY: SDK_ENTRY.href },
      timeout: 60_000,
    }).catch((error) => assert.fail(`${error.stdout}\n${error.stderr}`));

  test("signing uses the corrected time; refresh decisions use the server's clock", async () => {
    const { stdout } = await skewed(`
      import assert from "node:assert/strict";
      const realNow = Date.now;
      Date.now = () => realNow() + 10 * 60 * 1000;
      const { EdgeAuthClient } = await import(process.env.SDK_ENTRY);
      const log = [];
      const client = new EdgeAuthClient({ baseUrl: process.env.EDGEAUTH_URL,
        fetch: (url, init) => { log.push(init.method + " " + new URL(url).pathname); return fetch(url, init); } });
      const email = "skew-" + Math.random().toString(36).slice(2) + "@example.com";
      await client.register({ email, password: "correct horse battery", name: "Skew" });
      await client.login({ email, password: "correct horse battery" });
      assert.ok(Math.abs(client.clockOffsetMs + 600000) < 2000, String(client.clockOffsetMs));
      const res = await client.fetch("/api/signed/deploy", { method: "POST", body: "{}", sign: true });
      assert.equal(res.status, 200, await res.clone().text());
      const ts = Number((await res.json()).headers["x-cli-timestamp"]);
      assert.ok(Math.abs(ts - realNow()) < 2000, "signed with the server's time");
      // 15-minute tokens: by the fast local clock only 5 minutes would remain.
      assert.equal(log.filter((l) => l.endsWith("/refresh")).length, 0);
      assert.equal(log.filter((l) => l.endsWith("/api/signed/deploy")).length, 1);
      console.log("ok");
    `);
    assert.equal(stdout, "ok\n");
  });

  test("a first signed request with the wrong time is retried once with the corrected time", async () => {
    const owner = new EdgeAuthClient({ baseUrl: worker.url });
    const email = newEmail();
    await owner.register({ email, password: PASSWORD, name: "Key owner" });
    await owner.login({ email, password: PASSWORD });
    const { key } = await owner.createApiKey({ name: "skewed CI", scopes: ["scans:read"] });
    const { stdout } = await skewed(`
      import assert from "node:assert/strict";
      const realNow = Date.now;
      Date.now = () => realNow() - 10 * 60 * 1000;
      const { EdgeAuthClient } = await import(process.env.SDK_ENTRY);
      const answers = [];
      const ci = new EdgeAuthClient({ baseUrl: process.env.EDGEAUTH_URL, apiKey: ${JSON.stringify(key)}, sign: true,
        fetch: async (url, init) => { const res = await fetch(url, init); answers.push(res.status); return res; } });
      const res = await ci.fetch("/api/signed/ci", { method: "POST", body: "hello" });
      assert.equal(res.status, 200, await res.clone().text());
      assert.deepEqual(answers, [401, 200]);
      console.log("ok");
    `);
    assert.equal(stdout, "ok\n");
  });
});

describe("storage: one session per worker", () => {
  let worker;
  before(async () => {
    worker = await startWorker();
  });
  after(async () => {
    await worker?.dispose();
  });

  test("two clients of two workers sharing one storage never share a session", async () => {
    const items = new Map();
    const storage = {
      getItem: (k) => (items.has(k) ? items.get(k) : null),
      setItem: (k, v) => items.set(k, String(v)),
      removeItem: (k) => items.delete(k),
    };
    // The same worker under two names stands for two workers (a page talking to both).
    const other = worker.url.replace("127.0.0.1", "localhost");
    const a = new EdgeAuthClient({ baseUrl: worker.url, storage });
    const b = new EdgeAuthClient({ baseUrl: other, storage });
    const email = newEmail();
    await a.register({ email, password: PASSWORD, name: "Storage Test" });
    await a.login({ email, password: PASSWORD });
    assert.ok(await a.getSession(), "a is signed in");
    assert.equal(await b.getSession(), null, "b's worker never saw this session");
    assert.deepEqual([...items.keys()], [`edgeauth.session@${worker.url}`]);
    // An explicit key still wins.
    const c = new EdgeAuthClient({ baseUrl: other, storage, storageKey: `edgeauth.session@${worker.url}` });
    assert.ok(await c.getSession(), "an explicit storageKey shares on purpose");
  });
});
