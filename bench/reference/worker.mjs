// The reference: what most Workers deploy instead of edgeauth. A plain ESM worker
// that checks ES256 tokens (the worker's own issuer, from a local JWK set) and
// HS256 tokens (an external issuer's shared secret) with npm `jose`, then forwards
// to the origin with the caller's identity attached, like edgeauth's gateway.
// No caches beyond what jose keeps itself: each request runs jwtVerify.
//
// Bindings (vars): ORIGIN_URL, ISSUER, AUDIENCE, JWKS (public JWK set, JSON),
// HS_ISSUER, HS_AUDIENCE, HS_SECRET.
import { createLocalJWKSet, decodeJwt, jwtVerify } from "jose";

let config;

/** Parsed once per isolate, as a hand-written worker would. */
function issuers(env) {
  if (!config) {
    config = new Map([
      [env.ISSUER, { kind: "user", key: createLocalJWKSet(JSON.parse(env.JWKS)), audience: env.AUDIENCE, algorithms: ["ES256"] }],
      [env.HS_ISSUER, { kind: "external", key: new TextEncoder().encode(env.HS_SECRET), audience: env.HS_AUDIENCE, algorithms: ["HS256"] }],
    ]);
  }
  return config;
}

function unauthorized(reason) {
  return new Response(JSON.stringify({ error: { code: "UNAUTHORIZED", reason } }), {
    status: 401,
    headers: { "content-type": "application/json", "www-authenticate": 'Bearer realm="reference"' },
  });
}

function forward(request, env, identity) {
  const url = new URL(request.url);
  const headers = new Headers();
  for (const [name, value] of request.headers) {
    if (!name.startsWith("x-edgeauth-") && name !== "authorization" && name !== "host") headers.set(name, value);
  }
  if (identity) {
    headers.set("x-edgeauth-subject", identity.sub ?? "");
    headers.set("x-edgeauth-kind", identity.kind);
    headers.set("x-edgeauth-scopes", typeof identity.scope === "string" ? identity.scope : "");
  }
  return fetch(`${env.ORIGIN_URL}${url.pathname}${url.search}`, {
    method: request.method,
    headers,
    body: request.method === "GET" || request.method === "HEAD" ? undefined : request.body,
    redirect: "manual",
  });
}

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname === "/health") return forward(request, env, null);

    const match = /^Bearer\s+(\S+)$/i.exec(request.headers.get("authorization") ?? "");
    if (!match) return unauthorized("missing_credential");
    const token = match[1];
    let iss;
    try {
      ({ iss } = decodeJwt(token));
    } catch {
      return unauthorized("malformed_credential");
    }
    const issuer = issuers(env).get(iss);
    if (!issuer) return unauthorized("wrong_issuer");
    let payload;
    try {
      ({ payload } = await jwtVerify(token, issuer.key, {
        issuer: iss,
        audience: issuer.audience,
        algorithms: issuer.algorithms,
        clockTolerance: 60,
      }));
    } catch (error) {
      return unauthorized(error.code ?? "invalid_token");
    }
    return forward(request, env, { ...payload, kind: issuer.kind });
  },
};
