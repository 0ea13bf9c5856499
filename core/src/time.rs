//! Time as values: RFC 3339 for the API, IMF-fixdate for `Date`. No clock is read here.

use chrono::{DateTime, SecondsFormat, Utc};

/// Formats Unix seconds as an RFC 3339 UTC string (`2026-11-26T00:00:00Z`).
pub fn rfc3339(secs: i64) -> String {
    DateTime::<Utc>::from_timestamp(secs, 0)
        .map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true))
        .unwrap_or_default()
}

/// Parses an RFC 3339 timestamp (any offset) into Unix seconds.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    DateTime::parse_from_rfc3339(s.trim())
        .ok()
        .map(|t| t.timestamp())
}

/// Formats Unix seconds as an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`, RFC 9110 §5.6.7).
pub fn imf_fixdate(secs: i64) -> String {
    DateTime::<Utc>::from_timestamp(secs, 0)
        .map(|t| t.format("%a, %d %b %Y %H:%M:%S GMT").to_string())
        .unwrap_or_default()
}

/// Parses an IMF-fixdate back to Unix seconds (clients use it to learn the server's clock).
pub fn parse_imf_fixdate(s: &str) -> Option<i64> {
    DateTime::parse_from_rfc2822(s.trim())
        .ok()
        .map(|t| t.timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_9110_example_round_trips() {
        assert_eq!(imf_fixdate(784111777), "Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(
            parse_imf_fixdate("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(784111777)
        );
    }

    #[test]
    fn rfc3339_is_utc_with_z() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(parse_rfc3339("1970-01-01T01:00:00+01:00"), Some(0));
        assert_eq!(parse_rfc3339("yesterday"), None);
    }
}
