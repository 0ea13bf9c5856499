//! Accounts and sessions: register, login, refresh, logout, whoami.

use edgeauth_core::credential::{generate_refresh_token, parse_authorization};
use edgeauth_core::identity::Identity;
use edgeauth_core::input::{LoginRequest, RefreshRequest, RegisterRequest};
use edgeauth_core::password::{PasswordHash, PBKDF2_ITERATIONS, SALT_LEN};
use edgeauth_core::policy::SignaturePolicy;
use edgeauth_core::{ApiError, Reason};
use serde::Deserialize;
use serde_json::{json, Value};
use worker::{Request, Response};

use crate::app::Ctx;
use crate::directory::User;
use crate::gateway::read_body;
use crate::{authn, body, crypto, http, password, signature, store, tokens};

/// A fresh session id and refresh token.
pub fn new_session() -> Result<(String, String), ApiError> {
    let rt = generate_refresh_token(&crypto::random_bytes(128)?)
        .ok_or_else(|| ApiError::new(Reason::StoreUnavailable))?;
    Ok((crypto::new_id("ses")?, rt))
}

fn user_of(v: &Value) -> Result<User, ApiError> {
    v.get("user")
        .cloned()
        .and_then(|u| serde_json::from_value(u).ok())
        .ok_or_else(|| ApiError::new(Reason::StoreUnavailable))
}

/// The bearer credential's identity, for the worker's own endpoints. An API key's
/// `allowed_ips` hold here too (403 `ip_denied`), as on the gateway: a key used from
/// elsewhere may not even say who it is, let alone manage keys.
///
/// No policy asks these endpoints for a signature, but one that is present is checked as
/// anywhere else (SPEC: never ignored): its headers with the credential, its MAC over
/// the body (read from a copy of the request, so the handler can still read it).
pub async fn caller(req: &Request, ctx: &Ctx) -> Result<(Identity, String), ApiError> {
    let header = req.headers().get("authorization").ok().flatten();
    let credential = parse_authorization(header.as_deref())?.to_string();
    let identity = authn::authenticate(ctx, &credential).await?;
    let signed = signature::headers(req.headers(), SignaturePolicy::None, ctx.now_ms)?;
    if !identity.allowed_ips.allows(ctx.client_ip) {
        return Err(ApiError::new(Reason::IpDenied));
    }
    if let Some(signed) = signed {
        let target = signature::request_target(req);
        let mut copy = req
            .clone()
            .map_err(|_| ApiError::new(Reason::StoreUnavailable))?;
        let body = read_body(&mut copy, ctx.settings.max_body_bytes).await?;
        let method = req.method();
        signature::verify(ctx, &signed, &credential, method.as_ref(), &target, &body).await?;
    }
    Ok((identity, credential))
}

pub async fn register(mut req: Request, ctx: &Ctx) -> Result<Response, ApiError> {
    let r: RegisterRequest = body::json(&mut req, ctx).await?;
    let r = r.validate()?;
    let hash = password::hash_new(r.password.expose()).await?;
    let v = store::directory(
        &ctx.env,
        "register",
        json!({
            "id": crypto::new_id("usr")?,
            "email": r.email,
            "name": r.name,
            "password_hash": hash.encode(),
            "scopes": ctx.settings.default_user_scopes.to_space_separated(),
            "tenants": ctx.settings.initial_tenants(&r.email),
            "now": ctx.now_s(),
        }),
    )
    .await?;
    Ok(http::json(201, &v))
}

#[derive(Deserialize)]
struct LoginBegin {
    user: Option<User>,
    password_hash: Option<String>,
}

pub async fn login(mut req: Request, ctx: &Ctx) -> Result<Response, ApiError> {
    let r: LoginRequest = body::json(&mut req, ctx).await?;
    let r = r.validate()?;
    let ip = ctx.client_ip.map(|i| i.to_string()).unwrap_or_default();
    let now = ctx.now_s();
    let begin: LoginBegin = serde_json::from_value(
        store::directory(
            &ctx.env,
            "login_begin",
            json!({"email": r.email, "ip": ip, "now": now}),
        )
        .await?,
    )
    .map_err(|_| ApiError::new(Reason::StoreUnavailable))?;
    let stored = begin.password_hash.as_deref().and_then(PasswordHash::parse);
    let matched = match (begin.user, stored) {
        (Some(user), Some(hash)) => password::verify(r.password.expose(), &hash)
            .await?
            .then_some((user, hash)),
        _ => {
            // The same work for an unknown email, so timing does not tell who is registered.
            password::derive(r.password.expose(), &[0u8; SALT_LEN], PBKDF2_ITERATIONS).await?;
            None
        }
    };
    // `login_begin` already counted this attempt as a failure; `login_ok` takes it back.
    let Some((user, hash)) = matched else {
        return Err(ApiError::new(Reason::InvalidLogin));
    };
    let upgrade = match hash.needs_upgrade() {
        true => Some(password::hash_new(r.password.expose()).await?.encode()),
        false => None,
    };
    let (session_id, refresh_token) = new_session()?;
    let refresh_expires_at = now + ctx.settings.refresh_ttl_s;
    store::directory(
        &ctx.env,
        "login_ok",
        json!({
            "email": r.email, "ip": ip, "user_id": user.id, "session_id": session_id, "refresh_token": refresh_token,
            "refresh_expires_at": refresh_expires_at, "upgrade_password_hash": upgrade, "now": now,
        }),
    )
    .await?;
    let answer =
        tokens::answer(ctx, &user, &session_id, &refresh_token, refresh_expires_at).await?;
    Ok(http::json(200, &answer))
}

pub async fn refresh(mut req: Request, ctx: &Ctx) -> Result<Response, ApiError> {
    let r: RefreshRequest = body::json(&mut req, ctx).await?;
    let secret = r.validate()?;
    let token = secret.expose();
    let v = store::directory(
        &ctx.env,
        "refresh",
        json!({
            "refresh_token": token, "now": ctx.now_s(),
            "grace_s": ctx.settings.refresh_grace_s, "refresh_ttl_s": ctx.settings.refresh_ttl_s,
        }),
    )
    .await?;
    if v.get("reused").and_then(Value::as_bool) == Some(true) {
        // A spent token presented after the grace window: the directory has revoked the
        // session; its access tokens must fail in this isolate at once, not after a recheck.
        if let Some(sid) = v.get("session_id").and_then(Value::as_str) {
            authn::forget_session(sid, ctx.now_ms);
        }
        return Err(ApiError::new(Reason::RefreshTokenReused));
    }
    let user = user_of(&v)?;
    let s = |k: &str| {
        v.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let expires = v
        .get("refresh_expires_at")
        .and_then(Value::as_i64)
        .unwrap_or_default();
    let answer = tokens::answer(ctx, &user, &s("session_id"), &s("refresh_token"), expires).await?;
    Ok(http::json(200, &answer))
}

#[derive(Deserialize)]
struct LogoutBody {
    refresh_token: Option<String>,
}

pub async fn logout(mut req: Request, ctx: &Ctx) -> Result<Response, ApiError> {
    let (identity, _) = caller(&req, ctx).await?;
    let Some(sid) = identity.session_id.clone() else {
        return Err(ApiError::with_message(
            Reason::InvalidField,
            "authorization: logout needs a session's access token (revoke API keys with DELETE /v1/api-keys/{id})",
        ));
    };
    let extra: Option<LogoutBody> = body::optional_json(&mut req, ctx).await?;
    let v = store::directory(
        &ctx.env,
        "logout",
        json!({
            "session_id": sid, "user_id": identity.subject, "now": ctx.now_s(),
            "refresh_token": extra.and_then(|b| b.refresh_token),
        }),
    )
    .await?;
    // Every session that ended (this one, and the one a refresh token sent along named)
    // is refused in this isolate at once.
    authn::forget_session(&sid, ctx.now_ms);
    for ended in v
        .get("ended_sessions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        authn::forget_session(ended, ctx.now_ms);
    }
    Ok(http::no_content())
}

pub async fn whoami(req: Request, ctx: &Ctx) -> Result<Response, ApiError> {
    let (identity, _) = caller(&req, ctx).await?;
    Ok(http::json(200, &identity.whoami()))
}
