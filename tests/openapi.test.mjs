// core/openapi.json, the document GET /openapi.json serves: SPEC's endpoints and error
// table are in it, it is valid OpenAPI 3.1, and the built worker's live answers conform to
// it (the fuzz run, scripts/fuzz/run.mjs).
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { CODES } from "./contract.mjs";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const DOCUMENT = path.join(ROOT, "core", "openapi.json");
const PYTHON = path.join(ROOT, ".venv", "bin", "python");

// SPEC "Errors": the reasons of each status.
const REASONS = {
  400: ["invalid_field", "invalid_json", "unsupported_media_type", "invalid_path", "email_token_invalid", "sso_state_invalid", "sso_not_configured", "authorization_pending", "slow_down", "expired_token", "access_denied"],
  401: ["missing_credential", "malformed_credential", "token_expired", "token_not_yet_valid", "bad_token_signature", "unknown_key_id", "wrong_issuer", "wrong_audience", "algorithm_not_allowed", "session_revoked", "api_key_unknown", "api_key_revoked", "api_key_expired", "invalid_login", "refresh_token_invalid", "refresh_token_reused", "signature_missing", "signature_invalid", "timestamp_out_of_window", "nonce_replayed", "sso_failed"],
  403: ["insufficient_scope", "tenant_denied", "resource_denied", "ip_denied", "privilege_escalation", "email_unverified", "sso_required", "sso_domain_mismatch"],
  404: ["not_found", "no_route"],
  405: ["method_not_allowed"],
  409: ["email_taken", "last_admin"],
  413: ["payload_too_large"],
  429: ["rate_limited"],
  503: ["store_unavailable", "issuer_unreachable"],
};
// "the last four only on the device-token endpoint, as RFC 8628 names them"
const DEVICE_TOKEN_ONLY = ["authorization_pending", "slow_down", "expired_token", "access_denied"];

// Every endpoint SPEC names that the worker serves, and the default development policy's
// routes. SPEC's single sign-on endpoints (PUT/GET/DELETE /v1/tenants/{tenant}/sso,
// /v1/auth/sso/{start,callback,exchange}, /v1/auth/saml/{tenant}/{acs,metadata}) join the
// document with the worker's SSO (issues 17 and 18): the document describes what is served,
// and the fuzz run holds it to that.
const ENDPOINTS = [
  ["post", "/v1/auth/register"],
  ["post", "/v1/auth/token"],
  ["post", "/v1/auth/refresh"],
  ["post", "/v1/auth/logout"],
  ["get", "/v1/auth/whoami"],
  ["get", "/.well-known/jwks.json"],
  ["post", "/v1/api-keys"],
  ["get", "/v1/api-keys"],
  ["get", "/v1/api-keys/{id}"],
  ["delete", "/v1/api-keys/{id}"],
  ["get", "/v1/tenants/{tenant}/members"],
  ["put", "/v1/tenants/{tenant}/members"],
  ["post", "/v1/auth/email/verify/send"],
  ["post", "/v1/auth/email/verify"],
  ["post", "/v1/auth/password/forgot"],
  ["post", "/v1/auth/password/reset"],
  ["post", "/v1/auth/magic-link"],
  ["post", "/v1/auth/magic-link/verify"],
  ["get", "/v1/dev/mailbox"],
  ["post", "/v1/auth/device/code"],
  ["post", "/v1/auth/device/token"],
  ["post", "/v1/auth/device/approve"],
  ["get", "/v1/auth/device/lookup"],
  ["get", "/openapi.json"],
  ["get", "/health"],
  ["get", "/api/me"],
  ["get", "/api/scans/dashboard"],
  ["post", "/api/scans/trigger/{repo}"],
  ["get", "/api/drifts"],
  ["get", "/api/ws/drifts"],
  ["post", "/api/signed/{rest}"],
  ...["get", "post", "put", "patch", "delete"].map((m) => [m, "/api/v1/tenants/{tenant}/{rest}"]),
];
const METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

const doc = JSON.parse(readFileSync(DOCUMENT, "utf8"));

/** The value a local `$ref` points at. */
function resolve(value) {
  let seen = 0;
  while (value && typeof value.$ref === "string") {
    assert.match(value.$ref, /^#\//, `only local references: ${value.$ref}`);
    const target = value.$ref
      .slice(2)
      .split("/")
      .map((p) => p.replace(/~1/g, "/").replace(/~0/g, "~"))
      .reduce((node, key) => node?.[key], doc);
    assert.ok(target !== undefined, `${value.$ref} resolves`);
    value = target;
    assert.ok(++seen < 10, "no reference cycle");
  }
  return value;
}

function* operations() {
  for (const [p, item] of Object.entries(doc.paths)) {
    for (const method of METHODS) if (item[method]) yield { path: p, method, op: item[method] };
  }
}

/** The `code` const and `reason` enum a per-status error schema narrows `Error` to. */
function narrowed(schema) {
  schema = resolve(schema);
  assert.ok(Array.isArray(schema.allOf), "an error answer is `Error` narrowed with allOf");
  assert.equal(schema.allOf[0].$ref, "#/components/schemas/Error");
  const error = schema.allOf[1].properties.error.properties;
  return { code: error.code.const, reasons: error.reason.enum };
}

test("the document is JSON, OpenAPI 3.1, with unique operation ids", () => {
  assert.match(doc.openapi, /^3\.1\.\d+$/);
  assert.equal(typeof doc.info?.title, "string");
  const ids = [...operations()].map(({ op }) => op.operationId);
  assert.ok(ids.every((id) => typeof id === "string" && id.length > 0), "every operation has an id");
  assert.equal(new Set(ids).size, ids.length, "operation ids are unique");
});

test("every reference resolves", () => {
  const walk = (node) => {
    if (Array.isArray(node)) node.forEach(walk);
    else if (node && typeof node === "object") {
      if (typeof node.$ref === "string") resolve(node);
      Object.values(node).forEach(walk);
    }
  };
  walk(doc);
});

test("every SPEC endpoint is there with its method, and nothing else", () => {
  const want = ENDPOINTS.map(([m, p]) => `${m.toUpperCase()} ${p}`).sort();
  const have = [...operations()].map(({ method, path: p }) => `${method.toUpperCase()} ${p}`).sort();
  assert.deepEqual(have, want);
});

test("the error shape: exactly SPEC's codes and reasons", () => {
  const schemas = doc.components.schemas;
  const error = schemas.Error;
  assert.deepEqual(error.required, ["error"]);
  assert.equal(error.additionalProperties, false);
  const inner = error.properties.error;
  assert.deepEqual([...inner.required].sort(), ["code", "message", "reason"]);
  assert.equal(inner.additionalProperties, false);
  assert.deepEqual([...resolve(inner.properties.code).enum].sort(), Object.values(CODES).sort());
  const reasons = resolve(inner.properties.reason).enum;
  assert.equal(new Set(reasons).size, reasons.length, "no reason twice");
  assert.deepEqual([...reasons].sort(), Object.values(REASONS).flat().sort());
  assert.deepEqual(Object.keys(REASONS).sort(), Object.keys(CODES).sort(), "one status table");
});

// The table above is SPEC's; where SPEC.md is at hand (shared/ beside the repository), read it again.
test("the reasons table above is SPEC's", (t) => {
  const candidates = [process.env.EDGEAUTH_SPEC, path.join(ROOT, "..", "shared", "SPEC.md")];
  const spec = candidates.find((file) => file && existsSync(file));
  if (!spec) {
    t.skip("SPEC.md is not beside the repository (set EDGEAUTH_SPEC)");
    return;
  }
  const text = readFileSync(spec, "utf8");
  const table = text.slice(text.indexOf("The reasons:"), text.indexOf("Browser apps"));
  const parsed = {};
  for (const line of table.split("\n")) {
    const cells = /^\| (\d{3}) \|(.*)\|$/.exec(line);
    if (cells) parsed[cells[1]] = [...cells[2].matchAll(/`([a-z_]+)`/g)].map((m) => m[1]);
  }
  assert.deepEqual(parsed, REASONS);
});

test("each error answer carries SPEC's code and only its status's reasons", () => {
  for (const { path: p, method, op } of operations()) {
    for (const [status, response] of Object.entries(op.responses)) {
      if (Number(status) < 400) continue;
      const label = `${method.toUpperCase()} ${p} ${status}`;
      const content = resolve(response).content?.["application/json"];
      assert.ok(content, `${label}: a JSON body`);
      const { code, reasons } = narrowed(content.schema);
      assert.equal(code, CODES[status], `${label}: code`);
      assert.ok(reasons.length > 0, `${label}: some reason`);
      for (const reason of reasons) {
        assert.ok(REASONS[status].includes(reason), `${label}: ${reason} is a ${status} reason`);
        if (DEVICE_TOKEN_ONLY.includes(reason)) {
          assert.equal(op.operationId, "deviceToken", `${label}: ${reason} only on the device-token endpoint`);
        }
      }
    }
  }
});

test("the headers SPEC promises: Date everywhere, WWW-Authenticate, Allow, Retry-After, Location", () => {
  const header = (response, name) => {
    const h = response.headers?.[name];
    return h && resolve(h);
  };
  for (const { path: p, method, op } of operations()) {
    for (const [status, r] of Object.entries(op.responses)) {
      const response = resolve(r);
      const label = `${method.toUpperCase()} ${p} ${status}`;
      assert.equal(header(response, "Date")?.required, true, `${label}: Date`);
      const needs = { 401: "WWW-Authenticate", 405: "Allow", 429: "Retry-After", 302: "Location" }[status];
      if (needs) assert.equal(header(response, needs)?.required, true, `${label}: ${needs}`);
    }
  }
  const www = new RegExp(resolve({ $ref: "#/components/headers/WWWAuthenticate" }).schema.pattern);
  for (const value of [
    'Bearer realm="edgeauth"',
    'Bearer realm="edgeauth", error="invalid_request", error_description="malformed_credential"',
    'Bearer realm="edgeauth", error="invalid_token", error_description="token_expired"',
  ]) {
    assert.match(value, www);
  }
  const date = new RegExp(resolve({ $ref: "#/components/headers/Date" }).schema.pattern);
  assert.match(new Date().toUTCString(), date);
});

test("the statuses every operation can answer", () => {
  for (const { path: p, method, op } of operations()) {
    const label = `${method.toUpperCase()} ${p}`;
    const statuses = Object.keys(op.responses);
    assert.ok(statuses.some((s) => s < "400"), `${label}: a success answer`);
    // A 405 answers a method the path does not list: listed under an operation, it would
    // let that operation's own method be refused unnoticed.
    assert.ok(!statuses.includes("405"), `${label}: 405 is not an answer of a listed method`);
    if (op.requestBody) assert.ok(statuses.includes("413"), `${label}: 413 for a body over the limit`);
    if (op.requestBody?.required) assert.ok(statuses.includes("400"), `${label}: 400 for a bad body`);
    if (op.security.length > 0) {
      assert.ok(statuses.includes("401"), `${label}: 401 (it needs a credential)`);
      assert.ok(statuses.includes("503"), `${label}: 503 (the credential's store may fail)`);
    }
  }
});

// SPEC: a known endpoint of the worker's own called with another method is 405 with
// `Allow`. The document says so once (components.responses.MethodNotAllowed); the fuzz run
// sends unlisted methods to exactly these paths and holds the answers to it.
test("405 with Allow for the worker's own paths", () => {
  const response = resolve({ $ref: "#/components/responses/MethodNotAllowed" });
  assert.equal(resolve(response.headers.Allow).required, true);
  assert.equal(narrowed(response.content["application/json"].schema).code, CODES[405]);
  const config = readFileSync(path.join(ROOT, "tests", "fuzz", "schemathesis.toml"), "utf8");
  const regex = /include-path-regex = "(.*)"\nchecks\.unsupported_method\.enabled = true/.exec(config);
  assert.ok(regex, "the fuzz run checks unlisted methods");
  const own = new RegExp(regex[1].replace(/\\\\/g, "\\"));
  for (const p of Object.keys(doc.paths)) {
    const worker = p.startsWith("/v1/") || p === "/.well-known/jwks.json" || p === "/openapi.json";
    assert.equal(own.test(p), worker, `${p}: unlisted methods ${worker ? "are" : "are not"} 405`);
  }
});

test("schemathesis finds the document valid OpenAPI 3.1", () => {
  assert.ok(existsSync(PYTHON), `${PYTHON} is missing: run scripts/setup.sh`);
  const run = spawnSync(
    PYTHON,
    ["-c", "import sys, schemathesis; schemathesis.openapi.from_path(sys.argv[1]).validate()", DOCUMENT],
    { encoding: "utf8", timeout: 60_000 },
  );
  assert.equal(run.status, 0, `${run.stdout}\n${run.stderr}`.slice(-3000));
});

// The live check: every answer of the built worker to schemathesis's requests conforms to
// the document. Fails while the worker lacks an endpoint or answers otherwise than it says.
test("the built worker's answers conform to the document (fuzz run)", { timeout: 180_000 }, async () => {
  const output = [];
  const child = spawn(process.execPath, [path.join(ROOT, "scripts", "fuzz", "run.mjs")], {
    cwd: ROOT,
    stdio: ["ignore", "pipe", "pipe"],
  });
  for (const stream of [child.stdout, child.stderr]) {
    stream.setEncoding("utf8");
    stream.on("data", (chunk) => output.push(chunk));
  }
  const status = await new Promise((resolve) => child.on("exit", (code, signal) => resolve(code ?? signal)));
  const text = output.join("");
  const summary = text.slice(text.lastIndexOf("== fuzz summary"));
  assert.equal(status, 0, `the fuzz run failed:\n${summary.length > 20 ? summary : text.slice(-6000)}`);
});
