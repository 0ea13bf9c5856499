//! The `Directory` Durable Object: the SQL adapter under core's Directory
//! (`edgeauth_core::directory`). Commands arrive typed, run through core's
//! `execute` over this object's SQLite (`sql.rs`), and go back as core's
//! `Answer`. No rule lives here.

use edgeauth_core::directory::{execute, Answer, Command};
use worker::{durable_object, DurableObject, Env, Method, Request, Response, Result, State};

use crate::sql::Sql;

#[durable_object]
pub struct Directory {
    state: State,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS users (
  id TEXT PRIMARY KEY, email TEXT NOT NULL UNIQUE, name TEXT NOT NULL, password_hash TEXT NOT NULL,
  roles TEXT NOT NULL, tenants TEXT NOT NULL, scopes TEXT NOT NULL, created_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS memberships (
  tenant TEXT NOT NULL, user_id TEXT NOT NULL, role TEXT NOT NULL, PRIMARY KEY (tenant, user_id));
CREATE TABLE IF NOT EXISTS sessions (
  id TEXT PRIMARY KEY, user_id TEXT NOT NULL, created_at INTEGER NOT NULL, revoked_at INTEGER);
CREATE TABLE IF NOT EXISTS refresh_tokens (
  hash TEXT PRIMARY KEY, session_id TEXT NOT NULL, expires_at INTEGER NOT NULL, used_at_ms INTEGER);
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
        let command: Command = match req.json().await {
            Ok(c) => c,
            Err(e) => return Response::error(format!("bad command: {e}"), 400),
        };
        let mut sql = Sql(self.state.storage().sql());
        Response::from_json(&Answer::from_result(execute(&mut sql, command)))
    }
}
