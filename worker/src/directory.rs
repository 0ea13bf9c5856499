//! The `Directory` Durable Object: users, sessions, refresh-token families, API-key ownership,
//! login attempts and device codes, in one SQLite database.
//!
//! Each command runs its reads and writes with no `await` in between, so the object's
//! single thread makes it atomic: one registration of an email wins, one rotation of a
//! refresh token wins. Decisions come from core; this file only stores.

use edgeauth_core::credential::{credential_hash, generate_refresh_token};
use edgeauth_core::device::{DevicePollOutcome, DeviceState, DeviceStatus};
use edgeauth_core::mac::hs256;
use edgeauth_core::session::{decide_refresh, FailureWindow, RefreshOutcome, RefreshTokenState};
use edgeauth_core::session::{ended_window_cutoff, MAX_FAILURES_PER_EMAIL, MAX_FAILURES_PER_IP};
use edgeauth_core::{ApiError, Reason};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use worker::{
    durable_object, DurableObject, Env, Method, Request, Response, Result, SqlStorage, State,
};

#[durable_object]
pub struct Directory {
    state: State,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS users (
  id TEXT PRIMARY KEY, email TEXT NOT NULL UNIQUE, name TEXT NOT NULL, password_hash TEXT NOT NULL,
  roles TEXT NOT NULL, tenants TEXT NOT NULL, scopes TEXT NOT NULL, created_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS sessions (
  id TEXT PRIMARY KEY, user_id TEXT NOT NULL, created_at INTEGER NOT NULL, revoked_at INTEGER);
CREATE TABLE IF NOT EXISTS refresh_tokens (
  hash TEXT PRIMARY KEY, session_id TEXT NOT NULL, expires_at INTEGER NOT NULL, used_at INTEGER);
CREATE INDEX IF NOT EXISTS refresh_by_session ON refresh_tokens(session_id);
CREATE TABLE IF NOT EXISTS login_failures (k TEXT PRIMARY KEY, count INTEGER NOT NULL, window_start INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS login_failures_by_start ON login_failures(window_start);
CREATE TABLE IF NOT EXISTS api_keys (
  id TEXT PRIMARY KEY, user_id TEXT NOT NULL, hash TEXT NOT NULL, record TEXT NOT NULL, created_at INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS api_keys_by_user ON api_keys(user_id);
CREATE TABLE IF NOT EXISTS device_codes (
  code_hash TEXT PRIMARY KEY, user_code TEXT NOT NULL UNIQUE, client_name TEXT NOT NULL,
  expires_at INTEGER NOT NULL, interval_s INTEGER NOT NULL, last_poll_at INTEGER,
  status TEXT NOT NULL, user_id TEXT);
";

/// A user as the API shows it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct User {
    pub id: String,
    pub email: String,
    pub name: String,
    pub roles: Vec<String>,
    pub tenants: serde_json::Map<String, Value>,
    /// The scopes this user's tokens carry (not part of the public `user` object).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub scopes: String,
}

impl User {
    /// SPEC's `user` object.
    pub fn public(&self) -> Value {
        json!({"id": self.id, "email": self.email, "name": self.name, "roles": self.roles, "tenants": self.tenants})
    }
}

#[derive(Deserialize)]
struct UserRow {
    id: String,
    email: String,
    name: String,
    password_hash: String,
    roles: String,
    tenants: String,
    scopes: String,
}

impl UserRow {
    fn user(&self) -> User {
        User {
            id: self.id.clone(),
            email: self.email.clone(),
            name: self.name.clone(),
            roles: serde_json::from_str(&self.roles).unwrap_or_default(),
            tenants: serde_json::from_str(&self.tenants).unwrap_or_default(),
            scopes: self.scopes.clone(),
        }
    }
}

fn refuse(e: ApiError) -> Result<Response> {
    Ok(Response::from_json(&json!({"error": {"reason": e.reason.as_str(), "message": e.message, "retry_after": e.retry_after_s}}))?
        .with_status(e.status()))
}

fn ok(v: Value) -> Result<Response> {
    Response::from_json(&v)
}

impl Directory {
    fn sql(&self) -> SqlStorage {
        self.state.storage().sql()
    }

    fn rows<T: DeserializeOwned>(
        &self,
        q: &str,
        args: Vec<worker::SqlStorageValue>,
    ) -> Result<Vec<T>> {
        self.sql().exec(q, args)?.to_array()
    }

    fn exec(&self, q: &str, args: Vec<worker::SqlStorageValue>) -> Result<()> {
        self.sql().exec(q, args)?;
        Ok(())
    }

    fn user_by(&self, column: &str, value: &str) -> Result<Option<UserRow>> {
        let q = format!("SELECT id, email, name, password_hash, roles, tenants, scopes FROM users WHERE {column} = ?");
        Ok(self
            .rows::<UserRow>(&q, vec![value.into()])?
            .into_iter()
            .next())
    }

    /// A random secret that never leaves this object: successors of refresh tokens are
    /// derived from it, so a replay within the grace window gets the same successor
    /// without the successor ever being stored.
    fn successor_secret(&self) -> Result<String> {
        #[derive(Deserialize)]
        struct Row {
            v: String,
        }
        if let Some(r) = self
            .rows::<Row>("SELECT v FROM meta WHERE k = 'successor_secret'", vec![])?
            .pop()
        {
            return Ok(r.v);
        }
        let mut bytes = [0u8; 32];
        getrandom::getrandom(&mut bytes).map_err(|e| worker::Error::RustError(e.to_string()))?;
        let v: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        self.exec(
            "INSERT INTO meta (k, v) VALUES ('successor_secret', ?)",
            vec![v.clone().into()],
        )?;
        Ok(v)
    }

    fn successor_of(&self, token: &str) -> Result<String> {
        let secret = self.successor_secret()?;
        // HMAC in counter mode gives enough uniform bytes for the token's rejection sampling.
        let mut stream = Vec::with_capacity(128);
        for i in 0u8..4 {
            stream.extend_from_slice(&hs256(
                secret.as_bytes(),
                &[token.as_bytes(), &[i]].concat(),
            ));
        }
        generate_refresh_token(&stream)
            .ok_or_else(|| worker::Error::RustError("successor derivation ran short".into()))
    }

    fn failures(&self, key: &str) -> Result<Option<FailureWindow>> {
        #[derive(Deserialize)]
        struct Row {
            count: u32,
            window_start: i64,
        }
        Ok(self
            .rows::<Row>(
                "SELECT count, window_start FROM login_failures WHERE k = ?",
                vec![key.into()],
            )?
            .pop()
            .map(|r| FailureWindow {
                count: r.count,
                window_start_s: r.window_start,
            }))
    }

    fn record_failure(&self, key: &str, now: i64) -> Result<()> {
        let w = FailureWindow::after_failure(self.failures(key)?, now);
        self.store_window(key, w)
    }

    /// Takes back the attempt a successful login reserved in `login_begin`.
    fn release_attempt(&self, key: &str, now: i64) -> Result<()> {
        match FailureWindow::after_success(self.failures(key)?, now) {
            Some(w) => self.store_window(key, w),
            None => Ok(()),
        }
    }

    fn store_window(&self, key: &str, w: FailureWindow) -> Result<()> {
        self.exec(
            "INSERT OR REPLACE INTO login_failures (k, count, window_start) VALUES (?, ?, ?)",
            vec![key.into(), (w.count as i64).into(), w.window_start_s.into()],
        )
    }

    fn new_session(
        &self,
        user_id: &str,
        session_id: &str,
        refresh_token: &str,
        refresh_expires: i64,
        now: i64,
    ) -> Result<()> {
        self.exec(
            "INSERT INTO sessions (id, user_id, created_at) VALUES (?, ?, ?)",
            vec![session_id.into(), user_id.into(), now.into()],
        )?;
        self.exec(
            "INSERT INTO refresh_tokens (hash, session_id, expires_at) VALUES (?, ?, ?)",
            vec![
                credential_hash(refresh_token).into(),
                session_id.into(),
                refresh_expires.into(),
            ],
        )
    }

    fn revoke_session(&self, session_id: &str, now: i64) -> Result<()> {
        self.exec(
            "UPDATE sessions SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
            vec![now.into(), session_id.into()],
        )
    }

    fn command(&self, op: &str, a: &Value) -> Result<Response> {
        let s = |k: &str| a.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        let n = |k: &str| a.get(k).and_then(Value::as_i64).unwrap_or(0);
        let now = n("now");
        match op {
            "register" => {
                let email = s("email");
                if self.user_by("email", &email)?.is_some() {
                    return refuse(ApiError::new(Reason::EmailTaken));
                }
                self.exec(
                    "INSERT INTO users (id, email, name, password_hash, roles, tenants, scopes, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    vec![
                        s("id").into(),
                        email.clone().into(),
                        s("name").into(),
                        s("password_hash").into(),
                        r#"["user"]"#.into(),
                        a.get("tenants").cloned().unwrap_or(json!({})).to_string().into(),
                        s("scopes").into(),
                        now.into(),
                    ],
                )?;
                let user = self.user_by("email", &email)?.map(|u| u.user().public());
                ok(json!({"user": user}))
            }
            "login_begin" => {
                let (email, ip) = (s("email"), s("ip"));
                let keys = [
                    (format!("email:{email}"), MAX_FAILURES_PER_EMAIL),
                    (format!("ip:{ip}"), MAX_FAILURES_PER_IP),
                ];
                // Ended windows limit nobody: drop them, so spraying addresses or emails
                // cannot grow the table without bound (the index keeps this cheap).
                self.exec(
                    "DELETE FROM login_failures WHERE window_start <= ?",
                    vec![ended_window_cutoff(now).into()],
                )?;
                for (key, limit) in &keys {
                    if let Some(secs) = self.failures(key)?.and_then(|w| w.retry_after(*limit, now))
                    {
                        return refuse(ApiError::rate_limited(secs));
                    }
                }
                // The attempt counts as a failure from now on, before the password is
                // checked: concurrent guesses cannot all pass the check above before any
                // of them is recorded. `login_ok` takes it back.
                for (key, _) in &keys {
                    self.record_failure(key, now)?;
                }
                let user = self.user_by("email", &email)?;
                ok(json!({
                    "user": user.as_ref().map(|u| serde_json::to_value(u.user()).unwrap_or(Value::Null)),
                    "password_hash": user.map(|u| u.password_hash),
                }))
            }
            "login_ok" => {
                let user_id = s("user_id");
                // A successful login clears its email's count and does not count for its address.
                self.exec(
                    "DELETE FROM login_failures WHERE k = ?",
                    vec![format!("email:{}", s("email")).into()],
                )?;
                self.release_attempt(&format!("ip:{}", s("ip")), now)?;
                if let Some(h) = a.get("upgrade_password_hash").and_then(Value::as_str) {
                    self.exec(
                        "UPDATE users SET password_hash = ? WHERE id = ?",
                        vec![h.into(), user_id.clone().into()],
                    )?;
                }
                self.new_session(
                    &user_id,
                    &s("session_id"),
                    &s("refresh_token"),
                    n("refresh_expires_at"),
                    now,
                )?;
                ok(json!({}))
            }
            "refresh" => {
                let token = s("refresh_token");
                #[derive(Deserialize)]
                struct Row {
                    session_id: String,
                    expires_at: i64,
                    used_at: Option<i64>,
                    revoked_at: Option<i64>,
                    user_id: String,
                }
                let row = self
                    .rows::<Row>(
                        "SELECT r.session_id, r.expires_at, r.used_at, s.revoked_at, s.user_id FROM refresh_tokens r JOIN sessions s ON s.id = r.session_id WHERE r.hash = ?",
                        vec![credential_hash(&token).into()],
                    )?
                    .pop();
                let Some(row) = row else {
                    return refuse(ApiError::new(Reason::RefreshTokenInvalid));
                };
                let state = RefreshTokenState {
                    expires_at_s: row.expires_at,
                    used_at_s: row.used_at,
                    session_revoked: row.revoked_at.is_some(),
                };
                let successor = self.successor_of(&token)?;
                let successor_expires = now + n("refresh_ttl_s");
                match decide_refresh(state, now, n("grace_s")) {
                    RefreshOutcome::Rotate => {
                        self.exec(
                            "UPDATE refresh_tokens SET used_at = ? WHERE hash = ?",
                            vec![now.into(), credential_hash(&token).into()],
                        )?;
                        self.exec(
                            "INSERT OR REPLACE INTO refresh_tokens (hash, session_id, expires_at) VALUES (?, ?, ?)",
                            vec![credential_hash(&successor).into(), row.session_id.clone().into(), successor_expires.into()],
                        )?;
                    }
                    RefreshOutcome::ReplayWithinGrace => {}
                    RefreshOutcome::RevokeSession => {
                        self.revoke_session(&row.session_id, now)?;
                        // Not a refusal yet: the caller must first forget the session in
                        // its isolate, so the session's access tokens fail there at once.
                        return ok(json!({"reused": true, "session_id": row.session_id}));
                    }
                    RefreshOutcome::SessionRevoked => {
                        return refuse(ApiError::new(Reason::SessionRevoked))
                    }
                    RefreshOutcome::Expired => {
                        return refuse(ApiError::new(Reason::RefreshTokenInvalid))
                    }
                }
                #[derive(Deserialize)]
                struct Exp {
                    expires_at: i64,
                }
                let expires = self
                    .rows::<Exp>(
                        "SELECT expires_at FROM refresh_tokens WHERE hash = ?",
                        vec![credential_hash(&successor).into()],
                    )?
                    .pop()
                    .map(|e| e.expires_at)
                    .unwrap_or(successor_expires);
                let user = self.user_by("id", &row.user_id)?.map(|u| u.user());
                ok(
                    json!({"refresh_token": successor, "refresh_expires_at": expires, "session_id": row.session_id, "user": user}),
                )
            }
            "logout" => {
                let mut ended = vec![s("session_id")];
                // A refresh token sent along ends its own session too, if it is this user's.
                if let Some(rt) = a.get("refresh_token").and_then(Value::as_str) {
                    #[derive(Deserialize)]
                    struct Row {
                        session_id: String,
                    }
                    let found = self.rows::<Row>(
                        "SELECT r.session_id FROM refresh_tokens r JOIN sessions s ON s.id = r.session_id WHERE r.hash = ? AND s.user_id = ?",
                        vec![credential_hash(rt).into(), s("user_id").into()],
                    )?;
                    ended.extend(found.into_iter().map(|r| r.session_id));
                }
                ended.dedup();
                for sid in &ended {
                    self.revoke_session(sid, now)?;
                }
                ok(json!({"ended_sessions": ended}))
            }
            "session_status" => {
                #[derive(Deserialize)]
                struct Row {
                    revoked_at: Option<i64>,
                }
                let row = self
                    .rows::<Row>(
                        "SELECT revoked_at FROM sessions WHERE id = ?",
                        vec![s("session_id").into()],
                    )?
                    .pop();
                ok(json!({"active": row.is_some_and(|r| r.revoked_at.is_none())}))
            }
            "user" => ok(json!({"user": self.user_by("id", &s("user_id"))?.map(|u| u.user())})),
            "set_tenant_role" => {
                let Some(row) = self.user_by("email", &s("email"))? else {
                    return refuse(ApiError::with_message(
                        Reason::NotFound,
                        "no user has this email",
                    ));
                };
                let mut user = row.user();
                match a.get("role").and_then(Value::as_str) {
                    Some(role) => user
                        .tenants
                        .insert(s("tenant"), Value::String(role.to_string())),
                    None => user.tenants.remove(&s("tenant")),
                };
                self.exec(
                    "UPDATE users SET tenants = ? WHERE id = ?",
                    vec![
                        Value::Object(user.tenants.clone()).to_string().into(),
                        user.id.clone().into(),
                    ],
                )?;
                ok(json!({"user": user.public()}))
            }
            "key_create" => {
                self.exec(
                    "INSERT INTO api_keys (id, user_id, hash, record, created_at) VALUES (?, ?, ?, ?, ?)",
                    vec![s("id").into(), s("user_id").into(), s("hash").into(), a["record"].to_string().into(), now.into()],
                )?;
                ok(json!({}))
            }
            "key_list" => {
                #[derive(Deserialize)]
                struct Row {
                    record: String,
                }
                let keys: Vec<Value> = self
                    .rows::<Row>(
                        "SELECT record FROM api_keys WHERE user_id = ? ORDER BY created_at, id",
                        vec![s("user_id").into()],
                    )?
                    .into_iter()
                    .filter_map(|r| serde_json::from_str(&r.record).ok())
                    .collect();
                ok(json!({"keys": keys}))
            }
            "key_status" => {
                #[derive(Deserialize)]
                struct Row {
                    n: i64,
                }
                let rows = self.rows::<Row>(
                    "SELECT COUNT(*) AS n FROM api_keys WHERE id = ?",
                    vec![s("id").into()],
                )?;
                ok(json!({"active": rows.first().is_some_and(|r| r.n > 0)}))
            }
            "key_get" | "key_delete" => {
                #[derive(Deserialize)]
                struct Row {
                    record: String,
                    hash: String,
                }
                let row = self
                    .rows::<Row>(
                        "SELECT record, hash FROM api_keys WHERE id = ? AND user_id = ?",
                        vec![s("id").into(), s("user_id").into()],
                    )?
                    .pop();
                let Some(row) = row else {
                    return refuse(ApiError::with_message(Reason::NotFound, "no such API key"));
                };
                if op == "key_delete" {
                    self.exec("DELETE FROM api_keys WHERE id = ?", vec![s("id").into()])?;
                }
                let record: Value = serde_json::from_str(&row.record).unwrap_or(Value::Null);
                ok(json!({"record": record, "hash": row.hash}))
            }
            "device_create" => {
                self.exec(
                    "DELETE FROM device_codes WHERE expires_at < ?",
                    vec![(now - 3600).into()],
                )?;
                self.exec(
                    "INSERT INTO device_codes (code_hash, user_code, client_name, expires_at, interval_s, status) VALUES (?, ?, ?, ?, ?, 'pending')",
                    vec![s("code_hash").into(), s("user_code").into(), s("client_name").into(), n("expires_at").into(), n("interval_s").into()],
                )?;
                ok(json!({}))
            }
            "device_lookup" => {
                #[derive(Deserialize)]
                struct Row {
                    client_name: String,
                    status: String,
                    expires_at: i64,
                }
                match self
                    .rows::<Row>("SELECT client_name, status, expires_at FROM device_codes WHERE user_code = ?", vec![s("user_code").into()])?
                    .pop()
                {
                    Some(r) if r.status == "pending" && now < r.expires_at => ok(json!({"client_name": r.client_name})),
                    _ => refuse(ApiError::with_message(Reason::NotFound, "no pending device login has this code")),
                }
            }
            "device_decide" => {
                let status = if a.get("approve").and_then(Value::as_bool) == Some(true) {
                    "approved"
                } else {
                    "denied"
                };
                #[derive(Deserialize)]
                struct Row {
                    status: String,
                    expires_at: i64,
                }
                match self
                    .rows::<Row>(
                        "SELECT status, expires_at FROM device_codes WHERE user_code = ?",
                        vec![s("user_code").into()],
                    )?
                    .pop()
                {
                    Some(r) if r.status == "pending" && now < r.expires_at => {
                        self.exec(
                            "UPDATE device_codes SET status = ?, user_id = ? WHERE user_code = ?",
                            vec![status.into(), s("user_id").into(), s("user_code").into()],
                        )?;
                        ok(json!({}))
                    }
                    _ => refuse(ApiError::with_message(
                        Reason::NotFound,
                        "no pending device login has this code",
                    )),
                }
            }
            "device_poll" => {
                #[derive(Deserialize)]
                struct Row {
                    expires_at: i64,
                    interval_s: i64,
                    last_poll_at: Option<i64>,
                    status: String,
                    user_id: Option<String>,
                }
                let hash = s("code_hash");
                let Some(r) = self
                    .rows::<Row>(
                        "SELECT expires_at, interval_s, last_poll_at, status, user_id FROM device_codes WHERE code_hash = ?",
                        vec![hash.clone().into()],
                    )?
                    .pop()
                else {
                    return refuse(ApiError::with_message(Reason::ExpiredToken, "unknown device code"));
                };
                let state = DeviceState {
                    expires_at_s: r.expires_at,
                    interval_s: r.interval_s,
                    last_poll_at_s: r.last_poll_at,
                    status: match r.status.as_str() {
                        "approved" => DeviceStatus::Approved,
                        "denied" => DeviceStatus::Denied,
                        "used" => DeviceStatus::Used,
                        _ => DeviceStatus::Pending,
                    },
                };
                let outcome = state.poll(now);
                self.exec(
                    "UPDATE device_codes SET last_poll_at = ?, interval_s = ? WHERE code_hash = ?",
                    vec![now.into(), outcome.interval_s.into(), hash.clone().into()],
                )?;
                match outcome.result {
                    DevicePollOutcome::Approved => {
                        let user_id = r.user_id.unwrap_or_default();
                        self.exec(
                            "UPDATE device_codes SET status = 'used' WHERE code_hash = ?",
                            vec![hash.into()],
                        )?;
                        self.new_session(
                            &user_id,
                            &s("session_id"),
                            &s("refresh_token"),
                            n("refresh_expires_at"),
                            now,
                        )?;
                        ok(json!({"user": self.user_by("id", &user_id)?.map(|u| u.user())}))
                    }
                    DevicePollOutcome::Refuse(reason) => refuse(ApiError::new(reason)),
                }
            }
            _ => refuse(ApiError::with_message(
                Reason::NotFound,
                "unknown directory command",
            )),
        }
    }
}

impl DurableObject for Directory {
    fn new(state: State, _env: Env) -> Self {
        if let Err(e) = state.storage().sql().exec(SCHEMA, None) {
            worker::console_error!("edgeauth: directory schema failed: {e}");
        }
        Directory { state }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        if req.method() != Method::Post {
            return Response::error("not found", 404);
        }
        let op = req.path().trim_start_matches('/').to_string();
        let args: Value = req.json().await?;
        self.command(&op, &args)
    }
}
