//! Reading JSON bodies of the worker's own endpoints: size first (413), then shape (400).

use edgeauth_core::input::parse_json;
use edgeauth_core::ApiError;
use serde::de::DeserializeOwned;
use worker::Request;

use crate::app::Ctx;
use crate::gateway::read_body;

/// The body as `T`, within `MAX_BODY_BYTES`.
pub async fn json<T: DeserializeOwned>(req: &mut Request, ctx: &Ctx) -> Result<T, ApiError> {
    let bytes = read_body(req, ctx.settings.max_body_bytes).await?;
    let content_type = req.headers().get("content-type").ok().flatten();
    parse_json(content_type.as_deref(), &bytes)
}

/// Like [`json`], but an absent (empty) body is `None`.
pub async fn optional_json<T: DeserializeOwned>(
    req: &mut Request,
    ctx: &Ctx,
) -> Result<Option<T>, ApiError> {
    let bytes = read_body(req, ctx.settings.max_body_bytes).await?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let content_type = req.headers().get("content-type").ok().flatten();
    parse_json(content_type.as_deref(), &bytes).map(Some)
}
