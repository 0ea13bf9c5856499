//! A remote issuer's key set: the local lookup, the cache rules (lifetime, cool-down,
//! stale-if-error) and what may be fetched. The fetching itself, and one fetch in
//! flight, live in the worker.

use serde_json::Value;
use std::collections::HashMap;
use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use crate::error::{ApiError, Reason};
use crate::settings::Environment;

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

/// The largest JWKS document read (bytes). Real key sets are a few KiB; an
/// issuer that answers more is refused rather than read into memory.
pub const MAX_JWKS_BYTES: usize = 64 * 1024;

/// The longest JWKS URL accepted (bytes).
pub const MAX_JWKS_URL_LEN: usize = 2048;

/// Why a JWKS is not fetched, or a fetched one not used. Every one makes the
/// fetch count as failed: the cache serves stale keys, and a `kid` it cannot
/// resolve is 503 `issuer_unreachable`, as when the issuer is down.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JwksRefusal {
    /// Not an absolute `scheme://host[:port]/...` URL this rule can read, or
    /// one holding characters a URL parser would rewrite (spaces, `\`,
    /// non-ASCII), a fragment, an empty or odd host, or a bad port.
    Malformed(&'static str),
    /// The URL carries `user:password@`: credentials do not belong in
    /// configuration that is logged, and `https://trusted@evil` misleads.
    Credentials,
    /// A scheme other than `https` (or `http` on loopback in development).
    SchemeNotAllowed,
    /// `http` outside development: keys fetched in clear text could be
    /// replaced on the way, and with them every token's signature.
    HttpInProduction,
    /// `http` in development to a host that is not loopback
    /// (127.0.0.0/8, `localhost`, `[::1]`).
    HttpNotLoopback,
    /// The issuer answered a redirect: none is followed, so that a JWKS URL
    /// names the only place keys come from.
    Redirect(u16),
    /// The issuer answered another status than 200.
    Status(u16),
    /// The document is over [`MAX_JWKS_BYTES`].
    TooLarge,
}

impl fmt::Display for JwksRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JwksRefusal::Malformed(why) => write!(f, "the JWKS URL is not usable: {why}"),
            JwksRefusal::Credentials => f.write_str("the JWKS URL must not hold user:password@"),
            JwksRefusal::SchemeNotAllowed => f.write_str("the JWKS URL must be https"),
            JwksRefusal::HttpInProduction => {
                f.write_str("the JWKS URL must be https outside development")
            }
            JwksRefusal::HttpNotLoopback => {
                f.write_str("an http JWKS URL must be on loopback (127.0.0.0/8, localhost, [::1])")
            }
            JwksRefusal::Redirect(status) => {
                write!(
                    f,
                    "the JWKS URL answered {status}: redirects are not followed"
                )
            }
            JwksRefusal::Status(status) => write!(f, "the JWKS URL answered {status}"),
            JwksRefusal::TooLarge => {
                write!(f, "the JWKS document is over {MAX_JWKS_BYTES} bytes")
            }
        }
    }
}

impl From<JwksRefusal> for ApiError {
    /// A refused fetch is the issuer's failure, not the token's: 503
    /// `issuer_unreachable`. The refusal itself is for the log, not the client.
    fn from(_: JwksRefusal) -> Self {
        ApiError::new(Reason::IssuerUnreachable)
    }
}

/// Whether the worker may fetch keys from `url` in `environment`.
///
/// `https` always; `http` only in development and only to loopback
/// (`127.0.0.0/8` in plain dotted decimal, `localhost` in any case, or an
/// IPv6 loopback in brackets), as SPEC allows for SSO issuers. Userinfo, a
/// fragment, whitespace, `\`, non-ASCII and hosts that are not plain names
/// or IP literals are refused rather than interpreted: a host this rule
/// reads one way and the runtime's URL parser another could turn "loopback"
/// into anywhere. The same rule suits an OIDC issuer's discovery document.
pub fn check_jwks_url(url: &str, environment: Environment) -> Result<(), JwksRefusal> {
    use JwksRefusal::Malformed;
    if url.len() > MAX_JWKS_URL_LEN {
        return Err(Malformed("longer than 2048 bytes"));
    }
    if url.bytes().any(|b| !b.is_ascii_graphic() || b == b'\\') {
        return Err(Malformed(
            "holds a space, a control or non-ASCII character, or a '\\'",
        ));
    }
    if url.contains('#') {
        return Err(Malformed("holds a fragment"));
    }
    let (scheme, rest) = url
        .split_once("://")
        .ok_or(Malformed("not an absolute URL"))?;
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let authority = rest.get(..end).unwrap_or(rest);
    if authority.contains('@') {
        return Err(JwksRefusal::Credentials);
    }
    let (host, port) = split_host_port(authority)?;
    if let Some(port) = port {
        let valid = !port.is_empty()
            && port.len() <= 5
            && port.bytes().all(|b| b.is_ascii_digit())
            && port.parse::<u16>().is_ok_and(|p| p != 0);
        if !valid {
            return Err(Malformed("the port is not a number from 1 to 65535"));
        }
    }
    let loopback = match host {
        Host::V6(ip) => ip.is_loopback(),
        Host::Name(name) => {
            name.eq_ignore_ascii_case("localhost")
                || name.parse::<Ipv4Addr>().is_ok_and(|ip| ip.is_loopback())
        }
    };
    if scheme.eq_ignore_ascii_case("https") {
        return Ok(());
    }
    if !scheme.eq_ignore_ascii_case("http") {
        return Err(JwksRefusal::SchemeNotAllowed);
    }
    match (environment, loopback) {
        (Environment::Development, true) => Ok(()),
        (Environment::Development, false) => Err(JwksRefusal::HttpNotLoopback),
        (Environment::Production, _) => Err(JwksRefusal::HttpInProduction),
    }
}

enum Host<'a> {
    Name(&'a str),
    V6(Ipv6Addr),
}

fn split_host_port(authority: &str) -> Result<(Host<'_>, Option<&str>), JwksRefusal> {
    use JwksRefusal::Malformed;
    if let Some(bracketed) = authority.strip_prefix('[') {
        let (inside, after) = bracketed
            .split_once(']')
            .ok_or(Malformed("an IPv6 host lacks its ']'"))?;
        let ip = inside
            .parse::<Ipv6Addr>()
            .map_err(|_| Malformed("the IPv6 host is not an address"))?;
        let port = match after {
            "" => None,
            _ => Some(
                after
                    .strip_prefix(':')
                    .ok_or(Malformed("text after the IPv6 host"))?,
            ),
        };
        return Ok((Host::V6(ip), port));
    }
    let (name, port) = match authority.split_once(':') {
        Some((name, port)) => (name, Some(port)),
        None => (authority, None),
    };
    let plain = |label: &str| {
        !label.is_empty()
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };
    if name.is_empty() || !name.split('.').all(plain) {
        return Err(Malformed(
            "the host must be a name of letters, digits, '-' and '.', or an IP address",
        ));
    }
    Ok((Host::Name(name), port))
}

/// Whether a JWKS answer may be read: status 200 only (a 3xx is a failure,
/// as redirects are not followed), and a declared `Content-Length` within
/// [`MAX_JWKS_BYTES`]. The worker still counts the bytes as they arrive: a
/// length may be absent or wrong.
pub fn check_jwks_response(status: u16, content_length: Option<&str>) -> Result<(), JwksRefusal> {
    match status {
        200 => {}
        300..=399 => return Err(JwksRefusal::Redirect(status)),
        _ => return Err(JwksRefusal::Status(status)),
    }
    let declared = content_length.and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_JWKS_BYTES as u64) {
        return Err(JwksRefusal::TooLarge);
    }
    Ok(())
}

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
    fn jwks_urls_are_https_or_loopback_http_in_development() {
        use Environment::{Development as Dev, Production as Prod};
        let allowed = [
            ("https://idp.example.com/.well-known/jwks.json", Prod),
            ("https://idp.example.com/.well-known/jwks.json", Dev),
            ("HTTPS://IDP.example.com/keys", Prod),
            ("https://idp.example.com:8443/keys?appid=abc", Prod),
            ("https://idp.example.com", Prod),
            ("https://203.0.113.7/keys", Prod),
            ("https://[2001:db8::1]/keys", Prod),
            ("http://127.0.0.1:8791/jwks.json", Dev),
            ("http://127.1.2.3/jwks.json", Dev),
            ("http://localhost:8791/jwks.json", Dev),
            ("http://LocalHost/jwks.json", Dev),
            ("http://[::1]:8791/jwks.json", Dev),
            ("http://[0:0:0:0:0:0:0:1]/jwks.json", Dev),
            ("http://127.0.0.1", Dev),
        ];
        for (url, env) in allowed {
            assert_eq!(check_jwks_url(url, env), Ok(()), "{url} in {env:?}");
        }
        let refused = [
            // Clear text outside development, even to loopback.
            (
                "http://127.0.0.1:8791/jwks.json",
                Prod,
                JwksRefusal::HttpInProduction,
            ),
            (
                "http://localhost/jwks.json",
                Prod,
                JwksRefusal::HttpInProduction,
            ),
            (
                "http://idp.example.com/jwks.json",
                Prod,
                JwksRefusal::HttpInProduction,
            ),
            // Clear text in development to anything but loopback.
            (
                "http://idp.example.com/jwks.json",
                Dev,
                JwksRefusal::HttpNotLoopback,
            ),
            (
                "http://128.0.0.1/jwks.json",
                Dev,
                JwksRefusal::HttpNotLoopback,
            ),
            (
                "http://10.0.0.1/jwks.json",
                Dev,
                JwksRefusal::HttpNotLoopback,
            ),
            (
                "http://0.0.0.0/jwks.json",
                Dev,
                JwksRefusal::HttpNotLoopback,
            ),
            (
                "http://127.0.0.1.evil.example/jwks.json",
                Dev,
                JwksRefusal::HttpNotLoopback,
            ),
            (
                "http://localhost.evil.example/jwks.json",
                Dev,
                JwksRefusal::HttpNotLoopback,
            ),
            (
                "http://[::ffff:127.0.0.1]/jwks.json",
                Dev,
                JwksRefusal::HttpNotLoopback,
            ),
            ("http://[::2]/jwks.json", Dev, JwksRefusal::HttpNotLoopback),
            // Spellings that URL parsers read as 127.0.0.1 or as something else: refused, not guessed.
            (
                "http://0x7f.0.0.1/jwks.json",
                Dev,
                JwksRefusal::HttpNotLoopback,
            ),
            (
                "http://2130706433/jwks.json",
                Dev,
                JwksRefusal::HttpNotLoopback,
            ),
            (
                "http://0177.0.0.1/jwks.json",
                Dev,
                JwksRefusal::HttpNotLoopback,
            ),
            ("http://127.1/jwks.json", Dev, JwksRefusal::HttpNotLoopback),
            // Other schemes.
            (
                "ftp://idp.example.com/jwks.json",
                Dev,
                JwksRefusal::SchemeNotAllowed,
            ),
            (
                "file://localhost/etc/jwks.json",
                Dev,
                JwksRefusal::SchemeNotAllowed,
            ),
            (
                "ws://localhost/jwks.json",
                Dev,
                JwksRefusal::SchemeNotAllowed,
            ),
            // Credentials, wherever the '@' hides.
            (
                "https://user:pw@idp.example.com/jwks.json",
                Prod,
                JwksRefusal::Credentials,
            ),
            (
                "http://127.0.0.1@evil.example/jwks.json",
                Dev,
                JwksRefusal::Credentials,
            ),
            (
                "http://127.0.0.1:80@evil.example/jwks.json",
                Dev,
                JwksRefusal::Credentials,
            ),
            (
                "https://idp.example.com%2f@x/jwks.json",
                Prod,
                JwksRefusal::Credentials,
            ),
        ];
        for (url, env, want) in refused {
            assert_eq!(check_jwks_url(url, env), Err(want), "{url} in {env:?}");
        }
        let malformed = [
            "",
            "idp.example.com/jwks.json",
            "/jwks.json",
            "https:/idp.example.com",
            "https://",
            "https:///jwks.json",
            "https://idp.example.com:/jwks.json",
            "https://idp.example.com:0/jwks.json",
            "https://idp.example.com:65536/jwks.json",
            "https://idp.example.com:+443/jwks.json",
            "https://idp.example.com:443:443/jwks.json",
            "https://idp..example.com/jwks.json",
            "https://.idp.example.com/jwks.json",
            "https://idp_x.example.com/jwks.json",
            "https://[::1/jwks.json",
            "https://[::1]x/jwks.json",
            "https://[zz::1]/jwks.json",
            "https://[::1%25eth0]/jwks.json",
            "https://idp.example.com/jwks.json#frag",
            "https://idp.example.com/jw ks.json",
            "https://idp.example.com/jwks.json\n",
            "http://127.0.0.1\\@evil.example/jwks.json",
            "https://evil.example\\@127.0.0.1/",
            "https://ïdp.example.com/jwks.json",
            "https://idp.example.com/\u{0}",
        ];
        for url in malformed {
            for env in [Dev, Prod] {
                assert!(
                    matches!(check_jwks_url(url, env), Err(JwksRefusal::Malformed(_))),
                    "{url:?} in {env:?}: {:?}",
                    check_jwks_url(url, env)
                );
            }
        }
        let long = format!("https://idp.example.com/{}", "a".repeat(MAX_JWKS_URL_LEN));
        assert!(matches!(
            check_jwks_url(&long, Prod),
            Err(JwksRefusal::Malformed(_))
        ));
    }

    #[test]
    fn jwks_answers_are_200_and_small_or_refused() {
        assert_eq!(check_jwks_response(200, None), Ok(()));
        assert_eq!(check_jwks_response(200, Some("1234")), Ok(()));
        assert_eq!(check_jwks_response(200, Some(" 65536 ")), Ok(()));
        assert_eq!(
            check_jwks_response(200, Some("65537")),
            Err(JwksRefusal::TooLarge)
        );
        assert_eq!(
            check_jwks_response(200, Some("99999999999999999999")),
            Ok(()),
            "an unreadable length is left to the byte count"
        );
        for status in [301, 302, 303, 307, 308, 300, 399] {
            assert_eq!(
                check_jwks_response(status, None),
                Err(JwksRefusal::Redirect(status))
            );
        }
        for status in [0, 201, 204, 206, 404, 500, 503] {
            assert_eq!(
                check_jwks_response(status, None),
                Err(JwksRefusal::Status(status))
            );
        }
        let e = ApiError::from(JwksRefusal::Redirect(302));
        assert_eq!(e.reason, Reason::IssuerUnreachable);
        assert_eq!(e.status(), 503);
        assert!(JwksRefusal::Redirect(302).to_string().contains("302"));
        assert!(JwksRefusal::TooLarge.to_string().contains("65536"));
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
