//! Reading an access token on the client side: its claims as they are, unverified (for
//! display and for deciding when to refresh, never for trusting anything).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{Map, Value};

use crate::claims::scope_words;
use crate::credential::MAX_CREDENTIAL_LEN;
use crate::error::{ApiError, Reason};

fn malformed(why: &str) -> ApiError {
    ApiError::with_message(Reason::MalformedCredential, format!("not a JWT: {why}"))
}

/// The payload of a compact JWS, unverified. Only the shape is checked: three
/// dot-separated segments whose second is base64url of a JSON object (padding is
/// tolerated, as some encoders add it). The header is not read: a client decides
/// nothing from it. Errors are 401 `malformed_credential`, as the worker would say.
pub fn unverified_claims(token: &str) -> Result<Map<String, Value>, ApiError> {
    if token.len() > MAX_CREDENTIAL_LEN {
        return Err(malformed("too long"));
    }
    let mut parts = token.split('.');
    let (Some(_header), Some(payload), Some(_signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(malformed("expected three dot-separated segments"));
    };
    let bytes = URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .map_err(|_| malformed("the payload is not base64url"))?;
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(claims)) => Ok(claims),
        _ => Err(malformed("the payload is not a JSON object")),
    }
}

/// The claims as `decodeToken` shows them: unchanged, plus `scopes` (a list of
/// strings, by the one rule in [`scope_words`]).
pub fn decoded(token: &str) -> Result<Map<String, Value>, ApiError> {
    let mut claims = unverified_claims(token)?;
    let scopes = scope_words(&claims)
        .into_iter()
        .map(|s| Value::String(s.to_string()))
        .collect();
    claims.insert("scopes".to_string(), Value::Array(scopes));
    Ok(claims)
}

/// The token's `exp`, in Unix seconds, when it has a numeric one.
pub fn expiry_s(token: &str) -> Option<i64> {
    let claims = unverified_claims(token).ok()?;
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
    fn claims_as_they_are_plus_scopes() {
        let t =
            jwt(r#"{"sub":"u1","exp":1700000000,"scope":"a:read  b:*","tenants":{"d":"admin"}}"#);
        let c = decoded(&t).unwrap();
        assert_eq!(c["sub"], "u1");
        assert_eq!(c["scope"], "a:read  b:*");
        assert_eq!(c["scopes"], serde_json::json!(["a:read", "b:*"]));
        assert_eq!(expiry_s(&t), Some(1_700_000_000));
        assert_eq!(expiry_s(&jwt(r#"{"exp":1.7e9}"#)), Some(1_700_000_000));
        assert_eq!(expiry_s(&jwt(r#"{"exp":"soon"}"#)), None);
    }

    #[test]
    fn padding_is_tolerated_and_non_jwts_are_malformed() {
        let t = jwt(r#"{"a":1}"#);
        let mut parts: Vec<String> = t.split('.').map(str::to_string).collect();
        parts[1].push_str("==");
        assert_eq!(unverified_claims(&parts.join(".")).unwrap()["a"], 1);
        for bad in ["", "a.b", "a.b.c.d", "x.!!!.y", &jwt("[1]"), &jwt("nope")] {
            let e = unverified_claims(bad).unwrap_err();
            assert_eq!(e.reason, Reason::MalformedCredential, "{bad}");
            assert!(e.message.starts_with("not a JWT: "), "{}", e.message);
        }
        assert!(unverified_claims(&"a".repeat(MAX_CREDENTIAL_LEN + 1)).is_err());
    }
}
