//! The wasm-bindgen surface: binds `Client` to `fetch`, `Date.now` and JS storage adapters.
//!
//! Deliberately thin: JSON crosses as text, errors cross as plain objects
//! that `npm/client.js` turns into `EdgeAuthError`, and every decision is
//! made in the plain-Rust modules that `cargo test` drives.

use std::future::Future;
use std::rc::Rc;

use edgeauth_core::secret::Secret;
use js_sys::{Array, Function, Object, Promise, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::{future_to_promise, JsFuture};

use crate::client::{Client, FetchRequest, Options};
use crate::error::SdkError;
use crate::platform::{Answer, Body, MemoryStore, Outgoing, Platform, SessionEvent, SessionStore};
use crate::session::Session;
use crate::{signature, token};

#[wasm_bindgen]
extern "C" {
    /// What `npm/client.js` hands the engine: `send`, `sleep`, `target`, `announce`.
    pub type Host;
    #[wasm_bindgen(method, catch)]
    #[allow(clippy::too_many_arguments)]
    fn send(
        this: &Host,
        url: &str,
        method: &str,
        headers: Array,
        body: JsValue,
        keep_init_body: bool,
        credentials: bool,
        init: &JsValue,
    ) -> Result<Promise, JsValue>;
    /// Resolves after `ms`, or rejects with an `AbortError` when `init.signal` fires.
    #[wasm_bindgen(method, catch)]
    fn sleep(this: &Host, ms: f64, init: &JsValue) -> Result<Promise, JsValue>;
    #[wasm_bindgen(method, catch)]
    fn target(this: &Host, url: &str) -> Result<String, JsValue>;
    #[wasm_bindgen(method, catch)]
    fn announce(this: &Host, session: Option<String>, event: &str) -> Result<(), JsValue>;

    /// A session storage adapter: `load()`, `save(value | undefined)`, optional `lock()`.
    pub type StoreAdapter;
    #[wasm_bindgen(method, catch)]
    fn load(this: &StoreAdapter) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(method, catch)]
    fn save(this: &StoreAdapter, value: Option<String>) -> Result<JsValue, JsValue>;

    /// The bits of a fetch `Response` the engine reads.
    type FetchResponse;
    #[wasm_bindgen(method, getter, catch)]
    fn status(this: &FetchResponse) -> Result<u16, JsValue>;
    #[wasm_bindgen(method, getter, catch)]
    fn headers(this: &FetchResponse) -> Result<FetchHeaders, JsValue>;
    #[wasm_bindgen(method, catch)]
    fn text(this: &FetchResponse) -> Result<Promise, JsValue>;
    #[wasm_bindgen(method, catch, js_name = clone)]
    fn copy(this: &FetchResponse) -> Result<FetchResponse, JsValue>;

    type FetchHeaders;
    #[wasm_bindgen(method, catch)]
    fn get(this: &FetchHeaders, name: &str) -> Result<Option<String>, JsValue>;
}

/// A JS value as the error object `client.js` lifts into `EdgeAuthError`.
fn to_js(e: SdkError) -> JsValue {
    let o = Object::new();
    let fields: [(&str, JsValue); 5] = [
        ("status", e.status.into()),
        ("code", e.code.into()),
        ("reason", e.reason.into()),
        ("message", e.message.into()),
        ("signInAgain", e.sign_in_again.into()),
    ];
    for (k, v) in fields {
        // Setting a property on a fresh plain object cannot fail.
        let _ = Reflect::set(&o, &k.into(), &v);
    }
    o.into()
}

fn message_of(e: &JsValue) -> String {
    let text = |v: &JsValue| {
        Reflect::get(v, &"message".into())
            .ok()
            .and_then(|m| m.as_string())
            .or_else(|| v.as_string())
    };
    let message = text(e).unwrap_or_else(|| "fetch failed".to_string());
    // Node's fetch says only "fetch failed"; the cause says why (ECONNREFUSED, ...).
    match Reflect::get(e, &"cause".into())
        .ok()
        .as_ref()
        .and_then(text)
    {
        Some(cause) if !cause.is_empty() => format!("{message}: {cause}"),
        _ => message,
    }
}

/// A failed `fetch()`: the caller's abort, or no answer at all.
fn send_failure(e: &JsValue) -> SdkError {
    let name = Reflect::get(e, &"name".into())
        .ok()
        .and_then(|n| n.as_string());
    if name.as_deref() == Some("AbortError") {
        SdkError::aborted(message_of(e))
    } else {
        SdkError::network(message_of(e))
    }
}

/// Awaits a value that may be a promise (storage adapters may be sync or async).
async fn settled(value: JsValue) -> Result<JsValue, JsValue> {
    if value.is_instance_of::<Promise>()
        || Reflect::get(&value, &"then".into()).is_ok_and(|t| t.is_function())
    {
        JsFuture::from(Promise::resolve(&value)).await
    } else {
        Ok(value)
    }
}

pub struct JsAnswer(FetchResponse);

impl JsAnswer {
    async fn read(response: &FetchResponse) -> Result<String, SdkError> {
        let promise = response.text().map_err(|e| send_failure(&e))?;
        let text = JsFuture::from(promise)
            .await
            .map_err(|e| send_failure(&e))?;
        Ok(text.as_string().unwrap_or_default())
    }
}

impl Answer for JsAnswer {
    fn status(&self) -> u16 {
        self.0.status().unwrap_or(0)
    }

    fn header(&self, name: &str) -> Option<String> {
        self.0.headers().ok()?.get(name).ok().flatten()
    }

    async fn text(&self) -> Result<String, SdkError> {
        JsAnswer::read(&self.0).await
    }

    async fn peek_text(&self) -> Result<String, SdkError> {
        let copy = self.0.copy().map_err(|e| send_failure(&e))?;
        JsAnswer::read(&copy).await
    }
}

pub struct JsPlatform(Host);

impl Platform for JsPlatform {
    type Answer = JsAnswer;
    type Init = JsValue;

    async fn send(&self, out: &Outgoing, init: Option<&JsValue>) -> Result<JsAnswer, SdkError> {
        let headers: Array = out
            .headers
            .iter()
            .map(|(name, value)| Array::of2(&(*name).into(), &value.into()))
            .collect();
        let (body, keep_init_body) = match &out.body {
            Body::Empty => (JsValue::UNDEFINED, false),
            Body::Text(text) => (text.into(), false),
            Body::Bytes(bytes) => (Uint8Array::from(bytes.as_slice()).into(), false),
            Body::Opaque { .. } => (JsValue::UNDEFINED, true),
        };
        let init = init.cloned().unwrap_or(JsValue::UNDEFINED);
        let promise = self
            .0
            .send(
                &out.url,
                &out.method,
                headers,
                body,
                keep_init_body,
                out.credentials,
                &init,
            )
            .map_err(|e| send_failure(&e))?;
        let response = JsFuture::from(promise)
            .await
            .map_err(|e| send_failure(&e))?;
        Ok(JsAnswer(response.unchecked_into()))
    }

    fn now_ms(&self) -> i64 {
        // Whole milliseconds well inside i64; `as` saturates on nonsense.
        js_sys::Date::now() as i64
    }

    async fn sleep(&self, ms: u64, init: Option<&JsValue>) -> Result<(), SdkError> {
        let init = init.cloned().unwrap_or(JsValue::UNDEFINED);
        // Waits are seconds long: far inside f64's exact integers.
        let promise = self
            .0
            .sleep(ms as f64, &init)
            .map_err(|e| send_failure(&e))?;
        JsFuture::from(promise)
            .await
            .map(drop)
            .map_err(|e| send_failure(&e))
    }

    fn request_target(&self, url: &str) -> String {
        self.0.target(url).unwrap_or_else(|_| url.to_string())
    }

    fn announce(&self, session: Option<&Session>, event: SessionEvent) {
        // A listener's exception is the listener's; client.js reports it.
        let _ = self
            .0
            .announce(session.map(Session::to_json), event.as_str());
    }
}

/// Calls `adapter[name](arg)` when the adapter has such a method.
fn call_optional(adapter: &StoreAdapter, name: &str, arg: Option<JsValue>) -> Option<JsValue> {
    let method = Reflect::get(adapter, &name.into())
        .ok()?
        .dyn_into::<Function>()
        .ok()?;
    match arg {
        Some(arg) => method.call1(adapter, &arg).ok(),
        None => method.call0(adapter).ok(),
    }
}

/// Releases a JS-side lock (`navigator.locks`) when dropped.
pub struct Release(Option<Function>);

impl Drop for Release {
    fn drop(&mut self) {
        if let Some(release) = self.0.take() {
            let _ = release.call0(&JsValue::UNDEFINED);
        }
    }
}

/// The engine's store: its own memory, or a JS adapter (`localStorage`, the app's own).
pub enum Store {
    Memory(MemoryStore),
    Js(StoreAdapter),
}

impl SessionStore for Store {
    type Lock = Release;

    async fn load(&self) -> Option<String> {
        match self {
            Store::Memory(m) => m.load().await,
            Store::Js(adapter) => {
                let value = adapter.load().ok()?;
                settled(value).await.ok()?.as_string()
            }
        }
    }

    async fn save(&self, value: Option<&str>) {
        match self {
            Store::Memory(m) => m.save(value).await,
            Store::Js(adapter) => {
                if let Ok(pending) = adapter.save(value.map(str::to_string)) {
                    let _ = settled(pending).await;
                }
            }
        }
    }

    async fn cookie_hint(&self) -> bool {
        let Store::Js(adapter) = self else {
            return true;
        };
        match call_optional(adapter, "cookieHint", None) {
            Some(value) => settled(value).await.map_or(true, |v| v.is_truthy()),
            None => true,
        }
    }

    async fn set_cookie_hint(&self, held: bool) {
        if let Store::Js(adapter) = self {
            if let Some(pending) = call_optional(adapter, "setCookieHint", Some(held.into())) {
                let _ = settled(pending).await;
            }
        }
    }

    async fn lock(&self) -> Release {
        let Store::Js(adapter) = self else {
            return Release(None);
        };
        let Ok(lock) = Reflect::get(adapter, &"lock".into()).and_then(|f| f.dyn_into::<Function>())
        else {
            return Release(None);
        };
        // A lock that cannot be had is no reason not to refresh: the
        // worker's grace window covers two tabs refreshing at once.
        let Ok(pending) = lock.call0(adapter) else {
            return Release(None);
        };
        Release(
            settled(pending)
                .await
                .ok()
                .and_then(|r| r.dyn_into::<Function>().ok()),
        )
    }
}

type JsClient = Client<JsPlatform, Store>;

/// The engine behind `EdgeAuthClient` (see `npm/client.js`).
#[wasm_bindgen]
pub struct Engine {
    client: Rc<JsClient>,
}

fn promise<F, T>(client: &Rc<JsClient>, run: impl FnOnce(Rc<JsClient>) -> F) -> Promise
where
    F: Future<Output = Result<T, SdkError>> + 'static,
    T: Into<JsValue>,
{
    let future = run(Rc::clone(client));
    future_to_promise(async move { future.await.map(Into::into).map_err(to_js) })
}

fn json_or_undefined(text: String) -> JsValue {
    if text.is_empty() {
        JsValue::UNDEFINED
    } else {
        text.into()
    }
}

#[wasm_bindgen]
impl Engine {
    #[wasm_bindgen(constructor)]
    pub fn new(
        base_url: String,
        host: Host,
        store: Option<StoreAdapter>,
        api_key: Option<String>,
        sign_by_default: bool,
        cookie_session: bool,
    ) -> Result<Engine, JsValue> {
        let store = match store {
            Some(adapter) => Store::Js(adapter),
            None => Store::Memory(MemoryStore::default()),
        };
        let options = Options {
            base_url,
            api_key: api_key.map(Secret::new),
            sign_by_default,
            cookie_session,
        };
        let client = Client::new(JsPlatform(host), store, options).map_err(to_js)?;
        Ok(Engine {
            client: Rc::new(client),
        })
    }

    pub fn register(&self, body: String) -> Promise {
        promise(&self.client, |c| async move {
            c.register(body).await.map(json_or_undefined)
        })
    }

    pub fn login(&self, body: String) -> Promise {
        promise(&self.client, |c| async move {
            c.login(body).await.map(json_or_undefined)
        })
    }

    pub fn refresh(&self) -> Promise {
        promise(&self.client, |c| async move {
            c.refresh().await.map(json_or_undefined)
        })
    }

    pub fn logout(&self) -> Promise {
        promise(&self.client, |c| async move {
            c.logout().await.map(|()| JsValue::UNDEFINED)
        })
    }

    pub fn whoami(&self) -> Promise {
        promise(&self.client, |c| async move {
            c.whoami().await.map(json_or_undefined)
        })
    }

    #[wasm_bindgen(js_name = createApiKey)]
    pub fn create_api_key(&self, body: String) -> Promise {
        promise(&self.client, |c| async move {
            c.create_api_key(body).await.map(json_or_undefined)
        })
    }

    #[wasm_bindgen(js_name = listApiKeys)]
    pub fn list_api_keys(&self) -> Promise {
        promise(&self.client, |c| async move {
            c.list_api_keys().await.map(json_or_undefined)
        })
    }

    #[wasm_bindgen(js_name = getApiKey)]
    pub fn get_api_key(&self, id: String) -> Promise {
        promise(&self.client, |c| async move {
            c.get_api_key(&id).await.map(json_or_undefined)
        })
    }

    #[wasm_bindgen(js_name = revokeApiKey)]
    pub fn revoke_api_key(&self, id: String) -> Promise {
        promise(&self.client, |c| async move {
            c.revoke_api_key(&id).await.map(|()| JsValue::UNDEFINED)
        })
    }

    #[wasm_bindgen(js_name = listMembers)]
    pub fn list_members(&self, tenant: String) -> Promise {
        promise(&self.client, |c| async move {
            c.list_members(&tenant).await.map(json_or_undefined)
        })
    }

    /// `role`: `None` (JS `null`) removes the member.
    #[wasm_bindgen(js_name = setMemberRole)]
    pub fn set_member_role(&self, tenant: String, email: String, role: Option<String>) -> Promise {
        promise(&self.client, |c| async move {
            c.set_member_role(&tenant, &email, role.as_deref())
                .await
                .map(json_or_undefined)
        })
    }

    #[wasm_bindgen(js_name = sendVerificationEmail)]
    pub fn send_verification_email(&self) -> Promise {
        promise(&self.client, |c| async move {
            c.send_verification_email()
                .await
                .map(|()| JsValue::UNDEFINED)
        })
    }

    #[wasm_bindgen(js_name = verifyEmail)]
    pub fn verify_email(&self, token: String) -> Promise {
        promise(&self.client, |c| async move {
            c.verify_email(&token).await.map(json_or_undefined)
        })
    }

    #[wasm_bindgen(js_name = forgotPassword)]
    pub fn forgot_password(&self, email: String) -> Promise {
        promise(&self.client, |c| async move {
            c.forgot_password(&email).await.map(|()| JsValue::UNDEFINED)
        })
    }

    #[wasm_bindgen(js_name = resetPassword)]
    pub fn reset_password(&self, token: String, password: String) -> Promise {
        promise(&self.client, |c| async move {
            c.reset_password(&token, &password)
                .await
                .map(json_or_undefined)
        })
    }

    #[wasm_bindgen(js_name = sendMagicLink)]
    pub fn send_magic_link(&self, email: String) -> Promise {
        promise(&self.client, |c| async move {
            c.send_magic_link(&email).await.map(|()| JsValue::UNDEFINED)
        })
    }

    #[wasm_bindgen(js_name = signInWithMagicLink)]
    pub fn sign_in_with_magic_link(&self, token: String) -> Promise {
        promise(&self.client, |c| async move {
            c.sign_in_with_magic_link(&token)
                .await
                .map(json_or_undefined)
        })
    }

    #[wasm_bindgen(js_name = startDeviceLogin)]
    pub fn start_device_login(&self, client_name: Option<String>) -> Promise {
        promise(&self.client, |c| async move {
            c.start_device_login(client_name.as_deref())
                .await
                .map(json_or_undefined)
        })
    }

    /// `code`: the JSON of `startDeviceLogin`'s answer; `init`: `{signal}`.
    #[wasm_bindgen(js_name = pollDeviceLogin)]
    pub fn poll_device_login(&self, code: String, init: JsValue) -> Promise {
        promise(&self.client, |c| async move {
            c.poll_device_login(&code, Some(&init))
                .await
                .map(json_or_undefined)
        })
    }

    #[wasm_bindgen(js_name = lookupDeviceCode)]
    pub fn lookup_device_code(&self, user_code: String) -> Promise {
        promise(&self.client, |c| async move {
            c.lookup_device_code(&user_code)
                .await
                .map(json_or_undefined)
        })
    }

    #[wasm_bindgen(js_name = approveDevice)]
    pub fn approve_device(&self, user_code: String, approve: bool) -> Promise {
        promise(&self.client, |c| async move {
            c.approve_device(&user_code, approve)
                .await
                .map(|()| JsValue::UNDEFINED)
        })
    }

    /// `kind`: 0 no body, 1 string, 2 bytes, 3 another replayable body, 4 a stream.
    pub fn fetch(
        &self,
        input: String,
        method: String,
        kind: u8,
        body: JsValue,
        sign: Option<bool>,
        init: JsValue,
    ) -> Promise {
        let body = match kind {
            1 => Body::Text(body.as_string().unwrap_or_default()),
            2 => Body::Bytes(Uint8Array::new(&body).to_vec()),
            3 => Body::Opaque { replayable: true },
            4 => Body::Opaque { replayable: false },
            _ => Body::Empty,
        };
        let request = FetchRequest {
            input,
            method,
            body,
            sign,
        };
        promise(&self.client, |c| async move {
            let answer = c.fetch(request, Some(&init)).await?;
            Ok::<JsValue, SdkError>(answer.0.into())
        })
    }

    pub fn session(&self) -> Promise {
        promise(&self.client, |c| async move {
            Ok::<JsValue, SdkError>(c.session().await.map_or(JsValue::UNDEFINED, Into::into))
        })
    }

    #[wasm_bindgen(js_name = accessToken)]
    pub fn access_token(&self) -> Promise {
        promise(&self.client, |c| async move {
            Ok::<JsValue, SdkError>(c.access_token().await?.map_or(JsValue::NULL, Into::into))
        })
    }

    pub fn sign(&self, method: String, target: String, body: Vec<u8>) -> Promise {
        promise(&self.client, |c| async move {
            let headers = c.sign(&method, &target, &body).await?;
            Ok::<JsValue, SdkError>(headers_object(headers))
        })
    }

    /// The store changed under us (another tab): re-read it and tell listeners.
    pub fn sync(&self) -> Promise {
        promise(&self.client, |c| async move {
            c.sync().await;
            Ok::<JsValue, SdkError>(JsValue::UNDEFINED)
        })
    }

    /// Server minus local clock, in ms, as learned from `Date` headers.
    #[wasm_bindgen(getter, js_name = clockOffsetMs)]
    pub fn clock_offset_ms(&self) -> f64 {
        // Offsets are far below 2^53 ms.
        self.client.clock_offset_ms() as f64
    }
}

fn headers_object(headers: [(&'static str, String); 3]) -> JsValue {
    let o = Object::new();
    for (name, value) in headers {
        let _ = Reflect::set(&o, &name.into(), &value.into());
    }
    o.into()
}

/// `signRequest`: the `x-cli-*` headers for one request. `timestamp` (Unix
/// ms) and `nonce` default to now and a random nonce; give both to reproduce
/// a test vector.
#[wasm_bindgen(js_name = signRequest)]
pub fn sign_request(
    token: &str,
    method: &str,
    path: &str,
    body: &[u8],
    timestamp: Option<f64>,
    nonce: Option<String>,
) -> Result<JsValue, JsValue> {
    let timestamp = match timestamp {
        Some(ms) => signature::timestamp_from_js_number(ms).map_err(to_js)?,
        None => signature::timestamp_from_js_number(js_sys::Date::now().floor()).map_err(to_js)?,
    };
    let headers =
        signature::sign_request(token, method, path, body, timestamp, nonce).map_err(to_js)?;
    Ok(headers_object(headers))
}

/// The default storage key of a session with the worker at `base_url` (one per worker).
#[wasm_bindgen(js_name = storageKeyFor)]
pub fn storage_key_for(base_url: &str) -> Result<String, JsValue> {
    crate::base_url::BaseUrl::parse(base_url)
        .map(|b| b.storage_key())
        .map_err(to_js)
}

/// `decodeToken`: the claims, unverified, plus `scopes`, as JSON text.
#[wasm_bindgen(js_name = decodeToken)]
pub fn decode_token(token: &str) -> Result<String, JsValue> {
    token::decode_token(token)
        .map(|claims| serde_json::Value::Object(claims).to_string())
        .map_err(to_js)
}
