//! A remote issuer's key set: the local lookup and the cache rules (lifetime, cool-down,
//! stale-if-error). The fetching itself, and one fetch in flight, live in the worker.

use serde_json::Value;
use std::collections::HashMap;

use crate::error::{ApiError, Reason};

/// How long a fetched JWKS is fresh when the issuer says nothing (ms).
pub const DEFAULT_FRESH_MS: u64 = 10 * 60 * 1000;
/// An unknown `kid` refetches at most this often (ms).
pub const REFETCH_COOLDOWN_MS: u64 = 60 * 1000;
/// When the issuer fails, cached keys keep working this long past their lifetime (ms).
pub const STALE_IF_ERROR_MS: u64 = 24 * 60 * 60 * 1000;
/// A JWKS fetch that has not answered by then counts as failed (ms): every
/// request for the issuer waits on the one fetch, so a hanging issuer must
/// not hang them all.
pub const FETCH_TIMEOUT_MS: u64 = 5_000;

/// The ES256 public JWKs of a JWKS document, by `kid`. Other key types are skipped:
/// an algorithm is fixed per key, and edgeauth takes only ES256 from a JWKS.
pub fn parse_es256_jwks(doc: &str) -> Result<Vec<(String, Value)>, String> {
    let v: Value = serde_json::from_str(doc).map_err(|e| format!("JWKS is not JSON: {e}"))?;
    let keys = v
        .get("keys")
        .and_then(Value::as_array)
        .ok_or("JWKS has no `keys` array")?;
    Ok(keys
        .iter()
        .filter(|k| k.get("kty").and_then(Value::as_str) == Some("EC"))
        .filter(|k| k.get("crv").and_then(Value::as_str) == Some("P-256"))
        .filter(|k| matches!(k.get("alg").and_then(Value::as_str), None | Some("ES256")))
        .filter(|k| k.get("use").and_then(Value::as_str) != Some("enc"))
        .filter_map(|k| {
            let kid = k.get("kid")?.as_str()?.to_string();
            let (x, y) = (k.get("x")?.as_str()?, k.get("y")?.as_str()?);
            Some((
                kid,
                serde_json::json!({"kty": "EC", "crv": "P-256", "x": x, "y": y}),
            ))
        })
        .collect())
}

/// The freshness an issuer asks for in `Cache-Control: max-age`, else the default.
pub fn fresh_ms_from_cache_control(header: Option<&str>) -> u64 {
    header
        .and_then(|h| {
            h.split(',')
                .filter_map(|d| d.trim().strip_prefix("max-age="))
                .find_map(|s| s.trim().parse::<u64>().ok())
        })
        .map(|s| (s * 1000).clamp(REFETCH_COOLDOWN_MS, 24 * 60 * 60 * 1000))
        .unwrap_or(DEFAULT_FRESH_MS)
}

/// One issuer's cached keys (`K` is whatever the runtime verifies with).
pub struct CachedKeySet<K> {
    keys: HashMap<String, K>,
    fetched_at_ms: u64,
    fresh_ms: u64,
    last_attempt_ms: Option<u64>,
    /// When the fetch in flight started: a miss waits on it rather than
    /// deciding from a key set that is about to change.
    fetching_since: Option<u64>,
    /// The last fetch that ended failed: until the cool-down lets the next one
    /// start, a `kid` that the cache cannot resolve is the issuer's fault
    /// (`issuer_unreachable`), not the token's.
    last_fetch_failed: bool,
}

/// What to do for a `kid`.
pub enum Lookup<'a, K> {
    /// Use this key.
    Key(&'a K),
    /// Fetch the key set (first use, expired, or an unknown `kid` after the
    /// cool-down), or wait on the fetch already in flight.
    Fetch,
    /// The issuer has no such key, and it was asked recently.
    Unknown,
    /// The issuer failed when it was last asked, recently, and the cache
    /// cannot resolve this `kid`: 503 `issuer_unreachable`, never a 401.
    Unreachable,
}

impl<K> Default for CachedKeySet<K> {
    fn default() -> Self {
        CachedKeySet {
            keys: HashMap::new(),
            fetched_at_ms: 0,
            fresh_ms: 0,
            last_attempt_ms: None,
            fetching_since: None,
            last_fetch_failed: false,
        }
    }
}

impl<K> CachedKeySet<K> {
    fn fetched(&self) -> bool {
        self.fetched_at_ms > 0
    }

    fn cooling_down(&self, now_ms: u64) -> bool {
        self.last_attempt_ms
            .is_some_and(|t| now_ms.saturating_sub(t) < REFETCH_COOLDOWN_MS)
    }

    /// Decides from the cache alone.
    pub fn lookup(&self, kid: &str, now_ms: u64) -> Lookup<'_, K> {
        let fresh = self.fetched() && now_ms < self.fetched_at_ms + self.fresh_ms;
        match self.keys.get(kid) {
            Some(k) if fresh => Lookup::Key(k),
            // Expired: refresh, but not more than once a minute while the issuer fails.
            Some(k) if self.cooling_down(now_ms) => self.stale_or_fetch(k, now_ms),
            Some(_) => Lookup::Fetch,
            // Concurrent misses wait on the one fetch in flight.
            // Concurrent misses wait on the one fetch in flight; one that never
            // ended (abandoned) answered nothing, so it is started again.
            None if self.fetching_since.is_some() => Lookup::Fetch,
            None if self.cooling_down(now_ms) && self.last_fetch_failed => Lookup::Unreachable,
            None if self.cooling_down(now_ms) => Lookup::Unknown,
            None => Lookup::Fetch,
        }
    }

    fn stale_or_fetch<'a>(&'a self, k: &'a K, now_ms: u64) -> Lookup<'a, K> {
        if now_ms < self.fetched_at_ms + self.fresh_ms + STALE_IF_ERROR_MS {
            Lookup::Key(k)
        } else {
            Lookup::Fetch
        }
    }

    /// Records an attempt before fetching, so concurrent misses share the cool-down
    /// and wait on this fetch.
    pub fn attempt(&mut self, now_ms: u64) {
        self.last_attempt_ms = Some(now_ms);
        self.fetching_since = Some(now_ms);
    }

    /// Replaces the keys after a successful fetch.
    pub fn fetched_ok(&mut self, keys: HashMap<String, K>, fresh_ms: u64, now_ms: u64) {
        self.keys = keys;
        self.fetched_at_ms = now_ms.max(1);
        self.fresh_ms = fresh_ms;
        self.fetching_since = None;
        self.last_fetch_failed = false;
    }

    /// Records a failed fetch: the cached keys stay (stale-if-error).
    pub fn fetch_failed(&mut self) {
        self.fetching_since = None;
        self.last_fetch_failed = true;
    }

    /// Whether a fetch is under way, so that a miss should wait for it rather
    /// than start another. A fetch that has outlived [`FETCH_TIMEOUT_MS`] (and
    /// a second of grace) was abandoned (the request running it went away)
    /// and no longer counts.
    pub fn fetch_in_flight(&self, now_ms: u64) -> bool {
        self.fetching_since
            .is_some_and(|t| now_ms.saturating_sub(t) < FETCH_TIMEOUT_MS + 1_000)
    }

    /// Whether a fetch was started and never ended, and is too old to wait for.
    pub fn fetch_abandoned(&self, now_ms: u64) -> bool {
        self.fetching_since.is_some() && !self.fetch_in_flight(now_ms)
    }

    /// Whether the last fetch that ended succeeded (false before any has ended).
    pub fn last_fetch_ok(&self) -> bool {
        self.fetched() && !self.last_fetch_failed
    }

    /// After a fetch: the key, or why not. A failed fetch serves stale keys for up to a day,
    /// and a `kid` it cannot resolve is `issuer_unreachable`, never a pass and never a 401.
    pub fn resolve_after_fetch(
        &self,
        kid: &str,
        fetch_ok: bool,
        now_ms: u64,
    ) -> Result<Option<&K>, ApiError> {
        match self.keys.get(kid) {
            Some(k) if fetch_ok => Ok(Some(k)),
            Some(k) if now_ms < self.fetched_at_ms + self.fresh_ms + STALE_IF_ERROR_MS => {
                Ok(Some(k))
            }
            _ if fetch_ok => Ok(None),
            _ => Err(ApiError::new(Reason::IssuerUnreachable)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: u64 = 1_000_000_000;

    fn set_with(kid: &str) -> CachedKeySet<u8> {
        let mut s = CachedKeySet::default();
        s.attempt(T0);
        s.fetched_ok(
            HashMap::from([(kid.to_string(), 1u8)]),
            DEFAULT_FRESH_MS,
            T0,
        );
        s
    }

    #[test]
    fn first_use_fetches_then_hits() {
        let s = CachedKeySet::<u8>::default();
        assert!(matches!(s.lookup("a", T0), Lookup::Fetch));
        let s = set_with("a");
        assert!(matches!(s.lookup("a", T0 + 1000), Lookup::Key(1)));
    }

    #[test]
    fn unknown_kid_refetches_at_most_once_a_minute() {
        let s = set_with("a");
        assert!(matches!(s.lookup("b", T0 + 30_000), Lookup::Unknown));
        assert!(matches!(s.lookup("b", T0 + 61_000), Lookup::Fetch));
    }

    #[test]
    fn stale_if_error_for_a_day_then_unreachable() {
        let mut s = set_with("a");
        let expired = T0 + DEFAULT_FRESH_MS + 1;
        assert!(matches!(s.lookup("a", expired), Lookup::Fetch));
        s.attempt(expired);
        assert_eq!(
            s.resolve_after_fetch("a", false, expired).unwrap(),
            Some(&1)
        );
        // During the cool-down the stale key is served without asking again.
        assert!(matches!(s.lookup("a", expired + 1000), Lookup::Key(1)));
        let too_late = T0 + DEFAULT_FRESH_MS + STALE_IF_ERROR_MS + 1;
        let err = s.resolve_after_fetch("a", false, too_late).unwrap_err();
        assert_eq!(err.reason, Reason::IssuerUnreachable);
        // An unknown kid while the issuer is down is a 503, not a 401.
        assert_eq!(
            s.resolve_after_fetch("b", false, expired)
                .unwrap_err()
                .reason,
            Reason::IssuerUnreachable
        );
        assert_eq!(s.resolve_after_fetch("b", true, expired).unwrap(), None);
    }

    #[test]
    fn misses_wait_on_the_fetch_in_flight() {
        let mut s = CachedKeySet::<u8>::default();
        s.attempt(T0);
        // A second request for the same (not yet known) kid joins the fetch
        // instead of being told the kid is unknown.
        assert!(matches!(s.lookup("a", T0 + 5), Lookup::Fetch));
        assert!(s.fetch_in_flight(T0 + 5));
        assert!(!s.last_fetch_ok());
        s.fetched_ok(
            HashMap::from([("a".to_string(), 1u8)]),
            DEFAULT_FRESH_MS,
            T0 + 10,
        );
        assert!(matches!(s.lookup("a", T0 + 20), Lookup::Key(1)));
        assert!(matches!(s.lookup("b", T0 + 20), Lookup::Unknown));
        assert!(!s.fetch_in_flight(T0 + 20));
        assert!(s.last_fetch_ok());
    }

    #[test]
    fn an_abandoned_fetch_stops_counting_as_in_flight() {
        let mut s = CachedKeySet::<u8>::default();
        s.attempt(T0);
        assert!(s.fetch_in_flight(T0 + FETCH_TIMEOUT_MS));
        assert!(!s.fetch_in_flight(T0 + FETCH_TIMEOUT_MS + 1_000));
        assert!(s.fetch_abandoned(T0 + FETCH_TIMEOUT_MS + 1_000));
        // It answered nothing: a miss fetches again rather than calling the kid unknown.
        assert!(matches!(
            s.lookup("a", T0 + FETCH_TIMEOUT_MS + 1_000),
            Lookup::Fetch
        ));
        s.attempt(T0 + 7_000);
        s.fetch_failed();
        assert!(!s.fetch_abandoned(T0 + 20_000));
    }

    #[test]
    fn an_unknown_kid_while_the_issuer_is_down_is_unreachable_not_unknown() {
        // Down from the first fetch: every miss in the cool-down is a 503.
        let mut s = CachedKeySet::<u8>::default();
        s.attempt(T0);
        s.fetch_failed();
        assert!(matches!(s.lookup("a", T0 + 1_000), Lookup::Unreachable));
        assert!(matches!(s.lookup("a", T0 + 61_000), Lookup::Fetch));
        // Down after a good fetch: cached keys keep working, misses are 503s.
        let mut s = set_with("a");
        s.attempt(T0 + 61_000);
        s.fetch_failed();
        assert!(matches!(s.lookup("a", T0 + 62_000), Lookup::Key(1)));
        assert!(matches!(s.lookup("b", T0 + 62_000), Lookup::Unreachable));
        // Back up: a miss is the token's fault again.
        s.attempt(T0 + 122_000);
        s.fetched_ok(
            HashMap::from([("a".to_string(), 1u8)]),
            DEFAULT_FRESH_MS,
            T0 + 122_000,
        );
        assert!(matches!(s.lookup("b", T0 + 123_000), Lookup::Unknown));
    }

    #[test]
    fn parses_only_es256_keys() {
        let doc = r#"{"keys": [
            {"kty": "EC", "crv": "P-256", "kid": "e1", "x": "X", "y": "Y", "alg": "ES256"},
            {"kty": "RSA", "kid": "r1", "n": "N", "e": "AQAB"},
            {"kty": "EC", "crv": "P-384", "kid": "e2", "x": "X", "y": "Y"},
            {"kty": "EC", "crv": "P-256", "kid": "e3", "x": "X", "y": "Y", "alg": "ES384"}]}"#;
        let keys = parse_es256_jwks(doc).unwrap();
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0].0, "e1");
        assert!(parse_es256_jwks("[]").is_err());
        assert_eq!(
            fresh_ms_from_cache_control(Some("public, max-age=300")),
            300_000
        );
        assert_eq!(fresh_ms_from_cache_control(None), DEFAULT_FRESH_MS);
    }
}
