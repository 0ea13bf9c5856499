//! `decodeToken`: a JWT's claims as they are, plus `scopes`, with no verification.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use edgeauth_core::Reason;
use serde_json::{Map, Value};

use crate::error::SdkError;

/// Longest token looked at (core refuses longer credentials too).
const MAX_TOKEN_LEN: usize = edgeauth_core::credential::MAX_CREDENTIAL_LEN;

fn malformed(why: &str) -> SdkError {
    SdkError::local(Reason::MalformedCredential, format!("not a JWT: {why}"))
}

/// The payload of a compact JWS, unverified: for display and for deciding
/// when to refresh, never for trusting anything.
pub fn decode_claims(token: &str) -> Result<Map<String, Value>, SdkError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(malformed("too long"));
    }
    let mut parts = token.split('.');
    let (Some(_header), Some(payload), Some(_signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(malformed("expected three dot-separated segments"));
    };
    // Tolerate padding, which some encoders add although RFC 7515 omits it.
    let bytes = URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .map_err(|_| malformed("the payload is not base64url"))?;
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(claims)) => Ok(claims),
        _ => Err(malformed("the payload is not a JSON object")),
    }
}

/// The token's scopes as a list: SPEC's space-separated `scope`, else an
/// external issuer's `scp` (a list, or a space-separated string).
pub fn scopes_of(claims: &Map<String, Value>) -> Vec<String> {
    let words = |s: &str| s.split_whitespace().map(str::to_string).collect::<Vec<_>>();
    match (claims.get("scope"), claims.get("scp")) {
        (Some(Value::String(s)), _) => words(s),
        (_, Some(Value::String(s))) => words(s),
        (_, Some(Value::Array(list))) => list
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        _ => Vec::new(),
    }
}

/// What `decodeToken` returns: the claims unchanged, plus `scopes: string[]`.
pub fn decode_token(token: &str) -> Result<Map<String, Value>, SdkError> {
    let mut claims = decode_claims(token)?;
    let scopes = scopes_of(&claims).into_iter().map(Value::String).collect();
    claims.insert("scopes".to_string(), Value::Array(scopes));
    Ok(claims)
}

/// The token's `exp` in Unix seconds, if it has a numeric one.
pub fn expiry_s(token: &str) -> Option<i64> {
    let claims = decode_claims(token).ok()?;
    let exp = claims.get("exp")?;
    // `as` saturates, so an absurd float cannot wrap around.
    exp.as_i64().or_else(|| exp.as_f64().map(|f| f as i64))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A JWT-shaped string with this payload (the signature is not checked here).
    pub(crate) fn jwt(payload: &str) -> String {
        let enc = |s: &str| URL_SAFE_NO_PAD.encode(s);
        format!(
            "{}.{}.c2ln",
            enc(r#"{"alg":"ES256","kid":"k1"}"#),
            enc(payload)
        )
    }

    #[test]
    fn returns_the_claims_as_they_are_plus_scopes() {
        let t = jwt(
            r#"{"sub":"u1","exp":1700000000,"scope":"scans:read  drifts:*","tenants":{"demo":"admin"}}"#,
        );
        let c = decode_token(&t).unwrap();
        assert_eq!(c["sub"], "u1");
        assert_eq!(c["exp"], 1_700_000_000);
        assert_eq!(c["scope"], "scans:read  drifts:*");
        assert_eq!(c["tenants"]["demo"], "admin");
        assert_eq!(c["scopes"], serde_json::json!(["scans:read", "drifts:*"]));
        assert_eq!(expiry_s(&t), Some(1_700_000_000));
    }

    #[test]
    fn scopes_come_from_scp_or_are_empty() {
        let c = decode_token(&jwt(r#"{"scp":["a:read","b:write"]}"#)).unwrap();
        assert_eq!(c["scopes"], serde_json::json!(["a:read", "b:write"]));
        let c = decode_token(&jwt(r#"{"scp":"a:read b:write"}"#)).unwrap();
        assert_eq!(c["scopes"], serde_json::json!(["a:read", "b:write"]));
        let c = decode_token(&jwt(r#"{"sub":"x"}"#)).unwrap();
        assert_eq!(c["scopes"], serde_json::json!([]));
        assert_eq!(expiry_s(&jwt(r#"{"sub":"x"}"#)), None);
    }

    #[test]
    fn padding_is_tolerated() {
        let t = jwt(r#"{"a":1}"#);
        let mut parts: Vec<String> = t.split('.').map(str::to_string).collect();
        parts[1].push_str("==");
        assert_eq!(decode_token(&parts.join(".")).unwrap()["a"], 1);
    }

    #[test]
    fn refuses_what_is_not_a_jwt() {
        for bad in [
            "",
            "ea_live_0123456789abcdefghijABCDEFGHIJ012345",
            "a.b",
            "a.b.c.d",
            "x.!!!.y",
            &jwt("[1,2]"),
            &jwt("not json"),
        ] {
            let e = decode_token(bad).unwrap_err();
            assert_eq!(e.reason, "malformed_credential", "{bad}");
            assert_eq!(e.status, 401);
        }
        assert!(decode_token(&"a".repeat(MAX_TOKEN_LEN + 1)).is_err());
    }
}
