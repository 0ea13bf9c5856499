// Types of edgeauth-sdk (SPEC "SDK (npm)"). Field names are the API's own (snake_case).

/** `user` in the auth answers. */
export interface User {
  id: string;
  email: string;
  name: string;
  /** Whether the address was proved (a verification link, a sign-in link or a password reset). */
  email_verified: boolean;
  roles: string[];
  /** Tenant id → role (`viewer`, `editor`, `admin`). */
  tenants: Record<string, string>;
}

/** The `/v1/auth/token` and `/v1/auth/refresh` answer; also what is stored. */
export interface Session {
  /** The access token (an ES256 JWT). */
  token: string;
  /** RFC 3339 UTC. */
  expires_at: string;
  /**
   * Single use: each refresh returns a new one. Absent with `session: "cookie"`: the
   * refresh token is then an HttpOnly cookie that no script can read.
   */
  refresh_token?: string;
  refresh_expires_at: string;
  user: User;
}

export interface WhoAmI {
  kind: "user" | "api_key" | "external";
  subject: string;
  email?: string;
  name?: string;
  scopes: string[];
  tenants: Record<string, string>;
  expires_at?: string;
  key_id?: string;
}

export interface CreateApiKey {
  name: string;
  scopes: string[];
  all_resources?: boolean;
  resources?: string[];
  tenants?: string[];
  /** RFC 3339; must be in the future. */
  expires_at?: string;
  /** IPv4/IPv6 addresses and CIDR ranges. */
  allowed_ips?: string[];
}

/** An API key as listed (never with the whole key). */
export interface ApiKey {
  id: string;
  name: string;
  /** The key's first 12 characters (`ea_live_` and 4 more). */
  prefix: string;
  scopes: string[];
  all_resources: boolean;
  resources: string[];
  tenants: string[];
  allowed_ips: string[];
  created_at: string;
  expires_at: string | null;
}

/** The answer to `createApiKey`: the only time the whole `key` is shown. */
export interface CreatedApiKey extends ApiKey {
  key: string;
}

/** The keys as an array, which also answers to `.keys` (the endpoint's `{keys}`). */
export type ApiKeyList = ApiKey[] & { readonly keys: ApiKey[] };

/** A user's role in a tenant. */
export type Role = "viewer" | "editor" | "admin";

/** A member of a tenant, as `listMembers` lists them. */
export interface Member {
  email: string;
  name: string;
  role: Role;
}

/** The members as an array, which also answers to `.members` (the endpoint's `{members}`). */
export type MemberList = Member[] & { readonly members: Member[] };

/** The answer to `setMemberRole`: the member's role in the tenant now (`null`: removed). */
export interface Membership {
  tenant: string;
  email: string;
  role: Role | null;
}

/** The three request-signing headers (seed 002's scheme). */
export interface SignatureHeaders {
  "x-cli-signature": string;
  "x-cli-timestamp": string;
  "x-cli-nonce": string;
}

export type SessionEvent = "signed_in" | "refreshed" | "signed_out";

/**
 * Where the session is kept. `getItem`/`setItem`/`removeItem` as on `Storage`
 * (sync or async); `lock(key)`, when present, resolves to a release function
 * and keeps refreshes of clients sharing this storage one at a time.
 */
export interface SessionStorage {
  getItem(key: string): string | null | Promise<string | null>;
  setItem(key: string, value: string): void | Promise<void>;
  removeItem(key: string): void | Promise<void>;
  lock?(key: string): Promise<() => void>;
}

export interface EdgeAuthClientOptions {
  /** The worker's URL, e.g. `https://auth.example.com` (a path prefix is kept). */
  baseUrl: string | URL;
  /**
   * `"cookie"` (browsers): the refresh token is kept out of reach of page scripts, in the
   * worker's HttpOnly `__Host-edgeauth_rt` cookie; the access token lives in memory only,
   * shared by the origin's tabs over a `BroadcastChannel`, and a new page resumes the
   * session from the cookie. Across origins the app's origin must be listed in the worker's
   * `ALLOWED_ORIGINS` (not through `*`) and be on the same site. Not with `storage`.
   */
  session?: "cookie";
  /**
   * `"memory"` (default): this client only. `"localStorage"` (browsers): shared
   * by the tabs of the origin, which then coordinate refreshes (Web Locks and
   * `storage` events). Or your own `SessionStorage`.
   */
  storage?: "memory" | "localStorage" | SessionStorage;
  /** Key of the session in the storage. Default `"edgeauth.session@<baseUrl>"`, one per worker. */
  storageKey?: string;
  /** The `fetch` to use. Default: `globalThis.fetch`, looked up on each request. */
  fetch?: typeof fetch;
  /** Authenticate with this API key instead of a session (servers, CI). */
  apiKey?: string;
  /** Sign every `client.fetch` unless its `init.sign` is `false`. Default `false`. */
  sign?: boolean;
}

export interface EdgeAuthRequestInit extends RequestInit {
  /**
   * Sign this request (`x-cli-*` headers; the body must be a string or bytes).
   * Unsigned requests to a route that requires a signature are signed and retried once.
   */
  sign?: boolean;
}

/**
 * What every SDK call rejects with. `status` is the HTTP status (0 when no answer
 * came), `code` and `reason` are SPEC's words (`UNAUTHORIZED` / `token_expired`),
 * plus these codes of the SDK's own:
 * - `NETWORK` (reason `network_error`): no answer at all; never a sign-out;
 * - `BAD_RESPONSE` (reason `invalid_response`): an answer outside the contract;
 * - `HTTP_ERROR` (reason `unexpected_status`): a status the contract does not use.
 * Branch on `code` and `reason`, never on `message`.
 */
export class EdgeAuthError extends Error {
  readonly name: "EdgeAuthError";
  readonly status: number;
  readonly code: string;
  readonly reason: string;
  /**
   * The session is over (refresh refused, `session_revoked`, …): the SDK has already
   * forgotten it, and the person has to sign in again. False for every other failure,
   * a 403 or a network failure included.
   */
  readonly signInAgain: boolean;
  constructor(fields: { status: number; code: string; reason: string; message: string; signInAgain?: boolean });
}

/** `POST /v1/auth/device/code`'s answer (RFC 8628 §3.2). */
export interface DeviceCode {
  device_code: string;
  /** 8 letters shown as `XXXX-XXXX`: the person checks it on the approval page. */
  user_code: string;
  /** The console's `/console/device` page. */
  verification_uri: string;
  verification_uri_complete: string;
  /** Seconds the code lives. */
  expires_in: number;
  /** Seconds to wait between polls. */
  interval: number;
}

/** The device login a user code names, as the approval page shows it. */
export interface DeviceLookup {
  user_code: string;
  client_name: string;
  [field: string]: unknown;
}

export class EdgeAuthClient {
  constructor(options: EdgeAuthClientOptions);
  /** `POST /v1/auth/register`. Does not sign in. */
  register(input: { email: string; password: string; name: string }): Promise<{ user: User }>;
  /** `POST /v1/auth/token`; stores the session. */
  login(input: { email: string; password: string }): Promise<Session>;
  /** Rotates the session now; concurrent callers share one refresh. */
  refresh(): Promise<Session>;
  /** `POST /v1/auth/logout`; the session is forgotten even when that fails. */
  logout(): Promise<void>;
  whoami(): Promise<WhoAmI>;
  createApiKey(input: CreateApiKey): Promise<CreatedApiKey>;
  listApiKeys(): Promise<ApiKeyList>;
  getApiKey(id: string): Promise<ApiKey>;
  revokeApiKey(id: string): Promise<void>;
  /** `GET /v1/tenants/{tenant}/members`; needs a role in the tenant (else 403 `tenant_denied`). */
  listMembers(tenant: string): Promise<MemberList>;
  /**
   * `PUT /v1/tenants/{tenant}/members`; `null` removes the member. Needs the admin role
   * (else 403 `tenant_denied`); an unknown email is 404 `not_found`; the last admin
   * demoting or removing themselves is 409 `last_admin`.
   */
  setMemberRole(tenant: string, email: string, role: Role | null): Promise<Membership>;
  /**
   * `POST /v1/auth/email/verify/send`: another verification message to the signed-in user
   * (nothing is sent when the address is verified). At most 5 messages per address per
   * hour (then 429 `rate_limited`).
   */
  sendVerificationEmail(): Promise<void>;
  /**
   * `POST /v1/auth/email/verify` with the token of a verification link (the `token` in the
   * fragment of `/console/verify#token=…`). A used, expired or unknown token is 400
   * `email_token_invalid`.
   */
  verifyEmail(token: string): Promise<{ user: User }>;
  /** `POST /v1/auth/password/forgot`: resolves alike whether or not the address is registered. */
  forgotPassword(email: string): Promise<void>;
  /**
   * `POST /v1/auth/password/reset` with a reset link's token: sets the password, ends every
   * other session of the user, and stores (and resolves to) the new session.
   */
  resetPassword(token: string, password: string): Promise<Session>;
  /** `POST /v1/auth/magic-link`: resolves alike whether or not the address is registered. */
  sendMagicLink(email: string): Promise<void>;
  /** `POST /v1/auth/magic-link/verify` with a sign-in link's token: stores (and resolves to) the session. */
  signInWithMagicLink(token: string): Promise<Session>;
  /** Starts a device login (RFC 8628) for this client: show `user_code` and `verification_uri_complete`. */
  startDeviceLogin(options?: { clientName?: string }): Promise<DeviceCode>;
  /**
   * Polls until the device login is approved (waiting `interval`, 5 s more after each
   * `slow_down`), then stores the session. Rejects with 400 `access_denied` or `expired_token`.
   */
  pollDeviceLogin(code: DeviceCode, options?: { signal?: AbortSignal }): Promise<Session>;
  /** The device asking to sign in with this user code (signed in; 404 `not_found` when unknown or expired). */
  lookupDeviceCode(userCode: string): Promise<DeviceLookup>;
  /** Approves (or, with `false`, denies) a device login as the signed-in user. */
  approveDevice(userCode: string, approve?: boolean): Promise<void>;
  /**
   * `fetch` to a path under `baseUrl` (or a URL under it; other origins are refused)
   * with the bearer attached, refreshed first when less than 5 minutes remain.
   * Resolves to the `Response` whatever its status.
   */
  fetch(input: string | URL, init?: EdgeAuthRequestInit): Promise<Response>;
  getSession(): Promise<Session | null>;
  /** A bearer good for now (refreshed if needed), e.g. for an `EventSource`'s `?token=`. */
  getToken(): Promise<string | null>;
  /** Signs with this client's credential and the server-corrected clock. */
  signRequest(method: string, path: string, body?: string | ArrayBuffer | ArrayBufferView | null): Promise<SignatureHeaders>;
  /** Server clock minus local clock, in ms, learned from `Date` headers. */
  readonly clockOffsetMs: number;
  /** Returns a function that removes the listener. */
  onSessionChange(listener: (session: Session | null, event: SessionEvent) => void): () => void;
  /** Stops listening to other tabs. */
  close(): void;
}

export interface SignOptions {
  /** Unix time in milliseconds. Default: now. */
  timestamp?: number | string;
  /** Default: 16 random bytes as 32 hex characters. */
  nonce?: string;
}

/**
 * The `x-cli-*` headers for one request. `path` is the request target as sent
 * (pathname plus `?query`); `body` is the body text, or bytes; another value is
 * hashed as `JSON.stringify(body)`, as seed 002's example does.
 */
export function signRequest(
  token: string,
  method: string,
  path: string,
  body?: string | ArrayBuffer | ArrayBufferView | null | unknown,
  options?: SignOptions,
): Promise<SignatureHeaders>;

/** A JWT's claims as they are (`exp` in seconds) plus `scopes`. No verification. */
export function decodeToken(token: string): Record<string, unknown> & {
  scopes: string[];
  sub?: string;
  exp?: number;
  iat?: number;
};
