// The public API of edgeauth-sdk over the wasm engine (src/wasm.rs). Every
// decision (refresh, single-flight, clock offset, signing, error mapping) is
// made in Rust; this file adapts JS values, storage and listeners to it.
import {
  Engine,
  signRequest as signWithEngine,
  decodeToken as decodeWithEngine,
  storageKeyFor,
} from "./edgeauth_sdk.js";

/**
 * The one error class the SDK throws: SPEC's `status`, `code`, `reason`, `message`, and
 * `signInAgain`: the session is over (the SDK has forgotten it), by the client core's rule.
 */
export class EdgeAuthError extends Error {
  constructor({ status, code, reason, message, signInAgain = false }) {
    super(message);
    this.name = "EdgeAuthError";
    this.status = status;
    this.code = code;
    this.reason = reason;
    this.signInAgain = Boolean(signInAgain);
  }
}

// The engine rejects with plain {status, code, reason, message} objects.
function lift(raw) {
  if (raw && typeof raw === "object" && !(raw instanceof Error) && typeof raw.code === "string") {
    if (raw.code === "ABORTED") return new DOMException(raw.message, "AbortError");
    return new EdgeAuthError(raw);
  }
  return raw;
}

async function settle(promise) {
  try {
    return await promise;
  } catch (raw) {
    throw lift(raw);
  }
}

function attempt(run) {
  try {
    return run();
  } catch (raw) {
    throw lift(raw);
  }
}

const parse = (text) => (text === undefined ? undefined : JSON.parse(text));

function invalidField(message) {
  return new EdgeAuthError({ status: 400, code: "BAD_REQUEST", reason: "invalid_field", message });
}

const encoder = new TextEncoder();

// What signRequest hashes: text as UTF-8, bytes as they are, nothing as "";
// any other value as JSON.stringify(value), as seed 002's Node example does.
function bodyBytes(body) {
  if (body === undefined || body === null) return new Uint8Array(0);
  if (typeof body === "string") return encoder.encode(body);
  if (body instanceof ArrayBuffer) return new Uint8Array(body);
  if (ArrayBuffer.isView(body)) return new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
  return encoder.encode(JSON.stringify(body) ?? "");
}

// client.fetch bodies, as the engine's kinds: 0 none, 1 text, 2 bytes,
// 3 another body fetch can send twice (Blob, FormData, URLSearchParams), 4 a stream.
function classifyBody(body) {
  if (body === undefined || body === null) return [0, undefined];
  if (typeof body === "string") return [1, body];
  if (body instanceof ArrayBuffer || ArrayBuffer.isView(body)) return [2, bodyBytes(body)];
  if (typeof ReadableStream === "function" && body instanceof ReadableStream) return [4, undefined];
  return [3, undefined];
}

// One refresh at a time across the tabs of this origin (Web Locks). If the lock cannot
// be had in time, refreshing anyway is safe: the worker's grace window answers two tabs
// that present the same refresh token at once.
function tabLock(locks, key) {
  return () =>
    new Promise((granted) => {
      locks
        .request(`edgeauth:${key}`, { signal: AbortSignal.timeout(10_000) }, () => new Promise(granted))
        .catch(() => granted(() => {}));
    });
}

function storageAdapter(store, key, shared) {
  const adapter = {
    load: () => store.getItem(key),
    save: (value) => (value === undefined ? store.removeItem(key) : store.setItem(key, value)),
  };
  const locks = globalThis.navigator?.locks;
  if (shared && locks) {
    adapter.lock = tabLock(locks, key);
  } else if (typeof store.lock === "function") {
    adapter.lock = () => store.lock(key);
  }
  if (shared && typeof globalThis.addEventListener === "function") {
    adapter.subscribe = (onChange) => {
      const listener = (event) => {
        if (event.key === key || event.key === null) onChange();
      };
      globalThis.addEventListener("storage", listener);
      return () => globalThis.removeEventListener("storage", listener);
    };
  }
  return adapter;
}

// Cookie mode: the refresh token is the worker's HttpOnly cookie, which no script can
// read. The session (access token, expiry, user) lives in this page's memory only, and
// the tabs of the origin share it over a BroadcastChannel (never storage): a tab that
// refreshes tells the others, which take its token instead of refreshing again, under
// the same Web Lock as localStorage sessions. A tab opened later holds nothing and
// resumes from the cookie (one refresh, which rotates it for every tab at once).
function cookieSessionAdapter(key) {
  let value;
  const channel = typeof BroadcastChannel === "function" ? new BroadcastChannel(`edgeauth:${key}`) : undefined;
  // Node: an open channel must not keep the process alive.
  channel?.unref?.();
  const adapter = {
    load: () => value,
    save: (next) => {
      value = next;
      channel?.postMessage(next ?? null);
    },
  };
  // Whether this browser may hold a session cookie: the word "cookie" under the key in
  // localStorage (no token, no secret), so that a signed-out page does not send a refresh
  // that can only be refused. Where storage is unavailable, every new page just tries.
  let local;
  try {
    local = globalThis.localStorage ?? undefined;
  } catch {
    local = undefined;
  }
  adapter.cookieHint = () => {
    try {
      return local ? local.getItem(key) === "cookie" : true;
    } catch {
      return true;
    }
  };
  adapter.setCookieHint = (held) => {
    try {
      if (!held) local?.removeItem(key);
      else if (local && local.getItem(key) !== "cookie") local.setItem(key, "cookie");
    } catch {
      // A hint that cannot be kept only costs a refresh on the next page.
    }
  };
  const locks = globalThis.navigator?.locks;
  if (locks) adapter.lock = tabLock(locks, key);
  if (channel) {
    adapter.subscribe = (onChange) => {
      const listener = (event) => {
        value = typeof event.data === "string" ? event.data : undefined;
        onChange();
      };
      channel.addEventListener("message", listener);
      return () => {
        channel.removeEventListener("message", listener);
        channel.close();
      };
    };
  }
  return adapter;
}

function resolveSession(session, storage, key) {
  if (session === undefined) return { cookie: false, adapter: resolveStorage(storage, key) };
  if (session !== "cookie") throw invalidField('session: "cookie", or leave it out (the refresh token is then kept in storage)');
  if (storage !== undefined && storage !== "memory") {
    throw invalidField('storage: with session: "cookie" the access token stays in memory and no refresh token is stored; leave storage out');
  }
  return { cookie: true, adapter: cookieSessionAdapter(key) };
}

function resolveStorage(storage, key) {
  if (storage === undefined || storage === "memory") return undefined;
  if (storage === "localStorage") {
    let local;
    try {
      local = globalThis.localStorage;
    } catch {
      // Reading it throws a SecurityError where the browser denies storage (a
      // third-party frame, some privacy modes): say so in the SDK's own error.
      throw invalidField('storage: "localStorage" is blocked here; use "memory" or your own store');
    }
    if (!local) throw invalidField('storage: "localStorage" is not available here; use it in a browser');
    return storageAdapter(local, key, true);
  }
  if (storage && typeof storage.getItem === "function" && typeof storage.setItem === "function" && typeof storage.removeItem === "function") {
    return storageAdapter(storage, key, storage === globalThis.localStorage);
  }
  throw invalidField('storage: "memory", "localStorage", or an object with getItem, setItem and removeItem');
}

export class EdgeAuthClient {
  #engine;
  #listeners = new Set();
  #unsubscribe;

  /**
   * @param {{baseUrl: string, session?: "cookie", storage?: "memory" | "localStorage" | object,
   *          storageKey?: string, fetch?: typeof fetch, apiKey?: string, sign?: boolean}} options
   */
  constructor(options = {}) {
    const { baseUrl, session, storage, storageKey, fetch: fetchImpl, apiKey, sign = false } = options;
    if (typeof baseUrl !== "string" && !(baseUrl instanceof URL)) {
      throw invalidField("baseUrl: the worker's URL, e.g. https://auth.example.com");
    }
    // One key per worker by default, so two clients of two workers never share a session.
    let key = storageKey;
    if (key === undefined) {
      try {
        key = storageKeyFor(String(baseUrl));
      } catch (raw) {
        throw lift(raw);
      }
    }
    const { cookie, adapter } = resolveSession(session, storage, key);
    const listeners = this.#listeners;
    const host = {
      send(url, method, headers, body, keepInitBody, credentials, init) {
        const merged = new Headers(init?.headers);
        for (const [name, value] of headers) merged.set(name, value);
        // Looked up per call, so a fetch installed later (a test double) is used.
        const send = fetchImpl ?? globalThis.fetch;
        // Cookie mode's session calls: the refresh cookie goes and comes, also across origins.
        const cookies = credentials ? { credentials: "include" } : {};
        return send(url, { ...init, ...cookies, method, headers: merged, body: keepInitBody ? init?.body : body });
      },
      sleep(ms, init) {
        const signal = init?.signal;
        return new Promise((resolve, reject) => {
          const aborted = () => signal.reason ?? new DOMException("The operation was aborted.", "AbortError");
          if (signal?.aborted) return reject(aborted());
          const onAbort = () => {
            clearTimeout(timer);
            reject(aborted());
          };
          const timer = setTimeout(() => {
            signal?.removeEventListener("abort", onAbort);
            resolve();
          }, ms);
          signal?.addEventListener("abort", onAbort, { once: true });
        });
      },
      target(url) {
        const parsed = new URL(url);
        return parsed.pathname + parsed.search;
      },
      announce(sessionJson, event) {
        const session = sessionJson === undefined ? null : JSON.parse(sessionJson);
        // Later, so that a listener calling back into the client finds it idle.
        queueMicrotask(() => {
          for (const listener of [...listeners]) {
            try {
              listener(session, event);
            } catch (error) {
              (globalThis.reportError ?? console.error)(error);
            }
          }
        });
      },
    };
    this.#engine = attempt(() => new Engine(String(baseUrl), host, adapter, apiKey, sign, cookie));
    this.#unsubscribe = adapter?.subscribe?.(() => {
      this.#engine.sync().catch(() => {});
    });
  }

  /** `POST /v1/auth/register`: resolves to `{user}`; does not sign in. */
  async register({ email, password, name } = {}) {
    return parse(await settle(this.#engine.register(JSON.stringify({ email, password, name }))));
  }

  /** `POST /v1/auth/token`: stores the session and resolves to it. */
  async login({ email, password } = {}) {
    return parse(await settle(this.#engine.login(JSON.stringify({ email, password }))));
  }

  /** Rotates the session now (sharing a refresh already in flight) and resolves to it. */
  async refresh() {
    return parse(await settle(this.#engine.refresh()));
  }

  /** `POST /v1/auth/logout`, then forgets the session. */
  async logout() {
    await settle(this.#engine.logout());
  }

  /** `GET /v1/auth/whoami`. */
  async whoami() {
    return parse(await settle(this.#engine.whoami()));
  }

  /** `POST /v1/api-keys`: the answer carries the whole key, this once. */
  async createApiKey(spec) {
    return parse(await settle(this.#engine.createApiKey(JSON.stringify(spec ?? {}))));
  }

  /**
   * `GET /v1/api-keys`: the keys, as an array. The endpoint answers
   * `{keys: [...]}`; the array also answers to `.keys`, so both readings work.
   */
  async listApiKeys() {
    const { keys } = parse(await settle(this.#engine.listApiKeys()));
    Object.defineProperty(keys, "keys", { value: keys, enumerable: false });
    return keys;
  }

  /** `GET /v1/api-keys/{id}`. */
  async getApiKey(id) {
    return parse(await settle(this.#engine.getApiKey(String(id))));
  }

  /** `DELETE /v1/api-keys/{id}`. */
  async revokeApiKey(id) {
    await settle(this.#engine.revokeApiKey(String(id)));
  }

  /**
   * `GET /v1/tenants/{tenant}/members`: the members, as an array of
   * `{email, name, role}`. The endpoint answers `{members: [...]}`; the array
   * also answers to `.members`, so both readings work.
   */
  async listMembers(tenant) {
    const { members } = parse(await settle(this.#engine.listMembers(String(tenant))));
    Object.defineProperty(members, "members", { value: members, enumerable: false });
    return members;
  }

  /**
   * `PUT /v1/tenants/{tenant}/members`: gives `email` the role `"viewer"`,
   * `"editor"` or `"admin"` there, or removes them with `null`. Resolves to
   * `{tenant, email, role}`. A forgotten `role` (undefined) is refused here
   * rather than read as "remove".
   */
  async setMemberRole(tenant, email, role) {
    if (role === undefined) throw invalidField("role: viewer, editor, admin, or null to remove the member");
    const wire = role === null ? undefined : String(role);
    return parse(await settle(this.#engine.setMemberRole(String(tenant), String(email), wire)));
  }

  /** `POST /v1/auth/email/verify/send`: another verification message to the signed-in user. */
  async sendVerificationEmail() {
    await settle(this.#engine.sendVerificationEmail());
  }

  /** `POST /v1/auth/email/verify` with the token of a verification link: resolves to `{user}`. */
  async verifyEmail(token) {
    return parse(await settle(this.#engine.verifyEmail(String(token ?? ""))));
  }

  /** `POST /v1/auth/password/forgot`: resolves alike whether or not the address is registered. */
  async forgotPassword(email) {
    await settle(this.#engine.forgotPassword(String(email ?? "")));
  }

  /** `POST /v1/auth/password/reset`: sets the password, stores the new session and resolves to it. */
  async resetPassword(token, password) {
    return parse(await settle(this.#engine.resetPassword(String(token ?? ""), String(password ?? ""))));
  }

  /** `POST /v1/auth/magic-link`: resolves alike whether or not the address is registered. */
  async sendMagicLink(email) {
    await settle(this.#engine.sendMagicLink(String(email ?? "")));
  }

  /** `POST /v1/auth/magic-link/verify`: stores the session and resolves to it. */
  async signInWithMagicLink(token) {
    return parse(await settle(this.#engine.signInWithMagicLink(String(token ?? ""))));
  }

  /**
   * `POST /v1/auth/device/code`: starts a device login (RFC 8628) for this client.
   * Resolves to `{device_code, user_code, verification_uri, verification_uri_complete,
   * expires_in, interval}`: show the person `user_code` and the page to approve it on.
   */
  async startDeviceLogin({ clientName } = {}) {
    return parse(await settle(this.#engine.startDeviceLogin(clientName === undefined ? undefined : String(clientName))));
  }

  /**
   * Polls until the device login `code` (startDeviceLogin's answer) is approved, waiting
   * `interval` before each poll and 5 s more after each `slow_down`; then stores the
   * session and resolves to it. Rejects with the worker's 400 `access_denied` or
   * `expired_token`; `signal` stops it (an `AbortError`).
   */
  async pollDeviceLogin(code, { signal } = {}) {
    if (!code || typeof code !== "object") throw invalidField("code: the answer of startDeviceLogin");
    return parse(await settle(this.#engine.pollDeviceLogin(JSON.stringify(code), signal ? { signal } : {})));
  }

  /** `GET /v1/auth/device/lookup`: the device asking to sign in with `userCode` (`{user_code, client_name, …}`). */
  async lookupDeviceCode(userCode) {
    return parse(await settle(this.#engine.lookupDeviceCode(String(userCode ?? ""))));
  }

  /** `POST /v1/auth/device/approve`: approves the device login `userCode` as the signed-in user, or denies it with `false`. */
  async approveDevice(userCode, approve = true) {
    await settle(this.#engine.approveDevice(String(userCode ?? ""), Boolean(approve)));
  }

  /**
   * `fetch` with the bearer attached (refreshed when under 5 minutes remain),
   * signed when `init.sign` (or the client's `sign` option) says so. Resolves
   * to the `Response` whatever its status; rejects with `EdgeAuthError` when
   * no answer came (`code: "NETWORK"`) or the session could not be refreshed.
   */
  async fetch(input, init = {}) {
    const { sign, ...rest } = init ?? {};
    const url = input instanceof URL ? input.href : String(input);
    const [kind, body] = classifyBody(rest.body);
    return settle(this.#engine.fetch(url, rest.method ?? "GET", kind, body, sign, rest));
  }

  /**
   * The stored session (`{token, expires_at, refresh_token, refresh_expires_at, user}`) or
   * `null`. In cookie mode it has no `refresh_token`, and a page that holds nothing yet
   * resumes the session from the cookie first.
   */
  async getSession() {
    return parse(await settle(this.#engine.session())) ?? null;
  }

  /** A bearer credential good for now (refreshed if needed), or `null` when signed out. */
  async getToken() {
    return settle(this.#engine.accessToken());
  }

  /** Signs a request with this client's credential and the server-corrected clock. */
  async signRequest(method, path, body) {
    return settle(this.#engine.sign(String(method), String(path), bodyBytes(body)));
  }

  /** Server clock minus local clock (ms), learned from the worker's `Date` headers. */
  get clockOffsetMs() {
    return this.#engine.clockOffsetMs;
  }

  /**
   * Calls `listener(session | null, event)` whenever the session changes:
   * `"signed_in"`, `"refreshed"` or `"signed_out"` (also when another tab did it).
   * Returns a function that removes the listener.
   */
  onSessionChange(listener) {
    if (typeof listener !== "function") throw invalidField("listener: must be a function");
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  /** Stops listening to other tabs (storage events, or cookie mode's channel). */
  close() {
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
  }
}

/**
 * The `x-cli-*` headers for one request, as seed 002's Node example makes
 * them. `body` is the body text (bytes, or a value that is JSON.stringify'd,
 * also work); `options.timestamp` (Unix ms) and `options.nonce` reproduce test vectors.
 */
export async function signRequest(token, method, path, body, options = {}) {
  const { timestamp, nonce } = options ?? {};
  const ms = timestamp === undefined ? undefined : Number(timestamp);
  return attempt(() =>
    signWithEngine(String(token), String(method), String(path), bodyBytes(body), ms, nonce === undefined ? undefined : String(nonce)),
  );
}

/** A JWT's claims as they are (`exp` in seconds) plus `scopes: string[]`. No verification. */
export function decodeToken(token) {
  return JSON.parse(attempt(() => decodeWithEngine(String(token))));
}
