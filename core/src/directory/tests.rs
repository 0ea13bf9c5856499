//! The Directory's commands against the in-memory store, and a failing store.

use std::collections::BTreeMap;

use super::accounts::{AccountCommand, AccountOutcome};
use super::devices::{DeviceCommand, DeviceOutcome, Guesser};
use super::keys::{KeyCommand, KeyOutcome};
use super::memory::MemoryStore;
use super::records::Requester;
use super::records::{KeyOwnership, Member, NewSession};
use super::sessions::{SessionCommand, SessionOutcome};
use super::tenants::{TenantCommand, TenantOutcome};
use super::*;
use crate::grants::{Standing, StandingQuery};
use crate::scope::{Role, ScopeSet};

const NOW: i64 = 1_800_000_000;
const RT: &str = "ea_rt_0123456789abcdefghijABCDEFGHIJ0123456789x";

fn reason(r: Result<Outcome, ApiError>) -> Reason {
    r.unwrap_err().reason
}

fn register(
    s: &mut MemoryStore,
    id: &str,
    email: &str,
    tenants: &[(&str, Role)],
) -> Result<Outcome, ApiError> {
    execute(
        s,
        Command::Account(AccountCommand::Register {
            id: id.into(),
            email: email.into(),
            name: id.into(),
            password_hash: "pbkdf2-sha256$1$x$y".into(),
            scopes: ScopeSet::parse("*").unwrap(),
            tenants: tenants
                .iter()
                .map(|(t, r)| (t.to_string(), *r))
                .collect::<BTreeMap<_, _>>(),
            now: NOW,
        }),
    )
}

fn login(s: &mut MemoryStore, user_id: &str, session_id: &str, rt: &str) {
    let email = s.users[user_id].email.clone();
    execute(
        s,
        Command::Account(AccountCommand::LoginBegin {
            email: email.clone(),
            ip: "192.0.2.1".into(),
            now: NOW,
        }),
    )
    .unwrap();
    execute(
        s,
        Command::Account(AccountCommand::LoginSucceeded {
            email,
            ip: "192.0.2.1".into(),
            user_id: user_id.into(),
            session: NewSession {
                session_id: session_id.into(),
                refresh_token: rt.into(),
                refresh_expires_at: NOW + 100,
            },
            upgraded_password_hash: None,
            require_verified_email: false,
            now: NOW,
        }),
    )
    .unwrap();
}

fn refresh(s: &mut MemoryStore, token: &str, now: i64) -> Result<Outcome, ApiError> {
    execute(
        s,
        Command::Session(SessionCommand::Refresh {
            refresh_token: token.into(),
            now_ms: now * 1000,
            grace_s: 30,
            refresh_ttl_s: 100,
        }),
    )
}

fn standing(s: &mut MemoryStore, query: StandingQuery) -> Standing {
    match execute(s, Command::Session(SessionCommand::Standing { query })).unwrap() {
        Outcome::Session(SessionOutcome::Standing { standing }) => standing,
        o => panic!("{o:?}"),
    }
}

fn set_member(
    s: &mut MemoryStore,
    actor: &str,
    email: &str,
    role: Option<Role>,
) -> Result<Outcome, ApiError> {
    execute(
        s,
        Command::Tenant(TenantCommand::SetMember {
            tenant: "demo".into(),
            email: email.into(),
            role,
            actor_id: actor.into(),
        }),
    )
}

#[test]
fn one_registration_per_email() {
    let mut s = MemoryStore::new();
    let o = register(&mut s, "usr_a", "a@x.test", &[("demo", Role::Admin)]).unwrap();
    let Outcome::Account(AccountOutcome::Registered { user }) = o else {
        panic!()
    };
    assert_eq!(
        user.public()["tenants"],
        serde_json::json!({"demo": "admin"})
    );
    assert_eq!(
        reason(register(&mut s, "usr_b", "a@x.test", &[])),
        Reason::EmailTaken
    );
}

#[test]
fn login_limits_count_attempts_before_the_password_is_checked() {
    let mut s = MemoryStore::new();
    register(&mut s, "usr_a", "a@x.test", &[]).unwrap();
    let begin = |s: &mut MemoryStore| {
        execute(
            s,
            Command::Account(AccountCommand::LoginBegin {
                email: "a@x.test".into(),
                ip: "192.0.2.9".into(),
                now: NOW,
            }),
        )
    };
    for _ in 0..10 {
        assert!(begin(&mut s).is_ok());
    }
    let e = begin(&mut s).unwrap_err();
    assert_eq!(e.reason, Reason::RateLimited);
    assert!(e.retry_after_s.is_some_and(|r| r > 0 && r <= 900));
}

#[test]
fn refresh_rotates_once_replays_in_grace_and_revokes_on_theft() {
    let mut s = MemoryStore::new();
    register(&mut s, "usr_a", "a@x.test", &[]).unwrap();
    login(&mut s, "usr_a", "ses_1", RT);
    let first = refresh(&mut s, RT, NOW + 1).unwrap();
    let again = refresh(&mut s, RT, NOW + 10).unwrap();
    let (
        Outcome::Session(SessionOutcome::Refreshed {
            refresh_token: a, ..
        }),
        Outcome::Session(SessionOutcome::Refreshed {
            refresh_token: b, ..
        }),
    ) = (first, again)
    else {
        panic!()
    };
    assert_eq!(
        a, b,
        "a second tab within the grace window gets the same successor"
    );
    assert_ne!(a, RT);
    assert!(refresh(&mut s, &a, NOW + 11).is_ok());
    let theft = refresh(&mut s, RT, NOW + 100).unwrap();
    assert_eq!(
        theft,
        Outcome::Session(SessionOutcome::Reused {
            session_id: "ses_1".into()
        })
    );
    assert_eq!(
        reason(refresh(&mut s, &a, NOW + 101)),
        Reason::SessionRevoked
    );
    assert_eq!(
        reason(refresh(&mut s, "ea_rt_unknown", NOW)),
        Reason::RefreshTokenInvalid
    );
}

#[test]
fn standing_follows_logout_key_deletion_and_role_changes() {
    let mut s = MemoryStore::new();
    register(&mut s, "usr_a", "a@x.test", &[("demo", Role::Admin)]).unwrap();
    register(&mut s, "usr_b", "b@x.test", &[("demo", Role::Admin)]).unwrap();
    login(&mut s, "usr_b", "ses_b", RT);
    let q = StandingQuery::Session {
        session_id: "ses_b".into(),
        user_id: "usr_b".into(),
    };
    let Standing::Active { grants } = standing(&mut s, q.clone()) else {
        panic!()
    };
    assert_eq!(grants.tenants.get("demo"), Some(&Role::Admin));

    // Demoted by another admin: the next answer says so.
    let o = set_member(&mut s, "usr_a", "b@x.test", Some(Role::Viewer)).unwrap();
    assert_eq!(
        o,
        Outcome::Tenant(TenantOutcome::MemberSet {
            user_id: "usr_b".into(),
            tenant: "demo".into(),
            email: "b@x.test".into(),
            role: Some(Role::Viewer)
        })
    );
    let Standing::Active { grants } = standing(&mut s, q.clone()) else {
        panic!()
    };
    assert_eq!(grants.tenants.get("demo"), Some(&Role::Viewer));

    // A session of another user is not this user's.
    let forged = StandingQuery::Session {
        session_id: "ses_b".into(),
        user_id: "usr_a".into(),
    };
    assert_eq!(standing(&mut s, forged), Standing::Revoked);

    execute(
        &mut s,
        Command::Session(SessionCommand::Logout {
            session_id: "ses_b".into(),
            user_id: "usr_b".into(),
            refresh_token: None,
            now: NOW,
        }),
    )
    .unwrap();
    assert_eq!(standing(&mut s, q), Standing::Revoked);

    let key = KeyOwnership {
        id: "key_1".into(),
        user_id: "usr_a".into(),
        hash: "h".into(),
        record: serde_json::json!({"id": "key_1"}),
        created_at: NOW,
    };
    execute(&mut s, Command::Key(KeyCommand::Create { key })).unwrap();
    let kq = StandingQuery::ApiKey {
        key_id: "key_1".into(),
        user_id: "usr_a".into(),
    };
    assert!(matches!(
        standing(&mut s, kq.clone()),
        Standing::Active { .. }
    ));
    // Someone else's key is not found, and cannot be deleted.
    let steal = execute(
        &mut s,
        Command::Key(KeyCommand::Delete {
            user_id: "usr_b".into(),
            id: "key_1".into(),
        }),
    );
    assert_eq!(reason(steal), Reason::NotFound);
    let o = execute(
        &mut s,
        Command::Key(KeyCommand::Delete {
            user_id: "usr_a".into(),
            id: "key_1".into(),
        }),
    )
    .unwrap();
    assert!(matches!(o, Outcome::Key(KeyOutcome::Found { .. })));
    assert_eq!(standing(&mut s, kq), Standing::Revoked);
}

#[test]
fn the_last_admin_cannot_leave_and_members_show_only_email_name_role() {
    let mut s = MemoryStore::new();
    register(
        &mut s,
        "usr_a",
        "a@x.test",
        &[("demo", Role::Admin), ("other", Role::Viewer)],
    )
    .unwrap();
    register(&mut s, "usr_b", "b@x.test", &[]).unwrap();
    assert_eq!(
        reason(set_member(&mut s, "usr_a", "a@x.test", None)),
        Reason::LastAdmin
    );
    assert_eq!(
        reason(set_member(&mut s, "usr_a", "a@x.test", Some(Role::Viewer))),
        Reason::LastAdmin
    );
    assert!(set_member(&mut s, "usr_a", "a@x.test", Some(Role::Admin)).is_ok());
    assert_eq!(
        reason(set_member(
            &mut s,
            "usr_a",
            "nobody@x.test",
            Some(Role::Viewer)
        )),
        Reason::NotFound
    );
    set_member(&mut s, "usr_a", "b@x.test", Some(Role::Admin)).unwrap();
    // With a second admin, the first may step down.
    assert!(set_member(&mut s, "usr_a", "a@x.test", Some(Role::Editor)).is_ok());
    let o = execute(
        &mut s,
        Command::Tenant(TenantCommand::ListMembers {
            tenant: "demo".into(),
        }),
    )
    .unwrap();
    assert_eq!(
        o,
        Outcome::Tenant(TenantOutcome::Members {
            members: vec![
                Member {
                    email: "a@x.test".into(),
                    name: "usr_a".into(),
                    role: Role::Editor
                },
                Member {
                    email: "b@x.test".into(),
                    name: "usr_b".into(),
                    role: Role::Admin
                },
            ]
        })
    );
}

fn from() -> Requester {
    Requester {
        ip: Some("198.51.100.4".into()),
        country: Some("NZ".into()),
        at: NOW,
    }
}

fn guesser(user_id: &str, ip: &str) -> Guesser {
    Guesser {
        user_id: user_id.into(),
        ip: ip.into(),
    }
}

#[test]
fn user_code_guesses_are_limited_per_user_and_per_address() {
    let mut s = MemoryStore::new();
    let lookup = |s: &mut MemoryStore, user: &str, ip: &str, code: &str| {
        execute(
            s,
            Command::Device(DeviceCommand::Lookup {
                user_code: code.into(),
                guesser: guesser(user, ip),
                now: NOW,
            }),
        )
    };
    execute(
        &mut s,
        Command::Device(DeviceCommand::Create {
            code_hash: "dc".into(),
            user_code: "BCDF-GHJK".into(),
            client_name: "cli".into(),
            requested_by: from(),
        }),
    )
    .unwrap();
    for i in 0..10 {
        let ip = format!("10.0.0.{i}");
        assert_eq!(
            reason(lookup(&mut s, "usr_a", &ip, "ZZZZ-ZZZZ")),
            Reason::NotFound
        );
    }
    // The user is out of guesses, from any address, even for the right code.
    let e = lookup(&mut s, "usr_a", "10.9.9.9", "BCDF-GHJK").unwrap_err();
    assert_eq!(e.reason, Reason::RateLimited);
    assert!(e.retry_after_s.is_some());
    // Others are not.
    assert!(lookup(&mut s, "usr_b", "10.9.9.9", "BCDF-GHJK").is_ok());
    // One address spraying with many accounts is limited too.
    for i in 0..30 {
        let _ = lookup(&mut s, &format!("usr_{i}"), "203.0.113.9", "ZZZZ-ZZZZ");
    }
    assert_eq!(
        reason(lookup(&mut s, "usr_new", "203.0.113.9", "BCDF-GHJK")),
        Reason::RateLimited
    );
}

#[test]
fn a_device_code_is_approved_once_and_exchanged_once() {
    let mut s = MemoryStore::new();
    register(&mut s, "usr_a", "a@x.test", &[]).unwrap();
    execute(
        &mut s,
        Command::Device(DeviceCommand::Create {
            code_hash: "dc".into(),
            user_code: "BCDF-GHJK".into(),
            client_name: "cli".into(),
            requested_by: from(),
        }),
    )
    .unwrap();
    let poll = |s: &mut MemoryStore, now| {
        execute(
            s,
            Command::Device(DeviceCommand::Poll {
                code_hash: "dc".into(),
                session: NewSession {
                    session_id: "ses_d".into(),
                    refresh_token: RT.into(),
                    refresh_expires_at: NOW + 100,
                },
                now,
            }),
        )
    };
    assert_eq!(reason(poll(&mut s, NOW)), Reason::AuthorizationPending);
    assert_eq!(reason(poll(&mut s, NOW + 1)), Reason::SlowDown);
    let o = execute(
        &mut s,
        Command::Device(DeviceCommand::Lookup {
            user_code: "BCDF-GHJK".into(),
            guesser: guesser("usr_a", "192.0.2.7"),
            now: NOW,
        }),
    )
    .unwrap();
    assert_eq!(
        o,
        Outcome::Device(DeviceOutcome::Pending {
            client_name: "cli".into(),
            requested_by: from(),
        })
    );
    execute(
        &mut s,
        Command::Device(DeviceCommand::Decide {
            user_code: "BCDF-GHJK".into(),
            guesser: guesser("usr_a", "192.0.2.7"),
            approve: true,
            now: NOW,
        }),
    )
    .unwrap();
    let again = execute(
        &mut s,
        Command::Device(DeviceCommand::Decide {
            user_code: "BCDF-GHJK".into(),
            guesser: guesser("usr_a", "192.0.2.7"),
            approve: false,
            now: NOW,
        }),
    );
    assert_eq!(reason(again), Reason::NotFound, "decided once");
    assert!(matches!(
        poll(&mut s, NOW + 20).unwrap(),
        Outcome::Device(DeviceOutcome::Approved { .. })
    ));
    assert_eq!(
        reason(poll(&mut s, NOW + 40)),
        Reason::ExpiredToken,
        "exchanged once"
    );
    assert!(s.sessions.contains_key("ses_d"));
}

#[test]
fn a_failing_store_refuses_every_command_with_503() {
    let mut s = MemoryStore::new();
    register(&mut s, "usr_a", "a@x.test", &[("demo", Role::Admin)]).unwrap();
    login(&mut s, "usr_a", "ses_1", RT);
    s.failing = true;
    let commands = vec![
        Command::Account(AccountCommand::LoginBegin {
            email: "a@x.test".into(),
            ip: "1".into(),
            now: NOW,
        }),
        Command::Session(SessionCommand::Refresh {
            refresh_token: RT.into(),
            now_ms: NOW * 1000,
            grace_s: 30,
            refresh_ttl_s: 100,
        }),
        Command::Session(SessionCommand::Standing {
            query: StandingQuery::Session {
                session_id: "ses_1".into(),
                user_id: "usr_a".into(),
            },
        }),
        Command::Session(SessionCommand::Logout {
            session_id: "ses_1".into(),
            user_id: "usr_a".into(),
            refresh_token: None,
            now: NOW,
        }),
        Command::Key(KeyCommand::List {
            user_id: "usr_a".into(),
        }),
        Command::Tenant(TenantCommand::ListMembers {
            tenant: "demo".into(),
        }),
        Command::Tenant(TenantCommand::SetMember {
            tenant: "demo".into(),
            email: "a@x.test".into(),
            role: None,
            actor_id: "usr_b".into(),
        }),
        Command::Device(DeviceCommand::Lookup {
            user_code: "BCDF-GHJK".into(),
            guesser: guesser("usr_a", "1"),
            now: NOW,
        }),
    ];
    for c in commands {
        assert_eq!(
            reason(execute(&mut s, c.clone())),
            Reason::StoreUnavailable,
            "{c:?}"
        );
    }
    assert!(reason(register(&mut s, "usr_z", "z@x.test", &[])) == Reason::StoreUnavailable);
}

#[test]
fn commands_and_answers_cross_the_wire_intact() {
    let c = Command::Tenant(TenantCommand::SetMember {
        tenant: "demo".into(),
        email: "a@x.test".into(),
        role: Some(Role::Viewer),
        actor_id: "usr_a".into(),
    });
    let text = serde_json::to_string(&c).unwrap();
    assert_eq!(serde_json::from_str::<Command>(&text).unwrap(), c);
    let refused = Answer::from_result(Err(ApiError::rate_limited(42)));
    let back = serde_json::from_str::<Answer>(&serde_json::to_string(&refused).unwrap()).unwrap();
    let e = back.into_result().unwrap_err();
    assert_eq!((e.reason, e.retry_after_s), (Reason::RateLimited, Some(42)));
    let unknown = Answer::Refused {
        reason: "from_the_future".into(),
        message: "x".into(),
        retry_after: None,
    };
    assert_eq!(
        unknown.into_result().unwrap_err().reason,
        Reason::StoreUnavailable
    );
}
