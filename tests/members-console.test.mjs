// The console's Members section (SPEC "Tenants and roles", "Console"), driven in headless
// Chromium by roles and labels: a tenant admin lists, changes a role, removes (confirmed) and
// adds; the last admin cannot demote themselves (409 last_admin); a viewer sees the list but
// every change is refused (403 tenant_denied). Refusals must show as readable text in the page.
// Needs www/dist (scripts/build.sh sdk console) and Chromium (scripts/setup.sh --browser).
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, test } from "node:test";
import { chromium } from "playwright-core";
import { startWorker } from "./harness.mjs";
import { expectError } from "./contract.mjs";

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
// Chromium logs every 4xx/5xx answer as "Failed to load resource": the network, not a script error.
const NETWORK_NOTICE = /^Failed to load resource: the server responded with a status of (4\d\d|5\d\d)\b/;
const PASSWORD = "correct horse battery";
const ADMIN = "ops@acme.test";
const SOLO = "solo@solo.test";

const unique = () => randomBytes(5).toString("hex");
const json = (method, body, token) => ({
  method,
  headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
  body: JSON.stringify(body),
});

let browser;
let worker;
before(async () => {
  await mkdir(ARTIFACTS, { recursive: true });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  worker = await startWorker({
    vars: { DEFAULT_USER_TENANTS: "{}", TENANT_ADMINS: JSON.stringify({ acme: [ADMIN], solo: [SOLO] }) },
  });
  await account(ADMIN, "Ops");
  await account(SOLO, "Solo");
});
after(async () => {
  await browser?.close();
  await worker?.dispose();
});

/**
 * Registers `email`. TENANT_ADMINS grants its role when the email is verified: where the
 * worker has the development mailbox, the verification link in it is followed.
 */
async function account(email, name) {
  const res = await worker.fetch("/v1/auth/register", json("POST", { email, password: PASSWORD, name }));
  assert.equal(res.status, 201, await res.text());
  const mailbox = await worker.fetch(`/v1/dev/mailbox?to=${encodeURIComponent(email)}`);
  if (mailbox.status !== 200) return email;
  const { messages } = await mailbox.json();
  const link = messages.map((m) => m.link ?? "").find((l) => l.includes("/console/verify#"));
  if (!link) return email;
  const token = new URLSearchParams(new URL(link).hash.slice(1)).get("token");
  const verified = await worker.fetch("/v1/auth/email/verify", json("POST", { token }));
  assert.equal(verified.status, 200, await verified.text());
  return email;
}

async function tokenOf(email) {
  const res = await worker.fetch("/v1/auth/token", json("POST", { email, password: PASSWORD }));
  const text = await res.text();
  assert.equal(res.status, 200, text);
  return JSON.parse(text).token;
}

/** The tenant's members as the API lists them to `email`: email → role. */
async function rolesIn(tenant, email = ADMIN) {
  const res = await worker.fetch(`/v1/tenants/${tenant}/members`, { headers: { authorization: `Bearer ${await tokenOf(email)}` } });
  const text = await res.text();
  assert.equal(res.status, 200, text);
  return Object.fromEntries(JSON.parse(text).members.map((m) => [m.email, m.role]));
}

async function setRoleByApi(tenant, email, role) {
  const res = await worker.fetch(`/v1/tenants/${tenant}/members`, json("PUT", { email, role }, await tokenOf(ADMIN)));
  const text = await res.text();
  assert.equal(res.status, 200, text);
  assert.deepEqual(JSON.parse(text), { tenant, email, role });
}

/** A page that records script errors and the network's 4xx/5xx notices apart. */
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

async function signIn(page, email) {
  await page.goto(`${worker.url}/console/`);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("button", { name: "Sign out" }).waitFor();
}

const members = (page) => page.getByRole("region", { name: "Members" });
const tenantField = (page) => members(page).getByLabel("Tenant", { exact: true });
const rowOf = (page, email) => members(page).getByRole("row", { name: new RegExp(email.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")) });

async function loadMembers(page, tenant) {
  if (tenant !== undefined) await tenantField(page).fill(tenant);
  await members(page).getByRole("button", { name: "Load members" }).click();
}

async function scrollWidth(page) {
  return page.evaluate(() => Math.max(document.documentElement.scrollWidth, document.body.scrollWidth));
}

async function screenshot(page, name) {
  await page.screenshot({ path: path.join(ARTIFACTS, `members-${name}.png`), fullPage: true });
}

const isFocused = (locator) => locator.evaluate((el) => el === document.activeElement);

/** Presses Tab until `locator` has the focus (at most `max` times). */
async function tabTo(page, locator, max = 80) {
  for (let i = 0; i < max; i += 1) {
    await page.keyboard.press("Tab");
    if (await isFocused(locator).catch(() => false)) return;
  }
  assert.fail(`Tab never reached ${locator}`);
}

describe("console: tenant members", () => {
  test("an admin lists, changes a role, removes (confirmed) and adds", async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    try {
      const { page, problems } = await openPage(context);
      const dev = await account(`dev-${unique()}@acme.test`, "Dev Person");
      const newcomer = await account(`new-${unique()}@acme.test`, "New Person");
      await setRoleByApi("acme", dev, "viewer");

      await signIn(page, ADMIN);
      assert.equal(await tenantField(page).inputValue(), "acme", "the Tenant field starts with the user's first tenant");
      await loadMembers(page);
      await members(page).getByRole("heading", { name: "Members of acme" }).waitFor();
      const adminRow = rowOf(page, ADMIN);
      assert.match(await adminRow.textContent(), /Ops/);
      assert.equal(await members(page).getByLabel(`Role for ${ADMIN}`).inputValue(), "admin");
      assert.match(await rowOf(page, dev).textContent(), /Dev Person/);
      assert.equal(await members(page).getByLabel(`Role for ${dev}`).inputValue(), "viewer");
      await screenshot(page, "admin-list");

      // Change a role: the select, then Save.
      await members(page).getByLabel(`Role for ${dev}`).selectOption("editor");
      await rowOf(page, dev).getByRole("button", { name: "Save" }).click();
      await page.getByRole("status").filter({ hasText: `${dev} is now editor in acme.` }).waitFor();
      assert.equal((await rolesIn("acme"))[dev], "editor");

      // Remove asks first: cancelled, the member stays.
      let question = "";
      page.once("dialog", (dialog) => {
        question = dialog.message();
        void dialog.dismiss();
      });
      await rowOf(page, dev).getByRole("button", { name: "Remove" }).click();
      assert.ok(question.includes(dev) && question.includes("acme"), question);
      assert.equal(await rowOf(page, dev).count(), 1, "cancelled: the member stays");
      assert.equal((await rolesIn("acme"))[dev], "editor");

      // Confirmed, the member is gone: from the table and from the tenant.
      page.once("dialog", (dialog) => void dialog.accept());
      await rowOf(page, dev).getByRole("button", { name: "Remove" }).click();
      await rowOf(page, dev).waitFor({ state: "detached" });
      assert.equal((await rolesIn("acme"))[dev], undefined);

      // Add a member with a role; the row shows their name.
      const add = members(page).getByRole("form", { name: "Add member" });
      await add.getByLabel("Email", { exact: true }).fill(newcomer);
      await add.getByLabel("Role", { exact: true }).selectOption("editor");
      await add.getByRole("button", { name: "Add member" }).click();
      await rowOf(page, newcomer).getByText("New Person").waitFor();
      assert.equal(await members(page).getByLabel(`Role for ${newcomer}`).inputValue(), "editor");
      assert.equal((await rolesIn("acme"))[newcomer], "editor");

      // An unknown email: the contract's 404, readable, at the form.
      await add.getByLabel("Email", { exact: true }).fill(`nobody-${unique()}@acme.test`);
      await add.getByRole("button", { name: "Add member" }).click();
      await add.getByRole("alert").filter({ hasText: "not_found" }).waitFor();
      assert.ok(await isFocused(add.getByLabel("Email", { exact: true })), "focus goes back to the email");
      await screenshot(page, "admin-after");

      await page.setViewportSize(PHONE);
      assert.ok((await scrollWidth(page)) <= PHONE.width, "the members table and forms fit a phone");
      await screenshot(page, "phone");

      assert.deepEqual(problems.scriptErrors, []);
      assert.ok(problems.networkNotices.every((n) => / 404\b/.test(n)), problems.networkNotices.join("\n"));
    } finally {
      await context.close();
    }
  });

  test("usable by keyboard alone: load, change a role, save", async () => {
    const context = await browser.newContext();
    try {
      const { page, problems } = await openPage(context);
      const kb = await account(`kb-${unique()}@acme.test`, "Keyboard");
      await setRoleByApi("acme", kb, "viewer");
      await signIn(page, ADMIN);

      await tabTo(page, tenantField(page));
      await page.keyboard.press("Enter");
      await members(page).getByRole("heading", { name: "Members of acme" }).waitFor();
      const select = members(page).getByLabel(`Role for ${kb}`);
      await tabTo(page, select);
      await page.keyboard.press("ArrowDown"); // viewer → editor, the list closed
      assert.equal(await select.inputValue(), "editor");
      assert.equal((await rolesIn("acme"))[kb], "viewer", "moving through the roles sends nothing");
      await page.keyboard.press("Tab");
      assert.ok(await isFocused(rowOf(page, kb).getByRole("button", { name: "Save" })), "Save follows the select");
      await page.keyboard.press("Enter");
      await page.getByRole("status").filter({ hasText: `${kb} is now editor in acme.` }).waitFor();
      assert.equal((await rolesIn("acme"))[kb], "editor");

      assert.deepEqual(problems.scriptErrors, []);
      assert.deepEqual(problems.networkNotices, []);
    } finally {
      await context.close();
    }
  });

  test("the only admin demoting or removing themselves: 409 last_admin, as readable text", async () => {
    const context = await browser.newContext({ viewport: PHONE });
    try {
      const { page, problems } = await openPage(context);
      // What the contract says, asked directly, to compare with what the page shows.
      const direct = await worker.fetch("/v1/tenants/solo/members", json("PUT", { email: SOLO, role: "viewer" }, await tokenOf(SOLO)));
      const expected = await expectError(direct, 409, "last_admin");

      await signIn(page, SOLO);
      assert.equal(await tenantField(page).inputValue(), "solo");
      await loadMembers(page);
      const select = members(page).getByLabel(`Role for ${SOLO}`);
      await select.selectOption("viewer");
      await rowOf(page, SOLO).getByRole("button", { name: "Save" }).click();
      const alert = members(page).getByRole("alert").filter({ hasText: expected.message });
      await alert.waitFor();
      assert.match(await alert.textContent(), /last_admin/);
      assert.equal(await select.inputValue(), "admin", "the row shows the role still held");
      await screenshot(page, "last-admin");

      page.once("dialog", (dialog) => void dialog.accept());
      await rowOf(page, SOLO).getByRole("button", { name: "Remove" }).click();
      await members(page).getByRole("alert").filter({ hasText: "last_admin" }).waitFor();
      assert.equal(await rowOf(page, SOLO).count(), 1, "the row stays");
      assert.deepEqual(await rolesIn("solo", SOLO), { [SOLO]: "admin" });
      assert.ok((await scrollWidth(page)) <= PHONE.width);

      assert.deepEqual(problems.scriptErrors, []);
      assert.ok(problems.networkNotices.every((n) => / 409\b/.test(n)), problems.networkNotices.join("\n"));
    } finally {
      await context.close();
    }
  });

  test("a viewer sees the list, but every change is refused with tenant_denied", async () => {
    const context = await browser.newContext();
    try {
      const { page, problems } = await openPage(context);
      const viewer = await account(`viewer-${unique()}@acme.test`, "Viewer");
      await setRoleByApi("acme", viewer, "viewer");

      await signIn(page, viewer);
      assert.equal(await tenantField(page).inputValue(), "acme");
      await loadMembers(page);
      await members(page).getByRole("heading", { name: "Members of acme" }).waitFor();
      assert.equal(await members(page).getByLabel(`Role for ${ADMIN}`).inputValue(), "admin");
      assert.equal(await members(page).getByLabel(`Role for ${viewer}`).inputValue(), "viewer");

      // Demoting the admin: refused, in the contract's words.
      await members(page).getByLabel(`Role for ${ADMIN}`).selectOption("viewer");
      await rowOf(page, ADMIN).getByRole("button", { name: "Save" }).click();
      await members(page).getByRole("alert").filter({ hasText: "tenant_denied" }).waitFor();
      assert.equal(await members(page).getByLabel(`Role for ${ADMIN}`).inputValue(), "admin");
      await screenshot(page, "viewer-denied");

      // Removing and adding: refused alike.
      page.once("dialog", (dialog) => void dialog.accept());
      await rowOf(page, ADMIN).getByRole("button", { name: "Remove" }).click();
      await members(page).getByRole("alert").filter({ hasText: "tenant_denied" }).waitFor();
      const add = members(page).getByRole("form", { name: "Add member" });
      await add.getByLabel("Email", { exact: true }).fill(viewer);
      await add.getByLabel("Role", { exact: true }).selectOption("admin");
      await add.getByRole("button", { name: "Add member" }).click();
      await add.getByRole("alert").filter({ hasText: "tenant_denied" }).waitFor();
      assert.deepEqual(
        [(await rolesIn("acme"))[ADMIN], (await rolesIn("acme"))[viewer]],
        ["admin", "viewer"],
        "nothing changed",
      );

      // A tenant the viewer holds no role in: not even the list.
      await loadMembers(page, "solo");
      await members(page).getByRole("form", { name: "Members" }).getByRole("alert").filter({ hasText: "tenant_denied" }).waitFor();
      assert.equal(await members(page).getByRole("table").isVisible(), false, "no table under the wrong tenant's name");

      assert.deepEqual(problems.scriptErrors, []);
      assert.ok(problems.networkNotices.every((n) => / 403\b/.test(n)), problems.networkNotices.join("\n"));
    } finally {
      await context.close();
    }
  });
});
