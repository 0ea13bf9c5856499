// Browser sessions in a cookie (SPEC "Browser sessions in a cookie"), over plain HTTP: the
// cookie's attributes, refresh by cookie only with `X-EdgeAuth-Session: cookie` and an
// allowed `Origin`, rotation and the grace window as for body tokens, logout clearing the
// cookie, CORS for listed origins, and the origin never seeing the cookie. The same in a
// real browser (two tabs, page scripts) is in sdk-browser.test.mjs and console.test.mjs.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { startWorker } from "./harness.mjs";
import { expectEcho, expectError } from "./contract.mjs";

const COOKIE = "__Host-edgeauth_rt";
const REFRESH_TOKEN = /^ea_rt_[0-9A-Za-z]{32,}$/;
const APP = "https://app.example.test";
const REFRESH_TTL_S = 3600;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const unique = () => randomBytes(6).toString("hex");

/** The refresh cookie an answer sets: its value and its attributes, as sent. */
function refreshCookie(res) {
  const all = res.headers.getSetCookie();
  const ours = all.filter((c) => c.startsWith(`${COOKIE}=`));
  assert.equal(ours.length, 1, `one ${COOKIE} cookie: ${JSON.stringify(all)}`);
  const [pair, ...attributes] = ours[0].split(";").map((s) => s.trim());
  return { value: pair.slice(COOKIE.length + 1), attributes, raw: ours[0] };
}

function api(worker) {
  const post = (path, { body, headers = {} } = {}) =>
    worker.fetch(path, {
      method: "POST",
      headers: { ...(body === undefined ? {} : { "content-type": "application/json" }), ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  return {
    post,
    async signUp() {
      const email = `cookie-${unique()}@example.com`;
      const password = `pw-${randomBytes(12).toString("base64url")}`;
      const res = await post("/v1/auth/register", { body: { email, password, name: "Cookie" } });
      assert.equal(res.status, 201, await res.text());
      return { email, password };
    },
    /** Logs in in cookie mode; the answer's body and its cookie. */
    async cookieLogin({ email, password }, headers = {}) {
      const res = await post("/v1/auth/token", {
        body: { email, password },
        headers: { "x-edgeauth-session": "cookie", ...headers },
      });
      const text = await res.text();
      assert.equal(res.status, 200, text);
      return { body: JSON.parse(text), cookie: refreshCookie(res) };
    },
    /** `POST /v1/auth/refresh` with no body, sending the cookie as a browser would. */
    cookieRefresh(value, { origin = worker.url, mode = "cookie", extra = {} } = {}) {
      return post("/v1/auth/refresh", {
        headers: {
          cookie: `theme=dark; ${COOKIE}=${value}`,
          ...(origin ? { origin } : {}),
          ...(mode ? { "x-edgeauth-session": mode } : {}),
          ...extra,
        },
      });
    },
  };
}

describe("cookie mode on the development worker (ALLOWED_ORIGINS=*)", () => {
  let worker;
  let a;
  before(async () => {
    worker = await startWorker({ vars: { REFRESH_TTL_S: String(REFRESH_TTL_S), REFRESH_GRACE_S: "2" } });
    a = api(worker);
  });
  after(async () => {
    await worker?.dispose();
  });

  test("login with X-EdgeAuth-Session: cookie: no refresh_token in the body, an HttpOnly __Host- cookie instead", async () => {
    const user = await a.signUp();
    const { body, cookie } = await a.cookieLogin(user);
    assert.deepEqual(Object.keys(body).sort(), ["expires_at", "refresh_expires_at", "token", "user"]);
    assert.equal(body.user.email, user.email);
    assert.match(cookie.value, REFRESH_TOKEN);
    const [httpOnly, secure, sameSite, path, maxAge, ...rest] = cookie.attributes;
    assert.deepEqual([httpOnly, secure, sameSite, path], ["HttpOnly", "Secure", "SameSite=Strict", "Path=/"], cookie.raw);
    assert.deepEqual(rest, [], `nothing else (no Domain, no Expires): ${cookie.raw}`);
    const seconds = Number(/^Max-Age=(\d+)$/.exec(maxAge)?.[1]);
    assert.ok(seconds > REFRESH_TTL_S - 5 && seconds <= REFRESH_TTL_S, `Max-Age is the refresh lifetime: ${maxAge}`);
    // The cookie lives as long as the body says the refresh token does.
    const untilBody = (Date.parse(body.refresh_expires_at) - Date.now()) / 1000;
    assert.ok(Math.abs(untilBody - seconds) < 5, `${body.refresh_expires_at} vs Max-Age=${seconds}`);

    // Without the header: the body has the refresh token, and no cookie is set.
    const plain = await a.post("/v1/auth/token", { body: user });
    assert.equal(plain.status, 200);
    assert.deepEqual(plain.headers.getSetCookie(), []);
    assert.match((await plain.json()).refresh_token, REFRESH_TOKEN);

    // Another value of the header is refused rather than guessed at.
    await expectError(
      await a.post("/v1/auth/token", { body: user, headers: { "x-edgeauth-session": "cookies" } }),
      400,
      "invalid_field",
      { message: /^X-EdgeAuth-Session: / },
    );
  });

  test("refresh by cookie: with the header and the worker's own Origin; else 401 refresh_token_invalid", async () => {
    const user = await a.signUp();
    const { cookie } = await a.cookieLogin(user);

    // Each refusal first: a refused cookie refresh spends nothing.
    await expectError(await a.cookieRefresh(cookie.value, { mode: null }), 401, "refresh_token_invalid");
    await expectError(await a.cookieRefresh(cookie.value, { origin: null }), 401, "refresh_token_invalid");
    await expectError(await a.cookieRefresh(cookie.value, { origin: "null" }), 401, "refresh_token_invalid");
    // `*` lets any site call the worker, but names no one for the cookie.
    await expectError(await a.cookieRefresh(cookie.value, { origin: APP }), 401, "refresh_token_invalid");
    await expectError(await a.cookieRefresh(cookie.value, { origin: "http://evil.example" }), 401, "refresh_token_invalid");
    await expectError(
      await a.post("/v1/auth/refresh", { headers: { "x-edgeauth-session": "cookie", origin: worker.url } }),
      401,
      "refresh_token_invalid",
    );
    // A body without the header is still the old refresh: the token from the body.
    await expectError(await a.post("/v1/auth/refresh", { body: {} }), 400, "invalid_field");

    const res = await a.cookieRefresh(cookie.value);
    const text = await res.clone().text();
    assert.equal(res.status, 200, text);
    const body = JSON.parse(text);
    assert.equal(body.refresh_token, undefined, "cookie mode: the body holds no refresh token");
    assert.equal(body.user.email, user.email);
    const next = refreshCookie(res);
    assert.match(next.value, REFRESH_TOKEN);
    assert.notEqual(next.value, cookie.value, "rotated");
    const who = await worker.fetch("/v1/auth/whoami", { headers: { authorization: `Bearer ${body.token}` } });
    assert.equal((await who.json()).email, user.email);
  });

  test("rotation and the grace window work as for body tokens", async () => {
    const user = await a.signUp();
    const { cookie: first } = await a.cookieLogin(user);
    const one = await a.cookieRefresh(first.value);
    assert.equal(one.status, 200);
    const second = refreshCookie(one);

    // Another tab presents the same (spent) cookie a moment later: the same successor.
    const again = await a.cookieRefresh(first.value);
    assert.equal(again.status, 200, await again.clone().text());
    assert.equal(refreshCookie(again).value, second.value, "within the grace window: the same new refresh token");
    const { token } = await again.json();
    assert.equal((await worker.fetch("/v1/auth/whoami", { headers: { authorization: `Bearer ${token}` } })).status, 200);

    // The successor rotates as usual, by cookie or by body alike.
    const byBody = await a.post("/v1/auth/refresh", { body: { refresh_token: second.value } });
    assert.equal(byBody.status, 200);
    const third = await byBody.json();
    assert.match(third.refresh_token, REFRESH_TOKEN);

    // Past the grace window (2 s here) a spent cookie is theft: the whole session ends.
    await sleep(2_500);
    await expectError(await a.cookieRefresh(first.value), 401, "refresh_token_reused");
    await expectError(await a.cookieRefresh(third.refresh_token), 401, "session_revoked");
  });

  test("logout clears the cookie and ends its session", async () => {
    const user = await a.signUp();
    const { body, cookie } = await a.cookieLogin(user);
    const res = await a.post("/v1/auth/logout", {
      headers: {
        authorization: `Bearer ${body.token}`,
        "x-edgeauth-session": "cookie",
        origin: worker.url,
        cookie: `${COOKIE}=${cookie.value}`,
      },
    });
    assert.equal(res.status, 204, await res.text());
    const cleared = refreshCookie(res);
    assert.equal(cleared.value, "");
    assert.deepEqual(cleared.attributes, ["HttpOnly", "Secure", "SameSite=Strict", "Path=/", "Max-Age=0"]);
    await expectError(await a.cookieRefresh(cookie.value), 401, "session_revoked");

    // A logout in body mode clears it too: whichever way the session was kept, it is over.
    const { body: other } = await a.cookieLogin(user);
    const plain = await a.post("/v1/auth/logout", { headers: { authorization: `Bearer ${other.token}` } });
    assert.equal(plain.status, 204);
    assert.equal(refreshCookie(plain).value, "");
  });

  test("a logout in cookie mode also ends the session the cookie holds, if it is the same user's", async () => {
    const user = await a.signUp();
    const bearerSession = await a.cookieLogin(user);
    const cookieSession = await a.cookieLogin(user);
    const res = await a.post("/v1/auth/logout", {
      headers: {
        authorization: `Bearer ${bearerSession.body.token}`,
        "x-edgeauth-session": "cookie",
        origin: worker.url,
        cookie: `${COOKIE}=${cookieSession.cookie.value}`,
      },
    });
    assert.equal(res.status, 204);
    await expectError(await a.cookieRefresh(cookieSession.cookie.value), 401, "session_revoked");
  });

  test("the refresh cookie never reaches the origin; other cookies do", async () => {
    const user = await a.signUp();
    const { body, cookie } = await a.cookieLogin(user);
    const echo = await expectEcho(
      await worker.fetch("/api/me", {
        headers: { authorization: `Bearer ${body.token}`, cookie: `theme=dark; ${COOKIE}=${cookie.value}; sid=abc` },
      }),
    );
    assert.equal(echo.headers.cookie, "theme=dark; sid=abc");
    assert.ok(!JSON.stringify(echo).includes(cookie.value), "the refresh token is nowhere in what the origin got");
    const only = await expectEcho(
      await worker.fetch("/api/me", { headers: { authorization: `Bearer ${body.token}`, cookie: `${COOKIE}=${cookie.value}` } }),
    );
    assert.equal(only.headers.cookie, undefined);
    assert.equal(only.headers["x-edgeauth-session"], undefined);
  });

  test("CORS with *: the cookie header may be sent, credentials are never allowed", async () => {
    const pre = await worker.fetch("/v1/auth/refresh", {
      method: "OPTIONS",
      headers: { origin: APP, "access-control-request-method": "POST", "access-control-request-headers": "x-edgeauth-session" },
    });
    assert.equal(pre.status, 204);
    assert.equal(pre.headers.get("access-control-allow-origin"), APP);
    assert.ok(pre.headers.get("access-control-allow-headers").split(/\s*,\s*/).includes("x-edgeauth-session"));
    assert.equal(pre.headers.get("access-control-allow-credentials"), null);
  });
});

describe("cookie mode across origins (ALLOWED_ORIGINS names the app)", () => {
  let worker;
  let a;
  before(async () => {
    worker = await startWorker({ vars: { ALLOWED_ORIGINS: `${APP}, https://other.example.test` } });
    a = api(worker);
  });
  after(async () => {
    await worker?.dispose();
  });

  test("a listed origin may refresh by cookie, with credentials allowed; another may not", async () => {
    const user = await a.signUp();
    const { cookie } = await a.cookieLogin(user, { origin: APP });

    const pre = await worker.fetch("/v1/auth/refresh", {
      method: "OPTIONS",
      headers: { origin: APP, "access-control-request-method": "POST", "access-control-request-headers": "x-edgeauth-session" },
    });
    assert.equal(pre.status, 204);
    assert.equal(pre.headers.get("access-control-allow-origin"), APP);
    assert.equal(pre.headers.get("access-control-allow-credentials"), "true");
    assert.ok(pre.headers.get("access-control-allow-headers").split(/\s*,\s*/).includes("x-edgeauth-session"));

    const res = await a.cookieRefresh(cookie.value, { origin: APP });
    assert.equal(res.status, 200, await res.clone().text());
    assert.equal(res.headers.get("access-control-allow-origin"), APP);
    assert.equal(res.headers.get("access-control-allow-credentials"), "true");
    const next = refreshCookie(res);

    await expectError(await a.cookieRefresh(next.value, { origin: "https://evil.example.test" }), 401, "refresh_token_invalid");
    // The worker's own origin is always allowed.
    assert.equal((await a.cookieRefresh(next.value, { origin: worker.url })).status, 200);
  });
});
