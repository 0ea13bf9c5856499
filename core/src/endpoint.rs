//! The worker's own endpoints (`/v1/...`, the JWKS, the console) as routes the
//! gate decides: the table of paths and methods, and what each requires.

use crate::error::{ApiError, Reason};
use crate::scope::Role;

/// One of the worker's own endpoints, with its path parameters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Endpoint {
    Jwks,
    /// A page or file of the console (`/console/...`).
    Console,
    Register,
    Token,
    Refresh,
    Logout,
    WhoAmI,
    DeviceCode,
    DeviceToken,
    DeviceApprove,
    DeviceLookup,
    ListKeys,
    CreateKey,
    GetKey(String),
    RevokeKey(String),
    ListMembers(String),
    SetMember(String),
}

/// What an endpoint needs of its caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Requirement {
    /// No credential is read.
    Public,
    /// Any valid credential.
    AnyCredential,
    /// A signed-in user's access token (not an API key or an external
    /// token); the text says what for.
    UserSession(&'static str),
    /// A user's own credential, or an API key holding this scope.
    KeyManagement(&'static str),
    /// At least `min` in `tenant`, as the Directory holds it now; an API key
    /// also needs `key_scope` among its scopes there.
    TenantRole {
        tenant: String,
        min: Role,
        key_scope: &'static str,
    },
}

impl Endpoint {
    /// The endpoint `method path` names, `Ok(None)` for a path that is not
    /// the worker's own (the gateway's), or the refusal: 405 (with `Allow`)
    /// for a known path with another method, 404 `no_route` for an unknown
    /// path under `/v1/`.
    pub fn resolve(method: &str, path: &str) -> Result<Option<Endpoint>, ApiError> {
        if Endpoint::is_console_path(path) {
            return only(method, &["GET", "HEAD"], Endpoint::Console).map(Some);
        }
        if path == "/.well-known/jwks.json" {
            return only(method, &["GET", "HEAD"], Endpoint::Jwks).map(Some);
        }
        let own = path.starts_with("/v1/auth/")
            || path == "/v1/api-keys"
            || path.starts_with("/v1/api-keys/")
            || path.starts_with("/v1/tenants/");
        if !own {
            return Ok(None);
        }
        let segments: Vec<&str> = path
            .trim_start_matches('/')
            .trim_end_matches('/')
            .split('/')
            .collect();
        let post = |e: Endpoint| only(method, &["POST"], e);
        let found = match segments.as_slice() {
            ["v1", "auth", "register"] => post(Endpoint::Register),
            ["v1", "auth", "token"] => post(Endpoint::Token),
            ["v1", "auth", "refresh"] => post(Endpoint::Refresh),
            ["v1", "auth", "logout"] => post(Endpoint::Logout),
            ["v1", "auth", "whoami"] => only(method, &["GET", "HEAD"], Endpoint::WhoAmI),
            ["v1", "auth", "device", "code"] => post(Endpoint::DeviceCode),
            ["v1", "auth", "device", "token"] => post(Endpoint::DeviceToken),
            ["v1", "auth", "device", "approve"] => post(Endpoint::DeviceApprove),
            ["v1", "auth", "device", "lookup"] => only(method, &["GET"], Endpoint::DeviceLookup),
            ["v1", "api-keys"] => match method {
                "GET" => Ok(Endpoint::ListKeys),
                "POST" => Ok(Endpoint::CreateKey),
                _ => Err(ApiError::method_not_allowed(&["GET", "POST"])),
            },
            ["v1", "api-keys", id] if !id.is_empty() => match method {
                "GET" => Ok(Endpoint::GetKey(id.to_string())),
                "DELETE" => Ok(Endpoint::RevokeKey(id.to_string())),
                _ => Err(ApiError::method_not_allowed(&["GET", "DELETE"])),
            },
            ["v1", "tenants", tenant, "members"] if !tenant.is_empty() => match method {
                "GET" => Ok(Endpoint::ListMembers(tenant.to_string())),
                "PUT" => Ok(Endpoint::SetMember(tenant.to_string())),
                _ => Err(ApiError::method_not_allowed(&["GET", "PUT"])),
            },
            // An unknown path is an unknown route (as on the gateway), not an unknown object.
            _ => Err(ApiError::with_message(
                Reason::NoRoute,
                "no such endpoint of the worker's own",
            )),
        };
        found.map(Some)
    }

    /// Whether a path is the console's (its answers, refusals included,
    /// carry the anti-framing headers).
    pub fn is_console_path(path: &str) -> bool {
        path == "/console" || path.starts_with("/console/")
    }

    /// What the endpoint needs of its caller.
    pub fn requirement(&self) -> Requirement {
        use Endpoint::*;
        match self {
            Jwks | Console | Register | Token | Refresh | DeviceCode | DeviceToken => {
                Requirement::Public
            }
            WhoAmI => Requirement::AnyCredential,
            Logout => Requirement::UserSession("logout"),
            DeviceApprove => Requirement::UserSession("approving a device"),
            DeviceLookup => Requirement::UserSession("looking up a device login"),
            ListKeys | GetKey(_) => Requirement::KeyManagement("api_keys:read"),
            CreateKey | RevokeKey(_) => Requirement::KeyManagement("api_keys:write"),
            ListMembers(t) => Requirement::TenantRole {
                tenant: t.clone(),
                min: Role::Viewer,
                key_scope: "members:read",
            },
            SetMember(t) => Requirement::TenantRole {
                tenant: t.clone(),
                min: Role::Admin,
                key_scope: "members:write",
            },
        }
    }
}

fn only(method: &str, allowed: &[&'static str], e: Endpoint) -> Result<Endpoint, ApiError> {
    if allowed.contains(&method) {
        Ok(e)
    } else {
        Err(ApiError::method_not_allowed(allowed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_methods() {
        let ok = |m: &str, p: &str| Endpoint::resolve(m, p).unwrap();
        assert_eq!(ok("POST", "/v1/auth/token"), Some(Endpoint::Token));
        assert_eq!(
            ok("GET", "/v1/api-keys/key_1"),
            Some(Endpoint::GetKey("key_1".into()))
        );
        assert_eq!(
            ok("GET", "/v1/tenants/demo/members"),
            Some(Endpoint::ListMembers("demo".into()))
        );
        assert_eq!(ok("GET", "/api/me"), None);
        assert_eq!(ok("GET", "/console/device"), Some(Endpoint::Console));
        let e = Endpoint::resolve("DELETE", "/v1/tenants/demo/members").unwrap_err();
        assert_eq!(e.reason, Reason::MethodNotAllowed);
        assert_eq!(e.allow, vec!["GET", "PUT"]);
        let e = Endpoint::resolve("GET", "/v1/auth/token").unwrap_err();
        assert_eq!(e.allow, vec!["POST"]);
        assert_eq!(
            Endpoint::resolve("GET", "/v1/auth/nope")
                .unwrap_err()
                .reason,
            Reason::NoRoute
        );
        assert_eq!(
            Endpoint::resolve("GET", "/v1/tenants//members")
                .unwrap_err()
                .reason,
            Reason::NoRoute
        );
    }

    #[test]
    fn members_need_a_role_and_management_needs_admin() {
        let list = Endpoint::ListMembers("demo".into()).requirement();
        let set = Endpoint::SetMember("demo".into()).requirement();
        assert!(matches!(
            list,
            Requirement::TenantRole {
                min: Role::Viewer,
                ..
            }
        ));
        assert!(matches!(
            set,
            Requirement::TenantRole {
                min: Role::Admin,
                ..
            }
        ));
        assert_eq!(Endpoint::Register.requirement(), Requirement::Public);
    }
}
