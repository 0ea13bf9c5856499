//! Every way a command can fail, the exit code each one gives, and what to tell the user to do next.

use std::fmt;
use std::ops::{Deref, DerefMut};
use std::path::PathBuf;

use edgeauth_core::client::{Exchange, Refusal};
use edgeauth_core::Reason;

/// SPEC's exit codes.
pub mod exit {
    /// Success.
    pub const OK: i32 = 0;
    /// A failure: the server answered with an error, could not be reached, the
    /// config file is broken, the keyring is missing...
    pub const FAILURE: i32 = 1;
    /// Bad usage: an unknown command or flag, a missing or conflicting argument.
    pub const USAGE: i32 = 2;
    /// Not signed in, or the credential was refused (401/403).
    pub const AUTH: i32 = 4;
}

/// An error answer of the API: its body as the client core reads it (`status`, `code`,
/// `reason`, `message`, and what they call for), and `Retry-After`. Exit code 4 is the
/// core's `refuses_credential` (401/403); "sign in again" is its `ends_session`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiRefusal {
    pub refusal: Refusal,
    /// `Retry-After`, in seconds, on a 429.
    pub retry_after_s: Option<u64>,
}

impl Deref for ApiRefusal {
    type Target = Refusal;

    fn deref(&self) -> &Refusal {
        &self.refusal
    }
}

impl DerefMut for ApiRefusal {
    fn deref_mut(&mut self) -> &mut Refusal {
        &mut self.refusal
    }
}

impl ApiRefusal {
    /// A refusal decided here, before any request: the credential cannot be
    /// one the server would take (`malformed_credential`, as the server would say).
    pub fn malformed_credential(why: &str) -> ApiRefusal {
        ApiRefusal {
            refusal: Refusal {
                status: 401,
                code: Some("UNAUTHORIZED".into()),
                reason: Some(Reason::MalformedCredential.as_str().into()),
                message: Some(why.to_string()),
            },
            retry_after_s: None,
        }
    }
}

/// Why a command failed. Each variant knows its exit code and prints one
/// message that says what happened and what to run next; no variant ever
/// holds a password or a credential.
#[derive(Debug)]
pub enum Failure {
    /// Bad usage that clap could not see (conflicting input, a bad `--data @file`...).
    Usage(String),
    /// No credential for this profile and URL.
    NotSignedIn { next: String },
    /// The server refused the credential (401/403), or a login was refused.
    Refused { refusal: ApiRefusal, next: String },
    /// Any other error answer.
    Api {
        refusal: ApiRefusal,
        next: Option<String>,
    },
    /// The server could not be reached: the message names the URL.
    Unreachable { url: String, detail: String },
    /// The config file cannot be read or parsed; it is left as it was.
    Config {
        path: PathBuf,
        line: Option<usize>,
        detail: String,
    },
    /// Writing the config file failed.
    ConfigWrite { path: PathBuf, detail: String },
    /// The OS keyring is missing or failed.
    Keyring(String),
    /// Device login ended without a session (denied, expired).
    DeviceLogin { what: String, next: String },
    /// Anything else, already phrased for people.
    Other(String),
}

impl Failure {
    /// The process exit code SPEC gives this failure.
    pub fn exit_code(&self) -> i32 {
        match self {
            Failure::Usage(_) => exit::USAGE,
            Failure::NotSignedIn { .. } | Failure::Refused { .. } | Failure::DeviceLogin { .. } => {
                exit::AUTH
            }
            Failure::Api { .. }
            | Failure::Unreachable { .. }
            | Failure::Config { .. }
            | Failure::ConfigWrite { .. }
            | Failure::Keyring(_)
            | Failure::Other(_) => exit::FAILURE,
        }
    }

    /// A refused refresh: when the session is over (the client core's rule: any 401),
    /// "session expired" and exit code 4; anything else as any error answer.
    pub fn after_refresh(refusal: ApiRefusal, hints: &Hints) -> Failure {
        if refusal.ends_session(Exchange::Refresh, true) {
            Failure::Refused {
                refusal,
                next: format!("session expired: {}", hints.cmd("auth login")),
            }
        } else {
            Failure::from_refusal(refusal, hints)
        }
    }

    /// An error answer, sorted into "the credential was refused" (4) or "a failure" (1).
    pub fn from_refusal(refusal: ApiRefusal, hints: &Hints) -> Failure {
        if refusal.refuses_credential() {
            let next = hints.after_refusal(&refusal);
            Failure::Refused { refusal, next }
        } else {
            let next = hints.after_error(&refusal);
            Failure::Api { refusal, next }
        }
    }
}

fn describe(r: &ApiRefusal) -> String {
    let what = r
        .message
        .clone()
        .or_else(|| r.reason().map(|x| x.default_message().to_string()));
    match (what, &r.reason) {
        (Some(what), Some(reason)) => format!("{what} ({} {reason})", r.status),
        (Some(what), None) => format!("{what} ({})", r.status),
        (None, Some(reason)) => format!("the server answered {} {reason}", r.status),
        (None, None) => format!("the server answered {}", r.status),
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Usage(m) => write!(f, "{m}\n\nFor more information, try '--help'."),
            Failure::NotSignedIn { next } => write!(f, "not signed in: {next}"),
            Failure::Refused { refusal, next } => write!(f, "{}: {next}", describe(refusal)),
            Failure::Api { refusal, next } => {
                write!(f, "{}", describe(refusal))?;
                if let Some(s) = refusal.retry_after_s {
                    write!(f, ": try again in {s} s")?;
                }
                match next {
                    Some(n) => write!(f, ": {n}"),
                    None => Ok(()),
                }
            }
            Failure::Unreachable { url, detail } => write!(
                f,
                "cannot reach {url}: {detail}. Is the server running? \
                 Choose another with --url or EDGEAUTH_URL"
            ),
            Failure::Config { path, line, detail } => {
                write!(f, "config file {}", path.display())?;
                if let Some(l) = line {
                    write!(f, " line {l}")?;
                }
                write!(
                    f,
                    ": {detail}. It was left as it was: fix it, or move it away to start afresh"
                )
            }
            Failure::ConfigWrite { path, detail } => {
                write!(f, "cannot write config file {}: {detail}", path.display())
            }
            Failure::Keyring(m) => write!(f, "{m}"),
            Failure::DeviceLogin { what, next } => write!(f, "{what}: {next}"),
            Failure::Other(m) => write!(f, "{m}"),
        }
    }
}

/// Builds the "what to run next" half of messages, naming the profile in use
/// so that the suggested command works when pasted.
#[derive(Clone, Debug, Default)]
pub struct Hints {
    /// `Some(name)` when the profile is not `default`.
    pub profile: Option<String>,
    /// Whether the credential in use came from `EDGEAUTH_TOKEN`.
    pub from_env: bool,
    /// Whether the credential in use is an API key.
    pub api_key: bool,
}

impl Hints {
    /// "run `edgeauth [--profile P] <rest>`".
    pub fn cmd(&self, rest: &str) -> String {
        format!("run {}", self.quoted(rest))
    }

    /// "`edgeauth [--profile P] <rest>`".
    pub fn quoted(&self, rest: &str) -> String {
        match &self.profile {
            Some(p) => format!("`edgeauth --profile {p} {rest}`"),
            None => format!("`edgeauth {rest}`"),
        }
    }

    /// What to do when there is no credential.
    pub fn not_signed_in(&self) -> Failure {
        Failure::NotSignedIn {
            next: self.cmd("auth login"),
        }
    }

    /// What to do after a 401/403.
    pub fn after_refusal(&self, r: &ApiRefusal) -> String {
        use Reason::*;
        let relogin = if self.from_env {
            "EDGEAUTH_TOKEN holds a credential the server refuses: set it to a valid one, or unset it"
                .to_string()
        } else if self.api_key {
            format!(
                "create a new key (`edgeauth keys create`, or in the console) and {}",
                self.cmd("auth login --with-token")
            )
        } else {
            self.cmd("auth login")
        };
        // The retries (a refresh for `token_expired`) are behind us: nothing refreshes now.
        let over = r.ends_session(Exchange::Other, false);
        match r.reason() {
            _ if over && !self.from_env && !self.api_key => {
                format!("session expired: {}", self.cmd("auth login"))
            }
            Some(InvalidLogin) => "check the email and password and try again".to_string(),
            Some(SignatureMissing) => {
                "this route only takes signed requests: run the command without --no-sign"
                    .to_string()
            }
            Some(TimestampOutOfWindow) => {
                "the request's time was refused even after correcting for the server's clock: \
                 check this machine's clock"
                    .to_string()
            }
            Some(SignatureInvalid | NonceReplayed) => {
                "the request signature was refused: try again, or report this as a bug".to_string()
            }
            Some(InsufficientScope | TenantDenied | ResourceDenied | IpDenied) => format!(
                "this credential is not allowed to do that: use one that is (another profile, \
                 a key with the right --scope, --tenant or --resource), or {}",
                self.cmd("auth status")
            ),
            Some(PrivilegeEscalation) => {
                "a key cannot carry a scope, tenant or resource that its creator lacks".to_string()
            }
            _ => relogin,
        }
    }

    /// What to do after any other error answer, when there is something useful to say.
    pub fn after_error(&self, r: &ApiRefusal) -> Option<String> {
        use Reason::*;
        match r.reason() {
            Some(EmailTaken) => Some(format!(
                "sign in instead: {}",
                self.cmd("auth login --email <EMAIL>")
            )),
            Some(NoRoute) => Some("check the path: the policy has no route for it".to_string()),
            Some(StoreUnavailable | IssuerUnreachable) => {
                Some("the server cannot decide right now: try again shortly".to_string())
            }
            Some(AuthorizationPending | SlowDown) => None,
            Some(ExpiredToken) => Some(self.cmd("auth login")),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(status: u16, reason: &str) -> ApiRefusal {
        ApiRefusal {
            refusal: Refusal {
                status,
                code: None,
                reason: Some(reason.to_string()),
                message: None,
            },
            retry_after_s: None,
        }
    }

    /// The client core's shared cases, through the CLI's failures: exit code 4 for
    /// 401/403, and "session expired" exactly where the session is over.
    #[test]
    fn the_shared_refusal_cases() {
        use edgeauth_core::client::cases::REFUSAL_CASES;
        let h = Hints::default();
        for case in REFUSAL_CASES {
            let r = ApiRefusal {
                refusal: Refusal::from_answer(case.status, case.body.as_bytes()),
                retry_after_s: None,
            };
            assert_eq!(r.reason.as_deref(), case.reason, "{}", case.name);
            let f = match case.exchange {
                Exchange::Refresh => Failure::after_refresh(r, &h),
                // The CLI reports a call's refusal once its retries are spent.
                Exchange::Other if !case.refreshable => Failure::from_refusal(r, &h),
                Exchange::Other => continue,
            };
            let expired = f.to_string().contains("session expired");
            assert_eq!(expired, case.ends_session, "{}: {f}", case.name);
            let refused = matches!(case.status, 401 | 403);
            assert_eq!(f.exit_code() == exit::AUTH, refused, "{}: {f}", case.name);
        }
    }

    #[test]
    fn exit_codes_follow_spec() {
        let h = Hints::default();
        assert_eq!(Failure::Usage("x".into()).exit_code(), 2);
        assert_eq!(h.not_signed_in().exit_code(), 4);
        for (status, reason) in [
            (401, "token_expired"),
            (401, "api_key_revoked"),
            (403, "insufficient_scope"),
            (401, "signature_missing"),
        ] {
            assert_eq!(
                Failure::from_refusal(refusal(status, reason), &h).exit_code(),
                4,
                "{reason}"
            );
        }
        for (status, reason) in [
            (400, "invalid_field"),
            (404, "not_found"),
            (409, "email_taken"),
            (429, "rate_limited"),
            (503, "store_unavailable"),
            (500, "whatever"),
        ] {
            assert_eq!(
                Failure::from_refusal(refusal(status, reason), &h).exit_code(),
                1,
                "{reason}"
            );
        }
        let unreachable = Failure::Unreachable {
            url: "http://127.0.0.1:1".into(),
            detail: "connection refused".into(),
        };
        assert_eq!(unreachable.exit_code(), 1);
        assert!(unreachable.to_string().contains("http://127.0.0.1:1"));
        let config = Failure::Config {
            path: "/x/config.toml".into(),
            line: Some(3),
            detail: "bad".into(),
        };
        assert_eq!(config.exit_code(), 1);
        assert!(config
            .to_string()
            .starts_with("config file /x/config.toml line 3: bad"));
        assert_eq!(Failure::Keyring("none".into()).exit_code(), 1);
        assert_eq!(
            Failure::DeviceLogin {
                what: "denied".into(),
                next: "x".into()
            }
            .exit_code(),
            4
        );
    }

    #[test]
    fn messages_say_what_to_run_next() {
        let h = Hints::default();
        let f = Failure::from_refusal(refusal(401, "token_expired"), &h);
        assert!(
            f.to_string()
                .ends_with("session expired: run `edgeauth auth login`"),
            "{f}"
        );
        assert_eq!(
            h.not_signed_in().to_string(),
            "not signed in: run `edgeauth auth login`"
        );

        let ci = Hints {
            profile: Some("ci".into()),
            api_key: true,
            from_env: false,
        };
        let f = Failure::from_refusal(refusal(401, "api_key_revoked"), &ci);
        assert!(
            f.to_string()
                .contains("`edgeauth --profile ci auth login --with-token`"),
            "{f}"
        );

        let env = Hints {
            from_env: true,
            ..Hints::default()
        };
        let f = Failure::from_refusal(refusal(401, "api_key_revoked"), &env);
        assert!(f.to_string().contains("EDGEAUTH_TOKEN"), "{f}");

        let f = Failure::from_refusal(refusal(401, "signature_missing"), &h);
        assert!(f.to_string().contains("--no-sign"), "{f}");
        let f = Failure::from_refusal(refusal(409, "email_taken"), &h);
        assert!(f.to_string().contains("auth login"), "{f}");
    }

    #[test]
    fn messages_name_status_and_reason_and_prefer_the_servers_words() {
        let mut r = refusal(400, "invalid_field");
        r.message = Some("password: must be 8 to 1024 characters".into());
        let f = Failure::from_refusal(r, &Hints::default());
        assert_eq!(
            f.to_string(),
            "password: must be 8 to 1024 characters (400 invalid_field)"
        );
        let mut r = refusal(429, "rate_limited");
        r.retry_after_s = Some(30);
        assert!(Failure::from_refusal(r, &Hints::default())
            .to_string()
            .contains("try again in 30 s"));
        let bare = ApiRefusal {
            refusal: Refusal {
                status: 502,
                ..Refusal::default()
            },
            retry_after_s: None,
        };
        assert_eq!(
            Failure::from_refusal(bare, &Hints::default()).to_string(),
            "the server answered 502"
        );
    }
}
