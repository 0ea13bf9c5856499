//! Standalone request signing (`signRequest`): core's signing string with a clock and a random nonce.

use edgeauth_core::{signing, Reason};

use crate::error::SdkError;

/// A fresh nonce in seed 002's form (16 random bytes, 32 hex characters),
/// from the platform's CSPRNG (`crypto.getRandomValues` in wasm).
pub fn random_nonce() -> Result<String, SdkError> {
    let mut bytes = [0u8; 16];
    getrandom::getrandom(&mut bytes).map_err(|e| SdkError {
        status: 0,
        code: "RUNTIME".to_string(),
        reason: "no_randomness".to_string(),
        message: format!("no secure random source to make a nonce: {e}"),
        sign_in_again: false,
    })?;
    Ok(signing::nonce_from_random(&bytes))
}

/// The largest timestamp a JS number carries exactly.
const MAX_SAFE_INTEGER: f64 = 9_007_199_254_740_991.0;

/// Reads a caller-given timestamp (ms); fractions, negatives and non-numbers are refused.
pub fn timestamp_from_js_number(ms: f64) -> Result<u64, SdkError> {
    if (0.0..=MAX_SAFE_INTEGER).contains(&ms) && ms.fract() == 0.0 {
        // In range and whole, so the conversion is exact.
        Ok(ms as u64)
    } else {
        Err(SdkError::local(
            Reason::InvalidField,
            "timestamp: must be Unix time in whole milliseconds",
        ))
    }
}

/// The three `x-cli-*` headers for one request, byte-identical to seed 002's
/// Node function given the same timestamp and nonce.
pub fn sign_request(
    credential: &str,
    method: &str,
    path: &str,
    body: &[u8],
    timestamp_ms: u64,
    nonce: Option<String>,
) -> Result<[(&'static str, String); 3], SdkError> {
    let nonce = match nonce {
        Some(n) => n,
        None => random_nonce()?,
    };
    Ok(signing::sign(credential, method, path, body, timestamp_ms, &nonce).headers())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonces_are_fresh_and_in_the_seed_form() {
        let a = random_nonce().unwrap();
        let b = random_nonce().unwrap();
        assert_ne!(a, b);
        assert_eq!(a.len(), 32);
        assert!(a
            .bytes()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
    }

    // The vector core checks against seed 002's Node function (core/src/signing.rs).
    #[test]
    fn signs_like_the_seed() {
        let h = sign_request(
            "ea_live_0123456789abcdefghijABCDEFGHIJ0123456789",
            "POST",
            "/api/scans/trigger/r1",
            br#"{"branch":"main","force":true}"#,
            1_700_000_000_000,
            Some("0123456789abcdef0123456789abcdef".into()),
        )
        .unwrap();
        assert_eq!(
            h[0],
            (
                "x-cli-signature",
                "6f1a620ba2ef1e0ba75fac81c39a242215cae7f70352687c467af9b580f768ba".into()
            )
        );
        assert_eq!(h[1], ("x-cli-timestamp", "1700000000000".into()));
        assert_eq!(
            h[2],
            ("x-cli-nonce", "0123456789abcdef0123456789abcdef".into())
        );
    }

    #[test]
    fn timestamps_must_be_whole_milliseconds() {
        assert_eq!(
            timestamp_from_js_number(1_700_000_000_000.0).unwrap(),
            1_700_000_000_000
        );
        for bad in [-1.0, 1.5, f64::NAN, f64::INFINITY, 1e300] {
            assert!(timestamp_from_js_number(bad).is_err(), "{bad}");
        }
    }
}
