//! `SdkError`: what every SDK call fails with, in SPEC's `status`/`code`/`reason`/`message` shape.

use edgeauth_core::client::{ends_session, Exchange, Refusal};
use edgeauth_core::{ApiError, Code, Reason};

/// `code` of a request that never got an answer (offline, DNS, refused, CORS).
pub const NETWORK: &str = "NETWORK";
/// `code` of an answer that is not what the contract promises (not JSON, wrong shape).
pub const BAD_RESPONSE: &str = "BAD_RESPONSE";
/// `code` of a request the caller aborted through its `AbortSignal`.
pub const ABORTED: &str = "ABORTED";

/// An error as the JS side sees it (`EdgeAuthError`). `status` is 0 when no
/// answer arrived; `code` and `reason` are SPEC's words whenever the worker
/// gave them, so programs branch on them and never on `message`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SdkError {
    pub status: u16,
    pub code: String,
    pub reason: String,
    pub message: String,
    /// The session is over (the client core's `ends_session`): the SDK has forgotten
    /// it, and the person signs in again. JS: `EdgeAuthError.signInAgain`.
    pub sign_in_again: bool,
}

impl SdkError {
    /// A refusal decided on this side of the wire, spelled as the worker would spell it.
    pub fn local(reason: Reason, message: impl Into<String>) -> Self {
        SdkError {
            status: reason.status(),
            code: reason.code().as_str().to_string(),
            reason: reason.as_str().to_string(),
            message: message.into(),
            sign_in_again: ends_session(reason.status(), Some(reason), Exchange::Other, true),
        }
    }

    /// No answer at all: the network, DNS, TLS or CORS failed. Never a sign-out.
    pub fn network(message: impl Into<String>) -> Self {
        SdkError {
            status: 0,
            code: NETWORK.to_string(),
            reason: "network_error".to_string(),
            message: message.into(),
            sign_in_again: false,
        }
    }

    /// The caller's `AbortSignal` fired.
    pub fn aborted(message: impl Into<String>) -> Self {
        SdkError {
            status: 0,
            code: ABORTED.to_string(),
            reason: "aborted".to_string(),
            message: message.into(),
            sign_in_again: false,
        }
    }

    /// An answer the contract does not describe (e.g. HTML from a misconfigured proxy).
    pub fn bad_response(status: u16, message: impl Into<String>) -> Self {
        SdkError {
            status,
            code: BAD_RESPONSE.to_string(),
            reason: "invalid_response".to_string(),
            message: message.into(),
            sign_in_again: false,
        }
    }

    /// The error a non-2xx answer to a call stands for: its SPEC body when it has
    /// one, else the `code` its status stands for (reason `unexpected_status`).
    pub fn from_answer(status: u16, body: &str) -> Self {
        SdkError::from_answer_to(Exchange::Other, status, body)
    }

    /// The same for an answer to `exchange`: a refused refresh ends the session
    /// where the same refusal of another call may not.
    pub fn from_answer_to(exchange: Exchange, status: u16, body: &str) -> Self {
        let refusal = Refusal::from_answer(status, body.as_bytes());
        // A session bearer can always be refreshed; an API key client never asks.
        let sign_in_again = refusal.ends_session(exchange, true);
        if let Some((code, reason, message)) = refusal.contract_fields() {
            return SdkError {
                status,
                code: code.to_string(),
                reason: reason.to_string(),
                message: message.to_string(),
                sign_in_again,
            };
        }
        let code = code_of_status(status).map_or("HTTP_ERROR", Code::as_str);
        SdkError {
            status,
            code: code.to_string(),
            reason: "unexpected_status".to_string(),
            message: format!("the server answered {status} without an edgeauth error body"),
            sign_in_again,
        }
    }

    /// SPEC's reason, when it is one this SDK knows.
    pub fn reason(&self) -> Option<Reason> {
        Reason::parse(&self.reason)
    }

    /// Whether no answer arrived (the request may or may not have reached the worker).
    pub fn is_network(&self) -> bool {
        self.code == NETWORK
    }

    /// Whether the session cannot be used any more, so the SDK signs out.
    pub fn ends_session(&self) -> bool {
        self.sign_in_again
    }
}

/// A refusal decided on this side, in core's words.
impl From<ApiError> for SdkError {
    fn from(e: ApiError) -> Self {
        SdkError::local(e.reason, e.message)
    }
}

impl std::fmt::Display for SdkError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {} ({}): {}",
            self.status, self.code, self.reason, self.message
        )
    }
}

impl std::error::Error for SdkError {}

fn code_of_status(status: u16) -> Option<Code> {
    Reason::ALL
        .iter()
        .map(|r| r.code())
        .find(|c| c.status() == status)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The client core's shared cases, through the SDK's error type.
    #[test]
    fn the_shared_refusal_cases() {
        use edgeauth_core::client::cases::REFUSAL_CASES;
        for case in REFUSAL_CASES.iter().filter(|c| c.refreshable) {
            let e = SdkError::from_answer_to(case.exchange, case.status, case.body);
            assert_eq!(e.status, case.status, "{}", case.name);
            assert_eq!(e.ends_session(), case.ends_session, "{}", case.name);
            match (case.code, case.reason) {
                (Some(code), Some(reason)) => {
                    assert_eq!(
                        (e.code.as_str(), e.reason.as_str()),
                        (code, reason),
                        "{}",
                        case.name
                    )
                }
                // Outside the contract: the status's code, and the SDK's own reason.
                _ => assert_eq!(e.reason, "unexpected_status", "{}", case.name),
            }
        }
    }

    #[test]
    fn reads_the_contract_body() {
        let e = SdkError::from_answer(
            401,
            r#"{"error":{"code":"UNAUTHORIZED","reason":"token_expired","message":"the token has expired"}}"#,
        );
        assert_eq!(e.status, 401);
        assert_eq!(e.code, "UNAUTHORIZED");
        assert_eq!(e.reason(), Some(Reason::TokenExpired));
        assert_eq!(e.message, "the token has expired");
        assert!(!e.is_network());
    }

    #[test]
    fn unknown_reasons_are_kept_verbatim() {
        let e = SdkError::from_answer(
            403,
            r#"{"error":{"code":"FORBIDDEN","reason":"from_the_future","message":"m"}}"#,
        );
        assert_eq!(e.reason, "from_the_future");
        assert_eq!(e.reason(), None);
    }

    #[test]
    fn bodies_outside_the_contract_fall_back_to_the_status() {
        let e = SdkError::from_answer(503, "<html>bad gateway</html>");
        assert_eq!((e.status, e.code.as_str()), (503, "UNAVAILABLE"));
        assert_eq!(e.reason, "unexpected_status");
        let e = SdkError::from_answer(502, "");
        assert_eq!(e.code, "HTTP_ERROR");
        let e = SdkError::from_answer(404, r#"{"error":"nope"}"#);
        assert_eq!(e.code, "NOT_FOUND");
    }

    #[test]
    fn local_errors_use_the_contract_words() {
        let e = SdkError::local(Reason::MissingCredential, "not signed in");
        assert_eq!(
            (e.status, e.code.as_str(), e.reason.as_str()),
            (401, "UNAUTHORIZED", "missing_credential")
        );
        assert!(e.ends_session());
    }

    #[test]
    fn network_errors_are_not_auth_failures() {
        let e = SdkError::network("connection refused");
        assert_eq!((e.status, e.code.as_str()), (0, "NETWORK"));
        assert!(e.is_network());
        assert!(!e.ends_session());
        assert_eq!(e.reason(), None);
    }
}
