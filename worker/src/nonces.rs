//! The `NonceSet` Durable Object: the nonces one credential has used, each kept until the
//! signing window would refuse it anyway, then removed by an alarm.

use std::cell::Cell;

use serde::Deserialize;
use serde_json::json;
use wasm_bindgen::JsValue;
use worker::{
    durable_object, DurableObject, Env, Method, Request, Response, Result, ScheduledTime, State,
};

/// An alarm time as an instant (Unix ms). workers-rs reads a bare integer as an
/// offset from now, which would put the purge decades away.
fn at(unix_ms: u64) -> ScheduledTime {
    ScheduledTime::new(js_sys::Date::new(&JsValue::from_f64(unix_ms as f64)))
}

#[durable_object]
pub struct NonceSet {
    state: State,
    /// The alarm time as last read or set, so a request needs no `getAlarm()` round trip.
    next_purge_ms: Cell<Option<Option<u64>>>,
}

#[derive(Deserialize)]
struct Record {
    nonce: String,
    expires_at_ms: u64,
}

#[derive(Deserialize)]
struct Row {
    n: i64,
}

impl NonceSet {
    /// Makes sure the alarm fires no later than `expires_at_ms`.
    async fn schedule_purge(&self, expires_at_ms: u64) -> Result<()> {
        let storage = self.state.storage();
        let next = match self.next_purge_ms.get() {
            Some(known) => known,
            None => storage.get_alarm().await?.map(|t| t as u64),
        };
        if next.is_none_or(|t| t > expires_at_ms) {
            storage.set_alarm(at(expires_at_ms)).await?;
            self.next_purge_ms.set(Some(Some(expires_at_ms)));
        } else {
            self.next_purge_ms.set(Some(next));
        }
        Ok(())
    }

    fn sql(&self) -> worker::SqlStorage {
        self.state.storage().sql()
    }

    fn purge(&self, now_ms: u64) -> Result<()> {
        self.sql().exec(
            "DELETE FROM nonces WHERE expires_at_ms <= ?",
            vec![(now_ms as f64).into()],
        )?;
        Ok(())
    }

    fn count(&self) -> Result<i64> {
        let rows: Vec<Row> = self
            .sql()
            .exec("SELECT COUNT(*) AS n FROM nonces", None)?
            .to_array()?;
        Ok(rows.first().map(|r| r.n).unwrap_or(0))
    }
}

impl DurableObject for NonceSet {
    fn new(state: State, _env: Env) -> Self {
        let _ = state.storage().sql().exec(
            "CREATE TABLE IF NOT EXISTS nonces (nonce TEXT PRIMARY KEY, expires_at_ms INTEGER NOT NULL)",
            None,
        );
        NonceSet {
            state,
            next_purge_ms: Cell::new(None),
        }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let now_ms = worker::Date::now().as_millis();
        match (req.method(), req.path().as_str()) {
            (Method::Post, "/record") => {
                let r: Record = req.json().await?;
                // One statement is the check and the set: a nonce is new, or its old entry
                // has expired (and only awaits the purge), else nothing is written and
                // nothing returned. Concurrent requests cannot both win.
                let written: Vec<Row> = self
                    .sql()
                    .exec(
                        "INSERT INTO nonces (nonce, expires_at_ms) VALUES (?, ?) \
                         ON CONFLICT(nonce) DO UPDATE SET expires_at_ms = excluded.expires_at_ms \
                         WHERE nonces.expires_at_ms <= ? RETURNING 1 AS n",
                        vec![
                            r.nonce.into(),
                            (r.expires_at_ms as f64).into(),
                            (now_ms as f64).into(),
                        ],
                    )?
                    .to_array()?;
                let fresh = !written.is_empty();
                if fresh {
                    self.schedule_purge(r.expires_at_ms).await?;
                }
                Response::from_json(&json!({"fresh": fresh}))
            }
            // For operators and tests: how many nonces are held.
            (Method::Get, "/stats") => Response::from_json(&json!({
                "count": self.count()?,
                "next_purge_ms": self.state.storage().get_alarm().await?,
            })),
            _ => Response::error("not found", 404),
        }
    }

    async fn alarm(&self) -> Result<Response> {
        let now_ms = worker::Date::now().as_millis();
        self.purge(now_ms)?;
        let next: Vec<serde_json::Value> = self
            .sql()
            .exec("SELECT MIN(expires_at_ms) AS t FROM nonces", None)?
            .to_array()?;
        let next = next
            .first()
            .and_then(|v| v.get("t"))
            .and_then(|t| t.as_f64())
            .map(|t| t as u64 + 1);
        if let Some(t) = next {
            self.state.storage().set_alarm(at(t)).await?;
        }
        self.next_purge_ms.set(Some(next));
        Response::ok("purged")
    }
}

/// Records a nonce for one credential (its `NonceSet` object is named by the
/// credential's hash: the credential itself never leaves the isolate).
/// `Ok(false)`: seen before, a replay.
pub async fn record_once(
    ctx: &crate::app::Ctx,
    credential_hash: &str,
    nonce: &str,
    expires_at_ms: u64,
) -> std::result::Result<bool, edgeauth_core::ApiError> {
    let unavailable = |what: String| {
        worker::console_error!("edgeauth: nonce store failed: {what}");
        edgeauth_core::ApiError::new(edgeauth_core::Reason::StoreUnavailable)
    };
    let ns = ctx
        .env
        .durable_object("NONCES")
        .map_err(|e| unavailable(e.to_string()))?;
    let stub = ns
        .id_from_name(credential_hash)
        .and_then(|id| id.get_stub())
        .map_err(|e| unavailable(e.to_string()))?;
    let mut init = worker::RequestInit::new();
    init.with_method(Method::Post).with_body(Some(
        json!({"nonce": nonce, "expires_at_ms": expires_at_ms})
            .to_string()
            .into(),
    ));
    let req = Request::new_with_init("https://nonces/record", &init)
        .map_err(|e| unavailable(e.to_string()))?;
    let mut resp = stub
        .fetch_with_request(req)
        .await
        .map_err(|e| unavailable(e.to_string()))?;
    if resp.status_code() != 200 {
        return Err(unavailable(format!("status {}", resp.status_code())));
    }
    let v: serde_json::Value = resp.json().await.map_err(|e| unavailable(e.to_string()))?;
    v.get("fresh")
        .and_then(|f| f.as_bool())
        .ok_or_else(|| unavailable("bad answer".into()))
}
