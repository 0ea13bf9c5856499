//! Session rules: refresh-token rotation with a grace window and reuse detection, and the
//! login attempt limits. The Directory Durable Object stores the state; this decides.

/// What the store knows about a presented refresh token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RefreshTokenState {
    pub expires_at_s: i64,
    /// When it was spent (rotated), if it was, in Unix milliseconds: the grace
    /// window is judged to the millisecond, not to whole seconds.
    pub used_at_ms: Option<i64>,
    /// Whether its session has been revoked (logout or theft).
    pub session_revoked: bool,
}

/// What a refresh does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RefreshOutcome {
    /// Spend the token and issue its successor.
    Rotate,
    /// Spent moments ago (another tab): answer with the same successor again.
    ReplayWithinGrace,
    /// Spent earlier: treat as theft, revoke the whole session (`refresh_token_reused`).
    RevokeSession,
    /// The session has ended (`session_revoked`).
    SessionRevoked,
    /// Expired (`refresh_token_invalid`).
    Expired,
}

/// Decides a refresh. An unknown token is `refresh_token_invalid` before this is called.
pub fn decide_refresh(t: RefreshTokenState, now_ms: i64, grace_s: i64) -> RefreshOutcome {
    if t.session_revoked {
        return RefreshOutcome::SessionRevoked;
    }
    match t.used_at_ms {
        // A grace of 0 means none: even a replay in the same millisecond is theft.
        Some(used) if grace_s > 0 && now_ms - used <= grace_s.saturating_mul(1000) => {
            RefreshOutcome::ReplayWithinGrace
        }
        Some(_) => RefreshOutcome::RevokeSession,
        None if now_ms.div_euclid(1000) >= t.expires_at_s => RefreshOutcome::Expired,
        None => RefreshOutcome::Rotate,
    }
}

/// The login-attempt window, in seconds.
pub const LOGIN_WINDOW_S: i64 = 15 * 60;
/// Failed logins allowed per email within the window.
pub const MAX_FAILURES_PER_EMAIL: u32 = 10;
/// Failed logins allowed per client address within the window.
pub const MAX_FAILURES_PER_IP: u32 = 50;

/// Windows that started at or before this instant have ended: nothing they hold limits
/// anyone any more, so the store may drop them (it would otherwise keep one row for every
/// address ever sprayed).
pub fn ended_window_cutoff(now_s: i64) -> i64 {
    now_s - LOGIN_WINDOW_S
}

/// A count of events (failed logins, messages asked for) in a fixed window
/// that starts with the first of them, for one email or one address. The
/// window's length is the caller's: [`LOGIN_WINDOW_S`] for logins.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FailureWindow {
    pub count: u32,
    pub window_start_s: i64,
}

impl FailureWindow {
    /// Seconds until another attempt is allowed, when `limit` failures are already counted.
    pub fn retry_after(&self, limit: u32, now_s: i64) -> Option<u64> {
        self.retry_after_within(limit, LOGIN_WINDOW_S, now_s)
    }

    /// Seconds until this `window_s`-long window ends, when `limit` events are counted.
    pub fn retry_after_within(&self, limit: u32, window_s: i64, now_s: i64) -> Option<u64> {
        let ends = self.window_start_s + window_s;
        (self.count >= limit && now_s < ends).then(|| (ends - now_s) as u64)
    }

    /// The window once an attempt that was counted when it began turns out to have
    /// succeeded: the count goes back down (successful logins do not count). Attempts are
    /// counted as failures when they begin, so that concurrent attempts cannot all pass
    /// the check before any of them is recorded; `None` when there is nothing to undo.
    pub fn after_success(prev: Option<FailureWindow>, now_s: i64) -> Option<FailureWindow> {
        match prev {
            Some(w) if w.count > 0 && now_s < w.window_start_s + LOGIN_WINDOW_S => {
                Some(FailureWindow {
                    count: w.count - 1,
                    ..w
                })
            }
            _ => None,
        }
    }

    /// The window after one more failure.
    pub fn after_failure(prev: Option<FailureWindow>, now_s: i64) -> FailureWindow {
        FailureWindow::after_event_within(prev, LOGIN_WINDOW_S, now_s)
    }

    /// A `window_s`-long window after one more event: counted in the window
    /// under way, or the first of a new one.
    pub fn after_event_within(
        prev: Option<FailureWindow>,
        window_s: i64,
        now_s: i64,
    ) -> FailureWindow {
        match prev {
            Some(w) if now_s < w.window_start_s + window_s => FailureWindow {
                count: w.count.saturating_add(1),
                ..w
            },
            _ => FailureWindow {
                count: 1,
                window_start_s: now_s,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_000_000;

    fn fresh() -> RefreshTokenState {
        RefreshTokenState {
            expires_at_s: NOW + 100,
            used_at_ms: None,
            session_revoked: false,
        }
    }

    const NOW_MS: i64 = NOW * 1000;

    #[test]
    fn rotation_grace_and_reuse() {
        assert_eq!(decide_refresh(fresh(), NOW_MS, 30), RefreshOutcome::Rotate);
        let spent = RefreshTokenState {
            used_at_ms: Some(NOW_MS - 30_000),
            ..fresh()
        };
        assert_eq!(
            decide_refresh(spent, NOW_MS, 30),
            RefreshOutcome::ReplayWithinGrace
        );
        // Judged to the millisecond: 30.001 s later is past a 30 s window,
        // whichever whole seconds the two instants fall in.
        let stolen = RefreshTokenState {
            used_at_ms: Some(NOW_MS - 30_001),
            ..fresh()
        };
        assert_eq!(
            decide_refresh(stolen, NOW_MS, 30),
            RefreshOutcome::RevokeSession
        );
        let expired = RefreshTokenState {
            expires_at_s: NOW,
            ..fresh()
        };
        assert_eq!(decide_refresh(expired, NOW_MS, 30), RefreshOutcome::Expired);
        assert_eq!(
            decide_refresh(expired, NOW_MS - 1, 30),
            RefreshOutcome::Rotate
        );
        let ended = RefreshTokenState {
            session_revoked: true,
            ..spent
        };
        assert_eq!(
            decide_refresh(ended, NOW_MS, 30),
            RefreshOutcome::SessionRevoked
        );
        // REFRESH_GRACE_S=0: no grace, even within the same millisecond.
        let just_spent = RefreshTokenState {
            used_at_ms: Some(NOW_MS),
            ..fresh()
        };
        assert_eq!(
            decide_refresh(just_spent, NOW_MS, 0),
            RefreshOutcome::RevokeSession
        );
        assert_eq!(decide_refresh(fresh(), NOW_MS, 0), RefreshOutcome::Rotate);
    }

    #[test]
    fn limits_trip_and_recover() {
        let mut w = None;
        for _ in 0..MAX_FAILURES_PER_EMAIL {
            w = Some(FailureWindow::after_failure(w, NOW));
        }
        let w = w.unwrap();
        assert_eq!(
            w.retry_after(MAX_FAILURES_PER_EMAIL, NOW + 60),
            Some((LOGIN_WINDOW_S - 60) as u64)
        );
        assert_eq!(
            w.retry_after(MAX_FAILURES_PER_EMAIL, NOW + LOGIN_WINDOW_S),
            None
        );
        assert_eq!(w.retry_after(MAX_FAILURES_PER_IP, NOW), None);
        let next = FailureWindow::after_failure(Some(w), NOW + LOGIN_WINDOW_S);
        assert_eq!(next.count, 1);
    }

    #[test]
    fn limits_recover_only_when_the_window_has_passed() {
        let mut w = None;
        for _ in 0..MAX_FAILURES_PER_EMAIL {
            w = Some(FailureWindow::after_failure(w, NOW));
        }
        let w = w.unwrap();
        // Still refused one second before the end, with Retry-After counting down to it.
        assert_eq!(
            w.retry_after(MAX_FAILURES_PER_EMAIL, NOW + LOGIN_WINDOW_S - 1),
            Some(1)
        );
        assert_eq!(
            w.retry_after(MAX_FAILURES_PER_EMAIL, NOW),
            Some(LOGIN_WINDOW_S as u64)
        );
        // Failures spread over the window keep it anchored at the first one.
        let later = FailureWindow::after_failure(Some(w), NOW + 600);
        assert_eq!(later.window_start_s, NOW);
        assert_eq!(
            later.retry_after(MAX_FAILURES_PER_EMAIL, NOW + LOGIN_WINDOW_S),
            None
        );
        // One below the limit is not limited.
        let nine = FailureWindow {
            count: MAX_FAILURES_PER_EMAIL - 1,
            window_start_s: NOW,
        };
        assert_eq!(nine.retry_after(MAX_FAILURES_PER_EMAIL, NOW), None);
    }

    #[test]
    fn ended_windows_limit_nobody() {
        let w = FailureWindow {
            count: u32::MAX,
            window_start_s: ended_window_cutoff(NOW),
        };
        assert_eq!(w.retry_after(MAX_FAILURES_PER_EMAIL, NOW), None);
        assert_eq!(FailureWindow::after_failure(Some(w), NOW).count, 1);
        let live = FailureWindow {
            window_start_s: ended_window_cutoff(NOW) + 1,
            ..w
        };
        assert_eq!(live.retry_after(MAX_FAILURES_PER_EMAIL, NOW), Some(1));
    }

    #[test]
    fn a_success_takes_back_its_reserved_attempt() {
        let w = FailureWindow::after_failure(None, NOW);
        let w = FailureWindow::after_failure(Some(w), NOW);
        assert_eq!(
            FailureWindow::after_success(Some(w), NOW + 1),
            Some(FailureWindow {
                count: 1,
                window_start_s: NOW
            })
        );
        assert_eq!(FailureWindow::after_success(None, NOW), None);
        let empty = FailureWindow {
            count: 0,
            window_start_s: NOW,
        };
        assert_eq!(FailureWindow::after_success(Some(empty), NOW), None);
        // A window that has ended has nothing left to undo.
        assert_eq!(
            FailureWindow::after_success(Some(w), NOW + LOGIN_WINDOW_S),
            None
        );
    }
}
