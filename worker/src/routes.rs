//! The worker's own endpoints (`/v1/auth/*`, `/v1/api-keys*`): method first (405), then
//! the handler (credential, then body).

use edgeauth_core::{ApiError, Reason};
use worker::{Method, Request, Response};

use crate::app::{allow, Ctx};
use crate::{accounts, device, keys, tenants};

pub async fn dispatch(req: Request, ctx: &Ctx, path: &str) -> Result<Response, ApiError> {
    let segments: Vec<&str> = path
        .trim_start_matches('/')
        .trim_end_matches('/')
        .split('/')
        .collect();
    let post = |req: &Request| allow(req, &[Method::Post], &["POST"]);
    match segments.as_slice() {
        ["v1", "auth", "register"] => {
            post(&req)?;
            accounts::register(req, ctx).await
        }
        ["v1", "auth", "token"] => {
            post(&req)?;
            accounts::login(req, ctx).await
        }
        ["v1", "auth", "refresh"] => {
            post(&req)?;
            accounts::refresh(req, ctx).await
        }
        ["v1", "auth", "logout"] => {
            post(&req)?;
            accounts::logout(req, ctx).await
        }
        ["v1", "auth", "whoami"] => {
            allow(&req, &[Method::Get, Method::Head], &["GET", "HEAD"])?;
            accounts::whoami(req, ctx).await
        }
        ["v1", "auth", "device", "code"] => {
            post(&req)?;
            device::code(req, ctx).await
        }
        ["v1", "auth", "device", "token"] => {
            post(&req)?;
            device::token(req, ctx).await
        }
        ["v1", "auth", "device", "approve"] => {
            post(&req)?;
            device::approve(req, ctx).await
        }
        ["v1", "auth", "device", "lookup"] => {
            allow(&req, &[Method::Get], &["GET"])?;
            device::lookup(req, ctx).await
        }
        ["v1", "tenants", tenant, "members"] => {
            allow(&req, &[Method::Put], &["PUT"])?;
            tenants::set_member(req, ctx, tenant).await
        }
        ["v1", "api-keys"] => match req.method() {
            Method::Get => keys::list(req, ctx).await,
            Method::Post => keys::create(req, ctx).await,
            _ => Err(ApiError::method_not_allowed(&["GET", "POST"])),
        },
        ["v1", "api-keys", id] => match req.method() {
            Method::Get => keys::get(req, ctx, id).await,
            Method::Delete => keys::revoke(req, ctx, id).await,
            _ => Err(ApiError::method_not_allowed(&["GET", "DELETE"])),
        },
        // An unknown path is an unknown route (as on the gateway), not an unknown object.
        _ => Err(ApiError::with_message(
            Reason::NoRoute,
            "no such endpoint of the worker's own",
        )),
    }
}
