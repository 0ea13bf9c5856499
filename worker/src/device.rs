//! Device login (RFC 8628) for the CLI and other headless clients.

use edgeauth_core::credential::{credential_hash, generate_refresh_token};
use edgeauth_core::device::{
    generate_user_code, normalize_user_code, DEVICE_CODE_TTL_S, POLL_INTERVAL_S,
};
use edgeauth_core::identity::CredentialKind;
use edgeauth_core::{ApiError, Reason};
use serde::Deserialize;
use serde_json::json;
use worker::{Request, Response};

use crate::accounts::{caller, new_session};
use crate::app::Ctx;
use crate::directory::User;
use crate::{body, crypto, http, store, tokens};

#[derive(Deserialize)]
struct CodeRequest {
    client_name: Option<String>,
}

#[derive(Deserialize)]
struct TokenRequest {
    device_code: String,
}

#[derive(Deserialize)]
struct ApproveRequest {
    user_code: String,
    approve: bool,
}

fn unavailable() -> ApiError {
    ApiError::new(Reason::StoreUnavailable)
}

pub async fn code(mut req: Request, ctx: &Ctx) -> Result<Response, ApiError> {
    let r: Option<CodeRequest> = body::optional_json(&mut req, ctx).await?;
    let client_name = r
        .and_then(|r| r.client_name)
        .map(|n| n.trim().chars().take(200).collect::<String>())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "an unnamed device".to_string());
    let random = crypto::random_bytes(192)?;
    // The device code is a secret like a refresh token: only its hash is stored.
    let device_code = generate_refresh_token(&random[..128])
        .map(|t| t.replacen("ea_rt_", "ea_dc_", 1))
        .ok_or_else(unavailable)?;
    let user_code = generate_user_code(&random[128..]).ok_or_else(unavailable)?;
    let now = ctx.now_s();
    store::directory(
        &ctx.env,
        "device_create",
        json!({
            "code_hash": credential_hash(&device_code), "user_code": user_code, "client_name": client_name,
            "expires_at": now + DEVICE_CODE_TTL_S, "interval_s": POLL_INTERVAL_S, "now": now,
        }),
    )
    .await?;
    let url = req.url().map_err(|_| unavailable())?;
    let verification_uri = format!("{}/console/device", url.origin().ascii_serialization());
    Ok(http::json(
        200,
        &json!({
            "device_code": device_code,
            "user_code": user_code,
            "verification_uri": verification_uri,
            "verification_uri_complete": format!("{verification_uri}?user_code={user_code}"),
            "expires_in": DEVICE_CODE_TTL_S,
            "interval": POLL_INTERVAL_S,
        }),
    ))
}

pub async fn token(mut req: Request, ctx: &Ctx) -> Result<Response, ApiError> {
    let r: TokenRequest = body::json(&mut req, ctx).await?;
    let (session_id, refresh_token) = new_session()?;
    let refresh_expires_at = ctx.now_s() + ctx.settings.refresh_ttl_s;
    let v = store::directory(
        &ctx.env,
        "device_poll",
        json!({
            "code_hash": credential_hash(&r.device_code), "now": ctx.now_s(), "session_id": session_id,
            "refresh_token": refresh_token, "refresh_expires_at": refresh_expires_at,
        }),
    )
    .await?;
    let user: User = serde_json::from_value(v["user"].clone()).map_err(|_| unavailable())?;
    let answer =
        tokens::answer(ctx, &user, &session_id, &refresh_token, refresh_expires_at).await?;
    Ok(http::json(200, &answer))
}

fn user_code_field(raw: &str) -> Result<String, ApiError> {
    normalize_user_code(raw)
        .ok_or_else(|| ApiError::invalid_field("user_code", "must be 8 letters like BCDF-GHJK"))
}

pub async fn approve(mut req: Request, ctx: &Ctx) -> Result<Response, ApiError> {
    let (who, _) = caller(&req, ctx).await?;
    if who.kind != CredentialKind::User {
        return Err(ApiError::with_message(
            Reason::InsufficientScope,
            "approving a device needs a signed-in user",
        ));
    }
    let r: ApproveRequest = body::json(&mut req, ctx).await?;
    let user_code = user_code_field(&r.user_code)?;
    store::directory(
        &ctx.env,
        "device_decide",
        json!({"user_code": user_code, "user_id": who.subject, "approve": r.approve, "now": ctx.now_s()}),
    )
    .await?;
    Ok(http::no_content())
}

/// For the console's device page: the requesting client's name, to show before approving.
pub async fn lookup(req: Request, ctx: &Ctx) -> Result<Response, ApiError> {
    let (who, _) = caller(&req, ctx).await?;
    if who.kind != CredentialKind::User {
        return Err(ApiError::with_message(
            Reason::InsufficientScope,
            "this needs a signed-in user",
        ));
    }
    let url = req.url().map_err(|_| unavailable())?;
    let raw = url
        .query_pairs()
        .find(|(k, _)| k == "user_code")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    let user_code = user_code_field(&raw)?;
    let v = store::directory(
        &ctx.env,
        "device_lookup",
        json!({"user_code": user_code, "now": ctx.now_s()}),
    )
    .await?;
    Ok(http::json(
        200,
        &json!({"user_code": user_code, "client_name": v["client_name"]}),
    ))
}
