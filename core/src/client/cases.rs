//! One table of client cases, run by core's tests and by the SDK's and the CLI's tests
//! through their own code paths (SDK: `Session`, `SdkError`, its clock; CLI: its answer,
//! failure and refresh-plan types). A rule changes here once, and every client's tests say
//! whether it still follows. Built for tests only (core's, or with the `cases` feature).

use super::refusal::{Attempt, Exchange, Retry};

/// An access token whose claims say `exp: 1700000000` (2023-11-14T22:13:20Z).
pub const TOKEN_EXP_1_700_000_000: &str = "eyJhbGciOiJFUzI1NiIsImtpZCI6ImsxIn0.eyJzdWIiOiJ1c3JfMSIsInNpZCI6InNlc18xIiwiZXhwIjoxNzAwMDAwMDAwLCJzY29wZSI6IioifQ.c2ln";
/// An access token whose claims have no `exp`.
pub const TOKEN_WITHOUT_EXP: &str =
    "eyJhbGciOiJFUzI1NiIsImtpZCI6ImsxIn0.eyJzdWIiOiJ1c3JfMSIsInNpZCI6InNlc18xIn0.c2ln";
/// `exp` of [`TOKEN_EXP_1_700_000_000`], in ms.
pub const EXP_MS: i64 = 1_700_000_000_000;
/// `Date` at [`EXP_MS`] (whole seconds).
pub const DATE_AT_EXP: &str = "Tue, 14 Nov 2023 22:13:20 GMT";

/// A token answer, and what a client reads from it at `server_now_ms`.
pub struct AnswerCase {
    pub name: &'static str,
    pub text: &'static str,
    pub server_now_ms: i64,
    /// `None`: the answer is not the contract's shape and is refused.
    pub expect: Option<AnswerExpect>,
}

/// What a client reads from a token answer.
#[derive(Debug)]
pub struct AnswerExpect {
    /// Body mode (`true`) or cookie mode.
    pub has_refresh_token: bool,
    /// The access token's expiry: its `exp`, else `expires_at`.
    pub expires_at_ms: Option<i64>,
    /// Whether a refresh is due at the case's `server_now_ms`.
    pub refresh_due: bool,
}

macro_rules! answer {
    ($token:literal, $rest:literal) => {
        concat!(
            r#"{"token":""#,
            $token,
            r#"","expires_at":"2023-11-14T22:13:20Z","refresh_expires_at":"2023-11-21T22:13:20Z""#,
            $rest,
            r#","user":{"id":"usr_1","email":"a@example.com","name":"A","roles":[],"tenants":{}}}"#
        )
    };
}

/// Token answers, body and cookie mode, and ones outside the contract.
pub const ANSWER_CASES: &[AnswerCase] = &[
    AnswerCase {
        name: "a login answer with 10 minutes left: not due",
        text: answer!(
            "eyJhbGciOiJFUzI1NiIsImtpZCI6ImsxIn0.eyJzdWIiOiJ1c3JfMSIsInNpZCI6InNlc18xIiwiZXhwIjoxNzAwMDAwMDAwLCJzY29wZSI6IioifQ.c2ln",
            r#","refresh_token":"ea_rt_0123456789abcdefghijABCDEFGHIJ0123456789""#
        ),
        server_now_ms: EXP_MS - 600_000,
        expect: Some(AnswerExpect {
            has_refresh_token: true,
            expires_at_ms: Some(EXP_MS),
            refresh_due: false,
        }),
    },
    AnswerCase {
        name: "cookie mode: no refresh_token in the body, and under 5 minutes left",
        text: answer!(
            "eyJhbGciOiJFUzI1NiIsImtpZCI6ImsxIn0.eyJzdWIiOiJ1c3JfMSIsInNpZCI6InNlc18xIiwiZXhwIjoxNzAwMDAwMDAwLCJzY29wZSI6IioifQ.c2ln",
            ""
        ),
        server_now_ms: EXP_MS - 299_999,
        expect: Some(AnswerExpect {
            has_refresh_token: false,
            expires_at_ms: Some(EXP_MS),
            refresh_due: true,
        }),
    },
    AnswerCase {
        name: "exactly 5 minutes left is not yet due",
        text: answer!(
            "eyJhbGciOiJFUzI1NiIsImtpZCI6ImsxIn0.eyJzdWIiOiJ1c3JfMSIsInNpZCI6InNlc18xIiwiZXhwIjoxNzAwMDAwMDAwLCJzY29wZSI6IioifQ.c2ln",
            ""
        ),
        server_now_ms: EXP_MS - 300_000,
        expect: Some(AnswerExpect {
            has_refresh_token: false,
            expires_at_ms: Some(EXP_MS),
            refresh_due: false,
        }),
    },
    AnswerCase {
        name: "a token without exp: expires_at says when",
        text: answer!(
            "eyJhbGciOiJFUzI1NiIsImtpZCI6ImsxIn0.eyJzdWIiOiJ1c3JfMSIsInNpZCI6InNlc18xIn0.c2ln",
            r#","refresh_token":"ea_rt_0123456789abcdefghijABCDEFGHIJ0123456789""#
        ),
        server_now_ms: EXP_MS + 1,
        expect: Some(AnswerExpect {
            has_refresh_token: true,
            expires_at_ms: Some(EXP_MS),
            refresh_due: true,
        }),
    },
    AnswerCase {
        name: "no expires_at: not the contract's shape",
        text: r#"{"token":"t","refresh_token":"ea_rt_x","refresh_expires_at":"2023-11-21T22:13:20Z"}"#,
        server_now_ms: 0,
        expect: None,
    },
    AnswerCase {
        name: "an empty access token",
        text: answer!("", ""),
        server_now_ms: 0,
        expect: None,
    },
    AnswerCase {
        name: "an empty refresh token",
        text: answer!(
            "eyJhbGciOiJFUzI1NiIsImtpZCI6ImsxIn0.eyJzdWIiOiJ1c3JfMSIsInNpZCI6InNlc18xIn0.c2ln",
            r#","refresh_token":"""#
        ),
        server_now_ms: 0,
        expect: None,
    },
    AnswerCase {
        name: "not JSON",
        text: "<html>bad gateway</html>",
        server_now_ms: 0,
        expect: None,
    },
];

/// `Date` headers seen at local times, and the offset (server minus local, ms) learned.
pub struct ClockCase {
    pub name: &'static str,
    pub observations: &'static [(&'static str, i64)],
    pub offset_ms: i64,
    pub known: bool,
}

/// The server clock learned from `Date`.
pub const CLOCK_CASES: &[ClockCase] = &[
    ClockCase {
        name: "a correct clock is left alone (Date has whole seconds)",
        observations: &[
            (DATE_AT_EXP, EXP_MS + 900),
            (DATE_AT_EXP, EXP_MS),
            (DATE_AT_EXP, EXP_MS + 1_400),
        ],
        offset_ms: 0,
        known: true,
    },
    ClockCase {
        name: "a clock ten minutes fast is corrected to the middle of the server's second",
        observations: &[(DATE_AT_EXP, EXP_MS + 600_000)],
        offset_ms: -599_500,
        known: true,
    },
    ClockCase {
        name: "later answers within the rounding noise keep the offset",
        observations: &[
            (DATE_AT_EXP, EXP_MS + 600_000),
            (DATE_AT_EXP, EXP_MS + 600_800),
        ],
        offset_ms: -599_500,
        known: true,
    },
    ClockCase {
        name: "an hour slow, then the local clock is fixed",
        observations: &[(DATE_AT_EXP, EXP_MS - 3_600_000), (DATE_AT_EXP, EXP_MS)],
        offset_ms: 500,
        known: true,
    },
    ClockCase {
        name: "unreadable dates teach nothing",
        observations: &[("yesterday", 0), ("", 0)],
        offset_ms: 0,
        known: false,
    },
];

/// When a refresh is due (SPEC: less than 5 minutes remain).
pub struct RefreshDueCase {
    pub name: &'static str,
    pub exp_ms: Option<i64>,
    pub server_now_ms: i64,
    pub due: bool,
}

/// The refresh-due rule at its edges.
pub const REFRESH_DUE_CASES: &[RefreshDueCase] = &[
    RefreshDueCase {
        name: "an hour left",
        exp_ms: Some(EXP_MS),
        server_now_ms: EXP_MS - 3_600_000,
        due: false,
    },
    RefreshDueCase {
        name: "exactly 5 minutes left",
        exp_ms: Some(EXP_MS),
        server_now_ms: EXP_MS - 300_000,
        due: false,
    },
    RefreshDueCase {
        name: "a millisecond under 5 minutes",
        exp_ms: Some(EXP_MS),
        server_now_ms: EXP_MS - 299_999,
        due: true,
    },
    RefreshDueCase {
        name: "a 20-second token is always due",
        exp_ms: Some(EXP_MS),
        server_now_ms: EXP_MS - 20_000,
        due: true,
    },
    RefreshDueCase {
        name: "already expired",
        exp_ms: Some(EXP_MS),
        server_now_ms: EXP_MS + 10,
        due: true,
    },
    RefreshDueCase {
        name: "no known expiry: the worker's 401 will say",
        exp_ms: None,
        server_now_ms: EXP_MS,
        due: false,
    },
];

/// An error answer, what a client reads from it, and whether it ends the session.
pub struct RefusalCase {
    pub name: &'static str,
    pub status: u16,
    pub body: &'static str,
    pub exchange: Exchange,
    /// The bearer is a session with a refresh token.
    pub refreshable: bool,
    pub code: Option<&'static str>,
    pub reason: Option<&'static str>,
    pub ends_session: bool,
}

macro_rules! error_body {
    ($code:literal, $reason:literal) => {
        concat!(
            r#"{"error":{"code":""#,
            $code,
            r#"","reason":""#,
            $reason,
            r#"","message":"m"}}"#
        )
    };
}

/// Error answers, and which of them mean "sign in again".
pub const REFUSAL_CASES: &[RefusalCase] = &[
    RefusalCase {
        name: "token_expired on a call: refresh, do not sign out",
        status: 401,
        body: error_body!("UNAUTHORIZED", "token_expired"),
        exchange: Exchange::Other,
        refreshable: true,
        code: Some("UNAUTHORIZED"),
        reason: Some("token_expired"),
        ends_session: false,
    },
    RefusalCase {
        name: "token_expired with nothing to refresh it with: sign in again",
        status: 401,
        body: error_body!("UNAUTHORIZED", "token_expired"),
        exchange: Exchange::Other,
        refreshable: false,
        code: Some("UNAUTHORIZED"),
        reason: Some("token_expired"),
        ends_session: true,
    },
    RefusalCase {
        name: "session_revoked on any call signs out",
        status: 401,
        body: error_body!("UNAUTHORIZED", "session_revoked"),
        exchange: Exchange::Other,
        refreshable: true,
        code: Some("UNAUTHORIZED"),
        reason: Some("session_revoked"),
        ends_session: true,
    },
    RefusalCase {
        name: "a reused refresh token: the refresh is refused, sign in again",
        status: 401,
        body: error_body!("UNAUTHORIZED", "refresh_token_reused"),
        exchange: Exchange::Refresh,
        refreshable: true,
        code: Some("UNAUTHORIZED"),
        reason: Some("refresh_token_reused"),
        ends_session: true,
    },
    RefusalCase {
        name: "any 401 to a refresh signs out, even without a body",
        status: 401,
        body: "",
        exchange: Exchange::Refresh,
        refreshable: true,
        code: None,
        reason: None,
        ends_session: true,
    },
    RefusalCase {
        name: "a 503 to a refresh says nothing about the session",
        status: 503,
        body: error_body!("UNAVAILABLE", "store_unavailable"),
        exchange: Exchange::Refresh,
        refreshable: true,
        code: Some("UNAVAILABLE"),
        reason: Some("store_unavailable"),
        ends_session: false,
    },
    RefusalCase {
        name: "a 400 to a refresh is a bad request, not a sign-out",
        status: 400,
        body: error_body!("BAD_REQUEST", "invalid_field"),
        exchange: Exchange::Refresh,
        refreshable: true,
        code: Some("BAD_REQUEST"),
        reason: Some("invalid_field"),
        ends_session: false,
    },
    RefusalCase {
        name: "403 refuses the request, never the session",
        status: 403,
        body: error_body!("FORBIDDEN", "insufficient_scope"),
        exchange: Exchange::Other,
        refreshable: true,
        code: Some("FORBIDDEN"),
        reason: Some("insufficient_scope"),
        ends_session: false,
    },
    RefusalCase {
        name: "a 401 about the token's signature is reported, not a sign-out",
        status: 401,
        body: error_body!("UNAUTHORIZED", "bad_token_signature"),
        exchange: Exchange::Other,
        refreshable: true,
        code: Some("UNAUTHORIZED"),
        reason: Some("bad_token_signature"),
        ends_session: false,
    },
    RefusalCase {
        name: "a reason added later is kept as a word",
        status: 401,
        body: error_body!("UNAUTHORIZED", "from_the_future"),
        exchange: Exchange::Other,
        refreshable: true,
        code: Some("UNAUTHORIZED"),
        reason: Some("from_the_future"),
        ends_session: false,
    },
    RefusalCase {
        name: "a proxy's HTML page",
        status: 502,
        body: "<html>bad gateway</html>",
        exchange: Exchange::Other,
        refreshable: true,
        code: None,
        reason: None,
        ends_session: false,
    },
    RefusalCase {
        name: "an error that is not the contract's object",
        status: 404,
        body: r#"{"error":"nope"}"#,
        exchange: Exchange::Other,
        refreshable: true,
        code: None,
        reason: None,
        ends_session: false,
    },
];

/// A call refused with these 401 reasons one after another, and the retry each calls for.
pub struct RetryCase {
    pub name: &'static str,
    pub attempt: Attempt,
    pub reasons: &'static [&'static str],
    pub retries: &'static [Option<Retry>],
}

const SESSION_CALL: Attempt = Attempt {
    signed: false,
    resendable: true,
    signable: true,
    refreshable: true,
    clock_known: true,
};

const SIGNED_KEY_CALL: Attempt = Attempt {
    signed: true,
    resendable: true,
    signable: true,
    refreshable: false,
    clock_known: true,
};

/// The 401s a call retries, each once.
pub const RETRY_CASES: &[RetryCase] = &[
    RetryCase {
        name: "token_expired refreshes once",
        attempt: SESSION_CALL,
        reasons: &["token_expired", "token_expired"],
        retries: &[Some(Retry::Refresh), None],
    },
    RetryCase {
        name: "an API key is never refreshed",
        attempt: SIGNED_KEY_CALL,
        reasons: &["token_expired"],
        retries: &[None],
    },
    RetryCase {
        name: "a stale timestamp is signed again once, with the corrected clock",
        attempt: SIGNED_KEY_CALL,
        reasons: &["timestamp_out_of_window", "timestamp_out_of_window"],
        retries: &[Some(Retry::Reclock), None],
    },
    RetryCase {
        name: "without a Date there is nothing to correct the clock with",
        attempt: Attempt {
            clock_known: false,
            ..SIGNED_KEY_CALL
        },
        reasons: &["timestamp_out_of_window"],
        retries: &[None],
    },
    RetryCase {
        name: "an unsigned request's timestamp refusal is not retried",
        attempt: SESSION_CALL,
        reasons: &["timestamp_out_of_window"],
        retries: &[None],
    },
    RetryCase {
        name: "signature_missing signs the request once",
        attempt: SESSION_CALL,
        reasons: &["signature_missing", "signature_missing"],
        retries: &[Some(Retry::Sign), None],
    },
    RetryCase {
        name: "a body that cannot be signed is not retried",
        attempt: Attempt {
            signable: false,
            ..SESSION_CALL
        },
        reasons: &["signature_missing"],
        retries: &[None],
    },
    RetryCase {
        name: "a body that cannot be sent twice is never retried",
        attempt: Attempt {
            resendable: false,
            ..SESSION_CALL
        },
        reasons: &["token_expired"],
        retries: &[None],
    },
    RetryCase {
        name: "each kind of retry once, in any order",
        attempt: Attempt {
            signed: true,
            ..SESSION_CALL
        },
        reasons: &[
            "timestamp_out_of_window",
            "token_expired",
            "timestamp_out_of_window",
            "token_expired",
        ],
        retries: &[Some(Retry::Reclock), Some(Retry::Refresh), None, None],
    },
    RetryCase {
        name: "session_revoked and unknown reasons are not retried",
        attempt: SESSION_CALL,
        reasons: &["session_revoked", "from_the_future", ""],
        retries: &[None, None, None],
    },
];
