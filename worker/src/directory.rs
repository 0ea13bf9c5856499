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
  roles TEXT NOT NULL, tenants TEXT NOT NULL, scopes TEXT NOT NULL, created_at INTEGER NOT NULL,
  email_verified INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS memberships (
  tenant TEXT NOT NULL, user_id TEXT NOT NULL, role TEXT NOT NULL, PRIMARY KEY (tenant, user_id));
CREATE TABLE IF NOT EXISTS sessions (
  id TEXT PRIMARY KEY, user_id TEXT NOT NULL, created_at INTEGER NOT NULL, revoked_at INTEGER);
CREATE INDEX IF NOT EXISTS sessions_by_user ON sessions(user_id);
CREATE TABLE IF NOT EXISTS refresh_tokens (
  hash TEXT PRIMARY KEY, session_id TEXT NOT NULL, expires_at INTEGER NOT NULL, used_at_ms INTEGER);
CREATE TABLE IF NOT EXISTS login_failures (k TEXT PRIMARY KEY, count INTEGER NOT NULL, window_start INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS login_failures_by_start ON login_failures(window_start);
CREATE TABLE IF NOT EXISTS api_keys (
  id TEXT PRIMARY KEY, user_id TEXT NOT NULL, hash TEXT NOT NULL, record TEXT NOT NULL, created_at INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS api_keys_by_user ON api_keys(user_id);
CREATE TABLE IF NOT EXISTS device_codes (
  code_hash TEXT PRIMARY KEY, user_code TEXT NOT NULL UNIQUE, client_name TEXT NOT NULL,
  requested_ip TEXT, requested_country TEXT, requested_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL, interval_s INTEGER NOT NULL, last_poll_at INTEGER,
  status TEXT NOT NULL, user_id TEXT);
CREATE TABLE IF NOT EXISTS email_tokens (
  hash TEXT PRIMARY KEY, purpose TEXT NOT NULL, user_id TEXT NOT NULL, email TEXT NOT NULL,
  expires_at INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS email_tokens_by_user ON email_tokens(user_id, purpose);
CREATE INDEX IF NOT EXISTS email_tokens_by_expiry ON email_tokens(expires_at);
CREATE TABLE IF NOT EXISTS email_sends (
  address TEXT PRIMARY KEY, count INTEGER NOT NULL, window_start INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS email_sends_by_start ON email_sends(window_start);
CREATE TABLE IF NOT EXISTS mailbox (
  id INTEGER PRIMARY KEY, to_address TEXT NOT NULL, subject TEXT NOT NULL, body TEXT NOT NULL,
  link TEXT NOT NULL, sent_at INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS mailbox_by_to ON mailbox(to_address, id);
";

/// Columns added to a table after it was first created: added where missing,
/// so that a Directory created by an older build keeps its rows.
const ADDED_COLUMNS: &[(&str, &str, &str)] =
    &[("users", "email_verified", "INTEGER NOT NULL DEFAULT 0")];

fn add_missing_columns(sql: &worker::SqlStorage) {
    for (table, column, declaration) in ADDED_COLUMNS {
        let present = sql
            .exec(
                &format!("SELECT name FROM pragma_table_info('{table}') WHERE name = ?"),
                vec![(*column).into()],
            )
            .and_then(|c| c.to_array::<serde_json::Value>())
            .map(|rows| !rows.is_empty());
        let added = match present {
            Ok(true) => continue,
            Ok(false) => sql
                .exec(
                    &format!("ALTER TABLE {table} ADD COLUMN {column} {declaration}"),
                    None,
                )
                .map(drop),
            Err(e) => Err(e),
        };
        if let Err(e) = added {
            worker::console_error!("edgeauth: directory column {table}.{column}: {e}");
        }
    }
}

impl DurableObject for Directory {
    fn new(state: State, _env: Env) -> Self {
        if let Err(e) = state.storage().sql().exec(SCHEMA, None) {
            worker::console_error!("edgeauth: directory schema failed: {e}");
        }
        add_missing_columns(&state.storage().sql());
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
