//! Email links: issuing a token within the per-address limit, spending one
//! (verify the address, reset the password, sign in), and the development
//! mailbox. Tokens are kept by SHA-256 only and spent once; proving the
//! address is what grants `TENANT_ADMINS` roles, once, when it first happens.

use serde::{Deserialize, Serialize};

use crate::email::{ended_send_window_cutoff, EmailPurpose, MESSAGES_PER_ADDRESS, SEND_WINDOW_S};
use crate::error::{ApiError, Reason};
use crate::scope::Role;
use crate::session::FailureWindow;
use crate::settings::TenantAdmins;

use super::records::{EmailTokenRecord, MailboxMessage, NewSession, User, UserRecord};
use super::sessions::open_session;
use super::store::Store;

/// Mailbox messages are kept this long (development only).
const MAILBOX_RETENTION_S: i64 = 24 * 3600;

/// Who a message is for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Addressee {
    /// An address as typed (normalized): it may belong to nobody.
    Email(String),
    /// A signed-in user.
    User(String),
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum EmailCommand {
    /// Counts one message for the address (429 past the limit, the same for
    /// addresses nobody holds) and, when a user is to receive it, records the
    /// token's hash.
    Issue {
        to: Addressee,
        purpose: EmailPurpose,
        token_hash: String,
        now: i64,
    },
    /// Spends a verification token: the address is verified.
    Verify {
        token_hash: String,
        tenant_admins: TenantAdmins,
        now: i64,
    },
    /// Spends a reset token: the new password, every session of the user
    /// revoked, then `session` opened. A reset proves the mailbox too.
    Reset {
        token_hash: String,
        password_hash: String,
        session: NewSession,
        tenant_admins: TenantAdmins,
        now: i64,
    },
    /// Spends a sign-in token: the address is verified, `session` opened.
    SignIn {
        token_hash: String,
        session: NewSession,
        tenant_admins: TenantAdmins,
        now: i64,
    },
    /// Keeps a message in the development mailbox.
    Deliver { message: MailboxMessage },
    /// The development mailbox of one address, newest first.
    Mailbox { to: String },
}

/// Whom to send a message to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recipient {
    pub email: String,
    pub name: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum EmailOutcome {
    /// `None`: nothing to send (nobody holds the address, or it is verified already).
    Issued {
        recipient: Option<Recipient>,
    },
    /// The user now; `grants_changed` when verifying granted tenant roles
    /// (the worker forgets the user's cached grants in its isolate).
    Verified {
        user: User,
        grants_changed: bool,
    },
    /// `ended_sessions`: the sessions the reset revoked.
    Reset {
        user: User,
        ended_sessions: Vec<String>,
        grants_changed: bool,
    },
    SignedIn {
        user: User,
        grants_changed: bool,
    },
    Delivered,
    Mailbox {
        messages: Vec<MailboxMessage>,
    },
}

fn invalid() -> ApiError {
    ApiError::new(Reason::EmailTokenInvalid)
}

pub fn run<S: Store>(store: &mut S, c: EmailCommand) -> Result<EmailOutcome, ApiError> {
    match c {
        EmailCommand::Issue {
            to,
            purpose,
            token_hash,
            now,
        } => issue(store, to, purpose, token_hash, now),
        EmailCommand::Verify {
            token_hash,
            tenant_admins,
            now,
        } => {
            let mut user = spend(store, &token_hash, EmailPurpose::Verify, now)?;
            let grants_changed = verify_address(&mut user, &tenant_admins);
            store.update_user(&user)?;
            Ok(EmailOutcome::Verified {
                user: user.user(),
                grants_changed,
            })
        }
        EmailCommand::Reset {
            token_hash,
            password_hash,
            session,
            tenant_admins,
            now,
        } => {
            let mut user = spend(store, &token_hash, EmailPurpose::Reset, now)?;
            let grants_changed = verify_address(&mut user, &tenant_admins);
            user.password_hash = password_hash;
            store.update_user(&user)?;
            // Whoever knew the old password is signed out everywhere.
            let ended_sessions = store.open_sessions_of(&user.id)?;
            for sid in &ended_sessions {
                store.revoke_session(sid, now)?;
            }
            open_session(store, &user.id, &session, now)?;
            Ok(EmailOutcome::Reset {
                user: user.user(),
                ended_sessions,
                grants_changed,
            })
        }
        EmailCommand::SignIn {
            token_hash,
            session,
            tenant_admins,
            now,
        } => {
            let mut user = spend(store, &token_hash, EmailPurpose::SignIn, now)?;
            let grants_changed = verify_address(&mut user, &tenant_admins);
            store.update_user(&user)?;
            open_session(store, &user.id, &session, now)?;
            Ok(EmailOutcome::SignedIn {
                user: user.user(),
                grants_changed,
            })
        }
        EmailCommand::Deliver { message } => {
            store.purge_mailbox(message.sent_at - MAILBOX_RETENTION_S)?;
            store.deliver(&message)?;
            Ok(EmailOutcome::Delivered)
        }
        EmailCommand::Mailbox { to } => Ok(EmailOutcome::Mailbox {
            messages: store.mailbox(&to)?,
        }),
    }
}

fn issue<S: Store>(
    store: &mut S,
    to: Addressee,
    purpose: EmailPurpose,
    token_hash: String,
    now: i64,
) -> Result<EmailOutcome, ApiError> {
    // Spent windows and tokens limit and open nothing: dropping them keeps a
    // spray of addresses from growing the tables without bound.
    store.purge_send_windows(ended_send_window_cutoff(now))?;
    store.purge_email_tokens(now)?;
    let (address, user) = match to {
        Addressee::Email(email) => {
            let user = store.user_by_email(&email)?;
            (email, user)
        }
        Addressee::User(id) => {
            let user = store
                .user_by_id(&id)?
                .ok_or_else(|| ApiError::new(Reason::SessionRevoked))?;
            (user.email.clone(), Some(user))
        }
    };
    // Counted before anyone is looked at: a known and an unknown address
    // reach the limit alike, and the 429 says nothing about either.
    let window = store.send_window(&address)?;
    if let Some(secs) =
        window.and_then(|w| w.retry_after_within(MESSAGES_PER_ADDRESS, SEND_WINDOW_S, now))
    {
        let mut limited = ApiError::rate_limited(secs);
        limited.message = "too many messages to this address: try again later".into();
        return Err(limited);
    }
    let counted = FailureWindow::after_event_within(window, SEND_WINDOW_S, now);
    store.put_send_window(&address, counted)?;
    let Some(user) = user else {
        return Ok(EmailOutcome::Issued { recipient: None });
    };
    if purpose == EmailPurpose::Verify && user.email_verified {
        return Ok(EmailOutcome::Issued { recipient: None });
    }
    store.insert_email_token(&EmailTokenRecord {
        hash: token_hash,
        purpose,
        user_id: user.id.clone(),
        email: user.email.clone(),
        expires_at: now + purpose.lifetime_s(),
    })?;
    Ok(EmailOutcome::Issued {
        recipient: Some(Recipient {
            email: user.email,
            name: user.name,
        }),
    })
}

/// Takes a token once: it must exist, be of this purpose, be unexpired, and
/// still name its user's address. It (and the user's other links of its kind)
/// is gone afterwards.
fn spend<S: Store>(
    store: &mut S,
    token_hash: &str,
    purpose: EmailPurpose,
    now: i64,
) -> Result<UserRecord, ApiError> {
    // Another kind's token is left alone: presenting it to the wrong page spends nothing.
    let token = store
        .email_token(token_hash)?
        .filter(|t| t.purpose == purpose)
        .ok_or_else(invalid)?;
    store.delete_email_token(token_hash)?;
    if now >= token.expires_at {
        return Err(invalid());
    }
    let user = store
        .user_by_id(&token.user_id)?
        .filter(|u| u.email == token.email)
        .ok_or_else(invalid)?;
    store.delete_email_tokens_of(&user.id, purpose)?;
    Ok(user)
}

/// Marks the address verified. The first time, the tenants whose first admin
/// this address is (`TENANT_ADMINS`) make the user their admin; later proofs
/// grant nothing again (an admin who was demoted stays demoted). Answers
/// whether tenant roles changed.
fn verify_address(user: &mut UserRecord, admins: &TenantAdmins) -> bool {
    if user.email_verified {
        return false;
    }
    user.email_verified = true;
    let mut changed = false;
    for tenant in admins.tenants_of(&user.email) {
        if user.tenants.insert(tenant, Role::Admin) != Some(Role::Admin) {
            changed = true;
        }
    }
    changed
}

#[cfg(test)]
#[path = "email_tests.rs"]
mod tests;
