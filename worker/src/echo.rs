//! The built-in echo origin of local development: answers with what it received.

use serde_json::{json, Map, Value};
use worker::Response;

use crate::http;

/// SPEC's echo answer: `{method, path, query, headers, body}`.
pub fn answer(
    method: &str,
    path: &str,
    query: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> Response {
    let mut h = Map::new();
    for (k, v) in headers {
        h.insert(k.to_ascii_lowercase(), Value::String(v.clone()));
    }
    http::json(
        200,
        &json!({
            "method": method,
            "path": path,
            "query": query,
            "headers": h,
            "body": String::from_utf8_lossy(body),
        }),
    )
}
