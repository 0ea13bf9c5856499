//! Tenant membership: list a tenant's members, set one member's role. The
//! gate has checked the caller's current role in the tenant.

use edgeauth_core::directory::tenants::{TenantCommand, TenantOutcome};
use edgeauth_core::directory::{unexpected, Command, Outcome};
use edgeauth_core::gate::Passed;
use edgeauth_core::input::MembershipRequest;
use serde_json::json;
use worker::{Request, Response};

use crate::app::Ctx;
use crate::routes::principal;
use crate::{body, http, standing, store};

/// `GET /v1/tenants/{tenant}/members` → 200 `{members: [{email, name, role}]}`.
pub async fn list(ctx: &Ctx, tenant: &str) -> Result<Response, edgeauth_core::ApiError> {
    let command = Command::Tenant(TenantCommand::ListMembers {
        tenant: tenant.to_string(),
    });
    match store::directory(&ctx.env, command).await? {
        Outcome::Tenant(TenantOutcome::Members { members }) => {
            Ok(http::json(200, &json!({ "members": members })))
        }
        _ => Err(unexpected()),
    }
}

/// `PUT /v1/tenants/{tenant}/members` `{email, role}` → 200 `{tenant, email, role}`:
/// never the member's id or other tenants.
pub async fn set(
    req: &Request,
    passed: &Passed<'_>,
    ctx: &Ctx,
    tenant: &str,
) -> Result<Response, edgeauth_core::ApiError> {
    let actor_id = principal(passed)?.identity().subject.clone();
    let m: MembershipRequest = body::json(req, &passed.body)?;
    let m = m.validate()?;
    let command = Command::Tenant(TenantCommand::SetMember {
        tenant: tenant.to_string(),
        email: m.email,
        role: m.role,
        actor_id,
    });
    match store::directory(&ctx.env, command).await? {
        Outcome::Tenant(TenantOutcome::MemberSet {
            user_id,
            tenant,
            email,
            role,
        }) => {
            // Every credential of that user is re-decided here from now on.
            standing::grants_changed(&user_id, ctx.now_ms);
            Ok(http::json(
                200,
                &json!({"tenant": tenant, "email": email, "role": role}),
            ))
        }
        _ => Err(unexpected()),
    }
}
