//! The route checks of the gate: scope, tenant, resource, IP, in SPEC's order,
//! over a [`Principal`] (a credential with its holder's current grants).

use std::net::IpAddr;

use crate::endpoint::Requirement;
use crate::error::{ApiError, Reason};
use crate::grants::Principal;
use crate::identity::CredentialKind;
use crate::policy::RouteMatch;
use crate::scope::{Scope, ScopeSet};

/// The action a tenant route with no scopes of its own asks of the role:
/// `read` for GET and HEAD, `write` for every other method.
fn implied_tenant_action(method: &str) -> &'static str {
    if matches!(method, "GET" | "HEAD") {
        "read"
    } else {
        "write"
    }
}

/// What passed the route checks: the tenant of a tenant route, and the scopes
/// the credential may use on this route (forwarded as `x-edgeauth-scopes`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteGrant {
    pub tenant: Option<String>,
    pub scopes: ScopeSet,
}

/// Decides whether `principal` may make the matched request from `client_ip`,
/// checking in SPEC's order, the first failure naming the reason:
///
/// 1. scope: the credential's usable scopes grant every scope the route
///    lists, else `insufficient_scope`;
/// 2. tenant (routes with `tenant_param`): the credential acts in that
///    tenant now, else `tenant_denied`; its scopes there grant the route's
///    scopes, or, when the route lists none, the method's action (`read` for
///    GET and HEAD, `write` otherwise), else `insufficient_scope`;
/// 3. resource (routes with `resource_param`): the credential's resources
///    include it, else `resource_denied`;
/// 4. IP: the credential's allow list admits `client_ip`, else `ip_denied`.
pub fn authorize_route(
    principal: &Principal,
    matched: &RouteMatch<'_>,
    client_ip: Option<IpAddr>,
) -> Result<RouteGrant, ApiError> {
    let route = matched.route;
    let id = principal.identity();

    if !principal.scopes().grants_all(&route.scopes) {
        return Err(ApiError::insufficient_scope(&route.scope_strings()));
    }

    let mut grant = RouteGrant {
        tenant: None,
        scopes: principal.scopes().clone(),
    };
    if route.tenant_param.is_some() {
        let name = matched
            .tenant()
            .ok_or_else(|| ApiError::new(Reason::TenantDenied))?;
        let in_tenant = principal
            .scopes_in(name)
            .ok_or_else(|| ApiError::new(Reason::TenantDenied))?;
        if route.scopes.is_empty() {
            let action = implied_tenant_action(&matched.method);
            if !in_tenant.permits_action(action) {
                return Err(ApiError::insufficient_scope(&[format!("tenant:{action}")]));
            }
        } else if !in_tenant.grants_all(&route.scopes) {
            return Err(ApiError::insufficient_scope(&route.scope_strings()));
        }
        grant = RouteGrant {
            tenant: Some(name.to_string()),
            scopes: in_tenant,
        };
    }

    if route.resource_param.is_some() {
        let allowed = matched.resource().is_some_and(|r| id.resources.allows(r));
        if !allowed {
            return Err(ApiError::new(Reason::ResourceDenied));
        }
    }

    check_ip(principal, client_ip)?;
    Ok(grant)
}

/// Decides an endpoint of the worker's own against its [`Requirement`], in
/// the same order as routes (scope or kind, tenant, then IP).
pub fn authorize_endpoint(
    principal: &Principal,
    requirement: &Requirement,
    client_ip: Option<IpAddr>,
) -> Result<Option<String>, ApiError> {
    let id = principal.identity();
    let mut tenant = None;
    match requirement {
        Requirement::Public | Requirement::AnyCredential => {}
        Requirement::UserSession(what) => {
            if id.kind != CredentialKind::User || id.session_id.is_none() {
                return Err(ApiError::with_message(
                    Reason::InsufficientScope,
                    format!("{what} needs a signed-in user's access token"),
                ));
            }
        }
        Requirement::KeyManagement(needed) => {
            // A user manages their own keys with their session; a key needs the scope.
            let by_key = id.kind == CredentialKind::ApiKey;
            let scope = Scope::parse(needed).unwrap_or_else(|_| Scope::all());
            if id.kind == CredentialKind::External || (by_key && !principal.scopes().grants(&scope))
            {
                return Err(ApiError::insufficient_scope(&[needed.to_string()]));
            }
        }
        Requirement::TenantRole {
            tenant: t,
            min,
            key_scope,
        } => {
            let deny = || {
                ApiError::with_message(
                    Reason::TenantDenied,
                    format!("this needs the {min} role in tenant '{t}'"),
                )
            };
            let role = principal.role_in(t).ok_or_else(deny)?;
            if role < *min {
                return Err(deny());
            }
            if id.kind == CredentialKind::ApiKey {
                let scope = Scope::parse(key_scope).unwrap_or_else(|_| Scope::all());
                if !principal.scopes_in(t).is_some_and(|s| s.grants(&scope)) {
                    return Err(ApiError::insufficient_scope(&[key_scope.to_string()]));
                }
            }
            tenant = Some(t.clone());
        }
    }
    check_ip(principal, client_ip)?;
    Ok(tenant)
}

fn check_ip(principal: &Principal, client_ip: Option<IpAddr>) -> Result<(), ApiError> {
    if principal.identity().allowed_ips.allows(client_ip) {
        Ok(())
    } else {
        Err(ApiError::new(Reason::IpDenied))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grants::Grants;
    use crate::identity::{Identity, ResourceGrant, TenantReach};
    use crate::ip::IpAllowList;
    use crate::policy::Policy;
    use crate::scope::Role;

    fn set(s: &str) -> ScopeSet {
        ScopeSet::parse(s).unwrap()
    }

    fn user(roles: &[(&str, Role)]) -> Principal {
        let id = Identity::new(CredentialKind::User, "usr_1", set("*"));
        principal(id, "*", roles)
    }

    fn principal(id: Identity, scopes: &str, roles: &[(&str, Role)]) -> Principal {
        let g = Grants {
            scopes: set(scopes),
            tenants: roles.iter().map(|(t, r)| (t.to_string(), *r)).collect(),
        };
        Principal::resolve(id, Some(&g))
    }

    fn key(scopes: &str, tenants: &[&str]) -> Identity {
        let mut id = Identity::new(CredentialKind::ApiKey, "usr_1", set(scopes));
        id.tenants = TenantReach::Listed(tenants.iter().map(|t| t.to_string()).collect());
        id.key_id = Some("key_1".into());
        id
    }

    fn reason<T: std::fmt::Debug>(r: Result<T, ApiError>) -> Reason {
        r.unwrap_err().reason
    }

    #[test]
    fn first_failing_check_names_the_reason() {
        let p = Policy::from_json(
            r#"{"routes": [{"method": "*", "path": "/t/:tenant/r/:repo", "scopes": ["scans:read"], "tenant_param": "tenant", "resource_param": "repo"}]}"#,
        )
        .unwrap();
        let m = p.match_request("GET", "/t/demo/r/r9").unwrap();
        let mut id = key("drifts:read", &["demo"]);
        id.resources = ResourceGrant::Only(vec!["r1".into()]);
        id.allowed_ips = IpAllowList::parse(&["10.0.0.1"]).unwrap();
        let from = Some("192.0.2.1".parse().unwrap());
        let at = |id: &Identity, roles: &[(&str, Role)]| {
            authorize_route(&principal(id.clone(), "*", roles), &m, from)
        };
        assert_eq!(reason(at(&id, &[])), Reason::InsufficientScope);
        id.scopes = set("scans:read");
        assert_eq!(reason(at(&id, &[])), Reason::TenantDenied);
        assert_eq!(
            reason(at(&id, &[("demo", Role::Viewer)])),
            Reason::ResourceDenied
        );
        id.resources = ResourceGrant::Only(vec!["r9".into()]);
        assert_eq!(reason(at(&id, &[("demo", Role::Viewer)])), Reason::IpDenied);
        let ok = authorize_route(
            &principal(id, "*", &[("demo", Role::Viewer)]),
            &m,
            Some("10.0.0.1".parse().unwrap()),
        )
        .unwrap();
        assert_eq!(ok.tenant.as_deref(), Some("demo"));
        assert_eq!(ok.scopes, set("scans:read"));
    }

    #[test]
    fn tenant_actions_follow_the_method() {
        let p = Policy::default_policy();
        let get = p.match_request("GET", "/api/v1/tenants/demo/x").unwrap();
        let del = p.match_request("DELETE", "/api/v1/tenants/demo/x").unwrap();
        let viewer = user(&[("demo", Role::Viewer)]);
        assert!(authorize_route(&viewer, &get, None).is_ok());
        let e = authorize_route(&viewer, &del, None).unwrap_err();
        assert_eq!(e.reason, Reason::InsufficientScope);
        assert_eq!(e.required_scopes, vec!["tenant:write"]);
        assert!(authorize_route(&user(&[("demo", Role::Editor)]), &del, None).is_ok());
        assert_eq!(
            reason(authorize_route(
                &user(&[("other", Role::Admin)]),
                &get,
                None
            )),
            Reason::TenantDenied
        );
    }

    #[test]
    fn endpoint_requirements() {
        let admin = user(&[("demo", Role::Admin)]);
        let viewer = user(&[("demo", Role::Viewer)]);
        let set_member = Requirement::TenantRole {
            tenant: "demo".into(),
            min: Role::Admin,
            key_scope: "members:write",
        };
        assert_eq!(
            authorize_endpoint(&admin, &set_member, None).unwrap(),
            Some("demo".into())
        );
        assert_eq!(
            reason(authorize_endpoint(&viewer, &set_member, None)),
            Reason::TenantDenied
        );
        let keys_write = Requirement::KeyManagement("api_keys:write");
        assert!(authorize_endpoint(&viewer, &keys_write, None).is_ok());
        let k = principal(key("api_keys:read", &[]), "*", &[]);
        assert_eq!(
            reason(authorize_endpoint(&k, &keys_write, None)),
            Reason::InsufficientScope
        );
        assert!(authorize_endpoint(&k, &Requirement::KeyManagement("api_keys:read"), None).is_ok());
        assert_eq!(
            reason(authorize_endpoint(
                &k,
                &Requirement::UserSession("approving a device"),
                None
            )),
            Reason::InsufficientScope
        );
    }
}
