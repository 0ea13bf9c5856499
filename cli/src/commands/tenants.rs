//! `edgeauth tenants members ...`: list a tenant's members, set a member's role, remove a member.

use edgeauth_core::scope::Role;
use edgeauth_core::Reason;
use serde_json::{json, Value};

use crate::app::{emit, emit_json, App, Call};
use crate::args::{MembersCommand, TenantsCommand};
use crate::failure::{Failure, Hints};
use crate::output;

pub fn run(app: &mut App, command: TenantsCommand) -> Result<(), Failure> {
    match command {
        TenantsCommand::Members(MembersCommand::List { tenant }) => list(app, &tenant),
        TenantsCommand::Members(MembersCommand::Set(args)) => {
            set(app, &args.tenant, &args.email, Some(args.role))
        }
        TenantsCommand::Members(MembersCommand::Remove { tenant, email }) => {
            set(app, &tenant, &email, None)
        }
    }
}

/// The tenant's members endpoint. Tenant ids are the operator's words, so
/// the id is percent-encoded as one path segment rather than refused.
pub fn members_path(tenant: &str) -> Result<String, Failure> {
    edgeauth_core::client::paths::members_path(tenant)
        .ok_or_else(|| Failure::Usage("TENANT must not be empty".into()))
}

/// The `PUT` body. `role: null` is how the API removes a member, so it is
/// always sent, never left out.
pub fn membership_body(email: &str, role: Option<Role>) -> Value {
    json!({ "email": email, "role": role.map(Role::as_str) })
}

fn list(app: &mut App, tenant: &str) -> Result<(), Failure> {
    let path = members_path(tenant)?;
    let mut active = app.credential()?;
    let hints = active.hints(&app.target);
    let listed: Value = app
        .expect_ok(&mut active, &Call::new("GET", &path))
        .map_err(|f| in_tenant(f, tenant, false, &hints))?
        .json()?;
    if app.json {
        emit_json(&listed);
    } else {
        let members = listed["members"].as_array().cloned().unwrap_or_default();
        emit(&output::members_table(tenant, &members));
    }
    Ok(())
}

fn set(app: &mut App, tenant: &str, email: &str, role: Option<Role>) -> Result<(), Failure> {
    let path = members_path(tenant)?;
    let body = membership_body(email, role);
    let mut active = app.credential()?;
    let hints = active.hints(&app.target);
    let answer: Value = app
        .expect_ok(&mut active, &Call::new("PUT", &path).json(&body))
        .map_err(|f| in_tenant(f, tenant, true, &hints))?
        .json()?;
    if app.json {
        emit_json(&answer);
    } else {
        emit(&output::membership_text(&answer));
    }
    Ok(())
}

/// Rewords "what to do next" for the refusals that mean something particular
/// in a tenant; the status, reason and exit code stay as they were.
pub fn in_tenant(failure: Failure, tenant: &str, changing: bool, hints: &Hints) -> Failure {
    let list_cmd = hints.quoted(&format!("tenants members list {tenant}"));
    match failure {
        Failure::Refused { refusal, .. } if refusal.reason() == Some(Reason::TenantDenied) => {
            let next = if changing {
                format!("only an admin of {tenant} can change its members ({list_cmd} names them)")
            } else {
                format!(
                    "this credential holds no role in {tenant} ({} lists its tenants): \
                     ask an admin of {tenant} to add you",
                    hints.quoted("auth status")
                )
            };
            Failure::Refused { refusal, next }
        }
        Failure::Api { refusal, .. } if refusal.reason() == Some(Reason::NotFound) => {
            let next = Some("check the email, or have them create an account first".into());
            Failure::Api { refusal, next }
        }
        // Matched on the wire word: it is the contract's, whether or not this
        // build's core knows it yet.
        Failure::Api { refusal, .. } if refusal.reason.as_deref() == Some("last_admin") => {
            let next = Some(format!(
                "make another member an admin first ({}), then try again",
                hints.quoted(&format!(
                    "tenants members set {tenant} --email EMAIL --role admin"
                ))
            ));
            Failure::Api { refusal, next }
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::failure::{exit, ApiRefusal};

    #[test]
    fn tenant_ids_are_one_encoded_segment() {
        assert_eq!(members_path("acme").unwrap(), "/v1/tenants/acme/members");
        assert_eq!(
            members_path("ac me/../x?y#é").unwrap(),
            "/v1/tenants/ac%20me%2F..%2Fx%3Fy%23%C3%A9/members"
        );
        assert_eq!(members_path("").unwrap_err().exit_code(), exit::USAGE);
    }

    #[test]
    fn removing_sends_role_null() {
        assert_eq!(
            membership_body("dev@acme.test", Some(Role::Editor)),
            json!({"email": "dev@acme.test", "role": "editor"})
        );
        let removal = membership_body("dev@acme.test", None);
        assert_eq!(removal, json!({"email": "dev@acme.test", "role": null}));
        assert_eq!(
            removal.to_string(),
            r#"{"email":"dev@acme.test","role":null}"#
        );
    }

    fn refusal(status: u16, reason: &str) -> ApiRefusal {
        ApiRefusal {
            refusal: edgeauth_core::client::Refusal {
                status,
                code: None,
                reason: Some(reason.to_string()),
                message: Some("m".into()),
            },
            retry_after_s: None,
        }
    }

    #[test]
    fn tenant_refusals_say_what_to_do_and_keep_their_exit_codes() {
        let h = Hints::default();
        let denied = |changing| {
            in_tenant(
                Failure::from_refusal(refusal(403, "tenant_denied"), &h),
                "acme",
                changing,
                &h,
            )
        };
        let f = denied(true);
        assert_eq!(f.exit_code(), exit::AUTH);
        assert!(f.to_string().contains("only an admin of acme"), "{f}");
        assert!(
            f.to_string()
                .contains("`edgeauth tenants members list acme`"),
            "{f}"
        );
        let f = denied(false);
        assert_eq!(f.exit_code(), exit::AUTH);
        assert!(f.to_string().contains("no role in acme"), "{f}");

        let f = in_tenant(
            Failure::from_refusal(refusal(409, "last_admin"), &h),
            "acme",
            true,
            &h,
        );
        assert_eq!(f.exit_code(), exit::FAILURE);
        assert!(f.to_string().contains("(409 last_admin)"), "{f}");
        assert!(f.to_string().contains("--role admin"), "{f}");

        let f = in_tenant(
            Failure::from_refusal(refusal(404, "not_found"), &h),
            "acme",
            true,
            &h,
        );
        assert_eq!(f.exit_code(), exit::FAILURE);
        assert!(f.to_string().contains("create an account first"), "{f}");

        // Anything else is left as the generic hints put it.
        let f = in_tenant(
            Failure::from_refusal(refusal(401, "token_expired"), &h),
            "acme",
            true,
            &h,
        );
        assert!(f.to_string().ends_with("run `edgeauth auth login`"), "{f}");
    }
}
