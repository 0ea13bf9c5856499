//! The email concern against the in-memory store, and a failing store.

use std::collections::BTreeMap;

use super::*;
use crate::credential::credential_hash;
use crate::directory::accounts::{AccountCommand, AccountOutcome};
use crate::directory::memory::MemoryStore;
use crate::directory::sessions::{SessionCommand, SessionOutcome};
use crate::directory::{execute, Command, Outcome};
use crate::grants::{Standing, StandingQuery};
use crate::scope::ScopeSet;

const NOW: i64 = 1_800_000_000;
const T1: &str = "ea_et_0123456789abcdefghijABCDEFGHIJ0123456789a";
const T2: &str = "ea_et_0123456789abcdefghijABCDEFGHIJ0123456789b";
const T3: &str = "ea_et_0123456789abcdefghijABCDEFGHIJ0123456789c";

fn admins() -> TenantAdmins {
    TenantAdmins(BTreeMap::from([(
        "acme".to_string(),
        vec!["ops@acme.test".to_string()],
    )]))
}

fn session(id: &str) -> NewSession {
    NewSession {
        session_id: id.into(),
        refresh_token: format!("ea_rt_{id}0123456789abcdefghijABCDEFGHIJ0123"),
        refresh_expires_at: NOW + 1000,
    }
}

fn register(s: &mut MemoryStore, id: &str, email: &str) -> User {
    let o = execute(
        s,
        Command::Account(AccountCommand::Register {
            id: id.into(),
            email: email.into(),
            name: format!("<b>{id}</b>"),
            password_hash: "pbkdf2-sha256$1$old$old".into(),
            scopes: ScopeSet::parse("*").unwrap(),
            tenants: BTreeMap::new(),
            now: NOW,
        }),
    )
    .unwrap();
    let Outcome::Account(AccountOutcome::Registered { user }) = o else {
        panic!("{o:?}")
    };
    user
}

fn email(s: &mut MemoryStore, c: EmailCommand) -> Result<EmailOutcome, ApiError> {
    match execute(s, Command::Email(c))? {
        Outcome::Email(o) => Ok(o),
        o => panic!("{o:?}"),
    }
}

fn issue(
    s: &mut MemoryStore,
    to: Addressee,
    purpose: EmailPurpose,
    token: &str,
    now: i64,
) -> Result<Option<Recipient>, ApiError> {
    match email(
        s,
        EmailCommand::Issue {
            to,
            purpose,
            token_hash: credential_hash(token),
            now,
        },
    )? {
        EmailOutcome::Issued { recipient } => Ok(recipient),
        o => panic!("{o:?}"),
    }
}

fn by_email(e: &str) -> Addressee {
    Addressee::Email(e.into())
}

fn verify(s: &mut MemoryStore, token: &str, now: i64) -> Result<EmailOutcome, ApiError> {
    email(
        s,
        EmailCommand::Verify {
            token_hash: credential_hash(token),
            tenant_admins: admins(),
            now,
        },
    )
}

fn sign_in(
    s: &mut MemoryStore,
    token: &str,
    sid: &str,
    now: i64,
) -> Result<EmailOutcome, ApiError> {
    email(
        s,
        EmailCommand::SignIn {
            token_hash: credential_hash(token),
            session: session(sid),
            tenant_admins: admins(),
            now,
        },
    )
}

fn standing(s: &mut MemoryStore, sid: &str, uid: &str) -> Standing {
    let query = StandingQuery::Session {
        session_id: sid.into(),
        user_id: uid.into(),
    };
    match execute(s, Command::Session(SessionCommand::Standing { query })).unwrap() {
        Outcome::Session(SessionOutcome::Standing { standing }) => standing,
        o => panic!("{o:?}"),
    }
}

fn login(s: &mut MemoryStore, uid: &str, sid: &str, require: bool) -> Result<Outcome, ApiError> {
    let email = s.users[uid].email.clone();
    execute(
        s,
        Command::Account(AccountCommand::LoginSucceeded {
            email,
            ip: "192.0.2.1".into(),
            user_id: uid.into(),
            session: session(sid),
            upgraded_password_hash: None,
            require_verified_email: require,
            now: NOW,
        }),
    )
}

#[test]
fn verification_is_single_use_and_grants_tenant_admins_only_then() {
    let mut s = MemoryStore::new();
    let user = register(&mut s, "usr_ops", "ops@acme.test");
    assert!(!user.email_verified);
    assert!(user.tenants.is_empty(), "registration alone grants nothing");
    assert_eq!(user.public()["email_verified"], false);

    let to = issue(
        &mut s,
        Addressee::User("usr_ops".into()),
        EmailPurpose::Verify,
        T1,
        NOW,
    )
    .unwrap()
    .unwrap();
    assert_eq!(to.email, "ops@acme.test");
    // Only the hash is kept, with the purpose, the address and 24 h of life.
    let stored = &s.email_tokens[&credential_hash(T1)];
    assert_eq!(stored.purpose, EmailPurpose::Verify);
    assert_eq!(stored.email, "ops@acme.test");
    assert_eq!(stored.expires_at, NOW + 24 * 3600);
    assert!(!format!("{:?}", s.email_tokens).contains(T1));

    // A reset page given a verification token spends nothing.
    let wrong_page = email(
        &mut s,
        EmailCommand::Reset {
            token_hash: credential_hash(T1),
            password_hash: "new".into(),
            session: session("ses_x"),
            tenant_admins: admins(),
            now: NOW,
        },
    );
    assert_eq!(wrong_page.unwrap_err().reason, Reason::EmailTokenInvalid);

    let EmailOutcome::Verified {
        user,
        grants_changed,
    } = verify(&mut s, T1, NOW + 60).unwrap()
    else {
        panic!()
    };
    assert!(user.email_verified && grants_changed);
    assert_eq!(user.tenants.get("acme"), Some(&Role::Admin));
    assert_eq!(
        verify(&mut s, T1, NOW + 61).unwrap_err().reason,
        Reason::EmailTokenInvalid,
        "used once"
    );
    assert_eq!(
        verify(&mut s, T2, NOW).unwrap_err().reason,
        Reason::EmailTokenInvalid,
        "unknown"
    );
    // Verified already: nothing more to send.
    assert_eq!(
        issue(
            &mut s,
            Addressee::User("usr_ops".into()),
            EmailPurpose::Verify,
            T2,
            NOW
        )
        .unwrap(),
        None
    );

    // Demoted by another admin, a later sign-in link does not grant it back.
    s.users.get_mut("usr_ops").unwrap().tenants.clear();
    issue(
        &mut s,
        by_email("ops@acme.test"),
        EmailPurpose::SignIn,
        T3,
        NOW,
    )
    .unwrap();
    let EmailOutcome::SignedIn {
        user,
        grants_changed,
    } = sign_in(&mut s, T3, "ses_m", NOW).unwrap()
    else {
        panic!()
    };
    assert!(!grants_changed && user.tenants.is_empty());
}

#[test]
fn links_expire() {
    let mut s = MemoryStore::new();
    register(&mut s, "usr_a", "a@x.test");
    issue(&mut s, by_email("a@x.test"), EmailPurpose::Verify, T1, NOW).unwrap();
    assert_eq!(
        verify(&mut s, T1, NOW + 24 * 3600).unwrap_err().reason,
        Reason::EmailTokenInvalid
    );
    issue(&mut s, by_email("a@x.test"), EmailPurpose::SignIn, T2, NOW).unwrap();
    assert_eq!(
        sign_in(&mut s, T2, "ses_1", NOW + 15 * 60)
            .unwrap_err()
            .reason,
        Reason::EmailTokenInvalid
    );
    issue(&mut s, by_email("a@x.test"), EmailPurpose::SignIn, T3, NOW).unwrap();
    assert!(sign_in(&mut s, T3, "ses_2", NOW + 15 * 60 - 1).is_ok());
    assert!(s.users["usr_a"].email_verified && s.sessions.contains_key("ses_2"));
}

#[test]
fn five_messages_an_hour_per_address_known_or_not_alike() {
    let mut s = MemoryStore::new();
    register(&mut s, "usr_a", "a@x.test");
    for (i, token) in [T1, T2, T3, T1, T2].iter().enumerate() {
        let now = NOW + i as i64;
        assert!(issue(
            &mut s,
            by_email("a@x.test"),
            EmailPurpose::Reset,
            token,
            now
        )
        .unwrap()
        .is_some());
        assert_eq!(
            issue(
                &mut s,
                by_email("nobody@x.test"),
                EmailPurpose::Reset,
                token,
                now
            )
            .unwrap(),
            None,
            "nothing is sent to an unknown address, but it counts"
        );
    }
    let known = issue(
        &mut s,
        by_email("a@x.test"),
        EmailPurpose::SignIn,
        T3,
        NOW + 10,
    )
    .unwrap_err();
    let unknown = issue(
        &mut s,
        by_email("nobody@x.test"),
        EmailPurpose::SignIn,
        T3,
        NOW + 10,
    )
    .unwrap_err();
    assert_eq!(known, unknown);
    assert_eq!(known.reason, Reason::RateLimited);
    assert_eq!(known.retry_after_s, Some(3600 - 10));
    // An hour after the first, the window has passed.
    assert!(issue(
        &mut s,
        by_email("a@x.test"),
        EmailPurpose::SignIn,
        T3,
        NOW + 3600
    )
    .is_ok());
}

#[test]
fn a_reset_revokes_every_session_and_opens_one() {
    let mut s = MemoryStore::new();
    register(&mut s, "usr_a", "a@x.test");
    login(&mut s, "usr_a", "ses_1", false).unwrap();
    login(&mut s, "usr_a", "ses_2", false).unwrap();
    issue(&mut s, by_email("a@x.test"), EmailPurpose::Reset, T1, NOW).unwrap();
    issue(&mut s, by_email("a@x.test"), EmailPurpose::Reset, T2, NOW).unwrap();
    let reset = |s: &mut MemoryStore, token: &str, sid: &str| {
        email(
            s,
            EmailCommand::Reset {
                token_hash: credential_hash(token),
                password_hash: "pbkdf2-sha256$1$new$new".into(),
                session: session(sid),
                tenant_admins: admins(),
                now: NOW + 5,
            },
        )
    };
    let EmailOutcome::Reset {
        user,
        mut ended_sessions,
        ..
    } = reset(&mut s, T1, "ses_new").unwrap()
    else {
        panic!()
    };
    ended_sessions.sort();
    assert_eq!(ended_sessions, ["ses_1", "ses_2"]);
    assert!(user.email_verified, "a reset proves the mailbox");
    assert_eq!(s.users["usr_a"].password_hash, "pbkdf2-sha256$1$new$new");
    assert_eq!(standing(&mut s, "ses_1", "usr_a"), Standing::Revoked);
    assert_eq!(standing(&mut s, "ses_2", "usr_a"), Standing::Revoked);
    assert!(matches!(
        standing(&mut s, "ses_new", "usr_a"),
        Standing::Active { .. }
    ));
    // The user's other reset link went with the one that was used.
    assert_eq!(
        reset(&mut s, T2, "ses_other").unwrap_err().reason,
        Reason::EmailTokenInvalid
    );
}

#[test]
fn require_verified_email_refuses_password_login_until_verified() {
    let mut s = MemoryStore::new();
    register(&mut s, "usr_a", "a@x.test");
    assert!(login(&mut s, "usr_a", "ses_0", false).is_ok());
    assert_eq!(
        login(&mut s, "usr_a", "ses_1", true).unwrap_err().reason,
        Reason::EmailUnverified
    );
    assert!(!s.sessions.contains_key("ses_1"));
    issue(&mut s, by_email("a@x.test"), EmailPurpose::Verify, T1, NOW).unwrap();
    verify(&mut s, T1, NOW).unwrap();
    assert!(login(&mut s, "usr_a", "ses_2", true).is_ok());
}

#[test]
fn the_mailbox_answers_newest_first_and_forgets_after_a_day() {
    let mut s = MemoryStore::new();
    let msg = |to: &str, subject: &str, at: i64| MailboxMessage {
        to: to.into(),
        subject: subject.into(),
        text: "t".into(),
        link: "l".into(),
        sent_at: at,
    };
    for m in [
        msg("a@x.test", "old", NOW),
        msg("b@x.test", "other", NOW + 1),
        msg("a@x.test", "new", NOW + 2),
    ] {
        email(&mut s, EmailCommand::Deliver { message: m }).unwrap();
    }
    let list = |s: &mut MemoryStore| match email(
        s,
        EmailCommand::Mailbox {
            to: "a@x.test".into(),
        },
    )
    .unwrap()
    {
        EmailOutcome::Mailbox { messages } => {
            messages.into_iter().map(|m| m.subject).collect::<Vec<_>>()
        }
        o => panic!("{o:?}"),
    };
    assert_eq!(list(&mut s), ["new", "old"]);
    email(
        &mut s,
        EmailCommand::Deliver {
            message: msg("c@x.test", "later", NOW + 24 * 3600 + 1),
        },
    )
    .unwrap();
    assert_eq!(list(&mut s), ["new"]);
}

#[test]
fn a_failing_store_refuses_every_email_command_with_503() {
    let mut s = MemoryStore::new();
    register(&mut s, "usr_a", "a@x.test");
    s.failing = true;
    let commands = vec![
        EmailCommand::Issue {
            to: by_email("a@x.test"),
            purpose: EmailPurpose::Reset,
            token_hash: "h".into(),
            now: NOW,
        },
        EmailCommand::Verify {
            token_hash: "h".into(),
            tenant_admins: admins(),
            now: NOW,
        },
        EmailCommand::Reset {
            token_hash: "h".into(),
            password_hash: "p".into(),
            session: session("ses_1"),
            tenant_admins: admins(),
            now: NOW,
        },
        EmailCommand::SignIn {
            token_hash: "h".into(),
            session: session("ses_1"),
            tenant_admins: admins(),
            now: NOW,
        },
        EmailCommand::Deliver {
            message: MailboxMessage {
                to: "a@x.test".into(),
                subject: "s".into(),
                text: "t".into(),
                link: "l".into(),
                sent_at: NOW,
            },
        },
        EmailCommand::Mailbox {
            to: "a@x.test".into(),
        },
    ];
    for c in commands {
        assert_eq!(
            email(&mut s, c.clone()).unwrap_err().reason,
            Reason::StoreUnavailable,
            "{c:?}"
        );
    }
}

#[test]
fn email_commands_cross_the_wire_intact() {
    let c = Command::Email(EmailCommand::SignIn {
        token_hash: "h".into(),
        session: session("ses_1"),
        tenant_admins: admins(),
        now: NOW,
    });
    let text = serde_json::to_string(&c).unwrap();
    assert_eq!(serde_json::from_str::<Command>(&text).unwrap(), c);
    let i = Command::Email(EmailCommand::Issue {
        to: Addressee::User("usr_a".into()),
        purpose: EmailPurpose::SignIn,
        token_hash: "h".into(),
        now: NOW,
    });
    let text = serde_json::to_string(&i).unwrap();
    assert_eq!(serde_json::from_str::<Command>(&text).unwrap(), i);
}
