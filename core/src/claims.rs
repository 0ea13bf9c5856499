//! The claims of the worker's own access tokens (SPEC "Credentials").

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use crate::scope::Role;

/// What an access token says about its holder. Only the worker's own issuer mints these.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    pub iss: String,
    pub aud: String,
    /// The user id.
    pub sub: String,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
    /// The session id: revoking the session revokes the token.
    pub sid: String,
    pub email: String,
    /// The user's display name (beyond SPEC's list; whoami shows it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Space-separated scopes.
    pub scope: String,
    /// Tenant id → role.
    pub tenants: BTreeMap<String, Role>,
}

use crate::identity::{CredentialKind, Identity, ResourceGrant, TenantReach};
use crate::ip::IpAllowList;
use crate::jwt::{IssuerKind, VerifiedToken};
use crate::scope::ScopeSet;
use serde_json::Value;

/// Who a verified token speaks for. The worker's own tokens are users; external tokens
/// carry `sub`, and their scopes in `scope` or `scp` (space-separated, or a list).
/// No roles are read from any token: a user's come from the Directory when the request
/// is decided, and an external IdP has none here. Claims that do not parse grant nothing.
pub fn identity_from_token(t: &VerifiedToken) -> Identity {
    let c = t.claims();
    let s = |k: &str| c.get(k).and_then(Value::as_str).map(str::to_string);
    let scopes = match (c.get("scope"), c.get("scp")) {
        (Some(Value::String(s)), _) | (None, Some(Value::String(s))) => ScopeSet::parse_lossy(s),
        (_, Some(Value::Array(list))) => ScopeSet::parse_lossy(
            &list
                .iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(" "),
        ),
        _ => ScopeSet::default(),
    };
    let own = t.issuer_kind() == IssuerKind::Own;
    Identity {
        kind: if own {
            CredentialKind::User
        } else {
            CredentialKind::External
        },
        subject: s("sub").unwrap_or_default(),
        issuer: if own { None } else { s("iss") },
        email: s("email"),
        name: s("name"),
        scopes,
        // Roles are the Directory's; the `tenants` claim is a snapshot for clients.
        tenants: if own {
            TenantReach::Held
        } else {
            TenantReach::None
        },
        resources: ResourceGrant::All,
        allowed_ips: IpAllowList::any(),
        key_id: None,
        session_id: if own { s("sid") } else { None },
        expires_at: Some(t.exp()),
    }
}
