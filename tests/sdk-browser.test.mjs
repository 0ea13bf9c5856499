// The SDK in a real browser (Chromium through playwright-core): loaded by a plain
// <script type="module"> and through a bundler (esbuild), and two tabs sharing a session in
// localStorage that coordinate their refreshes (SPEC "SDK (npm)").
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { copyFile, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, test } from "node:test";
import { build } from "esbuild";
import { chromium } from "playwright-core";
import { startWorker } from "./harness.mjs";

const PKG = fileURLToPath(new URL("../sdk-wasm/pkg/", import.meta.url));
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const TYPES = { ".html": "text/html", ".js": "text/javascript", ".wasm": "application/wasm" };

let worker;
let site;
let siteUrl;
let browser;
let scratch;

const PLAIN_PAGE = `<!doctype html>
<meta charset="utf-8">
<title>plain module</title>
<script type="module">
  import * as sdk from "/sdk/index.js";
  window.sdk = sdk;
  window.ready = true;
</script>`;

const BUNDLED_PAGE = `<!doctype html>
<meta charset="utf-8">
<title>bundled</title>
<script type="module" src="/bundle/app.js"></script>`;

before(async () => {
  assert.ok(existsSync(path.join(PKG, "package.json")), "sdk-wasm/pkg/ is missing: run `bash scripts/build.sh sdk`");
  assert.ok(existsSync(CHROMIUM), `no Chromium at ${CHROMIUM}: run scripts/setup.sh --browser or set CHROMIUM_PATH`);
  worker = await startWorker({ vars: { ACCESS_TTL_S: "60" } });

  // What a bundler user does: install the package, import it by name, bundle for browsers.
  scratch = await mkdtemp(path.join(tmpdir(), "edgeauth-sdk-browser-"));
  await mkdir(path.join(scratch, "node_modules"), { recursive: true });
  await symlink(PKG, path.join(scratch, "node_modules", "edgeauth-sdk"), "dir");
  await writeFile(
    path.join(scratch, "app.js"),
    `import { EdgeAuthClient, EdgeAuthError, decodeToken } from "edgeauth-sdk";
     window.sdk = { EdgeAuthClient, EdgeAuthError, decodeToken };
     window.ready = true;`,
  );
  await mkdir(path.join(scratch, "bundle"));
  await build({
    entryPoints: [path.join(scratch, "app.js")],
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    outfile: path.join(scratch, "bundle", "app.js"),
    logLevel: "silent",
  });
  // esbuild leaves `new URL("./edgeauth_sdk_bg.wasm", import.meta.url)` alone: the wasm goes next to the bundle.
  await copyFile(path.join(PKG, "edgeauth_sdk_bg.wasm"), path.join(scratch, "bundle", "edgeauth_sdk_bg.wasm"));

  site = createServer(async (req, res) => {
    const { pathname } = new URL(req.url, "http://x");
    let file;
    let body;
    if (pathname === "/plain.html") body = PLAIN_PAGE;
    else if (pathname === "/bundled.html") body = BUNDLED_PAGE;
    else if (pathname.startsWith("/sdk/")) file = path.join(PKG, path.basename(pathname));
    else if (pathname.startsWith("/bundle/")) file = path.join(scratch, "bundle", path.basename(pathname));
    try {
      body ??= file ? await readFile(file) : undefined;
    } catch {
      body = undefined;
    }
    if (body === undefined) {
      res.writeHead(404).end();
      return;
    }
    const ext = path.extname(file ?? pathname);
    res.writeHead(200, { "content-type": TYPES[ext] ?? "application/octet-stream" }).end(body);
  });
  await new Promise((resolve) => site.listen(0, "127.0.0.1", resolve));
  siteUrl = `http://127.0.0.1:${site.address().port}`;
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
});

after(async () => {
  await browser?.close();
  await new Promise((resolve) => (site ? site.close(resolve) : resolve()));
  await worker?.dispose();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

async function open(context, page) {
  const tab = await context.newPage();
  const errors = [];
  tab.on("pageerror", (error) => errors.push(String(error)));
  tab.on("console", (message) => {
    // Chromium logs every 4xx answer ("Failed to load resource"); those are the tests' own.
    if (message.type() === "error" && !message.text().startsWith("Failed to load resource")) {
      errors.push(message.text());
    }
  });
  await tab.goto(`${siteUrl}/${page}`);
  await tab.waitForFunction(() => window.ready === true, null, { timeout: 15_000 });
  return { tab, errors };
}

test("a plain <script type=module> and an esbuild bundle both load the SDK", async () => {
  const context = await browser.newContext();
  try {
    for (const page of ["plain.html", "bundled.html"]) {
      const { tab, errors } = await open(context, page);
      const outcome = await tab.evaluate(async (baseUrl) => {
        const { EdgeAuthClient, EdgeAuthError, decodeToken } = window.sdk;
        const client = new EdgeAuthClient({ baseUrl });
        const email = `browser-${Math.random().toString(36).slice(2)}@example.com`;
        await client.register({ email, password: "correct horse battery", name: "Browser" });
        const session = await client.login({ email, password: "correct horse battery" });
        const who = await client.whoami();
        const res = await client.fetch("/api/me");
        let error;
        try {
          await new EdgeAuthClient({ baseUrl }).whoami();
        } catch (e) {
          error = { isClass: e instanceof EdgeAuthError, status: e.status, code: e.code, reason: e.reason };
        }
        return { kind: who.kind, status: res.status, sub: decodeToken(session.token).sub, id: session.user.id, error };
      }, worker.url);
      assert.equal(outcome.kind, "user", page);
      assert.equal(outcome.status, 200, page);
      assert.equal(outcome.sub, outcome.id, page);
      assert.deepEqual(outcome.error, { isClass: true, status: 401, code: "UNAUTHORIZED", reason: "missing_credential" });
      assert.deepEqual(errors, [], `${page}: no script errors`);
    }
  } finally {
    await context.close();
  }
});

test("two tabs sharing localStorage: one refresh between them, and sign-in and sign-out reach both", async () => {
  const context = await browser.newContext();
  try {
    const refreshes = [];
    context.on("request", (request) => {
      if (request.method() === "POST" && new URL(request.url()).pathname === "/v1/auth/refresh") {
        refreshes.push(request.postDataJSON()?.refresh_token);
      }
    });
    const a = await open(context, "plain.html");
    const b = await open(context, "plain.html");
    const setUp = (tab) =>
      tab.evaluate((baseUrl) => {
        window.events = [];
        window.client = new window.sdk.EdgeAuthClient({ baseUrl, storage: "localStorage" });
        window.client.onSessionChange((session, event) => window.events.push(event));
      }, worker.url);
    await setUp(a.tab);
    await setUp(b.tab);

    const email = `tabs-${randomBytes(4).toString("hex")}@example.com`;
    await a.tab.evaluate(async (email) => {
      await window.client.register({ email, password: "correct horse battery", name: "Tabs" });
      await window.client.login({ email, password: "correct horse battery" });
    }, email);
    // Tab B hears of the sign-in through the storage event.
    await b.tab.waitForFunction(() => window.events.includes("signed_in"), null, { timeout: 5_000 });
    assert.equal(await b.tab.evaluate(async () => (await window.client.whoami()).email), email);

    // 60-second tokens are always near expiry: both tabs refresh "at once".
    const burst = (tab) =>
      tab.evaluate(async () => {
        const answers = await Promise.all(Array.from({ length: 10 }, () => window.client.fetch("/api/me")));
        return answers.map((res) => res.status);
      });
    refreshes.length = 0;
    const [fromA, fromB] = await Promise.all([burst(a.tab), burst(b.tab)]);
    assert.deepEqual([...fromA, ...fromB], Array(20).fill(200));
    assert.equal(refreshes.length, 1, `one refresh between the two tabs (Web Locks), saw ${refreshes.length}`);

    // Each refresh after that presents the refresh token the previous one returned.
    for (let i = 0; i < 3; i += 1) {
      await burst(i % 2 ? a.tab : b.tab);
    }
    assert.equal(new Set(refreshes).size, refreshes.length, "no refresh token was presented twice");

    await a.tab.evaluate(() => window.client.logout());
    await b.tab.waitForFunction(() => window.events.includes("signed_out"), null, { timeout: 5_000 });
    assert.equal(await b.tab.evaluate(() => window.client.getSession()), null);
    assert.deepEqual([...a.errors, ...b.errors], [], "no script errors");
  } finally {
    await context.close();
  }
});

// SPEC "Browser sessions in a cookie", across origins: the app on one origin, the worker on
// another of the same site (127.0.0.1, another port) that ALLOWED_ORIGINS names. The
// refresh token is the worker's HttpOnly cookie; the tabs share the access token.
test("cookie mode across origins: two tabs, one refresh between them, nothing for scripts to read", { timeout: 60_000 }, async () => {
  const cookieWorker = await startWorker({ vars: { ALLOWED_ORIGINS: siteUrl, ACCESS_TTL_S: "20" } });
  const context = await browser.newContext();
  try {
    const refreshes = [];
    context.on("request", (request) => {
      if (request.method() === "POST" && new URL(request.url()).pathname === "/v1/auth/refresh") {
        refreshes.push(request.postData() ?? "");
      }
    });
    const a = await open(context, "plain.html");
    const b = await open(context, "plain.html");
    const setUp = (tab) =>
      tab.evaluate((baseUrl) => {
        window.events = [];
        window.client = new window.sdk.EdgeAuthClient({ baseUrl, session: "cookie" });
        window.client.onSessionChange((session, event) => window.events.push(event));
      }, cookieWorker.url);
    await setUp(a.tab);
    await setUp(b.tab);

    const email = `cookie-tabs-${randomBytes(4).toString("hex")}@example.com`;
    const session = await a.tab.evaluate(async (email) => {
      await window.client.register({ email, password: "correct horse battery", name: "Cookie Tabs" });
      return window.client.login({ email, password: "correct horse battery" });
    }, email);
    assert.equal(session.refresh_token, undefined, "the session a script sees has no refresh token");
    // B hears of the sign-in over the BroadcastChannel, and uses the same session.
    await b.tab.waitForFunction(() => window.events.includes("signed_in"), null, { timeout: 5_000 });
    assert.equal(await b.tab.evaluate(async () => (await window.client.whoami()).email), email);

    const [cookie] = (await context.cookies(cookieWorker.url)).filter((c) => c.name === "__Host-edgeauth_rt");
    assert.ok(cookie, "the worker's cookie is kept for the worker's origin");
    assert.equal(cookie.httpOnly, true);
    assert.equal(cookie.sameSite, "Strict");

    // 20-second tokens are always due: both tabs at once, one refresh, and no body in it.
    refreshes.length = 0;
    const burst = (tab) =>
      tab.evaluate(async () => (await Promise.all(Array.from({ length: 5 }, () => window.client.fetch("/api/me")))).map((r) => r.status));
    const [fromA, fromB] = await Promise.all([burst(a.tab), burst(b.tab)]);
    assert.deepEqual([...fromA, ...fromB], Array(10).fill(200));
    assert.equal(refreshes.length, 1, `one refresh between the two tabs, saw ${refreshes.length}`);
    assert.deepEqual(refreshes, [""], "the refresh token went as the cookie, not in a body");

    // Nothing a script of the app can reach holds the refresh token.
    const rotated = (await context.cookies(cookieWorker.url)).find((c) => c.name === "__Host-edgeauth_rt").value;
    for (const { tab } of [a, b]) {
      const reachable = await tab.evaluate(async () =>
        JSON.stringify({
          cookie: document.cookie,
          local: Object.entries(localStorage),
          session: Object.entries(sessionStorage),
          held: await window.client.getSession(),
        }),
      );
      assert.ok(!reachable.includes(rotated) && !reachable.includes(cookie.value) && !reachable.includes("ea_rt_"), reachable);
    }

    // A reload resumes from the cookie; B keeps its session all along.
    await a.tab.reload();
    await a.tab.waitForFunction(() => window.ready === true);
    await setUp(a.tab);
    assert.equal(await a.tab.evaluate(async () => (await window.client.whoami()).email), email);
    assert.equal(await b.tab.evaluate(async () => (await window.client.fetch("/api/me")).status), 200);
    assert.ok(!(await b.tab.evaluate(() => window.events)).includes("signed_out"), "no tab signed another out");

    await a.tab.evaluate(() => window.client.logout());
    await b.tab.waitForFunction(() => window.events.includes("signed_out"), null, { timeout: 5_000 });
    assert.equal((await context.cookies(cookieWorker.url)).filter((c) => c.name === "__Host-edgeauth_rt").length, 0, "logout cleared the cookie");
    assert.deepEqual([...a.errors, ...b.errors], [], "no script errors");
  } finally {
    await context.close();
    await cookieWorker.dispose();
  }
});
