// SPEC's answer shapes, asserted the same way by every spec file that imports
// them: the error body, WWW-Authenticate (RFC 6750), the Date header, and the
// few calls that give a test a credential (register + login, an API key).
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";

export const CODES = {
  400: "BAD_REQUEST",
  401: "UNAUTHORIZED",
  403: "FORBIDDEN",
  404: "NOT_FOUND",
  405: "METHOD_NOT_ALLOWED",
  409: "CONFLICT",
  413: "PAYLOAD_TOO_LARGE",
  429: "RATE_LIMITED",
  503: "UNAVAILABLE",
};

/** RFC 9110 §5.6.7 IMF-fixdate, e.g. `Sun, 06 Nov 1994 08:49:37 GMT`. */
export const IMF_FIXDATE =
  /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} GMT$/;

/** The answer carries an IMF-fixdate `Date` within a minute of this machine's clock. */
export function assertDate(res, what = "") {
  const date = res.headers.get("date");
  assert.match(date ?? "", IMF_FIXDATE, `${what} Date header: ${date}`);
  assert.ok(Math.abs(Date.parse(date) - Date.now()) < 60_000, `${what} Date ${date} is near now`);
}

/** What WWW-Authenticate a 401 of this reason carries (SPEC "Errors"). */
export function wwwAuthenticateFor(reason) {
  if (reason === "missing_credential") return 'Bearer realm="edgeauth"';
  if (reason === "malformed_credential") {
    return 'Bearer realm="edgeauth", error="invalid_request", error_description="malformed_credential"';
  }
  return `Bearer realm="edgeauth", error="invalid_token", error_description="${reason}"`;
}

/**
 * Asserts an error answer: status, SPEC's body `{"error": {code, reason,
 * message}}` and nothing else, JSON content type, `Date`, and the
 * WWW-Authenticate its status and reason call for (`scope` for 403
 * insufficient_scope: the scopes the route needs). Returns the error object.
 */
export async function expectError(res, status, reason, { scope, message } = {}) {
  const text = await res.text();
  assert.equal(res.status, status, `status (body: ${text.slice(0, 300)})`);
  assert.match(res.headers.get("content-type") ?? "", /^application\/json/);
  let body;
  assert.doesNotThrow(() => {
    body = JSON.parse(text);
  }, `error body is JSON: ${text.slice(0, 200)}`);
  assert.deepEqual(Object.keys(body), ["error"], "the body holds only `error`");
  assert.deepEqual(Object.keys(body.error).sort(), ["code", "message", "reason"]);
  assert.equal(body.error.code, CODES[status]);
  assert.equal(body.error.reason, reason, `reason (message: ${body.error.message})`);
  assert.equal(typeof body.error.message, "string");
  assert.ok(body.error.message.length > 0, "message is not empty");
  if (message) assert.match(body.error.message, message);
  assertDate(res, `${status} ${reason}`);
  const www = res.headers.get("www-authenticate");
  if (status === 401) {
    assert.equal(www, wwwAuthenticateFor(reason), "WWW-Authenticate");
  } else if (status === 403 && reason === "insufficient_scope") {
    assert.match(www ?? "", /^Bearer (realm="edgeauth", )?error="insufficient_scope", scope="[^"]*"$/);
    if (scope !== undefined) assert.ok(www.endsWith(`scope="${scope}"`), `WWW-Authenticate names ${scope}: ${www}`);
  } else {
    assert.equal(www, null, `no WWW-Authenticate on a ${status}`);
  }
  return body.error;
}

/** Parses a 200 answer of the echo origin (built-in or tests/origin.mjs). */
export async function expectEcho(res) {
  const text = await res.text();
  assert.equal(res.status, 200, `status (body: ${text.slice(0, 300)})`);
  assertDate(res, "echo");
  return JSON.parse(text);
}

export const unique = () => randomBytes(6).toString("hex");

/** Registers and logs in a new user; `{token, refresh_token, user, email, password}`. */
export async function signUp(worker, { name = "Gateway Test" } = {}) {
  const email = `gw-${unique()}@example.com`;
  const password = `pw-${randomBytes(12).toString("base64url")}`;
  const post = (p, body) =>
    worker.fetch(p, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  let res = await post("/v1/auth/register", { email, password, name });
  assert.equal(res.status, 201, await res.clone().text());
  await res.arrayBuffer();
  res = await post("/v1/auth/token", { email, password });
  assert.equal(res.status, 200, await res.clone().text());
  return { ...(await res.json()), email, password };
}

/** Creates an API key with `fields` using a user's access token; the POST answer. */
export async function createApiKey(worker, token, fields) {
  const res = await worker.fetch("/v1/api-keys", {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify({ name: `key-${unique()}`, ...fields }),
  });
  const text = await res.text();
  assert.equal(res.status, 201, text);
  return JSON.parse(text);
}

export const bearer = (credential, extra = {}) => ({ authorization: `Bearer ${credential}`, ...extra });
