// Bearer JWTs at the gateway (SPEC "Credentials", "Errors"): tokens minted by an
// independent implementation (npm `jose`) for an HS256 issuer (inline secret) and an
// ES256 issuer (JWKS served by tests/idp.mjs) are accepted and reach the origin as
// x-edgeauth-* headers; forged, confused, expired, misdirected and malformed tokens
// are refused with SPEC's reason and WWW-Authenticate; the JWKS fetcher caches,
// coalesces, cools down and fails closed (503 issuer_unreachable).
import assert from "node:assert/strict";
import { createPublicKey, sign as nodeSign } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { decodeJwt, exportSPKI, importJWK, SignJWT } from "jose";
import { startWorker } from "./harness.mjs";
import { b64url, compact, es256Key, hs256, joseHs256, startIdp } from "./idp.mjs";
import { bearer, expectEcho, expectError, signUp } from "./contract.mjs";

const HS_ISS = "https://hs.test";
const HS_SECRET = "hs256-test-secret-a7f3c9e1b5d2f8a4c6e0b9d7f1a3c5e7";
const now = () => Math.floor(Date.now() / 1000);
const SLOW = process.env.EDGEAUTH_SLOW_TESTS === "1";

/** P-256's group order n: a signature with r or s ≥ n (or = 0) is invalid by definition. */
const P256_N = Buffer.from("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551", "hex");

let idp;
let worker;
let own; // { token, claims, key (jose private key), kid, publicJwk }

const hsClaims = (over = {}) => {
  const c = { iss: HS_ISS, aud: "api", sub: "hs-user-1", iat: now(), exp: now() + 600, ...over };
  for (const [k, v] of Object.entries(c)) if (v === undefined) delete c[k];
  return c;
};
const hsToken = (over, header) => joseHs256(hsClaims(over), HS_SECRET, header);

async function ownToken(over = {}, header = {}) {
  const claims = { ...own.claims, ...over };
  for (const [k, v] of Object.entries(claims)) if (v === undefined) delete claims[k];
  return new SignJWT(claims).setProtectedHeader({ alg: "ES256", typ: "JWT", kid: own.kid, ...header }).sign(own.key);
}

/** Replaces a token's signature segment. */
const withSignature = (token, bytes) => `${token.slice(0, token.lastIndexOf("."))}.${b64url(bytes)}`;
/** Replaces a token's payload, keeping its header and signature. */
function withPayload(token, claims) {
  const [h, , s] = token.split(".");
  return `${h}.${b64url(JSON.stringify(claims))}.${s}`;
}

const get = (path, token, extra) => worker.fetch(path, { headers: token === undefined ? extra : bearer(token, extra) });

before(async () => {
  idp = await startIdp();
  worker = await startWorker({
    vars: {
      EXTERNAL_ISSUERS: JSON.stringify([idp.config(), { iss: HS_ISS, audiences: ["api"], hs256_secret: HS_SECRET }]),
    },
  });
  const session = await signUp(worker);
  const [jwk] = worker.signingKeys.keys;
  own = {
    token: session.token,
    refreshToken: session.refresh_token,
    claims: decodeJwt(session.token),
    key: await importJWK(jwk, "ES256"),
    kid: jwk.kid,
    publicJwk: { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y },
  };
});
after(async () => {
  await worker?.dispose();
  await idp?.close();
});

describe("tokens minted by jose are accepted and their claims reach the origin", () => {
  test("HS256 from the inline-secret issuer, no kid (as Supabase's tokens), scopes from `scope`", async () => {
    const token = await hsToken({ sub: "supabase-user-42", scope: "scans:read drifts:read" });
    assert.equal(JSON.parse(Buffer.from(token.split(".")[0], "base64url")).kid, undefined);
    const echo = await expectEcho(await get("/api/scans/dashboard?page=2", token));
    assert.equal(echo.path, "/api/scans/dashboard");
    assert.equal(echo.query, "page=2");
    assert.equal(echo.headers["x-edgeauth-kind"], "external");
    assert.equal(echo.headers["x-edgeauth-subject"], "supabase-user-42");
    assert.equal(echo.headers["x-edgeauth-scopes"], "scans:read drifts:read");
    assert.equal(echo.headers["x-edgeauth-key-id"], undefined);
    assert.equal(echo.headers["x-edgeauth-tenant"], undefined);
    assert.equal(echo.headers.authorization, undefined, "Authorization is not forwarded");

    const res = await get("/v1/auth/whoami", token);
    assert.equal(res.status, 200);
    const who = await res.json();
    assert.equal(who.kind, "external");
    assert.equal(who.subject, "supabase-user-42");
    assert.deepEqual(who.scopes, ["scans:read", "drifts:read"]);
  });

  test("ES256 from the JWKS issuer, scopes from `scp` as a list", async () => {
    const token = await idp.mint({ sub: "idp|alice", scp: ["drifts:read", "scans:read"] });
    const echo = await expectEcho(await get("/api/drifts", token));
    assert.equal(echo.headers["x-edgeauth-kind"], "external");
    assert.equal(echo.headers["x-edgeauth-subject"], "idp|alice");
    assert.equal(echo.headers["x-edgeauth-scopes"], "drifts:read scans:read");
    assert.ok(idp.fetches >= 1, "the worker fetched the JWKS");
  });

  test("whoami of an external token: kind external, sub as subject, its scopes, no tenant", async () => {
    const token = await hsToken({ scope: "scans:read drifts:read", email: "ext@example.com", tenants: { demo: "admin" } });
    const res = await get("/v1/auth/whoami", token);
    assert.equal(res.status, 200);
    const who = await res.json();
    assert.deepEqual(Object.keys(who).sort(), ["email", "expires_at", "kind", "scopes", "subject", "tenants"]);
    assert.equal(who.kind, "external");
    assert.equal(who.subject, "hs-user-1");
    assert.equal(who.email, "ext@example.com");
    assert.deepEqual(who.scopes, ["scans:read", "drifts:read"]);
    assert.deepEqual(who.tenants, {});
    assert.equal(who.expires_at, new Date(decodeJwt(token).exp * 1000).toISOString().replace(".000Z", "Z"));
  });

  test("`scp` as a space-separated string (as Azure AD sends it) is read too", async () => {
    const echo = await expectEcho(await get("/api/drifts", await hsToken({ scope: undefined, scp: "drifts:read scans:read" })));
    assert.equal(echo.headers["x-edgeauth-scopes"], "drifts:read scans:read");
  });

  test("an external token's own `tenants` claim grants no tenant role", async () => {
    const token = await hsToken({ scope: "*", tenants: { demo: "admin" } });
    await expectError(await get("/api/v1/tenants/demo/x", token), 403, "tenant_denied");
  });

  test("a token without `sub` is refused: nobody to attribute it to", async () => {
    await expectError(await get("/api/me", await hsToken({ sub: undefined })), 401, "malformed_credential");
  });

  test("`aud` may be a list that holds a configured audience", async () => {
    const es = await idp.mint({ aud: ["other", "api"] });
    await expectEcho(await get("/api/me", es));
    const hs = await hsToken({ aud: ["api", "x"] });
    await expectEcho(await get("/api/me", hs));
  });

  test("the worker's own access token re-signed by jose with its key is accepted (same ES256)", async () => {
    const echo = await expectEcho(await get("/api/me", await ownToken({ jti: "tok_resigned_by_jose" })));
    assert.equal(echo.headers["x-edgeauth-kind"], "user");
    assert.equal(echo.headers["x-edgeauth-subject"], own.claims.sub);
  });

  test("`exp` and `nbf` allow 60 s of leeway (30 s past `exp`, 30 s before `nbf` pass)", async () => {
    await expectEcho(await get("/api/me", await hsToken({ exp: now() - 30 })));
    await expectEcho(await get("/api/me", await hsToken({ nbf: now() + 30 })));
    await expectEcho(await get("/api/me", await idp.mint({ exp: now() - 30 })));
    await expectEcho(await get("/api/me", await idp.mint({ nbf: now() + 30 })));
    await expectEcho(await get("/api/me", await ownToken({ exp: now() - 30, jti: "tok_leeway" })));
  });

  test("the scheme is case-insensitive", async () => {
    const token = await hsToken();
    for (const scheme of ["bearer", "BEARER", "BeArEr"]) {
      const res = await worker.fetch("/api/me", { headers: { authorization: `${scheme} ${token}` } });
      await expectEcho(res);
    }
  });
});

describe("refused with 401, SPEC's body, reason and WWW-Authenticate", () => {
  const refuses = async (token, reason, path = "/api/me") => expectError(await get(path, token), 401, reason);

  test("alg none, in any spelling, for every issuer", async () => {
    for (const alg of ["none", "None", "NONE", "nOnE"]) {
      for (const iss of [HS_ISS, idp.iss, "edgeauth"]) {
        const payload = iss === "edgeauth" ? own.claims : { ...hsClaims(), iss };
        const unsigned = compact({ alg, typ: "JWT" }, payload);
        assert.ok(unsigned.endsWith("."), "an empty signature segment");
        await refuses(unsigned, "algorithm_not_allowed");
        // With some bytes in the signature segment too.
        await refuses(compact({ alg, kid: idp.signing.kid }, payload, () => Buffer.from("sig")), "algorithm_not_allowed");
      }
    }
  });

  test("algorithms other than ES256 and HS256 are not allowed", async () => {
    for (const alg of ["RS256", "PS256", "ES384", "ES512", "HS384", "HS512", "EdDSA", "hs256", "es256", ""]) {
      await refuses(hs256({ alg, kid: idp.signing.kid }, { ...hsClaims(), iss: idp.iss }, HS_SECRET), "algorithm_not_allowed");
    }
  });

  test("key confusion: HS256 signed with the ES256 public key as the secret", async () => {
    const spki = await exportSPKI(idp.signing.publicKey);
    const raw = createPublicKey({ key: idp.signing.jwk, format: "jwk" }).export({ format: "der", type: "spki" });
    const secrets = [spki, JSON.stringify(idp.signing.jwk), raw, raw.subarray(-65), Buffer.from(idp.signing.jwk.x, "base64url")];
    for (const secret of secrets) {
      const forged = hs256({ kid: idp.signing.kid, typ: "JWT" }, { ...hsClaims({ scope: "*" }), iss: idp.iss }, secret);
      await refuses(forged, "algorithm_not_allowed");
    }
    // The worker's own published key, against the worker's own issuer.
    const jwks = await (await worker.fetch("/.well-known/jwks.json")).json();
    const published = jwks.keys.find((k) => k.kid === own.kid);
    const ownSpki = createPublicKey({ key: published, format: "jwk" }).export({ format: "pem", type: "spki" });
    for (const secret of [ownSpki, JSON.stringify(published)]) {
      await refuses(hs256({ kid: own.kid, typ: "JWT" }, { ...own.claims, scope: "*" }, secret), "algorithm_not_allowed");
    }
  });

  test("an ES256 token for the HS256 issuer is not allowed", async () => {
    const token = await idp.mint({ iss: HS_ISS });
    await refuses(token, "algorithm_not_allowed");
  });

  test("ECDSA signatures r = s = 0 (CVE-2022-21449), r = s = n, DER form, wrong lengths", async () => {
    const ext = await idp.mint();
    const mine = await ownToken({ jti: "tok_cve" });
    const n2 = Buffer.concat([P256_N, P256_N]);
    for (const token of [ext, mine]) {
      await refuses(withSignature(token, Buffer.alloc(64)), "bad_token_signature");
      await refuses(withSignature(token, n2), "bad_token_signature");
      await refuses(withSignature(token, Buffer.alloc(0)), "bad_token_signature");
      await refuses(withSignature(token, Buffer.alloc(32, 1)), "bad_token_signature");
      await refuses(withSignature(token, Buffer.alloc(65, 1)), "bad_token_signature");
    }
    // A genuine signature in ASN.1 DER instead of JWS's raw r || s.
    const input = ext.slice(0, ext.lastIndexOf("."));
    const der = nodeSign("sha256", Buffer.from(input), { key: await exportPrivate(idp.signing), dsaEncoding: "der" });
    await refuses(`${input}.${b64url(der)}`, "bad_token_signature");
  });

  test("expired beyond the leeway, and not yet valid beyond it", async () => {
    await refuses(await hsToken({ exp: now() - 120 }), "token_expired");
    await refuses(await idp.mint({ exp: now() - 120 }), "token_expired");
    await refuses(await ownToken({ exp: now() - 120, jti: "tok_expired" }), "token_expired");
    await refuses(await hsToken({ exp: undefined }), "token_expired");
    await refuses(await hsToken({ nbf: now() + 120 }), "token_not_yet_valid");
    await refuses(await idp.mint({ nbf: now() + 120 }), "token_not_yet_valid");
  });

  test("wrong or missing issuer", async () => {
    await refuses(await hsToken({ iss: "https://evil.test" }), "wrong_issuer");
    await refuses(await hsToken({ iss: `${HS_ISS}/` }), "wrong_issuer");
    await refuses(await hsToken({ iss: undefined }), "wrong_issuer");
    await refuses(await idp.mint({ iss: "https://IDP.test" }), "wrong_issuer");
  });

  test("an unknown issuer is named only after the key id and the signature (SPEC's order)", async () => {
    // Signed by a key the worker holds: only the issuer is wrong, whatever comes after it.
    await refuses(await ownToken({ iss: "https://evil.test", jti: "tok_iss1" }), "wrong_issuer");
    await refuses(await ownToken({ iss: "https://evil.test", aud: "x", exp: now() - 1000, jti: "tok_iss2" }), "wrong_issuer");
    // `iss` edited in a genuine token: the signature fails before the issuer is looked at.
    await refuses(withPayload(own.token, { ...own.claims, iss: "https://evil.test" }), "bad_token_signature");
    const es = await idp.mint();
    await refuses(withPayload(es, { ...decodeJwt(es), iss: undefined }), "bad_token_signature");
    await refuses(await joseHs256(hsClaims({ iss: "https://other-project.test" }), "another-projects-secret-0123456789"), "bad_token_signature");
    // A key id nobody has (or none): the key id fails first.
    const stranger = await es256Key("not-published-either");
    await refuses(await idp.mint({ iss: "https://evil.test" }, { key: stranger }), "unknown_key_id");
    await refuses(await ownToken({ iss: "https://evil.test", jti: "tok_iss3" }, { kid: undefined }), "unknown_key_id");
    // The algorithm comes first of all.
    await refuses(compact({ alg: "none" }, { ...own.claims, iss: "https://evil.test" }), "algorithm_not_allowed");
  });

  test("wrong or missing audience", async () => {
    await refuses(await hsToken({ aud: "other" }), "wrong_audience");
    await refuses(await hsToken({ aud: undefined }), "wrong_audience");
    await refuses(await idp.mint({ aud: ["x", "y"] }), "wrong_audience");
    // The worker's own audience is not an external issuer's.
    await refuses(await idp.mint({ aud: "edgeauth" }), "wrong_audience");
    await refuses(await ownToken({ aud: "api", jti: "tok_aud" }), "wrong_audience");
  });

  test("unknown, absent or odd key ids", async () => {
    const stranger = await es256Key("not-published");
    await refuses(await idp.mint({}, { key: stranger }), "unknown_key_id");
    await refuses(await idp.mint({}, { header: { kid: undefined } }), "unknown_key_id");
    for (const kid of ["../../etc/passwd", "k1' OR '1'='1", " ", "a".repeat(300)]) {
      await refuses(await idp.mint({}, { header: { kid } }), "unknown_key_id");
    }
    // Keys do not cross issuers: the IdP's key cannot sign for the worker, nor the reverse.
    await refuses(await idp.mint({ ...own.claims, iss: "edgeauth", aud: "edgeauth" }), "unknown_key_id");
    const crossed = await new SignJWT({ ...hsClaims(), iss: idp.iss })
      .setProtectedHeader({ alg: "ES256", kid: own.kid })
      .sign(own.key);
    await refuses(crossed, "unknown_key_id");
  });

  test("a tampered payload or header", async () => {
    const es = await idp.mint({ scope: "scans:read" });
    await refuses(withPayload(es, { ...decodeJwt(es), scope: "*" }), "bad_token_signature");
    const hs = await hsToken({ sub: "victim" });
    await refuses(withPayload(hs, { ...decodeJwt(hs), sub: "admin" }), "bad_token_signature");
    const mine = await ownToken({ jti: "tok_tamper" });
    await refuses(withPayload(mine, { ...own.claims, tenants: { other: "admin" } }), "bad_token_signature");
    const [, p, s] = hs.split(".");
    await refuses(`${b64url(JSON.stringify({ alg: "HS256", typ: "at+jwt" }))}.${p}.${s}`, "bad_token_signature");
    await refuses(await joseHs256(hsClaims(), "the-wrong-secret-the-wrong-secret"), "bad_token_signature");
  });

  test("a key from another deployment under the worker's kid is bad_token_signature", async () => {
    const other = await es256Key(own.kid);
    const forged = await new SignJWT({ ...own.claims, scope: "*" })
      .setProtectedHeader({ alg: "ES256", typ: "JWT", kid: own.kid })
      .sign(other.privateKey);
    await refuses(forged, "bad_token_signature");
  });

  test("a symmetric key in the JWKS is never an HS256 secret", async () => {
    const secret = "shared-secret-from-a-jwks-oct-key";
    idp.publish({ jwk: { kty: "oct", kid: "sym-1", alg: "HS256", k: b64url(secret) } });
    await refuses(hs256({ kid: "sym-1" }, { ...hsClaims(), iss: idp.iss }, secret), "algorithm_not_allowed");
  });

  test("a refresh token is not a bearer credential", async () => {
    await refuses(own.refreshToken, "malformed_credential");
  });

  test("revocation is checked last: a logged-out session's token is session_revoked, an expired one token_expired", async () => {
    const session = await signUp(worker);
    const claims = decodeJwt(session.token);
    await expectEcho(await get("/api/me", session.token));
    const out = await worker.fetch("/v1/auth/logout", { method: "POST", headers: bearer(session.token) });
    assert.equal(out.status, 204);
    await refuses(session.token, "session_revoked");
    const expired = await new SignJWT({ ...claims, exp: now() - 120, jti: "tok_late" })
      .setProtectedHeader({ alg: "ES256", typ: "JWT", kid: own.kid })
      .sign(own.key);
    await refuses(expired, "token_expired");
    const unknownAudience = await new SignJWT({ ...claims, aud: "nope", jti: "tok_aud_rev" })
      .setProtectedHeader({ alg: "ES256", typ: "JWT", kid: own.kid })
      .sign(own.key);
    await refuses(unknownAudience, "wrong_audience");
  });

  test("embedded keys and key URLs in the header are ignored (jwk, jku, x5u)", async () => {
    const attacker = await startIdp({ iss: idp.iss });
    try {
      const evil = attacker.signing;
      const claims = { scope: "*" };
      // The attacker's key inline, with the real kid: the published key does not verify it.
      await refuses(await attacker.mint(claims, { header: { kid: idp.signing.kid, jwk: evil.jwk } }), "bad_token_signature");
      // A key URL pointing at the attacker's JWKS: never fetched.
      await refuses(await attacker.mint(claims, { header: { jku: attacker.jwksUrl } }), "unknown_key_id");
      await refuses(await attacker.mint(claims, { header: { x5u: attacker.jwksUrl } }), "unknown_key_id");
      assert.equal(attacker.fetches, 0, "the attacker's JWKS was never fetched");
    } finally {
      await attacker.close();
    }
  });

  test("claims of the wrong type are refused, never a pass", async () => {
    const res = await get("/api/me", await hsToken({ exp: String(now() + 600) }));
    assert.equal(res.status, 401, await res.clone().text());
    const err = await expectError(res, 401, (await res.clone().json()).error.reason);
    assert.ok(["malformed_credential", "token_expired"].includes(err.reason), err.reason);
  });

  test("garbage, two or four segments, non-base64url, non-object segments", async () => {
    const good = await hsToken();
    const [h, p, s] = good.split(".");
    const cases = [
      "garbage",
      "a.b",
      `${h}.${p}`,
      `${h}.${p}.${s}.${s}`,
      `${h}.${p}.${s}.`,
      "..",
      `.${p}.${s}`,
      `${h}..${s}`,
      "!!.??.**",
      `${h}.${p}.${s}!`,
      `${h}.${p}$.${s}`,
      `${b64url("[1]")}.${p}.${s}`,
      `${h}.${b64url('"claims"')}.${s}`,
      `${h}.${b64url("null")}.${s}`,
      `${b64url("{")}.${p}.${s}`,
      `${b64url("not json")}.${p}.${s}`,
      "ea_live_short",
      "ea_live_" + "!".repeat(40),
    ];
    for (const token of cases) {
      const res = await worker.fetch("/api/me", { headers: { authorization: `Bearer ${token}` } });
      await expectError(res, 401, "malformed_credential");
    }
  });

  test("Authorization that is not `Bearer <credential>`", async () => {
    const token = await hsToken();
    for (const value of ["Basic dXNlcjpwYXNz", "Bearer", "Bearer ", `Bearer  ${token}`, `Token ${token}`, token, `Bearer ${token} extra`, "Bearer\ttoken"]) {
      const res = await worker.fetch("/api/me", { headers: { authorization: value } });
      await expectError(res, 401, "malformed_credential");
    }
    await expectError(await worker.fetch("/api/me"), 401, "missing_credential");
  });

  test("a 64 KB token is refused quickly, and the worker keeps serving", async () => {
    const good = await hsToken();
    const [h, , s] = good.split(".");
    const huge = `${h}.${b64url(JSON.stringify({ ...hsClaims(), pad: "x".repeat(48 * 1024) }))}.${s}`;
    assert.ok(huge.length > 64 * 1024);
    const started = Date.now();
    const results = await Promise.all(
      [huge, "a".repeat(64 * 1024), `${"a".repeat(32 * 1024)}.${"b".repeat(32 * 1024)}.c`].map(async (t) => {
        const res = await worker.fetch("/api/me", { headers: { authorization: `Bearer ${t}` } });
        return expectError(res, 401, "malformed_credential");
      }),
    );
    assert.equal(results.length, 3);
    assert.ok(Date.now() - started < 5_000, `answered in ${Date.now() - started} ms`);
    await expectEcho(await get("/api/me", good));
  });

  test("an external subject cannot inject headers or extra identity", async () => {
    const token = await hsToken({ sub: "evil\r\nx-edgeauth-kind: user", scope: "scans:read", tenants: undefined });
    const echo = await expectEcho(await get("/api/me", token));
    assert.equal(echo.headers["x-edgeauth-kind"], "external");
    assert.equal(echo.headers["x-edgeauth-subject"], "evil%0D%0Ax-edgeauth-kind: user");
    const names = Object.keys(echo.headers).filter((n) => n.startsWith("x-edgeauth-"));
    assert.deepEqual(names.sort(), ["x-edgeauth-issuer", "x-edgeauth-kind", "x-edgeauth-scopes", "x-edgeauth-subject"]);
    assert.equal(echo.headers["x-edgeauth-issuer"], HS_ISS);
  });
});

async function exportPrivate(key) {
  const { KeyObject } = await import("node:crypto");
  return KeyObject.from(key.privateKey);
}

describe("the JWKS fetcher: cache, one fetch in flight, cool-down, failing closed", () => {
  // One worker, one IdP per scenario: the JWKS cache is per URL per isolate.
  const idps = {};
  let w;
  before(async () => {
    for (const name of ["fresh", "down", "refuse", "garbage", "hang", "later"]) {
      idps[name] = await startIdp({ iss: `https://${name}.idp.test` });
    }
    idps.down.setMode("down");
    idps.refuse.setMode("refuse");
    idps.garbage.setMode("garbage");
    idps.hang.setMode("hang");
    w = await startWorker({ vars: { EXTERNAL_ISSUERS: JSON.stringify(Object.values(idps).map((i) => i.config())) } });
  });
  after(async () => {
    await w?.dispose();
    for (const i of Object.values(idps)) await i.close();
  });
  const call = (token) => w.fetch("/api/me", { headers: bearer(token) });

  test("concurrent first uses share one fetch; later tokens use the cache", async () => {
    const i = idps.fresh;
    const tokens = await Promise.all(Array.from({ length: 15 }, (_, n) => i.mint({ sub: `u${n}` })));
    const answers = await Promise.all(tokens.map(call));
    for (const res of answers) await expectEcho(res);
    assert.equal(i.fetches, 1, "one JWKS fetch for 15 concurrent requests");
    for (let n = 0; n < 5; n += 1) await expectEcho(await call(await i.mint({ sub: `later${n}` })));
    assert.equal(i.fetches, 1, "cached");
  });

  test("an unknown kid refetches at most once a minute", async () => {
    const i = idps.fresh;
    const rotated = await es256Key("rotated-1");
    i.publish(rotated);
    // The last fetch was seconds ago: an unknown kid is refused without asking again.
    for (let n = 0; n < 5; n += 1) {
      await expectError(await call(await i.mint({ sub: `r${n}` }, { key: rotated })), 401, "unknown_key_id");
    }
    assert.equal(i.fetches, 1, "no refetch within the minute");
  });

  test(
    "after the minute, an unknown kid refetches once and finds a rotated key",
    { skip: !SLOW && "waits 61 s: set EDGEAUTH_SLOW_TESTS=1", timeout: 90_000 },
    async () => {
      const i = idps.fresh;
      const rotated = await es256Key("rotated-2");
      i.publish(rotated);
      await new Promise((r) => setTimeout(r, 61_000));
      const answers = await Promise.all(Array.from({ length: 5 }, async (_, n) => call(await i.mint({ sub: `x${n}` }, { key: rotated }))));
      for (const res of answers) await expectEcho(res);
      assert.equal(i.fetches, 2, "exactly one refetch");
    },
  );

  test("issuer down (500, refused connection, not a JWKS): 503 issuer_unreachable, never 401", async () => {
    for (const name of ["down", "refuse", "garbage"]) {
      const i = idps[name];
      for (let n = 0; n < 3; n += 1) {
        // Also in the cool-down after the failed fetch: still the issuer's fault, not the token's.
        await expectError(await call(await i.mint({ sub: `d${n}` })), 503, "issuer_unreachable");
      }
      assert.equal(i.fetches, 1, `${name}: one attempt, then the cool-down`);
    }
  });

  test("issuer that never answers: 503 within the fetch timeout, concurrent callers share the wait", async () => {
    const i = idps.hang;
    const started = Date.now();
    const answers = await Promise.all(Array.from({ length: 5 }, async (_, n) => call(await i.mint({ sub: `h${n}` }))));
    for (const res of answers) await expectError(res, 503, "issuer_unreachable");
    const took = Date.now() - started;
    assert.ok(took < 9_000, `answered after ${took} ms`);
    assert.equal(i.fetches, 1);
  });

  test("keys already cached keep working when the issuer goes down", async () => {
    const i = idps.later;
    await expectEcho(await call(await i.mint({ sub: "before" })));
    i.setMode("down");
    await expectEcho(await call(await i.mint({ sub: "during" })));
    // A forged signature under a cached kid is still a 401, never a pass.
    await expectError(await call(withSignature(await i.mint({ sub: "forged" }), Buffer.alloc(64))), 401, "bad_token_signature");
    assert.equal(i.fetches, 1);
  });
});
