// Tenant roles: an operator seeds a tenant's first admin (TENANT_ADMINS), the admin grants
// roles with PUT /v1/tenants/{tenant}/members, and the roles gate tenant routes.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { startWorker } from "./harness.mjs";

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

async function signIn(email) {
  const password = "correct horse battery";
  await worker.fetch("/v1/auth/register", json({ email, password, name: email.split("@")[0] }));
  const res = await worker.fetch("/v1/auth/token", json({ email, password }));
  assert.equal(res.status, 200);
  return res.json();
}

const bearer = (t) => ({ authorization: `Bearer ${t}` });

async function setRole(token, tenant, email, role) {
  return worker.fetch(`/v1/tenants/${tenant}/members`, {
    method: "PUT",
    headers: { ...bearer(token), "content-type": "application/json" },
    body: JSON.stringify({ email, role }),
  });
}

test("the seeded admin grants roles, and roles gate tenant routes by method", async () => {
  const ops = await signIn("ops@acme.test");
  assert.deepEqual(ops.user.tenants, { acme: "admin" });
  const dev = await signIn("dev@acme.test");
  assert.deepEqual(dev.user.tenants, {});

  // Not a member yet: tenant_denied.
  let res = await worker.fetch("/api/v1/tenants/acme/projects", { headers: bearer(dev.token) });
  assert.equal(res.status, 403);
  assert.equal((await res.json()).error.reason, "tenant_denied");

  res = await setRole(ops.token, "acme", "dev@acme.test", "viewer");
  assert.equal(res.status, 200);
  assert.deepEqual((await res.json()).user.tenants, { acme: "viewer" });

  // The role reaches the member's tokens at the next refresh.
  const refreshed = await (await worker.fetch("/v1/auth/refresh", json({ refresh_token: dev.refresh_token }))).json();
  res = await worker.fetch("/api/v1/tenants/acme/projects", { headers: bearer(refreshed.token) });
  assert.equal(res.status, 200);
  const echoed = await res.json();
  assert.equal(echoed.headers["x-edgeauth-tenant"], "acme");

  // A viewer reads but does not write.
  res = await worker.fetch("/api/v1/tenants/acme/projects", { method: "POST", headers: bearer(refreshed.token) });
  assert.equal(res.status, 403);
  assert.equal((await res.json()).error.reason, "insufficient_scope");
});

test("only a tenant's admin changes its members, and bad input is named", async () => {
  const ops = await signIn("ops@acme.test");
  const other = await signIn("other@acme.test");
  let res = await setRole(other.token, "acme", "other@acme.test", "admin");
  assert.equal(res.status, 403);
  assert.equal((await res.json()).error.reason, "tenant_denied");

  res = await setRole(ops.token, "acme", "other@acme.test", "owner");
  assert.equal(res.status, 400);
  const body = await res.json();
  assert.equal(body.error.reason, "invalid_field");
  assert.match(body.error.message, /role/);

  res = await setRole(ops.token, "acme", "nobody@acme.test", "viewer");
  assert.equal(res.status, 404);
  assert.equal((await res.json()).error.reason, "not_found");

  res = await worker.fetch("/v1/tenants/acme/members", { headers: bearer(ops.token) });
  assert.equal(res.status, 405);
  assert.equal(res.headers.get("allow"), "PUT");
});

test("removing a member with role null takes the tenant away", async () => {
  const ops = await signIn("ops@acme.test");
  await signIn("temp@acme.test");
  await setRole(ops.token, "acme", "temp@acme.test", "editor");
  const res = await setRole(ops.token, "acme", "temp@acme.test", null);
  assert.equal(res.status, 200);
  assert.deepEqual((await res.json()).user.tenants, {});
});
