//! Authentication: a presented credential becomes an `Identity`, or the reason it does not.
//! Verified tokens and API key records are cached per isolate; whether a credential still
//! stands is asked separately (`standing`), as the gate needs it.

use std::cell::RefCell;

use edgeauth_core::api_key::ApiKeyRecord;
use edgeauth_core::claims::identity_from_token;
use edgeauth_core::credential::{credential_hash, CredentialForm};
use edgeauth_core::identity::Identity;
use edgeauth_core::jwt::{self, Es256Keys, IssuerRef};
use edgeauth_core::{ApiError, Reason};
use web_sys::CryptoKey;

use crate::app::Ctx;
use crate::cache::Generations;
use crate::{crypto, isolate, jwks};

/// How long an isolate keeps an API key record before reading KV again.
pub const API_KEY_CACHE_MS: u64 = 30_000;
/// Each cache holds at most twice this many entries.
const CACHE_HALF: usize = 5_000;

#[derive(Clone)]
struct Cached<T> {
    value: T,
    at_ms: u64,
}

thread_local! {
    static TOKENS: RefCell<Generations<Identity>> = RefCell::new(Generations::new(CACHE_HALF));
    static API_KEYS: RefCell<Generations<Cached<Option<ApiKeyRecord>>>> =
        RefCell::new(Generations::new(CACHE_HALF));
}

/// The identity behind a bearer credential: its format, signature, issuer,
/// audience and expiry checked (a key record's own revocation and expiry
/// too). Whether it still stands, and what its holder may do now, is the
/// gate's next question (`standing`).
pub async fn authenticate(ctx: &Ctx, credential: &str) -> Result<Identity, ApiError> {
    match CredentialForm::classify(credential)? {
        CredentialForm::Jwt => token(ctx, credential).await,
        CredentialForm::ApiKey(_) => api_key(ctx, credential).await,
    }
}

async fn token(ctx: &Ctx, raw: &str) -> Result<Identity, ApiError> {
    let now = ctx.now_s();
    let cached = TOKENS.with(|c| c.borrow_mut().get(raw));
    if let Some(id) = cached.filter(|id| id.expires_at.is_some_and(|e| !jwt::expired(e, now))) {
        return Ok(id);
    }
    let keys = WorkerKeys {
        ctx,
        own: isolate::own_keys(&ctx.env).await?,
    };
    let verified = jwt::verify(raw, &ctx.settings.trust, &keys, now).await?;
    let id = identity_from_token(&verified);
    TOKENS.with(|c| c.borrow_mut().insert(raw.to_string(), id.clone()));
    Ok(id)
}

async fn api_key(ctx: &Ctx, key: &str) -> Result<Identity, ApiError> {
    let hash = credential_hash(key);
    let cached = API_KEYS.with(|c| {
        c.borrow_mut()
            .get(&hash)
            .filter(|e| ctx.now_ms.saturating_sub(e.at_ms) < API_KEY_CACHE_MS)
            .map(|e| e.value.clone())
    });
    let record = match cached {
        Some(r) => r,
        None => {
            let r = read_key_record(ctx, &hash).await?;
            remember_key(&hash, r.clone(), ctx.now_ms);
            r
        }
    };
    let record = record.ok_or_else(|| ApiError::new(Reason::ApiKeyUnknown))?;
    record.check_usable(ctx.now_s())?;
    Ok(record.identity())
}

async fn read_key_record(ctx: &Ctx, hash: &str) -> Result<Option<ApiKeyRecord>, ApiError> {
    let unavailable = |e: String| {
        worker::console_error!("edgeauth: API key store failed: {e}");
        ApiError::new(Reason::StoreUnavailable)
    };
    let kv = ctx
        .env
        .kv("API_KEYS")
        .map_err(|e| unavailable(e.to_string()))?;
    let text = kv
        .get(hash)
        .text()
        .await
        .map_err(|e| unavailable(e.to_string()))?;
    match text {
        None => Ok(None),
        Some(t) => serde_json::from_str(&t)
            .map(Some)
            .map_err(|e| unavailable(e.to_string())),
    }
}

/// Puts a record in this isolate's cache (after create or revoke), so this isolate sees
/// the change at once.
pub fn remember_key(hash: &str, record: Option<ApiKeyRecord>, now_ms: u64) {
    API_KEYS.with(|c| {
        c.borrow_mut().insert(
            hash.to_string(),
            Cached {
                value: record,
                at_ms: now_ms,
            },
        )
    });
}

struct WorkerKeys<'a> {
    ctx: &'a Ctx,
    own: std::rc::Rc<isolate::OwnKeys>,
}

impl Es256Keys for WorkerKeys<'_> {
    type Key = CryptoKey;

    async fn key(&self, issuer: IssuerRef<'_>, kid: &str) -> Result<Option<CryptoKey>, ApiError> {
        match issuer {
            IssuerRef::Own(_) => Ok(self.own.verify.get(kid).cloned()),
            IssuerRef::External(e) => match &e.jwks_url {
                Some(url) => {
                    jwks::key(url, kid, self.ctx.now_ms, self.ctx.settings.environment).await
                }
                None => Ok(None),
            },
        }
    }

    async fn verify(&self, key: &CryptoKey, input: &[u8], sig: &[u8]) -> Result<bool, ApiError> {
        crypto::es256_verify(key, input, sig).await.map_err(|e| {
            worker::console_error!("edgeauth: WebCrypto verify failed: {}", e.0);
            ApiError::new(Reason::StoreUnavailable)
        })
    }
}
