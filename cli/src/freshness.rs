//! When a stored session refreshes itself: the client core's rule (less than 5 minutes
//! left), and only with a refresh token that may still work.

use edgeauth_core::client::{refresh_due, token};
use serde_json::{Map, Value};

use crate::config::CredentialKind;

/// The claims of a JWT, read without verifying anything (the client core's reading): for
/// display and for deciding when to refresh, never for trusting what they say.
pub fn unverified_claims(token: &str) -> Option<Map<String, Value>> {
    token::unverified_claims(token).ok()
}

/// `exp` of a JWT (Unix seconds), unverified.
pub fn token_exp(jwt: &str) -> Option<i64> {
    token::expiry_s(jwt)
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

/// Sessions refresh when the core says a refresh is due (at `now_ms`, Unix ms) and their
/// refresh token has not run out; everything else is sent as it is and the server decides.
pub fn plan(facts: Facts, now_ms: i64) -> Plan {
    let refresh_alive = facts.has_refresh_token
        && facts
            .refresh_exp
            .is_none_or(|r| r.saturating_mul(1000) > now_ms);
    let exp_ms = facts.exp.map(|s| s.saturating_mul(1000));
    match facts.kind {
        CredentialKind::Session if refresh_alive && refresh_due(exp_ms, now_ms) => {
            Plan::RefreshFirst
        }
        _ => Plan::UseAsIs,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use edgeauth_core::client::cases::{REFRESH_DUE_CASES, TOKEN_EXP_1_700_000_000};

    const NOW_MS: i64 = 1_800_000_000_000;
    const NOW: i64 = NOW_MS / 1000;

    fn session(exp: Option<i64>) -> Facts {
        Facts {
            kind: CredentialKind::Session,
            exp,
            has_refresh_token: true,
            refresh_exp: None,
        }
    }

    /// The client core's shared cases, through the CLI's refresh plan.
    #[test]
    fn the_shared_refresh_due_cases() {
        for case in REFRESH_DUE_CASES {
            let facts = session(case.exp_ms.map(|ms| ms / 1000));
            let want = if case.due {
                Plan::RefreshFirst
            } else {
                Plan::UseAsIs
            };
            assert_eq!(plan(facts, case.server_now_ms), want, "{}", case.name);
        }
        assert_eq!(token_exp(TOKEN_EXP_1_700_000_000), Some(1_700_000_000));
    }

    #[test]
    fn never_refreshes_what_cannot_be_refreshed() {
        let mut f = session(Some(NOW + 10));
        f.has_refresh_token = false;
        assert_eq!(plan(f, NOW_MS), Plan::UseAsIs);
        let mut f = session(Some(NOW + 10));
        f.refresh_exp = Some(NOW - 1);
        assert_eq!(
            plan(f, NOW_MS),
            Plan::UseAsIs,
            "a dead refresh token is not worth a call"
        );
        f.refresh_exp = Some(NOW + 100);
        assert_eq!(plan(f, NOW_MS), Plan::RefreshFirst);
        for kind in [CredentialKind::ApiKey, CredentialKind::Token] {
            let f = Facts {
                kind,
                ..session(Some(NOW + 10))
            };
            assert_eq!(plan(f, NOW_MS), Plan::UseAsIs);
        }
        assert_eq!(plan(session(None), NOW_MS), Plan::UseAsIs);
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
