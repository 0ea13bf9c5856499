//! The `NonceSet` Durable Object: the nonces one credential has used, each kept until the
//! signing window would refuse it anyway, then removed by an alarm.

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
        NonceSet { state }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let now_ms = worker::Date::now().as_millis();
        match (req.method(), req.path().as_str()) {
            (Method::Post, "/record") => {
                let r: Record = req.json().await?;
                // No await between the check and the insert: the object's input gate makes
                // this check-and-set atomic, so of concurrent requests exactly one wins.
                let seen: Vec<Row> = self
                    .sql()
                    .exec(
                        "SELECT COUNT(*) AS n FROM nonces WHERE nonce = ? AND expires_at_ms > ?",
                        vec![r.nonce.clone().into(), (now_ms as f64).into()],
                    )?
                    .to_array()?;
                let fresh = seen.first().map(|row| row.n == 0).unwrap_or(true);
                if fresh {
                    self.sql().exec(
                        "INSERT OR REPLACE INTO nonces (nonce, expires_at_ms) VALUES (?, ?)",
                        vec![r.nonce.into(), (r.expires_at_ms as f64).into()],
                    )?;
                    let storage = self.state.storage();
                    let next = storage.get_alarm().await?;
                    if next.is_none_or(|t| t as u64 > r.expires_at_ms) {
                        storage.set_alarm(at(r.expires_at_ms)).await?;
                    }
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
        if let Some(t) = next
            .first()
            .and_then(|v| v.get("t"))
            .and_then(|t| t.as_f64())
        {
            self.state.storage().set_alarm(at(t as u64 + 1)).await?;
        }
        Response::ok("purged")
    }
}
