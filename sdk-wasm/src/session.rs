//! The signed-in session: the token answer as the client keeps it (core's `TokenAnswer`),
//! read and written as the contract's JSON.

use std::ops::Deref;

use edgeauth_core::client::TokenAnswer;

use crate::error::SdkError;

/// A session as `/v1/auth/token` and `/v1/auth/refresh` answer it. In cookie mode its
/// `refresh_token` is `None`: the browser holds it in an HttpOnly cookie. The tokens
/// are `Secret`s: they never print and are wiped on drop.
#[derive(Clone, Debug, PartialEq)]
pub struct Session(TokenAnswer);

impl Deref for Session {
    type Target = TokenAnswer;

    fn deref(&self) -> &TokenAnswer {
        &self.0
    }
}

impl Session {
    /// Reads a token answer (or a stored session, which has the same shape).
    pub fn from_json(text: &str) -> Result<Session, SdkError> {
        TokenAnswer::parse(text)
            .map(Session)
            .map_err(|why| SdkError::bad_response(200, why))
    }

    /// The same shape back: what is stored and what JS callers see.
    pub fn to_json(&self) -> String {
        self.0.to_json().to_string()
    }

    /// Whether the access token should be refreshed before use, at the server's time
    /// (core's rule: less than 5 minutes remain).
    pub fn needs_refresh(&self, server_now_ms: i64) -> bool {
        self.0.refresh_due(server_now_ms)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::token::tests::jwt;
    use edgeauth_core::client::cases::ANSWER_CASES;
    use serde_json::json;

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

    /// The client core's shared cases, through the SDK's session type.
    #[test]
    fn the_shared_answer_cases() {
        for case in ANSWER_CASES {
            match (Session::from_json(case.text), &case.expect) {
                (Ok(s), Some(expect)) => {
                    assert_eq!(
                        s.refresh_token.is_some(),
                        expect.has_refresh_token,
                        "{}",
                        case.name
                    );
                    assert_eq!(
                        s.needs_refresh(case.server_now_ms),
                        expect.refresh_due,
                        "{}",
                        case.name
                    );
                    let stored = Session::from_json(&s.to_json()).unwrap();
                    assert_eq!(stored, s, "{}: through storage and back", case.name);
                    let js: serde_json::Value = serde_json::from_str(&s.to_json()).unwrap();
                    assert_eq!(
                        js.get("refresh_token").is_some(),
                        expect.has_refresh_token,
                        "{}",
                        case.name
                    );
                }
                (Err(e), None) => assert_eq!(e.code, "BAD_RESPONSE", "{}", case.name),
                (got, want) => panic!("{}: {:?} vs {want:?}", case.name, got.map(|_| ())),
            }
        }
    }

    #[test]
    fn debug_never_shows_the_tokens() {
        let s = Session::from_json(&session_json(1_700_000_000, "ea_rt_secret")).unwrap();
        let printed = format!("{s:?}");
        assert!(!printed.contains("ea_rt_secret"), "{printed}");
        assert!(!printed.contains(s.token.expose()), "{printed}");
    }
}
