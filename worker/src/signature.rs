//! Request signatures at the rim: the request target as the runtime serialized
//! it, and the summary log of unsigned requests. Core's gate checks the
//! headers, the MAC and the nonce; `nonces` records the nonce.

use std::cell::RefCell;
use std::collections::BTreeMap;

use serde_json::json;

/// How often, at most, an isolate logs its count of unsigned requests.
const SUMMARY_EVERY_MS: u64 = 60_000;

/// The query of a serialized URL (without `?` and any fragment), if it has one.
pub fn split_query(url: &str) -> (&str, Option<&str>) {
    let url = url.split('#').next().unwrap_or(url);
    match url.split_once('?') {
        Some((before, q)) => (before, Some(q)),
        None => (url, None),
    }
}

#[derive(Default)]
struct Unsigned {
    /// Credential (its kind and id: never the credential itself) → count since the last summary.
    counts: BTreeMap<String, u64>,
    since_ms: u64,
}

/// The summary holds at most this many credentials; the rest are counted under `others`.
const SUMMARY_MAX_CREDENTIALS: usize = 100;

thread_local! {
    static UNSIGNED: RefCell<Unsigned> = RefCell::new(Unsigned::default());
}

/// Counts an unsigned request that a `signature: optional` route let through,
/// per credential, and logs the counts as one summary line: for the first
/// such request of a quiet isolate at once, then at most once a minute
/// (SPEC "Scopes and policy": never one line per request).
pub fn count_unsigned(credential: String, now_ms: u64) {
    UNSIGNED.with(|u| {
        let mut u = u.borrow_mut();
        let first = u.counts.is_empty() && now_ms.saturating_sub(u.since_ms) >= SUMMARY_EVERY_MS;
        if u.counts.len() < SUMMARY_MAX_CREDENTIALS || u.counts.contains_key(&credential) {
            *u.counts.entry(credential).or_default() += 1;
        } else {
            *u.counts.entry("others".into()).or_default() += 1;
        }
        if first || now_ms.saturating_sub(u.since_ms) >= SUMMARY_EVERY_MS {
            let counts = std::mem::take(&mut u.counts);
            worker::console_log!(
                "{}",
                json!({"event": "unsigned_requests", "since_ms": u.since_ms.max(now_ms.saturating_sub(SUMMARY_EVERY_MS)), "counts": counts})
            );
            u.since_ms = now_ms;
        }
    });
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
