//! Building answers: SPEC's error body, JSON, and the headers every answer carries.

use edgeauth_core::cors::AllowedOrigins;
use edgeauth_core::time::imf_fixdate;
use edgeauth_core::ApiError;
use serde::Serialize;
use worker::{Headers, Response, ResponseBuilder};

/// An answer in SPEC's error shape with the headers its reason needs.
pub fn error(e: &ApiError) -> Response {
    let headers = Headers::new();
    let _ = headers.set("content-type", "application/json");
    let _ = headers.set("cache-control", "no-store");
    for (k, v) in e.headers() {
        let _ = headers.set(k, &v);
    }
    ResponseBuilder::new()
        .with_status(e.status())
        .with_headers(headers)
        .fixed(e.body_json().into_bytes())
}

/// A JSON answer. Answers about credentials are never cached.
pub fn json<T: Serialize>(status: u16, value: &T) -> Response {
    let headers = Headers::new();
    let _ = headers.set("content-type", "application/json");
    let _ = headers.set("cache-control", "no-store");
    let body = serde_json::to_vec(value).unwrap_or_default();
    ResponseBuilder::new()
        .with_status(status)
        .with_headers(headers)
        .fixed(body)
}

/// A JSON answer whose bytes are already serialized.
pub fn json_bytes(status: u16, body: Vec<u8>) -> Response {
    let headers = Headers::new();
    let _ = headers.set("content-type", "application/json");
    ResponseBuilder::new()
        .with_status(status)
        .with_headers(headers)
        .fixed(body)
}

/// An empty answer (204).
pub fn no_content() -> Response {
    let headers = Headers::new();
    let _ = headers.set("cache-control", "no-store");
    ResponseBuilder::new()
        .with_status(204)
        .with_headers(headers)
        .empty()
}

/// Adds `Date` and the CORS headers to any answer, including ones relayed from the
/// origin (whose headers are immutable, so they are copied).
pub fn finish(resp: Response, now_s: i64, cors: &AllowedOrigins, origin: Option<&str>) -> Response {
    let status = resp.status_code();
    // One copy made by the runtime, not a crossing per header.
    let headers = match web_sys::Headers::new_with_headers(&resp.headers().0) {
        Ok(h) => Headers(h),
        Err(_) => {
            let h = Headers::new();
            for (k, v) in resp.headers().entries() {
                let _ = h.append(&k, &v);
            }
            h
        }
    };
    let _ = headers.set("date", &imf_fixdate(now_s));
    for (k, v) in cors.response_headers(origin) {
        if k == "Vary" {
            let _ = headers.append(k, &v);
        } else {
            let _ = headers.set(k, &v);
        }
    }
    let (_, body) = resp.into_parts();
    ResponseBuilder::new()
        .with_status(status)
        .with_headers(headers)
        .body(body)
}
