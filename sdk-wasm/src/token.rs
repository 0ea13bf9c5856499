//! `decodeToken`: a JWT's claims as they are, plus `scopes`, with no verification (the
//! client core's reading, so that the SDK, the CLI and the gateway see the same scopes).

use edgeauth_core::client::token;
use serde_json::{Map, Value};

use crate::error::SdkError;

/// What `decodeToken` returns: the claims unchanged, plus `scopes: string[]`.
pub fn decode_token(token: &str) -> Result<Map<String, Value>, SdkError> {
    token::decoded(token).map_err(SdkError::from)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine as _;

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
    }

    #[test]
    fn scopes_follow_the_one_rule_the_gateway_uses() {
        let c = decode_token(&jwt(r#"{"scp":["a:read","b:write"]}"#)).unwrap();
        assert_eq!(c["scopes"], serde_json::json!(["a:read", "b:write"]));
        let c = decode_token(&jwt(r#"{"scp":"a:read b:write"}"#)).unwrap();
        assert_eq!(c["scopes"], serde_json::json!(["a:read", "b:write"]));
        // A `scope` of another type grants nothing, at the gateway and here alike.
        let c = decode_token(&jwt(r#"{"scope":["x"],"scp":"a:read"}"#)).unwrap();
        assert_eq!(c["scopes"], serde_json::json!([]));
        let c = decode_token(&jwt(r#"{"sub":"x"}"#)).unwrap();
        assert_eq!(c["scopes"], serde_json::json!([]));
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
    }
}
