// A stand-in for an external identity provider (a Supabase project, an OIDC IdP):
// an ES256 key set served as a JWKS by a Node http server on 127.0.0.1, and
// tokens minted for it by an implementation independent of edgeauth (npm `jose`).
import http from "node:http";
import { createHmac } from "node:crypto";
import { exportJWK, generateKeyPair, SignJWT } from "jose";

/** base64url of a string, a Buffer or a Uint8Array. */
export const b64url = (value) => Buffer.from(value).toString("base64url");

/** A compact JWS from a header and payload object, signed by `sign(signingInput) => bytes`. */
export function compact(header, payload, sign = () => new Uint8Array(0)) {
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(payload))}`;
  return `${input}.${b64url(sign(input))}`;
}

/** An HS256 token signed with `secret` (string or bytes), built by hand so any header goes. */
export function hs256(header, payload, secret) {
  return compact({ alg: "HS256", ...header }, payload, (input) => createHmac("sha256", secret).update(input).digest());
}

/** An HS256 token minted by jose. */
export async function joseHs256(payload, secret, header = {}) {
  return new SignJWT(payload)
    .setProtectedHeader({ alg: "HS256", typ: "JWT", ...header })
    .sign(typeof secret === "string" ? new TextEncoder().encode(secret) : secret);
}

/** A fresh P-256 key pair with its public JWK (kid, alg, use). */
export async function es256Key(kid) {
  const { publicKey, privateKey } = await generateKeyPair("ES256", { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid, alg: "ES256", use: "sig" };
  return { kid, publicKey, privateKey, jwk };
}

/**
 * Starts the IdP. `mode` decides how the JWKS URL answers: "up" (200 with the
 * published keys), "down" (500), "garbage" (200 with HTML), "refuse" (the
 * socket is destroyed), "hang" (never answers). `fetches` counts JWKS requests. `mint(claims, opts)` signs
 * an ES256 token with a published key (or `opts.key`), with `iss` and `aud`
 * defaulted and `iat`/`exp` set unless given.
 */
export async function startIdp({ iss = "https://idp.test", audience = "api", cacheControl } = {}) {
  const signing = await es256Key(`idp-${Math.random().toString(36).slice(2, 8)}`);
  const published = [signing];
  const state = { mode: "up", fetches: 0, paths: [] };
  const hanging = new Set();
  const server = http.createServer((req, res) => {
    state.fetches += 1;
    state.paths.push(req.url);
    if (state.mode === "hang") {
      hanging.add(res);
      return;
    }
    if (state.mode === "refuse") {
      req.socket.destroy();
      return;
    }
    if (state.mode === "garbage") {
      res.writeHead(200, { "content-type": "text/html" });
      res.end("<html>not a key set</html>");
      return;
    }
    if (state.mode === "down") {
      res.writeHead(500, { "content-type": "text/plain" });
      res.end("down");
      return;
    }
    const body = JSON.stringify({ keys: published.map((k) => k.jwk) });
    const headers = { "content-type": "application/json" };
    if (cacheControl) headers["cache-control"] = cacheControl;
    res.writeHead(200, headers);
    res.end(body);
  });
  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const { port } = server.address();
  const jwksUrl = `http://127.0.0.1:${port}/jwks.json`;
  const now = () => Math.floor(Date.now() / 1000);

  return {
    iss,
    audience,
    jwksUrl,
    signing,
    get fetches() {
      return state.fetches;
    },
    paths: state.paths,
    setMode(mode) {
      state.mode = mode;
    },
    publish(key) {
      published.push(key);
    },
    /** The issuer entry for EXTERNAL_ISSUERS. */
    config() {
      return { iss, audiences: [audience], jwks_url: jwksUrl };
    },
    async mint(claims = {}, { key = signing, header = {} } = {}) {
      const payload = { iss, aud: audience, sub: "ext-user-1", iat: now(), exp: now() + 600, ...claims };
      for (const [k, v] of Object.entries(payload)) if (v === undefined) delete payload[k];
      return new SignJWT(payload).setProtectedHeader({ alg: "ES256", typ: "JWT", kid: key.kid, ...header }).sign(key.privateKey);
    },
    close: () =>
      new Promise((resolve) => {
        for (const res of hanging) res.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
