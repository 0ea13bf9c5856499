//! The edgeauth Cloudflare Worker: thin wiring from workers-rs to edgeauth-core.
//! Decisions live in core; this crate moves bytes between them and the runtime.

mod accounts;
mod app;
mod authn;
mod body;
mod cache;
mod crypto;
mod device;
mod directory;
mod echo;
mod email;
mod gateway;
mod http;
mod isolate;
mod jwks;
mod keys;
mod mail;
mod nonces;
mod password;
mod routes;
mod signature;
mod sql;
mod standing;
mod store;
mod tenants;
mod tokens;

pub use directory::Directory;
pub use nonces::NonceSet;

use worker::{event, Context, Env, Request, Response, Result};

#[event(fetch)]
async fn fetch(req: Request, env: Env, ctx: Context) -> Result<Response> {
    Ok(app::handle(req, env, ctx).await)
}
