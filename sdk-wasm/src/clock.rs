//! The server's clock as the client knows it: the offset learned from answers' `Date` headers.

use std::cell::Cell;

/// `Date` has whole seconds and the answer spent some time in flight, so an
/// observation within this distance of the current offset says nothing new.
const TOLERANCE_MS: u64 = 1_500;

/// Offset (server minus local, in ms) learned from the worker's `Date`
/// headers. Zero until an answer shows a clock off by more than the
/// tolerance, so a correct clock is never "corrected" by rounding noise.
#[derive(Debug, Default)]
pub struct ServerClock {
    offset_ms: Cell<i64>,
}

impl ServerClock {
    /// Learns from one answer's `Date` header, read at local time `local_ms`.
    pub fn observe(&self, date_header: &str, local_ms: i64) {
        let Some(server_s) = edgeauth_core::time::parse_imf_fixdate(date_header) else {
            return;
        };
        // The server's clock was somewhere in [Date, Date + 1 s): take the middle.
        let observed = server_s
            .saturating_mul(1000)
            .saturating_add(500)
            .saturating_sub(local_ms);
        if observed.saturating_sub(self.offset_ms.get()).unsigned_abs() > TOLERANCE_MS {
            self.offset_ms.set(observed);
        }
    }

    /// The current offset, server minus local, in ms.
    pub fn offset_ms(&self) -> i64 {
        self.offset_ms.get()
    }

    /// The server's time now, given the local clock.
    pub fn server_now_ms(&self, local_ms: i64) -> i64 {
        local_ms.saturating_add(self.offset_ms.get())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DATE: &str = "Tue, 14 Nov 2023 22:13:20 GMT"; // 1_700_000_000 s

    #[test]
    fn a_correct_clock_is_left_alone() {
        let c = ServerClock::default();
        c.observe(DATE, 1_700_000_000_900);
        c.observe(DATE, 1_700_000_000_000);
        c.observe(DATE, 1_700_000_001_400);
        assert_eq!(c.offset_ms(), 0);
        assert_eq!(c.server_now_ms(5), 5);
    }

    #[test]
    fn a_clock_ten_minutes_fast_is_corrected() {
        let c = ServerClock::default();
        let local = 1_700_000_000_000 + 600_000;
        c.observe(DATE, local);
        assert_eq!(c.offset_ms(), -599_500);
        let error = c.server_now_ms(local) - 1_700_000_000_000;
        assert!((0..1000).contains(&error), "{error}");
        // Later answers within the rounding noise keep the offset steady.
        c.observe(DATE, local + 800);
        assert_eq!(c.offset_ms(), -599_500);
    }

    #[test]
    fn a_clock_that_is_slow_is_corrected_and_can_be_reset() {
        let c = ServerClock::default();
        c.observe(DATE, 1_700_000_000_000 - 3_600_000);
        assert_eq!(c.offset_ms(), 3_600_500);
        // The local clock was fixed (e.g. NTP caught up): the next answer says so.
        c.observe(DATE, 1_700_000_000_000);
        assert_eq!(c.offset_ms(), 500);
    }

    #[test]
    fn unreadable_dates_are_ignored() {
        let c = ServerClock::default();
        c.observe("yesterday", 0);
        c.observe("", 0);
        assert_eq!(c.offset_ms(), 0);
    }
}
