//! The worker's own endpoints (`/v1/...`, the JWKS, the console) as routes the
//! gate decides: the table of paths and methods, and what each requires.

use crate::error::{ApiError, Reason};
use crate::scope::Role;
use crate::settings::Environment;

/// One of the worker's own endpoints, with its path parameters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Endpoint {
    Jwks,
    /// `GET /openapi.json`: the OpenAPI document of this contract.
    OpenApi,
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
    /// `POST /v1/auth/email/verify/send`: a verification message to the signed-in user.
    SendVerification,
    /// `POST /v1/auth/email/verify`.
    VerifyEmail,
    /// `POST /v1/auth/password/forgot`.
    ForgotPassword,
    /// `POST /v1/auth/password/reset`.
    ResetPassword,
    /// `POST /v1/auth/magic-link`.
    SendMagicLink,
    /// `POST /v1/auth/magic-link/verify`.
    MagicLinkSignIn,
    /// `GET /v1/dev/mailbox?to=`: exists only in development.
    DevMailbox,
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
    /// This is the production surface; see [`Endpoint::resolve_in`].
    pub fn resolve(method: &str, path: &str) -> Result<Option<Endpoint>, ApiError> {
        Endpoint::resolve_in(method, path, Environment::Production)
    }

    /// [`Endpoint::resolve`] in `environment`: development adds the
    /// endpoints that only it has (`/v1/dev/...`, the local mailbox);
    /// elsewhere such paths are not the worker's own (the policy decides,
    /// and the default policy has no route for them: 404 `no_route`).
    pub fn resolve_in(
        method: &str,
        path: &str,
        environment: Environment,
    ) -> Result<Option<Endpoint>, ApiError> {
        let development = environment == Environment::Development;
        if Endpoint::is_console_path(path) {
            return only(method, &["GET", "HEAD"], Endpoint::Console).map(Some);
        }
        if path == "/.well-known/jwks.json" {
            return only(method, &["GET", "HEAD"], Endpoint::Jwks).map(Some);
        }
        if path == "/openapi.json" {
            return only(method, &["GET", "HEAD"], Endpoint::OpenApi).map(Some);
        }
        let own = path.starts_with("/v1/auth/")
            || path == "/v1/api-keys"
            || path.starts_with("/v1/api-keys/")
            || path.starts_with("/v1/tenants/")
            || (development && path.starts_with("/v1/dev/"));
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
            ["v1", "auth", "email", "verify", "send"] => post(Endpoint::SendVerification),
            ["v1", "auth", "email", "verify"] => post(Endpoint::VerifyEmail),
            ["v1", "auth", "password", "forgot"] => post(Endpoint::ForgotPassword),
            ["v1", "auth", "password", "reset"] => post(Endpoint::ResetPassword),
            ["v1", "auth", "magic-link"] => post(Endpoint::SendMagicLink),
            ["v1", "auth", "magic-link", "verify"] => post(Endpoint::MagicLinkSignIn),
            ["v1", "dev", "mailbox"] if development => {
                only(method, &["GET", "HEAD"], Endpoint::DevMailbox)
            }
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
            Jwks | OpenApi | Console | Register | Token | Refresh | DeviceCode | DeviceToken => {
                Requirement::Public
            }
            VerifyEmail | ForgotPassword | ResetPassword | SendMagicLink | MagicLinkSignIn
            | DevMailbox => Requirement::Public,
            WhoAmI => Requirement::AnyCredential,
            SendVerification => Requirement::UserSession("sending a verification message"),
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
    fn email_endpoints_and_the_development_mailbox() {
        let dev = |m: &str, p: &str| Endpoint::resolve_in(m, p, Environment::Development);
        assert_eq!(
            Endpoint::resolve("POST", "/v1/auth/password/forgot").unwrap(),
            Some(Endpoint::ForgotPassword)
        );
        assert_eq!(
            Endpoint::resolve("POST", "/v1/auth/magic-link/verify").unwrap(),
            Some(Endpoint::MagicLinkSignIn)
        );
        assert_eq!(
            Endpoint::resolve("POST", "/v1/auth/email/verify/send").unwrap(),
            Some(Endpoint::SendVerification)
        );
        assert_eq!(
            Endpoint::resolve("GET", "/v1/auth/email/verify")
                .unwrap_err()
                .allow,
            vec!["POST"]
        );
        assert_eq!(
            dev("GET", "/v1/dev/mailbox").unwrap(),
            Some(Endpoint::DevMailbox)
        );
        assert_eq!(
            dev("POST", "/v1/dev/mailbox").unwrap_err().reason,
            Reason::MethodNotAllowed
        );
        assert_eq!(
            dev("GET", "/v1/dev/other").unwrap_err().reason,
            Reason::NoRoute
        );
        // Elsewhere it is not the worker's own: the policy has no route for it.
        assert_eq!(Endpoint::resolve("GET", "/v1/dev/mailbox").unwrap(), None);
        assert_eq!(
            Endpoint::SendVerification.requirement(),
            Requirement::UserSession("sending a verification message")
        );
        for e in [
            Endpoint::VerifyEmail,
            Endpoint::ForgotPassword,
            Endpoint::ResetPassword,
            Endpoint::SendMagicLink,
            Endpoint::MagicLinkSignIn,
            Endpoint::DevMailbox,
        ] {
            assert_eq!(e.requirement(), Requirement::Public, "{e:?}");
        }
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
