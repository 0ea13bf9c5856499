//! Fetching external issuers' JWKS: one fetch in flight per URL per isolate; the cache
//! rules themselves are core's `CachedKeySet`.

use std::cell::RefCell;
use std::collections::HashMap;
use std::time::Duration;

use edgeauth_core::jwks::{
    fresh_ms_from_cache_control, parse_es256_jwks, CachedKeySet, Lookup, FETCH_TIMEOUT_MS,
};
use edgeauth_core::{ApiError, Reason};
use futures_util::future::{select, Either};
use web_sys::CryptoKey;
use worker::{AbortController, AbortSignal, Delay, Fetch, Method, Request, RequestInit};

use crate::crypto;

/// How often a request waiting on another request's fetch looks at the cache again.
const WAIT_POLL_MS: u64 = 20;

thread_local! {
    static CACHE: RefCell<HashMap<String, CachedKeySet<CryptoKey>>> = RefCell::new(HashMap::new());
}

fn now_ms() -> u64 {
    worker::Date::now().as_millis()
}

/// The key `kid` from the JWKS at `url`, fetching when the cache rules say so.
pub async fn key(url: &str, kid: &str, now_ms: u64) -> Result<Option<CryptoKey>, ApiError> {
    let decision = CACHE.with(
        |c| match c.borrow().get(url).map(|s| s.lookup(kid, now_ms)) {
            Some(Lookup::Key(k)) => Ok(Ok(Some(k.clone()))),
            Some(Lookup::Unknown) => Ok(Ok(None)),
            Some(Lookup::Unreachable) => Ok(Err(ApiError::new(Reason::IssuerUnreachable))),
            Some(Lookup::Fetch) | None => Err(()),
        },
    );
    if let Ok(found) = decision {
        return found;
    }
    let ok = fetch_or_wait(url, now_ms).await;
    CACHE.with(|c| {
        let cache = c.borrow();
        match cache.get(url) {
            Some(set) => set.resolve_after_fetch(kid, ok, now_ms).map(|k| k.cloned()),
            None => Err(ApiError::new(Reason::IssuerUnreachable)),
        }
    })
}

/// Runs the fetch for `url`, or waits for the one another request is running, and
/// says whether it succeeded.
///
/// The wait polls the cache on a timer instead of awaiting the other request's
/// future: workerd cancels a request as hung when it waits on I/O that belongs to
/// another request and has no pending event of its own.
async fn fetch_or_wait(url: &str, started_ms: u64) -> bool {
    let mut now = started_ms;
    let mut waited = false;
    loop {
        let state = CACHE.with(|c| {
            c.borrow().get(url).map(|s| {
                (
                    s.fetch_in_flight(now),
                    s.fetch_abandoned(now),
                    s.last_fetch_ok(),
                )
            })
        });
        match state {
            Some((true, _, _)) => {
                Delay::from(Duration::from_millis(WAIT_POLL_MS)).await;
                now = now_ms().max(now + 1);
                waited = true;
            }
            // The fetch this request waited for has ended.
            Some((false, false, ok)) if waited => return ok,
            // No fetch yet, one the cache rules call for, or an abandoned one.
            _ => return fetch_now(url, now).await,
        }
    }
}

/// Fetches the key set into the cache; `attempt` is recorded first, synchronously, so
/// that concurrent misses see the fetch in flight and wait for it.
async fn fetch_now(url: &str, now: u64) -> bool {
    CACHE.with(|c| {
        c.borrow_mut()
            .entry(url.to_string())
            .or_default()
            .attempt(now)
    });
    let result = fetch_keys_in_time(url).await;
    CACHE.with(|c| {
        let mut cache = c.borrow_mut();
        let set = cache.entry(url.to_string()).or_default();
        match result {
            Ok((keys, fresh_ms)) => {
                set.fetched_ok(keys, fresh_ms, now);
                true
            }
            Err(e) => {
                worker::console_warn!("edgeauth: JWKS fetch failed for {url}: {e}");
                set.fetch_failed();
                false
            }
        }
    })
}

/// [`fetch_keys`], abandoned (and the fetch aborted) after `FETCH_TIMEOUT_MS`.
async fn fetch_keys_in_time(url: &str) -> Result<(HashMap<String, CryptoKey>, u64), String> {
    let controller = AbortController::default();
    let fetch = Box::pin(fetch_keys(url, controller.signal()));
    let timeout = Delay::from(Duration::from_millis(FETCH_TIMEOUT_MS));
    let outcome = match select(fetch, timeout).await {
        Either::Left((result, _)) => Some(result),
        Either::Right(_) => None,
    };
    outcome.unwrap_or_else(|| {
        controller.abort();
        Err(format!("no answer within {FETCH_TIMEOUT_MS} ms"))
    })
}

async fn fetch_keys(
    url: &str,
    signal: AbortSignal,
) -> Result<(HashMap<String, CryptoKey>, u64), String> {
    let mut init = RequestInit::new();
    init.with_method(Method::Get);
    let req = Request::new_with_init(url, &init).map_err(|e| e.to_string())?;
    let mut resp = Fetch::Request(req)
        .send_with_signal(&signal)
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
