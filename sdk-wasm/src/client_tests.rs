//! The client against a fake worker that keeps SPEC's rules for sessions, refresh rotation and signing.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

use edgeauth_core::secret::Secret;
use edgeauth_core::{signing, time, ApiError, Reason};
use serde_json::{json, Value};

use super::*;
use crate::flight::tests::{run_all, Ticks};
use crate::platform::{Answer, Body, MemoryStore, Outgoing, Platform, SessionEvent, SessionStore};
use crate::token::tests::jwt;

const BASE: &str = "https://auth.example.com";
const T0: i64 = 1_700_000_000_000;
const GRACE_MS: i64 = 30_000;

#[derive(Clone, Debug)]
struct Seen {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Body,
    credentials: bool,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The worker, reduced to the rules the client depends on.
struct FakeServer {
    now_ms: Cell<i64>,
    access_ttl_s: Cell<i64>,
    latency: Cell<u32>,
    offline: Cell<bool>,
    counter: Cell<u32>,
    live_refresh: RefCell<Option<String>>,
    /// Spent refresh tokens: when, and the answer their rotation gave.
    spent_refresh: RefCell<HashMap<String, (i64, String)>>,
    access: RefCell<HashMap<String, i64>>,
    revoked: Cell<bool>,
    log: RefCell<Vec<Seen>>,
    /// The browser's cookie jar (shared by its tabs): the refresh cookie of cookie mode.
    cookie: RefCell<Option<String>>,
    /// How long clients waited (device login's polling), in ms.
    slept_ms: Cell<u64>,
    /// Device login: the answers `/v1/auth/device/token` gives, in turn (then approval).
    device_polls: RefCell<Vec<Reason>>,
}

#[derive(Debug)]
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Answer for Reply {
    fn status(&self) -> u16 {
        self.status
    }
    fn header(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    }
    async fn text(&self) -> Result<String, SdkError> {
        Ok(self.body.clone())
    }
    async fn peek_text(&self) -> Result<String, SdkError> {
        Ok(self.body.clone())
    }
}

fn refusal(reason: Reason) -> (u16, String) {
    let e = ApiError::new(reason);
    (e.status(), e.body_json())
}

impl FakeServer {
    fn new() -> Rc<FakeServer> {
        Rc::new(FakeServer {
            now_ms: Cell::new(T0),
            access_ttl_s: Cell::new(3600),
            latency: Cell::new(3),
            offline: Cell::new(false),
            counter: Cell::new(0),
            live_refresh: RefCell::new(None),
            spent_refresh: RefCell::new(HashMap::new()),
            access: RefCell::new(HashMap::new()),
            revoked: Cell::new(false),
            log: RefCell::new(Vec::new()),
            cookie: RefCell::new(None),
            slept_ms: Cell::new(0),
            device_polls: RefCell::new(Vec::new()),
        })
    }

    fn advance(&self, ms: i64) {
        self.now_ms.set(self.now_ms.get() + ms);
    }

    fn count(&self, method: &str, path: &str) -> usize {
        self.log
            .borrow()
            .iter()
            .filter(|s| s.method == method && s.path == path)
            .count()
    }

    fn last(&self, path: &str) -> Seen {
        self.log
            .borrow()
            .iter()
            .rev()
            .find(|s| s.path == path)
            .cloned()
            .expect("a request to the path")
    }

    fn issue(&self) -> String {
        let n = self.counter.get() + 1;
        self.counter.set(n);
        let exp = self.now_ms.get() / 1000 + self.access_ttl_s.get();
        let token = jwt(&format!(
            r#"{{"sub":"u1","sid":"s1","jti":"j{n}","exp":{exp},"scope":"*"}}"#
        ));
        self.access.borrow_mut().insert(token.clone(), exp);
        let refresh = format!("ea_rt_{n:0>40}");
        *self.live_refresh.borrow_mut() = Some(refresh.clone());
        json!({
            "token": token,
            "expires_at": time::rfc3339(exp),
            "refresh_token": refresh,
            "refresh_expires_at": time::rfc3339(exp + 604_800),
            "user": {"id": "u1", "email": "a@example.com", "name": "A", "roles": [], "tenants": {}},
        })
        .to_string()
    }

    /// Hands a token answer over as the request asked: in cookie mode the refresh token
    /// goes into the jar (only for a request that lets the browser keep cookies) and
    /// out of the body.
    fn deliver(&self, seen: &Seen, answer: String) -> (u16, String) {
        if seen.header("x-edgeauth-session") != Some("cookie") {
            return (200, answer);
        }
        assert!(
            seen.credentials,
            "a cookie-mode call lets the browser keep the cookie"
        );
        let mut v: Value = serde_json::from_str(&answer).unwrap();
        let rt = v.as_object_mut().unwrap().remove("refresh_token").unwrap();
        *self.cookie.borrow_mut() = rt.as_str().map(str::to_string);
        (200, v.to_string())
    }

    /// The credential check of a protected route, in SPEC's order.
    fn check_bearer(&self, seen: &Seen) -> Result<String, Reason> {
        let auth = seen
            .header("authorization")
            .ok_or(Reason::MissingCredential)?;
        let token = auth
            .strip_prefix("Bearer ")
            .ok_or(Reason::MalformedCredential)?;
        if token.starts_with("ea_live_") {
            return Ok(token.to_string());
        }
        let exp = *self
            .access
            .borrow()
            .get(token)
            .ok_or(Reason::BadTokenSignature)?;
        if self.now_ms.get() / 1000 >= exp {
            return Err(Reason::TokenExpired);
        }
        if self.revoked.get() {
            return Err(Reason::SessionRevoked);
        }
        Ok(token.to_string())
    }

    fn check_signature(&self, seen: &Seen, credential: &str, required: bool) -> Result<(), Reason> {
        let headers = signing::SignatureHeaders::from_request(
            seen.header("x-cli-signature"),
            seen.header("x-cli-timestamp"),
            seen.header("x-cli-nonce"),
        )
        .map_err(|e| e.reason)?;
        let Some(headers) = headers else {
            return if required {
                Err(Reason::SignatureMissing)
            } else {
                Ok(())
            };
        };
        let now = u64::try_from(self.now_ms.get()).unwrap_or(0);
        signing::check_window(headers.timestamp_ms(), now).map_err(|e| e.reason)?;
        let body = seen.body.signable().unwrap_or(b"");
        headers
            .verify_mac(credential, &seen.method, &seen.path, body)
            .map_err(|e| e.reason)
    }

    fn handle(&self, seen: &Seen) -> (u16, String) {
        let body: Value = match &seen.body {
            Body::Text(t) => serde_json::from_str(t).unwrap_or(Value::Null),
            _ => Value::Null,
        };
        match (seen.method.as_str(), seen.path.as_str()) {
            ("POST", "/v1/auth/register") => (201, json!({"user": {"id": "u1"}}).to_string()),
            ("POST", "/v1/auth/token") => {
                if body["password"] == "correct horse" {
                    self.revoked.set(false);
                    self.deliver(seen, self.issue())
                } else {
                    refusal(Reason::InvalidLogin)
                }
            }
            ("POST", "/v1/auth/device/code") => (
                200,
                json!({"device_code": "ea_dc_x", "user_code": "BCDF-GHJK",
                    "verification_uri": "https://auth.example.com/console/device",
                    "verification_uri_complete": "https://auth.example.com/console/device?user_code=BCDF-GHJK",
                    "expires_in": 600, "interval": 5, "client_name": body["client_name"]})
                .to_string(),
            ),
            ("POST", "/v1/auth/device/token") => {
                let mut polls = self.device_polls.borrow_mut();
                if polls.is_empty() {
                    drop(polls);
                    return self.deliver(seen, self.issue());
                }
                refusal(polls.remove(0))
            }
            ("POST", "/v1/auth/refresh") => {
                // SPEC: no body reads the cookie, with the header (the fake's origin is always the own).
                let from_cookie = matches!(seen.body, Body::Empty)
                    && seen.header("x-edgeauth-session") == Some("cookie");
                let presented = match from_cookie {
                    true => self.cookie.borrow().clone().unwrap_or_default(),
                    false => body["refresh_token"].as_str().unwrap_or("").to_string(),
                };
                if self.revoked.get() {
                    return refusal(Reason::SessionRevoked);
                }
                let spent = self.spent_refresh.borrow().get(&presented).cloned();
                if let Some((used_at, answer)) = spent {
                    // SPEC: within the grace window (30 s), the same successor; later, theft.
                    if self.now_ms.get() - used_at <= GRACE_MS {
                        return self.deliver(seen, answer);
                    }
                    self.revoked.set(true);
                    return refusal(Reason::RefreshTokenReused);
                }
                if self.live_refresh.borrow().as_deref() != Some(presented.as_str()) {
                    return refusal(Reason::RefreshTokenInvalid);
                }
                let answer = self.issue();
                self.spent_refresh
                    .borrow_mut()
                    .insert(presented, (self.now_ms.get(), answer.clone()));
                self.deliver(seen, answer)
            }
            ("POST", "/v1/auth/logout") => match self.check_bearer(seen) {
                Ok(_) => {
                    self.revoked.set(true);
                    *self.cookie.borrow_mut() = None;
                    (204, String::new())
                }
                Err(r) => refusal(r),
            },
            (_, path) => {
                let credential = match self.check_bearer(seen) {
                    Ok(c) => c,
                    Err(r) => return refusal(r),
                };
                if let Err(r) =
                    self.check_signature(seen, &credential, path.starts_with("/api/signed/"))
                {
                    return refusal(r);
                }
                match (seen.method.as_str(), path) {
                    ("GET", "/v1/auth/whoami") => {
                        (200, json!({"kind": "user", "subject": "u1"}).to_string())
                    }
                    ("GET", "/v1/api-keys") => (200, json!({"keys": []}).to_string()),
                    ("GET", "/v1/auth/device/lookup?user_code=BCDF-GHJK") => (
                        200,
                        json!({"user_code": "BCDF-GHJK", "client_name": "a CLI"}).to_string(),
                    ),
                    ("GET", _) if path.starts_with("/v1/auth/device/lookup") => {
                        refusal(Reason::NotFound)
                    }
                    ("POST", "/v1/auth/device/approve") => (204, String::new()),
                    ("POST", "/v1/api-keys") => {
                        (201, json!({"id": "k1", "key": "ea_live_x"}).to_string())
                    }
                    ("DELETE", _) => (204, String::new()),
                    ("GET", "/v1/tenants/ac%2Fme/members") => (
                        200,
                        json!({"members": [{"email": "a@example.com", "name": "A", "role": "admin"}]})
                            .to_string(),
                    ),
                    ("PUT", "/v1/tenants/ac%2Fme/members") => (
                        200,
                        json!({"tenant": "ac/me", "email": body["email"], "role": body["role"]})
                            .to_string(),
                    ),
                    (_, "/v1/tenants/other/members") => refusal(Reason::TenantDenied),
                    // Spelled out: a reason this SDK's core may not know yet must still come through.
                    ("PUT", "/v1/tenants/solo/members") => (
                        409,
                        json!({"error": {"code": "CONFLICT", "reason": "last_admin",
                            "message": "the last admin of a tenant cannot leave it"}})
                        .to_string(),
                    ),
                    _ => (200, json!({"path": path}).to_string()),
                }
            }
        }
    }
}

/// One tab: its own clock (possibly wrong) and listener, the shared server.
struct Tab {
    server: Rc<FakeServer>,
    clock_error_ms: i64,
    events: RefCell<Vec<(SessionEvent, bool)>>,
}

impl Platform for Tab {
    type Answer = Reply;
    type Init = ();

    async fn send(&self, out: &Outgoing, _: Option<&()>) -> Result<Reply, SdkError> {
        let server = &self.server;
        Ticks(server.latency.get()).await;
        if server.offline.get() {
            return Err(SdkError::network("fetch failed: connection refused"));
        }
        let path = out.url.strip_prefix(BASE).unwrap_or(&out.url).to_string();
        let seen = Seen {
            method: out.method.clone(),
            path,
            headers: out
                .headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.clone()))
                .collect(),
            body: out.body.clone(),
            credentials: out.credentials,
        };
        server.log.borrow_mut().push(seen.clone());
        let (status, body) = server.handle(&seen);
        let mut headers = vec![(
            "Date".to_string(),
            time::imf_fixdate(server.now_ms.get() / 1000),
        )];
        if let Ok(e) = serde_json::from_str::<Value>(&body) {
            if let Some(reason) = e["error"]["reason"].as_str() {
                headers.push((
                    "WWW-Authenticate".into(),
                    format!(r#"Bearer realm="edgeauth", error="invalid_token", error_description="{reason}""#),
                ));
            }
        }
        Ok(Reply {
            status,
            headers,
            body,
        })
    }

    fn now_ms(&self) -> i64 {
        self.server.now_ms.get() + self.clock_error_ms
    }

    async fn sleep(&self, ms: u64, _: Option<&()>) -> Result<(), SdkError> {
        self.server.slept_ms.set(self.server.slept_ms.get() + ms);
        self.server.advance(i64::try_from(ms).unwrap());
        Ticks(1).await;
        Ok(())
    }

    fn request_target(&self, url: &str) -> String {
        url.strip_prefix(BASE).unwrap_or(url).to_string()
    }

    fn announce(&self, session: Option<&Session>, event: SessionEvent) {
        self.events.borrow_mut().push((event, session.is_some()));
    }
}

/// A store two tabs share (localStorage, in effect), with a cross-tab lock
/// (navigator.locks) or without one (browsers that lack it).
#[derive(Clone, Default)]
struct SharedStore {
    value: Rc<RefCell<Option<String>>>,
    with_lock: bool,
    locked: Rc<Cell<bool>>,
    /// Cookie mode's hint (`None`: never said).
    hint: Rc<Cell<Option<bool>>>,
}

struct Held(Option<Rc<Cell<bool>>>);

impl Drop for Held {
    fn drop(&mut self) {
        if let Some(locked) = &self.0 {
            locked.set(false);
        }
    }
}

impl SessionStore for SharedStore {
    type Lock = Held;
    async fn load(&self) -> Option<String> {
        self.value.borrow().clone()
    }
    async fn save(&self, value: Option<&str>) {
        *self.value.borrow_mut() = value.map(str::to_string);
    }
    async fn cookie_hint(&self) -> bool {
        self.hint.get().unwrap_or(true)
    }
    async fn set_cookie_hint(&self, held: bool) {
        self.hint.set(Some(held));
    }
    async fn lock(&self) -> Held {
        if !self.with_lock {
            return Held(None);
        }
        while self.locked.get() {
            Ticks(1).await;
        }
        self.locked.set(true);
        Held(Some(Rc::clone(&self.locked)))
    }
}

fn tab(server: &Rc<FakeServer>, clock_error_ms: i64) -> Tab {
    Tab {
        server: Rc::clone(server),
        clock_error_ms,
        events: RefCell::new(Vec::new()),
    }
}

fn options() -> Options {
    Options {
        base_url: BASE.to_string(),
        api_key: None,
        sign_by_default: false,
        cookie_session: false,
    }
}

fn cookie_options() -> Options {
    Options {
        cookie_session: true,
        ..options()
    }
}

fn client(server: &Rc<FakeServer>) -> Client<Tab, MemoryStore> {
    Client::new(tab(server, 0), MemoryStore::default(), options()).unwrap()
}

fn block_on<F: Future>(f: F) -> F::Output {
    let mut out = run_all(vec![Box::pin(f) as Pin<Box<dyn Future<Output = F::Output>>>]);
    out.pop().expect("one result")
}

type Fetched<'a> = Pin<Box<dyn Future<Output = Result<Reply, SdkError>> + 'a>>;

const LOGIN: &str = r#"{"email":"a@example.com","password":"correct horse"}"#;

fn get(input: &str) -> FetchRequest {
    FetchRequest {
        input: input.to_string(),
        method: "GET".to_string(),
        body: Body::Empty,
        sign: None,
    }
}

fn post(input: &str, body: &str, sign: Option<bool>) -> FetchRequest {
    FetchRequest {
        input: input.to_string(),
        method: "POST".to_string(),
        body: Body::Text(body.to_string()),
        sign,
    }
}

fn bearer_of(seen: &Seen) -> String {
    seen.header("authorization").unwrap_or("").to_string()
}

#[test]
fn login_stores_the_session_and_requests_carry_it() {
    let server = FakeServer::new();
    let c = client(&server);
    let answer: Value = serde_json::from_str(&block_on(c.login(LOGIN.into())).unwrap()).unwrap();
    assert!(answer["refresh_token"]
        .as_str()
        .unwrap()
        .starts_with("ea_rt_"));
    assert_eq!(
        *c.platform().events.borrow(),
        vec![(SessionEvent::SignedIn, true)]
    );

    let who: Value = serde_json::from_str(&block_on(c.whoami()).unwrap()).unwrap();
    assert_eq!(who["kind"], "user");
    let seen = server.last("/v1/auth/whoami");
    assert_eq!(
        bearer_of(&seen),
        format!("Bearer {}", answer["token"].as_str().unwrap())
    );

    let res = block_on(c.fetch(get("/api/scans/dashboard?x=1"), None)).unwrap();
    assert_eq!(res.status, 200);
    assert_eq!(server.count("POST", "/v1/auth/refresh"), 0);
    assert!(server
        .last("/api/scans/dashboard?x=1")
        .header("x-cli-signature")
        .is_none());
}

#[test]
fn wrong_password_is_an_error_with_the_contract_words() {
    let server = FakeServer::new();
    let c = client(&server);
    let e = block_on(c.login(r#"{"email":"a@example.com","password":"nope"}"#.into())).unwrap_err();
    assert_eq!(
        (e.status, e.code.as_str(), e.reason.as_str()),
        (401, "UNAUTHORIZED", "invalid_login")
    );
    assert!(block_on(c.session()).is_none());
    assert!(c.platform().events.borrow().is_empty());
}

#[test]
fn twenty_concurrent_fetches_near_expiry_share_one_refresh() {
    let server = FakeServer::new();
    let c = client(&server);
    block_on(c.login(LOGIN.into())).unwrap();
    let old = block_on(c.session()).unwrap();
    // 4 minutes left: under the 5-minute margin.
    server.advance(56 * 60 * 1000);
    let calls = (0..20)
        .map(|i| Box::pin(c.fetch(get(&format!("/api/me?i={i}")), None)) as Fetched<'_>)
        .collect();
    let results = run_all(calls);
    assert!(results
        .iter()
        .all(|r| r.as_ref().is_ok_and(|a| a.status == 200)));
    assert_eq!(server.count("POST", "/v1/auth/refresh"), 1);
    let fresh = block_on(c.session()).unwrap();
    assert_ne!(fresh, old);
    let new_bearer = format!(
        "Bearer {}",
        serde_json::from_str::<Value>(&fresh).unwrap()["token"]
            .as_str()
            .unwrap()
    );
    for i in 0..20 {
        assert_eq!(
            bearer_of(&server.last(&format!("/api/me?i={i}"))),
            new_bearer
        );
    }
    assert_eq!(
        *c.platform().events.borrow(),
        vec![
            (SessionEvent::SignedIn, true),
            (SessionEvent::Refreshed, true)
        ]
    );
}

#[test]
fn short_lived_tokens_still_refresh_once_for_a_burst() {
    // With an access TTL under 5 minutes every token is "near expiry" at once.
    let server = FakeServer::new();
    server.access_ttl_s.set(60);
    let c = client(&server);
    block_on(c.login(LOGIN.into())).unwrap();
    let calls = (0..20)
        .map(|_| Box::pin(c.fetch(get("/api/me"), None)) as Fetched<'_>)
        .collect();
    for r in run_all(calls) {
        assert_eq!(r.unwrap().status, 200);
    }
    assert_eq!(server.count("POST", "/v1/auth/refresh"), 1);
}

#[test]
fn refresh_decisions_use_the_servers_clock() {
    let server = FakeServer::new();
    // The local clock is 2 hours slow: by its own reckoning the token never nears expiry.
    let c = Client::new(
        tab(&server, -2 * 3600 * 1000),
        MemoryStore::default(),
        options(),
    )
    .unwrap();
    block_on(c.login(LOGIN.into())).unwrap();
    server.advance(56 * 60 * 1000);
    let res = block_on(c.fetch(get("/api/me"), None)).unwrap();
    assert_eq!(res.status, 200);
    assert_eq!(server.count("POST", "/v1/auth/refresh"), 1);
    assert_eq!(
        server.count("GET", "/api/me"),
        1,
        "refreshed before, not after a 401"
    );
}

#[test]
fn expired_answer_triggers_refresh_even_when_the_clock_looked_fine() {
    let server = FakeServer::new();
    let c = client(&server);
    block_on(c.login(LOGIN.into())).unwrap();
    // The worker's view: every token issued so far has expired (e.g. a key rotation
    // shortened them). The client's clock still says 60 minutes remain.
    for exp in server.access.borrow_mut().values_mut() {
        *exp = 0;
    }
    let res = block_on(c.fetch(get("/api/me"), None)).unwrap();
    assert_eq!(res.status, 200);
    assert_eq!(server.count("POST", "/v1/auth/refresh"), 1);
    assert_eq!(server.count("GET", "/api/me"), 2);
}

#[test]
fn session_revoked_signs_out_but_a_network_failure_does_not() {
    let server = FakeServer::new();
    let c = client(&server);
    block_on(c.login(LOGIN.into())).unwrap();

    server.offline.set(true);
    let e = block_on(c.whoami()).unwrap_err();
    assert_eq!((e.status, e.code.as_str()), (0, "NETWORK"));
    assert!(block_on(c.session()).is_some(), "still signed in");
    server.offline.set(false);

    server.revoked.set(true);
    let e = block_on(c.whoami()).unwrap_err();
    assert_eq!(e.reason(), Some(Reason::SessionRevoked));
    assert!(block_on(c.session()).is_none(), "signed out");
    assert_eq!(
        c.platform().events.borrow().last(),
        Some(&(SessionEvent::SignedOut, false))
    );
    // Signed out: requests go without a bearer.
    let e = block_on(c.whoami()).unwrap_err();
    assert_eq!(e.reason(), Some(Reason::MissingCredential));
}

#[test]
fn offline_near_expiry_keeps_using_the_token_that_still_works() {
    let server = FakeServer::new();
    let c = client(&server);
    block_on(c.login(LOGIN.into())).unwrap();
    server.advance(58 * 60 * 1000);
    server.offline.set(true);
    let e = block_on(c.fetch(get("/api/me"), None)).unwrap_err();
    assert!(e.is_network());
    server.offline.set(false);
    // The refresh failed, so the next call tries again; the old token is still valid.
    assert_eq!(block_on(c.fetch(get("/api/me"), None)).unwrap().status, 200);
    assert!(block_on(c.session()).is_some());

    // Once it has expired, offline is an error but still not a sign-out.
    server.advance(10 * 60 * 1000);
    server.offline.set(true);
    assert!(block_on(c.whoami()).unwrap_err().is_network());
    assert!(block_on(c.session()).is_some());
}

#[test]
fn a_refused_refresh_signs_out() {
    let server = FakeServer::new();
    let c = client(&server);
    block_on(c.login(LOGIN.into())).unwrap();
    // Someone else spent our refresh token (it was stolen).
    let rt = server.live_refresh.borrow().clone().unwrap();
    server
        .spent_refresh
        .borrow_mut()
        .insert(rt, (server.now_ms.get(), String::new()));
    server.advance(59 * 60 * 1000);
    let e = block_on(c.fetch(get("/api/me"), None)).unwrap_err();
    assert_eq!(e.reason(), Some(Reason::RefreshTokenReused));
    assert!(block_on(c.session()).is_none());
    let e = block_on(c.refresh()).unwrap_err();
    assert_eq!(e.reason(), Some(Reason::MissingCredential));
}

#[test]
fn two_tabs_with_a_lock_refresh_once() {
    two_tabs_never_present_a_spent_refresh_token(true);
}

#[test]
fn two_tabs_without_a_lock_stay_within_the_grace_window() {
    two_tabs_never_present_a_spent_refresh_token(false);
}

fn two_tabs_never_present_a_spent_refresh_token(with_lock: bool) {
    let server = FakeServer::new();
    let store = SharedStore {
        with_lock,
        ..SharedStore::default()
    };
    let a = Client::new(tab(&server, 0), store.clone(), options()).unwrap();
    let b = Client::new(tab(&server, 0), store.clone(), options()).unwrap();
    block_on(a.login(LOGIN.into())).unwrap();
    assert!(block_on(b.session()).is_some(), "b sees a's login");
    assert_eq!(
        *b.platform().events.borrow(),
        vec![(SessionEvent::SignedIn, true)]
    );

    server.advance(57 * 60 * 1000);
    // Both tabs fetch at once near expiry; then each again.
    let calls: Vec<Fetched<'_>> = vec![
        Box::pin(a.fetch(get("/api/a"), None)),
        Box::pin(b.fetch(get("/api/b"), None)),
    ];
    for r in run_all(calls) {
        assert_eq!(r.unwrap().status, 200);
    }
    assert_eq!(block_on(a.fetch(get("/api/a2"), None)).unwrap().status, 200);
    assert_eq!(block_on(b.fetch(get("/api/b2"), None)).unwrap().status, 200);
    assert!(!server.revoked.get(), "no reuse was detected");
    // Without a lock both tabs may present the token at the same moment, which
    // the grace window absorbs; with one, the second tab finds it rotated.
    assert_eq!(
        server.count("POST", "/v1/auth/refresh"),
        if with_lock { 1 } else { 2 }
    );

    // B refreshes explicitly; A, holding nothing stale, follows.
    block_on(b.refresh()).unwrap();
    block_on(a.sync());
    assert_eq!(
        a.platform().events.borrow().last(),
        Some(&(SessionEvent::Refreshed, true))
    );
    assert_eq!(block_on(a.fetch(get("/api/a3"), None)).unwrap().status, 200);

    // A logs out: B hears of it on its next look at the store.
    block_on(a.logout()).unwrap();
    block_on(b.sync());
    assert_eq!(
        b.platform().events.borrow().last(),
        Some(&(SessionEvent::SignedOut, false))
    );
}

#[test]
fn a_stale_tab_adopts_the_session_another_tab_refreshed() {
    let server = FakeServer::new();
    let store = SharedStore::default();
    let a = Client::new(tab(&server, 0), store.clone(), options()).unwrap();
    let b = Client::new(tab(&server, 0), store.clone(), options()).unwrap();
    block_on(a.login(LOGIN.into())).unwrap();
    server.advance(57 * 60 * 1000);
    block_on(a.refresh()).unwrap();
    // Much later than any grace window, B calls refresh itself.
    server.advance(60 * 1000);
    block_on(b.refresh()).unwrap();
    assert!(!server.revoked.get());
    assert_eq!(server.spent_refresh.borrow().len(), 2);
}

#[test]
fn signing_uses_the_servers_clock_and_retries_a_stale_timestamp_once() {
    let server = FakeServer::new();
    // A laptop whose clock is ten minutes fast.
    let c = Client::new(
        tab(&server, 10 * 60 * 1000),
        MemoryStore::default(),
        options(),
    )
    .unwrap();
    block_on(c.login(LOGIN.into())).unwrap();
    let offset = c.clock_offset_ms();
    assert!((-600_000..=-599_000).contains(&offset), "{offset}");

    let res = block_on(c.fetch(post("/api/signed/x?y=1", r#"{"a":1}"#, Some(true)), None)).unwrap();
    assert_eq!(res.status, 200, "{}", res.body);
    let seen = server.last("/api/signed/x?y=1");
    let ts: i64 = seen.header("x-cli-timestamp").unwrap().parse().unwrap();
    assert!((ts - server.now_ms.get()).abs() < 2_000);
    assert_eq!(server.count("POST", "/api/signed/x?y=1"), 1);
}

#[test]
fn the_first_signed_request_of_a_wrong_clock_is_retried_with_the_corrected_time() {
    let server = FakeServer::new();
    // An API key: no login answer has taught the clock yet.
    let mut opts = options();
    opts.api_key = Some(Secret::new(
        "ea_live_0123456789abcdefghijABCDEFGHIJ0123456789".into(),
    ));
    let c = Client::new(tab(&server, 10 * 60 * 1000), MemoryStore::default(), opts).unwrap();
    let res = block_on(c.fetch(post("/api/signed/x", "{}", Some(true)), None)).unwrap();
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(server.count("POST", "/api/signed/x"), 2);
    let log = server.log.borrow();
    assert_ne!(
        log[0].header("x-cli-nonce"),
        log[1].header("x-cli-nonce"),
        "a fresh nonce"
    );
}

#[test]
fn a_route_that_requires_a_signature_gets_one_on_retry() {
    let server = FakeServer::new();
    let c = client(&server);
    block_on(c.login(LOGIN.into())).unwrap();
    let res = block_on(c.fetch(post("/api/signed/y", "hello", None), None)).unwrap();
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(server.count("POST", "/api/signed/y"), 2);
    // A body that cannot be signed is answered as it is.
    let mut req = post("/api/signed/z", "", None);
    req.body = Body::Opaque { replayable: true };
    assert_eq!(block_on(c.fetch(req, None)).unwrap().status, 401);
    // And asking to sign it is the caller's mistake.
    let mut req = post("/api/signed/z", "", Some(true));
    req.body = Body::Opaque { replayable: true };
    assert_eq!(
        block_on(c.fetch(req, None)).unwrap_err().reason,
        "invalid_field"
    );
}

#[test]
fn logout_tells_the_worker_and_forgets_the_session() {
    let server = FakeServer::new();
    let c = client(&server);
    block_on(c.login(LOGIN.into())).unwrap();
    let session: Value = serde_json::from_str(&block_on(c.session()).unwrap()).unwrap();
    block_on(c.logout()).unwrap();
    let seen = server.last("/v1/auth/logout");
    assert_eq!(
        bearer_of(&seen),
        format!("Bearer {}", session["token"].as_str().unwrap())
    );
    assert_eq!(
        seen.body,
        Body::Text(json!({"refresh_token": session["refresh_token"]}).to_string())
    );
    assert!(block_on(c.session()).is_none());
    assert_eq!(
        c.platform().events.borrow().last(),
        Some(&(SessionEvent::SignedOut, false))
    );
    // Logging out twice is fine, and logging out a revoked session too.
    block_on(c.logout()).unwrap();
    block_on(c.login(LOGIN.into())).unwrap();
    server.revoked.set(true);
    block_on(c.logout()).unwrap();
    assert!(block_on(c.session()).is_none());
}

#[test]
fn api_keys_go_through_the_session() {
    let server = FakeServer::new();
    let c = client(&server);
    block_on(c.login(LOGIN.into())).unwrap();
    let created: Value = serde_json::from_str(
        &block_on(c.create_api_key(r#"{"name":"CI","scopes":["scans:read"]}"#.into())).unwrap(),
    )
    .unwrap();
    assert_eq!(created["id"], "k1");
    assert_eq!(
        server.last("/v1/api-keys").header("content-type"),
        Some("application/json")
    );
    let listed: Value = serde_json::from_str(&block_on(c.list_api_keys()).unwrap()).unwrap();
    assert_eq!(listed["keys"], json!([]));
    block_on(c.revoke_api_key("k1/../x")).unwrap();
    assert_eq!(server.count("DELETE", "/v1/api-keys/k1%2F..%2Fx"), 1);
}

fn json_body(seen: &Seen) -> Value {
    match &seen.body {
        Body::Text(t) => serde_json::from_str(t).unwrap(),
        other => panic!("not a text body: {other:?}"),
    }
}

#[test]
fn members_go_through_the_session_with_the_tenant_encoded() {
    let server = FakeServer::new();
    let c = client(&server);
    block_on(c.login(LOGIN.into())).unwrap();
    let listed: Value = serde_json::from_str(&block_on(c.list_members("ac/me")).unwrap()).unwrap();
    assert_eq!(listed["members"][0]["role"], "admin");
    let seen = server.last("/v1/tenants/ac%2Fme/members");
    assert_eq!(seen.method, "GET");
    assert!(bearer_of(&seen).starts_with("Bearer "));

    let set: Value = serde_json::from_str(
        &block_on(c.set_member_role("ac/me", "b@example.com", Some("editor"))).unwrap(),
    )
    .unwrap();
    assert_eq!(
        set,
        json!({"tenant": "ac/me", "email": "b@example.com", "role": "editor"})
    );
    let seen = server.last("/v1/tenants/ac%2Fme/members");
    assert_eq!(seen.method, "PUT");
    assert_eq!(seen.header("content-type"), Some("application/json"));
    assert_eq!(
        json_body(&seen),
        json!({"email": "b@example.com", "role": "editor"})
    );

    // Removing is `role: null`, sent as such (not left out).
    block_on(c.set_member_role("ac/me", "b@example.com", None)).unwrap();
    let body = json_body(&server.last("/v1/tenants/ac%2Fme/members"));
    assert_eq!(body, json!({"email": "b@example.com", "role": null}));
    assert_eq!(server.count("PUT", "/v1/tenants/ac%2Fme/members"), 2);
}

#[test]
fn member_refusals_keep_the_contracts_reason_and_the_session() {
    let server = FakeServer::new();
    let c = client(&server);
    block_on(c.login(LOGIN.into())).unwrap();
    let e = block_on(c.list_members("other")).unwrap_err();
    assert_eq!(
        (e.status, e.code.as_str(), e.reason.as_str()),
        (403, "FORBIDDEN", "tenant_denied")
    );
    let e = block_on(c.set_member_role("solo", "a@example.com", Some("viewer"))).unwrap_err();
    assert_eq!(
        (e.status, e.code.as_str(), e.reason.as_str()),
        (409, "CONFLICT", "last_admin")
    );
    assert!(
        block_on(c.session()).is_some(),
        "a refusal in a tenant is no sign-out"
    );

    // An empty tenant id names no tenant: refused here, nothing sent.
    let sent = server.log.borrow().len();
    let e = block_on(c.list_members("")).unwrap_err();
    assert_eq!(e.reason, "invalid_field");
    assert!(e.message.starts_with("tenant:"), "{}", e.message);
    assert_eq!(server.log.borrow().len(), sent);
}

#[test]
fn an_api_key_client_never_refreshes() {
    let server = FakeServer::new();
    let mut opts = options();
    let key = "ea_live_0123456789abcdefghijABCDEFGHIJ0123456789";
    opts.api_key = Some(Secret::new(key.into()));
    let c = Client::new(tab(&server, 0), MemoryStore::default(), opts).unwrap();
    assert_eq!(block_on(c.fetch(get("/api/me"), None)).unwrap().status, 200);
    assert_eq!(bearer_of(&server.last("/api/me")), format!("Bearer {key}"));
    assert_eq!(block_on(c.access_token()).unwrap().as_deref(), Some(key));
}

#[test]
fn fetch_refuses_to_send_the_credential_elsewhere() {
    let server = FakeServer::new();
    let c = client(&server);
    block_on(c.login(LOGIN.into())).unwrap();
    let e = block_on(c.fetch(get("https://evil.example/api/me"), None)).unwrap_err();
    assert_eq!(e.reason, "invalid_field");
    assert_eq!(server.log.borrow().len(), 1, "nothing was sent");
    assert_eq!(
        block_on(c.fetch(get(&format!("{BASE}/api/me")), None))
            .unwrap()
            .status,
        200
    );
}

#[test]
fn client_bound_signing_uses_the_session_token() {
    let server = FakeServer::new();
    let c = Client::new(
        tab(&server, 10 * 60 * 1000),
        MemoryStore::default(),
        options(),
    )
    .unwrap();
    assert_eq!(
        block_on(c.sign("POST", "/x", b"")).unwrap_err().reason,
        "missing_credential"
    );
    block_on(c.login(LOGIN.into())).unwrap();
    let headers = block_on(c.sign("POST", "/api/signed/q", b"{}")).unwrap();
    let ts: i64 = headers[1].1.parse().unwrap();
    assert!(
        (ts - server.now_ms.get()).abs() < 2_000,
        "signed with the server's time"
    );
}

// ---- cookie mode (SPEC "Browser sessions in a cookie") ----------------------------------

#[test]
fn cookie_mode_keeps_no_refresh_token_and_refreshes_by_the_cookie() {
    let server = FakeServer::new();
    let store = SharedStore::default();
    let c = Client::new(tab(&server, 0), store.clone(), cookie_options()).unwrap();
    let answer: Value = serde_json::from_str(&block_on(c.login(LOGIN.into())).unwrap()).unwrap();
    let login = server.last("/v1/auth/token");
    assert_eq!(login.header("x-edgeauth-session"), Some("cookie"));
    assert!(login.credentials, "the browser may keep the cookie");
    assert!(answer.get("refresh_token").is_none());
    let cookie = server
        .cookie
        .borrow()
        .clone()
        .expect("the jar holds the refresh token");
    let kept = store.value.borrow().clone().unwrap();
    assert!(
        !kept.contains("refresh_token") && !kept.contains(&cookie),
        "{kept}"
    );

    // Near expiry: the refresh sends no body, only the header, and the jar's cookie rotates.
    server.advance(56 * 60 * 1000);
    assert_eq!(block_on(c.fetch(get("/api/me"), None)).unwrap().status, 200);
    let refresh = server.last("/v1/auth/refresh");
    assert_eq!(refresh.body, Body::Empty);
    assert_eq!(refresh.header("x-edgeauth-session"), Some("cookie"));
    assert!(refresh.credentials);
    assert_ne!(
        server.cookie.borrow().as_deref(),
        Some(cookie.as_str()),
        "rotated"
    );
    // Calls to the API itself carry the bearer, and no cookie mode.
    assert!(!server.last("/api/me").credentials);
    assert_eq!(server.last("/api/me").header("x-edgeauth-session"), None);
    assert!(!store
        .value
        .borrow()
        .clone()
        .unwrap()
        .contains("refresh_token"));
}

#[test]
fn a_new_page_resumes_from_the_cookie_once() {
    let server = FakeServer::new();
    let first = Client::new(tab(&server, 0), MemoryStore::default(), cookie_options()).unwrap();
    block_on(first.login(LOGIN.into())).unwrap();

    // A reload: a client with nothing in memory, the same browser (the same jar).
    let page = Client::new(tab(&server, 0), MemoryStore::default(), cookie_options()).unwrap();
    let session: Value = serde_json::from_str(&block_on(page.session()).unwrap()).unwrap();
    assert_eq!(session["user"]["id"], "u1");
    assert_eq!(server.count("POST", "/v1/auth/refresh"), 1);
    assert_eq!(
        *page.platform().events.borrow(),
        vec![(SessionEvent::SignedIn, true)]
    );
    assert_eq!(block_on(page.whoami()).map(|_| ()), Ok(()));

    // Signed out everywhere: a new page finds nothing, and asks only once.
    block_on(page.logout()).unwrap();
    let logout = server.last("/v1/auth/logout");
    assert_eq!(
        logout.body,
        Body::Empty,
        "no refresh token to send: the cookie is it"
    );
    assert_eq!(logout.header("x-edgeauth-session"), Some("cookie"));
    assert!(server.cookie.borrow().is_none());
    let later = Client::new(tab(&server, 0), MemoryStore::default(), cookie_options()).unwrap();
    assert!(block_on(later.session()).is_none());
    assert!(block_on(later.session()).is_none());
    assert_eq!(
        server.count("POST", "/v1/auth/refresh"),
        2,
        "one try, then it knows"
    );
    assert!(later.platform().events.borrow().is_empty());
    let e = block_on(later.whoami()).unwrap_err();
    assert_eq!(e.reason, "missing_credential");
}

#[test]
fn cookie_tabs_share_one_refresh_and_never_sign_each_other_out() {
    // Two tabs: one browser's cookie jar, and the access token shared between them
    // (a BroadcastChannel in browsers) under one Web Lock.
    let server = FakeServer::new();
    server.access_ttl_s.set(20);
    let shared = SharedStore {
        with_lock: true,
        ..SharedStore::default()
    };
    let a = Client::new(tab(&server, 0), shared.clone(), cookie_options()).unwrap();
    let b = Client::new(tab(&server, 0), shared.clone(), cookie_options()).unwrap();
    block_on(a.login(LOGIN.into())).unwrap();
    for round in 0..6 {
        server.advance(10_000);
        let calls: Vec<Fetched<'_>> = vec![
            Box::pin(a.fetch(get(&format!("/api/a{round}")), None)),
            Box::pin(b.fetch(get(&format!("/api/b{round}")), None)),
        ];
        for r in run_all(calls) {
            assert_eq!(r.unwrap().status, 200, "round {round}");
        }
        assert_eq!(
            server.count("POST", "/v1/auth/refresh"),
            round + 1,
            "one refresh per round"
        );
    }
    assert!(!server.revoked.get(), "no refresh was taken for theft");
    assert!(!b
        .platform()
        .events
        .borrow()
        .iter()
        .any(|(e, _)| *e == SessionEvent::SignedOut));
}

#[test]
fn cookie_mode_refusals_sign_out_like_body_mode() {
    let server = FakeServer::new();
    let c = Client::new(tab(&server, 0), MemoryStore::default(), cookie_options()).unwrap();
    block_on(c.login(LOGIN.into())).unwrap();
    // The cookie was cleared elsewhere (another app's logout): the refresh is refused.
    *server.cookie.borrow_mut() = None;
    server.advance(56 * 60 * 1000);
    let e = block_on(c.refresh()).unwrap_err();
    assert_eq!(
        (e.status, e.reason.as_str()),
        (401, "refresh_token_invalid")
    );
    assert!(e.sign_in_again);
    assert!(block_on(c.session()).is_none());
    assert_eq!(
        c.platform().events.borrow().last(),
        Some(&(SessionEvent::SignedOut, false))
    );
}

// ---- device login (SPEC "Device login") --------------------------------------------------

#[test]
fn device_login_polls_by_the_rules_and_signs_in() {
    let server = FakeServer::new();
    let c = client(&server);
    let code = block_on(c.start_device_login(Some("a CLI"))).unwrap();
    let started: Value = serde_json::from_str(&code).unwrap();
    assert_eq!(started["user_code"], "BCDF-GHJK");
    assert_eq!(
        json_body(&server.last("/v1/auth/device/code")),
        json!({"client_name": "a CLI"})
    );
    *server.device_polls.borrow_mut() = vec![
        Reason::AuthorizationPending,
        Reason::SlowDown,
        Reason::AuthorizationPending,
    ];
    let session: Value =
        serde_json::from_str(&block_on(c.poll_device_login(&code, None)).unwrap()).unwrap();
    assert!(session["token"].is_string());
    // 5 s before the first poll, 5 s again, then 10 s twice after the slow_down.
    assert_eq!(server.slept_ms.get(), 30_000);
    assert_eq!(server.count("POST", "/v1/auth/device/token"), 4);
    assert_eq!(
        json_body(&server.last("/v1/auth/device/token")),
        json!({"device_code": "ea_dc_x"})
    );
    assert_eq!(
        *c.platform().events.borrow(),
        vec![(SessionEvent::SignedIn, true)]
    );
    assert_eq!(block_on(c.whoami()).map(|_| ()), Ok(()));
}

#[test]
fn a_denied_or_expired_device_login_is_the_workers_answer() {
    let server = FakeServer::new();
    let c = client(&server);
    let code = block_on(c.start_device_login(None)).unwrap();
    assert_eq!(json_body(&server.last("/v1/auth/device/code")), json!({}));
    *server.device_polls.borrow_mut() = vec![Reason::AuthorizationPending, Reason::AccessDenied];
    let e = block_on(c.poll_device_login(&code, None)).unwrap_err();
    assert_eq!((e.status, e.reason.as_str()), (400, "access_denied"));
    assert!(!e.sign_in_again);
    *server.device_polls.borrow_mut() = vec![Reason::ExpiredToken];
    let e = block_on(c.poll_device_login(&code, None)).unwrap_err();
    assert_eq!(e.reason, "expired_token");
    // A code that runs out while the worker still says "pending" stops by itself.
    let short = code.replace("\"expires_in\":600", "\"expires_in\":12");
    *server.device_polls.borrow_mut() = vec![Reason::AuthorizationPending; 10];
    let e = block_on(c.poll_device_login(&short, None)).unwrap_err();
    assert_eq!((e.status, e.reason.as_str()), (400, "expired_token"));
    assert!(block_on(c.session()).is_none());
    let e = block_on(c.poll_device_login("{}", None)).unwrap_err();
    assert_eq!(e.reason, "invalid_field");
}

#[test]
fn the_console_looks_up_and_approves_with_the_session() {
    let server = FakeServer::new();
    let c = client(&server);
    block_on(c.login(LOGIN.into())).unwrap();
    let found: Value =
        serde_json::from_str(&block_on(c.lookup_device_code("BCDF-GHJK")).unwrap()).unwrap();
    assert_eq!(found["client_name"], "a CLI");
    let seen = server.last("/v1/auth/device/lookup?user_code=BCDF-GHJK");
    assert!(bearer_of(&seen).starts_with("Bearer "));
    let e = block_on(c.lookup_device_code("no such&code")).unwrap_err();
    assert_eq!(e.reason, "not_found");
    assert!(server
        .log
        .borrow()
        .iter()
        .any(|s| s.path == "/v1/auth/device/lookup?user_code=no%20such%26code"));
    block_on(c.approve_device("BCDF-GHJK", false)).unwrap();
    assert_eq!(
        json_body(&server.last("/v1/auth/device/approve")),
        json!({"user_code": "BCDF-GHJK", "approve": false})
    );
}

#[test]
fn a_signed_out_browser_spares_new_pages_the_refresh() {
    let server = FakeServer::new();
    let store = SharedStore::default();
    let first = Client::new(tab(&server, 0), store.clone(), cookie_options()).unwrap();
    block_on(first.login(LOGIN.into())).unwrap();
    assert_eq!(store.hint.get(), Some(true));
    block_on(first.logout()).unwrap();
    assert_eq!(store.hint.get(), Some(false));
    let page = Client::new(
        tab(&server, 0),
        SharedStore {
            value: Rc::default(),
            ..store.clone()
        },
        cookie_options(),
    )
    .unwrap();
    assert!(block_on(page.session()).is_none());
    assert_eq!(
        server.count("POST", "/v1/auth/refresh"),
        0,
        "nothing to resume: nothing asked"
    );
    // A cookie that is gone although the hint says otherwise: one refusal, then the hint is right.
    store.hint.set(Some(true));
    let other = Client::new(
        tab(&server, 0),
        SharedStore {
            value: Rc::default(),
            ..store.clone()
        },
        cookie_options(),
    )
    .unwrap();
    assert!(block_on(other.session()).is_none());
    assert_eq!(store.hint.get(), Some(false));
}
