//! `Client`: the session state machine behind `EdgeAuthClient` (log in, refresh, sign, sign out).
//!
//! Rules, all from SPEC "SDK (npm)":
//! - the store is read before every decision, so tabs sharing it see each other's work;
//! - a session is refreshed when less than 5 minutes remain, at the server's time;
//! - concurrent callers share one refresh, and a refresh first looks whether
//!   someone else (another call, another tab) already rotated the token;
//! - `token_expired` refreshes and retries, `session_revoked` signs out
//!   (decided on `reason`, never on messages); a network failure signs nobody out;
//! - the server's clock comes from `Date` headers; `timestamp_out_of_window`
//!   is retried once with the corrected time;
//! - in cookie mode the refresh token is the browser's HttpOnly cookie: the store
//!   holds the access token only, and a client without one resumes from the cookie.
//!
//! What counts as "due", which answers end the session and which 401s are retried
//! are the client core's rules (`edgeauth_core::client`), shared with the CLI.

use std::cell::{Cell, RefCell};

use edgeauth_core::browser_session::SESSION_HEADER;
use edgeauth_core::client::device::{DeviceCode, Poll, Poller, Step};
use edgeauth_core::client::paths::path_segment;
use edgeauth_core::client::refusal::reason_from_www_authenticate;
use edgeauth_core::client::{ends_session, Attempt, Exchange, Retries, Retry};
use edgeauth_core::secret::Secret;
use edgeauth_core::{signing, Reason};
use serde_json::json;

use crate::base_url::BaseUrl;
use crate::clock::ServerClock;
use crate::error::SdkError;
use crate::flight::SingleFlight;
use crate::platform::{Answer, Body, Outgoing, Platform, SessionEvent, SessionStore};
use crate::session::Session;

/// How the client is set up.
pub struct Options {
    pub base_url: String,
    /// Use this API key as the bearer instead of a session (a server or CI program).
    pub api_key: Option<Secret>,
    /// Sign every `fetch` unless the call says otherwise.
    pub sign_by_default: bool,
    /// Cookie mode (SPEC "Browser sessions in a cookie"): the refresh token lives in
    /// the worker's HttpOnly cookie, never in this client or its store.
    pub cookie_session: bool,
}

/// A request made through `client.fetch`.
pub struct FetchRequest {
    /// A path under the base URL (`/api/me`), or an absolute URL under it.
    pub input: String,
    pub method: String,
    pub body: Body,
    /// `Some(true)`/`Some(false)` overrides the client's default.
    pub sign: Option<bool>,
}

enum Bearer {
    ApiKey(Secret),
    Session(Session),
}

impl Bearer {
    fn credential(&self) -> &str {
        match self {
            Bearer::ApiKey(k) => k.expose(),
            Bearer::Session(s) => s.token.expose(),
        }
    }
}

struct Call {
    method: String,
    url: String,
    headers: Vec<(&'static str, String)>,
    body: Body,
    sign: bool,
    /// Send and keep cookies, across origins too (the refresh cookie).
    credentials: bool,
}

impl Call {
    fn json(method: &str, url: String, body: Option<String>) -> Call {
        let (headers, body) = match body {
            Some(text) => (
                vec![("content-type", "application/json".to_string())],
                Body::Text(text),
            ),
            None => (Vec::new(), Body::Empty),
        };
        Call {
            method: method.to_string(),
            url,
            headers,
            body,
            sign: false,
            credentials: false,
        }
    }
}

/// The client. `P` reaches the network and the clock, `S` keeps the session.
pub struct Client<P: Platform, S: SessionStore> {
    platform: P,
    store: S,
    base: BaseUrl,
    api_key: Option<Secret>,
    sign_by_default: bool,
    cookie_session: bool,
    /// Cookie mode: whether this client has learned what the cookie holds (a
    /// refresh answered, or said there is nothing), so it resumes at most once.
    resumed: Cell<bool>,
    clock: ServerClock,
    refresh_flight: SingleFlight<Result<Session, SdkError>>,
    /// The access token (and user id) listeners last heard of; `None`: signed out.
    announced: RefCell<Option<(Secret, String)>>,
}

impl<P: Platform, S: SessionStore> Client<P, S> {
    pub fn new(platform: P, store: S, options: Options) -> Result<Self, SdkError> {
        Ok(Client {
            platform,
            store,
            base: BaseUrl::parse(&options.base_url)?,
            api_key: options.api_key,
            sign_by_default: options.sign_by_default,
            cookie_session: options.cookie_session,
            resumed: Cell::new(false),
            clock: ServerClock::default(),
            refresh_flight: SingleFlight::default(),
            announced: RefCell::new(None),
        })
    }

    pub fn platform(&self) -> &P {
        &self.platform
    }

    /// The server's time as this client knows it, Unix ms.
    pub fn server_now_ms(&self) -> i64 {
        self.clock.server_now_ms(self.platform.now_ms())
    }

    /// Server minus local clock, in ms, as learned from `Date` headers.
    pub fn clock_offset_ms(&self) -> i64 {
        self.clock.offset_ms()
    }

    // ---- the public operations -------------------------------------------------------

    /// `POST /v1/auth/register`; answers the worker's JSON (`{user}`). Does not sign in.
    pub async fn register(&self, body_json: String) -> Result<String, SdkError> {
        let call = Call::json(
            "POST",
            self.base.endpoint("/v1/auth/register"),
            Some(body_json),
        );
        self.json_answer(self.send_plain(&call).await?).await
    }

    /// `POST /v1/auth/token`; stores the session and answers the worker's JSON.
    pub async fn login(&self, body_json: String) -> Result<String, SdkError> {
        self.sign_in_text("/v1/auth/token", body_json).await
    }

    /// Rotates the session now (sharing a refresh already in flight). In cookie
    /// mode a client that holds nothing yet tries the cookie.
    pub async fn refresh(&self) -> Result<String, SdkError> {
        let session = self.load().await;
        if session.is_none() && !self.cookie_session {
            return Err(SdkError::local(
                Reason::MissingCredential,
                "not signed in: nothing to refresh",
            ));
        }
        Ok(self.refresh_from(session.as_ref()).await?.to_json())
    }

    /// `POST /v1/auth/logout`, then forgets the session whatever the answer:
    /// a 401 means it was over anyway; a network failure is still reported.
    /// In cookie mode the worker's answer also clears the cookie.
    pub async fn logout(&self) -> Result<(), SdkError> {
        if self.current().await.is_none() {
            return Ok(());
        }
        let outcome = self.logout_remotely().await;
        // This page does not resume from a cookie it has just asked to clear.
        self.resumed.set(true);
        self.forget(None).await;
        match outcome {
            Err(e) if e.status == 401 => Ok(()),
            other => other,
        }
    }

    async fn logout_remotely(&self) -> Result<(), SdkError> {
        let Some(Bearer::Session(session)) = self.bearer().await? else {
            return Ok(());
        };
        let body = session
            .refresh_token
            .as_ref()
            .map(|rt| json!({ "refresh_token": rt.expose() }).to_string());
        let mut call = self.session_call("/v1/auth/logout", body);
        call.headers.push((
            "authorization",
            format!("Bearer {}", session.token.expose()),
        ));
        self.json_answer(self.send_plain(&call).await?)
            .await
            .map(drop)
    }

    /// `GET /v1/auth/whoami`.
    pub async fn whoami(&self) -> Result<String, SdkError> {
        self.authed_json("GET", "/v1/auth/whoami", None).await
    }

    /// `POST /v1/api-keys`; the answer holds the whole key, once.
    pub async fn create_api_key(&self, body_json: String) -> Result<String, SdkError> {
        self.authed_json("POST", "/v1/api-keys", Some(body_json))
            .await
    }

    /// `GET /v1/api-keys` (`{keys: [...]}`).
    pub async fn list_api_keys(&self) -> Result<String, SdkError> {
        self.authed_json("GET", "/v1/api-keys", None).await
    }

    /// `GET /v1/api-keys/{id}`.
    pub async fn get_api_key(&self, id: &str) -> Result<String, SdkError> {
        self.authed_json("GET", &format!("/v1/api-keys/{}", path_segment(id)), None)
            .await
    }

    /// `DELETE /v1/api-keys/{id}`.
    pub async fn revoke_api_key(&self, id: &str) -> Result<(), SdkError> {
        let path = format!("/v1/api-keys/{}", path_segment(id));
        self.authed_json("DELETE", &path, None).await.map(drop)
    }

    /// `GET /v1/tenants/{tenant}/members` (`{members: [{email, name, role}]}`).
    pub async fn list_members(&self, tenant: &str) -> Result<String, SdkError> {
        self.authed_json("GET", &members_path(tenant)?, None).await
    }

    /// `PUT /v1/tenants/{tenant}/members`; `role: None` removes the member.
    /// Answers `{tenant, email, role}`.
    pub async fn set_member_role(
        &self,
        tenant: &str,
        email: &str,
        role: Option<&str>,
    ) -> Result<String, SdkError> {
        let body = json!({ "email": email, "role": role }).to_string();
        self.authed_json("PUT", &members_path(tenant)?, Some(body))
            .await
    }

    // ---- email links (SPEC "Email: verification, password reset, sign-in links") --------

    /// `POST /v1/auth/email/verify/send`: another verification message to the signed-in user.
    pub async fn send_verification_email(&self) -> Result<(), SdkError> {
        self.authed_json("POST", "/v1/auth/email/verify/send", Some("{}".into()))
            .await
            .map(drop)
    }

    /// `POST /v1/auth/email/verify` with a link's token; answers `{user}`.
    pub async fn verify_email(&self, token: &str) -> Result<String, SdkError> {
        self.post_public("/v1/auth/email/verify", json!({ "token": token }))
            .await
    }

    /// `POST /v1/auth/password/forgot`: a reset link, if the address is registered
    /// (the answer is the same either way).
    pub async fn forgot_password(&self, email: &str) -> Result<(), SdkError> {
        self.post_public("/v1/auth/password/forgot", json!({ "email": email }))
            .await
            .map(drop)
    }

    /// `POST /v1/auth/password/reset`; stores the new session (every other one has ended).
    pub async fn reset_password(&self, token: &str, password: &str) -> Result<String, SdkError> {
        let body = json!({ "token": token, "password": password });
        self.sign_in_at("/v1/auth/password/reset", body).await
    }

    /// `POST /v1/auth/magic-link`: a sign-in link, if the address is registered.
    pub async fn send_magic_link(&self, email: &str) -> Result<(), SdkError> {
        self.post_public("/v1/auth/magic-link", json!({ "email": email }))
            .await
            .map(drop)
    }

    /// `POST /v1/auth/magic-link/verify`; stores the session.
    pub async fn sign_in_with_magic_link(&self, token: &str) -> Result<String, SdkError> {
        self.sign_in_at("/v1/auth/magic-link/verify", json!({ "token": token }))
            .await
    }

    /// A POST that needs no session; answers the worker's JSON.
    async fn post_public(&self, path: &str, body: serde_json::Value) -> Result<String, SdkError> {
        let call = Call::json("POST", self.base.endpoint(path), Some(body.to_string()));
        self.json_answer(self.send_plain(&call).await?).await
    }

    /// A sign-in answered with the token answer: stored as `login` stores it.
    async fn sign_in_at(&self, path: &str, body: serde_json::Value) -> Result<String, SdkError> {
        self.sign_in_text(path, body.to_string()).await
    }

    /// POSTs to an endpoint that answers with a session (`/v1/auth/token`, a reset or
    /// sign-in link, an SSO code, a device token), stores it and answers the worker's
    /// JSON. In cookie mode it asks for the cookie, so every such sign-in has it.
    async fn sign_in_text(&self, path: &str, body_json: String) -> Result<String, SdkError> {
        let call = self.session_call(path, Some(body_json));
        let text = self.json_answer(self.send_plain(&call).await?).await?;
        self.signed_in(&text).await?;
        Ok(text)
    }

    async fn signed_in(&self, text: &str) -> Result<Session, SdkError> {
        let session = Session::from_json(text)?;
        self.resumed.set(true);
        self.save(&session, SessionEvent::SignedIn).await;
        Ok(session)
    }

    /// Cookie mode: what the store should know of the cookie (see `SessionStore::cookie_hint`).
    async fn cookie_held(&self, held: bool) {
        if self.cookie_session {
            self.store.set_cookie_hint(held).await;
        }
    }

    /// A POST to an endpoint that issues or ends a session. In cookie mode it asks
    /// for the cookie (`X-EdgeAuth-Session: cookie`) and lets the browser send and
    /// keep it (`credentials: "include"`, so also from another origin).
    fn session_call(&self, path: &str, body: Option<String>) -> Call {
        let mut call = Call::json("POST", self.base.endpoint(path), body);
        if self.cookie_session {
            call.headers.push((SESSION_HEADER, "cookie".to_string()));
            call.credentials = true;
        }
        call
    }

    // ---- device login (SPEC "Device login") -------------------------------------------

    /// `POST /v1/auth/device/code`: a device code and the user code to show.
    pub async fn start_device_login(&self, client_name: Option<&str>) -> Result<String, SdkError> {
        let body = match client_name {
            Some(name) => json!({ "client_name": name }),
            None => json!({}),
        };
        self.post_public("/v1/auth/device/code", body).await
    }

    /// Polls `POST /v1/auth/device/token` by the client core's rules (wait `interval`
    /// before each poll, 5 s more after `slow_down`, stop when the code runs out)
    /// until the device is approved: then stores the session and answers it. A
    /// denial or an expired code is the worker's 400 (`access_denied`, `expired_token`).
    pub async fn poll_device_login(
        &self,
        code_json: &str,
        init: Option<&P::Init>,
    ) -> Result<String, SdkError> {
        let code: DeviceCode = serde_json::from_str(code_json).map_err(|_| {
            SdkError::local(
                Reason::InvalidField,
                "code: the answer of startDeviceLogin (device_code, interval, expires_in)",
            )
        })?;
        let mut poller = Poller::new(&code);
        let mut step = poller.first();
        loop {
            match step {
                Step::Wait(s) => self.platform.sleep(s.saturating_mul(1000), init).await?,
                Step::Expired => {
                    return Err(SdkError::local(
                        Reason::ExpiredToken,
                        "the code expired before it was approved",
                    ))
                }
                // Not reached: the poller only hears of pending polls; a denial or any
                // other refusal returns below with the worker's own answer.
                Step::Denied | Step::Fail => {
                    return Err(SdkError::local(
                        Reason::AccessDenied,
                        "the sign-in was denied",
                    ))
                }
            }
            let body = json!({ "device_code": code.device_code }).to_string();
            let call = self.session_call("/v1/auth/device/token", Some(body));
            let answer = self.send_plain_with(&call, init).await?;
            let status = answer.status();
            match self.json_answer(answer).await {
                Ok(text) => {
                    self.signed_in(&text).await?;
                    return Ok(text);
                }
                Err(e) => match Poll::from_answer(status, e.reason()) {
                    poll @ (Poll::Pending | Poll::SlowDown) => step = poller.after(&poll),
                    _ => return Err(e),
                },
            }
        }
    }

    /// `GET /v1/auth/device/lookup?user_code=…`: the device asking, for the person to
    /// check before approving (`{user_code, client_name, …}`).
    pub async fn lookup_device_code(&self, user_code: &str) -> Result<String, SdkError> {
        let path = format!(
            "/v1/auth/device/lookup?user_code={}",
            path_segment(user_code)
        );
        self.authed_json("GET", &path, None).await
    }

    /// `POST /v1/auth/device/approve`: approves (or denies) a device login as the
    /// signed-in user.
    pub async fn approve_device(&self, user_code: &str, approve: bool) -> Result<(), SdkError> {
        let body = json!({ "user_code": user_code, "approve": approve }).to_string();
        self.authed_json("POST", "/v1/auth/device/approve", Some(body))
            .await
            .map(drop)
    }

    /// Sends a request with the bearer attached (refreshed when < 5 min
    /// remain), signed when asked, and hands back the answer whatever its status.
    pub async fn fetch(
        &self,
        request: FetchRequest,
        init: Option<&P::Init>,
    ) -> Result<P::Answer, SdkError> {
        let call = Call {
            method: request.method,
            url: self.base.resolve(&request.input)?,
            headers: Vec::new(),
            body: request.body,
            sign: request.sign.unwrap_or(self.sign_by_default),
            credentials: false,
        };
        self.send_authed(&call, init).await
    }

    /// The stored session (the `/v1/auth/token` answer's shape), if any. Never
    /// refreshes, but in cookie mode a client holding nothing yet resumes from the cookie.
    pub async fn session(&self) -> Option<String> {
        self.current().await.map(|s| s.to_json())
    }

    /// A bearer credential fit for use now (refreshed if needed), for what
    /// cannot go through `fetch` (an `EventSource` URL's `?token=`).
    pub async fn access_token(&self) -> Result<Option<String>, SdkError> {
        Ok(self.bearer().await?.map(|b| b.credential().to_string()))
    }

    /// Signs a request with this client's credential and its corrected clock.
    pub async fn sign(
        &self,
        method: &str,
        target: &str,
        body: &[u8],
    ) -> Result<[(&'static str, String); 3], SdkError> {
        let Some(bearer) = self.bearer().await? else {
            return Err(SdkError::local(
                Reason::MissingCredential,
                "not signed in: nothing to sign with",
            ));
        };
        let timestamp = u64::try_from(self.server_now_ms()).unwrap_or(0);
        Ok(signing::sign(
            bearer.credential(),
            method,
            target,
            body,
            timestamp,
            &crate::signature::random_nonce()?,
        )
        .headers())
    }

    /// Re-reads the store (another tab wrote it) and tells listeners if the session changed.
    pub async fn sync(&self) {
        self.load().await;
    }

    // ---- the session in the store -----------------------------------------------------

    async fn load(&self) -> Option<Session> {
        let session = self
            .store
            .load()
            .await
            .and_then(|text| Session::from_json(&text).ok());
        self.announce(session.as_ref(), None);
        session
    }

    async fn save(&self, session: &Session, event: SessionEvent) {
        self.store.save(Some(&session.to_json())).await;
        self.cookie_held(true).await;
        self.announce(Some(session), Some(event));
    }

    /// Signs out locally: drops the stored session if it is still `only_if`
    /// (so that a newer session, e.g. from another tab's login, survives), or
    /// whatever is stored when `only_if` is `None`.
    async fn forget(&self, only_if: Option<&Session>) {
        if let Some(expected) = only_if {
            let current = self
                .store
                .load()
                .await
                .and_then(|t| Session::from_json(&t).ok());
            if current.is_some_and(|c| c != *expected) {
                return;
            }
        }
        self.store.save(None).await;
        self.cookie_held(false).await;
        self.announce(None, Some(SessionEvent::SignedOut));
    }

    /// Tells listeners about a change they have not heard of. Our own changes
    /// name their event; changes found in the store (another tab) are inferred.
    fn announce(&self, session: Option<&Session>, event: Option<SessionEvent>) {
        let now = session.map(|s| (s.token.clone(), s.user_id().to_string()));
        let inferred = {
            let mut announced = self.announced.borrow_mut();
            let inferred = match (&*announced, &now) {
                (None, None) => return,
                (Some((a, _)), Some((b, _))) if a == b => return,
                (_, None) => SessionEvent::SignedOut,
                (Some((_, before)), Some((_, after))) if before == after => SessionEvent::Refreshed,
                (_, Some(_)) => SessionEvent::SignedIn,
            };
            *announced = now;
            inferred
        };
        self.platform.announce(session, event.unwrap_or(inferred));
    }

    // ---- refreshing -------------------------------------------------------------------

    /// The credential to send now: the API key, or the session's access token,
    /// refreshed first when less than 5 minutes remain.
    async fn bearer(&self) -> Result<Option<Bearer>, SdkError> {
        if let Some(key) = &self.api_key {
            return Ok(Some(Bearer::ApiKey(key.clone())));
        }
        let Some(session) = self.load().await else {
            return Ok(self.resume().await?.map(Bearer::Session));
        };
        if !session.needs_refresh(self.server_now_ms()) {
            return Ok(Some(Bearer::Session(session)));
        }
        match self.refresh_from(Some(&session)).await {
            Ok(fresh) => Ok(Some(Bearer::Session(fresh))),
            // The refresh could not happen now (offline, 503), but the token
            // still has a few minutes: use it rather than fail.
            Err(e) if !e.ends_session() && !session.is_expired(self.server_now_ms()) => {
                Ok(Some(Bearer::Session(session)))
            }
            Err(e) => Err(e),
        }
    }

    /// The session in the store; in cookie mode, when this client holds none yet
    /// (a page just opened), the one the cookie holds. Resuming is a refresh; when
    /// it cannot happen now (offline) the answer is "none" and a later call tries again.
    async fn current(&self) -> Option<Session> {
        match self.load().await {
            Some(session) => Some(session),
            None => self.resume().await.ok().flatten(),
        }
    }

    /// Cookie mode, holding nothing: one refresh by the cookie, the first time only
    /// (a refusal means there is no session to resume, and is no error).
    async fn resume(&self) -> Result<Option<Session>, SdkError> {
        if !self.cookie_session || self.resumed.get() {
            return Ok(None);
        }
        if !self.store.cookie_hint().await {
            // Signed out in this browser: a sign-in elsewhere reaches us through the store.
            self.resumed.set(true);
            return Ok(None);
        }
        match self.refresh_from(None).await {
            Ok(session) => Ok(Some(session)),
            Err(e) if e.ends_session() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Replaces `stale` (in cookie mode possibly nothing: resuming) with a fresh
    /// session, sharing the refresh with every concurrent caller.
    async fn refresh_from(&self, stale: Option<&Session>) -> Result<Session, SdkError> {
        let stale = stale.cloned();
        self.refresh_flight
            .run(|| self.refresh_exclusively(stale))
            .await
    }

    /// One refresh, under the store's lock (a cross-tab lock in browsers). The store
    /// is read again first: if the session there is no longer the one we meant to
    /// refresh, someone (another call, another tab) already did, and we take theirs.
    /// Presenting a spent refresh token again could look like theft once the grace
    /// window has passed; in cookie mode the browser always sends the latest cookie,
    /// so this only saves a rotation.
    async fn refresh_exclusively(&self, stale: Option<Session>) -> Result<Session, SdkError> {
        let _lock = self.store.lock().await;
        let current = self.load().await;
        match (&current, &stale) {
            (Some(current), Some(stale)) if current != stale => return Ok(current.clone()),
            (Some(current), None) => return Ok(current.clone()),
            (None, Some(_)) => {
                return Err(SdkError::local(
                    Reason::SessionRevoked,
                    "signed out (in another tab or window)",
                ))
            }
            _ => {}
        }
        let body = current
            .as_ref()
            .and_then(|c| c.refresh_token.as_ref())
            .map(|rt| json!({ "refresh_token": rt.expose() }).to_string());
        if body.is_none() && !self.cookie_session {
            return Err(SdkError::local(
                Reason::MissingCredential,
                "not signed in: nothing to refresh",
            ));
        }
        let call = self.session_call("/v1/auth/refresh", body);
        let answer = self.send_plain(&call).await?;
        match self.json_answer_to(Exchange::Refresh, answer).await {
            Ok(text) => {
                let fresh = Session::from_json(&text)?;
                self.resumed.set(true);
                let event = match current {
                    Some(_) => SessionEvent::Refreshed,
                    None => SessionEvent::SignedIn,
                };
                self.save(&fresh, event).await;
                Ok(fresh)
            }
            Err(e) if e.ends_session() => {
                self.resumed.set(true);
                match &current {
                    Some(current) => self.forget(Some(current)).await,
                    // Nothing to resume: the next page need not ask.
                    None => self.cookie_held(false).await,
                }
                Err(e)
            }
            Err(e) => Err(e),
        }
    }

    // ---- sending ----------------------------------------------------------------------

    /// Sends without a session's help (login, register, refresh), learning the clock.
    async fn send_plain(&self, call: &Call) -> Result<P::Answer, SdkError> {
        self.send_plain_with(call, None).await
    }

    async fn send_plain_with(
        &self,
        call: &Call,
        init: Option<&P::Init>,
    ) -> Result<P::Answer, SdkError> {
        let out = Outgoing {
            method: call.method.clone(),
            url: call.url.clone(),
            headers: call.headers.clone(),
            body: call.body.clone(),
            credentials: call.credentials,
        };
        self.exchange(&out, init).await
    }

    async fn exchange(
        &self,
        out: &Outgoing,
        init: Option<&P::Init>,
    ) -> Result<P::Answer, SdkError> {
        let answer = self.platform.send(out, init).await?;
        if let Some(date) = answer.header("date") {
            self.clock.observe(&date, self.platform.now_ms());
        }
        Ok(answer)
    }

    async fn authed_json(
        &self,
        method: &str,
        path: &str,
        body: Option<String>,
    ) -> Result<String, SdkError> {
        let call = Call::json(method, self.base.endpoint(path), body);
        let answer = self.send_authed(&call, None).await?;
        self.json_answer(answer).await
    }

    /// Sends with the bearer, and handles the 401s a client can do something about.
    async fn send_authed(
        &self,
        call: &Call,
        init: Option<&P::Init>,
    ) -> Result<P::Answer, SdkError> {
        let mut bearer = self.bearer().await?;
        let mut sign = call.sign;
        let mut retries = Retries::default();
        loop {
            let out = self.outgoing(call, bearer.as_ref(), sign)?;
            let answer = self.exchange(&out, init).await?;
            if answer.status() != 401 {
                return Ok(answer);
            }
            let session = match bearer.as_ref() {
                None => return Ok(answer),
                Some(Bearer::ApiKey(_)) => None,
                Some(Bearer::Session(s)) => Some(s.clone()),
            };
            let reason = reason_of_401(&answer).await;
            let attempt = Attempt {
                signed: sign,
                resendable: call.body.replayable(),
                signable: call.body.signable().is_some(),
                refreshable: session.is_some(),
                clock_known: self.clock.known(),
            };
            match (retries.after_401(reason, attempt), session) {
                (Some(Retry::Refresh), Some(s)) => {
                    bearer = Some(Bearer::Session(self.refresh_from(Some(&s)).await?));
                }
                // The answer's `Date` has just corrected the clock: sign again.
                (Some(Retry::Reclock), _) => {}
                (Some(Retry::Sign), _) => sign = true,
                (_, Some(s)) if ends_session(401, reason, Exchange::Other, true) => {
                    self.forget(Some(&s)).await;
                    return Ok(answer);
                }
                _ => return Ok(answer),
            }
        }
    }

    fn outgoing(
        &self,
        call: &Call,
        bearer: Option<&Bearer>,
        sign: bool,
    ) -> Result<Outgoing, SdkError> {
        let mut headers = call.headers.clone();
        if let Some(bearer) = bearer {
            headers.push(("authorization", format!("Bearer {}", bearer.credential())));
            if sign {
                let body = call.body.signable().ok_or_else(|| {
                    SdkError::local(
                        Reason::InvalidField,
                        "body: only a string, ArrayBuffer or typed-array body can be signed",
                    )
                })?;
                let target = self.platform.request_target(&call.url);
                let timestamp = u64::try_from(self.server_now_ms()).unwrap_or(0);
                let nonce = crate::signature::random_nonce()?;
                let signed = signing::sign(
                    bearer.credential(),
                    &call.method,
                    &target,
                    body,
                    timestamp,
                    &nonce,
                );
                headers.extend(signed.headers());
            }
        }
        Ok(Outgoing {
            method: call.method.clone(),
            url: call.url.clone(),
            headers,
            body: call.body.clone(),
            credentials: call.credentials,
        })
    }

    /// A 2xx answer's JSON text (`""` for 204), else the error it carries.
    async fn json_answer(&self, answer: P::Answer) -> Result<String, SdkError> {
        self.json_answer_to(Exchange::Other, answer).await
    }

    async fn json_answer_to(
        &self,
        exchange: Exchange,
        answer: P::Answer,
    ) -> Result<String, SdkError> {
        let status = answer.status();
        if !(200..300).contains(&status) {
            let text = answer.text().await.unwrap_or_default();
            return Err(SdkError::from_answer_to(exchange, status, &text));
        }
        let text = answer.text().await?;
        if status == 204 || text.is_empty() {
            return Ok(String::new());
        }
        match serde_json::from_str::<serde::de::IgnoredAny>(&text) {
            Ok(_) => Ok(text),
            Err(_) => Err(SdkError::bad_response(status, "the answer is not JSON")),
        }
    }
}

/// SPEC's reason of a 401: from the body, else from `WWW-Authenticate`'s
/// `error_description` (the same word; also readable where CORS hides the body).
async fn reason_of_401<A: Answer>(answer: &A) -> Option<Reason> {
    if let Ok(text) = answer.peek_text().await {
        if let Some(reason) = SdkError::from_answer(401, &text).reason() {
            return Some(reason);
        }
    }
    reason_from_www_authenticate(&answer.header("www-authenticate")?)
}

/// The members endpoint of a tenant. An empty id would make the path
/// `/v1/tenants//members`, which names no tenant: refused here, by field.
fn members_path(tenant: &str) -> Result<String, SdkError> {
    edgeauth_core::client::paths::members_path(tenant)
        .ok_or_else(|| SdkError::local(Reason::InvalidField, "tenant: must not be empty"))
}

#[cfg(test)]
#[path = "client_tests.rs"]
mod tests;
