//! Issuing the worker's own access tokens (ES256 through WebCrypto) and the token answer.

use edgeauth_core::claims::AccessClaims;
use edgeauth_core::jwt::{assemble, es256_signing_input};
use edgeauth_core::time::rfc3339;
use edgeauth_core::{ApiError, Reason};
use serde_json::{json, Value};

use crate::app::Ctx;
use crate::{crypto, isolate};
use edgeauth_core::directory::{NewSession, User};

fn failed() -> ApiError {
    ApiError::with_message(Reason::StoreUnavailable, "could not sign the token")
}

/// SPEC's token answer: `{token, expires_at, refresh_token, refresh_expires_at, user}`.
pub async fn answer(ctx: &Ctx, user: &User, session: &NewSession) -> Result<Value, ApiError> {
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
    Ok(json!({
        "token": assemble(&input, &sig),
        "expires_at": rfc3339(exp),
        "refresh_token": session.refresh_token,
        "refresh_expires_at": rfc3339(session.refresh_expires_at),
        "user": user.public(),
    }))
}
