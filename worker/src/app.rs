//! The request pipeline: CORS preflight, then the gate, then the endpoint or the origin.

use std::net::IpAddr;
use std::rc::Rc;

use edgeauth_core::browser_session::SESSION_HEADER;
use edgeauth_core::cors::{is_preflight, AllowedOrigins};
use edgeauth_core::credential::credential_hash;
use edgeauth_core::endpoint::Endpoint;
use edgeauth_core::gate::{Gate, Need, RequestHead, Target};
use edgeauth_core::path::pathname_of_url;
use edgeauth_core::settings::Settings;
use edgeauth_core::signing::{NONCE_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER};
use edgeauth_core::{ApiError, Reason};
use futures_util::StreamExt;
use worker::{Context, Date, Env, Request, Response};

use crate::body::DRAIN_MAX_BYTES;
use crate::{authn, body, gateway, http, isolate, nonces, routes, signature, standing};

/// What a handler needs besides the request.
pub struct Ctx {
    pub env: Env,
    pub settings: Rc<Settings>,
    pub now_ms: u64,
    /// `CF-Connecting-IP`, the only client address edgeauth trusts.
    pub client_ip: Option<IpAddr>,
    /// `X-EdgeAuth-Session`, as sent: how a token answer hands over the refresh
    /// token (`core::browser_session::Delivery`; `tokens::answer` applies it).
    pub session_header: Option<String>,
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
    let session_header = req.headers().get(SESSION_HEADER).ok().flatten();
    let ctx = Ctx {
        env,
        settings,
        now_ms,
        client_ip,
        session_header,
    };
    let console_page = Endpoint::is_console_path(&req.path());
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

/// Many answers go out without the body having been read (a 404, 401 or 413 does not need
/// it): the unread body is read and dropped first, up to [`DRAIN_MAX_BYTES`] (see there).
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

/// Every request goes through the gate (core's one decision procedure): it
/// says what it needs, this loop fetches it, until the request has passed or
/// been refused. Then the endpoint's handler or the forwarder runs.
async fn route(mut req: Request, ctx: &Ctx) -> Result<Response, ApiError> {
    // The method as sent: workers-rs's `Method` reads unknown ones (`PROPFIND`) as `GET`.
    let method = req.inner().method();
    let url = req.inner().url();
    // The path as it arrived, not as a URL parser would normalize it: the gate refuses
    // what a matcher and an origin could read differently.
    let path = pathname_of_url(&url).unwrap_or("/").to_string();
    let query = signature::split_query(&url).1.map(str::to_string);
    let header = |name: &str| req.headers().get(name).ok().flatten();
    let authorization = header("authorization");
    let signature = [SIGNATURE_HEADER, TIMESTAMP_HEADER, NONCE_HEADER].map(header);
    let head = RequestHead {
        method: &method,
        path: &path,
        query: query.as_deref(),
        authorization: authorization.as_deref(),
        signature: [
            signature[0].as_deref(),
            signature[1].as_deref(),
            signature[2].as_deref(),
        ],
        client_ip: ctx.client_ip,
        now_ms: ctx.now_ms,
    };
    let mut gate = Gate::open(
        &head,
        &ctx.settings.policy,
        ctx.settings.max_body_bytes,
        ctx.settings.environment,
    )?;
    if gate.target() == &Target::Own(Endpoint::Console) {
        // Static files: no credential, no body.
        return console(req, ctx).await;
    }
    loop {
        match gate.next() {
            Need::Identity { credential } => {
                let credential = credential.to_string();
                let identity = authn::authenticate(ctx, &credential).await?;
                gate.identified(identity)?;
            }
            Need::Standing(query) => {
                let query = query.clone();
                gate.standing(standing::standing(ctx, &query).await?)?;
            }
            Need::Body { limit } => {
                let bytes = body::read(&mut req, limit).await?;
                gate.body(bytes)?;
            }
            Need::Nonce {
                credential,
                nonce,
                expires_at_ms,
            } => {
                let (hash, nonce) = (credential_hash(credential), nonce.to_string());
                let fresh = nonces::record_once(ctx, &hash, &nonce, expires_at_ms).await?;
                gate.nonce(fresh)?;
            }
            Need::Nothing => break,
        }
    }
    let passed = gate.finish()?;
    match &passed.target {
        Target::Own(_) => routes::dispatch(&req, passed, ctx).await,
        Target::Route(_) => gateway::forward(&req, passed, ctx).await,
    }
}

/// One file of the static assets (`www/dist/`), such as the OpenAPI document, which is
/// kept out of the wasm so that its size costs nothing per request.
pub async fn static_file(req: &Request, ctx: &Ctx, path: &str) -> Result<Response, ApiError> {
    let assets = ctx
        .env
        .assets("ASSETS")
        .or_else(|_| ctx.env.service("ASSETS"))
        .map_err(|_| ApiError::with_message(Reason::NotFound, "not deployed here"))?;
    let url = format!("https://assets{path}");
    let mut resp = assets
        .fetch(url, None)
        .await
        .map_err(|_| ApiError::new(Reason::StoreUnavailable))?;
    if resp.status_code() != 200 {
        return Err(ApiError::with_message(
            Reason::NotFound,
            "not deployed here",
        ));
    }
    let body = resp
        .bytes()
        .await
        .map_err(|_| ApiError::new(Reason::StoreUnavailable))?;
    let mut answer = http::json_bytes(200, body);
    if req.inner().method() == "HEAD" {
        answer = http::json_bytes(200, Vec::new());
    }
    let _ = answer
        .headers_mut()
        .set("cache-control", "public, max-age=300");
    Ok(answer)
}

/// The console's static files. Their refusals are SPEC's error answers like any other.
async fn console(req: Request, ctx: &Ctx) -> Result<Response, ApiError> {
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
