//! Device login on the client side (RFC 8628 §3.4–3.5): the code answer, and the polling
//! rules: wait `interval` before every poll, add 5 s after `slow_down`, stop at expiry.

use crate::error::Reason;
use serde::Deserialize;

/// RFC 8628 §3.5: after `slow_down`, the interval grows by 5 seconds (core's rule, which the worker enforces).
pub const SLOW_DOWN_STEP_S: u64 = crate::device::SLOW_DOWN_STEP_S.unsigned_abs();
/// The interval when the server gives none (RFC 8628 §3.2 says 5 s, as core does).
pub const DEFAULT_INTERVAL_S: u64 = crate::device::POLL_INTERVAL_S.unsigned_abs();

/// `POST /v1/auth/device/code`'s answer.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct DeviceCode {
    pub device_code: String,
    pub user_code: String,
    pub verification_uri: String,
    #[serde(default)]
    pub verification_uri_complete: Option<String>,
    pub expires_in: u64,
    #[serde(default)]
    pub interval: Option<u64>,
}

/// What one refused poll of `POST /v1/auth/device/token` said (an approval ends polling at once).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Poll {
    Pending,
    SlowDown,
    Expired,
    Denied,
    /// Any other error answer: the caller reports it.
    Other,
}

impl Poll {
    /// Sorts a refused poll: RFC 8628's four words come with 400; anything else is `Other`.
    pub fn from_answer(status: u16, reason: Option<Reason>) -> Poll {
        if status != 400 {
            return Poll::Other;
        }
        Poll::from_reason(reason)
    }

    /// Sorts a 400 answer by its `reason`.
    pub fn from_reason(reason: Option<Reason>) -> Poll {
        match reason {
            Some(Reason::AuthorizationPending) => Poll::Pending,
            Some(Reason::SlowDown) => Poll::SlowDown,
            Some(Reason::ExpiredToken) => Poll::Expired,
            Some(Reason::AccessDenied) => Poll::Denied,
            _ => Poll::Other,
        }
    }
}

/// What to do next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Wait this many seconds, then poll again.
    Wait(u64),
    /// The code ran out (or was already used).
    Expired,
    /// The user said no.
    Denied,
    /// Stop and report the answer.
    Fail,
}

/// The poller's state: the current interval and how much of the code's life is left.
#[derive(Clone, Debug)]
pub struct Poller {
    interval_s: u64,
    /// Seconds since the code was issued, as counted by the waits so far.
    elapsed_s: u64,
    expires_in_s: u64,
}

impl Poller {
    pub fn new(code: &DeviceCode) -> Poller {
        Poller {
            interval_s: code
                .interval
                .filter(|&i| i > 0)
                .unwrap_or(DEFAULT_INTERVAL_S),
            elapsed_s: 0,
            expires_in_s: code.expires_in,
        }
    }

    pub fn interval_s(&self) -> u64 {
        self.interval_s
    }

    /// The wait before the first poll (the client must not poll before `interval`).
    pub fn first(&mut self) -> Step {
        self.wait()
    }

    fn wait(&mut self) -> Step {
        if self.elapsed_s + self.interval_s > self.expires_in_s {
            return Step::Expired;
        }
        self.elapsed_s += self.interval_s;
        Step::Wait(self.interval_s)
    }

    /// The step after a poll's answer.
    pub fn after(&mut self, poll: &Poll) -> Step {
        match poll {
            Poll::Pending => self.wait(),
            Poll::SlowDown => {
                self.interval_s += SLOW_DOWN_STEP_S;
                self.wait()
            }
            Poll::Expired => Step::Expired,
            Poll::Denied => Step::Denied,
            Poll::Other => Step::Fail,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(expires_in: u64, interval: Option<u64>) -> DeviceCode {
        DeviceCode {
            device_code: "d".into(),
            user_code: "BCDF-GHJK".into(),
            verification_uri: "http://x/console/device".into(),
            verification_uri_complete: None,
            expires_in,
            interval,
        }
    }

    #[test]
    fn waits_the_interval_before_every_poll() {
        let mut p = Poller::new(&code(600, Some(5)));
        assert_eq!(p.first(), Step::Wait(5));
        assert_eq!(p.after(&Poll::Pending), Step::Wait(5));
        assert_eq!(p.after(&Poll::Pending), Step::Wait(5));
    }

    #[test]
    fn slow_down_adds_five_seconds_for_good() {
        let mut p = Poller::new(&code(600, Some(5)));
        p.first();
        assert_eq!(p.after(&Poll::SlowDown), Step::Wait(10));
        assert_eq!(p.after(&Poll::Pending), Step::Wait(10));
        assert_eq!(p.after(&Poll::SlowDown), Step::Wait(15));
        assert_eq!(p.interval_s(), 15);
    }

    #[test]
    fn stops_when_the_code_runs_out_or_is_refused() {
        let mut p = Poller::new(&code(12, Some(5)));
        assert_eq!(p.first(), Step::Wait(5));
        assert_eq!(p.after(&Poll::Pending), Step::Wait(5));
        assert_eq!(p.after(&Poll::Pending), Step::Expired);
        let mut p = Poller::new(&code(600, None));
        assert_eq!(p.first(), Step::Wait(DEFAULT_INTERVAL_S));
        assert_eq!(p.after(&Poll::Denied), Step::Denied);
        assert_eq!(p.after(&Poll::Expired), Step::Expired);
        assert_eq!(p.after(&Poll::Other), Step::Fail);
        assert_eq!(
            Poller::new(&code(600, Some(0))).interval_s(),
            DEFAULT_INTERVAL_S
        );
    }

    #[test]
    fn reasons_map_to_rfc_8628_outcomes() {
        assert_eq!(
            Poll::from_reason(Some(Reason::AuthorizationPending)),
            Poll::Pending
        );
        assert_eq!(Poll::from_reason(Some(Reason::SlowDown)), Poll::SlowDown);
        assert_eq!(Poll::from_reason(Some(Reason::ExpiredToken)), Poll::Expired);
        assert_eq!(Poll::from_reason(Some(Reason::AccessDenied)), Poll::Denied);
        assert_eq!(Poll::from_reason(Some(Reason::InvalidField)), Poll::Other);
        assert_eq!(Poll::from_reason(None), Poll::Other);
        assert_eq!(
            Poll::from_answer(401, Some(Reason::AuthorizationPending)),
            Poll::Other
        );
        assert_eq!(
            Poll::from_answer(400, Some(Reason::SlowDown)),
            Poll::SlowDown
        );
    }
}
