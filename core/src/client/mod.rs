//! The client core: what the SDK, the CLI and (through the SDK) the console decide
//! the same way. The token answer and the access token's claims, the server's clock
//! from `Date`, when a refresh is due, error bodies and what they call for (a retry,
//! signing in again, or nothing), and device login's polling. No I/O: each client
//! sends, stores and sleeps its own way, and asks here what to do.
//!
//! [`cases`] (with the `cases` feature, and in core's own tests) is one table of
//! cases that core's tests and the SDK's and the CLI's tests all run through their
//! own code paths, so that the three cannot drift apart again.

pub mod answer;
pub mod clock;
pub mod device;
pub mod paths;
pub mod refusal;
pub mod token;

#[cfg(any(test, feature = "cases"))]
pub mod cases;

pub use answer::TokenAnswer;
pub use clock::ServerClock;
pub use refusal::{ends_session, Attempt, Exchange, Refusal, Retries, Retry};

/// SPEC: a session refreshes itself when less than 5 minutes remain.
pub const REFRESH_MARGIN_MS: i64 = 5 * 60 * 1000;

/// Whether an access token expiring at `exp_ms` should be refreshed before use, at
/// the server's time `server_now_ms` (both Unix ms): less than 5 minutes remain,
/// literally, so that with a lifetime under 5 minutes every use refreshes. A token
/// with no known expiry is used as it is, and the worker's 401 says when it ran out.
pub fn refresh_due(exp_ms: Option<i64>, server_now_ms: i64) -> bool {
    exp_ms.is_some_and(|exp| exp.saturating_sub(server_now_ms) < REFRESH_MARGIN_MS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::cases::REFRESH_DUE_CASES;

    #[test]
    fn the_shared_refresh_due_cases() {
        for case in REFRESH_DUE_CASES {
            assert_eq!(
                refresh_due(case.exp_ms, case.server_now_ms),
                case.due,
                "{}",
                case.name
            );
        }
    }
}
