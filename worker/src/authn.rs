//! Authentication: a presented credential becomes an `Identity`, or the reason it does not.
//! Verified tokens and API key records are cached per isolate; revocation is checked on top.

use std::cell::RefCell;

use edgeauth_core::api_key::ApiKeyRecord;
use edgeauth_core::claims::identity_from_token;
use edgeauth_core::credential::{credential_hash, CredentialForm};
use edgeauth_core::identity::Identity;
use edgeauth_core::jwt::{self, Es256Keys, IssuerRef, LEEWAY_S};
use edgeauth_core::{ApiError, Reason};
use web_sys::CryptoKey;

use crate::app::Ctx;
use crate::cache::Generations;
use crate::{crypto, isolate, jwks, store};

/// How long an isolate trusts a session's "not revoked" before asking the directory
/// again: the global bound on revocation (SPEC asks for at most 60 s).
pub const SESSION_RECHECK_MS: u64 = 30_000;
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
    static SESSIONS: RefCell<Generations<Cached<bool>>> = RefCell::new(Generations::new(CACHE_HALF));
    static API_KEYS: RefCell<Generations<Cached<Option<ApiKeyRecord>>>> =
        RefCell::new(Generations::new(CACHE_HALF));
}

/// Authenticates a bearer credential.
pub async fn authenticate(ctx: &Ctx, credential: &str) -> Result<Identity, ApiError> {
    match CredentialForm::classify(credential)? {
        CredentialForm::Jwt => token(ctx, credential).await,
        CredentialForm::ApiKey(_) => api_key(ctx, credential).await,
    }
}

async fn token(ctx: &Ctx, raw: &str) -> Result<Identity, ApiError> {
    let now = ctx.now_s();
    let cached = TOKENS.with(|c| c.borrow_mut().get(raw));
    let identity = match cached {
        Some(id) if id.expires_at.is_some_and(|e| now <= e + LEEWAY_S) => id,
        _ => {
            let keys = WorkerKeys {
                ctx,
                own: isolate::own_keys(&ctx.env).await?,
            };
            let verified = jwt::verify(raw, &ctx.settings.trust, &keys, now).await?;
            let id = identity_from_token(&verified);
            TOKENS.with(|c| c.borrow_mut().insert(raw.to_string(), id.clone()));
            id
        }
    };
    if let Some(sid) = &identity.session_id {
        check_session(ctx, sid).await?;
    }
    Ok(identity)
}

/// Refuses tokens of a revoked session: at once in this isolate, within
/// `SESSION_RECHECK_MS` everywhere.
async fn check_session(ctx: &Ctx, sid: &str) -> Result<(), ApiError> {
    let known = SESSIONS.with(|c| {
        c.borrow_mut()
            .get(sid)
            .filter(|s| !s.value || ctx.now_ms.saturating_sub(s.at_ms) < SESSION_RECHECK_MS)
            .map(|s| s.value)
    });
    let active = match known {
        Some(a) => a,
        None => {
            let v = store::directory(
                &ctx.env,
                "session_status",
                serde_json::json!({"session_id": sid}),
            )
            .await?;
            let active = v.get("active").and_then(|a| a.as_bool()).unwrap_or(false);
            SESSIONS.with(|c| {
                c.borrow_mut().insert(
                    sid.to_string(),
                    Cached {
                        value: active,
                        at_ms: ctx.now_ms,
                    },
                )
            });
            active
        }
    };
    if active {
        Ok(())
    } else {
        Err(ApiError::new(Reason::SessionRevoked))
    }
}

/// Called by the isolate that revoked a session, so its tokens fail here at once.
pub fn forget_session(sid: &str, now_ms: u64) {
    SESSIONS.with(|c| {
        c.borrow_mut().insert(
            sid.to_string(),
            Cached {
                value: false,
                at_ms: now_ms,
            },
        )
    });
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
            let mut r = read_key_record(ctx, &hash).await?;
            // KV is eventually consistent (a revocation may take up to a minute to reach
            // every location), so whether the key still exists is asked of the directory,
            // which is not. With this cache, a revocation holds everywhere within
            // `API_KEY_CACHE_MS`.
            if let Some(rec) = r.as_mut().filter(|rec| rec.revoked_at.is_none()) {
                let v = store::directory(&ctx.env, "key_status", serde_json::json!({"id": rec.id}))
                    .await?;
                if v.get("active").and_then(|a| a.as_bool()) != Some(true) {
                    rec.revoked_at = Some(ctx.now_s());
                }
            }
            API_KEYS.with(|c| {
                c.borrow_mut().insert(
                    hash.clone(),
                    Cached {
                        value: r.clone(),
                        at_ms: ctx.now_ms,
                    },
                )
            });
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
                Some(url) => jwks::key(url, kid, self.ctx.now_ms).await,
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
