// The page's one EdgeAuthClient (the SDK's web build), and the keeper that renews its session while the page is open.
import { EdgeAuthClient, decodeToken } from "./sdk.js";

/**
 * Requests the SDK sends to one URL, as they went on the wire (the playground
 * shows them). The SDK takes a `fetch` to send with; this one watches.
 */
const watchers = new Set();

function watchingFetch(url, init) {
  for (const watcher of watchers) watcher(url, init);
  return globalThis.fetch(url, init);
}

/**
 * One client per page, on this origin's worker, in cookie mode (SPEC "Browser sessions in
 * a cookie"): the refresh token is an HttpOnly cookie that no script here can read, the
 * access token stays in memory, and the SDK shares it between the tabs of the origin (a
 * lock for refreshes, a BroadcastChannel for changes), so /console/ and /console/device
 * share one session and a reload resumes it from the cookie.
 */
export const client = new EdgeAuthClient({ baseUrl: location.origin, session: "cookie", fetch: watchingFetch });

/** Whether a session outlives this page: only if the browser keeps the cookie. */
export const sessionPersists = navigator.cookieEnabled !== false;

/** Calls `watcher(url, init)` for every request the client sends until the returned function is called. */
export function watchRequests(watcher) {
  watchers.add(watcher);
  return () => watchers.delete(watcher);
}

/** The server's time now (ms), as the SDK learned it from the worker's `Date` headers. */
export function serverNow() {
  return Date.now() + client.clockOffsetMs;
}

/** What the page shows of a session: from the access token's claims (unverified: for display only). */
export function describeSession(session) {
  let claims = {};
  try {
    claims = decodeToken(session.token);
  } catch {
    // Not a JWT we can read: show what the stored answer says.
  }
  const user = session.user ?? {};
  return {
    email: claims.email ?? user.email ?? "",
    name: user.name ?? "",
    userId: claims.sub ?? user.id ?? "",
    scopes: claims.scopes ?? [],
    tenants: claims.tenants ?? user.tenants ?? {},
    issuedAtMs: typeof claims.iat === "number" ? claims.iat * 1000 : undefined,
    expiresAtMs: typeof claims.exp === "number" ? claims.exp * 1000 : Date.parse(session.expires_at),
    refreshExpiresAt: session.refresh_expires_at,
  };
}

// The SDK renews a token when less than 5 minutes remain. The keeper asks
// for a token at that point (or halfway through a shorter life), so that an
// idle page stays signed in; another tab's renewal reaches us (the SDK's
// BroadcastChannel, then onSessionChange) and moves the next check.
const RENEW_MARGIN_MS = 5 * 60 * 1000;
const RETRY_MS = 15 * 1000;

let timer;

function renewAtMs(session) {
  const { issuedAtMs, expiresAtMs } = describeSession(session);
  if (!Number.isFinite(expiresAtMs)) return undefined;
  const lifetime = issuedAtMs === undefined ? RENEW_MARGIN_MS * 2 : expiresAtMs - issuedAtMs;
  return expiresAtMs - Math.min(RENEW_MARGIN_MS, lifetime / 2);
}

function schedule(session) {
  clearTimeout(timer);
  timer = undefined;
  const at = session && renewAtMs(session);
  if (at === undefined) return;
  // +250 ms: be past the SDK's own threshold when the timer fires; setTimeout
  // cannot wait longer than 2^31 - 1 ms (a check then finds nothing to do).
  timer = setTimeout(renew, Math.min(2 ** 31 - 1, Math.max(1000, at - serverNow() + 250)));
}

async function renew() {
  timer = undefined;
  try {
    const session = await client.getSession();
    if (!session) return;
    const at = renewAtMs(session);
    // Another tab may have renewed it meanwhile: then only wait for the next turn.
    if (at !== undefined && at > serverNow()) return schedule(session);
    await client.getToken();
    schedule(await client.getSession());
  } catch {
    // Offline or the worker unavailable: the SDK keeps the session; try again soon.
    // A refused session ends through onSessionChange("signed_out").
    clearTimeout(timer);
    timer = setTimeout(renew, RETRY_MS);
  }
}

/**
 * Keeps the session renewed and calls `onChange(session | null, event)` for
 * every change: this tab's sign-in, renewals, and other tabs' doings.
 * Resolves to the stored session (or null) to start from.
 */
export async function keepSession(onChange) {
  client.onSessionChange((session, event) => {
    schedule(session);
    onChange(session, event);
  });
  // Coming back to a tab whose timers were throttled: check at once.
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") void renew();
  });
  const session = await client.getSession();
  schedule(session);
  return session;
}
