//! Sessions: refresh rotation (grace window, theft detection), logout, and
//! the standing of a credential that the gate asks about.

use serde::{Deserialize, Serialize};

use crate::credential::{credential_hash, refresh_token_from_bytes};
use crate::error::{ApiError, Reason};
use crate::grants::{Standing, StandingQuery};
use crate::mac::hs256;
use crate::session::{decide_refresh, RefreshOutcome, RefreshTokenState};

use super::records::{NewSession, RefreshRecord, SessionRecord, User};
use super::store::{SessionStore, Store, Stored};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum SessionCommand {
    /// Spends a refresh token for its successor (see [`decide_refresh`]).
    Refresh {
        refresh_token: String,
        now_ms: i64,
        grace_s: i64,
        refresh_ttl_s: i64,
    },
    /// Ends a session, and the session a refresh token sent along names if
    /// it is the same user's.
    Logout {
        session_id: String,
        user_id: String,
        refresh_token: Option<String>,
        now: i64,
    },
    /// Whether a session or key still stands, and what its user holds now.
    Standing { query: StandingQuery },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum SessionOutcome {
    Refreshed {
        session_id: String,
        refresh_token: String,
        refresh_expires_at: i64,
        user: User,
    },
    /// A spent token presented after the grace window: the session is now
    /// revoked. Not a refusal yet, so that the worker first forgets the
    /// session in its isolate (its access tokens fail there at once), then
    /// answers 401 `refresh_token_reused`.
    Reused {
        session_id: String,
    },
    Ended {
        sessions: Vec<String>,
    },
    Standing {
        standing: Standing,
    },
}

/// Opens a session with its first refresh token.
pub fn open_session<S: SessionStore>(
    store: &mut S,
    user_id: &str,
    s: &NewSession,
    now: i64,
) -> Stored<()> {
    store.insert_session(&SessionRecord {
        id: s.session_id.clone(),
        user_id: user_id.to_string(),
        created_at: now,
        revoked_at: None,
    })?;
    store.put_refresh_token(&RefreshRecord {
        hash: credential_hash(&s.refresh_token),
        session_id: s.session_id.clone(),
        expires_at: s.refresh_expires_at,
        used_at_ms: None,
    })
}

/// The successor of a refresh token: a MAC of it under the Directory's
/// secret, so that a replay within the grace window gets the same successor
/// without the successor ever being stored in plain text.
pub fn successor_token(secret: &[u8], token: &str) -> String {
    refresh_token_from_bytes(&hs256(secret, token.as_bytes()))
}

fn successor_secret<S: Store>(store: &mut S) -> Stored<Vec<u8>> {
    if let Some(s) = store.successor_secret()? {
        return Ok(s);
    }
    let fresh = store.random_secret()?.to_vec();
    store.set_successor_secret(&fresh)?;
    Ok(fresh)
}

pub fn run<S: Store>(store: &mut S, c: SessionCommand) -> Result<SessionOutcome, ApiError> {
    match c {
        SessionCommand::Refresh {
            refresh_token,
            now_ms,
            grace_s,
            refresh_ttl_s,
        } => refresh(store, &refresh_token, now_ms, grace_s, refresh_ttl_s),
        SessionCommand::Logout {
            session_id,
            user_id,
            refresh_token,
            now,
        } => {
            let mut ended = vec![session_id];
            if let Some(rt) = refresh_token {
                if let Some(r) = store.refresh_token(&credential_hash(&rt))? {
                    let same_user = store
                        .session(&r.session_id)?
                        .is_some_and(|s| s.user_id == user_id);
                    if same_user && !ended.contains(&r.session_id) {
                        ended.push(r.session_id);
                    }
                }
            }
            for sid in &ended {
                store.revoke_session(sid, now)?;
            }
            Ok(SessionOutcome::Ended { sessions: ended })
        }
        SessionCommand::Standing { query } => Ok(SessionOutcome::Standing {
            standing: standing(store, &query)?,
        }),
    }
}

fn refresh<S: Store>(
    store: &mut S,
    token: &str,
    now_ms: i64,
    grace_s: i64,
    ttl_s: i64,
) -> Result<SessionOutcome, ApiError> {
    let now = now_ms.div_euclid(1000);
    let invalid = || ApiError::new(Reason::RefreshTokenInvalid);
    let row = store
        .refresh_token(&credential_hash(token))?
        .ok_or_else(invalid)?;
    let session = store.session(&row.session_id)?.ok_or_else(invalid)?;
    let state = RefreshTokenState {
        expires_at_s: row.expires_at,
        used_at_ms: row.used_at_ms,
        session_revoked: session.revoked_at.is_some(),
    };
    let successor = successor_token(&successor_secret(store)?, token);
    let successor_hash = credential_hash(&successor);
    match decide_refresh(state, now_ms, grace_s) {
        RefreshOutcome::Rotate => {
            store.put_refresh_token(&RefreshRecord {
                used_at_ms: Some(now_ms),
                ..row.clone()
            })?;
            store.put_refresh_token(&RefreshRecord {
                hash: successor_hash.clone(),
                session_id: row.session_id.clone(),
                expires_at: now + ttl_s,
                used_at_ms: None,
            })?;
        }
        RefreshOutcome::ReplayWithinGrace => {}
        RefreshOutcome::RevokeSession => {
            store.revoke_session(&row.session_id, now)?;
            return Ok(SessionOutcome::Reused {
                session_id: row.session_id,
            });
        }
        RefreshOutcome::SessionRevoked => return Err(ApiError::new(Reason::SessionRevoked)),
        RefreshOutcome::Expired => return Err(invalid()),
    }
    // Within the grace window the successor already exists: answer its expiry, not a new one.
    let refresh_expires_at = store
        .refresh_token(&successor_hash)?
        .map(|r| r.expires_at)
        .unwrap_or(now + ttl_s);
    let user = store
        .user_by_id(&session.user_id)?
        .ok_or_else(invalid)?
        .user();
    Ok(SessionOutcome::Refreshed {
        session_id: row.session_id,
        refresh_token: successor,
        refresh_expires_at,
        user,
    })
}

/// A credential stands while its session is open (or its key owned) by the
/// user it names, and that user still exists.
pub fn standing<S: Store>(store: &S, q: &StandingQuery) -> Stored<Standing> {
    let stands = match q {
        StandingQuery::Session {
            session_id,
            user_id,
        } => store
            .session(session_id)?
            .is_some_and(|s| s.revoked_at.is_none() && &s.user_id == user_id),
        StandingQuery::ApiKey { key_id, user_id } => {
            store.key(key_id)?.is_some_and(|k| &k.user_id == user_id)
        }
    };
    if !stands {
        return Ok(Standing::Revoked);
    }
    Ok(match store.user_by_id(q.user_id())? {
        Some(u) => Standing::Active { grants: u.grants() },
        None => Standing::Revoked,
    })
}
