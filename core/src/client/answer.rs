//! The token answer (`/v1/auth/token`, `/refresh` and every endpoint that answers "the
//! same shape"): what the worker builds and every client reads and keeps.

use serde::Deserialize;
use serde_json::{json, Value};

use crate::client::{refresh_due, token};
use crate::secret::Secret;
use crate::time::parse_rfc3339;

/// `{token, expires_at, refresh_token, refresh_expires_at, user}`. In cookie mode
/// (SPEC "Browser sessions in a cookie") `refresh_token` is absent: it travels
/// in the `__Host-edgeauth_rt` cookie, out of reach of page scripts. The
/// tokens are [`Secret`]s: they never print and are wiped on drop.
#[derive(Clone, Debug, Deserialize)]
pub struct TokenAnswer {
    /// The access token (an ES256 JWT).
    pub token: Secret,
    /// When it expires (RFC 3339).
    pub expires_at: String,
    /// The refresh token; `None` in cookie mode.
    #[serde(default)]
    pub refresh_token: Option<Secret>,
    /// When the refresh token expires (RFC 3339).
    pub refresh_expires_at: String,
    /// The user object, kept as the worker sent it (clients show it, never decide on it).
    #[serde(default)]
    pub user: Value,
}

/// Two answers are the same session state when they hold the same tokens.
impl PartialEq for TokenAnswer {
    fn eq(&self, other: &Self) -> bool {
        self.token == other.token && self.refresh_token == other.refresh_token
    }
}

impl TokenAnswer {
    /// Reads an answer (or a stored one: the same shape). `Err` says, for people, how
    /// it is not the contract's shape (clients report it as an answer they cannot use).
    pub fn parse(text: &str) -> Result<TokenAnswer, String> {
        let answer: TokenAnswer = serde_json::from_str(text)
            .map_err(|e| format!("the session answer is not in the contract's shape: {e}"))?;
        if answer.token.is_empty() || answer.refresh_token.as_ref().is_some_and(Secret::is_empty) {
            return Err("the session answer has an empty token".to_string());
        }
        Ok(answer)
    }

    /// The same shape back (what is stored, and what JS callers see). `refresh_token`
    /// is written only when the answer holds one.
    pub fn to_json(&self) -> Value {
        let mut v = json!({
            "token": self.token.expose(),
            "expires_at": self.expires_at,
            "refresh_expires_at": self.refresh_expires_at,
            "user": self.user,
        });
        if let (Some(rt), Value::Object(m)) = (&self.refresh_token, &mut v) {
            m.insert(
                "refresh_token".into(),
                Value::String(rt.expose().to_string()),
            );
        }
        v
    }

    /// When the access token expires, Unix ms: its own `exp`, else `expires_at`.
    pub fn expires_at_ms(&self) -> Option<i64> {
        token::expiry_s(self.token.expose())
            .or_else(|| parse_rfc3339(&self.expires_at))
            .map(|s| s.saturating_mul(1000))
    }

    /// When the refresh token expires, Unix ms.
    pub fn refresh_expires_at_ms(&self) -> Option<i64> {
        parse_rfc3339(&self.refresh_expires_at).map(|s| s.saturating_mul(1000))
    }

    /// Whether to refresh before using the access token, at the server's time (SPEC:
    /// less than 5 minutes remain).
    pub fn refresh_due(&self, server_now_ms: i64) -> bool {
        refresh_due(self.expires_at_ms(), server_now_ms)
    }

    /// Whether the access token is past its expiry at the server's time.
    pub fn is_expired(&self, server_now_ms: i64) -> bool {
        self.expires_at_ms().is_some_and(|exp| exp <= server_now_ms)
    }

    /// The user's id, for telling a refresh (same user) from a new sign-in.
    pub fn user_id(&self) -> &str {
        self.user.get("id").and_then(Value::as_str).unwrap_or("")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::cases::ANSWER_CASES;

    #[test]
    fn the_shared_answer_cases() {
        for case in ANSWER_CASES {
            match (TokenAnswer::parse(case.text), &case.expect) {
                (Ok(a), Some(expect)) => {
                    assert_eq!(
                        a.refresh_token.is_some(),
                        expect.has_refresh_token,
                        "{}",
                        case.name
                    );
                    assert_eq!(a.expires_at_ms(), expect.expires_at_ms, "{}", case.name);
                    assert_eq!(
                        a.refresh_due(case.server_now_ms),
                        expect.refresh_due,
                        "{}",
                        case.name
                    );
                    let back = TokenAnswer::parse(&a.to_json().to_string()).unwrap();
                    assert_eq!(back, a, "{}: round trip", case.name);
                }
                (Err(_), None) => {}
                (got, want) => panic!("{}: {:?} vs {:?}", case.name, got.map(|_| ()), want),
            }
        }
    }

    #[test]
    fn debug_never_shows_the_tokens() {
        let a = TokenAnswer::parse(ANSWER_CASES[0].text).unwrap();
        let printed = format!("{a:?}");
        assert!(!printed.contains(a.token.expose()), "{printed}");
        assert!(!printed.contains("ea_rt_"), "{printed}");
    }
}
