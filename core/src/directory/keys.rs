//! API key ownership: which user owns which key, so that listing never scans
//! KV and another user's key is simply not found.

use serde::{Deserialize, Serialize};

use crate::error::{ApiError, Reason};

use super::records::KeyOwnership;
use super::store::Store;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum KeyCommand {
    Create {
        key: KeyOwnership,
    },
    List {
        user_id: String,
    },
    /// One of the user's keys (404 `not_found` for anyone else's).
    Get {
        user_id: String,
        id: String,
    },
    /// Deletes one of the user's keys and answers what it was.
    Delete {
        user_id: String,
        id: String,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum KeyOutcome {
    Created,
    Listed { keys: Vec<serde_json::Value> },
    Found { key: KeyOwnership },
}

fn owned<S: Store>(store: &S, user_id: &str, id: &str) -> Result<Option<KeyOwnership>, ApiError> {
    Ok(store.key(id)?.filter(|k| k.user_id == user_id))
}

pub fn run<S: Store>(store: &mut S, c: KeyCommand) -> Result<KeyOutcome, ApiError> {
    let not_found = || ApiError::with_message(Reason::NotFound, "no such API key");
    match c {
        KeyCommand::Create { key } => {
            store.insert_key(&key)?;
            Ok(KeyOutcome::Created)
        }
        KeyCommand::List { user_id } => Ok(KeyOutcome::Listed {
            keys: store
                .keys_of(&user_id)?
                .into_iter()
                .map(|k| k.record)
                .collect(),
        }),
        KeyCommand::Get { user_id, id } => {
            let key = owned(store, &user_id, &id)?.ok_or_else(not_found)?;
            Ok(KeyOutcome::Found { key })
        }
        KeyCommand::Delete { user_id, id } => {
            let key = owned(store, &user_id, &id)?.ok_or_else(not_found)?;
            store.delete_key(&id)?;
            Ok(KeyOutcome::Found { key })
        }
    }
}
