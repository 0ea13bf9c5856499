// The console (SPEC "Console"), driven in headless Chromium the way assistive technology
// drives it: by roles, labels and visible names. Needs www/dist (scripts/build.sh console)
// and Debian's chromium at /usr/bin/chromium (scripts/setup.sh --browser); screenshots of
// the main states go to tests/artifacts/.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, test } from "node:test";
import { chromium } from "playwright-core";
import { startWorker } from "./harness.mjs";

const ARTIFACTS = path.join(path.dirname(fileURLToPath(import.meta.url)), "artifacts");
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
const API_KEY = /^ea_live_[0-9A-Za-z]{32,64}$/;
const PHONE = { width: 390, height: 844 };
// Chromium logs every 4xx/5xx answer as "Failed to load resource"; that is the
// network speaking, not a script error, and tests that ask for a refusal expect it.
const NETWORK_NOTICE = /^Failed to load resource: the server responded with a status of (4\d\d|5\d\d)\b/;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const unique = () => randomBytes(5).toString("hex");
const newUser = (tag) => ({
  name: `Test ${tag}`,
  email: `${tag}-${unique()}@example.com`,
  password: `pw-${randomBytes(12).toString("base64url")}`,
});

let browser;
before(async () => {
  await mkdir(ARTIFACTS, { recursive: true });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
});
after(async () => {
  await browser?.close();
});

/** A page that records script errors (uncaught exceptions, console.error) as they happen. */
async function openPage(context) {
  const page = await context.newPage();
  const problems = { scriptErrors: [], networkNotices: [] };
  page.on("pageerror", (error) => problems.scriptErrors.push(`pageerror: ${error.message}`));
  page.on("console", (message) => {
    if (message.type() !== "error") return;
    if (NETWORK_NOTICE.test(message.text())) problems.networkNotices.push(message.text());
    else problems.scriptErrors.push(`console.error: ${message.text()}`);
  });
  return { page, problems };
}

async function screenshot(page, name) {
  await page.screenshot({ path: path.join(ARTIFACTS, `console-${name}.png`), fullPage: true });
}

async function registerByApi(worker, user) {
  const res = await worker.fetch("/v1/auth/register", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(user),
  });
  assert.equal(res.status, 201, await res.text());
}

async function signIn(page, user) {
  await page.getByLabel("Email").fill(user.email);
  await page.getByLabel("Password").fill(user.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("button", { name: "Sign out" }).waitFor();
}

/** Everything the page keeps: its HTML, and every value in localStorage and sessionStorage. */
async function everythingKept(page) {
  const storage = await page.evaluate(() =>
    [localStorage, sessionStorage].flatMap((s) => Object.keys(s).map((k) => `${k}=${s.getItem(k)}`)).join("\n"),
  );
  return `${await page.content()}\n${storage}`;
}

const occurrences = (text, part) => text.split(part).length - 1;

async function scrollWidth(page) {
  return page.evaluate(() => Math.max(document.documentElement.scrollWidth, document.body.scrollWidth));
}

/** Presses Tab until `locator` has the focus (at most `max` times). */
async function tabTo(page, locator, max = 80) {
  for (let i = 0; i < max; i += 1) {
    await page.keyboard.press("Tab");
    if (await locator.evaluate((el) => el === document.activeElement).catch(() => false)) return;
  }
  assert.fail(`Tab never reached ${locator}`);
}

const isFocused = (locator) => locator.evaluate((el) => el === document.activeElement);

describe("console", () => {
  let worker;
  before(async () => {
    worker = await startWorker();
  });
  after(async () => {
    await worker?.dispose();
  });

  test("both pages are phone-ready: viewport meta, and no sideways scrolling at 390 px", async () => {
    const context = await browser.newContext({ viewport: PHONE });
    try {
      const { page, problems } = await openPage(context);
      for (const route of ["/console/", "/console/device?user_code=BCDF-GHJK"]) {
        await page.goto(worker.url + route);
        await page.getByLabel("Email").waitFor();
        assert.equal(
          await page.locator('meta[name="viewport"]').getAttribute("content"),
          "width=device-width, initial-scale=1",
          route,
        );
        assert.ok((await scrollWidth(page)) <= PHONE.width, `${route} scrolls sideways`);
      }
      await page.goto(`${worker.url}/console/`);
      await page.getByRole("button", { name: "Create an account" }).click();
      await page.getByLabel("Name").waitFor();
      assert.ok((await scrollWidth(page)) <= PHONE.width, "the account form scrolls sideways");
      await screenshot(page, "phone-register");
      assert.deepEqual(problems.scriptErrors, []);
      assert.deepEqual(problems.networkNotices, []);
    } finally {
      await context.close();
    }
  });

  test("register, sign in, create a key shown once; after a reload only its prefix is left; revoked, it gets 401", async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    try {
      const { page, problems } = await openPage(context);
      const user = newUser("flow");
      await page.goto(`${worker.url}/console/`);
      await page.getByRole("button", { name: "Sign in" }).waitFor();
      await screenshot(page, "signed-out");

      // Create an account (name, email, password), then sign in with it.
      await page.getByRole("button", { name: "Create an account" }).click();
      await page.getByLabel("Name").fill(user.name);
      await page.getByLabel("Email").fill(user.email);
      await page.getByLabel("Password").fill(user.password);
      await page.getByRole("button", { name: "Create account" }).click();
      await page.getByRole("button", { name: "Sign in" }).waitFor();
      assert.equal(await page.getByLabel("Email").inputValue(), user.email, "the new email is filled in");
      await page.getByLabel("Password").fill(user.password);
      await page.getByRole("button", { name: "Sign in" }).click();
      await page.getByRole("button", { name: "Sign out" }).waitFor();

      // Signed in: the email as text, the session panel with scopes, tenants and time left.
      await page.getByText(user.email, { exact: true }).waitFor();
      const panel = page.getByRole("region", { name: "Session" });
      await panel.getByText("demo (admin)").waitFor();
      assert.match(await panel.textContent(), /expires in (1 h 00 min|\d+ min \d+ s)/);
      assert.match(await panel.textContent(), /\*/, "the development scopes (*) are listed");
      await screenshot(page, "signed-in");

      // Create a key with every field.
      await page.getByLabel("Name").fill("CI pipeline");
      await page.getByLabel("Scopes").fill("scans:read, drifts:read");
      await page.getByLabel("Resources").fill("r1 r2");
      await page.getByLabel("Tenants").fill("demo");
      await page.getByLabel("Allowed IPs").fill("");
      await page.getByLabel("Expires").fill("30d");
      await page.getByRole("button", { name: "Create key" }).click();
      const shown = page.getByRole("region", { name: /Your new key/ });
      await shown.waitFor();
      await shown.getByText(/will not be shown again/).waitFor();
      const key = (await shown.locator("code").textContent()).trim();
      assert.match(key, API_KEY);
      assert.equal(occurrences(await everythingKept(page), key), 1, "the key is shown whole in one place, and kept nowhere else");
      await screenshot(page, "new-key");
      await page.setViewportSize(PHONE);
      assert.ok((await scrollWidth(page)) <= PHONE.width, "the new key and the table fit a phone");
      await screenshot(page, "phone-new-key");
      await page.setViewportSize({ width: 1280, height: 900 });

      // Copy puts the whole key on the clipboard.
      await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: worker.url });
      await shown.getByRole("button", { name: "Copy" }).click();
      await shown.getByText("Copied to the clipboard.").waitFor();
      assert.equal(await page.evaluate(() => navigator.clipboard.readText()), key);

      // The table lists it by name and prefix, with its restrictions.
      const prefix = key.slice(0, 12);
      const row = page.getByRole("row", { name: /CI pipeline/ });
      await row.getByText(prefix, { exact: true }).waitFor();
      const rowText = await row.textContent();
      for (const part of ["scans:read drifts:read", "Resources: r1, r2", "Tenants: demo", "IPs: any"]) {
        assert.ok(rowText.includes(part), `the row says ${part}: ${rowText}`);
      }
      assert.doesNotMatch(rowText, /never/, "the row shows the expiry date");

      // The key works, within what it was given.
      const dashboard = await worker.fetch("/api/scans/dashboard", { headers: { authorization: `Bearer ${key}` } });
      assert.equal(dashboard.status, 200, await dashboard.text());

      // Reload: the key is gone from the page and from storage; its prefix remains.
      await page.reload();
      await page.getByRole("button", { name: "Sign out" }).waitFor();
      await page.getByRole("row", { name: /CI pipeline/ }).getByText(prefix, { exact: true }).waitFor();
      const kept = await everythingKept(page);
      assert.ok(!kept.includes(key), "after a reload the whole key is nowhere in the page or its storage");
      assert.ok(kept.includes(prefix));
      assert.equal(await page.getByRole("region", { name: /Your new key/ }).count(), 0);
      await screenshot(page, "after-reload");

      // Revoke asks first: cancelling keeps the key.
      const revoke = page.getByRole("row", { name: /CI pipeline/ }).getByRole("button", { name: "Revoke" });
      let question = "";
      page.once("dialog", (dialog) => {
        question = dialog.message();
        void dialog.dismiss();
      });
      await revoke.click();
      assert.match(question, /CI pipeline/);
      assert.match(question, new RegExp(prefix));
      assert.equal(await page.getByRole("row", { name: /CI pipeline/ }).count(), 1, "cancelled: the key stays");
      const stillGood = await worker.fetch("/api/scans/dashboard", { headers: { authorization: `Bearer ${key}` } });
      assert.equal(stillGood.status, 200);

      // Confirmed, it is revoked: gone from the table, refused by the gateway.
      page.once("dialog", (dialog) => void dialog.accept());
      await revoke.click();
      await page.getByRole("row", { name: /CI pipeline/ }).waitFor({ state: "detached" });
      await page.getByText(/revoked/).first().waitFor();
      const refused = await worker.fetch("/api/scans/dashboard", { headers: { authorization: `Bearer ${key}` } });
      assert.equal(refused.status, 401);
      assert.equal((await refused.json()).error.reason, "api_key_revoked");
      await screenshot(page, "revoked");

      // Sign out: back to the sign-in form, nothing left in storage.
      await page.getByRole("button", { name: "Sign out" }).click();
      await page.getByRole("button", { name: "Sign in" }).waitFor();
      assert.equal(await page.evaluate(() => localStorage.length + sessionStorage.length), 0);

      assert.deepEqual(problems.scriptErrors, []);
      assert.deepEqual(problems.networkNotices, [], "the happy path meets no refusal");
    } finally {
      await context.close();
    }
  });

  test("a wrong password, a taken email and a refused key spec show the contract's messages", async () => {
    const context = await browser.newContext();
    try {
      const { page, problems } = await openPage(context);
      const user = newUser("errors");
      await registerByApi(worker, user);
      const wrong = await worker.fetch("/v1/auth/token", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ email: user.email, password: "not-the-password" }),
      });
      const { error: expected } = await wrong.json();
      assert.equal(expected.reason, "invalid_login");

      await page.goto(`${worker.url}/console/`);
      await page.getByLabel("Email").fill(user.email);
      await page.getByLabel("Password").fill("not-the-password");
      await page.getByRole("button", { name: "Sign in" }).click();
      const alert = page.getByRole("alert").filter({ hasText: expected.message });
      await alert.waitFor();
      assert.ok(await isFocused(page.getByLabel("Password")), "focus goes back to the password");
      await screenshot(page, "wrong-password");

      // Registering the same email again: 409 email_taken, named by the contract.
      await page.getByRole("button", { name: "Create an account" }).click();
      await page.getByLabel("Name").fill("Someone");
      await page.getByLabel("Email").fill(user.email);
      await page.getByLabel("Password").fill("another password");
      await page.getByRole("button", { name: "Create account" }).click();
      await page.getByRole("alert").filter({ hasText: "email_taken" }).waitFor();
      assert.equal(await page.getByLabel("Email").getAttribute("aria-invalid"), "true");
      await page.getByRole("button", { name: "Back to sign-in" }).click();

      // A key without scopes, and one that expired yesterday: the worker's 400s, at their fields.
      await signIn(page, user);
      await page.getByLabel("Name").fill("nothing");
      await page.getByRole("button", { name: "Create key" }).click();
      await page.getByRole("alert").filter({ hasText: /^scopes: / }).waitFor();
      assert.equal(await page.getByLabel("Scopes").getAttribute("aria-invalid"), "true");
      assert.ok(await isFocused(page.getByLabel("Scopes")));
      await page.getByLabel("Scopes").fill("scans:read");
      await page.getByLabel("Expires").fill("2001-01-01T00:00:00Z");
      await page.getByRole("button", { name: "Create key" }).click();
      await page.getByRole("alert").filter({ hasText: /^expires_at: / }).waitFor();
      assert.equal(await page.getByLabel("Expires").getAttribute("aria-invalid"), "true");
      assert.equal(await page.getByLabel("Scopes").getAttribute("aria-invalid"), null);
      // More than the creator holds in a tenant: 403 privilege_escalation.
      await page.getByLabel("Expires").fill("");
      await page.getByLabel("Tenants").fill("someone-elses");
      await page.getByRole("button", { name: "Create key" }).click();
      await page.getByRole("alert").filter({ hasText: "privilege_escalation" }).waitFor();
      await screenshot(page, "key-refused");

      assert.deepEqual(problems.scriptErrors, []);
      assert.ok(problems.networkNotices.every((n) => / (400|401|403|409)\b/.test(n)), problems.networkNotices.join("\n"));
    } finally {
      await context.close();
    }
  });

  test("usable by keyboard alone: sign in, create a key, copy it, revoke it, sign out", async () => {
    const context = await browser.newContext();
    try {
      await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: worker.url });
      const { page, problems } = await openPage(context);
      const user = newUser("keys");
      await registerByApi(worker, user);
      await page.goto(`${worker.url}/console/`);
      await page.getByLabel("Email").waitFor();

      await tabTo(page, page.getByLabel("Email"));
      await page.keyboard.type(user.email);
      await page.keyboard.press("Tab");
      assert.ok(await isFocused(page.getByLabel("Password")));
      await page.keyboard.type(user.password);
      await page.keyboard.press("Enter");
      await page.getByRole("button", { name: "Sign out" }).waitFor();

      await tabTo(page, page.getByLabel("Name"));
      await page.keyboard.type("keyboard");
      await tabTo(page, page.getByLabel("Scopes"));
      await page.keyboard.type("scans:read");
      await page.keyboard.press("Enter");
      const shown = page.getByRole("region", { name: /Your new key/ });
      await shown.waitFor();
      assert.ok(await isFocused(shown), "focus moves to the new key");
      await page.keyboard.press("Tab");
      assert.ok(await isFocused(shown.getByRole("button", { name: "Copy" })));
      await page.keyboard.press("Enter");
      await shown.getByText("Copied to the clipboard.").waitFor();
      assert.match(await page.evaluate(() => navigator.clipboard.readText()), API_KEY);

      const revoke = page.getByRole("row", { name: /keyboard/ }).getByRole("button", { name: "Revoke" });
      await tabTo(page, revoke);
      page.once("dialog", (dialog) => void dialog.accept());
      await page.keyboard.press("Enter");
      await page.getByRole("row", { name: /keyboard/ }).waitFor({ state: "detached" });

      await tabTo(page, page.getByRole("button", { name: "Sign out" }));
      await page.keyboard.press("Enter");
      await page.getByRole("button", { name: "Sign in" }).waitFor();
      assert.deepEqual(problems.scriptErrors, []);
      assert.deepEqual(problems.networkNotices, []);
    } finally {
      await context.close();
    }
  });

  test("the playground sends a signed request through the gateway and shows both sides", async () => {
    const context = await browser.newContext({ viewport: PHONE });
    try {
      const { page, problems } = await openPage(context);
      const user = newUser("playground");
      await registerByApi(worker, user);
      await page.goto(`${worker.url}/console/`);
      await signIn(page, user);

      await page.getByLabel("Method").selectOption("POST");
      await page.getByLabel("Path").fill("/api/scans/trigger/r1");
      await page.getByLabel("Body").fill('{"branch":"main"}');
      await page.getByRole("button", { name: "Send request" }).click();
      const sent = page.getByRole("region", { name: "Request sent" });
      const answer = page.getByRole("region", { name: "Answer" });
      await answer.waitFor();
      const sentText = await sent.textContent();
      const answerText = await answer.textContent();
      assert.match(sentText, /^POST \/api\/scans\/trigger\/r1 HTTP\/1\.1$/m);
      const signature = /^x-cli-signature: ([0-9a-f]{64})$/m.exec(sentText)?.[1];
      assert.ok(signature, sentText);
      assert.match(sentText, /^x-cli-timestamp: \d{13}$/m);
      assert.match(sentText, /^x-cli-nonce: [A-Za-z0-9_-]{16,128}$/m);
      assert.match(sentText, /^authorization: Bearer .{12}… \(\d+ characters, not shown\)$/m, "the token is not shown whole");
      assert.match(answerText, /^HTTP\/1\.1 200/);
      // The echo origin got what the page says it sent.
      const echoed = JSON.parse(answerText.slice(answerText.indexOf("\n\n") + 2));
      assert.equal(echoed.path, "/api/scans/trigger/r1");
      assert.equal(echoed.body, '{"branch":"main"}');
      assert.equal(echoed.headers["x-cli-signature"], signature);
      assert.equal(echoed.headers["x-edgeauth-kind"], "user");
      assert.ok((await scrollWidth(page)) <= PHONE.width, "the answer does not widen the page");
      await screenshot(page, "playground");

      // A refusal is an answer too: shown as the gateway gave it.
      await page.getByLabel("Method").selectOption("GET");
      await page.getByLabel("Path").fill("/api/v1/tenants/elsewhere/things");
      await page.getByRole("button", { name: "Send request" }).click();
      await answer.getByText(/^HTTP\/1\.1 403/).waitFor();
      assert.match(await answer.textContent(), /"reason": "tenant_denied"/);

      // The SDK refuses a URL off the worker's origin: the bearer never leaves.
      await page.getByLabel("Path").fill("https://elsewhere.example/steal");
      await page.getByRole("button", { name: "Send request" }).click();
      await page.getByRole("alert").filter({ hasText: /./ }).waitFor();
      assert.equal(await answer.isVisible(), false);

      assert.deepEqual(problems.scriptErrors, []);
      assert.ok(problems.networkNotices.every((n) => / 403\b/.test(n)), problems.networkNotices.join("\n"));
    } finally {
      await context.close();
    }
  });

  test("/console/device: the signed-in session carries over; Approve and Deny reach the device", async () => {
    const context = await browser.newContext({ viewport: PHONE });
    try {
      const { page, problems } = await openPage(context);
      const user = newUser("device");
      await registerByApi(worker, user);
      const start = async (clientName) => {
        const res = await worker.fetch("/v1/auth/device/code", {
          method: "POST",
          headers: { "content-type": "application/json", "cf-connecting-ip": "203.0.113.7" },
          body: JSON.stringify({ client_name: clientName }),
        });
        assert.equal(res.status, 200);
        return res.json();
      };
      const poll = (deviceCode) =>
        worker.fetch("/v1/auth/device/token", {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ device_code: deviceCode }),
        });

      // Signed out on the device page: sign in there.
      const first = await start("edgeauth CLI on build-7");
      await page.goto(first.verification_uri_complete);
      await page.getByRole("button", { name: "Sign in" }).waitFor();
      await screenshot(page, "device-signed-out");
      await signIn(page, user);
      await page.getByText("edgeauth CLI on build-7", { exact: true }).waitFor();
      await page.getByText(first.user_code, { exact: true }).waitFor();
      // Where the request came from is edgeauth's word, not the device's.
      await page.getByText(/^203\.0\.113\.7/).waitFor();
      assert.ok((await scrollWidth(page)) <= PHONE.width);
      await screenshot(page, "device-decision");
      await page.getByRole("button", { name: "Approve" }).click();
      await page.getByRole("heading", { name: "Device approved" }).waitFor();
      const approved = await poll(first.device_code);
      assert.equal(approved.status, 200);
      const session = await approved.json();
      const whoami = await worker.fetch("/v1/auth/whoami", { headers: { authorization: `Bearer ${session.token}` } });
      assert.equal((await whoami.json()).email, user.email, "the device is signed in as the approving user");
      await screenshot(page, "device-approved");

      // A session from /console/ carries over; a code typed by hand (any case, no dash) works; Deny denies.
      await page.goto(`${worker.url}/console/`);
      await page.getByRole("button", { name: "Sign out" }).waitFor();
      const second = await start("a stranger's laptop");
      await page.goto(first.verification_uri);
      const field = page.getByLabel("User code");
      await field.fill(second.user_code.replace("-", "").toLowerCase());
      await page.getByRole("button", { name: "Continue" }).click();
      await page.getByText("a stranger's laptop", { exact: true }).waitFor();
      assert.equal(new URL(page.url()).searchParams.get("user_code"), second.user_code);
      await page.getByRole("button", { name: "Deny" }).click();
      await page.getByRole("heading", { name: "Device denied" }).waitFor();
      const denied = await poll(second.device_code);
      assert.equal(denied.status, 400);
      assert.equal((await denied.json()).error.reason, "access_denied");

      // An unknown code: the worker's words, and the field to try again.
      await page.goto(`${worker.url}/console/device?user_code=BCDF-GHJK`);
      await page.getByLabel("User code").waitFor();
      await page.getByRole("alert").filter({ hasText: /./ }).waitFor();

      // Inside another site's frame the page offers nothing to click (clickjacking): the
      // worker's `frame-ancestors 'none'` keeps the browser from rendering it at all (and
      // were it rendered, the page itself would show only a link to open it on its own).
      const third = await start("framed");
      const outer = await context.newPage();
      const loaded = outer.waitForEvent("framenavigated", { predicate: (f) => f !== outer.mainFrame(), timeout: 10_000 }).catch(() => {});
      await outer.setContent(`<iframe src="${third.verification_uri_complete}" width="380" height="600"></iframe>`);
      await loaded;
      const framed = outer.frameLocator("iframe");
      assert.equal(await framed.getByRole("button").count(), 0);
      assert.equal(await framed.getByText(third.user_code).count(), 0, "the code is not shown inside the frame");
      await outer.close();

      assert.deepEqual(problems.scriptErrors, []);
      assert.ok(problems.networkNotices.every((n) => / 404\b/.test(n)), problems.networkNotices.join("\n"));
    } finally {
      await context.close();
    }
  });
});

describe("console with a 20-second access token", () => {
  let worker;
  before(async () => {
    worker = await startWorker({ vars: { ACCESS_TTL_S: "20" } });
  });
  after(async () => {
    await worker?.dispose();
  });

  // The console keeps its session in cookie mode (SPEC "Browser sessions in a cookie"): the
  // refresh token is an HttpOnly cookie both tabs send, the access token is in memory.
  test("two tabs of one browser stay signed in across several renewals, by the refresh cookie", { timeout: 150_000 }, async () => {
    const context = await browser.newContext();
    try {
      const user = newUser("tabs");
      await registerByApi(worker, user);
      const one = await openPage(context);
      const two = await openPage(context);
      await one.page.goto(`${worker.url}/console/`);
      await signIn(one.page, user);
      await two.page.goto(`${worker.url}/console/`);
      await two.page.getByRole("button", { name: "Sign out" }).waitFor();

      // Every refresh either tab sends, with the refresh cookie it presents and the answer.
      const refreshes = [];
      const COOKIE = "__Host-edgeauth_rt";
      const cookieIn = (header) => /(?:^|;\s*)__Host-edgeauth_rt=([^;]*)/.exec(header ?? "")?.[1];
      for (const [tab, { page }] of [one, two].entries()) {
        page.on("request", (request) => {
          if (!request.url().endsWith("/v1/auth/refresh")) return;
          const entry = { tab, presented: undefined, body: request.postData(), status: undefined };
          refreshes.push(entry);
          request.allHeaders().then(
            (headers) => (entry.presented = cookieIn(headers.cookie)),
            () => {},
          );
          request.response().then(
            (response) => (entry.status = response?.status()),
            () => {}, // the context closed first
          );
        });
      }

      // Chromium took the __Host- cookie over http://127.0.0.1 (a potentially trustworthy
      // origin), with SPEC's attributes.
      const jar = async () => (await context.cookies(worker.url)).find((c) => c.name === COOKIE);
      const cookie = await jar();
      assert.ok(cookie, "the browser keeps the refresh cookie");
      assert.deepEqual(
        { httpOnly: cookie.httpOnly, secure: cookie.secure, sameSite: cookie.sameSite, path: cookie.path },
        { httpOnly: true, secure: true, sameSite: "Strict", path: "/" },
      );
      assert.match(cookie.value, /^ea_rt_[0-9A-Za-z]{32,}$/);

      const refreshTokens = new Set();
      const send = async (page) => {
        const [answer] = await Promise.all([
          page.waitForResponse((response) => new URL(response.url()).pathname === "/api/me"),
          page.getByRole("button", { name: "Send request" }).click(),
        ]);
        assert.equal(answer.status(), 200);
        await page.getByRole("region", { name: "Answer" }).getByText(/^HTTP\/1\.1 200/).waitFor();
      };

      const started = Date.now();
      for (let round = 0; Date.now() - started < 65_000; round += 1) {
        // Both tabs at once: each use needs a renewal (under 5 minutes always remain).
        await Promise.all([send(one.page), send(two.page)]);
        if (round === 3) await two.page.reload();
        refreshTokens.add((await jar()).value);
        await sleep(6_000);
      }

      for (const { page } of [one, two]) {
        await page.getByRole("button", { name: "Sign out" }).waitFor({ timeout: 1_000 });
        await page.getByText(user.email, { exact: true }).waitFor({ timeout: 1_000 });
        assert.match(await page.getByRole("region", { name: "Session" }).textContent(), /expires in \d+ s/);
      }
      assert.ok(refreshTokens.size >= 4, `the session was renewed several times (${refreshTokens.size} refresh tokens seen)`);
      await sleep(500);
      assert.ok(refreshes.length >= 6, `${refreshes.length} refreshes`);
      assert.deepEqual(new Set(refreshes.map((r) => r.tab)), new Set([0, 1]), "both tabs renewed the session");
      assert.deepEqual(refreshes.filter((r) => r.status !== undefined && r.status !== 200), [], "every refresh was answered 200");
      assert.deepEqual(refreshes.map((r) => r.body ?? null).filter(Boolean), [], "no refresh token in any request body");
      // The tabs took turns (a Web Lock, and the fresh token shared between them): neither
      // presented a refresh cookie already spent (the grace window is for accidents).
      const presented = refreshes.map((r) => r.presented);
      assert.ok(presented.every(Boolean), "every refresh sent the cookie");
      assert.equal(new Set(presented).size, presented.length, "no refresh token was presented twice");

      // No script of the page can read the refresh token: not in document.cookie, not in
      // storage, not in the page; the session is in memory and the cookie is HttpOnly.
      const live = (await jar()).value;
      for (const { page } of [one, two]) {
        const seen = await page.evaluate(() => ({
          cookie: document.cookie,
          stored: [localStorage, sessionStorage].flatMap((s) => Object.keys(s).map((k) => `${k}=${s.getItem(k)}`)),
        }));
        assert.ok(!seen.cookie.includes("edgeauth_rt") && !seen.cookie.includes(live), `document.cookie: ${seen.cookie}`);
        // Storage holds only the SDK's hint that a cookie session exists (no token).
        assert.deepEqual(seen.stored, [`edgeauth.session@${worker.url}=cookie`], "no token in localStorage or sessionStorage");
        assert.ok(!(await everythingKept(page)).includes("ea_rt_"), "no refresh token anywhere in the page");
      }

      // The session the tabs hold is live: no renewal was taken for theft.
      const check = await worker.fetch("/v1/auth/refresh", {
        method: "POST",
        headers: { "x-edgeauth-session": "cookie", origin: worker.url, cookie: `${COOKIE}=${live}` },
      });
      assert.equal(check.status, 200, await check.text());
      await screenshot(one.page, "two-tabs");
      for (const { problems } of [one, two]) {
        assert.deepEqual(problems.scriptErrors, []);
        assert.deepEqual(problems.networkNotices, [], "no request was refused");
      }
    } finally {
      await context.close();
    }
  });
});
