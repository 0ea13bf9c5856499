//! API key management: create (the key shown once), list, get, revoke.
//! KV holds the record under the key's hash (the hot path); the Directory
//! holds ownership, so listing never scans KV.

use edgeauth_core::api_key::ApiKeyRecord;
use edgeauth_core::credential::{api_key_prefix, credential_hash, generate_api_key, ApiKeyEnv};
use edgeauth_core::directory::keys::{KeyCommand, KeyOutcome};
use edgeauth_core::directory::records::KeyOwnership;
use edgeauth_core::directory::{unexpected, Command, Outcome};
use edgeauth_core::gate::Passed;
use edgeauth_core::input::ApiKeyRequest;
use edgeauth_core::{ApiError, Reason};
use serde_json::Value;
use worker::{Request, Response};

use crate::app::Ctx;
use crate::routes::principal;
use crate::{authn, body, crypto, http, standing, store};

/// Revoked records stay in KV this long, so a revoked key says `api_key_revoked`.
const REVOKED_RETENTION_S: u64 = 90 * 24 * 3600;

fn unavailable(what: impl std::fmt::Display) -> ApiError {
    worker::console_error!("edgeauth: API key store failed: {what}");
    ApiError::new(Reason::StoreUnavailable)
}

pub async fn create(req: &Request, passed: &Passed<'_>, ctx: &Ctx) -> Result<Response, ApiError> {
    let creator = principal(passed)?;
    let r: ApiKeyRequest = body::json(req, &passed.body)?;
    let new = r.validate(ctx.now_s())?;
    new.check_privilege(creator)?;

    let random = crypto::random_bytes(128)?;
    let key = generate_api_key(ApiKeyEnv::Live, &random).ok_or_else(|| unavailable("random"))?;
    let record = ApiKeyRecord {
        id: crypto::new_id("key")?,
        user_id: creator.identity().subject.clone(),
        name: new.name.clone(),
        prefix: api_key_prefix(&key),
        scopes: new.scopes.to_vec(),
        all_resources: new.resources.is_all(),
        resources: new.resources.list().to_vec(),
        tenants: new.tenants.clone(),
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
    let owned = Command::Key(KeyCommand::Create {
        key: KeyOwnership {
            id: record.id.clone(),
            user_id: record.user_id.clone(),
            hash: hash.clone(),
            record: record.public(),
            created_at: record.created_at,
        },
    });
    if let Err(e) = store::directory(&ctx.env, owned).await {
        // Without an owner the key could never be listed or revoked: take it back.
        let _ = kv.delete(&hash).await;
        return Err(e);
    }
    authn::remember_key(&hash, Some(record.clone()), ctx.now_ms);
    let mut answer = record.public();
    answer["key"] = Value::String(key);
    Ok(http::json(201, &answer))
}

pub async fn list(passed: &Passed<'_>, ctx: &Ctx) -> Result<Response, ApiError> {
    let user_id = principal(passed)?.identity().subject.clone();
    match store::directory(&ctx.env, Command::Key(KeyCommand::List { user_id })).await? {
        Outcome::Key(KeyOutcome::Listed { keys }) => {
            Ok(http::json(200, &serde_json::json!({ "keys": keys })))
        }
        _ => Err(unexpected()),
    }
}

/// One of the caller's keys; another user's is simply not found.
async fn owned(
    passed: &Passed<'_>,
    ctx: &Ctx,
    id: &str,
    delete: bool,
) -> Result<KeyOwnership, ApiError> {
    let user_id = principal(passed)?.identity().subject.clone();
    let id = id.to_string();
    let command = match delete {
        true => KeyCommand::Delete { user_id, id },
        false => KeyCommand::Get { user_id, id },
    };
    match store::directory(&ctx.env, Command::Key(command)).await? {
        Outcome::Key(KeyOutcome::Found { key }) => Ok(key),
        _ => Err(unexpected()),
    }
}

pub async fn get(passed: &Passed<'_>, ctx: &Ctx, id: &str) -> Result<Response, ApiError> {
    Ok(http::json(
        200,
        &owned(passed, ctx, id, false).await?.record,
    ))
}

pub async fn revoke(passed: &Passed<'_>, ctx: &Ctx, id: &str) -> Result<Response, ApiError> {
    // Ownership is checked before anything changes.
    let key = owned(passed, ctx, id, false).await?;
    let kv = ctx.env.kv("API_KEYS").map_err(unavailable)?;
    let text = kv.get(&key.hash).text().await.map_err(unavailable)?;
    let mut record: Option<ApiKeyRecord> = text.and_then(|t| serde_json::from_str(&t).ok());
    if let Some(r) = record.as_mut() {
        r.revoked_at = Some(ctx.now_s());
        kv.put(&key.hash, serde_json::to_string(r).map_err(unavailable)?)
            .map_err(unavailable)?
            .expiration_ttl(REVOKED_RETENTION_S)
            .execute()
            .await
            .map_err(unavailable)?;
    }
    owned(passed, ctx, id, true).await?;
    authn::remember_key(&key.hash, record, ctx.now_ms);
    standing::key_revoked(&key.id, ctx.now_ms);
    Ok(http::no_content())
}
