//! Live grants: what a user may do now, as the Directory holds it, and what a
//! credential may do with it (the [`Principal`] the gate decides on).
//!
//! A role in a token's `tenants` claim or in an API key record says what was
//! true when it was issued. Decisions use the Directory's current answer
//! instead, fetched per credential and cached by the worker for at most
//! [`GRANTS_MAX_AGE_MS`], so a removal or a downgrade holds everywhere within
//! that bound and at once in the isolate that made it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{ApiError, Reason};
use crate::identity::{CredentialKind, Identity, TenantReach, WhoAmI};
use crate::scope::{Role, ScopeSet};

/// How long an isolate may act on a Directory answer about a credential
/// (session or key still standing, its holder's roles) before asking again.
/// SPEC bounds revocation and role changes at 60 s everywhere.
pub const GRANTS_MAX_AGE_MS: u64 = 30_000;

/// A user's rights as the Directory holds them now.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grants {
    /// The user's own scopes (`DEFAULT_USER_SCOPES` at registration).
    pub scopes: ScopeSet,
    /// Tenant id → the user's role there.
    pub tenants: BTreeMap<String, Role>,
}

/// What the gate asks the Directory about a credential before deciding.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum StandingQuery {
    /// A worker-issued access token: is its session still open, and what
    /// does its user hold?
    Session { session_id: String, user_id: String },
    /// An API key: does it still exist, and what does its creator hold?
    ApiKey { key_id: String, user_id: String },
}

impl StandingQuery {
    /// The question to ask for a verified identity, or `None` for external
    /// tokens, which the Directory knows nothing about.
    pub fn for_identity(identity: &Identity) -> Option<StandingQuery> {
        let user_id = identity.subject.clone();
        match identity.kind {
            CredentialKind::User => Some(StandingQuery::Session {
                session_id: identity.session_id.clone()?,
                user_id,
            }),
            CredentialKind::ApiKey => Some(StandingQuery::ApiKey {
                key_id: identity.key_id.clone()?,
                user_id,
            }),
            CredentialKind::External => None,
        }
    }

    /// The user whose grants the answer carries.
    pub fn user_id(&self) -> &str {
        match self {
            StandingQuery::Session { user_id, .. } | StandingQuery::ApiKey { user_id, .. } => {
                user_id
            }
        }
    }

    /// What a revoked answer means for this credential.
    pub fn revoked(&self) -> ApiError {
        ApiError::new(match self {
            StandingQuery::Session { .. } => Reason::SessionRevoked,
            StandingQuery::ApiKey { .. } => Reason::ApiKeyRevoked,
        })
    }
}

/// The Directory's answer to a [`StandingQuery`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "standing", rename_all = "snake_case")]
pub enum Standing {
    /// The session or key stands; its user holds these grants now.
    Active { grants: Grants },
    /// The session ended or the key was deleted (or its user is gone).
    Revoked,
}

/// A verified identity together with what it may do now: the only input the
/// gate's route checks read. Built by [`Principal::resolve`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    identity: Identity,
    scopes: ScopeSet,
    roles: BTreeMap<String, Role>,
}

impl Principal {
    /// Combines a credential with its holder's current grants:
    ///
    /// - a user's token may use the scopes both its claim and the user's
    ///   current scopes allow, and acts in every tenant where the user holds
    ///   a role now;
    /// - an API key may use the scopes both its own list and its creator's
    ///   current scopes allow, and acts only in its listed tenants where the
    ///   creator still holds a role (see [`Principal::scopes_in`]);
    /// - an external token has no Directory record: its own scopes, no tenant.
    ///
    /// `grants` is `None` only for external tokens; a user credential without
    /// grants acts with nothing.
    pub fn resolve(identity: Identity, grants: Option<&Grants>) -> Principal {
        let empty = Grants::default();
        let g = grants.unwrap_or(&empty);
        let (scopes, roles) = match &identity.tenants {
            TenantReach::None => (identity.scopes.clone(), BTreeMap::new()),
            TenantReach::Held => (identity.scopes.intersect(&g.scopes), g.tenants.clone()),
            TenantReach::Listed(list) => (
                identity.scopes.intersect(&g.scopes),
                list.iter()
                    .filter_map(|t| Some((t.clone(), *g.tenants.get(t)?)))
                    .collect(),
            ),
        };
        Principal {
            identity,
            scopes,
            roles,
        }
    }

    /// Who is calling.
    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    /// The scopes this credential may use outside tenants.
    pub fn scopes(&self) -> &ScopeSet {
        &self.scopes
    }

    /// Tenant → role, where this credential may act.
    pub fn roles(&self) -> &BTreeMap<String, Role> {
        &self.roles
    }

    /// The role this credential acts with in `tenant`, if any.
    pub fn role_in(&self, tenant: &str) -> Option<Role> {
        self.roles.get(tenant).copied()
    }

    /// The scopes this credential may use in `tenant`: the role's for a user
    /// ("no scope beyond the role's"), the key's own list intersected with
    /// its creator's role for an API key (a `scans:read` key of an admin
    /// reads scans and writes nothing). `None` without a role there.
    pub fn scopes_in(&self, tenant: &str) -> Option<ScopeSet> {
        let role = self.role_in(tenant)?.scopes();
        Some(match self.identity.kind {
            CredentialKind::ApiKey => self.identity.scopes.intersect(&role),
            CredentialKind::User | CredentialKind::External => role,
        })
    }

    /// The `GET /v1/auth/whoami` answer: the scopes and roles it may use now.
    pub fn whoami(&self) -> WhoAmI {
        let id = &self.identity;
        WhoAmI {
            kind: id.kind,
            subject: id.subject.clone(),
            email: id.email.clone(),
            name: id.name.clone(),
            scopes: self.scopes.to_vec(),
            tenants: self.roles.clone(),
            expires_at: id.expires_at.map(crate::time::rfc3339),
            key_id: id.key_id.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn set(s: &str) -> ScopeSet {
        ScopeSet::parse(s).unwrap()
    }

    fn grants(scopes: &str, tenants: &[(&str, Role)]) -> Grants {
        Grants {
            scopes: set(scopes),
            tenants: tenants.iter().map(|(t, r)| (t.to_string(), *r)).collect(),
        }
    }

    fn key(scopes: &str, tenants: &[&str]) -> Identity {
        let mut id = Identity::new(CredentialKind::ApiKey, "usr_1", set(scopes));
        id.tenants = TenantReach::Listed(tenants.iter().map(|t| t.to_string()).collect());
        id.key_id = Some("key_1".into());
        id
    }

    #[test]
    fn a_users_roles_come_from_the_directory_not_the_token() {
        let token = Identity::new(CredentialKind::User, "usr_1", set("*"));
        let now = grants("scans:read", &[("demo", Role::Viewer)]);
        let p = Principal::resolve(token.clone(), Some(&now));
        assert_eq!(p.scopes(), &set("scans:read"));
        assert_eq!(p.role_in("demo"), Some(Role::Viewer));
        assert_eq!(p.scopes_in("demo"), Some(set("*:read")));
        assert_eq!(p.role_in("acme"), None);
        // Removed from every tenant: nothing, whatever the token said.
        let p = Principal::resolve(token.clone(), Some(&grants("*", &[])));
        assert!(p.roles().is_empty());
        // No answer: nothing at all.
        let p = Principal::resolve(token, None);
        assert!(p.scopes().is_empty() && p.roles().is_empty());
    }

    #[test]
    fn a_key_is_bounded_by_its_list_and_its_creators_current_role() {
        let k = key("scans:read", &["demo"]);
        let admin = grants("*", &[("demo", Role::Admin), ("acme", Role::Admin)]);
        let p = Principal::resolve(k.clone(), Some(&admin));
        assert_eq!(p.scopes_in("demo"), Some(set("scans:read")));
        assert!(!p.scopes_in("demo").unwrap().permits_action("write"));
        assert_eq!(p.role_in("acme"), None, "not a tenant the key lists");

        let wide = key("*", &["demo"]);
        let viewer = grants("*", &[("demo", Role::Viewer)]);
        let p = Principal::resolve(wide.clone(), Some(&viewer));
        assert_eq!(p.scopes_in("demo"), Some(set("*:read")));

        // The creator left the tenant: the key acts there with nothing.
        let p = Principal::resolve(wide, Some(&grants("*", &[])));
        assert_eq!(p.scopes_in("demo"), None);

        // Outside tenants, the creator's current scopes bound the key's.
        let p = Principal::resolve(
            key("scans:* drifts:read", &[]),
            Some(&grants("scans:read", &[])),
        );
        assert_eq!(p.scopes(), &set("scans:read"));
    }

    #[test]
    fn external_tokens_keep_their_scopes_and_get_no_tenant() {
        let ext = Identity::new(CredentialKind::External, "sub", set("scans:read"));
        let p = Principal::resolve(ext, None);
        assert_eq!(p.scopes(), &set("scans:read"));
        assert!(p.roles().is_empty());
    }

    #[test]
    fn whoami_reports_what_may_be_used_now() {
        let mut k = key("scans:read drifts:read", &["demo", "gone"]);
        k.expires_at = Some(0);
        let g = grants("*", &[("demo", Role::Admin)]);
        let v = serde_json::to_value(Principal::resolve(k, Some(&g)).whoami()).unwrap();
        assert_eq!(
            v,
            json!({
                "kind": "api_key", "subject": "usr_1", "scopes": ["scans:read", "drifts:read"],
                "tenants": {"demo": "admin"}, "expires_at": "1970-01-01T00:00:00Z", "key_id": "key_1"
            })
        );
    }

    #[test]
    fn standing_round_trips_as_tagged_json() {
        let a = Standing::Active {
            grants: grants("*", &[("demo", Role::Editor)]),
        };
        let v = serde_json::to_value(&a).unwrap();
        assert_eq!(
            v,
            json!({"standing": "active", "grants": {"scopes": ["*"], "tenants": {"demo": "editor"}}})
        );
        assert_eq!(serde_json::from_value::<Standing>(v).unwrap(), a);
        let q = StandingQuery::Session {
            session_id: "ses_1".into(),
            user_id: "usr_1".into(),
        };
        assert_eq!(q.revoked().reason, Reason::SessionRevoked);
        assert_eq!(q.user_id(), "usr_1");
    }
}
