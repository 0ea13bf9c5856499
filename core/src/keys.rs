//! The worker's signing key set: private P-256 JWKs with one active `kid`, and the public JWKS.

use serde::Deserialize;
use serde_json::{json, Value};

use crate::secret::Secret;

/// One private ES256 key as a JWK. `d` never leaves this type unredacted.
#[derive(Clone, Debug)]
pub struct PrivateJwk {
    pub kid: String,
    pub x: String,
    pub y: String,
    d: Secret,
}

impl PrivateJwk {
    /// The JWK WebCrypto imports for signing (includes `d`).
    pub fn dangerous_private_jwk(&self) -> Value {
        json!({"kty": "EC", "crv": "P-256", "x": self.x, "y": self.y, "d": self.d.expose(), "ext": false})
    }

    /// The public half, as published at `/.well-known/jwks.json`.
    pub fn public_jwk(&self) -> Value {
        json!({"kty": "EC", "crv": "P-256", "x": self.x, "y": self.y, "kid": self.kid, "alg": "ES256", "use": "sig"})
    }
}

/// The parsed `SIGNING_KEYS` secret.
#[derive(Clone, Debug)]
pub struct SigningKeySet {
    active: usize,
    keys: Vec<PrivateJwk>,
}

#[derive(Deserialize)]
struct RawSet {
    active_kid: String,
    keys: Vec<RawJwk>,
}

#[derive(Deserialize)]
struct RawJwk {
    kty: String,
    crv: String,
    kid: String,
    x: String,
    y: String,
    d: String,
}

impl SigningKeySet {
    /// Parses `{"active_kid": "...", "keys": [private P-256 JWKs with kid]}`.
    pub fn from_json(s: &str) -> Result<Self, String> {
        let raw: RawSet = serde_json::from_str(s).map_err(|e| format!("SIGNING_KEYS: {e}"))?;
        let mut keys = Vec::with_capacity(raw.keys.len());
        for k in raw.keys {
            if k.kty != "EC" || k.crv != "P-256" {
                return Err(format!(
                    "SIGNING_KEYS: key {} is not an EC P-256 key",
                    k.kid
                ));
            }
            keys.push(PrivateJwk {
                kid: k.kid,
                x: k.x,
                y: k.y,
                d: Secret::new(k.d),
            });
        }
        let active = keys
            .iter()
            .position(|k| k.kid == raw.active_kid)
            .ok_or_else(|| format!("SIGNING_KEYS: active_kid {} is not in keys", raw.active_kid))?;
        Ok(SigningKeySet { active, keys })
    }

    /// The key new tokens are signed with.
    pub fn active(&self) -> &PrivateJwk {
        &self.keys[self.active]
    }

    /// Every key, so tokens signed before a rotation still verify.
    pub fn keys(&self) -> &[PrivateJwk] {
        &self.keys
    }

    /// `{"keys": [...]}`, public halves only.
    pub fn public_jwks(&self) -> Value {
        json!({"keys": self.keys.iter().map(PrivateJwk::public_jwk).collect::<Vec<_>>()})
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SET: &str = r#"{"active_kid": "b", "keys": [
        {"kty": "EC", "crv": "P-256", "kid": "a", "x": "xa", "y": "ya", "d": "SECRET-A"},
        {"kty": "EC", "crv": "P-256", "kid": "b", "x": "xb", "y": "yb", "d": "SECRET-B"}]}"#;

    #[test]
    fn publishes_every_key_without_private_parts() {
        let set = SigningKeySet::from_json(SET).unwrap();
        assert_eq!(set.active().kid, "b");
        let jwks = set.public_jwks().to_string();
        assert!(jwks.contains(r#""kid":"a""#) && jwks.contains(r#""kid":"b""#));
        assert!(!jwks.contains("SECRET"));
        assert!(!format!("{set:?}").contains("SECRET"));
    }

    #[test]
    fn refuses_a_missing_active_key_and_other_curves() {
        assert!(SigningKeySet::from_json(
            &SET.replace(r#""active_kid": "b""#, r#""active_kid": "z""#)
        )
        .is_err());
        assert!(SigningKeySet::from_json(&SET.replace("P-256", "P-384")).is_err());
    }
}
