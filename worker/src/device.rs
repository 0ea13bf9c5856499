//! Device login (RFC 8628) for the CLI and other headless clients.

use edgeauth_core::credential::credential_hash;
use edgeauth_core::device::{
    check_client_name, generate_device_code, generate_user_code, normalize_user_code,
    DEVICE_CODE_TTL_S, POLL_INTERVAL_S,
};
use edgeauth_core::directory::devices::{DeviceCommand, DeviceOutcome, Guesser};
use edgeauth_core::directory::records::Requester;
use edgeauth_core::directory::{unexpected, Command, Outcome};
use edgeauth_core::gate::Passed;
use edgeauth_core::time::rfc3339;
use edgeauth_core::{ApiError, Reason};
use serde::Deserialize;
use serde_json::json;
use worker::{Request, Response};

use crate::accounts::new_session;
use crate::app::Ctx;
use crate::routes::principal;
use crate::{body, crypto, http, store, tokens};

#[derive(Deserialize)]
struct CodeRequest {
    client_name: Option<String>,
}

#[derive(Deserialize)]
struct TokenRequest {
    device_code: String,
}

#[derive(Deserialize)]
struct ApproveRequest {
    user_code: String,
    approve: bool,
}

fn unavailable() -> ApiError {
    ApiError::new(Reason::StoreUnavailable)
}

pub async fn code(req: &Request, passed: &Passed<'_>, ctx: &Ctx) -> Result<Response, ApiError> {
    let r: Option<CodeRequest> = body::optional_json(req, &passed.body)?;
    let client_name = check_client_name(r.as_ref().and_then(|r| r.client_name.as_deref()))?;
    let random = crypto::random_bytes(192)?;
    let device_code = generate_device_code(&random[..128]).ok_or_else(unavailable)?;
    let user_code = generate_user_code(&random[128..]).ok_or_else(unavailable)?;
    let command = Command::Device(DeviceCommand::Create {
        code_hash: credential_hash(&device_code),
        user_code: user_code.clone(),
        client_name,
        // Shown to the person asked to approve: where and when this was requested.
        requested_by: Requester {
            ip: ctx.client_ip.map(|ip| ip.to_string()),
            country: req.cf().and_then(|cf| cf.country()),
            at: ctx.now_s(),
        },
    });
    store::directory(&ctx.env, command).await?;
    let url = req.url().map_err(|_| unavailable())?;
    let verification_uri = format!("{}/console/device", url.origin().ascii_serialization());
    Ok(http::json(
        200,
        &json!({
            "device_code": device_code,
            "user_code": user_code,
            "verification_uri": verification_uri,
            "verification_uri_complete": format!("{verification_uri}?user_code={user_code}"),
            "expires_in": DEVICE_CODE_TTL_S,
            "interval": POLL_INTERVAL_S,
        }),
    ))
}

pub async fn token(req: &Request, passed: &Passed<'_>, ctx: &Ctx) -> Result<Response, ApiError> {
    let r: TokenRequest = body::json(req, &passed.body)?;
    let session = new_session(ctx)?;
    let command = Command::Device(DeviceCommand::Poll {
        code_hash: credential_hash(&r.device_code),
        session: session.clone(),
        now: ctx.now_s(),
    });
    match store::directory(&ctx.env, command).await? {
        Outcome::Device(DeviceOutcome::Approved { user }) => {
            tokens::answer(ctx, &user, &session).await
        }
        _ => Err(unexpected()),
    }
}

fn user_code_field(raw: &str) -> Result<String, ApiError> {
    normalize_user_code(raw)
        .ok_or_else(|| ApiError::invalid_field("user_code", "must be 8 letters like BCDF-GHJK"))
}

/// Who is trying a user code: unknown codes count against the user and the address.
fn guesser(passed: &Passed<'_>, ctx: &Ctx) -> Result<Guesser, ApiError> {
    Ok(Guesser {
        user_id: principal(passed)?.identity().subject.clone(),
        ip: ctx.client_ip.map(|ip| ip.to_string()).unwrap_or_default(),
    })
}

pub async fn approve(req: &Request, passed: &Passed<'_>, ctx: &Ctx) -> Result<Response, ApiError> {
    let r: ApproveRequest = body::json(req, &passed.body)?;
    let command = Command::Device(DeviceCommand::Decide {
        user_code: user_code_field(&r.user_code)?,
        guesser: guesser(passed, ctx)?,
        approve: r.approve,
        now: ctx.now_s(),
    });
    store::directory(&ctx.env, command).await?;
    Ok(http::no_content())
}

/// For the console's device page: the requesting client's name, to show before approving.
pub async fn lookup(req: &Request, passed: &Passed<'_>, ctx: &Ctx) -> Result<Response, ApiError> {
    let url = req.url().map_err(|_| unavailable())?;
    let raw = url
        .query_pairs()
        .find(|(k, _)| k == "user_code")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    let user_code = user_code_field(&raw)?;
    let command = Command::Device(DeviceCommand::Lookup {
        user_code: user_code.clone(),
        guesser: guesser(passed, ctx)?,
        now: ctx.now_s(),
    });
    match store::directory(&ctx.env, command).await? {
        Outcome::Device(DeviceOutcome::Pending {
            client_name,
            requested_by,
        }) => Ok(http::json(
            200,
            &json!({
                "user_code": user_code,
                "client_name": client_name,
                "requested_from": {"ip": requested_by.ip, "country": requested_by.country},
                "requested_at": rfc3339(requested_by.at),
            }),
        )),
        _ => Err(unexpected()),
    }
}
