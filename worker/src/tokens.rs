//! Issuing the worker's own access tokens (ES256 through WebCrypto) and the token answer.

use edgeauth_core::browser_session::Delivery;
use edgeauth_core::claims::AccessClaims;
use edgeauth_core::client::TokenAnswer;
use edgeauth_core::jwt::{assemble, es256_signing_input};
use edgeauth_core::secret::Secret;
use edgeauth_core::time::rfc3339;
use edgeauth_core::{ApiError, Reason};
use worker::Response;

use crate::app::Ctx;
use crate::{crypto, http, isolate};
use edgeauth_core::directory::{NewSession, User};

fn failed() -> ApiError {
    ApiError::with_message(Reason::StoreUnavailable, "could not sign the token")
}

/// How this request wants its refresh token handed over (`X-EdgeAuth-Session`); 400
/// `invalid_field` for a value SPEC does not name. Handlers call it before they change
/// anything, so that a bad header never costs a session; [`answer`] applies it.
pub fn delivery(ctx: &Ctx) -> Result<Delivery, ApiError> {
    Delivery::from_header(ctx.session_header.as_deref())
}

/// SPEC's token answer, 200 `{token, expires_at, refresh_token, refresh_expires_at,
/// user}`. Every endpoint that signs someone in answers through here, so every one
/// of them has cookie mode: with `X-EdgeAuth-Session: cookie` the body has no
/// `refresh_token` and `Set-Cookie: __Host-edgeauth_rt=…` carries it instead.
pub async fn answer(ctx: &Ctx, user: &User, session: &NewSession) -> Result<Response, ApiError> {
    let delivery = delivery(ctx)?;
    let keys = isolate::own_keys(&ctx.env).await?;
    let now = ctx.now_s();
    let exp = now + ctx.settings.access_ttl_s;
    let claims = AccessClaims {
        iss: ctx.settings.trust.own.iss.clone(),
        aud: ctx.settings.trust.own.audience.clone(),
        sub: user.id.clone(),
        iat: now,
        exp,
        jti: crypto::new_id("tok")?,
        sid: session.session_id.clone(),
        email: user.email.clone(),
        name: Some(user.name.clone()),
        scope: user.scopes.to_space_separated(),
        // A snapshot for clients to show; the gate reads roles from the Directory.
        tenants: user.tenants.clone(),
    };
    let input = es256_signing_input(&keys.set.active().kid, &claims);
    let sig = crypto::es256_sign(&keys.sign, input.as_bytes())
        .await
        .map_err(|_| failed())?;
    let body = TokenAnswer {
        token: Secret::new(assemble(&input, &sig)),
        expires_at: rfc3339(exp),
        refresh_token: delivery
            .body_token(&session.refresh_token)
            .map(|t| Secret::new(t.to_string())),
        refresh_expires_at: rfc3339(session.refresh_expires_at),
        user: user.public(),
    };
    let mut resp = http::json(200, &body.to_json());
    let max_age_s = session.refresh_expires_at - now;
    if let Some(cookie) = delivery.set_cookie(&session.refresh_token, max_age_s) {
        let _ = resp.headers_mut().append("set-cookie", &cookie);
    }
    Ok(resp)
}
