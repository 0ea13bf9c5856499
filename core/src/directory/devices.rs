//! Device authorizations (RFC 8628): created by a client, approved or denied
//! by a signed-in user, then exchanged once for a session.

use serde::{Deserialize, Serialize};

use crate::device::{
    DevicePollOutcome, DeviceState, DeviceStatus, MAX_CODE_GUESSES_PER_IP,
    MAX_CODE_GUESSES_PER_USER,
};
use crate::error::{ApiError, Reason};
use crate::session::FailureWindow;

use super::records::{DeviceRecord, NewSession, Requester, User};
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
        requested_by: Requester,
    },
    /// The pending authorization behind a user code. `guesser` names who
    /// asks, for the limit on unknown codes.
    Lookup {
        user_code: String,
        guesser: Guesser,
        now: i64,
    },
    Decide {
        user_code: String,
        guesser: Guesser,
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

/// A signed-in user trying a user code, from an address.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Guesser {
    pub user_id: String,
    pub ip: String,
}

impl Guesser {
    fn windows(&self) -> [(String, u32); 2] {
        [
            (
                format!("device-code:user:{}", self.user_id),
                MAX_CODE_GUESSES_PER_USER,
            ),
            (
                format!("device-code:ip:{}", self.ip),
                MAX_CODE_GUESSES_PER_IP,
            ),
        ]
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum DeviceOutcome {
    Created,
    Pending {
        client_name: String,
        requested_by: Requester,
    },
    Decided,
    Approved {
        user: User,
    },
}

fn no_pending() -> ApiError {
    ApiError::with_message(Reason::NotFound, "no pending device login has this code")
}

/// The pending authorization behind `user_code`. Unknown codes count against
/// the guesser (per user and per address); past the limit, 429 before any lookup.
fn pending<S: Store>(
    store: &mut S,
    user_code: &str,
    guesser: &Guesser,
    now: i64,
) -> Result<DeviceRecord, ApiError> {
    let windows = guesser.windows();
    for (key, limit) in &windows {
        if let Some(secs) = store.window(key)?.and_then(|w| w.retry_after(*limit, now)) {
            return Err(ApiError::rate_limited(secs));
        }
    }
    let found = store
        .device_by_user_code(user_code)?
        .filter(|d| d.state.status == DeviceStatus::Pending && now < d.state.expires_at_s);
    match found {
        Some(d) => Ok(d),
        None => {
            for (key, _) in &windows {
                let w = FailureWindow::after_failure(store.window(key)?, now);
                store.put_window(key, w)?;
            }
            Err(no_pending())
        }
    }
}

pub fn run<S: Store>(store: &mut S, c: DeviceCommand) -> Result<DeviceOutcome, ApiError> {
    match c {
        DeviceCommand::Create {
            code_hash,
            user_code,
            client_name,
            requested_by,
        } => {
            let now = requested_by.at;
            store.purge_devices(now - EXPIRED_RETENTION_S)?;
            store.put_device(&DeviceRecord {
                code_hash,
                user_code,
                client_name,
                requested_by,
                state: DeviceState::new(now),
                user_id: None,
            })?;
            Ok(DeviceOutcome::Created)
        }
        DeviceCommand::Lookup {
            user_code,
            guesser,
            now,
        } => {
            let d = pending(store, &user_code, &guesser, now)?;
            Ok(DeviceOutcome::Pending {
                client_name: d.client_name,
                requested_by: d.requested_by,
            })
        }
        DeviceCommand::Decide {
            user_code,
            guesser,
            approve,
            now,
        } => {
            let mut d = pending(store, &user_code, &guesser, now)?;
            let user_id = guesser.user_id;
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
