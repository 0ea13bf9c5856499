//! The worker's own endpoints, once the gate has passed the request: each
//! handler parses its body into core types, runs core's Directory commands,
//! and answers. No handler decides who may call it; the gate did.

use edgeauth_core::email::EmailPurpose;
use edgeauth_core::endpoint::Endpoint;
use edgeauth_core::gate::{Passed, Target};
use edgeauth_core::grants::Principal;
use edgeauth_core::{ApiError, Reason};
use worker::{Request, Response};

use crate::app::Ctx;
use crate::{accounts, device, email, http, isolate, keys, tenants};

/// The caller the gate checked, for endpoints whose requirement reads a credential.
pub fn principal<'a>(passed: &'a Passed<'_>) -> Result<&'a Principal, ApiError> {
    passed
        .principal
        .as_ref()
        .ok_or_else(|| ApiError::with_message(Reason::StoreUnavailable, "no caller was checked"))
}

pub async fn dispatch(req: &Request, passed: Passed<'_>, ctx: &Ctx) -> Result<Response, ApiError> {
    let Target::Own(endpoint) = &passed.target else {
        return Err(ApiError::new(Reason::NoRoute));
    };
    match endpoint {
        Endpoint::Jwks => {
            let keys = isolate::own_keys(&ctx.env).await?;
            let mut resp = http::json(200, &keys.set.public_jwks());
            let _ = resp
                .headers_mut()
                .set("cache-control", "public, max-age=300");
            Ok(resp)
        }
        Endpoint::OpenApi => crate::app::static_file(req, ctx, "/openapi.json").await,
        Endpoint::Register => accounts::register(req, &passed, ctx).await,
        Endpoint::Token => accounts::login(req, &passed, ctx).await,
        Endpoint::Refresh => accounts::refresh(req, &passed, ctx).await,
        Endpoint::Logout => accounts::logout(req, &passed, ctx).await,
        Endpoint::WhoAmI => Ok(http::json(200, &principal(&passed)?.whoami())),
        Endpoint::DeviceCode => device::code(req, &passed, ctx).await,
        Endpoint::DeviceToken => device::token(req, &passed, ctx).await,
        Endpoint::DeviceApprove => device::approve(req, &passed, ctx).await,
        Endpoint::DeviceLookup => device::lookup(req, &passed, ctx).await,
        Endpoint::ListKeys => keys::list(&passed, ctx).await,
        Endpoint::CreateKey => keys::create(req, &passed, ctx).await,
        Endpoint::GetKey(id) => keys::get(&passed, ctx, id).await,
        Endpoint::RevokeKey(id) => keys::revoke(&passed, ctx, id).await,
        Endpoint::ListMembers(tenant) => tenants::list(ctx, tenant).await,
        Endpoint::SetMember(tenant) => tenants::set(req, &passed, ctx, tenant).await,
        Endpoint::SendVerification => email::send_verification(req, &passed, ctx).await,
        Endpoint::VerifyEmail => email::verify(req, &passed, ctx).await,
        Endpoint::ForgotPassword => email::send_link(req, &passed, ctx, EmailPurpose::Reset).await,
        Endpoint::ResetPassword => email::reset(req, &passed, ctx).await,
        Endpoint::SendMagicLink => email::send_link(req, &passed, ctx, EmailPurpose::SignIn).await,
        Endpoint::MagicLinkSignIn => email::magic_sign_in(req, &passed, ctx).await,
        Endpoint::DevMailbox => email::mailbox(req, ctx).await,
        // Served before the gate asks for anything (static files).
        Endpoint::Console => Err(ApiError::new(Reason::NoRoute)),
    }
}
