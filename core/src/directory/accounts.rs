//! Accounts: registration (one per email) and the two halves of a login
//! (the limits are checked and the attempt counted before the password is
//! checked outside; a success then opens the session and takes the count back).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{ApiError, Reason};
use crate::scope::{Role, ScopeSet};
use crate::session::{
    ended_window_cutoff, FailureWindow, MAX_FAILURES_PER_EMAIL, MAX_FAILURES_PER_IP,
};

use super::records::{NewSession, User, UserRecord};
use super::sessions::open_session;
use super::store::Store;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum AccountCommand {
    /// Registers a user, unless the email is taken (409 `email_taken`).
    Register {
        id: String,
        email: String,
        name: String,
        password_hash: String,
        scopes: ScopeSet,
        tenants: BTreeMap<String, Role>,
        now: i64,
    },
    /// Checks the login limits (429) and counts this attempt as a failure
    /// until [`AccountCommand::LoginSucceeded`] takes it back, so concurrent
    /// guesses cannot all pass the check before any is recorded.
    LoginBegin { email: String, ip: String, now: i64 },
    /// The password matched: clear the email's count, take back the
    /// address's, store an upgraded hash, open the session; with
    /// `require_verified_email` (`REQUIRE_VERIFIED_EMAIL`), only for a
    /// verified address (else 403 `email_unverified`).
    LoginSucceeded {
        email: String,
        ip: String,
        user_id: String,
        session: NewSession,
        upgraded_password_hash: Option<String>,
        #[serde(default)]
        require_verified_email: bool,
        now: i64,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum AccountOutcome {
    Registered {
        user: User,
    },
    /// The user with this email, if any, and the stored hash to check.
    LoginBegun {
        user: Option<User>,
        password_hash: Option<String>,
    },
    LoggedIn,
}

fn email_key(email: &str) -> String {
    format!("email:{email}")
}

fn ip_key(ip: &str) -> String {
    format!("ip:{ip}")
}

pub fn run<S: Store>(store: &mut S, c: AccountCommand) -> Result<AccountOutcome, ApiError> {
    match c {
        AccountCommand::Register {
            id,
            email,
            name,
            password_hash,
            scopes,
            tenants,
            now,
        } => {
            if store.user_by_email(&email)?.is_some() {
                return Err(ApiError::new(Reason::EmailTaken));
            }
            let record = UserRecord {
                id,
                email,
                name,
                password_hash,
                roles: vec!["user".into()],
                tenants,
                scopes,
                created_at: now,
                email_verified: false,
            };
            store.insert_user(&record)?;
            Ok(AccountOutcome::Registered {
                user: record.user(),
            })
        }
        AccountCommand::LoginBegin { email, ip, now } => {
            let keys = [
                (email_key(&email), MAX_FAILURES_PER_EMAIL),
                (ip_key(&ip), MAX_FAILURES_PER_IP),
            ];
            // Ended windows limit nobody: dropping them keeps a spray of
            // addresses or emails from growing the table without bound.
            store.purge_windows(ended_window_cutoff(now))?;
            for (key, limit) in &keys {
                if let Some(secs) = store.window(key)?.and_then(|w| w.retry_after(*limit, now)) {
                    return Err(ApiError::rate_limited(secs));
                }
            }
            for (key, _) in &keys {
                let w = FailureWindow::after_failure(store.window(key)?, now);
                store.put_window(key, w)?;
            }
            let user = store.user_by_email(&email)?;
            Ok(AccountOutcome::LoginBegun {
                password_hash: user.as_ref().map(|u| u.password_hash.clone()),
                user: user.map(|u| u.user()),
            })
        }
        AccountCommand::LoginSucceeded {
            email,
            ip,
            user_id,
            session,
            upgraded_password_hash,
            require_verified_email,
            now,
        } => {
            // A successful login clears its email's count and does not count for its address.
            store.delete_window(&email_key(&email))?;
            if let Some(w) = FailureWindow::after_success(store.window(&ip_key(&ip))?, now) {
                store.put_window(&ip_key(&ip), w)?;
            }
            let mut user = store.user_by_id(&user_id)?.ok_or_else(|| {
                ApiError::with_message(Reason::InvalidLogin, "the account no longer exists")
            })?;
            if let Some(h) = upgraded_password_hash {
                user.password_hash = h;
                store.update_user(&user)?;
            }
            // Asked only once the password matched: an unverified address and a
            // wrong password stay `invalid_login`, so the 403 tells nothing to a guesser.
            if require_verified_email && !user.email_verified {
                return Err(ApiError::new(Reason::EmailUnverified));
            }
            open_session(store, &user_id, &session, now)?;
            Ok(AccountOutcome::LoggedIn)
        }
    }
}
