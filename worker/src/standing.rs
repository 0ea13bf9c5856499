//! The gate's question "does this credential still stand, and what does its
//! holder hold now?", answered by the Directory and cached per isolate for at
//! most `GRANTS_MAX_AGE_MS` (SPEC: revocations and role changes hold
//! everywhere within 60 s). The isolate that makes a change forgets what it
//! cached at once, so there the change holds immediately.

use std::cell::RefCell;

use edgeauth_core::directory::sessions::{SessionCommand, SessionOutcome};
use edgeauth_core::directory::{unexpected, Command, Outcome};
use edgeauth_core::grants::{Standing, StandingQuery, GRANTS_MAX_AGE_MS};
use edgeauth_core::ApiError;

use crate::app::Ctx;
use crate::cache::Generations;
use crate::store;

const CACHE_HALF: usize = 5_000;

#[derive(Clone)]
struct Cached {
    standing: Standing,
    user_id: String,
    at_ms: u64,
}

thread_local! {
    /// By credential (`ses:<id>`, `key:<id>`).
    static STANDINGS: RefCell<Generations<Cached>> = RefCell::new(Generations::new(CACHE_HALF));
    /// By user id: when this isolate last changed the user's grants.
    static CHANGED: RefCell<Generations<u64>> = RefCell::new(Generations::new(CACHE_HALF));
}

fn cache_key(q: &StandingQuery) -> String {
    match q {
        StandingQuery::Session { session_id, .. } => format!("ses:{session_id}"),
        StandingQuery::ApiKey { key_id, .. } => format!("key:{key_id}"),
    }
}

/// The credential's standing, from the cache while it is fresh, else from the Directory.
pub async fn standing(ctx: &Ctx, q: &StandingQuery) -> Result<Standing, ApiError> {
    let key = cache_key(q);
    let fresh = STANDINGS.with(|c| c.borrow_mut().get(&key)).filter(|e| {
        let changed = CHANGED.with(|c| c.borrow_mut().get(&e.user_id));
        // A revocation is final; grants are trusted only while young and unchanged here.
        e.standing == Standing::Revoked
            || (ctx.now_ms.saturating_sub(e.at_ms) < GRANTS_MAX_AGE_MS
                && changed.is_none_or(|at| at < e.at_ms))
    });
    if let Some(e) = fresh {
        return Ok(e.standing);
    }
    let command = Command::Session(SessionCommand::Standing { query: q.clone() });
    let standing = match store::directory(&ctx.env, command).await? {
        Outcome::Session(SessionOutcome::Standing { standing }) => standing,
        _ => return Err(unexpected()),
    };
    remember(&key, q.user_id(), standing.clone(), ctx.now_ms);
    Ok(standing)
}

fn remember(key: &str, user_id: &str, standing: Standing, now_ms: u64) {
    STANDINGS.with(|c| {
        c.borrow_mut().insert(
            key.to_string(),
            Cached {
                standing,
                user_id: user_id.to_string(),
                at_ms: now_ms,
            },
        )
    });
}

/// Called by the isolate that ended a session: its tokens fail here at once.
pub fn session_ended(session_id: &str, now_ms: u64) {
    remember(&format!("ses:{session_id}"), "", Standing::Revoked, now_ms);
}

/// Called by the isolate that revoked a key: it fails here at once.
pub fn key_revoked(key_id: &str, now_ms: u64) {
    remember(&format!("key:{key_id}"), "", Standing::Revoked, now_ms);
}

/// Called by the isolate that changed a user's roles: every cached answer
/// about that user's credentials is stale here from now on.
pub fn grants_changed(user_id: &str, now_ms: u64) {
    // `at < e.at_ms` above: an answer cached in this same millisecond is stale too.
    CHANGED.with(|c| c.borrow_mut().insert(user_id.to_string(), now_ms + 1));
}
