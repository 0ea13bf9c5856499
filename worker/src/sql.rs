//! Core's Directory store traits over a Durable Object's SQLite: the rows and
//! columns, and nothing else (every rule is in `edgeauth_core::directory`).

use edgeauth_core::device::{DeviceState, DeviceStatus};
use edgeauth_core::directory::records::{
    DeviceRecord, EmailTokenRecord, KeyOwnership, MailboxMessage, Member, RefreshRecord, Requester,
    SessionRecord, UserRecord,
};
use edgeauth_core::directory::store::{
    DeviceStore, EmailStore, KeyStore, LimitStore, MailboxStore, SecretStore, SessionStore,
    StoreError, Stored, UserStore,
};
use edgeauth_core::email::EmailPurpose;
use edgeauth_core::scope::{Role, ScopeSet};
use edgeauth_core::session::FailureWindow;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use worker::{SqlStorage, SqlStorageValue};

/// A storage failure, logged here (the client only learns 503).
fn failed(e: impl std::fmt::Display) -> StoreError {
    worker::console_error!("edgeauth: directory store failed: {e}");
    StoreError(e.to_string())
}

fn json<T: serde::Serialize>(v: &T) -> Stored<String> {
    serde_json::to_string(v).map_err(failed)
}

fn parse<T: DeserializeOwned>(text: &str) -> Stored<T> {
    serde_json::from_str(text).map_err(failed)
}

/// One SQLite database, seen through core's store traits.
pub struct Sql(pub SqlStorage);

impl Sql {
    fn rows<T: DeserializeOwned>(&self, q: &str, args: Vec<SqlStorageValue>) -> Stored<Vec<T>> {
        self.0
            .exec(q, args)
            .and_then(|c| c.to_array())
            .map_err(failed)
    }

    fn one<T: DeserializeOwned>(&self, q: &str, args: Vec<SqlStorageValue>) -> Stored<Option<T>> {
        Ok(self.rows(q, args)?.pop())
    }

    /// A fixed-window counter row (`count`, `window_start`) by its key.
    fn window_row(&self, q: &str, key: &str) -> Stored<Option<FailureWindow>> {
        #[derive(Deserialize)]
        struct Row {
            count: u32,
            window_start: i64,
        }
        Ok(self
            .one::<Row>(q, vec![key.into()])?
            .map(|r| FailureWindow {
                count: r.count,
                window_start_s: r.window_start,
            }))
    }

    fn exec(&self, q: &str, args: Vec<SqlStorageValue>) -> Stored<()> {
        self.0.exec(q, args).map(|_| ()).map_err(failed)
    }
}

#[derive(Deserialize)]
struct UserRow {
    id: String,
    email: String,
    name: String,
    password_hash: String,
    roles: String,
    tenants: String,
    scopes: String,
    created_at: i64,
    email_verified: i64,
}

impl UserRow {
    fn record(self) -> Stored<UserRecord> {
        Ok(UserRecord {
            id: self.id,
            email: self.email,
            name: self.name,
            password_hash: self.password_hash,
            roles: parse(&self.roles)?,
            tenants: parse(&self.tenants)?,
            scopes: ScopeSet::parse(&self.scopes).map_err(|e| failed(e.message))?,
            created_at: self.created_at,
            email_verified: self.email_verified != 0,
        })
    }
}

const USER_COLUMNS: &str =
    "id, email, name, password_hash, roles, tenants, scopes, created_at, email_verified";

impl Sql {
    fn user_where(&self, column: &str, value: &str) -> Stored<Option<UserRecord>> {
        let q = format!("SELECT {USER_COLUMNS} FROM users WHERE {column} = ?");
        self.one::<UserRow>(&q, vec![value.into()])?
            .map(UserRow::record)
            .transpose()
    }

    /// The memberships table mirrors each user's tenant map, so that listing a
    /// tenant's members reads that tenant's rows only.
    fn write_memberships(&self, u: &UserRecord) -> Stored<()> {
        self.exec(
            "DELETE FROM memberships WHERE user_id = ?",
            vec![u.id.clone().into()],
        )?;
        for (tenant, role) in &u.tenants {
            self.exec(
                "INSERT INTO memberships (tenant, user_id, role) VALUES (?, ?, ?)",
                vec![
                    tenant.clone().into(),
                    u.id.clone().into(),
                    role.as_str().into(),
                ],
            )?;
        }
        Ok(())
    }
}

impl UserStore for Sql {
    fn user_by_id(&self, id: &str) -> Stored<Option<UserRecord>> {
        self.user_where("id", id)
    }
    fn user_by_email(&self, email: &str) -> Stored<Option<UserRecord>> {
        self.user_where("email", email)
    }
    fn insert_user(&mut self, u: &UserRecord) -> Stored<()> {
        self.exec(
            &format!("INSERT INTO users ({USER_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"),
            vec![
                u.id.clone().into(),
                u.email.clone().into(),
                u.name.clone().into(),
                u.password_hash.clone().into(),
                json(&u.roles)?.into(),
                json(&u.tenants)?.into(),
                u.scopes.to_space_separated().into(),
                u.created_at.into(),
                i64::from(u.email_verified).into(),
            ],
        )?;
        self.write_memberships(u)
    }
    fn update_user(&mut self, u: &UserRecord) -> Stored<()> {
        self.exec(
            "UPDATE users SET email = ?, name = ?, password_hash = ?, roles = ?, tenants = ?, scopes = ?, email_verified = ? WHERE id = ?",
            vec![
                u.email.clone().into(),
                u.name.clone().into(),
                u.password_hash.clone().into(),
                json(&u.roles)?.into(),
                json(&u.tenants)?.into(),
                u.scopes.to_space_separated().into(),
                i64::from(u.email_verified).into(),
                u.id.clone().into(),
            ],
        )?;
        self.write_memberships(u)
    }
    fn members(&self, tenant: &str) -> Stored<Vec<Member>> {
        #[derive(Deserialize)]
        struct Row {
            email: String,
            name: String,
            role: String,
        }
        self.rows::<Row>(
            "SELECT u.email, u.name, m.role FROM memberships m JOIN users u ON u.id = m.user_id WHERE m.tenant = ? ORDER BY u.email",
            vec![tenant.into()],
        )?
        .into_iter()
        .map(|r| {
            Ok(Member {
                role: Role::parse(&r.role).ok_or_else(|| failed("a stored role does not parse"))?,
                email: r.email,
                name: r.name,
            })
        })
        .collect()
    }
}

impl SessionStore for Sql {
    fn session(&self, id: &str) -> Stored<Option<SessionRecord>> {
        self.one(
            "SELECT id, user_id, created_at, revoked_at FROM sessions WHERE id = ?",
            vec![id.into()],
        )
    }
    fn insert_session(&mut self, s: &SessionRecord) -> Stored<()> {
        self.exec(
            "INSERT INTO sessions (id, user_id, created_at, revoked_at) VALUES (?, ?, ?, ?)",
            vec![
                s.id.clone().into(),
                s.user_id.clone().into(),
                s.created_at.into(),
                s.revoked_at.into(),
            ],
        )
    }
    fn revoke_session(&mut self, id: &str, now: i64) -> Stored<()> {
        self.exec(
            "UPDATE sessions SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
            vec![now.into(), id.into()],
        )
    }
    fn open_sessions_of(&self, user_id: &str) -> Stored<Vec<String>> {
        #[derive(Deserialize)]
        struct Row {
            id: String,
        }
        Ok(self
            .rows::<Row>(
                "SELECT id FROM sessions WHERE user_id = ? AND revoked_at IS NULL",
                vec![user_id.into()],
            )?
            .into_iter()
            .map(|r| r.id)
            .collect())
    }
    fn refresh_token(&self, hash: &str) -> Stored<Option<RefreshRecord>> {
        self.one(
            "SELECT hash, session_id, expires_at, used_at_ms FROM refresh_tokens WHERE hash = ?",
            vec![hash.into()],
        )
    }
    fn put_refresh_token(&mut self, r: &RefreshRecord) -> Stored<()> {
        self.exec(
            "INSERT OR REPLACE INTO refresh_tokens (hash, session_id, expires_at, used_at_ms) VALUES (?, ?, ?, ?)",
            vec![
                r.hash.clone().into(),
                r.session_id.clone().into(),
                r.expires_at.into(),
                r.used_at_ms.into(),
            ],
        )
    }
}

#[derive(Deserialize)]
struct KeyRow {
    id: String,
    user_id: String,
    hash: String,
    record: String,
    created_at: i64,
}

impl KeyRow {
    fn ownership(self) -> Stored<KeyOwnership> {
        Ok(KeyOwnership {
            record: parse(&self.record)?,
            id: self.id,
            user_id: self.user_id,
            hash: self.hash,
            created_at: self.created_at,
        })
    }
}

impl KeyStore for Sql {
    fn insert_key(&mut self, k: &KeyOwnership) -> Stored<()> {
        self.exec(
            "INSERT INTO api_keys (id, user_id, hash, record, created_at) VALUES (?, ?, ?, ?, ?)",
            vec![
                k.id.clone().into(),
                k.user_id.clone().into(),
                k.hash.clone().into(),
                json(&k.record)?.into(),
                k.created_at.into(),
            ],
        )
    }
    fn key(&self, id: &str) -> Stored<Option<KeyOwnership>> {
        self.one::<KeyRow>(
            "SELECT id, user_id, hash, record, created_at FROM api_keys WHERE id = ?",
            vec![id.into()],
        )?
        .map(KeyRow::ownership)
        .transpose()
    }
    fn keys_of(&self, user_id: &str) -> Stored<Vec<KeyOwnership>> {
        self.rows::<KeyRow>(
            "SELECT id, user_id, hash, record, created_at FROM api_keys WHERE user_id = ? ORDER BY created_at, id",
            vec![user_id.into()],
        )?
        .into_iter()
        .map(KeyRow::ownership)
        .collect()
    }
    fn delete_key(&mut self, id: &str) -> Stored<()> {
        self.exec("DELETE FROM api_keys WHERE id = ?", vec![id.into()])
    }
}

impl LimitStore for Sql {
    fn window(&self, key: &str) -> Stored<Option<FailureWindow>> {
        self.window_row(
            "SELECT count, window_start FROM login_failures WHERE k = ?",
            key,
        )
    }
    fn put_window(&mut self, key: &str, w: FailureWindow) -> Stored<()> {
        self.exec(
            "INSERT OR REPLACE INTO login_failures (k, count, window_start) VALUES (?, ?, ?)",
            vec![
                key.into(),
                i64::from(w.count).into(),
                w.window_start_s.into(),
            ],
        )
    }
    fn delete_window(&mut self, key: &str) -> Stored<()> {
        self.exec("DELETE FROM login_failures WHERE k = ?", vec![key.into()])
    }
    fn purge_windows(&mut self, cutoff: i64) -> Stored<()> {
        self.exec(
            "DELETE FROM login_failures WHERE window_start <= ?",
            vec![cutoff.into()],
        )
    }
}

#[derive(Deserialize)]
struct DeviceRow {
    code_hash: String,
    user_code: String,
    client_name: String,
    requested_ip: Option<String>,
    requested_country: Option<String>,
    requested_at: i64,
    expires_at: i64,
    interval_s: i64,
    last_poll_at: Option<i64>,
    status: String,
    user_id: Option<String>,
}

impl DeviceRow {
    fn record(self) -> Stored<DeviceRecord> {
        Ok(DeviceRecord {
            state: DeviceState {
                status: DeviceStatus::parse(&self.status)
                    .ok_or_else(|| failed("a stored device status does not parse"))?,
                expires_at_s: self.expires_at,
                interval_s: self.interval_s,
                last_poll_at_s: self.last_poll_at,
            },
            code_hash: self.code_hash,
            user_code: self.user_code,
            client_name: self.client_name,
            requested_by: Requester {
                ip: self.requested_ip,
                country: self.requested_country,
                at: self.requested_at,
            },
            user_id: self.user_id,
        })
    }
}

const DEVICE_COLUMNS: &str = "code_hash, user_code, client_name, requested_ip, requested_country, \
     requested_at, expires_at, interval_s, last_poll_at, status, user_id";

impl DeviceStore for Sql {
    fn device_by_hash(&self, code_hash: &str) -> Stored<Option<DeviceRecord>> {
        let q = format!("SELECT {DEVICE_COLUMNS} FROM device_codes WHERE code_hash = ?");
        self.one::<DeviceRow>(&q, vec![code_hash.into()])?
            .map(DeviceRow::record)
            .transpose()
    }
    fn device_by_user_code(&self, user_code: &str) -> Stored<Option<DeviceRecord>> {
        let q = format!("SELECT {DEVICE_COLUMNS} FROM device_codes WHERE user_code = ?");
        self.one::<DeviceRow>(&q, vec![user_code.into()])?
            .map(DeviceRow::record)
            .transpose()
    }
    fn put_device(&mut self, d: &DeviceRecord) -> Stored<()> {
        self.exec(
            &format!("INSERT OR REPLACE INTO device_codes ({DEVICE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"),
            vec![
                d.code_hash.clone().into(),
                d.user_code.clone().into(),
                d.client_name.clone().into(),
                d.requested_by.ip.clone().into(),
                d.requested_by.country.clone().into(),
                d.requested_by.at.into(),
                d.state.expires_at_s.into(),
                d.state.interval_s.into(),
                d.state.last_poll_at_s.into(),
                d.state.status.as_str().into(),
                d.user_id.clone().into(),
            ],
        )
    }
    fn purge_devices(&mut self, cutoff: i64) -> Stored<()> {
        self.exec(
            "DELETE FROM device_codes WHERE expires_at < ?",
            vec![cutoff.into()],
        )
    }
}

impl SecretStore for Sql {
    fn successor_secret(&self) -> Stored<Option<Vec<u8>>> {
        #[derive(Deserialize)]
        struct Row {
            v: String,
        }
        let row = self.one::<Row>("SELECT v FROM meta WHERE k = 'successor_secret'", vec![])?;
        row.map(|r| {
            (0..r.v.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(r.v.get(i..i + 2).unwrap_or("zz"), 16))
                .collect::<std::result::Result<Vec<u8>, _>>()
                .map_err(failed)
        })
        .transpose()
    }
    fn set_successor_secret(&mut self, secret: &[u8]) -> Stored<()> {
        let hex: String = secret.iter().map(|b| format!("{b:02x}")).collect();
        self.exec(
            "INSERT OR REPLACE INTO meta (k, v) VALUES ('successor_secret', ?)",
            vec![hex.into()],
        )
    }
    fn random_secret(&self) -> Stored<[u8; 32]> {
        let mut bytes = [0u8; 32];
        getrandom::getrandom(&mut bytes).map_err(failed)?;
        Ok(bytes)
    }
}

#[derive(Deserialize)]
struct EmailTokenRow {
    hash: String,
    purpose: String,
    user_id: String,
    email: String,
    expires_at: i64,
}

impl EmailStore for Sql {
    fn email_token(&self, hash: &str) -> Stored<Option<EmailTokenRecord>> {
        self.one::<EmailTokenRow>(
            "SELECT hash, purpose, user_id, email, expires_at FROM email_tokens WHERE hash = ?",
            vec![hash.into()],
        )?
        .map(|r| {
            Ok(EmailTokenRecord {
                purpose: EmailPurpose::parse(&r.purpose)
                    .ok_or_else(|| failed("a stored email-link purpose does not parse"))?,
                hash: r.hash,
                user_id: r.user_id,
                email: r.email,
                expires_at: r.expires_at,
            })
        })
        .transpose()
    }
    fn insert_email_token(&mut self, t: &EmailTokenRecord) -> Stored<()> {
        self.exec(
            "INSERT OR REPLACE INTO email_tokens (hash, purpose, user_id, email, expires_at) VALUES (?, ?, ?, ?, ?)",
            vec![
                t.hash.clone().into(),
                t.purpose.as_str().into(),
                t.user_id.clone().into(),
                t.email.clone().into(),
                t.expires_at.into(),
            ],
        )
    }
    fn delete_email_token(&mut self, hash: &str) -> Stored<()> {
        self.exec("DELETE FROM email_tokens WHERE hash = ?", vec![hash.into()])
    }
    fn delete_email_tokens_of(&mut self, user_id: &str, purpose: EmailPurpose) -> Stored<()> {
        self.exec(
            "DELETE FROM email_tokens WHERE user_id = ? AND purpose = ?",
            vec![user_id.into(), purpose.as_str().into()],
        )
    }
    fn purge_email_tokens(&mut self, cutoff: i64) -> Stored<()> {
        self.exec(
            "DELETE FROM email_tokens WHERE expires_at <= ?",
            vec![cutoff.into()],
        )
    }
    fn send_window(&self, address: &str) -> Stored<Option<FailureWindow>> {
        self.window_row(
            "SELECT count, window_start FROM email_sends WHERE address = ?",
            address,
        )
    }
    fn put_send_window(&mut self, address: &str, w: FailureWindow) -> Stored<()> {
        self.exec(
            "INSERT OR REPLACE INTO email_sends (address, count, window_start) VALUES (?, ?, ?)",
            vec![
                address.into(),
                i64::from(w.count).into(),
                w.window_start_s.into(),
            ],
        )
    }
    fn purge_send_windows(&mut self, cutoff: i64) -> Stored<()> {
        self.exec(
            "DELETE FROM email_sends WHERE window_start <= ?",
            vec![cutoff.into()],
        )
    }
}

impl MailboxStore for Sql {
    fn deliver(&mut self, m: &MailboxMessage) -> Stored<()> {
        self.exec(
            "INSERT INTO mailbox (to_address, subject, body, link, sent_at) VALUES (?, ?, ?, ?, ?)",
            vec![
                m.to.clone().into(),
                m.subject.clone().into(),
                m.text.clone().into(),
                m.link.clone().into(),
                m.sent_at.into(),
            ],
        )
    }
    fn mailbox(&self, to: &str) -> Stored<Vec<MailboxMessage>> {
        #[derive(Deserialize)]
        struct Row {
            to_address: String,
            subject: String,
            body: String,
            link: String,
            sent_at: i64,
        }
        Ok(self
            .rows::<Row>(
                "SELECT to_address, subject, body, link, sent_at FROM mailbox WHERE to_address = ? ORDER BY id DESC",
                vec![to.into()],
            )?
            .into_iter()
            .map(|r| MailboxMessage {
                to: r.to_address,
                subject: r.subject,
                text: r.body,
                link: r.link,
                sent_at: r.sent_at,
            })
            .collect())
    }
    fn purge_mailbox(&mut self, cutoff: i64) -> Stored<()> {
        self.exec("DELETE FROM mailbox WHERE sent_at < ?", vec![cutoff.into()])
    }
}
