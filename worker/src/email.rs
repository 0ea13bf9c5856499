//! Email links: the verification message (at registration and on request),
//! forgotten passwords, sign-in links, spending their tokens, and the
//! development mailbox. The gate has passed each request; the Directory
//! decides (the per-address limit, single use, expiry, the grants that a
//! verified address brings) and core composes the message.

use edgeauth_core::credential::{credential_hash, generate_email_token};
use edgeauth_core::directory::email::{Addressee, EmailCommand, EmailOutcome};
use edgeauth_core::directory::{unexpected, Command, NewSession, Outcome, User};
use edgeauth_core::email::{compose, link, Delivery, EmailPurpose, Message};
use edgeauth_core::gate::Passed;
use edgeauth_core::input::{
    normalize_email, EmailRequest, EmailTokenRequest, PasswordResetRequest,
};
use edgeauth_core::time::rfc3339;
use edgeauth_core::{ApiError, Reason};
use serde_json::json;
use worker::{Request, Response};

use crate::accounts::new_session;
use crate::app::Ctx;
use crate::routes::principal;
use crate::{body, crypto, http, mail, password, standing, store, tokens};

fn unavailable() -> ApiError {
    ApiError::new(Reason::StoreUnavailable)
}

/// A message the Directory agreed to, ready to go.
struct Outgoing {
    delivery: Delivery,
    from: String,
    message: Message,
}

impl Outgoing {
    async fn send(&self, ctx: &Ctx) -> Result<(), ApiError> {
        mail::send(ctx, &self.delivery, &self.from, &self.message).await
    }
}

/// Asks the Directory for a link of `purpose` to `to` (the per-address limit
/// is counted there, for unknown addresses too) and composes its message:
/// `None` when there is nobody to send it to.
async fn prepare(
    req: &Request,
    ctx: &Ctx,
    to: Addressee,
    purpose: EmailPurpose,
) -> Result<Option<Outgoing>, ApiError> {
    // Before anything is counted: a deployment that cannot send says so alike
    // for every address.
    let delivery = mail::delivery(ctx)?;
    let token = generate_email_token(&crypto::random_bytes(128)?).ok_or_else(unavailable)?;
    let command = Command::Email(EmailCommand::Issue {
        to,
        purpose,
        token_hash: credential_hash(&token),
        now: ctx.now_s(),
    });
    let Outcome::Email(EmailOutcome::Issued { recipient }) =
        store::directory(&ctx.env, command).await?
    else {
        return Err(unexpected());
    };
    let Some(recipient) = recipient else {
        return Ok(None);
    };
    // Links point at the console on the origin the request reached (the
    // worker's own: Cloudflare routes only its hostnames to it).
    let url = req.url().map_err(|_| unavailable())?;
    let origin = url.origin().ascii_serialization();
    let host = url.host_str().unwrap_or("localhost").to_string();
    let message = compose(
        purpose,
        &ctx.settings.email.product_name,
        &recipient.email,
        &recipient.name,
        &link(&origin, purpose, &token),
    );
    Ok(Some(Outgoing {
        delivery,
        from: ctx.settings.email.sender(&host),
        message,
    }))
}

/// Sends `user` the verification message after registering. Registration
/// stands whatever happens here (the user can ask again); a failure is logged.
pub async fn after_registration(req: &Request, ctx: &Ctx, user: &User) {
    let sent = match prepare(
        req,
        ctx,
        Addressee::User(user.id.clone()),
        EmailPurpose::Verify,
    )
    .await
    {
        Ok(Some(outgoing)) => outgoing.send(ctx).await,
        Ok(None) => Ok(()),
        Err(e) => Err(e),
    };
    if let Err(e) = sent {
        worker::console_warn!(
            "edgeauth: no verification message after registration of {}: {}",
            user.id,
            e.reason
        );
    }
}

fn accepted() -> Response {
    http::json(202, &json!({}))
}

/// `POST /v1/auth/email/verify/send` (a signed-in user) → 202 `{}`.
pub async fn send_verification(
    req: &Request,
    passed: &Passed<'_>,
    ctx: &Ctx,
) -> Result<Response, ApiError> {
    let user_id = principal(passed)?.identity().subject.clone();
    if let Some(outgoing) =
        prepare(req, ctx, Addressee::User(user_id), EmailPurpose::Verify).await?
    {
        outgoing.send(ctx).await?;
    }
    Ok(accepted())
}

/// `POST /v1/auth/password/forgot` and `POST /v1/auth/magic-link` → 202 `{}`,
/// the same whether or not anyone holds the address.
pub async fn send_link(
    req: &Request,
    passed: &Passed<'_>,
    ctx: &Ctx,
    purpose: EmailPurpose,
) -> Result<Response, ApiError> {
    let r: EmailRequest = body::json(req, &passed.body)?;
    let email = r.validate()?;
    if let Some(outgoing) = prepare(req, ctx, Addressee::Email(email), purpose).await? {
        // A failure reaching the provider is logged, not answered: a 503 here
        // would tell that the address belongs to someone.
        let _ = outgoing.send(ctx).await;
    }
    Ok(accepted())
}

fn token_hash(req: &Request, passed: &Passed<'_>) -> Result<String, ApiError> {
    let r: EmailTokenRequest = body::json(req, &passed.body)?;
    Ok(credential_hash(r.validate()?.expose()))
}

/// `POST /v1/auth/email/verify` `{token}` → 200 `{user}`.
pub async fn verify(req: &Request, passed: &Passed<'_>, ctx: &Ctx) -> Result<Response, ApiError> {
    let command = Command::Email(EmailCommand::Verify {
        token_hash: token_hash(req, passed)?,
        tenant_admins: ctx.settings.tenant_admins.clone(),
        now: ctx.now_s(),
    });
    let Outcome::Email(EmailOutcome::Verified {
        user,
        grants_changed,
    }) = store::directory(&ctx.env, command).await?
    else {
        return Err(unexpected());
    };
    if grants_changed {
        standing::grants_changed(&user.id, ctx.now_ms);
    }
    Ok(http::json(200, &json!({ "user": user.public() })))
}

async fn signed_in(
    ctx: &Ctx,
    user: &User,
    session: &NewSession,
    grants_changed: bool,
) -> Result<Response, ApiError> {
    if grants_changed {
        standing::grants_changed(&user.id, ctx.now_ms);
    }
    tokens::answer(ctx, user, session).await
}

/// `POST /v1/auth/password/reset` `{token, password}` → the token answer;
/// every other session of the user is revoked (at once in this isolate).
pub async fn reset(req: &Request, passed: &Passed<'_>, ctx: &Ctx) -> Result<Response, ApiError> {
    let r: PasswordResetRequest = body::json(req, &passed.body)?;
    let r = r.validate()?;
    // A bad `X-EdgeAuth-Session` is refused before the link is spent.
    tokens::delivery(ctx)?;
    let hash = password::hash_new(r.password.expose()).await?;
    let session = new_session(ctx)?;
    let command = Command::Email(EmailCommand::Reset {
        token_hash: credential_hash(r.token.expose()),
        password_hash: hash.encode(),
        session: session.clone(),
        tenant_admins: ctx.settings.tenant_admins.clone(),
        now: ctx.now_s(),
    });
    let Outcome::Email(EmailOutcome::Reset {
        user,
        ended_sessions,
        grants_changed,
    }) = store::directory(&ctx.env, command).await?
    else {
        return Err(unexpected());
    };
    for sid in &ended_sessions {
        standing::session_ended(sid, ctx.now_ms);
    }
    signed_in(ctx, &user, &session, grants_changed).await
}

/// `POST /v1/auth/magic-link/verify` `{token}` → the token answer.
pub async fn magic_sign_in(
    req: &Request,
    passed: &Passed<'_>,
    ctx: &Ctx,
) -> Result<Response, ApiError> {
    let token_hash = token_hash(req, passed)?;
    tokens::delivery(ctx)?;
    let session = new_session(ctx)?;
    let command = Command::Email(EmailCommand::SignIn {
        token_hash,
        session: session.clone(),
        tenant_admins: ctx.settings.tenant_admins.clone(),
        now: ctx.now_s(),
    });
    let Outcome::Email(EmailOutcome::SignedIn {
        user,
        grants_changed,
    }) = store::directory(&ctx.env, command).await?
    else {
        return Err(unexpected());
    };
    signed_in(ctx, &user, &session, grants_changed).await
}

/// `GET /v1/dev/mailbox?to=<email>` (development only: the gate routes it
/// nowhere else) → 200 `{messages: [{to, subject, text, link, sent_at}]}`, newest first.
pub async fn mailbox(req: &Request, ctx: &Ctx) -> Result<Response, ApiError> {
    let url = req.url().map_err(|_| unavailable())?;
    let to = url
        .query_pairs()
        .find(|(k, _)| k == "to")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    let to = normalize_email(&to)
        .map_err(|e| ApiError::with_message(e.reason, e.message.replacen("email", "to", 1)))?;
    let command = Command::Email(EmailCommand::Mailbox { to });
    let Outcome::Email(EmailOutcome::Mailbox { messages }) =
        store::directory(&ctx.env, command).await?
    else {
        return Err(unexpected());
    };
    let messages: Vec<_> = messages
        .into_iter()
        .map(|m| {
            json!({
                "to": m.to, "subject": m.subject, "text": m.text,
                "link": m.link, "sent_at": rfc3339(m.sent_at),
            })
        })
        .collect();
    Ok(http::json(200, &json!({ "messages": messages })))
}
