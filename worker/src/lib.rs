//! The edgeauth Cloudflare Worker: thin wiring from workers-rs to edgeauth-core.
use worker::*;

#[event(fetch)]
async fn fetch(_req: Request, _env: Env, _ctx: Context) -> Result<Response> {
    Response::ok("edgeauth")
}
