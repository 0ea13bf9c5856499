//! An in-memory [`Store`](super::Store), for tests of the Directory's
//! commands and of the worker's handlers; `failing` makes every call fail,
//! to check that a broken store refuses (503) and never lets a request through.

use std::collections::BTreeMap;

use crate::email::EmailPurpose;
use crate::session::FailureWindow;

use super::records::{
    DeviceRecord, EmailTokenRecord, KeyOwnership, MailboxMessage, Member, RefreshRecord,
    SessionRecord, UserRecord,
};
use super::store::{
    DeviceStore, EmailStore, KeyStore, LimitStore, MailboxStore, SecretStore, SessionStore,
    StoreError, Stored, UserStore,
};

#[derive(Clone, Debug, Default)]
pub struct MemoryStore {
    pub users: BTreeMap<String, UserRecord>,
    pub sessions: BTreeMap<String, SessionRecord>,
    pub refresh: BTreeMap<String, RefreshRecord>,
    pub keys: BTreeMap<String, KeyOwnership>,
    pub windows: BTreeMap<String, FailureWindow>,
    pub devices: BTreeMap<String, DeviceRecord>,
    pub secret: Option<Vec<u8>>,
    pub email_tokens: BTreeMap<String, EmailTokenRecord>,
    pub send_windows: BTreeMap<String, FailureWindow>,
    /// Oldest first.
    pub mailbox: Vec<MailboxMessage>,
    /// When set, every call fails.
    pub failing: bool,
}

impl MemoryStore {
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    fn up(&self) -> Stored<()> {
        if self.failing {
            Err(StoreError("the memory store is set to fail".into()))
        } else {
            Ok(())
        }
    }
}

impl UserStore for MemoryStore {
    fn user_by_id(&self, id: &str) -> Stored<Option<UserRecord>> {
        self.up()?;
        Ok(self.users.get(id).cloned())
    }
    fn user_by_email(&self, email: &str) -> Stored<Option<UserRecord>> {
        self.up()?;
        Ok(self.users.values().find(|u| u.email == email).cloned())
    }
    fn insert_user(&mut self, user: &UserRecord) -> Stored<()> {
        self.up()?;
        if self.users.values().any(|u| u.email == user.email) {
            return Err(StoreError("UNIQUE constraint failed: users.email".into()));
        }
        self.users.insert(user.id.clone(), user.clone());
        Ok(())
    }
    fn update_user(&mut self, user: &UserRecord) -> Stored<()> {
        self.up()?;
        self.users.insert(user.id.clone(), user.clone());
        Ok(())
    }
    fn members(&self, tenant: &str) -> Stored<Vec<Member>> {
        self.up()?;
        let mut m: Vec<Member> = self
            .users
            .values()
            .filter_map(|u| {
                Some(Member {
                    email: u.email.clone(),
                    name: u.name.clone(),
                    role: *u.tenants.get(tenant)?,
                })
            })
            .collect();
        m.sort_by(|a, b| a.email.cmp(&b.email));
        Ok(m)
    }
}

impl SessionStore for MemoryStore {
    fn session(&self, id: &str) -> Stored<Option<SessionRecord>> {
        self.up()?;
        Ok(self.sessions.get(id).cloned())
    }
    fn insert_session(&mut self, s: &SessionRecord) -> Stored<()> {
        self.up()?;
        self.sessions.insert(s.id.clone(), s.clone());
        Ok(())
    }
    fn revoke_session(&mut self, id: &str, now: i64) -> Stored<()> {
        self.up()?;
        if let Some(s) = self.sessions.get_mut(id) {
            s.revoked_at.get_or_insert(now);
        }
        Ok(())
    }
    fn open_sessions_of(&self, user_id: &str) -> Stored<Vec<String>> {
        self.up()?;
        Ok(self
            .sessions
            .values()
            .filter(|s| s.user_id == user_id && s.revoked_at.is_none())
            .map(|s| s.id.clone())
            .collect())
    }
    fn refresh_token(&self, hash: &str) -> Stored<Option<RefreshRecord>> {
        self.up()?;
        Ok(self.refresh.get(hash).cloned())
    }
    fn put_refresh_token(&mut self, r: &RefreshRecord) -> Stored<()> {
        self.up()?;
        self.refresh.insert(r.hash.clone(), r.clone());
        Ok(())
    }
}

impl KeyStore for MemoryStore {
    fn insert_key(&mut self, k: &KeyOwnership) -> Stored<()> {
        self.up()?;
        self.keys.insert(k.id.clone(), k.clone());
        Ok(())
    }
    fn key(&self, id: &str) -> Stored<Option<KeyOwnership>> {
        self.up()?;
        Ok(self.keys.get(id).cloned())
    }
    fn keys_of(&self, user_id: &str) -> Stored<Vec<KeyOwnership>> {
        self.up()?;
        let mut k: Vec<KeyOwnership> = self
            .keys
            .values()
            .filter(|k| k.user_id == user_id)
            .cloned()
            .collect();
        k.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok(k)
    }
    fn delete_key(&mut self, id: &str) -> Stored<()> {
        self.up()?;
        self.keys.remove(id);
        Ok(())
    }
}

impl LimitStore for MemoryStore {
    fn window(&self, key: &str) -> Stored<Option<FailureWindow>> {
        self.up()?;
        Ok(self.windows.get(key).copied())
    }
    fn put_window(&mut self, key: &str, w: FailureWindow) -> Stored<()> {
        self.up()?;
        self.windows.insert(key.to_string(), w);
        Ok(())
    }
    fn delete_window(&mut self, key: &str) -> Stored<()> {
        self.up()?;
        self.windows.remove(key);
        Ok(())
    }
    fn purge_windows(&mut self, cutoff: i64) -> Stored<()> {
        self.up()?;
        self.windows.retain(|_, w| w.window_start_s > cutoff);
        Ok(())
    }
}

impl DeviceStore for MemoryStore {
    fn device_by_hash(&self, code_hash: &str) -> Stored<Option<DeviceRecord>> {
        self.up()?;
        Ok(self.devices.get(code_hash).cloned())
    }
    fn device_by_user_code(&self, user_code: &str) -> Stored<Option<DeviceRecord>> {
        self.up()?;
        Ok(self
            .devices
            .values()
            .find(|d| d.user_code == user_code)
            .cloned())
    }
    fn put_device(&mut self, d: &DeviceRecord) -> Stored<()> {
        self.up()?;
        self.devices.insert(d.code_hash.clone(), d.clone());
        Ok(())
    }
    fn purge_devices(&mut self, cutoff: i64) -> Stored<()> {
        self.up()?;
        self.devices.retain(|_, d| d.state.expires_at_s >= cutoff);
        Ok(())
    }
}

impl SecretStore for MemoryStore {
    fn successor_secret(&self) -> Stored<Option<Vec<u8>>> {
        self.up()?;
        Ok(self.secret.clone())
    }
    fn set_successor_secret(&mut self, secret: &[u8]) -> Stored<()> {
        self.up()?;
        self.secret = Some(secret.to_vec());
        Ok(())
    }
    fn random_secret(&self) -> Stored<[u8; 32]> {
        self.up()?;
        // Tests need a secret, not randomness: a fixed one keeps them repeatable.
        Ok([7; 32])
    }
}

impl EmailStore for MemoryStore {
    fn email_token(&self, hash: &str) -> Stored<Option<EmailTokenRecord>> {
        self.up()?;
        Ok(self.email_tokens.get(hash).cloned())
    }
    fn insert_email_token(&mut self, t: &EmailTokenRecord) -> Stored<()> {
        self.up()?;
        self.email_tokens.insert(t.hash.clone(), t.clone());
        Ok(())
    }
    fn delete_email_token(&mut self, hash: &str) -> Stored<()> {
        self.up()?;
        self.email_tokens.remove(hash);
        Ok(())
    }
    fn delete_email_tokens_of(&mut self, user_id: &str, purpose: EmailPurpose) -> Stored<()> {
        self.up()?;
        self.email_tokens
            .retain(|_, t| !(t.user_id == user_id && t.purpose == purpose));
        Ok(())
    }
    fn purge_email_tokens(&mut self, cutoff: i64) -> Stored<()> {
        self.up()?;
        self.email_tokens.retain(|_, t| t.expires_at > cutoff);
        Ok(())
    }
    fn send_window(&self, address: &str) -> Stored<Option<FailureWindow>> {
        self.up()?;
        Ok(self.send_windows.get(address).copied())
    }
    fn put_send_window(&mut self, address: &str, w: FailureWindow) -> Stored<()> {
        self.up()?;
        self.send_windows.insert(address.to_string(), w);
        Ok(())
    }
    fn purge_send_windows(&mut self, cutoff: i64) -> Stored<()> {
        self.up()?;
        self.send_windows.retain(|_, w| w.window_start_s > cutoff);
        Ok(())
    }
}

impl MailboxStore for MemoryStore {
    fn deliver(&mut self, m: &MailboxMessage) -> Stored<()> {
        self.up()?;
        self.mailbox.push(m.clone());
        Ok(())
    }
    fn mailbox(&self, to: &str) -> Stored<Vec<MailboxMessage>> {
        self.up()?;
        Ok(self
            .mailbox
            .iter()
            .rev()
            .filter(|m| m.to == to)
            .cloned()
            .collect())
    }
    fn purge_mailbox(&mut self, cutoff: i64) -> Stored<()> {
        self.up()?;
        self.mailbox.retain(|m| m.sent_at >= cutoff);
        Ok(())
    }
}
