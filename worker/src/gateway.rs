//! The gateway: match the policy, authenticate, authorize, check the body and signature,
//! then forward to the origin with the caller's identity attached.

use edgeauth_core::authz::{authorize, is_edgeauth_header};
use edgeauth_core::credential::{check_credential_chars, parse_authorization};
use edgeauth_core::policy::{Auth, SignaturePolicy};
use edgeauth_core::{ApiError, Reason};
use worker::{Fetch, Headers, Method, Request, RequestInit, RequestRedirect, Response};

use crate::app::Ctx;
use crate::{authn, echo, signature};
use edgeauth_core::query::split_token;

pub async fn forward(mut req: Request, ctx: &Ctx) -> Result<Response, ApiError> {
    // The path and query straight from the runtime's serialized URL: a full URL parse per
    // request costs more than everything else the floor does in wasm.
    let method = req.method();
    let path = req.path();
    let raw_url = req.inner().url();
    let raw_query = signature::split_query(&raw_url).1.unwrap_or("").to_string();
    let matched = ctx
        .settings
        .policy
        .match_request(method.as_ref(), &path)
        .ok_or_else(|| ApiError::new(Reason::NoRoute))?;
    let route = matched.route;

    // `?token=` is a credential only where the policy says so, and never reaches the
    // origin anywhere (SPEC "Forwarding": the query minus `token`): a credential put in
    // the URL by mistake must not end up in the origin's logs.
    let (query, query_token) = split_token(&raw_query);
    let query_token = query_token.filter(|_| route.query_token);
    let target = signature::request_target(&req);

    let mut identity_headers = Vec::new();
    let mut credential = None;
    if route.auth == Auth::Required {
        let header = req.headers().get("authorization").ok().flatten();
        let presented = match (header.as_deref(), query_token) {
            (None, Some(token)) => check_credential_chars(&token)?.to_string(),
            (h, _) => parse_authorization(h)?.to_string(),
        };
        let identity = authn::authenticate(ctx, &presented).await?;
        // The signature's headers are part of the credential: their 401s come before the
        // route's 403s and the body's 413; only the MAC has to wait for the body.
        let signed = signature::headers(req.headers(), route.signature, ctx.now_ms)?;
        let authorized = authorize(&identity, &matched, ctx.client_ip)?;
        identity_headers = authorized.forward_headers();
        if signed.is_none() && route.signature == SignaturePolicy::Optional {
            signature::log_unsigned(method.as_ref(), &target);
        }
        credential = Some((presented, signed));
    }

    let limit = route.max_body_bytes.unwrap_or(ctx.settings.max_body_bytes);
    let body = read_body(&mut req, limit).await?;

    if let Some((credential, Some(signed))) = &credential {
        signature::verify(ctx, signed, credential, method.as_ref(), &target, &body).await?;
    }

    let headers = forwarded_headers(req.headers(), ctx.settings.forward_authorization);
    for (k, v) in &identity_headers {
        let _ = headers.set(k, v);
    }

    match &ctx.settings.origin_url {
        None => Ok(echo::answer(
            method.as_ref(),
            &path,
            &query,
            &headers.entries().collect::<Vec<_>>(),
            &body,
        )),
        Some(origin) => send(origin, method, &path, &query, headers, body).await,
    }
}

/// The client's headers as the origin gets them: without any `x-edgeauth-*` (only the
/// worker sets those), `Host`, `Content-Length` and, unless configured, `Authorization`.
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
            is_edgeauth_header(&k)
                || k == "host"
                || k == "content-length"
                || (k == "authorization" && !keep_authorization)
        })
        .collect();
    for k in dropped {
        let _ = headers.delete(&k);
    }
    headers
}

/// Reads the body, refusing more than `limit` bytes (by `Content-Length` first, so a
/// declared oversize body is never read).
pub async fn read_body(req: &mut Request, limit: u64) -> Result<Vec<u8>, ApiError> {
    let too_large = || {
        ApiError::with_message(
            Reason::PayloadTooLarge,
            format!("the body is over {limit} bytes"),
        )
    };
    if let Some(len) = req.headers().get("content-length").ok().flatten() {
        if len
            .trim()
            .parse::<u64>()
            .map(|n| n > limit)
            .unwrap_or(false)
        {
            return Err(too_large());
        }
    }
    if matches!(req.method(), Method::Get | Method::Head) {
        return Ok(Vec::new());
    }
    let body = req
        .bytes()
        .await
        .map_err(|_| ApiError::with_message(Reason::InvalidField, "body: could not be read"))?;
    if body.len() as u64 > limit {
        return Err(too_large());
    }
    Ok(body)
}

async fn send(
    origin: &str,
    method: Method,
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
    let mut init = RequestInit::new();
    init.with_method(method.clone())
        .with_headers(headers)
        .with_redirect(RequestRedirect::Manual);
    if !body.is_empty() && !matches!(method, Method::Get | Method::Head) {
        init.with_body(Some(js_sys::Uint8Array::from(body.as_slice()).into()));
    }
    let req =
        Request::new_with_init(&url, &init).map_err(|_| ApiError::new(Reason::StoreUnavailable))?;
    Fetch::Request(req).send().await.map_err(|e| {
        worker::console_error!("edgeauth: origin did not answer: {e}");
        ApiError::with_message(Reason::StoreUnavailable, "the origin did not answer")
    })
}
