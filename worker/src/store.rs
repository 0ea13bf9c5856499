//! Calls into the `Directory` Durable Object with core's typed commands. A
//! failure to reach it is `store_unavailable`: the worker refuses rather than guess.

use edgeauth_core::directory::{Answer, Command, Outcome};
use edgeauth_core::{ApiError, Reason};
use worker::{Env, Method, Request, RequestInit};

fn unavailable(what: impl std::fmt::Display) -> ApiError {
    worker::console_error!("edgeauth: directory unavailable: {what}");
    ApiError::new(Reason::StoreUnavailable)
}

/// Runs one directory command; refusals come back as the `ApiError` they name.
pub async fn directory(env: &Env, command: Command) -> Result<Outcome, ApiError> {
    let ns = env.durable_object("DIRECTORY").map_err(unavailable)?;
    let stub = ns.get_by_name("directory").map_err(unavailable)?;
    let body = serde_json::to_string(&command).map_err(unavailable)?;
    let mut init = RequestInit::new();
    init.with_method(Method::Post).with_body(Some(body.into()));
    let req = Request::new_with_init("https://directory/", &init).map_err(unavailable)?;
    let mut resp = stub.fetch_with_request(req).await.map_err(unavailable)?;
    if resp.status_code() != 200 {
        return Err(unavailable(format!("status {}", resp.status_code())));
    }
    let answer: Answer = resp.json().await.map_err(unavailable)?;
    answer.into_result()
}
