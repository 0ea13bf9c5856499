//! Issuing the worker's own access tokens (ES256 through WebCrypto) and the token answer.

use edgeauth_core::claims::AccessClaims;
use edgeauth_core::jwt::{assemble, es256_signing_input};
use edgeauth_core::time::rfc3339;
use edgeauth_core::{ApiError, Reason};
use serde_json::{json, Value};

use crate::app::Ctx;
use crate::directory::User;
use crate::{crypto, isolate};

fn failed() -> ApiError {
    ApiError::with_message(Reason::StoreUnavailable, "could not sign the token")
}

/// SPEC's token answer: `{token, expires_at, refresh_token, refresh_expires_at, user}`.
pub async fn answer(
    ctx: &Ctx,
    user: &User,
    session_id: &str,
    refresh_token: &str,
    refresh_expires_at: i64,
) -> Result<Value, ApiError> {
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
        sid: session_id.to_string(),
        email: user.email.clone(),
        name: Some(user.name.clone()),
        scope: user.scopes.clone(),
        tenants: user
            .tenants
            .iter()
            .filter_map(|(t, r)| {
                Some((
                    t.clone(),
                    r.as_str().and_then(edgeauth_core::scope::Role::parse)?,
                ))
            })
            .collect(),
    };
    let input = es256_signing_input(&keys.set.active().kid, &claims);
    let sig = crypto::es256_sign(&keys.sign, input.as_bytes())
        .await
        .map_err(|_| failed())?;
    Ok(json!({
        "token": assemble(&input, &sig),
        "expires_at": rfc3339(exp),
        "refresh_token": refresh_token,
        "refresh_expires_at": rfc3339(refresh_expires_at),
        "user": user.public(),
    }))
}
