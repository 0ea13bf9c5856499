//! The Directory: users, sessions, refresh families, key ownership, login
//! limits, device codes, and email links. Its commands and outcomes are typed here, one
//! enum per concern, and each command runs against store traits
//! ([`store`]) that the worker implements over a Durable Object's SQLite and
//! tests implement in memory ([`memory`]). Every decision (refresh successor,
//! reuse, limits, device status, the last admin) is made here; the adapter
//! only reads and writes rows.
//!
//! A command runs with no `await` inside it: on a Durable Object's single
//! thread, each one is atomic (one registration of an email wins, one
//! rotation of a refresh token wins).

pub mod accounts;
pub mod devices;
pub mod email;
pub mod keys;
pub mod memory;
pub mod records;
pub mod sessions;
pub mod store;
pub mod tenants;

use serde::{Deserialize, Serialize};

use crate::error::{ApiError, Reason};
pub use records::{NewSession, User, UserRecord};
pub use store::{Store, StoreError};

/// One Directory command, by concern.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "concern", content = "command", rename_all = "snake_case")]
pub enum Command {
    Account(accounts::AccountCommand),
    Session(sessions::SessionCommand),
    Key(keys::KeyCommand),
    Tenant(tenants::TenantCommand),
    Device(devices::DeviceCommand),
    Email(email::EmailCommand),
}

/// What a command answers, by concern.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "concern", content = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    Account(accounts::AccountOutcome),
    Session(sessions::SessionOutcome),
    Key(keys::KeyOutcome),
    Tenant(tenants::TenantOutcome),
    Device(devices::DeviceOutcome),
    Email(email::EmailOutcome),
}

/// Runs one command. A store failure is 503 `store_unavailable`: the worker
/// refuses rather than guess.
pub fn execute<S: Store>(store: &mut S, command: Command) -> Result<Outcome, ApiError> {
    match command {
        Command::Account(c) => accounts::run(store, c).map(Outcome::Account),
        Command::Session(c) => sessions::run(store, c).map(Outcome::Session),
        Command::Key(c) => keys::run(store, c).map(Outcome::Key),
        Command::Tenant(c) => tenants::run(store, c).map(Outcome::Tenant),
        Command::Device(c) => devices::run(store, c).map(Outcome::Device),
        Command::Email(c) => email::run(store, c).map(Outcome::Email),
    }
}

/// The answer as it crosses from the Durable Object to the worker.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Answer {
    Ok(Outcome),
    Refused {
        reason: String,
        message: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry_after: Option<u64>,
    },
}

impl Answer {
    /// The wire form of a command's result.
    pub fn from_result(r: Result<Outcome, ApiError>) -> Answer {
        match r {
            Ok(o) => Answer::Ok(o),
            Err(e) => Answer::Refused {
                reason: e.reason.as_str().to_string(),
                message: e.message,
                retry_after: e.retry_after_s,
            },
        }
    }

    /// Back to a result; a reason this build does not know is a store failure.
    pub fn into_result(self) -> Result<Outcome, ApiError> {
        match self {
            Answer::Ok(o) => Ok(o),
            Answer::Refused {
                reason,
                message,
                retry_after,
            } => {
                let reason = Reason::parse(&reason).unwrap_or(Reason::StoreUnavailable);
                let mut e = ApiError::with_message(reason, message);
                e.retry_after_s = retry_after;
                Err(e)
            }
        }
    }
}

/// The outcome a caller expected did not come: a protocol mismatch between
/// worker and object, refused as a store failure.
pub fn unexpected() -> ApiError {
    ApiError::with_message(Reason::StoreUnavailable, "unexpected directory answer")
}

#[cfg(test)]
mod tests;
