//! The gate's table: credential kind × route kind × grant state → decision,
//! driven the way the worker drives it, with in-memory answers.

use super::*;
use crate::grants::Grants;
use crate::identity::{ResourceGrant, TenantReach};
use crate::ip::IpAllowList;
use crate::scope::Role;
use crate::signing::sign;

const NOW_MS: u64 = 1_800_000_000_000;
const KEY: &str = "ea_live_0123456789abcdefghijABCDEFGHIJ0123456789";

/// What the Directory holds about the caller.
#[derive(Clone)]
enum Held {
    /// The session or key stands, with these grants.
    Active(&'static str, &'static [(&'static str, Role)]),
    Revoked,
    /// The Directory cannot be reached.
    Down,
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    User,
    /// An API key with these scopes and tenants.
    Key(&'static str, &'static [&'static str]),
    External(&'static str),
}

fn identity(kind: Kind) -> Identity {
    let set = |s: &str| ScopeSet::parse(s).unwrap();
    match kind {
        Kind::User => {
            let mut id = Identity::new(CredentialKind::User, "usr_1", set("*"));
            id.session_id = Some("ses_1".into());
            id
        }
        Kind::Key(scopes, tenants) => {
            let mut id = Identity::new(CredentialKind::ApiKey, "usr_1", set(scopes));
            id.key_id = Some("key_1".into());
            id.tenants = TenantReach::Listed(tenants.iter().map(|t| t.to_string()).collect());
            id
        }
        Kind::External(scopes) => {
            let mut id = Identity::new(CredentialKind::External, "ext|1", set(scopes));
            id.issuer = Some("https://idp.test".into());
            id
        }
    }
}

struct Req<'a> {
    method: &'a str,
    path: &'a str,
    query: Option<&'a str>,
    authorization: Option<String>,
    signature: [Option<String>; 3],
    body: Vec<u8>,
    ip: Option<IpAddr>,
}

fn req<'a>(method: &'a str, path: &'a str) -> Req<'a> {
    Req {
        method,
        path,
        query: None,
        authorization: Some(format!("Bearer {KEY}")),
        signature: [None, None, None],
        body: Vec::new(),
        ip: None,
    }
}

/// What the rim saw the gate ask for, in order.
#[derive(Debug, PartialEq)]
enum Asked {
    Identity,
    Standing,
    Body,
    Nonce,
}

/// Drives the gate as the worker does, with `kind` behind the credential,
/// `held` in the Directory and `replayed` deciding the nonce.
fn drive(
    policy: &Policy,
    r: &Req<'_>,
    kind: Kind,
    held: Held,
    replayed: bool,
) -> (Result<Passed<'static>, ApiError>, Vec<Asked>) {
    let policy: &'static Policy = Box::leak(Box::new(policy.clone()));
    let head = RequestHead {
        method: r.method,
        path: r.path,
        query: r.query,
        authorization: r.authorization.as_deref(),
        signature: [
            r.signature[0].as_deref(),
            r.signature[1].as_deref(),
            r.signature[2].as_deref(),
        ],
        client_ip: r.ip,
        now_ms: NOW_MS,
    };
    let mut asked = Vec::new();
    let result = (|| {
        let mut gate = Gate::open(&head, policy, 1024, Environment::Production)?;
        loop {
            match gate.next() {
                Need::Identity { .. } => {
                    asked.push(Asked::Identity);
                    gate.identified(identity(kind))?;
                }
                Need::Standing(_) => {
                    asked.push(Asked::Standing);
                    let s = match &held {
                        Held::Active(scopes, roles) => Standing::Active {
                            grants: Grants {
                                scopes: ScopeSet::parse(scopes).unwrap(),
                                tenants: roles.iter().map(|(t, r)| (t.to_string(), *r)).collect(),
                            },
                        },
                        Held::Revoked => Standing::Revoked,
                        Held::Down => return Err(ApiError::new(Reason::StoreUnavailable)),
                    };
                    gate.standing(s)?;
                }
                Need::Body { limit } => {
                    asked.push(Asked::Body);
                    if r.body.len() as u64 > limit {
                        return Err(ApiError::new(Reason::PayloadTooLarge));
                    }
                    gate.body(r.body.clone())?;
                }
                Need::Nonce { .. } => {
                    asked.push(Asked::Nonce);
                    gate.nonce(!replayed)?;
                }
                Need::Nothing => return gate.finish(),
            }
        }
    })();
    (result, asked)
}

fn decide(r: &Req<'_>, kind: Kind, held: Held) -> Result<Passed<'static>, Reason> {
    drive(&Policy::default_policy(), r, kind, held, false)
        .0
        .map_err(|e| e.reason)
}

/// One row: a name, the request, who calls, what the Directory holds, the decision.
type Case<'a> = (&'a str, &'a Req<'a>, Kind, Held, Result<(), Reason>);

const ADMIN: Held = Held::Active("*", &[("demo", Role::Admin)]);
const VIEWER: Held = Held::Active("*", &[("demo", Role::Viewer)]);
const REMOVED: Held = Held::Active("*", &[]);

#[test]
fn the_table() {
    use Reason::*;
    let scans_key = Kind::Key("scans:read", &["demo"]);
    let wide_key = Kind::Key("*", &["demo"]);
    let plain_key = Kind::Key("scans:read", &[]);
    let ext = Kind::External("*");
    let t_get = req("GET", "/api/v1/tenants/demo/x");
    let t_del = req("DELETE", "/api/v1/tenants/demo/x");
    let dash = req("GET", "/api/scans/dashboard");
    let members_put = req("PUT", "/v1/tenants/demo/members");
    let members_get = req("GET", "/v1/tenants/demo/members");
    let keys_post = req("POST", "/v1/api-keys");
    let approve = req("POST", "/v1/auth/device/approve");
    let whoami = req("GET", "/v1/auth/whoami");

    let cases: Vec<Case<'_>> = vec![
        // Tenant routes: the role as the Directory holds it now.
        ("user admin deletes", &t_del, Kind::User, ADMIN, Ok(())),
        ("user viewer reads", &t_get, Kind::User, VIEWER, Ok(())),
        (
            "user viewer deletes",
            &t_del,
            Kind::User,
            VIEWER,
            Err(InsufficientScope),
        ),
        (
            "user removed reads",
            &t_get,
            Kind::User,
            REMOVED,
            Err(TenantDenied),
        ),
        (
            "user revoked",
            &t_get,
            Kind::User,
            Held::Revoked,
            Err(SessionRevoked),
        ),
        (
            "user, directory down",
            &t_get,
            Kind::User,
            Held::Down,
            Err(StoreUnavailable),
        ),
        // Keys: their own list ∩ their creator's current role.
        ("scans:read key reads", &t_get, scans_key, ADMIN, Ok(())),
        (
            "scans:read key deletes",
            &t_del,
            scans_key,
            ADMIN,
            Err(InsufficientScope),
        ),
        ("* key of admin deletes", &t_del, wide_key, ADMIN, Ok(())),
        (
            "* key of viewer deletes",
            &t_del,
            wide_key,
            VIEWER,
            Err(InsufficientScope),
        ),
        (
            "key of removed creator",
            &t_get,
            wide_key,
            REMOVED,
            Err(TenantDenied),
        ),
        (
            "key without the tenant",
            &t_get,
            plain_key,
            ADMIN,
            Err(TenantDenied),
        ),
        (
            "revoked key",
            &t_get,
            wide_key,
            Held::Revoked,
            Err(ApiKeyRevoked),
        ),
        (
            "external in a tenant",
            &t_get,
            ext,
            Held::Down,
            Err(TenantDenied),
        ),
        // Plain routes: scopes bounded by the holder's current scopes.
        ("user reads scans", &dash, Kind::User, ADMIN, Ok(())),
        (
            "user lost scans:read",
            &dash,
            Kind::User,
            Held::Active("drifts:read", &[]),
            Err(InsufficientScope),
        ),
        ("key reads scans", &dash, plain_key, REMOVED, Ok(())),
        ("external reads scans", &dash, ext, Held::Down, Ok(())),
        // The worker's own endpoints.
        (
            "admin sets a member",
            &members_put,
            Kind::User,
            ADMIN,
            Ok(()),
        ),
        (
            "viewer sets a member",
            &members_put,
            Kind::User,
            VIEWER,
            Err(TenantDenied),
        ),
        (
            "removed admin re-grants",
            &members_put,
            Kind::User,
            REMOVED,
            Err(TenantDenied),
        ),
        (
            "viewer lists members",
            &members_get,
            Kind::User,
            VIEWER,
            Ok(()),
        ),
        ("key lists members", &members_get, wide_key, ADMIN, Ok(())),
        (
            "scans key lists members",
            &members_get,
            scans_key,
            ADMIN,
            Err(InsufficientScope),
        ),
        (
            "external lists members",
            &members_get,
            ext,
            Held::Down,
            Err(TenantDenied),
        ),
        (
            "user creates a key",
            &keys_post,
            Kind::User,
            REMOVED,
            Ok(()),
        ),
        (
            "key without api_keys:write",
            &keys_post,
            plain_key,
            REMOVED,
            Err(InsufficientScope),
        ),
        (
            "external creates a key",
            &keys_post,
            ext,
            Held::Down,
            Err(InsufficientScope),
        ),
        (
            "user approves a device",
            &approve,
            Kind::User,
            REMOVED,
            Ok(()),
        ),
        (
            "key approves a device",
            &approve,
            wide_key,
            ADMIN,
            Err(InsufficientScope),
        ),
        (
            "whoami, revoked session",
            &whoami,
            Kind::User,
            Held::Revoked,
            Err(SessionRevoked),
        ),
        (
            "whoami, directory down",
            &whoami,
            wide_key,
            Held::Down,
            Err(StoreUnavailable),
        ),
    ];
    for (name, r, kind, held, want) in cases {
        let got = decide(r, kind, held).map(|_| ());
        assert_eq!(got, want, "{name}");
    }
}

#[test]
fn forwarded_headers_say_what_the_credential_may_use_here() {
    let p = decide(
        &req("GET", "/api/v1/tenants/demo/x"),
        Kind::Key("scans:read", &["demo"]),
        VIEWER,
    )
    .unwrap();
    let h = p.forward_headers();
    assert_eq!(
        h,
        vec![
            ("x-edgeauth-subject", "usr_1".to_string()),
            ("x-edgeauth-kind", "api_key".to_string()),
            ("x-edgeauth-scopes", "scans:read".to_string()),
            ("x-edgeauth-tenant", "demo".to_string()),
            ("x-edgeauth-key-id", "key_1".to_string()),
        ]
    );
    let p = decide(&req("GET", "/api/me"), Kind::External("*"), Held::Down).unwrap();
    let h = p.forward_headers();
    assert!(h.contains(&("x-edgeauth-issuer", "https://idp.test".to_string())));
    assert!(!h.iter().any(|(n, _)| *n == "x-edgeauth-tenant"));
    // `auth: none`: no credential read, nothing forwarded.
    let mut health = req("GET", "/health");
    health.authorization = Some("Bearer junk".into());
    let (p, asked) = drive(&Policy::default_policy(), &health, Kind::User, ADMIN, false);
    assert!(p.unwrap().forward_headers().is_empty());
    assert_eq!(asked, vec![Asked::Body]);
}

#[test]
fn routing_comes_before_the_credential_and_the_credential_before_the_body() {
    let policy = Policy::default_policy();
    let mut r = req("GET", "/nowhere");
    r.authorization = None;
    let (res, asked) = drive(&policy, &r, Kind::User, ADMIN, false);
    assert_eq!(res.unwrap_err().reason, Reason::NoRoute);
    assert!(asked.is_empty());

    let r = req("DELETE", "/v1/auth/token");
    assert_eq!(
        decide(&r, Kind::User, ADMIN).unwrap_err(),
        Reason::MethodNotAllowed
    );

    let mut r = req("GET", "/api/me");
    r.authorization = None;
    assert_eq!(
        decide(&r, Kind::User, ADMIN).unwrap_err(),
        Reason::MissingCredential
    );
    r.authorization = Some("Basic abc".into());
    assert_eq!(
        decide(&r, Kind::User, ADMIN).unwrap_err(),
        Reason::MalformedCredential
    );

    // A revoked session is a 401 before a 403; a 403 before a 413.
    let mut r = req("POST", "/api/v1/tenants/demo/x");
    r.body = vec![b'x'; 4096];
    assert_eq!(
        decide(&r, Kind::User, Held::Revoked).unwrap_err(),
        Reason::SessionRevoked
    );
    assert_eq!(
        decide(&r, Kind::User, VIEWER).unwrap_err(),
        Reason::InsufficientScope
    );
    assert_eq!(
        decide(&r, Kind::User, ADMIN).unwrap_err(),
        Reason::PayloadTooLarge
    );

    // Public endpoints read no credential at all.
    let mut r = req("POST", "/v1/auth/token");
    r.authorization = Some("Bearer junk".into());
    let (res, asked) = drive(&policy, &r, Kind::User, Held::Down, false);
    assert!(res.unwrap().principal.is_none());
    assert_eq!(asked, vec![Asked::Body]);
}

#[test]
fn query_tokens_only_where_the_policy_says() {
    let mut ws = req("GET", "/api/ws/drifts");
    ws.authorization = None;
    ws.query = Some("a=1&token=ea_live_x");
    assert!(decide(&ws, Kind::User, ADMIN).is_ok());
    let mut dash = req("GET", "/api/drifts");
    dash.authorization = None;
    dash.query = Some("token=ea_live_x");
    assert_eq!(
        decide(&dash, Kind::User, ADMIN).unwrap_err(),
        Reason::MissingCredential
    );
}

fn signed(method: &str, target: &str, body: &[u8], ts: u64, nonce: &str) -> [Option<String>; 3] {
    let h = sign(KEY, method, target, body, ts, nonce);
    let [(_, s), (_, t), (_, n)] = h.headers();
    [Some(s), Some(t), Some(n)]
}

#[test]
fn signatures_window_then_mac_then_nonce() {
    let policy = Policy::default_policy();
    let mut r = req("POST", "/api/signed/x");
    r.query = Some("a=1");
    r.body = b"{}".to_vec();
    let run = |r: &Req<'_>, replayed: bool| {
        let (res, asked) = drive(&policy, r, Kind::User, ADMIN, replayed);
        (res.map(|_| ()).map_err(|e| e.reason), asked)
    };
    assert_eq!(run(&r, false).0, Err(Reason::SignatureMissing));

    r.signature = signed(
        "POST",
        "/api/signed/x?a=1",
        b"{}",
        NOW_MS,
        "nonce-0123456789abcdef",
    );
    let (res, asked) = run(&r, false);
    assert_eq!(res, Ok(()));
    assert_eq!(
        asked,
        vec![Asked::Identity, Asked::Standing, Asked::Body, Asked::Nonce]
    );
    assert_eq!(run(&r, true).0, Err(Reason::NonceReplayed));

    let mut tampered = Req {
        body: b"{\"x\":1}".to_vec(),
        ..r
    };
    tampered.signature = signed(
        "POST",
        "/api/signed/x?a=1",
        b"{}",
        NOW_MS,
        "nonce-0123456789abcdef",
    );
    let (res, asked) = run(&tampered, false);
    assert_eq!(res, Err(Reason::SignatureInvalid));
    assert!(
        !asked.contains(&Asked::Nonce),
        "junk never reaches the nonce store"
    );

    let mut stale = req("POST", "/api/signed/x");
    stale.signature = signed(
        "POST",
        "/api/signed/x",
        b"",
        NOW_MS - 301_000,
        "nonce-0123456789abcdef",
    );
    let (res, asked) = run(&stale, false);
    assert_eq!(res, Err(Reason::TimestampOutOfWindow));
    assert!(
        !asked.contains(&Asked::Body),
        "refused before the body is read"
    );

    // Present on the worker's own endpoints: checked too, never ignored.
    let mut who = req("GET", "/v1/auth/whoami");
    who.signature = [Some("00".into()), None, None];
    assert_eq!(run(&who, false).0, Err(Reason::SignatureInvalid));
}

#[test]
fn keys_are_held_to_their_resources_and_addresses() {
    let mut r = req("POST", "/api/scans/trigger/r2");
    r.ip = Some("192.0.2.1".parse().unwrap());
    let policy = Policy::default_policy();
    let run = |id: Identity| {
        let head = RequestHead {
            method: r.method,
            path: r.path,
            query: None,
            authorization: r.authorization.as_deref(),
            signature: [None, None, None],
            client_ip: r.ip,
            now_ms: NOW_MS,
        };
        let mut gate = Gate::open(&head, &policy, 1024, Environment::Production).unwrap();
        gate.identified(id)?;
        gate.standing(Standing::Active {
            grants: Grants {
                scopes: ScopeSet::parse("*").unwrap(),
                tenants: Default::default(),
            },
        })
    };
    let mut id = identity(Kind::Key("scans:trigger", &[]));
    id.resources = ResourceGrant::Only(vec!["r1".into()]);
    assert_eq!(run(id.clone()).unwrap_err().reason, Reason::ResourceDenied);
    id.resources = ResourceGrant::All;
    id.allowed_ips = IpAllowList::parse(&["10.0.0.0/8"]).unwrap();
    assert_eq!(run(id.clone()).unwrap_err().reason, Reason::IpDenied);
    id.allowed_ips = IpAllowList::parse(&["192.0.2.0/24"]).unwrap();
    assert!(run(id).is_ok());
}

#[test]
fn a_gate_driven_out_of_turn_refuses() {
    let policy = Policy::default_policy();
    let head = RequestHead {
        method: "GET",
        path: "/api/me",
        query: None,
        authorization: Some("Bearer x"),
        signature: [None, None, None],
        client_ip: None,
        now_ms: NOW_MS,
    };
    let mut gate = Gate::open(&head, &policy, 10, Environment::Production).unwrap();
    assert_eq!(
        gate.body(Vec::new()).unwrap_err().reason,
        Reason::StoreUnavailable
    );
    let gate = Gate::open(&head, &policy, 10, Environment::Production).unwrap();
    assert!(gate.finish().is_err());
}

#[test]
fn ambiguous_paths_are_refused_before_anything_is_matched_or_read() {
    for path in [
        "/api/..;/v1/tenants/demo/x",
        "/api/%252e%252e/me",
        "/api/me;jsessionid=1",
        "/api/%2e%2e/me",
        "/api/scans/trigger/a%2fb",
        "/api/scans/trigger/a%5cb",
        "/api/me/%00",
        "//api/me",
    ] {
        let mut r = req("GET", path);
        r.authorization = None;
        let (res, asked) = drive(&Policy::default_policy(), &r, Kind::User, ADMIN, false);
        assert_eq!(res.unwrap_err().reason, Reason::InvalidPath, "{path}");
        assert!(asked.is_empty(), "{path}: nothing read");
    }
    let p = decide(&req("POST", "/api/scans/trigger/r%20x"), Kind::User, ADMIN).unwrap();
    assert_eq!(
        p.path, "/api/scans/trigger/r%20x",
        "the origin gets the path as it arrived"
    );
}
