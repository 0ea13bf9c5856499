//! Request signatures (at the gateway, and on the worker's own endpoints when present):
//! core decides, the `NonceSet` Durable Object remembers.

use edgeauth_core::credential::credential_hash;
use edgeauth_core::policy::SignaturePolicy;
use edgeauth_core::signing::{
    check_window, verify_signed_request, NonceStore, SignatureHeaders, NONCE_HEADER,
    SIGNATURE_HEADER, TIMESTAMP_HEADER,
};
use edgeauth_core::{ApiError, Reason};
use serde_json::json;
use worker::{Headers, Method, Request, RequestInit};

use crate::app::Ctx;

/// The request target a signature covers: the pathname, plus `?query` when there is one,
/// exactly as the runtime serialized the URL (taken from the string: no reparse per request).
pub fn request_target(req: &Request) -> String {
    let url = req.inner().url();
    let (_, query) = split_query(&url);
    match query {
        Some(q) => format!("{}?{q}", req.path()),
        None => req.path(),
    }
}

/// The query of a serialized URL (without `?` and any fragment), if it has one.
pub fn split_query(url: &str) -> (&str, Option<&str>) {
    let url = url.split('#').next().unwrap_or(url);
    match url.split_once('?') {
        Some((before, q)) => (before, Some(q)),
        None => (url, None),
    }
}

/// Reads the `x-cli-*` headers under the route's signature policy, before the body is
/// read: malformed headers, a missing signature where one is required and a timestamp
/// out of the window are refused without reading (or waiting for) the body. `None`: an
/// unsigned request the policy lets through.
pub fn headers(
    headers: &Headers,
    policy: SignaturePolicy,
    now_ms: u64,
) -> Result<Option<SignatureHeaders>, ApiError> {
    let get = |name: &str| headers.get(name).ok().flatten();
    let (sig, ts, nonce) = (
        get(SIGNATURE_HEADER),
        get(TIMESTAMP_HEADER),
        get(NONCE_HEADER),
    );
    let parsed = SignatureHeaders::from_request(sig.as_deref(), ts.as_deref(), nonce.as_deref())?;
    match parsed {
        // A signature that is present is always checked, whatever the policy.
        Some(h) => {
            check_window(h.timestamp_ms(), now_ms)?;
            Ok(Some(h))
        }
        None if policy == SignaturePolicy::Required => Err(ApiError::new(Reason::SignatureMissing)),
        None => Ok(None),
    }
}

/// Logs an unsigned request that a `signature: optional` route let through.
pub fn log_unsigned(method: &str, target: &str) {
    // The path only: a query may hold a `?token=` credential.
    worker::console_log!(
        "{}",
        json!({"event": "unsigned_request", "method": method, "path": target.split('?').next().unwrap_or("")})
    );
}

/// Checks a signed request's MAC over the body, then spends its nonce.
pub async fn verify(
    ctx: &Ctx,
    signed: &SignatureHeaders,
    credential: &str,
    method: &str,
    target: &str,
    body: &[u8],
) -> Result<(), ApiError> {
    let mut store = DurableNonces {
        ctx,
        credential_hash: credential_hash(credential),
    };
    verify_signed_request(
        signed, credential, method, target, body, ctx.now_ms, &mut store,
    )
    .await
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

#[cfg(test)]
mod tests {
    use super::split_query;

    #[test]
    fn the_query_is_cut_at_the_first_question_mark_and_before_a_fragment() {
        assert_eq!(
            split_query("https://h/p?a=1&b=?2"),
            ("https://h/p", Some("a=1&b=?2"))
        );
        assert_eq!(split_query("https://h/p?"), ("https://h/p", Some("")));
        assert_eq!(split_query("https://h/p#f?x"), ("https://h/p", None));
        assert_eq!(split_query("https://h/p"), ("https://h/p", None));
    }
}
