//! Request bodies: read as a stream and refused (413) as soon as they pass
//! their limit, so that an endless or huge chunked upload never sits in an
//! isolate's memory; then parsed as JSON for the worker's own endpoints.

use edgeauth_core::input::parse_json;
use edgeauth_core::{ApiError, Reason};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;
use worker::Request;

/// Bodies of refused requests are read and dropped up to this size before the answer
/// goes: workerd closes the connection on unread bytes, and a client still sending gets
/// a reset instead of the answer. Past this, the reset is the client's answer.
pub const DRAIN_MAX_BYTES: u64 = 1 << 20;

fn too_large(limit: u64) -> ApiError {
    ApiError::with_message(
        Reason::PayloadTooLarge,
        format!("the body is over {limit} bytes"),
    )
}

/// Reads the body, refusing more than `limit` bytes: by `Content-Length`
/// before reading anything, and while streaming for bodies that declare none
/// (chunked) or declare less than they send.
pub async fn read(req: &mut Request, limit: u64) -> Result<Vec<u8>, ApiError> {
    let declared = req
        .headers()
        .get("content-length")
        .ok()
        .flatten()
        .and_then(|n| n.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(too_large(limit));
    }
    let method = req.inner().method();
    if matches!(method.as_str(), "GET" | "HEAD") || req.inner().body().is_none() {
        return Ok(Vec::new());
    }
    let unreadable = |_| ApiError::with_message(Reason::InvalidField, "body: could not be read");
    let mut stream = req.stream().map_err(unreadable)?;
    let mut body = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(unreadable)?;
        if (body.len() + chunk.len()) as u64 > limit {
            // Nothing more is kept; what follows is read and dropped so the 413 can be
            // delivered, up to `DRAIN_MAX_BYTES`.
            let mut seen = (body.len() + chunk.len()) as u64;
            drop(body);
            while seen <= DRAIN_MAX_BYTES {
                match stream.next().await {
                    Some(Ok(c)) => seen += c.len() as u64,
                    _ => break,
                }
            }
            return Err(too_large(limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The body as `T` (400 naming the field, or 415 for another media type).
pub fn json<T: DeserializeOwned>(req: &Request, body: &[u8]) -> Result<T, ApiError> {
    let content_type = req.headers().get("content-type").ok().flatten();
    parse_json(content_type.as_deref(), body)
}

/// Like [`json`], but an absent (empty) body is `None`.
pub fn optional_json<T: DeserializeOwned>(
    req: &Request,
    body: &[u8],
) -> Result<Option<T>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    json(req, body).map(Some)
}
