//! Calls into the `Directory` Durable Object. A failure to reach it is `store_unavailable`:
//! the worker refuses rather than guess.

use edgeauth_core::{ApiError, Reason};
use serde_json::Value;
use worker::{Env, Method, Request, RequestInit};

fn unavailable(what: impl std::fmt::Display) -> ApiError {
    worker::console_error!("edgeauth: directory unavailable: {what}");
    ApiError::new(Reason::StoreUnavailable)
}

/// Runs one directory command; refusals come back as the `ApiError` they name.
pub async fn directory(env: &Env, op: &str, args: Value) -> Result<Value, ApiError> {
    let ns = env.durable_object("DIRECTORY").map_err(unavailable)?;
    let stub = ns.get_by_name("directory").map_err(unavailable)?;
    let mut init = RequestInit::new();
    init.with_method(Method::Post)
        .with_body(Some(args.to_string().into()));
    let req =
        Request::new_with_init(&format!("https://directory/{op}"), &init).map_err(unavailable)?;
    let mut resp = stub.fetch_with_request(req).await.map_err(unavailable)?;
    let status = resp.status_code();
    let body: Value = resp.json().await.map_err(unavailable)?;
    if status == 200 {
        return Ok(body);
    }
    let reason = body
        .pointer("/error/reason")
        .and_then(Value::as_str)
        .and_then(Reason::parse)
        .ok_or_else(|| unavailable(format!("status {status}")))?;
    let mut e = match body.pointer("/error/message").and_then(Value::as_str) {
        Some(m) => ApiError::with_message(reason, m),
        None => ApiError::new(reason),
    };
    e.retry_after_s = body.pointer("/error/retry_after").and_then(Value::as_u64);
    Err(e)
}
