//! Request signatures at the gateway: core decides, the `NonceSet` Durable Object remembers.

use edgeauth_core::credential::credential_hash;
use edgeauth_core::policy::SignaturePolicy;
use edgeauth_core::signing::{verify_signed_request, NonceStore, SignatureHeaders};
use edgeauth_core::{ApiError, Reason};
use serde_json::json;
use worker::{Headers, Method, Request, RequestInit};

use crate::app::Ctx;

/// Checks the `x-cli-*` headers under the route's signature policy.
pub async fn check(
    ctx: &Ctx,
    headers: &Headers,
    policy: SignaturePolicy,
    credential: &str,
    method: &str,
    target: &str,
    body: &[u8],
) -> Result<(), ApiError> {
    let get = |name: &str| headers.get(name).ok().flatten();
    let (sig, ts, nonce) = (
        get("x-cli-signature"),
        get("x-cli-timestamp"),
        get("x-cli-nonce"),
    );
    let parsed = SignatureHeaders::from_request(sig.as_deref(), ts.as_deref(), nonce.as_deref())?;
    match parsed {
        // A signature that is present is always checked, whatever the policy.
        Some(h) => {
            let mut store = DurableNonces {
                ctx,
                credential_hash: credential_hash(credential),
            };
            verify_signed_request(&h, credential, method, target, body, ctx.now_ms, &mut store)
                .await
        }
        None if policy == SignaturePolicy::Required => Err(ApiError::new(Reason::SignatureMissing)),
        None => {
            if policy == SignaturePolicy::Optional {
                worker::console_log!(
                    "{}",
                    json!({"event": "unsigned_request", "method": method, "path": target.split('?').next().unwrap_or("")})
                );
            }
            Ok(())
        }
    }
}

/// One `NonceSet` object per credential (by its hash: the credential itself never leaves).
struct DurableNonces<'a> {
    ctx: &'a Ctx,
    credential_hash: String,
}

impl NonceStore for DurableNonces<'_> {
    async fn record_once(&mut self, nonce: &str, expires_at_ms: u64) -> Result<bool, ApiError> {
        let unavailable = |what: &str| {
            worker::console_error!("edgeauth: nonce store failed: {what}");
            ApiError::new(Reason::StoreUnavailable)
        };
        let ns = self
            .ctx
            .env
            .durable_object("NONCES")
            .map_err(|e| unavailable(&e.to_string()))?;
        let stub = ns
            .id_from_name(&self.credential_hash)
            .and_then(|id| id.get_stub())
            .map_err(|e| unavailable(&e.to_string()))?;
        let mut init = RequestInit::new();
        init.with_method(Method::Post).with_body(Some(
            json!({"nonce": nonce, "expires_at_ms": expires_at_ms})
                .to_string()
                .into(),
        ));
        let req = Request::new_with_init("https://nonces/record", &init)
            .map_err(|e| unavailable(&e.to_string()))?;
        let mut resp = stub
            .fetch_with_request(req)
            .await
            .map_err(|e| unavailable(&e.to_string()))?;
        if resp.status_code() != 200 {
            return Err(unavailable(&format!("status {}", resp.status_code())));
        }
        let v: serde_json::Value = resp.json().await.map_err(|e| unavailable(&e.to_string()))?;
        v.get("fresh")
            .and_then(|f| f.as_bool())
            .ok_or_else(|| unavailable("bad answer"))
    }
}
