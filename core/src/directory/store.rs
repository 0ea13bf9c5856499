//! What the Directory needs of its storage, one small trait per kind of row.
//! Methods are synchronous: a Durable Object's SQLite answers without an
//! await, which is what makes each command atomic.

use crate::email::EmailPurpose;
use crate::error::{ApiError, Reason};
use crate::session::FailureWindow;

use super::records::{
    DeviceRecord, EmailTokenRecord, KeyOwnership, MailboxMessage, Member, RefreshRecord,
    SessionRecord, UserRecord,
};

/// A storage failure. Its text is for the log; the client gets 503.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreError(pub String);

impl From<StoreError> for ApiError {
    fn from(_: StoreError) -> ApiError {
        ApiError::new(Reason::StoreUnavailable)
    }
}

/// Store results.
pub type Stored<T> = Result<T, StoreError>;

/// Users by id and by email.
pub trait UserStore {
    fn user_by_id(&self, id: &str) -> Stored<Option<UserRecord>>;
    fn user_by_email(&self, email: &str) -> Stored<Option<UserRecord>>;
    fn insert_user(&mut self, user: &UserRecord) -> Stored<()>;
    /// Replaces a user's row (same id).
    fn update_user(&mut self, user: &UserRecord) -> Stored<()>;
    /// Everyone holding a role in `tenant`, ordered by email.
    fn members(&self, tenant: &str) -> Stored<Vec<Member>>;
}

/// Sessions and their refresh-token families.
pub trait SessionStore {
    fn session(&self, id: &str) -> Stored<Option<SessionRecord>>;
    fn insert_session(&mut self, s: &SessionRecord) -> Stored<()>;
    /// Marks a session revoked at `now` (kept if already revoked).
    fn revoke_session(&mut self, id: &str, now: i64) -> Stored<()>;
    /// The ids of a user's sessions that are not revoked.
    fn open_sessions_of(&self, user_id: &str) -> Stored<Vec<String>>;
    fn refresh_token(&self, hash: &str) -> Stored<Option<RefreshRecord>>;
    /// Inserts or replaces a refresh token by hash.
    fn put_refresh_token(&mut self, r: &RefreshRecord) -> Stored<()>;
}

/// API key ownership.
pub trait KeyStore {
    fn insert_key(&mut self, k: &KeyOwnership) -> Stored<()>;
    fn key(&self, id: &str) -> Stored<Option<KeyOwnership>>;
    /// A user's keys, oldest first.
    fn keys_of(&self, user_id: &str) -> Stored<Vec<KeyOwnership>>;
    fn delete_key(&mut self, id: &str) -> Stored<()>;
}

/// Login failure windows, by `email:…` or `ip:…`.
pub trait LimitStore {
    fn window(&self, key: &str) -> Stored<Option<FailureWindow>>;
    fn put_window(&mut self, key: &str, w: FailureWindow) -> Stored<()>;
    fn delete_window(&mut self, key: &str) -> Stored<()>;
    /// Drops windows that started at or before `cutoff` (they limit nobody).
    fn purge_windows(&mut self, cutoff: i64) -> Stored<()>;
}

/// Device authorizations.
pub trait DeviceStore {
    fn device_by_hash(&self, code_hash: &str) -> Stored<Option<DeviceRecord>>;
    fn device_by_user_code(&self, user_code: &str) -> Stored<Option<DeviceRecord>>;
    /// Inserts or replaces by code hash.
    fn put_device(&mut self, d: &DeviceRecord) -> Stored<()>;
    /// Drops authorizations that expired before `cutoff`.
    fn purge_devices(&mut self, cutoff: i64) -> Stored<()>;
}

/// Email-link tokens (by hash) and the per-address sending windows.
pub trait EmailStore {
    fn email_token(&self, hash: &str) -> Stored<Option<EmailTokenRecord>>;
    fn insert_email_token(&mut self, t: &EmailTokenRecord) -> Stored<()>;
    fn delete_email_token(&mut self, hash: &str) -> Stored<()>;
    /// Deletes a user's tokens of one purpose.
    fn delete_email_tokens_of(&mut self, user_id: &str, purpose: EmailPurpose) -> Stored<()>;
    /// Drops tokens that expired at or before `cutoff`.
    fn purge_email_tokens(&mut self, cutoff: i64) -> Stored<()>;
    fn send_window(&self, address: &str) -> Stored<Option<FailureWindow>>;
    fn put_send_window(&mut self, address: &str, w: FailureWindow) -> Stored<()>;
    /// Drops windows that started at or before `cutoff`.
    fn purge_send_windows(&mut self, cutoff: i64) -> Stored<()>;
}

/// The development mailbox.
pub trait MailboxStore {
    fn deliver(&mut self, m: &MailboxMessage) -> Stored<()>;
    /// The messages to `to`, newest first.
    fn mailbox(&self, to: &str) -> Stored<Vec<MailboxMessage>>;
    /// Drops messages sent before `cutoff`.
    fn purge_mailbox(&mut self, cutoff: i64) -> Stored<()>;
}

/// A secret that never leaves the Directory (successors of refresh tokens
/// are derived from it, so a replay within the grace window gets the same
/// successor without the successor ever being stored).
pub trait SecretStore {
    fn successor_secret(&self) -> Stored<Option<Vec<u8>>>;
    fn set_successor_secret(&mut self, secret: &[u8]) -> Stored<()>;
    /// 32 fresh random bytes (the only randomness the Directory needs).
    fn random_secret(&self) -> Stored<[u8; 32]>;
}

/// Everything one Directory object stores.
pub trait Store:
    UserStore
    + SessionStore
    + KeyStore
    + LimitStore
    + DeviceStore
    + SecretStore
    + EmailStore
    + MailboxStore
{
}

impl<
        T: UserStore
            + SessionStore
            + KeyStore
            + LimitStore
            + DeviceStore
            + SecretStore
            + EmailStore
            + MailboxStore,
    > Store for T
{
}
