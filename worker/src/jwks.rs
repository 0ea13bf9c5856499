//! Fetching external issuers' JWKS: one fetch in flight per URL per isolate; the cache
//! rules themselves are core's `CachedKeySet`.

use std::cell::RefCell;
use std::collections::HashMap;

use edgeauth_core::jwks::{fresh_ms_from_cache_control, parse_es256_jwks, CachedKeySet, Lookup};
use edgeauth_core::ApiError;
use futures_util::future::{FutureExt, LocalBoxFuture, Shared};
use web_sys::CryptoKey;
use worker::{Fetch, Method, Request, RequestInit};

use crate::crypto;

type InFlight = Shared<LocalBoxFuture<'static, bool>>;

thread_local! {
    static CACHE: RefCell<HashMap<String, CachedKeySet<CryptoKey>>> = RefCell::new(HashMap::new());
    static IN_FLIGHT: RefCell<HashMap<String, InFlight>> = RefCell::new(HashMap::new());
}

/// The key `kid` from the JWKS at `url`, fetching when the cache rules say so.
pub async fn key(url: &str, kid: &str, now_ms: u64) -> Result<Option<CryptoKey>, ApiError> {
    let decision = CACHE.with(
        |c| match c.borrow().get(url).map(|s| s.lookup(kid, now_ms)) {
            Some(Lookup::Key(k)) => Ok(Some(k.clone())),
            Some(Lookup::Unknown) => Ok(None),
            Some(Lookup::Fetch) | None => Err(()),
        },
    );
    if let Ok(found) = decision {
        return Ok(found);
    }
    let ok = fetch_once(url, now_ms).await;
    CACHE.with(|c| {
        let cache = c.borrow();
        match cache.get(url) {
            Some(set) => set.resolve_after_fetch(kid, ok, now_ms).map(|k| k.cloned()),
            None => Err(ApiError::new(edgeauth_core::Reason::IssuerUnreachable)),
        }
    })
}

/// Joins the fetch already in flight for `url`, or starts one.
async fn fetch_once(url: &str, now_ms: u64) -> bool {
    let fut = IN_FLIGHT.with(|f| {
        f.borrow_mut()
            .entry(url.to_string())
            .or_insert_with(|| {
                CACHE.with(|c| {
                    c.borrow_mut()
                        .entry(url.to_string())
                        .or_default()
                        .attempt(now_ms)
                });
                let url = url.to_string();
                async move {
                    let ok = match fetch_keys(&url).await {
                        Ok((keys, fresh_ms)) => {
                            CACHE.with(|c| {
                                c.borrow_mut()
                                    .entry(url.clone())
                                    .or_default()
                                    .fetched_ok(keys, fresh_ms, now_ms)
                            });
                            true
                        }
                        Err(e) => {
                            worker::console_warn!("edgeauth: JWKS fetch failed for {url}: {e}");
                            false
                        }
                    };
                    IN_FLIGHT.with(|f| f.borrow_mut().remove(&url));
                    ok
                }
                .boxed_local()
                .shared()
            })
            .clone()
    });
    fut.await
}

async fn fetch_keys(url: &str) -> Result<(HashMap<String, CryptoKey>, u64), String> {
    let mut init = RequestInit::new();
    init.with_method(Method::Get);
    let req = Request::new_with_init(url, &init).map_err(|e| e.to_string())?;
    let mut resp = Fetch::Request(req)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if resp.status_code() != 200 {
        return Err(format!("status {}", resp.status_code()));
    }
    let fresh_ms = fresh_ms_from_cache_control(
        resp.headers()
            .get("cache-control")
            .ok()
            .flatten()
            .as_deref(),
    );
    let text = resp.text().await.map_err(|e| e.to_string())?;
    let mut keys = HashMap::new();
    for (kid, jwk) in parse_es256_jwks(&text)? {
        match crypto::import_es256_jwk(&jwk, false).await {
            Ok(k) => {
                keys.insert(kid, k);
            }
            Err(_) => worker::console_warn!("edgeauth: JWKS key {kid} from {url} does not import"),
        }
    }
    Ok((keys, fresh_ms))
}
