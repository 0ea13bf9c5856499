// The console's email links in headless Chromium (SPEC "Email", "Console"): "Forgot password?"
// and "Email me a sign-in link" on the sign-in page, and the three pages the links open
// (/console/verify, /console/reset, /console/magic), which take the token from the fragment,
// post it, and clear it from the address bar. Driven by roles, labels and visible names.
// Needs www/dist (scripts/build.sh sdk console) and /usr/bin/chromium.
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
const PHONE = { width: 390, height: 844 };
const NETWORK_NOTICE = /^Failed to load resource: the server responded with a status of (4\d\d|5\d\d)\b/;

const unique = () => randomBytes(5).toString("hex");
const newUser = (tag) => ({
  name: `Test ${tag}`,
  email: `${tag}-${unique()}@example.com`,
  password: `pw-${randomBytes(12).toString("base64url")}`,
});

let browser;
let worker;
before(async () => {
  await mkdir(ARTIFACTS, { recursive: true });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  worker = await startWorker();
});
after(async () => {
  await browser?.close();
  await worker?.dispose();
});

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

const screenshot = (page, name) => page.screenshot({ path: path.join(ARTIFACTS, `email-${name}.png`), fullPage: true });

const post = (p, body) =>
  worker.fetch(p, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });

async function register(user) {
  const res = await post("/v1/auth/register", user);
  assert.equal(res.status, 201, await res.text());
}

/** The newest link to `email` that opens `/console/<page>`. */
async function linkTo(email, page) {
  const res = await worker.fetch(`/v1/dev/mailbox?to=${encodeURIComponent(email)}`);
  assert.equal(res.status, 200);
  const { messages } = await res.json();
  const link = messages.map((m) => m.link).find((l) => l.includes(`/console/${page}#token=`));
  assert.ok(link, `a /console/${page} link to ${email}`);
  return link;
}

/** The page's address and its history entries hold no token any more. */
async function assertTokenCleared(page, link) {
  const token = new URL(link).hash.slice("#token=".length);
  assert.ok(!page.url().includes("#token"), `the address bar still holds the token: ${page.url()}`);
  assert.ok(!page.url().includes(token));
  assert.equal(await page.evaluate(() => location.hash), "");
}

const scrollWidth = (page) => page.evaluate(() => Math.max(document.documentElement.scrollWidth, document.body.scrollWidth));

describe("console email links", () => {
  test("Forgot password? → the reset page: the token leaves the address bar, the new password signs in", async () => {
    const context = await browser.newContext({ viewport: PHONE });
    try {
      const { page, problems } = await openPage(context);
      const user = newUser("forgot");
      await register(user);

      await page.goto(`${worker.url}/console/`);
      await page.getByRole("button", { name: "Forgot password?" }).click();
      await page.getByRole("heading", { name: "Reset your password" }).waitFor();
      await page.getByLabel("Email").fill(user.email);
      await page.getByRole("button", { name: "Send reset link" }).click();
      await page.getByText(/a link is on its way/).waitFor();
      assert.ok((await scrollWidth(page)) <= PHONE.width, "the form fits a phone");
      await screenshot(page, "forgot-sent");

      const link = await linkTo(user.email, "reset");
      await page.goto(link);
      await page.getByLabel("New password").waitFor();
      await assertTokenCleared(page, link);
      assert.ok((await scrollWidth(page)) <= PHONE.width, "the reset page fits a phone");

      // The contract's words for a password too short, at the field.
      await page.getByLabel("New password").fill("short");
      await page.getByRole("button", { name: "Set new password" }).click();
      await page.getByRole("alert").getByText(/password/).waitFor();
      assert.equal(await page.getByLabel("New password").getAttribute("aria-invalid"), "true");

      const password = `new-${unique()}-password`;
      await page.getByLabel("New password").fill(password);
      await page.getByRole("button", { name: "Set new password" }).click();
      await page.getByRole("heading", { name: "Password changed" }).waitFor();
      await page.getByRole("button", { name: "Sign out" }).waitFor();
      await page.getByText(user.email, { exact: true }).waitFor();
      await screenshot(page, "reset-done");

      assert.equal((await post("/v1/auth/token", { email: user.email, password })).status, 200);
      assert.equal((await post("/v1/auth/token", { email: user.email, password: user.password })).status, 401);

      // The console carries the new session.
      await page.getByRole("link", { name: "Go to the console" }).click();
      await page.getByRole("button", { name: "Sign out" }).waitFor();
      assert.deepEqual(problems.scriptErrors, []);
    } finally {
      await context.close();
    }
  });

  test("Email me a sign-in link → the magic page signs in and opens the console; the link works once", async () => {
    const context = await browser.newContext();
    try {
      const { page, problems } = await openPage(context);
      const user = newUser("magic");
      await register(user);

      await page.goto(`${worker.url}/console/`);
      await page.getByLabel("Email").fill(user.email);
      await page.getByRole("button", { name: "Email me a sign-in link" }).click();
      await page.getByRole("heading", { name: "Sign in with an email link" }).waitFor();
      assert.equal(await page.getByLabel("Email").inputValue(), user.email, "the email typed carries over");
      await page.getByRole("button", { name: "Send sign-in link" }).click();
      await page.getByText(/a link is on its way/).waitFor();

      const link = await linkTo(user.email, "magic");
      await page.goto(link);
      await page.waitForURL(`${worker.url}/console/`);
      await page.getByRole("button", { name: "Sign out" }).waitFor();
      await page.getByText(user.email, { exact: true }).waitFor();
      await assertTokenCleared(page, link);
      await screenshot(page, "magic-signed-in");
      // No history entry holds the link's address with its token.
      await page.goBack();
      assert.ok(!page.url().includes("#token"), page.url());

      // Used once: opened again, the page says so in the contract's words.
      await page.goto(link);
      await page.getByRole("heading", { name: "This link does not work" }).waitFor();
      await page.getByText(/email_token_invalid/).waitFor();
      await assertTokenCleared(page, link);
      assert.deepEqual(problems.scriptErrors, []);
    } finally {
      await context.close();
    }
  });

  test("the verify page verifies the address and clears the token; a bad or incomplete link is explained", async () => {
    const context = await browser.newContext({ viewport: PHONE });
    try {
      const { page, problems } = await openPage(context);
      const user = newUser("verify");
      await register(user);
      const link = await linkTo(user.email, "verify");

      await page.goto(link);
      await page.getByRole("heading", { name: "Email address verified" }).waitFor();
      await page.getByText(`${user.email} is verified`, { exact: false }).waitFor();
      await assertTokenCleared(page, link);
      assert.ok((await scrollWidth(page)) <= PHONE.width);
      assert.equal(
        await page.locator('meta[name="viewport"]').getAttribute("content"),
        "width=device-width, initial-scale=1",
      );
      await screenshot(page, "verified");
      const login = await post("/v1/auth/token", { email: user.email, password: user.password });
      assert.equal((await login.json()).user.email_verified, true);

      await page.goto(link);
      await page.getByRole("heading", { name: "This link does not work" }).waitFor();
      await page.getByText(/invalid, expired or already used/).waitFor();

      await page.goto(`${worker.url}/console/verify`);
      await page.getByText(/The link is incomplete/).waitFor();
      assert.deepEqual(problems.scriptErrors, []);
    } finally {
      await context.close();
    }
  });
});
