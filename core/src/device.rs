//! Device login (RFC 8628, SPEC "Device login"): user codes and the pure polling state machine.

use serde::{Deserialize, Serialize};

use crate::error::{ApiError, Reason};

/// The letters of a user code: no vowels (no words), no look-alikes.
pub const USER_CODE_ALPHABET: &[u8; 20] = b"BCDFGHJKLMNPQRSTVWXZ";
/// How long a device code and its user code live.
pub const DEVICE_CODE_TTL_S: i64 = 600;
/// The polling interval handed to clients.
pub const POLL_INTERVAL_S: i64 = 5;
/// What a `slow_down` adds to the interval (RFC 8628 §3.5).
pub const SLOW_DOWN_STEP_S: i64 = 5;
/// Random bytes to pass to [`generate_user_code`]: 240 of 256 byte values are
/// kept, so 32 bytes fall short of 8 letters with a probability near 10⁻¹⁸.
pub const USER_CODE_RANDOM_BYTES: usize = 32;

const USER_CODE_LEN: usize = 8;

/// Longest client name, in characters.
pub const CLIENT_NAME_MAX_CHARS: usize = 200;
/// Unknown user codes a user may try on lookup or approval in a window
/// (`crate::session::LOGIN_WINDOW_S`) before 429: a user code has 20⁸
/// values, so guessing one that someone else is about to approve needs far more.
pub const MAX_CODE_GUESSES_PER_USER: u32 = 10;
/// The same per client address (`CF-Connecting-IP`).
pub const MAX_CODE_GUESSES_PER_IP: u32 = 30;

/// Checks the name a device gives itself, which the approval page shows to a
/// person deciding whether to let it in: trimmed, at most 200 characters, and
/// no control or bidirectional-formatting characters (which could make
/// `evil` read as `live`, or hide text). Absent or empty is "an unnamed device".
pub fn check_client_name(name: Option<&str>) -> Result<String, ApiError> {
    let name = name.map(str::trim).unwrap_or("");
    if name.is_empty() {
        return Ok("an unnamed device".to_string());
    }
    if name.chars().count() > CLIENT_NAME_MAX_CHARS {
        return Err(ApiError::invalid_field(
            "client_name",
            "must be at most 200 characters",
        ));
    }
    if name.chars().any(crate::terminal::is_deceptive_char) {
        return Err(ApiError::invalid_field(
            "client_name",
            "must not hold control or bidirectional-formatting characters",
        ));
    }
    Ok(name.to_string())
}

/// What a device code starts with.
pub const DEVICE_CODE_PREFIX: &str = "ea_dc_";

/// A new device code: `ea_dc_` and 43 base62 characters, a secret like a
/// refresh token (only its hash is stored). Pass
/// [`crate::credential::TOKEN_RANDOM_BYTES`] random bytes; `None` if they run out.
pub fn generate_device_code(random: &[u8]) -> Option<String> {
    let token = crate::credential::generate_refresh_token(random)?;
    let body = token.strip_prefix(crate::credential::REFRESH_TOKEN_PREFIX)?;
    Some(format!("{DEVICE_CODE_PREFIX}{body}"))
}

/// A new user code, `XXXX-XXXX`, drawn uniformly from the alphabet by
/// rejection sampling (bytes 240..=255 are skipped; 240 = 12 × 20). `None` if
/// the bytes run out.
pub fn generate_user_code(random: &[u8]) -> Option<String> {
    const LIMIT: u8 = 240;
    let letters: Vec<u8> = random
        .iter()
        .filter(|&&b| b < LIMIT)
        .take(USER_CODE_LEN)
        .map(|&b| USER_CODE_ALPHABET[usize::from(b % 20)])
        .collect();
    (letters.len() == USER_CODE_LEN).then(|| format_code(&letters))
}

fn format_code(letters: &[u8]) -> String {
    let (a, b) = letters.split_at(USER_CODE_LEN / 2);
    format!(
        "{}-{}",
        String::from_utf8_lossy(a),
        String::from_utf8_lossy(b)
    )
}

/// Reads a user code as a person types it: case, dashes and spaces are
/// ignored; it must then be 8 letters of the alphabet. Returns the canonical
/// `XXXX-XXXX` form, or `None`.
pub fn normalize_user_code(input: &str) -> Option<String> {
    if input.len() > 64 {
        return None;
    }
    let letters: Vec<u8> = input
        .bytes()
        .filter(|b| *b != b'-' && !b.is_ascii_whitespace())
        .map(|b| b.to_ascii_uppercase())
        .collect();
    (letters.len() == USER_CODE_LEN && letters.iter().all(|b| USER_CODE_ALPHABET.contains(b)))
        .then(|| format_code(&letters))
}

/// Where a device authorization stands. Serialized lowercase.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeviceStatus {
    /// Waiting for the user.
    Pending,
    /// The user approved; the next poll gets tokens.
    Approved,
    /// The user denied.
    Denied,
    /// Tokens were issued; the device code is spent.
    Used,
}

impl DeviceStatus {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceStatus::Pending => "pending",
            DeviceStatus::Approved => "approved",
            DeviceStatus::Denied => "denied",
            DeviceStatus::Used => "used",
        }
    }

    /// Parses the stored spelling.
    pub fn parse(s: &str) -> Option<DeviceStatus> {
        [Self::Pending, Self::Approved, Self::Denied, Self::Used]
            .into_iter()
            .find(|st| st.as_str() == s)
    }
}

/// What the store keeps about one device code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceState {
    pub status: DeviceStatus,
    /// Unix seconds.
    pub expires_at_s: i64,
    /// The interval the client must keep, grown by each `slow_down`.
    pub interval_s: i64,
    /// The previous poll, Unix seconds.
    pub last_poll_at_s: Option<i64>,
}

/// The answer to one poll of `POST /v1/auth/device/token`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DevicePollOutcome {
    /// Issue tokens now, and mark the code [`DeviceStatus::Used`].
    Approved,
    /// 400 with `authorization_pending`, `slow_down`, `expired_token` or `access_denied`.
    Refuse(Reason),
}

/// A poll's outcome and what to store afterwards: the interval (grown after a
/// `slow_down`); the store also records `now` as the last poll.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DevicePoll {
    pub result: DevicePollOutcome,
    pub interval_s: i64,
}

impl DeviceState {
    /// A new pending authorization created at `now_s`.
    pub fn new(now_s: i64) -> DeviceState {
        DeviceState {
            status: DeviceStatus::Pending,
            expires_at_s: now_s.saturating_add(DEVICE_CODE_TTL_S),
            interval_s: POLL_INTERVAL_S,
            last_poll_at_s: None,
        }
    }

    /// Decides a poll at `now_s`, in this order: a spent code or one past its
    /// expiry is `expired_token`; a denied one `access_denied`; an approved
    /// one is issued. While pending, a poll sooner than `interval_s` after the
    /// previous one is `slow_down` and adds 5 s to the interval; otherwise
    /// `authorization_pending`. The rate is judged only while pending, so a
    /// client that polls right after the user approves is not held back.
    pub fn poll(&self, now_s: i64) -> DevicePoll {
        let refuse = |reason| DevicePoll {
            result: DevicePollOutcome::Refuse(reason),
            interval_s: self.interval_s,
        };
        if self.status == DeviceStatus::Used || now_s >= self.expires_at_s {
            return refuse(Reason::ExpiredToken);
        }
        match self.status {
            DeviceStatus::Denied => refuse(Reason::AccessDenied),
            DeviceStatus::Approved => DevicePoll {
                result: DevicePollOutcome::Approved,
                interval_s: self.interval_s,
            },
            _ => match self.last_poll_at_s {
                Some(last) if now_s.saturating_sub(last) < self.interval_s => DevicePoll {
                    result: DevicePollOutcome::Refuse(Reason::SlowDown),
                    interval_s: self.interval_s.saturating_add(SLOW_DOWN_STEP_S),
                },
                _ => refuse(Reason::AuthorizationPending),
            },
        }
    }

    /// The state to store after a poll at `now_s` that gave `poll`.
    pub fn after(&self, poll: &DevicePoll, now_s: i64) -> DeviceState {
        DeviceState {
            status: if poll.result == DevicePollOutcome::Approved {
                DeviceStatus::Used
            } else {
                self.status
            },
            interval_s: poll.interval_s,
            last_poll_at_s: Some(now_s),
            ..*self
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_names_that_could_deceive_are_refused() {
        assert_eq!(
            check_client_name(Some("  my laptop ")).unwrap(),
            "my laptop"
        );
        assert_eq!(check_client_name(None).unwrap(), "an unnamed device");
        assert_eq!(check_client_name(Some(" ")).unwrap(), "an unnamed device");
        assert_eq!(check_client_name(Some("Łódź CLI ✓")).unwrap(), "Łódź CLI ✓");
        for bad in [
            "evil\u{202E}exe.cmd",
            "a\u{2066}b",
            "a\u{200B}b",
            "line\nbreak",
            "nul\0",
            "\u{FEFF}x",
            "a\u{061C}",
        ] {
            let e = check_client_name(Some(bad)).unwrap_err();
            assert_eq!(e.reason, Reason::InvalidField, "{bad:?}");
            assert!(e.message.starts_with("client_name:"));
        }
        assert!(check_client_name(Some(&"x".repeat(201))).is_err());
        assert!(check_client_name(Some(&"é".repeat(200))).is_ok());
    }

    #[test]
    fn device_codes_have_their_own_prefix() {
        let c = generate_device_code(&[1u8; 128]).unwrap();
        assert!(c.starts_with("ea_dc_") && c.len() == 6 + 43, "{c}");
        assert!(generate_device_code(&[255u8; 4]).is_none());
    }

    const T0: i64 = 1_800_000_000;

    fn refused(p: DevicePoll) -> Reason {
        match p.result {
            DevicePollOutcome::Refuse(r) => r,
            DevicePollOutcome::Approved => panic!("approved"),
        }
    }

    #[test]
    fn user_codes_have_the_spec_shape() {
        let random: Vec<u8> = (0..32u8).map(|i| i.wrapping_mul(53)).collect();
        let code = generate_user_code(&random).unwrap();
        assert_eq!(code.len(), 9);
        assert_eq!(&code[4..5], "-");
        assert!(code
            .bytes()
            .filter(|&b| b != b'-')
            .all(|b| USER_CODE_ALPHABET.contains(&b)));
        assert_eq!(normalize_user_code(&code).as_deref(), Some(code.as_str()));
    }

    #[test]
    fn user_code_sampling_is_unbiased() {
        // b % 20 indexes the alphabet; 240..=255 are skipped.
        assert_eq!(
            generate_user_code(&[0, 19, 20, 240, 255, 239, 1, 2, 3, 4]).as_deref(),
            Some("BZBZ-CDFG")
        );
        let all: Vec<u8> = (0..=255u8).collect();
        let mut counts = [0usize; 20];
        for chunk in all.chunks(8) {
            if let Some(code) = generate_user_code(chunk) {
                for b in code.bytes().filter(|&b| b != b'-') {
                    if let Some(i) = USER_CODE_ALPHABET.iter().position(|&a| a == b) {
                        counts[i] += 1;
                    }
                }
            }
        }
        // The 240 accepted byte values (in the 30 full chunks) hit each letter 12 times.
        assert!(counts.iter().all(|&c| c == 12), "{counts:?}");
        assert_eq!(generate_user_code(&[255; 32]), None);
        assert_eq!(generate_user_code(&[1; 7]), None);
    }

    #[test]
    fn normalization_ignores_case_dashes_and_spaces() {
        assert_eq!(
            normalize_user_code("bcdf-ghjk").as_deref(),
            Some("BCDF-GHJK")
        );
        assert_eq!(
            normalize_user_code(" BCDF GHJK ").as_deref(),
            Some("BCDF-GHJK")
        );
        assert_eq!(
            normalize_user_code("BCDFGHJK").as_deref(),
            Some("BCDF-GHJK")
        );
        assert_eq!(
            normalize_user_code("b-c-d-f-g-h-j-k").as_deref(),
            Some("BCDF-GHJK")
        );
        for bad in [
            "",
            "BCDF-GHJ",
            "BCDF-GHJKL",
            "ABCD-GHJK",
            "BCDF-GHJ1",
            "BCDF_GHJK",
            "BCDF-GHJÉ",
            &"B".repeat(100),
        ] {
            assert_eq!(normalize_user_code(bad), None, "{bad}");
        }
    }

    #[test]
    fn pending_then_slow_down_then_pending() {
        let s = DeviceState::new(T0);
        assert_eq!(s.interval_s, 5);
        assert_eq!(s.expires_at_s, T0 + 600);
        // The first poll is never too fast.
        let p = s.poll(T0);
        assert_eq!(refused(p), Reason::AuthorizationPending);
        let s = s.after(&p, T0);
        // Too soon: slow_down, and the interval grows by 5 s.
        let p = s.poll(T0 + 4);
        assert_eq!(refused(p), Reason::SlowDown);
        assert_eq!(p.interval_s, 10);
        let s = s.after(&p, T0 + 4);
        // 5 s later is now too soon as well.
        let p = s.poll(T0 + 9);
        assert_eq!(refused(p), Reason::SlowDown);
        assert_eq!(p.interval_s, 15);
        let s = s.after(&p, T0 + 9);
        let p = s.poll(T0 + 24);
        assert_eq!(refused(p), Reason::AuthorizationPending);
        assert_eq!(p.interval_s, 15);
    }

    #[test]
    fn approval_issues_once() {
        let mut s = DeviceState::new(T0);
        s.last_poll_at_s = Some(T0 + 10);
        s.status = DeviceStatus::Approved;
        // Right after a pending poll: approval is not held back by the rate.
        let p = s.poll(T0 + 11);
        assert_eq!(p.result, DevicePollOutcome::Approved);
        let s = s.after(&p, T0 + 11);
        assert_eq!(s.status, DeviceStatus::Used);
        assert_eq!(refused(s.poll(T0 + 30)), Reason::ExpiredToken);
    }

    #[test]
    fn denial_and_expiry() {
        let mut s = DeviceState::new(T0);
        s.status = DeviceStatus::Denied;
        assert_eq!(refused(s.poll(T0 + 10)), Reason::AccessDenied);
        assert_eq!(refused(s.poll(T0 + 600)), Reason::ExpiredToken);
        let mut approved = DeviceState::new(T0);
        approved.status = DeviceStatus::Approved;
        assert_eq!(refused(approved.poll(T0 + 600)), Reason::ExpiredToken);
        assert_eq!(
            refused(DeviceState::new(T0).poll(T0 + 599)),
            Reason::AuthorizationPending
        );
    }

    #[test]
    fn statuses_serialize_lowercase() {
        for st in [
            DeviceStatus::Pending,
            DeviceStatus::Approved,
            DeviceStatus::Denied,
            DeviceStatus::Used,
        ] {
            assert_eq!(DeviceStatus::parse(st.as_str()), Some(st));
            assert_eq!(
                serde_json::to_value(st).unwrap(),
                serde_json::json!(st.as_str())
            );
        }
        assert_eq!(DeviceStatus::parse("PENDING"), None);
    }
}
