// `edgeauth tenants members list|set|remove` against the built worker (SPEC "Tenants and roles",
// "CLI"): --json is the API's answer as it is, the plain output a table or a sentence, and the
// exit codes: 0 done, 1 an error answer (404 not_found, 409 last_admin), 2 bad usage,
// 4 not signed in or refused (403 tenant_denied).
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { startWorker } from "./harness.mjs";
import { assertBinaryBuilt, assertExit, cliEnv, runCli, stdoutJson, tempHome, unique } from "./cli-helpers.mjs";

const PASSWORD = "correct horse battery";
const ADMIN = "ops@acme.test";

let worker;
const homes = [];
before(async () => {
  await assertBinaryBuilt();
  worker = await startWorker({
    vars: { DEFAULT_USER_TENANTS: "{}", TENANT_ADMINS: JSON.stringify({ acme: [ADMIN] }) },
  });
  await account(ADMIN, "Ops");
});
after(async () => {
  await worker?.dispose();
  await Promise.all(homes.map((h) => h.cleanup()));
});

const json = (method, body, token) => ({
  method,
  headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
  body: JSON.stringify(body),
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

/** `GET /v1/tenants/acme/members` as the admin sees it: the parsed answer. */
async function listedByApi(tenant = "acme") {
  const login = await worker.fetch("/v1/auth/token", json("POST", { email: ADMIN, password: PASSWORD }));
  assert.equal(login.status, 200);
  const { token } = await login.json();
  const res = await worker.fetch(`/v1/tenants/${tenant}/members`, { headers: { authorization: `Bearer ${token}` } });
  const text = await res.text();
  assert.equal(res.status, 200, text);
  return JSON.parse(text);
}

const roleOf = (listed, email) => listed.members.find((m) => m.email === email)?.role;

/** A CLI in a home of its own, signed in as `email` (or not signed in at all). */
async function cliAs(email) {
  const home = await tempHome();
  homes.push(home);
  const cli = (args, { input } = {}) => runCli(args, { env: cliEnv(home, { EDGEAUTH_URL: worker.url }), input });
  if (email) {
    assertExit(await cli(["auth", "login", "--email", email, "--password-stdin"], { input: `${PASSWORD}\n` }), 0, "login");
  }
  return cli;
}

describe("tenants members", () => {
  test("an admin lists, sets and removes; --json is the API's answer", async () => {
    const cli = await cliAs(ADMIN);
    const dev = await account(`dev-${unique()}@acme.test`, "Dev Person");

    // list --json: exactly GET /v1/tenants/acme/members.
    const listed = await cli(["tenants", "members", "list", "acme", "--json"]);
    assertExit(listed, 0, "list --json");
    assert.deepEqual(stdoutJson(listed), await listedByApi());
    assert.deepEqual(stdoutJson(listed).members.find((m) => m.email === ADMIN), { email: ADMIN, name: "Ops", role: "admin" });

    // set --json: exactly the PUT answer, {tenant, email, role}.
    const set = await cli(["tenants", "members", "set", "acme", "--email", dev, "--role", "viewer", "--json"]);
    assertExit(set, 0, "set --json");
    assert.deepEqual(stdoutJson(set), { tenant: "acme", email: dev, role: "viewer" });
    assert.equal(set.stderr, "");
    assert.equal(roleOf(await listedByApi(), dev), "viewer");

    // set, for people: a sentence; the role holds.
    const promoted = await cli(["tenants", "members", "set", "acme", "--email", dev, "--role", "editor"]);
    assertExit(promoted, 0, "set");
    assert.equal(promoted.stdout, `${dev} is now editor in acme.\n`);
    assert.equal(roleOf(await listedByApi(), dev), "editor");

    // list, for people: a table of email, name and role.
    const table = await cli(["tenants", "members", "list", "acme"]);
    assertExit(table, 0, "list");
    const lines = table.stdout.trimEnd().split("\n");
    assert.match(lines[0], /^EMAIL\s+NAME\s+ROLE$/);
    assert.ok(lines.some((l) => /^ops@acme\.test\s+Ops\s+admin$/.test(l)), table.stdout);
    assert.ok(lines.some((l) => new RegExp(`^${dev.replace(/\./g, "\\.")}\\s+Dev Person\\s+editor$`).test(l)), table.stdout);

    // remove --json: the PUT answer with role null; the member is gone.
    const removed = await cli(["tenants", "members", "remove", "acme", "--email", dev, "--json"]);
    assertExit(removed, 0, "remove --json");
    assert.deepEqual(stdoutJson(removed), { tenant: "acme", email: dev, role: null });
    assert.equal(roleOf(await listedByApi(), dev), undefined);

    // remove, for people.
    assertExit(await cli(["tenants", "members", "set", "acme", "--email", dev, "--role", "viewer"]), 0, "re-add");
    const gone = await cli(["tenants", "members", "remove", "acme", "--email", dev]);
    assertExit(gone, 0, "remove");
    assert.equal(gone.stdout, `Removed ${dev} from acme.\n`);
  });

  test("refused in the tenant: exit 4 with tenant_denied; a member may list but not change", async () => {
    const outsider = await account(`out-${unique()}@acme.test`, "Outsider");
    const cli = await cliAs(outsider);

    const list = await cli(["tenants", "members", "list", "acme", "--json"]);
    assertExit(list, 4, "list by a non-member");
    assert.equal(list.stdout, "", "nothing on stdout on failure");
    assert.match(list.stderr, /\(403 tenant_denied\)/);

    const set = await cli(["tenants", "members", "set", "acme", "--email", outsider, "--role", "admin"]);
    assertExit(set, 4, "set by a non-member");
    assert.match(set.stderr, /\(403 tenant_denied\)/);
    assert.match(set.stderr, /only an admin of acme/);
    assert.equal(roleOf(await listedByApi(), outsider), undefined, "nothing granted");

    // Made a viewer: the list works, a change is still refused.
    const admin = await cliAs(ADMIN);
    assertExit(await admin(["tenants", "members", "set", "acme", "--email", outsider, "--role", "viewer"]), 0, "grant viewer");
    const seen = await cli(["tenants", "members", "list", "acme", "--json"]);
    assertExit(seen, 0, "list by a viewer");
    assert.equal(roleOf(stdoutJson(seen), ADMIN), "admin");
    const demote = await cli(["tenants", "members", "remove", "acme", "--email", ADMIN]);
    assertExit(demote, 4, "remove by a viewer");
    assert.match(demote.stderr, /\(403 tenant_denied\)/);
    assert.equal(roleOf(await listedByApi(), ADMIN), "admin");
  });

  test("an unknown email is 1 (not_found); the last admin leaving is 1 (last_admin)", async () => {
    const cli = await cliAs(ADMIN);
    const unknown = await cli(["tenants", "members", "set", "acme", "--email", `nobody-${unique()}@acme.test`, "--role", "viewer"]);
    assertExit(unknown, 1, "unknown email");
    assert.equal(unknown.stdout, "");
    assert.match(unknown.stderr, /\(404 not_found\)/);

    for (const args of [
      ["tenants", "members", "set", "acme", "--email", ADMIN, "--role", "viewer"],
      ["tenants", "members", "remove", "acme", "--email", ADMIN, "--json"],
    ]) {
      const last = await cli(args);
      assertExit(last, 1, args.join(" "));
      assert.equal(last.stdout, "");
      assert.match(last.stderr, /\(409 last_admin\)/);
      assert.match(last.stderr, /--role admin/, "says how to hand over first");
    }
    assert.equal(roleOf(await listedByApi(), ADMIN), "admin");
  });

  test("bad usage is 2 and not signed in is 4, before any request", async () => {
    const cli = await cliAs(undefined);
    for (const args of [
      ["tenants", "members", "set", "acme", "--email", ADMIN, "--role", "owner"],
      ["tenants", "members", "set", "acme", "--email", ADMIN],
      ["tenants", "members", "remove", "acme"],
      ["tenants", "members", "list"],
    ]) {
      const r = await cli(args);
      assertExit(r, 2, args.join(" "));
      assert.equal(r.stdout, "");
    }
    const r = await cli(["tenants", "members", "list", "acme"]);
    assertExit(r, 4, "not signed in");
    assert.match(r.stderr, /not signed in: run `edgeauth auth login`/);
  });
});
