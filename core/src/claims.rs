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
use serde_json::{Map, Value};

/// A token's scopes as words, by one rule for the worker and every client: `scope`
/// when the token has it (space-separated; any other type grants nothing), else
/// `scp` (space-separated, or a list whose strings count). A token that carries
/// both is read by `scope` alone, so no client shows scopes the gateway would not grant.
pub fn scope_words(claims: &Map<String, Value>) -> Vec<&str> {
    match (claims.get("scope"), claims.get("scp")) {
        (Some(Value::String(s)), _) | (None, Some(Value::String(s))) => {
            s.split_whitespace().collect()
        }
        (None, Some(Value::Array(list))) => list
            .iter()
            .filter_map(Value::as_str)
            .flat_map(str::split_whitespace)
            .collect(),
        _ => Vec::new(),
    }
}

/// Who a verified token speaks for. The worker's own tokens are users; external tokens
/// carry `sub`, and their scopes in `scope` or `scp` (space-separated, or a list).
/// No roles are read from any token: a user's come from the Directory when the request
/// is decided, and an external IdP has none here. Claims that do not parse grant nothing.
pub fn identity_from_token(t: &VerifiedToken) -> Identity {
    let c = t.claims();
    let s = |k: &str| c.get(k).and_then(Value::as_str).map(str::to_string);
    let scopes = ScopeSet::parse_lossy(&scope_words(c).join(" "));
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn words(v: Value) -> Vec<String> {
        let Value::Object(m) = v else { panic!() };
        scope_words(&m).into_iter().map(str::to_string).collect()
    }

    #[test]
    fn scope_first_then_scp_as_a_string_or_a_list() {
        assert_eq!(words(json!({"scope": "a:read  b:*"})), ["a:read", "b:*"]);
        assert_eq!(
            words(json!({"scp": "a:read b:write"})),
            ["a:read", "b:write"]
        );
        assert_eq!(
            words(json!({"scp": ["a:read", 7, "b:write"]})),
            ["a:read", "b:write"]
        );
        assert_eq!(words(json!({"scope": "x", "scp": ["y"]})), ["x"]);
        // A `scope` of another type is present, and grants nothing: `scp` does not stand in.
        assert!(words(json!({"scope": ["x"], "scp": "y"})).is_empty());
        assert!(words(json!({"scope": 1, "scp": ["y"]})).is_empty());
        assert!(words(json!({"sub": "u"})).is_empty());
    }
}
