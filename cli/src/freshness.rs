//! When a stored session refreshes itself: less than 5 minutes left, and a refresh token that may still work.

use edgeauth_core::jwt::Unverified;
use serde_json::{Map, Value};

use crate::config::CredentialKind;

/// Refresh when less than this many seconds of the access token remain (SPEC "CLI").
pub const REFRESH_MARGIN_S: i64 = 5 * 60;

/// The claims of a JWT, read without verifying anything: for display and for
/// deciding when to refresh, never for trusting what they say.
pub fn unverified_claims(token: &str) -> Option<Map<String, Value>> {
    Unverified::parse(token)
        .ok()
        .map(|t| t.dangerous_unchecked_claims().clone())
}

/// `exp` of a JWT (Unix seconds), unverified.
pub fn token_exp(token: &str) -> Option<i64> {
    unverified_claims(token)?.get("exp")?.as_i64()
}

/// What to do with the stored credential before using it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Plan {
    /// Send it as it is.
    UseAsIs,
    /// Refresh it first with the stored refresh token.
    RefreshFirst,
}

/// What is known about a credential when deciding.
#[derive(Clone, Copy, Debug)]
pub struct Facts {
    pub kind: CredentialKind,
    /// The access token's `exp`, from the token itself or else the stored `expires_at`.
    pub exp: Option<i64>,
    pub has_refresh_token: bool,
    /// The stored `refresh_expires_at`, when known.
    pub refresh_exp: Option<i64>,
}

/// Sessions refresh when less than [`REFRESH_MARGIN_S`] remain and their refresh
/// token has not run out; everything else is sent as it is and the server decides.
pub fn plan(facts: Facts, now: i64) -> Plan {
    let refresh_alive = facts.has_refresh_token && facts.refresh_exp.is_none_or(|r| r > now);
    match (facts.kind, facts.exp) {
        (CredentialKind::Session, Some(exp)) if refresh_alive && exp - now < REFRESH_MARGIN_S => {
            Plan::RefreshFirst
        }
        _ => Plan::UseAsIs,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    const NOW: i64 = 1_800_000_000;

    fn session(exp: Option<i64>) -> Facts {
        Facts {
            kind: CredentialKind::Session,
            exp,
            has_refresh_token: true,
            refresh_exp: None,
        }
    }

    #[test]
    fn refreshes_inside_the_last_five_minutes_only() {
        assert_eq!(plan(session(Some(NOW + 3600)), NOW), Plan::UseAsIs);
        assert_eq!(plan(session(Some(NOW + 301)), NOW), Plan::UseAsIs);
        assert_eq!(plan(session(Some(NOW + 300)), NOW), Plan::UseAsIs);
        assert_eq!(plan(session(Some(NOW + 299)), NOW), Plan::RefreshFirst);
        assert_eq!(plan(session(Some(NOW - 10)), NOW), Plan::RefreshFirst);
    }

    #[test]
    fn never_refreshes_what_cannot_be_refreshed() {
        let mut f = session(Some(NOW + 10));
        f.has_refresh_token = false;
        assert_eq!(plan(f, NOW), Plan::UseAsIs);
        let mut f = session(Some(NOW + 10));
        f.refresh_exp = Some(NOW - 1);
        assert_eq!(
            plan(f, NOW),
            Plan::UseAsIs,
            "a dead refresh token is not worth a call"
        );
        f.refresh_exp = Some(NOW + 100);
        assert_eq!(plan(f, NOW), Plan::RefreshFirst);
        for kind in [CredentialKind::ApiKey, CredentialKind::Token] {
            let f = Facts {
                kind,
                ..session(Some(NOW + 10))
            };
            assert_eq!(plan(f, NOW), Plan::UseAsIs);
        }
        assert_eq!(plan(session(None), NOW), Plan::UseAsIs);
    }

    #[test]
    fn reads_exp_without_verifying() {
        let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        let token = format!(
            "{}.{}.{}",
            b64(r#"{"alg":"ES256","kid":"k1","typ":"JWT"}"#),
            b64(r#"{"sub":"usr_1","exp":1800000123,"scope":"*"}"#),
            b64("not a real signature")
        );
        assert_eq!(token_exp(&token), Some(1_800_000_123));
        assert_eq!(unverified_claims(&token).unwrap()["sub"], "usr_1");
        assert_eq!(token_exp("ea_live_abc"), None);
        assert_eq!(token_exp("a.b.c"), None);
    }
}
