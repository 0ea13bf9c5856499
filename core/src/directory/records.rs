//! The rows the Directory keeps, as typed records (the SQL adapter maps them
//! to columns; nothing else knows the schema).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::device::DeviceState;
use crate::grants::Grants;
use crate::scope::{Role, ScopeSet};

/// A user as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRecord {
    pub id: String,
    /// Normalized (see [`crate::input::normalize_email`]); unique.
    pub email: String,
    pub name: String,
    /// `pbkdf2-sha256$…` (see [`crate::password`]).
    pub password_hash: String,
    pub roles: Vec<String>,
    pub tenants: BTreeMap<String, Role>,
    pub scopes: ScopeSet,
    pub created_at: i64,
    /// Whether the user has proved the address (a verification link, a
    /// sign-in link or a password reset).
    #[serde(default)]
    pub email_verified: bool,
}

impl UserRecord {
    /// The user as answers show it.
    pub fn user(&self) -> User {
        User {
            id: self.id.clone(),
            email: self.email.clone(),
            name: self.name.clone(),
            roles: self.roles.clone(),
            tenants: self.tenants.clone(),
            scopes: self.scopes.clone(),
            email_verified: self.email_verified,
        }
    }

    /// What the user may do now (the gate's live grants).
    pub fn grants(&self) -> Grants {
        Grants {
            scopes: self.scopes.clone(),
            tenants: self.tenants.clone(),
        }
    }
}

/// A user as the worker needs it to answer and to mint tokens.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub id: String,
    pub email: String,
    pub name: String,
    pub roles: Vec<String>,
    pub tenants: BTreeMap<String, Role>,
    /// The scopes this user's tokens carry (not part of SPEC's `user` object).
    pub scopes: ScopeSet,
    #[serde(default)]
    pub email_verified: bool,
}

impl User {
    /// SPEC's `user` object: `{id, email, name, roles, tenants, email_verified}`.
    pub fn public(&self) -> serde_json::Value {
        serde_json::json!({
            "id": self.id, "email": self.email, "name": self.name,
            "roles": self.roles, "tenants": self.tenants,
            "email_verified": self.email_verified,
        })
    }
}

/// A session to open: its id, its first refresh token (hashed before it is
/// stored) and when that token expires.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewSession {
    pub session_id: String,
    pub refresh_token: String,
    pub refresh_expires_at: i64,
}

/// A session as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRecord {
    pub id: String,
    pub user_id: String,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

/// One refresh token of a session's family, by hash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefreshRecord {
    pub hash: String,
    pub session_id: String,
    pub expires_at: i64,
    /// When it was spent, Unix milliseconds (the grace window is that precise).
    pub used_at_ms: Option<i64>,
}

/// Who owns an API key, and its public record (KV holds the hot-path copy).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyOwnership {
    pub id: String,
    pub user_id: String,
    /// The key's SHA-256 (its KV name).
    pub hash: String,
    /// SPEC's key object without `key`.
    pub record: serde_json::Value,
    pub created_at: i64,
}

/// Where a device login was requested from, shown to the person asked to approve it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Requester {
    /// `CF-Connecting-IP`.
    pub ip: Option<String>,
    /// The country Cloudflare places that address in (`request.cf.country`), where known.
    pub country: Option<String>,
    /// Unix seconds.
    pub at: i64,
}

/// One device authorization, by the hash of its device code.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceRecord {
    pub code_hash: String,
    pub user_code: String,
    pub client_name: String,
    pub requested_by: Requester,
    pub state: DeviceState,
    /// The approving user, once approved.
    pub user_id: Option<String>,
}

/// A tenant member as `GET /v1/tenants/{tenant}/members` lists them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    pub email: String,
    pub name: String,
    pub role: Role,
}

/// An email link's token, by its SHA-256 (the token itself is never stored).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmailTokenRecord {
    pub hash: String,
    pub purpose: crate::email::EmailPurpose,
    pub user_id: String,
    /// The address the link was sent to: the token proves this address only.
    pub email: String,
    /// Unix seconds.
    pub expires_at: i64,
}

/// A message in the development mailbox (`GET /v1/dev/mailbox`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailboxMessage {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub link: String,
    /// Unix seconds.
    pub sent_at: i64,
}
