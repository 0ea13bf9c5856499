//! Who is calling: the identity a verified credential stands for, whatever its kind.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::ip::IpAllowList;
use crate::scope::{Role, ScopeSet};

/// The kind of credential behind an identity. Serialized as `user`,
/// `api_key`, `external` (whoami's `kind`, `x-edgeauth-kind`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CredentialKind {
    /// An access token of the worker's own issuer.
    User,
    /// An `ea_live_`/`ea_test_` key.
    ApiKey,
    /// A JWT from a configured external issuer.
    External,
}

impl CredentialKind {
    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            CredentialKind::User => "user",
            CredentialKind::ApiKey => "api_key",
            CredentialKind::External => "external",
        }
    }
}

/// Which resources (`resource_param` values) an identity may act on.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum ResourceGrant {
    /// Every resource, current and future.
    #[default]
    All,
    /// Only these resource ids.
    Only(Vec<String>),
}

impl ResourceGrant {
    /// Builds a grant from an API key's `all_resources` and `resources`.
    pub fn from_parts(all_resources: bool, resources: Vec<String>) -> ResourceGrant {
        if all_resources {
            ResourceGrant::All
        } else {
            ResourceGrant::Only(resources)
        }
    }

    /// Whether the grant includes this resource id.
    pub fn allows(&self, resource: &str) -> bool {
        match self {
            ResourceGrant::All => true,
            ResourceGrant::Only(list) => list.iter().any(|r| r == resource),
        }
    }

    /// Whether every resource `other` allows is allowed here.
    pub fn covers(&self, other: &ResourceGrant) -> bool {
        match (self, other) {
            (ResourceGrant::All, _) => true,
            (ResourceGrant::Only(_), ResourceGrant::All) => false,
            (ResourceGrant::Only(_), ResourceGrant::Only(theirs)) => {
                theirs.iter().all(|r| self.allows(r))
            }
        }
    }

    /// The API's `all_resources` field.
    pub fn is_all(&self) -> bool {
        matches!(self, ResourceGrant::All)
    }

    /// The API's `resources` field (`[]` for `All`).
    pub fn list(&self) -> &[String] {
        match self {
            ResourceGrant::All => &[],
            ResourceGrant::Only(list) => list,
        }
    }
}

/// Where a credential may act in tenants. Roles themselves are never read
/// from a credential: they are the Directory's, looked up when the request is
/// decided (see [`crate::grants`]). A token's `tenants` claim is a snapshot
/// for clients to show, and grants nothing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TenantReach {
    /// A user's own credential: wherever the user holds a role now.
    Held,
    /// An API key: only in these tenants, with its creator's current role.
    Listed(Vec<String>),
    /// An external token: no tenant (an outside IdP does not make roles here).
    None,
}

/// A caller whose credential has been verified (signature, expiry). What it
/// may do is decided by the gate ([`crate::gate`]), over the grants the
/// Directory holds now ([`crate::grants::Principal`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    pub kind: CredentialKind,
    /// The user id (for an API key, the id of the user who owns it; for an
    /// external token, its `sub`).
    pub subject: String,
    /// For external tokens, the `iss` that vouches for `subject`.
    pub issuer: Option<String>,
    pub email: Option<String>,
    pub name: Option<String>,
    /// The scopes the credential itself carries (an upper bound: what it may
    /// use is also bounded by its holder's current grants).
    pub scopes: ScopeSet,
    pub tenants: TenantReach,
    pub resources: ResourceGrant,
    pub allowed_ips: IpAllowList,
    /// The API key's id, for API keys.
    pub key_id: Option<String>,
    /// The session, for the worker's own access tokens.
    pub session_id: Option<String>,
    /// When the credential stops working, Unix seconds.
    pub expires_at: Option<i64>,
}

impl Identity {
    /// An identity of `kind` for `subject` holding `scopes`, with the tenant
    /// reach of its kind, all resources, any address and nothing else set;
    /// callers fill in the rest.
    pub fn new(kind: CredentialKind, subject: impl Into<String>, scopes: ScopeSet) -> Identity {
        Identity {
            kind,
            subject: subject.into(),
            issuer: None,
            email: None,
            name: None,
            scopes,
            tenants: match kind {
                CredentialKind::User => TenantReach::Held,
                CredentialKind::ApiKey => TenantReach::Listed(Vec::new()),
                CredentialKind::External => TenantReach::None,
            },
            resources: ResourceGrant::All,
            allowed_ips: IpAllowList::any(),
            key_id: None,
            session_id: None,
            expires_at: None,
        }
    }
}

/// The body of `GET /v1/auth/whoami` (SPEC "Auth endpoints"); absent optional
/// fields are left out.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WhoAmI {
    pub kind: CredentialKind,
    pub subject: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub scopes: Vec<String>,
    pub tenants: BTreeMap<String, Role>,
    /// RFC 3339 UTC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn kinds_serialize_as_the_contract_says() {
        assert_eq!(
            serde_json::to_value(CredentialKind::User).unwrap(),
            json!("user")
        );
        assert_eq!(
            serde_json::to_value(CredentialKind::ApiKey).unwrap(),
            json!("api_key")
        );
        assert_eq!(
            serde_json::to_value(CredentialKind::External).unwrap(),
            json!("external")
        );
        assert_eq!(
            serde_json::from_value::<CredentialKind>(json!("api_key")).unwrap(),
            CredentialKind::ApiKey
        );
        assert_eq!(CredentialKind::ApiKey.as_str(), "api_key");
    }

    #[test]
    fn resource_grants() {
        let some = ResourceGrant::Only(vec!["r1".into(), "r2".into()]);
        assert!(some.allows("r1"));
        assert!(!some.allows("r3"));
        assert!(!some.allows(""));
        assert!(ResourceGrant::All.allows("anything"));
        assert!(ResourceGrant::All.covers(&some));
        assert!(!some.covers(&ResourceGrant::All));
        assert!(some.covers(&ResourceGrant::Only(vec!["r2".into()])));
        assert!(!some.covers(&ResourceGrant::Only(vec!["r2".into(), "r9".into()])));
        assert!(some.covers(&ResourceGrant::Only(vec![])));
        assert!(!ResourceGrant::Only(vec![]).allows("r1"));
        assert_eq!(
            ResourceGrant::from_parts(true, vec!["x".into()]),
            ResourceGrant::All
        );
        assert_eq!(some.list(), ["r1", "r2"]);
        assert!(ResourceGrant::All.list().is_empty());
        assert!(ResourceGrant::All.is_all());
    }
}
