//! Fetching external issuers' JWKS: one fetch in flight per URL per isolate; the cache
//! rules themselves are core's `CachedKeySet`, and what may be fetched is core's
//! `check_jwks_url` and `check_jwks_response`.

use std::cell::RefCell;
use std::collections::HashMap;
use std::time::Duration;

use edgeauth_core::jwks::{
    check_jwks_response, check_jwks_url, fresh_ms_from_cache_control, parse_es256_jwks,
    CachedKeySet, JwksRefusal, Lookup, FETCH_TIMEOUT_MS, MAX_JWKS_BYTES,
};
use edgeauth_core::settings::Environment;
use edgeauth_core::{ApiError, Reason};
use futures_util::future::{select, Either};
use futures_util::StreamExt;
use web_sys::CryptoKey;
use worker::{
    AbortController, AbortSignal, Delay, Fetch, Method, Request, RequestInit, RequestRedirect,
    Response,
};

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
///
/// A URL that `environment` does not allow (plain `http` outside development, or
/// to anything but loopback) is never fetched: it counts as a failed fetch, so the
/// issuer is unreachable (503 `issuer_unreachable`) and says why in the log.
pub async fn key(
    url: &str,
    kid: &str,
    now_ms: u64,
    environment: Environment,
) -> Result<Option<CryptoKey>, ApiError> {
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
    let ok = fetch_or_wait(url, now_ms, environment).await;
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
async fn fetch_or_wait(url: &str, started_ms: u64, environment: Environment) -> bool {
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
            _ => return fetch_now(url, now, environment).await,
        }
    }
}

/// Fetches the key set into the cache; `attempt` is recorded first, synchronously, so
/// that concurrent misses see the fetch in flight and wait for it.
async fn fetch_now(url: &str, now: u64, environment: Environment) -> bool {
    CACHE.with(|c| {
        c.borrow_mut()
            .entry(url.to_string())
            .or_default()
            .attempt(now)
    });
    let result = fetch_keys_in_time(url, environment).await;
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
async fn fetch_keys_in_time(
    url: &str,
    environment: Environment,
) -> Result<(HashMap<String, CryptoKey>, u64), String> {
    let controller = AbortController::default();
    let fetch = Box::pin(fetch_keys(url, environment, controller.signal()));
    let timeout = Delay::from(Duration::from_millis(FETCH_TIMEOUT_MS));
    let outcome = match select(fetch, timeout).await {
        Either::Left((result, _)) => Some(result),
        Either::Right(_) => None,
    };
    match outcome {
        Some(Ok(keys)) => Ok(keys),
        // Refused part-way (a redirect, too many bytes): the rest is not wanted.
        Some(Err(e)) => {
            controller.abort();
            Err(e)
        }
        None => {
            controller.abort();
            Err(format!("no answer within {FETCH_TIMEOUT_MS} ms"))
        }
    }
}

async fn fetch_keys(
    url: &str,
    environment: Environment,
    signal: AbortSignal,
) -> Result<(HashMap<String, CryptoKey>, u64), String> {
    check_jwks_url(url, environment).map_err(|e| e.to_string())?;
    let mut init = RequestInit::new();
    // A redirect is answered as it is and refused below: the configured URL is the
    // only place keys come from, and a redirect could lead off https or off loopback.
    init.with_method(Method::Get)
        .with_redirect(RequestRedirect::Manual);
    let req = Request::new_with_init(url, &init).map_err(|e| e.to_string())?;
    let mut resp = Fetch::Request(req)
        .send_with_signal(&signal)
        .await
        .map_err(|e| e.to_string())?;
    let header = |name: &str| resp.headers().get(name).ok().flatten();
    check_jwks_response(resp.status_code(), header("content-length").as_deref())
        .map_err(|e| e.to_string())?;
    let fresh_ms = fresh_ms_from_cache_control(header("cache-control").as_deref());
    let body = read_at_most(&mut resp, MAX_JWKS_BYTES).await?;
    let text = String::from_utf8(body).map_err(|_| "the JWKS is not UTF-8".to_string())?;
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

/// The body, read as it arrives and refused once it passes `limit` bytes, so that
/// an issuer cannot make the isolate hold more than that whatever it declares.
async fn read_at_most(resp: &mut Response, limit: usize) -> Result<Vec<u8>, String> {
    let too_large = || JwksRefusal::TooLarge.to_string();
    let Ok(mut stream) = resp.stream() else {
        // Not a stream: already in memory (or empty), so only its length is left to check.
        let body = resp.bytes().await.map_err(|e| e.to_string())?;
        return if body.len() > limit {
            Err(too_large())
        } else {
            Ok(body)
        };
    };
    let mut body = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| e.to_string())?;
        if chunk.len() > limit.saturating_sub(body.len()) {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}
