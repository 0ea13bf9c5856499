//! The request pipeline: CORS preflight, the worker's own endpoints, the console, then the gateway.

use std::net::IpAddr;
use std::rc::Rc;

use edgeauth_core::cors::AllowedOrigins;
use edgeauth_core::settings::Settings;
use edgeauth_core::{ApiError, Reason};
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
    if req.method() == Method::Options
        && req
            .headers()
            .has("access-control-request-method")
            .unwrap_or(false)
    {
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
    let resp = match route(req, &ctx).await {
        Ok(r) => r,
        Err(e) => http::error(&e),
    };
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

async fn console(req: Request, ctx: &Ctx) -> Result<Response, ApiError> {
    let assets = ctx
        .env
        .assets("ASSETS")
        .or_else(|_| ctx.env.service("ASSETS"))
        .map_err(|_| {
            ApiError::with_message(Reason::NotFound, "the console is not deployed here")
        })?;
    assets
        .fetch_request(req)
        .await
        .map_err(|_| ApiError::new(Reason::StoreUnavailable))
}
