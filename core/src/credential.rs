//! Credential formats (SPEC "Credentials"): the `Authorization` header, API keys, refresh tokens, ids.

use sha2::{Digest, Sha256};

use crate::error::{ApiError, Reason};

/// Live API keys start with this.
pub const LIVE_KEY_PREFIX: &str = "ea_live_";
/// Test API keys start with this.
pub const TEST_KEY_PREFIX: &str = "ea_test_";
/// Refresh tokens start with this.
pub const REFRESH_TOKEN_PREFIX: &str = "ea_rt_";
/// The single-use tokens of email links (verification, reset, sign-in) start with this.
pub const EMAIL_TOKEN_PREFIX: &str = "ea_et_";

/// Random base62 characters after the prefix of a generated API key (≈ 238 bits).
pub const API_KEY_RANDOM_CHARS: usize = 40;
/// Random base62 characters after `ea_rt_` in a generated refresh token (≈ 256 bits).
pub const REFRESH_TOKEN_RANDOM_CHARS: usize = 43;
/// Base62 characters after the prefix of a generated id (≈ 119 bits).
pub const ID_RANDOM_CHARS: usize = 20;

/// Random bytes to pass to [`generate_api_key`] and [`generate_refresh_token`]:
/// rejection sampling keeps 62/64 of the bytes on average, so 64 bytes fall
/// short of 43 characters with a probability below 10⁻¹⁸.
pub const TOKEN_RANDOM_BYTES: usize = 64;
/// Random bytes to pass to [`generate_id`].
pub const ID_RANDOM_BYTES: usize = 48;

/// Longest credential looked at: larger values are refused before any parsing
/// (SPEC's tokens are well under 2 KB; a tenant-heavy access token stays far below this).
pub const MAX_CREDENTIAL_LEN: usize = 16 * 1024;

/// The characters an API key's key part may hold at least and at most.
const API_KEY_MIN_CHARS: usize = 32;
const API_KEY_MAX_CHARS: usize = 64;
const REFRESH_TOKEN_MAX_CHARS: usize = 128;
/// How many characters of a key the API shows as its `prefix`.
pub const API_KEY_PREFIX_LEN: usize = 12;

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Takes the credential out of an `Authorization` header value.
///
/// No header is `missing_credential`. Anything but `Bearer` (in any case),
/// one space and a non-empty RFC 6750 `b64token` is `malformed_credential`.
pub fn parse_authorization(header: Option<&str>) -> Result<&str, ApiError> {
    let header = header.ok_or_else(|| ApiError::new(Reason::MissingCredential))?;
    let malformed = || {
        ApiError::with_message(
            Reason::MalformedCredential,
            "Authorization must be 'Bearer <credential>'",
        )
    };
    let scheme = header.get(..6).ok_or_else(malformed)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(malformed());
    }
    let credential = header
        .get(6..)
        .and_then(|rest| rest.strip_prefix(' '))
        .ok_or_else(malformed)?;
    check_credential_chars(credential)
}

/// Checks that a credential (from the header or from `?token=`) is a
/// non-empty RFC 6750 `b64token` of bounded length, else `malformed_credential`.
pub fn check_credential_chars(credential: &str) -> Result<&str, ApiError> {
    let b64token = |c: &str| {
        let body = c.trim_end_matches('=');
        !body.is_empty()
            && body.bytes().all(|b| {
                b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/')
            })
    };
    if credential.len() > MAX_CREDENTIAL_LEN || !b64token(credential) {
        return Err(ApiError::new(Reason::MalformedCredential));
    }
    Ok(credential)
}

/// Whether an API key is live or for tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ApiKeyEnv {
    Live,
    Test,
}

impl ApiKeyEnv {
    /// `ea_live_` or `ea_test_`.
    pub fn prefix(self) -> &'static str {
        match self {
            ApiKeyEnv::Live => LIVE_KEY_PREFIX,
            ApiKeyEnv::Test => TEST_KEY_PREFIX,
        }
    }
}

/// What a bearer credential looks like, judged by its shape alone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CredentialForm {
    /// Three non-empty base64url segments: an access token or an external JWT.
    Jwt,
    /// `ea_live_`/`ea_test_` and 32–64 base62 characters.
    ApiKey(ApiKeyEnv),
}

impl CredentialForm {
    /// Classifies a bearer credential; anything else is `malformed_credential`
    /// (a refresh token is not a bearer credential). A string that starts like
    /// an API key but is not one is refused without a store read, and its
    /// length is checked before its characters.
    pub fn classify(credential: &str) -> Result<CredentialForm, ApiError> {
        let malformed = |why: &str| ApiError::with_message(Reason::MalformedCredential, why);
        for env in [ApiKeyEnv::Live, ApiKeyEnv::Test] {
            if let Some(rest) = credential.strip_prefix(env.prefix()) {
                return if is_api_key_body(rest) {
                    Ok(CredentialForm::ApiKey(env))
                } else {
                    Err(malformed(
                        "an API key is ea_live_ or ea_test_ and 32 to 64 letters and digits",
                    ))
                };
            }
        }
        if is_jwt_shape(credential) {
            return Ok(CredentialForm::Jwt);
        }
        Err(malformed("the credential is neither a JWT nor an API key"))
    }
}

fn is_api_key_body(rest: &str) -> bool {
    (API_KEY_MIN_CHARS..=API_KEY_MAX_CHARS).contains(&rest.len()) && is_base62(rest)
}

fn is_base62(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// Three base64url segments, the header and payload non-empty. The signature may
/// be empty: an unsigned (`alg: none`) token is still a JWT in form, and the
/// algorithm step, not the format step, must name what is wrong with it.
fn is_jwt_shape(s: &str) -> bool {
    if s.len() > MAX_CREDENTIAL_LEN {
        return false;
    }
    let mut count = 0;
    for segment in s.split('.') {
        count += 1;
        if count > 3
            || (segment.is_empty() && count < 3)
            || !segment
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return false;
        }
    }
    count == 3
}

/// Maps random bytes to `n` base62 characters by rejection sampling: bytes
/// 248..=255 are skipped so that each character is uniform (248 = 4 × 62).
/// `None` if the bytes run out first.
fn base62_from_random(random: &[u8], n: usize) -> Option<String> {
    const LIMIT: u8 = 248;
    let out: String = random
        .iter()
        .filter(|&&b| b < LIMIT)
        .take(n)
        .map(|&b| char::from(BASE62[usize::from(b % 62)]))
        .collect();
    (out.len() == n).then_some(out)
}

/// A new API key: `ea_live_`/`ea_test_` and 40 base62 characters drawn from
/// `random` (pass [`TOKEN_RANDOM_BYTES`] bytes from a CSPRNG). `None` if they
/// run out, which with 64 bytes does not happen in practice.
pub fn generate_api_key(env: ApiKeyEnv, random: &[u8]) -> Option<String> {
    let body = base62_from_random(random, API_KEY_RANDOM_CHARS)?;
    Some(format!("{}{body}", env.prefix()))
}

/// The part of a key the API shows (`ea_live_` and 4 more characters).
pub fn api_key_prefix(key: &str) -> String {
    key.chars().take(API_KEY_PREFIX_LEN).collect()
}

/// A new refresh token: `ea_rt_` and 43 base62 characters (pass
/// [`TOKEN_RANDOM_BYTES`] random bytes). `None` if the bytes run out.
pub fn generate_refresh_token(random: &[u8]) -> Option<String> {
    let body = base62_from_random(random, REFRESH_TOKEN_RANDOM_CHARS)?;
    Some(format!("{REFRESH_TOKEN_PREFIX}{body}"))
}

/// A refresh token derived from 32 bytes (a MAC or a hash) rather than
/// sampled: the bytes, read as one 256-bit number, written in 43 base62
/// digits (62⁴³ > 2²⁵⁶, so distinct bytes give distinct tokens). For a
/// successor token that must come out the same each time it is computed.
pub fn refresh_token_from_bytes(bytes: &[u8; 32]) -> String {
    let mut number = *bytes;
    let mut digits = [0u8; REFRESH_TOKEN_RANDOM_CHARS];
    for digit in digits.iter_mut().rev() {
        // Long division of the big-endian number by 62.
        let mut rem: u32 = 0;
        for byte in number.iter_mut() {
            let acc = (rem << 8) | u32::from(*byte);
            // rem < 62, so acc < 62 × 256 and the quotient fits a byte.
            *byte = (acc / 62) as u8;
            rem = acc % 62;
        }
        *digit = BASE62[rem as usize];
    }
    let body: String = digits.iter().map(|&d| char::from(d)).collect();
    format!("{REFRESH_TOKEN_PREFIX}{body}")
}

/// Whether a string has the shape of a refresh token (`ea_rt_` and 32–128
/// base62 characters), so malformed ones are refused without a store read.
pub fn is_refresh_token_format(token: &str) -> bool {
    token
        .strip_prefix(REFRESH_TOKEN_PREFIX)
        .is_some_and(|rest| {
            (API_KEY_MIN_CHARS..=REFRESH_TOKEN_MAX_CHARS).contains(&rest.len()) && is_base62(rest)
        })
}

/// A new email-link token: `ea_et_` and 43 base62 characters (pass
/// [`TOKEN_RANDOM_BYTES`] random bytes). `None` if the bytes run out.
pub fn generate_email_token(random: &[u8]) -> Option<String> {
    let body = base62_from_random(random, REFRESH_TOKEN_RANDOM_CHARS)?;
    Some(format!("{EMAIL_TOKEN_PREFIX}{body}"))
}

/// Whether a string has the shape of an email-link token (`ea_et_` and
/// 32–128 base62 characters), so malformed ones are refused without a store read.
pub fn is_email_token_format(token: &str) -> bool {
    token.strip_prefix(EMAIL_TOKEN_PREFIX).is_some_and(|rest| {
        (API_KEY_MIN_CHARS..=REFRESH_TOKEN_MAX_CHARS).contains(&rest.len()) && is_base62(rest)
    })
}

/// Lower-case hex SHA-256 of a credential: the KV key of an API key record,
/// the stored form of refresh tokens, the name of a credential's nonce object.
pub fn credential_hash(credential: &str) -> String {
    sha256_hex(credential.as_bytes())
}

/// A new id such as `usr_…`, `key_…`, `ses_…`: `prefix` (without the
/// underscore), `_`, and 20 base62 characters (pass [`ID_RANDOM_BYTES`] random bytes).
pub fn generate_id(prefix: &str, random: &[u8]) -> Option<String> {
    let body = base62_from_random(random, ID_RANDOM_CHARS)?;
    Some(format!("{prefix}_{body}"))
}

/// Lower-case hex SHA-256.
pub(crate) fn sha256_hex(data: &[u8]) -> String {
    hex_lower(&Sha256::digest(data))
}

/// Lower-case hex.
pub(crate) fn hex_lower(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(HEX[usize::from(b >> 4)]));
        s.push(char::from(HEX[usize::from(b & 0x0f)]));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason<T: std::fmt::Debug>(r: Result<T, ApiError>) -> Reason {
        r.unwrap_err().reason
    }

    const KEY40: &str = "ea_live_0123456789abcdefghijABCDEFGHIJ0123456789";

    #[test]
    fn authorization_header_forms() {
        assert_eq!(
            parse_authorization(Some("Bearer abc.def.ghi")),
            Ok("abc.def.ghi")
        );
        assert_eq!(parse_authorization(Some("bearer abc")), Ok("abc"));
        assert_eq!(parse_authorization(Some("BEARER abc")), Ok("abc"));
        assert_eq!(parse_authorization(Some("Bearer abc==")), Ok("abc=="));
        assert_eq!(reason(parse_authorization(None)), Reason::MissingCredential);
        for bad in [
            "",
            "Bearer",
            "Bearer ",
            "Bearer  abc",
            "Bearerabc",
            "Basic dXNlcjpwYXNz",
            "Bearer a b",
            "Bearer abc ",
            "Bearer\tabc",
            "Token abc",
            "Bearer ===",
            "Bearer a=b",
            "Bearer é",
            "Bear",
            "Bearer \"abc\"",
        ] {
            assert_eq!(
                reason(parse_authorization(Some(bad))),
                Reason::MalformedCredential,
                "{bad:?}"
            );
        }
        let huge = format!("Bearer {}", "a".repeat(MAX_CREDENTIAL_LEN + 1));
        assert_eq!(
            reason(parse_authorization(Some(&huge))),
            Reason::MalformedCredential
        );
        // Multi-byte characters where the scheme would end must not panic.
        assert_eq!(
            reason(parse_authorization(Some("Beaéer x"))),
            Reason::MalformedCredential
        );
        assert_eq!(
            reason(parse_authorization(Some("Beareé x"))),
            Reason::MalformedCredential
        );
    }

    #[test]
    fn classifies_jwts_and_api_keys() {
        assert_eq!(
            CredentialForm::classify("eyJh.eyJz.c2ln"),
            Ok(CredentialForm::Jwt)
        );
        assert_eq!(
            CredentialForm::classify("a-_b.c.d"),
            Ok(CredentialForm::Jwt)
        );
        assert_eq!(
            CredentialForm::classify(KEY40),
            Ok(CredentialForm::ApiKey(ApiKeyEnv::Live))
        );
        let test_key = format!("ea_test_{}", "A".repeat(32));
        assert_eq!(
            CredentialForm::classify(&test_key),
            Ok(CredentialForm::ApiKey(ApiKeyEnv::Test))
        );
        assert!(CredentialForm::classify(&format!("ea_live_{}", "z".repeat(64))).is_ok());
        // An unsigned token (`alg: none`) has an empty third segment: still a JWT in
        // form, refused later as `algorithm_not_allowed`.
        assert_eq!(
            CredentialForm::classify("eyJh.eyJz."),
            Ok(CredentialForm::Jwt)
        );
        for bad in [".eyJz.c2ln", "eyJh..c2ln", "..", "eyJh.eyJz"] {
            assert_eq!(
                CredentialForm::classify(bad).map_err(|e| e.reason),
                Err(Reason::MalformedCredential),
                "{bad}"
            );
        }
    }

    #[test]
    fn refuses_everything_else_as_malformed() {
        let long_key = format!("ea_live_{}", "a".repeat(10_000));
        for bad in [
            "a.b",
            "a.b.c.d",
            "a..c",
            ".b.c",
            "a.b+.c",
            "a.b=.c",
            "plain",
            "",
            "ea_live_",
            "ea_live_short",
            "ea_live_0123456789abcdefghijABCDEFGHIJ_1234",
            "ea_live_0123456789abcdefghijABCDEFGHIJ-1234",
            "ea_prod_0123456789abcdefghijABCDEFGHIJ0123456789",
            "ea_rt_0123456789abcdefghijABCDEFGHIJ0123456789",
            &long_key,
        ] {
            assert_eq!(
                reason(CredentialForm::classify(bad)),
                Reason::MalformedCredential,
                "{bad}"
            );
        }
        assert_eq!(
            reason(CredentialForm::classify(&format!(
                "ea_live_{}",
                "a".repeat(31)
            ))),
            Reason::MalformedCredential
        );
        assert_eq!(
            reason(CredentialForm::classify(&format!(
                "ea_live_{}",
                "a".repeat(65)
            ))),
            Reason::MalformedCredential
        );
        let huge_jwt = format!("a.{}.c", "b".repeat(MAX_CREDENTIAL_LEN));
        assert_eq!(
            reason(CredentialForm::classify(&huge_jwt)),
            Reason::MalformedCredential
        );
    }

    #[test]
    fn generated_keys_have_the_spec_shape() {
        let random: Vec<u8> = (0..64u8).map(|i| i.wrapping_mul(37)).collect();
        let key = generate_api_key(ApiKeyEnv::Live, &random).unwrap();
        assert_eq!(key.len(), 8 + 40);
        assert_eq!(
            CredentialForm::classify(&key),
            Ok(CredentialForm::ApiKey(ApiKeyEnv::Live))
        );
        assert_eq!(api_key_prefix(&key), key[..12]);
        assert!(api_key_prefix(&key).starts_with("ea_live_"));
        let test = generate_api_key(ApiKeyEnv::Test, &random).unwrap();
        assert!(test.starts_with("ea_test_"));
        assert_eq!(test[8..], key[8..]);
    }

    #[test]
    fn sampling_is_unbiased_and_deterministic() {
        // Bytes 0..=247 map to BASE62[b % 62]; 248..=255 are skipped.
        let random = [0u8, 61, 62, 248, 255, 123, 247];
        assert_eq!(base62_from_random(&random, 5).as_deref(), Some("0z0zz"));
        // Every character is hit exactly 4 times by the 248 accepted byte values.
        let all: Vec<u8> = (0..=255u8).collect();
        let s = base62_from_random(&all, 248).unwrap();
        for c in BASE62 {
            assert_eq!(s.bytes().filter(|b| b == c).count(), 4);
        }
        assert_eq!(base62_from_random(&all, 249), None);
    }

    #[test]
    fn running_out_of_random_bytes_is_none() {
        assert_eq!(generate_api_key(ApiKeyEnv::Live, &[1u8; 39]), None);
        assert_eq!(generate_api_key(ApiKeyEnv::Live, &[255u8; 64]), None);
        assert_eq!(generate_refresh_token(&[1u8; 42]), None);
        assert_eq!(generate_id("usr", &[]), None);
    }

    #[test]
    fn refresh_tokens() {
        let random: Vec<u8> = (0..64u8).collect();
        let rt = generate_refresh_token(&random).unwrap();
        assert_eq!(rt.len(), 6 + 43);
        assert!(is_refresh_token_format(&rt));
        assert!(!is_refresh_token_format("ea_rt_short"));
        assert!(!is_refresh_token_format(KEY40));
        assert!(!is_refresh_token_format(&format!(
            "ea_rt_{}",
            "a".repeat(129)
        )));
        assert!(!is_refresh_token_format(&format!(
            "ea_rt_{}!",
            "a".repeat(40)
        )));
        // A refresh token is not a bearer credential.
        assert_eq!(
            reason(CredentialForm::classify(&rt)),
            Reason::MalformedCredential
        );
    }

    #[test]
    fn derived_refresh_tokens_are_base62_encodings() {
        let zero = refresh_token_from_bytes(&[0; 32]);
        assert_eq!(zero, format!("ea_rt_{}", "0".repeat(43)));
        let mut one = [0u8; 32];
        one[31] = 61;
        assert_eq!(
            refresh_token_from_bytes(&one),
            format!("ea_rt_{}z", "0".repeat(42))
        );
        one[31] = 62;
        assert_eq!(
            refresh_token_from_bytes(&one),
            format!("ea_rt_{}10", "0".repeat(41))
        );
        // Vectors from an independent big-integer conversion (Python's int).
        let max = refresh_token_from_bytes(&[0xff; 32]);
        assert_eq!(max, "ea_rt_yhjskwdA6OZ1AL1YmHWZWm8LLG7HjnuCA2j5rOw8Xp1");
        assert!(is_refresh_token_format(&max));
        assert_eq!(
            refresh_token_from_bytes(&[0xab; 32]),
            "ea_rt_ehv1hsdOHPxDuX3xn9YyIKbgl4yJuySCWzdimD4heup"
        );
        assert_ne!(
            refresh_token_from_bytes(&[1; 32]),
            refresh_token_from_bytes(&[2; 32])
        );
    }

    #[test]
    fn email_tokens() {
        let random: Vec<u8> = (0..64).collect();
        let t = generate_email_token(&random).unwrap();
        assert!(t.starts_with("ea_et_") && t.len() == 6 + 43, "{t}");
        assert!(is_email_token_format(&t));
        assert!(is_email_token_format(&format!("ea_et_{}", "a".repeat(32))));
        for bad in [
            format!("ea_et_{}", "a".repeat(31)),
            format!("ea_et_{}", "a".repeat(129)),
            format!("ea_rt_{}", "a".repeat(40)),
            format!("ea_et_{}-", "a".repeat(40)),
            String::new(),
        ] {
            assert!(!is_email_token_format(&bad), "{bad}");
        }
        assert_eq!(generate_email_token(&[0u8; 10]), None);
    }

    #[test]
    fn ids() {
        let random: Vec<u8> = (100..148u8).collect();
        let id = generate_id("usr", &random).unwrap();
        assert!(id.starts_with("usr_"));
        assert_eq!(id.len(), 4 + 20);
        assert!(id[4..].bytes().all(|b| b.is_ascii_alphanumeric()));
    }

    #[test]
    fn hashes_are_lower_hex_sha256() {
        assert_eq!(
            credential_hash(""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            credential_hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(hex_lower(&[0x00, 0x0f, 0xa5, 0xff]), "000fa5ff");
    }
}
