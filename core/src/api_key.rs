//! The stored form of an API key (KV, keyed by the key's hash) and what it grants.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::error::{ApiError, Reason};
use crate::identity::{CredentialKind, Identity, ResourceGrant, TenantReach};
use crate::ip::IpAllowList;
use crate::scope::ScopeSet;
use crate::time::rfc3339;

/// An API key record. The key itself is never stored; `prefix` lets people recognise it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKeyRecord {
    pub id: String,
    /// The user who created it: the key's subject.
    pub user_id: String,
    pub name: String,
    pub prefix: String,
    pub scopes: Vec<String>,
    pub all_resources: bool,
    pub resources: Vec<String>,
    /// The tenants the key may act in, with its creator's role there *now*
    /// (never a role copied at creation: see [`crate::grants`]).
    pub tenants: Vec<String>,
    pub allowed_ips: Vec<String>,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    #[serde(default)]
    pub revoked_at: Option<i64>,
}

impl ApiKeyRecord {
    /// SPEC's key object (without `key`): times as RFC 3339, tenants as a list of ids.
    pub fn public(&self) -> Value {
        json!({
            "id": self.id,
            "name": self.name,
            "prefix": self.prefix,
            "scopes": self.scopes,
            "all_resources": self.all_resources,
            "resources": self.resources,
            "tenants": self.tenants,
            "allowed_ips": self.allowed_ips,
            "created_at": rfc3339(self.created_at),
            "expires_at": self.expires_at.map(rfc3339),
        })
    }

    /// Revocation, then expiry.
    pub fn check_usable(&self, now_s: i64) -> Result<(), ApiError> {
        if self.revoked_at.is_some() {
            return Err(ApiError::new(Reason::ApiKeyRevoked));
        }
        if self.expires_at.is_some_and(|e| now_s >= e) {
            return Err(ApiError::new(Reason::ApiKeyExpired));
        }
        Ok(())
    }

    /// Who presents this key, for the route checks. A stored value that no longer
    /// parses grants nothing rather than failing open.
    pub fn identity(&self) -> Identity {
        Identity {
            kind: CredentialKind::ApiKey,
            subject: self.user_id.clone(),
            issuer: None,
            email: None,
            name: None,
            scopes: ScopeSet::from_list(&self.scopes).unwrap_or_default(),
            tenants: TenantReach::Listed(self.tenants.clone()),
            resources: if self.all_resources {
                ResourceGrant::All
            } else {
                ResourceGrant::Only(self.resources.clone())
            },
            allowed_ips: IpAllowList::parse(&self.allowed_ips).unwrap_or_else(|_| deny_all()),
            key_id: Some(self.id.clone()),
            session_id: None,
            expires_at: self.expires_at,
        }
    }
}

/// A list that admits no address (the unspecified addresses never connect).
fn deny_all() -> IpAllowList {
    IpAllowList::parse(&["0.0.0.0/32", "::/128"]).unwrap_or_else(|_| IpAllowList::any())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> ApiKeyRecord {
        ApiKeyRecord {
            id: "key_1".into(),
            user_id: "usr_1".into(),
            name: "CI".into(),
            prefix: "ea_live_abcd".into(),
            scopes: vec!["scans:read".into()],
            all_resources: false,
            resources: vec!["r1".into()],
            tenants: vec!["demo".to_string()],
            allowed_ips: vec!["10.0.0.0/8".into()],
            created_at: 0,
            expires_at: Some(100),
            revoked_at: None,
        }
    }

    #[test]
    fn public_shape_hides_owner_and_lists_tenant_ids() {
        let v = record().public();
        assert_eq!(v["tenants"], json!(["demo"]));
        assert_eq!(v["expires_at"], "1970-01-01T00:01:40Z");
        assert!(v.get("user_id").is_none() && v.get("key").is_none());
    }

    #[test]
    fn revoked_then_expired() {
        assert!(record().check_usable(99).is_ok());
        assert_eq!(
            record().check_usable(100).unwrap_err().reason,
            Reason::ApiKeyExpired
        );
        let revoked = ApiKeyRecord {
            revoked_at: Some(1),
            ..record()
        };
        assert_eq!(
            revoked.check_usable(100).unwrap_err().reason,
            Reason::ApiKeyRevoked
        );
    }

    #[test]
    fn identity_carries_the_restrictions() {
        let id = record().identity();
        assert_eq!(id.kind, CredentialKind::ApiKey);
        assert_eq!(id.subject, "usr_1");
        assert_eq!(id.key_id.as_deref(), Some("key_1"));
        assert!(!id.allowed_ips.allows(Some("192.168.0.1".parse().unwrap())));
        assert!(id.allowed_ips.allows(Some("10.1.2.3".parse().unwrap())));
    }
}
