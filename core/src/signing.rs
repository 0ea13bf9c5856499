//! Request signing (SPEC "Request signing", seed 002): the signing string, the `x-cli-*` headers, and their checks.

use crate::credential::{hex_lower, sha256_hex};
use crate::error::{ApiError, Reason};
use crate::mac::{hs256, hs256_verify};

/// Header carrying the hex HMAC-SHA256.
pub const SIGNATURE_HEADER: &str = "x-cli-signature";
/// Header carrying the Unix time in milliseconds.
pub const TIMESTAMP_HEADER: &str = "x-cli-timestamp";
/// Header carrying the one-time nonce.
pub const NONCE_HEADER: &str = "x-cli-nonce";

/// How far a request's timestamp may be from the worker's clock, either way.
pub const SIGNATURE_WINDOW_MS: u64 = 5 * 60 * 1000;

const NONCE_MIN: usize = 16;
const NONCE_MAX: usize = 128;
/// Millisecond timestamps have 13 digits until the year 2286.
const TIMESTAMP_MAX_DIGITS: usize = 15;

/// Hex SHA-256 of the raw body bytes (of the empty string when there is no body).
pub fn body_hash(body: &[u8]) -> String {
    sha256_hex(body)
}

/// `"{timestamp}:{nonce}:{METHOD}:{path}:{bodyHash}"`. `path_and_query` is the
/// request target as sent (pathname, plus `?query` when there is one); the
/// method is upper-cased, as it goes on the wire.
pub fn canonical_signing_string(
    timestamp_ms: u64,
    nonce: &str,
    method: &str,
    path_and_query: &str,
    body_hash: &str,
) -> String {
    format!(
        "{timestamp_ms}:{nonce}:{}:{path_and_query}:{body_hash}",
        method.to_ascii_uppercase()
    )
}

/// A nonce in the seed's form: 16 random bytes as 32 hex characters.
pub fn nonce_from_random(random: &[u8; 16]) -> String {
    hex_lower(random)
}

/// The three `x-cli-*` values of one signed request, checked for form.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignatureHeaders {
    signature: [u8; 32],
    timestamp_ms: u64,
    nonce: String,
}

fn invalid(message: String) -> ApiError {
    ApiError::with_message(Reason::SignatureInvalid, message)
}

fn decode_hex_32(s: &str) -> Option<[u8; 32]> {
    let bytes = s.as_bytes();
    if bytes.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (o, pair) in out.iter_mut().zip(bytes.chunks_exact(2)) {
        let hi = char::from(pair[0]).to_digit(16)?;
        let lo = char::from(pair[1]).to_digit(16)?;
        *o = u8::try_from(hi << 4 | lo).ok()?;
    }
    Some(out)
}

fn parse_timestamp(s: &str) -> Option<u64> {
    let canonical = !s.is_empty()
        && s.len() <= TIMESTAMP_MAX_DIGITS
        && s.bytes().all(|b| b.is_ascii_digit())
        && (s == "0" || !s.starts_with('0'));
    if canonical {
        s.parse().ok()
    } else {
        None
    }
}

fn is_valid_nonce(s: &str) -> bool {
    (NONCE_MIN..=NONCE_MAX).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

impl SignatureHeaders {
    /// Reads the `x-cli-*` headers. All absent is `Ok(None)` (an unsigned
    /// request). A malformed header, a signature without its timestamp or
    /// nonce, or a timestamp or nonce without a signature is 401
    /// `signature_invalid`, with a message naming the header: a signature that
    /// was attempted is never ignored.
    pub fn from_request(
        signature: Option<&str>,
        timestamp: Option<&str>,
        nonce: Option<&str>,
    ) -> Result<Option<SignatureHeaders>, ApiError> {
        let Some(signature) = signature else {
            return match (timestamp, nonce) {
                (None, None) => Ok(None),
                (Some(_), _) => Err(invalid(format!(
                    "{TIMESTAMP_HEADER} was sent without {SIGNATURE_HEADER}"
                ))),
                (None, Some(_)) => Err(invalid(format!(
                    "{NONCE_HEADER} was sent without {SIGNATURE_HEADER}"
                ))),
            };
        };
        let timestamp = timestamp
            .ok_or_else(|| invalid(format!("{SIGNATURE_HEADER} needs {TIMESTAMP_HEADER}")))?;
        let nonce =
            nonce.ok_or_else(|| invalid(format!("{SIGNATURE_HEADER} needs {NONCE_HEADER}")))?;
        let signature = decode_hex_32(signature).ok_or_else(|| {
            invalid(format!(
                "{SIGNATURE_HEADER} must be 64 hex characters (HMAC-SHA256)"
            ))
        })?;
        let timestamp_ms = parse_timestamp(timestamp).ok_or_else(|| {
            invalid(format!(
                "{TIMESTAMP_HEADER} must be Unix time in milliseconds"
            ))
        })?;
        if !is_valid_nonce(nonce) {
            return Err(invalid(format!(
                "{NONCE_HEADER} must be {NONCE_MIN} to {NONCE_MAX} characters of A-Z a-z 0-9 _ -"
            )));
        }
        Ok(Some(SignatureHeaders {
            signature,
            timestamp_ms,
            nonce: nonce.to_string(),
        }))
    }

    /// The signature as lower-case hex.
    pub fn signature_hex(&self) -> String {
        hex_lower(&self.signature)
    }

    /// The signed timestamp, Unix milliseconds.
    pub fn timestamp_ms(&self) -> u64 {
        self.timestamp_ms
    }

    /// The nonce.
    pub fn nonce(&self) -> &str {
        &self.nonce
    }

    /// The three headers to send, as (name, value) pairs.
    pub fn headers(&self) -> [(&'static str, String); 3] {
        [
            (SIGNATURE_HEADER, self.signature_hex()),
            (TIMESTAMP_HEADER, self.timestamp_ms.to_string()),
            (NONCE_HEADER, self.nonce.clone()),
        ]
    }

    /// Until when the nonce store must remember this nonce: once `now_ms`
    /// reaches this instant, [`check_window`] refuses the timestamp anyway.
    pub fn nonce_expires_at_ms(&self) -> u64 {
        self.timestamp_ms
            .saturating_add(SIGNATURE_WINDOW_MS)
            .saturating_add(1)
    }

    /// Checks the MAC over this request in constant time, else 401 `signature_invalid`.
    pub fn verify_mac(
        &self,
        credential: &str,
        method: &str,
        path_and_query: &str,
        body: &[u8],
    ) -> Result<(), ApiError> {
        let data = canonical_signing_string(
            self.timestamp_ms,
            &self.nonce,
            method,
            path_and_query,
            &body_hash(body),
        );
        if hs256_verify(credential.as_bytes(), data.as_bytes(), &self.signature) {
            Ok(())
        } else {
            Err(invalid(format!(
                "{SIGNATURE_HEADER} does not match this request"
            )))
        }
    }
}

/// Signs a request as seed 002's Node function does, with the timestamp and
/// nonce given (the caller reads its corrected clock and random source).
pub fn sign(
    credential: &str,
    method: &str,
    path_and_query: &str,
    body: &[u8],
    timestamp_ms: u64,
    nonce: &str,
) -> SignatureHeaders {
    let data = canonical_signing_string(
        timestamp_ms,
        nonce,
        method,
        path_and_query,
        &body_hash(body),
    );
    SignatureHeaders {
        signature: hs256(credential.as_bytes(), data.as_bytes()),
        timestamp_ms,
        nonce: nonce.to_string(),
    }
}

/// Whether `timestamp_ms` is within 5 minutes of `now_ms` (either way), else
/// 401 `timestamp_out_of_window`.
pub fn check_window(timestamp_ms: u64, now_ms: u64) -> Result<(), ApiError> {
    if timestamp_ms.abs_diff(now_ms) <= SIGNATURE_WINDOW_MS {
        Ok(())
    } else {
        Err(ApiError::new(Reason::TimestampOutOfWindow))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "ea_live_0123456789abcdefghijABCDEFGHIJ0123456789";
    const TS: u64 = 1_700_000_000_000;
    const NONCE: &str = "0123456789abcdef0123456789abcdef";
    const BODY: &[u8] = br#"{"branch":"main","force":true}"#;
    const PATH: &str = "/api/scans/trigger/r1";

    // Computed with seed 002's Node function (crypto.createHmac / createHash),
    // Date.now() and randomBytes replaced by the fixed values above:
    // signRequest(KEY, "POST", PATH, {branch: "main", force: true}).
    const NODE_SIGNATURE: &str = "6f1a620ba2ef1e0ba75fac81c39a242215cae7f70352687c467af9b580f768ba";
    const NODE_BODY_HASH: &str = "e3f5b68dec7a6740853191419a9207548d028b5f5414eb2a4c9653407da1523b";
    // The same for a GET with a query and no body (JSON.stringify(undefined) || '').
    const NODE_GET_SIGNATURE: &str =
        "5d8581826646841fcf6a2aff24987fa74d6c0d291d5d0a4b2e727bcbac731d52";

    fn signed() -> SignatureHeaders {
        sign(KEY, "POST", PATH, BODY, TS, NONCE)
    }

    #[test]
    fn reproduces_the_seed_node_function() {
        assert_eq!(body_hash(BODY), NODE_BODY_HASH);
        assert_eq!(
            canonical_signing_string(TS, NONCE, "POST", PATH, NODE_BODY_HASH),
            format!("1700000000000:{NONCE}:POST:{PATH}:{NODE_BODY_HASH}")
        );
        let h = signed();
        assert_eq!(h.signature_hex(), NODE_SIGNATURE);
        assert_eq!(
            h.headers(),
            [
                ("x-cli-signature", NODE_SIGNATURE.to_string()),
                ("x-cli-timestamp", "1700000000000".to_string()),
                ("x-cli-nonce", NONCE.to_string()),
            ]
        );
        let get = sign(
            KEY,
            "GET",
            "/api/drifts?status=detected&severity=high",
            b"",
            TS,
            "fedcba9876543210fedcba9876543210",
        );
        assert_eq!(get.signature_hex(), NODE_GET_SIGNATURE);
    }

    // RFC 4231 test cases 3, 4, 5 and 7 for the MAC behind signatures
    // (mac.rs checks cases 1, 2 and 6).
    #[test]
    fn hmac_sha256_matches_rfc_4231() {
        let hex = |key: &[u8], data: &[u8]| hex_lower(&hs256(key, data));
        assert_eq!(
            hex(&[0xaa; 20], &[0xdd; 50]),
            "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"
        );
        let key4: Vec<u8> = (1..=25).collect();
        assert_eq!(
            hex(&key4, &[0xcd; 50]),
            "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"
        );
        // Case 5 is a 128-bit truncation: edgeauth never accepts a truncated tag.
        let full = hs256(&[0x0c; 20], b"Test With Truncation");
        assert_eq!(hex_lower(&full[..16]), "a3b6167473100ee06e0c796c2955552b");
        assert!(!hs256_verify(
            &[0x0c; 20],
            b"Test With Truncation",
            &full[..16]
        ));
        assert!(hs256_verify(&[0x0c; 20], b"Test With Truncation", &full));
        assert_eq!(
            hex(
                &[0xaa; 131],
                b"This is a test using a larger than block-size key and a larger than block-size \
                  data. The key needs to be hashed before being used by the HMAC algorithm."
            ),
            "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"
        );
    }

    #[test]
    fn empty_body_hashes_the_empty_string() {
        assert_eq!(
            body_hash(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn method_is_upper_cased() {
        assert_eq!(sign(KEY, "post", PATH, BODY, TS, NONCE), signed());
    }

    #[test]
    fn headers_round_trip_and_verify() {
        let h = signed();
        let [(_, sig), (_, ts), (_, nonce)] = h.headers();
        let parsed = SignatureHeaders::from_request(Some(&sig), Some(&ts), Some(&nonce))
            .unwrap()
            .unwrap();
        assert_eq!(parsed, h);
        assert_eq!(parsed.verify_mac(KEY, "POST", PATH, BODY), Ok(()));
        let upper =
            SignatureHeaders::from_request(Some(&sig.to_uppercase()), Some(&ts), Some(&nonce))
                .unwrap()
                .unwrap();
        assert_eq!(upper, h);
    }

    #[test]
    fn any_change_breaks_the_mac() {
        let h = signed();
        let bad =
            |r: Result<(), ApiError>| assert_eq!(r.unwrap_err().reason, Reason::SignatureInvalid);
        bad(h.verify_mac(
            "ea_live_other0123456789abcdefghijABCDEFGHIJ01",
            "POST",
            PATH,
            BODY,
        ));
        bad(h.verify_mac(KEY, "PUT", PATH, BODY));
        bad(h.verify_mac(KEY, "POST", "/api/scans/trigger/r2", BODY));
        bad(h.verify_mac(KEY, "POST", "/api/scans/trigger/r1?x=1", BODY));
        bad(h.verify_mac(KEY, "POST", PATH, br#"{"branch":"main","force":false}"#));
        bad(h.verify_mac(KEY, "POST", PATH, b""));
        let mut other_nonce = h.clone();
        other_nonce.nonce = "ffffffffffffffffffffffffffffffff".into();
        bad(other_nonce.verify_mac(KEY, "POST", PATH, BODY));
        let mut other_ts = h.clone();
        other_ts.timestamp_ms += 1;
        bad(other_ts.verify_mac(KEY, "POST", PATH, BODY));
        let mut flipped = h;
        flipped.signature[31] ^= 1;
        bad(flipped.verify_mac(KEY, "POST", PATH, BODY));
    }

    #[test]
    fn header_presence_rules() {
        let sig = NODE_SIGNATURE;
        let parse = SignatureHeaders::from_request;
        assert_eq!(parse(None, None, None), Ok(None));
        for (s, t, n, names) in [
            (Some(sig), None, Some(NONCE), TIMESTAMP_HEADER),
            (Some(sig), Some("1700000000000"), None, NONCE_HEADER),
            (Some(sig), None, None, TIMESTAMP_HEADER),
            (None, Some("1700000000000"), None, TIMESTAMP_HEADER),
            (None, None, Some(NONCE), NONCE_HEADER),
            (None, Some("1700000000000"), Some(NONCE), SIGNATURE_HEADER),
        ] {
            let e = parse(s, t, n).unwrap_err();
            assert_eq!(e.reason, Reason::SignatureInvalid);
            assert!(e.message.contains(names), "{}", e.message);
        }
    }

    #[test]
    fn malformed_headers_are_signature_invalid_naming_the_header() {
        let ts = "1700000000000";
        let cases: [(&str, &str, &str, &str); 14] = [
            ("", ts, NONCE, SIGNATURE_HEADER),
            ("abc", ts, NONCE, SIGNATURE_HEADER),
            (&NODE_SIGNATURE[..63], ts, NONCE, SIGNATURE_HEADER),
            (
                "g1a620ba2ef1e0ba75fac81c39a242215cae7f70352687c467af9b580f768ba",
                ts,
                NONCE,
                SIGNATURE_HEADER,
            ),
            (
                "+f1a620ba2ef1e0ba75fac81c39a242215cae7f70352687c467af9b580f768ba",
                ts,
                NONCE,
                SIGNATURE_HEADER,
            ),
            (NODE_SIGNATURE, "", NONCE, TIMESTAMP_HEADER),
            (NODE_SIGNATURE, "1700000000.5", NONCE, TIMESTAMP_HEADER),
            (NODE_SIGNATURE, "-1700000000000", NONCE, TIMESTAMP_HEADER),
            (NODE_SIGNATURE, "01700000000000", NONCE, TIMESTAMP_HEADER),
            (
                NODE_SIGNATURE,
                "99999999999999999999",
                NONCE,
                TIMESTAMP_HEADER,
            ),
            (NODE_SIGNATURE, ts, "short", NONCE_HEADER),
            (
                NODE_SIGNATURE,
                ts,
                "0123456789abcdef0123456789abcde!",
                NONCE_HEADER,
            ),
            (
                NODE_SIGNATURE,
                ts,
                "0123456789abcdef 123456789abcdef",
                NONCE_HEADER,
            ),
            (NODE_SIGNATURE, ts, &"a".repeat(129), NONCE_HEADER),
        ];
        for (s, t, n, header) in cases {
            let e = SignatureHeaders::from_request(Some(s), Some(t), Some(n)).unwrap_err();
            assert_eq!(e.reason, Reason::SignatureInvalid, "{s} {t} {n}");
            assert!(e.message.starts_with(header), "{}", e.message);
        }
        // Bounds of the nonce's length.
        assert!(SignatureHeaders::from_request(
            Some(NODE_SIGNATURE),
            Some(ts),
            Some(&"a".repeat(16))
        )
        .is_ok());
        assert!(SignatureHeaders::from_request(
            Some(NODE_SIGNATURE),
            Some(ts),
            Some(&"a".repeat(128))
        )
        .is_ok());
        assert!(SignatureHeaders::from_request(
            Some(NODE_SIGNATURE),
            Some(ts),
            Some(&"a".repeat(15))
        )
        .is_err());
    }

    #[test]
    fn window_is_five_minutes_either_way() {
        let now = TS;
        assert_eq!(check_window(now, now), Ok(()));
        assert_eq!(check_window(now - 300_000, now), Ok(()));
        assert_eq!(check_window(now + 300_000, now), Ok(()));
        for ts in [now - 300_001, now + 300_001, 0, u64::MAX] {
            assert_eq!(
                check_window(ts, now).unwrap_err().reason,
                Reason::TimestampOutOfWindow
            );
        }
    }

    #[test]
    fn a_nonce_is_kept_exactly_as_long_as_the_window_would_accept_it() {
        // The gate checks the window, then the MAC, then asks the nonce store
        // (see gate_tests); the store may forget a nonce at this instant because
        // the window refuses its timestamp from then on.
        let h = signed();
        let forget_at = h.nonce_expires_at_ms();
        assert_eq!(check_window(h.timestamp_ms(), forget_at - 1), Ok(()));
        assert_eq!(
            check_window(h.timestamp_ms(), forget_at)
                .unwrap_err()
                .reason,
            Reason::TimestampOutOfWindow
        );
    }

    #[test]
    fn nonce_from_random_is_the_seed_form() {
        let n = nonce_from_random(&[0xab; 16]);
        assert_eq!(n, "abababababababababababababababab");
        assert!(is_valid_nonce(&n));
    }
}
