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
//!   is retried once with the corrected time.

use std::cell::RefCell;

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
        let call = Call::json(
            "POST",
            self.base.endpoint("/v1/auth/token"),
            Some(body_json),
        );
        let text = self.json_answer(self.send_plain(&call).await?).await?;
        let session = Session::from_json(&text)?;
        self.save(&session, SessionEvent::SignedIn).await;
        Ok(text)
    }

    /// Rotates the session now (sharing a refresh already in flight).
    pub async fn refresh(&self) -> Result<String, SdkError> {
        let Some(session) = self.load().await else {
            return Err(SdkError::local(
                Reason::MissingCredential,
                "not signed in: nothing to refresh",
            ));
        };
        Ok(self.refresh_from(&session).await?.to_json())
    }

    /// `POST /v1/auth/logout`, then forgets the session whatever the answer:
    /// a 401 means it was over anyway; a network failure is still reported.
    pub async fn logout(&self) -> Result<(), SdkError> {
        if self.load().await.is_none() {
            return Ok(());
        }
        let outcome = self.logout_remotely().await;
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
        let body = json!({ "refresh_token": session.refresh_token.expose() }).to_string();
        let mut call = Call::json("POST", self.base.endpoint("/v1/auth/logout"), Some(body));
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
        };
        self.send_authed(&call, init).await
    }

    /// The stored session (the `/v1/auth/token` answer's shape), if any. Never refreshes.
    pub async fn session(&self) -> Option<String> {
        self.load().await.map(|s| s.to_json())
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
        self.announce(None, Some(SessionEvent::SignedOut));
    }

    /// Tells listeners about a change they have not heard of. Our own changes
    /// name their event; changes found in the store (another tab) are inferred.
    fn announce(&self, session: Option<&Session>, event: Option<SessionEvent>) {
        let now = session.map(|s| {
            let user = s
                .user
                .get("id")
                .and_then(|v| v.as_str())
                .unwrap_or("")
                .to_string();
            (s.token.clone(), user)
        });
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
            return Ok(None);
        };
        if !session.needs_refresh(self.server_now_ms()) {
            return Ok(Some(Bearer::Session(session)));
        }
        match self.refresh_from(&session).await {
            Ok(fresh) => Ok(Some(Bearer::Session(fresh))),
            // The refresh could not happen now (offline, 503), but the token
            // still has a few minutes: use it rather than fail.
            Err(e) if !e.ends_session() && !session.is_expired(self.server_now_ms()) => {
                Ok(Some(Bearer::Session(session)))
            }
            Err(e) => Err(e),
        }
    }

    /// Replaces `stale` with a fresh session, sharing the refresh with every
    /// concurrent caller.
    async fn refresh_from(&self, stale: &Session) -> Result<Session, SdkError> {
        let stale_refresh_token = stale.refresh_token.clone();
        self.refresh_flight
            .run(|| self.refresh_exclusively(stale_refresh_token))
            .await
    }

    /// One refresh, under the store's lock (a cross-tab lock in browsers).
    /// The store is read again first: if the refresh token there is no longer
    /// the one we hold, someone already rotated it, and presenting ours again
    /// could look like theft once the grace window has passed.
    async fn refresh_exclusively(&self, stale_refresh_token: Secret) -> Result<Session, SdkError> {
        let _lock = self.store.lock().await;
        let Some(current) = self.load().await else {
            return Err(SdkError::local(
                Reason::SessionRevoked,
                "signed out (in another tab or window)",
            ));
        };
        if current.refresh_token != stale_refresh_token {
            return Ok(current);
        }
        let body = json!({ "refresh_token": current.refresh_token.expose() }).to_string();
        let call = Call::json("POST", self.base.endpoint("/v1/auth/refresh"), Some(body));
        let answer = self.send_plain(&call).await?;
        match self.json_answer(answer).await {
            Ok(text) => {
                let fresh = Session::from_json(&text)?;
                self.save(&fresh, SessionEvent::Refreshed).await;
                Ok(fresh)
            }
            Err(e) if e.ends_session() => {
                self.forget(Some(&current)).await;
                Err(e)
            }
            Err(e) => Err(e),
        }
    }

    // ---- sending ----------------------------------------------------------------------

    /// Sends without a session's help (login, register, refresh), learning the clock.
    async fn send_plain(&self, call: &Call) -> Result<P::Answer, SdkError> {
        let out = Outgoing {
            method: call.method.clone(),
            url: call.url.clone(),
            headers: call.headers.clone(),
            body: call.body.clone(),
        };
        self.exchange(&out, None).await
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
        let (mut refreshed, mut reclocked, mut resigned) = (false, false, false);
        loop {
            let out = self.outgoing(call, bearer.as_ref(), sign)?;
            let answer = self.exchange(&out, init).await?;
            if answer.status() != 401 {
                return Ok(answer);
            }
            let Some(current) = bearer.as_ref() else {
                return Ok(answer);
            };
            let retry = call.body.replayable();
            match (reason_of_401(&answer).await, current) {
                (Some(Reason::SessionRevoked), Bearer::Session(session)) => {
                    let session = session.clone();
                    self.forget(Some(&session)).await;
                    return Ok(answer);
                }
                (Some(Reason::TokenExpired), Bearer::Session(session)) if retry && !refreshed => {
                    refreshed = true;
                    let session = session.clone();
                    bearer = Some(Bearer::Session(self.refresh_from(&session).await?));
                }
                // The answer's `Date` has just corrected the clock: sign again.
                (Some(Reason::TimestampOutOfWindow), _) if retry && sign && !reclocked => {
                    reclocked = true
                }
                (Some(Reason::SignatureMissing), _)
                    if retry && !sign && !resigned && call.body.signable().is_some() =>
                {
                    resigned = true;
                    sign = true;
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
        })
    }

    /// A 2xx answer's JSON text (`""` for 204), else the error it carries.
    async fn json_answer(&self, answer: P::Answer) -> Result<String, SdkError> {
        let status = answer.status();
        if !(200..300).contains(&status) {
            let text = answer.text().await.unwrap_or_default();
            return Err(SdkError::from_answer(status, &text));
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
    let header = answer.header("www-authenticate")?;
    let (_, rest) = header.split_once("error_description=\"")?;
    Reason::parse(rest.split('"').next()?)
}

/// The members endpoint of a tenant. An empty id would make the path
/// `/v1/tenants//members`, which names no tenant: refused here, by field.
fn members_path(tenant: &str) -> Result<String, SdkError> {
    if tenant.is_empty() {
        return Err(SdkError::local(
            Reason::InvalidField,
            "tenant: must not be empty",
        ));
    }
    Ok(format!("/v1/tenants/{}/members", path_segment(tenant)))
}

/// Percent-encodes one path segment (an API key id, a tenant id) like `encodeURIComponent`.
fn path_segment(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for b in raw.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
#[path = "client_tests.rs"]
mod tests;
