//! The server's clock as this client knows it: core's estimate from `Date` headers,
//! held where the client's shared reference can update it.

use std::cell::Cell;

use edgeauth_core::client::ServerClock as Estimate;

/// Offset (server minus local, in ms) learned from the worker's `Date` headers.
#[derive(Debug, Default)]
pub struct ServerClock {
    estimate: Cell<Estimate>,
}

impl ServerClock {
    /// Learns from one answer's `Date` header, read at local time `local_ms`.
    pub fn observe(&self, date_header: &str, local_ms: i64) {
        let mut estimate = self.estimate.get();
        estimate.observe(date_header, local_ms);
        self.estimate.set(estimate);
    }

    /// The current offset, server minus local, in ms.
    pub fn offset_ms(&self) -> i64 {
        self.estimate.get().offset_ms()
    }

    /// Whether an answer has told the server's time yet.
    pub fn known(&self) -> bool {
        self.estimate.get().known()
    }

    /// The server's time now, given the local clock.
    pub fn server_now_ms(&self, local_ms: i64) -> i64 {
        self.estimate.get().server_now_ms(local_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use edgeauth_core::client::cases::CLOCK_CASES;

    /// The client core's shared cases, through the SDK's clock.
    #[test]
    fn the_shared_clock_cases() {
        for case in CLOCK_CASES {
            let clock = ServerClock::default();
            for (date, local_ms) in case.observations {
                clock.observe(date, *local_ms);
            }
            assert_eq!(clock.offset_ms(), case.offset_ms, "{}", case.name);
            assert_eq!(clock.known(), case.known, "{}", case.name);
            assert_eq!(clock.server_now_ms(5), 5 + case.offset_ms, "{}", case.name);
        }
    }
}
