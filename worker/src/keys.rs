//! API key management: create (the key shown once), list, get, revoke.
//! KV holds the record under the key's hash (the hot path); the directory holds
//! ownership, so listing never scans KV.

use edgeauth_core::api_key::ApiKeyRecord;
use edgeauth_core::credential::{api_key_prefix, credential_hash, generate_api_key, ApiKeyEnv};
use edgeauth_core::identity::{CredentialKind, Identity};
use edgeauth_core::input::ApiKeyRequest;
use edgeauth_core::scope::Scope;
use edgeauth_core::{ApiError, Reason};
use serde_json::{json, Value};
use worker::{Request, Response};

use crate::accounts::caller;
use crate::app::Ctx;
use crate::{authn, body, crypto, http, store};

/// Revoked records stay in KV this long, so a revoked key says `api_key_revoked`.
const REVOKED_RETENTION_S: u64 = 90 * 24 * 3600;

fn unavailable(what: impl std::fmt::Display) -> ApiError {
    worker::console_error!("edgeauth: API key store failed: {what}");
    ApiError::new(Reason::StoreUnavailable)
}

/// The caller, if it may manage keys: a user's session, or an API key holding
/// `api_keys:read` (to look) or `api_keys:write` (to change).
async fn manager(req: &Request, ctx: &Ctx, write: bool) -> Result<Identity, ApiError> {
    let (identity, _) = caller(req, ctx).await?;
    let needed = if write {
        "api_keys:write"
    } else {
        "api_keys:read"
    };
    match identity.kind {
        CredentialKind::User => Ok(identity),
        CredentialKind::ApiKey
            if Scope::parse(needed).is_ok_and(|s| identity.scopes.grants(&s)) =>
        {
            Ok(identity)
        }
        _ => Err(ApiError::insufficient_scope(&[needed.to_string()])),
    }
}

pub async fn create(mut req: Request, ctx: &Ctx) -> Result<Response, ApiError> {
    let creator = manager(&req, ctx, true).await?;
    let r: ApiKeyRequest = body::json(&mut req, ctx).await?;
    let new = r.validate(ctx.now_s())?;
    new.check_privilege(&creator)?;

    let random = crypto::random_bytes(128)?;
    let key = generate_api_key(ApiKeyEnv::Live, &random).ok_or_else(|| unavailable("random"))?;
    let id = crypto::new_id("key")?;
    let record = ApiKeyRecord {
        id: id.clone(),
        user_id: creator.subject.clone(),
        name: new.name.clone(),
        prefix: api_key_prefix(&key),
        scopes: new.scopes.to_vec(),
        all_resources: new.resources.is_all(),
        resources: new.resources.list().to_vec(),
        tenants: new
            .tenants
            .iter()
            .filter_map(|t| Some((t.clone(), creator.role_in(t)?)))
            .collect(),
        allowed_ips: new.allowed_ips.to_vec(),
        created_at: ctx.now_s(),
        expires_at: new.expires_at,
        revoked_at: None,
    };
    let hash = credential_hash(&key);
    let kv = ctx.env.kv("API_KEYS").map_err(unavailable)?;
    let text = serde_json::to_string(&record).map_err(unavailable)?;
    kv.put(&hash, text)
        .map_err(unavailable)?
        .execute()
        .await
        .map_err(unavailable)?;
    let owned = store::directory(
        &ctx.env,
        "key_create",
        json!({"id": id, "user_id": record.user_id, "hash": hash, "record": record.public(), "now": ctx.now_s()}),
    )
    .await;
    if let Err(e) = owned {
        // Without an owner the key could never be listed or revoked: take it back.
        let _ = kv.delete(&hash).await;
        return Err(e);
    }
    authn::remember_key(&hash, Some(record.clone()), ctx.now_ms);
    let mut answer = record.public();
    answer["key"] = Value::String(key);
    Ok(http::json(201, &answer))
}

pub async fn list(req: Request, ctx: &Ctx) -> Result<Response, ApiError> {
    let who = manager(&req, ctx, false).await?;
    let v = store::directory(&ctx.env, "key_list", json!({"user_id": who.subject})).await?;
    Ok(http::json(200, &v))
}

pub async fn get(req: Request, ctx: &Ctx, id: &str) -> Result<Response, ApiError> {
    let who = manager(&req, ctx, false).await?;
    let v = store::directory(
        &ctx.env,
        "key_get",
        json!({"user_id": who.subject, "id": id}),
    )
    .await?;
    Ok(http::json(200, &v["record"]))
}

pub async fn revoke(req: Request, ctx: &Ctx, id: &str) -> Result<Response, ApiError> {
    let who = manager(&req, ctx, true).await?;
    // Another user's key is simply not found: ownership is checked before anything changes.
    let owned = store::directory(
        &ctx.env,
        "key_get",
        json!({"user_id": who.subject, "id": id}),
    )
    .await?;
    let hash = owned["hash"].as_str().unwrap_or_default().to_string();
    let kv = ctx.env.kv("API_KEYS").map_err(unavailable)?;
    let text = kv.get(&hash).text().await.map_err(unavailable)?;
    let mut record: Option<ApiKeyRecord> = text.and_then(|t| serde_json::from_str(&t).ok());
    if let Some(r) = record.as_mut() {
        r.revoked_at = Some(ctx.now_s());
        kv.put(&hash, serde_json::to_string(r).map_err(unavailable)?)
            .map_err(unavailable)?
            .expiration_ttl(REVOKED_RETENTION_S)
            .execute()
            .await
            .map_err(unavailable)?;
    }
    store::directory(
        &ctx.env,
        "key_delete",
        json!({"user_id": who.subject, "id": id}),
    )
    .await?;
    authn::remember_key(&hash, record, ctx.now_ms);
    Ok(http::no_content())
}
