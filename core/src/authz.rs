//! Route authorization (scope, tenant, resource, IP, in SPEC's order) and the `x-edgeauth-*` headers it yields.

use std::net::IpAddr;

use crate::error::{ApiError, Reason};
use crate::identity::{CredentialKind, Identity};
use crate::policy::RouteMatch;
use crate::scope::Scope;

/// Every header edgeauth forwards starts with this; the worker strips any
/// header with this prefix that the client sent.
pub const FORWARD_HEADER_PREFIX: &str = "x-edgeauth-";

/// Whether a header name is one of edgeauth's (case-insensitive), to be
/// removed from a client's request on every route.
pub fn is_edgeauth_header(name: &str) -> bool {
    name.get(..FORWARD_HEADER_PREFIX.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(FORWARD_HEADER_PREFIX))
}

/// The scope a tenant route with no scopes of its own needs from the role:
/// `tenant:read` for GET and HEAD, `tenant:write` for every other method.
pub fn implied_tenant_scope(method: &str) -> Scope {
    let action = if matches!(method, "GET" | "HEAD") {
        "read"
    } else {
        "write"
    };
    // The text is a valid scope; were it not, `*` would be the strictest fallback.
    Scope::parse(&format!("tenant:{action}")).unwrap_or_else(|_| Scope::all())
}

/// A request that passed [`authorize`]. Only `authorize` makes one, so a
/// handler holding it knows every route check ran.
#[derive(Debug)]
pub struct Authorized<'a> {
    identity: &'a Identity,
    tenant: Option<String>,
}

impl<'a> Authorized<'a> {
    /// Who is calling.
    pub fn identity(&self) -> &'a Identity {
        self.identity
    }

    /// The tenant of a tenant route.
    pub fn tenant(&self) -> Option<&str> {
        self.tenant.as_deref()
    }

    /// The headers to add to the forwarded request: `x-edgeauth-subject`,
    /// `-kind`, `-scopes` (space-separated), `-tenant` (tenant routes only),
    /// `-key-id` (API keys only), and no other. Values are made header-safe:
    /// control and non-ASCII characters are percent-encoded (UTF-8), so a
    /// strange external `sub` can neither break the request nor inject a header.
    pub fn forward_headers(&self) -> Vec<(&'static str, String)> {
        let id = self.identity;
        let mut h = vec![
            ("x-edgeauth-subject", header_safe(&id.subject)),
            ("x-edgeauth-kind", id.kind.as_str().to_string()),
            ("x-edgeauth-scopes", id.scopes.to_space_separated()),
        ];
        if let Some(t) = &self.tenant {
            h.push(("x-edgeauth-tenant", header_safe(t)));
        }
        if id.kind == CredentialKind::ApiKey {
            if let Some(k) = &id.key_id {
                h.push(("x-edgeauth-key-id", header_safe(k)));
            }
        }
        h
    }
}

fn header_safe(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if c == ' ' || c.is_ascii_graphic() {
            out.push(c);
        } else {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("%{b:02X}"));
            }
        }
    }
    out
}

/// Decides whether `identity` may make the matched request from `client_ip`,
/// checking in SPEC's order, the first failure naming the reason:
///
/// 1. scope: the credential's own scopes grant every scope the route lists,
///    else `insufficient_scope`;
/// 2. tenant (routes with `tenant_param`): the identity holds a role in that
///    tenant, else `tenant_denied`; the role grants the route's scopes, or,
///    when the route lists none, `tenant:read` (GET, HEAD) / `tenant:write`,
///    else `insufficient_scope`;
/// 3. resource (routes with `resource_param`): the identity's resources
///    include it, else `resource_denied`;
/// 4. IP: the identity's allow list admits `client_ip`, else `ip_denied`.
pub fn authorize<'a>(
    identity: &'a Identity,
    matched: &RouteMatch<'_>,
    client_ip: Option<IpAddr>,
) -> Result<Authorized<'a>, ApiError> {
    let route = matched.route;

    if !identity.scopes.grants_all(&route.scopes) {
        return Err(ApiError::insufficient_scope(&route.scope_strings()));
    }

    let mut tenant = None;
    if route.tenant_param.is_some() {
        let name = matched
            .tenant()
            .ok_or_else(|| ApiError::new(Reason::TenantDenied))?;
        let role = identity
            .role_in(name)
            .ok_or_else(|| ApiError::new(Reason::TenantDenied))?;
        // "No scope beyond the role's" (SPEC): in a tenant the role is what a
        // credential may do, the implied tenant scope is asked of the role
        // alone, and scopes the route lists must be granted by both.
        let in_tenant = if route.scopes.is_empty() {
            vec![implied_tenant_scope(&matched.method)]
        } else {
            route.scopes.clone()
        };
        if !role.scopes().grants_all(&in_tenant) {
            let names: Vec<String> = in_tenant.iter().map(Scope::to_string).collect();
            return Err(ApiError::insufficient_scope(&names));
        }
        tenant = Some(name.to_string());
    }

    if route.resource_param.is_some() {
        let allowed = matched
            .resource()
            .is_some_and(|r| identity.resources.allows(r));
        if !allowed {
            return Err(ApiError::new(Reason::ResourceDenied));
        }
    }

    if !identity.allowed_ips.allows(client_ip) {
        return Err(ApiError::new(Reason::IpDenied));
    }

    Ok(Authorized { identity, tenant })
}

/// The `scopes` whoami reports: what the credential itself carries (for an
/// API key, its own scopes; roles are reported separately under `tenants`).
pub fn effective_scopes_for_whoami(identity: &Identity) -> Vec<String> {
    identity.scopes.to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::ResourceGrant;
    use crate::ip::IpAllowList;
    use crate::policy::Policy;
    use crate::scope::{Role, ScopeSet};

    fn ident(kind: CredentialKind, scopes: &str) -> Identity {
        Identity::new(kind, "usr_1", ScopeSet::parse(scopes).unwrap())
    }

    fn reason(r: Result<Authorized<'_>, ApiError>) -> Reason {
        r.unwrap_err().reason
    }

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    #[test]
    fn scope_step() {
        let p = Policy::default_policy();
        let dash = p.match_request("GET", "/api/scans/dashboard").unwrap();
        let me = p.match_request("GET", "/api/me").unwrap();
        assert!(authorize(&ident(CredentialKind::User, "scans:read"), &dash, None).is_ok());
        assert!(authorize(&ident(CredentialKind::User, "scans:*"), &dash, None).is_ok());
        assert!(authorize(&ident(CredentialKind::User, "*:read"), &dash, None).is_ok());
        assert!(authorize(&ident(CredentialKind::User, "*"), &dash, None).is_ok());
        let e = authorize(&ident(CredentialKind::User, "drifts:read"), &dash, None).unwrap_err();
        assert_eq!(e.reason, Reason::InsufficientScope);
        assert_eq!(e.required_scopes, vec!["scans:read"]);
        assert_eq!(
            reason(authorize(
                &ident(CredentialKind::User, "scans:write"),
                &dash,
                None
            )),
            Reason::InsufficientScope
        );
        // Any credential, no scope.
        assert!(authorize(&ident(CredentialKind::External, ""), &me, None).is_ok());
    }

    #[test]
    fn tenant_step() {
        let p = Policy::default_policy();
        let get = p
            .match_request("GET", "/api/v1/tenants/demo/things")
            .unwrap();
        let post = p
            .match_request("POST", "/api/v1/tenants/demo/things")
            .unwrap();
        let other = p
            .match_request("GET", "/api/v1/tenants/other/things")
            .unwrap();

        let mut viewer = ident(CredentialKind::User, "");
        viewer.tenants.insert("demo".into(), Role::Viewer);
        let ok = authorize(&viewer, &get, None).unwrap();
        assert_eq!(ok.tenant(), Some("demo"));
        let e = authorize(&viewer, &post, None).unwrap_err();
        assert_eq!(e.reason, Reason::InsufficientScope);
        assert_eq!(e.required_scopes, vec!["tenant:write"]);
        assert_eq!(
            reason(authorize(&viewer, &other, None)),
            Reason::TenantDenied
        );

        let mut editor = viewer.clone();
        editor.tenants.insert("demo".into(), Role::Editor);
        assert!(authorize(&editor, &post, None).is_ok());
        let head = p.match_request("HEAD", "/api/v1/tenants/demo/x").unwrap();
        assert!(authorize(&viewer, &head, None).is_ok());
        let delete = p.match_request("DELETE", "/api/v1/tenants/demo/x").unwrap();
        assert_eq!(
            reason(authorize(&viewer, &delete, None)),
            Reason::InsufficientScope
        );

        // A key acts with its creator's role in its tenants, and nowhere else.
        let mut key = ident(CredentialKind::ApiKey, "scans:read");
        key.tenants.insert("demo".into(), Role::Admin);
        assert!(authorize(&key, &post, None).is_ok());
        assert_eq!(reason(authorize(&key, &other, None)), Reason::TenantDenied);
        // No role anywhere: denied even with `*`.
        assert_eq!(
            reason(authorize(&ident(CredentialKind::External, "*"), &get, None)),
            Reason::TenantDenied
        );
    }

    #[test]
    fn tenant_routes_with_scopes_need_both_the_credential_and_the_role() {
        let p = Policy::from_json(
            r#"{"routes": [{"method": "*", "path": "/t/:tenant/runners", "scopes": ["runners:manage"], "tenant_param": "tenant"}]}"#,
        )
        .unwrap();
        let m = p.match_request("POST", "/t/demo/runners").unwrap();
        let mut editor = ident(CredentialKind::User, "*");
        editor.tenants.insert("demo".into(), Role::Editor);
        let e = authorize(&editor, &m, None).unwrap_err();
        assert_eq!(e.reason, Reason::InsufficientScope);
        assert_eq!(e.required_scopes, vec!["runners:manage"]);
        let mut admin_key = ident(CredentialKind::ApiKey, "scans:read");
        admin_key.tenants.insert("demo".into(), Role::Admin);
        assert_eq!(
            reason(authorize(&admin_key, &m, None)),
            Reason::InsufficientScope
        );
        admin_key.scopes = ScopeSet::parse("runners:*").unwrap();
        assert!(authorize(&admin_key, &m, None).is_ok());
    }

    #[test]
    fn resource_step() {
        let p = Policy::default_policy();
        let r1 = p.match_request("POST", "/api/scans/trigger/r1").unwrap();
        let r2 = p.match_request("POST", "/api/scans/trigger/r2").unwrap();
        let mut key = ident(CredentialKind::ApiKey, "scans:trigger");
        assert!(authorize(&key, &r2, None).is_ok());
        key.resources = ResourceGrant::Only(vec!["r1".into()]);
        assert!(authorize(&key, &r1, None).is_ok());
        assert_eq!(reason(authorize(&key, &r2, None)), Reason::ResourceDenied);
        key.resources = ResourceGrant::Only(vec![]);
        assert_eq!(reason(authorize(&key, &r1, None)), Reason::ResourceDenied);
    }

    #[test]
    fn ip_step() {
        let p = Policy::default_policy();
        let me = p.match_request("GET", "/api/me").unwrap();
        let mut key = ident(CredentialKind::ApiKey, "");
        key.allowed_ips = IpAllowList::parse(&["10.0.0.0/8"]).unwrap();
        assert!(authorize(&key, &me, ip("10.1.2.3")).is_ok());
        assert!(authorize(&key, &me, ip("::ffff:10.1.2.3")).is_ok());
        assert_eq!(
            reason(authorize(&key, &me, ip("192.0.2.1"))),
            Reason::IpDenied
        );
        assert_eq!(reason(authorize(&key, &me, None)), Reason::IpDenied);
    }

    #[test]
    fn first_failing_check_names_the_reason() {
        let p = Policy::from_json(
            r#"{"routes": [{"method": "*", "path": "/t/:tenant/r/:repo", "scopes": ["scans:read"], "tenant_param": "tenant", "resource_param": "repo"}]}"#,
        )
        .unwrap();
        let m = p.match_request("GET", "/t/demo/r/r9").unwrap();
        let mut id = ident(CredentialKind::ApiKey, "drifts:read");
        id.resources = ResourceGrant::Only(vec!["r1".into()]);
        id.allowed_ips = IpAllowList::parse(&["10.0.0.1"]).unwrap();
        let from = ip("192.0.2.1");
        assert_eq!(reason(authorize(&id, &m, from)), Reason::InsufficientScope);
        id.scopes = ScopeSet::parse("scans:read").unwrap();
        assert_eq!(reason(authorize(&id, &m, from)), Reason::TenantDenied);
        id.tenants.insert("demo".into(), Role::Viewer);
        assert_eq!(reason(authorize(&id, &m, from)), Reason::ResourceDenied);
        id.resources = ResourceGrant::Only(vec!["r9".into()]);
        assert_eq!(reason(authorize(&id, &m, from)), Reason::IpDenied);
        assert!(authorize(&id, &m, ip("10.0.0.1")).is_ok());
    }

    #[test]
    fn forwarding_headers() {
        let p = Policy::default_policy();
        let dash = p.match_request("GET", "/api/scans/dashboard").unwrap();
        let user = ident(CredentialKind::User, "scans:read drifts:read");
        let h = authorize(&user, &dash, None).unwrap().forward_headers();
        assert_eq!(
            h,
            vec![
                ("x-edgeauth-subject", "usr_1".to_string()),
                ("x-edgeauth-kind", "user".to_string()),
                ("x-edgeauth-scopes", "scans:read drifts:read".to_string()),
            ]
        );

        let tenant = p.match_request("GET", "/api/v1/tenants/demo/x").unwrap();
        let mut key = ident(CredentialKind::ApiKey, "scans:read");
        key.key_id = Some("key_abc".into());
        key.tenants.insert("demo".into(), Role::Viewer);
        let h = authorize(&key, &tenant, None).unwrap().forward_headers();
        assert!(h.contains(&("x-edgeauth-kind", "api_key".to_string())));
        assert!(h.contains(&("x-edgeauth-tenant", "demo".to_string())));
        assert!(h.contains(&("x-edgeauth-key-id", "key_abc".to_string())));
        assert!(h.iter().all(|(n, _)| is_edgeauth_header(n)));

        // Not a tenant route: no tenant header even though the key has tenants.
        let a = authorize(&key, &dash, None).unwrap();
        assert!(a.tenant().is_none());
        assert!(!a
            .forward_headers()
            .iter()
            .any(|(n, _)| *n == "x-edgeauth-tenant"));

        // A user never gets a key-id header.
        let mut odd = user.clone();
        odd.key_id = Some("key_x".into());
        assert!(!authorize(&odd, &dash, None)
            .unwrap()
            .forward_headers()
            .iter()
            .any(|(n, _)| *n == "x-edgeauth-key-id"));
    }

    #[test]
    fn forwarded_values_cannot_inject_headers() {
        let p = Policy::default_policy();
        let me = p.match_request("GET", "/api/me").unwrap();
        let mut ext = ident(CredentialKind::External, "");
        ext.subject = "evil\r\nx-edgeauth-kind: user é".into();
        let a = authorize(&ext, &me, None).unwrap();
        let h = a.forward_headers();
        assert_eq!(h[0].1, "evil%0D%0Ax-edgeauth-kind: user %C3%A9");
        assert!(h
            .iter()
            .all(|(_, v)| v.bytes().all(|b| (0x20..0x7f).contains(&b))));
        assert_eq!(a.identity().subject, ext.subject);
    }

    #[test]
    fn edgeauth_header_names() {
        assert!(is_edgeauth_header("x-edgeauth-subject"));
        assert!(is_edgeauth_header("X-EdgeAuth-Anything"));
        assert!(!is_edgeauth_header("x-edgeauth"));
        assert!(!is_edgeauth_header("x-cli-signature"));
        assert!(!is_edgeauth_header("é-edgeauth-x"));
    }

    #[test]
    fn whoami_scopes_are_the_credentials_own() {
        let key = ident(CredentialKind::ApiKey, "scans:read *:read");
        assert_eq!(
            effective_scopes_for_whoami(&key),
            vec!["scans:read", "*:read"]
        );
    }
}
