//! The signed-in session: the `/v1/auth/token` answer, how it is stored, and when it needs a refresh.

use edgeauth_core::secret::Secret;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::error::SdkError;
use crate::token;

/// SPEC: a session refreshes itself when less than 5 minutes remain.
pub const REFRESH_MARGIN_MS: i64 = 5 * 60 * 1000;

/// A session as `/v1/auth/token` and `/v1/auth/refresh` answer it. The two
/// tokens are [`Secret`]s: they never print and are wiped on drop.
#[derive(Clone, Debug, Deserialize)]
pub struct Session {
    pub token: Secret,
    pub expires_at: String,
    pub refresh_token: Secret,
    pub refresh_expires_at: String,
    #[serde(default)]
    pub user: Value,
}

impl PartialEq for Session {
    fn eq(&self, other: &Self) -> bool {
        self.token == other.token && self.refresh_token == other.refresh_token
    }
}

impl Session {
    /// Reads a `/token` or `/refresh` answer (or a stored session, which has the same shape).
    pub fn from_json(text: &str) -> Result<Session, SdkError> {
        let s: Session = serde_json::from_str(text).map_err(|e| {
            SdkError::bad_response(
                200,
                format!("the session answer is not in the contract's shape: {e}"),
            )
        })?;
        if s.token.is_empty() || s.refresh_token.is_empty() {
            return Err(SdkError::bad_response(
                200,
                "the session answer has an empty token",
            ));
        }
        Ok(s)
    }

    /// The same shape back: what is stored and what JS callers see.
    pub fn to_json(&self) -> String {
        json!({
            "token": self.token.expose(),
            "expires_at": self.expires_at,
            "refresh_token": self.refresh_token.expose(),
            "refresh_expires_at": self.refresh_expires_at,
            "user": self.user,
        })
        .to_string()
    }

    /// When the access token expires, from its own `exp` (Unix ms). `None`
    /// when the token has none: then only the worker's 401 says it expired.
    pub fn expires_at_ms(&self) -> Option<i64> {
        token::expiry_s(self.token.expose()).map(|s| s.saturating_mul(1000))
    }

    /// Whether the access token should be refreshed before use, at the
    /// server's time `server_now_ms`.
    pub fn needs_refresh(&self, server_now_ms: i64) -> bool {
        self.expires_at_ms()
            .is_some_and(|exp| exp.saturating_sub(server_now_ms) < REFRESH_MARGIN_MS)
    }

    /// Whether the access token is past its `exp` at the server's time.
    pub fn is_expired(&self, server_now_ms: i64) -> bool {
        self.expires_at_ms().is_some_and(|exp| exp <= server_now_ms)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::token::tests::jwt;

    pub(crate) fn session_json(exp_s: i64, rt: &str) -> String {
        json!({
            "token": jwt(&format!(r#"{{"sub":"u1","exp":{exp_s},"scope":"*","n":"{rt}"}}"#)),
            "expires_at": "2023-11-14T22:13:20Z",
            "refresh_token": rt,
            "refresh_expires_at": "2023-11-21T22:13:20Z",
            "user": {"id": "u1", "email": "a@example.com"},
        })
        .to_string()
    }

    #[test]
    fn round_trips_through_storage() {
        let s = Session::from_json(&session_json(1_700_000_000, "ea_rt_a")).unwrap();
        let back = Session::from_json(&s.to_json()).unwrap();
        assert_eq!(back, s);
        assert_eq!(back.user["email"], "a@example.com");
        assert_eq!(back.refresh_token.expose(), "ea_rt_a");
    }

    #[test]
    fn debug_never_shows_the_tokens() {
        let s = Session::from_json(&session_json(1_700_000_000, "ea_rt_secret")).unwrap();
        let printed = format!("{s:?}");
        assert!(!printed.contains("ea_rt_secret"), "{printed}");
        assert!(!printed.contains(s.token.expose()), "{printed}");
    }

    #[test]
    fn refreshes_when_less_than_five_minutes_remain() {
        let s = Session::from_json(&session_json(1_000, "ea_rt_a")).unwrap();
        let exp_ms = 1_000_000;
        assert!(!s.needs_refresh(exp_ms - 300_000));
        assert!(s.needs_refresh(exp_ms - 299_999));
        assert!(s.needs_refresh(exp_ms + 10));
        assert!(!s.is_expired(exp_ms - 1));
        assert!(s.is_expired(exp_ms));
    }

    #[test]
    fn refuses_answers_outside_the_contract() {
        for bad in ["", "{}", r#"{"token":"t"}"#, "[1]"] {
            let e = Session::from_json(bad).unwrap_err();
            assert_eq!(e.code, "BAD_RESPONSE", "{bad}");
        }
        assert!(Session::from_json(&session_json(1, "")).is_err());
    }
}
