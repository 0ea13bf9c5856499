//! The server's clock as a client knows it: the offset learned from answers' `Date` headers.

use crate::time::parse_imf_fixdate;

/// `Date` has whole seconds and the answer spent some time in flight, so an
/// observation within this distance of the current offset says nothing new.
pub const TOLERANCE_MS: i64 = 1_500;

/// Server minus local clock, learned from the worker's `Date` headers. The
/// offset stays zero until an answer shows a clock off by more than
/// [`TOLERANCE_MS`], so a correct clock is never "corrected" by rounding noise.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ServerClock {
    offset_ms: i64,
    known: bool,
}

impl ServerClock {
    /// Learns from one answer's `Date` header, read at local time `local_ms`.
    /// An unreadable `Date` teaches nothing.
    pub fn observe(&mut self, date_header: &str, local_ms: i64) {
        let Some(server_s) = parse_imf_fixdate(date_header) else {
            return;
        };
        // The server's clock was somewhere in [Date, Date + 1 s): take the middle.
        let observed = server_s
            .saturating_mul(1000)
            .saturating_add(500)
            .saturating_sub(local_ms);
        if observed.saturating_sub(self.offset_ms).abs() > TOLERANCE_MS {
            self.offset_ms = observed;
        }
        self.known = true;
    }

    /// Whether any answer has carried a readable `Date` yet.
    pub fn known(&self) -> bool {
        self.known
    }

    /// The current offset, server minus local, in ms.
    pub fn offset_ms(&self) -> i64 {
        self.offset_ms
    }

    /// The server's time now, given the local clock (both Unix ms).
    pub fn server_now_ms(&self, local_ms: i64) -> i64 {
        local_ms.saturating_add(self.offset_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::cases::CLOCK_CASES;

    #[test]
    fn the_shared_clock_cases() {
        for case in CLOCK_CASES {
            let mut clock = ServerClock::default();
            for (date, local_ms) in case.observations {
                clock.observe(date, *local_ms);
            }
            assert_eq!(clock.offset_ms(), case.offset_ms, "{}", case.name);
            assert_eq!(clock.known(), case.known, "{}", case.name);
        }
    }
}
