//! Error answers on the client side: SPEC's error body, and what a client does about it:
//! retry once (refresh, re-sign with the corrected clock, sign), sign out, or report.

use serde::Deserialize;

use crate::error::Reason;

/// An error answer as its body says (`{"error": {code, reason, message}}`). Any body
/// is accepted (a proxy's HTML page too): what it lacks is `None`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Refusal {
    pub status: u16,
    /// SPEC's `code`, when the body had one.
    pub code: Option<String>,
    /// The wire `reason`, kept as a word so that reasons added later still show.
    pub reason: Option<String>,
    pub message: Option<String>,
}

#[derive(Deserialize)]
struct Body {
    error: Fields,
}

#[derive(Deserialize)]
struct Fields {
    code: Option<String>,
    reason: Option<String>,
    message: Option<String>,
}

/// Which call an error answered: a refusal of the refresh itself means more than
/// the same refusal of another call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exchange {
    /// `POST /v1/auth/refresh`.
    Refresh,
    /// Any other call made with the credential.
    Other,
}

/// 401 reasons after which no retry helps: the session is over, and the person
/// signs in again (`token_expired` joins them when there is no refresh token).
pub const SIGN_IN_AGAIN: [Reason; 4] = [
    Reason::SessionRevoked,
    Reason::RefreshTokenInvalid,
    Reason::RefreshTokenReused,
    Reason::MissingCredential,
];

/// Whether an answer ends the session, so the client forgets it and the person signs
/// in again: any 401 to a refresh (the refresh token is gone, whatever the reason), a
/// 401 whose reason is in [`SIGN_IN_AGAIN`], or `token_expired` where nothing can be
/// refreshed. Nothing else does: a 403 refuses a request, not the session; a network
/// failure or a 503 says nothing about it.
pub fn ends_session(
    status: u16,
    reason: Option<Reason>,
    exchange: Exchange,
    refreshable: bool,
) -> bool {
    if status != 401 {
        return false;
    }
    match (exchange, reason) {
        (Exchange::Refresh, _) => true,
        (Exchange::Other, Some(Reason::TokenExpired)) => !refreshable,
        (Exchange::Other, Some(r)) => SIGN_IN_AGAIN.contains(&r),
        (Exchange::Other, None) => false,
    }
}

impl Refusal {
    /// Reads an error answer's body, whatever it holds.
    pub fn from_answer(status: u16, body: &[u8]) -> Refusal {
        let fields = serde_json::from_slice::<Body>(body).ok().map(|b| b.error);
        let (code, reason, message) = match fields {
            Some(f) => (f.code, f.reason, f.message),
            None => (None, None, None),
        };
        Refusal {
            status,
            code,
            reason,
            message,
        }
    }

    /// `code`, `reason` and `message` when the body had all three (SPEC's shape).
    pub fn contract_fields(&self) -> Option<(&str, &str, &str)> {
        Some((
            self.code.as_deref()?,
            self.reason.as_deref()?,
            self.message.as_deref()?,
        ))
    }

    /// The reason as core knows it (`None` for an unknown or absent word).
    pub fn reason(&self) -> Option<Reason> {
        self.reason.as_deref().and_then(Reason::parse)
    }

    /// SPEC's statuses about the credential: 401 (refused) or 403 (not allowed this).
    /// The CLI's exit code 4 is this; whether to sign in again is [`Refusal::ends_session`].
    pub fn refuses_credential(&self) -> bool {
        matches!(self.status, 401 | 403)
    }

    /// See [`ends_session`].
    pub fn ends_session(&self, exchange: Exchange, refreshable: bool) -> bool {
        ends_session(self.status, self.reason(), exchange, refreshable)
    }
}

/// SPEC's reason of a 401 from its `WWW-Authenticate` header's `error_description`
/// (the same word as the body's; readable where CORS hides a body, or there is none).
pub fn reason_from_www_authenticate(header: &str) -> Option<Reason> {
    let (_, rest) = header.split_once("error_description=\"")?;
    Reason::parse(rest.split('"').next()?)
}

/// What to do about one 401 before giving up on the call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Retry {
    /// `token_expired`: refresh the session, then send again with the new token.
    Refresh,
    /// `timestamp_out_of_window`: the answer's `Date` has corrected the clock; sign
    /// again with the server's time and send again.
    Reclock,
    /// `signature_missing`: the route takes only signed requests; sign and send again.
    Sign,
}

/// What is true of the request that was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Attempt {
    /// It carried the `x-cli-*` signature.
    pub signed: bool,
    /// Its body can be sent again (a stream cannot).
    pub resendable: bool,
    /// Its body can be signed (plain text or bytes).
    pub signable: bool,
    /// Its bearer is a session with a refresh token.
    pub refreshable: bool,
    /// An answer has told the server's time (a `Date` was read).
    pub clock_known: bool,
}

/// The retries one call has used: each kind at most once, so a call ends.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Retries {
    refreshed: bool,
    reclocked: bool,
    signed: bool,
}

impl Retries {
    /// The retry a 401 with `reason` calls for, if any is left (and counts it).
    pub fn after_401(&mut self, reason: Option<Reason>, attempt: Attempt) -> Option<Retry> {
        if !attempt.resendable {
            return None;
        }
        let (used, retry) = match reason? {
            Reason::TokenExpired if attempt.refreshable => (&mut self.refreshed, Retry::Refresh),
            Reason::TimestampOutOfWindow if attempt.signed && attempt.clock_known => {
                (&mut self.reclocked, Retry::Reclock)
            }
            Reason::SignatureMissing if !attempt.signed && attempt.signable => {
                (&mut self.signed, Retry::Sign)
            }
            _ => return None,
        };
        if *used {
            return None;
        }
        *used = true;
        Some(retry)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::cases::{REFUSAL_CASES, RETRY_CASES};

    #[test]
    fn the_shared_refusal_cases() {
        for case in REFUSAL_CASES {
            let r = Refusal::from_answer(case.status, case.body.as_bytes());
            assert_eq!(r.code.as_deref(), case.code, "{}", case.name);
            assert_eq!(r.reason.as_deref(), case.reason, "{}", case.name);
            assert_eq!(
                r.ends_session(case.exchange, case.refreshable),
                case.ends_session,
                "{}",
                case.name
            );
        }
    }

    #[test]
    fn the_shared_retry_cases() {
        for case in RETRY_CASES {
            let mut retries = Retries::default();
            let mut attempt = case.attempt;
            let got: Vec<Option<Retry>> = case
                .reasons
                .iter()
                .map(|reason| {
                    let r = retries.after_401(Reason::parse(reason), attempt);
                    if r == Some(Retry::Sign) {
                        attempt.signed = true;
                    }
                    r
                })
                .collect();
            assert_eq!(got, case.retries, "{}", case.name);
        }
    }

    #[test]
    fn www_authenticate_carries_the_reason() {
        let h =
            r#"Bearer realm="edgeauth", error="invalid_token", error_description="token_expired""#;
        assert_eq!(reason_from_www_authenticate(h), Some(Reason::TokenExpired));
        assert_eq!(
            reason_from_www_authenticate(r#"Bearer realm="edgeauth""#),
            None
        );
        assert_eq!(
            reason_from_www_authenticate(r#"Bearer error_description="from_the_future""#),
            None
        );
    }
}
