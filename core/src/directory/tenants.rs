//! Tenant membership: listing members and setting one member's role, with
//! the rule that a tenant never loses its last admin by that admin's hand.

use serde::{Deserialize, Serialize};

use crate::error::{ApiError, Reason};
use crate::scope::Role;

use super::records::Member;
use super::store::Store;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum TenantCommand {
    ListMembers {
        tenant: String,
    },
    /// Gives `email` the role (or, with `None`, removes them). The gate has
    /// already checked that `actor_id` is an admin of the tenant now.
    SetMember {
        tenant: String,
        email: String,
        role: Option<Role>,
        actor_id: String,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum TenantOutcome {
    Members {
        members: Vec<Member>,
    },
    /// The member's new role; `user_id` tells the worker whose cached
    /// grants to drop in its isolate (it is never answered to the client).
    MemberSet {
        user_id: String,
        tenant: String,
        email: String,
        role: Option<Role>,
    },
}

pub fn run<S: Store>(store: &mut S, c: TenantCommand) -> Result<TenantOutcome, ApiError> {
    match c {
        TenantCommand::ListMembers { tenant } => Ok(TenantOutcome::Members {
            members: store.members(&tenant)?,
        }),
        TenantCommand::SetMember {
            tenant,
            email,
            role,
            actor_id,
        } => {
            let mut user = store.user_by_email(&email)?.ok_or_else(|| {
                ApiError::with_message(Reason::NotFound, "no user has this email")
            })?;
            let stepping_down = user.id == actor_id
                && user.tenants.get(&tenant) == Some(&Role::Admin)
                && role != Some(Role::Admin);
            if stepping_down {
                let admins = store
                    .members(&tenant)?
                    .into_iter()
                    .filter(|m| m.role == Role::Admin)
                    .count();
                if admins <= 1 {
                    return Err(ApiError::new(Reason::LastAdmin));
                }
            }
            match role {
                Some(r) => user.tenants.insert(tenant.clone(), r),
                None => user.tenants.remove(&tenant),
            };
            store.update_user(&user)?;
            Ok(TenantOutcome::MemberSet {
                user_id: user.id,
                tenant,
                email: user.email,
                role,
            })
        }
    }
}
