// The built worker starts in Miniflare and answers its two public, credential-free routes.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { startWorker } from "./harness.mjs";

let worker;
before(async () => {
  worker = await startWorker();
});
after(async () => {
  await worker?.dispose();
});

test("GET /health answers 200 without a credential", async () => {
  const res = await worker.fetch("/health");
  assert.equal(res.status, 200);
  await res.arrayBuffer();
});

test("GET /.well-known/jwks.json lists the public half of the signing key", async () => {
  const res = await worker.fetch("/.well-known/jwks.json");
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type") ?? "", /^application\/(jwk-set\+)?json/);
  const body = await res.json();
  assert.ok(Array.isArray(body.keys), "body.keys is an array");

  const [signing] = worker.signingKeys.keys;
  const listed = body.keys.find((key) => key.kid === signing.kid);
  assert.ok(listed, `the active kid ${signing.kid} is listed`);
  assert.equal(listed.kty, "EC");
  assert.equal(listed.crv, "P-256");
  assert.equal(listed.x, signing.x);
  assert.equal(listed.y, signing.y);
  for (const key of body.keys) assert.equal(key.d, undefined, "no private key material");
});
