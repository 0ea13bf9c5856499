// Tenant roles, decided by the gate over live grants: an operator seeds a tenant's first
// admin (TENANT_ADMINS, granted once that address is verified), admins manage members with GET/PUT /v1/tenants/{tenant}/members,
// and every credential of a member (access token, API key) acts with the role the
// Directory holds now, never the one it was issued with.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { startWorker } from "./harness.mjs";
import { expectError } from "./contract.mjs";

let worker;
before(async () => {
  worker = await startWorker({
    vars: { DEFAULT_USER_TENANTS: "{}", TENANT_ADMINS: JSON.stringify({ acme: ["ops@acme.test"] }) },
  });
});
after(async () => {
  await worker?.dispose();
});

const json = (body) => ({ method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
const bearer = (t) => ({ authorization: `Bearer ${t}` });
let n = 0;
const fresh = (name) => `${name}-${Date.now().toString(36)}-${n++}@acme.test`;

/**
 * Follows the verification link that registration sent to `email` (the development
 * mailbox): TENANT_ADMINS grants its role only to a verified address.
 */
async function verifyEmail(w, email) {
  const mailbox = await w.fetch(`/v1/dev/mailbox?to=${encodeURIComponent(email)}`);
  assert.equal(mailbox.status, 200);
  const { messages } = await mailbox.json();
  const link = messages.map((m) => m.link).find((l) => l.includes("/console/verify#"));
  const token = new URLSearchParams(new URL(link).hash.slice(1)).get("token");
  const res = await w.fetch("/v1/auth/email/verify", json({ token }));
  assert.equal(res.status, 200, await res.text());
}

async function signIn(email) {
  const password = "correct horse battery";
  const registered = await worker.fetch("/v1/auth/register", json({ email, password, name: email.split("@")[0] }));
  if (registered.status === 201) await verifyEmail(worker, email);
  const res = await worker.fetch("/v1/auth/token", json({ email, password }));
  assert.equal(res.status, 200);
  return res.json();
}

async function setRole(token, tenant, email, role) {
  return worker.fetch(`/v1/tenants/${tenant}/members`, {
    method: "PUT",
    headers: { ...bearer(token), "content-type": "application/json" },
    body: JSON.stringify({ email, role }),
  });
}

const listMembers = (token, tenant = "acme") => worker.fetch(`/v1/tenants/${tenant}/members`, { headers: bearer(token) });
const tenantRoute = (token, method = "GET") =>
  worker.fetch("/api/v1/tenants/acme/projects", { method, headers: bearer(token) });

async function createKey(token, body) {
  const res = await worker.fetch("/v1/api-keys", {
    method: "POST",
    headers: { ...bearer(token), "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  assert.equal(res.status, 201, await res.clone().text());
  return res.json();
}

describe("members", () => {
  test("the seeded admin grants roles, and roles gate tenant routes by method at once", async () => {
    const ops = await signIn("ops@acme.test");
    assert.deepEqual(ops.user.tenants, { acme: "admin" });
    const devEmail = fresh("dev");
    const dev = await signIn(devEmail);
    assert.deepEqual(dev.user.tenants, {});

    await expectError(await tenantRoute(dev.token), 403, "tenant_denied", { where: "not a member yet" });

    const res = await setRole(ops.token, "acme", devEmail, "viewer");
    assert.equal(res.status, 200);
    // Only the tenant, the email and the role: never the member's id or other tenants.
    assert.deepEqual(await res.json(), { tenant: "acme", email: devEmail, role: "viewer" });

    // The same access token, issued before the grant: the role holds at once.
    const echoed = await (await tenantRoute(dev.token)).json();
    assert.equal(echoed.headers["x-edgeauth-tenant"], "acme");
    await expectError(await tenantRoute(dev.token, "POST"), 403, "insufficient_scope", { where: "a viewer reads only" });
  });

  test("listing shows {email, name, role} to any member; others are tenant_denied", async () => {
    const ops = await signIn("ops@acme.test");
    const viewerEmail = fresh("viewer");
    const viewer = await signIn(viewerEmail);
    const outsider = await signIn(fresh("outsider"));
    await setRole(ops.token, "acme", viewerEmail, "viewer");

    const res = await listMembers(viewer.token);
    assert.equal(res.status, 200);
    const { members } = await res.json();
    assert.ok(members.some((m) => m.email === "ops@acme.test" && m.role === "admin"));
    const me = members.find((m) => m.email === viewerEmail);
    assert.deepEqual(me, { email: viewerEmail, name: viewerEmail.split("@")[0], role: "viewer" });
    for (const m of members) assert.deepEqual(Object.keys(m).sort(), ["email", "name", "role"]);

    await expectError(await listMembers(outsider.token), 403, "tenant_denied");
    await expectError(await setRole(viewer.token, "acme", viewerEmail, "admin"), 403, "tenant_denied", {
      where: "a viewer cannot promote themselves",
    });
  });

  test("only an admin changes members; bad input and unknown emails are named", async () => {
    const ops = await signIn("ops@acme.test");
    const other = await signIn(fresh("other"));
    await expectError(await setRole(other.token, "acme", "ops@acme.test", null), 403, "tenant_denied");

    let res = await setRole(ops.token, "acme", "ops@acme.test", "owner");
    assert.match((await expectError(res, 400, "invalid_field")).message, /role/);
    res = await worker.fetch("/v1/tenants/acme/members", {
      method: "PUT",
      headers: { ...bearer(ops.token), "content-type": "application/json" },
      body: JSON.stringify({ email: "ops@acme.test" }),
    });
    assert.match((await expectError(res, 400, "invalid_field")).message, /^role: is required/);

    await expectError(await setRole(ops.token, "acme", "nobody@acme.test", "viewer"), 404, "not_found");
    // Only an admin of the tenant learns whether an email is registered.
    await expectError(await setRole(other.token, "acme", "nobody@acme.test", "viewer"), 403, "tenant_denied");

    res = await worker.fetch("/v1/tenants/acme/members", { method: "DELETE", headers: bearer(ops.token) });
    await expectError(res, 405, "method_not_allowed");
    assert.equal(res.headers.get("allow"), "GET, PUT");
  });

  test("the last admin cannot step down or leave (409 last_admin); with a second admin they can", async () => {
    const w = await startWorker({ vars: { DEFAULT_USER_TENANTS: "{}", TENANT_ADMINS: JSON.stringify({ solo: ["solo@acme.test"] }) } });
    try {
      const reg = async (email) => {
        const password = "correct horse battery";
        assert.equal((await w.fetch("/v1/auth/register", json({ email, password, name: "x" }))).status, 201);
        await verifyEmail(w, email);
        return (await w.fetch("/v1/auth/token", json({ email, password }))).json();
      };
      const put = (token, email, role) =>
        w.fetch("/v1/tenants/solo/members", {
          method: "PUT",
          headers: { ...bearer(token), "content-type": "application/json" },
          body: JSON.stringify({ email, role }),
        });
      const solo = await reg("solo@acme.test");
      await expectError(await put(solo.token, "solo@acme.test", null), 409, "last_admin");
      await expectError(await put(solo.token, "solo@acme.test", "viewer"), 409, "last_admin");
      const second = await reg("second@acme.test");
      assert.equal((await put(solo.token, "second@acme.test", "admin")).status, 200);
      assert.equal((await put(solo.token, "solo@acme.test", "editor")).status, 200);
      // Now an editor, the first may no longer manage members.
      await expectError(await put(solo.token, "second@acme.test", null), 403, "tenant_denied");
      await expectError(await put(second.token, "second@acme.test", null), 409, "last_admin");
    } finally {
      await w.dispose();
    }
  });
});

describe("every credential acts with the role held now", () => {
  test("a removed member's token and key are refused at once, and the token cannot re-grant itself", async () => {
    const ops = await signIn("ops@acme.test");
    const bEmail = fresh("b");
    const b = await signIn(bEmail);
    await setRole(ops.token, "acme", bEmail, "admin");
    const key = await createKey(b.token, { name: "b's key", scopes: ["*"], tenants: ["acme"] });
    assert.equal((await tenantRoute(b.token)).status, 200);
    assert.equal((await tenantRoute(key.key)).status, 200);
    assert.equal((await tenantRoute(key.key, "DELETE")).status, 200, "an admin's * key writes");

    assert.equal((await setRole(ops.token, "acme", bEmail, null)).status, 200);

    await expectError(await tenantRoute(key.key), 403, "tenant_denied", { where: "the removed member's key" });
    await expectError(await tenantRoute(b.token), 403, "tenant_denied", { where: "the removed member's token" });
    // Its `tenants` claim still says admin: the claim is a snapshot, the Directory decides.
    await expectError(await setRole(b.token, "acme", bEmail, "admin"), 403, "tenant_denied", { where: "self re-grant" });
    await expectError(await listMembers(b.token), 403, "tenant_denied");
    const who = await (await worker.fetch("/v1/auth/whoami", { headers: bearer(key.key) })).json();
    assert.deepEqual(who.tenants, {}, "whoami reports the roles held now");
  });

  test("a downgrade from admin to viewer turns writes into 403 while reads pass", async () => {
    const ops = await signIn("ops@acme.test");
    const cEmail = fresh("c");
    const c = await signIn(cEmail);
    await setRole(ops.token, "acme", cEmail, "admin");
    const key = await createKey(c.token, { name: "c's key", scopes: ["*"], tenants: ["acme"] });
    for (const cred of [c.token, key.key]) assert.equal((await tenantRoute(cred, "POST")).status, 200);

    await setRole(ops.token, "acme", cEmail, "viewer");
    for (const cred of [c.token, key.key]) {
      await expectError(await tenantRoute(cred, "POST"), 403, "insufficient_scope");
      const echo = await (await tenantRoute(cred)).json();
      assert.equal(echo.headers["x-edgeauth-tenant"], "acme");
      assert.equal(echo.headers["x-edgeauth-scopes"], "*:read", "the scopes it may use there now");
    }
    // A refresh carries the new role in its snapshot claim too.
    const refreshed = await (await worker.fetch("/v1/auth/refresh", json({ refresh_token: c.refresh_token }))).json();
    assert.deepEqual(refreshed.user.tenants, { acme: "viewer" });
  });

  test("a key's own scopes bound it in a tenant: a scans:read key of an admin reads, never writes", async () => {
    const ops = await signIn("ops@acme.test");
    const key = await createKey(ops.token, { name: "reader", scopes: ["scans:read"], tenants: ["acme"] });
    const echo = await (await tenantRoute(key.key)).json();
    assert.equal(echo.headers["x-edgeauth-scopes"], "scans:read");
    for (const method of ["POST", "PUT", "DELETE"]) {
      await expectError(await tenantRoute(key.key, method), 403, "insufficient_scope", { where: method });
    }
    // Nor can it manage members, though its creator is an admin.
    await expectError(await setRole(key.key, "acme", "ops@acme.test", "viewer"), 403, "insufficient_scope");
  });
});
