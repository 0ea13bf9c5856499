//! The gateway: a request the gate passed on a policy route goes to the origin, with
//! the caller's identity attached and nothing of the client's that could pass for it.

use edgeauth_core::browser_session::without_refresh_cookie;
use edgeauth_core::forward::is_reserved_header;
use edgeauth_core::gate::Passed;
use edgeauth_core::query::split_token;
use edgeauth_core::{ApiError, Reason};
use worker::{Fetch, Headers, Request, Response};

use crate::app::Ctx;
use crate::{echo, signature};

pub async fn forward(req: &Request, passed: Passed<'_>, ctx: &Ctx) -> Result<Response, ApiError> {
    // The method as sent: workers-rs's `Method` reads unknown ones as `GET`.
    let method = req.inner().method();
    let path = passed.path.clone();
    // The path and query straight from the runtime's serialized URL: a full URL parse per
    // request costs more than everything else the floor does in wasm.
    let raw_url = req.inner().url();
    let raw_query = signature::split_query(&raw_url).1.unwrap_or("");
    // `token` never reaches the origin on any route (SPEC "Forwarding": the query minus
    // `token`): a credential put in the URL by mistake must not end up in its logs.
    let (query, _) = split_token(raw_query);

    if passed.unsigned_optional {
        if let Some(p) = &passed.principal {
            let id = p.identity();
            let who = id
                .key_id
                .as_ref()
                .or(id.session_id.as_ref())
                .unwrap_or(&id.subject);
            signature::count_unsigned(format!("{}:{who}", id.kind.as_str()), ctx.now_ms);
        }
    }

    let headers = forwarded_headers(req.headers(), ctx.settings.forward_authorization);
    for (k, v) in passed.forward_headers() {
        let _ = headers.set(k, &v);
    }
    let body = passed.body;

    match &ctx.settings.origin_url {
        None => Ok(echo::answer(
            &method,
            &path,
            &query,
            &headers.entries().collect::<Vec<_>>(),
            &body,
        )),
        Some(origin) => send(origin, &method, &path, &query, headers, body).await,
    }
}

/// The client's headers as the origin gets them: without any name the origin could read as
/// `x-edgeauth-*` (only the worker sets those; `x_edgeauth_tenant` included), `Host`, `Content-Length` and, unless configured, `Authorization`.
/// The runtime copies them in one call; only their names cross into Rust.
fn forwarded_headers(incoming: &Headers, keep_authorization: bool) -> Headers {
    let headers = match web_sys::Headers::new_with_headers(&incoming.0) {
        Ok(h) => Headers(h),
        Err(_) => {
            let h = Headers::new();
            for (k, v) in incoming.entries() {
                let _ = h.append(&k, &v);
            }
            h
        }
    };
    let dropped: Vec<String> = headers
        .keys()
        .filter(|k| {
            let k = k.to_ascii_lowercase();
            is_reserved_header(&k)
                || k == "host"
                || k == "content-length"
                || (k == "authorization" && !keep_authorization)
        })
        .collect();
    for k in dropped {
        let _ = headers.delete(&k);
    }
    // The refresh cookie (Path=/, so browsers send it here too) is the worker's alone.
    if let Some(cookie) = headers.get("cookie").ok().flatten() {
        match without_refresh_cookie(&cookie) {
            Some(kept) => {
                let _ = headers.set("cookie", &kept);
            }
            None => {
                let _ = headers.delete("cookie");
            }
        }
    }
    headers
}

/// Sends the request to the origin with the method exactly as the client sent it
/// (workers-rs's `Method` would turn an unknown one such as `PROPFIND` into `GET`).
async fn send(
    origin: &str,
    method: &str,
    path: &str,
    query: &str,
    headers: Headers,
    body: Vec<u8>,
) -> Result<Response, ApiError> {
    let url = if query.is_empty() {
        format!("{origin}{path}")
    } else {
        format!("{origin}{path}?{query}")
    };
    let init = web_sys::RequestInit::new();
    init.set_method(method);
    init.set_headers(&headers.0);
    init.set_redirect(web_sys::RequestRedirect::Manual);
    if !body.is_empty() && !matches!(method, "GET" | "HEAD") {
        init.set_body(&js_sys::Uint8Array::from(body.as_slice()));
    }
    let req = web_sys::Request::new_with_str_and_init(&url, &init)
        .map_err(|_| ApiError::new(Reason::StoreUnavailable))?;
    Fetch::Request(Request::from(req))
        .send()
        .await
        .map_err(|e| {
            worker::console_error!("edgeauth: origin did not answer: {e}");
            ApiError::with_message(Reason::StoreUnavailable, "the origin did not answer")
        })
}
