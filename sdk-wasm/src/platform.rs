//! What the client needs from its surroundings: a way to send requests, a clock, and session storage.
//!
//! The wasm build plugs in `fetch`, `Date.now` and JS storage adapters; the
//! native tests plug in a fake worker, so every rule of the client runs in `cargo test`.

use std::cell::RefCell;

use crate::error::SdkError;
use crate::session::Session;

/// A request body, as far as the client needs to know it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Body {
    Empty,
    Text(String),
    Bytes(Vec<u8>),
    /// A body only the platform can send (a `FormData`, a `Blob`, a stream):
    /// it cannot be signed; `replayable` says whether it can be sent twice.
    Opaque {
        replayable: bool,
    },
}

impl Body {
    /// The bytes a signature covers, when the body has plain bytes.
    pub fn signable(&self) -> Option<&[u8]> {
        match self {
            Body::Empty => Some(b""),
            Body::Text(s) => Some(s.as_bytes()),
            Body::Bytes(b) => Some(b),
            Body::Opaque { .. } => None,
        }
    }

    /// Whether the request can be sent again (after a refresh or a clock correction).
    pub fn replayable(&self) -> bool {
        !matches!(self, Body::Opaque { replayable: false })
    }
}

/// One request as the client sends it. `headers` are the client's own
/// (`authorization`, `content-type`, `x-cli-*`); they win over the caller's.
#[derive(Clone, Debug)]
pub struct Outgoing {
    pub method: String,
    pub url: String,
    pub headers: Vec<(&'static str, String)>,
    pub body: Body,
    /// Send and keep cookies, also across origins (fetch's `credentials: "include"`):
    /// only the session calls of cookie mode, which need the refresh cookie.
    pub credentials: bool,
}

/// What happened to the session, as `onSessionChange` listeners hear it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionEvent {
    SignedIn,
    Refreshed,
    SignedOut,
}

impl SessionEvent {
    pub fn as_str(self) -> &'static str {
        match self {
            SessionEvent::SignedIn => "signed_in",
            SessionEvent::Refreshed => "refreshed",
            SessionEvent::SignedOut => "signed_out",
        }
    }
}

/// An answer from the worker (or whatever sits at the base URL).
// One thread (wasm), so the futures need no `Send` bound.
#[allow(async_fn_in_trait)]
pub trait Answer {
    fn status(&self) -> u16;
    /// A header's value (names are case-insensitive).
    fn header(&self, name: &str) -> Option<String>;
    /// Reads the body; the answer is not handed on afterwards.
    async fn text(&self) -> Result<String, SdkError>;
    /// Reads the body of a copy, leaving this answer unread for the caller.
    async fn peek_text(&self) -> Result<String, SdkError>;
}

/// The network, the clock and the listener.
#[allow(async_fn_in_trait)]
pub trait Platform {
    type Answer: Answer;
    /// What the caller of `fetch` passed besides method, headers and body
    /// (in JS: the rest of its `RequestInit`, e.g. `signal`).
    type Init;

    /// Sends the request. No answer at all is `Err` with code `NETWORK`.
    async fn send(
        &self,
        out: &Outgoing,
        init: Option<&Self::Init>,
    ) -> Result<Self::Answer, SdkError>;
    /// The local clock, Unix ms.
    fn now_ms(&self) -> i64;
    /// Waits `ms` milliseconds (device login's polling); `init` may abort the wait
    /// as it aborts a request (an `AbortSignal`), which is `Err`.
    async fn sleep(&self, ms: u64, init: Option<&Self::Init>) -> Result<(), SdkError>;
    /// The request target (pathname plus `?query`) of `url` as it goes on the
    /// wire, after the platform's URL parser has normalised it.
    fn request_target(&self, url: &str) -> String;
    /// Tells the application the session changed (it must not call back synchronously).
    fn announce(&self, session: Option<&Session>, event: SessionEvent);
}

/// Where the session lives between calls (memory, `localStorage`, an app's own store).
/// It is the source of truth: the client reads it before every decision, so
/// two tabs sharing it see each other's refreshes.
#[allow(async_fn_in_trait)]
pub trait SessionStore {
    /// Held while refreshing; dropping it releases the lock (a cross-tab lock where there is one).
    type Lock;
    async fn load(&self) -> Option<String>;
    async fn save(&self, value: Option<&str>);
    async fn lock(&self) -> Self::Lock;

    /// Cookie mode: whether this browser may hold a session cookie, so that a new page
    /// resumes from it (a hint the store keeps, never a secret; without one: perhaps).
    /// It spares a signed-out page a refresh that can only be refused.
    async fn cookie_hint(&self) -> bool {
        true
    }

    /// Cookie mode: records whether a session cookie is held now.
    async fn set_cookie_hint(&self, _held: bool) {}
}

/// The default store: this client's memory, nothing shared.
#[derive(Default)]
pub struct MemoryStore {
    value: RefCell<Option<String>>,
}

impl SessionStore for MemoryStore {
    type Lock = ();

    async fn load(&self) -> Option<String> {
        self.value.borrow().clone()
    }

    async fn save(&self, value: Option<&str>) {
        *self.value.borrow_mut() = value.map(str::to_string);
    }

    async fn lock(&self) {}
}
