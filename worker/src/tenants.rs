//! Tenant membership: a tenant's admin grants, changes or removes other users' roles there.
//! New roles reach the member's tokens at their next refresh (within `ACCESS_TTL_S`).

use edgeauth_core::identity::CredentialKind;
use edgeauth_core::scope::Role;
use edgeauth_core::{ApiError, Reason};
use serde::Deserialize;
use serde_json::json;
use worker::{Request, Response};

use crate::accounts::caller;
use crate::app::Ctx;
use crate::{body, http, store};

#[derive(Deserialize)]
struct Membership {
    email: String,
    /// `viewer`, `editor`, `admin`, or `null` to remove the member.
    role: Option<String>,
}

/// `PUT /v1/tenants/{tenant}/members` `{email, role}` → 200 `{user}`.
pub async fn set_member(mut req: Request, ctx: &Ctx, tenant: &str) -> Result<Response, ApiError> {
    let (who, _) = caller(&req, ctx).await?;
    if who.kind != CredentialKind::User || who.role_in(tenant) != Some(Role::Admin) {
        return Err(ApiError::with_message(
            Reason::TenantDenied,
            "only an admin of this tenant may change its members",
        ));
    }
    let m: Membership = body::json(&mut req, ctx).await?;
    let role = match m.role.as_deref() {
        None => None,
        Some(r) => Some(Role::parse(r).ok_or_else(|| {
            ApiError::invalid_field("role", "must be viewer, editor, admin or null")
        })?),
    };
    let email = edgeauth_core::input::normalize_email(&m.email)?;
    let v = store::directory(
        &ctx.env,
        "set_tenant_role",
        json!({"email": email, "tenant": tenant, "role": role.map(Role::as_str)}),
    )
    .await?;
    Ok(http::json(200, &v))
}
