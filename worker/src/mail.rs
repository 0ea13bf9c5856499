//! Delivering a composed message: the development mailbox (a table of the
//! Directory), one JSON POST to a transactional-mail API, or Cloudflare's
//! `send_email` binding. Which one, and what the message says, is core's
//! (`edgeauth_core::email`); this file only moves the bytes.

use std::time::Duration;

use edgeauth_core::directory::email::EmailCommand;
use edgeauth_core::directory::records::MailboxMessage;
use edgeauth_core::directory::Command;
use edgeauth_core::email::{Delivery, EmailApi, Message};
use edgeauth_core::{ApiError, Reason};
use futures_util::future::{select, Either};
use wasm_bindgen::JsValue;
use worker::{
    AbortController, AbortSignal, Delay, Fetch, Headers, Method, Request, RequestInit,
    RequestRedirect, SendEmail, SendEmailBuilder,
};

use crate::app::Ctx;
use crate::store;

/// The `send_email` binding's name.
const BINDING: &str = "EMAIL";
/// A mail API that has not answered by then is taken as down.
const API_TIMEOUT_MS: u64 = 10_000;

fn undeliverable(why: impl std::fmt::Display) -> ApiError {
    worker::console_error!("edgeauth: email not sent: {why}");
    ApiError::with_message(
        Reason::StoreUnavailable,
        "the message could not be sent: try again later",
    )
}

/// Where messages go from here, or 503 `store_unavailable` (the log says
/// why) when the deployment has no way to send.
pub fn delivery(ctx: &Ctx) -> Result<Delivery, ApiError> {
    let bound = ctx.env.get_binding::<SendEmail>(BINDING).is_ok();
    ctx.settings
        .email
        .delivery(ctx.settings.environment, bound)
        .map_err(|why| {
            worker::console_error!("edgeauth: email cannot be sent: {why}");
            ApiError::with_message(
                Reason::StoreUnavailable,
                "email cannot be sent: delivery is not configured",
            )
        })
}

/// Sends `message` from `from`.
pub async fn send(
    ctx: &Ctx,
    delivery: &Delivery,
    from: &str,
    message: &Message,
) -> Result<(), ApiError> {
    match delivery {
        Delivery::Mailbox => {
            let command = Command::Email(EmailCommand::Deliver {
                message: MailboxMessage {
                    to: message.to.clone(),
                    subject: message.subject.clone(),
                    text: message.text.clone(),
                    link: message.link.clone(),
                    sent_at: ctx.now_s(),
                },
            });
            store::directory(&ctx.env, command).await.map(drop)
        }
        Delivery::Api(api) => post_in_time(api, &message.api_body(from).to_string()).await,
        Delivery::Binding => {
            let binding = ctx
                .env
                .get_binding::<SendEmail>(BINDING)
                .map_err(undeliverable)?;
            let mail = SendEmailBuilder::builder(from, &message.to, &message.subject)
                .text(&message.text)
                .html(&message.html)
                .build();
            binding
                .send_with_builder(&mail)
                .await
                .map(drop)
                .map_err(|e| undeliverable(format!("the {BINDING} binding: {e:?}")))
        }
    }
}

/// One POST to the mail API, abandoned after `API_TIMEOUT_MS`.
async fn post_in_time(api: &EmailApi, body: &str) -> Result<(), ApiError> {
    let controller = AbortController::default();
    let post = Box::pin(post(api, body, controller.signal()));
    let timeout = Delay::from(Duration::from_millis(API_TIMEOUT_MS));
    match select(post, timeout).await {
        Either::Left((result, _)) => result.map_err(undeliverable),
        Either::Right(_) => {
            controller.abort();
            Err(undeliverable(format!(
                "the mail API did not answer within {API_TIMEOUT_MS} ms"
            )))
        }
    }
}

async fn post(api: &EmailApi, body: &str, signal: AbortSignal) -> Result<(), String> {
    let headers = Headers::new();
    let set = |k: &str, v: &str| headers.set(k, v).map_err(|e| e.to_string());
    set("content-type", "application/json")?;
    set("accept", "application/json")?;
    set("authorization", &format!("Bearer {}", api.key.expose()))?;
    let mut init = RequestInit::new();
    // A redirect would carry the key to wherever it points: refused, not followed.
    init.with_method(Method::Post)
        .with_headers(headers)
        .with_redirect(RequestRedirect::Manual)
        .with_body(Some(JsValue::from_str(body)));
    let req = Request::new_with_init(&api.url, &init).map_err(|e| e.to_string())?;
    let mut resp = Fetch::Request(req)
        .send_with_signal(&signal)
        .await
        .map_err(|e| format!("the mail API cannot be reached: {e}"))?;
    let status = resp.status_code();
    if (200..300).contains(&status) {
        return Ok(());
    }
    // The provider's own words say what is wrong (an unverified sender, a bad key).
    let said = resp.text().await.unwrap_or_default();
    let said: String = said.chars().take(300).collect();
    Err(format!("the mail API answered {status}: {said}"))
}
