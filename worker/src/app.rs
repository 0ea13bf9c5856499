//! The request pipeline: CORS preflight, the worker's own endpoints, the console, then the gateway.

use std::net::IpAddr;
use std::rc::Rc;

use edgeauth_core::cors::{is_preflight, AllowedOrigins};
use edgeauth_core::settings::Settings;
use edgeauth_core::{ApiError, Reason};
use futures_util::StreamExt;
use worker::{Context, Date, Env, Method, Request, Response};

use crate::{gateway, http, isolate, routes};

/// What a handler needs besides the request.
pub struct Ctx {
    pub env: Env,
    pub settings: Rc<Settings>,
    pub now_ms: u64,
    /// `CF-Connecting-IP`, the only client address edgeauth trusts.
    pub client_ip: Option<IpAddr>,
}

impl Ctx {
    pub fn now_s(&self) -> i64 {
        (self.now_ms / 1000) as i64
    }
}

pub async fn handle(req: Request, env: Env, _ctx: Context) -> Response {
    let now_ms = Date::now().as_millis();
    let now_s = (now_ms / 1000) as i64;
    let origin = req.headers().get("origin").ok().flatten();
    let settings = match isolate::settings(&env) {
        Ok(s) => s,
        Err(e) => return http::finish(http::error(&e), now_s, &AllowedOrigins::List(vec![]), None),
    };
    let cors = settings.allowed_origins.clone();

    // Preflights are answered on every path; an origin not listed gets no CORS headers.
    let request_method = req
        .headers()
        .get("access-control-request-method")
        .ok()
        .flatten();
    if is_preflight(
        req.method().as_ref(),
        origin.as_deref(),
        request_method.as_deref(),
    ) {
        let mut resp = http::no_content();
        if let Some(headers) = cors.preflight_headers(origin.as_deref()) {
            for (k, v) in headers {
                let _ = resp.headers_mut().set(k, &v);
            }
        }
        return http::finish(resp, now_s, &AllowedOrigins::List(vec![]), None);
    }

    let client_ip = req
        .headers()
        .get("cf-connecting-ip")
        .ok()
        .flatten()
        .and_then(|ip| ip.trim().parse().ok());
    let ctx = Ctx {
        env,
        settings,
        now_ms,
        client_ip,
    };
    let console_page = is_console(&req.path());
    // The same JS request (not a copy of its body), to look at once the answer is made.
    let raw = <web_sys::Request as Clone>::clone(req.inner());
    let resp = match route(req, &ctx).await {
        Ok(r) => r,
        Err(e) => http::error(&e),
    };
    drain_unread_body(raw).await;
    let mut resp = http::finish(resp, now_s, &cors, origin.as_deref());
    if console_page {
        // The device page approves logins: no other site may frame it (clickjacking).
        let _ = resp
            .headers_mut()
            .set("content-security-policy", "frame-ancestors 'none'");
        let _ = resp.headers_mut().set("x-frame-options", "DENY");
    }
    resp
}

/// Bodies of refused requests are read and dropped up to this size before the answer goes.
const DRAIN_MAX_BYTES: u64 = 1 << 20;

/// Many answers go out without the body having been read (a 404, 401 or 413 does not need
/// it). workerd then closes the connection on the unread bytes, and a client still sending
/// a body over its socket buffer (~64 KiB) gets a reset instead of the answer. So an unread
/// body is read and dropped first, up to [`DRAIN_MAX_BYTES`]; past that, the reset is the
/// client's answer.
async fn drain_unread_body(raw: web_sys::Request) {
    if raw.body_used() || raw.body().is_none() {
        return;
    }
    let declared = raw
        .headers()
        .get("content-length")
        .ok()
        .flatten()
        .and_then(|n| n.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > DRAIN_MAX_BYTES) {
        return;
    }
    let mut req = Request::from(raw);
    let Ok(mut stream) = req.stream() else {
        return;
    };
    let mut seen = 0u64;
    while let Some(Ok(chunk)) = stream.next().await {
        seen += chunk.len() as u64;
        if seen > DRAIN_MAX_BYTES {
            break;
        }
    }
}

async fn route(req: Request, ctx: &Ctx) -> Result<Response, ApiError> {
    let path = req.path();
    if path == "/.well-known/jwks.json" {
        allow(&req, &[Method::Get, Method::Head], &["GET", "HEAD"])?;
        let keys = isolate::own_keys(&ctx.env).await?;
        let mut resp = http::json(200, &keys.set.public_jwks());
        let _ = resp
            .headers_mut()
            .set("cache-control", "public, max-age=300");
        return Ok(resp);
    }
    if path.starts_with("/v1/auth/")
        || path == "/v1/api-keys"
        || path.starts_with("/v1/api-keys/")
        || path.starts_with("/v1/tenants/")
    {
        return routes::dispatch(req, ctx, &path).await;
    }
    if is_console(&path) {
        return console(req, ctx).await;
    }
    gateway::forward(req, ctx).await
}

fn is_console(path: &str) -> bool {
    path == "/console" || path.starts_with("/console/")
}

/// 405 with `Allow` unless the method is one of `methods`.
pub fn allow(req: &Request, methods: &[Method], names: &[&'static str]) -> Result<(), ApiError> {
    let m = req.method();
    if methods.contains(&m) {
        Ok(())
    } else {
        Err(ApiError::method_not_allowed(names))
    }
}

/// The console's static files. Their refusals are SPEC's error answers like any other.
async fn console(req: Request, ctx: &Ctx) -> Result<Response, ApiError> {
    allow(&req, &[Method::Get, Method::Head], &["GET", "HEAD"])?;
    let assets = ctx
        .env
        .assets("ASSETS")
        .or_else(|_| ctx.env.service("ASSETS"))
        .map_err(|_| {
            ApiError::with_message(Reason::NotFound, "the console is not deployed here")
        })?;
    let resp = assets
        .fetch_request(req)
        .await
        .map_err(|_| ApiError::new(Reason::StoreUnavailable))?;
    match resp.status_code() {
        404 => Err(ApiError::with_message(
            Reason::NotFound,
            "the console has no such page",
        )),
        405 => Err(ApiError::method_not_allowed(&["GET", "HEAD"])),
        _ => Ok(resp),
    }
}
