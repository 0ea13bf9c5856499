//! Accounts and sessions: register, login, refresh, logout.

use edgeauth_core::browser_session::{
    clearing_cookie, cookie_sent_along, refresh_source, RefreshHead, RefreshSource,
};
use edgeauth_core::credential::generate_refresh_token;
use edgeauth_core::directory::accounts::{AccountCommand, AccountOutcome};
use edgeauth_core::directory::sessions::{SessionCommand, SessionOutcome};
use edgeauth_core::directory::{unexpected, Command, NewSession, Outcome};
use edgeauth_core::gate::Passed;
use edgeauth_core::input::{LoginRequest, RefreshRequest, RegisterRequest};
use edgeauth_core::password::{PasswordHash, PBKDF2_ITERATIONS, SALT_LEN};
use edgeauth_core::{ApiError, Reason};
use serde::Deserialize;
use worker::{Request, Response};

use crate::app::Ctx;
use crate::routes::principal;
use crate::{body, crypto, http, password, standing, store, tokens};

/// A fresh session: its id and first refresh token, expiring after `REFRESH_TTL_S`.
pub fn new_session(ctx: &Ctx) -> Result<NewSession, ApiError> {
    let refresh_token = generate_refresh_token(&crypto::random_bytes(128)?)
        .ok_or_else(|| ApiError::new(Reason::StoreUnavailable))?;
    Ok(NewSession {
        session_id: crypto::new_id("ses")?,
        refresh_token,
        refresh_expires_at: ctx.now_s() + ctx.settings.refresh_ttl_s,
    })
}

pub async fn register(req: &Request, passed: &Passed<'_>, ctx: &Ctx) -> Result<Response, ApiError> {
    let r: RegisterRequest = body::json(req, &passed.body)?;
    let r = r.validate()?;
    let hash = password::hash_new(r.password.expose()).await?;
    let command = Command::Account(AccountCommand::Register {
        id: crypto::new_id("usr")?,
        tenants: ctx.settings.initial_tenants(),
        email: r.email,
        name: r.name,
        password_hash: hash.encode(),
        scopes: ctx.settings.default_user_scopes.clone(),
        now: ctx.now_s(),
    });
    match store::directory(&ctx.env, command).await? {
        Outcome::Account(AccountOutcome::Registered { user }) => {
            // The address is proved by the link in this message (SPEC "Email").
            crate::email::after_registration(req, ctx, &user).await;
            Ok(http::json(201, &serde_json::json!({"user": user.public()})))
        }
        _ => Err(unexpected()),
    }
}

pub async fn login(req: &Request, passed: &Passed<'_>, ctx: &Ctx) -> Result<Response, ApiError> {
    let r: LoginRequest = body::json(req, &passed.body)?;
    let r = r.validate()?;
    tokens::delivery(ctx)?;
    let ip = ctx.client_ip.map(|i| i.to_string()).unwrap_or_default();
    let now = ctx.now_s();
    let begin = Command::Account(AccountCommand::LoginBegin {
        email: r.email.clone(),
        ip: ip.clone(),
        now,
    });
    let Outcome::Account(AccountOutcome::LoginBegun {
        user,
        password_hash,
    }) = store::directory(&ctx.env, begin).await?
    else {
        return Err(unexpected());
    };
    let stored = password_hash.as_deref().and_then(PasswordHash::parse);
    let matched = match (user, stored) {
        (Some(user), Some(hash)) => password::verify(r.password.expose(), &hash)
            .await?
            .then_some((user, hash)),
        _ => {
            // The same work for an unknown email, so timing does not tell who is registered.
            password::derive(r.password.expose(), &[0u8; SALT_LEN], PBKDF2_ITERATIONS).await?;
            None
        }
    };
    // The Directory counted this attempt as a failure; a success takes it back.
    let Some((user, hash)) = matched else {
        return Err(ApiError::new(Reason::InvalidLogin));
    };
    let upgraded_password_hash = match hash.needs_upgrade() {
        true => Some(password::hash_new(r.password.expose()).await?.encode()),
        false => None,
    };
    let session = new_session(ctx)?;
    let ok = Command::Account(AccountCommand::LoginSucceeded {
        email: r.email,
        ip,
        user_id: user.id.clone(),
        session: session.clone(),
        upgraded_password_hash,
        require_verified_email: ctx.settings.require_verified_email,
        now,
    });
    store::directory(&ctx.env, ok).await?;
    tokens::answer(ctx, &user, &session).await
}

/// What core reads of a request to decide about the refresh cookie.
struct CookieRequest {
    origin: Option<String>,
    own_origin: String,
    cookie: Option<String>,
}

impl CookieRequest {
    fn read(req: &Request) -> Result<CookieRequest, ApiError> {
        let header = |name: &str| req.headers().get(name).ok().flatten();
        let url = req
            .url()
            .map_err(|_| ApiError::new(Reason::StoreUnavailable))?;
        Ok(CookieRequest {
            origin: header("origin"),
            own_origin: url.origin().ascii_serialization(),
            cookie: header("cookie"),
        })
    }

    fn head<'a>(&'a self, ctx: &'a Ctx, body: &[u8]) -> RefreshHead<'a> {
        RefreshHead {
            session_header: ctx.session_header.as_deref(),
            origin: self.origin.as_deref(),
            own_origin: &self.own_origin,
            cookie: self.cookie.as_deref(),
            body_empty: body.iter().all(u8::is_ascii_whitespace),
        }
    }
}

pub async fn refresh(req: &Request, passed: &Passed<'_>, ctx: &Ctx) -> Result<Response, ApiError> {
    let cookies = CookieRequest::read(req)?;
    let head = cookies.head(ctx, &passed.body);
    let secret = match refresh_source(&head, &ctx.settings.allowed_origins)? {
        RefreshSource::Body => body::json::<RefreshRequest>(req, &passed.body)?.validate()?,
        RefreshSource::Cookie(token) => token,
    };
    let command = Command::Session(SessionCommand::Refresh {
        refresh_token: secret.expose().to_string(),
        now_ms: ctx.now_ms as i64,
        grace_s: ctx.settings.refresh_grace_s,
        refresh_ttl_s: ctx.settings.refresh_ttl_s,
    });
    match store::directory(&ctx.env, command).await? {
        Outcome::Session(SessionOutcome::Refreshed {
            session_id,
            refresh_token,
            refresh_expires_at,
            user,
        }) => {
            let session = NewSession {
                session_id,
                refresh_token,
                refresh_expires_at,
            };
            tokens::answer(ctx, &user, &session).await
        }
        Outcome::Session(SessionOutcome::Reused { session_id }) => {
            // The Directory revoked the session: its access tokens fail here at once.
            standing::session_ended(&session_id, ctx.now_ms);
            Err(ApiError::new(Reason::RefreshTokenReused))
        }
        _ => Err(unexpected()),
    }
}

#[derive(Deserialize)]
struct LogoutBody {
    refresh_token: Option<String>,
}

pub async fn logout(req: &Request, passed: &Passed<'_>, ctx: &Ctx) -> Result<Response, ApiError> {
    let id = principal(passed)?.identity();
    let session_id = id.session_id.clone().ok_or_else(unexpected)?;
    let extra: Option<LogoutBody> = body::optional_json(req, &passed.body)?;
    // In cookie mode the refresh token sent along is the cookie's.
    let cookies = CookieRequest::read(req)?;
    let along = extra.and_then(|b| b.refresh_token).or_else(|| {
        cookie_sent_along(
            &cookies.head(ctx, &passed.body),
            &ctx.settings.allowed_origins,
        )
        .map(|t| t.expose().to_string())
    });
    let command = Command::Session(SessionCommand::Logout {
        session_id,
        user_id: id.subject.clone(),
        refresh_token: along,
        now: ctx.now_s(),
    });
    let Outcome::Session(SessionOutcome::Ended { sessions }) =
        store::directory(&ctx.env, command).await?
    else {
        return Err(unexpected());
    };
    // Every session that ended is refused in this isolate at once.
    for sid in &sessions {
        standing::session_ended(sid, ctx.now_ms);
    }
    // The refresh cookie goes too, whichever way the session was kept.
    let mut resp = http::no_content();
    let _ = resp.headers_mut().append("set-cookie", &clearing_cookie());
    Ok(resp)
}
