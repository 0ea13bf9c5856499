//! Device authorizations (RFC 8628): created by a client, approved or denied
//! by a signed-in user, then exchanged once for a session.

use serde::{Deserialize, Serialize};

use crate::device::{DevicePollOutcome, DeviceState, DeviceStatus};
use crate::error::{ApiError, Reason};

use super::records::{DeviceRecord, NewSession, User};
use super::sessions::open_session;
use super::store::Store;

/// Expired authorizations are kept this long for `expired_token` answers, then dropped.
const EXPIRED_RETENTION_S: i64 = 3600;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum DeviceCommand {
    Create {
        code_hash: String,
        user_code: String,
        client_name: String,
        now: i64,
    },
    /// The pending authorization behind a user code.
    Lookup { user_code: String, now: i64 },
    Decide {
        user_code: String,
        user_id: String,
        approve: bool,
        now: i64,
    },
    /// One poll by the client; once approved, opens `session` for the approver.
    Poll {
        code_hash: String,
        session: NewSession,
        now: i64,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum DeviceOutcome {
    Created,
    Pending { client_name: String },
    Decided,
    Approved { user: User },
}

fn no_pending() -> ApiError {
    ApiError::with_message(Reason::NotFound, "no pending device login has this code")
}

fn pending<S: Store>(store: &S, user_code: &str, now: i64) -> Result<DeviceRecord, ApiError> {
    store
        .device_by_user_code(user_code)?
        .filter(|d| d.state.status == DeviceStatus::Pending && now < d.state.expires_at_s)
        .ok_or_else(no_pending)
}

pub fn run<S: Store>(store: &mut S, c: DeviceCommand) -> Result<DeviceOutcome, ApiError> {
    match c {
        DeviceCommand::Create {
            code_hash,
            user_code,
            client_name,
            now,
        } => {
            store.purge_devices(now - EXPIRED_RETENTION_S)?;
            store.put_device(&DeviceRecord {
                code_hash,
                user_code,
                client_name,
                state: DeviceState::new(now),
                user_id: None,
            })?;
            Ok(DeviceOutcome::Created)
        }
        DeviceCommand::Lookup { user_code, now } => Ok(DeviceOutcome::Pending {
            client_name: pending(store, &user_code, now)?.client_name,
        }),
        DeviceCommand::Decide {
            user_code,
            user_id,
            approve,
            now,
        } => {
            let mut d = pending(store, &user_code, now)?;
            d.state.status = if approve {
                DeviceStatus::Approved
            } else {
                DeviceStatus::Denied
            };
            d.user_id = Some(user_id);
            store.put_device(&d)?;
            Ok(DeviceOutcome::Decided)
        }
        DeviceCommand::Poll {
            code_hash,
            session,
            now,
        } => {
            let mut d = store.device_by_hash(&code_hash)?.ok_or_else(|| {
                ApiError::with_message(Reason::ExpiredToken, "unknown device code")
            })?;
            let poll = d.state.poll(now);
            d.state = d.state.after(&poll, now);
            store.put_device(&d)?;
            match poll.result {
                DevicePollOutcome::Refuse(reason) => Err(ApiError::new(reason)),
                DevicePollOutcome::Approved => {
                    let user = d
                        .user_id
                        .as_deref()
                        .map(|id| store.user_by_id(id))
                        .transpose()?
                        .flatten()
                        .ok_or_else(|| ApiError::new(Reason::AccessDenied))?;
                    open_session(store, &user.id, &session, now)?;
                    Ok(DeviceOutcome::Approved { user: user.user() })
                }
            }
        }
    }
}
